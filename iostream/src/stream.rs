//! [`IoStream`]: a buffered non-blocking stream with Tornado's read and write semantics.
//!
//! # Model
//!
//! The stream owns one [`Transport`](crate::Transport) (a TCP or Unix socket, a pipe, a
//! TLS session) registered once with the current [`IoLoop`](tornado_ioloop::IoLoop) for
//! `READABLE | WRITABLE`, edge-triggered. Two flags remember the readiness the loop
//! reported; they are cleared when a read or write says `WouldBlock`, or when it comes
//! back short (a short read proves the socket drained, so the read that would only say
//! `EAGAIN` is skipped).
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
//!
//! # Files
//!
//! `state.rs` holds what a stream is made of; `io_stream.rs` the handle, its creation and
//! the loop's readiness handler; `read.rs` and `read_future.rs` the read side and its
//! futures; `write.rs` the write side; `close.rs` closing and detaching.

mod close;
mod io_stream;
mod read;
mod read_future;
mod state;
mod write;

pub use self::close::Detached;
pub use self::io_stream::IoStream;
pub use self::read_future::{FillReadBuffer, ReadFuture, ReadInto};
pub use self::state::DEFAULT_MAX_BUFFER_SIZE;
pub use self::write::{WriteFuture, WritePart};
