//! `xheaders` (client address and scheme from a proxy) and gzip request bodies.

mod common;

use std::io::Write;
use std::net::IpAddr;

use common::{Client, serve};
use flate2::Compression;
use flate2::write::GzEncoder;
use tornado_httpserver::HttpServerSettings;

fn xheaders_settings() -> HttpServerSettings {
    HttpServerSettings {
        xheaders: true,
        trusted_downstream: vec!["5.5.5.5".parse::<IpAddr>().unwrap()],
        ..HttpServerSettings::default()
    }
}

/// Sends a GET with `extra` header lines and returns (remote_ip, protocol).
fn fetch(c: &mut Client, extra: &str) -> (String, String) {
    c.send(format!("GET / HTTP/1.1\r\nHost: x\r\n{extra}\r\n").as_bytes());
    let r = c.read_response();
    assert_eq!(r.status, 200);
    (r.field("remote_ip").unwrap(), r.field("protocol").unwrap())
}

#[test]
fn xheaders_client_address() {
    let rows: Vec<(&str, &str)> = vec![
        ("", "127.0.0.1"),
        ("X-Real-Ip: 4.4.4.4\r\n", "4.4.4.4"),
        ("X-Forwarded-For: 127.0.0.1, 4.4.4.4\r\n", "4.4.4.4"),
        (
            "X-Real-Ip: 2620:0:1cfe:face:b00c::3\r\n",
            "2620:0:1cfe:face:b00c::3",
        ),
        (
            "X-Forwarded-For: ::1, 2620:0:1cfe:face:b00c::3\r\n",
            "2620:0:1cfe:face:b00c::3",
        ),
        // The rightmost address that is not a trusted proxy.
        (
            "X-Forwarded-For: 127.0.0.1, 4.4.4.4, 5.5.5.5\r\n",
            "4.4.4.4",
        ),
        (
            "X-Forwarded-For: 127.0.0.1, 4.4.4.4\r\nX-Forwarded-For: 5.5.5.5\r\n",
            "4.4.4.4",
        ),
        // X-Real-Ip wins over X-Forwarded-For, as in Tornado.
        (
            "X-Forwarded-For: 6.6.6.6\r\nX-Real-Ip: 4.4.4.4\r\n",
            "4.4.4.4",
        ),
        // Invalid addresses are ignored.
        ("X-Real-Ip: 4.4.4.4<script>\r\n", "127.0.0.1"),
        ("X-Forwarded-For: 4.4.4.4, 5.5.5.5<script>\r\n", "127.0.0.1"),
        ("X-Real-Ip: www.google.com\r\n", "127.0.0.1"),
        ("X-Forwarded-For: \r\n", "127.0.0.1"),
        // Several X-Real-Ip lines are one list (`4.4.4.4,5.5.5.5`), no address: a
        // client's own line is not taken over the one a proxy appended.
        ("X-Real-Ip: 4.4.4.4\r\nX-Real-Ip: 5.5.5.5\r\n", "127.0.0.1"),
    ];
    let failures = serve(common::echo, xheaders_settings(), move |addr| {
        let mut failures = Vec::new();
        // All on one connection: nothing from one request may leak into the next.
        let mut c = Client::connect(addr);
        for (extra, want) in rows {
            let (ip, _) = fetch(&mut c, extra);
            if ip != want {
                failures.push(format!("{extra:?}: expected {want}, got {ip}"));
            }
        }
        failures
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn xheaders_scheme() {
    let rows: Vec<(&str, &str)> = vec![
        ("", "http"),
        ("X-Scheme: https\r\n", "https"),
        ("X-Forwarded-Proto: https\r\n", "https"),
        ("X-Forwarded-Proto: https , http\r\n", "http"),
        ("X-Forwarded-Proto: http,https\r\n", "https"),
        ("X-Forwarded-Proto: unknown\r\n", "http"),
        ("X-Scheme: ftp\r\n", "http"),
        ("X-Scheme: https\r\nX-Forwarded-Proto: http\r\n", "https"),
        // Several lines are one list, whose last entry (the nearest proxy's) counts,
        // as in Tornado: a client's own first line does not.
        (
            "X-Forwarded-Proto: https\r\nX-Forwarded-Proto: http\r\n",
            "http",
        ),
        ("X-Scheme: https\r\nX-Scheme: http\r\n", "http"),
        ("", "http"),
    ];
    let failures = serve(common::echo, xheaders_settings(), move |addr| {
        let mut failures = Vec::new();
        let mut c = Client::connect(addr);
        for (extra, want) in rows {
            let (_, proto) = fetch(&mut c, extra);
            if proto != want {
                failures.push(format!("{extra:?}: expected {want}, got {proto}"));
            }
        }
        failures
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn xheaders_reset_for_each_request_on_a_connection() {
    serve(common::echo, xheaders_settings(), |addr| {
        let mut c = Client::connect(addr);
        let with = "X-Real-Ip: 4.4.4.4\r\nX-Scheme: https\r\n";
        assert_eq!(fetch(&mut c, with), ("4.4.4.4".into(), "https".into()));
        assert_eq!(fetch(&mut c, ""), ("127.0.0.1".into(), "http".into()));
        // Pipelined, too.
        c.send(
            format!("GET / HTTP/1.1\r\nHost: x\r\n{with}\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
                .as_bytes(),
        );
        assert_eq!(c.read_response().field("remote_ip").unwrap(), "4.4.4.4");
        let second = c.read_response();
        assert_eq!(second.field("remote_ip").unwrap(), "127.0.0.1");
        assert_eq!(second.field("protocol").unwrap(), "http");
    });
}

#[test]
fn proxy_headers_are_ignored_without_xheaders() {
    serve(common::echo, HttpServerSettings::default(), |addr| {
        let mut c = Client::connect(addr);
        let got = fetch(
            &mut c,
            "X-Real-Ip: 4.4.4.4\r\nX-Forwarded-For: 4.4.4.4\r\nX-Scheme: https\r\n",
        );
        assert_eq!(got, ("127.0.0.1".into(), "http".into()));
    });
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn gzip_post(body: &[u8], chunked: bool) -> Vec<u8> {
    let mut req = b"POST /gz HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Type: application/x-www-form-urlencoded\r\n".to_vec();
    if chunked {
        req.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
        for piece in body.chunks(7) {
            req.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            req.extend_from_slice(piece);
            req.extend_from_slice(b"\r\n");
        }
        req.extend_from_slice(b"0\r\n\r\n");
    } else {
        req.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        req.extend_from_slice(body);
    }
    req
}

fn decompress_settings(max_body_size: u64) -> HttpServerSettings {
    let mut settings = HttpServerSettings::default();
    settings.params.decompress = true;
    settings.params.max_body_size = max_body_size;
    settings
}

#[test]
fn gzip_request_bodies_are_decoded_when_decompress_is_on() {
    let form = b"foo=bar&baz=%E2%9C%93";
    let compressed = gzip(form);
    serve(common::echo, decompress_settings(1024), move |addr| {
        let mut c = Client::connect(addr);
        for chunked in [false, true] {
            c.send(&gzip_post(&compressed, chunked));
            let r = c.read_response();
            assert_eq!(r.status, 200, "chunked={chunked}");
            assert_eq!(r.field("arg:foo").unwrap(), "bar");
            assert_eq!(r.field("arg:baz").unwrap(), "\u{2713}");
            assert_eq!(r.field("body_len").unwrap(), form.len().to_string());
        }
        // Two gzip members back to back decode as one body, as in Tornado.
        let mut two = gzip(b"foo=bar");
        two.extend_from_slice(&gzip(b"&x=y"));
        c.send(&gzip_post(&two, false));
        let r = c.read_response();
        assert_eq!(r.field("body").unwrap(), "foo=bar&x=y");
        // Content-Encoding matching is case-insensitive.
        let req = String::from_utf8(gzip_post(b"", false)).unwrap();
        let mut req = req
            .replace("Content-Encoding: gzip", "Content-Encoding: GZIP")
            .replace(
                "Content-Length: 0",
                &format!("Content-Length: {}", compressed.len()),
            )
            .into_bytes();
        req.extend_from_slice(&compressed);
        c.send(&req);
        assert_eq!(c.read_response().field("arg:foo").unwrap(), "bar");
    });
}

#[test]
fn gzip_bodies_pass_through_when_decompress_is_off() {
    let compressed = gzip(b"foo=bar");
    let len = compressed.len();
    serve(
        |req: tornado_httpserver::httputil::HttpServerRequest| async move {
            tornado_httpserver::Response::text(format!(
                "{} {}",
                req.body.len(),
                req.headers().get("Content-Encoding").unwrap_or("-")
            ))
        },
        HttpServerSettings::default(),
        move |addr| {
            let mut c = Client::connect(addr);
            let mut req = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n".to_vec();
            req.extend_from_slice(format!("Content-Length: {len}\r\n\r\n").as_bytes());
            req.extend_from_slice(&compressed);
            c.send(&req);
            assert_eq!(c.read_response().text(), format!("{len} gzip"));
        },
    );
}

#[test]
fn gzip_bomb_and_bad_gzip_are_rejected() {
    // 1 MiB of zeros compresses to about 1 KiB: under max_body_size on the wire, far
    // over it decoded.
    let bomb = gzip(&vec![b'0'; 1024 * 1024]);
    assert!(bomb.len() < 4096);
    serve(common::echo, decompress_settings(4096), move |addr| {
        for chunked in [false, true] {
            let mut c = Client::connect(addr);
            c.send_lossy(&gzip_post(&bomb, chunked));
            let r = c.read_head();
            assert_eq!(r.status, 413, "chunked={chunked}");
            c.expect_closed();
        }
        let mut c = Client::connect(addr);
        c.send_lossy(&gzip_post(b"this is not gzip at all", false));
        let r = c.read_head();
        assert_eq!(r.status, 400);
        c.expect_closed();
    });
}
