//! The floor for the long-polling fan-out: the least a server can do for
//! `examples/longpoll_load.rs`, on raw mio, so that `benches/longpoll.py` can show how
//! close our `chat` example comes to what the kernel alone costs. Not a server anyone
//! should use: one thread, no framework, just enough HTTP/1.1 for the load.
//!
//! `cargo run --release --example longpoll_floor -- --port N [--address 127.0.0.1]`
//!
//! - `POST /a/message/new` (`body=...`): makes a message, answers the poster with its
//!   JSON (`{"id":..,"body":..,"html":..}`, as examples/chat answers it), and then
//!   every waiter at once.
//! - `POST /a/message/updates` (optional `cursor=ID`): answers the messages after
//!   `cursor` at once if there are any (all that are kept when the cursor is unknown),
//!   or holds the connection in a list until the next message.
//! - Anything else: 404.
//!
//! What it spares itself per waiter in the fan-out is the point: every waiter waits
//! for the newest message, so every waiter gets the same `{"messages":[...]}`
//! response, whose bytes (head and body) are built once and shared; answering a waiter
//! is one `write` of them, and nothing else unless the socket takes less than all.
//!
//! The HTTP it speaks: keep-alive connections (never closed by the server unless a
//! request is malformed); request heads up to `\r\n\r\n` with a `Content-Length` body
//! (no chunked request bodies); the form decoded from `+` and `%XX`; responses with
//! `Content-Length`. Pipelined requests are answered in order. A closed connection is
//! dropped, and taken out of the waiters if it was waiting. The last
//! [`CACHE_SIZE`] messages are kept, as the chat example keeps them. SIGINT or SIGTERM
//! ends it (the default action: `benches/longpoll.py` kills it after each round).
//!
//! `benches/longpoll.py --servers floor` (one of its default servers) starts it like
//! our chat example, pinned to the same CPU, and runs longpoll_load against it.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use tornado::httputil::{format_timestamp, url_unescape};
use tornado::web::xhtml_escape;

/// How many messages are kept (as examples/chat keeps them).
const CACHE_SIZE: usize = 200;
/// A request head longer than this closes the connection.
const MAX_HEAD: usize = 64 * 1024;
/// A request body longer than this closes the connection.
const MAX_BODY: usize = 1024 * 1024;
/// What one read takes.
const READ_CHUNK: usize = 64 * 1024;
const LISTENER: Token = Token(usize::MAX);

/// One chat message.
struct Message {
    id: String,
    /// `{"id":..,"body":..,"html":..}`.
    json: String,
}

/// What a connection is doing.
enum State {
    /// Reading its next request.
    Idle,
    /// Waiting for a message, at this index in [`Server::waiters`].
    Waiting(usize),
    /// A response the socket did not take whole: the bytes from `at` on are left.
    Writing { out: Rc<[u8]>, at: usize },
}

struct Conn {
    stream: TcpStream,
    /// Request bytes not handled yet; empty (and unallocated) between requests.
    input: Vec<u8>,
    state: State,
}

/// One request, parsed from the start of a buffer.
#[derive(Debug, PartialEq)]
struct Request<'a> {
    method: &'a [u8],
    /// Without the query.
    path: &'a [u8],
    body: &'a [u8],
    /// Bytes the request took, head and body.
    len: usize,
}

/// What a request asks for, owned so that the input it came from can be dropped.
enum Route {
    New(Option<String>),
    Updates(Option<String>),
    NotFound,
}

struct Server {
    poll: Poll,
    listener: TcpListener,
    /// Indexed by token; `None` is free.
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    /// The tokens of the waiting connections.
    waiters: Vec<usize>,
    messages: VecDeque<Message>,
    next_id: u64,
    /// Part of every id, so ids from an earlier run are never mistaken for new ones.
    epoch: u64,
    scratch: Box<[u8]>,
}

impl Server {
    fn bind(addr: SocketAddr) -> io::Result<Server> {
        let poll = Poll::new()?;
        let mut listener = TcpListener::bind(addr)?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Ok(Server {
            poll,
            listener,
            conns: Vec::new(),
            free: Vec::new(),
            waiters: Vec::new(),
            messages: VecDeque::with_capacity(CACHE_SIZE),
            next_id: 0,
            epoch,
            scratch: vec![0; READ_CHUNK].into_boxed_slice(),
        })
    }

    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            match self.poll.poll(&mut events, None) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            for event in events.iter() {
                if event.token() == LISTENER {
                    self.accept()?;
                    continue;
                }
                let k = event.token().0;
                if event.is_writable() {
                    self.flush(k);
                }
                if event.is_readable() || event.is_read_closed() || event.is_error() {
                    self.read(k, event.is_read_closed() || event.is_error());
                }
            }
        }
    }

    fn accept(&mut self) -> io::Result<()> {
        loop {
            let (mut stream, _) = match self.listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of file descriptors, most likely: the queued connections
                    // wait for the next one to come in.
                    eprintln!("longpoll_floor: accept: {e}");
                    return Ok(());
                }
            };
            let _ = stream.set_nodelay(true);
            let k = self.free.pop().unwrap_or(self.conns.len());
            self.poll
                .registry()
                .register(&mut stream, Token(k), Interest::READABLE)?;
            let conn = Some(Conn {
                stream,
                input: Vec::new(),
                state: State::Idle,
            });
            if k == self.conns.len() {
                self.conns.push(conn);
            } else {
                self.conns[k] = conn;
            }
        }
    }

    /// Reads what connection `k` has, then handles its whole requests.
    fn read(&mut self, k: usize, closed: bool) {
        let Some(conn) = self.conns.get_mut(k).and_then(Option::as_mut) else {
            return;
        };
        loop {
            match conn.stream.read(&mut self.scratch) {
                Ok(0) => return self.close(k),
                Ok(n) => {
                    conn.input.extend_from_slice(&self.scratch[..n]);
                    if conn.input.len() > MAX_HEAD + MAX_BODY {
                        return self.close(k);
                    }
                    // Less than asked for: drained, unless the peer has also closed
                    // (then read on to see the end). Saves a read that would block.
                    if n < self.scratch.len() && !closed {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.close(k),
            }
        }
        self.serve(k);
    }

    /// Handles connection `k`'s buffered requests while it is idle.
    fn serve(&mut self, k: usize) {
        loop {
            let Some(conn) = self.conns.get_mut(k).and_then(Option::as_mut) else {
                return;
            };
            if !matches!(conn.state, State::Idle) || conn.input.is_empty() {
                return;
            }
            let (len, route) = match parse_request(&conn.input) {
                Ok(Some(request)) => (request.len, route(&request)),
                Ok(None) => return,
                Err(_) => return self.close(k),
            };
            if len == conn.input.len() {
                conn.input = Vec::new();
            } else {
                conn.input.drain(..len);
            }
            match route {
                Route::New(Some(body)) => self.post(k, &body),
                Route::New(None) => {
                    let out = response("400 Bad Request", TEXT, b"Missing argument body");
                    self.send(k, &out);
                }
                Route::Updates(cursor) => {
                    let newer = self.messages_since(cursor.as_deref());
                    if newer.is_empty() {
                        if let Some(conn) = self.conns[k].as_mut() {
                            conn.state = State::Waiting(self.waiters.len());
                            self.waiters.push(k);
                        }
                    } else {
                        let out = response("200 OK", JSON, updates_body(&newer).as_bytes());
                        self.send(k, &out);
                    }
                }
                Route::NotFound => {
                    let out = response("404 Not Found", TEXT, b"Not Found");
                    self.send(k, &out);
                }
            }
        }
    }

    /// The messages after the one with id `cursor`; all of them when there is no
    /// cursor or it is no longer kept.
    fn messages_since(&self, cursor: Option<&str>) -> Vec<&Message> {
        let newer = match cursor {
            Some(c) => self.messages.iter().rev().take_while(|m| m.id != c).count(),
            None => self.messages.len(),
        };
        self.messages
            .iter()
            .skip(self.messages.len() - newer)
            .collect()
    }

    /// A new message from connection `k`: every waiter is answered, then the poster.
    fn post(&mut self, k: usize, body: &str) {
        self.next_id += 1;
        let id = format!("{:016x}-{}", self.epoch, self.next_id);
        let html = format!(
            "<div class=\"message\" id=\"m{id}\">{}</div>",
            xhtml_escape(body)
        );
        let json = format!(
            "{{\"id\":{},\"body\":{},\"html\":{}}}",
            json_string(&id),
            json_string(body),
            json_string(&html)
        );
        // A waiter waits because nothing was newer than its cursor, so the new message
        // is exactly what each of them is owed: one response for all.
        let fanout = response(
            "200 OK",
            JSON,
            format!("{{\"messages\":[{json}]}}").as_bytes(),
        );
        let answer = response("200 OK", JSON, json.as_bytes());
        self.messages.push_back(Message { id, json });
        if self.messages.len() > CACHE_SIZE {
            self.messages.pop_front();
        }
        // Waiters first: theirs is the time measured.
        for w in std::mem::take(&mut self.waiters) {
            if let Some(conn) = self.conns[w].as_mut() {
                conn.state = State::Idle;
                if self.send(w, &fanout) && !conn_input_is_empty(&self.conns[w]) {
                    self.serve(w);
                }
            }
        }
        self.send(k, &answer);
    }

    /// Writes `out` to idle connection `k`, keeping what the socket does not take for
    /// later. Whether all of it went out.
    fn send(&mut self, k: usize, out: &Rc<[u8]>) -> bool {
        let Some(conn) = self.conns[k].as_mut() else {
            return false;
        };
        let mut at = 0;
        loop {
            match conn.stream.write(&out[at..]) {
                Ok(n) if at + n == out.len() => return true,
                Ok(n) => at += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.close(k);
                    return false;
                }
            }
        }
        conn.state = State::Writing {
            out: out.clone(),
            at,
        };
        let token = Token(k);
        let interest = Interest::READABLE | Interest::WRITABLE;
        if self
            .poll
            .registry()
            .reregister(&mut conn.stream, token, interest)
            .is_err()
        {
            self.close(k);
        }
        false
    }

    /// Writes on where a response stopped, once connection `k` can take more.
    fn flush(&mut self, k: usize) {
        let Some(conn) = self.conns.get_mut(k).and_then(Option::as_mut) else {
            return;
        };
        let State::Writing { out, at } = &mut conn.state else {
            return;
        };
        while *at < out.len() {
            match conn.stream.write(&out[*at..]) {
                Ok(n) => *at += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.close(k),
            }
        }
        // Left registered for writing: a spurious writable event finds it idle.
        conn.state = State::Idle;
        self.serve(k);
    }

    /// Drops connection `k`, and takes it out of the waiters.
    fn close(&mut self, k: usize) {
        let Some(conn) = self.conns.get_mut(k).and_then(Option::take) else {
            return;
        };
        if let State::Waiting(i) = conn.state {
            self.waiters.swap_remove(i);
            if let Some(&moved) = self.waiters.get(i)
                && let Some(other) = self.conns[moved].as_mut()
            {
                other.state = State::Waiting(i);
            }
        }
        // Closing the descriptor takes it out of the poll too.
        drop(conn);
        self.free.push(k);
    }
}

fn conn_input_is_empty(conn: &Option<Conn>) -> bool {
    conn.as_ref().is_none_or(|c| c.input.is_empty())
}

fn route(request: &Request<'_>) -> Route {
    match (request.method, request.path) {
        (b"POST", b"/a/message/new") => Route::New(form_value(request.body, "body")),
        (b"POST", b"/a/message/updates") => Route::Updates(form_value(request.body, "cursor")),
        _ => Route::NotFound,
    }
}

/// Parses the request at the start of `buf`: `Ok(None)` while it is incomplete, `Err`
/// when it is malformed, too large, or has a body framed other than by
/// `Content-Length`.
fn parse_request(buf: &[u8]) -> Result<Option<Request<'_>>, &'static str> {
    let Some(end) = find(buf, b"\r\n\r\n") else {
        return if buf.len() > MAX_HEAD {
            Err("head too long")
        } else {
            Ok(None)
        };
    };
    if end > MAX_HEAD {
        return Err("head too long");
    }
    let mut lines = buf[..end].split(|&b| b == b'\n');
    let request_line = lines.next().unwrap_or_default();
    let request_line = request_line.strip_suffix(b"\r").unwrap_or(request_line);
    let mut parts = request_line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("bad request line");
    };
    if method.is_empty() || !target.starts_with(b"/") || !version.starts_with(b"HTTP/1.") {
        return Err("bad request line");
    }
    let path = target.split(|&b| b == b'?').next().unwrap_or(target);
    let mut length = 0;
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or("header line without a colon")?;
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"content-length") {
            let digits = std::str::from_utf8(value).map_err(|_| "bad Content-Length")?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err("bad Content-Length");
            }
            length = digits.parse::<usize>().map_err(|_| "bad Content-Length")?;
            if length > MAX_BODY {
                return Err("body too long");
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return Err("Transfer-Encoding is not supported");
        }
    }
    let start = end + 4;
    if buf.len() < start + length {
        return Ok(None);
    }
    Ok(Some(Request {
        method,
        path,
        body: &buf[start..start + length],
        len: start + length,
    }))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The last value of `name` in an `application/x-www-form-urlencoded` body, decoded
/// and stripped of surrounding whitespace (what Tornado's `get_argument` gives).
fn form_value(form: &[u8], name: &str) -> Option<String> {
    form.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (key, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            (url_unescape(key, true) == name.as_bytes()).then(|| url_unescape(value, true))
        })
        .next_back()
        .map(|value| String::from_utf8_lossy(&value).trim().to_owned())
}

/// A JSON string literal.
fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

fn updates_body(messages: &[&Message]) -> String {
    let parts: Vec<&str> = messages.iter().map(|m| m.json.as_str()).collect();
    format!("{{\"messages\":[{}]}}", parts.join(","))
}

const JSON: &str = "application/json; charset=UTF-8";
const TEXT: &str = "text/plain; charset=UTF-8";

/// A whole response, with the headers examples/chat sends a client that does not ask
/// for compression (`Vary` aside).
fn response(status: &str, content_type: &str, body: &[u8]) -> Rc<[u8]> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Date: {}\r\nServer: longpoll_floor\r\n\r\n",
        body.len(),
        format_timestamp(SystemTime::now())
    )
    .into_bytes();
    out.extend_from_slice(body);
    out.into()
}

struct Args {
    port: u16,
    address: String,
}

fn parse_args() -> Result<Args, String> {
    const USAGE: &str = "usage: longpoll_floor --port N [--address 127.0.0.1]";
    let mut args = Args {
        port: 0,
        address: "127.0.0.1".to_string(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--port" => {
                let v = value("--port")?;
                args.port = v.parse().map_err(|_| format!("bad --port {v:?}"))?;
            }
            "--address" => args.address = value("--address")?,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if args.port == 0 {
        return Err(USAGE.into());
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let addr = match format!("{}:{}", args.address, args.port).parse::<SocketAddr>() {
        Ok(addr) => addr,
        Err(_) => {
            eprintln!("bad --address {:?}", args.address);
            std::process::exit(2);
        }
    };
    let result = Server::bind(addr).and_then(|mut server| {
        eprintln!("longpoll_floor: listening on http://{addr}/");
        server.run()
    });
    if let Err(e) = result {
        eprintln!("longpoll_floor: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What parsing a buffer should give: incomplete, (method, path, body), or an error.
    type Expected<'a> = Result<Option<(&'a [u8], &'a [u8], &'a [u8])>, ()>;

    #[test]
    fn requests_by_content_length() {
        let whole = b"POST /a/message/new HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nbody=a";
        let cases: &[(&[u8], Expected<'_>)] = &[
            (b"POST /a/message/new HTTP/1.1\r\nConte", Ok(None)),
            (&whole[..whole.len() - 1], Ok(None)),
            (whole, Ok(Some((b"POST", b"/a/message/new", b"body=a")))),
            (
                b"POST /a?x=1 HTTP/1.1\r\ncontent-length:  2 \r\n\r\nhiPOST",
                Ok(Some((b"POST", b"/a", b"hi"))),
            ),
            (b"GET / HTTP/1.0\r\n\r\n", Ok(Some((b"GET", b"/", b"")))),
            (b"GET / HTTP/1.1\n\n", Ok(None)),
            (b"GET /\r\n\r\n", Err(())),
            (b"GET x HTTP/1.1\r\n\r\n", Err(())),
            (b"GET / SPDY/3\r\n\r\n", Err(())),
            (b"GET / HTTP/1.1\r\nNoColon\r\n\r\n", Err(())),
            (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", Err(())),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
                Err(()),
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                Err(()),
            ),
        ];
        for (input, expected) in cases {
            let got = parse_request(input)
                .map(|r| r.map(|r| (r.method, r.path, r.body)))
                .map_err(|_| ());
            assert_eq!(&got, expected, "{:?}", String::from_utf8_lossy(input));
        }
        let len = parse_request(whole).unwrap().unwrap().len;
        assert_eq!(len, whole.len());
    }

    #[test]
    fn form_values_are_decoded() {
        let cases: &[(&[u8], &str, Option<&str>)] = &[
            (b"body=a+b%20c%26d%3D%C3%A9", "body", Some("a b c&d=\u{e9}")),
            (b"cursor=1&body=x&body=%20y%20", "body", Some("y")),
            (b"body=100%25%zz%4", "body", Some("100%%zz%4")),
            (b"bo%64y=k&next=/", "body", Some("k")),
            (b"body", "body", Some("")),
            (b"&&cursor=1", "body", None),
            (b"", "body", None),
        ];
        for (form, name, expected) in cases {
            assert_eq!(form_value(form, name).as_deref(), *expected, "{form:?}");
        }
    }

    #[test]
    fn message_json_escapes() {
        assert_eq!(json_string("a\"b\\c\n\u{1}é"), r#""a\"b\\c\n\u0001é""#);
        assert_eq!(
            xhtml_escape("<a href='x'>&\""),
            "&lt;a href=&#x27;x&#x27;&gt;&amp;&quot;"
        );
    }

    #[test]
    fn dates_are_imf_fixdates() {
        let at = |secs| format_timestamp(UNIX_EPOCH + std::time::Duration::from_secs(secs));
        assert_eq!(at(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(at(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(at(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
    }
}
