//! [`Application`]: routes, settings, and the server delegate that hosts them
//! (Tornado's `tornado.web.Application`).

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use tornado_httpserver::httputil::HttpServerRequest;
use tornado_httpserver::{HttpServer, HttpServerConnectionDelegate};
use tornado_ioloop::IoLoop;
use tornado_ioloop::signal::Signal;

use crate::dispatch::{ErasedMessage, WebRequest};
use crate::handler::RequestHandler;
use crate::handlers::ErrorHandler;
use crate::routing::{PathArgs, RouteError, RouteRequest, Router, UrlPattern, UrlSpec};
use crate::settings::Settings;

/// How long [`Application::run`] lets requests in flight finish after SIGINT or
/// SIGTERM before closing their connections.
///
/// ```
/// use std::time::Duration;
///
/// assert_eq!(tornado_web::DEFAULT_SHUTDOWN_GRACE, Duration::from_secs(10));
/// ```
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Starts the handling of one routed request.
pub(crate) trait Route {
    fn start(
        &self,
        app: &Rc<AppShared>,
        request: &HttpServerRequest,
        args: PathArgs,
    ) -> Box<dyn ErasedMessage>;
}

/// What a route serves: a [`RequestHandler`] factory, or a mounted server delegate
/// ([`FallbackHandler`](crate::FallbackHandler)). Cheap to clone.
///
/// ```
/// use tornado_web::{testing, Application, Context, RequestHandler, Settings, Target};
///
/// struct NotFound;
/// impl RequestHandler for NotFound {
///     async fn prepare(&mut self, cx: &mut Context) -> tornado_web::Result {
///         cx.set_status(404)?;
///         cx.write("nothing here");
///         cx.finish()
///     }
/// }
/// let settings = Settings { default_handler: Some(Target::handler(|| NotFound)), ..Settings::default() };
/// testing::run(|| Application::with_settings(vec![], settings), |t| async move {
///     let r = t.fetch("/nowhere").await;
///     assert_eq!((r.code, r.text().unwrap()), (404, "nothing here"));
/// });
/// ```
#[derive(Clone)]
pub struct Target {
    route: Rc<dyn Route>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Target")
    }
}

struct Factory<F>(F);

impl<F, H> Route for Factory<F>
where
    F: Fn() -> H + 'static,
    H: RequestHandler,
{
    fn start(
        &self,
        app: &Rc<AppShared>,
        request: &HttpServerRequest,
        args: PathArgs,
    ) -> Box<dyn ErasedMessage> {
        crate::dispatch::start::<H>((self.0)(), app, request, args)
    }
}

impl Target {
    /// A target that makes a handler with `factory` for each request.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler, Target};
    ///
    /// struct Hello;
    /// impl RequestHandler for Hello {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("hello");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// // One target behind two routes (a clone is one `Rc`).
    /// let target = Target::handler(|| Hello);
    /// let routes = vec![url("/", target.clone()), url("/index.html", target)];
    /// testing::run(|| Application::new(routes), |t| async move {
    ///     assert_eq!(t.fetch("/").await.text().unwrap(), "hello");
    ///     assert_eq!(t.fetch("/index.html").await.text().unwrap(), "hello");
    /// });
    /// ```
    pub fn handler<F, H>(factory: F) -> Target
    where
        F: Fn() -> H + 'static,
        H: RequestHandler,
    {
        Target {
            route: Rc::new(Factory(factory)),
        }
    }

    pub(crate) fn from_route(route: Rc<dyn Route>) -> Target {
        Target { route }
    }
}

/// Anything a route can serve: a closure making a [`RequestHandler`] (`|| MyHandler`)
/// or a [`WebSocketHandler`](crate::websocket::WebSocketHandler), a [`Target`], or a
/// [`FallbackHandler`](crate::FallbackHandler).
///
/// `M` only keeps the implementations for the two kinds of closure apart; type
/// inference picks it and it is never written.
///
/// ```
/// use tornado_web::{testing, url, Application, Context, IntoTarget, RequestHandler, Rule};
///
/// /// Serves `target` under `prefix` and everything below it.
/// fn mount<M>(prefix: &str, target: impl IntoTarget<M>) -> Rule {
///     url(&format!("{prefix}(/.*)?"), target)
/// }
///
/// struct Hello;
/// impl RequestHandler for Hello {
///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
///         cx.write("hello");
///         Ok(())
///     }
/// }
///
/// testing::run(|| Application::new(vec![mount("/hello", || Hello)]), |t| async move {
///     assert_eq!(t.fetch("/hello/a/b").await.text().unwrap(), "hello");
///     assert_eq!(t.fetch("/other").await.code, 404);
/// });
/// ```
pub trait IntoTarget<M = ()> {
    /// The target.
    ///
    /// ```
    /// use tornado_web::{testing, Application, Context, IntoTarget, RequestHandler, Settings, Target};
    ///
    /// struct Hello;
    /// impl RequestHandler for Hello {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("hello");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let target: Target = (|| Hello).into_target();
    /// let settings = Settings { default_handler: Some(target), ..Settings::default() };
    /// testing::run(|| Application::with_settings(vec![], settings), |t| async move {
    ///     assert_eq!(t.fetch("/anything").await.text().unwrap(), "hello");
    /// });
    /// ```
    fn into_target(self) -> Target;
}

/// Marks the [`IntoTarget`] implementation for [`RequestHandler`] factories; type
/// inference picks it, so it is never named.
///
/// ```
/// use tornado_web::{url, Application, Context, HandlerFactory, IntoTarget, RequestHandler, Target};
///
/// /// Takes handler factories only (not a `Target` or a `FallbackHandler`).
/// fn handler_target(factory: impl IntoTarget<HandlerFactory>) -> Target {
///     factory.into_target()
/// }
///
/// struct Hello;
/// impl RequestHandler for Hello {
///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
///         cx.write("hello");
///         Ok(())
///     }
/// }
///
/// let app = Application::new(vec![url("/", handler_target(|| Hello))]);
/// assert!(app.check().is_ok());
/// ```
#[derive(Debug)]
pub enum HandlerFactory {}

impl<F, H> IntoTarget<HandlerFactory> for F
where
    F: Fn() -> H + 'static,
    H: RequestHandler,
{
    fn into_target(self) -> Target {
        Target::handler(self)
    }
}

impl IntoTarget for Target {
    fn into_target(self) -> Target {
        self
    }
}

/// One route: a pattern, what serves it, and optionally a name for
/// [`reverse_url`](Application::reverse_url). Made by [`url`].
///
/// ```
/// use tornado_web::{url, Context, RequestHandler, Rule};
///
/// struct Hello;
/// impl RequestHandler for Hello {
///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
///         cx.write("hello");
///         Ok(())
///     }
/// }
///
/// let rule: Rule = url("/", || Hello).name("home");
/// assert_eq!(format!("{rule:?}"), r#"Rule { pattern: "/", name: Some("home") }"#);
/// ```
pub struct Rule {
    pattern: String,
    target: Target,
    name: Option<String>,
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rule")
            .field("pattern", &self.pattern)
            .field("name", &self.name)
            .finish()
    }
}

impl Rule {
    /// Names the route, for [`Application::reverse_url`] (Tornado's `url(..., name=)`).
    ///
    /// ```
    /// use tornado_web::{url, Application, Context, RequestHandler};
    ///
    /// struct Hello;
    /// impl RequestHandler for Hello {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("hello");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let app = Application::new(vec![url(r"/user/(\w+)", || Hello).name("profile")]);
    /// assert_eq!(app.reverse_url("profile", &[&"alice"]).unwrap(), "/user/alice");
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Rule {
        self.name = Some(name.into());
        self
    }
}

/// A route (Tornado's `url(pattern, handler)`): `pattern` is a regex matched against
/// the whole path (Tornado anchors it at both ends); its positional groups become
/// [`Context::path_args`](crate::Context::path_args), its named groups
/// [`path_kwargs`](crate::Context::path_kwargs), URL-decoded. `target` is usually a
/// closure that makes the handler: what it captures is what Tornado's `initialize`
/// receives.
///
/// A pattern that is not a valid regex is reported by
/// [`Application::check`], [`listen`](Application::listen) and
/// [`server`](Application::server), with the pattern and why.
///
/// ```
/// use tornado_web::{url, Application, Context, RequestHandler};
///
/// struct Story { db: std::rc::Rc<Vec<String>> }
/// impl RequestHandler for Story {
///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
///         let id: usize = cx.path_arg(0).unwrap_or("0").parse().unwrap_or(0);
///         let story = self.db.get(id).cloned().unwrap_or_default();
///         cx.write(story);
///         Ok(())
///     }
/// }
///
/// let db = std::rc::Rc::new(vec!["once upon a time".to_string()]);
/// let app = Application::new(vec![
///     url(r"/story/([0-9]+)", move || Story { db: db.clone() }).name("story"),
/// ]);
/// assert_eq!(app.reverse_url("story", &[&0]).unwrap(), "/story/0");
/// assert!(app.check().is_ok());
/// ```
pub fn url<M>(pattern: &str, target: impl IntoTarget<M>) -> Rule {
    Rule {
        pattern: pattern.to_owned(),
        target: target.into_target(),
        name: None,
    }
}

/// What every request of an application shares.
pub(crate) struct AppShared {
    pub(crate) settings: Settings,
    router: RefCell<Router<Target>>,
    /// Routes that could not be added (bad patterns), reported by `check`.
    errors: RefCell<Vec<RouteError>>,
    not_found: Target,
    /// The template environment, made on the first render.
    pub(crate) templates: crate::template::AppTemplates,
    /// The `static_path` setting's files (for `static_url` and the static routes).
    pub(crate) static_files: Option<Rc<crate::staticfile::StaticFiles>>,
}

impl AppShared {
    pub(crate) fn reverse_url(
        &self,
        name: &str,
        args: &[&dyn fmt::Display],
    ) -> Result<String, RouteError> {
        self.router.borrow().reverse_url(name, args)
    }
}

/// A web application: routes (per host), settings, and the [`HttpServer`] delegate
/// that serves them (Tornado's `tornado.web.Application`).
///
/// Each request is routed on its head, before its body is read: the matching route's
/// factory makes a handler, which takes the body whole or streamed (see
/// [`RequestHandler::STREAM_REQUEST_BODY`]). Requests that match no route get the
/// `default_handler` setting's handler, or a 404 page.
///
/// Cheap to clone (one `Rc`); lives on one thread, as its loop does. For several
/// threads, build one per thread with
/// [`HttpServer::from_factory`](tornado_httpserver::HttpServer::from_factory).
///
/// ```no_run
/// use tornado_ioloop::IoLoop;
/// use tornado_web::{url, Application, Context, RequestHandler};
///
/// struct MainHandler;
/// impl RequestHandler for MainHandler {
///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
///         cx.write("Hello, world");
///         Ok(())
///     }
/// }
///
/// fn main() -> std::io::Result<()> {
///     let app = Application::new(vec![url("/", || MainHandler)]);
///     app.listen(8888)?;
///     IoLoop::current().start();
///     Ok(())
/// }
/// ```
#[derive(Clone)]
pub struct Application {
    shared: Rc<AppShared>,
}

impl fmt::Debug for Application {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Application")
            .field("settings", &self.shared.settings)
            .field("routes", &self.shared.router.borrow().routes().len())
            .finish_non_exhaustive()
    }
}

fn compile(rules: Vec<Rule>, errors: &mut Vec<RouteError>) -> Vec<UrlSpec<Target>> {
    let mut specs = Vec::with_capacity(rules.len());
    for rule in rules {
        match UrlPattern::new(&rule.pattern) {
            Ok(p) => {
                let spec = UrlSpec::from_pattern(p, rule.target);
                specs.push(match rule.name {
                    Some(n) => spec.named(n),
                    None => spec,
                });
            }
            Err(e) => errors.push(e),
        }
    }
    specs
}

impl Application {
    /// The application's state, for the crate's unit tests.
    #[cfg(test)]
    pub(crate) fn shared(&self) -> &Rc<AppShared> {
        &self.shared
    }

    /// The application whose state `shared` is (what [`Context::application`]
    /// hands out).
    ///
    /// [`Context::application`]: crate::Context::application
    pub(crate) fn from_shared(shared: Rc<AppShared>) -> Application {
        Application { shared }
    }

    /// An application serving `rules` with default settings.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Hello;
    /// impl RequestHandler for Hello {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("hello");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Hello)]), |t| async move {
    ///     assert_eq!(t.fetch("/").await.text().unwrap(), "hello");
    ///     assert_eq!(t.fetch("/other").await.code, 404);
    /// });
    /// ```
    pub fn new(rules: Vec<Rule>) -> Application {
        Application::with_settings(rules, Settings::default())
    }

    /// An application serving `rules` with `settings`.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler, Settings};
    ///
    /// struct Save;
    /// impl RequestHandler for Save {
    ///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("saved");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let settings = Settings { xsrf_cookies: true, ..Settings::default() };
    /// testing::run(|| Application::with_settings(vec![url("/", || Save)], settings), |t| async move {
    ///     let r = t.fetch_request(t.request("/").method("POST").body("a=1")).await;
    ///     assert_eq!(r.code, 403); // no XSRF token
    /// });
    /// ```
    pub fn with_settings(rules: Vec<Rule>, settings: Settings) -> Application {
        crate::panic::install_hook();
        let static_files = crate::staticfile::app_static_files(&settings);
        let rules = match &static_files {
            Some(files) => crate::staticfile::with_static_rules(rules, files),
            None => rules,
        };
        let mut errors = Vec::new();
        let specs = compile(rules, &mut errors);
        let mut router = Router::new(specs);
        router.set_default_host(settings.default_host.clone());
        let not_found = settings
            .default_handler
            .clone()
            .unwrap_or_else(|| Target::handler(|| ErrorHandler::new(404)));
        Application {
            shared: Rc::new(AppShared {
                settings,
                router: RefCell::new(router),
                errors: RefCell::new(errors),
                not_found,
                templates: Default::default(),
                static_files,
            }),
        }
    }

    /// Adds routes for hosts matching `host_pattern` (a regex matched against the
    /// whole host name, e.g. `r"(www\.)?example\.com"`; Tornado's `add_handlers`).
    /// Host rules are tried in the order they were added, before the routes given to
    /// [`new`](Self::new), which serve any host.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Site(&'static str);
    /// impl RequestHandler for Site {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write(self.0);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let app = || {
    ///     let app = Application::new(vec![url("/", || Site("www"))]);
    ///     app.add_handlers(r"api\.example\.com", vec![url("/", || Site("api"))]);
    ///     app
    /// };
    /// testing::run(app, |t| async move {
    ///     let api = t.fetch_request(t.request("/").header("Host", "api.example.com")).await;
    ///     assert_eq!(api.text().unwrap(), "api");
    ///     assert_eq!(t.fetch("/").await.text().unwrap(), "www"); // Host: 127.0.0.1:PORT
    /// });
    /// ```
    pub fn add_handlers(&self, host_pattern: &str, rules: Vec<Rule>) {
        let mut errors = self.shared.errors.borrow_mut();
        let specs = compile(rules, &mut errors);
        if let Err(e) = self
            .shared
            .router
            .borrow_mut()
            .add_handlers(host_pattern, specs)
        {
            errors.push(e);
        }
    }

    /// Whether every route was added: `Err` with the first bad pattern (and why).
    ///
    /// ```
    /// use tornado_web::{url, Application, Context, RequestHandler};
    ///
    /// struct Hello;
    /// impl RequestHandler for Hello {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("hello");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// assert!(Application::new(vec![url("/", || Hello)]).check().is_ok());
    /// let bad = Application::new(vec![url("/", || Hello), url("/(unclosed", || Hello)]);
    /// let error = bad.check().unwrap_err();
    /// assert!(error.to_string().contains("/(unclosed"), "{error}");
    /// ```
    pub fn check(&self) -> Result<(), RouteError> {
        match self.shared.errors.borrow().first() {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// The URL of the route named `name` with its groups filled from `args`
    /// (Tornado's `reverse_url`).
    ///
    /// ```
    /// use tornado_web::{url, Application, Context, RequestHandler};
    ///
    /// struct Hello;
    /// impl RequestHandler for Hello {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("hello");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let app = Application::new(vec![
    ///     url("/", || Hello).name("home"),
    ///     url(r"/story/([0-9]+)/(\w+)", || Hello).name("story"),
    /// ]);
    /// assert_eq!(app.reverse_url("home", &[]).unwrap(), "/");
    /// assert_eq!(app.reverse_url("story", &[&7, &"a b"]).unwrap(), "/story/7/a%20b");
    /// assert!(app.reverse_url("nowhere", &[]).is_err());
    /// ```
    pub fn reverse_url(
        &self,
        name: &str,
        args: &[&dyn fmt::Display],
    ) -> Result<String, RouteError> {
        self.shared.reverse_url(name, args)
    }

    /// Renders template `name` with `context` outside any request (no `request`, no
    /// `current_user`): what [`Context::render_string`](crate::Context::render_string)
    /// does in a handler. See [`template`](crate::template).
    ///
    /// ```
    /// use tornado_web::template::minijinja::context;
    /// use tornado_web::{Application, Settings};
    ///
    /// let dir = std::env::temp_dir().join(format!("tornado-doc-app-render-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let mail = "Dear {{ name }}, {{ current_user or 'nobody' }} writes.";
    /// std::fs::write(dir.join("mail.txt"), mail).unwrap();
    ///
    /// let settings = Settings { template_path: Some(dir.clone()), autoescape: false, ..Settings::default() };
    /// let app = Application::with_settings(vec![], settings);
    /// let mail = app.render_string("mail.txt", context! { name => "Ann & Bo" }).unwrap();
    /// assert_eq!(mail, "Dear Ann & Bo, nobody writes.");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn render_string(
        &self,
        name: &str,
        context: impl serde::Serialize,
    ) -> crate::Result<String> {
        crate::template::render_outside(&self.shared, name, context)
    }

    /// The URL of static file `path`, with its version if `include_version` (Tornado's
    /// `static_url`; see [`Context::static_url`](crate::Context::static_url)).
    ///
    /// ```
    /// use tornado_web::{Application, Settings};
    ///
    /// let dir = std::env::temp_dir().join(format!("tornado-doc-app-static-url-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// std::fs::write(dir.join("app.js"), "hello").unwrap();
    ///
    /// let settings = Settings { static_path: Some(dir.clone()), ..Settings::default() };
    /// let app = Application::with_settings(vec![], settings);
    /// assert_eq!(app.static_url("app.js", false).unwrap(), "/static/app.js");
    /// let versioned = app.static_url("app.js", true).unwrap();
    /// assert_eq!(versioned, "/static/app.js?v=2cf24dba5fb0a30e26e83b2ac5b9e29e"); // the content's hash
    /// // A path out of the static directory is refused.
    /// assert_eq!(app.static_url("../secret", true).unwrap_err().status(), http::StatusCode::FORBIDDEN);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn static_url(&self, path: &str, include_version: bool) -> crate::Result<String> {
        crate::staticfile::static_url_for(&self.shared, path, include_version)
    }

    /// The settings.
    ///
    /// ```
    /// use tornado_web::{Application, Settings};
    ///
    /// let app = Application::with_settings(vec![], Settings { debug: true, ..Settings::default() });
    /// assert!(app.settings().debug);
    /// assert!(!app.settings().uses_static_hash_cache()); // debug hashes files anew
    /// ```
    pub fn settings(&self) -> &Settings {
        &self.shared.settings
    }

    /// An [`HttpServer`] for this application with the `server` settings (not yet
    /// listening). Fails if a route was bad (see [`check`](Self::check)).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Hello;
    /// impl RequestHandler for Hello {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("hello");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let bad = Application::new(vec![url("/(", || Hello)]);
    /// assert_eq!(bad.server().unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    ///
    /// testing::gen_test(async {
    ///     let server = Application::new(vec![url("/", || Hello)]).server().unwrap();
    ///     server.listen(0, Some("127.0.0.1")).unwrap();
    ///     let addr = server.local_addrs()[0];
    ///     let client = tornado_httpclient::AsyncHttpClient::new();
    ///     let response = client.fetch(format!("http://{addr}/")).await.unwrap();
    ///     assert_eq!(response.text().unwrap(), "hello");
    ///     server.stop();
    /// });
    /// ```
    pub fn server(&self) -> io::Result<HttpServer> {
        self.check()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let mut settings = self.shared.settings.server.clone();
        // The application logs each request itself, with its handler's status.
        settings.access_log = false;
        Ok(HttpServer::with_settings(self.clone(), settings))
    }

    /// Serves on `port` on every interface, on this thread's loop (Tornado's
    /// `listen`); start the loop afterwards. Port 0 picks a free port (see
    /// [`HttpServer::local_addrs`]). The server keeps serving if the returned handle
    /// is dropped.
    ///
    /// ```no_run
    /// use tornado_ioloop::IoLoop;
    /// use tornado_web::{url, Application, Context, RequestHandler};
    ///
    /// struct Hello;
    /// impl RequestHandler for Hello {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("hello");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let server = Application::new(vec![url("/", || Hello)]).listen(8888)?;
    /// assert_eq!(server.local_addrs()[0].port(), 8888);
    /// IoLoop::current().start();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn listen(&self, port: u16) -> io::Result<HttpServer> {
        self.listen_on(port, None)
    }

    /// [`listen`](Self::listen) on one address (e.g. `Some("127.0.0.1")`).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Hello;
    /// impl RequestHandler for Hello {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("hello");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::gen_test(async {
    ///     let server = Application::new(vec![url("/", || Hello)]).listen_on(0, Some("127.0.0.1")).unwrap();
    ///     let addr = server.local_addrs()[0];
    ///     assert!(addr.ip().is_loopback() && addr.port() != 0); // port 0: a free one
    ///     let client = tornado_httpclient::AsyncHttpClient::new();
    ///     assert_eq!(client.fetch(format!("http://{addr}/")).await.unwrap().text().unwrap(), "hello");
    ///     server.stop();
    /// });
    /// ```
    pub fn listen_on(&self, port: u16, address: Option<&str>) -> io::Result<HttpServer> {
        let server = self.server()?;
        server.listen(port, address)?;
        Ok(server)
    }

    /// Serves on `port` (and `address`) until SIGINT or SIGTERM, then shuts down
    /// gracefully (logging `listening on http://ADDRESS/` for each address first, so a
    /// port 0 can be found): stops accepting, lets requests in flight finish for up to
    /// [`DEFAULT_SHUTDOWN_GRACE`], and returns the signal. Runs this thread's loop:
    /// the one call a `main` needs.
    ///
    /// ```no_run
    /// # use tornado_web::Application;
    /// let app = Application::new(vec![]);
    /// let signal = app.run(8888, Some("127.0.0.1"))?;
    /// println!("stopped by {signal}");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn run(&self, port: u16, address: Option<&str>) -> io::Result<Signal> {
        let server = self.listen_on(port, address)?;
        for addr in server.local_addrs() {
            log::info!("listening on http://{addr}/");
        }
        IoLoop::current()
            .run_sync(async move { server.shutdown_on_signal(DEFAULT_SHUTDOWN_GRACE).await })
    }

    /// Routes a request head: the target and its path arguments.
    fn route(&self, request: &HttpServerRequest) -> (Target, PathArgs) {
        let router = self.shared.router.borrow();
        // The host and `X-Real-Ip` only matter when there are host rules to choose
        // from: without any, neither is looked up.
        let has_hosts = router.hosts().next().is_some();
        let host = if has_hosts { request.host() } else { "" };
        let real_ip = has_hosts && request.headers().contains("X-Real-Ip");
        let route_request = RouteRequest::new(host, request.path()).x_real_ip(real_ip);
        match router.find(&route_request) {
            Some(found) => (found.target().clone(), found.path_args),
            None => (self.shared.not_found.clone(), PathArgs::default()),
        }
    }
}

impl HttpServerConnectionDelegate for Application {
    type Message = WebRequest;

    fn start_request(self: Rc<Self>, request: &HttpServerRequest) -> WebRequest {
        let (target, args) = self.route(request);
        WebRequest::new(target.route.start(&self.shared, request, args))
    }
}
