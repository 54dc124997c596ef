//! `ClientConnection`, the client role: a request (GET, HEAD or POST with a body;
//! `Expect: 100-continue` or not) is written, then whatever the server sent is fed in
//! pieces the input chooses, then the end of the stream. It must never panic, never
//! hand out more body than `max_body_size`, and the same bytes split differently must
//! give the same events (adjacent body pieces joined; before an error, one body may
//! be cut shorter) and the same reuse decision.
//!
//! Input layout: byte 0 holds flags (method, decompress, small limits, expect), byte 1
//! the number `n` of splits (mod 16), the next `n` bytes the lengths of the first
//! pieces; the rest is what the server sent.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tornado_httpserver::http1connection::{
    ClientConnection, ClientEvent, Http1ClientParameters, RequestBody,
};
use tornado_httpserver::httputil::HttpHeaders;

#[derive(Debug, PartialEq)]
enum Seen {
    Informational(u16),
    Continue,
    Head(u16, String),
    Body(Vec<u8>),
    End,
    Error,
}

fuzz_target!(|data: &[u8]| {
    let [flags, n, rest @ ..] = data else { return };
    let n = usize::from(*n % 16).min(rest.len());
    let (pieces, input) = rest.split_at(n);
    let whole = run(*flags, input, &[]);
    let split = run(*flags, input, pieces);
    assert_eq!(whole.1, split.1, "reuse differs when split at {pieces:?}");
    if whole.0 == split.0 {
        return;
    }
    // Up to an error, how much body came out depends on where the piece that broke a
    // limit was cut; the events before it, and the error, must agree.
    let (a, b) = (&whole.0, &split.0);
    assert!(
        a.last() == Some(&Seen::Error) && b.last() == Some(&Seen::Error) && a.len() == b.len(),
        "split at {pieces:?}: {a:?} vs {b:?}"
    );
    for (x, y) in a.iter().zip(b) {
        match (x, y) {
            (Seen::Body(p), Seen::Body(q)) => {
                assert!(p.starts_with(q) || q.starts_with(p), "split at {pieces:?}")
            }
            _ => assert_eq!(x, y, "split at {pieces:?}"),
        }
    }
});

fn push(seen: &mut Vec<Seen>, event: ClientEvent) {
    match event {
        ClientEvent::Informational(h) => seen.push(Seen::Informational(h.status.as_u16())),
        ClientEvent::Continue(_) => seen.push(Seen::Continue),
        ClientEvent::Head(h) => seen.push(Seen::Head(h.status.as_u16(), h.reason)),
        ClientEvent::Data(d) => match seen.last_mut() {
            Some(Seen::Body(b)) => b.extend_from_slice(&d),
            _ => seen.push(Seen::Body(d.to_vec())),
        },
        ClientEvent::End => seen.push(Seen::End),
    }
}

fn run(flags: u8, input: &[u8], pieces: &[u8]) -> (Vec<Seen>, bool) {
    let mut params = Http1ClientParameters {
        decompress: flags & 4 != 0,
        ..Default::default()
    };
    if flags & 8 != 0 {
        params.max_body_size = 64;
        params.max_header_size = 256;
        params.chunk_size = 7;
    }
    let max_body = params.max_body_size;
    let mut conn = ClientConnection::new(params);
    let mut out = BytesMut::new();
    let mut headers = HttpHeaders::new();
    if flags & 16 != 0 {
        headers.set("Expect", "100-continue");
    }
    let (method, body) = match flags % 3 {
        0 => ("GET", RequestBody::None),
        1 => ("HEAD", RequestBody::None),
        _ => ("POST", RequestBody::Length(3)),
    };
    conn.write_request(method, "/", "h", &headers, body, &mut out)
        .expect("a plain request is always valid");
    let mut seen = Vec::new();
    let mut buf = BytesMut::new();
    let mut fed = 0;
    let mut piece = pieces.iter();
    let mut total = 0u64;
    loop {
        if method == "POST" && conn.body_allowed() {
            let _ = conn.write_body(b"abc", &mut out);
            let _ = conn.finish_request(&mut out);
        }
        match conn.poll(&mut buf) {
            Ok(Some(event)) => {
                if let ClientEvent::Data(d) = &event {
                    total += d.len() as u64;
                    assert!(total <= max_body);
                }
                push(&mut seen, event);
            }
            Ok(None) => {
                if fed >= input.len() {
                    break;
                }
                let len = piece
                    .next()
                    .map_or(input.len() - fed, |&p| usize::from(p).max(1));
                let end = (fed + len).min(input.len());
                buf.extend_from_slice(&input[fed..end]);
                fed = end;
            }
            Err(_) => {
                seen.push(Seen::Error);
                return (seen, conn.may_reuse());
            }
        }
    }
    loop {
        match conn.on_eof() {
            Ok(Some(event)) => push(&mut seen, event),
            Ok(None) => break,
            Err(_) => {
                seen.push(Seen::Error);
                break;
            }
        }
    }
    (seen, conn.may_reuse())
}
