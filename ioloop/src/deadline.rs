//! Deadlines: an [`Instant`] or a [`Duration`] from now, and the saturating sum that
//! turns a delay into an instant without overflowing.

use std::time::{Duration, Instant};

/// How far in the future a delay too large for `Instant` is taken to be: about a
/// century. It never comes in practice, and adding it cannot overflow.
pub const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `base + delay` that never panics: a delay longer than [`FAR_FUTURE`] (such as
/// [`Duration::MAX`], or any timeout a user sets too high) is cut to it, which means
/// "never" in practice.
///
/// `Instant + Duration` panics when the sum does not fit the clock; use this wherever the
/// delay comes from a user's setting.
///
/// ```
/// use std::time::{Duration, Instant};
/// use tornado_ioloop::{FAR_FUTURE, deadline_after};
///
/// let now = Instant::now();
/// assert_eq!(deadline_after(now, Duration::from_secs(5)), now + Duration::from_secs(5));
/// assert_eq!(deadline_after(now, Duration::MAX), now + FAR_FUTURE);
/// ```
pub fn deadline_after(base: Instant, delay: Duration) -> Instant {
    let mut delay = delay.min(FAR_FUTURE);
    // Only a clock within a century of its own end needs more than one try.
    loop {
        if let Some(at) = base.checked_add(delay) {
            return at;
        }
        delay /= 2;
    }
}

/// When a timeout fires: at an instant, or after a delay from the loop's clock.
///
/// `add_timeout` takes either, as Tornado's `add_timeout` takes a deadline or a
/// `timedelta`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// At this instant.
    At(Instant),
    /// This long after now: a fresh read of the clock, not the cached
    /// [`IoLoop::time`](crate::IoLoop::time), so the timeout never fires early (see
    /// [`IoLoop::add_timeout`](crate::IoLoop::add_timeout)).
    After(Duration),
}

impl From<Instant> for Deadline {
    fn from(i: Instant) -> Self {
        Deadline::At(i)
    }
}

impl From<Duration> for Deadline {
    fn from(d: Duration) -> Self {
        Deadline::After(d)
    }
}
