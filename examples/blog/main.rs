//! Tornado's blog demo (`demos/blog`): authors sign up and log in, write posts in
//! Markdown, and everyone reads them, with an archive and an Atom feed.
//!
//! `cargo run --release --example blog -- [--port 8888] [--address 127.0.0.1]
//! [--db blog.sqlite3] [--cookie-secret SECRET] [--debug]`, then open
//! http://127.0.0.1:8888/. The first visit to `/compose` asks you to create an author.
//!
//! - SQLite through rusqlite (built in: nothing to install); the schema is created on
//!   first run. Every query runs on the executor's threads, off the loop.
//! - Passwords are hashed with argon2, also off the loop (it is slow on purpose).
//! - Posts are Markdown (pulldown-cmark); raw HTML in them is shown as text, so an
//!   author cannot put script into pages.
//! - Templates (`examples/blog/templates`; `--root DIR` serves `DIR/templates` and
//!   `DIR/static` instead) use `extends`; the entry snippet is a UI module. Every form carries the XSRF token (`xsrf_cookies` is on), and the
//!   compose pages need a logged-in author (`authenticated`).
//! - The logged-in author is a signed cookie. Without `--cookie-secret` a random
//!   secret is made at start (logins do not survive a restart).

mod db;

#[path = "../common/port_address.rs"]
mod port_address;

use std::path::PathBuf;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use db::{Author, Db};
use serde_json::json;
use tornado::web::cookie::CookieOptions;
use tornado::web::signing::Secret;
use tornado::web::template::minijinja::value::{Value, from_args};
use tornado::web::{
    Application, Context, HttpError, ModuleCx, RequestHandler, Settings, UiModule, UiModules,
    authenticated, url,
};

/// The signed cookie that holds the logged-in author's id.
const USER_COOKIE: &str = "blogdemo_user";

/// What every page of the blog shares.
struct Blog {
    db: Db,
}

/// A page of the blog: the methods it serves, given the logged-in author.
trait Page: Sized + 'static {
    /// Only for logged-in authors (Tornado's `@authenticated` on every method).
    const AUTHENTICATED: bool = false;

    async fn get(
        &mut self,
        blog: &Blog,
        author: Option<&Author>,
        cx: &mut Context,
    ) -> tornado::web::Result {
        let _ = (blog, author, cx);
        Err(HttpError::new(405).into())
    }
    async fn post(
        &mut self,
        blog: &Blog,
        author: Option<&Author>,
        cx: &mut Context,
    ) -> tornado::web::Result {
        let _ = (blog, author, cx);
        Err(HttpError::new(405).into())
    }
}

/// Every handler of the blog (Tornado's `BaseHandler`): finds the author from the
/// signed cookie, then hands the method to the page.
struct Base<P> {
    page: P,
    blog: Rc<Blog>,
    author: Option<Author>,
}

fn base<P: Page>(
    blog: &Rc<Blog>,
    page: impl Fn() -> P + 'static,
) -> impl Fn() -> Base<P> + 'static {
    let blog = blog.clone();
    move || Base {
        page: page(),
        blog: blog.clone(),
        author: None,
    }
}

fn db_error(e: String) -> tornado::web::Error {
    tornado::web::Error::msg(e)
}

impl<P: Page> RequestHandler for Base<P> {
    const SUPPORTED_METHODS: &'static [tornado::web::http::Method] = &[
        tornado::web::http::Method::GET,
        tornado::web::http::Method::HEAD,
        tornado::web::http::Method::POST,
    ];

    async fn get_current_user(&mut self, cx: &mut Context) -> tornado::web::Result<Option<String>> {
        let id = cx
            .get_signed_cookie(USER_COOKIE)?
            .and_then(|v| String::from_utf8(v).ok())
            .and_then(|v| v.parse::<i64>().ok());
        let Some(id) = id else {
            return Ok(None);
        };
        self.author = self.blog.db.author_by_id(id).await.map_err(db_error)?;
        Ok(self.author.as_ref().map(|a| a.name.clone()))
    }

    async fn prepare(&mut self, cx: &mut Context) -> tornado::web::Result {
        if P::AUTHENTICATED {
            // A blog with no author yet: the first visitor creates one.
            if self.author.is_none()
                && *cx.method() == tornado::web::http::Method::GET
                && !self.blog.db.any_author_exists().await.map_err(db_error)?
            {
                return cx.redirect("/auth/create");
            }
            authenticated(self, cx)?;
        }
        Ok(())
    }

    async fn get(&mut self, cx: &mut Context) -> tornado::web::Result {
        self.page.get(&self.blog, self.author.as_ref(), cx).await
    }

    async fn head(&mut self, cx: &mut Context) -> tornado::web::Result {
        self.page.get(&self.blog, self.author.as_ref(), cx).await
    }

    async fn post(&mut self, cx: &mut Context) -> tornado::web::Result {
        self.page.post(&self.blog, self.author.as_ref(), cx).await
    }
}

/// `/`: the five latest entries (or, on an empty blog, a pointer to compose).
struct Home;
impl Page for Home {
    async fn get(
        &mut self,
        blog: &Blog,
        _: Option<&Author>,
        cx: &mut Context,
    ) -> tornado::web::Result {
        let entries = blog.db.recent_entries(5).await.map_err(db_error)?;
        if entries.is_empty() {
            return cx.redirect("/compose");
        }
        cx.render("home.html", json!({ "entries": entries }))
    }
}

/// `/entry/SLUG`: one entry.
struct EntryPage;
impl Page for EntryPage {
    async fn get(
        &mut self,
        blog: &Blog,
        _: Option<&Author>,
        cx: &mut Context,
    ) -> tornado::web::Result {
        let slug = cx.path_arg(0).unwrap_or_default().to_owned();
        let Some(entry) = blog.db.entry_by_slug(slug).await.map_err(db_error)? else {
            return Err(HttpError::new(404).into());
        };
        cx.render("entry.html", json!({ "entry": entry }))
    }
}

/// `/archive`: every entry, newest first.
struct Archive;
impl Page for Archive {
    async fn get(
        &mut self,
        blog: &Blog,
        _: Option<&Author>,
        cx: &mut Context,
    ) -> tornado::web::Result {
        let entries = blog.db.recent_entries(i64::MAX).await.map_err(db_error)?;
        cx.render("archive.html", json!({ "entries": entries }))
    }
}

/// `/feed`: an Atom feed of the ten latest entries.
struct Feed;
impl Page for Feed {
    async fn get(
        &mut self,
        blog: &Blog,
        _: Option<&Author>,
        cx: &mut Context,
    ) -> tornado::web::Result {
        let entries = blog.db.recent_entries(10).await.map_err(db_error)?;
        let updated = entries.iter().map(|e| e.updated).max().unwrap_or(0);
        cx.set_header("Content-Type", "application/atom+xml")?;
        cx.render(
            "feed.xml",
            json!({ "entries": entries, "updated": rfc3339(updated) }),
        )
    }
}

/// `/compose` (`?id=N` to edit): the editor, and saving a post. Authors only.
struct Compose;
impl Page for Compose {
    const AUTHENTICATED: bool = true;

    async fn get(
        &mut self,
        blog: &Blog,
        author: Option<&Author>,
        cx: &mut Context,
    ) -> tornado::web::Result {
        let entry = match cx.get_argument_opt("id")? {
            Some(id) => Some(own_entry(blog, author, &id).await?),
            None => None,
        };
        cx.render("compose.html", json!({ "entry": entry }))
    }

    async fn post(
        &mut self,
        blog: &Blog,
        author: Option<&Author>,
        cx: &mut Context,
    ) -> tornado::web::Result {
        let Some(author) = author else {
            return Err(HttpError::new(403).into());
        };
        let title = cx.get_argument("title")?;
        let text = cx.get_argument_unstripped("markdown")?;
        if title.is_empty() {
            return Err(HttpError::with_log(400, "a post needs a title").into());
        }
        let html = markdown_to_html(&text);
        let now = now();
        let slug = match cx.get_argument_opt("id")? {
            Some(id) => {
                let entry = own_entry(blog, Some(author), &id).await?;
                blog.db
                    .update_entry(entry.id, title, text, html, now)
                    .await
                    .map_err(db_error)?;
                entry.slug
            }
            None => blog
                .db
                .create_entry(author.id, slugify(&title), title, text, html, now)
                .await
                .map_err(db_error)?,
        };
        cx.redirect(&format!("/entry/{slug}"))
    }
}

/// The entry `id` if `author` wrote it: 404 if there is none, 403 if it is another's.
async fn own_entry(
    blog: &Blog,
    author: Option<&Author>,
    id: &str,
) -> tornado::web::Result<db::Entry> {
    let id: i64 = id
        .parse()
        .map_err(|_| HttpError::with_log(400, format!("bad entry id {id:?}")))?;
    let entry = blog
        .db
        .entry_by_id(id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| HttpError::new(404))?;
    if author.map(|a| a.id) != Some(entry.author_id) {
        return Err(HttpError::with_log(403, "only its author may edit an entry").into());
    }
    Ok(entry)
}

/// `/auth/create`: the sign-up form, and signing up.
struct CreateAuthor;
impl Page for CreateAuthor {
    async fn get(
        &mut self,
        _: &Blog,
        _: Option<&Author>,
        cx: &mut Context,
    ) -> tornado::web::Result {
        cx.render("create_author.html", json!({ "error": null }))
    }

    async fn post(
        &mut self,
        blog: &Blog,
        _: Option<&Author>,
        cx: &mut Context,
    ) -> tornado::web::Result {
        let email = cx.get_argument("email")?;
        let name = cx.get_argument("name")?;
        let password = cx.get_argument_unstripped("password")?;
        let problem = if !email.contains('@') {
            Some("Enter an email address.")
        } else if name.is_empty() {
            Some("Enter a name.")
        } else if password.chars().count() < 8 {
            Some("The password needs at least 8 characters.")
        } else {
            None
        };
        if let Some(problem) = problem {
            cx.set_status(400)?;
            return cx.render("create_author.html", json!({ "error": problem }));
        }
        let hashed = hash_password(password).await?;
        let Some(id) = blog
            .db
            .create_author(email, name, hashed)
            .await
            .map_err(db_error)?
        else {
            cx.set_status(400)?;
            return cx.render(
                "create_author.html",
                json!({ "error": "An author with that email or name exists." }),
            );
        };
        log_in(cx, id)?;
        cx.redirect(&next_url(cx)?)
    }
}

/// `/auth/login`: the login form, and logging in.
struct Login;
impl Page for Login {
    async fn get(
        &mut self,
        blog: &Blog,
        _: Option<&Author>,
        cx: &mut Context,
    ) -> tornado::web::Result {
        if !blog.db.any_author_exists().await.map_err(db_error)? {
            return cx.redirect("/auth/create");
        }
        let next = next_url(cx)?;
        cx.render("login.html", json!({ "error": null, "next": next }))
    }

    async fn post(
        &mut self,
        blog: &Blog,
        _: Option<&Author>,
        cx: &mut Context,
    ) -> tornado::web::Result {
        let email = cx.get_argument("email")?;
        let password = cx.get_argument_unstripped("password")?;
        let next = next_url(cx)?;
        let author = blog.db.author_by_email(email).await.map_err(db_error)?;
        // A missing author is checked against a made-up hash, so that the answer
        // takes as long as for a wrong password.
        let hash = author.as_ref().map(|a| a.hashed_password.clone());
        if !check_password(password, hash).await? {
            cx.set_status(403)?;
            return cx.render(
                "login.html",
                json!({ "error": "Incorrect email or password.", "next": next }),
            );
        }
        let Some(author) = author else {
            return Err(HttpError::new(403).into());
        };
        log_in(cx, author.id)?;
        cx.redirect(&next)
    }
}

/// `/auth/logout`: a POST from the header's form, so it carries the XSRF token (a
/// GET, as Tornado's demo has it, would let any page sign a reader out with an
/// `<img>`). Back to `next`, a path on this site.
struct Logout;
impl Page for Logout {
    async fn post(
        &mut self,
        _: &Blog,
        _: Option<&Author>,
        cx: &mut Context,
    ) -> tornado::web::Result {
        let next = next_url(cx)?;
        cx.clear_cookie(USER_COOKIE)?;
        cx.redirect(&next)
    }
}

fn log_in(cx: &mut Context, id: i64) -> tornado::web::Result {
    let opts = CookieOptions {
        httponly: true,
        expires_days: Some(tornado::web::SIGNED_COOKIE_EXPIRES_DAYS),
        ..CookieOptions::default()
    };
    cx.set_signed_cookie_with(USER_COOKIE, id.to_string(), &opts, None)
}

/// The `next` argument if it is a path on this site, else `/`.
fn next_url(cx: &Context) -> tornado::web::Result<String> {
    let next = cx.get_argument_or("next", "/")?;
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control() || c == ' ');
    Ok(if local { next } else { "/".to_owned() })
}

async fn hash_password(password: String) -> tornado::web::Result<String> {
    tornado::ioloop::run_in_executor(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| format!("cannot hash the password: {e}"))
    })
    .await
    .map_err(|e| tornado::web::Error::msg(format!("password task failed: {e}")))?
    .map_err(tornado::web::Error::msg)
}

/// Whether `password` matches `hash` (`None`: checks against a dummy, and fails).
async fn check_password(password: String, hash: Option<String>) -> tornado::web::Result<bool> {
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
                         rbC1dHZkOnIzI7lTaZuWGYqffU/SDmXn7vtxY3PD9EQ";
    tornado::ioloop::run_in_executor(move || {
        let real = hash.is_some();
        let stored = hash.unwrap_or_else(|| DUMMY.to_owned());
        let ok = PasswordHash::new(&stored).is_ok_and(|parsed| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        });
        ok && real
    })
    .await
    .map_err(|e| tornado::web::Error::msg(format!("password task failed: {e}")))
}

/// Markdown to HTML. Raw HTML in the text is shown as text, not passed through, and
/// a link or image whose URL has a scheme other than http, https or mailto (such as
/// `javascript:`) points nowhere: an author cannot put script into pages.
fn markdown_to_html(text: &str) -> String {
    use pulldown_cmark::{Event, Options, Parser, Tag, html};
    let parser = Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH).map(
        |event| match event {
            Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => Event::Start(Tag::Link {
                link_type,
                dest_url: safe_url(dest_url),
                title,
                id,
            }),
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => Event::Start(Tag::Image {
                link_type,
                dest_url: safe_url(dest_url),
                title,
                id,
            }),
            other => other,
        },
    );
    let mut out = String::with_capacity(text.len() * 3 / 2);
    html::push_html(&mut out, parser);
    out
}

/// `url` if it is relative or http, https or mailto; `#` otherwise.
fn safe_url(url: pulldown_cmark::CowStr<'_>) -> pulldown_cmark::CowStr<'_> {
    // A scheme is what comes before the first `:`, if no `/`, `?` or `#` comes first.
    let scheme = url
        .split(['/', '?', '#'])
        .next()
        .and_then(|head| head.split_once(':'))
        .map(|(scheme, _)| scheme.trim().to_ascii_lowercase());
    match scheme.as_deref() {
        None | Some("http" | "https" | "mailto") => url,
        Some(_) => "#".into(),
    }
}

/// A URL slug from a title: lower-case ASCII letters and digits joined by `-`
/// (`entry` when nothing is left).
fn slugify(title: &str) -> String {
    let words: Vec<String> = title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let slug = words.join("-");
    if slug.is_empty() {
        "entry".to_owned()
    } else {
        slug.chars().take(100).collect()
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `2013-01-27T18:43:20Z`.
fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `{{ modules.Entry(entry) }}`: one entry, as the home and entry pages show it
/// (Tornado's demo has the same module).
struct EntryModule;
impl UiModule for EntryModule {
    fn render(&mut self, cx: &ModuleCx<'_>, args: &[Value]) -> tornado::web::Result<String> {
        let (entry,): (Value,) = from_args(args)?;
        cx.render_string("modules/entry.html", json!({ "entry": entry }))
    }
}

fn make_app(blog: Rc<Blog>, root: PathBuf, secret: Secret, debug: bool) -> Application {
    let settings = Settings {
        template_path: Some(root.join("templates")),
        static_path: Some(root.join("static")),
        ui_modules: UiModules::new().add("Entry", || EntryModule),
        cookie_secret: Some(secret),
        xsrf_cookies: true,
        login_url: Some("/auth/login".into()),
        debug,
        ..Settings::default()
    };
    Application::with_settings(
        vec![
            url("/", base(&blog, || Home)),
            url("/archive", base(&blog, || Archive)),
            url("/feed", base(&blog, || Feed)),
            url(r"/entry/([^/]+)", base(&blog, || EntryPage)),
            url("/compose", base(&blog, || Compose)),
            url("/auth/create", base(&blog, || CreateAuthor)),
            url("/auth/login", base(&blog, || Login)),
            url("/auth/logout", base(&blog, || Logout)),
        ],
        settings,
    )
}

struct Args {
    port: u16,
    address: String,
    db: PathBuf,
    root: PathBuf,
    secret: Option<String>,
    debug: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut db = PathBuf::from("blog.sqlite3");
    let mut root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/blog");
    let (mut secret, mut debug) = (None, false);
    let usage = "usage: blog [--port N] [--address A] [--db FILE] [--root DIR] \
                 [--cookie-secret S] [--debug]";
    let at = port_address::parse_with(usage, |flag, flags| {
        match flag {
            "--db" => db = PathBuf::from(flags.value("--db")?),
            "--root" => root = PathBuf::from(flags.value("--root")?),
            "--cookie-secret" => secret = Some(flags.value("--cookie-secret")?),
            "--debug" => debug = true,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(Args {
        port: at.port,
        address: at.address,
        db,
        root,
        secret,
        debug,
    })
}

/// A random secret for this run (logins end with the process).
fn random_secret() -> String {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    let salt2 = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    format!("{}{}", salt.as_str(), salt2.as_str())
}

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let db = match Db::open(&args.db) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("blog: {e}");
            std::process::exit(1);
        }
    };
    log::info!("database {}", args.db.display());
    let secret = args.secret.unwrap_or_else(random_secret);
    let app = make_app(
        Rc::new(Blog { db }),
        args.root,
        Secret::new(secret),
        args.debug,
    );
    match app.run(args.port, Some(&args.address)) {
        Ok(signal) => log::info!("stopped by {signal}"),
        Err(e) => {
            eprintln!("blog: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_plain_and_never_empty() {
        assert_eq!(slugify("Hello, World!"), "hello-world");
        assert_eq!(slugify("  Rust & Tornado 2  "), "rust-tornado-2");
        assert_eq!(slugify("日本語"), "entry");
        assert_eq!(slugify("../../etc"), "etc");
        assert_eq!(slugify(&"a".repeat(300)).len(), 100);
    }

    #[test]
    fn markdown_renders_and_raw_html_is_text() {
        let html = markdown_to_html("# Title\n\n*em* <script>alert(1)</script>\n\n<div onclick=x>");
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<em>em</em>"), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<div"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        // Links and images go nowhere unless their scheme is harmless.
        let md = "[a](javascript:alert(1)) [b](JavaScript:x) <javascript:alert(2)> \
                  [c][r] ![i](data:text/html,x) [ok](https://e.example/x) [rel](/entry/y) \
                  [m](mailto:a@b.example) [q](/a?x=javascript:1)\n\n[r]: vbscript:x\n";
        let html = markdown_to_html(md);
        let lower = html.to_ascii_lowercase();
        for bad in ["href=\"javascript", "href=\"vbscript", "src=\"data"] {
            assert!(!lower.contains(bad), "{bad}: {html}");
        }
        assert_eq!(html.matches("href=\"#\"").count(), 4, "{html}");
        assert!(html.contains("src=\"#\""), "{html}");
        for kept in [
            "https://e.example/x",
            "/entry/y",
            "mailto:a@b.example",
            "/a?x=javascript:1",
        ] {
            assert!(html.contains(&format!("href=\"{kept}\"")), "{kept}: {html}");
        }
    }

    #[test]
    fn dates_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_359_312_200), "2013-01-27T18:43:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
