//! [`HttpServerRequest`]: one request as a handler sees it.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Version};

use super::args::{Arguments, Files, MAX_ARGUMENTS, parse_body_arguments, parse_qs_into};
use super::cookie::parse_cookie;
use super::headers::HttpHeaders;
use crate::error::ParseError;
use crate::http1connection::RequestHead;

/// The largest body the server copies out of a connection's read buffer (a larger one
/// has a buffer of its own already); see [`HttpServerRequest::compact_head`].
pub const COMPACT_BODY_MAX: usize = 16 * 1024;

/// A single HTTP request: start line, headers, body and what is parsed from
/// them (Tornado's `HTTPServerRequest`).
///
/// Built from a parsed [`RequestHead`] and the body by [`new`](Self::new),
/// which checks `Host` and counts the query's fields but copies nothing: the
/// method, target, path, query, host and headers are views into the head's
/// bytes. What is parsed from them is parsed on first use: the query
/// arguments and cookies when asked for, the form arguments and files by
/// [`parse_body`](Self::parse_body) (which the server calls once a buffered
/// body has arrived). The connection layer fills in
/// [`remote_ip`](Self::remote_ip) and [`protocol`](Self::protocol).
///
/// The `Debug` output leaves the headers out, so cookies and credentials do
/// not end up in logs.
///
/// ```
/// use std::time::Instant;
/// use tornado_httpserver::http1connection::{parse_request_head, Http1ConnectionParameters, Parsed};
/// use tornado_httpserver::httputil::HttpServerRequest;
///
/// let raw = b"GET /search?q=tornado&lang=rs HTTP/1.1\r\nHost: Example.com:8888\r\nCookie: a=1\r\n\r\n";
/// let Parsed::Complete(head) = parse_request_head(raw, &Http1ConnectionParameters::default()).unwrap() else {
///     unreachable!()
/// };
/// let req = HttpServerRequest::new(head, bytes::Bytes::new(), Instant::now()).unwrap();
/// assert_eq!(req.path(), "/search");
/// assert_eq!(req.query_arguments()["q"], ["tornado"]);
/// assert_eq!(req.host_name(), "example.com");
/// assert_eq!(req.cookies()["a"], "1");
/// assert_eq!(req.full_url(), "http://Example.com:8888/search?q=tornado&lang=rs");
/// ```
#[derive(Clone)]
pub struct HttpServerRequest {
    head: RequestHead,
    /// The request body (already gzip-decoded when the server decompresses).
    pub body: Bytes,
    /// The client's address; behind a proxy with `xheaders`, the one it
    /// reports. `None` when unknown (e.g. a Unix socket).
    pub remote_ip: Option<IpAddr>,
    /// `"http"` or `"https"`.
    pub protocol: &'static str,
    /// Boxed, as the cookies are: a request that never asks for them (most) carries a
    /// pointer for each instead of a map, and every move of it copies less.
    #[allow(
        clippy::box_collection,
        reason = "a pointer in every request instead of a map's 48 bytes; most never parse it"
    )]
    query_arguments: OnceLock<Box<Arguments>>,
    /// What [`parse_body`](Self::parse_body) found; boxed, and only when the
    /// body was a form, so that other requests carry one pointer.
    form: Option<Box<Form>>,
    start_time: Instant,
    finish_time: Option<Instant>,
    #[allow(
        clippy::box_collection,
        reason = "a pointer in every request instead of a map's 48 bytes; most never parse it"
    )]
    cookies: OnceLock<Box<HashMap<String, String>>>,
}

/// The arguments and files of a form body.
#[derive(Clone, Default)]
struct Form {
    body_arguments: Arguments,
    files: Files,
    /// Query and body arguments together, made on first use (boxed: most requests
    /// never need them merged).
    #[allow(
        clippy::box_collection,
        reason = "a pointer in every form instead of a map's 48 bytes; most never merge"
    )]
    arguments: OnceLock<Box<Arguments>>,
}

/// An empty map to lend when there is nothing to parse.
fn empty<T: Default + Send + Sync>(cell: &'static OnceLock<T>) -> &'static T {
    cell.get_or_init(T::default)
}

static NO_ARGUMENTS: OnceLock<Arguments> = OnceLock::new();
static NO_FILES: OnceLock<Files> = OnceLock::new();
static NO_COOKIES: OnceLock<HashMap<String, String>> = OnceLock::new();

impl HttpServerRequest {
    /// Builds a request from its head and body; `start` is when its first
    /// byte arrived (the connection reads the clock once per loop
    /// iteration, so it passes the time in). Nothing is copied.
    ///
    /// Fails with 400 on a missing `Host` in HTTP/1.1, a `Host` that is not
    /// a valid host (whitespace, a comma, several `Host` lines; heads from
    /// the parser were checked there already) or a query with more than
    /// [`MAX_ARGUMENTS`] fields (counted here, by its `&`s, so that the
    /// lazily parsed [`query_arguments`](Self::query_arguments) cannot
    /// fail).
    pub fn new(head: RequestHead, body: Bytes, start: Instant) -> Result<Self, ParseError> {
        if !head.host_checked {
            request_host(head.headers().get_all("Host"), head.version())?;
        }
        let query = head.query().as_bytes();
        if !query.is_empty() {
            let fields = 1 + query.iter().filter(|&&b| b == b'&').count();
            if fields > MAX_ARGUMENTS {
                return Err(ParseError::bad_request(format!(
                    "Invalid query string: Max number of fields exceeded ({fields} > {MAX_ARGUMENTS})"
                )));
            }
        }
        Ok(HttpServerRequest {
            head,
            body,
            remote_ip: None,
            protocol: "http",
            query_arguments: OnceLock::new(),
            form: None,
            start_time: start,
            finish_time: None,
            cookies: OnceLock::new(),
        })
    }

    /// Copies the head into an allocation of its own, so that a request held for long
    /// (a long poll) does not keep alive the connection's larger read buffer, of which
    /// the head is a view. The web framework does this for each request it hands to a
    /// handler; the server already copies a body of at most [`COMPACT_BODY_MAX`]
    /// bytes that arrived in one piece.
    pub fn compact_head(&mut self) {
        self.head.compact();
    }

    /// The method, e.g. `GET`.
    pub fn method(&self) -> &Method {
        self.head.method()
    }

    /// The request target as sent, e.g. `/search?q=tornado`.
    pub fn uri(&self) -> &str {
        self.head.uri()
    }

    /// The part of [`uri`](Self::uri) before the first `?`.
    pub fn path(&self) -> &str {
        self.head.path()
    }

    /// The part of [`uri`](Self::uri) after the first `?` (empty when there
    /// is none).
    pub fn query(&self) -> &str {
        self.head.query()
    }

    /// HTTP/1.0 or HTTP/1.1.
    pub fn version(&self) -> Version {
        self.head.version()
    }

    /// The request headers.
    pub fn headers(&self) -> &HttpHeaders {
        self.head.headers()
    }

    /// The request headers, to change.
    pub fn headers_mut(&mut self) -> &mut HttpHeaders {
        self.head.headers_mut()
    }

    /// The `Host` header (`127.0.0.1` for an HTTP/1.0 request without one, or with an
    /// empty one, as in Tornado).
    pub fn host(&self) -> &str {
        match self.headers().get("Host") {
            Some(host) if !host.is_empty() => host,
            _ => "127.0.0.1",
        }
    }

    /// Arguments from the query string, parsed on first use.
    pub fn query_arguments(&self) -> &Arguments {
        if self.query().is_empty() {
            return empty(&NO_ARGUMENTS);
        }
        self.query_arguments.get_or_init(|| {
            let mut args = Arguments::new();
            // `new` counted the fields, so the only error cannot happen; if
            // it did, the fields parsed so far are what there is.
            if let Err(e) = parse_qs_into(self.query().as_bytes(), &mut args, MAX_ARGUMENTS) {
                log::warn!("query string of {}: {e}", self.path());
            }
            Box::new(args)
        })
    }

    /// Arguments from a form body (after [`parse_body`](Self::parse_body)).
    pub fn body_arguments(&self) -> &Arguments {
        match &self.form {
            Some(form) => &form.body_arguments,
            None => empty(&NO_ARGUMENTS),
        }
    }

    /// Query and body arguments together (query values first), as
    /// Tornado's `arguments`.
    pub fn arguments(&self) -> &Arguments {
        match &self.form {
            // Without a query, the body's arguments are all there is: no merged copy.
            Some(form) if self.query().is_empty() => &form.body_arguments,
            Some(form) if !form.body_arguments.is_empty() => form.arguments.get_or_init(|| {
                let mut all = self.query_arguments().clone();
                for (name, values) in &form.body_arguments {
                    all.entry(name.clone())
                        .or_default()
                        .extend(values.iter().cloned());
                }
                Box::new(all)
            }),
            _ => self.query_arguments(),
        }
    }

    /// Files from a multipart body (after [`parse_body`](Self::parse_body)).
    pub fn files(&self) -> &Files {
        match &self.form {
            Some(form) => &form.files,
            None => empty(&NO_FILES),
        }
    }

    /// Parses a urlencoded or multipart body into
    /// [`body_arguments`](Self::body_arguments) and
    /// [`files`](Self::files), which [`arguments`](Self::arguments) then
    /// includes. Other content types are left alone.
    pub fn parse_body(&mut self) -> Result<(), ParseError> {
        let content_type = self.headers().get("Content-Type").unwrap_or("");
        let mut body_arguments = Arguments::new();
        let mut files = Files::new();
        parse_body_arguments(
            content_type,
            &self.body,
            &mut body_arguments,
            &mut files,
            self.head.headers(),
        )?;
        if body_arguments.is_empty() && files.is_empty() {
            return Ok(());
        }
        let Some(form) = self.form.as_mut() else {
            // The usual case, parsed once: the maps as they are.
            self.form = Some(Box::new(Form {
                body_arguments,
                files,
                arguments: OnceLock::new(),
            }));
            return Ok(());
        };
        for (name, values) in body_arguments {
            form.body_arguments.entry(name).or_default().extend(values);
        }
        for (name, list) in files {
            form.files.entry(name).or_default().extend(list);
        }
        form.arguments = OnceLock::new();
        Ok(())
    }

    /// The cookies of the `Cookie` header(s), parsed on first use with
    /// [`parse_cookie`]; several `Cookie` lines are joined with `; `.
    pub fn cookies(&self) -> &HashMap<String, String> {
        if let Some(cookies) = self.cookies.get() {
            return cookies;
        }
        if !self.headers().contains("Cookie") {
            return empty(&NO_COOKIES);
        }
        self.cookies.get_or_init(|| {
            let mut lines = self.headers().get_all("Cookie");
            Box::new(match (lines.next(), lines.next()) {
                (None, _) => HashMap::new(),
                (Some(one), None) => parse_cookie(one),
                (Some(first), Some(second)) => {
                    let mut joined = format!("{first}; {second}");
                    for more in lines {
                        joined.push_str("; ");
                        joined.push_str(more);
                    }
                    parse_cookie(&joined)
                }
            })
        })
    }

    /// [`host`](Self::host) lowercased, without the port.
    pub fn host_name(&self) -> String {
        split_host_and_port(self.host()).0.to_ascii_lowercase()
    }

    /// The URL the client asked for: `protocol://host/uri`.
    pub fn full_url(&self) -> String {
        format!("{}://{}{}", self.protocol, self.host(), self.uri())
    }

    /// How long the request took: until [`set_finish_time`](Self::set_finish_time)
    /// if it has finished, until now otherwise.
    pub fn request_time(&self) -> Duration {
        self.finish_time
            .unwrap_or_else(Instant::now)
            .saturating_duration_since(self.start_time)
    }

    /// When the request's first byte arrived.
    pub fn start_time(&self) -> Instant {
        self.start_time
    }

    /// Records when the response was finished.
    pub fn set_finish_time(&mut self, at: Instant) {
        self.finish_time = Some(at);
    }
}

impl fmt::Debug for HttpServerRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpServerRequest")
            .field("protocol", &self.protocol)
            .field("host", &self.host())
            .field("method", self.method())
            .field("uri", &self.uri())
            .field("version", &self.version())
            .field("remote_ip", &self.remote_ip)
            .finish()
    }
}

/// The request's host, checked the way Tornado checks it: required in
/// HTTP/1.1 (HTTP/1.0 defaults to `127.0.0.1`), one `Host` line only, made
/// of URI host characters and an optional port, without a comma. `hosts`
/// are the values of the `Host` lines.
pub(crate) fn request_host<'a>(
    mut hosts: impl Iterator<Item = &'a str>,
    version: Version,
) -> Result<&'a str, ParseError> {
    let host = match (hosts.next(), hosts.next()) {
        (None, _) if version == Version::HTTP_10 => return Ok("127.0.0.1"),
        (None, _) => return Err(ParseError::bad_request("Missing Host header")),
        (Some(_), Some(_)) => {
            return Err(ParseError::bad_request("Multiple host headers not allowed"));
        }
        (Some(host), None) => host,
    };
    validate_host(host)?;
    Ok(host)
}

/// Checks a `Host` value: URI host characters (letters, digits,
/// `-._~!$&'()*+;=`, `%XX`, and `[`, `]`, `:` anywhere) and no comma.
pub fn validate_host(host: &str) -> Result<(), ParseError> {
    validate_host_bytes(host.as_bytes())
}

/// Which bytes may stand in a `Host` value as they are (`%` is checked apart).
const HOST_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let extra = b"-._~!$&'()*+;=[]:";
    let mut i = 0;
    while i < extra.len() {
        table[extra[i] as usize] = true;
        i += 1;
    }
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_alphanumeric() {
            table[c] = true;
        }
        c += 1;
    }
    table
};

/// [`validate_host`] on the raw bytes of the header line; an error shows them as
/// the header's text (UTF-8, or Latin-1 when they are not UTF-8).
pub(crate) fn validate_host_bytes(b: &[u8]) -> Result<(), ParseError> {
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if HOST_BYTE[usize::from(c)] {
            i += 1;
            continue;
        }
        if c == b'%'
            && b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
        {
            i += 3;
            continue;
        }
        let host = super::headers::bytes_to_str(b);
        return Err(ParseError::bad_request(if c == b',' {
            format!("Multiple host headers not allowed: {host:?}")
        } else {
            format!("Invalid Host header: {host:?}")
        }));
    }
    Ok(())
}

/// Splits `host:port` into the host and the port, if there is a numeric
/// one.
///
/// ```
/// use tornado_httpserver::httputil::split_host_and_port;
///
/// assert_eq!(split_host_and_port("example.com:8888"), ("example.com", Some(8888)));
/// assert_eq!(split_host_and_port("[::1]:80"), ("[::1]", Some(80)));
/// assert_eq!(split_host_and_port("example.com"), ("example.com", None));
/// ```
pub fn split_host_and_port(netloc: &str) -> (&str, Option<u16>) {
    if let Some((host, port)) = netloc.rsplit_once(':')
        && !host.is_empty()
        && !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
        && let Ok(port) = port.parse()
    {
        return (host, Some(port));
    }
    (netloc, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Pairs<'a> = &'a [(&'a str, &'a str)];

    fn head(uri: &str, version: Version, headers: &[(&str, &str)]) -> RequestHead {
        RequestHead::new(Method::GET, uri, version, headers.iter().copied().collect())
    }

    fn request(
        uri: &str,
        version: Version,
        headers: &[(&str, &str)],
    ) -> Result<HttpServerRequest, ParseError> {
        HttpServerRequest::new(head(uri, version, headers), Bytes::new(), Instant::now())
    }

    #[test]
    fn defaults_for_http10_without_host() {
        let req = request("/", Version::HTTP_10, &[]).unwrap();
        assert_eq!(req.host(), "127.0.0.1");
        assert_eq!(req.host_name(), "127.0.0.1");
        assert_eq!(req.protocol, "http");
        assert_eq!(req.body, Bytes::new());
        assert!(req.files().is_empty());
        assert!(req.cookies().is_empty());
        assert_eq!(req.full_url(), "http://127.0.0.1/");
        // An empty Host (allowed when the target has no authority) is taken the same way.
        let req = request("/", Version::HTTP_11, &[("Host", "")]).unwrap();
        assert_eq!(req.host(), "127.0.0.1");
        assert_eq!(req.full_url(), "http://127.0.0.1/");
    }

    #[test]
    fn host_rows() {
        let rows: &[(Version, Pairs<'_>, bool)] = &[
            (Version::HTTP_11, &[], false),
            (Version::HTTP_11, &[("Host", "foo bar")], false),
            (Version::HTTP_10, &[("Host", "foo bar")], false),
            (Version::HTTP_11, &[("Host", "a,b")], false),
            (Version::HTTP_11, &[("Host", "a"), ("host", "b")], false),
            (Version::HTTP_11, &[("Host", "a\tb")], false),
            (Version::HTTP_11, &[("Host", "a/b")], false),
            (Version::HTTP_11, &[("Host", "ex%zz")], false),
            (Version::HTTP_11, &[("Host", "")], true),
            (Version::HTTP_11, &[("Host", "example.com")], true),
            (Version::HTTP_11, &[("Host", "[::1]:8080")], true),
            (Version::HTTP_11, &[("Host", "ex%41mple.com")], true),
        ];
        for (version, headers, ok) in rows {
            let result = request("/", *version, headers);
            assert_eq!(result.is_ok(), *ok, "{version:?} {headers:?}");
            if let Err(e) = result {
                assert!(e.is_bad_request());
            }
        }
    }

    #[test]
    fn splits_uri_and_parses_query() {
        let req = request(
            "/a/b?x=1&x=2&y=%20&z",
            Version::HTTP_11,
            &[("Host", "EXAMPLE.com:80")],
        )
        .unwrap();
        assert_eq!(req.path(), "/a/b");
        assert_eq!(req.query(), "x=1&x=2&y=%20&z");
        assert_eq!(req.query_arguments()["x"], ["1", "2"]);
        assert_eq!(req.arguments()["y"], [" "]);
        assert_eq!(req.arguments()["z"], [""]);
        assert_eq!(req.host_name(), "example.com");
        let req = request("/plain", Version::HTTP_11, &[("Host", "h")]).unwrap();
        assert_eq!((req.path(), req.query()), ("/plain", ""));
    }

    #[test]
    fn query_argument_limit() {
        let fields: Vec<String> = (0..MAX_ARGUMENTS).map(|i| format!("a={i}")).collect();
        let req = request(&format!("/?{}", fields.join("&")), Version::HTTP_10, &[]).unwrap();
        assert_eq!(req.arguments()["a"].len(), MAX_ARGUMENTS);
        let err = request(
            &format!("/?{}&b=1", fields.join("&")),
            Version::HTTP_10,
            &[],
        )
        .unwrap_err();
        assert!(err.reason().contains("Max number of fields exceeded"));
    }

    #[test]
    fn parse_body_merges_arguments() {
        let h = RequestHead::new(
            Method::POST,
            "/?a=q",
            Version::HTTP_11,
            [
                ("Host", "h"),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ]
            .into_iter()
            .collect(),
        );
        let mut req =
            HttpServerRequest::new(h, Bytes::from_static(b"a=b&c=d"), Instant::now()).unwrap();
        req.parse_body().unwrap();
        assert_eq!(req.arguments()["a"], ["q", "b"]);
        assert_eq!(req.body_arguments()["a"], ["b"]);
        assert_eq!(req.query_arguments()["a"], ["q"]);
        assert_eq!(req.arguments()["c"], ["d"]);
    }

    #[test]
    fn arguments_are_parsed_on_first_use_and_after_parse_body() {
        let h = RequestHead::new(
            Method::POST,
            "/p?a=q&z=%41",
            Version::HTTP_11,
            [
                ("Host", "h"),
                ("Content-Type", "multipart/form-data; boundary=B"),
            ]
            .into_iter()
            .collect(),
        );
        let body = "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n\
                    --B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.txt\"\r\n\r\nfile\r\n\
                    --B--\r\n";
        let mut req = HttpServerRequest::new(h, Bytes::from(body), Instant::now()).unwrap();
        assert!(req.query_arguments.get().is_none(), "not parsed before use");
        assert_eq!(req.arguments()["a"], ["q"]);
        assert_eq!(req.arguments()["z"], ["A"]);
        assert!(req.body_arguments().is_empty());
        assert!(req.files().is_empty());
        req.parse_body().unwrap();
        assert_eq!(req.arguments()["a"], ["q", "b"]);
        assert_eq!(req.body_arguments()["a"], ["b"]);
        assert_eq!(req.query_arguments()["a"], ["q"]);
        assert_eq!(req.files()["f"][0].filename, "x.txt");
        assert_eq!(req.files()["f"][0].body, "file");
        assert_eq!(req.host(), "h");
        assert_eq!(req.method(), Method::POST);
        assert_eq!(req.version(), Version::HTTP_11);
        assert_eq!(req.uri(), "/p?a=q&z=%41");
        // A body that is not a form leaves the arguments as they were.
        let h = head("/?a=1", Version::HTTP_11, &[("Host", "h")]);
        let mut req =
            HttpServerRequest::new(h, Bytes::from_static(b"a=2"), Instant::now()).unwrap();
        req.parse_body().unwrap();
        assert_eq!(req.arguments()["a"], ["1"]);
        assert!(req.form.is_none());
    }

    #[test]
    fn cookies_and_debug() {
        let req = request(
            "/",
            Version::HTTP_11,
            &[
                ("Host", "h"),
                ("Cookie", "a=1; b=\"x\""),
                ("Cookie", "c=3"),
                ("Authorization", "secret"),
            ],
        )
        .unwrap();
        assert_eq!(req.cookies()["a"], "1");
        assert_eq!(req.cookies()["b"], "x");
        assert_eq!(req.cookies()["c"], "3");
        let debug = format!("{req:?}");
        assert!(debug.contains("uri"));
        assert!(!debug.contains("secret"));
    }

    #[test]
    fn request_time() {
        let start = Instant::now();
        let mut req =
            HttpServerRequest::new(head("/", Version::HTTP_10, &[]), Bytes::new(), start).unwrap();
        req.set_finish_time(start + Duration::from_millis(250));
        assert_eq!(req.request_time(), Duration::from_millis(250));
        assert_eq!(req.start_time(), start);
    }

    #[test]
    fn split_host_and_port_rows() {
        assert_eq!(split_host_and_port("h:99999"), ("h:99999", None));
        assert_eq!(split_host_and_port(":80"), (":80", None));
        assert_eq!(split_host_and_port("h:"), ("h:", None));
        assert_eq!(split_host_and_port("::1"), (":", Some(1)));
    }
}
