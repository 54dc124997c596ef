//! Bugs found by a review of the new connection driver, each reproduced over a real
//! socket (the test names keep the review's wording).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use common::{Client, in_thread, run, serve, unwrap_thread};
use http::StatusCode;
use tornado_httpserver::httputil::{HttpHeaders, HttpServerRequest};
use tornado_httpserver::{
    BodyMode, HttpMessageDelegate, HttpServer, HttpServerConnectionDelegate, HttpServerSettings,
    Response, ResponseWriter,
};

/// A client that never reads a response the socket could not take at once: when
/// fewer than `chunk_size` bytes are left queued, the connection waits for the socket
/// in `flush_before_wait` with no deadline armed (phase Busy, so the idle sweep skips
/// it too), and it is never closed, although `idle_connection_timeout` has passed
/// many times over.
#[test]
fn review_slow_reader_with_less_than_chunk_size_queued_is_never_timed_out() {
    let open_after = unwrap_thread(run(async {
        let mut settings = HttpServerSettings {
            idle_connection_timeout: Some(Duration::from_millis(200)),
            ..Default::default()
        };
        // Whatever the socket does not take stays queued below chunk_size.
        settings.params.chunk_size = 256 * 1024 * 1024;
        let server = HttpServer::with_settings(
            |_req: HttpServerRequest| async { Response::text(vec![b'x'; 32 << 20]) },
            settings,
        );
        server.listen(0, Some("127.0.0.1")).unwrap();
        let addr = server.local_addrs()[0];
        let client = in_thread(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            // Never read; keep the socket open well past the idle timeout.
            std::thread::sleep(Duration::from_millis(2000));
            s
        })
        .await;
        let open = server.connection_count();
        drop(client);
        server.stop();
        Ok::<usize, Box<dyn std::any::Any + Send>>(open)
    }));
    assert_eq!(
        open_after, 0,
        "a connection stuck writing to a peer that never reads outlived idle_connection_timeout (200 ms) tenfold"
    );
}

/// Streams its body; each piece takes `pause` to handle (a slow consumer downstream).
struct SlowSink {
    pause: Duration,
}

struct SlowPiece {
    pause: Duration,
    bytes: usize,
}

impl HttpServerConnectionDelegate for SlowSink {
    type Message = SlowPiece;
    fn start_request(self: Rc<Self>, _request: &HttpServerRequest) -> SlowPiece {
        SlowPiece {
            pause: self.pause,
            bytes: 0,
        }
    }
}

impl HttpMessageDelegate for SlowPiece {
    fn body_mode(&self) -> BodyMode {
        BodyMode::Stream
    }
    async fn data_received(&mut self, chunk: Bytes) {
        self.bytes += chunk.len();
        tornado_gen::sleep(self.pause).await;
    }
    async fn finish(self, _request: HttpServerRequest, writer: ResponseWriter) {
        writer.send(Response::text(format!("got {}", self.bytes)));
    }
}

/// `body_timeout` is documented as "the longest pause while a body arrives: a body that
/// makes no progress for this long". The client here sends its whole body promptly;
/// the pause is the server's own delegate (flow control). The deadline set before the
/// read that produced a piece stays armed while `data_received` runs, so the
/// connection is closed under the handler instead.
#[test]
fn review_body_timeout_fires_while_the_delegate_handles_a_piece() {
    let mut settings = HttpServerSettings::default();
    settings.params.body_timeout = Some(Duration::from_millis(200));
    let delegate = SlowSink {
        pause: Duration::from_millis(700),
    };
    serve(delegate, settings, |addr| {
        let mut c = Client::connect(addr);
        c.send(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n");
        // The body follows a moment later (a second read), in full.
        std::thread::sleep(Duration::from_millis(50));
        c.send(b"0123456789");
        let mut got = Vec::new();
        let _ = c.stream.read_to_end(&mut got);
        let text = String::from_utf8_lossy(&got).into_owned();
        assert!(
            text.starts_with("HTTP/1.1 200 OK\r\n") && text.ends_with("got 10"),
            "the client never paused, yet got {text:?}"
        );
    });
}

/// Takes the stream over (an upgrade) and then waits on something other than the
/// stream, as a WebSocket handler waiting for a message to push does.
struct Upgrader;
struct Upgrade;

impl HttpServerConnectionDelegate for Upgrader {
    type Message = Upgrade;
    fn start_request(self: Rc<Self>, _request: &HttpServerRequest) -> Upgrade {
        Upgrade
    }
}

impl HttpMessageDelegate for Upgrade {
    async fn finish(self, _request: HttpServerRequest, writer: ResponseWriter) {
        let mut h = HttpHeaders::new();
        h.set("Upgrade", "x");
        h.set("Connection", "Upgrade");
        writer
            .write_headers(StatusCode::SWITCHING_PROTOCOLS, &h)
            .unwrap();
        let _stream = writer.detach().expect("detach");
        std::future::pending::<()>().await;
    }
}

/// Graceful shutdown promises to "force-close what is still open after `grace`" and
/// resolve. A detached connection's handler future is neither dropped at the deadline
/// (as a non-detached one is) nor forgotten (as Tornado forgets a detached
/// connection), so `shutdown` polls every 10 ms forever.
#[test]
fn review_shutdown_never_resolves_with_a_detached_handler() {
    let resolved = unwrap_thread(run(async {
        let server = HttpServer::new(Upgrader);
        server.listen(0, Some("127.0.0.1")).unwrap();
        let addr = server.local_addrs()[0];
        let client = in_thread(move || {
            let mut c = Client::connect(addr);
            c.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n");
            let r = c.read_head();
            assert_eq!(r.status, 101);
            c
        })
        .await;
        let resolved = tornado_gen::with_timeout(
            Duration::from_secs(3),
            server.shutdown(Duration::from_millis(200)),
        )
        .await
        .is_ok();
        drop(client);
        Ok::<bool, Box<dyn std::any::Any + Send>>(resolved)
    }));
    assert!(resolved, "shutdown(200 ms) still pending after 3 s");
}

/// `idle_connection_timeout` closes a connection that *sends nothing*; it is not a
/// limit on how long a response may take to download. When a response leaves more
/// than `chunk_size` queued, `run()` arms the idle deadline once and awaits the whole
/// flush: a client that reads steadily, just slower than the timeout allows for the
/// whole body, gets a truncated response.
fn slow_download(keep_alive: bool) {
    const BODY: usize = 16 << 20;
    let settings = HttpServerSettings {
        idle_connection_timeout: Some(Duration::from_secs(1)),
        ..Default::default()
    };
    serve(
        |_req: HttpServerRequest| async { Response::text(vec![b'x'; BODY]) },
        settings,
        move |addr| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let req: &[u8] = if keep_alive {
                b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
            } else {
                b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            };
            s.write_all(req).unwrap();
            // A steady reader: 256 KiB every 20 ms (about 12 MiB/s), never idle for
            // long, but slower than the whole body in one idle timeout. (Progress is
            // what the kernel accepts, which comes in bursts as the socket buffers
            // drain: the timeout must be longer than a burst takes.)
            let mut got = 0usize;
            let mut buf = vec![0u8; 256 * 1024];
            while got <= BODY {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got += n,
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            assert!(
                got > BODY,
                "keep_alive={keep_alive}: response cut after {got} bytes of {BODY} (+ head) while the client kept reading"
            );
        },
    );
}

#[test]
fn review_idle_timeout_cuts_a_response_that_is_still_being_read() {
    // Connection: close: finish_and_close arms the idle deadline once, then flushes.
    slow_download(false);
}

#[test]
fn review_idle_timeout_cuts_a_keep_alive_response_that_is_still_being_read() {
    // Keep-alive: run() arms the idle deadline once when >= chunk_size is queued.
    slow_download(true);
}

/// Panics in `start_request`.
struct PanicsOnStart;
struct Never;

impl HttpServerConnectionDelegate for PanicsOnStart {
    type Message = Never;
    fn start_request(self: Rc<Self>, _request: &HttpServerRequest) -> Never {
        panic!("boom in start_request");
    }
}

impl HttpMessageDelegate for Never {
    async fn finish(self, _request: HttpServerRequest, _writer: ResponseWriter) {}
}

/// After a panic in `start_request` (or `body_mode`) on a request without a body the
/// server answers 500 and closes, but the 500 does not say `Connection: close`: the
/// state machine saw a keep-alive request and `send_internal_error` does not ask it to
/// close, while the dispatch (`begin`) says the connection does not go on. A
/// keep-alive client takes the connection back to its pool and its next request meets
/// a closed socket.
#[test]
fn review_500_after_a_start_request_panic_says_connection_close() {
    serve(PanicsOnStart, HttpServerSettings::default(), |addr| {
        let mut c = Client::connect(addr);
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let r = c.read_response();
        assert_eq!(r.status, 500);
        let rest = c.read_to_close();
        assert!(rest.is_empty());
        assert_eq!(
            r.header("Connection"),
            Some("close"),
            "the server closed after a response that promised keep-alive: {:?}",
            r.head
        );
    });
}
