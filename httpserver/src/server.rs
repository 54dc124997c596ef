//! [`HttpServer`]: accepts connections with a [`TcpServer`] (or on a Unix socket) and
//! serves HTTP/1.1 on each (Tornado's `tornado.httpserver`).

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tornado_ioloop::signal::{Signal, wait_for};
use tornado_ioloop::{IoLoop, LoopHandle};
use tornado_iostream::IoStream;
use tornado_iostream::netutil::{AcceptHandle, add_accept_handler, bind_unix_socket};
use tornado_iostream::tcpserver::{StreamHandler, TcpServer};

use crate::connection::{Conn, ConnShared, ServeRequest};
use crate::delegate::HttpServerConnectionDelegate;
use crate::registry::{Registry, SHUTDOWN_POLL_INTERVAL};
use crate::settings::HttpServerSettings;

static NEXT_SERVER_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's part of each running server, for shutdown signals from other
    /// threads. The registry, which the open connections keep alive, is what a
    /// shutdown needs: the acceptor's handler may be gone already.
    static LOCAL_SERVERS: RefCell<Vec<(u64, Weak<Registry>)>> = const { RefCell::new(Vec::new()) };
}

/// One thread's part of a server: its settings, its delegate (type-erased) and its
/// open connections.
pub(crate) struct ServerShared {
    settings: Arc<HttpServerSettings>,
    registry: Rc<Registry>,
    /// What its connections share.
    conn: Rc<ConnShared>,
}

impl ServerShared {
    fn new(id: u64, settings: Arc<HttpServerSettings>, serve: Rc<dyn ServeRequest>) -> Rc<Self> {
        let registry = Registry::new(settings.idle_connection_timeout);
        let shared = Rc::new(ServerShared {
            conn: Rc::new(ConnShared {
                settings: settings.clone(),
                registry: registry.clone(),
                serve,
            }),
            settings,
            registry,
        });
        LOCAL_SERVERS.with(|s| {
            let mut s = s.borrow_mut();
            s.retain(|(_, w)| w.strong_count() > 0);
            s.push((id, Rc::downgrade(&shared.registry)));
        });
        shared
    }

    fn connection(&self, stream: IoStream, peer: Option<SocketAddr>, tls: bool) -> Rc<Conn> {
        Conn::new(stream, self.conn.clone(), peer, tls)
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
        self.shared.connection(stream, Some(address), tls).serve()
    }
}

type DelegateFactory = Arc<dyn Fn() -> Rc<dyn ServeRequest> + Send + Sync>;

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
            .field("connections", &self.shared.registry.connection_count())
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
        let factory: DelegateFactory =
            Arc::new(move || -> Rc<dyn ServeRequest> { Rc::new(factory()) });
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
                    let conn = shared.connection(stream, None, false);
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

    /// The number of threads serving: 1 plus the workers [`start`](Self::start) made
    /// (`start(0)` makes one thread per CPU).
    ///
    /// ```
    /// use tornado_httpserver::httputil::HttpServerRequest;
    /// use tornado_httpserver::{HttpServer, Response};
    ///
    /// let server = HttpServer::new(|_req: HttpServerRequest| async { Response::text("hi") });
    /// assert_eq!(server.threads(), 1);
    /// ```
    pub fn threads(&self) -> usize {
        self.tcp.threads()
    }

    /// Open connections on this thread.
    pub fn connection_count(&self) -> usize {
        self.shared.registry.connection_count()
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
        self.shared.registry.close_all();
        while self.shared.registry.connection_count() > 0 {
            tornado_gen::sleep(SHUTDOWN_POLL_INTERVAL).await;
        }
    }

    /// Graceful shutdown: stop accepting, close idle connections, let requests in
    /// flight finish (their responses carry `Connection: close`), and force-close what
    /// is still open after `grace`. On every thread; the future resolves when this
    /// thread's connections are gone (worker threads end on their own).
    pub async fn shutdown(&self, grace: Duration) {
        self.stop();
        let deadline = tornado_ioloop::deadline_after(Instant::now(), grace);
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
                    for registry in servers {
                        registry.shutdown_in_background(deadline);
                    }
                });
            }
        }
        self.shared.registry.begin_shutdown();
        self.shared.registry.wait_closed(deadline).await;
    }

    /// Serves until SIGINT or SIGTERM arrives, then shuts down gracefully
    /// ([`shutdown`](HttpServer::shutdown) with `grace`) and returns the signal: one
    /// call that makes any application drain its requests on Ctrl-C or a service
    /// manager's stop instead of dropping them.
    ///
    /// The signal handler is installed when this future is first polled; start it
    /// (e.g. with [`IoLoop::run_sync`]) as soon as the server listens.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use tornado_httpserver::{HttpServer, Response};
    /// use tornado_httpserver::httputil::HttpServerRequest;
    /// use tornado_ioloop::IoLoop;
    ///
    /// let server = HttpServer::new(|_req: HttpServerRequest| async { Response::text("hi") });
    /// server.listen(8888, None).unwrap();
    /// let signal = IoLoop::current()
    ///     .run_sync(async move { server.shutdown_on_signal(Duration::from_secs(10)).await })
    ///     .unwrap();
    /// println!("stopped on {signal}");
    /// ```
    pub async fn shutdown_on_signal(&self, grace: Duration) -> io::Result<Signal> {
        let signal = wait_for(&[Signal::Interrupt, Signal::Terminate]).await?;
        log::info!("{signal}: shutting down, waiting up to {grace:?} for requests in flight");
        self.shutdown(grace).await;
        Ok(signal)
    }

    /// Waits (blocking) up to `timeout` for worker threads to end after
    /// [`stop`](HttpServer::stop) or [`shutdown`](HttpServer::shutdown).
    pub fn join_threads(&self, timeout: Duration) -> bool {
        self.tcp.join_threads(timeout)
    }
}
