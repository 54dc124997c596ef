//! Network utilities: listening sockets, the accept loop, and name resolution
//! (Tornado's `tornado.netutil`).
//!
//! * [`bind_sockets`] makes non-blocking listening TCP sockets for a port on one host
//!   name, one IP address, or every interface (`SO_REUSEADDR`, `IPV6_V6ONLY` on IPv6
//!   sockets, optional `SO_REUSEPORT`); [`bind_unix_socket`] makes a Unix-domain one.
//! * [`add_accept_handler`] registers a listener with the current [`IoLoop`] and calls a
//!   callback for each accepted connection, surviving running out of file descriptors.
//! * [`Resolver`] turns a host name into addresses off the loop thread
//!   ([`DefaultResolver`]), or from a fixed table ([`OverrideResolver`]).
//!
//! # Accept errors
//!
//! The accept loop never spins and never stops for good:
//!
//! * `EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM` (out of descriptors or memory): the error is
//!   logged at most once per [`ACCEPT_ERROR_LOG_INTERVAL`], and accepting pauses on a
//!   timer, from [`ACCEPT_PAUSE_MIN`] doubling up to [`ACCEPT_PAUSE_MAX`] while the error
//!   persists. The waiting connections stay in the kernel's backlog and are accepted once
//!   the pause ends and descriptors are free again. Any other unexpected error is
//!   treated the same way.
//! * `ECONNABORTED`, `EPROTO`, `EPERM` (a connection that died in the backlog, or that a
//!   firewall refused): the connection is skipped and accepting goes on.
//! * At most [`ACCEPT_BATCH`] connections are accepted per readiness event; the rest are
//!   accepted on the next loop iteration, so a flood of connections does not starve
//!   timers and other sockets.
//!
//! ```
//! use std::time::Duration;
//! use tornado_ioloop::IoLoop;
//! use tornado_iostream::netutil::{AddressFamily, DEFAULT_BACKLOG, add_accept_handler, bind_sockets};
//!
//! let io_loop = IoLoop::new().unwrap();
//! let peer = io_loop
//!     .run_sync_timeout(
//!         async {
//!             let mut listeners =
//!                 bind_sockets(0, Some("127.0.0.1"), AddressFamily::Inet, DEFAULT_BACKLOG, false)
//!                     .unwrap();
//!             let listener = mio::net::TcpListener::from_std(listeners.remove(0));
//!             let addr = listener.local_addr().unwrap();
//!             let (tx, rx) = std::sync::mpsc::channel();
//!             let handle = add_accept_handler(listener, move |_stream, peer| {
//!                 let _ = tx.send(peer);
//!             })
//!             .unwrap();
//!             let client = std::net::TcpStream::connect(addr).unwrap();
//!             loop {
//!                 if let Ok(peer) = rx.try_recv() {
//!                     handle.remove();
//!                     break (peer, client.local_addr().unwrap());
//!                 }
//!                 tornado_ioloop::yield_now().await;
//!             }
//!         },
//!         Duration::from_secs(10),
//!     )
//!     .unwrap();
//! assert_eq!(peer.0, peer.1);
//! ```

mod addr;
mod resolver;

pub use self::addr::{AddressFamily, is_valid_ip};
pub use self::resolver::{DefaultResolver, OverrideResolver, ResolveFuture, Resolver};

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::event::Source;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tornado_ioloop::{HandlerId, Interest, IoLoop, TimeoutHandle};

use self::addr::parse_ip;

/// The listen backlog [`bind_sockets`] and [`bind_unix_socket`] use by default: 128, as
/// Tornado's `_DEFAULT_BACKLOG`.
pub const DEFAULT_BACKLOG: i32 = 128;

/// The most connections accepted per readiness event before yielding to the loop: 128,
/// the default backlog (Tornado's heuristic for "what was waiting").
pub const ACCEPT_BATCH: usize = 128;

/// The first pause after an accept error such as `EMFILE`: 100 ms.
pub const ACCEPT_PAUSE_MIN: Duration = Duration::from_millis(100);

/// The longest pause after repeated accept errors: 1 s.
pub const ACCEPT_PAUSE_MAX: Duration = Duration::from_secs(1);

/// Accept errors are logged at most once per this interval (1 s); the others are counted
/// and the count is reported with the next message.
pub const ACCEPT_ERROR_LOG_INTERVAL: Duration = Duration::from_secs(1);

/// Creates non-blocking listening sockets bound to `port` on `address`.
///
/// `address` may be an IP address or a host name (every address it resolves to is
/// bound, IPv4 first); `None` or `""` means every interface (`0.0.0.0` and `::`).
/// `family` restricts the addresses to one family. Each socket gets `SO_REUSEADDR`;
/// IPv6 sockets get `IPV6_V6ONLY` so that IPv4 and IPv6 can be bound separately on every
/// platform; `reuse_port` sets `SO_REUSEPORT` so several sockets (in several threads or
/// processes) can share the port. With port 0 the first socket gets a free port from the
/// kernel and the others are bound to that same port.
///
/// An IPv6 address the host cannot use (IPv6 disabled, or `::1` missing for
/// `"localhost"`) is skipped; it is an error if no address at all could be bound.
///
/// ```
/// use tornado_iostream::netutil::{AddressFamily, DEFAULT_BACKLOG, bind_sockets};
///
/// let sockets = bind_sockets(0, Some("127.0.0.1"), AddressFamily::Unspec, DEFAULT_BACKLOG, false)
///     .unwrap();
/// assert_eq!(sockets.len(), 1);
/// assert_ne!(sockets[0].local_addr().unwrap().port(), 0);
/// ```
pub fn bind_sockets(
    port: u16,
    address: Option<&str>,
    family: AddressFamily,
    backlog: i32,
    reuse_port: bool,
) -> io::Result<Vec<std::net::TcpListener>> {
    let address = address.filter(|a| !a.is_empty());
    let mut candidates: Vec<SocketAddr> = match address {
        None => vec![
            SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
            SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port),
        ],
        Some(host) => resolve_blocking(host, port)?,
    };
    candidates.retain(|a| family.matches(a));
    // IPv4 first, as Tornado sorts getaddrinfo's answer by family; stable within a family.
    candidates.sort_by_key(|a| a.is_ipv6());
    let mut unique: Vec<SocketAddr> = Vec::with_capacity(candidates.len());
    for a in candidates {
        if !unique.contains(&a) {
            unique.push(a);
        }
    }
    if unique.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            format!(
                "bind_sockets: no {family:?} address for {}",
                address.unwrap_or("all interfaces")
            ),
        ));
    }

    let mut sockets = Vec::with_capacity(unique.len());
    let mut bound_port: Option<u16> = None;
    let mut last_error = None;
    for mut addr in unique {
        if addr.port() == 0
            && let Some(p) = bound_port
        {
            addr.set_port(p);
        }
        match bind_one(addr, backlog, reuse_port) {
            Ok(listener) => {
                bound_port = Some(listener.local_addr()?.port());
                sockets.push(listener);
            }
            Err(e) if addr.is_ipv6() && ipv6_unusable(&e) => {
                log::debug!("bind_sockets: skipping {addr}: {e}");
                last_error = Some(e);
            }
            Err(e) => {
                return Err(io::Error::new(e.kind(), format!("bind {addr}: {e}")));
            }
        }
    }
    if sockets.is_empty() {
        return Err(last_error.unwrap_or_else(|| io::Error::other("bind_sockets: nothing bound")));
    }
    Ok(sockets)
}

/// Errors that mean "this host has no usable IPv6", not "the configuration is wrong".
fn ipv6_unusable(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EAFNOSUPPORT) | Some(libc::EADDRNOTAVAIL) | Some(libc::EPROTONOSUPPORT)
    )
}

/// Resolves `host` with the system resolver, on this thread.
fn resolve_blocking(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    if let Some(ip) = parse_ip(host) {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    (host, port)
        .to_socket_addrs()
        .map(|it| it.collect())
        .map_err(|e| io::Error::new(e.kind(), format!("cannot resolve {host}: {e}")))
}

fn bind_one(addr: SocketAddr, backlog: i32, reuse_port: bool) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&SockAddr::from(addr))?;
    socket.listen(backlog)?;
    Ok(socket.into())
}

/// Creates a non-blocking listening Unix-domain socket at `path`, with file mode `mode`
/// (Tornado's default is `0o600`).
///
/// A stale socket file at `path` is removed first; any other kind of file there is an
/// error (`AlreadyExists`), so a typo cannot delete a user's data. A path that starts
/// with a NUL byte names a socket in Linux's abstract namespace (no file, no mode).
///
/// ```
/// use tornado_iostream::netutil::{DEFAULT_BACKLOG, bind_unix_socket};
///
/// let dir = std::env::temp_dir().join(format!("tornado-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("sock");
/// let listener = bind_unix_socket(&path, 0o600, DEFAULT_BACKLOG).unwrap();
/// drop(listener);
/// // The file is left behind; binding again replaces it.
/// let _again = bind_unix_socket(&path, 0o600, DEFAULT_BACKLOG).unwrap();
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn bind_unix_socket(
    path: impl AsRef<Path>,
    mode: u32,
    backlog: i32,
) -> io::Result<std::os::unix::net::UnixListener> {
    let path = path.as_ref();
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    if path.as_os_str().as_encoded_bytes().first() == Some(&0) {
        // Linux's abstract namespace: no file to remove or chmod.
        socket.bind(&SockAddr::unix(path)?)?;
        socket.listen(backlog)?;
        return Ok(socket.into());
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path)?,
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    socket.bind(&SockAddr::unix(path)?)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    socket.listen(backlog)?;
    Ok(socket.into())
}

/// A listening socket [`add_accept_handler`] can drive: mio's TCP and Unix listeners.
///
/// ```
/// use std::io::ErrorKind;
/// use tornado_iostream::netutil::Listener;
///
/// // Accepts one waiting connection, if any.
/// fn try_accept<L: Listener>(listener: &L) -> Option<L::Addr> {
///     match listener.accept() {
///         Ok((_stream, addr)) => Some(addr),
///         Err(e) if e.kind() == ErrorKind::WouldBlock => None,
///         Err(e) => panic!("accept: {e}"),
///     }
/// }
///
/// let listener = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
/// assert!(try_accept(&listener).is_none()); // nobody is waiting
/// ```
pub trait Listener: Source + 'static {
    /// The accepted connection.
    type Stream;
    /// The peer's address.
    type Addr;
    /// Accepts one connection (non-blocking).
    ///
    /// ```
    /// use tornado_iostream::netutil::Listener;
    ///
    /// let listener = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    /// let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// let (stream, peer) = loop {
    ///     match Listener::accept(&listener) {
    ///         Ok(accepted) => break accepted,
    ///         Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::yield_now(),
    ///         Err(e) => panic!("accept: {e}"),
    ///     }
    /// };
    /// assert_eq!(peer, client.local_addr().unwrap());
    /// assert_eq!(stream.peer_addr().unwrap(), peer);
    /// ```
    fn accept(&self) -> io::Result<(Self::Stream, Self::Addr)>;
}

impl Listener for mio::net::TcpListener {
    type Stream = mio::net::TcpStream;
    type Addr = SocketAddr;
    fn accept(&self) -> io::Result<(Self::Stream, Self::Addr)> {
        mio::net::TcpListener::accept(self)
    }
}

impl Listener for mio::net::UnixListener {
    type Stream = mio::net::UnixStream;
    type Addr = std::os::unix::net::SocketAddr;
    fn accept(&self) -> io::Result<(Self::Stream, Self::Addr)> {
        mio::net::UnixListener::accept(self)
    }
}

type AcceptCallback<L> = Box<dyn FnMut(<L as Listener>::Stream, <L as Listener>::Addr)>;

struct AcceptState<L: Listener> {
    io_loop: IoLoop,
    listener: RefCell<Option<L>>,
    id: Cell<Option<HandlerId>>,
    callback: RefCell<Option<AcceptCallback<L>>>,
    removed: Cell<bool>,
    /// A resume timer or a continuation callback is pending: events are ignored.
    waiting: Cell<bool>,
    resume_timer: Cell<Option<TimeoutHandle>>,
    pause: Cell<Duration>,
    last_log: Cell<Option<Instant>>,
    suppressed: Cell<u64>,
}

/// What one accept attempt means for the loop.
enum Outcome {
    Drained,
    Skip,
    Pause,
    Retry,
}

fn classify(e: &io::Error) -> Outcome {
    if e.kind() == io::ErrorKind::WouldBlock {
        return Outcome::Drained;
    }
    match e.raw_os_error() {
        Some(libc::EINTR) => Outcome::Retry,
        Some(libc::ECONNABORTED) | Some(libc::EPROTO) | Some(libc::EPERM) => Outcome::Skip,
        _ => Outcome::Pause,
    }
}

impl<L: Listener> AcceptState<L> {
    /// Accepts up to [`ACCEPT_BATCH`] connections, then arranges to go on.
    fn accept_batch(self: &Rc<Self>) {
        if self.waiting.get() {
            return;
        }
        let mut accepted = 0;
        while accepted < ACCEPT_BATCH {
            if self.removed.get() {
                return;
            }
            let result = match &*self.listener.borrow() {
                Some(l) => l.accept(),
                None => return,
            };
            match result {
                Ok((stream, addr)) => {
                    accepted += 1;
                    self.pause.set(ACCEPT_PAUSE_MIN);
                    let cb = self.callback.borrow_mut().take();
                    if let Some(mut cb) = cb {
                        cb(stream, addr);
                        if !self.removed.get() {
                            *self.callback.borrow_mut() = Some(cb);
                        }
                    }
                }
                Err(e) => match classify(&e) {
                    Outcome::Drained => return,
                    Outcome::Retry => {}
                    Outcome::Skip => {
                        // Counted, so a flood of aborted connections still yields.
                        accepted += 1;
                        log::debug!("accept: skipping an aborted connection: {e}");
                    }
                    Outcome::Pause => {
                        self.pause_after(&e);
                        return;
                    }
                },
            }
        }
        // The batch is full and the socket may hold more: being edge-triggered, no new
        // event will say so, so go on at the next iteration.
        self.waiting.set(true);
        let this = self.clone();
        self.io_loop.add_callback(move || {
            this.waiting.set(false);
            this.accept_batch();
        });
    }

    fn pause_after(self: &Rc<Self>, e: &io::Error) {
        let pause = self.pause.get();
        self.pause.set((pause * 2).min(ACCEPT_PAUSE_MAX));
        let now = Instant::now();
        let due = self
            .last_log
            .get()
            .is_none_or(|t| now.duration_since(t) >= ACCEPT_ERROR_LOG_INTERVAL);
        if due {
            let suppressed = self.suppressed.replace(0);
            self.last_log.set(Some(now));
            if suppressed > 0 {
                log::error!(
                    "accept failed: {e}; pausing accepting for {pause:?} \
                     ({suppressed} similar errors not logged)"
                );
            } else {
                log::error!("accept failed: {e}; pausing accepting for {pause:?}");
            }
        } else {
            self.suppressed.set(self.suppressed.get() + 1);
        }
        self.waiting.set(true);
        let this = self.clone();
        let timer = self.io_loop.call_later(pause, move || {
            this.resume_timer.set(None);
            this.waiting.set(false);
            this.accept_batch();
        });
        self.resume_timer.set(Some(timer));
    }

    fn remove(&self) -> Option<L> {
        if self.removed.replace(true) {
            return None;
        }
        if let Some(t) = self.resume_timer.take() {
            self.io_loop.remove_timeout(t);
        }
        let callback = self.callback.borrow_mut().take();
        drop(callback);
        let mut listener = self.listener.borrow_mut().take()?;
        if let Some(id) = self.id.take()
            && let Err(e) = self.io_loop.remove_handler(id, &mut listener)
        {
            log::debug!("accept handler: remove_handler: {e}");
        }
        Some(listener)
    }
}

/// Registers `listener` with the current [`IoLoop`] and calls `callback(stream, address)`
/// for each connection it accepts (Tornado's `netutil.add_accept_handler`).
///
/// The returned [`AcceptHandle`] stops accepting when [`remove`](AcceptHandle::remove)d;
/// dropping the handle does not (as Tornado, the loop keeps the handler). See the
/// [module docs](self#accept-errors) for how errors are handled.
///
/// ```
/// use std::time::Duration;
/// use tornado_ioloop::IoLoop;
/// use tornado_iostream::IoStream;
/// use tornado_iostream::netutil::add_accept_handler;
///
/// let io_loop = IoLoop::new().unwrap();
/// io_loop
///     .run_sync_timeout(
///         async {
///             let listener = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
///             let addr = listener.local_addr().unwrap();
///             // Greet every connection, each in a task of its own.
///             let handle = add_accept_handler(listener, |socket, _peer| {
///                 let stream = IoStream::new(socket).unwrap();
///                 tornado_ioloop::spawn_callback(async move {
///                     let _ = stream.write(b"welcome\n").await;
///                 });
///             })
///             .unwrap();
///             let client = IoStream::connect(addr).await.unwrap();
///             assert_eq!(&client.read_until(b"\n", None).await.unwrap()[..], b"welcome\n");
///             handle.remove();
///         },
///         Duration::from_secs(10),
///     )
///     .unwrap();
/// ```
pub fn add_accept_handler<L, F>(listener: L, callback: F) -> io::Result<AcceptHandle<L>>
where
    L: Listener,
    F: FnMut(L::Stream, L::Addr) + 'static,
{
    let io_loop = IoLoop::current();
    let state = Rc::new(AcceptState {
        io_loop: io_loop.clone(),
        listener: RefCell::new(None),
        id: Cell::new(None),
        callback: RefCell::new(Some(Box::new(callback))),
        removed: Cell::new(false),
        waiting: Cell::new(false),
        resume_timer: Cell::new(None),
        pause: Cell::new(ACCEPT_PAUSE_MIN),
        last_log: Cell::new(None),
        suppressed: Cell::new(0),
    });
    let mut listener = listener;
    let handler_state = state.clone();
    let id = io_loop.add_handler(&mut listener, Interest::READABLE, move |_ready| {
        handler_state.accept_batch();
    })?;
    state.id.set(Some(id));
    *state.listener.borrow_mut() = Some(listener);
    Ok(AcceptHandle { state })
}

/// Returned by [`add_accept_handler`]: stops accepting when removed.
///
/// ```
/// use tornado_ioloop::IoLoop;
/// use tornado_iostream::netutil::add_accept_handler;
///
/// IoLoop::new().unwrap().run_sync(async {
///     let listener = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
///     let handle = add_accept_handler(listener, |_socket, _peer| {}).unwrap();
///     assert_eq!(format!("{handle:?}"), "AcceptHandle { removed: false, paused: false }");
///     drop(handle.remove());
///     assert_eq!(format!("{handle:?}"), "AcceptHandle { removed: true, paused: false }");
/// });
/// ```
pub struct AcceptHandle<L: Listener> {
    state: Rc<AcceptState<L>>,
}

impl<L: Listener> AcceptHandle<L> {
    /// Stops accepting: deregisters the listener, cancels a pending resume, drops the
    /// callback, and gives the listener back (`None` if already removed). Drop it to
    /// close it. Safe to call from inside the callback.
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::netutil::add_accept_handler;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let listener = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let handle = add_accept_handler(listener, |_socket, _peer| {}).unwrap();
    ///     let listener = handle.remove().expect("the first remove gives the listener back");
    ///     assert_eq!(listener.local_addr().unwrap(), addr);
    ///     assert!(handle.remove().is_none());
    /// });
    /// ```
    pub fn remove(&self) -> Option<L> {
        self.state.remove()
    }

    /// True once [`remove`](AcceptHandle::remove) was called.
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::netutil::add_accept_handler;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let listener = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    ///     let handle = add_accept_handler(listener, |_socket, _peer| {}).unwrap();
    ///     assert!(!handle.is_removed());
    ///     drop(handle.remove());
    ///     assert!(handle.is_removed());
    /// });
    /// ```
    pub fn is_removed(&self) -> bool {
        self.state.removed.get()
    }

    /// Runs `f` on the listener, if it has not been removed.
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::netutil::add_accept_handler;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let listener = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let handle = add_accept_handler(listener, |_socket, _peer| {}).unwrap();
    ///     assert_eq!(handle.with_listener(|l| l.local_addr().unwrap()), Some(addr));
    ///     drop(handle.remove());
    ///     assert_eq!(handle.with_listener(|l| l.local_addr().unwrap()), None);
    /// });
    /// ```
    pub fn with_listener<R>(&self, f: impl FnOnce(&L) -> R) -> Option<R> {
        self.state.listener.borrow().as_ref().map(f)
    }

    /// True while accepting is paused after an accept error such as `EMFILE`.
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::netutil::add_accept_handler;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let listener = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    ///     let handle = add_accept_handler(listener, |_socket, _peer| {}).unwrap();
    ///     // Only an accept error such as EMFILE pauses accepting.
    ///     assert!(!handle.is_paused());
    ///     drop(handle.remove());
    ///     assert!(!handle.is_paused());
    /// });
    /// ```
    pub fn is_paused(&self) -> bool {
        self.state.resume_timer.get().is_some()
    }
}

impl<L: Listener> fmt::Debug for AcceptHandle<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcceptHandle")
            .field("removed", &self.is_removed())
            .field("paused", &self.is_paused())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_ips() {
        for ok in [
            "127.0.0.1",
            "4.4.4.4",
            "::1",
            "2620:0:1cfe:face:b00c::3",
            "fe80::1%lo",
        ] {
            assert!(is_valid_ip(ok), "{ok:?}");
        }
        let long = "a".repeat(100);
        for bad in [
            "www.google.com",
            "localhost",
            "4.4.4.4<",
            " 127.0.0.1",
            "",
            " ",
            "\n",
            "\x00",
            long.as_str(),
            "fe80::1%",
            "127.0.0.1%lo",
            "::1%a\x00b",
        ] {
            assert!(!is_valid_ip(bad), "{bad:?}");
        }
    }

    #[test]
    fn classify_errors() {
        let e = |n| io::Error::from_raw_os_error(n);
        assert!(matches!(classify(&e(libc::EAGAIN)), Outcome::Drained));
        assert!(matches!(classify(&e(libc::EINTR)), Outcome::Retry));
        for n in [libc::ECONNABORTED, libc::EPROTO, libc::EPERM] {
            assert!(matches!(classify(&e(n)), Outcome::Skip));
        }
        for n in [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM] {
            assert!(matches!(classify(&e(n)), Outcome::Pause));
        }
    }
}
