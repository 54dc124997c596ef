//! Table-driven tests of the client role: requests encoded, responses fed
//! as bytes (whole and one byte at a time), events compared.

use std::io::Write;

use bytes::BytesMut;
use flate2::Compression;
use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
use http::Method;

use super::*;
use crate::OutputErrorKind;
use crate::httputil::HttpHeaders;

/// An event with the body pieces merged, so runs that received the bytes in
/// different splits compare equal.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Info(u16),
    Continue,
    Head(u16, String, Vec<(String, String)>),
    Body(Vec<u8>),
    End,
}

fn push(events: &mut Vec<Ev>, event: ClientEvent, chunk_size: usize) {
    let ev = match event {
        ClientEvent::Informational(h) => Ev::Info(h.status.as_u16()),
        ClientEvent::Continue(h) => {
            assert_eq!(h.status.as_u16(), 100);
            Ev::Continue
        }
        ClientEvent::Head(h) => Ev::Head(
            h.status.as_u16(),
            h.reason.clone(),
            h.headers
                .iter()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect(),
        ),
        ClientEvent::Data(data) => {
            assert!(!data.is_empty(), "empty Data event");
            assert!(data.len() <= chunk_size, "{} > chunk_size", data.len());
            if let Some(Ev::Body(body)) = events.last_mut() {
                body.extend_from_slice(&data);
                return;
            }
            Ev::Body(data.to_vec())
        }
        ClientEvent::End => Ev::End,
    };
    events.push(ev);
}

/// What a run saw.
struct Run {
    events: Vec<Ev>,
    error: Option<ClientError>,
    conn: ClientConnection,
    left: BytesMut,
}

/// Feeds `raw` in pieces of `step` bytes to `conn`, polling after each
/// piece, then (with `eof`) reports the end of the connection.
fn feed(mut conn: ClientConnection, raw: &[u8], step: usize, eof: bool) -> Run {
    let chunk_size = conn.params().chunk_size;
    let mut events = Vec::new();
    let mut buf = BytesMut::new();
    let mut fed = 0;
    let error = loop {
        match conn.poll(&mut buf) {
            Ok(Some(event)) => push(&mut events, event, chunk_size),
            Ok(None) if fed < raw.len() => {
                let end = (fed + step).min(raw.len());
                buf.extend_from_slice(&raw[fed..end]);
                fed = end;
            }
            Ok(None) if eof => match conn.on_eof() {
                Ok(Some(event)) => push(&mut events, event, chunk_size),
                Ok(None) => break None,
                Err(e) => break Some(e),
            },
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    if let Some(e) = &error {
        // A failed connection stays failed, with the same error.
        assert_eq!(
            conn.poll(&mut BytesMut::from(&b"HTTP/1.1 200 OK\r\n\r\n"[..]))
                .as_ref(),
            Err(e)
        );
        assert!(!conn.may_reuse());
        assert!(!e.message().is_empty());
    }
    Run {
        events,
        error,
        conn,
        left: buf,
    }
}

fn sent(method: &str, params: Http1ClientParameters) -> ClientConnection {
    let mut conn = ClientConnection::new(params);
    let mut out = BytesMut::new();
    conn.write_request(
        method,
        "/",
        "h",
        &HttpHeaders::new(),
        RequestBody::None,
        &mut out,
    )
    .unwrap();
    conn
}

/// Runs `raw` whole and one byte at a time; both must agree.
fn both(method: &str, params: &Http1ClientParameters, raw: &[u8], eof: bool) -> Run {
    let whole = feed(sent(method, params.clone()), raw, raw.len().max(1), eof);
    let bytewise = feed(sent(method, params.clone()), raw, 1, eof);
    let name = String::from_utf8_lossy(raw);
    assert_eq!(
        whole.error.as_ref().map(ClientError::kind),
        bytewise.error.as_ref().map(ClientError::kind),
        "{name:?}"
    );
    assert_eq!(
        whole.conn.may_reuse(),
        bytewise.conn.may_reuse(),
        "{name:?}"
    );
    if whole.error.is_none() {
        assert_eq!(whole.events, bytewise.events, "{name:?}");
        assert_eq!(whole.left, bytewise.left, "{name:?}");
    } else {
        // How much of a body decodes before an error in it depends on where
        // the bytes were split; the rest must agree.
        let (a, b) = (without_body(&whole.events), without_body(&bytewise.events));
        assert_eq!(a, b, "{name:?}");
        let (a, b) = (body_of(&whole), body_of(&bytewise));
        assert!(a.starts_with(&b) || b.starts_with(&a), "{name:?}");
    }
    whole
}

fn without_body(events: &[Ev]) -> Vec<Ev> {
    events
        .iter()
        .filter(|e| !matches!(e, Ev::Body(_)))
        .cloned()
        .collect()
}

fn head_status(run: &Run) -> Option<u16> {
    run.events.iter().find_map(|e| match e {
        Ev::Head(status, ..) => Some(*status),
        _ => None,
    })
}

fn body_of(run: &Run) -> Vec<u8> {
    run.events
        .iter()
        .find_map(|e| match e {
            Ev::Body(b) => Some(b.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

#[test]
fn framing_rows() {
    // (name, request method, response, body, may reuse after, needs EOF to end)
    #[rustfmt::skip]
    let rows: &[(&str, &str, &str, &str, bool, bool)] = &[
        ("length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "hello", true, false),
        ("length zero", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "", true, false),
        ("repeated equal length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello", "hello", true, false),
        ("equal length lines", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\nhello", "hello", true, false),
        ("chunked", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", true, false),
        ("chunked extensions and trailers", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nX-T: 1\r\n\r\n", "hello", true, false),
        ("chunked empty", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "", true, false),
        ("until close", "GET", "HTTP/1.1 200 OK\r\n\r\nhello", "hello", false, true),
        ("until close, empty", "GET", "HTTP/1.1 200 OK\r\n\r\n", "", false, true),
        ("1.0 until close", "GET", "HTTP/1.0 200 OK\r\n\r\nhello", "hello", false, true),
        ("1.0 length", "GET", "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello", "hello", false, false),
        ("1.0 keep-alive", "GET", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 5\r\n\r\nhello", "hello", true, false),
        ("1.0 chunked is faulty framing", "GET", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", "hi", false, false),
        ("connection close", "GET", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello", "hello", false, false),
        ("connection close in a list", "GET", "HTTP/1.1 200 OK\r\nConnection: x-foo, Close\r\nContent-Length: 0\r\n\r\n", "", false, false),
        ("HEAD with length", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "", true, false),
        ("HEAD with chunked", "HEAD", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "", true, false),
        ("204", "GET", "HTTP/1.1 204 No Content\r\n\r\n", "", true, false),
        ("204 with length 0", "DELETE", "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", "", true, false),
        ("204 claiming a body", "GET", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", "", false, false),
        ("204 claiming chunks", "GET", "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n", "", false, false),
        ("304 with length", "GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n", "", true, false),
        ("empty reason", "GET", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", "", true, false),
        ("no reason", "GET", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", "", true, false),
        ("blank lines first", "GET", "\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "ok", true, false),
        ("bare LF", "GET", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", "ok", true, false),
        ("unknown status", "GET", "HTTP/1.1 599 Whatever\r\nContent-Length: 2\r\n\r\nok", "ok", true, false),
        ("error status", "POST", "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\nno", "no", true, false),
        ("CONNECT refused", "CONNECT", "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 2\r\n\r\nno", "no", true, false),
    ];
    let params = Http1ClientParameters::default();
    for (name, method, raw, body, reuse, eof) in rows {
        let run = both(method, &params, raw.as_bytes(), *eof);
        assert_eq!(run.error, None, "{name}");
        assert!(
            matches!(run.events.first(), Some(Ev::Head(..))),
            "{name}: {:?}",
            run.events
        );
        assert_eq!(run.events.last(), Some(&Ev::End), "{name}");
        assert_eq!(body_of(&run), body.as_bytes(), "{name}");
        assert_eq!(run.conn.may_reuse(), *reuse, "{name}");
        assert!(run.left.is_empty(), "{name}");
        if !*eof && *reuse {
            // The end came from the framing, not the close.
            let run = both(method, &params, raw.as_bytes(), false);
            assert_eq!(run.events.last(), Some(&Ev::End), "{name}");
        }
        if *eof {
            let run = both(method, &params, raw.as_bytes(), false);
            assert_ne!(
                run.events.last(),
                Some(&Ev::End),
                "{name}: ended without EOF"
            );
        }
    }
}

#[test]
fn heads_are_parsed_in_full() {
    let raw = b"HTTP/1.1 404 Not  Found\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Empty:\r\nX-Space:   v  \r\nContent-Length: 0\r\n\r\n";
    let run = both("GET", &Http1ClientParameters::default(), raw, false);
    let Some(Ev::Head(404, reason, headers)) = run.events.first() else {
        panic!("{:?}", run.events)
    };
    assert_eq!(reason, "Not  Found");
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("Content-Type", "text/plain"),
            ("Set-Cookie", "a=1"),
            ("Set-Cookie", "b=2"),
            ("X-Empty", ""),
            ("X-Space", "v"),
            ("Content-Length", "0"),
        ]
    );
    // A reason with Latin-1 bytes is kept, decoded.
    let run = both(
        "GET",
        &Http1ClientParameters::default(),
        b"HTTP/1.0 200 \xe9t\xe9\r\nContent-Length: 0\r\n\r\n",
        false,
    );
    let Some(Ev::Head(200, reason, _)) = run.events.first() else {
        panic!("{:?}", run.events)
    };
    assert_eq!(reason, "\u{e9}t\u{e9}");
}

/// A response head is limited by its size only, as in Tornado: more header lines than a
/// request may have (150 `Set-Cookie`) are read when the head fits `max_header_size`.
#[test]
fn many_header_lines_within_the_size_are_read() {
    let cookies: String = (0..150)
        .map(|i| format!("Set-Cookie: c{i}=v\r\n"))
        .collect();
    let raw = format!("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n{cookies}\r\nok");
    const { assert!(150 > MAX_HEADERS) };
    let run = both(
        "GET",
        &Http1ClientParameters::default(),
        raw.as_bytes(),
        false,
    );
    assert!(run.error.is_none(), "{:?}", run.error);
    let Some(Ev::Head(200, _, headers)) = run.events.first() else {
        panic!("{:?}", run.events)
    };
    assert_eq!(headers.len(), 151);
    assert_eq!(headers[150], ("Set-Cookie".to_owned(), "c149=v".to_owned()));
    assert_eq!(body_of(&run), b"ok");
}

#[test]
fn folded_header_lines_are_unfolded() {
    // RFC 9112 section 5.2: a user agent replaces each obs-fold with a
    // space (Tornado's test_multi_line_headers).
    let raw = b"HTTP/1.1 200 OK\r\nX-XSS-Protection: 1;\r\n\tmode=block\r\nX-Long: a \r\n  b\r\n c\r\nContent-Length: 2\r\n\r\nok";
    let run = both("GET", &Http1ClientParameters::default(), raw, false);
    assert!(run.error.is_none(), "{:?}", run.error);
    let Some(Ev::Head(200, _, headers)) = run.events.first() else {
        panic!("{:?}", run.events)
    };
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("X-XSS-Protection", "1; mode=block"),
            ("X-Long", "a b c"),
            ("Content-Length", "2"),
        ]
    );
    assert_eq!(body_of(&run), b"ok");
    assert!(run.conn.may_reuse());
    // A folded framing header is checked as unfolded.
    let run = both(
        "GET",
        &Http1ClientParameters::default(),
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n 3\r\n\r\nabc",
        false,
    );
    assert!(run.error.unwrap().is_parse());
}

#[test]
fn bad_responses() {
    use ClientErrorKind::*;
    let params = Http1ClientParameters {
        max_header_size: 1024,
        max_body_size: 100,
        ..Http1ClientParameters::default()
    };
    let big_head = format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "v".repeat(1024));
    let big_partial = format!("HTTP/1.1 200 OK\r\nX: {}", "v".repeat(1024));
    let many = format!("HTTP/1.1 200 OK\r\n{}\r\n", "X: 1\r\n".repeat(200));
    let many_1xx = "HTTP/1.1 102 Processing\r\n\r\n".repeat(MAX_INFORMATIONAL_RESPONSES + 1);
    let big_chunk = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n".to_string();
    let big_stream = format!("HTTP/1.1 200 OK\r\n\r\n{}", "x".repeat(101));
    let blank_flood = "\r\n".repeat(1025);
    let long_trailer = format!(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: {}\r\n\r\n",
        "t".repeat(MAX_TRAILER_SIZE)
    );
    // (name, response, EOF after it, what is wrong, a Head comes first)
    #[rustfmt::skip]
    let rows: Vec<(&str, &str, bool, ClientErrorKind, bool)> = vec![
        ("HTTP/2", "HTTP/2.0 200 OK\r\n\r\n", false, Parse, false),
        ("HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n", false, Parse, false),
        ("HTTP/0.9", "hello world\r\n\r\n", false, Parse, false),
        ("lowercase version", "http/1.1 200 OK\r\n\r\n", false, Parse, false),
        ("ICY", "ICY 200 OK\r\n\r\n", false, Parse, false),
        ("two-digit status", "HTTP/1.1 20 OK\r\n\r\n", false, Parse, false),
        ("four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", false, Parse, false),
        ("status below 100", "HTTP/1.1 099 Low\r\n\r\n", false, Parse, false),
        ("letters in status", "HTTP/1.1 2x0 OK\r\n\r\n", false, Parse, false),
        ("two spaces before status", "HTTP/1.1  200 OK\r\n\r\n", false, Parse, false),
        ("control char in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", false, Parse, false),
        ("first header folded", "HTTP/1.1 200 OK\r\n X: a\r\n\r\n", false, Parse, false),
        ("first header folded, tab", "HTTP/1.1 200 OK\r\n\tX: a\r\nContent-Length: 0\r\n\r\n", false, Parse, false),
        ("space in name", "HTTP/1.1 200 OK\r\nX Y: z\r\n\r\n", false, Parse, false),
        ("space before colon", "HTTP/1.1 200 OK\r\nX : z\r\n\r\n", false, Parse, false),
        ("bad name char", "HTTP/1.1 200 OK\r\n(x): z\r\n\r\n", false, Parse, false),
        ("no colon", "HTTP/1.1 200 OK\r\nnocolon\r\n\r\n", false, Parse, false),
        ("bare CR in value", "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", false, Parse, false),
        ("NUL in value", "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n", false, Parse, false),
        ("CL and TE", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", false, Parse, false),
        ("TE and CL", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n", false, Parse, false),
        ("unequal CL", "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", false, Parse, false),
        ("unequal CL lines", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", false, Parse, false),
        ("CL alpha", "HTTP/1.1 200 OK\r\nContent-Length: five\r\n\r\n", false, Parse, false),
        ("CL plus", "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", false, Parse, false),
        ("CL minus", "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n", false, Parse, false),
        ("CL hex", "HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\n", false, Parse, false),
        ("CL empty", "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", false, Parse, false),
        ("CL inner space", "HTTP/1.1 200 OK\r\nContent-Length: 1 0\r\n\r\n", false, Parse, false),
        ("TE gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false, Parse, false),
        ("TE gzip, chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", false, Parse, false),
        ("TE chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", false, Parse, false),
        ("TE empty element", "HTTP/1.1 200 OK\r\nTransfer-Encoding: , chunked\r\n\r\n", false, Parse, false),
        ("bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, Parse, true),
        ("chunk size 0x", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x2\r\nok\r\n0\r\n\r\n", false, Parse, true),
        ("chunk without CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX0\r\n\r\n", false, Parse, true),
        ("chunk bare LF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nok\r\n0\r\n\r\n", false, Parse, true),
        ("trailer too large", &long_trailer, false, HeaderTooLarge, true),
        ("1xx with length", "HTTP/1.1 103 Early Hints\r\nContent-Length: 0\r\n\r\n", false, Parse, false),
        ("1xx with chunked", "HTTP/1.1 100 Continue\r\nTransfer-Encoding: chunked\r\n\r\n", false, Parse, false),
        ("too many 1xx", &many_1xx, false, Parse, false),
        ("head too large", &big_head, false, HeaderTooLarge, false),
        ("partial head too large", &big_partial, false, HeaderTooLarge, false),
        ("blank-line flood", &blank_flood, false, HeaderTooLarge, false),
        ("many header lines past the size", &many, false, HeaderTooLarge, false),
        ("CL above limit", "HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n", false, BodyTooLarge, true),
        ("CL overflows", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", false, BodyTooLarge, true),
        ("chunk above limit", &big_chunk, false, BodyTooLarge, true),
        ("stream above limit", &big_stream, true, BodyTooLarge, true),
        ("EOF before anything", "", true, ClosedEarly, false),
        ("EOF in status line", "HTTP/1.1 200", true, ClosedEarly, false),
        ("EOF in head", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", true, ClosedEarly, false),
        ("EOF in length body", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", true, ClosedEarly, true),
        ("EOF in chunked body", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", true, ClosedEarly, true),
        ("EOF before last chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n", true, ClosedEarly, true),
        ("EOF after interim", "HTTP/1.1 100 Continue\r\n\r\n", true, ClosedEarly, false),
        ("response beyond the request", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", false, Parse, true),
    ];
    for (name, raw, eof, kind, head_first) in rows {
        let run = both("GET", &params, raw.as_bytes(), eof);
        let err = run
            .error
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: accepted: {:?}", run.events));
        assert_eq!(err.kind(), kind, "{name}: {err}");
        assert_eq!(
            head_status(&run).is_some(),
            head_first,
            "{name}: {:?}",
            run.events
        );
        assert!(!run.conn.may_reuse(), "{name}");
    }
}

#[test]
fn error_predicates_and_messages() {
    let params = Http1ClientParameters {
        max_body_size: 4,
        ..Http1ClientParameters::default()
    };
    let run = both(
        "GET",
        &params,
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
        false,
    );
    let err = run.error.unwrap();
    assert!(err.is_body_too_large() && !err.is_parse() && !err.is_closed_early());
    assert_eq!(
        err.to_string(),
        "Content-Length 5 larger than max_body_size 4"
    );

    let run = both(
        "GET",
        &params,
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab",
        true,
    );
    let err = run.error.unwrap();
    assert!(err.is_closed_early() && !err.is_parse());
    assert!(
        err.to_string()
            .contains("connection closed before the response was complete"),
        "{err}"
    );

    let run = both("GET", &params, b"HTTP/1.1 200 OK\r\n X: 1\r\n\r\n", false);
    let err = run.error.unwrap();
    assert!(err.is_parse());
    assert!(err.to_string().contains("whitespace"), "{err}");

    let run = both("GET", &params, b"HTTP/3 200 OK\r\n\r\n", false);
    assert!(run.error.unwrap().to_string().contains("HTTP version"));
}

#[test]
fn interim_responses_come_before_the_final_one() {
    let raw = b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let run = both("GET", &Http1ClientParameters::default(), raw, false);
    assert_eq!(run.events[0], Ev::Info(103));
    assert_eq!(run.events[1], Ev::Info(102));
    assert_eq!(head_status(&run), Some(200));
    assert_eq!(body_of(&run), b"ok");
    assert!(run.conn.may_reuse());
    // 100 with no body waiting is an interim response like the others.
    let run = both(
        "GET",
        &Http1ClientParameters::default(),
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        false,
    );
    assert_eq!(run.events[0], Ev::Info(100));
    assert!(run.conn.may_reuse());
}

#[test]
fn switching_protocols_hands_the_connection_over() {
    let raw = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello";
    let run = both("GET", &Http1ClientParameters::default(), raw, false);
    assert_eq!(head_status(&run), Some(101));
    assert_eq!(run.events.last(), Some(&Ev::End));
    assert!(run.conn.is_upgraded());
    assert!(!run.conn.may_reuse());
    assert_eq!(&run.left[..], b"\x81\x05hello");
    // A tunnel after CONNECT: same.
    let run = both(
        "CONNECT",
        &Http1ClientParameters::default(),
        b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01",
        false,
    );
    assert_eq!(run.events.len(), 2);
    assert!(run.conn.is_upgraded());
    assert_eq!(&run.left[..], b"\x16\x03\x01");
    // An EOF on an upgraded connection is the new protocol's business.
    let mut conn = run.conn;
    assert_eq!(conn.on_eof(), Ok(None));
}

#[test]
fn pipelined_responses_match_their_requests() {
    let mut conn = ClientConnection::default();
    let mut out = BytesMut::new();
    let headers = HttpHeaders::new();
    for method in [Method::GET, Method::HEAD, Method::GET] {
        assert!(conn.can_write_request());
        conn.write_request(&method, "/x", "h", &headers, RequestBody::None, &mut out)
            .unwrap();
    }
    assert_eq!(conn.requests_in_flight(), 3);
    assert!(!conn.may_reuse());
    let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\noneHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nthree\r\n0\r\n\r\n";
    for step in [raw.len(), 1, 7] {
        let mut fresh = ClientConnection::default();
        for method in ["GET", "HEAD", "GET"] {
            fresh
                .write_request(
                    method,
                    "/x",
                    "h",
                    &headers,
                    RequestBody::None,
                    &mut BytesMut::new(),
                )
                .unwrap();
        }
        let run = feed(fresh, raw, step, false);
        assert_eq!(run.error, None);
        let shape: Vec<&Ev> = run
            .events
            .iter()
            .filter(|e| !matches!(e, Ev::Head(..)))
            .collect();
        assert_eq!(
            shape,
            [
                &Ev::Body(b"one".to_vec()),
                &Ev::End,
                &Ev::End,
                &Ev::Body(b"three".to_vec()),
                &Ev::End
            ],
            "step {step}"
        );
        assert_eq!(run.conn.requests_in_flight(), 0);
        assert!(run.conn.may_reuse());
    }
}

#[test]
fn a_closing_response_leaves_pipelined_requests_unanswered() {
    let mut conn = ClientConnection::default();
    let headers = HttpHeaders::new();
    for _ in 0..2 {
        conn.write_request(
            "GET",
            "/",
            "h",
            &headers,
            RequestBody::None,
            &mut BytesMut::new(),
        )
        .unwrap();
    }
    let run = feed(
        conn,
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        1,
        true,
    );
    assert_eq!(run.error, None);
    assert_eq!(run.conn.requests_in_flight(), 1);
    assert!(!run.conn.may_reuse());
    assert!(!run.conn.can_write_request());
}

#[test]
fn a_reused_connection_carries_request_after_request() {
    let mut conn = ClientConnection::default();
    let headers = HttpHeaders::new();
    let mut buf = BytesMut::new();
    for i in 0..3 {
        let mut out = BytesMut::new();
        conn.write_request(
            "POST",
            "/n",
            "h",
            &headers,
            RequestBody::Length(1),
            &mut out,
        )
        .unwrap();
        conn.write_body(b"x", &mut out).unwrap();
        conn.finish_request(&mut out).unwrap();
        assert_eq!(
            &out[..],
            b"POST /n HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx"
        );
        // The next response is already in the buffer, behind this one.
        buf.extend_from_slice(
            format!("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n{i}").as_bytes(),
        );
        let mut events = Vec::new();
        while let Some(event) = conn.poll(&mut buf).unwrap() {
            let end = event == ClientEvent::End;
            push(&mut events, event, usize::MAX);
            if end {
                break;
            }
        }
        assert_eq!(events[1..], [Ev::Body(i.to_string().into_bytes()), Ev::End]);
        assert!(conn.may_reuse());
    }
    // Idle again: a close now is clean.
    assert_eq!(conn.on_eof(), Ok(None));
    assert!(!conn.may_reuse());
}

#[test]
fn bytes_while_idle_are_an_error() {
    let mut conn = ClientConnection::default();
    assert_eq!(conn.poll(&mut BytesMut::new()), Ok(None));
    let err = conn
        .poll(&mut BytesMut::from(
            &b"HTTP/1.1 408 Request Timeout\r\n\r\n"[..],
        ))
        .unwrap_err();
    assert!(err.is_parse(), "{err}");
    assert!(!conn.can_write_request());
}

#[test]
fn body_pieces_are_at_most_chunk_size_and_not_copied() {
    let params = Http1ClientParameters {
        chunk_size: 10,
        ..Http1ClientParameters::default()
    };
    let body = "0123456789".repeat(10) + "abc";
    let rows = [
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
        format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
            body.len()
        ),
        format!("HTTP/1.1 200 OK\r\n\r\n{body}"),
    ];
    for raw in &rows {
        let mut conn = sent("GET", params.clone());
        let mut buf = BytesMut::from(raw.as_bytes());
        let range = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
        let mut got = Vec::new();
        loop {
            match conn.poll(&mut buf).unwrap() {
                Some(ClientEvent::Data(data)) => {
                    assert!(data.len() <= 10);
                    assert!(range.contains(&(data.as_ptr() as usize)), "copied");
                    got.extend_from_slice(&data);
                }
                Some(ClientEvent::End) => break,
                Some(_) => {}
                None => {
                    assert_eq!(conn.on_eof().unwrap(), Some(ClientEvent::End));
                    break;
                }
            }
        }
        assert_eq!(got, body.as_bytes());
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut enc = ZlibEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut enc = DeflateEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// A response with `coding` and `body`, framed by length, chunks (split in
/// 7-byte chunks) or the close.
fn compressed_response(coding: &str, body: &[u8], framing: &str) -> Vec<u8> {
    let mut raw = format!("HTTP/1.1 200 OK\r\nContent-Encoding: {coding}\r\n").into_bytes();
    match framing {
        "length" => {
            raw.extend(format!("Content-Length: {}\r\n\r\n", body.len()).bytes());
            raw.extend_from_slice(body);
        }
        "chunked" => {
            raw.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            for chunk in body.chunks(7) {
                raw.extend(format!("{:x}\r\n", chunk.len()).bytes());
                raw.extend_from_slice(chunk);
                raw.extend_from_slice(b"\r\n");
            }
            raw.extend_from_slice(b"0\r\n\r\n");
        }
        _ => {
            raw.extend_from_slice(b"\r\n");
            raw.extend_from_slice(body);
        }
    }
    raw
}

#[test]
fn compressed_bodies_are_decoded() {
    let text: Vec<u8> = (0..2000u32)
        .flat_map(|i| format!("{i},").into_bytes())
        .collect();
    let params = Http1ClientParameters {
        decompress: true,
        chunk_size: 1000,
        ..Http1ClientParameters::default()
    };
    let codings: [(&str, Vec<u8>); 4] = [
        ("gzip", gzip(&text)),
        ("x-gzip", gzip(&text)),
        ("deflate", zlib(&text)),
        ("Deflate", raw_deflate(&text)),
    ];
    for (coding, compressed) in &codings {
        for framing in ["length", "chunked", "close"] {
            let raw = compressed_response(coding, compressed, framing);
            let run = both("GET", &params, &raw, framing == "close");
            assert_eq!(run.error, None, "{coding} {framing}");
            assert!(body_of(&run) == text, "{coding} {framing}");
            let Some(Ev::Head(_, _, headers)) = run.events.first() else {
                panic!()
            };
            assert!(
                !headers
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case("content-encoding"))
            );
            assert!(
                headers.contains(&("X-Consumed-Content-Encoding".to_owned(), coding.to_string()))
            );
            assert_eq!(
                run.conn.may_reuse(),
                framing != "close",
                "{coding} {framing}"
            );
        }
    }
    // Not decompressing: the bytes as sent, the header as sent.
    let raw = compressed_response("gzip", &gzip(&text), "length");
    let run = both("GET", &Http1ClientParameters::default(), &raw, false);
    assert_eq!(body_of(&run), gzip(&text));
    let Some(Ev::Head(_, _, headers)) = run.events.first() else {
        panic!()
    };
    assert!(headers.contains(&("Content-Encoding".to_owned(), "gzip".to_owned())));
    // Codings this crate does not decode pass through.
    let run = both(
        "GET",
        &params,
        &compressed_response("br", b"\x0b\x02\x80hi\x03", "length"),
        false,
    );
    assert_eq!(body_of(&run), b"\x0b\x02\x80hi\x03");
    // An empty gzip body (HEAD-like) is fine; a HEAD response is not decoded.
    let run = both(
        "GET",
        &params,
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 0\r\n\r\n",
        false,
    );
    assert_eq!(run.error, None);
    let run = both(
        "HEAD",
        &params,
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 30\r\n\r\n",
        false,
    );
    assert_eq!(run.error, None);
    assert!(run.conn.may_reuse());
}

#[test]
fn bad_compressed_bodies() {
    let params = Http1ClientParameters {
        decompress: true,
        max_body_size: 1 << 16,
        ..Http1ClientParameters::default()
    };
    let good = gzip(b"hello world");
    let mut corrupt = good.clone();
    let mid = corrupt.len() / 2;
    corrupt[mid] ^= 0xff;
    let mut trailing = good.clone();
    trailing.extend_from_slice(b"junk");
    let bomb = gzip(&vec![b'x'; (1 << 16) + 1]);
    let deflate_bomb = zlib(&vec![b'x'; (1 << 16) + 1]);
    #[rustfmt::skip]
    let rows: Vec<(&str, Vec<u8>, ClientErrorKind)> = vec![
        ("corrupt", compressed_response("gzip", &corrupt, "length"), ClientErrorKind::Decompress),
        ("trailing", compressed_response("gzip", &trailing, "chunked"), ClientErrorKind::Decompress),
        ("truncated", compressed_response("gzip", &good[..good.len() - 3], "length"), ClientErrorKind::Decompress),
        ("not gzip", compressed_response("gzip", b"hello", "length"), ClientErrorKind::Decompress),
        ("truncated deflate", compressed_response("deflate", &zlib(b"hello")[..4], "length"), ClientErrorKind::Decompress),
        ("gzip bomb", compressed_response("gzip", &bomb, "length"), ClientErrorKind::BodyTooLarge),
        ("deflate bomb", compressed_response("deflate", &deflate_bomb, "chunked"), ClientErrorKind::BodyTooLarge),
    ];
    for (name, raw, kind) in rows {
        let run = both("GET", &params, &raw, false);
        let err = run
            .error
            .clone()
            .unwrap_or_else(|| panic!("{name}: accepted"));
        assert_eq!(err.kind(), kind, "{name}: {err}");
        assert!(head_status(&run).is_some(), "{name}");
    }
    // Exactly at the limit is fine.
    let exact = gzip(&vec![b'x'; 1 << 16]);
    let run = both(
        "GET",
        &params,
        &compressed_response("gzip", &exact, "length"),
        false,
    );
    assert_eq!(run.error, None);
    assert_eq!(body_of(&run).len(), 1 << 16);
}

/// Method, target, headers, body framing, bytes written by `write_body`,
/// and the expected wire bytes.
type EncodeRow<'a> = (
    &'a str,
    &'a str,
    HttpHeaders,
    RequestBody,
    &'a [u8],
    &'a str,
);

#[test]
fn requests_are_encoded() {
    let mut h = HttpHeaders::new();
    h.add("User-Agent", "t");
    // (method, target, headers, body, bytes written by write_body, expected wire bytes)
    #[rustfmt::skip]
    let rows: Vec<EncodeRow<'_>> = vec![
        ("GET", "/a?b=c", h.clone(), RequestBody::None, b"", "GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n"),
        ("POST", "/", HttpHeaders::new(), RequestBody::None, b"", "POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n"),
        ("PUT", "/", HttpHeaders::new(), RequestBody::Length(3), b"abc", "PUT / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\n\r\nabc"),
        ("POST", "/", HttpHeaders::new(), RequestBody::Chunked, b"hello", "POST / HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
        ("POST", "/", HttpHeaders::new(), RequestBody::Length(0), b"", "POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n"),
        ("GET", "/", [("host", "other:81")].into_iter().collect(), RequestBody::None, b"", "GET / HTTP/1.1\r\nhost: other:81\r\n\r\n"),
        ("POST", "/", [("Content-Length", "2")].into_iter().collect(), RequestBody::Length(2), b"hi", "POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 2\r\n\r\nhi"),
        ("POST", "/", [("Transfer-Encoding", "chunked")].into_iter().collect(), RequestBody::Chunked, b"", "POST / HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        ("DELETE", "/", [("Content-Length", "0")].into_iter().collect(), RequestBody::None, b"", "DELETE / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n"),
        ("OPTIONS", "*", HttpHeaders::new(), RequestBody::None, b"", "OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n"),
        ("CONNECT", "example.com:443", HttpHeaders::new(), RequestBody::None, b"", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n"),
        ("PURGE", "/", HttpHeaders::new(), RequestBody::None, b"", "PURGE / HTTP/1.1\r\nHost: example.com\r\n\r\n"),
    ];
    for (method, target, headers, body, data, expected) in rows {
        let mut conn = ClientConnection::default();
        let mut out = BytesMut::new();
        conn.write_request(method, target, "example.com", &headers, body, &mut out)
            .unwrap();
        conn.write_body(data, &mut out)
            .or_else(|e| if data.is_empty() { Ok(()) } else { Err(e) })
            .unwrap();
        conn.finish_request(&mut out).unwrap();
        assert_eq!(String::from_utf8_lossy(&out), expected);
        assert!(conn.can_write_request());
        assert_eq!(conn.requests_in_flight(), 1);
    }
}

#[test]
fn bad_requests_append_nothing() {
    let one = |name: &str, value: &str| -> HttpHeaders { [(name, value)].into_iter().collect() };
    #[rustfmt::skip]
    let rows: Vec<(&str, &str, &str, &str, HttpHeaders, RequestBody)> = vec![
        ("space in method", "GE T", "/", "h", HttpHeaders::new(), RequestBody::None),
        ("empty method", "", "/", "h", HttpHeaders::new(), RequestBody::None),
        ("CRLF in method", "GET\r\n", "/", "h", HttpHeaders::new(), RequestBody::None),
        ("empty target", "GET", "", "h", HttpHeaders::new(), RequestBody::None),
        ("space in target", "GET", "/a b", "h", HttpHeaders::new(), RequestBody::None),
        ("CRLF in target", "GET", "/\r\nX: y", "h", HttpHeaders::new(), RequestBody::None),
        ("NUL in target", "GET", "/\0", "h", HttpHeaders::new(), RequestBody::None),
        ("LF in host", "GET", "/", "h\nX: y", HttpHeaders::new(), RequestBody::None),
        ("space in name", "GET", "/", "h", one("Bad Name", "v"), RequestBody::None),
        ("colon in name", "GET", "/", "h", one("X:", "v"), RequestBody::None),
        ("empty name", "GET", "/", "h", one("", "v"), RequestBody::None),
        ("CR in value", "GET", "/", "h", one("X", "a\rb"), RequestBody::None),
        ("LF in value", "GET", "/", "h", one("X", "a\nb"), RequestBody::None),
        ("NUL in value", "GET", "/", "h", one("X", "a\0b"), RequestBody::None),
        ("length disagrees", "POST", "/", "h", one("Content-Length", "3"), RequestBody::Length(2)),
        ("length with no body", "GET", "/", "h", one("Content-Length", "3"), RequestBody::None),
        ("length with chunked", "POST", "/", "h", one("Content-Length", "3"), RequestBody::Chunked),
        ("bad length", "POST", "/", "h", one("Content-Length", "x"), RequestBody::Length(2)),
        ("TE with length", "POST", "/", "h", one("Transfer-Encoding", "chunked"), RequestBody::Length(2)),
        ("TE gzip", "POST", "/", "h", one("Transfer-Encoding", "gzip"), RequestBody::Chunked),
    ];
    for (name, method, target, host, headers, body) in rows {
        let mut conn = ClientConnection::default();
        let mut out = BytesMut::from(&b"earlier"[..]);
        let err = conn
            .write_request(method, target, host, &headers, body, &mut out)
            .expect_err(name);
        assert_eq!(err.kind(), OutputErrorKind::InvalidHeader, "{name}");
        assert_eq!(&out[..], b"earlier", "{name}");
        // The connection is as it was.
        assert!(conn.can_write_request() && conn.may_reuse(), "{name}");
    }
}

#[test]
fn declared_lengths_are_enforced() {
    let mut conn = ClientConnection::default();
    let mut out = BytesMut::new();
    conn.write_request(
        "POST",
        "/",
        "h",
        &HttpHeaders::new(),
        RequestBody::Length(3),
        &mut out,
    )
    .unwrap();
    let len = out.len();
    assert!(!conn.can_write_request());
    let err = conn.write_request(
        "GET",
        "/",
        "h",
        &HttpHeaders::new(),
        RequestBody::None,
        &mut out,
    );
    assert_eq!(err.unwrap_err().kind(), OutputErrorKind::BodyNotAllowed);
    assert_eq!(
        conn.finish_request(&mut out).unwrap_err().kind(),
        OutputErrorKind::TooLittleData
    );
    conn.write_body(b"ab", &mut out).unwrap();
    assert_eq!(
        conn.write_body(b"cd", &mut out).unwrap_err().kind(),
        OutputErrorKind::TooMuchData
    );
    assert_eq!(out.len(), len + 2);
    conn.write_body(b"c", &mut out).unwrap();
    conn.finish_request(&mut out).unwrap();
    assert_eq!(&out[len..], b"abc");
    // The body went out whole, but a refused write means no reuse.
    let run = feed(
        conn,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        100,
        false,
    );
    assert!(!run.conn.may_reuse());
    // Nothing to write after the body.
    let mut conn = ClientConnection::default();
    conn.write_request(
        "GET",
        "/",
        "h",
        &HttpHeaders::new(),
        RequestBody::None,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        conn.write_body(b"x", &mut out).unwrap_err().kind(),
        OutputErrorKind::BodyNotAllowed
    );
    assert_eq!(conn.finish_request(&mut out), Ok(()));
}

#[test]
fn a_request_saying_close_ends_reuse() {
    let mut conn = ClientConnection::default();
    let headers: HttpHeaders = [("Connection", "close")].into_iter().collect();
    conn.write_request(
        "GET",
        "/",
        "h",
        &headers,
        RequestBody::None,
        &mut BytesMut::new(),
    )
    .unwrap();
    assert!(!conn.can_write_request());
    let run = feed(
        conn,
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        1,
        false,
    );
    assert_eq!(body_of(&run), b"ok");
    assert!(!run.conn.may_reuse());
}

fn expect_request(body: RequestBody) -> (ClientConnection, BytesMut) {
    let mut conn = ClientConnection::default();
    let mut out = BytesMut::new();
    let headers: HttpHeaders = [("Expect", "100-continue")].into_iter().collect();
    conn.write_request("PUT", "/big", "h", &headers, body, &mut out)
        .unwrap();
    (conn, out)
}

#[test]
fn expect_continue_waits_for_100() {
    let (mut conn, mut out) = expect_request(RequestBody::Length(5));
    assert!(out.ends_with(b"Expect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
    assert!(conn.awaiting_continue() && !conn.body_allowed());
    assert_eq!(
        conn.write_body(b"hello", &mut out).unwrap_err().kind(),
        OutputErrorKind::BodyNotAllowed
    );
    assert_eq!(
        conn.finish_request(&mut out).unwrap_err().kind(),
        OutputErrorKind::BodyNotAllowed
    );
    let mut buf = BytesMut::from(&b"HTTP/1.1 100 Continue\r\n\r\n"[..]);
    let Some(ClientEvent::Continue(head)) = conn.poll(&mut buf).unwrap() else {
        panic!()
    };
    assert_eq!(head.reason, "Continue");
    assert!(conn.body_allowed() && !conn.awaiting_continue());
    conn.write_body(b"hello", &mut out).unwrap();
    conn.finish_request(&mut out).unwrap();
    let run = feed(
        conn,
        b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
        1,
        false,
    );
    assert_eq!(run.events.len(), 2);
    assert!(run.conn.may_reuse());
}

#[test]
fn a_final_response_instead_of_100_abandons_the_body() {
    for raw in [
        &b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n"[..],
        b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 4\r\n\r\nnope",
        b"HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n",
    ] {
        let (conn, mut out) = expect_request(RequestBody::Chunked);
        let mut run = feed(conn, raw, 1, false);
        assert_eq!(run.error, None);
        assert_eq!(run.events.last(), Some(&Ev::End));
        assert!(!run.conn.body_allowed() && !run.conn.awaiting_continue());
        let err = run.conn.write_body(b"x", &mut out).unwrap_err();
        assert_eq!(err.kind(), OutputErrorKind::BodyNotAllowed);
        assert!(err.to_string().contains("before 100 Continue"), "{err}");
        assert!(run.conn.finish_request(&mut out).is_err());
        assert!(!run.conn.may_reuse());
        assert!(!run.conn.can_write_request());
    }
}

#[test]
fn the_body_goes_anyway_after_the_timeout() {
    let (mut conn, mut out) = expect_request(RequestBody::Chunked);
    conn.continue_timed_out();
    assert!(conn.body_allowed());
    conn.write_body(b"abc", &mut out).unwrap();
    conn.finish_request(&mut out).unwrap();
    assert!(out.ends_with(b"\r\n\r\n3\r\nabc\r\n0\r\n\r\n"));
    // The late 100 is just an interim response.
    let run = feed(
        conn,
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        3,
        false,
    );
    assert_eq!(run.events[0], Ev::Info(100));
    assert!(run.conn.may_reuse());
    // A final response while the body is still being written: it is read,
    // and the connection is reusable once the body is finished.
    let (mut conn, mut out) = expect_request(RequestBody::Length(2));
    conn.continue_timed_out();
    conn.write_body(b"a", &mut out).unwrap();
    let mut run = feed(
        conn,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        100,
        false,
    );
    assert_eq!(run.events.last(), Some(&Ev::End));
    assert!(!run.conn.may_reuse());
    run.conn.write_body(b"b", &mut out).unwrap();
    run.conn.finish_request(&mut out).unwrap();
    assert!(run.conn.may_reuse());
}

#[test]
fn expect_continue_without_a_body_waits_for_nothing() {
    let (conn, _) = expect_request(RequestBody::None);
    assert!(!conn.awaiting_continue());
    assert!(conn.can_write_request());
    let (conn, _) = expect_request(RequestBody::Length(0));
    assert!(!conn.awaiting_continue());
}

#[test]
fn eof_when_idle_is_clean_and_final() {
    let mut conn = ClientConnection::default();
    assert_eq!(conn.on_eof(), Ok(None));
    assert_eq!(conn.on_eof(), Ok(None));
    assert!(!conn.may_reuse() && !conn.can_write_request());
    assert_eq!(conn.poll(&mut BytesMut::new()), Ok(None));
}

#[test]
fn limits_follow_params_changed_between_requests() {
    let mut conn = ClientConnection::default();
    let headers = HttpHeaders::new();
    let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    conn.write_request(
        "GET",
        "/",
        "h",
        &headers,
        RequestBody::None,
        &mut BytesMut::new(),
    )
    .unwrap();
    let run = feed(conn, raw, 100, false);
    assert!(run.conn.may_reuse());
    let mut conn = run.conn;
    conn.params_mut().max_body_size = 4;
    conn.write_request(
        "GET",
        "/",
        "h",
        &headers,
        RequestBody::None,
        &mut BytesMut::new(),
    )
    .unwrap();
    let run = feed(conn, raw, 100, false);
    assert!(run.error.unwrap().is_body_too_large());
}

/// A small deterministic generator, so the mutation test needs no crate.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// What a fuzz target does, in miniature: mutated responses, fed in random
/// splits, must give events or an error, never a panic or a hang.
#[test]
fn mutated_responses_never_panic() {
    let text: Vec<u8> = (0..300u32)
        .flat_map(|i| format!("{i} ").into_bytes())
        .collect();
    let seeds: Vec<Vec<u8>> = vec![
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_vec(),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n"
            .to_vec(),
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nuntil close".to_vec(),
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n".to_vec(),
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nrest".to_vec(),
        compressed_response("gzip", &gzip(&text), "chunked"),
        compressed_response("deflate", &zlib(&text), "length"),
        compressed_response("deflate", &raw_deflate(&text), "close"),
    ];
    let interesting = b"\r\n :;,0123456789abcdefHTTP/1.\x00\x1f\x8b\x78\x9c\xff\t";
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    for round in 0..3000 {
        let mut raw = seeds[rng.below(seeds.len())].clone();
        for _ in 0..1 + rng.below(4) {
            if raw.is_empty() {
                break;
            }
            let at = rng.below(raw.len());
            match rng.below(4) {
                0 => raw[at] = interesting[rng.below(interesting.len())],
                1 => raw[at] = rng.next() as u8,
                2 => raw.insert(at, interesting[rng.below(interesting.len())]),
                _ => raw.truncate(at),
            }
        }
        if rng.below(4) == 0 {
            let copy = raw.clone();
            raw.extend_from_slice(&copy);
        }
        let params = Http1ClientParameters {
            decompress: rng.below(2) == 0,
            chunk_size: 1 + rng.below(64),
            max_body_size: 50 + rng.below(2000) as u64,
            max_header_size: 16 + rng.below(200),
        };
        let method = ["GET", "HEAD", "CONNECT", "POST"][rng.below(4)];
        let step = 1 + rng.below(raw.len() + 1);
        let run = feed(sent(method, params), &raw, step, rng.below(2) == 0);
        if let Some(err) = &run.error {
            assert!(!err.message().is_empty(), "round {round}");
        }
    }
}
