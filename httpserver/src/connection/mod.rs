//! One HTTP/1.x server connection: a task that drives a
//! [`ServerConnection`](crate::http1connection::ServerConnection) over an
//! [`IoStream`].
//!
//! # Model
//!
//! The protocol lives in the sans-IO state machine; this module only moves bytes and
//! calls the request handler. The task reads into the stream's buffer, asks the state
//! machine what the bytes mean, hands each request to the server's
//! [`ServeRequest`] (a request with a body to read gets a boxed future, so an idle
//! connection holds only the small state of waiting for a head; one without is started
//! at once, with no future for reading it), and writes what the state machine encodes.
//! Every complete request already in the buffer is handled before the task reads
//! again, and responses accumulate in one output buffer that goes to the socket when
//! the task is about to wait: the responses to pipelined requests leave in one write.
//!
//! Timeouts cost no timer per request: the connection keeps one deadline (header,
//! idle, or body, by the loop's cached clock) and at most one armed timer; the idle
//! deadline between requests is watched by the server's per-thread sweep instead.
//!
//! An idle connection holds no buffer: the output buffer goes back to a per-thread pool
//! when the connection waits for a request with nothing buffered, and the stream
//! frees its own buffers when drained.

mod context;
mod input;
mod output;
mod timeouts;
mod writer;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use bytes::BytesMut;
use tornado_ioloop::{IoLoop, TimeoutHandle, panic_message};
use tornado_iostream::IoStream;

pub(crate) use input::BodyError;
pub use input::{ERROR_DRAIN_LIMIT, ERROR_DRAIN_TIMEOUT};
pub use output::ZERO_COPY_BODY_MIN;
pub use writer::ResponseWriter;

use crate::dispatch::Finishing;
use crate::error::{BodyStartedError, ParseError};
use crate::http1connection::{RequestHead, ServerConnection};
use crate::registry::{Registry, Tracked};
use crate::settings::HttpServerSettings;

/// [`Conn::write_mark`] when the deadline does not watch output.
pub(crate) const NO_MARK: u64 = u64::MAX;

/// What a connection calls for each request: the server's delegate, with its type
/// erased. It starts the request and returns where it got to ([`Served`]).
pub(crate) trait ServeRequest {
    fn serve(self: Rc<Self>, conn: Rc<Conn>, head: RequestHead) -> Served;
}

/// A request whose body is being read, type-erased.
pub(crate) type ServeFuture = Pin<Box<dyn Future<Output = Served>>>;

/// Where a request got to; itself the future of the rest, resolving to whether the
/// connection may carry another request.
pub(crate) enum Served {
    /// Its body is still to be read, in this boxed future (a request without a body
    /// gets none); what it resolves to takes its place.
    Reading(ServeFuture),
    /// The request is over; whether the connection may carry another.
    Done(bool),
    /// The request goes on in this future, which the connection's task awaits in
    /// place: what reading the request took is freed first, so a handler that waits
    /// long (a long poll) holds only its own future and what finishing needs.
    Then(Finishing),
}

impl Future for Served {
    type Output = bool;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        let this = self.get_mut();
        loop {
            match this {
                Served::Reading(reading) => match reading.as_mut().poll(cx) {
                    Poll::Ready(next) => *this = next,
                    Poll::Pending => return Poll::Pending,
                },
                Served::Done(goes_on) => return Poll::Ready(*goes_on),
                Served::Then(finishing) => return Pin::new(finishing).poll(cx),
            }
        }
    }
}

/// What the connection is doing, for shutdown, timeouts and the close wake-ups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for a request with nothing of it received: shutdown may close it at
    /// once, and the server's sweep watches its idle deadline.
    Idle,
    /// Reading a request, or waiting for its handler.
    Busy,
    /// A handler took the stream over ([`ResponseWriter::detach`]): stop serving and
    /// leave the stream open.
    Detached,
    /// Closed by the server ([`Tracked::close`]: forced shutdown,
    /// `close_all_connections`): a handler still running is dropped.
    ForceClosed,
    /// Closed because a deadline passed.
    TimedOut,
}

/// What every connection of one server thread shares, behind one pointer (an idle
/// connection's size matters).
pub(crate) struct ConnShared {
    pub(crate) settings: Arc<HttpServerSettings>,
    pub(crate) registry: Rc<Registry>,
    pub(crate) serve: Rc<dyn ServeRequest>,
}

pub(crate) struct Conn {
    io_loop: IoLoop,
    stream: IoStream,
    shared: Rc<ConnShared>,
    peer: Option<SocketAddr>,
    tls: bool,
    phase: Cell<Phase>,
    /// The protocol state: what has been read, what the response may still do.
    proto: RefCell<ServerConnection>,
    /// Output not yet handed to the stream (a pooled buffer while answering).
    out: RefCell<BytesMut>,
    deadline: Cell<Option<Instant>>,
    timer: Cell<Option<(Instant, TimeoutHandle)>>,
    /// While the deadline watches output to a slow reader: the stream's written-byte
    /// count when it was set, so progress pushes the deadline back ([`NO_MARK`]
    /// otherwise).
    write_mark: Cell<u64>,
    /// When the current request's first byte arrived (loop clock).
    request_start: Cell<Instant>,
    /// Tasks waiting for the connection to close (the connection's own task while a
    /// handler runs, handlers awaiting [`ResponseWriter::closed`]); boxed, since most
    /// connections never have one. While it is `Some`, the stream's close callback
    /// wakes them.
    #[expect(
        clippy::box_collection,
        reason = "one pointer in every connection instead of a Vec's three words"
    )]
    close_waiters: RefCell<Option<Box<Vec<Waker>>>>,
    /// Numbers the request being answered (0: none); a [`ResponseWriter`] holds the
    /// number of its request and is refused once that request is over.
    request_seq: Cell<u32>,
    next_seq: Cell<u32>,
}

impl Conn {
    pub(crate) fn new(
        stream: IoStream,
        shared: Rc<ConnShared>,
        peer: Option<SocketAddr>,
        tls: bool,
    ) -> Rc<Conn> {
        Rc::new(Conn {
            io_loop: IoLoop::current(),
            stream,
            shared,
            peer,
            tls,
            phase: Cell::new(Phase::Busy),
            proto: RefCell::new(ServerConnection::new()),
            out: RefCell::new(BytesMut::new()),
            deadline: Cell::new(None),
            timer: Cell::new(None),
            write_mark: Cell::new(NO_MARK),
            request_start: Cell::new(Instant::now()),
            close_waiters: RefCell::new(None),
            request_seq: Cell::new(0),
            next_seq: Cell::new(1),
        })
    }

    /// Serves the connection until it closes.
    pub(crate) async fn serve(self: Rc<Self>) {
        /// Cleans up however the task ends: returning, or dropped with the loop.
        struct Cleanup(Rc<Conn>, usize);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                let conn = &self.0;
                conn.shared.registry.unregister(self.1);
                conn.clear_deadline();
                if let Ok(mut out) = conn.out.try_borrow_mut() {
                    output::return_buffer(std::mem::take(&mut *out));
                }
                if conn.phase.get() != Phase::Detached {
                    conn.stream.close();
                }
                conn.wake_close_waiters();
            }
        }
        let tracked: Rc<dyn Tracked> = self.clone();
        let key = self.shared.registry.register(Rc::downgrade(&tracked));
        drop(tracked);
        let _cleanup = Cleanup(self.clone(), key);
        if let Err(e) = self.stream.set_nodelay(true) {
            log::debug!("set_nodelay: {e}");
        }
        self.run().await;
    }

    async fn run(self: &Rc<Self>) {
        let chunk_size = self.shared.settings.params.chunk_size.max(1);
        loop {
            // Reading a body is boxed (by `serve`) so that an idle connection's task holds
            // only the small state of waiting for a head, not the larger one of reading.
            let served = match self.read_head().await {
                Some(head) => self.shared.serve.clone().serve(self.clone(), head),
                None => return,
            };
            // Awaited, not matched: `Served` is itself the future of the rest, and a
            // match would keep it beside the future it holds, in this future (what an
            // idle connection holds).
            let goes_on = served.await;
            if !goes_on {
                if self.phase.get() == Phase::Detached {
                    return;
                }
                self.finish_and_close().await;
                return;
            }
            // Pipelined requests wait while the peer is not reading what we already
            // answered, so a few bytes in cannot make us buffer unbounded output.
            if self.out.borrow().len() >= chunk_size {
                drop(self.queue_output());
            }
            if self.stream.write_buffer_len() >= chunk_size {
                self.set_write_deadline();
                if self.flush_output().await.is_err() {
                    return;
                }
            }
        }
    }

    /// Runs the future that `make` returns, unless the connection closes first
    /// (`None`): closed by the server (shutdown, `close_all_connections`), or by the
    /// client while the handler waits before finishing its response (a long poll
    /// whose client left is cancelled; work after a finished response goes on). The
    /// future is polled first, so a handler that notices the close itself ends normally.
    /// A panic in `make` or in a poll comes back as `Err(message)`.
    ///
    /// The future is made in place, inside this one: a handler's future can be large,
    /// and every move of it is a copy.
    ///
    /// Whenever the future has to wait, the output written so far goes out: a pipelined
    /// response is not held back by a slow handler after it, and a handler that
    /// finished its response and goes on working (or waits between writes) does not
    /// hold its response back either.
    ///
    /// `make` is taken by reference: the caller's closure (which owns the request and
    /// its writer) is held once, in the caller, not also in this future.
    pub(crate) async fn run_guarded<M, F>(
        self: &Rc<Self>,
        make: &mut Option<M>,
    ) -> Option<Result<F::Output, String>>
    where
        M: FnOnce() -> F,
        F: Future,
    {
        let mut slot = pin!(None::<F>);
        std::future::poll_fn(|cx| {
            if let Some(make) = make.take() {
                match catch_unwind(AssertUnwindSafe(make)) {
                    Ok(fut) => slot.set(Some(fut)),
                    Err(p) => return Poll::Ready(Some(Err(panic_message(&*p)))),
                }
            }
            match slot.as_mut().as_pin_mut() {
                Some(fut) => self.poll_guarded(fut, cx),
                None => Poll::Ready(None),
            }
        })
        .await
    }

    /// Polls a handler's future once, as [`run_guarded`](Self::run_guarded) does:
    /// `Ready(None)` when the connection closed first, a panic caught as `Err`.
    pub(crate) fn poll_guarded<F: Future + ?Sized>(
        self: &Rc<Self>,
        fut: Pin<&mut F>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<F::Output, String>>> {
        match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(Poll::Ready(v)) => return Poll::Ready(Some(Ok(v))),
            Ok(Poll::Pending) => {}
            Err(p) => return Poll::Ready(Some(Err(panic_message(&*p)))),
        }
        match self.phase.get() {
            Phase::ForceClosed | Phase::TimedOut => return Poll::Ready(None),
            // A handler whose response is finished goes on with its work (as
            // Tornado's does): only a handler still owing a response is cancelled.
            Phase::Busy if self.stream.closed() && !self.response_finished() => {
                return Poll::Ready(None);
            }
            _ => {}
        }
        if !self.out.borrow().is_empty() {
            drop(self.queue_output());
        }
        // A handler that waits (a long poll) holds no output buffer meanwhile: with
        // thousands waiting, that is most of their memory.
        self.release_output_buffer();
        self.add_close_waiter(cx.waker());
        Poll::Pending
    }

    /// Registers `waker` to be woken when the connection closes.
    pub(crate) fn add_close_waiter(self: &Rc<Self>, waker: &Waker) {
        let mut waiters = self.close_waiters.borrow_mut();
        match waiters.as_mut() {
            Some(list) => {
                if !list.iter().any(|w| w.will_wake(waker)) {
                    list.push(waker.clone());
                }
            }
            None => {
                *waiters = Some(Box::new(vec![waker.clone()]));
                let weak = Rc::downgrade(self);
                self.stream.set_close_callback(move || {
                    if let Some(conn) = weak.upgrade() {
                        conn.wake_close_waiters();
                    }
                });
            }
        }
    }

    fn wake_close_waiters(&self) {
        let waiters = self.close_waiters.borrow_mut().take();
        for w in waiters.into_iter().flat_map(|list| *list) {
            w.wake();
        }
    }

    pub(crate) fn stream(&self) -> &IoStream {
        &self.stream
    }

    pub(crate) fn shutting_down(&self) -> bool {
        self.shared.registry.shutting_down()
    }

    fn peer_name(&self) -> String {
        match self.peer {
            Some(a) => a.ip().to_string(),
            None => "unix socket".to_string(),
        }
    }

    /// Starts numbering a new request's answer; writers of earlier requests are refused
    /// from now on.
    pub(crate) fn begin_answer(&self) -> u32 {
        let seq = self.next_seq.get();
        // Never 0 (which means "no request"), even after wrapping.
        self.next_seq.set(seq.checked_add(1).unwrap_or(1));
        self.request_seq.set(seq);
        seq
    }

    /// Ends the current request's answer: its writers are refused from now on.
    pub(crate) fn end_answer(&self) {
        self.request_seq.set(0);
    }

    /// Whether a writer for request `seq` may still write.
    pub(crate) fn answering(&self, seq: u32) -> bool {
        seq != 0 && self.request_seq.get() == seq
    }

    /// Starts reading the body, if there is one: a `Content-Length` above the
    /// request's limit is refused (`Err`, to be answered). Writes `100 Continue` if the
    /// client waits for it; returns whether it did.
    pub(crate) fn accept_body(&self) -> Result<bool, ParseError> {
        if !self.proto.borrow().reading_body() {
            return Ok(false);
        }
        self.with_out(|out| {
            let before = out.len();
            self.proto.borrow_mut().accept_body(out)?;
            Ok(out.len() > before)
        })
    }

    /// Sets the current request's body limit; see
    /// [`ServerConnection::set_max_body_size`].
    pub(crate) fn set_max_body_size(&self, max_body_size: u64) -> Result<(), BodyStartedError> {
        self.proto.borrow_mut().set_max_body_size(max_body_size)
    }

    /// The connection closes after the current response (its head says so).
    pub(crate) fn close_after_response(&self) {
        self.proto.borrow_mut().close_after_response();
    }

    /// Whether the connection goes on to another request after the one just answered.
    pub(crate) fn goes_on(&self) -> bool {
        self.proto.borrow().reads_next_request() && !self.shutting_down() && !self.stream.closed()
    }

    pub(crate) fn phase(&self) -> Phase {
        self.phase.get()
    }

    /// Hands the stream to the handler answering request `seq`: what was written so far
    /// is queued on the stream first, and the connection stops serving once the
    /// handler's future completes.
    pub(crate) fn detach(&self, seq: u32) -> Option<IoStream> {
        if !self.answering(seq) || self.phase.get() != Phase::Busy || self.stream.closed() {
            return None;
        }
        drop(self.queue_output());
        self.phase.set(Phase::Detached);
        self.proto.borrow_mut().stop_reading();
        self.clear_deadline();
        Some(self.stream.clone())
    }
}

impl Tracked for Conn {
    fn close(&self) {
        // A detached (upgraded) connection is closed too: a forced shutdown must not
        // wait for a handler that never returns.
        self.phase.set(Phase::ForceClosed);
        self.stream.close();
        self.wake_close_waiters();
    }

    fn close_if_idle(&self) -> bool {
        if self.phase.get() == Phase::Idle {
            self.stream.close();
            true
        } else {
            false
        }
    }

    fn sweep(&self, now: Instant) {
        self.sweep_idle(now);
    }
}

/// `make`, ready for [`Conn::run_guarded`]: the bound makes a closure written here an
/// `FnOnce`, so the future it returns may borrow what it captures.
pub(crate) fn once<M: FnOnce() -> F, F>(make: M) -> Option<M> {
    Some(make)
}
