//! `GzipDecoder` with a small `max_body_size`: never more output than the
//! limit, never a panic.
//!
//! Input layout: byte 0 is `max_body_size`; byte 1 picks the mode (even:
//! the rest is fed to the decoder as it is; odd: the rest is gzipped first,
//! so the decoder sees valid streams and must give them back exactly, or a
//! 413 when they are too big) and, in its upper bits, the size of the
//! pieces the input is fed in.

#![no_main]

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use libfuzzer_sys::fuzz_target;
use tornado_httpserver::http1connection::GzipDecoder;

fuzz_target!(|data: &[u8]| {
    let [max, mode, rest @ ..] = data else { return };
    let max = u64::from(*max);
    let piece = usize::from(mode >> 1) + 1;
    if mode % 2 == 0 {
        let (out, result) = decode(max, rest, piece);
        assert!(out.len() as u64 <= max);
        if let Err(err) = result {
            assert!(err.is_bad_request() || err.is_body_too_large(), "{err}");
        }
    } else {
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        let compressed = enc
            .write_all(rest)
            .and_then(|()| enc.try_finish())
            .map(|()| enc.get_ref().clone());
        let Ok(compressed) = compressed else { return };
        let (out, result) = decode(max, &compressed, piece);
        assert!(out.len() as u64 <= max);
        if rest.len() as u64 <= max {
            assert_eq!(result, Ok(()));
            assert_eq!(out, rest);
        } else {
            assert!(result.is_err_and(|e| e.is_body_too_large()));
            assert!(rest.starts_with(&out));
        }
    }
});

/// Feeds `input` in pieces of `piece` bytes, then finishes; returns what
/// came out and the first error.
fn decode(
    max: u64,
    input: &[u8],
    piece: usize,
) -> (Vec<u8>, Result<(), tornado_httpserver::ParseError>) {
    let mut dec = GzipDecoder::new(max);
    let mut out = Vec::new();
    for chunk in input.chunks(piece) {
        if let Err(err) = dec.decompress(chunk, &mut out) {
            assert!(dec.decompressed_len() <= max || err.is_body_too_large());
            return (out, Err(err));
        }
        assert!(dec.decompressed_len() <= max);
    }
    let result = dec.finish(&mut out);
    (out, result)
}
