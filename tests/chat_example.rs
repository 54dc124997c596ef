//! The `chat` example as a user runs it: a process that serves the page, answers a long
//! poll with the next message posted, and drains on SIGTERM.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Sends `request` on a new connection and reads the whole response (the server closes
/// after it: `Connection: close`).
fn exchange(addr: &str, request: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("response");
    String::from_utf8_lossy(&out).into_owned()
}

/// A form `POST` with `cookie` (`name=value`, or empty for none).
fn post(path: &str, cookie: &str, body: &str) -> String {
    let cookie = if cookie.is_empty() {
        String::new()
    } else {
        format!("Cookie: {cookie}\r\n")
    };
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{cookie}\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// `value` as a form value: every byte but letters and digits percent-encoded.
fn form_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn chat_long_polls_and_stops_gracefully() {
    let mut chat = common::serve_example("chat", &["--port", "0", "--address", "127.0.0.1"]);
    let addr = chat.addr.clone();

    let page = exchange(
        &addr,
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("Tornado Chat Demo"), "{page}");
    // XSRF, as in Tornado's demo: the page sets the cookie and its form carries the
    // token; a POST without them is refused.
    let cookie = page
        .lines()
        .find_map(|l| l.strip_prefix("Set-Cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("an _xsrf cookie")
        .to_string();
    let token = cookie.strip_prefix("_xsrf=").expect("an _xsrf cookie");
    assert!(
        page.contains("<input type=\"hidden\" name=\"_xsrf\" value=\"2|"),
        "{page}"
    );
    let refused = exchange(&addr, &post("/a/message/new", "", "body=no+token"));
    assert!(refused.starts_with("HTTP/1.1 403 "), "{refused}");
    let xsrf = format!("_xsrf={}", form_value(token));

    // A long poll with no messages waits; a post wakes it with the message.
    let poll_addr = addr.clone();
    let (poll_cookie, poll_body) = (cookie.clone(), xsrf.clone());
    let poll = std::thread::spawn(move || {
        exchange(
            &poll_addr,
            &post("/a/message/updates", &poll_cookie, &poll_body),
        )
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !poll.is_finished(),
        "the long poll answered before any message"
    );
    let posted = exchange(
        &addr,
        &post(
            "/a/message/new",
            &cookie,
            &format!("body=hello+%3Cchat%3E&{xsrf}"),
        ),
    );
    assert!(posted.starts_with("HTTP/1.1 200 OK\r\n"), "{posted}");
    assert!(posted.contains("\"body\":\"hello <chat>\""), "{posted}");
    let answer = poll.join().expect("poll thread");
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("hello &lt;chat&gt;"), "{answer}");

    // SIGTERM: the process drains and exits 0.
    let status = chat.terminate();
    assert!(status.success(), "{status}");
}
