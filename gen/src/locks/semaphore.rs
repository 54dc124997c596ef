//! `Semaphore` and `BoundedSemaphore`, and the permit queue `Lock` is built on.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use tornado_ioloop::Deadline;

use crate::error::Error;
use crate::timeout::{WithTimeout, with_timeout};
use crate::waiters::{Node, NodeState, WaitQueue};

/// The shared state of a semaphore: free permits and the FIFO of waiters.
pub(crate) struct Permits {
    value: Cell<usize>,
    bound: Option<usize>,
    waiters: RefCell<WaitQueue<()>>,
}

impl Permits {
    pub(crate) fn new(value: usize, bound: Option<usize>) -> Rc<Permits> {
        Rc::new(Permits {
            value: Cell::new(value),
            bound,
            waiters: RefCell::new(WaitQueue::default()),
        })
    }

    pub(crate) fn value(&self) -> usize {
        self.value.get()
    }

    pub(crate) fn waiters(&self) -> usize {
        self.waiters.borrow().len()
    }

    /// Takes a permit if one is free.
    pub(crate) fn try_acquire(&self) -> bool {
        match self.value.get() {
            0 => false,
            v => {
                self.value.set(v - 1);
                true
            }
        }
    }

    /// Gives a permit back: to the oldest waiter if there is one, else to the pool.
    pub(crate) fn release(&self) -> Result<(), Error> {
        let value = self.value.get();
        if self.bound.is_some_and(|b| value >= b) {
            return Err(Error::over_release());
        }
        let node = self.waiters.borrow_mut().pop_waiting();
        match node {
            Some(node) => {
                if let Some(w) = node.notify(Some(())) {
                    w.wake();
                }
            }
            None => self.value.set(value.saturating_add(1)),
        }
        Ok(())
    }

    fn release_or_log(&self) {
        if let Err(e) = self.release() {
            log::warn!("dropping a semaphore guard: {e}");
        }
    }
}

/// Waits for a permit; resolves to `true` once one is held. Cancel-safe.
pub(crate) struct PermitWait {
    permits: Rc<Permits>,
    node: Option<Rc<Node<()>>>,
}

impl PermitWait {
    pub(crate) fn new(permits: Rc<Permits>) -> PermitWait {
        PermitWait {
            permits,
            node: None,
        }
    }

    pub(crate) fn permits(&self) -> Rc<Permits> {
        self.permits.clone()
    }

    pub(crate) fn poll_permit(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match &self.node {
            None => {
                if self.permits.try_acquire() {
                    return Poll::Ready(());
                }
                self.node = Some(self.permits.waiters.borrow_mut().push(cx.waker(), None));
                Poll::Pending
            }
            Some(node) => match node.state() {
                NodeState::Notified => {
                    self.node = None;
                    Poll::Ready(())
                }
                _ => {
                    node.set_waker(cx.waker());
                    Poll::Pending
                }
            },
        }
    }
}

impl Drop for PermitWait {
    fn drop(&mut self) {
        let Some(node) = self.node.take() else { return };
        match node.state() {
            // Handed a permit we will never use: pass it on.
            NodeState::Notified => self.permits.release_or_log(),
            _ => {
                self.permits.waiters.borrow_mut().cancel(&node);
            }
        }
    }
}

/// A counter of permits; [`acquire`](Semaphore::acquire) waits while it is zero
/// (Tornado's `locks.Semaphore`).
///
/// `acquire` gives a [`SemaphoreGuard`] that releases its permit when dropped. For
/// Tornado's explicit style, [`SemaphoreGuard::forget`] keeps the permit and
/// [`release`](Semaphore::release) gives one back.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::time::Duration;
/// use tornado_gen::locks::Semaphore;
/// use tornado_gen::{multi, sleep};
/// use tornado_ioloop::IoLoop;
///
/// let io_loop = IoLoop::new().unwrap();
/// let peak = io_loop.run_sync(async {
///     let sem = Semaphore::new(2);
///     let (active, peak) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
///     multi((0..6).map(|_| {
///         let (sem, active, peak) = (sem.clone(), active.clone(), peak.clone());
///         async move {
///             let _permit = sem.acquire().await;
///             active.set(active.get() + 1);
///             peak.set(peak.get().max(active.get()));
///             sleep(Duration::from_millis(2)).await;
///             active.set(active.get() - 1);
///         }
///     }))
///     .await;
///     peak.get()
/// });
/// assert_eq!(peak, 2);
/// ```
#[derive(Clone)]
pub struct Semaphore {
    permits: Rc<Permits>,
}

impl Semaphore {
    /// A semaphore with `value` free permits.
    pub fn new(value: usize) -> Semaphore {
        Semaphore {
            permits: Permits::new(value, None),
        }
    }

    /// Free permits now.
    pub fn value(&self) -> usize {
        self.permits.value()
    }

    /// Tasks waiting in `acquire`.
    pub fn waiters(&self) -> usize {
        self.permits.waiters()
    }

    /// Waits for a permit (FIFO). Cancel-safe.
    pub fn acquire(&self) -> Acquire {
        Acquire {
            wait: PermitWait::new(self.permits.clone()),
        }
    }

    /// [`acquire`](Self::acquire) with a deadline: `Err` with `is_timeout()` if no
    /// permit came in time.
    pub fn acquire_timeout(&self, timeout: impl Into<Deadline>) -> WithTimeout<Acquire> {
        with_timeout(timeout, self.acquire())
    }

    /// Takes a permit if one is free now.
    pub fn try_acquire(&self) -> Option<SemaphoreGuard> {
        self.permits.try_acquire().then(|| SemaphoreGuard {
            permits: Some(self.permits.clone()),
        })
    }

    /// Adds a permit, waking the oldest waiter if there is one.
    pub fn release(&self) {
        // Unbounded: release cannot fail.
        let _ = self.permits.release();
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("value", &self.value())
            .field("waiters", &self.waiters())
            .finish()
    }
}

/// A [`Semaphore`] that may not be released above its initial value (Tornado's
/// `locks.BoundedSemaphore`): an extra [`release`](BoundedSemaphore::release) is an
/// error, which catches a permit given back twice.
///
/// ```
/// use tornado_gen::locks::BoundedSemaphore;
///
/// let sem = BoundedSemaphore::new(1);
/// let permit = sem.try_acquire().unwrap();
/// permit.forget(); // keep it; give it back by hand
/// assert!(sem.release().is_ok());
/// let err = sem.release().unwrap_err();
/// assert!(err.is_over_release());
/// assert_eq!(sem.value(), 1);
/// ```
#[derive(Clone)]
pub struct BoundedSemaphore {
    permits: Rc<Permits>,
}

impl BoundedSemaphore {
    /// A semaphore with `value` permits, never more.
    pub fn new(value: usize) -> BoundedSemaphore {
        BoundedSemaphore {
            permits: Permits::new(value, Some(value)),
        }
    }

    /// Free permits now.
    pub fn value(&self) -> usize {
        self.permits.value()
    }

    /// Tasks waiting in `acquire`.
    pub fn waiters(&self) -> usize {
        self.permits.waiters()
    }

    /// Waits for a permit (FIFO). Cancel-safe.
    pub fn acquire(&self) -> Acquire {
        Acquire {
            wait: PermitWait::new(self.permits.clone()),
        }
    }

    /// [`acquire`](Self::acquire) with a deadline.
    pub fn acquire_timeout(&self, timeout: impl Into<Deadline>) -> WithTimeout<Acquire> {
        with_timeout(timeout, self.acquire())
    }

    /// Takes a permit if one is free now.
    pub fn try_acquire(&self) -> Option<SemaphoreGuard> {
        self.permits.try_acquire().then(|| SemaphoreGuard {
            permits: Some(self.permits.clone()),
        })
    }

    /// Gives a permit back; `Err` (with `is_over_release()`) if that would exceed the
    /// initial value.
    pub fn release(&self) -> Result<(), Error> {
        self.permits.release()
    }
}

impl fmt::Debug for BoundedSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedSemaphore")
            .field("value", &self.value())
            .field("bound", &self.permits.bound)
            .field("waiters", &self.waiters())
            .finish()
    }
}

/// The future returned by `Semaphore::acquire` and `BoundedSemaphore::acquire`.
#[must_use = "futures do nothing unless awaited"]
pub struct Acquire {
    wait: PermitWait,
}

impl Future for Acquire {
    type Output = SemaphoreGuard;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<SemaphoreGuard> {
        match self.wait.poll_permit(cx) {
            Poll::Ready(()) => Poll::Ready(SemaphoreGuard {
                permits: Some(self.wait.permits()),
            }),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl fmt::Debug for Acquire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("waiting", &self.wait.node.is_some())
            .finish()
    }
}

/// A held semaphore permit; dropping it releases the permit.
#[must_use = "dropping the guard releases the permit at once"]
pub struct SemaphoreGuard {
    permits: Option<Rc<Permits>>,
}

impl SemaphoreGuard {
    /// Keeps the permit acquired without a guard; give it back later with `release()`
    /// on the semaphore (Tornado's explicit `acquire` / `release` style).
    pub fn forget(mut self) {
        self.permits = None;
    }
}

impl Drop for SemaphoreGuard {
    fn drop(&mut self) {
        if let Some(p) = self.permits.take() {
            p.release_or_log();
        }
    }
}

impl fmt::Debug for SemaphoreGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphoreGuard").finish_non_exhaustive()
    }
}
