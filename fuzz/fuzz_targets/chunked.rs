//! `ChunkedDecoder` fed a body whole and split at points the input chooses:
//! both must give the same body, the same end and the same error, never
//! more than `max_body_size` bytes, and never a panic.
//!
//! Input layout: byte 0 is `max_body_size`, byte 1 the number `n` of
//! splits (mod 16), the next `n` bytes the lengths of the first pieces;
//! the rest is the chunked body.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tornado_httpserver::ParseError;
use tornado_httpserver::http1connection::ChunkedDecoder;

/// What decoding one body gave.
#[derive(Debug, PartialEq)]
struct Outcome {
    body: Vec<u8>,
    end: End,
}

/// How decoding one body ended.
#[derive(Debug, PartialEq)]
enum End {
    /// The body is complete after this many bytes of the input.
    Done(usize),
    /// The input ran out first.
    NeedMore,
    Failed(ParseError),
}

fuzz_target!(|data: &[u8]| {
    let [max, n, rest @ ..] = data else { return };
    let n = usize::from(*n % 16).min(rest.len());
    let (pieces, body) = rest.split_at(n);
    let max = u64::from(*max);

    let whole = decode(max, body, &[]);
    let split = decode(max, body, pieces);
    assert!(whole.body.len() as u64 <= max, "{whole:?}");
    assert_eq!(whole, split, "split at {pieces:?}");
});

/// Feeds `input` as a connection would see it arrive: in pieces of the
/// given lengths, then the rest; unused bytes stay in the buffer and the
/// next piece is appended to them.
fn decode(max: u64, input: &[u8], pieces: &[u8]) -> Outcome {
    let mut dec = ChunkedDecoder::new(max);
    let mut out = Outcome {
        body: Vec::new(),
        end: End::NeedMore,
    };
    let mut consumed = 0;
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut lengths = pieces.iter().map(|&p| usize::from(p));
    while fed < input.len() {
        let len = lengths.next().unwrap_or(input.len()).min(input.len() - fed);
        buf.extend_from_slice(&input[fed..fed + len]);
        fed += len;
        loop {
            let step = match dec.decode(&buf) {
                Ok(step) => step,
                Err(err) => {
                    out.end = End::Failed(err);
                    return out;
                }
            };
            assert!(step.consumed <= buf.len());
            assert!(step.data.end <= step.consumed);
            out.body.extend_from_slice(&buf[step.data.clone()]);
            assert!(out.body.len() as u64 <= max);
            assert!(out.body.len() as u64 <= dec.total());
            buf.drain(..step.consumed);
            consumed += step.consumed;
            if step.done {
                assert!(dec.is_done());
                out.end = End::Done(consumed);
                return out;
            }
            if step.consumed == 0 || buf.is_empty() {
                break;
            }
        }
    }
    out
}
