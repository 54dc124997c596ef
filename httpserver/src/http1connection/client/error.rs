//! [`ClientError`]: what was wrong with a server's response, for the client
//! role of the connection.

use std::borrow::Cow;
use std::fmt;

use http::StatusCode;

use crate::error::ParseError;

/// What a [`ClientError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientErrorKind {
    /// The response is malformed: its status line, a header line, its body
    /// framing, a chunk, or bytes that arrived when no response was due.
    Parse,
    /// The response head is larger than `max_header_size` (however many lines it
    /// has, as in Tornado), or its chunked trailer is larger than
    /// [`MAX_TRAILER_SIZE`](crate::http1connection::MAX_TRAILER_SIZE).
    HeaderTooLarge,
    /// The body (raw, or decompressed when decompressing) is larger than
    /// `max_body_size`.
    BodyTooLarge,
    /// A `gzip` or `deflate` body is corrupt, truncated or followed by
    /// garbage.
    Decompress,
    /// The connection closed before the response was complete.
    ClosedEarly,
}

/// A response the client cannot accept (Tornado raises `HTTPInputError` or
/// `StreamClosedError` for these; the HTTP client reports them as 599).
///
/// One opaque type with predicates, as hyper does: [`is_parse`](Self::is_parse),
/// [`is_body_too_large`](Self::is_body_too_large),
/// [`is_closed_early`](Self::is_closed_early), … The `Display` message says
/// what was wrong. After an error the connection is spent: close it.
///
/// The client side does not reuse [`ParseError`]: a parse error carries the
/// status a *server* answers with, which means nothing to a client, and a
/// client has failures a server does not (a connection closed before the
/// response was complete, a corrupt compressed body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientError {
    kind: ClientErrorKind,
    message: Cow<'static, str>,
}

impl ClientError {
    pub(crate) fn new(kind: ClientErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        ClientError {
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn parse(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ClientErrorKind::Parse, message)
    }

    pub(crate) fn closed_early(what: &str) -> Self {
        Self::new(
            ClientErrorKind::ClosedEarly,
            format!("connection closed before the response was complete ({what})"),
        )
    }

    pub(crate) fn body_too_large(max_body_size: u64) -> Self {
        Self::new(
            ClientErrorKind::BodyTooLarge,
            format!("response body larger than max_body_size {max_body_size}"),
        )
    }

    /// What went wrong.
    pub fn kind(&self) -> ClientErrorKind {
        self.kind
    }

    /// What was wrong, in words.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The response was malformed (its head, framing or chunks), including
    /// a head that is too large.
    pub fn is_parse(&self) -> bool {
        matches!(
            self.kind,
            ClientErrorKind::Parse | ClientErrorKind::HeaderTooLarge
        )
    }

    /// The response head (or chunked trailer) was larger than the limit.
    pub fn is_header_too_large(&self) -> bool {
        self.kind == ClientErrorKind::HeaderTooLarge
    }

    /// The body was larger than `max_body_size`.
    pub fn is_body_too_large(&self) -> bool {
        self.kind == ClientErrorKind::BodyTooLarge
    }

    /// A compressed body could not be decoded.
    pub fn is_decompress(&self) -> bool {
        self.kind == ClientErrorKind::Decompress
    }

    /// The connection closed before the response was complete.
    pub fn is_closed_early(&self) -> bool {
        self.kind == ClientErrorKind::ClosedEarly
    }
}

/// The shared decoders ([`ChunkedDecoder`](crate::http1connection::ChunkedDecoder))
/// report server-side statuses; the client keeps their message and maps
/// the status to a kind.
impl From<ParseError> for ClientError {
    fn from(err: ParseError) -> Self {
        let kind = match err.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ClientErrorKind::BodyTooLarge,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => ClientErrorKind::HeaderTooLarge,
            _ => ClientErrorKind::Parse,
        };
        ClientError::new(kind, err.reason().to_owned())
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ClientError {}
