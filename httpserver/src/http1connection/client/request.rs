//! Encoding a request: request line, headers and body framing, appended to
//! the connection's output buffer.

use bytes::BytesMut;

use super::super::wire::{
    check_field, check_value, put_chunk_size, put_content_length, put_header, says_close,
};
use crate::error::{OutputError, OutputErrorKind};
use crate::httputil::{HttpHeaders, is_token};

/// How the body of a request is framed on the wire; the caller says which
/// when it writes the head, and the connection writes `Content-Length` or
/// `Transfer-Encoding: chunked` accordingly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestBody {
    /// No body. `POST`, `PUT` and `PATCH` still get `Content-Length: 0`
    /// (RFC 9110 section 8.6), as Tornado's client sends.
    None,
    /// Exactly this many bytes, written with
    /// [`write_body`](super::ClientConnection::write_body).
    Length(u64),
    /// A body of unknown length, sent as chunks.
    Chunked,
}

/// What the connection needs to remember about a request it encoded.
#[derive(Debug, Clone, Copy)]
pub(super) struct EncodedRequest {
    /// The request is a `HEAD`: its response has no body.
    pub(super) head: bool,
    /// The request is a `CONNECT`: a 2xx response turns the connection into
    /// a tunnel.
    pub(super) connect: bool,
    /// The request said `Connection: close`.
    pub(super) close: bool,
    /// The request said `Expect: 100-continue` and has a body to hold back.
    pub(super) expect_continue: bool,
    /// The body to write, if any.
    pub(super) body: Option<BodyWriter>,
}

/// Appends a request head to `out`; on error appends nothing.
///
/// Refuses (with [`OutputErrorKind::InvalidHeader`]): a method that is not
/// a token; an empty target or one with a space or control character; a
/// header name that is not a token; a CR, LF or NUL in a value or `host`;
/// a `Content-Length` or `Transfer-Encoding` header that disagrees with
/// `body` (one that agrees is written once).
pub(super) fn encode_request_head(
    method: &str,
    target: &str,
    host: &str,
    headers: &HttpHeaders,
    body: RequestBody,
    out: &mut BytesMut,
) -> Result<EncodedRequest, OutputError> {
    let start = out.len();
    let result = encode(method, target, host, headers, body, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn encode(
    method: &str,
    target: &str,
    host: &str,
    headers: &HttpHeaders,
    body: RequestBody,
    out: &mut BytesMut,
) -> Result<EncodedRequest, OutputError> {
    if !is_token(method.as_bytes()) {
        return Err(invalid(format!("invalid request method {method:?}")));
    }
    if target.is_empty() || target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(invalid(format!("invalid request target {target:?}")));
    }
    check_value("Host", host)?;

    out.reserve(
        32 + method.len() + target.len() + host.len() + headers.byte_len() + 4 * headers.len(),
    );
    out.extend_from_slice(method.as_bytes());
    out.extend_from_slice(b" ");
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if !headers.contains("Host") {
        put_header(out, "Host", host);
    }

    let mut close = false;
    let mut expect_continue = false;
    let mut caller_length = false;
    for (name, value) in headers.iter() {
        check_field(name, value)?;
        let framing_header = match name.len() {
            10 if name.eq_ignore_ascii_case("connection") => {
                close |= says_close(value);
                false
            }
            6 if name.eq_ignore_ascii_case("expect") => {
                expect_continue |= value
                    .trim_matches([' ', '\t'])
                    .eq_ignore_ascii_case("100-continue");
                false
            }
            14 if name.eq_ignore_ascii_case("content-length") => {
                check_caller_length(value, body)?;
                caller_length = true;
                true
            }
            17 if name.eq_ignore_ascii_case("transfer-encoding") => {
                if body != RequestBody::Chunked
                    || !value
                        .trim_matches([' ', '\t'])
                        .eq_ignore_ascii_case("chunked")
                {
                    return Err(invalid(format!(
                        "Transfer-Encoding {value:?} disagrees with the request body {body:?}"
                    )));
                }
                true
            }
            _ => false,
        };
        if !framing_header {
            put_header(out, name, value);
        }
    }

    let body = match body {
        RequestBody::None => {
            if caller_length || matches!(method, "POST" | "PUT" | "PATCH") {
                out.extend_from_slice(b"Content-Length: 0\r\n");
            }
            None
        }
        RequestBody::Length(n) => {
            put_content_length(out, n);
            (n > 0).then_some(BodyWriter::Length { remaining: n })
        }
        RequestBody::Chunked => {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
            Some(BodyWriter::Chunked)
        }
    };
    out.extend_from_slice(b"\r\n");
    Ok(EncodedRequest {
        head: method == "HEAD",
        connect: method == "CONNECT",
        close,
        expect_continue: expect_continue && body.is_some(),
        body,
    })
}

/// A caller's own `Content-Length` must say what `body` says (no body
/// counts as 0); repeats (`5, 5`) must agree.
fn check_caller_length(value: &str, body: RequestBody) -> Result<(), OutputError> {
    let expected = match body {
        RequestBody::None => Some(0),
        RequestBody::Length(n) => Some(n),
        RequestBody::Chunked => None,
    };
    for piece in value.split(',').map(|p| p.trim_matches([' ', '\t'])) {
        let parsed = (!piece.is_empty() && piece.bytes().all(|b| b.is_ascii_digit()))
            .then(|| piece.parse::<u64>().ok())
            .flatten();
        if parsed.is_none() || parsed != expected {
            return Err(invalid(format!(
                "Content-Length {value:?} disagrees with the request body {body:?}"
            )));
        }
    }
    Ok(())
}

fn invalid(message: String) -> OutputError {
    OutputError::new(OutputErrorKind::InvalidHeader, message)
}

/// Frames the body of the request being written and holds it to what its
/// head declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BodyWriter {
    /// `Content-Length`: this many bytes are still due.
    Length { remaining: u64 },
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

impl BodyWriter {
    /// Appends `data`, framed; more than the declared length is an error and
    /// appends nothing. Empty data appends nothing (an empty chunk would end
    /// the body).
    pub(super) fn write(&mut self, data: &[u8], out: &mut BytesMut) -> Result<(), OutputError> {
        if data.is_empty() {
            return Ok(());
        }
        match self {
            BodyWriter::Length { remaining } => {
                if data.len() as u64 > *remaining {
                    return Err(OutputError::new(
                        OutputErrorKind::TooMuchData,
                        format!(
                            "Tried to write more data than Content-Length ({} bytes, {remaining} left)",
                            data.len()
                        ),
                    ));
                }
                *remaining -= data.len() as u64;
                out.extend_from_slice(data);
            }
            BodyWriter::Chunked => {
                out.reserve(data.len() + 20);
                put_chunk_size(out, data.len());
                out.extend_from_slice(data);
                out.extend_from_slice(b"\r\n");
            }
        }
        Ok(())
    }

    /// Ends the body: `0\r\n\r\n` when chunked; an error if bytes of the
    /// declared length are missing.
    pub(super) fn finish(&self, out: &mut BytesMut) -> Result<(), OutputError> {
        match self {
            BodyWriter::Length { remaining: 0 } => Ok(()),
            BodyWriter::Length { remaining } => Err(OutputError::new(
                OutputErrorKind::TooLittleData,
                format!("Tried to write {remaining} bytes less than Content-Length"),
            )),
            BodyWriter::Chunked => {
                out.extend_from_slice(b"0\r\n\r\n");
                Ok(())
            }
        }
    }
}
