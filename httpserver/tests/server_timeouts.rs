//! Idle, header and body timeouts, set short here. Assertions are that the connection
//! closes (within the client's read timeout, seconds), never how fast.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use common::{Client, get, serve};
use tornado_httpserver::HttpServerSettings;

const SHORT: Duration = Duration::from_millis(200);

fn settings(f: impl FnOnce(&mut HttpServerSettings)) -> HttpServerSettings {
    let mut s = HttpServerSettings::default();
    f(&mut s);
    s
}

#[test]
fn idle_connection_timeout_closes_unused_and_used_connections() {
    let s = settings(|s| s.idle_connection_timeout = Some(SHORT));
    serve(common::echo, s, |addr| {
        // Never used.
        let mut c = Client::connect(addr);
        c.expect_closed();

        // Idle after a request.
        let mut c = Client::connect(addr);
        c.send(&get("/"));
        assert_eq!(c.read_response().status, 200);
        c.expect_closed();
    });
}

#[test]
fn header_timeout_closes_a_slow_head_but_not_an_idle_connection() {
    let s = settings(|s| {
        s.params.header_timeout = Some(SHORT);
        s.idle_connection_timeout = None;
    });
    serve(common::echo, s, |addr| {
        // Half a head, then nothing: Tornado closes without an answer.
        let mut c = Client::connect(addr);
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n");
        c.expect_closed();

        // The header timeout counts from the first byte: trickling does not extend it.
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let started = Instant::now();
        let mut closed = false;
        let prefix = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ";
        for byte in prefix.iter().chain(std::iter::repeat(&b'a')) {
            if started.elapsed() > common::IO_TIMEOUT {
                break;
            }
            if stream.write_all(&[*byte]).is_err() {
                closed = true;
                break;
            }
            let mut buf = [0u8; 64];
            match stream.read(&mut buf) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(n) => panic!("unexpected answer {:?}", &buf[..n]),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                    closed = true;
                    break;
                }
                Err(_) => {}
            }
        }
        assert!(closed, "a trickled head was not cut off");

        // An idle keep-alive connection is not subject to the header timeout.
        let mut c = Client::connect(addr);
        c.send(&get("/"));
        assert_eq!(c.read_response().status, 200);
        c.expect_silent(SHORT * 3);
        c.send(&get("/later"));
        assert_eq!(c.read_response().field("path").unwrap(), "/later");
    });
}

#[test]
fn body_timeout_closes_a_slow_body() {
    let s = settings(|s| s.params.body_timeout = Some(SHORT));
    serve(common::echo, s, |addr| {
        let mut c = Client::connect(addr);
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
        c.expect_closed();

        let mut c = Client::connect(addr);
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
        c.expect_closed();

        // A body that arrives in time is fine.
        let mut c = Client::connect(addr);
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
        assert_eq!(c.read_response().field("body").unwrap(), "abc");
        // And the body timeout does not apply between requests.
        c.expect_silent(SHORT * 3);
        c.send(&get("/"));
        assert_eq!(c.read_response().status, 200);
    });
}

#[test]
fn the_body_timeout_counts_pauses_not_the_whole_body() {
    assert_eq!(
        tornado_httpserver::http1connection::Http1ConnectionParameters::default().body_timeout,
        Some(tornado_httpserver::http1connection::DEFAULT_BODY_TIMEOUT),
        "a stalled body is not held forever by default"
    );
    let timeout = Duration::from_secs(1);
    let s = settings(|s| s.params.body_timeout = Some(timeout));
    serve(common::echo, s, move |addr| {
        let mut c = Client::connect(addr);
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\n");
        // Each pause is a quarter of the timeout; the whole body takes longer than it.
        for piece in [b"a", b"b", b"c", b"d", b"e", b"f"] {
            std::thread::sleep(timeout / 4);
            c.send(piece);
        }
        assert_eq!(c.read_response().field("body").unwrap(), "abcdef");
    });
}

#[test]
fn timeouts_do_not_cut_a_slow_handler() {
    let s = settings(|s| {
        s.params.header_timeout = Some(SHORT);
        s.params.body_timeout = Some(SHORT);
        s.idle_connection_timeout = Some(SHORT);
    });
    serve(
        |_req: tornado_httpserver::httputil::HttpServerRequest| async {
            tornado_gen::sleep(SHORT * 3).await;
            tornado_httpserver::Response::text("slow")
        },
        s,
        |addr| {
            let mut c = Client::connect(addr);
            c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx");
            let r = c.read_response();
            assert_eq!(r.body, b"slow");
            c.expect_closed();
        },
    );
}
