//! Tornado's WebSocket chat demo (`demos/websocket`): a page with a message box, where
//! each new message reaches every open page over a WebSocket.
//!
//! `cargo run --release --example websocket_chat -- [--port 8888] [--address 127.0.0.1]`
//! then open http://127.0.0.1:8888/ in two browser windows.
//!
//! - `GET /`: the page (`examples/websocket_chat/templates/index.html`), with the
//!   cached messages; `/static/` serves its script and style sheet.
//! - `GET /chatsocket`: the WebSocket. A page sends `{"body": "text"}`; the server
//!   renders `message.html` (which escapes the text), caches the message and sends
//!   `{"id", "body", "html"}` to every open socket, the sender's too.
//!
//! The last 200 messages are kept, as in Tornado's demo, and a page shows them when it
//! loads. Beyond the demo, a socket opened with `?cursor=ID` (the last message its page
//! shows) is first sent the cached messages after that one (all of them for an unknown
//! or missing cursor): what was said between the page's load and its socket's opening,
//! or while a dropped socket reconnected, is not lost.
//!
//! `xsrf_cookies` is on, as in the demo: the page carries the token, and the socket's
//! upgrade request must send it (`?_xsrf=`) with its `_xsrf` cookie. (The demo sends
//! the token with each message and never checks it.) What keeps other sites' pages
//! from opening the socket is the origin check every WebSocket upgrade gets.
//!
//! SIGINT or SIGTERM stops it gracefully.

#[path = "../common/port_address.rs"]
mod port_address;

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::json;
use tornado::web::http::Method;
use tornado::web::template::minijinja::context;
use tornado::web::websocket::{CompressionOptions, Message, WebSocket, WebSocketHandler};
use tornado::web::{Application, Context, Error, RequestHandler, Settings, url};

/// How many messages the cache keeps (Tornado's demo: `cache_size = 200`).
const CACHE_SIZE: usize = 200;

/// The largest message a page may send, in bytes: a chat line, not a file. (The
/// server's default, 10 MiB, times 200 cached messages would be a lot of memory.)
const MAX_MESSAGE_SIZE: usize = 64 * 1024;

/// One chat message.
#[derive(Serialize)]
struct Chat {
    /// `{epoch:x}-{number}`: unique within a run, and never one of an earlier run's.
    id: String,
    body: String,
    /// What a socket is sent: `{"id", "body", "html"}`, encoded once for every socket.
    #[serde(skip)]
    wire: String,
}

/// What a page sends.
#[derive(Deserialize)]
struct Incoming {
    body: String,
}

/// The chat room: the open sockets and the cached messages (the demo's class
/// attributes `waiters` and `cache`).
struct Room {
    /// Every open socket, by the number it got when it joined.
    waiters: RefCell<HashMap<u64, WebSocket>>,
    next_waiter: Cell<u64>,
    cache: RefCell<VecDeque<Rc<Chat>>>,
    next_id: Cell<u64>,
    /// Part of every message id, so a cursor from an earlier run names no message.
    epoch: u64,
}

impl Room {
    fn new() -> Room {
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Room {
            waiters: RefCell::new(HashMap::new()),
            next_waiter: Cell::new(0),
            cache: RefCell::new(VecDeque::with_capacity(CACHE_SIZE)),
            next_id: Cell::new(0),
            epoch,
        }
    }

    /// Adds `ws` to the sockets each message goes to; returns its number.
    fn join(&self, ws: WebSocket) -> u64 {
        let n = self.next_waiter.get() + 1;
        self.next_waiter.set(n);
        let mut waiters = self.waiters.borrow_mut();
        waiters.insert(n, ws);
        log::info!("a socket joined: {} open", waiters.len());
        n
    }

    /// Takes socket number `n` out of the room.
    fn leave(&self, n: u64) {
        let mut waiters = self.waiters.borrow_mut();
        waiters.remove(&n);
        log::info!("a socket left: {} open", waiters.len());
    }

    /// The cached messages after the one with id `cursor`; all of them when the cache
    /// has no such message (no cursor, one from an earlier run, or one too old).
    fn messages_after(&self, cursor: Option<&str>) -> Vec<Rc<Chat>> {
        let cache = self.cache.borrow();
        let start = cursor
            .and_then(|c| cache.iter().rposition(|m| m.id == c))
            .map_or(0, |i| i + 1);
        cache.range(start..).cloned().collect()
    }

    /// The id the next message gets.
    fn new_id(&self) -> String {
        let n = self.next_id.get() + 1;
        self.next_id.set(n);
        format!("{:x}-{n}", self.epoch)
    }

    /// A message whose `html` is rendered already: caches it and sends it to every
    /// open socket.
    fn add(&self, id: String, body: String, html: String) -> Rc<Chat> {
        let wire = json!({ "id": id, "body": body, "html": html }).to_string();
        let chat = Rc::new(Chat { id, body, wire });
        let mut cache = self.cache.borrow_mut();
        if cache.len() == CACHE_SIZE {
            cache.pop_front();
        }
        cache.push_back(chat.clone());
        drop(cache);
        self.send_updates(&chat);
        chat
    }

    fn send_updates(&self, chat: &Chat) {
        let waiters = self.waiters.borrow();
        log::info!("sending message to {} waiters", waiters.len());
        // A socket that is closing (its close frame is out, the peer's not yet in)
        // takes no more messages; it leaves the room when it is closed.
        for ws in waiters.values().filter(|ws| !ws.is_closed()) {
            // Queued at once; a slow reader does not hold up the others.
            if ws.write_message(chat.wire.as_str()).is_err() {
                log::error!("error sending message to {ws:?}");
            }
        }
    }
}

/// Renders `message.html` for a message, with the application's templates.
fn render_message(app: &Application, id: &str, body: &str) -> tornado::web::Result<String> {
    app.render_string(
        "message.html",
        context! { message => context! { id => id, body => body } },
    )
}

/// `GET /`: the page, with the cached messages.
struct MainHandler {
    room: Rc<Room>,
}

impl RequestHandler for MainHandler {
    const SUPPORTED_METHODS: &'static [Method] = &[Method::GET];

    async fn get(&mut self, cx: &mut Context) -> tornado::web::Result {
        let cache = self.room.cache.borrow();
        let messages = cache.iter().map(|m| &**m).collect();
        cx.render("index.html", IndexPage { messages })
    }
}

/// What `index.html` is rendered with.
#[derive(Serialize)]
struct IndexPage<'a> {
    messages: Vec<&'a Chat>,
}

/// `/chatsocket`: one page's socket.
struct ChatSocketHandler {
    room: Rc<Room>,
    /// Its number in the room, once open.
    joined: Option<u64>,
    /// The application (Tornado's `self.application`), whose templates render each
    /// message: taken from the upgrade request in `open`, since `on_message` has no
    /// `Context`.
    app: Option<Application>,
}

impl WebSocketHandler for ChatSocketHandler {
    /// The upgrade must carry the page's XSRF token (see the module docs).
    async fn prepare(&mut self, cx: &mut Context) -> tornado::web::Result {
        cx.check_xsrf_cookie()
    }

    fn get_compression_options(&self, _cx: &Context) -> Option<CompressionOptions> {
        // As the demo: compressed when the browser offers it, with the default options.
        Some(CompressionOptions::default())
    }

    async fn open(&mut self, ws: &WebSocket, cx: &mut Context) -> tornado::web::Result {
        let cursor = cx.get_argument_opt("cursor")?;
        for chat in self.room.messages_after(cursor.as_deref()) {
            ws.write_message(chat.wire.as_str());
        }
        self.joined = Some(self.room.join(ws.clone()));
        self.app = Some(cx.application());
        Ok(())
    }

    async fn on_message(&mut self, _ws: &WebSocket, message: Message) -> tornado::web::Result {
        let Some(text) = message.as_text() else {
            return Err(Error::msg("a chat message is JSON text, not binary"));
        };
        let incoming: Incoming = serde_json::from_str(text)
            .map_err(|e| Error::msg(format!("not a chat message: {e}")))?;
        log::debug!("got message {:?}", incoming.body);
        let id = self.room.new_id();
        let app = self
            .app
            .as_ref()
            .ok_or_else(|| Error::msg("a message before open"))?;
        let html = render_message(app, &id, &incoming.body)?;
        self.room.add(id, incoming.body, html);
        Ok(())
    }

    fn on_close(&mut self, _ws: &WebSocket) {
        if let Some(n) = self.joined.take() {
            self.room.leave(n);
        }
    }
}

/// The chat application around `room`, with its templates and static files in `root`.
fn make_app(room: Rc<Room>, root: PathBuf) -> Application {
    let (page_room, socket_room) = (room.clone(), room.clone());
    Application::with_settings(
        vec![
            url("/", move || MainHandler {
                room: page_room.clone(),
            }),
            url("/chatsocket", move || ChatSocketHandler {
                room: socket_room.clone(),
                joined: None,
                app: None,
            }),
        ],
        Settings {
            template_path: Some(root.join("templates")),
            static_path: Some(root.join("static")),
            xsrf_cookies: true,
            compress_response: true,
            websocket_max_message_size: MAX_MESSAGE_SIZE,
            ..Settings::default()
        },
    )
}

fn main() {
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("info,tornado.access=warn"),
    )
    .init();
    let args = port_address::parse_or_exit("websocket_chat");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/websocket_chat");
    let app = make_app(Rc::new(Room::new()), root);
    match app.run(args.port, Some(&args.address)) {
        Ok(signal) => log::info!("stopped by {signal}"),
        Err(e) => {
            eprintln!("websocket_chat: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(room: &Room, body: &str) -> Rc<Chat> {
        let id = room.new_id();
        room.add(id, body.to_owned(), String::new())
    }

    #[test]
    fn the_cache_keeps_the_last_200() {
        let room = Room::new();
        for i in 0..250 {
            add(&room, &format!("m{i}"));
        }
        let all = room.messages_after(None);
        assert_eq!(all.len(), CACHE_SIZE);
        assert_eq!(all[0].body, "m50");
        assert_eq!(all[CACHE_SIZE - 1].body, "m249");
    }

    #[test]
    fn a_cursor_gets_the_messages_after_it() {
        let room = Room::new();
        assert!(room.messages_after(None).is_empty());
        let a = add(&room, "a");
        let b = add(&room, "b");
        let c = add(&room, "c");
        let bodies = |cursor: Option<&str>| -> Vec<String> {
            room.messages_after(cursor)
                .iter()
                .map(|m| m.body.clone())
                .collect()
        };
        assert_eq!(bodies(Some(&a.id)), ["b", "c"]);
        assert_eq!(bodies(Some(&b.id)), ["c"]);
        assert!(bodies(Some(&c.id)).is_empty());
        // No such message in the cache: everything it has.
        let earlier_run = format!("{:x}-1", room.epoch.wrapping_add(1));
        for unknown in ["", "nonsense", &earlier_run, &a.id[..a.id.len() - 1]] {
            assert_eq!(bodies(Some(unknown)), ["a", "b", "c"], "{unknown:?}");
        }
        assert_eq!(bodies(None), ["a", "b", "c"]);
    }

    #[test]
    fn the_wire_form_carries_id_body_and_html() {
        let room = Room::new();
        let id = room.new_id();
        let chat = room.add(id.clone(), "<b>".into(), "<div>&lt;b&gt;</div>".into());
        let wire: serde_json::Value = serde_json::from_str(&chat.wire).unwrap();
        assert_eq!(
            wire,
            json!({ "id": id, "body": "<b>", "html": "<div>&lt;b&gt;</div>" })
        );
    }

    #[test]
    fn messages_are_rendered_escaped() {
        let room = Rc::new(Room::new());
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/websocket_chat");
        let app = make_app(room, root);
        let html = render_message(&app, "1-1", "<script>alert('x')</script> & more").unwrap();
        assert_eq!(
            html.trim(),
            "<div class=\"message\" id=\"m1-1\">&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more</div>"
        );
    }
}
