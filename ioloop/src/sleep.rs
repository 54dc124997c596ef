//! [`Sleep`]: a future that completes once a deadline has passed, on the loop's timers.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::ioloop::IoLoop;
use crate::timer::TimeoutHandle;

/// A future that completes after `duration` (Tornado's `gen.sleep`).
///
/// The deadline is fixed when `sleep` is called, measured on the real clock, so the
/// future never completes early. A duration too large for the clock (such as
/// [`Duration::MAX`]) means "never": the future stays pending and sets no timer. See
/// [`Sleep`] for when the timer is set and removed.
///
/// ```
/// use std::time::{Duration, Instant};
/// use tornado_ioloop::{IoLoop, sleep};
///
/// let io_loop = IoLoop::new().unwrap();
/// let start = Instant::now();
/// io_loop.run_sync(sleep(Duration::from_millis(10)));
/// assert!(start.elapsed() >= Duration::from_millis(10));
/// assert_eq!(sleep(Duration::MAX).deadline(), None);
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    Sleep::new(Instant::now().checked_add(duration))
}

/// A future that completes once `deadline` has passed.
///
/// ```
/// use std::time::{Duration, Instant};
/// use tornado_ioloop::{IoLoop, sleep_until};
///
/// let io_loop = IoLoop::new().unwrap();
/// let deadline = Instant::now() + Duration::from_millis(5);
/// io_loop.run_sync(sleep_until(deadline));
/// assert!(Instant::now() >= deadline);
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new(Some(deadline))
}

/// Runs `future` until `deadline`: `Some(output)` if it completed first, `None` if the
/// deadline came first (the future is then dropped). No deadline (`None`) waits for the
/// future alone. The future stays on the caller's stack: nothing is allocated but the
/// timer, set on the first poll that finds the future pending.
///
/// ```
/// use std::time::{Duration, Instant};
/// use tornado_ioloop::{IoLoop, before_deadline, sleep};
///
/// let io_loop = IoLoop::new().unwrap();
/// io_loop.run_sync(async {
///     let soon = Instant::now() + Duration::from_millis(10);
///     assert_eq!(before_deadline(Some(soon), async { 42 }).await, Some(42));
///     assert_eq!(before_deadline(Some(soon), sleep(Duration::from_secs(60))).await, None);
///     assert_eq!(before_deadline(None, async { 7 }).await, Some(7));
/// });
/// ```
pub async fn before_deadline<F: Future>(deadline: Option<Instant>, future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let Some(deadline) = deadline else {
        return Some(future.await);
    };
    let mut timer = std::pin::pin!(sleep_until(deadline));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

struct Fired {
    done: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

/// The future returned by [`sleep`] and [`sleep_until`].
///
/// Making one sets no timer: the timer is set with the current [`IoLoop`] on the first
/// poll, so a `Sleep` may be made before its loop runs (`io_loop.run_sync(sleep(d))`).
/// Dropping it before it completes removes the timer, so an abandoned sleep (one that
/// lost a race, or whose task was aborted) costs nothing afterwards.
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    /// `None`: the requested delay overflowed the clock, and the sleep never ends.
    deadline: Option<Instant>,
    timer: Option<(IoLoop, TimeoutHandle, Rc<Fired>)>,
}

impl Sleep {
    fn new(deadline: Option<Instant>) -> Sleep {
        Sleep {
            deadline,
            timer: None,
        }
    }

    /// When the sleep ends; `None` if the requested duration overflowed the clock (the
    /// sleep never ends).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// True once the deadline has passed: the timer fired, or (before the first poll)
    /// the clock is past the deadline.
    pub fn is_elapsed(&self) -> bool {
        match &self.timer {
            Some((_, _, fired)) => fired.done.get(),
            None => self.deadline.is_some_and(|d| Instant::now() >= d),
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(deadline) = self.deadline else {
            return Poll::Pending;
        };
        match &self.timer {
            Some((_, _, fired)) => {
                if fired.done.get() {
                    return Poll::Ready(());
                }
                let mut slot = fired.waker.borrow_mut();
                match &*slot {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *slot = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            None => {
                let fired = Rc::new(Fired {
                    done: Cell::new(false),
                    waker: RefCell::new(Some(cx.waker().clone())),
                });
                let f = fired.clone();
                let io_loop = IoLoop::current();
                let handle = io_loop.call_at(deadline, move || {
                    f.done.set(true);
                    let waker = f.waker.borrow_mut().take();
                    if let Some(w) = waker {
                        w.wake();
                    }
                });
                self.timer = Some((io_loop, handle, fired));
                Poll::Pending
            }
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some((io_loop, handle, fired)) = self.timer.take()
            && !fired.done.get()
        {
            io_loop.remove_timeout(handle);
        }
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("elapsed", &self.is_elapsed())
            .finish()
    }
}
