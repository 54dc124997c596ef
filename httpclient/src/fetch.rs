//! One hop of a fetch: get a connection (pooled or new, through a proxy,
//! with TLS), send the request, read the response.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::Method;
use tornado_httpserver::http1connection::{ClientError, ClientEvent, RequestBody, ResponseHead};
use tornado_httpserver::httputil::{HttpHeaders, format_timestamp};
use tornado_ioloop::{before_deadline, deadline_after};
use tornado_iostream::netutil::AddressFamily;
use tornado_iostream::tcpclient::ConnectOptions;
use tornado_iostream::tls::TlsConfig;

use crate::body::BodyWriter;
use crate::client::Shared;
use crate::connection::{Connection, ReadFailure};
use crate::error::{ErrorKind, HttpClientError, Phase};
use crate::pool::PoolKey;
use crate::proxy::Proxy;
use crate::request::{
    DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_HEADER_SIZE, DEFAULT_USER_AGENT, HttpRequest,
    basic_credentials,
};
use crate::response::HttpResponse;
use crate::tls::TlsKey;
use crate::url::{Scheme, Url};

/// How long a body held back by `Expect: 100-continue` waits for the
/// server's `100 Continue` before it is sent anyway (curl waits one second).
const CONTINUE_TIMEOUT: Duration = Duration::from_secs(1);

/// The receiving half's word to the sending half that the body held back
/// for `100 Continue` may go (or never will): a flag and a waker, on the
/// exchange's stack.
#[derive(Default)]
struct Release {
    set: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Release {
    fn set(&self) {
        self.set.set(true);
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }

    async fn wait(&self) {
        std::future::poll_fn(|cx| {
            if self.set.get() {
                return Poll::Ready(());
            }
            *self.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
        .await;
    }
}

/// The most body bytes of a proxy's refusal of a tunnel that are read.
const REFUSAL_MAX_BODY: u64 = 64 * 1024;

/// The response of one hop.
#[derive(Debug)]
pub(crate) struct HopResponse {
    pub(crate) head: ResponseHead,
    pub(crate) body: Bytes,
    pub(crate) connect: Option<Duration>,
    pub(crate) pretransfer: Option<Duration>,
    pub(crate) starttransfer: Option<Duration>,
}

/// Whether a response with `code` and these headers is a redirect the
/// request follows.
pub(crate) fn is_redirect(request: &HttpRequest, code: u16, headers: &HttpHeaders) -> bool {
    request.follow_redirects.unwrap_or(true)
        && matches!(code, 301 | 302 | 303 | 307 | 308)
        && headers.contains("Location")
}

/// A method that may be sent again after a pooled connection failed
/// (RFC 9110 section 9.2.2).
fn idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    )
}

/// The per-hop settings worked out from the request.
pub(crate) struct Plan<'a> {
    pub(crate) request: &'a HttpRequest,
    pub(crate) url: &'a Url,
    key: PoolKey,
    proxy: Option<Proxy>,
    /// Whether the pool keeps connections; if not, the server is told so.
    keep_alive: bool,
    /// The connection is for an upgrade (a WebSocket): never pooled, and
    /// through a proxy it goes by a `CONNECT` tunnel even for `http://`,
    /// since a plain proxy would not pass the new protocol on.
    upgrade: bool,
}

impl<'a> Plan<'a> {
    /// Works out the proxy, the pool key and the connection's fate.
    pub(crate) fn new(
        shared: &Shared,
        request: &'a HttpRequest,
        url: &'a Url,
        upgrade: bool,
    ) -> Plan<'a> {
        let mut proxy = Proxy::of_request(request).or_else(|| shared.env_proxies.for_url(url));
        // A `Proxy-Authorization` header the caller set is for the proxy alone:
        // it goes on the proxy's requests, never to the origin.
        if let Some(proxy) = &mut proxy
            && proxy.authorization.is_none()
        {
            proxy.authorization = request
                .headers
                .get("Proxy-Authorization")
                .map(str::to_owned);
        }
        let key = PoolKey {
            scheme: url.scheme,
            host: url.host.clone(),
            port: url.port,
            tls: (url.scheme == Scheme::Https).then(|| TlsKey::of(request)),
            proxy: proxy.clone(),
            source: request.network_interface,
            ipv6: request.allow_ipv6.unwrap_or(true),
        };
        Plan {
            request,
            url,
            key,
            proxy,
            // An upgraded connection is never pooled, and says nothing of
            // keep-alive: its `Connection` header names the upgrade.
            keep_alive: upgrade || shared.pool.keeps_alive(),
            upgrade,
        }
    }

    /// `host:port` for messages; made only when one is needed.
    pub(crate) fn host(&self) -> String {
        self.url.authority()
    }

    /// Whether the connection goes through a proxy's `CONNECT` tunnel
    /// (else a proxy, if any, gets requests in absolute form).
    fn tunnels(&self) -> bool {
        self.proxy.is_some() && (self.url.scheme == Scheme::Https || self.upgrade)
    }
}

/// Fetches one hop: a pooled connection is tried first and, if the server
/// had closed it before answering, an idempotent request is sent once more
/// on a new connection.
pub(crate) async fn fetch_hop(
    shared: &Rc<Shared>,
    request: &HttpRequest,
    url: &Url,
    start: Instant,
    redirecting: &dyn Fn(u16, &HttpHeaders) -> bool,
) -> Result<HopResponse, HttpClientError> {
    let plan = Plan::new(shared, request, url, false);
    let (connect_timeout, request_timeout) = request.timeouts();
    let request_deadline = deadline_after(start, request_timeout);
    let connect_deadline = deadline_after(start, connect_timeout).min(request_deadline);
    let mut retried = false;
    loop {
        // A retry goes out on a new connection: the other pooled ones may
        // be as stale as the one that failed.
        let pooled = if retried {
            None
        } else {
            shared.pool.checkout(&plan.key)
        };
        let (conn, connect_time) = match pooled {
            Some(conn) => (conn, None),
            None => {
                let conn =
                    match before_deadline(Some(connect_deadline), connect(shared, &plan)).await {
                        Some(result) => result?,
                        None => return Err(HttpClientError::timeout(Phase::Connect, &plan.host())),
                    };
                (Rc::new(conn), Some(start.elapsed()))
            }
        };
        let reused = conn.uses.get() > 0;
        let phase = Cell::new(Phase::Send);
        let exchange = exchange(&plan, &conn, &phase, start, redirecting);
        let result = match before_deadline(Some(request_deadline), exchange).await {
            Some(result) => result,
            None => Err((HttpClientError::timeout(phase.get(), &plan.host()), true)),
        };
        // A body producer that kept its writer still holds the connection:
        // then it is neither pooled nor closed here.
        let conn = (Rc::strong_count(&conn) == 1).then_some(conn);
        match result {
            Ok(mut response) => {
                response.connect = connect_time;
                if let Some(conn) = conn {
                    conn.uses.set(conn.uses.get() + 1);
                    shared.pool.checkin(&plan.key, conn);
                }
                return Ok(response);
            }
            Err((err, heard_back)) => {
                if let Some(conn) = conn {
                    conn.stream.close();
                }
                let stale = matches!(err.kind(), ErrorKind::Closed | ErrorKind::Io);
                if reused && stale && !heard_back && !retried && idempotent(&request.method) {
                    log::debug!("retrying {} on a new connection: {err}", plan.url);
                    retried = true;
                    continue;
                }
                return Err(err);
            }
        }
    }
}

/// Opens a connection: TCP to the origin or the proxy, a `CONNECT` tunnel
/// through the proxy for `https` (and for an upgrade), then TLS.
pub(crate) async fn connect(
    shared: &Rc<Shared>,
    plan: &Plan<'_>,
) -> Result<Connection, HttpClientError> {
    let url = plan.url;
    let (host, port) = match &plan.proxy {
        Some(proxy) => (proxy.host.as_str(), proxy.port),
        None => (url.host.as_str(), url.port),
    };
    let mut options = ConnectOptions::new();
    if !plan.key.ipv6 {
        options = options.family(AddressFamily::Inet);
    }
    if let Some(ip) = plan.key.source {
        options = options.source_ip(ip);
    }
    let tls = match &plan.key.tls {
        Some(key) => Some(shared.tls_configs.borrow_mut().get(key)?),
        None => None,
    };
    if plan.proxy.is_none()
        && let Some(config) = &tls
    {
        options = options.tls(config.clone());
    }
    let stream = shared
        .tcp
        .connect_with(host, port, &options)
        .await
        .map_err(|e| HttpClientError::io(Phase::Connect, &format!("{host}:{port}"), e))?;
    let _ = stream.set_nodelay(true);
    let conn = Connection::new(stream);
    if let Some(proxy) = &plan.proxy
        && plan.tunnels()
    {
        tunnel(&conn, proxy, url).await?;
        if let Some(config) = tls {
            let tls = TlsConfig::client(config, &url.host)
                .map_err(|e| HttpClientError::io(Phase::Connect, &plan.host(), e))?;
            conn.stream.start_tls(tls).await.map_err(|e| {
                HttpClientError::transport(
                    ErrorKind::Tls,
                    Phase::Connect,
                    format!("TLS handshake with {} failed: {e}", plan.host()),
                )
            })?;
        }
        return Ok(Connection::new_after_tunnel(conn));
    }
    Ok(conn)
}

/// Asks the proxy for a tunnel to the origin.
async fn tunnel(conn: &Connection, proxy: &Proxy, url: &Url) -> Result<(), HttpClientError> {
    let where_ = format!("proxy {}:{}", proxy.host, proxy.port);
    let mut headers = HttpHeaders::new();
    if let Some(auth) = &proxy.authorization {
        headers.add("Proxy-Authorization", auth);
    }
    let authority = url.authority();
    let mut out = BytesMut::new();
    conn.proto
        .borrow_mut()
        .write_request(
            "CONNECT",
            &authority,
            &authority,
            &headers,
            RequestBody::None,
            &mut out,
        )
        .map_err(|e| HttpClientError::invalid_request(format!("CONNECT {authority}: {e}")))?;
    conn.send(out)
        .await
        .map_err(|e| HttpClientError::io(Phase::Connect, &where_, e))?;
    // The proxy's refusal (a 407 with its Proxy-Authenticate, say) is
    // read whole, within a small limit, and attached to the error.
    conn.proto.borrow_mut().params_mut().max_body_size = REFUSAL_MAX_BODY;
    let mut refusal: Option<(ResponseHead, Body)> = None;
    loop {
        match conn.next_event().await {
            Ok(ClientEvent::Head(head)) if head.status.is_success() => {}
            Ok(ClientEvent::Head(head)) => refusal = Some((head, Body::default())),
            Ok(ClientEvent::Data(data)) => {
                if let Some((_, body)) = &mut refusal {
                    body.push(data);
                }
            }
            Ok(ClientEvent::End) => match refusal.take() {
                Some((head, body)) => {
                    let code = head.status.as_u16();
                    let mut response = HttpResponse::new(code, &url.href(), body.finish());
                    if !head.reason.is_empty() {
                        response.reason = head.reason;
                    }
                    response.headers = head.headers;
                    let message = format!(
                        "{where_} refused the tunnel to {authority}: {code} {}",
                        response.reason
                    );
                    return Err(HttpClientError::new(ErrorKind::Proxy, code, message)
                        .with_phase(Phase::Connect)
                        .with_response(response));
                }
                None if conn.proto.borrow().is_upgraded() => break,
                None => {}
            },
            Ok(_) => {}
            Err(failure) => return Err(read_error(failure, Phase::Connect, &where_)),
        }
    }
    if conn.leftover() > 0 {
        return Err(HttpClientError::transport(
            ErrorKind::Protocol,
            Phase::Connect,
            format!("{where_} sent bytes after accepting the tunnel to {authority}"),
        ));
    }
    Ok(())
}

impl Connection {
    /// A fresh HTTP/1.1 state over the stream of a tunnel.
    fn new_after_tunnel(tunnel: Connection) -> Connection {
        Connection::new(tunnel.into_stream())
    }
}

/// Maps a read failure to the fetch's error.
pub(crate) fn read_error(failure: ReadFailure, phase: Phase, host: &str) -> HttpClientError {
    match failure {
        ReadFailure::Io(e) => HttpClientError::io(phase, host, e),
        ReadFailure::Closed => HttpClientError::transport(
            ErrorKind::Closed,
            phase,
            format!("Connection closed by {host} before the response"),
        ),
        ReadFailure::Protocol(e) => protocol_error(&e, phase, host),
    }
}

fn protocol_error(e: &ClientError, phase: Phase, host: &str) -> HttpClientError {
    let kind = if e.is_body_too_large() {
        ErrorKind::BodyTooLarge
    } else if e.is_header_too_large() {
        ErrorKind::HeaderTooLarge
    } else if e.is_closed_early() {
        ErrorKind::Closed
    } else {
        ErrorKind::Protocol
    };
    HttpClientError::transport(kind, phase, format!("{} (from {host})", e.message()))
}

type ExchangeError = (HttpClientError, bool);

/// Sends the request and reads the response on `conn`, both at once: a
/// server may answer while the body is still going out (an echo that
/// streams back what it reads, a 413 for a large upload), and waiting for
/// the whole body to be written first would deadlock on full socket
/// buffers or lose the answer. An error comes with whether the server had
/// sent anything back.
async fn exchange(
    plan: &Plan<'_>,
    conn: &Rc<Connection>,
    phase: &Cell<Phase>,
    start: Instant,
    redirecting: &dyn Fn(u16, &HttpHeaders) -> bool,
) -> Result<HopResponse, ExchangeError> {
    let fail = |e: HttpClientError| (e, conn.heard_back());
    let request = plan.request;
    conn.mark();
    {
        let mut proto = conn.proto.borrow_mut();
        let params = proto.params_mut();
        params.max_body_size = request.max_body_size.unwrap_or(DEFAULT_MAX_BODY_SIZE);
        params.max_header_size = request.max_header_size.unwrap_or(DEFAULT_MAX_HEADER_SIZE);
        params.decompress = request.decompress_response.unwrap_or(true);
    }
    let headers = request_headers(plan);
    let framing = match (&request.body, request.producer()) {
        (Some(body), _) => RequestBody::Length(body.len() as u64),
        (None, Some(_)) => match headers.get("Content-Length") {
            Some(n) => RequestBody::Length(n.trim().parse().map_err(|_| {
                fail(HttpClientError::invalid_request(format!(
                    "invalid Content-Length {n:?} for a body producer"
                )))
            })?),
            None => RequestBody::Chunked,
        },
        (None, None) => RequestBody::None,
    };
    let target = if plan.proxy.is_some() && !plan.tunnels() {
        Cow::Owned(plan.url.href())
    } else {
        Cow::Borrowed(plan.url.target.as_str())
    };
    let mut out = BytesMut::new();
    conn.proto
        .borrow_mut()
        .write_request(
            request.method.as_str(),
            &target,
            &plan.url.host_header(),
            &headers,
            framing,
            &mut out,
        )
        .map_err(|e| {
            fail(HttpClientError::invalid_request(format!(
                "{} {}: {e}",
                request.method, plan.url
            )))
        })?;
    // The head, and a body in hand unless it waits for 100 Continue.
    if let Some(body) = &request.body
        && conn.proto.borrow().body_allowed()
    {
        write_all_body(conn, body, &mut out).map_err(&fail)?;
    }

    // Set by the receiving half when the server says `100 Continue` or
    // gives its final answer first: the sending half stops waiting.
    let released = Release::default();
    let sent_at = Cell::new(None);
    let send = send_half(plan, conn, out, &released, phase, start, &sent_at);
    let receive = receive_half(plan, conn, &released, start, redirecting);
    let mut send = pin!(send);
    let mut receive = pin!(receive);
    let mut send_result: Option<Result<(), HttpClientError>> = None;
    let result = std::future::poll_fn(|cx| {
        if send_result.is_none()
            && let Poll::Ready(result) = send.as_mut().poll(cx)
        {
            match result {
                Ok(()) => phase.set(Phase::Receive),
                // Not the socket: the server is still waiting for the rest of
                // the body, so no answer will come.
                Err(e) if !matches!(e.kind(), ErrorKind::Io | ErrorKind::Closed) => {
                    return Poll::Ready(Err(e));
                }
                Err(_) => {}
            }
            send_result = Some(result);
        }
        match receive.as_mut().poll(cx) {
            Poll::Ready(Ok(response)) => Poll::Ready(Ok(response)),
            Poll::Ready(Err((err, got_head))) => Poll::Ready(Err(match send_result.take() {
                // Nothing of an answer came: the failed send is the cause.
                Some(Err(send_error)) if !got_head => send_error,
                _ => err,
            })),
            Poll::Pending => Poll::Pending,
        }
    })
    .await;
    let mut response = result.map_err(&fail)?;
    response.pretransfer = sent_at.get();
    Ok(response)
}

/// Writes the request: `out` (the head, and the body when it is in hand
/// and not held back), then, after `100 Continue` if asked, the body or
/// the producer's pieces.
async fn send_half(
    plan: &Plan<'_>,
    conn: &Rc<Connection>,
    out: BytesMut,
    released: &Release,
    phase: &Cell<Phase>,
    start: Instant,
    sent_at: &Cell<Option<Duration>>,
) -> Result<(), HttpClientError> {
    let request = plan.request;
    let send_error = |e| HttpClientError::io(Phase::Send, &plan.host(), e);
    conn.send(out).await.map_err(send_error)?;
    if conn.proto.borrow().awaiting_continue() {
        phase.set(Phase::Receive);
        let waited =
            before_deadline(Some(Instant::now() + CONTINUE_TIMEOUT), released.wait()).await;
        if waited.is_none() {
            conn.proto.borrow_mut().continue_timed_out();
        }
        phase.set(Phase::Send);
    }
    if conn.proto.borrow().body_allowed() {
        let mut out = BytesMut::new();
        if let Some(body) = &request.body {
            write_all_body(conn, body, &mut out)?;
            conn.send(out).await.map_err(send_error)?;
        } else if let Some(producer) = request.producer() {
            let writer = BodyWriter::new(conn.clone());
            let produced = producer(writer.clone()).await;
            if let Some(e) = writer.take_failure() {
                return Err(send_error(e));
            }
            if let Err(e) = produced {
                return Err(HttpClientError::transport(
                    ErrorKind::BodyProducer,
                    Phase::Send,
                    format!("the body producer for {} failed: {e}", plan.url),
                ));
            }
            conn.proto
                .borrow_mut()
                .finish_request(&mut out)
                .map_err(|e| {
                    HttpClientError::transport(
                        ErrorKind::BodyProducer,
                        Phase::Send,
                        format!("the body producer for {} wrote a wrong body: {e}", plan.url),
                    )
                })?;
            conn.send(out).await.map_err(send_error)?;
        }
    }
    sent_at.set(Some(start.elapsed()));
    Ok(())
}

/// Reads the response. An error comes with whether a final head had come.
async fn receive_half(
    plan: &Plan<'_>,
    conn: &Rc<Connection>,
    released: &Release,
    start: Instant,
    redirecting: &dyn Fn(u16, &HttpHeaders) -> bool,
) -> Result<HopResponse, (HttpClientError, bool)> {
    let request = plan.request;
    let mut head: Option<ResponseHead> = None;
    let mut starttransfer = None;
    let mut body = Body::default();
    let mut redirect = false;
    loop {
        let event = conn.next_event().await.map_err(|failure| {
            let err = read_error(failure, Phase::Receive, &plan.host());
            (err, head.is_some())
        })?;
        match event {
            // Released the held-back body; Tornado does not show it.
            ClientEvent::Continue(_) => released.set(),
            ClientEvent::Informational(h) => call_header_callback(request, &h),
            ClientEvent::Head(h) => {
                // A final answer before `100 Continue`: the body is not sent.
                released.set();
                starttransfer = Some(start.elapsed());
                redirect = redirecting(h.status.as_u16(), &h.headers);
                if !redirect {
                    call_header_callback(request, &h);
                }
                head = Some(h);
            }
            ClientEvent::Data(data) => {
                if redirect {
                    continue;
                }
                match request.stream_to() {
                    Some(callback) => {
                        let mut callback = callback.lock().unwrap_or_else(|p| p.into_inner());
                        callback(data);
                    }
                    None => body.push(data),
                }
            }
            ClientEvent::End => break,
        }
    }
    let Some(head) = head else {
        let err = HttpClientError::transport(
            ErrorKind::Protocol,
            Phase::Receive,
            format!("{} ended a response that had no head", plan.host()),
        );
        return Err((err, false));
    };
    Ok(HopResponse {
        head,
        body: body.finish(),
        connect: None,
        pretransfer: None,
        starttransfer,
    })
}

fn write_all_body(
    conn: &Connection,
    body: &Bytes,
    out: &mut BytesMut,
) -> Result<(), HttpClientError> {
    let mut proto = conn.proto.borrow_mut();
    proto
        .write_body(body, out)
        .and_then(|()| proto.finish_request(out))
        .map_err(|e| HttpClientError::invalid_request(format!("request body: {e}")))
}

/// The headers sent: the request's own, then what the options add.
pub(crate) fn request_headers(plan: &Plan<'_>) -> HttpHeaders {
    let request = plan.request;
    let mut headers = request.headers.clone();
    if !headers.contains("User-Agent") {
        // The default is a literal: kept as it is, not copied in.
        match &request.user_agent {
            Some(agent) => headers.add("User-Agent", agent),
            None => headers.add_static("User-Agent", DEFAULT_USER_AGENT),
        }
    }
    // A POST says nothing of its body's type: a form, as Tornado's client assumes.
    if request.method == http::Method::POST && !headers.contains("Content-Type") {
        headers.add_static("Content-Type", "application/x-www-form-urlencoded");
    }
    if request.decompress_response.unwrap_or(true) && !headers.contains("Accept-Encoding") {
        headers.add_static("Accept-Encoding", "gzip");
    }
    if !headers.contains("Authorization") {
        // The URL's `user:password@` wins over the options, as in Tornado.
        let credentials = match (&plan.url.userinfo, &request.auth_username) {
            (Some((user, pass)), _) => Some((user.as_str(), pass.as_str())),
            (None, Some(user)) => Some((
                user.as_str(),
                request.auth_password.as_deref().unwrap_or(""),
            )),
            (None, None) => None,
        };
        if let Some((user, pass)) = credentials {
            headers.add("Authorization", &basic_credentials(user, pass));
        }
    }
    if !plan.keep_alive && !headers.contains("Connection") {
        headers.add_static("Connection", "close");
    }
    if headers.contains("Proxy-Authorization") {
        headers.remove("Proxy-Authorization");
    }
    if let Some(proxy) = &plan.proxy
        && !plan.tunnels()
        && let Some(auth) = &proxy.authorization
    {
        headers.add("Proxy-Authorization", auth);
    }
    if let Some(time) = request.if_modified_since
        && !headers.contains("If-Modified-Since")
    {
        headers.add("If-Modified-Since", &format_timestamp(time));
    }
    let has_body =
        request.body.as_ref().is_some_and(|b| !b.is_empty()) || request.producer().is_some();
    if request.expect_100_continue && has_body && !headers.contains("Expect") {
        headers.add_static("Expect", "100-continue");
    }
    headers
}

/// Calls the header callback with the lines of `head`, as Tornado does.
pub(crate) fn call_header_callback(request: &HttpRequest, head: &ResponseHead) {
    let Some(callback) = request.header_lines() else {
        return;
    };
    let mut callback = callback.lock().unwrap_or_else(|p| p.into_inner());
    let version = if head.version == http::Version::HTTP_10 {
        "HTTP/1.0"
    } else {
        "HTTP/1.1"
    };
    callback(&format!(
        "{version} {} {}\r\n",
        head.status.as_u16(),
        head.reason
    ));
    for (name, value) in head.headers.iter() {
        callback(&format!("{name}: {value}\r\n"));
    }
    callback("\r\n");
}

/// The body gathered so far: one piece is kept as it is, more are joined.
#[derive(Debug, Default)]
pub(crate) struct Body {
    first: Option<Bytes>,
    rest: Option<BytesMut>,
}

impl Body {
    pub(crate) fn push(&mut self, data: Bytes) {
        if let Some(rest) = &mut self.rest {
            rest.extend_from_slice(&data);
        } else if let Some(first) = self.first.take() {
            let mut joined = BytesMut::with_capacity((first.len() + data.len()) * 2);
            joined.extend_from_slice(&first);
            joined.extend_from_slice(&data);
            self.rest = Some(joined);
        } else {
            self.first = Some(data);
        }
    }

    pub(crate) fn finish(self) -> Bytes {
        match (self.first, self.rest) {
            (_, Some(rest)) => rest.freeze(),
            (Some(first), None) => first,
            (None, None) => Bytes::new(),
        }
    }
}
