//! Errors: Tornado's default page, the debug / `serve_traceback` page, a panicking
//! handler (500, and the server goes on), 405 with `Allow`, a handler's own
//! `write_error`, and `set_default_headers` on error pages.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use tornado_web::http::{Method, StatusCode};
use tornado_web::testing;
use tornado_web::{
    Application, Context, Error, HttpError, RequestHandler, RequestLog, Settings, url,
};

/// Fails as `?how=` says.
struct Fails;
impl RequestHandler for Fails {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.set_header("X-From-Get", "1")?;
        cx.write("partial output");
        match cx.get_argument_or("how", "http")?.as_str() {
            "http" => {
                let code: u16 = cx.get_argument_or("code", "418")?.parse()?;
                Err(HttpError::new(code).into())
            }
            "io" => Err(std::io::Error::other("disk <on> fire").into()),
            "msg" => Err(Error::msg("plain message")),
            "panic" => panic!("handler panicked on purpose"),
            "panic_after_flush" => {
                cx.flush().await?;
                panic!("panicked mid-stream");
            }
            _ => Ok(()),
        }
    }
}

fn app(settings: Settings) -> Application {
    Application::with_settings(
        vec![
            url("/fail", || Fails),
            url("/only_get", || OnlyGet),
            url("/narrow", || Narrow),
            url("/custom", || CustomPage),
            url("/defaults", || Defaults),
        ],
        settings,
    )
}

#[test]
fn default_error_page_is_tornados() {
    testing::run(
        || app(Settings::default()),
        |t| async move {
            let cases = [
                (400, "Bad Request"),
                (403, "Forbidden"),
                (404, "Not Found"),
                (418, "I&#x27;m a teapot"),
                (500, "Internal Server Error"),
                (503, "Service Unavailable"),
            ];
            for (code, message) in cases {
                let r = t.fetch(&format!("/fail?how=http&code={code}")).await;
                assert_eq!(r.code, code);
                assert_eq!(
                    r.text().unwrap(),
                    format!(
                        "<html><title>{code}: {message}</title><body>{code}: {message}</body></html>"
                    )
                );
                assert_eq!(
                    r.headers.get("Content-Type"),
                    Some("text/html; charset=UTF-8")
                );
                // What the handler set before the error is gone.
                assert!(r.headers.get("X-From-Get").is_none());
            }
            // Other errors are a 500 that does not show the error.
            for how in ["io", "msg", "panic"] {
                let r = t.fetch(&format!("/fail?how={how}")).await;
                assert_eq!(r.code, 500, "{how}");
                assert_eq!(
                    r.text().unwrap(),
                    "<html><title>500: Internal Server Error</title>\
                     <body>500: Internal Server Error</body></html>"
                );
            }
        },
    );
}

#[test]
fn debug_and_serve_traceback_pages_show_the_error() {
    for settings in [
        Settings {
            debug: true,
            ..Settings::default()
        },
        Settings {
            serve_traceback: true,
            ..Settings::default()
        },
    ] {
        testing::run(
            move || app(settings),
            |t| async move {
                let r = t.fetch("/fail?how=io").await;
                assert_eq!(r.code, 500);
                let page = r.text().unwrap();
                // Escaped, with the handler and a backtrace.
                assert!(page.contains("disk &lt;on&gt; fire"), "{page}");
                assert!(page.contains("errors::Fails"), "{page}");
                assert!(page.contains("GET /fail?how=io"), "{page}");
                assert!(page.contains("<h2>Backtrace</h2>"), "{page}");

                let r = t.fetch("/fail?how=panic").await;
                assert_eq!(r.code, 500);
                let page = r.text().unwrap();
                assert!(page.contains("handler panicked on purpose"), "{page}");
                assert!(page.contains("errors.rs"), "{page}");
                assert!(page.contains("<h2>Backtrace</h2>"), "{page}");

                let r = t.fetch("/fail?how=http&code=404").await;
                assert_eq!(r.code, 404);
                assert!(r.text().unwrap().contains("404: Not Found"));
            },
        );
    }
}

#[test]
fn a_panicking_handler_answers_500_and_the_server_goes_on() {
    common::capture_logs();
    testing::run(
        || app(Settings::default()),
        |t| async move {
            for _ in 0..3 {
                assert_eq!(t.fetch("/fail?how=panic").await.code, 500);
                assert_eq!(t.fetch("/fail?how=none").await.code, 200);
            }
            // After the headers went out no error page is possible: as Tornado does,
            // the response is finished with what was sent.
            let r = t.fetch("/fail?how=panic_after_flush").await;
            assert_eq!(r.code, 200);
            assert_eq!(r.text().unwrap(), "partial output");
            assert_eq!(t.fetch("/fail?how=none").await.code, 200);
        },
    );
    let logs = common::logs();
    let panics: Vec<_> = logs
        .iter()
        .filter(|r| r.level == log::Level::Error && r.message.contains("Uncaught panic"))
        .collect();
    assert_eq!(panics.len(), 4, "{logs:#?}");
    assert!(
        panics[0].message.contains("GET /fail?how=panic"),
        "{panics:#?}"
    );
    assert!(panics[0].message.contains("errors::Fails"), "{panics:#?}");
}

/// Implements GET only, with Tornado's default SUPPORTED_METHODS.
struct OnlyGet;
impl RequestHandler for OnlyGet {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.write("got");
        Ok(())
    }
}

/// Serves GET and POST only.
struct Narrow;
impl RequestHandler for Narrow {
    const SUPPORTED_METHODS: &'static [Method] = &[Method::GET, Method::POST];
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.write("got");
        Ok(())
    }
    async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.write("posted");
        Ok(())
    }
    async fn put(&mut self, cx: &mut Context) -> tornado_web::Result {
        // Never runs: PUT is not supported.
        cx.write("put ran");
        Ok(())
    }
}

#[test]
fn method_not_allowed_lists_supported_methods() {
    testing::run(
        || app(Settings::default()),
        |t| async move {
            // The default list, less the method asked for when the handler does
            // not implement it.
            let all = "GET, HEAD, POST, DELETE, PATCH, PUT, OPTIONS";
            let cases = [
                (
                    "/only_get",
                    "DELETE",
                    "GET, HEAD, POST, PATCH, PUT, OPTIONS",
                ),
                (
                    "/only_get",
                    "POST",
                    "GET, HEAD, DELETE, PATCH, PUT, OPTIONS",
                ),
                (
                    "/only_get",
                    "OPTIONS",
                    "GET, HEAD, POST, DELETE, PATCH, PUT",
                ),
                ("/only_get", "PROPFIND", all),
                ("/narrow", "PUT", "GET, POST"),
                ("/narrow", "HEAD", "GET, POST"),
                ("/narrow", "PROPFIND", "GET, POST"),
            ];
            for (path, method, allow) in cases {
                let mut req = t.request(path).method(method);
                if matches!(method, "POST" | "PUT") {
                    req = req.body("x");
                }
                let r = t.fetch_request(req).await;
                assert_eq!(r.code, 405, "{method} {path}");
                assert_eq!(r.headers.get("Allow"), Some(allow), "{method} {path}");
                if method != "HEAD" {
                    assert_eq!(
                        r.text().unwrap(),
                        "<html><title>405: Method Not Allowed</title>\
                         <body>405: Method Not Allowed</body></html>"
                    );
                }
            }
            let r = t
                .fetch_request(t.request("/narrow").method("POST").body("x"))
                .await;
            assert_eq!(r.text().unwrap(), "posted");
        },
    );
}

/// Its own error page, as JSON.
struct CustomPage;
impl RequestHandler for CustomPage {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        match cx.get_argument_or("how", "http")?.as_str() {
            "http" => Err(HttpError::new(409).with_reason("Taken").into()),
            "panic" => panic!("boom"),
            "send" => {
                cx.send_error(StatusCode::GONE);
                Ok(())
            }
            _ => Ok(()),
        }
    }
    async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.write("posted");
        Ok(())
    }
    fn write_error(cx: &mut Context, status: StatusCode, error: Option<&Error>) {
        let _ = cx.write_json(&serde_json::json!({
            "status": status.as_u16(),
            "http": error.and_then(Error::as_http).map(|e| e.to_string()),
            "panic": error.is_some_and(Error::is_panic),
        }));
    }
}

#[test]
fn a_handlers_own_write_error() {
    testing::run(
        || app(Settings::default()),
        |t| async move {
            let cases = [
                (
                    "http",
                    409,
                    serde_json::json!({"status": 409, "http": "HTTP 409: Taken", "panic": false}),
                ),
                (
                    "panic",
                    500,
                    serde_json::json!({"status": 500, "http": null, "panic": true}),
                ),
                (
                    "send",
                    410,
                    serde_json::json!({"status": 410, "http": null, "panic": false}),
                ),
            ];
            for (how, code, want) in cases {
                let r = t.fetch(&format!("/custom?how={how}")).await;
                assert_eq!(r.code, code, "{how}");
                assert_eq!(
                    r.headers.get("Content-Type"),
                    Some("application/json; charset=UTF-8")
                );
                assert_eq!(r.json::<serde_json::Value>().unwrap(), want, "{how}");
            }
            assert_eq!(t.fetch("/custom?how=http").await.reason, "Taken");
        },
    );
}

/// A form body that does not parse is the handler's 400, as in Tornado (whose
/// `_execute` parses it): its `write_error` writes the page and `log_function` sees the
/// request; the error names the body. A good body still reaches the method.
#[test]
fn a_malformed_form_body_is_the_handlers_400() {
    let logged: Rc<RefCell<Vec<(u16, String)>>> = Rc::default();
    let record = logged.clone();
    testing::run(
        move || {
            app(Settings {
                log_function: Some(Rc::new(move |r: &RequestLog<'_>| {
                    record
                        .borrow_mut()
                        .push((r.status.as_u16(), r.uri.to_owned()));
                })),
                ..Settings::default()
            })
        },
        |t| async move {
            let post = |content_type: &'static str, body: &'static str| {
                t.fetch_request(
                    t.request("/custom")
                        .method("POST")
                        .header("Content-Type", content_type)
                        .body(body),
                )
            };
            for (content_type, body) in [
                ("multipart/form-data", "x"),
                ("multipart/form-data; boundary=b", "--b\r\nno end"),
            ] {
                let r = post(content_type, body).await;
                assert_eq!(r.code, 400, "{content_type}");
                let page: serde_json::Value = r.json().unwrap();
                assert_eq!(page["status"], 400, "{content_type}");
                let http = page["http"].as_str().unwrap_or_default();
                assert!(http.starts_with("HTTP 400: Bad Request"), "{http}");
            }
            let r = post("application/x-www-form-urlencoded", "a=1").await;
            assert_eq!((r.code, r.text().unwrap()), (200, "posted"));
        },
    );
    let logged = logged.borrow();
    assert_eq!(logged.len(), 3, "{logged:?}");
    assert!(
        logged[..2]
            .iter()
            .all(|(code, uri)| *code == 400 && uri == "/custom"),
        "{logged:?}"
    );
}

/// Common headers on every response, errors included.
struct Defaults;
impl RequestHandler for Defaults {
    fn set_default_headers(cx: &mut Context) {
        let _ = cx.set_header("X-Frame-Options", "DENY");
        let _ = cx.set_header("Server", "tornado-rs-test");
    }
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.set_header("X-Frame-Options", "SAMEORIGIN")?;
        match cx.get_argument_or("how", "ok")?.as_str() {
            "http" => Err(HttpError::new(403).into()),
            "panic" => panic!("boom"),
            _ => {
                cx.write("ok");
                Ok(())
            }
        }
    }
}

#[test]
fn set_default_headers_applies_to_error_pages() {
    testing::run(
        || app(Settings::default()),
        |t| async move {
            let r = t.fetch("/defaults").await;
            assert_eq!(r.headers.get("X-Frame-Options"), Some("SAMEORIGIN"));
            assert_eq!(r.headers.get("Server"), Some("tornado-rs-test"));
            for (how, code) in [("http", 403), ("panic", 500)] {
                let r = t.fetch(&format!("/defaults?how={how}")).await;
                assert_eq!(r.code, code);
                // The error page starts from the defaults again.
                assert_eq!(r.headers.get("X-Frame-Options"), Some("DENY"), "{how}");
                assert_eq!(r.headers.get("Server"), Some("tornado-rs-test"), "{how}");
            }
            // 405 too: it is answered by the handler's context.
            let r = t
                .fetch_request(t.request("/defaults").method("DELETE"))
                .await;
            assert_eq!(r.code, 405);
            assert_eq!(r.headers.get("X-Frame-Options"), Some("DENY"));
        },
    );
}

/// Its default headers panic (on every request).
struct PanickyDefaults;
impl RequestHandler for PanickyDefaults {
    fn set_default_headers(_cx: &mut Context) {
        panic!("set_default_headers panicked");
    }
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.write("never");
        Ok(())
    }
}

/// Its ETag hook panics.
struct PanickyEtag;
impl RequestHandler for PanickyEtag {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.write("body");
        Ok(())
    }
    fn compute_etag(_cx: &Context) -> Option<String> {
        panic!("compute_etag panicked");
    }
}

#[test]
fn panicking_hooks_answer_500() {
    testing::run(
        || {
            Application::new(vec![
                url("/defaults", || PanickyDefaults),
                url("/etag", || PanickyEtag),
                url("/ok", || OnlyGet),
            ])
        },
        |t| async move {
            for path in ["/etag", "/defaults"] {
                let r = t.try_fetch(t.request(path)).await;
                let code = r.map(|r| r.code).unwrap_or(0);
                assert_eq!(code, 500, "{path}");
                assert_eq!(t.fetch("/ok").await.code, 200, "after {path}");
            }
        },
    );
}

/// Serves every method, answering its name (and the path argument `prepare` saw).
struct AllMethods(String);
impl AllMethods {
    fn answer(&self, cx: &mut Context, name: &str) -> tornado_web::Result {
        cx.write(format!("{name} {} {}", self.0, cx.body().len()));
        Ok(())
    }
}
impl RequestHandler for AllMethods {
    async fn prepare(&mut self, cx: &mut Context) -> tornado_web::Result {
        // Path arguments are decoded before prepare.
        self.0 = cx.path_arg(0).unwrap_or("?").to_owned();
        Ok(())
    }
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        self.answer(cx, "get")
    }
    async fn head(&mut self, cx: &mut Context) -> tornado_web::Result {
        self.answer(cx, "head")
    }
    async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
        self.answer(cx, "post")
    }
    async fn put(&mut self, cx: &mut Context) -> tornado_web::Result {
        self.answer(cx, "put")
    }
    async fn delete(&mut self, cx: &mut Context) -> tornado_web::Result {
        self.answer(cx, "delete")
    }
    async fn patch(&mut self, cx: &mut Context) -> tornado_web::Result {
        self.answer(cx, "patch")
    }
    async fn options(&mut self, cx: &mut Context) -> tornado_web::Result {
        self.answer(cx, "options")
    }
}

#[test]
fn every_method_reaches_its_handler_method() {
    testing::run(
        || Application::new(vec![url("/all/(.*)", || AllMethods(String::new()))]),
        |t| async move {
            for method in ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
                let mut req = t.request("/all/a%20b").method(method);
                if matches!(method, "POST" | "PUT" | "PATCH") {
                    req = req.body("xyz");
                }
                let r = t.fetch_request(req).await;
                assert_eq!(r.code, 200, "{method}");
                let body_len = if matches!(method, "POST" | "PUT" | "PATCH") {
                    3
                } else {
                    0
                };
                assert_eq!(
                    r.text().unwrap(),
                    format!("{} a b {body_len}", method.to_lowercase())
                );
            }
            let r = t.fetch_request(t.request("/all/x").method("HEAD")).await;
            assert_eq!(r.code, 200);
            assert_eq!(r.headers.get("Content-Length"), Some("8"));
            assert!(r.body.is_empty());
        },
    );
}
