//! TLS over any [`Transport`] with rustls (ring provider): Tornado's `SSLIOStream`.
//!
//! A TLS stream is an ordinary [`IoStream`] whose transport is a [`TlsTransport`]; make
//! one with [`IoStream::start_tls`] on a connected stream (client or server side, chosen
//! by the [`TlsConfig`]) and await the returned [`Handshake`], or call
//! [`IoStream::wait_for_handshake`]. Reads and writes may start before the handshake
//! ends: they wait for it. Clients verify the server's certificate and host name by
//! default (the webpki roots, or the [`RootCertStore`] given to [`client_config`]).
//!
//! ```no_run
//! use tornado_iostream::IoStream;
//! use tornado_iostream::tls::{TlsConfig, client_config};
//!
//! # async fn f(addr: std::net::SocketAddr) -> std::io::Result<()> {
//! let stream = IoStream::connect(addr).await?;
//! let config = client_config(None, &[b"http/1.1"])?;
//! stream.start_tls(TlsConfig::client(config, "example.com")?).await?;
//! assert_eq!(stream.selected_alpn_protocol().as_deref(), Some(&b"http/1.1"[..]));
//! stream.write(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n").await?;
//! # Ok(()) }
//! ```

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use mio::event::Source;
use mio::{Interest, Registry, Token};
use rustls::crypto::CryptoProvider;
use rustls::{
    ClientConfig, ClientConnection, Connection, RootCertStore, ServerConfig, ServerConnection,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::stream::IoStream;
use crate::transport::Transport;

/// Which side of a TLS session to start, with its configuration.
///
/// ```
/// use tornado_iostream::tls::{TlsConfig, client_config};
///
/// let config = TlsConfig::client(client_config(None, &[]).unwrap(), "example.test").unwrap();
/// match config {
///     TlsConfig::Client { server_name, .. } => assert_eq!(server_name.to_str(), "example.test"),
///     TlsConfig::Server(_) => unreachable!("a client configuration"),
/// }
/// ```
#[derive(Debug, Clone)]
pub enum TlsConfig {
    /// Accept a TLS session (server side).
    Server(Arc<ServerConfig>),
    /// Open a TLS session to `server_name` (client side; the name is sent as SNI and
    /// checked against the server's certificate).
    Client {
        /// The client configuration (roots, ALPN, …).
        config: Arc<ClientConfig>,
        /// The name the server's certificate must be valid for.
        server_name: ServerName<'static>,
    },
}

impl TlsConfig {
    /// The server side with `config`.
    ///
    /// ```
    /// use tornado_iostream::tls::{TlsConfig, server_config};
    ///
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    /// # let key = rustls_pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    /// let config = server_config(vec![ck.cert.der().clone()], key, &[]).unwrap();
    /// assert!(matches!(TlsConfig::server(config), TlsConfig::Server(_)));
    /// ```
    pub fn server(config: Arc<ServerConfig>) -> TlsConfig {
        TlsConfig::Server(config)
    }

    /// The client side, for the server called `server_hostname` (a DNS name or an IP
    /// address).
    ///
    /// ```
    /// use tornado_iostream::tls::{TlsConfig, client_config};
    ///
    /// let config = client_config(None, &[]).unwrap();
    /// assert!(TlsConfig::client(config.clone(), "example.test").is_ok());
    /// assert!(TlsConfig::client(config.clone(), "127.0.0.1").is_ok());
    /// let err = TlsConfig::client(config, "not a host name").unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// ```
    pub fn client(config: Arc<ClientConfig>, server_hostname: &str) -> io::Result<TlsConfig> {
        let server_name = ServerName::try_from(server_hostname.to_owned()).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid TLS server name {server_hostname:?}: {e}"),
            )
        })?;
        Ok(TlsConfig::Client {
            config,
            server_name,
        })
    }

    fn connection(self) -> io::Result<Connection> {
        let conn: Connection = match self {
            TlsConfig::Server(config) => ServerConnection::new(config).map_err(tls_error)?.into(),
            TlsConfig::Client {
                config,
                server_name,
            } => ClientConnection::new(config, server_name)
                .map_err(tls_error)?
                .into(),
        };
        Ok(conn)
    }
}

fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// The peer closed the connection before the TLS handshake completed.
fn handshake_eof() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the peer closed the connection during the TLS handshake",
    )
}

/// The crypto provider used by the helpers here: rustls' `ring` provider.
///
/// ```
/// use tornado_iostream::tls::crypto_provider;
///
/// let provider = crypto_provider();
/// assert!(!provider.cipher_suites.is_empty());
/// assert!(!provider.kx_groups.is_empty());
/// ```
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server configuration from a certificate chain and its private key, offering the
/// given ALPN protocols (most preferred first; empty for none).
///
/// ```
/// use tornado_iostream::tls::server_config;
///
/// let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
/// let key = rustls_pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
/// let config = server_config(vec![ck.cert.der().clone()], key, &[b"h2", b"http/1.1"]).unwrap();
/// assert_eq!(config.alpn_protocols, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
/// ```
pub fn server_config(
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    alpn_protocols: &[&[u8]],
) -> io::Result<Arc<ServerConfig>> {
    let mut config = ServerConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .with_no_client_auth()
        .with_single_cert(cert_chain, key)
        .map_err(tls_error)?;
    config.alpn_protocols = alpn_protocols.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The Mozilla root certificates (from `webpki-roots`): what clients verify
/// servers against unless told otherwise.
///
/// ```
/// use tornado_iostream::tls::mozilla_roots;
///
/// let roots = mozilla_roots();
/// assert_eq!(roots.len(), webpki_roots::TLS_SERVER_ROOTS.len());
/// assert!(!roots.is_empty());
/// ```
pub fn mozilla_roots() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

/// A client configuration that verifies servers against `roots` (the Mozilla roots
/// from `webpki-roots` when `None`) and offers the given ALPN protocols.
///
/// ```
/// use tornado_iostream::tls::client_config;
///
/// // The Mozilla roots, offering HTTP/2 then HTTP/1.1.
/// let config = client_config(None, &[b"h2", b"http/1.1"]).unwrap();
/// assert_eq!(config.alpn_protocols, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
/// // Only a private CA (here: none at all), no ALPN.
/// let config = client_config(Some(rustls::RootCertStore::empty()), &[]).unwrap();
/// assert!(config.alpn_protocols.is_empty());
/// ```
pub fn client_config(
    roots: Option<RootCertStore>,
    alpn_protocols: &[&[u8]],
) -> io::Result<Arc<ClientConfig>> {
    let roots = roots.unwrap_or_else(mozilla_roots);
    let mut config = ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn_protocols.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

fn pem_error(what: &str, e: rustls_pki_types::pem::Error) -> io::Error {
    match e {
        rustls_pki_types::pem::Error::Io(e) => e,
        e => io::Error::new(io::ErrorKind::InvalidData, format!("{what}: {e}")),
    }
}

/// Loads every certificate from a PEM file (a chain: leaf first).
///
/// ```
/// use tornado_iostream::tls::load_certs;
///
/// let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
/// let path = std::env::temp_dir().join(format!("tornado-doc-certs-{}.pem", std::process::id()));
/// std::fs::write(&path, ck.cert.pem()).unwrap();
/// assert_eq!(load_certs(&path).unwrap(), vec![ck.cert.der().clone()]);
/// std::fs::remove_file(&path).unwrap();
/// assert_eq!(load_certs(&path).unwrap_err().kind(), std::io::ErrorKind::NotFound);
/// ```
pub fn load_certs(path: impl AsRef<Path>) -> io::Result<Vec<CertificateDer<'static>>> {
    let what = path.as_ref().display().to_string();
    let certs = CertificateDer::pem_file_iter(path.as_ref())
        .map_err(|e| pem_error(&what, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(&what, e))?;
    if certs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{what}: no certificate found"),
        ));
    }
    Ok(certs)
}

/// Loads the first private key (PKCS#8, PKCS#1 or SEC1) from a PEM file.
///
/// ```
/// use tornado_iostream::tls::load_private_key;
///
/// let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
/// let path = std::env::temp_dir().join(format!("tornado-doc-key-{}.pem", std::process::id()));
/// std::fs::write(&path, ck.signing_key.serialize_pem()).unwrap();
/// let key = load_private_key(&path).unwrap();
/// std::fs::remove_file(&path).unwrap();
/// assert_eq!(key.secret_der(), &ck.signing_key.serialize_der()[..]);
/// ```
pub fn load_private_key(path: impl AsRef<Path>) -> io::Result<PrivateKeyDer<'static>> {
    let what = path.as_ref().display().to_string();
    PrivateKeyDer::from_pem_file(path.as_ref()).map_err(|e| pem_error(&what, e))
}

/// Parses every certificate in PEM text.
///
/// ```
/// use tornado_iostream::tls::certs_from_pem;
///
/// let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
/// let certs = certs_from_pem(ck.cert.pem().as_bytes()).unwrap();
/// assert_eq!(certs, vec![ck.cert.der().clone()]);
/// let err = certs_from_pem(b"no PEM here").unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
/// ```
pub fn certs_from_pem(pem: &[u8]) -> io::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error("PEM certificates", e))?;
    if certs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "no certificate found in the PEM text",
        ));
    }
    Ok(certs)
}

/// Parses the first private key in PEM text.
///
/// ```
/// use tornado_iostream::tls::private_key_from_pem;
///
/// let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
/// let key = private_key_from_pem(ck.signing_key.serialize_pem().as_bytes()).unwrap();
/// assert_eq!(key.secret_der(), &ck.signing_key.serialize_der()[..]);
/// assert!(private_key_from_pem(b"no PEM here").is_err());
/// ```
pub fn private_key_from_pem(pem: &[u8]) -> io::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| pem_error("PEM private key", e))
}

/// A TLS session over another transport.
///
/// Reading decrypts (and moves the handshake along); writing encrypts into rustls and
/// sends what the socket takes; records the socket did not take are sent by
/// [`Transport::flush_pending`] when it becomes writable again.
///
/// ```
/// use tornado_ioloop::IoLoop;
/// use tornado_iostream::IoStream;
/// use tornado_iostream::tls::{self, TlsConfig, TlsTransport};
///
/// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
/// # let key = rustls_pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
/// # let server_cfg = tls::server_config(vec![ck.cert.der().clone()], key, &[]).unwrap();
/// # let mut roots = rustls::RootCertStore::empty();
/// # roots.add(ck.cert.der().clone()).unwrap();
/// # let client_cfg = tls::client_config(Some(roots), &[]).unwrap();
/// IoLoop::new().unwrap().run_sync(async move {
///     let (a, b) = mio::net::UnixStream::pair().unwrap();
///     let client = TlsConfig::client(client_cfg, "localhost").unwrap();
///     let client = IoStream::new(TlsTransport::new(Box::new(a), client).unwrap()).unwrap();
///     let server = TlsTransport::new(Box::new(b), TlsConfig::server(server_cfg)).unwrap();
///     let server = IoStream::new(server).unwrap();
///     let server_side = tornado_ioloop::spawn(server.wait_for_handshake());
///     client.wait_for_handshake().await.unwrap();
///     server_side.await.unwrap().unwrap();
///
///     client.write(b"secret\n").await.unwrap();
///     assert_eq!(&server.read_until(b"\n", None).await.unwrap()[..], b"secret\n");
/// });
/// ```
pub struct TlsTransport {
    inner: Box<dyn Transport>,
    conn: Connection,
    eof: bool,
    /// The peer closed the socket without `close_notify`.
    truncated: bool,
    /// Plaintext was written before the handshake finished and is held by rustls.
    early_plaintext: bool,
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTransport")
            .field("inner", &self.inner)
            .field("server_side", &matches!(self.conn, Connection::Server(_)))
            .field("handshaking", &self.conn.is_handshaking())
            .finish_non_exhaustive()
    }
}

/// `std::io` views of the inner transport, for rustls' `read_tls`/`write_tls`.
struct Io<'a>(&'a mut dyn Transport);

impl Read for Io<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Io<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    /// rustls offers its queued records together: one `writev` for all of them when
    /// the socket below can (else the first record, as `write`).
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.0.write_vectored(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TlsTransport {
    /// Starts a TLS session over `inner`.
    ///
    /// ```
    /// use tornado_iostream::Transport;
    /// use tornado_iostream::tls::{TlsConfig, TlsTransport, client_config};
    ///
    /// let (a, _b) = mio::net::UnixStream::pair().unwrap();
    /// let config = TlsConfig::client(client_config(None, &[]).unwrap(), "example.test").unwrap();
    /// let transport = TlsTransport::new(Box::new(a), config).unwrap();
    /// // Nothing has been exchanged yet: the ClientHello waits to be sent.
    /// assert!(transport.is_handshaking());
    /// assert!(transport.has_pending_output());
    /// ```
    pub fn new(inner: Box<dyn Transport>, config: TlsConfig) -> io::Result<TlsTransport> {
        Ok(TlsTransport::from_parts(inner, config.connection()?))
    }

    fn from_parts(inner: Box<dyn Transport>, mut conn: Connection) -> TlsTransport {
        // Backpressure comes from the socket (see `write`), not from a rustls limit.
        conn.set_buffer_limit(None);
        TlsTransport {
            inner,
            conn,
            eof: false,
            truncated: false,
            early_plaintext: false,
        }
    }

    /// The rustls session.
    ///
    /// ```
    /// use tornado_iostream::tls::{TlsConfig, TlsTransport, client_config};
    ///
    /// let (a, _b) = mio::net::UnixStream::pair().unwrap();
    /// let config = client_config(None, &[b"h2"]).unwrap();
    /// let config = TlsConfig::client(config, "example.test").unwrap();
    /// let transport = TlsTransport::new(Box::new(a), config).unwrap();
    /// assert!(matches!(transport.connection(), rustls::Connection::Client(_)));
    /// assert!(transport.connection().is_handshaking());
    /// assert_eq!(transport.connection().alpn_protocol(), None);
    /// ```
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The transport under the TLS layer.
    ///
    /// ```
    /// use tornado_iostream::tls::{TlsConfig, TlsTransport, client_config};
    ///
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// let socket = mio::net::TcpStream::from_std(std::net::TcpStream::connect(addr).unwrap());
    /// let config = TlsConfig::client(client_config(None, &[]).unwrap(), "127.0.0.1").unwrap();
    /// let transport = TlsTransport::new(Box::new(socket), config).unwrap();
    /// assert_eq!(transport.get_ref().peer_addr().unwrap(), addr);
    /// assert!(transport.get_ref().tls().is_none()); // plain TCP below the TLS layer
    /// ```
    pub fn get_ref(&self) -> &dyn Transport {
        &*self.inner
    }

    fn write_records(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut Io(&mut *self.inner)) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "the socket accepted no TLS data",
                    ));
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if !self.conn.is_handshaking() {
            self.early_plaintext = false;
        }
        Ok(())
    }

    /// Sends what can be sent now; `WouldBlock` is not an error here.
    fn write_records_now(&mut self) -> io::Result<()> {
        match self.write_records() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(()),
        }
    }
}

impl Source for TlsTransport {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.inner.register(registry, token, interest)
    }
    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.inner.reregister(registry, token, interest)
    }
    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        self.inner.deregister(registry)
    }
}

impl Transport for TlsTransport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                // The peer went away before the session was set up: a handshake
                // failure (Tornado's `SSLEOFError`), not a clean end of the stream.
                Ok(0) if !buf.is_empty() && self.conn.is_handshaking() => {
                    return Err(handshake_eof());
                }
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e)
                    if e.kind() == io::ErrorKind::UnexpectedEof && self.conn.is_handshaking() =>
                {
                    return Err(handshake_eof());
                }
                // The peer closed the socket without close_notify: the end (as Tornado
                // takes it), noted for a reader whose data only the close delimits.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    self.truncated = true;
                    return Ok(0);
                }
                Err(e) => return Err(e),
            }
            if self.eof {
                return Ok(0);
            }
            match self.conn.read_tls(&mut Io(&mut *self.inner)) {
                Ok(0) => self.eof = true,
                Ok(_) => {}
                Err(e) => return Err(e),
            }
            if let Err(e) = self.conn.process_new_packets() {
                // Best effort: tell the peer why (the alert rustls queued).
                let _ = self.write_records();
                return Err(tls_error(e));
            }
            // Handshake messages, key updates, alerts.
            self.write_records_now()?;
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[io::IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        // Records the socket has not taken yet come first; if it still cannot take them
        // it is full, and its next writable event will bring us back. rustls copies the
        // plaintext into its records: every buffer at once.
        self.write_records()?;
        let n = self.conn.writer().write_vectored(bufs)?;
        if self.conn.is_handshaking() && n > 0 {
            self.early_plaintext = true;
        }
        self.write_records_now()?;
        Ok(n)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }

    fn short_read_means_drained(&self) -> bool {
        false
    }

    fn eof_was_truncated(&self) -> bool {
        self.truncated
    }

    fn flush_pending(&mut self) -> io::Result<()> {
        self.write_records()
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        // close_notify first, so the peer can tell this end from a truncation.
        self.conn.send_close_notify();
        self.write_records()?;
        self.inner.shutdown_write()
    }

    fn has_pending_output(&self) -> bool {
        self.conn.wants_write() || (self.early_plaintext && self.conn.is_handshaking())
    }

    fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    fn can_read(&self) -> bool {
        self.inner.can_read()
    }

    fn can_write(&self) -> bool {
        self.inner.can_write()
    }

    fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.set_nodelay(nodelay)
    }

    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.take_error()
    }

    fn on_close(&mut self) {
        if !self.conn.is_handshaking() {
            self.conn.send_close_notify();
            let _ = self.write_records();
        }
        self.inner.on_close();
    }

    fn tls(&self) -> Option<&rustls::CommonState> {
        Some(&self.conn)
    }

    fn tls_server_name(&self) -> Option<&str> {
        match &self.conn {
            Connection::Server(s) => s.server_name(),
            Connection::Client(_) => None,
        }
    }
}

/// The future of [`IoStream::start_tls`] and [`IoStream::wait_for_handshake`]: resolves
/// when the TLS handshake is complete (at once for a stream without TLS), or fails with
/// the handshake's error (kind `InvalidData`, a [`rustls::Error`] inside: a certificate
/// that does not verify, a name mismatch, an alert from the peer; kind `UnexpectedEof`
/// if the peer closed the connection before the handshake completed; or the socket's
/// own error, such as a reset). The stream is then closed with that error.
///
/// ```
/// use tornado_ioloop::IoLoop;
/// use tornado_iostream::IoStream;
/// use tornado_iostream::tls::{self, TlsConfig};
///
/// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
/// # let key = rustls_pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
/// # let server_cfg = tls::server_config(vec![ck.cert.der().clone()], key, &[b"h2"]).unwrap();
/// # let mut roots = rustls::RootCertStore::empty();
/// # roots.add(ck.cert.der().clone()).unwrap();
/// # let client_cfg = tls::client_config(Some(roots), &[b"h2"]).unwrap();
/// IoLoop::new().unwrap().run_sync(async move {
///     let (a, b) = mio::net::UnixStream::pair().unwrap();
///     let (client, server) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
///     let server_side = tornado_ioloop::spawn(server.start_tls(TlsConfig::server(server_cfg)));
///     let handshake = client.start_tls(TlsConfig::client(client_cfg, "localhost").unwrap());
///     handshake.await.unwrap();
///     server_side.await.unwrap().unwrap();
///     assert_eq!(client.selected_alpn_protocol().as_deref(), Some(&b"h2"[..]));
///     assert_eq!(server.tls_server_name().as_deref(), Some("localhost"));
/// });
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Handshake {
    stream: IoStream,
    error: Option<io::Error>,
}

impl Future for Handshake {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(e) = this.error.take() {
            return Poll::Ready(Err(e));
        }
        this.stream.poll_handshake(cx)
    }
}

impl IoStream {
    /// Starts TLS on this connected stream, as a server or a client depending on
    /// `config` (Tornado's `start_tls`). The stream must be idle: no pending read, no
    /// buffered input or queued output. The returned future resolves when the handshake
    /// is done; reads and writes may be started before that and wait for it.
    ///
    /// ```
    /// use tornado_ioloop::{IoLoop, spawn};
    /// use tornado_iostream::IoStream;
    /// use tornado_iostream::tls::{self, TlsConfig};
    ///
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    /// # let key = rustls_pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    /// # let server_cfg = tls::server_config(vec![ck.cert.der().clone()], key, &[]).unwrap();
    /// # let mut roots = rustls::RootCertStore::empty();
    /// # roots.add(ck.cert.der().clone()).unwrap();
    /// # let client_cfg = tls::client_config(Some(roots), &[]).unwrap();
    /// IoLoop::new().unwrap().run_sync(async move {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let (client, server) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
    ///     let server_side = spawn(server.start_tls(TlsConfig::server(server_cfg)));
    ///     let config = TlsConfig::client(client_cfg.clone(), "localhost").unwrap();
    ///     client.start_tls(config).await.unwrap();
    ///     server_side.await.unwrap().unwrap();
    ///     client.write(b"ping\n").await.unwrap();
    ///     assert_eq!(&server.read_until(b"\n", None).await.unwrap()[..], b"ping\n");
    ///
    ///     // Only an idle stream can start TLS: not one with a read pending.
    ///     let (c, _d) = mio::net::UnixStream::pair().unwrap();
    ///     let busy = IoStream::new(c).unwrap();
    ///     let _pending = busy.read_bytes(1, false);
    ///     let config = TlsConfig::client(client_cfg, "localhost").unwrap();
    ///     let err = busy.start_tls(config).await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// });
    /// ```
    pub fn start_tls(&self, config: TlsConfig) -> Handshake {
        let error = config
            .connection()
            .and_then(|conn| {
                self.wrap_transport(|inner| Box::new(TlsTransport::from_parts(inner, conn)))
            })
            .err();
        Handshake {
            stream: self.clone(),
            error,
        }
    }

    /// Resolves when the TLS handshake has completed (at once if the stream has no TLS).
    ///
    /// ```
    /// use tornado_ioloop::{IoLoop, spawn};
    /// use tornado_iostream::IoStream;
    /// use tornado_iostream::tls::{self, TlsConfig, TlsTransport};
    ///
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    /// # let key = rustls_pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    /// # let server_cfg = tls::server_config(vec![ck.cert.der().clone()], key, &[]).unwrap();
    /// # let mut roots = rustls::RootCertStore::empty();
    /// # roots.add(ck.cert.der().clone()).unwrap();
    /// # let client_cfg = tls::client_config(Some(roots), &[]).unwrap();
    /// IoLoop::new().unwrap().run_sync(async move {
    ///     // Without TLS there is no handshake to wait for.
    ///     let (a, _b) = mio::net::UnixStream::pair().unwrap();
    ///     IoStream::new(a).unwrap().wait_for_handshake().await.unwrap();
    ///
    ///     // A stream made over a TlsTransport (rather than by start_tls) handshakes as well.
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let config = TlsConfig::client(client_cfg, "localhost").unwrap();
    ///     let client = IoStream::new(TlsTransport::new(Box::new(a), config).unwrap()).unwrap();
    ///     let server = IoStream::new(b).unwrap();
    ///     let server_side = spawn(server.start_tls(TlsConfig::server(server_cfg)));
    ///     assert_eq!(client.tls_version(), None); // not yet
    ///     client.wait_for_handshake().await.unwrap();
    ///     server_side.await.unwrap().unwrap();
    ///     assert!(client.tls_version().is_some());
    /// });
    /// ```
    pub fn wait_for_handshake(&self) -> Handshake {
        Handshake {
            stream: self.clone(),
            error: None,
        }
    }

    /// The ALPN protocol the TLS peers agreed on, if any.
    ///
    /// ```
    /// use tornado_ioloop::{IoLoop, spawn};
    /// use tornado_iostream::IoStream;
    /// use tornado_iostream::tls::{self, TlsConfig};
    ///
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    /// # let key = rustls_pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    /// // The server prefers HTTP/2; this client only speaks HTTP/1.1.
    /// let server_cfg =
    ///     tls::server_config(vec![ck.cert.der().clone()], key, &[b"h2", b"http/1.1"]).unwrap();
    /// # let mut roots = rustls::RootCertStore::empty();
    /// # roots.add(ck.cert.der().clone()).unwrap();
    /// let client_cfg = tls::client_config(Some(roots), &[b"http/1.1"]).unwrap();
    /// IoLoop::new().unwrap().run_sync(async move {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let (client, server) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
    ///     assert_eq!(client.selected_alpn_protocol(), None); // no TLS yet
    ///     let server_side = spawn(server.start_tls(TlsConfig::server(server_cfg)));
    ///     client.start_tls(TlsConfig::client(client_cfg, "localhost").unwrap()).await.unwrap();
    ///     server_side.await.unwrap().unwrap();
    ///     assert_eq!(client.selected_alpn_protocol().as_deref(), Some(&b"http/1.1"[..]));
    ///     assert_eq!(server.selected_alpn_protocol().as_deref(), Some(&b"http/1.1"[..]));
    /// });
    /// ```
    pub fn selected_alpn_protocol(&self) -> Option<Vec<u8>> {
        let t = self.transport()?;
        t.tls()?.alpn_protocol().map(<[u8]>::to_vec)
    }

    /// The server name (SNI) the TLS client asked for, on the server side.
    ///
    /// ```
    /// use tornado_ioloop::{IoLoop, spawn};
    /// use tornado_iostream::IoStream;
    /// use tornado_iostream::tls::{self, TlsConfig};
    ///
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    /// # let key = rustls_pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    /// # let server_cfg = tls::server_config(vec![ck.cert.der().clone()], key, &[]).unwrap();
    /// # let mut roots = rustls::RootCertStore::empty();
    /// # roots.add(ck.cert.der().clone()).unwrap();
    /// # let client_cfg = tls::client_config(Some(roots), &[]).unwrap();
    /// IoLoop::new().unwrap().run_sync(async move {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let (client, server) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
    ///     let server_side = spawn(server.start_tls(TlsConfig::server(server_cfg)));
    ///     client.start_tls(TlsConfig::client(client_cfg, "localhost").unwrap()).await.unwrap();
    ///     server_side.await.unwrap().unwrap();
    ///     // A virtual-host server picks its site by this name.
    ///     assert_eq!(server.tls_server_name().as_deref(), Some("localhost"));
    ///     assert_eq!(client.tls_server_name(), None); // the client side has none
    /// });
    /// ```
    pub fn tls_server_name(&self) -> Option<String> {
        let t = self.transport()?;
        t.tls_server_name().map(str::to_owned)
    }

    /// The certificate chain the TLS peer presented, if any.
    ///
    /// ```
    /// use tornado_ioloop::{IoLoop, spawn};
    /// use tornado_iostream::IoStream;
    /// use tornado_iostream::tls::{self, TlsConfig};
    ///
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    /// # let key = rustls_pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    /// # let server_cfg = tls::server_config(vec![ck.cert.der().clone()], key, &[]).unwrap();
    /// # let mut roots = rustls::RootCertStore::empty();
    /// # roots.add(ck.cert.der().clone()).unwrap();
    /// # let client_cfg = tls::client_config(Some(roots), &[]).unwrap();
    /// let server_cert = ck.cert.der().clone();
    /// IoLoop::new().unwrap().run_sync(async move {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let (client, server) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
    ///     let server_side = spawn(server.start_tls(TlsConfig::server(server_cfg)));
    ///     client.start_tls(TlsConfig::client(client_cfg, "localhost").unwrap()).await.unwrap();
    ///     server_side.await.unwrap().unwrap();
    ///     assert_eq!(client.peer_certificates(), Some(vec![server_cert]));
    ///     // This server asks clients for no certificate.
    ///     assert_eq!(server.peer_certificates(), None);
    /// });
    /// ```
    pub fn peer_certificates(&self) -> Option<Vec<CertificateDer<'static>>> {
        let t = self.transport()?;
        t.tls()?.peer_certificates().map(<[_]>::to_vec)
    }

    /// The negotiated TLS protocol version, once the handshake is done.
    ///
    /// ```
    /// use tornado_ioloop::{IoLoop, spawn};
    /// use tornado_iostream::IoStream;
    /// use tornado_iostream::tls::{self, TlsConfig};
    ///
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    /// # let key = rustls_pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    /// # let server_cfg = tls::server_config(vec![ck.cert.der().clone()], key, &[]).unwrap();
    /// # let mut roots = rustls::RootCertStore::empty();
    /// # roots.add(ck.cert.der().clone()).unwrap();
    /// # let client_cfg = tls::client_config(Some(roots), &[]).unwrap();
    /// IoLoop::new().unwrap().run_sync(async move {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let (client, server) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
    ///     assert_eq!(client.tls_version(), None); // plain so far
    ///     let server_side = spawn(server.start_tls(TlsConfig::server(server_cfg)));
    ///     client.start_tls(TlsConfig::client(client_cfg, "localhost").unwrap()).await.unwrap();
    ///     server_side.await.unwrap().unwrap();
    ///     // Both ends offer TLS 1.3 and 1.2; they settle on 1.3.
    ///     assert_eq!(client.tls_version(), Some(rustls::ProtocolVersion::TLSv1_3));
    ///     assert_eq!(server.tls_version(), client.tls_version());
    /// });
    /// ```
    pub fn tls_version(&self) -> Option<rustls::ProtocolVersion> {
        let t = self.transport()?;
        t.tls()?.protocol_version()
    }
}

/// Tornado's `SSLIOStream`: an [`IoStream`] whose transport is a [`TlsTransport`].
pub type SslIoStream = IoStream;
