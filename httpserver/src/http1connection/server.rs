//! The server role of one HTTP/1.x connection: [`ServerConnection`].

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use http::StatusCode;

use super::chunked::ChunkedDecoder;
use super::encode::{
    BodyEncoder, CONTINUE_RESPONSE, ResponseContext, encode_error_response,
    encode_response_head_inner,
};
use super::gzip::GzipDecoder;
use super::head::{BodyKind, HeadLayout, Parsed, RequestHead, parse_request_layout};
use super::params::Http1ConnectionParameters;
use crate::error::{BodyStartedError, OutputError, OutputErrorKind, ParseError};
use crate::httputil::{HttpHeaders, has_byte_below};

/// What a [`ServerConnection`] read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// A request head. Its body (if any) follows as [`Data`](ServerEvent::Data), then
    /// [`End`](ServerEvent::End). With `decompress` on and a gzip body, the head's
    /// `Content-Encoding` and `Content-Length` are replaced by
    /// `X-Consumed-Content-Encoding`, since the data will be decoded.
    Head(RequestHead),
    /// A piece of the body (decoded from chunked coding and gzip), at most
    /// `chunk_size` bytes.
    Data(Bytes),
    /// The request is complete. Nothing more is read until its response is finished.
    End,
}

/// What [`ServerConnection::parse`] found; hand it to
/// [`ServerConnection::complete`] with the first [`consumed`](Parse::consumed) bytes.
#[derive(Debug)]
#[must_use = "a Parse does nothing until it is completed"]
pub struct Parse {
    consumed: usize,
    found: Found,
}

#[derive(Debug)]
enum Found {
    /// Nothing to report until more bytes arrive (or the response is finished).
    Nothing,
    /// A head, parsed in place: offsets into the consumed bytes.
    Head(HeadLayout),
    /// Raw body bytes: this range of the consumed bytes.
    Data(Range<usize>),
    /// Body bytes decoded earlier and not yet handed out.
    Pending,
    /// The body started being read (under its limit): parse again.
    Started,
    /// The end of the request.
    End,
}

impl Parse {
    /// How many bytes from the front of the buffer this step used: remove them and pass
    /// them to [`ServerConnection::complete`].
    pub fn consumed(&self) -> usize {
        self.consumed
    }

    /// Whether this step found nothing: wait for more input (or for the response to
    /// finish, see [`ServerConnection::wants_input`]).
    pub fn is_empty(&self) -> bool {
        self.consumed == 0 && matches!(self.found, Found::Nothing)
    }
}

/// How a request body is being read.
#[derive(Debug)]
struct BodyReader {
    framing: Framing,
    gzip: Option<Box<GzipDecoder>>,
    /// Decoded bytes not yet handed out (a chunk larger than `chunk_size`, gzip output).
    pending: Bytes,
}

/// A body not read yet ([`Reading::Ahead`]); boxed, so that reading a head (every
/// request) moves a small state.
#[derive(Debug)]
struct Ahead {
    kind: BodyKind,
    gzip: bool,
    max_body_size: u64,
}

#[derive(Debug)]
enum Framing {
    Length(u64),
    Chunked(Box<ChunkedDecoder>),
}

#[derive(Debug)]
enum Reading {
    /// Waiting for a head. `scanned` is how much of a partial head was already searched
    /// for its end (so a head arriving in pieces is not re-parsed for every piece);
    /// `line_seen` whether its request line is complete.
    Head { scanned: u32, line_seen: bool },
    /// A head with a body arrived and nothing of the body is read yet, so the body's
    /// limit may still change ([`ServerConnection::set_max_body_size`]). The body
    /// starts at [`ServerConnection::accept_body`] or at the first
    /// [`ServerConnection::parse`], whichever comes first.
    Ahead(Box<Ahead>),
    /// Reading a body.
    Body(Box<BodyReader>),
    /// The body is read; [`ServerEvent::End`] is next.
    End,
    /// The request is read; the next one waits for the response to finish.
    Done,
    /// The input was bad (in a head, or in a body): nothing more is read, and the
    /// error response is owed.
    Failed { in_head: bool },
    /// Nothing more is read (an error, a close, an upgrade).
    Closed,
}

#[derive(Debug)]
enum Writing {
    /// No request is being answered.
    Idle,
    /// A head arrived; its response has not started.
    Waiting(ResponseContext),
    /// The response head is written; its body is being written.
    Body(BodyEncoder),
    /// The response is finished.
    Done { keep_alive: bool },
}

/// One HTTP/1.x connection's protocol state, server side (the sans-IO half of
/// Tornado's `HTTP1ServerConnection`).
///
/// A [`ServerConnection`] reads requests and writes their responses in turn. The driver
/// (the socket code, or a test) feeds it the bytes it has buffered and gets
/// [`ServerEvent`]s back: a request head, pieces of the decoded body, the end of the
/// request. It answers through [`write_head`](ServerConnection::write_head),
/// [`write_body`](ServerConnection::write_body) and
/// [`finish`](ServerConnection::finish), which append to the driver's output buffer.
/// Every protocol rule lives here, so it is tested and fuzzed on bytes alone:
///
/// - requests are handled one at a time, in order: after a request's end nothing more
///   is parsed until its response is finished, so the responses to pipelined requests
///   go out in order, and a response never starts before its request's head;
/// - keep-alive: the next request is read only if the request and the response allow
///   it (`Connection: close`, HTTP/1.0 rules, close-delimited bodies, framing errors,
///   [`close_after_response`](ServerConnection::close_after_response));
/// - `Expect: 100-continue`: [`accept_body`](ServerConnection::accept_body) writes the
///   interim response; a response started before that closes the connection after it,
///   since the client may or may not send the body, and no `100 Continue` follows it;
/// - body framing from `Content-Length` or chunked coding, gzip bodies (with
///   `decompress`) counted against the request's body limit, pieces of at most
///   `chunk_size`;
/// - the body limit is `params.max_body_size` unless the delegate sets another for its
///   request ([`set_max_body_size`](ServerConnection::set_max_body_size), Tornado's
///   `request.connection.set_max_body_size`) before the body starts: at
///   [`accept_body`](ServerConnection::accept_body) or the first
///   [`parse`](ServerConnection::parse) after the head, which is also when a
///   `Content-Length` above the limit is refused (413, with nothing of the body read
///   and no `100 Continue`);
/// - HEAD, 1xx, 204 and 304 responses have no body, and a declared response length is
///   held to (see [`BodyEncoder`]);
/// - every bad input is a [`ParseError`] carrying the status to answer with:
///   [`write_error`](ServerConnection::write_error) writes that response, after which
///   the connection reads nothing more.
///
/// # Two steps, without copies
///
/// The driver's read buffer may live where only a `&[u8]` can be had (inside an
/// `IoStream`). So reading is split: [`parse`](ServerConnection::parse) looks at the
/// buffered bytes and says how many it used; the driver removes that many bytes from
/// its buffer as a [`Bytes`] (a split, no copy) and hands them to
/// [`complete`](ServerConnection::complete), which returns the event, with body data
/// as slices of those bytes. With a `BytesMut`, [`poll`](ServerConnection::poll) does
/// both.
///
/// ```
/// use bytes::BytesMut;
/// use http::StatusCode;
/// use tornado_httpserver::http1connection::{Http1ConnectionParameters, ServerConnection, ServerEvent};
/// use tornado_httpserver::httputil::HttpHeaders;
///
/// let params = Http1ConnectionParameters::default();
/// let mut conn = ServerConnection::new();
/// let mut input = BytesMut::from(&b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"[..]);
/// let mut out = BytesMut::new();
///
/// let Some(ServerEvent::Head(head)) = conn.poll(&mut input, &params)? else { unreachable!() };
/// assert_eq!(head.uri(), "/echo");
/// conn.accept_body(&mut out)?;
/// let Some(ServerEvent::Data(body)) = conn.poll(&mut input, &params)? else { unreachable!() };
/// assert_eq!(conn.poll(&mut input, &params)?, Some(ServerEvent::End));
///
/// conn.write_head(StatusCode::OK, &HttpHeaders::new(), Some(body.len() as u64), "Thu, 01 Jan 1970 00:00:00 GMT", &mut out)?;
/// conn.write_body(&body, &mut out)?;
/// conn.finish(&mut out)?;
/// assert!(out.ends_with(b"\r\n\r\nhello"));
/// assert!(conn.reads_next_request());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ServerConnection {
    reading: Reading,
    writing: Writing,
    /// The status of the response being written (0 before its head).
    status: u16,
    /// The client waits for `100 Continue` before sending its body.
    continue_pending: bool,
    /// Close once the current response is finished.
    close_after: bool,
}

impl Default for ServerConnection {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerConnection {
    /// A connection waiting for its first request.
    pub fn new() -> Self {
        ServerConnection {
            reading: Reading::Head {
                scanned: 0,
                line_seen: false,
            },
            writing: Writing::Idle,
            status: 0,
            continue_pending: false,
            close_after: false,
        }
    }

    // ---- reading --------------------------------------------------------------------

    /// Looks at the buffered input `buf` (everything not yet consumed, from its start)
    /// and says what it holds; see [`complete`](Self::complete).
    pub fn parse(
        &mut self,
        buf: &[u8],
        params: &Http1ConnectionParameters,
    ) -> Result<Parse, ParseError> {
        let nothing = Parse {
            consumed: 0,
            found: Found::Nothing,
        };
        match &mut self.reading {
            Reading::Head { scanned, line_seen } => {
                // Blank lines between requests (some clients send a CRLF after a body)
                // are dropped as they come: the connection stays idle, as if they had
                // not been sent, rather than looking like a head under way.
                let blank = buf
                    .iter()
                    .take_while(|&&b| b == b'\r' || b == b'\n')
                    .count();
                if blank > 0 && blank == buf.len() {
                    *scanned = 0;
                    *line_seen = false;
                    return Ok(Parse {
                        consumed: blank,
                        found: Found::Nothing,
                    });
                }
                if buf.is_empty() || !head_may_be_complete(buf, scanned, line_seen, params) {
                    return Ok(nothing);
                }
                match parse_request_layout(buf, params) {
                    Ok(Parsed::Partial) => Ok(nothing),
                    Ok(Parsed::Complete(layout)) => Ok(Parse {
                        consumed: layout.head_len,
                        found: Found::Head(layout),
                    }),
                    Err(e) => {
                        self.reading = Reading::Failed { in_head: true };
                        Err(e)
                    }
                }
            }
            Reading::Ahead(_) => {
                self.start_body()?;
                // Nothing to report yet: the next parse reads the body.
                Ok(Parse {
                    consumed: 0,
                    found: Found::Started,
                })
            }
            Reading::Body(body) => {
                if !body.pending.is_empty() {
                    return Ok(Parse {
                        consumed: 0,
                        found: Found::Pending,
                    });
                }
                let found = match &mut body.framing {
                    Framing::Length(0) => {
                        return Ok(Parse {
                            consumed: 0,
                            found: Found::End,
                        });
                    }
                    Framing::Length(remaining) => {
                        let take =
                            (*remaining).min(buf.len() as u64).min(chunk(params) as u64) as usize;
                        if take == 0 {
                            return Ok(nothing);
                        }
                        *remaining -= take as u64;
                        Parse {
                            consumed: take,
                            found: Found::Data(0..take),
                        }
                    }
                    Framing::Chunked(decoder) => {
                        if decoder.is_done() {
                            return Ok(Parse {
                                consumed: 0,
                                found: Found::End,
                            });
                        }
                        let step = match decoder.decode(buf) {
                            Ok(step) => step,
                            Err(e) => {
                                self.reading = Reading::Failed { in_head: false };
                                return Err(e);
                            }
                        };
                        Parse {
                            consumed: step.consumed,
                            found: if step.data.is_empty() {
                                Found::Nothing
                            } else {
                                Found::Data(step.data)
                            },
                        }
                    }
                };
                Ok(found)
            }
            Reading::End => Ok(Parse {
                consumed: 0,
                found: Found::End,
            }),
            Reading::Done | Reading::Failed { .. } | Reading::Closed => Ok(nothing),
        }
    }

    /// Applies a [`Parse`]: `taken` must be the first [`Parse::consumed`] bytes of the
    /// buffer that was parsed, now removed from it (a head keeps them and views its
    /// method, target and headers in them, without a copy). Returns the event, or `None` when
    /// there is nothing to report yet (for instance a chunk-size line, or gzip input
    /// that has produced no output so far): parse again, after reading more input if
    /// that parse is [empty](Parse::is_empty).
    pub fn complete(
        &mut self,
        parse: Parse,
        taken: Bytes,
        params: &Http1ConnectionParameters,
    ) -> Result<Option<ServerEvent>, ParseError> {
        match parse.found {
            Found::Nothing | Found::Started => Ok(None),
            Found::Head(layout) => {
                let head = layout.attach(taken);
                Ok(Some(ServerEvent::Head(self.start_request(head, params))))
            }
            Found::Data(range) => {
                let data = taken.slice(range);
                let Reading::Body(body) = &mut self.reading else {
                    return Ok(None);
                };
                let data = match &mut body.gzip {
                    None => data,
                    Some(gz) => {
                        let mut out = Vec::new();
                        if let Err(e) = gz.decompress(&data, &mut out) {
                            self.reading = Reading::Failed { in_head: false };
                            return Err(e);
                        }
                        Bytes::from(out)
                    }
                };
                body.pending = data;
                Ok(self.take_pending(params))
            }
            Found::Pending => Ok(self.take_pending(params)),
            Found::End => self.end_body(params),
        }
    }

    /// [`parse`](Self::parse) and [`complete`](Self::complete) over a `BytesMut`: the
    /// bytes used are split off its front without copying. `None`: read more input
    /// (or, when [`wants_input`](Self::wants_input) is false, finish the response).
    pub fn poll(
        &mut self,
        buf: &mut BytesMut,
        params: &Http1ConnectionParameters,
    ) -> Result<Option<ServerEvent>, ParseError> {
        loop {
            let parse = self.parse(buf, params)?;
            let empty = parse.is_empty();
            let taken = buf.split_to(parse.consumed()).freeze();
            if let Some(event) = self.complete(parse, taken, params)? {
                return Ok(Some(event));
            }
            if empty {
                return Ok(None);
            }
        }
    }

    fn start_request(
        &mut self,
        mut head: RequestHead,
        params: &Http1ConnectionParameters,
    ) -> RequestHead {
        let gzip = params.decompress && head.is_gzip_body() && head.body != BodyKind::Empty;
        if gzip {
            // The delegate sees the decoded body, as behind Tornado's _GzipMessageDelegate.
            let headers = head.headers_mut();
            let coding = headers
                .get("Content-Encoding")
                .unwrap_or("gzip")
                .to_string();
            headers.remove("Content-Encoding");
            headers.remove("Content-Length");
            headers.add("X-Consumed-Content-Encoding", &coding);
        }
        // The body waits for the delegate, which may change its limit first.
        self.reading = match head.body {
            BodyKind::Empty => Reading::End,
            kind => Reading::Ahead(Box::new(Ahead {
                kind,
                gzip,
                max_body_size: params.max_body_size,
            })),
        };
        self.continue_pending = head.expect_continue && head.body != BodyKind::Empty;
        self.writing = Writing::Waiting(head.response_context());
        self.status = 0;
        head
    }

    /// Starts reading a body that is still ahead, under the limit it has now (a
    /// `Content-Length` above it is a 413, and nothing of the body is read); does
    /// nothing otherwise.
    fn start_body(&mut self) -> Result<(), ParseError> {
        let Reading::Ahead(ahead) = &self.reading else {
            return Ok(());
        };
        let Ahead {
            kind,
            gzip,
            max_body_size: max,
        } = **ahead;
        let framing = match kind {
            BodyKind::Length(length) if length > max => {
                self.reading = Reading::Failed { in_head: false };
                self.continue_pending = false;
                return Err(ParseError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("Content-Length {length} larger than max_body_size {max}"),
                ));
            }
            BodyKind::Length(length) => Framing::Length(length),
            BodyKind::Chunked => Framing::Chunked(Box::new(ChunkedDecoder::new(max))),
            BodyKind::Empty => {
                self.reading = Reading::End;
                return Ok(());
            }
        };
        self.reading = Reading::Body(Box::new(BodyReader {
            framing,
            gzip: gzip.then(|| Box::new(GzipDecoder::new(max))),
            pending: Bytes::new(),
        }));
        Ok(())
    }

    fn take_pending(&mut self, params: &Http1ConnectionParameters) -> Option<ServerEvent> {
        let Reading::Body(body) = &mut self.reading else {
            return None;
        };
        if body.pending.is_empty() {
            return None;
        }
        let n = body.pending.len().min(chunk(params));
        Some(ServerEvent::Data(body.pending.split_to(n)))
    }

    fn end_body(
        &mut self,
        params: &Http1ConnectionParameters,
    ) -> Result<Option<ServerEvent>, ParseError> {
        let reading = std::mem::replace(&mut self.reading, Reading::Done);
        if let Reading::Body(body) = reading
            && let Some(gz) = body.gzip
        {
            let mut rest = Vec::new();
            if let Err(e) = gz.finish(&mut rest) {
                self.reading = Reading::Failed { in_head: false };
                return Err(e);
            }
            if !rest.is_empty() {
                // The decoder's last output: hand it out, then end.
                self.reading = Reading::Body(Box::new(BodyReader {
                    framing: Framing::Length(0),
                    gzip: None,
                    pending: Bytes::from(rest),
                }));
                return Ok(self.take_pending(params));
            }
        }
        self.continue_pending = false;
        // Answered before its end was polled: go on as `finish` would have.
        match self.writing {
            Writing::Done { keep_alive: true } if !self.close_after => {
                self.reading = Reading::Head {
                    scanned: 0,
                    line_seen: false,
                };
            }
            Writing::Done { .. } => self.reading = Reading::Closed,
            _ => {}
        }
        Ok(Some(ServerEvent::End))
    }

    /// Whether the connection is reading (a head or a body): false while a request
    /// waits for its response, and after an error, a close or an upgrade.
    pub fn wants_input(&self) -> bool {
        matches!(
            self.reading,
            Reading::Head { .. } | Reading::Ahead(_) | Reading::Body(_) | Reading::End
        )
    }

    /// Whether the connection waits for a request with nothing of it received yet
    /// (so it may be closed without losing anything).
    pub fn is_idle(&self) -> bool {
        matches!(self.reading, Reading::Head { scanned: 0, .. })
            && matches!(self.writing, Writing::Idle | Writing::Done { .. })
    }

    /// After a head without a body: ends that empty body at once, as [`poll`](Self::poll)
    /// would by returning [`ServerEvent::End`], and returns `true`. `false` (changing
    /// nothing) when a body is still to be read, or its end was taken already.
    pub fn end_empty_body(&mut self, params: &Http1ConnectionParameters) -> bool {
        matches!(self.reading, Reading::End)
            && matches!(self.end_body(params), Ok(Some(ServerEvent::End)))
    }

    /// Whether a request's body is to be read: it is being read, or it is still ahead
    /// (see [`accept_body`](Self::accept_body)).
    pub fn reading_body(&self) -> bool {
        matches!(self.reading, Reading::Ahead(_) | Reading::Body(_))
    }

    /// Sets the current request's body limit, in place of `params.max_body_size`
    /// (Tornado's `request.connection.set_max_body_size`): larger or smaller, counted
    /// as `max_body_size` is (decoded bytes; after gzip decoding with `decompress`).
    /// Allowed from the head until the body starts, at [`accept_body`](Self::accept_body)
    /// or the first [`parse`](Self::parse) after the head; the next request gets
    /// `params.max_body_size` again.
    ///
    /// A request without a body accepts it (there is nothing to limit) until its end
    /// is taken. Once the body is being read or was read, it fails and changes
    /// nothing: the limit the body is read under stands.
    pub fn set_max_body_size(&mut self, max_body_size: u64) -> Result<(), BodyStartedError> {
        match &mut self.reading {
            Reading::Ahead(ahead) => {
                ahead.max_body_size = max_body_size;
                Ok(())
            }
            Reading::End => Ok(()),
            _ => Err(BodyStartedError::new()),
        }
    }

    /// Starts reading the body: call once the handler is ready for it. From here on
    /// the request's body limit is fixed, and a `Content-Length` above it fails with a
    /// 413 [`ParseError`] (answer it with [`write_error`](Self::write_error); nothing of
    /// the body is read, and no `100 Continue` is sent). Otherwise writes `100
    /// Continue` if the client asked for it (`Expect: 100-continue`) and its body has
    /// not arrived yet; once a response head is written, nothing is (the interim
    /// response would land in the body).
    pub fn accept_body(&mut self, out: &mut BytesMut) -> Result<(), ParseError> {
        self.start_body()?;
        if self.continue_pending {
            self.continue_pending = false;
            out.extend_from_slice(CONTINUE_RESPONSE);
        }
        Ok(())
    }

    // ---- writing --------------------------------------------------------------------

    /// Writes the response head for the current request: `body_len` is the length of a
    /// whole body given at once (its `Content-Length` is written unless `headers` carry
    /// one), `None` for a body written in pieces. `date` is the `Date` header's text
    /// (see [`DateCache`](crate::httputil::DateCache)). Nothing is appended on error.
    pub fn write_head(
        &mut self,
        status: StatusCode,
        headers: &HttpHeaders,
        body_len: Option<u64>,
        date: &str,
        out: &mut BytesMut,
    ) -> Result<(), OutputError> {
        self.write_head_with_reason(status, None, headers, body_len, date, out)
    }

    /// [`write_head`](Self::write_head) with a reason phrase of the handler's own
    /// (Tornado's `set_status(code, reason)`) instead of the status's standard one;
    /// a reason with control characters is refused.
    pub fn write_head_with_reason(
        &mut self,
        status: StatusCode,
        reason: Option<&str>,
        headers: &HttpHeaders,
        body_len: Option<u64>,
        date: &str,
        out: &mut BytesMut,
    ) -> Result<(), OutputError> {
        let mut ctx = match &self.writing {
            Writing::Waiting(ctx) => *ctx,
            Writing::Idle => {
                return Err(OutputError::new(
                    OutputErrorKind::InvalidHeader,
                    "no request to answer",
                ));
            }
            Writing::Body(_) | Writing::Done { .. } => {
                return Err(OutputError::new(
                    OutputErrorKind::InvalidHeader,
                    "the response headers were already written",
                ));
            }
        };
        if self.continue_pending || self.reading_body() {
            // Answered before its body was read: the rest of the body may or may not
            // come, so this connection cannot carry another request.
            self.close_after = true;
        }
        // This head is the final response: a `100 Continue` after it would land in its
        // body. A client waiting for one sends its body after its own timeout.
        self.continue_pending = false;
        if self.close_after {
            ctx.keep_alive = false;
        }
        let encoder =
            encode_response_head_inner(out, &ctx, status, reason, headers, date, body_len)?;
        self.status = status.as_u16();
        self.writing = Writing::Body(encoder);
        Ok(())
    }

    /// Writes a piece of the response body (framed as the head said). Writing more
    /// than a declared `Content-Length` fails and closes the connection after the
    /// response.
    pub fn write_body(&mut self, data: &[u8], out: &mut BytesMut) -> Result<(), OutputError> {
        let Writing::Body(encoder) = &mut self.writing else {
            return Err(self.not_writing("write"));
        };
        let result = encoder.write(data, out);
        if let Err(e) = &result
            && e.kind() == OutputErrorKind::TooMuchData
        {
            // Part of the declared body may be out already: the framing is broken.
            self.close_after = true;
        }
        result
    }

    /// [`write_body`](Self::write_body) for data the caller will send itself, after
    /// `out`, without copying it: returns `true` when the framing allows that (a
    /// declared length, a close-delimited body), `false` when the data was framed into
    /// `out` instead (chunked).
    pub fn write_body_external(
        &mut self,
        data: &[u8],
        out: &mut BytesMut,
    ) -> Result<bool, OutputError> {
        let Writing::Body(encoder) = &mut self.writing else {
            return Err(self.not_writing("write"));
        };
        let result = encoder.write_external(data, out);
        if let Err(e) = &result
            && e.kind() == OutputErrorKind::TooMuchData
        {
            // Part of the declared body may be out already: the framing is broken.
            self.close_after = true;
        }
        result
    }

    /// Accounts for `len` bytes of the body that the caller sends itself, after what
    /// it has written so far (from a file): `true` when the framing allows that (a
    /// declared length, a close-delimited body), `false` with nothing accounted when
    /// it does not (chunked, or no body). More than a declared `Content-Length` fails
    /// and closes the connection after the response.
    pub fn write_body_external_len(&mut self, len: u64) -> Result<bool, OutputError> {
        let Writing::Body(encoder) = &mut self.writing else {
            return Err(self.not_writing("write"));
        };
        let result = encoder.write_external_len(len);
        if let Err(e) = &result
            && e.kind() == OutputErrorKind::TooMuchData
        {
            self.close_after = true;
        }
        result
    }

    /// Whether the response being written may carry a body (not HEAD, 1xx, 204, 304).
    pub fn body_allowed(&self) -> bool {
        match &self.writing {
            Writing::Body(encoder) => encoder.framing() != super::encode::BodyFraming::None,
            _ => false,
        }
    }

    /// Ends the response. Fails (and closes the connection after it) if fewer bytes
    /// than a declared `Content-Length` were written.
    pub fn finish(&mut self, out: &mut BytesMut) -> Result<(), OutputError> {
        let Writing::Body(encoder) = &mut self.writing else {
            return match self.writing {
                Writing::Done { .. } => Ok(()),
                _ => Err(self.not_writing("finish")),
            };
        };
        let result = encoder.finish(out);
        let keep_alive = result.is_ok() && encoder.keep_alive() && !self.close_after;
        self.writing = Writing::Done { keep_alive };
        if !keep_alive {
            self.close_after = true;
        }
        match self.reading {
            // Pipelining: the next request may now be read.
            Reading::Done if keep_alive => {
                self.reading = Reading::Head {
                    scanned: 0,
                    line_seen: false,
                };
            }
            Reading::Closed | Reading::Failed { .. } => {}
            _ if !keep_alive => self.reading = Reading::Closed,
            _ => {}
        }
        result
    }

    fn not_writing(&self, what: &str) -> OutputError {
        let message = match self.writing {
            Writing::Done { .. } => format!("{what} after the response was finished"),
            _ => format!("{what} before the response headers were written"),
        };
        OutputError::new(OutputErrorKind::BodyNotAllowed, message)
    }

    /// Answers a request that could not be read (or could not be answered) with an
    /// empty response of `status` and `Connection: close`, unless a response head was
    /// already written. Either way the connection reads nothing more and closes once
    /// the output is written.
    pub fn write_error(&mut self, status: StatusCode, out: &mut BytesMut) {
        // Between requests the last response is done, but the error is about the next
        // request, which has no response yet.
        let new_request = matches!(
            self.reading,
            Reading::Head { .. } | Reading::Failed { in_head: true }
        );
        let started = match self.writing {
            Writing::Body(_) => true,
            Writing::Done { .. } => !new_request,
            Writing::Idle | Writing::Waiting(_) => false,
        };
        self.reading = Reading::Closed;
        self.close_after = true;
        self.continue_pending = false;
        if started {
            self.writing = Writing::Done { keep_alive: false };
            return;
        }
        encode_error_response(status, out);
        self.status = status.as_u16();
        self.writing = Writing::Done { keep_alive: false };
    }

    /// Closes the connection once the current response is finished (a graceful
    /// shutdown; the response then says `Connection: close` if its head is not written
    /// yet). An idle connection reads nothing more.
    pub fn close_after_response(&mut self) {
        self.close_after = true;
        if self.is_idle() {
            self.reading = Reading::Closed;
        }
    }

    /// Stops reading for good: the connection was closed or handed over (an upgrade).
    pub fn stop_reading(&mut self) {
        self.reading = Reading::Closed;
        self.close_after = true;
    }

    /// Whether the response head has been written.
    pub fn headers_written(&self) -> bool {
        matches!(self.writing, Writing::Body(_) | Writing::Done { .. }) && self.status != 0
    }

    /// Whether the response is finished (or no request is being answered).
    pub fn response_finished(&self) -> bool {
        matches!(self.writing, Writing::Done { .. } | Writing::Idle)
    }

    /// The status of the current (or last) response; 0 before its head is written.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Whether the connection goes on to another request: the last response is
    /// finished, and it and its request allowed keep-alive.
    pub fn reads_next_request(&self) -> bool {
        matches!(self.writing, Writing::Done { keep_alive: true })
            && !self.close_after
            && !self.must_close()
    }

    /// Whether the connection must close (once its output is written): an error, a
    /// response that did not allow keep-alive, or [`stop_reading`](Self::stop_reading).
    pub fn must_close(&self) -> bool {
        matches!(self.reading, Reading::Closed | Reading::Failed { .. })
    }

    /// The response must not be ended normally (a handler left it unfinished, or its
    /// framing broke): close the connection after whatever was written.
    pub fn abort_response(&mut self) {
        self.close_after = true;
        self.reading = Reading::Closed;
        self.writing = Writing::Done { keep_alive: false };
    }
}

fn chunk(params: &Http1ConnectionParameters) -> usize {
    params.chunk_size.max(1)
}

/// Whether `data` holds a LF, a word at a time: the request line ends within its
/// first few words, where `contains` would spend more on setting up than searching.
fn has_lf(data: &[u8]) -> bool {
    const LFS: u64 = u64::from_le_bytes([b'\n'; 8]);
    let mut words = data.chunks_exact(8);
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        // A LF of the word is a zero byte of this.
        if has_byte_below(u64::from_le_bytes(w) ^ LFS, 1) {
            return true;
        }
    }
    words.remainder().contains(&b'\n')
}

/// Whether the buffer (a partial head the last time it was looked at) may now hold a
/// whole head or break a limit, judged from the new bytes only; false means parsing
/// again would only say "partial".
fn head_may_be_complete(
    buf: &[u8],
    scanned: &mut u32,
    line_seen: &mut bool,
    params: &Http1ConnectionParameters,
) -> bool {
    let before = *scanned as usize;
    *scanned = u32::try_from(buf.len()).unwrap_or(u32::MAX);
    // Blank lines before a request are skipped by the parser (and do not count toward
    // the head's size): judge what follows them.
    let skip = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    if buf.len() - skip > params.max_header_size {
        return true;
    }
    if before == 0 || before > buf.len() || skip > 0 {
        let data = &buf[skip..];
        *line_seen = has_lf(data);
        // Until the request line is complete the parser sees it only to check its
        // length (414): a version cut short (`HTTP/2`) must not be judged early.
        return *line_seen || data.len() > params.max_request_target.saturating_add(32);
    }
    let fresh = &buf[before.saturating_sub(3)..];
    if !*line_seen {
        if has_lf(fresh) {
            *line_seen = true;
            return true;
        }
        return buf.len() > params.max_request_target.saturating_add(32);
    }
    fresh.windows(2).any(|w| w == b"\n\n" || w == b"\n\r")
}

#[cfg(test)]
mod tests {
    use super::has_lf;

    #[test]
    fn has_lf_agrees_with_contains_at_every_place() {
        // Bytes next to LF's bits, which a word-at-a-time test could mistake for it.
        for filler in [b'a', 0x0b, 0x09, 0x8a, 0x00, 0xff] {
            for len in 0..40 {
                let mut data = vec![filler; len];
                assert!(!has_lf(&data), "no LF in {len} bytes of {filler:#x}");
                for at in 0..len {
                    data[at] = b'\n';
                    assert!(has_lf(&data), "LF at {at} of {len}");
                    assert!(has_lf(&data[at..]), "LF first of {}", len - at);
                    data[at] = filler;
                }
            }
        }
    }
}
