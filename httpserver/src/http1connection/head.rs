//! Parsing a request head: request line and header block, strictly.

use std::mem::MaybeUninit;

use http::{Method, StatusCode, Version};

use super::params::{Http1ConnectionParameters, MAX_HEADERS};
use crate::error::ParseError;
use crate::httputil::{HttpHeaders, bytes_to_str, request_host, validate_host};

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

/// A parsed request head, with the framing and connection decisions made
/// from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method; any token is accepted (an unknown one is the web layer's
    /// 405).
    pub method: Method,
    /// The request target as sent.
    pub uri: String,
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
    /// The header lines.
    pub headers: HttpHeaders,
    /// How many bytes of the buffer the head took, blank lines before the
    /// request line included; the body (or the next request) starts there.
    pub head_len: usize,
    /// How the body is delimited.
    pub body: BodyKind,
    /// Whether the connection may carry another request after this one:
    /// HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with
    /// `Connection: keep-alive` and a body length the server can tell
    /// (`GET`, `HEAD`, `Content-Length` or chunked); never with
    /// `no_keep_alive`.
    pub keep_alive: bool,
    /// Whether an HTTP/1.1 client sent `Expect: 100-continue` and waits for
    /// [`CONTINUE_RESPONSE`](super::CONTINUE_RESPONSE) before its body.
    pub expect_continue: bool,
    /// The parser already checked the `Host` header (so building an
    /// `HttpServerRequest` need not check it again).
    pub(crate) host_checked: bool,
}

impl RequestHead {
    /// A head built by hand (tests, proxies): no body, keep-alive by the
    /// version's default, no `Expect`.
    pub fn new(method: Method, uri: String, version: Version, headers: HttpHeaders) -> Self {
        RequestHead {
            method,
            uri,
            version,
            headers,
            head_len: 0,
            body: BodyKind::Empty,
            keep_alive: version == Version::HTTP_11,
            expect_continue: false,
            host_checked: false,
        }
    }

    /// Whether the body is `Content-Encoding: gzip` (see
    /// [`GzipDecoder`](super::GzipDecoder)).
    pub fn is_gzip_body(&self) -> bool {
        self.headers
            .get("Content-Encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("gzip"))
    }

    /// What the response encoder needs to know about this request.
    pub fn response_context(&self) -> super::ResponseContext {
        super::ResponseContext {
            head_request: self.method == Method::HEAD,
            version: self.version,
            keep_alive: self.keep_alive,
        }
    }
}

/// Parses the request head at the start of `buf`.
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
/// | head (blank lines included) longer than `max_header_size`, complete or not | 431 |
/// | more than [`MAX_HEADERS`] header lines | 431 |
/// | request target longer than `max_request_target` | 414 |
/// | a well-formed `HTTP/x.y` version other than 1.0 and 1.1 | 505 |
/// | malformed request line (method not a token, bad target, bad version, extra spaces) | 400 |
/// | folded header line (obs-fold), bad header name or value, bare CR | 400 |
/// | `Content-Length` with `Transfer-Encoding` | 400 |
/// | `Content-Length` not all digits, or several different values | 400 |
/// | `Content-Length` above `max_body_size` | 413 |
/// | `Transfer-Encoding` whose last coding is not `chunked`, or with `chunked` twice or an empty element | 400 |
/// | `Transfer-Encoding` with another coding before `chunked` (`gzip, chunked`) | 501 |
/// | missing `Host` on HTTP/1.1, several `Host` lines, a `Host` with whitespace, a comma or other non-host characters | 400 |
///
/// Tornado 6.6 answers 400 to all of these; the 413, 414, 431, 501 and 505
/// statuses follow RFC 9110/9112 as `design.md` asks. Identical repeated
/// lengths (`Content-Length: 5, 5`, or two lines of `5`) are accepted as
/// Tornado does. A bare LF ending a head line is accepted (RFC 9112 allows
/// it and Tornado 6.6 still does); inside chunked framing it is not.
pub fn parse_request_head(
    buf: &[u8],
    params: &Http1ConnectionParameters,
) -> Result<Parsed<RequestHead>, ParseError> {
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
            if buf.len() > params.max_header_size {
                return Err(header_too_large(params));
            }
            let first_line = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
            if first_line > params.max_request_target + 32 {
                return Err(ParseError::new(
                    StatusCode::URI_TOO_LONG,
                    format!(
                        "request line longer than {} bytes",
                        params.max_request_target
                    ),
                ));
            }
            return Ok(Parsed::Partial);
        }
        httparse::Status::Complete(n) => n,
    };
    let head_len = skip + n;
    if head_len > params.max_header_size {
        return Err(header_too_large(params));
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

    let bytes: usize = req
        .headers
        .iter()
        .map(|h| h.name.len() + h.value.len())
        .sum();
    let mut headers = HttpHeaders::with_capacity(req.headers.len(), bytes);
    let mut framing = Framing::default();
    for h in req.headers.iter() {
        let value = bytes_to_str(h.value);
        let value = value.trim_matches([' ', '\t']);
        framing.note(h.name, value);
        headers.add(h.name, value);
    }
    // The usual case, one Host line, is checked here without searching the headers.
    if framing.hosts == 1 {
        let host = headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("host"));
        if let Some((_, value)) = host {
            validate_host(value)?;
        }
    } else {
        request_host(&headers, version)?;
    }
    let body = framing.body_kind(&headers, params.max_body_size)?;
    let keep_alive = !params.no_keep_alive
        && match version {
            Version::HTTP_11 => !framing.connection_close,
            _ => {
                framing.connection_keep_alive
                    && (body != BodyKind::Empty || method == Method::GET || method == Method::HEAD)
            }
        };
    let expect_continue = version == Version::HTTP_11 && framing.expect_continue;
    Ok(Parsed::Complete(RequestHead {
        method,
        uri: path.to_string(),
        version,
        headers,
        head_len,
        body,
        keep_alive,
        expect_continue,
        host_checked: true,
    }))
}

fn header_too_large(params: &Http1ConnectionParameters) -> ParseError {
    ParseError::new(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        format!("request head larger than {} bytes", params.max_header_size),
    )
}

/// What the header lines say about framing and the connection, gathered in
/// the one pass that copies them.
#[derive(Default)]
struct Framing {
    hosts: usize,
    content_length: bool,
    transfer_encoding: bool,
    connection_close: bool,
    connection_keep_alive: bool,
    expect_continue: bool,
}

impl Framing {
    fn note(&mut self, name: &str, value: &str) {
        // Dispatch on the length first: most headers match none of these names.
        match name.len() {
            4 if name.eq_ignore_ascii_case("host") => self.hosts += 1,
            14 if name.eq_ignore_ascii_case("content-length") => self.content_length = true,
            17 if name.eq_ignore_ascii_case("transfer-encoding") => {
                self.transfer_encoding = true;
            }
            10 if name.eq_ignore_ascii_case("connection") => {
                for token in value.split(',').map(|t| t.trim_matches([' ', '\t'])) {
                    if token.eq_ignore_ascii_case("close") {
                        self.connection_close = true;
                    } else if token.eq_ignore_ascii_case("keep-alive") {
                        self.connection_keep_alive = true;
                    }
                }
            }
            6 if name.eq_ignore_ascii_case("expect") => {
                self.expect_continue |= value.eq_ignore_ascii_case("100-continue");
            }
            _ => {}
        }
    }

    fn body_kind(&self, headers: &HttpHeaders, max_body_size: u64) -> Result<BodyKind, ParseError> {
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
        if length > max_body_size {
            return Err(ParseError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("Content-Length {length} larger than max_body_size {max_body_size}"),
            ));
        }
        Ok(if length == 0 {
            BodyKind::Empty
        } else {
            BodyKind::Length(length)
        })
    }
}

/// Accepts exactly one `chunked` coding, last, with nothing else.
fn check_transfer_encoding(headers: &HttpHeaders) -> Result<(), ParseError> {
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
fn content_length(headers: &HttpHeaders) -> Result<u64, ParseError> {
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
