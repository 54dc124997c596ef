//! The blocking `HttpClient`: fetches from plain threads (no loop of their
//! own), errors, connection reuse across calls, use from several threads
//! at once, and `close()` (Tornado's `SyncHTTPClientTest`).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::{RawServer, response_with};
use tornado_httpclient::{ClientConfig, ErrorKind, HttpClient, HttpRequest};

/// Answers each request with its method and target, or with 404 for
/// `/missing`; counts the connections the client closed.
fn server(closed: Arc<AtomicUsize>) -> RawServer {
    RawServer::start(move |mut conn, _| {
        while let Some(request) = conn.read_request()? {
            let line = request.request_line().to_owned();
            let target = line.split(' ').nth(1).unwrap_or_default().to_owned();
            if target == "/missing" {
                conn.write(&response_with("HTTP/1.1 404 Not Found", &[], b"missing"))?;
            } else {
                let body = format!(
                    "{} {target} {}",
                    request.method(),
                    String::from_utf8_lossy(&request.body)
                );
                conn.write(&response_with("HTTP/1.1 200 OK", &[], body.as_bytes()))?;
            }
        }
        closed.fetch_add(1, Ordering::SeqCst);
        Ok(())
    })
}

/// Runs `body` on its own thread and fails if it takes more than
/// [`support::TIMEOUT`]: the hard timeout of a test with no loop.
fn within_deadline(body: impl FnOnce() + Send + 'static) {
    let (done, finished) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        body();
        let _ = done.send(());
    });
    match finished.recv_timeout(support::TIMEOUT) {
        Ok(()) => thread.join().unwrap(),
        // The body panicked: re-raise its panic here.
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(thread.join().unwrap_err())
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("test timed out"),
    }
}

/// Waits (blocking) until `done` holds, for at most 15 s.
fn wait_for(mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > Duration::from_secs(15) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

#[test]
fn fetch_from_a_plain_thread_and_reuse_the_connection() {
    within_deadline(|| {
        let closed = Arc::new(AtomicUsize::new(0));
        let server = server(closed.clone());
        let client = HttpClient::new().unwrap();
        let response = client.fetch(server.url("/first").as_str()).unwrap();
        assert_eq!(response.code, 200);
        assert_eq!(response.text().unwrap(), "GET /first ");
        let response = client
            .fetch(
                HttpRequest::new(server.url("/second"))
                    .method("POST")
                    .body("data"),
            )
            .unwrap();
        assert_eq!(response.text().unwrap(), "POST /second data");
        let response = client.fetch(server.url("/third")).unwrap();
        assert_eq!(response.text().unwrap(), "GET /third ");
        assert_eq!(server.accepted(), 1, "one connection for the three calls");

        // close() stops the loop thread and closes the pooled connection.
        client.close();
        assert!(wait_for(|| closed.load(Ordering::SeqCst) == 1));
    });
}

#[test]
fn errors_come_back_as_from_the_async_client() {
    within_deadline(|| {
        let closed = Arc::new(AtomicUsize::new(0));
        let server = server(closed);
        let client = HttpClient::new().unwrap();
        let err = client.fetch(server.url("/missing")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Http);
        assert_eq!(err.code(), 404);
        assert_eq!(err.response().unwrap().text().unwrap(), "missing");

        let response = client
            .fetch(HttpRequest::new(server.url("/missing")).raise_error(false))
            .unwrap();
        assert_eq!(response.code, 404);

        let port = support::closed_port();
        let err = client
            .fetch(format!("http://127.0.0.1:{port}/"))
            .unwrap_err();
        assert_eq!(err.code(), 599);
        assert_eq!(err.kind(), ErrorKind::Connect);
        // The client works on after errors.
        assert_eq!(client.fetch(server.url("/ok")).unwrap().code, 200);
    });
}

#[test]
fn usable_from_several_threads_at_once() {
    within_deadline(|| {
        let closed = Arc::new(AtomicUsize::new(0));
        let server = server(closed);
        let client = HttpClient::with_config(ClientConfig {
            max_clients: 2,
            ..ClientConfig::default()
        })
        .unwrap();
        std::thread::scope(|scope| {
            for t in 0..4 {
                let (client, server) = (&client, &server);
                scope.spawn(move || {
                    for i in 0..3 {
                        let path = format!("/t{t}/{i}");
                        let response = client.fetch(server.url(&path)).unwrap();
                        assert_eq!(response.text().unwrap(), format!("GET {path} "));
                    }
                });
            }
        });
        assert!(
            server.accepted() <= 2,
            "max_clients bounds the connections: {}",
            server.accepted()
        );
    });
}

#[test]
fn dropping_the_client_closes_it_too() {
    within_deadline(|| {
        let closed = Arc::new(AtomicUsize::new(0));
        let server = server(closed.clone());
        {
            let client = HttpClient::new().unwrap();
            client.fetch(server.url("/")).unwrap();
        }
        assert!(wait_for(|| closed.load(Ordering::SeqCst) == 1));
    });
}

#[test]
fn timeouts_apply() {
    within_deadline(|| {
        let server = RawServer::start(|mut conn, _| {
            conn.read_request()?;
            conn.read_until_close().map(drop)
        });
        let client = HttpClient::new().unwrap();
        let err = client
            .fetch(HttpRequest::new(server.url("/")).request_timeout(Duration::from_millis(200)))
            .unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
    });
}

#[test]
fn usable_on_a_loop_thread() {
    // It blocks that loop while it waits, which a raw-socket server on its
    // own thread does not mind.
    let closed = Arc::new(AtomicUsize::new(0));
    let server = server(closed);
    let url = server.url("/from-a-loop");
    let text = support::run(async move {
        let client = HttpClient::new().unwrap();
        let response = client.fetch(url).unwrap();
        response.text().unwrap().to_owned()
    });
    assert_eq!(text, "GET /from-a-loop ");
}
