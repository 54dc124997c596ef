//! Response size limits: `max_body_size` (counted after decompression, so a
//! small gzip body that inflates beyond it fails too; with and without a
//! `streaming_callback`), `max_header_size`, and a 64 MiB body streamed
//! through a `streaming_callback` without ever being held whole
//! (Tornado's `HTTPClientMaxBodySizeTestCase`, `MaxHeaderSizeTest`,
//! `MaxBodySizeUntilCloseTest`, `test_decompression_bomb_*`,
//! `test_streaming_callback_large_body`).

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{RawServer, gzip, response_with, run};
use tornado_httpclient::{
    AsyncHttpClient, ErrorKind, HttpClientError, HttpRequest, HttpResponse, Phase,
};

fn fetch(request: HttpRequest) -> Result<HttpResponse, HttpClientError> {
    run(async move { AsyncHttpClient::new().fetch(request).await })
}

const KIB: usize = 1024;

/// Answers each request with `len` bytes of `x`: framed by
/// `Content-Length`, chunked, or until close.
fn sized_server(len: usize, framing: &'static str) -> RawServer {
    RawServer::start(move |mut conn, _| {
        while conn.read_request()?.is_some() {
            let body = vec![b'x'; len];
            match framing {
                "length" => conn.write(&response_with("HTTP/1.1 200 OK", &[], &body))?,
                "chunked" => {
                    conn.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")?;
                    for piece in body.chunks(KIB) {
                        conn.write(format!("{:x}\r\n", piece.len()).as_bytes())?;
                        conn.write(piece)?;
                        conn.write(b"\r\n")?;
                    }
                    conn.write(b"0\r\n\r\n")?;
                }
                _ => {
                    conn.write(b"HTTP/1.1 200 OK\r\n\r\n")?;
                    conn.write(&body)?;
                    return Ok(());
                }
            }
        }
        Ok(())
    })
}

#[test]
fn body_within_the_limit() {
    for framing in ["length", "chunked", "close"] {
        let server = sized_server(64 * KIB, framing);
        let response =
            fetch(HttpRequest::new(server.url("/")).max_body_size(64 * KIB as u64)).unwrap();
        assert_eq!(response.body.len(), 64 * KIB, "{framing}");
    }
}

#[test]
fn body_over_the_limit() {
    for framing in ["length", "chunked", "close"] {
        for streaming in [false, true] {
            let server = sized_server(64 * KIB + 1, framing);
            let mut request = HttpRequest::new(server.url("/")).max_body_size(64 * KIB as u64);
            if streaming {
                request = request.streaming_callback(|_| {});
            }
            let err = fetch(request).unwrap_err();
            let case = format!("{framing}, streaming: {streaming}");
            assert_eq!(err.kind(), ErrorKind::BodyTooLarge, "{case}: {err:?}");
            assert!(err.is_body_too_large());
            assert_eq!(err.code(), 599, "{case}");
            assert_eq!(err.phase(), Some(Phase::Receive), "{case}");
            assert!(
                err.to_string().contains(&server.addr().to_string()),
                "{case}: {err}"
            );
        }
    }
}

#[test]
fn an_announced_length_over_the_limit_fails_at_once() {
    // The head alone is enough to refuse: no waiting for a gigabyte.
    let server = RawServer::start(|mut conn, _| {
        conn.read_request()?;
        conn.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n")?;
        conn.read_until_close().map(drop)
    });
    let err = fetch(
        HttpRequest::new(server.url("/"))
            .max_body_size(KIB as u64)
            .request_timeout(Duration::from_secs(20)),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BodyTooLarge, "{err:?}");
}

#[test]
fn a_small_gzip_body_that_inflates_beyond_the_limit() {
    let bomb = gzip(&vec![0u8; 4 * 1024 * KIB]);
    assert!(bomb.len() < 16 * KIB, "{}", bomb.len());
    let server = RawServer::start(move |mut conn, _| {
        while conn.read_request()?.is_some() {
            conn.write(&response_with(
                "HTTP/1.1 200 OK",
                &[("Content-Encoding", "gzip")],
                &bomb,
            ))?;
        }
        Ok(())
    });
    let limit = 64 * KIB as u64;
    let err = fetch(HttpRequest::new(server.url("/")).max_body_size(limit)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BodyTooLarge, "{err:?}");

    // Streaming gets no more than the limit before the error.
    let streamed = Arc::new(AtomicU64::new(0));
    let s = streamed.clone();
    let err = fetch(
        HttpRequest::new(server.url("/"))
            .max_body_size(limit)
            .streaming_callback(move |piece| {
                s.fetch_add(piece.len() as u64, Ordering::SeqCst);
            }),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BodyTooLarge, "{err:?}");
    assert!(streamed.load(Ordering::SeqCst) <= limit);

    // Left compressed, it is small enough.
    let response = fetch(
        HttpRequest::new(server.url("/"))
            .max_body_size(limit)
            .decompress_response(false),
    )
    .unwrap();
    assert!(response.body.len() < 16 * KIB);
}

#[test]
fn the_client_goes_on_after_a_refused_body() {
    // Tornado's test_reuse_after_refusal: the refused response spoils its
    // connection, not the client.
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let server = RawServer::start(move |mut conn, index| {
        while let Some(request) = conn.read_request()? {
            l.lock().unwrap().push(index);
            let len = if request.request_line().contains("/large") {
                100 * KIB
            } else {
                10
            };
            conn.write(&response_with("HTTP/1.1 200 OK", &[], &vec![b'x'; len]))?;
        }
        Ok(())
    });
    let (large, small) = (server.url("/large"), server.url("/small"));
    run(async move {
        let client = AsyncHttpClient::new();
        let err = client
            .fetch(HttpRequest::new(large.as_str()).max_body_size(64 * KIB as u64))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BodyTooLarge);
        assert_eq!(client.idle_connections(), 0);
        let response = client
            .fetch(HttpRequest::new(small.as_str()).max_body_size(64 * KIB as u64))
            .await
            .unwrap();
        assert_eq!(response.body.len(), 10);
    });
    assert_eq!(*log.lock().unwrap(), [0, 1]);
}

#[test]
fn max_header_size() {
    let big_value = "v".repeat(10 * KIB);
    let head: &'static [u8] =
        format!("HTTP/1.1 200 OK\r\nX-Big: {big_value}\r\nContent-Length: 2\r\n\r\nok")
            .into_bytes()
            .leak();
    let server = RawServer::respond_always(head);
    let err = fetch(HttpRequest::new(server.url("/")).max_header_size(KIB)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::HeaderTooLarge, "{err:?}");
    assert_eq!(err.code(), 599);
    assert_eq!(err.phase(), Some(Phase::Receive));

    // The default (64 KiB) takes it.
    let response = fetch(HttpRequest::new(server.url("/"))).unwrap();
    assert_eq!(response.headers.get("X-Big"), Some(big_value.as_str()));
    // And so does a limit raised above it.
    let response = fetch(HttpRequest::new(server.url("/")).max_header_size(11 * KIB)).unwrap();
    assert_eq!(&response.body[..], b"ok");
}

#[test]
fn a_head_that_never_ends_is_refused() {
    let server = RawServer::start(|mut conn, _| {
        conn.read_request()?;
        conn.write(b"HTTP/1.1 200 OK\r\n")?;
        let line = format!("X-More: {}\r\n", "m".repeat(1000));
        for _ in 0..200 {
            if conn.write(line.as_bytes()).is_err() {
                break;
            }
        }
        conn.read_until_close().map(drop)
    });
    let err = fetch(HttpRequest::new(server.url("/"))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::HeaderTooLarge, "{err:?}");
}

/// The byte at `offset` of the large body.
fn pattern(offset: u64) -> u8 {
    (offset % 251) as u8
}

#[test]
fn a_64_mib_body_streams_through() {
    const SIZE: u64 = 64 * 1024 * 1024;
    const BLOCK: usize = 64 * KIB;
    let server = RawServer::start(|mut conn, _| {
        conn.read_request()?;
        conn.write(format!("HTTP/1.1 200 OK\r\nContent-Length: {SIZE}\r\n\r\n").as_bytes())?;
        // The pattern repeats every 251 bytes: keep one block that starts
        // at every phase, and write slices of it.
        let template: Vec<u8> = (0..(BLOCK as u64 + 251)).map(pattern).collect();
        let mut sent = 0u64;
        while sent < SIZE {
            let n = BLOCK.min((SIZE - sent) as usize);
            let phase = (sent % 251) as usize;
            conn.write(&template[phase..phase + n])?;
            sent += n as u64;
        }
        Ok(())
    });
    let url = server.url("/large");
    let received = Arc::new(Mutex::new((0u64, 0usize, true)));
    let r = received.clone();
    let response = run(async move {
        AsyncHttpClient::new()
            .fetch(
                HttpRequest::new(url)
                    .max_body_size(2 * SIZE)
                    .streaming_callback(move |piece| {
                        let mut r = r.lock().unwrap();
                        let (offset, pieces, ordered) = &mut *r;
                        // Check the ends of each piece: order and continuity.
                        if let (Some(&first), Some(&last)) = (piece.first(), piece.last()) {
                            *ordered &= first == pattern(*offset)
                                && last == pattern(*offset + piece.len() as u64 - 1);
                        }
                        *offset += piece.len() as u64;
                        *pieces += 1;
                    }),
            )
            .await
            .unwrap()
    });
    let (bytes, pieces, ordered) = *received.lock().unwrap();
    assert_eq!(bytes, SIZE);
    assert!(ordered, "the pieces came in order");
    assert!(pieces > 1);
    assert!(response.body.is_empty());
    assert_eq!(
        response.headers.get("Content-Length"),
        Some(SIZE.to_string().as_str())
    );
}
