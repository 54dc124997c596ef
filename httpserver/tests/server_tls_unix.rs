//! HTTPS with a certificate made at test time (rcgen), and HTTP over a Unix socket.

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;

use common::{Client, in_thread, run, unwrap_thread};
use rustls::RootCertStore;
use rustls::pki_types::PrivateKeyDer;
use tornado_httpserver::{HttpServer, HttpServerSettings};
use tornado_iostream::{IoStream, TlsConfig, tls};

/// A server config for "localhost" and a client config that trusts only it.
fn configs() -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = ck.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let server = tls::server_config(vec![cert.clone()], key, &[b"http/1.1"]).unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = tls::client_config(Some(roots), &[b"http/1.1"]).unwrap();
    (server, client)
}

/// Reads one response with a `Content-Length` from an async stream: (head, body).
async fn read_response(stream: &IoStream) -> (String, String) {
    let head = stream
        .read_until(b"\r\n\r\n", Some(64 * 1024))
        .await
        .unwrap();
    let head = String::from_utf8(head.to_vec()).unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .expect("Content-Length")
        .trim()
        .parse()
        .unwrap();
    let body = stream.read_bytes(len, false).await.unwrap();
    (head, String::from_utf8(body.to_vec()).unwrap())
}

async fn https_client(addr: SocketAddr, client_cfg: Arc<rustls::ClientConfig>) -> IoStream {
    let stream = IoStream::connect(addr).await.unwrap();
    stream
        .start_tls(TlsConfig::client(client_cfg, "localhost").unwrap())
        .await
        .unwrap();
    stream
}

#[test]
fn https_requests_are_served_with_protocol_https() {
    let (server_cfg, client_cfg) = configs();
    run(async move {
        let settings = HttpServerSettings {
            tls: Some(server_cfg),
            ..HttpServerSettings::default()
        };
        let server = HttpServer::with_settings(common::echo, settings);
        server.listen(0, Some("127.0.0.1")).unwrap();
        let addr = server.local_addrs()[0];

        let stream = https_client(addr, client_cfg).await;
        assert_eq!(
            stream.selected_alpn_protocol().as_deref(),
            Some(&b"http/1.1"[..])
        );
        stream
            .write(b"GET /secure?x=1 HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let (head, body) = read_response(&stream).await;
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(body.contains("protocol=https\n"), "{body}");
        assert!(body.contains("path=/secure\n"), "{body}");

        // Keep-alive over TLS, with a body larger than one TLS record.
        let big = "z".repeat(100 * 1024);
        let req = format!(
            "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{big}",
            big.len()
        );
        stream.write(req.as_bytes()).await.unwrap();
        let (head, body) = read_response(&stream).await;
        assert!(head.contains("Connection: close\r\n"), "{head}");
        assert!(body.contains(&format!("body_len={}\n", big.len())));
        let rest = stream.read_until_close().await.unwrap();
        assert!(rest.is_empty());
        server.stop();
    });
}

#[test]
fn https_with_xheaders_reports_https_unless_the_proxy_says_otherwise() {
    let (server_cfg, client_cfg) = configs();
    run(async move {
        let settings = HttpServerSettings {
            tls: Some(server_cfg),
            xheaders: true,
            ..HttpServerSettings::default()
        };
        let server = HttpServer::with_settings(common::echo, settings);
        server.listen(0, Some("127.0.0.1")).unwrap();
        let stream = https_client(server.local_addrs()[0], client_cfg).await;
        stream
            .write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        assert!(read_response(&stream).await.1.contains("protocol=https\n"));
        stream
            .write(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Scheme: http\r\n\r\n")
            .await
            .unwrap();
        assert!(read_response(&stream).await.1.contains("protocol=http\n"));
        server.stop();
    });
}

#[test]
fn plain_http_to_an_https_port_is_closed() {
    let (server_cfg, _) = configs();
    let settings = HttpServerSettings {
        tls: Some(server_cfg),
        ..HttpServerSettings::default()
    };
    common::serve(common::echo, settings, |addr| {
        let mut c = Client::connect(addr);
        c.send_lossy(&common::get("/"));
        let got = c.read_to_close();
        assert!(
            !got.starts_with(b"HTTP/"),
            "plain HTTP answered over TLS port: {:?}",
            String::from_utf8_lossy(&got)
        );
    });
}

fn temp_socket_path(name: &str) -> (PathBuf, PathBuf) {
    let dir =
        std::env::temp_dir().join(format!("tornado-httpserver-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("http.sock");
    (dir, path)
}

#[test]
fn unix_socket_serves_http() {
    let (dir, path) = temp_socket_path("unix");
    let client_path = path.clone();
    let result = run(async move {
        let server = HttpServer::new(common::echo);
        server.listen_unix(&path).unwrap();
        let result = in_thread(move || {
            let mut s = UnixStream::connect(&client_path).unwrap();
            s.set_read_timeout(Some(common::IO_TIMEOUT)).unwrap();
            s.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            // Then a bad request on the same connection: 400 and the close.
            s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
            let mut out = Vec::new();
            s.read_to_end(&mut out).unwrap();
            String::from_utf8(out).unwrap()
        })
        .await;
        server.stop();
        result
    });
    let text = unwrap_thread(result);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("path=/hello\n"), "{text}");
    assert!(
        text.contains("remote_ip=-\n"),
        "no IP on a Unix socket: {text}"
    );
    assert!(
        text.ends_with(
            "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
        "{text}"
    );
}
