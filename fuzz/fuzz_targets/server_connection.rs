//! `ServerConnection`, the server role, driven as the socket code drives it: bytes
//! arrive in pieces the input chooses, every request is answered (a small body, a
//! chunked one, or none), and errors are answered with their status. It must never
//! panic, never hand out more body than `max_body_size`, never parse a request before
//! the previous response is finished, and the same input split differently must give
//! the same events (except that bad bytes in a head still arriving may be reported
//! later).
//!
//! Input layout: byte 0 holds flags (decompress, small limits, answer mode), byte 1
//! the number `n` of splits (mod 16), the next `n` bytes the lengths of the first
//! pieces; the rest is what the client sent.

#![no_main]

use bytes::BytesMut;
use http::StatusCode;
use libfuzzer_sys::fuzz_target;
use tornado_httpserver::http1connection::{
    Http1ConnectionParameters, ServerConnection, ServerEvent,
};
use tornado_httpserver::httputil::HttpHeaders;

const DATE: &str = "Thu, 01 Jan 1970 00:00:00 GMT";

/// What the delegate saw, in order.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Head(String, String),
    Body(Vec<u8>),
    End,
    Error(u16),
}

fuzz_target!(|data: &[u8]| {
    let [flags, n, rest @ ..] = data else { return };
    let n = usize::from(*n % 16).min(rest.len());
    let (pieces, input) = rest.split_at(n);
    let mut params = Http1ConnectionParameters {
        decompress: flags & 1 != 0,
        ..Default::default()
    };
    if flags & 2 != 0 {
        params.max_body_size = 64;
        params.max_header_size = 256;
        params.max_request_target = 64;
        params.chunk_size = 7;
    }
    let answer = (flags >> 2) % 3;
    let whole = run(input, &[], &params, answer);
    let split = run(input, pieces, &params, answer);
    // A head arriving in pieces is parsed again only once its end may have come (the
    // driver's scan), so bad bytes in an unfinished head can be reported later than
    // when the head arrives whole; never earlier, and nothing else may differ.
    // When a head breaks two rules (a long target and a bad header line), which one
    // is seen first can depend on how much of it had arrived: both are refusals.
    let refusal = |s: &[Seen]| match s.split_last() {
        Some((Seen::Error(_), rest)) => Some(rest.to_vec()),
        _ => None,
    };
    if whole != split {
        let same_refusal =
            matches!((refusal(&whole), refusal(&split)), (Some(a), Some(b)) if a == b);
        let reported_later =
            matches!(whole.last(), Some(Seen::Error(_))) && whole.starts_with(&split);
        assert!(
            same_refusal || reported_later,
            "split at {pieces:?}: {whole:?} vs {split:?}"
        );
    }
});

fn run(input: &[u8], pieces: &[u8], params: &Http1ConnectionParameters, answer: u8) -> Vec<Seen> {
    let mut conn = ServerConnection::new();
    let mut buf = BytesMut::new();
    let mut out = BytesMut::new();
    let mut seen: Vec<Seen> = Vec::new();
    let mut body = Vec::new();
    let mut fed = 0;
    let mut piece = pieces.iter();
    loop {
        match conn.poll(&mut buf, params) {
            Ok(Some(ServerEvent::Head(head))) => {
                seen.push(Seen::Head(
                    head.method().to_string(),
                    head.uri().to_string(),
                ));
                body.clear();
                if let Err(e) = conn.accept_body(&mut out) {
                    return refused(&mut conn, &mut out, seen, &e);
                }
            }
            Ok(Some(ServerEvent::Data(d))) => {
                assert!(d.len() <= params.chunk_size.max(1));
                body.extend_from_slice(&d);
                assert!(body.len() as u64 <= params.max_body_size);
            }
            Ok(Some(ServerEvent::End)) => {
                assert!(!conn.wants_input(), "nothing is read before the response");
                seen.push(Seen::Body(std::mem::take(&mut body)));
                seen.push(Seen::End);
                let headers = HttpHeaders::new();
                let reply: &[u8] = b"hello";
                let written = match answer {
                    0 => conn.write_head(StatusCode::OK, &headers, Some(5), DATE, &mut out),
                    1 => conn.write_head(StatusCode::OK, &headers, None, DATE, &mut out),
                    _ => conn.write_head(StatusCode::NO_CONTENT, &headers, Some(0), DATE, &mut out),
                };
                written.expect("a plain response head is always valid");
                if conn.body_allowed() {
                    conn.write_body(reply, &mut out).expect("body");
                }
                conn.finish(&mut out).expect("finish");
                if !conn.reads_next_request() {
                    return seen;
                }
            }
            Ok(None) => {
                if fed >= input.len() {
                    return seen;
                }
                let len = piece
                    .next()
                    .map_or(input.len() - fed, |&p| usize::from(p).max(1));
                let end = (fed + len).min(input.len());
                buf.extend_from_slice(&input[fed..end]);
                fed = end;
            }
            Err(e) => return refused(&mut conn, &mut out, seen, &e),
        }
    }
}

/// Answers a request that could not be read; the connection reads nothing more.
fn refused(
    conn: &mut ServerConnection,
    out: &mut BytesMut,
    mut seen: Vec<Seen>,
    e: &tornado_httpserver::ParseError,
) -> Vec<Seen> {
    let status = e.status();
    assert!(status.is_client_error() || status.is_server_error(), "{e}");
    conn.write_error(status, out);
    assert!(conn.must_close());
    assert!(!conn.wants_input());
    seen.push(Seen::Error(status.as_u16()));
    seen
}
