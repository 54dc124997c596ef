//! netutil over real loopback sockets: bind_sockets, Unix sockets, the accept handler and
//! the resolvers (Tornado's netutil_test, plus the accept loop's batching).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::rc::Rc;
use std::time::Duration;

use tornado_ioloop::{IoLoop, sleep};
use tornado_iostream::netutil::{
    ACCEPT_BATCH, AddressFamily, DEFAULT_BACKLOG, DefaultResolver, OverrideResolver, Resolver,
    add_accept_handler, bind_sockets, bind_unix_socket,
};

const TIMEOUT: Duration = Duration::from_secs(10);

fn run<F: Future + 'static>(f: F) -> F::Output {
    IoLoop::new()
        .unwrap()
        .run_sync_timeout(f, TIMEOUT)
        .expect("test timed out")
}

/// Polls `cond` every few milliseconds until it holds.
async fn wait_until(mut cond: impl FnMut() -> bool) {
    while !cond() {
        sleep(Duration::from_millis(5)).await;
    }
}

fn ipv6_available() -> bool {
    match std::net::TcpListener::bind("[::1]:0") {
        Ok(_) => true,
        Err(e) => {
            eprintln!("skipping: IPv6 loopback unavailable: {e}");
            false
        }
    }
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tornado-netutil-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn bind_port_zero_gets_a_port() {
    let sockets = bind_sockets(
        0,
        Some("127.0.0.1"),
        AddressFamily::Unspec,
        DEFAULT_BACKLOG,
        false,
    )
    .unwrap();
    assert_eq!(sockets.len(), 1);
    let addr = sockets[0].local_addr().unwrap();
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    assert_ne!(addr.port(), 0);
    // It is listening: a blocking connect completes through the backlog.
    TcpStream::connect(addr).unwrap();
}

#[test]
fn same_port_allocation_for_every_address() {
    let addrs: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(&("localhost", 0))
        .map(|it| it.collect())
        .unwrap_or_default();
    if addrs.is_empty() || !addrs.iter().all(|a| a.ip().is_loopback()) {
        eprintln!("skipping: localhost does not resolve to loopback only: {addrs:?}");
        return;
    }
    let sockets = bind_sockets(
        0,
        Some("localhost"),
        AddressFamily::Unspec,
        DEFAULT_BACKLOG,
        false,
    )
    .unwrap();
    let port = sockets[0].local_addr().unwrap().port();
    assert_ne!(port, 0);
    for s in &sockets {
        assert_eq!(s.local_addr().unwrap().port(), port);
        assert!(s.local_addr().unwrap().ip().is_loopback());
    }
    // IPv4 first, as Tornado sorts by family.
    assert!(sockets[0].local_addr().unwrap().is_ipv4() || sockets.len() == 1);
}

#[test]
fn reuse_port_lets_two_sockets_share_a_port() {
    let first = bind_sockets(
        0,
        Some("127.0.0.1"),
        AddressFamily::Inet,
        DEFAULT_BACKLOG,
        true,
    )
    .unwrap();
    let port = first[0].local_addr().unwrap().port();
    let second = bind_sockets(
        port,
        Some("127.0.0.1"),
        AddressFamily::Inet,
        DEFAULT_BACKLOG,
        true,
    )
    .unwrap();
    assert_eq!(second[0].local_addr().unwrap().port(), port);
    // Without SO_REUSEPORT the port is taken.
    let err = bind_sockets(
        port,
        Some("127.0.0.1"),
        AddressFamily::Inet,
        DEFAULT_BACKLOG,
        false,
    )
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");
    assert!(err.to_string().contains("127.0.0.1"), "{err}");
}

#[test]
fn reuse_address_is_set() {
    let sockets = bind_sockets(
        0,
        Some("127.0.0.1"),
        AddressFamily::Unspec,
        DEFAULT_BACKLOG,
        false,
    )
    .unwrap();
    assert!(socket2::SockRef::from(&sockets[0]).reuse_address().unwrap());
}

#[test]
fn family_filter_and_mismatch() {
    let err = bind_sockets(
        0,
        Some("127.0.0.1"),
        AddressFamily::Inet6,
        DEFAULT_BACKLOG,
        false,
    )
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrNotAvailable);
}

#[test]
fn ipv6_sockets_are_v6_only() {
    if !ipv6_available() {
        return;
    }
    let sockets = bind_sockets(
        0,
        Some("::1"),
        AddressFamily::Unspec,
        DEFAULT_BACKLOG,
        false,
    )
    .unwrap();
    assert_eq!(sockets.len(), 1);
    assert!(sockets[0].local_addr().unwrap().is_ipv6());
    assert!(socket2::SockRef::from(&sockets[0]).only_v6().unwrap());
}

#[test]
fn unix_socket_mode_and_stale_file() {
    let dir = temp_dir("unix");
    let path = dir.join("sock");
    let listener = bind_unix_socket(&path, 0o600, DEFAULT_BACKLOG).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    std::os::unix::net::UnixStream::connect(&path).unwrap();
    drop(listener);
    // The stale socket file is replaced, with another mode this time.
    let _again = bind_unix_socket(&path, 0o640, DEFAULT_BACKLOG).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    std::os::unix::net::UnixStream::connect(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unix_socket_refuses_to_remove_a_regular_file() {
    let dir = temp_dir("regular");
    let path = dir.join("data");
    std::fs::write(&path, b"precious").unwrap();
    let err = bind_unix_socket(&path, 0o600, DEFAULT_BACKLOG).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    assert!(err.to_string().contains("not a socket"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn accept_handler_accepts_and_remove_stops() {
    run(async {
        let listener = mio::net::TcpListener::from_std(
            bind_sockets(
                0,
                Some("127.0.0.1"),
                AddressFamily::Inet,
                DEFAULT_BACKLOG,
                false,
            )
            .unwrap()
            .remove(0),
        );
        let addr = listener.local_addr().unwrap();
        let peers: Rc<RefCell<Vec<SocketAddr>>> = Rc::default();
        let p = peers.clone();
        let handle = add_accept_handler(listener, move |stream, peer| {
            assert_eq!(stream.peer_addr().unwrap(), peer);
            p.borrow_mut().push(peer);
        })
        .unwrap();
        let a = TcpStream::connect(addr).unwrap();
        let b = TcpStream::connect(addr).unwrap();
        wait_until(|| peers.borrow().len() == 2).await;
        let mut got = peers.borrow().clone();
        got.sort();
        let mut want = vec![a.local_addr().unwrap(), b.local_addr().unwrap()];
        want.sort();
        assert_eq!(got, want);

        let listener = handle.remove().expect("listener given back");
        assert!(handle.is_removed());
        assert!(handle.remove().is_none());
        // Still bound (we hold it) but nobody accepts any more.
        let _c = TcpStream::connect(addr).unwrap();
        sleep(Duration::from_millis(50)).await;
        assert_eq!(peers.borrow().len(), 2);
        drop(listener);
        let err = TcpStream::connect(addr).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    });
}

#[test]
fn accept_handler_remove_from_inside_the_callback() {
    run(async {
        let listener = mio::net::TcpListener::from_std(
            bind_sockets(
                0,
                Some("127.0.0.1"),
                AddressFamily::Inet,
                DEFAULT_BACKLOG,
                false,
            )
            .unwrap()
            .remove(0),
        );
        let addr = listener.local_addr().unwrap();
        let count = Rc::new(Cell::new(0));
        let slot: Rc<RefCell<Option<tornado_iostream::netutil::AcceptHandle<_>>>> = Rc::default();
        let (c, s) = (count.clone(), slot.clone());
        // Both connections wait in the backlog before the handler is added.
        let _a = TcpStream::connect(addr).unwrap();
        let _b = TcpStream::connect(addr).unwrap();
        let handle = add_accept_handler(listener, move |_stream, _peer| {
            c.set(c.get() + 1);
            if let Some(h) = s.borrow().as_ref() {
                drop(h.remove());
            }
        })
        .unwrap();
        *slot.borrow_mut() = Some(handle);
        wait_until(|| count.get() >= 1).await;
        sleep(Duration::from_millis(50)).await;
        assert_eq!(
            count.get(),
            1,
            "removed inside the callback: the second waits"
        );
        assert!(slot.borrow().as_ref().unwrap().is_removed());
    });
}

#[test]
fn accept_handler_takes_more_than_one_batch() {
    // More than ACCEPT_BATCH connections waiting at once: with edge-triggered events the
    // handler must carry on by itself after the first batch.
    const N: usize = 300;
    run(async {
        let listener = mio::net::TcpListener::from_std(
            bind_sockets(0, Some("127.0.0.1"), AddressFamily::Inet, 1024, false)
                .unwrap()
                .remove(0),
        );
        let addr = listener.local_addr().unwrap();
        let clients: Vec<TcpStream> = (0..N).map(|_| TcpStream::connect(addr).unwrap()).collect();
        let count = Rc::new(Cell::new(0usize));
        let c = count.clone();
        // What the count was when a callback queued during the first batch ran: the
        // handler yields to the loop after ACCEPT_BATCH connections.
        let seen_between = Rc::new(Cell::new(None));
        let seen = seen_between.clone();
        let _handle = add_accept_handler(listener, move |_s, _p| {
            c.set(c.get() + 1);
            if c.get() == 1 {
                let (c, seen) = (c.clone(), seen.clone());
                IoLoop::current().add_callback(move || seen.set(Some(c.get())));
            }
        })
        .unwrap();
        wait_until(|| count.get() == N).await;
        assert_eq!(seen_between.get(), Some(ACCEPT_BATCH));
        drop(clients);
    });
}

#[test]
fn accept_handler_over_a_unix_listener() {
    let dir = temp_dir("accept-unix");
    let path = dir.join("sock");
    let p = path.clone();
    run(async move {
        let listener =
            mio::net::UnixListener::from_std(bind_unix_socket(&p, 0o600, DEFAULT_BACKLOG).unwrap());
        let got: Rc<RefCell<Vec<u8>>> = Rc::default();
        let g = got.clone();
        let _handle = add_accept_handler(listener, move |stream, _addr| {
            let mut std_stream: std::os::unix::net::UnixStream =
                std::os::unix::net::UnixStream::from(std::os::fd::OwnedFd::from(stream));
            std_stream.set_nonblocking(false).unwrap();
            let mut buf = [0u8; 5];
            std_stream.read_exact(&mut buf).unwrap();
            g.borrow_mut().extend_from_slice(&buf);
        })
        .unwrap();
        let mut client = std::os::unix::net::UnixStream::connect(&p).unwrap();
        std::io::Write::write_all(&mut client, b"hello").unwrap();
        wait_until(|| got.borrow().len() == 5).await;
        assert_eq!(&*got.borrow(), b"hello");
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn default_resolver_literals_and_localhost() {
    run(async {
        let r = DefaultResolver;
        let v4 = r
            .resolve("127.0.0.1", 80, AddressFamily::Unspec)
            .await
            .unwrap();
        assert_eq!(v4, vec!["127.0.0.1:80".parse::<SocketAddr>().unwrap()]);
        let v6 = r.resolve("::1", 443, AddressFamily::Unspec).await.unwrap();
        assert_eq!(v6, vec!["[::1]:443".parse::<SocketAddr>().unwrap()]);
        let err = r
            .resolve("127.0.0.1", 80, AddressFamily::Inet6)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);

        // "localhost" goes through getaddrinfo on the executor.
        let loop_thread = std::thread::current().id();
        let local = r
            .resolve("localhost", 8080, AddressFamily::Inet)
            .await
            .unwrap();
        assert_eq!(std::thread::current().id(), loop_thread);
        assert!(!local.is_empty());
        for a in local {
            assert!(
                a.is_ipv4() && a.ip().is_loopback() && a.port() == 8080,
                "{a}"
            );
        }
    });
}

#[test]
fn override_resolver_maps_and_falls_back() {
    run(async {
        let r = OverrideResolver::new(DefaultResolver).with(
            "Example.Test",
            80,
            vec![
                "127.0.0.1:8080".parse().unwrap(),
                "[::1]:8081".parse().unwrap(),
            ],
        );
        let all = r
            .resolve("example.test", 80, AddressFamily::Unspec)
            .await
            .unwrap();
        assert_eq!(
            all,
            vec![
                "127.0.0.1:8080".parse::<SocketAddr>().unwrap(),
                "[::1]:8081".parse().unwrap()
            ]
        );
        let v6 = r
            .resolve("EXAMPLE.test", 80, AddressFamily::Inet6)
            .await
            .unwrap();
        assert_eq!(v6, vec!["[::1]:8081".parse::<SocketAddr>().unwrap()]);
        // Another port is not in the table: the fallback answers (a literal here).
        let other = r
            .resolve("127.0.0.2", 81, AddressFamily::Unspec)
            .await
            .unwrap();
        assert_eq!(other, vec!["127.0.0.2:81".parse::<SocketAddr>().unwrap()]);
        let v4 = r
            .resolve("example.test", 80, AddressFamily::Inet)
            .await
            .unwrap();
        assert_eq!(v4, vec!["127.0.0.1:8080".parse::<SocketAddr>().unwrap()]);
        let only_v6 = OverrideResolver::new(DefaultResolver).with(
            "v6.test",
            80,
            vec!["[::1]:80".parse().unwrap()],
        );
        let err = only_v6
            .resolve("v6.test", 80, AddressFamily::Inet)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    });
}

#[cfg(target_os = "linux")]
#[test]
fn unix_socket_in_the_abstract_namespace() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("tornado-netutil-abstract-{}", std::process::id());
    let path = format!("\0{name}");
    let _listener = bind_unix_socket(&path, 0o600, DEFAULT_BACKLOG).unwrap();
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    std::os::unix::net::UnixStream::connect_addr(&addr).unwrap();
}
