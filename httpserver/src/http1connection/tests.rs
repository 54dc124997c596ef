//! Table-driven tests of the request-head parser and the response encoder.

use std::time::{Duration, UNIX_EPOCH};

use bytes::BytesMut;
use http::{Method, StatusCode, Version};

use super::*;
use crate::OutputErrorKind;
use crate::httputil::{DateCache, HttpHeaders};

fn params() -> Http1ConnectionParameters {
    Http1ConnectionParameters::default()
}

fn parse(raw: &[u8]) -> Result<Parsed<RequestHead>, crate::ParseError> {
    parse_request_head(raw, &params())
}

fn complete(raw: &[u8]) -> RequestHead {
    match parse(raw) {
        Ok(Parsed::Complete(head)) => head,
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(raw)),
    }
}

#[test]
fn parses_a_typical_head() {
    let raw = b"GET /plaintext?x=1 HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\nAccept: text/plain\r\n\r\nNEXT";
    let head = complete(raw);
    assert_eq!(head.method(), Method::GET);
    assert_eq!(head.uri(), "/plaintext?x=1");
    assert_eq!(head.version(), Version::HTTP_11);
    assert_eq!(head.headers().get("host"), Some("localhost:8080"));
    assert_eq!(head.headers().get_all("accept").count(), 2);
    assert_eq!(head.head_len, raw.len() - 4);
    assert_eq!(head.body, BodyKind::Empty);
    assert!(head.keep_alive);
    assert!(!head.expect_continue);
}

#[test]
fn partial_heads_wait_for_more() {
    let raw = b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n";
    for end in 0..raw.len() {
        assert_eq!(
            parse(&raw[..end]),
            Ok(Parsed::Partial),
            "prefix of {end} bytes"
        );
    }
    assert_eq!(complete(raw).body, BodyKind::Length(2));
}

#[test]
fn skips_blank_lines_before_the_request_line() {
    let raw = b"\r\n\r\n\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
    let head = complete(raw);
    assert_eq!(head.head_len, raw.len());
    assert_eq!(parse(b"\r\n\r\n"), Ok(Parsed::Partial));
}

#[test]
fn blank_lines_before_the_request_line_do_not_count_toward_the_head_limit() {
    // Found by the server_connection fuzz target: arriving alone, blank lines are
    // dropped by the server; arriving with the head, they must not make it too large.
    let head = b"POST / HTTP/1.1\r\nHost: h\r\n\r\n";
    let small = Http1ConnectionParameters {
        max_header_size: head.len(),
        ..params()
    };
    let mut raw = b"\n".repeat(3 * head.len());
    raw.extend_from_slice(head);
    match parse_request_head(&raw, &small) {
        Ok(Parsed::Complete(h)) => assert_eq!(h.head_len, raw.len()),
        other => panic!("{other:?}"),
    }
    // A head that is itself over the limit is still refused, blank lines or not.
    let tight = Http1ConnectionParameters {
        max_header_size: head.len() - 1,
        ..params()
    };
    let refused = parse_request_head(&raw, &tight).unwrap_err();
    assert_eq!(
        refused.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
}

#[test]
fn bare_lf_line_endings_are_accepted_in_the_head() {
    let raw = b"GET / HTTP/1.1\nHost: h\nX-A: 1\n\nNEXT";
    let head = complete(raw);
    assert_eq!(head.headers().get("x-a"), Some("1"));
    assert_eq!(head.head_len, raw.len() - 4);
}

#[test]
fn pipelined_heads_parse_one_after_another() {
    let one = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
    let buf = one.repeat(16);
    let mut pos = 0;
    let mut count = 0;
    while pos < buf.len() {
        let head = complete(&buf[pos..]);
        assert_eq!(head.uri(), "/a");
        pos += head.head_len;
        count += 1;
    }
    assert_eq!(count, 16);
}

#[test]
fn framing_rows() {
    let rows: &[(&str, BodyKind)] = &[
        ("Content-Length: 10", BodyKind::Length(10)),
        ("Content-Length: 0", BodyKind::Empty),
        ("Content-Length: 5, 5", BodyKind::Length(5)),
        ("Content-Length: 5,\t5", BodyKind::Length(5)),
        (
            "Content-Length: 5\r\nContent-Length: 5",
            BodyKind::Length(5),
        ),
        ("Transfer-Encoding: chunked", BodyKind::Chunked),
        ("Transfer-Encoding: CHUNKED", BodyKind::Chunked),
        ("X-Other: 1", BodyKind::Empty),
    ];
    for (line, kind) in rows {
        let raw = format!("POST / HTTP/1.1\r\nHost: h\r\n{line}\r\n\r\n");
        assert_eq!(complete(raw.as_bytes()).body, *kind, "{line}");
    }
}

#[test]
fn bad_heads() {
    const BAD: StatusCode = StatusCode::BAD_REQUEST;
    let long_target = format!(
        "GET /{} HTTP/1.1\r\nHost: h\r\n\r\n",
        "a".repeat(DEFAULT_MAX_REQUEST_TARGET)
    );
    let long_partial_line = format!("GET /{}", "a".repeat(DEFAULT_MAX_REQUEST_TARGET + 64));
    let big_header = format!(
        "GET / HTTP/1.1\r\nHost: h\r\nX: {}\r\n\r\n",
        "v".repeat(DEFAULT_MAX_HEADER_SIZE)
    );
    let big_partial = format!(
        "GET / HTTP/1.1\r\nHost: h\r\nX: {}",
        "v".repeat(DEFAULT_MAX_HEADER_SIZE)
    );
    let many_headers = format!(
        "GET / HTTP/1.1\r\nHost: h\r\n{}\r\n",
        "X: 1\r\n".repeat(MAX_HEADERS)
    );
    let blank_flood = "\r\n".repeat(DEFAULT_MAX_HEADER_SIZE);
    let rows: Vec<(&str, &str, StatusCode)> = vec![
        // Smuggling shapes.
        (
            "CL+TE",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
            BAD,
        ),
        (
            "TE+CL",
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n",
            BAD,
        ),
        (
            "unequal CL",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\n",
            BAD,
        ),
        (
            "unequal CL lines",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            BAD,
        ),
        (
            "CL list nbsp",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5,\u{a0}5\r\n\r\n",
            BAD,
        ),
        (
            "CL alpha",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: foo\r\n\r\n",
            BAD,
        ),
        (
            "CL plus",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +10\r\n\r\n",
            BAD,
        ),
        (
            "CL minus",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
            BAD,
        ),
        (
            "CL underscore",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1_0\r\n\r\n",
            BAD,
        ),
        (
            "CL hex",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n",
            BAD,
        ),
        (
            "CL empty",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n",
            BAD,
        ),
        (
            "CL inner space",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 0\r\n\r\n",
            BAD,
        ),
        (
            "TE gzip, chunked",
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            StatusCode::NOT_IMPLEMENTED,
        ),
        (
            "TE chunked, chunked",
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
            BAD,
        ),
        (
            "TE two lines",
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-encoding: chunked\r\n\r\n",
            BAD,
        ),
        (
            "TE chunked, gzip",
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            BAD,
        ),
        (
            "TE identity",
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n",
            BAD,
        ),
        (
            "TE empty element",
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ,chunked\r\n\r\n",
            BAD,
        ),
        (
            "TE xchunked",
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n",
            BAD,
        ),
        (
            "TE space before colon",
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n",
            BAD,
        ),
        // Request lines.
        (
            "method not a token",
            "FOO,BAR /echo HTTP/1.1\r\nHost: h\r\n\r\n",
            BAD,
        ),
        (
            "method with slash",
            "GE/T / HTTP/1.1\r\nHost: h\r\n\r\n",
            BAD,
        ),
        ("double space", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", BAD),
        ("no target", "GET HTTP/1.1\r\nHost: h\r\n\r\n", BAD),
        ("no version", "GET /\r\nHost: h\r\n\r\n", BAD),
        ("junk version", "GET / FOO/1.1\r\nHost: h\r\n\r\n", BAD),
        (
            "lowercase version",
            "GET / http/1.1\r\nHost: h\r\n\r\n",
            BAD,
        ),
        (
            "HTTP/2.0",
            "GET / HTTP/2.0\r\nHost: h\r\n\r\n",
            StatusCode::HTTP_VERSION_NOT_SUPPORTED,
        ),
        (
            "HTTP/0.9",
            "GET / HTTP/0.9\r\nHost: h\r\n\r\n",
            StatusCode::HTTP_VERSION_NOT_SUPPORTED,
        ),
        (
            "target with control",
            "GET /a\x01b HTTP/1.1\r\nHost: h\r\n\r\n",
            BAD,
        ),
        ("trailing space", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", BAD),
        ("long target", &long_target, StatusCode::URI_TOO_LONG),
        (
            "long partial line",
            &long_partial_line,
            StatusCode::URI_TOO_LONG,
        ),
        // Header lines.
        (
            "folded",
            "GET / HTTP/1.1\r\nHost: h\r\nX-Foo: a\r\n b\r\n\r\n",
            BAD,
        ),
        (
            "folded tab",
            "GET / HTTP/1.1\r\nHost: h\r\nX-Foo: a\r\n\tb\r\n\r\n",
            BAD,
        ),
        (
            "space in name",
            "GET / HTTP/1.1\r\nHost: h\r\nX Foo: a\r\n\r\n",
            BAD,
        ),
        ("no colon", "GET / HTTP/1.1\r\nHost: h\r\nXFoo\r\n\r\n", BAD),
        (
            "empty name",
            "GET / HTTP/1.1\r\nHost: h\r\n: a\r\n\r\n",
            BAD,
        ),
        (
            "NUL in value",
            "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n",
            BAD,
        ),
        (
            "bare CR in value",
            "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n",
            BAD,
        ),
        (
            "DEL in value",
            "GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fb\r\n\r\n",
            BAD,
        ),
        (
            "non-ASCII name",
            "GET / HTTP/1.1\r\nHost: h\r\nX\u{e9}: a\r\n\r\n",
            BAD,
        ),
        // Host.
        ("missing Host 1.1", "GET / HTTP/1.1\r\nX: 1\r\n\r\n", BAD),
        (
            "Host whitespace",
            "GET / HTTP/1.1\r\nHost: foo bar\r\n\r\n",
            BAD,
        ),
        (
            "Host whitespace 1.0",
            "GET / HTTP/1.0\r\nHost: foo bar\r\n\r\n",
            BAD,
        ),
        ("Host comma", "GET / HTTP/1.1\r\nHost: a,b\r\n\r\n", BAD),
        (
            "two Host lines",
            "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
            BAD,
        ),
        ("Host slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", BAD),
        ("Host at", "GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", BAD),
        // Sizes.
        (
            "header block too large",
            &big_header,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        ),
        (
            "partial block too large",
            &big_partial,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        ),
        (
            "blank line flood",
            &blank_flood,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        ),
        (
            "too many headers",
            &many_headers,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        ),
        (
            "CL overflows u64",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (name, raw, status) in rows {
        match parse(raw.as_bytes()) {
            Err(e) => {
                assert_eq!(e.status(), status, "{name}: {e}");
                assert!(!e.reason().is_empty());
            }
            Ok(other) => panic!("{name}: accepted as {other:?}"),
        }
        // The zero-copy entry point answers the same and leaves the buffer alone.
        let mut buf = BytesMut::from(raw.as_bytes());
        match parse_request_head_bytes(&mut buf, &params()) {
            Err(e) => assert_eq!(e.status(), status, "{name}: {e}"),
            Ok(other) => panic!("{name}: accepted as {other:?}"),
        }
        assert_eq!(&buf[..], raw.as_bytes(), "{name}");
    }
}

#[test]
fn zero_copy_heads_view_the_buffer() {
    let one = b"\r\nGET /caf\xc3\xa9?q=1&r HTTP/1.1\r\nHost: h\r\nX-A: caf\xe9\r\nX-B:  b \r\n\r\n";
    let mut buf = BytesMut::from(&one.repeat(3)[..]);
    buf.extend_from_slice(b"GET /partial HTTP/1.1\r\nHo");
    let base = buf.as_ptr().addr();
    let end = base + buf.len();
    for i in 0..3 {
        let Ok(Parsed::Complete(head)) = parse_request_head_bytes(&mut buf, &params()) else {
            panic!("head {i} not parsed");
        };
        assert_eq!(head.head_len, one.len());
        assert_eq!(head.uri(), "/caf\u{e9}?q=1&r");
        assert_eq!((head.path(), head.query()), ("/caf\u{e9}", "q=1&r"));
        assert_eq!(head.method(), Method::GET);
        assert_eq!(head.version(), Version::HTTP_11);
        let host = head.headers().get("host").unwrap();
        assert_eq!(host, "h");
        assert!(
            (base..end).contains(&host.as_ptr().addr()),
            "a view, not a copy"
        );
        assert!((base..end).contains(&head.uri().as_ptr().addr()));
        // Latin-1 is decoded into the headers' own buffer.
        assert_eq!(head.headers().get("x-a"), Some("caf\u{e9}"));
        assert_eq!(head.headers().get("x-b"), Some("b"));
        assert_eq!(head, complete(one), "same as the copying parser");
    }
    assert_eq!(
        parse_request_head_bytes(&mut buf, &params()),
        Ok(Parsed::Partial)
    );
    assert_eq!(&buf[..], b"GET /partial HTTP/1.1\r\nHo");

    let raw = bytes::Bytes::from_static(b"POST /p HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc");
    let Ok(Parsed::Complete(layout)) = parse_request_layout(&raw, &params()) else {
        panic!("layout not parsed");
    };
    assert_eq!(layout.head_len, raw.len() - 3);
    assert!(format!("{layout:?}").contains("header_lines: 1"));
    let head = layout.attach(raw.slice(..raw.len() - 3));
    assert_eq!(
        (head.method(), head.uri(), head.query()),
        (&Method::POST, "/p", "")
    );
    assert_eq!(head.body, BodyKind::Length(3));
    assert_eq!(head.headers().get("content-length"), Some("3"));
}

#[test]
fn heads_built_by_hand() {
    let mut head = RequestHead::new(
        Method::PUT,
        "/a?b=c?d",
        Version::HTTP_10,
        [("Host", "h")].into_iter().collect(),
    );
    assert_eq!(
        (head.path(), head.query(), head.uri()),
        ("/a", "b=c?d", "/a?b=c?d")
    );
    assert_eq!(head.method(), Method::PUT);
    assert!(!head.keep_alive);
    head.headers_mut().add("Content-Encoding", "gzip");
    assert!(head.is_gzip_body());
    let plain = RequestHead::new(Method::GET, "/", Version::HTTP_11, HttpHeaders::new());
    assert_eq!((plain.path(), plain.query()), ("/", ""));
    assert!(plain.keep_alive);
}

#[test]
fn error_messages_say_what_was_wrong() {
    let err = parse(b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n").unwrap_err();
    assert!(err.reason().contains("folded"), "{err}");
    let err = parse(
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("both Transfer-Encoding and Content-Length"),
        "{err}"
    );
    assert!(err.to_string().contains("400"), "{err}");
    let err = parse(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1_0\r\n\r\n").unwrap_err();
    assert!(
        err.reason().contains("Only integer Content-Length"),
        "{err}"
    );
}

#[test]
fn limits_come_from_the_parameters() {
    let p = Http1ConnectionParameters {
        max_header_size: 64,
        max_body_size: 10,
        max_request_target: 8,
        ..Default::default()
    };
    let ok = b"POST /1234567 HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n";
    assert!(matches!(
        parse_request_head(ok, &p),
        Ok(Parsed::Complete(_))
    ));
    let long = b"POST /12345678 HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n";
    assert!(parse_request_head(long, &p).unwrap_err().is_uri_too_long());
    // A length over max_body_size is judged when the body starts, after the
    // request's delegate may have set a limit of its own (ServerConnection).
    let body = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n";
    assert!(matches!(
        parse_request_head(body, &p),
        Ok(Parsed::Complete(_))
    ));
    let head = b"POST / HTTP/1.1\r\nHost: h\r\nX-Padding: 0123456789012345678901234567\r\n\r\n";
    assert!(
        parse_request_head(head, &p)
            .unwrap_err()
            .is_header_too_large()
    );
}

#[test]
fn keep_alive_rows() {
    let rows: &[(&str, bool)] = &[
        ("GET / HTTP/1.1\r\nHost: h\r\n\r\n", true),
        (
            "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
            false,
        ),
        (
            "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, Close\r\n\r\n",
            false,
        ),
        (
            "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n",
            true,
        ),
        ("GET / HTTP/1.0\r\n\r\n", false),
        ("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true),
        ("HEAD / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
        ("POST / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", false),
        (
            "POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n",
            true,
        ),
        // Transfer-Encoding in HTTP/1.0 is faulty framing: read it, then close (RFC
        // 9112 section 6.1 says MUST; Tornado 6.6 keeps the connection).
        (
            "POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n",
            false,
        ),
    ];
    for (raw, keep) in rows {
        assert_eq!(complete(raw.as_bytes()).keep_alive, *keep, "{raw:?}");
    }
    let p = Http1ConnectionParameters {
        no_keep_alive: true,
        ..Default::default()
    };
    let Ok(Parsed::Complete(head)) = parse_request_head(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", &p)
    else {
        panic!("not parsed");
    };
    assert!(!head.keep_alive);
}

#[test]
fn expect_continue_rows() {
    let rows: &[(&str, bool)] = &[
        (
            "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
            true,
        ),
        (
            "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n",
            true,
        ),
        (
            "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
            false,
        ),
        (
            "POST / HTTP/1.1\r\nHost: h\r\nExpect: something\r\nContent-Length: 1\r\n\r\n",
            false,
        ),
    ];
    for (raw, expect) in rows {
        assert_eq!(complete(raw.as_bytes()).expect_continue, *expect, "{raw:?}");
    }
}

#[test]
fn header_values_are_trimmed_and_latin1_tolerated() {
    let head = complete(b"GET / HTTP/1.1\r\nHost: h\r\nX-A:   padded \t\r\nX-B: caf\xe9\r\nX-C: caf\xc3\xa9\r\n\r\n");
    assert_eq!(head.headers().get("x-a"), Some("padded"));
    assert_eq!(head.headers().get("x-b"), Some("caf\u{e9}"));
    assert_eq!(head.headers().get("x-c"), Some("café"));
    assert!(
        complete(b"GET / HTTP/1.1\r\nHost: h\r\nGzip: 1\r\nContent-Encoding: GZIP\r\n\r\n")
            .is_gzip_body()
    );
}

fn encode(
    ctx: ResponseContext,
    status: StatusCode,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (String, BodyEncoder) {
    let headers: HttpHeaders = headers.iter().copied().collect();
    let mut out = BytesMut::new();
    let mut dates = DateCache::new();
    let date = dates
        .get(UNIX_EPOCH + Duration::from_secs(784_111_777))
        .to_string();
    let mut enc = encode_response_head(&mut out, &ctx, status, &headers, &date).unwrap();
    enc.write(body, &mut out).unwrap();
    enc.finish(&mut out).unwrap();
    (String::from_utf8(out.to_vec()).unwrap(), enc)
}

const DATE_SERVER: &str = "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nServer: ";

fn ctx(version: Version, keep_alive: bool) -> ResponseContext {
    ResponseContext {
        head_request: false,
        version,
        keep_alive,
    }
}

#[test]
fn encodes_length_and_chunked_bodies() {
    let (out, enc) = encode(
        ctx(Version::HTTP_11, true),
        StatusCode::OK,
        &[("Content-Length", "12")],
        b"Hello, world",
    );
    assert_eq!(
        out,
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n{DATE_SERVER}{DEFAULT_SERVER}\r\n\r\nHello, world"
        )
    );
    assert_eq!(enc.framing(), BodyFraming::Length(12));
    assert!(enc.keep_alive());

    let (out, enc) = encode(
        ctx(Version::HTTP_11, true),
        StatusCode::OK,
        &[],
        b"Hello, world",
    );
    assert_eq!(
        out,
        format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n{DATE_SERVER}{DEFAULT_SERVER}\r\n\r\nc\r\nHello, world\r\n0\r\n\r\n"
        )
    );
    assert_eq!(enc.framing(), BodyFraming::Chunked);
}

/// Context, status, headers, expected framing, keep-alive, lines present, text absent.
type ResponseRow = (
    ResponseContext,
    StatusCode,
    Vec<(&'static str, &'static str)>,
    BodyFraming,
    bool,
    &'static [&'static str],
    &'static [&'static str],
);

#[test]
fn framing_rows_for_responses() {
    let head = ResponseContext {
        head_request: true,
        ..ctx(Version::HTTP_11, true)
    };
    let rows: Vec<ResponseRow> = vec![
        // HEAD keeps the Content-Length it describes, sends no body, no chunking.
        (
            head,
            StatusCode::OK,
            vec![("Content-Length", "5")],
            BodyFraming::None,
            true,
            &["Content-Length: 5"],
            &["Transfer-Encoding"],
        ),
        (
            head,
            StatusCode::OK,
            vec![],
            BodyFraming::None,
            true,
            &[],
            &["Transfer-Encoding", "Content-Length"],
        ),
        (
            ctx(Version::HTTP_11, true),
            StatusCode::NO_CONTENT,
            vec![("Content-Length", "0")],
            BodyFraming::None,
            true,
            &[],
            &["Content-Length", "Transfer-Encoding"],
        ),
        (
            ctx(Version::HTTP_11, true),
            StatusCode::NOT_MODIFIED,
            vec![("ETag", "\"x\"")],
            BodyFraming::None,
            true,
            &["ETag"],
            &["Transfer-Encoding"],
        ),
        (
            ctx(Version::HTTP_11, true),
            StatusCode::SWITCHING_PROTOCOLS,
            vec![("Upgrade", "websocket")],
            BodyFraming::None,
            true,
            &["Upgrade: websocket"],
            &["Transfer-Encoding"],
        ),
        // HTTP/1.0 without a length: close-delimited.
        (
            ctx(Version::HTTP_10, true),
            StatusCode::OK,
            vec![],
            BodyFraming::CloseDelimited,
            false,
            &[],
            &["Transfer-Encoding", "Keep-Alive"],
        ),
        (
            ctx(Version::HTTP_10, true),
            StatusCode::OK,
            vec![("Content-Length", "0")],
            BodyFraming::Length(0),
            true,
            &["Connection: Keep-Alive"],
            &[],
        ),
        (
            ctx(Version::HTTP_10, false),
            StatusCode::OK,
            vec![("Content-Length", "0")],
            BodyFraming::Length(0),
            false,
            &[],
            &["Connection"],
        ),
        // Closing HTTP/1.1 connections say so; the handler may ask to close.
        (
            ctx(Version::HTTP_11, false),
            StatusCode::OK,
            vec![("Content-Length", "0")],
            BodyFraming::Length(0),
            false,
            &["Connection: close"],
            &[],
        ),
        (
            ctx(Version::HTTP_11, true),
            StatusCode::OK,
            vec![("Connection", "close"), ("Content-Length", "0")],
            BodyFraming::Length(0),
            false,
            &["Connection: close"],
            &[],
        ),
        // A handler's Transfer-Encoding is replaced; its Date and Server are kept.
        (
            ctx(Version::HTTP_11, true),
            StatusCode::OK,
            vec![
                ("Transfer-Encoding", "gzip"),
                ("Date", "today"),
                ("Server", "mine"),
            ],
            BodyFraming::Chunked,
            true,
            &["Transfer-Encoding: chunked", "Date: today", "Server: mine"],
            &["gzip", "1994", "TornadoRs"],
        ),
    ];
    for (ctx, status, headers, framing, keep, present, absent) in rows {
        let headers: HttpHeaders = headers.into_iter().collect();
        let mut out = BytesMut::new();
        let enc = encode_response_head(
            &mut out,
            &ctx,
            status,
            &headers,
            "Sun, 06 Nov 1994 08:49:37 GMT",
        )
        .unwrap();
        let text = String::from_utf8(out.to_vec()).unwrap();
        assert!(
            text.starts_with(&format!("HTTP/1.1 {} ", status.as_str())),
            "{text}"
        );
        assert!(text.ends_with("\r\n\r\n"));
        assert_eq!(enc.framing(), framing, "{text}");
        assert_eq!(enc.keep_alive(), keep, "{text}");
        for p in present {
            assert!(text.contains(p), "{p} missing from {text}");
        }
        for a in absent {
            assert!(!text.contains(a), "{a} present in {text}");
        }
    }
}

#[test]
fn declared_length_is_enforced() {
    let headers: HttpHeaders = [("Content-Length", "5")].into_iter().collect();
    let mut out = BytesMut::new();
    let mut enc = encode_response_head(
        &mut out,
        &ctx(Version::HTTP_11, true),
        StatusCode::OK,
        &headers,
        "d",
    )
    .unwrap();
    let head_len = out.len();
    enc.write(b"abc", &mut out).unwrap();
    let err = enc.write(b"def", &mut out).unwrap_err();
    assert_eq!(err.kind(), OutputErrorKind::TooMuchData);
    assert_eq!(out.len(), head_len + 3, "a refused write appends nothing");
    let err = enc.finish(&mut out).unwrap_err();
    assert_eq!(err.kind(), OutputErrorKind::TooLittleData);
    assert!(!enc.keep_alive());
    assert!(!enc.is_finished());

    let head = ResponseContext {
        head_request: true,
        ..ctx(Version::HTTP_11, true)
    };
    let mut enc = encode_response_head(&mut out, &head, StatusCode::OK, &headers, "d").unwrap();
    assert_eq!(
        enc.write(b"x", &mut out).unwrap_err().kind(),
        OutputErrorKind::BodyNotAllowed
    );
    enc.finish(&mut out).unwrap();
    assert_eq!(
        enc.write(b"x", &mut out).unwrap_err().kind(),
        OutputErrorKind::BodyNotAllowed
    );
}

#[test]
fn bad_response_headers_append_nothing() {
    let rows: &[(&str, &str)] = &[
        ("X-Injected", "a\r\nSet-Cookie: evil=1"),
        ("X-Lf", "a\nb"),
        ("X-Nul", "a\0b"),
        ("Bad Name", "v"),
        ("Content-Length", "five"),
        ("Content-Length", "-1"),
    ];
    for (name, value) in rows {
        let headers: HttpHeaders = [(*name, *value)].into_iter().collect();
        let mut out = BytesMut::from(&b"previous response"[..]);
        let err = encode_response_head(
            &mut out,
            &ctx(Version::HTTP_11, true),
            StatusCode::OK,
            &headers,
            "d",
        )
        .unwrap_err();
        assert_eq!(err.kind(), OutputErrorKind::InvalidHeader, "{name}");
        assert_eq!(&out[..], b"previous response");
    }
    let two: HttpHeaders = [("Content-Length", "1"), ("Content-Length", "2")]
        .into_iter()
        .collect();
    let mut out = BytesMut::new();
    assert!(
        encode_response_head(
            &mut out,
            &ctx(Version::HTTP_11, true),
            StatusCode::OK,
            &two,
            "d"
        )
        .is_err()
    );
}

#[test]
fn pipelined_responses_share_one_buffer() {
    let mut out = BytesMut::new();
    let headers: HttpHeaders = [("Content-Length", "2")].into_iter().collect();
    for _ in 0..3 {
        let mut enc = encode_response_head(
            &mut out,
            &ctx(Version::HTTP_11, true),
            StatusCode::OK,
            &headers,
            "d",
        )
        .unwrap();
        enc.write(b"ok", &mut out).unwrap();
        enc.finish(&mut out).unwrap();
    }
    let text = String::from_utf8(out.to_vec()).unwrap();
    assert_eq!(text.matches("HTTP/1.1 200 OK\r\n").count(), 3);
    assert!(text.ends_with("\r\n\r\nok"));
}

#[test]
fn chunk_sizes_are_lowercase_hex() {
    let mut out = BytesMut::new();
    let mut enc = encode_response_head(
        &mut out,
        &ctx(Version::HTTP_11, true),
        StatusCode::OK,
        &HttpHeaders::new(),
        "d",
    )
    .unwrap();
    out.clear();
    enc.write(&[b'x'; 0x1ab], &mut out).unwrap();
    enc.write(b"", &mut out).unwrap();
    assert!(out.starts_with(b"1ab\r\n"));
    assert_eq!(out.len(), 5 + 0x1ab + 2);
    enc.finish(&mut out).unwrap();
    assert!(out.ends_with(b"\r\n0\r\n\r\n"));
}

#[test]
fn encoded_chunks_decode_back() {
    let mut out = BytesMut::new();
    let mut enc = encode_response_head(
        &mut out,
        &ctx(Version::HTTP_11, true),
        StatusCode::OK,
        &HttpHeaders::new(),
        "d",
    )
    .unwrap();
    out.clear();
    for piece in [&b"hello"[..], b" ", &[b'w'; 300]] {
        enc.write(piece, &mut out).unwrap();
    }
    enc.finish(&mut out).unwrap();
    let mut dec = ChunkedDecoder::new(1 << 20);
    let mut body = Vec::new();
    let mut input = &out[..];
    loop {
        let step = dec.decode(input).unwrap();
        body.extend_from_slice(&input[step.data.clone()]);
        input = &input[step.consumed..];
        if step.done {
            break;
        }
    }
    assert_eq!(body.len(), 306);
    assert!(input.is_empty());
}

#[test]
fn error_responses() {
    for status in [
        StatusCode::BAD_REQUEST,
        StatusCode::PAYLOAD_TOO_LARGE,
        StatusCode::URI_TOO_LONG,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        StatusCode::NOT_IMPLEMENTED,
        StatusCode::HTTP_VERSION_NOT_SUPPORTED,
    ] {
        let mut out = BytesMut::new();
        encode_error_response(status, &mut out);
        let text = String::from_utf8(out.to_vec()).unwrap();
        assert!(text.starts_with(&format!(
            "HTTP/1.1 {} {}\r\n",
            status.as_str(),
            status.canonical_reason().unwrap()
        )));
        assert!(text.ends_with("Content-Length: 0\r\nConnection: close\r\n\r\n"));
    }
    assert_eq!(CONTINUE_RESPONSE, b"HTTP/1.1 100 Continue\r\n\r\n");
}

#[test]
fn compacted_heads_keep_every_byte_at_each_size_class_boundary() {
    // The copy goes into size classes of up to 2 KiB, then into a plain copy: a head
    // just below, at and above each boundary reads the same once compacted.
    for total in [
        40usize, 63, 64, 65, 128, 129, 511, 512, 513, 2047, 2048, 2049, 5000,
    ] {
        let fixed = "GET /p?q=1 HTTP/1.1\r\nHost: h\r\nX-Pad: \r\n\r\n".len();
        let Some(pad) = total.checked_sub(fixed) else {
            continue;
        };
        let raw = format!(
            "GET /p?q=1 HTTP/1.1\r\nHost: h\r\nX-Pad: {}\r\n\r\n",
            "a".repeat(pad)
        );
        assert_eq!(raw.len(), total);
        let mut head = complete(raw.as_bytes());
        head.compact();
        let copy = head.clone();
        assert_eq!((head.uri(), head.query()), ("/p?q=1", "q=1"), "{total}");
        assert_eq!(head.headers().get("host"), Some("h"), "{total}");
        assert_eq!(
            head.headers().get("x-pad").map(str::len),
            Some(pad),
            "{total}"
        );
        drop(head);
        assert_eq!(copy.headers().get("x-pad").map(str::len), Some(pad));
        assert_eq!(copy, complete(raw.as_bytes()), "{total}");
    }
}

#[test]
fn host_values_are_checked_on_their_bytes() {
    for (host, ok) in [
        ("example.com:8080", true),
        ("[::1]:80", true),
        ("a%41b", true),
        ("a%4", false),
        ("a%zz", false),
        ("a b", false),
        ("a/b", false),
        ("a,b", false),
        ("", true),
    ] {
        let raw = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
        let got = parse(raw.as_bytes());
        assert_eq!(got.is_ok(), ok, "{host:?}: {got:?}");
        if let Err(e) = got {
            let want = if host.contains(',') {
                "Multiple host headers not allowed"
            } else {
                "Invalid Host header"
            };
            assert!(e.to_string().contains(want), "{host:?}: {e}");
            assert!(e.to_string().contains(host), "{host:?}: {e}");
        }
    }
    // A Latin-1 byte is shown as the header's decoded text.
    let e = parse(b"GET / HTTP/1.1\r\nHost: caf\xe9\r\n\r\n").unwrap_err();
    assert!(
        e.to_string().contains("Invalid Host header: \"caf\u{e9}\""),
        "{e}"
    );
    // `Connection` and `Expect` tokens are read on the raw bytes too.
    let head = complete(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: x,\t Close \r\n\r\n");
    assert!(!head.keep_alive);
    let head = complete(
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nExpect: 100-CONTINUE\r\n\r\n",
    );
    assert!(head.expect_continue);
}
