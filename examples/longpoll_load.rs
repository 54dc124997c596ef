//! The long-polling fan-out load: N clients wait in `POST /a/message/updates` (Tornado's
//! chat demo), one message is posted, and what is measured is the time until every
//! waiter has its whole response, and the server's memory per waiting client.
//! `benches/longpoll.py` runs it against our `chat` example and Python Tornado's demo.
//!
//! `cargo run --release --example longpoll_load -- --port P [--pid PID] [--clients N]
//!     [--timeout SECONDS]`
//!
//! One thread, one mio `Poll`, every connection from and to 127.0.0.1:
//!
//! 1. A poster connection posts a first message and keeps its `id` as the cursor, so the
//!    waiters wait for the next message even on a server whose cache is not empty.
//!    The server's RSS (`VmRSS` of `--pid`) is read then.
//! 2. N connections are opened, each sending one keep-alive `POST /a/message/updates`
//!    with that cursor. They are opened a window at a time: connections still
//!    connecting plus those in the server's accept queue (read with `NETLINK_SOCK_DIAG`,
//!    as `ss` reads it) stay under half the queue's limit (64 for the 128 that Tornado
//!    and we listen with), so no SYN is dropped and no connect waits out a
//!    retransmission. A connect that fails, or a connection closed before it was
//!    answered, is tried again on a new socket, [`CONNECT_ATTEMPTS`] times in all.
//! 3. Settle: until the server has read every request (no unread bytes in its sockets,
//!    nothing left in its accept queue) and its CPU time has not moved for
//!    [`QUIET_SAMPLES`] samples [`SAMPLE`] apart, and at least [`MIN_SETTLE`]. A waiter
//!    answered or closed meanwhile is an error. The RSS is read again.
//! 4. The message is posted on the poster connection; the clock runs from just before
//!    that write until the last waiter has a complete response (`Content-Length` or
//!    chunked), which must be a 200 whose body holds the posted text.
//!
//! Prints one JSON line: `n`, `waiting`, `answered`, `fanout_ms`, `first_ms`,
//! `median_ms`, `load_cpu_ms` (this process's CPU time over the fan-out: near
//! `fanout_ms`, the load generator and not the server set the pace), `server_cpu_ms`
//! (the server's CPU time over the fan-out, all its threads: the first field of each
//! `/proc/PID/task/*/schedstat`, summed, read just before the message is written and
//! right after the last waiter is answered, before any connection is closed; the
//! kernel brings a running thread's figure up to date at least every scheduler tick,
//! so a server still on its CPU at the second reading may be short by up to one tick;
//! null without `--pid` or without schedstats), `rss_before`,
//! `rss_after`, `bytes_per_waiter`, `errors` and `error_kinds`, `listen_overflows` (the
//! kernel's `ListenOverflows` counter over the run: not 0 means a backlog overflowed
//! somewhere on the machine), `connect_s` and `settle_s`. Without `--pid` the RSS fields are 0 and the settle is a fixed
//! [`MIN_SETTLE_WITHOUT_PID`]. Exits 1 when there was any error, 2 on bad arguments or
//! when the first message cannot be posted.
//!
//! Each connection holds a file descriptor here and one in the server: raise
//! `ulimit -n` above N for both.

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream as StdTcpStream};
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

/// The accept queue limit assumed when the listening socket cannot be seen: 128, what
/// Tornado and we listen with.
const DEFAULT_BACKLOG: u64 = 128;
/// The most connections connecting or waiting in the server's accept queue at once
/// (otherwise half the queue's limit).
const MAX_WINDOW: u64 = 512;
/// Tries per waiter to get a connection the server keeps open.
const CONNECT_ATTEMPTS: u32 = 3;
/// The shortest settle, with `--pid`.
const MIN_SETTLE: Duration = Duration::from_millis(500);
/// The settle without `--pid`, when the server's CPU time cannot be watched.
const MIN_SETTLE_WITHOUT_PID: Duration = Duration::from_secs(2);
/// How often the settle looks at the server.
const SAMPLE: Duration = Duration::from_millis(100);
/// Samples in a row in which the server's CPU time must not move.
const QUIET_SAMPLES: u32 = 3;
/// What one read takes; a whole answer to a waiter fits.
const READ_CHUNK: usize = 4096;
/// A response head longer than this is an error.
const MAX_HEAD: usize = 64 * 1024;

struct Args {
    port: u16,
    pid: Option<u32>,
    clients: usize,
    timeout: Duration,
}

fn parse_args() -> Result<Args, String> {
    const USAGE: &str =
        "usage: longpoll_load --port P [--pid PID] [--clients N] [--timeout SECONDS]";
    let mut args = Args {
        port: 0,
        pid: None,
        clients: 10_000,
        timeout: Duration::from_secs(120),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--port" => {
                let v = value("--port")?;
                args.port = v.parse().map_err(|_| format!("bad --port {v:?}"))?;
            }
            "--pid" => {
                let v = value("--pid")?;
                args.pid = Some(v.parse().map_err(|_| format!("bad --pid {v:?}"))?);
            }
            "--clients" => {
                let v = value("--clients")?;
                args.clients = v.parse().map_err(|_| format!("bad --clients {v:?}"))?;
            }
            "--timeout" => {
                let v = value("--timeout")?;
                let secs: u64 = v.parse().map_err(|_| format!("bad --timeout {v:?}"))?;
                args.timeout = Duration::from_secs(secs);
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if args.port == 0 || args.clients == 0 {
        return Err(USAGE.into());
    }
    Ok(args)
}

/// Why a waiter did not count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    /// No connection after [`CONNECT_ATTEMPTS`] tries.
    Connect,
    /// Closed by the server while waiting, after the opening phase.
    ClosedEarly,
    /// Answered before the message was posted.
    AnsweredEarly,
    /// Not a well-framed 200, or closed before the response was whole.
    BadResponse,
    /// A 200 whose body lacks the posted text.
    WrongBody,
    /// No whole response before the timeout.
    Unanswered,
}

const FAILURES: [(Failure, &str); 6] = [
    (Failure::Connect, "connect"),
    (Failure::ClosedEarly, "closed_early"),
    (Failure::AnsweredEarly, "answered_early"),
    (Failure::BadResponse, "bad_response"),
    (Failure::WrongBody, "wrong_body"),
    (Failure::Unanswered, "unanswered"),
];

#[derive(Debug)]
enum State {
    /// Between attempts: no socket.
    Idle,
    /// Connecting, or writing the request (`written` bytes of it so far).
    Opening {
        written: usize,
    },
    /// The whole request is written.
    Waiting,
    /// The whole response arrived and was right.
    Answered,
    Failed(Failure),
}

struct Waiter {
    stream: Option<TcpStream>,
    state: State,
    attempts: u32,
    /// A response that came in more than one read.
    input: Vec<u8>,
}

/// A whole HTTP/1.1 response found at the start of a buffer.
#[derive(Debug, PartialEq)]
struct Response {
    status: u16,
    body: Vec<u8>,
}

/// Parses the response at the start of `buf`: `Ok(None)` while it is incomplete,
/// `Err` when it is malformed or not framed by `Content-Length` or chunked coding.
fn parse_response(buf: &[u8]) -> Result<Option<Response>, String> {
    let Some(head_len) = find(buf, b"\r\n\r\n").map(|i| i + 4) else {
        return if buf.len() > MAX_HEAD {
            Err("response head too long".into())
        } else {
            Ok(None)
        };
    };
    let head = std::str::from_utf8(&buf[..head_len - 4]).map_err(|_| "head not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let (mut length, mut chunked) = (None, false);
    for line in lines {
        let (name, value) = line.split_once(':').ok_or("header line without a colon")?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| "bad Content-Length")?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value
                .rsplit(',')
                .next()
                .is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"));
        }
    }
    let rest = &buf[head_len..];
    if chunked {
        return dechunk(rest).map(|body| body.map(|body| Response { status, body }));
    }
    let length = match length {
        Some(n) => n,
        None if status == 204 || status == 304 || status < 200 => 0,
        None => return Err("response framed by closing the connection".into()),
    };
    Ok((rest.len() >= length).then(|| Response {
        status,
        body: rest[..length].to_vec(),
    }))
}

/// The body of a chunked message, once the last chunk and the trailers are in.
fn dechunk(mut rest: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut body = Vec::new();
    loop {
        let Some(eol) = find(rest, b"\r\n") else {
            return Ok(None);
        };
        let size_text = std::str::from_utf8(&rest[..eol]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "bad chunk size")?;
        rest = &rest[eol + 2..];
        if size == 0 {
            // Trailer lines, if any, then an empty line.
            loop {
                let Some(eol) = find(rest, b"\r\n") else {
                    return Ok(None);
                };
                if eol == 0 {
                    return Ok(Some(body));
                }
                rest = &rest[eol + 2..];
            }
        }
        if rest.len() < size + 2 {
            return Ok(None);
        }
        if &rest[size..size + 2] != b"\r\n" {
            return Err("chunk not followed by CRLF".into());
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The string value of `"key"` in a flat JSON object (no escapes in the value).
fn json_string_field(json: &[u8], key: &str) -> Option<String> {
    let text = std::str::from_utf8(json).ok()?;
    let after_key = &text[text.find(&format!("\"{key}\""))? + key.len() + 2..];
    let value = after_key.trim_start().strip_prefix(':')?.trim_start();
    let value = value.strip_prefix('"')?;
    Some(value[..value.find('"')?].to_owned())
}

/// `application/x-www-form-urlencoded` for one value.
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn form_post(port: u16, path: &str, form: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    )
    .into_bytes()
}

/// Reads one whole response from a blocking stream.
fn read_response(stream: &mut StdTcpStream) -> Result<Response, String> {
    let mut input = Vec::new();
    let mut chunk = [0u8; READ_CHUNK];
    loop {
        if let Some(response) = parse_response(&input)? {
            return Ok(response);
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Err("connection closed before the response was whole".into()),
            Ok(n) => input.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read: {e}")),
        }
    }
}

/// Posts `body` as a chat message and returns the response's body.
fn post_message(poster: &mut StdTcpStream, port: u16, body: &str) -> Result<Vec<u8>, String> {
    let form = format!("body={}", form_encode(body));
    poster
        .write_all(&form_post(port, "/a/message/new", &form))
        .map_err(|e| format!("write: {e}"))?;
    let response = read_response(poster)?;
    if response.status != 200 {
        return Err(format!("POST /a/message/new answered {}", response.status));
    }
    Ok(response.body)
}

/// The server's resident memory in bytes (`VmRSS`), or 0 without a pid.
fn rss(pid: Option<u32>) -> u64 {
    let Some(pid) = pid else { return 0 };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// The CPU time of all the threads of process `pid`, from the first field of each
/// `/proc/PID/task/TID/schedstat` (nanoseconds on a CPU). `None` when the process is
/// gone or the kernel keeps no schedstats (they read `0 0 0`).
fn schedstat_cpu(pid: u32) -> Option<Duration> {
    let mut nanos = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let Ok(task) = task else { continue };
        // A thread that ended since the listing has no file left: it is skipped.
        let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        nanos += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    (nanos > 0).then(|| Duration::from_nanos(nanos))
}

/// The server's user + system CPU time, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// `SOCK_DIAG_BY_FAMILY` from `linux/sock_diag.h`: a dump of one family's sockets.
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `TCP_LISTEN` as a bit of `idiag_states`.
const LISTENING: u32 = 1 << 10;
/// `TCP_ESTABLISHED` and `TCP_CLOSE_WAIT` as bits of `idiag_states`: the server's side
/// of a connection it has not closed.
const CONNECTED: u32 = (1 << 1) | (1 << 8);
/// Room for one netlink datagram of a dump (the kernel sends at most 32 KiB at once).
const DIAG_BUFFER: usize = 64 * 1024;

/// The server's side of its TCP sockets on a port.
#[derive(Debug, Default)]
struct ServerSockets {
    /// Listening sockets found.
    listeners: u64,
    /// Connections waiting in the listening sockets' accept queues.
    accept_queue: u64,
    /// The smallest accept queue limit among the listening sockets.
    backlog: Option<u64>,
    /// Connected sockets holding bytes the server has not read.
    unread: u64,
}

/// The kernel's socket statistics, as `ss` reads them: a `NETLINK_SOCK_DIAG` socket.
/// Asking for the listening sockets of one port walks only the listening table, so it
/// stays cheap while thousands of connections are open (`/proc/net/tcp` walks them all,
/// milliseconds a read).
struct SockDiag {
    socket: std::fs::File,
    buf: Vec<u8>,
}

impl SockDiag {
    fn new() -> io::Result<SockDiag> {
        // SAFETY: socket() takes no pointers; its result is checked before use.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                libc::NETLINK_SOCK_DIAG,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor that nothing else owns or closes.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(SockDiag {
            socket: std::fs::File::from(owned),
            buf: vec![0; DIAG_BUFFER],
        })
    }

    /// The TCP sockets (IPv4 and IPv6) in `states` whose local port is `port`.
    fn server_sockets(&mut self, port: u16, states: u32) -> io::Result<ServerSockets> {
        let mut found = ServerSockets::default();
        for family in [libc::AF_INET, libc::AF_INET6] {
            self.dump(family as u8, port, states, &mut found)?;
        }
        Ok(found)
    }

    fn dump(
        &mut self,
        family: u8,
        port: u16,
        states: u32,
        found: &mut ServerSockets,
    ) -> io::Result<()> {
        // struct nlmsghdr, then struct inet_diag_req_v2 whose inet_diag_sockid names
        // only the source port: 16 + 8 + 48 bytes.
        let mut request = Vec::with_capacity(72);
        request.extend_from_slice(&72u32.to_ne_bytes());
        request.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
        request.extend_from_slice(&flags.to_ne_bytes());
        request.extend_from_slice(&[0; 8]); // sequence number, port id
        request.extend_from_slice(&[family, libc::IPPROTO_TCP as u8, 0, 0]);
        request.extend_from_slice(&states.to_ne_bytes());
        request.extend_from_slice(&port.to_be_bytes());
        request.extend_from_slice(&[0; 46]);
        self.socket.write_all(&request)?;
        loop {
            let n = self.socket.read(&mut self.buf)?;
            let mut rest = &self.buf[..n];
            while rest.len() >= 16 {
                let word = |at: usize| {
                    u32::from_ne_bytes([rest[at], rest[at + 1], rest[at + 2], rest[at + 3]])
                };
                let len = word(0) as usize;
                let kind = u16::from_ne_bytes([rest[4], rest[5]]);
                if len < 16 || len > rest.len() {
                    return Err(io::Error::other("malformed sock_diag answer"));
                }
                match i32::from(kind) {
                    libc::NLMSG_DONE => return Ok(()),
                    libc::NLMSG_ERROR => {
                        let errno = word(16) as i32;
                        return Err(io::Error::from_raw_os_error(-errno));
                    }
                    // struct inet_diag_msg: family, state, timer, retrans, the 48-byte
                    // sockid, expires, then rqueue and wqueue.
                    _ if len >= 16 + 64 => {
                        let (state, rqueue, wqueue) = (rest[17], word(16 + 56), word(16 + 60));
                        if state == 10 {
                            found.listeners += 1;
                            found.accept_queue += u64::from(rqueue);
                            let limit = u64::from(wqueue);
                            found.backlog = Some(found.backlog.map_or(limit, |b| b.min(limit)));
                        } else if rqueue > 0 {
                            found.unread += 1;
                        }
                    }
                    _ => {}
                }
                rest = rest.get((len + 3) & !3..).unwrap_or_default();
            }
        }
    }
}

/// User plus system CPU time this process has used so far.
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given, which is zeroed and ours;
    // RUSAGE_SELF is a valid `who`.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

/// The kernel's `TcpExt: ListenOverflows` counter (machine-wide).
fn listen_overflows() -> u64 {
    let netstat = std::fs::read_to_string("/proc/net/netstat").unwrap_or_default();
    let mut tcp_ext = netstat.lines().filter(|l| l.starts_with("TcpExt:"));
    let (Some(names), Some(values)) = (tcp_ext.next(), tcp_ext.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(name, _)| *name == "ListenOverflows")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// N waiters on one poll.
struct Load {
    poll: Poll,
    events: Events,
    addr: SocketAddr,
    request: Vec<u8>,
    waiters: Vec<Waiter>,
    /// Waiters without a socket, to be opened.
    to_open: Vec<usize>,
    /// Waiters connecting or writing their request.
    opening: u64,
    diag: SockDiag,
    /// The last error a connect gave, for the report when some waiter never connected
    /// (no ephemeral port left, too many open files).
    connect_error: Option<io::Error>,
}

impl Load {
    /// Opens one waiter's socket; a failure that cannot be retried marks it failed.
    fn open(&mut self, i: usize) -> io::Result<()> {
        let waiter = &mut self.waiters[i];
        waiter.attempts += 1;
        match TcpStream::connect(self.addr) {
            Ok(mut stream) => {
                self.poll.registry().register(
                    &mut stream,
                    Token(i),
                    Interest::READABLE | Interest::WRITABLE,
                )?;
                waiter.stream = Some(stream);
                waiter.state = State::Opening { written: 0 };
                self.opening += 1;
            }
            Err(e) => {
                self.connect_error = Some(e);
                self.retry(i);
            }
        }
        Ok(())
    }

    /// Drops waiter `i`'s socket and tries again later, or gives up on it.
    fn retry(&mut self, i: usize) {
        let waiter = &mut self.waiters[i];
        if matches!(waiter.state, State::Opening { .. }) {
            self.opening -= 1;
        }
        if let Some(mut stream) = waiter.stream.take() {
            let _ = self.poll.registry().deregister(&mut stream);
        }
        if waiter.attempts < CONNECT_ATTEMPTS {
            waiter.state = State::Idle;
            self.to_open.push(i);
        } else {
            waiter.state = State::Failed(Failure::Connect);
        }
    }

    fn fail(&mut self, i: usize, failure: Failure) {
        let waiter = &mut self.waiters[i];
        if matches!(waiter.state, State::Opening { .. }) {
            self.opening -= 1;
        }
        if let Some(mut stream) = waiter.stream.take() {
            let _ = self.poll.registry().deregister(&mut stream);
        }
        waiter.state = State::Failed(failure);
    }

    /// Finishes a connect and writes the request, as far as the socket lets it.
    fn on_opening(&mut self, i: usize, mut written: usize) {
        let Some(stream) = self.waiters[i].stream.as_mut() else {
            return;
        };
        // mio's way to learn whether a non-blocking connect finished: an error, or a
        // peer address once connected.
        match stream.take_error() {
            Ok(None) => {}
            Ok(Some(e)) | Err(e) => {
                self.connect_error = Some(e);
                return self.retry(i);
            }
        }
        match stream.peer_addr() {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
            Err(_) => return self.retry(i),
        }
        while written < self.request.len() {
            match stream.write(&self.request[written..]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.retry(i),
            }
        }
        let waiter = &mut self.waiters[i];
        if written == self.request.len() {
            waiter.state = State::Waiting;
            self.opening -= 1;
        } else {
            waiter.state = State::Opening { written };
        }
    }

    /// A readable waiter before the message: anything it reads is a failure. A close
    /// while still opening is retried.
    fn on_early_read(&mut self, i: usize, opening_phase: bool) {
        let Some(stream) = self.waiters[i].stream.as_mut() else {
            return;
        };
        let mut chunk = [0u8; READ_CHUNK];
        let outcome = loop {
            match stream.read(&mut chunk) {
                Ok(0) => break Some(false),
                Ok(_) => break Some(true),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break None,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break Some(false),
            }
        };
        match outcome {
            None => {}
            Some(true) => self.fail(i, Failure::AnsweredEarly),
            Some(false) if opening_phase => self.retry(i),
            Some(false) => self.fail(i, Failure::ClosedEarly),
        }
    }

    /// Handles the events of one poll before the message is posted.
    fn poll_before_message(&mut self, timeout: Duration, opening_phase: bool) -> io::Result<()> {
        self.poll.poll(&mut self.events, Some(timeout))?;
        let ready: Vec<(usize, bool)> = self
            .events
            .iter()
            .map(|e| (e.token().0, e.is_readable() || e.is_read_closed()))
            .collect();
        for (i, readable) in ready {
            if let State::Opening { written } = self.waiters[i].state {
                self.on_opening(i, written);
            }
            if readable
                && matches!(
                    self.waiters[i].state,
                    State::Opening { .. } | State::Waiting
                )
            {
                self.on_early_read(i, opening_phase);
            }
        }
        Ok(())
    }

    fn count(&self, pred: impl Fn(&State) -> bool) -> usize {
        self.waiters.iter().filter(|w| pred(&w.state)).count()
    }

    /// Phase 2: every waiter connected with its request written, or given up on.
    fn open_all(&mut self, port: u16, deadline: Instant) -> io::Result<()> {
        let listening = self.diag.server_sockets(port, LISTENING)?;
        if listening.listeners == 0 {
            eprintln!(
                "longpoll_load: sock_diag shows no socket listening on port {port}: \
                 opening {} at a time without watching the accept queue",
                DEFAULT_BACKLOG / 2
            );
        }
        let window = (listening.backlog.unwrap_or(DEFAULT_BACKLOG) / 2).clamp(1, MAX_WINDOW);
        self.to_open = (0..self.waiters.len()).rev().collect();
        while !self.to_open.is_empty() || self.opening > 0 {
            if Instant::now() > deadline {
                break;
            }
            let queued = self.diag.server_sockets(port, LISTENING)?.accept_queue;
            let room = window.saturating_sub(queued + self.opening);
            for _ in 0..room {
                let Some(i) = self.to_open.pop() else { break };
                self.open(i)?;
            }
            self.poll_before_message(Duration::from_millis(1), true)?;
        }
        for i in 0..self.waiters.len() {
            if matches!(self.waiters[i].state, State::Idle | State::Opening { .. }) {
                self.fail(i, Failure::Connect);
            }
        }
        let unconnected = self.count(|s| matches!(s, State::Failed(Failure::Connect)));
        if unconnected > 0 {
            let why = self
                .connect_error
                .as_ref()
                .map(|e| format!(": last error {e}"));
            eprintln!(
                "longpoll_load: {unconnected} waiter(s) not connected{}",
                why.unwrap_or_default()
            );
        }
        Ok(())
    }

    /// Phase 3: until the server has read every request and gone quiet.
    fn settle(&mut self, port: u16, pid: Option<u32>, deadline: Instant) -> io::Result<()> {
        let start = Instant::now();
        let min = if pid.is_some() {
            MIN_SETTLE
        } else {
            MIN_SETTLE_WITHOUT_PID
        };
        let (mut last_cpu, mut quiet) = (pid.and_then(cpu_ticks), 0);
        loop {
            let sample_end = Instant::now() + SAMPLE;
            while let Some(left) = sample_end.checked_duration_since(Instant::now()) {
                self.poll_before_message(left, false)?;
            }
            let cpu = pid.and_then(cpu_ticks);
            quiet = if cpu == last_cpu { quiet + 1 } else { 0 };
            last_cpu = cpu;
            if Instant::now() > deadline {
                eprintln!("longpoll_load: the server did not settle before the timeout");
                return Ok(());
            }
            if start.elapsed() < min || (pid.is_some() && quiet < QUIET_SAMPLES) {
                continue;
            }
            let sockets = self.diag.server_sockets(port, LISTENING | CONNECTED)?;
            if sockets.accept_queue == 0 && sockets.unread == 0 {
                return Ok(());
            }
        }
    }

    /// Phase 4's reading: waiter `i` is readable after the message went out. `None`
    /// until its response is whole (or it failed), then whether it was answered right.
    fn on_answer(&mut self, i: usize, text: &[u8]) -> Option<bool> {
        let waiter = &mut self.waiters[i];
        let stream = waiter.stream.as_mut()?;
        let mut chunk = [0u8; READ_CHUNK];
        let verdict = loop {
            let n = match stream.read(&mut chunk) {
                Ok(0) => break Err(Failure::BadResponse),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break Err(Failure::BadResponse),
            };
            // The usual case, a whole response in one read, copies nothing.
            let parsed = if waiter.input.is_empty() {
                parse_response(&chunk[..n])
            } else {
                waiter.input.extend_from_slice(&chunk[..n]);
                parse_response(&waiter.input)
            };
            match parsed {
                Ok(Some(r)) if r.status == 200 && find(&r.body, text).is_some() => break Ok(()),
                Ok(Some(r)) if r.status == 200 => break Err(Failure::WrongBody),
                Ok(Some(_)) | Err(_) => break Err(Failure::BadResponse),
                Ok(None) if waiter.input.is_empty() => waiter.input.extend_from_slice(&chunk[..n]),
                Ok(None) => {}
            }
        };
        match verdict {
            // Left open until every waiter is done, so that closing does not add
            // to the server's work while it is still answering.
            Ok(()) => waiter.state = State::Answered,
            Err(failure) => self.fail(i, failure),
        }
        Some(verdict.is_ok())
    }
}

/// What the run found.
struct Report {
    n: usize,
    waiting: usize,
    answered: usize,
    fanout: Option<Duration>,
    first: Option<Duration>,
    median: Option<Duration>,
    /// This process's CPU time over the fan-out: near `fanout`, the load generator
    /// and not the server set the pace.
    load_cpu: Duration,
    /// The server's CPU time over the fan-out (with `--pid`).
    server_cpu: Option<Duration>,
    rss_before: u64,
    rss_after: u64,
    failures: Vec<Failure>,
    listen_overflows: u64,
    connect: Duration,
    settle: Duration,
}

impl Report {
    fn json(&self) -> String {
        let ms = |d: Option<Duration>| {
            d.map_or("null".into(), |d| format!("{:.3}", d.as_secs_f64() * 1e3))
        };
        let per_waiter = if self.waiting > 0 && self.rss_before > 0 && self.rss_after > 0 {
            format!(
                "{:.0}",
                (self.rss_after as f64 - self.rss_before as f64) / self.waiting as f64
            )
        } else {
            "null".into()
        };
        let mut kinds = String::new();
        for (failure, name) in FAILURES {
            let count = self.failures.iter().filter(|f| **f == failure).count();
            if count > 0 {
                let sep = if kinds.is_empty() { "" } else { ", " };
                let _ = write!(kinds, "{sep}\"{name}\": {count}");
            }
        }
        format!(
            "{{\"n\": {}, \"waiting\": {}, \"answered\": {}, \"fanout_ms\": {}, \
             \"first_ms\": {}, \"median_ms\": {}, \"load_cpu_ms\": {:.3}, \"server_cpu_ms\": {}, \
             \"rss_before\": {}, \"rss_after\": {}, \"bytes_per_waiter\": {per_waiter}, \"errors\": {}, \"error_kinds\": {{{kinds}}}, \
             \"listen_overflows\": {}, \"connect_s\": {:.3}, \"settle_s\": {:.3}}}",
            self.n,
            self.waiting,
            self.answered,
            ms(self.fanout),
            ms(self.first),
            ms(self.median),
            self.load_cpu.as_secs_f64() * 1e3,
            ms(self.server_cpu),
            self.rss_before,
            self.rss_after,
            self.failures.len(),
            self.listen_overflows,
            self.connect.as_secs_f64(),
            self.settle.as_secs_f64(),
        )
    }
}

fn run(args: &Args) -> Result<Report, String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let tag = format!("{}-{nanos}", std::process::id());
    let deadline = || Instant::now() + args.timeout;

    // 1. The poster, and the cursor.
    let mut poster = StdTcpStream::connect(addr).map_err(|e| format!("connect to {addr}: {e}"))?;
    poster.set_nodelay(true).map_err(|e| e.to_string())?;
    poster
        .set_read_timeout(Some(args.timeout))
        .map_err(|e| e.to_string())?;
    let primer = post_message(&mut poster, args.port, &format!("primer-{tag}"))?;
    let cursor = json_string_field(&primer, "id")
        .ok_or_else(|| format!("no \"id\" in {:?}", String::from_utf8_lossy(&primer)))?;
    let overflows_before = listen_overflows();
    let rss_before = rss(args.pid);

    // 2. The waiters.
    let connect_start = Instant::now();
    let mut load = Load {
        poll: Poll::new().map_err(|e| e.to_string())?,
        events: Events::with_capacity(1024),
        addr,
        request: form_post(
            args.port,
            "/a/message/updates",
            &format!("cursor={}", form_encode(&cursor)),
        ),
        waiters: (0..args.clients)
            .map(|_| Waiter {
                stream: None,
                state: State::Idle,
                attempts: 0,
                input: Vec::new(),
            })
            .collect(),
        to_open: Vec::new(),
        opening: 0,
        diag: SockDiag::new().map_err(|e| format!("NETLINK_SOCK_DIAG socket: {e}"))?,
        connect_error: None,
    };
    load.open_all(args.port, deadline())
        .map_err(|e| e.to_string())?;
    let connect = connect_start.elapsed();

    // 3. Settle.
    let settle_start = Instant::now();
    load.settle(args.port, args.pid, deadline())
        .map_err(|e| e.to_string())?;
    let settle = settle_start.elapsed();
    let rss_after = rss(args.pid);
    let waiting = load.count(|s| matches!(s, State::Waiting));

    // 4. The message, and the fan-out.
    let text = format!("fanout-{tag}");
    let form = format!("body={}", form_encode(&text));
    let message = form_post(args.port, "/a/message/new", &form);
    let mut times = Vec::with_capacity(waiting);
    let mut left = waiting;
    let server_cpu_start = args.pid.and_then(schedstat_cpu);
    let (start, cpu_start) = (Instant::now(), cpu_time());
    poster
        .write_all(&message)
        .map_err(|e| format!("write: {e}"))?;
    let fanout_deadline = deadline();
    while left > 0 {
        let Some(timeout) = fanout_deadline.checked_duration_since(Instant::now()) else {
            break;
        };
        load.poll
            .poll(&mut load.events, Some(timeout))
            .map_err(|e| e.to_string())?;
        let ready: Vec<usize> = load.events.iter().map(|e| e.token().0).collect();
        for i in ready {
            if !matches!(load.waiters[i].state, State::Waiting) {
                continue;
            }
            if let Some(answered) = load.on_answer(i, text.as_bytes()) {
                left -= 1;
                if answered {
                    times.push(start.elapsed());
                }
            }
        }
    }
    let load_cpu = cpu_time() - cpu_start;
    let server_cpu = match (server_cpu_start, args.pid.and_then(schedstat_cpu)) {
        (Some(before), Some(after)) => after.checked_sub(before),
        _ => None,
    };
    for i in 0..load.waiters.len() {
        if matches!(load.waiters[i].state, State::Waiting) {
            load.fail(i, Failure::Unanswered);
        }
    }
    let posted = read_response(&mut poster);
    for waiter in &mut load.waiters {
        waiter.stream = None;
    }
    match posted {
        Ok(r) if r.status == 200 => {}
        Ok(r) => eprintln!("longpoll_load: the message was answered {}", r.status),
        Err(e) => eprintln!("longpoll_load: the message's response: {e}"),
    }

    let failures: Vec<Failure> = load
        .waiters
        .iter()
        .filter_map(|w| match w.state {
            State::Failed(f) => Some(f),
            _ => None,
        })
        .collect();
    let answered = load.count(|s| matches!(s, State::Answered));
    Ok(Report {
        n: args.clients,
        waiting,
        answered,
        // Until the last answer; none when some waiter was still waiting at the timeout.
        fanout: if left == 0 {
            times.last().copied()
        } else {
            None
        },
        first: times.first().copied(),
        median: times.get(times.len() / 2).copied(),
        load_cpu,
        server_cpu,
        rss_before,
        rss_after,
        failures,
        listen_overflows: listen_overflows().saturating_sub(overflows_before),
        connect,
        settle,
    })
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    match run(&args) {
        Ok(report) => {
            println!("{}", report.json());
            if !report.failures.is_empty() {
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("longpoll_load: {e}");
            std::process::exit(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What parsing a buffer should give: incomplete, a status and body, or an error.
    type Expected<'a> = Result<Option<(u16, &'a [u8])>, ()>;

    #[test]
    fn responses_by_length_and_chunks() {
        let whole = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        let cases: &[(&[u8], Expected<'_>)] = &[
            (b"HTTP/1.1 200 OK\r\nContent-Len", Ok(None)),
            (&whole[..whole.len() - 1], Ok(None)),
            (whole, Ok(Some((200, b"hello")))),
            (b"HTTP/1.1 200 OK\r\ncontent-length:  2 \r\n\r\nhi+more", Ok(Some((200, b"hi")))),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
                Ok(Some((200, b"abcde"))),
            ),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n", Ok(None)),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n\r\n",
                Ok(Some((200, b""))),
            ),
            (b"HTTP/1.1 204 No Content\r\n\r\n", Ok(Some((204, b"")))),
            (b"HTTP/1.1 200 OK\r\n\r\nuntil close", Err(())),
            (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", Err(())),
            (b"SPDY 200\r\n\r\n", Err(())),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", Err(())),
        ];
        for (input, expected) in cases {
            let got = parse_response(input)
                .map(|r| r.map(|r| (r.status, r.body)))
                .map_err(|_| ());
            let expected = expected.map(|r| r.map(|(s, b)| (s, b.to_vec())));
            assert_eq!(got, expected, "{:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn id_from_tornado_and_compact_json() {
        for json in [
            &br#"{"id": "3b2f-11", "body": "x", "html": "<div id=\"m3b2f-11\">"}"#[..],
            br#"{"body":"x","id":"3b2f-11"}"#,
        ] {
            assert_eq!(json_string_field(json, "id").as_deref(), Some("3b2f-11"));
        }
        assert_eq!(json_string_field(br#"{"body": "x"}"#, "id"), None);
    }

    #[test]
    fn form_values_are_percent_encoded() {
        assert_eq!(form_encode("a-Z_0.~"), "a-Z_0.~");
        assert_eq!(form_encode("a b&c=é"), "a%20b%26c%3D%C3%A9");
    }
}
