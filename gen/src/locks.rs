//! Tornado's `locks` for tasks on one loop: [`Lock`], [`Event`], [`Condition`],
//! [`Semaphore`] and [`BoundedSemaphore`].
//!
//! These synchronise tasks of one [`IoLoop`](tornado_ioloop::IoLoop) thread. They are
//! cheap clonable handles (`Rc` inside): clone one into each task that needs it. They use
//! `Cell`/`RefCell`, no mutex, so they are neither `Send` nor `Sync`.
//!
//! # Waiting, fairness, timeouts
//!
//! Waiters queue in FIFO order. A release, `set` or `notify` hands the permit or the
//! notification straight to the oldest waiter, so a task that arrives later cannot
//! barge ahead of one that was already waiting.
//!
//! Every waiting method has a `*_timeout` twin taking an [`Instant`](std::time::Instant)
//! or a [`Duration`](std::time::Duration) (anything `Into<`[`Deadline`]`>`), which gives
//! `Err(e)` with [`e.is_timeout()`](crate::Error::is_timeout) when the deadline passes.
//! They are [`with_timeout`](crate::with_timeout) around the plain method.
//!
//! # Cancellation
//!
//! Dropping a waiting future (an `acquire`, a `wait`) is always safe: it leaves the
//! queue, and if it had already been handed a permit or a notification that it never
//! saw, that permit or notification goes to the next waiter.
//!
//! [`Deadline`]: tornado_ioloop::Deadline

mod condition;
mod event;
mod lock;
mod semaphore;

pub use condition::{Condition, ConditionWait};
pub use event::{Event, EventWait};
pub use lock::{Lock, LockAcquire, LockGuard};
pub use semaphore::{Acquire, BoundedSemaphore, Semaphore, SemaphoreGuard};
