//! Timers: ordering, cancellation, lateness, and the loop's clock.

mod common;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use std::future::Future;

use tornado_ioloop::{Deadline, FAR_FUTURE, IoLoop, deadline_after, sleep, sleep_until};

use common::start_with_watchdog;

#[test]
fn timers_fire_in_deadline_order_and_ties_in_insertion_order() {
    let io_loop = IoLoop::new().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let base = Instant::now() + Duration::from_millis(20);
    for (name, offset_ms) in [("c", 10), ("a1", 0), ("b", 5), ("a2", 0), ("a3", 0)] {
        let l = log.clone();
        io_loop.call_at(base + Duration::from_millis(offset_ms), move || {
            l.borrow_mut().push(name)
        });
    }
    let l = io_loop.clone();
    io_loop.call_at(base + Duration::from_millis(30), move || l.stop());
    start_with_watchdog(&io_loop);
    assert_eq!(*log.borrow(), vec!["a1", "a2", "a3", "b", "c"]);
}

#[test]
fn a_timer_never_fires_early() {
    let io_loop = IoLoop::new().unwrap();
    let fired_at = Rc::new(Cell::new(None));
    let (f, l) = (fired_at.clone(), io_loop.clone());
    let start = Instant::now();
    io_loop.call_later(Duration::from_millis(50), move || {
        f.set(Some(Instant::now()));
        l.stop();
    });
    start_with_watchdog(&io_loop);
    let elapsed = fired_at.get().unwrap() - start;
    assert!(
        elapsed >= Duration::from_millis(50),
        "fired after {elapsed:?}"
    );
    // Generous bound: only catches a timer that waits for something else (a hang).
    assert!(elapsed < Duration::from_secs(5), "fired after {elapsed:?}");
}

#[test]
fn cancelled_timers_do_not_run_and_cancel_reports_pending() {
    let io_loop = IoLoop::new().unwrap();
    let ran = Rc::new(Cell::new(0));
    let mut handles = Vec::new();
    for _ in 0..1000 {
        let r = ran.clone();
        handles.push(io_loop.call_later(Duration::from_millis(5), move || r.set(r.get() + 1)));
    }
    for h in handles.iter().step_by(2) {
        assert!(io_loop.remove_timeout(*h));
        assert!(!io_loop.remove_timeout(*h), "second cancel is a no-op");
    }
    let l = io_loop.clone();
    let done = io_loop.call_later(Duration::from_millis(30), move || l.stop());
    start_with_watchdog(&io_loop);
    assert_eq!(ran.get(), 500);
    assert!(
        !io_loop.remove_timeout(done),
        "a timer that ran is not pending"
    );
}

#[test]
fn a_timer_can_cancel_one_due_just_after_it() {
    let io_loop = IoLoop::new().unwrap();
    let ran = Rc::new(Cell::new(false));
    let at = Instant::now() + Duration::from_millis(10);
    let victim_slot = Rc::new(Cell::new(None));
    let (l, v) = (io_loop.clone(), victim_slot.clone());
    io_loop.call_at(at, move || {
        l.remove_timeout(v.get().unwrap());
    });
    let r = ran.clone();
    victim_slot.set(Some(
        io_loop.call_at(at + Duration::from_millis(1), move || r.set(true)),
    ));
    let l = io_loop.clone();
    io_loop.call_later(Duration::from_millis(40), move || l.stop());
    start_with_watchdog(&io_loop);
    assert!(!ran.get());
}

#[test]
fn add_timeout_takes_a_deadline_or_a_delay() {
    let io_loop = IoLoop::new().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l1 = log.clone();
    io_loop.add_timeout(Duration::from_millis(15), move || {
        l1.borrow_mut().push("delay")
    });
    let l2 = log.clone();
    io_loop.add_timeout(
        Deadline::At(Instant::now() + Duration::from_millis(5)),
        move || l2.borrow_mut().push("instant"),
    );
    let l = io_loop.clone();
    io_loop.call_later(Duration::from_millis(30), move || l.stop());
    start_with_watchdog(&io_loop);
    assert_eq!(*log.borrow(), vec!["instant", "delay"]);
}

#[test]
fn time_is_cached_per_iteration_and_moves_forward() {
    let io_loop = IoLoop::new().unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let (s, l) = (seen.clone(), io_loop.clone());
    io_loop.add_callback(move || {
        let t1 = l.time();
        std::thread::sleep(Duration::from_millis(5));
        s.borrow_mut().push((t1, l.time()));
        let (s, l2) = (s.clone(), l.clone());
        l.call_later(Duration::from_millis(5), move || {
            s.borrow_mut().push((l2.time(), l2.time()));
            l2.stop();
        });
    });
    start_with_watchdog(&io_loop);
    let seen = seen.borrow();
    assert_eq!(
        seen[0].0, seen[0].1,
        "clock does not move within an iteration"
    );
    assert!(seen[1].0 > seen[0].0, "clock moves between iterations");
}

#[test]
fn stop_before_start_runs_one_iteration() {
    let io_loop = IoLoop::new().unwrap();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    io_loop.add_callback(move || r.set(true));
    io_loop.stop();
    io_loop.start();
    assert!(ran.get());
}

#[test]
fn huge_delays_do_not_overflow() {
    let io_loop = IoLoop::new().unwrap();
    let h = io_loop.call_later(Duration::MAX, || unreachable!("a century away"));
    let h2 = io_loop.add_timeout(Deadline::After(Duration::from_secs(u64::MAX / 2)), || {
        unreachable!("far away")
    });
    assert_eq!(
        io_loop
            .run_sync_timeout(async { 5 }, Duration::MAX)
            .unwrap(),
        5
    );
    assert!(io_loop.remove_timeout(h));
    assert!(io_loop.remove_timeout(h2));
}

#[test]
fn call_later_never_fires_early_after_a_slow_callback() {
    // The loop's cached clock is stale after a callback that ran long; a delay is
    // measured from the real clock, so the timer still waits its full delay.
    let io_loop = IoLoop::new().unwrap();
    let result = Rc::new(Cell::new(None));
    let (r, l) = (result.clone(), io_loop.clone());
    io_loop.add_callback(move || {
        std::thread::sleep(Duration::from_millis(50));
        let set_at = Instant::now();
        let (r, l2) = (r.clone(), l.clone());
        l.call_later(Duration::from_millis(30), move || {
            r.set(Some(set_at.elapsed()));
            l2.stop();
        });
    });
    start_with_watchdog(&io_loop);
    let waited = result.get().unwrap();
    assert!(
        waited >= Duration::from_millis(30),
        "fired after {waited:?}"
    );
}

#[test]
fn sleep_made_before_its_loop_runs_waits_its_full_duration() {
    let io_loop = IoLoop::new().unwrap();
    let start = Instant::now();
    // Made before the loop is current: the timer is set on the first poll, on this loop.
    let nap = sleep(Duration::from_millis(20));
    io_loop
        .run_sync_timeout(nap, common::TEST_TIMEOUT)
        .expect("the sleep ended");
    assert!(start.elapsed() >= Duration::from_millis(20));
    let past = sleep_until(Instant::now());
    assert!(past.is_elapsed());
    io_loop
        .run_sync_timeout(past, common::TEST_TIMEOUT)
        .expect("a past deadline ends at once");
}

#[test]
fn sleep_of_duration_max_never_ends_and_sets_no_timer() {
    let io_loop = IoLoop::new().unwrap();
    let never = sleep(Duration::MAX);
    assert_eq!(never.deadline(), None);
    let l = io_loop.clone();
    let err = io_loop
        .run_sync_timeout(
            async move {
                let mut never = never;
                let polled = std::future::poll_fn(|cx| {
                    std::task::Poll::Ready(std::pin::Pin::new(&mut never).poll(cx).is_pending())
                })
                .await;
                assert!(polled);
                // Only run_sync_timeout's own timer is pending.
                let dbg = format!("{l:?}");
                assert!(dbg.contains("timeouts: 1"), "{dbg}");
                std::future::pending::<()>().await
            },
            Duration::from_millis(20),
        )
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
}

#[test]
fn dropping_a_pending_sleep_removes_its_timer() {
    let io_loop = IoLoop::new().unwrap();
    let l = io_loop.clone();
    io_loop
        .run_sync_timeout(
            async move {
                let mut nap = sleep(Duration::from_secs(3600));
                let pending = std::future::poll_fn(|cx| {
                    std::task::Poll::Ready(std::pin::Pin::new(&mut nap).poll(cx).is_pending())
                })
                .await;
                assert!(pending);
                assert!(format!("{l:?}").contains("timeouts: 2"));
                drop(nap);
                let dbg = format!("{l:?}");
                assert!(dbg.contains("timeouts: 1"), "{dbg}");
            },
            common::TEST_TIMEOUT,
        )
        .expect("test body timed out");
}

#[test]
fn deadline_after_saturates_at_far_future() {
    let now = Instant::now();
    assert_eq!(deadline_after(now, Duration::MAX), now + FAR_FUTURE);
    assert_eq!(
        deadline_after(now, Duration::from_secs(u64::MAX / 2)),
        now + FAR_FUTURE
    );
    assert_eq!(deadline_after(now, Duration::ZERO), now);
    assert_eq!(
        deadline_after(now, Duration::from_millis(3)),
        now + Duration::from_millis(3)
    );
}
