//! The `hello` example as a user runs it: a separate process that serves, answers, and
//! on SIGTERM (or SIGINT) drains and exits cleanly.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[test]
fn hello_serves_and_stops_gracefully_on_sigterm() {
    let mut hello = common::serve_example("hello", &["--port", "0", "--address", "127.0.0.1"]);
    let mut stream = TcpStream::connect(&hello.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).expect("response");
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nHello, world"), "{text}");

    // SIGTERM: the idle keep-alive connection is closed and the process exits 0.
    hello.send_sigterm();
    let closed = stream
        .read(&mut buf)
        .expect("the server closes the connection");
    assert_eq!(closed, 0, "nothing more after the close");
    let status = hello.wait_exit();
    assert!(status.success(), "{status}");
    let log = hello.log();
    assert!(
        log.iter()
            .any(|l| l.contains("SIGTERM") && l.contains("stopped")),
        "{log:?}"
    );
}
