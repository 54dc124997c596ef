//! Scheduling work on the loop's thread: `add_callback` and the timeouts.

use std::time::{Duration, Instant};

use crate::deadline::{Deadline, deadline_after};
use crate::ioloop::IoLoop;
use crate::timer::TimeoutHandle;

impl IoLoop {
    /// Runs `f` on the next iteration of the loop (loop thread only; other threads use
    /// [`LoopHandle::add_callback`](crate::LoopHandle::add_callback)).
    pub fn add_callback<F: FnOnce() + 'static>(&self, f: F) {
        self.inner.callbacks.borrow_mut().push_back(Box::new(f));
    }

    /// Runs `f` once `deadline` has passed: an [`Instant`], or a [`Duration`] from now.
    /// Timeouts with the same deadline run in the order they were added.
    ///
    /// A delay is measured from a fresh read of the clock, not from the cached
    /// [`time`](IoLoop::time), so a timeout never fires early even when the code that
    /// set it ran long; hot paths that want to skip that clock read can pass
    /// `io_loop.time() + delay` as an instant. A delay too large to represent is taken
    /// as "never" (a century).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use tornado_ioloop::IoLoop;
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// let l = io_loop.clone();
    /// io_loop.add_timeout(Duration::from_millis(5), || println!("after a delay"));
    /// io_loop.add_timeout(Instant::now() + Duration::from_millis(10), move || l.stop());
    /// io_loop.start();
    /// ```
    pub fn add_timeout<F: FnOnce() + 'static>(
        &self,
        deadline: impl Into<Deadline>,
        f: F,
    ) -> TimeoutHandle {
        let at = match deadline.into() {
            Deadline::At(i) => i,
            Deadline::After(d) => deadline_after(Instant::now(), d),
        };
        self.inner.timers.borrow_mut().insert(at, Box::new(f))
    }

    /// Runs `f` after `delay`, measured from now (see [`add_timeout`](IoLoop::add_timeout)).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tornado_ioloop::IoLoop;
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// let l = io_loop.clone();
    /// let h = io_loop.call_later(Duration::from_secs(3600), || unreachable!());
    /// assert!(io_loop.remove_timeout(h));
    /// io_loop.call_later(Duration::from_millis(1), move || l.stop());
    /// io_loop.start();
    /// ```
    pub fn call_later<F: FnOnce() + 'static>(&self, delay: Duration, f: F) -> TimeoutHandle {
        self.add_timeout(Deadline::After(delay), f)
    }

    /// Runs `f` at `when`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tornado_ioloop::IoLoop;
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// let l = io_loop.clone();
    /// // The loop's cached clock is the cheap base for deadlines on a hot path.
    /// io_loop.call_at(io_loop.time() + Duration::from_millis(5), move || l.stop());
    /// io_loop.start();
    /// ```
    pub fn call_at<F: FnOnce() + 'static>(&self, when: Instant, f: F) -> TimeoutHandle {
        self.add_timeout(Deadline::At(when), f)
    }

    /// Cancels a pending timeout; returns whether it was still pending. O(1) amortised.
    pub fn remove_timeout(&self, handle: TimeoutHandle) -> bool {
        let cb = self.inner.timers.borrow_mut().cancel(handle);
        cb.is_some()
    }
}
