//! `WaitIterator`: results of many futures in the order they finish.
//!
//! Each future gets a waker of its own, which records the future's index in a shared
//! queue before waking the iterator's task. A poll of the iterator polls only the futures
//! in that queue, in the order they were woken, so futures that complete in the same loop
//! iteration come out in the order they completed (Tornado's `WaitIterator` collects
//! done-callbacks in the same way), and a wake-up costs one poll, not one per future.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use futures_core::Stream;

/// What the futures' wakers share with the iterator.
#[derive(Default)]
struct Woken {
    /// Indices of the futures woken since the iterator last polled them, in wake order.
    queue: VecDeque<usize>,
    /// The waker of the task that polls the iterator.
    parent: Option<Waker>,
}

fn lock(m: &Mutex<Woken>) -> MutexGuard<'_, Woken> {
    // Nothing can panic while the lock is held, but a poisoned queue is still consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The waker of one future: queues its index, then wakes the iterator's task.
struct ChildWaker {
    index: usize,
    /// The index is in the queue already; a second wake adds nothing.
    queued: AtomicBool,
    woken: Arc<Mutex<Woken>>,
}

impl Wake for ChildWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let parent = {
            let mut w = lock(&self.woken);
            if !self.queued.swap(true, Ordering::AcqRel) {
                w.queue.push_back(self.index);
            }
            w.parent.clone()
        };
        // Woken outside the lock: a waker that polls at once must not find it held.
        if let Some(p) = parent {
            p.wake();
        }
    }
}

struct Child<K, F> {
    key: K,
    future: Pin<Box<F>>,
    waker: Waker,
    flag: Arc<ChildWaker>,
}

/// Gives the output of each of a set of futures as soon as it is ready, with the index
/// (or key) of the future it came from (Tornado's `gen.WaitIterator`).
///
/// Await [`next`](WaitIterator::next) until it gives `None`, or use the iterator as a
/// [`futures_core::Stream`] of `(key, output)` pairs. Tornado's `current_index` is the
/// key in each pair.
///
/// # Order
///
/// Results come in completion order, as in Tornado: each future has a waker of its own,
/// and the futures are polled in the order their wakers fired. So when several complete
/// in the same loop iteration (two timers that came due together, say), they are given
/// one by one in the order they completed, not in input order; none is lost or given
/// twice. Futures that are ready when first polled come in input order.
///
/// # The same future twice
///
/// A Rust future has one owner, so it cannot be passed twice as a Tornado future can.
/// What corresponds is several handles on one computation: clones of a
/// [`Shared`](crate::Shared). Each clone is a separate input with its own index, and
/// each yields the computation's output once it is ready, so
/// `WaitIterator::new([s.clone(), s.clone(), s])` gives three results, under
/// indices 0, 1 and 2.
///
/// ```
/// use std::time::Duration;
/// use tornado_gen::{WaitIterator, sleep};
/// use tornado_ioloop::IoLoop;
///
/// let io_loop = IoLoop::new().unwrap();
/// let order = io_loop.run_sync(async {
///     let mut it = WaitIterator::new([20u64, 0].map(|ms| async move {
///         if ms > 0 {
///             sleep(Duration::from_millis(ms)).await;
///         }
///         ms
///     }));
///     let mut order = Vec::new();
///     while let Some((index, ms)) = it.next().await {
///         order.push((index, ms));
///     }
///     order
/// });
/// // The future that needed no timer finished first.
/// assert_eq!(order, vec![(1, 0), (0, 20)]);
/// ```
pub struct WaitIterator<K, F: Future> {
    running: Vec<Option<Child<K, F>>>,
    remaining: usize,
    ready: VecDeque<(K, F::Output)>,
    woken: Arc<Mutex<Woken>>,
    /// The batch of indices being polled; kept to reuse its allocation.
    batch: VecDeque<usize>,
}

impl<F: Future> WaitIterator<usize, F> {
    /// Waits on `futures`, keyed by their position.
    pub fn new<I: IntoIterator<Item = F>>(futures: I) -> Self {
        Self::from_map(futures.into_iter().enumerate())
    }
}

impl<K, F: Future> WaitIterator<K, F> {
    /// Waits on keyed futures (Tornado's `WaitIterator(**futures)`): any iterator of
    /// `(key, future)` pairs, such as a map.
    pub fn from_map<I: IntoIterator<Item = (K, F)>>(futures: I) -> Self {
        let woken = Arc::new(Mutex::new(Woken::default()));
        let running: Vec<_> = futures
            .into_iter()
            .enumerate()
            .map(|(index, (key, future))| {
                // Every future starts queued: the first poll polls them all, in order.
                let flag = Arc::new(ChildWaker {
                    index,
                    queued: AtomicBool::new(true),
                    woken: woken.clone(),
                });
                Some(Child {
                    key,
                    future: Box::pin(future),
                    waker: Waker::from(flag.clone()),
                    flag,
                })
            })
            .collect();
        lock(&woken).queue.extend(0..running.len());
        WaitIterator {
            remaining: running.len(),
            running,
            ready: VecDeque::new(),
            woken,
            batch: VecDeque::new(),
        }
    }

    /// True when every result has been given out (Tornado's `done()`).
    pub fn done(&self) -> bool {
        self.remaining == 0 && self.ready.is_empty()
    }

    /// How many results are still to come.
    pub fn len(&self) -> usize {
        self.remaining + self.ready.len()
    }

    /// True when no results are still to come (the same as [`done`](Self::done)).
    pub fn is_empty(&self) -> bool {
        self.done()
    }

    /// Waits for the next result: `Some((key, output))`, or `None` once all are given.
    // Tornado's name; it returns a future, so `Iterator` does not fit (`Stream` does).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Next<'_, K, F> {
        Next { iter: self }
    }

    /// The poll behind [`next`](Self::next) and the `Stream` impl.
    pub fn poll_next_result(&mut self, cx: &mut Context<'_>) -> Poll<Option<(K, F::Output)>> {
        if let Some(r) = self.ready.pop_front() {
            return Poll::Ready(Some(r));
        }
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        {
            // The parent waker is stored before the futures are polled, so a wake that
            // comes during the polls below is not lost.
            let mut w = lock(&self.woken);
            match &w.parent {
                Some(p) if p.will_wake(cx.waker()) => {}
                _ => w.parent = Some(cx.waker().clone()),
            }
            std::mem::swap(&mut w.queue, &mut self.batch);
        }
        while let Some(index) = self.batch.pop_front() {
            let Some(Some(child)) = self.running.get_mut(index) else {
                continue;
            };
            // Cleared first: a wake during this poll queues the future again.
            child.flag.queued.store(false, Ordering::Release);
            let mut child_cx = Context::from_waker(&child.waker);
            if let Poll::Ready(v) = child.future.as_mut().poll(&mut child_cx)
                && let Some(done) = self.running[index].take()
            {
                self.remaining -= 1;
                self.ready.push_back((done.key, v));
            }
        }
        if self.remaining == 0 {
            self.running = Vec::new();
        }
        match self.ready.pop_front() {
            Some(r) => Poll::Ready(Some(r)),
            None => Poll::Pending,
        }
    }
}

// The futures are boxed and outputs are never pinned, so moving the iterator is fine.
impl<K, F: Future> Unpin for WaitIterator<K, F> {}

impl<K, F: Future> Stream for WaitIterator<K, F> {
    type Item = (K, F::Output);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_result(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len(), Some(self.len()))
    }
}

impl<K, F: Future> fmt::Debug for WaitIterator<K, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitIterator")
            .field("running", &self.remaining)
            .field("ready", &self.ready.len())
            .finish()
    }
}

/// The future returned by [`WaitIterator::next`].
#[must_use = "futures do nothing unless awaited"]
pub struct Next<'a, K, F: Future> {
    iter: &'a mut WaitIterator<K, F>,
}

impl<K, F: Future> Future for Next<'_, K, F> {
    type Output = Option<(K, F::Output)>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.iter.poll_next_result(cx)
    }
}

impl<K, F: Future> fmt::Debug for Next<'_, K, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Next").field("iter", &self.iter).finish()
    }
}
