//! [`HttpResponse`]: the status, headers and body of a fetch, with where
//! it ended up and how long each phase took.

use std::fmt;
use std::str::Utf8Error;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde::de::DeserializeOwned;
use tornado_httpserver::httputil::HttpHeaders;

use crate::error::HttpClientError;
use crate::request::HttpRequest;

/// How long each phase of a fetch took, from the moment `fetch` was called
/// (as curl's `time_info`, which Tornado's curl client exposes). A phase
/// that did not happen (`connect` on a pooled connection) is `None`.
///
/// ```
/// use tornado_httpclient::AsyncHttpClient;
/// use tornado_httpserver::httputil::HttpServerRequest;
/// use tornado_httpserver::{HttpServer, Response};
/// use tornado_ioloop::IoLoop;
///
/// IoLoop::new().unwrap().run_sync(async {
///     let server = HttpServer::new(|_req: HttpServerRequest| async { Response::text("ok") });
///     server.listen(0, Some("127.0.0.1")).unwrap();
///     let url = format!("http://{}/", server.local_addrs()[0]);
///     let client = AsyncHttpClient::new();
///     let first = client.fetch(url.as_str()).await.unwrap().time_info;
///     assert!(first.connect.is_some());
///     assert!(first.connect <= first.pretransfer && first.pretransfer <= first.starttransfer);
///     assert!(first.starttransfer.unwrap() <= first.total);
///     // The second fetch reuses the connection: no connect phase.
///     let second = client.fetch(url.as_str()).await.unwrap().time_info;
///     assert_eq!(second.connect, None);
///     server.stop();
/// });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// Waiting for one of the client's `max_clients` slots.
    pub queue: Duration,
    /// Until the connection was ready (TCP, a proxy's tunnel and TLS
    /// included), for the last hop; `None` when a pooled connection was used.
    pub connect: Option<Duration>,
    /// Until the request (head and body) was written, for the last hop.
    pub pretransfer: Option<Duration>,
    /// Until the final response head had been read (curl counts to its
    /// first byte; the difference is the time the head took to arrive).
    pub starttransfer: Option<Duration>,
    /// Spent on the redirected hops before the last.
    pub redirect: Duration,
    /// The whole fetch.
    pub total: Duration,
}

/// A response (Tornado's `HTTPResponse`).
///
/// ```
/// use tornado_httpclient::HttpResponse;
///
/// let response = HttpResponse::new(200, "http://example.invalid/", "[1, 2]");
/// assert_eq!(response.text().unwrap(), "[1, 2]");
/// let numbers: Vec<u32> = response.json().unwrap();
/// assert_eq!(numbers, [1, 2]);
/// assert!(response.rethrow().is_ok());
/// ```
#[derive(Clone)]
pub struct HttpResponse {
    /// The request that was fetched first (before any redirect).
    pub request: HttpRequest,
    /// The status code.
    pub code: u16,
    /// The reason phrase as the server sent it (or the standard one when
    /// it sent none).
    pub reason: String,
    /// The response headers. A decompressed body's `Content-Encoding` is
    /// renamed `X-Consumed-Content-Encoding`, as Tornado does.
    pub headers: HttpHeaders,
    /// The body (empty when a `streaming_callback` took it).
    pub body: Bytes,
    /// The URL of the last hop, after redirects.
    pub effective_url: String,
    /// When the fetch started.
    pub start_time: SystemTime,
    /// The whole fetch (equal to `time_info.total`).
    pub request_time: Duration,
    /// Per-phase timings.
    pub time_info: Timings,
    /// For a non-2xx response fetched with `raise_error(false)`, the error
    /// that [`rethrow`](Self::rethrow) returns.
    pub error: Option<Box<HttpClientError>>,
}

impl HttpResponse {
    /// A response with `code`, `effective_url` and `body`, the standard
    /// reason and no headers (useful for tests and mocks).
    pub fn new(code: u16, effective_url: &str, body: impl Into<Bytes>) -> Self {
        HttpResponse {
            request: HttpRequest::new(effective_url),
            code,
            reason: standard_reason(code).to_owned(),
            headers: HttpHeaders::new(),
            body: body.into(),
            effective_url: effective_url.to_owned(),
            start_time: SystemTime::now(),
            request_time: Duration::ZERO,
            time_info: Timings::default(),
            error: None,
        }
    }

    /// The body as UTF-8.
    pub fn text(&self) -> Result<&str, Utf8Error> {
        std::str::from_utf8(&self.body)
    }

    /// The body parsed as JSON into `T` (`serde_json::Value` for any JSON).
    pub fn json<T: DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_slice(&self.body)
    }

    /// `Err` with the error when [`error`](Self::error) is set (Tornado's
    /// `rethrow`), `Ok(self)` otherwise.
    pub fn rethrow(&self) -> Result<&Self, HttpClientError> {
        match &self.error {
            Some(err) => Err((**err).clone().with_response(self.clone())),
            None => Ok(self),
        }
    }

    /// Whether the code is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.code)
    }
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("code", &self.code)
            .field("reason", &self.reason)
            .field("effective_url", &self.effective_url)
            .field("headers", &self.headers)
            .field("body", &format_args!("{} bytes", self.body.len()))
            .field("request_time", &self.request_time)
            .field(
                "error",
                &self.error.as_ref().map(|e| e.message().to_owned()),
            )
            .finish()
    }
}

/// The standard reason phrase of `code`, or `Unknown`.
pub(crate) fn standard_reason(code: u16) -> &'static str {
    http::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown")
}
