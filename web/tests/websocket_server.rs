//! The WebSocket server over real loopback sockets, driven by a raw client written
//! here (it masks its frames, as a client must): the handshake and every refusal,
//! echo, fragments with a ping between them, the protocol errors and their close
//! codes, compression, pings, and both closing handshakes.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use tornado_iostream::IoStream;
use tornado_web::testing;
use tornado_web::websocket::deflate::{DeflateParams, client_accept, client_offer};
use tornado_web::websocket::frame::{OpCode, encode_frame};
use tornado_web::websocket::{
    CompressionOptions, Message, WebSocket, WebSocketHandler, ZERO_COPY_MIN,
};
use tornado_web::{Application, Context, Settings, url};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

type Log = Rc<RefCell<Vec<String>>>;

/// Echoes, and records its callbacks. `close` asks the server to close with 4000;
/// `fail` returns an error.
struct TestSocket {
    log: Log,
    compress: bool,
    tag: String,
}

impl WebSocketHandler for TestSocket {
    fn get_compression_options(&self, _cx: &Context) -> Option<CompressionOptions> {
        self.compress.then(CompressionOptions::default)
    }

    fn select_subprotocol(&mut self, _cx: &Context, subprotocols: &[&str]) -> Option<String> {
        subprotocols
            .iter()
            .find(|p| p.starts_with("good"))
            .map(|p| p.to_string())
    }

    async fn open(&mut self, ws: &WebSocket, cx: &mut Context) -> tornado_web::Result {
        self.tag = cx.path_arg(0).unwrap_or("").to_owned();
        self.log
            .borrow_mut()
            .push(format!("open {} {:?}", self.tag, ws.selected_subprotocol()));
        Ok(())
    }

    async fn on_message(&mut self, ws: &WebSocket, message: Message) -> tornado_web::Result {
        match message.as_text() {
            Some("close") => ws.close(Some(4000), Some("bye")),
            Some("fail") => return Err(tornado_web::Error::msg("asked to fail")),
            Some("tag") => ws.write_message(self.tag.clone()).await?,
            _ => ws.write_message(message).await?,
        }
        Ok(())
    }

    fn on_ping(&mut self, _ws: &WebSocket, data: &[u8]) {
        self.log
            .borrow_mut()
            .push(format!("ping {}", String::from_utf8_lossy(data)));
    }

    fn on_pong(&mut self, _ws: &WebSocket, _data: &[u8]) {
        self.log.borrow_mut().push("pong".into());
    }

    fn on_close(&mut self, ws: &WebSocket) {
        self.log.borrow_mut().push(format!(
            "close {:?} {:?}",
            ws.close_code(),
            ws.close_reason()
        ));
        let late = ws.write_message("too late");
        tornado_ioloop::spawn_callback({
            let log = self.log.clone();
            async move {
                let r = late.await;
                log.borrow_mut().push(format!(
                    "late write closed={}",
                    r.is_err_and(|e| e.is_closed())
                ));
            }
        });
    }
}

fn app_with(log: &Log, settings: Settings) -> Application {
    let (l1, l2) = (log.clone(), log.clone());
    Application::with_settings(
        vec![
            url(r"/ws/(\w*)", move || TestSocket {
                log: l1.clone(),
                compress: false,
                tag: String::new(),
            }),
            url(r"/deflate", move || TestSocket {
                log: l2.clone(),
                compress: true,
                tag: String::new(),
            }),
        ],
        settings,
    )
}

fn app(log: &Log) -> Application {
    app_with(log, Settings::default())
}

/// A frame as the server sent it.
#[derive(Debug, PartialEq)]
struct Frame {
    fin: bool,
    rsv1: bool,
    opcode: u8,
    payload: Vec<u8>,
}

/// The raw client.
struct Client {
    stream: IoStream,
    status: u16,
    head: String,
    mask_seed: u8,
}

impl Client {
    async fn open(addr: SocketAddr, path: &str, extra: &str) -> Client {
        let stream = IoStream::connect(addr).await.expect("connect");
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        );
        Client::raw(stream, &req).await
    }

    async fn raw(stream: IoStream, request: &str) -> Client {
        stream
            .write(request.as_bytes())
            .await
            .expect("send the request");
        let head = stream
            .read_until(b"\r\n\r\n", Some(65536))
            .await
            .expect("a head");
        let head = String::from_utf8(head.to_vec()).expect("ASCII");
        let status = head[9..12].parse().expect("a status");
        Client {
            stream,
            status,
            head,
            mask_seed: 7,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.split("\r\n").find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The body of a refusal (the server sends Content-Length).
    async fn body(&self) -> String {
        let len: usize = self
            .header("Content-Length")
            .expect("a length")
            .parse()
            .unwrap();
        let b = self.stream.read_bytes(len, false).await.expect("the body");
        String::from_utf8(b.to_vec()).unwrap()
    }

    fn mask(&mut self) -> [u8; 4] {
        self.mask_seed = self.mask_seed.wrapping_mul(31).wrapping_add(17);
        let s = self.mask_seed;
        [s, s ^ 0x5a, s.wrapping_add(3), 0x80 | s]
    }

    async fn send(&mut self, fin: bool, rsv1: bool, opcode: OpCode, payload: &[u8]) {
        let mut out = Vec::new();
        let mask = self.mask();
        encode_frame(&mut out, fin, rsv1, opcode, Some(mask), payload);
        self.stream.write(&out).await.expect("send a frame");
    }

    async fn send_raw(&self, bytes: &[u8]) {
        self.stream.write(bytes).await.expect("send bytes");
    }

    async fn text(&mut self, s: &str) {
        self.send(true, false, OpCode::Text, s.as_bytes()).await;
    }

    /// Text messages in one write, so that they arrive together.
    async fn texts_at_once(&mut self, texts: &[&str]) {
        let mut out = Vec::new();
        for text in texts {
            let mask = self.mask();
            encode_frame(
                &mut out,
                true,
                false,
                OpCode::Text,
                Some(mask),
                text.as_bytes(),
            );
        }
        self.send_raw(&out).await;
    }

    async fn frame(&self) -> Frame {
        let h = self
            .stream
            .read_bytes(2, false)
            .await
            .expect("a frame header");
        assert_eq!(h[1] & 0x80, 0, "server frames are not masked");
        let len = match h[1] & 0x7f {
            126 => {
                let b = self.stream.read_bytes(2, false).await.unwrap();
                u16::from_be_bytes([b[0], b[1]]) as usize
            }
            127 => {
                let b = self.stream.read_bytes(8, false).await.unwrap();
                u64::from_be_bytes(b[..].try_into().unwrap()) as usize
            }
            n => n as usize,
        };
        let payload = if len > 0 {
            self.stream
                .read_bytes(len, false)
                .await
                .expect("a payload")
                .to_vec()
        } else {
            Vec::new()
        };
        Frame {
            fin: h[0] & 0x80 != 0,
            rsv1: h[0] & 0x40 != 0,
            opcode: h[0] & 0x0f,
            payload,
        }
    }

    /// Reads a close frame: its code and reason.
    async fn close_frame(&self) -> (Option<u16>, String) {
        let f = self.frame().await;
        assert_eq!(f.opcode, 8, "a close frame, got {f:?}");
        if f.payload.is_empty() {
            return (None, String::new());
        }
        let code = u16::from_be_bytes([f.payload[0], f.payload[1]]);
        (
            Some(code),
            String::from_utf8(f.payload[2..].to_vec()).unwrap(),
        )
    }

    /// The server closed the TCP connection.
    async fn eof(&self) {
        assert!(
            self.stream.read_bytes(1, false).await.is_err(),
            "expected the end"
        );
    }
}

/// Waits until `log` has a line starting with `prefix`.
async fn wait_for(log: &Log, prefix: &str) {
    while !log.borrow().iter().any(|l| l.starts_with(prefix)) {
        tornado_gen::sleep(Duration::from_millis(2)).await;
    }
}

#[test]
fn handshake_accepts_and_echoes_text_and_binary() {
    let log = Log::default();
    testing::run(
        || app(&log),
        |server| async move {
            let mut c = Client::open(server.addr(), "/ws/a", "").await;
            assert_eq!(c.status, 101, "{}", c.head);
            assert_eq!(c.header("Sec-WebSocket-Accept"), Some(ACCEPT));
            assert!(
                c.header("Upgrade")
                    .unwrap()
                    .eq_ignore_ascii_case("websocket")
            );
            assert!(
                c.header("Connection")
                    .unwrap()
                    .eq_ignore_ascii_case("upgrade")
            );
            assert_eq!(c.header("Sec-WebSocket-Extensions"), None);
            assert_eq!(c.header("Sec-WebSocket-Protocol"), None);

            c.text("hello").await;
            assert_eq!(
                c.frame().await,
                Frame {
                    fin: true,
                    rsv1: false,
                    opcode: 1,
                    payload: b"hello".to_vec()
                }
            );
            c.text("tag").await;
            assert_eq!(c.frame().await.payload, b"a");
            for len in [0usize, 125, 126, 65535, 65536, 200_000] {
                let data: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
                c.send(true, false, OpCode::Binary, &data).await;
                let f = c.frame().await;
                assert_eq!((f.opcode, f.payload.len()), (2, len));
                assert!(f.payload == data);
            }
            // Two messages in one packet.
            let mut both = Vec::new();
            encode_frame(
                &mut both,
                true,
                false,
                OpCode::Text,
                Some([1, 2, 3, 4]),
                b"one",
            );
            encode_frame(
                &mut both,
                true,
                false,
                OpCode::Text,
                Some([5, 6, 7, 8]),
                b"two",
            );
            c.send_raw(&both).await;
            assert_eq!(c.frame().await.payload, b"one");
            assert_eq!(c.frame().await.payload, b"two");
        },
    );
    assert_eq!(log.borrow()[0], "open a None");
}

#[test]
fn every_refusal_answers_with_its_status_and_a_message() {
    let log = Log::default();
    testing::run(
        || {
            app_with(
                &log,
                Settings {
                    trusted_origins: vec!["https://friend.example".into()],
                    ..Settings::default()
                },
            )
        },
        |server| async move {
            let addr = server.addr();
            let base = |upgrade: &str, connection: &str, version: &str, key: &str, extra: &str| {
                format!(
                    "GET /ws/x HTTP/1.1\r\nHost: {addr}\r\n{upgrade}{connection}{version}{key}{extra}\r\n"
                )
            };
            let up = "Upgrade: websocket\r\n";
            let conn = "Connection: Upgrade\r\n";
            let ver = "Sec-WebSocket-Version: 13\r\n";
            let key = format!("Sec-WebSocket-Key: {KEY}\r\n");
            let rows: Vec<(&str, String, u16, &str)> = vec![
                ("no Upgrade", base("", conn, ver, &key, ""), 400, "Upgrade"),
                (
                    "Upgrade: h2c",
                    base("Upgrade: h2c\r\n", conn, ver, &key, ""),
                    400,
                    "Upgrade",
                ),
                (
                    "no Connection",
                    base(up, "", ver, &key, ""),
                    400,
                    "Connection",
                ),
                (
                    "Connection: close",
                    base(up, "Connection: close\r\n", ver, &key, ""),
                    400,
                    "Connection",
                ),
                ("no version", base(up, conn, "", &key, ""), 426, "13"),
                (
                    "version 8",
                    base(up, conn, "Sec-WebSocket-Version: 8\r\n", &key, ""),
                    426,
                    "13",
                ),
                (
                    "no key",
                    base(up, conn, ver, "", ""),
                    400,
                    "Sec-WebSocket-Key",
                ),
                (
                    "short key",
                    base(up, conn, ver, "Sec-WebSocket-Key: c2hvcnQ=\r\n", ""),
                    400,
                    "Sec-WebSocket-Key",
                ),
                (
                    "key not base64",
                    base(
                        up,
                        conn,
                        ver,
                        "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\n",
                        "",
                    ),
                    400,
                    "Sec-WebSocket-Key",
                ),
                (
                    "foreign origin",
                    base(up, conn, ver, &key, "Origin: http://evil.example\r\n"),
                    403,
                    "Cross origin",
                ),
                (
                    "cross-site fetch",
                    base(
                        up,
                        conn,
                        ver,
                        &key,
                        "Sec-Fetch-Site: cross-site\r\nOrigin: http://evil.example\r\n",
                    ),
                    403,
                    "Cross origin",
                ),
                // RFC 6455 4.2.1 asks for a Host; Tornado refuses an upgrade without
                // one (HTTP/1.0 may leave it out) or with an empty one.
                (
                    "HTTP/1.0 without Host",
                    format!("GET /ws/x HTTP/1.0\r\n{up}{conn}{ver}{key}\r\n"),
                    400,
                    "Host",
                ),
                (
                    "empty Host",
                    format!("GET /ws/x HTTP/1.1\r\nHost: \r\n{up}{conn}{ver}{key}\r\n"),
                    400,
                    "Host",
                ),
                (
                    "POST",
                    format!(
                        "POST /ws/x HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n{up}{conn}{ver}{key}\r\n"
                    ),
                    405,
                    "",
                ),
            ];
            for (what, request, status, needle) in rows {
                let stream = IoStream::connect(addr).await.unwrap();
                let c = Client::raw(stream, &request).await;
                assert_eq!(c.status, status, "{what}: {}", c.head);
                let body = c.body().await;
                assert!(body.contains(needle), "{what}: {body:?}");
                if status == 426 {
                    assert_eq!(c.header("Sec-WebSocket-Version"), Some("13"), "{what}");
                }
            }
            // Same origin, a trusted origin, Sec-Fetch-Site: same-origin, and no
            // Origin at all are let through.
            for extra in [
                format!("Origin: http://{addr}\r\n"),
                "Origin: https://friend.example\r\n".to_owned(),
                "Sec-Fetch-Site: same-origin\r\nOrigin: http://other.example\r\n".to_owned(),
                String::new(),
            ] {
                let c = Client::open(addr, "/ws/x", &extra).await;
                assert_eq!(c.status, 101, "{extra:?}: {}", c.head);
            }
        },
    );
}

/// `Connection` is a list, and may come in several header lines (a proxy adding
/// `keep-alive` in a line of its own): `upgrade` in any of them is enough, as Tornado
/// reads the lines joined.
#[test]
fn connection_upgrade_may_be_in_a_later_header_line() {
    let log = Log::default();
    testing::run(
        || app(&log),
        |server| async move {
            let addr = server.addr();
            let request = format!(
                "GET /ws/j HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
                 Connection: keep-alive\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            );
            let stream = IoStream::connect(addr).await.unwrap();
            let mut c = Client::raw(stream, &request).await;
            assert_eq!(c.status, 101, "{}", c.head);
            assert_eq!(c.header("Sec-WebSocket-Accept"), Some(ACCEPT));
            c.text("joined").await;
            assert_eq!(c.frame().await.payload, b"joined");
        },
    );
}

#[test]
fn subprotocols_are_chosen_from_the_offer() {
    let log = Log::default();
    testing::run(
        || app(&log),
        |server| async move {
            let c = Client::open(
                server.addr(),
                "/ws/p",
                "Sec-WebSocket-Protocol: bad, good.v2, good.v1\r\n",
            )
            .await;
            assert_eq!(c.status, 101);
            assert_eq!(c.header("Sec-WebSocket-Protocol"), Some("good.v2"));
            let c = Client::open(server.addr(), "/ws/q", "Sec-WebSocket-Protocol: bad\r\n").await;
            assert_eq!(c.header("Sec-WebSocket-Protocol"), None);
        },
    );
    assert!(
        log.borrow()
            .contains(&"open p Some(\"good.v2\")".to_string())
    );
}

#[test]
fn fragments_with_a_ping_between_them() {
    let log = Log::default();
    testing::run(
        || app(&log),
        |server| async move {
            let mut c = Client::open(server.addr(), "/ws/f", "").await;
            c.send(false, false, OpCode::Text, b"frag").await;
            c.send(false, false, OpCode::Continuation, "men".as_bytes())
                .await;
            c.send(true, false, OpCode::Ping, b"are you there").await;
            assert_eq!(
                c.frame().await,
                Frame {
                    fin: true,
                    rsv1: false,
                    opcode: 0xA,
                    payload: b"are you there".to_vec()
                }
            );
            c.send(true, false, OpCode::Continuation, "ted é".as_bytes())
                .await;
            assert_eq!(c.frame().await.payload, "fragmented é".as_bytes());
        },
    );
    assert!(log.borrow().contains(&"ping are you there".to_string()));
}

/// Sends `frames` and expects a close frame with `code`, then the end of the stream.
fn expect_failure(frames: Vec<(bool, bool, OpCode, Vec<u8>)>, code: u16, settings: Settings) {
    let log = Log::default();
    testing::run(
        || app_with(&log, settings),
        |server| async move {
            let mut c = Client::open(server.addr(), "/ws/e", "").await;
            for (fin, rsv1, op, payload) in frames {
                c.send(fin, rsv1, op, &payload).await;
            }
            assert_eq!(c.close_frame().await.0, Some(code));
            c.eof().await;
        },
    );
    let lines = log.borrow();
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("close")).count(),
        1,
        "{lines:?}"
    );
}

#[test]
fn bad_utf8_closes_with_1007() {
    expect_failure(
        vec![(true, false, OpCode::Text, b"\xce\xba\xed\xa0\x80".to_vec())],
        1007,
        Settings::default(),
    );
    // In a later fragment: refused before the message ends.
    expect_failure(
        vec![
            (false, false, OpCode::Text, b"\xce\xba".to_vec()),
            (false, false, OpCode::Continuation, b"\xf4\x90".to_vec()),
        ],
        1007,
        Settings::default(),
    );
}

#[test]
fn bad_close_codes_and_frames_close_with_1002() {
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
        expect_failure(
            vec![(true, false, OpCode::Close, code.to_be_bytes().to_vec())],
            1002,
            Settings::default(),
        );
    }
    expect_failure(
        vec![(true, false, OpCode::Close, vec![3])],
        1002,
        Settings::default(),
    );
    expect_failure(
        vec![(true, true, OpCode::Text, b"x".to_vec())],
        1002,
        Settings::default(),
    );
    expect_failure(
        vec![(true, false, OpCode::Continuation, b"x".to_vec())],
        1002,
        Settings::default(),
    );
    expect_failure(
        vec![(false, false, OpCode::Ping, b"x".to_vec())],
        1002,
        Settings::default(),
    );
    expect_failure(
        vec![(true, false, OpCode::Ping, vec![0; 126])],
        1002,
        Settings::default(),
    );
}

#[test]
fn too_big_closes_with_1009() {
    let small = || Settings {
        websocket_max_message_size: 1000,
        ..Settings::default()
    };
    expect_failure(
        vec![(true, false, OpCode::Binary, vec![0; 1001])],
        1009,
        small(),
    );
    expect_failure(
        vec![
            (false, false, OpCode::Binary, vec![0; 600]),
            (true, false, OpCode::Continuation, vec![0; 401]),
        ],
        1009,
        small(),
    );
}

#[test]
fn compression_is_negotiated_and_round_trips() {
    let log = Log::default();
    testing::run(
        || app(&log),
        |server| async move {
            let opts = CompressionOptions::default();
            let offer = format!("Sec-WebSocket-Extensions: {}\r\n", client_offer(&opts));
            let mut c = Client::open(server.addr(), "/deflate", &offer).await;
            assert_eq!(c.status, 101);
            let answer = c
                .header("Sec-WebSocket-Extensions")
                .expect("deflate accepted")
                .to_owned();
            let params: DeflateParams = client_accept(&answer, &opts).unwrap();
            let mut compress = params.compressor(false, 6);
            let mut inflate = params.decompressor(false);
            let text = "compress me please, compress me please, compress me please".repeat(20);
            for _ in 0..3 {
                let mut payload = Vec::new();
                compress.compress(text.as_bytes(), &mut payload);
                assert!(payload.len() < text.len() / 4);
                c.send(true, true, OpCode::Text, &payload).await;
                let f = c.frame().await;
                assert!(f.rsv1 && f.opcode == 1, "{f:?}");
                assert!(f.payload.len() < text.len() / 4);
                assert_eq!(
                    inflate.decompress(&f.payload, 1 << 20).unwrap(),
                    text.as_bytes()
                );
            }
            // An uncompressed message on a compressed connection is fine too.
            c.text("plain").await;
            let f = c.frame().await;
            assert_eq!(inflate.decompress(&f.payload, 100).unwrap(), b"plain");

            // Without compression options the offer is declined.
            let c = Client::open(server.addr(), "/ws/n", &offer).await;
            assert_eq!(c.header("Sec-WebSocket-Extensions"), None);
        },
    );
}

/// A `websocket_max_message_size` of `usize::MAX` ("no limit") lets compressed
/// messages through like any other.
#[test]
fn compressed_messages_pass_without_a_size_limit() {
    let log = Log::default();
    let settings = Settings {
        websocket_max_message_size: usize::MAX,
        ..Settings::default()
    };
    testing::run(
        || app_with(&log, settings),
        |server| async move {
            let opts = CompressionOptions::default();
            let offer = format!("Sec-WebSocket-Extensions: {}\r\n", client_offer(&opts));
            let mut c = Client::open(server.addr(), "/deflate", &offer).await;
            let answer = c
                .header("Sec-WebSocket-Extensions")
                .expect("deflate accepted");
            let params = client_accept(answer, &opts).unwrap();
            let mut payload = Vec::new();
            params
                .compressor(false, 6)
                .compress(b"no limit", &mut payload);
            c.send(true, true, OpCode::Text, &payload).await;
            let f = c.frame().await;
            assert_eq!(f.opcode, 1, "an echo, not a close: {f:?}");
            let echoed = params.decompressor(false).decompress(&f.payload, 100);
            assert_eq!(echoed.unwrap(), b"no limit");
        },
    );
}

#[test]
fn server_pings_and_reads_pongs() {
    let log = Log::default();
    let settings = Settings {
        websocket_ping_interval: Some(Duration::from_millis(30)),
        ..Settings::default()
    };
    let l = log.clone();
    testing::run(
        || app_with(&log, settings),
        |server| async move {
            let mut c = Client::open(server.addr(), "/ws/p", "").await;
            for _ in 0..3 {
                let f = c.frame().await;
                assert_eq!(f.opcode, 9, "a ping: {f:?}");
                c.send(true, false, OpCode::Pong, &f.payload).await;
            }
            wait_for(&l, "pong").await;
            c.text("still open").await;
            // Pings may come first.
            let echo = loop {
                let f = c.frame().await;
                if f.opcode != 9 {
                    break f;
                }
            };
            assert_eq!(echo.payload, b"still open");
        },
    );
}

#[test]
fn no_pong_closes_after_the_ping_timeout() {
    let log = Log::default();
    let settings = Settings {
        websocket_ping_interval: Some(Duration::from_millis(30)),
        websocket_ping_timeout: Some(Duration::from_millis(20)),
        ..Settings::default()
    };
    testing::run(
        || app_with(&log, settings),
        |server| async move {
            let c = Client::open(server.addr(), "/ws/t", "").await;
            assert_eq!(c.frame().await.opcode, 9);
            // No pong: the server closes.
            let (code, reason) = c.close_frame().await;
            assert_eq!((code, reason.as_str()), (Some(1000), "ping timed out"));
        },
    );
}

#[test]
fn server_initiated_close_with_code_and_reason() {
    let log = Log::default();
    let l = log.clone();
    testing::run(
        || app(&log),
        |server| async move {
            let mut c = Client::open(server.addr(), "/ws/c", "").await;
            c.text("close").await;
            assert_eq!(c.close_frame().await, (Some(4000), "bye".to_owned()));
            // Messages after the close frame are not answered; the echo of the close
            // ends it.
            c.text("ignored").await;
            c.send(true, false, OpCode::Close, &4000u16.to_be_bytes())
                .await;
            c.eof().await;
            wait_for(&l, "late write").await;
        },
    );
    let lines = log.borrow();
    assert!(
        lines.contains(&"close Some(4000) None".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"late write closed=true".to_string()),
        "{lines:?}"
    );
}

#[test]
fn client_initiated_close_is_echoed() {
    let log = Log::default();
    let l = log.clone();
    testing::run(
        || app(&log),
        |server| async move {
            let mut c = Client::open(server.addr(), "/ws/c", "").await;
            let mut payload = 3001u16.to_be_bytes().to_vec();
            payload.extend_from_slice(b"done");
            c.send(true, false, OpCode::Close, &payload).await;
            assert_eq!(c.close_frame().await.0, Some(3001));
            c.eof().await;
            // An empty close is answered empty.
            let mut c = Client::open(server.addr(), "/ws/d", "").await;
            c.send(true, false, OpCode::Close, b"").await;
            assert_eq!(c.close_frame().await.0, None);
            c.eof().await;
            wait_for(&l, "close None").await;
        },
    );
    let lines = log.borrow();
    assert!(
        lines.contains(&"close Some(3001) Some(\"done\")".to_string()),
        "{lines:?}"
    );
}

#[test]
fn on_close_runs_once_when_the_client_vanishes() {
    let log = Log::default();
    let l = log.clone();
    testing::run(
        || app(&log),
        |server| async move {
            let mut c = Client::open(server.addr(), "/ws/v", "").await;
            c.text("hi").await;
            assert_eq!(c.frame().await.payload, b"hi");
            // Half a frame, then gone.
            c.send_raw(&[0x81, 0x85, 1, 2]).await;
            c.stream.close();
            wait_for(&l, "close").await;
            tornado_gen::sleep(Duration::from_millis(50)).await;
        },
    );
    let lines = log.borrow();
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("close")).count(),
        1,
        "{lines:?}"
    );
    assert!(lines.contains(&"close None None".to_string()), "{lines:?}");
}

/// Shuts the server down with `grace` while `client` runs (given a flag that is set
/// once the shutdown is over), and checks that the shutdown is over when both end.
async fn shutdown_while<F: std::future::Future<Output = ()>>(
    server: &testing::TestServer,
    grace: Duration,
    client: impl FnOnce(Rc<std::cell::Cell<bool>>) -> F,
) {
    let done = Rc::new(std::cell::Cell::new(false));
    let shutdown = async {
        server.server().shutdown(grace).await;
        done.set(true);
    };
    let client = client(done.clone());
    let both: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>>> =
        vec![Box::pin(shutdown), Box::pin(client)];
    tornado_gen::multi(both).await;
    assert!(done.get(), "the shutdown is over");
}

/// A graceful shutdown counts open WebSockets: each is closed with 1001 ("going
/// away"), and the shutdown waits for its closing handshake (Tornado's handlers see
/// `on_close`); one whose peer never answers is closed when the grace is over.
#[test]
fn graceful_shutdown_closes_with_1001_and_waits() {
    let log = Log::default();
    let l = log.clone();
    testing::run(
        || app(&log),
        |server| async move {
            let mut polite = Client::open(server.addr(), "/ws/polite", "").await;
            let mut silent = Client::open(server.addr(), "/ws/silent", "").await;
            polite.text("hi").await;
            assert_eq!(polite.frame().await.payload, b"hi");
            silent.text("hi").await;
            assert_eq!(silent.frame().await.payload, b"hi");

            // A grace long enough for the steps below on a slow machine; the test
            // waits it out for the silent client.
            let grace = Duration::from_secs(2);
            shutdown_while(&server, grace, |done| async move {
                assert_eq!(polite.close_frame().await, (Some(1001), String::new()));
                assert_eq!(silent.close_frame().await, (Some(1001), String::new()));
                // The polite client answers: its connection ends; the shutdown still
                // waits for the silent one.
                polite
                    .send(true, false, OpCode::Close, &1001u16.to_be_bytes())
                    .await;
                polite.eof().await;
                wait_for(&l, "close Some(1001)").await;
                assert!(!done.get(), "the shutdown waits for the silent client");
                // The grace ends: the silent one is closed, and the shutdown is over.
                silent.eof().await;
            })
            .await;
        },
    );
    let lines = log.borrow();
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("close")).count(),
        2,
        "{lines:?}"
    );
}

/// Opens slowly: its `open` waits until told to go on, then tries to write and
/// records whether the write failed.
struct SlowOpen {
    go: Rc<tornado_gen::locks::Event>,
    write_failed: Rc<std::cell::Cell<Option<bool>>>,
}

impl WebSocketHandler for SlowOpen {
    async fn open(&mut self, ws: &WebSocket, _cx: &mut Context) -> tornado_web::Result {
        self.go.wait().await;
        let failed = ws.write_message("late").await.is_err();
        self.write_failed.set(Some(failed));
        Ok(())
    }

    async fn on_message(&mut self, _ws: &WebSocket, _message: Message) -> tornado_web::Result {
        Ok(())
    }
}

/// A socket still in `open` when the shutdown begins is counted as well: it gets its
/// 1001 and the shutdown waits for it.
#[test]
fn graceful_shutdown_during_open_waits_for_the_socket() {
    let go = Rc::new(tornado_gen::locks::Event::new());
    let write_failed = Rc::new(std::cell::Cell::new(None));
    let (g, w) = (go.clone(), write_failed.clone());
    testing::run(
        move || {
            Application::new(vec![url("/slow", move || SlowOpen {
                go: g.clone(),
                write_failed: w.clone(),
            })])
        },
        |server| async move {
            let c = Client::open(server.addr(), "/slow", "").await;
            assert_eq!(c.status, 101);
            shutdown_while(&server, Duration::from_secs(5), |done| async move {
                assert_eq!(c.close_frame().await, (Some(1001), String::new()));
                go.set();
                tornado_gen::sleep(Duration::from_millis(20)).await;
                assert!(!done.get(), "the shutdown waits for the socket");
                c.send_raw(&close_frame_from_client(1001)).await;
                c.eof().await;
            })
            .await;
        },
    );
    // The server began its shutdown while `open` waited: the socket was closing.
    assert_eq!(write_failed.get(), Some(true));
}

/// A handler still busy when the grace ends (its `on_message` waits on something
/// other than the socket) does not hold the shutdown up: the socket is closed and
/// no longer counted, and `on_close` runs once the handler returns.
#[test]
fn graceful_shutdown_ends_after_its_grace_with_a_busy_handler() {
    let entered = Rc::new(tornado_gen::locks::Event::new());
    let go = Rc::new(tornado_gen::locks::Event::new());
    let closed = Rc::new(std::cell::Cell::new(false));
    let (e, g, c) = (entered.clone(), go.clone(), closed.clone());
    testing::run(
        move || {
            Application::new(vec![url("/busy", move || Busy {
                entered: e.clone(),
                go: g.clone(),
                closed: c.clone(),
            })])
        },
        |server| async move {
            let mut c = Client::open(server.addr(), "/busy", "").await;
            c.text("wait").await;
            // The handler is now inside on_message, waiting for `go`.
            entered.wait().await;
            let shutdown = server.server().shutdown(Duration::from_millis(100));
            tornado_gen::with_timeout(Duration::from_secs(3), shutdown)
                .await
                .expect("the shutdown ends after its grace");
            assert!(!closed.get(), "on_message is still running");
            go.set();
            while !closed.get() {
                tornado_gen::sleep(Duration::from_millis(5)).await;
            }
        },
    );
}

/// Says it entered `on_message`, then waits there until told to go on; records
/// `on_close`.
struct Busy {
    entered: Rc<tornado_gen::locks::Event>,
    go: Rc<tornado_gen::locks::Event>,
    closed: Rc<std::cell::Cell<bool>>,
}

impl WebSocketHandler for Busy {
    async fn on_message(&mut self, _ws: &WebSocket, _message: Message) -> tornado_web::Result {
        self.entered.set();
        self.go.wait().await;
        Ok(())
    }

    fn on_close(&mut self, _ws: &WebSocket) {
        self.closed.set(true);
    }
}

/// A masked close frame with `code`.
fn close_frame_from_client(code: u16) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(
        &mut out,
        true,
        false,
        OpCode::Close,
        Some([9, 8, 7, 6]),
        &code.to_be_bytes(),
    );
    out
}

#[test]
fn an_error_in_on_message_closes_with_1011() {
    let log = Log::default();
    testing::run(
        || app(&log),
        |server| async move {
            let mut c = Client::open(server.addr(), "/ws/x", "").await;
            c.text("fail").await;
            assert_eq!(c.close_frame().await.0, Some(1011));
        },
    );
}

/// Echoes without waiting for its writes, except that `wait` answers `waiting`, waits
/// for another connection's `release`, then answers `released`.
struct Waiter {
    released: tornado_gen::locks::Event,
}

impl WebSocketHandler for Waiter {
    async fn on_message(&mut self, ws: &WebSocket, message: Message) -> tornado_web::Result {
        match message.as_text() {
            Some("wait") => {
                ws.write_message("waiting");
                self.released.wait().await;
                ws.write_message("released");
            }
            Some("release") => self.released.set(),
            _ => {
                ws.write_message(message);
            }
        }
        Ok(())
    }
}

fn frames(texts: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for t in texts {
        encode_frame(
            &mut out,
            true,
            false,
            OpCode::Text,
            Some([9, 8, 7, 6]),
            t.as_bytes(),
        );
    }
    out
}

/// Messages that arrive together are answered together, in order, pings included;
/// and a handler that waits mid-way has its earlier answers sent meanwhile (else the
/// client here would never see `waiting`, and nothing would release the handler).
#[test]
fn messages_that_arrive_together_are_answered_in_order_even_when_a_handler_waits() {
    let released = tornado_gen::locks::Event::new();
    testing::run(
        move || {
            let released = released.clone();
            Application::new(vec![url("/", move || Waiter {
                released: released.clone(),
            })])
        },
        |server| async move {
            let c = Client::open(server.addr(), "/", "").await;
            let mut wire = frames(&["a", "b"]);
            encode_frame(
                &mut wire,
                true,
                false,
                OpCode::Ping,
                Some([1, 1, 1, 1]),
                b"p",
            );
            wire.extend(frames(&["c", "wait", "d"]));
            c.send_raw(&wire).await;
            for want in ["a", "b"] {
                assert_eq!(c.frame().await.payload, want.as_bytes());
            }
            assert_eq!(c.frame().await.opcode, 10, "the pong, in its place");
            for want in ["c", "waiting"] {
                assert_eq!(c.frame().await.payload, want.as_bytes());
            }
            let mut other = Client::open(server.addr(), "/", "").await;
            other.text("release").await;
            for want in ["released", "d"] {
                assert_eq!(c.frame().await.payload, want.as_bytes());
            }
            // A batch larger than the limit, answered whole and in order.
            let big = "x".repeat(30_000);
            let mut wire = Vec::new();
            for _ in 0..5 {
                wire.extend(frames(&[&big]));
            }
            wire.extend(frames(&["end"]));
            c.send_raw(&wire).await;
            for _ in 0..5 {
                assert_eq!(c.frame().await.payload.len(), big.len());
            }
            assert_eq!(c.frame().await.payload, b"end");
            // Large binary messages in one write, each with its own bytes and mask,
            // then a small one.
            let blobs: Vec<Vec<u8>> = (0..5u8)
                .map(|k| (0..20_000 + k as usize).map(|i| (i as u8) ^ k).collect())
                .collect();
            let mut wire = Vec::new();
            for (k, blob) in blobs.iter().enumerate() {
                let mask = [k as u8, 0x5a, 0xa5, 0x3c ^ k as u8];
                encode_frame(&mut wire, true, false, OpCode::Binary, Some(mask), blob);
            }
            encode_frame(
                &mut wire,
                true,
                false,
                OpCode::Binary,
                Some([1, 2, 3, 4]),
                b"small",
            );
            c.send_raw(&wire).await;
            for blob in &blobs {
                let f = c.frame().await;
                assert_eq!(f.opcode, 2);
                assert!(
                    f.payload == *blob,
                    "a {}-byte message came back changed",
                    blob.len()
                );
            }
            assert_eq!(c.frame().await.payload, b"small");
        },
    );
}

/// Sends messages of `sizes` in one write (text and binary in turn, each masked) to a
/// server that echoes them, and reads only once everything is sent, so the server's
/// socket can fill and the rest of its output waits in the stream: each must come back
/// whole and in order.
fn echoed_whole_and_in_order(sizes: Vec<usize>) {
    testing::run(
        || {
            Application::new(vec![url("/", || Waiter {
                released: tornado_gen::locks::Event::new(),
            })])
        },
        move |server| async move {
            let c = Client::open(server.addr(), "/", "").await;
            let mut wire = Vec::new();
            let mut sent = Vec::new();
            for (i, &len) in sizes.iter().enumerate() {
                let text = i % 2 == 0;
                let payload: Vec<u8> = (0..len).map(|j| b'a' + ((i + j) % 26) as u8).collect();
                let opcode = if text { OpCode::Text } else { OpCode::Binary };
                let mask = [i as u8, 0x11, 0x22, 0x33];
                encode_frame(&mut wire, true, false, opcode, Some(mask), &payload);
                sent.push((if text { 1 } else { 2 }, payload));
            }
            c.send_raw(&wire).await;
            for (i, (opcode, payload)) in sent.iter().enumerate() {
                let f = c.frame().await;
                assert_eq!(f.opcode, *opcode, "message {i}");
                assert!(
                    f.payload == *payload,
                    "message {i} ({} bytes) came back changed",
                    payload.len()
                );
            }
        },
    );
}

/// Small and large messages that arrive together, some just around `ZERO_COPY_MIN`
/// and some larger than a batch (a large one is written from the message's own
/// bytes, after the small frames batched before it; one past the batch's size makes
/// it go out at once).
#[test]
fn small_and_large_messages_together_come_back_in_order() {
    echoed_whole_and_in_order(
        (0..48)
            .map(|i| match i % 4 {
                0 => 5 + i,
                1 => ZERO_COPY_MIN - 1 + i % 3,
                2 => 3000 + i,
                _ => 70_000 + i,
            })
            .collect(),
    );
}

/// Many messages just over `ZERO_COPY_MIN` between small ones, under 64 KiB in all: a
/// batch fills with more payloads written from their own bytes than one vectored
/// write takes (16), and goes out in several, still in order.
#[test]
fn more_shared_payloads_than_one_batch_write_takes_come_back_in_order() {
    echoed_whole_and_in_order(
        (0..40)
            .map(|i| {
                if i % 2 == 0 {
                    3 + i
                } else {
                    ZERO_COPY_MIN + 17 * i
                }
            })
            .collect(),
    );
}

/// Records each message; `close` closes with 4000.
struct Recorder {
    log: Log,
}

impl WebSocketHandler for Recorder {
    async fn on_message(&mut self, ws: &WebSocket, message: Message) -> tornado_web::Result {
        let text = message.as_text().unwrap_or("?").to_owned();
        self.log.borrow_mut().push(format!("message {text}"));
        if text == "close" {
            ws.close(Some(4000), None);
        } else {
            // After this end's close, a write fails (the handler is not told twice).
            ws.write_message(message).await?;
        }
        Ok(())
    }

    fn on_close(&mut self, ws: &WebSocket) {
        self.log
            .borrow_mut()
            .push(format!("close {:?}", ws.close_code()));
    }
}

/// Messages the client sent before it saw the server's close frame still reach
/// `on_message`, as Tornado hands them on until the client's close: only the peer's
/// close frame ends what is read.
#[test]
fn messages_sent_before_the_client_saw_the_close_reach_on_message() {
    let log = Log::default();
    let l = log.clone();
    testing::run(
        || {
            let log = log.clone();
            Application::new(vec![url("/rec", move || Recorder { log: log.clone() })])
        },
        |server| async move {
            let mut c = Client::open(server.addr(), "/rec", "").await;
            // All in one write: the last two are in flight when the server closes.
            c.texts_at_once(&["close", "one", "two"]).await;
            assert_eq!(c.close_frame().await.0, Some(4000));
            c.send(true, false, OpCode::Close, &4000u16.to_be_bytes())
                .await;
            c.eof().await;
            wait_for(&l, "close").await;
        },
    );
    assert_eq!(
        *log.borrow(),
        [
            "message close",
            "message one",
            "message two",
            "close Some(4000)"
        ]
    );
}

/// A handler whose `on_message` failed gets no more messages: the connection is
/// closed with 1011 and what follows is dropped, as Tornado aborts it.
#[test]
fn a_failed_handler_gets_no_more_messages() {
    struct FailOnce {
        log: Log,
    }
    impl WebSocketHandler for FailOnce {
        async fn on_message(&mut self, _ws: &WebSocket, message: Message) -> tornado_web::Result {
            let text = message.as_text().unwrap_or("?").to_owned();
            self.log.borrow_mut().push(format!("message {text}"));
            Err(tornado_web::Error::msg("failed"))
        }
        fn on_close(&mut self, _ws: &WebSocket) {
            self.log.borrow_mut().push("close".into());
        }
    }
    let log = Log::default();
    let l = log.clone();
    testing::run(
        || {
            let log = log.clone();
            Application::new(vec![url("/fail", move || FailOnce { log: log.clone() })])
        },
        |server| async move {
            let mut c = Client::open(server.addr(), "/fail", "").await;
            c.texts_at_once(&["one", "two"]).await;
            assert_eq!(c.close_frame().await.0, Some(1011));
            c.send(true, false, OpCode::Close, &1011u16.to_be_bytes())
                .await;
            c.eof().await;
            wait_for(&l, "close").await;
        },
    );
    assert_eq!(*log.borrow(), ["message one", "close"]);
}
