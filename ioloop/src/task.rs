//! The executor's pieces: the wrappers that turn a future into a task, and the
//! [`JoinHandle`] that waits for its outcome. How tasks are stored and woken is in
//! `waker.rs`.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use crate::ioloop::Inner;
use crate::panic::panic_message;
use crate::waker::TaskFuture;

/// Why a task did not produce its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinError {
    /// The task was aborted, or its loop was closed, before it finished.
    Cancelled,
    /// The task panicked; the panic's message is kept.
    Panicked(String),
}

impl JoinError {
    /// True when the task was aborted or dropped before finishing.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, JoinError::Cancelled)
    }

    /// True when the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, JoinError::Panicked(_))
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Cancelled => f.write_str("task was cancelled before it finished"),
            JoinError::Panicked(msg) => write!(f, "task panicked: {msg}"),
        }
    }
}

impl std::error::Error for JoinError {}

struct JoinState<T> {
    result: Option<Result<T, JoinError>>,
    waiter: Option<Waker>,
    taken: bool,
}

/// Sets the join state when the task ends, by finishing or by being dropped.
struct Completion<T> {
    state: Rc<RefCell<JoinState<T>>>,
}

impl<T> Completion<T> {
    fn complete(&self, result: Result<T, JoinError>) {
        let waiter = {
            let mut st = self.state.borrow_mut();
            if st.result.is_some() || st.taken {
                return;
            }
            st.result = Some(result);
            st.waiter.take()
        };
        if let Some(w) = waiter {
            w.wake();
        }
    }
}

impl<T> Drop for Completion<T> {
    fn drop(&mut self) {
        self.complete(Err(JoinError::Cancelled));
    }
}

/// Polls `future` once, turning a panic into `Err`.
fn poll_catching<F: Future>(
    future: Pin<&mut F>,
    cx: &mut Context<'_>,
) -> Poll<Result<F::Output, String>> {
    match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
        Err(payload) => Poll::Ready(Err(panic_message(&*payload))),
    }
}

/// Wraps `future` as a task whose outcome goes to the returned state.
pub(crate) fn joined<F>(future: F, name: &'static str) -> (TaskFuture, JoinHandleState<F::Output>)
where
    F: Future + 'static,
{
    let state = Rc::new(RefCell::new(JoinState {
        result: None,
        waiter: None,
        taken: false,
    }));
    let completion = Completion {
        state: state.clone(),
    };
    // Boxed before the async block captures it: an async block keeps its captures apart
    // from its locals, so pinning a captured future inside would hold it twice.
    let mut future = Box::pin(future);
    let task = Box::pin(async move {
        let completion = completion;
        let outcome = std::future::poll_fn(|cx| poll_catching(future.as_mut(), cx)).await;
        match outcome {
            Ok(v) => completion.complete(Ok(v)),
            Err(msg) => {
                log::error!("task {name} panicked: {msg}");
                completion.complete(Err(JoinError::Panicked(msg)));
            }
        }
    });
    (task, JoinHandleState { state })
}

/// Wraps a future whose output nobody waits for: panics are logged, the value dropped.
/// One allocation holding the future once (a long-lived connection task is most of
/// what an idle connection costs).
pub(crate) fn detached<F>(future: F, name: &'static str) -> TaskFuture
where
    F: Future + 'static,
{
    Box::pin(Detached { future, name })
}

pin_project_lite::pin_project! {
    /// The task [`detached`] makes.
    struct Detached<F> {
        #[pin]
        future: F,
        name: &'static str,
    }
}

impl<F: Future> Future for Detached<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        match poll_catching(this.future, cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(_)) => Poll::Ready(()),
            Poll::Ready(Err(msg)) => {
                log::error!("task {} panicked: {msg}", this.name);
                Poll::Ready(())
            }
        }
    }
}

pub(crate) struct JoinHandleState<T> {
    state: Rc<RefCell<JoinState<T>>>,
}

/// A handle on a spawned task: a future resolving to the task's output.
///
/// Awaiting it gives `Ok(value)`, or `Err(JoinError)` if the task panicked or was aborted.
/// Dropping the handle detaches the task: it keeps running.
///
/// ```
/// use tornado_ioloop::{IoLoop, spawn};
///
/// let io_loop = IoLoop::new().unwrap();
/// let n = io_loop.run_sync(async {
///     let a = spawn(async { 1 });
///     let b = spawn(async { 2 });
///     a.await.unwrap() + b.await.unwrap()
/// });
/// assert_eq!(n, 3);
/// ```
pub struct JoinHandle<T> {
    state: Rc<RefCell<JoinState<T>>>,
    owner: Weak<Inner>,
    key: usize,
    generation: u64,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(
        st: JoinHandleState<T>,
        owner: Weak<Inner>,
        key: usize,
        generation: u64,
    ) -> Self {
        JoinHandle {
            state: st.state,
            owner,
            key,
            generation,
        }
    }

    /// Cancels the task: its future is dropped (at once, or right after its current poll
    /// if it aborts itself) and awaiting this handle gives `Err(JoinError::Cancelled)`.
    /// Aborting a finished task does nothing.
    pub fn abort(&self) {
        if let Some(inner) = self.owner.upgrade() {
            inner.abort_task(self.key, self.generation);
        }
    }

    /// True once the task has produced its outcome (value, panic or cancellation).
    pub fn is_finished(&self) -> bool {
        let st = self.state.borrow();
        st.result.is_some() || st.taken
    }

    /// Takes the outcome if the task has finished, without waiting.
    pub fn try_take(&mut self) -> Option<Result<T, JoinError>> {
        let mut st = self.state.borrow_mut();
        let r = st.result.take();
        if r.is_some() {
            st.taken = true;
        }
        r
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut st = self.state.borrow_mut();
        if let Some(r) = st.result.take() {
            st.taken = true;
            return Poll::Ready(r);
        }
        if st.taken {
            return Poll::Ready(Err(JoinError::Cancelled));
        }
        match &mut st.waiter {
            Some(w) if w.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> Unpin for JoinHandle<T> {}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}
