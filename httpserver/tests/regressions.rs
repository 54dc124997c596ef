//! Reproductions of bugs found in review, named after the bug.

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tornado_httpserver::httputil::HttpServerRequest;
use tornado_httpserver::{
    HttpMessageDelegate, HttpServerConnectionDelegate, HttpServerSettings, Response, ResponseWriter,
};

use common::{Client, serve};

/// A delegate whose `/first` handler keeps its writer and returns without answering;
/// the kept writer tries to answer later, while `/second` is being handled.
#[derive(Default)]
struct KeepsWriter {
    kept: RefCell<Option<ResponseWriter>>,
}

struct Req {
    owner: Rc<KeepsWriter>,
    path: String,
}

impl HttpServerConnectionDelegate for KeepsWriter {
    type Message = Req;

    fn start_request(self: Rc<Self>, request: &HttpServerRequest) -> Req {
        Req {
            owner: self,
            path: request.path().to_string(),
        }
    }
}

impl HttpMessageDelegate for Req {
    async fn finish(self, _request: HttpServerRequest, writer: ResponseWriter) {
        if self.path == "/first" {
            *self.owner.kept.borrow_mut() = Some(writer);
            return;
        }
        // While /second waits, the writer kept from /first tries to answer.
        tornado_gen::sleep(Duration::from_millis(50)).await;
        if let Some(stale) = self.owner.kept.borrow_mut().take() {
            let err = stale
                .write_headers(http::StatusCode::OK, &Default::default())
                .unwrap_err();
            assert!(err.to_string().contains("is over"), "{err}");
            stale.send(Response::text("answer to /first"));
        }
        writer.send(Response::text("answer to /second"));
    }
}

#[test]
fn a_writer_kept_from_an_earlier_request_cannot_answer_a_later_one() {
    let replies = serve(
        KeepsWriter::default(),
        HttpServerSettings::default(),
        |addr| {
            let mut c = Client::connect(addr);
            c.send(
                b"GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n",
            );
            (c.read_response(), c.read_response())
        },
    );
    assert_eq!(replies.0.status, 500, "/first returned without answering");
    assert_eq!(replies.1.status, 200);
    assert_eq!(replies.1.body, b"answer to /second");
}

#[test]
fn a_finished_pipelined_response_is_not_held_back_by_a_slow_one_after_it() {
    let handler = |req: HttpServerRequest| async move {
        if req.path() == "/slow" {
            tornado_gen::sleep(Duration::from_secs(2)).await;
        }
        Response::text(req.path().to_string())
    };
    let first_after = serve(handler, HttpServerSettings::default(), |addr| {
        let mut c = Client::connect(addr);
        let sent = Instant::now();
        c.send(b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\nGET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
        let fast = c.read_response();
        let waited = sent.elapsed();
        let slow = c.read_response();
        assert_eq!(fast.body, b"/fast");
        assert_eq!(slow.body, b"/slow");
        waited
    });
    // The slow handler takes 2 s; the fast answer must not wait for it.
    assert!(first_after < Duration::from_millis(1500), "{first_after:?}");
}

#[test]
fn pipelined_requests_wait_while_the_client_does_not_read() {
    // 300 pipelined requests for 1 MiB each, and a client that reads nothing at first:
    // the server must stop handling requests while its output is not taken, instead of
    // queueing 300 MiB.
    let big = Bytes::from(vec![b'x'; 1024 * 1024]);
    let handled = Rc::new(std::cell::Cell::new(0usize));
    let h = handled.clone();
    let handler = move |_req: HttpServerRequest| {
        let (big, h) = (big.clone(), h.clone());
        async move {
            h.set(h.get() + 1);
            Response::text(big)
        }
    };
    let count = handled.clone();
    serve(handler, HttpServerSettings::default(), move |addr| {
        let mut c = Client::connect(addr);
        let one = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        c.send(&one.repeat(300));
        std::thread::sleep(Duration::from_millis(300));
        // Read three responses so the server can go on a little, then stop.
        for _ in 0..3 {
            assert_eq!(c.read_response().body.len(), 1024 * 1024);
        }
    });
    // Socket buffers hold a few MiB at most: far fewer than 300 were handled.
    assert!(count.get() < 100, "{} requests handled", count.get());
}

/// Upgrades `/echo` to a line-echo protocol with `ResponseWriter::detach`.
struct Upgrader;

struct UpgradeReq;

impl HttpServerConnectionDelegate for Upgrader {
    type Message = UpgradeReq;

    fn start_request(self: Rc<Self>, _request: &HttpServerRequest) -> UpgradeReq {
        UpgradeReq
    }
}

impl HttpMessageDelegate for UpgradeReq {
    async fn finish(self, _request: HttpServerRequest, writer: ResponseWriter) {
        let mut headers = tornado_httpserver::httputil::HttpHeaders::new();
        headers.set("Upgrade", "echo");
        headers.set("Connection", "Upgrade");
        writer
            .write_headers(http::StatusCode::SWITCHING_PROTOCOLS, &headers)
            .unwrap();
        let stream = writer.detach().expect("detach");
        assert!(writer.detach().is_none(), "only once");
        // The new protocol: echo lines until the client closes.
        while let Ok(line) = stream.read_until(b"\n", Some(1024)).await {
            if stream.write(&line).await.is_err() {
                break;
            }
        }
    }
}

#[test]
fn detach_hands_the_stream_to_an_upgraded_protocol() {
    let got = serve(Upgrader, HttpServerSettings::default(), |addr| {
        let mut c = Client::connect(addr);
        // The first line of the new protocol travels with the upgrade request.
        c.send(
            b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nhello\n",
        );
        let head = c.read_head();
        let first = c.read_until(b"\n");
        c.send(b"again\n");
        // Read the echo before closing: an end of file closes the stream, writes too.
        let second = c.read_until(b"\n");
        c.shutdown_write();
        (head, first, second, c.read_to_close())
    });
    let (head, first, second, rest) = got;
    assert_eq!(head.status, 101);
    assert_eq!(head.header("Connection"), Some("Upgrade"));
    assert_eq!(head.header("Upgrade"), Some("echo"));
    assert_eq!(first, b"hello\n");
    assert_eq!(second, b"again\n");
    assert!(rest.is_empty());
}

#[test]
fn the_date_header_moves_on_with_the_clock() {
    // The Date text is cached for the rest of its second; the cache must not outlive it.
    let dates = serve(
        |_req: HttpServerRequest| async { Response::text("ok") },
        HttpServerSettings::default(),
        |addr| {
            let mut c = Client::connect(addr);
            c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
            let first = c.read_response().header("Date").unwrap().to_string();
            std::thread::sleep(Duration::from_millis(1100));
            c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
            let second = c.read_response().header("Date").unwrap().to_string();
            (first, second)
        },
    );
    assert_ne!(dates.0, dates.1);
    let now = tornado_httpserver::httputil::format_timestamp(std::time::SystemTime::now());
    // Same day as now (at midnight this could see the day turn: a one-second window).
    assert_eq!(dates.1[..16], now[..16], "{} vs {now}", dates.1);
}

/// A long-polling handler that waits for the client to go away.
struct LongPoll {
    saw_close: Rc<std::cell::Cell<bool>>,
}

struct LongPollReq {
    saw_close: Rc<std::cell::Cell<bool>>,
}

impl HttpServerConnectionDelegate for LongPoll {
    type Message = LongPollReq;

    fn start_request(self: Rc<Self>, _request: &HttpServerRequest) -> LongPollReq {
        LongPollReq {
            saw_close: self.saw_close.clone(),
        }
    }
}

impl HttpMessageDelegate for LongPollReq {
    async fn finish(self, _request: HttpServerRequest, writer: ResponseWriter) {
        // Nothing to answer yet: wait for news or for the client to leave.
        writer.closed().await;
        assert!(writer.connection_closed());
        self.saw_close.set(true);
    }
}

#[test]
fn a_long_polling_handler_learns_that_its_client_left() {
    let saw_close = Rc::new(std::cell::Cell::new(false));
    let delegate = LongPoll {
        saw_close: saw_close.clone(),
    };
    let outcome = common::run(async move {
        let server = tornado_httpserver::HttpServer::new(delegate);
        server.listen(0, Some("127.0.0.1")).unwrap();
        let addr = server.local_addrs()[0];
        let client = common::in_thread(move || {
            let mut c = Client::connect(addr);
            c.send(b"GET /poll HTTP/1.1\r\nHost: x\r\n\r\n");
            std::thread::sleep(Duration::from_millis(100));
            drop(c);
        })
        .await;
        // The handler ends once it sees the close; the connection then goes away.
        for _ in 0..200 {
            if server.connection_count() == 0 {
                break;
            }
            tornado_gen::sleep(Duration::from_millis(10)).await;
        }
        let left = server.connection_count();
        server.stop();
        (client, left)
    });
    common::unwrap_thread(outcome.0);
    assert_eq!(outcome.1, 0, "the connection ended");
    assert!(saw_close.get(), "the handler saw the client leave");
}

#[test]
fn pipelined_requests_then_a_half_close_are_all_answered() {
    let handler = |req: HttpServerRequest| async move {
        if req.path() == "/slow" {
            tornado_gen::sleep(Duration::from_millis(200)).await;
        }
        Response::text(req.path().to_string())
    };
    serve(handler, HttpServerSettings::default(), |addr| {
        let mut c = Client::connect(addr);
        c.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
        c.shutdown_write();
        let slow = c.read_response();
        let fast = c.read_response();
        assert_eq!(slow.body, b"/slow");
        assert_eq!(fast.body, b"/fast");
    });
}
