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
mod mime;
mod path;
mod range;

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use http::Method;
use tornado_httpserver::httputil::{HttpHeaders, format_timestamp, parse_http_date};

use crate::application::{AppShared, IntoTarget, Rule, Target, url};
use crate::context::Context;
use crate::error::{Error, HttpError, Result};
use crate::handler::RequestHandler;
use crate::settings::Settings;

use cache::{Entry, FileCache, READ_SIZE, Stamp};
pub use mime::{OCTET_STREAM, guess_content_type};
use range::Span;

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

/// Options of a directory served by [`StaticFileHandler`] (Tornado's
/// `static_handler_args`, and `static_handler_class` as [`policy`](Self::policy)). For
/// the routes the `static_path` setting adds, set
/// [`Settings::static_handler_args`](crate::Settings::static_handler_args).
///
/// ```
/// use tornado_web::{testing, Application, Settings, StaticFileOptions};
/// # let dir = std::env::temp_dir().join(format!("tornado-doc-static-options-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// # std::fs::create_dir_all(&dir).unwrap();
/// # std::fs::create_dir_all(dir.join("docs")).unwrap();
/// # std::fs::write(dir.join("docs/index.html"), "docs home").unwrap();
///
/// let settings = Settings {
///     static_path: Some(dir.clone()),
///     static_handler_args: StaticFileOptions {
///         default_filename: Some("index.html".into()),
///         ..StaticFileOptions::default()
///     },
///     ..Settings::default()
/// };
/// testing::run(|| Application::with_settings(vec![], settings), |t| async move {
///     assert_eq!(t.fetch("/static/docs/").await.text().unwrap(), "docs home");
///     let bare = t.fetch_request(t.request("/static/docs").follow_redirects(false)).await;
///     assert_eq!(bare.code, 301);
///     assert_eq!(bare.headers.get("Location"), Some("/static/docs/"));
/// });
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct StaticFileOptions {
    /// The file served for a directory (`index.html`); a request for the directory
    /// without its trailing slash is redirected (301) to it with one. Without it, a
    /// directory is a 403.
    pub default_filename: Option<String>,
    /// Where symlinks in the root may lead (Tornado's `allowed_symlink_directory`):
    /// the root itself when empty.
    pub allowed_symlink_directories: Vec<PathBuf>,
    /// Overrides of path checks, types, cache times and URLs; [`DefaultPolicy`] when
    /// `None`.
    pub policy: Option<Rc<dyn StaticPolicy>>,
}

impl fmt::Debug for StaticFileOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticFileOptions")
            .field("default_filename", &self.default_filename)
            .field(
                "allowed_symlink_directories",
                &self.allowed_symlink_directories,
            )
            .field("policy", &self.policy.is_some())
            .finish()
    }
}

/// One directory served: its root, options and policy, and what is known of its
/// files (shared by the requests of its route, on one thread).
///
/// Built by [`StaticFileHandler::factory`] (or the `static_path` setting), it is what
/// a route serves: `url(r"/files/(.*)", StaticFileHandler::factory(dir))`. A
/// [`StaticPolicy`] gets it, to reach the root and the default checks.
///
/// # What is kept
///
/// For each file asked for: where its path leads once symlinks are resolved, its
/// identity (device, inode, size, modification and change times), its `Last-Modified`,
/// the hash of its content (its version and `ETag`) and, for a file of at most
/// [`SMALL_FILE_SIZE`], its content. A request `stat`s the file (one system call) and
/// uses what is kept only if the identity is the same; otherwise the file is checked,
/// read and hashed again. A file changed in the last two seconds is read for every
/// request (its times may not show a second change within their granularity), and if
/// it is larger than [`SMALL_FILE_SIZE`] it is not hashed (no `ETag`, no version) until
/// it has been left alone that long.
///
/// `static_url` versions are kept apart: with `static_hash_cache` (the default unless
/// `debug`), a path's version is computed once, as Tornado does; without it, every call
/// looks at the file.
///
/// ```
/// use tornado_web::{StaticFileHandler, StaticFiles};
/// # let dir = std::env::temp_dir().join(format!("tornado-doc-static-files-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// # std::fs::create_dir_all(&dir).unwrap();
/// # std::fs::create_dir_all(dir.join("css")).unwrap();
/// # std::fs::write(dir.join("css/site.css"), "body{}").unwrap();
///
/// let files: StaticFiles = StaticFileHandler::factory(&dir).default_filename("index.html");
/// assert_eq!(files.root(), dir.as_path());
/// let css = files.file(&files.get_absolute_path("css/site.css").unwrap()).unwrap();
/// assert_eq!(css.len(), 6);
/// assert!(files.get_absolute_path("../../etc/passwd").is_err());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub struct StaticFiles {
    root: PathBuf,
    options: StaticFileOptions,
    policy: Rc<dyn StaticPolicy>,
    url_prefix: String,
    hash_cache: bool,
    files: FileCache,
    versions: RefCell<HashMap<String, Option<String>>>,
}

impl fmt::Debug for StaticFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticFiles")
            .field("root", &self.root)
            .field("options", &self.options)
            .field("url_prefix", &self.url_prefix)
            .finish_non_exhaustive()
    }
}

impl StaticFiles {
    /// The files under `root` (made absolute against the current directory), with
    /// default options.
    ///
    /// ```
    /// use std::path::Path;
    /// use tornado_web::StaticFiles;
    ///
    /// let cwd = std::env::current_dir().unwrap();
    /// assert_eq!(StaticFiles::new("assets").root(), cwd.join("assets").as_path());
    /// assert_eq!(StaticFiles::new("/srv/www/../site/").root(), Path::new("/srv/site"));
    /// ```
    pub fn new(root: impl Into<PathBuf>) -> StaticFiles {
        StaticFiles::with_options(root, StaticFileOptions::default())
    }

    /// The files under `root` with `options`.
    ///
    /// ```
    /// use tornado_web::{url, StaticFileOptions, StaticFiles};
    ///
    /// let options = StaticFileOptions {
    ///     default_filename: Some("index.html".into()),
    ///     ..StaticFileOptions::default()
    /// };
    /// let files = StaticFiles::with_options("/srv/www", options);
    /// assert_eq!(files.options().default_filename.as_deref(), Some("index.html"));
    /// let route = url(r"/(.*)", files); // what a route serves
    /// # let _ = route;
    /// ```
    pub fn with_options(root: impl Into<PathBuf>, options: StaticFileOptions) -> StaticFiles {
        let policy = options
            .policy
            .clone()
            .unwrap_or_else(|| Rc::new(DefaultPolicy));
        StaticFiles {
            root: path::absolute_root(&root.into()),
            options,
            policy,
            url_prefix: String::from("/static/"),
            hash_cache: true,
            files: FileCache::default(),
            versions: RefCell::new(HashMap::new()),
        }
    }

    /// Serves `name` for a directory (see [`StaticFileOptions::default_filename`]).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, StaticFileHandler};
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-static-default-filename-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::create_dir_all(dir.join("guide")).unwrap();
    /// # std::fs::write(dir.join("guide/index.html"), "<h1>guide</h1>").unwrap();
    ///
    /// let docs = StaticFileHandler::factory(&dir).default_filename("index.html");
    /// testing::run(|| Application::new(vec![url(r"/docs/(.*)", docs)]), |t| async move {
    ///     assert_eq!(t.fetch("/docs/guide/").await.text().unwrap(), "<h1>guide</h1>");
    ///     assert_eq!(t.fetch("/docs/guide/index.html").await.text().unwrap(), "<h1>guide</h1>");
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn default_filename(mut self, name: impl Into<String>) -> StaticFiles {
        self.options.default_filename = Some(name.into());
        self
    }

    /// Lets symlinks lead into `dir` too (see
    /// [`StaticFileOptions::allowed_symlink_directories`]; the root is then no longer
    /// allowed by default: add it too if it should be).
    ///
    /// ```
    /// use tornado_web::StaticFiles;
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-static-symlink-dir-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::create_dir_all(dir.join("shared")).unwrap();
    /// # std::fs::create_dir_all(dir.join("site")).unwrap();
    /// # std::fs::write(dir.join("site/index.html"), "home").unwrap();
    /// # std::fs::write(dir.join("shared/logo.txt"), "logo").unwrap();
    /// // site/shared -> ../shared, a directory outside the root
    /// std::os::unix::fs::symlink(dir.join("shared"), dir.join("site/shared")).unwrap();
    ///
    /// let strict = StaticFiles::new(dir.join("site"));
    /// let logo = strict.get_absolute_path("shared/logo.txt").unwrap();
    /// assert_eq!(strict.file(&logo).unwrap_err().status(), http::StatusCode::FORBIDDEN);
    ///
    /// let open = StaticFiles::new(dir.join("site"))
    ///     .allowed_symlink_directory(dir.join("site"))
    ///     .allowed_symlink_directory(dir.join("shared"));
    /// assert_eq!(open.file(&logo).unwrap().len(), 4);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn allowed_symlink_directory(mut self, dir: impl Into<PathBuf>) -> StaticFiles {
        self.options.allowed_symlink_directories.push(dir.into());
        self
    }

    /// Uses `policy` instead of [`DefaultPolicy`].
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, StaticFileHandler, StaticPolicy};
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-static-policy-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("a.txt"), "hello").unwrap();
    ///
    /// struct NoSniff;
    /// impl StaticPolicy for NoSniff {
    ///     fn set_extra_headers(&self, cx: &mut Context, _path: &str) -> tornado_web::Result {
    ///         cx.set_header("X-Content-Type-Options", "nosniff")
    ///     }
    /// }
    ///
    /// let files = StaticFileHandler::factory(&dir).policy(NoSniff);
    /// testing::run(|| Application::new(vec![url(r"/(.*)", files)]), |t| async move {
    ///     let r = t.fetch("/a.txt").await;
    ///     assert_eq!(r.headers.get("X-Content-Type-Options"), Some("nosniff"));
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn policy(mut self, policy: impl StaticPolicy) -> StaticFiles {
        let policy: Rc<dyn StaticPolicy> = Rc::new(policy);
        self.options.policy = Some(policy.clone());
        self.policy = policy;
        self
    }

    /// The root, absolute.
    ///
    /// ```
    /// use std::path::Path;
    /// use tornado_web::StaticFiles;
    ///
    /// assert_eq!(StaticFiles::new("/srv/www/").root(), Path::new("/srv/www"));
    /// ```
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The options.
    ///
    /// ```
    /// use tornado_web::StaticFiles;
    ///
    /// let files = StaticFiles::new("/srv/www").default_filename("index.html");
    /// assert_eq!(files.options().default_filename.as_deref(), Some("index.html"));
    /// assert!(files.options().allowed_symlink_directories.is_empty());
    /// ```
    pub fn options(&self) -> &StaticFileOptions {
        &self.options
    }

    /// The prefix of the URLs [`StaticPolicy::make_static_url`] makes (the
    /// `static_url_prefix` setting for the application's static files, `/static/`
    /// otherwise).
    ///
    /// ```
    /// use tornado_web::{Application, Settings, StaticFiles};
    ///
    /// assert_eq!(StaticFiles::new("/srv/www").url_prefix(), "/static/");
    /// // The application's static files take the setting's prefix.
    /// let settings = Settings {
    ///     static_path: Some("/srv/www".into()),
    ///     static_url_prefix: "/assets/".into(),
    ///     ..Settings::default()
    /// };
    /// let app = Application::with_settings(vec![], settings);
    /// assert_eq!(app.static_url("app.js", false).unwrap(), "/assets/app.js");
    /// ```
    pub fn url_prefix(&self) -> &str {
        &self.url_prefix
    }

    /// `path` (relative to the root, `/`-separated) joined to the root and
    /// normalized, without looking at the filesystem (Tornado's `get_absolute_path`):
    /// a 403 if it leads out of the root (`..`, an absolute path) or holds a NUL byte.
    ///
    /// ```
    /// use std::path::Path;
    /// use tornado_web::StaticFiles;
    ///
    /// let files = StaticFiles::new("/srv/www");
    /// assert_eq!(files.get_absolute_path("css/site.css").unwrap(), Path::new("/srv/www/css/site.css"));
    /// assert_eq!(files.get_absolute_path("a/../b.txt").unwrap(), Path::new("/srv/www/b.txt"));
    /// for bad in ["../etc/passwd", "/etc/passwd", "a\0b"] {
    ///     assert_eq!(files.get_absolute_path(bad).unwrap_err().status(), http::StatusCode::FORBIDDEN);
    /// }
    /// ```
    pub fn get_absolute_path(&self, path: &str) -> Result<PathBuf> {
        Ok(path::join_within(&self.root, path)?)
    }

    /// The default path check, for the path a request asked for (Tornado's
    /// `validate_absolute_path`): a missing file is a 404; a path whose symlinks lead
    /// out of the allowed directories is a 403; a directory is a 403 unless there is a
    /// `default_filename`, which is served (a request without the trailing slash is
    /// redirected to it with one, and `Ok(None)` returned: the response is finished);
    /// anything but a regular file (a FIFO, a device) is a 403.
    ///
    /// ```
    /// use std::path::Path;
    /// use tornado_web::{testing, url, Application, Context, StaticFile, StaticFileHandler};
    /// use tornado_web::{StaticFiles, StaticPolicy};
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-static-validate-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("index.html"), "app shell").unwrap();
    /// # std::fs::write(dir.join("app.js"), "run()").unwrap();
    ///
    /// /// A single-page application: paths that name no file get `index.html`.
    /// struct Spa;
    /// impl StaticPolicy for Spa {
    ///     fn validate_absolute_path(
    ///         &self,
    ///         cx: &mut Context,
    ///         files: &StaticFiles,
    ///         absolute: &Path,
    ///     ) -> tornado_web::Result<Option<StaticFile>> {
    ///         match files.validate_absolute_path(cx, absolute) {
    ///             Err(e) if e.status() == http::StatusCode::NOT_FOUND => {
    ///                 files.file(&files.root().join("index.html")).map(Some)
    ///             }
    ///             found => found,
    ///         }
    ///     }
    /// }
    ///
    /// let app = StaticFileHandler::factory(&dir).policy(Spa);
    /// testing::run(|| Application::new(vec![url(r"/app/(.*)", app)]), |t| async move {
    ///     assert_eq!(t.fetch("/app/app.js").await.text().unwrap(), "run()");
    ///     assert_eq!(t.fetch("/app/settings/profile").await.text().unwrap(), "app shell");
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn validate_absolute_path(
        &self,
        cx: &mut Context,
        absolute: &Path,
    ) -> Result<Option<StaticFile>> {
        let meta = std::fs::metadata(absolute).map_err(|_| HttpError::new(404))?;
        if !meta.is_dir() {
            return self.file_with(absolute, &meta).map(Some);
        }
        let Some(default) = self.options.default_filename.as_deref() else {
            return Err(not_a_file(absolute));
        };
        // Before the redirect: whether a directory outside would be redirected must
        // not tell that it exists.
        self.resolve(absolute)?;
        let request_path = cx.request().path();
        if !request_path.ends_with('/') {
            if path::is_protocol_relative(request_path) {
                return Err(HttpError::with_log(
                    403,
                    "cannot redirect path with two initial slashes",
                )
                .into());
            }
            let to = format!("{request_path}/");
            cx.redirect_permanent(&to)?;
            return Ok(None);
        }
        self.file(&absolute.join(default)).map(Some)
    }

    /// The regular file at `absolute` (a path from
    /// [`get_absolute_path`](Self::get_absolute_path)), its symlinks checked: 404 if
    /// it is missing, 403 if it leads out of the allowed directories or is not a
    /// regular file.
    ///
    /// ```
    /// use http::StatusCode;
    /// use tornado_web::StaticFiles;
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-static-file-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("a.txt"), "hello").unwrap();
    ///
    /// let files = StaticFiles::new(&dir);
    /// let file = files.file(&files.get_absolute_path("a.txt").unwrap()).unwrap();
    /// assert_eq!(file.len(), 5);
    /// assert_eq!(files.file(&dir.join("missing.txt")).unwrap_err().status(), StatusCode::NOT_FOUND);
    /// assert_eq!(files.file(&dir).unwrap_err().status(), StatusCode::FORBIDDEN); // a directory
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn file(&self, absolute: &Path) -> Result<StaticFile> {
        let meta = std::fs::metadata(absolute).map_err(|_| HttpError::new(404))?;
        self.file_with(absolute, &meta)
    }

    fn file_with(&self, absolute: &Path, meta: &std::fs::Metadata) -> Result<StaticFile> {
        if let Some(entry) = self.files.get(absolute, &Stamp::of(meta)) {
            return Ok(StaticFile { entry });
        }
        let resolved = self.resolve(absolute)?;
        let meta = std::fs::metadata(&resolved).map_err(|_| HttpError::new(404))?;
        if !meta.is_file() {
            return Err(not_a_file(absolute));
        }
        let cannot = |e: io::Error| match e.kind() {
            io::ErrorKind::NotFound => HttpError::new(404),
            _ => HttpError::with_log(403, format!("cannot read {}: {e}", absolute.display())),
        };
        let file = cache::open_regular(&resolved).map_err(cannot)?;
        // What was opened, not what the path led to a moment ago: a directory on the
        // way swapped for a symlink in between must not lead out of the root.
        if let Some(opened) = cache::opened_path(&file)
            && !self.inside_roots(&opened)
        {
            return Err(HttpError::with_log(
                403,
                format!("{} left the root static directory", absolute.display()),
            )
            .into());
        }
        let (entry, keep) = cache::load(file, resolved).map_err(cannot)?;
        let entry = if keep {
            self.files.insert(absolute, entry)
        } else {
            Rc::new(entry)
        };
        Ok(StaticFile { entry })
    }

    /// Resolves the symlinks of `absolute` and checks that it stays in an allowed
    /// directory (Tornado's `_resolve_symlink_target`).
    fn resolve(&self, absolute: &Path) -> Result<PathBuf> {
        let resolved = std::fs::canonicalize(absolute).map_err(|_| HttpError::new(404))?;
        if !self.inside_roots(&resolved) {
            return Err(HttpError::with_log(
                403,
                format!("{} is not in root static directory", absolute.display()),
            )
            .into());
        }
        Ok(resolved)
    }

    /// Whether `resolved` (a path without symlinks) lies in the root, or in one of the
    /// allowed symlink directories when there are any.
    fn inside_roots(&self, resolved: &Path) -> bool {
        let roots = &self.options.allowed_symlink_directories;
        let allowed =
            |dir: &Path| std::fs::canonicalize(dir).is_ok_and(|dir| resolved.starts_with(dir));
        if roots.is_empty() {
            allowed(&self.root)
        } else {
            roots.iter().any(|d| allowed(d))
        }
    }

    /// The version of the file at `path` (relative to the root): a hash of its
    /// content, `None` if it is missing, unreadable or too large (Tornado's
    /// `get_version` with its cache: see "What is kept" above). A path out of the root
    /// is a 403.
    ///
    /// ```
    /// use tornado_web::StaticFiles;
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-static-content-version-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("a.txt"), "hello").unwrap();
    ///
    /// let files = StaticFiles::new(&dir);
    /// // The first 128 bits of the content's SHA-256, in hex.
    /// let version = files.content_version("a.txt").unwrap();
    /// assert_eq!(version.as_deref(), Some("2cf24dba5fb0a30e26e83b2ac5b9e29e"));
    /// assert_eq!(files.content_version("missing.txt").unwrap(), None);
    /// assert!(files.content_version("../outside.txt").is_err());
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn content_version(&self, path: &str) -> Result<Option<String>> {
        if self.hash_cache
            && let Some(v) = self.versions.borrow().get(path)
        {
            return Ok(v.clone());
        }
        let absolute = self.get_absolute_path(path)?;
        let version = match self.file(&absolute) {
            Ok(file) if file.entry.version.is_some() => file.entry.version.clone(),
            // Not hashed for serving while it changes; a URL needs its version now.
            Ok(file) if file.len() <= MAX_VERSION_CONTENT_SIZE => cache::open_regular(file.path())
                .and_then(|f| cache::hash_file(&f, file.len()))
                .map_err(|e| log::error!("Could not read static file {}: {e}", absolute.display()))
                .ok(),
            Ok(_) => None,
            Err(e) => {
                log::error!("Could not open static file {}: {e}", absolute.display());
                None
            }
        };
        if self.hash_cache {
            let mut versions = self.versions.borrow_mut();
            if versions.len() >= MAX_CACHED_FILES {
                versions.clear();
            }
            versions.insert(path.to_owned(), version.clone());
        }
        Ok(version)
    }

    /// Forgets what is known of every file and version (Tornado's
    /// `StaticFileHandler.reset`).
    ///
    /// ```
    /// use tornado_web::StaticFiles;
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-static-reset-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("a.txt"), "hello").unwrap();
    ///
    /// let files = StaticFiles::new(&dir);
    /// let before = files.content_version("a.txt").unwrap();
    /// std::fs::write(dir.join("a.txt"), "hello, world").unwrap();
    /// assert_eq!(files.content_version("a.txt").unwrap(), before); // kept, as Tornado keeps it
    /// files.reset();
    /// assert_ne!(files.content_version("a.txt").unwrap(), before);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn reset(&self) {
        self.files.clear();
        self.versions.borrow_mut().clear();
    }
}

fn not_a_file(path: &Path) -> Error {
    HttpError::with_log(403, format!("{} is not a file", path.display())).into()
}

/// A regular file that passed the path checks, as it was when checked.
///
/// ```
/// use tornado_web::{StaticFile, StaticFiles};
/// # let dir = std::env::temp_dir().join(format!("tornado-doc-static-staticfile-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// # std::fs::create_dir_all(&dir).unwrap();
/// # std::fs::write(dir.join("a.txt"), "hello").unwrap();
///
/// let files = StaticFiles::new(&dir);
/// let file: StaticFile = files.file(&dir.join("a.txt")).unwrap();
/// assert_eq!((file.len(), file.version()), (5, Some("2cf24dba5fb0a30e26e83b2ac5b9e29e")));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct StaticFile {
    entry: Rc<Entry>,
}

impl StaticFile {
    /// Where it is, symlinks resolved.
    ///
    /// ```
    /// use tornado_web::StaticFiles;
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-static-path-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("a.txt"), "hello").unwrap();
    /// std::os::unix::fs::symlink("a.txt", dir.join("latest.txt")).unwrap();
    ///
    /// let files = StaticFiles::new(&dir);
    /// let file = files.file(&dir.join("latest.txt")).unwrap();
    /// assert_eq!(file.path(), dir.join("a.txt").canonicalize().unwrap().as_path());
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn path(&self) -> &Path {
        &self.entry.path
    }

    /// Its size in bytes.
    ///
    /// ```
    /// use tornado_web::StaticFiles;
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-static-len-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("a.txt"), "hello").unwrap();
    ///
    /// let files = StaticFiles::new(&dir);
    /// assert_eq!(files.file(&dir.join("a.txt")).unwrap().len(), 5);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn len(&self) -> u64 {
        self.entry.stamp.len
    }

    /// Whether it is empty.
    ///
    /// ```
    /// use tornado_web::StaticFiles;
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-static-is-empty-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("a.txt"), "hello").unwrap();
    /// # std::fs::write(dir.join("empty.txt"), "").unwrap();
    ///
    /// let files = StaticFiles::new(&dir);
    /// assert!(files.file(&dir.join("empty.txt")).unwrap().is_empty());
    /// assert!(!files.file(&dir.join("a.txt")).unwrap().is_empty());
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// When it was last modified, in whole seconds (as `Last-Modified` says it).
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use tornado_web::StaticFiles;
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-static-modified-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("a.txt"), "hello").unwrap();
    ///
    /// let on_disk = std::fs::File::options().write(true).open(dir.join("a.txt")).unwrap();
    /// on_disk.set_modified(UNIX_EPOCH + Duration::from_millis(1_300_000_000_750)).unwrap();
    /// let files = StaticFiles::new(&dir);
    /// let file = files.file(&dir.join("a.txt")).unwrap();
    /// assert_eq!(file.modified(), UNIX_EPOCH + Duration::from_secs(1_300_000_000));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn modified(&self) -> SystemTime {
        self.entry.modified
    }

    /// The hash of its content (hex), its version in URLs; `None` past
    /// [`MAX_VERSION_CONTENT_SIZE`].
    ///
    /// ```
    /// use tornado_web::StaticFiles;
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-static-version-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("a.txt"), "hello").unwrap();
    ///
    /// let files = StaticFiles::new(&dir);
    /// let file = files.file(&dir.join("a.txt")).unwrap();
    /// assert_eq!(file.version(), Some("2cf24dba5fb0a30e26e83b2ac5b9e29e")); // also its ETag, quoted
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn version(&self) -> Option<&str> {
        self.entry.version.as_deref()
    }
}

/// What a subclass of Tornado's `StaticFileHandler` overrides: implement the methods to
/// change and leave the others; call [`DefaultPolicy`]'s to extend the default (as
/// `super()` would).
///
/// ```
/// use std::borrow::Cow;
/// use std::path::Path;
/// use std::time::{Duration, SystemTime};
/// use tornado_web::{Context, DefaultPolicy, HttpError, StaticFile, StaticFileHandler};
/// use tornado_web::{StaticFiles, StaticPolicy, url};
///
/// /// Hides dot files, caches images for a day, serves `.log` files as text.
/// struct Assets;
///
/// impl StaticPolicy for Assets {
///     fn validate_absolute_path(
///         &self,
///         cx: &mut Context,
///         files: &StaticFiles,
///         absolute: &Path,
///     ) -> tornado_web::Result<Option<StaticFile>> {
///         let hidden = absolute
///             .strip_prefix(files.root())
///             .is_ok_and(|rel| rel.iter().any(|part| part.to_string_lossy().starts_with('.')));
///         if hidden {
///             return Err(HttpError::new(404).into());
///         }
///         DefaultPolicy.validate_absolute_path(cx, files, absolute)
///     }
///
///     fn get_cache_time(
///         &self,
///         cx: &Context,
///         path: &str,
///         modified: SystemTime,
///         content_type: &str,
///     ) -> Duration {
///         if content_type.starts_with("image/") {
///             return Duration::from_secs(86_400);
///         }
///         DefaultPolicy.get_cache_time(cx, path, modified, content_type)
///     }
///
///     fn get_content_type(&self, file: &StaticFile) -> Cow<'static, str> {
///         if file.path().extension().is_some_and(|e| e == "log") {
///             return Cow::Borrowed("text/plain; charset=utf-8");
///         }
///         DefaultPolicy.get_content_type(file)
///     }
/// }
///
/// let route = url(r"/assets/(.*)", StaticFileHandler::factory("assets").policy(Assets));
/// # let _ = route;
/// ```
pub trait StaticPolicy: 'static {
    /// Turns the route's path argument into a path relative to the root (Tornado's
    /// `parse_url_path`; the inverse of [`make_static_url`](Self::make_static_url)).
    /// As it comes by default.
    ///
    /// ```
    /// use std::borrow::Cow;
    /// use tornado_web::{testing, url, Application, StaticFileHandler, StaticPolicy};
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-static-parse-url-path-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("app.js"), "run()").unwrap();
    ///
    /// /// URLs carry a release before the path (`/assets/r42/app.js`), which is not on disk.
    /// struct Releases;
    /// impl StaticPolicy for Releases {
    ///     fn parse_url_path<'a>(&self, url_path: &'a str) -> Cow<'a, str> {
    ///         match url_path.split_once('/') {
    ///             Some((release, path)) if release.starts_with('r') => Cow::Borrowed(path),
    ///             _ => Cow::Borrowed(url_path),
    ///         }
    ///     }
    /// }
    ///
    /// assert_eq!(Releases.parse_url_path("r42/app.js"), "app.js");
    /// let assets = StaticFileHandler::factory(&dir).policy(Releases);
    /// testing::run(|| Application::new(vec![url(r"/assets/(.*)", assets)]), |t| async move {
    ///     assert_eq!(t.fetch("/assets/r42/app.js").await.text().unwrap(), "run()");
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    fn parse_url_path<'a>(&self, url_path: &'a str) -> Cow<'a, str> {
        Cow::Borrowed(url_path)
    }

    /// Checks the path a request asked for (the root joined with its path, already
    /// checked not to leave the root on paper) and gives the file to serve, or `None`
    /// after answering the request itself (a redirect). Errors answer their status.
    /// By default [`StaticFiles::validate_absolute_path`].
    ///
    /// ```
    /// use std::path::Path;
    /// use tornado_web::{testing, url, Application, Context, DefaultPolicy, HttpError, StaticFile};
    /// use tornado_web::{StaticFileHandler, StaticFiles, StaticPolicy};
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-static-policy-validate-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("notes.txt"), "notes").unwrap();
    /// # std::fs::write(dir.join("secret.key"), "key").unwrap();
    ///
    /// /// Serves text files only.
    /// struct TextOnly;
    /// impl StaticPolicy for TextOnly {
    ///     fn validate_absolute_path(
    ///         &self,
    ///         cx: &mut Context,
    ///         files: &StaticFiles,
    ///         absolute: &Path,
    ///     ) -> tornado_web::Result<Option<StaticFile>> {
    ///         if absolute.extension().is_none_or(|e| e != "txt") {
    ///             return Err(HttpError::new(404).into());
    ///         }
    ///         DefaultPolicy.validate_absolute_path(cx, files, absolute)
    ///     }
    /// }
    ///
    /// let files = StaticFileHandler::factory(&dir).policy(TextOnly);
    /// testing::run(|| Application::new(vec![url(r"/(.*)", files)]), |t| async move {
    ///     assert_eq!(t.fetch("/notes.txt").await.code, 200);
    ///     assert_eq!(t.fetch("/secret.key").await.code, 404);
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    fn validate_absolute_path(
        &self,
        cx: &mut Context,
        files: &StaticFiles,
        absolute: &Path,
    ) -> Result<Option<StaticFile>> {
        files.validate_absolute_path(cx, absolute)
    }

    /// The `Content-Type` of `file`: by default from its name, with
    /// [`guess_content_type`] (found once per file). A borrowed value is used as it
    /// is: one with a control character makes the response fail (a 500) when it is
    /// encoded; an owned one is checked as `set_header` checks.
    ///
    /// ```
    /// use std::borrow::Cow;
    /// use tornado_web::{DefaultPolicy, StaticFile, StaticFiles, StaticPolicy};
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-static-content-type-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("a.txt"), "hello").unwrap();
    /// # std::fs::write(dir.join("logo.png"), "png").unwrap();
    ///
    /// /// Says that text is UTF-8.
    /// struct Utf8Text;
    /// impl StaticPolicy for Utf8Text {
    ///     fn get_content_type(&self, file: &StaticFile) -> Cow<'static, str> {
    ///         match DefaultPolicy.get_content_type(file) {
    ///             t if t.starts_with("text/") => Cow::Owned(format!("{t}; charset=utf-8")),
    ///             t => t,
    ///         }
    ///     }
    /// }
    ///
    /// let files = StaticFiles::new(&dir);
    /// let text = files.file(&dir.join("a.txt")).unwrap();
    /// assert_eq!(Utf8Text.get_content_type(&text), "text/plain; charset=utf-8");
    /// assert_eq!(Utf8Text.get_content_type(&files.file(&dir.join("logo.png")).unwrap()), "image/png");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    fn get_content_type(&self, file: &StaticFile) -> Cow<'static, str> {
        Cow::Borrowed(file.entry.content_type)
    }

    /// How long the response may be cached: a duration of at least a second sets
    /// `Expires` and `Cache-Control: max-age`; zero sets neither (browsers then decide).
    /// By default [`CACHE_MAX_AGE`] for a request with a `v` argument (a versioned
    /// URL), zero otherwise. `path` is the path relative to the root.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use tornado_web::{testing, url, Application, Context, DefaultPolicy, StaticFileHandler};
    /// use tornado_web::StaticPolicy;
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-static-cache-time-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::create_dir_all(dir.join("fonts")).unwrap();
    /// # std::fs::write(dir.join("a.txt"), "hello").unwrap();
    /// # std::fs::write(dir.join("fonts/a.woff2"), "font").unwrap();
    ///
    /// /// Fonts never change under one name: a year. Anything else as by default.
    /// struct Fonts;
    /// impl StaticPolicy for Fonts {
    ///     fn get_cache_time(
    ///         &self,
    ///         cx: &Context,
    ///         path: &str,
    ///         modified: SystemTime,
    ///         content_type: &str,
    ///     ) -> Duration {
    ///         if content_type.starts_with("font/") {
    ///             return Duration::from_secs(365 * 86_400);
    ///         }
    ///         DefaultPolicy.get_cache_time(cx, path, modified, content_type)
    ///     }
    /// }
    ///
    /// let files = StaticFileHandler::factory(&dir).policy(Fonts);
    /// testing::run(|| Application::new(vec![url(r"/(.*)", files)]), |t| async move {
    ///     let font = t.fetch("/fonts/a.woff2").await;
    ///     assert_eq!(font.headers.get("Cache-Control"), Some("max-age=31536000"));
    ///     assert!(font.headers.get("Expires").is_some());
    ///     assert_eq!(t.fetch("/a.txt").await.headers.get("Cache-Control"), None);
    ///     let versioned = t.fetch("/a.txt?v=1").await; // as static_url makes them
    ///     assert_eq!(versioned.headers.get("Cache-Control"), Some("max-age=315360000"));
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    fn get_cache_time(
        &self,
        cx: &Context,
        path: &str,
        modified: SystemTime,
        content_type: &str,
    ) -> Duration {
        let _ = (path, modified, content_type);
        if has_version_argument(cx) {
            CACHE_MAX_AGE
        } else {
            Duration::ZERO
        }
    }

    /// Adds headers of your own to every response of the route (Tornado's
    /// `set_extra_headers`). None by default.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, StaticFileHandler, StaticPolicy};
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-static-extra-headers-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::create_dir_all(dir.join("fonts")).unwrap();
    /// # std::fs::write(dir.join("a.txt"), "hello").unwrap();
    /// # std::fs::write(dir.join("fonts/a.woff2"), "font").unwrap();
    ///
    /// /// Lets pages of other origins load the fonts.
    /// struct SharedFonts;
    /// impl StaticPolicy for SharedFonts {
    ///     fn set_extra_headers(&self, cx: &mut Context, path: &str) -> tornado_web::Result {
    ///         if path.starts_with("fonts/") {
    ///             cx.set_header("Access-Control-Allow-Origin", "*")?;
    ///         }
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let files = StaticFileHandler::factory(&dir).policy(SharedFonts);
    /// testing::run(|| Application::new(vec![url(r"/(.*)", files)]), |t| async move {
    ///     let font = t.fetch("/fonts/a.woff2").await;
    ///     assert_eq!(font.headers.get("Access-Control-Allow-Origin"), Some("*"));
    ///     assert_eq!(t.fetch("/a.txt").await.headers.get("Access-Control-Allow-Origin"), None);
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    fn set_extra_headers(&self, cx: &mut Context, path: &str) -> Result {
        let _ = (cx, path);
        Ok(())
    }

    /// The URL of `path` (relative to the root) for
    /// [`Context::static_url`] (Tornado's `make_static_url`): by default the prefix,
    /// the path and, if `include_version` and the file has one, `?v=` and its
    /// [`get_version`](Self::get_version).
    ///
    /// ```
    /// use tornado_web::{Application, Settings, StaticFileOptions, StaticFiles, StaticPolicy};
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-static-make-static-url-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("a.txt"), "hello").unwrap();
    ///
    /// /// The version in the path (`/static/VERSION/a.txt`), for caches that ignore queries.
    /// /// (Serving those URLs takes a `parse_url_path` that drops it again.)
    /// struct InPath;
    /// impl StaticPolicy for InPath {
    ///     fn make_static_url(
    ///         &self,
    ///         files: &StaticFiles,
    ///         path: &str,
    ///         include_version: bool,
    ///     ) -> tornado_web::Result<String> {
    ///         match self.get_version(files, path)? {
    ///             Some(v) if include_version => Ok(format!("{}{v}/{path}", files.url_prefix())),
    ///             _ => Ok(format!("{}{path}", files.url_prefix())),
    ///         }
    ///     }
    /// }
    ///
    /// let settings = Settings {
    ///     static_path: Some(dir.clone()),
    ///     static_handler_args: StaticFileOptions {
    ///         policy: Some(std::rc::Rc::new(InPath)),
    ///         ..StaticFileOptions::default()
    ///     },
    ///     ..Settings::default()
    /// };
    /// let app = Application::with_settings(vec![], settings);
    /// assert_eq!(app.static_url("a.txt", true).unwrap(), "/static/2cf24dba5fb0a30e26e83b2ac5b9e29e/a.txt");
    /// assert_eq!(app.static_url("a.txt", false).unwrap(), "/static/a.txt");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    fn make_static_url(
        &self,
        files: &StaticFiles,
        path: &str,
        include_version: bool,
    ) -> Result<String> {
        let mut url = format!("{}{path}", files.url_prefix());
        if include_version && let Some(v) = self.get_version(files, path)? {
            url.push_str("?v=");
            url.push_str(&v);
        }
        Ok(url)
    }

    /// The version of `path` in URLs (Tornado's `get_version`): by default
    /// [`StaticFiles::content_version`], a hash of the content.
    ///
    /// ```
    /// use tornado_web::{Application, Settings, StaticFileOptions, StaticFiles, StaticPolicy};
    ///
    /// /// Every file is versioned by the release: no file is read to make a URL.
    /// struct Release(&'static str);
    /// impl StaticPolicy for Release {
    ///     fn get_version(&self, _files: &StaticFiles, _path: &str) -> tornado_web::Result<Option<String>> {
    ///         Ok(Some(self.0.to_owned()))
    ///     }
    /// }
    ///
    /// let settings = Settings {
    ///     static_path: Some("/srv/www".into()),
    ///     static_handler_args: StaticFileOptions {
    ///         policy: Some(std::rc::Rc::new(Release("r42"))),
    ///         ..StaticFileOptions::default()
    ///     },
    ///     ..Settings::default()
    /// };
    /// let app = Application::with_settings(vec![], settings);
    /// assert_eq!(app.static_url("css/site.css", true).unwrap(), "/static/css/site.css?v=r42");
    /// ```
    fn get_version(&self, files: &StaticFiles, path: &str) -> Result<Option<String>> {
        files.content_version(path)
    }
}

/// Tornado's `StaticFileHandler` behaviour: every [`StaticPolicy`] method as it is by
/// default. A policy of your own calls it to extend the default.
///
/// ```
/// use tornado_web::{DefaultPolicy, StaticFiles, StaticPolicy};
/// # let dir = std::env::temp_dir().join(format!("tornado-doc-static-default-policy-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// # std::fs::create_dir_all(&dir).unwrap();
/// # std::fs::write(dir.join("a.txt"), "hello").unwrap();
///
/// let files = StaticFiles::new(&dir);
/// assert_eq!(DefaultPolicy.parse_url_path("css/site.css"), "css/site.css");
/// assert_eq!(DefaultPolicy.get_content_type(&files.file(&dir.join("a.txt")).unwrap()), "text/plain");
/// assert_eq!(DefaultPolicy.make_static_url(&files, "a.txt", true).unwrap(),
///            "/static/a.txt?v=2cf24dba5fb0a30e26e83b2ac5b9e29e");
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultPolicy;

impl StaticPolicy for DefaultPolicy {}

/// Whether the request names a version (`v=`), as URLs from
/// [`Context::static_url`] do.
fn has_version_argument(cx: &Context) -> bool {
    let request = cx.request();
    (!request.query().is_empty() || !request.body.is_empty())
        && request.arguments().contains_key("v")
}

/// Serves the files of a directory (Tornado's `StaticFileHandler`): `GET` and `HEAD`,
/// the file named by the route's first group.
///
/// ```
/// use tornado_web::{url, Application, StaticFileHandler};
///
/// let app = Application::new(vec![
///     url(r"/content/(.*)", StaticFileHandler::factory("/var/www")),
///     url(r"/docs/(.*)", StaticFileHandler::factory("docs").default_filename("index.html")),
/// ]);
/// assert!(app.check().is_ok());
/// ```
///
/// # Responses
///
/// As Tornado's:
/// - `ETag` (a hash of the content; none past [`MAX_VERSION_CONTENT_SIZE`]),
///   `Last-Modified`, `Accept-Ranges: bytes`, `Content-Type`, and for a versioned
///   request `Expires` and `Cache-Control: max-age` ([`CACHE_MAX_AGE`]).
/// - `304` when `If-None-Match` matches the `ETag` or, without `If-None-Match`, when
///   `If-Modified-Since` is not before the modification time (an unreadable date is
///   ignored).
/// - `Range`: one span (`bytes=0-99`, `bytes=100-`, `bytes=-100`) answers `206` with
///   `Content-Range`; a span covering the whole file answers `200`; an end past the file
///   is clamped to it; a start past it, an end before the start or `bytes=-0` answer
///   `416` with `Content-Range: bytes */SIZE`; several spans, another unit or anything
///   unparsable is ignored (the whole file, `200`).
/// - `HEAD`: the same headers, `Content-Length` included, and no body.
pub struct StaticFileHandler {
    files: Rc<StaticFiles>,
}

impl fmt::Debug for StaticFileHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticFileHandler")
            .field("root", &self.files.root)
            .finish()
    }
}

impl StaticFileHandler {
    /// What a route serving the files under `root` needs: `url(r"/files/(.*)",
    /// StaticFileHandler::factory(root))`, with options set by its builder methods
    /// ([`default_filename`](StaticFiles::default_filename),
    /// [`policy`](StaticFiles::policy), ...).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, StaticFileHandler};
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-static-factory-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("a.txt"), "hello").unwrap();
    ///
    /// let files = StaticFileHandler::factory(&dir);
    /// testing::run(|| Application::new(vec![url(r"/files/(.*)", files)]), |t| async move {
    ///     let r = t.fetch("/files/a.txt").await;
    ///     assert_eq!((r.code, r.text().unwrap()), (200, "hello"));
    ///     assert_eq!(r.headers.get("Content-Type"), Some("text/plain"));
    ///     assert_eq!(t.fetch("/files/missing.txt").await.code, 404);
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn factory(root: impl Into<PathBuf>) -> StaticFiles {
        StaticFiles::new(root)
    }

    /// A handler for `files` (what the route's factory makes per request).
    ///
    /// ```
    /// use std::rc::Rc;
    /// use tornado_web::{testing, url, Application, StaticFileHandler, StaticFiles};
    /// # let dir = std::env::temp_dir().join(format!("tornado-doc-static-handler-new-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("a.txt"), "hello").unwrap();
    ///
    /// // One set of files behind two routes, and a handle kept to `reset` it.
    /// let files = Rc::new(StaticFiles::new(&dir));
    /// let (old, new) = (files.clone(), files.clone());
    /// let routes = vec![
    ///     url(r"/old/(.*)", move || StaticFileHandler::new(old.clone())),
    ///     url(r"/files/(.*)", move || StaticFileHandler::new(new.clone())),
    /// ];
    /// testing::run(|| Application::new(routes), |t| async move {
    ///     assert_eq!(t.fetch("/old/a.txt").await.text().unwrap(), "hello");
    ///     assert_eq!(t.fetch("/files/a.txt").await.text().unwrap(), "hello");
    ///     files.reset();
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn new(files: Rc<StaticFiles>) -> StaticFileHandler {
        StaticFileHandler { files }
    }

    async fn serve(&mut self, cx: &mut Context, include_body: bool) -> Result {
        let files = self.files.clone();
        let policy = &files.policy;
        let url_path = cx.path_arg(0).unwrap_or("").to_owned();
        let path = policy.parse_url_path(&url_path);
        let absolute = files.get_absolute_path(&path)?;
        let Some(file) = policy.validate_absolute_path(cx, &files, &absolute)? else {
            return Ok(());
        };
        let entry = &file.entry;

        // Values made here (a hex hash, a date) need no checking: straight in.
        let headers = cx.headers_mut();
        headers.add_static("Accept-Ranges", "bytes");
        if let Some(etag) = &entry.etag {
            headers.add("Etag", etag);
        }
        headers.add("Last-Modified", &entry.last_modified);
        let content_type = policy.get_content_type(&file);
        match &content_type {
            // A static value is taken as it is (the response's encoding still refuses
            // one that would break its framing); one made at run time is checked.
            Cow::Borrowed(known) => cx.headers_mut().set_static("Content-Type", known),
            Cow::Owned(made) => cx.set_header("Content-Type", made)?,
        }
        let cache_time = policy.get_cache_time(cx, &path, entry.modified, &content_type);
        if cache_time.as_secs() > 0 {
            let expires = SystemTime::now() + cache_time;
            cx.set_header("Expires", format_timestamp(expires))?;
            cx.set_header(
                "Cache-Control",
                format_args!("max-age={}", cache_time.as_secs()),
            )?;
        }
        policy.set_extra_headers(cx, &path)?;

        let asked = Conditions::of(cx.request().headers());
        if not_modified(cx, &asked, entry.modified) {
            cx.set_status(304)?;
            return Ok(());
        }

        let size = file.len();
        let (start, end) = match range::span(asked.range, size) {
            Span::Whole => (0, size),
            Span::Partial { start, end } => {
                cx.set_status(206)?;
                cx.set_header(
                    "Content-Range",
                    format_args!("bytes {start}-{}/{size}", end - 1),
                )?;
                (start, end)
            }
            Span::Unsatisfiable => {
                cx.set_status(416)?;
                cx.set_header("Content-Type", "text/plain")?;
                cx.set_header("Content-Range", format_args!("bytes */{size}"))?;
                return Ok(());
            }
        };
        if include_body && let Some(content) = &entry.content {
            // Written whole: the response carries its length by itself.
            cx.write(&content[start as usize..end as usize]);
            return Ok(());
        }
        let mut digits = [0u8; 20];
        cx.headers_mut()
            .add("Content-Length", decimal(end - start, &mut digits));
        if !include_body {
            return Ok(());
        }
        send_region(cx, entry, start, end).await
    }
}

/// `n` in decimal, written into `buf` (what `format!` does, without its machinery).
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Digits only.
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
}

/// The request headers that decide the answer, found in one pass over the request's
/// headers (the first of each).
#[derive(Debug, Default)]
struct Conditions<'a> {
    if_none_match: Option<&'a str>,
    if_modified_since: Option<&'a str>,
    range: Option<&'a str>,
}

impl<'a> Conditions<'a> {
    fn of(headers: &'a HttpHeaders) -> Conditions<'a> {
        let mut found = Conditions::default();
        for (name, value) in headers.iter() {
            let slot = match name.len() {
                5 if name.eq_ignore_ascii_case("Range") => &mut found.range,
                13 if name.eq_ignore_ascii_case("If-None-Match") => &mut found.if_none_match,
                17 if name.eq_ignore_ascii_case("If-Modified-Since") => {
                    &mut found.if_modified_since
                }
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        found
    }
}

/// Tornado's `should_return_304`: `If-None-Match` decides if it is there, else
/// `If-Modified-Since`.
fn not_modified(cx: &Context, asked: &Conditions<'_>, modified: SystemTime) -> bool {
    if asked.if_none_match.is_some_and(|v| !v.is_empty()) {
        return cx.check_etag_header();
    }
    asked
        .if_modified_since
        .and_then(parse_http_date)
        .is_some_and(|since| since >= modified)
}

/// Sends bytes `start..end` of a file not held in memory: read whole when small;
/// else from the file to the socket in pieces of [`SEND_FILE_PIECE`] where it can
/// (`sendfile`), read and written in pieces of 64 KiB where it cannot (TLS, gzip). Each
/// piece is flushed before the next, with a yield to the loop between them.
async fn send_region(cx: &mut Context, entry: &Entry, start: u64, end: u64) -> Result {
    let mut file = cache::open_regular(&entry.path).map_err(|_| HttpError::new(404))?;
    if !Stamp::of(&file.metadata()?).same_file(&entry.stamp) {
        // Replaced since it was checked: the new file has not been.
        return Err(Error::msg(format!(
            "{} changed while it was served",
            entry.path.display()
        )));
    }
    let mut left = end - start;
    if left <= SMALL_FILE_SIZE {
        let mut buf = vec![0u8; left as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buf)?;
        cx.write(&buf[..]);
        return Ok(());
    }
    let file = Rc::new(file);
    let mut at = start;
    while left > 0 {
        let n = left.min(SEND_FILE_PIECE);
        match cx.send_file(&file, at, n).await {
            Ok(true) => {}
            Ok(false) => break,
            // The client has gone (Tornado returns on StreamClosedError).
            Err(_) if cx.connection_closed() => return Ok(()),
            Err(e) => return Err(e),
        }
        at += n;
        left -= n;
        if left > 0 {
            // A client that takes everything at once would otherwise have the loop
            // send the whole file before serving anyone else (Tornado's issue 2997).
            tornado_gen::moment().await;
        }
    }
    if left == 0 {
        return Ok(());
    }
    let mut file: &File = &file;
    file.seek(SeekFrom::Start(at))?;
    let mut buf = vec![0u8; left.min(READ_SIZE as u64) as usize];
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        // A file that shrank ends the response short: the connection closes.
        file.read_exact(&mut buf[..n])?;
        cx.write(&buf[..n]);
        if cx.flush().await.is_err() {
            return Ok(());
        }
        left -= n as u64;
        if left > 0 {
            tornado_gen::moment().await;
        }
    }
    Ok(())
}

impl RequestHandler for StaticFileHandler {
    const SUPPORTED_METHODS: &'static [Method] = &[Method::GET, Method::HEAD];

    async fn get(&mut self, cx: &mut Context) -> Result {
        self.serve(cx, true).await
    }

    async fn head(&mut self, cx: &mut Context) -> Result {
        self.serve(cx, false).await
    }

    /// The `ETag` is the content's hash, set with the other headers (a partial
    /// response carries the whole file's).
    fn compute_etag(_cx: &Context) -> Option<String> {
        None
    }
}

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

#[cfg(test)]
mod tests {
    use super::decimal;

    #[test]
    fn decimals() {
        let mut buf = [0u8; 20];
        for n in [0, 7, 10, 1024, 1_048_576, u64::MAX] {
            assert_eq!(decimal(n, &mut buf), n.to_string());
        }
    }
}
