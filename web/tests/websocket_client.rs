//! The WebSocket client (`websocket_connect`) over real loopback sockets: against
//! this crate's own `WebSocketHandler` server (echo, large and compressed messages,
//! subprotocols, custom headers, refusals, closing both ways, pings, the message
//! callback, the size limit, `wss://`), against raw servers on threads for what our
//! server never sends (fragments with a ping between them, a masked frame, bytes
//! right behind the 101, an abrupt end), and through a `CONNECT` proxy.
//!
//! Every test runs under a hard timeout ([`TIMEOUT`]) and every raw socket has read
//! and write timeouts, so a bug fails instead of hanging; nothing asserts on time.

use std::cell::RefCell;
use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tornado_httpclient::{ErrorKind, HttpRequest, Phase};
use tornado_httpserver::HttpServer;
use tornado_ioloop::IoLoop;
use tornado_web::websocket::frame::{OpCode, encode_frame, parse_close_payload};
use tornado_web::websocket::handshake::accept_key;
use tornado_web::websocket::{
    CompressionOptions, Message, WebSocket, WebSocketHandler, websocket_connect,
};
use tornado_web::{Application, Context, RequestHandler, Settings, url};

/// The most a whole test may take.
const TIMEOUT: Duration = Duration::from_secs(20);
/// The most one raw socket read or write may block.
const IO_TIMEOUT: Duration = Duration::from_secs(15);

fn run<F: Future + 'static>(f: F) -> F::Output {
    IoLoop::new()
        .expect("a loop")
        .run_sync_timeout(f, TIMEOUT)
        .expect("test timed out")
}

type Log = Rc<RefCell<Vec<String>>>;

/// Waits (within the test's timeout) until the log has a line starting with `prefix`.
async fn logged(log: &Log, prefix: &str) -> String {
    loop {
        if let Some(line) = log.borrow().iter().find(|l| l.starts_with(prefix)) {
            return line.clone();
        }
        tornado_gen::sleep(Duration::from_millis(5)).await;
    }
}

/// The server's handler: echoes, and records its callbacks. What else it does
/// depends on its route: `/header` sends the `X-Test` header on open,
/// `/close_reason` closes at once with 1001, `/ping` answers each ping with its
/// data as a binary message; the text "close" makes it close with 4000.
struct TestSocket {
    log: Log,
    compression: Option<CompressionOptions>,
    route: String,
}

impl WebSocketHandler for TestSocket {
    fn get_compression_options(&self, _cx: &Context) -> Option<CompressionOptions> {
        self.compression.clone()
    }

    fn select_subprotocol(&mut self, _cx: &Context, subprotocols: &[&str]) -> Option<String> {
        subprotocols
            .iter()
            .find(|p| p.starts_with("good"))
            .map(|p| p.to_string())
    }

    async fn open(&mut self, ws: &WebSocket, cx: &mut Context) -> tornado_web::Result {
        self.route = cx.request().path().to_owned();
        self.log.borrow_mut().push(format!(
            "open {:?} compressed={}",
            ws.selected_subprotocol(),
            ws.is_compressed()
        ));
        match self.route.as_str() {
            "/header" => {
                let value = cx.request().headers().get("X-Test").unwrap_or("none");
                ws.write_message(value.to_owned());
            }
            "/close_reason" => ws.close(Some(1001), Some("goodbye")),
            _ => {}
        }
        Ok(())
    }

    async fn on_message(&mut self, ws: &WebSocket, message: Message) -> tornado_web::Result {
        match message.as_text() {
            Some("close") => ws.close(Some(4000), Some("bye")),
            _ => {
                let _ = ws.write_message(message);
            }
        }
        Ok(())
    }

    fn on_ping(&mut self, ws: &WebSocket, data: &[u8]) {
        if self.route == "/ping" {
            ws.write_message(data.to_vec());
        }
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
    }
}

/// A plain page: a WebSocket handshake to it gets a 200.
struct Plain;

impl RequestHandler for Plain {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.write("not a websocket");
        Ok(())
    }
}

fn app_with(log: &Log, settings: Settings) -> Application {
    let route = |pattern: &str, compression: Option<CompressionOptions>| {
        let log = log.clone();
        url(pattern, move || TestSocket {
            log: log.clone(),
            compression: compression.clone(),
            route: String::new(),
        })
    };
    Application::with_settings(
        vec![
            route("/echo", None),
            route("/header", None),
            route("/close_reason", None),
            route("/ping", None),
            route("/deflate", Some(CompressionOptions::default())),
            route(
                "/deflate_nct",
                Some(CompressionOptions {
                    server_no_context_takeover: true,
                    client_no_context_takeover: true,
                    ..CompressionOptions::default()
                }),
            ),
            route(
                "/deflate_small",
                Some(CompressionOptions {
                    server_max_window_bits: 10,
                    client_max_window_bits: Some(9),
                    ..CompressionOptions::default()
                }),
            ),
            url("/plain", || Plain),
        ],
        settings,
    )
}

/// Serves the test application on 127.0.0.1; gives its `ws://` base URL.
fn serve(log: &Log, settings: Settings) -> (HttpServer, String) {
    let server = app_with(log, settings)
        .listen_on(0, Some("127.0.0.1"))
        .expect("listen");
    let base = format!("ws://{}", server.local_addrs()[0]);
    (server, base)
}

fn new_log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

fn text(s: &str) -> Option<Message> {
    Some(Message::Text(s.to_owned()))
}

#[test]
fn echo_text_and_binary() {
    run(async {
        let log = new_log();
        let (server, base) = serve(&log, Settings::default());
        let conn = websocket_connect(format!("{base}/echo")).await.unwrap();
        assert_eq!(conn.response().code, 101);
        assert!(conn.headers().contains("Sec-WebSocket-Accept"));
        assert_eq!(conn.selected_subprotocol(), None);
        assert!(!conn.is_compressed() && !conn.is_closed());

        conn.write_message("hello").await.unwrap();
        assert_eq!(conn.read_message().await, text("hello"));
        conn.write_message(vec![0u8, 1, 2, 255]).await.unwrap();
        assert_eq!(
            conn.read_message().await,
            Some(Message::Binary(vec![0u8, 1, 2, 255].into()))
        );
        conn.write_message("").await.unwrap();
        assert_eq!(conn.read_message().await, text(""));
        // Several written at once come back in order.
        for i in 0..20 {
            conn.write_message(format!("m{i}"));
        }
        for i in 0..20 {
            assert_eq!(conn.read_message().await, text(&format!("m{i}")));
        }
        assert_eq!(logged(&log, "open").await, "open None compressed=false");
        server.stop();
    });
}

#[test]
fn large_messages_plain_and_compressed() {
    run(async {
        let log = new_log();
        let (server, base) = serve(&log, Settings::default());
        let binary: Vec<u8> = (0..1_000_003u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let big_text: String = (0..60_000).map(|i| format!("{} ", i % 977)).collect();
        for (path, compress) in [("/echo", false), ("/deflate", true)] {
            let mut connect = websocket_connect(format!("{base}{path}"));
            if compress {
                connect = connect.compression(CompressionOptions::default());
            }
            let conn = connect.await.unwrap();
            assert_eq!(conn.is_compressed(), compress);
            conn.write_message(binary.clone());
            conn.write_message(big_text.clone());
            assert_eq!(
                conn.read_message().await,
                Some(Message::Binary(binary.clone().into()))
            );
            assert_eq!(conn.read_message().await, text(&big_text));
            conn.close(None, None);
            assert_eq!(conn.read_message().await, None);
        }
        server.stop();
    });
}

#[test]
fn compression_is_negotiated_with_its_parameters() {
    run(async {
        let log = new_log();
        let (server, base) = serve(&log, Settings::default());
        let default = CompressionOptions::default();
        let asking = CompressionOptions {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 9,
            client_max_window_bits: Some(10),
            compression_level: 9,
        };
        let rows: [(&str, Option<CompressionOptions>, Option<&str>); 6] = [
            (
                "/deflate",
                Some(default.clone()),
                Some("permessage-deflate"),
            ),
            (
                "/deflate_nct",
                Some(default.clone()),
                Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
            ),
            (
                "/deflate_small",
                Some(default.clone()),
                Some("permessage-deflate; server_max_window_bits=10; client_max_window_bits=9"),
            ),
            (
                "/deflate",
                Some(asking),
                Some(
                    "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                     server_max_window_bits=9; client_max_window_bits=10",
                ),
            ),
            // The server does not compress, or the client does not offer.
            ("/echo", Some(default.clone()), None),
            ("/deflate", None, None),
        ];
        let message = "a message that compresses, a message that compresses well ".repeat(40);
        for (path, offer, answer) in rows {
            let mut connect = websocket_connect(format!("{base}{path}"));
            if let Some(offer) = offer {
                connect = connect.compression(offer);
            }
            let conn = connect.await.unwrap();
            assert_eq!(
                conn.headers().get("Sec-WebSocket-Extensions"),
                answer,
                "{path}"
            );
            assert_eq!(conn.is_compressed(), answer.is_some(), "{path}");
            // Several messages: a kept (or dropped) context must agree at both ends.
            for i in 0..5 {
                let m = format!("{message}{i}");
                conn.write_message(m.clone());
                assert_eq!(conn.read_message().await, text(&m), "{path}");
                conn.write_message(m.as_bytes().to_vec());
                assert_eq!(
                    conn.read_message().await,
                    Some(Message::Binary(m.into_bytes().into())),
                    "{path}"
                );
            }
            conn.close(Some(1000), None);
            assert_eq!(conn.read_message().await, None);
            assert_eq!(conn.close_code(), Some(1000));
        }
        let opened = log
            .borrow()
            .iter()
            .filter(|l| l.starts_with("open"))
            .count();
        assert_eq!(opened, 6);
        server.stop();
    });
}

#[test]
fn subprotocols_are_offered_and_the_selection_checked() {
    run(async {
        let log = new_log();
        let (server, base) = serve(&log, Settings::default());
        let conn = websocket_connect(format!("{base}/echo"))
            .subprotocols(["bad", "good2", "good3"])
            .await
            .unwrap();
        assert_eq!(conn.selected_subprotocol(), Some("good2"));
        assert_eq!(
            logged(&log, "open").await,
            "open Some(\"good2\") compressed=false"
        );
        // None the server likes: none selected.
        let conn2 = websocket_connect(format!("{base}/echo"))
            .subprotocols(["bad"])
            .await
            .unwrap();
        assert_eq!(conn2.selected_subprotocol(), None);
        // Offered in the request's own header.
        let request =
            HttpRequest::new(format!("{base}/echo")).header("Sec-WebSocket-Protocol", "good1");
        let conn3 = websocket_connect(request).await.unwrap();
        assert_eq!(conn3.selected_subprotocol(), Some("good1"));
        drop((conn, conn2, conn3));
        server.stop();
    });
}

#[test]
fn custom_headers_reach_the_server() {
    run(async {
        let log = new_log();
        let (server, base) = serve(&log, Settings::default());
        let request = HttpRequest::new(format!("{base}/header")).header("X-Test", "hello");
        let conn = websocket_connect(request).await.unwrap();
        assert_eq!(conn.read_message().await, text("hello"));
        server.stop();
    });
}

#[test]
fn refusals_are_errors_carrying_their_status() {
    run(async {
        let log = new_log();
        let (server, base) = serve(&log, Settings::default());
        let err = websocket_connect(format!("{base}/notfound"))
            .await
            .unwrap_err();
        assert_eq!((err.kind(), err.code()), (ErrorKind::Http, 404), "{err}");

        // A cross-origin upgrade: check_origin refuses it.
        let request =
            HttpRequest::new(format!("{base}/echo")).header("Origin", "http://evil.example");
        let err = websocket_connect(request).await.unwrap_err();
        assert_eq!((err.kind(), err.code()), (ErrorKind::Http, 403), "{err}");
        assert_eq!(
            err.response().unwrap().text().unwrap(),
            "Cross origin websockets not allowed"
        );

        // A page that is not a WebSocket answers 200: not an upgrade either.
        let err = websocket_connect(format!("{base}/plain"))
            .await
            .unwrap_err();
        assert_eq!((err.kind(), err.code()), (ErrorKind::Http, 200), "{err}");

        // Not a ws:// URL.
        let http = base.replacen("ws://", "http://", 1);
        let err = websocket_connect(format!("{http}/echo")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
        assert!(log.borrow().is_empty(), "{:?}", log.borrow());
        server.stop();
    });
}

#[test]
fn a_listener_that_never_accepts_times_out_connecting() {
    use socket2::{Domain, Socket, Type};
    // A backlog of 0 and its queue filled: the kernel drops further SYNs, so a
    // connect neither completes nor fails.
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let mut queued = Vec::new();
    for _ in 0..8 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => queued.push(s),
            Err(_) => break,
        }
    }
    run(async move {
        let err = websocket_connect(format!("ws://{addr}/"))
            .connect_timeout(Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(err.is_timeout(), "{err}");
        assert_eq!(err.phase(), Some(Phase::Connect));
    });
    drop((queued, socket));
}

#[test]
fn the_request_timeout_bounds_the_handshake() {
    // The kernel accepts; nothing ever answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    run(async move {
        let request =
            HttpRequest::new(format!("ws://{addr}/")).request_timeout(Duration::from_millis(200));
        let err = websocket_connect(request).await.unwrap_err();
        assert!(err.is_timeout(), "{err}");
        assert_eq!(err.phase(), Some(Phase::Receive));
    });
    drop(listener);
}

#[test]
fn the_server_closes_with_a_code_and_reason() {
    run(async {
        let log = new_log();
        let (server, base) = serve(&log, Settings::default());
        let conn = websocket_connect(format!("{base}/close_reason"))
            .await
            .unwrap();
        assert_eq!(conn.read_message().await, None);
        assert_eq!(conn.close_code(), Some(1001));
        assert_eq!(conn.close_reason().as_deref(), Some("goodbye"));
        assert!(conn.is_closed());
        // The client echoed the code.
        assert_eq!(logged(&log, "close").await, "close Some(1001) None");
        // Reading again still says closed; writing is an error.
        assert_eq!(conn.read_message().await, None);
        let err = conn.write_message("late").await.unwrap_err();
        assert!(err.is_closed(), "{err}");
        assert!(conn.ping(b"").unwrap_err().is_closed());
        server.stop();
    });
}

#[test]
fn the_client_closes_with_a_code_and_reason() {
    run(async {
        let log = new_log();
        let (server, base) = serve(&log, Settings::default());
        let conn = websocket_connect(format!("{base}/echo")).await.unwrap();
        conn.write_message("before").await.unwrap();
        assert_eq!(conn.read_message().await, text("before"));
        conn.close(Some(4001), Some("client bye"));
        // At once, before the server answers: writes fail.
        assert!(conn.is_closed());
        assert!(conn.write_message("after").is_err());
        assert_eq!(conn.read_message().await, None);
        assert_eq!(
            logged(&log, "close").await,
            "close Some(4001) Some(\"client bye\")"
        );
        // The server echoed the code.
        assert_eq!(conn.close_code(), Some(4001));
        // And a message asking the server to close: its code and reason.
        let conn = websocket_connect(format!("{base}/echo")).await.unwrap();
        conn.write_message("close");
        assert_eq!(conn.read_message().await, None);
        assert_eq!(conn.close_code(), Some(4000));
        assert_eq!(conn.close_reason().as_deref(), Some("bye"));
        server.stop();
    });
}

#[test]
fn dropping_the_connection_closes_it() {
    run(async {
        let log = new_log();
        let (server, base) = serve(&log, Settings::default());
        let conn = websocket_connect(format!("{base}/echo")).await.unwrap();
        // A message left unread does not hold the connection open.
        conn.write_message("unread").await.unwrap();
        logged(&log, "open").await;
        drop(conn);
        assert_eq!(logged(&log, "close").await, "close None None");
        server.stop();
    });
}

#[test]
fn pings_both_ways() {
    run(async {
        let log = new_log();
        let (server, base) = serve(&log, Settings::default());
        let conn = websocket_connect(format!("{base}/ping")).await.unwrap();
        // A manual ping: the server's on_ping writes its data back.
        conn.ping(b"hello").unwrap();
        assert_eq!(
            conn.read_message().await,
            Some(Message::Binary(b"hello".to_vec().into()))
        );
        let err = conn.ping(&[b'a'; 126]).unwrap_err();
        assert!(!err.is_closed(), "{err}");
        drop(conn);

        // Periodic pings from the client.
        let conn = websocket_connect(format!("{base}/ping"))
            .ping_interval(Duration::from_millis(10))
            .ping_timeout(Duration::ZERO)
            .await
            .unwrap();
        for _ in 0..3 {
            assert_eq!(
                conn.read_message().await,
                Some(Message::Binary(Vec::new().into()))
            );
        }
        conn.close(None, None);
        server.stop();

        // Periodic pings from the server: the client answers them by itself.
        let log = new_log();
        let settings = Settings {
            websocket_ping_interval: Some(Duration::from_millis(10)),
            websocket_ping_timeout: Some(Duration::from_millis(10)),
            ..Settings::default()
        };
        let (server, base) = serve(&log, settings);
        let conn = websocket_connect(format!("{base}/echo")).await.unwrap();
        logged(&log, "pong").await;
        conn.write_message("still open").await.unwrap();
        assert_eq!(conn.read_message().await, text("still open"));
        assert!(!log.borrow().iter().any(|l| l.starts_with("close")));
        server.stop();
    });
}

#[test]
fn the_message_callback_gets_each_message_then_none() {
    run(async {
        let log = new_log();
        let (server, base) = serve(&log, Settings::default());
        let got: Rc<RefCell<Vec<Option<Message>>>> = Rc::default();
        let sink = got.clone();
        let conn = websocket_connect(format!("{base}/echo"))
            .on_message_callback(move |m| sink.borrow_mut().push(m))
            .await
            .unwrap();
        conn.write_message("one");
        conn.write_message(vec![2u8]);
        while got.borrow().len() < 2 {
            tornado_gen::sleep(Duration::from_millis(5)).await;
        }
        conn.close(None, None);
        // read_message sees only the end.
        assert_eq!(conn.read_message().await, None);
        assert_eq!(
            *got.borrow(),
            [text("one"), Some(Message::Binary(vec![2u8].into())), None]
        );
        server.stop();
    });
}

#[test]
fn a_message_over_max_message_size_closes_with_1009() {
    run(async {
        let log = new_log();
        let (server, base) = serve(&log, Settings::default());
        let conn = websocket_connect(format!("{base}/echo"))
            .max_message_size(1024)
            .await
            .unwrap();
        let allowed = "a".repeat(1024);
        conn.write_message(allowed.clone());
        assert_eq!(conn.read_message().await, text(&allowed));
        conn.write_message(format!("{allowed}b"));
        assert_eq!(conn.read_message().await, None);
        assert_eq!(
            logged(&log, "close").await,
            "close Some(1009) Some(\"message too big\")"
        );
        server.stop();
    });
}

// ---------------------------------------------------------------------------------
// Raw servers: what our own server never sends.

/// Blocking reads and writes with timeouts on a raw server's socket.
fn with_timeouts(s: &TcpStream) {
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
}

/// Reads the client's handshake; answers 101 with the right accept, and `then` in
/// the same write. Gives back the request head.
fn accept_handshake(s: &mut TcpStream, then: &[u8]) -> String {
    let mut head = Vec::new();
    let mut byte = [0];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).expect("the handshake");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let key = head
        .split("\r\n")
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .expect("a key");
    let mut out = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key)
    )
    .into_bytes();
    out.extend_from_slice(then);
    s.write_all(&out).unwrap();
    head
}

/// A frame the client sent.
#[derive(Debug)]
struct ClientFrame {
    fin: bool,
    opcode: u8,
    mask: Option<[u8; 4]>,
    /// Unmasked.
    payload: Vec<u8>,
}

fn read_frame(s: &mut TcpStream) -> io::Result<ClientFrame> {
    let mut h = [0; 2];
    s.read_exact(&mut h)?;
    let len = match h[1] & 0x7f {
        126 => {
            let mut b = [0; 2];
            s.read_exact(&mut b)?;
            u16::from_be_bytes(b) as usize
        }
        127 => {
            let mut b = [0; 8];
            s.read_exact(&mut b)?;
            u64::from_be_bytes(b) as usize
        }
        n => n as usize,
    };
    let mask = if h[1] & 0x80 != 0 {
        let mut m = [0; 4];
        s.read_exact(&mut m)?;
        Some(m)
    } else {
        None
    };
    let mut payload = vec![0; len];
    s.read_exact(&mut payload)?;
    if let Some(m) = mask {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= m[i % 4];
        }
    }
    Ok(ClientFrame {
        fin: h[0] & 0x80 != 0,
        opcode: h[0] & 0x0f,
        mask,
        payload,
    })
}

/// A frame as a server sends it (unmasked).
fn server_frame(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(&mut out, fin, false, opcode, None, payload);
    out
}

/// A raw server for one connection running `script`; gives its `ws://` URL.
fn raw_server<T: Send + 'static>(
    script: impl FnOnce(&mut TcpStream) -> T + Send + 'static,
) -> (String, JoinHandle<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/raw", listener.local_addr().unwrap());
    let thread = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        with_timeouts(&s);
        script(&mut s)
    });
    (url, thread)
}

#[test]
fn fragments_and_a_ping_between_them_right_behind_the_101() {
    // The first frames go out in the same write as the 101: they must not be lost.
    let (url, thread) = raw_server(|s| {
        let mut early = server_frame(false, OpCode::Text, b"Hel");
        early.extend(server_frame(true, OpCode::Ping, b"p!"));
        early.extend(server_frame(false, OpCode::Continuation, "lo é".as_bytes()));
        accept_handshake(s, &early);
        s.write_all(&server_frame(true, OpCode::Continuation, b"!"))
            .unwrap();
        s.write_all(&server_frame(true, OpCode::Binary, &[1, 2, 3]))
            .unwrap();
        // The pong for the ping, then two messages, each masked, with new keys.
        let frames: Vec<ClientFrame> = (0..3).map(|_| read_frame(s).unwrap()).collect();
        s.write_all(&server_frame(true, OpCode::Close, b"\x03\xe8"))
            .unwrap();
        let close = read_frame(s).unwrap();
        (frames, close)
    });
    run(async move {
        let conn = websocket_connect(url).await.unwrap();
        assert_eq!(conn.read_message().await, text("Hello é!"));
        assert_eq!(
            conn.read_message().await,
            Some(Message::Binary(vec![1u8, 2, 3].into()))
        );
        conn.write_message("one");
        conn.write_message("two");
        assert_eq!(conn.read_message().await, None);
        assert_eq!(conn.close_code(), Some(1000));
    });
    let (frames, close) = thread.join().unwrap();
    assert_eq!(frames[0].opcode, 0xA);
    assert_eq!(frames[0].payload, b"p!");
    assert_eq!(frames[1].payload, b"one");
    assert_eq!(frames[2].payload, b"two");
    assert!(frames.iter().all(|f| f.fin && f.mask.is_some()));
    let masks: Vec<[u8; 4]> = frames.iter().filter_map(|f| f.mask).collect();
    assert!(
        masks[0] != masks[1] || masks[1] != masks[2],
        "masks repeat: {masks:?}"
    );
    // The close echoed the code, masked too.
    assert_eq!(close.opcode, 0x8);
    assert!(close.mask.is_some());
    assert_eq!(
        parse_close_payload(&close.payload).unwrap(),
        Some((1000, ""))
    );
}

#[test]
fn a_masked_frame_from_the_server_fails_the_connection_with_1002() {
    let (url, thread) = raw_server(|s| {
        accept_handshake(s, &[]);
        let mut masked = Vec::new();
        encode_frame(
            &mut masked,
            true,
            false,
            OpCode::Text,
            Some([1, 2, 3, 4]),
            b"x",
        );
        s.write_all(&masked).unwrap();
        read_frame(s).unwrap()
    });
    run(async move {
        let conn = websocket_connect(url).await.unwrap();
        assert_eq!(conn.read_message().await, None);
    });
    let close = thread.join().unwrap();
    assert_eq!(close.opcode, 0x8);
    let (code, _) = parse_close_payload(&close.payload).unwrap().unwrap();
    assert_eq!(code, 1002);
}

#[test]
fn what_the_reader_writes_goes_out_before_a_protocol_error_behind_it() {
    // A good message and, in the same write, a frame with RSV2 set: the echo of the
    // first still goes out, then the close for the second (Autobahn's case 3.2).
    let (url, thread) = raw_server(|s| {
        let mut frames = server_frame(true, OpCode::Text, b"Hello");
        frames.extend([0x81 | 0x20, 0x00]);
        accept_handshake(s, &frames);
        (read_frame(s).unwrap(), read_frame(s).unwrap())
    });
    run(async move {
        let conn = websocket_connect(url).await.unwrap();
        while let Some(message) = conn.read_message().await {
            let _ = conn.write_message(message);
        }
    });
    let (echo, close) = thread.join().unwrap();
    assert_eq!((echo.opcode, &echo.payload[..]), (0x1, &b"Hello"[..]));
    assert_eq!(close.opcode, 0x8);
    let (code, _) = parse_close_payload(&close.payload).unwrap().unwrap();
    assert_eq!(code, 1002);
}

#[test]
fn a_bad_handshake_answer_is_an_error_naming_what_was_wrong() {
    let (url, thread) = raw_server(|s| {
        let mut head = Vec::new();
        let mut byte = [0];
        while !head.ends_with(b"\r\n\r\n") {
            s.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        s.write_all(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: c3BvbmdlIGNha2UgaXMgbm90IGEga2V5\r\n\r\n",
        )
        .unwrap();
    });
    run(async move {
        let err = websocket_connect(url).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
        assert!(err.message().contains("Sec-WebSocket-Accept"), "{err}");
    });
    thread.join().unwrap();
}

#[test]
fn the_server_closing_abruptly_ends_the_connection() {
    let (url, thread) = raw_server(|s| {
        // Half a message, then the socket is gone.
        accept_handshake(s, &server_frame(false, OpCode::Text, b"half"));
        s.shutdown(Shutdown::Both).unwrap();
    });
    run(async move {
        let conn = websocket_connect(url).await.unwrap();
        assert_eq!(conn.read_message().await, None);
        assert_eq!(conn.close_code(), None);
        assert!(conn.write_message("gone").await.unwrap_err().is_closed());
    });
    thread.join().unwrap();
}

/// Messages the server sent before it saw the client's close frame still reach the
/// reader, then `None`, as Tornado's client hands them on until the server's close.
#[test]
fn messages_sent_before_the_server_saw_the_close_reach_the_reader() {
    let (url, thread) = raw_server(|s| {
        accept_handshake(s, b"");
        let close = read_frame(s).unwrap();
        assert_eq!(close.opcode, 8);
        // What the server had sent meanwhile, then its answer to the close.
        let mut out = server_frame(true, OpCode::Text, b"late one");
        out.extend(server_frame(true, OpCode::Text, b"late two"));
        out.extend(server_frame(true, OpCode::Close, &close.payload));
        s.write_all(&out).unwrap();
    });
    run(async move {
        let conn = websocket_connect(url).await.unwrap();
        conn.close(Some(4000), None);
        assert_eq!(conn.read_message().await, text("late one"));
        assert_eq!(conn.read_message().await, text("late two"));
        assert_eq!(conn.read_message().await, None);
        assert_eq!(conn.close_code(), Some(4000));
    });
    thread.join().unwrap();
}

// ---------------------------------------------------------------------------------
// wss:// and proxies.

/// A test CA and a certificate it signed for 127.0.0.1 and localhost; the CA is
/// written to a file for `ca_certs`, removed on drop.
struct Pki {
    ca_path: PathBuf,
    cert_pem: String,
    key_pem: String,
}

impl Pki {
    fn new() -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "websocket test CA");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca).unwrap();
        let ca_path = std::env::temp_dir().join(format!(
            "tornado-web-wsclient-ca-{}-{:?}.pem",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::write(&ca_path, ca.pem()).unwrap();
        Pki {
            ca_path,
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    fn settings(&self) -> Settings {
        use tornado_iostream::tls;
        let chain = tls::certs_from_pem(self.cert_pem.as_bytes()).unwrap();
        let key = tls::private_key_from_pem(self.key_pem.as_bytes()).unwrap();
        let mut settings = Settings::default();
        settings.server.tls = Some(tls::server_config(chain, key, &[b"http/1.1"]).unwrap());
        settings
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.ca_path);
    }
}

/// A `CONNECT` proxy on threads: records each request line, connects to the target,
/// answers 200 and pipes both ways.
struct ConnectProxy {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    fn start() -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let record = seen.clone();
        // Ends with the test process.
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let record = record.clone();
                std::thread::spawn(move || {
                    if let Err(e) = tunnel(client, &record) {
                        eprintln!("test proxy: {e}");
                    }
                });
            }
        });
        ConnectProxy { port, seen }
    }

    fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn tunnel(mut client: TcpStream, seen: &Mutex<Vec<String>>) -> io::Result<()> {
    with_timeouts(&client);
    let mut head = Vec::new();
    let mut byte = [0];
    while !head.ends_with(b"\r\n\r\n") {
        client.read_exact(&mut byte)?;
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let line = head.lines().next().unwrap_or("").to_owned();
    seen.lock().unwrap().push(line.clone());
    let target = match line.split(' ').collect::<Vec<_>>()[..] {
        ["CONNECT", target, _] => target.to_owned(),
        _ => {
            client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")?;
            return Ok(());
        }
    };
    let upstream = TcpStream::connect(&target)?;
    with_timeouts(&upstream);
    client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
    let (mut up_read, mut up_write) = (upstream.try_clone()?, upstream);
    let (mut down_read, mut down_write) = (client.try_clone()?, client);
    let back = std::thread::spawn(move || {
        let _ = io::copy(&mut up_read, &mut down_write);
        let _ = down_write.shutdown(Shutdown::Write);
    });
    let _ = io::copy(&mut down_read, &mut up_write);
    let _ = up_write.shutdown(Shutdown::Write);
    let _ = back.join();
    Ok(())
}

#[test]
fn wss_with_the_request_tls_settings() {
    let pki = Pki::new();
    let ca = pki.ca_path.clone();
    run(async move {
        let log = new_log();
        let (server, base) = serve(&log, pki.settings());
        let wss = base.replacen("ws://", "wss://", 1);
        let request = HttpRequest::new(format!("{wss}/deflate")).ca_certs(&ca);
        let conn = websocket_connect(request)
            .compression(CompressionOptions::default())
            .await
            .unwrap();
        assert!(conn.is_compressed());
        conn.write_message("over TLS").await.unwrap();
        assert_eq!(conn.read_message().await, text("over TLS"));
        conn.close(None, None);
        assert_eq!(conn.read_message().await, None);

        // Without the CA the certificate does not verify; without validation it
        // need not.
        let err = websocket_connect(format!("{wss}/echo")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
        let request = HttpRequest::new(format!("{wss}/echo")).validate_cert(false);
        let conn = websocket_connect(request).await.unwrap();
        conn.write_message("unverified").await.unwrap();
        assert_eq!(conn.read_message().await, text("unverified"));
        server.stop();
    });
}

#[test]
fn through_a_connect_proxy_ws_and_wss() {
    let proxy = ConnectProxy::start();
    let port = proxy.port;
    let pki = Pki::new();
    let ca = pki.ca_path.clone();
    let tls_settings = pki.settings();
    let targets = run(async move {
        let log = new_log();
        let (plain, ws) = serve(&log, Settings::default());
        let (secure, base) = serve(&log, tls_settings);
        let wss = base.replacen("ws://", "wss://", 1);
        for url in [format!("{ws}/echo"), format!("{wss}/echo")] {
            let request = HttpRequest::new(url.as_str())
                .proxy("127.0.0.1", port)
                .ca_certs(&ca);
            let conn = websocket_connect(request).await.unwrap();
            conn.write_message("via the proxy").await.unwrap();
            assert_eq!(conn.read_message().await, text("via the proxy"), "{url}");
            conn.close(None, None);
            assert_eq!(conn.read_message().await, None);
        }
        let targets = [
            plain.local_addrs()[0].to_string(),
            secure.local_addrs()[0].to_string(),
        ];
        plain.stop();
        secure.stop();
        targets
    });
    let seen = proxy.requests();
    assert_eq!(
        seen,
        targets
            .iter()
            .map(|t| format!("CONNECT {t} HTTP/1.1"))
            .collect::<Vec<_>>()
    );
    drop(pki);
}
