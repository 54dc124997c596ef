//! Tornado's chat demo (`demos/chat`): a page with a message box, where each new
//! message reaches every open page by long polling.
//!
//! `cargo run --release --example chat -- [--port 8888] [--address 127.0.0.1] [--no-xsrf]`
//! then open http://127.0.0.1:8888/ in two browser windows.
//!
//! - `GET /`: the page, with the cached messages.
//! - `POST /a/message/new` (`body=...`, optional `next=URL`): posts a message;
//!   answers it as JSON (or redirects to `next`, for the form without JavaScript).
//! - `POST /a/message/updates` (optional `cursor=ID`): answers the messages after
//!   `cursor` at once if there are any, or waits (a long poll) until the next one.
//!   A waiting request is cancelled when its client leaves.
//!
//! As in Tornado's demo, `xsrf_cookies` is on: the page sets the `_xsrf` cookie and
//! carries its token in the form, and the script sends it with every `POST`; a `POST`
//! without it is refused with 403. `--no-xsrf` turns the check off (the long-poll
//! benchmark runs both this and Python Tornado's app so, `benches/longpoll.py`).
//!
//! The last 200 messages are kept. SIGINT or SIGTERM stops it gracefully.

#[path = "../common/port_address.rs"]
mod port_address;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use tornado::locks::Condition;
use tornado::web::http::Method;
use tornado::web::{Application, Context, RequestHandler, Settings, url, xhtml_escape};

/// How many messages the buffer keeps (Tornado's demo keeps 200).
const CACHE_SIZE: usize = 200;

const INDEX_HTML: &str = include_str!("index.html");
const CHAT_JS: &str = include_str!("chat.js");
const CHAT_CSS: &str = include_str!("chat.css");

/// One chat message, with its JSON rendered once for every waiter.
struct Message {
    /// Its number: its id is `{epoch:016x}-{seq}`.
    seq: u64,
    html: String,
    json: String,
}

/// The last [`CACHE_SIZE`] messages, and a condition the long polls wait on.
struct MessageBuffer {
    cache: RefCell<VecDeque<Rc<Message>>>,
    cond: Condition,
    next_id: Cell<u64>,
    /// Part of every id, so ids from an earlier run are never mistaken for new ones.
    epoch: u64,
}

impl MessageBuffer {
    fn new() -> Self {
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        MessageBuffer {
            cache: RefCell::new(VecDeque::with_capacity(CACHE_SIZE)),
            cond: Condition::new(),
            next_id: Cell::new(0),
            epoch,
        }
    }

    /// The cached messages after the one `cursor` names (all of them when it names
    /// none in the cache, as in Tornado's demo).
    fn messages_since(&self, cursor: Option<u64>) -> Vec<Rc<Message>> {
        let cache = self.cache.borrow();
        let newer = match cursor {
            Some(seq) => cache.iter().rev().take_while(|m| m.seq != seq).count(),
            None => cache.len(),
        };
        cache.iter().skip(cache.len() - newer).cloned().collect()
    }

    /// A cursor as a message number: `None` when it cannot name a message of this
    /// run (another run's ids have another epoch), which matches no cached message.
    /// Kept as a number, a waiting request holds no string.
    fn parse_cursor(&self, cursor: &str) -> Option<u64> {
        let (epoch, seq) = cursor.split_once('-')?;
        // Only an id exactly as `add` writes it names a message (Tornado compares the
        // strings): lower-case hex, no sign, no leading zero.
        let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        if epoch.len() != 16 || !epoch.bytes().all(lower_hex) {
            return None;
        }
        if u64::from_str_radix(epoch, 16).ok()? != self.epoch
            || !seq.bytes().all(|b| b.is_ascii_digit())
            || (seq.len() > 1 && seq.starts_with('0'))
        {
            return None;
        }
        seq.parse().ok()
    }

    fn add(&self, body: &str) -> Rc<Message> {
        let n = self.next_id.get() + 1;
        self.next_id.set(n);
        let id = format!("{:016x}-{n}", self.epoch);
        let html = format!(
            "<div class=\"message\" id=\"m{id}\">{}</div>",
            xhtml_escape(body)
        );
        let json = serde_json::json!({ "id": id, "body": body, "html": html }).to_string();
        let message = Rc::new(Message { seq: n, html, json });
        let mut cache = self.cache.borrow_mut();
        cache.push_back(message.clone());
        while cache.len() > CACHE_SIZE {
            cache.pop_front();
        }
        drop(cache);
        self.cond.notify_all();
        message
    }
}

/// `GET /`: the page with the cached messages.
struct MainHandler {
    buffer: Rc<MessageBuffer>,
}

impl RequestHandler for MainHandler {
    const SUPPORTED_METHODS: &'static [Method] = &[Method::GET];

    async fn get(&mut self, cx: &mut Context) -> tornado::web::Result {
        let cache = self.buffer.cache.borrow();
        let messages: Vec<&str> = cache.iter().map(|m| m.html.as_str()).collect();
        // Sets the `_xsrf` cookie on a first visit, as Tornado's `xsrf_form_html`.
        let xsrf = cx.xsrf_form_html()?;
        cx.write(
            INDEX_HTML
                .replace("{messages}", &messages.join("\n"))
                .replace("{xsrf_form_html}", &xsrf),
        );
        Ok(())
    }
}

/// `POST /a/message/new`.
struct MessageNewHandler {
    buffer: Rc<MessageBuffer>,
}

impl RequestHandler for MessageNewHandler {
    const SUPPORTED_METHODS: &'static [Method] = &[Method::POST];

    async fn post(&mut self, cx: &mut Context) -> tornado::web::Result {
        let body = cx.get_argument("body")?;
        let message = self.buffer.add(&body);
        match cx.get_argument_opt("next")? {
            // Only a path on this site: never an open redirect.
            Some(next) if is_local_path(&next) => cx.redirect(&next),
            _ => {
                cx.set_header("Content-Type", "application/json; charset=UTF-8")?;
                cx.write(message.json.as_str());
                Ok(())
            }
        }
    }
}

/// Whether `next` is a path on this site: `/` and not `//` or `/\` (which browsers
/// take for another host), with no whitespace or control characters (which browsers
/// drop from URLs).
fn is_local_path(next: &str) -> bool {
    let mut bytes = next.bytes();
    bytes.next() == Some(b'/')
        && !matches!(bytes.next(), Some(b'/' | b'\\'))
        && !next.bytes().any(|b| b <= b' ' || b == 0x7f || b == b'\\')
}

/// `POST /a/message/updates`: the long poll.
struct MessageUpdatesHandler {
    buffer: Rc<MessageBuffer>,
}

impl RequestHandler for MessageUpdatesHandler {
    const SUPPORTED_METHODS: &'static [Method] = &[Method::POST];

    async fn post(&mut self, cx: &mut Context) -> tornado::web::Result {
        let cursor = cx
            .get_argument_opt("cursor")?
            .and_then(|c| self.buffer.parse_cursor(&c));
        let messages = loop {
            let messages = self.buffer.messages_since(cursor);
            if !messages.is_empty() {
                break messages;
            }
            // Dropped (and on_connection_close called) if the client leaves.
            self.buffer.cond.wait().await;
        };
        let len = messages.iter().map(|m| m.json.len() + 1).sum::<usize>();
        let mut body = String::with_capacity(len + 16);
        body.push_str("{\"messages\":[");
        for (i, m) in messages.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&m.json);
        }
        body.push_str("]}");
        cx.set_header("Content-Type", "application/json; charset=UTF-8")?;
        cx.write(body);
        Ok(())
    }

    fn on_connection_close(&mut self) {
        log::debug!("a waiting client left");
    }
}

/// A file compiled into the example.
struct Asset {
    body: &'static str,
    content_type: &'static str,
}

impl RequestHandler for Asset {
    const SUPPORTED_METHODS: &'static [Method] = &[Method::GET, Method::HEAD];

    async fn get(&mut self, cx: &mut Context) -> tornado::web::Result {
        cx.set_header("Content-Type", self.content_type)?;
        cx.set_header("Cache-Control", "max-age=3600")?;
        cx.write(self.body);
        Ok(())
    }

    async fn head(&mut self, cx: &mut Context) -> tornado::web::Result {
        // The same headers as GET; the body is not sent.
        self.get(cx).await
    }
}

/// The chat application around `buffer`, with XSRF checks when `xsrf` is set.
fn make_app(buffer: Rc<MessageBuffer>, xsrf: bool) -> Application {
    let (b1, b2, b3) = (buffer.clone(), buffer.clone(), buffer);
    Application::with_settings(
        vec![
            url("/", move || MainHandler { buffer: b1.clone() }),
            url("/a/message/new", move || MessageNewHandler {
                buffer: b2.clone(),
            }),
            url("/a/message/updates", move || MessageUpdatesHandler {
                buffer: b3.clone(),
            }),
            url("/static/chat.js", || Asset {
                body: CHAT_JS,
                content_type: "application/javascript; charset=UTF-8",
            }),
            url("/static/chat.css", || Asset {
                body: CHAT_CSS,
                content_type: "text/css; charset=UTF-8",
            }),
        ],
        Settings {
            compress_response: true,
            xsrf_cookies: xsrf,
            ..Settings::default()
        },
    )
}

fn main() {
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("info,tornado.access=warn"),
    )
    .init();
    let mut xsrf = true;
    let args = port_address::parse_with_or_exit(
        "usage: chat [--port N] [--address A] [--no-xsrf]",
        |flag, _| {
            if flag != "--no-xsrf" {
                return Ok(false);
            }
            xsrf = false;
            Ok(true)
        },
    );
    let app = make_app(Rc::new(MessageBuffer::new()), xsrf);
    match app.run(args.port, Some(&args.address)) {
        Ok(signal) => log::info!("stopped by {signal}"),
        Err(e) => {
            eprintln!("chat: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_returns_only_newer_messages() {
        let mut buffer = MessageBuffer::new();
        // With letters among its hex digits, so that an upper-case id differs.
        buffer.epoch = 0x0123_4567_89ab_cdef;
        assert!(buffer.messages_since(None).is_empty());
        let a = buffer.add("a");
        let b = buffer.add("<b>");
        assert!(b.html.contains("&lt;b&gt;"));
        assert_eq!(buffer.messages_since(None).len(), 2);
        let since = |cursor: &str| buffer.messages_since(buffer.parse_cursor(cursor));
        let id = |m: &Message| format!("{:016x}-{}", buffer.epoch, m.seq);
        assert!(a.json.contains(&id(&a)), "{}", a.json);
        let since_a = since(&id(&a));
        assert_eq!(since_a.len(), 1);
        assert_eq!(since_a[0].seq, b.seq);
        assert!(since(&id(&b)).is_empty());
        // An unknown cursor gets everything cached: not an id, another run's id, an
        // id no longer cached.
        let epoch = buffer.epoch;
        let unknown = [
            "gone".to_string(),
            String::new(),
            "-".to_string(),
            format!("{:016x}-1", epoch.wrapping_add(1)),
            format!("{:016x}-99", epoch),
            // Message 1, but not as its id is written.
            format!("{epoch:016X}-1"),
            format!("{epoch:016x}-01"),
            format!("{epoch:016x}-+1"),
            format!("{epoch:016x}- 1"),
        ];
        for unknown in &unknown {
            assert_eq!(since(unknown).len(), 2, "{unknown}");
        }
    }

    #[test]
    fn next_must_be_a_local_path() {
        for ok in ["/", "/a/b?c=d"] {
            assert!(is_local_path(ok), "{ok}");
        }
        for bad in [
            "//evil.com",
            "/\\evil.com",
            "/\t/evil.com",
            "http://evil.com",
            "",
            "/a\\b",
            "/ x",
        ] {
            assert!(!is_local_path(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_cache_keeps_the_last_200() {
        let buffer = MessageBuffer::new();
        for i in 0..250 {
            buffer.add(&format!("m{i}"));
        }
        let all = buffer.messages_since(None);
        assert_eq!(all.len(), CACHE_SIZE);
        assert!(all[0].json.contains("\"m50\""));
    }
}
