//! `Lock`: a FIFO mutual-exclusion lock for tasks.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use tornado_ioloop::Deadline;

use super::semaphore::{PermitWait, Permits};
use crate::timeout::{WithTimeout, with_timeout};

/// A lock for tasks: [`acquire`](Lock::acquire) waits until it is free and gives a
/// [`LockGuard`] that unlocks when dropped (Tornado's `locks.Lock`, used as
/// `async with lock:`).
///
/// Waiters get the lock in the order they asked for it. The lock guards no data: keep
/// the data in a `RefCell` beside it, and never hold a `RefCell` borrow across an
/// `.await`, only the guard.
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// use tornado_gen::locks::Lock;
/// use tornado_gen::{moment, multi};
/// use tornado_ioloop::IoLoop;
///
/// let io_loop = IoLoop::new().unwrap();
/// let log = io_loop.run_sync(async {
///     let lock = Lock::new();
///     let log = Rc::new(RefCell::new(Vec::new()));
///     multi((0..3).map(|i| {
///         let (lock, log) = (lock.clone(), log.clone());
///         async move {
///             let _guard = lock.acquire().await;
///             log.borrow_mut().push(format!("{i} in"));
///             moment().await; // others run, but cannot enter
///             log.borrow_mut().push(format!("{i} out"));
///         }
///     }))
///     .await;
///     log.take()
/// });
/// assert_eq!(log, ["0 in", "0 out", "1 in", "1 out", "2 in", "2 out"]);
/// ```
#[derive(Clone)]
pub struct Lock {
    permits: Rc<Permits>,
}

impl Default for Lock {
    fn default() -> Self {
        Lock::new()
    }
}

impl Lock {
    /// An unlocked lock.
    pub fn new() -> Lock {
        Lock {
            permits: Permits::new(1, Some(1)),
        }
    }

    /// True while some guard holds the lock.
    pub fn is_locked(&self) -> bool {
        self.permits.value() == 0
    }

    /// Waits for the lock (FIFO). Cancel-safe: a dropped `LockAcquire` that had been
    /// handed the lock passes it to the next waiter.
    pub fn acquire(&self) -> LockAcquire {
        LockAcquire {
            wait: PermitWait::new(self.permits.clone()),
        }
    }

    /// [`acquire`](Self::acquire) with a deadline: `Err` with `is_timeout()` if the lock
    /// did not come in time.
    pub fn acquire_timeout(&self, timeout: impl Into<Deadline>) -> WithTimeout<LockAcquire> {
        with_timeout(timeout, self.acquire())
    }

    /// Takes the lock if it is free now.
    pub fn try_acquire(&self) -> Option<LockGuard> {
        self.permits.try_acquire().then(|| LockGuard {
            permits: self.permits.clone(),
        })
    }
}

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock")
            .field("locked", &self.is_locked())
            .field("waiters", &self.permits.waiters())
            .finish()
    }
}

/// The future returned by [`Lock::acquire`].
#[must_use = "futures do nothing unless awaited"]
pub struct LockAcquire {
    wait: PermitWait,
}

impl Future for LockAcquire {
    type Output = LockGuard;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<LockGuard> {
        match self.wait.poll_permit(cx) {
            Poll::Ready(()) => Poll::Ready(LockGuard {
                permits: self.wait.permits(),
            }),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl fmt::Debug for LockAcquire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockAcquire").finish_non_exhaustive()
    }
}

/// Holds a [`Lock`]; dropping it (or calling [`release`](LockGuard::release)) unlocks.
#[must_use = "dropping the guard unlocks at once"]
pub struct LockGuard {
    permits: Rc<Permits>,
}

impl LockGuard {
    /// Unlocks now (the same as dropping the guard).
    pub fn release(self) {}
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // The guard holds the only permit, so this cannot exceed the bound.
        if let Err(e) = self.permits.release() {
            log::warn!("unlocking a Lock: {e}");
        }
    }
}

impl fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard").finish_non_exhaustive()
    }
}
