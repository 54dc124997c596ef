//! [`StaticFileHandler`]: the request handler that answers from a [`StaticFiles`]
//! (conditional requests, ranges, HEAD, small files from memory, large ones with
//! `sendfile`).

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::SystemTime;

use http::Method;
use tornado_httpserver::httputil::{HttpHeaders, format_timestamp, parse_http_date};

use crate::context::Context;
use crate::error::{Error, HttpError, Result};
use crate::handler::RequestHandler;

use super::StaticFiles;
use super::cache::{Entry, READ_SIZE, Stamp};
use super::range::Span;
use super::{SEND_FILE_PIECE, SMALL_FILE_SIZE};

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
/// - `ETag` (a hash of the content; none past [`MAX_VERSION_CONTENT_SIZE`](super::MAX_VERSION_CONTENT_SIZE)),
///   `Last-Modified`, `Accept-Ranges: bytes`, `Content-Type`, and for a versioned
///   request `Expires` and `Cache-Control: max-age` ([`CACHE_MAX_AGE`](super::CACHE_MAX_AGE)).
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
        let (start, end) = match super::range::span(asked.range, size) {
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
pub(crate) fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &str {
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
/// headers (the first of each; a second `Range` makes it none that parses).
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
                5 if name.eq_ignore_ascii_case("Range") => {
                    // Two `Range` lines: Tornado reads them joined, which no range
                    // parses, and sends the whole file.
                    found.range = Some(if found.range.is_some() { "" } else { value });
                    continue;
                }
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
    let mut file = super::cache::open_regular(&entry.path).map_err(|_| HttpError::new(404))?;
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
