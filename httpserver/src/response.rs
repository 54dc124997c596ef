//! [`Response`]: a whole response (status, headers, body), what a closure handler
//! returns.

use bytes::Bytes;
use http::StatusCode;

use crate::httputil::HttpHeaders;

/// A whole response, for closure handlers: status, headers and body.
///
/// ```
/// use tornado_httpserver::Response;
///
/// let r = Response::text("Hello, world").with_header("X-Answer", "42");
/// assert_eq!(r.status, http::StatusCode::OK);
/// assert_eq!(r.headers.get("Content-Type"), Some("text/plain"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: StatusCode,
    /// The headers; `Content-Length` is written from the body when missing (not for
    /// 1xx, 204 and 304), `Date` and `Server` when the handler did not set them.
    pub headers: HttpHeaders,
    /// The body.
    pub body: Bytes,
}

impl Default for Response {
    fn default() -> Self {
        Response::new(StatusCode::OK)
    }
}

impl Response {
    /// An empty response with `status`.
    pub fn new(status: StatusCode) -> Self {
        Response {
            status,
            headers: HttpHeaders::new(),
            body: Bytes::new(),
        }
    }

    /// A `200 OK` `text/plain` response.
    pub fn text(body: impl Into<Bytes>) -> Self {
        let mut r = Response::new(StatusCode::OK);
        r.headers.set_static("Content-Type", "text/plain");
        r.body = body.into();
        r
    }

    /// A `200 OK` `text/html; charset=UTF-8` response.
    pub fn html(body: impl Into<Bytes>) -> Self {
        let mut r = Response::new(StatusCode::OK);
        r.headers
            .set_static("Content-Type", "text/html; charset=UTF-8");
        r.body = body.into();
        r
    }

    /// Sets the status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Sets a header, replacing any of the same name.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.set(name, value);
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }
}
