//! `Queue`, `PriorityQueue` and `LifoQueue`, after Tornado's `queues_test.py`, plus the
//! cancellation cases.

mod common;

use std::cell::{Cell, RefCell};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use common::{ms, poll_once, run, settle};
use futures_core::Stream;
use tornado_gen::queues::{LifoQueue, PriorityQueue, Queue};
use tornado_gen::{moment, sleep};
use tornado_ioloop::{IoLoop, spawn};

#[test]
fn debug_shows_state() {
    run(async {
        let q: Queue<i32> = Queue::new(1);
        q.put_nowait(1).unwrap();
        let mut put = q.put(2);
        assert!(poll_once(&mut put).await.is_pending());
        let dbg = format!("{q:?}");
        assert!(dbg.starts_with("Queue"), "{dbg}");
        assert!(dbg.contains("putters: 1"), "{dbg}");
        assert!(dbg.contains("tasks: 1"), "{dbg}");
        assert!(format!("{:?}", PriorityQueue::<u8>::new(0)).starts_with("PriorityQueue"));
    });
}

#[test]
fn fifo_order() {
    let q = Queue::new(0);
    for i in [1, 3, 2] {
        q.put_nowait(i).unwrap();
    }
    let items: Vec<_> = (0..3).map(|_| q.get_nowait().unwrap()).collect();
    assert_eq!(items, [1, 3, 2]);
}

#[test]
fn maxsize_blocks_put() {
    run(async {
        let q = Queue::new(2);
        assert!(q.empty());
        assert!(!q.full());
        assert_eq!(q.maxsize(), 2);
        assert!(poll_once(&mut q.put(0)).await.is_ready());
        assert!(poll_once(&mut q.put(1)).await.is_ready());
        assert!(!q.empty());
        assert!(q.full());
        let mut put2 = q.put(2);
        assert!(poll_once(&mut put2).await.is_pending());
        assert_eq!(q.get().await, 0); // makes room: put2's item moves in at once
        assert!(poll_once(&mut put2).await.is_ready());
        assert!(q.full());
        assert_eq!(q.get_nowait().unwrap(), 1);
        assert_eq!(q.get_nowait().unwrap(), 2);
    });
}

#[test]
fn unbounded_queue_is_never_full() {
    let q = Queue::default();
    for i in 0..10_000 {
        q.put_nowait(i).unwrap();
    }
    assert!(!q.full());
    assert_eq!(q.qsize(), 10_000);
}

#[test]
fn blocking_get() {
    run(async {
        let q = Queue::new(0);
        q.put_nowait(0).unwrap();
        assert_eq!(q.get().await, 0);
    });
}

#[test]
fn nonblocking_get_on_empty_queue_is_an_error() {
    let q: Queue<()> = Queue::new(0);
    let err = q.get_nowait().unwrap_err();
    assert!(err.is_queue_empty());
    assert_eq!(err.to_string(), "queue is empty");
}

#[test]
fn get_with_putters_waiting() {
    run(async {
        let q = Queue::new(1);
        q.put_nowait(0).unwrap();
        let mut put = q.put(1);
        assert!(poll_once(&mut put).await.is_pending());
        assert_eq!(q.get().await, 0);
        put.await;
        assert_eq!(q.get_nowait().unwrap(), 1);
    });
}

#[test]
fn blocking_get_waits_for_a_put() {
    run(async {
        let q = Queue::new(0);
        let p = q.clone();
        IoLoop::current().call_later(ms(10), move || p.put_nowait(0).unwrap());
        IoLoop::current().call_later(ms(20), {
            let p = q.clone();
            move || p.put_nowait(1).unwrap()
        });
        assert_eq!(q.get().await, 0);
        assert_eq!(q.get().await, 1);
    });
}

#[test]
fn get_timeout() {
    run(async {
        let q: Queue<i32> = Queue::new(0);
        let start = Instant::now();
        let err = q.get_timeout(ms(20)).await.unwrap_err();
        assert!(err.is_timeout());
        assert!(start.elapsed() >= ms(20));
        // The timed-out getter is gone: a put stays in the queue.
        q.put_nowait(7).unwrap();
        assert_eq!(q.qsize(), 1);
        assert_eq!(q.get().await, 7);
    });
}

#[test]
fn get_zero_timeout() {
    run(async {
        let q = Queue::new(0);
        q.put_nowait(0).unwrap();
        // An item ready now beats a deadline of now.
        assert_eq!(q.get_timeout(Duration::ZERO).await.unwrap(), 0);
        assert!(
            q.get_timeout(Duration::ZERO)
                .await
                .unwrap_err()
                .is_timeout()
        );
    });
}

#[test]
fn get_timeout_preempted() {
    run(async {
        let q = Queue::new(0);
        let p = q.clone();
        IoLoop::current().call_later(ms(10), move || p.put_nowait(0).unwrap());
        assert_eq!(q.get_timeout(Duration::from_secs(5)).await.unwrap(), 0);
    });
}

#[test]
fn get_clears_timed_out_putters() {
    run(async {
        let q = Queue::new(1);
        q.put_nowait(0).unwrap();
        let timed: Vec<_> = (1..=10)
            .map(|i| {
                let q = q.clone();
                spawn(async move { q.put_timeout(i, ms(10)).await })
            })
            .collect();
        settle().await; // the timed putters queue up first
        let mut put = q.put(100);
        assert!(poll_once(&mut put).await.is_pending());
        sleep(ms(40)).await;
        for t in timed {
            assert!(t.await.unwrap().unwrap_err().is_timeout());
        }
        assert_eq!(q.get().await, 0);
        put.await;
        assert_eq!(q.get().await, 100, "a timed-out put got in");
        assert!(q.empty());
        assert_eq!(q.unfinished_tasks(), 2);
    });
}

#[test]
fn get_clears_timed_out_getters() {
    run(async {
        let q = Queue::new(0);
        let timed: Vec<_> = (0..10)
            .map(|_| {
                let q = q.clone();
                spawn(async move { q.get_timeout(ms(10)).await })
            })
            .collect();
        settle().await; // the timed getters queue up first
        let mut get = q.get();
        assert!(poll_once(&mut get).await.is_pending());
        sleep(ms(40)).await;
        for t in timed {
            assert!(t.await.unwrap().unwrap_err().is_timeout());
        }
        q.put_nowait(5).unwrap();
        assert_eq!(get.await, 5);
    });
}

#[test]
fn queue_as_a_stream() {
    // Tornado's test_async_for.
    run(async {
        let q = Queue::new(0);
        for i in 0..5 {
            q.put_nowait(i).unwrap();
        }
        let mut stream = q.stream();
        let mut got = Vec::new();
        while let Some(item) = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await
        {
            got.push(item);
            if item == 4 {
                break;
            }
        }
        assert_eq!(got, [0, 1, 2, 3, 4]);
        // A pending stream dropped mid-wait loses nothing.
        let mut stream = q.stream();
        let pending =
            std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut stream).poll_next(cx))).await;
        assert!(pending.is_pending());
        q.put_nowait(9).unwrap();
        drop(stream);
        assert_eq!(q.get_nowait().unwrap(), 9);
    });
}

#[test]
fn blocking_put() {
    run(async {
        let q = Queue::new(0);
        q.put(0).await;
        assert_eq!(q.get_nowait().unwrap(), 0);
    });
}

#[test]
fn nonblocking_put_on_full_queue_gives_the_item_back() {
    let q = Queue::new(1);
    q.put_nowait(0).unwrap();
    let full = q.put_nowait(1).unwrap_err();
    assert_eq!(full.into_inner(), 1);
    let err: tornado_gen::Error = q.put_nowait(2).unwrap_err().into();
    assert!(err.is_queue_full());
    assert_eq!(q.qsize(), 1);
}

#[test]
fn put_with_getters_waiting() {
    run(async {
        let q = Queue::new(0);
        let mut get0 = q.get();
        let mut get1 = q.get();
        assert!(poll_once(&mut get0).await.is_pending());
        assert!(poll_once(&mut get1).await.is_pending());
        q.put(0).await;
        assert_eq!(get0.await, 0);
        q.put(1).await;
        assert_eq!(get1.await, 1);
    });
}

#[test]
fn nonblocking_put_with_getters_waiting() {
    run(async {
        let q = Queue::new(0);
        let mut get0 = q.get();
        let mut get1 = q.get();
        assert!(poll_once(&mut get0).await.is_pending());
        assert!(poll_once(&mut get1).await.is_pending());
        q.put_nowait(0).unwrap();
        // The item went straight to the getter, not into the queue.
        assert!(q.empty());
        moment().await;
        assert_eq!(get0.await, 0);
        q.put_nowait(1).unwrap();
        assert_eq!(get1.await, 1);
    });
}

#[test]
fn blocking_put_waits_for_room() {
    run(async {
        let q = Queue::new(1);
        q.put_nowait(0).unwrap();
        let g = q.clone();
        IoLoop::current().call_later(ms(10), move || {
            g.get_nowait().unwrap();
        });
        let g = q.clone();
        IoLoop::current().call_later(ms(20), move || {
            g.get_nowait().unwrap();
        });
        q.put(1).await;
        q.put(2).await;
        assert_eq!(q.get_nowait().unwrap(), 2);
    });
}

#[test]
fn put_timeout() {
    run(async {
        let q = Queue::new(1);
        q.put_nowait(0).unwrap();
        let start = Instant::now();
        let err = q.put_timeout(1, ms(20)).await.unwrap_err();
        assert!(err.is_timeout());
        assert!(start.elapsed() >= ms(20));
        // The timed-out item was never put.
        assert_eq!(q.get_nowait().unwrap(), 0);
        assert!(q.get_nowait().unwrap_err().is_queue_empty());
        assert_eq!(q.unfinished_tasks(), 1);
    });
}

#[test]
fn put_timeout_preempted() {
    run(async {
        let q = Queue::new(1);
        q.put_nowait(0).unwrap();
        let g = q.clone();
        IoLoop::current().call_later(ms(10), move || {
            g.get_nowait().unwrap();
        });
        q.put_timeout(1, Duration::from_secs(5)).await.unwrap();
    });
}

#[test]
fn put_clears_timed_out_putters() {
    run(async {
        let q = Queue::new(1);
        q.put_nowait(0).unwrap();
        for i in 1..=10 {
            let q = q.clone();
            spawn(async move {
                let _ = q.put_timeout(i, ms(10)).await;
            });
        }
        sleep(ms(40)).await;
        let mut put = q.put(100);
        assert!(poll_once(&mut put).await.is_pending());
        assert_eq!(q.get().await, 0);
        put.await;
        assert_eq!(q.get_nowait().unwrap(), 100);
    });
}

#[test]
fn put_clears_timed_out_getters() {
    run(async {
        let q = Queue::new(0);
        for _ in 0..10 {
            let q = q.clone();
            spawn(async move {
                let _ = q.get_timeout(ms(10)).await;
            });
        }
        settle().await;
        let mut get = q.get();
        assert!(poll_once(&mut get).await.is_pending());
        sleep(ms(40)).await;
        q.put(0).await;
        assert_eq!(get.await, 0);
        q.put_nowait(1).unwrap();
        assert_eq!(q.qsize(), 1, "an item went to a timed-out getter");
    });
}

fn each_kind(check: impl Fn(Queue<u32>)) {
    check(Queue::new(0));
    check(PriorityQueue::new(0).into());
    check(LifoQueue::new(0).into());
}

#[test]
fn task_done_underflow_is_an_error() {
    each_kind(|q| {
        let err = q.task_done().unwrap_err();
        assert!(err.is_too_many_task_done());
        assert_eq!(err.to_string(), "task_done() called too many times");
        q.put_nowait(1).unwrap();
        q.get_nowait().unwrap();
        q.task_done().unwrap();
        assert!(q.task_done().unwrap_err().is_too_many_task_done());
    });
}

#[test]
fn task_done_with_two_workers_then_join() {
    each_kind(|q| {
        run(async move {
            for i in 0..100 {
                q.put_nowait(i).unwrap();
            }
            let total = Rc::new(Cell::new(0));
            for w in 0..2u64 {
                let (q, total) = (q.clone(), total.clone());
                spawn(async move {
                    loop {
                        let item = q.get().await;
                        total.set(total.get() + item);
                        q.task_done().unwrap();
                        sleep(Duration::from_micros(100 * (w + 1))).await;
                    }
                });
            }
            q.join().await;
            assert_eq!(total.get(), (0..100).sum::<u32>());
        });
    });
}

#[test]
fn join_waits_for_task_done_not_get() {
    // Tornado's test_task_done_delay.
    each_kind(|q| {
        run(async move {
            q.put_nowait(0).unwrap();
            let join = {
                let q = q.clone();
                spawn(async move { q.join().await })
            };
            settle().await;
            assert!(!join.is_finished());
            q.get().await;
            settle().await;
            assert!(!join.is_finished());
            q.task_done().unwrap();
            settle().await;
            assert!(join.is_finished());
        });
    });
}

#[test]
fn join_on_an_empty_queue_returns_at_once() {
    each_kind(|q| {
        run(async move {
            q.join().await;
            q.join().await;
        });
    });
}

#[test]
fn join_timeout() {
    each_kind(|q| {
        run(async move {
            q.put_nowait(0).unwrap();
            let start = Instant::now();
            assert!(q.join_timeout(ms(10)).await.unwrap_err().is_timeout());
            assert!(start.elapsed() >= ms(10));
        });
    });
}

#[test]
fn priority_order() {
    run(async {
        let q = PriorityQueue::new(2);
        q.put_nowait((1, "a")).unwrap();
        q.put_nowait((0, "b")).unwrap();
        assert!(q.full());
        let mut put_c = q.put((3, "c"));
        let mut put_d = q.put((2, "d"));
        assert!(poll_once(&mut put_c).await.is_pending());
        assert!(poll_once(&mut put_d).await.is_pending());
        assert_eq!(q.get_nowait().unwrap(), (0, "b"));
        assert_eq!(q.get().await, (1, "a"));
        assert_eq!(q.get_nowait().unwrap(), (2, "d"));
        assert_eq!(q.get().await, (3, "c"));
        assert!(q.empty());
        put_c.await;
        put_d.await;
    });
}

#[test]
fn priority_ties_come_out_fifo() {
    #[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
    struct ByPriority(u8);
    let q = PriorityQueue::new(0);
    for (p, tag) in [(1, 'x'), (0, 'y'), (1, 'z'), (0, 'w')] {
        q.put_nowait((ByPriority(p), Tie(tag))).unwrap();
    }
    let tags: String = (0..4).map(|_| q.get_nowait().unwrap().1.0).collect();
    assert_eq!(tags, "ywxz");

    /// Compares equal to every other `Tie`, so only the priority orders items.
    #[derive(Debug)]
    struct Tie(char);
    impl PartialEq for Tie {
        fn eq(&self, _: &Self) -> bool {
            true
        }
    }
    impl Eq for Tie {}
    impl PartialOrd for Tie {
        fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(other))
        }
    }
    impl Ord for Tie {
        fn cmp(&self, _: &Self) -> std::cmp::Ordering {
            std::cmp::Ordering::Equal
        }
    }
}

#[test]
fn lifo_order() {
    run(async {
        let q = LifoQueue::new(2);
        q.put_nowait(1).unwrap();
        q.put_nowait(0).unwrap();
        assert!(q.full());
        let mut put3 = q.put(3);
        let mut put2 = q.put(2);
        assert!(poll_once(&mut put3).await.is_pending());
        assert!(poll_once(&mut put2).await.is_pending());
        assert_eq!(q.get_nowait().unwrap(), 3);
        assert_eq!(q.get().await, 2);
        assert_eq!(q.get_nowait().unwrap(), 0);
        assert_eq!(q.get().await, 1);
        assert!(q.empty());
        put3.await;
        put2.await;
    });
}

#[test]
fn producer_consumer() {
    run(async {
        let q = Queue::new(3);
        let history = Rc::new(RefCell::new(Vec::new()));
        {
            let (q, history) = (q.clone(), history.clone());
            spawn(async move {
                loop {
                    let item = q.get().await;
                    history.borrow_mut().push(item);
                    q.task_done().unwrap();
                }
            });
        }
        for item in 0..10 {
            q.put(item).await;
        }
        q.join().await;
        assert_eq!(*history.borrow(), (0..10).collect::<Vec<_>>());
    });
}

// ---- cancellation ----

#[test]
fn item_handed_to_a_dropped_getter_goes_to_the_next_getter() {
    run(async {
        let q = Queue::new(0);
        let mut first = q.get();
        assert!(poll_once(&mut first).await.is_pending());
        let second = {
            let q = q.clone();
            spawn(async move { q.get().await })
        };
        settle().await;
        q.put_nowait("item").unwrap(); // handed to `first`...
        drop(first); // ...which never takes it
        assert_eq!(second.await.unwrap(), "item");
        assert!(q.empty());
    });
}

#[test]
fn item_handed_to_a_dropped_getter_returns_to_the_head_of_the_queue() {
    run(async {
        let q = Queue::new(0);
        let mut getter = q.get();
        assert!(poll_once(&mut getter).await.is_pending());
        q.put_nowait(1).unwrap(); // handed to the getter
        q.put_nowait(2).unwrap(); // queued
        drop(getter);
        assert_eq!(q.qsize(), 2);
        assert_eq!(q.get_nowait().unwrap(), 1, "the older item comes first");
        assert_eq!(q.get_nowait().unwrap(), 2);
        assert_eq!(q.unfinished_tasks(), 2);
    });
}

#[test]
fn redelivered_items_keep_their_order_in_lifo_and_priority_queues() {
    run(async {
        let lifo = LifoQueue::new(0);
        let mut g = lifo.get();
        assert!(poll_once(&mut g).await.is_pending());
        lifo.put_nowait(1).unwrap();
        lifo.put_nowait(2).unwrap();
        lifo.put_nowait(3).unwrap();
        drop(g);
        let order: Vec<_> = (0..3).map(|_| lifo.get_nowait().unwrap()).collect();
        assert_eq!(order, [3, 2, 1]);

        let prio = PriorityQueue::new(0);
        let mut g = prio.get();
        assert!(poll_once(&mut g).await.is_pending());
        prio.put_nowait(5).unwrap();
        prio.put_nowait(1).unwrap();
        drop(g);
        let order: Vec<_> = (0..2).map(|_| prio.get_nowait().unwrap()).collect();
        assert_eq!(order, [1, 5]);
    });
}

/// Items handed to several getters that are then dropped (in any order) go back in the
/// order they were handed out: first-in first-out for a `Queue`, newest first for a
/// `LifoQueue`, and by hand-off among equal priorities.
#[test]
fn items_of_several_dropped_getters_keep_their_order() {
    run(async {
        for drop_in_reverse in [false, true] {
            let q = Queue::new(0);
            let lifo = LifoQueue::new(0);
            let prio = PriorityQueue::new(0);
            let mut qg = vec![q.get(), q.get()];
            let mut lg = vec![lifo.get(), lifo.get()];
            let mut pg = vec![prio.get(), prio.get()];
            for g in qg.iter_mut() {
                assert!(poll_once(g).await.is_pending());
            }
            for g in lg.iter_mut() {
                assert!(poll_once(g).await.is_pending());
            }
            for g in pg.iter_mut() {
                assert!(poll_once(g).await.is_pending());
            }
            for (i, item) in [(1, "a"), (2, "b")] {
                q.put_nowait(i).unwrap(); // handed to getter i
                lifo.put_nowait(i).unwrap();
                prio.put_nowait((0, item)).unwrap();
            }
            q.put_nowait(3).unwrap(); // queued
            lifo.put_nowait(3).unwrap();
            prio.put_nowait((0, "c")).unwrap();
            if drop_in_reverse {
                qg.reverse();
                lg.reverse();
                pg.reverse();
            }
            drop(qg);
            drop(lg);
            drop(pg);
            let got: Vec<_> = (0..3).map(|_| q.get_nowait().unwrap()).collect();
            assert_eq!(got, [1, 2, 3], "Queue, reverse drop: {drop_in_reverse}");
            let got: Vec<_> = (0..3).map(|_| lifo.get_nowait().unwrap()).collect();
            assert_eq!(got, [3, 2, 1], "LifoQueue, reverse drop: {drop_in_reverse}");
            let got: Vec<_> = (0..3).map(|_| prio.get_nowait().unwrap().1).collect();
            assert_eq!(
                got,
                ["a", "b", "c"],
                "PriorityQueue, reverse drop: {drop_in_reverse}"
            );
        }
    });
}

/// An item given back by a dropped getter is never lost, even when the queue filled up
/// while it was on its way: the queue holds more than `maxsize` until it is got, and
/// `put` waits meanwhile.
#[test]
fn an_item_given_back_to_a_full_queue_is_kept() {
    run(async {
        let q = Queue::new(1);
        let mut g = q.get();
        assert!(poll_once(&mut g).await.is_pending());
        q.put_nowait(1).unwrap(); // handed to g
        q.put_nowait(2).unwrap(); // the queue was empty: room for one
        drop(g);
        assert_eq!((q.qsize(), q.full()), (2, true));
        assert!(q.put_nowait(3).is_err());
        let mut put = q.put(3);
        assert!(poll_once(&mut put).await.is_pending());
        assert_eq!(q.get_nowait().unwrap(), 1);
        assert!(poll_once(&mut put).await.is_pending(), "still full");
        assert_eq!(q.get_nowait().unwrap(), 2);
        put.await;
        assert_eq!(q.get_nowait().unwrap(), 3);
    });
}

#[test]
fn get_timeout_racing_a_put_loses_nothing() {
    run(async {
        let q = Queue::new(0);
        let mut timed = q.get_timeout(ms(5));
        assert!(poll_once(&mut timed).await.is_pending());
        sleep(ms(20)).await; // the timer has fired; the future is not polled yet
        q.put_nowait(42).unwrap(); // handed to the timed-out getter
        // Polling now gives the item rather than the timeout.
        assert_eq!(timed.await.unwrap(), 42);
        // And if instead it is dropped unpolled, the item stays in the queue.
        let mut timed = q.get_timeout(ms(5));
        assert!(poll_once(&mut timed).await.is_pending());
        sleep(ms(20)).await;
        q.put_nowait(43).unwrap();
        drop(timed);
        assert_eq!(q.get_nowait().unwrap(), 43);
    });
}

#[test]
fn dropped_putter_withdraws_its_item() {
    run(async {
        let q = Queue::new(1);
        q.put_nowait(0).unwrap();
        let mut put = q.put(1);
        assert!(poll_once(&mut put).await.is_pending());
        drop(put);
        assert_eq!(q.get_nowait().unwrap(), 0);
        assert!(q.get_nowait().unwrap_err().is_queue_empty());
        assert_eq!(q.unfinished_tasks(), 1);
    });
}

#[test]
fn putter_whose_item_moved_in_completes_even_if_dropped() {
    run(async {
        let q = Queue::new(1);
        q.put_nowait(0).unwrap();
        let mut put = q.put(1);
        assert!(poll_once(&mut put).await.is_pending());
        assert_eq!(q.get_nowait().unwrap(), 0); // moves 1 in
        drop(put);
        assert_eq!(q.get_nowait().unwrap(), 1);
    });
}
