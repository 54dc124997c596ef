//! The connection's one deadline: header, body or idle, by the loop's cached clock.
//!
//! At most one timer is armed per connection; when it fires before a deadline that
//! was pushed back since, it re-arms itself. The idle deadline between requests is left
//! to the server's per-thread sweep, so an idle connection owns no timer.

use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use super::{Conn, NO_MARK, Phase};

/// `now + d` for an optional timeout, saturating (a huge timeout means "never", not a
/// panic): the loop's [`deadline_after`](tornado_ioloop::deadline_after).
pub(crate) fn deadline_after(now: Instant, d: Option<Duration>) -> Option<Instant> {
    d.map(|d| tornado_ioloop::deadline_after(now, d))
}

impl Conn {
    /// Sets the deadline, arming the timer if it would fire too late (or not at all).
    pub(super) fn set_deadline(self: &Rc<Self>, deadline: Option<Instant>) {
        self.write_mark.set(NO_MARK);
        self.deadline.set(deadline);
        let Some(at) = deadline else { return };
        match self.timer.get() {
            // An armed timer that fires no later re-arms itself for the new deadline.
            Some((armed, _)) if armed <= at => {}
            other => {
                if let Some((_, h)) = other {
                    self.io_loop.remove_timeout(h);
                }
                self.arm(at);
            }
        }
    }

    /// The deadline between requests, watched by the server's sweep rather than a timer.
    pub(super) fn set_swept_deadline(&self) {
        self.write_mark.set(NO_MARK);
        let now = self.io_loop.time();
        self.deadline.set(deadline_after(
            now,
            self.shared.settings.idle_connection_timeout,
        ));
    }

    /// The deadline for a peer that takes our output slowly: it passes only if the
    /// socket takes nothing for `idle_connection_timeout`; each time the timer finds
    /// that bytes went out since, it is pushed back (a long download is not cut).
    /// Progress is what the kernel accepted: with very large socket buffers a client
    /// that reads slowly can leave it silent for a while, so this timeout should be
    /// seconds, not milliseconds (the default is an hour).
    pub(super) fn set_write_deadline(self: &Rc<Self>) {
        let now = self.io_loop.time();
        self.set_deadline(deadline_after(
            now,
            self.shared.settings.idle_connection_timeout,
        ));
        if self.deadline.get().is_some() {
            self.write_mark.set(self.stream.bytes_written());
        }
    }

    pub(super) fn clear_deadline(&self) {
        self.write_mark.set(NO_MARK);
        self.deadline.set(None);
        if let Some((_, h)) = self.timer.take() {
            self.io_loop.remove_timeout(h);
        }
    }

    fn arm(self: &Rc<Self>, at: Instant) {
        let weak: Weak<Conn> = Rc::downgrade(self);
        let h = self.io_loop.call_at(at, move || {
            if let Some(conn) = weak.upgrade() {
                conn.on_timer();
            }
        });
        self.timer.set(Some((at, h)));
    }

    fn on_timer(self: &Rc<Self>) {
        self.timer.set(None);
        match self.deadline.get() {
            None => {}
            // The idle deadline belongs to the sweep.
            Some(_) if self.phase.get() == Phase::Idle => {}
            Some(d) if d > self.io_loop.time() => self.arm(d),
            Some(_) => match self.write_mark.get() {
                // Output moved since: the reader is slow, not gone.
                mark if mark != NO_MARK && self.stream.bytes_written() > mark => {
                    self.set_write_deadline()
                }
                _ => self.time_out(),
            },
        }
    }

    fn time_out(&self) {
        if matches!(self.phase.get(), Phase::Idle | Phase::Busy) {
            self.phase.set(Phase::TimedOut);
        }
        self.stream.close();
        self.wake_close_waiters();
    }

    /// Called by the server's periodic sweep: closes the connection if its idle
    /// deadline has passed.
    pub(super) fn sweep_idle(&self, now: Instant) {
        if self.phase.get() == Phase::Idle && self.deadline.get().is_some_and(|d| d <= now) {
            self.time_out();
        }
    }
}
