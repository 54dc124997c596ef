//! # Tornado's HTTP/1.1 server, over a sans-IO protocol core
//!
//! Three layers, each usable alone:
//!
//! - [`HttpServer`]: accepts connections and drives one
//!   [`ServerConnection`](http1connection::ServerConnection) per connection,
//!   handing each request to a closure (`|request| async { Response }`) or to
//!   an [`HttpServerConnectionDelegate`] that chooses per request whether to
//!   stream or buffer the body ([`BodyMode`]).
//! - [`http1connection`]: the protocol without sockets, for both roles: the
//!   server's [`ServerConnection`](http1connection::ServerConnection) and the
//!   client's [`ClientConnection`](http1connection::ClientConnection).
//! - [`httputil`]: headers, the request object, arguments, cookies, dates.
//!
//! - [`httputil`]: [`HttpHeaders`](httputil::HttpHeaders) (a
//!   case-insensitive multi-map keeping order),
//!   [`HttpServerRequest`](httputil::HttpServerRequest), query and form
//!   arguments (urlencoded and multipart, with limits), cookies, HTTP dates
//!   and the once-a-second `Date` cache, `url_concat`.
//! - [`http1connection`]: strict request-head parsing with `httparse`, body
//!   framing, an incremental chunked decoder, gzip bodies counted against
//!   `max_body_size`, keep-alive and `100-continue` rules, and response
//!   encoding that appends to one output buffer and enforces the declared
//!   `Content-Length`.
//!
//! Bad input is never a panic: every [`ParseError`] carries the status to
//! answer with (400, 413, 414, 431, 501, 505) before closing.
//!
//! ```
//! use std::time::{Instant, SystemTime};
//! use bytes::{Bytes, BytesMut};
//! use http::StatusCode;
//! use tornado_httpserver::http1connection::{
//!     encode_response_head, parse_request_head, BodyKind, Http1ConnectionParameters, Parsed,
//! };
//! use tornado_httpserver::httputil::{DateCache, HttpHeaders, HttpServerRequest};
//!
//! let params = Http1ConnectionParameters::default();
//! let mut input = BytesMut::from(&b"GET /hello?name=world HTTP/1.1\r\nHost: localhost\r\n\r\n"[..]);
//!
//! let Parsed::Complete(head) = parse_request_head(&input, &params)? else {
//!     unreachable!("the head is complete")
//! };
//! assert_eq!(head.body, BodyKind::Empty);
//! let _ = input.split_to(head.head_len);
//! let ctx = head.response_context();
//! let request = HttpServerRequest::new(head, Bytes::new(), Instant::now())?;
//! let name = String::from_utf8_lossy(&request.arguments()["name"][0]).into_owned();
//!
//! let mut dates = DateCache::new();
//! let mut headers = HttpHeaders::new();
//! headers.set("Content-Type", "text/plain");
//! let mut out = BytesMut::new();
//! let mut body = encode_response_head(&mut out, &ctx, StatusCode::OK, &headers, dates.get(SystemTime::now()))?;
//! body.write(format!("Hello, {name}").as_bytes(), &mut out)?;
//! body.finish(&mut out)?;
//! assert!(out.starts_with(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"));
//! assert!(out.ends_with(b"\r\n\r\nc\r\nHello, world\r\n0\r\n\r\n"));
//! assert!(body.keep_alive());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod connection;
mod delegate;
mod dispatch;
mod error;
pub mod http1connection;
pub mod httputil;
mod registry;
mod response;
mod server;
mod settings;

pub use connection::{ERROR_DRAIN_LIMIT, ERROR_DRAIN_TIMEOUT, ResponseWriter, ZERO_COPY_BODY_MIN};
pub use delegate::{
    BodyMode, CallHandler, HttpMessageDelegate, HttpServerConnectionDelegate, LocalBoxFuture,
};
pub use error::{BodyStartedError, OutputError, OutputErrorKind, ParseError};
pub use registry::{SHUTDOWN_POLL_INTERVAL, UpgradeGuard, UpgradedConnection};
pub use response::Response;
pub use server::HttpServer;
pub use settings::{DEFAULT_IDLE_CONNECTION_TIMEOUT, HttpServerSettings};

/// The `http` crate, whose `Method`, `StatusCode` and `Version` this crate's
/// API uses, re-exported so users need not depend on it separately.
pub use http;
