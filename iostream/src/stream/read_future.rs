//! The read futures, and what each kind of read waits for in the buffer.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::Bytes;
use regex::bytes::Regex;

use super::state::{READ_BUDGET, Shared, set_waker};
use crate::error::UnsatisfiableReadError;

pub(super) enum ReadState {
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
            // The loop reported a hang-up while this read was pending, and will not
            // report it again: the end of file may still wait in the socket, unread.
            // Look for it once the reader's task has moved on (as Tornado listens for
            // it again after a read), so that the close callback runs.
            if st.read_closed && !st.closed && st.reader.is_none() {
                let weak = Rc::downgrade(shared);
                st.io_loop.add_callback(move || {
                    if let Some(shared) = weak.upgrade()
                        && let Ok(mut st) = shared.state.try_borrow_mut()
                    {
                        st.read_while_idle();
                    }
                });
            }
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
pub(super) enum Op<'a> {
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
    UntilClose {
        /// The stream was closed already when the read started.
        after_close: bool,
    },
}

/// How a stream stands for a read that looks at its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    Open,
    /// Closed by the peer's end of file, a reset (which Tornado takes for a close, as
    /// some systems report a clean close so), or [`close`](crate::IoStream::close).
    Clean,
    /// Closed by an error: what was buffered may have been cut short.
    Failed,
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
    fn find(&mut self, data: &[u8], end: End) -> io::Result<Option<usize>> {
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
                            Some(max) if end > max => {
                                Err(UnsatisfiableReadError::new("delimiter", max).into_io_error())
                            }
                            _ => Ok(Some(end)),
                        }
                    }
                    None => {
                        *scanned = data.len().saturating_sub(delimiter.len() - 1);
                        match *max_bytes {
                            // A match found later would end past `max`.
                            Some(max) if data.len() >= max => {
                                Err(UnsatisfiableReadError::new("delimiter", max).into_io_error())
                            }
                            _ => Ok(None),
                        }
                    }
                }
            }
            Op::Regex { regex, max_bytes } => match regex.find(data) {
                Some(m) => match *max_bytes {
                    Some(max) if m.end() > max => {
                        Err(UnsatisfiableReadError::new("regex", max).into_io_error())
                    }
                    _ => Ok(Some(m.end())),
                },
                None => match *max_bytes {
                    Some(max) if data.len() > max => {
                        Err(UnsatisfiableReadError::new("regex", max).into_io_error())
                    }
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
            // A read pending when an error closed the stream fails: what it holds may
            // have been cut short, and is not the whole of it (Tornado 6.6). One
            // started after the close takes what is there, as Tornado's does.
            Op::UntilClose { after_close } => Ok(match end {
                End::Open => None,
                End::Clean => Some(data.len()),
                End::Failed => after_close.then_some(data.len()),
            }),
        }
    }
}

/// The future of a read that resolves with [`Bytes`]: returned by
/// [`IoStream::read_until`](crate::IoStream::read_until),
/// [`read_until_regex`](crate::IoStream::read_until_regex),
/// [`read_bytes`](crate::IoStream::read_bytes) and
/// [`read_until_close`](crate::IoStream::read_until_close).
///
/// The read is registered when the method is called (so a second read started before
/// this one completes fails); dropping the future cancels it, leaving the data buffered.
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct ReadFuture<'a> {
    pub(super) state: ReadState,
    pub(super) op: Op<'a>,
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
        let res = match st.poll_read_with(cx, |data, end| op.find(data, end)) {
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

/// The future of [`IoStream::read_into`](crate::IoStream::read_into): resolves with the
/// number of bytes read.
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct ReadInto<'a> {
    pub(super) state: ReadState,
    pub(super) buf: &'a mut [u8],
    pub(super) filled: usize,
    pub(super) partial: bool,
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
                // The read fails; what it had taken goes back to the buffer, for a
                // later read to find.
                st.rbuf.unread(&this.buf[..this.filled]);
                this.filled = 0;
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

impl Drop for ReadInto<'_> {
    /// A read dropped before it completed (a timeout, say) loses nothing: the bytes it
    /// had taken go back in front of the buffer.
    fn drop(&mut self) {
        if self.filled == 0 {
            return;
        }
        if let ReadState::Active(shared, id) = &self.state
            && let Ok(mut st) = shared.state.try_borrow_mut()
            && st.is_reader(*id)
        {
            st.rbuf.unread(&self.buf[..self.filled]);
        }
    }
}

/// The future of [`IoStream::fill_read_buffer`](crate::IoStream::fill_read_buffer):
/// resolves with the buffered length.
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct FillReadBuffer {
    pub(super) state: ReadState,
    pub(super) before: usize,
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
            && st.is_reader(id)
        {
            st.reader = None;
            st.read_waker = None;
        }
        drop(st);
        this.state = ReadState::Done;
        Poll::Ready(res)
    }
}
