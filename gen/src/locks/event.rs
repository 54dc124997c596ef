//! `Event`: a flag tasks can wait on.

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
    set: Cell<bool>,
    waiters: RefCell<WaitQueue<()>>,
}

/// A flag, initially false; [`wait`](Event::wait) blocks until it is
/// [`set`](Event::set) (Tornado's `locks.Event`).
///
/// `set` releases every task waiting at that moment, even if the event is
/// [`clear`](Event::clear)ed again before they run; a `wait` that starts while the
/// flag is set completes at once.
///
/// ```
/// use std::time::Duration;
/// use tornado_gen::locks::Event;
/// use tornado_ioloop::{IoLoop, spawn};
///
/// let io_loop = IoLoop::new().unwrap();
/// io_loop.run_sync(async {
///     let event = Event::new();
///     let e = event.clone();
///     let waiter = spawn(async move {
///         e.wait().await;
///         "woken"
///     });
///     tornado_gen::sleep(Duration::from_millis(1)).await;
///     event.set();
///     assert_eq!(waiter.await.unwrap(), "woken");
///     let err = Event::new().wait_timeout(Duration::from_millis(1)).await.unwrap_err();
///     assert!(err.is_timeout());
/// });
/// ```
#[derive(Clone)]
pub struct Event {
    inner: Rc<Inner>,
}

impl Default for Event {
    fn default() -> Self {
        Event::new()
    }
}

impl Event {
    /// A cleared event.
    pub fn new() -> Event {
        Event {
            inner: Rc::new(Inner {
                set: Cell::new(false),
                waiters: RefCell::new(WaitQueue::default()),
            }),
        }
    }

    /// True if the flag is set.
    pub fn is_set(&self) -> bool {
        self.inner.set.get()
    }

    /// Sets the flag and wakes every waiter.
    pub fn set(&self) {
        if self.inner.set.replace(true) {
            return;
        }
        let mut wakers = Vec::new();
        {
            let mut waiters = self.inner.waiters.borrow_mut();
            while let Some(node) = waiters.pop_waiting() {
                wakers.extend(node.notify(None));
            }
        }
        wake_all(wakers);
    }

    /// Clears the flag; later `wait`s block until the next `set`.
    pub fn clear(&self) {
        self.inner.set.set(false);
    }

    /// Waits until the flag is set (at once if it is set now). Cancel-safe.
    pub fn wait(&self) -> EventWait {
        EventWait {
            inner: self.inner.clone(),
            node: None,
        }
    }

    /// [`wait`](Self::wait) with a deadline: `Err` with `is_timeout()` if the event was
    /// not set in time.
    pub fn wait_timeout(&self, timeout: impl Into<Deadline>) -> WithTimeout<EventWait> {
        with_timeout(timeout, self.wait())
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.is_set())
            .field("waiters", &self.inner.waiters.borrow().len())
            .finish()
    }
}

/// The future returned by [`Event::wait`].
#[must_use = "futures do nothing unless awaited"]
pub struct EventWait {
    inner: Rc<Inner>,
    node: Option<Rc<Node<()>>>,
}

impl Future for EventWait {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &self.node {
            None => {
                if self.inner.set.get() {
                    return Poll::Ready(());
                }
                let node = self.inner.waiters.borrow_mut().push(cx.waker(), None);
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

impl Drop for EventWait {
    fn drop(&mut self) {
        if let Some(node) = self.node.take() {
            self.inner.waiters.borrow_mut().cancel(&node);
        }
    }
}

impl fmt::Debug for EventWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventWait")
            .field("waiting", &self.node.is_some())
            .finish()
    }
}
