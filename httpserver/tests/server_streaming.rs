//! Per-request choice to stream or buffer a body, several waiters for a client's
//! disconnect, long polls cancelled when their client leaves, and the drain after an
//! error response.

mod common;

use std::cell::Cell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use common::{Client, serve};
use tornado_httpserver::httputil::HttpServerRequest;
use tornado_httpserver::{
    BodyMode, HttpMessageDelegate, HttpServer, HttpServerConnectionDelegate, HttpServerSettings,
    Response, ResponseWriter,
};

/// Streams bodies sent to `/upload` (counting pieces, with a flow-control pause);
/// buffers every other request's body.
struct Uploads;

struct Upload {
    stream: bool,
    pieces: usize,
    bytes: usize,
}

impl HttpServerConnectionDelegate for Uploads {
    type Message = Upload;

    fn start_request(self: Rc<Self>, request: &HttpServerRequest) -> Upload {
        assert!(request.body.is_empty(), "the head comes before the body");
        Upload {
            stream: request.path() == "/upload",
            pieces: 0,
            bytes: 0,
        }
    }
}

impl HttpMessageDelegate for Upload {
    fn body_mode(&self) -> BodyMode {
        if self.stream {
            BodyMode::Stream
        } else {
            BodyMode::Buffer
        }
    }

    async fn data_received(&mut self, chunk: Bytes) {
        self.pieces += 1;
        self.bytes += chunk.len();
        // Flow control: the server reads no more until this is done.
        tornado_gen::sleep(Duration::from_millis(1)).await;
    }

    async fn finish(self, request: HttpServerRequest, writer: ResponseWriter) {
        let text = if self.stream {
            format!(
                "streamed {} bytes in {} pieces; body {}",
                self.bytes,
                self.pieces,
                request.body.len()
            )
        } else {
            let a = request
                .body_arguments()
                .get("a")
                .map(|v| String::from_utf8_lossy(&v[0]).into_owned())
                .unwrap_or_default();
            format!("buffered {} bytes; a={a}", request.body.len())
        };
        writer.send(Response::text(text));
    }
}

#[test]
fn each_request_chooses_to_stream_or_buffer() {
    let mut settings = HttpServerSettings::default();
    settings.params.chunk_size = 1000;
    serve(Uploads, settings, |addr| {
        let mut c = Client::connect(addr);
        let body = vec![b'x'; 10_000];
        let mut req = b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\n".to_vec();
        req.extend_from_slice(&body);
        c.send(&req);
        let r = c.read_response();
        let text = r.text();
        assert!(text.starts_with("streamed 10000 bytes in "), "{text}");
        let pieces: usize = text["streamed 10000 bytes in ".len()..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(pieces >= 10, "pieces of at most chunk_size: {text}");
        assert!(text.ends_with("body 0"), "{text}");

        // The same connection, a buffered form body: arguments are parsed.
        c.send(b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n3\r\na=1\r\n2\r\n23\r\n0\r\n\r\n");
        assert_eq!(c.read_response().text(), "buffered 5 bytes; a=123");
    });
}

/// Refuses every upload from its head, before any body: the response goes out at
/// once, with no `100 Continue`, and the body is never read.
struct Refuser;

struct Refusal {
    pieces: Rc<Cell<usize>>,
}

impl HttpServerConnectionDelegate for Refuser {
    type Message = Refusal;

    fn start_request(self: Rc<Self>, _request: &HttpServerRequest) -> Refusal {
        Refusal {
            pieces: Rc::new(Cell::new(0)),
        }
    }
}

impl HttpMessageDelegate for Refusal {
    fn body_mode(&self) -> BodyMode {
        BodyMode::Stream
    }

    async fn headers_received(&mut self, writer: &ResponseWriter) {
        writer.send(Response::new(http::StatusCode::PAYLOAD_TOO_LARGE));
    }

    async fn data_received(&mut self, _chunk: Bytes) {
        self.pieces.set(self.pieces.get() + 1);
    }

    async fn finish(self, _request: HttpServerRequest, writer: ResponseWriter) {
        assert_eq!(self.pieces.get(), 0, "no body after a refusal");
        assert!(writer.is_finished());
    }
}

#[test]
fn a_streaming_delegate_refuses_the_body_from_the_head() {
    serve(Refuser, HttpServerSettings::default(), |addr| {
        let mut c = Client::connect(addr);
        c.send(
            b"PUT /big HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\
              Content-Length: 1000000\r\n\r\n",
        );
        // The refusal, not `100 Continue`, and the connection closes after it.
        let r = c.read_response();
        assert_eq!(r.status, 413, "{:?}", r.text());
        assert_eq!(r.header("Connection"), Some("close"));
    });
}

/// A long poll: waits for news that never comes. Counts the tasks that saw the client
/// leave and whether the handler was dropped.
struct LongPoll {
    woken: Rc<Cell<usize>>,
    dropped: Rc<Cell<bool>>,
}

struct Poll {
    woken: Rc<Cell<usize>>,
    dropped: Rc<Cell<bool>>,
}

impl HttpServerConnectionDelegate for LongPoll {
    type Message = Poll;

    fn start_request(self: Rc<Self>, _request: &HttpServerRequest) -> Poll {
        Poll {
            woken: self.woken.clone(),
            dropped: self.dropped.clone(),
        }
    }
}

struct SetOnDrop(Rc<Cell<bool>>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

impl HttpMessageDelegate for Poll {
    async fn finish(self, _request: HttpServerRequest, writer: ResponseWriter) {
        let _guard = SetOnDrop(self.dropped.clone());
        // Two other tasks wait for the same disconnect.
        for _ in 0..2 {
            let w = writer.clone();
            let woken = self.woken.clone();
            tornado_ioloop::IoLoop::current().spawn_callback(async move {
                w.closed().await;
                woken.set(woken.get() + 1);
            });
        }
        // The handler itself waits for news that never comes: it is cancelled.
        std::future::pending::<()>().await;
    }
}

#[test]
fn several_tasks_learn_that_the_client_left_and_the_long_poll_is_cancelled() {
    let woken = Rc::new(Cell::new(0));
    let dropped = Rc::new(Cell::new(false));
    let delegate = LongPoll {
        woken: woken.clone(),
        dropped: dropped.clone(),
    };
    let left = common::run(async move {
        let server = HttpServer::new(delegate);
        server.listen(0, Some("127.0.0.1")).unwrap();
        let addr = server.local_addrs()[0];
        let client = common::in_thread(move || {
            let mut c = Client::connect(addr);
            c.send(b"GET /poll HTTP/1.1\r\nHost: x\r\n\r\n");
            std::thread::sleep(Duration::from_millis(100));
            drop(c);
        })
        .await;
        common::unwrap_thread(client);
        for _ in 0..500 {
            if server.connection_count() == 0 {
                break;
            }
            tornado_gen::sleep(Duration::from_millis(10)).await;
        }
        // Let the waiting tasks run.
        tornado_gen::sleep(Duration::from_millis(20)).await;
        let left = server.connection_count();
        server.stop();
        left
    });
    assert_eq!(left, 0, "the connection ended");
    assert_eq!(woken.get(), 2, "both waiting tasks woke");
    assert!(dropped.get(), "the pending handler was dropped");
}

#[test]
fn an_error_response_is_read_before_the_close_while_the_client_still_sends() {
    let mut settings = HttpServerSettings::default();
    settings.params.max_body_size = 1024;
    let (status_line, rest_len) = serve(common::echo, settings, |addr| {
        let stream = std::net::TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(common::IO_TIMEOUT)).unwrap();
        let mut writer = stream.try_clone().unwrap();
        // A body far over the limit, still being sent when the server answers 413.
        let sender = std::thread::spawn(move || {
            let _ = writer
                .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
            let chunk = format!("{:x}\r\n{}\r\n", 4096, "y".repeat(4096));
            for _ in 0..64 {
                if writer.write_all(chunk.as_bytes()).is_err() {
                    break;
                }
            }
        });
        let mut reader = stream;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => panic!("read failed after {} bytes: {e}", got.len()),
            }
        }
        let _ = sender.join();
        let text = String::from_utf8_lossy(&got).into_owned();
        let line = text.lines().next().unwrap_or("").to_string();
        (line, got.len())
    });
    assert_eq!(status_line, "HTTP/1.1 413 Payload Too Large");
    assert!(rest_len > 0);
}
