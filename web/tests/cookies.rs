//! Cookies as a client meets them: `set_cookie` with every attribute, clearing,
//! signed cookies (round trips, tampering, expiry, key versions, a value Python
//! Tornado signed), XSRF accepted and refused in every form, and `authenticated`.

use std::time::Duration;

use serde_json::Value;
use tornado_web::cookie::{CookieOptions, SameSite};
use tornado_web::signing::{Secret, Version, create_signed_value};
use tornado_web::{Application, Context, RequestHandler, Settings, authenticated, testing, url};

/// A handler whose every method runs one function; its user is the `user` cookie.
struct F(fn(&mut Context) -> tornado_web::Result);

impl RequestHandler for F {
    async fn get_current_user(&mut self, cx: &mut Context) -> tornado_web::Result<Option<String>> {
        Ok(cx.get_cookie("user").map(str::to_owned))
    }
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        (self.0)(cx)
    }
    async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
        (self.0)(cx)
    }
    async fn put(&mut self, cx: &mut Context) -> tornado_web::Result {
        (self.0)(cx)
    }
    async fn delete(&mut self, cx: &mut Context) -> tornado_web::Result {
        (self.0)(cx)
    }
    async fn patch(&mut self, cx: &mut Context) -> tornado_web::Result {
        (self.0)(cx)
    }
    async fn head(&mut self, cx: &mut Context) -> tornado_web::Result {
        (self.0)(cx)
    }
    async fn options(&mut self, cx: &mut Context) -> tornado_web::Result {
        (self.0)(cx)
    }
}

/// Sets a cookie, flushes, then tries another: the first goes out with the head.
struct Flushed;
impl RequestHandler for Flushed {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.set_cookie("early", "1")?;
        cx.write("one");
        cx.flush().await?;
        let late = cx.set_cookie("late", "1");
        assert!(
            late.is_err(),
            "a cookie after the head went out was accepted"
        );
        cx.write("two");
        Ok(())
    }
}

/// Like [`F`], with the XSRF check turned off.
struct NoXsrf;
impl RequestHandler for NoXsrf {
    fn check_xsrf_cookie(&mut self, _cx: &mut Context) -> tornado_web::Result {
        Ok(())
    }
    async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.write("posted without a token");
        Ok(())
    }
}

/// A page that needs a user.
struct Private;
impl RequestHandler for Private {
    async fn get_current_user(&mut self, cx: &mut Context) -> tornado_web::Result<Option<String>> {
        Ok(cx
            .get_signed_cookie("user")?
            .and_then(|v| String::from_utf8(v).ok()))
    }
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        authenticated(self, cx)?;
        let user = cx.current_user().unwrap_or_default().to_owned();
        cx.write(format!("hello {user}"));
        Ok(())
    }
    async fn head(&mut self, cx: &mut Context) -> tornado_web::Result {
        self.get(cx).await
    }
    async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
        authenticated(self, cx)?;
        cx.write("posted");
        Ok(())
    }
}

/// A page that needs a user, with its own login URL.
struct PrivateElsewhere(&'static str);
impl RequestHandler for PrivateElsewhere {
    fn get_login_url(&self, _cx: &Context) -> tornado_web::Result<String> {
        Ok(self.0.to_owned())
    }
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        authenticated(self, cx)?;
        cx.write("in");
        Ok(())
    }
}

const SECRET: &str = "0123456789abcdef the cookie secret";

fn settings() -> Settings {
    Settings {
        cookie_secret: Some(Secret::new(SECRET)),
        login_url: Some("/login".into()),
        ..Settings::default()
    }
}

fn app_with(settings: Settings) -> Application {
    Application::with_settings(
        vec![
            url("/plain", || {
                F(|cx| {
                    cx.set_cookie("str", "asdf")?;
                    cx.set_cookie("unicode", "qwer")?;
                    cx.set_cookie("bytes", "zxcv")
                })
            }),
            url("/every", || {
                F(|cx| {
                    cx.set_cookie_with(
                        "a",
                        "b,c",
                        &CookieOptions {
                            domain: Some("example.com".into()),
                            path: Some("/p".into()),
                            expires: Some(
                                std::time::UNIX_EPOCH + Duration::from_secs(1_359_312_200),
                            ),
                            max_age: Some(Duration::from_secs(10)),
                            httponly: true,
                            secure: true,
                            samesite: Some(SameSite::Strict),
                            ..CookieOptions::default()
                        },
                    )
                })
            }),
            url("/twice", || {
                F(|cx| {
                    cx.set_cookie("a", "1")?;
                    cx.set_cookie("b", "2")?;
                    cx.set_cookie("a", "3")
                })
            }),
            url("/then-error", || {
                F(|cx| {
                    cx.set_cookie("kept", "1")?;
                    cx.send_error(503);
                    Ok(())
                })
            }),
            url("/bad-name", || F(|cx| cx.set_cookie("a b", "1"))),
            url("/bad-value", || {
                F(|cx| cx.set_cookie("a", "1\r\nX-Evil: 1"))
            }),
            url("/bad-domain", || {
                F(|cx| {
                    cx.set_cookie_with(
                        "a",
                        "1",
                        &CookieOptions {
                            domain: Some("x;Secure".into()),
                            ..CookieOptions::default()
                        },
                    )
                })
            }),
            url("/after-flush", || {
                F(|cx| {
                    cx.write("x");
                    // flush is async; finish sends the headers just the same.
                    cx.finish()?;
                    match cx.set_cookie("late", "1") {
                        Err(e) if e.to_string().contains("headers have been written") => Ok(()),
                        other => panic!("a late cookie was not refused: {other:?}"),
                    }
                })
            }),
            url("/echo", || {
                F(|cx| {
                    let mut pairs: Vec<_> = cx
                        .cookies()
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    pairs.sort();
                    cx.write(pairs.join("\n"));
                    Ok(())
                })
            }),
            url("/clear", || F(|cx| cx.clear_cookie("foo"))),
            url("/clear-domain", || {
                F(|cx| {
                    cx.clear_cookie_with(
                        "foo",
                        &CookieOptions {
                            domain: Some("example.com".into()),
                            path: Some("/foo".into()),
                            ..CookieOptions::default()
                        },
                    )
                })
            }),
            url("/clear-bad", || {
                F(|cx| {
                    cx.clear_cookie_with(
                        "foo",
                        &CookieOptions {
                            max_age: Some(Duration::from_secs(1)),
                            ..CookieOptions::default()
                        },
                    )
                })
            }),
            url("/clear-all", || F(|cx| cx.clear_all_cookies())),
            url("/sign", || {
                F(|cx| cx.set_signed_cookie("user", "alice \u{e9}|;"))
            }),
            url("/sign-v1", || {
                F(|cx| {
                    cx.set_signed_cookie_with(
                        "user",
                        "old",
                        &CookieOptions::default(),
                        Some(Version::V1),
                    )
                })
            }),
            url("/read", || {
                F(|cx| {
                    let v = cx.get_signed_cookie("user")?;
                    let kv = cx.get_signed_cookie_key_version("user")?;
                    cx.write(serde_json::json!({
                        "value": v.map(|v| String::from_utf8_lossy(&v).into_owned()),
                        "key_version": kv,
                    }));
                    Ok(())
                })
            }),
            url("/read-old", || {
                F(|cx| {
                    let v = cx.get_signed_cookie_with("cookie", 1e9, None)?;
                    let v2 = cx.get_signed_cookie_with("cookie", 1e9, Some(Version::V2))?;
                    cx.write(serde_json::json!({
                        "any": v.map(|v| String::from_utf8_lossy(&v).into_owned()),
                        "v2": v2.map(|v| String::from_utf8_lossy(&v).into_owned()),
                    }));
                    Ok(())
                })
            }),
            url("/form", || {
                F(|cx| {
                    if *cx.method() == tornado_web::http::Method::GET {
                        let a = cx.xsrf_form_html()?;
                        let b = cx.xsrf_form_html()?;
                        assert_eq!(a, b, "one token per request");
                        cx.write(a);
                    } else {
                        cx.write(format!("{} ok", cx.method()));
                    }
                    Ok(())
                })
            }),
            url("/no-xsrf", || NoXsrf),
            url("/flushed", || Flushed),
            url("/gone", || tornado_web::ErrorHandler::new(410)),
            url("/private", || Private),
            url("/private-abs", || {
                PrivateElsewhere("http://login.example/in")
            }),
            url("/private-query", || PrivateElsewhere("/login?from=x")),
        ],
        settings,
    )
}

fn app() -> Application {
    app_with(settings())
}

/// The `name=value` part of each `Set-Cookie`, by name.
fn set_cookies(r: &tornado_httpclient::HttpResponse) -> Vec<String> {
    r.headers.get_all("Set-Cookie").map(str::to_owned).collect()
}

/// The cookie pair (`name=value`) of a `Set-Cookie` line, to send back.
fn pair(line: &str) -> &str {
    line.split(';').next().unwrap()
}

#[test]
fn set_cookie_sends_every_attribute_as_tornado_writes_it() {
    testing::run(app, |t| async move {
        let r = t.fetch("/plain").await;
        assert_eq!(r.code, 200);
        assert_eq!(
            set_cookies(&r),
            [
                "str=asdf; Path=/",
                "unicode=qwer; Path=/",
                "bytes=zxcv; Path=/"
            ]
        );
        // Byte for byte what Tornado 6.6 sends for the same call.
        let r = t.fetch("/every").await;
        assert_eq!(
            set_cookies(&r),
            [
                "a=\"b\\054c\"; Domain=example.com; expires=Sun, 27 Jan 2013 18:43:20 GMT; \
                 HttpOnly; Max-Age=10; Path=/p; SameSite=Strict; Secure"
            ]
        );
        // Setting a name again replaces it, and moves it last (as in Tornado).
        let r = t.fetch("/twice").await;
        assert_eq!(set_cookies(&r), ["b=2; Path=/", "a=3; Path=/"]);
        // A streamed response carries its cookies in the head it flushes.
        let r = t.fetch("/flushed").await;
        assert_eq!((r.code, r.text().unwrap()), (200, "onetwo"));
        assert_eq!(set_cookies(&r), ["early=1; Path=/"]);
        // Cookies survive an error page, as in Tornado.
        let r = t.fetch("/then-error").await;
        assert_eq!(r.code, 503);
        assert_eq!(set_cookies(&r), ["kept=1; Path=/"]);
    });
}

#[test]
fn cookies_that_would_break_the_header_are_refused() {
    testing::run(app, |t| async move {
        for path in ["/bad-name", "/bad-value", "/bad-domain", "/clear-bad"] {
            let r = t.fetch(path).await;
            assert_eq!(r.code, 500, "{path}");
            assert_eq!(set_cookies(&r), Vec::<String>::new(), "{path}");
        }
        let r = t.fetch("/after-flush").await;
        assert_eq!(r.code, 200);
        assert_eq!(set_cookies(&r), Vec::<String>::new());
    });
}

#[test]
fn quoted_cookies_read_back() {
    testing::run(app, |t| async move {
        let r = t.fetch("/every").await;
        let sent = set_cookies(&r);
        let r = t
            .fetch_request(t.request("/echo").header("Cookie", pair(&sent[0])))
            .await;
        assert_eq!(r.text().unwrap(), "a=b,c");
        let r = t
            .fetch_request(t.request("/echo").header("Cookie", "x=\"q\\\"\\073\"; y=2"))
            .await;
        assert_eq!(r.text().unwrap(), "x=q\";\ny=2");
    });
}

#[test]
fn clearing_sets_an_empty_cookie_expired_a_year_ago() {
    testing::run(app, |t| async move {
        let r = t.fetch("/clear").await;
        let sent = set_cookies(&r);
        assert_eq!(sent.len(), 1);
        let line = &sent[0];
        assert!(line.starts_with("foo=\"\"; expires="), "{line}");
        assert!(line.ends_with("; Path=/"), "{line}");
        // Expired 365 days ago: last year (or 1 January of this one, on 31 December of
        // a leap year).
        let year: u64 = line.split(' ').nth(4).unwrap().parse().unwrap();
        let today = tornado_httpserver::httputil::format_timestamp(std::time::SystemTime::now());
        let this_year: u64 = today.split(' ').nth(3).unwrap().parse().unwrap();
        assert!(
            year + 1 == this_year || (year == this_year && line.contains(" 01 Jan ")),
            "{line}"
        );

        let r = t.fetch("/clear-domain").await;
        let line = &set_cookies(&r)[0];
        assert!(
            line.starts_with("foo=\"\"; Domain=example.com; expires="),
            "{line}"
        );
        assert!(line.ends_with("; Path=/foo"), "{line}");

        let r = t
            .fetch_request(t.request("/clear-all").header("Cookie", "b=1; a=2; c=3"))
            .await;
        let names: Vec<_> = set_cookies(&r).iter().map(|l| pair(l).to_owned()).collect();
        assert_eq!(names, ["a=\"\"", "b=\"\"", "c=\"\""]);
    });
}

#[test]
fn signed_cookies_round_trip_and_refuse_tampering() {
    testing::run(app, |t| async move {
        let r = t.fetch("/sign").await;
        let sent = set_cookies(&r);
        assert_eq!(sent.len(), 1);
        let line = &sent[0];
        // Quoted (base64 carries `=`), 30 days of life, path /.
        assert!(line.starts_with("user=\"2|1:0|10:"), "{line}");
        assert!(
            line.contains("; expires=") && line.ends_with("; Path=/"),
            "{line}"
        );

        let read = |cookie: String| {
            let t = &t;
            async move {
                let r = t
                    .fetch_request(t.request("/read").header("Cookie", &cookie))
                    .await;
                assert_eq!(r.code, 200);
                serde_json::from_slice::<Value>(&r.body).unwrap()
            }
        };
        let v = read(pair(line).to_owned()).await;
        assert_eq!(v["value"], "alice \u{e9}|;");
        assert_eq!(v["key_version"], 0);

        // Any byte changed inside the quotes: no value.
        let good = pair(line).to_owned();
        let inner_start = good.find('"').unwrap() + 1;
        for at in [inner_start + 5, inner_start + 20, good.len() - 3] {
            let mut bytes = good.clone().into_bytes();
            bytes[at] = if bytes[at] == b'a' { b'b' } else { b'a' };
            let v = read(String::from_utf8(bytes).unwrap()).await;
            assert_eq!(v["value"], Value::Null, "changed at {at}");
        }
        // Signed for another name, sent under this one.
        let secret = Secret::new(SECRET);
        let admin = create_signed_value(&secret, "admin", "bob", None, None, None).unwrap();
        let v = read(format!("user=\"{}\"", String::from_utf8(admin).unwrap())).await;
        assert_eq!(v["value"], Value::Null);
        // Expired: signed 32 days ago.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let old = create_signed_value(
            &secret,
            "user",
            "bob",
            None,
            Some(now - 32.0 * 86_400.0),
            None,
        )
        .unwrap();
        let v = read(format!("user=\"{}\"", String::from_utf8(old).unwrap())).await;
        assert_eq!(v["value"], Value::Null);
        let fresh = create_signed_value(
            &secret,
            "user",
            "bob",
            None,
            Some(now - 30.0 * 86_400.0),
            None,
        )
        .unwrap();
        let v = read(format!("user=\"{}\"", String::from_utf8(fresh).unwrap())).await;
        assert_eq!(v["value"], "bob");
        // Version 1, still read.
        let r = t.fetch("/sign-v1").await;
        let v = read(pair(&set_cookies(&r)[0]).to_owned()).await;
        assert_eq!(v["value"], "old");
        assert_eq!(v["key_version"], Value::Null);
    });
}

#[test]
fn a_cookie_python_tornado_signed_verifies_here() {
    // From fixtures/signed_values.json (made by pip's tornado): secret s0, name
    // "cookie", value "hello", signed at 1300000000 in both formats.
    let fixtures: Value =
        serde_json::from_str(include_str!("fixtures/signed_values.json")).unwrap();
    let signed = |version: u64| {
        fixtures["creates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| {
                c["secret"] == "s0"
                    && c["name"] == "cookie"
                    && c["value"] == "hello"
                    && c["version"] == version
                    && c["key_version"].is_null()
            })
            .map(|c| c["signed"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no version {version} fixture"))
    };
    let (v1, v2) = (signed(1), signed(2));
    testing::run(app, |t| async move {
        for (value, any, only_v2) in [(v2, "hello", Some("hello")), (v1, "hello", None)] {
            // Quoted, as Tornado's Set-Cookie carries it.
            let r = t
                .fetch_request(
                    t.request("/read-old")
                        .header("Cookie", &format!("cookie=\"{value}\"")),
                )
                .await;
            let v: Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(v["any"], any, "{value}");
            assert_eq!(v["v2"].as_str(), only_v2, "{value}");
        }
    });
}

#[test]
fn key_versions_sign_with_the_chosen_key_and_verify_with_any() {
    let versioned = || {
        app_with(Settings {
            cookie_secret: Some(Secret::versioned([(1, "old key"), (2, "new key")])),
            key_version: Some(2),
            ..settings()
        })
    };
    testing::run(versioned, |t| async move {
        let r = t.fetch("/sign").await;
        let cookie = pair(&set_cookies(&r)[0]).to_owned();
        assert!(cookie.starts_with("user=\"2|1:2|"), "{cookie}");
        let r = t
            .fetch_request(t.request("/read").header("Cookie", &cookie))
            .await;
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            (v["value"].as_str(), v["key_version"].as_i64()),
            (Some("alice \u{e9}|;"), Some(2))
        );

        let old = create_signed_value(
            &Secret::new("old key"),
            "user",
            "carol",
            None,
            None,
            Some(1),
        )
        .unwrap();
        let r = t
            .fetch_request(t.request("/read").header(
                "Cookie",
                &format!("user=\"{}\"", String::from_utf8(old).unwrap()),
            ))
            .await;
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            (v["value"].as_str(), v["key_version"].as_i64()),
            (Some("carol"), Some(1))
        );
    });
    // A versioned secret without key_version cannot sign: a 500, not a panic.
    let unchosen = || {
        app_with(Settings {
            cookie_secret: Some(Secret::versioned([(1, "old key")])),
            ..settings()
        })
    };
    testing::run(unchosen, |t| async move {
        assert_eq!(t.fetch("/sign").await.code, 500);
    });
    // No secret at all: signed cookies are a 500 naming the setting.
    let none = || {
        app_with(Settings {
            cookie_secret: None,
            serve_traceback: true,
            ..settings()
        })
    };
    testing::run(none, |t| async move {
        for path in ["/sign", "/read"] {
            let r = t.fetch(path).await;
            assert_eq!(r.code, 500, "{path}");
            assert!(
                String::from_utf8_lossy(&r.body).contains("cookie_secret"),
                "{path}"
            );
        }
    });
}

fn xsrf_app() -> Application {
    app_with(Settings {
        xsrf_cookies: true,
        ..settings()
    })
}

/// The token and the cookie a GET of /form hands out.
async fn xsrf_page(t: &testing::TestServer, cookie: Option<&str>) -> (String, Option<String>) {
    let mut req = t.request("/form");
    if let Some(c) = cookie {
        req = req.header("Cookie", c);
    }
    let r = t.fetch_request(req).await;
    assert_eq!(r.code, 200);
    let html = r.text().unwrap().to_owned();
    let token = html
        .split("value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no token in {html}"))
        .to_owned();
    assert_eq!(
        html,
        format!("<input type=\"hidden\" name=\"_xsrf\" value=\"{token}\"/>")
    );
    (token, set_cookies(&r).first().map(|l| pair(l).to_owned()))
}

/// A version 2 token's timestamp is carried, never compared, and Python's `int` has no
/// bound: one past 64 bits still counts, from the cookie or the form, and a page made
/// from such a cookie writes it back as it came (as Tornado 6.6 does).
#[test]
fn xsrf_timestamps_past_64_bits_still_count() {
    testing::run(xsrf_app, |t| async move {
        // Token 00112233445566778899aabbccddeeff masked with 01020304.
        let masked = "0113213745576573899ba9bfcddfedfb";
        let normal = format!("2|01020304|{masked}|1300000000");
        let huge = format!("2|01020304|{masked}|99999999999999999999");
        for (cookie, header) in [(&huge, &normal), (&normal, &huge), (&huge, &huge)] {
            let r = t
                .fetch_request(
                    t.request("/form")
                        .method("POST")
                        .header("Cookie", &format!("_xsrf={cookie}"))
                        .header("X-XSRFToken", header)
                        .body(""),
                )
                .await;
            assert_eq!(r.code, 200, "cookie {cookie}, header {header}");
        }
        let (token, set) = xsrf_page(&t, Some(&format!("_xsrf={huge}"))).await;
        assert_eq!(set, None, "the cookie is valid: not replaced");
        assert!(token.ends_with("|99999999999999999999"), "{token}");
    });
}

#[test]
fn xsrf_tokens_are_accepted_in_every_form() {
    testing::run(xsrf_app, |t| async move {
        let (token, cookie) = xsrf_page(&t, None).await;
        let cookie = cookie.expect("a first visit sets the _xsrf cookie");
        assert!(cookie.starts_with("_xsrf=2|"), "{cookie}");
        // A second page with the cookie: no new cookie, a new mask, the same token.
        let (token2, again) = xsrf_page(&t, Some(&cookie)).await;
        assert_eq!(again, None);
        assert_ne!(token, token2);

        let post = |method: &'static str,
                    cookie: &str,
                    body: String,
                    header: Option<(&'static str, String)>| {
            let mut req = t.request("/form").method(method).header("Cookie", cookie);
            if method != "DELETE" {
                // Tornado's client (and ours) call only a POST's body a form.
                req = req
                    .body(body)
                    .header("Content-Type", "application/x-www-form-urlencoded");
            }
            if let Some((h, v)) = header {
                req = req.header(h, &v);
            }
            t.fetch_request(req)
        };
        for method in ["POST", "PUT", "PATCH"] {
            for tok in [&token, &token2] {
                let r = post(method, &cookie, format!("_xsrf={}", urlencode(tok)), None).await;
                assert_eq!(
                    (r.code, r.text().unwrap()),
                    (200, format!("{method} ok").as_str())
                );
            }
        }
        for h in ["X-XSRFToken", "X-CSRFToken"] {
            for method in ["POST", "DELETE"] {
                let r = post(method, &cookie, String::new(), Some((h, token.clone()))).await;
                assert_eq!(r.code, 200, "{h} {method}");
            }
        }
        // In the query string.
        let r = t
            .fetch_request(
                t.request(&format!("/form?_xsrf={}", urlencode(&token)))
                    .method("POST")
                    .header("Cookie", &cookie)
                    .body(""),
            )
            .await;
        assert_eq!(r.code, 200);
        // A version 1 cookie (plain hex) and a version 1 token.
        let r = post("POST", "_xsrf=00112233", "_xsrf=00112233".into(), None).await;
        assert_eq!(r.code, 200);
        let (v1_page_token, none) = xsrf_page(&t, Some("_xsrf=00112233")).await;
        assert_eq!(none, None);
        let r = post(
            "POST",
            "_xsrf=00112233",
            format!("_xsrf={}", urlencode(&v1_page_token)),
            None,
        )
        .await;
        assert_eq!(r.code, 200);
        // GET is never checked.
        assert_eq!(t.fetch("/form").await.code, 200);
        // A handler that opts out.
        let r = t
            .fetch_request(t.request("/no-xsrf").method("POST").body("a=1"))
            .await;
        assert_eq!(r.code, 200);
    });
}

#[test]
fn xsrf_refusals_say_why() {
    // With tracebacks served, the page names the reason.
    let debug = || {
        app_with(Settings {
            xsrf_cookies: true,
            serve_traceback: true,
            ..settings()
        })
    };
    testing::run(debug, |t| async move {
        let (token, cookie) = xsrf_page(&t, None).await;
        let cookie = cookie.unwrap();
        let (other_token, other_cookie) = xsrf_page(&t, None).await;
        let other_cookie = other_cookie.unwrap();
        let cases: Vec<(&str, String, String, &str)> = vec![
            (
                "no token",
                cookie.clone(),
                "a=1".into(),
                "'_xsrf' argument missing from POST",
            ),
            (
                "empty token",
                cookie.clone(),
                "_xsrf=".into(),
                "'_xsrf' argument missing from POST",
            ),
            (
                "bad format",
                cookie.clone(),
                "_xsrf=2|zz|00|1".into(),
                "'_xsrf' argument has invalid format",
            ),
            (
                "unknown version",
                cookie.clone(),
                "_xsrf=3|00|00|1".into(),
                "'_xsrf' argument has invalid format",
            ),
            (
                "another session's token",
                cookie.clone(),
                format!("_xsrf={}", urlencode(&other_token)),
                "XSRF cookie does not match POST argument",
            ),
            (
                "no cookie",
                String::new(),
                format!("_xsrf={}", urlencode(&token)),
                "XSRF cookie does not match POST argument",
            ),
            (
                "the other cookie",
                other_cookie.clone(),
                format!("_xsrf={}", urlencode(&token)),
                "XSRF cookie does not match POST argument",
            ),
        ];
        for (what, cookie, body, reason) in cases {
            let mut req = t.request("/form").method("POST").body(body);
            if !cookie.is_empty() {
                req = req.header("Cookie", &cookie);
            }
            let r = t.fetch_request(req).await;
            assert_eq!(r.code, 403, "{what}");
            let page = String::from_utf8_lossy(&r.body);
            let reason = tornado_web::xhtml_escape(reason);
            assert!(page.contains(&reason), "{what}: {page}");
        }
    });
}

#[test]
fn a_logged_in_users_first_token_cookie_lasts_30_days() {
    testing::run(xsrf_app, |t| async move {
        let r = t
            .fetch_request(t.request("/form").header("Cookie", "user=ann"))
            .await;
        let line = set_cookies(&r).remove(0);
        // Thirty days from now (or from a minute ago, across midnight).
        let day = |ago: u64| {
            let at = std::time::SystemTime::now() + Duration::from_secs(30 * 86_400)
                - Duration::from_secs(ago);
            tornado_httpserver::httputil::format_timestamp(at)[..16].to_owned()
        };
        assert!(line.contains(&day(0)) || line.contains(&day(60)), "{line}");
        let r = t.fetch("/form").await;
        let line = set_cookies(&r).remove(0);
        assert!(!line.contains("expires"), "{line}");
    });
}

#[test]
fn authenticated_redirects_or_refuses() {
    testing::run(app, |t| async move {
        let r = t
            .fetch_request(t.request("/private?a=1&b=x%20y").follow_redirects(false))
            .await;
        assert_eq!(r.code, 302);
        assert_eq!(
            r.headers.get("Location"),
            Some("/login?next=%2Fprivate%3Fa%3D1%26b%3Dx%2520y")
        );
        let r = t
            .fetch_request(t.request("/private").method("HEAD").follow_redirects(false))
            .await;
        assert_eq!(r.code, 302);
        let r = t
            .fetch_request(t.request("/private").method("POST").body("x=1"))
            .await;
        assert_eq!(r.code, 403);
        // An absolute login URL gets the full URL as next; one with a query, nothing.
        let r = t
            .fetch_request(t.request("/private-abs").follow_redirects(false))
            .await;
        let want = format!(
            "http://login.example/in?next=http%3A%2F%2F127.0.0.1%3A{}%2Fprivate-abs",
            t.port()
        );
        assert_eq!(r.headers.get("Location"), Some(want.as_str()));
        let r = t
            .fetch_request(t.request("/private-query").follow_redirects(false))
            .await;
        assert_eq!(r.headers.get("Location"), Some("/login?from=x"));
        // Logged in (a signed cookie): the page.
        let r = t.fetch("/sign").await;
        let cookie = pair(&set_cookies(&r)[0]).to_owned();
        let r = t
            .fetch_request(t.request("/private").header("Cookie", &cookie))
            .await;
        assert_eq!((r.code, r.text().unwrap()), (200, "hello alice \u{e9}|;"));
    });
    // Without login_url, authenticated is a 500 naming the setting.
    let no_login = || {
        app_with(Settings {
            login_url: None,
            ..settings()
        })
    };
    testing::run(no_login, |t| async move {
        assert_eq!(t.fetch("/private").await.code, 500);
    });
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    tornado_httpserver::httputil::url_escape_into(&mut out, s.as_bytes());
    out
}

#[test]
fn xsrf_refusals_for_every_method_and_carrier() {
    testing::run(xsrf_app, |t| async move {
        let (_, cookie) = xsrf_page(&t, None).await;
        let cookie = cookie.unwrap();
        let (other, _) = xsrf_page(&t, None).await;
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            // Nothing, a token of another session in a header, in the query, and a
            // token that decodes to nothing.
            let cases = [
                (None, "/form".to_owned()),
                (Some(("X-XSRFToken", other.clone())), "/form".to_owned()),
                (Some(("X-CSRFToken", other.clone())), "/form".to_owned()),
                (None, format!("/form?_xsrf={}", urlencode(&other))),
                (
                    Some(("X-XSRFToken", "2|01020304||1".to_owned())),
                    "/form".to_owned(),
                ),
            ];
            for (header, path) in cases {
                let mut req = t.request(&path).method(method).header("Cookie", &cookie);
                if method != "DELETE" {
                    req = req.body("");
                }
                if let Some((h, v)) = &header {
                    req = req.header(h, v);
                }
                let r = t.fetch_request(req).await;
                assert_eq!(r.code, 403, "{method} {path} {header:?}");
            }
        }
        // HEAD and OPTIONS are not checked.
        for method in ["HEAD", "OPTIONS"] {
            let r = t.fetch_request(t.request("/plain").method(method)).await;
            assert_eq!(r.code, 200, "{method}");
        }
        // A POST to a URL with no route, or to an ErrorHandler, is its error, not 403.
        let r = t
            .fetch_request(t.request("/nowhere").method("POST").body(""))
            .await;
        assert_eq!(r.code, 404);
        let r = t
            .fetch_request(t.request("/gone").method("POST").body(""))
            .await;
        assert_eq!(r.code, 410);
        // A malformed _xsrf cookie is replaced by a new one.
        let (_, replaced) = xsrf_page(&t, Some("_xsrf=2|zz|00|1")).await;
        assert!(replaced.is_some_and(|c| c.starts_with("_xsrf=2|")));
    });
}

#[test]
fn xsrf_cookie_settings() {
    let custom = || {
        app_with(Settings {
            xsrf_cookies: true,
            xsrf_cookie_version: Version::V1,
            xsrf_cookie_name: "csrf".into(),
            xsrf_cookie_kwargs: CookieOptions {
                httponly: true,
                secure: true,
                ..CookieOptions::default()
            },
            ..settings()
        })
    };
    testing::run(custom, |t| async move {
        let r = t.fetch("/form").await;
        let line = set_cookies(&r).remove(0);
        // Version 1: the token in hex, the same in the cookie and the page.
        let (pair_part, attrs) = line.split_once("; ").unwrap();
        let value = pair_part.strip_prefix("csrf=").unwrap();
        assert_eq!(value.len(), 32, "{line}");
        assert!(value.bytes().all(|b| b.is_ascii_hexdigit()), "{line}");
        assert_eq!(attrs, "HttpOnly; Path=/; Secure");
        assert!(r.text().unwrap().contains(&format!("value=\"{value}\"")));
        let r = t
            .fetch_request(
                t.request("/form")
                    .method("POST")
                    .header("Cookie", pair_part)
                    .body(format!("_xsrf={value}")),
            )
            .await;
        assert_eq!(r.code, 200);
    });
}

#[test]
fn an_empty_user_is_no_user() {
    testing::run(app, |t| async move {
        // F's user is the plain `user` cookie: empty, it is nobody.
        let r = t
            .fetch_request(
                t.request("/private-query")
                    .header("Cookie", "user=")
                    .follow_redirects(false),
            )
            .await;
        assert_eq!(r.code, 302);
    });
}

#[test]
fn cross_origin_protection_refuses_cross_site_requests() {
    let protected = || {
        app_with(Settings {
            cross_origin_protection: true,
            trusted_origins: vec!["https://friend.example".into()],
            serve_traceback: true,
            ..settings()
        })
    };
    testing::run(protected, |t| async move {
        let host = format!("127.0.0.1:{}", t.port());
        let post = |headers: Vec<(&'static str, String)>, path: &'static str| {
            let mut req = t.request(path).method("POST").body("");
            for (h, v) in headers {
                req = req.header(h, &v);
            }
            t.fetch_request(req)
        };
        let cases: Vec<(Vec<(&str, String)>, u16)> = vec![
            (vec![], 200),
            (vec![("Sec-Fetch-Site", "same-origin".into())], 200),
            (vec![("Origin", format!("http://{host}"))], 200),
            (vec![("Origin", "https://friend.example".into())], 200),
            (vec![("Origin", "https://evil.example".into())], 403),
            (
                vec![
                    ("Sec-Fetch-Site", "cross-site".into()),
                    ("Origin", "https://evil.example".into()),
                ],
                403,
            ),
            (
                vec![
                    ("Sec-Fetch-Site", "cross-site".into()),
                    ("Origin", "https://friend.example".into()),
                ],
                200,
            ),
        ];
        for (headers, code) in cases {
            let r = post(headers.clone(), "/plain").await;
            assert_eq!(r.code, code, "{headers:?}");
            if code == 403 {
                let page = String::from_utf8_lossy(&r.body);
                assert!(page.contains("not allowed"), "{page}");
            }
        }
        // GET is never checked; an error page takes any origin.
        let r = t
            .fetch_request(t.request("/plain").header("Origin", "https://evil.example"))
            .await;
        assert_eq!(r.code, 200);
        let r = post(
            vec![
                ("Sec-Fetch-Site", "cross-site".into()),
                ("Origin", "https://evil.example".into()),
            ],
            "/gone",
        )
        .await;
        assert_eq!(r.code, 410);
    });
}
