//! UI modules (Tornado's `UIModule`): reusable pieces of a page that templates call as
//! `{{ modules.Name(args) }}`, and that may bring JavaScript and CSS of their own,
//! which [`Context::render`](crate::Context::render) gathers into the page.
//!
//! A module is registered by name with a factory in the
//! [`ui_modules`](crate::Settings::ui_modules) setting. As Tornado makes one instance of
//! each module a handler uses, the first call of a module in a request's renders makes
//! its instance, and every later call in them goes to the same instance; once the page
//! is rendered, the resources of every module used (by `render` and by any
//! `render_string` before it) are collected from those instances, each file once.

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
/// use tornado_web::template::minijinja::context;
/// use tornado_web::template::minijinja::value::{from_args, Kwargs, Value};
/// use tornado_web::{Application, ModuleCx, Settings, UiModule, UiModules};
/// # let dir = std::env::temp_dir().join(format!("tornado-doc-uimodule-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// # std::fs::write(dir.join("module-entry.html"),
/// #     "<h2>{{ entry.title }}</h2>{% if show_comments %}<a href=#c>comments</a>{% endif %}").unwrap();
/// # std::fs::write(dir.join("home.html"),
/// #     "{% for e in entries %}{{ modules.Entry(e, show_comments=true) }}{% endfor %}").unwrap();
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
///     template_path: Some(dir.clone()),
///     ..Settings::default()
/// };
/// // home.html: {% for e in entries %}{{ modules.Entry(e, show_comments=true) }}{% endfor %}
/// let app = Application::with_settings(vec![], settings);
/// let page = app.render_string("home.html", context! { entries => [context! { title => "<Hi>" }] });
/// assert_eq!(page.unwrap(), "<h2>&lt;Hi&gt;</h2><a href=#c>comments</a>");
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub trait UiModule: 'static {
    /// The module's HTML for one call; `args` are the call's arguments, keyword
    /// arguments last as a `Kwargs` value
    /// ([`from_args`](minijinja::value::from_args) splits them). An error fails the
    /// render: an [`HttpError`](crate::HttpError) or [`Finish`](crate::Finish) keeps its
    /// meaning, any other error is a template error naming the template and line of
    /// the call.
    ///
    /// ```
    /// use tornado_web::template::minijinja::value::{from_args, Kwargs, Value};
    /// use tornado_web::{xhtml_escape, Application, ModuleCx, Settings, UiModule, UiModules};
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-uimodule-render-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("page.html"), r#"{{ modules.Badge("new", color="red") }}"#).unwrap();
    ///
    /// /// `{{ modules.Badge(text, color="grey") }}`
    /// struct Badge;
    /// impl UiModule for Badge {
    ///     fn render(&mut self, _cx: &ModuleCx<'_>, args: &[Value]) -> tornado_web::Result<String> {
    ///         let (text, kwargs): (String, Kwargs) = from_args(args)?;
    ///         let color: String = kwargs.get::<Option<String>>("color")?.unwrap_or("grey".into());
    ///         // The page does not escape it: escape what goes in.
    ///         Ok(format!("<span class=\"badge {}\">{}</span>", xhtml_escape(&color), xhtml_escape(&text)))
    ///     }
    /// }
    ///
    /// let settings = Settings {
    ///     ui_modules: UiModules::new().add("Badge", || Badge),
    ///     template_path: Some(dir.clone()),
    ///     ..Settings::default()
    /// };
    /// // page.html: {{ modules.Badge("new", color="red") }}
    /// let page = Application::with_settings(vec![], settings).render_string("page.html", ()).unwrap();
    /// assert_eq!(page, r#"<span class="badge red">new</span>"#);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    fn render(&mut self, cx: &ModuleCx<'_>, args: &[Value]) -> Result<String>;

    /// JavaScript to put in a `<script>` at the end of the page's body.
    ///
    /// ```
    /// use tornado_web::template::minijinja::Value;
    /// use tornado_web::{testing, url, Application, ModuleCx, Settings, UiModule, UiModules};
    /// # use tornado_web::{Context, RequestHandler};
    /// # struct Page;
    /// # impl RequestHandler for Page {
    /// #     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    /// #         cx.render("page.html", ())
    /// #     }
    /// # }
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-uimodule-embedded-js-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("page.html"),
    /// #     "<html><head></head><body>{{ modules.Chart() }}</body></html>").unwrap();
    ///
    /// struct Chart;
    /// impl UiModule for Chart {
    ///     fn render(&mut self, _: &ModuleCx<'_>, _: &[Value]) -> tornado_web::Result<String> {
    ///         Ok("<canvas id=chart></canvas>".into())
    ///     }
    ///     fn embedded_javascript(&self) -> Option<String> {
    ///         Some("drawChart('chart');".into())
    ///     }
    /// }
    ///
    /// let settings = Settings {
    ///     ui_modules: UiModules::new().add("Chart", || Chart),
    ///     template_path: Some(dir.clone()),
    ///     ..Settings::default()
    /// };
    /// // `Page` renders page.html: <html><head></head><body>{{ modules.Chart() }}</body></html>
    /// testing::run(|| Application::with_settings(vec![url("/", || Page)], settings), |t| async move {
    ///     let page = t.fetch("/").await;
    ///     assert_eq!(page.text().unwrap(), "<html><head></head><body><canvas id=chart></canvas>\
    ///                   <script type=\"text/javascript\">\n//<![CDATA[\n\
    ///                   drawChart('chart');\n//]]>\n</script>\n\
    ///                   </body></html>");
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    fn embedded_javascript(&self) -> Option<String> {
        None
    }

    /// JavaScript files the page should load (before `</body>`): a path that is not
    /// absolute (`/`, `http:`, `https:`) is a static file.
    ///
    /// ```
    /// use tornado_web::template::minijinja::Value;
    /// use tornado_web::{testing, url, Application, ModuleCx, Settings, UiModule, UiModules};
    /// # use tornado_web::{Context, RequestHandler};
    /// # struct Page;
    /// # impl RequestHandler for Page {
    /// #     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    /// #         cx.render("page.html", ())
    /// #     }
    /// # }
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-uimodule-js-files-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("page.html"),
    /// #     "<html><head></head><body>{{ modules.Chart() }}</body></html>").unwrap();
    ///
    /// struct Chart;
    /// impl UiModule for Chart {
    ///     fn render(&mut self, _: &ModuleCx<'_>, _: &[Value]) -> tornado_web::Result<String> {
    ///         Ok("<canvas id=chart></canvas>".into())
    ///     }
    ///     fn javascript_files(&self) -> Vec<String> {
    ///         // Absolute: as they are. A relative path would go through `static_url`.
    ///         vec!["/js/chart.js".into(), "https://cdn.example.com/d3.js".into()]
    ///     }
    /// }
    ///
    /// let settings = Settings {
    ///     ui_modules: UiModules::new().add("Chart", || Chart),
    ///     template_path: Some(dir.clone()),
    ///     ..Settings::default()
    /// };
    /// // `Page` renders page.html: <html><head></head><body>{{ modules.Chart() }}</body></html>
    /// testing::run(|| Application::with_settings(vec![url("/", || Page)], settings), |t| async move {
    ///     let page = t.fetch("/").await;
    ///     assert_eq!(page.text().unwrap(), "<html><head></head><body><canvas id=chart></canvas>\
    ///                   <script src=\"/js/chart.js\" type=\"text/javascript\"></script>\
    ///                   <script src=\"https://cdn.example.com/d3.js\" type=\"text/javascript\"></script>\n\
    ///                   </body></html>");
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    fn javascript_files(&self) -> Vec<String> {
        Vec::new()
    }

    /// CSS to put in a `<style>` in the page's head.
    ///
    /// ```
    /// use tornado_web::template::minijinja::Value;
    /// use tornado_web::{testing, url, Application, ModuleCx, Settings, UiModule, UiModules};
    /// # use tornado_web::{Context, RequestHandler};
    /// # struct Page;
    /// # impl RequestHandler for Page {
    /// #     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    /// #         cx.render("page.html", ())
    /// #     }
    /// # }
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-uimodule-embedded-css-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("page.html"),
    /// #     "<html><head></head><body>{{ modules.Chart() }}</body></html>").unwrap();
    ///
    /// struct Chart;
    /// impl UiModule for Chart {
    ///     fn render(&mut self, _: &ModuleCx<'_>, _: &[Value]) -> tornado_web::Result<String> {
    ///         Ok("<canvas id=chart></canvas>".into())
    ///     }
    ///     fn embedded_css(&self) -> Option<String> {
    ///         Some("#chart { width: 100% }".into())
    ///     }
    /// }
    ///
    /// let settings = Settings {
    ///     ui_modules: UiModules::new().add("Chart", || Chart),
    ///     template_path: Some(dir.clone()),
    ///     ..Settings::default()
    /// };
    /// // `Page` renders page.html: <html><head></head><body>{{ modules.Chart() }}</body></html>
    /// testing::run(|| Application::with_settings(vec![url("/", || Page)], settings), |t| async move {
    ///     let page = t.fetch("/").await;
    ///     assert_eq!(page.text().unwrap(), "<html><head>\
    ///                   <style type=\"text/css\">\n#chart { width: 100% }\n</style>\n\
    ///                   </head><body><canvas id=chart></canvas></body></html>");
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    fn embedded_css(&self) -> Option<String> {
        None
    }

    /// CSS files the page should link (before `</head>`), paths as in
    /// [`javascript_files`](Self::javascript_files).
    ///
    /// ```
    /// use tornado_web::template::minijinja::Value;
    /// use tornado_web::{testing, url, Application, ModuleCx, Settings, UiModule, UiModules};
    /// # use tornado_web::{Context, RequestHandler};
    /// # struct Page;
    /// # impl RequestHandler for Page {
    /// #     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    /// #         cx.render("page.html", ())
    /// #     }
    /// # }
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-uimodule-css-files-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("page.html"),
    /// #     "<html><head></head><body>{{ modules.Chart() }}</body></html>").unwrap();
    ///
    /// struct Chart;
    /// impl UiModule for Chart {
    ///     fn render(&mut self, _: &ModuleCx<'_>, _: &[Value]) -> tornado_web::Result<String> {
    ///         Ok("<canvas id=chart></canvas>".into())
    ///     }
    ///     fn css_files(&self) -> Vec<String> {
    ///         vec!["/css/chart.css".into()]
    ///     }
    /// }
    ///
    /// let settings = Settings {
    ///     ui_modules: UiModules::new().add("Chart", || Chart),
    ///     template_path: Some(dir.clone()),
    ///     ..Settings::default()
    /// };
    /// // `Page` renders page.html: <html><head></head><body>{{ modules.Chart() }}</body></html>
    /// testing::run(|| Application::with_settings(vec![url("/", || Page)], settings), |t| async move {
    ///     let page = t.fetch("/").await;
    ///     assert_eq!(page.text().unwrap(), "<html><head>\
    ///                   <link href=\"/css/chart.css\" type=\"text/css\" rel=\"stylesheet\"/>\n\
    ///                   </head><body><canvas id=chart></canvas></body></html>");
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    fn css_files(&self) -> Vec<String> {
        Vec::new()
    }

    /// HTML to put at the end of the page's `<head>`.
    ///
    /// ```
    /// use tornado_web::template::minijinja::Value;
    /// use tornado_web::{testing, url, Application, ModuleCx, Settings, UiModule, UiModules};
    /// # use tornado_web::{Context, RequestHandler};
    /// # struct Page;
    /// # impl RequestHandler for Page {
    /// #     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    /// #         cx.render("page.html", ())
    /// #     }
    /// # }
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-uimodule-html-head-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("page.html"),
    /// #     "<html><head></head><body>{{ modules.Chart() }}</body></html>").unwrap();
    ///
    /// struct Chart;
    /// impl UiModule for Chart {
    ///     fn render(&mut self, _: &ModuleCx<'_>, _: &[Value]) -> tornado_web::Result<String> {
    ///         Ok("<canvas id=chart></canvas>".into())
    ///     }
    ///     fn html_head(&self) -> Option<String> {
    ///         Some("<meta name=chart content=on>".into())
    ///     }
    /// }
    ///
    /// let settings = Settings {
    ///     ui_modules: UiModules::new().add("Chart", || Chart),
    ///     template_path: Some(dir.clone()),
    ///     ..Settings::default()
    /// };
    /// // `Page` renders page.html: <html><head></head><body>{{ modules.Chart() }}</body></html>
    /// testing::run(|| Application::with_settings(vec![url("/", || Page)], settings), |t| async move {
    ///     let page = t.fetch("/").await;
    ///     assert_eq!(page.text().unwrap(), "<html><head>\
    ///                   <meta name=chart content=on>\n\
    ///                   </head><body><canvas id=chart></canvas></body></html>");
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    fn html_head(&self) -> Option<String> {
        None
    }

    /// HTML to put at the end of the page's `<body>`.
    ///
    /// ```
    /// use tornado_web::template::minijinja::Value;
    /// use tornado_web::{testing, url, Application, ModuleCx, Settings, UiModule, UiModules};
    /// # use tornado_web::{Context, RequestHandler};
    /// # struct Page;
    /// # impl RequestHandler for Page {
    /// #     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    /// #         cx.render("page.html", ())
    /// #     }
    /// # }
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-uimodule-html-body-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("page.html"),
    /// #     "<html><head></head><body>{{ modules.Chart() }}</body></html>").unwrap();
    ///
    /// struct Chart;
    /// impl UiModule for Chart {
    ///     fn render(&mut self, _: &ModuleCx<'_>, _: &[Value]) -> tornado_web::Result<String> {
    ///         Ok("<canvas id=chart></canvas>".into())
    ///     }
    ///     fn html_body(&self) -> Option<String> {
    ///         Some("<div id=tooltip></div>".into())
    ///     }
    /// }
    ///
    /// let settings = Settings {
    ///     ui_modules: UiModules::new().add("Chart", || Chart),
    ///     template_path: Some(dir.clone()),
    ///     ..Settings::default()
    /// };
    /// // `Page` renders page.html: <html><head></head><body>{{ modules.Chart() }}</body></html>
    /// testing::run(|| Application::with_settings(vec![url("/", || Page)], settings), |t| async move {
    ///     let page = t.fetch("/").await;
    ///     assert_eq!(page.text().unwrap(), "<html><head></head><body><canvas id=chart></canvas>\
    ///                   <div id=tooltip></div>\n\
    ///                   </body></html>");
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    fn html_body(&self) -> Option<String> {
        None
    }
}

type Factory = Rc<dyn Fn() -> Box<dyn UiModule>>;

/// The UI modules of an application, by name (Tornado's `ui_modules` setting).
/// Cheap to clone.
///
/// ```
/// use tornado_web::template::minijinja::Value;
/// use tornado_web::{ModuleCx, Settings, UiModule, UiModules};
///
/// struct Hr;
/// impl UiModule for Hr {
///     fn render(&mut self, _: &ModuleCx<'_>, _: &[Value]) -> tornado_web::Result<String> {
///         Ok("<hr>".into())
///     }
/// }
///
/// let modules = UiModules::new().add("Rule", || Hr).add("Separator", || Hr);
/// assert_eq!(format!("{modules:?}"), r#"{"Rule", "Separator"}"#);
/// let settings = Settings { ui_modules: modules, ..Settings::default() };
/// assert!(settings.ui_modules.contains("Rule"));
/// ```
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
    ///
    /// ```
    /// use tornado_web::UiModules;
    ///
    /// assert_eq!(UiModules::new().names().count(), 0);
    /// ```
    pub fn new() -> UiModules {
        UiModules::default()
    }

    /// Adds the module templates call as `modules.NAME(...)`; `factory` makes its
    /// instance for a request, or for a render outside one (what it captures, every
    /// instance shares). A second module of the same name replaces the first.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use tornado_web::template::minijinja::Value;
    /// use tornado_web::{Application, ModuleCx, Settings, UiModule, UiModules};
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-uimodules-add-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("page.html"), "{{ modules.Footer() }}").unwrap();
    ///
    /// struct Footer(Rc<String>);
    /// impl UiModule for Footer {
    ///     fn render(&mut self, _: &ModuleCx<'_>, _: &[Value]) -> tornado_web::Result<String> {
    ///         Ok(format!("<footer>{}</footer>", self.0))
    ///     }
    /// }
    ///
    /// let site = Rc::new("example.com".to_owned());
    /// let modules = UiModules::new().add("Footer", move || Footer(site.clone()));
    /// let settings = Settings {
    ///     ui_modules: modules,
    ///     template_path: Some(dir.clone()),
    ///     ..Settings::default()
    /// };
    /// // page.html: {{ modules.Footer() }}
    /// let page = Application::with_settings(vec![], settings).render_string("page.html", ());
    /// assert_eq!(page.unwrap(), "<footer>example.com</footer>");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
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
    ///
    /// ```
    /// use tornado_web::template::minijinja::Value;
    /// use tornado_web::{ModuleCx, UiModule, UiModules};
    ///
    /// struct Hr;
    /// impl UiModule for Hr {
    ///     fn render(&mut self, _: &ModuleCx<'_>, _: &[Value]) -> tornado_web::Result<String> {
    ///         Ok("<hr>".into())
    ///     }
    /// }
    ///
    /// let modules = UiModules::new().add("Hr", || Hr);
    /// assert!(modules.contains("Hr"));
    /// assert!(!modules.contains("hr")); // names are case-sensitive, as in templates
    /// ```
    pub fn contains(&self, name: &str) -> bool {
        self.factories.contains_key(name)
    }

    /// The names of the modules, in no particular order.
    ///
    /// ```
    /// use tornado_web::template::minijinja::Value;
    /// use tornado_web::{ModuleCx, UiModule, UiModules};
    ///
    /// struct Hr;
    /// impl UiModule for Hr {
    ///     fn render(&mut self, _: &ModuleCx<'_>, _: &[Value]) -> tornado_web::Result<String> {
    ///         Ok("<hr>".into())
    ///     }
    /// }
    ///
    /// let modules = UiModules::new().add("B", || Hr).add("A", || Hr).add("B", || Hr);
    /// let mut names: Vec<&str> = modules.names().collect();
    /// names.sort_unstable();
    /// assert_eq!(names, ["A", "B"]);
    /// ```
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.factories.keys().map(String::as_str)
    }

    pub(crate) fn make(&self, name: &str) -> Option<Box<dyn UiModule>> {
        self.factories.get(name).map(|f| f())
    }
}

/// What a [`UiModule`] sees while it renders (Tornado's `UIModule.handler`,
/// `request`, `current_user` and `render_string`).
///
/// ```
/// use tornado_web::template::minijinja::Value;
/// use tornado_web::{testing, url, xhtml_escape, Application, Context, ModuleCx};
/// use tornado_web::{RequestHandler, Settings, UiModule, UiModules};
/// # let dir = std::env::temp_dir().join(format!("tornado-doc-modulecx-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// # std::fs::write(dir.join("page.html"), "{{ modules.Nav() }}").unwrap();
///
/// /// A link home, and who is signed in.
/// struct Nav;
/// impl UiModule for Nav {
///     fn render(&mut self, cx: &ModuleCx<'_>, _: &[Value]) -> tornado_web::Result<String> {
///         let home = cx.reverse_url("home", &[])?;
///         let user = xhtml_escape(cx.current_user().unwrap_or("guest"));
///         Ok(format!("<a href={home}>home</a> {user}"))
///     }
/// }
///
/// struct Page;
/// impl RequestHandler for Page {
///     async fn prepare(&mut self, cx: &mut Context) -> tornado_web::Result {
///         cx.set_current_user(Some("alice".into()));
///         Ok(())
///     }
///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
///         cx.render("page.html", ()) // {{ modules.Nav() }}
///     }
/// }
///
/// let settings = Settings {
///     ui_modules: UiModules::new().add("Nav", || Nav),
///     template_path: Some(dir.clone()),
///     ..Settings::default()
/// };
/// let routes = vec![url("/", || Page).name("home")];
/// testing::run(|| Application::with_settings(routes, settings), |t| async move {
///     assert_eq!(t.fetch("/").await.text().unwrap(), "<a href=/>home</a> alice");
/// });
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
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
    ///
    /// ```
    /// use tornado_web::template::minijinja::Value;
    /// use tornado_web::{testing, url, xhtml_escape, Application, Context, ModuleCx};
    /// use tornado_web::{RequestHandler, Settings, UiModule, UiModules};
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-modulecx-request-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("page.html"), "{{ modules.Here() }}").unwrap();
    ///
    /// struct Here;
    /// impl UiModule for Here {
    ///     fn render(&mut self, cx: &ModuleCx<'_>, _: &[Value]) -> tornado_web::Result<String> {
    ///         Ok(match cx.request() {
    ///             Some(request) => format!("you are at {}", xhtml_escape(request.path())),
    ///             None => "no request".to_owned(),
    ///         })
    ///     }
    /// }
    /// # struct Page;
    /// # impl RequestHandler for Page {
    /// #     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    /// #         cx.render("page.html", ())
    /// #     }
    /// # }
    ///
    /// let settings = Settings {
    ///     ui_modules: UiModules::new().add("Here", || Here),
    ///     template_path: Some(dir.clone()),
    ///     ..Settings::default()
    /// };
    /// // `Page` renders page.html: {{ modules.Here() }}
    /// testing::run(|| Application::with_settings(vec![url("/docs/.*", || Page)], settings), |t| async move {
    ///     assert_eq!(t.fetch("/docs/intro").await.text().unwrap(), "you are at /docs/intro");
    ///     assert_eq!(t.app().render_string("page.html", ()).unwrap(), "no request");
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn request(&self) -> Option<&HttpServerRequest> {
        self.scope.request.as_ref()
    }

    /// The request's current user.
    ///
    /// ```
    /// use tornado_web::template::minijinja::Value;
    /// use tornado_web::{testing, url, xhtml_escape, Application, Context, ModuleCx};
    /// use tornado_web::{RequestHandler, Settings, UiModule, UiModules};
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-modulecx-user-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("page.html"), "{{ modules.Account() }}").unwrap();
    ///
    /// struct Account;
    /// impl UiModule for Account {
    ///     fn render(&mut self, cx: &ModuleCx<'_>, _: &[Value]) -> tornado_web::Result<String> {
    ///         Ok(match cx.current_user() {
    ///             Some(user) => format!("signed in as {}", xhtml_escape(user)),
    ///             None => "<a href=/login>sign in</a>".to_owned(),
    ///         })
    ///     }
    /// }
    ///
    /// struct Page;
    /// impl RequestHandler for Page {
    ///     async fn get_current_user(&mut self, cx: &mut Context) -> tornado_web::Result<Option<String>> {
    ///         Ok(cx.get_cookie("user").map(str::to_owned)) // a signed cookie in earnest
    ///     }
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.render("page.html", ()) // {{ modules.Account() }}
    ///     }
    /// }
    ///
    /// let settings = Settings {
    ///     ui_modules: UiModules::new().add("Account", || Account),
    ///     template_path: Some(dir.clone()),
    ///     ..Settings::default()
    /// };
    /// testing::run(|| Application::with_settings(vec![url("/", || Page)], settings), |t| async move {
    ///     assert_eq!(t.fetch("/").await.text().unwrap(), "<a href=/login>sign in</a>");
    ///     let bob = t.fetch_request(t.request("/").header("Cookie", "user=bob")).await;
    ///     assert_eq!(bob.text().unwrap(), "signed in as bob");
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn current_user(&self) -> Option<&str> {
        self.scope.current_user.as_deref()
    }

    /// The application's settings.
    ///
    /// ```
    /// use tornado_web::template::minijinja::Value;
    /// use tornado_web::{Application, ModuleCx, Settings, UiModule, UiModules};
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-modulecx-settings-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("page.html"), "{{ modules.Login() }}").unwrap();
    ///
    /// struct Login;
    /// impl UiModule for Login {
    ///     fn render(&mut self, cx: &ModuleCx<'_>, _: &[Value]) -> tornado_web::Result<String> {
    ///         let url = cx.settings().login_url.as_deref().unwrap_or("/login");
    ///         Ok(format!("<a href={url}>sign in</a>"))
    ///     }
    /// }
    ///
    /// let settings = Settings {
    ///     login_url: Some("/auth/start".into()),
    ///     ui_modules: UiModules::new().add("Login", || Login),
    ///     template_path: Some(dir.clone()),
    ///     ..Settings::default()
    /// };
    /// // page.html: {{ modules.Login() }}
    /// let page = Application::with_settings(vec![], settings).render_string("page.html", ());
    /// assert_eq!(page.unwrap(), "<a href=/auth/start>sign in</a>");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn settings(&self) -> &Settings {
        &self.scope.app.settings
    }

    /// The URL of the route named `name` (Tornado's `reverse_url`).
    ///
    /// ```
    /// use tornado_web::template::minijinja::value::{from_args, Value};
    /// use tornado_web::{url, Application, Context, ModuleCx, RequestHandler, Settings, UiModule, UiModules};
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-modulecx-reverse-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("page.html"), "{{ modules.StoryLink(7) }}").unwrap();
    /// # struct Story;
    /// # impl RequestHandler for Story {}
    ///
    /// /// `{{ modules.StoryLink(id) }}`
    /// struct StoryLink;
    /// impl UiModule for StoryLink {
    ///     fn render(&mut self, cx: &ModuleCx<'_>, args: &[Value]) -> tornado_web::Result<String> {
    ///         let (id,): (u32,) = from_args(args)?;
    ///         Ok(format!("<a href={}>story {id}</a>", cx.reverse_url("story", &[&id])?))
    ///     }
    /// }
    ///
    /// let settings = Settings {
    ///     ui_modules: UiModules::new().add("StoryLink", || StoryLink),
    ///     template_path: Some(dir.clone()),
    ///     ..Settings::default()
    /// };
    /// let app = Application::with_settings(vec![url(r"/story/([0-9]+)", || Story).name("story")], settings);
    /// // page.html: {{ modules.StoryLink(7) }}
    /// assert_eq!(app.render_string("page.html", ()).unwrap(), "<a href=/story/7>story 7</a>");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn reverse_url(
        &self,
        name: &str,
        args: &[&dyn fmt::Display],
    ) -> std::result::Result<String, crate::RouteError> {
        self.scope.app.reverse_url(name, args)
    }

    /// Renders template `name` with `context` (and the globals every template has),
    /// for the module's HTML; modules it calls count as used by the page.
    ///
    /// ```
    /// use tornado_web::template::minijinja::context;
    /// use tornado_web::template::minijinja::value::{from_args, Value};
    /// use tornado_web::{Application, ModuleCx, Settings, UiModule, UiModules};
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-modulecx-render-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("page.html"), r#"{{ modules.Card("<Tornado>") }}"#).unwrap();
    /// # std::fs::write(dir.join("card.html"), "<div class=card>{{ title }}</div>").unwrap();
    ///
    /// struct Card;
    /// impl UiModule for Card {
    ///     fn render(&mut self, cx: &ModuleCx<'_>, args: &[Value]) -> tornado_web::Result<String> {
    ///         let (title,): (String,) = from_args(args)?;
    ///         cx.render_string("card.html", context! { title }) // escapes, as every template
    ///     }
    /// }
    ///
    /// let settings = Settings {
    ///     ui_modules: UiModules::new().add("Card", || Card),
    ///     template_path: Some(dir.clone()),
    ///     ..Settings::default()
    /// };
    /// // page.html: {{ modules.Card("<Tornado>") }}; card.html: <div class=card>{{ title }}</div>
    /// let page = Application::with_settings(vec![], settings).render_string("page.html", ());
    /// assert_eq!(page.unwrap(), "<div class=card>&lt;Tornado&gt;</div>");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn render_string(&self, name: &str, context: impl serde::Serialize) -> Result<String> {
        crate::template::render_nested(self.env, self.scope, name, context)
    }
}
