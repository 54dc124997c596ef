//! The crate's error types: [`ParseError`] for bad input from a peer,
//! [`OutputError`] for a response that would put bad framing on the wire, and
//! [`BodyStartedError`] for a request's body limit changed after its body started.

use std::borrow::Cow;
use std::fmt;

use http::StatusCode;

/// Bad input from the peer: a malformed request head, body, chunk, form or
/// header block.
///
/// Every parse error knows the status the server should answer with (400,
/// 413, 414, 431, 501 or 505) before it closes the connection; see
/// [`status`](ParseError::status) and the predicates. The `Display`
/// message says what was wrong, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    status: StatusCode,
    reason: Cow<'static, str>,
}

impl ParseError {
    /// An error answered with `status`; `reason` says what was wrong.
    pub fn new(status: StatusCode, reason: impl Into<Cow<'static, str>>) -> Self {
        ParseError {
            status,
            reason: reason.into(),
        }
    }

    /// A `400 Bad Request` error.
    pub fn bad_request(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason)
    }

    /// The status code to answer with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// What was wrong, in words.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The input was malformed (400).
    pub fn is_bad_request(&self) -> bool {
        self.status == StatusCode::BAD_REQUEST
    }

    /// The body is larger than `max_body_size` (413).
    pub fn is_body_too_large(&self) -> bool {
        self.status == StatusCode::PAYLOAD_TOO_LARGE
    }

    /// The request target is longer than the limit (414).
    pub fn is_uri_too_long(&self) -> bool {
        self.status == StatusCode::URI_TOO_LONG
    }

    /// The header block is larger than `max_header_size` or has too many
    /// lines (431).
    pub fn is_header_too_large(&self) -> bool {
        self.status == StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    }

    /// The request uses a feature this server does not implement, such as a
    /// transfer coding other than `chunked` (501).
    pub fn is_not_implemented(&self) -> bool {
        self.status == StatusCode::NOT_IMPLEMENTED
    }

    /// The request names an HTTP version other than 1.0 and 1.1 (505).
    pub fn is_version_not_supported(&self) -> bool {
        self.status == StatusCode::HTTP_VERSION_NOT_SUPPORTED
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.reason, self.status)
    }
}

impl std::error::Error for ParseError {}

/// A per-request limit changed too late: the request's body is already being read (or
/// was read), so the limit it is read under stands. See
/// [`ResponseWriter::set_max_body_size`](crate::ResponseWriter::set_max_body_size).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyStartedError(());

impl BodyStartedError {
    pub(crate) fn new() -> Self {
        BodyStartedError(())
    }
}

impl fmt::Display for BodyStartedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("set_max_body_size: the request body is already being read or was read")
    }
}

impl std::error::Error for BodyStartedError {}

/// What an [`OutputError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutputErrorKind {
    /// The handler wrote more bytes than its declared `Content-Length`.
    TooMuchData,
    /// The handler finished with fewer bytes than its declared
    /// `Content-Length`.
    TooLittleData,
    /// A header name, value or reason phrase would break the framing (CR,
    /// LF or NUL), or a `Content-Length` header is not a number.
    InvalidHeader,
    /// A body was written to a response that cannot carry one (HEAD, 1xx,
    /// 204, 304), or after `finish`.
    BodyNotAllowed,
}

/// A response that would put bad framing on the wire (Tornado's
/// `HTTPOutputError`).
///
/// Nothing of the offending write has been appended to the output buffer;
/// the connection should be closed, since the peer has already seen a
/// header block that promised something else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputError {
    kind: OutputErrorKind,
    message: String,
}

impl OutputError {
    pub(crate) fn new(kind: OutputErrorKind, message: impl Into<String>) -> Self {
        OutputError {
            kind,
            message: message.into(),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> OutputErrorKind {
        self.kind
    }
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for OutputError {}
