//! A non-blocking, single-threaded TCP server (Tornado's `tornado.tcpserver`).
//!
//! A [`TcpServer`] accepts connections on its listening sockets and hands each one, as
//! an [`IoStream`], to its [`StreamHandler`], whose future runs as a task of its own on
//! the loop: a slow connection never holds up accepting, and a handler that panics is
//! logged by the loop and costs only its own connection.
//!
//! * [`listen`](TcpServer::listen) binds and starts accepting on the current loop at once.
//! * [`add_sockets`](TcpServer::add_sockets) accepts on sockets made elsewhere (e.g. by
//!   [`bind_sockets`]).
//! * [`bind`](TcpServer::bind) then [`start(n)`](TcpServer::start) serves from `n`
//!   threads, each with its own [`IoLoop`], its own handler (from the factory given to
//!   [`TcpServer::from_factory`]) and its own listening socket on the same port
//!   (`SO_REUSEPORT`: the kernel spreads connections over the threads). Tornado forks
//!   processes instead; threads keep one process and its memory.
//! * [`stop`](TcpServer::stop) stops accepting and closes the listening sockets;
//!   connections in progress go on.
//!
//! ```
//! use std::net::SocketAddr;
//! use std::time::Duration;
//! use tornado_ioloop::IoLoop;
//! use tornado_iostream::IoStream;
//! use tornado_iostream::tcpclient::TcpClient;
//! use tornado_iostream::tcpserver::TcpServer;
//!
//! let io_loop = IoLoop::new().unwrap();
//! io_loop
//!     .run_sync_timeout(
//!         async {
//!             // An echo server: one line back per line in.
//!             let server = TcpServer::new(|stream: IoStream, _peer: SocketAddr| async move {
//!                 while let Ok(line) = stream.read_until(b"\n", Some(64 * 1024)).await {
//!                     if stream.write(&line).await.is_err() {
//!                         break;
//!                     }
//!                 }
//!             });
//!             server.listen(0, Some("127.0.0.1")).unwrap();
//!             let port = server.local_addrs()[0].port();
//!
//!             let client = TcpClient::new().connect("127.0.0.1", port).await.unwrap();
//!             client.write(b"ping\n").await.unwrap();
//!             assert_eq!(&client.read_until(b"\n", None).await.unwrap()[..], b"ping\n");
//!             server.stop();
//!         },
//!         Duration::from_secs(10),
//!     )
//!     .unwrap();
//! ```

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use tornado_ioloop::{IoLoop, LoopHandle, deadline_after};

use crate::netutil::{
    AcceptHandle, AddressFamily, DEFAULT_BACKLOG, add_accept_handler, bind_sockets,
};
use crate::stream::IoStream;
use crate::tls::TlsConfig;

/// How often a stopped worker thread checks whether its last connection has finished,
/// so it can end: 100 ms.
pub const WORKER_DRAIN_INTERVAL: Duration = Duration::from_millis(100);

/// How long [`TcpServer::start`] waits for each worker thread to be accepting: 10 s.
pub const WORKER_START_TIMEOUT: Duration = Duration::from_secs(10);

/// What a [`TcpServer`] does with each connection (Tornado's `TCPServer.handle_stream`).
///
/// Implemented for every `Fn(IoStream, SocketAddr) -> impl Future<Output = ()>`
/// closure; implement it on a type to keep per-server state:
///
/// ```
/// use std::net::SocketAddr;
/// use std::rc::Rc;
/// use tornado_iostream::IoStream;
/// use tornado_iostream::tcpserver::StreamHandler;
///
/// struct Greeter {
///     greeting: String,
/// }
///
/// impl StreamHandler for Greeter {
///     async fn handle_stream(self: Rc<Self>, stream: IoStream, _address: SocketAddr) {
///         let _ = stream.write(self.greeting.as_bytes()).await;
///     }
/// }
/// ```
pub trait StreamHandler: 'static {
    /// Serves one connection; runs as its own task. `address` is the peer's address.
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use std::rc::Rc;
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    /// use tornado_iostream::tcpclient::TcpClient;
    /// use tornado_iostream::tcpserver::{StreamHandler, TcpServer};
    ///
    /// struct Greeter;
    ///
    /// impl StreamHandler for Greeter {
    ///     async fn handle_stream(self: Rc<Self>, stream: IoStream, address: SocketAddr) {
    ///         let _ = stream.write(format!("hello {}\n", address.ip()).as_bytes()).await;
    ///     }
    /// }
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let server = TcpServer::new(Greeter);
    ///     server.listen(0, Some("127.0.0.1")).unwrap();
    ///     let port = server.local_addrs()[0].port();
    ///     let client = TcpClient::new().connect("127.0.0.1", port).await.unwrap();
    ///     assert_eq!(&client.read_until(b"\n", None).await.unwrap()[..], b"hello 127.0.0.1\n");
    ///     server.stop();
    /// });
    /// ```
    fn handle_stream(
        self: Rc<Self>,
        stream: IoStream,
        address: SocketAddr,
    ) -> impl Future<Output = ()> + 'static;
}

impl<F, Fut> StreamHandler for F
where
    F: Fn(IoStream, SocketAddr) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    fn handle_stream(
        self: Rc<Self>,
        stream: IoStream,
        address: SocketAddr,
    ) -> impl Future<Output = ()> + 'static {
        (*self)(stream, address)
    }
}

type Factory<H> = Arc<dyn Fn() -> H + Send + Sync>;

thread_local! {
    /// In a worker thread: how to stop its server, called from [`TcpServer::stop`].
    static WORKER_STOP: RefCell<Option<Box<dyn FnOnce()>>> = const { RefCell::new(None) };
}

struct Worker {
    handle: LoopHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Inner<H> {
    handler: Rc<H>,
    factory: Option<Factory<H>>,
    max_buffer_size: Cell<Option<usize>>,
    tls: RefCell<Option<Arc<rustls::ServerConfig>>>,
    accepting: RefCell<Vec<AcceptHandle<mio::net::TcpListener>>>,
    pending: RefCell<Vec<std::net::TcpListener>>,
    started: Cell<bool>,
    stopped: Cell<bool>,
    workers: RefCell<Vec<Worker>>,
}

/// A TCP server: accepts connections and hands each to a [`StreamHandler`].
///
/// Cheap to clone (clones share the server). Once accepting, the server runs until
/// [`stop`](TcpServer::stop) is called, even if every clone is dropped, as a Tornado
/// server lives on in its IOLoop.
///
/// ```
/// use std::net::SocketAddr;
/// use tornado_ioloop::IoLoop;
/// use tornado_iostream::IoStream;
/// use tornado_iostream::tcpserver::TcpServer;
///
/// IoLoop::new().unwrap().run_sync(async {
///     let server = TcpServer::new(|_stream: IoStream, _peer: SocketAddr| async {});
///     server.listen(0, Some("127.0.0.1")).unwrap();
///     let clone = server.clone();
///     assert_eq!(clone.local_addrs(), server.local_addrs());
///     clone.stop(); // stops the one server
///     assert!(server.local_addrs().is_empty());
/// });
/// ```
pub struct TcpServer<H: StreamHandler> {
    inner: Rc<Inner<H>>,
}

impl<H: StreamHandler> Clone for TcpServer<H> {
    fn clone(&self) -> Self {
        TcpServer {
            inner: self.inner.clone(),
        }
    }
}

impl<H: StreamHandler> fmt::Debug for TcpServer<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpServer")
            .field("local_addrs", &self.local_addrs())
            .field("started", &self.inner.started.get())
            .field("stopped", &self.inner.stopped.get())
            .field("threads", &(self.inner.workers.borrow().len() + 1))
            .field("tls", &self.inner.tls.borrow().is_some())
            .finish()
    }
}

impl<H: StreamHandler> TcpServer<H> {
    /// A server whose connections all go to `handler`, on this thread's loop.
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::net::SocketAddr;
    /// use std::rc::Rc;
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    /// use tornado_iostream::tcpclient::TcpClient;
    /// use tornado_iostream::tcpserver::TcpServer;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     // The handler numbers the connections.
    ///     let count = Rc::new(Cell::new(0));
    ///     let counter = count.clone();
    ///     let server = TcpServer::new(move |stream: IoStream, _peer: SocketAddr| {
    ///         counter.set(counter.get() + 1);
    ///         let n = counter.get();
    ///         async move {
    ///             let _ = stream.write(format!("{n}\n").as_bytes()).await;
    ///         }
    ///     });
    ///     server.listen(0, Some("127.0.0.1")).unwrap();
    ///     let port = server.local_addrs()[0].port();
    ///     for expected in [b"1\n", b"2\n"] {
    ///         let client = TcpClient::new().connect("127.0.0.1", port).await.unwrap();
    ///         assert_eq!(&client.read_until(b"\n", None).await.unwrap()[..], expected);
    ///     }
    ///     assert_eq!(count.get(), 2);
    ///     server.stop();
    /// });
    /// ```
    pub fn new(handler: H) -> Self {
        Self::build(handler, None)
    }

    /// A server that makes one handler per thread with `factory`, so that
    /// [`start(n)`](TcpServer::start) can serve from several threads (loop-thread types,
    /// such as an `Rc`, cannot move between threads; a factory can).
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use std::time::Duration;
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    /// use tornado_iostream::tcpclient::TcpClient;
    /// use tornado_iostream::tcpserver::TcpServer;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let server = TcpServer::from_factory(|| {
    ///         |stream: IoStream, _peer: SocketAddr| async move {
    ///             let _ = stream.write(b"hi\n").await;
    ///         }
    ///     });
    ///     server.bind(0, Some("127.0.0.1")).unwrap();
    ///     let port = server.local_addrs()[0].port();
    ///     server.start(2).unwrap(); // this thread and one more
    ///     assert_eq!(server.threads(), 2);
    ///     // Whichever thread takes the connection answers it.
    ///     let client = TcpClient::new().connect("127.0.0.1", port).await.unwrap();
    ///     assert_eq!(&client.read_until(b"\n", None).await.unwrap()[..], b"hi\n");
    ///     server.stop();
    ///     assert!(server.join_threads(Duration::from_secs(10)));
    /// });
    /// ```
    pub fn from_factory(factory: impl Fn() -> H + Send + Sync + 'static) -> Self {
        let factory: Factory<H> = Arc::new(factory);
        Self::build(factory(), Some(factory))
    }

    fn build(handler: H, factory: Option<Factory<H>>) -> Self {
        TcpServer {
            inner: Rc::new(Inner {
                handler: Rc::new(handler),
                factory,
                max_buffer_size: Cell::new(None),
                tls: RefCell::new(None),
                accepting: RefCell::new(Vec::new()),
                pending: RefCell::new(Vec::new()),
                started: Cell::new(false),
                stopped: Cell::new(false),
                workers: RefCell::new(Vec::new()),
            }),
        }
    }

    /// Sets each new stream's [`max_buffer_size`](IoStream::set_max_buffer_size)
    /// (`None`: the stream's default, [`DEFAULT_MAX_BUFFER_SIZE`](crate::DEFAULT_MAX_BUFFER_SIZE)).
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    /// use tornado_iostream::tcpclient::TcpClient;
    /// use tornado_iostream::tcpserver::TcpServer;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     // The handler tells the client its stream's limit.
    ///     let server = TcpServer::new(|stream: IoStream, _peer: SocketAddr| async move {
    ///         let _ = stream.write(format!("{}\n", stream.max_buffer_size()).as_bytes()).await;
    ///     });
    ///     server.set_max_buffer_size(Some(4096));
    ///     server.listen(0, Some("127.0.0.1")).unwrap();
    ///     let port = server.local_addrs()[0].port();
    ///     let client = TcpClient::new().connect("127.0.0.1", port).await.unwrap();
    ///     assert_eq!(&client.read_until(b"\n", None).await.unwrap()[..], b"4096\n");
    ///     server.stop();
    /// });
    /// ```
    pub fn set_max_buffer_size(&self, max: Option<usize>) {
        self.inner.max_buffer_size.set(max);
    }

    /// Serves TLS with `config` (Tornado's `ssl_options`): every accepted stream starts
    /// a server-side TLS session (see [`IoStream::start_tls`]) before it reaches the
    /// handler. As in Tornado, the handler gets the stream while the handshake may still
    /// be under way: its reads and writes wait for it, and
    /// [`IoStream::wait_for_handshake`] waits for it explicitly (to look at the ALPN
    /// protocol or the SNI name). Set it before accepting starts; worker threads of
    /// [`start`](TcpServer::start) share it.
    ///
    /// ```
    /// use std::net::SocketAddr;
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
    ///     // The handler answers with the name the client asked for (SNI).
    ///     let server = TcpServer::new(|stream: IoStream, _peer: SocketAddr| async move {
    ///         if stream.wait_for_handshake().await.is_ok() {
    ///             let name = stream.tls_server_name().unwrap_or_default();
    ///             let _ = stream.write(format!("{name}\n").as_bytes()).await;
    ///         }
    ///     })
    ///     .with_tls(server_cfg);
    ///     server.listen(0, Some("127.0.0.1")).unwrap();
    ///     let port = server.local_addrs()[0].port();
    ///     let opts = ConnectOptions::new().tls(client_cfg).server_hostname("localhost");
    ///     let client = TcpClient::new().connect_with("127.0.0.1", port, &opts).await.unwrap();
    ///     assert_eq!(&client.read_until(b"\n", None).await.unwrap()[..], b"localhost\n");
    ///     server.stop();
    /// });
    /// ```
    pub fn with_tls(self, config: Arc<rustls::ServerConfig>) -> Self {
        *self.inner.tls.borrow_mut() = Some(config);
        self
    }

    /// Binds `port` on `address` (see [`bind_sockets`]; `None` is every interface) and
    /// starts accepting on the current loop. May be called more than once.
    ///
    /// ```
    /// use std::net::{IpAddr, Ipv4Addr, SocketAddr};
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    /// use tornado_iostream::tcpserver::TcpServer;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let server = TcpServer::new(|_stream: IoStream, _peer: SocketAddr| async {});
    ///     server.listen(0, Some("127.0.0.1")).unwrap(); // port 0: a free port
    ///     server.listen(0, Some("127.0.0.1")).unwrap(); // and another one
    ///     let addrs = server.local_addrs();
    ///     assert_eq!(addrs.len(), 2);
    ///     assert!(addrs.iter().all(|a| a.ip() == IpAddr::V4(Ipv4Addr::LOCALHOST)));
    ///     assert_ne!(addrs[0].port(), addrs[1].port());
    ///     server.stop();
    /// });
    /// ```
    pub fn listen(&self, port: u16, address: Option<&str>) -> io::Result<()> {
        let sockets = bind_sockets(port, address, AddressFamily::Unspec, DEFAULT_BACKLOG, false)?;
        self.add_sockets(sockets)
    }

    /// Starts accepting on `listeners` (non-blocking listening sockets, such as
    /// [`bind_sockets`] makes) on the current loop.
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    /// use tornado_iostream::netutil::{AddressFamily, DEFAULT_BACKLOG, bind_sockets};
    /// use tornado_iostream::tcpclient::TcpClient;
    /// use tornado_iostream::tcpserver::TcpServer;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let (family, backlog) = (AddressFamily::Inet, DEFAULT_BACKLOG);
    ///     let sockets = bind_sockets(0, Some("127.0.0.1"), family, backlog, false).unwrap();
    ///     let addr = sockets[0].local_addr().unwrap();
    ///     let server = TcpServer::new(|stream: IoStream, _peer: SocketAddr| async move {
    ///         let _ = stream.write(b"ok\n").await;
    ///     });
    ///     server.add_sockets(sockets).unwrap();
    ///     assert_eq!(server.local_addrs(), vec![addr]);
    ///     let client = TcpClient::new().connect("127.0.0.1", addr.port()).await.unwrap();
    ///     assert_eq!(&client.read_until(b"\n", None).await.unwrap()[..], b"ok\n");
    ///     server.stop();
    /// });
    /// ```
    pub fn add_sockets(
        &self,
        listeners: impl IntoIterator<Item = std::net::TcpListener>,
    ) -> io::Result<()> {
        for listener in listeners {
            listener.set_nonblocking(true)?;
            let listener = mio::net::TcpListener::from_std(listener);
            let server = self.inner.clone();
            let handle = add_accept_handler(listener, move |stream, address| {
                server.handle_connection(stream, address);
            })?;
            self.inner.accepting.borrow_mut().push(handle);
        }
        Ok(())
    }

    /// [`add_sockets`](TcpServer::add_sockets) with one socket.
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    /// use tornado_iostream::tcpserver::TcpServer;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let server = TcpServer::new(|_stream: IoStream, _peer: SocketAddr| async {});
    ///     server.add_socket(listener).unwrap(); // made non-blocking here
    ///     assert_eq!(server.local_addrs(), vec![addr]);
    ///     server.stop();
    /// });
    /// ```
    pub fn add_socket(&self, listener: std::net::TcpListener) -> io::Result<()> {
        self.add_sockets([listener])
    }

    /// Binds `port` on `address` for [`start`](TcpServer::start). The sockets get
    /// `SO_REUSEPORT` so that `start(n)` can give every thread a socket of its own on the
    /// same port. May be called more than once; after `start` it accepts at once.
    ///
    /// As with any `SO_REUSEPORT` socket, a port that another such socket of the same
    /// user already holds is shared rather than refused; use
    /// [`listen`](TcpServer::listen) for a single thread if that matters.
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    /// use tornado_iostream::tcpclient::TcpClient;
    /// use tornado_iostream::tcpserver::TcpServer;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let server = TcpServer::new(|stream: IoStream, _peer: SocketAddr| async move {
    ///         let _ = stream.write(b"ok\n").await;
    ///     });
    ///     server.bind(0, Some("127.0.0.1")).unwrap(); // bound, not yet accepting
    ///     let port = server.local_addrs()[0].port();
    ///     assert_ne!(port, 0);
    ///     server.start(1).unwrap();
    ///     let client = TcpClient::new().connect("127.0.0.1", port).await.unwrap();
    ///     assert_eq!(&client.read_until(b"\n", None).await.unwrap()[..], b"ok\n");
    ///     server.stop();
    /// });
    /// ```
    pub fn bind(&self, port: u16, address: Option<&str>) -> io::Result<()> {
        let sockets = bind_sockets(port, address, AddressFamily::Unspec, DEFAULT_BACKLOG, true)?;
        if self.inner.started.get() {
            self.add_sockets(sockets)
        } else {
            self.inner.pending.borrow_mut().extend(sockets);
            Ok(())
        }
    }

    /// Starts serving the [`bind`](TcpServer::bind) sockets from `threads` threads
    /// (0: one per CPU). The current thread's loop is one of them: `start(1)` only adds
    /// the sockets to it. Each other thread binds its own socket to every bound address
    /// (`SO_REUSEPORT`), runs its own [`IoLoop`] with a handler from the factory, and is
    /// accepting when `start` returns. Run the current loop afterwards, as in Tornado.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if called twice, or with more than one thread on a server made
    /// with [`new`](TcpServer::new) (it has no factory); or why a thread could not bind
    /// or start.
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use std::net::SocketAddr;
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    /// use tornado_iostream::tcpserver::TcpServer;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let server = TcpServer::new(|_stream: IoStream, _peer: SocketAddr| async {});
    ///     server.bind(0, Some("127.0.0.1")).unwrap();
    ///     // A server made with `new` has no factory: one thread only.
    ///     assert_eq!(server.start(2).unwrap_err().kind(), ErrorKind::InvalidInput);
    ///     server.start(1).unwrap();
    ///     assert_eq!(server.threads(), 1);
    ///     assert_eq!(server.start(1).unwrap_err().kind(), ErrorKind::InvalidInput);
    ///     server.stop();
    /// });
    /// ```
    pub fn start(&self, threads: usize) -> io::Result<()> {
        if self.inner.started.replace(true) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "TcpServer::start called twice",
            ));
        }
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            threads
        };
        let sockets: Vec<_> = self.inner.pending.borrow_mut().drain(..).collect();
        if threads > 1 {
            let Some(factory) = self.inner.factory.clone() else {
                self.inner.pending.borrow_mut().extend(sockets);
                self.inner.started.set(false);
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "TcpServer::start(n > 1) needs a server made with TcpServer::from_factory",
                ));
            };
            let addrs = sockets
                .iter()
                .map(|s| s.local_addr())
                .collect::<io::Result<Vec<_>>>()?;
            for i in 1..threads {
                if let Err(e) = self.spawn_worker(i, &addrs, factory.clone()) {
                    self.stop_workers();
                    self.inner.pending.borrow_mut().extend(sockets);
                    return Err(e);
                }
            }
        }
        self.add_sockets(sockets)
    }

    fn spawn_worker(
        &self,
        index: usize,
        addrs: &[SocketAddr],
        factory: Factory<H>,
    ) -> io::Result<()> {
        let mut listeners = Vec::with_capacity(addrs.len());
        for addr in addrs {
            let ip = addr.ip().to_string();
            let family = AddressFamily::of(addr);
            listeners.extend(bind_sockets(
                addr.port(),
                Some(&ip),
                family,
                DEFAULT_BACKLOG,
                true,
            )?);
        }
        let max_buffer_size = self.inner.max_buffer_size.get();
        let tls = self.inner.tls.borrow().clone();
        let (ready_tx, ready_rx) = mpsc::channel::<io::Result<LoopHandle>>();
        let thread = std::thread::Builder::new()
            .name(format!("tornado-tcpserver-{index}"))
            .spawn(move || worker_main(listeners, factory, max_buffer_size, tls, ready_tx))?;
        match ready_rx.recv_timeout(WORKER_START_TIMEOUT) {
            Ok(Ok(handle)) => {
                self.inner.workers.borrow_mut().push(Worker {
                    handle,
                    thread: Some(thread),
                });
                Ok(())
            }
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let _ = thread.join();
                Err(io::Error::other(format!(
                    "server thread {index} failed to start (its handler factory panicked?)"
                )))
            }
            Err(mpsc::RecvTimeoutError::Timeout) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("server thread {index} did not start within {WORKER_START_TIMEOUT:?}"),
            )),
        }
    }

    /// Stops accepting: the listening sockets are closed, in every thread. Connections
    /// in progress go on; a worker thread ends once its last connection has finished.
    /// Calling it again does nothing.
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    /// use tornado_iostream::tcpserver::TcpServer;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let server = TcpServer::new(|_stream: IoStream, _peer: SocketAddr| async {});
    ///     server.listen(0, Some("127.0.0.1")).unwrap();
    ///     let addr = server.local_addrs()[0];
    ///     server.stop();
    ///     server.stop(); // does nothing
    ///     assert!(server.local_addrs().is_empty());
    ///     let err = IoStream::connect(addr).await.unwrap_err(); // the socket is closed
    ///     assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    /// });
    /// ```
    pub fn stop(&self) {
        if self.inner.stopped.replace(true) {
            return;
        }
        self.inner.stop_accepting();
        self.stop_workers();
    }

    fn stop_workers(&self) {
        for worker in self.inner.workers.borrow().iter() {
            worker.handle.add_callback(|| {
                let stop = WORKER_STOP.with(|s| s.borrow_mut().take());
                if let Some(stop) = stop {
                    stop();
                }
            });
        }
    }

    /// Waits (blocking) up to `timeout` for the worker threads to end after
    /// [`stop`](TcpServer::stop); true if they all did.
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use std::time::Duration;
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    /// use tornado_iostream::tcpserver::TcpServer;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let server =
    ///         TcpServer::from_factory(|| |_stream: IoStream, _peer: SocketAddr| async {});
    ///     server.bind(0, Some("127.0.0.1")).unwrap();
    ///     server.start(3).unwrap();
    ///     assert_eq!(server.threads(), 3);
    ///     server.stop();
    ///     // With no connection left, the two worker threads end at once.
    ///     assert!(server.join_threads(Duration::from_secs(10)));
    /// });
    /// ```
    pub fn join_threads(&self, timeout: Duration) -> bool {
        let deadline = deadline_after(std::time::Instant::now(), timeout);
        let mut workers = self.inner.workers.borrow_mut();
        for w in workers.iter_mut() {
            let Some(thread) = w.thread.take() else {
                continue;
            };
            while !thread.is_finished() {
                if std::time::Instant::now() >= deadline {
                    w.thread = Some(thread);
                    return false;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = thread.join();
        }
        true
    }

    /// The addresses this thread's sockets listen on (empty once stopped).
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    /// use tornado_iostream::tcpserver::TcpServer;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let server = TcpServer::new(|_stream: IoStream, _peer: SocketAddr| async {});
    ///     assert!(server.local_addrs().is_empty());
    ///     server.listen(0, Some("127.0.0.1")).unwrap();
    ///     let addrs = server.local_addrs();
    ///     assert_eq!(addrs.len(), 1);
    ///     assert_eq!(addrs[0].ip().to_string(), "127.0.0.1");
    ///     assert_ne!(addrs[0].port(), 0); // the port the kernel chose
    ///     server.stop();
    /// });
    /// ```
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        let mut out: Vec<SocketAddr> = self
            .inner
            .accepting
            .borrow()
            .iter()
            .filter_map(|h| h.with_listener(|l| l.local_addr().ok()).flatten())
            .collect();
        out.extend(
            self.inner
                .pending
                .borrow()
                .iter()
                .filter_map(|l| l.local_addr().ok()),
        );
        out
    }

    /// This thread's handler.
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use std::rc::Rc;
    /// use tornado_iostream::IoStream;
    /// use tornado_iostream::tcpserver::{StreamHandler, TcpServer};
    ///
    /// struct Greeter {
    ///     greeting: String,
    /// }
    ///
    /// impl StreamHandler for Greeter {
    ///     async fn handle_stream(self: Rc<Self>, stream: IoStream, _address: SocketAddr) {
    ///         let _ = stream.write(self.greeting.as_bytes()).await;
    ///     }
    /// }
    ///
    /// let server = TcpServer::new(Greeter { greeting: "hello\n".to_owned() });
    /// assert_eq!(server.handler().greeting, "hello\n");
    /// ```
    pub fn handler(&self) -> Rc<H> {
        self.inner.handler.clone()
    }

    /// The number of threads serving: 1 plus the workers [`start`](TcpServer::start) made.
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use tornado_iostream::IoStream;
    /// use tornado_iostream::tcpserver::TcpServer;
    ///
    /// // Until `start(n)` adds workers, only this thread serves.
    /// let server = TcpServer::new(|_stream: IoStream, _peer: SocketAddr| async {});
    /// assert_eq!(server.threads(), 1);
    /// ```
    pub fn threads(&self) -> usize {
        self.inner.workers.borrow().len() + 1
    }
}

impl<H: StreamHandler> Inner<H> {
    fn handle_connection(&self, socket: mio::net::TcpStream, address: SocketAddr) {
        let stream = match IoStream::new(socket) {
            Ok(s) => s,
            Err(e) => {
                log::error!("cannot set up a stream for the connection from {address}: {e}");
                return;
            }
        };
        if let Some(max) = self.max_buffer_size.get() {
            stream.set_max_buffer_size(max);
        }
        if let Some(config) = self.tls.borrow().clone() {
            let mut handshake = stream.start_tls(TlsConfig::server(config));
            // The handshake itself goes on without this future; polling it once only
            // catches a session that could not even start, which must not leave the
            // stream in plain text.
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            if let std::task::Poll::Ready(Err(e)) = std::pin::Pin::new(&mut handshake).poll(&mut cx)
            {
                log::error!("cannot start TLS for the connection from {address}: {e}");
                stream.close();
                return;
            }
        }
        let fut = self.handler.clone().handle_stream(stream, address);
        IoLoop::current().spawn_callback(fut);
    }

    fn stop_accepting(&self) {
        let handles: Vec<_> = self.accepting.borrow_mut().drain(..).collect();
        for h in handles {
            drop(h.remove());
        }
        self.pending.borrow_mut().clear();
    }
}

fn worker_main<H: StreamHandler>(
    listeners: Vec<std::net::TcpListener>,
    factory: Factory<H>,
    max_buffer_size: Option<usize>,
    tls: Option<Arc<rustls::ServerConfig>>,
    ready: mpsc::Sender<io::Result<LoopHandle>>,
) {
    let io_loop = match IoLoop::new() {
        Ok(l) => l,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    io_loop.make_current();
    let server = TcpServer::build(factory(), Some(factory));
    server.set_max_buffer_size(max_buffer_size);
    *server.inner.tls.borrow_mut() = tls;
    if let Err(e) = server.add_sockets(listeners) {
        let _ = ready.send(Err(e));
        return;
    }
    server.inner.started.set(true);
    WORKER_STOP.with(|s| {
        *s.borrow_mut() = Some(Box::new(move || {
            server.stop();
            drain_then_stop();
        }))
    });
    if ready.send(Ok(io_loop.handle())).is_err() {
        return;
    }
    io_loop.start();
    io_loop.close();
}

/// Stops the current loop once no task (connection) is left.
fn drain_then_stop() {
    let io_loop = IoLoop::current();
    if io_loop.task_count() == 0 {
        io_loop.stop();
    } else {
        io_loop.call_later(WORKER_DRAIN_INTERVAL, drain_then_stop);
    }
}
