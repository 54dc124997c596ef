//! Regressions found by review: a caller's `Proxy-Authorization` stays
//! with the proxy, and CR or LF anywhere in a request is refused.

mod tls_support;

use tls_support::{Origin, TestPki, TestProxy, run};
use tornado_httpclient::{AsyncHttpClient, ErrorKind, HttpRequest};

const USER_SECRET: &str = "Basic dXNlcjpzZWNyZXQ=";

/// A `Proxy-Authorization` header of the caller's own, on an https request
/// through a proxy, goes on the `CONNECT`, never through the tunnel to the
/// origin.
#[test]
fn a_proxy_authorization_header_goes_to_the_proxy_only() {
    let pki = TestPki::new();
    let ca = pki.ca.clone();
    let proxy = TestProxy::start(None);
    run(async move {
        let origin = Origin::start(Some(pki.server.server_config()));
        let client = AsyncHttpClient::new();
        let url = format!("https://localhost:{}/private", origin.port);
        client
            .fetch(
                HttpRequest::new(url.as_str())
                    .ca_certs(&ca)
                    .proxy("127.0.0.1", proxy.port())
                    .header("Proxy-Authorization", USER_SECRET),
            )
            .await
            .unwrap();
        let seen = proxy.requests();
        assert_eq!(seen[0].header("Proxy-Authorization"), Some(USER_SECRET));
        let at_origin = origin.requests();
        assert_eq!(
            at_origin[0].header("Proxy-Authorization"),
            None,
            "origin got the proxy credentials"
        );
    });
}

#[test]
fn crlf_everywhere() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    run(async move {
        let client = AsyncHttpClient::new();
        for req in [
            HttpRequest::new(format!("{base}/")).header("X", "a\r\nEvil: 1"),
            HttpRequest::new(format!("{base}/")).user_agent("a\r\nEvil: 1"),
            HttpRequest::new(format!("{base}/a\r\nEvil: 1")),
            HttpRequest::new(format!("{base}/")).header("X\r\nEvil", "1"),
            HttpRequest::new(format!("{base}/")).method("GET /x HTTP/1.1\r\n"),
        ] {
            let err = client
                .fetch(req.connect_timeout(std::time::Duration::from_secs(1)))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err:?}");
        }
    });
}
