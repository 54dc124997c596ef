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
pub(crate) use output::json_encode;
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
    /// `flush` sent the headers: the body goes out in pieces, if the head sent allows
    /// one (`body`; a status set since does not change that).
    Streaming { body: bool },
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
/// use tornado_web::{testing, url, Application, Context, RequestHandler};
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
///
/// testing::run(|| Application::new(vec![url("/echo", || Echo)]), |t| async move {
///     let post = |path: &str| t.fetch_request(t.request(path).method("POST").body(""));
///     let r = post("/echo?text=hi").await;
///     assert_eq!((r.text().unwrap(), r.headers.get("X-Length")), (r#"{"text":"hi"}"#, Some("2")));
///     assert_eq!(r.headers.get("Content-Length"), Some("13")); // sent whole
///     assert_eq!(post("/echo").await.code, 400);
/// });
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
    /// The UI modules this request's renders have used, kept between them: as
    /// Tornado's belong to the handler, `render` gathers the resources of those an
    /// earlier `render_string` used too.
    ui_modules: Vec<crate::template::ActiveModule>,
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

    /// The UI modules this request's renders have used so far (none kept).
    pub(crate) fn take_ui_modules(&mut self) -> Vec<crate::template::ActiveModule> {
        self.extras
            .as_mut()
            .map(|e| std::mem::take(&mut e.ui_modules))
            .unwrap_or_default()
    }

    /// Keeps the UI modules a render has used for the renders after it.
    pub(crate) fn keep_ui_modules(&mut self, modules: Vec<crate::template::ActiveModule>) {
        if !modules.is_empty() {
            self.extras.get_or_insert_with(Default::default).ui_modules = modules;
        }
    }

    /// The request (method, URI, headers, body, arguments, files, client address).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Where;
    /// impl RequestHandler for Where {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let r = cx.request();
    ///         let seen = format!("{} {} {:?}", r.path(), r.query(), r.headers().get("X-Trace"));
    ///         cx.write(seen);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/where", || Where)]), |t| async move {
    ///     let r = t.fetch_request(t.request("/where?a=1").header("X-Trace", "7")).await;
    ///     assert_eq!(r.text().unwrap(), "/where a=1 Some(\"7\")");
    /// });
    /// ```
    pub fn request(&self) -> &HttpServerRequest {
        &self.request
    }

    /// The request, mutably (a `prepare` step may rewrite headers for the method).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Localized;
    /// impl RequestHandler for Localized {
    ///     async fn prepare(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         // One place decides the default, so every method can rely on the header.
    ///         let headers = cx.request_mut().headers_mut();
    ///         if !headers.contains("Accept-Language") {
    ///             headers.set("Accept-Language", "en");
    ///         }
    ///         Ok(())
    ///     }
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let lang = cx.request().headers().get("Accept-Language").unwrap_or("?").to_owned();
    ///         cx.write(lang);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Localized)]), |t| async move {
    ///     assert_eq!(t.fetch("/").await.text().unwrap(), "en");
    ///     let fr = t.fetch_request(t.request("/").header("Accept-Language", "fr")).await;
    ///     assert_eq!(fr.text().unwrap(), "fr");
    /// });
    /// ```
    pub fn request_mut(&mut self) -> &mut HttpServerRequest {
        &mut self.request
    }

    /// The request method.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// /// GET and POST share one answer that names the method.
    /// struct Either;
    /// impl Either {
    ///     fn answer(cx: &mut Context) -> tornado_web::Result {
    ///         let method = cx.method().as_str().to_owned();
    ///         cx.write(method);
    ///         Ok(())
    ///     }
    /// }
    /// impl RequestHandler for Either {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         Either::answer(cx)
    ///     }
    ///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         Either::answer(cx)
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Either)]), |t| async move {
    ///     assert_eq!(t.fetch("/").await.text().unwrap(), "GET");
    ///     let post = t.fetch_request(t.request("/").method("POST").body("")).await;
    ///     assert_eq!(post.text().unwrap(), "POST");
    /// });
    /// ```
    pub fn method(&self) -> &Method {
        self.request.method()
    }

    /// The application's settings.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler, Settings};
    ///
    /// struct Mode;
    /// impl RequestHandler for Mode {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let mode = if cx.settings().debug { "debug" } else { "production" };
    ///         cx.write(mode);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let settings = Settings { debug: true, ..Settings::default() };
    /// let app = || Application::with_settings(vec![url("/", || Mode)], settings);
    /// testing::run(app, |t| async move {
    ///     assert_eq!(t.fetch("/").await.text().unwrap(), "debug");
    /// });
    /// ```
    pub fn settings(&self) -> &Settings {
        &self.app.settings
    }

    /// The application serving this request (Tornado's `self.application`): a handle
    /// (one reference count) that a handler may keep past the request, for instance a
    /// [`WebSocketHandler`](crate::websocket::WebSocketHandler) that renders templates
    /// in `on_message`, where it has no `Context`.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler, Settings};
    ///
    /// struct Links;
    /// impl RequestHandler for Links {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let app = cx.application();
    ///         let debug = app.settings().debug;
    ///         cx.write(format!("{} {debug}", app.reverse_url("profile", &[&7])?));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let app = || {
    ///     Application::new(vec![
    ///         url("/", || Links),
    ///         url(r"/user/(\d+)", || Links).name("profile"),
    ///     ])
    /// };
    /// testing::run(app, |t| async move {
    ///     assert_eq!(t.fetch("/").await.text().unwrap(), "/user/7 false");
    /// });
    /// ```
    pub fn application(&self) -> crate::Application {
        crate::Application::from_shared(self.app.clone())
    }

    /// The URL of the route named `name`, its groups filled from `args` (Tornado's
    /// `reverse_url`).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Profile;
    /// impl RequestHandler for Profile {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let link = cx.reverse_url("user", &[&42])?;
    ///         assert!(cx.reverse_url("no-such-route", &[]).is_err());
    ///         cx.write(link);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let app = || Application::new(vec![url(r"/user/(\d+)", || Profile).name("user")]);
    /// testing::run(app, |t| async move {
    ///     assert_eq!(t.fetch("/user/1").await.text().unwrap(), "/user/42");
    /// });
    /// ```
    pub fn reverse_url(
        &self,
        name: &str,
        args: &[&dyn fmt::Display],
    ) -> std::result::Result<String, crate::RouteError> {
        self.app.reverse_url(name, args)
    }

    /// The handler's type name (as error pages and logs show it).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Named;
    /// impl RequestHandler for Named {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let name = cx.handler_name();
    ///         cx.write(name);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Named)]), |t| async move {
    ///     let name = t.fetch("/").await.text().unwrap().to_owned();
    ///     assert!(name.ends_with("::Named"), "{name}"); // the type's path, as logs show it
    /// });
    /// ```
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
    ///
    /// ```
    /// use tornado_gen::locks::Event;
    /// use tornado_iostream::IoStream;
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// /// Answers at once, then keeps a resource until the client leaves.
    /// struct Session(Event);
    /// impl RequestHandler for Session {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("welcome");
    ///         cx.finish()?; // after this, the client leaving no longer cancels the method
    ///         cx.closed().await;
    ///         self.0.set(); // release what the session held
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let left = Event::new();
    /// let (set_by_handler, released) = (left.clone(), left.clone());
    /// let session = move || Session(set_by_handler.clone());
    /// testing::run(move || Application::new(vec![url("/", session)]), |t| async move {
    ///     let stream = IoStream::connect(t.addr()).await.unwrap();
    ///     stream.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    ///     stream.read_until(b"welcome", Some(4096)).await.unwrap();
    ///     assert!(!left.is_set());
    ///     stream.close();
    ///     left.wait().await; // resolves once the handler saw the close
    /// });
    /// assert!(released.is_set());
    /// ```
    pub async fn closed(&self) {
        self.writer.closed().await
    }

    /// Whether the client's connection has closed.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// use tornado_gen::locks::Event;
    /// use tornado_iostream::IoStream;
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Watch(Rc<RefCell<Vec<bool>>>, Event);
    /// impl RequestHandler for Watch {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("hi");
    ///         cx.finish()?;
    ///         self.0.borrow_mut().push(cx.connection_closed());
    ///         cx.closed().await;
    ///         self.0.borrow_mut().push(cx.connection_closed());
    ///         self.1.set();
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let seen = Rc::new(RefCell::new(Vec::new()));
    /// let done = Event::new();
    /// let (s, d) = (seen.clone(), done.clone());
    /// let app = move || Application::new(vec![url("/", move || Watch(s.clone(), d.clone()))]);
    /// testing::run(app, |t| async move {
    ///     let stream = IoStream::connect(t.addr()).await.unwrap();
    ///     stream.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    ///     stream.read_until(b"hi", Some(4096)).await.unwrap();
    ///     stream.close();
    ///     done.wait().await;
    /// });
    /// assert_eq!(*seen.borrow(), [false, true]);
    /// ```
    pub fn connection_closed(&self) -> bool {
        self.writer.connection_closed()
    }

    /// Sets this request's body limit in place of the server's `max_body_size`
    /// (Tornado's `self.request.connection.set_max_body_size`), larger or smaller.
    ///
    /// Call it from the `prepare` of a handler with
    /// [`STREAM_REQUEST_BODY`](crate::RequestHandler::STREAM_REQUEST_BODY), which runs
    /// at the head, before any of the body is read: a `Content-Length` above the
    /// limit is then answered 413 without reading the body (and without `100
    /// Continue`), and a chunked body is refused with 413 once it passes the limit (in
    /// decoded bytes, with the server's `decompress`). The handler hears of a refusal
    /// through [`on_connection_close`](crate::RequestHandler::on_connection_close), as
    /// of a client that left. The next request gets the server's limit again.
    ///
    /// Once the body is being read or was read, it fails and changes nothing: from
    /// `data_received` on, from the method, and always for a buffered handler (whose
    /// `prepare` runs after its whole body arrived, within the server's limit). The
    /// error is a 500 if returned with `?`. A request without a body accepts it.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use tornado_web::{testing, url, Application, Context, RequestHandler, Settings};
    ///
    /// /// Takes uploads of up to 64 KiB, while the server allows 1 KiB.
    /// struct Upload(usize);
    /// impl RequestHandler for Upload {
    ///     const STREAM_REQUEST_BODY: bool = true;
    ///     async fn prepare(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.set_max_body_size(64 * 1024)?;
    ///         Ok(())
    ///     }
    ///     async fn data_received(&mut self, _cx: &mut Context, chunk: Bytes) -> tornado_web::Result {
    ///         self.0 += chunk.len();
    ///         Ok(())
    ///     }
    ///     async fn put(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write(format!("{} bytes", self.0));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let app = || {
    ///     let mut settings = Settings::default();
    ///     settings.server.params.max_body_size = 1024;
    ///     Application::with_settings(vec![url("/upload", || Upload(0))], settings)
    /// };
    /// testing::run(app, |t| async move {
    ///     let put = |len: usize| t.fetch_request(t.request("/upload").method("PUT").body(vec![b'x'; len]));
    ///     assert_eq!(put(50_000).await.text().unwrap(), "50000 bytes");
    ///     assert_eq!(put(100_000).await.code, 413);
    /// });
    /// ```
    pub fn set_max_body_size(&mut self, max_body_size: u64) -> Result {
        self.writer.set_max_body_size(max_body_size)?;
        Ok(())
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
