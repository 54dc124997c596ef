//! [`ResponseWriter`]: how a handler answers its request (Tornado's `HTTP1Connection`
//! as the request's `connection`).

use std::fmt;
use std::fs::File;
use std::net::SocketAddr;
use std::rc::{Rc, Weak};
use std::task::Poll;

use http::StatusCode;
use tornado_iostream::IoStream;

use super::{Conn, Phase};
use crate::error::{BodyStartedError, OutputError};
use crate::httputil::HttpHeaders;
use crate::registry::{UpgradeGuard, UpgradedConnection};
use crate::response::Response;

/// Answers one request.
///
/// Output is appended to the connection's write buffer and goes to the socket when the
/// connection next waits for input, when [`flush`](ResponseWriter::flush) is awaited,
/// or when the buffer passes `chunk_size`; so the responses to pipelined requests leave
/// in one write. Errors ([`OutputError`]) mean the response could not be framed as
/// declared; the connection is then closed instead of sending bad framing.
///
/// A writer answers only its own request: once that request is over (the handler's
/// future completed), every call is refused, so a writer kept around can never write
/// into a later request's response.
#[derive(Clone)]
pub struct ResponseWriter {
    pub(crate) conn: Rc<Conn>,
    /// The request this writer answers; once it is over the writer is refused.
    pub(crate) seq: u32,
}

impl fmt::Debug for ResponseWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseWriter")
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl ResponseWriter {
    fn check(&self) -> Result<(), OutputError> {
        if self.conn.answering(self.seq) {
            Ok(())
        } else {
            Err(Conn::request_over())
        }
    }

    /// Writes the status line and headers. A second call fails.
    pub fn write_headers(
        &self,
        status: StatusCode,
        headers: &HttpHeaders,
    ) -> Result<(), OutputError> {
        self.check()?;
        self.conn.write_head(status, None, headers, None)
    }

    /// [`write_headers`](Self::write_headers) with a reason phrase of the handler's
    /// own (`None`: the standard one) and, when the whole body is known, its length
    /// (`Content-Length` is then written unless `headers` carry one; not for 1xx, 204
    /// and 304). A reason with control characters is refused.
    pub fn write_head(
        &self,
        status: StatusCode,
        reason: Option<&str>,
        headers: &HttpHeaders,
        body_len: Option<u64>,
    ) -> Result<(), OutputError> {
        self.check()?;
        self.conn.write_head(status, reason, headers, body_len)
    }

    /// Writes a piece of the body (chunked unless a `Content-Length` was set).
    pub fn write(&self, chunk: &[u8]) -> Result<(), OutputError> {
        self.check()?;
        self.conn.write_body(chunk)
    }

    /// Writes `len` bytes of `file`, from `offset`, as the next piece of the body,
    /// straight from the file to the socket (`sendfile(2)`: not copied through memory);
    /// await [`flush`](Self::flush) to know the socket took them. `Ok(false)`, with
    /// nothing written, when that cannot be done: a TLS connection (its bytes must be
    /// encrypted), a chunked body (no `Content-Length`), a platform without `sendfile`;
    /// the caller then reads the file and [`write`](Self::write)s it. More than the
    /// declared `Content-Length` is an error. A file shorter than the region closes the
    /// connection once what it had is sent.
    pub fn write_file(&self, file: Rc<File>, offset: u64, len: u64) -> Result<bool, OutputError> {
        self.check()?;
        self.conn.write_body_file(file, offset, len)
    }

    /// Sends what was written so far to the socket and waits until the socket took it.
    pub async fn flush(&self) -> std::io::Result<()> {
        if self.check().is_err() {
            return Ok(());
        }
        self.conn.flush_output().await
    }

    /// Ends the response. Fails if fewer bytes than the declared `Content-Length` were
    /// written (the connection will close).
    pub fn finish(&self) -> Result<(), OutputError> {
        self.check()?;
        self.conn.finish_response()
    }

    /// Writes a whole [`Response`]: headers (with `Content-Length` from the body unless
    /// set), body (a large one without a copy), finish. Errors are logged and close the
    /// connection.
    pub fn send(&self, response: Response) {
        let sent = self
            .check()
            .and_then(|()| self.conn.send_response(response));
        if let Err(e) = sent {
            log::error!("cannot send response: {e}");
        }
    }

    /// Sends an empty response with `status` (used for errors before a handler ran).
    pub fn send_error(&self, status: StatusCode) {
        self.send(Response::new(status));
    }

    /// Sets this request's body limit in place of the server's `max_body_size`
    /// (Tornado's `request.connection.set_max_body_size`), larger or smaller: call it
    /// from [`headers_received`](crate::HttpMessageDelegate::headers_received) of a
    /// [`BodyMode::Stream`](crate::BodyMode::Stream) delegate, before the body is read.
    /// A `Content-Length` above the limit is then answered 413 without reading the
    /// body (and without `100 Continue`); a chunked (or gzip-decoded) body is refused
    /// with 413 once it passes the limit. Later requests get the server's limit.
    ///
    /// Once the body is being read or was read (from `data_received` on, from a
    /// buffered delegate's `finish`, once the request is over), it fails with
    /// [`BodyStartedError`] and changes nothing. A request without a body accepts it
    /// until its (empty) body has been taken.
    ///
    /// ```
    /// # use std::rc::Rc;
    /// # use tornado_httpserver::httputil::HttpServerRequest;
    /// # use tornado_httpserver::{BodyMode, HttpMessageDelegate, HttpServerConnectionDelegate, Response, ResponseWriter};
    /// /// Takes uploads of up to 1 GiB, whatever the server's `max_body_size`.
    /// struct BigUpload { seen: u64 }
    /// impl HttpMessageDelegate for BigUpload {
    ///     fn body_mode(&self) -> BodyMode {
    ///         BodyMode::Stream
    ///     }
    ///     async fn headers_received(&mut self, writer: &ResponseWriter) {
    ///         writer.set_max_body_size(1 << 30).expect("the body is not read yet");
    ///     }
    ///     async fn data_received(&mut self, chunk: bytes::Bytes) {
    ///         self.seen += chunk.len() as u64;
    ///     }
    ///     async fn finish(self, _request: HttpServerRequest, writer: ResponseWriter) {
    ///         writer.send(Response::text(format!("{} bytes", self.seen)));
    ///     }
    /// }
    /// # struct Uploads;
    /// # impl HttpServerConnectionDelegate for Uploads {
    /// #     type Message = BigUpload;
    /// #     fn start_request(self: Rc<Self>, _request: &HttpServerRequest) -> BigUpload {
    /// #         BigUpload { seen: 0 }
    /// #     }
    /// # }
    /// # let _ = tornado_httpserver::HttpServer::new(Uploads);
    /// ```
    pub fn set_max_body_size(&self, max_body_size: u64) -> Result<(), BodyStartedError> {
        if !self.conn.answering(self.seq) {
            return Err(BodyStartedError::new());
        }
        self.conn.set_max_body_size(max_body_size)
    }

    /// Whether the headers have been written (true once the request is over).
    pub fn headers_written(&self) -> bool {
        !self.conn.answering(self.seq) || self.conn.headers_written()
    }

    /// Whether the response is finished (true once the request is over).
    pub fn is_finished(&self) -> bool {
        !self.conn.answering(self.seq) || self.conn.response_finished()
    }

    /// Takes the connection's stream over, for a protocol upgrade (WebSocket; Tornado's
    /// `HTTP1Connection.detach`). Whatever the writer wrote (typically a `101 Switching
    /// Protocols` head) is queued on the stream first; once the handler's future
    /// completes, the server stops reading requests from this connection and leaves
    /// the stream open to its new owner. `None` if the request is over, the stream is
    /// closed or was already taken. Bytes the client sent after this request's head
    /// and body stay in the stream's read buffer.
    ///
    /// ```no_run
    /// # use tornado_httpserver::{ResponseWriter};
    /// # use tornado_httpserver::httputil::HttpHeaders;
    /// # async fn upgrade(writer: ResponseWriter) {
    /// let mut headers = HttpHeaders::new();
    /// headers.set("Upgrade", "echo");
    /// headers.set("Connection", "Upgrade");
    /// writer.write_headers(http::StatusCode::SWITCHING_PROTOCOLS, &headers).unwrap();
    /// let stream = writer.detach().expect("the connection is still open");
    /// while let Ok(line) = stream.read_until(b"\n", Some(1024)).await {
    ///     let _ = stream.write(&line).await;
    /// }
    /// # }
    /// ```
    pub fn detach(&self) -> Option<IoStream> {
        self.conn.detach(self.seq)
    }

    /// Keeps a connection taken over with [`detach`](Self::detach) among the server's
    /// open connections until the returned guard is dropped: a graceful
    /// [`HttpServer::shutdown`](crate::HttpServer::shutdown) calls its
    /// [`shutdown`](UpgradedConnection::shutdown) and waits for it (up to the grace,
    /// then [`close`](UpgradedConnection::close)s it), as it waits for a request in
    /// flight. Drop the guard when the protocol ends. Without it, an upgraded
    /// connection is the new protocol's alone and a shutdown does not wait for it.
    ///
    /// ```no_run
    /// # use std::rc::Rc;
    /// # use tornado_httpserver::{ResponseWriter, UpgradedConnection};
    /// struct Echo(tornado_iostream::IoStream);
    /// impl UpgradedConnection for Echo {
    ///     fn shutdown(self: Rc<Self>) { self.0.close() } // say goodbye as the protocol does
    ///     fn close(self: Rc<Self>) { self.0.close() }
    /// }
    /// # async fn upgrade(writer: ResponseWriter) {
    /// let stream = writer.detach().expect("the connection is still open");
    /// let echo = Rc::new(Echo(stream.clone()));
    /// let weak: std::rc::Weak<dyn UpgradedConnection> = Rc::downgrade(&echo) as _;
    /// let _guard = writer.track_upgraded(weak);
    /// while let Ok(line) = stream.read_until(b"\n", Some(1024)).await {
    ///     let _ = stream.write(&line).await;
    /// }
    /// # }
    /// ```
    pub fn track_upgraded(&self, conn: Weak<dyn UpgradedConnection>) -> UpgradeGuard {
        self.conn.shared.registry.register_upgraded(conn)
    }

    /// Resolves when the client's connection closes: a long-polling handler can stop
    /// waiting (Tornado's `on_connection_close`). The stream notices a peer that goes
    /// away even while nothing reads from it. Any number of tasks may wait at once.
    ///
    /// While the handler's own future waits, the server also watches: when the client
    /// leaves, a handler that is still pending is dropped (a long poll is cancelled), so
    /// a handler that must clean up should await this (or use a drop guard).
    pub async fn closed(&self) {
        let conn = self.conn.clone();
        std::future::poll_fn(|cx| {
            if conn.stream().closed() || conn.phase() == Phase::ForceClosed {
                return Poll::Ready(());
            }
            conn.add_close_waiter(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// The peer's socket address (the proxy's, behind one: see `xheaders` and
    /// [`HttpServerRequest::remote_ip`](crate::httputil::HttpServerRequest::remote_ip)
    /// for the client's); `None` on a Unix socket (Tornado's
    /// `request.connection.context.address`).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.conn.peer
    }

    /// Whether the client's connection has closed (a long-polling handler can stop
    /// waiting).
    pub fn connection_closed(&self) -> bool {
        self.conn.stream().closed()
    }
}
