//! [`IoStream`]: a buffered non-blocking stream with Tornado's read and write semantics.
//!
//! # Model
//!
//! The stream owns one [`Transport`] (a TCP or Unix socket, a pipe, a TLS session)
//! registered once with the current [`IoLoop`] for `READABLE | WRITABLE`,
//! edge-triggered. Two flags remember the readiness the loop reported; they are
//! cleared when a read or write says `WouldBlock`, or when it comes back short (a short
//! read proves the socket drained, so the read that would only say `EAGAIN` is skipped).
//!
//! * Reads are futures. At most one may be pending: a second one fails at once. A read
//!   is first served from the read buffer; only if that cannot satisfy it does the
//!   future read the transport (when polled, so no task wake-up is needed when data is
//!   already there).
//! * Writes are queued when `write` is *called*: the bytes go to the socket right away
//!   if it can take them, the rest is buffered and written by the loop's handler as the
//!   socket drains. The returned [`WriteFuture`] only observes completion; dropping it
//!   does not cancel the write (as in Tornado).
//! * An idle stream holds no heap buffer: the read buffer is allocated when a read
//!   needs it and freed when it is drained and no read is pending; the write buffer is
//!   freed when it is flushed.
//! * When the stream closes — [`close`](IoStream::close), end of file, an I/O error, or a
//!   read limit — the transport is deregistered and dropped, pending futures complete
//!   (a pending read with enough buffered data still succeeds), and the close callback
//!   is scheduled once on the loop.

use std::cell::{Ref, RefCell};
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use mio::Interest;
use regex::bytes::Regex;
use tornado_ioloop::{HandlerId, IoLoop, Ready};

use crate::buffer::{INITIAL_READ_SIZE, MAX_READ_SIZE, ReadBuffer, WriteBuffer};
use crate::error::{
    StreamClosedError, already_reading, read_buffer_full, unsatisfiable, write_buffer_full,
};
use crate::transport::Transport;

/// Default limit on buffered incoming data: 100 MiB (Tornado's `max_buffer_size`).
/// A stream whose read buffer reaches it is closed with an error.
pub const DEFAULT_MAX_BUFFER_SIZE: usize = 100 * 1024 * 1024;

/// How many transport reads one poll of a read future may make before it yields to the
/// loop, so that a fast peer cannot starve other work.
const READ_BUDGET: usize = 32;

/// A buffered, non-blocking stream over a [`Transport`]: Tornado's `IOStream`.
///
/// `IoStream` is a cheap handle (`Rc`); clones refer to the same stream, which lives until
/// the last handle and future are dropped (dropping it closes it). It belongs to the
/// loop that was current when it was created and must be used on that loop's thread.
///
/// ```
/// use tornado_ioloop::IoLoop;
/// use tornado_iostream::IoStream;
///
/// let io_loop = IoLoop::new().unwrap();
/// io_loop.run_sync(async {
///     let (a, b) = mio::net::UnixStream::pair().unwrap();
///     let (a, b) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
///     a.write(b"GET / HTTP/1.0\r\n\r\nbody").await.unwrap();
///     let head = b.read_until(b"\r\n\r\n", Some(64 * 1024)).await.unwrap();
///     assert_eq!(&head[..], b"GET / HTTP/1.0\r\n\r\n");
///     let body = b.read_bytes(4, false).await.unwrap();
///     assert_eq!(&body[..], b"body");
/// });
/// ```
#[derive(Clone)]
pub struct IoStream {
    shared: Rc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) state: RefCell<State>,
}

pub(crate) struct State {
    io_loop: IoLoop,
    pub(crate) transport: Option<Box<dyn Transport>>,
    handler: Option<HandlerId>,
    pub(crate) rbuf: ReadBuffer,
    read_size: usize,
    pub(crate) read_ready: bool,
    /// The loop reported the peer closed (or an error): a short read no longer proves
    /// the socket drained, since the end of file still waits to be read.
    read_closed: bool,
    write_ready: bool,
    /// The pending read future, by id.
    reader: Option<u64>,
    next_reader: u64,
    pub(crate) read_waker: Option<Waker>,
    /// Woken by any readiness: connect and handshake waiters.
    aux_waker: Option<Waker>,
    wbuf: WriteBuffer,
    /// Bytes ever queued, written to the transport, and known flushed past it.
    queued: u64,
    written: u64,
    confirmed: u64,
    write_waiters: Vec<(u64, Waker)>,
    max_buffer_size: usize,
    /// `usize::MAX`: no limit.
    max_write_buffer_size: usize,
    pub(crate) closed: bool,
    /// At close: the transport had no handshake in progress (TLS done, or no TLS).
    handshake_done: bool,
    overflowed: bool,
    error: Option<Arc<io::Error>>,
    close_callback: Option<Box<dyn FnOnce()>>,
}

fn wake(w: &mut Option<Waker>) {
    if let Some(w) = w.take() {
        w.wake();
    }
}

fn set_waker(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

/// A copy of `e` for a second caller: the same kind and message, and the same inner
/// error when it can be cloned (a TLS error stays a `rustls::Error`).
fn copy_error(e: &io::Error) -> io::Error {
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return io::Error::new(e.kind(), tls.clone());
    }
    io::Error::new(e.kind(), e.to_string())
}

impl State {
    pub(crate) fn closed_error(&self) -> io::Error {
        StreamClosedError::new(self.error.clone()).into_io_error()
    }

    /// Closes the stream (once): deregisters and drops the transport, wakes every
    /// waiter and schedules the close callback. Buffered read data stays readable.
    pub(crate) fn close(&mut self, cause: Option<io::Error>) {
        if self.closed {
            return;
        }
        self.closed = true;
        if let Some(e) = cause {
            log::debug!("closing stream: {e}");
            self.error = Some(Arc::new(e));
        }
        if let Some(mut t) = self.transport.take() {
            self.handshake_done = !t.is_handshaking();
            if let Some(id) = self.handler.take()
                && let Err(e) = self.io_loop.remove_handler(id, &mut *t)
            {
                log::debug!("removing a closed stream's handler: {e}");
            }
            t.on_close();
        }
        self.read_ready = false;
        self.write_ready = false;
        self.wbuf.release();
        wake(&mut self.read_waker);
        wake(&mut self.aux_waker);
        for (_, w) in self.write_waiters.drain(..) {
            w.wake();
        }
        if self.reader.is_none() {
            self.rbuf.release_if_empty();
        }
        if let Some(cb) = self.close_callback.take() {
            self.io_loop.add_callback(cb);
        }
    }

    /// Books the result of one transport read of `asked` bytes; returns the byte count.
    fn after_read(&mut self, res: io::Result<usize>, asked: usize, drained_hint: bool) -> usize {
        match res {
            Ok(0) => {
                self.close(None);
                0
            }
            Ok(n) => {
                if n < asked {
                    if drained_hint && !self.read_closed {
                        self.read_ready = false;
                    }
                    if n < asked / 8 && self.read_size > INITIAL_READ_SIZE {
                        self.read_size /= 2;
                    }
                } else if self.read_size < MAX_READ_SIZE {
                    self.read_size *= 2;
                }
                n
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.read_ready = false;
                0
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => {
                self.close(Some(e));
                0
            }
        }
    }

    /// One transport read into the read buffer.
    pub(crate) fn fill_once(&mut self) {
        let Some(t) = self.transport.as_mut() else {
            self.read_ready = false;
            return;
        };
        let room = self.max_buffer_size.saturating_sub(self.rbuf.len());
        if room == 0 {
            self.overflowed = true;
            self.rbuf.consume(self.rbuf.len());
            let e = read_buffer_full(self.max_buffer_size);
            self.close(Some(e));
            return;
        }
        let hint = t.short_read_means_drained();
        let spare = self.rbuf.spare(self.read_size, room);
        let asked = spare.len();
        let res = t.read(spare);
        if let Ok(n) = res {
            self.rbuf.commit(n);
        }
        self.after_read(res, asked, hint);
        // A TLS read may have finished the handshake or produced records to send, and
        // writes may be waiting on either.
        if !self.wbuf.is_empty()
            || self.confirmed != self.written
            || self
                .transport
                .as_ref()
                .is_some_and(|t| t.has_pending_output())
        {
            self.flush();
        }
    }

    /// One transport read straight into `out` (the read buffer being empty).
    pub(crate) fn read_direct(&mut self, out: &mut [u8]) -> usize {
        let Some(t) = self.transport.as_mut() else {
            self.read_ready = false;
            return 0;
        };
        let hint = t.short_read_means_drained();
        let res = t.read(out);
        self.after_read(res, out.len(), hint)
    }

    /// Drives a pending read. `find` looks at the buffered data (and whether the stream
    /// reached a clean end) and says how many bytes complete the read, if it can
    /// complete; an `Err` from it closes the stream.
    fn poll_read_with<F>(&mut self, cx: &mut Context<'_>, mut find: F) -> Poll<io::Result<usize>>
    where
        F: FnMut(&[u8], bool) -> io::Result<Option<usize>>,
    {
        let mut budget = READ_BUDGET;
        loop {
            let ended = self.closed && !self.overflowed;
            match find(self.rbuf.data(), ended) {
                Ok(Some(n)) => return Poll::Ready(Ok(n)),
                Ok(None) => {}
                Err(e) => {
                    // The data broke the reader's limit: it is not handed out later.
                    let copy = copy_error(&e);
                    let n = self.rbuf.len();
                    self.rbuf.consume(n);
                    self.close(Some(e));
                    return Poll::Ready(Err(copy));
                }
            }
            if self.closed {
                return Poll::Ready(Err(self.closed_error()));
            }
            if !self.read_ready {
                // Waiting with nothing buffered holds no buffer: thousands of idle
                // connections each waiting for a request cost no read memory.
                self.rbuf.release_if_empty();
                set_waker(&mut self.read_waker, cx);
                return Poll::Pending;
            }
            if budget == 0 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            budget -= 1;
            self.fill_once();
        }
    }

    fn start_read(&mut self) -> Result<u64, io::Error> {
        if self.reader.is_some() {
            return Err(already_reading());
        }
        self.next_reader += 1;
        self.reader = Some(self.next_reader);
        Ok(self.next_reader)
    }

    fn finish_read(&mut self, id: u64) {
        if self.reader == Some(id) {
            self.reader = None;
            self.read_waker = None;
            self.rbuf.release_if_empty();
        }
    }

    /// One transport write; `None` when nothing could be written (not writable, or the
    /// stream closed).
    fn write_some(&mut self, data: &[u8]) -> Option<usize> {
        loop {
            if !self.write_ready {
                return None;
            }
            let t = self.transport.as_mut()?;
            let hint = t.short_read_means_drained();
            match t.write(data) {
                Ok(0) if !data.is_empty() => {
                    self.close(Some(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "the transport accepted no bytes",
                    )));
                    return None;
                }
                Ok(n) => {
                    if n < data.len() && hint {
                        self.write_ready = false;
                    }
                    self.written += n as u64;
                    return Some(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.write_ready = false;
                    return None;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.close(Some(e));
                    return None;
                }
            }
        }
    }

    /// Writes as much of the write buffer (and the transport's own output) as the
    /// transport takes, then completes the write futures that are done.
    pub(crate) fn flush(&mut self) {
        while !self.wbuf.is_empty() {
            // The borrow of `wbuf` ends before `write_some` needs `self`: copy out the
            // front slice's length, write from a temporary split.
            let front = self.wbuf.front();
            let len = front.len();
            let res = {
                let t = match self.transport.as_mut() {
                    Some(t) if self.write_ready => t,
                    _ => break,
                };
                let hint = t.short_read_means_drained();
                (t.write(self.wbuf.front()), hint)
            };
            match res {
                (Ok(0), _) if len > 0 => {
                    self.close(Some(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "the transport accepted no bytes",
                    )));
                    return;
                }
                (Ok(n), hint) => {
                    self.wbuf.advance(n);
                    self.written += n as u64;
                    if n < len && hint {
                        self.write_ready = false;
                    }
                }
                (Err(e), _) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.write_ready = false;
                }
                (Err(e), _) if e.kind() == io::ErrorKind::Interrupted => {}
                (Err(e), _) => {
                    self.close(Some(e));
                    return;
                }
            }
        }
        if self.write_ready
            && let Some(t) = self.transport.as_mut()
            && t.has_pending_output()
        {
            match t.flush_pending() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.write_ready = false,
                Err(e) => {
                    self.close(Some(e));
                    return;
                }
            }
        }
        self.update_confirmed();
    }

    fn add_write_waiter(&mut self, end: u64, cx: &Context<'_>) {
        match self.write_waiters.iter_mut().find(|(e, _)| *e == end) {
            Some((_, w)) if w.will_wake(cx.waker()) => {}
            Some((_, w)) => *w = cx.waker().clone(),
            None => self.write_waiters.push((end, cx.waker().clone())),
        }
    }

    fn update_confirmed(&mut self) {
        let pending = self
            .transport
            .as_ref()
            .is_some_and(|t| t.has_pending_output());
        if !pending && self.confirmed != self.written {
            self.confirmed = self.written;
            let confirmed = self.confirmed;
            self.write_waiters.retain(|(end, w)| {
                if *end <= confirmed {
                    w.wake_by_ref();
                    false
                } else {
                    true
                }
            });
        }
    }

    /// Queues `data` (writing what the transport takes now, and buffering at most
    /// `buffer_cap` bytes in all of the rest); returns the position that marks the end
    /// of what was accepted, and how many bytes that is.
    fn queue_write(
        &mut self,
        data: &[u8],
        owned: Option<&Bytes>,
        buffer_cap: usize,
    ) -> io::Result<(u64, usize)> {
        if self.closed {
            return Err(self.closed_error());
        }
        if self.transport.as_ref().is_some_and(|t| !t.can_write()) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "this stream cannot be written (read-only pipe)",
            ));
        }
        let max = self.max_write_buffer_size;
        if self.wbuf.len().saturating_add(data.len()) > max {
            return Err(write_buffer_full(max));
        }
        let mut off = 0;
        if self.wbuf.is_empty() {
            while off < data.len() {
                match self.write_some(&data[off..]) {
                    Some(n) => off += n,
                    None => break,
                }
            }
            if self.closed {
                return Err(self.closed_error());
            }
        }
        let take = (data.len() - off).min(buffer_cap.saturating_sub(self.wbuf.len()));
        if take > 0 {
            match owned {
                Some(b) => self.wbuf.push_bytes(b.slice(off..off + take)),
                None => self.wbuf.push_slice(&data[off..off + take]),
            }
        }
        let accepted = off + take;
        self.queued += accepted as u64;
        if off > 0 {
            self.update_confirmed();
        }
        Ok((self.queued, accepted))
    }

    /// The loop's handler: readiness for the transport.
    fn on_ready(&mut self, ready: Ready) {
        if self.closed {
            return;
        }
        let hup = ready.is_read_closed() || ready.is_error();
        if ready.is_readable() || hup {
            self.read_ready = true;
            self.read_closed |= hup;
            wake(&mut self.read_waker);
            wake(&mut self.aux_waker);
        }
        if ready.is_writable() || ready.is_write_closed() || ready.is_error() {
            self.write_ready = true;
            wake(&mut self.aux_waker);
            if !self.wbuf.is_empty()
                || self
                    .transport
                    .as_ref()
                    .is_some_and(|t| t.has_pending_output())
            {
                self.flush();
            }
        }
        if self.closed || self.reader.is_some() || !self.read_ready || !self.wbuf.is_empty() {
            return;
        }
        let Some(t) = self.transport.as_ref() else {
            return;
        };
        // Nobody is reading: read anyway to notice the peer closing (so the close
        // callback runs) or to move a TLS handshake along. `read_closed` is sticky, so
        // a hang-up seen while output was queued is acted on once it has drained.
        if !(self.read_closed || t.is_handshaking()) {
            return;
        }
        if !t.can_read() {
            self.close(Some(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the other end of the pipe was closed",
            )));
            return;
        }
        let mut budget = READ_BUDGET;
        while self.read_ready && !self.closed && budget > 0 {
            budget -= 1;
            self.fill_once();
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.state.get_mut().close(None);
    }
}

impl fmt::Debug for IoStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.shared.state.try_borrow() {
            Ok(st) => f
                .debug_struct("IoStream")
                .field("transport", &st.transport)
                .field("closed", &st.closed)
                .field("read_buffered", &st.rbuf.len())
                .field("write_buffered", &st.wbuf.len())
                .field("reading", &st.reader.is_some())
                .finish_non_exhaustive(),
            Err(_) => f.debug_struct("IoStream").finish_non_exhaustive(),
        }
    }
}

impl IoStream {
    /// Wraps `transport` (for example a connected `mio::net::TcpStream`) and registers it
    /// with the current loop ([`IoLoop::current`]).
    pub fn new<T: Transport>(transport: T) -> io::Result<IoStream> {
        IoStream::from_boxed(Box::new(transport))
    }

    /// Like [`new`](IoStream::new), for an already boxed transport (as
    /// [`Detached`] gives back).
    pub fn from_boxed(transport: Box<dyn Transport>) -> io::Result<IoStream> {
        IoStream::with_transport(transport, true)
    }

    fn with_transport(mut transport: Box<dyn Transport>, writable: bool) -> io::Result<IoStream> {
        let io_loop = IoLoop::current();
        let shared = Rc::new_cyclic(|weak: &Weak<Shared>| {
            let weak = weak.clone();
            let handler = io_loop.add_handler(
                &mut *transport,
                Interest::READABLE | Interest::WRITABLE,
                move |ready| {
                    if let Some(shared) = weak.upgrade() {
                        shared.state.borrow_mut().on_ready(ready);
                    }
                },
            );
            let (handler, error) = match handler {
                Ok(id) => (Some(id), None),
                Err(e) => (None, Some(e)),
            };
            let mut state = State {
                io_loop: io_loop.clone(),
                transport: Some(transport),
                handler,
                rbuf: ReadBuffer::default(),
                read_size: INITIAL_READ_SIZE,
                read_ready: true,
                read_closed: false,
                write_ready: writable,
                reader: None,
                next_reader: 0,
                read_waker: None,
                aux_waker: None,
                wbuf: WriteBuffer::default(),
                queued: 0,
                written: 0,
                confirmed: 0,
                write_waiters: Vec::new(),
                max_buffer_size: DEFAULT_MAX_BUFFER_SIZE,
                max_write_buffer_size: usize::MAX,
                closed: false,
                handshake_done: false,
                overflowed: false,
                error: None,
                close_callback: None,
            };
            if let Some(e) = error {
                state.closed = true;
                state.error = Some(Arc::new(e));
                state.transport = None;
            }
            Shared {
                state: RefCell::new(state),
            }
        });
        let err = {
            let st = shared.state.borrow();
            st.error.as_ref().map(|e| copy_error(e))
        };
        match err {
            Some(e) => Err(e),
            None => Ok(IoStream { shared }),
        }
    }

    /// Connects a TCP stream to `addr` without blocking (Tornado's `IOStream.connect`).
    ///
    /// Fails with the connect error (`ConnectionRefused`, …). For name resolution,
    /// happy eyeballs and timeouts use `TcpClient`.
    pub async fn connect(addr: SocketAddr) -> io::Result<IoStream> {
        let socket = mio::net::TcpStream::connect(addr)?;
        let stream = IoStream::with_transport(Box::new(socket), false)?;
        std::future::poll_fn(|cx| stream.poll_connected(cx)).await?;
        Ok(stream)
    }

    fn poll_connected(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut st = self.shared.state.borrow_mut();
        if st.closed {
            // Report the connect error itself (`ConnectionRefused`, …).
            return Poll::Ready(Err(match &st.error {
                Some(e) => copy_error(e),
                None => st.closed_error(),
            }));
        }
        if !st.write_ready {
            set_waker(&mut st.aux_waker, cx);
            return Poll::Pending;
        }
        let Some(t) = st.transport.as_ref() else {
            return Poll::Ready(Err(st.closed_error()));
        };
        let failed = match t.take_error() {
            Ok(Some(e)) | Err(e) => Some(e),
            Ok(None) => match t.peer_addr() {
                Ok(_) => None,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    st.write_ready = false;
                    set_waker(&mut st.aux_waker, cx);
                    return Poll::Pending;
                }
                Err(e) => Some(e),
            },
        };
        match failed {
            None => Poll::Ready(Ok(())),
            Some(e) => {
                let copy = copy_error(&e);
                st.close(Some(e));
                Poll::Ready(Err(copy))
            }
        }
    }

    fn read_future<'a>(&self, op: Op<'a>) -> ReadFuture<'a> {
        let state = match self.shared.state.borrow_mut().start_read() {
            Ok(id) => ReadState::Active(self.shared.clone(), id),
            Err(e) => ReadState::Failed(Some(e)),
        };
        ReadFuture { state, op }
    }

    /// Reads until `delimiter` is found; resolves with the data up to and including it.
    ///
    /// With `max_bytes`, if the delimiter does not end within the first `max_bytes`
    /// bytes, the read fails with `InvalidData` and the stream is closed — even when the
    /// delimiter arrives in the same packet (Tornado's `UnsatisfiableReadError`).
    pub fn read_until<'a>(&self, delimiter: &'a [u8], max_bytes: Option<usize>) -> ReadFuture<'a> {
        self.read_future(Op::Until {
            delimiter,
            max_bytes,
            scanned: 0,
        })
    }

    /// Reads until `regex` matches; resolves with the data up to the end of the match.
    /// `max_bytes` as for [`read_until`](IoStream::read_until).
    pub fn read_until_regex<'a>(
        &self,
        regex: &'a Regex,
        max_bytes: Option<usize>,
    ) -> ReadFuture<'a> {
        self.read_future(Op::Regex { regex, max_bytes })
    }

    /// Reads `num_bytes` bytes. With `partial`, resolves as soon as any data is there,
    /// with at most `num_bytes` bytes (this is the "read whatever is available" call).
    pub fn read_bytes(&self, num_bytes: usize, partial: bool) -> ReadFuture<'static> {
        self.read_future(Op::Bytes { num_bytes, partial })
    }

    /// Reads until the stream closes; resolves with everything that arrived. Fails if
    /// the data exceeds the stream's `max_buffer_size`.
    pub fn read_until_close(&self) -> ReadFuture<'static> {
        self.read_future(Op::UntilClose)
    }

    /// Reads into `buf` until it is full (or, with `partial`, until at least one byte
    /// came); resolves with the number of bytes read. When nothing is buffered the
    /// transport reads straight into `buf`, with no intermediate copy.
    pub fn read_into<'a>(&self, buf: &'a mut [u8], partial: bool) -> ReadInto<'a> {
        let state = match self.shared.state.borrow_mut().start_read() {
            Ok(id) => ReadState::Active(self.shared.clone(), id),
            Err(e) => ReadState::Failed(Some(e)),
        };
        ReadInto {
            state,
            buf,
            filled: 0,
            partial,
        }
    }

    /// Low-level read for protocol code (the HTTP layer): waits until more data is in
    /// the read buffer than when it was called and resolves with the buffered length.
    /// Fails with the closed error once the stream is closed and nothing more can come.
    ///
    /// Parse in place with [`with_read_buffer`](IoStream::with_read_buffer), then drop
    /// what was used with [`consume`](IoStream::consume) or take it with
    /// [`take_read_buffer`](IoStream::take_read_buffer); call this again only when the
    /// buffer does not hold a complete message. It counts as the pending read.
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// io_loop.run_sync(async {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let (a, b) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
    ///     a.write(b"one\ntwo\n").await.unwrap();
    ///     let mut lines = Vec::new();
    ///     while lines.len() < 2 {
    ///         let line = b.with_read_buffer(|buf| buf.iter().position(|&c| c == b'\n'));
    ///         match line {
    ///             Some(i) => lines.push(b.take_read_buffer(i + 1)),
    ///             None => {
    ///                 b.fill_read_buffer().await.unwrap();
    ///             }
    ///         }
    ///     }
    ///     assert_eq!(&lines[1][..], b"two\n");
    /// });
    /// ```
    pub fn fill_read_buffer(&self) -> FillReadBuffer {
        let st = &mut *self.shared.state.borrow_mut();
        let before = st.rbuf.len();
        let state = match st.start_read() {
            Ok(id) => ReadState::Active(self.shared.clone(), id),
            Err(e) => ReadState::Failed(Some(e)),
        };
        FillReadBuffer { state, before }
    }

    /// Calls `f` with the buffered, not yet consumed data (possibly empty). `f` must not
    /// call back into this stream.
    pub fn with_read_buffer<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        let st = self.shared.state.borrow();
        f(st.rbuf.data())
    }

    /// Drops the first `n` buffered bytes (all of them if fewer are buffered).
    pub fn consume(&self, n: usize) {
        let mut st = self.shared.state.borrow_mut();
        st.rbuf.consume(n);
        if st.reader.is_none() {
            st.rbuf.release_if_empty();
        }
    }

    /// Removes and returns the first `n` buffered bytes (fewer if fewer are buffered),
    /// without copying.
    pub fn take_read_buffer(&self, n: usize) -> Bytes {
        let mut st = self.shared.state.borrow_mut();
        let b = st.rbuf.take(n);
        if st.reader.is_none() {
            st.rbuf.release_if_empty();
        }
        b
    }

    /// How many received bytes are buffered and not yet read.
    pub fn read_buffer_len(&self) -> usize {
        self.shared.state.borrow().rbuf.len()
    }

    /// How many bytes are queued for writing and not yet written to the transport.
    pub fn write_buffer_len(&self) -> usize {
        self.shared.state.borrow().wbuf.len()
    }

    /// Heap bytes held by the read and write buffers: zero for an idle stream.
    pub fn buffered_capacity(&self) -> usize {
        let st = self.shared.state.borrow();
        st.rbuf.capacity() + st.wbuf.capacity()
    }

    /// Queues `data` for writing and starts writing it at once; the future resolves
    /// when it (and everything queued before it) has been written to the transport.
    ///
    /// Fails if the stream is closed, or if `max_write_buffer_size` would be exceeded
    /// (kind `WouldBlock`; the stream stays open). Only the part the socket does not take
    /// right away is copied.
    pub fn write(&self, data: &[u8]) -> WriteFuture {
        let res = self
            .shared
            .state
            .borrow_mut()
            .queue_write(data, None, usize::MAX);
        self.write_future(res)
    }

    /// Like [`write`](IoStream::write) for data already in a [`Bytes`]: what cannot be
    /// written at once is queued without copying.
    pub fn write_bytes(&self, data: Bytes) -> WriteFuture {
        let res = self
            .shared
            .state
            .borrow_mut()
            .queue_write(&data, Some(&data), usize::MAX);
        self.write_future(res)
    }

    /// Resolves when everything queued so far has been written.
    pub fn flush(&self) -> WriteFuture {
        let res = self
            .shared
            .state
            .borrow_mut()
            .queue_write(&[], None, usize::MAX);
        self.write_future(res)
    }

    fn write_future(&self, res: io::Result<(u64, usize)>) -> WriteFuture {
        match res {
            Ok((end, _)) => WriteFuture {
                state: WriteState::Waiting(self.shared.clone(), end),
            },
            Err(e) => WriteFuture {
                state: WriteState::Failed(Some(e)),
            },
        }
    }

    /// Closes the stream: pending reads fail (unless the buffered data satisfies them),
    /// pending writes fail, queued output is dropped, and the close callback is
    /// scheduled. Closing a closed stream does nothing.
    pub fn close(&self) {
        self.shared.state.borrow_mut().close(None);
    }

    /// Half-closes: stops sending (the peer reads an end of file) while reading goes on.
    /// Fails if the stream is closed, if output is still queued (flush first), or if
    /// the transport cannot half-close (`Unsupported`).
    pub fn shutdown_write(&self) -> io::Result<()> {
        let mut st = self.shared.state.borrow_mut();
        if st.closed {
            return Err(st.closed_error());
        }
        if !st.wbuf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "output is still queued: flush before shutdown_write",
            ));
        }
        match st.transport.as_mut() {
            Some(t) => t.shutdown_write(),
            None => Err(st.closed_error()),
        }
    }

    /// True once the stream is closed (by [`close`](IoStream::close), end of file or an
    /// error). Data received before that may still be buffered and readable.
    pub fn closed(&self) -> bool {
        self.shared.state.borrow().closed
    }

    /// The error that closed the stream, if one did (`None` for a clean close).
    pub fn error(&self) -> Option<Arc<io::Error>> {
        self.shared.state.borrow().error.clone()
    }

    /// Sets the function run (once, on the loop) when the stream closes; it replaces a
    /// previous one. If the stream is already closed it is scheduled at once.
    pub fn set_close_callback<F: FnOnce() + 'static>(&self, callback: F) {
        let mut st = self.shared.state.borrow_mut();
        if st.closed {
            st.io_loop.add_callback(callback);
        } else {
            st.close_callback = Some(Box::new(callback));
        }
    }

    /// Removes the close callback, if any.
    pub fn clear_close_callback(&self) {
        self.shared.state.borrow_mut().close_callback = None;
    }

    /// True while a read is pending.
    pub fn reading(&self) -> bool {
        self.shared.state.borrow().reader.is_some()
    }

    /// True while written data waits in the write buffer.
    pub fn writing(&self) -> bool {
        !self.shared.state.borrow().wbuf.is_empty()
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm) on TCP streams; does nothing on
    /// other transports or on a closed stream.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        match self.shared.state.borrow().transport.as_ref() {
            Some(t) => t.set_nodelay(nodelay),
            None => Ok(()),
        }
    }

    /// The limit on buffered incoming data ([`DEFAULT_MAX_BUFFER_SIZE`] unless set).
    pub fn max_buffer_size(&self) -> usize {
        self.shared.state.borrow().max_buffer_size
    }

    /// Sets the limit on buffered incoming data (at least 1 byte).
    pub fn set_max_buffer_size(&self, max: usize) {
        self.shared.state.borrow_mut().max_buffer_size = max.max(1);
    }

    /// Sets the limit on queued outgoing data (`None`, the default, for no limit).
    pub fn set_max_write_buffer_size(&self, max: Option<usize>) {
        self.shared.state.borrow_mut().max_write_buffer_size = max.unwrap_or(usize::MAX);
    }

    /// The peer's address (TCP, TLS over TCP).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        let st = self.shared.state.borrow();
        match st.transport.as_ref() {
            Some(t) => t.peer_addr(),
            None => Err(st.closed_error()),
        }
    }

    /// The local address (TCP, TLS over TCP).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let st = self.shared.state.borrow();
        match st.transport.as_ref() {
            Some(t) => t.local_addr(),
            None => Err(st.closed_error()),
        }
    }

    /// Borrows the transport (for example to query it); `None` once closed. Do not
    /// read or write through it.
    pub fn transport(&self) -> Option<Ref<'_, dyn Transport>> {
        Ref::filter_map(self.shared.state.borrow(), |st| st.transport.as_deref()).ok()
    }

    /// `AsyncRead::poll_read`: buffered data first, then the transport straight into
    /// `out`. `Ok(0)` at a clean end of stream.
    pub(crate) fn poll_read_into(
        &self,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut st = self.shared.state.borrow_mut();
        if st.reader.is_some() {
            return Poll::Ready(Err(already_reading()));
        }
        if out.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut budget = READ_BUDGET;
        loop {
            if st.rbuf.len() > 0 {
                let n = st.rbuf.copy_to(out);
                st.rbuf.release_if_empty();
                return Poll::Ready(Ok(n));
            }
            if st.closed {
                return Poll::Ready(match st.error {
                    None => Ok(0),
                    Some(_) => Err(st.closed_error()),
                });
            }
            if !st.read_ready {
                set_waker(&mut st.read_waker, cx);
                return Poll::Pending;
            }
            if budget == 0 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            budget -= 1;
            let n = st.read_direct(out);
            if n > 0 {
                return Poll::Ready(Ok(n));
            }
        }
    }

    /// `AsyncWrite::poll_write`: queues `data` unless more than `high_water` bytes wait.
    pub(crate) fn poll_write_from(
        &self,
        cx: &mut Context<'_>,
        data: &[u8],
        high_water: usize,
    ) -> Poll<io::Result<usize>> {
        let mut st = self.shared.state.borrow_mut();
        if st.closed {
            return Poll::Ready(Err(st.closed_error()));
        }
        if st.wbuf.len() >= high_water {
            st.flush();
            if st.wbuf.len() >= high_water && !st.closed {
                // Wake once half of the backlog has gone out.
                let end = st.queued - (st.wbuf.len() / 2) as u64;
                st.add_write_waiter(end, cx);
                return Poll::Pending;
            }
        }
        Poll::Ready(st.queue_write(data, None, high_water).map(|(_, n)| n))
    }

    /// `AsyncWrite::poll_flush`: ready when everything queued has been written.
    pub(crate) fn poll_flush_all(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut st = self.shared.state.borrow_mut();
        st.update_confirmed();
        if st.confirmed >= st.queued {
            return Poll::Ready(Ok(()));
        }
        if st.closed {
            return Poll::Ready(Err(st.closed_error()));
        }
        st.flush();
        if st.confirmed >= st.queued {
            return Poll::Ready(Ok(()));
        }
        let end = st.queued;
        st.add_write_waiter(end, cx);
        Poll::Pending
    }

    /// Replaces the transport with a layer over it (TLS), keeping the registration.
    pub(crate) fn wrap_transport(
        &self,
        wrap: impl FnOnce(Box<dyn Transport>) -> Box<dyn Transport>,
    ) -> io::Result<()> {
        let mut st = self.shared.state.borrow_mut();
        if st.closed {
            return Err(st.closed_error());
        }
        if st.reader.is_some() || st.rbuf.len() > 0 || !st.wbuf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the stream is not idle (pending read, buffered input or queued output); \
                 cannot start TLS",
            ));
        }
        let Some(inner) = st.transport.take() else {
            return Err(st.closed_error());
        };
        st.transport = Some(wrap(inner));
        st.flush();
        Ok(())
    }

    /// Drives a TLS handshake; ready when there is none in progress.
    pub(crate) fn poll_handshake(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut st = self.shared.state.borrow_mut();
        let mut budget = READ_BUDGET;
        loop {
            if st.closed {
                // The handshake may have completed in the same read that met the end
                // of the stream: then the data that came with it is still readable.
                if st.handshake_done {
                    return Poll::Ready(Ok(()));
                }
                return Poll::Ready(Err(match &st.error {
                    Some(e) => copy_error(e),
                    None => st.closed_error(),
                }));
            }
            if !st.transport.as_ref().is_some_and(|t| t.is_handshaking()) {
                return Poll::Ready(Ok(()));
            }
            if st.write_ready
                && st
                    .transport
                    .as_ref()
                    .is_some_and(|t| t.has_pending_output())
            {
                // Ends with the records written or the socket full.
                st.flush();
                if st.closed {
                    continue;
                }
            }
            if !st.read_ready || budget == 0 {
                if budget == 0 {
                    cx.waker().wake_by_ref();
                }
                set_waker(&mut st.aux_waker, cx);
                return Poll::Pending;
            }
            budget -= 1;
            st.fill_once();
        }
    }

    /// Takes the transport back (for a protocol upgrade): deregisters it and leaves this
    /// stream closed, without running the close callback. Fails if a read is pending or
    /// output is still queued. Data already buffered comes along in
    /// [`Detached::read_buffer`].
    pub fn detach(&self) -> io::Result<Detached> {
        let mut st = self.shared.state.borrow_mut();
        if st.closed {
            return Err(st.closed_error());
        }
        if st.reader.is_some() || !st.wbuf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::ResourceBusy,
                "cannot detach a stream with a pending read or queued output",
            ));
        }
        let Some(mut transport) = st.transport.take() else {
            return Err(st.closed_error());
        };
        if let Some(id) = st.handler.take() {
            st.io_loop.remove_handler(id, &mut *transport)?;
        }
        st.close_callback = None;
        let n = st.rbuf.len();
        let read_buffer = st.rbuf.take(n);
        st.rbuf.release_if_empty();
        st.close(None);
        Ok(Detached {
            transport,
            read_buffer,
        })
    }
}

/// A transport taken back from a stream by [`IoStream::detach`].
#[derive(Debug)]
pub struct Detached {
    /// The transport, deregistered from the loop.
    pub transport: Box<dyn Transport>,
    /// Data the stream had received and nobody had read.
    pub read_buffer: Bytes,
}

impl Detached {
    /// The transport as its concrete type (e.g. `mio::net::TcpStream`), or `None` if it is
    /// another type.
    pub fn downcast<T: Transport>(self) -> Option<T> {
        self.transport.into_any().downcast::<T>().ok().map(|b| *b)
    }
}

enum ReadState {
    Active(Rc<Shared>, u64),
    Failed(Option<io::Error>),
    Done,
}

impl ReadState {
    /// Ends the read: dropping the `Active` value frees the stream's reader slot.
    fn finish(&mut self) {
        *self = ReadState::Done;
    }

    /// The stream of an active read; the error of a read that could not start (once),
    /// or of a read polled after it completed.
    fn shared(&mut self) -> io::Result<Rc<Shared>> {
        match self {
            ReadState::Active(shared, _) => Ok(shared.clone()),
            ReadState::Failed(e) => {
                let e = e.take();
                *self = ReadState::Done;
                Err(e.unwrap_or_else(already_polled))
            }
            ReadState::Done => Err(already_polled()),
        }
    }
}

impl Drop for ReadState {
    fn drop(&mut self) {
        if let ReadState::Active(shared, id) = self
            && let Ok(mut st) = shared.state.try_borrow_mut()
        {
            st.finish_read(*id);
        }
    }
}

impl fmt::Debug for ReadState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadState::Active(_, id) => write!(f, "Active({id})"),
            ReadState::Failed(e) => write!(f, "Failed({e:?})"),
            ReadState::Done => f.write_str("Done"),
        }
    }
}

#[derive(Debug)]
enum Op<'a> {
    Until {
        delimiter: &'a [u8],
        max_bytes: Option<usize>,
        scanned: usize,
    },
    Regex {
        regex: &'a Regex,
        max_bytes: Option<usize>,
    },
    Bytes {
        num_bytes: usize,
        partial: bool,
    },
    UntilClose,
}

/// Finds `needle` in `hay` (`needle` not empty).
fn find_subslice(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut from = 0;
    while from + needle.len() <= hay.len() {
        let i = from
            + hay[from..=hay.len() - needle.len()]
                .iter()
                .position(|&b| b == first)?;
        if hay[i + 1..i + needle.len()] == *rest {
            return Some(i);
        }
        from = i + 1;
    }
    None
}

impl Op<'_> {
    /// How many bytes complete the read, if the buffer holds enough.
    fn find(&mut self, data: &[u8], ended: bool) -> io::Result<Option<usize>> {
        match self {
            Op::Until {
                delimiter,
                max_bytes,
                scanned,
            } => {
                if delimiter.is_empty() {
                    return Ok(Some(0));
                }
                // The buffer only grows under a pending read, but stay safe if not.
                *scanned = (*scanned).min(data.len());
                match find_subslice(&data[*scanned..], delimiter) {
                    Some(i) => {
                        let end = *scanned + i + delimiter.len();
                        match *max_bytes {
                            Some(max) if end > max => Err(unsatisfiable("delimiter", max)),
                            _ => Ok(Some(end)),
                        }
                    }
                    None => {
                        *scanned = data.len().saturating_sub(delimiter.len() - 1);
                        match *max_bytes {
                            // A match found later would end past `max`.
                            Some(max) if data.len() >= max => Err(unsatisfiable("delimiter", max)),
                            _ => Ok(None),
                        }
                    }
                }
            }
            Op::Regex { regex, max_bytes } => match regex.find(data) {
                Some(m) => match *max_bytes {
                    Some(max) if m.end() > max => Err(unsatisfiable("regex", max)),
                    _ => Ok(Some(m.end())),
                },
                None => match *max_bytes {
                    Some(max) if data.len() > max => Err(unsatisfiable("regex", max)),
                    _ => Ok(None),
                },
            },
            Op::Bytes { num_bytes, partial } => {
                if data.len() >= *num_bytes {
                    Ok(Some(*num_bytes))
                } else if *partial && !data.is_empty() {
                    Ok(Some(data.len()))
                } else {
                    Ok(None)
                }
            }
            Op::UntilClose => Ok(ended.then_some(data.len())),
        }
    }
}

/// The future of a read that resolves with [`Bytes`]: returned by
/// [`IoStream::read_until`], [`read_until_regex`](IoStream::read_until_regex),
/// [`read_bytes`](IoStream::read_bytes) and [`read_until_close`](IoStream::read_until_close).
///
/// The read is registered when the method is called (so a second read started before
/// this one completes fails); dropping the future cancels it, leaving the data buffered.
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct ReadFuture<'a> {
    state: ReadState,
    op: Op<'a>,
}

impl Future for ReadFuture<'_> {
    type Output = io::Result<Bytes>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<Bytes>> {
        let this = self.get_mut();
        let shared = match this.state.shared() {
            Ok(shared) => shared,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let mut st = shared.state.borrow_mut();
        let op = &mut this.op;
        let res = match st.poll_read_with(cx, |data, ended| op.find(data, ended)) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(n)) => Ok(st.rbuf.take(n)),
            Poll::Ready(Err(e)) => Err(e),
        };
        drop(st);
        this.state.finish();
        Poll::Ready(res)
    }
}

fn already_polled() -> io::Error {
    io::Error::other("read future polled after completion")
}

/// The future of [`IoStream::read_into`]: resolves with the number of bytes read.
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct ReadInto<'a> {
    state: ReadState,
    buf: &'a mut [u8],
    filled: usize,
    partial: bool,
}

impl Future for ReadInto<'_> {
    type Output = io::Result<usize>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let shared = match this.state.shared() {
            Ok(shared) => shared,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let mut st = shared.state.borrow_mut();
        let mut budget = READ_BUDGET;
        let res = loop {
            this.filled += st.rbuf.copy_to(&mut this.buf[this.filled..]);
            if this.filled == this.buf.len() || (this.partial && this.filled > 0) {
                break Ok(this.filled);
            }
            if st.closed {
                break Err(st.closed_error());
            }
            if !st.read_ready {
                set_waker(&mut st.read_waker, cx);
                return Poll::Pending;
            }
            if budget == 0 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            budget -= 1;
            this.filled += st.read_direct(&mut this.buf[this.filled..]);
        };
        drop(st);
        this.state.finish();
        Poll::Ready(res)
    }
}

/// The future of [`IoStream::fill_read_buffer`]: resolves with the buffered length.
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct FillReadBuffer {
    state: ReadState,
    before: usize,
}

impl Future for FillReadBuffer {
    type Output = io::Result<usize>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let shared = match this.state.shared() {
            Ok(shared) => shared,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let mut st = shared.state.borrow_mut();
        let before = this.before;
        let res = match st.poll_read_with(cx, |data, _| Ok((data.len() > before).then_some(0))) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(_)) => Ok(st.rbuf.len()),
            Poll::Ready(Err(e)) => Err(e),
        };
        // Keep the buffer: the caller is about to parse it.
        if let ReadState::Active(_, id) = this.state
            && st.reader == Some(id)
        {
            st.reader = None;
            st.read_waker = None;
        }
        drop(st);
        this.state = ReadState::Done;
        Poll::Ready(res)
    }
}

enum WriteState {
    Waiting(Rc<Shared>, u64),
    Failed(Option<io::Error>),
}

/// The future of [`IoStream::write`]: resolves when the data has been written.
///
/// The write is queued when `write` is called; awaiting this only observes it, and
/// dropping it does not cancel it.
#[must_use = "the write is queued anyway; await this to know it completed"]
pub struct WriteFuture {
    state: WriteState,
}

impl fmt::Debug for WriteFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.state {
            WriteState::Waiting(_, end) => write!(f, "WriteFuture(until byte {end})"),
            WriteState::Failed(e) => write!(f, "WriteFuture(failed: {e:?})"),
        }
    }
}

impl Future for WriteFuture {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match &mut this.state {
            WriteState::Failed(e) => Poll::Ready(Err(e
                .take()
                .unwrap_or_else(|| io::Error::other("write future polled after completion")))),
            WriteState::Waiting(shared, end) => {
                let end = *end;
                let mut st = shared.state.borrow_mut();
                if st.confirmed < end {
                    st.update_confirmed();
                }
                if st.confirmed >= end {
                    return Poll::Ready(Ok(()));
                }
                if st.closed {
                    return Poll::Ready(Err(st.closed_error()));
                }
                st.add_write_waiter(end, cx);
                Poll::Pending
            }
        }
    }
}
