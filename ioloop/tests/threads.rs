//! The cross-thread handle: add_callback and stop wake a loop blocked in poll.

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tornado_ioloop::{IoLoop, spawn};

use common::{run, start_with_watchdog};

#[test]
fn add_callback_from_another_thread_wakes_a_blocked_poll() {
    let io_loop = IoLoop::new().unwrap();
    let handle = io_loop.handle();
    let ran_on = Rc::new(Cell::new(false));
    // No timers but the watchdog (10 s): without the wake the poll would sleep until it.
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        handle.add_callback(|| {
            let l = IoLoop::current();
            l.stop();
        });
    });
    let r = ran_on.clone();
    io_loop.add_callback(move || r.set(true));
    start_with_watchdog(&io_loop);
    t.join().unwrap();
    assert!(ran_on.get());
}

#[test]
fn stop_from_another_thread() {
    let io_loop = IoLoop::new().unwrap();
    let handle = io_loop.handle();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        handle.stop();
    });
    start_with_watchdog(&io_loop);
    t.join().unwrap();
}

#[test]
fn many_threads_many_callbacks_all_run_in_order_per_thread() {
    let io_loop = IoLoop::new().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let h = io_loop.handle();
            let c = count.clone();
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    let c = c.clone();
                    h.add_callback(move || {
                        if c.fetch_add(1, Ordering::SeqCst) + 1 == 4000 {
                            IoLoop::current().stop();
                        }
                    });
                }
            })
        })
        .collect();
    start_with_watchdog(&io_loop);
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(count.load(Ordering::SeqCst), 4000);
}

#[test]
fn a_waker_used_from_another_thread_reschedules_the_task() {
    let v = run(async {
        let (tx, rx) = std::sync::mpsc::channel::<std::task::Waker>();
        let flag = Arc::new(AtomicUsize::new(0));
        let f2 = flag.clone();
        let t = std::thread::spawn(move || {
            let w = rx.recv().unwrap();
            std::thread::sleep(Duration::from_millis(20));
            f2.store(7, Ordering::SeqCst);
            w.wake();
        });
        let task = spawn(std::future::poll_fn(move |cx| {
            let v = flag.load(Ordering::SeqCst);
            if v != 0 {
                return std::task::Poll::Ready(v);
            }
            let _ = tx.send(cx.waker().clone());
            std::task::Poll::Pending
        }));
        let v = task.await.unwrap();
        t.join().unwrap();
        v
    });
    assert_eq!(v, 7);
}
