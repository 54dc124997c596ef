//! A served directory ([`StaticFiles`], with its [`StaticFileOptions`]) and the files
//! in it that passed the path checks ([`StaticFile`]).

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::SystemTime;

use crate::context::Context;
use crate::error::{Error, HttpError, Result};

use super::cache::{Entry, FileCache, Stamp};
use super::{DefaultPolicy, StaticPolicy};
use super::{MAX_CACHED_FILES, MAX_VERSION_CONTENT_SIZE};

/// Options of a directory served by [`StaticFileHandler`](super::StaticFileHandler) (Tornado's
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
/// Built by [`StaticFileHandler::factory`](super::StaticFileHandler::factory) (or the `static_path` setting), it is what
/// a route serves: `url(r"/files/(.*)", StaticFileHandler::factory(dir))`. A
/// [`StaticPolicy`] gets it, to reach the root and the default checks.
///
/// # What is kept
///
/// For each file asked for: where its path leads once symlinks are resolved, its
/// identity (device, inode, size, modification and change times), its `Last-Modified`,
/// the hash of its content (its version and `ETag`) and, for a file of at most
/// [`SMALL_FILE_SIZE`](super::SMALL_FILE_SIZE), its content. A request `stat`s the file (one system call) and
/// uses what is kept only if the identity is the same; otherwise the file is checked,
/// read and hashed again. A file changed in the last two seconds is read for every
/// request (its times may not show a second change within their granularity), and if
/// it is larger than [`SMALL_FILE_SIZE`](super::SMALL_FILE_SIZE) it is not hashed (no `ETag`, no version) until
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
    pub(super) root: PathBuf,
    pub(super) options: StaticFileOptions,
    pub(super) policy: Rc<dyn StaticPolicy>,
    pub(super) url_prefix: String,
    pub(super) hash_cache: bool,
    pub(super) files: FileCache,
    pub(super) versions: RefCell<HashMap<String, Option<String>>>,
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
            root: super::path::absolute_root(&root.into()),
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
        Ok(super::path::join_within(&self.root, path)?)
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
            if super::path::is_protocol_relative(request_path) {
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
        let file = super::cache::open_regular(&resolved).map_err(cannot)?;
        // What was opened, not what the path led to a moment ago: a directory on the
        // way swapped for a symlink in between must not lead out of the root.
        if let Some(opened) = super::cache::opened_path(&file)
            && !self.inside_roots(&opened)
        {
            return Err(HttpError::with_log(
                403,
                format!("{} left the root static directory", absolute.display()),
            )
            .into());
        }
        let (entry, keep) = super::cache::load(file, resolved).map_err(cannot)?;
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
            Ok(file) if file.len() <= MAX_VERSION_CONTENT_SIZE => {
                super::cache::open_regular(file.path())
                    .and_then(|f| super::cache::hash_file(&f, file.len()))
                    .map_err(|e| {
                        log::error!("Could not read static file {}: {e}", absolute.display())
                    })
                    .ok()
            }
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
    pub(super) entry: Rc<Entry>,
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
