//! Output: status and reason, headers (and refusing CR/LF), `write` of text, bytes
//! and JSON, `finish` twice, writing after `finish`, `redirect`, `send_error`,
//! `clear`, `HttpError` with a reason, `Finish` and an early finish in `prepare`.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::RawClient;
use tornado_web::testing;
use tornado_web::{Application, Context, Finish, HttpError, RequestHandler, url};

/// What a handler observed, for the test to check afterwards.
type Notes = Rc<RefCell<Vec<String>>>;

struct Status;
impl RequestHandler for Status {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        let code: u16 = cx.get_argument("code")?.parse()?;
        match cx.get_argument_opt("reason")? {
            Some(reason) => cx.set_status_with_reason(code, &reason)?,
            None => cx.set_status(code)?,
        }
        cx.write("status body");
        Ok(())
    }
}

struct Headers;
impl RequestHandler for Headers {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.set_header("X-Set", "one")?;
        cx.set_header("X-Set", "two")?;
        cx.set_header("X-Number", 42)?;
        cx.add_header("X-Multi", "a")?;
        cx.add_header("X-Multi", "b")?;
        cx.set_header("X-Cleared", "x")?;
        cx.clear_header("X-Cleared");
        cx.set_header("Content-Type", "text/plain")?;
        Ok(())
    }
}

/// Sets a header value from the query: refused when it has CR or LF.
struct Injection;
impl RequestHandler for Injection {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        let value = cx.get_arguments_unstripped("v")?.pop().unwrap_or_default();
        match cx.get_query_argument_or("how", "set")?.as_str() {
            "add" => cx.add_header("X-Echo", value)?,
            "name" => cx.set_header(&value, "x")?,
            _ => cx.set_header("X-Echo", value)?,
        }
        cx.write("should not be sent");
        Ok(())
    }
}

struct Writes;
impl RequestHandler for Writes {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        match cx.get_argument("kind")?.as_str() {
            "text" => {
                cx.write("a");
                cx.write(String::from("b"));
                let owned = String::from("c");
                cx.write(&owned);
                cx.write(owned);
            }
            "bytes" => {
                cx.write(&b"\x00\xff"[..]);
                cx.write(b"\x01");
                cx.write(vec![2u8]);
                cx.write(bytes::Bytes::from_static(b"\x03"));
            }
            "value" => cx.write(serde_json::json!({"a": [1, 2], "b": null})),
            "json" => {
                #[derive(serde::Serialize)]
                struct Msg<'a> {
                    id: u32,
                    body: &'a str,
                }
                cx.write_json(&Msg {
                    id: 7,
                    body: "<hi>",
                })?;
            }
            "script" => {
                // Written after other text, in a value and in a serde type alike.
                cx.write("x</");
                cx.write(serde_json::json!({"</a": "</script><//"}));
                cx.write_json(&["a</b", "</"])?;
            }
            "json_then_type" => {
                cx.write_json(&[1, 2])?;
                cx.set_header("Content-Type", "text/x-json")?;
            }
            _ => return Err(HttpError::new(400).into()),
        }
        Ok(())
    }
}

/// Calls `finish` twice and writes after finishing; notes what each call gave.
struct FinishTwice(Notes);
impl RequestHandler for FinishTwice {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.write("first");
        let a = cx.finish();
        let b = cx.finish();
        cx.write("after finish");
        let c = cx.write_json(&1);
        let d = cx.flush().await;
        let mut notes = self.0.borrow_mut();
        notes.push(format!("finish1 ok={}", a.is_ok()));
        notes.push(format!(
            "finish2 err={}",
            b.map_err(|e| e.to_string()).unwrap_err()
        ));
        notes.push(format!("write_json after finish ok={}", c.is_ok()));
        notes.push(format!("flush after finish ok={}", d.is_ok()));
        Ok(())
    }
}

struct Redirects(Notes);
impl RequestHandler for Redirects {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.write("written first");
        match cx.get_argument("how")?.as_str() {
            "temp" => cx.redirect("/target?x=1"),
            "perm" => cx.redirect_permanent("/target"),
            "303" => cx.redirect_with_status("/target", 303),
            "not3xx" => {
                let e = cx.redirect_with_status("/target", 200).unwrap_err();
                self.0.borrow_mut().push(e.to_string());
                Err(e)
            }
            "crlf" => cx.redirect("/target\r\nX-Injected: 1"),
            "flushed" => {
                cx.flush().await?;
                let r = cx.redirect("/target");
                self.0
                    .borrow_mut()
                    .push(r.map_err(|e| e.to_string()).unwrap_err());
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

struct Errors;
impl RequestHandler for Errors {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.set_header("X-Before", "1")?;
        cx.write("partial");
        match cx.get_argument("how")?.as_str() {
            "send_error" => {
                cx.send_error(503);
                Ok(())
            }
            "clear" => {
                cx.set_status(404)?;
                cx.clear();
                cx.write("fresh");
                Ok(())
            }
            "http_error" => Err(HttpError::with_log(403, "secret detail")
                .with_reason("Go Away")
                .into()),
            "bad_reason" => Err(HttpError::new(403).with_reason("bad\r\nreason").into()),
            "markup_reason" => Err(HttpError::new(403).with_reason("<b>no</b>").into()),
            "unknown_code" => Err(HttpError::new(599).into()),
            _ => Ok(()),
        }
    }
}

/// `prepare` ends the request: with `Finish`, or by finishing the response itself.
struct EarlyPrepare(Notes);
impl RequestHandler for EarlyPrepare {
    async fn prepare(&mut self, cx: &mut Context) -> tornado_web::Result {
        match cx.get_argument("how")?.as_str() {
            "finish_error" => {
                cx.set_status(401)?;
                cx.set_header("WWW-Authenticate", "Basic realm=\"x\"")?;
                cx.write("login first");
                Err(Finish.into())
            }
            "finish_call" => {
                cx.write("prepared");
                cx.finish()
            }
            "redirect" => cx.redirect("/elsewhere"),
            _ => Ok(()),
        }
    }
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        self.0.borrow_mut().push("get ran".to_owned());
        cx.write("from get");
        Ok(())
    }
}

fn app(notes: Notes) -> Application {
    let (n1, n2, n3) = (notes.clone(), notes.clone(), notes);
    Application::new(vec![
        url("/status", || Status),
        url("/headers", || Headers),
        url("/inject", || Injection),
        url("/writes", || Writes),
        url("/finish_twice", move || FinishTwice(n1.clone())),
        url("/redirect", move || Redirects(n2.clone())),
        url("/errors", || Errors),
        url("/early", move || EarlyPrepare(n3.clone())),
    ])
}

fn no_notes() -> Notes {
    Rc::new(RefCell::new(Vec::new()))
}

#[test]
fn set_status_and_reason() {
    testing::run(
        || app(no_notes()),
        |t| async move {
            let cases = [
                ("code=201", 201, "Created"),
                ("code=299&reason=Custom+Thing", 299, "Custom Thing"),
                ("code=404&reason=Gone+Fishing", 404, "Gone Fishing"),
                // A code without a standard reason is allowed with one of its own.
                ("code=599&reason=Odd", 599, "Odd"),
                // A code without a standard reason: "Unknown", as Tornado says.
                ("code=682", 682, "Unknown"),
                // A reason with `<` goes out as "Unknown", as in Tornado.
                ("code=409&reason=%3Cscript%3E", 409, "Unknown"),
            ];
            for (query, code, reason) in cases {
                let r = t.fetch(&format!("/status?{query}")).await;
                assert_eq!((r.code, r.reason.as_str()), (code, reason), "{query}");
                assert_eq!(r.text().unwrap(), "status body");
            }
            // A reason with CR or LF, or a code that is not one, is refused: 500.
            // So is an informational status, which cannot end a response.
            for query in [
                "code=200&reason=a%0D%0AX-Bad:+1",
                "code=1000",
                "code=42",
                "code=100",
                "code=103&reason=Early",
            ] {
                let r = t.fetch(&format!("/status?{query}")).await;
                assert_eq!(r.code, 500, "{query}");
                assert!(r.headers.get("X-Bad").is_none());
            }
        },
    );
}

#[test]
fn set_add_and_clear_header() {
    testing::run(
        || app(no_notes()),
        |t| async move {
            let r = t.fetch("/headers").await;
            assert_eq!(r.code, 200);
            assert_eq!(r.headers.get("X-Set"), Some("two"));
            assert_eq!(r.headers.get("X-Number"), Some("42"));
            let multi: Vec<&str> = r.headers.get_all("X-Multi").collect();
            assert_eq!(multi, ["a", "b"]);
            assert!(r.headers.get("X-Cleared").is_none());
            assert_eq!(r.headers.get("Content-Type"), Some("text/plain"));
        },
    );
}

#[test]
fn header_values_with_cr_or_lf_are_refused() {
    testing::run(
        || app(no_notes()),
        |t| async move {
            let cases = [
                "v=a%0D%0ASet-Cookie:+evil=1",
                "v=a%0ASet-Cookie:+evil=1",
                "v=a%0DSet-Cookie:+evil=1",
                "how=add&v=a%0D%0ASet-Cookie:+evil=1",
                "how=name&v=X-A%0D%0ASet-Cookie",
                "how=name&v=Bad+Name",
            ];
            for query in cases {
                // Raw bytes: no header line may have been injected.
                let c = RawClient::connect(t.addr()).await;
                c.request("GET", &format!("/inject?{query}"), "Connection: close\r\n")
                    .await;
                let r = c.read_response(false).await;
                assert_eq!(r.status, 500, "{query}");
                assert!(r.header("Set-Cookie").is_none(), "{query}: {}", r.head);
                assert!(r.header("X-Echo").is_none(), "{query}: {}", r.head);
                assert!(!r.text().contains("should not be sent"));
            }
            // A clean value goes through.
            let r = t.fetch("/inject?v=fine").await;
            assert_eq!(r.headers.get("X-Echo"), Some("fine"));
        },
    );
}

#[test]
fn write_text_bytes_and_json() {
    testing::run(
        || app(no_notes()),
        |t| async move {
            let r = t.fetch("/writes?kind=text").await;
            assert_eq!(r.text().unwrap(), "abcc");
            assert_eq!(
                r.headers.get("Content-Type"),
                Some("text/html; charset=UTF-8")
            );

            let r = t.fetch("/writes?kind=bytes").await;
            assert_eq!(&r.body[..], b"\x00\xff\x01\x02\x03");

            let json = "application/json; charset=UTF-8";
            let r = t.fetch("/writes?kind=value").await;
            assert_eq!(r.headers.get("Content-Type"), Some(json));
            let v: serde_json::Value = r.json().unwrap();
            assert_eq!(v, serde_json::json!({"a": [1, 2], "b": null}));

            let r = t.fetch("/writes?kind=json").await;
            assert_eq!(r.headers.get("Content-Type"), Some(json));
            assert_eq!(r.text().unwrap(), r#"{"id":7,"body":"<hi>"}"#);

            // As Tornado's `json_encode`, JSON never holds `</` (it could end a
            // `<script>` the JSON sits in): `<\/`, which JSON reads as `</`.
            let r = t.fetch("/writes?kind=script").await;
            assert_eq!(
                r.text().unwrap(),
                r#"x</{"<\/a":"<\/script><\//"}["a<\/b","<\/"]"#
            );

            // A Content-Type set afterwards wins.
            let r = t.fetch("/writes?kind=json_then_type").await;
            assert_eq!(r.headers.get("Content-Type"), Some("text/x-json"));
            assert_eq!(r.text().unwrap(), "[1,2]");
        },
    );
}

#[test]
fn finish_twice_is_an_error_and_later_writes_are_dropped() {
    let notes = no_notes();
    let n = notes.clone();
    testing::run(
        move || app(n),
        |t| async move {
            let r = t.fetch("/finish_twice").await;
            assert_eq!(r.code, 200);
            assert_eq!(r.text().unwrap(), "first");
            assert_eq!(r.headers.get("Content-Length"), Some("5"));
            // The connection is still good.
            assert_eq!(t.fetch("/writes?kind=text").await.text().unwrap(), "abcc");
        },
    );
    assert_eq!(
        *notes.borrow(),
        [
            "finish1 ok=true",
            "finish2 err=finish() called twice",
            "write_json after finish ok=false",
            "flush after finish ok=false",
        ]
    );
}

#[test]
fn redirects() {
    let notes = no_notes();
    let n = notes.clone();
    testing::run(
        move || app(n),
        |t| async move {
            let cases = [
                ("temp", 302, "/target?x=1"),
                ("perm", 301, "/target"),
                ("303", 303, "/target"),
            ];
            for (how, code, location) in cases {
                let r = t
                    .fetch_request(
                        t.request(&format!("/redirect?how={how}"))
                            .follow_redirects(false),
                    )
                    .await;
                assert_eq!(r.code, code, "{how}");
                assert_eq!(r.headers.get("Location"), Some(location), "{how}");
                // What was written before goes out with it, as in Tornado.
                assert_eq!(r.text().unwrap(), "written first", "{how}");
            }
            for how in ["not3xx", "crlf"] {
                let r = t
                    .fetch_request(
                        t.request(&format!("/redirect?how={how}"))
                            .follow_redirects(false),
                    )
                    .await;
                assert_eq!(r.code, 500, "{how}");
                assert!(r.headers.get("Location").is_none(), "{how}");
                assert!(r.headers.get("X-Injected").is_none(), "{how}");
            }
            // After headers went out a redirect is an error; the streamed response
            // ends normally.
            let r = t
                .fetch_request(t.request("/redirect?how=flushed").follow_redirects(false))
                .await;
            assert_eq!(r.code, 200);
            assert_eq!(r.text().unwrap(), "written first");
        },
    );
    let notes = notes.borrow();
    assert!(notes[0].contains("must be 3xx"), "{notes:?}");
    assert!(notes[1].contains("after headers"), "{notes:?}");
}

#[test]
fn send_error_clear_and_http_error() {
    common::capture_logs();
    testing::run(
        || app(no_notes()),
        |t| async move {
            let r = t.fetch("/errors?how=send_error").await;
            assert_eq!(r.code, 503);
            assert_eq!(
                r.text().unwrap(),
                "<html><title>503: Service Unavailable</title>\
                 <body>503: Service Unavailable</body></html>"
            );
            // send_error clears what was set before.
            assert!(r.headers.get("X-Before").is_none());

            let r = t.fetch("/errors?how=clear").await;
            assert_eq!(r.code, 200);
            assert_eq!(r.text().unwrap(), "fresh");
            assert!(r.headers.get("X-Before").is_none());
            assert_eq!(
                r.headers.get("Content-Type"),
                Some("text/html; charset=UTF-8")
            );

            let r = t.fetch("/errors?how=http_error").await;
            assert_eq!((r.code, r.reason.as_str()), (403, "Go Away"));
            let page = r.text().unwrap();
            assert_eq!(
                page,
                "<html><title>403: Go Away</title><body>403: Go Away</body></html>"
            );
            assert!(!page.contains("secret detail"));

            // A reason with CR/LF is not sent; the standard one is.
            let r = t.fetch("/errors?how=bad_reason").await;
            assert_eq!((r.code, r.reason.as_str()), (403, "Forbidden"));
            // One with `<` goes out as "Unknown", in the status line and the page.
            let r = t.fetch("/errors?how=markup_reason").await;
            assert_eq!((r.code, r.reason.as_str()), (403, "Unknown"));
            assert_eq!(
                r.text().unwrap(),
                "<html><title>403: Unknown</title><body>403: Unknown</body></html>"
            );

            let r = t.fetch("/errors?how=unknown_code").await;
            assert_eq!(r.code, 599);
            assert_eq!(
                r.text().unwrap(),
                "<html><title>599: Unknown</title><body>599: Unknown</body></html>"
            );
        },
    );
    // The log message is logged (as a warning, with the request), not sent.
    let logs = common::logs();
    assert!(
        logs.iter().any(|r| r.level == log::Level::Warn
            && r.message.contains("secret detail")
            && r.message.contains("GET /errors?how=http_error")),
        "{logs:#?}"
    );
}

#[test]
fn prepare_can_finish_early() {
    let notes = no_notes();
    let n = notes.clone();
    testing::run(
        move || app(n),
        |t| async move {
            let r = t.fetch("/early?how=finish_error").await;
            assert_eq!(r.code, 401);
            assert_eq!(r.headers.get("WWW-Authenticate"), Some("Basic realm=\"x\""));
            assert_eq!(r.text().unwrap(), "login first");

            let r = t.fetch("/early?how=finish_call").await;
            assert_eq!(r.code, 200);
            assert_eq!(r.text().unwrap(), "prepared");

            let r = t
                .fetch_request(t.request("/early?how=redirect").follow_redirects(false))
                .await;
            assert_eq!(r.code, 302);
            assert_eq!(r.headers.get("Location"), Some("/elsewhere"));
        },
    );
    assert!(notes.borrow().is_empty(), "get ran: {:?}", notes.borrow());

    let notes = no_notes();
    let n = notes.clone();
    testing::run(
        move || app(n),
        |t| async move {
            assert_eq!(t.fetch("/early?how=none").await.text().unwrap(), "from get");
        },
    );
    assert_eq!(*notes.borrow(), ["get ran"]);
}
