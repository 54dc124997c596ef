//! Spawning tasks on the loop, and polling them.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Waker;

use crate::blocking_pool::{self, ExecutorFuture};
use crate::ioloop::{Inner, IoLoop};
use crate::panic::panic_message;
use crate::task::{self, JoinHandle};
use crate::waker::{TaskFuture, TaskSlot, TaskWaker};

impl Inner {
    pub(crate) fn poll_task(&self, key: usize, generation: u64) {
        let (future, waker) = {
            let mut tasks = self.tasks.borrow_mut();
            match tasks.get_mut(key) {
                Some(slot) if slot.generation == generation => {
                    slot.flag.queued.store(false, Ordering::Release);
                    match slot.future.take() {
                        Some(f) => (f, Waker::from(slot.flag.clone())),
                        None => return,
                    }
                }
                _ => return,
            }
        };
        let mut future = future;
        let mut cx = std::task::Context::from_waker(&waker);
        // Task futures catch their own panics (see task.rs), but not those of the
        // destructors that run as a task finishes (the values its future owned): such a
        // panic is logged, as a callback's is, the task counts as finished, and the loop
        // goes on.
        let polled = catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx)));
        let done = match polled {
            Ok(poll) => poll.is_ready(),
            Err(payload) => {
                log::error!("exception in a task: {}", panic_message(&*payload));
                true
            }
        };
        let mut tasks = self.tasks.borrow_mut();
        let ours = matches!(tasks.get(key), Some(slot) if slot.generation == generation);
        if ours && !done {
            tasks[key].future = Some(future);
            return;
        }
        let slot = if ours { Some(tasks.remove(key)) } else { None };
        drop(tasks);
        // The same for the destructors that run as the finished (or aborted) future is
        // dropped here.
        let dropped = catch_unwind(AssertUnwindSafe(move || {
            drop(future);
            drop(slot);
        }));
        if let Err(payload) = dropped {
            log::error!("exception dropping a task: {}", panic_message(&*payload));
        }
    }
}

impl IoLoop {
    /// Spawns `future` as a task on this loop; the returned handle resolves to its
    /// output. The future need not be `Send`. The task is first polled on the next
    /// iteration.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        let (task, state) = task::joined(future, std::any::type_name::<F>());
        let (key, generation) = self.insert_task(task);
        JoinHandle::new(state, Rc::downgrade(&self.inner), key, generation)
    }

    /// Spawns a future whose output nobody awaits (Tornado's `spawn_callback`). A panic
    /// is logged with the future's type name; the loop carries on.
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use tornado_ioloop::{IoLoop, yield_now};
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// let done = Rc::new(Cell::new(false));
    /// let d = done.clone();
    /// io_loop.spawn_callback(async move { d.set(true) });
    /// io_loop.run_sync(yield_now());
    /// assert!(done.get());
    /// ```
    pub fn spawn_callback<F>(&self, future: F)
    where
        F: Future + 'static,
    {
        let task = task::detached(future, std::any::type_name::<F>());
        self.insert_task(task);
    }

    fn insert_task(&self, task: TaskFuture) -> (usize, u64) {
        let generation = self.inner.task_generation.get() + 1;
        self.inner.task_generation.set(generation);
        let mut tasks = self.inner.tasks.borrow_mut();
        let entry = tasks.vacant_entry();
        let key = entry.key();
        let flag = Arc::new(TaskWaker {
            loop_id: self.inner.id,
            key,
            generation,
            queued: AtomicBool::new(true),
            remote: self.inner.remote.clone(),
        });
        entry.insert(TaskSlot {
            generation,
            future: Some(task),
            flag,
        });
        drop(tasks);
        self.inner.ready.push(key, generation);
        (key, generation)
    }

    /// Runs blocking `f` on the shared thread pool; the future resolves on this loop.
    /// See [`run_in_executor`](crate::run_in_executor).
    pub fn run_in_executor<F, T>(&self, f: F) -> ExecutorFuture<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        blocking_pool::run_in_executor(f)
    }

    /// Number of live tasks (spawned and not finished).
    pub fn task_count(&self) -> usize {
        self.inner.tasks.borrow().len()
    }
}
