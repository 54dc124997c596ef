//! What a failed fetch gives: HTTP errors with the response attached,
//! `raise_error(false)` and `rethrow`, code 599 for transport failures,
//! messages that name the host and the phase, and requests refused before
//! anything is sent (Tornado's `test_future_http_error`,
//! `test_future_http_error_no_raise`, `test_connection_refused`,
//! `test_header_crlf`, `test_body_sanity_checks`, `HTTPErrorTestCase`).

mod support;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use support::{RawServer, closed_port, run, serve_app};
use tornado_httpclient::{
    AsyncHttpClient, ErrorKind, HttpClientError, HttpRequest, HttpResponse, Phase,
    TRANSPORT_ERROR_CODE,
};

fn fetch(request: HttpRequest) -> Result<HttpResponse, HttpClientError> {
    run(async move { AsyncHttpClient::new().fetch(request).await })
}

#[test]
fn non_2xx_is_an_error_with_the_response() {
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        for code in [400u16, 404, 500, 503] {
            let err = client
                .fetch(format!("{base}/status/{code}"))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Http);
            assert_eq!(err.code(), code);
            assert_eq!(err.phase(), None);
            assert!(!err.is_timeout());
            let reason = http::StatusCode::from_u16(code)
                .unwrap()
                .canonical_reason()
                .unwrap();
            assert_eq!(err.to_string(), format!("HTTP {code}: {reason}"));
            let response = err.response().expect("the response is attached");
            assert_eq!(response.code, code);
            assert_eq!(response.text().unwrap(), format!("status {code}"));
            assert_eq!(response.effective_url, format!("{base}/status/{code}"));
            let response = err.into_response().unwrap();
            assert_eq!(response.reason, reason);
        }
        server.stop();
    });
}

#[test]
fn raise_error_false_returns_the_response_with_its_error() {
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        let response = client
            .fetch(HttpRequest::new(format!("{base}/status/404")).raise_error(false))
            .await
            .unwrap();
        assert_eq!(response.code, 404);
        assert_eq!(response.text().unwrap(), "status 404");
        let error = response.error.as_ref().expect("error is set");
        assert_eq!(error.code(), 404);
        assert_eq!(error.kind(), ErrorKind::Http);
        let rethrown = response.rethrow().unwrap_err();
        assert_eq!(rethrown.code(), 404);
        assert_eq!(rethrown.response().unwrap().text().unwrap(), "status 404");

        // A success has nothing to rethrow.
        let response = client
            .fetch(HttpRequest::new(format!("{base}/hello")).raise_error(false))
            .await
            .unwrap();
        assert!(response.error.is_none());
        assert_eq!(response.rethrow().unwrap().code, 200);

        // The client-wide default.
        let client = AsyncHttpClient::with_config(tornado_httpclient::ClientConfig {
            defaults: HttpRequest::default().raise_error(false),
            ..Default::default()
        });
        let response = client.fetch(format!("{base}/status/500")).await.unwrap();
        assert_eq!(response.code, 500);
        server.stop();
    });
}

#[test]
fn the_reason_phrase_is_the_servers() {
    for (bytes, reason) in [
        (
            &b"HTTP/1.1 499 Custom Reason Here\r\nContent-Length: 0\r\n\r\n"[..],
            "Custom Reason Here",
        ),
        (b"HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", "Not Found"),
        (
            b"HTTP/1.1 599 \r\nContent-Length: 0\r\n\r\n",
            "Network Connect Timeout Error",
        ),
    ] {
        let server = RawServer::respond_always(bytes);
        let err = fetch(HttpRequest::new(server.url("/"))).unwrap_err();
        let code: u16 = String::from_utf8_lossy(&bytes[9..12]).parse().unwrap();
        assert_eq!(err.kind(), ErrorKind::Http);
        assert_eq!(err.code(), code);
        let response = err.response().unwrap();
        if code == 599 {
            // No standard reason: whatever it is, it is not empty.
            assert!(!response.reason.is_empty());
        } else {
            assert_eq!(response.reason, reason);
            assert_eq!(err.to_string(), format!("HTTP {code}: {reason}"));
        }
    }
}

#[test]
fn connection_refused_is_599_naming_the_host() {
    let port = closed_port();
    for request in [
        HttpRequest::new(format!("http://127.0.0.1:{port}/")),
        // raise_error(false) is for HTTP errors only.
        HttpRequest::new(format!("http://127.0.0.1:{port}/")).raise_error(false),
    ] {
        let err = fetch(request).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connect, "{err:?}");
        assert!(err.is_connect());
        assert_eq!(err.code(), TRANSPORT_ERROR_CODE);
        assert_eq!(err.phase(), Some(Phase::Connect));
        assert!(err.response().is_none());
        assert!(
            err.to_string().contains(&format!("127.0.0.1:{port}")),
            "{err}"
        );
        let io: io::Error = err.into();
        assert_eq!(io.kind(), io::ErrorKind::ConnectionRefused);
    }
}

#[test]
fn a_server_that_closes_without_answering() {
    let server = RawServer::start(|mut conn, _| {
        conn.read_request()?;
        Ok(())
    });
    let err = fetch(HttpRequest::new(server.url("/"))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed, "{err:?}");
    assert_eq!(err.code(), 599);
    assert_eq!(err.phase(), Some(Phase::Receive));
    assert!(
        err.to_string().contains(&server.addr().to_string()),
        "{err}"
    );
    let io: io::Error = err.into();
    assert_eq!(io.kind(), io::ErrorKind::UnexpectedEof);
    // A fresh connection is not retried, even for a GET.
    assert_eq!(server.accepted(), 1);
}

#[test]
fn a_server_that_resets_the_connection() {
    let server = RawServer::start(|conn, _| {
        // Close with the request unread: the kernel answers with a reset.
        std::thread::sleep(std::time::Duration::from_millis(50));
        drop(conn);
        Ok(())
    });
    let err = fetch(
        HttpRequest::new(server.url("/"))
            .method("POST")
            .body(vec![b'x'; 1 << 20]),
    )
    .unwrap_err();
    assert_eq!(err.code(), 599, "{err:?}");
    assert!(
        matches!(err.kind(), ErrorKind::Closed | ErrorKind::Io),
        "{err:?}"
    );
    assert!(err.phase() == Some(Phase::Send) || err.phase() == Some(Phase::Receive));
    assert!(
        err.to_string().contains(&server.addr().to_string()),
        "{err}"
    );
}

#[test]
fn invalid_requests_send_nothing() {
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let server = RawServer::start(move |mut conn, _| {
        let n = conn.read_until_close()?;
        counter.fetch_add(n, Ordering::SeqCst);
        Ok(())
    });
    let port = server.addr().port();
    let url = server.url("/");
    let cases: Vec<(&str, HttpRequest)> = vec![
        ("not a URL", HttpRequest::new("not a url")),
        ("relative", HttpRequest::new("/just/a/path")),
        (
            "other scheme",
            HttpRequest::new(format!("ftp://127.0.0.1:{port}/")),
        ),
        ("port 0", HttpRequest::new("http://127.0.0.1:0/")),
        (
            "space in path",
            HttpRequest::new(format!("http://127.0.0.1:{port}/a b")),
        ),
        (
            "bad method",
            HttpRequest::new(url.as_str()).method("BAD METHOD"),
        ),
        ("empty method", HttpRequest::new(url.as_str()).method("")),
        (
            "CRLF in a header value",
            HttpRequest::new(url.as_str()).header("X-Test", "a\r\nX-Injected: 1"),
        ),
        (
            "LF in a header value",
            HttpRequest::new(url.as_str()).header("X-Test", "a\nb"),
        ),
        (
            "bad header name",
            HttpRequest::new(url.as_str()).header("Bad Name", "v"),
        ),
        (
            "CRLF in the user agent",
            HttpRequest::new(url.as_str()).user_agent("ua\r\nX-Injected: 1"),
        ),
        (
            "a body producer with a bad Content-Length",
            HttpRequest::new(url.as_str())
                .method("PUT")
                .header("Content-Length", "lots")
                .body_producer(|w| async move { w.write("x").await }),
        ),
    ];
    run(async move {
        let client = AsyncHttpClient::new();
        for (name, request) in cases {
            let err = client.fetch(request).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{name}: {err:?}");
            assert_eq!(err.code(), 599, "{name}");
            let io: io::Error = err.into();
            assert_eq!(io.kind(), io::ErrorKind::InvalidInput, "{name}");
        }
        // The client still works.
        assert_eq!(client.load(), (0, 0));
    });
    drop(server);
    assert_eq!(
        received.load(Ordering::SeqCst),
        0,
        "nothing reached the server"
    );
}

#[test]
fn error_values_are_plain_data() {
    let err = HttpClientError::new(ErrorKind::Http, 418, "HTTP 418: I'm a teapot");
    assert_eq!(err.code(), 418);
    assert_eq!(err.message(), "HTTP 418: I'm a teapot");
    assert_eq!(err.to_string(), "HTTP 418: I'm a teapot");
    assert!(err.response().is_none());
    let copy = err.clone();
    assert_eq!(copy.kind(), ErrorKind::Http);
    assert!(format!("{err:?}").contains("418"));
    let response = HttpResponse::new(500, "http://127.0.0.1:1/", "oops");
    assert!(!response.is_success());
    assert!(response.rethrow().is_ok(), "no error was recorded");
}
