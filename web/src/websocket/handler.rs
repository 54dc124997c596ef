//! [`WebSocketHandler`]: what a WebSocket route implements, and the upgrade that
//! starts it (Tornado's `WebSocketHandler.get`).

use std::rc::Rc;

use http::Method;

use super::Message;
use super::connection::{Pinger, WebSocket, run};
use super::deflate::{CompressionOptions, server_negotiate};
use super::handshake::{HandshakeError, VERSION, accept_key, check_key, check_upgrade, split_list};
use super::reader::MessageReader;
use crate::application::{IntoTarget, Target};
use crate::context::Context;
use crate::error::Result;
use crate::handler::RequestHandler;

/// Serves a WebSocket route (Tornado's `WebSocketHandler` subclass): one value per
/// connection, made by the route's factory like a
/// [`RequestHandler`](crate::RequestHandler). Only
/// [`on_message`](Self::on_message) is required.
///
/// ```
/// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
/// use tornado_web::{url, Application};
///
/// struct EchoWebSocket;
///
/// impl WebSocketHandler for EchoWebSocket {
///     async fn on_message(&mut self, ws: &WebSocket, message: Message) -> tornado_web::Result {
///         ws.write_message(message);
///         Ok(())
///     }
/// }
///
/// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
/// let app = Application::new(vec![url("/websocket", || EchoWebSocket)]);
/// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
/// # let url = format!("ws://{}/websocket", server.local_addrs()[0]);
/// let conn = websocket_connect(url).await.unwrap();
/// conn.write_message("echo?");
/// assert_eq!(conn.read_message().await, Some(Message::from("echo?")));
/// # server.stop();
/// # }, std::time::Duration::from_secs(10)).unwrap();
/// ```
///
/// # The life of a connection
///
/// 1. The upgrade request (a `GET`) goes through [`get_current_user`](Self::get_current_user)
///    and [`prepare`](Self::prepare) as any request does (either may refuse it with an
///    error), then the checks: `Upgrade: websocket` and `Connection: upgrade` (400
///    otherwise), the origin ([`check_origin`](Self::check_origin), 403), version 13
///    (426 with `Sec-WebSocket-Version: 13`), a 16-byte `Sec-WebSocket-Key` and a
///    `Host` (400).
/// 2. [`select_subprotocol`](Self::select_subprotocol) and
///    [`get_compression_options`](Self::get_compression_options) shape the
///    `101 Switching Protocols` answer; the stream then belongs to the connection.
/// 3. [`open`](Self::open) runs with the request's [`Context`] (arguments, path
///    arguments, cookies, the current user): copy what later callbacks need into
///    `self`, as the context is dropped after `open`.
/// 4. Messages reach [`on_message`](Self::on_message) one at a time: the next is not
///    read until it returns. Pings are answered by themselves; the `websocket_ping_*`
///    settings send pings and close a connection whose pong does not come.
/// 5. [`on_close`](Self::on_close) runs once when the connection is over, whoever
///    closed it and however.
///
/// An `Err` or a panic from `open` or `on_message` is logged and closes the
/// connection with 1011.
#[allow(async_fn_in_trait)]
pub trait WebSocketHandler: Sized + 'static {
    /// The user of the upgrade request, as
    /// [`RequestHandler::get_current_user`](crate::RequestHandler::get_current_user):
    /// called before [`prepare`](Self::prepare); what it returns is
    /// [`Context::current_user`] in the hooks that follow.
    ///
    /// ```
    /// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// use tornado_web::{url, Application, Context};
    ///
    /// struct Hello;
    /// impl WebSocketHandler for Hello {
    ///     async fn get_current_user(&mut self, cx: &mut Context) -> tornado_web::Result<Option<String>> {
    ///         // A real application would read a signed cookie.
    ///         cx.get_argument_opt("user")
    ///     }
    ///     async fn open(&mut self, ws: &WebSocket, cx: &mut Context) -> tornado_web::Result {
    ///         ws.write_message(format!("hello, {}", cx.current_user().unwrap_or("stranger")));
    ///         Ok(())
    ///     }
    ///     async fn on_message(&mut self, _ws: &WebSocket, _m: Message) -> tornado_web::Result {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// let app = Application::new(vec![url("/hello", || Hello)]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let url = format!("ws://{}/hello", server.local_addrs()[0]);
    /// let ann = websocket_connect(format!("{url}?user=ann")).await.unwrap();
    /// assert_eq!(ann.read_message().await, Some(Message::from("hello, ann")));
    /// let anyone = websocket_connect(url).await.unwrap();
    /// assert_eq!(anyone.read_message().await, Some(Message::from("hello, stranger")));
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    async fn get_current_user(&mut self, cx: &mut Context) -> Result<Option<String>> {
        let _ = cx;
        Ok(None)
    }

    /// Runs before the upgrade; an error (or a finished response) refuses it, as
    /// [`RequestHandler::prepare`](crate::RequestHandler::prepare). The client then
    /// gets the error's status instead of `101`.
    ///
    /// ```
    /// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// use tornado_web::{url, Application, Context};
    /// use tornado_web::HttpError;
    ///
    /// struct Members;
    /// impl WebSocketHandler for Members {
    ///     async fn prepare(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         if cx.get_argument_opt("token")?.as_deref() != Some("secret") {
    ///             return Err(HttpError::new(403).into());
    ///         }
    ///         Ok(())
    ///     }
    ///     async fn on_message(&mut self, _ws: &WebSocket, _m: Message) -> tornado_web::Result {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// let app = Application::new(vec![url("/members", || Members)]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let url = format!("ws://{}/members", server.local_addrs()[0]);
    /// let refused = websocket_connect(url.clone()).await.unwrap_err();
    /// assert_eq!(refused.code(), 403);
    /// assert!(websocket_connect(format!("{url}?token=secret")).await.is_ok());
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    async fn prepare(&mut self, cx: &mut Context) -> Result {
        let _ = cx;
        Ok(())
    }

    /// Whether a cross-origin upgrade from `origin` may go on (Tornado 6.6's
    /// `check_origin`). Asked only for requests that look cross-origin: a browser's
    /// `Sec-Fetch-Site` says so, or, without it, the `Origin` is not the `Host`
    /// (clients that send no `Origin` are not browsers and pass). By default, whether
    /// `origin` is in the `trusted_origins` setting; refused upgrades get 403.
    ///
    /// Browsers let any page open a WebSocket to any site with the user's cookies:
    /// widen this only for a handler that does not trust cookies alone.
    ///
    /// ```
    /// use tornado_httpclient::HttpRequest;
    /// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// use tornado_web::{url, Application, Context};
    ///
    /// struct Widget;
    /// impl WebSocketHandler for Widget {
    ///     fn check_origin(&self, _cx: &Context, origin: &str) -> bool {
    ///         origin == "https://app.example.com"
    ///     }
    ///     async fn on_message(&mut self, _ws: &WebSocket, _m: Message) -> tornado_web::Result {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// let app = Application::new(vec![url("/widget", || Widget)]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let url = format!("ws://{}/widget", server.local_addrs()[0]);
    /// let from = |origin: &str| HttpRequest::new(url.as_str()).header("Origin", origin);
    /// assert!(websocket_connect(from("https://app.example.com")).await.is_ok());
    /// let refused = websocket_connect(from("https://evil.example")).await.unwrap_err();
    /// assert_eq!(refused.code(), 403);
    /// // Without an `Origin` (not a browser) the check is not made.
    /// assert!(websocket_connect(url.as_str()).await.is_ok());
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    fn check_origin(&self, cx: &Context, origin: &str) -> bool {
        cx.settings().trusted_origins.iter().any(|o| o == origin)
    }

    /// Chooses one of the subprotocols the client offered (`Sec-WebSocket-Protocol`),
    /// or none; called only when it offered some. Choosing one it did not offer is
    /// logged and ignored.
    ///
    /// ```
    /// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// use tornado_web::{url, Application, Context};
    ///
    /// struct Chat;
    /// impl WebSocketHandler for Chat {
    ///     fn select_subprotocol(&mut self, _cx: &Context, subprotocols: &[&str]) -> Option<String> {
    ///         // Offered in the client's order of preference: the first this server speaks.
    ///         let known = ["chat.v1", "chat.v2"];
    ///         subprotocols.iter().copied().find(|p| known.contains(p)).map(str::to_owned)
    ///     }
    ///     async fn on_message(&mut self, _ws: &WebSocket, _m: Message) -> tornado_web::Result {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// let app = Application::new(vec![url("/chat", || Chat)]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let url = format!("ws://{}/chat", server.local_addrs()[0]);
    /// let conn = websocket_connect(url.clone())
    ///     .subprotocols(["chat.v3", "chat.v2", "chat.v1"])
    ///     .await
    ///     .unwrap();
    /// assert_eq!(conn.selected_subprotocol(), Some("chat.v2"));
    /// let conn = websocket_connect(url).subprotocols(["mqtt"]).await.unwrap();
    /// assert_eq!(conn.selected_subprotocol(), None);
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    fn select_subprotocol(&mut self, cx: &Context, subprotocols: &[&str]) -> Option<String> {
        let _ = (cx, subprotocols);
        None
    }

    /// Compression for this connection: `None` (the default) for none, or the
    /// options under which permessage-deflate is accepted when the client offers it.
    ///
    /// ```
    /// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// use tornado_web::{url, Application, Context};
    /// use tornado_web::websocket::CompressionOptions;
    ///
    /// struct Compressed;
    /// impl WebSocketHandler for Compressed {
    ///     fn get_compression_options(&self, _cx: &Context) -> Option<CompressionOptions> {
    ///         Some(CompressionOptions::default())
    ///     }
    ///     async fn open(&mut self, ws: &WebSocket, _cx: &mut Context) -> tornado_web::Result {
    ///         ws.write_message(format!("compressed: {}", ws.is_compressed()));
    ///         Ok(())
    ///     }
    ///     async fn on_message(&mut self, _ws: &WebSocket, _m: Message) -> tornado_web::Result {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// let app = Application::new(vec![url("/z", || Compressed)]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let url = format!("ws://{}/z", server.local_addrs()[0]);
    /// let conn = websocket_connect(url.clone())
    ///     .compression(CompressionOptions::default())
    ///     .await
    ///     .unwrap();
    /// assert_eq!(conn.read_message().await, Some(Message::from("compressed: true")));
    /// // A client that offers no compression gets none.
    /// let plain = websocket_connect(url).await.unwrap();
    /// assert_eq!(plain.read_message().await, Some(Message::from("compressed: false")));
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    fn get_compression_options(&self, cx: &Context) -> Option<CompressionOptions> {
        let _ = cx;
        None
    }

    /// The connection is open. `cx` is the upgrade request (path arguments,
    /// arguments, cookies, current user); its response is over, so it cannot write.
    ///
    /// ```
    /// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// use tornado_web::{url, Application, Context};
    ///
    /// struct Room {
    ///     name: String,
    /// }
    /// impl WebSocketHandler for Room {
    ///     async fn open(&mut self, ws: &WebSocket, cx: &mut Context) -> tornado_web::Result {
    ///         // The context goes after `open`: keep what later callbacks need.
    ///         self.name = cx.path_arg(0).unwrap_or_default().to_owned();
    ///         ws.write_message(format!("welcome to {}", self.name));
    ///         Ok(())
    ///     }
    ///     async fn on_message(&mut self, ws: &WebSocket, message: Message) -> tornado_web::Result {
    ///         ws.write_message(format!("{}: {}", self.name, message.as_text().unwrap_or("?")));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// let app = Application::new(vec![url("/room/(.*)", || Room { name: String::new() })]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let url = format!("ws://{}/room", server.local_addrs()[0]);
    /// let conn = websocket_connect(format!("{url}/rust")).await.unwrap();
    /// assert_eq!(conn.read_message().await, Some(Message::from("welcome to rust")));
    /// conn.write_message("hi");
    /// assert_eq!(conn.read_message().await, Some(Message::from("rust: hi")));
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    async fn open(&mut self, ws: &WebSocket, cx: &mut Context) -> Result {
        let _ = (ws, cx);
        Ok(())
    }

    /// A whole message from the peer, text or binary. The next message is not read
    /// until this returns; an `Err` (or a panic) closes the connection with 1011.
    ///
    /// ```
    /// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// use tornado_web::{url, Application, Context};
    ///
    /// struct Shout;
    /// impl WebSocketHandler for Shout {
    ///     async fn on_message(&mut self, ws: &WebSocket, message: Message) -> tornado_web::Result {
    ///         match message {
    ///             Message::Text(text) if text == "fail" => {
    ///                 return Err(tornado_web::Error::msg("failed"));
    ///             }
    ///             Message::Text(text) => ws.write_message(text.to_uppercase()),
    ///             Message::Binary(data) => ws.write_message(format!("{} bytes", data.len())),
    ///         };
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// let app = Application::new(vec![url("/shout", || Shout)]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let url = format!("ws://{}/shout", server.local_addrs()[0]);
    /// let conn = websocket_connect(url).await.unwrap();
    /// conn.write_message("hi");
    /// assert_eq!(conn.read_message().await, Some(Message::from("HI")));
    /// conn.write_message(vec![1u8, 2, 3]);
    /// assert_eq!(conn.read_message().await, Some(Message::from("3 bytes")));
    /// conn.write_message("fail");
    /// assert_eq!(conn.read_message().await, None);
    /// assert_eq!(conn.close_code(), Some(1011));
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    async fn on_message(&mut self, ws: &WebSocket, message: Message) -> Result;

    /// A ping from the peer (the pong is sent already).
    ///
    /// ```
    /// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// use tornado_web::{url, Application, Context};
    ///
    /// struct Counter {
    ///     pings: usize,
    /// }
    /// impl WebSocketHandler for Counter {
    ///     fn on_ping(&mut self, ws: &WebSocket, data: &[u8]) {
    ///         self.pings += 1;
    ///         ws.write_message(format!("ping {}: {}", self.pings, String::from_utf8_lossy(data)));
    ///     }
    ///     async fn on_message(&mut self, _ws: &WebSocket, _m: Message) -> tornado_web::Result {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// let app = Application::new(vec![url("/count", || Counter { pings: 0 })]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let url = format!("ws://{}/count", server.local_addrs()[0]);
    /// let conn = websocket_connect(url).await.unwrap();
    /// conn.ping(b"are you there?").unwrap();
    /// assert_eq!(conn.read_message().await, Some(Message::from("ping 1: are you there?")));
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    fn on_ping(&mut self, ws: &WebSocket, data: &[u8]) {
        let _ = (ws, data);
    }

    /// A pong from the peer: the answer to [`WebSocket::ping`] (or to the pings of
    /// the `websocket_ping_interval` setting).
    ///
    /// ```
    /// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// use tornado_web::{url, Application, Context};
    ///
    /// struct Heartbeat;
    /// impl WebSocketHandler for Heartbeat {
    ///     async fn open(&mut self, ws: &WebSocket, _cx: &mut Context) -> tornado_web::Result {
    ///         ws.ping(b"beat")?;
    ///         Ok(())
    ///     }
    ///     fn on_pong(&mut self, ws: &WebSocket, data: &[u8]) {
    ///         ws.write_message(format!("pong: {}", String::from_utf8_lossy(data)));
    ///     }
    ///     async fn on_message(&mut self, _ws: &WebSocket, _m: Message) -> tornado_web::Result {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// let app = Application::new(vec![url("/beat", || Heartbeat)]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let url = format!("ws://{}/beat", server.local_addrs()[0]);
    /// // The client answers the ping by itself.
    /// let conn = websocket_connect(url).await.unwrap();
    /// assert_eq!(conn.read_message().await, Some(Message::from("pong: beat")));
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    fn on_pong(&mut self, ws: &WebSocket, data: &[u8]) {
        let _ = (ws, data);
    }

    /// The connection is over (the peer's close code and reason, if it sent them, are
    /// in [`WebSocket::close_code`] and [`WebSocket::close_reason`]). Called once.
    /// A graceful shutdown of the server closes every open connection with 1001
    /// ("going away") and waits, up to its grace, for each connection to end; what is
    /// still open then has its stream closed, and this runs once the connection's task
    /// sees that (a connection whose `open` had not returned by then never opened, and
    /// gets no `on_close`).
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// use tornado_web::{url, Application, Context};
    ///
    /// type Closes = Rc<RefCell<Vec<(Option<u16>, Option<String>)>>>;
    /// struct Tracked {
    ///     closes: Closes,
    /// }
    /// impl WebSocketHandler for Tracked {
    ///     fn on_close(&mut self, ws: &WebSocket) {
    ///         self.closes.borrow_mut().push((ws.close_code(), ws.close_reason()));
    ///     }
    ///     async fn on_message(&mut self, _ws: &WebSocket, _m: Message) -> tornado_web::Result {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// let closes = Closes::default();
    /// let seen = closes.clone();
    /// let app = Application::new(vec![url("/tracked", move || Tracked { closes: seen.clone() })]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let url = format!("ws://{}/tracked", server.local_addrs()[0]);
    /// let conn = websocket_connect(url).await.unwrap();
    /// conn.close(Some(4000), Some("done"));
    /// assert_eq!(conn.read_message().await, None);
    /// while closes.borrow().is_empty() {
    ///     tornado_gen::sleep(std::time::Duration::from_millis(5)).await;
    /// }
    /// assert_eq!(*closes.borrow(), [(Some(4000), Some("done".to_owned()))]);
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    fn on_close(&mut self, ws: &WebSocket) {
        let _ = ws;
    }
}

/// The [`RequestHandler`] a WebSocket route serves its upgrade request with.
struct Upgrade<W> {
    /// Taken when the connection opens.
    handler: Option<W>,
}

impl<W: WebSocketHandler> RequestHandler for Upgrade<W> {
    const SUPPORTED_METHODS: &'static [Method] = &[Method::GET];

    async fn get_current_user(&mut self, cx: &mut Context) -> Result<Option<String>> {
        match self.handler.as_mut() {
            Some(h) => h.get_current_user(cx).await,
            None => Ok(None),
        }
    }

    async fn prepare(&mut self, cx: &mut Context) -> Result {
        match self.handler.as_mut() {
            Some(h) => h.prepare(cx).await,
            None => Ok(()),
        }
    }

    async fn get(&mut self, cx: &mut Context) -> Result {
        match self.handler.take() {
            Some(h) => accept(h, cx).await,
            None => Ok(()),
        }
    }
}

/// Answers a refused upgrade with its status and message.
fn refuse(cx: &mut Context, e: HandshakeError) -> Result {
    log::debug!("WebSocket upgrade refused: {e}");
    cx.set_status(e.status)?;
    if e.status == 426 {
        cx.set_header("Sec-WebSocket-Version", VERSION)?;
    }
    cx.write(e.message);
    Ok(())
}

/// The upgrade: checks, the 101, then the connection's own task.
async fn accept<W: WebSocketHandler>(mut handler: W, cx: &mut Context) -> Result {
    let headers = cx.request().headers();
    // Both are lists, which may come in several lines (Tornado reads them joined).
    let upgrade = check_upgrade(
        headers.get_joined("Upgrade").as_deref(),
        headers.get_joined("Connection").as_deref(),
    );
    if let Err(e) = upgrade {
        return refuse(cx, e);
    }
    // Browsers do not apply the same-origin policy to WebSockets: the check is always
    // on, after `prepare` (a `check_origin` may rely on its authentication).
    let refused = crate::xsrf::cross_origin_error(
        headers.get("Sec-Fetch-Site"),
        headers.get("Origin"),
        headers.get("Host").unwrap_or(""),
        |origin| handler.check_origin(cx, origin),
    );
    if let Some(why) = refused {
        log::debug!("Cross origin websockets not allowed: {why}");
        cx.set_status(403)?;
        cx.write("Cross origin websockets not allowed");
        return Ok(());
    }
    let headers = cx.request().headers();
    let key = match check_key(
        headers.get("Sec-WebSocket-Version"),
        headers.get("Sec-WebSocket-Key"),
    ) {
        Ok(key) => accept_key(key),
        Err(e) => return refuse(cx, e),
    };
    // RFC 6455 4.2.1: the handshake names the server's authority; Tornado refuses
    // one without (HTTP/1.0 may leave `Host` out), as the origin check needs it too.
    if headers.get("Host").is_none_or(|h| h.trim().is_empty()) {
        return refuse(
            cx,
            HandshakeError {
                status: 400,
                message: "Missing/Invalid WebSocket headers: Host is required",
            },
        );
    }
    let offered: Vec<String> = headers
        .get_all("Sec-WebSocket-Protocol")
        .flat_map(split_list)
        .map(str::to_owned)
        .collect();
    let extensions = headers
        .get_all("Sec-WebSocket-Extensions")
        .collect::<Vec<_>>()
        .join(",");
    let subprotocol = if offered.is_empty() {
        None
    } else {
        let list: Vec<&str> = offered.iter().map(String::as_str).collect();
        match handler.select_subprotocol(cx, &list) {
            Some(p) if list.contains(&p.as_str()) => Some(p),
            Some(p) => {
                log::error!("select_subprotocol chose {p:?}, which the client did not offer");
                None
            }
            None => None,
        }
    };
    let options = handler.get_compression_options(cx);
    let deflate = options.as_ref().and_then(|o| {
        server_negotiate(&extensions, o).map(|(p, answer)| (p, answer, o.compression_level))
    });

    cx.set_header("Upgrade", "websocket")?;
    cx.set_header("Connection", "Upgrade")?;
    cx.set_header("Sec-WebSocket-Accept", key)?;
    if let Some(p) = &subprotocol {
        cx.set_header("Sec-WebSocket-Protocol", p)?;
    }
    if let Some((_, answer, _)) = &deflate {
        cx.set_header("Sec-WebSocket-Extensions", answer)?;
    }
    let Some(stream) = cx.upgrade() else {
        return Ok(());
    };
    let settings = cx.settings();
    let (compress, inflate) = match &deflate {
        Some((params, _, level)) => (
            Some(params.compressor(true, *level)),
            Some(params.decompressor(true)),
        ),
        None => (None, None),
    };
    let reader = MessageReader::server(settings.websocket_max_message_size, inflate);
    let pinger = Pinger::new(
        settings.websocket_ping_interval,
        settings.websocket_ping_timeout,
    );
    let capture = settings.serves_traceback();
    let ws = WebSocket::new(stream, subprotocol, compress, false);
    // The server counts the connection until it ends: a graceful shutdown closes it
    // with 1001 ("going away") and waits for the closing handshake. (Counted before
    // `open`, so a shutdown during `open` waits for it too.)
    let tracked = Some(ws.track(cx));
    let opened = crate::panic::catch_unwind(handler.open(&ws, cx), capture).await;
    let failed = match opened {
        Ok(Ok(())) => None,
        // A write that failed because the connection closed meanwhile (the client
        // left, or the server is shutting down) is not the server's error.
        Ok(Err(e)) if super::connection::is_closed_error(&e) => {
            log::debug!("WebSocket open: {e}");
            None
        }
        Ok(Err(e)) => Some(format!("error in WebSocket open: {e}")),
        Err(p) => Some(format!("panic in WebSocket open: {}", p.message)),
    };
    if let Some(failed) = &failed {
        log::error!("{failed}");
        ws.close(Some(super::frame::close_code::INTERNAL_ERROR), None);
    }
    // The connection runs on its own task: the HTTP connection's (its request, its
    // context, this handler's state) ends here and its memory goes.
    tornado_ioloop::spawn_callback(run(
        handler,
        ws,
        reader,
        pinger,
        capture,
        failed.is_some(),
        tracked,
    ));
    Ok(())
}

/// Marks the [`IntoTarget`] implementation for WebSocket handler factories; type
/// inference picks it, so it is never named: a closure making a
/// [`WebSocketHandler`] is a route's target. The route serves `GET` only (405 for
/// other methods), and answers a `GET` that is not an upgrade with 400.
///
/// ```
/// use tornado_httpclient::{AsyncHttpClient, HttpRequest};
/// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
/// use tornado_web::{url, Application};
///
/// struct Echo;
/// impl WebSocketHandler for Echo {
///     async fn on_message(&mut self, ws: &WebSocket, message: Message) -> tornado_web::Result {
///         ws.write_message(message);
///         Ok(())
///     }
/// }
///
/// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
/// let app = Application::new(vec![url("/echo", || Echo)]);
/// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
/// # let addr = server.local_addrs()[0];
/// let client = AsyncHttpClient::current();
/// let plain = client.fetch(format!("http://{addr}/echo")).await;
/// assert_eq!(plain.unwrap_err().code(), 400);
/// let post = HttpRequest::new(format!("http://{addr}/echo")).method("POST").body("x");
/// assert_eq!(client.fetch(post).await.unwrap_err().code(), 405);
/// assert!(websocket_connect(format!("ws://{addr}/echo")).await.is_ok());
/// # server.stop();
/// # }, std::time::Duration::from_secs(10)).unwrap();
/// ```
#[derive(Debug)]
pub enum WebSocketFactory {}

/// A closure making a [`WebSocketHandler`] is a route target, as one making a
/// [`RequestHandler`] is: `url("/ws", || EchoWebSocket)`.
impl<F, W> IntoTarget<WebSocketFactory> for F
where
    F: Fn() -> W + 'static,
    W: WebSocketHandler,
{
    fn into_target(self) -> Target {
        let factory = Rc::new(self);
        Target::handler(move || Upgrade {
            handler: Some(factory()),
        })
    }
}
