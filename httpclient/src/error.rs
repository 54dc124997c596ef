//! [`HttpClientError`]: what a failed fetch gives, with the response
//! attached when there is one.

use std::error::Error;
use std::fmt;
use std::io;
use std::sync::Arc;

use crate::response::HttpResponse;

/// The code of an error with no HTTP response behind it (a timeout, a
/// refused connection, a malformed response), as in Tornado.
pub const TRANSPORT_ERROR_CODE: u16 = 599;

/// What kind of failure an [`HttpClientError`] is.
///
/// ```
/// use tornado_httpclient::{AsyncHttpClient, ErrorKind, HttpRequest};
/// use tornado_ioloop::IoLoop;
///
/// // Nothing listens on the port a closed listener had.
/// let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
/// let io_loop = IoLoop::new().unwrap();
/// let err = io_loop
///     .run_sync(AsyncHttpClient::new().fetch(format!("http://127.0.0.1:{port}/")))
///     .unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Connect);
/// assert_eq!(err.code(), 599);
/// assert!(err.to_string().contains(&format!("127.0.0.1:{port}")), "{err}");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The server answered with a status other than 2xx and the request
    /// asked for errors ([`raise_error`](crate::HttpRequest::raise_error));
    /// the response is attached.
    Http,
    /// A timeout: in the queue, while connecting, or during the request
    /// ([`HttpClientError::phase`] says which).
    Timeout,
    /// Resolving the host or connecting to it failed.
    Connect,
    /// The TLS handshake failed (a certificate that does not verify, say),
    /// or the TLS session did (an alert from the server).
    Tls,
    /// The response body is larger than
    /// [`max_body_size`](crate::HttpRequest::max_body_size) (decompressed
    /// bytes count).
    BodyTooLarge,
    /// The response head is larger than
    /// [`max_header_size`](crate::HttpRequest::max_header_size).
    HeaderTooLarge,
    /// The server's bytes are not valid HTTP/1.x, or a compressed body does
    /// not decode; or the answer to an
    /// [`upgrade`](crate::AsyncHttpClient::upgrade) does not complete the new
    /// protocol's handshake (a WebSocket's wrong `Sec-WebSocket-Accept`).
    Protocol,
    /// The connection closed before the response was complete.
    Closed,
    /// Redirects went past [`max_redirects`](crate::HttpRequest::max_redirects),
    /// or to a URL that cannot be fetched; the last response is attached.
    Redirect,
    /// The request itself is wrong: a bad URL, a header with CR or LF, an
    /// option that cannot be honoured. Nothing was sent.
    InvalidRequest,
    /// The proxy refused the `CONNECT` tunnel (its status is the code).
    Proxy,
    /// The [`body_producer`](crate::HttpRequest::body_producer) failed.
    BodyProducer,
    /// Another I/O error on the connection.
    Io,
}

/// Where in a fetch an error happened.
///
/// ```
/// use std::time::Duration;
/// use tornado_httpclient::{AsyncHttpClient, HttpRequest, Phase};
/// use tornado_ioloop::IoLoop;
///
/// // A server that accepts and never answers.
/// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let url = format!("http://{}/", listener.local_addr().unwrap());
/// let io_loop = IoLoop::new().unwrap();
/// let request = HttpRequest::new(url).request_timeout(Duration::from_millis(200));
/// let err = io_loop.run_sync(AsyncHttpClient::new().fetch(request)).unwrap_err();
/// assert!(err.is_timeout());
/// assert_eq!(err.phase(), Some(Phase::Receive));
/// drop(listener);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Waiting for one of the client's `max_clients` slots.
    Queue,
    /// Resolving, connecting, the proxy's tunnel and the TLS handshake.
    Connect,
    /// Sending the request head and body.
    Send,
    /// Reading the response.
    Receive,
}

impl Phase {
    fn describe(self) -> &'static str {
        match self {
            Phase::Queue => "waiting in the request queue",
            Phase::Connect => "connecting",
            Phase::Send => "sending the request",
            Phase::Receive => "reading the response",
        }
    }
}

/// A failed fetch (Tornado's `HTTPClientError`, with the transport errors
/// that Tornado raises as other exceptions folded in as code 599).
///
/// [`code`](Self::code) is the HTTP status for [`ErrorKind::Http`] (and
/// for a refused proxy tunnel or the last of too many redirects), and
/// [`TRANSPORT_ERROR_CODE`] (599) otherwise. The message names the phase
/// and the host: `Timeout while connecting to example.com:443`.
///
/// ```
/// use tornado_httpclient::{ErrorKind, HttpClientError};
///
/// let err = HttpClientError::new(ErrorKind::Http, 404, "HTTP 404: Not Found");
/// assert_eq!(err.code(), 404);
/// assert!(!err.is_timeout());
/// assert_eq!(err.to_string(), "HTTP 404: Not Found");
/// ```
#[derive(Clone)]
pub struct HttpClientError {
    kind: ErrorKind,
    code: u16,
    phase: Option<Phase>,
    message: String,
    response: Option<Box<HttpResponse>>,
    source: Option<Arc<dyn Error + Send + Sync>>,
}

impl HttpClientError {
    /// An error of `kind` with `code` and `message`.
    pub fn new(kind: ErrorKind, code: u16, message: impl Into<String>) -> Self {
        HttpClientError {
            kind,
            code,
            phase: None,
            message: message.into(),
            response: None,
            source: None,
        }
    }

    pub(crate) fn transport(kind: ErrorKind, phase: Phase, message: impl Into<String>) -> Self {
        let mut err = Self::new(kind, TRANSPORT_ERROR_CODE, message);
        err.phase = Some(phase);
        err
    }

    pub(crate) fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidRequest, TRANSPORT_ERROR_CODE, message)
    }

    /// A timeout in `phase` of a request to `host`.
    pub(crate) fn timeout(phase: Phase, host: &str) -> Self {
        let message = match phase {
            Phase::Queue => format!("Timeout in request queue (for {host})"),
            Phase::Connect => format!("Timeout while connecting to {host}"),
            phase => format!("Timeout during request to {host} ({})", phase.describe()),
        };
        Self::transport(ErrorKind::Timeout, phase, message)
    }

    /// An I/O error in `phase` of a request to `host`, classified.
    pub(crate) fn io(phase: Phase, host: &str, err: io::Error) -> Self {
        use tornado_iostream::tcpclient::{ConnectError, ConnectPhase};
        let (kind, message) = if let Some(connect) = ConnectError::of(&err) {
            let kind = match (connect.is_timeout(), connect.phase()) {
                (true, _) => ErrorKind::Timeout,
                (false, ConnectPhase::Tls) => ErrorKind::Tls,
                (false, _) => ErrorKind::Connect,
            };
            (kind, connect_message(connect))
        } else if let Some(closed) = tornado_iostream::stream_closed_error(&err) {
            match closed.real_error() {
                // A read error closed the stream: a reset, or a TLS alert
                // (under TLS 1.3 a server refuses a client certificate
                // after the client's side of the handshake is done).
                Some(cause) => {
                    let kind = if is_tls_error(cause) {
                        ErrorKind::Tls
                    } else {
                        ErrorKind::Io
                    };
                    (
                        kind,
                        format!("Error while {} ({host}): {cause}", phase.describe()),
                    )
                }
                None => {
                    let message = format!("Connection closed by {host} while {}", phase.describe());
                    (ErrorKind::Closed, message)
                }
            }
        } else {
            let kind = if phase == Phase::Connect {
                ErrorKind::Connect
            } else {
                ErrorKind::Io
            };
            (
                kind,
                format!("Error while {} ({host}): {err}", phase.describe()),
            )
        };
        let mut e = Self::transport(kind, phase, message);
        e.source = Some(Arc::new(err));
        e
    }

    pub(crate) fn with_response(mut self, response: HttpResponse) -> Self {
        self.response = Some(Box::new(response));
        self
    }

    pub(crate) fn with_phase(mut self, phase: Phase) -> Self {
        self.phase = Some(phase);
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The HTTP status, or 599 for a failure without a response.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// Where in the fetch the error happened, when it is a transport error.
    pub fn phase(&self) -> Option<Phase> {
        self.phase
    }

    /// The message (also what `Display` prints).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The response, when there was one (an HTTP error, too many redirects).
    pub fn response(&self) -> Option<&HttpResponse> {
        self.response.as_deref()
    }

    /// Takes the attached response.
    pub fn into_response(self) -> Option<HttpResponse> {
        self.response.map(|r| *r)
    }

    /// A timeout, in any phase (the queue included).
    pub fn is_timeout(&self) -> bool {
        self.kind == ErrorKind::Timeout
    }

    /// Resolving or connecting failed.
    pub fn is_connect(&self) -> bool {
        self.kind == ErrorKind::Connect
    }

    /// The TLS handshake failed.
    pub fn is_tls(&self) -> bool {
        self.kind == ErrorKind::Tls
    }

    /// The body went over `max_body_size`.
    pub fn is_body_too_large(&self) -> bool {
        self.kind == ErrorKind::BodyTooLarge
    }
}

/// The message of a failed connect. A certificate is checked against the
/// host name, which the addresses a TLS failure names do not show: the
/// name goes first, the addresses after it.
fn connect_message(connect: &tornado_iostream::tcpclient::ConnectError) -> String {
    use tornado_iostream::tcpclient::ConnectPhase;
    let name = if connect.host().contains(':') {
        format!("[{}]:{}", connect.host(), connect.port())
    } else {
        format!("{}:{}", connect.host(), connect.port())
    };
    let addresses: Vec<String> = connect.addresses().iter().map(|a| a.to_string()).collect();
    if connect.phase() != ConnectPhase::Tls
        || connect.is_timeout()
        || addresses.is_empty()
        || addresses == [name.as_str()]
    {
        return connect.to_string();
    }
    format!(
        "TLS handshake with {name} ({}) failed: {}",
        addresses.join(", "),
        connect.io_error()
    )
}

/// Whether `err` carries a rustls error (what the TLS stream fails with).
fn is_tls_error(err: &io::Error) -> bool {
    err.get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
}

impl fmt::Display for HttpClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for HttpClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClientError")
            .field("kind", &self.kind)
            .field("code", &self.code)
            .field("phase", &self.phase)
            .field("message", &self.message)
            .field("response", &self.response.as_ref().map(|r| r.code))
            .finish()
    }
}

impl Error for HttpClientError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn Error + 'static))
    }
}

impl From<HttpClientError> for io::Error {
    fn from(err: HttpClientError) -> io::Error {
        let kind = match err.kind {
            ErrorKind::Timeout => io::ErrorKind::TimedOut,
            ErrorKind::Connect => io::ErrorKind::ConnectionRefused,
            ErrorKind::InvalidRequest => io::ErrorKind::InvalidInput,
            ErrorKind::Closed => io::ErrorKind::UnexpectedEof,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, err)
    }
}
