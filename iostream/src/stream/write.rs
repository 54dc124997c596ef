//! The write side: queueing, flushing to the transport, and [`WriteFuture`].

use std::fmt;
use std::fs::File;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::Bytes;

use super::io_stream::IoStream;
use super::state::{Shared, State};
use crate::buffer::Front;
use crate::error::write_buffer_full;
use crate::transport::Transport;

impl State {
    /// One transport write; `None` when nothing could be written (not writable, or the
    /// stream closed).
    fn write_some(&mut self, data: &[u8]) -> Option<usize> {
        self.write_some_with(data.len(), |t| t.write(data))
    }

    /// One vectored transport write of `slices`, as [`write_some`](Self::write_some).
    /// A transport that does not write vectored is offered the first non-empty slice
    /// alone, so that a short write still means a full transport.
    fn write_some_vectored(&mut self, slices: &[IoSlice<'_>]) -> Option<usize> {
        if !self.transport.as_ref()?.is_write_vectored() {
            let first = slices.iter().find(|s| !s.is_empty())?;
            return self.write_some(first);
        }
        let offered = slices.iter().map(|s| s.len()).sum();
        self.write_some_with(offered, |t| t.write_vectored(slices))
    }

    #[inline]
    fn write_some_with(
        &mut self,
        offered: usize,
        mut write: impl FnMut(&mut dyn Transport) -> io::Result<usize>,
    ) -> Option<usize> {
        loop {
            if !self.write_ready {
                return None;
            }
            let t = self.transport.as_mut()?;
            let hint = t.short_read_means_drained();
            match write(&mut **t) {
                Ok(0) if offered > 0 => {
                    self.close(Some(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "the transport accepted no bytes",
                    )));
                    return None;
                }
                Ok(n) => {
                    if n < offered && hint {
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
            let t = match self.transport.as_mut() {
                Some(t) if self.write_ready => t,
                _ => break,
            };
            let hint = t.short_read_means_drained();
            let (res, len, from_file) = match self.wbuf.front() {
                Front::File(file, offset, len) => (t.send_file(file, offset, len), len, true),
                // The only piece queued, or a transport that takes one at a time.
                Front::Bytes(data) if data.len() == self.wbuf.len() || !t.is_write_vectored() => {
                    (t.write(data), data.len(), false)
                }
                Front::Bytes(_) => {
                    // Every queued piece up to a file region, in one vectored write.
                    let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
                    let n = self.wbuf.front_vectored(&mut slices);
                    let len = slices[..n].iter().map(|s| s.len()).sum();
                    match &slices[..n] {
                        [one] => (t.write(one), len, false),
                        more => (t.write_vectored(more), len, false),
                    }
                }
            };
            match res {
                Ok(0) if len > 0 => {
                    let e = if from_file {
                        io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the file ended before the region queued from it",
                        )
                    } else {
                        io::Error::new(io::ErrorKind::WriteZero, "the transport accepted no bytes")
                    };
                    self.close(Some(e));
                    return;
                }
                Ok(n) => {
                    self.wbuf.advance(n);
                    self.written += n as u64;
                    // A short `sendfile` may also mean the file ended: only the next
                    // call tells, so it is not taken for a full socket.
                    if n < len && hint && !from_file {
                        self.write_ready = false;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.write_ready = false;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
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

    /// Counts as flushed what the transport no longer holds, and completes the write
    /// futures that are done. Once the transport is gone (closed) nothing more is: what
    /// it still held then (TLS records the socket had not taken) was never sent.
    pub(super) fn update_confirmed(&mut self) {
        let Some(t) = self.transport.as_ref() else {
            return;
        };
        if !t.has_pending_output() && self.confirmed != self.written {
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

    /// Queues the concatenation of `parts` (writing what the transport takes now, and
    /// buffering at most `buffer_cap` bytes in all of the rest); returns the position
    /// that marks the end of what was accepted, and how many bytes that is.
    fn queue_write(
        &mut self,
        parts: &[WritePart<'_>],
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
        let total = match parts {
            [one] => one.len(),
            more => more.iter().map(WritePart::len).sum(),
        };
        let max = self.max_write_buffer_size;
        if self.wbuf.len().saturating_add(total) > max {
            return Err(write_buffer_full(max));
        }
        let mut off = 0;
        if self.wbuf.is_empty() {
            match parts {
                [one] => {
                    let data = one.as_slice();
                    while off < data.len() {
                        match self.write_some(&data[off..]) {
                            Some(n) => off += n,
                            None => break,
                        }
                    }
                }
                more => {
                    while off < total {
                        let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
                        let n = slices_from(more, off, &mut slices);
                        match self.write_some_vectored(&slices[..n]) {
                            Some(n) => off += n,
                            None => break,
                        }
                    }
                }
            }
            if self.closed {
                return Err(self.closed_error());
            }
        }
        // The rest: borrowed bytes are copied, shared ones queued as they are.
        let mut room = buffer_cap.saturating_sub(self.wbuf.len());
        let mut skip = off;
        let mut accepted = off;
        for part in parts {
            let len = part.len();
            if skip >= len {
                skip -= len;
                continue;
            }
            let take = (len - skip).min(room);
            if take == 0 {
                break;
            }
            match part {
                WritePart::Slice(s) => self.wbuf.push_slice(&s[skip..skip + take]),
                WritePart::Bytes(b) => self.wbuf.push_bytes(b.slice(skip..skip + take)),
            }
            room -= take;
            accepted += take;
            skip = 0;
        }
        self.queued += accepted as u64;
        if off > 0 {
            self.update_confirmed();
        }
        Ok((self.queued, accepted))
    }
}

/// The most slices one vectored write offers (Linux takes up to 1,024); what lies
/// beyond goes in the next call.
const MAX_IOVECS: usize = 64;

/// Fills `out` with the bytes of `parts` from byte `off` on; how many slices.
fn slices_from<'a>(parts: &'a [WritePart<'_>], mut off: usize, out: &mut [IoSlice<'a>]) -> usize {
    let mut n = 0;
    for part in parts {
        let data = part.as_slice();
        if off >= data.len() {
            off -= data.len();
            continue;
        }
        if n == out.len() {
            break;
        }
        out[n] = IoSlice::new(&data[off..]);
        n += 1;
        off = 0;
    }
    n
}

/// One piece of a [`IoStream::write_vectored`]: bytes the caller keeps, which are
/// copied if the transport does not take them at once, or bytes in a [`Bytes`], which
/// are then queued as they are (a reference is kept; nothing is copied).
///
/// ```
/// use bytes::Bytes;
/// use tornado_iostream::WritePart;
///
/// let payload = Bytes::from(vec![7u8; 4096]);
/// let parts = [WritePart::from(&b"header"[..]), WritePart::from(&payload)];
/// assert_eq!(parts.iter().map(WritePart::len).sum::<usize>(), 4102);
/// ```
#[derive(Debug, Clone, Copy)]
pub enum WritePart<'a> {
    /// Borrowed bytes: what is not written at once is copied into the write buffer.
    Slice(&'a [u8]),
    /// Shared bytes: what is not written at once is queued without copying. The
    /// stream then holds a reference to the whole allocation the `Bytes` shares (a
    /// small slice of a large buffer keeps all of it) until those bytes are written;
    /// `max_write_buffer_size` counts only the bytes queued.
    Bytes(&'a Bytes),
}

impl WritePart<'_> {
    /// The part's bytes.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            WritePart::Slice(s) => s,
            WritePart::Bytes(b) => b,
        }
    }

    /// How many bytes the part holds.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether the part holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<'a> From<&'a [u8]> for WritePart<'a> {
    fn from(s: &'a [u8]) -> WritePart<'a> {
        WritePart::Slice(s)
    }
}

impl<'a> From<&'a Bytes> for WritePart<'a> {
    fn from(b: &'a Bytes) -> WritePart<'a> {
        WritePart::Bytes(b)
    }
}

impl State {
    /// Queues `len` bytes of `file` from `offset` and writes what the transport takes
    /// now; returns the position that marks the end of the region.
    fn queue_file(&mut self, file: Rc<File>, offset: u64, len: u64) -> io::Result<u64> {
        if self.closed {
            return Err(self.closed_error());
        }
        if !self.transport.as_ref().is_some_and(|t| t.can_send_file()) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "this stream cannot send from a file (TLS, a pipe): write its bytes instead",
            ));
        }
        let len = usize::try_from(len)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file region too large"))?;
        let max = self.max_write_buffer_size;
        if self.wbuf.len().saturating_add(len) > max {
            return Err(write_buffer_full(max));
        }
        self.wbuf.push_file(file, offset, len);
        self.queued += len as u64;
        self.flush();
        if self.closed {
            return Err(self.closed_error());
        }
        Ok(self.queued)
    }
}

impl IoStream {
    /// Queues `len` bytes of `file`, from `offset`, for writing after what is queued, and
    /// starts writing them at once straight from the file (`sendfile(2)`: not copied
    /// through user memory, nor held in the write buffer); the future resolves when they
    /// (and everything queued before) have been written. The file's own position is not
    /// used.
    ///
    /// Only a plain TCP or Unix socket stream on Linux can do this (see
    /// [`can_send_file`](Self::can_send_file)); others fail with `Unsupported` at once,
    /// and the caller writes the bytes instead. A file that turns out shorter than the
    /// region closes the stream with `UnexpectedEof`, since what was promised to the
    /// peer cannot be sent. The region counts toward `max_write_buffer_size`.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    ///
    /// let name = format!("tornado-doc-write-file-{}", std::process::id());
    /// let path = std::env::temp_dir().join(name);
    /// std::fs::write(&path, b"0123456789").unwrap();
    /// let file = Rc::new(std::fs::File::open(&path).unwrap());
    /// std::fs::remove_file(&path).unwrap(); // the open file stays readable
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let (a, b) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
    ///     // Bytes 2..7 of the file; streams that cannot send from a file get the bytes.
    ///     if a.can_send_file() {
    ///         a.write_file(file, 2, 5).await.unwrap();
    ///     } else {
    ///         a.write(b"23456").await.unwrap();
    ///     }
    ///     assert_eq!(&b.read_bytes(5, false).await.unwrap()[..], b"23456");
    /// });
    /// ```
    pub fn write_file(&self, file: Rc<File>, offset: u64, len: u64) -> WriteFuture {
        let res = self
            .shared
            .state
            .borrow_mut()
            .queue_file(file, offset, len)
            .map(|end| (end, 0));
        self.write_future(res)
    }

    /// [`write_file`](Self::write_file), failing at once, before anything is queued, if
    /// the region cannot be queued (the stream is closed, cannot send from a file, or
    /// the write buffer is full), where `write_file` reports it through its future.
    pub fn try_write_file(&self, file: Rc<File>, offset: u64, len: u64) -> io::Result<WriteFuture> {
        let end = self
            .shared
            .state
            .borrow_mut()
            .queue_file(file, offset, len)?;
        Ok(self.write_future(Ok((end, 0))))
    }

    /// Whether [`write_file`](Self::write_file) can send from a file on this stream.
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::{IoStream, Pipe};
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let (a, _b) = mio::net::UnixStream::pair().unwrap();
    ///     let socket = IoStream::new(a).unwrap();
    ///     assert_eq!(socket.can_send_file(), cfg!(target_os = "linux"));
    ///
    ///     // A pipe cannot (nor can TLS, which must see the bytes), nor a closed stream.
    ///     let (tx, rx) = mio::unix::pipe::new().unwrap();
    ///     let pipe = IoStream::new(Pipe::new(rx, tx)).unwrap();
    ///     assert!(!pipe.can_send_file());
    ///     socket.close();
    ///     assert!(!socket.can_send_file());
    /// });
    /// ```
    pub fn can_send_file(&self) -> bool {
        let st = self.shared.state.borrow();
        !st.closed && st.transport.as_ref().is_some_and(|t| t.can_send_file())
    }

    /// Queues `data` for writing and starts writing it at once; the future resolves
    /// when it (and everything queued before it) has been written to the transport.
    ///
    /// Fails if the stream is closed, or if `max_write_buffer_size` would be exceeded
    /// (kind `WouldBlock`; the stream stays open). Only the part the socket does not take
    /// right away is copied.
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let (a, b) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
    ///     // Writes go out in call order; each future resolves once its data, and all
    ///     // that was queued before it, has been written.
    ///     let first = a.write(b"one ");
    ///     let second = a.write(b"two");
    ///     second.await.unwrap();
    ///     first.await.unwrap();
    ///     assert_eq!(&b.read_bytes(7, false).await.unwrap()[..], b"one two");
    /// });
    /// ```
    pub fn write(&self, data: &[u8]) -> WriteFuture {
        let res = self
            .shared
            .state
            .borrow_mut()
            .queue_write(&[WritePart::Slice(data)], usize::MAX);
        self.write_future(res)
    }

    /// Like [`write`](IoStream::write) for data already in a [`Bytes`]: what cannot be
    /// written at once is queued without copying.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let (a, b) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
    ///     let body = Bytes::from_static(b"a shared, cheaply cloned body");
    ///     a.write_bytes(body.clone()).await.unwrap();
    ///     assert_eq!(b.read_bytes(body.len(), false).await.unwrap(), body);
    /// });
    /// ```
    pub fn write_bytes(&self, data: Bytes) -> WriteFuture {
        let res = self
            .shared
            .state
            .borrow_mut()
            .queue_write(&[WritePart::Bytes(&data)], usize::MAX);
        self.write_future(res)
    }

    /// Queues `parts`, one after another, as one write of their concatenation, and
    /// starts writing them at once in one vectored write (`writev(2)` on a TCP or Unix
    /// socket or a pipe; a TLS stream copies them into its records, as it copies any
    /// write). The future resolves when they (and everything queued before) have been
    /// written.
    ///
    /// This is for data that lives in pieces, such as a small header before a large
    /// payload: nothing is copied to join them. What the transport does not take at
    /// once is queued: a [`WritePart::Slice`] is copied (the caller keeps it), a
    /// [`WritePart::Bytes`] is kept by reference, without copying. Queued output is
    /// later written with vectored writes too. Fails as [`write`](Self::write) does.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use tornado_iostream::{IoStream, WritePart};
    ///
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync(async {
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let stream = IoStream::connect(listener.local_addr()?).await?;
    /// let (mut peer, _) = listener.accept()?;
    /// let payload = Bytes::from(vec![b'x'; 3]);
    /// stream
    ///     .write_vectored(&[WritePart::from(&b"head:"[..]), WritePart::from(&payload)])
    ///     .await?;
    /// let mut got = [0u8; 8];
    /// std::io::Read::read_exact(&mut peer, &mut got)?;
    /// assert_eq!(&got, b"head:xxx");
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn write_vectored(&self, parts: &[WritePart<'_>]) -> WriteFuture {
        let res = self
            .shared
            .state
            .borrow_mut()
            .queue_write(parts, usize::MAX);
        self.write_future(res)
    }

    /// Resolves when everything queued so far has been written.
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let (a, b) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
    ///     // Write without keeping the futures, then wait for all of it at once.
    ///     let _ = a.write(b"fire and ");
    ///     let _ = a.write(b"forget");
    ///     a.flush().await.unwrap();
    ///     assert_eq!(a.write_buffer_len(), 0);
    ///     assert!(!a.writing());
    ///     assert_eq!(a.bytes_written(), 15);
    ///     assert_eq!(&b.read_bytes(15, false).await.unwrap()[..], b"fire and forget");
    /// });
    /// ```
    pub fn flush(&self) -> WriteFuture {
        let res = self.shared.state.borrow_mut().queue_write(&[], usize::MAX);
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

    /// How many bytes are queued for writing and not yet written to the transport.
    pub fn write_buffer_len(&self) -> usize {
        self.shared.state.borrow().wbuf.len()
    }

    /// How many bytes this stream has written to its transport so far: a driver that
    /// watches a slow reader compares it over time to tell progress from a stall.
    pub fn bytes_written(&self) -> u64 {
        self.shared.state.borrow().written
    }

    /// True while written data waits in the write buffer.
    pub fn writing(&self) -> bool {
        !self.shared.state.borrow().wbuf.is_empty()
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
        Poll::Ready(
            st.queue_write(&[WritePart::Slice(data)], high_water)
                .map(|(_, n)| n),
        )
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
