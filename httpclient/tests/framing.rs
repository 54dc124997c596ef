//! How response bodies are framed and decoded, on exact bytes from raw
//! sockets: `Content-Length`, chunked, read until close (HTTP/1.0 and
//! 1.1), `HEAD`, 204, 304, interim 1xx responses, gzip and deflate with
//! `decompress_response` on and off (Tornado's `test_chunked`,
//! `test_chunked_close`, `test_304_with_content_length`, `test_no_content`,
//! `test_head_request`, `test_no_content_length`, `test_gzip`,
//! `test_invalid_gzip`, `test_multiple_content_length_accepted`,
//! `HTTP1xxLimitTestCase`, `GzipResponseTestCase`, ...).

mod support;

use std::sync::{Arc, Mutex};

use support::{RawServer, gzip, raw_deflate, response_with, run, zlib};
use tornado_httpclient::{
    AsyncHttpClient, ErrorKind, HttpClientError, HttpRequest, HttpResponse, Phase,
};

/// Fetches `request` on a fresh client.
fn fetch(request: HttpRequest) -> Result<HttpResponse, HttpClientError> {
    run(async move { AsyncHttpClient::new().fetch(request).await })
}

/// Fetches `requests` one after the other on one client (with
/// `raise_error(false)`); returns the responses.
fn fetch_all(requests: Vec<HttpRequest>) -> Vec<HttpResponse> {
    run(async move {
        let client = AsyncHttpClient::new();
        let mut out = Vec::new();
        for request in requests {
            out.push(client.fetch(request.raise_error(false)).await.unwrap());
        }
        out
    })
}

#[test]
fn fixed_length_body() {
    let server = RawServer::respond_always(
        b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-Extra: yes\r\n\r\nhello world",
    );
    let response = fetch(HttpRequest::new(server.url("/"))).unwrap();
    assert_eq!(&response.body[..], b"hello world");
    assert_eq!(response.headers.get("X-Extra"), Some("yes"));
}

#[test]
fn chunked_body_in_pieces() {
    let server = RawServer::start(|mut conn, _| {
        conn.read_request()?;
        conn.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")?;
        for piece in [
            &b"4\r\nasdf\r\n"[..],
            b"4\r\nqwer\r\n",
            b"A\r\n0123456789\r\n",
            b"0\r\n\r\n",
        ] {
            conn.write(piece)?;
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        Ok(())
    });
    let response = fetch(HttpRequest::new(server.url("/"))).unwrap();
    assert_eq!(&response.body[..], b"asdfqwer0123456789");
    assert_eq!(response.headers.get("Transfer-Encoding"), Some("chunked"));
}

#[test]
fn chunked_body_with_extensions_and_trailers() {
    let server = RawServer::respond_always(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
          4;name=value\r\nasdf\r\n0\r\nX-Trailer: t\r\n\r\n",
    );
    let response = fetch(HttpRequest::new(server.url("/"))).unwrap();
    assert_eq!(&response.body[..], b"asdf");
}

#[test]
fn chunked_body_then_close() {
    // Tornado's test_chunked_close: the server closes right after the last
    // chunk; the response is complete all the same.
    let server = RawServer::start(|mut conn, _| {
        conn.read_request()?;
        conn.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n1\r\n1\r\n2\r\n0\r\n\r\n",
        )?;
        Ok(())
    });
    let response = fetch(HttpRequest::new(server.url("/"))).unwrap();
    assert_eq!(&response.body[..], b"12");
}

#[test]
fn truncated_bodies_are_closed_errors() {
    for bytes in [
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nasdf\r\n"[..],
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part",
        b"HTTP/1.1 200 OK\r\nContent-Le",
    ] {
        let server = RawServer::start(move |mut conn, _| {
            conn.read_request()?;
            conn.write(bytes)
        });
        let err = fetch(HttpRequest::new(server.url("/"))).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Closed, "{err:?}");
        assert_eq!(err.code(), 599);
        assert_eq!(err.phase(), Some(Phase::Receive));
        assert!(
            err.to_string().contains(&server.addr().to_string()),
            "{err}"
        );
    }
}

#[test]
fn multiple_equal_content_lengths_are_accepted() {
    for head in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok"[..],
        b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok",
    ] {
        let server = RawServer::respond_always(head);
        let response = fetch(HttpRequest::new(server.url("/"))).unwrap();
        assert_eq!(&response.body[..], b"ok");
    }
}

#[test]
fn bad_framing_is_a_protocol_error() {
    for bytes in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc"[..],
        b"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 OK\r\n\r\n",
        b"SSH-2.0-OpenSSH\r\n\r\n",
    ] {
        let server = RawServer::start(move |mut conn, _| {
            conn.read_request()?;
            conn.write(bytes)?;
            conn.read_until_close().map(drop)
        });
        let err = fetch(HttpRequest::new(server.url("/"))).unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::Protocol,
            "{:?}: {err:?}",
            String::from_utf8_lossy(bytes)
        );
        assert_eq!(err.code(), 599);
        assert!(err.to_string().contains(&server.addr().to_string()), "{err}");
    }
}

#[test]
fn head_response_has_no_body_and_keeps_the_connection() {
    let server = RawServer::start(|mut conn, _| {
        while let Some(request) = conn.read_request()? {
            if request.method() == "HEAD" {
                // A HEAD answer tells the length a GET would have.
                conn.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")?;
            } else {
                conn.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789")?;
            }
        }
        Ok(())
    });
    let responses = fetch_all(vec![
        HttpRequest::new(server.url("/")).method("HEAD"),
        HttpRequest::new(server.url("/")),
        HttpRequest::new(server.url("/")).method("HEAD"),
    ]);
    assert!(responses[0].body.is_empty());
    assert_eq!(responses[0].headers.get("Content-Length"), Some("10"));
    assert_eq!(&responses[1].body[..], b"0123456789");
    assert!(responses[2].body.is_empty());
    assert_eq!(server.accepted(), 1);
}

#[test]
fn no_content_204() {
    let server = RawServer::respond_always(b"HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n");
    let responses = fetch_all(vec![
        HttpRequest::new(server.url("/")),
        HttpRequest::new(server.url("/")),
    ]);
    for response in &responses {
        assert_eq!(response.code, 204);
        assert_eq!(response.reason, "No Content");
        assert!(response.body.is_empty());
        assert!(response.error.is_none(), "204 is a success");
        assert_eq!(response.headers.get("X-A"), Some("b"));
    }
    assert_eq!(server.accepted(), 1);
}

#[test]
fn no_content_204_with_a_length_is_not_trusted() {
    // Tornado's test_204_invalid_content_length: a 204 has no body whatever
    // it claims, and a connection whose framing is in doubt is not reused.
    let server = RawServer::respond_always(b"HTTP/1.1 204 No Content\r\nContent-Length: 1\r\n\r\n");
    let responses = fetch_all(vec![
        HttpRequest::new(server.url("/")),
        HttpRequest::new(server.url("/")),
    ]);
    for response in &responses {
        assert_eq!(response.code, 204);
        assert!(response.body.is_empty());
    }
    assert_eq!(server.accepted(), 2);
}

#[test]
fn not_modified_304_with_content_length() {
    // Tornado's test_304_with_content_length: the length is that of the
    // resource, and no body follows.
    let server = RawServer::respond_always(
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 42\r\nETag: \"x\"\r\n\r\n",
    );
    let responses = fetch_all(vec![
        HttpRequest::new(server.url("/")),
        HttpRequest::new(server.url("/")),
    ]);
    for response in &responses {
        assert_eq!(response.code, 304);
        assert_eq!(response.headers.get("Content-Length"), Some("42"));
        assert!(response.body.is_empty());
        let error = response.error.as_ref().expect("304 is not a success");
        assert_eq!(error.code(), 304);
        assert_eq!(error.kind(), ErrorKind::Http);
    }
    assert_eq!(server.accepted(), 1);
}

#[test]
fn interim_responses_come_before_the_final_one() {
    let server = RawServer::respond_always(
        b"HTTP/1.1 102 Processing\r\n\r\n\
          HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n\
          HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA",
    );
    let lines = Arc::new(Mutex::new(Vec::new()));
    let seen = lines.clone();
    let responses = fetch_all(vec![
        HttpRequest::new(server.url("/"))
            .header_callback(move |line| seen.lock().unwrap().push(line.to_owned())),
        HttpRequest::new(server.url("/")),
    ]);
    assert_eq!(responses[0].code, 200);
    assert_eq!(&responses[0].body[..], b"A");
    assert_eq!(
        responses[0].headers.get("Link"),
        None,
        "interim headers stay apart"
    );
    assert_eq!(&responses[1].body[..], b"A");
    assert_eq!(server.accepted(), 1);
    assert_eq!(
        *lines.lock().unwrap(),
        [
            "HTTP/1.1 102 Processing\r\n",
            "\r\n",
            "HTTP/1.1 103 Early Hints\r\n",
            "Link: </style.css>; rel=preload\r\n",
            "\r\n",
            "HTTP/1.1 200 OK\r\n",
            "Content-Length: 1\r\n",
            "\r\n",
        ]
    );
}

#[test]
fn interim_responses_are_limited() {
    let max = tornado_httpserver::http1connection::MAX_INFORMATIONAL_RESPONSES;
    let within: &'static [u8] = format!(
        "{}HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA",
        "HTTP/1.1 100 CONTINUE\r\n\r\n".repeat(max)
    )
    .into_bytes()
    .leak();
    let server = RawServer::respond_always(within);
    assert_eq!(
        &fetch(HttpRequest::new(server.url("/"))).unwrap().body[..],
        b"A"
    );

    let beyond: &'static [u8] = format!(
        "{}HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA",
        "HTTP/1.1 100 CONTINUE\r\n\r\n".repeat(max + 1)
    )
    .into_bytes()
    .leak();
    let server = RawServer::respond_always(beyond);
    let err = fetch(HttpRequest::new(server.url("/"))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err:?}");
    assert_eq!(err.code(), 599);
}

#[test]
fn http10_response_is_read_until_close() {
    let server = RawServer::start(|mut conn, _| {
        conn.read_request()?;
        conn.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello ")?;
        std::thread::sleep(std::time::Duration::from_millis(10));
        conn.write(b"until close")?;
        Ok(())
    });
    let lines = Arc::new(Mutex::new(Vec::new()));
    let seen = lines.clone();
    let client_result = run({
        let url = server.url("/");
        async move {
            let client = AsyncHttpClient::new();
            let response = client
                .fetch(
                    HttpRequest::new(url.as_str())
                        .header_callback(move |line| seen.lock().unwrap().push(line.to_owned())),
                )
                .await
                .unwrap();
            let idle = client.idle_connections();
            let again = client.fetch(url.as_str()).await.unwrap();
            (response, idle, again)
        }
    });
    let (response, idle, again) = client_result;
    assert_eq!(&response.body[..], b"hello until close");
    assert_eq!(&again.body[..], b"hello until close");
    assert_eq!(idle, 0, "a body read until close ends the connection");
    assert_eq!(server.accepted(), 2);
    assert_eq!(lines.lock().unwrap()[0], "HTTP/1.0 200 OK\r\n");
}

#[test]
fn http11_response_without_length_is_read_until_close() {
    // Tornado's test_no_content_length.
    let server = RawServer::start(|mut conn, _| {
        conn.read_request()?;
        conn.write(b"HTTP/1.1 200 OK\r\n\r\nhello")
    });
    let response = fetch(HttpRequest::new(server.url("/"))).unwrap();
    assert_eq!(&response.body[..], b"hello");
}

#[test]
fn http10_keep_alive_is_honoured() {
    let server = RawServer::respond_always(
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
    );
    let responses = fetch_all(vec![
        HttpRequest::new(server.url("/")),
        HttpRequest::new(server.url("/")),
    ]);
    assert!(responses.iter().all(|r| &r.body[..] == b"ok"));
    assert_eq!(server.accepted(), 1);
}

const TEXT: &[u8] = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit. \
    Lorem ipsum dolor sit amet, consectetur adipiscing elit.";

/// A server that answers every request with `body` under `Content-Encoding:
/// coding` (chunked if `chunked`), and sends the request's
/// `Accept-Encoding` back in `X-Accept-Encoding`.
fn encoded_server(coding: &'static str, body: Vec<u8>, chunked: bool) -> RawServer {
    RawServer::start(move |mut conn, _| {
        while let Some(request) = conn.read_request()? {
            let accept = request
                .header("Accept-Encoding")
                .unwrap_or("none")
                .to_owned();
            let headers = [
                ("Content-Encoding", coding),
                ("X-Accept-Encoding", accept.as_str()),
            ];
            if chunked {
                let mut out = format!(
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: {coding}\r\nX-Accept-Encoding: {accept}\r\n\r\n"
                )
                .into_bytes();
                for piece in body.chunks(7) {
                    out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                    out.extend_from_slice(piece);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
                conn.write(&out)?;
            } else if request.method() == "HEAD" {
                let mut head = response_with("HTTP/1.1 200 OK", &headers, &body);
                head.truncate(head.len() - body.len());
                conn.write(&head)?;
            } else {
                conn.write(&response_with("HTTP/1.1 200 OK", &headers, &body))?;
            }
        }
        Ok(())
    })
}

#[test]
fn gzip_and_deflate_are_decoded() {
    for (coding, encoded, chunked) in [
        ("gzip", gzip(TEXT), false),
        ("gzip", gzip(TEXT), true),
        ("x-gzip", gzip(TEXT), false),
        ("deflate", zlib(TEXT), false),
        ("deflate", zlib(TEXT), true),
        ("deflate", raw_deflate(TEXT), false),
    ] {
        let server = encoded_server(coding, encoded, chunked);
        let response = fetch(HttpRequest::new(server.url("/"))).unwrap();
        assert_eq!(&response.body[..], TEXT, "{coding}, chunked: {chunked}");
        assert_eq!(response.headers.get("Content-Encoding"), None);
        assert_eq!(
            response.headers.get("X-Consumed-Content-Encoding"),
            Some(coding)
        );
        assert_eq!(response.headers.get("X-Accept-Encoding"), Some("gzip"));
    }
}

#[test]
fn without_decompression_the_body_stays_encoded() {
    let encoded = gzip(TEXT);
    let server = encoded_server("gzip", encoded.clone(), false);
    let response = fetch(HttpRequest::new(server.url("/")).decompress_response(false)).unwrap();
    assert_eq!(response.body, encoded);
    assert_eq!(response.headers.get("Content-Encoding"), Some("gzip"));
    assert_eq!(response.headers.get("X-Consumed-Content-Encoding"), None);
    assert_eq!(response.headers.get("X-Accept-Encoding"), Some("none"));
    assert_eq!(
        response.headers.get("Content-Length"),
        Some(encoded.len().to_string().as_str())
    );
}

#[test]
fn concatenated_gzip_members_are_one_body() {
    let mut encoded = gzip(b"first member, ");
    encoded.extend_from_slice(&gzip(&b"second member ".repeat(10_000)));
    let server = encoded_server("gzip", encoded, false);
    let response = fetch(HttpRequest::new(server.url("/"))).unwrap();
    let mut want = b"first member, ".to_vec();
    want.extend_from_slice(&b"second member ".repeat(10_000));
    assert!(response.body == want, "{} bytes", response.body.len());
}

#[test]
fn gzip_head_response_has_no_body() {
    let server = encoded_server("gzip", gzip(TEXT), false);
    let responses = fetch_all(vec![
        HttpRequest::new(server.url("/")).method("HEAD"),
        HttpRequest::new(server.url("/")),
    ]);
    assert!(responses[0].body.is_empty());
    assert_eq!(&responses[1].body[..], TEXT);
    assert_eq!(server.accepted(), 1);
}

#[test]
fn unknown_content_encoding_is_left_alone() {
    let server = encoded_server("br", b"not really brotli".to_vec(), false);
    let response = fetch(HttpRequest::new(server.url("/"))).unwrap();
    assert_eq!(&response.body[..], b"not really brotli");
    assert_eq!(response.headers.get("Content-Encoding"), Some("br"));
}

#[test]
fn invalid_gzip_is_a_protocol_error() {
    // Tornado's test_invalid_gzip: a body that claims gzip but is not.
    for (coding, body) in [
        ("gzip", b"not gzip at all, not at all".to_vec()),
        ("gzip", {
            let mut truncated = gzip(TEXT);
            truncated.truncate(truncated.len() - 4);
            truncated
        }),
        ("deflate", b"\xff\xff\xff\xff not deflate".to_vec()),
    ] {
        let server = encoded_server(coding, body, false);
        let err = fetch(HttpRequest::new(server.url("/"))).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol, "{coding}: {err:?}");
        assert_eq!(err.code(), 599);
    }
}

#[test]
fn folded_header_lines_are_joined() {
    // Tornado's test_multi_line_headers.
    let server = RawServer::start(|mut conn, _| {
        conn.read_request()?;
        conn.write(b"HTTP/1.1 200 OK\r\nX-XSS-Protection: 1;\r\n\tmode=block\r\n\r\n")
    });
    let response = fetch(HttpRequest::new(server.url("/"))).unwrap();
    assert_eq!(
        response.headers.get("X-XSS-Protection"),
        Some("1; mode=block")
    );
    assert!(response.body.is_empty());
}

#[test]
fn non_ascii_header_values_are_kept() {
    // Tornado's test_non_ascii_header: Latin-1 bytes decode, UTF-8 stays.
    let server = RawServer::respond_always(
        b"HTTP/1.1 200 OK\r\nX-Latin: caf\xe9\r\nX-Utf8: caf\xc3\xa9\r\nContent-Length: 0\r\n\r\n",
    );
    let response = fetch(HttpRequest::new(server.url("/"))).unwrap();
    assert_eq!(response.headers.get("X-Latin"), Some("café"));
    assert_eq!(response.headers.get("X-Utf8"), Some("café"));
}

#[test]
fn head_response_that_claims_chunked_has_no_body() {
    let server = RawServer::start(|mut conn, _| {
        while let Some(request) = conn.read_request()? {
            if request.method() == "HEAD" {
                conn.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")?;
            } else {
                conn.write(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nget\r\n0\r\n\r\n",
                )?;
            }
        }
        Ok(())
    });
    let responses = fetch_all(vec![
        HttpRequest::new(server.url("/")).method("HEAD"),
        HttpRequest::new(server.url("/")),
    ]);
    assert!(responses[0].body.is_empty());
    assert_eq!(&responses[1].body[..], b"get");
    assert_eq!(server.accepted(), 1);
}
