//! The client side (Tornado's `websocket_connect` and `WebSocketClientConnection`):
//! the opening handshake over [`AsyncHttpClient::upgrade`], then the same connection
//! task as a server's, masking what it sends, with a handler that hands messages to
//! [`WebSocketClientConnection::read_message`] or to a callback.

use std::cell::RefCell;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

use tornado_httpclient::{
    AsyncHttpClient, ErrorKind, HttpClientError, HttpHeaders, HttpRequest, HttpResponse,
    TRANSPORT_ERROR_CODE, Upgraded,
};

use super::Message;
use super::connection::{Pinger, WebSocket, WebSocketError, WriteMessage, run};
use super::deflate::CompressionOptions;
use super::handler::WebSocketHandler;
use super::handshake::{ClientHandshake, split_list};
use super::reader::MessageReader;
use crate::settings::DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE;

/// What a message callback is given: each message, then `None` once the connection
/// is closed.
type Callback = Box<dyn FnMut(Option<Message>)>;

/// Opens a WebSocket connection to `request`, a `ws://` or `wss://` URL or an
/// [`HttpRequest`] for one (Tornado's `websocket_connect`). Set options on what it
/// returns, then `.await` it for the [`WebSocketClientConnection`].
///
/// The request's options apply to the handshake: custom headers, `connect_timeout`
/// (connecting, TLS and a proxy's tunnel included) and `request_timeout` (the whole
/// handshake), TLS settings for `wss://` (`validate_cert`, `ca_certs`, a client
/// certificate) and a proxy (`proxy(host, port)`, through a `CONNECT` tunnel for
/// `ws://` as for `wss://`). Redirects are not followed.
///
/// An answer other than `101 Switching Protocols` is an [`HttpClientError`] carrying
/// its status ([`ErrorKind::Http`]: 403 from a server's `check_origin`, 404, …) and
/// the response; a `101` that does not complete the handshake (a wrong
/// `Sec-WebSocket-Accept`, a subprotocol or extension that was not offered) is an
/// [`ErrorKind::Protocol`] error saying what was wrong; transport failures are as for
/// [`AsyncHttpClient::fetch`].
///
/// ```
/// use std::time::Duration;
/// use tornado_ioloop::IoLoop;
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
/// let io_loop = IoLoop::new().unwrap();
/// io_loop.run_sync_timeout(async {
///     let app = Application::new(vec![url("/echo", || Echo)]);
///     let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
///     let url = format!("ws://{}/echo", server.local_addrs()[0]);
///
///     let conn = websocket_connect(url).await.unwrap();
///     conn.write_message("hello").await.unwrap();
///     assert_eq!(conn.read_message().await, Some(Message::Text("hello".into())));
///
///     conn.close(Some(1000), Some("done"));
///     // The server echoes the close: then the reader sees the end.
///     assert_eq!(conn.read_message().await, None);
///     assert_eq!(conn.close_code(), Some(1000));
///     server.stop();
/// }, Duration::from_secs(10)).unwrap();
/// ```
pub fn websocket_connect(request: impl Into<HttpRequest>) -> WebSocketConnect {
    WebSocketConnect {
        request: request.into(),
        client: None,
        subprotocols: Vec::new(),
        compression: None,
        max_message_size: DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE,
        ping_interval: None,
        ping_timeout: None,
        on_message: None,
    }
}

/// A WebSocket connection about to be opened, with its options (the keyword
/// arguments of Tornado's `websocket_connect`); `.await` it to connect.
///
/// ```
/// use std::time::Duration;
/// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
/// use tornado_web::{url, Application, Context};
/// use tornado_web::websocket::CompressionOptions;
///
/// // Speaks chat.v1 only, and compresses when asked.
/// struct Chat;
/// impl WebSocketHandler for Chat {
///     fn select_subprotocol(&mut self, _cx: &Context, offered: &[&str]) -> Option<String> {
///         offered.contains(&"chat.v1").then(|| "chat.v1".to_owned())
///     }
///     fn get_compression_options(&self, _cx: &Context) -> Option<CompressionOptions> {
///         Some(CompressionOptions::default())
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
/// let conn = websocket_connect(url)
///     .subprotocols(["chat.v2", "chat.v1"])
///     .compression(CompressionOptions::default())
///     .ping_interval(Duration::from_secs(30))
///     .connect_timeout(Duration::from_secs(5))
///     .await
///     .unwrap();
/// assert_eq!(conn.selected_subprotocol(), Some("chat.v1"));
/// assert!(conn.is_compressed());
/// # server.stop();
/// # }, std::time::Duration::from_secs(10)).unwrap();
/// ```
#[must_use = "a connection is opened when this is awaited"]
pub struct WebSocketConnect {
    request: HttpRequest,
    client: Option<AsyncHttpClient>,
    subprotocols: Vec<String>,
    compression: Option<CompressionOptions>,
    max_message_size: usize,
    ping_interval: Option<Duration>,
    ping_timeout: Option<Duration>,
    on_message: Option<Callback>,
}

impl fmt::Debug for WebSocketConnect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketConnect")
            .field("subprotocols", &self.subprotocols)
            .field("compression", &self.compression)
            .field("max_message_size", &self.max_message_size)
            .field("ping_interval", &self.ping_interval)
            .field("ping_timeout", &self.ping_timeout)
            .field("on_message_callback", &self.on_message.is_some())
            .finish_non_exhaustive()
    }
}

impl WebSocketConnect {
    /// Offers these subprotocols (`Sec-WebSocket-Protocol`), in order of preference;
    /// the server's choice is [`WebSocketClientConnection::selected_subprotocol`].
    ///
    /// ```
    /// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// use tornado_web::{url, Application, Context};
    /// use tornado_web::websocket::CompressionOptions;
    ///
    /// // Speaks chat.v1 only, and compresses when asked.
    /// struct Chat;
    /// impl WebSocketHandler for Chat {
    ///     fn select_subprotocol(&mut self, _cx: &Context, offered: &[&str]) -> Option<String> {
    ///         offered.contains(&"chat.v1").then(|| "chat.v1".to_owned())
    ///     }
    ///     fn get_compression_options(&self, _cx: &Context) -> Option<CompressionOptions> {
    ///         Some(CompressionOptions::default())
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
    ///     .subprotocols(["chat.v2", "chat.v1"])
    ///     .await
    ///     .unwrap();
    /// assert_eq!(conn.selected_subprotocol(), Some("chat.v1"));
    /// let conn = websocket_connect(url).subprotocols(["chat.v2"]).await.unwrap();
    /// assert_eq!(conn.selected_subprotocol(), None);
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub fn subprotocols<I, S>(mut self, subprotocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.subprotocols = subprotocols.into_iter().map(Into::into).collect();
        self
    }

    /// Offers permessage-deflate (Tornado's `compression_options`): the options say
    /// what the client asks of the server (`server_no_context_takeover`,
    /// `server_max_window_bits`) and of itself (`client_no_context_takeover`,
    /// `client_max_window_bits`), and the level it compresses at. Messages are
    /// compressed only if the server accepts.
    ///
    /// ```
    /// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// use tornado_web::{url, Application, Context};
    /// use tornado_web::websocket::CompressionOptions;
    ///
    /// // Speaks chat.v1 only, and compresses when asked.
    /// struct Chat;
    /// impl WebSocketHandler for Chat {
    ///     fn select_subprotocol(&mut self, _cx: &Context, offered: &[&str]) -> Option<String> {
    ///         offered.contains(&"chat.v1").then(|| "chat.v1".to_owned())
    ///     }
    ///     fn get_compression_options(&self, _cx: &Context) -> Option<CompressionOptions> {
    ///         Some(CompressionOptions::default())
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
    /// let options = CompressionOptions {
    ///     server_max_window_bits: 10,
    ///     ..CompressionOptions::default()
    /// };
    /// let conn = websocket_connect(url).compression(options).await.unwrap();
    /// assert!(conn.is_compressed());
    /// assert_eq!(
    ///     conn.headers().get("Sec-WebSocket-Extensions"),
    ///     Some("permessage-deflate; server_max_window_bits=10")
    /// );
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub fn compression(mut self, options: CompressionOptions) -> Self {
        self.compression = Some(options);
        self
    }

    /// The largest message accepted from the server (10 MiB by default,
    /// [`DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE`](crate::DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE));
    /// a larger one closes the connection with 1009.
    ///
    /// ```
    /// # use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// # use tornado_web::{url, Application};
    /// # struct Echo;
    /// # impl WebSocketHandler for Echo {
    /// #     async fn on_message(&mut self, ws: &WebSocket, m: Message) -> tornado_web::Result {
    /// #         ws.write_message(m);
    /// #         Ok(())
    /// #     }
    /// # }
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// # let app = Application::new(vec![url("/echo", || Echo)]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let url = format!("ws://{}/echo", server.local_addrs()[0]);
    /// let conn = websocket_connect(url).max_message_size(10).await.unwrap();
    /// conn.write_message("0123456789");
    /// assert_eq!(conn.read_message().await, Some(Message::from("0123456789")));
    /// // The echo of 11 bytes is one too many: the client closes the connection.
    /// conn.write_message("0123456789!");
    /// assert_eq!(conn.read_message().await, None);
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Sends a ping this often; with [`ping_timeout`](Self::ping_timeout), a pong
    /// that does not come in time closes the connection (as the server's
    /// `websocket_ping_interval` setting does).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// use tornado_web::{url, Application, Context};
    ///
    /// struct Pinged;
    /// impl WebSocketHandler for Pinged {
    ///     fn on_ping(&mut self, ws: &WebSocket, data: &[u8]) {
    ///         ws.write_message(format!("ping: {}", String::from_utf8_lossy(data)));
    ///     }
    ///     async fn on_message(&mut self, _ws: &WebSocket, _m: Message) -> tornado_web::Result {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// let app = Application::new(vec![url("/pinged", || Pinged)]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let url = format!("ws://{}/pinged", server.local_addrs()[0]);
    /// let conn = websocket_connect(url).ping_interval(Duration::from_millis(20)).await.unwrap();
    /// // The server tells of each ping it gets: the client's, empty.
    /// assert_eq!(conn.read_message().await, Some(Message::from("ping: ")));
    /// assert_eq!(conn.read_message().await, Some(Message::from("ping: ")));
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = Some(interval);
        self
    }

    /// How long a pong may take (the interval by default, and never more; zero: no
    /// limit). When it has not come in time, the client closes the connection with
    /// 1000 and the reason "ping timed out".
    ///
    /// ```
    /// use std::time::Duration;
    /// use tornado_web::websocket::websocket_connect;
    /// # use std::io::{Read, Write};
    /// # use tornado_web::websocket::handshake::accept_key;
    ///
    /// // A peer that never answers pings: it completes the handshake, then reads frames
    /// // and answers only a close frame, with the same payload.
    /// # let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// # let addr = listener.local_addr().unwrap();
    /// # let peer = std::thread::spawn(move || {
    /// #     let (mut s, _) = listener.accept().unwrap();
    /// #     s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    /// #     let mut request = Vec::new();
    /// #     let mut byte = [0];
    /// #     while !request.ends_with(b"\r\n\r\n") {
    /// #         s.read_exact(&mut byte).unwrap();
    /// #         request.push(byte[0]);
    /// #     }
    /// #     let request = String::from_utf8(request).unwrap();
    /// #     let key = request.lines().find_map(|line| {
    /// #         let (name, value) = line.split_once(':')?;
    /// #         name.eq_ignore_ascii_case("Sec-WebSocket-Key").then(|| value.trim())
    /// #     });
    /// #     write!(s, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
    /// #                Connection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
    /// #            accept_key(key.unwrap())).unwrap();
    /// #     loop {
    /// #         let mut header = [0; 6]; // client frames are masked; these are short
    /// #         s.read_exact(&mut header).unwrap();
    /// #         let mut payload = vec![0; (header[1] & 0x7f) as usize];
    /// #         s.read_exact(&mut payload).unwrap();
    /// #         if header[0] & 0x0f == 0x8 {
    /// #             for (i, b) in payload.iter_mut().enumerate() {
    /// #                 *b ^= header[2 + i % 4];
    /// #             }
    /// #             s.write_all(&[0x88, payload.len() as u8]).unwrap();
    /// #             s.write_all(&payload).unwrap();
    /// #             return;
    /// #         }
    /// #     }
    /// # });
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async move {
    /// let conn = websocket_connect(format!("ws://{addr}/"))
    ///     .ping_interval(Duration::from_millis(50))
    ///     .ping_timeout(Duration::from_millis(50))
    ///     .await
    ///     .unwrap();
    /// assert_eq!(conn.read_message().await, None);
    /// assert_eq!(conn.close_code(), Some(1000));
    /// assert_eq!(conn.close_reason().as_deref(), Some("ping timed out"));
    /// # }, Duration::from_secs(10)).unwrap();
    /// # peer.join().unwrap();
    /// ```
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.ping_timeout = Some(timeout);
        self
    }

    /// Bounds connecting (TCP, a proxy's tunnel, TLS); Tornado's `connect_timeout`
    /// argument, the same as the request's own option.
    ///
    /// ```
    /// use std::time::Duration;
    /// # use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// # use tornado_web::{url, Application};
    /// # struct Echo;
    /// # impl WebSocketHandler for Echo {
    /// #     async fn on_message(&mut self, ws: &WebSocket, m: Message) -> tornado_web::Result {
    /// #         ws.write_message(m);
    /// #         Ok(())
    /// #     }
    /// # }
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// # let app = Application::new(vec![url("/echo", || Echo)]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let url = format!("ws://{}/echo", server.local_addrs()[0]);
    /// let conn = websocket_connect(url).connect_timeout(Duration::from_secs(5)).await.unwrap();
    /// conn.write_message("connected in time");
    /// assert_eq!(conn.read_message().await, Some(Message::from("connected in time")));
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.request.connect_timeout = Some(timeout);
        self
    }

    /// Hands each message to `callback` as it arrives, then `None` once the
    /// connection is closed (Tornado's `on_message_callback`), instead of keeping it
    /// for [`read_message`](WebSocketClientConnection::read_message), which then
    /// only sees the end. A panic in the callback closes the connection with 1011.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// # use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// # use tornado_web::{url, Application};
    /// # struct Echo;
    /// # impl WebSocketHandler for Echo {
    /// #     async fn on_message(&mut self, ws: &WebSocket, m: Message) -> tornado_web::Result {
    /// #         ws.write_message(m);
    /// #         Ok(())
    /// #     }
    /// # }
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// # let app = Application::new(vec![url("/echo", || Echo)]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let url = format!("ws://{}/echo", server.local_addrs()[0]);
    /// let got = Rc::new(RefCell::new(Vec::new()));
    /// let log = got.clone();
    /// let conn = websocket_connect(url)
    ///     .on_message_callback(move |message| log.borrow_mut().push(message))
    ///     .await
    ///     .unwrap();
    /// conn.write_message("one");
    /// conn.write_message("two");
    /// while got.borrow().len() < 2 {
    ///     tornado_gen::sleep(std::time::Duration::from_millis(5)).await;
    /// }
    /// conn.close(None, None);
    /// // The reader sees only the end.
    /// assert_eq!(conn.read_message().await, None);
    /// assert_eq!(*got.borrow(), [Some(Message::from("one")), Some(Message::from("two")), None]);
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub fn on_message_callback(mut self, callback: impl FnMut(Option<Message>) + 'static) -> Self {
        self.on_message = Some(Box::new(callback));
        self
    }

    /// Connects with `client`'s settings (its request defaults, its resolver, its
    /// TLS configurations) rather than those of [`AsyncHttpClient::current`].
    ///
    /// ```
    /// use tornado_httpclient::{AsyncHttpClient, ClientConfig, HttpRequest};
    /// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// use tornado_web::{url, Application, Context};
    ///
    /// // Tells the client which team its `X-Team` header names.
    /// struct Team;
    /// impl WebSocketHandler for Team {
    ///     async fn open(&mut self, ws: &WebSocket, cx: &mut Context) -> tornado_web::Result {
    ///         let team = cx.request().headers().get("X-Team").unwrap_or("none").to_owned();
    ///         ws.write_message(format!("team {team}"));
    ///         Ok(())
    ///     }
    ///     async fn on_message(&mut self, _ws: &WebSocket, _m: Message) -> tornado_web::Result {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// let app = Application::new(vec![url("/team", || Team)]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let url = format!("ws://{}/team", server.local_addrs()[0]);
    /// // A client whose requests carry the header unless they set it themselves.
    /// let config = ClientConfig {
    ///     defaults: HttpRequest::new("").header("X-Team", "blue"),
    ///     ..ClientConfig::default()
    /// };
    /// let client = AsyncHttpClient::with_config(config);
    /// let conn = websocket_connect(url.clone()).client(&client).await.unwrap();
    /// assert_eq!(conn.read_message().await, Some(Message::from("team blue")));
    /// let conn = websocket_connect(url).await.unwrap();
    /// assert_eq!(conn.read_message().await, Some(Message::from("team none")));
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub fn client(mut self, client: &AsyncHttpClient) -> Self {
        self.client = Some(client.clone());
        self
    }

    /// Connects: the handshake, then the connection's task on this thread's loop.
    async fn connect(self) -> Result<WebSocketClientConnection, HttpClientError> {
        let WebSocketConnect {
            mut request,
            client,
            subprotocols,
            compression,
            max_message_size,
            ping_interval,
            ping_timeout,
            on_message,
        } = self;
        request.url = http_url(&request.url)?;
        // Subprotocols named in the request's own header are offers too.
        let subprotocols = if subprotocols.is_empty() {
            request
                .headers
                .get_all("Sec-WebSocket-Protocol")
                .flat_map(split_list)
                .map(str::to_owned)
                .collect()
        } else {
            subprotocols
        };
        let level = compression.as_ref().map(|c| c.compression_level);
        let handshake = ClientHandshake::new(subprotocols, compression);
        for (name, value) in handshake.request_headers() {
            request.headers.set(name, &value);
        }
        let client = client.unwrap_or_else(AsyncHttpClient::current);
        let Upgraded { response, stream } = client.upgrade(request).await?;
        let agreed = match handshake.check_answer(&response.headers) {
            Ok(agreed) => agreed,
            Err(why) => {
                stream.close();
                let url = ws_url(&response.effective_url);
                return Err(HttpClientError::new(
                    ErrorKind::Protocol,
                    TRANSPORT_ERROR_CODE,
                    format!("WebSocket handshake with {url} failed: {why}"),
                ));
            }
        };
        let (compress, inflate) = match agreed.deflate {
            Some(params) => (
                Some(params.compressor(false, level.unwrap_or(6))),
                Some(params.decompressor(false)),
            ),
            None => (None, None),
        };
        let ws = WebSocket::new(stream, agreed.subprotocol, compress, true);
        let reader = MessageReader::client(max_message_size, inflate);
        let pinger = Pinger::new(ping_interval, ping_timeout);
        let inbox = Rc::new(Inbox::default());
        let side = ClientSide {
            inbox: inbox.clone(),
            callback: on_message,
        };
        tornado_ioloop::spawn_callback(run(side, ws.clone(), reader, pinger, false, false, None));
        Ok(WebSocketClientConnection {
            ws,
            inbox,
            response,
        })
    }
}

impl IntoFuture for WebSocketConnect {
    type Output = Result<WebSocketClientConnection, HttpClientError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.connect())
    }
}

/// The `http://` or `https://` URL of a `ws://` or `wss://` one (the scheme's case
/// does not matter).
fn http_url(url: &str) -> Result<String, HttpClientError> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let scheme = if scheme.eq_ignore_ascii_case("ws") {
        "http"
    } else if scheme.eq_ignore_ascii_case("wss") {
        "https"
    } else {
        return Err(HttpClientError::new(
            ErrorKind::InvalidRequest,
            TRANSPORT_ERROR_CODE,
            format!(
                "a WebSocket URL starts with ws:// or wss:// (this one's scheme is {scheme:?})"
            ),
        ));
    };
    Ok(format!("{scheme}://{rest}"))
}

/// The `ws://` or `wss://` form of an `http://` or `https://` URL, for messages.
fn ws_url(url: &str) -> String {
    match url.strip_prefix("http") {
        Some(rest) => format!("ws{rest}"),
        None => url.to_owned(),
    }
}

/// An open WebSocket client connection (Tornado's `WebSocketClientConnection`).
///
/// Read with [`read_message`](Self::read_message) (or give
/// [`on_message_callback`](WebSocketConnect::on_message_callback) when
/// connecting); write with [`write_message`](Self::write_message). Pings from the
/// server are answered by themselves. One message is held for the reader, and the
/// connection reads no further until it is taken: a slow reader slows the server
/// down rather than filling memory, and what the reader writes on taking a message
/// goes out before the connection acts on what came after it.
///
/// Dropping it closes the connection as [`close(None, None)`](Self::close) does;
/// keep a [`websocket`](Self::websocket) handle to write from elsewhere while it
/// lives.
///
/// ```
/// # use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
/// # use tornado_web::{url, Application};
/// # struct Echo;
/// # impl WebSocketHandler for Echo {
/// #     async fn on_message(&mut self, ws: &WebSocket, m: Message) -> tornado_web::Result {
/// #         ws.write_message(m);
/// #         Ok(())
/// #     }
/// # }
/// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
/// # let app = Application::new(vec![url("/echo", || Echo)]);
/// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
/// # let url = format!("ws://{}/echo", server.local_addrs()[0]);
/// let conn = websocket_connect(url).await.unwrap();
/// for word in ["one", "two", "three"] {
///     conn.write_message(word);
/// }
/// for word in ["one", "two", "three"] {
///     assert_eq!(conn.read_message().await, Some(Message::from(word)));
/// }
/// conn.close(Some(1000), None);
/// assert_eq!(conn.read_message().await, None);
/// # server.stop();
/// # }, std::time::Duration::from_secs(10)).unwrap();
/// ```
pub struct WebSocketClientConnection {
    ws: WebSocket,
    inbox: Rc<Inbox>,
    response: HttpResponse,
}

impl fmt::Debug for WebSocketClientConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketClientConnection")
            .field("url", &self.response.effective_url)
            .field("ws", &self.ws)
            .finish_non_exhaustive()
    }
}

impl WebSocketClientConnection {
    /// The next message from the server; `None` once the connection is closed (by
    /// either side, or by a protocol error), after the messages that came before.
    ///
    /// ```
    /// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// use tornado_web::{url, Application, Context};
    ///
    /// struct Countdown;
    /// impl WebSocketHandler for Countdown {
    ///     async fn open(&mut self, ws: &WebSocket, _cx: &mut Context) -> tornado_web::Result {
    ///         for i in (1..=3).rev() {
    ///             ws.write_message(i.to_string());
    ///         }
    ///         ws.close(Some(1000), Some("liftoff"));
    ///         Ok(())
    ///     }
    ///     async fn on_message(&mut self, _ws: &WebSocket, _m: Message) -> tornado_web::Result {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// let app = Application::new(vec![url("/countdown", || Countdown)]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let url = format!("ws://{}/countdown", server.local_addrs()[0]);
    /// let conn = websocket_connect(url).await.unwrap();
    /// let mut got = Vec::new();
    /// while let Some(message) = conn.read_message().await {
    ///     got.push(message.as_text().unwrap().to_owned());
    /// }
    /// assert_eq!(got, ["3", "2", "1"]);
    /// assert_eq!(conn.close_reason().as_deref(), Some("liftoff"));
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub async fn read_message(&self) -> Option<Message> {
        std::future::poll_fn(|cx| self.inbox.poll_take(cx.waker())).await
    }

    /// Sends a message, text or binary (anything that converts into a [`Message`]);
    /// masked, and compressed when permessage-deflate was agreed. `.await` it to
    /// know it was written; on a closed connection (after [`close`](Self::close)
    /// too) it fails with an error for which [`WebSocketError::is_closed`] holds.
    ///
    /// ```
    /// # use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// # use tornado_web::{url, Application};
    /// # struct Echo;
    /// # impl WebSocketHandler for Echo {
    /// #     async fn on_message(&mut self, ws: &WebSocket, m: Message) -> tornado_web::Result {
    /// #         ws.write_message(m);
    /// #         Ok(())
    /// #     }
    /// # }
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// # let app = Application::new(vec![url("/echo", || Echo)]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let url = format!("ws://{}/echo", server.local_addrs()[0]);
    /// let conn = websocket_connect(url).await.unwrap();
    /// conn.write_message("text").await.unwrap();
    /// conn.write_message(vec![0u8, 1]).await.unwrap();
    /// conn.write_message(Message::json(&serde_json::json!([1, 2])).unwrap());
    /// assert_eq!(conn.read_message().await, Some(Message::Text("text".into())));
    /// assert_eq!(conn.read_message().await, Some(Message::Binary(vec![0u8, 1].into())));
    /// assert_eq!(conn.read_message().await, Some(Message::Text("[1,2]".into())));
    ///
    /// conn.close(None, None);
    /// assert!(conn.write_message("late").await.unwrap_err().is_closed());
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub fn write_message(&self, message: impl Into<Message>) -> WriteMessage {
        self.ws.write_message(message)
    }

    /// Sends a ping with `data` (at most 125 bytes); the server's pong is taken by
    /// the connection.
    ///
    /// ```
    /// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// use tornado_web::{url, Application, Context};
    ///
    /// struct Pinged;
    /// impl WebSocketHandler for Pinged {
    ///     fn on_ping(&mut self, ws: &WebSocket, data: &[u8]) {
    ///         ws.write_message(format!("ping: {}", String::from_utf8_lossy(data)));
    ///     }
    ///     async fn on_message(&mut self, _ws: &WebSocket, _m: Message) -> tornado_web::Result {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// let app = Application::new(vec![url("/pinged", || Pinged)]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let url = format!("ws://{}/pinged", server.local_addrs()[0]);
    /// let conn = websocket_connect(url).await.unwrap();
    /// conn.ping(b"hello").unwrap();
    /// assert_eq!(conn.read_message().await, Some(Message::from("ping: hello")));
    /// assert!(conn.ping(&[0; 126]).is_err());
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub fn ping(&self, data: &[u8]) -> Result<(), WebSocketError> {
        self.ws.ping(data)
    }

    /// Starts the closing handshake: a close frame with `code` and `reason` (see
    /// [`WebSocket::close`]); the connection ends when the server answers, or after
    /// [`CLOSE_TIMEOUT`](super::CLOSE_TIMEOUT). Writes fail from now on; messages the
    /// server sent before it saw the close still come to the reader, then `None`.
    ///
    /// ```
    /// # use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// # use tornado_web::{url, Application};
    /// # struct Echo;
    /// # impl WebSocketHandler for Echo {
    /// #     async fn on_message(&mut self, ws: &WebSocket, m: Message) -> tornado_web::Result {
    /// #         ws.write_message(m);
    /// #         Ok(())
    /// #     }
    /// # }
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// # let app = Application::new(vec![url("/echo", || Echo)]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let url = format!("ws://{}/echo", server.local_addrs()[0]);
    /// let conn = websocket_connect(url).await.unwrap();
    /// conn.close(Some(4000), Some("done"));
    /// assert!(conn.write_message("late").is_err());
    /// // The server echoes the code (not the reason); then the connection is over.
    /// assert_eq!(conn.read_message().await, None);
    /// assert_eq!(conn.close_code(), Some(4000));
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub fn close(&self, code: Option<u16>, reason: Option<&str>) {
        self.ws.close(code, reason)
    }

    /// The code of the server's close frame; `None` until it closed, or if its close
    /// frame carried none.
    ///
    /// ```
    /// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// use tornado_web::{url, Application, Context};
    ///
    /// struct Leaving;
    /// impl WebSocketHandler for Leaving {
    ///     async fn open(&mut self, ws: &WebSocket, _cx: &mut Context) -> tornado_web::Result {
    ///         ws.close(Some(4001), Some("bye"));
    ///         Ok(())
    ///     }
    ///     async fn on_message(&mut self, _ws: &WebSocket, _m: Message) -> tornado_web::Result {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// let app = Application::new(vec![url("/leaving", || Leaving)]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let url = format!("ws://{}/leaving", server.local_addrs()[0]);
    /// let conn = websocket_connect(url).await.unwrap();
    /// assert_eq!(conn.read_message().await, None);
    /// assert_eq!(conn.close_code(), Some(4001));
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub fn close_code(&self) -> Option<u16> {
        self.ws.close_code()
    }

    /// The reason of the server's close frame, as [`WebSocket::close_reason`].
    ///
    /// ```
    /// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// use tornado_web::{url, Application, Context};
    ///
    /// struct Leaving;
    /// impl WebSocketHandler for Leaving {
    ///     async fn open(&mut self, ws: &WebSocket, _cx: &mut Context) -> tornado_web::Result {
    ///         ws.close(Some(4001), Some("bye"));
    ///         Ok(())
    ///     }
    ///     async fn on_message(&mut self, _ws: &WebSocket, _m: Message) -> tornado_web::Result {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// let app = Application::new(vec![url("/leaving", || Leaving)]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let url = format!("ws://{}/leaving", server.local_addrs()[0]);
    /// let conn = websocket_connect(url).await.unwrap();
    /// assert_eq!(conn.read_message().await, None);
    /// assert_eq!(conn.close_reason().as_deref(), Some("bye"));
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub fn close_reason(&self) -> Option<String> {
        self.ws.close_reason()
    }

    /// The subprotocol the server selected among those offered, if any.
    ///
    /// ```
    /// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// use tornado_web::{url, Application, Context};
    /// use tornado_web::websocket::CompressionOptions;
    ///
    /// // Speaks chat.v1 only, and compresses when asked.
    /// struct Chat;
    /// impl WebSocketHandler for Chat {
    ///     fn select_subprotocol(&mut self, _cx: &Context, offered: &[&str]) -> Option<String> {
    ///         offered.contains(&"chat.v1").then(|| "chat.v1".to_owned())
    ///     }
    ///     fn get_compression_options(&self, _cx: &Context) -> Option<CompressionOptions> {
    ///         Some(CompressionOptions::default())
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
    /// let conn = websocket_connect(url.clone()).subprotocols(["chat.v1"]).await.unwrap();
    /// assert_eq!(conn.selected_subprotocol(), Some("chat.v1"));
    /// let conn = websocket_connect(url).await.unwrap();
    /// assert_eq!(conn.selected_subprotocol(), None);
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub fn selected_subprotocol(&self) -> Option<&str> {
        self.ws.selected_subprotocol()
    }

    /// Whether permessage-deflate was agreed.
    ///
    /// ```
    /// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// use tornado_web::{url, Application, Context};
    /// use tornado_web::websocket::CompressionOptions;
    ///
    /// // Speaks chat.v1 only, and compresses when asked.
    /// struct Chat;
    /// impl WebSocketHandler for Chat {
    ///     fn select_subprotocol(&mut self, _cx: &Context, offered: &[&str]) -> Option<String> {
    ///         offered.contains(&"chat.v1").then(|| "chat.v1".to_owned())
    ///     }
    ///     fn get_compression_options(&self, _cx: &Context) -> Option<CompressionOptions> {
    ///         Some(CompressionOptions::default())
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
    ///     .compression(CompressionOptions::default())
    ///     .await
    ///     .unwrap();
    /// assert!(conn.is_compressed());
    /// let conn = websocket_connect(url).await.unwrap();
    /// assert!(!conn.is_compressed());
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub fn is_compressed(&self) -> bool {
        self.ws.is_compressed()
    }

    /// Whether the connection is closed or closing.
    ///
    /// ```
    /// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// use tornado_web::{url, Application, Context};
    ///
    /// struct Leaving;
    /// impl WebSocketHandler for Leaving {
    ///     async fn open(&mut self, ws: &WebSocket, _cx: &mut Context) -> tornado_web::Result {
    ///         ws.close(Some(4001), Some("bye"));
    ///         Ok(())
    ///     }
    ///     async fn on_message(&mut self, _ws: &WebSocket, _m: Message) -> tornado_web::Result {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// let app = Application::new(vec![url("/leaving", || Leaving)]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let url = format!("ws://{}/leaving", server.local_addrs()[0]);
    /// let conn = websocket_connect(url).await.unwrap();
    /// assert_eq!(conn.read_message().await, None);
    /// assert!(conn.is_closed());
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub fn is_closed(&self) -> bool {
        self.ws.is_closed()
    }

    /// The headers of the server's `101` answer (Tornado's `headers`).
    ///
    /// ```
    /// # use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// # use tornado_web::{url, Application};
    /// # struct Echo;
    /// # impl WebSocketHandler for Echo {
    /// #     async fn on_message(&mut self, ws: &WebSocket, m: Message) -> tornado_web::Result {
    /// #         ws.write_message(m);
    /// #         Ok(())
    /// #     }
    /// # }
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// # let app = Application::new(vec![url("/echo", || Echo)]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let url = format!("ws://{}/echo", server.local_addrs()[0]);
    /// let conn = websocket_connect(url).await.unwrap();
    /// assert_eq!(conn.headers().get("Upgrade"), Some("websocket"));
    /// assert!(conn.headers().contains("Sec-WebSocket-Accept"));
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub fn headers(&self) -> &HttpHeaders {
        &self.response.headers
    }

    /// The server's `101` answer: its headers, the URL (as `http://` or `https://`),
    /// the handshake's timings.
    ///
    /// ```
    /// # use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// # use tornado_web::{url, Application};
    /// # struct Echo;
    /// # impl WebSocketHandler for Echo {
    /// #     async fn on_message(&mut self, ws: &WebSocket, m: Message) -> tornado_web::Result {
    /// #         ws.write_message(m);
    /// #         Ok(())
    /// #     }
    /// # }
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// # let app = Application::new(vec![url("/echo", || Echo)]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let url = format!("ws://{}/echo", server.local_addrs()[0]);
    /// let conn = websocket_connect(url.clone()).await.unwrap();
    /// assert_eq!(conn.response().code, 101);
    /// assert_eq!(conn.response().effective_url, url.replacen("ws://", "http://", 1));
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub fn response(&self) -> &HttpResponse {
        &self.response
    }

    /// A handle on the connection, cheap to clone, for writing (or closing) from
    /// elsewhere; it does not keep the connection open once this is dropped.
    ///
    /// ```
    /// # use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// # use tornado_web::{url, Application};
    /// # struct Echo;
    /// # impl WebSocketHandler for Echo {
    /// #     async fn on_message(&mut self, ws: &WebSocket, m: Message) -> tornado_web::Result {
    /// #         ws.write_message(m);
    /// #         Ok(())
    /// #     }
    /// # }
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// # let app = Application::new(vec![url("/echo", || Echo)]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let url = format!("ws://{}/echo", server.local_addrs()[0]);
    /// let conn = websocket_connect(url).await.unwrap();
    /// let ws = conn.websocket().clone();
    /// tornado_ioloop::spawn_callback(async move {
    ///     ws.write_message("from another task");
    /// });
    /// assert_eq!(conn.read_message().await, Some(Message::from("from another task")));
    ///
    /// let ws = conn.websocket().clone();
    /// drop(conn);
    /// assert!(ws.is_closed());
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub fn websocket(&self) -> &WebSocket {
        &self.ws
    }
}

impl Drop for WebSocketClientConnection {
    fn drop(&mut self) {
        self.inbox.detach();
        self.ws.close(None, None);
    }
}

/// The one message held for the reader, and who waits on it.
#[derive(Default)]
struct Inbox {
    state: RefCell<InboxState>,
}

#[derive(Default)]
struct InboxState {
    message: Option<Message>,
    /// The connection is over: after `message`, the reader gets `None`.
    closed: bool,
    /// The connection's handle is gone: messages are dropped.
    detached: bool,
    /// Tasks in `read_message`.
    readers: Vec<Waker>,
    /// The connection's task, waiting for its message to be taken.
    writer: Option<Waker>,
}

impl Inbox {
    fn poll_take(&self, waker: &Waker) -> Poll<Option<Message>> {
        let mut st = self.state.borrow_mut();
        if let Some(message) = st.message.take() {
            if let Some(w) = st.writer.take() {
                w.wake();
            }
            return Poll::Ready(Some(message));
        }
        if st.closed {
            return Poll::Ready(None);
        }
        if !st.readers.iter().any(|w| w.will_wake(waker)) {
            st.readers.push(waker.clone());
        }
        Poll::Pending
    }

    /// Holds `message` for the reader and waits until it is taken. The connection
    /// reads nothing more meanwhile, so what the reader does on taking it (an echo, a
    /// reply) goes out before the connection acts on what came next (a protocol
    /// error that closes it, say), as a server's `on_message` does.
    async fn put(&self, message: Message) {
        let mut message = Some(message);
        std::future::poll_fn(|cx| {
            let mut st = self.state.borrow_mut();
            if st.detached {
                return Poll::Ready(());
            }
            if let Some(m) = message.take() {
                // The previous message was taken before this one was read.
                st.message = Some(m);
                for w in st.readers.drain(..) {
                    w.wake();
                }
            }
            if st.message.is_none() {
                return Poll::Ready(());
            }
            st.writer = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    fn close(&self) {
        let mut st = self.state.borrow_mut();
        st.closed = true;
        for w in st.readers.drain(..) {
            w.wake();
        }
    }

    fn detach(&self) {
        let mut st = self.state.borrow_mut();
        st.detached = true;
        st.message = None;
        if let Some(w) = st.writer.take() {
            w.wake();
        }
    }
}

/// The client's handler on the shared connection task: messages go to the callback
/// or the inbox.
struct ClientSide {
    inbox: Rc<Inbox>,
    callback: Option<Callback>,
}

impl WebSocketHandler for ClientSide {
    async fn on_message(&mut self, _ws: &WebSocket, message: Message) -> crate::Result {
        match self.callback.as_mut() {
            Some(callback) => callback(Some(message)),
            None => self.inbox.put(message).await,
        }
        Ok(())
    }

    fn on_close(&mut self, _ws: &WebSocket) {
        self.inbox.close();
        if let Some(callback) = self.callback.as_mut() {
            callback(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(http_url("ws://a/b").unwrap(), "http://a/b");
        assert_eq!(http_url(" WSS://a:1/b?c ").unwrap(), "https://a:1/b?c");
        for bad in ["http://a/", "wsx://a/", "a/b", ""] {
            let err = http_url(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{bad}");
        }
        assert_eq!(ws_url("https://a/b"), "wss://a/b");
        assert_eq!(ws_url("http://a/b"), "ws://a/b");
    }
}
