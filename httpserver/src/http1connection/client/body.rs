//! Reading one response body: its framing (length, chunked, until close),
//! then, optionally, its content coding, in pieces of at most `chunk_size`.

use bytes::{Buf, Bytes, BytesMut};

use super::error::{ClientError, ClientErrorKind};
use crate::http1connection::ChunkedDecoder;
use crate::http1connection::inflate::{Coding, InflateError, Inflater};

/// How a response body is delimited on the wire (RFC 9112 section 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// No body (HEAD, 1xx, 204, 304, `Content-Length: 0`, a tunnel).
    Empty,
    /// `Content-Length`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Neither: the body runs until the server closes the connection.
    UntilClose,
}

/// Where the framing layer is.
#[derive(Debug)]
enum Raw {
    Length(u64),
    Chunked(Box<ChunkedDecoder>),
    UntilClose,
    Ended,
}

/// The decoding layer: the inflater and the raw bytes it has not used yet.
#[derive(Debug)]
struct Decoder {
    inflater: Inflater,
    pending: Bytes,
}

/// One step of [`BodyReader::poll`].
#[derive(Debug)]
pub(super) enum BodyStep {
    Data(Bytes),
    NeedMore,
    End,
}

/// Reads one body from the front of the connection's buffer.
///
/// Without decoding, each piece is split off the buffer (`split_to(n)
/// .freeze()`), so body bytes are never copied. The raw body is counted
/// against `max_body_size` (a `Content-Length` above it fails before a byte
/// is read); when decoding, so is the decoded body.
#[derive(Debug)]
pub(super) struct BodyReader {
    raw: Raw,
    decoder: Option<Decoder>,
    raw_total: u64,
    max_body_size: u64,
    chunk_size: usize,
}

impl BodyReader {
    pub(super) fn new(
        framing: Framing,
        coding: Option<Coding>,
        max_body_size: u64,
        chunk_size: usize,
    ) -> Self {
        let raw = match framing {
            Framing::Empty => Raw::Ended,
            Framing::Length(n) => Raw::Length(n),
            Framing::Chunked => Raw::Chunked(Box::new(ChunkedDecoder::new(max_body_size))),
            Framing::UntilClose => Raw::UntilClose,
        };
        let chunk_size = chunk_size.max(1);
        BodyReader {
            decoder: coding.map(|c| Decoder {
                inflater: Inflater::new(c, max_body_size, chunk_size),
                pending: Bytes::new(),
            }),
            raw,
            raw_total: 0,
            max_body_size,
            chunk_size,
        }
    }

    /// The next piece of the body, `NeedMore`, or `End`.
    pub(super) fn poll(&mut self, buf: &mut BytesMut) -> Result<BodyStep, ClientError> {
        loop {
            if let Some(decoder) = &mut self.decoder {
                let raw_ended = matches!(self.raw, Raw::Ended);
                if let Some(step) = decoder.step(raw_ended, self.max_body_size)? {
                    return Ok(step);
                }
            }
            let piece = match &mut self.raw {
                Raw::Ended => return Ok(BodyStep::End),
                Raw::Length(0) => {
                    self.raw = Raw::Ended;
                    continue;
                }
                Raw::Length(remaining) => {
                    // raw_total + remaining is the declared length.
                    if self.raw_total.saturating_add(*remaining) > self.max_body_size {
                        return Err(ClientError::new(
                            ClientErrorKind::BodyTooLarge,
                            format!(
                                "Content-Length {} larger than max_body_size {}",
                                self.raw_total.saturating_add(*remaining),
                                self.max_body_size
                            ),
                        ));
                    }
                    if buf.is_empty() {
                        return Ok(BodyStep::NeedMore);
                    }
                    let take = (*remaining).min(buf.len().min(self.chunk_size) as u64);
                    *remaining -= take;
                    self.raw_total += take;
                    buf.split_to(take as usize).freeze()
                }
                Raw::Chunked(decoder) => {
                    let window = buf
                        .get(..buf.len().min(self.chunk_size))
                        .unwrap_or_default();
                    let step = decoder.decode(window)?;
                    if step.consumed == 0 && !step.done {
                        return Ok(BodyStep::NeedMore);
                    }
                    let used = buf.split_to(step.consumed.min(buf.len())).freeze();
                    if step.done {
                        self.raw = Raw::Ended;
                    }
                    if step.data.start > step.data.end || step.data.end > used.len() {
                        return Err(ClientError::parse("chunked decoder returned a bad range"));
                    }
                    used.slice(step.data)
                }
                Raw::UntilClose => {
                    if buf.is_empty() {
                        return Ok(BodyStep::NeedMore);
                    }
                    let take = buf.len().min(self.chunk_size);
                    self.raw_total = self.raw_total.saturating_add(take as u64);
                    if self.raw_total > self.max_body_size {
                        return Err(ClientError::body_too_large(self.max_body_size));
                    }
                    buf.split_to(take).freeze()
                }
            };
            if piece.is_empty() {
                continue;
            }
            match &mut self.decoder {
                Some(decoder) => decoder.pending = piece,
                None => return Ok(BodyStep::Data(piece)),
            }
        }
    }

    /// The connection closed: the end of a body read until close, else an
    /// error.
    /// Whether the raw body ends only with the connection.
    pub(super) fn until_close(&self) -> bool {
        matches!(self.raw, Raw::UntilClose)
    }

    pub(super) fn on_eof(&mut self) -> Result<(), ClientError> {
        match self.raw {
            Raw::UntilClose | Raw::Length(0) => {
                self.raw = Raw::Ended;
                Ok(())
            }
            Raw::Ended => Ok(()),
            Raw::Length(remaining) => Err(ClientError::closed_early(&format!(
                "{remaining} bytes of the body missing"
            ))),
            Raw::Chunked(_) => Err(ClientError::closed_early("in a chunked body")),
        }
    }
}

impl Decoder {
    /// Decoded output if there is some, `End` once the raw body has ended
    /// and the decoder is drained, `None` when it needs more raw bytes.
    fn step(&mut self, raw_ended: bool, max: u64) -> Result<Option<BodyStep>, ClientError> {
        let map = |e: InflateError| match e {
            InflateError::TooLarge => ClientError::new(
                ClientErrorKind::BodyTooLarge,
                format!("decompressed response body larger than max_body_size {max}"),
            ),
            InflateError::Corrupt(message) => {
                ClientError::new(ClientErrorKind::Decompress, message)
            }
        };
        while !self.pending.is_empty() {
            let (used, out) = self.inflater.inflate(&self.pending).map_err(map)?;
            self.pending.advance(used.min(self.pending.len()));
            if !out.is_empty() {
                return Ok(Some(BodyStep::Data(out)));
            }
        }
        // Output the last call had no room for.
        let (_, out) = self.inflater.inflate(&[]).map_err(map)?;
        if !out.is_empty() {
            return Ok(Some(BodyStep::Data(out)));
        }
        if raw_ended {
            self.inflater.finish().map_err(map)?;
            return Ok(Some(BodyStep::End));
        }
        Ok(None)
    }
}
