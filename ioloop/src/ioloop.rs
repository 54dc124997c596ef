//! The IoLoop: one `mio::Poll`, a slab of handlers, a timer heap, a callback FIFO and the
//! executor's task slab, all owned by one thread.
//!
//! # One iteration
//!
//! 1. Move work posted from other threads (callbacks, task wakes) onto the local queues.
//! 2. Run the callbacks and poll the tasks that were ready when the iteration began; work
//!    they add waits for the next iteration, so a busy producer never starves I/O.
//! 3. Run the timers due at the loop's clock.
//! 4. Poll for I/O: with a zero timeout when work is queued, else until the next timer,
//!    else until an event or a cross-thread wake arrives. Then read the clock once
//!    ([`IoLoop::time`]) and dispatch the events to their handlers.
//!
//! # Tokens
//!
//! A handler's `mio::Token` packs its slab key (low half) and a generation (high half),
//! so an event queued for a handler that was removed, and whose slot was reused, is
//! recognised as stale and dropped instead of reaching the new handler.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::{Duration, Instant};

use mio::event::Source;
use mio::{Events, Interest, Poll, Registry, Token};
use slab::Slab;

use crate::Callback;
use crate::task::{self, JoinHandle, TaskFuture, TaskWaker, panic_message};
use crate::timer::{TimeoutHandle, Timers};

/// How far in the future a delay too large for `Instant` is taken to be: it never fires
/// in practice, and it cannot overflow.
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `base + delay`, saturating at [`FAR_FUTURE`] instead of panicking on overflow.
pub(crate) fn deadline_after(base: Instant, delay: Duration) -> Instant {
    base.checked_add(delay.min(FAR_FUTURE))
        .or_else(|| base.checked_add(Duration::from_secs(365 * 24 * 3600)))
        .unwrap_or(base)
}

/// How many events one `poll` call may return.
pub const EVENTS_CAPACITY: usize = 1024;

const WAKER_TOKEN: Token = Token(usize::MAX);
const KEY_BITS: u32 = usize::BITS / 2;
const KEY_MASK: usize = (1 << KEY_BITS) - 1;
// Handler keys and generations are stored as u32 (half a 64-bit token each).
const _: () = assert!(KEY_BITS <= u32::BITS);

static NEXT_LOOP_ID: AtomicUsize = AtomicUsize::new(1);

thread_local! {
    static CURRENT: RefCell<Option<IoLoop>> = const { RefCell::new(None) };
}

/// Runs `f` on the running loop of this thread if its id is `loop_id`.
pub(crate) fn with_running_loop<R>(loop_id: usize, f: impl FnOnce(&Inner) -> R) -> Option<R> {
    CURRENT
        .try_with(|c| match &*c.borrow() {
            Some(l) if l.inner.id == loop_id && l.inner.running.get() => Some(f(&l.inner)),
            _ => None,
        })
        .ok()
        .flatten()
}

/// Readiness reported to an I/O handler: a copy of what `mio` said about one event.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Ready {
    bits: u8,
}

impl Ready {
    const READABLE: u8 = 1;
    const WRITABLE: u8 = 2;
    const ERROR: u8 = 4;
    const READ_CLOSED: u8 = 8;
    const WRITE_CLOSED: u8 = 16;

    fn from_event(ev: &mio::event::Event) -> Ready {
        let mut bits = 0;
        for (yes, bit) in [
            (ev.is_readable(), Self::READABLE),
            (ev.is_writable(), Self::WRITABLE),
            (ev.is_error(), Self::ERROR),
            (ev.is_read_closed(), Self::READ_CLOSED),
            (ev.is_write_closed(), Self::WRITE_CLOSED),
        ] {
            if yes {
                bits |= bit;
            }
        }
        Ready { bits }
    }

    /// The source may be read (or has hit end-of-file or an error: read to find out).
    pub fn is_readable(self) -> bool {
        self.bits & Self::READABLE != 0
    }
    /// The source may be written.
    pub fn is_writable(self) -> bool {
        self.bits & Self::WRITABLE != 0
    }
    /// The source reported an error (`EPOLLERR`); the next read or write returns it.
    pub fn is_error(self) -> bool {
        self.bits & Self::ERROR != 0
    }
    /// The peer closed its writing half (read side will see end-of-file).
    pub fn is_read_closed(self) -> bool {
        self.bits & Self::READ_CLOSED != 0
    }
    /// The writing half is closed (peer reset or hung up).
    pub fn is_write_closed(self) -> bool {
        self.bits & Self::WRITE_CLOSED != 0
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ready")
            .field("readable", &self.is_readable())
            .field("writable", &self.is_writable())
            .field("error", &self.is_error())
            .field("read_closed", &self.is_read_closed())
            .field("write_closed", &self.is_write_closed())
            .finish()
    }
}

/// Identifies a registered I/O handler; returned by [`IoLoop::add_handler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HandlerId {
    key: u32,
    generation: u32,
}

impl HandlerId {
    fn token(self) -> Token {
        Token(self.key as usize | ((self.generation as usize) << KEY_BITS))
    }
}

/// When a timeout fires: at an instant, or after a delay from the loop's clock.
///
/// `add_timeout` takes either, as Tornado's `add_timeout` takes a deadline or a
/// `timedelta`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// At this instant.
    At(Instant),
    /// This long after [`IoLoop::time`].
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

type Handler = Box<dyn FnMut(Ready)>;
type SendCallback = Box<dyn FnOnce() + Send>;
/// Buffers reused to move remote callbacks and wakes onto the loop without allocating.
type RemoteScratch = (Vec<SendCallback>, Vec<(usize, u64)>);

struct HandlerSlot {
    generation: u32,
    handler: Option<Handler>,
}

struct TaskSlot {
    generation: u64,
    future: Option<TaskFuture>,
    /// The task's waker data; a `Waker` is made from it (an `Arc` clone) for each poll.
    flag: Arc<TaskWaker>,
}

/// The part of a loop other threads may touch.
pub(crate) struct Remote {
    callbacks: Mutex<Vec<SendCallback>>,
    tasks: Mutex<Vec<(usize, u64)>>,
    notified: AtomicBool,
    stop: AtomicBool,
    waker: mio::Waker,
}

impl Remote {
    fn notify(&self) {
        if !self.notified.swap(true, Ordering::AcqRel)
            && let Err(e) = self.waker.wake()
        {
            log::error!("could not wake the IoLoop: {e}");
        }
    }

    pub(crate) fn wake_task(&self, key: usize, generation: u64) {
        lock(&self.tasks).push((key, generation));
        self.notify();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave the Vec inconsistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) struct Inner {
    pub(crate) id: usize,
    poll: RefCell<Poll>,
    events: RefCell<Events>,
    registry: Registry,
    handlers: RefCell<Slab<HandlerSlot>>,
    handler_generation: Cell<u32>,
    timers: RefCell<Timers>,
    callbacks: RefCell<VecDeque<Callback>>,
    tasks: RefCell<Slab<TaskSlot>>,
    task_generation: Cell<u64>,
    pub(crate) ready: RefCell<VecDeque<(usize, u64)>>,
    remote: Arc<Remote>,
    now: Cell<Instant>,
    pub(crate) running: Cell<bool>,
    stopping: Cell<bool>,
    due: RefCell<Vec<TimeoutHandle>>,
    remote_scratch: RefCell<RemoteScratch>,
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

    fn run_callback(name: &str, cb: Callback) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(cb)) {
            log::error!("exception in {name}: {}", panic_message(&*payload));
        }
    }

    fn poll_task(&self, key: usize, generation: u64) {
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
        // Task futures catch their own panics (see task.rs), so this never unwinds.
        let done = future.as_mut().poll(&mut cx).is_ready();
        let mut tasks = self.tasks.borrow_mut();
        let ours = matches!(tasks.get(key), Some(slot) if slot.generation == generation);
        if ours && !done {
            tasks[key].future = Some(future);
            return;
        }
        let slot = if ours { Some(tasks.remove(key)) } else { None };
        drop(tasks);
        drop(future);
        drop(slot);
    }

    fn dispatch(&self, token: Token, ready: Ready) {
        let key = token.0 & KEY_MASK;
        let generation = (token.0 >> KEY_BITS) as u32;
        let handler = {
            let mut handlers = self.handlers.borrow_mut();
            match handlers.get_mut(key) {
                Some(slot) if slot.generation == generation => slot.handler.take(),
                _ => None,
            }
        };
        let Some(mut handler) = handler else { return };
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| handler(ready))) {
            log::error!("exception in I/O handler: {}", panic_message(&*payload));
        }
        let mut handlers = self.handlers.borrow_mut();
        if let Some(slot) = handlers.get_mut(key)
            && slot.generation == generation
            && slot.handler.is_none()
        {
            slot.handler = Some(handler);
            return;
        }
        drop(handlers);
        drop(handler);
    }

    fn drain_remote(&self) {
        if !self.remote.notified.swap(false, Ordering::AcqRel) {
            return;
        }
        let mut scratch = self.remote_scratch.borrow_mut();
        let (cbs, wakes) = &mut *scratch;
        std::mem::swap(cbs, &mut *lock(&self.remote.callbacks));
        std::mem::swap(wakes, &mut *lock(&self.remote.tasks));
        if self.remote.stop.swap(false, Ordering::AcqRel) {
            self.stopping.set(true);
        }
        {
            let mut callbacks = self.callbacks.borrow_mut();
            callbacks.extend(cbs.drain(..).map(|cb| cb as Callback));
        }
        let mut ready = self.ready.borrow_mut();
        ready.extend(wakes.drain(..));
    }

    /// One iteration of the loop (see the module docs).
    fn iterate(&self) {
        self.drain_remote();

        // Both counts are taken before anything runs: work that callbacks or tasks add
        // waits for the next iteration.
        let n = self.callbacks.borrow().len();
        let ready = self.ready.borrow().len();
        for _ in 0..n {
            let cb = self.callbacks.borrow_mut().pop_front();
            match cb {
                Some(cb) => Self::run_callback("callback", cb),
                None => break,
            }
        }

        for _ in 0..ready {
            let next = self.ready.borrow_mut().pop_front();
            match next {
                Some((key, generation)) => self.poll_task(key, generation),
                None => break,
            }
        }

        let mut due = std::mem::take(&mut *self.due.borrow_mut());
        self.timers.borrow_mut().pop_due(self.now.get(), &mut due);
        for handle in due.drain(..) {
            // Taken one at a time: an earlier timeout may have cancelled this one.
            let cb = self.timers.borrow_mut().take(handle);
            if let Some(cb) = cb {
                Self::run_callback("timeout", cb);
            }
        }
        *self.due.borrow_mut() = due;

        if self.stopping.get() {
            return;
        }

        let timeout = if !self.callbacks.borrow().is_empty() || !self.ready.borrow().is_empty() {
            Some(Duration::ZERO)
        } else {
            let next = self.timers.borrow_mut().next_deadline();
            next.map(|d| d.saturating_duration_since(Instant::now()))
        };
        let mut events = self.events.borrow_mut();
        if let Err(e) = self.poll.borrow_mut().poll(&mut events, timeout)
            && e.kind() != io::ErrorKind::Interrupted
        {
            log::error!("IoLoop poll failed: {e}");
        }
        self.now.set(Instant::now());
        for ev in events.iter() {
            if ev.token() != WAKER_TOKEN {
                self.dispatch(ev.token(), Ready::from_event(ev));
            }
        }
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
        Ok(IoLoop {
            inner: Rc::new(Inner {
                id: NEXT_LOOP_ID.fetch_add(1, Ordering::Relaxed),
                poll: RefCell::new(poll),
                events: RefCell::new(Events::with_capacity(EVENTS_CAPACITY)),
                registry,
                handlers: RefCell::new(Slab::new()),
                handler_generation: Cell::new(0),
                timers: RefCell::new(Timers::default()),
                callbacks: RefCell::new(VecDeque::new()),
                tasks: RefCell::new(Slab::new()),
                task_generation: Cell::new(0),
                ready: RefCell::new(VecDeque::new()),
                remote,
                now: Cell::new(Instant::now()),
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
    fn swap_current(&self, new: Option<IoLoop>) -> Option<IoLoop> {
        CURRENT.with(|c| std::mem::replace(&mut *c.borrow_mut(), new))
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

    /// True while [`start`](IoLoop::start) or [`run_sync`](IoLoop::run_sync) runs.
    pub fn is_running(&self) -> bool {
        self.inner.running.get()
    }

    /// Runs the loop until [`stop`](IoLoop::stop) is called.
    ///
    /// # Panics
    ///
    /// If the loop is already running (a nested `start`/`run_sync`), as Tornado raises
    /// `RuntimeError` then.
    pub fn start(&self) {
        assert!(
            !self.inner.running.get(),
            "IoLoop::start: this loop is already running"
        );
        let previous = self.swap_current(Some(self.clone()));
        self.inner.running.set(true);
        self.inner.now.set(Instant::now());
        loop {
            self.inner.iterate();
            if self.inner.stopping.get() {
                break;
            }
        }
        self.inner.stopping.set(false);
        self.inner.running.set(false);
        self.swap_current(previous);
    }

    /// Stops the loop after the current iteration. Calling it before `start` makes the
    /// next `start` return after one iteration.
    pub fn stop(&self) {
        self.inner.stopping.set(true);
    }

    /// Runs the loop until `future` completes and returns its output.
    ///
    /// The future runs as a task, so it need not be `Send`, and may spawn others.
    ///
    /// # Panics
    ///
    /// If the future panics (the panic is passed on to the caller), if the loop is
    /// already running, or if something calls [`stop`](IoLoop::stop) before the future
    /// completes (Tornado: "Event loop stopped before Future completed").
    ///
    /// ```
    /// use std::time::Duration;
    /// use tornado_ioloop::IoLoop;
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// let v = io_loop.run_sync(async { 7 });
    /// assert_eq!(v, 7);
    /// ```
    pub fn run_sync<F: Future + 'static>(&self, future: F) -> F::Output {
        match self.run_until(future, None) {
            Ok(v) => v,
            Err(e) => panic!("IoLoop::run_sync: {e}"),
        }
    }

    /// Like [`run_sync`](IoLoop::run_sync) but gives up after `timeout`: the future is
    /// dropped and `Err` with kind `TimedOut` is returned.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tornado_ioloop::IoLoop;
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// let err = io_loop
    ///     .run_sync_timeout(std::future::pending::<()>(), Duration::from_millis(10))
    ///     .unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// ```
    pub fn run_sync_timeout<F: Future + 'static>(
        &self,
        future: F,
        timeout: Duration,
    ) -> io::Result<F::Output> {
        self.run_until(future, Some(timeout))
    }

    fn run_until<F: Future + 'static>(
        &self,
        future: F,
        timeout: Option<Duration>,
    ) -> io::Result<F::Output> {
        // Checked before anything is spawned, so a nested call leaves no task behind.
        assert!(
            !self.inner.running.get(),
            "IoLoop::run_sync: this loop is already running"
        );
        /// Stops the loop when the future ends, by finishing or by panicking.
        struct StopOnDrop(IoLoop);
        impl Drop for StopOnDrop {
            fn drop(&mut self) {
                self.0.stop();
            }
        }
        let guard = StopOnDrop(self.clone());
        let mut handle = self.spawn(async move {
            let _guard = guard;
            future.await
        });
        let timed_out = Rc::new(Cell::new(false));
        let timer = timeout.map(|t| {
            let (this, flag) = (self.clone(), timed_out.clone());
            // Measured from the real clock: the loop's cached clock may be stale here.
            self.call_at(deadline_after(Instant::now(), t), move || {
                flag.set(true);
                this.stop();
            })
        });
        self.start();
        if let Some(t) = timer {
            self.remove_timeout(t);
        }
        let result = handle.try_take();
        if result.is_none() {
            handle.abort();
        }
        // Dropping the task (or its guard) asked a loop that is no longer running to
        // stop; that request must not end the next `start` early.
        self.inner.stopping.set(false);
        match result {
            Some(Ok(v)) => Ok(v),
            Some(Err(task::JoinError::Panicked(msg))) => {
                std::panic::resume_unwind(Box::new(format!("future panicked: {msg}")))
            }
            Some(Err(task::JoinError::Cancelled)) => Err(io::Error::other(
                "the future was cancelled before it completed",
            )),
            None => match timeout {
                Some(t) if timed_out.get() => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("operation did not complete within {t:?}"),
                )),
                _ => Err(io::Error::other(
                    "event loop stopped before the future completed",
                )),
            },
        }
    }

    /// Registers `source` with the loop and calls `handler` with its readiness.
    ///
    /// Registration is edge-triggered (mio's model): the handler is told when readiness
    /// *changes*, so it must read or write until `WouldBlock` (or until a short read
    /// shows the socket is drained) before it can expect another call. Events may be
    /// spurious; a `WouldBlock` is normal. Register a source once with all the interest
    /// it will ever need rather than updating it per request.
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::io::{Read, Write};
    /// use std::rc::Rc;
    /// use mio::Interest;
    /// use mio::net::UnixStream;
    /// use tornado_ioloop::IoLoop;
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// let (mut a, mut b) = UnixStream::pair().unwrap();
    /// let got = Rc::new(Cell::new(0));
    /// let (g, l) = (got.clone(), io_loop.clone());
    /// let b = Rc::new(std::cell::RefCell::new(b));
    /// let reader = b.clone();
    /// io_loop
    ///     .add_handler(&mut *b.borrow_mut(), Interest::READABLE, move |ready| {
    ///         if ready.is_readable() {
    ///             let mut buf = [0u8; 16];
    ///             g.set(reader.borrow_mut().read(&mut buf).unwrap_or(0));
    ///             l.stop();
    ///         }
    ///     })
    ///     .unwrap();
    /// a.write_all(b"ping").unwrap();
    /// io_loop.start();
    /// assert_eq!(got.get(), 4);
    /// ```
    pub fn add_handler<S, H>(
        &self,
        source: &mut S,
        interest: Interest,
        handler: H,
    ) -> io::Result<HandlerId>
    where
        S: Source + ?Sized,
        H: FnMut(Ready) + 'static,
    {
        let generation = self.inner.handler_generation.get().wrapping_add(1) & (KEY_MASK as u32);
        self.inner.handler_generation.set(generation);
        let key = self.inner.handlers.borrow_mut().insert(HandlerSlot {
            generation,
            handler: Some(Box::new(handler)),
        });
        if key > KEY_MASK {
            self.inner.handlers.borrow_mut().remove(key);
            return Err(io::Error::other("too many handlers registered"));
        }
        let id = HandlerId {
            key: key as u32,
            generation,
        };
        if let Err(e) = self.inner.registry.register(source, id.token(), interest) {
            let slot = self.inner.handlers.borrow_mut().remove(key);
            drop(slot);
            return Err(e);
        }
        Ok(id)
    }

    /// Changes the interest of a registered source.
    ///
    /// ```
    /// use mio::net::UnixStream;
    /// use tornado_ioloop::{Interest, IoLoop};
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// let (mut a, _b) = UnixStream::pair().unwrap();
    /// let id = io_loop.add_handler(&mut a, Interest::READABLE, |_| {}).unwrap();
    /// io_loop
    ///     .update_handler(id, &mut a, Interest::READABLE | Interest::WRITABLE)
    ///     .unwrap();
    /// ```
    pub fn update_handler<S>(
        &self,
        id: HandlerId,
        source: &mut S,
        interest: Interest,
    ) -> io::Result<()>
    where
        S: Source + ?Sized,
    {
        if !self.handler_exists(id) {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "update_handler: no such handler",
            ));
        }
        self.inner.registry.reregister(source, id.token(), interest)
    }

    /// Deregisters `source` and drops its handler. Events already queued for it are
    /// discarded. Removing a handler from inside itself is allowed; removing one that is
    /// gone is an error of kind `NotFound`.
    ///
    /// ```
    /// use mio::net::UnixStream;
    /// use tornado_ioloop::{Interest, IoLoop};
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// let (mut a, _b) = UnixStream::pair().unwrap();
    /// let id = io_loop.add_handler(&mut a, Interest::READABLE, |_| {}).unwrap();
    /// io_loop.remove_handler(id, &mut a).unwrap();
    /// assert!(io_loop.remove_handler(id, &mut a).is_err());
    /// ```
    pub fn remove_handler<S>(&self, id: HandlerId, source: &mut S) -> io::Result<()>
    where
        S: Source + ?Sized,
    {
        let slot = {
            let mut handlers = self.inner.handlers.borrow_mut();
            match handlers.get(id.key as usize) {
                Some(s) if s.generation == id.generation => Some(handlers.remove(id.key as usize)),
                _ => None,
            }
        };
        if slot.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "remove_handler: no such handler",
            ));
        }
        drop(slot);
        self.inner.registry.deregister(source)
    }

    fn handler_exists(&self, id: HandlerId) -> bool {
        matches!(self.inner.handlers.borrow().get(id.key as usize), Some(s) if s.generation == id.generation)
    }

    /// Runs `f` on the next iteration of the loop (loop thread only; other threads use
    /// [`LoopHandle::add_callback`]).
    pub fn add_callback<F: FnOnce() + 'static>(&self, f: F) {
        self.inner.callbacks.borrow_mut().push_back(Box::new(f));
    }

    /// Runs `f` once `deadline` has passed: an [`Instant`], or a [`Duration`] from now.
    /// Timeouts with the same deadline run in the order they were added.
    ///
    /// A delay is measured from a fresh read of the clock, not from the cached
    /// [`time`](IoLoop::time), so a timeout never fires early even when the code that
    /// set it ran long; hot paths that want to skip that clock read can pass
    /// `io_loop.time() + delay` as an instant. A delay too large to represent is taken
    /// as "never" (a century).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use tornado_ioloop::IoLoop;
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// let l = io_loop.clone();
    /// io_loop.add_timeout(Duration::from_millis(5), || println!("after a delay"));
    /// io_loop.add_timeout(Instant::now() + Duration::from_millis(10), move || l.stop());
    /// io_loop.start();
    /// ```
    pub fn add_timeout<F: FnOnce() + 'static>(
        &self,
        deadline: impl Into<Deadline>,
        f: F,
    ) -> TimeoutHandle {
        let at = match deadline.into() {
            Deadline::At(i) => i,
            Deadline::After(d) => deadline_after(Instant::now(), d),
        };
        self.inner.timers.borrow_mut().insert(at, Box::new(f))
    }

    /// Runs `f` after `delay`, measured from now (see [`add_timeout`](IoLoop::add_timeout)).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tornado_ioloop::IoLoop;
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// let l = io_loop.clone();
    /// let h = io_loop.call_later(Duration::from_secs(3600), || unreachable!());
    /// assert!(io_loop.remove_timeout(h));
    /// io_loop.call_later(Duration::from_millis(1), move || l.stop());
    /// io_loop.start();
    /// ```
    pub fn call_later<F: FnOnce() + 'static>(&self, delay: Duration, f: F) -> TimeoutHandle {
        self.add_timeout(Deadline::After(delay), f)
    }

    /// Runs `f` at `when`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tornado_ioloop::IoLoop;
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// let l = io_loop.clone();
    /// // The loop's cached clock is the cheap base for deadlines on a hot path.
    /// io_loop.call_at(io_loop.time() + Duration::from_millis(5), move || l.stop());
    /// io_loop.start();
    /// ```
    pub fn call_at<F: FnOnce() + 'static>(&self, when: Instant, f: F) -> TimeoutHandle {
        self.add_timeout(Deadline::At(when), f)
    }

    /// Cancels a pending timeout; returns whether it was still pending. O(1) amortised.
    pub fn remove_timeout(&self, handle: TimeoutHandle) -> bool {
        let cb = self.inner.timers.borrow_mut().cancel(handle);
        cb.is_some()
    }

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
        self.inner.ready.borrow_mut().push_back((key, generation));
        (key, generation)
    }

    /// Runs blocking `f` on the shared thread pool; the future resolves on this loop.
    /// See [`run_in_executor`](crate::run_in_executor).
    pub fn run_in_executor<F, T>(&self, f: F) -> crate::ExecutorFuture<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        crate::executor::run_in_executor(f)
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
        self.inner.ready.borrow_mut().clear();
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

    /// Number of live tasks (spawned and not finished).
    pub fn task_count(&self) -> usize {
        self.inner.tasks.borrow().len()
    }
}

/// A `Send + Sync` handle on an [`IoLoop`], for other threads.
///
/// ```
/// use tornado_ioloop::IoLoop;
///
/// let io_loop = IoLoop::new().unwrap();
/// let handle = io_loop.handle();
/// std::thread::spawn(move || handle.add_callback(|| IoLoop::current().stop()));
/// io_loop.start(); // returns once the other thread's callback ran
/// ```
#[derive(Clone)]
pub struct LoopHandle {
    remote: Arc<Remote>,
}

impl fmt::Debug for LoopHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopHandle").finish_non_exhaustive()
    }
}

impl LoopHandle {
    /// Runs `f` on the loop's thread at its next iteration, waking the loop at once if
    /// it is blocked in poll. Safe from any thread, including the loop's own.
    pub fn add_callback<F: FnOnce() + Send + 'static>(&self, f: F) {
        lock(&self.remote.callbacks).push(Box::new(f));
        self.remote.notify();
    }

    /// Asks the loop to stop after its current iteration, from any thread.
    pub fn stop(&self) {
        self.remote.stop.store(true, Ordering::Release);
        self.remote.notify();
    }
}
