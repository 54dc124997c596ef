//! One HTTP/1.1 connection of the client: the socket, the sans-IO client
//! role over it, and the loop that turns bytes into events.
//!
//! This is the seam where HTTP/2 would come in: `fetch` talks to a
//! connection only through `send`, `next_event` and `reusable`, so an
//! HTTP/2 connection beside this one, chosen by the protocol the TLS
//! handshake selects (ALPN offers `http/1.1` alone for now), would need no
//! change to the fetch loop's shape.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::pin::pin;
use std::task::{Context, Waker};

use bytes::BytesMut;
use tornado_httpserver::http1connection::{
    ClientConnection, ClientError, ClientEvent, Http1ClientParameters,
};
use tornado_iostream::{IoStream, stream_closed_error};

/// How long since the loop last polled before a pooled connection's readiness is
/// taken as stale and the socket asked directly (see `heard_while_idle`).
const STALE_READINESS: std::time::Duration = std::time::Duration::from_millis(1);

/// Why reading the next event failed.
#[derive(Debug)]
pub(crate) enum ReadFailure {
    /// The bytes are not a valid response (or too large, or do not decode).
    Protocol(ClientError),
    /// The socket failed.
    Io(io::Error),
    /// The server closed the connection with no response due, or after
    /// the response ended.
    Closed,
}

/// A client connection. Owned by one fetch at a time, or idle in the pool.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) stream: IoStream,
    pub(crate) proto: RefCell<ClientConnection>,
    rbuf: RefCell<BytesMut>,
    eof: Cell<bool>,
    /// Why the stream closed, when a read error closed it (a reset, a TLS
    /// alert) rather than the server's end of file: reported if the
    /// response is incomplete, instead of a plain "closed early".
    closed_by: RefCell<Option<io::Error>>,
    /// Bytes read since [`mark`](Self::mark): whether the server said
    /// anything in answer to the current request.
    read_since_mark: Cell<u64>,
    /// How many requests this connection has carried.
    pub(crate) uses: Cell<u32>,
}

impl Connection {
    pub(crate) fn new(stream: IoStream) -> Connection {
        Connection {
            stream,
            proto: RefCell::new(ClientConnection::new(Http1ClientParameters::default())),
            rbuf: RefCell::new(BytesMut::new()),
            eof: Cell::new(false),
            closed_by: RefCell::new(None),
            read_since_mark: Cell::new(0),
            uses: Cell::new(0),
        }
    }

    /// The socket, for a new protocol over it (TLS through a tunnel).
    pub(crate) fn into_stream(self) -> IoStream {
        self.stream
    }

    /// Starts counting the bytes of a new exchange.
    pub(crate) fn mark(&self) {
        self.read_since_mark.set(0);
    }

    /// Whether the server sent any byte since [`mark`](Self::mark).
    pub(crate) fn heard_back(&self) -> bool {
        self.read_since_mark.get() > 0
    }

    /// Writes `out` to the socket and waits until it is sent.
    pub(crate) async fn send(&self, out: BytesMut) -> io::Result<()> {
        if out.is_empty() {
            return Ok(());
        }
        self.stream.write_bytes(out.freeze()).await
    }

    /// Whether the connection may carry another request: the last response
    /// was read to its end, allowed keep-alive, and nothing more came.
    pub(crate) fn reusable(&self) -> bool {
        !self.eof.get()
            && !self.stream.closed()
            && self.rbuf.borrow().is_empty()
            && self.stream.read_buffer_len() == 0
            && self.proto.borrow().may_reuse()
            && !self.heard_while_idle()
    }

    /// Whether the server sent bytes (or closed) since the last read. An
    /// idle stream does not read what arrives, so those bytes would be
    /// taken for the answer to the next request: ask the socket once,
    /// without waiting.
    ///
    /// The stream reads only when the loop has said the socket is readable,
    /// and the loop learns it only when it polls. If it has not polled for a
    /// while (a long callback, a busy loop), the socket itself is asked, at the
    /// cost of a read call: otherwise stray bytes that came meanwhile would be
    /// taken for the next response, and a close noticed only once the request
    /// was sent.
    fn heard_while_idle(&self) -> bool {
        let polled_lately = tornado_ioloop::IoLoop::try_current()
            .and_then(|l| l.polled_at())
            .is_some_and(|at| {
                std::time::Instant::now().saturating_duration_since(at) < STALE_READINESS
            });
        if !polled_lately {
            self.stream.recheck_readable();
        }
        let mut probe = pin!(self.stream.fill_read_buffer());
        let mut cx = Context::from_waker(Waker::noop());
        probe.as_mut().poll(&mut cx).is_ready()
    }

    /// Whether the bytes that came after the last response are left for a
    /// new protocol (a tunnel); they must be none for TLS to start.
    pub(crate) fn leftover(&self) -> usize {
        self.rbuf.borrow().len()
    }

    /// The next event of the response, reading as needed. After the
    /// server closed, the events the close completes (a body read until
    /// close) come, then a `Closed`-kind protocol error if the response
    /// was not complete. When a read error (a reset, a TLS alert) closed
    /// the stream, that error comes instead, and a body read until close
    /// is not taken as complete: it was cut off.
    pub(crate) async fn next_event(&self) -> Result<ClientEvent, ReadFailure> {
        loop {
            let step = {
                let mut proto = self.proto.borrow_mut();
                match proto.poll(&mut self.rbuf.borrow_mut()) {
                    Ok(None) if self.eof.get() && self.closed_by.borrow().is_some() => {
                        return Err(self.cut_off(ReadFailure::Closed));
                    }
                    // A body only the close delimits, ended by a TLS close without
                    // close_notify: whoever closed the socket may have cut it off.
                    Ok(None)
                        if self.eof.get()
                            && proto.reading_until_close()
                            && self.stream.eof_truncated() =>
                    {
                        return Err(ReadFailure::Io(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the TLS connection closed without close_notify before the end of a body delimited by the close: the body may be cut off",
                        )));
                    }
                    Ok(None) if self.eof.get() => proto.on_eof(),
                    other => other,
                }
            };
            match step {
                Ok(Some(event)) => return Ok(event),
                Err(err) if err.is_closed_early() => {
                    return Err(self.cut_off(ReadFailure::Protocol(err)));
                }
                Err(err) => return Err(ReadFailure::Protocol(err)),
                Ok(None) if self.eof.get() => return Err(self.cut_off(ReadFailure::Closed)),
                Ok(None) => self.fill().await?,
            }
        }
    }

    /// The next event of a response whose connection may switch protocols:
    /// a head is taken from the stream up to its blank line and no further,
    /// so after a `101` the bytes that follow it are still the stream's, for
    /// the new protocol. Call it while a head is due (then
    /// [`next_event`](Self::next_event) for a body); the connection's own
    /// buffer must be empty.
    pub(crate) async fn next_head_event(&self) -> Result<ClientEvent, ReadFailure> {
        let max = self.proto.borrow().params().max_header_size;
        loop {
            let (len, end) = self.stream.with_read_buffer(|b| (b.len(), head_end(b)));
            // Past the limit without an end, the whole buffer goes to the
            // parser, which refuses it as too large.
            let take = match end {
                Some(end) => Some(end),
                None if len > max => Some(len),
                None => None,
            };
            if let Some(n) = take {
                let head = self.stream.take_read_buffer(n);
                self.rbuf.borrow_mut().extend_from_slice(&head);
                self.read_since_mark
                    .set(self.read_since_mark.get() + n as u64);
                // The head is whole, so this parses it (or finds it bad)
                // without reading more.
                return self.next_event().await;
            }
            if let Err(e) = self.stream.fill_read_buffer().await {
                // What came before the close is parsed as it is: a head cut off.
                let n = self.stream.read_buffer_len();
                let rest = self.stream.take_read_buffer(n);
                self.rbuf.borrow_mut().extend_from_slice(&rest);
                return match stream_closed_error(&e) {
                    Some(closed) => {
                        if closed.real_error().is_some() {
                            *self.closed_by.borrow_mut() = Some(e);
                        }
                        self.eof.set(true);
                        self.next_event().await
                    }
                    None => Err(ReadFailure::Io(e)),
                };
            }
        }
    }

    /// The read error that closed the stream, if one did, else `otherwise`.
    fn cut_off(&self, otherwise: ReadFailure) -> ReadFailure {
        self.closed_by.take().map_or(otherwise, ReadFailure::Io)
    }

    /// Reads more bytes into the connection's buffer, or notes the end.
    async fn fill(&self) -> Result<(), ReadFailure> {
        // Every fill takes all the stream holds, so the stream's buffer is
        // empty here and the fill waits for new bytes; unless a head was
        // read on its own (`next_head_event`), leaving its body behind.
        let result = match self.stream.read_buffer_len() {
            0 => self.stream.fill_read_buffer().await.map(drop),
            _ => Ok(()),
        };
        let n = self.stream.read_buffer_len();
        if n > 0 {
            self.stream
                .with_read_buffer(|data| self.rbuf.borrow_mut().extend_from_slice(data));
            self.stream.consume(n);
            self.read_since_mark
                .set(self.read_since_mark.get() + n as u64);
        }
        match result {
            Ok(_) => Ok(()),
            Err(e) => match stream_closed_error(&e) {
                Some(closed) => {
                    if closed.real_error().is_some() {
                        *self.closed_by.borrow_mut() = Some(e);
                    }
                    self.eof.set(true);
                    Ok(())
                }
                None => Err(ReadFailure::Io(e)),
            },
        }
    }
}

/// Where the response head at the start of `buf` ends (just past its blank
/// line), if it is all there. Blank lines before the status line are
/// skipped, as the parser skips them; a line may end with CRLF or a bare LF.
fn head_end(buf: &[u8]) -> Option<usize> {
    let start = buf.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let mut i = start;
    while let Some(at) = buf[i..].iter().position(|&b| b == b'\n') {
        let next = i + at + 1;
        match buf.get(next..) {
            Some([b'\n', ..]) => return Some(next + 1),
            Some([b'\r', b'\n', ..]) => return Some(next + 2),
            _ => i = next,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::head_end;

    #[test]
    fn where_a_head_ends() {
        let rows: &[(&[u8], Option<usize>)] = &[
            (b"", None),
            (b"\r\n\r\n", None),
            (b"HTTP/1.1 101 OK\r\n", None),
            (b"HTTP/1.1 101 OK\r\n\r", None),
            (b"HTTP/1.1 101 OK\r\n\r\n", Some(19)),
            (b"HTTP/1.1 101 OK\r\n\r\n\x81\x00", Some(19)),
            (b"HTTP/1.1 101 OK\nA: b\n\nrest", Some(22)),
            (b"HTTP/1.1 101 OK\r\nA: b\n\r\nrest", Some(24)),
            (b"\r\n\r\nHTTP/1.1 101 OK\r\n\r\nrest", Some(23)),
            (b"HTTP/1.1 101 OK\r\nA: b\r\n", None),
        ];
        for (buf, end) in rows {
            assert_eq!(head_end(buf), *end, "{:?}", String::from_utf8_lossy(buf));
        }
    }
}
