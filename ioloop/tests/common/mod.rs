//! Helpers shared by the ioloop integration tests.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use tornado_ioloop::IoLoop;

/// The hard limit for one test body: a bug fails the test instead of hanging it.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `fut` on a fresh loop, failing the test if it takes longer than [`TEST_TIMEOUT`].
pub fn run<F: Future + 'static>(fut: F) -> F::Output {
    let io_loop = IoLoop::new().expect("create IoLoop");
    let out = io_loop
        .run_sync_timeout(fut, TEST_TIMEOUT)
        .expect("test body timed out");
    io_loop.close();
    out
}

/// Runs the loop with `start()`, after `setup` scheduled its work; a watchdog timer stops
/// it after [`TEST_TIMEOUT`] and the test fails.
pub fn start_with_watchdog(io_loop: &IoLoop) {
    let l = io_loop.clone();
    let fired = std::rc::Rc::new(std::cell::Cell::new(false));
    let f = fired.clone();
    let h = io_loop.call_later(TEST_TIMEOUT, move || {
        f.set(true);
        l.stop();
    });
    io_loop.start();
    io_loop.remove_timeout(h);
    assert!(
        !fired.get(),
        "the loop was stopped by the watchdog: the test hung"
    );
}

/// Sleeps on the loop for `d` (a minimal timer future for tests; `tornado-gen` has the
/// real `sleep`).
pub async fn sleep(d: Duration) {
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::task::{Poll, Waker};
    let state: Rc<RefCell<(bool, Option<Waker>)>> = Rc::new(RefCell::new((false, None)));
    let s = state.clone();
    IoLoop::current().call_later(d, move || {
        let mut st = s.borrow_mut();
        st.0 = true;
        if let Some(w) = st.1.take() {
            w.wake();
        }
    });
    std::future::poll_fn(|cx| {
        let mut st = state.borrow_mut();
        if st.0 {
            Poll::Ready(())
        } else {
            st.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    })
    .await
}
