//! What a stream is made of: the state behind every [`IoStream`] handle and future.

use std::cell::RefCell;
use std::io;
use std::num::NonZeroU64;
use std::sync::Arc;
use std::task::{Context, Waker};

use tornado_ioloop::{HandlerId, IoLoop};

use crate::buffer::{ReadBuffer, WriteBuffer};
use crate::transport::Transport;

/// Default limit on buffered incoming data: 100 MiB (Tornado's `max_buffer_size`).
/// A stream whose read buffer reaches it is closed with an error.
pub const DEFAULT_MAX_BUFFER_SIZE: usize = 100 * 1024 * 1024;

/// How many transport reads one poll of a read future may make before it yields to the
/// loop, so that a fast peer cannot starve other work.
pub(super) const READ_BUDGET: usize = 32;

pub(crate) struct Shared {
    pub(crate) state: RefCell<State>,
}

pub(crate) struct State {
    pub(super) io_loop: IoLoop,
    pub(crate) transport: Option<Box<dyn Transport>>,
    pub(super) handler: Option<HandlerId>,
    pub(crate) rbuf: ReadBuffer,
    /// How much the next read asks for: from `INITIAL_READ_SIZE` to `MAX_READ_SIZE`
    /// (a `u32`, as every open stream holds this state).
    pub(super) read_size: u32,
    pub(crate) read_ready: bool,
    /// The loop reported the peer closed (or an error): a short read no longer proves
    /// the socket drained, since the end of file still waits to be read.
    pub(super) read_closed: bool,
    pub(super) write_ready: bool,
    /// The pending read future, by id.
    pub(super) reader: Option<NonZeroU64>,
    pub(super) next_reader: NonZeroU64,
    pub(crate) read_waker: Option<Waker>,
    pub(super) wbuf: WriteBuffer,
    /// Bytes ever queued, written to the transport, and known flushed past it.
    pub(super) queued: u64,
    pub(super) written: u64,
    pub(super) confirmed: u64,
    /// Tasks waiting for the write position to reach a byte count, and (under
    /// [`ANY_READINESS`]) connect and handshake waiters, woken by any readiness: as
    /// many tasks as wait, so that none is forgotten.
    pub(super) write_waiters: Vec<(u64, Waker)>,
    pub(super) max_buffer_size: usize,
    /// `usize::MAX`: no limit.
    pub(super) max_write_buffer_size: usize,
    pub(crate) closed: bool,
    /// At close: the transport had no handshake in progress (TLS done, or no TLS).
    pub(super) handshake_done: bool,
    /// The transport's end came without its protocol's end-of-data notice (TLS).
    pub(super) eof_truncated: bool,
    /// Whether `write_waiters` may hold [`ANY_READINESS`] waiters: readiness events,
    /// one per request on a busy connection, skip the search while it has none.
    pub(super) readiness_waiters: bool,
    pub(super) error: Option<Arc<io::Error>>,
    pub(super) close_callback: Option<Box<dyn FnOnce()>>,
}

/// The key of the waiters in `write_waiters` that any readiness wakes (connect and
/// handshake waiters): no write position reaches it.
pub(super) const ANY_READINESS: u64 = u64::MAX;

impl State {
    /// Makes the task of `cx` one of those woken by the next readiness (or the close).
    pub(super) fn wait_for_readiness(&mut self, cx: &Context<'_>) {
        let waiting = self
            .write_waiters
            .iter()
            .any(|(end, w)| *end == ANY_READINESS && w.will_wake(cx.waker()));
        if !waiting {
            self.write_waiters.push((ANY_READINESS, cx.waker().clone()));
        }
        self.readiness_waiters = true;
    }

    /// Wakes every task waiting for readiness.
    #[inline]
    pub(super) fn wake_readiness_waiters(&mut self) {
        if !self.readiness_waiters {
            return;
        }
        self.readiness_waiters = false;
        self.write_waiters.retain(|(end, w)| {
            if *end == ANY_READINESS {
                w.wake_by_ref();
                false
            } else {
                true
            }
        });
    }
}

pub(super) fn wake(w: &mut Option<Waker>) {
    if let Some(w) = w.take() {
        w.wake();
    }
}

pub(super) fn set_waker(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

/// A copy of `e` for a second caller: the same kind and message, and the same inner
/// error when it can be cloned (a TLS error stays a `rustls::Error`).
pub(super) fn copy_error(e: &io::Error) -> io::Error {
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return io::Error::new(e.kind(), tls.clone());
    }
    io::Error::new(e.kind(), e.to_string())
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.state.get_mut().close(None);
    }
}

#[cfg(test)]
mod tests {
    /// Every open stream holds its state: in an `Rc`, 232 bytes are a 256-byte malloc
    /// chunk. It was 248 (a 272-byte chunk) while connect and handshake waiters had a
    /// waker slot of their own, and 264 before the pending read's id became a
    /// `NonZeroU64` and the read size a `u32`.
    #[test]
    fn a_stream_state_is_small() {
        let size = std::mem::size_of::<super::Shared>();
        assert!(size <= 232, "a stream's state is {size} bytes");
    }
}
