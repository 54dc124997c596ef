//! One request, from its head to the end of its answer: builds the
//! [`HttpServerRequest`], asks the delegate for its [`HttpMessageDelegate`], reads the
//! body the way that delegate chose (one path for buffering, closures and streaming
//! delegates alike), runs `finish`, and decides whether the connection goes on.
//!
//! Generic over the delegate's type, so the delegate's futures live inside the one
//! boxed future a request with a body gets; a delegate whose `finish` may wait long
//! ([`HttpMessageDelegate::FINISH_MAY_WAIT`]) has that boxed future freed before it
//! waits, its `finish` running in a [`Finishing`] the connection's task holds. For
//! such a delegate a request without a body (most requests) gets no future for
//! reading at all: it is started, and its `finish` handed over, as its head arrives.

use std::future::Future;
use std::net::IpAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use crate::connection::{BodyError, Conn, Phase, ResponseWriter, ServeRequest, Served, once};
use crate::delegate::{BodyMode, HttpMessageDelegate, HttpServerConnectionDelegate};
use crate::error::ParseError;
use crate::http1connection::{RequestHead, ServerEvent};
use crate::httputil::{COMPACT_BODY_MAX, HttpServerRequest};
use crate::response::Response;
use tornado_ioloop::panic_message;

fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| panic_message(&*p))
}

impl<D: HttpServerConnectionDelegate> ServeRequest for D {
    fn serve(self: Rc<Self>, conn: Rc<Conn>, head: RequestHead) -> Served {
        let begun = match begin(&conn, self, head) {
            Ok(begun) => begun,
            Err(goes_on) => return Served::Done(goes_on),
        };
        // Without a body to read (most requests), a delegate whose `finish` is handed
        // over starts it here: no future is made for reading the request.
        if D::Message::FINISH_MAY_WAIT
            && begun.mode == BodyMode::Buffer
            && (conn.response_finished() || conn.end_empty_body())
        {
            let Begun {
                request,
                message,
                writer,
                ending,
                ..
            } = begun;
            return hand_over(conn, ending, message, request, writer);
        }
        Served::Reading(Box::pin(read_and_finish(conn, begun)))
    }
}

/// A buffered body: most bodies arrive in one piece, which is kept as it is.
enum Collected {
    Empty,
    One(Bytes),
    Many(BytesMut),
}

impl Collected {
    fn push(&mut self, chunk: Bytes) {
        *self = match std::mem::replace(self, Collected::Empty) {
            Collected::Empty => Collected::One(chunk),
            Collected::One(first) => {
                let mut all = BytesMut::with_capacity(first.len() + chunk.len());
                all.extend_from_slice(&first);
                all.extend_from_slice(&chunk);
                Collected::Many(all)
            }
            Collected::Many(mut all) => {
                all.extend_from_slice(&chunk);
                Collected::Many(all)
            }
        }
    }

    /// The body. A small body that arrived in one piece is copied out of the
    /// connection's read buffer, of which it is a view, so that a request held for
    /// long (a long poll) does not keep that buffer alive; a larger one has a buffer of
    /// its own already.
    fn into_bytes(self) -> Bytes {
        match self {
            Collected::Empty => Bytes::new(),
            Collected::One(b) if b.len() <= COMPACT_BODY_MAX => Bytes::copy_from_slice(&b),
            Collected::One(b) => b,
            Collected::Many(all) => all.freeze(),
        }
    }
}

/// A request whose head was read and whose delegate was asked for its message.
struct Begun<M> {
    request: HttpServerRequest,
    message: M,
    mode: BodyMode,
    writer: ResponseWriter,
    ending: Ending,
}

/// Starts a request from its head: builds the [`HttpServerRequest`] and asks the
/// delegate for its message and how it takes the body. `Err(false)` when the request
/// was answered (an error) and the connection closes.
fn begin<D: HttpServerConnectionDelegate>(
    conn: &Rc<Conn>,
    delegate: Rc<D>,
    head: RequestHead,
) -> Result<Begun<D::Message>, bool> {
    let context = conn.request_context(head.headers());
    // The access log line needs the target after the head has gone to the request;
    // copy it only when someone will read the line.
    let summary = (conn.logs_access()
        && log::log_enabled!(target: "tornado.access", log::Level::Info))
    .then(|| format!("{} {}", head.method(), head.uri()));
    let method = head.method().clone();
    let mut request = match HttpServerRequest::new(head, Bytes::new(), context.start) {
        Ok(r) => r,
        Err(e) => {
            conn.answer_error(&e);
            return Err(false);
        }
    };
    request.remote_ip = context.remote_ip;
    request.protocol = context.protocol;

    let message = match catch(|| delegate.start_request(&request)) {
        Ok(m) => m,
        Err(msg) => return Err(panicked(conn, "start_request", &msg)),
    };
    let mode = match catch(|| message.body_mode()) {
        Ok(mode) => mode,
        Err(msg) => return Err(panicked(conn, "body_mode", &msg)),
    };
    // The answer starts at the head: a streaming delegate may answer before the body
    // (a refusal), through the writer that `finish` gets later.
    let seq = conn.begin_answer();
    let writer = ResponseWriter {
        conn: conn.clone(),
        seq,
    };
    Ok(Begun {
        request,
        message,
        mode,
        writer,
        ending: Ending {
            start: context.start,
            remote_ip: context.remote_ip,
            summary,
            method,
        },
    })
}

/// A delegate's step panicked before its request was read: logged, then 500 and the
/// connection closes. Returns that it does not go on.
#[cold]
#[inline(never)]
fn panicked(conn: &Conn, step: &str, msg: &str) -> bool {
    log::error!("panic in {step}: {msg}");
    fail(conn);
    false
}

/// Reads the rest of a request (its body, the way its delegate chose) and runs the
/// delegate's `finish`, or, when that may wait long, hands it over as a [`Finishing`]
/// for the connection's task to await once this future is freed.
async fn read_and_finish<M: HttpMessageDelegate>(conn: Rc<Conn>, begun: Begun<M>) -> Served {
    let Begun {
        mut request,
        mut message,
        mode,
        writer,
        ending,
    } = begun;
    if mode == BodyMode::Stream {
        let received = conn
            .run_guarded(&mut once(|| message.headers_received(&writer)))
            .await;
        if received != Some(Ok(())) {
            return abandon(&conn, "headers_received", received, message);
        }
    }
    // Answered from the head: no `100 Continue` and no body; the connection closes
    // after the response (draining what the client still sends, for an error).
    // Otherwise the handler is ready for the body, under the limit it has now: a
    // `Content-Length` above it is refused, and a client waiting for `100 Continue`
    // gets it.
    if !conn.response_finished() {
        match conn.accept_body() {
            Ok(true) => drop(conn.queue_output()),
            Ok(false) => {}
            Err(e) => return refuse_body(&conn, &e, message),
        }
    }

    let mut body = Collected::Empty;
    // A streaming delegate that answers while the body arrives (an error from
    // `data_received`) ends the reading too: the rest of the body is not wanted.
    while !conn.response_finished() {
        match conn.next_body_event().await {
            Ok(ServerEvent::Data(chunk)) => match mode {
                BodyMode::Buffer => body.push(chunk),
                BodyMode::Stream => {
                    let delivered = conn
                        .run_guarded(&mut once(|| message.data_received(chunk)))
                        .await;
                    if delivered != Some(Ok(())) {
                        return abandon(&conn, "data_received", delivered, message);
                    }
                }
            },
            Ok(ServerEvent::End) => break,
            // The state machine never yields a head inside a request; the client left.
            Ok(ServerEvent::Head(_)) | Err(BodyError::Closed) => {
                return abandon(&conn, "reading the body", None, message);
            }
            Err(BodyError::Parse(e)) => return refuse_body(&conn, &e, message),
        }
    }

    request.body = body.into_bytes();
    if mode == BodyMode::Buffer
        && !M::PARSES_BODY
        && !request.body.is_empty()
        && let Err(e) = request.parse_body()
    {
        log::info!("bad request body: {e}");
        connection_closed(message);
        writer.send(Response::new(e.status()));
        conn.end_answer();
        conn.access_log(ending.summary.as_deref(), ending.start, ending.remote_ip);
        return Served::Done(conn.goes_on());
    }
    if M::FINISH_MAY_WAIT {
        return hand_over(conn, ending, message, request, writer);
    }
    // The future is made in place by `run_guarded` (which catches a panic while it is
    // made), so it is held once.
    let outcome = conn
        .run_guarded(&mut once(move || message.finish(request, writer)))
        .await;
    Served::Done(ending.conclude(&conn, outcome))
}

/// Starts the `finish` of a delegate whose `finish` may wait long
/// ([`HttpMessageDelegate::FINISH_MAY_WAIT`]): handed to the connection's own task, so
/// that what reading the request took is freed while the handler waits.
fn hand_over<M: HttpMessageDelegate>(
    conn: Rc<Conn>,
    ending: Ending,
    message: M,
    request: HttpServerRequest,
    writer: ResponseWriter,
) -> Served {
    let started = catch(move || message.finish_boxed(request, writer));
    Served::Then(Finishing {
        conn,
        ending,
        started: Some(started),
    })
}

/// What the end of a request needs once the request itself has gone to the handler.
pub(crate) struct Ending {
    start: Instant,
    remote_ip: Option<IpAddr>,
    summary: Option<String>,
    method: http::Method,
}

impl Ending {
    /// After the delegate's `finish` (`None`: dropped because the connection closed):
    /// answers 500 if it panicked or left the response unfinished, and logs the
    /// request. Returns whether the connection goes on.
    fn conclude(&self, conn: &Conn, outcome: Option<Result<(), String>>) -> bool {
        // Closed while the handler ran (forced, or the client left): it was dropped.
        let Some(outcome) = outcome else {
            conn.end_answer();
            return false;
        };
        let summary = self.summary.as_deref();
        if conn.phase() == Phase::Detached {
            // The stream belongs to the handler now (an upgrade): no 500, no more
            // requests, and cleanup leaves the stream open.
            conn.end_answer();
            conn.access_log(summary, self.start, self.remote_ip);
            return false;
        }
        if let Err(msg) = outcome {
            log::error!(
                "Uncaught panic in handler for {}: {msg}",
                summary.unwrap_or(self.method.as_str())
            );
            conn.send_internal_error();
        } else if !conn.response_finished() {
            if conn.headers_written() {
                log::error!("handler returned without finishing its response; closing");
            } else {
                log::error!("handler returned without a response; answering 500");
            }
            conn.send_internal_error();
        }
        // Writers kept past this point are refused: the next request is not theirs.
        conn.end_answer();
        conn.access_log(summary, self.start, self.remote_ip);
        conn.goes_on()
    }
}

/// A handler's boxed `finish` future.
type HandlerFuture = Pin<Box<dyn Future<Output = ()>>>;

/// The end of a request whose `finish` may wait long ([`Served::Then`]): a plain
/// struct the connection's task awaits in place, so that a waiting request costs no
/// allocation beyond the handler's own boxed future. Resolves to whether the
/// connection goes on.
pub(crate) struct Finishing {
    conn: Rc<Conn>,
    ending: Ending,
    /// The handler's future (or the panic that making it raised); `None` once over.
    started: Option<Result<HandlerFuture, String>>,
}

impl Future for Finishing {
    type Output = bool;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        let this = self.get_mut();
        let outcome = match this.started.take() {
            Some(Ok(mut fut)) => match this.conn.poll_guarded(fut.as_mut(), cx) {
                Poll::Pending => {
                    this.started = Some(Ok(fut));
                    return Poll::Pending;
                }
                // The handler's future is dropped before the request is concluded.
                Poll::Ready(outcome) => outcome,
            },
            Some(Err(msg)) => Some(Err(msg)),
            None => panic!("Finishing polled after it completed"),
        };
        Poll::Ready(this.ending.conclude(&this.conn, outcome))
    }
}

/// A request given up while it was read, after `step` of the delegate's:
/// `Some(Err(_))`, the step panicked (500, then the connection closes); `None`, the
/// connection closed first (the delegate hears of it). No more requests follow.
fn abandon<M: HttpMessageDelegate>(
    conn: &Conn,
    step: &str,
    outcome: Option<Result<(), String>>,
    message: M,
) -> Served {
    conn.end_answer();
    match outcome {
        Some(Err(msg)) => {
            log::error!("panic in {step}: {msg}");
            fail(conn);
        }
        _ => connection_closed(message),
    }
    Served::Done(false)
}

/// A body that cannot be read (bad framing, over its limit): the delegate hears that
/// the request is over, and `e`'s status answers it (or, if the handler's response
/// has started, the connection closes after what went out). No more requests follow.
fn refuse_body<M: HttpMessageDelegate>(conn: &Conn, e: &ParseError, message: M) -> Served {
    let abandoned = abandon(conn, "reading the body", None, message);
    conn.answer_error(e);
    abandoned
}

/// Answers 500 (if no response head went out) and closes the connection after it: for
/// a request abandoned before its handler ran, whose body may still be arriving.
fn fail(conn: &Conn) {
    conn.close_after_response();
    conn.send_internal_error();
}

fn connection_closed<M: HttpMessageDelegate>(message: M) {
    if let Err(msg) = catch(|| message.on_connection_close()) {
        log::error!("panic in on_connection_close: {msg}");
    }
}
