//! WebSocket connections and peers that do not read: the output queued for a peer is
//! bounded (the connection reads no more from it meanwhile), a closing handshake that
//! cannot complete aborts the stream after `CLOSE_TIMEOUT` even while `on_message`
//! awaits a write, and a close code that may not be sent is not sent. Its own test
//! binary: the first test measures the process's memory.

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tornado_web::testing;
use tornado_web::websocket::frame::{OpCode, encode_frame};
use tornado_web::websocket::{Message, WebSocket, WebSocketHandler};
use tornado_web::{Application, Context, url};

/// A loop and a test server of `app`, the test bounded by `limit`.
fn run_for<T, Fut>(limit: Duration, app: Application, test: T)
where
    T: FnOnce(testing::TestServer) -> Fut,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let io_loop = tornado_ioloop::IoLoop::new().unwrap();
    io_loop.make_current();
    let server = testing::TestServer::start(app).unwrap();
    io_loop
        .run_sync_timeout(test(server), limit)
        .expect("test timed out");
}

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// A blocking raw client after its handshake (the 101 head read).
fn raw_open(addr: SocketAddr, path: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut b).unwrap(), 1, "head cut short");
        head.push(b[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    s
}

fn masked(op: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(&mut out, true, false, op, Some([1, 2, 3, 4]), payload);
    out
}

/// Waits, turning the loop, for a thread to finish.
async fn join<T>(h: std::thread::JoinHandle<T>, bound: Duration) -> T {
    let end = Instant::now() + bound;
    while !h.is_finished() {
        assert!(Instant::now() < end, "client thread did not finish");
        tornado_gen::sleep(Duration::from_millis(5)).await;
    }
    h.join().unwrap()
}

struct Echo {
    closes: Rc<Cell<u32>>,
}
impl WebSocketHandler for Echo {
    async fn on_message(&mut self, ws: &WebSocket, message: Message) -> tornado_web::Result {
        ws.write_message(message).await?;
        Ok(())
    }
    fn on_close(&mut self, _ws: &WebSocket) {
        self.closes.set(self.closes.get() + 1);
    }
}

/// A client that sends pings as fast as it can and never reads: each ping's pong is
/// queued for it, and once a megabyte waits the server reads no more from it, so the
/// client's writes block instead of the server's memory growing with what it sends.
#[test]
fn a_peer_that_does_not_read_cannot_grow_the_servers_memory() {
    let closes = Rc::new(Cell::new(0));
    let count = closes.clone();
    let app = Application::new(vec![url("/echo", move || Echo {
        closes: count.clone(),
    })]);
    run_for(Duration::from_secs(120), app, |server| async move {
        let addr = server.addr();
        let before = rss_bytes();
        let client = std::thread::spawn(move || {
            let mut s = raw_open(addr, "/echo");
            s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
            let ping = masked(OpCode::Ping, &[b'p'; 125]);
            let batch: Vec<u8> = ping
                .iter()
                .copied()
                .cycle()
                .take(ping.len() * 1000)
                .collect();
            // Up to ~131 MB, if the server reads it all.
            let mut sent = 0usize;
            for _ in 0..1000 {
                if s.write_all(&batch).is_err() {
                    break; // the server stopped reading
                }
                sent += batch.len();
            }
            (s, sent)
        });
        let (_s, sent) = join(client, Duration::from_secs(90)).await;
        tornado_gen::sleep(Duration::from_millis(300)).await;
        let grown = rss_bytes().saturating_sub(before);
        assert!(
            sent < 64 << 20 && grown < 32 << 20,
            "the client sent {} MB of pings without reading; server memory grew by {} MB",
            sent >> 20,
            grown >> 20
        );
    });
}

/// Closes (from a task of its own, 100 ms on) while `on_message` awaits writes a peer
/// never reads: the closing handshake cannot complete, and after `CLOSE_TIMEOUT` the
/// stream is aborted, the write fails, and `on_close` runs once.
struct StuckWriter {
    closes: Rc<Cell<u32>>,
}
impl WebSocketHandler for StuckWriter {
    async fn on_message(&mut self, ws: &WebSocket, _m: Message) -> tornado_web::Result {
        let closer = ws.clone();
        tornado_ioloop::spawn_callback(async move {
            tornado_gen::sleep(Duration::from_millis(100)).await;
            closer.close(Some(1001), Some("going away"));
        });
        let big = Message::Binary(vec![7u8; 4 << 20].into());
        loop {
            ws.write_message(big.clone()).await?;
        }
    }
    fn on_close(&mut self, _ws: &WebSocket) {
        self.closes.set(self.closes.get() + 1);
    }
}

#[test]
fn a_close_that_cannot_complete_aborts_a_handler_stuck_writing() {
    let closes = Rc::new(Cell::new(0));
    let count = closes.clone();
    let app = Application::new(vec![url("/stuck", move || StuckWriter {
        closes: count.clone(),
    })]);
    run_for(Duration::from_secs(60), app, |server| async move {
        let addr = server.addr();
        let client = std::thread::spawn(move || {
            let mut s = raw_open(addr, "/stuck");
            s.write_all(&masked(OpCode::Text, b"go")).unwrap();
            s // kept open, never read
        });
        let _s = join(client, Duration::from_secs(10)).await;
        let start = Instant::now();
        while closes.get() == 0 && start.elapsed() < Duration::from_secs(20) {
            tornado_gen::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(closes.get(), 1, "on_close never ran: the connection hangs");
        assert!(
            start.elapsed() >= Duration::from_secs(4),
            "aborted before CLOSE_TIMEOUT"
        );
    });
}

/// Closes at once with the code it is made with.
struct CloseWith(u16);
impl WebSocketHandler for CloseWith {
    async fn open(&mut self, ws: &WebSocket, _cx: &mut Context) -> tornado_web::Result {
        ws.close(Some(self.0), Some("reason"));
        Ok(())
    }
    async fn on_message(&mut self, _ws: &WebSocket, _m: Message) -> tornado_web::Result {
        Ok(())
    }
}

/// A code RFC 6455 forbids on the wire (1005, 1006, 1015, below 1000, from 5000) is
/// not sent: the close frame goes out empty. A valid code goes out as it is.
#[test]
fn a_close_code_that_may_not_be_sent_is_not_sent() {
    let app = Application::new(vec![
        url("/1005", || CloseWith(1005)),
        url("/0", || CloseWith(0)),
        url("/5000", || CloseWith(5000)),
        url("/4000", || CloseWith(4000)),
    ]);
    run_for(Duration::from_secs(30), app, |server| async move {
        let addr = server.addr();
        for (path, want) in [
            ("/1005", None),
            ("/0", None),
            ("/5000", None),
            ("/4000", Some(4000)),
        ] {
            let frame = std::thread::spawn(move || {
                let mut s = raw_open(addr, path);
                let mut head = [0u8; 2];
                s.read_exact(&mut head).unwrap();
                let mut payload = vec![0u8; usize::from(head[1] & 0x7f)];
                s.read_exact(&mut payload).unwrap();
                (head[0] & 0x0f, payload)
            });
            let (opcode, payload) = join(frame, Duration::from_secs(10)).await;
            assert_eq!(opcode, 8, "{path}");
            let code = (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
            assert_eq!(code, want, "{path}");
        }
    });
}

/// A peer that stops reading while `on_message` awaits its echo: the pings keep their
/// own timers (as Tornado's ping task does), so the ping times out, the close cannot
/// complete, the stream is aborted after `CLOSE_TIMEOUT`, and `on_close` runs once.
#[test]
fn the_ping_timeout_fires_while_on_message_awaits_a_write() {
    let closes = Rc::new(Cell::new(0));
    let count = closes.clone();
    let settings = tornado_web::Settings {
        websocket_ping_interval: Some(Duration::from_millis(100)),
        websocket_ping_timeout: Some(Duration::from_millis(100)),
        ..tornado_web::Settings::default()
    };
    let app = Application::with_settings(
        vec![url("/echo", move || Echo {
            closes: count.clone(),
        })],
        settings,
    );
    run_for(Duration::from_secs(60), app, |server| async move {
        let addr = server.addr();
        let client = std::thread::spawn(move || {
            let mut s = raw_open(addr, "/echo");
            s.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
            let message = masked(OpCode::Binary, &vec![7u8; 4 << 20]);
            for _ in 0..16 {
                if s.write_all(&message).is_err() {
                    break;
                }
            }
            s // kept open, never read: a stalled peer
        });
        let _s = join(client, Duration::from_secs(30)).await;
        let start = Instant::now();
        while closes.get() == 0 && start.elapsed() < Duration::from_secs(20) {
            tornado_gen::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(closes.get(), 1, "on_close never ran: the connection hangs");
    });
}
