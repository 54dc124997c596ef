//! `AsyncHttpClient::upgrade` against raw servers on threads: the `101` and
//! the bytes after it left in the stream, interim responses and blank lines
//! before it, refusals as errors with their status and body, a `CONNECT`
//! tunnel through a proxy for `http://`, the request checks, and the
//! handshake's timeout.

mod tls_support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

use tls_support::{IO_TIMEOUT, TestProxy, run};
use tornado_httpclient::{AsyncHttpClient, ErrorKind, HttpRequest, Phase};

/// Reads one request head, byte by byte (nothing after it is taken).
fn read_head(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).expect("read the request head");
        head.push(byte[0]);
    }
    String::from_utf8(head).expect("an ASCII head")
}

/// A server for one connection: reads the head, writes `answer`, then
/// echoes what follows until the client closes. Gives the head back.
fn server(answer: &'static [u8]) -> (String, JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/chat?x=1", listener.local_addr().unwrap());
    let thread = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        let head = read_head(&mut s);
        s.write_all(answer).unwrap();
        let mut buf = [0; 1024];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 || s.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        head
    });
    (url, thread)
}

fn echo_request(url: &str) -> HttpRequest {
    HttpRequest::new(url).header("Upgrade", "echo")
}

#[test]
fn a_101_hands_over_the_stream_with_the_bytes_after_the_head() {
    let (url, thread) = server(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nfirst",
    );
    run(async move {
        let upgraded = AsyncHttpClient::new()
            .upgrade(echo_request(&url).header("X-Custom", "yes"))
            .await
            .unwrap();
        assert_eq!(upgraded.response.code, 101);
        assert_eq!(upgraded.response.reason, "Switching Protocols");
        assert_eq!(upgraded.response.headers.get("Upgrade"), Some("echo"));
        assert!(upgraded.response.body.is_empty());
        assert!(upgraded.response.time_info.connect.is_some());
        let stream = upgraded.stream;
        assert_eq!(&stream.read_bytes(5, false).await.unwrap()[..], b"first");
        stream.write(b"ping").await.unwrap();
        assert_eq!(&stream.read_bytes(4, false).await.unwrap()[..], b"ping");
        stream.close();
    });
    let head = thread.join().unwrap();
    assert!(head.starts_with("GET /chat?x=1 HTTP/1.1\r\n"), "{head}");
    for line in ["Upgrade: echo", "Connection: Upgrade", "X-Custom: yes"] {
        assert!(head.contains(&format!("\r\n{line}\r\n")), "{line}: {head}");
    }
}

#[test]
fn interim_responses_and_blank_lines_before_the_101() {
    let (url, thread) = server(
        b"\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\n\nHTTP/1.1 101 OK\nUpgrade: echo\n\nrest",
    );
    run(async move {
        let upgraded = AsyncHttpClient::new()
            .upgrade(echo_request(&url))
            .await
            .unwrap();
        assert_eq!(upgraded.response.code, 101);
        assert_eq!(
            &upgraded.stream.read_bytes(4, false).await.unwrap()[..],
            b"rest"
        );
        upgraded.stream.close();
    });
    thread.join().unwrap();
}

#[test]
fn a_refusal_is_an_error_with_its_status_and_body() {
    let rows: [(&'static [u8], u16, &str); 3] = [
        (
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope",
            404,
            "HTTP 404: Not Found",
        ),
        (
            b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nno!\r\n0\r\n\r\n",
            403,
            "HTTP 403: Forbidden",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\npage",
            200,
            "HTTP 200: OK (the server did not switch protocols)",
        ),
    ];
    for (answer, code, message) in rows {
        let (url, thread) = server(answer);
        run(async move {
            let err = AsyncHttpClient::new()
                .upgrade(echo_request(&url))
                .await
                .unwrap_err();
            assert_eq!((err.kind(), err.code()), (ErrorKind::Http, code), "{err}");
            assert_eq!(err.message(), message);
            let response = err.response().unwrap();
            assert_eq!(response.code, code);
            assert_eq!(response.body.len(), if code == 403 { 3 } else { 4 });
        });
        thread.join().unwrap();
    }
}

#[test]
fn through_a_proxy_an_http_upgrade_goes_by_connect() {
    let proxy = TestProxy::start(None);
    let (url, thread) = server(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\n\r\n");
    let port = proxy.port();
    let target = url
        .trim_start_matches("http://")
        .trim_end_matches("/chat?x=1");
    let target = target.to_owned();
    run(async move {
        let upgraded = AsyncHttpClient::new()
            .upgrade(echo_request(&url).proxy("127.0.0.1", port))
            .await
            .unwrap();
        upgraded.stream.write(b"through").await.unwrap();
        assert_eq!(
            &upgraded.stream.read_bytes(7, false).await.unwrap()[..],
            b"through"
        );
        upgraded.stream.close();
    });
    let seen = proxy.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].request_line, format!("CONNECT {target} HTTP/1.1"));
    // The origin got the request in origin form, through the tunnel.
    assert!(
        thread
            .join()
            .unwrap()
            .starts_with("GET /chat?x=1 HTTP/1.1\r\n")
    );
}

#[test]
fn requests_that_cannot_be_upgrades() {
    run(async {
        let client = AsyncHttpClient::new();
        let rows = [
            (HttpRequest::new("http://127.0.0.1:9/"), "Upgrade header"),
            (echo_request("http://127.0.0.1:9/").body("x"), "no body"),
            (echo_request("ws://127.0.0.1:9/"), "unsupported scheme"),
            (
                echo_request("http://127.0.0.1:9/").header("X-Bad", "a\r\nb"),
                "X-Bad",
            ),
        ];
        for (request, why) in rows {
            let err = client.upgrade(request).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
            assert!(err.message().contains(why), "{why}: {err}");
        }
    });
}

#[test]
fn the_request_timeout_bounds_the_handshake() {
    // Accepts (the kernel does) and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    run(async move {
        let request = echo_request(&url).request_timeout(Duration::from_millis(200));
        let err = AsyncHttpClient::new().upgrade(request).await.unwrap_err();
        assert!(err.is_timeout(), "{err}");
        assert_eq!(err.phase(), Some(Phase::Receive));
    });
    drop(listener);
}

#[test]
fn a_head_cut_off_is_an_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let thread = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        read_head(&mut s);
        s.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgr")
            .unwrap();
    });
    run(async move {
        let err = AsyncHttpClient::new()
            .upgrade(echo_request(&url))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Closed, "{err}");
        assert_eq!(err.code(), 599);
    });
    thread.join().unwrap();
}
