//! [`AsyncHttpClient`]: `fetch` with a queue, a keep-alive pool and
//! redirects.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use http::Method;
use tornado_httpserver::http1connection::check_field;
use tornado_httpserver::httputil::HttpHeaders;
use tornado_iostream::netutil::Resolver;
use tornado_iostream::tcpclient::TcpClient;

use crate::error::{ErrorKind, HttpClientError, Phase};
use crate::fetch::{HopResponse, fetch_hop, is_redirect};
use crate::pool::{Pool, Slots};
use crate::proxy::EnvProxies;
use crate::request::{DEFAULT_MAX_REDIRECTS, HttpRequest};
use crate::response::{HttpResponse, Timings};
use crate::tls::TlsConfigs;
use crate::upgrade::Upgraded;
use crate::url::{Url, redact};

/// Tornado's default `max_clients`: 10 fetches at once, the rest queued.
pub const DEFAULT_MAX_CLIENTS: usize = 10;
/// How long an idle keep-alive connection stays in the pool: 60 seconds.
pub const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The most idle connections kept per (scheme, host, port, TLS settings,
/// proxy): 32.
pub const DEFAULT_MAX_IDLE_PER_HOST: usize = 32;

/// How an [`AsyncHttpClient`] is set up (Tornado's `AsyncHTTPClient.configure`
/// keyword arguments, plus the pool's).
///
/// ```
/// use std::time::Duration;
/// use tornado_httpclient::{ClientConfig, HttpRequest};
///
/// let config = ClientConfig {
///     max_clients: 50,
///     defaults: HttpRequest::default()
///         .request_timeout(Duration::from_secs(5))
///         .user_agent("my-crawler/1.0"),
///     ..ClientConfig::default()
/// };
/// assert_eq!(config.pool_idle_timeout, Duration::from_secs(60));
/// ```
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The most fetches in progress at once; more wait in a queue, at most
    /// `min(connect_timeout, request_timeout)` each ([`DEFAULT_MAX_CLIENTS`]).
    pub max_clients: usize,
    /// Options for every request that leaves them unset (Tornado's
    /// `defaults`); its URL and method are ignored, its headers are added
    /// when the request lacks them.
    pub defaults: HttpRequest,
    /// How long an idle connection is kept for reuse
    /// ([`DEFAULT_POOL_IDLE_TIMEOUT`]); zero turns keep-alive off.
    pub pool_idle_timeout: Duration,
    /// The most idle connections kept per destination
    /// ([`DEFAULT_MAX_IDLE_PER_HOST`]); zero turns keep-alive off.
    pub max_idle_per_host: usize,
    /// Read `http_proxy`, `https_proxy` and `no_proxy` (or their upper-case
    /// forms) when the client is made, for requests that name no proxy.
    /// Off by default; never read when `REQUEST_METHOD` is set (CGI, where
    /// `HTTP_PROXY` is the client's `Proxy:` header: the httpoxy attack).
    pub proxy_from_env: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            max_clients: DEFAULT_MAX_CLIENTS,
            defaults: HttpRequest::default(),
            pool_idle_timeout: DEFAULT_POOL_IDLE_TIMEOUT,
            max_idle_per_host: DEFAULT_MAX_IDLE_PER_HOST,
            proxy_from_env: false,
        }
    }
}

/// What the clones of one client share.
pub(crate) struct Shared {
    pub(crate) config: ClientConfig,
    pub(crate) pool: Rc<Pool>,
    pub(crate) slots: Rc<Slots>,
    pub(crate) tcp: TcpClient,
    pub(crate) tls_configs: RefCell<TlsConfigs>,
    pub(crate) env_proxies: EnvProxies,
}

/// The non-blocking HTTP client (Tornado's `AsyncHTTPClient`), on the
/// current thread's [`IoLoop`](tornado_ioloop::IoLoop).
///
/// Cheap to clone; clones share the pool and the `max_clients` queue.
/// Unlike Tornado's pure-Python client it keeps connections alive and
/// reuses them, and it speaks to proxies.
///
/// ```
/// use tornado_httpclient::AsyncHttpClient;
/// use tornado_httpserver::httputil::HttpServerRequest;
/// use tornado_httpserver::{HttpServer, Response};
/// use tornado_ioloop::IoLoop;
///
/// let io_loop = IoLoop::new().unwrap();
/// io_loop.run_sync(async {
///     let server = HttpServer::new(|_req: HttpServerRequest| async { Response::text("hello") });
///     server.listen(0, Some("127.0.0.1")).unwrap();
///     let url = format!("http://{}/", server.local_addrs()[0]);
///
///     let client = AsyncHttpClient::new();
///     let response = client.fetch(url.as_str()).await.unwrap();
///     assert_eq!(response.code, 200);
///     assert_eq!(response.text().unwrap(), "hello");
///     server.stop();
/// });
/// ```
#[derive(Clone)]
pub struct AsyncHttpClient {
    shared: Rc<Shared>,
}

impl fmt::Debug for AsyncHttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncHttpClient")
            .field("max_clients", &self.shared.config.max_clients)
            .field("active", &self.shared.slots.active())
            .field("queued", &self.shared.slots.queued())
            .field("idle_connections", &self.shared.pool.idle_count())
            .finish()
    }
}

impl Default for AsyncHttpClient {
    fn default() -> Self {
        AsyncHttpClient::new()
    }
}

impl AsyncHttpClient {
    /// A client with the default [`ClientConfig`].
    pub fn new() -> AsyncHttpClient {
        AsyncHttpClient::with_config(ClientConfig::default())
    }

    /// The shared client of the current [`IoLoop`](tornado_ioloop::IoLoop),
    /// made with the default [`ClientConfig`] on first use (Tornado's
    /// `AsyncHTTPClient()`, which gives one instance per IOLoop;
    /// [`new`](Self::new) is its `force_instance=True`). Everything on that
    /// loop that uses it shares one pool and one `max_clients` queue. A
    /// thread that runs another loop gets a new client for it (a pooled
    /// connection belongs to the loop that opened it).
    ///
    /// ```
    /// use tornado_httpclient::AsyncHttpClient;
    ///
    /// let a = AsyncHttpClient::current();
    /// let b = AsyncHttpClient::current();
    /// assert!(a.same_client(&b));
    /// assert!(!a.same_client(&AsyncHttpClient::new()));
    ///
    /// // Another loop, another client.
    /// tornado_ioloop::IoLoop::new().unwrap().make_current();
    /// assert!(!a.same_client(&AsyncHttpClient::current()));
    /// ```
    pub fn current() -> AsyncHttpClient {
        thread_local! {
            static CURRENT: RefCell<Option<(usize, AsyncHttpClient)>> = const { RefCell::new(None) };
        }
        let loop_id = tornado_ioloop::IoLoop::current().id();
        CURRENT.with(|current| {
            let mut current = current.borrow_mut();
            match &*current {
                Some((id, client)) if *id == loop_id => client.clone(),
                _ => {
                    let client = AsyncHttpClient::new();
                    *current = Some((loop_id, client.clone()));
                    client
                }
            }
        })
    }

    /// Whether `other` is a clone of this client (shares its pool and queue).
    pub fn same_client(&self, other: &AsyncHttpClient) -> bool {
        Rc::ptr_eq(&self.shared, &other.shared)
    }

    /// A client with `config`.
    pub fn with_config(config: ClientConfig) -> AsyncHttpClient {
        AsyncHttpClient::build(config, TcpClient::new())
    }

    /// A client that resolves host names with `resolver` (an
    /// [`OverrideResolver`](tornado_iostream::netutil::OverrideResolver)
    /// that sends a name to 127.0.0.1 in tests, say).
    ///
    /// ```
    /// use tornado_httpclient::{AsyncHttpClient, ClientConfig};
    /// use tornado_httpserver::httputil::HttpServerRequest;
    /// use tornado_httpserver::{HttpServer, Response};
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::netutil::{DefaultResolver, OverrideResolver};
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let server = HttpServer::new(|req: HttpServerRequest| async move {
    ///         Response::text(req.host().to_owned())
    ///     });
    ///     server.listen(0, Some("127.0.0.1")).unwrap();
    ///     let addr = server.local_addrs()[0];
    ///     // www.example.test is this machine, for this client only.
    ///     let resolver = OverrideResolver::new(DefaultResolver).with(
    ///         "www.example.test",
    ///         addr.port(),
    ///         vec![addr],
    ///     );
    ///     let client = AsyncHttpClient::with_resolver(ClientConfig::default(), resolver);
    ///     let url = format!("http://www.example.test:{}/", addr.port());
    ///     let response = client.fetch(url).await.unwrap();
    ///     assert_eq!(response.text().unwrap(), format!("www.example.test:{}", addr.port()));
    ///     server.stop();
    /// });
    /// ```
    pub fn with_resolver(
        config: ClientConfig,
        resolver: impl Resolver + 'static,
    ) -> AsyncHttpClient {
        AsyncHttpClient::build(config, TcpClient::with_resolver(resolver))
    }

    fn build(config: ClientConfig, tcp: TcpClient) -> AsyncHttpClient {
        let env_proxies = if config.proxy_from_env {
            EnvProxies::from_env()
        } else {
            EnvProxies::default()
        };
        AsyncHttpClient {
            shared: Rc::new(Shared {
                pool: Pool::new(config.pool_idle_timeout, config.max_idle_per_host),
                slots: Slots::new(config.max_clients),
                tcp,
                tls_configs: RefCell::new(TlsConfigs::default()),
                env_proxies,
                config,
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.shared.config
    }

    /// Idle keep-alive connections in the pool.
    pub fn idle_connections(&self) -> usize {
        self.shared.pool.idle_count()
    }

    /// Fetches in progress, and fetches waiting in the queue.
    pub fn load(&self) -> (usize, usize) {
        (self.shared.slots.active(), self.shared.slots.queued())
    }

    /// Closes the idle connections in the pool. Fetches in progress are
    /// not interrupted, and their connections still go back to the pool
    /// when they end (unless the server said `Connection: close`): call
    /// `close` again once they are done, or drop every clone of the client.
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
    ///     client.fetch(url.as_str()).await.unwrap();
    ///     assert_eq!(client.idle_connections(), 1);
    ///     assert_eq!(client.load(), (0, 0)); // nothing in progress or queued
    ///     client.close();
    ///     assert_eq!(client.idle_connections(), 0);
    ///     server.stop();
    /// });
    /// ```
    pub fn close(&self) {
        self.shared.pool.clear();
    }

    /// Fetches `request` (a URL, or an [`HttpRequest`]) and returns the
    /// response, following redirects (Tornado's `fetch`).
    ///
    /// A non-2xx final response is an `Err` with the response attached
    /// unless the request says [`raise_error(false)`](HttpRequest::raise_error);
    /// a transport failure (code 599) is always an `Err`.
    ///
    /// The future owns what it needs (a clone of the client), so it can be
    /// spawned or given to `run_sync` directly.
    ///
    /// ```
    /// use tornado_httpclient::{AsyncHttpClient, ErrorKind, HttpRequest};
    /// use tornado_httpserver::httputil::HttpServerRequest;
    /// use tornado_httpserver::{HttpServer, Response};
    /// use tornado_ioloop::IoLoop;
    /// use http::StatusCode;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let server = HttpServer::new(|_req: HttpServerRequest| async {
    ///         Response::text("no such page").with_status(StatusCode::NOT_FOUND)
    ///     });
    ///     server.listen(0, Some("127.0.0.1")).unwrap();
    ///     let url = format!("http://{}/missing", server.local_addrs()[0]);
    ///     let client = AsyncHttpClient::new();
    ///
    ///     // By default a 404 is an error, with the response attached.
    ///     let err = client.fetch(url.as_str()).await.unwrap_err();
    ///     assert_eq!((err.kind(), err.code()), (ErrorKind::Http, 404));
    ///     assert_eq!(err.to_string(), "HTTP 404: Not Found");
    ///     assert_eq!(err.response().unwrap().text().unwrap(), "no such page");
    ///
    ///     // With raise_error(false) it is a response that carries the error.
    ///     let response = client
    ///         .fetch(HttpRequest::new(url.as_str()).raise_error(false))
    ///         .await
    ///         .unwrap();
    ///     assert_eq!(response.code, 404);
    ///     assert!(response.rethrow().is_err());
    ///     server.stop();
    /// });
    /// ```
    pub fn fetch(
        &self,
        request: impl Into<HttpRequest>,
    ) -> impl Future<Output = Result<HttpResponse, HttpClientError>> + 'static {
        let client = self.clone();
        let request = request.into();
        async move { client.fetch_request(request).await }
    }

    /// Sends `request` on a new connection and hands the connection over
    /// when the server answers `101 Switching Protocols`: the way into
    /// another protocol over HTTP/1.1 (a WebSocket, which
    /// `tornado_web::websocket::websocket_connect` builds on this).
    ///
    /// The request names the protocol in its `Upgrade` header (and
    /// `Connection: Upgrade` is added unless it has a `Connection` header);
    /// it has no body. The connection is made as for [`fetch`](Self::fetch),
    /// with the request's TLS settings (`validate_cert`, `ca_certs`, a client
    /// certificate) and proxy, but it is always a new one, never taken from
    /// or given to the pool, and it does not wait for a `max_clients` slot.
    /// Through a proxy it is a `CONNECT` tunnel for `http://` too. Redirects
    /// are not followed. The connect timeout bounds the connecting, the
    /// request timeout the whole handshake; neither applies afterwards.
    ///
    /// Any other answer is an error: an [`ErrorKind::Http`] with the status
    /// as its code and the response (with its body) attached, a 2xx
    /// included; transport failures are as for `fetch`. On success, what
    /// the server sent after the `101` head is left buffered in the stream.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use tornado_httpclient::{AsyncHttpClient, HttpRequest};
    /// use tornado_ioloop::IoLoop;
    ///
    /// // A server that switches to an "echo" protocol and speaks first.
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let url = format!("http://{}/", listener.local_addr().unwrap());
    /// let server = std::thread::spawn(move || {
    ///     let (mut s, _) = listener.accept().unwrap();
    ///     let mut head = Vec::new();
    ///     let mut byte = [0];
    ///     while !head.ends_with(b"\r\n\r\n") {
    ///         s.read_exact(&mut byte).unwrap();
    ///         head.push(byte[0]);
    ///     }
    ///     s.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\n\
    ///                   Connection: Upgrade\r\n\r\nhello").unwrap();
    ///     String::from_utf8(head).unwrap()
    /// });
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let request = HttpRequest::new(url).header("Upgrade", "echo");
    ///     let upgraded = AsyncHttpClient::new().upgrade(request).await.unwrap();
    ///     assert_eq!(upgraded.response.code, 101);
    ///     // The bytes after the head belong to the new protocol.
    ///     let hello = upgraded.stream.read_bytes(5, false).await.unwrap();
    ///     assert_eq!(&hello[..], b"hello");
    /// });
    /// let head = server.join().unwrap();
    /// assert!(head.contains("Upgrade: echo\r\n"));
    /// assert!(head.contains("Connection: Upgrade\r\n"));
    /// ```
    pub fn upgrade(
        &self,
        request: impl Into<HttpRequest>,
    ) -> impl Future<Output = Result<Upgraded, HttpClientError>> + 'static {
        crate::upgrade::upgrade(self.shared.clone(), request.into())
    }

    async fn fetch_request(
        &self,
        mut request: HttpRequest,
    ) -> Result<HttpResponse, HttpClientError> {
        let start = Instant::now();
        let start_time = SystemTime::now();
        request.merge_defaults(&self.shared.config.defaults);
        if let Some(method) = &request.bad_method {
            return Err(HttpClientError::invalid_request(format!(
                "invalid method {method:?} for {}",
                redact(&request.url)
            )));
        }
        check_fields(&request)?;
        // The request as the caller made it, for the response; kept aside
        // only once a redirect rewrites `request`.
        let mut original: Option<HttpRequest> = None;
        let mut url = Url::parse(&request.url)?;
        let (connect_timeout, request_timeout) = request.timeouts();
        let queue_deadline =
            tornado_ioloop::deadline_after(start, connect_timeout.min(request_timeout));
        let Some(_slot) = self.shared.slots.acquire(queue_deadline).await else {
            return Err(HttpClientError::timeout(Phase::Queue, &url.authority()));
        };
        let queue = start.elapsed();
        let max_redirects = request.max_redirects.unwrap_or(DEFAULT_MAX_REDIRECTS);
        let mut redirects = 0;
        let mut redirect_time = Duration::ZERO;
        loop {
            let hop_start = Instant::now();
            // A redirect past the limit, or to a Location that cannot be
            // followed, is the last response: its head and body go to the
            // callbacks and into the error (Tornado follows only while
            // max_redirects > 0).
            let will_follow = |code: u16, headers: &HttpHeaders| {
                redirects < max_redirects
                    && is_redirect(&request, code, headers)
                    && headers.get("Location").is_some_and(|l| url.join(l).is_ok())
            };
            let mut hop = fetch_hop(&self.shared, &request, &url, hop_start, &will_follow).await?;
            let code = hop.head.status.as_u16();
            let mut refused = None;
            if is_redirect(&request, code, &hop.head.headers) {
                let location = hop.head.headers.get("Location").unwrap_or_default();
                match url.join(location) {
                    Ok(mut next) if redirects < max_redirects => {
                        original.get_or_insert_with(|| request.clone());
                        redirect_request(&mut request, code, &url, &mut next);
                        redirects += 1;
                        redirect_time += hop_start.elapsed();
                        url = next;
                        continue;
                    }
                    Ok(_) => {
                        refused = Some(format!(
                            "Too many redirects: more than {max_redirects} fetching {}; the last Location was {location}",
                            redact(&original.as_ref().unwrap_or(&request).url)
                        ))
                    }
                    Err(e) => {
                        refused = Some(format!(
                            "cannot follow the redirect from {url} to {location:?}: {e}"
                        ))
                    }
                }
            }
            // The hop timed its phases from its own start; the response
            // counts them from the fetch's, the queue and redirects included.
            let offset = hop_start.duration_since(start);
            for time in [
                &mut hop.connect,
                &mut hop.pretransfer,
                &mut hop.starttransfer,
            ]
            .into_iter()
            .flatten()
            {
                *time += offset;
            }
            let raise_error = request.raise_error.unwrap_or(true);
            let mut response = finish(
                original.unwrap_or(request),
                &url,
                hop,
                start,
                start_time,
                queue,
                redirect_time,
            );
            if let Some(message) = refused {
                return Err(HttpClientError::new(ErrorKind::Redirect, code, message)
                    .with_response(response));
            }
            if response.is_success() {
                return Ok(response);
            }
            let error = HttpClientError::new(
                ErrorKind::Http,
                code,
                format!("HTTP {code}: {}", response.reason),
            );
            response.error = Some(Box::new(error.clone()));
            if raise_error {
                return Err(error.with_response(response));
            }
            return Ok(response);
        }
    }
}

/// Refuses, before anything is sent, a header name that is not a token and
/// a CR, LF or NUL in a header value or the user agent (which would let a
/// value inject header lines): the checks the connection makes as it
/// writes, made before connecting.
pub(crate) fn check_fields(request: &HttpRequest) -> Result<(), HttpClientError> {
    let fields = request.headers.iter();
    let agent = request.user_agent.as_deref().map(|a| ("User-Agent", a));
    for (name, value) in fields.chain(agent) {
        check_field(name, value).map_err(|e| {
            HttpClientError::invalid_request(format!(
                "{} {}: {e}",
                request.method,
                redact(&request.url)
            ))
        })?;
    }
    Ok(())
}

/// Builds the response of the last hop.
fn finish(
    original: HttpRequest,
    url: &Url,
    hop: HopResponse,
    start: Instant,
    start_time: SystemTime,
    queue: Duration,
    redirect: Duration,
) -> HttpResponse {
    let total = start.elapsed();
    let code = hop.head.status.as_u16();
    let reason = if hop.head.reason.is_empty() {
        crate::response::standard_reason(code).to_owned()
    } else {
        hop.head.reason
    };
    HttpResponse {
        request: original,
        code,
        reason,
        headers: hop.head.headers,
        body: hop.body,
        effective_url: url.href(),
        start_time,
        request_time: total,
        time_info: Timings {
            queue,
            connect: hop.connect,
            pretransfer: hop.pretransfer,
            starttransfer: hop.starttransfer,
            redirect,
            total,
        },
        error: None,
    }
}

/// Turns `request` into the request for the redirect's target.
///
/// 303 becomes `GET` (a `HEAD` stays `HEAD`); 301 and 302 turn a `POST`
/// into a `GET`; 307 and 308 keep the method and the body. Going to
/// another origin drops the credentials: `Authorization`, `Cookie`, the
/// auth options and a `user:password@` in either URL; a hop on the same
/// origin keeps them, the `user:password@`
/// of the URL included (as Tornado's `urljoin` keeps it).
fn redirect_request(request: &mut HttpRequest, code: u16, from: &Url, to: &mut Url) {
    let to_get = match code {
        303 => request.method != Method::HEAD,
        301 | 302 => request.method == Method::POST,
        _ => false,
    };
    if to_get {
        request.method = Method::GET;
        request.body = None;
        request.body_producer = None;
        for name in [
            "Content-Length",
            "Content-Type",
            "Content-Encoding",
            "Transfer-Encoding",
        ] {
            request.headers.remove(name);
        }
    }
    if !from.same_origin(to) {
        request.headers.remove("Authorization");
        request.headers.remove("Cookie");
        request.auth_username = None;
        request.auth_password = None;
        // Credentials a Location names for another origin are not sent
        // either.
        to.userinfo = None;
    } else if to.userinfo.is_none() {
        to.userinfo = from.userinfo.clone();
    }
    // The Host header, if the caller set one, named the old host.
    request.headers.remove("Host");
    request.url = to.href();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn redirects_rewrite_the_method_as_browsers_do() {
        let post = || {
            HttpRequest::new("http://a/")
                .method("POST")
                .body("x")
                .header("Content-Type", "text/plain")
        };
        for (code, method, body) in [
            (301, "GET", false),
            (302, "GET", false),
            (303, "GET", false),
            (307, "POST", true),
            (308, "POST", true),
        ] {
            let mut req = post();
            redirect_request(&mut req, code, &url("http://a/"), &mut url("http://a/next"));
            assert_eq!(req.method, method, "{code}");
            assert_eq!(req.body.is_some(), body, "{code}");
            assert_eq!(req.headers.contains("Content-Type"), body, "{code}");
            assert_eq!(req.url, "http://a/next");
        }
        let mut put = HttpRequest::new("http://a/").method("PUT").body("x");
        redirect_request(&mut put, 302, &url("http://a/"), &mut url("http://a/b"));
        assert_eq!(put.method, "PUT");
        let mut head = HttpRequest::new("http://a/").method("HEAD");
        redirect_request(&mut head, 303, &url("http://a/"), &mut url("http://a/b"));
        assert_eq!(head.method, "HEAD");
    }

    #[test]
    fn credentials_stay_on_their_origin() {
        let make = || {
            HttpRequest::new("http://a/")
                .auth("u", "p")
                .header("Authorization", "Bearer t")
                .header("Cookie", "c=1")
                .header("X-Other", "kept")
        };
        let mut same = make();
        redirect_request(&mut same, 302, &url("http://a/"), &mut url("http://a:80/x"));
        assert!(same.headers.contains("Authorization") && same.headers.contains("Cookie"));
        assert_eq!(same.auth_username.as_deref(), Some("u"));
        // The URL's own credentials follow a hop on the same origin only.
        let from = url("http://me:secret@a/");
        let mut to = url("http://a/x");
        redirect_request(&mut make(), 302, &from, &mut to);
        assert_eq!(to.userinfo, Some(("me".into(), "secret".into())));
        let mut to = url("http://b/x");
        redirect_request(&mut make(), 302, &from, &mut to);
        assert_eq!(to.userinfo, None);
        // And a Location's own credentials for another origin are dropped.
        let mut to = url("http://them:theirs@b/x");
        redirect_request(&mut make(), 302, &url("http://a/"), &mut to);
        assert_eq!(to.userinfo, None);
        for other in ["http://b/", "https://a/", "http://a:81/"] {
            let mut req = make();
            redirect_request(&mut req, 307, &url("http://a/"), &mut url(other));
            assert!(!req.headers.contains("Authorization"), "{other}");
            assert!(!req.headers.contains("Cookie"), "{other}");
            assert_eq!(req.auth_username, None, "{other}");
            assert_eq!(req.headers.get("X-Other"), Some("kept"));
        }
    }
}
