//! HTTPS against a test CA made at test time: `ca_certs`, the Mozilla
//! roots, host name checks, `validate_cert(false)`, client certificates,
//! keep-alive over TLS and TLS settings in the pool key.

mod tls_support;

use tls_support::{Origin, TestPki, run};
use tornado_httpclient::{AsyncHttpClient, HttpRequest, Phase};

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
