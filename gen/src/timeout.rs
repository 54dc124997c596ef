//! `with_timeout`: give a future a deadline.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tornado_ioloop::Deadline;

use crate::error::Error;
use crate::sleep::{Sleep, sleep_until};

/// Wraps `future` so it fails with a timeout [`Error`] if it has not completed by
/// `timeout`: an [`Instant`] or a [`Duration`] from now (Tornado's `gen.with_timeout`).
///
/// The inner future is polled before the timer, so a future that completes in the same
/// loop iteration as its deadline still gives its value. On timeout the inner future is
/// dropped at once; every waiting operation of [`locks`](crate::locks) and
/// [`queues`](crate::queues) is safe to drop this way (nothing it was given is lost).
/// This is how their `*_timeout` methods are built.
///
/// ```
/// use std::time::Duration;
/// use tornado_gen::{sleep, with_timeout};
/// use tornado_ioloop::IoLoop;
///
/// let io_loop = IoLoop::new().unwrap();
/// io_loop.run_sync(async {
///     let fast = with_timeout(Duration::from_secs(5), async { 42 }).await;
///     assert_eq!(fast.unwrap(), 42);
///
///     let slow = with_timeout(Duration::from_millis(10), sleep(Duration::from_secs(60))).await;
///     let err = slow.unwrap_err();
///     assert!(err.is_timeout());
///     assert_eq!(err.to_string(), "operation timed out after 10ms");
/// });
/// ```
pub fn with_timeout<F: Future>(timeout: impl Into<Deadline>, future: F) -> WithTimeout<F> {
    let now = Instant::now();
    let (deadline, after) = match timeout.into() {
        Deadline::At(at) => (Some(at), at.saturating_duration_since(now)),
        Deadline::After(d) => (now.checked_add(d), d),
    };
    let sleep = match deadline {
        Some(at) => sleep_until(at),
        None => crate::sleep::sleep(Duration::MAX),
    };
    WithTimeout {
        future: Some(Box::pin(future)),
        sleep,
        after,
    }
}

/// The future returned by [`with_timeout`] and by the `*_timeout` methods of locks and
/// queues: `Ok(output)`, or `Err(e)` with [`e.is_timeout()`](Error::is_timeout).
#[must_use = "futures do nothing unless awaited"]
pub struct WithTimeout<F> {
    future: Option<Pin<Box<F>>>,
    sleep: Sleep,
    after: Duration,
}

impl<F: Future> Future for WithTimeout<F> {
    type Output = Result<F::Output, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let Some(future) = this.future.as_mut() else {
            return Poll::Ready(Err(Error::timeout(this.after)));
        };
        if let Poll::Ready(v) = future.as_mut().poll(cx) {
            this.future = None;
            return Poll::Ready(Ok(v));
        }
        if Pin::new(&mut this.sleep).poll(cx).is_ready() {
            this.future = None;
            return Poll::Ready(Err(Error::timeout(this.after)));
        }
        Poll::Pending
    }
}

impl<F> fmt::Debug for WithTimeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithTimeout")
            .field("after", &self.after)
            .field("pending", &self.future.is_some())
            .finish()
    }
}
