//! `Shared`: one computation, many handles that all see its output.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use tornado_ioloop::{JoinError, JoinHandle};

struct State<T> {
    result: Option<Result<T, JoinError>>,
    waiters: Vec<Waker>,
}

/// A clonable handle on a future's outcome, like a Tornado `Future` that many
/// coroutines may `yield`.
///
/// [`shared`] spawns the future as a task on the current loop, so it runs whether or not
/// anyone awaits a handle (as a Tornado coroutine does). Every clone resolves to a clone
/// of the output, as `Ok(value)`, or `Err(JoinError)` if the task panicked or was
/// cancelled (its loop closed).
///
/// This is how to give [`WaitIterator`](crate::WaitIterator) or [`multi`](crate::multi)
/// "the same future twice".
///
/// ```
/// use tornado_gen::{multi, shared};
/// use tornado_ioloop::IoLoop;
///
/// let io_loop = IoLoop::new().unwrap();
/// let out = io_loop.run_sync(async {
///     let answer = shared(async { 42 });
///     multi([answer.clone(), answer]).await
/// });
/// assert_eq!(out, vec![Ok(42), Ok(42)]);
/// ```
pub struct Shared<T> {
    state: Rc<RefCell<State<T>>>,
}

/// Spawns `future` on the current loop and returns a clonable handle on its output.
pub fn shared<F>(future: F) -> Shared<F::Output>
where
    F: Future + 'static,
    F::Output: Clone + 'static,
{
    let state = Rc::new(RefCell::new(State {
        result: None,
        waiters: Vec::new(),
    }));
    let mut publisher = Publisher {
        task: tornado_ioloop::spawn(future),
        state: state.clone(),
    };
    tornado_ioloop::spawn_callback(async move {
        let result = (&mut publisher.task).await;
        publisher.publish(result);
    });
    Shared { state }
}

/// Hands the task's outcome to every handle. If it is dropped first (its loop was
/// closed, which drops the task too), the handles get the outcome the task left, or
/// `Cancelled`, instead of waiting forever.
struct Publisher<T> {
    task: JoinHandle<T>,
    state: Rc<RefCell<State<T>>>,
}

impl<T> Publisher<T> {
    fn publish(&self, result: Result<T, JoinError>) {
        let waiters = {
            let mut s = self.state.borrow_mut();
            if s.result.is_some() {
                return;
            }
            s.result = Some(result);
            std::mem::take(&mut s.waiters)
        };
        crate::waiters::wake_all(waiters);
    }
}

impl<T> Drop for Publisher<T> {
    fn drop(&mut self) {
        if self.state.borrow().result.is_none() {
            let result = self.task.try_take().unwrap_or(Err(JoinError::Cancelled));
            self.publish(result);
        }
    }
}

impl<T> Shared<T> {
    /// True once the outcome is known.
    pub fn is_done(&self) -> bool {
        self.state.borrow().result.is_some()
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared {
            state: self.state.clone(),
        }
    }
}

impl<T: Clone> Future for Shared<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut st = self.state.borrow_mut();
        if let Some(r) = &st.result {
            return Poll::Ready(r.clone());
        }
        if !st.waiters.iter().any(|w| w.will_wake(cx.waker())) {
            st.waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl<T> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("done", &self.is_done())
            .finish()
    }
}
