//! What an [`HttpServer`](crate::HttpServer) hands requests to (Tornado's
//! `HTTPServerConnectionDelegate` and `HTTPMessageDelegate`).
//!
//! For each request head, the server asks its [`HttpServerConnectionDelegate`] for an
//! [`HttpMessageDelegate`]; that delegate decides, for this request alone, whether to
//! take the body in flow-controlled pieces ([`BodyMode::Stream`], Tornado's
//! `@stream_request_body`) or whole, buffered up to `max_body_size`
//! ([`BodyMode::Buffer`]). Then [`finish`](HttpMessageDelegate::finish) answers it.
//!
//! A closure `Fn(HttpServerRequest) -> impl Future<Output = Response>` is such a
//! delegate already: it gets whole requests.
//!
//! The server is generic over the delegate's types, so a request's handling (the
//! delegate, its futures, the closure's future) lives in one allocation.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use bytes::Bytes;

use crate::connection::ResponseWriter;
use crate::httputil::HttpServerRequest;
use crate::response::Response;

/// A boxed future that need not be `Send` (everything runs on its loop's thread).
pub type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// How a request's body reaches its [`HttpMessageDelegate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyMode {
    /// The server collects the whole body (at most `max_body_size` bytes, decoded from
    /// chunked and, with `decompress`, gzip), parses form and multipart arguments, and
    /// hands the complete request to [`finish`](HttpMessageDelegate::finish).
    #[default]
    Buffer,
    /// Each piece of the body goes to
    /// [`data_received`](HttpMessageDelegate::data_received) as it arrives (at most
    /// `chunk_size` bytes); the server reads no more until the future it returns is
    /// done. [`finish`](HttpMessageDelegate::finish) gets the request without a body.
    Stream,
}

/// Receives one request (Tornado's `HTTPMessageDelegate`), made by
/// [`HttpServerConnectionDelegate::start_request`] when its head arrives.
///
/// The server calls [`body_mode`](Self::body_mode) once, then (in
/// [`BodyMode::Stream`]) [`headers_received`](Self::headers_received) and
/// [`data_received`](Self::data_received) for each piece of the body, then [`finish`](Self::finish) with the request and the [`ResponseWriter`]
/// that answers it. The next request on the connection waits until the future
/// `finish` returns has completed, so responses to pipelined requests go out in order.
/// When that future completes, a response that was not finished is ended for it (500,
/// or a close if headers went out), and the writer is refused from then on.
///
/// If the body cannot be read (the client left, bad framing, a limit),
/// [`on_connection_close`](Self::on_connection_close) is called instead of `finish`.
///
/// ```
/// use std::rc::Rc;
/// use bytes::Bytes;
/// use tornado_httpserver::httputil::HttpServerRequest;
/// use tornado_httpserver::{
///     BodyMode, HttpMessageDelegate, HttpServerConnectionDelegate, Response, ResponseWriter,
/// };
///
/// /// Counts the bytes of each upload without keeping them.
/// struct Uploads;
/// struct Upload { seen: usize }
///
/// impl HttpServerConnectionDelegate for Uploads {
///     type Message = Upload;
///     fn start_request(self: Rc<Self>, _request: &HttpServerRequest) -> Upload {
///         Upload { seen: 0 }
///     }
/// }
///
/// impl HttpMessageDelegate for Upload {
///     fn body_mode(&self) -> BodyMode {
///         BodyMode::Stream
///     }
///     async fn data_received(&mut self, chunk: Bytes) {
///         self.seen += chunk.len();
///     }
///     async fn finish(self, _request: HttpServerRequest, writer: ResponseWriter) {
///         writer.send(Response::text(format!("{} bytes", self.seen)));
///     }
/// }
/// # let _ = tornado_httpserver::HttpServer::new(Uploads);
/// ```
pub trait HttpMessageDelegate: Sized + 'static {
    /// Whether [`finish`](Self::finish) may wait long (a long poll). When it is set,
    /// the server frees what reading the request took (about 1 KiB) before it awaits
    /// `finish`, which it takes boxed from [`finish_boxed`](Self::finish_boxed): by
    /// default one more allocation per request, the size of the `finish` future, and
    /// none for a delegate whose `finish` is boxed already. A delegate that answers
    /// at once leaves it unset.
    ///
    /// ```
    /// # use tornado_httpserver::httputil::HttpServerRequest;
    /// # use tornado_httpserver::{HttpMessageDelegate, ResponseWriter};
    /// struct LongPoll;
    /// impl HttpMessageDelegate for LongPoll {
    ///     const FINISH_MAY_WAIT: bool = true;
    ///     async fn finish(self, _request: HttpServerRequest, _writer: ResponseWriter) {
    ///         // ... waits for news, then answers through the writer
    ///     }
    /// }
    /// ```
    const FINISH_MAY_WAIT: bool = false;

    /// Whether the delegate parses a buffered body's form arguments itself, with
    /// [`HttpServerRequest::parse_body`](crate::httputil::HttpServerRequest::parse_body),
    /// to answer a malformed one its own way (a web application answers it through the
    /// handler's error page and logs it, as Tornado does). Unset, the server parses
    /// the body before [`finish`](Self::finish) and answers a malformed one with a bare
    /// 400 itself, without calling `finish`.
    ///
    /// ```
    /// # use tornado_httpserver::httputil::HttpServerRequest;
    /// # use tornado_httpserver::{HttpMessageDelegate, Response, ResponseWriter};
    /// struct Form;
    /// impl HttpMessageDelegate for Form {
    ///     const PARSES_BODY: bool = true;
    ///     async fn finish(self, mut request: HttpServerRequest, writer: ResponseWriter) {
    ///         match request.parse_body() {
    ///             Ok(()) => writer.send(Response::text("thanks")),
    ///             Err(e) => writer.send(Response::new(e.status()).with_body(format!("{e}\n"))),
    ///         }
    ///     }
    /// }
    /// # let _ = tornado_httpserver::HttpServer::new(|_req: HttpServerRequest| async { Response::text("") });
    /// ```
    const PARSES_BODY: bool = false;

    /// How this request's body is taken; [`BodyMode::Buffer`] unless overridden.
    fn body_mode(&self) -> BodyMode {
        BodyMode::Buffer
    }

    /// The head arrived and the body is about to be read ([`BodyMode::Stream`] only;
    /// Tornado runs a streaming handler's `prepare` here). The delegate may set the
    /// request's body limit now ([`ResponseWriter::set_max_body_size`]), and may
    /// answer now through `writer` (the one [`finish`](Self::finish) gets later): a
    /// response finished here refuses the body, so the client gets no `100 Continue`,
    /// the body is not read, and the connection closes after the response.
    fn headers_received(&mut self, writer: &ResponseWriter) -> impl Future<Output = ()> {
        let _ = writer;
        std::future::ready(())
    }

    /// A piece of the body arrived ([`BodyMode::Stream`] only). The server reads no
    /// more of the body until the returned future completes (flow control).
    fn data_received(&mut self, chunk: Bytes) -> impl Future<Output = ()> {
        let _ = chunk;
        std::future::ready(())
    }

    /// The whole request has arrived: answer it through `writer` before the returned
    /// future completes. `request.body` holds the body in [`BodyMode::Buffer`] (with
    /// its form arguments parsed, unless [`PARSES_BODY`](Self::PARSES_BODY) is set)
    /// and is empty in [`BodyMode::Stream`].
    ///
    /// If the client goes away while this future is pending, the future is dropped (a
    /// long poll is cancelled); see [`ResponseWriter::closed`] to notice it first.
    fn finish(self, request: HttpServerRequest, writer: ResponseWriter)
    -> impl Future<Output = ()>;

    /// [`finish`](Self::finish), boxed: what the server calls when
    /// [`FINISH_MAY_WAIT`](Self::FINISH_MAY_WAIT) is set. Override it only when
    /// `finish` returns a box already, to hand that over instead of boxing it again.
    ///
    /// ```
    /// # use std::future::Future;
    /// # use std::pin::Pin;
    /// # use tornado_httpserver::httputil::HttpServerRequest;
    /// # use tornado_httpserver::{HttpMessageDelegate, ResponseWriter};
    /// struct Boxed;
    /// impl HttpMessageDelegate for Boxed {
    ///     const FINISH_MAY_WAIT: bool = true;
    ///     fn finish(self, request: HttpServerRequest, writer: ResponseWriter)
    ///         -> impl Future<Output = ()> {
    ///         self.finish_boxed(request, writer)
    ///     }
    ///     fn finish_boxed(self, _request: HttpServerRequest, _writer: ResponseWriter)
    ///         -> Pin<Box<dyn Future<Output = ()>>> {
    ///         Box::pin(async { /* ... answers through the writer */ })
    ///     }
    /// }
    /// ```
    fn finish_boxed(
        self,
        request: HttpServerRequest,
        writer: ResponseWriter,
    ) -> Pin<Box<dyn Future<Output = ()>>> {
        Box::pin(self.finish(request, writer))
    }

    /// The connection closed (or the body was bad) before the request was complete.
    fn on_connection_close(self) {}
}

/// Starts a delegate for each request (Tornado's `HTTPServerConnectionDelegate`).
///
/// Implemented for every closure `Fn(HttpServerRequest) -> impl Future<Output =
/// Response>`: such a handler gets whole requests, body included (up to
/// `max_body_size`), as Tornado's `request_callback` does. Implement it yourself to
/// choose per request, after looking at the head, how to take the body.
pub trait HttpServerConnectionDelegate: 'static {
    /// The delegate each request gets.
    type Message: HttpMessageDelegate;

    /// A request head arrived (`request` has no body yet): return the delegate that
    /// receives the request.
    fn start_request(self: Rc<Self>, request: &HttpServerRequest) -> Self::Message;
}

impl<F, Fut> HttpServerConnectionDelegate for F
where
    F: Fn(HttpServerRequest) -> Fut + 'static,
    Fut: Future<Output = Response> + 'static,
{
    type Message = CallHandler<F>;

    fn start_request(self: Rc<Self>, _request: &HttpServerRequest) -> CallHandler<F> {
        CallHandler(self)
    }
}

/// The [`HttpMessageDelegate`] of a closure handler: takes the request whole and sends
/// the [`Response`] the closure returns.
pub struct CallHandler<F>(Rc<F>);

impl<F> std::fmt::Debug for CallHandler<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallHandler")
    }
}

impl<F, Fut> HttpMessageDelegate for CallHandler<F>
where
    F: Fn(HttpServerRequest) -> Fut + 'static,
    Fut: Future<Output = Response> + 'static,
{
    async fn finish(self, request: HttpServerRequest, writer: ResponseWriter) {
        let response = (self.0)(request).await;
        writer.send(response);
    }
}
