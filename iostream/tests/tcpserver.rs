//! TcpServer over real loopback sockets (Tornado's tcpserver_test, with threads in place
//! of forked processes).

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tornado_ioloop::{IoLoop, sleep};
use tornado_iostream::IoStream;
use tornado_iostream::netutil::{AddressFamily, DEFAULT_BACKLOG, bind_sockets};
use tornado_iostream::tcpclient::TcpClient;
use tornado_iostream::tcpserver::{StreamHandler, TcpServer};

const TIMEOUT: Duration = Duration::from_secs(10);

fn run<F: Future + 'static>(f: F) -> F::Output {
    IoLoop::new()
        .unwrap()
        .run_sync_timeout(f, TIMEOUT)
        .expect("test timed out")
}

async fn echo(stream: IoStream, _peer: SocketAddr) {
    while let Ok(line) = stream.read_until(b"\n", Some(64 * 1024)).await {
        if stream.write(&line).await.is_err() {
            break;
        }
    }
}

async fn round_trip(port: u16, msg: &[u8]) -> Vec<u8> {
    let client = TcpClient::new().connect("127.0.0.1", port).await.unwrap();
    client.write(msg).await.unwrap();
    client.read_until(b"\n", None).await.unwrap().to_vec()
}

fn port_of(server: &TcpServer<impl StreamHandler>) -> u16 {
    server.local_addrs()[0].port()
}

/// True once connecting to `port` is refused (nothing listens any more).
async fn refused(port: u16) -> bool {
    match TcpClient::new().connect("127.0.0.1", port).await {
        Ok(_) => false,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionRefused,
    }
}

#[test]
fn handle_stream_async_closure() {
    run(async {
        let server = TcpServer::new(echo);
        server.listen(0, Some("127.0.0.1")).unwrap();
        let port = port_of(&server);
        assert_eq!(round_trip(port, b"hello\n").await, b"hello\n");
        assert_eq!(round_trip(port, b"again\n").await, b"again\n");
        server.stop();
    });
}

struct Counter {
    served: Cell<usize>,
    peers: RefCell<Vec<SocketAddr>>,
}

impl StreamHandler for Counter {
    async fn handle_stream(self: Rc<Self>, stream: IoStream, address: SocketAddr) {
        self.served.set(self.served.get() + 1);
        self.peers.borrow_mut().push(address);
        let n = self.served.get();
        let _ = stream.write(format!("you are {n}\n").as_bytes()).await;
    }
}

#[test]
fn handle_stream_trait_keeps_state_and_sees_the_peer() {
    run(async {
        let server = TcpServer::new(Counter {
            served: Cell::new(0),
            peers: RefCell::new(Vec::new()),
        });
        server.listen(0, Some("127.0.0.1")).unwrap();
        let port = port_of(&server);
        let mut mine = Vec::new();
        for want in ["you are 1\n", "you are 2\n"] {
            let client = TcpClient::new().connect("127.0.0.1", port).await.unwrap();
            let line = client.read_until(b"\n", None).await.unwrap();
            assert_eq!(&line[..], want.as_bytes());
            mine.push(client.local_addr().unwrap());
        }
        // The handler was given each client's own address.
        assert_eq!(*server.handler().peers.borrow(), mine);
        server.stop();
    });
}

#[test]
fn handler_panic_costs_only_its_connection() {
    run(async {
        let calls = Rc::new(Cell::new(0));
        let c = calls.clone();
        let server = TcpServer::new(move |stream: IoStream, peer: SocketAddr| {
            c.set(c.get() + 1);
            let first = c.get() == 1;
            async move {
                if first {
                    panic!("handler bug on purpose");
                }
                echo(stream, peer).await;
            }
        });
        server.listen(0, Some("127.0.0.1")).unwrap();
        let port = port_of(&server);
        let doomed = TcpClient::new().connect("127.0.0.1", port).await.unwrap();
        // The panicking task dropped its stream: the client sees the close.
        assert!(doomed.read_until_close().await.is_ok_and(|b| b.is_empty()));
        assert_eq!(round_trip(port, b"still here\n").await, b"still here\n");
        assert_eq!(calls.get(), 2);
        server.stop();
    });
}

#[test]
fn stop_stops_accepting_but_not_open_connections() {
    run(async {
        let server = TcpServer::new(echo);
        server.listen(0, Some("127.0.0.1")).unwrap();
        let port = port_of(&server);
        let open = TcpClient::new().connect("127.0.0.1", port).await.unwrap();
        open.write(b"one\n").await.unwrap();
        assert_eq!(&open.read_until(b"\n", None).await.unwrap()[..], b"one\n");

        server.stop();
        server.stop(); // twice is fine (Tornado's test_stop_twice)
        assert!(server.local_addrs().is_empty());
        assert!(refused(port).await, "the listening socket is closed");
        // The connection accepted before stop() is still served.
        open.write(b"two\n").await.unwrap();
        assert_eq!(&open.read_until(b"\n", None).await.unwrap()[..], b"two\n");
    });
}

/// Stops its own server from inside `handle_stream` (Tornado's test_stop_in_callback).
struct StopOnFirst {
    server: RefCell<Option<TcpServer<StopOnFirst>>>,
}

impl StreamHandler for StopOnFirst {
    async fn handle_stream(self: Rc<Self>, stream: IoStream, _address: SocketAddr) {
        if let Some(server) = self.server.borrow_mut().take() {
            server.stop();
        }
        let _ = stream.write(b"bye\n").await;
    }
}

#[test]
fn stop_from_inside_a_handler() {
    run(async {
        let server = TcpServer::new(StopOnFirst {
            server: RefCell::new(None),
        });
        server.listen(0, Some("127.0.0.1")).unwrap();
        let port = port_of(&server);
        *server.handler().server.borrow_mut() = Some(server.clone());
        let client = TcpClient::new().connect("127.0.0.1", port).await.unwrap();
        assert_eq!(&client.read_until(b"\n", None).await.unwrap()[..], b"bye\n");
        assert!(refused(port).await);
    });
}

#[test]
fn bind_then_start_one_thread() {
    run(async {
        let server = TcpServer::new(echo);
        server.bind(0, Some("127.0.0.1")).unwrap();
        let port = port_of(&server);
        server.start(1).unwrap();
        assert_eq!(server.threads(), 1);
        assert_eq!(round_trip(port, b"bound\n").await, b"bound\n");
        let again = server.start(1).unwrap_err();
        assert_eq!(again.kind(), std::io::ErrorKind::InvalidInput);
        server.stop();
    });
}

#[test]
fn start_several_threads_needs_a_factory() {
    run(async {
        let server = TcpServer::new(echo);
        server.bind(0, Some("127.0.0.1")).unwrap();
        let err = server.start(2).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("from_factory"), "{err}");
        // The sockets are still there: start(1) works.
        server.start(1).unwrap();
        let port = port_of(&server);
        assert_eq!(round_trip(port, b"x\n").await, b"x\n");
        server.stop();
    });
}

#[test]
fn start_two_threads_serves_from_both() {
    const CONNECTIONS: usize = 32;
    let made = Arc::new(Mutex::new(Vec::<String>::new()));
    let m = made.clone();
    run(async move {
        let server = TcpServer::from_factory(move || {
            let name = std::thread::current().name().unwrap_or("?").to_owned();
            m.lock().unwrap().push(name.clone());
            move |stream: IoStream, _peer: SocketAddr| {
                let name = name.clone();
                async move {
                    if stream.read_until(b"\n", Some(1024)).await.is_ok() {
                        let _ = stream.write(format!("{name}\n").as_bytes()).await;
                    }
                }
            }
        });
        server.bind(0, Some("127.0.0.1")).unwrap();
        let port = port_of(&server);
        server.start(2).unwrap();
        assert_eq!(server.threads(), 2);

        let mut clients = Vec::new();
        for _ in 0..CONNECTIONS {
            clients.push(TcpClient::new().connect("127.0.0.1", port).await.unwrap());
        }
        let mut names = HashSet::new();
        for c in &clients {
            c.write(b"who?\n").await.unwrap();
            let line = c.read_until(b"\n", None).await.unwrap();
            names.insert(String::from_utf8(line.to_vec()).unwrap());
        }
        // SO_REUSEPORT spreads connections by a hash of their addresses: with 32 of them,
        // both threads are all but certain to get some.
        assert_eq!(names.len(), 2, "{names:?}");

        server.stop();
        assert!(
            server.join_threads(Duration::from_secs(5)),
            "the worker thread ends"
        );
        while !refused(port).await {
            sleep(Duration::from_millis(10)).await;
        }
    });
    let made = made.lock().unwrap();
    assert_eq!(made.len(), 2, "one handler per thread: {made:?}");
    assert!(
        made.iter().any(|n| n.starts_with("tornado-tcpserver-")),
        "{made:?}"
    );
}

#[test]
fn add_sockets_from_bind_sockets_ipv4_and_ipv6() {
    run(async {
        let mut sockets = bind_sockets(
            0,
            Some("127.0.0.1"),
            AddressFamily::Inet,
            DEFAULT_BACKLOG,
            false,
        )
        .unwrap();
        let v6 = bind_sockets(0, Some("::1"), AddressFamily::Inet6, DEFAULT_BACKLOG, false);
        match v6 {
            Ok(s) => sockets.extend(s),
            Err(e) => eprintln!("IPv6 loopback unavailable, testing IPv4 only: {e}"),
        }
        let server = TcpServer::new(echo);
        server.add_sockets(sockets).unwrap();
        for addr in server.local_addrs() {
            let host = addr.ip().to_string();
            let client = TcpClient::new().connect(&host, addr.port()).await.unwrap();
            client.write(b"hi\n").await.unwrap();
            assert_eq!(&client.read_until(b"\n", None).await.unwrap()[..], b"hi\n");
            assert_eq!(client.peer_addr().unwrap(), addr);
        }
        server.stop();
    });
}

#[test]
fn max_buffer_size_applies_to_accepted_streams() {
    run(async {
        let outcome: Rc<RefCell<Option<std::io::Result<usize>>>> = Rc::default();
        let o = outcome.clone();
        let server = TcpServer::new(move |stream: IoStream, _peer: SocketAddr| {
            let o = o.clone();
            async move {
                let r = stream.read_until(b"\n", None).await.map(|b| b.len());
                *o.borrow_mut() = Some(r);
            }
        });
        server.set_max_buffer_size(Some(64));
        server.listen(0, Some("127.0.0.1")).unwrap();
        let port = port_of(&server);
        let client = TcpClient::new().connect("127.0.0.1", port).await.unwrap();
        let _ = client.write(&[b'a'; 4096]).await;
        while outcome.borrow().is_none() {
            sleep(Duration::from_millis(5)).await;
        }
        assert!(
            outcome.borrow().as_ref().unwrap().is_err(),
            "over the limit: {:?}",
            outcome.borrow()
        );
        server.stop();
    });
}
