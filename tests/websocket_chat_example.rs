//! The `websocket_chat` example as a user runs it: a process that serves the page and
//! broadcasts each message to every open socket, spoken to by a small raw WebSocket
//! client (the handshake, masked frames) so the test relies on nothing of the server's.

mod common;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long any one read may wait: a message that does not come fails the test.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The page's cookie and XSRF token, which every socket's upgrade carries.
struct Session {
    addr: String,
    cookie: String,
    token: String,
}

/// Sends `request` on a new connection and reads the whole response (the request asks
/// for `Connection: close`).
fn exchange(addr: &str, request: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("response");
    String::from_utf8_lossy(&out).into_owned()
}

fn get_page(addr: &str) -> String {
    let page = exchange(
        addr,
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    page
}

/// Loads the page as a browser does: the `_xsrf` cookie and the form's token.
fn open_session(addr: &str) -> Session {
    let page = get_page(addr);
    let cookie = page
        .lines()
        .find_map(|l| l.strip_prefix("Set-Cookie: _xsrf="))
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no _xsrf cookie: {page}"));
    let token = page
        .split("name=\"_xsrf\" value=\"")
        .nth(1)
        .and_then(|v| v.split('"').next())
        .unwrap_or_else(|| panic!("no _xsrf field: {page}"));
    Session {
        addr: addr.to_owned(),
        cookie: format!("_xsrf={cookie}"),
        token: token.to_owned(),
    }
}

/// One WebSocket connection, client side.
struct Client {
    stream: TcpStream,
    /// Read but not yet taken.
    buf: Vec<u8>,
}

/// What the server answered an upgrade with: the socket, or the refusal's head.
fn connect(addr: &str, target: &str, extra_headers: &str) -> Result<Client, String> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    stream.set_nodelay(true).unwrap();
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         {extra_headers}\r\n"
    )
    .unwrap();
    let mut client = Client {
        stream,
        buf: Vec::new(),
    };
    let end = loop {
        if let Some(i) = client.buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if client.fill().expect("the upgrade's answer") == 0 {
            break client.buf.len();
        }
    };
    let head = String::from_utf8_lossy(&client.buf[..end]).into_owned();
    client.buf.drain(..end);
    if !head.starts_with("HTTP/1.1 101 ") {
        return Err(head);
    }
    // RFC 6455's sample key and its accept value.
    assert!(
        head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
        "{head}"
    );
    Ok(client)
}

impl Session {
    /// A socket as the page opens it: cookie and token, and a cursor if given.
    fn socket(&self, cursor: Option<&str>) -> Client {
        let mut target = format!("/chatsocket?_xsrf={}", self.token);
        if let Some(cursor) = cursor {
            target.push_str(&format!("&cursor={cursor}"));
        }
        let cookie = format!("Cookie: {}\r\n", self.cookie);
        connect(&self.addr, &target, &cookie).unwrap_or_else(|head| panic!("refused: {head}"))
    }
}

impl Client {
    /// Reads more into the buffer; 0 at the end of the stream.
    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Sends one masked frame.
    fn send_frame(&mut self, opcode: u8, payload: &[u8]) {
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 0xffff => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).expect("send a frame");
    }

    fn send_text(&mut self, text: &str) {
        self.send_frame(0x1, text.as_bytes());
    }

    /// Sends a chat message, as the page's script does.
    fn say(&mut self, body: &str) {
        self.send_text(&serde_json::json!({ "body": body }).to_string());
    }

    /// The next frame from the server, whole: its opcode and payload; `None` when the
    /// stream ends first.
    fn recv_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            if let Some((header, len)) = self.frame_length()
                && self.buf.len() >= header + len
            {
                let opcode = self.buf[0] & 0x0f;
                assert_eq!(self.buf[0] & 0x80, 0x80, "the server fragments nothing");
                assert_eq!(self.buf[1] & 0x80, 0, "a server's frames are not masked");
                let payload = self.buf[header..header + len].to_vec();
                self.buf.drain(..header + len);
                return Some((opcode, payload));
            }
            match self.fill() {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => panic!("reading a frame: {e}"),
            }
        }
    }

    /// The header's length and the payload's, once the header is buffered.
    fn frame_length(&self) -> Option<(usize, usize)> {
        let b = &self.buf;
        if b.len() < 2 {
            return None;
        }
        match b[1] & 0x7f {
            126 if b.len() >= 4 => Some((4, u16::from_be_bytes([b[2], b[3]]) as usize)),
            127 if b.len() >= 10 => {
                let len = u64::from_be_bytes(b[2..10].try_into().unwrap());
                Some((10, usize::try_from(len).expect("a sane length")))
            }
            126 | 127 => None,
            n => Some((2, n as usize)),
        }
    }

    /// The next chat message: `{"id", "body", "html"}`.
    fn next_message(&mut self) -> Value {
        match self.recv_frame() {
            Some((0x1, payload)) => serde_json::from_slice(&payload).expect("JSON"),
            other => panic!("expected a text message, got {other:?}"),
        }
    }

    /// Messages until one with `body`, which is returned with those before it.
    fn messages_until(&mut self, body: &str) -> Vec<Value> {
        let mut got = Vec::new();
        loop {
            let message = self.next_message();
            let done = message["body"] == body;
            got.push(message);
            if done {
                return got;
            }
        }
    }

    /// The closing handshake: sends a close with `code` and waits for the server's.
    fn close(mut self, code: u16) -> Option<u16> {
        self.send_frame(0x8, &code.to_be_bytes());
        self.expect_close()
    }

    /// Reads until the server's close frame, past any messages; its code.
    fn expect_close(&mut self) -> Option<u16> {
        loop {
            match self.recv_frame() {
                Some((0x8, payload)) => {
                    return (payload.len() >= 2)
                        .then(|| u16::from_be_bytes([payload[0], payload[1]]));
                }
                Some((0x1, _)) => {}
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    }
}

fn bodies(messages: &[Value]) -> Vec<&str> {
    messages
        .iter()
        .map(|m| m["body"].as_str().expect("a body"))
        .collect()
}

/// Waits until the example has logged a line containing `text`, after the first
/// `seen` lines that do.
fn wait_for_log(chat: &common::Served, text: &str, seen: usize) {
    let deadline = Instant::now() + READ_TIMEOUT;
    while count_log(chat, text) <= seen {
        assert!(
            Instant::now() < deadline,
            "no log line {text:?}: {:?}",
            chat.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn count_log(chat: &common::Served, text: &str) -> usize {
    chat.log().iter().filter(|l| l.contains(text)).count()
}

#[test]
fn websocket_chat_broadcasts_escapes_caches_and_stops_gracefully() {
    let mut chat =
        common::serve_example("websocket_chat", &["--port", "0", "--address", "127.0.0.1"]);
    let addr = chat.addr.clone();
    let page = get_page(&addr);
    assert!(page.contains("Tornado Chat Demo"), "{page}");
    assert!(page.contains("/static/chat.js?v="), "{page}");
    let js = exchange(
        &addr,
        "GET /static/chat.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(js.starts_with("HTTP/1.1 200 OK\r\n"), "{js}");
    assert!(js.contains("/chatsocket"), "{js}");

    let session = open_session(&addr);

    // Two sockets: what one sends, both receive, once, the same.
    let mut a = session.socket(None);
    let mut b = session.socket(None);
    wait_for_log(&chat, "a socket joined: 2 open", 0);
    a.say("hello <script>alert('x')</script> & more");
    let to_a = a.next_message();
    let to_b = b.next_message();
    assert_eq!(to_a, to_b);
    // The body as sent; the html rendered from message.html, escaped.
    assert_eq!(to_a["body"], "hello <script>alert('x')</script> & more");
    let html = to_a["html"].as_str().expect("html");
    let id = to_a["id"].as_str().expect("id");
    assert_eq!(
        html.trim(),
        format!(
            "<div class=\"message\" id=\"m{id}\">hello &lt;script&gt;alert(&#x27;x&#x27;)\
             &lt;/script&gt; &amp; more</div>"
        )
    );
    b.say("and back");
    assert_eq!(a.next_message()["body"], "and back");
    let second = b.next_message();
    assert_eq!(second["body"], "and back");
    let second_id = second["id"].as_str().expect("id").to_owned();

    // A closed socket leaves the room: a broadcast after it goes to the one left,
    // without an error.
    assert_eq!(a.close(1000), Some(1000));
    wait_for_log(&chat, "a socket left: 1 open", 0);
    b.say("after a left");
    assert_eq!(b.next_message()["body"], "after a left");
    wait_for_log(&chat, "sending message to 1 waiters", 0);
    // One that goes away without a close frame (and without reading what it was
    // sent), too.
    let c = session.socket(None);
    wait_for_log(&chat, "a socket joined: 2 open", 1);
    drop(c);
    wait_for_log(&chat, "a socket left: 1 open", 1);
    b.say("after c left");
    assert_eq!(b.next_message()["body"], "after c left");

    // A late joiner is sent the cache; with a cursor, only what came after it.
    let mut late = session.socket(None);
    assert_eq!(
        bodies(&late.messages_until("after c left")),
        [
            "hello <script>alert('x')</script> & more",
            "and back",
            "after a left",
            "after c left"
        ]
    );
    let mut resumed = session.socket(Some(&second_id));
    assert_eq!(
        bodies(&resumed.messages_until("after c left")),
        ["after a left", "after c left"]
    );
    // And the page shows the cache, escaped.
    let page = get_page(&addr);
    assert!(
        page.contains(&format!("id=\"m{second_id}\">and back</div>")),
        "{page}"
    );
    assert!(page.contains("hello &lt;script&gt;"), "{page}");
    assert!(!page.contains("<script>alert"), "{page}");

    // The cache keeps the last 200.
    for i in 0..205 {
        b.say(&format!("flood {i}"));
    }
    assert_eq!(b.messages_until("flood 204").len(), 205);
    for socket in [&mut late, &mut resumed] {
        socket.messages_until("flood 204");
    }
    let mut newest = session.socket(None);
    let cached = newest.messages_until("flood 204");
    assert_eq!(cached.len(), 200);
    assert_eq!(cached[0]["body"], "flood 5");

    // A message that is not the page's JSON closes that socket (1011), no other.
    newest.send_text("not json");
    assert_eq!(newest.expect_close(), Some(1011));
    b.say("still here");
    assert_eq!(b.next_message()["body"], "still here");
    let errors: Vec<String> = chat
        .log()
        .into_iter()
        .filter(|l| l.contains("error sending message"))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");

    // SIGTERM with sockets open: the process stops and exits 0.
    let status = chat.terminate();
    assert!(status.success(), "{status}");
}

#[test]
fn websocket_chat_refuses_upgrades_without_the_token_or_from_other_sites() {
    let chat = common::serve_example("websocket_chat", &["--port", "0", "--address", "127.0.0.1"]);
    let session = open_session(&chat.addr);
    let cookie = format!("Cookie: {}\r\n", session.cookie);
    let refused = |target: &str, headers: &str| match connect(&chat.addr, target, headers) {
        Ok(_) => panic!("{target} with {headers:?} was accepted"),
        Err(head) => head,
    };
    // No token, or a token that is not the cookie's.
    let head = refused("/chatsocket", &cookie);
    assert!(head.starts_with("HTTP/1.1 403 "), "{head}");
    let other = open_session(&chat.addr);
    let head = refused(&format!("/chatsocket?_xsrf={}", other.token), &cookie);
    assert!(head.starts_with("HTTP/1.1 403 "), "{head}");
    // A page of another site, with the right cookie and token.
    let head = refused(
        &format!("/chatsocket?_xsrf={}", session.token),
        &format!("{cookie}Origin: http://evil.example\r\n"),
    );
    assert!(head.starts_with("HTTP/1.1 403 "), "{head}");
    // The same, from this site, is accepted.
    let origin = format!("{cookie}Origin: http://{}\r\n", chat.addr);
    connect(
        &chat.addr,
        &format!("/chatsocket?_xsrf={}", session.token),
        &origin,
    )
    .unwrap_or_else(|head| panic!("refused: {head}"));
}
