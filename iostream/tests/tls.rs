//! TLS streams over loopback TCP: handshakes that succeed and fail, SNI and ALPN, data
//! transfer. Certificates are made at test time with rcgen.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::RootCertStore;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tornado_iostream::IoStream;
use tornado_iostream::tls::{self, TlsConfig};

mod common;
use common::{run, tcp_pair, unix_pair};

/// A CA and a leaf certificate for `names`, signed by it.
struct Pki {
    ca: CertificateDer<'static>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    key_pem: String,
    chain_pem: String,
}

fn pki(names: &[&str]) -> Pki {
    static SERIAL: AtomicUsize = AtomicUsize::new(0);
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let n = SERIAL.fetch_add(1, Ordering::Relaxed);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("Tornado test CA {n}"));
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();
    Pki {
        ca: ca.der().clone(),
        chain: vec![leaf.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        key_pem: leaf_key.serialize_pem(),
        chain_pem: leaf.pem(),
    }
}

fn roots(ca: &CertificateDer<'static>) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    roots
}

/// Starts TLS on both ends; returns both handshake results.
async fn handshake(
    client: &IoStream,
    server: &IoStream,
    client_config: TlsConfig,
    server_config: TlsConfig,
) -> (io::Result<()>, io::Result<()>) {
    let s = server.start_tls(server_config);
    let server_side = tornado_ioloop::spawn(s);
    let c = client.start_tls(client_config).await;
    let s = server_side.await.unwrap();
    (c, s)
}

/// A client and a server stream with a TLS session between them, for `localhost`
/// under a fresh CA (also returned), over a TCP pair on 127.0.0.1.
async fn localhost_pair() -> (Pki, IoStream, IoStream) {
    let (client, server) = tcp_pair().await;
    let pki = localhost_tls(&client, &server).await;
    (pki, client, server)
}

/// Starts TLS for `localhost` under a fresh CA (returned) between `client` and
/// `server`, and checks both handshakes succeed.
async fn localhost_tls(client: &IoStream, server: &IoStream) -> Pki {
    let pki = pki(&["localhost"]);
    let server_cfg = tls::server_config(pki.chain.clone(), pki.key.clone_key(), &[]).unwrap();
    let client_cfg = tls::client_config(Some(roots(&pki.ca)), &[]).unwrap();
    let (c, s) = handshake(
        client,
        server,
        TlsConfig::client(client_cfg, "localhost").unwrap(),
        TlsConfig::server(server_cfg),
    )
    .await;
    c.unwrap();
    s.unwrap();
    pki
}

fn rustls_error(e: &io::Error) -> &rustls::Error {
    e.get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
        .unwrap_or_else(|| panic!("not a rustls error: {e:?}"))
}

#[test]
fn handshake_then_data_both_ways() {
    run(async {
        let (pki, client, server) = localhost_pair().await;
        assert!(client.tls_version().is_some());
        assert_eq!(client.peer_certificates().unwrap(), pki.chain);
        assert!(client.selected_alpn_protocol().is_none());

        client.write(b"hello over tls\r\n").await.unwrap();
        let line = server.read_until(b"\r\n", Some(100)).await.unwrap();
        assert_eq!(&line[..], b"hello over tls\r\n");
        server.write(b"pong").await.unwrap();
        assert_eq!(&client.read_bytes(4, false).await.unwrap()[..], b"pong");

        // A large transfer through many TLS records and writable events.
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
        let w = client.write(&big);
        let got = server.read_bytes(big.len(), false).await.unwrap();
        w.await.unwrap();
        assert!(got[..] == big[..]);

        // close_notify reaches the peer as a clean end of stream.
        client.close();
        assert!(server.read_until_close().await.unwrap().is_empty());
        assert!(server.error().is_none());
    });
}

/// A write the TLS layer took but had not sent when the stream closed was never sent:
/// its future fails, as a plain stream's does for output still queued.
#[test]
fn a_write_the_tls_layer_still_held_at_close_fails() {
    run(async {
        let (_pki, client, server) = localhost_pair().await;
        // More than the socket takes at once, with the server not reading.
        let big = vec![7u8; 16 * 1024 * 1024];
        let w = client.write(&big);
        assert!(client.transport().unwrap().has_pending_output());
        client.close();
        let e = w.await.unwrap_err();
        assert!(tornado_iostream::is_stream_closed(&e), "{e:?}");
        assert!(client.flush().await.is_err());
        let got = server.read_until_close().await.unwrap();
        assert!(got.len() < big.len());
    });
}

/// `shutdown_write` refuses while the TLS layer still holds output, as it does while the
/// write buffer does, and leaves the stream as it was; once flushed it half-closes with
/// `close_notify`, and the peer can still answer.
#[test]
fn shutdown_write_waits_for_output_the_tls_layer_holds() {
    run(async {
        let (_pki, client, server) = localhost_pair().await;
        let big = vec![7u8; 16 * 1024 * 1024];
        let w = client.write(&big);
        assert!(client.transport().unwrap().has_pending_output());
        let e = client.shutdown_write().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        assert!(e.to_string().contains("flush before shutdown_write"), "{e}");
        let got = server.read_bytes(big.len(), false).await.unwrap();
        assert!(got[..] == big[..]);
        w.await.unwrap();
        // Nothing was half-closed: more data still goes through.
        client.write(b"more").await.unwrap();
        assert_eq!(&server.read_bytes(4, false).await.unwrap()[..], b"more");
        client.shutdown_write().unwrap();
        server.write(b"reply").await.unwrap();
        assert_eq!(&client.read_bytes(5, false).await.unwrap()[..], b"reply");
        assert!(server.read_until_close().await.unwrap().is_empty());
        assert!(!server.eof_truncated());
    });
}

/// A write queued while the handshake is under way, on a stream whose peer goes away
/// before it completes, was never sent: its future fails.
#[test]
fn a_write_waiting_for_a_handshake_that_never_completes_fails() {
    run(async {
        let pki = pki(&["localhost"]);
        let server_cfg = tls::server_config(pki.chain, pki.key, &[]).unwrap();
        let (client, server) = tcp_pair().await;
        let hs = server.start_tls(TlsConfig::server(server_cfg));
        let w = server.write(b"greeting before the handshake\n");
        client.close();
        assert!(hs.await.is_err());
        let e = w.await.unwrap_err();
        assert!(tornado_iostream::is_stream_closed(&e), "{e:?}");
    });
}

#[test]
fn a_vectored_write_goes_through_tls_whole_and_in_order() {
    run(async {
        let (_pki, client, server) = localhost_pair().await;
        let payload = bytes::Bytes::from(
            (0..2_000_000u32)
                .map(|i| (i % 249) as u8)
                .collect::<Vec<_>>(),
        );
        let w = client.write_vectored(&[
            tornado_iostream::WritePart::from(&b"head"[..]),
            tornado_iostream::WritePart::from(&payload),
        ]);
        let tail = client.write(b"tail");
        let got = server
            .read_bytes(4 + payload.len() + 4, false)
            .await
            .unwrap();
        w.await.unwrap();
        tail.await.unwrap();
        assert_eq!(&got[..4], b"head");
        assert!(got[4..4 + payload.len()] == payload[..]);
        assert_eq!(&got[4 + payload.len()..], b"tail");
    });
}

#[test]
fn reads_and_writes_started_before_the_handshake_wait_for_it() {
    run(async {
        let pki = pki(&["localhost"]);
        let server_cfg = tls::server_config(pki.chain, pki.key, &[]).unwrap();
        let client_cfg = tls::client_config(Some(roots(&pki.ca)), &[]).unwrap();
        let (client, server) = tcp_pair().await;
        drop(server.start_tls(TlsConfig::server(server_cfg)));
        drop(client.start_tls(TlsConfig::client(client_cfg, "localhost").unwrap()));
        let sent = client.write(b"early data\n");
        let line = server.read_until(b"\n", None).await.unwrap();
        assert_eq!(&line[..], b"early data\n");
        sent.await.unwrap();
        server.wait_for_handshake().await.unwrap();
        client.wait_for_handshake().await.unwrap();
    });
}

#[test]
fn unknown_ca_fails_the_handshake() {
    run(async {
        let pki = pki(&["localhost"]);
        let other = self::pki(&["localhost"]);
        let server_cfg = tls::server_config(pki.chain, pki.key, &[]).unwrap();
        let client_cfg = tls::client_config(Some(roots(&other.ca)), &[]).unwrap();
        let (client, server) = tcp_pair().await;
        let (c, s) = handshake(
            &client,
            &server,
            TlsConfig::client(client_cfg, "localhost").unwrap(),
            TlsConfig::server(server_cfg),
        )
        .await;
        let c = c.unwrap_err();
        assert!(
            matches!(
                rustls_error(&c),
                rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
            ),
            "{c:?}"
        );
        assert!(client.closed());
        assert!(
            s.is_err(),
            "the server sees the client's alert or the close"
        );
        assert!(server.closed());
        // The closed stream's error is the handshake failure.
        let e = client.read_bytes(1, false).await.unwrap_err();
        assert!(tornado_iostream::is_stream_closed(&e));
        assert!(client.error().unwrap().to_string().contains("certificate"));
    });
}

#[test]
fn default_roots_reject_a_private_ca() {
    run(async {
        let pki = pki(&["localhost"]);
        let server_cfg = tls::server_config(pki.chain, pki.key, &[]).unwrap();
        let client_cfg = tls::client_config(None, &[]).unwrap();
        let (client, server) = tcp_pair().await;
        let (c, _) = handshake(
            &client,
            &server,
            TlsConfig::client(client_cfg, "localhost").unwrap(),
            TlsConfig::server(server_cfg),
        )
        .await;
        let c = c.unwrap_err();
        assert!(matches!(
            rustls_error(&c),
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
        ));
    });
}

#[test]
fn wrong_host_name_fails_the_handshake() {
    run(async {
        let pki = pki(&["localhost"]);
        let server_cfg = tls::server_config(pki.chain, pki.key, &[]).unwrap();
        let client_cfg = tls::client_config(Some(roots(&pki.ca)), &[]).unwrap();
        let (client, server) = tcp_pair().await;
        let (c, _) = handshake(
            &client,
            &server,
            TlsConfig::client(client_cfg, "example.com").unwrap(),
            TlsConfig::server(server_cfg),
        )
        .await;
        let c = c.unwrap_err();
        assert!(
            matches!(
                rustls_error(&c),
                rustls::Error::InvalidCertificate(
                    rustls::CertificateError::NotValidForName
                        | rustls::CertificateError::NotValidForNameContext { .. }
                )
            ),
            "{c:?}"
        );
    });
}

#[test]
fn sni_and_alpn() {
    run(async {
        let pki = pki(&["api.example.test"]);
        let server_cfg = tls::server_config(pki.chain, pki.key, &[b"h2", b"http/1.1"]).unwrap();
        let client_cfg =
            tls::client_config(Some(roots(&pki.ca)), &[b"http/1.1", b"spdy/3"]).unwrap();
        let (client, server) = tcp_pair().await;
        let (c, s) = handshake(
            &client,
            &server,
            TlsConfig::client(client_cfg, "api.example.test").unwrap(),
            TlsConfig::server(server_cfg),
        )
        .await;
        c.unwrap();
        s.unwrap();
        assert_eq!(
            server.tls_server_name().as_deref(),
            Some("api.example.test")
        );
        assert_eq!(client.tls_server_name(), None);
        assert_eq!(
            client.selected_alpn_protocol().as_deref(),
            Some(&b"http/1.1"[..])
        );
        assert_eq!(
            server.selected_alpn_protocol().as_deref(),
            Some(&b"http/1.1"[..])
        );
    });
}

#[test]
fn alpn_without_overlap_fails() {
    run(async {
        let pki = pki(&["localhost"]);
        let server_cfg = tls::server_config(pki.chain, pki.key, &[b"h2"]).unwrap();
        let client_cfg = tls::client_config(Some(roots(&pki.ca)), &[b"http/1.1"]).unwrap();
        let (client, server) = tcp_pair().await;
        let (c, s) = handshake(
            &client,
            &server,
            TlsConfig::client(client_cfg, "localhost").unwrap(),
            TlsConfig::server(server_cfg),
        )
        .await;
        assert!(c.is_err());
        let s = s.unwrap_err();
        assert!(
            matches!(rustls_error(&s), rustls::Error::NoApplicationProtocol),
            "{s:?}"
        );
    });
}

#[test]
fn plaintext_client_against_tls_server_fails_cleanly() {
    run(async {
        let pki = pki(&["localhost"]);
        let server_cfg = tls::server_config(pki.chain, pki.key, &[]).unwrap();
        let (client, server) = tcp_pair().await;
        let hs = tornado_ioloop::spawn(server.start_tls(TlsConfig::server(server_cfg)));
        client
            .write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let err = hs.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(server.closed());
    });
}

/// Every task waiting for the handshake is woken when it completes, not only the one
/// that waited last.
#[test]
fn several_tasks_waiting_for_the_handshake_all_see_it_complete() {
    run(async {
        let pki = pki(&["localhost"]);
        let server_cfg = tls::server_config(pki.chain, pki.key, &[]).unwrap();
        let client_cfg = tls::client_config(Some(roots(&pki.ca)), &[]).unwrap();
        let (client, server) = tcp_pair().await;
        let started = tornado_ioloop::spawn(server.start_tls(TlsConfig::server(server_cfg)));
        let waiters: Vec<_> = (0..2)
            .map(|_| tornado_ioloop::spawn(server.wait_for_handshake()))
            .collect();
        tornado_ioloop::yield_now().await;
        client
            .start_tls(TlsConfig::client(client_cfg, "localhost").unwrap())
            .await
            .unwrap();
        started.await.unwrap().unwrap();
        for w in waiters {
            w.await.unwrap().unwrap();
        }
    });
}

/// A peer that closes the connection before the handshake completes fails the
/// handshake with an error that says so (Tornado's `SSLEOFError`), and the stream's
/// error is that, not a clean close.
#[test]
fn a_peer_that_closes_during_the_handshake_fails_it_clearly() {
    run(async {
        let pki = pki(&["localhost"]);
        let server_cfg = tls::server_config(pki.chain, pki.key, &[]).unwrap();
        let (client, server) = tcp_pair().await;
        let hs = server.start_tls(TlsConfig::server(server_cfg));
        client.close();
        let e = hs.await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e:?}");
        assert!(e.to_string().contains("during the TLS handshake"), "{e}");
        let cause = server.error().expect("closed by an error");
        assert_eq!(cause.kind(), io::ErrorKind::UnexpectedEof);
        // A read waiting for the handshake fails with it as the cause.
        let e = server.read_bytes(1, false).await.unwrap_err();
        assert!(tornado_iostream::is_stream_closed(&e));
        assert!(e.to_string().contains("during the TLS handshake"), "{e}");
    });
}

#[test]
fn start_tls_needs_an_idle_stream() {
    run(async {
        let pki = pki(&["localhost"]);
        let server_cfg = tls::server_config(pki.chain, pki.key, &[]).unwrap();
        let (client, server) = tcp_pair().await;
        client.write(b"x\ny").await.unwrap();
        server.read_until(b"\n", None).await.unwrap();
        let err = server
            .start_tls(TlsConfig::server(server_cfg))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        // A stream without TLS has no handshake to wait for.
        client.wait_for_handshake().await.unwrap();
    });
}

#[test]
fn pem_loading_helpers() {
    let pki = pki(&["localhost"]);
    let dir = std::env::temp_dir().join(format!("tornado-iostream-pem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, &pki.chain_pem).unwrap();
    std::fs::write(&key_path, &pki.key_pem).unwrap();
    let certs = tls::load_certs(&cert_path).unwrap();
    assert_eq!(certs, pki.chain);
    let key = tls::load_private_key(&key_path).unwrap();
    assert_eq!(key.secret_der(), pki.key.secret_der());
    assert_eq!(
        tls::certs_from_pem(pki.chain_pem.as_bytes()).unwrap(),
        pki.chain
    );
    assert!(tls::private_key_from_pem(pki.key_pem.as_bytes()).is_ok());
    // Errors, not panics, for missing files and bad content.
    let missing = tls::load_certs(dir.join("missing.pem")).unwrap_err();
    assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    assert!(tls::certs_from_pem(b"not pem").is_err());
    assert!(tls::load_private_key(&cert_path).is_err());
    tls::server_config(certs, key, &[]).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let _ = Arc::strong_count(&tls::crypto_provider());
}

#[test]
fn server_writes_first_then_closes_many_times_with_resumption() {
    run(async {
        let pki = pki(&["localhost"]);
        let server_cfg = tls::server_config(pki.chain, pki.key, &[]).unwrap();
        let client_cfg = tls::client_config(Some(roots(&pki.ca)), &[]).unwrap();
        for i in 0..16 {
            let (client, server) = tcp_pair().await;
            drop(server.start_tls(TlsConfig::server(server_cfg.clone())));
            let handler = tornado_ioloop::spawn(async move {
                let r = server.write(format!("hello {i}\n").as_bytes()).await;
                (r, server)
            });
            client
                .start_tls(TlsConfig::client(client_cfg.clone(), "localhost").unwrap())
                .await
                .unwrap_or_else(|e| panic!("handshake {i}: {e:?}"));
            let (r, server) = handler.await.unwrap();
            r.unwrap();
            drop(server);
            let line = client.read_until(b"\n", None).await.unwrap();
            assert_eq!(line, format!("hello {i}\n").as_bytes());
            assert!(client.read_until_close().await.unwrap().is_empty());
        }
    });
}

/// A TCP pair whose server side has finished its TLS handshake, and the client's
/// handshake, started and not yet polled.
async fn server_side_done() -> (IoStream, IoStream, tornado_iostream::Handshake) {
    let pki = pki(&["localhost"]);
    let server_cfg = tls::server_config(pki.chain, pki.key, &[]).unwrap();
    let client_cfg = tls::client_config(Some(roots(&pki.ca)), &[]).unwrap();
    let (client, server) = tcp_pair().await;
    let handshake = client.start_tls(TlsConfig::client(client_cfg, "localhost").unwrap());
    server
        .start_tls(TlsConfig::server(server_cfg))
        .await
        .unwrap();
    (client, server, handshake)
}

/// Regression: the client's handshake completed, and the server's data and close
/// arrived, all before anyone polled the client's handshake future. The handshake must
/// report success and the data must stay readable.
#[test]
fn handshake_awaited_after_the_peer_already_sent_data_and_closed() {
    run(async {
        let (client, server, handshake) = server_side_done().await;
        server.write(b"bye\n").await.unwrap();
        server.close();
        // Let the client's loop handler read the rest of the handshake and the data
        // with nobody waiting (the end of the stream is read after the data, by a
        // reader, as Tornado reads no further while data is buffered).
        let t = std::time::Instant::now();
        while !client.closed()
            && client.read_buffer_len() == 0
            && t.elapsed() < Duration::from_secs(5)
        {
            tornado_ioloop::yield_now().await;
        }
        assert!(client.closed() || client.read_buffer_len() > 0);
        handshake.await.unwrap();
        assert_eq!(&client.read_until(b"\n", None).await.unwrap()[..], b"bye\n");
        assert!(client.read_until_close().await.unwrap().is_empty());

        // With no data, the end of the stream itself is read with nobody waiting.
        let (client, server, handshake) = server_side_done().await;
        server.close();
        let t = std::time::Instant::now();
        while !client.closed() && t.elapsed() < Duration::from_secs(5) {
            tornado_ioloop::yield_now().await;
        }
        assert!(client.closed());
        handshake.await.unwrap();
        assert!(client.read_until_close().await.unwrap().is_empty());
    });
}

#[test]
fn tls_over_a_unix_socket_with_async_read_and_write() {
    use futures_io::{AsyncRead, AsyncWrite};
    use std::pin::Pin;
    run(async {
        let (client, server) = unix_pair();
        localhost_tls(&client, &server).await;
        let total = 1_000_000;
        let writer = tornado_ioloop::spawn({
            let client = client.clone();
            async move {
                let data = vec![9u8; total];
                let mut rest = &data[..];
                let mut w = &client;
                while !rest.is_empty() {
                    let n = std::future::poll_fn(|cx| Pin::new(&mut w).poll_write(cx, rest))
                        .await
                        .unwrap();
                    rest = &rest[n..];
                }
                std::future::poll_fn(|cx| Pin::new(&mut w).poll_close(cx))
                    .await
                    .unwrap();
            }
        });
        let mut got = 0;
        let mut buf = vec![0u8; 40_000];
        let mut r = &server;
        loop {
            let n = std::future::poll_fn(|cx| Pin::new(&mut r).poll_read(cx, &mut buf))
                .await
                .unwrap();
            if n == 0 {
                break;
            }
            assert!(buf[..n].iter().all(|&c| c == 9));
            got += n;
        }
        writer.await.unwrap();
        assert_eq!(got, total);
    });
}
