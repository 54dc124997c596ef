//! One request through a [`RequestHandler`]: the message delegate the server drives
//! (body, finish), the handler's steps (current user, `prepare`, the method, the
//! automatic `finish`), errors and panics turned into error pages, `on_finish`,
//! `on_connection_close` and the access log (Tornado's `_HandlerDelegate` and
//! `RequestHandler._execute`).

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;

use bytes::Bytes;
use http::Method;
use tornado_httpserver::httputil::HttpServerRequest;
use tornado_httpserver::{BodyMode, HttpMessageDelegate, ResponseWriter};

use crate::application::AppShared;
use crate::context::{Context, hooks_of};
use crate::error::{Error, HttpError, Kind, Result};
use crate::handler::RequestHandler;
use crate::panic::{CatchUnwind, catch_unwind, guarded};
use crate::routing::PathArgs;

type LocalFuture<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

/// A routed request, whatever serves it (a handler, a mounted delegate), type-erased.
pub(crate) trait ErasedMessage {
    fn body_mode(&self) -> BodyMode;
    fn headers_received(&mut self, writer: ResponseWriter) -> LocalFuture<'_>;
    fn data_received(&mut self, chunk: Bytes) -> LocalFuture<'_>;
    fn finish(
        self: Box<Self>,
        request: HttpServerRequest,
        writer: ResponseWriter,
    ) -> LocalFuture<'static>;
    fn on_connection_close(self: Box<Self>);
}

/// The [`HttpMessageDelegate`] an [`Application`](crate::Application) gives the server
/// for each request.
///
/// A server delegate of your own can hand requests on to an application:
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use tornado_httpserver::httputil::HttpServerRequest;
/// use tornado_httpserver::{HttpServer, HttpServerConnectionDelegate};
/// use tornado_web::{testing, url, Application, Context, RequestHandler, WebRequest};
///
/// /// Counts requests, then lets the application route them.
/// struct Counted {
///     app: Rc<Application>,
///     count: Rc<Cell<u32>>,
/// }
///
/// impl HttpServerConnectionDelegate for Counted {
///     type Message = WebRequest;
///     fn start_request(self: Rc<Self>, request: &HttpServerRequest) -> WebRequest {
///         self.count.set(self.count.get() + 1);
///         self.app.clone().start_request(request)
///     }
/// }
/// # struct Hello;
/// # impl RequestHandler for Hello {
/// #     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
/// #         cx.write("hello");
/// #         Ok(())
/// #     }
/// # }
///
/// testing::gen_test(async {
///     let count = Rc::new(Cell::new(0));
///     let app = Rc::new(Application::new(vec![url("/", || Hello)]));
///     let server = HttpServer::new(Counted { app, count: count.clone() });
///     server.listen(0, Some("127.0.0.1")).unwrap();
///     let addr = server.local_addrs()[0];
///     let response = tornado_httpclient::AsyncHttpClient::new().fetch(format!("http://{addr}/")).await;
///     assert_eq!(response.unwrap().text().unwrap(), "hello");
///     assert_eq!(count.get(), 1);
///     server.stop();
/// });
/// ```
pub struct WebRequest(Box<dyn ErasedMessage>);

impl std::fmt::Debug for WebRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebRequest")
    }
}

impl WebRequest {
    pub(crate) fn new(inner: Box<dyn ErasedMessage>) -> Self {
        WebRequest(inner)
    }
}

impl HttpMessageDelegate for WebRequest {
    /// A handler may wait (a long poll): what reading its request took is freed first.
    const FINISH_MAY_WAIT: bool = true;
    /// A malformed form body is the handler's 400 (its `write_error`, its log line),
    /// as in Tornado, where `_execute` parses the body: see `before`.
    const PARSES_BODY: bool = true;

    fn body_mode(&self) -> BodyMode {
        self.0.body_mode()
    }

    fn headers_received(&mut self, writer: &ResponseWriter) -> impl Future<Output = ()> {
        self.0.headers_received(writer.clone())
    }

    fn data_received(&mut self, chunk: Bytes) -> impl Future<Output = ()> {
        self.0.data_received(chunk)
    }

    fn finish(
        self,
        request: HttpServerRequest,
        writer: ResponseWriter,
    ) -> impl Future<Output = ()> {
        self.0.finish(request, writer)
    }

    /// The handler's future is boxed already: it is handed over as it is.
    fn finish_boxed(
        self,
        request: HttpServerRequest,
        writer: ResponseWriter,
    ) -> Pin<Box<dyn Future<Output = ()>>> {
        self.0.finish(request, writer)
    }

    fn on_connection_close(self) {
        self.0.on_connection_close()
    }
}

/// A handler with its request: made when the head arrives.
struct HandlerState<H: RequestHandler> {
    handler: H,
    app: Rc<AppShared>,
    /// The route's groups, boxed, and none for a route without any.
    args: Option<Box<PathArgs>>,
    /// A streaming handler's request head, kept from the head until its context is
    /// made at `headers_received`.
    head: Option<Box<HttpServerRequest>>,
    /// Made with the writer: at `headers_received` for a streaming handler (its
    /// `prepare` runs before the body), at `finish` otherwise.
    cx: Option<Context>,
    /// The request is over for the handler. Until then, dropping the state means the
    /// client left.
    done: bool,
}

/// Starts handler `H` for a request whose head just arrived.
pub(crate) fn start<H: RequestHandler>(
    handler: H,
    app: &Rc<AppShared>,
    request: &HttpServerRequest,
    args: PathArgs,
) -> Box<dyn ErasedMessage> {
    Box::new(HandlerState {
        handler,
        app: app.clone(),
        args: (!args.args.is_empty() || !args.kwargs.is_empty()).then(|| Box::new(args)),
        // Boxed: every other handler's state carries one pointer for it.
        head: H::STREAM_REQUEST_BODY.then(|| Box::new(request.clone())),
        cx: None,
        done: false,
    })
}

impl<H: RequestHandler> Drop for HandlerState<H> {
    fn drop(&mut self) {
        // Without a context the handler never started: a buffered handler whose
        // body did not all arrive. As in Tornado, none of its hooks run.
        if self.done
            || self.cx.as_ref().is_none_or(Context::is_finished)
            || std::thread::panicking()
        {
            return;
        }
        // The server dropped the request before it was over: the client left.
        let capture = self.app.settings.serves_traceback();
        if let Err(p) = guarded(capture, || self.handler.on_connection_close()) {
            log::error!("panic in on_connection_close: {}", p.message);
        }
    }
}

/// Decodes the path arguments with the handler's `decode_argument`.
fn decode_path_args(cx: &mut Context, args: Option<&PathArgs>) -> Result {
    let Some(args) = args else {
        return Ok(());
    };
    let decode = cx.hooks().decode_argument;
    let positional = args
        .args
        .iter()
        .map(|a| match a {
            Some(bytes) => decode(bytes, None),
            None => Ok(String::new()),
        })
        .collect::<Result<Vec<_>>>()?;
    let named = args
        .kwargs
        .iter()
        .map(|(name, a)| {
            let value = match a {
                Some(bytes) => decode(bytes, Some(name))?,
                None => String::new(),
            };
            Ok((name.clone(), value))
        })
        .collect::<Result<Vec<_>>>()?;
    cx.set_path_args(positional, named);
    Ok(())
}

/// Everything before the method: the method check, the form body, path arguments, the
/// current user, `prepare`.
async fn before<H: RequestHandler>(h: &mut H, cx: &mut Context, args: Option<&PathArgs>) -> Result {
    if !H::SUPPORTED_METHODS.contains(cx.method()) {
        return Err(HttpError::new(405).into());
    }
    // The server leaves the form to us (`PARSES_BODY`); a streamed body has none.
    if !H::STREAM_REQUEST_BODY && !cx.request().body.is_empty() {
        cx.request_mut()
            .parse_body()
            .map_err(|e| HttpError::with_log(400, format!("Invalid body: {e}")))?;
    }
    decode_path_args(cx, args)?;
    let user = h.get_current_user(cx).await?;
    if user.is_some() {
        cx.set_current_user(user);
    }
    let settings = cx.settings();
    let checked = settings.xsrf_cookies || settings.cross_origin_protection;
    let m = cx.method();
    if checked && m != Method::GET && m != Method::HEAD && m != Method::OPTIONS {
        if cx.settings().xsrf_cookies {
            h.check_xsrf_cookie(cx)?;
        }
        if cx.settings().cross_origin_protection {
            let headers = cx.request().headers();
            let refused = crate::xsrf::cross_origin_error(
                headers.get("Sec-Fetch-Site"),
                headers.get("Origin"),
                headers.get("Host").unwrap_or(""),
                |origin| h.check_trusted_origin(cx, origin),
            );
            if let Some(reason) = refused {
                return Err(HttpError::with_log(403, reason).into());
            }
        }
    }
    h.prepare(cx).await
}

/// The method, then the automatic `finish`.
async fn method<H: RequestHandler>(h: &mut H, cx: &mut Context) -> Result {
    if cx.is_finished() {
        return Ok(());
    }
    let m = cx.method().clone();
    if m == Method::GET {
        h.get(cx).await
    } else if m == Method::POST {
        h.post(cx).await
    } else if m == Method::HEAD {
        h.head(cx).await
    } else if m == Method::PUT {
        h.put(cx).await
    } else if m == Method::DELETE {
        h.delete(cx).await
    } else if m == Method::PATCH {
        h.patch(cx).await
    } else if m == Method::OPTIONS {
        h.options(cx).await
    } else {
        Err(HttpError::new(405).into())
    }?;
    if !cx.is_finished() {
        cx.finish()?;
    }
    Ok(())
}

/// An error or panic from a step, as Tornado's `_handle_request_exception`: logged,
/// then answered with the error page (unless the response is already finished).
fn handle_error(cx: &mut Context, error: Error) {
    // The hooks it calls (set_default_headers, write_error, compute_etag) are user
    // code: a panic there must not escape (a bare 500 is the fallback).
    let capture = cx.settings().serves_traceback();
    if let Err(p) = guarded(capture, || handle_error_inner(cx, error)) {
        log::error!(
            "panic while handling an error for {}: {}",
            cx.request_summary(),
            p.message
        );
        if !cx.headers_written() {
            cx.send_bare_500();
        }
    }
}

fn handle_error_inner(cx: &mut Context, error: Error) {
    match error.kind() {
        Kind::Finish => {
            if !cx.is_finished()
                && let Err(e) = cx.finish()
            {
                log::error!("cannot finish after Finish: {e}");
                cx.send_error_for(e.status(), Some(&e));
            }
            return;
        }
        Kind::Http(e) => {
            if let Some(msg) = e.log_message() {
                log::warn!("{} {}: {msg}", e.status().as_u16(), cx.request_summary());
            }
        }
        Kind::Other { .. } | Kind::Panic { .. } => {
            let backtrace = error
                .backtrace()
                .map(|bt| format!("\n{bt}"))
                .unwrap_or_default();
            let what = if error.is_panic() { "panic" } else { "error" };
            log::error!(
                "Uncaught {what} {} in {}: {error}{backtrace}",
                cx.request_summary(),
                cx.handler_name()
            );
        }
    }
    if !cx.is_finished() {
        cx.send_error_for(error.status(), Some(&error));
    }
}

/// Runs a step as handler code: a panic becomes an [`Error`] like any other. A future
/// written by hand, so that the step's future is held once (see [`catch_unwind`]).
fn step<F: Future<Output = Result>>(capture: bool, fut: F) -> Step<F> {
    Step {
        caught: catch_unwind(fut, capture),
    }
}

pin_project_lite::pin_project! {
    /// The future [`step`] returns.
    struct Step<F> {
        #[pin]
        caught: CatchUnwind<F>,
    }
}

impl<F: Future<Output = Result>> Future for Step<F> {
    type Output = Result;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Result> {
        self.project().caught.poll(cx).map(|caught| match caught {
            Ok(r) => r,
            Err(p) => Err(Error::panic(p.message, p.backtrace)),
        })
    }
}

impl<H: RequestHandler> HandlerState<H> {
    fn make_context(&mut self, request: HttpServerRequest, writer: ResponseWriter) {
        let app = self.app.clone();
        let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Context::new_in(&mut self.cx, request, app, hooks_of::<H>(), writer);
        }));
        if let Err(panic) = made {
            // `set_default_headers` panicked: the handler never started, and dropping
            // its state must not take that for a client that left.
            self.cx = None;
            std::panic::resume_unwind(panic);
        }
    }

    async fn run(mut self: Box<Self>, streaming: bool) {
        let capture = self.app.settings.serves_traceback();
        let this = &mut *self;
        let Some(cx) = this.cx.as_mut() else {
            return;
        };
        let handler = &mut this.handler;
        let result = if streaming {
            step(capture, method(handler, cx)).await
        } else {
            step(capture, async {
                before(handler, cx, this.args.as_deref()).await?;
                method(handler, cx).await
            })
            .await
        };
        if let Err(e) = result {
            handle_error(cx, e);
        }
        if !cx.is_finished() {
            // An error page that could not be finished: the server closes the
            // connection after what went out.
            log::error!("{}: the response was not finished", cx.request_summary());
        }
        if let Err(p) = guarded(capture, || handler.on_finish(cx)) {
            log::error!("panic in on_finish: {}", p.message);
        }
        this.done = true;
    }
}

impl<H: RequestHandler> ErasedMessage for HandlerState<H> {
    fn body_mode(&self) -> BodyMode {
        if H::STREAM_REQUEST_BODY {
            BodyMode::Stream
        } else {
            BodyMode::Buffer
        }
    }

    fn headers_received(&mut self, writer: ResponseWriter) -> LocalFuture<'_> {
        if let Some(head) = self.head.take() {
            self.make_context(*head, writer);
        }
        Box::pin(async move {
            let capture = self.app.settings.serves_traceback();
            let Some(cx) = self.cx.as_mut() else {
                return;
            };
            if let Err(e) = step(capture, before(&mut self.handler, cx, self.args.as_deref())).await
            {
                handle_error(cx, e);
            }
        })
    }

    fn data_received(&mut self, chunk: Bytes) -> LocalFuture<'_> {
        Box::pin(async move {
            let capture = self.app.settings.serves_traceback();
            let Some(cx) = self.cx.as_mut() else {
                return;
            };
            if cx.is_finished() {
                // Answered already (by an error while reading): the rest of the body
                // is read and dropped.
                return;
            }
            let result = step(capture, self.handler.data_received(cx, chunk)).await;
            if let Err(e) = result {
                handle_error(cx, e);
            }
        })
    }

    fn finish(
        mut self: Box<Self>,
        request: HttpServerRequest,
        writer: ResponseWriter,
    ) -> LocalFuture<'static> {
        // A streaming handler has its context (and the same writer) from the head.
        let streaming = self.cx.is_some();
        if !streaming {
            self.make_context(request, writer);
        }
        Box::pin(self.run(streaming))
    }

    fn on_connection_close(self: Box<Self>) {
        // Dropping the state runs the handler's hook, if the handler had started.
    }
}
