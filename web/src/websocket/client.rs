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
/// ```no_run
/// use std::time::Duration;
/// use tornado_web::websocket::{websocket_connect, CompressionOptions};
///
/// # async fn f() -> Result<(), tornado_httpclient::HttpClientError> {
/// let conn = websocket_connect("wss://example.com/chat")
///     .subprotocols(["chat.v2", "chat.v1"])
///     .compression(CompressionOptions::default())
///     .ping_interval(Duration::from_secs(30))
///     .connect_timeout(Duration::from_secs(5))
///     .await?;
/// println!("speaking {:?}", conn.selected_subprotocol());
/// # Ok(()) }
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
    pub fn compression(mut self, options: CompressionOptions) -> Self {
        self.compression = Some(options);
        self
    }

    /// The largest message accepted from the server (10 MiB by default,
    /// [`DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE`](crate::DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE));
    /// a larger one closes the connection with 1009.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Sends a ping this often; with [`ping_timeout`](Self::ping_timeout), a pong
    /// that does not come in time closes the connection (as the server's
    /// `websocket_ping_interval` setting does).
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = Some(interval);
        self
    }

    /// How long a pong may take (the interval by default, and never more; zero: no
    /// limit).
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.ping_timeout = Some(timeout);
        self
    }

    /// Bounds connecting (TCP, a proxy's tunnel, TLS); Tornado's `connect_timeout`
    /// argument, the same as the request's own option.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.request.connect_timeout = Some(timeout);
        self
    }

    /// Hands each message to `callback` as it arrives, then `None` once the
    /// connection is closed (Tornado's `on_message_callback`), instead of keeping it
    /// for [`read_message`](WebSocketClientConnection::read_message), which then
    /// only sees the end. A panic in the callback closes the connection with 1011.
    pub fn on_message_callback(mut self, callback: impl FnMut(Option<Message>) + 'static) -> Self {
        self.on_message = Some(Box::new(callback));
        self
    }

    /// Connects with `client`'s settings (its request defaults, its resolver, its
    /// TLS configurations) rather than those of [`AsyncHttpClient::current`].
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
        tornado_ioloop::spawn_callback(run(side, ws.clone(), reader, pinger, false));
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
    pub async fn read_message(&self) -> Option<Message> {
        std::future::poll_fn(|cx| self.inbox.poll_take(cx.waker())).await
    }

    /// Sends a message, text or binary (anything that converts into a [`Message`]);
    /// masked, and compressed when permessage-deflate was agreed. `.await` it to
    /// know it was written; on a closed connection (after [`close`](Self::close)
    /// too) it fails with an error for which [`WebSocketError::is_closed`] holds.
    pub fn write_message(&self, message: impl Into<Message>) -> WriteMessage {
        self.ws.write_message(message)
    }

    /// Sends a ping with `data` (at most 125 bytes).
    pub fn ping(&self, data: &[u8]) -> Result<(), WebSocketError> {
        self.ws.ping(data)
    }

    /// Starts the closing handshake: a close frame with `code` and `reason` (see
    /// [`WebSocket::close`]); the connection ends when the server answers, or after
    /// [`CLOSE_TIMEOUT`](super::CLOSE_TIMEOUT). Writes fail from now on.
    pub fn close(&self, code: Option<u16>, reason: Option<&str>) {
        self.ws.close(code, reason)
    }

    /// The code of the server's close frame; `None` until it closed, or if its close
    /// frame carried none.
    pub fn close_code(&self) -> Option<u16> {
        self.ws.close_code()
    }

    /// The reason of the server's close frame.
    pub fn close_reason(&self) -> Option<String> {
        self.ws.close_reason()
    }

    /// The subprotocol the server selected among those offered, if any.
    pub fn selected_subprotocol(&self) -> Option<&str> {
        self.ws.selected_subprotocol()
    }

    /// Whether permessage-deflate was agreed.
    pub fn is_compressed(&self) -> bool {
        self.ws.is_compressed()
    }

    /// Whether the connection is closed or closing.
    pub fn is_closed(&self) -> bool {
        self.ws.is_closed()
    }

    /// The headers of the server's `101` answer (Tornado's `headers`).
    pub fn headers(&self) -> &HttpHeaders {
        &self.response.headers
    }

    /// The server's `101` answer: its headers, the URL, the handshake's timings.
    pub fn response(&self) -> &HttpResponse {
        &self.response
    }

    /// A handle on the connection, cheap to clone, for writing (or closing) from
    /// elsewhere; it does not keep the connection open once this is dropped.
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
