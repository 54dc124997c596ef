//! Waiting for Unix signals on the loop, for a graceful shutdown on SIGINT or SIGTERM.
//!
//! [`wait_for`] gives a future that resolves with the first of the given signals to
//! arrive; [`Signals`] receives them again and again. Both are ordinary futures on the
//! [`IoLoop`], to be awaited in a task (no callback runs inside the signal handler).
//!
//! ```
//! use tornado_ioloop::IoLoop;
//! use tornado_ioloop::signal::{self, Signal};
//!
//! let io_loop = IoLoop::new().unwrap();
//! let got = io_loop.run_sync(async {
//!     // From here on SIGINT and SIGTERM no longer end the process: they resolve this.
//!     let shutdown = signal::wait_for(&[Signal::Interrupt, Signal::Terminate]);
//!     // ... serve until then ...
//!     # Signal::Terminate.raise().unwrap(); // what `kill PID` would do
//!     let signal = shutdown.await.unwrap();
//!     // ... stop accepting, drain the connections in flight, then return.
//!     signal
//! });
//! assert_eq!(got, Signal::Terminate);
//! ```
//!
//! # Model
//!
//! Making a [`Signals`] (or calling [`wait_for`]) installs a `sigaction` handler for its
//! signals at once, so a signal that comes before the first poll is kept, not lost nor
//! fatal. The handler only notes the signal and writes a byte to the listener's pipe (a
//! self-pipe); the pipe is registered with the loop that first polls the listener, whose
//! handler wakes the waiting task. Every listener gets every signal it asked for, so
//! several loops (on several threads) may each wait for SIGTERM. When the last listener
//! of a signal is dropped, the signal's previous disposition is restored: a second
//! Ctrl-C after the graceful shutdown began and its waiter was dropped ends the program
//! as usual.
//!
//! Signals coalesce, as Unix signals do: the same signal sent twice before the listener
//! looks is received once. At most [`MAX_LISTENERS`] listeners may exist at a time.

mod sys;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use mio::Interest;
use mio::unix::pipe::{Receiver, Sender};

use crate::handler::HandlerId;
use crate::ioloop::IoLoop;

/// How many [`Signals`] (and [`wait_for`] futures) may exist at once in the process.
pub const MAX_LISTENERS: usize = sys::SLOTS;

/// A Unix signal a task can wait for.
///
/// ```
/// use tornado_ioloop::signal::Signal;
///
/// let stop = Signal::Terminate;
/// assert_eq!(stop.name(), "SIGTERM");
/// assert_eq!(stop.to_string(), "SIGTERM");
/// assert_ne!(stop, Signal::Interrupt);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// `SIGINT`: Ctrl-C at the terminal.
    Interrupt,
    /// `SIGTERM`: `kill PID`, and how service managers ask a process to stop.
    Terminate,
    /// `SIGHUP`: the terminal went away; daemons often take it as "reload".
    Hangup,
    /// `SIGQUIT`: Ctrl-\ at the terminal.
    Quit,
    /// `SIGUSR1`: for the application's own use.
    User1,
    /// `SIGUSR2`: for the application's own use.
    User2,
}

impl Signal {
    const ALL: [Signal; 6] = [
        Signal::Interrupt,
        Signal::Terminate,
        Signal::Hangup,
        Signal::Quit,
        Signal::User1,
        Signal::User2,
    ];

    fn bit(self) -> u64 {
        1 << self as usize
    }

    /// The signal's number on this platform (`libc::SIGINT`, …).
    ///
    /// ```
    /// use tornado_ioloop::signal::Signal;
    ///
    /// assert_eq!(Signal::Interrupt.number(), libc::SIGINT);
    /// assert_eq!(Signal::Terminate.number(), libc::SIGTERM);
    /// assert_eq!(Signal::User1.number(), libc::SIGUSR1);
    /// ```
    pub fn number(self) -> i32 {
        sys::NUMBERS[self as usize]
    }

    /// The signal's name, such as `"SIGINT"`.
    ///
    /// ```
    /// use tornado_ioloop::signal::Signal;
    ///
    /// assert_eq!(Signal::Interrupt.name(), "SIGINT");
    /// assert_eq!(Signal::Hangup.name(), "SIGHUP");
    /// assert_eq!(Signal::User2.name(), "SIGUSR2");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
            Signal::Hangup => "SIGHUP",
            Signal::Quit => "SIGQUIT",
            Signal::User1 => "SIGUSR1",
            Signal::User2 => "SIGUSR2",
        }
    }

    /// Sends this signal to the current process (`kill(getpid(), signal)`), as
    /// `kill -TERM PID` would: handy to test a graceful shutdown.
    ///
    /// Unless something listens for it, the signal's default action follows, which for
    /// each of these ends the process.
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_ioloop::signal::{self, Signal};
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// let got = io_loop.run_sync(async {
    ///     let hangup = signal::wait_for(&[Signal::Hangup]); // listen first
    ///     Signal::Hangup.raise().unwrap();
    ///     hangup.await.unwrap()
    /// });
    /// assert_eq!(got, Signal::Hangup);
    /// ```
    pub fn raise(self) -> io::Result<()> {
        sys::raise(self.number())
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A slot's pipe, kept for the next listener when a listener is dropped (the signal
/// handler may be writing to it on another thread: it is never closed).
struct Pipe {
    sender: Sender,
    /// `None` while a listener holds it.
    receiver: Option<Receiver>,
}

static PIPES: Mutex<Vec<Pipe>> = Mutex::new(Vec::new());

fn pipes() -> MutexGuard<'static, Vec<Pipe>> {
    PIPES.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reads everything in the pipe; the bytes only say "look at the pending signals".
fn drain(receiver: &mut Receiver) -> io::Result<()> {
    let mut buf = [0u8; 64];
    loop {
        match receiver.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Takes a free slot (making its pipe if needed) and starts listening for `mask` on it.
fn claim(mask: u64) -> io::Result<(usize, Receiver)> {
    let (slot, mut receiver) = {
        let mut pipes = pipes();
        match pipes.iter().position(|p| p.receiver.is_some()) {
            Some(i) => (i, pipes[i].receiver.take()),
            None if pipes.len() < sys::SLOTS => {
                let (sender, receiver) = mio::unix::pipe::new()?;
                pipes.push(Pipe {
                    sender,
                    receiver: None,
                });
                (pipes.len() - 1, Some(receiver))
            }
            None => {
                return Err(io::Error::other(format!(
                    "too many signal listeners (at most {MAX_LISTENERS} at a time)"
                )));
            }
        }
    };
    let Some(mut receiver) = receiver.take() else {
        return Err(io::Error::other("signal pipe missing"));
    };
    // The handler first: from then on these signals no longer end the process, and
    // from `listen` on they reach this slot.
    match drain(&mut receiver).and_then(|()| sys::install(mask)) {
        Ok(()) => {
            let fd = pipes()[slot].sender.as_raw_fd();
            sys::listen(slot, fd, mask);
            Ok((slot, receiver))
        }
        Err(e) => {
            pipes()[slot].receiver = Some(receiver);
            Err(e)
        }
    }
}

/// Stops listening on `slot` and gives its pipe back.
fn release(slot: usize, mask: u64, mut receiver: Receiver) {
    sys::unlisten(slot);
    sys::uninstall(mask);
    if let Err(e) = drain(&mut receiver) {
        log::warn!("draining a signal pipe: {e}");
    }
    pipes()[slot].receiver = Some(receiver);
}

/// Receives the given signals for as long as it lives (asyncio's
/// `loop.add_signal_handler`, as a stream).
///
/// The handler is installed when the value is made; the pipe is registered with the loop
/// that first polls [`recv`](Signals::recv), and the value must be used on that loop
/// from then on. Dropping it stops listening. See the [module docs](self) for the model.
///
/// ```
/// use tornado_ioloop::IoLoop;
/// use tornado_ioloop::signal::{Signal, Signals};
///
/// let io_loop = IoLoop::new().unwrap();
/// io_loop.run_sync(async {
///     let mut signals = Signals::new(&[Signal::User1, Signal::User2]).unwrap();
///     Signal::User1.raise().unwrap();
///     assert_eq!(signals.recv().await.unwrap(), Signal::User1);
///     Signal::User2.raise().unwrap();
///     assert_eq!(signals.recv().await.unwrap(), Signal::User2);
/// });
/// ```
pub struct Signals {
    slot: usize,
    mask: u64,
    /// Always `Some` until dropped.
    receiver: Option<Receiver>,
    registration: Option<(IoLoop, HandlerId)>,
    waker: Rc<RefCell<Option<Waker>>>,
    /// Signals taken from the slot and not yet handed out, in `Signal` order.
    received: VecDeque<Signal>,
}

impl Signals {
    /// Starts listening for `signals`. Fails if the list is empty, if
    /// [`MAX_LISTENERS`] listeners exist already, or if the OS refuses a pipe or the
    /// handler.
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use tornado_ioloop::IoLoop;
    /// use tornado_ioloop::signal::{Signal, Signals};
    ///
    /// let err = Signals::new(&[]).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::InvalidInput);
    ///
    /// // SIGUSR1 is caught from here on, before any loop polls the listener.
    /// let mut signals = Signals::new(&[Signal::User1]).unwrap();
    /// Signal::User1.raise().unwrap(); // kept, not fatal
    /// let io_loop = IoLoop::new().unwrap();
    /// let got = io_loop.run_sync(async move { signals.recv().await.unwrap() });
    /// assert_eq!(got, Signal::User1);
    /// ```
    pub fn new(signals: &[Signal]) -> io::Result<Signals> {
        let mask = signals.iter().fold(0, |m, s| m | s.bit());
        if mask == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "Signals::new: no signal to listen for",
            ));
        }
        let (slot, receiver) = claim(mask)?;
        Ok(Signals {
            slot,
            mask,
            receiver: Some(receiver),
            registration: None,
            waker: Rc::new(RefCell::new(None)),
            received: VecDeque::new(),
        })
    }

    /// Waits for the next signal.
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_ioloop::signal::{Signal, Signals};
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// io_loop.run_sync(async {
    ///     let mut signals = Signals::new(&[Signal::User2]).unwrap();
    ///     for _ in 0..2 {
    ///         Signal::User2.raise().unwrap();
    ///         assert_eq!(signals.recv().await.unwrap(), Signal::User2);
    ///     }
    /// });
    /// ```
    pub fn recv(&mut self) -> Recv<'_> {
        Recv { signals: self }
    }

    /// The poll behind [`recv`](Signals::recv): `Ready` with the next signal, or
    /// `Pending` with `cx`'s waker woken when one arrives.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use tornado_ioloop::IoLoop;
    /// use tornado_ioloop::signal::{Signal, Signals};
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// let got = io_loop.run_sync(async {
    ///     let mut signals = Signals::new(&[Signal::Quit]).unwrap();
    ///     Signal::Quit.raise().unwrap();
    ///     poll_fn(|cx| signals.poll_recv(cx)).await.unwrap()
    /// });
    /// assert_eq!(got, Signal::Quit);
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Signal>> {
        if let Some(s) = self.received.pop_front() {
            return Poll::Ready(Ok(s));
        }
        let Some(receiver) = self.receiver.as_mut() else {
            return Poll::Ready(Err(io::Error::other("signal listener is closed")));
        };
        if self.registration.is_none() {
            let io_loop = IoLoop::current();
            let waker = self.waker.clone();
            let id = io_loop.add_handler(receiver, Interest::READABLE, move |_| {
                let w = waker.borrow_mut().take();
                if let Some(w) = w {
                    w.wake();
                }
            });
            match id {
                Ok(id) => self.registration = Some((io_loop, id)),
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        {
            let mut w = self.waker.borrow_mut();
            match &*w {
                Some(old) if old.will_wake(cx.waker()) => {}
                _ => *w = Some(cx.waker().clone()),
            }
        }
        // Drained before the pending signals are taken: a signal that comes after the
        // drain leaves a byte in the pipe, so the loop wakes this again.
        if let Err(e) = drain(receiver) {
            return Poll::Ready(Err(e));
        }
        let pending = sys::take_pending(self.slot) & self.mask;
        self.received
            .extend(Signal::ALL.into_iter().filter(|s| pending & s.bit() != 0));
        match self.received.pop_front() {
            Some(s) => Poll::Ready(Ok(s)),
            None => Poll::Pending,
        }
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        let Some(mut receiver) = self.receiver.take() else {
            return;
        };
        if let Some((io_loop, id)) = self.registration.take()
            && let Err(e) = io_loop.remove_handler(id, &mut receiver)
        {
            // The loop was closed, which dropped the handler but left the pipe in its
            // poller; the pipe goes to another listener, so take it out.
            log::debug!("removing a signal pipe's handler: {e}");
            let _ = mio::event::Source::deregister(&mut receiver, &io_loop.inner.registry);
        }
        release(self.slot, self.mask, receiver);
    }
}

impl fmt::Debug for Signals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let signals: Vec<Signal> = Signal::ALL
            .into_iter()
            .filter(|s| self.mask & s.bit() != 0)
            .collect();
        f.debug_struct("Signals")
            .field("signals", &signals)
            .field("registered", &self.registration.is_some())
            .finish()
    }
}

/// The future returned by [`Signals::recv`].
///
/// ```
/// use tornado_ioloop::IoLoop;
/// use tornado_ioloop::signal::{Recv, Signal, Signals};
///
/// let io_loop = IoLoop::new().unwrap();
/// let got = io_loop.run_sync(async {
///     let mut signals = Signals::new(&[Signal::User1]).unwrap();
///     let next: Recv<'_> = signals.recv();
///     Signal::User1.raise().unwrap();
///     next.await.unwrap()
/// });
/// assert_eq!(got, Signal::User1);
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Recv<'a> {
    signals: &'a mut Signals,
}

impl Future for Recv<'_> {
    type Output = io::Result<Signal>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<Signal>> {
        self.signals.poll_recv(cx)
    }
}

/// Waits for the first of `signals` to arrive (for a graceful shutdown: `wait_for(&[
/// Signal::Interrupt, Signal::Terminate])`).
///
/// The handler is installed by this call, before the future is first polled, so a signal
/// sent right after it is kept and resolves the future instead of ending the process.
/// The future fails if [`Signals::new`] would. Dropping it (or letting it complete)
/// stops listening. See the [module docs](self) for an example.
///
/// ```
/// use tornado_ioloop::IoLoop;
/// use tornado_ioloop::signal::{self, Signal};
///
/// let io_loop = IoLoop::new().unwrap();
/// let got = io_loop.run_sync(async {
///     let shutdown = signal::wait_for(&[Signal::Interrupt, Signal::Terminate]);
///     Signal::Interrupt.raise().unwrap(); // what Ctrl-C would do
///     shutdown.await.unwrap()
/// });
/// assert_eq!(got, Signal::Interrupt);
/// ```
pub fn wait_for(signals: &[Signal]) -> WaitFor {
    WaitFor {
        signals: Signals::new(signals).map_err(Some),
    }
}

/// The future returned by [`wait_for`]: the signal that arrived first.
///
/// If no listener could be made, the future fails when awaited.
///
/// ```
/// use tornado_ioloop::IoLoop;
/// use tornado_ioloop::signal::{self, Signal, WaitFor};
///
/// let io_loop = IoLoop::new().unwrap();
/// io_loop.run_sync(async {
///     let none: WaitFor = signal::wait_for(&[]);
///     assert!(none.await.is_err());
///
///     let reload: WaitFor = signal::wait_for(&[Signal::Hangup]);
///     Signal::Hangup.raise().unwrap();
///     assert_eq!(reload.await.unwrap(), Signal::Hangup);
/// });
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct WaitFor {
    /// The listener, or why it could not be made (taken by the poll that reports it).
    signals: Result<Signals, Option<io::Error>>,
}

impl Future for WaitFor {
    type Output = io::Result<Signal>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<Signal>> {
        match &mut self.signals {
            Ok(signals) => signals.poll_recv(cx),
            Err(e) => Poll::Ready(Err(e
                .take()
                .unwrap_or_else(|| io::Error::other("WaitFor polled after it failed")))),
        }
    }
}
