//! permessage-deflate's decompressor on arbitrary bytes: it never panics and never
//! gives more than the limit (a compression bomb is an error, not an allocation); a
//! message compressed by our compressor comes back as it was.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tornado_web::websocket::deflate::DeflateParams;

fuzz_target!(|data: &[u8]| {
    let Some((&options, input)) = data.split_first() else {
        return;
    };
    let params = DeflateParams {
        server_no_context_takeover: options & 1 != 0,
        client_no_context_takeover: options & 2 != 0,
        server_max_window_bits: 9 + (options >> 2 & 7).min(6),
        client_max_window_bits: 9 + (options >> 5).min(6),
    };
    let limit = 64 * 1024;
    // Arbitrary bytes as a compressed message, twice (the context carries over).
    let mut inflater = params.decompressor(true);
    for _ in 0..2 {
        match inflater.decompress(input, limit) {
            Ok(out) => assert!(out.len() <= limit, "{} bytes out, limit {limit}", out.len()),
            Err(_) => break,
        }
    }
    // Our own compression of the bytes round-trips, message after message.
    let mut deflater = params.compressor(false, u32::from(options % 10));
    let mut inflater = params.decompressor(true);
    for _ in 0..2 {
        let mut packed = Vec::new();
        deflater.compress(input, &mut packed);
        let back = inflater
            .decompress(&packed, input.len().max(1))
            .expect("our own compressed message decompresses");
        assert_eq!(back, input);
    }
});
