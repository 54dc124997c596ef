//! Decoding `Content-Encoding: gzip` request bodies within the body limit.

use std::io::{self, Write};

use flate2::write::MultiGzDecoder;
use http::StatusCode;

use crate::error::ParseError;

/// Collects decompressed bytes and refuses to grow past the limit, so a
/// small compressed body cannot expand into gigabytes in memory.
#[derive(Debug)]
struct LimitedSink {
    out: Vec<u8>,
    total: u64,
    max: u64,
    exceeded: bool,
}

impl Write for LimitedSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.total = self.total.saturating_add(buf.len() as u64);
        if self.total > self.max {
            self.exceeded = true;
            return Err(io::Error::other("decompressed body too large"));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

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
    inner: MultiGzDecoder<LimitedSink>,
}

impl GzipDecoder {
    /// A decoder that allows at most `max_body_size` decompressed bytes.
    pub fn new(max_body_size: u64) -> Self {
        GzipDecoder {
            inner: MultiGzDecoder::new(LimitedSink {
                out: Vec::new(),
                total: 0,
                max: max_body_size,
                exceeded: false,
            }),
        }
    }

    /// Decompresses `input` and appends what it yields to `out`.
    pub fn decompress(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), ParseError> {
        let result = self
            .inner
            .write_all(input)
            .and_then(|()| self.inner.flush());
        self.drain(out);
        result.map_err(|e| self.error(&e))
    }

    /// Checks that the input ended at the end of a gzip member and appends
    /// any last output to `out`.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), ParseError> {
        let result = self.inner.try_finish();
        self.drain(out);
        result.map_err(|e| self.error(&e))
    }

    /// Decompressed bytes so far.
    pub fn decompressed_len(&self) -> u64 {
        self.inner.get_ref().total
    }

    fn drain(&mut self, out: &mut Vec<u8>) {
        let sink = self.inner.get_mut();
        if out.is_empty() {
            std::mem::swap(out, &mut sink.out);
        } else {
            out.append(&mut sink.out);
        }
    }

    fn error(&self, err: &io::Error) -> ParseError {
        let sink = self.inner.get_ref();
        if sink.exceeded {
            ParseError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("decompressed body larger than max_body_size {}", sink.max),
            )
        } else {
            ParseError::bad_request(format!("invalid gzip data: {err}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
