//! Deadlines: an [`Instant`] or a [`Duration`] from now, and the saturating sum that
//! turns a delay into an instant without overflowing.

use std::time::{Duration, Instant};

/// How far in the future a delay too large for `Instant` is taken to be: it never fires
/// in practice, and it cannot overflow.
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `base + delay`, saturating at [`FAR_FUTURE`] instead of panicking on overflow.
pub(crate) fn deadline_after(base: Instant, delay: Duration) -> Instant {
    base.checked_add(delay.min(FAR_FUTURE))
        .or_else(|| base.checked_add(Duration::from_secs(365 * 24 * 3600)))
        .unwrap_or(base)
}

/// When a timeout fires: at an instant, or after a delay from the loop's clock.
///
/// `add_timeout` takes either, as Tornado's `add_timeout` takes a deadline or a
/// `timedelta`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// At this instant.
    At(Instant),
    /// This long after [`IoLoop::time`](crate::IoLoop::time).
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
