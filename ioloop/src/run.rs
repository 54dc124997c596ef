//! Running the loop: `start`, `stop`, `run_sync`, and one iteration.
//!
//! # One iteration
//!
//! 1. Move work posted from other threads (callbacks, task wakes) onto the local queues.
//! 2. Run the callbacks and poll the tasks that were ready when the iteration began; work
//!    they add waits for the next iteration, so a busy producer never starves I/O.
//! 3. Run the timers due at the loop's clock.
//! 4. Poll for I/O: with a zero timeout when work is queued, else until the next timer,
//!    else until an event or a cross-thread wake arrives. Then read the clock once
//!    ([`IoLoop::time`]) and dispatch the events to their handlers.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::callbacks::{Callback, lock};
use crate::deadline::deadline_after;
use crate::handler::{Ready, WAKER_TOKEN};
use crate::ioloop::{Inner, IoLoop};
use crate::panic::panic_message;
use crate::task;
use crate::waker;

impl Inner {
    pub(crate) fn run_callback(name: &str, cb: Callback) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(cb)) {
            log::error!("exception in {name}: {}", panic_message(&*payload));
        }
    }

    fn drain_remote(&self) {
        if !self.remote.notified.swap(false, Ordering::AcqRel) {
            return;
        }
        let mut scratch = self.remote_scratch.borrow_mut();
        let (cbs, wakes) = &mut *scratch;
        std::mem::swap(cbs, &mut *lock(&self.remote.callbacks));
        std::mem::swap(wakes, &mut *lock(&self.remote.tasks));
        if self.remote.stop.swap(false, Ordering::AcqRel) {
            self.stopping.set(true);
        }
        {
            let mut callbacks = self.callbacks.borrow_mut();
            callbacks.extend(cbs.drain(..).map(|cb| cb as Callback));
        }
        self.ready.extend(wakes.drain(..));
    }

    /// One iteration of the loop (see the module docs).
    pub(crate) fn iterate(&self) {
        self.drain_remote();

        // Both counts are taken before anything runs: work that callbacks or tasks add
        // waits for the next iteration.
        let n = self.callbacks.borrow().len();
        let ready = self.ready.len();
        for _ in 0..n {
            let cb = self.callbacks.borrow_mut().pop_front();
            match cb {
                Some(cb) => Self::run_callback("callback", cb),
                None => break,
            }
        }

        for _ in 0..ready {
            let next = self.ready.pop();
            match next {
                Some((key, generation)) => self.poll_task(key, generation),
                None => break,
            }
        }

        let mut due = std::mem::take(&mut *self.due.borrow_mut());
        self.timers.borrow_mut().pop_due(self.now.get(), &mut due);
        for handle in due.drain(..) {
            // Taken one at a time: an earlier timeout may have cancelled this one.
            let cb = self.timers.borrow_mut().take(handle);
            if let Some(cb) = cb {
                Self::run_callback("timeout", cb);
            }
        }
        *self.due.borrow_mut() = due;

        if self.stopping.get() {
            return;
        }

        let timeout = if !self.callbacks.borrow().is_empty() || !self.ready.is_empty() {
            Some(Duration::ZERO)
        } else {
            let next = self.timers.borrow_mut().next_deadline();
            next.map(|d| d.saturating_duration_since(Instant::now()))
        };
        let mut events = self.events.borrow_mut();
        if let Err(e) = self.poll.borrow_mut().poll(&mut events, timeout)
            && e.kind() != io::ErrorKind::Interrupted
        {
            log::error!("IoLoop poll failed: {e}");
        }
        let now = Instant::now();
        self.now.set(now);
        self.polled.set(Some(now));
        for ev in events.iter() {
            if ev.token() != WAKER_TOKEN {
                self.dispatch(ev.token(), Ready::from_event(ev));
            }
        }
    }
}

impl IoLoop {
    /// Runs the loop until [`stop`](IoLoop::stop) is called.
    ///
    /// # Panics
    ///
    /// If the loop is already running (a nested `start`/`run_sync`), as Tornado raises
    /// `RuntimeError` then.
    pub fn start(&self) {
        assert!(
            !self.inner.running.get(),
            "IoLoop::start: this loop is already running"
        );
        /// Puts back what `start` changed, also if a panic unwinds out of the loop, so
        /// the loop is not left marked running (every later `start` would refuse).
        struct Running<'a> {
            io_loop: &'a IoLoop,
            previous: Option<IoLoop>,
            previous_running: Option<Rc<waker::ReadyQueue>>,
        }
        impl Drop for Running<'_> {
            fn drop(&mut self) {
                self.io_loop.inner.stopping.set(false);
                self.io_loop.inner.running.set(false);
                waker::enter(self.previous_running.take());
                let ours = self.io_loop.swap_current(self.previous.take());
                drop(ours);
            }
        }
        let _running = Running {
            io_loop: self,
            previous: self.swap_current(Some(self.clone())),
            previous_running: waker::enter(Some(self.inner.ready.clone())),
        };
        self.inner.running.set(true);
        self.inner.now.set(Instant::now());
        loop {
            self.inner.iterate();
            if self.inner.stopping.get() {
                break;
            }
        }
    }

    /// Stops the loop after the current iteration. Calling it before `start` makes the
    /// next `start` return after one iteration.
    pub fn stop(&self) {
        self.inner.stopping.set(true);
    }

    /// Runs the loop until `future` completes and returns its output.
    ///
    /// The future runs as a task, so it need not be `Send`, and may spawn others.
    ///
    /// # Panics
    ///
    /// If the future panics (the panic is passed on to the caller), if the loop is
    /// already running, or if something calls [`stop`](IoLoop::stop) before the future
    /// completes (Tornado: "Event loop stopped before Future completed").
    ///
    /// ```
    /// use std::time::Duration;
    /// use tornado_ioloop::IoLoop;
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// let v = io_loop.run_sync(async { 7 });
    /// assert_eq!(v, 7);
    /// ```
    pub fn run_sync<F: Future + 'static>(&self, future: F) -> F::Output {
        match self.run_until(future, None) {
            Ok(v) => v,
            Err(e) => panic!("IoLoop::run_sync: {e}"),
        }
    }

    /// Like [`run_sync`](IoLoop::run_sync) but gives up after `timeout`: the future is
    /// dropped and `Err` with kind `TimedOut` is returned.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tornado_ioloop::IoLoop;
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// let err = io_loop
    ///     .run_sync_timeout(std::future::pending::<()>(), Duration::from_millis(10))
    ///     .unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// ```
    pub fn run_sync_timeout<F: Future + 'static>(
        &self,
        future: F,
        timeout: Duration,
    ) -> io::Result<F::Output> {
        self.run_until(future, Some(timeout))
    }

    fn run_until<F: Future + 'static>(
        &self,
        future: F,
        timeout: Option<Duration>,
    ) -> io::Result<F::Output> {
        // Checked before anything is spawned, so a nested call leaves no task behind.
        assert!(
            !self.inner.running.get(),
            "IoLoop::run_sync: this loop is already running"
        );
        /// Stops the loop when the future ends, by finishing or by panicking.
        struct StopOnDrop(IoLoop);
        impl Drop for StopOnDrop {
            fn drop(&mut self) {
                self.0.stop();
            }
        }
        let guard = StopOnDrop(self.clone());
        let mut handle = self.spawn(async move {
            let _guard = guard;
            future.await
        });
        let timed_out = Rc::new(Cell::new(false));
        let timer = timeout.map(|t| {
            let (this, flag) = (self.clone(), timed_out.clone());
            // Measured from the real clock: the loop's cached clock may be stale here.
            self.call_at(deadline_after(Instant::now(), t), move || {
                flag.set(true);
                this.stop();
            })
        });
        self.start();
        if let Some(t) = timer {
            self.remove_timeout(t);
        }
        let result = handle.try_take();
        if result.is_none() {
            // Dropped with this loop current, as Tornado cancels the future on its loop:
            // what its destructors schedule (`spawn`, `IoLoop::current()`) goes to this
            // loop, not to a new one made current on the thread.
            let previous = self.swap_current(Some(self.clone()));
            let aborted = catch_unwind(AssertUnwindSafe(|| handle.abort()));
            let ours = self.swap_current(previous);
            drop(ours);
            if let Err(payload) = aborted {
                std::panic::resume_unwind(payload);
            }
        }
        // Dropping the task (or its guard) asked a loop that is no longer running to
        // stop; that request must not end the next `start` early.
        self.inner.stopping.set(false);
        match result {
            Some(Ok(v)) => Ok(v),
            Some(Err(task::JoinError::Panicked(msg))) => {
                std::panic::resume_unwind(Box::new(format!("future panicked: {msg}")))
            }
            Some(Err(task::JoinError::Cancelled)) => Err(io::Error::other(
                "the future was cancelled before it completed",
            )),
            None => match timeout {
                Some(t) if timed_out.get() => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("operation did not complete within {t:?}"),
                )),
                _ => Err(io::Error::other(
                    "event loop stopped before the future completed",
                )),
            },
        }
    }
}
