//! What an application may override about static files ([`StaticPolicy`]): the path
//! checks, the cache policy, the URL and version; [`DefaultPolicy`] is Tornado's.

use std::borrow::Cow;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::context::Context;
use crate::error::Result;

use super::CACHE_MAX_AGE;
use super::{StaticFile, StaticFiles};

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
    /// [`guess_content_type`](super::guess_content_type) (found once per file). A borrowed value is used as it
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
