//! The crate's error type: one [`Error`] with predicates, plus [`QueueFull`], which hands
//! back the item a full queue refused.

use std::fmt;
use std::time::Duration;

/// What went wrong in a `tornado-gen` operation.
///
/// Ask with the predicates rather than matching: [`is_timeout`](Error::is_timeout),
/// [`is_queue_full`](Error::is_queue_full), [`is_queue_empty`](Error::is_queue_empty),
/// [`is_too_many_task_done`](Error::is_too_many_task_done),
/// [`is_over_release`](Error::is_over_release).
///
/// ```
/// use std::time::Duration;
/// use tornado_gen::{Error, with_timeout};
/// use tornado_ioloop::IoLoop;
///
/// let io_loop = IoLoop::new().unwrap();
/// let err: Error = io_loop
///     .run_sync(with_timeout(Duration::from_millis(5), std::future::pending::<()>()))
///     .unwrap_err();
/// assert!(err.is_timeout());
/// assert_eq!(err.to_string(), "operation timed out after 5ms");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Timeout(Duration),
    QueueFull,
    QueueEmpty,
    TooManyTaskDone,
    OverRelease,
}

impl Error {
    pub(crate) fn timeout(after: Duration) -> Error {
        Error {
            kind: Kind::Timeout(after),
        }
    }

    pub(crate) fn queue_full() -> Error {
        Error {
            kind: Kind::QueueFull,
        }
    }

    pub(crate) fn queue_empty() -> Error {
        Error {
            kind: Kind::QueueEmpty,
        }
    }

    pub(crate) fn too_many_task_done() -> Error {
        Error {
            kind: Kind::TooManyTaskDone,
        }
    }

    pub(crate) fn over_release() -> Error {
        Error {
            kind: Kind::OverRelease,
        }
    }

    /// A deadline passed before the operation completed (Tornado's `TimeoutError`).
    pub fn is_timeout(&self) -> bool {
        matches!(self.kind, Kind::Timeout(_))
    }

    /// How long the timed-out operation was given, if this is a timeout.
    pub fn timeout_duration(&self) -> Option<Duration> {
        match self.kind {
            Kind::Timeout(d) => Some(d),
            _ => None,
        }
    }

    /// `put_nowait` on a queue at its `maxsize` (Tornado's `QueueFull`).
    pub fn is_queue_full(&self) -> bool {
        matches!(self.kind, Kind::QueueFull)
    }

    /// `get_nowait` on an empty queue (Tornado's `QueueEmpty`).
    pub fn is_queue_empty(&self) -> bool {
        matches!(self.kind, Kind::QueueEmpty)
    }

    /// `task_done` called more times than items were put (Tornado's `ValueError`).
    pub fn is_too_many_task_done(&self) -> bool {
        matches!(self.kind, Kind::TooManyTaskDone)
    }

    /// A `BoundedSemaphore` released above its initial value (Tornado's `ValueError`).
    pub fn is_over_release(&self) -> bool {
        matches!(self.kind, Kind::OverRelease)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Timeout(d) => write!(f, "operation timed out after {d:?}"),
            Kind::QueueFull => f.write_str("queue is full"),
            Kind::QueueEmpty => f.write_str("queue is empty"),
            Kind::TooManyTaskDone => f.write_str("task_done() called too many times"),
            Kind::OverRelease => f.write_str("semaphore released too many times"),
        }
    }
}

impl std::error::Error for Error {}

/// `put_nowait` refused an item because the queue is full; the item is handed back.
///
/// Converts into [`Error`] (with [`is_queue_full`](Error::is_queue_full)) for `?`.
///
/// ```
/// use tornado_gen::queues::Queue;
///
/// let q = Queue::new(1);
/// q.put_nowait("a").unwrap();
/// let full = q.put_nowait("b").unwrap_err();
/// assert_eq!(full.to_string(), "queue is full");
/// assert_eq!(full.into_inner(), "b");
/// ```
pub struct QueueFull<T>(pub(crate) T);

impl<T> QueueFull<T> {
    /// The item that was not put.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for QueueFull<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("QueueFull(..)")
    }
}

impl<T> fmt::Display for QueueFull<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("queue is full")
    }
}

impl<T> std::error::Error for QueueFull<T> {}

impl<T> From<QueueFull<T>> for Error {
    fn from(_: QueueFull<T>) -> Error {
        Error::queue_full()
    }
}
