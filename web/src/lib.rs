//! # tornado-web
//!
//! The web framework of Tornado for Rust: Tornado's `tornado.web`, on the HTTP/1.1
//! server of `tornado-httpserver`.
//!
//! An [`Application`] holds routes ([`url`]): regex patterns anchored as Tornado
//! anchors them, each with a factory that makes a [`RequestHandler`] for every
//! request, as Tornado makes one handler instance per request (what Tornado's
//! `initialize` receives, the factory closure captures). A handler implements the
//! methods it serves as `async fn`s over a [`Context`], which holds the request
//! (arguments, path arguments, headers, body, cookies) and builds the response
//! (status, headers, `write`, `flush`, `finish`, `redirect`, `send_error`).
//! Errors go up with `?`: an [`HttpError`] answers its status, any other error a 500,
//! [`Finish`] ends the request early; a panic answers 500 and the server goes on.
//!
//! ```
//! use std::time::Duration;
//! use tornado_ioloop::IoLoop;
//! use tornado_web::{url, Application, Context, RequestHandler};
//!
//! struct MainHandler;
//! impl RequestHandler for MainHandler {
//!     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
//!         cx.write("Hello, world");
//!         Ok(())
//!     }
//! }
//!
//! let io_loop = IoLoop::new().unwrap();
//! io_loop.run_sync_timeout(async {
//!     let app = Application::new(vec![url("/", || MainHandler)]);
//!     let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
//!
//!     // Fetch it (tornado::testing does this in one line).
//!     let addr = server.local_addrs()[0];
//!     let response = tornado_httpclient::AsyncHttpClient::new()
//!         .fetch(format!("http://{addr}/"))
//!         .await
//!         .unwrap();
//!     assert_eq!(response.text().unwrap(), "Hello, world");
//!     server.stop();
//! }, Duration::from_secs(10)).unwrap();
//! ```
//!
//! To serve it from `main`, `app.listen(8888)?` then `IoLoop::current().start()`, or
//! [`Application::run`], which also drains requests in flight on SIGINT or SIGTERM.
//!
//! # Shared behaviour (Tornado's `BaseHandler`)
//!
//! Tornado apps give every handler common headers, a common `prepare` step and a
//! common `get_current_user` by subclassing one `BaseHandler`. Here, write a trait of
//! your own with the methods your handlers implement and a wrapper type `Base<H>`
//! whose [`RequestHandler`] holds the shared steps once and hands the methods on; the
//! routes make `Base(handler)`:
//!
//! ```
//! use tornado_web::{url, Application, Context, HttpError, RequestHandler};
//!
//! /// What this application's handlers implement.
//! trait AppHandler: Sized + 'static {
//!     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
//!         let _ = cx;
//!         Err(HttpError::new(405).into())
//!     }
//! }
//!
//! /// Every handler of this application, with the shared steps.
//! struct Base<H>(H);
//!
//! impl<H: AppHandler> RequestHandler for Base<H> {
//!     fn set_default_headers(cx: &mut Context) {
//!         let _ = cx.set_header("X-Frame-Options", "DENY");
//!     }
//!     async fn get_current_user(&mut self, cx: &mut Context) -> tornado_web::Result<Option<String>> {
//!         Ok(cx.get_cookie("user").map(str::to_owned))
//!     }
//!     async fn prepare(&mut self, cx: &mut Context) -> tornado_web::Result {
//!         if cx.request().path().starts_with("/admin") && cx.current_user().is_none() {
//!             return Err(HttpError::new(403).into());
//!         }
//!         Ok(())
//!     }
//!     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
//!         self.0.get(cx).await
//!     }
//! }
//!
//! struct Home;
//! impl AppHandler for Home {
//!     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
//!         let user = cx.current_user().unwrap_or("stranger").to_owned();
//!         cx.write(format!("hello, {user}"));
//!         Ok(())
//!     }
//! }
//!
//! let app = Application::new(vec![url("/", || Base(Home)), url("/admin", || Base(Home))]);
//! # let _ = app;
//! ```
//!
//! # Modules
//!
//! - [`cookie`]: the attributes of outgoing cookies ([`cookie::CookieOptions`]).
//! - [`routing`]: patterns, host rules, `reverse_url` (used by [`Application`]).
//! - [`signing`]: signed values (Tornado's `create_signed_value` and
//!   `decode_signed_value`), the format of signed cookies.
//! - [`template`]: templates ([`Context::render`]) and their [`UiModule`]s.
//! - [`staticfile`]: [`StaticFileHandler`] and `static_url` (ETags, ranges, caching).
//! - [`testing`]: an application on 127.0.0.1 inside a test, fetched in a line.
//! - [`websocket`]: WebSocket handlers and the client, `websocket_connect` (RFC 6455,
//!   permessage-deflate).
#![forbid(unsafe_code)]

mod application;
mod context;
pub mod cookie;
mod dispatch;
mod error;
mod errorpage;
mod handler;
mod handlers;
mod hex;
mod panic;
pub mod routing;
mod settings;
pub mod signing;
pub mod staticfile;
pub mod template;
pub mod testing;
mod uimodule;
pub mod websocket;
mod xsrf;

pub use application::{
    Application, DEFAULT_SHUTDOWN_GRACE, HandlerFactory, IntoTarget, Rule, Target, url,
};
pub use context::{Context, GZIP_MIN_LENGTH, Writable};
pub use context::{IntoStatus, SIGNED_COOKIE_EXPIRES_DAYS, authenticated};
pub use dispatch::WebRequest;
pub use error::{Error, Finish, HttpError, Result};
pub use errorpage::xhtml_escape;
pub use handler::{DEFAULT_SUPPORTED_METHODS, RequestHandler};
pub use handlers::{ErrorHandler, FallbackHandler, RedirectHandler};
pub use routing::{
    HostPattern, PathArgs, RouteError, RouteMatch, RouteRequest, Router, RuleSet, UrlPattern,
    UrlSpec,
};
pub use settings::{DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE, LogFunction, RequestLog, Settings};
pub use staticfile::{
    DefaultPolicy, StaticFile, StaticFileHandler, StaticFileOptions, StaticFiles, StaticPolicy,
};
pub use template::TemplateError;
pub use uimodule::{ModuleCx, UiModule, UiModules};

/// The `http` crate's types this API uses (`StatusCode`, `Method`).
///
/// ```
/// use tornado_web::http::{Method, StatusCode};
/// use tornado_web::HttpError;
///
/// assert_eq!(HttpError::new(404).status(), StatusCode::NOT_FOUND);
/// assert!(tornado_web::DEFAULT_SUPPORTED_METHODS.contains(&Method::PATCH));
/// ```
pub use tornado_httpserver::http;
