//! [`RequestHandler`]: the trait a handler implements (Tornado's `RequestHandler`
//! subclass), one value per request.

use bytes::Bytes;
use http::{Method, StatusCode};

use crate::context::Context;
use crate::error::{Error, HttpError, Result};

/// The methods a handler serves unless it says otherwise (Tornado's
/// `SUPPORTED_METHODS`).
///
/// ```
/// use http::Method;
/// use tornado_web::DEFAULT_SUPPORTED_METHODS;
///
/// assert_eq!(DEFAULT_SUPPORTED_METHODS.len(), 7);
/// assert!(DEFAULT_SUPPORTED_METHODS.contains(&Method::OPTIONS));
/// assert!(!DEFAULT_SUPPORTED_METHODS.contains(&Method::TRACE));
/// ```
pub const DEFAULT_SUPPORTED_METHODS: &[Method] = &[
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::DELETE,
    Method::PATCH,
    Method::PUT,
    Method::OPTIONS,
];

/// What a method the handler does not implement answers: 405, and that method is not
/// listed in `Allow`.
fn not_allowed(method: Method) -> Result {
    let mut e = HttpError::new(405);
    e.unimplemented = Some(method);
    Err(e.into())
}

/// Handles requests to a route: a value made for each request by the route's factory
/// (Tornado makes one handler instance per request; what Tornado's `initialize`
/// receives, the factory closure captures).
///
/// Implement the methods you serve (`get`, `post`, ...); every other method answers
/// `405 Method Not Allowed` with an `Allow` header listing
/// [`SUPPORTED_METHODS`](Self::SUPPORTED_METHODS). The request and the response are
/// in the [`Context`] each method gets.
///
/// # The life of a request
///
/// 1. The route is found from the request head, before the body is read; the factory
///    makes the handler.
/// 2. The body is read whole (the default); then
///    [`get_current_user`](Self::get_current_user), then
///    [`prepare`](Self::prepare), which may finish the request early, then the
///    method. With [`STREAM_REQUEST_BODY`](Self::STREAM_REQUEST_BODY) (Tornado's
///    `@stream_request_body`), `get_current_user` and `prepare` run at the head, and
///    the body comes piece by piece through [`data_received`](Self::data_received)
///    before the method; a response finished in `prepare` refuses the body (no
///    `100 Continue`, the connection closes after it).
/// 3. The response is finished if the method did not (Content-Length, ETag and 304,
///    gzip), and the request is logged; [`on_finish`](Self::on_finish) runs when the
///    method returns.
///
/// An `Err` from any step answers with its status through
/// [`write_error`](Self::write_error) (500 for errors that are not an
/// [`HttpError`]); a panic answers 500 too. If the client leaves while a method is
/// waiting, the method's future is dropped (a long poll is cancelled) and
/// [`on_connection_close`](Self::on_connection_close) runs.
///
/// # Hooks the context calls
///
/// [`set_default_headers`](Self::set_default_headers),
/// [`write_error`](Self::write_error), [`compute_etag`](Self::compute_etag) and
/// [`decode_argument`](Self::decode_argument) are called from inside [`Context`]
/// methods (`clear`, `send_error`, `finish`, `get_argument`), so they take the
/// context rather than `self`.
///
/// ```
/// use tornado_web::{url, Application, Context, RequestHandler};
///
/// struct Greeter {
///     greeting: String,
/// }
///
/// impl RequestHandler for Greeter {
///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
///         let name = cx.get_argument_or("name", "world")?;
///         cx.write(format!("{}, {name}!", self.greeting));
///         Ok(())
///     }
/// }
///
/// let greeting = "Hello".to_string();
/// let app = Application::new(vec![url("/", move || Greeter { greeting: greeting.clone() })]);
/// # let _ = app;
/// ```
///
/// # Shared behaviour (Tornado's `BaseHandler`)
///
/// Give a family of handlers common headers, a common `prepare` and a common
/// `get_current_user` with a wrapper type whose [`RequestHandler`] implementation
/// holds them and hands the methods on (see the crate docs, "Shared behaviour").
#[allow(async_fn_in_trait)]
pub trait RequestHandler: Sized + 'static {
    /// The methods this handler serves; a request with another method answers 405
    /// before anything runs, and every 405 lists these in `Allow` (less the method
    /// asked for, when the handler does not implement it). Tornado's seven by default;
    /// list only the methods you implement for an exact `Allow`.
    const SUPPORTED_METHODS: &'static [Method] = DEFAULT_SUPPORTED_METHODS;

    /// Take the request body in pieces through [`data_received`](Self::data_received)
    /// instead of whole (Tornado's `@stream_request_body`): for uploads that should
    /// not sit in memory. `max_body_size` still limits the total.
    const STREAM_REQUEST_BODY: bool = false;

    /// Serves `GET`.
    async fn get(&mut self, cx: &mut Context) -> Result {
        let _ = cx;
        not_allowed(Method::GET)
    }

    /// Serves `HEAD` (the response carries no body even if one is written).
    async fn head(&mut self, cx: &mut Context) -> Result {
        let _ = cx;
        not_allowed(Method::HEAD)
    }

    /// Serves `POST`.
    async fn post(&mut self, cx: &mut Context) -> Result {
        let _ = cx;
        not_allowed(Method::POST)
    }

    /// Serves `PUT`.
    async fn put(&mut self, cx: &mut Context) -> Result {
        let _ = cx;
        not_allowed(Method::PUT)
    }

    /// Serves `DELETE`.
    async fn delete(&mut self, cx: &mut Context) -> Result {
        let _ = cx;
        not_allowed(Method::DELETE)
    }

    /// Serves `PATCH`.
    async fn patch(&mut self, cx: &mut Context) -> Result {
        let _ = cx;
        not_allowed(Method::PATCH)
    }

    /// Serves `OPTIONS`.
    async fn options(&mut self, cx: &mut Context) -> Result {
        let _ = cx;
        not_allowed(Method::OPTIONS)
    }

    /// Runs before the method (and, when streaming, before the body). Finish the
    /// response here (or return an error, or [`Finish`](crate::Finish)) to stop the
    /// request early.
    async fn prepare(&mut self, cx: &mut Context) -> Result {
        let _ = cx;
        Ok(())
    }

    /// A piece of the request body ([`STREAM_REQUEST_BODY`](Self::STREAM_REQUEST_BODY)
    /// only). No more of the body is read until this returns (flow control).
    async fn data_received(&mut self, cx: &mut Context, chunk: Bytes) -> Result {
        let _ = (cx, chunk);
        Ok(())
    }

    /// The user of this request (Tornado's `get_current_user`), called once before
    /// [`prepare`](Self::prepare) for every request (Tornado calls it lazily, on first
    /// use of `current_user`); available as [`Context::current_user`]. `None` by
    /// default. Keep it cheap, and note that an error here fails the request.
    async fn get_current_user(&mut self, cx: &mut Context) -> Result<Option<String>> {
        let _ = cx;
        Ok(None)
    }

    /// Where users who are not logged in are sent: the `login_url` setting by default,
    /// an error if it is not set.
    fn get_login_url(&self, cx: &Context) -> Result<String> {
        cx.settings()
            .login_url
            .clone()
            .ok_or_else(|| Error::msg("the login_url setting must be set to use get_login_url"))
    }

    /// The XSRF check (Tornado's `check_xsrf_cookie`), run with the `xsrf_cookies`
    /// setting before [`prepare`](Self::prepare) for every method but `GET`, `HEAD`
    /// and `OPTIONS`: [`Context::check_xsrf_cookie`] by default. Override it to opt a
    /// handler out (an API authenticated by other means), or to check differently.
    ///
    /// ```
    /// use tornado_web::{Context, RequestHandler};
    ///
    /// struct Webhook;
    /// impl RequestHandler for Webhook {
    ///     fn check_xsrf_cookie(&mut self, _cx: &mut Context) -> tornado_web::Result {
    ///         Ok(()) // called by other servers, which carry a signature instead
    ///     }
    ///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("ok");
    ///         Ok(())
    ///     }
    /// }
    /// ```
    fn check_xsrf_cookie(&mut self, cx: &mut Context) -> Result {
        cx.check_xsrf_cookie()
    }

    /// Whether a request that looks cross-origin may go on, from its `Origin` header
    /// (Tornado 6.6's `check_trusted_origin`). Asked only with the
    /// `cross_origin_protection` setting, before `prepare`, for every method but
    /// `GET`, `HEAD` and `OPTIONS`, and only for requests a browser marks as
    /// cross-site (`Sec-Fetch-Site`) or whose `Origin` is not the `Host`. By default:
    /// whether `origin` is in the `trusted_origins` setting.
    ///
    /// Override it to trust more (a family of subdomains), or to exempt an endpoint
    /// meant for any origin (which must then not rely on cookies to authenticate):
    ///
    /// ```
    /// use tornado_web::{Context, RequestHandler};
    ///
    /// struct Api;
    /// impl RequestHandler for Api {
    ///     fn check_trusted_origin(&self, _cx: &Context, origin: &str) -> bool {
    ///         origin.ends_with(".example.com") && origin.starts_with("https://")
    ///     }
    /// }
    /// ```
    fn check_trusted_origin(&self, cx: &Context, origin: &str) -> bool {
        cx.settings().trusted_origins.iter().any(|o| o == origin)
    }

    /// Runs after the response is finished (to clean up, record metrics). It cannot
    /// write: the response is out.
    fn on_finish(&mut self, cx: &mut Context) {
        let _ = cx;
    }

    /// The client closed its connection before the response was finished; the method
    /// that was waiting has been dropped (Tornado's `on_connection_close`). Not called
    /// when the client leaves before a buffered body has all arrived: the handler has
    /// not started then.
    fn on_connection_close(&mut self) {}

    /// Sets headers every response of this handler starts with, errors included;
    /// runs when the handler is made and again on every `clear`.
    fn set_default_headers(cx: &mut Context) {
        let _ = cx;
    }

    /// Writes the error page for `status` (Tornado's `write_error`). `error` is the
    /// error that caused it, if any. The default is Tornado's plain HTML page, or, with
    /// `serve_traceback`, a page with the error, the handler and a backtrace.
    fn write_error(cx: &mut Context, status: StatusCode, error: Option<&Error>) {
        crate::errorpage::write_default_error(cx, status, error);
    }

    /// The ETag for the finished body (Tornado's `compute_etag`): a hash of what was
    /// written by default; `None` for no ETag.
    fn compute_etag(cx: &Context) -> Option<String> {
        Some(cx.default_etag())
    }

    /// Turns an argument's raw bytes into text (Tornado's `decode_argument`): UTF-8 by
    /// default, and a 400 naming the argument when it is not.
    fn decode_argument(value: &[u8], name: Option<&str>) -> Result<String> {
        crate::context::decode_utf8_argument(value, name)
    }
}
