//! Connection behaviour over a real socket: keep-alive, pipelining, `100-continue`,
//! response framing (chunked, close-delimited, HEAD, 204/304, wrong lengths), handler
//! panics and the arguments a handler sees.

mod common;

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use bytes::Bytes;
use common::{Client, get, serve, serve_echo};
use http::StatusCode;
use tornado_httpserver::httputil::{HttpHeaders, HttpServerRequest};
use tornado_httpserver::{
    BodyMode, HttpMessageDelegate, HttpServerConnectionDelegate, HttpServerSettings, Response,
    ResponseWriter,
};

thread_local! {
    /// What the streaming delegate saw and what its writes returned; the server runs on
    /// the test thread, so the test reads this after `serve` returns.
    static EVENTS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn event(e: impl Into<String>) {
    EVENTS.with(|ev| ev.borrow_mut().push(e.into()));
}

fn events() -> Vec<String> {
    EVENTS.with(|ev| ev.borrow_mut().drain(..).collect())
}

/// A streaming delegate whose response depends on the path.
struct Streamer;

impl HttpServerConnectionDelegate for Streamer {
    type Message = StreamMessage;

    fn start_request(self: Rc<Self>, request: &HttpServerRequest) -> StreamMessage {
        if request.uri() == "/panic-in-headers" {
            panic!("boom in start_request");
        }
        StreamMessage {
            path: request.uri().to_string(),
            head: request.method() == http::Method::HEAD,
            body: Vec::new(),
        }
    }
}

struct StreamMessage {
    path: String,
    head: bool,
    body: Vec<u8>,
}

fn headers(pairs: &[(&str, &str)]) -> HttpHeaders {
    let mut h = HttpHeaders::new();
    for (n, v) in pairs {
        h.add(n, v);
    }
    h
}

fn kind(r: Result<(), tornado_httpserver::OutputError>) -> String {
    match r {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("{:?}", e.kind()),
    }
}

impl HttpMessageDelegate for StreamMessage {
    fn body_mode(&self) -> BodyMode {
        BodyMode::Stream
    }

    fn data_received(&mut self, chunk: Bytes) -> impl Future<Output = ()> {
        event(format!("chunk {}", chunk.len()));
        self.body.extend_from_slice(&chunk);
        std::future::ready(())
    }

    async fn finish(self, _request: HttpServerRequest, w: ResponseWriter) {
        match self.path.as_str() {
            "/chunks" => {
                w.write_headers(StatusCode::OK, &headers(&[("X-Kind", "stream")]))
                    .unwrap();
                if !self.head {
                    w.write(b"abc").unwrap();
                    w.flush().await.unwrap();
                    tornado_gen::sleep(std::time::Duration::from_millis(20)).await;
                    w.write(b"defg").unwrap();
                }
                w.finish().unwrap();
            }
            "/too-much" => {
                w.write_headers(StatusCode::OK, &headers(&[("Content-Length", "3")]))
                    .unwrap();
                event(format!("write {}", kind(w.write(b"hello"))));
                event(format!("finish {}", kind(w.finish())));
            }
            "/too-much-in-two" => {
                w.write_headers(StatusCode::OK, &headers(&[("Content-Length", "3")]))
                    .unwrap();
                event(format!("write {}", kind(w.write(b"ab"))));
                event(format!("write {}", kind(w.write(b"cd"))));
                event(format!("finish {}", kind(w.finish())));
            }
            "/too-little" => {
                w.write_headers(StatusCode::OK, &headers(&[("Content-Length", "10")]))
                    .unwrap();
                event(format!("write {}", kind(w.write(b"abc"))));
                event(format!("finish {}", kind(w.finish())));
            }
            "/unfinished" => {
                w.write_headers(StatusCode::OK, &headers(&[])).unwrap();
                w.write(b"partial").unwrap();
            }
            "/panic-after-headers" => {
                w.write_headers(StatusCode::OK, &headers(&[("Content-Length", "5")]))
                    .unwrap();
                w.write(b"he").unwrap();
                panic!("boom after headers");
            }
            "/no-content-with-body" => {
                w.write_headers(StatusCode::NO_CONTENT, &headers(&[]))
                    .unwrap();
                event(format!("write {}", kind(w.write(b"nope"))));
                w.finish().unwrap();
            }
            _ => {
                let len = self.body.len().to_string();
                w.write_headers(StatusCode::OK, &headers(&[("Content-Length", &len)]))
                    .unwrap();
                w.write(&self.body).unwrap();
                w.finish().unwrap();
            }
        }
    }
}

fn serve_streamer<C, R>(settings: HttpServerSettings, client: C) -> R
where
    C: FnOnce(std::net::SocketAddr) -> R + Send + 'static,
    R: Send + 'static,
{
    serve(Streamer, settings, client)
}

#[test]
fn http11_keep_alive_and_connection_close() {
    serve_echo(|addr| {
        let mut c = Client::connect(addr);
        for i in 0..3 {
            c.send(&get(&format!("/{i}")));
            let r = c.read_response();
            assert_eq!(r.status, 200);
            assert_eq!(r.field("path").unwrap(), format!("/{i}"));
            assert_eq!(r.header("Connection"), None);
        }
        c.send(b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let r = c.read_response();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Connection"), Some("close"));
        c.expect_closed();
    });
}

#[test]
fn http10_closes_unless_keep_alive() {
    serve_echo(|addr| {
        let mut c = Client::connect(addr);
        c.send(b"GET / HTTP/1.0\r\n\r\n");
        let r = c.read_response();
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("Connection"),
            None,
            "Tornado sends no Connection here"
        );
        assert_eq!(r.field("version").unwrap(), "HTTP/1.0");
        c.expect_closed();

        let mut c = Client::connect(addr);
        for _ in 0..2 {
            // An extra CRLF after the head is skipped, as Tornado does.
            c.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n\r\n");
            let r = c.read_response();
            assert_eq!(r.status, 200);
            assert_eq!(r.header("Connection"), Some("Keep-Alive"));
        }
        // A body framed by Content-Length keeps an HTTP/1.0 connection too.
        c.send(b"POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok");
        let r = c.read_response();
        assert_eq!(r.header("Connection"), Some("Keep-Alive"));
        c.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let r = c.read_response();
        assert_eq!(r.header("Connection"), Some("Keep-Alive"));
        // Chunked coding in HTTP/1.0 is faulty framing (RFC 9112 section 6.1): the
        // request is answered, then the connection closes (Tornado keeps it).
        c.send(b"POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
        let r = c.read_response();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Connection"), None);
        c.expect_closed();
    });
}

#[test]
fn no_keep_alive_setting_closes_after_each_response() {
    let mut settings = HttpServerSettings::default();
    settings.params.no_keep_alive = true;
    serve(common::echo, settings, |addr| {
        let mut c = Client::connect(addr);
        c.send(&get("/"));
        let r = c.read_response();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Connection"), Some("close"));
        c.expect_closed();
    });
}

#[test]
fn pipelined_requests_are_answered_in_order_in_one_write() {
    serve_echo(|addr| {
        let mut c = Client::connect(addr);
        let mut batch = Vec::new();
        batch.extend_from_slice(&get("/one"));
        batch.extend_from_slice(b"POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
        batch.extend_from_slice(
            b"POST /three HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        );
        batch.extend_from_slice(&get("/four"));
        c.send(&batch);
        // The server parses every request already buffered before it writes, so all
        // four responses arrive together.
        let first_read = c.read_once();
        let text = String::from_utf8_lossy(&first_read).into_owned();
        assert_eq!(
            text.matches("HTTP/1.1 200 OK\r\n").count(),
            4,
            "expected four responses in one read, got {text:?}"
        );
        let order: Vec<&str> = ["path=/one", "path=/two", "path=/three", "path=/four"]
            .into_iter()
            .filter(|p| text.contains(p))
            .collect();
        assert_eq!(order.len(), 4);
        let pos: Vec<usize> = order.iter().map(|p| text.find(p).unwrap()).collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "out of order: {text}");
        assert!(text.contains("body=hello"));
        assert!(text.contains("body=abc"));
        // The connection is still good.
        c.send(&get("/five"));
        assert_eq!(c.read_response().field("path").unwrap(), "/five");
    });
}

#[test]
fn pipelined_requests_split_across_writes() {
    serve_echo(|addr| {
        let mut c = Client::connect(addr);
        let batch = [get("/a"), get("/b"), get("/c")].concat();
        // Cut in the middle of the second request's head.
        let cut = get("/a").len() + 10;
        c.send(&batch[..cut]);
        std::thread::sleep(std::time::Duration::from_millis(50));
        c.send(&batch[cut..]);
        for p in ["/a", "/b", "/c"] {
            assert_eq!(c.read_response().field("path").unwrap(), p);
        }
    });
}

#[test]
fn expect_100_continue() {
    serve_echo(|addr| {
        let mut c = Client::connect(addr);
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
        let interim = c.read_response();
        assert_eq!(interim.status, 100);
        assert_eq!(interim.head, "HTTP/1.1 100 Continue\r\n\r\n");
        c.send(b"hello");
        let r = c.read_response();
        assert_eq!(r.status, 200);
        assert_eq!(r.field("body").unwrap(), "hello");

        // No 100 without a body, nor for HTTP/1.0.
        c.send(b"GET /nobody HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n");
        let r = c.read_response();
        assert_eq!(r.status, 200);
        c.send(b"POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nok");
        let r = c.read_response();
        assert_eq!(r.status, 200);
        assert_eq!(r.field("body").unwrap(), "ok");

        // A client that sends its body without waiting is fine too.
        c.send(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc",
        );
        assert_eq!(c.read_response().status, 100);
        assert_eq!(c.read_response().field("body").unwrap(), "abc");
    });
}

#[test]
fn streaming_delegate_chunked_on_http11_close_delimited_on_http10() {
    serve_streamer(HttpServerSettings::default(), |addr| {
        let mut c = Client::connect(addr);
        c.send(&get("/chunks"));
        let r = c.read_response();
        assert_eq!(r.status, 200);
        assert!(
            r.chunked,
            "HTTP/1.1 without a length is chunked: {}",
            r.head
        );
        assert_eq!(r.body, b"abcdefg");
        // And the connection stays open.
        c.send(&get("/chunks"));
        assert_eq!(c.read_response().body, b"abcdefg");

        let mut c = Client::connect(addr);
        c.send(b"GET /chunks HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let r = c.read_head();
        assert_eq!(r.header("Transfer-Encoding"), None);
        assert_eq!(r.header("Content-Length"), None);
        assert_eq!(
            r.header("Connection"),
            None,
            "a close-delimited body cannot keep the connection"
        );
        assert_eq!(c.read_to_close(), b"abcdefg");
    });
}

#[test]
fn head_responses_have_no_body() {
    serve(
        |_req: HttpServerRequest| async { Response::text("hello") },
        HttpServerSettings::default(),
        |addr| {
            let mut c = Client::connect(addr);
            for _ in 0..2 {
                c.send(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
                let r = c.read_response_to(true);
                assert_eq!(r.status, 200);
                assert_eq!(r.header("Content-Length"), Some("5"));
            }
            // Had a body been sent, it would show up here instead of this response.
            c.send(&get("/"));
            let r = c.read_response();
            assert_eq!(r.body, b"hello");
        },
    );
    serve_streamer(HttpServerSettings::default(), |addr| {
        let mut c = Client::connect(addr);
        for _ in 0..2 {
            c.send(b"HEAD /chunks HTTP/1.1\r\nHost: x\r\n\r\n");
            let r = c.read_response_to(true);
            assert_eq!(r.header("X-Kind"), Some("stream"));
            assert_eq!(r.header("Transfer-Encoding"), None);
        }
        c.send(&get("/chunks"));
        assert_eq!(c.read_response().body, b"abcdefg");
    });
}

#[test]
fn no_content_and_not_modified_have_no_body() {
    serve(
        |req: HttpServerRequest| async move {
            let status = if req.path() == "/204" {
                StatusCode::NO_CONTENT
            } else {
                StatusCode::NOT_MODIFIED
            };
            Response::text("must not be sent").with_status(status)
        },
        HttpServerSettings::default(),
        |addr| {
            let mut c = Client::connect(addr);
            c.send(&[get("/204"), get("/304"), get("/204")].concat());
            let a = c.read_response();
            let b = c.read_response();
            let d = c.read_response();
            assert_eq!((a.status, b.status, d.status), (204, 304, 204));
            assert_eq!(a.header("Content-Length"), None);
            assert_eq!(a.header("Transfer-Encoding"), None);
            assert_eq!(b.header("Transfer-Encoding"), None);
            c.expect_silent(std::time::Duration::from_millis(200));
        },
    );
    serve_streamer(HttpServerSettings::default(), |addr| {
        let mut c = Client::connect(addr);
        c.send(&get("/no-content-with-body"));
        let r = c.read_response();
        assert_eq!(r.status, 204);
        c.send(&get("/chunks"));
        assert_eq!(c.read_response().body, b"abcdefg");
    });
    assert_eq!(events(), ["write BodyNotAllowed"]);
}

/// The bytes after the head of a response whose framing went wrong, up to the close.
fn wrong_length(path: &'static str) -> (String, Vec<u8>) {
    serve_streamer(HttpServerSettings::default(), move |addr| {
        let mut c = Client::connect(addr);
        c.send(&[get(path), get("/never-answered")].concat());
        let r = c.read_head();
        (r.head, c.read_to_close())
    })
}

#[test]
fn writing_more_than_content_length_closes_without_bad_framing() {
    let (head, rest) = wrong_length("/too-much");
    assert!(head.contains("Content-Length: 3\r\n"), "{head}");
    assert!(rest.is_empty(), "nothing of the refused write: {rest:?}");
    assert_eq!(events(), ["write TooMuchData", "finish TooLittleData"]);

    let (_, rest) = wrong_length("/too-much-in-two");
    assert_eq!(rest, b"ab", "the write that fit went out, then the close");
    assert_eq!(
        events(),
        ["write ok", "write TooMuchData", "finish TooLittleData"]
    );
}

#[test]
fn writing_less_than_content_length_closes() {
    let (head, rest) = wrong_length("/too-little");
    assert!(head.contains("Content-Length: 10\r\n"));
    assert_eq!(rest, b"abc");
    assert_eq!(events(), ["write ok", "finish TooLittleData"]);
}

#[test]
fn response_with_wrong_content_length_from_a_closure_closes() {
    serve(
        |req: HttpServerRequest| async move {
            let declared = if req.path() == "/short" { "10" } else { "2" };
            Response::text("abcde").with_header("Content-Length", declared)
        },
        HttpServerSettings::default(),
        |addr| {
            for (path, body) in [("/short", &b"abcde"[..]), ("/long", &b""[..])] {
                let mut c = Client::connect(addr);
                c.send(&[get(path), get("/never")].concat());
                let _ = c.read_head();
                assert_eq!(c.read_to_close(), body, "{path}");
            }
        },
    );
}

#[test]
fn unfinished_response_closes_the_connection() {
    let (head, rest) = wrong_length("/unfinished");
    assert!(head.contains("Transfer-Encoding: chunked"));
    // The chunk that was written, and no terminating chunk: the close tells the
    // client the body is incomplete.
    assert_eq!(rest, b"7\r\npartial\r\n");
}

#[test]
fn handler_panic_answers_500_and_the_connection_goes_on() {
    serve(
        |req: HttpServerRequest| async move {
            if req.path() == "/panic" {
                panic!("handler panicked on purpose");
            }
            Response::text("fine")
        },
        HttpServerSettings::default(),
        |addr| {
            let mut c = Client::connect(addr);
            c.send(&get("/panic"));
            let r = c.read_response();
            assert_eq!(r.status, 500);
            c.send(&get("/ok"));
            let r = c.read_response();
            assert_eq!(r.status, 200);
            assert_eq!(r.body, b"fine");
            // Pipelined behind a panic, too.
            c.send(&[get("/panic"), get("/ok")].concat());
            assert_eq!(c.read_response().status, 500);
            assert_eq!(c.read_response().body, b"fine");
            // Other connections are unaffected.
            let mut d = Client::connect(addr);
            d.send(&get("/ok"));
            assert_eq!(d.read_response().status, 200);
        },
    );
}

#[test]
fn panics_in_a_streaming_delegate() {
    serve_streamer(HttpServerSettings::default(), |addr| {
        // Before headers were written: a 500, then the connection closes.
        let mut c = Client::connect(addr);
        c.send(&get("/panic-in-headers"));
        let r = c.read_response();
        assert_eq!(r.status, 500);
        c.expect_closed();

        // After the headers: nothing can be said any more, so the connection closes
        // after what was written.
        let mut c = Client::connect(addr);
        c.send(&get("/panic-after-headers"));
        let r = c.read_head();
        assert_eq!(r.status, 200);
        assert_eq!(c.read_to_close(), b"he");

        // The server is fine.
        let mut c = Client::connect(addr);
        c.send(&get("/chunks"));
        assert_eq!(c.read_response().body, b"abcdefg");
    });
}

#[test]
fn invalid_response_header_answers_500() {
    serve(
        |req: HttpServerRequest| async move {
            if req.path() == "/inject" {
                Response::text("x").with_header("X-Bad", "a\r\nSet-Cookie: evil=1")
            } else {
                Response::text("fine")
            }
        },
        HttpServerSettings::default(),
        |addr| {
            let mut c = Client::connect(addr);
            c.send(&get("/inject"));
            let r = c.read_response();
            assert_eq!(r.status, 500);
            assert!(!r.head.contains("evil"), "{}", r.head);
            c.send(&get("/ok"));
            assert_eq!(c.read_response().body, b"fine");
        },
    );
}

#[test]
fn body_is_streamed_in_chunk_size_pieces() {
    let mut settings = HttpServerSettings::default();
    settings.params.chunk_size = 4;
    serve_streamer(settings, |addr| {
        let mut c = Client::connect(addr);
        c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789");
        assert_eq!(c.read_response().body, b"0123456789");
        c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n3\r\nghi\r\n0\r\n\r\n");
        assert_eq!(c.read_response().body, b"abcdefghi");
    });
    let ev = events();
    let sizes: Vec<usize> = ev
        .iter()
        .filter_map(|e| e.strip_prefix("chunk ")?.parse().ok())
        .collect();
    assert!(sizes.iter().all(|&n| (1..=4).contains(&n)), "{ev:?}");
    assert_eq!(sizes.iter().sum::<usize>(), 19);
}

#[test]
fn query_and_urlencoded_body_arguments_reach_the_handler() {
    serve_echo(|addr| {
        let mut c = Client::connect(addr);
        c.send(&get("/p?a=1&b=x%20y&a=2&empty="));
        let r = c.read_response();
        let text = r.text();
        assert!(text.contains("arg:a=1\narg:a=2\n"), "{text}");
        assert!(text.contains("arg:b=x y\n"), "{text}");
        assert_eq!(r.field("query").unwrap(), "a=1&b=x%20y&a=2&empty=");

        let body = "c=3&d=%E2%9C%93&a=body";
        c.send(
            format!(
                "POST /f?a=query HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
        let text = c.read_response().text();
        assert!(text.contains("arg:a=query\narg:a=body\n"), "{text}");
        assert!(text.contains("arg:c=3\n"), "{text}");
        assert!(text.contains("arg:d=\u{2713}\n"), "{text}");
    });
}

#[test]
fn multipart_body_arguments_and_files_reach_the_handler() {
    serve_echo(|addr| {
        let body = concat!(
            "--1234\r\n",
            "Content-Disposition: form-data; name=\"field\"\r\n",
            "\r\n",
            "value\r\n",
            "--1234\r\n",
            "Content-Disposition: form-data; name=\"upload\"; filename=\"a.txt\"\r\n",
            "Content-Type: text/plain\r\n",
            "\r\n",
            "file contents\r\n",
            "--1234--\r\n",
        );
        let mut c = Client::connect(addr);
        c.send(
            format!(
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=1234\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
        let r = c.read_response();
        assert_eq!(r.status, 200);
        let text = r.text();
        assert!(text.contains("arg:field=value\n"), "{text}");
        assert!(
            text.contains("file:upload=a.txt:text/plain:file contents\n"),
            "{text}"
        );
    });
}

/// As Tornado 6.5+, a malformed form body is the client's error (400) and the
/// handler never runs; the connection stays usable.
#[test]
fn bad_body_arguments_are_a_400_from_the_buffering_delegate() {
    serve_echo(|addr| {
        let too_many = (0..1001)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join("&");
        let bodies = [
            (
                "multipart/form-data; boundary=1234",
                "--x\r\nno headers here".to_string(),
            ),
            (
                "multipart/form-data",
                "--1234\r\n\r\n--1234--\r\n".to_string(),
            ),
            ("application/x-www-form-urlencoded", too_many),
        ];
        let mut c = Client::connect(addr);
        for (content_type, body) in bodies {
            c.send(
                format!(
                    "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
            let r = c.read_response();
            assert_eq!(r.status, 400, "{content_type}");
            assert!(r.field("path").is_none(), "the handler must not run");
        }
        c.send(&get("/after"));
        assert_eq!(c.read_response().field("path").unwrap(), "/after");
    });
}

/// A delegate that parses the form itself (`PARSES_BODY`): the body arrives unparsed,
/// a malformed one included, and the delegate answers it its own way.
struct OwnForms;
struct OwnForm;

impl HttpServerConnectionDelegate for OwnForms {
    type Message = OwnForm;
    fn start_request(self: Rc<Self>, _request: &HttpServerRequest) -> OwnForm {
        OwnForm
    }
}

impl HttpMessageDelegate for OwnForm {
    const PARSES_BODY: bool = true;

    async fn finish(self, mut request: HttpServerRequest, w: ResponseWriter) {
        let before = request.body_arguments().len();
        let answer = match request.parse_body() {
            Ok(()) => Response::text(format!(
                "{before} then {} arguments",
                request.body_arguments().len()
            )),
            Err(e) => Response::new(StatusCode::UNPROCESSABLE_ENTITY).with_body(format!("{e}")),
        };
        w.send(answer);
    }
}

#[test]
fn a_delegate_that_parses_the_body_gets_it_unparsed() {
    serve(OwnForms, HttpServerSettings::default(), |addr| {
        let mut c = Client::connect(addr);
        for (content_type, body, status, text) in [
            (
                "application/x-www-form-urlencoded",
                "a=1&b=2",
                200,
                "0 then 2 arguments",
            ),
            ("multipart/form-data", "x", 422, "boundary"),
        ] {
            c.send(
                format!(
                    "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
            let r = c.read_response();
            assert_eq!(r.status, status, "{content_type}");
            assert!(r.text().contains(text), "{content_type}: {}", r.text());
        }
    });
}
