//! `sleep`, `sleep_until` and `moment`: waiting on the loop's timers.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tornado_ioloop::{IoLoop, TimeoutHandle, YieldNow};

/// A future that completes after `duration` (Tornado's `gen.sleep`).
///
/// The deadline is fixed when `sleep` is called, measured on the real clock, so the
/// future never completes early. The timer is registered with the current [`IoLoop`]
/// on the first poll and removed if the future is dropped first. A duration too large
/// to represent never completes.
///
/// ```
/// use std::time::{Duration, Instant};
/// use tornado_gen::sleep;
/// use tornado_ioloop::IoLoop;
///
/// let io_loop = IoLoop::new().unwrap();
/// let start = Instant::now();
/// io_loop.run_sync(sleep(Duration::from_millis(10)));
/// assert!(start.elapsed() >= Duration::from_millis(10));
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    Sleep::new(Instant::now().checked_add(duration))
}

/// A future that completes once `deadline` has passed.
///
/// ```
/// use std::time::{Duration, Instant};
/// use tornado_gen::sleep_until;
/// use tornado_ioloop::IoLoop;
///
/// let io_loop = IoLoop::new().unwrap();
/// let deadline = Instant::now() + Duration::from_millis(5);
/// io_loop.run_sync(sleep_until(deadline));
/// assert!(Instant::now() >= deadline);
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new(Some(deadline))
}

/// Yields to the loop once, letting other ready tasks and callbacks run (Tornado's
/// `gen.moment`).
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use tornado_gen::moment;
/// use tornado_ioloop::{IoLoop, spawn};
///
/// let io_loop = IoLoop::new().unwrap();
/// let ran = io_loop.run_sync(async {
///     let flag = Rc::new(Cell::new(false));
///     let f = flag.clone();
///     let _task = spawn(async move { f.set(true) });
///     moment().await; // the spawned task runs meanwhile
///     flag.get()
/// });
/// assert!(ran);
/// ```
pub fn moment() -> YieldNow {
    tornado_ioloop::yield_now()
}

struct Fired {
    done: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

/// The future returned by [`sleep`] and [`sleep_until`].
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
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

    /// When the sleep ends; `None` if the requested duration overflowed the clock.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// True once the timer has fired.
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
