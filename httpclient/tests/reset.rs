//! A body that runs until the connection closes is complete only when the
//! server closed cleanly: a reset in the middle is an error, never a
//! truncated body handed out as the whole.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use tornado_httpclient::{AsyncHttpClient, ErrorKind};
use tornado_ioloop::IoLoop;

/// Accepts one connection and reads its request head.
fn accept_request(listener: &TcpListener) -> std::net::TcpStream {
    let (mut socket, _) = listener.accept().unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut request = Vec::new();
    let mut buf = [0; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut buf).unwrap();
        assert!(n > 0, "the client closed before its request");
        request.extend_from_slice(&buf[..n]);
    }
    socket
}

/// Serves one connection: the head and part of a body framed by close,
/// then a reset (SO_LINGER 0), or a clean close when `reset` is false.
fn serve_once(reset: bool) -> (String, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let server = thread::spawn(move || {
        let mut socket = accept_request(&listener);
        socket
            .write_all(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\npartial body")
            .unwrap();
        socket.flush().unwrap();
        // Let the client read what was sent before the end comes.
        thread::sleep(Duration::from_millis(100));
        if reset {
            socket2::SockRef::from(&socket)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
        }
    });
    (url, server)
}

#[test]
fn a_reset_cuts_a_body_read_until_close() {
    let (url, server) = serve_once(true);
    let io_loop = IoLoop::new().unwrap();
    let result = io_loop
        .run_sync_timeout(AsyncHttpClient::new().fetch(url), Duration::from_secs(30))
        .expect("the fetch hung");
    server.join().unwrap();
    let err = result.expect_err("a reset body must not count as complete");
    assert!(
        matches!(err.kind(), ErrorKind::Io | ErrorKind::Closed),
        "{err:?}"
    );
    assert_eq!(err.code(), 599);
}

#[test]
fn a_clean_close_ends_a_body_read_until_close() {
    let (url, server) = serve_once(false);
    let io_loop = IoLoop::new().unwrap();
    let response = io_loop
        .run_sync_timeout(AsyncHttpClient::new().fetch(url), Duration::from_secs(30))
        .expect("the fetch hung")
        .unwrap();
    server.join().unwrap();
    assert_eq!(&response.body[..], b"partial body");
}

/// A server that answers before the request body is all sent, and then
/// closes without reading the rest (a 413 for a large upload): the client
/// reports the server's answer, not the failed send.
#[test]
fn an_answer_before_the_body_is_sent_is_the_response() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/upload", listener.local_addr().unwrap());
    let server = thread::spawn(move || {
        let mut socket = accept_request(&listener);
        socket
            .write_all(
                b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big!",
            )
            .unwrap();
        // Servers linger before closing (closing with the body unread
        // resets the connection, and a reset can discard the answer in the
        // client's receive buffer): the client reads the answer meanwhile,
        // while its write is stuck.
        thread::sleep(Duration::from_secs(2));
    });
    let io_loop = IoLoop::new().unwrap();
    let request = tornado_httpclient::HttpRequest::new(url)
        .method("POST")
        .body(vec![b'x'; 32 * 1024 * 1024]);
    let result = io_loop
        .run_sync_timeout(
            AsyncHttpClient::new().fetch(request),
            Duration::from_secs(30),
        )
        .expect("the fetch hung");
    server.join().unwrap();
    let err = result.expect_err("413 is an HTTP error");
    assert_eq!(err.kind(), ErrorKind::Http, "{err:?}");
    assert_eq!(err.code(), 413);
    assert_eq!(&err.response().unwrap().body[..], b"too big!");
}
