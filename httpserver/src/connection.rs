//! One HTTP/1.x server connection: a task that reads request heads, streams bodies to a
//! delegate and writes the responses, over an [`IoStream`].
//!
//! # Model
//!
//! The task parses every complete request already in the read buffer before it reads
//! again, and responses accumulate in one output buffer that goes to the socket when the
//! task is about to wait for input: the responses to pipelined requests leave in one
//! write. Requests on a connection are handled one after another; the next is parsed
//! only once the previous response is finished.
//!
//! Timeouts cost no timer per request: the connection keeps one deadline (header,
//! idle or body, by the loop's cached clock) and at most one armed timer; when the
//! timer fires before a deadline that was pushed back, it re-arms itself.
//!
//! An idle connection holds no buffer: the output buffer goes back to a per-thread pool
//! when the connection waits for a request with nothing buffered, and the stream
//! frees its own buffers when drained.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use http::StatusCode;
use tornado_ioloop::{IoLoop, TimeoutHandle};
use tornado_iostream::IoStream;

use crate::delegate::{
    HttpMessageDelegate, LocalBoxFuture, RequestContext, Response, ResponseWriter,
};
use crate::error::{OutputError, OutputErrorKind, ParseError};
use crate::http1connection::{
    BodyEncoder, BodyKind, CONTINUE_RESPONSE, ChunkedDecoder, GzipDecoder, Parsed, ResponseContext,
    encode_error_response, encode_response_head, encode_response_head_with_length,
    parse_request_layout,
};
use crate::httputil::{DateCache, HttpHeaders};
use crate::server::ServerShared;

/// Output buffers kept per thread for connections to borrow while they answer.
const POOL_BUFFERS: usize = 256;
/// A pooled output buffer starts this large (one typical batch of responses).
const POOL_BUFFER_SIZE: usize = 8 * 1024;
/// Larger buffers are not pooled, so one big response does not pin memory.
const POOL_MAX_BUFFER: usize = 64 * 1024;

thread_local! {
    /// The `Date` header text, and until when (by the loop's clock) it is current.
    static DATES: RefCell<(DateCache, Option<Instant>)> =
        RefCell::new((DateCache::new(), None));
    static POOL: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

fn take_buffer() -> BytesMut {
    POOL.with(|p| p.borrow_mut().pop())
        .unwrap_or_else(|| BytesMut::with_capacity(POOL_BUFFER_SIZE))
}

fn return_buffer(mut buf: BytesMut) {
    if buf.capacity() == 0 || buf.capacity() > POOL_MAX_BUFFER {
        return;
    }
    buf.clear();
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < POOL_BUFFERS {
            p.push(buf);
        }
    });
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// Awaits `fut`, turning a panic into `Err(message)`.
async fn catch_panic<F: Future>(fut: F) -> Result<F::Output, String> {
    let mut fut = pin!(fut);
    std::future::poll_fn(
        |cx| match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(p) => Poll::Ready(Err(panic_message(&*p))),
        },
    )
    .await
}

fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| panic_message(&*p))
}

/// Why reading a body stopped.
enum BodyError {
    /// Bad framing or a limit: answer with its status and close.
    Parse(ParseError),
    /// The stream closed (peer gone, timeout, shutdown).
    Closed,
    /// The delegate panicked in `data_received`.
    Panicked(String),
}

/// Who receives the request being handled.
#[expect(
    clippy::large_enum_variant,
    reason = "the head is moved once per request; boxing it would allocate"
)]
enum Target {
    /// A streaming delegate.
    Delegate(Box<dyn HttpMessageDelegate>),
    /// A whole-request handler: the head, and the body collected here.
    Whole {
        head: Option<crate::http1connection::RequestHead>,
        body: BytesMut,
    },
}

impl Target {
    fn connection_closed(self) {
        if let Target::Delegate(delegate) = self
            && let Err(msg) = catch(|| delegate.on_connection_close())
        {
            log::error!("panic in on_connection_close: {msg}");
        }
    }
}

/// What answers the request once it has arrived.
enum Handler {
    Steps(LocalBoxFuture<()>),
    Whole(LocalBoxFuture<Response>, ResponseWriter),
    Done,
}

/// Collects a body for a whole-request handler.
struct Collect<'a>(&'a mut BytesMut);

impl HttpMessageDelegate for Collect<'_> {
    fn headers_received(&mut self, _head: crate::http1connection::RequestHead, _: &RequestContext) {
    }

    fn data_received(&mut self, chunk: Bytes) -> Option<LocalBoxFuture<()>> {
        self.0.extend_from_slice(&chunk);
        None
    }

    fn finish(self: Box<Self>, _writer: ResponseWriter) -> LocalBoxFuture<()> {
        Box::pin(async {})
    }
}

/// What [`Conn::next_head`] found in the read buffer.
#[expect(
    clippy::large_enum_variant,
    reason = "the head is moved once per request; boxing it would allocate"
)]
enum HeadStep {
    Head(crate::http1connection::RequestHead),
    Wait,
    Close,
    Reject(Box<ParseError>),
}

/// State of the response being written.
#[derive(Default)]
struct ResponseState {
    ctx: Option<ResponseContext>,
    encoder: Option<BodyEncoder>,
    status: u16,
    headers_written: bool,
    finished: bool,
    /// Framing went wrong (a handler wrote too much or too little): close afterwards.
    must_close: bool,
}

pub(crate) struct Conn {
    io_loop: IoLoop,
    stream: IoStream,
    server: Rc<ServerShared>,
    peer: Option<SocketAddr>,
    tls: bool,
    response: RefCell<ResponseState>,
    out: RefCell<BytesMut>,
    deadline: Cell<Option<Instant>>,
    timer: Cell<Option<(Instant, TimeoutHandle)>>,
    timed_out: Cell<bool>,
    /// When the current request's first byte arrived (loop clock).
    request_start: Cell<Instant>,
    /// Waiting for a request with nothing buffered: shutdown may close it at once.
    idle: Cell<bool>,
    /// The deadline is the idle one, watched by the server's sweep instead of a timer.
    swept: Cell<bool>,
    /// A handler took the stream over ([`ResponseWriter::detach`]): stop serving and
    /// leave the stream open.
    detached: Cell<bool>,
    /// Set by [`close`](Conn::close); wakes the task if it waits on the delegate.
    force_closed: Cell<bool>,
    close_waker: Cell<Option<Waker>>,
    /// Numbers the request being answered (0: none); a [`ResponseWriter`] holds the
    /// number of its request and is refused once that request is over.
    request_seq: Cell<u32>,
    next_seq: Cell<u32>,
    /// How much of a partial head was already searched for its end, and whether its
    /// request line was complete: a head arriving in pieces is not re-parsed from
    /// the start for every piece.
    head_scan: Cell<u32>,
    head_line_seen: Cell<bool>,
}

impl Conn {
    pub(crate) fn new(
        stream: IoStream,
        server: Rc<ServerShared>,
        peer: Option<SocketAddr>,
        tls: bool,
    ) -> Rc<Conn> {
        Rc::new(Conn {
            io_loop: IoLoop::current(),
            stream,
            server,
            peer,
            tls,
            response: RefCell::new(ResponseState::default()),
            out: RefCell::new(BytesMut::new()),
            deadline: Cell::new(None),
            timer: Cell::new(None),
            timed_out: Cell::new(false),
            request_start: Cell::new(Instant::now()),
            idle: Cell::new(false),
            swept: Cell::new(false),
            detached: Cell::new(false),
            force_closed: Cell::new(false),
            close_waker: Cell::new(None),
            request_seq: Cell::new(0),
            next_seq: Cell::new(1),
            head_scan: Cell::new(0),
            head_line_seen: Cell::new(false),
        })
    }

    /// Serves the connection until it closes.
    pub(crate) async fn serve(self: Rc<Self>) {
        /// Cleans up however the task ends: returning, or dropped with the loop.
        struct Cleanup(Rc<Conn>, usize);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                let conn = &self.0;
                conn.server.unregister(self.1);
                conn.deadline.set(None);
                if let Some((_, h)) = conn.timer.take() {
                    conn.io_loop.remove_timeout(h);
                }
                if let Ok(mut out) = conn.out.try_borrow_mut() {
                    return_buffer(std::mem::take(&mut *out));
                }
                if !conn.detached.get() {
                    conn.stream.close();
                }
            }
        }
        let key = self.server.register(Rc::downgrade(&self));
        let _cleanup = Cleanup(self.clone(), key);
        if let Err(e) = self.stream.set_nodelay(true) {
            log::debug!("set_nodelay: {e}");
        }
        self.run().await;
    }

    async fn run(self: &Rc<Self>) {
        let chunk_size = self.server.settings.params.chunk_size.max(1);
        loop {
            // Boxed so that an idle connection's task holds only the small state of
            // waiting for a head, not the larger one of handling a request (nor the
            // head itself: it is moved into the box within this statement).
            let handling = match self.read_head().await {
                Some(head) => Box::pin(self.handle_request(head)),
                None => return,
            };
            if !handling.await {
                if self.detached.get() {
                    return;
                }
                // The last write gets a deadline too: a peer that never reads must not
                // keep the connection forever.
                self.set_idle_deadline();
                let _ = self.flush_output().await;
                return;
            }
            // Pipelined requests wait while the peer is not reading what we already
            // answered, so a few bytes in cannot make us buffer unbounded output.
            if self.out.borrow().len() >= chunk_size {
                drop(self.queue_output());
            }
            if self.stream.write_buffer_len() >= chunk_size {
                self.set_idle_deadline();
                if self.flush_output().await.is_err() {
                    return;
                }
            }
        }
    }

    /// Closes the connection now (forced shutdown, `close_all_connections`).
    pub(crate) fn close(&self) {
        self.stream.close();
        self.force_closed.set(true);
        if let Some(w) = self.close_waker.take() {
            w.wake();
        }
    }

    /// Awaits `fut` unless [`close`](Conn::close) is called first (`None`): a
    /// delegate's future does not watch the stream, so without this a forced close
    /// would wait for the handler and `shutdown` / `close_all_connections` would hang.
    ///
    /// The first time `fut` has to wait, the responses already finished go out: a
    /// pipelined response is not held back by a slow handler after it.
    async fn unless_closed<F: Future>(&self, fut: F) -> Option<F::Output> {
        let mut fut = pin!(fut);
        let mut flushed = false;
        std::future::poll_fn(|cx| {
            if let Poll::Ready(v) = fut.as_mut().poll(cx) {
                self.close_waker.set(None);
                return Poll::Ready(Some(v));
            }
            if self.force_closed.get() {
                return Poll::Ready(None);
            }
            if !flushed {
                flushed = true;
                drop(self.queue_output());
            }
            self.close_waker.set(Some(cx.waker().clone()));
            Poll::Pending
        })
        .await
    }

    fn set_idle_deadline(self: &Rc<Self>) {
        let now = self.io_loop.time();
        let timeout = self.server.settings.idle_connection_timeout;
        self.set_deadline(timeout.map(|t| now + t));
    }

    /// Closes the connection if it is waiting for a request with nothing buffered.
    pub(crate) fn close_if_idle(&self) -> bool {
        if self.idle.get() {
            self.stream.close();
            true
        } else {
            false
        }
    }

    // ---- timeouts -------------------------------------------------------------------

    fn set_deadline(self: &Rc<Self>, deadline: Option<Instant>) {
        self.deadline.set(deadline);
        self.swept.set(false);
        let Some(at) = deadline else { return };
        match self.timer.get() {
            // An armed timer that fires no later re-arms itself for the new deadline.
            Some((armed, _)) if armed <= at => {}
            other => {
                if let Some((_, h)) = other {
                    self.io_loop.remove_timeout(h);
                }
                self.arm(at);
            }
        }
    }

    fn arm(self: &Rc<Self>, at: Instant) {
        let weak: Weak<Conn> = Rc::downgrade(self);
        let h = self.io_loop.call_at(at, move || {
            if let Some(conn) = weak.upgrade() {
                conn.on_timer();
            }
        });
        self.timer.set(Some((at, h)));
    }

    fn on_timer(self: &Rc<Self>) {
        self.timer.set(None);
        match self.deadline.get() {
            None => {}
            // A later deadline: re-arm, unless the sweep watches it.
            Some(d) if d > self.io_loop.time() && !self.swept.get() => self.arm(d),
            Some(d) if d > self.io_loop.time() => {}
            Some(_) => self.time_out(),
        }
    }

    fn time_out(&self) {
        self.timed_out.set(true);
        self.stream.close();
    }

    /// Called by the server's periodic sweep: closes the connection if its idle
    /// deadline has passed.
    pub(crate) fn sweep(&self, now: Instant) {
        if self.swept.get() && self.deadline.get().is_some_and(|d| d <= now) {
            self.time_out();
        }
    }

    // ---- reading --------------------------------------------------------------------

    /// Reads the next request head; `None` when the connection should close.
    async fn read_head(self: &Rc<Self>) -> Option<crate::http1connection::RequestHead> {
        let mut started = false;
        loop {
            // The parse happens in a plain function so that its large result never
            // lives across an await: this future is what an idle connection holds.
            let rejected = match self.next_head(&mut started) {
                HeadStep::Head(head) => return Some(head),
                HeadStep::Close => return None,
                HeadStep::Wait => None,
                HeadStep::Reject(e) => Some(e),
            };
            // Awaited outside the match, whose scrutinee (a whole head) would otherwise
            // be kept in this future's state.
            if let Some(e) = rejected {
                Box::pin(self.reject(&e)).await;
                return None;
            }
            if self.flush_before_wait().await.is_err() {
                return None;
            }
            // A shutdown that began while we flushed closes an idle connection now.
            if !started && self.server.shutting_down() {
                return None;
            }
            self.idle.set(!started);
            if !started {
                return_buffer(std::mem::take(&mut *self.out.borrow_mut()));
            }
            let filled = self.stream.fill_read_buffer().await;
            self.idle.set(false);
            if filled.is_err() {
                if started && self.timed_out.get() {
                    log::info!("{}: timed out reading a request head", self.peer_name());
                }
                return None;
            }
        }
    }

    /// Parses the buffered input: a whole head, an error, or wait for more (setting the
    /// header or idle deadline).
    fn next_head(self: &Rc<Self>, started: &mut bool) -> HeadStep {
        let settings = &self.server.settings;
        let params = &settings.params;
        let parsed = self.stream.with_read_buffer(|buf| {
            if buf.is_empty() {
                return None;
            }
            if !self.head_may_be_complete(buf, params.max_header_size) {
                return Some(Ok(Parsed::Partial));
            }
            Some(parse_request_layout(buf, params))
        });
        match parsed {
            Some(Ok(Parsed::Complete(layout))) => {
                if !*started {
                    self.begin_request();
                }
                let raw = self.stream.take_read_buffer(layout.head_len);
                let head = layout.attach(raw);
                self.deadline.set(None);
                self.head_scan.set(0);
                self.head_line_seen.set(false);
                HeadStep::Head(head)
            }
            Some(Ok(Parsed::Partial)) => {
                if !*started {
                    *started = true;
                    self.begin_request();
                    let now = self.io_loop.time();
                    self.set_deadline(params.header_timeout.map(|t| now + t));
                }
                HeadStep::Wait
            }
            None => {
                if self.server.shutting_down() {
                    return HeadStep::Close;
                }
                let now = self.io_loop.time();
                // Waiting between requests: the server's sweep watches this deadline, so
                // an idle connection owns no timer.
                self.deadline
                    .set(settings.idle_connection_timeout.map(|t| now + t));
                self.swept.set(true);
                HeadStep::Wait
            }
            Some(Err(e)) => HeadStep::Reject(Box::new(e)),
        }
    }

    /// Whether the buffer (a partial head the last time we looked) may now hold a
    /// whole head or break a limit, judged from the new bytes only; false means
    /// parsing again would only say "partial".
    fn head_may_be_complete(&self, buf: &[u8], max_header_size: usize) -> bool {
        let scanned = self.head_scan.get() as usize;
        self.head_scan
            .set(u32::try_from(buf.len()).unwrap_or(u32::MAX));
        if scanned == 0 || scanned > buf.len() || buf.len() > max_header_size {
            return true;
        }
        // Blank lines before a request are skipped by the parser; let it see them.
        if buf.first().is_some_and(|&b| b == b'\r' || b == b'\n') {
            return true;
        }
        let fresh = &buf[scanned.saturating_sub(3)..];
        if !self.head_line_seen.get() {
            // The request line's own limit (414) is checked by the parser until the
            // line is complete.
            if fresh.contains(&b'\n') {
                self.head_line_seen.set(true);
            }
            return true;
        }
        fresh.windows(2).any(|w| w == b"\n\n" || w == b"\n\r")
    }

    fn begin_request(&self) {
        self.head_scan.set(0);
        self.head_line_seen.set(false);
        *self.response.borrow_mut() = ResponseState::default();
        self.request_start.set(self.io_loop.time());
    }

    /// Answers a request that could not be parsed with its status, then closes.
    async fn reject(self: &Rc<Self>, e: &ParseError) {
        log::info!("Malformed HTTP message from {}: {e}", self.peer_name());
        self.with_out(|out| encode_error_response(e.status(), out));
        let _ = self.flush_output().await;
    }

    fn peer_name(&self) -> String {
        match self.peer {
            Some(a) => a.ip().to_string(),
            None => "unix socket".to_string(),
        }
    }

    /// The client address and scheme for this request, with `xheaders` applied (reset
    /// for every request).
    fn request_context(&self, headers: &HttpHeaders) -> RequestContext {
        let settings = &self.server.settings;
        let mut remote_ip = self.peer.map(|a| a.ip());
        let mut protocol = if self.tls { "https" } else { "http" };
        if settings.xheaders {
            let forwarded = headers.get_joined("X-Forwarded-For");
            let mut candidate = None;
            if let Some(list) = forwarded.as_deref() {
                for part in list.rsplit(',') {
                    let part = part.trim();
                    candidate = Some(part);
                    let trusted = part
                        .parse::<IpAddr>()
                        .is_ok_and(|ip| settings.trusted_downstream.contains(&ip));
                    if !trusted {
                        break;
                    }
                }
            }
            let chosen = headers.get("X-Real-Ip").map(str::trim).or(candidate);
            if let Some(ip) = chosen.and_then(|s| s.parse::<IpAddr>().ok()) {
                remote_ip = Some(ip);
            }
            let scheme = headers
                .get("X-Scheme")
                .or_else(|| headers.get("X-Forwarded-Proto"));
            if let Some(s) = scheme {
                match s.rsplit(',').next().map(str::trim) {
                    Some("http") => protocol = "http",
                    Some("https") => protocol = "https",
                    _ => {}
                }
            }
        }
        RequestContext {
            remote_ip,
            protocol,
            address: self.peer,
            start: self.request_start.get(),
        }
    }

    /// Handles one request; returns whether the connection may carry another.
    async fn handle_request(
        self: &Rc<Self>,
        mut head: crate::http1connection::RequestHead,
    ) -> bool {
        let settings = &self.server.settings;
        let params = &settings.params;
        let context = self.request_context(head.headers());
        self.response.borrow_mut().ctx = Some(head.response_context());
        let body = head.body;
        let expect_continue = head.expect_continue && body != BodyKind::Empty;
        let gzip = params.decompress && head.is_gzip_body();
        if gzip {
            // The delegate sees the decoded body, as Tornado's _GzipMessageDelegate does.
            let coding = head
                .headers()
                .get("Content-Encoding")
                .unwrap_or("gzip")
                .to_string();
            head.headers_mut().remove("Content-Encoding");
            head.headers_mut().remove("Content-Length");
            head.headers_mut()
                .add("X-Consumed-Content-Encoding", &coding);
        }
        // The access log line needs the target after the head has gone to the delegate;
        // copy it only when someone will read the line.
        let method = head.method().clone();
        let summary = log::log_enabled!(target: "tornado.access", log::Level::Info)
            .then(|| format!("{} {}", head.method(), head.uri()));

        // A handler of whole requests (a closure) gets the request straight from here;
        // a streaming delegate gets it in steps.
        let mut target = if self.server.delegate.takes_whole_requests() {
            Target::Whole {
                head: Some(head),
                body: BytesMut::new(),
            }
        } else {
            let delegate = catch(|| self.server.delegate.clone().start_request(&context));
            let mut delegate = match delegate {
                Ok(d) => d,
                Err(msg) => {
                    log::error!("panic in start_request: {msg}");
                    self.send_internal_error();
                    return false;
                }
            };
            if let Err(msg) = catch(|| delegate.headers_received(head, &context)) {
                log::error!("panic in headers_received: {msg}");
                self.send_internal_error();
                return false;
            }
            Target::Delegate(delegate)
        };
        if expect_continue {
            self.with_out(|out| out.extend_from_slice(CONTINUE_RESPONSE));
            if self.flush_output().await.is_err() {
                target.connection_closed();
                return false;
            }
        }
        if body != BodyKind::Empty {
            let now = self.io_loop.time();
            self.set_deadline(params.body_timeout.map(|t| now + t));
            // Boxed: reading a body needs a large state (decoders, gzip) that would
            // otherwise sit in every connection's task, idle or not.
            let read = match &mut target {
                Target::Delegate(delegate) => {
                    Box::pin(self.read_body(body, gzip, &mut **delegate)).await
                }
                Target::Whole { body: buf, .. } => {
                    let mut sink = Collect(buf);
                    Box::pin(self.read_body(body, gzip, &mut sink)).await
                }
            };
            match read {
                Ok(()) => self.deadline.set(None),
                Err(BodyError::Parse(e)) => {
                    target.connection_closed();
                    Box::pin(self.reject(&e)).await;
                    return false;
                }
                Err(BodyError::Closed) => {
                    target.connection_closed();
                    return false;
                }
                Err(BodyError::Panicked(msg)) => {
                    log::error!("panic in data_received: {msg}");
                    self.send_internal_error();
                    return false;
                }
            }
        }

        let seq = self.next_seq.get();
        // Never 0 (which means "no request"), even after wrapping.
        self.next_seq.set(seq.checked_add(1).unwrap_or(1));
        self.request_seq.set(seq);
        let writer = ResponseWriter {
            conn: self.clone(),
            seq,
            context: context.clone(),
        };
        let handler = match target {
            Target::Delegate(delegate) => catch(|| delegate.finish(writer)).map(Handler::Steps),
            Target::Whole { head, body } => {
                match crate::delegate::whole_request(head, body, &context) {
                    Ok(request) => {
                        let server = &self.server;
                        catch(|| server.delegate.clone().handle_whole(request))
                            .map(|fut| Handler::Whole(fut, writer))
                    }
                    Err(e) => {
                        log::info!("bad request from {}: {e}", self.peer_name());
                        writer.send_error(e.status());
                        Ok(Handler::Done)
                    }
                }
            }
        };
        let outcome = match handler {
            Ok(Handler::Steps(fut)) => self.unless_closed(catch_panic(fut)).await,
            Ok(Handler::Whole(fut, writer)) => {
                let answered = self.unless_closed(catch_panic(fut)).await;
                answered.map(|r| r.map(|response| writer.send(response)))
            }
            Ok(Handler::Done) => Some(Ok(())),
            Err(msg) => Some(Err(msg)),
        };
        // Force-closed while the handler ran: it was dropped, the connection is gone.
        let Some(outcome) = outcome else {
            return false;
        };
        if self.detached.get() {
            // The stream belongs to the handler now (an upgrade): no 500, no more
            // requests, and cleanup leaves the stream open.
            self.request_seq.set(0);
            self.access_log(summary.as_deref(), &context);
            return false;
        }
        if let Err(msg) = outcome {
            log::error!(
                "Uncaught panic in handler for {}: {msg}",
                summary.as_deref().unwrap_or(method.as_str())
            );
            if self.headers_written() {
                self.response.borrow_mut().must_close = true;
            } else {
                self.send_internal_error();
            }
        } else if !self.response_finished() && self.stream.closed() {
            // The client left (a long poll that gave up): nobody to answer.
            self.response.borrow_mut().must_close = true;
        } else if !self.response_finished() {
            if self.headers_written() {
                log::error!("handler returned without finishing its response; closing");
                self.response.borrow_mut().must_close = true;
            } else {
                log::error!("handler returned without a response; answering 500");
                self.send_internal_error();
            }
        }
        // Writers kept past this point are refused: the next request is not theirs.
        self.request_seq.set(0);
        self.access_log(summary.as_deref(), &context);
        let st = self.response.borrow();
        st.finished
            && !st.must_close
            && st.encoder.as_ref().is_some_and(|e| e.keep_alive())
            && !self.server.shutting_down()
            && !self.stream.closed()
    }

    fn access_log(&self, summary: Option<&str>, context: &RequestContext) {
        let status = self.response.borrow().status;
        let Some(summary) = summary else {
            // Info is off: errors are still worth a line, without the target.
            if status >= 500 && log::log_enabled!(target: "tornado.access", log::Level::Error) {
                log::error!(target: "tornado.access", "{status} ({:?})", context.remote_ip);
            }
            return;
        };
        let level = match status {
            0..=399 => log::Level::Info,
            400..=499 => log::Level::Warn,
            _ => log::Level::Error,
        };
        if !log::log_enabled!(target: "tornado.access", level) {
            return;
        }
        let elapsed = Instant::now().saturating_duration_since(context.start);
        let ip = context
            .remote_ip
            .map_or_else(|| "unix".to_string(), |ip| ip.to_string());
        log::log!(
            target: "tornado.access",
            level,
            "{status} {summary} ({ip}) {:.2}ms",
            elapsed.as_secs_f64() * 1000.0
        );
    }

    async fn read_body(
        self: &Rc<Self>,
        kind: BodyKind,
        gzip: bool,
        delegate: &mut dyn HttpMessageDelegate,
    ) -> Result<(), BodyError> {
        let params = &self.server.settings.params;
        let mut gz = gzip.then(|| GzipDecoder::new(params.max_body_size));
        match kind {
            BodyKind::Empty => {}
            BodyKind::Length(n) => {
                let mut remaining = n;
                while remaining > 0 {
                    let available = self.stream.read_buffer_len();
                    if available == 0 {
                        self.fill().await?;
                        continue;
                    }
                    let take = remaining
                        .min(available as u64)
                        .min(params.chunk_size.max(1) as u64)
                        as usize;
                    let chunk = self.stream.take_read_buffer(take);
                    remaining -= take as u64;
                    self.deliver(chunk, &mut gz, delegate).await?;
                }
            }
            BodyKind::Chunked => {
                let mut decoder = ChunkedDecoder::new(params.max_body_size);
                loop {
                    let step = self
                        .stream
                        .with_read_buffer(|buf| decoder.decode(buf))
                        .map_err(BodyError::Parse)?;
                    if step.consumed > 0 {
                        let taken = self.stream.take_read_buffer(step.consumed);
                        if !step.data.is_empty() {
                            let data = taken.slice(step.data.clone());
                            let mut start = 0;
                            while start < data.len() {
                                let end = (start + params.chunk_size.max(1)).min(data.len());
                                self.deliver(data.slice(start..end), &mut gz, delegate)
                                    .await?;
                                start = end;
                            }
                        }
                    }
                    if step.done {
                        break;
                    }
                    if step.consumed == 0 {
                        self.fill().await?;
                    }
                }
            }
        }
        if let Some(gz) = gz {
            let mut rest = Vec::new();
            gz.finish(&mut rest).map_err(BodyError::Parse)?;
            if !rest.is_empty() {
                self.hand_over(Bytes::from(rest), delegate).await?;
            }
        }
        Ok(())
    }

    async fn fill(&self) -> Result<(), BodyError> {
        self.stream
            .fill_read_buffer()
            .await
            .map(|_| ())
            .map_err(|_| BodyError::Closed)
    }

    async fn deliver(
        &self,
        chunk: Bytes,
        gz: &mut Option<GzipDecoder>,
        delegate: &mut dyn HttpMessageDelegate,
    ) -> Result<(), BodyError> {
        match gz {
            None => self.hand_over(chunk, delegate).await,
            Some(gz) => {
                let mut out = Vec::new();
                gz.decompress(&chunk, &mut out).map_err(BodyError::Parse)?;
                if out.is_empty() {
                    return Ok(());
                }
                self.hand_over(Bytes::from(out), delegate).await
            }
        }
    }

    async fn hand_over(
        &self,
        chunk: Bytes,
        delegate: &mut dyn HttpMessageDelegate,
    ) -> Result<(), BodyError> {
        match catch(|| delegate.data_received(chunk)) {
            Ok(None) => Ok(()),
            Ok(Some(wait)) => match self.unless_closed(catch_panic(wait)).await {
                Some(r) => r.map_err(BodyError::Panicked),
                None => Err(BodyError::Closed),
            },
            Err(msg) => Err(BodyError::Panicked(msg)),
        }
    }

    // ---- writing --------------------------------------------------------------------

    fn with_out<R>(&self, f: impl FnOnce(&mut BytesMut) -> R) -> R {
        let mut out = self.out.borrow_mut();
        if out.capacity() == 0 {
            *out = take_buffer();
        }
        f(&mut out)
    }

    /// Hands the output buffer to the stream (which writes at once what the socket
    /// takes); the buffer is kept for reuse.
    fn queue_output(&self) -> Option<tornado_iostream::WriteFuture> {
        let mut out = self.out.borrow_mut();
        if out.is_empty() {
            return None;
        }
        let fut = self.stream.write(&out);
        out.clear();
        Some(fut)
    }

    /// Sends the output before waiting for input; waits for the socket only when it did
    /// not take everything (a slow reader), so output never piles up unbounded.
    async fn flush_before_wait(&self) -> io::Result<()> {
        let fut = self.queue_output();
        if self.stream.write_buffer_len() > 0 {
            match fut {
                Some(f) => f.await?,
                None => self.stream.flush().await?,
            }
        }
        Ok(())
    }

    pub(crate) async fn flush_output(&self) -> io::Result<()> {
        match self.queue_output() {
            Some(f) => f.await,
            None => self.stream.flush().await,
        }
    }

    pub(crate) fn write_headers(
        &self,
        status: StatusCode,
        headers: &HttpHeaders,
    ) -> Result<(), OutputError> {
        self.write_head(status, headers, None)
    }

    /// Writes the head; `body_len` is the length of a whole body given at once (its
    /// `Content-Length` is written unless the headers carry one).
    fn write_head(
        &self,
        status: StatusCode,
        headers: &HttpHeaders,
        body_len: Option<u64>,
    ) -> Result<(), OutputError> {
        let mut st = self.response.borrow_mut();
        if st.headers_written {
            return Err(OutputError::new(
                OutputErrorKind::InvalidHeader,
                "the response headers were already written",
            ));
        }
        let Some(mut ctx) = st.ctx else {
            return Err(OutputError::new(
                OutputErrorKind::InvalidHeader,
                "no request to answer",
            ));
        };
        if self.server.shutting_down() {
            ctx.keep_alive = false;
        }
        let loop_now = self.io_loop.time();
        let encoder = self.with_out(|out| {
            DATES.with(|d| {
                let (dates, valid_until) = &mut *d.borrow_mut();
                // The wall clock is read at most once a second: until the second ends
                // (judged by the loop's cached clock, which never runs ahead of it) the
                // cached text is current.
                if valid_until.is_none_or(|v| loop_now >= v) {
                    let now = SystemTime::now();
                    dates.get(now);
                    let into_second = now
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.subsec_nanos());
                    let left = Duration::from_nanos(u64::from(1_000_000_000 - into_second));
                    *valid_until = Some(loop_now + left);
                }
                let date = dates.text();
                match body_len {
                    Some(n) => {
                        encode_response_head_with_length(out, &ctx, status, headers, date, n)
                    }
                    None => encode_response_head(out, &ctx, status, headers, date),
                }
            })
        })?;
        st.encoder = Some(encoder);
        st.headers_written = true;
        st.status = status.as_u16();
        Ok(())
    }

    pub(crate) fn write_body(&self, chunk: &[u8]) -> Result<(), OutputError> {
        let mut st = self.response.borrow_mut();
        let Some(encoder) = st.encoder.as_mut() else {
            return Err(OutputError::new(
                OutputErrorKind::InvalidHeader,
                "write before write_headers",
            ));
        };
        let result = self.with_out(|out| encoder.write(chunk, out));
        if let Err(e) = &result
            && matches!(e.kind(), OutputErrorKind::TooMuchData)
        {
            st.must_close = true;
        }
        drop(st);
        if self.out.borrow().len() >= self.server.settings.params.chunk_size {
            // Dropping the future does not cancel the write.
            drop(self.queue_output());
        }
        result
    }

    pub(crate) fn finish_response(&self) -> Result<(), OutputError> {
        let mut st = self.response.borrow_mut();
        let Some(encoder) = st.encoder.as_mut() else {
            return Err(OutputError::new(
                OutputErrorKind::InvalidHeader,
                "finish before write_headers",
            ));
        };
        let result = self.with_out(|out| encoder.finish(out));
        match &result {
            Ok(()) => st.finished = true,
            Err(_) => {
                st.must_close = true;
                st.finished = true;
            }
        }
        result
    }

    pub(crate) fn send_response(&self, response: Response) -> Result<(), OutputError> {
        let head_request = self.response.borrow().ctx.is_some_and(|c| c.head_request);
        let code = response.status.as_u16();
        let bodyless = code < 200 || code == 204 || code == 304;
        self.write_head(
            response.status,
            &response.headers,
            Some(response.body.len() as u64),
        )?;
        if !head_request && !bodyless && !response.body.is_empty() {
            self.write_body(&response.body)?;
        }
        self.finish_response()
    }

    fn send_internal_error(&self) {
        if self.headers_written() {
            self.response.borrow_mut().must_close = true;
            return;
        }
        if let Err(e) = self.send_response(Response::new(StatusCode::INTERNAL_SERVER_ERROR)) {
            log::error!("cannot send 500: {e}");
            self.response.borrow_mut().must_close = true;
        }
    }

    /// Hands the stream to the handler answering request `seq`: what was written so far
    /// is queued on the stream first, and the connection stops serving once the
    /// handler's future completes.
    pub(crate) fn detach(&self, seq: u32) -> Option<IoStream> {
        if !self.answering(seq) || self.detached.get() || self.stream.closed() {
            return None;
        }
        drop(self.queue_output());
        self.detached.set(true);
        self.deadline.set(None);
        Some(self.stream.clone())
    }

    /// Whether a writer for request `seq` may still write.
    pub(crate) fn answering(&self, seq: u32) -> bool {
        seq != 0 && self.request_seq.get() == seq
    }

    pub(crate) fn headers_written(&self) -> bool {
        self.response.borrow().headers_written
    }

    pub(crate) fn response_finished(&self) -> bool {
        self.response.borrow().finished
    }

    pub(crate) fn stream(&self) -> &IoStream {
        &self.stream
    }

    pub(crate) fn stream_closed(&self) -> bool {
        self.stream.closed()
    }
}
