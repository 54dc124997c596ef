//! [`AsyncHttpClient::upgrade`](crate::AsyncHttpClient::upgrade): a request
//! answered with `101 Switching Protocols`, after which the connection
//! carries another protocol (a WebSocket, say).
//!
//! The connection is made as a fetch makes one (resolving, a proxy, TLS with
//! the request's settings) but is always new and never pooled, and through a
//! proxy it is a `CONNECT` tunnel for `http://` as well, since a proxy that
//! forwards requests would not pass the new protocol on. The response head
//! is taken from the stream up to its blank line and no further: whatever
//! the server sent after the `101` stays in the stream, unread.

use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use bytes::BytesMut;
use tornado_httpserver::http1connection::{ClientEvent, RequestBody, ResponseHead};
use tornado_ioloop::{before_deadline, deadline_after};
use tornado_iostream::IoStream;

use crate::client::{Shared, check_fields};
use crate::connection::Connection;
use crate::error::{ErrorKind, HttpClientError, Phase};
use crate::fetch::{Body, Plan, call_header_callback, connect, read_error, request_headers};
use crate::request::{DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_HEADER_SIZE, HttpRequest};
use crate::response::{HttpResponse, Timings};
use crate::url::{Url, redact};

/// A connection that switched protocols: what
/// [`AsyncHttpClient::upgrade`](crate::AsyncHttpClient::upgrade) gives.
pub struct Upgraded {
    /// The `101 Switching Protocols` response: its headers say what was
    /// agreed (`Sec-WebSocket-Accept`, …); its body is empty.
    pub response: HttpResponse,
    /// The connection, now the new protocol's (TLS and a proxy's tunnel
    /// included). Bytes the server sent after the response head are
    /// buffered in it, not yet read.
    pub stream: IoStream,
}

impl fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upgraded")
            .field("code", &self.response.code)
            .field("effective_url", &self.response.effective_url)
            .field("buffered", &self.stream.read_buffer_len())
            .finish()
    }
}

/// Sends `request` on a new connection and reads the answer; see
/// [`AsyncHttpClient::upgrade`](crate::AsyncHttpClient::upgrade).
pub(crate) async fn upgrade(
    shared: Rc<Shared>,
    mut request: HttpRequest,
) -> Result<Upgraded, HttpClientError> {
    let start = Instant::now();
    let start_time = SystemTime::now();
    request.merge_defaults(&shared.config.defaults);
    if let Some(method) = &request.bad_method {
        return Err(HttpClientError::invalid_request(format!(
            "invalid method {method:?} for {}",
            redact(&request.url)
        )));
    }
    if request.body.as_ref().is_some_and(|b| !b.is_empty()) || request.producer().is_some() {
        return Err(HttpClientError::invalid_request(format!(
            "an upgrade request has no body ({})",
            redact(&request.url)
        )));
    }
    if !request.headers.contains("Upgrade") {
        return Err(HttpClientError::invalid_request(format!(
            "an upgrade request names its protocol in an Upgrade header ({})",
            redact(&request.url)
        )));
    }
    if !request.headers.contains("Connection") {
        request.headers.add_static("Connection", "Upgrade");
    }
    check_fields(&request)?;
    let url = Url::parse(&request.url)?;
    let plan = Plan::new(&shared, &request, &url, true);
    let (connect_timeout, request_timeout) = request.timeouts();
    let request_deadline = deadline_after(start, request_timeout);
    let connect_deadline = deadline_after(start, connect_timeout).min(request_deadline);
    let conn = match before_deadline(Some(connect_deadline), connect(&shared, &plan)).await {
        Some(conn) => conn?,
        None => return Err(HttpClientError::timeout(Phase::Connect, &plan.host())),
    };
    let connected = start.elapsed();
    let exchange = handshake(&plan, &conn, start);
    let outcome = match before_deadline(Some(request_deadline), exchange).await {
        Some(outcome) => outcome,
        None => Err(HttpClientError::timeout(Phase::Receive, &plan.host())),
    };
    let (head, body, timings) = match outcome {
        Ok(answer) => answer,
        Err(e) => {
            conn.stream.close();
            return Err(e);
        }
    };
    let code = head.status.as_u16();
    // Bytes past the head went into the HTTP buffer, out of the new
    // protocol's reach (a head the parser and `next_head_event` saw ending
    // in different places).
    if code == 101 && conn.leftover() > 0 {
        conn.stream.close();
        return Err(HttpClientError::transport(
            ErrorKind::Protocol,
            Phase::Receive,
            format!(
                "{} sent bytes after the 101 that could not be handed over",
                plan.host()
            ),
        ));
    }
    let total = start.elapsed();
    let reason = if head.reason.is_empty() {
        crate::response::standard_reason(code).to_owned()
    } else {
        head.reason
    };
    let mut response = HttpResponse {
        effective_url: url.href(),
        request,
        code,
        reason,
        headers: head.headers,
        body,
        start_time,
        request_time: total,
        time_info: Timings {
            queue: Duration::ZERO,
            connect: Some(connected),
            pretransfer: timings.0,
            starttransfer: timings.1,
            redirect: Duration::ZERO,
            total,
        },
        error: None,
    };
    if code != 101 {
        conn.stream.close();
        let message = if (200..300).contains(&code) {
            format!(
                "HTTP {code}: {} (the server did not switch protocols)",
                response.reason
            )
        } else {
            format!("HTTP {code}: {}", response.reason)
        };
        let error = HttpClientError::new(ErrorKind::Http, code, message);
        response.error = Some(Box::new(error.clone()));
        return Err(error.with_response(response));
    }
    Ok(Upgraded {
        response,
        stream: conn.into_stream(),
    })
}

/// When the request was written and the final head read, from the start.
type HandshakeTimes = (Option<Duration>, Option<Duration>);

/// Writes the request head and reads the answer: the final head and, for
/// anything but a `101`, its body.
async fn handshake(
    plan: &Plan<'_>,
    conn: &Connection,
    start: Instant,
) -> Result<(ResponseHead, bytes::Bytes, HandshakeTimes), HttpClientError> {
    let request = plan.request;
    {
        let mut proto = conn.proto.borrow_mut();
        let params = proto.params_mut();
        params.max_body_size = request.max_body_size.unwrap_or(DEFAULT_MAX_BODY_SIZE);
        params.max_header_size = request.max_header_size.unwrap_or(DEFAULT_MAX_HEADER_SIZE);
        params.decompress = request.decompress_response.unwrap_or(true);
    }
    let headers = request_headers(plan);
    let mut out = BytesMut::new();
    conn.proto
        .borrow_mut()
        .write_request(
            request.method.as_str(),
            &plan.url.target,
            &plan.url.host_header(),
            &headers,
            RequestBody::None,
            &mut out,
        )
        .map_err(|e| {
            HttpClientError::invalid_request(format!("{} {}: {e}", request.method, plan.url))
        })?;
    conn.send(out)
        .await
        .map_err(|e| HttpClientError::io(Phase::Send, &plan.host(), e))?;
    let sent = Some(start.elapsed());
    let head = loop {
        let event = conn
            .next_head_event()
            .await
            .map_err(|f| read_error(f, Phase::Receive, &plan.host()))?;
        match event {
            ClientEvent::Continue(h) | ClientEvent::Informational(h) => {
                call_header_callback(request, &h)
            }
            ClientEvent::Head(h) => break h,
            ClientEvent::Data(_) | ClientEvent::End => {
                return Err(HttpClientError::transport(
                    ErrorKind::Protocol,
                    Phase::Receive,
                    format!("{} sent a body before a response head", plan.host()),
                ));
            }
        }
    };
    let headed = Some(start.elapsed());
    call_header_callback(request, &head);
    // The rest of the response: nothing after a 101 (its `End` comes at
    // once); the body of a refusal, for the error.
    let mut body = Body::default();
    loop {
        match conn.next_event().await {
            Ok(ClientEvent::Data(data)) => body.push(data),
            Ok(ClientEvent::End) => break,
            Ok(_) => {}
            Err(failure) => return Err(read_error(failure, Phase::Receive, &plan.host())),
        }
    }
    Ok((head, body.finish(), (sent, headed)))
}
