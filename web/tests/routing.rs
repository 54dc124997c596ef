//! Routing: anchoring, path arguments (URL-decoded), `reverse_url`, host rules and
//! `default_host`, `default_handler`, 404, and bad patterns reported without a panic.

use tornado_web::testing;
use tornado_web::{Application, Context, ErrorHandler, RequestHandler, Settings, Target, url};

/// Echoes its path arguments: `args=a|b;kwargs=k=v|...`.
struct EchoArgs;
impl RequestHandler for EchoArgs {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        let args = cx.path_args().join("|");
        let kwargs: Vec<String> = cx
            .path_kwargs()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        cx.write(format!("args={args};kwargs={}", kwargs.join("|")));
        Ok(())
    }
}

/// Writes a fixed text, to tell routes apart.
struct Says(&'static str);
impl RequestHandler for Says {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.write(self.0);
        Ok(())
    }
}

/// Builds URLs with `Context::reverse_url`.
struct Reverser;
impl RequestHandler for Reverser {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        let a = cx.reverse_url("echo2", &[&"x y", &"\u{e9}?"])?;
        let b = cx.reverse_url("plain", &[])?;
        let missing = cx.reverse_url("nope", &[]).is_err();
        cx.write(format!("{a} {b} {missing}"));
        Ok(())
    }
}

fn routing_app() -> Application {
    Application::new(vec![
        url("/", || Says("root")),
        url("/exact", || Says("exact")),
        url(r"/echo/([^/]*)/([^/]*)", || EchoArgs).name("echo2"),
        url(r"/opt/(\d+)?/?(x)?", || EchoArgs),
        url(r"/named/(?P<id>\d+)/(?P<slug>[^/]+)", || EchoArgs),
        url(r"/rest/(.*)", || EchoArgs),
        url("/plain", || Says("plain")).name("plain"),
        url("/reverse", || Reverser),
    ])
}

#[test]
fn patterns_are_anchored_at_both_ends() {
    testing::run(routing_app, |t| async move {
        let cases = [
            ("/", 200, "root"),
            ("/exact", 200, "exact"),
            ("/exactly", 404, ""),
            ("/x/exact", 404, ""),
            ("/exact/", 404, ""),
            ("//", 404, ""),
            // Patterns match the path as sent: an encoded slash is no separator.
            ("/ex%61ct", 404, ""),
            ("/echo%2Fa/b", 404, ""),
        ];
        for (path, code, body) in cases {
            let r = t.fetch(path).await;
            assert_eq!(r.code, code, "{path}");
            if code == 200 {
                assert_eq!(r.text().unwrap(), body, "{path}");
            }
        }
    });
}

#[test]
fn path_arguments_are_url_decoded() {
    testing::run(routing_app, |t| async move {
        let cases = [
            ("/echo/a/b", "args=a|b;kwargs="),
            ("/echo/a%20b/c", "args=a b|c;kwargs="),
            // An encoded slash is a slash inside the group, not a separator.
            ("/echo/a%2Fb/c", "args=a/b|c;kwargs="),
            // In a path `+` is a plus, not a space.
            ("/echo/a+b/c", "args=a+b|c;kwargs="),
            ("/echo/%E2%98%83/", "args=\u{2603}|;kwargs="),
            ("/rest/x/y%3Fz", "args=x/y?z;kwargs="),
            // A group that did not take part in the match is empty.
            ("/opt/", "args=|;kwargs="),
            ("/opt/12/x", "args=12|x;kwargs="),
            (
                "/named/42/hello%20world",
                "args=;kwargs=id=42|slug=hello world",
            ),
        ];
        for (path, want) in cases {
            let r = t.fetch(path).await;
            assert_eq!(r.code, 200, "{path}");
            assert_eq!(r.text().unwrap(), want, "{path}");
        }
    });
}

#[test]
fn invalid_utf8_in_a_path_argument_is_a_400() {
    testing::run(routing_app, |t| async move {
        for path in ["/echo/%FF/x", "/named/1/%C3%28", "/rest/%80"] {
            let r = t.fetch(path).await;
            assert_eq!(r.code, 400, "{path}");
        }
        // The server goes on.
        assert_eq!(
            t.fetch("/echo/%C3%A9/x").await.text().unwrap(),
            "args=é|x;kwargs="
        );
    });
}

#[test]
fn reverse_url_from_the_application_and_the_context() {
    let app = routing_app();
    assert_eq!(app.reverse_url("plain", &[]).unwrap(), "/plain");
    assert_eq!(app.reverse_url("echo2", &[&1, &"b"]).unwrap(), "/echo/1/b");
    assert_eq!(
        app.reverse_url("echo2", &[&"a b", &"c"]).unwrap(),
        "/echo/a%20b/c"
    );
    // As Tornado's `url_escape(plus=False)`: a slash is kept, a plus escaped.
    assert_eq!(
        app.reverse_url("echo2", &[&"a/b", &"+"]).unwrap(),
        "/echo/a/b/%2B"
    );
    assert!(
        app.reverse_url("echo2", &[&1]).is_err(),
        "too few arguments"
    );
    assert!(
        app.reverse_url("missing", &[])
            .unwrap_err()
            .is_unknown_name()
    );

    testing::run(routing_app, |t| async move {
        let r = t.fetch("/reverse").await;
        assert_eq!(r.code, 200);
        assert_eq!(r.text().unwrap(), "/echo/x%20y/%C3%A9%3F /plain true");
        // What reverse_url builds routes back to the same arguments.
        let r = t.fetch("/echo/x%20y/%C3%A9%3F").await;
        assert_eq!(r.text().unwrap(), "args=x y|\u{e9}?;kwargs=");
    });
}

fn hosts_app(default_host: Option<&str>) -> Application {
    let app = Application::with_settings(
        vec![url("/", || Says("wildcard"))],
        Settings {
            default_host: default_host.map(str::to_owned),
            ..Settings::default()
        },
    );
    app.add_handlers(
        r"www\.example\.com",
        vec![
            url("/", || Says("www root")),
            url("/only-www", || Says("only www")),
        ],
    );
    app.add_handlers(r"(api|v2)\.example\.com", vec![url("/", || Says("api"))]);
    app.add_handlers(r".*\.example\.com", vec![url("/any", || Says("any sub"))]);
    assert!(app.check().is_ok());
    app
}

#[test]
fn host_patterns_route_by_host() {
    testing::run(
        || hosts_app(None),
        |t| async move {
            let cases = [
                ("www.example.com", "/", 200, "www root"),
                ("WWW.Example.COM:8080", "/", 200, "www root"),
                ("www.example.com", "/only-www", 200, "only www"),
                ("api.example.com", "/", 200, "api"),
                ("v2.example.com", "/", 200, "api"),
                // A host pattern is anchored: no match for a longer name.
                ("api.example.com.evil", "/", 200, "wildcard"),
                // A matching host without the path goes on to later rules.
                ("api.example.com", "/any", 200, "any sub"),
                ("other.org", "/", 200, "wildcard"),
                ("other.org", "/only-www", 404, ""),
            ];
            for (host, path, code, body) in cases {
                let r = t.fetch_request(t.request(path).header("Host", host)).await;
                assert_eq!(r.code, code, "{host}{path}");
                if code == 200 {
                    assert_eq!(r.text().unwrap(), body, "{host}{path}");
                }
            }
        },
    );
}

#[test]
fn default_host_serves_unknown_hosts_but_not_x_real_ip() {
    testing::run(
        || hosts_app(Some("www.example.com")),
        |t| async move {
            let r = t
                .fetch_request(t.request("/only-www").header("Host", "10.1.2.3"))
                .await;
            assert_eq!(r.code, 200);
            assert_eq!(r.text().unwrap(), "only www");
            // The wildcard routes still come before the default host's.
            let r = t
                .fetch_request(t.request("/").header("Host", "10.1.2.3"))
                .await;
            assert_eq!(r.text().unwrap(), "wildcard");
            // Behind a proxy (X-Real-Ip), the default host is not used.
            let r = t
                .fetch_request(
                    t.request("/only-www")
                        .header("Host", "10.1.2.3")
                        .header("X-Real-Ip", "192.0.2.1"),
                )
                .await;
            assert_eq!(r.code, 404);
        },
    );
}

struct CustomNotFound;
impl RequestHandler for CustomNotFound {
    async fn prepare(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.set_status(404)?;
        cx.write(format!("no route for {}", cx.request().path()));
        cx.finish()
    }
}

#[test]
fn default_handler_answers_unmatched_requests() {
    testing::run(
        || {
            Application::with_settings(
                vec![url("/", || Says("root"))],
                Settings {
                    default_handler: Some(Target::handler(|| CustomNotFound)),
                    ..Settings::default()
                },
            )
        },
        |t| async move {
            let r = t.fetch("/nowhere?x=1").await;
            assert_eq!(r.code, 404);
            assert_eq!(r.text().unwrap(), "no route for /nowhere");
            let r = t
                .fetch_request(t.request("/nowhere").method("POST").body("x"))
                .await;
            assert_eq!(r.code, 404);
        },
    );
    testing::run(
        || {
            Application::with_settings(
                vec![],
                Settings {
                    default_handler: Some(Target::handler(|| ErrorHandler::new(410))),
                    ..Settings::default()
                },
            )
        },
        |t| async move {
            assert_eq!(t.fetch("/anything").await.code, 410);
        },
    );
}

#[test]
fn unmatched_requests_get_tornados_404_page() {
    testing::run(routing_app, |t| async move {
        for method in ["GET", "POST", "DELETE"] {
            let mut req = t.request("/no/such/page").method(method);
            if method == "POST" {
                req = req.body("");
            }
            let r = t.fetch_request(req).await;
            assert_eq!(r.code, 404, "{method}");
            assert_eq!(
                r.text().unwrap(),
                "<html><title>404: Not Found</title><body>404: Not Found</body></html>"
            );
        }
    });
}

#[test]
fn bad_patterns_are_reported_not_panicked() {
    let app = Application::new(vec![
        url("/ok", || Says("ok")),
        url(r"/bad/(\d+", || Says("x")),
    ]);
    let err = app.check().unwrap_err();
    assert!(err.is_invalid_pattern(), "{err}");
    assert!(err.to_string().contains(r"/bad/(\d+"), "{err}");

    let e = app.listen_on(0, Some("127.0.0.1")).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains(r"/bad/(\d+"), "{e}");
    assert!(app.server().is_err());

    // A bad host pattern too.
    let app = Application::new(vec![]);
    app.add_handlers("(unclosed", vec![url("/", || Says("x"))]);
    assert!(app.check().unwrap_err().is_invalid_pattern());
    assert!(app.listen_on(0, Some("127.0.0.1")).is_err());

    // A good application checks clean.
    assert!(routing_app().check().is_ok());
}
