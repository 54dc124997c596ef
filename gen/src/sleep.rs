//! `sleep`, `sleep_until` and `moment`: waiting on the loop's timers. The timer future
//! itself is the loop's [`Sleep`]; these are Tornado's `gen` names for it.

use std::time::{Duration, Instant};

pub use tornado_ioloop::Sleep;
use tornado_ioloop::YieldNow;

/// A future that completes after `duration` (Tornado's `gen.sleep`).
///
/// The deadline is fixed when `sleep` is called, measured on the real clock, so the
/// future never completes early. The timer is registered with the current
/// [`IoLoop`](tornado_ioloop::IoLoop) on the first poll and removed if the future is
/// dropped first. A duration too large to represent never completes. This is
/// [`tornado_ioloop::sleep`].
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
    tornado_ioloop::sleep(duration)
}

/// A future that completes once `deadline` has passed ([`tornado_ioloop::sleep_until`]).
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
    tornado_ioloop::sleep_until(deadline)
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
