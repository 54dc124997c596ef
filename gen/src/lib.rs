//! # tornado-gen: the coroutine toolkit
//!
//! Tornado's `gen`, `locks` and `queues` for Rust futures on a
//! [`tornado_ioloop::IoLoop`]. The facade shows this crate as `tornado::coroutine`, with
//! [`locks`] and [`queues`] beside it as `tornado::locks` and `tornado::queues`.
//!
//! * Time: [`sleep`], [`sleep_until`], [`moment`] (yield to the loop once) and
//!   [`with_timeout`], which fails with an [`Error`] whose
//!   [`is_timeout`](Error::is_timeout) is true.
//! * Many futures at once: [`multi`] (outputs in input order), [`multi_map`] (outputs
//!   under the same keys), [`try_multi`] (first error) and [`try_multi_all`] (every
//!   error); [`WaitIterator`] gives outputs in completion order with their index or
//!   key; [`Shared`] lets many awaiters see one future's output.
//! * [`locks`]: [`Lock`](locks::Lock), [`Event`](locks::Event),
//!   [`Condition`](locks::Condition), [`Semaphore`](locks::Semaphore),
//!   [`BoundedSemaphore`](locks::BoundedSemaphore).
//! * [`queues`]: [`Queue`](queues::Queue), [`PriorityQueue`](queues::PriorityQueue),
//!   [`LifoQueue`](queues::LifoQueue), with `maxsize`, `task_done` and `join`.
//!
//! # The model
//!
//! Everything here runs on one loop thread. The locks and queues are cheap clonable
//! handles over `Rc` and `Cell`/`RefCell` (no mutex), so they are not `Send`: clone a
//! handle into each task. Waiters queue first-in first-out and what they wait for is
//! handed to them directly, so nothing barges ahead. Every waiting future is safe to
//! drop (by a timeout, or by losing a race): it never takes a permit, an item or a
//! notification with it — those pass on to the next waiter. A deadline is a
//! [`Duration`](std::time::Duration) from now or an [`Instant`](std::time::Instant)
//! (anything `Into<`[`Deadline`]`>`), and each waiting method
//! has a `*_timeout` twin that is [`with_timeout`] around it.
//!
//! Errors are one type, [`Error`], with predicates; `put_nowait` on a full queue gives
//! the item back in a [`QueueFull`].
//!
//! ```
//! use std::time::Duration;
//! use tornado_gen::locks::Semaphore;
//! use tornado_gen::queues::Queue;
//! use tornado_gen::{multi, sleep};
//! use tornado_ioloop::{IoLoop, spawn};
//!
//! let io_loop = IoLoop::new().unwrap();
//! let total = io_loop.run_sync(async {
//!     let queue = Queue::new(4);
//!     let sem = Semaphore::new(2);
//!     // Three workers; at most two handle an item at a time.
//!     let workers: Vec<_> = (0..3)
//!         .map(|_| {
//!             let (queue, sem) = (queue.clone(), sem.clone());
//!             spawn(async move {
//!                 let mut sum = 0;
//!                 while let Ok(item) = queue.get_timeout(Duration::from_millis(50)).await {
//!                     let _permit = sem.acquire().await;
//!                     sleep(Duration::from_millis(1)).await;
//!                     sum += item;
//!                     queue.task_done().unwrap();
//!                 }
//!                 sum
//!             })
//!         })
//!         .collect();
//!     for i in 1..=10 {
//!         queue.put(i).await; // waits while four items are queued
//!     }
//!     queue.join_timeout(Duration::from_secs(5)).await.unwrap();
//!     let sums = multi(workers).await;
//!     sums.into_iter().map(Result::unwrap).sum::<i32>()
//! });
//! assert_eq!(total, 55);
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]

mod error;
pub mod locks;
mod multi;
pub mod queues;
mod shared;
mod sleep;
mod timeout;
mod wait_iterator;
mod waiters;

pub use crate::error::{Error, QueueFull};
pub use crate::multi::{
    Multi, MultiMap, TryMulti, TryMultiAll, multi, multi_map, try_multi, try_multi_all,
};
pub use crate::shared::{Shared, shared};
pub use crate::sleep::{Sleep, moment, sleep, sleep_until};
pub use crate::timeout::{WithTimeout, with_timeout};
pub use crate::wait_iterator::{Next, WaitIterator};

pub use tornado_ioloop::{Deadline, YieldNow};
