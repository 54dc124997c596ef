//! A non-blocking TCP connection factory (Tornado's `tornado.tcpclient`).
//!
//! [`TcpClient::connect`] resolves a host with a [`Resolver`], connects with "happy
//! eyeballs" (RFC 6555: the first address's family first, the other family
//! [`SECONDARY_FAMILY_DELAY`] later or as soon as an attempt fails, first success wins)
//! and gives an [`IoStream`]. [`ConnectOptions`] adds a timeout over the whole
//! operation, a source address, and TLS.
//!
//! # Errors
//!
//! Every failure is an [`io::Error`] whose inner error is a [`ConnectError`] naming the
//! phase that failed ([`ConnectPhase::Resolve`], [`Connect`](ConnectPhase::Connect),
//! [`Tls`](ConnectPhase::Tls)) and the address, and whose kind is the cause's kind
//! (`ConnectionRefused`, `TimedOut`, …). Its message reads like
//! `connect to 127.0.0.1:1 failed: Connection refused (os error 111)`.
//!
//! ```
//! use std::time::Duration;
//! use tornado_ioloop::IoLoop;
//! use tornado_iostream::tcpclient::{ConnectError, ConnectPhase, TcpClient};
//!
//! let io_loop = IoLoop::new().unwrap();
//! let err = io_loop
//!     .run_sync_timeout(
//!         async {
//!             // Nothing listens on a port we just released.
//!             let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
//!             TcpClient::new().connect_socket("127.0.0.1", port, &Default::default()).await
//!         },
//!         Duration::from_secs(10),
//!     )
//!     .unwrap()
//!     .unwrap_err();
//! assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
//! let info = ConnectError::of(&err).unwrap();
//! assert_eq!(info.phase(), ConnectPhase::Connect);
//! assert!(err.to_string().starts_with("connect to 127.0.0.1:"));
//! ```

mod connect;
mod connector;

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use tornado_ioloop::{before_deadline, deadline_after, sleep_until};

use crate::netutil::{AddressFamily, DefaultResolver, Resolver};
use crate::stream::IoStream;
use crate::tls::TlsConfig;

use self::connector::Connector;

/// How long the primary address family has before the secondary one is tried in
/// parallel: 0.3 s, Tornado's `_INITIAL_CONNECT_TIMEOUT` (RFC 6555 suggests 150–250 ms).
pub const SECONDARY_FAMILY_DELAY: Duration = Duration::from_millis(300);

/// The step of [`TcpClient::connect`] that failed.
///
/// ```
/// use tornado_iostream::tcpclient::ConnectPhase;
///
/// assert_eq!(ConnectPhase::Resolve.to_string(), "resolve");
/// assert_eq!(ConnectPhase::Connect.to_string(), "connect");
/// assert_eq!(ConnectPhase::Tls.to_string(), "TLS handshake");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectPhase {
    /// Resolving the host name.
    Resolve,
    /// Establishing the TCP connection.
    Connect,
    /// The TLS handshake.
    Tls,
}

impl fmt::Display for ConnectPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnectPhase::Resolve => "resolve",
            ConnectPhase::Connect => "connect",
            ConnectPhase::Tls => "TLS handshake",
        })
    }
}

/// Why [`TcpClient::connect`] failed: carried inside the `io::Error` it returns.
///
/// ```
/// use std::time::Duration;
/// use tornado_ioloop::IoLoop;
/// use tornado_iostream::netutil::{AddressFamily, DefaultResolver, OverrideResolver};
/// use tornado_iostream::tcpclient::{ConnectError, ConnectOptions, ConnectPhase, TcpClient};
///
/// // "db.test" has only an IPv4 address, and the client asks for IPv6.
/// let resolver = OverrideResolver::new(DefaultResolver)
///     .with("db.test", 5432, vec!["127.0.0.1:5432".parse().unwrap()]);
/// let client = TcpClient::with_resolver(resolver);
/// let opts = ConnectOptions::new().family(AddressFamily::Inet6);
/// let err = IoLoop::new()
///     .unwrap()
///     .run_sync_timeout(
///         async move { client.connect_with("db.test", 5432, &opts).await },
///         Duration::from_secs(10),
///     )
///     .unwrap()
///     .unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
/// let info = ConnectError::of(&err).unwrap();
/// assert_eq!(info.phase(), ConnectPhase::Resolve);
/// assert_eq!((info.host(), info.port(), info.address()), ("db.test", 5432, None));
/// assert_eq!(err.to_string(), "resolve db.test failed: no Inet6 address for db.test");
/// ```
#[derive(Debug)]
pub struct ConnectError {
    phase: ConnectPhase,
    host: String,
    port: u16,
    addresses: Vec<SocketAddr>,
    timed_out: bool,
    source: io::Error,
}

impl ConnectError {
    fn new(phase: ConnectPhase, host: &str, port: u16, source: io::Error) -> ConnectError {
        ConnectError {
            phase,
            host: host.to_owned(),
            port,
            addresses: Vec::new(),
            timed_out: source.kind() == io::ErrorKind::TimedOut,
            source,
        }
    }

    fn at(mut self, addresses: Vec<SocketAddr>) -> ConnectError {
        self.addresses = addresses;
        self
    }

    fn timeout(phase: ConnectPhase, host: &str, port: u16) -> ConnectError {
        let source = io::Error::new(io::ErrorKind::TimedOut, "timed out");
        ConnectError::new(phase, host, port, source)
    }

    fn into_io(self) -> io::Error {
        let kind = if self.timed_out {
            io::ErrorKind::TimedOut
        } else {
            self.source.kind()
        };
        io::Error::new(kind, self)
    }

    /// The `ConnectError` inside an error returned by [`TcpClient::connect`].
    ///
    /// ```
    /// # use tornado_ioloop::IoLoop;
    /// # let port =
    /// #     std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    ///
    /// use tornado_iostream::tcpclient::{ConnectError, TcpClient};
    ///
    /// let err = IoLoop::new()
    ///     .unwrap()
    ///     .run_sync(async move { TcpClient::new().connect("127.0.0.1", port).await })
    ///     .unwrap_err();
    /// assert!(ConnectError::of(&err).is_some());
    /// assert!(ConnectError::of(&std::io::Error::other("unrelated")).is_none());
    /// ```
    pub fn of(e: &io::Error) -> Option<&ConnectError> {
        e.get_ref()?.downcast_ref::<ConnectError>()
    }

    /// The step that failed.
    ///
    /// ```
    /// # use tornado_ioloop::IoLoop;
    /// # let port =
    /// #     std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    ///
    /// use tornado_iostream::tcpclient::{ConnectError, ConnectPhase, TcpClient};
    ///
    /// let err = IoLoop::new()
    ///     .unwrap()
    ///     .run_sync(async move { TcpClient::new().connect("127.0.0.1", port).await })
    ///     .unwrap_err();
    /// assert_eq!(ConnectError::of(&err).unwrap().phase(), ConnectPhase::Connect);
    /// ```
    pub fn phase(&self) -> ConnectPhase {
        self.phase
    }

    /// The host that was asked for.
    ///
    /// ```
    /// # use tornado_ioloop::IoLoop;
    /// # let port =
    /// #     std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    ///
    /// use tornado_iostream::netutil::{DefaultResolver, OverrideResolver};
    /// use tornado_iostream::tcpclient::{ConnectError, TcpClient};
    ///
    /// let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    /// let resolver = OverrideResolver::new(DefaultResolver).with("db.test", port, vec![addr]);
    /// let err = IoLoop::new()
    ///     .unwrap()
    ///     .run_sync(async move {
    ///         TcpClient::with_resolver(resolver).connect("db.test", port).await
    ///     })
    ///     .unwrap_err();
    /// let info = ConnectError::of(&err).unwrap();
    /// assert_eq!(info.host(), "db.test"); // the name, not the address tried
    /// assert_eq!(info.address(), Some(addr));
    /// ```
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port that was asked for.
    ///
    /// ```
    /// # use tornado_ioloop::IoLoop;
    /// # let port =
    /// #     std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    ///
    /// use tornado_iostream::tcpclient::{ConnectError, TcpClient};
    ///
    /// let err = IoLoop::new()
    ///     .unwrap()
    ///     .run_sync(async move { TcpClient::new().connect("127.0.0.1", port).await })
    ///     .unwrap_err();
    /// assert_eq!(ConnectError::of(&err).unwrap().port(), port);
    /// ```
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address that failed (the last one tried), if the phase got that far.
    ///
    /// ```
    /// # use tornado_ioloop::IoLoop;
    /// # let port =
    /// #     std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    ///
    /// use tornado_iostream::tcpclient::{ConnectError, TcpClient};
    ///
    /// let err = IoLoop::new()
    ///     .unwrap()
    ///     .run_sync(async move { TcpClient::new().connect("127.0.0.1", port).await })
    ///     .unwrap_err();
    /// let failed = ConnectError::of(&err).unwrap().address().unwrap();
    /// assert_eq!(failed, std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    /// ```
    pub fn address(&self) -> Option<SocketAddr> {
        self.addresses.first().copied()
    }

    /// Every address involved: the attempts in flight when a timeout struck.
    ///
    /// ```
    /// # use tornado_ioloop::IoLoop;
    /// # let port =
    /// #     std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    ///
    /// use tornado_iostream::tcpclient::{ConnectError, TcpClient};
    ///
    /// let err = IoLoop::new()
    ///     .unwrap()
    ///     .run_sync(async move { TcpClient::new().connect("127.0.0.1", port).await })
    ///     .unwrap_err();
    /// let info = ConnectError::of(&err).unwrap();
    /// assert_eq!(info.addresses(), &[std::net::SocketAddr::from(([127, 0, 0, 1], port))]);
    /// assert!(!info.is_timeout());
    /// ```
    pub fn addresses(&self) -> &[SocketAddr] {
        &self.addresses
    }

    /// True when the phase ran out of time ([`ConnectOptions::timeout`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::netutil::{AddressFamily, ResolveFuture, Resolver};
    /// use tornado_iostream::tcpclient::{ConnectError, ConnectOptions, ConnectPhase, TcpClient};
    ///
    /// // A resolver that never answers.
    /// struct Silent;
    /// impl Resolver for Silent {
    ///     fn resolve(&self, _host: &str, _port: u16, _family: AddressFamily) -> ResolveFuture {
    ///         Box::pin(std::future::pending())
    ///     }
    /// }
    ///
    /// let opts = ConnectOptions::new().timeout(Duration::from_millis(50));
    /// let err = IoLoop::new()
    ///     .unwrap()
    ///     .run_sync(async move {
    ///         TcpClient::with_resolver(Silent).connect_with("slow.test", 80, &opts).await
    ///     })
    ///     .unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// let info = ConnectError::of(&err).unwrap();
    /// assert!(info.is_timeout());
    /// assert_eq!(info.phase(), ConnectPhase::Resolve);
    /// assert_eq!(err.to_string(), "timeout while resolving slow.test");
    /// ```
    pub fn is_timeout(&self) -> bool {
        self.timed_out
    }

    /// The underlying error.
    ///
    /// ```
    /// # use tornado_ioloop::IoLoop;
    /// # let port =
    /// #     std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    ///
    /// use tornado_iostream::tcpclient::{ConnectError, TcpClient};
    ///
    /// let err = IoLoop::new()
    ///     .unwrap()
    ///     .run_sync(async move { TcpClient::new().connect("127.0.0.1", port).await })
    ///     .unwrap_err();
    /// let info = ConnectError::of(&err).unwrap();
    /// assert_eq!(info.io_error().kind(), std::io::ErrorKind::ConnectionRefused);
    /// assert!(std::error::Error::source(info).is_some()); // the same error
    /// ```
    pub fn io_error(&self) -> &io::Error {
        &self.source
    }
}

fn join_addrs(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = if self.addresses.is_empty() {
            format!("{}:{}", self.host, self.port)
        } else {
            join_addrs(&self.addresses)
        };
        match (self.phase, self.timed_out) {
            (ConnectPhase::Resolve, true) => write!(f, "timeout while resolving {}", self.host),
            (ConnectPhase::Resolve, false) => {
                write!(f, "resolve {} failed: {}", self.host, self.source)
            }
            (ConnectPhase::Connect, true) => write!(f, "timeout while connecting to {target}"),
            (ConnectPhase::Connect, false) => {
                write!(f, "connect to {target} failed: {}", self.source)
            }
            (ConnectPhase::Tls, true) => write!(f, "timeout during TLS handshake with {target}"),
            (ConnectPhase::Tls, false) => {
                write!(f, "TLS handshake with {target} failed: {}", self.source)
            }
        }
    }
}

impl Error for ConnectError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

/// Options for [`TcpClient::connect_with`]; `Default` is no timeout, any family, no
/// source address, no TLS.
///
/// ```
/// use std::time::Duration;
/// use tornado_ioloop::IoLoop;
/// use tornado_iostream::netutil::AddressFamily;
/// use tornado_iostream::tcpclient::{ConnectOptions, TcpClient};
///
/// let opts = ConnectOptions {
///     family: AddressFamily::Inet,
///     timeout: Some(Duration::from_secs(5)),
///     ..Default::default()
/// };
/// assert!(opts.tls.is_none() && opts.source_ip.is_none());
/// IoLoop::new().unwrap().run_sync(async move {
///     let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     let stream = TcpClient::new().connect_with("127.0.0.1", addr.port(), &opts).await.unwrap();
///     assert_eq!(stream.peer_addr().unwrap(), addr);
/// });
/// ```
#[derive(Clone, Default)]
pub struct ConnectOptions {
    /// Restrict the resolved addresses to one family.
    pub family: AddressFamily,
    /// A deadline over the whole operation (resolve, connect, TLS); the error says which
    /// phase it interrupted.
    pub timeout: Option<Duration>,
    /// The local IP address to connect from.
    pub source_ip: Option<IpAddr>,
    /// The local port to connect from. Without `source_ip` the socket binds the
    /// unspecified address of the target's family (Tornado binds the loopback address).
    pub source_port: Option<u16>,
    /// Start TLS with this client configuration once connected (Tornado's
    /// `ssl_options`), e.g. from [`tls::client_config`](crate::tls::client_config).
    /// `connect` resolves once the handshake is done.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The name to send as SNI and to verify the server's certificate against; the
    /// `host` given to `connect` when `None`.
    pub server_hostname: Option<String>,
    /// The stream's [`max_buffer_size`](IoStream::set_max_buffer_size); `None` keeps the
    /// stream's default.
    pub max_buffer_size: Option<usize>,
}

impl ConnectOptions {
    /// Default options.
    ///
    /// ```
    /// use tornado_iostream::netutil::AddressFamily;
    /// use tornado_iostream::tcpclient::ConnectOptions;
    ///
    /// let opts = ConnectOptions::new();
    /// assert_eq!(opts.family, AddressFamily::Unspec);
    /// assert!(opts.timeout.is_none() && opts.tls.is_none() && opts.server_hostname.is_none());
    /// assert!(opts.source_ip.is_none() && opts.source_port.is_none());
    /// assert!(opts.max_buffer_size.is_none());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`family`](ConnectOptions::family).
    ///
    /// ```
    /// use tornado_iostream::netutil::AddressFamily;
    /// use tornado_iostream::tcpclient::ConnectOptions;
    ///
    /// let opts = ConnectOptions::new().family(AddressFamily::Inet6);
    /// assert_eq!(opts.family, AddressFamily::Inet6);
    /// ```
    pub fn family(mut self, family: AddressFamily) -> Self {
        self.family = family;
        self
    }

    /// Sets [`timeout`](ConnectOptions::timeout).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tornado_iostream::tcpclient::ConnectOptions;
    ///
    /// let opts = ConnectOptions::new().timeout(Duration::from_secs(3));
    /// assert_eq!(opts.timeout, Some(Duration::from_secs(3)));
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets [`source_ip`](ConnectOptions::source_ip).
    ///
    /// ```
    /// use std::net::{IpAddr, Ipv4Addr};
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::tcpclient::{ConnectOptions, TcpClient};
    ///
    /// let opts = ConnectOptions::new().source_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
    /// assert_eq!(opts.source_ip, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    /// IoLoop::new().unwrap().run_sync(async move {
    ///     let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let port = listener.local_addr().unwrap().port();
    ///     let stream = TcpClient::new().connect_with("127.0.0.1", port, &opts).await.unwrap();
    ///     assert_eq!(stream.local_addr().unwrap().ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    /// });
    /// ```
    pub fn source_ip(mut self, ip: IpAddr) -> Self {
        self.source_ip = Some(ip);
        self
    }

    /// Sets [`tls`](ConnectOptions::tls).
    ///
    /// ```
    /// use tornado_iostream::tcpclient::ConnectOptions;
    /// use tornado_iostream::tls::client_config;
    ///
    /// let opts = ConnectOptions::new().tls(client_config(None, &[b"http/1.1"]).unwrap());
    /// assert_eq!(opts.tls.unwrap().alpn_protocols, vec![b"http/1.1".to_vec()]);
    /// ```
    pub fn tls(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Sets [`server_hostname`](ConnectOptions::server_hostname).
    ///
    /// ```
    /// use tornado_iostream::tcpclient::ConnectOptions;
    ///
    /// // Connect to an IP address, but verify the certificate as "localhost".
    /// let opts = ConnectOptions::new().server_hostname("localhost");
    /// assert_eq!(opts.server_hostname.as_deref(), Some("localhost"));
    /// ```
    pub fn server_hostname(mut self, name: &str) -> Self {
        self.server_hostname = Some(name.to_owned());
        self
    }

    /// Sets [`max_buffer_size`](ConnectOptions::max_buffer_size).
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::tcpclient::{ConnectOptions, TcpClient};
    ///
    /// let opts = ConnectOptions::new().max_buffer_size(4096);
    /// IoLoop::new().unwrap().run_sync(async move {
    ///     let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let port = listener.local_addr().unwrap().port();
    ///     let stream = TcpClient::new().connect_with("127.0.0.1", port, &opts).await.unwrap();
    ///     assert_eq!(stream.max_buffer_size(), 4096);
    /// });
    /// ```
    pub fn max_buffer_size(mut self, max: usize) -> Self {
        self.max_buffer_size = Some(max);
        self
    }

    /// Sets [`source_port`](ConnectOptions::source_port).
    ///
    /// ```
    /// use std::net::{IpAddr, Ipv4Addr};
    /// use tornado_iostream::tcpclient::ConnectOptions;
    ///
    /// let opts = ConnectOptions::new()
    ///     .source_ip(IpAddr::V4(Ipv4Addr::LOCALHOST))
    ///     .source_port(40000);
    /// assert_eq!(opts.source_port, Some(40000));
    /// ```
    pub fn source_port(mut self, port: u16) -> Self {
        self.source_port = Some(port);
        self
    }
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("family", &self.family)
            .field("timeout", &self.timeout)
            .field("source_ip", &self.source_ip)
            .field("source_port", &self.source_port)
            .field("tls", &self.tls.is_some())
            .field("server_hostname", &self.server_hostname)
            .field("max_buffer_size", &self.max_buffer_size)
            .finish()
    }
}

/// A non-blocking TCP connection factory (Tornado's `TCPClient`).
///
/// Cheap to clone; the resolver is shared. It lives on one loop thread.
///
/// ```
/// use tornado_ioloop::IoLoop;
/// use tornado_iostream::tcpclient::TcpClient;
///
/// let client = TcpClient::new();
/// let other = client.clone(); // the same resolver
/// IoLoop::new().unwrap().run_sync(async move {
///     let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     let a = client.connect("127.0.0.1", addr.port()).await.unwrap();
///     let b = other.connect("127.0.0.1", addr.port()).await.unwrap();
///     assert_eq!(a.peer_addr().unwrap(), b.peer_addr().unwrap());
///     assert_ne!(a.local_addr().unwrap(), b.local_addr().unwrap());
/// });
/// ```
#[derive(Clone)]
pub struct TcpClient {
    resolver: Rc<dyn Resolver>,
}

impl fmt::Debug for TcpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpClient").finish_non_exhaustive()
    }
}

impl Default for TcpClient {
    fn default() -> Self {
        TcpClient::new()
    }
}

impl TcpClient {
    /// A client with the [`DefaultResolver`].
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::tcpclient::TcpClient;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     // An IP address needs no lookup: the resolver answers at once.
    ///     let stream = TcpClient::new().connect("127.0.0.1", addr.port()).await.unwrap();
    ///     assert_eq!(stream.peer_addr().unwrap(), addr);
    /// });
    /// ```
    pub fn new() -> TcpClient {
        TcpClient::with_resolver(DefaultResolver)
    }

    /// A client that resolves names with `resolver` (e.g. an
    /// [`OverrideResolver`](crate::netutil::OverrideResolver)).
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::netutil::{DefaultResolver, OverrideResolver};
    /// use tornado_iostream::tcpclient::TcpClient;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let resolver =
    ///         OverrideResolver::new(DefaultResolver).with("db.test", addr.port(), vec![addr]);
    ///     let client = TcpClient::with_resolver(resolver);
    ///     let stream = client.connect("db.test", addr.port()).await.unwrap();
    ///     assert_eq!(stream.peer_addr().unwrap(), addr);
    /// });
    /// ```
    pub fn with_resolver(resolver: impl Resolver + 'static) -> TcpClient {
        TcpClient {
            resolver: Rc::new(resolver),
        }
    }

    /// Connects to `host:port` with default options (Tornado's `TCPClient.connect`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::tcpclient::TcpClient;
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// io_loop
    ///     .run_sync_timeout(
    ///         async {
    ///             let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///             let port = listener.local_addr().unwrap().port();
    ///             let stream = TcpClient::new().connect("127.0.0.1", port).await.unwrap();
    ///             let (mut server_side, _) = listener.accept().unwrap();
    ///             std::io::Write::write_all(&mut server_side, b"hi\n").unwrap();
    ///             let line = stream.read_until(b"\n", None).await.unwrap();
    ///             assert_eq!(&line[..], b"hi\n");
    ///         },
    ///         Duration::from_secs(10),
    ///     )
    ///     .unwrap();
    /// ```
    pub async fn connect(&self, host: &str, port: u16) -> io::Result<IoStream> {
        self.connect_with(host, port, &ConnectOptions::default())
            .await
    }

    /// Connects to `host:port` with `options`.
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use std::time::Duration;
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    /// use tornado_iostream::tcpclient::{ConnectOptions, TcpClient};
    /// use tornado_iostream::tcpserver::TcpServer;
    /// use tornado_iostream::tls;
    ///
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    /// # let key = rustls_pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    /// # let server_cfg = tls::server_config(vec![ck.cert.der().clone()], key, &[]).unwrap();
    /// # let mut roots = rustls::RootCertStore::empty();
    /// # roots.add(ck.cert.der().clone()).unwrap();
    /// # let client_cfg = tls::client_config(Some(roots), &[]).unwrap();
    /// IoLoop::new().unwrap().run_sync(async move {
    ///     let server = TcpServer::new(|stream: IoStream, _peer: SocketAddr| async move {
    ///         let _ = stream.write(b"hello over TLS\n").await;
    ///     })
    ///     .with_tls(server_cfg);
    ///     server.listen(0, Some("127.0.0.1")).unwrap();
    ///     let port = server.local_addrs()[0].port();
    ///
    ///     // Connect by IP address; verify the certificate as "localhost".
    ///     let opts = ConnectOptions::new()
    ///         .tls(client_cfg)
    ///         .server_hostname("localhost")
    ///         .timeout(Duration::from_secs(10));
    ///     let stream = TcpClient::new().connect_with("127.0.0.1", port, &opts).await.unwrap();
    ///     assert!(stream.tls_version().is_some()); // the handshake is done
    ///     assert_eq!(&stream.read_until(b"\n", None).await.unwrap()[..], b"hello over TLS\n");
    ///     server.stop();
    /// });
    /// ```
    pub async fn connect_with(
        &self,
        host: &str,
        port: u16,
        options: &ConnectOptions,
    ) -> io::Result<IoStream> {
        let deadline = options.timeout.map(|t| deadline_after(Instant::now(), t));
        let (addr, socket) = self.connect_deadline(host, port, options, deadline).await?;
        let stream = IoStream::new(socket).map_err(|e| {
            ConnectError::new(ConnectPhase::Connect, host, port, e)
                .at(vec![addr])
                .into_io()
        })?;
        if let Some(max) = options.max_buffer_size {
            stream.set_max_buffer_size(max);
        }
        if let Some(config) = &options.tls {
            let name = options.server_hostname.as_deref().unwrap_or(host);
            let tls_error = |e: io::Error| {
                stream.close();
                ConnectError::new(ConnectPhase::Tls, host, port, e)
                    .at(vec![addr])
                    .into_io()
            };
            let tls = TlsConfig::client(config.clone(), name).map_err(tls_error)?;
            match before_deadline(deadline, stream.start_tls(tls)).await {
                Some(Ok(())) => {}
                Some(Err(e)) => return Err(tls_error(e)),
                None => {
                    stream.close();
                    return Err(ConnectError::timeout(ConnectPhase::Tls, host, port)
                        .at(vec![addr])
                        .into_io());
                }
            }
        }
        Ok(stream)
    }

    /// Resolves and connects, and gives the connected (non-blocking, unregistered) mio
    /// socket: what [`connect_with`](TcpClient::connect_with) wraps in an [`IoStream`].
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    /// use tornado_iostream::tcpclient::{ConnectOptions, TcpClient};
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let socket = TcpClient::new()
    ///         .connect_socket("127.0.0.1", addr.port(), &ConnectOptions::new())
    ///         .await
    ///         .unwrap();
    ///     assert_eq!(socket.peer_addr().unwrap(), addr);
    ///     let stream = IoStream::new(socket).unwrap(); // or any other use of the socket
    ///     assert_eq!(stream.peer_addr().unwrap(), addr);
    /// });
    /// ```
    pub async fn connect_socket(
        &self,
        host: &str,
        port: u16,
        options: &ConnectOptions,
    ) -> io::Result<mio::net::TcpStream> {
        let deadline = options.timeout.map(|t| deadline_after(Instant::now(), t));
        self.connect_deadline(host, port, options, deadline)
            .await
            .map(|(_, s)| s)
    }

    async fn connect_deadline(
        &self,
        host: &str,
        port: u16,
        options: &ConnectOptions,
        deadline: Option<Instant>,
    ) -> io::Result<(SocketAddr, mio::net::TcpStream)> {
        let resolving = self.resolver.resolve(host, port, options.family);
        let addrs = match before_deadline(deadline, resolving).await {
            None => return Err(ConnectError::timeout(ConnectPhase::Resolve, host, port).into_io()),
            Some(Err(e)) => {
                return Err(ConnectError::new(ConnectPhase::Resolve, host, port, e).into_io());
            }
            Some(Ok(addrs)) if addrs.is_empty() => {
                let e = io::Error::new(io::ErrorKind::NotFound, "no addresses");
                return Err(ConnectError::new(ConnectPhase::Resolve, host, port, e).into_io());
            }
            Some(Ok(addrs)) => addrs,
        };
        let (source_ip, source_port) = (options.source_ip, options.source_port);
        let mut connector = pin!(Connector::new(
            &addrs,
            SECONDARY_FAMILY_DELAY,
            move |addr| { connect::connect_tcp(addr, source_ip, source_port) }
        ));
        let outcome = match deadline {
            None => connector.as_mut().await,
            Some(deadline) => {
                let mut timer = pin!(sleep_until(deadline));
                let finished = std::future::poll_fn(|cx| {
                    if let Poll::Ready(v) = connector.as_mut().poll(cx) {
                        return Poll::Ready(Some(v));
                    }
                    if timer.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(None);
                    }
                    Poll::Pending
                })
                .await;
                match finished {
                    Some(v) => v,
                    None => {
                        let pending = connector.pending_addrs();
                        return Err(ConnectError::timeout(ConnectPhase::Connect, host, port)
                            .at(pending)
                            .into_io());
                    }
                }
            }
        };
        match outcome {
            Ok(ok) => Ok(ok),
            Err((addr, e)) => Err(ConnectError::new(ConnectPhase::Connect, host, port, e)
                .at(addr.into_iter().collect())
                .into_io()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_phase_and_address() {
        let refused = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        let e = ConnectError::new(ConnectPhase::Connect, "localhost", 1, refused)
            .at(vec!["127.0.0.1:1".parse().unwrap()])
            .into_io();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        assert!(
            e.to_string()
                .starts_with("connect to 127.0.0.1:1 failed: Connection refused"),
            "{e}"
        );
        let t = ConnectError::timeout(ConnectPhase::Connect, "h", 80)
            .at(vec![
                "127.0.0.1:80".parse().unwrap(),
                "[::1]:80".parse().unwrap(),
            ])
            .into_io();
        assert_eq!(t.kind(), io::ErrorKind::TimedOut);
        assert_eq!(
            t.to_string(),
            "timeout while connecting to 127.0.0.1:80, [::1]:80"
        );
        let r = ConnectError::timeout(ConnectPhase::Resolve, "example.test", 80).into_io();
        assert_eq!(r.to_string(), "timeout while resolving example.test");
        assert!(ConnectError::of(&r).unwrap().is_timeout());
        let tls = ConnectError::timeout(ConnectPhase::Tls, "h", 443)
            .at(vec!["[::1]:443".parse().unwrap()])
            .into_io();
        assert_eq!(
            tls.to_string(),
            "timeout during TLS handshake with [::1]:443"
        );
        assert_eq!(ConnectError::of(&tls).unwrap().phase(), ConnectPhase::Tls);
    }
}
