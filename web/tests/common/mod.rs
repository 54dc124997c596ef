//! Helpers shared by the integration tests: a raw HTTP/1.1 client over an
//! [`IoStream`] (for the bytes a real client would hide: framing, HEAD, chunks,
//! pipelining, a client that leaves) and a logger that keeps the records of the
//! test's own thread.
#![allow(dead_code)]

use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::Once;

use tornado_iostream::IoStream;

/// One response as it came off the wire.
#[derive(Debug)]
pub struct RawResponse {
    /// The status line and header lines, without the blank line.
    pub head: String,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// The chunks of a chunked body, as they were framed.
    pub chunks: Option<Vec<Vec<u8>>>,
}

impl RawResponse {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name`.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("a UTF-8 body")
    }
}

/// A client that writes raw bytes and reads responses one by one. Reads have no
/// timeout of their own: `testing::run` bounds the whole test.
pub struct RawClient {
    pub stream: IoStream,
}

impl RawClient {
    pub async fn connect(addr: SocketAddr) -> RawClient {
        let stream = IoStream::connect(addr)
            .await
            .expect("connect to the server");
        RawClient { stream }
    }

    pub async fn send(&self, bytes: &[u8]) {
        self.stream.write(bytes).await.expect("write the request");
    }

    /// `GET path` with `extra` header lines (each ending in CRLF).
    pub async fn request(&self, method: &str, path: &str, extra: &str) {
        let req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n");
        self.send(req.as_bytes()).await;
    }

    /// Reads the status line and headers.
    pub async fn read_head(&self) -> RawResponse {
        let head = self
            .stream
            .read_until(b"\r\n\r\n", Some(64 * 1024))
            .await
            .expect("a response head");
        let head = String::from_utf8(head[..head.len() - 4].to_vec()).expect("an ASCII head");
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let mut parts = status_line.splitn(3, ' ');
        assert_eq!(parts.next(), Some("HTTP/1.1"), "{status_line:?}");
        let status = parts
            .next()
            .and_then(|s| s.parse().ok())
            .expect("a status code");
        let reason = parts.next().unwrap_or("").to_owned();
        let headers = lines
            .map(|l| {
                let (n, v) = l.split_once(':').expect("a header line");
                (n.trim().to_owned(), v.trim().to_owned())
            })
            .collect();
        RawResponse {
            head,
            status,
            reason,
            headers,
            body: Vec::new(),
            chunks: None,
        }
    }

    /// Reads one chunk of a chunked body: `None` for the last (empty) one.
    pub async fn read_chunk(&self) -> Option<Vec<u8>> {
        let line = self
            .stream
            .read_until(b"\r\n", Some(1024))
            .await
            .expect("a chunk size line");
        let size_text = std::str::from_utf8(&line[..line.len() - 2]).expect("ASCII");
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .expect("a hex chunk size");
        let data = self
            .stream
            .read_bytes(size + 2, false)
            .await
            .expect("chunk data");
        assert_eq!(&data[size..], b"\r\n", "chunk data ends with CRLF");
        (size > 0).then(|| data[..size].to_vec())
    }

    /// Reads a whole response; `bodiless` for a response to HEAD (or a 204/304),
    /// whose headers describe a body that is not sent.
    pub async fn read_response(&self, bodiless: bool) -> RawResponse {
        let mut r = self.read_head().await;
        if bodiless || r.status == 204 || r.status == 304 || r.status < 200 {
            return r;
        }
        if r.header("Transfer-Encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            let mut chunks = Vec::new();
            while let Some(c) = self.read_chunk().await {
                r.body.extend_from_slice(&c);
                chunks.push(c);
            }
            r.chunks = Some(chunks);
        } else if let Some(len) = r.header("Content-Length") {
            let len: usize = len.parse().expect("a numeric Content-Length");
            if len > 0 {
                r.body = self
                    .stream
                    .read_bytes(len, false)
                    .await
                    .expect("the body")
                    .to_vec();
            }
        } else {
            r.body = self
                .stream
                .read_until_close()
                .await
                .expect("the body")
                .to_vec();
        }
        r
    }

    /// Whatever arrives until the server closes the connection.
    pub async fn read_to_close(&self) -> Vec<u8> {
        self.stream
            .read_until_close()
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default()
    }
}

/// A log record kept by [`CaptureLogger`].
#[derive(Debug, Clone)]
pub struct Record {
    pub level: log::Level,
    pub target: String,
    pub message: String,
}

thread_local! {
    static RECORDS: RefCell<Vec<Record>> = const { RefCell::new(Vec::new()) };
}

/// Keeps the records logged on each thread for that thread (each test runs its loop
/// on its own thread, so tests running side by side do not see each other's).
struct CaptureLogger;

impl log::Log for CaptureLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let r = Record {
            level: record.level(),
            target: record.target().to_owned(),
            message: record.args().to_string(),
        };
        RECORDS.with(|v| v.borrow_mut().push(r));
    }
    fn flush(&self) {}
}

static LOGGER: CaptureLogger = CaptureLogger;
static INSTALL: Once = Once::new();

/// Starts capturing this thread's log records (and forgets earlier ones).
pub fn capture_logs() {
    INSTALL.call_once(|| {
        let _ = log::set_logger(&LOGGER);
        log::set_max_level(log::LevelFilter::Trace);
    });
    RECORDS.with(|v| v.borrow_mut().clear());
}

/// The records this thread logged since [`capture_logs`].
pub fn logs() -> Vec<Record> {
    RECORDS.with(|v| v.borrow().clone())
}
