//! # tornado-httpclient: the asynchronous and the blocking HTTP client
//!
//! Tornado's `tornado.httpclient` on the client role of the sans-IO
//! HTTP/1.1 core ([`tornado_httpserver::http1connection::ClientConnection`]),
//! plus what Tornado's users asked for and its pure-Python client never had:
//!
//! - [`AsyncHttpClient::fetch`] takes a URL or an [`HttpRequest`] (a
//!   builder with Tornado's options and defaults) and gives an
//!   [`HttpResponse`] or an [`HttpClientError`] (code 599 for a transport
//!   failure, the response attached for an HTTP error).
//! - **Keep-alive pool** per (scheme, host, port, TLS settings, proxy): a
//!   connection goes back to the pool only when its response was read to
//!   the end and allowed keep-alive; idle connections time out; a pooled
//!   connection the server had closed is retried once, for idempotent
//!   methods only.
//! - **`max_clients`** (10) fetches at once, the rest queued; a fetch that
//!   waits longer than its timeout fails with "Timeout in request queue".
//! - **Redirects**: 303 becomes `GET`, 301 and 302 turn a `POST` into a
//!   `GET`, 307 and 308 keep method and body; credentials and cookies are
//!   dropped on a hop to another origin; going past `max_redirects` is an
//!   error with the last response attached.
//! - **Proxies**: plain HTTP proxying for `http://`, a `CONNECT` tunnel for
//!   `https://`, proxy authentication; `http_proxy`, `https_proxy` and
//!   `no_proxy` when [`ClientConfig::proxy_from_env`] is set (never under
//!   CGI).
//! - **TLS** with rustls: the Mozilla roots or `ca_certs`, a client
//!   certificate, `validate_cert(false)` for a test server.
//! - gzip and deflate bodies, `streaming_callback`, `header_callback`,
//!   `body_producer`, `expect_100_continue`, basic auth, timeouts per phase.
//! - [`AsyncHttpClient::upgrade`]: a request answered `101 Switching
//!   Protocols`, handing over the connection (the WebSocket client's way in).
//! - [`HttpClient`]: the blocking wrapper, with its own loop on its own thread.
//!
//! Only HTTP/1.1 is spoken, and TLS offers it alone by ALPN. The seam for
//! HTTP/2 is the connection: a fetch talks to one through a handful of
//! calls (send bytes, next response event, may it be reused), so a second
//! connection type, chosen by the protocol ALPN selects and pooled by the
//! same key, would sit beside the HTTP/1.1 one.
//!
//! ```
//! use tornado_httpclient::{AsyncHttpClient, HttpRequest};
//! use tornado_httpserver::httputil::HttpServerRequest;
//! use tornado_httpserver::{HttpServer, Response};
//! use tornado_ioloop::IoLoop;
//!
//! let io_loop = IoLoop::new().unwrap();
//! io_loop.run_sync(async {
//!     let server = HttpServer::new(|req: HttpServerRequest| async move {
//!         Response::text(format!("{} {}", req.method(), req.path()))
//!     });
//!     server.listen(0, Some("127.0.0.1")).unwrap();
//!     let base = format!("http://{}", server.local_addrs()[0]);
//!
//!     let client = AsyncHttpClient::new();
//!     let response = client
//!         .fetch(HttpRequest::new(format!("{base}/items")).method("POST").body("x"))
//!         .await
//!         .unwrap();
//!     assert_eq!(response.text().unwrap(), "POST /items");
//!     // The connection went back to the pool for the next fetch.
//!     assert_eq!(client.idle_connections(), 1);
//!     server.stop();
//! });
//! ```
#![forbid(unsafe_code)]

mod blocking;
mod body;
mod client;
mod connection;
mod error;
mod fetch;
mod pool;
mod proxy;
mod request;
mod response;
mod tls;
mod upgrade;
mod url;

pub use crate::blocking::HttpClient;
pub use crate::body::BodyWriter;
pub use crate::client::{
    AsyncHttpClient, ClientConfig, DEFAULT_MAX_CLIENTS, DEFAULT_MAX_IDLE_PER_HOST,
    DEFAULT_POOL_IDLE_TIMEOUT,
};
pub use crate::error::{ErrorKind, HttpClientError, Phase, TRANSPORT_ERROR_CODE};
pub use crate::request::{
    AuthMode, BodyFuture, DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_HEADER_SIZE, DEFAULT_MAX_REDIRECTS,
    DEFAULT_TIMEOUT, DEFAULT_USER_AGENT, HttpRequest,
};
pub use crate::response::{HttpResponse, Timings};
pub use crate::upgrade::Upgraded;
pub use tornado_httpserver::httputil::HttpHeaders;
