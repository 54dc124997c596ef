//! The write side: queueing, flushing to the transport, and [`WriteFuture`].

use std::fmt;
use std::fs::File;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::Bytes;

use super::io_stream::IoStream;
use super::state::{Shared, State};
use crate::buffer::Front;
use crate::error::write_buffer_full;

impl State {
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
            let t = match self.transport.as_mut() {
                Some(t) if self.write_ready => t,
                _ => break,
            };
            let hint = t.short_read_means_drained();
            let (res, len, from_file) = match self.wbuf.front() {
                Front::Bytes(data) => (t.write(data), data.len(), false),
                Front::File(file, offset, len) => (t.send_file(file, offset, len), len, true),
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
