//! The load generator: one neutral raw-frame WebSocket client for every server.
//!
//! Connections are opened with a blocking handshake (no extensions, so no
//! compression), then made non-blocking and driven by one mio loop on the calling
//! thread. Each connection sends one pre-masked frame over and over (masked once,
//! copied never), and reads the server's frames with a small parser that skips
//! payloads without copying them, so the client's cost per message is a few syscalls
//! and the same whichever server answers.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use mio::net::TcpStream as MioStream;
use mio::{Events, Interest, Poll, Token};

/// Opens a WebSocket to `addr` with a blocking handshake, from `source` if given;
/// the stream is left blocking, with `TCP_NODELAY`.
pub fn handshake(addr: SocketAddr, source: Option<SocketAddr>) -> io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    if let Some(source) = source {
        socket.bind(&source.into())?;
    }
    socket.connect(&addr.into())?;
    let mut stream: TcpStream = socket.into();
    stream.set_nodelay(true)?;
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )?;
    // The server sends nothing after the head until it is sent something.
    let mut head = Vec::with_capacity(256);
    let mut chunk = [0u8; 512];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::other("closed during the handshake"));
        }
        head.extend_from_slice(&chunk[..n]);
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        let head = String::from_utf8_lossy(&head);
        return Err(io::Error::other(format!("upgrade refused: {head}")));
    }
    Ok(stream)
}

/// A whole client frame, masked: opcode 1 (text) or 2 (binary), `payload` bytes.
pub fn masked_frame(text: bool, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = vec![0x80 | if text { 1 } else { 2 }];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// A close frame with code 1000, masked.
fn close_frame() -> Vec<u8> {
    let mut out = masked_frame(false, &1000u16.to_be_bytes());
    out[0] = 0x88;
    out
}

/// Reads the server's (unmasked) frames from a byte stream, skipping payloads.
#[derive(Debug, Default)]
pub struct FrameReader {
    header: [u8; 14],
    have: usize,
    /// Payload bytes of the current frame still to skip.
    skip: u64,
    /// The current frame's opcode, once its header is whole.
    opcode: Option<u8>,
}

impl FrameReader {
    /// Feeds `input`; `done` gets the opcode of each frame it completes.
    pub fn feed(&mut self, mut input: &[u8], mut done: impl FnMut(u8)) {
        loop {
            if let Some(op) = self.opcode {
                if self.skip > 0 {
                    if input.is_empty() {
                        return;
                    }
                    let take = self.skip.min(input.len() as u64) as usize;
                    self.skip -= take as u64;
                    input = &input[take..];
                }
                if self.skip == 0 {
                    self.opcode = None;
                    done(op);
                }
                continue;
            }
            // Two header bytes, then what the length form needs.
            let need = match (self.have, self.header[1] & 0x7f) {
                (0 | 1, _) => 2,
                (_, 126) => 4,
                (_, 127) => 10,
                _ => 2,
            };
            if self.have < need {
                if input.is_empty() {
                    return;
                }
                let take = (need - self.have).min(input.len());
                self.header[self.have..self.have + take].copy_from_slice(&input[..take]);
                self.have += take;
                input = &input[take..];
                continue;
            }
            self.skip = match need {
                4 => u16::from_be_bytes([self.header[2], self.header[3]]) as u64,
                10 => u64::from_be_bytes(self.header[2..10].try_into().unwrap()),
                _ => (self.header[1] & 0x7f) as u64,
            };
            self.opcode = Some(self.header[0] & 0x0f);
            self.have = 0;
        }
    }
}

/// The load: `conns` connections, each keeping `in_flight` copies of one message of
/// `size` bytes in flight (sending another as each echo comes back).
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub conns: usize,
    pub in_flight: usize,
    pub size: usize,
    pub text: bool,
}

/// What a measured window saw.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Whole echoed messages.
    pub messages: u64,
    pub elapsed: Duration,
    /// The server thread's CPU time (user + system) over the window.
    pub server_cpu: Duration,
}

struct Conn {
    stream: MioStream,
    reader: FrameReader,
    /// Frames queued and not yet wholly written, and how far into the first.
    queued: usize,
    offset: usize,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    /// The close frame goes out after the frame being written.
    Closing,
    /// The close frame is written; waiting for the server to close.
    CloseSent,
    Done,
}

impl Conn {
    /// Writes what is queued, then the close frame when closing.
    fn flush(&mut self, frame: &[u8], close: &[u8]) -> io::Result<()> {
        loop {
            let (bytes, closing) = match self.state {
                State::Running if self.queued > 0 => (frame, false),
                State::Closing if self.offset > 0 => (frame, false),
                State::Closing => (close, true),
                _ => return Ok(()),
            };
            match self.stream.write(&bytes[self.offset..]) {
                Ok(n) => {
                    self.offset += n;
                    if self.offset == bytes.len() {
                        self.offset = 0;
                        if closing {
                            self.state = State::CloseSent;
                        } else {
                            self.queued -= 1;
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                // The server may close first once it has our close frame.
                Err(_) if self.state != State::Running => {
                    self.state = State::Done;
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Runs `load` against `addr`: `warmup`, then a window of `measure` whose echoed
/// messages are counted; `cpu` reads the server thread's CPU time. Then closes every
/// connection with a closing handshake.
pub fn run(
    addr: SocketAddr,
    load: Load,
    warmup: Duration,
    measure: Duration,
    cpu: impl Fn() -> Duration,
) -> io::Result<Sample> {
    let payload: Vec<u8> = (0..load.size).map(|i| b'a' + (i % 26) as u8).collect();
    let frame = masked_frame(load.text, &payload);
    let close = close_frame();
    let mut poll = Poll::new()?;
    let mut conns = Vec::with_capacity(load.conns);
    for i in 0..load.conns {
        let stream = handshake(addr, None)?;
        stream.set_nonblocking(true)?;
        let mut stream = MioStream::from_std(stream);
        poll.registry().register(
            &mut stream,
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        conns.push(Conn {
            stream,
            reader: FrameReader::default(),
            queued: load.in_flight,
            offset: 0,
            state: State::Running,
        });
    }
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 256 * 1024];
    let mut echoed = 0u64;
    let start = Instant::now();
    let (mut mark, mut mark_cpu, mut measuring) = (start, Duration::ZERO, false);
    let mut sample = None;
    let give_up = start + warmup + measure + Duration::from_secs(10);
    while conns.iter().any(|c| c.state != State::Done) {
        poll.poll(&mut events, Some(Duration::from_millis(10)))?;
        let now = Instant::now();
        if !measuring && now >= start + warmup {
            (mark, mark_cpu, measuring) = (now, cpu(), true);
            echoed = 0;
        }
        if measuring && sample.is_none() && now >= mark + measure {
            sample = Some(Sample {
                messages: echoed,
                elapsed: now - mark,
                server_cpu: cpu().saturating_sub(mark_cpu),
            });
            for c in &mut conns {
                c.state = State::Closing;
                c.flush(&frame, &close)?;
            }
        }
        if now >= give_up {
            return Err(io::Error::other("the server did not close the connections"));
        }
        for event in events.iter() {
            let c = &mut conns[event.token().0];
            if c.state == State::Done {
                continue;
            }
            if event.is_readable() {
                loop {
                    match c.stream.read(&mut buf) {
                        Ok(0) => {
                            c.state = State::Done;
                            break;
                        }
                        Ok(n) => {
                            let (running, queued) = (c.state == State::Running, &mut c.queued);
                            let mut closed = false;
                            c.reader.feed(&buf[..n], |op| match op {
                                1 | 2 => {
                                    echoed += 1;
                                    *queued += running as usize;
                                }
                                8 => closed = true,
                                _ => {}
                            });
                            if closed {
                                // The server's close frame: the handshake is over.
                                c.state = State::Done;
                                break;
                            }
                            // A short read drained the socket, unless its end came too.
                            if n < buf.len() && !event.is_read_closed() {
                                break;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(_) if c.state != State::Running => {
                            c.state = State::Done;
                            break;
                        }
                        Err(e) => return Err(e),
                    }
                }
                if c.state == State::Done {
                    continue;
                }
            }
            c.flush(&frame, &close)?;
        }
    }
    sample.ok_or_else(|| io::Error::other("every connection closed before the end"))
}
