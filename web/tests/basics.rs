//! The core of a web application, end to end over loopback: routing, arguments,
//! output, errors.

use tornado_web::testing;
use tornado_web::{Application, Context, HttpError, RequestHandler, Settings, url};

struct Hello;
impl RequestHandler for Hello {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.write("Hello, world");
        Ok(())
    }
}

struct Args;
impl RequestHandler for Args {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        let name = cx.get_argument("name")?;
        cx.write(format!("{name}|{}", cx.path_arg(0).unwrap_or("-")));
        Ok(())
    }
    async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
        let body = cx.get_body_argument("body")?;
        cx.write_json(&serde_json::json!({ "body": body }))?;
        Ok(())
    }
}

struct Fails;
impl RequestHandler for Fails {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        match cx.get_argument_or("how", "http")?.as_str() {
            "http" => Err(HttpError::with_log(418, "teapot").into()),
            "io" => Err(std::io::Error::other("disk on fire").into()),
            _ => panic!("handler panicked on purpose"),
        }
    }
}

fn app(settings: Settings) -> Application {
    Application::with_settings(
        vec![
            url("/", || Hello),
            url(r"/args/([^/]*)", || Args),
            url("/fail", || Fails),
        ],
        settings,
    )
}

#[test]
fn hello_arguments_and_json() {
    testing::run(
        || app(Settings::default()),
        |t| async move {
            let r = t.fetch("/").await;
            assert_eq!(r.code, 200);
            assert_eq!(r.text().unwrap(), "Hello, world");
            assert_eq!(r.headers.get("Content-Length"), Some("12"));
            assert_eq!(
                r.headers.get("Content-Type"),
                Some("text/html; charset=UTF-8")
            );
            assert!(r.headers.get("Etag").is_some());

            let r = t.fetch("/args/x%20y?name=%20bob%20").await;
            assert_eq!(r.text().unwrap(), "bob|x y");

            let r = t.fetch("/args/z").await;
            assert_eq!(r.code, 400);
            assert!(r.text().unwrap().contains("Missing argument name"));

            let r = t
                .fetch_request(
                    t.request("/args/")
                        .method("POST")
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .body("body=hi+there"),
                )
                .await;
            assert_eq!(r.code, 200, "{:?}", r.text());
            assert_eq!(
                r.headers.get("Content-Type"),
                Some("application/json; charset=UTF-8")
            );
            assert_eq!(r.text().unwrap(), r#"{"body":"hi there"}"#);

            let r = t.fetch_request(t.request("/").method("DELETE")).await;
            assert_eq!(r.code, 405);
            let r = t.fetch("/missing").await;
            assert_eq!(r.code, 404);
        },
    );
}

#[test]
fn errors_and_panics_answer_with_pages() {
    testing::run(
        || app(Settings::default()),
        |t| async move {
            let r = t.fetch("/fail?how=http").await;
            assert_eq!(r.code, 418);
            assert_eq!(
                r.text().unwrap(),
                "<html><title>418: I&#x27;m a teapot</title><body>418: I&#x27;m a teapot</body></html>"
            );
            let r = t.fetch("/fail?how=io").await;
            assert_eq!(r.code, 500);
            assert!(!r.text().unwrap().contains("disk on fire"));
            let r = t.fetch("/fail?how=panic").await;
            assert_eq!(r.code, 500);
            // The server goes on.
            assert_eq!(t.fetch("/").await.code, 200);
        },
    );
    testing::run(
        || {
            app(Settings {
                debug: true,
                ..Settings::default()
            })
        },
        |t| async move {
            let r = t.fetch("/fail?how=io").await;
            assert_eq!(r.code, 500);
            let page = r.text().unwrap();
            assert!(page.contains("disk on fire"), "{page}");
            assert!(page.contains("basics::Fails"), "{page}");
            assert!(page.contains("Backtrace"), "{page}");
            let r = t.fetch("/fail?how=panic").await;
            let page = r.text().unwrap();
            assert!(page.contains("handler panicked on purpose"), "{page}");
            assert!(page.contains("basics.rs"), "{page}");
        },
    );
}
