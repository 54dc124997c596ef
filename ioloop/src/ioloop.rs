//! The IoLoop: one `mio::Poll`, a slab of handlers, a timer heap, a callback FIFO and the
//! executor's task slab, all owned by one thread.
//!
//! This file holds the loop's state and its identity (creation, the current loop,
//! closing). Its methods live beside it by concern: `registration.rs` (I/O handlers),
//! `schedule.rs` (callbacks and timeouts), `spawn.rs` (tasks) and `run.rs` (start,
//! stop, one iteration).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use mio::{Events, Poll, Registry};
use slab::Slab;

use crate::callbacks::{Callback, LoopHandle, Remote, RemoteScratch};
use crate::handler::{HandlerSlot, WAKER_TOKEN};
use crate::timer::{TimeoutHandle, Timers};
use crate::waker::{ReadyQueue, TaskSlot};

/// How many events one `poll` call may return.
pub const EVENTS_CAPACITY: usize = 1024;

static NEXT_LOOP_ID: AtomicUsize = AtomicUsize::new(1);

thread_local! {
    static CURRENT: RefCell<Option<IoLoop>> = const { RefCell::new(None) };
}

pub(crate) struct Inner {
    pub(crate) id: usize,
    pub(crate) poll: RefCell<Poll>,
    pub(crate) events: RefCell<Events>,
    pub(crate) registry: Registry,
    pub(crate) handlers: RefCell<Slab<HandlerSlot>>,
    pub(crate) handler_generation: Cell<u32>,
    pub(crate) timers: RefCell<Timers>,
    pub(crate) callbacks: RefCell<VecDeque<Callback>>,
    pub(crate) tasks: RefCell<Slab<TaskSlot>>,
    pub(crate) task_generation: Cell<u64>,
    pub(crate) ready: Rc<ReadyQueue>,
    pub(crate) remote: Arc<Remote>,
    pub(crate) now: Cell<Instant>,
    /// When the loop last asked the OS for readiness (`None` before its first poll).
    pub(crate) polled: Cell<Option<Instant>>,
    pub(crate) running: Cell<bool>,
    pub(crate) stopping: Cell<bool>,
    pub(crate) due: RefCell<Vec<TimeoutHandle>>,
    pub(crate) remote_scratch: RefCell<RemoteScratch>,
}

impl Inner {
    pub(crate) fn abort_task(&self, key: usize, generation: u64) {
        let removed = {
            let mut tasks = self.tasks.borrow_mut();
            match tasks.get(key) {
                Some(slot) if slot.generation == generation => Some(tasks.remove(key)),
                _ => None,
            }
        };
        // Dropped here, outside the borrow: the future's destructors may call the loop.
        drop(removed);
    }
}

/// A single-threaded event loop: Tornado's `IOLoop` on `mio`.
///
/// `IoLoop` is a cheap clonable handle (`Rc`), usable only on its own thread. Each thread
/// has at most one *current* loop ([`IoLoop::current`]); [`start`](IoLoop::start) and
/// [`run_sync`](IoLoop::run_sync) make the loop current while it runs. Only
/// [`LoopHandle`] (from [`IoLoop::handle`]) crosses threads.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::time::Duration;
/// use tornado_ioloop::IoLoop;
///
/// let io_loop = IoLoop::new().unwrap();
/// let fired = Rc::new(Cell::new(0));
/// let f = fired.clone();
/// io_loop.add_callback(move || f.set(f.get() + 1));
/// let (f, l) = (fired.clone(), io_loop.clone());
/// io_loop.call_later(Duration::from_millis(10), move || {
///     f.set(f.get() + 10);
///     l.stop();
/// });
/// io_loop.start();
/// assert_eq!(fired.get(), 11);
/// ```
#[derive(Clone)]
pub struct IoLoop {
    pub(crate) inner: Rc<Inner>,
}

impl fmt::Debug for IoLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IoLoop")
            .field("id", &self.inner.id)
            .field("running", &self.inner.running.get())
            .field("handlers", &self.inner.handlers.borrow().len())
            .field("timeouts", &self.inner.timers.borrow().len())
            .field("tasks", &self.inner.tasks.borrow().len())
            .finish()
    }
}

impl IoLoop {
    /// Creates a new loop. It does not become current until it runs or
    /// [`make_current`](IoLoop::make_current) is called.
    ///
    /// Fails only when the OS refuses an epoll instance or an eventfd (out of file
    /// descriptors).
    pub fn new() -> io::Result<IoLoop> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN)?;
        let remote = Arc::new(Remote {
            callbacks: Mutex::new(Vec::new()),
            tasks: Mutex::new(Vec::new()),
            notified: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            waker,
        });
        let id = NEXT_LOOP_ID.fetch_add(1, Ordering::Relaxed);
        Ok(IoLoop {
            inner: Rc::new(Inner {
                id,
                poll: RefCell::new(poll),
                events: RefCell::new(Events::with_capacity(EVENTS_CAPACITY)),
                registry,
                handlers: RefCell::new(Slab::new()),
                handler_generation: Cell::new(0),
                timers: RefCell::new(Timers::default()),
                callbacks: RefCell::new(VecDeque::new()),
                tasks: RefCell::new(Slab::new()),
                task_generation: Cell::new(0),
                ready: Rc::new(ReadyQueue::new(id)),
                remote,
                now: Cell::new(Instant::now()),
                polled: Cell::new(None),
                running: Cell::new(false),
                stopping: Cell::new(false),
                due: RefCell::new(Vec::new()),
                remote_scratch: RefCell::new((Vec::new(), Vec::new())),
            }),
        })
    }

    /// The current loop of this thread, created (and made current) on first use, as
    /// Tornado's `IOLoop.current()` does.
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    ///
    /// let a = IoLoop::current();
    /// a.add_callback(|| IoLoop::current().stop());
    /// a.start(); // the callback found the same loop and stopped it
    /// ```
    ///
    /// # Panics
    ///
    /// If no loop exists yet and the OS refuses to create one (no file descriptors left).
    /// Use [`IoLoop::try_current`] to only look.
    pub fn current() -> IoLoop {
        if let Some(l) = Self::try_current() {
            return l;
        }
        let l = IoLoop::new().unwrap_or_else(|e| panic!("cannot create an IoLoop: {e}"));
        l.make_current();
        l
    }

    /// The current loop of this thread, if there is one.
    pub fn try_current() -> Option<IoLoop> {
        CURRENT.try_with(|c| c.borrow().clone()).ok().flatten()
    }

    /// Makes this loop the current one of this thread.
    pub fn make_current(&self) {
        // The previous loop is dropped outside the borrow: dropping its last handle
        // drops its tasks, whose wakers look at this cell.
        let previous = CURRENT.with(|c| c.replace(Some(self.clone())));
        drop(previous);
    }

    /// Makes this loop current; returns the previous one so it can be restored.
    pub(crate) fn swap_current(&self, new: Option<IoLoop>) -> Option<IoLoop> {
        CURRENT.with(|c| std::mem::replace(&mut *c.borrow_mut(), new))
    }

    /// A number that tells this loop from every other loop of the process (loops are
    /// numbered as they are made); what a per-loop singleton keys on.
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    ///
    /// let a = IoLoop::new().unwrap();
    /// let b = IoLoop::new().unwrap();
    /// assert_ne!(a.id(), b.id());
    /// assert_eq!(a.id(), a.clone().id());
    /// ```
    pub fn id(&self) -> usize {
        self.inner.id
    }

    /// A `Send + Sync` handle through which other threads can post callbacks and stop
    /// the loop.
    pub fn handle(&self) -> LoopHandle {
        LoopHandle {
            remote: self.inner.remote.clone(),
        }
    }

    /// The loop's clock: read once per iteration, right after polling for I/O.
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// let t = io_loop.time();
    /// assert_eq!(t, io_loop.time(), "no iteration ran in between");
    /// ```
    ///
    /// Timers fire when this clock passes their deadline. Reading it costs no syscall,
    /// which makes it the clock for hot paths (`call_at(io_loop.time() + d, ..)`).
    pub fn time(&self) -> Instant {
        self.inner.now.get()
    }

    /// When the loop last polled the OS for I/O readiness: what it knows of its sockets
    /// dates from then. `None` before its first poll. Unlike [`time`](Self::time), it
    /// does not move when the loop starts again (`run_sync` after `run_sync`): a socket
    /// may have heard from its peer while the loop was stopped, and nobody knows yet.
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// assert_eq!(io_loop.polled_at(), None);
    /// io_loop.run_sync(async { tornado_ioloop::yield_now().await });
    /// assert!(io_loop.polled_at().is_some());
    /// ```
    pub fn polled_at(&self) -> Option<Instant> {
        self.inner.polled.get()
    }

    /// True while [`start`](IoLoop::start) or [`run_sync`](IoLoop::run_sync) runs.
    pub fn is_running(&self) -> bool {
        self.inner.running.get()
    }

    /// Drops every handler, timeout, callback and task of this loop, breaking the
    /// reference cycles that tasks holding `IoLoop` clones form (Tornado's
    /// `IOLoop.close()`). Sources registered with handlers are not closed: their owners
    /// close them.
    pub fn close(&self) {
        let handlers: Vec<_> = self.inner.handlers.borrow_mut().drain().collect();
        let timers = self.inner.timers.borrow_mut().drain();
        let callbacks: Vec<_> = self.inner.callbacks.borrow_mut().drain(..).collect();
        let tasks: Vec<_> = self.inner.tasks.borrow_mut().drain().collect();
        self.inner.ready.clear();
        drop((handlers, timers, callbacks, tasks));
        let previous = CURRENT.with(|c| {
            let mut c = c.borrow_mut();
            if c.as_ref()
                .is_some_and(|l| Rc::ptr_eq(&l.inner, &self.inner))
            {
                c.take()
            } else {
                None
            }
        });
        drop(previous);
    }
}
