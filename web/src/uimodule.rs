//! UI modules (Tornado's `UIModule`): reusable pieces of a page that templates call as
//! `{{ modules.Name(args) }}`, and that may bring JavaScript and CSS of their own,
//! which [`Context::render`](crate::Context::render) gathers into the page.
//!
//! A module is registered by name with a factory in the
//! [`ui_modules`](crate::Settings::ui_modules) setting. As Tornado makes one instance of
//! each module a handler uses, the first call of a module in a render makes its
//! instance, and every later call in that render goes to the same instance; once the
//! page is rendered, the resources of every module used are collected from those
//! instances, each file once.

use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use minijinja::value::Value;
use tornado_httpserver::httputil::HttpServerRequest;

use crate::error::Result;
use crate::settings::Settings;
use crate::template::RenderScope;

/// A reusable piece of a page (Tornado's `UIModule`), called from templates as
/// `{{ modules.Name(arg, key=value) }}`.
///
/// [`render`](Self::render) returns the module's HTML, which goes into the page as it
/// is (not escaped; escape what you put in it with [`xhtml_escape`](crate::xhtml_escape)
/// or render a template with [`ModuleCx::render_string`], which escapes). The other
/// methods name JavaScript and CSS the page needs when this module is on it:
/// [`Context::render`](crate::Context::render) puts them in the page once, whatever
/// the number of calls, in the places Tornado puts them (files and embedded code
/// before `</head>` for CSS and before `</body>` for JavaScript).
///
/// ```
/// use tornado_web::template::minijinja::value::{from_args, Kwargs, Value};
/// use tornado_web::{ModuleCx, Settings, UiModule, UiModules};
///
/// /// `{{ modules.Entry(entry, show_comments=true) }}`
/// struct Entry;
///
/// impl UiModule for Entry {
///     fn render(&mut self, cx: &ModuleCx<'_>, args: &[Value]) -> tornado_web::Result<String> {
///         let (entry, kwargs): (Value, Kwargs) = from_args(args)?;
///         let show_comments: bool = kwargs.get::<Option<bool>>("show_comments")?.unwrap_or(false);
///         cx.render_string("module-entry.html", tornado_web::template::minijinja::context! {
///             entry, show_comments
///         })
///     }
///     fn css_files(&self) -> Vec<String> {
///         vec!["css/entry.css".into()]
///     }
/// }
///
/// let settings = Settings {
///     ui_modules: UiModules::new().add("Entry", || Entry),
///     ..Settings::default()
/// };
/// # let _ = settings;
/// ```
pub trait UiModule: 'static {
    /// The module's HTML for one call; `args` are the call's arguments, keyword
    /// arguments last as a `Kwargs` value
    /// ([`from_args`](minijinja::value::from_args) splits them). An error fails the
    /// render: an [`HttpError`](crate::HttpError) or [`Finish`](crate::Finish) keeps its
    /// meaning, any other error is a template error naming the template and line of
    /// the call.
    fn render(&mut self, cx: &ModuleCx<'_>, args: &[Value]) -> Result<String>;

    /// JavaScript to put in a `<script>` at the end of the page's body.
    fn embedded_javascript(&self) -> Option<String> {
        None
    }

    /// JavaScript files the page should load (before `</body>`): a path that is not
    /// absolute (`/`, `http:`, `https:`) is a static file.
    fn javascript_files(&self) -> Vec<String> {
        Vec::new()
    }

    /// CSS to put in a `<style>` in the page's head.
    fn embedded_css(&self) -> Option<String> {
        None
    }

    /// CSS files the page should link (before `</head>`), paths as in
    /// [`javascript_files`](Self::javascript_files).
    fn css_files(&self) -> Vec<String> {
        Vec::new()
    }

    /// HTML to put at the end of the page's `<head>`.
    fn html_head(&self) -> Option<String> {
        None
    }

    /// HTML to put at the end of the page's `<body>`.
    fn html_body(&self) -> Option<String> {
        None
    }
}

type Factory = Rc<dyn Fn() -> Box<dyn UiModule>>;

/// The UI modules of an application, by name (Tornado's `ui_modules` setting).
/// Cheap to clone.
#[derive(Clone, Default)]
pub struct UiModules {
    factories: HashMap<String, Factory>,
}

impl fmt::Debug for UiModules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.factories.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_set().entries(names).finish()
    }
}

impl UiModules {
    /// No modules.
    pub fn new() -> UiModules {
        UiModules::default()
    }

    /// Adds the module templates call as `modules.NAME(...)`; `factory` makes its
    /// instance for a render (what it captures, every instance shares). A second
    /// module of the same name replaces the first.
    pub fn add<M, F>(mut self, name: impl Into<String>, factory: F) -> UiModules
    where
        M: UiModule,
        F: Fn() -> M + 'static,
    {
        let factory: Factory = Rc::new(move || Box::new(factory()) as Box<dyn UiModule>);
        self.factories.insert(name.into(), factory);
        self
    }

    /// Whether a module is registered under `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.factories.contains_key(name)
    }

    /// The names of the modules, in no particular order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.factories.keys().map(String::as_str)
    }

    pub(crate) fn make(&self, name: &str) -> Option<Box<dyn UiModule>> {
        self.factories.get(name).map(|f| f())
    }
}

/// What a [`UiModule`] sees while it renders (Tornado's `UIModule.handler`,
/// `request`, `current_user` and `render_string`).
pub struct ModuleCx<'a> {
    pub(crate) scope: &'a RenderScope,
    pub(crate) env: &'a minijinja::Environment<'a>,
}

impl fmt::Debug for ModuleCx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModuleCx")
            .field("request", &self.request())
            .field("current_user", &self.current_user())
            .finish_non_exhaustive()
    }
}

impl ModuleCx<'_> {
    /// The request being answered (`None` when the page is rendered outside a
    /// request, with [`Application::render_string`](crate::Application::render_string)).
    pub fn request(&self) -> Option<&HttpServerRequest> {
        self.scope.request.as_ref()
    }

    /// The request's current user.
    pub fn current_user(&self) -> Option<&str> {
        self.scope.current_user.as_deref()
    }

    /// The application's settings.
    pub fn settings(&self) -> &Settings {
        &self.scope.app.settings
    }

    /// The URL of the route named `name` (Tornado's `reverse_url`).
    pub fn reverse_url(
        &self,
        name: &str,
        args: &[&dyn fmt::Display],
    ) -> std::result::Result<String, crate::RouteError> {
        self.scope.app.reverse_url(name, args)
    }

    /// Renders template `name` with `context` (and the globals every template has),
    /// for the module's HTML; modules it calls count as used by the page.
    pub fn render_string(&self, name: &str, context: impl serde::Serialize) -> Result<String> {
        crate::template::render_nested(self.env, self.scope, name, context)
    }
}
