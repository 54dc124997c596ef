//! The read side: filling the read buffer from the transport, and the read methods.

use std::io;
use std::task::{Context, Poll};

use bytes::Bytes;
use regex::bytes::Regex;

use super::io_stream::IoStream;
use super::read_future::{End, FillReadBuffer, Op, ReadFuture, ReadInto, ReadState};
use super::state::{READ_BUDGET, State, set_waker};
use crate::buffer::{INITIAL_READ_SIZE, MAX_READ_SIZE};
use crate::error::{already_reading, read_buffer_full};

impl State {
    /// Books the result of one transport read of `asked` bytes; returns the byte count.
    fn after_read(&mut self, res: io::Result<usize>, asked: usize, drained_hint: bool) -> usize {
        match res {
            Ok(0) => {
                // A TLS end without close_notify is an end too, noted for readers whose
                // data only the close delimits (`eof_truncated`).
                self.eof_truncated = self
                    .transport
                    .as_ref()
                    .is_some_and(|t| t.eof_was_truncated());
                self.close(None);
                0
            }
            Ok(n) => {
                if n < asked {
                    if drained_hint && !self.read_closed {
                        self.read_ready = false;
                    }
                    if n < asked / 8 && self.read_size > INITIAL_READ_SIZE as u32 {
                        self.read_size /= 2;
                    }
                } else if self.read_size < MAX_READ_SIZE as u32 {
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
            // A full buffer is not yet too much: only a byte past it is (as in
            // Tornado, where the buffer must grow over the limit). So look for one; the
            // end of the stream, or nothing yet, is no error.
            let hint = t.short_read_means_drained();
            let mut probe = [0u8; 1];
            match t.read(&mut probe) {
                Ok(1) => {}
                res => {
                    self.after_read(res, 1, hint);
                    return;
                }
            }
            // What was buffered stays readable after the error, as in Tornado.
            let e = read_buffer_full(self.max_buffer_size);
            self.close(Some(e));
            return;
        }
        let hint = t.short_read_means_drained();
        let spare = self.rbuf.spare(self.read_size as usize, room);
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

    /// Whether the stream is open, closed, or closed by an error. A reset counts as a
    /// close, as in Tornado (whose `_is_connreset` errors are these).
    fn end(&self) -> End {
        if !self.closed {
            return End::Open;
        }
        match self.error.as_deref().map(io::Error::kind) {
            None
            | Some(
                io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::TimedOut,
            ) => End::Clean,
            Some(_) => End::Failed,
        }
    }

    /// Drives a pending read. `find` looks at the buffered data (and whether the stream
    /// reached a clean end) and says how many bytes complete the read, if it can
    /// complete; an `Err` from it closes the stream.
    pub(super) fn poll_read_with<F>(
        &mut self,
        cx: &mut Context<'_>,
        mut find: F,
    ) -> Poll<io::Result<usize>>
    where
        F: FnMut(&[u8], End) -> io::Result<Option<usize>>,
    {
        let mut budget = READ_BUDGET;
        loop {
            match find(self.rbuf.data(), self.end()) {
                Ok(Some(n)) => return Poll::Ready(Ok(n)),
                Ok(None) => {}
                Err(e) => {
                    // Tornado's way with an unsatisfiable read: close with it as the
                    // cause and fail the read as closed; what was received stays
                    // buffered for later reads.
                    self.close(Some(e));
                    return Poll::Ready(Err(self.closed_error()));
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

    /// Why a read cannot start while another is pending: the closed error once the
    /// stream is closed (the pending read is only waiting to fail too; Tornado says
    /// so rather than "already reading", to spare a caller that tells a closed
    /// connection from a bug a false alarm), else `ResourceBusy`.
    fn busy_error(&self) -> io::Error {
        if self.closed {
            self.closed_error()
        } else {
            already_reading()
        }
    }

    pub(super) fn start_read(&mut self) -> Result<u64, io::Error> {
        if self.reader.is_some() {
            return Err(self.busy_error());
        }
        let id = self.next_reader;
        self.next_reader = id.saturating_add(1);
        self.reader = Some(id);
        Ok(id.get())
    }

    /// Whether the pending read is the one with `id`.
    pub(super) fn is_reader(&self, id: u64) -> bool {
        self.reader.is_some_and(|r| r.get() == id)
    }

    pub(super) fn finish_read(&mut self, id: u64) {
        if self.is_reader(id) {
            self.reader = None;
            self.read_waker = None;
            self.rbuf.release_if_empty();
        }
    }
}

impl IoStream {
    pub(super) fn read_future<'a>(&self, op: Op<'a>) -> ReadFuture<'a> {
        let state = match self.shared.state.borrow_mut().start_read() {
            Ok(id) => ReadState::Active(self.shared.clone(), id),
            Err(e) => ReadState::Failed(Some(e)),
        };
        ReadFuture { state, op }
    }

    /// Reads until `delimiter` is found; resolves with the data up to and including it.
    ///
    /// With `max_bytes`, if the delimiter does not end within the first `max_bytes`
    /// bytes — even when it arrives in the same packet — the stream is closed with an
    /// [`UnsatisfiableReadError`](crate::UnsatisfiableReadError) as the cause and the
    /// read fails with the closed error ([`is_unsatisfiable_read`](crate::is_unsatisfiable_read)
    /// is true for it). The data received so far stays buffered and readable.
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let (a, b) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
    ///     a.write(b"HELO client\r\nQUIT\r\n").await.unwrap();
    ///     let line = b.read_until(b"\r\n", Some(1024)).await.unwrap();
    ///     assert_eq!(&line[..], b"HELO client\r\n");
    ///     let line = b.read_until(b"\r\n", Some(1024)).await.unwrap();
    ///     assert_eq!(&line[..], b"QUIT\r\n");
    /// });
    /// ```
    pub fn read_until<'a>(&self, delimiter: &'a [u8], max_bytes: Option<usize>) -> ReadFuture<'a> {
        self.read_future(Op::Until {
            delimiter,
            max_bytes,
            scanned: 0,
        })
    }

    /// Reads until `regex` matches; resolves with the data up to the end of the match.
    /// `max_bytes` as for [`read_until`](IoStream::read_until).
    ///
    /// ```
    /// use regex::bytes::Regex;
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let (a, b) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
    ///     // Lines may end in "\n" or "\r\n".
    ///     let line_end = Regex::new(r"\r?\n").unwrap();
    ///     a.write(b"unix\nwindows\r\n").await.unwrap();
    ///     assert_eq!(&b.read_until_regex(&line_end, None).await.unwrap()[..], b"unix\n");
    ///     assert_eq!(&b.read_until_regex(&line_end, None).await.unwrap()[..], b"windows\r\n");
    /// });
    /// ```
    pub fn read_until_regex<'a>(
        &self,
        regex: &'a Regex,
        max_bytes: Option<usize>,
    ) -> ReadFuture<'a> {
        self.read_future(Op::Regex { regex, max_bytes })
    }

    /// Reads `num_bytes` bytes. With `partial`, resolves as soon as any data is there,
    /// with at most `num_bytes` bytes (this is the "read whatever is available" call).
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let (a, b) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
    ///     a.write(b"0123456789").await.unwrap();
    ///     assert_eq!(&b.read_bytes(4, false).await.unwrap()[..], b"0123");
    ///     // Partial: whatever is there, up to 100 bytes.
    ///     assert_eq!(&b.read_bytes(100, true).await.unwrap()[..], b"456789");
    /// });
    /// ```
    pub fn read_bytes(&self, num_bytes: usize, partial: bool) -> ReadFuture<'static> {
        self.read_future(Op::Bytes { num_bytes, partial })
    }

    /// Reads until the stream closes; resolves with everything that arrived. Fails if
    /// the data exceeds the stream's `max_buffer_size`, or if an error other than a
    /// reset (which is taken for the peer's close, as in Tornado) closes the stream
    /// meanwhile: what came may then have been cut short. Started on a stream already
    /// closed, it resolves with what is buffered, whatever closed it.
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let (a, b) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
    ///     a.write(b"the whole ").await.unwrap();
    ///     a.write(b"response").await.unwrap();
    ///     a.close();
    ///     assert_eq!(&b.read_until_close().await.unwrap()[..], b"the whole response");
    ///     assert!(b.closed());
    /// });
    /// ```
    pub fn read_until_close(&self) -> ReadFuture<'static> {
        let after_close = self.shared.state.borrow().closed;
        self.read_future(Op::UntilClose { after_close })
    }

    /// Reads into `buf` until it is full (or, with `partial`, until at least one byte
    /// came); resolves with the number of bytes read. When nothing is buffered the
    /// transport reads straight into `buf`, with no intermediate copy.
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let (a, b) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
    ///     a.write(b"abcdef").await.unwrap();
    ///     let mut buf = [0u8; 4];
    ///     assert_eq!(b.read_into(&mut buf, false).await.unwrap(), 4); // fills it
    ///     assert_eq!(&buf, b"abcd");
    ///     let mut buf = [0u8; 4];
    ///     assert_eq!(b.read_into(&mut buf, true).await.unwrap(), 2); // what there is
    ///     assert_eq!(&buf[..2], b"ef");
    /// });
    /// ```
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
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let (a, b) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
    ///     a.write(b"GET / HTTP/1.1\r\n").await.unwrap();
    ///     while b.read_buffer_len() < 4 {
    ///         b.fill_read_buffer().await.unwrap();
    ///     }
    ///     // A look at the data, without taking it.
    ///     let is_get = b.with_read_buffer(|buf| buf.starts_with(b"GET "));
    ///     assert!(is_get);
    ///     let line = b.read_until(b"\r\n", None).await.unwrap();
    ///     assert_eq!(&line[..], b"GET / HTTP/1.1\r\n");
    /// });
    /// ```
    pub fn with_read_buffer<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        let st = self.shared.state.borrow();
        f(st.rbuf.data())
    }

    /// Drops the first `n` buffered bytes (all of them if fewer are buffered).
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let (a, b) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
    ///     // A byte-order mark before the text.
    ///     a.write(b"\xEF\xBB\xBFname=value\n").await.unwrap();
    ///     while b.read_buffer_len() < 3 {
    ///         b.fill_read_buffer().await.unwrap();
    ///     }
    ///     if b.with_read_buffer(|buf| buf.starts_with(b"\xEF\xBB\xBF")) {
    ///         b.consume(3);
    ///     }
    ///     assert_eq!(&b.read_until(b"\n", None).await.unwrap()[..], b"name=value\n");
    ///     b.consume(100); // more than is buffered: nothing left, no error
    ///     assert_eq!(b.read_buffer_len(), 0);
    /// });
    /// ```
    pub fn consume(&self, n: usize) {
        let mut st = self.shared.state.borrow_mut();
        st.rbuf.consume(n);
        if st.reader.is_none() {
            st.rbuf.release_if_empty();
        }
    }

    /// Removes and returns the first `n` buffered bytes (fewer if fewer are buffered),
    /// without copying.
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let (a, b) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
    ///     // A frame: a two-byte big-endian length, then the payload.
    ///     a.write(b"\x00\x05hello").await.unwrap();
    ///     while b.read_buffer_len() < 2 {
    ///         b.fill_read_buffer().await.unwrap();
    ///     }
    ///     let len = b.with_read_buffer(|buf| u16::from_be_bytes([buf[0], buf[1]])) as usize;
    ///     b.consume(2);
    ///     while b.read_buffer_len() < len {
    ///         b.fill_read_buffer().await.unwrap();
    ///     }
    ///     let payload = b.take_read_buffer(len);
    ///     assert_eq!(&payload[..], b"hello");
    ///     assert!(b.take_read_buffer(10).is_empty()); // nothing more buffered
    /// });
    /// ```
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

    /// Forgets that the socket was found drained, so the next read asks it again even
    /// if the loop has not reported it readable since. The loop learns of new bytes or
    /// a close only when it polls; a caller about to trust an idle stream (a pooled
    /// connection about to carry a request) after the loop was busy for a while can
    /// ask the socket itself, at the cost of one read call.
    ///
    /// ```
    /// use std::future::Future;
    /// use std::pin::pin;
    /// use std::task::{Context, Poll, Waker};
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let (a, b) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
    ///     a.write(b"x").await.unwrap();
    ///     assert_eq!(&b.read_bytes(1, false).await.unwrap()[..], b"x");
    ///     // Drained; then more comes while the loop does not poll.
    ///     let mut cx = Context::from_waker(Waker::noop());
    ///     {
    ///         let mut none = pin!(b.fill_read_buffer());
    ///         assert!(none.as_mut().poll(&mut cx).is_pending());
    ///     }
    ///     a.write(b"y").await.unwrap();
    ///     b.recheck_readable();
    ///     let mut some = pin!(b.fill_read_buffer());
    ///     assert!(matches!(some.as_mut().poll(&mut cx), Poll::Ready(Ok(1))));
    /// });
    /// ```
    pub fn recheck_readable(&self) {
        let mut st = self.shared.state.borrow_mut();
        if !st.closed {
            st.read_ready = true;
        }
    }

    /// Whether the stream ended without its transport's end-of-data notice: a TLS
    /// peer that closed the socket without `close_notify`. Such an end is taken as
    /// the end, as Tornado takes it, but data that only the close delimits (an HTTP
    /// body read until close) may have been cut off by whoever closed the socket; a
    /// reader of such data checks this. False for a plain socket.
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let (a, b) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
    ///     a.write(b"all of it").await.unwrap();
    ///     a.close();
    ///     assert_eq!(&b.read_until_close().await.unwrap()[..], b"all of it");
    ///     assert!(!b.eof_truncated()); // a socket's end is its end
    /// });
    /// ```
    pub fn eof_truncated(&self) -> bool {
        self.shared.state.borrow().eof_truncated
    }

    /// True while a read is pending.
    pub fn reading(&self) -> bool {
        self.shared.state.borrow().reader.is_some()
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
            return Poll::Ready(Err(st.busy_error()));
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
}
