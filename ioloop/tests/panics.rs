//! A panic in a callback, timer, handler or task is caught and logged; the loop goes on.

mod common;

use std::cell::Cell;
use std::io::Write;
use std::rc::Rc;
use std::time::Duration;

use mio::net::UnixStream;
use tornado_ioloop::{Interest, IoLoop, PeriodicCallback, spawn};

use common::{run, start_with_watchdog};

#[test]
fn the_loop_survives_panics_everywhere() {
    let io_loop = IoLoop::new().unwrap();
    io_loop.make_current();
    let after = Rc::new(Cell::new(0));

    io_loop.add_callback(|| panic!("callback boom"));
    io_loop.call_later(Duration::from_millis(1), || panic!("timer boom"));
    let (mut a, mut b) = UnixStream::pair().unwrap();
    io_loop
        .add_handler(&mut b, Interest::READABLE, |_| panic!("handler boom"))
        .unwrap();
    a.write_all(b"x").unwrap();
    let pc = PeriodicCallback::new(|| panic!("periodic boom"), Duration::from_millis(2)).unwrap();
    pc.start();
    let task = spawn(async { panic!("task boom") });

    let (x, l) = (after.clone(), io_loop.clone());
    io_loop.call_later(Duration::from_millis(30), move || {
        x.set(x.get() + 1);
        l.stop();
    });
    start_with_watchdog(&io_loop);
    pc.stop();
    assert_eq!(after.get(), 1, "work scheduled after the panics still ran");

    let err = io_loop.run_sync(task).unwrap_err();
    assert!(err.is_panic());
    assert!(err.to_string().contains("task boom"), "{err}");
    io_loop.close();
}

#[test]
fn a_panicking_task_does_not_disturb_its_siblings() {
    let v = run(async {
        let bad = spawn(async {
            tornado_ioloop::yield_now().await;
            panic!("sibling boom");
        });
        let good = spawn(async {
            for _ in 0..10 {
                tornado_ioloop::yield_now().await;
            }
            "fine"
        });
        (bad.await.is_err(), good.await.unwrap())
    });
    assert_eq!(v, (true, "fine"));
}

/// A future that is ready on its second poll and panics when dropped.
struct PanicsWhenDropped {
    polled: bool,
    value: u32,
}

impl std::future::Future for PanicsWhenDropped {
    type Output = u32;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<u32> {
        if self.polled {
            return std::task::Poll::Ready(self.value);
        }
        self.polled = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("destructor boom");
        }
    }
}

/// A panic in the destructor of a finished task's future (what it owned) is logged and
/// the loop goes on, as for a panic in the task itself; it used to unwind out of
/// `run_sync` and leave the loop marked running, so every later `run_sync` refused.
#[test]
fn a_task_whose_future_panics_when_dropped_does_not_stop_the_loop() {
    let io_loop = IoLoop::new().unwrap();
    let got = io_loop
        .run_sync_timeout(
            async {
                let joined = spawn(PanicsWhenDropped {
                    polled: false,
                    value: 7,
                });
                tornado_ioloop::spawn_callback(PanicsWhenDropped {
                    polled: false,
                    value: 0,
                });
                let v = joined.await;
                for _ in 0..3 {
                    tornado_ioloop::yield_now().await;
                }
                v
            },
            common::TEST_TIMEOUT,
        )
        .expect("run_sync_timeout");
    assert_eq!(got, Ok(7), "the task's value was kept");
    assert!(!io_loop.is_running());
    assert_eq!(io_loop.run_sync(async { 2 }), 2, "the loop is still usable");
    io_loop.close();
}
