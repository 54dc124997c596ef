//! The built-in handlers: `RedirectHandler` (group substitution, query appended,
//! permanent or not), `ErrorHandler`, and `FallbackHandler` mounting a closure and a
//! streaming delegate.

use std::rc::Rc;

use bytes::Bytes;
use tornado_httpserver::httputil::HttpServerRequest;
use tornado_httpserver::{
    BodyMode, HttpMessageDelegate, HttpServerConnectionDelegate, Response, ResponseWriter,
};
use tornado_web::http::StatusCode;
use tornado_web::testing;
use tornado_web::{Application, ErrorHandler, FallbackHandler, RedirectHandler, url};

/// A streaming delegate: counts the body's pieces and bytes without keeping them.
struct Counter;
struct Count {
    pieces: usize,
    bytes: usize,
}

impl HttpServerConnectionDelegate for Counter {
    type Message = Count;
    fn start_request(self: Rc<Self>, _request: &HttpServerRequest) -> Count {
        Count {
            pieces: 0,
            bytes: 0,
        }
    }
}

impl HttpMessageDelegate for Count {
    fn body_mode(&self) -> BodyMode {
        BodyMode::Stream
    }
    async fn data_received(&mut self, chunk: Bytes) {
        self.pieces += 1;
        self.bytes += chunk.len();
    }
    async fn finish(self, request: HttpServerRequest, writer: ResponseWriter) {
        writer.send(Response::text(format!(
            "{} {}: {} bytes, {} buffered, many pieces: {}",
            request.method(),
            request.path(),
            self.bytes,
            request.body.len(),
            self.pieces > 1
        )));
    }
}

fn app() -> Application {
    let legacy = |req: HttpServerRequest| async move {
        Response::text(format!(
            "legacy {} {} q={} body={}",
            req.method(),
            req.path(),
            req.query(),
            String::from_utf8_lossy(&req.body)
        ))
        .with_header("X-Legacy", "1")
        .with_header(
            "X-Form-A",
            &format!(
                "{} values",
                req.body_arguments().get("a").map_or(0, Vec::len)
            ),
        )
        .with_status(StatusCode::ACCEPTED)
    };
    Application::new(vec![
        url(r"/photos/(.*)", || RedirectHandler::new("/pictures/{0}")),
        url(r"/user/(?P<id>\d+)/(?P<action>\w+)", || {
            RedirectHandler::new("/people/{id}/{action}?from=user")
        }),
        url(r"/temp", || RedirectHandler::new("/new").permanent(false)),
        url(r"/see", || {
            RedirectHandler::new("/other").status(StatusCode::SEE_OTHER)
        }),
        url(r"/braces/(.*)", || RedirectHandler::new("/{{x}}/{0}")),
        url(r"/broken/(.*)", || RedirectHandler::new("/{3}")),
        url("/gone", || ErrorHandler::new(410)),
        url("/teapot", || ErrorHandler::new(418)),
        url(r"/legacy/.*", FallbackHandler::new(legacy)),
        url(r"/upload", FallbackHandler::new(Counter)),
    ])
}

#[test]
fn redirect_handler_substitutes_groups_and_keeps_the_query() {
    testing::run(app, |t| async move {
        let cases = [
            ("/photos/cat.jpg", 301, "/pictures/cat.jpg"),
            ("/photos/a/b", 301, "/pictures/a/b"),
            ("/photos/x?size=2&b=1", 301, "/pictures/x?size=2&b=1"),
            ("/photos/x?a=1&b=2&a=3", 301, "/pictures/x?a=1&a=3&b=2"),
            ("/photos/x?q=a+b", 301, "/pictures/x?q=a+b"),
            ("/user/42/edit", 301, "/people/42/edit?from=user"),
            (
                "/user/42/edit?tab=2",
                301,
                "/people/42/edit?from=user&tab=2",
            ),
            ("/temp", 302, "/new"),
            ("/see", 303, "/other"),
            ("/braces/y", 301, "/{x}/y"),
        ];
        for (path, code, location) in cases {
            let r = t
                .fetch_request(t.request(path).follow_redirects(false))
                .await;
            assert_eq!(r.code, code, "{path}");
            assert_eq!(r.headers.get("Location"), Some(location), "{path}");
        }
        // A template naming a group the pattern lacks is the handler's bug: 500.
        let r = t
            .fetch_request(t.request("/broken/x").follow_redirects(false))
            .await;
        assert_eq!(r.code, 500);
        // Only GET is served.
        let r = t
            .fetch_request(t.request("/temp").method("POST").body(""))
            .await;
        assert_eq!(r.code, 405);
        assert_eq!(r.headers.get("Allow"), Some("GET"));
    });
}

/// Redirects whose targets take the request's path: what Tornado 6.6 answers for each
/// (made with pip's `tornado` 6.6.1 serving the same routes). A substitution may not
/// move the target to another scheme or host as a browser reads it (`//host`, `/\\host`,
/// a tab in `//`, a scheme of its own), and a target with control characters is a 400,
/// not the 500 of a header refused; the query is re-encoded, grouped by name.
#[test]
fn redirect_handler_keeps_substitutions_to_the_path() {
    let app = || {
        Application::new(vec![
            url(r"/go/(.*)", || RedirectHandler::new("/{0}")),
            url(r"/pic/(.*)", || RedirectHandler::new("/pictures/{0}")),
            url(r"/swap/(.*?)/(.*?)/(.*)", || {
                RedirectHandler::new("/{1}/{0}/{2}")
            }),
            url(r"/abs/(.*)", || {
                RedirectHandler::new("http://Example.com/{0}")
            }),
            url(r"/host/(.*)", || RedirectHandler::new("https://{0}/x")),
            url(r"/whole/(.*)", || RedirectHandler::new("{0}")),
            url(r"/v6/(.*)", || {
                RedirectHandler::new("http://[::1]:8080/{0}")
            }),
            url(r"/q/(.*)", || RedirectHandler::new("/new?from={0}#frag")),
        ])
    };
    let cases: &[(&str, u16, Option<&str>)] = &[
        ("/go/a/b", 301, Some("/a/b")),
        ("/go//evil.example/x", 400, None),
        ("/go/%2Fevil.example", 400, None),
        ("/go/%5Cevil.example", 400, None),
        ("/go/%09/evil.example", 400, None),
        ("/go/a%0d%0aSet-Cookie:%20x=1", 400, None),
        ("/go/a%00b", 400, None),
        ("/go/a%7fb", 400, None),
        ("/go/a%09b", 301, Some("/a\tb")),
        ("/pic/x?b=2&a=1&b=3", 301, Some("/pictures/x?b=2&b=3&a=1")),
        ("/pic/x?y", 301, Some("/pictures/x?y=")),
        ("/pic/x?q=a+b&r=%2F", 301, Some("/pictures/x?q=a+b&r=%2F")),
        ("/pic/x?&&", 301, Some("/pictures/x")),
        ("/pic/x?=v", 301, Some("/pictures/x?=v")),
        // A name that is not UTF-8 goes out as it came (Tornado, reading names as
        // Latin-1, writes `%C3%BF`).
        ("/pic/x?%FF=1", 301, Some("/pictures/x?%FF=1")),
        ("/swap/a/b/c", 301, Some("/b/a/c")),
        ("/swap/a//x", 400, None),
        ("/abs/path", 301, Some("http://Example.com/path")),
        (
            "/abs//other.com",
            301,
            Some("http://Example.com//other.com"),
        ),
        ("/abs/@evil.com", 301, Some("http://Example.com/@evil.com")),
        ("/host/evil.com", 400, None),
        ("/whole/local", 301, Some("local")),
        ("/whole/http:x", 400, None),
        ("/whole//x", 301, Some("/x")),
        ("/whole/https:%2F%2Fh", 400, None),
        ("/v6/a", 301, Some("http://[::1]:8080/a")),
        ("/v6//b", 301, Some("http://[::1]:8080//b")),
        ("/q/me", 301, Some("/new?from=me#frag")),
        ("/q/me?z=1", 301, Some("/new?from=me&z=1#frag")),
    ];
    testing::run(app, |t| async move {
        for &(path, code, location) in cases {
            let r = t
                .fetch_request(t.request(path).follow_redirects(false))
                .await;
            assert_eq!(
                (r.code, r.headers.get("Location")),
                (code, location),
                "{path}"
            );
        }
    });
}

#[test]
fn error_handler_answers_its_status() {
    testing::run(app, |t| async move {
        for method in ["GET", "POST", "DELETE", "HEAD"] {
            let mut req = t.request("/gone").method(method);
            if method == "POST" {
                req = req.body("x");
            }
            assert_eq!(t.fetch_request(req).await.code, 410, "{method}");
        }
        let r = t.fetch("/teapot").await;
        assert_eq!(r.code, 418);
        assert_eq!(
            r.text().unwrap(),
            "<html><title>418: I&#x27;m a teapot</title><body>418: I&#x27;m a teapot</body></html>"
        );
    });
}

#[test]
fn fallback_handler_mounts_a_closure() {
    testing::run(app, |t| async move {
        let r = t.fetch("/legacy/a/b?x=1").await;
        assert_eq!(r.code, 202);
        assert_eq!(r.headers.get("X-Legacy"), Some("1"));
        assert_eq!(r.text().unwrap(), "legacy GET /legacy/a/b q=x=1 body=");
        let r = t
            .fetch_request(t.request("/legacy/post").method("POST").body("payload"))
            .await;
        assert_eq!(
            r.text().unwrap(),
            "legacy POST /legacy/post q= body=payload"
        );
        // Any method goes to the delegate: it decides.
        let r = t
            .fetch_request(t.request("/legacy/x").method("PROPFIND"))
            .await;
        assert_eq!(r.text().unwrap(), "legacy PROPFIND /legacy/x q= body=");
        // A form body is parsed for it, as its own server would parse it; a malformed
        // one is that server's bare 400, and the delegate is not called.
        let form = |body: &'static str, content_type: &'static str| {
            t.fetch_request(
                t.request("/legacy/form")
                    .method("POST")
                    .header("Content-Type", content_type)
                    .body(body),
            )
        };
        let r = form("a=1&a=2", "application/x-www-form-urlencoded").await;
        assert_eq!(r.headers.get("X-Form-A"), Some("2 values"));
        let r = form("x", "multipart/form-data").await;
        assert_eq!((r.code, r.headers.get("X-Legacy")), (400, None));
        assert_eq!(r.body.len(), 0);
        // Outside the mount, the application's routing.
        assert_eq!(t.fetch("/legacy").await.code, 404);
    });
}

#[test]
fn fallback_handler_mounts_a_streaming_delegate() {
    testing::run(app, |t| async move {
        let body = vec![b'z'; 300 * 1024];
        let r = t
            .fetch_request(t.request("/upload").method("PUT").body(body))
            .await;
        assert_eq!(r.code, 200);
        assert_eq!(
            r.text().unwrap(),
            "PUT /upload: 307200 bytes, 0 buffered, many pieces: true"
        );
    });
}
