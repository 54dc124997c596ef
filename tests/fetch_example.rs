//! The `fetch` example as a user runs it, against a small server on 127.0.0.1 written
//! here on plain `std::net` (so the client meets a server that is not ours).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use common::{RefusedPort, Run, run_example};

/// Serves on 127.0.0.1, one thread per connection, one request per connection:
/// - `/hello`: 200, `hello, world\n`, with `X-Test: yes`
/// - `/binary`: 200, the bytes 0 to 255
/// - `/echo`: 200, the request as received (head and body)
/// - `/redirect`: 302 to `/hello`, body `moved\n`
/// - `/slow`: no answer for 10 s
/// - anything else: 404, `no such page\n`
fn serve() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || answer(stream));
        }
    });
    addr
}

fn answer(mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut request = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&request[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while request.len() < head_end + length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&chunk[..n]),
        }
    }
    let target = head.split(' ').nth(1).unwrap_or("");
    // Through a proxy the target is an absolute URL.
    let path = match target.split_once("://") {
        Some((_, rest)) => &rest[rest.find('/').unwrap_or(rest.len())..],
        None => target,
    };
    let (status, headers, body): (&str, &str, Vec<u8>) = match path {
        "/hello" => ("200 OK", "X-Test: yes\r\n", b"hello, world\n".to_vec()),
        "/binary" => ("200 OK", "", (0..=255).collect()),
        "/echo" => ("200 OK", "", request.clone()),
        "/redirect" => ("302 Found", "Location: /hello\r\n", b"moved\n".to_vec()),
        "/slow" => {
            thread::sleep(Duration::from_secs(10));
            return;
        }
        _ => ("404 Not Found", "", b"no such page\n".to_vec()),
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(&body);
    let _ = stream.write_all(&response);
}

fn fetch(args: &[&str]) -> Run {
    run_example("fetch", args)
}

#[test]
fn the_body_goes_to_stdout_as_raw_bytes() {
    let addr = serve();
    let run = fetch(&[&format!("http://{addr}/binary")]);
    assert!(run.status.success(), "{run:?}");
    assert_eq!(run.stdout, (0..=255).collect::<Vec<u8>>());
    assert_eq!(run.stderr, "");
}

#[test]
fn print_headers_puts_the_head_first() {
    let addr = serve();
    let run = fetch(&["--print-headers", &format!("http://{addr}/hello")]);
    assert!(run.status.success(), "{run:?}");
    let out = run.stdout_text();
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.contains("\r\nX-Test: yes\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\nhello, world\n"), "{out}");

    let run = fetch(&[
        &format!("http://{addr}/hello"),
        "--print-headers",
        "--no-print-body",
    ]);
    assert!(run.status.success(), "{run:?}");
    let out = run.stdout_text();
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.ends_with("X-Test: yes\r\n\r\n"), "{out}");
}

#[test]
fn method_data_and_headers_are_sent() {
    let addr = serve();
    let url = format!("http://{addr}/echo");
    let run = fetch(&[
        &url,
        "--data",
        "a=1&b=2",
        "--header",
        "X-One: 1",
        "--header",
        "X-Two:two words ",
    ]);
    assert!(run.status.success(), "{run:?}");
    let echo = run.stdout_text();
    assert!(echo.starts_with("POST /echo HTTP/1.1\r\n"), "{echo}");
    assert!(echo.contains("\r\nContent-Length: 7\r\n"), "{echo}");
    assert!(echo.contains("\r\nX-One: 1\r\n"), "{echo}");
    assert!(echo.contains("\r\nX-Two: two words\r\n"), "{echo}");
    assert!(echo.ends_with("\r\n\r\na=1&b=2"), "{echo}");

    let run = fetch(&[&url, "--method", "PUT", "--data", "x"]);
    assert!(run.status.success(), "{run:?}");
    let echo = run.stdout_text();
    assert!(echo.starts_with("PUT /echo HTTP/1.1\r\n"), "{echo}");
    assert!(echo.ends_with("\r\n\r\nx"), "{echo}");

    let run = fetch(&[&url, "--method", "DELETE"]);
    assert!(run.stdout_text().starts_with("DELETE /echo "), "{run:?}");
}

#[test]
fn a_404_prints_its_body_and_fails() {
    let addr = serve();
    let url = format!("http://{addr}/nothing-here");
    let run = fetch(&[&url]);
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert_eq!(run.stdout_text(), "no such page\n");
    assert!(run.stderr.contains(&url), "{}", run.stderr);
    assert!(run.stderr.contains("HTTP 404: Not Found"), "{}", run.stderr);
}

#[test]
fn a_refused_connection_fails_with_the_error_on_stderr() {
    let refused = RefusedPort::new();
    let port = refused.port;
    let run = fetch(&[&format!("http://127.0.0.1:{port}/")]);
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
    assert!(
        run.stderr.to_lowercase().contains("refused"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_timeout_fails() {
    let addr = serve();
    let run = fetch(&["--timeout", "0.5", &format!("http://{addr}/slow")]);
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert!(run.stderr.contains("Timeout"), "{}", run.stderr);
}

#[test]
fn redirects_are_followed_unless_asked_not_to() {
    let addr = serve();
    let url = format!("http://{addr}/redirect");
    let run = fetch(&[&url]);
    assert!(run.status.success(), "{run:?}");
    assert_eq!(run.stdout_text(), "hello, world\n");

    let run = fetch(&["--no-follow-redirects", "--print-headers", &url]);
    assert!(run.status.success(), "{run:?}");
    let out = run.stdout_text();
    assert!(out.starts_with("HTTP/1.1 302 Found\r\n"), "{out}");
    assert!(out.contains("\r\nLocation: /hello\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\nmoved\n"), "{out}");
}

#[test]
fn a_proxy_gets_the_absolute_url() {
    let addr = serve();
    // The name is never resolved: the request goes to the proxy.
    let run = fetch(&["--proxy", &addr.to_string(), "http://example.invalid/echo"]);
    assert!(run.status.success(), "{run:?}");
    let echo = run.stdout_text();
    assert!(
        echo.starts_with("GET http://example.invalid/echo HTTP/1.1\r\n"),
        "{echo}"
    );
    assert!(echo.contains("\r\nHost: example.invalid\r\n"), "{echo}");
}

#[test]
fn several_urls_are_fetched_in_order() {
    let addr = serve();
    let run = fetch(&[
        &format!("http://{addr}/hello"),
        &format!("http://{addr}/missing"),
        &format!("http://{addr}/hello"),
    ]);
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert_eq!(
        run.stdout_text(),
        "hello, world\nno such page\nhello, world\n"
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["--timeout", "soon", "http://127.0.0.1:1/"],
        &["--header", "no colon", "http://127.0.0.1:1/"],
        &["--bogus", "http://127.0.0.1:1/"],
    ] {
        let run = fetch(args);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {run:?}");
        assert!(run.stderr.contains("usage: fetch"), "{}", run.stderr);
        assert!(run.stdout.is_empty());
    }
}
