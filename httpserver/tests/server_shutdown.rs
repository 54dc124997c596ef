//! Graceful shutdown, `close_all_connections`, and `start(n)` over several threads.

mod common;

use std::cell::Cell;
use std::collections::HashSet;
use std::net::TcpStream;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Client, get, in_thread, run, unwrap_thread};
use tornado_httpserver::httputil::HttpServerRequest;
use tornado_httpserver::{
    HttpMessageDelegate, HttpServer, HttpServerConnectionDelegate, HttpServerSettings, Response,
    ResponseWriter, UpgradedConnection,
};

thread_local! {
    /// Requests that reached a slow handler on this thread.
    static SLOW_STARTED: Cell<usize> = const { Cell::new(0) };
}

/// `/slow` answers after `SLOW`, `/forever` after a minute, the rest at once.
async fn slow_handler(req: HttpServerRequest) -> Response {
    match req.path() {
        "/slow" => {
            SLOW_STARTED.with(|s| s.set(s.get() + 1));
            tornado_gen::sleep(SLOW).await;
            Response::text("slow done")
        }
        "/forever" => {
            SLOW_STARTED.with(|s| s.set(s.get() + 1));
            tornado_gen::sleep(Duration::from_secs(60)).await;
            Response::text("never")
        }
        _ => Response::text("quick"),
    }
}

const SLOW: Duration = Duration::from_millis(500);

async fn wait_until(mut cond: impl FnMut() -> bool) {
    while !cond() {
        tornado_gen::sleep(Duration::from_millis(5)).await;
    }
}

/// Connects a client that has had one answered request (idle keep-alive).
fn idle_client(addr: std::net::SocketAddr) -> Client {
    let mut c = Client::connect(addr);
    c.send(&get("/"));
    assert_eq!(c.read_response().body, b"quick");
    c
}

#[test]
fn graceful_shutdown_closes_idle_and_finishes_in_flight_with_connection_close() {
    let ready = Arc::new(AtomicUsize::new(0));
    let r = ready.clone();
    let result = run(async move {
        let server = HttpServer::new(slow_handler);
        server.listen(0, Some("127.0.0.1")).unwrap();
        let addr = server.local_addrs()[0];
        let client = in_thread(move || {
            let mut idle = idle_client(addr);
            let mut busy = Client::connect(addr);
            busy.send(&get("/slow"));
            r.store(1, Ordering::SeqCst);
            // Closed as soon as the shutdown starts, long before the slow answer.
            idle.expect_closed();
            let response = busy.read_response();
            busy.expect_closed();
            // No longer accepting.
            let refused = TcpStream::connect(addr).is_err();
            (response, refused)
        });
        let handle = tornado_ioloop::IoLoop::current().spawn(client);
        wait_until(|| ready.load(Ordering::SeqCst) == 1 && SLOW_STARTED.with(|s| s.get()) == 1)
            .await;
        assert_eq!(server.connection_count(), 2);
        let started = Instant::now();
        server.shutdown(Duration::from_secs(10)).await;
        assert_eq!(server.connection_count(), 0);
        let waited = started.elapsed();
        (handle.await.expect("client task"), waited)
    });
    let (client, waited) = result;
    let (response, refused) = unwrap_thread(client);
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"slow done");
    assert_eq!(response.header("Connection"), Some("close"));
    assert!(refused, "the listening socket is closed");
    assert!(
        waited < Duration::from_secs(10),
        "shutdown returned once the last connection was done, not at the deadline"
    );
}

#[test]
fn shutdown_force_closes_what_is_still_busy_after_the_grace_period() {
    let result = run(async move {
        let server = HttpServer::new(slow_handler);
        server.listen(0, Some("127.0.0.1")).unwrap();
        let addr = server.local_addrs()[0];
        let handle = tornado_ioloop::IoLoop::current().spawn(in_thread(move || {
            let mut busy = Client::connect(addr);
            busy.send(&get("/forever"));
            // A head that never ends is in flight too.
            let mut partial = Client::connect(addr);
            partial.send(b"GET / HTTP/1.1\r\nHost:");
            (busy.read_to_close(), partial.read_to_close())
        }));
        wait_until(|| SLOW_STARTED.with(|s| s.get()) == 1 && server.connection_count() == 2).await;
        server.shutdown(Duration::from_millis(300)).await;
        assert_eq!(server.connection_count(), 0);
        handle.await.expect("client task")
    });
    let (busy, partial) = unwrap_thread(result);
    assert!(busy.is_empty(), "force-closed without an answer: {busy:?}");
    assert!(partial.is_empty(), "{partial:?}");
}

#[test]
fn close_all_connections_closes_idle_and_busy_ones() {
    let result = run(async move {
        let server = HttpServer::new(slow_handler);
        server.listen(0, Some("127.0.0.1")).unwrap();
        let addr = server.local_addrs()[0];
        let handle = tornado_ioloop::IoLoop::current().spawn(in_thread(move || {
            let mut idle = idle_client(addr);
            let mut busy = Client::connect(addr);
            busy.send(&get("/forever"));
            (idle.read_to_close(), busy.read_to_close())
        }));
        wait_until(|| SLOW_STARTED.with(|s| s.get()) == 1 && server.connection_count() == 2).await;
        server.stop();
        server.close_all_connections().await;
        assert_eq!(server.connection_count(), 0);
        handle.await.expect("client task")
    });
    let (idle, busy) = unwrap_thread(result);
    assert!(idle.is_empty());
    assert!(busy.is_empty());
}

#[test]
fn start_two_threads_with_from_factory_serves_from_both() {
    const CONNECTIONS: usize = 32;
    let made = Arc::new(AtomicUsize::new(0));
    let m = made.clone();
    let result = run(async move {
        let server = HttpServer::from_factory(
            move || {
                m.fetch_add(1, Ordering::SeqCst);
                |_req: HttpServerRequest| async {
                    let name = std::thread::current().name().unwrap_or("?").to_string();
                    Response::text(name)
                }
            },
            HttpServerSettings::default(),
        );
        server.bind(0, Some("127.0.0.1")).unwrap();
        let addr = server.local_addrs()[0];
        server.start(2).unwrap();
        let result = in_thread(move || {
            let mut names = HashSet::new();
            let mut clients = Vec::new();
            for _ in 0..CONNECTIONS {
                let mut c = Client::connect(addr);
                c.send(&get("/"));
                let r = c.read_response();
                assert_eq!(r.status, 200);
                names.insert(r.text());
                clients.push(c);
            }
            (names, clients)
        })
        .await;
        let (names, mut clients) = unwrap_thread(result);
        // Idle keep-alive connections on both threads: a graceful shutdown reaches
        // the worker thread's too.
        server.shutdown(Duration::from_secs(5)).await;
        let closed = in_thread(move || {
            for c in &mut clients {
                c.expect_closed();
            }
        })
        .await;
        unwrap_thread(closed);
        assert!(server.join_threads(Duration::from_secs(5)), "worker ended");
        names
    });
    // SO_REUSEPORT spreads connections by a hash of their addresses: with 32 of them,
    // both threads are all but certain to get some.
    assert_eq!(result.len(), 2, "{result:?}");
    assert_eq!(made.load(Ordering::SeqCst), 2, "one delegate per thread");
}

/// Upgrades any request to a line-echo protocol that runs on a task of its own and
/// stays counted by the server (`track_upgraded`); on shutdown a polite one says
/// `bye` and closes, a stubborn one ignores it.
struct Upgrader {
    polite: bool,
}

struct UpgradeReq {
    polite: bool,
}

/// The upgraded protocol's side the server sees.
struct EchoConn {
    stream: tornado_iostream::IoStream,
    polite: bool,
    shutdowns: Cell<u32>,
}

impl UpgradedConnection for EchoConn {
    fn shutdown(self: Rc<Self>) {
        self.shutdowns.set(self.shutdowns.get() + 1);
        if self.polite {
            let stream = self.stream.clone();
            tornado_ioloop::spawn_callback(async move {
                let _ = stream.write(b"bye\n").await;
                stream.close();
            });
        }
    }
    fn close(self: Rc<Self>) {
        self.stream.close();
    }
}

impl HttpServerConnectionDelegate for Upgrader {
    type Message = UpgradeReq;

    fn start_request(self: Rc<Self>, _request: &HttpServerRequest) -> UpgradeReq {
        UpgradeReq {
            polite: self.polite,
        }
    }
}

thread_local! {
    /// The shutdowns the last upgraded connection on this thread was asked for.
    static SHUTDOWNS: Cell<u32> = const { Cell::new(0) };
}

impl HttpMessageDelegate for UpgradeReq {
    async fn finish(self, _request: HttpServerRequest, writer: ResponseWriter) {
        let mut headers = tornado_httpserver::httputil::HttpHeaders::new();
        headers.set("Upgrade", "echo");
        headers.set("Connection", "Upgrade");
        writer
            .write_headers(http::StatusCode::SWITCHING_PROTOCOLS, &headers)
            .unwrap();
        let stream = writer.detach().expect("detach");
        let conn = Rc::new(EchoConn {
            stream: stream.clone(),
            polite: self.polite,
            shutdowns: Cell::new(0),
        });
        let weak: Weak<dyn UpgradedConnection> = Rc::downgrade(&conn) as _;
        let guard = writer.track_upgraded(weak);
        // The protocol runs on its own task, as a WebSocket does: the HTTP
        // connection's part ends here.
        tornado_ioloop::spawn_callback(async move {
            let _guard = guard;
            while let Ok(line) = stream.read_until(b"\n", Some(1024)).await {
                if stream.write(&line).await.is_err() {
                    break;
                }
            }
            SHUTDOWNS.with(|s| s.set(conn.shutdowns.get()));
        });
    }
}

/// Upgrades a connection, checks the echo, then shuts the server down with `grace`;
/// returns what the client read after the echo, how long the shutdown took and how
/// many shutdowns the connection was asked for.
fn shut_down_upgraded(polite: bool, grace: Duration) -> (Vec<u8>, Duration, u32) {
    let result = run(async move {
        let server = HttpServer::new(Upgrader { polite });
        server.listen(0, Some("127.0.0.1")).unwrap();
        let addr = server.local_addrs()[0];
        let ready = Arc::new(AtomicUsize::new(0));
        let r = ready.clone();
        let handle = tornado_ioloop::IoLoop::current().spawn(in_thread(move || {
            let mut c = Client::connect(addr);
            c.send(
                b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nhi\n",
            );
            assert_eq!(c.read_head().status, 101);
            assert_eq!(c.read_until(b"\n"), b"hi\n");
            r.store(1, Ordering::SeqCst);
            c.read_to_close()
        }));
        wait_until(|| ready.load(Ordering::SeqCst) == 1).await;
        // The HTTP connection's task is over; the upgraded one is still counted.
        wait_until(|| server.connection_count() == 1).await;
        let started = Instant::now();
        server.shutdown(grace).await;
        let waited = started.elapsed();
        assert_eq!(server.connection_count(), 0);
        // Let the protocol's task see its stream closed.
        wait_until(|| SHUTDOWNS.with(Cell::get) > 0).await;
        (handle.await.expect("client task"), waited)
    });
    let (rest, waited) = result;
    (unwrap_thread(rest), waited, SHUTDOWNS.with(Cell::get))
}

#[test]
fn shutdown_asks_an_upgraded_connection_to_end_and_waits_for_it() {
    let (rest, waited, shutdowns) = shut_down_upgraded(true, Duration::from_secs(30));
    assert_eq!(rest, b"bye\n");
    assert_eq!(shutdowns, 1);
    assert!(
        waited < Duration::from_secs(30),
        "the shutdown ended with the connection, not at the deadline ({waited:?})"
    );
}

#[test]
fn shutdown_closes_an_upgraded_connection_that_does_not_end_by_the_deadline() {
    let (rest, _, shutdowns) = shut_down_upgraded(false, Duration::from_millis(200));
    assert!(rest.is_empty(), "{rest:?}");
    assert_eq!(shutdowns, 1);
}
