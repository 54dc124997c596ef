//! [`HttpRequest`]: what to fetch and how, with Tornado's options.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::Method;
use tornado_httpserver::httputil::HttpHeaders;

use crate::body::BodyWriter;

/// Tornado's default `connect_timeout` and `request_timeout`: 20 seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
/// Tornado's default `max_redirects`: 5.
pub const DEFAULT_MAX_REDIRECTS: u32 = 5;
/// The default `max_body_size`: 100 MiB, as Tornado's.
pub const DEFAULT_MAX_BODY_SIZE: u64 = 100 * 1024 * 1024;
/// The default `max_header_size`: 64 KiB, as Tornado's.
pub const DEFAULT_MAX_HEADER_SIZE: usize = 64 * 1024;
/// The `User-Agent` sent when the request names none.
pub const DEFAULT_USER_AGENT: &str = concat!("tornado-rs/", env!("CARGO_PKG_VERSION"));

/// How the username and password are sent. Only `Basic` exists, as in
/// Tornado's simple client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AuthMode {
    /// `Authorization: Basic base64(user:password)`.
    #[default]
    Basic,
}

/// The future a [`body_producer`](HttpRequest::body_producer) returns.
pub type BodyFuture = Pin<Box<dyn Future<Output = io::Result<()>>>>;

type Producer = dyn Fn(BodyWriter) -> BodyFuture + Send + Sync;
type Streaming = Mutex<Box<dyn FnMut(Bytes) + Send>>;
type HeaderLines = Mutex<Box<dyn FnMut(&str) + Send>>;

/// One HTTP request and its options (Tornado's `HTTPRequest`), built with
/// chained calls. A field left `None` takes the client's default (see
/// [`ClientConfig::defaults`](crate::ClientConfig::defaults)), then
/// Tornado's.
///
/// ```
/// use std::time::Duration;
/// use tornado_httpclient::HttpRequest;
///
/// let request = HttpRequest::new("http://127.0.0.1:8888/api")
///     .method("POST")
///     .header("Content-Type", "application/json")
///     .body(r#"{"a": 1}"#)
///     .request_timeout(Duration::from_secs(5))
///     .follow_redirects(false);
/// assert_eq!(request.method, "POST");
/// assert_eq!(request.headers.get("content-type"), Some("application/json"));
///
/// // A URL alone is a GET.
/// let get: HttpRequest = "http://127.0.0.1:8888/".into();
/// assert_eq!(get.method, "GET");
/// ```
///
/// A request is `Clone` and `Send`: callbacks are shared, which is what
/// lets a redirect or a retry run the body producer again, and lets the
/// blocking [`HttpClient`](crate::HttpClient) hand the request to its loop
/// thread.
#[derive(Clone)]
pub struct HttpRequest {
    /// The absolute `http://` or `https://` URL. `user:password@` in it is
    /// used for basic auth, before [`auth_username`](Self::auth_username)
    /// (as in Tornado).
    pub url: String,
    /// The method (`GET` by default).
    pub method: Method,
    /// Request headers, sent in order after `Host`.
    pub headers: HttpHeaders,
    /// The body, if any.
    pub body: Option<Bytes>,
    pub(crate) body_producer: Option<Arc<Producer>>,
    /// Username for authentication.
    pub auth_username: Option<String>,
    /// Password for authentication.
    pub auth_password: Option<String>,
    /// How credentials are sent.
    pub auth_mode: Option<AuthMode>,
    /// The longest wait for a connection (resolving, connecting, a proxy's
    /// tunnel, TLS); 20 s. Zero means no limit, as in Tornado.
    pub connect_timeout: Option<Duration>,
    /// The longest the request may take once connected; 20 s. Zero means
    /// no limit, as in Tornado.
    pub request_timeout: Option<Duration>,
    /// Sends `If-Modified-Since` with this time.
    pub if_modified_since: Option<SystemTime>,
    /// Follow 3xx redirects (true).
    pub follow_redirects: Option<bool>,
    /// The most redirects followed (5).
    pub max_redirects: Option<u32>,
    /// The `User-Agent` header; [`DEFAULT_USER_AGENT`] when neither this
    /// nor a header gives one.
    pub user_agent: Option<String>,
    /// Ask for gzip and decode gzip or deflate bodies (true).
    pub decompress_response: Option<bool>,
    /// The local address to connect from.
    pub network_interface: Option<IpAddr>,
    pub(crate) streaming_callback: Option<Arc<Streaming>>,
    pub(crate) header_callback: Option<Arc<HeaderLines>>,
    /// Verify the server's certificate (true).
    pub validate_cert: Option<bool>,
    /// A PEM file of CA certificates to verify against, instead of the
    /// Mozilla roots.
    pub ca_certs: Option<PathBuf>,
    /// A PEM client certificate chain, sent when the server asks.
    pub client_cert: Option<PathBuf>,
    /// The PEM private key of [`client_cert`](Self::client_cert); when
    /// `None`, the key is read from the `client_cert` file (one PEM with
    /// both, as Tornado's `client_key=None`).
    pub client_key: Option<PathBuf>,
    /// Connect over IPv6 when the name resolves to it (true).
    pub allow_ipv6: Option<bool>,
    /// The proxy's host; with it the request goes through the proxy.
    pub proxy_host: Option<String>,
    /// The proxy's port (8080 when only the host is given).
    pub proxy_port: Option<u16>,
    /// Username for the proxy (`Proxy-Authorization: Basic`).
    pub proxy_username: Option<String>,
    /// Password for the proxy.
    pub proxy_password: Option<String>,
    /// Send `Expect: 100-continue` and hold the body until the server
    /// answers `100 Continue` (or a second passes).
    pub expect_100_continue: bool,
    /// The largest response body, counted after decompression (100 MiB).
    pub max_body_size: Option<u64>,
    /// The largest response head (64 KiB).
    pub max_header_size: Option<usize>,
    /// A non-2xx response is an `Err` (true) or an `Ok` response whose
    /// [`error`](crate::HttpResponse::error) is set (false). Transport
    /// failures are always `Err`.
    pub raise_error: Option<bool>,
    /// A method given as a string that is not a token; the fetch fails.
    pub(crate) bad_method: Option<String>,
}

impl HttpRequest {
    /// A `GET` of `url` with every option at its default.
    pub fn new(url: impl Into<String>) -> Self {
        HttpRequest {
            url: url.into(),
            method: Method::GET,
            headers: HttpHeaders::new(),
            body: None,
            body_producer: None,
            auth_username: None,
            auth_password: None,
            auth_mode: None,
            connect_timeout: None,
            request_timeout: None,
            if_modified_since: None,
            follow_redirects: None,
            max_redirects: None,
            user_agent: None,
            decompress_response: None,
            network_interface: None,
            streaming_callback: None,
            header_callback: None,
            validate_cert: None,
            ca_certs: None,
            client_cert: None,
            client_key: None,
            allow_ipv6: None,
            proxy_host: None,
            proxy_port: None,
            proxy_username: None,
            proxy_password: None,
            expect_100_continue: false,
            max_body_size: None,
            max_header_size: None,
            raise_error: None,
            bad_method: None,
        }
    }

    /// Sets the method: an [`http::Method`] or a string such as `"PURGE"`.
    /// A string that is not a valid token makes the fetch fail with
    /// [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest).
    pub fn method(mut self, method: impl AsRef<str>) -> Self {
        match Method::from_bytes(method.as_ref().as_bytes()) {
            Ok(m) => {
                self.method = m;
                self.bad_method = None;
            }
            Err(_) => self.bad_method = Some(method.as_ref().to_owned()),
        }
        self
    }

    /// Adds a header line (another line with the same name stays).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.add(name, value);
        self
    }

    /// Replaces all headers.
    pub fn headers(mut self, headers: HttpHeaders) -> Self {
        self.headers = headers;
        self
    }

    /// Sets the body. A `POST` without a `Content-Type` header is sent as
    /// `application/x-www-form-urlencoded`, as Tornado's client sends it.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Streams the body from `producer` instead (Tornado's
    /// `body_producer`): it is called with a [`BodyWriter`] once the
    /// connection is ready, and again if a redirect (307, 308) or a retry
    /// sends the request anew. Without a `Content-Length` header the body
    /// is sent chunked.
    ///
    /// ```
    /// use tornado_httpclient::HttpRequest;
    ///
    /// let request = HttpRequest::new("http://127.0.0.1:1/upload")
    ///     .method("PUT")
    ///     .body_producer(|writer| async move {
    ///         for i in 0..3 {
    ///             writer.write(format!("part {i}\n")).await?;
    ///         }
    ///         Ok(())
    ///     });
    /// assert!(request.has_body_producer());
    /// ```
    pub fn body_producer<F, Fut>(mut self, producer: F) -> Self
    where
        F: Fn(BodyWriter) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = io::Result<()>> + 'static,
    {
        self.body_producer = Some(Arc::new(move |w| Box::pin(producer(w)) as BodyFuture));
        self
    }

    /// Whether a body producer is set.
    pub fn has_body_producer(&self) -> bool {
        self.body_producer.is_some()
    }

    /// Sets basic-auth credentials.
    pub fn auth(mut self, username: &str, password: &str) -> Self {
        self.auth_username = Some(username.to_owned());
        self.auth_password = Some(password.to_owned());
        self
    }

    /// Sets [`auth_mode`](Self::auth_mode).
    pub fn auth_mode(mut self, mode: AuthMode) -> Self {
        self.auth_mode = Some(mode);
        self
    }

    /// Sets [`connect_timeout`](Self::connect_timeout).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Sets [`request_timeout`](Self::request_timeout).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// Sets [`if_modified_since`](Self::if_modified_since).
    pub fn if_modified_since(mut self, time: SystemTime) -> Self {
        self.if_modified_since = Some(time);
        self
    }

    /// Sets [`follow_redirects`](Self::follow_redirects).
    pub fn follow_redirects(mut self, follow: bool) -> Self {
        self.follow_redirects = Some(follow);
        self
    }

    /// Sets [`max_redirects`](Self::max_redirects).
    pub fn max_redirects(mut self, max: u32) -> Self {
        self.max_redirects = Some(max);
        self
    }

    /// Sets [`user_agent`](Self::user_agent).
    pub fn user_agent(mut self, agent: &str) -> Self {
        self.user_agent = Some(agent.to_owned());
        self
    }

    /// Sets [`decompress_response`](Self::decompress_response).
    pub fn decompress_response(mut self, decompress: bool) -> Self {
        self.decompress_response = Some(decompress);
        self
    }

    /// Sets [`network_interface`](Self::network_interface).
    pub fn network_interface(mut self, ip: IpAddr) -> Self {
        self.network_interface = Some(ip);
        self
    }

    /// Hands the body to `callback` piece by piece as it arrives, instead
    /// of gathering it into [`HttpResponse::body`](crate::HttpResponse::body),
    /// which stays empty (Tornado's `streaming_callback`). Pieces are
    /// decompressed when [`decompress_response`](Self::decompress_response) is on.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tornado_httpclient::{AsyncHttpClient, HttpRequest};
    /// use tornado_httpserver::httputil::HttpServerRequest;
    /// use tornado_httpserver::{HttpServer, Response};
    /// use tornado_ioloop::IoLoop;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let server = HttpServer::new(|_req: HttpServerRequest| async {
    ///         Response::text(vec![b'x'; 300_000])
    ///     });
    ///     server.listen(0, Some("127.0.0.1")).unwrap();
    ///     let url = format!("http://{}/", server.local_addrs()[0]);
    ///     let received = Arc::new(Mutex::new(0));
    ///     let count = received.clone();
    ///     let lines = Arc::new(Mutex::new(Vec::new()));
    ///     let seen = lines.clone();
    ///     let request = HttpRequest::new(url)
    ///         .streaming_callback(move |piece| *count.lock().unwrap() += piece.len())
    ///         .header_callback(move |line| seen.lock().unwrap().push(line.to_owned()));
    ///     let response = AsyncHttpClient::new().fetch(request).await.unwrap();
    ///     assert!(response.body.is_empty());
    ///     assert_eq!(*received.lock().unwrap(), 300_000);
    ///     let lines = lines.lock().unwrap();
    ///     assert_eq!(lines[0], "HTTP/1.1 200 OK\r\n");
    ///     assert_eq!(lines.last().unwrap(), "\r\n");
    ///     server.stop();
    /// });
    /// ```
    pub fn streaming_callback(mut self, callback: impl FnMut(Bytes) + Send + 'static) -> Self {
        self.streaming_callback = Some(Arc::new(Mutex::new(Box::new(callback))));
        self
    }

    /// Calls `callback` with each line of every response head, as Tornado
    /// does: the status line, each header line, then `"\r\n"`, each with
    /// its CRLF (interim 1xx heads included). A redirect that is followed
    /// does not reach it. See [`streaming_callback`](Self::streaming_callback)
    /// for an example.
    pub fn header_callback(mut self, callback: impl FnMut(&str) + Send + 'static) -> Self {
        self.header_callback = Some(Arc::new(Mutex::new(Box::new(callback))));
        self
    }

    /// Sets [`validate_cert`](Self::validate_cert): `false` accepts any
    /// certificate (a test server's self-signed one), still encrypting.
    ///
    /// ```
    /// use tornado_httpclient::HttpRequest;
    ///
    /// // Verify against a private CA instead of the Mozilla roots ...
    /// let private = HttpRequest::new("https://internal.invalid/").ca_certs("/etc/my-ca.pem");
    /// // ... or not at all.
    /// let test = HttpRequest::new("https://localhost:8443/").validate_cert(false);
    /// assert_eq!(test.validate_cert, Some(false));
    /// # let _ = private;
    /// ```
    pub fn validate_cert(mut self, validate: bool) -> Self {
        self.validate_cert = Some(validate);
        self
    }

    /// Sets [`ca_certs`](Self::ca_certs).
    pub fn ca_certs(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_certs = Some(path.into());
        self
    }

    /// Sets [`client_cert`](Self::client_cert) and [`client_key`](Self::client_key).
    pub fn client_cert(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.client_cert = Some(cert.into());
        self.client_key = Some(key.into());
        self
    }

    /// Sets [`allow_ipv6`](Self::allow_ipv6).
    pub fn allow_ipv6(mut self, allow: bool) -> Self {
        self.allow_ipv6 = Some(allow);
        self
    }

    /// Sends the request through the HTTP proxy at `host:port`: plain
    /// requests in absolute form for `http://`, a `CONNECT` tunnel for
    /// `https://`.
    ///
    /// ```
    /// use tornado_httpclient::HttpRequest;
    ///
    /// let request = HttpRequest::new("https://example.invalid/")
    ///     .proxy("127.0.0.1", 3128)
    ///     .proxy_auth("me", "secret");
    /// assert_eq!(request.proxy_host.as_deref(), Some("127.0.0.1"));
    /// assert_eq!(request.proxy_port, Some(3128));
    /// ```
    pub fn proxy(mut self, host: &str, port: u16) -> Self {
        self.proxy_host = Some(host.to_owned());
        self.proxy_port = Some(port);
        self
    }

    /// Sets the proxy's credentials.
    pub fn proxy_auth(mut self, username: &str, password: &str) -> Self {
        self.proxy_username = Some(username.to_owned());
        self.proxy_password = Some(password.to_owned());
        self
    }

    /// Sets [`expect_100_continue`](Self::expect_100_continue).
    pub fn expect_100_continue(mut self, expect: bool) -> Self {
        self.expect_100_continue = expect;
        self
    }

    /// Sets [`max_body_size`](Self::max_body_size).
    pub fn max_body_size(mut self, max: u64) -> Self {
        self.max_body_size = Some(max);
        self
    }

    /// Sets [`max_header_size`](Self::max_header_size).
    pub fn max_header_size(mut self, max: usize) -> Self {
        self.max_header_size = Some(max);
        self
    }

    /// Sets [`raise_error`](Self::raise_error).
    pub fn raise_error(mut self, raise: bool) -> Self {
        self.raise_error = Some(raise);
        self
    }

    /// Fills every `None` option (and missing header) from `defaults`.
    pub(crate) fn merge_defaults(&mut self, defaults: &HttpRequest) {
        macro_rules! fill {
            ($($field:ident),*) => {
                $(if self.$field.is_none() { self.$field = defaults.$field.clone(); })*
            };
        }
        fill!(
            auth_username,
            auth_password,
            auth_mode,
            connect_timeout,
            request_timeout,
            if_modified_since,
            follow_redirects,
            max_redirects,
            user_agent,
            decompress_response,
            network_interface,
            streaming_callback,
            header_callback,
            validate_cert,
            ca_certs,
            client_cert,
            client_key,
            allow_ipv6,
            proxy_host,
            proxy_port,
            proxy_username,
            proxy_password,
            max_body_size,
            max_header_size,
            raise_error
        );
        // Every value of a header the request lacks: decided against the
        // request's own headers, not the ones this adds.
        let mut missing = HttpHeaders::new();
        for (name, value) in defaults.headers.iter() {
            if !self.headers.contains(name) {
                missing.add(name, value);
            }
        }
        for (name, value) in missing.iter() {
            self.headers.add(name, value);
        }
        self.expect_100_continue |= defaults.expect_100_continue;
    }

    /// The connect and request timeouts in force: the default when unset,
    /// no limit (a far future) when zero.
    pub(crate) fn timeouts(&self) -> (Duration, Duration) {
        let effective = |t: Option<Duration>| match t.unwrap_or(DEFAULT_TIMEOUT) {
            Duration::ZERO => tornado_ioloop::FAR_FUTURE,
            t => t,
        };
        (
            effective(self.connect_timeout),
            effective(self.request_timeout),
        )
    }

    pub(crate) fn producer(&self) -> Option<&Arc<Producer>> {
        self.body_producer.as_ref()
    }

    pub(crate) fn stream_to(&self) -> Option<&Arc<Streaming>> {
        self.streaming_callback.as_ref()
    }

    pub(crate) fn header_lines(&self) -> Option<&Arc<HeaderLines>> {
        self.header_callback.as_ref()
    }
}

impl Default for HttpRequest {
    /// A request with no URL: useful as [`ClientConfig::defaults`](crate::ClientConfig::defaults).
    fn default() -> Self {
        HttpRequest::new("")
    }
}

impl From<&str> for HttpRequest {
    fn from(url: &str) -> Self {
        HttpRequest::new(url)
    }
}

impl From<String> for HttpRequest {
    fn from(url: String) -> Self {
        HttpRequest::new(url)
    }
}

impl From<&String> for HttpRequest {
    fn from(url: &String) -> Self {
        HttpRequest::new(url.as_str())
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &crate::url::redact(&self.url))
            .field("headers", &self.headers)
            .field("body", &self.body.as_ref().map(|b| b.len()))
            .field("body_producer", &self.body_producer.is_some())
            .field("follow_redirects", &self.follow_redirects)
            .field("proxy_host", &self.proxy_host)
            .finish_non_exhaustive()
    }
}

/// `base64(user:password)` for a `Basic` credential.
pub(crate) fn basic_credentials(user: &str, password: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}");
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4 + 6);
    out.push_str("Basic ");
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_base64() {
        assert_eq!(
            basic_credentials("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(basic_credentials("a", ""), "Basic YTo=");
        assert_eq!(basic_credentials("ab", "c"), "Basic YWI6Yw==");
        assert_eq!(basic_credentials("abc", "de"), "Basic YWJjOmRl");
    }

    #[test]
    fn zero_timeouts_mean_no_limit() {
        let req = HttpRequest::new("http://h/");
        assert_eq!(req.timeouts(), (DEFAULT_TIMEOUT, DEFAULT_TIMEOUT));
        let req = req
            .connect_timeout(Duration::ZERO)
            .request_timeout(Duration::from_secs(3));
        assert_eq!(
            req.timeouts(),
            (tornado_ioloop::FAR_FUTURE, Duration::from_secs(3))
        );
    }

    #[test]
    fn defaults_fill_only_what_is_unset() {
        let defaults = HttpRequest::default()
            .request_timeout(Duration::from_secs(1))
            .user_agent("d")
            .header("X-A", "1")
            .header("X-B", "2");
        let mut req = HttpRequest::new("http://h/")
            .user_agent("mine")
            .header("x-a", "mine");
        req.merge_defaults(&defaults);
        assert_eq!(req.request_timeout, Some(Duration::from_secs(1)));
        assert_eq!(req.user_agent.as_deref(), Some("mine"));
        assert_eq!(req.headers.get("X-A"), Some("mine"));
        assert_eq!(req.headers.get("X-B"), Some("2"));
    }

    #[test]
    fn a_default_header_keeps_all_its_values() {
        let defaults = HttpRequest::default()
            .header("Accept", "text/html")
            .header("Accept", "text/plain");
        let mut req = HttpRequest::new("http://h/");
        req.merge_defaults(&defaults);
        let values: Vec<&str> = req.headers.get_all("Accept").collect();
        assert_eq!(values, ["text/html", "text/plain"]);
        // A request with a value of its own still takes none of them.
        let mut req = HttpRequest::new("http://h/").header("accept", "mine");
        req.merge_defaults(&defaults);
        let values: Vec<&str> = req.headers.get_all("Accept").collect();
        assert_eq!(values, ["mine"]);
    }

    #[test]
    fn an_invalid_method_is_remembered_for_the_fetch_to_refuse() {
        let req = HttpRequest::new("http://h/").method("BAD METHOD");
        assert_eq!(req.bad_method.as_deref(), Some("BAD METHOD"));
        assert_eq!(HttpRequest::new("x").method("PURGE").method, "PURGE");
    }
}
