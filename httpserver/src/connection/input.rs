//! Reading: request heads and body events from the stream's buffer, through the
//! state machine; and the drain after an error response.

use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use tornado_gen::with_timeout;

use super::timeouts::deadline_after;
use super::{Conn, Phase};
use crate::error::ParseError;
use crate::http1connection::{RequestHead, ServerEvent};

/// After an error response the connection stops sending and reads (and drops) what the
/// client still sends for at most this long before it closes (RFC 9112 §9.6), so the
/// client reads the status instead of a reset.
pub const ERROR_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// The most bytes drained after an error response before closing anyway.
pub const ERROR_DRAIN_LIMIT: usize = 256 * 1024;

/// Why reading a body stopped.
pub(crate) enum BodyError {
    /// Bad framing or a limit: answer with its status and close.
    Parse(ParseError),
    /// The stream closed (peer gone, timeout, shutdown).
    Closed,
}

/// What [`Conn::next_head`] found in the read buffer.
enum HeadStep {
    Head(RequestHead),
    Wait,
    Close,
    Reject(Box<ParseError>),
}

impl Conn {
    /// Reads the next request head; `None` when the connection should close.
    pub(super) async fn read_head(self: &Rc<Self>) -> Option<RequestHead> {
        loop {
            // The parse happens in a plain function so that its large result never
            // lives across an await: this future is what an idle connection holds.
            let rejected = match self.next_head() {
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
            let idle = self.proto.borrow().is_idle() && self.stream.read_buffer_len() == 0;
            // A shutdown that began while we flushed closes an idle connection now.
            if idle && self.shutting_down() {
                return None;
            }
            if idle {
                self.phase.set(Phase::Idle);
                super::output::return_buffer(std::mem::take(&mut *self.out.borrow_mut()));
            }
            let filled = self.stream.fill_read_buffer().await;
            if self.phase.get() == Phase::Idle {
                self.phase.set(Phase::Busy);
            }
            if filled.is_err() {
                if !idle && self.phase.get() == Phase::TimedOut {
                    log::info!("{}: timed out reading a request head", self.peer_name());
                }
                return None;
            }
        }
    }

    /// Parses the buffered input: a whole head, an error, or wait for more (setting the
    /// header or idle deadline).
    fn next_head(self: &Rc<Self>) -> HeadStep {
        let params = &self.shared.settings.params;
        let mut proto = self.proto.borrow_mut();
        if !proto.wants_input() {
            return HeadStep::Close;
        }
        let was_idle = proto.is_idle();
        loop {
            let parse = match self.stream.with_read_buffer(|buf| proto.parse(buf, params)) {
                Ok(p) => p,
                Err(e) => return HeadStep::Reject(Box::new(e)),
            };
            if parse.is_empty() {
                break;
            }
            // The head's bytes are split off the buffer (no copy) and viewed by the head.
            let taken = self.stream.take_read_buffer(parse.consumed());
            match proto.complete(parse, taken, params) {
                Ok(Some(ServerEvent::Head(head))) => {
                    if was_idle {
                        self.request_start.set(self.io_loop.time());
                    }
                    self.deadline.set(None);
                    return HeadStep::Head(head);
                }
                Ok(_) => {}
                Err(e) => return HeadStep::Reject(Box::new(e)),
            }
        }
        let started = !proto.is_idle();
        drop(proto);
        if started {
            if was_idle {
                // The first bytes of a head: its deadline runs from now.
                let now = self.io_loop.time();
                self.request_start.set(now);
                self.set_deadline(deadline_after(
                    now,
                    self.shared.settings.params.header_timeout,
                ));
            }
        } else {
            if self.shutting_down() {
                return HeadStep::Close;
            }
            // Waiting between requests: the server's sweep watches this deadline, so an
            // idle connection owns no timer.
            self.set_swept_deadline();
        }
        HeadStep::Wait
    }

    /// The next body event: data, the end, or `None` after waiting for input that did
    /// not come (the stream closed).
    pub(crate) async fn next_body_event(self: &Rc<Self>) -> Result<ServerEvent, BodyError> {
        loop {
            if let Some(event) = self.poll_body()? {
                return Ok(event);
            }
            // A stalled body is closed after `body_timeout` without progress.
            let now = self.io_loop.time();
            self.set_deadline(deadline_after(
                now,
                self.shared.settings.params.body_timeout,
            ));
            if self.stream.fill_read_buffer().await.is_err() {
                return Err(BodyError::Closed);
            }
        }
    }

    /// For a request without a body, takes its end at once (what
    /// [`next_body_event`](Self::next_body_event) would give first) and returns `true`;
    /// `false` when there is a body to read.
    pub(crate) fn end_empty_body(&self) -> bool {
        let ended = self
            .proto
            .borrow_mut()
            .end_empty_body(&self.shared.settings.params);
        if ended {
            self.clear_deadline();
        }
        ended
    }

    fn poll_body(&self) -> Result<Option<ServerEvent>, BodyError> {
        let params = &self.shared.settings.params;
        let mut proto = self.proto.borrow_mut();
        loop {
            let parse = self
                .stream
                .with_read_buffer(|buf| proto.parse(buf, params))
                .map_err(BodyError::Parse)?;
            let empty = parse.is_empty();
            let taken = if parse.consumed() > 0 {
                self.stream.take_read_buffer(parse.consumed())
            } else {
                Bytes::new()
            };
            if let Some(event) = proto
                .complete(parse, taken, params)
                .map_err(BodyError::Parse)?
            {
                // Progress: the body deadline counts again from the next wait, not while
                // the handler works on this piece.
                drop(proto);
                self.clear_deadline();
                return Ok(Some(event));
            }
            if empty {
                return Ok(None);
            }
        }
    }

    /// Answers a request that could not be read with its status, then drains.
    pub(crate) async fn reject(self: &Rc<Self>, e: &ParseError) {
        self.answer_error(e);
        self.finish_and_close().await;
    }

    /// Logs `e` and queues its error response; the connection closes after it. A
    /// request handler then returns `false`, and the connection's loop writes, drains
    /// and closes (as [`reject`](Self::reject) does), so the handler's own future
    /// never holds that state.
    pub(crate) fn answer_error(&self, e: &ParseError) {
        log::info!("Malformed HTTP message from {}: {e}", self.peer_name());
        self.with_out(|out| self.proto.borrow_mut().write_error(e.status(), out));
    }

    /// Writes what is left (with a deadline, so a peer that never reads cannot keep the
    /// connection), then, if the connection closes because of an error while the client
    /// may still be sending, half-closes and drains before the task ends.
    pub(super) async fn finish_and_close(self: &Rc<Self>) {
        self.set_write_deadline();
        if self.flush_output().await.is_err() {
            return;
        }
        let status = self.proto.borrow().status();
        if status >= 400 && !self.stream.closed() {
            self.drain().await;
        }
    }

    /// Stops sending and drops what the client still sends, for at most
    /// [`ERROR_DRAIN_TIMEOUT`] or [`ERROR_DRAIN_LIMIT`] bytes, until it closes.
    async fn drain(&self) {
        if let Err(e) = self.stream.shutdown_write() {
            log::debug!("shutdown after an error response: {e}");
            return;
        }
        let mut drained = 0;
        let _ = with_timeout(ERROR_DRAIN_TIMEOUT, async {
            while drained < ERROR_DRAIN_LIMIT {
                let n = self.stream.read_buffer_len();
                self.stream.consume(n);
                drained += n;
                if self.stream.fill_read_buffer().await.is_err() {
                    break;
                }
            }
        })
        .await;
    }
}
