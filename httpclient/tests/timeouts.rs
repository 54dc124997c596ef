//! Timeouts in each phase, and the `max_clients` queue: a resolver that
//! never answers (connect timeout), a server that never answers (request
//! timeout), a fetch that waits too long for a slot ("Timeout in request
//! queue"), zero meaning no timeout, and at most `max_clients` requests at
//! the server at once, served in order; a fetch dropped while it runs or
//! while it waits gives back its slot (Tornado's `test_connect_timeout`,
//! `test_request_timeout`, `test_queue_timeout`, `test_zero_timeout`,
//! `test_connection_limit`, `test_max_clients`, `test_error_after_cancel`,
//! `ResolveTimeoutTestCase`).
//!
//! The timeouts under test are short; no assertion needs the machine to be
//! fast (only generous upper bounds on elapsed time).

mod support;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use support::{NeverResolver, RawServer, run, serve, wait_until};
use tornado_httpclient::{AsyncHttpClient, ClientConfig, ErrorKind, HttpRequest, Phase};
use tornado_httpserver::Response;
use tornado_httpserver::httputil::HttpServerRequest;

const SHORT: Duration = Duration::from_millis(200);
/// What "took about as long as the timeout" may mean on a loaded machine.
const GENEROUS: Duration = Duration::from_secs(15);

#[test]
fn connect_timeout_while_resolving() {
    run(async {
        let client = AsyncHttpClient::with_resolver(ClientConfig::default(), NeverResolver);
        let start = Instant::now();
        let err = client
            .fetch(HttpRequest::new("http://never.resolves.test:8080/").connect_timeout(SHORT))
            .await
            .unwrap_err();
        let elapsed = start.elapsed();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
        assert!(err.is_timeout());
        assert_eq!(err.code(), 599);
        assert_eq!(err.phase(), Some(Phase::Connect));
        assert_eq!(
            err.to_string(),
            "Timeout while connecting to never.resolves.test:8080"
        );
        assert!(elapsed >= SHORT, "{elapsed:?}");
        assert!(elapsed < GENEROUS, "{elapsed:?}");
        let io: std::io::Error = err.into();
        assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);

        // The request timeout bounds the connection too.
        let err = client
            .fetch(HttpRequest::new("http://never.resolves.test/").request_timeout(SHORT))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout);
        assert_eq!(err.phase(), Some(Phase::Connect));
        assert_eq!(client.load(), (0, 0));
    });
}

/// A server that reads a request and never answers; it records whether the
/// client then closed the connection.
fn silent_server(client_closed: Arc<AtomicBool>) -> RawServer {
    RawServer::start(move |mut conn, _| {
        conn.read_request()?;
        conn.read_until_close()?;
        client_closed.store(true, Ordering::SeqCst);
        Ok(())
    })
}

#[test]
fn request_timeout_when_the_server_never_answers() {
    let closed = Arc::new(AtomicBool::new(false));
    let server = silent_server(closed.clone());
    let url = server.url("/");
    let addr = server.addr();
    run(async move {
        let client = AsyncHttpClient::new();
        let start = Instant::now();
        let err = client
            .fetch(HttpRequest::new(url).request_timeout(SHORT))
            .await
            .unwrap_err();
        let elapsed = start.elapsed();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
        assert_eq!(err.code(), 599);
        assert_eq!(err.phase(), Some(Phase::Receive));
        assert_eq!(
            err.to_string(),
            format!("Timeout during request to {addr} (reading the response)")
        );
        assert!(elapsed >= SHORT, "{elapsed:?}");
        assert!(elapsed < GENEROUS, "{elapsed:?}");
        assert_eq!(client.idle_connections(), 0);
        // The connection was closed, not left open.
        assert!(wait_until(GENEROUS, || closed.load(Ordering::SeqCst)).await);
    });
}

#[test]
fn request_timeout_in_the_middle_of_the_body() {
    let server = RawServer::start(|mut conn, _| {
        conn.read_request()?;
        conn.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome of it")?;
        conn.read_until_close().map(drop)
    });
    let url = server.url("/");
    let err = run(async move {
        AsyncHttpClient::new()
            .fetch(HttpRequest::new(url).request_timeout(SHORT))
            .await
            .unwrap_err()
    });
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert_eq!(err.phase(), Some(Phase::Receive));
}

#[test]
fn request_timeout_while_sending() {
    let closed = Arc::new(AtomicBool::new(false));
    let server = silent_server(closed);
    let url = server.url("/");
    let err = run(async move {
        AsyncHttpClient::new()
            .fetch(
                HttpRequest::new(url)
                    .method("PUT")
                    .request_timeout(SHORT)
                    .body_producer(|writer| async move {
                        writer.write("a start").await?;
                        std::future::pending().await
                    }),
            )
            .await
            .unwrap_err()
    });
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert_eq!(err.phase(), Some(Phase::Send));
    assert!(err.to_string().contains("sending the request"), "{err}");
}

#[test]
fn zero_means_no_timeout() {
    // Tornado's test_zero_timeout.
    run(async {
        let (server, base) = support::serve_app();
        let client = AsyncHttpClient::new();
        let url = format!("{base}/hello");
        for request in [
            HttpRequest::new(url.as_str()).connect_timeout(Duration::ZERO),
            HttpRequest::new(url.as_str()).request_timeout(Duration::ZERO),
            HttpRequest::new(url.as_str())
                .connect_timeout(Duration::ZERO)
                .request_timeout(Duration::ZERO),
        ] {
            let response = client.fetch(request).await.unwrap();
            assert_eq!(response.code, 200);
        }
        // Also for a fetch that has to wait for its connection.
        client.close();
        let response = client
            .fetch(
                HttpRequest::new(url.as_str())
                    .connect_timeout(Duration::ZERO)
                    .request_timeout(Duration::ZERO),
            )
            .await
            .unwrap();
        assert_eq!(response.code, 200);
        server.stop();
    });
}

#[test]
fn timeout_in_request_queue() {
    // The first request holds the only slot until the test lets the server
    // answer; the second gives up waiting for it.
    let (release, released) = mpsc::channel::<()>();
    let released = Mutex::new(released);
    let server = RawServer::start(move |mut conn, _| {
        conn.read_request()?;
        let _ = released.lock().unwrap().recv_timeout(support::IO_TIMEOUT);
        conn.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow")
    });
    let url = server.url("/");
    let addr = server.addr();
    run(async move {
        let client = AsyncHttpClient::with_config(ClientConfig {
            max_clients: 1,
            ..ClientConfig::default()
        });
        let first = tornado_ioloop::spawn({
            let (client, url) = (client.clone(), url.clone());
            async move { client.fetch(url.as_str()).await }
        });
        assert!(wait_until(GENEROUS, || client.load() == (1, 0)).await);
        let second = tornado_ioloop::spawn({
            let (client, url) = (client.clone(), url.clone());
            async move {
                client
                    .fetch(HttpRequest::new(url).request_timeout(SHORT))
                    .await
            }
        });
        assert!(wait_until(GENEROUS, || client.load() == (1, 1)).await);
        let err = second.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
        assert_eq!(err.code(), 599);
        assert_eq!(err.phase(), Some(Phase::Queue));
        assert_eq!(
            err.to_string(),
            format!("Timeout in request queue (for {addr})")
        );
        assert_eq!(client.load(), (1, 0), "the timed-out fetch left the queue");

        release.send(()).unwrap();
        let response = first.await.unwrap().unwrap();
        assert_eq!(&response.body[..], b"slow");
        assert_eq!(client.load(), (0, 0));
    });
    assert_eq!(server.accepted(), 1, "the queued fetch never connected");
}

#[test]
fn max_clients_limits_requests_in_flight() {
    const MAX: usize = 2;
    const FETCHES: usize = 6;
    run(async {
        let active = Rc::new(Cell::new(0usize));
        let most = Rc::new(Cell::new(0usize));
        let (a, m) = (active.clone(), most.clone());
        let (server, base) = serve(move |_req: HttpServerRequest| {
            let (active, most) = (a.clone(), m.clone());
            async move {
                active.set(active.get() + 1);
                most.set(most.get().max(active.get()));
                // Hold the request until MAX are in, so more would show.
                wait_until(Duration::from_secs(5), || active.get() >= MAX).await;
                tornado_ioloop::sleep(Duration::from_millis(20)).await;
                active.set(active.get() - 1);
                Response::text("done")
            }
        });
        let client = AsyncHttpClient::with_config(ClientConfig {
            max_clients: MAX,
            ..ClientConfig::default()
        });
        let handles: Vec<_> = (0..FETCHES)
            .map(|_| {
                let (client, url) = (client.clone(), format!("{base}/"));
                tornado_ioloop::spawn(async move { client.fetch(url).await })
            })
            .collect();
        assert!(wait_until(GENEROUS, || client.load() == (MAX, FETCHES - MAX)).await);
        for handle in handles {
            assert_eq!(handle.await.unwrap().unwrap().text().unwrap(), "done");
        }
        assert_eq!(most.get(), MAX);
        assert_eq!(client.load(), (0, 0));
        // The queued fetches took the connections the first ones left.
        assert_eq!(client.idle_connections(), MAX);
        assert_eq!(server.connection_count(), MAX);
        server.stop();
    });
}

#[test]
fn redirects_hold_one_slot() {
    // Tornado's test_redirect_connection_limit: a redirected fetch keeps its
    // slot for every hop instead of queueing behind itself.
    run(async {
        let (server, base) = support::serve_app();
        let client = AsyncHttpClient::with_config(ClientConfig {
            max_clients: 1,
            ..ClientConfig::default()
        });
        let response = client
            .fetch(
                HttpRequest::new(format!("{base}/countdown/3"))
                    .request_timeout(Duration::from_secs(10)),
            )
            .await
            .unwrap();
        assert_eq!(response.text().unwrap(), "Zero");
        server.stop();
    });
}

#[test]
fn the_queue_is_first_come_first_served() {
    const FETCHES: usize = 5;
    run(async {
        let order = Rc::new(std::cell::RefCell::new(Vec::new()));
        let o = order.clone();
        let (server, base) = serve(move |req: HttpServerRequest| {
            let order = o.clone();
            async move {
                let index = req.headers().get("X-Index").unwrap_or_default().to_owned();
                order.borrow_mut().push(index);
                tornado_ioloop::sleep(Duration::from_millis(2)).await;
                Response::text("ok")
            }
        });
        let client = AsyncHttpClient::with_config(ClientConfig {
            max_clients: 1,
            ..ClientConfig::default()
        });
        let handles: Vec<_> = (0..FETCHES)
            .map(|i| {
                let request =
                    HttpRequest::new(format!("{base}/")).header("X-Index", &i.to_string());
                let client = client.clone();
                tornado_ioloop::spawn(async move { client.fetch(request).await })
            })
            .collect();
        let mut responses = Vec::new();
        for handle in handles {
            responses.push(handle.await.unwrap().unwrap());
        }
        let want: Vec<String> = (0..FETCHES).map(|i| i.to_string()).collect();
        assert_eq!(*order.borrow(), want);
        // The last waited behind all the others.
        let last = &responses[FETCHES - 1].time_info;
        assert!(last.queue > Duration::ZERO, "{last:?}");
        assert!(last.queue <= last.total, "{last:?}");
        server.stop();
    });
}

/// A server that counts the requests it read and records when the client
/// closed a connection; it never answers.
fn counting_silent_server() -> (
    RawServer,
    Arc<std::sync::atomic::AtomicUsize>,
    Arc<AtomicBool>,
) {
    let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let closed = Arc::new(AtomicBool::new(false));
    let (r, c) = (requests.clone(), closed.clone());
    let server = RawServer::start(move |mut conn, _| {
        conn.read_request()?;
        r.fetch_add(1, Ordering::SeqCst);
        conn.read_until_close()?;
        c.store(true, Ordering::SeqCst);
        Ok(())
    });
    (server, requests, closed)
}

#[test]
fn a_dropped_fetch_gives_back_its_slot_and_closes_its_connection() {
    let (server, requests, closed) = counting_silent_server();
    let url = server.url("/");
    run(async move {
        let (hello, base) = support::serve_app();
        let client = AsyncHttpClient::with_config(ClientConfig {
            max_clients: 1,
            ..ClientConfig::default()
        });
        let running = tornado_ioloop::spawn({
            let client = client.clone();
            async move { client.fetch(url).await }
        });
        assert!(wait_until(GENEROUS, || requests.load(Ordering::SeqCst) == 1).await);
        assert_eq!(client.load(), (1, 0));
        running.abort();
        assert!(running.await.is_err(), "cancelled");
        assert_eq!(client.load(), (0, 0));
        assert_eq!(client.idle_connections(), 0);
        assert!(
            wait_until(GENEROUS, || closed.load(Ordering::SeqCst)).await,
            "the half-used connection was closed"
        );
        // The slot is free for the next fetch.
        let response = client.fetch(format!("{base}/hello")).await.unwrap();
        assert_eq!(response.code, 200);
        hello.stop();
    });
}

#[test]
fn a_fetch_dropped_while_queued_leaves_the_queue() {
    let (server, requests, _closed) = counting_silent_server();
    let url = server.url("/");
    run(async move {
        let client = AsyncHttpClient::with_config(ClientConfig {
            max_clients: 1,
            ..ClientConfig::default()
        });
        let spawn_fetch = |client: &AsyncHttpClient| {
            let (client, url) = (client.clone(), url.clone());
            tornado_ioloop::spawn(async move { client.fetch(url).await })
        };
        let running = spawn_fetch(&client);
        assert!(wait_until(GENEROUS, || requests.load(Ordering::SeqCst) == 1).await);
        let queued = spawn_fetch(&client);
        assert!(wait_until(GENEROUS, || client.load() == (1, 1)).await);
        queued.abort();
        assert!(queued.await.is_err());
        assert_eq!(client.load(), (1, 0));
        running.abort();
        assert!(running.await.is_err());
        assert_eq!(client.load(), (0, 0));
    });
    assert_eq!(
        server.accepted(),
        1,
        "the dropped queued fetch never connected"
    );
}
