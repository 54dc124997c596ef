//! An incremental decoder for `Transfer-Encoding: chunked` bodies.

use std::ops::Range;

use http::StatusCode;

use super::params::{MAX_CHUNK_LINE, MAX_TRAILER_SIZE};
use crate::error::ParseError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the hex digits of a chunk size.
    Size,
    /// Spaces or tabs after the size, before a `;`.
    SizeSpace,
    /// A chunk extension, ignored up to the CR.
    Extension,
    /// The LF after a size line's CR.
    SizeLf,
    /// Chunk data.
    Data,
    /// The CR after chunk data.
    DataCr,
    /// The LF after chunk data.
    DataLf,
    /// The start of a trailer line, or of the final empty line.
    TrailerStart,
    /// Inside a trailer line.
    Trailer,
    /// The LF after a trailer line.
    TrailerLf,
    /// The LF of the final empty line.
    EndLf,
    /// The body is complete.
    Done,
    /// An error was reported; nothing more is decoded.
    Failed,
}

/// One step of [`ChunkedDecoder::decode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkedStep {
    /// How many bytes of the input were used; drop them before the next
    /// call.
    pub consumed: usize,
    /// Body bytes: a range of the input (empty when this step decoded none).
    pub data: Range<usize>,
    /// Whether the body is complete (last chunk and trailers read).
    pub done: bool,
}

/// A sans-IO decoder for chunked bodies (RFC 9112 section 7.1).
///
/// Feed it the bytes after the head with [`decode`](Self::decode): each call
/// returns how much it used and, when the input holds chunk data, the range
/// of that data, so the caller can hand the delegate a slice of its own
/// buffer without a copy. Call again with the unused rest; a step that uses
/// nothing and is not done needs more input.
///
/// Strict on framing, since a lenient chunk parser is how requests get
/// smuggled: a size is 1 to 16 hex digits and nothing else (no `0x`, sign,
/// `_` or spaces before it), every line ends in CRLF (a bare LF is a 400),
/// data must be followed by CRLF, and a size line is at most
/// [`MAX_CHUNK_LINE`] bytes. Chunk extensions (`;name=value`) are allowed
/// and ignored; trailer fields are read and dropped, at most
/// [`MAX_TRAILER_SIZE`] bytes (431). A total above `max_body_size` is a 413
/// as soon as a chunk size says so.
///
/// ```
/// use tornado_httpserver::http1connection::ChunkedDecoder;
///
/// let mut dec = ChunkedDecoder::new(1024);
/// let mut input: &[u8] = b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n";
/// let mut body = Vec::new();
/// loop {
///     let step = dec.decode(input).unwrap();
///     body.extend_from_slice(&input[step.data.clone()]);
///     input = &input[step.consumed..];
///     if step.done { break; }
/// }
/// assert_eq!(body, b"abcde");
/// ```
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    size: u64,
    digits: u8,
    line_len: usize,
    remaining: u64,
    total: u64,
    trailer_len: usize,
    max_body_size: u64,
}

impl ChunkedDecoder {
    /// A decoder for one body of at most `max_body_size` bytes.
    pub fn new(max_body_size: u64) -> Self {
        ChunkedDecoder {
            state: State::Size,
            size: 0,
            digits: 0,
            line_len: 0,
            remaining: 0,
            total: 0,
            trailer_len: 0,
            max_body_size,
        }
    }

    /// Whether the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Body bytes announced by the chunk sizes so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Decodes from the start of `input`; see the type's documentation.
    pub fn decode(&mut self, input: &[u8]) -> Result<ChunkedStep, ParseError> {
        let result = self.decode_inner(input);
        if result.is_err() {
            self.state = State::Failed;
        }
        result
    }

    fn decode_inner(&mut self, input: &[u8]) -> Result<ChunkedStep, ParseError> {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                State::Size => {
                    if let Some(v) = hex_value(b) {
                        if self.digits == 16 {
                            return Err(bad("chunk size has more than 16 hex digits"));
                        }
                        self.size = self.size << 4 | u64::from(v);
                        self.digits += 1;
                    } else if self.digits == 0 {
                        return Err(bad("invalid chunk size"));
                    } else {
                        self.state = match b {
                            b'\r' => State::SizeLf,
                            b';' => State::Extension,
                            b' ' | b'\t' => State::SizeSpace,
                            _ => return Err(bad("invalid chunk size")),
                        };
                    }
                    self.count_line()?;
                }
                State::SizeSpace => {
                    match b {
                        b' ' | b'\t' => {}
                        b';' => self.state = State::Extension,
                        _ => return Err(bad("invalid chunk size")),
                    }
                    self.count_line()?;
                }
                State::Extension => {
                    match b {
                        b'\r' => self.state = State::SizeLf,
                        b'\t' => {}
                        _ if b < 0x20 || b == 0x7f => {
                            return Err(bad("invalid character in chunk extension"));
                        }
                        _ => {}
                    }
                    self.count_line()?;
                }
                State::SizeLf => {
                    if b != b'\n' {
                        return Err(bad("chunk size line not terminated by CRLF"));
                    }
                    if self.size == 0 {
                        self.state = State::TrailerStart;
                    } else {
                        self.total = self.total.saturating_add(self.size);
                        if self.total > self.max_body_size {
                            return Err(ParseError::new(
                                StatusCode::PAYLOAD_TOO_LARGE,
                                format!(
                                    "chunked body larger than max_body_size {}",
                                    self.max_body_size
                                ),
                            ));
                        }
                        self.remaining = self.size;
                        self.state = State::Data;
                    }
                }
                State::Data => {
                    let available = (input.len() - i) as u64;
                    let n = self.remaining.min(available) as usize;
                    self.remaining -= n as u64;
                    if self.remaining == 0 {
                        self.state = State::DataCr;
                    }
                    return Ok(ChunkedStep {
                        consumed: i + n,
                        data: i..i + n,
                        done: false,
                    });
                }
                State::DataCr | State::DataLf => {
                    let expected = if self.state == State::DataCr {
                        b'\r'
                    } else {
                        b'\n'
                    };
                    if b != expected {
                        return Err(bad("improperly terminated chunk"));
                    }
                    if self.state == State::DataCr {
                        self.state = State::DataLf;
                    } else {
                        self.state = State::Size;
                        self.size = 0;
                        self.digits = 0;
                        self.line_len = 0;
                    }
                }
                State::TrailerStart => match b {
                    b'\r' => self.state = State::EndLf,
                    b'\n' => return Err(bad("bare LF after last chunk")),
                    _ => {
                        self.state = State::Trailer;
                        self.count_trailer()?;
                    }
                },
                State::Trailer => {
                    match b {
                        b'\r' => self.state = State::TrailerLf,
                        b'\n' => return Err(bad("bare LF in chunked trailer")),
                        _ => {}
                    }
                    self.count_trailer()?;
                }
                State::TrailerLf => {
                    if b != b'\n' {
                        return Err(bad("chunked trailer line not terminated by CRLF"));
                    }
                    self.state = State::TrailerStart;
                }
                State::EndLf => {
                    if b != b'\n' {
                        return Err(bad("improperly terminated chunked body"));
                    }
                    self.state = State::Done;
                    return Ok(ChunkedStep {
                        consumed: i + 1,
                        data: 0..0,
                        done: true,
                    });
                }
                State::Done => break,
                State::Failed => return Err(bad("chunked body already failed")),
            }
            i += 1;
        }
        if self.state == State::Failed {
            return Err(bad("chunked body already failed"));
        }
        Ok(ChunkedStep {
            consumed: if self.state == State::Done { 0 } else { i },
            data: 0..0,
            done: self.state == State::Done,
        })
    }

    fn count_line(&mut self) -> Result<(), ParseError> {
        self.line_len += 1;
        if self.line_len > MAX_CHUNK_LINE {
            return Err(bad("chunk size line too long"));
        }
        Ok(())
    }

    fn count_trailer(&mut self) -> Result<(), ParseError> {
        self.trailer_len += 1;
        if self.trailer_len > MAX_TRAILER_SIZE {
            return Err(ParseError::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                format!("chunked trailer larger than {MAX_TRAILER_SIZE} bytes"),
            ));
        }
        Ok(())
    }
}

fn bad(reason: &'static str) -> ParseError {
    ParseError::bad_request(reason)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` fed in pieces of `step` bytes, as a connection would
    /// see it arrive.
    fn decode_all(input: &[u8], max: u64, step: usize) -> Result<(Vec<u8>, usize), ParseError> {
        let mut dec = ChunkedDecoder::new(max);
        let mut buf = Vec::new();
        let mut body = Vec::new();
        let mut fed = 0;
        loop {
            let s = dec.decode(&buf)?;
            body.extend_from_slice(&buf[s.data.clone()]);
            buf.drain(..s.consumed);
            if s.done {
                return Ok((body, buf.len() + input.len() - fed));
            }
            if s.consumed == 0 {
                if fed == input.len() {
                    return Err(ParseError::bad_request("truncated"));
                }
                let end = (fed + step).min(input.len());
                buf.extend_from_slice(&input[fed..end]);
                fed = end;
            }
        }
    }

    #[test]
    fn valid_bodies_in_any_split() {
        let rows: &[(&[u8], &[u8])] = &[
            (b"0\r\n\r\n", b""),
            (b"2\r\nok\r\n0\r\n\r\n", b"ok"),
            (b"A\r\n0123456789\r\n1\r\nx\r\n0\r\n\r\n", b"0123456789x"),
            (
                b"a;name=value\r\n0123456789\r\n0;last\r\n\r\n",
                b"0123456789",
            ),
            (b"2 ;ext\r\nok\r\n0\r\n\r\n", b"ok"),
            (b"2\r\nok\r\n0\r\nX-Trailer: 1\r\nY: 2\r\n\r\n", b"ok"),
            (b"0000000000000002\r\nok\r\n0\r\n\r\n", b"ok"),
        ];
        for (input, expected) in rows {
            for step in [1, 2, 3, 7, 1000] {
                let (body, left) = decode_all(input, 1 << 20, step).unwrap();
                assert_eq!(&body, expected, "{input:?} step {step}");
                assert_eq!(left, 0);
            }
        }
    }

    #[test]
    fn stops_at_end_of_body() {
        let input = b"2\r\nok\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
        let mut dec = ChunkedDecoder::new(100);
        let mut pos = 0;
        loop {
            let s = dec.decode(&input[pos..]).unwrap();
            pos += s.consumed;
            if s.done {
                break;
            }
        }
        assert_eq!(&input[pos..], b"GET / HTTP/1.1\r\n");
        assert!(dec.is_done());
        assert_eq!(dec.total(), 2);
        let again = dec.decode(&input[pos..]).unwrap();
        assert_eq!((again.consumed, again.done), (0, true));
    }

    #[test]
    fn bad_bodies() {
        let rows: &[(&[u8], StatusCode)] = &[
            (b"0x2\r\nok\r\n0\r\n\r\n", StatusCode::BAD_REQUEST),
            (b"+2\r\nok\r\n0\r\n\r\n", StatusCode::BAD_REQUEST),
            (b"-2\r\nok\r\n0\r\n\r\n", StatusCode::BAD_REQUEST),
            (
                b"1_a\r\n1234567890abcdef1234567890\r\n0\r\n\r\n",
                StatusCode::BAD_REQUEST,
            ),
            (b" 2\r\nok\r\n0\r\n\r\n", StatusCode::BAD_REQUEST),
            (b"2 \r\nok\r\n0\r\n\r\n", StatusCode::BAD_REQUEST),
            (b"\r\nok\r\n0\r\n\r\n", StatusCode::BAD_REQUEST),
            (b"g\r\n", StatusCode::BAD_REQUEST),
            (
                b"00000000000000002\r\nok\r\n0\r\n\r\n",
                StatusCode::BAD_REQUEST,
            ),
            (b"fffffffffffffffff\r\n", StatusCode::BAD_REQUEST),
            (b"2\nok\r\n0\r\n\r\n", StatusCode::BAD_REQUEST),
            (b"2\rok\r\n0\r\n\r\n", StatusCode::BAD_REQUEST),
            (b"2\r\nokk\r\n0\r\n\r\n", StatusCode::BAD_REQUEST),
            (b"2\r\nok\n0\r\n\r\n", StatusCode::BAD_REQUEST),
            (b"2\r\nok0\r\n\r\n", StatusCode::BAD_REQUEST),
            (b"2\r\nok\r\n0\r\n\n", StatusCode::BAD_REQUEST),
            (b"2\r\nok\r\n0\r\n\rX", StatusCode::BAD_REQUEST),
            (b"2\r\nok\r\n0\r\nX: 1\n\r\n", StatusCode::BAD_REQUEST),
            (b"2;a\x00b\r\nok\r\n0\r\n\r\n", StatusCode::BAD_REQUEST),
            (b"2;a\nb\r\nok\r\n0\r\n\r\n", StatusCode::BAD_REQUEST),
            (b"401\r\n", StatusCode::PAYLOAD_TOO_LARGE),
            (b"200\r\n", StatusCode::OK),
            (b"ffffffffffffffff\r\n", StatusCode::PAYLOAD_TOO_LARGE),
        ];
        for (input, status) in rows {
            let result = decode_all(input, 1024, 1000);
            if *status == StatusCode::OK {
                // Within the limit: only truncated.
                assert_eq!(result.unwrap_err().reason(), "truncated");
                continue;
            }
            let err = result.expect_err(&format!("{input:?} accepted"));
            assert_eq!(err.status(), *status, "{input:?}: {err}");
        }
    }

    #[test]
    fn total_over_limit_across_chunks() {
        let mut input = Vec::new();
        for _ in 0..5 {
            input.extend_from_slice(b"100\r\n");
            input.extend_from_slice(&[b'x'; 0x100]);
            input.extend_from_slice(b"\r\n");
        }
        input.extend_from_slice(b"0\r\n\r\n");
        assert_eq!(decode_all(&input, 0x500, 64).unwrap().0.len(), 0x500);
        let err = decode_all(&input, 0x4ff, 64).unwrap_err();
        assert!(err.is_body_too_large());
    }

    #[test]
    fn long_lines_and_trailers_are_bounded() {
        let mut line = b"2;".to_vec();
        line.extend(std::iter::repeat_n(b'e', MAX_CHUNK_LINE));
        line.extend_from_slice(b"\r\nok\r\n0\r\n\r\n");
        assert!(decode_all(&line, 1024, 100).unwrap_err().is_bad_request());
        let mut trailer = b"0\r\nX: ".to_vec();
        trailer.extend(std::iter::repeat_n(b't', MAX_TRAILER_SIZE));
        trailer.extend_from_slice(b"\r\n\r\n");
        assert!(
            decode_all(&trailer, 1024, 100)
                .unwrap_err()
                .is_header_too_large()
        );
    }

    #[test]
    fn failed_decoder_stays_failed() {
        let mut dec = ChunkedDecoder::new(10);
        assert!(dec.decode(b"x").is_err());
        assert!(dec.decode(b"0\r\n\r\n").is_err());
    }
}
