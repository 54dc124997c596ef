//! TcpClient's TLS phase: certificate checks and the handshake timeout.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::RootCertStore;
use tornado_ioloop::IoLoop;
use tornado_iostream::IoStream;
use tornado_iostream::netutil::{DefaultResolver, OverrideResolver};
use tornado_iostream::tcpclient::{ConnectError, ConnectOptions, ConnectPhase, TcpClient};
use tornado_iostream::tcpserver::TcpServer;
use tornado_iostream::tls;

const TIMEOUT: Duration = Duration::from_secs(10);

fn run<F: Future + 'static>(f: F) -> F::Output {
    IoLoop::new()
        .unwrap()
        .run_sync_timeout(f, TIMEOUT)
        .expect("test timed out")
}

fn configs() -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = ck.cert.der().clone();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let server = tls::server_config(vec![cert.clone()], key, &[]).unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    (server, tls::client_config(Some(roots), &[]).unwrap())
}

fn client_for(host: &str, port: u16) -> TcpClient {
    TcpClient::with_resolver(OverrideResolver::new(DefaultResolver).with(
        host,
        port,
        vec![SocketAddr::from(([127, 0, 0, 1], port))],
    ))
}

async fn hello(stream: IoStream, _peer: SocketAddr) {
    let _ = stream.write(b"hello\n").await;
}

#[test]
fn server_hostname_overrides_the_host() {
    let (server_cfg, client_cfg) = configs();
    run(async move {
        let server = TcpServer::new(hello).with_tls(server_cfg);
        server.listen(0, Some("127.0.0.1")).unwrap();
        let port = server.local_addrs()[0].port();
        // Connect by IP; verify the certificate as "localhost".
        let opts = ConnectOptions::new()
            .tls(client_cfg)
            .server_hostname("localhost");
        let s = TcpClient::new()
            .connect_with("127.0.0.1", port, &opts)
            .await
            .unwrap();
        assert_eq!(&s.read_until(b"\n", None).await.unwrap()[..], b"hello\n");
        server.stop();
    });
}

#[test]
fn certificate_name_mismatch_fails_in_the_tls_phase() {
    let (server_cfg, client_cfg) = configs();
    run(async move {
        let server = TcpServer::new(hello).with_tls(server_cfg);
        server.listen(0, Some("127.0.0.1")).unwrap();
        let port = server.local_addrs()[0].port();
        let opts = ConnectOptions::new().tls(client_cfg);
        let err = client_for("wrong.test", port)
            .connect_with("wrong.test", port, &opts)
            .await
            .unwrap_err();
        let info = ConnectError::of(&err).unwrap();
        assert_eq!(info.phase(), ConnectPhase::Tls);
        assert_eq!(
            info.address(),
            Some(SocketAddr::from(([127, 0, 0, 1], port)))
        );
        assert!(!info.is_timeout());
        assert!(
            err.to_string()
                .starts_with(&format!("TLS handshake with 127.0.0.1:{port} failed")),
            "{err}"
        );
        server.stop();
    });
}

#[test]
fn untrusted_certificate_fails() {
    let (server_cfg, _) = configs();
    let (_, other_client) = configs();
    run(async move {
        let server = TcpServer::new(hello).with_tls(server_cfg);
        server.listen(0, Some("127.0.0.1")).unwrap();
        let port = server.local_addrs()[0].port();
        let opts = ConnectOptions::new().tls(other_client);
        let err = client_for("localhost", port)
            .connect_with("localhost", port, &opts)
            .await
            .unwrap_err();
        assert_eq!(ConnectError::of(&err).unwrap().phase(), ConnectPhase::Tls);
        server.stop();
    });
}

#[test]
fn timeout_during_the_tls_handshake() {
    // A plain server that never answers the ClientHello.
    let (_, client_cfg) = configs();
    run(async move {
        let server = TcpServer::new(|stream: IoStream, _peer: SocketAddr| async move {
            let _ = stream.read_until_close().await;
        });
        server.listen(0, Some("127.0.0.1")).unwrap();
        let port = server.local_addrs()[0].port();
        let opts = ConnectOptions::new()
            .tls(client_cfg)
            .timeout(Duration::from_millis(200));
        let started = Instant::now();
        let err = client_for("localhost", port)
            .connect_with("localhost", port, &opts)
            .await
            .unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        let info = ConnectError::of(&err).unwrap();
        assert_eq!(info.phase(), ConnectPhase::Tls);
        assert!(info.is_timeout());
        assert_eq!(
            err.to_string(),
            format!("timeout during TLS handshake with 127.0.0.1:{port}")
        );
        server.stop();
    });
}
