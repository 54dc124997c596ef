//! Tornado's `queues` for tasks on one loop: [`Queue`] (FIFO), [`PriorityQueue`]
//! (lowest first) and [`LifoQueue`] (newest first).
//!
//! A queue is a cheap clonable handle (`Rc` inside) for producers and consumers on one
//! [`IoLoop`](tornado_ioloop::IoLoop) thread; no mutex is involved.
//!
//! * [`put`](Queue::put) waits while the queue holds `maxsize` items (`0`: unbounded);
//!   [`put_nowait`](Queue::put_nowait) refuses with [`QueueFull`], handing the item back.
//! * [`get`](Queue::get) waits for an item; [`get_nowait`](Queue::get_nowait) fails
//!   with an error whose `is_queue_empty()` is true.
//! * Every item put counts as an unfinished task until a consumer calls
//!   [`task_done`](Queue::task_done); [`join`](Queue::join) waits until none is left.
//! * `put_timeout`, `get_timeout` and `join_timeout` take a deadline, as the locks'
//!   `*_timeout` methods do.
//! * [`stream`](Queue::stream) consumes the queue as a `futures_core::Stream`
//!   (Tornado's `async for item in queue`).
//!
//! # Hand-off and cancellation
//!
//! As in Tornado, an item put while a task waits in `get` goes straight to the oldest
//! such task, and a slot freed while a task waits in `put` is filled at once with that
//! task's item. Dropping a waiting `get` is safe: an item it had been handed but not
//! yet returned goes to the next waiting getter, or back into the queue, older than
//! every item put since (items given back by several getters keep the order they were
//! handed out in). As the item is never lost, the queue may then hold more than
//! `maxsize` items until it is got; `put` waits meanwhile.
//! Dropping a waiting `put` withdraws its item (it is dropped, never half-put).

use std::cell::RefCell;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures_core::Stream;
use tornado_ioloop::Deadline;

use crate::error::{Error, QueueFull};
use crate::locks::{Event, EventWait};
use crate::timeout::{WithTimeout, with_timeout};
use crate::waiters::{Node, NodeState, WaitQueue};

/// How a queue orders its items.
trait Store<T> {
    fn push(&mut self, item: T);
    fn pop(&mut self) -> Option<T>;
    /// Adds an item older than every item queued now: one handed to a getter that was
    /// dropped before taking it. `handoff` numbers the hand-offs, so items given back
    /// in any order take their places in the order they were handed out.
    fn restore(&mut self, item: T, handoff: u64);
    fn len(&self) -> usize;
}

/// Where `handoff` goes among the hand-off numbers of the items given back so far
/// (kept in ascending order).
fn restored_place(restored: &VecDeque<u64>, handoff: u64) -> usize {
    restored.partition_point(|&h| h < handoff)
}

/// Items in order; those given back (older than every other) at the front, with their
/// hand-off numbers in `restored`.
struct Fifo<T> {
    items: VecDeque<T>,
    restored: VecDeque<u64>,
}

impl<T> Store<T> for Fifo<T> {
    fn push(&mut self, item: T) {
        self.items.push_back(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.restored.pop_front();
        self.items.pop_front()
    }
    fn restore(&mut self, item: T, handoff: u64) {
        let at = restored_place(&self.restored, handoff);
        self.restored.insert(at, handoff);
        self.items.insert(at, item);
    }
    fn len(&self) -> usize {
        self.items.len()
    }
}

/// A stack, newest on top; the items given back (older than every other) at the
/// bottom, with their hand-off numbers in `restored`.
struct Lifo<T> {
    items: Vec<T>,
    restored: VecDeque<u64>,
}

impl<T> Store<T> for Lifo<T> {
    fn push(&mut self, item: T) {
        self.items.push(item);
    }
    fn pop(&mut self) -> Option<T> {
        if self.items.len() == self.restored.len() {
            self.restored.pop_back();
        }
        self.items.pop()
    }
    fn restore(&mut self, item: T, handoff: u64) {
        let at = restored_place(&self.restored, handoff);
        self.restored.insert(at, handoff);
        self.items.insert(at, item);
    }
    fn len(&self) -> usize {
        self.items.len()
    }
}

/// An item with its insertion number, so equal priorities come out first-in first-out.
struct Ranked<T> {
    item: T,
    seq: u64,
}

impl<T: Ord> PartialEq for Ranked<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<T: Ord> Eq for Ranked<T> {}
impl<T: Ord> PartialOrd for Ranked<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T: Ord> Ord for Ranked<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.item.cmp(&other.item).then(self.seq.cmp(&other.seq))
    }
}

/// Sequence numbers of pushed items count up from here; restored (older) items take
/// their hand-off numbers, which count up from 0 (below it), so they sort before equal
/// items pushed later, in the order they were handed out.
const PRIORITY_SEQ_START: u64 = 1 << 63;

struct Priority<T> {
    heap: BinaryHeap<Reverse<Ranked<T>>>,
    next_seq: u64,
}

impl<T: Ord> Store<T> for Priority<T> {
    fn push(&mut self, item: T) {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.saturating_add(1);
        self.heap.push(Reverse(Ranked { item, seq }));
    }
    fn pop(&mut self) -> Option<T> {
        self.heap.pop().map(|Reverse(r)| r.item)
    }
    fn restore(&mut self, item: T, handoff: u64) {
        let seq = handoff.min(PRIORITY_SEQ_START - 1);
        self.heap.push(Reverse(Ranked { item, seq }));
    }
    fn len(&self) -> usize {
        self.heap.len()
    }
}

/// An item handed to a waiting getter, numbered in the order of hand-offs.
struct Handed<T> {
    handoff: u64,
    item: T,
}

struct State<T> {
    items: Box<dyn Store<T>>,
    getters: WaitQueue<Handed<T>>,
    /// Hand-offs to getters so far: the next one's number.
    handoffs: u64,
    putters: WaitQueue<T>,
    unfinished: usize,
}

struct Inner<T> {
    state: RefCell<State<T>>,
    maxsize: usize,
    finished: Event,
    kind: &'static str,
}

/// A first-in first-out queue for tasks (Tornado's `queues.Queue`).
///
/// ```
/// use tornado_gen::queues::Queue;
/// use tornado_ioloop::{IoLoop, spawn};
///
/// let io_loop = IoLoop::new().unwrap();
/// let seen = io_loop.run_sync(async {
///     let q = Queue::new(2);
///     let consumer = {
///         let q = q.clone();
///         spawn(async move {
///             let mut seen = Vec::new();
///             for _ in 0..5 {
///                 seen.push(q.get().await);
///                 q.task_done().unwrap();
///             }
///             seen
///         })
///     };
///     for i in 0..5 {
///         q.put(i).await; // waits while two items are queued
///     }
///     q.join().await; // every item has been task_done()
///     consumer.await.unwrap()
/// });
/// assert_eq!(seen, [0, 1, 2, 3, 4]);
/// ```
pub struct Queue<T> {
    inner: Rc<Inner<T>>,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue {
            inner: self.inner.clone(),
        }
    }
}

impl<T: 'static> Default for Queue<T> {
    /// An unbounded FIFO queue.
    fn default() -> Self {
        Queue::new(0)
    }
}

impl<T: 'static> Queue<T> {
    /// A FIFO queue holding at most `maxsize` items; `0` means unbounded.
    ///
    /// ```
    /// use tornado_gen::queues::Queue;
    ///
    /// let q = Queue::new(2);
    /// q.put_nowait(1).unwrap();
    /// q.put_nowait(2).unwrap();
    /// assert!(q.put_nowait(3).is_err()); // full at two items
    /// assert_eq!(q.get_nowait().unwrap(), 1); // first in, first out
    /// ```
    pub fn new(maxsize: usize) -> Queue<T> {
        Queue::with_store(
            maxsize,
            Box::new(Fifo {
                items: VecDeque::new(),
                restored: VecDeque::new(),
            }),
            "Queue",
        )
    }
}

impl<T> Queue<T> {
    fn with_store(maxsize: usize, items: Box<dyn Store<T>>, kind: &'static str) -> Queue<T> {
        let finished = Event::new();
        finished.set();
        Queue {
            inner: Rc::new(Inner {
                state: RefCell::new(State {
                    items,
                    getters: WaitQueue::default(),
                    handoffs: 0,
                    putters: WaitQueue::default(),
                    unfinished: 0,
                }),
                maxsize,
                finished,
                kind,
            }),
        }
    }

    /// The most items the queue holds; `0` means unbounded.
    ///
    /// ```
    /// use tornado_gen::queues::Queue;
    ///
    /// assert_eq!(Queue::<u8>::new(5).maxsize(), 5);
    /// assert_eq!(Queue::<u8>::default().maxsize(), 0);
    /// ```
    pub fn maxsize(&self) -> usize {
        self.inner.maxsize
    }

    /// Items in the queue now.
    ///
    /// ```
    /// use tornado_gen::queues::Queue;
    ///
    /// let q = Queue::new(0);
    /// assert_eq!(q.qsize(), 0);
    /// q.put_nowait("a").unwrap();
    /// q.put_nowait("b").unwrap();
    /// assert_eq!(q.qsize(), 2);
    /// q.get_nowait().unwrap();
    /// assert_eq!(q.qsize(), 1);
    /// ```
    pub fn qsize(&self) -> usize {
        self.inner.state.borrow().items.len()
    }

    /// True if the queue holds no items.
    ///
    /// ```
    /// use tornado_gen::queues::Queue;
    ///
    /// let q = Queue::new(0);
    /// assert!(q.empty());
    /// q.put_nowait(1).unwrap();
    /// assert!(!q.empty());
    /// ```
    pub fn empty(&self) -> bool {
        self.qsize() == 0
    }

    /// True if the queue holds `maxsize` items (never, if unbounded).
    ///
    /// ```
    /// use tornado_gen::queues::Queue;
    ///
    /// let q = Queue::new(1);
    /// assert!(!q.full());
    /// q.put_nowait(1).unwrap();
    /// assert!(q.full());
    ///
    /// let unbounded = Queue::new(0);
    /// for i in 0..100 {
    ///     unbounded.put_nowait(i).unwrap();
    /// }
    /// assert!(!unbounded.full());
    /// ```
    pub fn full(&self) -> bool {
        self.inner.maxsize > 0 && self.qsize() >= self.inner.maxsize
    }

    /// Items put and not yet marked [`task_done`](Self::task_done).
    ///
    /// ```
    /// use tornado_gen::queues::Queue;
    ///
    /// let q = Queue::new(0);
    /// q.put_nowait("job").unwrap();
    /// q.get_nowait().unwrap(); // taken out, but not yet processed
    /// assert_eq!(q.unfinished_tasks(), 1);
    /// q.task_done().unwrap();
    /// assert_eq!(q.unfinished_tasks(), 0);
    /// ```
    pub fn unfinished_tasks(&self) -> usize {
        self.inner.state.borrow().unfinished
    }

    fn add_task(&self, st: &mut State<T>) {
        st.unfinished += 1;
        self.inner.finished.clear();
    }

    /// Puts `item` if there is room now; else hands it back in [`QueueFull`].
    ///
    /// ```
    /// use tornado_gen::queues::Queue;
    ///
    /// let q = Queue::new(1);
    /// assert!(q.put_nowait("first").is_ok());
    /// let refused = q.put_nowait("second").unwrap_err();
    /// assert_eq!(refused.into_inner(), "second");
    /// assert_eq!(q.qsize(), 1);
    /// ```
    pub fn put_nowait(&self, item: T) -> Result<(), QueueFull<T>> {
        let mut st = self.inner.state.borrow_mut();
        if let Some(getter) = st.getters.pop_waiting() {
            // A getter waits, so the queue is empty: the item goes straight to it.
            self.add_task(&mut st);
            let handoff = st.handoffs;
            st.handoffs += 1;
            let waker = getter.notify(Some(Handed { handoff, item }));
            drop(st);
            if let Some(w) = waker {
                w.wake();
            }
            return Ok(());
        }
        if self.inner.maxsize > 0 && st.items.len() >= self.inner.maxsize {
            return Err(QueueFull(item));
        }
        st.items.push(item);
        self.add_task(&mut st);
        Ok(())
    }

    /// Puts `item`, waiting while the queue is full. Dropping the future before it
    /// completes withdraws the item.
    ///
    /// ```
    /// use tornado_gen::queues::Queue;
    /// use tornado_ioloop::{IoLoop, spawn};
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// let got = io_loop.run_sync(async {
    ///     let q = Queue::new(1);
    ///     q.put(1).await; // room: completes at once
    ///     let consumer = {
    ///         let q = q.clone();
    ///         spawn(async move { (q.get().await, q.get().await) })
    ///     };
    ///     q.put(2).await; // waits until the consumer makes room
    ///     consumer.await.unwrap()
    /// });
    /// assert_eq!(got, (1, 2));
    /// ```
    pub fn put(&self, item: T) -> Put<T> {
        Put {
            queue: self.clone(),
            item: Some(item),
            node: None,
        }
    }

    /// [`put`](Self::put) with a deadline: `Err` with `is_timeout()` (and the item
    /// dropped) if no room came in time.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tornado_gen::queues::Queue;
    /// use tornado_ioloop::IoLoop;
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// io_loop.run_sync(async {
    ///     let q = Queue::new(1);
    ///     q.put_timeout("a", Duration::from_secs(5)).await.unwrap();
    ///     let err = q.put_timeout("b", Duration::from_millis(10)).await.unwrap_err();
    ///     assert!(err.is_timeout());
    ///     assert_eq!(q.get_nowait().unwrap(), "a"); // "b" was never put
    ///     assert!(q.empty());
    /// });
    /// ```
    pub fn put_timeout(&self, item: T, timeout: impl Into<Deadline>) -> WithTimeout<Put<T>> {
        with_timeout(timeout, self.put(item))
    }

    /// Removes and returns an item if there is one now; else `Err` with
    /// `is_queue_empty()`.
    ///
    /// ```
    /// use tornado_gen::queues::Queue;
    ///
    /// let q = Queue::new(0);
    /// assert!(q.get_nowait().unwrap_err().is_queue_empty());
    /// q.put_nowait(7).unwrap();
    /// assert_eq!(q.get_nowait().unwrap(), 7);
    /// ```
    pub fn get_nowait(&self) -> Result<T, Error> {
        let (item, waker) = {
            let mut st = self.inner.state.borrow_mut();
            // A putter waits, so the queue is full: its item goes in first (Tornado's
            // order, which matters for LIFO and priority queues), unless the queue holds
            // more than `maxsize` (an item given back by a dropped getter): then the get
            // only makes it less full.
            let over_full = st.items.len() > self.inner.maxsize;
            let putter = if over_full {
                None
            } else {
                st.putters.pop_waiting()
            };
            let waker = match putter {
                Some(putter) => {
                    if let Some(it) = putter.take_value() {
                        st.items.push(it);
                        self.add_task(&mut st);
                    }
                    putter.notify(None)
                }
                None => None,
            };
            (st.items.pop(), waker)
        };
        if let Some(w) = waker {
            w.wake();
        }
        item.ok_or_else(Error::queue_empty)
    }

    /// Removes and returns an item, waiting until there is one. Cancel-safe: see the
    /// [module docs](self).
    ///
    /// ```
    /// use tornado_gen::queues::Queue;
    /// use tornado_ioloop::{IoLoop, spawn};
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// let got = io_loop.run_sync(async {
    ///     let q = Queue::new(0);
    ///     let consumer = {
    ///         let q = q.clone();
    ///         spawn(async move { q.get().await }) // waits: the queue is empty
    ///     };
    ///     q.put_nowait("hello").unwrap(); // handed straight to the waiting getter
    ///     consumer.await.unwrap()
    /// });
    /// assert_eq!(got, "hello");
    /// ```
    pub fn get(&self) -> Get<T> {
        Get {
            queue: self.clone(),
            node: None,
        }
    }

    /// [`get`](Self::get) with a deadline: `Err` with `is_timeout()` if no item came in
    /// time.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tornado_gen::queues::Queue;
    /// use tornado_ioloop::IoLoop;
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// io_loop.run_sync(async {
    ///     let q = Queue::new(0);
    ///     let err = q.get_timeout(Duration::from_millis(10)).await.unwrap_err();
    ///     assert!(err.is_timeout());
    ///     q.put_nowait(1).unwrap();
    ///     assert_eq!(q.get_timeout(Duration::from_secs(5)).await.unwrap(), 1);
    /// });
    /// ```
    pub fn get_timeout(&self, timeout: impl Into<Deadline>) -> WithTimeout<Get<T>> {
        with_timeout(timeout, self.get())
    }

    /// Marks one item as processed; when none is left unfinished, [`join`](Self::join)
    /// returns. Calling it more times than items were put is an error
    /// (`is_too_many_task_done()`).
    ///
    /// ```
    /// use tornado_gen::queues::Queue;
    ///
    /// let q = Queue::new(0);
    /// q.put_nowait("job").unwrap();
    /// q.get_nowait().unwrap();
    /// q.task_done().unwrap(); // "job" is finished
    /// assert!(q.task_done().unwrap_err().is_too_many_task_done());
    /// ```
    pub fn task_done(&self) -> Result<(), Error> {
        let left = {
            let mut st = self.inner.state.borrow_mut();
            if st.unfinished == 0 {
                return Err(Error::too_many_task_done());
            }
            st.unfinished -= 1;
            st.unfinished
        };
        if left == 0 {
            self.inner.finished.set();
        }
        Ok(())
    }

    /// Waits until every item put has been marked [`task_done`](Self::task_done).
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use tornado_gen::queues::Queue;
    /// use tornado_ioloop::{IoLoop, spawn};
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// let done = Rc::new(Cell::new(0));
    /// io_loop.run_sync({
    ///     let done = done.clone();
    ///     async move {
    ///         let q = Queue::new(0);
    ///         let worker = q.clone();
    ///         spawn(async move {
    ///             loop {
    ///                 worker.get().await;
    ///                 done.set(done.get() + 1);
    ///                 worker.task_done().unwrap();
    ///             }
    ///         });
    ///         for i in 0..3 {
    ///             q.put_nowait(i).unwrap();
    ///         }
    ///         q.join().await; // returns once all three are task_done()
    ///     }
    /// });
    /// assert_eq!(done.get(), 3);
    /// ```
    pub fn join(&self) -> EventWait {
        self.inner.finished.wait()
    }

    /// [`join`](Self::join) with a deadline.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tornado_gen::queues::Queue;
    /// use tornado_ioloop::IoLoop;
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// io_loop.run_sync(async {
    ///     let q = Queue::new(0);
    ///     q.put_nowait("job").unwrap();
    ///     let err = q.join_timeout(Duration::from_millis(10)).await.unwrap_err();
    ///     assert!(err.is_timeout()); // "job" is not task_done() yet
    ///     q.get_nowait().unwrap();
    ///     q.task_done().unwrap();
    ///     q.join_timeout(Duration::from_secs(5)).await.unwrap();
    /// });
    /// ```
    pub fn join_timeout(&self, timeout: impl Into<Deadline>) -> WithTimeout<EventWait> {
        with_timeout(timeout, self.join())
    }

    /// The queue as an endless `Stream` of items, each got as by [`get`](Self::get)
    /// (Tornado's `async for`). Remember to call `task_done` if anyone `join`s.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::pin::Pin;
    /// use futures_core::Stream;
    /// use tornado_gen::queues::Queue;
    /// use tornado_ioloop::IoLoop;
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// let got = io_loop.run_sync(async {
    ///     let q = Queue::new(0);
    ///     q.put_nowait(1).unwrap();
    ///     q.put_nowait(2).unwrap();
    ///     let mut stream = q.stream();
    ///     let a = poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await;
    ///     let b = poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await;
    ///     (a, b)
    /// });
    /// assert_eq!(got, (Some(1), Some(2)));
    /// ```
    pub fn stream(&self) -> QueueStream<T> {
        QueueStream {
            queue: self.clone(),
            get: None,
        }
    }

    /// Gives back an item a dropped getter had been handed but never returned: to the
    /// next waiting getter, or into the queue before every item put since. That may take
    /// the queue past `maxsize` for a while (items were put while this one was on its
    /// way), rather than lose the item.
    fn redeliver(&self, handed: Handed<T>) {
        let mut st = self.inner.state.borrow_mut();
        match st.getters.pop_waiting() {
            Some(getter) => {
                let waker = getter.notify(Some(handed));
                drop(st);
                if let Some(w) = waker {
                    w.wake();
                }
            }
            None => st.items.restore(handed.item, handed.handoff),
        }
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.state.borrow();
        f.debug_struct(self.inner.kind)
            .field("maxsize", &self.inner.maxsize)
            .field("qsize", &st.items.len())
            .field("getters", &st.getters.len())
            .field("putters", &st.putters.len())
            .field("tasks", &st.unfinished)
            .finish()
    }
}

/// The future returned by [`Queue::put`].
///
/// ```
/// use tornado_gen::queues::{Put, Queue};
/// use tornado_ioloop::IoLoop;
///
/// let io_loop = IoLoop::new().unwrap();
/// io_loop.run_sync(async {
///     let q = Queue::new(1);
///     q.put_nowait("a").unwrap();
///     let waiting: Put<&str> = q.put("b"); // the queue is full
///     drop(waiting); // never polled: nothing is put
///     assert_eq!(q.qsize(), 1);
///     q.get_nowait().unwrap();
///     q.put("c").await; // room now
///     assert_eq!(q.get_nowait().unwrap(), "c");
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Put<T> {
    queue: Queue<T>,
    item: Option<T>,
    node: Option<Rc<Node<T>>>,
}

// The item is only moved, never pinned.
impl<T> Unpin for Put<T> {}

impl<T> Future for Put<T> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if let Some(node) = &this.node {
            if node.state() == NodeState::Notified {
                this.node = None;
                return Poll::Ready(());
            }
            node.set_waker(cx.waker());
            return Poll::Pending;
        }
        let Some(item) = this.item.take() else {
            return Poll::Ready(());
        };
        match this.queue.put_nowait(item) {
            Ok(()) => Poll::Ready(()),
            Err(QueueFull(item)) => {
                let node = this
                    .queue
                    .inner
                    .state
                    .borrow_mut()
                    .putters
                    .push(cx.waker(), Some(item));
                this.node = Some(node);
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for Put<T> {
    fn drop(&mut self) {
        if let Some(node) = self.node.take() {
            let withdrawn = self.queue.inner.state.borrow_mut().putters.cancel(&node);
            drop(withdrawn);
        }
    }
}

impl<T> fmt::Debug for Put<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Put")
            .field("waiting", &self.node.is_some())
            .finish()
    }
}

/// The future returned by [`Queue::get`].
///
/// ```
/// use std::time::Duration;
/// use tornado_gen::queues::{Get, Queue};
/// use tornado_gen::with_timeout;
/// use tornado_ioloop::IoLoop;
///
/// let io_loop = IoLoop::new().unwrap();
/// io_loop.run_sync(async {
///     let q = Queue::new(0);
///     let get: Get<i32> = q.get();
///     // Dropping a waiting `Get` (here by a timeout) loses no item.
///     assert!(with_timeout(Duration::from_millis(10), get).await.is_err());
///     q.put_nowait(5).unwrap();
///     assert_eq!(q.get().await, 5);
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Get<T> {
    queue: Queue<T>,
    node: Option<Rc<Node<Handed<T>>>>,
}

impl<T> Unpin for Get<T> {}

impl<T> Future for Get<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = &mut *self;
        if let Some(node) = &this.node {
            if node.state() == NodeState::Notified
                && let Some(handed) = node.take_value()
            {
                this.node = None;
                return Poll::Ready(handed.item);
            }
            node.set_waker(cx.waker());
            return Poll::Pending;
        }
        match this.queue.get_nowait() {
            Ok(item) => Poll::Ready(item),
            Err(_) => {
                let node = this
                    .queue
                    .inner
                    .state
                    .borrow_mut()
                    .getters
                    .push(cx.waker(), None);
                this.node = Some(node);
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for Get<T> {
    fn drop(&mut self) {
        let Some(node) = self.node.take() else { return };
        if node.state() == NodeState::Notified {
            if let Some(handed) = node.take_value() {
                self.queue.redeliver(handed);
            }
        } else {
            self.queue.inner.state.borrow_mut().getters.cancel(&node);
        }
    }
}

impl<T> fmt::Debug for Get<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Get")
            .field("waiting", &self.node.is_some())
            .finish()
    }
}

/// A [`Queue`] consumed as a `futures_core::Stream`; from [`Queue::stream`].
///
/// It never ends (a queue has no "closed" state, as in Tornado). Dropping it while it
/// waits is as safe as dropping a [`Get`].
///
/// ```
/// use std::pin::Pin;
/// use futures_core::Stream;
/// use tornado_gen::queues::Queue;
/// use tornado_ioloop::IoLoop;
///
/// let io_loop = IoLoop::new().unwrap();
/// let got = io_loop.run_sync(async {
///     let q = Queue::new(0);
///     for word in ["a", "b", "c"] {
///         q.put_nowait(word).unwrap();
///     }
///     let mut stream = q.stream();
///     let mut got = String::new();
///     while got.len() < 3 {
///         let next = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await;
///         got.extend(next);
///     }
///     got
/// });
/// assert_eq!(got, "abc");
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct QueueStream<T> {
    queue: Queue<T>,
    get: Option<Get<T>>,
}

impl<T> Stream for QueueStream<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = &mut *self;
        let get = this.get.get_or_insert_with(|| this.queue.get());
        match Pin::new(get).poll(cx) {
            Poll::Ready(item) => {
                this.get = None;
                Poll::Ready(Some(item))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T> Unpin for QueueStream<T> {}

impl<T> fmt::Debug for QueueStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueStream")
            .field("queue", &self.queue)
            .finish()
    }
}

/// A queue that gives its smallest item first (Tornado's `queues.PriorityQueue`);
/// equal items come out in the order they were put. Put `(priority, value)` tuples to
/// rank values.
///
/// It is a [`Queue`] in every other way (it derefs to one).
///
/// ```
/// use tornado_gen::queues::PriorityQueue;
///
/// let q = PriorityQueue::new(0);
/// for item in [(1, "medium"), (0, "high"), (10, "low")] {
///     q.put_nowait(item).unwrap();
/// }
/// assert_eq!(q.get_nowait().unwrap(), (0, "high"));
/// assert_eq!(q.get_nowait().unwrap(), (1, "medium"));
/// assert_eq!(q.get_nowait().unwrap(), (10, "low"));
/// ```
pub struct PriorityQueue<T> {
    queue: Queue<T>,
}

impl<T: Ord + 'static> PriorityQueue<T> {
    /// A priority queue holding at most `maxsize` items; `0` means unbounded.
    ///
    /// ```
    /// use tornado_gen::queues::PriorityQueue;
    ///
    /// let q = PriorityQueue::new(2);
    /// q.put_nowait(3).unwrap();
    /// q.put_nowait(1).unwrap();
    /// assert!(q.full());
    /// assert!(q.put_nowait(2).is_err());
    /// assert_eq!(q.get_nowait().unwrap(), 1); // smallest first
    /// ```
    pub fn new(maxsize: usize) -> PriorityQueue<T> {
        let store = Priority {
            heap: BinaryHeap::new(),
            next_seq: PRIORITY_SEQ_START,
        };
        PriorityQueue {
            queue: Queue::with_store(maxsize, Box::new(store), "PriorityQueue"),
        }
    }
}

/// A queue that gives its newest item first (Tornado's `queues.LifoQueue`).
///
/// It is a [`Queue`] in every other way (it derefs to one).
///
/// ```
/// use tornado_gen::queues::LifoQueue;
///
/// let q = LifoQueue::new(0);
/// for item in [3, 2, 1] {
///     q.put_nowait(item).unwrap();
/// }
/// assert_eq!(q.get_nowait().unwrap(), 1);
/// assert_eq!(q.get_nowait().unwrap(), 2);
/// assert_eq!(q.get_nowait().unwrap(), 3);
/// ```
pub struct LifoQueue<T> {
    queue: Queue<T>,
}

impl<T: 'static> LifoQueue<T> {
    /// A LIFO queue holding at most `maxsize` items; `0` means unbounded.
    ///
    /// ```
    /// use tornado_gen::queues::LifoQueue;
    ///
    /// let q = LifoQueue::new(2);
    /// q.put_nowait("old").unwrap();
    /// q.put_nowait("new").unwrap();
    /// assert!(q.full());
    /// assert_eq!(q.maxsize(), 2);
    /// assert_eq!(q.get_nowait().unwrap(), "new"); // newest first
    /// ```
    pub fn new(maxsize: usize) -> LifoQueue<T> {
        LifoQueue {
            queue: Queue::with_store(
                maxsize,
                Box::new(Lifo {
                    items: Vec::new(),
                    restored: VecDeque::new(),
                }),
                "LifoQueue",
            ),
        }
    }
}

macro_rules! queue_flavour {
    ($name:ident) => {
        impl<T> Deref for $name<T> {
            type Target = Queue<T>;
            fn deref(&self) -> &Queue<T> {
                &self.queue
            }
        }

        impl<T> Clone for $name<T> {
            fn clone(&self) -> Self {
                $name {
                    queue: self.queue.clone(),
                }
            }
        }

        impl<T> From<$name<T>> for Queue<T> {
            fn from(q: $name<T>) -> Queue<T> {
                q.queue
            }
        }

        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.queue.fmt(f)
            }
        }
    };
}

queue_flavour!(PriorityQueue);
queue_flavour!(LifoQueue);
