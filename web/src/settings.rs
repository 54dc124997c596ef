//! [`Settings`]: the application's settings (Tornado's `Application(**settings)`).

use std::fmt;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use http::{Method, StatusCode};
use tornado_httpserver::HttpServerSettings;

use crate::application::Target;
use crate::cookie::CookieOptions;
use crate::signing::{Secret, Version};
use crate::staticfile::StaticFileOptions;
use crate::uimodule::UiModules;

/// The WebSocket message size limit Tornado uses by default (10 MiB).
///
/// ```
/// use tornado_web::{Settings, DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE};
///
/// assert_eq!(DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE, 10 * 1024 * 1024);
/// assert_eq!(Settings::default().websocket_max_message_size, DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE);
/// ```
pub const DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE: usize = 10 * 1024 * 1024;

/// A replacement for the access log line: called with each finished request.
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// use tornado_web::{testing, url, Application, Context, LogFunction, RequestHandler, RequestLog};
/// use tornado_web::Settings;
///
/// struct Hello;
/// impl RequestHandler for Hello {
///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
///         cx.write("hello");
///         Ok(())
///     }
/// }
///
/// let seen = Rc::new(RefCell::new(Vec::new()));
/// let record = seen.clone();
/// let log: LogFunction = Rc::new(move |r: &RequestLog<'_>| {
///     record.borrow_mut().push((r.status.as_u16(), r.uri.to_owned()));
/// });
/// let settings = Settings { log_function: Some(log), ..Settings::default() };
/// testing::run(|| Application::with_settings(vec![url("/", || Hello)], settings), |t| async move {
///     t.fetch("/?a=1").await;
///     t.fetch("/missing").await;
///     assert_eq!(*seen.borrow(), [(200, "/?a=1".to_owned()), (404, "/missing".to_owned())]);
/// });
/// ```
pub type LogFunction = Rc<dyn Fn(&RequestLog<'_>)>;

/// The application's settings. Build with struct-update syntax over `Default`.
///
/// ```
/// use tornado_web::{Application, Settings};
///
/// let settings = Settings {
///     debug: true,
///     compress_response: true,
///     ..Settings::default()
/// };
/// assert!(settings.serves_traceback());
/// let app = Application::with_settings(Vec::new(), settings);
/// assert!(app.settings().compress_response);
/// ```
#[derive(Clone)]
pub struct Settings {
    /// Development mode: serves tracebacks on error pages (as
    /// [`serve_traceback`](Self::serve_traceback)) and reloads templates whose files
    /// changed (as with [`compiled_template_cache`](Self::compiled_template_cache)
    /// off), and `static_url` hashes files anew each time (as with
    /// [`static_hash_cache`](Self::static_hash_cache) off), as Tornado's `debug` does.
    pub debug: bool,
    /// Gzip responses to clients that accept it, for compressible types
    /// (`text/*`, JSON, JavaScript, XML, SVG) of at least
    /// [`GZIP_MIN_LENGTH`](crate::GZIP_MIN_LENGTH) bytes or streamed; adds
    /// `Vary: Accept-Encoding`.
    pub compress_response: bool,
    /// Error pages show the error, the handler and a backtrace.
    pub serve_traceback: bool,
    /// Answers requests no route matches (Tornado's `default_handler_class`); a 404
    /// page otherwise.
    pub default_handler: Option<Target>,
    /// The host whose routes serve requests that match no host pattern, and requests
    /// carrying `X-Real-Ip` (Tornado's `default_host`).
    pub default_host: Option<String>,
    /// Replaces the default access log line (Tornado's `log_function`).
    pub log_function: Option<LogFunction>,
    /// Where `get_login_url` sends users who are not logged in (and
    /// [`authenticated`](crate::authenticated) redirects them).
    pub login_url: Option<String>,
    /// The secret that signs cookies ([`Context::set_signed_cookie`](crate::Context::set_signed_cookie)):
    /// a long random key, or several by key version for rotation. Signed cookies fail
    /// with an error while it is unset.
    pub cookie_secret: Option<Secret>,
    /// With a versioned [`cookie_secret`](Self::cookie_secret), the version of the
    /// key that signs new values (every listed key still verifies).
    pub key_version: Option<i64>,
    /// Check every request but `GET`, `HEAD` and `OPTIONS` for the XSRF token of the
    /// `_xsrf` cookie (see [`Context::check_xsrf_cookie`](crate::Context::check_xsrf_cookie)).
    pub xsrf_cookies: bool,
    /// Refuse (403) requests but `GET`, `HEAD` and `OPTIONS` that a browser marks as
    /// cross-site (`Sec-Fetch-Site`), or whose `Origin` is not the `Host`, unless
    /// [`RequestHandler::check_trusted_origin`](crate::RequestHandler::check_trusted_origin)
    /// trusts the origin (Tornado 6.6's `cross_origin_protection`). Requests with
    /// neither header (not from a browser) pass.
    pub cross_origin_protection: bool,
    /// The origins (`https://example.com`) that cross-origin protection lets through.
    pub trusted_origins: Vec<String>,
    /// The format of new XSRF tokens: [`Version::V2`] (masked anew for each page, the
    /// default) or [`Version::V1`] (plain hex, for old clients). Both are read.
    pub xsrf_cookie_version: Version,
    /// The name of the XSRF cookie (`_xsrf`).
    pub xsrf_cookie_name: String,
    /// The attributes of the XSRF cookie (Tornado's `xsrf_cookie_kwargs`), e.g.
    /// `secure` and `httponly`.
    pub xsrf_cookie_kwargs: CookieOptions,
    /// Settings of the HTTP server that [`Application::listen`](crate::Application::listen)
    /// starts (limits, timeouts, `xheaders`, TLS).
    pub server: HttpServerSettings,
    /// The directory templates are loaded from by name (Tornado's `template_path`);
    /// without it, rendering a template fails. See [`template`](crate::template).
    pub template_path: Option<PathBuf>,
    /// Escape what templates print for HTML unless it is marked safe (Tornado's
    /// default `autoescape="xhtml_escape"`; `false` is its `autoescape=None`). On by
    /// default.
    pub autoescape: bool,
    /// Compile each template once and keep it (Tornado's `compiled_template_cache`,
    /// on by default). Off, or with [`debug`](Self::debug), each render checks the
    /// template files it uses and recompiles those that changed.
    pub compiled_template_cache: bool,
    /// Render the templates that can be compiled to a plan with it, faster than
    /// minijinja's interpreter (see [Compiled templates](crate::template#compiled-templates)).
    /// On by default; the pages are the same either way, and off, the interpreter
    /// renders every template.
    pub template_fast_path: bool,
    /// The UI modules templates call as `modules.Name(...)` (Tornado's `ui_modules`).
    pub ui_modules: UiModules,
    /// Serves the files of this directory under
    /// [`static_url_prefix`](Self::static_url_prefix), and `/favicon.ico` and
    /// `/robots.txt` from it, with a [`StaticFileHandler`](crate::StaticFileHandler)
    /// (Tornado's `static_path`: the three routes go before the application's); needed
    /// by [`Context::static_url`](crate::Context::static_url).
    pub static_path: Option<PathBuf>,
    /// Where static files are served and what `static_url` starts with (default
    /// `/static/`).
    pub static_url_prefix: String,
    /// Whether `static_url` computes a file's version once and keeps it (Tornado's
    /// `static_hash_cache`); `None` (the default): yes, unless `debug`. Files served are
    /// checked for changes on every request either way.
    pub static_hash_cache: Option<bool>,
    /// Options of the static routes: `default_filename`, the directories symlinks may
    /// lead to, and a [`StaticPolicy`](crate::StaticPolicy) (Tornado's
    /// `static_handler_args` and `static_handler_class`).
    pub static_handler_args: StaticFileOptions,
    /// WebSocket: send a ping this often (none by default, or zero: no pings).
    pub websocket_ping_interval: Option<Duration>,
    /// WebSocket: close (1000, "ping timed out") when a ping's pong does not come
    /// within this time; the ping interval by default and at most, zero for no limit.
    pub websocket_ping_timeout: Option<Duration>,
    /// WebSocket: the largest message accepted, decompressed and with its fragments
    /// joined ([`DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE`]); a larger one closes the
    /// connection with 1009.
    pub websocket_max_message_size: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            debug: false,
            compress_response: false,
            serve_traceback: false,
            default_handler: None,
            default_host: None,
            log_function: None,
            login_url: None,
            cookie_secret: None,
            key_version: None,
            xsrf_cookies: false,
            cross_origin_protection: false,
            trusted_origins: Vec::new(),
            xsrf_cookie_version: Version::V2,
            xsrf_cookie_name: String::from("_xsrf"),
            xsrf_cookie_kwargs: CookieOptions::default(),
            server: HttpServerSettings::default(),
            template_path: None,
            autoescape: true,
            compiled_template_cache: true,
            template_fast_path: true,
            ui_modules: UiModules::new(),
            static_path: None,
            static_url_prefix: String::from("/static/"),
            static_hash_cache: None,
            static_handler_args: StaticFileOptions::default(),
            websocket_ping_interval: None,
            websocket_ping_timeout: None,
            websocket_max_message_size: DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE,
        }
    }
}

impl Settings {
    /// Whether error pages carry tracebacks (`serve_traceback` or `debug`).
    ///
    /// ```
    /// use tornado_web::Settings;
    ///
    /// assert!(!Settings::default().serves_traceback());
    /// assert!(Settings { debug: true, ..Settings::default() }.serves_traceback());
    /// assert!(Settings { serve_traceback: true, ..Settings::default() }.serves_traceback());
    /// ```
    pub fn serves_traceback(&self) -> bool {
        self.serve_traceback || self.debug
    }

    /// Whether `static_url` keeps versions ([`static_hash_cache`](Self::static_hash_cache),
    /// or not `debug`).
    ///
    /// ```
    /// use tornado_web::Settings;
    ///
    /// assert!(Settings::default().uses_static_hash_cache());
    /// assert!(!Settings { debug: true, ..Settings::default() }.uses_static_hash_cache());
    /// let kept = Settings { debug: true, static_hash_cache: Some(true), ..Settings::default() };
    /// assert!(kept.uses_static_hash_cache());
    /// ```
    pub fn uses_static_hash_cache(&self) -> bool {
        self.static_hash_cache.unwrap_or(!self.debug)
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("debug", &self.debug)
            .field("compress_response", &self.compress_response)
            .field("serve_traceback", &self.serve_traceback)
            .field("default_handler", &self.default_handler.is_some())
            .field("default_host", &self.default_host)
            .field("log_function", &self.log_function.is_some())
            .field("login_url", &self.login_url)
            .field("template_path", &self.template_path)
            .field("autoescape", &self.autoescape)
            .field("compiled_template_cache", &self.compiled_template_cache)
            .field("template_fast_path", &self.template_fast_path)
            .field("ui_modules", &self.ui_modules)
            .field("cookie_secret", &self.cookie_secret)
            .field("key_version", &self.key_version)
            .field("xsrf_cookies", &self.xsrf_cookies)
            .field("cross_origin_protection", &self.cross_origin_protection)
            .field("trusted_origins", &self.trusted_origins)
            .field("xsrf_cookie_version", &self.xsrf_cookie_version)
            .field("xsrf_cookie_name", &self.xsrf_cookie_name)
            .field("xsrf_cookie_kwargs", &self.xsrf_cookie_kwargs)
            .field("static_path", &self.static_path)
            .field("static_url_prefix", &self.static_url_prefix)
            .field("static_hash_cache", &self.static_hash_cache)
            .field("static_handler_args", &self.static_handler_args)
            .field("websocket_ping_interval", &self.websocket_ping_interval)
            .field("websocket_ping_timeout", &self.websocket_ping_timeout)
            .field(
                "websocket_max_message_size",
                &self.websocket_max_message_size,
            )
            .finish_non_exhaustive()
    }
}

/// Tornado's request summary, `METHOD uri (ip)` (`unix` for a Unix socket), as logs
/// and error pages show a request.
pub(crate) fn summary(method: &Method, uri: &str, ip: Option<std::net::IpAddr>) -> String {
    match ip {
        Some(ip) => format!("{method} {uri} ({ip})"),
        None => format!("{method} {uri} (unix)"),
    }
}

/// One finished request, as the access log sees it (what Tornado's `log_function`
/// gets from the handler).
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// use tornado_web::{testing, url, Application, RequestLog, Settings};
/// # use tornado_web::{Context, RequestHandler};
/// # struct Hello;
/// # impl RequestHandler for Hello {
/// #     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
/// #         cx.write("hello");
/// #         Ok(())
/// #     }
/// # }
///
/// let lines = Rc::new(RefCell::new(Vec::new()));
/// let out = lines.clone();
/// let settings = Settings {
///     log_function: Some(Rc::new(move |r: &RequestLog<'_>| {
///         out.borrow_mut().push(format!("{} {} {} by {}", r.status.as_u16(), r.method, r.uri, r.handler));
///     })),
///     ..Settings::default()
/// };
/// testing::run(|| Application::with_settings(vec![url("/", || Hello)], settings), |t| async move {
///     t.fetch("/").await;
///     let line = lines.borrow()[0].clone();
///     assert!(line.starts_with("200 GET / by ") && line.ends_with("Hello"), "{line}");
/// });
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct RequestLog<'a> {
    /// The status sent.
    pub status: StatusCode,
    /// The request method.
    pub method: &'a Method,
    /// The request target (path and query).
    pub uri: &'a str,
    /// The client's address (`None` on a Unix socket).
    pub remote_ip: Option<std::net::IpAddr>,
    /// From the request's first byte to the end of its response.
    pub request_time: Duration,
    /// The handler's type name.
    pub handler: &'a str,
}

/// The level of a default access line: info for statuses below 400, warning below
/// 500, error from 500 on.
pub(crate) fn access_level(status: StatusCode) -> log::Level {
    match status.as_u16() {
        0..=399 => log::Level::Info,
        400..=499 => log::Level::Warn,
        _ => log::Level::Error,
    }
}

/// Whether the default access line for `status` would be written: when it would not,
/// the line is not made (its request time would read the clock for nothing).
pub(crate) fn access_log_enabled(status: StatusCode) -> bool {
    log::log_enabled!(target: "tornado.access", access_level(status))
}

impl RequestLog<'_> {
    /// Tornado's summary: `METHOD uri (ip)`.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// use tornado_web::{testing, url, Application, Context, RequestHandler, RequestLog, Settings};
    ///
    /// struct Hello;
    /// impl RequestHandler for Hello {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("hello");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let summaries = Rc::new(RefCell::new(Vec::new()));
    /// let out = summaries.clone();
    /// let settings = Settings {
    ///     log_function: Some(Rc::new(move |r: &RequestLog<'_>| out.borrow_mut().push(r.summary()))),
    ///     ..Settings::default()
    /// };
    /// testing::run(|| Application::with_settings(vec![url("/", || Hello)], settings), |t| async move {
    ///     t.fetch("/?q=1").await;
    ///     assert_eq!(*summaries.borrow(), ["GET /?q=1 (127.0.0.1)"]);
    /// });
    /// ```
    pub fn summary(&self) -> String {
        summary(self.method, self.uri, self.remote_ip)
    }

    /// Logs the line as Tornado's `Application.log_request` does, to target
    /// `tornado.access`: `200 GET / (127.0.0.1) 0.52ms` at info for statuses below
    /// 400, warning below 500, error from 500 on.
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use tornado_web::{testing, url, Application, Context, RequestHandler, RequestLog, Settings};
    ///
    /// struct Hello;
    /// impl RequestHandler for Hello {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("hello");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// // Logs only what went wrong, in Tornado's words, and counts the rest.
    /// let fine = Rc::new(Cell::new(0));
    /// let count = fine.clone();
    /// let settings = Settings {
    ///     log_function: Some(Rc::new(move |r: &RequestLog<'_>| {
    ///         if r.status.as_u16() >= 400 {
    ///             r.log(); // "404 GET /missing (127.0.0.1) 0.21ms", a warning
    ///         } else {
    ///             count.set(count.get() + 1);
    ///         }
    ///     })),
    ///     ..Settings::default()
    /// };
    /// testing::run(|| Application::with_settings(vec![url("/", || Hello)], settings), |t| async move {
    ///     t.fetch("/").await;
    ///     t.fetch("/missing").await;
    ///     assert_eq!(fine.get(), 1);
    /// });
    /// ```
    pub fn log(&self) {
        let level = access_level(self.status);
        if log::log_enabled!(target: "tornado.access", level) {
            log::log!(
                target: "tornado.access",
                level,
                "{} {} {:.2}ms",
                self.status.as_u16(),
                self.summary(),
                self.request_time.as_secs_f64() * 1000.0
            );
        }
    }
}
