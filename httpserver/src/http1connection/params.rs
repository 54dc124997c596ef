//! Limits and timeouts of one HTTP/1.x connection.

use std::time::Duration;

/// The most header lines a request head may have (100); more is a 431.
/// The parser keeps them in a stack array of this size.
pub const MAX_HEADERS: usize = 100;

/// Default [`Http1ConnectionParameters::max_header_size`]: 64 KiB, as in
/// Tornado.
pub const DEFAULT_MAX_HEADER_SIZE: usize = 64 * 1024;

/// Default [`Http1ConnectionParameters::max_body_size`]: 100 MiB, as in
/// Tornado.
pub const DEFAULT_MAX_BODY_SIZE: u64 = 100 * 1024 * 1024;

/// Default [`Http1ConnectionParameters::max_request_target`]: 8 KiB, the
/// size of nginx's default large header buffer; a longer target is a 414.
pub const DEFAULT_MAX_REQUEST_TARGET: usize = 8 * 1024;

/// Default [`Http1ConnectionParameters::chunk_size`]: 64 KiB, as in
/// Tornado.
pub const DEFAULT_CHUNK_SIZE: usize = 64 * 1024;

/// Default [`Http1ConnectionParameters::header_timeout`]: 60 seconds from
/// the first byte of a request head.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(60);

/// Default [`Http1ConnectionParameters::body_timeout`]: a request body that makes no
/// progress for 60 seconds is given up and the connection closed. (Tornado's
/// `body_timeout` bounds the whole body and is off by default; a pause limit lets a
/// large upload on a slow link go on while a stalled one is dropped.)
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// The longest chunk-size line (size, extensions and CRLF) a chunked body
/// may have, in bytes (4 KiB); longer is a 400.
pub const MAX_CHUNK_LINE: usize = 4 * 1024;

/// The most bytes of trailer fields after the last chunk (16 KiB); more is
/// a 431. Trailers are read and dropped.
pub const MAX_TRAILER_SIZE: usize = 16 * 1024;

/// Limits and options of one HTTP/1.x connection (Tornado's
/// `HTTP1ConnectionParameters`). `Default` gives the documented constants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Http1ConnectionParameters {
    /// Never keep a connection open after a response.
    pub no_keep_alive: bool,
    /// How many body bytes to hand to the delegate at a time.
    pub chunk_size: usize,
    /// The largest request head, in bytes, blank lines before it included
    /// ([`DEFAULT_MAX_HEADER_SIZE`]); larger is a 431.
    pub max_header_size: usize,
    /// The longest request target ([`DEFAULT_MAX_REQUEST_TARGET`]); longer
    /// is a 414.
    pub max_request_target: usize,
    /// The largest body, in bytes, after gzip decoding when
    /// [`decompress`](Self::decompress) is on ([`DEFAULT_MAX_BODY_SIZE`]);
    /// larger is a 413. Each request starts with this limit; a streaming delegate
    /// may set its own before the body is read
    /// ([`ServerConnection::set_max_body_size`](super::ServerConnection::set_max_body_size)).
    pub max_body_size: u64,
    /// How long a request head may take to arrive, from its first byte
    /// ([`DEFAULT_HEADER_TIMEOUT`]); `None` waits forever.
    pub header_timeout: Option<Duration>,
    /// The longest pause while a body arrives: a body that makes no progress for
    /// this long is given up and the connection closed ([`DEFAULT_BODY_TIMEOUT`]);
    /// `None` waits forever.
    pub body_timeout: Option<Duration>,
    /// Decode `Content-Encoding: gzip` request bodies.
    pub decompress: bool,
}

impl Default for Http1ConnectionParameters {
    fn default() -> Self {
        Http1ConnectionParameters {
            no_keep_alive: false,
            chunk_size: DEFAULT_CHUNK_SIZE,
            max_header_size: DEFAULT_MAX_HEADER_SIZE,
            max_request_target: DEFAULT_MAX_REQUEST_TARGET,
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            header_timeout: Some(DEFAULT_HEADER_TIMEOUT),
            body_timeout: Some(DEFAULT_BODY_TIMEOUT),
            decompress: false,
        }
    }
}
