//! A per-request body limit over a real socket: a streaming delegate raises or lowers
//! `max_body_size` for its request from `headers_received`
//! ([`ResponseWriter::set_max_body_size`], Tornado's
//! `request.connection.set_max_body_size`); a delegate that does not keeps the
//! server's limit, checked when the body starts being read.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use bytes::Bytes;
use common::{Client, serve};
use tornado_httpserver::httputil::HttpServerRequest;
use tornado_httpserver::{
    BodyMode, HttpMessageDelegate, HttpServerConnectionDelegate, HttpServerSettings, Response,
    ResponseWriter,
};

/// `/stream/N` streams with its limit set to N, `/stream` streams with the server's,
/// `/flush` starts its response before the body; anything else is buffered.
struct Limits;

struct Limited {
    path: String,
    bytes: usize,
    /// What `set_max_body_size` said, at the head and after the body.
    said: Rc<RefCell<Vec<String>>>,
}

impl HttpServerConnectionDelegate for Limits {
    type Message = Limited;

    fn start_request(self: Rc<Self>, request: &HttpServerRequest) -> Limited {
        Limited {
            path: request.path().to_string(),
            bytes: 0,
            said: Rc::default(),
        }
    }
}

fn outcome(r: Result<(), tornado_httpserver::BodyStartedError>) -> String {
    match r {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("err: {e}"),
    }
}

impl HttpMessageDelegate for Limited {
    fn body_mode(&self) -> BodyMode {
        if self.path.starts_with("/stream") || self.path == "/flush" {
            BodyMode::Stream
        } else {
            BodyMode::Buffer
        }
    }

    async fn headers_received(&mut self, writer: &ResponseWriter) {
        if let Some(n) = self.path.strip_prefix("/stream/") {
            let n = n.parse().expect("a limit");
            self.said
                .borrow_mut()
                .push(outcome(writer.set_max_body_size(n)));
        }
        if self.path == "/flush" {
            writer
                .write_headers(http::StatusCode::OK, &Default::default())
                .unwrap();
            writer.write(b"started").unwrap();
        }
    }

    async fn data_received(&mut self, chunk: Bytes) {
        self.bytes += chunk.len();
    }

    async fn finish(self, request: HttpServerRequest, writer: ResponseWriter) {
        self.said
            .borrow_mut()
            .push(outcome(writer.set_max_body_size(1 << 30)));
        let said = self.said.borrow().join(", ");
        let got = self.bytes + request.body.len();
        writer.send(Response::text(format!("{got} bytes; {said}")));
    }
}

fn settings() -> HttpServerSettings {
    let mut settings = HttpServerSettings::default();
    settings.params.max_body_size = 100;
    settings
}

fn put(path: &str, len: usize) -> Vec<u8> {
    let mut req =
        format!("PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len}\r\n\r\n").into_bytes();
    req.resize(req.len() + len, b'x');
    req
}

fn put_chunked(path: &str, len: usize) -> Vec<u8> {
    let mut req = format!("PUT {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        .into_bytes();
    for piece in vec![b'y'; len].chunks(40) {
        req.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        req.extend_from_slice(piece);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    req
}

/// Sends `req` on a connection of its own; the response.
fn exchange(addr: std::net::SocketAddr, req: &[u8]) -> common::RawResponse {
    let mut c = Client::connect(addr);
    c.send_lossy(req);
    c.read_response()
}

#[test]
fn a_streaming_delegate_sets_its_own_limit_at_the_head() {
    serve(Limits, settings(), |addr| {
        let late = "err: set_max_body_size: the request body is already being read or was read";
        // Raised: a body over the server's limit is read, on a connection that goes on.
        let mut c = Client::connect(addr);
        c.send(&put("/stream/1000", 500));
        let r = c.read_response();
        assert_eq!(r.text(), format!("500 bytes; ok, {late}"));
        c.send(&put_chunked("/stream/1000", 700));
        assert_eq!(c.read_response().text(), format!("700 bytes; ok, {late}"));
        // ... up to its own limit.
        assert_eq!(exchange(addr, &put("/stream/1000", 1001)).status, 413);
        assert_eq!(
            exchange(addr, &put_chunked("/stream/1000", 1001)).status,
            413
        );
        // Left alone: the server's limit.
        assert_eq!(
            exchange(addr, &put("/stream", 100)).text(),
            format!("100 bytes; {late}")
        );
        assert_eq!(exchange(addr, &put("/stream", 101)).status, 413);
        assert_eq!(exchange(addr, &put_chunked("/stream", 101)).status, 413);
        // Lowered: a body between the two limits is refused.
        assert_eq!(exchange(addr, &put("/stream/10", 10)).status, 200);
        assert_eq!(exchange(addr, &put("/stream/10", 50)).status, 413);
        assert_eq!(exchange(addr, &put_chunked("/stream/10", 50)).status, 413);
        // Buffered: the server's limit, and no change once the body is read.
        assert_eq!(exchange(addr, &put("/buffer", 101)).status, 413);
        assert_eq!(
            exchange(addr, &put("/buffer", 100)).text(),
            format!("100 bytes; {late}")
        );
    });
}

#[test]
fn the_413_comes_without_100_continue_and_the_client_reads_it() {
    serve(Limits, settings(), |addr| {
        let head = |path: &str| {
            format!(
                "PUT {path} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 500\r\n\r\n"
            )
        };
        let mut c = Client::connect(addr);
        c.send(head("/stream").as_bytes());
        let r = c.read_response();
        assert_eq!(r.status, 413, "no 100 Continue first: {}", r.head);
        assert_eq!(r.header("Connection"), Some("close"));
        c.expect_closed();

        let mut c = Client::connect(addr);
        c.send(head("/stream/1000").as_bytes());
        assert_eq!(c.read_response().status, 100);
        c.send(&[b'x'; 500]);
        assert!(c.read_response().text().starts_with("500 bytes; ok"));
    });
}

#[test]
fn a_response_started_before_the_413_is_cut_short_not_followed() {
    serve(Limits, settings(), |addr| {
        let mut c = Client::connect(addr);
        // The head alone: what the client sends of its body is not read.
        c.send(b"PUT /flush HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n");
        let r = c.read_head();
        assert_eq!(r.status, 200);
        let rest = c.read_to_close();
        let rest = String::from_utf8_lossy(&rest);
        assert!(rest.contains("started"), "{rest:?}");
        assert!(!rest.contains("HTTP/1.1"), "a second response: {rest:?}");
        assert!(
            !rest.ends_with("0\r\n\r\n"),
            "the response was not ended: {rest:?}"
        );
    });
}
