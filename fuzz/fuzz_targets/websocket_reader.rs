//! The WebSocket message reader (server side) on arbitrary bytes, with and without
//! permessage-deflate: it never panics, never uses more input than it was given,
//! never hands out a message over the size limit or text that is not UTF-8, and reads
//! the same things whether the bytes come whole or in pieces.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tornado_web::websocket::deflate::DeflateParams;
use tornado_web::websocket::reader::Incoming;
use tornado_web::websocket::{Message, MessageReader};

/// Everything the reader yields for `input` fed in pieces of `piece` bytes (0: whole),
/// up to its first error (kept as its close code).
fn read_all(mut reader: MessageReader, input: &[u8], piece: usize) -> (Vec<Incoming>, Option<u16>) {
    let mut out = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let pieces: Vec<&[u8]> = if piece == 0 { vec![input] } else { input.chunks(piece).collect() };
    for p in pieces {
        pending.extend_from_slice(p);
        loop {
            match reader.read(&pending) {
                Ok((used, got)) => {
                    assert!(used <= pending.len());
                    pending.drain(..used);
                    match got {
                        Some(incoming) => out.push(incoming),
                        None => break,
                    }
                }
                Err(e) => return (out, Some(e.close_code())),
            }
        }
    }
    (out, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&options, input)) = data.split_first() else {
        return;
    };
    let max = 1usize << (6 + (options & 7)); // 64 bytes to 8 KiB
    let params = (options & 8 != 0).then(|| DeflateParams {
        server_no_context_takeover: options & 16 != 0,
        client_no_context_takeover: options & 32 != 0,
        server_max_window_bits: 15,
        client_max_window_bits: if options & 64 != 0 { 9 } else { 15 },
    });
    let make = || MessageReader::server(max, params.map(|p| p.decompressor(true)));
    let piece = usize::from(options >> 7) * 7; // whole, or pieces of 7 bytes
    let (whole, whole_err) = read_all(make(), input, 0);
    for incoming in &whole {
        if let Incoming::Message(m) = incoming {
            let len = match m {
                Message::Text(t) => t.len(),
                Message::Binary(b) => b.len(),
            };
            assert!(len <= max, "a message of {len} bytes passed a limit of {max}");
        }
    }
    if piece > 0 {
        let (split, split_err) = read_all(make(), input, piece);
        assert_eq!(whole, split, "whole and split reads differ");
        assert_eq!(whole_err, split_err);
    }
});
