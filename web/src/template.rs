//! Templates: [`Context::render`] and [`Context::render_string`] (Tornado's `render`,
//! `render_string` and `tornado.template`), on [minijinja](https://docs.rs/minijinja).
//!
//! # The model
//!
//! Each [`Application`](crate::Application) has one template environment, made on the
//! first render: templates are loaded by name from the
//! [`template_path`](crate::Settings::template_path) directory (a name cannot climb
//! out of it), compiled once and kept. With [`debug`](crate::Settings::debug) on, or
//! [`compiled_template_cache`](crate::Settings::compiled_template_cache) off, each
//! render checks the files it uses (modification time and size, `extends` and
//! `include`d ones too) and recompiles a template whose file changed, as Tornado does
//! with its template cache off.
//!
//! The syntax is Jinja's, not Tornado's: `{% for x in xs %}…{% endfor %}` where
//! Tornado writes `{% end %}`, `{{ x|safe }}` for Tornado's `{% raw x %}`,
//! `{% extends "base.html" %}`, `{% block name %}…{% endblock %}` and
//! `{% include "part.html" %}` as in both. As in Tornado, everything a template
//! prints is escaped for HTML (`&`, `<`, `>`, `"`, `'`, as Tornado 6.6's
//! `xhtml_escape` does, `'` as `&#x27;`) unless it is marked safe, whatever the
//! template's file name; the [`autoescape`](crate::Settings::autoescape) setting turns
//! that off. A name the template uses but nobody defined is an error, as in Tornado
//! (minijinja's strict mode; `x is defined` tests for one).
//!
//! Besides its own context, every template sees (Tornado's template namespace):
//!
//! | name | what |
//! | --- | --- |
//! | `current_user` | [`Context::current_user`], or `none` |
//! | `request` | the request: `method`, `uri`, `path`, `query`, `host`, `host_name`, `protocol`, `remote_ip`, `full_url`, `version`, `body`, `headers["Name"]` (any case), `arguments`, `query_arguments`, `body_arguments` (name to list of values), `cookies` |
//! | `reverse_url(name, *args)` | the URL of a named route ([`Context::reverse_url`]) |
//! | `modules.Name(*args, **kwargs)` | a [`UiModule`]'s HTML |
//! | `xsrf_form_html()` | with the `xsrf_cookies` setting: the hidden `_xsrf` field ([`Context::xsrf_form_html`]; made before the render, so the cookie is set on every page rendered) |
//! | `xhtml_escape`, `url_escape(s, plus=true)`, `json_encode`, `squeeze` | Tornado's `tornado.escape` functions, as functions and as filters |
//!
//! and minijinja's built-in filters and functions (`tojson`, `default`, `length`,
//! `range`, ...). A value of the context with the same name hides a global.
//!
//! # Compiled templates
//!
//! Most pages are text, values printed from the context, loops and conditions. A
//! template made only of those is compiled, the first time it renders (and again when
//! its file changes), into a plan that renders several times faster than minijinja's
//! interpreter: `{{ … }}` of context names, attributes (`row.name`) and constant
//! subscripts (`rows[0]`, `row["name"]`); `{% for x in … %}` with `{% else %}` and
//! `loop.index`, `index0`, `revindex`, `revindex0`, `first`, `last` and `length`;
//! `{% if … %}` / `{% elif %}` / `{% else %}` on such values, with `not`, `and`, `or`,
//! `==` and `!=`; `{{ html|safe }}`; `current_user`; comments, `{% raw %}` and
//! whitespace control. Other filters, calls, the other globals (`request`,
//! `static_url()`…), `extends`, `block`, `include`, `set`, macros and other operators
//! leave the template with minijinja, as does anything the plan
//! meets that it would not print exactly as minijinja does (a float, a boolean or a
//! list to print, a name the context lacks). Either way the page is the same, byte
//! for byte: the plan is an optimisation, not a second template language. (When the
//! plan gives up half way, the engine serializes the context a second time: a
//! context's `Serialize` should give the same data each time, as serde's do.) The
//! [`template_fast_path`](crate::Settings::template_fast_path) setting turns the
//! plans off.
//!
//! # Errors
//!
//! A template that cannot be found, does not parse, uses an undefined name or fails
//! while it renders is an `Err` (a [`TemplateError`] inside an [`Error`], reached with
//! [`Error::downcast_ref`]) whose message names the template file and line; a handler
//! that returns it answers 500, and in debug mode the error page shows that message
//! with the template's lines around it.
//!
//! # Example
//!
//! ```
//! use tornado_web::template::minijinja::context;
//! use tornado_web::{url, Application, Context, RequestHandler, Settings};
//!
//! struct Home;
//! impl RequestHandler for Home {
//!     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
//!         cx.render("home.html", context! { title => "<Home>", items => ["a", "b"] })
//!     }
//! }
//!
//! let dir = std::env::temp_dir().join(format!("tornado-template-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! std::fs::write(dir.join("base.html"),
//!     "<title>{% block title %}{% endblock %}</title>{% block body %}{% endblock %}").unwrap();
//! std::fs::write(dir.join("home.html"), r#"{% extends "base.html" %}
//! {%- block title %}{{ title }}{% endblock %}
//! {%- block body %}{% for i in items %}<p>{{ i }}</p>{% endfor %}{% endblock %}"#).unwrap();
//!
//! let app = Application::with_settings(
//!     vec![url("/", || Home).name("home")],
//!     Settings { template_path: Some(dir.clone()), ..Settings::default() },
//! );
//! // What the handler's `render` sends, rendered outside a request:
//! let page = app.render_string("home.html", context! { title => "<Home>", items => ["a", "b"] });
//! assert_eq!(page.unwrap(), "<title>&lt;Home&gt;</title><p>a</p><p>b</p>");
//!
//! // An error names the template and the line.
//! std::fs::write(dir.join("broken.html"), "line 1\n{{ nobody_defined_me }}").unwrap();
//! let error = app.render_string("broken.html", ()).unwrap_err();
//! assert!(error.to_string().contains("broken.html:2"), "{error}");
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The template engine, for its types ([`Value`], the
/// [`context!`](minijinja::context) macro, argument helpers): the version this crate
/// renders with.
pub use minijinja;
use minijinja::value::{Enumerator, Kwargs, Object, Rest, Value, ValueKind};
use minijinja::{AutoEscape, Environment, ErrorKind, Output, State, UndefinedBehavior};
use tornado_httpserver::httputil::{Arguments, HttpServerRequest};

use crate::application::AppShared;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::settings::Settings;
use crate::uimodule::{ModuleCx, UiModule};

mod fast;

/// An application's templates: its environment, made on the first render, and the
/// templates compiled for the fast path (see `fast`), by name.
#[derive(Default)]
pub(crate) struct AppTemplates {
    env: OnceCell<Environment<'static>>,
    plans: RefCell<HashMap<String, Rc<CachedPlan>>>,
}

/// A template's source and its plan, `None` when the engine must render it.
struct CachedPlan {
    source: Box<str>,
    plan: Option<fast::Plan>,
}

impl AppTemplates {
    fn env(&self, settings: &Settings) -> &Environment<'static> {
        self.env.get_or_init(|| environment(settings))
    }
}

/// The environment for an application's `settings`: its loader, escaping, reloading,
/// and the globals, functions and filters every template has.
fn environment(settings: &Settings) -> Environment<'static> {
    // The default syntax, which `fast::Plan::compile` parses with too: a change here
    // must be made there.
    let mut env = Environment::new();
    if let Some(path) = &settings.template_path {
        let load = minijinja::path_loader(path);
        env.set_loader(move |name| {
            load(name).map_err(|e| {
                // The engine's message ("could not read template", and why) does not
                // say which: a template rendered by a handler has no other name on it.
                let why = std::error::Error::source(&e)
                    .map(|source| format!(": {source}"))
                    .unwrap_or_default();
                minijinja::Error::new(e.kind(), format!("could not read template {name:?}{why}"))
            })
        });
    }
    // `render_compiled` relies on this condition too.
    env.set_auto_reload(settings.debug || !settings.compiled_template_cache);
    let autoescape = settings.autoescape;
    env.set_auto_escape_callback(move |_| {
        if autoescape {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Debug mode keeps what an error needs to show the template's lines.
    env.set_debug(settings.debug);
    env.set_formatter(format_value);

    env.add_global("request", Value::from_object(RequestObject));
    env.add_global("modules", Value::from_object(ModulesObject));
    env.add_function("reverse_url", reverse_url);
    // The engine cannot reach the handler's `Context` while it renders; the render
    // scope has what `static_url` reads: the application (settings, hash cache).
    env.add_function("static_url", |path: &str| {
        let scope = current_scope()?;
        crate::staticfile::static_url_for(&scope.app, path, true)
            .map_err(|e| minijinja::Error::new(ErrorKind::InvalidOperation, e.to_string()))
    });
    // Tornado's templates call these as functions; Jinja's pipe them as filters.
    env.add_filter("xhtml_escape", xhtml_escape_filter);
    env.add_function("xhtml_escape", xhtml_escape_filter);
    env.add_filter("url_escape", url_escape_filter);
    env.add_function("url_escape", url_escape_filter);
    env.add_filter("json_encode", json_encode_filter);
    env.add_function("json_encode", json_encode_filter);
    env.add_filter("squeeze", squeeze_filter);
    env.add_function("squeeze", squeeze_filter);
    env
}

/// Prints a value into the page: strings not marked safe are escaped as Tornado 6.6's
/// `xhtml_escape` (Python's `html.escape`) escapes them; minijinja's own escaping
/// would also turn `/` into `&#x2f;`.
fn format_value(
    out: &mut Output<'_>,
    state: &mut State<'_, '_>,
    value: &Value,
) -> std::result::Result<(), minijinja::Error> {
    if *state.auto_escape() != AutoEscape::Html || value.is_safe() {
        return minijinja::escape_formatter(out, state, value);
    }
    if let Some(text) = value.as_str() {
        return Ok(write_xhtml_escaped(out, text)?);
    }
    match value.kind() {
        ValueKind::Undefined | ValueKind::None | ValueKind::Bool | ValueKind::Number => {
            minijinja::escape_formatter(out, state, value)
        }
        _ => Ok(write_xhtml_escaped(out, &value.to_string())?),
    }
}

/// Writes `text` with `&<>"'` escaped (`'` as `&#x27;`, as Tornado 6.4 and later
/// write it), copying the runs between them whole. Short text (most of what a page
/// prints: names, titles, a line of a message) is searched eight bytes at a time in a
/// word; long text with two vectorised searches that each go through it once.
fn write_xhtml_escaped(out: &mut impl fmt::Write, text: &str) -> fmt::Result {
    let bytes = text.as_bytes();
    let mut start = 0;
    if bytes.len() >= 128 {
        let mut tags = memchr::memchr3_iter(b'<', b'>', b'&', bytes).peekable();
        let mut quotes = memchr::memchr2_iter(b'"', b'\'', bytes).peekable();
        loop {
            let i = match (tags.peek(), quotes.peek()) {
                (Some(&t), Some(&q)) if q < t => quotes.next(),
                (Some(_), _) => tags.next(),
                (None, _) => quotes.next(),
            };
            let Some(i) = i else { break };
            write_escaped_byte(out, &text[start..i], bytes[i])?;
            start = i + 1;
        }
    } else {
        while let Some(at) = next_special(&bytes[start..]) {
            let i = start + at;
            write_escaped_byte(out, &text[start..i], bytes[i])?;
            start = i + 1;
        }
    }
    out.write_str(&text[start..])
}

/// Writes `run` (the text before a byte to escape; the bytes searched for are ASCII,
/// so it ends on a character boundary) and the entity for `byte`.
fn write_escaped_byte(out: &mut impl fmt::Write, run: &str, byte: u8) -> fmt::Result {
    let entity = match byte {
        b'&' => "&amp;",
        b'<' => "&lt;",
        b'>' => "&gt;",
        b'"' => "&quot;",
        _ => "&#x27;",
    };
    out.write_str(run)?;
    out.write_str(entity)
}

/// Where the first byte to escape in `bytes` is, eight bytes at a time in a word.
fn next_special(bytes: &[u8]) -> Option<usize> {
    let (words, rest) = bytes.as_chunks::<8>();
    for (i, word) in words.iter().enumerate() {
        let found = special_bytes(u64::from_le_bytes(*word));
        if found != 0 {
            return Some(i * 8 + found.trailing_zeros() as usize / 8);
        }
    }
    let at = words.len() * 8;
    if rest.is_empty() {
        return None;
    }
    if bytes.len() >= 8 {
        // The last eight bytes, which overlap those searched: only the rest count
        // (and the bytes shifted out hold no special byte, so no borrow from them).
        let last = u64::from_le_bytes(bytes[bytes.len() - 8..].try_into().ok()?);
        let found = special_bytes(last) >> (8 * (8 - rest.len()));
        return (found != 0).then(|| at + found.trailing_zeros() as usize / 8);
    }
    rest.iter()
        .position(|b| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\''))
        .map(|i| at + i)
}

/// A word whose lowest set bit is in the first byte of `word` (little-endian) that is
/// one of `&<>"'`, or 0 if none is. `&` and `'` (0x26, 0x27) become 0x27 when bit 0
/// is set, `<` and `>` (0x3c, 0x3e) 0x3e when bit 1 is: three tests for zero bytes.
fn special_bytes(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // The high bit of each zero byte is set; bits above the first zero byte may be set
    // too (a borrow), but none below it.
    let zeros = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    zeros((word | ONES) ^ (ONES * 0x27))
        | zeros((word | (ONES * 2)) ^ (ONES * 0x3e))
        | zeros(word ^ (ONES * 0x22))
}

/// A template that could not be loaded or rendered: the engine's error, whose message
/// names the template and the line (and in debug mode shows the lines around it).
///
/// It reaches a handler inside an [`Error`], which shows its message:
///
/// ```
/// use tornado_web::{Application, Settings};
///
/// let dir = std::env::temp_dir().join(format!("tornado-doc-templateerror-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("broken.html"), "line 1\n{{ nobody_defined_me }}").unwrap();
///
/// let settings = Settings { template_path: Some(dir.clone()), ..Settings::default() };
/// let app = Application::with_settings(vec![], settings);
/// let error = app.render_string("broken.html", ()).unwrap_err();
/// let message = error.to_string();
/// assert!(message.starts_with("template error: "), "{message}");
/// assert!(message.contains("broken.html:2"), "{message}");
/// assert_eq!(error.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
///
/// // Without the template_path setting, the message says so.
/// let error = Application::new(vec![]).render_string("page.html", ()).unwrap_err();
/// assert!(error.to_string().contains("the template_path setting is not set"));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug)]
pub struct TemplateError {
    error: minijinja::Error,
    hint: Option<&'static str>,
}

impl TemplateError {
    fn new(error: minijinja::Error, settings: &Settings) -> TemplateError {
        let hint = (error.kind() == ErrorKind::TemplateNotFound
            && settings.template_path.is_none())
        .then_some("the template_path setting is not set");
        TemplateError { error, hint }
    }

    /// The template the error is in, when it is in one. A handler's
    /// [`write_error`](crate::RequestHandler::write_error) finds the `TemplateError`
    /// with [`Error::downcast_ref`].
    ///
    /// ```
    /// use http::StatusCode;
    /// use tornado_web::{testing, url, Application, Context, Error, RequestHandler, Settings, TemplateError};
    ///
    /// struct Page;
    /// impl RequestHandler for Page {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.render("page.html", ())
    ///     }
    ///     fn write_error(cx: &mut Context, status: StatusCode, error: Option<&Error>) {
    ///         match error.and_then(Error::downcast_ref::<TemplateError>) {
    ///             Some(e) => cx.write(format!("{} is broken", e.name().unwrap_or("?"))),
    ///             None => cx.write(status.to_string()),
    ///         }
    ///     }
    /// }
    ///
    /// let dir = std::env::temp_dir().join(format!("tornado-doc-template-name-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// std::fs::write(dir.join("page.html"), "{{ nobody }}").unwrap();
    /// let settings = Settings { template_path: Some(dir.clone()), ..Settings::default() };
    /// testing::run(|| Application::with_settings(vec![url("/", || Page)], settings), |t| async move {
    ///     let r = t.fetch("/").await;
    ///     assert_eq!((r.code, r.text().unwrap()), (500, "page.html is broken"));
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.error.name()
    }

    /// The line of the template the error is on.
    ///
    /// ```
    /// use tornado_web::{Application, Settings, TemplateError};
    ///
    /// let dir = std::env::temp_dir().join(format!("tornado-doc-template-line-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let source = "<h1>Post</h1>\n<p>{{ 'text'|nosuchfilter }}</p>";
    /// std::fs::write(dir.join("post.html"), source).unwrap();
    ///
    /// let settings = Settings { template_path: Some(dir.clone()), ..Settings::default() };
    /// let error = Application::with_settings(vec![], settings).render_string("post.html", ()).unwrap_err();
    /// let line = error.downcast_ref::<TemplateError>().and_then(TemplateError::line).unwrap();
    /// assert_eq!(line, 2);
    /// assert_eq!(source.lines().nth(line - 1), Some("<p>{{ 'text'|nosuchfilter }}</p>"));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn line(&self) -> Option<usize> {
        self.error.line()
    }

    /// The engine's error.
    ///
    /// ```
    /// use tornado_web::template::minijinja::ErrorKind;
    /// use tornado_web::{Application, TemplateError};
    ///
    /// /// A missing template is the application's fault; tell it apart from a bad one.
    /// fn is_missing(e: &tornado_web::Error) -> bool {
    ///     let kind = e.downcast_ref::<TemplateError>().map(|t| t.engine_error().kind());
    ///     kind == Some(ErrorKind::TemplateNotFound)
    /// }
    ///
    /// // No template_path setting: no template can be found.
    /// let error = Application::new(vec![]).render_string("page.html", ()).unwrap_err();
    /// assert!(is_missing(&error));
    /// assert!(!is_missing(&tornado_web::Error::msg("the database is away")));
    /// ```
    pub fn engine_error(&self) -> &minijinja::Error {
        &self.error
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The alternate form adds the template's lines around the error, which the
        // engine keeps in debug mode only.
        write!(f, "template error: {:#}", self.error)?;
        if let Some(hint) = self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for TemplateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.error)
    }
}

/// A UI module a request's renders have called, in the order of first use; its
/// instance is out (`None`) while it renders.
pub(crate) struct ActiveModule {
    name: String,
    module: Option<Box<dyn UiModule>>,
}

/// What the functions a template calls need from the render they are in: the
/// application, the request, the UI modules used so far. Template functions must be
/// `Send + Sync` for the engine, and the application and the handler's context are
/// neither, so each render puts its scope on a thread-local stack for its duration
/// (renders are synchronous, on the loop's thread) instead of into the functions.
pub(crate) struct RenderScope {
    pub(crate) app: Rc<AppShared>,
    pub(crate) request: Option<HttpServerRequest>,
    pub(crate) current_user: Option<String>,
    /// The values a template sees besides its context (see `request_globals`).
    globals: Arc<[(&'static str, Value)]>,
    /// Set when a template called `xsrf_form_html()`: the request then needs the
    /// `_xsrf` cookie of a new token, set once the render is done.
    xsrf_used: Arc<AtomicBool>,
    modules: RefCell<Vec<ActiveModule>>,
    /// The first error a UI module returned: an `HttpError` or `Finish` keeps its
    /// meaning through the engine, which only carries its message.
    module_error: RefCell<Option<Error>>,
}

impl RenderScope {
    fn new(
        app: Rc<AppShared>,
        request: Option<HttpServerRequest>,
        current_user: Option<String>,
        globals: Vec<(&'static str, Value)>,
    ) -> RenderScope {
        RenderScope {
            app,
            request,
            current_user,
            globals: globals.into(),
            xsrf_used: Arc::new(AtomicBool::new(false)),
            modules: RefCell::new(Vec::new()),
            module_error: RefCell::new(None),
        }
    }

    /// The scope of a render inside a request, with the UI modules the request's
    /// earlier renders used (given back by [`Context::render_scoped`]).
    fn for_request(cx: &mut Context) -> Result<RenderScope> {
        let xsrf_used = Arc::new(AtomicBool::new(false));
        let globals = request_globals(cx, &xsrf_used)?;
        let mut scope = RenderScope::new(
            cx.app().clone(),
            Some(cx.request().clone()),
            cx.current_user().map(str::to_owned),
            globals,
        );
        scope.xsrf_used = xsrf_used;
        scope.modules = RefCell::new(cx.take_ui_modules());
        Ok(scope)
    }

    /// After a render in `cx`: the `_xsrf` cookie, if a template used the token.
    fn finish_request(&self, cx: &mut Context) -> Result {
        if self.xsrf_used.load(Ordering::Relaxed) {
            cx.xsrf_token()?;
        }
        Ok(())
    }
}

/// The values every template of a request sees besides its own context, made from
/// the handler's context before the render (Tornado's `get_template_namespace`; what
/// templates look up lazily, `request`, `reverse_url` and `modules`, are globals of
/// the environment that read the render scope).
fn request_globals(
    cx: &mut Context,
    xsrf_used: &Arc<AtomicBool>,
) -> Result<Vec<(&'static str, Value)>> {
    let mut globals = vec![("current_user", Value::from(cx.current_user()))];
    // The engine cannot call back into the context while it renders: the field is
    // made here, and the `_xsrf` cookie a new token needs is set after the render,
    // only if a template called `xsrf_form_html()` (as Tornado sets it only then).
    if cx.settings().xsrf_cookies {
        let form = cx.xsrf_form_html_deferred()?;
        let used = xsrf_used.clone();
        globals.push((
            "xsrf_form_html",
            Value::from_function(move || {
                used.store(true, Ordering::Relaxed);
                Value::from_safe_string(form.clone())
            }),
        ));
    }
    Ok(globals)
}

thread_local! {
    /// The scopes of the renders under way on this thread, innermost last.
    static SCOPES: RefCell<Vec<Rc<RenderScope>>> = const { RefCell::new(Vec::new()) };
}

/// Takes its scope off the stack when the render ends, whatever way it ends.
struct Entered;

impl Drop for Entered {
    fn drop(&mut self) {
        SCOPES.with(|scopes| scopes.borrow_mut().pop());
    }
}

fn enter(scope: Rc<RenderScope>) -> Entered {
    SCOPES.with(|scopes| scopes.borrow_mut().push(scope));
    Entered
}

/// The scope of the render under way (an error outside one: only the engine calls the
/// functions that ask, and only while it renders).
fn current_scope() -> std::result::Result<Rc<RenderScope>, minijinja::Error> {
    SCOPES
        .with(|scopes| scopes.borrow().last().cloned())
        .ok_or_else(|| {
            minijinja::Error::new(
                ErrorKind::InvalidOperation,
                "only available while a template renders",
            )
        })
}

/// The root of a template's context: the caller's context, then the request's globals.
#[derive(Debug)]
struct Root {
    context: Value,
    globals: Arc<[(&'static str, Value)]>,
}

impl Object for Root {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        if let Ok(value) = self.context.get_attr(key)
            && !value.is_undefined()
        {
            return Some(value);
        }
        self.globals
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, value)| value.clone())
    }
}

/// A context given as any serde value (a `context!`, a `serde_json::Value`, a struct).
fn to_value(context: impl serde::Serialize) -> Value {
    Value::from(minijinja::value::Serde(context))
}

/// Renders `name` in `scope` with `env`: every render, outermost or called by a module.
fn render_in(
    env: &Environment<'_>,
    scope: &RenderScope,
    name: &str,
    context: Value,
) -> Result<String> {
    let fail = |error: minijinja::Error| -> Error {
        if let Some(e) = scope.module_error.borrow_mut().take()
            && (e.as_http().is_some() || e.is_finish())
        {
            return e;
        }
        TemplateError::new(error, &scope.app.settings).into()
    };
    let template = env.get_template(name).map_err(fail)?;
    let root = Value::from_object(Root {
        context,
        globals: scope.globals.clone(),
    });
    template.render(root).map_err(fail)
}

/// Renders `name` with its compiled plan, when it has one and the plan can render this
/// context; `Ok(None)` leaves the render to the engine. A template is compiled on its
/// first render and again whenever the engine's source for it changed (a reload).
fn render_compiled(
    app: &AppShared,
    name: &str,
    context: &(impl serde::Serialize + ?Sized),
    user: Option<&str>,
) -> Result<Option<String>> {
    let settings = &app.settings;
    if !settings.template_fast_path {
        return Ok(None);
    }
    let cached = app.templates.plans.borrow().get(name).cloned();
    // Without reloading, the engine keeps the template it loaded first, and so does
    // the plan; with it, the engine's source (checked anew on each render) decides.
    let reloads = settings.debug || !settings.compiled_template_cache;
    if let Some(c) = &cached
        && !reloads
    {
        return Ok(c
            .plan
            .as_ref()
            .and_then(|p| p.render(context, settings.autoescape, user)));
    }
    let template = app
        .templates
        .env(settings)
        .get_template(name)
        .map_err(|e| Error::from(TemplateError::new(e, settings)))?;
    let source = template.source();
    let cached = match cached {
        Some(c) if *c.source == *source => c,
        _ => {
            let compiled = Rc::new(CachedPlan {
                source: source.into(),
                plan: fast::Plan::compile(source, name),
            });
            let mut plans = app.templates.plans.borrow_mut();
            plans.insert(name.to_owned(), compiled.clone());
            compiled
        }
    };
    Ok(match &cached.plan {
        Some(plan) => plan.render(context, settings.autoescape, user),
        None => None,
    })
}

/// An outermost render: `scope` is on the thread's stack while it runs.
fn render_page(scope: &Rc<RenderScope>, name: &str, context: Value) -> Result<String> {
    let env = scope.app.templates.env(&scope.app.settings);
    let _entered = enter(scope.clone());
    render_in(env, scope, name, context)
}

/// A render a UI module asks for, inside the page's render and scope.
pub(crate) fn render_nested(
    env: &Environment<'_>,
    scope: &RenderScope,
    name: &str,
    context: impl serde::Serialize,
) -> Result<String> {
    let user = scope.current_user.as_deref();
    if let Some(page) = render_compiled(&scope.app, name, &context, user)? {
        return Ok(page);
    }
    render_in(env, scope, name, to_value(context))
}

/// [`Application::render_string`](crate::Application::render_string): a render with no
/// request.
pub(crate) fn render_outside(
    app: &Rc<AppShared>,
    name: &str,
    context: impl serde::Serialize,
) -> Result<String> {
    if let Some(page) = render_compiled(app, name, &context, None)? {
        return Ok(page);
    }
    let globals = vec![("current_user", Value::from(()))];
    let scope = Rc::new(RenderScope::new(app.clone(), None, None, globals));
    render_page(&scope, name, to_value(context))
}

impl Context {
    /// Renders template `name` with `context` (any serde value: a
    /// [`context!`](minijinja::context), a `serde_json::Value`, a struct) as the
    /// response and finishes it (Tornado's `render`). The JavaScript and CSS of the
    /// [UI modules](crate::UiModule) the page used, and those any
    /// [`render_string`](Self::render_string) of the request before it used (as in
    /// Tornado), go into it: files and embedded CSS before `</head>`, files and
    /// embedded JavaScript before `</body>`, each file once.
    ///
    /// An error (see [`render_string`](Self::render_string)) leaves the response
    /// open, so returning it answers 500. Rendering after `finish` is an error.
    ///
    /// ```
    /// use tornado_web::template::minijinja::context;
    /// use tornado_web::{testing, url, Application, Context, RequestHandler, Settings};
    ///
    /// struct Hello;
    /// impl RequestHandler for Hello {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let name = cx.get_argument_or("name", "world")?;
    ///         cx.render("hello.html", context! { name })
    ///     }
    /// }
    ///
    /// let dir = std::env::temp_dir().join(format!("tornado-doc-render-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// std::fs::write(dir.join("hello.html"), "<p>Hello, {{ name }}, at {{ request.path }}</p>").unwrap();
    /// let settings = Settings { template_path: Some(dir.clone()), ..Settings::default() };
    /// testing::run(|| Application::with_settings(vec![url("/hi", || Hello)], settings), |t| async move {
    ///     let page = t.fetch("/hi?name=%3Cb%3E").await;
    ///     assert_eq!(page.text().unwrap(), "<p>Hello, &lt;b&gt;, at /hi</p>");
    ///     assert_eq!(page.headers.get("Content-Type"), Some("text/html; charset=UTF-8"));
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn render(&mut self, name: &str, context: impl serde::Serialize) -> Result {
        if self.is_finished() {
            return Err(Error::msg("cannot render() after finish()"));
        }
        let user = self.current_user();
        let html = match render_compiled(self.app(), name, &context, user)? {
            Some(html) => html,
            None => self.render_scoped(name, to_value(context))?,
        };
        // The modules of this render and of any `render_string` before it, as
        // Tornado's handler keeps them.
        let modules = self.take_ui_modules();
        let html = self.insert_module_resources(html, &modules)?;
        self.write(html);
        self.finish()
    }

    /// Renders template `name` with `context` and returns the text (Tornado's
    /// `render_string`), with the globals every template sees (`current_user`,
    /// `request`, `reverse_url`, `modules`; see [the module docs](crate::template)).
    ///
    /// An error (the template is missing or does not parse, a name is undefined, a
    /// filter or module fails) is a [`TemplateError`] whose message names the
    /// template and the line; an [`HttpError`](crate::HttpError) a UI module returned
    /// comes back as it is.
    ///
    /// ```
    /// use tornado_web::template::minijinja::context;
    /// use tornado_web::{testing, url, Application, Context, RequestHandler, Settings};
    ///
    /// /// A fragment of HTML, sent inside JSON for a script to insert.
    /// struct Item;
    /// impl RequestHandler for Item {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let html = cx.render_string("item.html", context! { name => "<new>" })?;
    ///         cx.write(serde_json::json!({ "html": html }));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let dir = std::env::temp_dir().join(format!("tornado-doc-render-string-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// std::fs::write(dir.join("item.html"), "<li>{{ name }}</li>").unwrap();
    /// let settings = Settings { template_path: Some(dir.clone()), ..Settings::default() };
    /// testing::run(|| Application::with_settings(vec![url("/item", || Item)], settings), |t| async move {
    ///     let r = t.fetch("/item").await;
    ///     // JSON's `</` goes out as `<\/` (Tornado's `json_encode`): the same string.
    ///     assert_eq!(r.text().unwrap(), r#"{"html":"<li>&lt;new&gt;<\/li>"}"#);
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn render_string(&mut self, name: &str, context: impl serde::Serialize) -> Result<String> {
        let user = self.current_user();
        if let Some(text) = render_compiled(self.app(), name, &context, user)? {
            return Ok(text);
        }
        self.render_scoped(name, to_value(context))
    }

    /// Renders `name` with the engine in a scope of this request; the UI modules used
    /// are kept for the request's later renders, whatever way the render ends.
    fn render_scoped(&mut self, name: &str, context: Value) -> Result<String> {
        let scope = Rc::new(RenderScope::for_request(self)?);
        let text = render_page(&scope, name, context);
        self.keep_ui_modules(scope.modules.take());
        let text = text?;
        scope.finish_request(self)?;
        Ok(text)
    }

    /// Puts the resources of the modules a page used into it, as Tornado's `render`
    /// does (and in its order).
    fn insert_module_resources(
        &self,
        mut html: String,
        modules: &[ActiveModule],
    ) -> Result<String> {
        if modules.is_empty() {
            return Ok(html);
        }
        let mut js_embed = Vec::new();
        let mut js_files = Vec::new();
        let mut css_embed = Vec::new();
        let mut css_files = Vec::new();
        let mut heads = String::new();
        let mut bodies = String::new();
        for module in modules.iter().filter_map(|m| m.module.as_deref()) {
            js_embed.extend(module.embedded_javascript().filter(|s| !s.is_empty()));
            js_files.extend(module.javascript_files());
            css_embed.extend(module.embedded_css().filter(|s| !s.is_empty()));
            css_files.extend(module.css_files());
            heads.extend(module.html_head());
            bodies.extend(module.html_body());
        }
        if !js_files.is_empty() {
            let mut tags = String::new();
            for url in self.resource_urls(js_files)? {
                tags.push_str("<script src=\"");
                tags.push_str(&xhtml_escape(&url));
                tags.push_str("\" type=\"text/javascript\"></script>");
            }
            insert_before_last(&mut html, "</body>", &tags)?;
        }
        if !js_embed.is_empty() {
            let script = format!(
                "<script type=\"text/javascript\">\n//<![CDATA[\n{}\n//]]>\n</script>",
                js_embed.join("\n")
            );
            insert_before_last(&mut html, "</body>", &script)?;
        }
        if !css_files.is_empty() {
            let mut tags = String::new();
            for url in self.resource_urls(css_files)? {
                tags.push_str("<link href=\"");
                tags.push_str(&xhtml_escape(&url));
                tags.push_str("\" type=\"text/css\" rel=\"stylesheet\"/>");
            }
            insert_before_first(&mut html, "</head>", &tags)?;
        }
        if !css_embed.is_empty() {
            let style = format!(
                "<style type=\"text/css\">\n{}\n</style>",
                css_embed.join("\n")
            );
            insert_before_first(&mut html, "</head>", &style)?;
        }
        if !heads.is_empty() {
            insert_before_first(&mut html, "</head>", &heads)?;
        }
        if !bodies.is_empty() {
            insert_before_first(&mut html, "</body>", &bodies)?;
        }
        Ok(html)
    }

    /// The URLs of modules' files, each once, in the order first named: a path that is
    /// not absolute is a static file (Tornado's `render_linked_js`).
    fn resource_urls(&self, paths: Vec<String>) -> Result<Vec<String>> {
        let mut urls: Vec<String> = Vec::with_capacity(paths.len());
        for path in paths {
            let url = if is_absolute(&path) {
                path
            } else {
                self.static_url(&path)?
            };
            if !urls.contains(&url) {
                urls.push(url);
            }
        }
        Ok(urls)
    }
}

/// Tornado's `is_absolute`: the path is a URL path or a full URL, not a static file.
fn is_absolute(path: &str) -> bool {
    path.starts_with('/') || path.starts_with("http:") || path.starts_with("https:")
}

/// Inserts `text` and a newline before the last `tag` of `html`.
fn insert_before_last(html: &mut String, tag: &str, text: &str) -> Result {
    let at = html.rfind(tag).ok_or_else(|| missing_tag(tag))?;
    html.insert_str(at, &format!("{text}\n"));
    Ok(())
}

/// Inserts `text` and a newline before the first `tag` of `html`.
fn insert_before_first(html: &mut String, tag: &str, text: &str) -> Result {
    let at = html.find(tag).ok_or_else(|| missing_tag(tag))?;
    html.insert_str(at, &format!("{text}\n"));
    Ok(())
}

fn missing_tag(tag: &str) -> Error {
    Error::msg(format!(
        "render: the page has no {tag} to put its UI modules' resources before"
    ))
}

/// `modules`: calls a UI module by name (`modules.Name(args)`).
#[derive(Debug)]
struct ModulesObject;

impl Object for ModulesObject {
    fn call_method(
        self: &Arc<Self>,
        state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> std::result::Result<Value, minijinja::Error> {
        call_module(state, method, args)
    }
}

/// Renders module `name` with `args`: its instance for this render (made on its first
/// call), taken out of the scope while it renders, since it may render templates that
/// call modules, itself included (such a nested call gets an instance of its own).
fn call_module(
    state: &State<'_, '_>,
    name: &str,
    args: &[Value],
) -> std::result::Result<Value, minijinja::Error> {
    let scope = current_scope()?;
    let make = || {
        scope.app.settings.ui_modules.make(name).ok_or_else(|| {
            minijinja::Error::new(
                ErrorKind::UnknownFunction,
                format!("no UI module named {name} in the ui_modules setting"),
            )
        })
    };
    // The render's instance of the module, or, for a call from inside the module's
    // own render (a tree of comments), an instance for that call alone.
    let (mut module, nested) = {
        let mut active = scope.modules.borrow_mut();
        match active.iter_mut().find(|m| m.name == name) {
            Some(m) => match m.module.take() {
                Some(module) => (module, false),
                None => (make()?, true),
            },
            None => {
                let module = make()?;
                active.push(ActiveModule {
                    name: name.to_owned(),
                    module: None,
                });
                (module, false)
            }
        }
    };
    let rendered = module.render(
        &ModuleCx {
            scope: &scope,
            env: state.env(),
        },
        args,
    );
    if !nested
        && let Some(slot) = scope
            .modules
            .borrow_mut()
            .iter_mut()
            .find(|m| m.name == name)
    {
        slot.module = Some(module);
    }
    match rendered {
        Ok(html) => Ok(Value::from_safe_string(html)),
        Err(e) => {
            let message = format!("UI module {name}: {e}");
            scope.module_error.borrow_mut().get_or_insert(e);
            Err(minijinja::Error::new(ErrorKind::InvalidOperation, message))
        }
    }
}

/// `reverse_url(name, *args)`.
fn reverse_url(name: &str, args: Rest<Value>) -> std::result::Result<String, minijinja::Error> {
    let scope = current_scope()?;
    let args: Vec<&dyn fmt::Display> = args.iter().map(|a| a as &dyn fmt::Display).collect();
    scope
        .app
        .reverse_url(name, &args)
        .map_err(|e| minijinja::Error::new(ErrorKind::InvalidOperation, e.to_string()))
}

/// `request`: the request of the render under way, read when a template asks.
#[derive(Debug)]
struct RequestObject;

const REQUEST_FIELDS: &[&str] = &[
    "method",
    "uri",
    "path",
    "query",
    "version",
    "host",
    "host_name",
    "protocol",
    "remote_ip",
    "full_url",
    "body",
    "headers",
    "arguments",
    "query_arguments",
    "body_arguments",
    "cookies",
];

impl Object for RequestObject {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        let scope = current_scope().ok()?;
        let r = scope.request.as_ref()?;
        Some(match key {
            "method" => Value::from(r.method().as_str()),
            "uri" => Value::from(r.uri()),
            "path" => Value::from(r.path()),
            "query" => Value::from(r.query()),
            "version" => Value::from(format!("{:?}", r.version())),
            "host" => Value::from(r.host()),
            "host_name" => Value::from(r.host_name()),
            "protocol" => Value::from(r.protocol),
            "remote_ip" => Value::from(r.remote_ip.map(|ip| ip.to_string())),
            "full_url" => Value::from(r.full_url()),
            "body" => Value::from(String::from_utf8_lossy(&r.body).into_owned()),
            "headers" => Value::from_object(HeadersObject),
            "arguments" => arguments_value(r.arguments()),
            "query_arguments" => arguments_value(r.query_arguments()),
            "body_arguments" => arguments_value(r.body_arguments()),
            "cookies" => Value::from(
                r.cookies()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<BTreeMap<String, String>>(),
            ),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(REQUEST_FIELDS)
    }

    fn is_true(self: &Arc<Self>) -> bool {
        current_scope().is_ok_and(|s| s.request.is_some())
    }
}

/// Arguments as a map of name to the list of its values (text, invalid UTF-8
/// replaced).
fn arguments_value(args: &Arguments) -> Value {
    Value::from(
        args.iter()
            .map(|(name, values)| {
                let values: Vec<String> = values
                    .iter()
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .collect();
                (name.clone(), values)
            })
            .collect::<BTreeMap<String, Vec<String>>>(),
    )
}

/// `request.headers`: `request.headers["User-Agent"]`, any case, several values joined
/// with commas.
#[derive(Debug)]
struct HeadersObject;

impl Object for HeadersObject {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        let scope = current_scope().ok()?;
        let joined = scope.request.as_ref()?.headers().get_joined(key)?;
        Some(Value::from(joined.into_owned()))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let names: Vec<Value> = current_scope()
            .ok()
            .and_then(|s| {
                s.request.as_ref().map(|r| {
                    let mut names: Vec<Value> = Vec::new();
                    for (name, _) in r.headers().iter() {
                        let name = Value::from(name);
                        if !names.contains(&name) {
                            names.push(name);
                        }
                    }
                    names
                })
            })
            .unwrap_or_default();
        Enumerator::Values(names)
    }
}

/// `xhtml_escape(s)`: escaped as the page is, and marked safe so that it is not
/// escaped twice.
fn xhtml_escape_filter(value: &Value) -> Value {
    let escaped = match value.as_str() {
        Some(text) => xhtml_escape(text),
        None => xhtml_escape(&value.to_string()),
    };
    Value::from_safe_string(escaped)
}

/// `text` escaped as templates escape it (and [`crate::xhtml_escape`]).
pub(crate) fn xhtml_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 8);
    // Writing to a String cannot fail.
    let _ = write_xhtml_escaped(&mut escaped, text);
    escaped
}

/// `url_escape(s, plus=true)`: Tornado's `url_escape`: with `plus`, Python's
/// `quote_plus` (space as `+`, `/` escaped); without, `quote` (space as `%20`, `/`
/// kept).
fn url_escape_filter(
    value: &Value,
    plus: Option<bool>,
    kwargs: Kwargs,
) -> std::result::Result<String, minijinja::Error> {
    let plus = match kwargs.get::<Option<bool>>("plus")? {
        Some(plus) => plus,
        None => plus.unwrap_or(true),
    };
    kwargs.assert_all_used()?;
    let text = match value.as_str() {
        Some(text) => std::borrow::Cow::Borrowed(text),
        None => std::borrow::Cow::Owned(value.to_string()),
    };
    Ok(url_escape(&text, plus))
}

fn url_escape(text: &str, plus: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(char::from(b))
            }
            b'/' if !plus => out.push('/'),
            b' ' if plus => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            }
        }
    }
    out
}

/// `json_encode(v)`: JSON, with `</` written `<\/` so that it can sit in a `<script>`
/// (Tornado's `json_encode`). Like Tornado's, its result is escaped when printed
/// (write `json_encode(v)|safe` inside a `<script>`).
fn json_encode_filter(value: &Value) -> std::result::Result<String, minijinja::Error> {
    crate::context::json_encode(value).map_err(|e| {
        minijinja::Error::new(ErrorKind::BadSerialization, "cannot encode as JSON").with_source(e)
    })
}

/// `squeeze(s)`: runs of whitespace and control characters as one space, trimmed
/// (Tornado's `squeeze`).
fn squeeze_filter(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        if c <= ' ' {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_is_tornados() {
        for (text, want) in [
            ("", ""),
            ("plain text", "plain text"),
            (
                "<a href=\"x\">'&'</a>",
                "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;",
            ),
            ("\"", "&quot;"),
            ("é<ü>", "é&lt;ü&gt;"),
            ("a'b\"c&", "a&#x27;b&quot;c&amp;"),
        ] {
            assert_eq!(xhtml_escape(text), want, "{text:?}");
        }
    }

    #[test]
    fn the_first_byte_to_escape_is_found_in_short_and_long_text() {
        for len in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 127, 128, 129, 300] {
            for at in 0..=len {
                for special in [b'&', b'<', b'>', b'"', b'\''] {
                    // Fillers next to the special bytes' values.
                    let mut text: Vec<u8> = (0..len).map(|i| b"%(=?!#;@a \xff"[i % 11]).collect();
                    if at < len {
                        text[at] = special;
                    }
                    let want = (at < len).then_some(at);
                    assert_eq!(next_special(&text), want, "len {len} at {at} {special}");
                }
            }
        }
    }

    #[test]
    fn long_and_short_text_escape_alike() {
        /// What escaping must give, a byte at a time.
        fn naive(text: &str) -> String {
            let mut out = String::new();
            for c in text.chars() {
                match c {
                    '&' => out.push_str("&amp;"),
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '"' => out.push_str("&quot;"),
                    '\'' => out.push_str("&#x27;"),
                    c => out.push(c),
                }
            }
            out
        }
        let pieces = ["a", "é", "'", "\"", "<", ">", "&", " ", "フ", "xyz"];
        // Every length around the short/long boundary, and long text full of quotes
        // with no tag (once searched again after each quote, quadratic).
        let mut texts: Vec<String> = (0..300)
            .map(|n| (0..n).map(|i| pieces[(i * 7 + n) % pieces.len()]).collect())
            .collect();
        texts.push("a'".repeat(50_000));
        texts.push("a\"".repeat(50_000) + "<");
        for text in &texts {
            let mut out = String::new();
            write_xhtml_escaped(&mut out, text).unwrap();
            assert_eq!(out, naive(text), "{text:?}");
        }
    }

    #[test]
    fn url_escape_is_tornados() {
        for (text, plus, want) in [
            ("a b/c", true, "a+b%2Fc"),
            ("a b/c", false, "a%20b/c"),
            ("é&=?", true, "%C3%A9%26%3D%3F"),
            ("safe-_.~", true, "safe-_.~"),
        ] {
            assert_eq!(url_escape(text, plus), want, "{text:?} plus={plus}");
        }
    }

    #[test]
    fn squeeze_is_tornados() {
        for (text, want) in [
            ("  a \t\n b  ", "a b"),
            ("a", "a"),
            ("", ""),
            ("\x00a\x1fb\x20", "a b"),
        ] {
            assert_eq!(squeeze_filter(text), want, "{text:?}");
        }
    }

    #[test]
    fn json_encode_escapes_closing_tags() {
        let v = Value::from("</script>");
        assert_eq!(json_encode_filter(&v).unwrap(), r#""<\/script>""#);
    }

    #[test]
    fn a_template_error_downcasts_out_of_error() {
        let error = crate::Application::new(vec![])
            .render_string("page.html", ())
            .unwrap_err();
        let template = error.downcast_ref::<TemplateError>().unwrap();
        assert_eq!(template.engine_error().kind(), ErrorKind::TemplateNotFound);
        assert!(error.downcast_ref::<crate::HttpError>().is_none());
        assert!(error.downcast_ref::<std::io::Error>().is_none());

        let dir =
            std::env::temp_dir().join(format!("tornado-template-downcast-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("broken.html"), "line 1\n{{ nobody }}").unwrap();
        let settings = Settings {
            template_path: Some(dir.clone()),
            ..Settings::default()
        };
        let error = crate::Application::with_settings(vec![], settings)
            .render_string("broken.html", ())
            .unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        let template = error.downcast_ref::<TemplateError>().unwrap();
        assert_eq!(template.name(), Some("broken.html"));
        assert_eq!(template.line(), Some(2));
        assert_eq!(template.engine_error().kind(), ErrorKind::UndefinedError);
    }

    #[test]
    fn absolute_paths() {
        for (path, want) in [
            ("/s/a.js", true),
            ("http://x/a.js", true),
            ("https://x/a.js", true),
            ("a.js", false),
            ("js/a.js", false),
        ] {
            assert_eq!(is_absolute(path), want, "{path}");
        }
    }
}
