//! Parsing a request head: request line and header block, strictly.

use std::fmt;
use std::mem::MaybeUninit;
use std::ops::Range;

use bytes::{Bytes, BytesMut};
use http::{Method, StatusCode, Version};

use super::params::{Http1ConnectionParameters, MAX_HEADERS};
use crate::error::ParseError;
use crate::httputil::{
    HeadersView, HttpHeaders, MAX_SHARED_LEN, request_host, validate_host_bytes,
};

/// How a request's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No body (neither `Content-Length` nor `Transfer-Encoding`).
    Empty,
    /// Exactly this many bytes follow the head.
    Length(u64),
    /// `Transfer-Encoding: chunked`; decode with
    /// [`ChunkedDecoder`](super::ChunkedDecoder).
    Chunked,
}

/// The outcome of parsing a buffer that may hold only part of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    /// A whole message head.
    Complete(T),
    /// The head is not complete yet: read more and call again with the
    /// whole buffer.
    Partial,
}

/// Where the request target lies in the head's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Target {
    start: usize,
    /// Where the `?` is, or `end` when there is none.
    query: usize,
    end: usize,
}

impl Target {
    fn new(start: usize, target: &str) -> Self {
        Target {
            start,
            query: start
                + target
                    .bytes()
                    .position(|b| b == b'?')
                    .unwrap_or(target.len()),
            end: start + target.len(),
        }
    }
}

/// The boxed part of a [`RequestHead`].
#[derive(Clone)]
struct HeadParts {
    raw: Bytes,
    method: Method,
    target: Target,
    version: Version,
    headers: HttpHeaders,
}

/// A parsed request head, with the framing and connection decisions made
/// from it.
///
/// It keeps the head's bytes as one [`Bytes`] and hands out views into it:
/// the target and the header lines are not copied (header values that are
/// not UTF-8 were decoded from Latin-1 into [`HttpHeaders`]' own buffer when
/// parsed). Made by [`parse_request_head_bytes`], by
/// [`HeadLayout::attach`] after [`parse_request_layout`], by
/// [`parse_request_head`] (which copies the head) or by hand with
/// [`new`](Self::new).
#[derive(Clone)]
pub struct RequestHead {
    /// The head's bytes and the views into them, boxed: a head is moved several
    /// times on its way to a handler, and each move is then a pointer, not the
    /// few hundred bytes of inline header lines.
    parts: Box<HeadParts>,
    /// How many bytes of the buffer the head took, blank lines before the
    /// request line included; the body (or the next request) starts there.
    pub head_len: usize,
    /// How the body is delimited.
    pub body: BodyKind,
    /// Whether the connection may carry another request after this one:
    /// HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with
    /// `Connection: keep-alive` (and no `close`) and a body length the server
    /// can tell (`GET`, `HEAD` or `Content-Length`; never with
    /// `Transfer-Encoding`, faulty in HTTP/1.0); never with `no_keep_alive`.
    pub keep_alive: bool,
    /// Whether an HTTP/1.1 client sent `Expect: 100-continue` and waits for
    /// [`CONTINUE_RESPONSE`](super::CONTINUE_RESPONSE) before its body.
    pub expect_continue: bool,
    /// The parser already checked the `Host` header (so building an
    /// `HttpServerRequest` need not check it again).
    pub(crate) host_checked: bool,
}

impl RequestHead {
    /// Copies the head's bytes into an allocation of their own, so the head no
    /// longer keeps alive the (larger) read buffer it was parsed from: for a request
    /// that will be held a long time (a long poll). The views stay as they were.
    ///
    /// ```
    /// use tornado_httpserver::http1connection::{parse_request_head_bytes, Http1ConnectionParameters, Parsed};
    ///
    /// let mut buf = bytes::BytesMut::from(&b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"[..]);
    /// let Parsed::Complete(mut head) = parse_request_head_bytes(&mut buf, &Http1ConnectionParameters::default())? else {
    ///     unreachable!()
    /// };
    /// head.compact();
    /// assert_eq!(head.uri(), "/a");
    /// assert_eq!(head.headers().get("Host"), Some("x"));
    /// # Ok::<(), tornado_httpserver::ParseError>(())
    /// ```
    pub fn compact(&mut self) {
        let raw = shared_copy(&self.parts.raw);
        self.parts.headers.attach(raw.clone());
        self.parts.raw = raw;
    }

    /// A head built by hand (tests, proxies): no body, keep-alive by the
    /// version's default, no `Expect`. The target is copied.
    pub fn new(method: Method, uri: &str, version: Version, headers: HttpHeaders) -> Self {
        RequestHead {
            parts: Box::new(HeadParts {
                raw: Bytes::copy_from_slice(uri.as_bytes()),
                method,
                target: Target::new(0, uri),
                version,
                headers,
            }),
            head_len: 0,
            body: BodyKind::Empty,
            keep_alive: version == Version::HTTP_11,
            expect_continue: false,
            host_checked: false,
        }
    }

    /// The method; any token is accepted (an unknown one is the web layer's
    /// 405).
    pub fn method(&self) -> &Method {
        &self.parts.method
    }

    /// The request target as sent, e.g. `/search?q=tornado`.
    pub fn uri(&self) -> &str {
        self.text(self.parts.target.start..self.parts.target.end)
    }

    /// The part of the target before the first `?`.
    pub fn path(&self) -> &str {
        self.text(self.parts.target.start..self.parts.target.query)
    }

    /// The part of the target after the first `?` (empty when there is
    /// none).
    pub fn query(&self) -> &str {
        if self.parts.target.query < self.parts.target.end {
            self.text(self.parts.target.query + 1..self.parts.target.end)
        } else {
            ""
        }
    }

    /// HTTP/1.0 or HTTP/1.1.
    pub fn version(&self) -> Version {
        self.parts.version
    }

    /// The header lines.
    pub fn headers(&self) -> &HttpHeaders {
        &self.parts.headers
    }

    /// The header lines, to change (lines added are copied; the parsed ones
    /// stay views).
    pub fn headers_mut(&mut self) -> &mut HttpHeaders {
        &mut self.parts.headers
    }

    /// Whether the body is `Content-Encoding: gzip` (see
    /// [`GzipDecoder`](super::GzipDecoder)): all the header's lines together, as
    /// Tornado reads them, so `gzip` on two lines (`gzip, gzip`) is not one gzip layer.
    pub fn is_gzip_body(&self) -> bool {
        self.parts
            .headers
            .get_joined("Content-Encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("gzip"))
    }

    /// What the response encoder needs to know about this request.
    pub fn response_context(&self) -> super::ResponseContext {
        super::ResponseContext {
            head_request: self.parts.method == Method::HEAD,
            version: self.parts.version,
            keep_alive: self.keep_alive,
        }
    }

    /// `range` of the head as text; the parser checked that the target is
    /// UTF-8, and `new` took a `&str`, so this is never empty by mistake.
    fn text(&self, range: Range<usize>) -> &str {
        self.parts
            .raw
            .get(range)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default()
    }
}

impl fmt::Debug for RequestHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestHead")
            .field("method", &self.parts.method)
            .field("uri", &self.uri())
            .field("version", &self.parts.version)
            .field("headers", &self.parts.headers)
            .field("head_len", &self.head_len)
            .field("body", &self.body)
            .field("keep_alive", &self.keep_alive)
            .field("expect_continue", &self.expect_continue)
            .finish()
    }
}

/// Equal when method, target, version, headers and the parser's decisions
/// are; where the bytes came from does not matter.
impl PartialEq for RequestHead {
    fn eq(&self, other: &Self) -> bool {
        self.parts.method == other.parts.method
            && self.uri() == other.uri()
            && self.parts.version == other.parts.version
            && self.parts.headers == other.parts.headers
            && self.head_len == other.head_len
            && self.body == other.body
            && self.keep_alive == other.keep_alive
            && self.expect_continue == other.expect_continue
            && self.host_checked == other.host_checked
    }
}

impl Eq for RequestHead {}

/// A request head parsed in place: offsets into the buffer it was parsed
/// from, and the parser's decisions, without the bytes.
///
/// [`parse_request_layout`] makes it from a borrowed buffer (such as the
/// one an `IoStream` lends); [`attach`](Self::attach) then gives it the
/// head's bytes, split off that buffer without copying, and makes the
/// [`RequestHead`]. The header lines are kept inline up to four (in the one
/// allocation the layout has), spilling to a `Vec` beyond.
#[derive(Clone)]
pub struct HeadLayout {
    /// Method, target, version and headers (spans relative to the head's first
    /// byte), boxed already with no bytes attached: the layout is moved a few times
    /// on its way to [`attach`](Self::attach), and each move is then a few words,
    /// not the few hundred bytes of inline header lines.
    parts: Box<HeadParts>,
    /// How many bytes of the buffer the head takes, blank lines before the
    /// request line included: exactly the bytes to give to
    /// [`attach`](Self::attach).
    pub head_len: usize,
    body: BodyKind,
    keep_alive: bool,
    expect_continue: bool,
}

impl HeadLayout {
    /// Makes the [`RequestHead`] from the head's bytes: `raw` must be the
    /// first [`head_len`](Self::head_len) bytes of the buffer this layout
    /// was parsed from (other bytes give wrong or empty views, never a
    /// panic).
    pub fn attach(self, raw: Bytes) -> RequestHead {
        let mut parts = self.parts;
        parts.headers.attach(raw.clone());
        parts.raw = raw;
        RequestHead {
            parts,
            head_len: self.head_len,
            body: self.body,
            keep_alive: self.keep_alive,
            expect_continue: self.expect_continue,
            host_checked: true,
        }
    }
}

impl fmt::Debug for HeadLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeadLayout")
            .field("method", &self.parts.method)
            .field("target", &(self.parts.target.start..self.parts.target.end))
            .field("version", &self.parts.version)
            .field("header_lines", &self.parts.headers.len())
            .field("head_len", &self.head_len)
            .field("body", &self.body)
            .field("keep_alive", &self.keep_alive)
            .field("expect_continue", &self.expect_continue)
            .finish()
    }
}

/// Parses the request head at the start of `buf`, copying it into the
/// [`RequestHead`] it returns.
///
/// The checks, errors and [`Parsed::Partial`] rule are those of
/// [`parse_request_layout`]. A server that owns its read buffer uses
/// [`parse_request_head_bytes`] instead, which does not copy.
pub fn parse_request_head(
    buf: &[u8],
    params: &Http1ConnectionParameters,
) -> Result<Parsed<RequestHead>, ParseError> {
    Ok(match parse_request_layout(buf, params)? {
        Parsed::Complete(layout) => {
            let raw = Bytes::copy_from_slice(buf.get(..layout.head_len).unwrap_or_default());
            Parsed::Complete(layout.attach(raw))
        }
        Parsed::Partial => Parsed::Partial,
    })
}

/// Parses the request head at the start of `buf` and, when it is complete,
/// splits it off the front of `buf` without copying; the body (or the next
/// request) is then at the start of `buf`. On [`Parsed::Partial`] and on
/// error `buf` is left as it was.
///
/// The checks, errors and [`Parsed::Partial`] rule are those of
/// [`parse_request_layout`].
///
/// ```
/// use bytes::BytesMut;
/// use tornado_httpserver::http1connection::{parse_request_head_bytes, Http1ConnectionParameters, Parsed};
///
/// let mut buf = BytesMut::from(&b"GET /a?b=c HTTP/1.1\r\nHost: h\r\n\r\nNEXT"[..]);
/// let Parsed::Complete(head) = parse_request_head_bytes(&mut buf, &Http1ConnectionParameters::default())? else {
///     unreachable!("the head is complete")
/// };
/// assert_eq!((head.path(), head.query()), ("/a", "b=c"));
/// assert_eq!(head.headers().get("host"), Some("h"));
/// assert_eq!(&buf[..], b"NEXT");
/// # Ok::<(), tornado_httpserver::ParseError>(())
/// ```
pub fn parse_request_head_bytes(
    buf: &mut BytesMut,
    params: &Http1ConnectionParameters,
) -> Result<Parsed<RequestHead>, ParseError> {
    Ok(match parse_request_layout(buf, params)? {
        Parsed::Complete(layout) => {
            let raw = buf.split_to(layout.head_len.min(buf.len())).freeze();
            Parsed::Complete(layout.attach(raw))
        }
        Parsed::Partial => Parsed::Partial,
    })
}

/// Parses the request head at the start of `buf` into a [`HeadLayout`]:
/// offsets into `buf` and the parser's decisions, without copying any of
/// it. Give the first [`HeadLayout::head_len`] bytes of `buf` to
/// [`HeadLayout::attach`] to get the [`RequestHead`].
///
/// Blank lines before the request line are skipped (RFC 9112 section
/// 2.2). Headers go through `httparse` into a stack array of
/// [`MAX_HEADERS`] entries. Returns [`Parsed::Partial`] until the blank
/// line that ends the head has arrived; the caller keeps reading and calls
/// again with the whole buffer.
///
/// Strict, as the design asks; each error carries its status:
///
/// | input | status |
/// |---|---|
/// | head (from its request line: blank lines before it do not count) longer than `max_header_size` (or, blank lines included, than 2 GiB, whatever the setting), complete or not; blank lines alone longer than `max_header_size` | 431 |
/// | more than [`MAX_HEADERS`] header lines | 431 |
/// | request target longer than `max_request_target` | 414 |
/// | a well-formed `HTTP/x.y` version other than 1.0 and 1.1 | 505 |
/// | malformed request line (method not a token, bad target, bad version, extra spaces) | 400 |
/// | folded header line (obs-fold), bad header name or value, bare CR | 400 |
/// | `Content-Length` with `Transfer-Encoding` | 400 |
/// | `Content-Length` not all digits, or several different values | 400 |
/// | `Transfer-Encoding` whose last coding is not `chunked`, or with `chunked` twice or an empty element | 400 |
/// | `Transfer-Encoding` with another coding before `chunked` (`gzip, chunked`) | 501 |
/// | missing `Host` on HTTP/1.1, several `Host` lines, a `Host` with whitespace, a comma or other non-host characters | 400 |
///
/// Tornado 6.6 answers 400 to all of these; the 413, 414, 431, 501 and 505
/// statuses follow RFC 9110/9112 as `design.md` asks. Identical repeated
/// lengths (`Content-Length: 5, 5`, or two lines of `5`) are accepted as
/// Tornado does. A bare LF ending a head line is accepted (RFC 9112 allows
/// it and Tornado 6.6 still does); inside chunked framing it is not.
///
/// ```
/// use bytes::Bytes;
/// use tornado_httpserver::http1connection::{parse_request_layout, Http1ConnectionParameters, Parsed};
///
/// let buf = Bytes::from_static(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
/// let Parsed::Complete(layout) = parse_request_layout(&buf, &Http1ConnectionParameters::default())? else {
///     unreachable!("the head is complete")
/// };
/// let head = layout.attach(buf.slice(..)); // no copy
/// assert_eq!(head.uri(), "/a");
/// # Ok::<(), tornado_httpserver::ParseError>(())
/// ```
pub fn parse_request_layout(
    buf: &[u8],
    params: &Http1ConnectionParameters,
) -> Result<Parsed<HeadLayout>, ParseError> {
    // Spans into the head are 31-bit offsets.
    let max_header_size = params.max_header_size.min(MAX_SHARED_LEN - 1);
    let skip = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let data = &buf[skip..];
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let status = httparse::ParserConfig::default()
        .parse_request_with_uninit_headers(&mut req, data, &mut slots)
        .map_err(|e| parse_error(e, data))?;
    let n = match status {
        httparse::Status::Partial => {
            // Blank lines before the request line do not count: the server drops
            // them as they come when they arrive alone, so a head must be judged the
            // same whether they came with it or before it. Blank lines alone beyond
            // the limit are a flood that starts no request.
            let flood = data.is_empty() && buf.len() > max_header_size;
            if data.len() > max_header_size || flood || buf.len() >= MAX_SHARED_LEN {
                return Err(header_too_large(max_header_size));
            }
            // A target already longer than the limit is refused before its line ends
            // (so a huge target cannot be buffered up to the header limit); judged on
            // the target alone, as the complete line is, whatever the method's length.
            let first_line = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
            let line = &data[..first_line];
            let target_len = line.iter().position(|&b| b == b' ').map_or(0, |sp| {
                let rest = &line[sp + 1..];
                rest.iter().position(|&b| b == b' ').unwrap_or(rest.len())
            });
            if target_len > params.max_request_target {
                return Err(ParseError::new(
                    StatusCode::URI_TOO_LONG,
                    format!(
                        "request target longer than {} bytes",
                        params.max_request_target
                    ),
                ));
            }
            return Ok(Parsed::Partial);
        }
        httparse::Status::Complete(n) => n,
    };
    let head_len = skip + n;
    if n > max_header_size || head_len >= MAX_SHARED_LEN {
        return Err(header_too_large(max_header_size));
    }
    let (Some(method), Some(path), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(ParseError::bad_request("Malformed HTTP request line"));
    };
    if path.len() > params.max_request_target {
        return Err(ParseError::new(
            StatusCode::URI_TOO_LONG,
            format!(
                "request target longer than {} bytes",
                params.max_request_target
            ),
        ));
    }
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| ParseError::bad_request("Malformed HTTP request line: bad method"))?;
    let version = if minor == 0 {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    let target = Target::new(span_of(buf, path.as_bytes())?.start, path);

    let mut headers = HttpHeaders::new();
    let mut framing = Framing::default();
    for h in req.headers.iter() {
        let name = span_of(buf, h.name.as_bytes())?;
        let value = trim_ows(h.value);
        framing.note(h.name, value);
        // Most values are ASCII, which is checked a word at a time.
        let stored = if value.is_ascii() || std::str::from_utf8(value).is_ok() {
            headers.push_shared(name, span_of(buf, value)?)
        } else {
            // Tornado decodes header bytes as Latin-1: one char per byte.
            let text: String = value.iter().map(|&b| char::from(b)).collect();
            headers.push_shared_name(name, &text)
        };
        if !stored {
            return Err(header_too_large(max_header_size));
        }
    }
    let view = headers.view_over(buf);
    // The usual case, one Host line, is checked without looking for a second.
    if framing.hosts == 1 {
        validate_host_bytes(framing.host)?;
    } else {
        request_host(view.get_all("Host"), version)?;
    }
    // A length above `max_body_size` is refused when the body starts (413), not here:
    // the request's delegate may set a limit of its own first.
    let body = framing.body_kind(view)?;
    let keep_alive = !params.no_keep_alive
        && match version {
            Version::HTTP_11 => !framing.connection_close,
            // HTTP/1.0 keeps the connection only when asked to (and not also told to
            // close), with a body length it can tell from `Content-Length` (even 0,
            // as Tornado) or a method without a body. `Transfer-Encoding` in an
            // HTTP/1.0 request is faulty framing (RFC 9112 section 6.1): the message
            // is read, then the connection closes.
            _ => {
                framing.connection_keep_alive
                    && !framing.connection_close
                    && !framing.transfer_encoding
                    && (framing.content_length || method == Method::GET || method == Method::HEAD)
            }
        };
    let expect_continue = version == Version::HTTP_11 && framing.expect_continue;
    Ok(Parsed::Complete(HeadLayout {
        parts: Box::new(HeadParts {
            raw: Bytes::new(),
            method,
            target,
            version,
            headers,
        }),
        head_len,
        body,
        keep_alive,
        expect_continue,
    }))
}

/// Where `part` (a slice `httparse` returned) lies in `base`.
fn span_of(base: &[u8], part: &[u8]) -> Result<Range<usize>, ParseError> {
    let start = part.as_ptr().addr().wrapping_sub(base.as_ptr().addr());
    let end = start.wrapping_add(part.len());
    if start <= end && end <= base.len() {
        Ok(start..end)
    } else {
        Err(ParseError::bad_request("Malformed HTTP request"))
    }
}

/// `value` without the spaces and tabs around it.
fn trim_ows(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}

/// A copy of a request head in one allocation of a size class, with its count of
/// handles: cloning the [`Bytes`] made from it allocates nothing.
struct HeadCopy<const N: usize> {
    len: usize,
    data: [u8; N],
}

impl<const N: usize> AsRef<[u8]> for HeadCopy<N> {
    fn as_ref(&self) -> &[u8] {
        self.data.get(..self.len).unwrap_or_default()
    }
}

fn copy_into<const N: usize>(src: &[u8]) -> Bytes {
    let mut data = [0; N];
    data[..src.len()].copy_from_slice(src);
    Bytes::from_owner(HeadCopy {
        len: src.len(),
        data,
    })
}

/// `src` copied into a [`Bytes`] whose first clone does not allocate (a copy made
/// with `Bytes::copy_from_slice` allocates again when first cloned): one allocation
/// for a head of up to 2 KiB, in size classes at most half again as large as the
/// head, and two above that.
fn shared_copy(src: &[u8]) -> Bytes {
    match src.len() {
        0..=64 => copy_into::<64>(src),
        65..=128 => copy_into::<128>(src),
        129..=192 => copy_into::<192>(src),
        193..=256 => copy_into::<256>(src),
        257..=384 => copy_into::<384>(src),
        385..=512 => copy_into::<512>(src),
        513..=768 => copy_into::<768>(src),
        769..=1024 => copy_into::<1024>(src),
        1025..=1536 => copy_into::<1536>(src),
        1537..=2048 => copy_into::<2048>(src),
        _ => Bytes::copy_from_slice(src),
    }
}

fn header_too_large(max_header_size: usize) -> ParseError {
    ParseError::new(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        format!("request head larger than {max_header_size} bytes"),
    )
}

/// What the header lines say about framing and the connection, gathered in
/// the one pass over them.
#[derive(Default)]
struct Framing<'a> {
    hosts: usize,
    /// The value of the (last) `Host` line.
    host: &'a [u8],
    content_length: bool,
    transfer_encoding: bool,
    connection_close: bool,
    connection_keep_alive: bool,
    expect_continue: bool,
}

impl<'a> Framing<'a> {
    /// Notes a header line; `value` is its raw bytes, trimmed (the tokens looked for
    /// are ASCII, so they compare the same on the bytes as on the decoded text).
    fn note(&mut self, name: &str, value: &'a [u8]) {
        // Dispatch on the length first: most headers match none of these names.
        match name.len() {
            4 if name.eq_ignore_ascii_case("host") => {
                self.hosts += 1;
                self.host = value;
            }
            14 if name.eq_ignore_ascii_case("content-length") => self.content_length = true,
            17 if name.eq_ignore_ascii_case("transfer-encoding") => {
                self.transfer_encoding = true;
            }
            10 if name.eq_ignore_ascii_case("connection") => {
                for token in value.split(|&b| b == b',').map(trim_ows) {
                    if token.eq_ignore_ascii_case(b"close") {
                        self.connection_close = true;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        self.connection_keep_alive = true;
                    }
                }
            }
            6 if name.eq_ignore_ascii_case("expect") => {
                self.expect_continue |= value.eq_ignore_ascii_case(b"100-continue");
            }
            _ => {}
        }
    }

    fn body_kind(&self, headers: HeadersView<'_>) -> Result<BodyKind, ParseError> {
        if self.transfer_encoding {
            if self.content_length {
                return Err(ParseError::bad_request(
                    "Message with both Transfer-Encoding and Content-Length",
                ));
            }
            check_transfer_encoding(headers)?;
            return Ok(BodyKind::Chunked);
        }
        if !self.content_length {
            return Ok(BodyKind::Empty);
        }
        let length = content_length(headers)?;
        Ok(if length == 0 {
            BodyKind::Empty
        } else {
            BodyKind::Length(length)
        })
    }
}

/// Accepts exactly one `chunked` coding, last, with nothing else.
fn check_transfer_encoding(headers: HeadersView<'_>) -> Result<(), ParseError> {
    let mut codings = 0;
    let mut chunked = 0;
    let mut last_is_chunked = false;
    for line in headers.get_all("Transfer-Encoding") {
        for coding in line.split(',').map(|c| c.trim_matches([' ', '\t'])) {
            if coding.is_empty() {
                return Err(ParseError::bad_request(format!(
                    "Malformed Transfer-Encoding {line:?}"
                )));
            }
            codings += 1;
            last_is_chunked = coding.eq_ignore_ascii_case("chunked");
            chunked += usize::from(last_is_chunked);
        }
    }
    let joined = headers.get_joined("Transfer-Encoding").unwrap_or_default();
    if !last_is_chunked || chunked > 1 {
        return Err(ParseError::bad_request(format!(
            "Unsupported Transfer-Encoding {joined}: chunked must be the only and final coding"
        )));
    }
    if codings > 1 {
        return Err(ParseError::new(
            StatusCode::NOT_IMPLEMENTED,
            format!("Unsupported Transfer-Encoding {joined}: only chunked is implemented"),
        ));
    }
    Ok(())
}

/// The value of the `Content-Length` line(s): digits only; repeats (in one
/// line, `, `-separated, or in several lines) must be identical.
fn content_length(headers: HeadersView<'_>) -> Result<u64, ParseError> {
    let mut value: Option<&str> = None;
    for line in headers.get_all("Content-Length") {
        for piece in line.split(',') {
            let piece = piece.trim_start_matches([' ', '\t']);
            match value {
                None => value = Some(piece),
                Some(first) if first == piece => {}
                Some(_) => {
                    return Err(ParseError::bad_request(format!(
                        "Multiple unequal Content-Lengths: {:?}",
                        headers.get_joined("Content-Length").unwrap_or_default()
                    )));
                }
            }
        }
    }
    let value = value.unwrap_or("");
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::bad_request(format!(
            "Only integer Content-Length is allowed: {value:?}"
        )));
    }
    // All digits: the only failure left is overflow, which no max_body_size
    // allows.
    value.parse::<u64>().map_err(|_| {
        ParseError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Content-Length {value} too large"),
        )
    })
}

fn parse_error(err: httparse::Error, data: &[u8]) -> ParseError {
    let head_end = data
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(data.len());
    let head = &data[..head_end];
    match err {
        httparse::Error::TooManyHeaders => ParseError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("more than {MAX_HEADERS} header lines"),
        ),
        httparse::Error::Version => {
            let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
            let line = head[..line_end]
                .strip_suffix(b"\r")
                .unwrap_or(&head[..line_end]);
            // Only a well-formed line (method, target, version: two spaces) with an
            // unsupported version is a 505; `GET /a b HTTP/1.1` is a bad line, a 400.
            let well_formed = line.iter().filter(|&&b| b == b' ').count() == 2;
            match line.rsplit(|&b| b == b' ').next() {
                Some([b'H', b'T', b'T', b'P', b'/', major, b'.', minor])
                    if well_formed && major.is_ascii_digit() && minor.is_ascii_digit() =>
                {
                    ParseError::new(
                        StatusCode::HTTP_VERSION_NOT_SUPPORTED,
                        format!(
                            "Unexpected HTTP version HTTP/{}.{}",
                            char::from(*major),
                            char::from(*minor)
                        ),
                    )
                }
                _ => ParseError::bad_request("Malformed HTTP request line: bad version"),
            }
        }
        httparse::Error::Token => ParseError::bad_request("Malformed HTTP request line"),
        httparse::Error::HeaderName | httparse::Error::HeaderValue | httparse::Error::NewLine
            if head
                .windows(2)
                .any(|w| w[0] == b'\n' && (w[1] == b' ' || w[1] == b'\t')) =>
        {
            ParseError::bad_request(
                "header line starts with whitespace: folded headers are not supported",
            )
        }
        httparse::Error::HeaderName => ParseError::bad_request("invalid header name"),
        httparse::Error::HeaderValue => {
            ParseError::bad_request("invalid character in header value")
        }
        httparse::Error::NewLine => {
            ParseError::bad_request("malformed line ending in request head")
        }
        other => ParseError::bad_request(format!("Malformed HTTP request: {other}")),
    }
}
