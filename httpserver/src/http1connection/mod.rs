//! The HTTP/1.x protocol without sockets: request heads, body framing,
//! chunked coding, gzip bodies and response encoding (the pure part of
//! Tornado's `tornado.http1connection`).
//!
//! Everything here works on byte slices and `BytesMut` buffers and keeps no
//! I/O state, so the connection code (server now, client later) drives it
//! and tests feed it bytes directly. One request on a connection goes:
//!
//! 1. [`parse_request_layout`] on the read buffer until it is
//!    [`Parsed::Complete`], then [`HeadLayout::attach`] the head's bytes,
//!    split off the buffer without copying (or [`parse_request_head_bytes`]
//!    on a `BytesMut`, which does both); on error, answer with
//!    [`encode_error_response`] for [`ParseError::status`](crate::ParseError::status)
//!    and close.
//! 2. If [`RequestHead::expect_continue`], write [`CONTINUE_RESPONSE`].
//! 3. Read the body by [`RequestHead::body`]: a [`BodyKind::Length`], or a
//!    [`ChunkedDecoder`]; pass it through a [`GzipDecoder`] when
//!    `decompress` is on and [`RequestHead::is_gzip_body`].
//! 4. Answer with [`encode_response_head`] and the returned
//!    [`BodyEncoder`], appending to the write buffer (so the responses to
//!    pipelined requests go out in one write), and keep the connection if
//!    [`BodyEncoder::keep_alive`].

mod chunked;
mod encode;
mod gzip;
mod head;
mod params;

pub use chunked::{ChunkedDecoder, ChunkedStep};
pub use encode::{
    BodyEncoder, BodyFraming, CONTINUE_RESPONSE, DEFAULT_SERVER, ResponseContext,
    encode_error_response, encode_response_head, encode_response_head_with_length,
};
pub use gzip::GzipDecoder;
pub use head::{
    BodyKind, HeadLayout, Parsed, RequestHead, parse_request_head, parse_request_head_bytes,
    parse_request_layout,
};
pub use params::{
    DEFAULT_CHUNK_SIZE, DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_HEADER_SIZE,
    DEFAULT_MAX_REQUEST_TARGET, Http1ConnectionParameters, MAX_CHUNK_LINE, MAX_HEADERS,
    MAX_TRAILER_SIZE,
};

#[cfg(test)]
mod tests;
