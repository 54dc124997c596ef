//! PeriodicCallback: regular ticks, stop, and skipping missed ticks instead of bursting.

mod common;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tornado_ioloop::{IoLoop, PeriodicCallback};

use common::start_with_watchdog;

#[test]
fn ticks_regularly_until_stopped() {
    let io_loop = IoLoop::new().unwrap();
    io_loop.make_current();
    let ticks = Rc::new(Cell::new(0));
    let t = ticks.clone();
    let pc = PeriodicCallback::new(move || t.set(t.get() + 1), Duration::from_millis(10)).unwrap();
    pc.start();
    assert!(pc.is_running());
    let (l, pc2) = (io_loop.clone(), pc.clone());
    io_loop.call_later(Duration::from_millis(100), move || {
        pc2.stop();
        l.stop();
    });
    start_with_watchdog(&io_loop);
    let n = ticks.get();
    // At most one per period (plus rounding); at least a few even on a slow machine.
    assert!((1..=11).contains(&n), "{n} ticks");
    assert!(!pc.is_running());
    // Stopped: no more ticks.
    let l = io_loop.clone();
    io_loop.call_later(Duration::from_millis(40), move || l.stop());
    start_with_watchdog(&io_loop);
    assert_eq!(ticks.get(), n);
    io_loop.close();
}

#[test]
fn missed_ticks_are_skipped_not_burst() {
    let io_loop = IoLoop::new().unwrap();
    io_loop.make_current();
    let period = Duration::from_millis(20);
    let calls = Rc::new(RefCell::new(Vec::<Instant>::new()));
    let slow_end = Rc::new(Cell::new(None::<Instant>));
    let (c, se) = (calls.clone(), slow_end.clone());
    let pc = PeriodicCallback::new(
        move || {
            let first = c.borrow().is_empty();
            c.borrow_mut().push(Instant::now());
            if first {
                // Fall ten periods behind.
                std::thread::sleep(Duration::from_millis(200));
                se.set(Some(Instant::now()));
            }
        },
        period,
    )
    .unwrap();
    pc.start();
    let l = io_loop.clone();
    io_loop.call_later(Duration::from_millis(350), move || l.stop());
    start_with_watchdog(&io_loop);
    pc.stop();
    let end = slow_end.get().expect("the slow tick ran");
    let calls = calls.borrow();
    let soon_after = calls
        .iter()
        .filter(|t| **t >= end && **t < end + period)
        .count();
    assert!(
        soon_after <= 1,
        "{soon_after} calls within one period of catching up: a burst"
    );
    io_loop.close();
}

#[test]
fn zero_period_is_an_error() {
    let io_loop = IoLoop::new().unwrap();
    io_loop.make_current();
    let err = PeriodicCallback::new(|| {}, Duration::ZERO).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    io_loop.close();
}

#[test]
fn jitter_keeps_ticks_near_the_period() {
    let io_loop = IoLoop::new().unwrap();
    io_loop.make_current();
    let ticks = Rc::new(Cell::new(0));
    let t = ticks.clone();
    let pc = PeriodicCallback::new(move || t.set(t.get() + 1), Duration::from_millis(10))
        .unwrap()
        .with_jitter(0.5);
    pc.start();
    let (l, pc2) = (io_loop.clone(), pc.clone());
    io_loop.call_later(Duration::from_millis(100), move || {
        pc2.stop();
        l.stop();
    });
    start_with_watchdog(&io_loop);
    // Periods lie in [7.5 ms, 12.5 ms]: at most 13 ticks in 100 ms.
    assert!((1..=14).contains(&ticks.get()), "{} ticks", ticks.get());
    io_loop.close();
}

#[test]
fn a_huge_period_with_jitter_never_ticks_and_never_panics() {
    let io_loop = IoLoop::new().unwrap();
    io_loop.make_current();
    let ticks = Rc::new(Cell::new(0));
    let t = ticks.clone();
    // Jitter scales the period by up to 1.5, past `Duration::MAX` for this one; each
    // start draws a new factor.
    let pc = PeriodicCallback::new(move || t.set(t.get() + 1), Duration::MAX)
        .unwrap()
        .with_jitter(1.0);
    for _ in 0..64 {
        pc.start();
        pc.stop();
    }
    pc.start();
    let l = io_loop.clone();
    io_loop.call_later(Duration::from_millis(20), move || l.stop());
    start_with_watchdog(&io_loop);
    assert_eq!(ticks.get(), 0);
    assert!(pc.is_running());
    pc.stop();
    io_loop.close();
}

/// Counts ticks until there are `n`, on the loop running the task.
async fn ticks_reach(ticks: Rc<Cell<u32>>, n: u32) {
    while ticks.get() < n {
        common::sleep(Duration::from_millis(1)).await;
    }
}

#[test]
fn made_before_its_loop_exists_it_ticks_on_the_loop_current_at_start() {
    // A thread of its own, where no loop exists yet.
    std::thread::spawn(|| {
        let ticks = Rc::new(Cell::new(0));
        let t = ticks.clone();
        let pc =
            PeriodicCallback::new(move || t.set(t.get() + 1), Duration::from_millis(2)).unwrap();
        assert!(IoLoop::try_current().is_none(), "new() made no loop");
        let io_loop = IoLoop::new().unwrap();
        let p = pc.clone();
        io_loop
            .run_sync_timeout(
                async move {
                    p.start();
                    ticks_reach(ticks, 3).await;
                    p.stop();
                },
                common::TEST_TIMEOUT,
            )
            .expect("the callback ticked on the loop that started it");
        assert!(!pc.is_running());
        io_loop.close();
    })
    .join()
    .unwrap();
}

#[test]
fn made_while_another_loop_is_current_it_ticks_where_it_is_started() {
    let other = IoLoop::new().unwrap();
    other.make_current();
    let ticks = Rc::new(Cell::new(0));
    let t = ticks.clone();
    let pc = PeriodicCallback::new(move || t.set(t.get() + 1), Duration::from_millis(2)).unwrap();
    let io_loop = IoLoop::new().unwrap();
    let p = pc.clone();
    io_loop
        .run_sync_timeout(
            async move {
                p.start();
                ticks_reach(ticks, 3).await;
                p.stop();
                // Started again, on this loop still; stop() removes the timer.
                p.start();
                p.stop();
            },
            common::TEST_TIMEOUT,
        )
        .expect("the callback ticked on the loop that started it");
    assert!(format!("{other:?}").contains("timeouts: 0"));
    io_loop.close();
    other.close();
}
