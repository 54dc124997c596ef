//! Static files: [`StaticFileHandler`] serves a directory (Tornado's
//! `StaticFileHandler`), and [`Context::static_url`] names its files with a version,
//! so browsers may cache them for good.
//!
//! A route serves a directory with `url(r"/files/(.*)", StaticFileHandler::factory(dir))`;
//! the `static_path` setting adds Tornado's three routes by itself (`/static/(.*)`,
//! `/(favicon\.ico)`, `/(robots\.txt)`). A response carries `Last-Modified`, an `ETag`
//! (a hash of the content), `Accept-Ranges: bytes` and the type found from the file's
//! extension ([`guess_content_type`]); it answers `304 Not Modified` to a matching
//! `If-None-Match` or `If-Modified-Since`, and `206 Partial Content` to a `Range` of one
//! span (see Tornado's rules in [`StaticFileHandler`]). A request carrying `v=` (a URL
//! from [`static_url`](Context::static_url)) may be cached for [`CACHE_MAX_AGE`].
//!
//! Paths are checked twice: on paper (`..` may not leave the root, an absolute path or a
//! NUL byte is refused: 403), then on the filesystem (a symlink may not lead out of the
//! root, or of the directories allowed for symlinks: 403; a directory is served only
//! through `default_filename`; anything but a regular file is refused). A missing file
//! is a 404.
//!
//! Small files (up to [`SMALL_FILE_SIZE`]) are read whole, kept in memory and sent in
//! one write; larger ones go from the file to the socket with `sendfile` (not copied
//! through memory; where that cannot be, on TLS or with gzip, they are read and written
//! in pieces of 64 KiB), one piece at a time, each flushed before the next, yielding to
//! the loop between pieces so that one fast client downloading a large file cannot hold
//! up the others (Tornado's issue 2997). What is known of a file is checked against it
//! with one `stat` per request (see [`StaticFiles`]): a changed file is served fresh.
//!
//! What Tornado lets a subclass override, a [`StaticPolicy`] overrides: path checks,
//! content types, cache times, extra headers and how versioned URLs look.
//!
//! # Differences from Tornado
//!
//! - The version and `ETag` are the first 128 bits of a SHA-256 of the content, in
//!   hex (Tornado: a SHA-512): the same behaviour, other values.
//! - A file served is checked for changes on every request, so its `ETag` follows it;
//!   Tornado keeps a file's hash until `reset` (with `static_hash_cache`), serving new
//!   content under an old `ETag`. `static_url` versions do follow Tornado's cache.
//! - A file larger than [`SMALL_FILE_SIZE`] changed in the last two seconds has no
//!   `ETag` until it settles (see [`StaticFiles`]).
//! - Types come from a built-in table ([`guess_content_type`]), not from the
//!   machine's `mime.types`.
//! - `static_url` has no `include_host`; prefix it with the request's host yourself.
//!
//! ```
//! use tornado_web::{testing, url, Application, Settings, StaticFileHandler};
//!
//! let dir = std::env::temp_dir().join(format!("staticfile-doc-{}", std::process::id()));
//! std::fs::create_dir_all(dir.join("site")).unwrap();
//! std::fs::write(dir.join("robots.txt"), "User-agent: *\nDisallow: /\n").unwrap();
//! std::fs::write(dir.join("site/index.html"), "<h1>hello</h1>").unwrap();
//!
//! let settings = Settings { static_path: Some(dir.clone()), ..Settings::default() };
//! let site = StaticFileHandler::factory(dir.join("site")).default_filename("index.html");
//! testing::run(
//!     || Application::with_settings(vec![url(r"/site/(.*)", site)], settings),
//!     |t| async move {
//!         let r = t.fetch("/static/robots.txt").await;
//!         assert_eq!(r.code, 200);
//!         assert_eq!(r.headers.get("Content-Type"), Some("text/plain"));
//!         assert!(r.headers.get("Etag").is_some());
//!
//!         let again = t
//!             .fetch_request(t.request("/robots.txt").header("If-None-Match", r.headers.get("Etag").unwrap()))
//!             .await;
//!         assert_eq!(again.code, 304);
//!
//!         let part = t.fetch_request(t.request("/robots.txt").header("Range", "bytes=0-9")).await;
//!         assert_eq!(part.code, 206);
//!         assert_eq!(&part.body[..], b"User-agent");
//!
//!         assert_eq!(t.fetch("/site/").await.text().unwrap(), "<h1>hello</h1>");
//!         assert_eq!(t.fetch("/static/../Cargo.toml").await.code, 403);
//!
//!         let versioned = t.app().static_url("robots.txt", true).unwrap();
//!         assert!(versioned.starts_with("/static/robots.txt?v="));
//!     },
//! );
//! std::fs::remove_dir_all(&dir).unwrap();
//! ```

mod cache;
mod files;
mod handler;
mod mime;
mod path;
mod policy;
mod range;

use std::rc::Rc;
use std::time::Duration;

use crate::application::{AppShared, IntoTarget, Rule, Target, url};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::settings::Settings;

pub use files::{StaticFile, StaticFileOptions, StaticFiles};
pub use handler::StaticFileHandler;
pub(crate) use handler::decimal;
pub use mime::{OCTET_STREAM, guess_content_type};
pub use policy::{DefaultPolicy, StaticPolicy};

/// How long a response to a versioned URL (one with `v=`) may be cached: ten years,
/// Tornado's `CACHE_MAX_AGE`.
///
/// ```
/// use tornado_web::staticfile::CACHE_MAX_AGE;
///
/// assert_eq!(CACHE_MAX_AGE.as_secs(), 10 * 365 * 86_400); // Cache-Control: max-age=315360000
/// ```
pub const CACHE_MAX_AGE: Duration = Duration::from_secs(86_400 * 365 * 10);

/// Files of at most this many bytes are read whole, kept in memory (up to 16 MiB of
/// them per root) and sent in one write; larger files are streamed.
///
/// ```
/// assert_eq!(tornado_web::staticfile::SMALL_FILE_SIZE, 64 * 1024);
/// ```
pub const SMALL_FILE_SIZE: u64 = 64 * 1024;

/// The largest file whose content is hashed (Tornado's `MAX_VERSION_CONTENT_SIZE`,
/// 64 MiB): the hash is computed on the loop, so this bounds how long a first request
/// for a file (or `static_url`) can hold it. A larger file has no version and no
/// `ETag` (`Last-Modified` still answers 304s).
///
/// ```
/// assert_eq!(tornado_web::staticfile::MAX_VERSION_CONTENT_SIZE, 64 * 1024 * 1024);
/// ```
pub const MAX_VERSION_CONTENT_SIZE: u64 = 64 * 1024 * 1024;

/// A larger file goes from the file to the socket (`sendfile`) in pieces of this
/// size, with a yield to the loop between them.
///
/// ```
/// assert_eq!(tornado_web::staticfile::SEND_FILE_PIECE, 1024 * 1024);
/// ```
pub const SEND_FILE_PIECE: u64 = 1024 * 1024;

/// How many files one root describes at most (Tornado's `MAX_CACHED_VERSIONS`); past
/// that, an entry makes room for the next, and its file is read again when asked for.
///
/// ```
/// assert_eq!(tornado_web::staticfile::MAX_CACHED_FILES, 10_000);
/// ```
pub const MAX_CACHED_FILES: usize = 10_000;

impl IntoTarget for StaticFiles {
    fn into_target(self) -> Target {
        target(Rc::new(self))
    }
}

fn target(files: Rc<StaticFiles>) -> Target {
    Target::handler(move || StaticFileHandler::new(files.clone()))
}

/// The application's static files, from the `static_path` setting.
pub(crate) fn app_static_files(settings: &Settings) -> Option<Rc<StaticFiles>> {
    let root = settings.static_path.as_ref()?;
    let mut files = StaticFiles::with_options(root, settings.static_handler_args.clone());
    files.url_prefix = settings.static_url_prefix.clone();
    files.hash_cache = settings.uses_static_hash_cache();
    Some(Rc::new(files))
}

/// Tornado's static routes, before `rules`: `{prefix}(.*)`, `/(favicon\.ico)` and
/// `/(robots\.txt)`.
pub(crate) fn with_static_rules(rules: Vec<Rule>, files: &Rc<StaticFiles>) -> Vec<Rule> {
    let prefix = format!("{}(.*)", regex::escape(&files.url_prefix));
    let mut all = Vec::with_capacity(rules.len() + 3);
    for pattern in [r"/(robots\.txt)", r"/(favicon\.ico)", prefix.as_str()] {
        all.push(url(pattern, target(files.clone())));
    }
    all.extend(rules);
    all
}

/// The URL of static file `path` (Tornado's `static_url`), for callers without a
/// [`Context`] (templates): an error without the `static_path` setting, or for a path
/// out of the static directory (403).
pub(crate) fn static_url_for(app: &AppShared, path: &str, include_version: bool) -> Result<String> {
    let files = app.static_files.as_ref().ok_or_else(|| {
        Error::msg(
            "You must define the 'static_path' setting in your application to use static_url",
        )
    })?;
    files.policy.make_static_url(files, path, include_version)
}

impl Context {
    /// The URL of static file `path` (relative to the `static_path` setting) with its
    /// version, `/static/css/site.css?v=...` (Tornado's `static_url`): a response to
    /// that URL may be cached for good, since a changed file gets a new URL. A missing
    /// file gets a URL without a version; a path out of the static directory is a 403;
    /// without `static_path`, an error.
    ///
    /// The version is a hash of the file's content, computed once per path unless
    /// `debug` (or `static_hash_cache: Some(false)`). `path` should name a file of the
    /// application, not come from a request.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler, Settings};
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-static-static-url-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::create_dir_all(dir.join("css")).unwrap();
    /// # std::fs::write(dir.join("css/site.css"), "hello").unwrap();
    ///
    /// struct Page;
    /// impl RequestHandler for Page {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let css = cx.static_url("css/site.css")?;
    ///         cx.write(format!("<link rel=stylesheet href=\"{css}\">"));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let settings = Settings { static_path: Some(dir.clone()), ..Settings::default() };
    /// testing::run(|| Application::with_settings(vec![url("/", || Page)], settings), |t| async move {
    ///     let page = t.fetch("/").await;
    ///     let version = "2cf24dba5fb0a30e26e83b2ac5b9e29e"; // of the file's content
    ///     let expected = format!("<link rel=stylesheet href=\"/static/css/site.css?v={version}\">");
    ///     assert_eq!(page.text().unwrap(), expected);
    ///     // That URL may be cached for good.
    ///     let css = t.fetch(&format!("/static/css/site.css?v={version}")).await;
    ///     assert_eq!(css.headers.get("Cache-Control"), Some("max-age=315360000"));
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn static_url(&self, path: &str) -> Result<String> {
        static_url_for(self.app(), path, true)
    }
}
