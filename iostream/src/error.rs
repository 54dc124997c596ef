//! The errors an [`IoStream`](crate::IoStream) reports.
//!
//! Every failure is an [`io::Error`]. When an operation fails because the stream is
//! closed, the error's kind is [`io::ErrorKind::NotConnected`] and its inner error is a
//! [`StreamClosedError`] that carries the real cause (a reset, a read limit, …), so a
//! caller can tell "closed" from other failures with [`is_stream_closed`] and find the
//! cause with [`StreamClosedError::real_error`].

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
/// `UnsatisfiableReadError`). Kind [`io::ErrorKind::InvalidData`].
pub(crate) fn unsatisfiable(what: &str, max_bytes: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{what} not found within max_bytes ({max_bytes})"),
    )
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
