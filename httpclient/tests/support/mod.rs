//! Shared helpers for the client's integration tests: a loop with a hard
//! timeout, an [`HttpServer`] with the routes Tornado's client tests use,
//! and a raw-socket server on threads for exact bytes.
//!
//! Every wait is bounded: the loop by [`TIMEOUT`], each raw socket read or
//! write by [`IO_TIMEOUT`], so a bug fails a test instead of hanging it.
//! Everything listens on 127.0.0.1, port 0.
#![allow(dead_code)]

use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use http::StatusCode;
use tornado_httpserver::httputil::HttpServerRequest;
use tornado_httpserver::{HttpServer, HttpServerConnectionDelegate, Response};
use tornado_ioloop::IoLoop;
use tornado_iostream::netutil::{AddressFamily, ResolveFuture, Resolver};

/// The most a whole test may take on its loop.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// The most one raw socket read or write may block.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `f` on a fresh loop, failing the test after [`TIMEOUT`].
pub fn run<F: Future + 'static>(f: F) -> F::Output {
    IoLoop::new()
        .expect("new loop")
        .run_sync_timeout(f, TIMEOUT)
        .expect("test timed out")
}

/// A resolver whose answer never comes, so nothing is ever contacted: for
/// connect timeouts, and as the fallback of an `OverrideResolver` that
/// must answer only what it was told.
pub struct NeverResolver;

impl Resolver for NeverResolver {
    fn resolve(&self, _host: &str, _port: u16, _family: AddressFamily) -> ResolveFuture {
        Box::pin(std::future::pending())
    }
}

/// Serves `delegate` on 127.0.0.1, port 0, on the current loop; returns the
/// server and its base URL (`http://127.0.0.1:PORT`).
pub fn serve<D: HttpServerConnectionDelegate>(delegate: D) -> (HttpServer, String) {
    let server = HttpServer::new(delegate);
    server.listen(0, Some("127.0.0.1")).expect("listen");
    let base = format!("http://{}", server.local_addrs()[0]);
    (server, base)
}

/// [`serve`] with [`app`].
pub fn serve_app() -> (HttpServer, String) {
    serve(app)
}

/// The first value of query argument `name`.
pub fn query_arg(req: &HttpServerRequest, name: &str) -> Option<String> {
    req.query_arguments()
        .get(name)
        .and_then(|v| v.first())
        .map(|b| String::from_utf8_lossy(b).into_owned())
}

/// The routes of Tornado's client tests:
///
/// - `/hello`: `Hello world!`
/// - `/echo`: JSON `{"method", "body", "headers"}` of the request (the last
///   value of a repeated header wins)
/// - `/method`: the method as the body
/// - `/auth`: the `Authorization` header, or nothing
/// - `/user_agent`: the `User-Agent` header
/// - `/host`: the `Host` header
/// - `.../redirect?url=U&status=N`: status N (302 by default) to `U`, with
///   the body `redirect N`
/// - `/countdown/N`: 302 to `/countdown/N-1`, `Zero` at 0
/// - `/status/N`: status N with the body `status N`
/// - `/where/...`: the request target
pub async fn app(req: HttpServerRequest) -> Response {
    let path = req.path().to_owned();
    if path.ends_with("/redirect") {
        let status = query_arg(&req, "status")
            .and_then(|s| s.parse().ok())
            .unwrap_or(302);
        let mut response = Response::new(StatusCode::from_u16(status).expect("status"))
            .with_body(format!("redirect {status}"));
        if let Some(url) = query_arg(&req, "url") {
            response = response.with_header("Location", &url);
        }
        return response;
    }
    if let Some(n) = path.strip_prefix("/countdown/") {
        let n: u32 = n.parse().expect("countdown number");
        return if n == 0 {
            Response::text("Zero")
        } else {
            Response::new(StatusCode::FOUND)
                .with_header("Location", &format!("/countdown/{}", n - 1))
        };
    }
    if let Some(n) = path.strip_prefix("/status/") {
        let code = StatusCode::from_u16(n.parse().expect("status number")).expect("status");
        return Response::text(format!("status {n}")).with_status(code);
    }
    if path.starts_with("/where/") {
        return Response::text(req.uri().to_owned());
    }
    let header = |name: &str| req.headers().get(name).unwrap_or_default().to_owned();
    match path.as_str() {
        "/hello" => Response::text("Hello world!"),
        "/echo" => {
            let mut headers = serde_json::Map::new();
            for (name, value) in req.headers().iter() {
                headers.insert(name.to_owned(), value.into());
            }
            let json = serde_json::json!({
                "method": req.method().as_str(),
                "body": String::from_utf8_lossy(&req.body),
                "headers": headers,
            });
            Response::text(json.to_string()).with_header("Content-Type", "application/json")
        }
        "/method" => Response::text(req.method().as_str().to_owned()),
        "/auth" => Response::text(header("Authorization")),
        "/user_agent" => Response::text(header("User-Agent")),
        "/host" => Response::text(header("Host")),
        _ => Response::text(format!("no route for {path}")).with_status(StatusCode::NOT_FOUND),
    }
}

/// What `/echo` answered.
#[derive(Debug)]
pub struct Echo {
    pub method: String,
    pub body: String,
    pub headers: serde_json::Map<String, serde_json::Value>,
}

impl Echo {
    /// Parses the body of an `/echo` response.
    pub fn parse(body: &[u8]) -> Echo {
        let value: serde_json::Value = serde_json::from_slice(body).expect("echo JSON");
        Echo {
            method: value["method"].as_str().expect("method").to_owned(),
            body: value["body"].as_str().expect("body").to_owned(),
            headers: value["headers"].as_object().expect("headers").clone(),
        }
    }

    /// A header the server saw, by its name in any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
    }
}

/// Waits on the loop until `done` holds, for at most `limit`; returns
/// whether it held.
pub async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > limit {
            return false;
        }
        tornado_ioloop::sleep(Duration::from_millis(5)).await;
    }
    true
}

/// A server on raw sockets: each accepted connection is handed to the
/// handler on its own thread, with its index (0 for the first). The accept
/// thread stops when the value is dropped; connection threads end when
/// their handler returns (every socket operation has [`IO_TIMEOUT`]).
pub struct RawServer {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl RawServer {
    /// Starts serving with `handler`; its errors (a client that went away)
    /// are ignored.
    pub fn start<F>(handler: F) -> RawServer
    where
        F: Fn(Conn, usize) -> io::Result<()> + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let addr = listener.local_addr().expect("local addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let handler = Arc::new(handler);
        let (count, stopping) = (accepted.clone(), stop.clone());
        let thread = thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let index = count.fetch_add(1, Ordering::SeqCst);
                        let handler = handler.clone();
                        thread::spawn(move || {
                            let conn = Conn::new(stream).expect("set up accepted socket");
                            let _ = handler(conn, index);
                        });
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(2));
                    }
                    Err(e) => panic!("accept failed: {e}"),
                }
            }
        });
        RawServer {
            addr,
            accepted,
            stop,
            thread: Some(thread),
        }
    }

    /// A server that answers every request on a connection with `response`
    /// (keep-alive as far as the bytes allow).
    pub fn respond_always(response: &'static [u8]) -> RawServer {
        RawServer::start(move |mut conn, _| {
            while conn.read_request()?.is_some() {
                conn.write(response)?;
            }
            Ok(())
        })
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many connections were accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A request as a raw server read it.
#[derive(Debug, Clone)]
pub struct RawRequest {
    /// The request line and header lines, without the blank line.
    pub head: String,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl RawRequest {
    /// The request line.
    pub fn request_line(&self) -> &str {
        self.head.lines().next().unwrap_or_default()
    }

    /// The method.
    pub fn method(&self) -> &str {
        self.request_line().split(' ').next().unwrap_or_default()
    }

    /// The value of header `name` (the first line of that name).
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.head, name)
    }
}

fn header_value<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// One accepted connection of a [`RawServer`], with a read buffer so
/// requests that follow each other are read exactly.
pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn new(stream: TcpStream) -> io::Result<Conn> {
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::new(),
        })
    }

    /// Reads more bytes into the buffer; `false` at end of file.
    fn fill(&mut self) -> io::Result<bool> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    /// Bytes received and not yet consumed.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Reads a request head; `None` if the client closed first.
    pub fn read_head(&mut self) -> io::Result<Option<String>> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.drain(..end + 4);
                return Ok(Some(head));
            }
            if !self.fill()? {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed inside a request head",
                ));
            }
        }
    }

    /// Reads the body that `head` announces (chunked, `Content-Length` or
    /// none).
    pub fn read_body(&mut self, head: &str) -> io::Result<Vec<u8>> {
        let chunked = header_value(head, "Transfer-Encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        if chunked {
            let mut body = Vec::new();
            loop {
                let line = self.read_line()?;
                let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                if size == 0 {
                    // Trailers, then the blank line.
                    while !self.read_line()?.is_empty() {}
                    return Ok(body);
                }
                body.extend_from_slice(&self.read_exact_bytes(size)?);
                if !self.read_line()?.is_empty() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "chunk without CRLF",
                    ));
                }
            }
        }
        let length = header_value(head, "Content-Length")
            .map(|v| v.parse::<usize>().expect("Content-Length"))
            .unwrap_or(0);
        self.read_exact_bytes(length)
    }

    /// Reads a whole request; `None` if the client closed before one began.
    pub fn read_request(&mut self) -> io::Result<Option<RawRequest>> {
        let Some(head) = self.read_head()? else {
            return Ok(None);
        };
        let body = self.read_body(&head)?;
        Ok(Some(RawRequest { head, body }))
    }

    /// A line without its CRLF.
    pub fn read_line(&mut self) -> io::Result<String> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.drain(..end + 2);
                return Ok(line);
            }
            if !self.fill()? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Exactly `n` bytes.
    pub fn read_exact_bytes(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if !self.fill()? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// Reads until the client closes; returns how many bytes came meanwhile
    /// (the buffered ones included).
    pub fn read_until_close(&mut self) -> io::Result<usize> {
        while self.fill()? {}
        Ok(std::mem::take(&mut self.buf).len())
    }

    /// Writes all of `bytes`.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// `data` compressed with gzip.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

/// `data` in the zlib format (HTTP's `deflate`).
pub fn zlib(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("zlib");
    encoder.finish().expect("zlib")
}

/// `data` as raw deflate (what some servers send as `deflate`).
pub fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut encoder =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("deflate");
    encoder.finish().expect("deflate")
}

/// A response head with `Content-Length` and the body after it.
pub fn response_with(status_line: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{status_line}\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}
