//! `parse_request_head` on arbitrary bytes, with the default limits and
//! with small ones. It must never panic, and what it accepts must respect
//! the limits and parse the same from the head alone.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tornado_httpserver::http1connection::{
    BodyKind, Http1ConnectionParameters, Parsed, parse_request_head, parse_request_layout,
};

fuzz_target!(|data: &[u8]| {
    let small = Http1ConnectionParameters {
        max_header_size: 96,
        max_request_target: 16,
        max_body_size: 10,
        ..Default::default()
    };
    // A limit that falls inside this very input, to reach the edge cases.
    let edge = Http1ConnectionParameters {
        max_header_size: data.len() / 2,
        max_request_target: data.len() / 4,
        max_body_size: data.len() as u64,
        ..Default::default()
    };
    for params in [Http1ConnectionParameters::default(), small, edge] {
        check(data, &params);
    }
});

fn check(data: &[u8], params: &Http1ConnectionParameters) {
    // Blank lines before the request line do not count toward the head's size.
    let blanks = data
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    match parse_request_head(data, params) {
        Ok(Parsed::Complete(head)) => {
            assert!(head.head_len <= data.len());
            assert!(head.head_len - blanks <= params.max_header_size);
            assert!(head.uri().len() <= params.max_request_target);
            // Parsed in place and attached to its bytes, the same head.
            match parse_request_layout(data, params) {
                Ok(Parsed::Complete(layout)) => {
                    let raw = bytes::Bytes::copy_from_slice(&data[..layout.head_len]);
                    let viewed = layout.attach(raw);
                    assert_eq!(viewed, head);
                    for (name, value) in viewed.headers().iter() {
                        assert_eq!(head.headers().get(name).is_some(), true);
                        let _ = value.len();
                    }
                    let _ = (viewed.path(), viewed.query(), viewed.method());
                }
                other => panic!("in place: {other:?}"),
            }
            // `max_body_size` is not the head's to check: the connection holds a
            // `Content-Length` to it when the body starts, after the delegate may
            // have changed it for this request (`fuzz_targets/server_connection.rs`).
            if let BodyKind::Length(n) = head.body {
                assert!(n > 0);
            }
            // The head alone parses to the same head: nothing after it
            // (body or next request) changed how it was read.
            match parse_request_head(&data[..head.head_len], params) {
                Ok(Parsed::Complete(again)) => assert_eq!(again, head),
                other => panic!("the head alone parsed as {other:?}"),
            }
        }
        Ok(Parsed::Partial) => {
            assert!(data.len() - blanks <= params.max_header_size);
            // Blank lines alone beyond the limit are refused as a flood.
            assert!(blanks < data.len() || data.len() <= params.max_header_size);
        }
        Err(err) => {
            let status = err.status().as_u16();
            assert!(
                matches!(status, 400 | 413 | 414 | 431 | 501 | 505),
                "unexpected status {status}: {err}"
            );
        }
    }
}
