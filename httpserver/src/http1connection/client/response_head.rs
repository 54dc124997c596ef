//! Parsing a response head (status line and header block) strictly, and
//! deciding how the body that follows is framed (RFC 9112 section 6.3).

use std::borrow::Cow;
use std::mem::MaybeUninit;

use http::{StatusCode, Version};

use super::error::{ClientError, ClientErrorKind};
use crate::http1connection::MAX_HEADERS;
use crate::httputil::{HttpHeaders, bytes_to_str};

/// A response's status line and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
    /// The status code (three digits, 100 to 999).
    pub status: StatusCode,
    /// The reason phrase as sent (possibly empty), decoded as UTF-8 or else
    /// Latin-1.
    pub reason: String,
    /// The header lines, in order. When the connection decompresses the
    /// body, `Content-Encoding` is renamed `X-Consumed-Content-Encoding`,
    /// as Tornado does, since the body handed out is no longer encoded.
    pub headers: HttpHeaders,
}

impl ResponseHead {
    /// Whether this is an interim response (1xx other than
    /// `101 Switching Protocols`), to be followed by another head.
    pub fn is_informational(&self) -> bool {
        self.status.is_informational() && self.status != StatusCode::SWITCHING_PROTOCOLS
    }
}

/// What the header lines say about framing and the connection, gathered in
/// the one pass that copies them.
#[derive(Debug, Default)]
pub(super) struct HeadNotes {
    pub(super) content_length: bool,
    pub(super) transfer_encoding: bool,
    pub(super) connection_close: bool,
    pub(super) connection_keep_alive: bool,
}

impl HeadNotes {
    fn note(&mut self, name: &str, value: &str) {
        match name.len() {
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
            _ => {}
        }
    }
}

/// A parsed head and how many bytes of the buffer it took.
#[derive(Debug)]
pub(super) struct ParsedHead {
    pub(super) head: ResponseHead,
    pub(super) notes: HeadNotes,
    pub(super) len: usize,
}

/// Parses the response head at the start of `buf`; `Ok(None)` until the
/// blank line that ends it has arrived.
///
/// Blank lines before the status line are skipped, as Tornado does. Strict:
///
/// | input | error |
/// |---|---|
/// | head (blank lines included) longer than `max_header_size`, complete or not | header too large |
/// | more header lines than `max_header_size` bytes can hold (none: only the size counts) | header too large |
/// | a version other than `HTTP/1.0` and `HTTP/1.1` | parse |
/// | a status that is not three digits, or below 100 | parse |
/// | no space between version and status, a control character in the reason | parse |
/// | a header block that starts with whitespace, a name that is not a token, space before the colon | parse |
/// | a control character other than tab in a value (a bare CR included) | parse |
///
/// `HTTP/1.1 200\r\n` (no reason, no space) is accepted, as `httparse` and
/// hyper do; Tornado wants the space. A bare LF ending a line is accepted,
/// as RFC 9112 allows. A header line continued on lines that start with
/// whitespace (obs-fold) is unfolded, each fold becoming one space: RFC 9112
/// section 5.2 requires it of a user agent, and Tornado's client does it.
pub(super) fn parse_response_head(
    buf: &[u8],
    max_header_size: usize,
) -> Result<Option<ParsedHead>, ClientError> {
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    match parse_into(buf, max_header_size, &mut slots) {
        Err(Failed::TooManyLines) => {
            // Tornado limits a response head by size only: a head of more lines (150
            // `Set-Cookie`, say) is parsed again with a slot for every line that
            // `max_header_size` bytes can hold.
            let within = &buf[..buf.len().min(max_header_size.saturating_add(1))];
            let lines = within.iter().filter(|&&b| b == b'\n').count() + 1;
            let mut slots: Vec<MaybeUninit<httparse::Header<'_>>> = Vec::new();
            slots.resize_with(lines, MaybeUninit::uninit);
            parse_into(buf, max_header_size, &mut slots).map_err(|e| match e {
                // More lines than the size holds: the size is what is exceeded.
                Failed::TooManyLines => header_too_large(max_header_size),
                Failed::Client(e) => e,
            })
        }
        Err(Failed::Client(e)) => Err(e),
        Ok(head) => Ok(head),
    }
}

/// Why [`parse_into`] gave up.
enum Failed {
    /// More header lines than slots.
    TooManyLines,
    Client(ClientError),
}

impl From<ClientError> for Failed {
    fn from(e: ClientError) -> Self {
        Failed::Client(e)
    }
}

fn parse_into<'b>(
    buf: &'b [u8],
    max_header_size: usize,
    slots: &mut [MaybeUninit<httparse::Header<'b>>],
) -> Result<Option<ParsedHead>, Failed> {
    let mut resp = httparse::Response::new(&mut []);
    let status = httparse::ParserConfig::default()
        .allow_obsolete_multiline_headers_in_responses(true)
        .parse_response_with_uninit_headers(&mut resp, buf, slots)
        .map_err(|e| match e {
            httparse::Error::TooManyHeaders => Failed::TooManyLines,
            e => Failed::Client(parse_error(e, buf)),
        })?;
    let len = match status {
        httparse::Status::Partial if buf.len() > max_header_size => {
            return Err(header_too_large(max_header_size).into());
        }
        httparse::Status::Partial => return Ok(None),
        httparse::Status::Complete(len) => len,
    };
    if len > max_header_size {
        return Err(header_too_large(max_header_size).into());
    }
    let (Some(minor), Some(code)) = (resp.version, resp.code) else {
        return Err(ClientError::parse("malformed response status line").into());
    };
    let version = if minor == 0 {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    let status = StatusCode::from_u16(code)
        .map_err(|_| ClientError::parse(format!("invalid response status code {code:03}")))?;
    let reason = reason_phrase(buf);

    let bytes: usize = resp
        .headers
        .iter()
        .map(|h| h.name.len() + h.value.len())
        .sum();
    let mut headers = HttpHeaders::with_capacity(resp.headers.len(), bytes);
    let mut notes = HeadNotes::default();
    for h in resp.headers.iter() {
        let mut value = bytes_to_str(h.value);
        if value.contains('\n') {
            value = Cow::Owned(unfold(&value));
        }
        let value = value.trim_matches([' ', '\t']);
        notes.note(h.name, value);
        headers.add(h.name, value);
    }
    Ok(Some(ParsedHead {
        head: ResponseHead {
            version,
            status,
            reason,
            headers,
        },
        notes,
        len,
    }))
}

/// Joins the lines of a folded header value with one space each.
fn unfold(value: &str) -> String {
    value
        .split('\n')
        .map(|line| line.trim_matches([' ', '\t', '\r']))
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The reason phrase of the (already validated) status line at the start
/// of `buf`: what follows `HTTP/1.x NNN `. `httparse` gives an empty reason
/// for one with non-ASCII bytes; this keeps it, decoded as Latin-1.
fn reason_phrase(buf: &[u8]) -> String {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let line = buf.get(start..).unwrap_or_default();
    let end = line.iter().position(|&b| b == b'\n').unwrap_or(line.len());
    let line = line.get(..end).unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    // `HTTP/1.1 200 ` is 13 bytes.
    bytes_to_str(line.get(13..).unwrap_or_default()).into_owned()
}

fn header_too_large(max_header_size: usize) -> ClientError {
    ClientError::new(
        ClientErrorKind::HeaderTooLarge,
        format!("response head larger than {max_header_size} bytes"),
    )
}

fn parse_error(err: httparse::Error, buf: &[u8]) -> ClientError {
    // Folds are unfolded, but the first header line cannot continue the
    // status line.
    let folded = || {
        let start = buf
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .unwrap_or(buf.len());
        let rest = buf.get(start..).unwrap_or_default();
        rest.iter()
            .position(|&b| b == b'\n')
            .and_then(|end| rest.get(end + 1))
            .is_some_and(|&b| b == b' ' || b == b'\t')
    };
    match err {
        httparse::Error::TooManyHeaders => ClientError::new(
            ClientErrorKind::HeaderTooLarge,
            format!(
                "more header lines in the response than its size allows ({MAX_HEADERS} at first)"
            ),
        ),
        httparse::Error::Version => {
            let start = buf
                .iter()
                .position(|&b| b != b'\r' && b != b'\n')
                .unwrap_or(buf.len());
            let version = buf.get(start..).unwrap_or_default();
            let end = version
                .iter()
                .position(|&b| b == b' ' || b == b'\r' || b == b'\n')
                .unwrap_or(version.len())
                .min(16);
            ClientError::parse(format!(
                "unsupported or malformed HTTP version {:?} in the response",
                bytes_to_str(version.get(..end).unwrap_or_default())
            ))
        }
        httparse::Error::Status => ClientError::parse("malformed response status line"),
        httparse::Error::HeaderName | httparse::Error::HeaderValue | httparse::Error::NewLine
            if folded() =>
        {
            ClientError::parse(
                "the first response header line starts with whitespace: there is no header to fold it into",
            )
        }
        httparse::Error::HeaderName => ClientError::parse("invalid header name in the response"),
        httparse::Error::HeaderValue => {
            ClientError::parse("invalid character in a response header value")
        }
        httparse::Error::NewLine => {
            ClientError::parse("malformed line ending in the response head")
        }
        other => ClientError::parse(format!("malformed response head: {other}")),
    }
}
