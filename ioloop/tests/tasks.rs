//! The executor: spawn, join, abort, run_sync, callbacks and fairness.

mod common;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use mio::net::UnixStream;
use tornado_ioloop::{Interest, IoLoop, JoinError, run_in_executor, spawn, yield_now};

use common::{TEST_TIMEOUT, run, sleep, start_with_watchdog};

#[test]
fn spawn_and_join_in_any_order() {
    let v = run(async {
        let a = spawn(async {
            sleep(Duration::from_millis(20)).await;
            "a"
        });
        let b = spawn(async { "b" });
        let b = b.await.unwrap();
        let a = a.await.unwrap();
        format!("{a}{b}")
    });
    assert_eq!(v, "ab");
}

#[test]
fn tasks_need_not_be_send() {
    let n = run(async {
        let shared = Rc::new(Cell::new(0));
        let s = shared.clone();
        spawn(async move { s.set(5) }).await.unwrap();
        shared.get()
    });
    assert_eq!(n, 5);
}

#[test]
fn abort_cancels_a_pending_task_and_drops_its_future() {
    struct Flag(Rc<Cell<bool>>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let dropped = Rc::new(Cell::new(false));
    let d = dropped.clone();
    let result = run(async move {
        let flag = Flag(d);
        let task = spawn(async move {
            let _keep = flag;
            std::future::pending::<()>().await;
        });
        yield_now().await;
        task.abort();
        assert!(task.is_finished());
        task.await
    });
    assert_eq!(result, Err(JoinError::Cancelled));
    assert!(dropped.get());
}

#[test]
fn a_task_can_abort_itself() {
    let r = run(async {
        let slot: Rc<RefCell<Option<tornado_ioloop::JoinHandle<()>>>> = Rc::new(RefCell::new(None));
        let s = slot.clone();
        let handle = spawn(async move {
            yield_now().await;
            if let Some(h) = s.borrow().as_ref() {
                h.abort();
            }
            yield_now().await;
            unreachable!("aborted tasks are not polled again");
        });
        *slot.borrow_mut() = Some(handle);
        sleep(Duration::from_millis(10)).await;
        let h = slot.borrow_mut().take().unwrap();
        h.await
    });
    assert_eq!(r, Err(JoinError::Cancelled));
}

#[test]
fn abort_after_finish_keeps_the_result() {
    let r = run(async {
        let h = spawn(async { 9 });
        sleep(Duration::from_millis(5)).await;
        assert!(h.is_finished());
        h.abort();
        h.await
    });
    assert_eq!(r, Ok(9));
}

#[test]
fn spawn_callback_runs_detached() {
    let done = Rc::new(Cell::new(false));
    let d = done.clone();
    run(async move {
        IoLoop::current().spawn_callback(async move {
            yield_now().await;
            d.set(true);
        });
        sleep(Duration::from_millis(10)).await;
    });
    assert!(done.get());
}

#[test]
fn run_sync_timeout_gives_timed_out_and_drops_the_future() {
    let io_loop = IoLoop::new().unwrap();
    let err = io_loop
        .run_sync_timeout(std::future::pending::<()>(), Duration::from_millis(20))
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    assert!(err.to_string().contains("did not complete"), "{err}");
    assert_eq!(io_loop.task_count(), 0);
    // The loop is usable again afterwards.
    assert_eq!(
        io_loop.run_sync_timeout(async { 1 }, TEST_TIMEOUT).unwrap(),
        1
    );
}

#[test]
fn run_sync_passes_a_panic_on() {
    let io_loop = IoLoop::new().unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        io_loop.run_sync(async { panic!("boom in run_sync") })
    }));
    let payload = r.unwrap_err();
    let msg = payload.downcast_ref::<String>().unwrap();
    assert!(msg.contains("boom in run_sync"), "{msg}");
}

#[test]
fn callbacks_added_during_an_iteration_wait_and_do_not_starve_io() {
    // A callback that re-adds itself forever must not keep a ready socket's handler
    // from running.
    let io_loop = IoLoop::new().unwrap();
    let spins = Rc::new(Cell::new(0u64));
    fn spin(l: IoLoop, spins: Rc<Cell<u64>>) {
        spins.set(spins.get() + 1);
        let l2 = l.clone();
        l.add_callback(move || spin(l2, spins));
    }
    spin(io_loop.clone(), spins.clone());
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let l = io_loop.clone();
    io_loop
        .add_handler(&mut b, Interest::READABLE, move |_| l.stop())
        .unwrap();
    a.write_all(b"!").unwrap();
    start_with_watchdog(&io_loop);
    assert!(
        spins.get() < 1000,
        "the handler ran promptly ({} spins)",
        spins.get()
    );
    io_loop.close();
}

#[test]
fn waking_a_queued_task_twice_polls_it_once() {
    struct CountPolls {
        polls: Rc<Cell<u32>>,
    }
    impl Future for CountPolls {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            let n = self.polls.get() + 1;
            self.polls.set(n);
            if n == 1 {
                cx.waker().wake_by_ref();
                cx.waker().wake_by_ref();
                // The by-value path of a cloned waker, too.
                #[allow(clippy::waker_clone_wake)]
                cx.waker().clone().wake();
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        }
    }
    let polls = Rc::new(Cell::new(0));
    let p = polls.clone();
    run(async move {
        spawn(CountPolls { polls: p }).await.unwrap();
        sleep(Duration::from_millis(5)).await;
    });
    assert_eq!(polls.get(), 2);
}

#[test]
fn run_in_executor_returns_the_value_or_the_panic() {
    let (v, e) = run(async {
        let v = run_in_executor(|| {
            std::thread::sleep(Duration::from_millis(10));
            std::thread::current().name().map(str::to_owned)
        })
        .await
        .unwrap();
        let e = run_in_executor(|| -> u8 { panic!("worker boom") })
            .await
            .unwrap_err();
        (v, e)
    });
    assert_eq!(v.as_deref(), Some("tornado-executor"));
    assert!(e.is_panic());
    assert!(e.to_string().contains("worker boom"));
}

#[test]
fn many_executor_jobs_complete() {
    let total = run(async {
        let jobs: Vec<_> = (0..64u64).map(|i| run_in_executor(move || i * 2)).collect();
        let mut sum = 0;
        for j in jobs {
            sum += j.await.unwrap();
        }
        sum
    });
    assert_eq!(total, (0..64u64).map(|i| i * 2).sum::<u64>());
}

#[test]
fn close_breaks_task_cycles() {
    let io_loop = IoLoop::new().unwrap();
    io_loop.make_current();
    let l = io_loop.clone();
    io_loop.spawn_callback(async move {
        let _keep = l;
        std::future::pending::<()>().await;
    });
    let stopper = io_loop.clone();
    io_loop.call_later(Duration::from_millis(5), move || stopper.stop());
    start_with_watchdog(&io_loop);
    assert_eq!(io_loop.task_count(), 1);
    io_loop.close();
    assert_eq!(io_loop.task_count(), 0);
    assert!(IoLoop::try_current().is_none());
}

/// The future `run_sync_timeout` gives up on is dropped with its loop current, as
/// Tornado cancels it on the loop: cleanup that its destructors schedule (a task, a
/// callback) goes to that loop and runs when it runs again, instead of going to a new
/// loop that `IoLoop::current()` made and left current on the thread.
#[test]
fn a_future_given_up_by_run_sync_is_dropped_on_its_own_loop() {
    struct Cleanup(Rc<Cell<bool>>);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let done = self.0.clone();
            tornado_ioloop::spawn_callback(async move { done.set(true) });
        }
    }
    let io_loop = IoLoop::new().unwrap(); // not made current
    let cleaned = Rc::new(Cell::new(false));
    let cleanup = Cleanup(cleaned.clone());
    let err = io_loop
        .run_sync_timeout(
            async move {
                let _cleanup = cleanup;
                std::future::pending::<()>().await
            },
            Duration::from_millis(20),
        )
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    assert!(
        IoLoop::try_current().is_none(),
        "dropping the future left a loop current"
    );
    io_loop
        .run_sync_timeout(tornado_ioloop::yield_now(), TEST_TIMEOUT)
        .unwrap();
    assert!(cleaned.get(), "the cleanup task never ran on the loop");
    io_loop.close();
}
