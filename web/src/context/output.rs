//! What a handler writes: status, headers, body; `flush`, `finish`, `redirect`,
//! `send_error`, `clear`; ETags and 304; gzip (Tornado's `GZipContentEncoding`).

use std::cell::Cell;
use std::fmt;
use std::fs::File;
use std::io::Write as _;
use std::rc::Rc;

use bytes::{BufMut, Bytes, BytesMut};
use flate2::Compression;
use flate2::write::GzEncoder;
use http::{Method, StatusCode};
use tornado_httpserver::http1connection::{check_header_field, check_reason};
use tornado_httpserver::httputil::{HttpHeaders, HttpServerRequest};

use super::{Context, Output};
use crate::error::{Error, Result};
use crate::settings::RequestLog;

/// Responses shorter than this are not gzipped when written in one piece (Tornado's
/// `GZipContentEncoding.MIN_LENGTH`): the gzip header and trailer would eat the gain.
/// A response streamed with `flush` is compressed whatever its size.
///
/// ```
/// use tornado_web::{testing, url, Application, Context, RequestHandler, Settings, GZIP_MIN_LENGTH};
///
/// struct Text;
/// impl RequestHandler for Text {
///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
///         let n: usize = cx.get_argument("n")?.parse()?;
///         cx.write("a".repeat(n));
///         Ok(())
///     }
/// }
///
/// assert_eq!(GZIP_MIN_LENGTH, 1024);
/// let settings = Settings { compress_response: true, ..Settings::default() };
/// testing::run(|| Application::with_settings(vec![url("/", || Text)], settings), |t| async move {
///     let get = |n: usize| {
///         let request = t.request(&format!("/?n={n}")).header("Accept-Encoding", "gzip");
///         request.decompress_response(false)
///     };
///     let short = t.fetch_request(get(GZIP_MIN_LENGTH - 1)).await;
///     assert_eq!(short.headers.get("Content-Encoding"), None);
///     let long = t.fetch_request(get(GZIP_MIN_LENGTH)).await;
///     assert_eq!(long.headers.get("Content-Encoding"), Some("gzip"));
/// });
/// ```
pub const GZIP_MIN_LENGTH: usize = 1024;

/// zlib's default, as Tornado uses.
const GZIP_LEVEL: u32 = 6;

/// `Content-Type` of a response that set none.
const DEFAULT_CONTENT_TYPE: &str = "text/html; charset=UTF-8";
const JSON_CONTENT_TYPE: &str = "application/json; charset=UTF-8";

/// The gzip state of one response.
pub(crate) struct Gzip {
    /// `compress_response` is on: `Vary: Accept-Encoding` goes on every response.
    enabled: bool,
    /// The client sent `Accept-Encoding: gzip`.
    accepted: bool,
    /// Compressing a streamed response.
    encoder: Option<Box<GzEncoder<Vec<u8>>>>,
}

impl Gzip {
    pub(crate) fn for_request(request: &HttpServerRequest, enabled: bool) -> Gzip {
        let accepted = enabled
            && request
                .headers()
                .get_all("Accept-Encoding")
                .any(|v| v.contains("gzip"));
        Gzip {
            enabled,
            accepted,
            encoder: None,
        }
    }
}

fn compressible(content_type: &str) -> bool {
    let ctype = content_type.split(';').next().unwrap_or("").trim();
    ctype.starts_with("text/")
        || matches!(
            ctype,
            "application/javascript"
                | "application/x-javascript"
                | "application/xml"
                | "application/atom+xml"
                | "application/json"
                | "application/xhtml+xml"
                | "image/svg+xml"
        )
}

fn gzip_whole(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(
        Vec::with_capacity(data.len() / 2 + 64),
        Compression::new(GZIP_LEVEL),
    );
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

/// `status`, unless it is informational: a 1xx cannot be a response's final status.
fn final_status(status: StatusCode) -> Result<StatusCode> {
    if status.is_informational() {
        return Err(Error::msg(format!(
            "status {} is informational: it cannot end a response",
            status.as_u16()
        )));
    }
    Ok(status)
}

/// Statuses whose responses carry no body.
fn no_content(status: StatusCode) -> bool {
    status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
}

fn output_error(e: tornado_httpserver::OutputError) -> Error {
    Error::msg(format!("cannot send the response: {e}"))
}

/// The largest body buffer kept for the thread's next response (see `SPARE_BODY`).
const SPARE_BODY_MAX: usize = 16 * 1024;

thread_local! {
    /// The emptied body buffer of the thread's last response sent whole: the next
    /// response writes into it instead of allocating (and growing) one of its own. A
    /// context takes it on its first write, so a handler that waits before writing
    /// holds none.
    static SPARE_BODY: std::cell::Cell<Option<BytesMut>> = const { std::cell::Cell::new(None) };

    /// Where a header value is formatted before the headers copy it in: one buffer per
    /// thread instead of a `String` per `set_header`.
    static SCRATCH: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Calls `f` with `value` formatted as text.
fn with_text<R>(value: impl fmt::Display, f: impl FnOnce(&str) -> R) -> R {
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut text) => {
            text.clear();
            let _ = fmt::Write::write_fmt(&mut *text, format_args!("{value}"));
            f(&text)
        }
        // A `Display` that itself sets a header (re-entered): format on its own.
        Err(_) => f(&value.to_string()),
    })
}

/// Checks a header the handler sets: the name a token, the value without control
/// characters (tab aside), so it can never split the response.
fn check_header(name: &str, value: &str) -> Result {
    check_header_field(name, value).map_err(|e| Error::msg(format!("unsafe header: {e}")))
}

/// Something [`Context::write`] can append to the response body: text or bytes, or a
/// `serde_json::Value` (sent as JSON, with its `Content-Type`).
///
/// ```
/// use tornado_web::{testing, url, Application, Context, RequestHandler};
///
/// struct Parts;
/// impl RequestHandler for Parts {
///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
///         match cx.get_argument("as")?.as_str() {
///             "json" => cx.write(serde_json::json!({ "id": 1 })),
///             _ => {
///                 cx.write("text, ");
///                 cx.write(b"bytes, ");
///                 cx.write(String::from("a String"));
///             }
///         }
///         Ok(())
///     }
/// }
///
/// testing::run(|| Application::new(vec![url("/", || Parts)]), |t| async move {
///     assert_eq!(t.fetch("/?as=text").await.text().unwrap(), "text, bytes, a String");
///     let json = t.fetch("/?as=json").await;
///     assert_eq!(json.text().unwrap(), r#"{"id":1}"#);
///     assert_eq!(json.headers.get("Content-Type"), Some("application/json; charset=UTF-8"));
/// });
/// ```
pub trait Writable {
    /// Appends to `out`; returns the `Content-Type` the value implies, if any.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use tornado_web::{testing, url, Application, Context, RequestHandler, Writable};
    ///
    /// /// Rows written as CSV.
    /// struct Csv(Vec<(&'static str, u32)>);
    /// impl Writable for Csv {
    ///     fn append_to(self, out: &mut BytesMut) -> Option<&'static str> {
    ///         for (name, count) in self.0 {
    ///             out.extend_from_slice(format!("{name},{count}\n").as_bytes());
    ///         }
    ///         Some("text/csv")
    ///     }
    /// }
    ///
    /// struct Report;
    /// impl RequestHandler for Report {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write(Csv(vec![("apples", 3), ("pears", 5)]));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/report.csv", || Report)]), |t| async move {
    ///     let r = t.fetch("/report.csv").await;
    ///     assert_eq!(r.text().unwrap(), "apples,3\npears,5\n");
    ///     assert_eq!(r.headers.get("Content-Type"), Some("text/csv"));
    /// });
    /// ```
    fn append_to(self, out: &mut BytesMut) -> Option<&'static str>;
}

impl Writable for &str {
    fn append_to(self, out: &mut BytesMut) -> Option<&'static str> {
        out.extend_from_slice(self.as_bytes());
        None
    }
}

impl Writable for String {
    fn append_to(self, out: &mut BytesMut) -> Option<&'static str> {
        out.extend_from_slice(self.as_bytes());
        None
    }
}

impl Writable for &String {
    fn append_to(self, out: &mut BytesMut) -> Option<&'static str> {
        out.extend_from_slice(self.as_bytes());
        None
    }
}

impl Writable for &[u8] {
    fn append_to(self, out: &mut BytesMut) -> Option<&'static str> {
        out.extend_from_slice(self);
        None
    }
}

impl<const N: usize> Writable for &[u8; N] {
    fn append_to(self, out: &mut BytesMut) -> Option<&'static str> {
        out.extend_from_slice(self);
        None
    }
}

impl Writable for Vec<u8> {
    fn append_to(self, out: &mut BytesMut) -> Option<&'static str> {
        out.extend_from_slice(&self);
        None
    }
}

impl Writable for Bytes {
    fn append_to(self, out: &mut BytesMut) -> Option<&'static str> {
        out.extend_from_slice(&self);
        None
    }
}

impl Writable for &serde_json::Value {
    fn append_to(self, out: &mut BytesMut) -> Option<&'static str> {
        let start = out.len();
        // Serializing a Value into memory cannot fail.
        let _ = serde_json::to_writer(out.writer(), self);
        escape_closing_tags(out, start);
        Some(JSON_CONTENT_TYPE)
    }
}

/// `reason`, or `Unknown` if it holds a `<` (Tornado's `set_status` does the same).
fn guard_reason(reason: &str) -> &str {
    if reason.contains('<') {
        "Unknown"
    } else {
        reason
    }
}

/// `value` as JSON text, `</` written `<\/` as Tornado's `json_encode` writes it (what
/// [`escape_closing_tags`] does for JSON written into a response's buffer).
pub(crate) fn json_encode<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let json = serde_json::to_string(value)?;
    Ok(if json.contains("</") {
        json.replace("</", "<\\/")
    } else {
        json
    })
}

/// Writes each `</` of the JSON just serialized into `out[start..]` as `<\/`, as
/// Tornado's `json_encode` does, so that the JSON can sit in a `<script>` without
/// ending it. JSON reads `\/` as `/`, and a `<` can only be inside a string.
fn escape_closing_tags(out: &mut BytesMut, start: usize) {
    let Some(first) = memchr::memmem::find(&out[start..], b"</") else {
        return;
    };
    let tail = out.split_off(start + first);
    let mut rest = &tail[..];
    while let Some(i) = memchr::memmem::find(rest, b"</") {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(b"<\\/");
        rest = &rest[i + 2..];
    }
    out.extend_from_slice(rest);
}

impl Writable for serde_json::Value {
    fn append_to(self, out: &mut BytesMut) -> Option<&'static str> {
        (&self).append_to(out)
    }
}

/// A status given as a number or as a [`StatusCode`].
///
/// ```
/// use http::StatusCode;
/// use tornado_web::{testing, url, Application, Context, RequestHandler};
///
/// struct Create;
/// impl RequestHandler for Create {
///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
///         cx.set_status(201)?; // a number...
///         cx.set_status(StatusCode::CREATED)?; // ...or a StatusCode
///         Ok(())
///     }
/// }
///
/// testing::run(|| Application::new(vec![url("/", || Create)]), |t| async move {
///     assert_eq!(t.fetch_request(t.request("/").method("POST").body("")).await.code, 201);
/// });
/// ```
pub trait IntoStatus {
    /// The status, or an error for a number that is not one (outside 100–999).
    ///
    /// ```
    /// use http::StatusCode;
    /// use tornado_web::IntoStatus;
    ///
    /// assert_eq!(404u16.into_status().unwrap(), StatusCode::NOT_FOUND);
    /// assert_eq!(StatusCode::OK.into_status().unwrap(), StatusCode::OK);
    /// assert!(1000u16.into_status().is_err());
    /// ```
    fn into_status(self) -> Result<StatusCode>;
}

impl IntoStatus for StatusCode {
    fn into_status(self) -> Result<StatusCode> {
        Ok(self)
    }
}

impl IntoStatus for u16 {
    fn into_status(self) -> Result<StatusCode> {
        StatusCode::from_u16(self).map_err(|_| Error::msg(format!("unknown status code {self}")))
    }
}

impl Context {
    /// Sets the response status (Tornado's `set_status`), as a number or a
    /// [`StatusCode`]; a number outside 100–999 is an error, and so is an
    /// informational 1xx (it cannot end a response: the client would wait on).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Create;
    /// impl RequestHandler for Create {
    ///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         assert!(cx.set_status(1000).is_err()); // no such status
    ///         assert!(cx.set_status(103).is_err()); // 1xx cannot end a response
    ///         cx.set_status(201)
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Create)]), |t| async move {
    ///     let r = t.fetch_request(t.request("/").method("POST").body("")).await;
    ///     assert_eq!((r.code, r.reason.as_str()), (201, "Created"));
    /// });
    /// ```
    pub fn set_status(&mut self, status: impl IntoStatus) -> Result {
        self.status = final_status(status.into_status()?)?;
        self.reason = None;
        Ok(())
    }

    /// Sets the status with a reason phrase of your own (`set_status(code, reason)`);
    /// a reason with control characters is an error. A reason with `<` goes out as
    /// `Unknown`, as in Tornado: a guard against a reason built from the request
    /// reaching a page that shows it unescaped.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Busy;
    /// impl RequestHandler for Busy {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         // A reason that could split the status line is refused.
    ///         assert!(cx.set_status_with_reason(429, "Slow\r\nDown").is_err());
    ///         cx.set_status_with_reason(429, "Slow Down")
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Busy)]), |t| async move {
    ///     let r = t.fetch("/").await;
    ///     assert_eq!((r.code, r.reason.as_str()), (429, "Slow Down"));
    /// });
    /// ```
    pub fn set_status_with_reason(&mut self, status: impl IntoStatus, reason: &str) -> Result {
        let status = final_status(status.into_status()?)?;
        check_reason(reason).map_err(output_error)?;
        self.status = status;
        self.reason = Some(guard_reason(reason).to_owned());
        Ok(())
    }

    /// The response status.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Status;
    /// impl RequestHandler for Status {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let before = cx.get_status().as_u16();
    ///         cx.set_status(202)?;
    ///         let after = cx.get_status().as_u16();
    ///         cx.write(format!("{before} then {after}"));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Status)]), |t| async move {
    ///     let r = t.fetch("/").await;
    ///     assert_eq!((r.code, r.text().unwrap()), (202, "200 then 202"));
    /// });
    /// ```
    pub fn get_status(&self) -> StatusCode {
        self.status
    }

    /// Sets response header `name`, replacing any value (Tornado's `set_header`). The
    /// value may be anything `Display` (numbers, too). A name that is not a token or
    /// a value with CR, LF or another control character is refused with an error.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Counted;
    /// impl RequestHandler for Counted {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.set_header("X-Count", 1)?;
    ///         cx.set_header("X-Count", 2)?; // replaces the 1
    ///         let refused = cx.set_header("X-Evil", "a\r\nSet-Cookie: admin=1").is_err();
    ///         cx.write(format!("refused: {refused}"));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Counted)]), |t| async move {
    ///     let r = t.fetch("/").await;
    ///     assert_eq!(r.headers.get_all("X-Count").collect::<Vec<_>>(), ["2"]);
    ///     assert_eq!(r.headers.get("Set-Cookie"), None);
    ///     assert_eq!(r.text().unwrap(), "refused: true");
    /// });
    /// ```
    pub fn set_header(&mut self, name: &str, value: impl fmt::Display) -> Result {
        with_text(value, |value| {
            check_header(name, value)?;
            self.headers.set(name, value);
            Ok(())
        })
    }

    /// Adds a value to response header `name`, keeping the ones it has (Tornado's
    /// `add_header`; for `Set-Cookie`, `Link`). Checked as in
    /// [`set_header`](Self::set_header).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Page;
    /// impl RequestHandler for Page {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.add_header("Link", "</app.css>; rel=preload; as=style")?;
    ///         cx.add_header("Link", "</app.js>; rel=preload; as=script")?;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Page)]), |t| async move {
    ///     let r = t.fetch("/").await;
    ///     let links: Vec<&str> = r.headers.get_all("Link").collect();
    ///     let want = ["</app.css>; rel=preload; as=style", "</app.js>; rel=preload; as=script"];
    ///     assert_eq!(links, want);
    /// });
    /// ```
    pub fn add_header(&mut self, name: &str, value: impl fmt::Display) -> Result {
        with_text(value, |value| {
            check_header(name, value)?;
            self.headers.add(name, value);
            Ok(())
        })
    }

    /// Removes response header `name` (Tornado's `clear_header`).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Bare;
    /// impl RequestHandler for Bare {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.set_header("X-Draft", "yes")?;
    ///         cx.clear_header("X-Draft");
    ///         cx.clear_header("Content-Type"); // even the default one
    ///         cx.write("no type");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Bare)]), |t| async move {
    ///     let r = t.fetch("/").await;
    ///     assert_eq!(r.headers.get("X-Draft"), None);
    ///     assert_eq!(r.headers.get("Content-Type"), None);
    /// });
    /// ```
    pub fn clear_header(&mut self, name: &str) {
        self.headers.remove(name);
    }

    /// The response headers set so far.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Show;
    /// impl RequestHandler for Show {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let default = cx.response_headers().get("Content-Type").unwrap_or("").to_owned();
    ///         cx.set_header("Content-Type", "text/plain")?;
    ///         cx.write(default);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Show)]), |t| async move {
    ///     let r = t.fetch("/").await;
    ///     assert_eq!(r.text().unwrap(), "text/html; charset=UTF-8");
    ///     assert_eq!(r.headers.get("Content-Type"), Some("text/plain"));
    /// });
    /// ```
    pub fn response_headers(&self) -> &HttpHeaders {
        &self.headers
    }

    /// Appends to the response body (Tornado's `write`): text, bytes, or a
    /// `serde_json::Value` (which also sets `Content-Type: application/json`, and is
    /// written as [`write_json`](Self::write_json) writes it). For any other serde
    /// type use [`write_json`](Self::write_json).
    ///
    /// Output stays in memory until [`flush`](Self::flush) or
    /// [`finish`](Self::finish). Writing after `finish` is a bug in the handler: it
    /// is logged and the data dropped.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Hello;
    /// impl RequestHandler for Hello {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("Hello, ");
    ///         cx.write(b"world");
    ///         cx.finish()?;
    ///         cx.write("!"); // after finish: logged and dropped
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Hello)]), |t| async move {
    ///     let r = t.fetch("/").await;
    ///     assert_eq!(r.text().unwrap(), "Hello, world");
    ///     assert_eq!(r.headers.get("Content-Length"), Some("12"));
    /// });
    /// ```
    pub fn write(&mut self, chunk: impl Writable) {
        if self.output == Output::Finished {
            log::error!(
                "{}: write() after finish() dropped ({})",
                (self.hooks.handler_name)(),
                self.request_summary()
            );
            return;
        }
        if let Some(ctype) = chunk.append_to(self.body_buffer()) {
            self.headers.set_static("Content-Type", ctype);
        }
    }

    /// Writes `value` as JSON with `Content-Type: application/json; charset=UTF-8`
    /// (Tornado's `write(dict)`), `</` written `<\/` as Tornado's `json_encode`
    /// writes it, so that the JSON can sit in a `<script>`.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// #[derive(serde::Serialize)]
    /// struct Message<'a> {
    ///     id: u64,
    ///     body: &'a str,
    /// }
    ///
    /// struct Api;
    /// impl RequestHandler for Api {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write_json(&Message { id: 1, body: "hi" })
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Api)]), |t| async move {
    ///     let r = t.fetch("/").await;
    ///     assert_eq!(r.text().unwrap(), r#"{"id":1,"body":"hi"}"#);
    ///     assert_eq!(r.headers.get("Content-Type"), Some("application/json; charset=UTF-8"));
    /// });
    /// ```
    pub fn write_json<T: serde::Serialize + ?Sized>(&mut self, value: &T) -> Result {
        if self.output == Output::Finished {
            return Err(Error::msg("write_json() after finish()"));
        }
        let start = self.body_buffer().len();
        if let Err(e) = serde_json::to_writer((&mut self.buffer).writer(), value) {
            self.buffer.truncate(start);
            return Err(e.into());
        }
        escape_closing_tags(&mut self.buffer, start);
        self.headers.set_static("Content-Type", JSON_CONTENT_TYPE);
        Ok(())
    }

    /// The body buffer, the thread's spare one if it has none yet.
    fn body_buffer(&mut self) -> &mut BytesMut {
        if self.buffer.capacity() == 0
            && let Some(spare) = SPARE_BODY.with(std::cell::Cell::take)
        {
            self.buffer = spare;
        }
        &mut self.buffer
    }

    /// Empties the body buffer, keeping it for the thread's next response unless it
    /// grew large.
    fn recycle_body(&mut self) {
        let mut buffer = std::mem::take(&mut self.buffer);
        if buffer.capacity() > 0 && buffer.capacity() <= SPARE_BODY_MAX {
            buffer.clear();
            SPARE_BODY.with(|spare| spare.set(Some(buffer)));
        }
    }

    /// What has been written and not yet flushed (for a
    /// [`compute_etag`](crate::RequestHandler::compute_etag) of your own).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Measured;
    /// impl RequestHandler for Measured {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("hello");
    ///         let n = cx.written().len();
    ///         cx.set_header("X-Body-Length", n)?;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Measured)]), |t| async move {
    ///     assert_eq!(t.fetch("/").await.headers.get("X-Body-Length"), Some("5"));
    /// });
    /// ```
    pub fn written(&self) -> &[u8] {
        &self.buffer
    }

    /// Whether the response headers have gone out (after `flush` or `finish`).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Stream;
    /// impl RequestHandler for Stream {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let before = cx.headers_written();
    ///         cx.write(format!("{before} "));
    ///         cx.flush().await?;
    ///         let after = cx.headers_written();
    ///         cx.write(format!("{after}"));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Stream)]), |t| async move {
    ///     assert_eq!(t.fetch("/").await.text().unwrap(), "false true");
    /// });
    /// ```
    pub fn headers_written(&self) -> bool {
        self.output != Output::Open
    }

    /// Whether the response is finished.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Early;
    /// impl RequestHandler for Early {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         if cx.get_argument_opt("cached")?.is_some() {
    ///             cx.write("from cache");
    ///             cx.finish()?;
    ///         }
    ///         if !cx.is_finished() {
    ///             cx.write("computed");
    ///         }
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Early)]), |t| async move {
    ///     assert_eq!(t.fetch("/?cached=1").await.text().unwrap(), "from cache");
    ///     assert_eq!(t.fetch("/").await.text().unwrap(), "computed");
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.output == Output::Finished
    }

    /// Resets the response: status 200, the default headers (`Content-Type:
    /// text/html; charset=UTF-8`, then the handler's
    /// [`set_default_headers`](crate::RequestHandler::set_default_headers)) and an
    /// empty body (Tornado's `clear`).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Restart;
    /// impl RequestHandler for Restart {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.set_status(500)?;
    ///         cx.set_header("X-Draft", "1")?;
    ///         cx.write("draft");
    ///         cx.clear();
    ///         cx.write("final");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Restart)]), |t| async move {
    ///     let r = t.fetch("/").await;
    ///     assert_eq!((r.code, r.text().unwrap()), (200, "final"));
    ///     assert_eq!(r.headers.get("X-Draft"), None);
    ///     assert_eq!(r.headers.get("Content-Type"), Some("text/html; charset=UTF-8"));
    /// });
    /// ```
    pub fn clear(&mut self) {
        self.headers.clear();
        self.buffer.clear();
        self.status = StatusCode::OK;
        self.reason = None;
        self.set_default_headers();
    }

    /// Into headers that are empty: the default `Content-Type`, then the handler's
    /// [`set_default_headers`](crate::RequestHandler::set_default_headers).
    pub(super) fn set_default_headers(&mut self) {
        self.headers
            .add_static("Content-Type", DEFAULT_CONTENT_TYPE);
        (self.hooks.set_default_headers)(self);
    }

    /// Sends what was written so far, with the headers if they have not gone out
    /// (the response is then chunked), and waits until the socket took it (Tornado's
    /// `flush`). Fails if the client has gone.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Progress;
    /// impl RequestHandler for Progress {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         for step in 1..=3 {
    ///             cx.write(format!("step {step}\n"));
    ///             cx.flush().await?; // out now, in its own chunk
    ///         }
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Progress)]), |t| async move {
    ///     let r = t.fetch("/").await;
    ///     assert_eq!(r.text().unwrap(), "step 1\nstep 2\nstep 3\n");
    ///     assert_eq!(r.headers.get("Transfer-Encoding"), Some("chunked"));
    ///     assert_eq!(r.headers.get("Content-Length"), None);
    /// });
    /// ```
    pub async fn flush(&mut self) -> Result {
        if self.output == Output::Finished {
            return Err(Error::msg("flush() after finish()"));
        }
        self.send_chunk()?;
        self.writer.flush().await?;
        Ok(())
    }

    /// Sends bytes `offset..offset + len` of `file` as the next piece of the body,
    /// straight from the file to the socket (`sendfile`), after what was written
    /// before (and the headers, the first time), and waits until the socket took them.
    /// `Ok(false)` when nothing may stand between file and socket but does: a gzipped
    /// response, a chunked body (no `Content-Length` set), a TLS connection; what was
    /// written before has then been sent, and the caller writes the file's bytes.
    pub(crate) async fn send_file(
        &mut self,
        file: &Rc<File>,
        offset: u64,
        len: u64,
    ) -> Result<bool> {
        if self.output == Output::Finished {
            return Err(Error::msg("send_file() after finish()"));
        }
        self.send_chunk()?;
        if self.gzip.encoder.is_some() || !self.body_allowed() {
            return Ok(false);
        }
        if !self
            .writer
            .write_file(file.clone(), offset, len)
            .map_err(output_error)?
        {
            return Ok(false);
        }
        self.writer.flush().await?;
        Ok(true)
    }

    /// Writes the head (first time) and the buffered body as one chunk.
    fn send_chunk(&mut self) -> Result {
        if self.output == Output::Open && no_content(self.status) {
            self.clear_representation_headers();
        }
        if self.output == Output::Open && self.gzip.enabled {
            self.add_vary();
            if self.gzip.accepted && self.gzip_allowed() && !no_content(self.status) {
                self.headers.set_static("Content-Encoding", "gzip");
                self.headers.remove("Content-Length");
                self.gzip.encoder = Some(Box::new(GzEncoder::new(
                    Vec::new(),
                    Compression::new(GZIP_LEVEL),
                )));
            }
        }
        if self.output == Output::Open {
            self.emit_cookies();
        }
        let writer = &self.writer;
        if self.output == Output::Open {
            writer
                .write_head(self.status, self.reason.as_deref(), &self.headers, None)
                .map_err(output_error)?;
            self.output = Output::Streaming {
                body: self.body_allowed(),
            };
        }
        let body_allowed = self.body_allowed();
        let written = match &mut self.gzip.encoder {
            Some(enc) => {
                // Writing to a Vec cannot fail; `flush` is zlib's sync flush.
                let _ = enc.write_all(&self.buffer);
                let _ = enc.flush();
                let out = std::mem::take(enc.get_mut());
                if out.is_empty() || !body_allowed {
                    Ok(())
                } else {
                    writer.write(&out)
                }
            }
            None if self.buffer.is_empty() || !body_allowed => Ok(()),
            None => writer.write(&self.buffer),
        };
        // A streaming handler often waits between chunks (server-sent events): it
        // holds no buffer meanwhile, and its next write takes the thread's spare.
        self.recycle_body();
        written.map_err(output_error)
    }

    /// A response without a body (204, 304) describes no representation (Tornado's
    /// `_clear_representation_headers`).
    fn clear_representation_headers(&mut self) {
        for name in ["Content-Encoding", "Content-Language", "Content-Type"] {
            self.headers.remove(name);
        }
    }

    fn add_vary(&mut self) {
        let vary = match self.headers.get_joined("Vary") {
            Some(v) if !v.is_empty() => format!("{v}, Accept-Encoding"),
            _ => String::from("Accept-Encoding"),
        };
        self.headers.set("Vary", &vary);
    }

    fn gzip_allowed(&self) -> bool {
        !self.headers.contains("Content-Encoding")
            && compressible(self.headers.get("Content-Type").unwrap_or(""))
    }

    /// The reason phrase set with the status, if any (already guarded).
    pub(crate) fn custom_reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    fn body_allowed(&self) -> bool {
        match self.output {
            // The head is gone: its status, not one set since, frames the body.
            Output::Streaming { body } => body,
            _ => *self.request.method() != Method::HEAD && !no_content(self.status),
        }
    }

    /// Ends the response (Tornado's `finish`; it runs by itself when the method
    /// returns). A response not flushed before goes out in one piece with
    /// `Content-Length`; for a 200 to `GET` or `HEAD` an `ETag` is set (unless one
    /// is) and a matching `If-None-Match` turns it into a bodiless `304`. A second
    /// call, or a body with a status that allows none (204, 304, 1xx), is an error.
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Save(Rc<Cell<bool>>);
    /// impl RequestHandler for Save {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("saved");
    ///         cx.finish()?; // the client has its answer; the method may go on working
    ///         self.0.set(cx.finish().is_err()); // but cannot finish twice
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let twice_refused = Rc::new(Cell::new(false));
    /// let flag = twice_refused.clone();
    /// let app = move || Application::new(vec![url("/", move || Save(flag.clone()))]);
    /// testing::run(app, |t| async move {
    ///     let r = t.fetch("/").await;
    ///     assert_eq!(r.headers.get("Content-Length"), Some("5"));
    ///     let etag = r.headers.get("Etag").unwrap().to_owned();
    ///     let again = t.fetch_request(t.request("/").header("If-None-Match", &etag)).await;
    ///     assert_eq!((again.code, again.body.len()), (304, 0));
    /// });
    /// assert!(twice_refused.get());
    /// ```
    pub fn finish(&mut self) -> Result {
        match self.output {
            Output::Finished => Err(Error::msg("finish() called twice")),
            Output::Streaming { .. } if self.writer.connection_closed() => {
                // The client has gone: the rest cannot be sent, and that is no error
                // (Tornado's `finish` is silent on a closed connection). The response
                // is ended short, which the closed connection would refuse anyway.
                self.mark_finished();
                let _ = self.writer.finish();
                Ok(())
            }
            Output::Streaming { .. } => {
                self.send_chunk()?;
                if let Some(enc) = self.gzip.encoder.take() {
                    let tail = enc.finish().unwrap_or_default();
                    if !tail.is_empty() && self.body_allowed() {
                        self.writer.write(&tail).map_err(output_error)?;
                    }
                }
                self.mark_finished();
                self.writer.finish().map_err(output_error)
            }
            Output::Open => self.finish_whole(),
        }
    }

    fn finish_whole(&mut self) -> Result {
        let method = self.request.method();
        if self.status == StatusCode::OK
            && (*method == Method::GET || *method == Method::HEAD)
            && !self.headers.contains("Etag")
            && self.add_etag()
        {
            self.buffer.clear();
            self.status = StatusCode::NOT_MODIFIED;
            self.reason = None;
        }
        if no_content(self.status) {
            if !self.buffer.is_empty() {
                return Err(Error::msg(format!(
                    "cannot send a body with status {}",
                    self.status.as_u16()
                )));
            }
            self.clear_representation_headers();
        }
        let mut gzipped = None;
        if self.gzip.enabled {
            self.add_vary();
            if self.gzip.accepted
                && self.buffer.len() >= GZIP_MIN_LENGTH
                && self.gzip_allowed()
                && !no_content(self.status)
            {
                self.headers.set_static("Content-Encoding", "gzip");
                let body = gzip_whole(&self.buffer);
                if self.headers.contains("Content-Length") {
                    self.headers.set("Content-Length", &body.len().to_string());
                }
                gzipped = Some(body);
            }
        }
        self.emit_cookies();
        self.mark_finished();
        let sent = self.send_whole(gzipped.as_deref().unwrap_or(&self.buffer));
        self.recycle_body();
        sent
    }

    /// Sends the head and `body` in one piece (the head carries its length).
    fn send_whole(&self, body: &[u8]) -> Result {
        let w = &self.writer;
        let len = (!no_content(self.status)).then_some(body.len() as u64);
        w.write_head(self.status, self.reason.as_deref(), &self.headers, len)
            .and_then(|()| {
                if !body.is_empty() && self.body_allowed() {
                    w.write(body)?;
                }
                w.finish()
            })
            .map_err(output_error)
    }

    /// Redirects to `url` with `302 Found` (Tornado's `redirect(url)`) and finishes.
    /// Fails once headers have gone out.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Home;
    /// impl RequestHandler for Home {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.redirect("/dashboard")
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Home)]), |t| async move {
    ///     let r = t.fetch_request(t.request("/").follow_redirects(false)).await;
    ///     assert_eq!((r.code, r.headers.get("Location")), (302, Some("/dashboard")));
    /// });
    /// ```
    pub fn redirect(&mut self, url: &str) -> Result {
        self.redirect_with_status(url, StatusCode::FOUND)
    }

    /// Redirects with `301 Moved Permanently` (Tornado's `redirect(url,
    /// permanent=True)`).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Moved;
    /// impl RequestHandler for Moved {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.redirect_permanent("https://new.example/")
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Moved)]), |t| async move {
    ///     let r = t.fetch_request(t.request("/").follow_redirects(false)).await;
    ///     assert_eq!((r.code, r.headers.get("Location")), (301, Some("https://new.example/")));
    /// });
    /// ```
    pub fn redirect_permanent(&mut self, url: &str) -> Result {
        self.redirect_with_status(url, StatusCode::MOVED_PERMANENTLY)
    }

    /// Redirects with a 3xx status of your choice (303, 307, 308, ...).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Submit;
    /// impl RequestHandler for Submit {
    ///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         assert!(cx.redirect_with_status("/done", 200).is_err()); // not a 3xx
    ///         cx.redirect_with_status("/done", 303) // "see other": the client GETs it
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/submit", || Submit)]), |t| async move {
    ///     let request = t.request("/submit").method("POST").body("").follow_redirects(false);
    ///     let r = t.fetch_request(request).await;
    ///     assert_eq!((r.code, r.headers.get("Location")), (303, Some("/done")));
    /// });
    /// ```
    pub fn redirect_with_status(&mut self, url: &str, status: impl IntoStatus) -> Result {
        let status = status.into_status()?;
        if self.headers_written() {
            return Err(Error::msg(
                "cannot redirect after headers have been written",
            ));
        }
        if !status.is_redirection() {
            return Err(Error::msg(format!(
                "redirect status must be 3xx, not {}",
                status.as_u16()
            )));
        }
        check_header("Location", url)?;
        self.status = status;
        self.reason = None;
        self.headers.set("Location", url);
        self.finish()
    }

    /// Sends the error page for `status` (Tornado's `send_error`): what was written
    /// is discarded, the handler's [`write_error`](crate::RequestHandler::write_error)
    /// writes the page. Once headers have gone out an error page is impossible: the
    /// response is ended instead (and the error logged).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Down;
    /// impl RequestHandler for Down {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("half a page");
    ///         cx.send_error(503); // what was written is discarded
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Down)]), |t| async move {
    ///     let r = t.fetch("/").await;
    ///     assert_eq!(r.code, 503);
    ///     let page = r.text().unwrap();
    ///     assert!(page.contains("503: Service Unavailable") && !page.contains("half"), "{page}");
    /// });
    /// ```
    pub fn send_error(&mut self, status: impl IntoStatus) {
        let status = status
            .into_status()
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        self.send_error_for(status, None);
    }

    /// [`send_error`](Self::send_error) for the error that caused it (an
    /// [`HttpError`](crate::HttpError)'s reason becomes the status line's).
    ///
    /// ```
    /// use http::StatusCode;
    /// use tornado_web::{testing, url, Application, Context, Error, HttpError, RequestHandler};
    ///
    /// struct Expired;
    /// impl RequestHandler for Expired {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let error = Error::from(HttpError::new(403).with_reason("Token Expired"));
    ///         cx.send_error_for(StatusCode::FORBIDDEN, Some(&error));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Expired)]), |t| async move {
    ///     let r = t.fetch("/").await;
    ///     assert_eq!((r.code, r.reason.as_str()), (403, "Token Expired"));
    ///     assert!(r.text().unwrap().contains("403: Token Expired"));
    /// });
    /// ```
    pub fn send_error_for(&mut self, status: StatusCode, error: Option<&Error>) {
        match self.output {
            Output::Finished => return,
            Output::Streaming { .. } => {
                log::error!("cannot send an error response after headers were written");
                if let Err(e) = self.finish() {
                    log::error!("failed to flush a partial response: {e}");
                }
                return;
            }
            Output::Open => {}
        }
        self.clear();
        self.status = status;
        self.reason = error
            .and_then(Error::as_http)
            .and_then(|e| e.reason())
            .filter(|r| check_reason(r).is_ok())
            .map(|r| guard_reason(r).to_owned());
        if status == StatusCode::METHOD_NOT_ALLOWED {
            let missing = error
                .and_then(Error::as_http)
                .and_then(|e| e.unimplemented.as_ref());
            let allow: Vec<&str> = self
                .hooks
                .supported_methods
                .iter()
                .filter(|m| Some(*m) != missing)
                .map(Method::as_str)
                .collect();
            self.headers.set("Allow", &allow.join(", "));
        }
        if status != StatusCode::NOT_MODIFIED {
            let write_error = self.hooks.write_error;
            let capture = self.app.settings.serves_traceback();
            if let Err(p) = crate::panic::guarded(capture, || write_error(self, status, error)) {
                log::error!("panic in write_error: {}", p.message);
            }
        }
        if self.output != Output::Finished
            && let Err(e) = self.finish()
        {
            log::error!("cannot finish the error response: {e}");
            if self.output == Output::Open {
                // The handler's page could not be sent (a body with a 304, ...).
                self.buffer.clear();
                let _ = self.finish();
            }
        }
    }

    /// The response is over: logged now, as Tornado's `finish` logs it (with the
    /// `log_function` setting, or Tornado's access line).
    fn mark_finished(&mut self) {
        self.output = Output::Finished;
        let log_function = &self.app.settings.log_function;
        if log_function.is_none() && !crate::settings::access_log_enabled(self.status) {
            return;
        }
        let request = &self.request;
        let line = RequestLog {
            status: self.status,
            method: request.method(),
            uri: request.uri(),
            remote_ip: request.remote_ip,
            request_time: request.request_time(),
            handler: (self.hooks.handler_name)(),
        };
        match log_function {
            Some(f) => f(&line),
            None => line.log(),
        }
    }

    /// Answers `101 Switching Protocols` with the headers set so far (less
    /// `Content-Type`) and takes the connection's stream over for another protocol
    /// (WebSocket). The response is over and logged as a 101. `None` if the response
    /// was started already or the client is gone.
    pub(crate) fn upgrade(&mut self) -> Option<tornado_iostream::IoStream> {
        if self.output != Output::Open {
            return None;
        }
        self.status = StatusCode::SWITCHING_PROTOCOLS;
        self.reason = None;
        self.headers.remove("Content-Type");
        let sent = self.writer.write_headers(self.status, &self.headers);
        let stream = sent.ok().and_then(|()| self.writer.detach());
        self.mark_finished();
        stream
    }

    /// Counts a connection taken over by [`upgrade`](Self::upgrade) among the server's
    /// open connections, so a graceful shutdown asks it to end and waits for it.
    pub(crate) fn track_upgraded(
        &self,
        conn: std::rc::Weak<dyn tornado_httpserver::UpgradedConnection>,
    ) -> tornado_httpserver::UpgradeGuard {
        self.writer.track_upgraded(conn)
    }

    /// The last resort when the error page itself failed: an empty 500, without the
    /// handler's hooks.
    pub(crate) fn send_bare_500(&mut self) {
        self.headers.clear();
        self.buffer.clear();
        self.status = StatusCode::INTERNAL_SERVER_ERROR;
        self.reason = None;
        self.mark_finished();
        if let Err(e) = self.send_whole(&[]) {
            log::error!("cannot send a 500: {e}");
        }
    }

    /// Sets the `ETag` header from [`compute_etag`](crate::RequestHandler::compute_etag)
    /// (Tornado's `set_etag_header`).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// /// Tagged by the version of what it shows, not by its bytes.
    /// struct Article;
    /// impl RequestHandler for Article {
    ///     fn compute_etag(_cx: &Context) -> Option<String> {
    ///         Some("\"v7\"".to_owned())
    ///     }
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.set_etag_header();
    ///         let tag = cx.response_headers().get("Etag").unwrap_or("none").to_owned();
    ///         cx.write(format!("tagged {tag} before any body was written"));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Article)]), |t| async move {
    ///     let r = t.fetch("/").await;
    ///     assert_eq!(r.text().unwrap(), "tagged \"v7\" before any body was written");
    ///     assert_eq!(r.headers.get("Etag"), Some("\"v7\""));
    /// });
    /// ```
    pub fn set_etag_header(&mut self) {
        if let Some(etag) = (self.hooks.compute_etag)(self) {
            if check_header("Etag", &etag).is_ok() {
                self.headers.set("Etag", &etag);
            }
            give_back_tag(etag);
        }
    }

    /// [`set_etag_header`](Self::set_etag_header) then
    /// [`check_etag_header`](Self::check_etag_header) for a response without an `ETag`
    /// yet: the tag is added (no `Etag` to replace), and compared with the request's
    /// `If-None-Match` only when there is one. Whether a 304 is due.
    fn add_etag(&mut self) -> bool {
        let Some(etag) = (self.hooks.compute_etag)(self) else {
            return false;
        };
        if check_header("Etag", &etag).is_err() {
            give_back_tag(etag);
            return false;
        }
        let not_modified = self
            .request
            .headers()
            .get_joined("If-None-Match")
            .is_some_and(|header| etag_matches(&header, &etag));
        self.headers.add("Etag", &etag);
        give_back_tag(etag);
        not_modified
    }

    /// Whether the request's `If-None-Match` matches the response's `ETag` (weak
    /// comparison, `*` matches any), so a 304 can be sent (Tornado's
    /// `check_etag_header`).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Report;
    /// impl RequestHandler for Report {
    ///     fn compute_etag(_cx: &Context) -> Option<String> {
    ///         Some("\"2024-06\"".to_owned())
    ///     }
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.set_etag_header();
    ///         if cx.check_etag_header() {
    ///             return cx.set_status(304); // the client's copy is current: skip the work
    ///         }
    ///         cx.write("an expensive report");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Report)]), |t| async move {
    ///     assert_eq!(t.fetch("/").await.code, 200);
    ///     for tag in ["\"2024-06\"", "W/\"2024-06\"", "*"] {
    ///         let r = t.fetch_request(t.request("/").header("If-None-Match", tag)).await;
    ///         assert_eq!(r.code, 304, "{tag}");
    ///     }
    ///     let old = t.fetch_request(t.request("/").header("If-None-Match", "\"2024-05\"")).await;
    ///     assert_eq!(old.code, 200);
    /// });
    /// ```
    pub fn check_etag_header(&self) -> bool {
        let Some(etag) = self.headers.get("Etag") else {
            return false;
        };
        let Some(header) = self.request.headers().get_joined("If-None-Match") else {
            return false;
        };
        etag_matches(&header, etag)
    }

    /// The default ETag: a quoted hex hash of the body written so far (Tornado's
    /// `compute_etag` hashes with SHA-1; this is a 64-bit multiply-xorshift hash over
    /// the body's words, many times cheaper for a small page and small in code: the
    /// values differ from Tornado's, the behaviour does not).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Tagged;
    /// impl RequestHandler for Tagged {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("same body, same tag");
    ///         let tag = cx.default_etag();
    ///         cx.set_header("X-Tag", tag)?;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Tagged)]), |t| async move {
    ///     let r = t.fetch("/").await;
    ///     let tag = r.headers.get("X-Tag").unwrap();
    ///     assert_eq!(r.headers.get("Etag"), Some(tag)); // what finish sets by default
    ///     assert!(tag.len() == 18 && tag.starts_with('"') && tag.ends_with('"'), "{tag}");
    /// });
    /// ```
    pub fn default_etag(&self) -> String {
        let hash = body_hash(&self.buffer);
        let mut text = [b'"'; 18];
        crate::hex::write_hex(&mut text[1..17], &hash.to_be_bytes());
        // Written into the string the last tag left behind, so that a response's tag
        // allocates nothing.
        let mut tag = SPARE_TAG.try_with(Cell::take).unwrap_or_default();
        tag.clear();
        // Hex digits and quotes: ASCII, so this never fails.
        tag.push_str(std::str::from_utf8(&text).expect("hex digits are ASCII"));
        tag
    }
}

/// The default ETag's hash: each little-endian 8-byte word (the last one padded with
/// zeros) is mixed in by a multiply and a xorshift, each a bijection, so bodies of one
/// length that differ in one word never share a hash; the length is the seed, and
/// MurmurHash3's finaliser spreads the result. Fixed constants: the same body gets the
/// same tag in every process.
fn body_hash(data: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mix = |h: u64, w: u64| {
        let h = (h ^ w).wrapping_mul(K);
        h ^ (h >> 32)
    };
    // Length + 1: an empty body's tag is not all zeros.
    let mut h = (data.len() as u64).wrapping_add(1).wrapping_mul(K);
    let mut words = data.chunks_exact(8);
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        h = mix(h, u64::from_le_bytes(w));
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = mix(h, u64::from_le_bytes(w));
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

thread_local! {
    /// The string of the last tag set, once its text was copied into the headers:
    /// [`Context::default_etag`] writes the next tag into it.
    static SPARE_TAG: Cell<String> = const { Cell::new(String::new()) };
}

/// Keeps a computed tag's string for the next [`Context::default_etag`] (a small
/// one; a tag of a custom `compute_etag` may be anything).
fn give_back_tag(tag: String) {
    if tag.capacity() <= 64 {
        let _ = SPARE_TAG.try_with(|spare| spare.set(tag));
    }
}

/// Parses an `If-None-Match` value into its entity tags (`*`, `"x"`, `W/"x"`), as
/// Tornado's regex does, and compares weakly.
fn etag_matches(header: &str, etag: &str) -> bool {
    fn strip_weak(t: &str) -> &str {
        t.strip_prefix("W/").unwrap_or(t)
    }
    let mut tags = Vec::new();
    let b = header.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'*' {
            tags.push("*");
            i += 1;
        } else if b[i] == b'"' || (b[i..].starts_with(b"W/\"")) {
            let start = i;
            let open = if b[i] == b'"' { i } else { i + 2 };
            match header[open + 1..].find('"') {
                Some(end) => {
                    let close = open + 1 + end;
                    tags.push(&header[start..=close]);
                    i = close + 1;
                }
                // No closing quote: as Tornado's regex, go on a byte further (a `*`
                // after it still counts).
                None => i += 1,
            }
        } else {
            i += 1;
        }
    }
    match tags.first() {
        None => false,
        Some(&"*") => true,
        Some(_) => tags.iter().any(|t| strip_weak(t) == strip_weak(etag)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_hash_tells_small_changes_apart() {
        assert_ne!(body_hash(b""), 0, "an empty body's tag is not all zeros");
        assert_eq!(body_hash(b"same body"), body_hash(b"same body"));
        // Each byte of a 20-byte body (two whole words and a tail) flipped in turn,
        // and the body cut short by one byte or grown by a zero: all different.
        let body: Vec<u8> = (0u8..20).collect();
        let mut seen = std::collections::HashSet::new();
        assert!(seen.insert(body_hash(&body)));
        for i in 0..body.len() {
            for bit in 0..8 {
                let mut changed = body.clone();
                changed[i] ^= 1 << bit;
                assert!(seen.insert(body_hash(&changed)), "byte {i} bit {bit}");
            }
        }
        assert!(seen.insert(body_hash(&body[..19])));
        let mut longer = body.clone();
        longer.push(0);
        assert!(
            seen.insert(body_hash(&longer)),
            "a trailing zero changes the hash"
        );
    }

    #[test]
    fn if_none_match_table() {
        let etag = "\"abc\"";
        let cases = [
            ("\"abc\"", true),
            ("W/\"abc\"", true),
            ("\"x\", \"abc\"", true),
            ("\"x\",W/\"abc\"", true),
            ("*", true),
            ("\"abcd\"", false),
            ("abc", false),
            ("", false),
            ("\"unterminated", false),
            ("\"abc, *", true),
            ("W/\"u *", true),
            ("\"x\" , \"y\"", false),
        ];
        for (header, want) in cases {
            assert_eq!(etag_matches(header, etag), want, "{header:?}");
        }
        assert!(etag_matches("\"abc\"", "W/\"abc\""));
    }

    #[test]
    fn compressible_types() {
        for (ctype, want) in [
            ("text/html; charset=UTF-8", true),
            ("text/plain", true),
            ("application/json; charset=UTF-8", true),
            ("image/svg+xml", true),
            ("image/png", false),
            ("application/octet-stream", false),
            ("", false),
        ] {
            assert_eq!(compressible(ctype), want, "{ctype}");
        }
    }

    #[test]
    fn unsafe_header_values_are_refused() {
        assert!(check_header("X-A", "fine\tvalue").is_ok());
        for bad in ["a\r\nSet-Cookie: x", "a\nb", "a\rb", "a\x00b", "a\x1bb"] {
            let e = check_header("X-A", bad).unwrap_err();
            assert!(e.to_string().contains("unsafe header"), "{e}");
        }
        assert!(check_header("Bad Name", "v").is_err());
    }

    #[test]
    fn gzip_round_trips() {
        let data = vec![b'a'; 5000];
        let z = gzip_whole(&data);
        assert!(z.len() < 200);
        let mut d = flate2::read::GzDecoder::new(&z[..]);
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut d, &mut out).unwrap();
        assert_eq!(out, data);
    }
}
