//! The request's hooks: `streaming_callback` (the body piece by piece, the
//! response body left empty), `header_callback` (the head line by line, as
//! Tornado gives it), `body_producer` (a streamed request body, chunked or
//! with a `Content-Length`) and `expect_100_continue` (the body held back
//! until the server says `100 Continue`, and never sent when it answers
//! first) (Tornado's `test_streaming_callback`, `test_header_callback`,
//! `test_header_callback_to_parse_line`, `test_*_body_producer_*`,
//! `test_100_continue`, `test_100_continue_early_response`).

mod support;

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use bytes::Bytes;
use support::{Echo, RawServer, gzip, response_with, run, serve_app};
use tornado_httpclient::{AsyncHttpClient, ErrorKind, HttpRequest, Phase};
use tornado_httpserver::httputil::HttpHeaders;

/// How slow a raw server thread must have been for the client's
/// one-second wait for `100 Continue` to have run out.
const SLOW: Duration = Duration::from_millis(900);

#[test]
fn streaming_callback_gets_each_piece() {
    // The server sends the second chunk only once the client has handed
    // the first to the callback, so the pieces are exactly the chunks.
    let (got_first, first_seen) = mpsc::channel::<()>();
    let first_seen = Mutex::new(first_seen);
    let server = RawServer::start(move |mut conn, _| {
        conn.read_request()?;
        conn.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=UTF-8\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nasdf\r\n",
        )?;
        let _ = first_seen.lock().unwrap().recv_timeout(support::IO_TIMEOUT);
        conn.write(b"4\r\nqwer\r\n0\r\n\r\n")
    });
    let url = server.url("/chunk");
    let chunks = Arc::new(Mutex::new(Vec::<Bytes>::new()));
    let headers = Arc::new(Mutex::new(HttpHeaders::new()));
    let first_lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let (c, h, f) = (chunks.clone(), headers.clone(), first_lines.clone());
    let (h2, got_first) = (headers.clone(), Mutex::new(got_first));
    let response = run(async move {
        AsyncHttpClient::new()
            .fetch(
                HttpRequest::new(url)
                    .header_callback(move |line| {
                        if line.starts_with("HTTP/") {
                            f.lock().unwrap().push(line.to_owned());
                        } else {
                            h.lock().unwrap().parse_line(line).unwrap();
                        }
                    })
                    .streaming_callback(move |chunk| {
                        // Every header line came before any piece of the body.
                        assert_eq!(
                            h2.lock().unwrap().get("Content-Type"),
                            Some("text/html; charset=UTF-8")
                        );
                        c.lock().unwrap().push(chunk);
                        let _ = got_first.lock().unwrap().send(());
                    }),
            )
            .await
            .unwrap()
    });
    assert!(response.body.is_empty(), "the callback took the body");
    assert_eq!(*chunks.lock().unwrap(), [&b"asdf"[..], b"qwer"]);
    assert_eq!(*first_lines.lock().unwrap(), ["HTTP/1.1 200 OK\r\n"]);
    // The headers are in the response too.
    assert_eq!(response.headers.get("Transfer-Encoding"), Some("chunked"));
}

#[test]
fn streamed_pieces_add_up_to_the_body() {
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        let whole = client.fetch(format!("{base}/echo")).await.unwrap();
        let pieces = Arc::new(Mutex::new(Vec::new()));
        let p = pieces.clone();
        let streamed = client
            .fetch(
                HttpRequest::new(format!("{base}/echo"))
                    .streaming_callback(move |piece| p.lock().unwrap().extend_from_slice(&piece)),
            )
            .await
            .unwrap();
        assert!(streamed.body.is_empty());
        assert_eq!(*pieces.lock().unwrap(), whole.body);
        server.stop();
    });
}

#[test]
fn streamed_pieces_are_decompressed() {
    let text = b"compressible text ".repeat(20_000);
    let encoded = gzip(&text);
    let server = RawServer::start(move |mut conn, _| {
        conn.read_request()?;
        conn.write(&response_with(
            "HTTP/1.1 200 OK",
            &[("Content-Encoding", "gzip")],
            &encoded,
        ))
    });
    let url = server.url("/");
    let pieces = Arc::new(Mutex::new(Vec::<Bytes>::new()));
    let p = pieces.clone();
    let response = run(async move {
        AsyncHttpClient::new()
            .fetch(
                HttpRequest::new(url)
                    .streaming_callback(move |piece| p.lock().unwrap().push(piece)),
            )
            .await
            .unwrap()
    });
    assert!(response.body.is_empty());
    let pieces = pieces.lock().unwrap();
    assert!(pieces.len() > 1, "a large body comes in several pieces");
    assert!(pieces.concat() == text);
    assert_eq!(
        response.headers.get("X-Consumed-Content-Encoding"),
        Some("gzip")
    );
}

#[test]
fn header_callback_lines_are_tornados() {
    let server = RawServer::respond_always(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Spaces:   padded  \r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\nhi",
    );
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let l = lines.clone();
    let url = server.url("/");
    let response = run(async move {
        AsyncHttpClient::new()
            .fetch(
                HttpRequest::new(url)
                    .header_callback(move |line| l.lock().unwrap().push(line.to_owned())),
            )
            .await
            .unwrap()
    });
    assert_eq!(&response.body[..], b"hi");
    let lines = lines.lock().unwrap();
    assert_eq!(
        *lines,
        [
            "HTTP/1.1 200 OK\r\n",
            "Content-Type: text/plain\r\n",
            "X-Spaces: padded\r\n",
            "Set-Cookie: a=1\r\n",
            "Set-Cookie: b=2\r\n",
            "Content-Length: 2\r\n",
            "\r\n",
        ]
    );
    // Fed back to HttpHeaders::parse_line, the values have no stray
    // whitespace (Tornado's test_header_callback_to_parse_line).
    let mut headers = HttpHeaders::new();
    for line in lines.iter().skip(1) {
        headers.parse_line(line).unwrap();
    }
    for (name, value) in headers.iter() {
        assert_eq!(value, value.trim(), "{name}");
    }
    assert_eq!(
        headers.get_all("Set-Cookie").collect::<Vec<_>>(),
        ["a=1", "b=2"]
    );
}

#[test]
fn a_panicking_callback_fails_its_fetch_only() {
    // A callback is a plain FnMut, kept in a mutex: a panic in it ends that
    // fetch (its task), frees its slot, and leaves the callback usable for
    // a later fetch of the same request.
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::with_config(tornado_httpclient::ClientConfig {
            max_clients: 1,
            ..Default::default()
        });
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let request = HttpRequest::new(format!("{base}/hello")).header_callback(move |_| {
            if c.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("the header callback failed");
            }
        });
        let failed = tornado_ioloop::spawn({
            let (client, request) = (client.clone(), request.clone());
            async move { client.fetch(request).await }
        });
        assert!(failed.await.is_err(), "the panic ends the fetch's task");
        assert_eq!(client.load(), (0, 0), "the slot was given back");
        let response = client.fetch(request).await.unwrap();
        assert_eq!(response.text().unwrap(), "Hello world!");
        assert!(calls.load(Ordering::SeqCst) > 1);
        server.stop();
    });
}

/// A raw server that reads one request at a time and answers with its
/// head and body (JSON-free, for exact framing checks).
fn mirror_server() -> RawServer {
    RawServer::start(|mut conn, _| {
        while let Some(request) = conn.read_request()? {
            let mut answer = request.head.clone().into_bytes();
            answer.extend_from_slice(b"\r\n\r\n");
            answer.extend_from_slice(&request.body);
            conn.write(&response_with("HTTP/1.1 200 OK", &[], &answer))?;
        }
        Ok(())
    })
}

fn split_mirror(body: &[u8]) -> (String, Vec<u8>) {
    let text = String::from_utf8_lossy(body);
    let (head, rest) = text.split_once("\r\n\r\n").unwrap();
    (head.to_owned(), rest.as_bytes().to_vec())
}

fn has_header(head: &str, line: &str) -> bool {
    head.split("\r\n").any(|l| l.eq_ignore_ascii_case(line))
}

#[test]
fn body_producer_chunked() {
    let server = mirror_server();
    let url = server.url("/");
    let response = run(async move {
        AsyncHttpClient::new()
            .fetch(
                HttpRequest::new(url)
                    .method("POST")
                    .body_producer(|writer| async move {
                        writer.write("1234").await?;
                        // A producer may wait between pieces.
                        tornado_ioloop::sleep(Duration::from_millis(5)).await;
                        writer.write(Bytes::from_static(b"5678")).await?;
                        writer.write("").await
                    }),
            )
            .await
            .unwrap()
    });
    let (head, body) = split_mirror(&response.body);
    assert_eq!(body, b"12345678");
    assert!(has_header(&head, "Transfer-Encoding: chunked"), "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("content-length"),
        "{head}"
    );
}

#[test]
fn body_producer_with_content_length() {
    let server = mirror_server();
    let url = server.url("/");
    let response = run(async move {
        AsyncHttpClient::new()
            .fetch(
                HttpRequest::new(url)
                    .method("PUT")
                    .header("Content-Length", "8")
                    .body_producer(|writer| async move {
                        writer.write("1234").await?;
                        writer.write("5678").await
                    }),
            )
            .await
            .unwrap()
    });
    let (head, body) = split_mirror(&response.body);
    assert_eq!(body, b"12345678");
    assert!(has_header(&head, "Content-Length: 8"), "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("transfer-encoding"),
        "{head}"
    );
}

#[test]
fn body_producer_through_our_server() {
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        let response = client
            .fetch(
                HttpRequest::new(format!("{base}/echo"))
                    .method("POST")
                    .body_producer(|writer| async move {
                        for i in 0..100 {
                            writer.write(format!("{i},")).await?;
                        }
                        Ok(())
                    }),
            )
            .await
            .unwrap();
        let echo = Echo::parse(&response.body);
        let want: String = (0..100).map(|i| format!("{i},")).collect();
        assert_eq!(echo.body, want);
        assert_eq!(echo.header("Transfer-Encoding"), Some("chunked"));
        // The connection is fit for another request.
        let again = client.fetch(format!("{base}/hello")).await.unwrap();
        assert_eq!(again.code, 200);
        assert_eq!(server.connection_count(), 1);
        server.stop();
    });
}

#[test]
fn body_producer_failures() {
    let server = mirror_server();
    let url = server.url("/");
    run(async move {
        let client = AsyncHttpClient::new();
        // The producer's own error.
        let err = client
            .fetch(HttpRequest::new(url.as_str()).method("POST").body_producer(
                |writer| async move {
                    writer.write("part").await?;
                    Err(io::Error::other("the producer gave up"))
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BodyProducer, "{err:?}");
        assert_eq!(err.code(), 599);
        assert_eq!(err.phase(), Some(Phase::Send));
        assert!(err.to_string().contains("the producer gave up"), "{err}");

        // More than the declared length.
        let err = client
            .fetch(
                HttpRequest::new(url.as_str())
                    .method("POST")
                    .header("Content-Length", "3")
                    .body_producer(|writer| async move { writer.write("too long").await }),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BodyProducer, "{err:?}");

        // Less than the declared length.
        let err = client
            .fetch(
                HttpRequest::new(url.as_str())
                    .method("POST")
                    .header("Content-Length", "30")
                    .body_producer(|writer| async move { writer.write("short").await }),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BodyProducer, "{err:?}");
        assert_eq!(
            client.idle_connections(),
            0,
            "a half-sent body spoils the connection"
        );

        // The client goes on working.
        let response = client.fetch(url.as_str()).await.unwrap();
        assert_eq!(response.code, 200);
    });
}

#[test]
fn expect_100_continue_with_our_server() {
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        let response = client
            .fetch(
                HttpRequest::new(format!("{base}/echo"))
                    .method("PUT")
                    .body("the body")
                    .expect_100_continue(true),
            )
            .await
            .unwrap();
        let echo = Echo::parse(&response.body);
        assert_eq!(echo.body, "the body");
        assert_eq!(echo.header("Expect"), Some("100-continue"));
        // Without a body there is nothing to hold back, so nothing to ask.
        let response = client
            .fetch(HttpRequest::new(format!("{base}/echo")).expect_100_continue(true))
            .await
            .unwrap();
        assert_eq!(Echo::parse(&response.body).header("Expect"), None);
        server.stop();
    });
}

#[test]
fn expect_100_continue_holds_the_body_until_asked() {
    let held = Arc::new(Mutex::new(None));
    let h = held.clone();
    let server = RawServer::start(move |mut conn, _| {
        let began = Instant::now();
        let head = conn.read_head()?.expect("a head");
        // Nothing of the body came with the head (unless this thread was
        // so slow that the client's one-second wait ran out).
        *h.lock().unwrap() = Some((conn.buffered(), began.elapsed()));
        conn.write(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        let body = conn.read_body(&head)?;
        conn.write(&response_with("HTTP/1.1 200 OK", &[], &body))?;
        // The connection carries a second request normally.
        if let Some(request) = conn.read_request()? {
            conn.write(&response_with("HTTP/1.1 200 OK", &[], &request.body))?;
        }
        Ok(())
    });
    let url = server.url("/");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let l = lines.clone();
    let (first, second) = run(async move {
        let client = AsyncHttpClient::new();
        let first = client
            .fetch(
                HttpRequest::new(url.as_str())
                    .method("POST")
                    .body("held back")
                    .expect_100_continue(true)
                    .header_callback(move |line| l.lock().unwrap().push(line.to_owned())),
            )
            .await
            .unwrap();
        let second = client
            .fetch(HttpRequest::new(url.as_str()).method("POST").body("next"))
            .await
            .unwrap();
        (first, second)
    });
    assert_eq!(&first.body[..], b"held back");
    assert_eq!(&second.body[..], b"next");
    let (buffered, elapsed) = held.lock().unwrap().expect("the server read the head");
    assert!(
        buffered == 0 || elapsed >= SLOW,
        "{buffered} body bytes came with the head"
    );
    assert_eq!(server.accepted(), 1);
    assert_eq!(lines.lock().unwrap()[0], "HTTP/1.1 200 OK\r\n");
}

#[test]
fn expect_100_continue_refused_early() {
    // The server answers 417 (or any final status) instead of 100: the body
    // is never sent, and the connection is not used again.
    for status in ["HTTP/1.1 417 Expectation Failed", "HTTP/1.1 200 OK"] {
        let body_bytes = Arc::new(Mutex::new(None));
        let b = body_bytes.clone();
        let server = RawServer::start(move |mut conn, _| {
            let began = Instant::now();
            conn.read_head()?;
            conn.write(&response_with(status, &[], b"no"))?;
            let answered_in = began.elapsed();
            // Whatever arrives until the client closes would be the body.
            *b.lock().unwrap() = Some((conn.read_until_close()?, answered_in));
            Ok(())
        });
        let url = server.url("/");
        let seen = body_bytes.clone();
        let response = run(async move {
            let client = AsyncHttpClient::new();
            let response = client
                .fetch(
                    HttpRequest::new(url.as_str())
                        .method("POST")
                        .body(vec![b'x'; 100_000])
                        .expect_100_continue(true)
                        .raise_error(false),
                )
                .await
                .unwrap();
            assert_eq!(client.idle_connections(), 0, "{status}");
            // Wait for the server to see the close.
            assert!(
                support::wait_until(Duration::from_secs(15), || seen.lock().unwrap().is_some())
                    .await
            );
            response
        });
        assert_eq!(&response.body[..], b"no", "{status}");
        assert_eq!(&status[9..12], response.code.to_string(), "{status}");
        let (sent, answered_in) = body_bytes.lock().unwrap().unwrap();
        // The client waits a second for the answer before it sends anyway.
        assert!(
            sent == 0 || answered_in >= SLOW,
            "{status}: {sent} bytes of the body were sent"
        );
    }
}

#[test]
fn expect_100_continue_sends_anyway_after_a_while() {
    // A server that ignores Expect and just waits for the body.
    let server = RawServer::start(|mut conn, _| {
        let request = conn.read_request()?.expect("a request");
        conn.write(&response_with("HTTP/1.1 200 OK", &[], &request.body))
    });
    let url = server.url("/");
    let response = run(async move {
        AsyncHttpClient::new()
            .fetch(
                HttpRequest::new(url)
                    .method("POST")
                    .body("eventually")
                    .expect_100_continue(true),
            )
            .await
            .unwrap()
    });
    assert_eq!(&response.body[..], b"eventually");
}

#[test]
fn expect_100_continue_with_a_body_producer() {
    let server = RawServer::start(|mut conn, _| {
        let head = conn.read_head()?.expect("a head");
        conn.write(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        let body = conn.read_body(&head)?;
        conn.write(&response_with("HTTP/1.1 200 OK", &[], &body))
    });
    let url = server.url("/");
    let response = run(async move {
        AsyncHttpClient::new()
            .fetch(
                HttpRequest::new(url)
                    .method("POST")
                    .expect_100_continue(true)
                    .body_producer(|writer| async move {
                        writer.write("pro").await?;
                        writer.write("duced").await
                    }),
            )
            .await
            .unwrap()
    });
    assert_eq!(&response.body[..], b"produced");
}

#[test]
fn expect_100_continue_answered_by_a_redirect() {
    // The server answers 307 before asking for the body: the body is not
    // sent on that connection, and the redirected request carries it.
    let abandoned = Arc::new(Mutex::new(None));
    let a = abandoned.clone();
    let server = RawServer::start(move |mut conn, _| {
        let began = Instant::now();
        while let Some(head) = conn.read_head()? {
            if head.starts_with("POST /start ") {
                conn.write(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /final\r\nContent-Length: 0\r\n\r\n")?;
                let answered_in = began.elapsed();
                // The body never comes: the client closes this connection.
                *a.lock().unwrap() = Some((conn.read_until_close()?, answered_in));
                return Ok(());
            }
            conn.write(b"HTTP/1.1 100 Continue\r\n\r\n")?;
            let body = conn.read_body(&head)?;
            conn.write(&response_with("HTTP/1.1 200 OK", &[], &body))?;
        }
        Ok(())
    });
    let url = server.url("/start");
    let response = run(async move {
        AsyncHttpClient::new()
            .fetch(
                HttpRequest::new(url)
                    .method("POST")
                    .body("the body")
                    .expect_100_continue(true),
            )
            .await
            .unwrap()
    });
    assert_eq!(&response.body[..], b"the body");
    assert_eq!(server.accepted(), 2);
    drop(server);
    let deadline = Instant::now() + Duration::from_secs(15);
    while abandoned.lock().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let (sent, answered_in) = abandoned
        .lock()
        .unwrap()
        .expect("the first connection closed");
    assert!(
        sent == 0 || answered_in >= SLOW,
        "{sent} body bytes on the first connection"
    );
}
