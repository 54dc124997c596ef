//! Decoding `Content-Encoding: gzip` request bodies within the body limit, on
//! the same decoder as the client's response bodies ([`Inflater`]).

use http::StatusCode;

use super::inflate::{Coding, InflateError, Inflater};
use crate::error::ParseError;

/// How much output one step of the decoder gives; the steps are appended to
/// the caller's buffer one after the other.
const STEP: usize = 16 * 1024;

/// An incremental gzip decoder for request bodies (Tornado's
/// `_GzipMessageDelegate`).
///
/// Decompressed bytes count against `max_body_size` (413 when exceeded,
/// checked before they are buffered); corrupt, truncated or trailing data
/// is a 400. Several concatenated gzip members decode one after the other,
/// as `gzip` and Python's decompressor do. After an error the decoder is
/// spent: drop it (the connection answers the error and closes).
///
/// ```
/// use std::io::Write;
/// use tornado_httpserver::http1connection::GzipDecoder;
///
/// let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
/// enc.write_all(b"foo=bar").unwrap();
/// let compressed = enc.finish().unwrap();
///
/// let mut dec = GzipDecoder::new(1024);
/// let mut body = Vec::new();
/// dec.decompress(&compressed, &mut body).unwrap();
/// dec.finish(&mut body).unwrap();
/// assert_eq!(body, b"foo=bar");
/// ```
#[derive(Debug)]
pub struct GzipDecoder {
    inner: Inflater,
    max: u64,
}

impl GzipDecoder {
    /// A decoder that allows at most `max_body_size` decompressed bytes.
    pub fn new(max_body_size: u64) -> Self {
        GzipDecoder {
            inner: Inflater::new(Coding::Gzip, max_body_size, STEP),
            max: max_body_size,
        }
    }

    /// Decompresses `input` and appends what it yields to `out`.
    pub fn decompress(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), ParseError> {
        let mut rest = input;
        loop {
            let (used, piece) = self.inner.inflate(rest).map_err(|e| self.error(e))?;
            out.extend_from_slice(&piece);
            rest = rest.get(used..).unwrap_or_default();
            if rest.is_empty() && piece.is_empty() {
                return Ok(());
            }
        }
    }

    /// Checks that the input ended at the end of a gzip member and appends
    /// any last output to `out`.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), ParseError> {
        self.decompress(&[], out)?;
        self.inner.finish().map_err(|e| self.error(e))
    }

    /// Decompressed bytes so far.
    pub fn decompressed_len(&self) -> u64 {
        self.inner.total_out()
    }

    fn error(&self, err: InflateError) -> ParseError {
        match err {
            InflateError::TooLarge => ParseError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("decompressed body larger than max_body_size {}", self.max),
            ),
            InflateError::Corrupt(message) => ParseError::bad_request(message.into_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn decode(input: &[u8], max: u64, piece: usize) -> Result<Vec<u8>, ParseError> {
        let mut dec = GzipDecoder::new(max);
        let mut out = Vec::new();
        for chunk in input.chunks(piece) {
            dec.decompress(chunk, &mut out)?;
        }
        dec.finish(&mut out)?;
        Ok(out)
    }

    #[test]
    fn decodes_in_pieces_and_multiple_members() {
        let mut data = gzip(b"foo=");
        data.extend(gzip(b"bar"));
        for piece in [1, 5, 1000] {
            assert_eq!(decode(&data, 100, piece).unwrap(), b"foo=bar");
        }
    }

    #[test]
    fn rejects_corrupt_truncated_and_trailing_data() {
        let good = gzip(b"foo=bar");
        let mut trailing = good.clone();
        trailing.push(0);
        let truncated = &good[..good.len() - 1];
        let mut corrupt = good.clone();
        let mid = corrupt.len() / 2;
        corrupt[mid] ^= 0xff;
        for bad in [&trailing[..], truncated, &corrupt[..], b"not gzip at all"] {
            let err = decode(bad, 1024, 3).unwrap_err();
            assert!(err.is_bad_request(), "{err}");
        }
    }

    #[test]
    fn counts_decompressed_bytes_against_the_limit() {
        let bomb = gzip(&vec![0u8; 1 << 20]);
        assert!(bomb.len() < 10_000);
        assert_eq!(decode(&bomb, 1 << 20, 4096).unwrap().len(), 1 << 20);
        let err = decode(&bomb, (1 << 20) - 1, 4096).unwrap_err();
        assert!(err.is_body_too_large(), "{err}");
    }
}
