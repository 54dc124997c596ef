//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use tornado_ioloop::IoLoop;

/// Runs a test body on a fresh loop with a hard ten-second timeout.
pub fn run<F: Future + 'static>(body: F) -> F::Output {
    IoLoop::new()
        .expect("create IoLoop")
        .run_sync_timeout(body, Duration::from_secs(10))
        .expect("test body timed out (a waiter was never woken?)")
}

/// Polls `f` once from the current task, as Tornado's eager futures would start.
pub async fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *f).poll(cx))).await
}

/// Lets every task woken so far run (Tornado tests' `loop_briefly`).
pub async fn settle() {
    for _ in 0..3 {
        tornado_gen::moment().await;
    }
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Polls a stream once from the current task.
pub async fn poll_next_once<S: futures_core::Stream + Unpin>(s: &mut S) -> Poll<Option<S::Item>> {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *s).poll_next(cx))).await
}
