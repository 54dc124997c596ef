//! Helpers for the TLS and proxy tests: a test CA made with rcgen at test
//! time (written as PEM files to a temporary directory that is removed on
//! drop), rustls server configurations from it, HTTPS and HTTP origins on
//! 127.0.0.1 port 0, and a blocking HTTP proxy on std threads.
//!
//! Every wait is bounded: the loop by [`TIMEOUT`], every proxy socket by
//! [`IO_TIMEOUT`], so a bug fails a test instead of hanging it.
#![allow(dead_code)]

use std::cell::RefCell;
use std::future::Future;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use tornado_httpserver::httputil::HttpServerRequest;
use tornado_httpserver::{HttpServer, HttpServerSettings, Response};
use tornado_ioloop::IoLoop;
use tornado_iostream::tls;

/// The most a whole test may take on its loop.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// The most one proxy read or write may block.
pub const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs `f` on a fresh loop, failing the test after [`TIMEOUT`].
pub fn run<F: Future + 'static>(f: F) -> F::Output {
    IoLoop::new()
        .expect("new loop")
        .run_sync_timeout(f, TIMEOUT)
        .expect("test timed out")
}

/// A directory under the system's temporary directory, unique to this
/// process and call, removed with everything in it on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "tornado-httpclient-{name}-{}-{n}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `contents` to `name` in the directory; returns its path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write temp file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A certificate and its key, as PEM text and as files.
#[derive(Debug)]
pub struct Pem {
    pub cert: String,
    pub key: String,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
}

impl Pem {
    fn write(dir: &TempDir, name: &str, cert: String, key: String) -> Pem {
        Pem {
            cert_path: dir.write(&format!("{name}.crt"), &cert),
            key_path: dir.write(&format!("{name}.key"), &key),
            cert,
            key,
        }
    }

    /// A rustls server configuration with this certificate, no client auth.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        tls::server_config(self.chain(), self.private_key(), &[b"http/1.1"]).expect("server config")
    }

    pub fn chain(&self) -> Vec<rustls::pki_types::CertificateDer<'static>> {
        tls::certs_from_pem(self.cert.as_bytes()).expect("certs")
    }

    pub fn private_key(&self) -> rustls::pki_types::PrivateKeyDer<'static> {
        tls::private_key_from_pem(self.key.as_bytes()).expect("key")
    }
}

/// A test CA, certificates it signed, and a self-signed one; all as PEM
/// files in a temporary directory.
#[derive(Debug)]
pub struct TestPki {
    /// The CA certificate (`ca_certs` for the client).
    pub ca: PathBuf,
    /// "localhost" and 127.0.0.1, signed by the CA.
    pub server: Pem,
    /// "other.example" only, signed by the CA.
    pub other_name: Pem,
    /// A client certificate (clientAuth), signed by the CA.
    pub client: Pem,
    /// "localhost" and 127.0.0.1, self-signed.
    pub self_signed: Pem,
    /// A client certificate signed by a CA the server does not trust.
    pub stranger_client: Pem,
    dir: TempDir,
}

fn new_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn leaf(names: &[&str], purpose: ExtendedKeyUsagePurpose) -> (CertificateParams, KeyPair) {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let mut params = CertificateParams::new(names.clone()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, names[0].as_str());
    params.extended_key_usages = vec![purpose];
    (params, KeyPair::generate().unwrap())
}

impl TestPki {
    pub fn new() -> TestPki {
        let dir = TempDir::new("pki");
        let authority = new_ca("Tornado test CA");
        let ca = dir.write("ca.crt", &authority.pem());

        let signed = |name: &str, names: &[&str], purpose| {
            let (params, key) = leaf(names, purpose);
            let cert = params.signed_by(&key, &authority).unwrap();
            Pem::write(&dir, name, cert.pem(), key.serialize_pem())
        };
        let server = signed(
            "server",
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let other_name = signed(
            "other",
            &["other.example"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let client = signed(
            "client",
            &["client.example"],
            ExtendedKeyUsagePurpose::ClientAuth,
        );

        let (params, key) = leaf(
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let cert = params.self_signed(&key).unwrap();
        let self_signed = Pem::write(&dir, "self-signed", cert.pem(), key.serialize_pem());

        let stranger = new_ca("Some other CA");
        let (params, key) = leaf(&["client.example"], ExtendedKeyUsagePurpose::ClientAuth);
        let cert = params.signed_by(&key, &stranger).unwrap();
        let stranger_client = Pem::write(&dir, "stranger", cert.pem(), key.serialize_pem());

        TestPki {
            ca,
            server,
            other_name,
            client,
            self_signed,
            stranger_client,
            dir,
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server certificate, and client certificates required: they must
    /// chain to the test CA.
    pub fn server_config_requiring_client_cert(&self) -> Arc<rustls::ServerConfig> {
        let mut roots = RootCertStore::empty();
        for cert in tls::load_certs(&self.ca).unwrap() {
            roots.add(cert).unwrap();
        }
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), tls::crypto_provider())
                .build()
                .expect("client verifier");
        let mut config = rustls::ServerConfig::builder_with_provider(tls::crypto_provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.server.chain(), self.server.private_key())
            .expect("server config");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

/// What the origin saw of one request.
#[derive(Debug, Clone)]
pub struct OriginRequest {
    pub method: String,
    pub uri: String,
    pub host: String,
    pub headers: Headers,
}

impl OriginRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An origin server on 127.0.0.1 port 0 (HTTPS with `tls`) that answers
/// `METHOD URI` and records each request.
pub struct Origin {
    pub server: HttpServer,
    pub port: u16,
    pub seen: Rc<RefCell<Vec<OriginRequest>>>,
}

impl Origin {
    pub fn start(tls: Option<Arc<rustls::ServerConfig>>) -> Origin {
        let seen: Rc<RefCell<Vec<OriginRequest>>> = Rc::default();
        let log = seen.clone();
        let settings = HttpServerSettings {
            tls,
            ..HttpServerSettings::default()
        };
        let server = HttpServer::with_settings(
            move |req: HttpServerRequest| {
                log.borrow_mut().push(OriginRequest {
                    method: req.method().to_string(),
                    uri: req.uri().to_owned(),
                    host: req.host().to_owned(),
                    headers: req
                        .headers()
                        .iter()
                        .map(|(n, v)| (n.to_string(), v.to_string()))
                        .collect(),
                });
                let text = format!("{} {}", req.method(), req.uri());
                async move { Response::text(text) }
            },
            settings,
        );
        server.listen(0, Some("127.0.0.1")).expect("listen");
        let port = server.local_addrs()[0].port();
        Origin { server, port, seen }
    }

    pub fn requests(&self) -> Vec<OriginRequest> {
        self.seen.borrow().clone()
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.server.stop();
    }
}

/// What the proxy saw of one request (a forwarded one or a `CONNECT`).
#[derive(Debug, Clone)]
pub struct ProxyRequest {
    pub request_line: String,
    pub headers: Headers,
}

impl ProxyRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Default)]
struct ProxyState {
    seen: Mutex<Vec<ProxyRequest>>,
    connections: AtomicUsize,
}

/// A blocking HTTP proxy on 127.0.0.1 port 0, one thread per connection:
/// an absolute-form request is forwarded to its origin (on a new origin
/// connection, with a `Via` header added) and the response relayed; a
/// `CONNECT` opens a tunnel relayed both ways. With `require_auth`, a
/// request without that `Proxy-Authorization` value gets 407 and the
/// connection is closed.
#[derive(Debug)]
pub struct TestProxy {
    pub addr: SocketAddr,
    state: Arc<ProxyState>,
}

/// The header the proxy adds to a forwarded request.
pub const VIA: &str = "1.1 tornado-test-proxy";

impl TestProxy {
    pub fn start(require_auth: Option<String>) -> TestProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(ProxyState::default());
        let shared = state.clone();
        // The accept thread ends with the test process; the listener is
        // never closed before that, so it needs no timeout.
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let (state, auth) = (shared.clone(), require_auth.clone());
                std::thread::spawn(move || {
                    if let Err(e) = serve_client(client, &state, auth.as_deref()) {
                        eprintln!("test proxy: {e}");
                    }
                });
            }
        });
        TestProxy { addr, state }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The requests seen so far, in order.
    pub fn requests(&self) -> Vec<ProxyRequest> {
        self.state.seen.lock().unwrap().clone()
    }

    /// The client connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }
}

fn timeouts(stream: &TcpStream) -> io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))
}

/// Header lines as (name, value), in order.
type Headers = Vec<(String, String)>;

/// Reads a head (request or response): its first line and headers;
/// `None` at a clean end of stream.
fn read_head(reader: &mut impl BufRead) -> io::Result<Option<(String, Headers)>> {
    let mut first = String::new();
    if reader.read_line(&mut first)? == 0 {
        return Ok(None);
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "head cut off"));
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, line.to_owned()))?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    Ok(Some((first.trim_end().to_owned(), headers)))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn content_length(headers: &[(String, String)]) -> io::Result<usize> {
    match header(headers, "Content-Length") {
        Some(n) => n
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad Content-Length")),
        None => Ok(0),
    }
}

fn serve_client(client: TcpStream, state: &ProxyState, auth: Option<&str>) -> io::Result<()> {
    timeouts(&client)?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut writer = client;
    loop {
        let Some((line, headers)) = read_head(&mut reader)? else {
            return Ok(());
        };
        state.seen.lock().unwrap().push(ProxyRequest {
            request_line: line.clone(),
            headers: headers.clone(),
        });
        if let Some(expected) = auth
            && header(&headers, "Proxy-Authorization") != Some(expected)
        {
            writer.write_all(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                  Proxy-Authenticate: Basic realm=\"test\"\r\n\
                  Content-Length: 0\r\nConnection: close\r\n\r\n",
            )?;
            return Ok(());
        }
        let mut parts = line.split(' ');
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if method == "CONNECT" {
            let upstream = match TcpStream::connect(target) {
                Ok(s) => s,
                Err(_) => {
                    writer.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")?;
                    return Ok(());
                }
            };
            timeouts(&upstream)?;
            writer.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
            // Anything the client sent after the CONNECT head is already
            // in the reader's buffer: it goes first.
            let early = reader.buffer().to_vec();
            let mut up = upstream.try_clone()?;
            up.write_all(&early)?;
            let mut down = writer.try_clone()?;
            let mut from_origin = upstream;
            let back = std::thread::spawn(move || {
                let _ = io::copy(&mut from_origin, &mut down);
                let _ = down.shutdown(Shutdown::Write);
            });
            let mut from_client = reader.into_inner();
            let _ = io::copy(&mut from_client, &mut up);
            let _ = up.shutdown(Shutdown::Write);
            let _ = back.join();
            return Ok(());
        }
        let Some(rest) = target.strip_prefix("http://") else {
            writer.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")?;
            return Ok(());
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let mut body = vec![0; content_length(&headers)?];
        reader.read_exact(&mut body)?;
        let Ok(mut upstream) = TcpStream::connect(authority) else {
            writer.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")?;
            continue;
        };
        timeouts(&upstream)?;
        let mut out = format!("{method} {path} HTTP/1.1\r\n");
        for (name, value) in &headers {
            if !name.eq_ignore_ascii_case("Proxy-Authorization")
                && !name.eq_ignore_ascii_case("Proxy-Connection")
            {
                out.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        out.push_str(&format!("Via: {VIA}\r\n\r\n"));
        upstream.write_all(out.as_bytes())?;
        upstream.write_all(&body)?;
        let mut from_origin = BufReader::new(upstream);
        let (status, response_headers) = read_head(&mut from_origin)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "no response"))?;
        let mut response_body = vec![0; content_length(&response_headers)?];
        from_origin.read_exact(&mut response_body)?;
        let mut out = format!("{status}\r\n");
        for (name, value) in &response_headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        writer.write_all(out.as_bytes())?;
        writer.write_all(&response_body)?;
    }
}
