//! The keep-alive pool, proven by counting the connections servers accept:
//! reuse over sequential fetches, no reuse after `Connection: close` (either
//! side) or with keep-alive turned off, the transparent retry of an
//! idempotent request on a pooled connection the server had closed (and no
//! retry for a `POST`, or after the server began to answer), idle timeouts,
//! `idle_connections()` and `close()`.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{RawServer, response_with, run, serve, serve_app, wait_until};
use tornado_httpclient::{AsyncHttpClient, ClientConfig, ErrorKind, HttpRequest, Phase};
use tornado_httpserver::httputil::HttpServerRequest;
use tornado_httpserver::{HttpServer, HttpServerSettings, Response};

const N: usize = 5;
const GENEROUS: Duration = Duration::from_secs(15);

/// Answers every request with `ok` plus the index of the connection and of
/// the request on it.
fn counting_server() -> RawServer {
    RawServer::start(|mut conn, index| {
        let mut n = 0;
        while conn.read_request()?.is_some() {
            let body = format!("ok {index}.{n}");
            conn.write(&response_with("HTTP/1.1 200 OK", &[], body.as_bytes()))?;
            n += 1;
        }
        Ok(())
    })
}

#[test]
fn sequential_fetches_share_one_connection() {
    let server = counting_server();
    let url = server.url("/");
    let bodies = run(async move {
        let client = AsyncHttpClient::new();
        assert_eq!(client.idle_connections(), 0);
        let mut bodies = Vec::new();
        for i in 0..N {
            let request = match i % 3 {
                0 => HttpRequest::new(url.as_str()),
                1 => HttpRequest::new(url.as_str()).method("POST").body("data"),
                _ => HttpRequest::new(url.as_str())
                    .method("PUT")
                    .body_producer(|w| async move { w.write("streamed").await }),
            };
            let response = client.fetch(request).await.unwrap();
            bodies.push(response.text().unwrap().to_owned());
            assert_eq!(client.idle_connections(), 1);
        }
        bodies
    });
    let want: Vec<String> = (0..N).map(|n| format!("ok 0.{n}")).collect();
    assert_eq!(bodies, want);
    assert_eq!(server.accepted(), 1);
}

#[test]
fn sequential_fetches_share_one_connection_with_our_server() {
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        for path in ["/hello", "/status/404", "/echo", "/countdown/2", "/hello"] {
            let _ = client
                .fetch(HttpRequest::new(format!("{base}{path}")).raise_error(false))
                .await
                .unwrap();
            assert_eq!(server.connection_count(), 1, "{path}");
        }
        assert_eq!(client.idle_connections(), 1);
        server.stop();
    });
}

#[test]
fn each_origin_has_its_own_connections() {
    let (a, b) = (counting_server(), counting_server());
    let (url_a, url_b) = (a.url("/"), b.url("/"));
    run(async move {
        let client = AsyncHttpClient::new();
        for _ in 0..3 {
            assert_eq!(client.fetch(url_a.as_str()).await.unwrap().code, 200);
            assert_eq!(client.fetch(url_b.as_str()).await.unwrap().code, 200);
        }
        assert_eq!(client.idle_connections(), 2);
    });
    assert_eq!((a.accepted(), b.accepted()), (1, 1));
}

#[test]
fn concurrent_fetches_open_connections_that_are_then_reused() {
    let server = counting_server();
    let url = server.url("/");
    run(async move {
        let client = AsyncHttpClient::new();
        for _round in 0..2 {
            let handles: Vec<_> = (0..3)
                .map(|_| {
                    let (client, url) = (client.clone(), url.clone());
                    tornado_ioloop::spawn(async move { client.fetch(url).await })
                })
                .collect();
            for handle in handles {
                assert_eq!(handle.await.unwrap().unwrap().code, 200);
            }
            assert_eq!(client.idle_connections(), 3);
        }
    });
    assert_eq!(server.accepted(), 3);
}

#[test]
fn connection_close_from_the_server_means_no_reuse() {
    let closed_by_client = Arc::new(AtomicUsize::new(0));
    let c = closed_by_client.clone();
    let server = RawServer::start(move |mut conn, _| {
        conn.read_request()?;
        conn.write(&response_with(
            "HTTP/1.1 200 OK",
            &[("Connection", "close")],
            b"bye",
        ))?;
        // The server keeps its end open: the client must close.
        conn.read_until_close()?;
        c.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    let url = server.url("/");
    run(async move {
        let client = AsyncHttpClient::new();
        for _ in 0..N {
            assert_eq!(&client.fetch(url.as_str()).await.unwrap().body[..], b"bye");
            assert_eq!(client.idle_connections(), 0);
        }
        assert!(wait_until(GENEROUS, || closed_by_client.load(Ordering::SeqCst) == N).await);
    });
    assert_eq!(server.accepted(), N);
}

#[test]
fn connection_close_from_the_client_means_no_reuse() {
    let server = counting_server();
    let url = server.url("/");
    run(async move {
        let client = AsyncHttpClient::new();
        for _ in 0..3 {
            let response = client
                .fetch(HttpRequest::new(url.as_str()).header("Connection", "close"))
                .await
                .unwrap();
            assert_eq!(response.code, 200);
            assert_eq!(client.idle_connections(), 0);
        }
    });
    assert_eq!(server.accepted(), 3);
}

#[test]
fn keep_alive_can_be_turned_off() {
    for config in [
        ClientConfig {
            max_idle_per_host: 0,
            ..ClientConfig::default()
        },
        ClientConfig {
            pool_idle_timeout: Duration::ZERO,
            ..ClientConfig::default()
        },
    ] {
        // Answers with the request's Connection header, and closes after.
        let server = RawServer::start(|mut conn, _| {
            if let Some(request) = conn.read_request()? {
                let said = request.header("Connection").unwrap_or("-").to_owned();
                conn.write(&response_with("HTTP/1.1 200 OK", &[], said.as_bytes()))?;
            }
            Ok(())
        });
        let url = server.url("/");
        run(async move {
            let client = AsyncHttpClient::with_config(config);
            for _ in 0..3 {
                let response = client.fetch(url.as_str()).await.unwrap();
                // The server is told, rather than left holding the connection.
                assert_eq!(response.text().unwrap(), "close");
                assert_eq!(client.idle_connections(), 0);
            }
        });
        assert_eq!(server.accepted(), 3);
    }
}

#[test]
fn max_idle_per_host_caps_the_pool() {
    let server = counting_server();
    let url = server.url("/");
    run(async move {
        let client = AsyncHttpClient::with_config(ClientConfig {
            max_idle_per_host: 2,
            ..ClientConfig::default()
        });
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (client, url) = (client.clone(), url.clone());
                tornado_ioloop::spawn(async move { client.fetch(url).await })
            })
            .collect();
        for handle in handles {
            assert_eq!(handle.await.unwrap().unwrap().code, 200);
        }
        assert_eq!(client.idle_connections(), 2);
    });
    assert_eq!(server.accepted(), 4);
}

#[test]
fn server_that_closes_after_each_response_without_saying_so() {
    // Every GET succeeds, whether the pool notices the close or the retry
    // covers it, and each goes over a new connection.
    let server = RawServer::start(|mut conn, index| {
        conn.read_request()?;
        let body = format!("conn {index}");
        conn.write(&response_with("HTTP/1.1 200 OK", &[], body.as_bytes()))
    });
    let url = server.url("/");
    run(async move {
        let client = AsyncHttpClient::new();
        for i in 0..N {
            let response = client.fetch(url.as_str()).await.unwrap();
            assert_eq!(response.text().unwrap(), format!("conn {i}"));
        }
    });
    assert_eq!(server.accepted(), N);
}

/// The requests a server read: (connection, method, body).
type RequestLog = Arc<Mutex<Vec<(usize, String, String)>>>;

/// A server that answers the first request of each connection whose index
/// is in `answering`, and reads and drops (closes without a word) every
/// other request. Records the requests it read as `(connection, method,
/// body)`.
fn closing_server(answering: &'static [usize]) -> (RawServer, RequestLog) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let server = RawServer::start(move |mut conn, index| {
        let mut first = true;
        while let Some(request) = conn.read_request()? {
            l.lock().unwrap().push((
                index,
                request.method().to_owned(),
                String::from_utf8_lossy(&request.body).into_owned(),
            ));
            if !(first && answering.contains(&index)) {
                // Close with nothing unread, so the client sees a clean end.
                return Ok(());
            }
            first = false;
            let body = format!("conn {index}");
            conn.write(&response_with("HTTP/1.1 200 OK", &[], body.as_bytes()))?;
        }
        Ok(())
    });
    (server, log)
}

#[test]
fn idempotent_request_is_retried_once_on_a_new_connection() {
    for method in ["GET", "PUT", "DELETE", "HEAD", "OPTIONS"] {
        let (server, log) = closing_server(&[0, 1]);
        let url = server.url("/");
        let response = run(async move {
            let client = AsyncHttpClient::new();
            client.fetch(url.as_str()).await.unwrap();
            assert_eq!(client.idle_connections(), 1);
            let mut request = HttpRequest::new(url.as_str()).method(method);
            if method == "PUT" {
                request = request.body("sent twice");
            }
            client.fetch(request).await.unwrap()
        });
        assert_eq!(response.code, 200, "{method}");
        if method != "HEAD" {
            assert_eq!(response.text().unwrap(), "conn 1", "{method}");
        }
        assert_eq!(server.accepted(), 2, "{method}");
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 3, "{method}: {log:?}");
        assert_eq!((log[1].0, log[1].1.as_str()), (0, method));
        assert_eq!((log[2].0, log[2].1.as_str()), (1, method));
        if method == "PUT" {
            assert_eq!(log[2].2, "sent twice");
        }
    }
}

#[test]
fn the_retry_happens_only_once() {
    // The second connection drops the request too: that is an error, not
    // another retry.
    let (server, log) = closing_server(&[0]);
    let url = server.url("/");
    let err = run(async move {
        let client = AsyncHttpClient::new();
        client.fetch(url.as_str()).await.unwrap();
        client.fetch(url.as_str()).await.unwrap_err()
    });
    assert_eq!(err.kind(), ErrorKind::Closed, "{err:?}");
    assert_eq!(err.code(), 599);
    assert_eq!(err.phase(), Some(Phase::Receive));
    assert_eq!(server.accepted(), 2);
    assert_eq!(log.lock().unwrap().len(), 3);
}

#[test]
fn post_is_not_retried() {
    let (server, log) = closing_server(&[0, 1]);
    let url = server.url("/");
    let err = run(async move {
        let client = AsyncHttpClient::new();
        client.fetch(url.as_str()).await.unwrap();
        let err = client
            .fetch(
                HttpRequest::new(url.as_str())
                    .method("POST")
                    .body("once only"),
            )
            .await
            .unwrap_err();
        assert_eq!(client.idle_connections(), 0);
        err
    });
    assert_eq!(err.kind(), ErrorKind::Closed, "{err:?}");
    assert_eq!(err.code(), 599);
    assert!(
        err.to_string().contains(&server.addr().to_string()),
        "{err}"
    );
    assert_eq!(server.accepted(), 1, "no second connection for the POST");
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[1], (0, "POST".to_owned(), "once only".to_owned()));
}

#[test]
fn no_retry_once_the_server_began_to_answer() {
    let server = RawServer::start(|mut conn, _| {
        conn.read_request()?;
        conn.write(&response_with("HTTP/1.1 200 OK", &[], b"first"))?;
        if conn.read_request()?.is_some() {
            conn.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")?;
        }
        Ok(())
    });
    let url = server.url("/");
    let err = run(async move {
        let client = AsyncHttpClient::new();
        client.fetch(url.as_str()).await.unwrap();
        client.fetch(url.as_str()).await.unwrap_err()
    });
    assert_eq!(err.kind(), ErrorKind::Closed, "{err:?}");
    assert_eq!(server.accepted(), 1);
}

#[test]
fn bytes_after_the_response_spoil_the_connection() {
    let server = RawServer::start(|mut conn, index| {
        while conn.read_request()?.is_some() {
            let body = format!("conn {index}");
            let mut out = response_with("HTTP/1.1 200 OK", &[], body.as_bytes());
            out.extend_from_slice(b"unasked-for bytes");
            conn.write(&out)?;
        }
        Ok(())
    });
    let url = server.url("/");
    let bodies = run(async move {
        let client = AsyncHttpClient::new();
        let mut bodies = Vec::new();
        for _ in 0..2 {
            bodies.push(
                client
                    .fetch(url.as_str())
                    .await
                    .unwrap()
                    .text()
                    .unwrap()
                    .to_owned(),
            );
        }
        bodies
    });
    assert_eq!(bodies, ["conn 0", "conn 1"]);
}

#[test]
fn idle_connections_time_out() {
    let server = counting_server();
    let url = server.url("/");
    run(async move {
        let client = AsyncHttpClient::with_config(ClientConfig {
            pool_idle_timeout: Duration::from_millis(100),
            ..ClientConfig::default()
        });
        client.fetch(url.as_str()).await.unwrap();
        assert_eq!(client.idle_connections(), 1);
        assert!(wait_until(GENEROUS, || client.idle_connections() == 0).await);
        assert_eq!(
            client.fetch(url.as_str()).await.unwrap().text().unwrap(),
            "ok 1.0"
        );
    });
    assert_eq!(server.accepted(), 2);
}

#[test]
fn close_drops_the_idle_connections() {
    run(async {
        let (a, base_a) = serve_app();
        let (b, base_b) = serve_app();
        let client = AsyncHttpClient::new();
        client.fetch(format!("{base_a}/hello")).await.unwrap();
        client.fetch(format!("{base_b}/hello")).await.unwrap();
        assert_eq!(client.idle_connections(), 2);
        assert_eq!((a.connection_count(), b.connection_count()), (1, 1));
        client.close();
        assert_eq!(client.idle_connections(), 0);
        assert!(
            wait_until(GENEROUS, || a.connection_count() + b.connection_count()
                == 0)
            .await,
            "the servers saw the connections close"
        );
        // The client can still fetch, on a new connection.
        client.fetch(format!("{base_a}/hello")).await.unwrap();
        assert_eq!(a.connection_count(), 1);
        a.stop();
        b.stop();
    });
}

#[test]
fn a_connection_the_server_closed_while_idle_is_not_used() {
    // The server's idle timeout closes the pooled connection long before
    // the next fetch; even a POST, which may not be retried, goes through.
    run(async {
        let settings = HttpServerSettings {
            idle_connection_timeout: Some(Duration::from_millis(100)),
            ..HttpServerSettings::default()
        };
        let server = HttpServer::with_settings(
            |req: HttpServerRequest| async move { Response::text(req.method().as_str().to_owned()) },
            settings,
        );
        server.listen(0, Some("127.0.0.1")).unwrap();
        let url = format!("http://{}/", server.local_addrs()[0]);
        let client = AsyncHttpClient::new();
        client.fetch(url.as_str()).await.unwrap();
        assert!(wait_until(GENEROUS, || server.connection_count() == 0).await);
        // Give the client's loop a moment to see the close.
        tornado_ioloop::sleep(Duration::from_millis(20)).await;
        let response = client
            .fetch(HttpRequest::new(url.as_str()).method("POST").body("x"))
            .await
            .unwrap();
        assert_eq!(response.text().unwrap(), "POST");
        server.stop();
    });
}

#[test]
fn our_server_counts_one_connection_per_client() {
    run(async {
        let (server, base) = serve(|_req: HttpServerRequest| async { Response::text("x") });
        let clients: Vec<AsyncHttpClient> = (0..3).map(|_| AsyncHttpClient::new()).collect();
        for _ in 0..3 {
            for client in &clients {
                client.fetch(format!("{base}/")).await.unwrap();
            }
        }
        assert_eq!(server.connection_count(), 3);
        drop(clients);
        server.stop();
    });
}

#[test]
fn bytes_sent_while_idle_spoil_the_connection() {
    // The server writes junk some time after the response, while the
    // connection waits in the pool; the pool must not hand it out.
    let junk_sent = Arc::new(AtomicUsize::new(0));
    let j = junk_sent.clone();
    let server = RawServer::start(move |mut conn, index| {
        conn.read_request()?;
        let body = format!("conn {index}");
        conn.write(&response_with("HTTP/1.1 200 OK", &[], body.as_bytes()))?;
        std::thread::sleep(Duration::from_millis(30));
        conn.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\njunk")?;
        j.fetch_add(1, Ordering::SeqCst);
        conn.read_until_close().map(drop)
    });
    let url = server.url("/");
    run(async move {
        let client = AsyncHttpClient::new();
        assert_eq!(
            client.fetch(url.as_str()).await.unwrap().text().unwrap(),
            "conn 0"
        );
        assert!(wait_until(GENEROUS, || junk_sent.load(Ordering::SeqCst) == 1).await);
        // Give the loop a moment to read what arrived.
        tornado_ioloop::sleep(Duration::from_millis(50)).await;
        let response = client.fetch(url.as_str()).await.unwrap();
        assert_eq!(response.text().unwrap(), "conn 1");
    });
    assert_eq!(server.accepted(), 2);
}

#[test]
fn dropping_the_client_closes_its_idle_connections() {
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        client.fetch(format!("{base}/hello")).await.unwrap();
        assert_eq!(server.connection_count(), 1);
        drop(client);
        assert!(wait_until(GENEROUS, || server.connection_count() == 0).await);
        server.stop();
    });
}

#[test]
fn many_concurrent_fetches_through_the_default_limit() {
    const FETCHES: usize = 50;
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        let handles: Vec<_> = (0..FETCHES)
            .map(|i| {
                let (client, url) = (client.clone(), format!("{base}/where/{i}"));
                tornado_ioloop::spawn(async move { client.fetch(url).await })
            })
            .collect();
        for (i, handle) in handles.into_iter().enumerate() {
            let response = handle.await.unwrap().unwrap();
            assert_eq!(response.text().unwrap(), format!("/where/{i}"));
        }
        assert_eq!(client.load(), (0, 0));
        let open = server.connection_count();
        assert!(
            (1..=tornado_httpclient::DEFAULT_MAX_CLIENTS).contains(&open),
            "{open} connections"
        );
        assert_eq!(client.idle_connections(), open);
        server.stop();
    });
}

/// Bytes a server sends on an idle keep-alive connection while the loop is busy (it
/// has not polled since) spoil that connection: the next request goes on a new one and
/// gets its own answer, not the stray bytes (the loop's readiness is stale, so the
/// socket is asked).
#[test]
fn bytes_sent_while_the_loop_was_busy_spoil_the_idle_connection() {
    let server = RawServer::start(|mut conn, index| {
        if index == 0 {
            conn.read_request()?;
            conn.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")?;
            std::thread::sleep(Duration::from_millis(100));
            conn.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL")?;
        }
        while conn.read_request()?.is_some() {
            conn.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood")?;
        }
        Ok(())
    });
    let url = server.url("/");
    let bodies = run(async move {
        let client = AsyncHttpClient::new();
        let a = client.fetch(url.as_str()).await.unwrap();
        // The loop is busy (blocked) while the stray bytes arrive.
        std::thread::sleep(Duration::from_millis(300));
        let b = client.fetch(url.as_str()).await.unwrap();
        (a.text().unwrap().to_owned(), b.text().unwrap().to_owned())
    });
    assert_eq!(bodies, ("ok".to_owned(), "good".to_owned()));
}

/// A close of an idle keep-alive connection while the loop was busy is noticed before
/// the connection is reused: a POST (never retried) goes on a new connection.
#[test]
fn a_close_while_the_loop_was_busy_is_noticed_before_reuse() {
    let server = RawServer::start(|mut conn, index| {
        conn.read_request()?;
        let body = format!("conn {index}");
        conn.write(&response_with("HTTP/1.1 200 OK", &[], body.as_bytes()))?;
        std::thread::sleep(Duration::from_millis(50));
        Ok(()) // closes, without saying so in the response
    });
    let url = server.url("/");
    let out = run(async move {
        let client = AsyncHttpClient::new();
        let a = client.fetch(url.as_str()).await.unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let b = client
            .fetch(HttpRequest::new(url.as_str()).method("POST").body("x"))
            .await;
        (
            a.text().unwrap().to_owned(),
            b.map(|r| r.text().unwrap().to_owned())
                .map_err(|e| e.to_string()),
        )
    });
    assert_eq!(out, ("conn 0".to_owned(), Ok("conn 1".to_owned())));
}

/// The same between two `run_sync`s on one loop: a close while the loop was stopped is
/// noticed before the connection is reused (starting the loop again tells nothing of
/// its sockets until it polls).
#[test]
fn a_close_between_two_run_syncs_is_noticed_before_reuse() {
    let server = RawServer::start(|mut conn, index| {
        conn.read_request()?;
        let body = format!("conn {index}");
        conn.write(&response_with("HTTP/1.1 200 OK", &[], body.as_bytes()))?;
        std::thread::sleep(Duration::from_millis(50));
        Ok(())
    });
    let url = server.url("/");
    let io_loop = tornado_ioloop::IoLoop::new().unwrap();
    let limit = Duration::from_secs(10);
    let first = url.clone();
    let (client, a) = io_loop
        .run_sync_timeout(
            async move {
                let client = AsyncHttpClient::new();
                let a = client.fetch(first.as_str()).await.unwrap();
                (client, a.text().unwrap().to_owned())
            },
            limit,
        )
        .expect("first fetch timed out");
    std::thread::sleep(Duration::from_millis(300));
    let b = io_loop
        .run_sync_timeout(
            async move {
                client
                    .fetch(HttpRequest::new(url.as_str()).method("POST").body("x"))
                    .await
                    .map(|r| r.text().unwrap().to_owned())
                    .map_err(|e| e.to_string())
            },
            limit,
        )
        .expect("second fetch timed out");
    assert_eq!((a, b), ("conn 0".to_owned(), Ok("conn 1".to_owned())));
}
