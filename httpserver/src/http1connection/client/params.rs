//! Limits and options of the client role of one HTTP/1.x connection.

use crate::http1connection::{DEFAULT_CHUNK_SIZE, DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_HEADER_SIZE};

/// The most interim (1xx) responses one request may get before its final
/// response (10, as in Tornado); more is a parse error.
pub const MAX_INFORMATIONAL_RESPONSES: usize = 10;

/// Limits and options of a [`ClientConnection`](super::ClientConnection)
/// (the client half of Tornado's `HTTP1ConnectionParameters`). `Default`
/// gives the documented constants.
///
/// The server's [`Http1ConnectionParameters`](crate::http1connection::Http1ConnectionParameters)
/// is not reused: half of its fields (request-target limit, keep-alive
/// switch, timeouts) mean nothing to a client, and the timeouts are the
/// driver's timers anyway. A pooled connection carries requests with
/// different options, so change these between requests with
/// [`ClientConnection::params_mut`](super::ClientConnection::params_mut);
/// a change applies from the next response head on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Http1ClientParameters {
    /// The largest response head, in bytes, blank lines before the status
    /// line included ([`DEFAULT_MAX_HEADER_SIZE`]).
    pub max_header_size: usize,
    /// The largest response body, in bytes ([`DEFAULT_MAX_BODY_SIZE`]). The
    /// body as it arrives must fit, and so must the decoded body when
    /// [`decompress`](Self::decompress) decodes it.
    pub max_body_size: u64,
    /// The most bytes one [`ClientEvent::Data`](super::ClientEvent::Data)
    /// carries ([`DEFAULT_CHUNK_SIZE`]).
    pub chunk_size: usize,
    /// Decode `Content-Encoding: gzip` (or `x-gzip`) and `deflate` bodies
    /// (Tornado's `decompress_response`, which the HTTP client turns on by
    /// default). Off here, so the state machine hands out the bytes as sent
    /// unless asked.
    pub decompress: bool,
}

impl Default for Http1ClientParameters {
    fn default() -> Self {
        Http1ClientParameters {
            max_header_size: DEFAULT_MAX_HEADER_SIZE,
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            chunk_size: DEFAULT_CHUNK_SIZE,
            decompress: false,
        }
    }
}
