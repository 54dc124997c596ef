//! `sleep`, `moment`, `with_timeout`, `multi` and `WaitIterator`, after Tornado's
//! `gen_test.py`.

mod common;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use common::{ms, poll_next_once, poll_once, run};
use futures_core::Stream;
use tornado_gen::queues::Queue;
use tornado_gen::{
    WaitIterator, moment, multi, multi_map, shared, sleep, sleep_until, try_multi, try_multi_all,
    with_timeout,
};
use tornado_ioloop::{IoLoop, spawn};

#[test]
fn sleep_waits_at_least_its_duration() {
    run(async {
        let start = Instant::now();
        sleep(ms(30)).await;
        assert!(start.elapsed() >= ms(30));
    });
}

#[test]
fn sleep_until_a_past_instant_completes() {
    run(async {
        sleep_until(Instant::now() - ms(5)).await;
        sleep(Duration::ZERO).await;
    });
}

#[test]
fn sleep_of_an_absurd_duration_never_completes_and_never_panics() {
    run(async {
        let err = with_timeout(ms(10), sleep(Duration::MAX))
            .await
            .unwrap_err();
        assert!(err.is_timeout());
    });
}

#[test]
fn dropped_sleep_cancels_its_timer() {
    run(async {
        let mut s = sleep(Duration::from_secs(3600));
        assert!(poll_once(&mut s).await.is_pending());
        drop(s);
        let io_loop = IoLoop::current();
        // The loop's Debug shows its pending timeouts; only the run_sync guard remains.
        let dbg = format!("{io_loop:?}");
        assert!(dbg.contains("timeouts: 1"), "{dbg}");
    });
}

#[test]
fn moment_interleaves_two_tasks() {
    // Tornado's test_moment: two coroutines that yield gen.moment alternate.
    run(async {
        let calls = Rc::new(RefCell::new(Vec::new()));
        let tasks: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|name| {
                let calls = calls.clone();
                spawn(async move {
                    for i in 0..3 {
                        calls.borrow_mut().push(format!("{name}{i}"));
                        moment().await;
                    }
                })
            })
            .collect();
        for t in multi(tasks).await {
            t.unwrap();
        }
        assert_eq!(*calls.borrow(), ["a0", "b0", "a1", "b1", "a2", "b2"]);
    });
}

#[test]
fn with_timeout_fails_with_a_clear_error() {
    run(async {
        let start = Instant::now();
        let err = with_timeout(ms(50), std::future::pending::<()>())
            .await
            .unwrap_err();
        assert!(start.elapsed() >= ms(50), "timed out early");
        assert!(err.is_timeout());
        assert!(!err.is_queue_empty());
        assert_eq!(err.timeout_duration(), Some(ms(50)));
        assert_eq!(err.to_string(), "operation timed out after 50ms");
    });
}

#[test]
fn with_timeout_gives_the_value_when_the_future_wins() {
    run(async {
        let v = with_timeout(Duration::from_secs(5), async {
            sleep(ms(5)).await;
            7
        })
        .await;
        assert_eq!(v, Ok(7));
    });
}

#[test]
fn with_timeout_accepts_an_instant() {
    run(async {
        let deadline = Instant::now() + ms(20);
        let err = with_timeout(deadline, sleep(Duration::from_secs(5)))
            .await
            .unwrap_err();
        assert!(Instant::now() >= deadline);
        assert!(err.is_timeout());
        // A deadline already passed still lets a ready future through.
        let v = with_timeout(Instant::now() - ms(1), async { 3 }).await;
        assert_eq!(v, Ok(3));
    });
}

#[test]
fn with_timeout_drops_the_inner_future_on_timeout() {
    struct Flag(Rc<Cell<bool>>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    run(async {
        let dropped = Rc::new(Cell::new(false));
        let flag = Flag(dropped.clone());
        let mut fut = with_timeout(ms(10), async move {
            let _flag = flag;
            std::future::pending::<()>().await
        });
        assert!(poll_once(&mut fut).await.is_pending());
        sleep(ms(20)).await;
        let r = poll_once(&mut fut).await;
        assert!(matches!(r, Poll::Ready(Err(ref e)) if e.is_timeout()));
        assert!(dropped.get(), "inner future kept alive after the timeout");
    });
}

#[test]
fn multi_keeps_input_order() {
    run(async {
        let out = multi([30u64, 10, 20].map(|d| async move {
            sleep(ms(d)).await;
            d
        }))
        .await;
        assert_eq!(out, [30, 10, 20]);
    });
}

#[test]
fn multi_of_nothing_is_empty() {
    run(async {
        let out: Vec<()> = multi(Vec::<std::future::Ready<()>>::new()).await;
        assert!(out.is_empty());
        let map: HashMap<u8, ()> = multi_map(Vec::<(u8, std::future::Ready<()>)>::new()).await;
        assert!(map.is_empty());
    });
}

#[test]
fn multi_map_keys_results() {
    run(async {
        let jobs = [("slow", 20u64), ("fast", 1)].into_iter().map(|(k, d)| {
            (k, async move {
                sleep(ms(d)).await;
                d * 2
            })
        });
        let out: HashMap<&str, u64> = multi_map(jobs).await;
        assert_eq!(out.len(), 2);
        assert_eq!(out["slow"], 40);
        assert_eq!(out["fast"], 2);
        let sorted: BTreeMap<i32, i32> = multi_map((0..5).map(|i| (i, async move { i * i }))).await;
        assert_eq!(
            sorted.values().copied().collect::<Vec<_>>(),
            [0, 1, 4, 9, 16]
        );
    });
}

#[test]
fn multi_runs_concurrently() {
    run(async {
        let start = Instant::now();
        multi((0..20).map(|_| sleep(ms(200)))).await;
        assert!(start.elapsed() >= ms(200));
        // One after another would take 4 s; a slow machine gets plenty of slack.
        assert!(start.elapsed() < Duration::from_secs(3));
    });
}

#[test]
fn multi_handles_many_futures() {
    // Tornado's test_multi_performance.
    run(async {
        let out = multi((0..2000).map(|i| async move {
            moment().await;
            i
        }))
        .await;
        assert_eq!(out.len(), 2000);
        assert_eq!(out[1999], 1999);
    });
}

#[test]
fn try_multi_gives_the_first_error() {
    run(async {
        let qs: Vec<Queue<Result<u32, String>>> = (0..3).map(|_| Queue::new(0)).collect();
        let gets: Vec<_> = qs.iter().map(|q| q.get()).collect();
        let joined = spawn(try_multi(gets));
        qs[0].put_nowait(Ok(0)).unwrap();
        moment().await;
        qs[2].put_nowait(Err("third".into())).unwrap();
        moment().await;
        qs[1].put_nowait(Err("second".into())).unwrap();
        assert_eq!(joined.await.unwrap(), Err("third".to_string()));
        // It stopped waiting at the first error: the later one is still queued.
        assert_eq!(qs[1].qsize(), 1);

        let ok = try_multi((0..3).map(|i| async move { Ok::<_, ()>(i) })).await;
        assert_eq!(ok, Ok(vec![0, 1, 2]));
    });
}

#[test]
fn try_multi_all_collects_every_error() {
    run(async {
        let out = try_multi_all([(1u64, true), (30, false), (5, true)].map(
            |(d, fail)| async move {
                sleep(ms(d)).await;
                if fail { Err(format!("e{d}")) } else { Ok(d) }
            },
        ))
        .await;
        assert_eq!(out, Err(vec![(0, "e1".to_string()), (2, "e5".to_string())]));
        let ok = try_multi_all((0..3).map(|i| async move { Ok::<_, ()>(i) })).await;
        assert_eq!(ok, Ok(vec![0, 1, 2]));
    });
}

#[test]
fn wait_iterator_gives_completion_order_with_indices() {
    // Tornado's test_iterator, with the test deciding when each future completes.
    run(async {
        let slots: Vec<Queue<Result<i32, String>>> = (0..4).map(|_| Queue::new(0)).collect();
        let mut it = WaitIterator::new(slots.iter().map(|q| q.get()));
        assert!(!it.done());
        assert!(poll_once(&mut it.next()).await.is_pending());
        slots[2].put_nowait(Ok(24)).unwrap();
        assert_eq!(it.next().await, Some((2, Ok(24))));
        let s = slots.clone();
        IoLoop::current().call_later(ms(5), move || s[0].put_nowait(Err("boom".into())).unwrap());
        assert_eq!(it.next().await, Some((0, Err("boom".to_string()))));
        slots[3].put_nowait(Ok(84)).unwrap();
        assert_eq!(it.next().await, Some((3, Ok(84))));
        assert_eq!(it.len(), 1);
        slots[1].put_nowait(Ok(42)).unwrap();
        assert_eq!(it.next().await, Some((1, Ok(42))));
        assert!(it.done());
        assert_eq!(it.next().await, None);
    });
}

#[test]
fn wait_iterator_over_a_map_gives_keys() {
    run(async {
        let (q1, q2) = (Queue::new(0), Queue::new(0));
        let mut it = WaitIterator::from_map([("f1", q1.get()), ("f2", q2.get())]);
        assert_eq!(it.len(), 2);
        assert!(poll_once(&mut it.next()).await.is_pending());
        q2.put_nowait(42).unwrap();
        assert_eq!(it.next().await, Some(("f2", 42)));
        q1.put_nowait(24).unwrap();
        assert_eq!(it.next().await, Some(("f1", 24)));
        assert_eq!(it.next().await, None);
    });
}

#[test]
fn wait_iterator_with_timers() {
    run(async {
        // A ready future comes before one that needs a timer, whatever the machine's speed.
        let mut it = WaitIterator::new([20u64, 0].map(|d| async move {
            if d > 0 {
                sleep(ms(d)).await;
            }
            d
        }));
        assert_eq!(it.next().await, Some((1, 0)));
        assert_eq!(it.next().await, Some((0, 20)));
        assert_eq!(it.next().await, None);
    });
}

#[test]
fn wait_iterator_gives_simultaneous_results_one_by_one() {
    run(async {
        let q = Queue::new(0);
        let mut it = WaitIterator::new((0..3).map(|_| q.get()));
        assert!(poll_once(&mut it.next()).await.is_pending());
        // All three complete "at once", before the iterator is polled again.
        for v in [10, 11, 12] {
            q.put_nowait(v).unwrap();
        }
        let mut got = Vec::new();
        while let Some(r) = it.next().await {
            got.push(r);
        }
        assert_eq!(got, [(0, 10), (1, 11), (2, 12)]);
    });
}

#[test]
fn wait_iterator_gives_results_of_one_iteration_in_completion_order() {
    // Two timers come due in the same loop iteration and fire in deadline order: the
    // second future completes first, so it is given first (it used to be given in
    // input order, after the first).
    run(async {
        let base = Instant::now();
        let mut it = WaitIterator::new([30u64, 10].map(|d| {
            let at = base + ms(d);
            async move {
                sleep_until(at).await;
                d
            }
        }));
        // The first poll sets both timers.
        assert!(poll_once(&mut it.next()).await.is_pending());
        // Block the loop past both deadlines: the loop's clock was read before this task
        // ran, so neither timer fires until the next iteration, where both do.
        std::thread::sleep((base + ms(40)).saturating_duration_since(Instant::now()));
        let mut order = Vec::new();
        while let Some(r) = it.next().await {
            order.push(r);
        }
        assert_eq!(order, [(1, 10), (0, 30)]);
    });
}

#[test]
fn wait_iterator_takes_the_same_shared_future_twice() {
    // Tornado's test_duplicate_futures.
    run(async {
        let answer = shared(async { 42 });
        let mut it = WaitIterator::new([answer.clone(), answer.clone(), answer.clone()]);
        let mut got = Vec::new();
        while let Some((i, r)) = it.next().await {
            got.push((i, r.unwrap()));
        }
        assert_eq!(got, [(0, 42), (1, 42), (2, 42)]);

        let mut keyed = WaitIterator::from_map([("first", answer.clone()), ("second", answer)]);
        let mut keys = Vec::new();
        while let Some((k, r)) = keyed.next().await {
            assert_eq!(r, Ok(42));
            keys.push(k);
        }
        assert_eq!(keys, ["first", "second"]);
    });
}

#[test]
fn wait_iterator_is_a_stream() {
    run(async {
        let qs: Vec<Queue<u32>> = (0..3).map(|_| Queue::new(0)).collect();
        let mut it = WaitIterator::new(qs.iter().map(|q| q.get()));
        assert_eq!(Stream::size_hint(&it), (3, Some(3)));
        assert!(poll_next_once(&mut it).await.is_pending());
        qs[1].put_nowait(1).unwrap();
        qs[2].put_nowait(2).unwrap();
        assert_eq!(poll_next_once(&mut it).await, Poll::Ready(Some((1, 1))));
        assert_eq!(poll_next_once(&mut it).await, Poll::Ready(Some((2, 2))));
        assert!(poll_next_once(&mut it).await.is_pending());
        qs[0].put_nowait(0).unwrap();
        assert_eq!(poll_next_once(&mut it).await, Poll::Ready(Some((0, 0))));
        assert_eq!(poll_next_once(&mut it).await, Poll::Ready(None));
    });
}

#[test]
fn empty_wait_iterator_is_done() {
    run(async {
        let mut it = WaitIterator::new(Vec::<std::future::Ready<u8>>::new());
        assert!(it.done());
        assert!(it.is_empty());
        assert_eq!(it.next().await, None);
    });
}

#[test]
fn shared_reports_a_panicking_future() {
    run(async {
        let s = shared(async {
            if Instant::now().elapsed() < Duration::from_secs(3600) {
                panic!("deliberate");
            }
            1
        });
        let err = s.clone().await.unwrap_err();
        assert!(err.is_panic());
        assert!(s.is_done());
    });
}

#[test]
fn shared_whose_loop_is_closed_reports_cancelled() {
    // As documented: a `Shared` whose loop is closed (dropping its task) resolves to
    // `Cancelled`; it used to wait forever, as the task that passes the outcome on was
    // dropped with the loop before it could.
    let first = IoLoop::new().unwrap();
    first.make_current();
    let pending = shared(std::future::pending::<u8>());
    let finished = shared(async { 7 });
    first.run_sync(moment());
    first.close();
    run(async move {
        let err = pending.clone().await.unwrap_err();
        assert!(err.is_cancelled(), "{err}");
        assert!(pending.is_done());
        assert_eq!(finished.await.unwrap(), 7);
    });
}

#[test]
fn timeouts_of_duration_max_mean_never_and_never_panic() {
    use tornado_gen::locks::{Event, Lock, Semaphore};
    run(async {
        assert_eq!(with_timeout(Duration::MAX, async { 7 }).await.unwrap(), 7);
        let lock = Lock::new();
        let guard = lock.acquire_timeout(Duration::MAX).await.unwrap();
        drop(guard);
        let sem = Semaphore::new(1);
        let permit = sem.acquire_timeout(Duration::MAX).await.unwrap();
        drop(permit);
        let event = Event::new();
        event.set();
        event.wait_timeout(Duration::MAX).await.unwrap();
        let queue = Queue::new(1);
        queue.put_timeout(1, Duration::MAX).await.unwrap();
        assert_eq!(queue.get_timeout(Duration::MAX).await.unwrap(), 1);
        queue.task_done().unwrap();
        queue.join_timeout(Duration::MAX).await.unwrap();
        // A waiter with a "never" deadline still waits, and still ends when its
        // event comes.
        let late = Event::new();
        let setter = late.clone();
        let _task = spawn(async move {
            sleep(ms(5)).await;
            setter.set();
        });
        late.wait_timeout(Duration::MAX).await.unwrap();
    });
}
