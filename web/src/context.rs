//! [`Context`]: a request and its response, as a handler's methods see them (what
//! Tornado's `RequestHandler` holds besides the handler's own state).
//!
//! Input (arguments, path arguments, cookies) is in `context/input.rs`, output
//! (status, headers, write, flush, finish, redirect, errors) in `context/output.rs`.

mod cookies;
mod input;
mod output;

use std::fmt;
use std::rc::Rc;

use bytes::BytesMut;
use http::{Method, StatusCode};
use tornado_httpserver::ResponseWriter;
use tornado_httpserver::httputil::{HttpHeaders, HttpServerRequest};

use crate::application::AppShared;
use crate::error::{Error, Result};
use crate::handler::RequestHandler;
use crate::settings::Settings;

pub use cookies::{SIGNED_COOKIE_EXPIRES_DAYS, authenticated};
pub(crate) use input::decode_utf8_argument;
pub use output::{GZIP_MIN_LENGTH, IntoStatus, Writable};

/// The handler hooks that context methods call, for one handler type.
pub(crate) struct Hooks {
    pub(crate) handler_name: fn() -> &'static str,
    pub(crate) supported_methods: &'static [Method],
    pub(crate) set_default_headers: fn(&mut Context),
    pub(crate) write_error: fn(&mut Context, StatusCode, Option<&Error>),
    pub(crate) compute_etag: fn(&Context) -> Option<String>,
    pub(crate) decode_argument: fn(&[u8], Option<&str>) -> Result<String>,
}

struct HooksOf<H>(std::marker::PhantomData<H>);

impl<H: RequestHandler> HooksOf<H> {
    const HOOKS: Hooks = Hooks {
        handler_name: std::any::type_name::<H>,
        supported_methods: H::SUPPORTED_METHODS,
        set_default_headers: H::set_default_headers,
        write_error: H::write_error,
        compute_etag: H::compute_etag,
        decode_argument: H::decode_argument,
    };
}

/// The hooks of handler type `H`, made once at compile time.
pub(crate) fn hooks_of<H: RequestHandler>() -> &'static Hooks {
    &HooksOf::<H>::HOOKS
}

/// Where a response stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    /// Nothing sent; status, headers and the buffer can still change.
    Open,
    /// `flush` sent the headers: the body goes out in pieces.
    Streaming,
    /// `finish` ran.
    Finished,
}

/// A route's decoded positional and named groups.
type PathValues = (Vec<String>, Vec<(String, String)>);

/// One request and its response: what a handler reads and writes (Tornado's
/// `self.request`, `self.get_argument`, `self.write`, ...).
///
/// Output is buffered until [`flush`](Context::flush) or
/// [`finish`](Context::finish) (which runs by itself when the method returns): a
/// response written in one piece goes out with `Content-Length` (and, for `GET` and
/// `HEAD`, an `ETag` checked against `If-None-Match`), a flushed one chunked.
///
/// ```
/// use tornado_web::{Context, RequestHandler};
///
/// struct Echo;
/// impl RequestHandler for Echo {
///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
///         let text = cx.get_argument("text")?; // 400 "Missing argument text" if absent
///         cx.set_header("X-Length", text.len())?;
///         cx.write_json(&serde_json::json!({ "text": text }))?;
///         Ok(())
///     }
/// }
/// ```
pub struct Context {
    request: HttpServerRequest,
    app: Rc<AppShared>,
    hooks: &'static Hooks,
    /// The decoded path arguments, boxed (and none for a route without groups): a
    /// waiting request carries a pointer, not two vectors.
    path: Option<Box<PathValues>>,
    current_user: Option<String>,
    status: StatusCode,
    reason: Option<String>,
    headers: HttpHeaders,
    buffer: BytesMut,
    output: Output,
    /// Answers the request (from the head on).
    writer: ResponseWriter,
    gzip: output::Gzip,
    /// What few requests need: outgoing cookies and the XSRF token (boxed, so a
    /// request without them carries one pointer).
    extras: Option<Box<Extras>>,
}

/// The parts of a [`Context`] that most requests never use.
#[derive(Default)]
struct Extras {
    /// Cookies to send, by name, with their `Set-Cookie` value; setting a name again
    /// replaces it and moves it last (Tornado's `_new_cookie`). They survive `clear`,
    /// as in Tornado.
    new_cookies: Vec<(String, String)>,
    /// The XSRF token read from the cookie or made for this request.
    xsrf_raw: Option<crate::xsrf::RawToken>,
    /// The masked token this request's pages carry (one mask per request).
    xsrf_token: Option<String>,
    /// The `_xsrf` cookie of a new token has been set.
    xsrf_cookie_set: bool,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("request", &self.request)
            .field("handler", &(self.hooks.handler_name)())
            .field("status", &self.status)
            .field("output", &self.output)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context in `slot`, made there (not moved in: it is a few hundred bytes).
    pub(crate) fn new_in<'a>(
        slot: &'a mut Option<Context>,
        mut request: HttpServerRequest,
        app: Rc<AppShared>,
        hooks: &'static Hooks,
        writer: ResponseWriter,
    ) -> &'a mut Context {
        // A handler may hold its request for long (a long poll): its head should not
        // keep the connection's read buffer alive (the server copied a small body).
        request.compact_head();
        let gzip = output::Gzip::for_request(&request, app.settings.compress_response);
        let cx = slot.insert(Context {
            request,
            app,
            hooks,
            path: None,
            current_user: None,
            status: StatusCode::OK,
            reason: None,
            headers: HttpHeaders::new(),
            buffer: BytesMut::new(),
            output: Output::Open,
            writer,
            gzip,
            extras: None,
        });
        // What `clear` does, less resetting what is new.
        cx.set_default_headers();
        cx
    }

    /// The request (method, URI, headers, body, arguments, files, client address).
    pub fn request(&self) -> &HttpServerRequest {
        &self.request
    }

    /// The request, mutably (a `prepare` step may rewrite headers for the method).
    pub fn request_mut(&mut self) -> &mut HttpServerRequest {
        &mut self.request
    }

    /// The request method.
    pub fn method(&self) -> &Method {
        self.request.method()
    }

    /// The application's settings.
    pub fn settings(&self) -> &Settings {
        &self.app.settings
    }

    /// The URL of the route named `name`, its groups filled from `args` (Tornado's
    /// `reverse_url`).
    pub fn reverse_url(
        &self,
        name: &str,
        args: &[&dyn fmt::Display],
    ) -> std::result::Result<String, crate::RouteError> {
        self.app.reverse_url(name, args)
    }

    /// The handler's type name (as error pages and logs show it).
    pub fn handler_name(&self) -> &'static str {
        (self.hooks.handler_name)()
    }

    /// The user [`get_current_user`](RequestHandler::get_current_user) found, or that
    /// [`set_current_user`](Self::set_current_user) set.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Hello;
    /// impl RequestHandler for Hello {
    ///     async fn get_current_user(&mut self, cx: &mut Context) -> tornado_web::Result<Option<String>> {
    ///         // A real application reads a signed cookie (`get_signed_cookie`).
    ///         Ok(cx.get_cookie("user").map(str::to_owned))
    ///     }
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let name = cx.current_user().unwrap_or("stranger").to_owned();
    ///         cx.write(format!("hello, {name}"));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Hello)]), |t| async move {
    ///     assert_eq!(t.fetch("/").await.text().unwrap(), "hello, stranger");
    ///     let alice = t.fetch_request(t.request("/").header("Cookie", "user=alice")).await;
    ///     assert_eq!(alice.text().unwrap(), "hello, alice");
    /// });
    /// ```
    pub fn current_user(&self) -> Option<&str> {
        self.current_user.as_deref()
    }

    /// Sets the current user (Tornado lets `prepare` assign `self.current_user`). An
    /// empty name is no user, as an empty value is false in Tornado.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Api;
    /// impl RequestHandler for Api {
    ///     async fn prepare(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let key = cx.request().headers().get("X-Api-Key").map(str::to_owned);
    ///         cx.set_current_user(key.map(|k| format!("key:{k}")));
    ///         Ok(())
    ///     }
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let user = format!("{:?}", cx.current_user());
    ///         cx.write(user);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Api)]), |t| async move {
    ///     let r = t.fetch_request(t.request("/").header("X-Api-Key", "7")).await;
    ///     assert_eq!(r.text().unwrap(), "Some(\"key:7\")");
    ///     assert_eq!(t.fetch("/").await.text().unwrap(), "None");
    /// });
    /// ```
    pub fn set_current_user(&mut self, user: Option<String>) {
        self.current_user = user.filter(|u| !u.is_empty());
    }

    /// Resolves when the client's connection closes; a long poll can race it against
    /// its wait (the framework also drops a waiting method when the client leaves).
    pub async fn closed(&self) {
        self.writer.closed().await
    }

    /// Whether the client's connection has closed.
    pub fn connection_closed(&self) -> bool {
        self.writer.connection_closed()
    }

    pub(crate) fn set_path_args(&mut self, args: Vec<String>, kwargs: Vec<(String, String)>) {
        self.path = (!args.is_empty() || !kwargs.is_empty()).then(|| Box::new((args, kwargs)));
    }

    pub(crate) fn app(&self) -> &Rc<AppShared> {
        &self.app
    }

    /// The response headers, for values the crate made itself and knows to be safe
    /// (`set_header` checks what a handler gives it).
    pub(crate) fn headers_mut(&mut self) -> &mut HttpHeaders {
        &mut self.headers
    }

    pub(crate) fn hooks(&self) -> &'static Hooks {
        self.hooks
    }

    pub(crate) fn request_summary(&self) -> String {
        crate::settings::summary(
            self.request.method(),
            self.request.uri(),
            self.request.remote_ip,
        )
    }
}
