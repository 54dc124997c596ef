//! What an [`HttpServer`](crate::HttpServer) hands requests to: a closure returning a
//! [`Response`], or a streaming [`HttpMessageDelegate`] that sees the head, the body
//! chunks and the end of each request in turn (Tornado's
//! `HTTPServerConnectionDelegate` / `HTTPMessageDelegate`).

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http::StatusCode;

use crate::connection::Conn;
use crate::error::{OutputError, OutputErrorKind, ParseError};
use crate::http1connection::RequestHead;
use crate::httputil::{HttpHeaders, HttpServerRequest};

/// A boxed future that need not be `Send` (everything runs on its loop's thread).
pub type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// Where a request came from, after `xheaders` were applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// The client's IP: the peer's, or with `xheaders` the one the proxy reported.
    /// `None` on a Unix socket.
    pub remote_ip: Option<IpAddr>,
    /// `"http"` or `"https"` (TLS, or with `xheaders` the scheme the proxy reported).
    pub protocol: &'static str,
    /// The peer's socket address (the proxy's, behind one); `None` on a Unix socket.
    pub address: Option<SocketAddr>,
    /// When the request's first byte arrived, by the loop's clock.
    pub start: Instant,
}

/// Receives one request in steps (Tornado's `HTTPMessageDelegate`).
///
/// The connection calls [`headers_received`](Self::headers_received) once, then
/// [`data_received`](Self::data_received) for each piece of the body (at most
/// `chunk_size` bytes; decoded from chunked and, with `decompress_request`, from gzip),
/// then [`finish`](Self::finish) with the [`ResponseWriter`] that answers it. The next
/// request on the connection waits until the future `finish` returns has completed, so
/// responses to pipelined requests go out in order.
///
/// If the connection closes before `finish`,
/// [`on_connection_close`](Self::on_connection_close) is called instead.
pub trait HttpMessageDelegate {
    /// The request head arrived.
    fn headers_received(&mut self, head: RequestHead, context: &RequestContext);

    /// A piece of the body arrived. Return a future to make the connection wait for it
    /// before reading more (flow control), or `None` to go on at once.
    fn data_received(&mut self, chunk: Bytes) -> Option<LocalBoxFuture<()>> {
        let _ = chunk;
        None
    }

    /// The whole request has arrived: answer it through `writer` before the returned
    /// future completes. The connection waits for that future (a slow or long-polling
    /// handler simply stays pending); when it completes, a response that was not
    /// finished is ended for it (500, or a close if headers went out), and the writer
    /// is refused from then on, so it can never write into the next request's
    /// response.
    fn finish(self: Box<Self>, writer: ResponseWriter) -> LocalBoxFuture<()>;

    /// The connection closed before the request was complete.
    fn on_connection_close(self: Box<Self>) {}
}

/// Starts a delegate for each request (Tornado's `HTTPServerConnectionDelegate`).
///
/// Implemented for every closure `Fn(HttpServerRequest) -> impl Future<Output =
/// Response>`: such a handler gets the whole request, body included (up to
/// `max_body_size`), as Tornado's `request_callback` does. Implement it yourself to
/// stream bodies.
pub trait HttpServerConnectionDelegate: 'static {
    /// A request is starting on a connection; return the delegate that receives it.
    fn start_request(self: Rc<Self>, context: &RequestContext) -> Box<dyn HttpMessageDelegate>;

    /// Whether the server should collect each request (body included, up to
    /// `max_body_size`) and call [`handle_whole`](Self::handle_whole) instead of
    /// streaming it to [`start_request`](Self::start_request)'s delegate. True for
    /// closures; a type that returns true must implement `handle_whole`.
    fn takes_whole_requests(&self) -> bool {
        false
    }

    /// Answers a whole request; called only when
    /// [`takes_whole_requests`](Self::takes_whole_requests) is true. The default
    /// answers 501 Not Implemented.
    fn handle_whole(self: Rc<Self>, request: HttpServerRequest) -> LocalBoxFuture<Response> {
        let _ = request;
        Box::pin(async { Response::new(StatusCode::NOT_IMPLEMENTED) })
    }
}

impl<F, Fut> HttpServerConnectionDelegate for F
where
    F: Fn(HttpServerRequest) -> Fut + 'static,
    Fut: Future<Output = Response> + 'static,
{
    fn takes_whole_requests(&self) -> bool {
        true
    }

    fn handle_whole(self: Rc<Self>, request: HttpServerRequest) -> LocalBoxFuture<Response> {
        Box::pin((*self)(request))
    }

    fn start_request(self: Rc<Self>, _context: &RequestContext) -> Box<dyn HttpMessageDelegate> {
        Box::new(BufferingDelegate {
            handler: self,
            head: None,
            context: None,
            body: BytesMut::new(),
        })
    }
}

/// Collects a whole request and calls a `Fn(HttpServerRequest) -> Future<Response>`.
struct BufferingDelegate<F> {
    handler: Rc<F>,
    head: Option<RequestHead>,
    context: Option<RequestContext>,
    body: BytesMut,
}

/// Builds the request a whole-request handler gets: head and body, the client's address
/// and scheme, and the parsed body arguments.
pub(crate) fn whole_request(
    head: Option<RequestHead>,
    body: BytesMut,
    context: &RequestContext,
) -> Result<HttpServerRequest, ParseError> {
    let head = head.ok_or_else(|| ParseError::bad_request("no request head"))?;
    let mut request = HttpServerRequest::new(head, body.freeze(), context.start)?;
    request.remote_ip = context.remote_ip;
    request.protocol = context.protocol;
    if !request.body.is_empty() {
        request.parse_body()?;
    }
    Ok(request)
}

impl<F, Fut> HttpMessageDelegate for BufferingDelegate<F>
where
    F: Fn(HttpServerRequest) -> Fut + 'static,
    Fut: Future<Output = Response> + 'static,
{
    fn headers_received(&mut self, head: RequestHead, context: &RequestContext) {
        self.head = Some(head);
        self.context = Some(context.clone());
    }

    fn data_received(&mut self, chunk: Bytes) -> Option<LocalBoxFuture<()>> {
        self.body.extend_from_slice(&chunk);
        None
    }

    fn finish(self: Box<Self>, writer: ResponseWriter) -> LocalBoxFuture<()> {
        let this = *self;
        Box::pin(async move {
            let context = this.context.unwrap_or_else(|| writer.context());
            match whole_request(this.head, this.body, &context) {
                Ok(request) => writer.send((this.handler)(request).await),
                Err(e) => {
                    log::info!("bad request: {e}");
                    writer.send_error(e.status());
                }
            }
        })
    }
}

/// A whole response, for closure handlers: status, headers and body.
///
/// ```
/// use tornado_httpserver::Response;
///
/// let r = Response::text("Hello, world").with_header("X-Answer", "42");
/// assert_eq!(r.status, http::StatusCode::OK);
/// assert_eq!(r.headers.get("Content-Type"), Some("text/plain"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: StatusCode,
    /// The headers; `Content-Length` is written from the body when missing (not for
    /// 1xx, 204 and 304), `Date` and `Server` when the handler did not set them.
    pub headers: HttpHeaders,
    /// The body.
    pub body: Bytes,
}

impl Default for Response {
    fn default() -> Self {
        Response::new(StatusCode::OK)
    }
}

impl Response {
    /// An empty response with `status`.
    pub fn new(status: StatusCode) -> Self {
        Response {
            status,
            headers: HttpHeaders::new(),
            body: Bytes::new(),
        }
    }

    /// A `200 OK` `text/plain` response.
    pub fn text(body: impl Into<Bytes>) -> Self {
        let mut r = Response::new(StatusCode::OK);
        r.headers.set_static("Content-Type", "text/plain");
        r.body = body.into();
        r
    }

    /// A `200 OK` `text/html; charset=UTF-8` response.
    pub fn html(body: impl Into<Bytes>) -> Self {
        let mut r = Response::new(StatusCode::OK);
        r.headers
            .set_static("Content-Type", "text/html; charset=UTF-8");
        r.body = body.into();
        r
    }

    /// Sets the status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Sets a header, replacing any of the same name.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.set(name, value);
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }
}

/// Answers one request: Tornado's `HTTP1Connection` as the request's `connection`.
///
/// Output is appended to the connection's write buffer and goes to the socket when the
/// connection next waits for input, when [`flush`](ResponseWriter::flush) is awaited,
/// or when the buffer passes `chunk_size`; so the responses to pipelined requests leave
/// in one write. Errors ([`OutputError`]) mean the response could not be framed as
/// declared; the connection is then closed instead of sending bad framing.
#[derive(Clone)]
pub struct ResponseWriter {
    pub(crate) conn: Rc<Conn>,
    /// The request this writer answers; once it is over the writer is refused.
    pub(crate) seq: u32,
    pub(crate) context: RequestContext,
}

impl fmt::Debug for ResponseWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseWriter").finish_non_exhaustive()
    }
}

impl ResponseWriter {
    fn check(&self) -> Result<(), OutputError> {
        if self.conn.answering(self.seq) {
            Ok(())
        } else {
            Err(OutputError::new(
                OutputErrorKind::BodyNotAllowed,
                "the request this writer answered is over",
            ))
        }
    }

    /// Writes the status line and headers. A second call fails.
    pub fn write_headers(
        &self,
        status: StatusCode,
        headers: &HttpHeaders,
    ) -> Result<(), OutputError> {
        self.check()?;
        self.conn.write_headers(status, headers)
    }

    /// Writes a piece of the body (chunked unless a `Content-Length` was set).
    pub fn write(&self, chunk: &[u8]) -> Result<(), OutputError> {
        self.check()?;
        self.conn.write_body(chunk)
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
    /// set), body, finish. Errors are logged and close the connection.
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
    pub fn detach(&self) -> Option<tornado_iostream::IoStream> {
        self.conn.detach(self.seq)
    }

    /// Resolves when the client's connection closes: a long-polling handler can stop
    /// waiting (Tornado's `on_connection_close`). The stream notices a peer that goes
    /// away even while nothing reads from it. One waiter per connection at a time: a
    /// later call takes over the wake-up of an earlier one.
    pub async fn closed(&self) {
        let stream = self.conn.stream().clone();
        std::future::poll_fn(|cx| {
            if stream.closed() {
                return std::task::Poll::Ready(());
            }
            let waker = cx.waker().clone();
            stream.set_close_callback(move || waker.wake());
            std::task::Poll::Pending
        })
        .await
    }

    /// Whether the client's connection has closed (a long-polling handler can stop
    /// waiting).
    pub fn connection_closed(&self) -> bool {
        self.conn.stream_closed()
    }

    /// The request's context (client IP, protocol).
    pub fn context(&self) -> RequestContext {
        self.context.clone()
    }
}
