//! Regressions found by review: an early final answer to `Expect:
//! 100-continue`, a server that answers while the body is going out, the
//! retry of a stale pooled connection, huge idle timeouts, one client on
//! several loops, the blocking client after a panicking callback, and
//! passwords kept out of messages.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{RawServer, response_with, run};
use tornado_httpclient::{AsyncHttpClient, ClientConfig, HttpClient, HttpRequest};

// A. early final head (no 100 Continue) never reaches header_callback.
#[test]
fn early_head_reaches_header_callback() {
    let server = RawServer::start(|mut conn, _| {
        conn.read_head()?;
        conn.write(&response_with("HTTP/1.1 403 Forbidden", &[], b"no"))?;
        let _ = conn.read_until_close();
        Ok(())
    });
    let url = server.url("/");
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let l = lines.clone();
    let response = run(async move {
        AsyncHttpClient::new()
            .fetch(
                HttpRequest::new(url)
                    .method("POST")
                    .body("x")
                    .expect_100_continue(true)
                    .raise_error(false)
                    .header_callback(move |line| l.lock().unwrap().push(line.to_owned())),
            )
            .await
            .unwrap()
    });
    assert_eq!(response.code, 403);
    let lines = lines.lock().unwrap();
    assert!(
        !lines.is_empty(),
        "header_callback never called for the early 403 head"
    );
}

// A2. early redirect: its body goes to streaming_callback although the redirect is followed.
#[test]
fn early_redirect_body_goes_to_streaming_callback() {
    let server = RawServer::start(|mut conn, _| {
        while let Some(head) = conn.read_head()? {
            if head.starts_with("POST /start ") {
                conn.write(&response_with(
                    "HTTP/1.1 307 Temporary Redirect",
                    &[("Location", "/final")],
                    b"REDIRECT-BODY",
                ))?;
                let _ = conn.read_until_close();
                return Ok(());
            }
            conn.write(b"HTTP/1.1 100 Continue\r\n\r\n")?;
            let body = conn.read_body(&head)?;
            conn.write(&response_with("HTTP/1.1 200 OK", &[], &body))?;
        }
        Ok(())
    });
    let url = server.url("/start");
    let got = Arc::new(Mutex::new(Vec::<u8>::new()));
    let g = got.clone();
    run(async move {
        AsyncHttpClient::new()
            .fetch(
                HttpRequest::new(url)
                    .method("POST")
                    .body("the body")
                    .expect_100_continue(true)
                    .streaming_callback(move |b| g.lock().unwrap().extend_from_slice(&b)),
            )
            .await
            .unwrap()
    });
    let got = got.lock().unwrap();
    assert_eq!(String::from_utf8_lossy(&got), "the body");
}

// B. full duplex: a server that streams its answer while it reads the body.
#[test]
fn full_duplex_echo_does_not_deadlock() {
    let server = RawServer::start(|mut conn, _| {
        let head = conn.read_head()?.unwrap();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        conn.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")?;
        let mut left = len;
        while left > 0 {
            let n = left.min(64 * 1024);
            let piece = conn.read_exact_bytes(n)?;
            let mut out = format!("{:x}\r\n", piece.len()).into_bytes();
            out.extend_from_slice(&piece);
            out.extend_from_slice(b"\r\n");
            conn.write(&out)?;
            left -= n;
        }
        conn.write(b"0\r\n\r\n")?;
        Ok(())
    });
    let url = server.url("/");
    let size: usize = std::env::var("SIZE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64 << 20);
    let started = Instant::now();
    let result = run(async move {
        AsyncHttpClient::new()
            .fetch(
                HttpRequest::new(url)
                    .method("POST")
                    .body(vec![b'x'; size])
                    .request_timeout(Duration::from_secs(8))
                    .max_body_size(200 * 1024 * 1024),
            )
            .await
    });
    match result {
        Ok(r) => assert_eq!(r.body.len(), size),
        Err(e) => panic!("after {:?}: {e:?}", started.elapsed()),
    }
}

// C. AsyncHttpClient::current() across two loops on one thread.
#[test]
fn current_client_across_loops() {
    let server = RawServer::start(|mut conn, _| {
        while conn.read_request()?.is_some() {
            conn.write(&response_with("HTTP/1.1 200 OK", &[], b"ok"))?;
        }
        Ok(())
    });
    let url = server.url("/");
    let u = url.clone();
    run(async move {
        let r = AsyncHttpClient::current().fetch(u.as_str()).await.unwrap();
        assert_eq!(r.code, 200);
        assert_eq!(AsyncHttpClient::current().idle_connections(), 1);
    });
    let started = Instant::now();
    let result = run(async move {
        AsyncHttpClient::current()
            .fetch(HttpRequest::new(url).request_timeout(Duration::from_secs(5)))
            .await
    });
    assert!(
        result.is_ok(),
        "second loop: {result:?} after {:?}",
        started.elapsed()
    );
}

// D. The retry takes another pooled connection, not a new one.
#[test]
fn retry_uses_a_new_connection() {
    // Each connection answers its first request, and closes without answering
    // the second.
    let server = RawServer::start(|mut conn, index| {
        let mut first = true;
        while conn.read_request()?.is_some() {
            if !first {
                return Ok(());
            }
            first = false;
            // hold the first answers so that two connections are opened
            std::thread::sleep(Duration::from_millis(100));
            conn.write(&response_with(
                "HTTP/1.1 200 OK",
                &[],
                format!("conn {index}").as_bytes(),
            ))?;
        }
        Ok(())
    });
    let url = server.url("/");
    let result = run(async move {
        let client = AsyncHttpClient::new();
        let a = client.fetch(url.as_str());
        let b = client.fetch(url.as_str());
        let (a, b) = (tornado_ioloop::spawn(a), tornado_ioloop::spawn(b));
        a.await.unwrap().unwrap();
        b.await.unwrap().unwrap();
        assert_eq!(client.idle_connections(), 2);
        client.fetch(url.as_str()).await
    });
    assert!(result.is_ok(), "{result:?}; accepted {}", server.accepted());
}

// E. A pool idle timeout of Duration::MAX ("never").
#[test]
fn huge_pool_idle_timeout() {
    let server = RawServer::respond_always(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    let url = server.url("/");
    run(async move {
        let client = AsyncHttpClient::with_config(ClientConfig {
            pool_idle_timeout: Duration::MAX,
            ..ClientConfig::default()
        });
        client.fetch(url.as_str()).await.unwrap();
    });
}

#[test]
fn blocking_client_after_a_panicking_callback() {
    let server = RawServer::respond_always(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    let url = server.url("/");
    let client = HttpClient::new().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let u = url.clone();
    std::thread::spawn(move || {
        let first =
            client.fetch(HttpRequest::new(u.as_str()).streaming_callback(|_| panic!("boom")));
        let second = client.fetch(u.as_str());
        let _ = tx.send((first.map(|r| r.code), second.map(|r| r.code)));
    });
    let (first, second) = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the blocking client hung after a panicking callback");
    let err = first.unwrap_err();
    assert!(err.to_string().contains("panicked"), "{err}");
    assert_eq!(second.unwrap(), 200);
}

#[test]
fn password_in_error_messages() {
    let server = RawServer::respond_always(
        b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n",
    );
    let url = server.url("/").replace("http://", "http://user:s3cret@");
    let client = HttpClient::new().unwrap();
    let messages = [
        client.fetch(url.as_str()).unwrap_err().to_string(),
        client
            .fetch(HttpRequest::new(url.replace('/', "/x y")).method("BAD METHOD"))
            .unwrap_err()
            .to_string(),
        client
            .fetch(url.replace("127.0.0.1:", "127.0.0.1:9"))
            .unwrap_err()
            .to_string(),
        format!("{:?}", HttpRequest::new(url.as_str())),
    ];
    for message in messages {
        assert!(!message.contains("s3cret"), "{message}");
    }
}

#[test]
fn current_client_at_thread_exit() {
    let server = RawServer::respond_always(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    let url = server.url("/");
    let h = std::thread::spawn(move || {
        let io_loop = tornado_ioloop::IoLoop::new().unwrap();
        io_loop.run_sync(async move {
            let c = tornado_httpclient::AsyncHttpClient::current();
            c.fetch(url.as_str()).await.unwrap();
            assert_eq!(c.idle_connections(), 1);
        });
        drop(io_loop);
    });
    let r = h.join();
    assert!(r.is_ok());
}

#[test]
fn sweeper_after_loop_change() {
    let s1 = RawServer::respond_always(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    let s2 = RawServer::respond_always(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    let client =
        tornado_httpclient::AsyncHttpClient::with_config(tornado_httpclient::ClientConfig {
            pool_idle_timeout: Duration::from_millis(200),
            ..Default::default()
        });
    let (c, u1) = (client.clone(), s1.url("/"));
    tornado_ioloop::IoLoop::new().unwrap().run_sync(async move {
        c.fetch(u1.as_str()).await.unwrap();
    });
    let (c, u2) = (client.clone(), s2.url("/"));
    let idle = tornado_ioloop::IoLoop::new().unwrap().run_sync(async move {
        c.fetch(u2.as_str()).await.unwrap();
        tornado_ioloop::sleep(Duration::from_millis(800)).await;
        c.idle_connections()
    });
    assert_eq!(idle, 0, "idle connections never swept on the second loop");
}

#[test]
fn one_client_two_loops() {
    let s1 = RawServer::respond_always(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    let client = tornado_httpclient::AsyncHttpClient::new();
    let (c, u) = (client.clone(), s1.url("/"));
    tornado_ioloop::IoLoop::new().unwrap().run_sync(async move {
        c.fetch(u.as_str()).await.unwrap();
    });
    let (c, u) = (client.clone(), s1.url("/"));
    let start = Instant::now();
    let r = tornado_ioloop::IoLoop::new().unwrap().run_sync(async move {
        c.fetch(HttpRequest::new(u).request_timeout(Duration::from_secs(3)))
            .await
    });
    assert!(r.is_ok(), "{r:?} after {:?}", start.elapsed());
}
