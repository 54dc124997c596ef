//! `PeriodicCallback`: call a function every `period`, skipping ticks it missed.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::deadline::deadline_after;
use crate::ioloop::IoLoop;
use crate::panic::panic_message;
use crate::timer::TimeoutHandle;

struct State {
    callback: Option<Box<dyn FnMut()>>,
    period: Duration,
    jitter: f64,
    running: bool,
    next: Instant,
    /// The pending timer and the loop it is on: the loop that was current at `start`.
    timeout: Option<(IoLoop, TimeoutHandle)>,
    rng: u64,
    /// Set by `start` (Tornado binds to `IOLoop.current()` there, not at creation).
    io_loop: Option<IoLoop>,
}

/// Calls a function every `period` (Tornado's `PeriodicCallback`).
///
/// The callback runs on the loop that is current when [`start`](PeriodicCallback::start)
/// is called, as in Tornado: one may be made before its loop exists, or while another
/// loop is current, and started from a task on the loop that should run it.
///
/// When the loop falls behind (a callback ran long, the machine slept), missed ticks are
/// skipped rather than run in a burst: the next call is the next multiple of `period`
/// after now. With jitter `j`, each period is scaled by a random factor in
/// `[1 - j/2, 1 + j/2]` to spread the load of many timers.
///
/// The callback keeps running until [`stop`](PeriodicCallback::stop) is called, even if
/// this handle is dropped.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::time::Duration;
/// use tornado_ioloop::{IoLoop, PeriodicCallback};
///
/// let io_loop = IoLoop::new().unwrap();
/// io_loop.make_current();
/// let ticks = Rc::new(Cell::new(0));
/// let t = ticks.clone();
/// let pc = PeriodicCallback::new(move || t.set(t.get() + 1), Duration::from_millis(5)).unwrap();
/// pc.start();
/// let l = io_loop.clone();
/// io_loop.call_later(Duration::from_millis(60), move || l.stop());
/// io_loop.start();
/// pc.stop();
/// assert!(ticks.get() >= 2);
/// ```
#[derive(Clone)]
pub struct PeriodicCallback {
    state: Rc<RefCell<State>>,
}

impl fmt::Debug for PeriodicCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state.borrow();
        f.debug_struct("PeriodicCallback")
            .field("period", &st.period)
            .field("jitter", &st.jitter)
            .field("running", &st.running)
            .finish()
    }
}

impl PeriodicCallback {
    /// A periodic callback, not started and bound to no loop yet. Errs if `period` is
    /// zero.
    pub fn new<F: FnMut() + 'static>(callback: F, period: Duration) -> io::Result<Self> {
        if period.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "PeriodicCallback period must be greater than zero",
            ));
        }
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9e37_79b9, |d| d.subsec_nanos() as u64);
        Ok(PeriodicCallback {
            state: Rc::new(RefCell::new(State {
                callback: Some(Box::new(callback)),
                period,
                jitter: 0.0,
                running: false,
                next: Instant::now(),
                timeout: None,
                rng: seed | 1,
                io_loop: None,
            })),
        })
    }

    /// Sets the jitter, a fraction of the period in `[0, 1]` (clamped).
    pub fn with_jitter(self, jitter: f64) -> Self {
        let j = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.state.borrow_mut().jitter = j;
        self
    }

    /// Starts calling on the current loop ([`IoLoop::current`]); the first call comes
    /// one period from now. Starting a running callback does nothing.
    pub fn start(&self) {
        {
            let mut st = self.state.borrow_mut();
            if st.running {
                return;
            }
            st.running = true;
            st.next = Instant::now();
            st.io_loop = Some(IoLoop::current());
        }
        Self::schedule_next(&self.state);
    }

    /// Stops calling; a call already due will not happen.
    pub fn stop(&self) {
        let timeout = {
            let mut st = self.state.borrow_mut();
            st.running = false;
            st.timeout.take()
        };
        if let Some((io_loop, t)) = timeout {
            io_loop.remove_timeout(t);
        }
    }

    /// True between `start` and `stop`.
    pub fn is_running(&self) -> bool {
        self.state.borrow().running
    }

    fn schedule_next(state: &Rc<RefCell<State>>) {
        let mut st = state.borrow_mut();
        if !st.running {
            return;
        }
        // The real clock, not the loop's cached one: the callback may have run long, and
        // deciding which ticks were missed needs the time it returned.
        let now = Instant::now();
        let period = st.jittered_period();
        if st.next <= now {
            let behind = (now - st.next).as_secs_f64();
            let skipped = (behind / period.as_secs_f64()).floor() + 1.0;
            let step = Duration::try_from_secs_f64(period.as_secs_f64() * skipped)
                .unwrap_or(Duration::MAX);
            st.next = deadline_after(st.next, step);
        }
        let Some(io_loop) = st.io_loop.clone() else {
            return;
        };
        let s = state.clone();
        let at = st.next;
        let new = io_loop.call_at(at, move || Self::run(&s));
        // Only one timer at a time, even after stop() and start() inside the callback.
        if let Some((old_loop, old)) = st.timeout.replace((io_loop, new)) {
            old_loop.remove_timeout(old);
        }
    }

    fn run(state: &Rc<RefCell<State>>) {
        let callback = {
            let mut st = state.borrow_mut();
            st.timeout = None;
            if !st.running {
                return;
            }
            st.callback.take()
        };
        if let Some(mut cb) = callback {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut cb));
            state.borrow_mut().callback = Some(cb);
            if let Err(p) = r {
                log::error!("exception in PeriodicCallback: {}", panic_message(&*p));
            }
        }
        Self::schedule_next(state);
    }
}

impl State {
    fn jittered_period(&mut self) -> Duration {
        if self.jitter == 0.0 {
            return self.period;
        }
        // xorshift64: plenty for spreading timers.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        let unit = (x >> 11) as f64 / (1u64 << 53) as f64;
        // `mul_f64` would panic for a period near `Duration::MAX`.
        Duration::try_from_secs_f64(self.period.as_secs_f64() * (1.0 + self.jitter * (unit - 0.5)))
            .unwrap_or(Duration::MAX)
    }
}
