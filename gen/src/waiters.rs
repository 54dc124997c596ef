//! The FIFO of parked futures behind every lock and queue.
//!
//! A waiting future owns an `Rc<Node>` that also sits in the primitive's [`WaitQueue`].
//! Whoever releases a permit, sets an event or puts an item *notifies* the front node:
//! the node's state becomes `Notified` (with the item, for a queue getter) and its waker
//! is woken. The future finds the state on its next poll. This hand-off is what makes
//! the primitives fair (no barging) and lets a future that is dropped after being
//! notified, but before it was polled, pass what it was given to the next waiter.
//!
//! A dropped waiting future marks its node `Cancelled` instead of searching the deque;
//! cancelled nodes are skipped when they reach the front, and swept out when they make
//! up half the deque (Tornado sweeps timed-out waiters the same way).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::task::Waker;

/// Sweep only once at least this many nodes are cancelled.
const SWEEP_MIN: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeState {
    Waiting,
    Notified,
    Cancelled,
}

pub(crate) struct Node<T> {
    state: Cell<NodeState>,
    waker: RefCell<Option<Waker>>,
    value: RefCell<Option<T>>,
}

impl<T> Node<T> {
    pub(crate) fn state(&self) -> NodeState {
        self.state.get()
    }

    /// Keeps the waker of the latest poll.
    pub(crate) fn set_waker(&self, waker: &Waker) {
        let mut slot = self.waker.borrow_mut();
        match &*slot {
            Some(w) if w.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
    }

    /// Marks the node notified, storing `value`; returns the waker to wake once the
    /// caller has released its borrows.
    pub(crate) fn notify(&self, value: Option<T>) -> Option<Waker> {
        self.state.set(NodeState::Notified);
        *self.value.borrow_mut() = value;
        self.waker.borrow_mut().take()
    }

    pub(crate) fn take_value(&self) -> Option<T> {
        self.value.borrow_mut().take()
    }
}

pub(crate) struct WaitQueue<T> {
    queue: VecDeque<Rc<Node<T>>>,
    cancelled: usize,
}

impl<T> Default for WaitQueue<T> {
    fn default() -> Self {
        WaitQueue {
            queue: VecDeque::new(),
            cancelled: 0,
        }
    }
}

impl<T> WaitQueue<T> {
    /// Parks a new waiter at the back, holding `value` (a putter's item).
    pub(crate) fn push(&mut self, waker: &Waker, value: Option<T>) -> Rc<Node<T>> {
        let node = Rc::new(Node {
            state: Cell::new(NodeState::Waiting),
            waker: RefCell::new(Some(waker.clone())),
            value: RefCell::new(value),
        });
        self.queue.push_back(node.clone());
        node
    }

    /// Removes and returns the oldest node still waiting.
    pub(crate) fn pop_waiting(&mut self) -> Option<Rc<Node<T>>> {
        while let Some(node) = self.queue.pop_front() {
            if node.state() == NodeState::Waiting {
                return Some(node);
            }
            self.cancelled = self.cancelled.saturating_sub(1);
        }
        None
    }

    /// Removes and returns the oldest node still waiting, if `pred` accepts the value it
    /// holds; else leaves it in place and returns `None`.
    pub(crate) fn pop_waiting_if(
        &mut self,
        pred: impl FnOnce(Option<&T>) -> bool,
    ) -> Option<Rc<Node<T>>> {
        while let Some(node) = self.queue.front() {
            if node.state() == NodeState::Waiting {
                if !pred(node.value.borrow().as_ref()) {
                    return None;
                }
                return self.queue.pop_front();
            }
            self.queue.pop_front();
            self.cancelled = self.cancelled.saturating_sub(1);
        }
        None
    }

    /// Withdraws a waiting node; returns the value it held, for the caller to drop
    /// outside its borrows.
    pub(crate) fn cancel(&mut self, node: &Node<T>) -> Option<T> {
        if node.state() != NodeState::Waiting {
            return None;
        }
        node.state.set(NodeState::Cancelled);
        node.waker.borrow_mut().take();
        self.cancelled += 1;
        if self.cancelled >= SWEEP_MIN && self.cancelled * 2 >= self.queue.len() {
            self.queue.retain(|n| n.state() == NodeState::Waiting);
            self.cancelled = 0;
        }
        node.take_value()
    }

    /// Number of live waiters.
    pub(crate) fn len(&self) -> usize {
        self.queue.len() - self.cancelled.min(self.queue.len())
    }
}

/// Wakes every waker in `wakers`; called once no `RefCell` borrow is held.
pub(crate) fn wake_all(wakers: Vec<Waker>) {
    for w in wakers {
        w.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn cancelled_nodes_are_swept_and_skipped() {
        let mut q: WaitQueue<u32> = WaitQueue::default();
        let nodes: Vec<_> = (0..100).map(|i| q.push(Waker::noop(), Some(i))).collect();
        let keep = q.push(Waker::noop(), Some(100));
        for n in &nodes {
            assert!(q.cancel(n).is_some(), "cancel hands back the value");
        }
        assert_eq!(q.len(), 1);
        assert!(q.queue.len() < 50, "cancelled nodes were never swept");
        let front = q.pop_waiting().expect("the live waiter");
        assert!(Rc::ptr_eq(&front, &keep));
        assert!(q.pop_waiting().is_none());
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn cancel_after_notify_does_nothing() {
        let mut q: WaitQueue<u32> = WaitQueue::default();
        let n = q.push(Waker::noop(), None);
        let popped = q.pop_waiting().unwrap();
        assert!(popped.notify(Some(7)).is_some());
        assert_eq!(q.cancel(&n), None);
        assert_eq!(n.state(), NodeState::Notified);
        assert_eq!(n.take_value(), Some(7));
    }
}
