//! The HTTP/1.x protocol without sockets (the sans-IO part of Tornado's
//! `tornado.http1connection`), one state machine per connection for each role:
//!
//! - [`ServerConnection`]: feed it the bytes a client sent and get
//!   [`ServerEvent`]s (a request head, body pieces decoded from
//!   `Content-Length`, chunked or gzip, the end); hand it a response and get
//!   the bytes to write. Keep-alive, `100-continue`, pipelining order,
//!   HEAD/1xx/204/304 framing, declared lengths and every limit live here.
//!   The server's socket code is a thin driver over it.
//! - [`ClientConnection`]: encode a request (fixed-length or chunked, with
//!   `Expect: 100-continue`), feed it the bytes a server sent and get
//!   [`ClientEvent`]s (interim 1xx responses, the head, body pieces, the
//!   end), and learn whether the connection may be reused.
//!
//! Both are built from the pure pieces below them, which the tests and the
//! fuzz targets also drive directly: [`parse_request_layout`] and [`HeadLayout::attach`] (a head
//! parsed in place, then viewed in its own bytes without a copy; strict, every
//! bad input a [`ParseError`](crate::ParseError) with its status),
//! [`ChunkedDecoder`], [`GzipDecoder`], and the response encoder
//! ([`encode_response_head`], [`BodyEncoder`]). Nothing here touches a
//! socket or a clock, so everything is tested on bytes alone.

mod chunked;
mod client;
mod encode;
mod gzip;
mod head;
mod inflate;
mod params;
mod server;
mod wire;

pub use chunked::{ChunkedDecoder, ChunkedStep};
pub use client::{
    ClientConnection, ClientError, ClientErrorKind, ClientEvent, Http1ClientParameters,
    MAX_INFORMATIONAL_RESPONSES, RequestBody, ResponseHead,
};
pub use encode::{
    BodyEncoder, BodyFraming, CONTINUE_RESPONSE, DEFAULT_SERVER, ResponseContext, check_reason,
    encode_error_response, encode_response_head, encode_response_head_with_length,
};
pub use gzip::GzipDecoder;
pub use head::{
    BodyKind, HeadLayout, Parsed, RequestHead, parse_request_head, parse_request_head_bytes,
    parse_request_layout,
};
pub use params::{
    DEFAULT_BODY_TIMEOUT, DEFAULT_CHUNK_SIZE, DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_BODY_SIZE,
    DEFAULT_MAX_HEADER_SIZE, DEFAULT_MAX_REQUEST_TARGET, Http1ConnectionParameters, MAX_CHUNK_LINE,
    MAX_HEADERS, MAX_TRAILER_SIZE,
};
pub use server::{Parse, ServerConnection, ServerEvent};
pub use wire::{check_field, check_header_field};

#[cfg(test)]
mod client_tests;
#[cfg(test)]
mod server_tests;
#[cfg(test)]
mod tests;
