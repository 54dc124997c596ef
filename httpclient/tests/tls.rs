//! HTTPS against a test CA made at test time: `ca_certs`, the Mozilla
//! roots, host name checks, `validate_cert(false)`, client certificates,
//! keep-alive over TLS and TLS settings in the pool key.

mod tls_support;

use tls_support::{Origin, TestPki, run};
use tornado_httpclient::{AsyncHttpClient, ErrorKind, HttpRequest, Phase};

#[test]
fn ca_certs_verifies_localhost_and_the_ip_address() {
    let pki = TestPki::new();
    let ca = pki.ca.clone();
    run(async move {
        let origin = Origin::start(Some(pki.server.server_config()));
        let client = AsyncHttpClient::new();
        for host in ["localhost", "127.0.0.1"] {
            let url = format!("https://{host}:{}/secure?x=1", origin.port);
            let response = client
                .fetch(HttpRequest::new(url.as_str()).ca_certs(&ca))
                .await
                .unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(response.code, 200);
            assert_eq!(response.text().unwrap(), "GET /secure?x=1");
            assert_eq!(response.effective_url, url);
        }
        let seen = origin.requests();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].host, format!("localhost:{}", origin.port));
        assert_eq!(seen[1].host, format!("127.0.0.1:{}", origin.port));
    });
}

#[test]
fn the_mozilla_roots_do_not_trust_the_test_ca() {
    let pki = TestPki::new();
    run(async move {
        let origin = Origin::start(Some(pki.server.server_config()));
        let client = AsyncHttpClient::new();
        for host in ["localhost", "127.0.0.1"] {
            let url = format!("https://{host}:{}/", origin.port);
            let err = client.fetch(url.as_str()).await.unwrap_err();
            assert!(err.is_tls(), "{url}: {err:?}");
            assert_eq!(err.code(), 599);
            assert_eq!(err.phase(), Some(Phase::Connect));
            let message = err.to_string();
            assert!(
                message.contains(&format!("{host}:{}", origin.port)),
                "{message}"
            );
            assert!(message.contains("certificate"), "{message}");
        }
        assert!(origin.requests().is_empty());
    });
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    let pki = TestPki::new();
    let ca = pki.ca.clone();
    run(async move {
        let origin = Origin::start(Some(pki.other_name.server_config()));
        let client = AsyncHttpClient::new();
        let url = format!("https://localhost:{}/", origin.port);
        let err = client
            .fetch(HttpRequest::new(url.as_str()).ca_certs(&ca))
            .await
            .unwrap_err();
        assert!(err.is_tls(), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("localhost"), "{message}");
        assert!(message.contains("not valid for name"), "{message}");
        // Not checking the certificate at all lets the same server through.
        let response = client
            .fetch(HttpRequest::new(url.as_str()).validate_cert(false))
            .await
            .unwrap();
        assert_eq!(response.text().unwrap(), "GET /");
    });
}

#[test]
fn validate_cert_false_accepts_a_self_signed_certificate() {
    let pki = TestPki::new();
    let ca = pki.ca.clone();
    run(async move {
        let origin = Origin::start(Some(pki.self_signed.server_config()));
        let client = AsyncHttpClient::new();
        let url = format!("https://127.0.0.1:{}/self", origin.port);
        let response = client
            .fetch(HttpRequest::new(url.as_str()).validate_cert(false))
            .await
            .unwrap();
        assert_eq!(response.text().unwrap(), "GET /self");
        // Checked against the test CA, or the Mozilla roots, it fails.
        for request in [
            HttpRequest::new(url.as_str()).ca_certs(&ca),
            HttpRequest::new(url.as_str()),
        ] {
            let err = client.fetch(request).await.unwrap_err();
            assert!(err.is_tls(), "{err:?}");
        }
    });
}

#[test]
fn a_ca_certs_file_without_certificates_is_an_invalid_request() {
    let pki = TestPki::new();
    let empty = pki.dir().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let missing = pki.dir().join("missing.pem");
    run(async move {
        let origin = Origin::start(Some(pki.server.server_config()));
        let client = AsyncHttpClient::new();
        let url = format!("https://localhost:{}/", origin.port);
        for path in [&empty, &missing] {
            let err = client
                .fetch(HttpRequest::new(url.as_str()).ca_certs(path))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err:?}");
            assert!(
                err.to_string().contains(&path.display().to_string()),
                "{err}"
            );
        }
        assert!(origin.requests().is_empty());
    });
}

#[test]
fn a_client_certificate_is_sent_when_given_and_refused_without() {
    let pki = TestPki::new();
    let ca = pki.ca.clone();
    let (cert, key) = (pki.client.cert_path.clone(), pki.client.key_path.clone());
    let stranger = (
        pki.stranger_client.cert_path.clone(),
        pki.stranger_client.key_path.clone(),
    );
    run(async move {
        let origin = Origin::start(Some(pki.server_config_requiring_client_cert()));
        let client = AsyncHttpClient::new();
        let url = format!("https://localhost:{}/mtls", origin.port);
        let response = client
            .fetch(
                HttpRequest::new(url.as_str())
                    .ca_certs(&ca)
                    .client_cert(&cert, &key),
            )
            .await
            .unwrap();
        assert_eq!(response.text().unwrap(), "GET /mtls");

        // Without a certificate, or with one from another CA, the server
        // ends the session. Under TLS 1.3 the client has finished its side
        // of the handshake by then, so the refusal arrives as an alert
        // while the request is under way.
        for request in [
            HttpRequest::new(url.as_str()).ca_certs(&ca),
            HttpRequest::new(url.as_str())
                .ca_certs(&ca)
                .client_cert(&stranger.0, &stranger.1),
        ] {
            let err = client.fetch(request).await.unwrap_err();
            assert_eq!(err.code(), 599, "{err:?}");
            assert!(err.is_tls(), "{err:?}");
        }
        assert_eq!(origin.requests().len(), 1);
    });
}

#[test]
fn a_missing_client_key_is_an_invalid_request() {
    let pki = TestPki::new();
    let ca = pki.ca.clone();
    let cert = pki.client.cert_path.clone();
    let missing = pki.dir().join("no-such.key");
    run(async move {
        let origin = Origin::start(Some(pki.server_config_requiring_client_cert()));
        let client = AsyncHttpClient::new();
        let url = format!("https://localhost:{}/", origin.port);
        let err = client
            .fetch(
                HttpRequest::new(url.as_str())
                    .ca_certs(&ca)
                    .client_cert(&cert, &missing),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err:?}");
        assert!(err.to_string().contains("no-such.key"), "{err}");
    });
}

#[test]
fn a_client_certificate_without_a_key_file_takes_the_key_from_its_own_file() {
    // Tornado's `client_key=None`: `load_cert_chain` reads the key from the
    // certificate's file, one PEM with both.
    let pki = TestPki::new();
    let ca = pki.ca.clone();
    let both = pki.dir().join("client-with-key.pem");
    let pem = std::fs::read_to_string(&pki.client.cert_path).unwrap()
        + &std::fs::read_to_string(&pki.client.key_path).unwrap();
    std::fs::write(&both, pem).unwrap();
    run(async move {
        let origin = Origin::start(Some(pki.server_config_requiring_client_cert()));
        let url = format!("https://localhost:{}/mtls", origin.port);
        let mut request = HttpRequest::new(url.as_str()).ca_certs(&ca);
        request.client_cert = Some(both);
        let response = AsyncHttpClient::new().fetch(request).await.unwrap();
        assert_eq!(response.text().unwrap(), "GET /mtls");
    });
}

#[test]
fn keep_alive_reuses_a_tls_connection() {
    let pki = TestPki::new();
    let ca = pki.ca.clone();
    run(async move {
        let origin = Origin::start(Some(pki.server.server_config()));
        let client = AsyncHttpClient::new();
        let url = format!("https://localhost:{}/", origin.port);
        for i in 0..3 {
            let response = client
                .fetch(HttpRequest::new(format!("{url}{i}")).ca_certs(&ca))
                .await
                .unwrap();
            assert_eq!(response.text().unwrap(), format!("GET /{i}"));
            // The first fetch connected; the others found the connection
            // in the pool.
            assert_eq!(response.time_info.connect.is_some(), i == 0, "fetch {i}");
            assert_eq!(client.idle_connections(), 1);
            assert_eq!(origin.server.connection_count(), 1);
        }
        // A body larger than one TLS record, both ways, on the same connection.
        let big = "b".repeat(100 * 1024);
        let response = client
            .fetch(
                HttpRequest::new(format!("{url}big"))
                    .method("POST")
                    .body(big)
                    .ca_certs(&ca),
            )
            .await
            .unwrap();
        assert_eq!(response.text().unwrap(), "POST /big");
        assert!(response.time_info.connect.is_none());
        assert_eq!(origin.server.connection_count(), 1);
        assert_eq!(origin.requests().len(), 4);
    });
}

#[test]
fn tls_settings_are_part_of_the_pool_key() {
    let pki = TestPki::new();
    let ca = pki.ca.clone();
    let (cert, key) = (pki.client.cert_path.clone(), pki.client.key_path.clone());
    run(async move {
        let origin = Origin::start(Some(pki.server.server_config()));
        let client = AsyncHttpClient::new();
        let url = format!("https://localhost:{}/", origin.port);
        let verified = || HttpRequest::new(url.as_str()).ca_certs(&ca);
        let fetch = |request: HttpRequest| {
            let client = client.clone();
            async move { client.fetch(request).await.unwrap() }
        };

        let first = fetch(verified()).await;
        assert!(first.time_info.connect.is_some());
        assert_eq!(client.idle_connections(), 1);

        // Unverified: a connection of its own, not the verified one.
        let unverified = fetch(HttpRequest::new(url.as_str()).validate_cert(false)).await;
        assert!(unverified.time_info.connect.is_some());
        assert_eq!(client.idle_connections(), 2);
        assert_eq!(origin.server.connection_count(), 2);

        // With a client certificate (the server does not ask for one): a
        // third connection.
        let with_cert = fetch(verified().client_cert(&cert, &key)).await;
        assert!(with_cert.time_info.connect.is_some());
        assert_eq!(client.idle_connections(), 3);

        // Each setting finds its own connection again.
        for request in [
            verified(),
            HttpRequest::new(url.as_str()).validate_cert(false),
            verified().client_cert(&cert, &key),
        ] {
            let response = fetch(request).await;
            assert!(response.time_info.connect.is_none());
        }
        assert_eq!(client.idle_connections(), 3);
        assert_eq!(origin.server.connection_count(), 3);

        // A connection verified with the Mozilla roots would not have been
        // made, and a pooled verified connection is not lent to that
        // request either: it fails, nothing is reused.
        let err = client.fetch(url.as_str()).await.unwrap_err();
        assert!(err.is_tls(), "{err:?}");
        assert_eq!(client.idle_connections(), 3);
        assert_eq!(origin.requests().len(), 6);
    });
}

#[test]
fn plain_http_to_an_https_server_fails_without_hanging() {
    let pki = TestPki::new();
    run(async move {
        let origin = Origin::start(Some(pki.server.server_config()));
        let client = AsyncHttpClient::new();
        let url = format!("http://127.0.0.1:{}/", origin.port);
        let err = client.fetch(url.as_str()).await.unwrap_err();
        assert_eq!(err.code(), 599, "{err:?}");
        assert!(origin.requests().is_empty());
    });
}

/// Serves `response` once over TLS on 127.0.0.1 with rustls' blocking stream, then
/// closes the socket, with or without `close_notify` first.
fn tls_once(
    config: std::sync::Arc<rustls::ServerConfig>,
    response: &'static [u8],
    close_notify: bool,
) -> (u16, std::thread::JoinHandle<()>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let thread = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let conn = rustls::ServerConnection::new(config).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if tls.read(&mut byte).unwrap_or(0) == 0 {
                return;
            }
            head.push(byte[0]);
        }
        tls.write_all(response).unwrap();
        tls.flush().unwrap();
        if close_notify {
            tls.conn.send_close_notify();
            tls.flush().unwrap();
        }
        let _ = tls.sock.shutdown(std::net::Shutdown::Both);
    });
    (port, thread)
}

/// A body that only the close delimits, over TLS: its end is trusted only with
/// `close_notify`. A socket closed without it may have been closed by anyone on the
/// path, so the fetch fails rather than return a body that may be cut off. A body
/// with a length is complete either way.
#[test]
fn a_tls_close_without_close_notify_does_not_end_a_body_read_until_close() {
    let pki = TestPki::new();
    let rows: [(&'static [u8], bool, Option<&str>); 4] = [
        (
            b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nwhole body",
            true,
            Some("whole body"),
        ),
        (
            b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npartial body",
            false,
            None,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nfour",
            false,
            Some("four"),
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nfour",
            true,
            Some("four"),
        ),
    ];
    for (response, close_notify, want) in rows {
        let (port, thread) = tls_once(pki.server.server_config(), response, close_notify);
        let url = format!("https://localhost:{port}/");
        let ca = pki.ca.clone();
        let result = run(async move {
            AsyncHttpClient::new()
                .fetch(
                    HttpRequest::new(url)
                        .ca_certs(&ca)
                        .request_timeout(std::time::Duration::from_secs(5)),
                )
                .await
        });
        thread.join().unwrap();
        match want {
            Some(body) => assert_eq!(result.unwrap().text().unwrap(), body),
            None => {
                let err = result.unwrap_err();
                assert!(err.to_string().contains("close_notify"), "{err}");
            }
        }
    }
}
