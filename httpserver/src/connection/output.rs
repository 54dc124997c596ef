//! Writing: the connection's output buffer (pooled per thread), the `Date` cache, and
//! responses encoded by the state machine.

use std::cell::RefCell;
use std::fs::File;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use http::StatusCode;

use super::Conn;
use crate::error::{OutputError, OutputErrorKind};
use crate::httputil::{DateCache, HttpHeaders};
use crate::response::Response;

/// Output buffers kept per thread for connections to borrow while they answer.
const POOL_BUFFERS: usize = 256;
/// A pooled output buffer starts this large (one typical batch of responses).
const POOL_BUFFER_SIZE: usize = 8 * 1024;
/// Larger buffers are not pooled, so one big response does not pin memory.
const POOL_MAX_BUFFER: usize = 64 * 1024;
/// A whole response body at least this large goes to the stream as it is (no copy into
/// the output buffer); a smaller one is copied, which is cheaper than a second buffer.
pub const ZERO_COPY_BODY_MIN: usize = 16 * 1024;

thread_local! {
    /// The `Date` header: the formatter, its text as a `String` (so a response need
    /// not check it is UTF-8 again), and until when (by the loop's clock) it is current.
    static DATES: RefCell<(DateCache, String, Option<Instant>)> =
        RefCell::new((DateCache::new(), String::new(), None));
    static POOL: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

fn take_buffer() -> BytesMut {
    POOL.with(|p| p.borrow_mut().pop())
        .unwrap_or_else(|| BytesMut::with_capacity(POOL_BUFFER_SIZE))
}

pub(super) fn return_buffer(mut buf: BytesMut) {
    if buf.capacity() == 0 || buf.capacity() > POOL_MAX_BUFFER {
        return;
    }
    buf.clear();
    let _ = POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < POOL_BUFFERS {
            p.push(buf);
        }
    });
}

/// Calls `f` with the current `Date` text. The wall clock is read at most once a
/// second: until the second ends (judged by the loop's cached clock, which never runs
/// ahead of it) the cached text is current.
fn with_date<R>(loop_now: Instant, f: impl FnOnce(&str) -> R) -> R {
    DATES.with(|d| {
        let (dates, text, valid_until) = &mut *d.borrow_mut();
        if valid_until.is_none_or(|v| loop_now >= v) {
            let now = SystemTime::now();
            text.clear();
            text.push_str(dates.get(now));
            let into_second = now
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let left = Duration::from_nanos(u64::from(1_000_000_000 - into_second));
            *valid_until = Some(loop_now + left);
        }
        f(text)
    })
}

impl Conn {
    pub(crate) fn with_out<R>(&self, f: impl FnOnce(&mut BytesMut) -> R) -> R {
        let mut out = self.out.borrow_mut();
        if out.capacity() == 0 {
            *out = take_buffer();
        }
        f(&mut out)
    }

    /// Gives an empty output buffer back to the thread's pool.
    pub(crate) fn release_output_buffer(&self) {
        let mut out = self.out.borrow_mut();
        if out.is_empty() && out.capacity() > 0 {
            return_buffer(std::mem::take(&mut *out));
        }
    }

    /// Hands the output buffer to the stream (which writes at once what the socket
    /// takes); the buffer is kept for reuse.
    pub(crate) fn queue_output(&self) -> Option<tornado_iostream::WriteFuture> {
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
    pub(super) async fn flush_before_wait(self: &Rc<Self>) -> io::Result<()> {
        let fut = self.queue_output();
        if self.stream.write_buffer_len() > 0 {
            // A reader that stops taking our output must not hold the connection; the
            // deadline for what comes next (idle or header) holds again afterwards.
            let next = self.deadline.get();
            self.set_write_deadline();
            match fut {
                Some(f) => f.await?,
                None => self.stream.flush().await?,
            }
            if self.proto.borrow().is_idle() {
                // Between requests: the idle time counts from now.
                self.clear_deadline();
                self.set_swept_deadline();
            } else {
                // A head under way keeps the deadline it had from its first byte.
                self.set_deadline(next);
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

    /// Writes the response head; `body_len` is the length of a whole body given at once
    /// (its `Content-Length` is written unless the headers carry one).
    pub(crate) fn write_head(
        &self,
        status: StatusCode,
        reason: Option<&str>,
        headers: &HttpHeaders,
        body_len: Option<u64>,
    ) -> Result<(), OutputError> {
        let mut proto = self.proto.borrow_mut();
        if self.shutting_down() {
            proto.close_after_response();
        }
        let loop_now = self.io_loop.time();
        self.with_out(|out| {
            with_date(loop_now, |date| {
                proto.write_head_with_reason(status, reason, headers, body_len, date, out)
            })
        })
    }

    pub(crate) fn write_body(&self, chunk: &[u8]) -> Result<(), OutputError> {
        let result = self.with_out(|out| self.proto.borrow_mut().write_body(chunk, out));
        if self.out.borrow().len() >= self.shared.settings.params.chunk_size {
            // Dropping the future does not cancel the write.
            drop(self.queue_output());
        }
        result
    }

    pub(crate) fn finish_response(&self) -> Result<(), OutputError> {
        self.with_out(|out| self.proto.borrow_mut().finish(out))
    }

    /// Writes a whole response: head (with `Content-Length` from the body unless set),
    /// body, finish. A large body goes to the stream without a copy.
    pub(crate) fn send_response(&self, response: Response) -> Result<(), OutputError> {
        let Response {
            status,
            headers,
            body,
        } = response;
        self.write_head(status, None, &headers, Some(body.len() as u64))?;
        if !body.is_empty() && self.proto.borrow().body_allowed() {
            if body.len() >= ZERO_COPY_BODY_MIN {
                self.write_body_bytes(body)?;
            } else {
                self.write_body(&body)?;
            }
        }
        self.finish_response()
    }

    /// Writes a piece of the body that is already a `Bytes`: framed by the state
    /// machine, handed to the stream as it is.
    fn write_body_bytes(&self, body: Bytes) -> Result<(), OutputError> {
        let direct =
            self.with_out(|out| self.proto.borrow_mut().write_body_external(&body, out))?;
        if direct {
            drop(self.queue_output());
            drop(self.stream.write_bytes(body));
        }
        Ok(())
    }

    /// Writes `len` bytes of `file` from `offset` as the next piece of the body, sent by
    /// the stream straight from the file (`sendfile`): `false`, with nothing written,
    /// when the stream cannot (TLS) or the framing does not allow it (chunked).
    pub(crate) fn write_body_file(
        &self,
        file: Rc<File>,
        offset: u64,
        len: u64,
    ) -> Result<bool, OutputError> {
        if !self.stream.can_send_file() {
            return Ok(false);
        }
        if !self.proto.borrow_mut().write_body_external_len(len)? {
            return Ok(false);
        }
        // The head and what was written before go first.
        drop(self.queue_output());
        if let Err(e) = self.stream.try_write_file(file, offset, len) {
            // The bytes are counted as sent and are not: the response cannot end as
            // its head said, so the connection closes after what went out.
            log::warn!("cannot send a piece of a file: {e}");
            self.proto.borrow_mut().abort_response();
        }
        Ok(true)
    }

    /// Answers 500 if no response head was written; otherwise the connection closes
    /// after what was written.
    pub(crate) fn send_internal_error(&self) {
        if self.proto.borrow().headers_written() {
            self.proto.borrow_mut().abort_response();
            return;
        }
        if let Err(e) = self.send_response(Response::new(StatusCode::INTERNAL_SERVER_ERROR)) {
            log::error!("cannot send 500: {e}");
            self.proto.borrow_mut().abort_response();
        }
    }

    pub(crate) fn headers_written(&self) -> bool {
        self.proto.borrow().headers_written()
    }

    pub(crate) fn response_finished(&self) -> bool {
        self.proto.borrow().response_finished()
    }

    /// A writer used after its request ended.
    pub(crate) fn request_over() -> OutputError {
        OutputError::new(
            OutputErrorKind::BodyNotAllowed,
            "the request this writer answered is over",
        )
    }
}
