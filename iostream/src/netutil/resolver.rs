//! Name resolution: the [`Resolver`] trait and its two implementations.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use super::addr::{AddressFamily, parse_ip};

/// The future a [`Resolver`] returns: the addresses of a host, or why there are none.
pub type ResolveFuture = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>>>>;

/// Turns a host name and port into socket addresses, asynchronously (Tornado's
/// `netutil.Resolver`).
///
/// `host` may be a name or an IP literal. The answer keeps the resolver's order (the
/// first address is the preferred one: [`TcpClient`](crate::tcpclient::TcpClient) tries
/// its family first) and holds only addresses of `family`. No address at all is an
/// error, never an empty list.
///
/// Implement it to plug in another resolver; the future runs on the loop thread and need
/// not be `Send`.
///
/// ```
/// use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
/// use tornado_ioloop::IoLoop;
/// use tornado_iostream::netutil::{AddressFamily, ResolveFuture, Resolver};
/// use tornado_iostream::tcpclient::TcpClient;
///
/// // Every name is this machine.
/// struct Loopback;
///
/// impl Resolver for Loopback {
///     fn resolve(&self, _host: &str, port: u16, family: AddressFamily) -> ResolveFuture {
///         let addr = match family {
///             AddressFamily::Inet6 => SocketAddr::from((Ipv6Addr::LOCALHOST, port)),
///             _ => SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
///         };
///         Box::pin(std::future::ready(Ok(vec![addr])))
///     }
/// }
///
/// IoLoop::new().unwrap().run_sync(async {
///     let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     let answer = Loopback.resolve("anything.test", addr.port(), AddressFamily::Unspec).await;
///     assert_eq!(answer.unwrap(), vec![addr]);
///
///     // Plugged into a client, it decides where names connect to.
///     let client = TcpClient::with_resolver(Loopback);
///     let stream = client.connect("anything.test", addr.port()).await.unwrap();
///     assert_eq!(stream.peer_addr().unwrap(), addr);
/// });
/// ```
pub trait Resolver {
    /// Resolves `host:port` to addresses of `family`.
    fn resolve(&self, host: &str, port: u16, family: AddressFamily) -> ResolveFuture;
}

impl<R: Resolver + ?Sized> Resolver for Rc<R> {
    fn resolve(&self, host: &str, port: u16, family: AddressFamily) -> ResolveFuture {
        (**self).resolve(host, port, family)
    }
}

impl<R: Resolver + ?Sized> Resolver for Arc<R> {
    fn resolve(&self, host: &str, port: u16, family: AddressFamily) -> ResolveFuture {
        (**self).resolve(host, port, family)
    }
}

impl<R: Resolver + ?Sized> Resolver for Box<R> {
    fn resolve(&self, host: &str, port: u16, family: AddressFamily) -> ResolveFuture {
        (**self).resolve(host, port, family)
    }
}

fn only_family(
    host: &str,
    family: AddressFamily,
    addrs: impl IntoIterator<Item = SocketAddr>,
) -> io::Result<Vec<SocketAddr>> {
    let mut out: Vec<SocketAddr> = Vec::new();
    for a in addrs {
        if family.matches(&a) && !out.contains(&a) {
            out.push(a);
        }
    }
    if out.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no {family:?} address for {host}"),
        ));
    }
    Ok(out)
}

/// The system resolver (`getaddrinfo`), run on the loop's executor thread pool so the
/// loop never blocks on DNS (Tornado's `DefaultExecutorResolver`). IP literals are
/// answered at once, without a thread.
///
/// ```
/// use std::time::Duration;
/// use tornado_ioloop::IoLoop;
/// use tornado_iostream::netutil::{AddressFamily, DefaultResolver, Resolver};
///
/// let io_loop = IoLoop::new().unwrap();
/// let addrs = io_loop
///     .run_sync_timeout(
///         DefaultResolver.resolve("127.0.0.1", 80, AddressFamily::Unspec),
///         Duration::from_secs(10),
///     )
///     .unwrap()
///     .unwrap();
/// assert_eq!(addrs, vec!["127.0.0.1:80".parse().unwrap()]);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultResolver;

impl Resolver for DefaultResolver {
    fn resolve(&self, host: &str, port: u16, family: AddressFamily) -> ResolveFuture {
        let host = host.to_owned();
        if let Some(ip) = parse_ip(&host) {
            let answer = only_family(&host, family, [SocketAddr::new(ip, port)]);
            return Box::pin(std::future::ready(answer));
        }
        Box::pin(async move {
            let name = host.clone();
            let looked_up = tornado_ioloop::run_in_executor(move || {
                (name.as_str(), port)
                    .to_socket_addrs()
                    .map(|it| it.collect::<Vec<_>>())
            })
            .await
            .map_err(|e| io::Error::other(format!("resolver thread failed: {e}")))?;
            let addrs = looked_up
                .map_err(|e| io::Error::new(e.kind(), format!("cannot resolve {host}: {e}")))?;
            only_family(&host, family, addrs)
        })
    }
}

/// A resolver with a fixed table of answers, for tests and for pinning a host to an
/// address (Tornado's `OverrideResolver`); other names go to the fallback resolver.
///
/// ```
/// use std::time::Duration;
/// use tornado_ioloop::IoLoop;
/// use tornado_iostream::netutil::{AddressFamily, DefaultResolver, OverrideResolver, Resolver};
///
/// let resolver = OverrideResolver::new(DefaultResolver)
///     .with("example.test", 80, vec!["127.0.0.1:8080".parse().unwrap(), "[::1]:8080".parse().unwrap()]);
/// let io_loop = IoLoop::new().unwrap();
/// let v4 = io_loop
///     .run_sync_timeout(resolver.resolve("example.test", 80, AddressFamily::Inet), Duration::from_secs(10))
///     .unwrap()
///     .unwrap();
/// assert_eq!(v4, vec!["127.0.0.1:8080".parse().unwrap()]);
/// ```
pub struct OverrideResolver {
    fallback: Box<dyn Resolver>,
    table: HashMap<(String, u16), Vec<SocketAddr>>,
}

impl OverrideResolver {
    /// An empty table in front of `fallback`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::netutil::{AddressFamily, DefaultResolver, OverrideResolver, Resolver};
    ///
    /// // An empty table: everything goes to the fallback (an IP literal needs no lookup).
    /// let resolver = OverrideResolver::new(DefaultResolver);
    /// let io_loop = IoLoop::new().unwrap();
    /// let addrs = io_loop
    ///     .run_sync_timeout(
    ///         resolver.resolve("127.0.0.1", 80, AddressFamily::Unspec),
    ///         Duration::from_secs(10),
    ///     )
    ///     .unwrap()
    ///     .unwrap();
    /// assert_eq!(addrs, vec!["127.0.0.1:80".parse().unwrap()]);
    /// ```
    pub fn new(fallback: impl Resolver + 'static) -> Self {
        OverrideResolver {
            fallback: Box::new(fallback),
            table: HashMap::new(),
        }
    }

    /// Answers `host:port` with `addrs` (in this order). Host names match without regard
    /// to ASCII case.
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use std::time::Duration;
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::netutil::{AddressFamily, DefaultResolver, OverrideResolver, Resolver};
    ///
    /// let v6: SocketAddr = "[::1]:8443".parse().unwrap();
    /// let v4: SocketAddr = "127.0.0.1:8443".parse().unwrap();
    /// let mut resolver = OverrideResolver::new(DefaultResolver);
    /// resolver.insert("API.example.test", 443, vec![v6, v4]);
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// let addrs = io_loop
    ///     .run_sync_timeout(
    ///         resolver.resolve("api.EXAMPLE.test", 443, AddressFamily::Unspec),
    ///         Duration::from_secs(10),
    ///     )
    ///     .unwrap()
    ///     .unwrap();
    /// assert_eq!(addrs, vec![v6, v4]); // the table's order, whatever the case of the name
    /// ```
    pub fn insert(&mut self, host: &str, port: u16, addrs: Vec<SocketAddr>) {
        self.table.insert((host.to_ascii_lowercase(), port), addrs);
    }

    /// [`insert`](OverrideResolver::insert), builder style.
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::netutil::{DefaultResolver, OverrideResolver};
    /// use tornado_iostream::tcpclient::TcpClient;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     // "db.test:5432" is the local listener.
    ///     let resolver = OverrideResolver::new(DefaultResolver).with("db.test", 5432, vec![addr]);
    ///     let stream = TcpClient::with_resolver(resolver).connect("db.test", 5432).await.unwrap();
    ///     assert_eq!(stream.peer_addr().unwrap(), addr);
    /// });
    /// ```
    pub fn with(mut self, host: &str, port: u16, addrs: Vec<SocketAddr>) -> Self {
        self.insert(host, port, addrs);
        self
    }
}

impl Resolver for OverrideResolver {
    fn resolve(&self, host: &str, port: u16, family: AddressFamily) -> ResolveFuture {
        match self.table.get(&(host.to_ascii_lowercase(), port)) {
            Some(addrs) => {
                let answer = only_family(host, family, addrs.iter().copied());
                Box::pin(std::future::ready(answer))
            }
            None => self.fallback.resolve(host, port, family),
        }
    }
}

impl fmt::Debug for OverrideResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OverrideResolver")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}
