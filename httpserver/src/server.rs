//! [`HttpServer`]: accepts connections with a [`TcpServer`] (or on a Unix socket) and
//! serves HTTP/1.1 on each (Tornado's `tornado.httpserver`).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use slab::Slab;
use tornado_ioloop::{IoLoop, LoopHandle, PeriodicCallback};
use tornado_iostream::IoStream;
use tornado_iostream::netutil::{AcceptHandle, add_accept_handler, bind_unix_socket};
use tornado_iostream::tcpserver::{StreamHandler, TcpServer};

use crate::connection::Conn;
use crate::delegate::HttpServerConnectionDelegate;
use crate::http1connection::Http1ConnectionParameters;

/// Default [`HttpServerSettings::idle_connection_timeout`]: an hour, as Tornado's.
///
/// Idle deadlines are checked by one sweep per thread every quarter of the timeout
/// (between 10 ms and 1 s), so an idle connection closes at most that late and owns no
/// timer of its own.
pub const DEFAULT_IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(3600);

/// How often a graceful [`HttpServer::shutdown`] checks whether the last connection
/// has finished.
pub const SHUTDOWN_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Options of an [`HttpServer`] (Tornado's `HTTPServer` keyword arguments). `Default`
/// gives the documented defaults.
///
/// ```
/// use std::time::Duration;
/// use tornado_httpserver::HttpServerSettings;
///
/// let mut settings = HttpServerSettings::default();
/// settings.xheaders = true;
/// settings.params.max_body_size = 1024 * 1024;
/// settings.idle_connection_timeout = Some(Duration::from_secs(60));
/// ```
#[derive(Clone)]
pub struct HttpServerSettings {
    /// Protocol limits and options: `no_keep_alive`, `chunk_size`, `max_header_size`,
    /// `max_body_size`, `header_timeout`, `body_timeout`, `decompress` (Tornado's
    /// `decompress_request`).
    pub params: Http1ConnectionParameters,
    /// Trust `X-Real-Ip` / `X-Forwarded-For` and `X-Scheme` / `X-Forwarded-Proto` (run
    /// behind a proxy such as nginx). Read afresh for every request.
    pub xheaders: bool,
    /// Proxies to skip from the right of `X-Forwarded-For` when looking for the client.
    pub trusted_downstream: Vec<IpAddr>,
    /// Close a keep-alive connection that sends nothing for this long
    /// ([`DEFAULT_IDLE_CONNECTION_TIMEOUT`]); `None` never.
    pub idle_connection_timeout: Option<Duration>,
    /// Each stream's read-buffer limit (`None`: the stream's default, 100 MiB).
    pub max_buffer_size: Option<usize>,
    /// Serve HTTPS with this configuration (Tornado's `ssl_options`).
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for HttpServerSettings {
    fn default() -> Self {
        HttpServerSettings {
            params: Http1ConnectionParameters::default(),
            xheaders: false,
            trusted_downstream: Vec::new(),
            idle_connection_timeout: Some(DEFAULT_IDLE_CONNECTION_TIMEOUT),
            max_buffer_size: None,
            tls: None,
        }
    }
}

impl fmt::Debug for HttpServerSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpServerSettings")
            .field("params", &self.params)
            .field("xheaders", &self.xheaders)
            .field("trusted_downstream", &self.trusted_downstream)
            .field("idle_connection_timeout", &self.idle_connection_timeout)
            .field("max_buffer_size", &self.max_buffer_size)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

static NEXT_SERVER_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's part of each running server, for shutdown signals from other
    /// threads.
    static LOCAL_SERVERS: RefCell<Vec<(u64, Weak<ServerShared>)>> = const { RefCell::new(Vec::new()) };
}

/// One thread's part of a server: its delegate and its open connections.
pub(crate) struct ServerShared {
    pub(crate) settings: Arc<HttpServerSettings>,
    pub(crate) delegate: Rc<dyn HttpServerConnectionDelegate>,
    conns: RefCell<Slab<Weak<Conn>>>,
    shutting_down: Cell<bool>,
    /// Closes connections idle past `idle_connection_timeout`; runs while there are
    /// connections, so idle connections need no timer each.
    sweeper: RefCell<Option<PeriodicCallback>>,
}

impl ServerShared {
    fn new(
        id: u64,
        settings: Arc<HttpServerSettings>,
        delegate: Rc<dyn HttpServerConnectionDelegate>,
    ) -> Rc<Self> {
        let shared = Rc::new(ServerShared {
            settings,
            delegate,
            conns: RefCell::new(Slab::new()),
            shutting_down: Cell::new(false),
            sweeper: RefCell::new(None),
        });
        LOCAL_SERVERS.with(|s| {
            let mut s = s.borrow_mut();
            s.retain(|(_, w)| w.strong_count() > 0);
            s.push((id, Rc::downgrade(&shared)));
        });
        shared
    }

    pub(crate) fn register(self: &Rc<Self>, conn: Weak<Conn>) -> usize {
        let key = self.conns.borrow_mut().insert(conn);
        self.start_sweeper();
        key
    }

    pub(crate) fn unregister(&self, key: usize) {
        let empty = {
            let mut conns = self.conns.borrow_mut();
            conns.try_remove(key);
            conns.is_empty()
        };
        if empty && let Some(sweeper) = self.sweeper.borrow_mut().take() {
            sweeper.stop();
        }
    }

    fn start_sweeper(self: &Rc<Self>) {
        let Some(idle) = self.settings.idle_connection_timeout else {
            return;
        };
        if self.sweeper.borrow().is_some() {
            return;
        }
        // A quarter of the timeout, within [10 ms, 1 s]: an idle connection closes at
        // most that late.
        let period = (idle / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        let me = Rc::downgrade(self);
        let sweep = move || {
            if let Some(me) = me.upgrade() {
                let now = Instant::now();
                for conn in me.live() {
                    conn.sweep(now);
                }
            }
        };
        match PeriodicCallback::new(sweep, period) {
            Ok(pc) => {
                pc.start();
                *self.sweeper.borrow_mut() = Some(pc);
            }
            Err(e) => log::error!("cannot start the idle-connection sweep: {e}"),
        }
    }

    pub(crate) fn shutting_down(&self) -> bool {
        self.shutting_down.get()
    }

    fn live(&self) -> Vec<Rc<Conn>> {
        self.conns
            .borrow()
            .iter()
            .filter_map(|(_, w)| w.upgrade())
            .collect()
    }

    fn connection_count(&self) -> usize {
        self.conns
            .borrow()
            .iter()
            .filter(|(_, w)| w.strong_count() > 0)
            .count()
    }

    /// Starts a graceful shutdown on this thread: idle connections close now, busy ones
    /// after their response (sent with `Connection: close`), all by `deadline`.
    fn begin_shutdown(self: &Rc<Self>, deadline: Instant) {
        self.shutting_down.set(true);
        for conn in self.live() {
            conn.close_if_idle();
        }
        let me = self.clone();
        IoLoop::current().spawn_callback(async move {
            me.wait_closed(deadline).await;
        });
    }

    async fn wait_closed(&self, deadline: Instant) {
        while self.connection_count() > 0 {
            if Instant::now() >= deadline {
                for conn in self.live() {
                    conn.close();
                }
                // Let the closed connections' tasks end.
                tornado_gen::moment().await;
                if self.connection_count() > 0 {
                    tornado_gen::sleep(SHUTDOWN_POLL_INTERVAL).await;
                }
                continue;
            }
            tornado_gen::sleep(SHUTDOWN_POLL_INTERVAL).await;
        }
    }
}

/// The per-thread [`StreamHandler`] behind an [`HttpServer`].
struct ConnHandler {
    shared: Rc<ServerShared>,
}

impl StreamHandler for ConnHandler {
    fn handle_stream(
        self: Rc<Self>,
        stream: IoStream,
        address: SocketAddr,
    ) -> impl std::future::Future<Output = ()> + 'static {
        let tls = self.shared.settings.tls.is_some();
        Conn::new(stream, self.shared.clone(), Some(address), tls).serve()
    }
}

type DelegateFactory = Arc<dyn Fn() -> Rc<dyn HttpServerConnectionDelegate> + Send + Sync>;

/// A non-blocking, single-threaded HTTP/1.1 server (Tornado's `HTTPServer`).
///
/// Give it a closure from [`HttpServerRequest`](crate::httputil::HttpServerRequest) to
/// [`Response`](crate::Response), or an [`HttpServerConnectionDelegate`] that streams;
/// then [`listen`](HttpServer::listen) (this thread), or
/// [`bind`](HttpServer::bind) + [`start(n)`](HttpServer::start) (`n` threads, each
/// with its own loop and `SO_REUSEPORT` socket; needs [`HttpServer::from_factory`]).
///
/// ```
/// use std::time::Duration;
/// use tornado_httpserver::{HttpServer, Response};
/// use tornado_httpserver::httputil::HttpServerRequest;
/// use tornado_ioloop::IoLoop;
/// use tornado_iostream::IoStream;
///
/// let io_loop = IoLoop::new().unwrap();
/// io_loop.run_sync_timeout(async {
///     let server = HttpServer::new(|req: HttpServerRequest| async move {
///         Response::text(format!("Hello, {}", req.path()))
///     });
///     server.listen(0, Some("127.0.0.1")).unwrap();
///     let addr = server.local_addrs()[0];
///
///     let client = IoStream::connect(addr).await.unwrap();
///     client.write(b"GET /world HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
///     let reply = client.read_until_close().await.unwrap();
///     assert!(reply.starts_with(b"HTTP/1.1 200 OK\r\n"));
///     assert!(reply.ends_with(b"\r\n\r\nHello, /world"));
///     server.stop();
/// }, Duration::from_secs(10)).unwrap();
/// ```
pub struct HttpServer {
    id: u64,
    tcp: TcpServer<ConnHandler>,
    shared: Rc<ServerShared>,
    unix: RefCell<Vec<AcceptHandle<mio::net::UnixListener>>>,
    worker_loops: Arc<Mutex<Vec<LoopHandle>>>,
}

impl fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpServer")
            .field("tcp", &self.tcp)
            .field("settings", &self.shared.settings)
            .field("connections", &self.shared.connection_count())
            .finish()
    }
}

impl HttpServer {
    /// A server on this thread with default settings.
    pub fn new<D: HttpServerConnectionDelegate>(delegate: D) -> Self {
        Self::with_settings(delegate, HttpServerSettings::default())
    }

    /// A server on this thread with `settings`.
    pub fn with_settings<D: HttpServerConnectionDelegate>(
        delegate: D,
        settings: HttpServerSettings,
    ) -> Self {
        let id = NEXT_SERVER_ID.fetch_add(1, Ordering::Relaxed);
        let settings = Arc::new(settings);
        let shared = ServerShared::new(id, settings.clone(), Rc::new(delegate));
        let tcp = TcpServer::new(ConnHandler {
            shared: shared.clone(),
        });
        Self::assemble(id, tcp, shared)
    }

    /// A server that can run on several threads: `factory` makes the delegate of each
    /// thread (loop types such as `Rc` cannot cross threads; a factory can).
    pub fn from_factory<D, F>(factory: F, settings: HttpServerSettings) -> Self
    where
        D: HttpServerConnectionDelegate,
        F: Fn() -> D + Send + Sync + 'static,
    {
        let id = NEXT_SERVER_ID.fetch_add(1, Ordering::Relaxed);
        let settings = Arc::new(settings);
        let factory: DelegateFactory = Arc::new(move || Rc::new(factory()));
        let worker_loops: Arc<Mutex<Vec<LoopHandle>>> = Arc::new(Mutex::new(Vec::new()));
        let (s, loops) = (settings.clone(), worker_loops.clone());
        let main_thread = std::thread::current().id();
        // TcpServer calls this once now, on this thread, and once on each worker thread.
        let tcp = TcpServer::from_factory(move || {
            if std::thread::current().id() != main_thread
                && let Ok(mut l) = loops.lock()
            {
                l.push(IoLoop::current().handle());
            }
            ConnHandler {
                shared: ServerShared::new(id, s.clone(), factory()),
            }
        });
        let first = tcp.handler().shared.clone();
        let mut server = Self::assemble(id, tcp, first);
        server.worker_loops = worker_loops;
        server
    }

    fn assemble(id: u64, tcp: TcpServer<ConnHandler>, shared: Rc<ServerShared>) -> Self {
        let tcp = match shared.settings.tls.clone() {
            Some(tls) => tcp.with_tls(tls),
            None => tcp,
        };
        tcp.set_max_buffer_size(shared.settings.max_buffer_size);
        HttpServer {
            id,
            tcp,
            shared,
            unix: RefCell::new(Vec::new()),
            worker_loops: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Binds `port` on `address` (`None`: every interface) and serves on this thread's
    /// loop. Port 0 picks a free port; see [`local_addrs`](HttpServer::local_addrs).
    pub fn listen(&self, port: u16, address: Option<&str>) -> io::Result<()> {
        self.tcp.listen(port, address)
    }

    /// Serves on sockets bound elsewhere (e.g. by `netutil::bind_sockets`).
    pub fn add_sockets(
        &self,
        listeners: impl IntoIterator<Item = std::net::TcpListener>,
    ) -> io::Result<()> {
        self.tcp.add_sockets(listeners)
    }

    /// Binds for [`start`](HttpServer::start) (with `SO_REUSEPORT`).
    pub fn bind(&self, port: u16, address: Option<&str>) -> io::Result<()> {
        self.tcp.bind(port, address)
    }

    /// Serves the [`bind`](HttpServer::bind) sockets from `threads` threads (0: one per
    /// CPU); this thread is one of them, so run its loop afterwards.
    pub fn start(&self, threads: usize) -> io::Result<()> {
        self.tcp.start(threads)
    }

    /// Serves on a Unix socket at `path` (created with mode 0o600; a stale socket file
    /// is replaced), on this thread's loop.
    pub fn listen_unix(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let listener = bind_unix_socket(path.as_ref(), 0o600, 128)?;
        listener.set_nonblocking(true)?;
        let listener = mio::net::UnixListener::from_std(listener);
        let shared = self.shared.clone();
        let handle =
            add_accept_handler(listener, move |stream, _addr| match IoStream::new(stream) {
                Ok(stream) => {
                    if let Some(max) = shared.settings.max_buffer_size {
                        stream.set_max_buffer_size(max);
                    }
                    let conn = Conn::new(stream, shared.clone(), None, false);
                    IoLoop::current().spawn_callback(conn.serve());
                }
                Err(e) => log::error!("cannot serve a Unix connection: {e}"),
            })?;
        self.unix.borrow_mut().push(handle);
        Ok(())
    }

    /// The TCP addresses this thread listens on.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.tcp.local_addrs()
    }

    /// Open connections on this thread.
    pub fn connection_count(&self) -> usize {
        self.shared.connection_count()
    }

    /// Stops accepting new connections (on every thread); open connections go on.
    pub fn stop(&self) {
        self.tcp.stop();
        for h in self.unix.borrow_mut().drain(..) {
            h.remove();
        }
    }

    /// Closes every open connection on this thread at once and waits for them to end
    /// (Tornado's `close_all_connections`). Use after [`stop`](HttpServer::stop).
    pub async fn close_all_connections(&self) {
        for conn in self.shared.live() {
            conn.close();
        }
        while self.shared.connection_count() > 0 {
            tornado_gen::sleep(SHUTDOWN_POLL_INTERVAL).await;
        }
    }

    /// Graceful shutdown: stop accepting, close idle connections, let requests in
    /// flight finish (their responses carry `Connection: close`), and force-close what
    /// is still open after `grace`. On every thread; the future resolves when this
    /// thread's connections are gone (worker threads end on their own).
    pub async fn shutdown(&self, grace: Duration) {
        self.stop();
        let now = Instant::now();
        let deadline = now
            .checked_add(grace)
            .unwrap_or(now + Duration::from_secs(86_400));
        let id = self.id;
        if let Ok(loops) = self.worker_loops.lock() {
            for handle in loops.iter() {
                handle.add_callback(move || {
                    let servers: Vec<_> = LOCAL_SERVERS.with(|s| {
                        s.borrow()
                            .iter()
                            .filter(|(sid, _)| *sid == id)
                            .filter_map(|(_, w)| w.upgrade())
                            .collect()
                    });
                    for shared in servers {
                        shared.begin_shutdown(deadline);
                    }
                });
            }
        }
        self.shared.shutting_down.set(true);
        for conn in self.shared.live() {
            conn.close_if_idle();
        }
        self.shared.wait_closed(deadline).await;
    }

    /// Waits (blocking) up to `timeout` for worker threads to end after
    /// [`stop`](HttpServer::stop) or [`shutdown`](HttpServer::shutdown).
    pub fn join_threads(&self, timeout: Duration) -> bool {
        self.tcp.join_threads(timeout)
    }
}
