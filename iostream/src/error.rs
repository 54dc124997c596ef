//! The errors an [`IoStream`](crate::IoStream) reports.
//!
//! Every failure is an [`io::Error`]. When an operation fails because the stream is
//! closed, the error's kind is [`io::ErrorKind::NotConnected`] and its inner error is a
//! [`StreamClosedError`] that carries the real cause (a reset, a read limit, …), so a
//! caller can tell "closed" from other failures with [`is_stream_closed`] and find the
//! cause with [`StreamClosedError::real_error`].
//!
//! A read that cannot be satisfied within its `max_bytes` closes the stream with an
//! [`UnsatisfiableReadError`] as the cause, as Tornado does: the read fails with the
//! closed error, [`is_unsatisfiable_read`] tells it apart, and the data already received
//! stays buffered for later reads.

use std::error::Error;
use std::fmt;
use std::io;
use std::sync::Arc;

/// The stream is closed (Tornado's `StreamClosedError`).
///
/// `real_error` is what closed it: `None` when the peer closed the connection cleanly or
/// [`close`](crate::IoStream::close) was called, else the I/O error or limit that closed it.
///
/// ```
/// use tornado_iostream::{StreamClosedError, is_stream_closed};
///
/// let e = StreamClosedError::new(None).into_io_error();
/// assert!(is_stream_closed(&e));
/// assert_eq!(e.kind(), std::io::ErrorKind::NotConnected);
/// assert_eq!(e.to_string(), "stream is closed");
/// ```
#[derive(Debug, Clone)]
pub struct StreamClosedError {
    real_error: Option<Arc<io::Error>>,
}

impl StreamClosedError {
    /// A closed-stream error with the given cause.
    pub fn new(real_error: Option<Arc<io::Error>>) -> StreamClosedError {
        StreamClosedError { real_error }
    }

    /// What closed the stream, if it was an error.
    pub fn real_error(&self) -> Option<&io::Error> {
        self.real_error.as_deref()
    }

    /// Wraps this in an [`io::Error`] of kind [`io::ErrorKind::NotConnected`].
    pub fn into_io_error(self) -> io::Error {
        io::Error::new(io::ErrorKind::NotConnected, self)
    }
}

impl fmt::Display for StreamClosedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.real_error {
            Some(e) => write!(f, "stream is closed: {e}"),
            None => f.write_str("stream is closed"),
        }
    }
}

impl Error for StreamClosedError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.real_error
            .as_deref()
            .map(|e| e as &(dyn Error + 'static))
    }
}

/// True if `e` says the stream was closed (its inner error is a [`StreamClosedError`]).
pub fn is_stream_closed(e: &io::Error) -> bool {
    stream_closed_error(e).is_some()
}

/// The [`StreamClosedError`] inside `e`, if `e` is one.
pub fn stream_closed_error(e: &io::Error) -> Option<&StreamClosedError> {
    e.get_ref()?.downcast_ref::<StreamClosedError>()
}

/// A read could not be satisfied within its `max_bytes` (Tornado's
/// `UnsatisfiableReadError`): [`read_until`](crate::IoStream::read_until) or
/// [`read_until_regex`](crate::IoStream::read_until_regex) found no delimiter or match
/// that ends within the first `max_bytes` bytes, and none can come later.
///
/// The stream is closed with this as its cause (in an [`io::Error`] of kind
/// [`io::ErrorKind::InvalidData`], from [`IoStream::error`](crate::IoStream::error)); the
/// read fails with the [`StreamClosedError`] that carries it; the bytes already received
/// stay buffered, so a later `read_bytes` or `read_until_close` still gets them.
///
/// ```
/// use tornado_ioloop::IoLoop;
/// use tornado_iostream::{IoStream, is_stream_closed, is_unsatisfiable_read};
///
/// let io_loop = IoLoop::new().unwrap();
/// io_loop.run_sync(async {
///     let (a, b) = mio::net::UnixStream::pair().unwrap();
///     let (a, b) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
///     a.write(b"a line far too long\n").await.unwrap();
///     let err = b.read_until(b"\n", Some(8)).await.unwrap_err();
///     assert!(is_stream_closed(&err) && is_unsatisfiable_read(&err));
///     assert_eq!(err.to_string(), "stream is closed: delimiter not found within max_bytes (8)");
///     // What arrived is still there.
///     assert_eq!(&b.read_bytes(6, false).await.unwrap()[..], b"a line");
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsatisfiableReadError {
    what: &'static str,
    max_bytes: usize,
}

impl UnsatisfiableReadError {
    /// `what` names what was looked for: "delimiter" or "regex".
    pub(crate) fn new(what: &'static str, max_bytes: usize) -> UnsatisfiableReadError {
        UnsatisfiableReadError { what, max_bytes }
    }

    /// The read's limit.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Wraps this in an [`io::Error`] of kind [`io::ErrorKind::InvalidData`].
    pub fn into_io_error(self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, self)
    }
}

impl fmt::Display for UnsatisfiableReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} not found within max_bytes ({})",
            self.what, self.max_bytes
        )
    }
}

impl Error for UnsatisfiableReadError {}

/// The [`UnsatisfiableReadError`] in `e`: `e`'s own inner error, or the cause of the
/// stream's closing when `e` is a [`StreamClosedError`].
pub fn unsatisfiable_read_error(e: &io::Error) -> Option<&UnsatisfiableReadError> {
    let cause = match stream_closed_error(e) {
        Some(closed) => closed.real_error()?,
        None => e,
    };
    cause.get_ref()?.downcast_ref::<UnsatisfiableReadError>()
}

/// True if `e` is an [`UnsatisfiableReadError`], or the closed-stream error of a stream
/// that one closed (what the unsatisfiable read itself, and every later read that the
/// buffer cannot serve, fail with).
pub fn is_unsatisfiable_read(e: &io::Error) -> bool {
    unsatisfiable_read_error(e).is_some()
}

/// The read buffer reached `max_buffer_size` (Tornado's `StreamBufferFullError`).
pub(crate) fn read_buffer_full(max: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("reached maximum read buffer size ({max} bytes)"),
    )
}

/// A write would take the write buffer past `max_write_buffer_size`.
pub(crate) fn write_buffer_full(max: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::WouldBlock,
        format!("reached maximum write buffer size ({max} bytes)"),
    )
}

/// A second read was started while one is pending.
pub(crate) fn already_reading() -> io::Error {
    io::Error::new(
        io::ErrorKind::ResourceBusy,
        "already reading: only one read may be pending on an IoStream",
    )
}
