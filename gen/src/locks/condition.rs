//! `Condition`: tasks wait until another notifies them.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use tornado_ioloop::Deadline;

use crate::timeout::{WithTimeout, with_timeout};
use crate::waiters::{Node, NodeState, WaitQueue, wake_all};

struct Inner {
    /// Each waiter holds the number of its arrival; a notified one, the number of the
    /// next arrival at the time of the notify (see `ConditionWait`'s `Drop`).
    waiters: RefCell<WaitQueue<u64>>,
    arrivals: Cell<u64>,
}

/// Lets tasks wait until notified (Tornado's `locks.Condition`).
///
/// [`wait`](Condition::wait) always waits (there is no flag, unlike [`Event`](super::Event));
/// [`notify(n)`](Condition::notify) wakes exactly the `n` oldest waiters still waiting
/// (fewer if fewer wait), [`notify_all`](Condition::notify_all) wakes all. A waiter
/// that timed out or was dropped does not count against `n`. A waiter dropped after
/// being notified, before it ran, passes its notification to the next waiter that was
/// already waiting when the notification was made (none after `notify_all`): a waiter
/// that came later is not woken by it, as in Tornado.
///
/// A timed-out wait gives `Err` with `is_timeout()` (Tornado resolves to `False`).
///
/// ```
/// use tornado_gen::locks::Condition;
/// use tornado_gen::moment;
/// use tornado_ioloop::{IoLoop, spawn};
///
/// let io_loop = IoLoop::new().unwrap();
/// io_loop.run_sync(async {
///     let cond = Condition::new();
///     let waiters: Vec<_> = (0..3)
///         .map(|i| {
///             let c = cond.clone();
///             spawn(async move {
///                 c.wait().await;
///                 i
///             })
///         })
///         .collect();
///     moment().await; // let them start waiting
///     cond.notify(2);
///     moment().await;
///     let done: Vec<bool> = waiters.iter().map(|w| w.is_finished()).collect();
///     assert_eq!(done, [true, true, false]);
///     cond.notify_all();
///     for w in waiters {
///         w.await.unwrap();
///     }
/// });
/// ```
#[derive(Clone)]
pub struct Condition {
    inner: Rc<Inner>,
}

impl Default for Condition {
    fn default() -> Self {
        Condition::new()
    }
}

impl Condition {
    /// A condition with no waiters.
    pub fn new() -> Condition {
        Condition {
            inner: Rc::new(Inner {
                waiters: RefCell::new(WaitQueue::default()),
                arrivals: Cell::new(0),
            }),
        }
    }

    /// Tasks waiting now.
    pub fn waiters(&self) -> usize {
        self.inner.waiters.borrow().len()
    }

    /// Waits for a notification. Cancel-safe.
    pub fn wait(&self) -> ConditionWait {
        ConditionWait {
            inner: self.inner.clone(),
            node: None,
        }
    }

    /// [`wait`](Self::wait) with a deadline: `Err` with `is_timeout()` if no
    /// notification came in time.
    pub fn wait_timeout(&self, timeout: impl Into<Deadline>) -> WithTimeout<ConditionWait> {
        with_timeout(timeout, self.wait())
    }

    /// Wakes the `n` oldest waiters (Tornado's `notify(n=1)`); returns how many woke.
    pub fn notify(&self, n: usize) -> usize {
        let mut wakers = Vec::new();
        {
            let horizon = self.inner.arrivals.get();
            let mut waiters = self.inner.waiters.borrow_mut();
            while wakers.len() < n {
                let Some(node) = waiters.pop_waiting() else {
                    break;
                };
                wakers.push(node.notify(Some(horizon)));
            }
        }
        let woken = wakers.len();
        wake_all(wakers.into_iter().flatten().collect());
        woken
    }

    /// Wakes every waiter; returns how many woke.
    pub fn notify_all(&self) -> usize {
        self.notify(usize::MAX)
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("waiters", &self.waiters())
            .finish()
    }
}

/// The future returned by [`Condition::wait`].
#[must_use = "futures do nothing unless awaited"]
pub struct ConditionWait {
    inner: Rc<Inner>,
    node: Option<Rc<Node<u64>>>,
}

impl Future for ConditionWait {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &self.node {
            None => {
                let arrival = self.inner.arrivals.get();
                self.inner.arrivals.set(arrival + 1);
                let node = self
                    .inner
                    .waiters
                    .borrow_mut()
                    .push(cx.waker(), Some(arrival));
                self.node = Some(node);
                Poll::Pending
            }
            Some(node) => {
                if node.state() == NodeState::Notified {
                    self.node = None;
                    return Poll::Ready(());
                }
                node.set_waker(cx.waker());
                Poll::Pending
            }
        }
    }
}

impl Drop for ConditionWait {
    fn drop(&mut self) {
        let Some(node) = self.node.take() else { return };
        if node.state() == NodeState::Notified {
            // Notified but never saw it: the notification goes to the next waiter, if
            // that one was waiting when it was made (a notify wakes only the waiters
            // there at the time; after `notify_all` no one is left to pass it to).
            let horizon = node.take_value().unwrap_or(0);
            let next = self
                .inner
                .waiters
                .borrow_mut()
                .pop_waiting_if(|arrival| arrival.is_some_and(|a| *a < horizon));
            if let Some(next) = next
                && let Some(waker) = next.notify(Some(horizon))
            {
                waker.wake();
            }
        } else {
            self.inner.waiters.borrow_mut().cancel(&node);
        }
    }
}

impl fmt::Debug for ConditionWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConditionWait")
            .field("waiting", &self.node.is_some())
            .finish()
    }
}
