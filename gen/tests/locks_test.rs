//! `Condition`, `Event`, `Semaphore`, `BoundedSemaphore` and `Lock`, after Tornado's
//! `locks_test.py`, plus the cancellation cases.

mod common;

use std::cell::RefCell;
use std::fmt::Debug;
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::{ms, poll_once, run, settle};
use tornado_gen::locks::{BoundedSemaphore, Condition, Event, Lock, Semaphore};
use tornado_gen::{multi, sleep};
use tornado_ioloop::{IoLoop, JoinHandle, spawn};

type History<T> = Rc<RefCell<Vec<T>>>;

fn history<T>() -> History<T> {
    Rc::new(RefCell::new(Vec::new()))
}

/// Spawns `fut` and records `label` in `history` when it completes.
fn record_done<F, T>(history: &History<T>, fut: F, label: T) -> JoinHandle<()>
where
    F: Future + 'static,
    T: 'static,
{
    let h = history.clone();
    spawn(async move {
        fut.await;
        h.borrow_mut().push(label);
    })
}

fn snapshot<T: Clone + Debug>(h: &History<T>) -> Vec<T> {
    h.borrow().clone()
}

// ---- Condition ----

#[test]
fn condition_notify_wakes_a_waiter() {
    run(async {
        let c = Condition::new();
        let n = c.clone();
        IoLoop::current().call_later(ms(10), move || {
            n.notify(1);
        });
        c.wait().await;
    });
}

#[test]
fn condition_notify_1_wakes_in_fifo_order() {
    run(async {
        let c = Condition::new();
        let h = history();
        record_done(&h, c.wait(), "wait1");
        record_done(&h, c.wait(), "wait2");
        settle().await;
        assert_eq!(c.waiters(), 2);
        assert_eq!(c.notify(1), 1);
        settle().await;
        h.borrow_mut().push("notify1");
        c.notify(1);
        settle().await;
        h.borrow_mut().push("notify2");
        assert_eq!(snapshot(&h), ["wait1", "notify1", "wait2", "notify2"]);
    });
}

#[test]
fn condition_notify_n_wakes_exactly_n() {
    run(async {
        let c = Condition::new();
        let h = history();
        for i in 0..6 {
            record_done(&h, c.wait(), i);
        }
        settle().await;
        assert_eq!(c.notify(3), 3);
        settle().await;
        assert_eq!(snapshot(&h), [0, 1, 2]);
        c.notify(1);
        settle().await;
        assert_eq!(snapshot(&h), [0, 1, 2, 3]);
        c.notify(2);
        settle().await;
        assert_eq!(snapshot(&h), [0, 1, 2, 3, 4, 5]);
        assert_eq!(c.notify(5), 0, "nobody left to wake");
    });
}

#[test]
fn condition_notify_all_wakes_everyone() {
    run(async {
        let c = Condition::new();
        let h = history();
        for i in 0..4 {
            record_done(&h, c.wait(), i.to_string());
        }
        settle().await;
        assert_eq!(c.notify_all(), 4);
        settle().await;
        h.borrow_mut().push("notify_all".to_string());
        assert_eq!(snapshot(&h), ["0", "1", "2", "3", "notify_all"]);
    });
}

#[test]
fn condition_wait_timeout() {
    run(async {
        let c = Condition::new();
        let start = Instant::now();
        let err = c.wait_timeout(ms(20)).await.unwrap_err();
        assert!(err.is_timeout());
        assert!(start.elapsed() >= ms(20));
        // A notify after the timeout finds nobody.
        assert_eq!(c.notify(1), 0);
    });
}

#[test]
fn condition_wait_timeout_preempted() {
    run(async {
        let c = Condition::new();
        let n = c.clone();
        IoLoop::current().call_later(ms(10), move || {
            n.notify(1);
        });
        c.wait_timeout(Duration::from_secs(5)).await.unwrap();
    });
}

#[test]
fn condition_timed_out_waiter_does_not_count_against_n() {
    run(async {
        let c = Condition::new();
        let h = history();
        record_done(&h, c.wait(), "0");
        let timed = c.wait_timeout(ms(10));
        let h1 = h.clone();
        spawn(async move {
            let r = timed.await;
            h1.borrow_mut()
                .push(if r.is_err() { "timeout" } else { "1" });
        });
        record_done(&h, c.wait(), "2");
        record_done(&h, c.wait(), "3");
        sleep(ms(40)).await;
        assert_eq!(snapshot(&h), ["timeout"]);
        assert_eq!(c.notify(2), 2);
        settle().await;
        assert_eq!(snapshot(&h), ["timeout", "0", "2"]);
        c.notify(1);
        settle().await;
        assert_eq!(snapshot(&h), ["timeout", "0", "2", "3"]);
    });
}

#[test]
fn condition_notify_all_skips_timed_out_waiters() {
    run(async {
        let c = Condition::new();
        let h = history();
        record_done(&h, c.wait(), "0");
        let timed = c.wait_timeout(ms(10));
        let h1 = h.clone();
        spawn(async move {
            if timed.await.is_err() {
                h1.borrow_mut().push("timeout");
            }
        });
        record_done(&h, c.wait(), "2");
        sleep(ms(40)).await;
        assert_eq!(snapshot(&h), ["timeout"]);
        assert_eq!(c.notify_all(), 2);
        settle().await;
        assert_eq!(snapshot(&h), ["timeout", "0", "2"]);
    });
}

#[test]
fn condition_nested_notify_loses_nothing() {
    run(async {
        let c = Condition::new();
        let waiters: Vec<_> = (0..3)
            .map(|i| {
                let c = c.clone();
                spawn(async move {
                    c.wait().await;
                    if i == 1 {
                        c.notify(1);
                    }
                })
            })
            .collect();
        settle().await;
        c.notify(2);
        for w in multi(waiters).await {
            w.unwrap();
        }
    });
}

#[test]
fn condition_sweeps_timed_out_waiters() {
    // Tornado's test_garbage_collection.
    run(async {
        let c = Condition::new();
        for _ in 0..101 {
            let w = c.wait_timeout(ms(10));
            spawn(async move {
                let _ = w.await;
            });
        }
        let last = {
            let c = c.clone();
            spawn(async move { c.wait().await })
        };
        settle().await;
        assert_eq!(c.waiters(), 102);
        sleep(ms(40)).await;
        assert_eq!(c.waiters(), 1);
        assert!(!last.is_finished());
        c.notify(1);
        last.await.unwrap();
    });
}

#[test]
fn condition_notification_of_a_dropped_waiter_goes_to_the_next() {
    run(async {
        let c = Condition::new();
        let mut first = c.wait();
        assert!(poll_once(&mut first).await.is_pending());
        let h = history();
        record_done(&h, c.wait(), "second");
        settle().await;
        c.notify(1); // goes to `first`...
        drop(first); // ...which never sees it
        settle().await;
        assert_eq!(snapshot(&h), ["second"]);
    });
}

/// A notification is for the waiters there when it is made: one passed on by a dropped
/// waiter does not wake a waiter that came later (after `notify_all`, or when no other
/// waiter was there), as in Tornado, where such a waiter sleeps on.
#[test]
fn condition_notification_passed_on_skips_later_waiters() {
    run(async {
        let c = Condition::new();
        let mut a = c.wait();
        let mut b = c.wait();
        assert!(poll_once(&mut a).await.is_pending());
        assert!(poll_once(&mut b).await.is_pending());
        assert_eq!(c.notify_all(), 2);
        let h = history();
        record_done(&h, c.wait(), "late");
        settle().await;
        drop(a); // notified, never saw it: nobody from before is left to take it
        assert!(poll_once(&mut b).await.is_ready());
        settle().await;
        assert_eq!(snapshot(&h), Vec::<String>::new());

        // notify(1) with one waiter, which is dropped: the late one sleeps on...
        let mut first = c.wait();
        assert!(poll_once(&mut first).await.is_pending());
        // `late` (still waiting) came before `first`: it may take the notification.
        assert_eq!(c.notify(1), 1);
        drop(first);
        settle().await;
        assert_eq!(snapshot(&h), ["late"]);
        let mut only = c.wait();
        assert!(poll_once(&mut only).await.is_pending());
        c.notify(1);
        record_done(&h, c.wait(), "after");
        settle().await;
        drop(only);
        settle().await;
        assert_eq!(
            snapshot(&h),
            ["late"],
            "a waiter after the notify sleeps on"
        );
        c.notify(1);
        settle().await;
        assert_eq!(snapshot(&h), ["late", "after"]);
    });
}

#[test]
fn condition_dropped_waiter_is_not_notified() {
    run(async {
        let c = Condition::new();
        let mut first = c.wait();
        assert!(poll_once(&mut first).await.is_pending());
        drop(first);
        let h = history();
        record_done(&h, c.wait(), "second");
        settle().await;
        assert_eq!(c.waiters(), 1);
        assert_eq!(c.notify(1), 1);
        settle().await;
        assert_eq!(snapshot(&h), ["second"]);
    });
}

// ---- Event ----

#[test]
fn event_wait_until_set() {
    run(async {
        let e = Event::new();
        assert!(!e.is_set());
        assert!(format!("{e:?}").contains("set: false"));
        let h = history();
        record_done(&h, e.wait(), 1);
        record_done(&h, e.wait(), 2);
        settle().await;
        assert!(snapshot(&h).is_empty());
        e.set();
        settle().await;
        assert_eq!(snapshot(&h), [1, 2]);
        assert!(e.is_set());
        e.wait().await; // already set: at once
    });
}

#[test]
fn event_wait_timeout() {
    run(async {
        let e = Event::new();
        let start = Instant::now();
        let err = e.wait_timeout(ms(20)).await.unwrap_err();
        assert!(err.is_timeout());
        assert!(start.elapsed() >= ms(20));
        e.set();
        e.wait_timeout(ms(20)).await.unwrap();
    });
}

#[test]
fn event_set_twice_is_harmless() {
    run(async {
        let e = Event::new();
        e.set();
        e.set();
        assert!(e.is_set());
        e.wait().await;
    });
}

#[test]
fn event_set_then_clear_still_releases_waiters() {
    // Tornado's test_event_wait_clear.
    run(async {
        let e = Event::new();
        let h = history();
        record_done(&h, e.wait(), "before");
        settle().await;
        e.set();
        e.clear();
        let late = e.wait();
        settle().await;
        assert_eq!(snapshot(&h), ["before"]);
        let mut late = late;
        assert!(poll_once(&mut late).await.is_pending());
        e.set();
        late.await;
    });
}

#[test]
fn event_dropped_wait_leaves_the_others() {
    run(async {
        let e = Event::new();
        let mut dropped = e.wait();
        assert!(poll_once(&mut dropped).await.is_pending());
        let h = history();
        record_done(&h, e.wait(), "kept");
        settle().await;
        drop(dropped);
        e.set();
        settle().await;
        assert_eq!(snapshot(&h), ["kept"]);
    });
}

// ---- Semaphore ----

#[test]
fn semaphore_acquire_in_fifo_order() {
    // Tornado's test_acquire.
    run(async {
        let sem = Semaphore::new(1);
        let first = sem.acquire().await;
        assert_eq!(sem.value(), 0);
        let h = history();
        for i in 0..3 {
            let sem = sem.clone();
            let h = h.clone();
            spawn(async move {
                let _g = sem.acquire().await;
                h.borrow_mut().push(i);
            });
        }
        settle().await;
        assert_eq!(sem.waiters(), 3);
        assert!(snapshot(&h).is_empty());
        drop(first);
        settle().await;
        assert_eq!(snapshot(&h), [0, 1, 2]);
        assert_eq!(sem.value(), 1);
    });
}

#[test]
fn semaphore_no_barging_past_waiters() {
    run(async {
        let sem = Semaphore::new(1);
        let held = sem.try_acquire().unwrap();
        let waiter = {
            let sem = sem.clone();
            spawn(async move { sem.acquire().await.forget() })
        };
        settle().await;
        drop(held); // the permit goes to the waiter, not to the pool
        assert_eq!(sem.value(), 0);
        assert!(sem.try_acquire().is_none());
        waiter.await.unwrap();
        assert_eq!(sem.value(), 0);
        sem.release();
        assert_eq!(sem.value(), 1);
    });
}

#[test]
fn semaphore_acquire_timeout() {
    run(async {
        let sem = Semaphore::new(2);
        let _a = sem.acquire().await;
        let _b = sem.acquire().await;
        let start = Instant::now();
        let err = sem.acquire_timeout(ms(20)).await.unwrap_err();
        assert!(err.is_timeout());
        assert!(start.elapsed() >= ms(20));
        // The timed-out waiter did not keep a place: a release goes to the pool.
        assert_eq!(sem.waiters(), 0);
        drop(_a);
        assert_eq!(sem.value(), 1);
    });
}

#[test]
fn semaphore_acquire_timeout_preempted() {
    run(async {
        let sem = Semaphore::new(1);
        let g = sem.acquire().await;
        IoLoop::current().call_later(ms(10), move || drop(g));
        let _g = sem.acquire_timeout(Duration::from_secs(5)).await.unwrap();
        assert_eq!(sem.value(), 0);
    });
}

#[test]
fn semaphore_release_unacquired_raises_the_value() {
    run(async {
        let sem = Semaphore::new(0);
        assert!(sem.try_acquire().is_none());
        sem.release();
        sem.release();
        assert_eq!(sem.value(), 2);
        let _a = sem.acquire().await;
        let _b = sem.acquire().await;
        assert_eq!(sem.value(), 0);
    });
}

#[test]
fn semaphore_limits_concurrency() {
    run(async {
        let sem = Semaphore::new(3);
        let active = Rc::new(std::cell::Cell::new(0));
        let peak = Rc::new(std::cell::Cell::new(0));
        multi((0..12).map(|_| {
            let (sem, active, peak) = (sem.clone(), active.clone(), peak.clone());
            async move {
                let _g = sem.acquire().await;
                active.set(active.get() + 1);
                peak.set(peak.get().max(active.get()));
                sleep(ms(2)).await;
                active.set(active.get() - 1);
            }
        }))
        .await;
        assert_eq!(peak.get(), 3);
        assert_eq!(sem.value(), 3);
    });
}

#[test]
fn semaphore_permit_of_a_dropped_waiter_goes_to_the_next() {
    run(async {
        let sem = Semaphore::new(1);
        let held = sem.try_acquire().unwrap();
        let mut first = sem.acquire();
        assert!(poll_once(&mut first).await.is_pending());
        let h = history();
        {
            let sem = sem.clone();
            let h = h.clone();
            spawn(async move {
                let _g = sem.acquire().await;
                h.borrow_mut().push("second");
            });
        }
        settle().await;
        drop(held); // the permit is handed to `first`...
        drop(first); // ...which is dropped before it runs
        settle().await;
        assert_eq!(snapshot(&h), ["second"]);
        assert_eq!(sem.value(), 1, "permit lost");
    });
}

#[test]
fn semaphore_permit_of_a_dropped_waiter_returns_to_the_pool() {
    run(async {
        let sem = Semaphore::new(1);
        let held = sem.try_acquire().unwrap();
        let mut only = sem.acquire();
        assert!(poll_once(&mut only).await.is_pending());
        drop(held);
        drop(only);
        assert_eq!(sem.value(), 1);
        assert_eq!(sem.waiters(), 0);
    });
}

#[test]
fn semaphore_timeout_racing_a_release_loses_nothing() {
    run(async {
        let sem = Semaphore::new(1);
        let held = sem.try_acquire().unwrap();
        let mut timed = sem.acquire_timeout(ms(5));
        assert!(poll_once(&mut timed).await.is_pending());
        sleep(ms(20)).await; // the timer has fired, the future not yet polled
        drop(held); // hands the permit to the timed-out waiter
        // The waiter still completes with the permit it was handed.
        let guard = timed.await.expect("permit handed before the poll wins");
        drop(guard);
        assert_eq!(sem.value(), 1);
    });
}

// ---- BoundedSemaphore ----

#[test]
fn bounded_semaphore_over_release_is_an_error() {
    run(async {
        let sem = BoundedSemaphore::new(2);
        let err = sem.release().unwrap_err();
        assert!(err.is_over_release());
        assert_eq!(err.to_string(), "semaphore released too many times");
        assert_eq!(sem.value(), 2);
        sem.acquire().await.forget();
        assert_eq!(sem.value(), 1);
        sem.release().unwrap();
        assert!(sem.release().unwrap_err().is_over_release());
        // Guards release within the bound.
        let g = sem.acquire().await;
        drop(g);
        assert_eq!(sem.value(), 2);
    });
}

#[test]
fn bounded_semaphore_acquire_timeout() {
    run(async {
        let sem = BoundedSemaphore::new(1);
        let _g = sem.acquire().await;
        assert!(sem.acquire_timeout(ms(10)).await.unwrap_err().is_timeout());
    });
}

// ---- Lock ----

#[test]
fn lock_acquire_release() {
    run(async {
        let lock = Lock::new();
        assert!(!lock.is_locked());
        let g = lock.acquire().await;
        assert!(lock.is_locked());
        assert!(lock.try_acquire().is_none());
        g.release();
        assert!(!lock.is_locked());
        assert!(lock.try_acquire().is_some());
    });
}

#[test]
fn lock_acquire_fifo() {
    run(async {
        let lock = Lock::new();
        let h = history();
        let tasks: Vec<_> = (0..5)
            .map(|i| {
                let (lock, h) = (lock.clone(), h.clone());
                spawn(async move {
                    let _g = lock.acquire().await;
                    // Yield while holding the lock: nobody else may enter.
                    sleep(ms(1)).await;
                    h.borrow_mut().push(i);
                })
            })
            .collect();
        for t in multi(tasks).await {
            t.unwrap();
        }
        assert_eq!(snapshot(&h), [0, 1, 2, 3, 4]);
        assert!(!lock.is_locked());
    });
}

#[test]
fn lock_acquire_timeout() {
    run(async {
        let lock = Lock::new();
        let _g = lock.acquire().await;
        let start = Instant::now();
        let err = lock.acquire_timeout(ms(20)).await.unwrap_err();
        assert!(err.is_timeout());
        assert!(start.elapsed() >= ms(20));
        drop(_g);
        assert!(!lock.is_locked(), "timed-out waiter kept the lock");
    });
}

#[test]
fn lock_handed_to_a_dropped_waiter_goes_to_the_next() {
    run(async {
        let lock = Lock::new();
        let held = lock.acquire().await;
        let mut first = lock.acquire();
        assert!(poll_once(&mut first).await.is_pending());
        let second = {
            let lock = lock.clone();
            spawn(async move {
                let _g = lock.acquire().await;
                "second"
            })
        };
        settle().await;
        drop(held);
        drop(first);
        assert_eq!(second.await.unwrap(), "second");
        assert!(!lock.is_locked());
    });
}
