//! Reproductions of bugs found in review, named after the bug.

mod common;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tornado_ioloop::{IoLoop, PeriodicCallback, run_in_executor};

use common::{TEST_TIMEOUT, sleep, start_with_watchdog};

#[test]
fn a_timeout_cancelled_by_an_earlier_one_due_in_the_same_batch_does_not_run() {
    let io_loop = IoLoop::new().unwrap();
    let at = Instant::now() + Duration::from_millis(5);
    let ran = Rc::new(Cell::new(false));
    let victim = Rc::new(Cell::new(None));
    let (l, v) = (io_loop.clone(), victim.clone());
    io_loop.call_at(at, move || {
        assert!(l.remove_timeout(v.get().unwrap()), "still pending");
    });
    let r = ran.clone();
    victim.set(Some(io_loop.call_at(at, move || r.set(true))));
    let l = io_loop.clone();
    io_loop.call_later(Duration::from_millis(30), move || l.stop());
    start_with_watchdog(&io_loop);
    assert!(!ran.get());
}

#[test]
fn run_sync_after_a_timed_out_run_sync_waits_again() {
    let io_loop = IoLoop::new().unwrap();
    let err = io_loop
        .run_sync_timeout(std::future::pending::<()>(), Duration::from_millis(10))
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    let started = Instant::now();
    io_loop
        .run_sync_timeout(sleep(Duration::from_millis(20)), TEST_TIMEOUT)
        .expect("the second run waits for its future");
    assert!(started.elapsed() >= Duration::from_millis(20));
}

#[test]
fn a_nested_run_sync_panics_without_disturbing_the_outer_one() {
    let io_loop = IoLoop::new().unwrap();
    let l = io_loop.clone();
    let out = io_loop
        .run_sync_timeout(
            async move {
                let nested = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    l.run_sync(async { 1 })
                }));
                assert!(nested.is_err(), "nested run_sync panics");
                sleep(Duration::from_millis(20)).await;
                7
            },
            TEST_TIMEOUT,
        )
        .expect("the outer run_sync completes");
    assert_eq!(out, 7);
}

#[test]
fn executor_jobs_submitted_together_run_in_parallel() {
    // Two jobs that wait for each other would deadlock on a single worker.
    let io_loop = IoLoop::new().unwrap();
    let (a_tx, a_rx) = std::sync::mpsc::channel::<()>();
    let (b_tx, b_rx) = std::sync::mpsc::channel::<()>();
    let ok = io_loop
        .run_sync_timeout(
            async move {
                // Warm one worker so that it is idle when both jobs arrive.
                run_in_executor(|| ()).await.unwrap();
                sleep(Duration::from_millis(20)).await;
                let a = run_in_executor(move || {
                    a_tx.send(()).unwrap();
                    b_rx.recv_timeout(Duration::from_secs(5)).is_ok()
                });
                let b = run_in_executor(move || {
                    b_tx.send(()).unwrap();
                    a_rx.recv_timeout(Duration::from_secs(5)).is_ok()
                });
                a.await.unwrap() && b.await.unwrap()
            },
            TEST_TIMEOUT,
        )
        .unwrap();
    assert!(ok, "both jobs saw each other");
}

#[test]
fn make_current_over_a_loop_with_tasks_does_not_panic() {
    let first = IoLoop::new().unwrap();
    first.make_current();
    let waiter = first.spawn(std::future::pending::<()>());
    let joined = first.spawn(async move {
        let _ = waiter.await;
    });
    drop(joined);
    drop(first);
    // Replacing the only handle drops the old loop and its tasks here.
    let second = IoLoop::new().unwrap();
    second.make_current();
    second.close();
}

#[test]
fn stop_and_start_inside_a_periodic_callback_keeps_one_timer() {
    let io_loop = IoLoop::new().unwrap();
    io_loop.make_current();
    let ticks = Rc::new(Cell::new(0));
    let slot: Rc<RefCell<Option<PeriodicCallback>>> = Rc::new(RefCell::new(None));
    let (t, s) = (ticks.clone(), slot.clone());
    let pc = PeriodicCallback::new(
        move || {
            t.set(t.get() + 1);
            if let Some(pc) = s.borrow().as_ref() {
                pc.stop();
                pc.start();
            }
        },
        Duration::from_millis(20),
    )
    .unwrap();
    *slot.borrow_mut() = Some(pc.clone());
    pc.start();
    let l = io_loop.clone();
    io_loop.call_later(Duration::from_millis(110), move || l.stop());
    start_with_watchdog(&io_loop);
    pc.stop();
    slot.borrow_mut().take();
    // One timer: at most one tick per period (5 in 110 ms, plus slack), not doubling.
    assert!(ticks.get() <= 7, "{} ticks", ticks.get());
    io_loop.close();
}
