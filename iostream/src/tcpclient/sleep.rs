//! A timer future on the current [`IoLoop`], cancelled when dropped.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tornado_ioloop::{IoLoop, TimeoutHandle};

#[derive(Default)]
struct State {
    fired: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

/// Resolves once `duration` has passed on the loop that was current when it was made.
pub(crate) struct Sleep {
    state: Rc<State>,
    io_loop: IoLoop,
    handle: TimeoutHandle,
}

impl Sleep {
    pub(crate) fn new(duration: Duration) -> Sleep {
        Sleep::until(Instant::now() + duration)
    }

    pub(crate) fn until(deadline: Instant) -> Sleep {
        let io_loop = IoLoop::current();
        let state = Rc::new(State::default());
        let s = state.clone();
        let handle = io_loop.call_at(deadline, move || {
            s.fired.set(true);
            if let Some(w) = s.waker.borrow_mut().take() {
                w.wake();
            }
        });
        Sleep {
            state,
            io_loop,
            handle,
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.state.fired.get() {
            return Poll::Ready(());
        }
        let mut w = self.state.waker.borrow_mut();
        match &*w {
            Some(old) if old.will_wake(cx.waker()) => {}
            _ => *w = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if !self.state.fired.get() {
            self.io_loop.remove_timeout(self.handle);
        }
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("fired", &self.state.fired.get())
            .finish()
    }
}
