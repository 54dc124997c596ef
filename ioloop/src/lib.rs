//! # tornado-ioloop: the event loop and its executor
//!
//! Tornado's `IOLoop`, rebuilt on [`mio`]. One [`IoLoop`] per thread owns a `mio::Poll`,
//! a slab of I/O handlers, a timer heap and a FIFO of callbacks, and it drives
//! `std::future::Future`s as tasks. Everything but [`LoopHandle`] stays on the loop's
//! thread, so the hot path takes no lock; futures need not be `Send`.
//!
//! * I/O: [`IoLoop::add_handler`], [`IoLoop::update_handler`], [`IoLoop::remove_handler`]
//!   call a closure with the [`Ready`]ness of any `mio::event::Source`.
//! * Time: [`IoLoop::call_later`], [`IoLoop::call_at`], [`IoLoop::add_timeout`],
//!   [`IoLoop::remove_timeout`], [`PeriodicCallback`], the cached clock
//!   [`IoLoop::time`], and the timer future [`sleep`] / [`sleep_until`] ([`Sleep`]) that
//!   tasks await. A delay never overflows the clock: one too large (even
//!   [`Duration::MAX`](std::time::Duration::MAX)) means "never" ([`deadline_after`]).
//! * Callbacks: [`IoLoop::add_callback`] on the loop thread, [`LoopHandle::add_callback`]
//!   and [`LoopHandle::stop`] from any thread (they wake a blocked poll at once).
//! * Tasks: [`spawn`] / [`IoLoop::spawn`] give a [`JoinHandle`] (a future; it can
//!   [`abort`](JoinHandle::abort)); [`IoLoop::spawn_callback`] runs one detached;
//!   [`IoLoop::run_sync`] runs the loop until a future completes.
//! * Blocking work: [`run_in_executor`] runs a function on a small thread pool and gives
//!   its result as a future.
//! * Signals: [`signal::wait_for`] resolves with the first SIGINT or SIGTERM (or another
//!   [`signal::Signal`]), for a graceful shutdown; [`signal::Signals`] receives them
//!   again and again. A self-pipe registered on the loop carries them, so a task awaits
//!   them like any other event.
//!
//! A panic in a callback, handler or task is caught and logged (its message formatted by
//! [`panic_message`]), and the loop goes on; a panicked task's `JoinHandle` reports
//! [`JoinError::Panicked`].
//!
//! ```
//! use std::time::Duration;
//! use tornado_ioloop::{IoLoop, spawn};
//!
//! let io_loop = IoLoop::new().unwrap();
//! let total = io_loop.run_sync(async {
//!     let io_loop = IoLoop::current();
//!     let (tx, rx) = std::sync::mpsc::channel();
//!     io_loop.call_later(Duration::from_millis(5), move || tx.send(40).unwrap());
//!     let worker = spawn(async { 2 });
//!     let two = worker.await.unwrap();
//!     // Wait for the timer by polling the loop from a task.
//!     loop {
//!         if let Ok(v) = rx.try_recv() {
//!             break v + two;
//!         }
//!         tornado_ioloop::yield_now().await;
//!     }
//! });
//! assert_eq!(total, 42);
//! ```
// `unsafe` is denied everywhere but in `signal/sys.rs`, the one module that calls libc.
#![deny(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]

mod blocking_pool;
mod callbacks;
mod deadline;
mod handler;
mod ioloop;
mod panic;
mod periodic;
mod registration;
mod run;
mod schedule;
pub mod signal;
mod sleep;
mod spawn;
mod task;
mod timer;
mod waker;

pub use crate::blocking_pool::{ExecutorFuture, MAX_WORKERS, run_in_executor};
pub use crate::callbacks::LoopHandle;
pub use crate::deadline::{Deadline, FAR_FUTURE, deadline_after};
pub use crate::handler::{HandlerId, Ready};
pub use crate::ioloop::{EVENTS_CAPACITY, IoLoop};
pub use crate::panic::panic_message;
pub use crate::periodic::PeriodicCallback;
pub use crate::sleep::{Sleep, before_deadline, sleep, sleep_until};
pub use crate::task::{JoinError, JoinHandle};
pub use crate::timer::TimeoutHandle;

pub use mio::Interest;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Spawns `future` on the current loop; see [`IoLoop::spawn`].
///
/// ```
/// use tornado_ioloop::{IoLoop, spawn};
///
/// let io_loop = IoLoop::new().unwrap();
/// let sum = io_loop.run_sync(async {
///     let tasks: Vec<_> = (1..=3).map(|i| spawn(async move { i * 10 })).collect();
///     let mut sum = 0;
///     for task in tasks {
///         sum += task.await.unwrap();
///     }
///     sum
/// });
/// assert_eq!(sum, 60);
/// ```
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
{
    IoLoop::current().spawn(future)
}

/// Spawns a detached future on the current loop; see [`IoLoop::spawn_callback`].
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use tornado_ioloop::{IoLoop, spawn_callback, yield_now};
///
/// let io_loop = IoLoop::new().unwrap();
/// let done = Rc::new(Cell::new(false));
/// let d = done.clone();
/// io_loop.run_sync(async move {
///     spawn_callback(async move { d.set(true) });
///     yield_now().await; // let the detached task run
/// });
/// assert!(done.get());
/// ```
pub fn spawn_callback<F>(future: F)
where
    F: Future + 'static,
{
    IoLoop::current().spawn_callback(future)
}

/// Yields to the loop once: the task is polled again on the next iteration, after the
/// I/O and timers that are ready (Tornado's `gen.moment`).
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// use tornado_ioloop::{IoLoop, spawn_callback, yield_now};
///
/// let io_loop = IoLoop::new().unwrap();
/// let order = Rc::new(RefCell::new(Vec::new()));
/// let log = order.clone();
/// io_loop.run_sync(async move {
///     let o = log.clone();
///     spawn_callback(async move { o.borrow_mut().push("other task") });
///     log.borrow_mut().push("before");
///     yield_now().await; // the other task gets its turn here
///     log.borrow_mut().push("after");
/// });
/// assert_eq!(*order.borrow(), ["before", "other task", "after"]);
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future returned by [`yield_now`].
///
/// It is pending on its first poll (waking itself at once) and ready on the next.
///
/// ```
/// use std::future::Future;
/// use std::pin::pin;
/// use std::task::{Context, Poll, Waker};
///
/// let mut yielded = pin!(tornado_ioloop::yield_now());
/// let mut cx = Context::from_waker(Waker::noop());
/// assert_eq!(yielded.as_mut().poll(&mut cx), Poll::Pending);
/// assert_eq!(yielded.as_mut().poll(&mut cx), Poll::Ready(()));
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
