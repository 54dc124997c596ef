//! The client role of an HTTP/1.1 connection, without sockets: encode
//! requests, parse responses.
//!
//! Two halves with a state each: the write half (idle, waiting for
//! `100 Continue`, writing a body, body abandoned) and the read half
//! (waiting for a head, reading a body, closed, upgraded, failed), joined
//! by the queue of requests whose responses are due, so requests may be
//! pipelined and each response is matched with its request (a `HEAD`'s
//! response has no body, a `CONNECT`'s 2xx is a tunnel). The driver's loop
//! is described on [`ClientConnection`].

mod body;
mod error;
mod params;
mod request;
mod response_head;

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};
use http::{StatusCode, Version};

use self::body::{BodyReader, BodyStep, Framing};
use self::request::{BodyWriter, encode_request_head};
use self::response_head::{HeadNotes, ParsedHead, parse_response_head};
use super::inflate::Coding;
use crate::error::{OutputError, OutputErrorKind};
use crate::httputil::HttpHeaders;

pub use self::error::{ClientError, ClientErrorKind};
pub use self::params::{Http1ClientParameters, MAX_INFORMATIONAL_RESPONSES};
pub use self::request::RequestBody;
pub use self::response_head::ResponseHead;

/// What [`ClientConnection::poll`] found in the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// An interim response (102, 103, …, or a `100 Continue` that released
    /// no body); the final response follows. Tornado's client delegate gets
    /// `headers_received` for these too.
    Informational(ResponseHead),
    /// `100 Continue` for a request whose body was held back by
    /// `Expect: 100-continue`: write the body now
    /// ([`ClientConnection::body_allowed`] is true).
    Continue(ResponseHead),
    /// The final response head. `101 Switching Protocols`, and a 2xx
    /// answer to `CONNECT`, are final too: after their
    /// [`End`](ClientEvent::End) the connection belongs to the new protocol
    /// ([`ClientConnection::is_upgraded`]), and the bytes left in the
    /// buffer are that protocol's.
    Head(ResponseHead),
    /// A piece of the body, at most `chunk_size` bytes, decoded when
    /// decompressing.
    Data(Bytes),
    /// The response is complete.
    End,
}

/// What the connection remembers about a request whose response is due.
#[derive(Debug, Clone, Copy)]
struct Exchange {
    head: bool,
    connect: bool,
    close: bool,
}

/// The write half.
#[derive(Debug)]
enum WriteState {
    /// No request body is being written; a new request may start.
    Idle,
    /// The request asked `Expect: 100-continue`: its body waits for the
    /// server's `100 Continue` or the driver's timeout.
    AwaitingContinue(BodyWriter),
    /// The body is being written.
    Body(BodyWriter),
    /// A final response came instead of `100 Continue`: the body is not
    /// sent, and the connection will not carry another request.
    Abandoned,
}

/// What becomes of the connection once the response being read ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    /// Read the next response (if one is due).
    Next,
    /// Nothing more will come: the response said so, or its body runs
    /// until close.
    Close,
    /// The connection now carries another protocol.
    Upgrade,
}

/// The read half.
#[derive(Debug)]
enum ReadState {
    /// Waiting for a response head; `informational` counts the interim
    /// responses the current request got.
    Head { informational: usize },
    /// Reading a body.
    Body { reader: BodyReader, after: After },
    /// The connection will carry no more responses.
    Closed,
    /// The connection belongs to an upgraded protocol or a tunnel.
    Upgraded,
    /// An error was reported; it is reported again.
    Failed(ClientError),
}

/// The client role of one HTTP/1.1 connection, as a sans-IO state machine
/// (Tornado's `HTTP1Connection` with `is_client=True`).
///
/// # The driver's loop
///
/// The driver owns the socket, a read buffer and a write buffer. It writes
/// a request with [`write_request`](Self::write_request) (and
/// [`write_body`](Self::write_body), [`finish_request`](Self::finish_request)),
/// sends what was appended to its write buffer, reads into its read buffer
/// and calls [`poll`](Self::poll) until it returns `Ok(None)`, acting on
/// each [`ClientEvent`]. When a read returns 0 bytes it calls
/// [`on_eof`](Self::on_eof) until that returns `Ok(None)`. After
/// [`ClientEvent::End`], [`may_reuse`](Self::may_reuse) says whether the
/// connection can go back to a keep-alive pool. Header, body and
/// `100-continue` timeouts are the driver's timers.
///
/// # Writing a request
///
/// [`write_request`](Self::write_request) appends a request head (adding
/// `Host` unless the caller's headers have one, and `Content-Length` or
/// `Transfer-Encoding: chunked` from the [`RequestBody`]);
/// [`write_body`](Self::write_body) appends body bytes, framed, and
/// [`finish_request`](Self::finish_request) ends the body. Errors are
/// [`OutputError`]s and append nothing.
///
/// With `Expect: 100-continue` in the headers (and a body to send), the
/// body waits: [`body_allowed`](Self::body_allowed) stays false until
/// [`ClientEvent::Continue`] arrives or the driver's timer calls
/// [`continue_timed_out`](Self::continue_timed_out). If a final response
/// comes first, the body is not sent and the connection is not reused
/// (RFC 9110 section 10.1.1 leaves the server free to read or not read a
/// body it did not ask for, so the connection's framing is unknown).
///
/// # Reading a response
///
/// [`poll`](Self::poll) consumes from the front of the read buffer and
/// returns the next [`ClientEvent`], or `Ok(None)` when it needs more
/// bytes: interim responses, then [`Head`](ClientEvent::Head), then
/// [`Data`](ClientEvent::Data) pieces of at most `chunk_size` bytes, then
/// [`End`](ClientEvent::End). Without decompression a piece is split off
/// the read buffer without copying. The body is framed as RFC 9112 section
/// 6.3 orders: none for a `HEAD` request, 1xx, 204 and 304 (whatever their
/// `Content-Length` says); chunked when `Transfer-Encoding` is `chunked`;
/// `Content-Length` (digits only, repeats equal, never with
/// `Transfer-Encoding`); else until the server closes.
///
/// Bad input is a [`ClientError`], after which the connection is spent:
/// every later call returns the same error. Nothing a server sends can
/// make this panic.
///
/// # Reuse
///
/// [`may_reuse`](Self::may_reuse) is true when every request written has
/// been answered in full and nothing forbids another request: not after
/// `Connection: close` on either side, an HTTP/1.0 response without
/// `Connection: keep-alive`, a body read until close, a `101` or tunnel,
/// an abandoned body, an error or an end of file.
///
/// # Example
///
/// ```
/// use bytes::BytesMut;
/// use http::{Method, StatusCode};
/// use tornado_httpserver::http1connection::{
///     ClientConnection, ClientEvent, Http1ClientParameters, RequestBody,
/// };
/// use tornado_httpserver::httputil::HttpHeaders;
///
/// let mut conn = ClientConnection::new(Http1ClientParameters::default());
/// let mut out = BytesMut::new();
/// let mut headers = HttpHeaders::new();
/// headers.add("Accept", "text/plain");
/// conn.write_request(Method::GET, "/hello", "example.com", &headers, RequestBody::None, &mut out)?;
/// assert_eq!(&out[..], b"GET /hello HTTP/1.1\r\nHost: example.com\r\nAccept: text/plain\r\n\r\n");
///
/// // What the server answered, as the driver read it.
/// let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"[..]);
/// let mut body = Vec::new();
/// while let Some(event) = conn.poll(&mut buf)? {
///     match event {
///         ClientEvent::Head(head) => assert_eq!(head.status, StatusCode::OK),
///         ClientEvent::Data(data) => body.extend_from_slice(&data),
///         ClientEvent::End => break,
///         ClientEvent::Informational(_) | ClientEvent::Continue(_) => {}
///     }
/// }
/// assert_eq!(body, b"hello");
/// assert!(conn.may_reuse());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ClientConnection {
    params: Http1ClientParameters,
    write: WriteState,
    read: ReadState,
    /// Requests written whose responses have not ended, oldest first.
    in_flight: VecDeque<Exchange>,
    /// Nothing so far forbids writing another request.
    reusable: bool,
}

impl Default for ClientConnection {
    fn default() -> Self {
        Self::new(Http1ClientParameters::default())
    }
}

impl ClientConnection {
    /// A fresh connection with these limits.
    pub fn new(params: Http1ClientParameters) -> Self {
        ClientConnection {
            params,
            write: WriteState::Idle,
            read: ReadState::Head { informational: 0 },
            in_flight: VecDeque::new(),
            reusable: true,
        }
    }

    /// The limits and options.
    pub fn params(&self) -> &Http1ClientParameters {
        &self.params
    }

    /// The limits and options, to change between requests on a pooled
    /// connection; a change applies from the next response head on.
    pub fn params_mut(&mut self) -> &mut Http1ClientParameters {
        &mut self.params
    }

    /// Whether [`write_request`](Self::write_request) may be called now: no
    /// body is being written and nothing forbids another request. True
    /// while earlier responses are still due (pipelining).
    pub fn can_write_request(&self) -> bool {
        self.reusable && matches!(self.write, WriteState::Idle)
    }

    /// Appends a request head to `out`.
    ///
    /// `method` is any token (`Method::GET`, `"PURGE"`); `target` is the
    /// request target as it goes on the wire (`/path?query`, an absolute
    /// URL for a proxy, `host:port` for `CONNECT`). `host` is written as
    /// the `Host` header, first, unless `headers` has one. `headers` are
    /// written in order, except `Content-Length` and `Transfer-Encoding`,
    /// which the connection writes from `body` (a caller's own line must
    /// agree with `body`). Requests always say `HTTP/1.1`.
    ///
    /// Errors, with nothing appended and the connection unchanged: a
    /// method that is not a token, a target that is empty or has a space
    /// or control character, a header name that is not a token, a CR, LF
    /// or NUL in a value or in `host`, framing headers that disagree with
    /// `body` ([`OutputErrorKind::InvalidHeader`]); and
    /// [`OutputErrorKind::BodyNotAllowed`] when
    /// [`can_write_request`](Self::can_write_request) is false.
    pub fn write_request(
        &mut self,
        method: impl AsRef<str>,
        target: &str,
        host: &str,
        headers: &HttpHeaders,
        body: RequestBody,
        out: &mut BytesMut,
    ) -> Result<(), OutputError> {
        if !self.can_write_request() {
            let why = if self.reusable {
                "the previous request's body is not finished"
            } else {
                "the connection cannot carry another request"
            };
            return Err(OutputError::new(
                OutputErrorKind::BodyNotAllowed,
                format!("cannot write a request now: {why}"),
            ));
        }
        let encoded = encode_request_head(method.as_ref(), target, host, headers, body, out)?;
        self.in_flight.push_back(Exchange {
            head: encoded.head,
            connect: encoded.connect,
            close: encoded.close,
        });
        if encoded.close {
            self.reusable = false;
        }
        self.write = match encoded.body {
            None => WriteState::Idle,
            Some(writer) if encoded.expect_continue => WriteState::AwaitingContinue(writer),
            Some(writer) => WriteState::Body(writer),
        };
        Ok(())
    }

    /// Appends body bytes of the request being written, framed as its head
    /// said (a chunk when chunked; empty data appends nothing).
    ///
    /// Errors, appending nothing: [`OutputErrorKind::TooMuchData`] beyond
    /// the declared `Content-Length` (the connection is then not reused);
    /// [`OutputErrorKind::BodyNotAllowed`] when no body may be written now
    /// (none declared, already finished, still waiting for
    /// `100 Continue`, or abandoned).
    pub fn write_body(&mut self, data: &[u8], out: &mut BytesMut) -> Result<(), OutputError> {
        match &mut self.write {
            WriteState::Body(writer) => {
                let result = writer.write(data, out);
                if result.is_err() {
                    self.reusable = false;
                }
                result
            }
            _ => Err(self.no_body_error()),
        }
    }

    /// Ends the request body: appends `0\r\n\r\n` when chunked. Fails with
    /// [`OutputErrorKind::TooLittleData`] if bytes of the declared
    /// `Content-Length` are missing (the connection is then not reused),
    /// or [`OutputErrorKind::BodyNotAllowed`] while the body waits for
    /// `100 Continue` or was abandoned. Without a body in progress it does
    /// nothing.
    pub fn finish_request(&mut self, out: &mut BytesMut) -> Result<(), OutputError> {
        match &self.write {
            WriteState::Idle => Ok(()),
            WriteState::Body(writer) => {
                let result = writer.finish(out);
                match result {
                    Ok(()) => self.write = WriteState::Idle,
                    Err(_) => self.reusable = false,
                }
                result
            }
            WriteState::AwaitingContinue(_) | WriteState::Abandoned => Err(self.no_body_error()),
        }
    }

    fn no_body_error(&self) -> OutputError {
        let why = match self.write {
            WriteState::Idle => "no request body is being written",
            WriteState::AwaitingContinue(_) => {
                "the body waits for 100 Continue (or continue_timed_out)"
            }
            WriteState::Abandoned => {
                "the server answered before 100 Continue, so the body is not sent"
            }
            WriteState::Body(_) => "the body is being written",
        };
        OutputError::new(OutputErrorKind::BodyNotAllowed, why)
    }

    /// Whether the request body may be written now.
    pub fn body_allowed(&self) -> bool {
        matches!(self.write, WriteState::Body(_))
    }

    /// Whether the request body waits for `100 Continue`.
    pub fn awaiting_continue(&self) -> bool {
        matches!(self.write, WriteState::AwaitingContinue(_))
    }

    /// The driver's `100 Continue` timer fired: allow the body without it
    /// (RFC 9110 section 10.1.1 lets a client stop waiting). A later
    /// `100 Continue` is then an [`Informational`](ClientEvent::Informational)
    /// event. Does nothing unless [`awaiting_continue`](Self::awaiting_continue).
    pub fn continue_timed_out(&mut self) {
        if let WriteState::AwaitingContinue(writer) = self.write {
            self.write = WriteState::Body(writer);
        }
    }

    /// Whether the response body being read ends only when the connection
    /// closes (no `Content-Length`, not chunked). Its end is then whatever the
    /// transport reports, so a driver whose transport can tell a truncated end
    /// (TLS without `close_notify`) should refuse such an end rather than call
    /// [`on_eof`](Self::on_eof).
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use tornado_httpserver::http1connection::{ClientConnection, Http1ClientParameters, RequestBody};
    /// use tornado_httpserver::httputil::HttpHeaders;
    ///
    /// let mut conn = ClientConnection::new(Http1ClientParameters::default());
    /// let mut out = BytesMut::new();
    /// conn.write_request("GET", "/", "h", &HttpHeaders::new(), RequestBody::None, &mut out).unwrap();
    /// let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npart"[..]);
    /// while conn.poll(&mut buf).unwrap().is_some() {}
    /// assert!(conn.reading_until_close());
    /// ```
    pub fn reading_until_close(&self) -> bool {
        matches!(&self.read, ReadState::Body { reader, .. } if reader.until_close())
    }

    /// Whether every request written has been answered in full and the
    /// connection may carry another request (go back to the pool).
    pub fn may_reuse(&self) -> bool {
        self.reusable
            && matches!(self.write, WriteState::Idle)
            && self.in_flight.is_empty()
            && matches!(self.read, ReadState::Head { .. })
    }

    /// Whether the connection now carries another protocol (after a
    /// `101 Switching Protocols`, or a 2xx answer to `CONNECT`): the bytes
    /// left in the read buffer, and all that follow, are that protocol's.
    pub fn is_upgraded(&self) -> bool {
        matches!(self.read, ReadState::Upgraded)
    }

    /// How many requests have been written whose responses have not ended.
    /// After the connection closes, these went unanswered (a pool may
    /// retry the idempotent ones elsewhere).
    pub fn requests_in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Reads the next event from the front of `buf`, consuming what it
    /// used; `Ok(None)` means more bytes are needed (or, when closed or
    /// upgraded, that nothing more will be read). See the type's
    /// documentation.
    ///
    /// This is the entry point to fuzz: arbitrary bytes give events or an
    /// error, never a panic or a hang.
    pub fn poll(&mut self, buf: &mut BytesMut) -> Result<Option<ClientEvent>, ClientError> {
        let result = self.poll_inner(buf);
        if let Err(err) = &result {
            self.fail(err.clone());
        }
        result
    }

    /// The server closed the connection (a read returned 0 bytes); call it
    /// after [`poll`](Self::poll) has returned `Ok(None)`, and keep calling
    /// it until it returns `Ok(None)`: each call returns the next event as
    /// `poll` would.
    ///
    /// Ends a body read until close (with [`End`](ClientEvent::End), after
    /// the last decoded pieces). Anywhere else in a response it is a
    /// [`ClientError`] with [`is_closed_early`](ClientError::is_closed_early);
    /// if the read buffer is empty then, nothing of the response arrived.
    /// With no response due it is a clean close: `Ok(None)`.
    pub fn on_eof(&mut self) -> Result<Option<ClientEvent>, ClientError> {
        self.reusable = false;
        let result = match &mut self.read {
            ReadState::Failed(err) => return Err(err.clone()),
            ReadState::Closed | ReadState::Upgraded => return Ok(None),
            ReadState::Head { .. } if self.in_flight.is_empty() => {
                self.read = ReadState::Closed;
                return Ok(None);
            }
            ReadState::Head { .. } => Err(ClientError::closed_early("before the response head")),
            ReadState::Body { reader, .. } => reader.on_eof(),
        };
        match result {
            Ok(()) => self.poll(&mut BytesMut::new()),
            Err(err) => {
                self.fail(err.clone());
                Err(err)
            }
        }
    }

    fn fail(&mut self, err: ClientError) {
        self.reusable = false;
        self.read = ReadState::Failed(err);
    }

    fn poll_inner(&mut self, buf: &mut BytesMut) -> Result<Option<ClientEvent>, ClientError> {
        match &mut self.read {
            ReadState::Failed(err) => Err(err.clone()),
            ReadState::Closed | ReadState::Upgraded => Ok(None),
            ReadState::Head { informational } => {
                let informational = *informational;
                self.read_head(buf, informational)
            }
            ReadState::Body { reader, after } => match reader.poll(buf)? {
                BodyStep::Data(data) => Ok(Some(ClientEvent::Data(data))),
                BodyStep::NeedMore => Ok(None),
                BodyStep::End => {
                    let after = *after;
                    self.in_flight.pop_front();
                    self.read = match after {
                        After::Next => ReadState::Head { informational: 0 },
                        After::Close => ReadState::Closed,
                        After::Upgrade => ReadState::Upgraded,
                    };
                    Ok(Some(ClientEvent::End))
                }
            },
        }
    }

    fn read_head(
        &mut self,
        buf: &mut BytesMut,
        informational: usize,
    ) -> Result<Option<ClientEvent>, ClientError> {
        let Some(&exchange) = self.in_flight.front() else {
            if buf.is_empty() {
                return Ok(None);
            }
            return Err(ClientError::parse(format!(
                "{} bytes from the server while no response was due",
                buf.len()
            )));
        };
        let Some(ParsedHead {
            mut head,
            notes,
            len,
        }) = parse_response_head(buf, self.params.max_header_size)?
        else {
            return Ok(None);
        };
        buf.advance(len);
        // The response being read is for the request being written.
        let for_current = self.in_flight.len() == 1;

        if head.is_informational() {
            if notes.content_length || notes.transfer_encoding {
                return Err(ClientError::parse(format!(
                    "a {} response cannot have a body (it has Content-Length or Transfer-Encoding)",
                    head.status.as_u16()
                )));
            }
            if informational >= MAX_INFORMATIONAL_RESPONSES {
                return Err(ClientError::parse(format!(
                    "more than {MAX_INFORMATIONAL_RESPONSES} interim (1xx) responses"
                )));
            }
            self.read = ReadState::Head {
                informational: informational + 1,
            };
            if head.status == StatusCode::CONTINUE
                && for_current
                && let WriteState::AwaitingContinue(writer) = self.write
            {
                self.write = WriteState::Body(writer);
                return Ok(Some(ClientEvent::Continue(head)));
            }
            return Ok(Some(ClientEvent::Informational(head)));
        }

        if for_current && matches!(self.write, WriteState::AwaitingContinue(_)) {
            self.write = WriteState::Abandoned;
            self.reusable = false;
        }
        let (framing, after) = decide_framing(&head, &notes, exchange)?;
        let coding = if self.params.decompress && framing != Framing::Empty {
            decoded_coding(&mut head.headers)
        } else {
            None
        };
        self.read = ReadState::Body {
            reader: BodyReader::new(
                framing,
                coding,
                self.params.max_body_size,
                self.params.chunk_size,
            ),
            after,
        };
        // Known from the head: no request may follow this one.
        if after != After::Next {
            self.reusable = false;
        }
        Ok(Some(ClientEvent::Head(head)))
    }
}

/// How the body of a final response is framed, and what becomes of the
/// connection after it (RFC 9112 sections 6.3 and 9.3).
fn decide_framing(
    head: &ResponseHead,
    notes: &HeadNotes,
    exchange: Exchange,
) -> Result<(Framing, After), ClientError> {
    let code = head.status.as_u16();
    let upgrade = code == 101 || (exchange.connect && head.status.is_success());
    let framing = if upgrade || exchange.head || code == 204 || code == 304 {
        Framing::Empty
    } else if notes.transfer_encoding {
        if notes.content_length {
            return Err(ClientError::parse(
                "response with both Transfer-Encoding and Content-Length",
            ));
        }
        check_transfer_encoding(&head.headers)?;
        Framing::Chunked
    } else if notes.content_length {
        match content_length(&head.headers)? {
            0 => Framing::Empty,
            n => Framing::Length(n),
        }
    } else {
        Framing::UntilClose
    };

    let mut keep = match head.version {
        Version::HTTP_11 => !notes.connection_close,
        _ => notes.connection_keep_alive && !notes.connection_close,
    };
    // RFC 9112 section 6.1: an HTTP/1.0 message with Transfer-Encoding has
    // faulty framing; read it, then close.
    keep &= !(head.version == Version::HTTP_10 && notes.transfer_encoding);
    // A 204 that claims a body may have sent one: its framing cannot be trusted.
    if code == 204
        && (notes.transfer_encoding
            || (notes.content_length && content_length(&head.headers) != Ok(0)))
    {
        keep = false;
    }
    let after = if upgrade {
        After::Upgrade
    } else if !keep || exchange.close || framing == Framing::UntilClose {
        After::Close
    } else {
        After::Next
    };
    Ok((framing, after))
}

/// Accepts exactly one coding, `chunked` (Tornado refuses the rest too; a
/// client that asked for no transfer coding has no use for them).
fn check_transfer_encoding(headers: &HttpHeaders) -> Result<(), ClientError> {
    let mut codings = headers
        .get_all("Transfer-Encoding")
        .flat_map(|line| line.split(','))
        .map(|c| c.trim_matches([' ', '\t']));
    match (codings.next(), codings.next()) {
        (Some(c), None) if c.eq_ignore_ascii_case("chunked") => Ok(()),
        _ => Err(ClientError::parse(format!(
            "unsupported Transfer-Encoding {:?}: only chunked is implemented",
            headers.get_joined("Transfer-Encoding").unwrap_or_default()
        ))),
    }
}

/// The `Content-Length` value: digits only; repeats (`5, 5`, or several
/// lines) must be identical. A value too large for `u64` saturates, so it
/// fails as too large for `max_body_size`.
fn content_length(headers: &HttpHeaders) -> Result<u64, ClientError> {
    let mut value: Option<&str> = None;
    for piece in headers
        .get_all("Content-Length")
        .flat_map(|line| line.split(','))
        .map(|p| p.trim_matches([' ', '\t']))
    {
        match value {
            None => value = Some(piece),
            Some(first) if first == piece => {}
            Some(_) => {
                return Err(ClientError::parse(format!(
                    "multiple unequal Content-Lengths: {:?}",
                    headers.get_joined("Content-Length").unwrap_or_default()
                )));
            }
        }
    }
    let value = value.unwrap_or_default();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ClientError::parse(format!(
            "only integer Content-Length is allowed: {value:?}"
        )));
    }
    Ok(value.parse::<u64>().unwrap_or(u64::MAX))
}

/// The coding to decode the body with, if `Content-Encoding` names one
/// this crate decodes; the header is then renamed
/// `X-Consumed-Content-Encoding`, as Tornado does.
fn decoded_coding(headers: &mut HttpHeaders) -> Option<Coding> {
    let value = headers.get_joined("Content-Encoding")?.into_owned();
    let coding = Coding::from_header(&value)?;
    headers.remove("Content-Encoding");
    headers.add("X-Consumed-Content-Encoding", &value);
    Some(coding)
}
