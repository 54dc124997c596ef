//! Shared helpers for the socket-level server tests: a server on a fresh loop on the
//! test thread, a blocking raw-bytes client on a helper thread, and a small response
//! reader that keeps the bytes as they came off the wire.
//!
//! Every wait is bounded: the loop by [`TIMEOUT`], each client read by
//! [`IO_TIMEOUT`], so a bug fails the test instead of hanging it.
#![allow(dead_code)]

use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use tornado_httpserver::httputil::HttpServerRequest;
use tornado_httpserver::{HttpServer, HttpServerConnectionDelegate, HttpServerSettings, Response};
use tornado_ioloop::IoLoop;

/// The most a whole test may take on its loop.
pub const TIMEOUT: Duration = Duration::from_secs(20);
/// The most one client read or write may block.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the loop checks whether a client thread has finished.
const POLL: Duration = Duration::from_millis(5);

/// Runs `f` to completion on a fresh loop, failing the test after [`TIMEOUT`].
pub fn run<F: Future + 'static>(f: F) -> F::Output {
    IoLoop::new()
        .expect("new loop")
        .run_sync_timeout(f, TIMEOUT)
        .expect("test timed out")
}

/// Runs `f` on a new thread while this loop keeps turning; resolves to its result
/// (a panic in `f` comes back as `Err`, to be re-raised outside the loop).
pub async fn in_thread<R, F>(f: F) -> std::thread::Result<R>
where
    R: Send + 'static,
    F: FnOnce() -> R + Send + 'static,
{
    let handle = std::thread::spawn(f);
    while !handle.is_finished() {
        tornado_gen::sleep(POLL).await;
    }
    handle.join()
}

/// Re-raises a client thread's panic on the test thread.
pub fn unwrap_thread<R>(r: std::thread::Result<R>) -> R {
    match r {
        Ok(v) => v,
        Err(p) => std::panic::resume_unwind(p),
    }
}

/// Serves `delegate` with `settings` on 127.0.0.1, port 0, and runs `client` with the
/// server's address on a helper thread; returns what `client` returns.
pub fn serve<D, C, R>(delegate: D, settings: HttpServerSettings, client: C) -> R
where
    D: HttpServerConnectionDelegate,
    C: FnOnce(SocketAddr) -> R + Send + 'static,
    R: Send + 'static,
{
    unwrap_thread(run(async move {
        let server = HttpServer::with_settings(delegate, settings);
        server.listen(0, Some("127.0.0.1")).expect("listen");
        let addr = server.local_addrs()[0];
        let result = in_thread(move || client(addr)).await;
        server.stop();
        result
    }))
}

/// [`serve`] with [`echo`] and default settings.
pub fn serve_echo<C, R>(client: C) -> R
where
    C: FnOnce(SocketAddr) -> R + Send + 'static,
    R: Send + 'static,
{
    serve(echo, HttpServerSettings::default(), client)
}

/// A handler that describes the request it got, one `key=value` line each, with the
/// arguments and files sorted so tests can compare text.
pub async fn echo(req: HttpServerRequest) -> Response {
    let mut out = String::new();
    out.push_str(&format!("method={}\n", req.method()));
    out.push_str(&format!("path={}\n", req.path()));
    out.push_str(&format!("query={}\n", req.query()));
    out.push_str(&format!("version={:?}\n", req.version()));
    out.push_str(&format!(
        "remote_ip={}\n",
        req.remote_ip
            .as_ref()
            .map_or_else(|| "-".to_string(), |ip| ip.to_string())
    ));
    out.push_str(&format!("protocol={}\n", req.protocol));
    out.push_str(&format!("host={}\n", req.host()));
    out.push_str(&format!("body_len={}\n", req.body.len()));
    let mut args: Vec<_> = req.arguments().iter().collect();
    args.sort();
    for (name, values) in args {
        for v in values {
            out.push_str(&format!("arg:{name}={}\n", String::from_utf8_lossy(v)));
        }
    }
    let mut files: Vec<_> = req.files().iter().collect();
    files.sort_by(|a, b| a.0.cmp(b.0));
    for (name, list) in files {
        for f in list {
            out.push_str(&format!(
                "file:{name}={}:{}:{}\n",
                f.filename,
                f.content_type,
                String::from_utf8_lossy(&f.body)
            ));
        }
    }
    out.push_str("body=");
    out.push_str(&String::from_utf8_lossy(&req.body));
    Response::text(out)
}

/// One response as read off the wire.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// The status line and headers, exactly as sent (blank line included).
    pub head: String,
    /// The header lines, in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// Whether the body was chunked.
    pub chunked: bool,
}

impl RawResponse {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The value of a `key=value` line of an [`echo`] body.
    pub fn field(&self, key: &str) -> Option<String> {
        let prefix = format!("{key}=");
        self.text()
            .lines()
            .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
    }
}

/// A blocking client over one TCP connection that reads responses by their framing and
/// keeps whatever it read beyond them.
pub struct Client {
    /// The socket.
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    /// Connects with [`IO_TIMEOUT`] on reads and writes.
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        Client::from_stream(stream)
    }

    /// Wraps a connected stream.
    pub fn from_stream(stream: TcpStream) -> Client {
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    /// Writes all of `data` in one call.
    pub fn send(&mut self, data: &[u8]) {
        self.stream.write_all(data).expect("write request");
    }

    /// Writes `data`, ignoring errors (the server may already have answered and closed).
    pub fn send_lossy(&mut self, data: &[u8]) {
        let _ = self.stream.write_all(data);
    }

    /// Closes the sending half.
    pub fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// One `read` call, appended to the buffer; 0 at EOF (or a reset). Panics on
    /// timeout.
    fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 64 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                n
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => 0,
            Err(e) => panic!(
                "read failed ({e}); got so far: {:?}",
                String::from_utf8_lossy(&self.buf)
            ),
        }
    }

    /// What one `read` returns (after anything already buffered). Panics on timeout.
    pub fn read_once(&mut self) -> Vec<u8> {
        if self.buf.is_empty() {
            self.fill();
        }
        std::mem::take(&mut self.buf)
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        self.buf.drain(..n).collect()
    }

    /// Reads until `delim`, which must arrive; returns everything up to and including it.
    pub fn read_until(&mut self, delim: &[u8]) -> Vec<u8> {
        loop {
            if let Some(i) = find(&self.buf, delim) {
                return self.take(i + delim.len());
            }
            if self.fill() == 0 {
                panic!(
                    "connection closed before {:?}; got {:?}",
                    String::from_utf8_lossy(delim),
                    String::from_utf8_lossy(&self.buf)
                );
            }
        }
    }

    fn read_exact_n(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            if self.fill() == 0 {
                panic!(
                    "connection closed with {} of {n} body bytes",
                    self.buf.len()
                );
            }
        }
        self.take(n)
    }

    /// Reads a status line and headers.
    pub fn read_head(&mut self) -> RawResponse {
        let raw = self.read_until(b"\r\n\r\n");
        let head = String::from_utf8(raw).expect("response head is UTF-8");
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        assert!(
            status_line.starts_with("HTTP/1.1 "),
            "bad status line {status_line:?}"
        );
        let status = status_line
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let headers = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (n, v) = l
                    .split_once(':')
                    .unwrap_or_else(|| panic!("bad header {l:?}"));
                (n.to_string(), v.trim().to_string())
            })
            .collect();
        RawResponse {
            status,
            head,
            headers,
            body: Vec::new(),
            chunked: false,
        }
    }

    /// Reads one response to a request that was not `HEAD`.
    pub fn read_response(&mut self) -> RawResponse {
        self.read_response_to(false)
    }

    /// Reads one response; `head_request` says it answers a `HEAD` (no body follows).
    /// Skips nothing: a `100 Continue` is returned as a response of its own.
    pub fn read_response_to(&mut self, head_request: bool) -> RawResponse {
        let mut r = self.read_head();
        let bodyless = head_request || r.status < 200 || r.status == 204 || r.status == 304;
        if bodyless {
            return r;
        }
        if let Some(te) = r.header("Transfer-Encoding") {
            assert_eq!(te, "chunked", "unexpected Transfer-Encoding");
            assert!(
                r.header("Content-Length").is_none(),
                "both Content-Length and Transfer-Encoding in {:?}",
                r.head
            );
            r.chunked = true;
            loop {
                let line = self.read_until(b"\r\n");
                let size_text = String::from_utf8_lossy(&line[..line.len() - 2]).into_owned();
                let size = usize::from_str_radix(size_text.trim(), 16)
                    .unwrap_or_else(|_| panic!("bad chunk size line {size_text:?}"));
                if size == 0 {
                    let end = self.read_until(b"\r\n");
                    assert_eq!(end, b"\r\n", "trailers are not expected");
                    break;
                }
                let data = self.read_exact_n(size + 2);
                assert_eq!(&data[size..], b"\r\n", "chunk data not followed by CRLF");
                r.body.extend_from_slice(&data[..size]);
            }
        } else if let Some(len) = r.header("Content-Length") {
            let n: usize = len.parse().expect("numeric Content-Length");
            r.body = self.read_exact_n(n);
        } else {
            r.body = self.read_to_close();
        }
        r
    }

    /// Reads until the server closes; returns what came (buffered bytes included).
    /// Panics if the connection is still open after [`IO_TIMEOUT`].
    pub fn read_to_close(&mut self) -> Vec<u8> {
        while self.fill() > 0 {}
        std::mem::take(&mut self.buf)
    }

    /// Asserts that the server closes the connection with nothing more to say.
    pub fn expect_closed(&mut self) {
        let rest = self.read_to_close();
        assert!(
            rest.is_empty(),
            "expected the connection to close, got {:?}",
            String::from_utf8_lossy(&rest)
        );
    }

    /// Asserts that nothing arrives and the connection stays open for `wait`.
    pub fn expect_silent(&mut self, wait: Duration) {
        assert!(self.buf.is_empty(), "unexpected bytes {:?}", self.buf);
        self.stream.set_read_timeout(Some(wait)).unwrap();
        let mut b = [0u8; 1024];
        let r = self.stream.read(&mut b);
        self.stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        match r {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Ok(0) => panic!("connection closed unexpectedly"),
            Ok(n) => panic!("unexpected bytes {:?}", String::from_utf8_lossy(&b[..n])),
            Err(e) => panic!("read failed: {e}"),
        }
    }
}

/// Position of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A plain `GET` with a `Host`.
pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").into_bytes()
}
