//! The keep-alive pool, and the `max_clients` slots with their queue.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::net::IpAddr;
use std::pin::pin;
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use tornado_ioloop::{deadline_after, sleep_until};

use crate::connection::Connection;
use crate::proxy::Proxy;
use crate::tls::TlsKey;
use crate::url::Scheme;

/// What makes two connections interchangeable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PoolKey {
    pub(crate) scheme: Scheme,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) tls: Option<TlsKey>,
    pub(crate) proxy: Option<Proxy>,
    pub(crate) source: Option<IpAddr>,
    pub(crate) ipv6: bool,
}

#[derive(Debug)]
struct Idle {
    conn: Rc<Connection>,
    since: Instant,
    /// The loop the connection's stream is registered with; it is of no
    /// use on another.
    loop_id: usize,
}

/// The id of the current thread's loop, or a value no loop has.
fn current_loop() -> usize {
    tornado_ioloop::IoLoop::try_current().map_or(usize::MAX, |l| l.id())
}

/// Idle keep-alive connections, by key, most recently used last.
#[derive(Debug)]
pub(crate) struct Pool {
    idle: RefCell<HashMap<PoolKey, Vec<Idle>>>,
    idle_timeout: Duration,
    max_idle_per_key: usize,
    /// The loop whose sweeper task is running, if one is.
    sweeping: Cell<Option<usize>>,
}

impl Pool {
    pub(crate) fn new(idle_timeout: Duration, max_idle_per_key: usize) -> Rc<Pool> {
        Rc::new(Pool {
            idle: RefCell::new(HashMap::new()),
            idle_timeout,
            max_idle_per_key,
            sweeping: Cell::new(None),
        })
    }

    /// An idle connection for `key` that has not timed out, if any.
    ///
    /// An emptied list stays in the map for the next [`checkin`](Self::checkin)
    /// of its key (a sweep drops it), so a connection going round costs one
    /// lookup each way and no clone of the key.
    pub(crate) fn checkout(&self, key: &PoolKey) -> Option<Rc<Connection>> {
        let mut idle = self.idle.borrow_mut();
        let list = idle.get_mut(key)?;
        let now = Instant::now();
        let loop_id = current_loop();
        while let Some(entry) = list.pop() {
            if entry.loop_id == loop_id
                && now.duration_since(entry.since) < self.idle_timeout
                && entry.conn.reusable()
            {
                return Some(entry.conn);
            }
            entry.conn.stream.close();
        }
        None
    }

    /// Puts a connection back if it can carry another request; closes it
    /// otherwise.
    pub(crate) fn checkin(self: &Rc<Self>, key: &PoolKey, conn: Rc<Connection>) {
        if !self.keeps_alive() || !conn.reusable() {
            conn.stream.close();
            return;
        }
        let entry = Idle {
            conn,
            since: Instant::now(),
            loop_id: current_loop(),
        };
        {
            let mut idle = self.idle.borrow_mut();
            if let Some(list) = idle.get_mut(key) {
                if list.len() >= self.max_idle_per_key {
                    list.remove(0).conn.stream.close();
                }
                list.push(entry);
            } else {
                idle.insert(key.clone(), vec![entry]);
            }
        }
        self.start_sweeping();
    }

    /// Whether connections are kept at all (neither the idle timeout nor
    /// the idle limit is zero).
    pub(crate) fn keeps_alive(&self) -> bool {
        self.max_idle_per_key > 0 && !self.idle_timeout.is_zero()
    }

    /// The number of idle connections.
    pub(crate) fn idle_count(&self) -> usize {
        self.idle.borrow().values().map(Vec::len).sum()
    }

    /// Closes every idle connection.
    pub(crate) fn clear(&self) {
        for (_, list) in self.idle.borrow_mut().drain() {
            for entry in list {
                entry.conn.stream.close();
            }
        }
    }

    /// Closes the connections idle for `idle_timeout`; returns when the
    /// next one will be due.
    fn sweep(&self, now: Instant) -> Option<Instant> {
        let mut idle = self.idle.borrow_mut();
        let mut next: Option<Instant> = None;
        idle.retain(|_, list| {
            list.retain(|entry| {
                let due = deadline_after(entry.since, self.idle_timeout);
                if due <= now || entry.conn.stream.closed() {
                    entry.conn.stream.close();
                    false
                } else {
                    next = Some(next.map_or(due, |n| n.min(due)));
                    true
                }
            });
            !list.is_empty()
        });
        next
    }

    /// One timer task per pool, on the current loop, running while
    /// connections are idle. It holds the pool weakly, so a dropped client
    /// takes its pool along; if its loop goes away, the next checkin starts
    /// one on the loop of the day.
    fn start_sweeping(self: &Rc<Self>) {
        let Some(io_loop) = tornado_ioloop::IoLoop::try_current() else {
            return;
        };
        let loop_id = io_loop.id();
        if self.sweeping.replace(Some(loop_id)) == Some(loop_id) {
            return;
        }
        let guard = SweeperGuard {
            pool: Rc::downgrade(self),
            loop_id,
        };
        let first = deadline_after(Instant::now(), self.idle_timeout);
        io_loop.spawn_callback(async move {
            let guard = guard;
            let mut due = first;
            loop {
                sleep_until(due).await;
                let Some(pool) = guard.pool.upgrade() else {
                    return;
                };
                match pool.sweep(Instant::now()) {
                    Some(next) => due = next,
                    None => return,
                }
            }
        });
    }
}

/// Marks the sweeper gone when its task ends, or is dropped with its loop.
struct SweeperGuard {
    pool: Weak<Pool>,
    loop_id: usize,
}

impl Drop for SweeperGuard {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.upgrade()
            && pool.sweeping.get() == Some(self.loop_id)
        {
            pool.sweeping.set(None);
        }
    }
}

/// The `max_clients` limit: a count of fetches in progress and a queue of
/// the ones waiting, first come first served.
#[derive(Debug)]
pub(crate) struct Slots {
    max: usize,
    active: Cell<usize>,
    queue: RefCell<VecDeque<Rc<Waiter>>>,
}

#[derive(Debug, Default)]
struct Waiter {
    granted: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

/// A held slot; dropping it hands the slot to the next in the queue.
#[derive(Debug)]
pub(crate) struct Slot {
    slots: Rc<Slots>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.release();
    }
}

impl Slots {
    pub(crate) fn new(max: usize) -> Rc<Slots> {
        Rc::new(Slots {
            max: max.max(1),
            active: Cell::new(0),
            queue: RefCell::new(VecDeque::new()),
        })
    }

    /// Fetches in progress.
    pub(crate) fn active(&self) -> usize {
        self.active.get()
    }

    /// Fetches waiting for a slot.
    pub(crate) fn queued(&self) -> usize {
        self.queue.borrow().len()
    }

    /// Waits for a slot until `deadline`; `None` if the deadline came first.
    pub(crate) async fn acquire(self: &Rc<Self>, deadline: Instant) -> Option<Slot> {
        if self.active.get() < self.max && self.queue.borrow().is_empty() {
            self.active.set(self.active.get() + 1);
            return Some(Slot {
                slots: self.clone(),
            });
        }
        let waiter = Rc::new(Waiter::default());
        self.queue.borrow_mut().push_back(waiter.clone());
        // Removes the waiter if this future is dropped or times out; a slot
        // granted meanwhile is passed on.
        let mut guard = QueueGuard {
            slots: self.clone(),
            waiter: waiter.clone(),
            taken: false,
        };
        let mut timer = pin!(sleep_until(deadline));
        let granted = poll_fn(|cx| {
            if waiter.granted.get() {
                return Poll::Ready(true);
            }
            if timer.as_mut().poll(cx).is_ready() {
                return Poll::Ready(false);
            }
            *waiter.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
        .await;
        if granted {
            guard.taken = true;
            Some(Slot {
                slots: self.clone(),
            })
        } else {
            None
        }
    }

    fn release(&self) {
        let next = self.queue.borrow_mut().pop_front();
        match next {
            Some(waiter) => {
                waiter.granted.set(true);
                if let Some(waker) = waiter.waker.borrow_mut().take() {
                    waker.wake();
                }
            }
            None => self.active.set(self.active.get() - 1),
        }
    }
}

struct QueueGuard {
    slots: Rc<Slots>,
    waiter: Rc<Waiter>,
    /// The granted slot became the caller's `Slot`.
    taken: bool,
}

impl Drop for QueueGuard {
    fn drop(&mut self) {
        if self.taken {
            return;
        }
        if self.waiter.granted.get() {
            // The slot came just as the wait ended: pass it on.
            self.slots.release();
        } else {
            self.slots
                .queue
                .borrow_mut()
                .retain(|w| !Rc::ptr_eq(w, &self.waiter));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tornado_ioloop::IoLoop;

    use super::*;

    #[test]
    fn slots_queue_in_order_and_time_out() {
        let io_loop = IoLoop::new().unwrap();
        io_loop
            .run_sync_timeout(
                async {
                    let slots = Slots::new(1);
                    let far = Instant::now() + Duration::from_secs(30);
                    let first = slots.acquire(far).await.unwrap();
                    assert_eq!(slots.active(), 1);
                    // A waiter that times out leaves the queue.
                    let soon = Instant::now() + Duration::from_millis(20);
                    assert!(slots.acquire(soon).await.is_none());
                    assert_eq!(slots.queued(), 0);
                    // Two waiters get the slot in order.
                    let order = Rc::new(RefCell::new(Vec::new()));
                    let mut handles = Vec::new();
                    for i in 0..2 {
                        let (slots, order) = (slots.clone(), order.clone());
                        handles.push(tornado_ioloop::spawn(async move {
                            let _slot = slots.acquire(far).await.unwrap();
                            order.borrow_mut().push(i);
                            tornado_ioloop::sleep(Duration::from_millis(5)).await;
                        }));
                    }
                    tornado_ioloop::sleep(Duration::from_millis(5)).await;
                    assert_eq!(slots.queued(), 2);
                    drop(first);
                    for h in handles {
                        h.await.unwrap();
                    }
                    assert_eq!(*order.borrow(), [0, 1]);
                    assert_eq!((slots.active(), slots.queued()), (0, 0));
                    // Nothing kept a reference (a granted waiter's guard included).
                    assert_eq!(Rc::strong_count(&slots), 1);
                },
                Duration::from_secs(20),
            )
            .unwrap();
    }
}
