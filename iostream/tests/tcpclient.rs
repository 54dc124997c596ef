//! TcpClient over real loopback sockets (Tornado's tcpclient_test): families, refusal,
//! timeouts in each phase, happy eyeballs with resolver overrides, source addresses.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use tornado_ioloop::{IoLoop, sleep};
use tornado_iostream::IoStream;
use tornado_iostream::netutil::{
    AddressFamily, DefaultResolver, OverrideResolver, ResolveFuture, Resolver,
};
use tornado_iostream::tcpclient::{
    ConnectError, ConnectOptions, ConnectPhase, SECONDARY_FAMILY_DELAY, TcpClient,
};
use tornado_iostream::tcpserver::TcpServer;

const TIMEOUT: Duration = Duration::from_secs(10);

fn run<F: Future + 'static>(f: F) -> F::Output {
    IoLoop::new()
        .unwrap()
        .run_sync_timeout(f, TIMEOUT)
        .expect("test timed out")
}

fn ipv6_available() -> bool {
    match TcpListener::bind("[::1]:0") {
        Ok(_) => true,
        Err(e) => {
            eprintln!("skipping the IPv6 part: IPv6 loopback unavailable: {e}");
            false
        }
    }
}

/// A server that answers each connection with the address it was accepted on.
fn whoami_server(
    address: &str,
) -> (
    TcpServer<impl tornado_iostream::tcpserver::StreamHandler>,
    u16,
) {
    let server = TcpServer::new(|stream: IoStream, _peer: SocketAddr| async move {
        let me = stream
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let _ = stream.write(format!("{me}\n").as_bytes()).await;
    });
    server.listen(0, Some(address)).unwrap();
    let port = server.local_addrs()[0].port();
    (server, port)
}

async fn served_by(stream: &IoStream) -> SocketAddr {
    let line = stream.read_until(b"\n", None).await.unwrap();
    std::str::from_utf8(&line).unwrap().trim().parse().unwrap()
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A listener whose accept queue is full and never drained: a new connection to it
/// neither succeeds nor fails (the kernel drops its SYN), so it hangs like an
/// unreachable host, without leaving the machine.
struct Blackhole {
    _listener: socket2::Socket,
    _fillers: Vec<std::net::TcpStream>,
    addr: SocketAddr,
}

fn blackhole(ip: &str) -> Option<Blackhole> {
    let addr: SocketAddr = SocketAddr::new(ip.parse().unwrap(), 0);
    let listener = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )
    .ok()?;
    listener.bind(&addr.into()).ok()?;
    listener.listen(0).ok()?;
    let addr = listener.local_addr().ok()?.as_socket()?;
    let mut fillers = Vec::new();
    for _ in 0..16 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => fillers.push(s),
            Err(e)
                if e.kind() == io::ErrorKind::TimedOut || e.kind() == io::ErrorKind::WouldBlock =>
            {
                return Some(Blackhole {
                    _listener: listener,
                    _fillers: fillers,
                    addr,
                });
            }
            Err(e) => {
                eprintln!("cannot make a black hole on {ip}: {e}");
                return None;
            }
        }
    }
    eprintln!("the accept queue on {ip} never filled up; skipping");
    None
}

/// A resolver that never answers.
struct Silent;

impl Resolver for Silent {
    fn resolve(&self, _host: &str, _port: u16, _family: AddressFamily) -> ResolveFuture {
        Box::pin(std::future::pending())
    }
}

/// A resolver that always fails.
struct Broken;

impl Resolver for Broken {
    fn resolve(&self, host: &str, _port: u16, _family: AddressFamily) -> ResolveFuture {
        let e = io::Error::new(io::ErrorKind::NotFound, format!("no such host {host}"));
        Box::pin(std::future::ready(Err(e)))
    }
}

#[test]
fn connect_ipv4() {
    run(async {
        let (server, port) = whoami_server("127.0.0.1");
        let stream = TcpClient::new().connect("127.0.0.1", port).await.unwrap();
        assert_eq!(
            served_by(&stream).await,
            format!("127.0.0.1:{port}").parse().unwrap()
        );
        server.stop();
    });
}

#[test]
fn connect_ipv6() {
    if !ipv6_available() {
        return;
    }
    run(async {
        let (server, port) = whoami_server("::1");
        let stream = TcpClient::new().connect("::1", port).await.unwrap();
        assert_eq!(
            served_by(&stream).await,
            format!("[::1]:{port}").parse().unwrap()
        );
        server.stop();
    });
}

#[test]
fn connect_through_an_override_with_family_filter() {
    if !ipv6_available() {
        return;
    }
    run(async {
        let (s4, p4) = whoami_server("127.0.0.1");
        let (s6, p6) = whoami_server("::1");
        let v4: SocketAddr = format!("127.0.0.1:{p4}").parse().unwrap();
        let v6: SocketAddr = format!("[::1]:{p6}").parse().unwrap();
        let client = TcpClient::with_resolver(OverrideResolver::new(DefaultResolver).with(
            "dual.test",
            80,
            vec![v4, v6],
        ));
        let any = client.connect("dual.test", 80).await.unwrap();
        assert_eq!(
            served_by(&any).await,
            v4,
            "the first address wins when it works"
        );
        let opts = ConnectOptions::new().family(AddressFamily::Inet6);
        let only6 = client.connect_with("dual.test", 80, &opts).await.unwrap();
        assert_eq!(served_by(&only6).await, v6);
        s4.stop();
        s6.stop();
    });
}

#[test]
fn refused_names_the_phase_and_address() {
    run(async {
        let port = closed_port();
        let err = TcpClient::new()
            .connect("127.0.0.1", port)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        let info = ConnectError::of(&err).expect("a ConnectError inside");
        assert_eq!(info.phase(), ConnectPhase::Connect);
        assert_eq!(
            info.address(),
            Some(format!("127.0.0.1:{port}").parse().unwrap())
        );
        assert!(!info.is_timeout());
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "connect to 127.0.0.1:{port} failed: Connection refused"
            )),
            "{msg}"
        );
    });
}

#[test]
fn every_address_refused_reports_the_last_one() {
    run(async {
        let (a, b) = (closed_port(), closed_port());
        let addrs = vec![
            format!("127.0.0.1:{a}").parse().unwrap(),
            format!("127.0.0.1:{b}").parse().unwrap(),
        ];
        let client = TcpClient::with_resolver(
            OverrideResolver::new(DefaultResolver).with("two.test", 1, addrs),
        );
        let err = client.connect("two.test", 1).await.unwrap_err();
        let info = ConnectError::of(&err).unwrap();
        assert_eq!(info.phase(), ConnectPhase::Connect);
        assert_eq!(
            info.address(),
            Some(format!("127.0.0.1:{b}").parse().unwrap())
        );
        assert_eq!(info.host(), "two.test");
    });
}

#[test]
fn resolve_failure_is_the_resolve_phase() {
    run(async {
        let err = TcpClient::with_resolver(Broken)
            .connect("nowhere.test", 80)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let info = ConnectError::of(&err).unwrap();
        assert_eq!(info.phase(), ConnectPhase::Resolve);
        assert_eq!(info.address(), None);
        assert!(
            err.to_string().starts_with("resolve nowhere.test failed"),
            "{err}"
        );
    });
}

#[test]
fn timeout_while_resolving() {
    run(async {
        let opts = ConnectOptions::new().timeout(Duration::from_millis(100));
        let started = Instant::now();
        let err = TcpClient::with_resolver(Silent)
            .connect_with("slow.test", 80, &opts)
            .await
            .unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        let info = ConnectError::of(&err).unwrap();
        assert_eq!(info.phase(), ConnectPhase::Resolve);
        assert!(info.is_timeout());
        assert_eq!(err.to_string(), "timeout while resolving slow.test");
    });
}

#[test]
fn timeout_during_tcp_connect() {
    let Some(hole) = blackhole("127.0.0.1") else {
        return;
    };
    let addr = hole.addr;
    run(async move {
        let opts = ConnectOptions::new().timeout(Duration::from_millis(200));
        let started = Instant::now();
        let err = TcpClient::new()
            .connect_with("127.0.0.1", addr.port(), &opts)
            .await
            .unwrap_err();
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(200) && waited < Duration::from_secs(5),
            "{waited:?}"
        );
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        let info = ConnectError::of(&err).unwrap();
        assert_eq!(info.phase(), ConnectPhase::Connect);
        assert_eq!(info.addresses(), &[addr]);
        assert_eq!(
            err.to_string(),
            format!("timeout while connecting to {addr}")
        );
    });
    drop(hole);
}

#[test]
fn happy_eyeballs_secondary_family_after_the_delay() {
    // The primary (IPv4) address hangs; the IPv6 one answers and wins once the secondary
    // family starts, SECONDARY_FAMILY_DELAY later.
    if !ipv6_available() {
        return;
    }
    let Some(hole) = blackhole("127.0.0.1") else {
        return;
    };
    let hole_addr = hole.addr;
    run(async move {
        let (server, p6) = whoami_server("::1");
        let v6: SocketAddr = format!("[::1]:{p6}").parse().unwrap();
        let client = TcpClient::with_resolver(OverrideResolver::new(DefaultResolver).with(
            "eyeballs.test",
            80,
            vec![hole_addr, v6],
        ));
        let started = Instant::now();
        let stream = client.connect("eyeballs.test", 80).await.unwrap();
        let waited = started.elapsed();
        assert_eq!(served_by(&stream).await, v6);
        assert!(waited >= SECONDARY_FAMILY_DELAY, "{waited:?}");
        assert!(waited < SECONDARY_FAMILY_DELAY * 5, "{waited:?}");
        server.stop();
    });
    drop(hole);
}

#[test]
fn happy_eyeballs_primary_refused_starts_secondary_at_once() {
    if !ipv6_available() {
        return;
    }
    run(async {
        let (server, p4) = whoami_server("127.0.0.1");
        let v4: SocketAddr = format!("127.0.0.1:{p4}").parse().unwrap();
        let dead6: SocketAddr = {
            let l = TcpListener::bind("[::1]:0").unwrap();
            l.local_addr().unwrap()
        };
        let client = TcpClient::with_resolver(OverrideResolver::new(DefaultResolver).with(
            "eyeballs.test",
            80,
            vec![dead6, v4],
        ));
        let started = Instant::now();
        let stream = client.connect("eyeballs.test", 80).await.unwrap();
        assert_eq!(served_by(&stream).await, v4);
        assert!(
            started.elapsed() < SECONDARY_FAMILY_DELAY,
            "{:?}",
            started.elapsed()
        );
        server.stop();
    });
}

#[test]
fn source_ip_and_mixed_families() {
    // The resolver offers IPv6 first, but the source address is IPv4: the IPv6 attempt
    // fails at once and the IPv4 one connects (Tornado's test_source_ip_mixed_families).
    run(async {
        let (server, port) = whoami_server("127.0.0.1");
        let v4: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let client = TcpClient::with_resolver(OverrideResolver::new(DefaultResolver).with(
            "mixed.test",
            80,
            vec![format!("[::1]:{port}").parse().unwrap(), v4],
        ));
        let opts = ConnectOptions::new().source_ip("127.0.0.1".parse::<IpAddr>().unwrap());
        let stream = client.connect_with("mixed.test", 80, &opts).await.unwrap();
        assert_eq!(stream.peer_addr().unwrap(), v4);
        assert_eq!(served_by(&stream).await, v4);
        assert_eq!(stream.local_addr().unwrap().ip().to_string(), "127.0.0.1");
        server.stop();
    });
}

#[test]
fn source_port_is_used() {
    run(async {
        let (server, port) = whoami_server("127.0.0.1");
        let source_port = closed_port();
        let opts = ConnectOptions::new()
            .source_ip("127.0.0.1".parse().unwrap())
            .source_port(source_port);
        let stream = TcpClient::new()
            .connect_with("127.0.0.1", port, &opts)
            .await
            .unwrap();
        assert_eq!(stream.local_addr().unwrap().port(), source_port);
        served_by(&stream).await;
        server.stop();
    });
}

#[test]
fn source_port_in_use_fails_in_the_connect_phase() {
    run(async {
        let (server, port) = whoami_server("127.0.0.1");
        // The server's own listening port cannot be a client's source port.
        let opts = ConnectOptions::new()
            .source_ip("127.0.0.1".parse().unwrap())
            .source_port(port);
        let err = TcpClient::new()
            .connect_with("127.0.0.1", port, &opts)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        let info = ConnectError::of(&err).unwrap();
        assert_eq!(info.phase(), ConnectPhase::Connect);
        assert!(err.to_string().contains("bind to source address"), "{err}");
        server.stop();
    });
}

#[test]
fn aborting_a_pending_connect_is_clean() {
    let Some(hole) = blackhole("127.0.0.1") else {
        return;
    };
    let addr = hole.addr;
    run(async move {
        let io_loop = IoLoop::current();
        let before = io_loop.task_count();
        let client = TcpClient::new();
        let attempt = tornado_ioloop::spawn(async move {
            client.connect("127.0.0.1", addr.port()).await.map(|_| ())
        });
        sleep(Duration::from_millis(50)).await;
        assert!(!attempt.is_finished());
        attempt.abort();
        sleep(Duration::from_millis(10)).await;
        assert_eq!(io_loop.task_count(), before);
    });
    drop(hole);
}

#[test]
fn a_timeout_of_duration_max_means_never_and_never_panics() {
    run(async {
        let (server, port) = whoami_server("127.0.0.1");
        let opts = ConnectOptions::new().timeout(Duration::MAX);
        let stream = TcpClient::new()
            .connect_with("127.0.0.1", port, &opts)
            .await
            .unwrap();
        assert_eq!(served_by(&stream).await.port(), port);
        let socket = TcpClient::new()
            .connect_socket("127.0.0.1", port, &opts)
            .await
            .unwrap();
        assert_eq!(socket.peer_addr().unwrap().port(), port);
        // A server with no worker threads has none to wait for, however long it may.
        assert!(server.join_threads(Duration::MAX));
        server.stop();
    });
}
