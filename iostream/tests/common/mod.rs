//! Helpers the stream tests share: a loop to run a test on, with a hard timeout, and
//! connected socket pairs on 127.0.0.1.
#![allow(dead_code)]

pub mod emfile;

use std::future::Future;
use std::net::TcpListener;
use std::time::Duration;

use tornado_ioloop::IoLoop;
use tornado_iostream::IoStream;

/// Runs `f` on a fresh loop; fails the test after 10 s.
pub fn run<F: Future + 'static>(f: F) -> F::Output {
    IoLoop::new()
        .unwrap()
        .run_sync_timeout(f, Duration::from_secs(10))
        .expect("test timed out")
}

/// A connected pair of TCP streams on 127.0.0.1.
pub async fn tcp_pair() -> (IoStream, IoStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = IoStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().unwrap();
    server.set_nonblocking(true).unwrap();
    let server = IoStream::new(mio::net::TcpStream::from_std(server)).unwrap();
    (client, server)
}

/// A TCP stream and the blocking std socket at its other end (whose reads give up
/// after 10 s, so a test fails instead of hanging).
pub async fn tcp_raw() -> (IoStream, std::net::TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let stream = IoStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (raw, _) = listener.accept().unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    (stream, raw)
}

/// A connected pair of Unix socket streams.
pub fn unix_pair() -> (IoStream, IoStream) {
    let (a, b) = mio::net::UnixStream::pair().unwrap();
    (IoStream::new(a).unwrap(), IoStream::new(b).unwrap())
}
