//! Encoding responses: status line, headers and body framing, appended to
//! the connection's output buffer.

use bytes::BytesMut;
use http::{StatusCode, Version};

use super::wire::{check_field, put_chunk_size, put_content_length, put_header, says_close};
use crate::error::{OutputError, OutputErrorKind};
use crate::httputil::HttpHeaders;

/// The `Server` header added when a response has none.
pub const DEFAULT_SERVER: &str = concat!("TornadoRs/", env!("CARGO_PKG_VERSION"));

/// `Server: `[`DEFAULT_SERVER`], then the blank line that ends a head.
const SERVER_LINE_AND_END: &str =
    concat!("Server: TornadoRs/", env!("CARGO_PKG_VERSION"), "\r\n\r\n");

/// The interim response sent to a client that asked for
/// `Expect: 100-continue`, before reading its body.
pub const CONTINUE_RESPONSE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// What the encoder needs to know about the request being answered; see
/// [`RequestHead::response_context`](super::RequestHead::response_context).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseContext {
    /// The request was a `HEAD`: the response has no body.
    pub head_request: bool,
    /// The request's version.
    pub version: Version,
    /// Whether the connection may stay open after this response (the
    /// request's decision, possibly overridden by the server, e.g. during
    /// shutdown).
    pub keep_alive: bool,
}

/// How a response body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body may follow (HEAD, 1xx, 204, 304).
    None,
    /// Exactly this many bytes, from the `Content-Length` the handler set.
    Length(u64),
    /// `Transfer-Encoding: chunked` (HTTP/1.1 without a length).
    Chunked,
    /// Until the connection closes (HTTP/1.0 without a length).
    CloseDelimited,
}

/// Appends the status line and headers of a response to `dst` and returns
/// the [`BodyEncoder`] for its body.
///
/// Framing, as Tornado decides it: a HEAD request or a 1xx, 204 or 304
/// status gets no body ([`BodyFraming::None`]; `Content-Length` and
/// `Transfer-Encoding` are dropped for 1xx and 204, kept for HEAD and 304
/// where they describe the representation). Otherwise a `Content-Length`
/// set by the handler is used; without one an HTTP/1.1 response is chunked
/// and an HTTP/1.0 one is delimited by closing the connection. A
/// `Transfer-Encoding` set by the handler is replaced by this decision.
///
/// `Connection: close` is written when an HTTP/1.1 connection will close,
/// `Connection: Keep-Alive` when an HTTP/1.0 one stays open; a handler's own
/// `Connection` header is replaced by that, except on a `101 Switching
/// Protocols`, which keeps it (`Connection: Upgrade`); a `Date`
/// header (pass [`DateCache::get`](crate::httputil::DateCache::get)) and
/// `Server: `[`DEFAULT_SERVER`] are added unless the handler set them.
///
/// On error (a name that is not a token, a CR, LF or NUL in a value, a
/// `Content-Length` that is not one number) nothing is appended.
pub fn encode_response_head(
    dst: &mut BytesMut,
    ctx: &ResponseContext,
    status: StatusCode,
    headers: &HttpHeaders,
    date: &str,
) -> Result<BodyEncoder, OutputError> {
    encode_response_head_inner(dst, ctx, status, None, headers, date, None)
}

/// [`encode_response_head`] for a whole body of `body_len` bytes: unless the handler
/// set a `Content-Length`, one is written for `body_len` (not for 1xx, 204 and 304
/// responses), without the caller adding it to `headers`.
///
/// ```
/// use bytes::BytesMut;
/// use http::{StatusCode, Version};
/// use tornado_httpserver::http1connection::{encode_response_head_with_length, ResponseContext};
/// use tornado_httpserver::httputil::HttpHeaders;
///
/// let ctx = ResponseContext { head_request: false, version: Version::HTTP_11, keep_alive: true };
/// let mut out = BytesMut::new();
/// let mut body = encode_response_head_with_length(
///     &mut out, &ctx, StatusCode::OK, &HttpHeaders::new(), "Thu, 01 Jan 1970 00:00:00 GMT", 2,
/// ).unwrap();
/// body.write(b"hi", &mut out).unwrap();
/// body.finish(&mut out).unwrap();
/// assert!(out.starts_with(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"));
/// assert!(out.ends_with(b"\r\n\r\nhi"));
/// ```
pub fn encode_response_head_with_length(
    dst: &mut BytesMut,
    ctx: &ResponseContext,
    status: StatusCode,
    headers: &HttpHeaders,
    date: &str,
    body_len: u64,
) -> Result<BodyEncoder, OutputError> {
    encode_response_head_inner(dst, ctx, status, None, headers, date, Some(body_len))
}

/// Checks a custom reason phrase (RFC 9112 §4: tabs, spaces, visible ASCII and
/// obs-text; no CR, LF or other control characters).
///
/// ```
/// use tornado_httpserver::http1connection::check_reason;
///
/// assert!(check_reason("Not Quite OK").is_ok());
/// assert!(check_reason("bad\r\nSet-Cookie: x=1").is_err());
/// ```
pub fn check_reason(reason: &str) -> Result<(), OutputError> {
    if reason
        .bytes()
        .all(|b| b == b'\t' || b == b' ' || (b > 0x20 && b != 0x7f))
    {
        Ok(())
    } else {
        Err(OutputError::new(
            OutputErrorKind::InvalidHeader,
            format!("unsafe reason phrase {reason:?}: control characters are not allowed"),
        ))
    }
}

pub(crate) fn encode_response_head_inner(
    dst: &mut BytesMut,
    ctx: &ResponseContext,
    status: StatusCode,
    reason: Option<&str>,
    headers: &HttpHeaders,
    date: &str,
    implicit_length: Option<u64>,
) -> Result<BodyEncoder, OutputError> {
    if let Some(reason) = reason {
        check_reason(reason)?;
    }
    let start = dst.len();
    let result = encode_head(dst, ctx, status, reason, headers, date, implicit_length);
    if result.is_err() {
        dst.truncate(start);
    }
    result
}

fn encode_head(
    dst: &mut BytesMut,
    ctx: &ResponseContext,
    status: StatusCode,
    reason: Option<&str>,
    headers: &HttpHeaders,
    date: &str,
    implicit_length: Option<u64>,
) -> Result<BodyEncoder, OutputError> {
    let code = status.as_u16();
    let informational = (100..200).contains(&code);
    let drops_length = informational || code == 204;
    let no_body = ctx.head_request || drops_length || code == 304;
    let switching = code == 101;

    dst.reserve(128 + headers.byte_len());
    if status == StatusCode::OK && reason.is_none() {
        dst.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    } else {
        dst.extend_from_slice(b"HTTP/1.1 ");
        dst.extend_from_slice(status.as_str().as_bytes());
        dst.extend_from_slice(b" ");
        let reason = reason.unwrap_or_else(|| status.canonical_reason().unwrap_or("Unknown"));
        dst.extend_from_slice(reason.as_bytes());
        dst.extend_from_slice(b"\r\n");
    }

    // One pass over the handler's headers: check each, write the ones that are not
    // framing headers, and note what the framing decision below needs.
    let mut declared: Option<u64> = None;
    let mut handler_closes = false;
    let mut has_date = false;
    let mut has_server = false;
    for (name, value) in headers.iter() {
        check_field(name, value)?;
        let skip = match name.len() {
            4 => {
                has_date |= name.eq_ignore_ascii_case("date");
                false
            }
            6 => {
                has_server |= name.eq_ignore_ascii_case("server");
                false
            }
            10 if name.eq_ignore_ascii_case("connection") => {
                handler_closes |= says_close(value);
                // A 101 keeps the handler's `Connection: Upgrade`; the connection then
                // belongs to the new protocol.
                !switching
            }
            14 if name.eq_ignore_ascii_case("content-length") => {
                if drops_length {
                    true
                } else {
                    let n = parse_length(value)?;
                    if declared.is_some_and(|l| l != n) {
                        return Err(OutputError::new(
                            OutputErrorKind::InvalidHeader,
                            "several different Content-Length headers",
                        ));
                    }
                    declared = Some(n);
                    false
                }
            }
            17 => name.eq_ignore_ascii_case("transfer-encoding"),
            _ => false,
        };
        if !skip {
            put_header(dst, name, value);
        }
    }

    // A length we write ourselves: for a whole body whose length the handler did not set.
    let implicit = match (declared, implicit_length) {
        (None, Some(n)) if !drops_length && code != 304 => Some(n),
        _ => None,
    };
    let length = declared.or(implicit);
    let framing = if no_body {
        BodyFraming::None
    } else if let Some(n) = length {
        BodyFraming::Length(n)
    } else if ctx.version == Version::HTTP_11 {
        BodyFraming::Chunked
    } else {
        BodyFraming::CloseDelimited
    };
    let keep_alive = ctx.keep_alive && !handler_closes && framing != BodyFraming::CloseDelimited;

    if let Some(n) = implicit {
        put_content_length(dst, n);
    }
    if framing == BodyFraming::Chunked {
        put_header(dst, "Transfer-Encoding", "chunked");
    }
    if switching {
        // The handler's own Connection header was written above.
    } else if !keep_alive && ctx.version == Version::HTTP_11 {
        put_header(dst, "Connection", "close");
    } else if keep_alive && ctx.version == Version::HTTP_10 {
        put_header(dst, "Connection", "Keep-Alive");
    }
    if !has_date {
        dst.extend_from_slice(b"Date: ");
        dst.extend_from_slice(date.as_bytes());
        dst.extend_from_slice(b"\r\n");
    }
    // The default `Server` line and the blank line after the head, in one piece.
    dst.extend_from_slice(if has_server {
        b"\r\n"
    } else {
        SERVER_LINE_AND_END.as_bytes()
    });
    Ok(BodyEncoder {
        framing,
        remaining: match framing {
            BodyFraming::Length(n) => n,
            _ => 0,
        },
        keep_alive,
        finished: false,
    })
}

/// One `Content-Length` value the handler set: digits only.
fn parse_length(value: &str) -> Result<u64, OutputError> {
    let v = value.trim_matches([' ', '\t']);
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid_length(value));
    }
    v.parse::<u64>().map_err(|_| invalid_length(value))
}

fn invalid_length(value: &str) -> OutputError {
    OutputError::new(
        OutputErrorKind::InvalidHeader,
        format!("invalid Content-Length {value:?}"),
    )
}

/// Frames a response body written in pieces, and holds the response to the
/// framing its head promised.
///
/// With a declared `Content-Length`, writing more than declared fails with
/// [`OutputErrorKind::TooMuchData`] and finishing with less with
/// [`OutputErrorKind::TooLittleData`]; either way the connection must close
/// instead of putting bad framing on the wire. A failed write appends
/// nothing.
#[derive(Debug, Clone)]
pub struct BodyEncoder {
    framing: BodyFraming,
    remaining: u64,
    keep_alive: bool,
    finished: bool,
}

impl BodyEncoder {
    /// How the body is delimited.
    pub fn framing(&self) -> BodyFraming {
        self.framing
    }

    /// Whether the connection may carry another request once this response
    /// is finished.
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// Whether [`finish`](Self::finish) has succeeded.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Appends `data` to `dst`, framed: a chunk (`{len:x}\r\n…\r\n`) when
    /// chunked, as it is otherwise. An empty write appends nothing (an empty
    /// chunk would end the body).
    pub fn write(&mut self, data: &[u8], dst: &mut BytesMut) -> Result<(), OutputError> {
        if self.finished {
            return Err(OutputError::new(
                OutputErrorKind::BodyNotAllowed,
                "write after finish",
            ));
        }
        if data.is_empty() {
            return Ok(());
        }
        match self.framing {
            BodyFraming::None => {
                return Err(OutputError::new(
                    OutputErrorKind::BodyNotAllowed,
                    "this response cannot have a body",
                ));
            }
            BodyFraming::Length(_) => {
                if data.len() as u64 > self.remaining {
                    self.keep_alive = false;
                    return Err(OutputError::new(
                        OutputErrorKind::TooMuchData,
                        "Tried to write more data than Content-Length",
                    ));
                }
                self.remaining -= data.len() as u64;
                dst.extend_from_slice(data);
            }
            BodyFraming::Chunked => {
                put_chunk_size(dst, data.len());
                dst.extend_from_slice(data);
                dst.extend_from_slice(b"\r\n");
            }
            BodyFraming::CloseDelimited => dst.extend_from_slice(data),
        }
        Ok(())
    }

    /// Accounts for `data` as the next piece of the body without appending it, when
    /// the framing allows the caller to send it as it is after `dst` (a declared
    /// length or a close-delimited body): returns `true`, and the caller writes `dst`
    /// and then `data`. Otherwise (chunked) it is written into `dst` as by
    /// [`write`](Self::write) and the result is `false`.
    pub fn write_external(&mut self, data: &[u8], dst: &mut BytesMut) -> Result<bool, OutputError> {
        if self.write_external_len(data.len() as u64)? {
            Ok(true)
        } else {
            self.write(data, dst).map(|()| false)
        }
    }

    /// Accounts for `len` bytes of body that the caller sends itself (from a file),
    /// when the framing allows that (a declared length, a close-delimited body):
    /// `true`. `false`, with nothing accounted, when it does not (a chunked body, or
    /// none); more than a declared length is an error.
    pub fn write_external_len(&mut self, len: u64) -> Result<bool, OutputError> {
        match self.framing {
            BodyFraming::Length(_) | BodyFraming::CloseDelimited if !self.finished => {
                if let BodyFraming::Length(_) = self.framing {
                    if len > self.remaining {
                        self.keep_alive = false;
                        return Err(OutputError::new(
                            OutputErrorKind::TooMuchData,
                            "Tried to write more data than Content-Length",
                        ));
                    }
                    self.remaining -= len;
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Ends the body: appends `0\r\n\r\n` when chunked; fails if fewer bytes
    /// than the declared `Content-Length` were written.
    pub fn finish(&mut self, dst: &mut BytesMut) -> Result<(), OutputError> {
        if self.finished {
            return Ok(());
        }
        if let BodyFraming::Length(_) = self.framing
            && self.remaining > 0
        {
            self.keep_alive = false;
            return Err(OutputError::new(
                OutputErrorKind::TooLittleData,
                format!(
                    "Tried to write {} bytes less than Content-Length",
                    self.remaining
                ),
            ));
        }
        if self.framing == BodyFraming::Chunked {
            dst.extend_from_slice(b"0\r\n\r\n");
        }
        self.finished = true;
        Ok(())
    }
}

/// Appends a minimal error response (`Content-Length: 0`,
/// `Connection: close`) for a request that could not be parsed; the
/// connection should close once it is written.
///
/// ```
/// use bytes::BytesMut;
/// use http::StatusCode;
/// use tornado_httpserver::http1connection::encode_error_response;
///
/// let mut out = BytesMut::new();
/// encode_error_response(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, &mut out);
/// assert!(out.starts_with(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"));
/// ```
pub fn encode_error_response(status: StatusCode, dst: &mut BytesMut) {
    dst.extend_from_slice(b"HTTP/1.1 ");
    dst.extend_from_slice(status.as_str().as_bytes());
    dst.extend_from_slice(b" ");
    dst.extend_from_slice(status.canonical_reason().unwrap_or("Unknown").as_bytes());
    dst.extend_from_slice(b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_line_is_the_default_server() {
        assert_eq!(
            SERVER_LINE_AND_END,
            format!("Server: {DEFAULT_SERVER}\r\n\r\n")
        );
    }
}
