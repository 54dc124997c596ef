//! Panics inside handlers: caught per request (the loop and the connection go on), with
//! their message, location and backtrace kept for the log and the debug error page.
//!
//! A panic hook, installed once when the first `Application` is made, records the
//! panic of a handler being polled (and stays quiet for it: the framework logs it with
//! its request); every other panic goes to the hook that was there before.

use std::backtrace::Backtrace;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind as std_catch_unwind};
use std::pin::Pin;
use std::sync::Once;
use std::task::{Context, Poll};

thread_local! {
    /// Set while a handler is polled: `Some(capture)`, where `capture` says whether
    /// errors converted with `?` capture a backtrace even without `RUST_BACKTRACE`.
    static IN_HANDLER: Cell<Option<bool>> = const { Cell::new(None) };
    /// What the hook recorded about the last handler panic on this thread.
    static LAST_PANIC: RefCell<Option<(String, Backtrace)>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Installs the hook that records handler panics (once per process).
pub(crate) fn install_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(capture) = IN_HANDLER.try_with(Cell::get).ok().flatten() {
                let location = info
                    .location()
                    .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                    .unwrap_or_default();
                // As for errors: always with `serve_traceback`, else as RUST_BACKTRACE says.
                let backtrace = if capture {
                    Backtrace::force_capture()
                } else {
                    Backtrace::capture()
                };
                let _ = LAST_PANIC.try_with(|p| *p.borrow_mut() = Some((location, backtrace)));
            } else {
                previous(info);
            }
        }));
    });
}

/// A backtrace for an error converted inside a handler: always with `debug` or
/// `serve_traceback`, otherwise as `RUST_BACKTRACE` says.
pub(crate) fn capture_backtrace() -> Backtrace {
    if IN_HANDLER.with(Cell::get) == Some(true) {
        Backtrace::force_capture()
    } else {
        Backtrace::capture()
    }
}

/// A caught panic: its message (with where it happened) and its backtrace.
pub(crate) struct Panicked {
    pub(crate) message: String,
    pub(crate) backtrace: Option<Backtrace>,
}

struct Reset(Option<bool>);

impl Drop for Reset {
    fn drop(&mut self) {
        IN_HANDLER.with(|c| c.set(self.0));
    }
}

/// Runs `f` as handler code: a panic is caught and described.
pub(crate) fn guarded<R>(capture: bool, f: impl FnOnce() -> R) -> Result<R, Panicked> {
    let _reset = Reset(IN_HANDLER.with(|c| c.replace(Some(capture))));
    // Nothing from an earlier panic (one the handler caught itself) may be taken for
    // this one's.
    LAST_PANIC.with(|p| p.borrow_mut().take());
    std_catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let mut message = tornado_ioloop::panic_message(&*payload);
        let recorded = LAST_PANIC.with(|p| p.borrow_mut().take());
        let backtrace = recorded.map(|(location, backtrace)| {
            if !location.is_empty() {
                message = format!("{message} (at {location})");
            }
            backtrace
        });
        Panicked { message, backtrace }
    })
}

/// Runs `fut` as handler code: `Ok(output)`, or `Err(Panicked)` if a poll panicked
/// (the future is not polled again). While it polls, errors converted with `?` capture
/// backtraces when `capture` is set.
///
/// A future written by hand, not an `async fn`: an `async fn` keeps its argument and
/// the pinned copy it polls, so every layer of wrapping would hold the handler's
/// future twice (a waiting request carries this for as long as it waits).
pub(crate) fn catch_unwind<F: Future>(fut: F, capture: bool) -> CatchUnwind<F> {
    CatchUnwind {
        fut,
        capture,
        done: false,
    }
}

pin_project_lite::pin_project! {
    /// The future [`catch_unwind`] returns.
    pub(crate) struct CatchUnwind<F> {
        #[pin]
        fut: F,
        capture: bool,
        done: bool,
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Panicked>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        assert!(!*this.done, "CatchUnwind polled after it completed");
        let fut = this.fut;
        let result = match guarded(*this.capture, || fut.poll(cx)) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(v)) => Ok(v),
            Err(p) => Err(p),
        };
        *this.done = true;
        Poll::Ready(result)
    }
}
