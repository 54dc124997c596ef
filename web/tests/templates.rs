//! Templates and UI modules: `render` and `render_string`, autoescaping, `extends`,
//! `block` and `include`, the globals (`current_user`, `reverse_url`, `request`),
//! errors that name the template and line (500; the debug page shows them), reloading
//! in debug mode only, Tornado's escape functions, and UI modules with their
//! JavaScript and CSS gathered into the page.
//!
//! Each test writes its templates into a directory of its own under the system's
//! temporary directory, removed when the test ends; `testing::run` bounds each test
//! in time.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tornado_web::template::minijinja::context;
use tornado_web::template::minijinja::value::{Kwargs, Value, from_args};
use tornado_web::testing;
use tornado_web::{
    Application, Context, HttpError, ModuleCx, RequestHandler, Settings, UiModule, UiModules, url,
};

/// A directory of templates, removed on drop.
struct Templates {
    dir: PathBuf,
}

impl Templates {
    fn new(files: &[(&str, &str)]) -> Templates {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tornado-templates-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let t = Templates { dir };
        for (name, text) in files {
            t.write(name, text);
        }
        t
    }

    fn write(&self, name: &str, text: &str) {
        let path = self.dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, text).unwrap();
    }

    fn path(&self) -> &Path {
        &self.dir
    }

    fn settings(&self) -> Settings {
        Settings {
            template_path: Some(self.dir.clone()),
            ..Settings::default()
        }
    }
}

impl Drop for Templates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs a test that needs no loop on a thread of its own, failing it if it does not
/// end within the test timeout.
fn bounded(test: impl FnOnce() + Send + 'static) {
    let (done, finished) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        test();
        let _ = done.send(());
    });
    let timeout = testing::async_test_timeout();
    match finished.recv_timeout(timeout) {
        Ok(()) => thread.join().unwrap(),
        // The test panicked: join to fail with its message.
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = thread.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("test did not complete within {timeout:?}")
        }
    }
}

/// `GET /render/NAME?value=V`: renders NAME with `value` (and the user from `?user=`).
struct Render;

impl RequestHandler for Render {
    async fn get_current_user(&mut self, cx: &mut Context) -> tornado_web::Result<Option<String>> {
        cx.get_argument_opt("user")
    }

    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        let name = cx.path_arg(0).unwrap_or_default().to_owned();
        let value = cx.get_argument_or("value", "")?;
        cx.render(&name, context! { value })
    }
}

/// `GET /string/NAME?value=V`: `render_string`, written in brackets.
struct RenderString;

impl RequestHandler for RenderString {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        let name = cx.path_arg(0).unwrap_or_default().to_owned();
        let value = cx.get_argument_or("value", "")?;
        let text = cx.render_string(&name, serde_json::json!({ "value": value }))?;
        cx.set_header("Content-Type", "text/plain; charset=UTF-8")?;
        cx.write(format!("[{text}]"));
        Ok(())
    }
}

/// A handler for `reverse_url` to find.
struct Story;
impl RequestHandler for Story {}

fn app(settings: Settings) -> Application {
    Application::with_settings(
        vec![
            url("/render/(.*)", || Render),
            url("/string/(.*)", || RenderString),
            url("/story/([0-9]+)", || Story).name("story"),
        ],
        settings,
    )
}

#[test]
fn render_and_render_string() {
    let t = Templates::new(&[("hello.html", "Hello, {{ value }}!")]);
    let settings = t.settings();
    testing::run(
        || app(settings),
        |s| async move {
            let r = s.fetch("/render/hello.html?value=world").await;
            assert_eq!(r.code, 200);
            assert_eq!(r.text().unwrap(), "Hello, world!");
            assert_eq!(
                r.headers.get("Content-Type"),
                Some("text/html; charset=UTF-8")
            );
            let r = s.fetch("/string/hello.html?value=you").await;
            assert_eq!(r.code, 200);
            assert_eq!(r.text().unwrap(), "[Hello, you!]");
        },
    );
}

#[test]
fn application_render_string_outside_a_request() {
    bounded(|| {
        let t = Templates::new(&[(
            "page.html",
            "{{ value }} {{ current_user is none }} {{ reverse_url('story', 7) }} {{ request is defined }}",
        )]);
        let app = app(t.settings());
        let page = app
            .render_string("page.html", context! { value => "<v>" })
            .unwrap();
        assert_eq!(page, "&lt;v&gt; True /story/7 True");
    });
}

#[test]
fn autoescape_is_tornados_and_safe_is_not_escaped() {
    let t = Templates::new(&[
        ("escape.html", "{{ value }}|{{ value|safe }}"),
        ("escape.txt", "{{ value }}"),
        (
            "raw.html",
            "{% autoescape false %}{{ value }}{% endautoescape %}",
        ),
    ]);
    let settings = t.settings();
    testing::run(
        || app(settings),
        |s| async move {
            let value = "%3Cscript%3Ealert(1)%3C%2Fscript%3E%26%22%27";
            let r = s.fetch(&format!("/render/escape.html?value={value}")).await;
            assert_eq!(
                r.text().unwrap(),
                "&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#x27;|<script>alert(1)</script>&\"'"
            );
            // Every template is escaped, as in Tornado, whatever its extension.
            let r = s.fetch(&format!("/render/escape.txt?value={value}")).await;
            assert_eq!(
                r.text().unwrap(),
                "&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#x27;"
            );
            let r = s.fetch(&format!("/render/raw.html?value={value}")).await;
            assert_eq!(r.text().unwrap(), "<script>alert(1)</script>&\"'");
        },
    );
}

#[test]
fn autoescape_setting_off() {
    let t = Templates::new(&[("escape.html", "{{ value }}")]);
    let settings = Settings {
        autoescape: false,
        ..t.settings()
    };
    testing::run(
        || app(settings),
        |s| async move {
            let r = s.fetch("/render/escape.html?value=%3Cb%3E%26").await;
            assert_eq!(r.text().unwrap(), "<b>&");
        },
    );
}

#[test]
fn extends_block_and_include() {
    let t = Templates::new(&[
        (
            "base.html",
            "<html><head><title>{% block title %}Default{% endblock %}</title></head>\
             <body>{% block body %}{% endblock %}{% include \"footer.html\" %}</body></html>",
        ),
        (
            "page.html",
            "{% extends \"base.html\" %}{% block title %}Page {{ value }}{% endblock %}\
             {% block body %}<p>{{ value }}</p>{% include \"parts/item.html\" %}{% endblock %}",
        ),
        ("footer.html", "<footer>{{ value }}</footer>"),
        ("parts/item.html", "<i>{{ value|upper }}</i>"),
    ]);
    let settings = t.settings();
    testing::run(
        || app(settings),
        |s| async move {
            let r = s.fetch("/render/page.html?value=a%26b").await;
            assert_eq!(r.code, 200);
            assert_eq!(
                r.text().unwrap(),
                "<html><head><title>Page a&amp;b</title></head><body><p>a&amp;b</p>\
                 <i>A&amp;B</i><footer>a&amp;b</footer></body></html>"
            );
        },
    );
}

#[test]
fn current_user_reverse_url_and_request() {
    let t = Templates::new(&[
        (
            "user.html",
            "{% if current_user %}hi {{ current_user }}{% else %}nobody{% endif %} \
             {{ reverse_url('story', 42) }}",
        ),
        (
            "request.html",
            "{{ request.method }} {{ request.path }} {{ request.uri }} {{ request.query }} \
             {{ request.arguments.user[0] }} {{ request.query_arguments['value'] }} \
             {{ request.headers['x-test'] }} {{ request.headers['X-TEST'] }} {{ request.host }} \
             {{ request.remote_ip }} {{ request.protocol }}",
        ),
        ("bad_reverse.html", "{{ reverse_url('nowhere') }}"),
    ]);
    let settings = t.settings();
    testing::run(
        || app(settings),
        |s| async move {
            let r = s.fetch("/render/user.html?user=%3Calice%3E").await;
            assert_eq!(r.text().unwrap(), "hi &lt;alice&gt; /story/42");
            let r = s.fetch("/render/user.html").await;
            assert_eq!(r.text().unwrap(), "nobody /story/42");

            let req = s
                .request("/render/request.html?user=bob&value=v")
                .header("X-Test", "yes");
            let r = s.fetch_request(req).await;
            let host = format!("127.0.0.1:{}", s.port());
            assert_eq!(
                r.text().unwrap(),
                format!(
                    "GET /render/request.html /render/request.html?user=bob&amp;value=v \
                     user=bob&amp;value=v bob [&#x27;v&#x27;] yes yes {host} 127.0.0.1 http"
                )
            );

            let r = s.fetch("/render/bad_reverse.html").await;
            assert_eq!(r.code, 500);
        },
    );
}

#[test]
fn tornados_escape_functions() {
    let t = Templates::new(&[(
        "escape.html",
        "{{ json_encode(value) }}|{{ json_encode(value)|safe }}|{{ url_escape(value) }}|\
         {{ value|url_escape(plus=false) }}|{{ xhtml_escape(value) }}|{{ squeeze('  a \n  b ') }}",
    )]);
    let settings = t.settings();
    testing::run(
        || app(settings),
        |s| async move {
            // value = `</a b>`
            let r = s.fetch("/render/escape.html?value=%3C%2Fa+b%3E").await;
            assert_eq!(
                r.text().unwrap(),
                "&quot;&lt;\\/a b&gt;&quot;|\"<\\/a b>\"|%3C%2Fa+b%3E|%3C/a%20b%3E|&lt;/a b&gt;|a b"
            );
        },
    );
}

#[test]
fn errors_name_the_template_and_line() {
    bounded(|| {
        let t = Templates::new(&[
            (
                "undefined.html",
                "line 1\nline 2\n{{ nobody_defined_me }}\n",
            ),
            ("syntax.html", "ok\n{% for x in %}\n"),
            ("outer.html", "a\n{% include \"inner.html\" %}"),
            ("inner.html", "b\nc\n{{ 1 / 0 }}"),
            ("raises.html", "{{ reverse_url() }}"),
        ]);
        let app = app(t.settings());
        for (name, place) in [
            ("undefined.html", "undefined.html:3"),
            ("syntax.html", "syntax.html:2"),
            ("inner.html", "inner.html:3"),
            ("outer.html", "inner.html:3"),
            ("raises.html", "raises.html:1"),
        ] {
            let error = app.render_string(name, ()).unwrap_err();
            let message = error.to_string();
            assert!(message.contains(place), "{name}: {message}");
            assert!(message.starts_with("template error: "), "{message}");
            assert_eq!(error.status().as_u16(), 500);
        }
        let missing = app.render_string("missing.html", ()).unwrap_err();
        assert!(missing.to_string().contains("missing.html"), "{missing}");
        // Without a template path, the message says so.
        let bare = Application::new(vec![]);
        let error = bare.render_string("any.html", ()).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("template_path setting is not set"),
            "{error}"
        );
    });
}

#[test]
fn a_template_that_cannot_be_read_is_named() {
    bounded(|| {
        let t = Templates::new(&[("ok.html", "ok")]);
        std::fs::write(t.path().join("latin1.html"), b"caf\xe9").unwrap();
        std::fs::create_dir_all(t.path().join("folder.html")).unwrap();
        let app = app(t.settings());
        for (name, why) in [("latin1.html", "valid UTF-8"), ("folder.html", "directory")] {
            let message = app.render_string(name, ()).unwrap_err().to_string();
            assert!(message.contains(name), "{message}");
            assert!(message.contains(why), "{message}");
        }
    });
}

#[test]
fn a_template_error_is_a_500_and_the_debug_page_shows_it() {
    let t = Templates::new(&[(
        "broken.html",
        "line 1\n{{ value }}\n{{ nobody_defined_me }}",
    )]);
    let plain = t.settings();
    let debug = Settings {
        debug: true,
        ..t.settings()
    };
    testing::run(
        || app(plain),
        |s| async move {
            let r = s.fetch("/render/broken.html?value=x").await;
            assert_eq!(r.code, 500);
            let page = r.text().unwrap();
            assert!(!page.contains("broken.html"), "{page}");
            let r = s.fetch("/render/missing.html").await;
            assert_eq!(r.code, 500);
        },
    );
    testing::run(
        || app(debug),
        |s| async move {
            let r = s.fetch("/render/broken.html?value=x").await;
            assert_eq!(r.code, 500);
            let page = r.text().unwrap();
            assert!(page.contains("broken.html:3"), "{page}");
            assert!(page.contains("undefined value"), "{page}");
            // The lines around the error (the engine's debug information).
            assert!(page.contains("nobody_defined_me"), "{page}");
        },
    );
}

/// Renders `page.html`, rewrites it, renders it again: both texts.
fn render_twice(settings: Settings, t: &Templates) -> (String, String) {
    let app = app(settings);
    let first = app.render_string("page.html", ()).unwrap();
    // A different size as well as a new time: a coarse clock still sees the change.
    t.write("page.html", "version two, longer");
    t.write("part.html", "part two, longer");
    let second = app.render_string("page.html", ()).unwrap();
    (first, second)
}

#[test]
fn debug_reloads_changed_templates_and_the_cache_keeps_them() {
    bounded(|| {
        let files = [
            ("page.html", "version one {% include 'part.html' %}"),
            ("part.html", "part one"),
        ];
        let t = Templates::new(&files);
        let (first, second) = render_twice(t.settings(), &t);
        assert_eq!(first, "version one part one");
        assert_eq!(second, "version one part one", "the cache keeps the first");

        let t = Templates::new(&files);
        let debug = Settings {
            debug: true,
            ..t.settings()
        };
        let (first, second) = render_twice(debug, &t);
        assert_eq!(first, "version one part one");
        assert_eq!(second, "version two, longer");

        let t = Templates::new(&files);
        let no_cache = Settings {
            compiled_template_cache: false,
            ..t.settings()
        };
        let (_, second) = render_twice(no_cache, &t);
        assert_eq!(second, "version two, longer");

        // An included template that changed is reloaded too.
        let t = Templates::new(&files);
        let app = app(Settings {
            debug: true,
            ..t.settings()
        });
        assert_eq!(
            app.render_string("page.html", ()).unwrap(),
            "version one part one"
        );
        t.write("part.html", "part two, longer");
        assert_eq!(
            app.render_string("page.html", ()).unwrap(),
            "version one part two, longer"
        );
        assert!(t.path().exists());
    });
}

/// `modules.Entry(text)`: an entry, with a script, a style and their files.
struct Entry {
    made: Rc<Cell<usize>>,
    calls: usize,
}

impl UiModule for Entry {
    fn render(&mut self, cx: &ModuleCx<'_>, args: &[Value]) -> tornado_web::Result<String> {
        self.calls += 1;
        let (text, kwargs): (String, Kwargs) = from_args(args)?;
        let class: Option<String> = kwargs.get("class")?;
        cx.render_string(
            "entry.html",
            context! { text, class => class.unwrap_or_else(|| "entry".into()), n => self.calls },
        )
    }
    fn embedded_javascript(&self) -> Option<String> {
        Some(format!("entry({});", self.calls))
    }
    fn javascript_files(&self) -> Vec<String> {
        vec!["/static/entry.js".into(), "https://cdn.example/x.js".into()]
    }
    fn embedded_css(&self) -> Option<String> {
        Some(".entry{}".into())
    }
    fn css_files(&self) -> Vec<String> {
        vec!["/static/entry.css".into()]
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.made.set(self.made.get() + 1);
    }
}

/// `modules.Other()`: shares a file with `Entry`, and has a head and a body part.
struct Other;

impl UiModule for Other {
    fn render(&mut self, cx: &ModuleCx<'_>, _args: &[Value]) -> tornado_web::Result<String> {
        Ok(format!(
            "<b>{}</b>",
            tornado_web::xhtml_escape(cx.current_user().unwrap_or("anonymous"))
        ))
    }
    fn javascript_files(&self) -> Vec<String> {
        vec!["/static/entry.js".into(), "/static/other.js".into()]
    }
    fn css_files(&self) -> Vec<String> {
        vec!["/static/entry.css".into()]
    }
    fn html_head(&self) -> Option<String> {
        Some("<meta name=\"other\">".into())
    }
    fn html_body(&self) -> Option<String> {
        Some("<p>other body</p>".into())
    }
}

/// `modules.Fail(code)`: answers with `code`.
struct Fail;

impl UiModule for Fail {
    fn render(&mut self, _cx: &ModuleCx<'_>, args: &[Value]) -> tornado_web::Result<String> {
        let (code,): (u16,) = from_args(args)?;
        Err(HttpError::new(code).into())
    }
}

fn module_settings(t: &Templates, dropped: &Rc<Cell<usize>>) -> Settings {
    let made = dropped.clone();
    Settings {
        ui_modules: UiModules::new()
            .add("Entry", move || Entry {
                made: made.clone(),
                calls: 0,
            })
            .add("Other", || Other)
            .add("Fail", || Fail),
        ..t.settings()
    }
}

#[test]
fn ui_modules_and_their_resources() {
    let t = Templates::new(&[
        (
            "modules.html",
            "<html><head><title>t</title></head><body>\
             {{ modules.Entry('a') }}{{ modules.Entry('b<', class='big') }}{{ modules.Other() }}\
             </body></html>",
        ),
        (
            "entry.html",
            "<div class=\"{{ class }}\">{{ text }} {{ n }}</div>",
        ),
        ("fail.html", "{{ modules.Fail(404) }}"),
        ("unknown.html", "{{ modules.Nope() }}"),
        ("no_body.html", "{{ modules.Other() }}"),
    ]);
    let dropped = Rc::new(Cell::new(0));
    let settings = module_settings(&t, &dropped);
    testing::run(
        || app(settings),
        |s| async move {
            let r = s.fetch("/render/modules.html?user=ann").await;
            assert_eq!(r.code, 200);
            let want = "<html><head><title>t</title>\
                <link href=\"/static/entry.css\" type=\"text/css\" rel=\"stylesheet\"/>\n\
                <style type=\"text/css\">\n.entry{}\n</style>\n\
                <meta name=\"other\">\n\
                </head><body>\
                <div class=\"entry\">a 1</div><div class=\"big\">b&lt; 2</div><b>ann</b>\
                <script src=\"/static/entry.js\" type=\"text/javascript\"></script>\
                <script src=\"https://cdn.example/x.js\" type=\"text/javascript\"></script>\
                <script src=\"/static/other.js\" type=\"text/javascript\"></script>\n\
                <script type=\"text/javascript\">\n//<![CDATA[\nentry(2);\n//]]>\n</script>\n\
                <p>other body</p>\n\
                </body></html>";
            assert_eq!(r.text().unwrap(), want);
            // One instance of Entry for the page's two calls.
            assert_eq!(dropped.get(), 1);

            // render_string gives the modules' HTML without gathering their resources.
            let r = s.fetch("/string/modules.html").await;
            let text = r.text().unwrap();
            assert!(text.contains("<b>anonymous</b>"), "{text}");
            assert!(!text.contains("<script"), "{text}");

            // A module's HttpError keeps its status.
            let r = s.fetch("/render/fail.html").await;
            assert_eq!(r.code, 404);
            let r = s.fetch("/render/unknown.html").await;
            assert_eq!(r.code, 500);
            // Resources need a </head> and </body> to go before.
            let r = s.fetch("/render/no_body.html").await;
            assert_eq!(r.code, 500);
        },
    );
}

/// `GET /fragment`: renders `entry-list.html` with `render_string`, then the page
/// around it with `render` (the module was used by the first render only).
struct Fragment;

impl RequestHandler for Fragment {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        let entries = cx.render_string("entry-list.html", ())?;
        cx.render("around.html", context! { entries })
    }
}

#[test]
fn render_gathers_the_modules_of_earlier_render_strings() {
    let t = Templates::new(&[
        ("entry-list.html", "{{ modules.Entry('a') }}"),
        ("entry.html", "<div>{{ text }} {{ n }}</div>"),
        (
            "around.html",
            "<html><head></head><body>{{ entries|safe }}</body></html>",
        ),
    ]);
    let dropped = Rc::new(Cell::new(0));
    let settings = module_settings(&t, &dropped);
    testing::run(
        || Application::with_settings(vec![url("/fragment", || Fragment)], settings),
        |s| async move {
            let r = s.fetch("/fragment").await;
            assert_eq!(r.code, 200);
            // As in Tornado, whose modules belong to the handler, not to one render.
            let want = "<html><head>\
                <link href=\"/static/entry.css\" type=\"text/css\" rel=\"stylesheet\"/>\n\
                <style type=\"text/css\">\n.entry{}\n</style>\n\
                </head><body><div>a 1</div>\
                <script src=\"/static/entry.js\" type=\"text/javascript\"></script>\
                <script src=\"https://cdn.example/x.js\" type=\"text/javascript\"></script>\n\
                <script type=\"text/javascript\">\n//<![CDATA[\nentry(1);\n//]]>\n</script>\n\
                </body></html>";
            assert_eq!(r.text().unwrap(), want);
            assert_eq!(dropped.get(), 1);
        },
    );
}

#[test]
fn module_errors_name_the_module_and_the_call() {
    bounded(|| {
        let t = Templates::new(&[
            ("call.html", "x\n{{ modules.Entry() }}"),
            ("entry.html", ""),
        ]);
        let dropped = Rc::new(Cell::new(0));
        let app = app(module_settings(&t, &dropped));
        let error = app.render_string("call.html", ()).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("UI module Entry"), "{message}");
        assert!(message.contains("call.html:2"), "{message}");
    });
}

#[test]
fn render_after_finish_is_an_error() {
    struct Twice;
    impl RequestHandler for Twice {
        async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
            cx.render("a.html", ())?;
            let again = cx.render("a.html", ());
            assert!(again.is_err());
            Ok(())
        }
    }
    let t = Templates::new(&[("a.html", "a")]);
    let settings = t.settings();
    testing::run(
        || Application::with_settings(vec![url("/", || Twice)], settings),
        |s| async move {
            let r = s.fetch("/").await;
            assert_eq!(r.code, 200);
            assert_eq!(r.text().unwrap(), "a");
        },
    );
}

#[test]
fn xsrf_form_html_in_a_template() {
    let t = Templates::new(&[
        ("form.html", "<form>{{ xsrf_form_html() }}</form>"),
        ("plain.html", "no form here"),
    ]);
    let settings = Settings {
        xsrf_cookies: true,
        ..t.settings()
    };
    testing::run(
        || app(settings),
        |s| async move {
            let r = s.fetch("/render/form.html").await;
            let text = r.text().unwrap();
            assert!(
                text.starts_with("<form><input type=\"hidden\" name=\"_xsrf\" value=\""),
                "{text}"
            );
            // The cookie carries the token the page does (version 2: same token,
            // other masks; the cookie's text is the page's).
            let cookie = r.headers.get("Set-Cookie").unwrap();
            let value = cookie
                .split(';')
                .next()
                .unwrap()
                .strip_prefix("_xsrf=")
                .unwrap();
            assert!(text.contains(value), "{cookie} vs {text}");
            // A page that does not ask for the token sets no cookie, as in Tornado.
            let r = s.fetch("/render/plain.html").await;
            assert_eq!(r.text().unwrap(), "no form here");
            assert_eq!(r.headers.get("Set-Cookie"), None);
        },
    );
}

#[test]
fn static_url_in_a_template_carries_the_files_version() {
    let t = Templates::new(&[
        (
            "page.html",
            "<link href=\"{{ static_url('site.css') }}\"> {{ static_url('missing.css') }}",
        ),
        ("static/site.css", "body { color: red }"),
    ]);
    let settings = Settings {
        static_path: Some(t.path().join("static")),
        ..t.settings()
    };
    testing::run(
        || app(settings),
        |s| async move {
            let r = s.fetch("/render/page.html").await;
            assert_eq!(r.code, 200);
            let text = r.text().unwrap().to_owned();
            let url = text
                .split('"')
                .nth(1)
                .unwrap_or_else(|| panic!("no link in {text}"))
                .to_owned();
            assert!(url.starts_with("/static/site.css?v="), "{text}");
            // Tornado leaves the version off a file that is not there.
            assert!(text.ends_with(" /static/missing.css"), "{text}");
            // The versioned URL serves the file, for good.
            let css = s.fetch(&url).await;
            assert_eq!(css.text().unwrap(), "body { color: red }");
            let cache = css
                .headers
                .get("Cache-Control")
                .unwrap_or_default()
                .to_owned();
            assert!(cache.contains("max-age=315360000"), "{cache}");
        },
    );
    // Without static_path, static_url is an error naming the setting (a 500).
    let t = Templates::new(&[("page.html", "{{ static_url('site.css') }}")]);
    let settings = t.settings();
    testing::run(
        || app(settings),
        |s| async move {
            assert_eq!(s.fetch("/render/page.html").await.code, 500);
        },
    );
}

#[test]
fn a_ui_module_may_call_itself() {
    /// `{{ modules.Tree(node) }}`: a node and, inside it, its children.
    struct Tree;
    impl UiModule for Tree {
        fn render(&mut self, cx: &ModuleCx<'_>, args: &[Value]) -> tornado_web::Result<String> {
            let (node,): (Value,) = from_args(args)?;
            cx.render_string("node.html", context! { node })
        }
        fn css_files(&self) -> Vec<String> {
            vec!["/tree.css".into()]
        }
    }
    bounded(|| {
        let t = Templates::new(&[
            (
                "page.html",
                "<html><head></head><body>{{ modules.Tree(root) }}</body></html>",
            ),
            (
                "node.html",
                "{{ node.name }}{% for c in node.children %}({{ modules.Tree(c) }}){% endfor %}",
            ),
        ]);
        let settings = Settings {
            ui_modules: UiModules::new().add("Tree", || Tree),
            ..t.settings()
        };
        let app = Application::with_settings(Vec::new(), settings);
        let root = serde_json::json!({
            "name": "a",
            "children": [
                {"name": "b", "children": [{"name": "c", "children": []}]},
                {"name": "d", "children": []}
            ]
        });
        let html = app
            .render_string("page.html", serde_json::json!({ "root": root }))
            .unwrap();
        assert_eq!(html, "<html><head></head><body>a(b(c))(d)</body></html>");
    });
}
