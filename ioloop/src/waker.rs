//! What the loop keeps per task, and how a task is woken.
//!
//! A task is a slab entry in its loop ([`TaskSlot`]) holding a boxed future and the data
//! behind its `Waker` ([`TaskWaker`]), made once when the task is spawned. Waking on the
//! loop's own thread while the loop runs pushes `(key, generation)` on the loop's
//! [`ReadyQueue`] (a `VecDeque` that keeps its capacity, so no allocation once warm);
//! waking from anywhere else goes through the loop's remote queue and its `mio::Waker`.
//! A per-task `queued` flag makes waking an already-queued task a no-op.
//!
//! A waker must be `Send + Sync`, so it cannot hold the loop's queue; it finds it through
//! a thread-local that names the loop running on this thread ([`enter`]).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Wake;

use crate::callbacks::Remote;

/// What the loop stores for a task: a future that reports its own outcome.
pub(crate) type TaskFuture = Pin<Box<dyn Future<Output = ()>>>;

/// A task's entry in its loop's slab.
pub(crate) struct TaskSlot {
    pub(crate) generation: u64,
    pub(crate) future: Option<TaskFuture>,
    /// The task's waker data; a `Waker` is made from it (an `Arc` clone) for each poll.
    pub(crate) flag: Arc<TaskWaker>,
}

/// The tasks of one loop that are ready to be polled, as `(key, generation)`.
pub(crate) struct ReadyQueue {
    loop_id: usize,
    tasks: RefCell<VecDeque<(usize, u64)>>,
}

impl ReadyQueue {
    pub(crate) fn new(loop_id: usize) -> ReadyQueue {
        ReadyQueue {
            loop_id,
            tasks: RefCell::new(VecDeque::new()),
        }
    }

    pub(crate) fn push(&self, key: usize, generation: u64) {
        self.tasks.borrow_mut().push_back((key, generation));
    }

    pub(crate) fn pop(&self) -> Option<(usize, u64)> {
        self.tasks.borrow_mut().pop_front()
    }

    pub(crate) fn extend(&self, wakes: impl Iterator<Item = (usize, u64)>) {
        self.tasks.borrow_mut().extend(wakes);
    }

    pub(crate) fn len(&self) -> usize {
        self.tasks.borrow().len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.tasks.borrow().is_empty()
    }

    pub(crate) fn clear(&self) {
        self.tasks.borrow_mut().clear();
    }
}

thread_local! {
    /// The ready queue of the loop running on this thread, if one is.
    static RUNNING: RefCell<Option<Rc<ReadyQueue>>> = const { RefCell::new(None) };
}

/// Marks `queue`'s loop as the one running on this thread (or none); returns the
/// previous one, for the caller to put back when its loop stops.
pub(crate) fn enter(queue: Option<Rc<ReadyQueue>>) -> Option<Rc<ReadyQueue>> {
    RUNNING.with(|r| r.replace(queue))
}

/// The object behind each task's `Waker`.
pub(crate) struct TaskWaker {
    pub(crate) loop_id: usize,
    pub(crate) key: usize,
    pub(crate) generation: u64,
    pub(crate) queued: AtomicBool,
    pub(crate) remote: Arc<Remote>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        let local = RUNNING
            .try_with(|r| match &*r.borrow() {
                Some(q) if q.loop_id == self.loop_id => {
                    q.push(self.key, self.generation);
                    true
                }
                _ => false,
            })
            .unwrap_or(false);
        if !local {
            self.remote.wake_task(self.key, self.generation);
        }
    }
}
