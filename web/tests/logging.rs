//! `log_request`: a `log_function` gets each finished request (status, method, URI,
//! handler, time); without one, the line goes to `tornado.access` at info (below
//! 400), warning (4xx) or error (5xx), in Tornado's format.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use tornado_web::testing;
use tornado_web::{Application, Context, HttpError, RequestHandler, RequestLog, Settings, url};

struct Code;
impl RequestHandler for Code {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        match cx.get_argument_or("code", "200")?.parse::<u16>()? {
            200 => {
                cx.write("ok");
                Ok(())
            }
            302 => cx.redirect("/"),
            code => Err(HttpError::new(code).into()),
        }
    }
    async fn post(&mut self, _cx: &mut Context) -> tornado_web::Result {
        panic!("post panicked")
    }
}

fn routes() -> Vec<tornado_web::Rule> {
    vec![url("/code", || Code)]
}

#[test]
fn log_function_gets_every_request() {
    let seen: Rc<RefCell<Vec<String>>> = Rc::default();
    let s = seen.clone();
    testing::run(
        move || {
            let settings = Settings {
                log_function: Some(Rc::new(move |r: &RequestLog<'_>| {
                    assert!(r.request_time.as_secs() < 5);
                    assert_eq!(r.remote_ip, Some([127, 0, 0, 1].into()));
                    s.borrow_mut().push(format!(
                        "{} {} {} {}",
                        r.status.as_u16(),
                        r.method,
                        r.uri,
                        r.handler.rsplit("::").next().unwrap_or("")
                    ));
                })),
                ..Settings::default()
            };
            Application::with_settings(routes(), settings)
        },
        |t| async move {
            t.fetch("/code?code=200").await;
            t.fetch_request(t.request("/code?code=302").follow_redirects(false))
                .await;
            t.fetch("/code?code=404").await;
            t.fetch("/nowhere").await;
            t.fetch_request(t.request("/code").method("POST").body("x"))
                .await;
            t.fetch_request(t.request("/code").method("DELETE")).await;
        },
    );
    assert_eq!(
        *seen.borrow(),
        [
            "200 GET /code?code=200 Code",
            "302 GET /code?code=302 Code",
            "404 GET /code?code=404 Code",
            "404 GET /nowhere ErrorHandler",
            "500 POST /code Code",
            "405 DELETE /code Code",
        ]
    );
}

#[test]
fn default_log_levels_follow_the_status() {
    common::capture_logs();
    testing::run(
        || Application::new(routes()),
        |t| async move {
            for code in [200, 302, 404, 503] {
                t.fetch_request(
                    t.request(&format!("/code?code={code}"))
                        .follow_redirects(false),
                )
                .await;
            }
        },
    );
    let access: Vec<_> = common::logs()
        .into_iter()
        .filter(|r| r.target == "tornado.access")
        .collect();
    let levels: Vec<log::Level> = access.iter().map(|r| r.level).collect();
    assert_eq!(
        levels,
        [
            log::Level::Info,
            log::Level::Info,
            log::Level::Warn,
            log::Level::Error
        ],
        "{access:#?}"
    );
    // Tornado's format: `200 GET /code?code=200 (127.0.0.1) 0.52ms`.
    let line = &access[0].message;
    let rest = line
        .strip_prefix("200 GET /code?code=200 (127.0.0.1) ")
        .unwrap_or_else(|| panic!("{line}"));
    let ms = rest.strip_suffix("ms").unwrap_or_else(|| panic!("{line}"));
    assert!(ms.parse::<f64>().is_ok(), "{line}");
    assert!(access[3].message.starts_with("503 GET /code?code=503 "));
}
