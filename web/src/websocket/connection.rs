//! [`WebSocket`]: an open connection's handle, and the task that reads it.
//!
//! After the upgrade one task per connection reads: it takes frames out of the
//! stream's read buffer in place (so an idle connection holds no read buffer: the
//! stream frees it while waiting), hands whole messages to the handler one at a time,
//! answers pings, sends the periodic ping, and runs the closing handshake. Writes need
//! no task: a frame is encoded into a per-thread scratch buffer and queued on the
//! stream, which copies only what the socket does not take at once. A large message
//! on a server's uncompressed connection is not copied at all: its header and its own
//! bytes go out in one vectored write, and what the socket does not take is queued by
//! reference.
//!
//! Both ends run on this: a server's connection with its [`WebSocketHandler`], a
//! client's (`websocket_connect`) with a handler that hands messages to the
//! client's reader. A client masks every frame it sends with a fresh random key.
//!
//! Messages that arrive together are answered together: while the task handles a
//! message with more input buffered behind it, what the connection writes is held in
//! a per-thread batch, which goes out in one write whenever the task waits (the
//! socket has nothing more to read, or the handler awaits something), when a write of
//! it is awaited, or when it reaches 64 KiB. A lone message is answered at once. The
//! HTTP server does the same for pipelined requests. Only the running task can hold
//! the batch, so it is never held across a wait.

use std::cell::{Cell, OnceCell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tornado_httpserver::{UpgradeGuard, UpgradedConnection};
use tornado_ioloop::{Sleep, sleep_until};
use tornado_iostream::{IoStream, WritePart};

use super::Message;
use super::deflate::Compressor;
use super::frame::{
    MAX_CONTROL_PAYLOAD, OpCode, apply_mask, close_code, close_payload, encode_header,
};
use super::handler::WebSocketHandler;
use super::message::fit_to_hold;
use super::random;
use super::reader::{Incoming, MessageReader};

/// How long a closing handshake may take: after sending a close frame, the connection
/// is dropped if the peer's close does not come within this (Tornado's 5 seconds).
///
/// ```
/// use std::time::Duration;
/// use tornado_web::websocket::CLOSE_TIMEOUT;
///
/// assert_eq!(CLOSE_TIMEOUT, Duration::from_secs(5));
/// ```
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Messages flow both ways.
    Open,
    /// This end sent its close frame and waits for the peer's until the deadline.
    CloseSent(Instant),
    /// Over: the stream is closed or closing.
    Closed,
}

/// Why a write or ping could not be made.
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
///
/// let conn = websocket_connect(url).await.unwrap();
/// let err = conn.ping(&[0; 126]).unwrap_err();
/// assert!(!err.is_closed());
/// assert_eq!(err.to_string(), "a ping carries at most 125 bytes");
///
/// conn.close(None, None);
/// let err = conn.write_message("too late").await.unwrap_err();
/// assert!(err.is_closed());
/// assert_eq!(err.to_string(), "WebSocket is closed");
/// # server.stop();
/// # }, std::time::Duration::from_secs(10)).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSocketError {
    closed: bool,
    message: &'static str,
}

impl WebSocketError {
    fn closed() -> WebSocketError {
        WebSocketError {
            closed: true,
            message: "WebSocket is closed",
        }
    }

    /// The connection is closed or closing (Tornado's `WebSocketClosedError`).
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
    /// let ws = conn.websocket();
    /// assert!(!ws.ping(&[0; 200]).unwrap_err().is_closed()); // too long, but open
    /// ws.close(None, None);
    /// assert!(ws.ping(b"").unwrap_err().is_closed());
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

impl fmt::Display for WebSocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message)
    }
}

impl std::error::Error for WebSocketError {}

/// The connection's state, shared by its handles and its reading task. Every open
/// WebSocket holds one, so what only a closing one needs is boxed.
struct Inner {
    stream: IoStream,
    phase: Cell<Phase>,
    /// The peer's close frame, once it came: its code and reason.
    close: OnceCell<Box<PeerClose>>,
    /// What only some connections have; `None` for most of a server's.
    extras: Option<Box<Extras>>,
    /// The reading task, woken when a handle starts the closing handshake.
    task: Cell<Option<Waker>>,
}

/// The code and reason of the peer's close frame (no code: an empty frame).
type PeerClose = (Option<u16>, Box<str>);

/// What a connection may have beyond the common case: boxed, so that a plain server
/// connection (no subprotocol, no compression) carries one pointer for all of it.
struct Extras {
    subprotocol: Option<Box<str>>,
    /// permessage-deflate, when negotiated.
    compress: Option<RefCell<Compressor>>,
    /// This end is a client: each frame it sends is masked with a fresh random key.
    mask: bool,
}

/// An open WebSocket connection (Tornado's `WebSocketHandler` methods that act on the
/// connection). Cheap to clone: keep clones to write from elsewhere (a chat room holds
/// one per member); they all act on the same connection.
///
/// Writes are queued at once and go out in order; the future a write returns resolves
/// when the stream has written the frame, and can be dropped (the write still
/// happens). On a closed connection they fail with an error for which
/// [`WebSocketError::is_closed`] holds.
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
/// use tornado_web::{url, Application, Context};
///
/// // A chat room: each member's handle, to write to all of them.
/// type Room = Rc<RefCell<Vec<WebSocket>>>;
///
/// struct Member {
///     room: Room,
/// }
/// impl WebSocketHandler for Member {
///     async fn open(&mut self, ws: &WebSocket, _cx: &mut Context) -> tornado_web::Result {
///         self.room.borrow_mut().push(ws.clone());
///         ws.write_message("welcome");
///         Ok(())
///     }
///     async fn on_message(&mut self, _ws: &WebSocket, message: Message) -> tornado_web::Result {
///         for member in self.room.borrow().iter() {
///             member.write_message(message.clone());
///         }
///         Ok(())
///     }
///     fn on_close(&mut self, _ws: &WebSocket) {
///         self.room.borrow_mut().retain(|member| !member.is_closed());
///     }
/// }
///
/// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
/// let room = Room::default();
/// let app = Application::new(vec![url("/chat", move || Member { room: room.clone() })]);
/// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
/// # let url = format!("ws://{}/chat", server.local_addrs()[0]);
/// let alice = websocket_connect(url.clone()).await.unwrap();
/// let bob = websocket_connect(url).await.unwrap();
/// assert_eq!(alice.read_message().await, Some(Message::from("welcome")));
/// assert_eq!(bob.read_message().await, Some(Message::from("welcome")));
///
/// alice.write_message("hi all");
/// assert_eq!(bob.read_message().await, Some(Message::from("hi all")));
/// assert_eq!(alice.read_message().await, Some(Message::from("hi all")));
/// # server.stop();
/// # }, std::time::Duration::from_secs(10)).unwrap();
/// ```
#[derive(Clone)]
pub struct WebSocket {
    inner: Rc<Inner>,
}

impl fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("phase", &self.inner.phase.get())
            .field("subprotocol", &self.selected_subprotocol())
            .field("compressed", &self.is_compressed())
            .field("client", &self.inner.masks())
            .finish_non_exhaustive()
    }
}

thread_local! {
    /// Where frames are encoded before they are queued: one per thread, so neither a
    /// connection nor a message allocates one.
    static FRAME: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// Where a message is compressed before it is framed.
    static DEFLATED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Scratch buffers larger than this are given back after use.
const SCRATCH_KEEP: usize = 256 * 1024;

fn trim_scratch(buf: &mut Vec<u8>) {
    buf.clear();
    if buf.capacity() > SCRATCH_KEEP {
        *buf = Vec::new();
    }
}

/// A batch of frames this large is written at once, even with more input to answer.
const BATCH_LIMIT: usize = 64 * 1024;

/// A server's uncompressed message at least this large is written from its own bytes:
/// its header and its payload go out in one vectored write, and what the socket does not
/// take is queued without copying the payload. A smaller one is copied after its header
/// into one buffer, which costs less than the vectored write's bookkeeping.
///
/// ```
/// use tornado_web::websocket::ZERO_COPY_MIN;
///
/// // `ws.write_message(vec![0u8; 4096])` or a `String` of 4 KiB is written from the
/// // vector's or string's own allocation; a 100-byte one is copied into a frame.
/// assert_eq!(ZERO_COPY_MIN, 2048);
/// ```
pub const ZERO_COPY_MIN: usize = 2 * 1024;

/// At most this many such payloads wait in a batch: it is written when one more would
/// not fit in the fixed list of pieces its vectored write is made from.
const BATCH_PAYLOADS: usize = 16;

/// Frames held back while one connection answers messages that arrived together.
struct Batch {
    /// The connection whose task is answering them; `None` when no batch is open.
    owner: Option<Rc<Inner>>,
    /// Encoded frames, except the payloads below.
    frames: Vec<u8>,
    /// Payloads of large messages, not copied: each goes after `frames[..at]`.
    payloads: Vec<(usize, Bytes)>,
}

impl Batch {
    /// Whether the batch should be written now, more input or not: it holds
    /// `BATCH_LIMIT` bytes, or as many payloads as one vectored write takes.
    fn full(&self) -> bool {
        let payload_len: usize = self.payloads.iter().map(|(_, p)| p.len()).sum();
        self.frames.len() + payload_len >= BATCH_LIMIT || self.payloads.len() == BATCH_PAYLOADS
    }

    /// Queues what the batch holds on `stream`, in order, in one write, and empties it.
    fn write_to(&mut self, stream: &IoStream) {
        if self.frames.is_empty() && self.payloads.is_empty() {
            return;
        }
        let mut parts = [WritePart::Slice(&[]); 2 * BATCH_PAYLOADS + 1];
        let mut n = 0;
        let mut from = 0;
        for (at, payload) in &self.payloads {
            parts[n] = WritePart::Slice(&self.frames[from..*at]);
            parts[n + 1] = WritePart::Bytes(payload);
            n += 2;
            from = *at;
        }
        parts[n] = WritePart::Slice(&self.frames[from..]);
        // Queued at once (one part is a plain write); a failed write closes the
        // stream, which its task sees.
        drop(stream.write_vectored(&parts[..n + 1]));
        self.payloads.clear();
        self.frames.clear();
    }
}

thread_local! {
    static BATCH: RefCell<Batch> = const {
        RefCell::new(Batch {
            owner: None,
            frames: Vec::new(),
            payloads: Vec::new(),
        })
    };
    /// Whether `BATCH` has an owner: a flag without a destructor is the cheaper
    /// thread-local to ask on every write and wait.
    static BATCH_OPEN: Cell<bool> = const { Cell::new(false) };
}

/// Opens a batch for `ws`, unless one is open already (for `ws`: only the running
/// task opens one, and its batch is written before it waits).
fn cork(ws: &WebSocket) {
    if BATCH_OPEN.get() {
        return;
    }
    BATCH.with(|b| b.borrow_mut().owner = Some(ws.inner.clone()));
    BATCH_OPEN.set(true);
}

/// Writes and closes the open batch, if there is one, to the connection it is for.
fn uncork() {
    if !BATCH_OPEN.get() {
        return;
    }
    BATCH_OPEN.set(false);
    BATCH.with(|b| {
        let mut b = b.borrow_mut();
        if let Some(owner) = b.owner.take() {
            b.write_to(&owner.stream);
        }
        trim_scratch(&mut b.frames);
    });
}

pin_project_lite::pin_project! {
    /// A connection's task: whenever it waits (for input, a timer, or whatever its
    /// handler awaits), its batch goes out first. The wrapper adds nothing to the
    /// size of what it wraps, which is most of an idle connection's memory.
    struct UncorkWhenWaiting<F> {
        #[pin]
        fut: F,
    }
}

impl<F: Future> Future for UncorkWhenWaiting<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let r = self.project().fut.poll(cx);
        if r.is_pending() {
            uncork();
        }
        r
    }
}

/// What [`WebSocket::write_message`] returns: the message is queued already; `.await`
/// it to know when it was written (or that the connection was closed). Dropping it
/// does not cancel the write, so a caller that does not need to know can ignore it, as
/// with Tornado's `write_message`.
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
///
/// let conn = websocket_connect(url).await.unwrap();
/// // Not awaited: sent all the same.
/// conn.write_message("first");
/// // Awaited: Ok once the stream has written it.
/// conn.write_message("second").await.unwrap();
/// assert_eq!(conn.read_message().await, Some(Message::from("first")));
/// assert_eq!(conn.read_message().await, Some(Message::from("second")));
/// # server.stop();
/// # }, std::time::Duration::from_secs(10)).unwrap();
/// ```
#[derive(Debug)]
pub struct WriteMessage {
    inner: Queued,
}

/// Where a frame went.
#[derive(Debug)]
enum Queued {
    /// Onto the stream.
    Stream(tornado_iostream::WriteFuture),
    /// Into the connection's open batch, which goes onto the stream later.
    Batch(WebSocket),
    /// Nowhere: the connection is closed.
    Failed(Option<WebSocketError>),
}

impl WriteMessage {
    /// Whether the message could not even be queued (the connection is closed).
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
    /// assert!(!conn.write_message("queued").is_err());
    /// conn.close(None, None);
    /// assert!(conn.write_message("not queued").is_err());
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub fn is_err(&self) -> bool {
        matches!(self.inner, Queued::Failed(_))
    }
}

impl std::future::IntoFuture for WriteMessage {
    type Output = Result<(), WebSocketError>;
    type IntoFuture = WriteFuture;

    fn into_future(self) -> WriteFuture {
        WriteFuture { inner: self.inner }
    }
}

/// The future of a [`WriteMessage`]: resolves when the frame is written.
///
/// ```
/// use std::future::IntoFuture;
/// use tornado_web::websocket::WriteFuture;
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
///
/// let conn = websocket_connect(url).await.unwrap();
/// // Queue three messages, then wait for all of them.
/// let writes: Vec<WriteFuture> =
///     (0..3).map(|i| conn.write_message(i.to_string()).into_future()).collect();
/// for write in writes {
///     write.await.unwrap();
/// }
/// for i in 0..3 {
///     assert_eq!(conn.read_message().await, Some(Message::Text(i.to_string())));
/// }
/// # server.stop();
/// # }, std::time::Duration::from_secs(10)).unwrap();
/// ```
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct WriteFuture {
    inner: Queued,
}

impl Future for WriteFuture {
    type Output = Result<(), WebSocketError>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let inner = &mut self.get_mut().inner;
        if let Queued::Batch(ws) = inner {
            // Waiting for a batched frame: the batch goes out now, and this waits for
            // everything queued on the stream up to its end.
            uncork();
            *inner = Queued::Stream(ws.inner.stream.flush());
        }
        match inner {
            Queued::Stream(w) => Pin::new(w)
                .poll(cx)
                .map(|r| r.map_err(|_| WebSocketError::closed())),
            Queued::Failed(e) => Poll::Ready(Err(e.take().unwrap_or_else(WebSocketError::closed))),
            Queued::Batch(_) => unreachable!("replaced above"),
        }
    }
}

impl Inner {
    fn compressor(&self) -> Option<&RefCell<Compressor>> {
        self.extras.as_deref().and_then(|e| e.compress.as_ref())
    }

    /// Whether this end is a client, masking what it sends.
    fn masks(&self) -> bool {
        self.extras.as_deref().is_some_and(|e| e.mask)
    }
}

/// What a server asks of a WebSocket it counts among its connections.
impl UpgradedConnection for Inner {
    /// A graceful shutdown: the closing handshake starts with 1001 ("going away"),
    /// and the connection's task ends it (or gives up after [`CLOSE_TIMEOUT`]).
    fn shutdown(self: Rc<Self>) {
        WebSocket { inner: self }.close(Some(close_code::GOING_AWAY), None);
    }

    /// The shutdown's grace is over (or `close_all_connections`): the stream closes,
    /// and `on_close` runs once the connection's task sees it (at once if it waits for
    /// input; after the handler's `on_message` returns if one is running).
    fn close(self: Rc<Self>) {
        self.stream.close();
    }
}

impl WebSocket {
    /// Counts this server-side connection among the server's open connections until
    /// the returned guard is dropped (when its task ends).
    pub(crate) fn track(&self, cx: &crate::Context) -> UpgradeGuard {
        let me: Weak<dyn UpgradedConnection> = Rc::downgrade(&self.inner) as _;
        cx.track_upgraded(me)
    }

    /// A connection over `stream` after the handshake: `client` for the end that
    /// masks its frames.
    pub(crate) fn new(
        stream: IoStream,
        subprotocol: Option<String>,
        compress: Option<Compressor>,
        client: bool,
    ) -> WebSocket {
        let extras = (subprotocol.is_some() || compress.is_some() || client).then(|| {
            Box::new(Extras {
                subprotocol: subprotocol.map(String::into_boxed_str),
                compress: compress.map(RefCell::new),
                mask: client,
            })
        });
        WebSocket {
            inner: Rc::new(Inner {
                stream,
                phase: Cell::new(Phase::Open),
                close: OnceCell::new(),
                extras,
                task: Cell::new(None),
            }),
        }
    }

    /// Sends a message, text or binary (anything that converts into a [`Message`]:
    /// `&str` and `String` as text, `Vec<u8>`, `&[u8]` and `Bytes` as binary).
    /// Compressed when permessage-deflate was negotiated.
    ///
    /// ```
    /// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// use tornado_web::{url, Application, Context};
    ///
    /// struct Greeter;
    /// impl WebSocketHandler for Greeter {
    ///     async fn open(&mut self, ws: &WebSocket, _cx: &mut Context) -> tornado_web::Result {
    ///         ws.write_message("hello").await?; // text, waiting until written
    ///         ws.write_message(vec![1u8, 2, 3]); // binary, not waiting
    ///         ws.write_message(Message::json(&serde_json::json!({"n": 1}))?);
    ///         Ok(())
    ///     }
    ///     async fn on_message(&mut self, _ws: &WebSocket, _m: Message) -> tornado_web::Result {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// let app = Application::new(vec![url("/greet", || Greeter)]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let base = format!("ws://{}", server.local_addrs()[0]);
    /// let conn = websocket_connect(format!("{base}/greet")).await.unwrap();
    /// assert_eq!(conn.read_message().await, Some(Message::Text("hello".into())));
    /// assert_eq!(conn.read_message().await, Some(Message::Binary(vec![1u8, 2, 3].into())));
    /// assert_eq!(conn.read_message().await, Some(Message::Text(r#"{"n":1}"#.into())));
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    ///
    /// A large message on a server's uncompressed connection (at least
    /// [`ZERO_COPY_MIN`] bytes) is written from its own bytes, not copied: pass a
    /// `String`, `Vec<u8>` or `Bytes` rather than a borrowed one to save that copy too.
    pub fn write_message(&self, message: impl Into<Message>) -> WriteMessage {
        let message = message.into();
        let opcode = if message.is_text() {
            OpCode::Text
        } else {
            OpCode::Binary
        };
        if message.len() >= ZERO_COPY_MIN
            && !self.inner.masks()
            && self.inner.compressor().is_none()
        {
            let payload = match message {
                Message::Binary(b) => b,
                // The string's allocation becomes the `Bytes`: nothing is copied.
                Message::Text(s) => Bytes::from(fit_to_hold(s.into_bytes())),
            };
            return self.send_shared(opcode, payload);
        }
        self.send(opcode, message.as_bytes(), true)
    }

    /// Sends a ping with `data` (at most 125 bytes); the peer's pong reaches
    /// [`on_pong`](WebSocketHandler::on_pong). Fails on a closed connection, and for
    /// more than 125 bytes.
    ///
    /// ```
    /// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// use tornado_web::{url, Application, Context};
    ///
    /// struct Pinger;
    /// impl WebSocketHandler for Pinger {
    ///     async fn open(&mut self, ws: &WebSocket, _cx: &mut Context) -> tornado_web::Result {
    ///         ws.ping(b"still there?")?;
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
    /// let app = Application::new(vec![url("/ping", || Pinger)]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let base = format!("ws://{}", server.local_addrs()[0]);
    /// // The client answers the server's ping by itself.
    /// let conn = websocket_connect(format!("{base}/ping")).await.unwrap();
    /// assert_eq!(conn.read_message().await, Some(Message::from("pong: still there?")));
    /// // The client's side has the same handle.
    /// assert!(conn.websocket().ping(&[0; 125]).is_ok());
    /// assert!(conn.websocket().ping(&[0; 126]).is_err());
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub fn ping(&self, data: &[u8]) -> Result<(), WebSocketError> {
        if data.len() > MAX_CONTROL_PAYLOAD {
            return Err(WebSocketError {
                closed: false,
                message: "a ping carries at most 125 bytes",
            });
        }
        if self.inner.phase.get() != Phase::Open {
            return Err(WebSocketError::closed());
        }
        self.send(OpCode::Ping, data, false);
        Ok(())
    }

    /// Starts the closing handshake (Tornado's `close(code, reason)`): sends a close
    /// frame and drops the connection when the peer answers, or after
    /// [`CLOSE_TIMEOUT`]. With a reason but no code the code is 1000; with neither
    /// the frame is empty. Does nothing once closing. Messages the peer sent before it
    /// saw the close are still handed on (to `on_message`, or the client's reader),
    /// as Tornado's are; writes fail from now on.
    ///
    /// ```
    /// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// use tornado_web::{url, Application, Context};
    ///
    /// struct Polite;
    /// impl WebSocketHandler for Polite {
    ///     async fn on_message(&mut self, ws: &WebSocket, message: Message) -> tornado_web::Result {
    ///         if message.as_text() == Some("bye") {
    ///             ws.close(Some(4001), Some("see you"));
    ///             ws.close(Some(4002), None); // closing already: ignored
    ///         }
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// let app = Application::new(vec![url("/polite", || Polite)]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let base = format!("ws://{}", server.local_addrs()[0]);
    /// let conn = websocket_connect(format!("{base}/polite")).await.unwrap();
    /// conn.write_message("bye");
    /// assert_eq!(conn.read_message().await, None);
    /// assert_eq!(conn.close_code(), Some(4001));
    /// assert_eq!(conn.close_reason().as_deref(), Some("see you"));
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub fn close(&self, code: Option<u16>, reason: Option<&str>) {
        if self.inner.phase.get() != Phase::Open {
            return;
        }
        let (code, reason) = match code {
            Some(c) if !super::frame::is_valid_close_code(c) => {
                // 1005, 1006, 1015, codes below 1000 and from 5000 may not be sent
                // (RFC 6455 7.4): the peer would fail the connection. An empty close
                // says as much as such a code could.
                log::warn!("WebSocket close code {c} may not be sent: closing without a code");
                (None, None)
            }
            _ => (code, reason),
        };
        let payload = match (code, reason) {
            (None, None) => Vec::new(),
            (code, reason) => {
                close_payload(code.unwrap_or(close_code::NORMAL), reason.unwrap_or(""))
            }
        };
        self.send(OpCode::Close, &payload, false);
        if self.inner.phase.get() == Phase::Open {
            self.inner
                .phase
                .set(Phase::CloseSent(Instant::now() + CLOSE_TIMEOUT));
            // As Tornado's close sets its abort timer: the reading task keeps the
            // same deadline, but it may be waiting on the handler meanwhile (an
            // `on_message` awaiting a write the peer never reads), so the stream is
            // closed from here, which fails that write and ends the connection.
            if let Some(io_loop) = tornado_ioloop::IoLoop::try_current() {
                let inner = Rc::downgrade(&self.inner);
                io_loop.call_later(CLOSE_TIMEOUT, move || {
                    if let Some(inner) = inner.upgrade()
                        && inner.phase.get() != Phase::Closed
                    {
                        log::debug!("WebSocket closing handshake timed out: aborting");
                        inner.stream.close();
                    }
                });
            }
        }
        if let Some(w) = self.inner.task.take() {
            w.wake();
        }
    }

    /// The code of the peer's close frame (Tornado's `close_code`); `None` until the
    /// peer closed, or if its close frame carried none.
    ///
    /// ```
    /// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// use tornado_web::{url, Application, Context};
    ///
    /// // Closes at once, with the code it is made with (or an empty close frame).
    /// struct Closer(Option<u16>);
    /// impl WebSocketHandler for Closer {
    ///     async fn open(&mut self, ws: &WebSocket, _cx: &mut Context) -> tornado_web::Result {
    ///         ws.close(self.0, None);
    ///         Ok(())
    ///     }
    ///     async fn on_message(&mut self, _ws: &WebSocket, _m: Message) -> tornado_web::Result {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// let app = Application::new(vec![
    ///     url("/away", || Closer(Some(1001))),
    ///     url("/empty", || Closer(None)),
    /// ]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let base = format!("ws://{}", server.local_addrs()[0]);
    /// let conn = websocket_connect(format!("{base}/away")).await.unwrap();
    /// assert_eq!(conn.read_message().await, None);
    /// assert_eq!(conn.websocket().close_code(), Some(1001));
    ///
    /// let conn = websocket_connect(format!("{base}/empty")).await.unwrap();
    /// assert_eq!(conn.read_message().await, None);
    /// assert_eq!(conn.websocket().close_code(), None);
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub fn close_code(&self) -> Option<u16> {
        self.inner.close.get().and_then(|c| c.0)
    }

    /// The reason of the peer's close frame (Tornado's `close_reason`): `None` until
    /// the peer closed, and, as in Tornado, when its close frame had no reason (a code
    /// alone, or an empty frame).
    ///
    /// ```
    /// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// use tornado_web::{url, Application, Context};
    ///
    /// struct Closer(Option<u16>, Option<&'static str>);
    /// impl WebSocketHandler for Closer {
    ///     async fn open(&mut self, ws: &WebSocket, _cx: &mut Context) -> tornado_web::Result {
    ///         ws.close(self.0, self.1);
    ///         Ok(())
    ///     }
    ///     async fn on_message(&mut self, _ws: &WebSocket, _m: Message) -> tornado_web::Result {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// let app = Application::new(vec![
    ///     url("/reason", || Closer(None, Some("maintenance"))),
    ///     url("/code", || Closer(Some(1001), None)),
    ///     url("/empty", || Closer(None, None)),
    /// ]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let base = format!("ws://{}", server.local_addrs()[0]);
    /// for (path, code, reason) in [
    ///     ("/reason", Some(1000), Some("maintenance")), // a reason without a code: 1000
    ///     ("/code", Some(1001), None),
    ///     ("/empty", None, None),
    /// ] {
    ///     let conn = websocket_connect(format!("{base}{path}")).await.unwrap();
    ///     assert_eq!(conn.read_message().await, None);
    ///     let ws = conn.websocket();
    ///     assert_eq!((ws.close_code(), ws.close_reason().as_deref()), (code, reason));
    /// }
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub fn close_reason(&self) -> Option<String> {
        self.inner
            .close
            .get()
            .filter(|c| c.0.is_some() && !c.1.is_empty())
            .map(|c| c.1.to_string())
    }

    /// The subprotocol [`select_subprotocol`](WebSocketHandler::select_subprotocol)
    /// chose (for a client: the one the server selected), if any.
    ///
    /// ```
    /// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// use tornado_web::{url, Application, Context};
    ///
    /// struct Versioned;
    /// impl WebSocketHandler for Versioned {
    ///     fn select_subprotocol(&mut self, _cx: &Context, offered: &[&str]) -> Option<String> {
    ///         offered.contains(&"v2").then(|| "v2".to_owned())
    ///     }
    ///     async fn open(&mut self, ws: &WebSocket, _cx: &mut Context) -> tornado_web::Result {
    ///         let speaking = ws.selected_subprotocol().unwrap_or("nothing");
    ///         ws.write_message(format!("speaking {speaking}"));
    ///         Ok(())
    ///     }
    ///     async fn on_message(&mut self, _ws: &WebSocket, _m: Message) -> tornado_web::Result {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tornado_ioloop::IoLoop::new().unwrap().run_sync_timeout(async {
    /// let app = Application::new(vec![url("/api", || Versioned)]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let base = format!("ws://{}", server.local_addrs()[0]);
    /// let conn = websocket_connect(format!("{base}/api"))
    ///     .subprotocols(["v3", "v2"])
    ///     .await
    ///     .unwrap();
    /// assert_eq!(conn.read_message().await, Some(Message::from("speaking v2")));
    /// assert_eq!(conn.websocket().selected_subprotocol(), Some("v2"));
    ///
    /// let conn = websocket_connect(format!("{base}/api")).await.unwrap();
    /// assert_eq!(conn.read_message().await, Some(Message::from("speaking nothing")));
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub fn selected_subprotocol(&self) -> Option<&str> {
        self.inner
            .extras
            .as_deref()
            .and_then(|e| e.subprotocol.as_deref())
    }

    /// Whether permessage-deflate was negotiated.
    ///
    /// ```
    /// use tornado_web::websocket::{websocket_connect, Message, WebSocket, WebSocketHandler};
    /// use tornado_web::{url, Application, Context};
    /// use tornado_web::websocket::CompressionOptions;
    ///
    /// struct Deflating;
    /// impl WebSocketHandler for Deflating {
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
    /// let app = Application::new(vec![url("/z", || Deflating)]);
    /// # let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
    /// # let base = format!("ws://{}", server.local_addrs()[0]);
    /// let conn = websocket_connect(format!("{base}/z"))
    ///     .compression(CompressionOptions::default())
    ///     .await
    ///     .unwrap();
    /// assert!(conn.websocket().is_compressed());
    /// assert_eq!(conn.read_message().await, Some(Message::from("compressed: true")));
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub fn is_compressed(&self) -> bool {
        self.inner.compressor().is_some()
    }

    /// Sets `TCP_NODELAY` (on by default for server connections: small messages go
    /// out at once).
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
    /// // Many small writes in a row: let the kernel gather them.
    /// conn.websocket().set_nodelay(false).unwrap();
    /// for word in ["one", "two", "three"] {
    ///     conn.write_message(word);
    /// }
    /// assert_eq!(conn.read_message().await, Some(Message::from("one")));
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> std::io::Result<()> {
        self.inner.stream.set_nodelay(nodelay)
    }

    /// Whether the connection is closed or closing (writes then fail).
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
    /// assert!(!ws.is_closed());
    /// ws.close(None, None);
    /// assert!(ws.is_closed()); // closing: the peer has not answered yet
    /// assert!(ws.write_message("late").is_err());
    /// assert_eq!(conn.read_message().await, None); // now it has
    /// assert!(ws.is_closed());
    /// # server.stop();
    /// # }, std::time::Duration::from_secs(10)).unwrap();
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.phase.get() != Phase::Open || self.inner.stream.closed()
    }

    /// Encodes and queues one frame (a whole message, or a control frame).
    fn send(&self, opcode: OpCode, payload: &[u8], data: bool) -> WriteMessage {
        let inner = &*self.inner;
        self.queue_frame(
            |frame| {
                // A client masks each frame with a fresh key.
                let mask = inner.masks().then(random::mask);
                let start = match inner.compressor().filter(|_| data) {
                    Some(c) => DEFLATED.with(|deflated| {
                        let mut deflated = deflated.borrow_mut();
                        c.borrow_mut().compress(payload, &mut deflated);
                        encode_header(frame, true, true, opcode, mask, deflated.len() as u64);
                        let start = frame.len();
                        frame.extend_from_slice(&deflated);
                        trim_scratch(&mut deflated);
                        start
                    }),
                    None => {
                        encode_header(frame, true, false, opcode, mask, payload.len() as u64);
                        let start = frame.len();
                        frame.extend_from_slice(payload);
                        start
                    }
                };
                if let Some(mask) = mask {
                    apply_mask(&mut frame[start..], mask, 0);
                }
            },
            None,
        )
    }

    /// Queues one unmasked, uncompressed data frame whose payload is not copied: its
    /// header and `payload` go out in one vectored write (after the open batch's frames,
    /// if the batch is this connection's).
    fn send_shared(&self, opcode: OpCode, payload: Bytes) -> WriteMessage {
        let len = payload.len() as u64;
        self.queue_frame(
            |frame| encode_header(frame, true, false, opcode, None, len),
            Some(payload),
        )
    }

    /// Queues a frame that `encode` appends (whole, or only its header when `shared`
    /// is its payload, which follows uncopied): into this connection's open batch, or
    /// onto the stream at once.
    fn queue_frame(
        &self,
        encode: impl FnOnce(&mut Vec<u8>),
        shared: Option<Bytes>,
    ) -> WriteMessage {
        let inner = &*self.inner;
        if inner.phase.get() != Phase::Open || inner.stream.closed() {
            return WriteMessage {
                inner: Queued::Failed(Some(WebSocketError::closed())),
            };
        }
        let batched = BATCH_OPEN.get()
            && BATCH.with(|b| {
                let b = b.borrow();
                b.owner.as_ref().is_some_and(|o| Rc::ptr_eq(o, &self.inner))
            });
        if batched {
            BATCH.with(|b| {
                let mut b = b.borrow_mut();
                encode(&mut b.frames);
                if let Some(payload) = shared {
                    let at = b.frames.len();
                    b.payloads.push((at, payload));
                }
                if b.full() {
                    b.write_to(&inner.stream);
                }
            });
            return WriteMessage {
                inner: Queued::Batch(self.clone()),
            };
        }
        let write = FRAME.with(|frame| {
            let mut frame = frame.borrow_mut();
            encode(&mut frame);
            let w = match &shared {
                Some(payload) => inner
                    .stream
                    .write_vectored(&[WritePart::Slice(&frame), WritePart::Bytes(payload)]),
                None => inner.stream.write(&frame),
            };
            trim_scratch(&mut frame);
            w
        });
        WriteMessage {
            inner: Queued::Stream(write),
        }
    }

    /// Fails the connection (a protocol error): a close frame with `code`, then the
    /// stream is closed once it is written.
    fn fail(&self, code: u16, reason: &str) {
        if self.inner.phase.get() == Phase::Open {
            self.send(OpCode::Close, &close_payload(code, reason), false);
        }
        self.inner.phase.set(Phase::Closed);
    }

    fn phase(&self) -> Phase {
        self.inner.phase.get()
    }
}

/// Pings on the `websocket_ping_interval` setting, and the pong they wait for.
///
/// They run on timers of their own on the loop, as Tornado's ping task runs apart from
/// its read loop: pings go out, and an overdue pong closes the connection, even while
/// the reading task waits on the handler (an `on_message` awaiting a write to a peer
/// that stopped reading). The reading task only notes the pongs it reads.
#[derive(Debug)]
pub(crate) struct Pinger {
    interval: Duration,
    timeout: Duration,
    /// When the pong for the last ping is due, while it has not come.
    pong_due: Cell<Option<Instant>>,
}

impl Pinger {
    /// `None` without an interval. The timeout is the interval unless shorter (as in
    /// Tornado); zero means no timeout.
    pub(crate) fn new(interval: Option<Duration>, timeout: Option<Duration>) -> Option<Pinger> {
        let interval = interval.filter(|i| !i.is_zero())?;
        let timeout = timeout.map_or(interval, |t| t.min(interval));
        Some(Pinger {
            interval,
            timeout,
            pong_due: Cell::new(None),
        })
    }

    /// Starts pinging `inner`'s connection every interval, while it is open.
    fn start(self: Rc<Self>, inner: &Rc<Inner>) {
        if let Some(io_loop) = tornado_ioloop::IoLoop::try_current() {
            let inner = Rc::downgrade(inner);
            io_loop.call_later(self.interval, move || self.tick(inner));
        }
    }

    /// Sends a ping, arms the check of its pong, and comes back after the interval.
    fn tick(self: Rc<Self>, inner: Weak<Inner>) {
        let Some(inner) = inner.upgrade() else { return };
        if inner.phase.get() != Phase::Open {
            return;
        }
        let now = Instant::now();
        // The check of the last pong may be due at this very tick.
        if self.pong_due.get().is_some_and(|d| now >= d) {
            return self.time_out(inner);
        }
        let ws = WebSocket { inner };
        let _ = ws.ping(b"");
        let Some(io_loop) = tornado_ioloop::IoLoop::try_current() else {
            return;
        };
        if !self.timeout.is_zero() && self.pong_due.get().is_none() {
            let due = now + self.timeout;
            self.pong_due.set(Some(due));
            let (pinger, weak) = (self.clone(), Rc::downgrade(&ws.inner));
            io_loop.call_at(due, move || pinger.check(weak, due));
        }
        self.start(&ws.inner);
    }

    /// The pong for the ping whose pong was due at `due` has not come: closes.
    fn check(&self, inner: Weak<Inner>, due: Instant) {
        let Some(inner) = inner.upgrade() else { return };
        if inner.phase.get() == Phase::Open && self.pong_due.get() == Some(due) {
            self.time_out(inner);
        }
    }

    /// No pong in time: the connection closes (Tornado's "ping timed out").
    fn time_out(&self, inner: Rc<Inner>) {
        self.pong_due.set(None);
        WebSocket { inner }.close(Some(close_code::NORMAL), Some("ping timed out"));
    }

    /// A pong came.
    fn pong(&self) {
        self.pong_due.set(None);
    }
}

/// What ended a wait.
enum Woken {
    /// More bytes are buffered.
    Data,
    /// The stream closed.
    Closed,
    /// A deadline passed (or a handle changed the phase).
    Timer,
}

/// One connection's reading side: what its task holds between messages.
///
/// Each turn of its loop is a future of its own, made afresh: the task's future (most
/// of an idle connection's memory) holds the session and one turn, not every await
/// point's state side by side.
struct Session<W> {
    handler: W,
    ws: WebSocket,
    reader: MessageReader,
    /// Shared with its timers: a connection without pings carries one pointer for it.
    pinger: Option<Rc<Pinger>>,
    capture: bool,
    /// The handler failed (its `open` or an `on_message`) and the connection is
    /// closing with 1011: it gets no more messages, as Tornado aborts such a
    /// connection.
    failed: bool,
    /// A server's connection stays counted among the server's until the task ends.
    _tracked: Option<UpgradeGuard>,
}

/// Runs an open connection until it closes, then calls `on_close` once. `failed`:
/// the handler's `open` failed, and the connection is closing already.
pub(crate) fn run<W: WebSocketHandler>(
    handler: W,
    ws: WebSocket,
    reader: MessageReader,
    pinger: Option<Pinger>,
    capture: bool,
    failed: bool,
    tracked: Option<UpgradeGuard>,
) -> impl Future<Output = ()> {
    let pinger = pinger.map(|p| {
        let p = Rc::new(p);
        p.clone().start(&ws.inner);
        p
    });
    let mut session = Session {
        handler,
        ws,
        reader,
        pinger,
        capture,
        failed,
        _tracked: tracked,
    };
    // The session is the block's captured state, used in place. (An `async fn`
    // taking it would store it twice: its argument, and the local it moves into.)
    UncorkWhenWaiting {
        fut: async move {
            while session.turn().await {}
            uncork();
            session.finish();
        },
    }
}

impl<W: WebSocketHandler> Session<W> {
    /// Acts on what is buffered, or waits for more; `false` once the connection is
    /// over.
    async fn turn(&mut self) -> bool {
        let ws = &self.ws;
        let stream = &ws.inner.stream;
        if ws.phase() == Phase::Closed {
            return false;
        }
        if stream.write_buffer_len() > WRITE_BACKLOG {
            // The peer sends faster than it reads (its pings answered, its messages
            // echoed): read no more of it until what is queued for it went out, so
            // the queue cannot grow without bound. (A failed flush closed the stream;
            // the next turn sees it.)
            let _ = stream.flush().await;
        }
        let reader = &mut self.reader;
        // (No named binding for the read: one would be kept across the awaits below, in
        // every idle connection's future.)
        let (incoming, more) =
            match stream.with_read_buffer(|buf| reader.read(buf).map(|r| (r, buf.len()))) {
                Ok(((used, got), buffered)) => {
                    if used > 0 {
                        stream.consume(used);
                    }
                    (got, buffered > used)
                }
                Err(e) => {
                    log::debug!("WebSocket protocol error: {e}");
                    ws.fail(e.close_code(), e.message());
                    return false;
                }
            };
        if let Some(incoming) = incoming {
            if let (Incoming::Pong(_), Some(p)) = (&incoming, self.pinger.as_deref()) {
                p.pong();
            }
            // More input behind this one: answer them together.
            if more {
                cork(ws);
            }
            return handle(
                &mut self.handler,
                ws,
                incoming,
                self.capture,
                &mut self.failed,
            )
            .await;
        }
        match wait(ws, stream).await {
            Woken::Data => true,
            Woken::Closed => {
                ws.inner.phase.set(Phase::Closed);
                false
            }
            Woken::Timer => self.on_timer(),
        }
    }

    /// A deadline passed: the closing handshake's (the pings keep their own).
    fn on_timer(&mut self) -> bool {
        let ws = &self.ws;
        if let Phase::CloseSent(deadline) = ws.phase()
            && Instant::now() >= deadline
        {
            log::debug!("WebSocket closing handshake timed out");
            ws.inner.phase.set(Phase::Closed);
            return false;
        }
        true
    }

    /// The connection is over: what was queued (a close frame) goes out and the
    /// stream closes, on a small task of its own (a peer that does not read gets
    /// [`CLOSE_TIMEOUT`]); `on_close` runs now.
    fn finish(&mut self) {
        let ws = &self.ws;
        let stream = &ws.inner.stream;
        if !stream.closed() {
            let stream = stream.clone();
            tornado_ioloop::spawn_callback(async move {
                let _ = tornado_gen::with_timeout(CLOSE_TIMEOUT, stream.flush()).await;
                stream.close();
            });
        }
        ws.inner.phase.set(Phase::Closed);
        ws.inner.task.take();
        let handler = &mut self.handler;
        if let Err(p) = crate::panic::guarded(self.capture, || handler.on_close(ws)) {
            log::error!("panic in WebSocket on_close: {}", p.message);
        }
    }
}

/// How much output may wait for a peer before its connection reads no more from it.
const WRITE_BACKLOG: usize = 1 << 20;

/// Acts on one thing the peer sent; `false` when the connection is over. `failed`:
/// the handler failed, and gets no more messages; set when it fails.
async fn handle<W: WebSocketHandler>(
    handler: &mut W,
    ws: &WebSocket,
    incoming: Incoming,
    capture: bool,
    failed: &mut bool,
) -> bool {
    match incoming {
        Incoming::Message(message) => {
            // Once this end closed, what the peer sent before it saw the close still
            // reaches the handler (as Tornado reads on until the peer's close); its
            // writes fail. A handler that failed gets nothing more (Tornado aborts).
            if *failed {
                return true;
            }
            let result = crate::panic::catch_unwind(handler.on_message(ws, message), capture).await;
            let why = match result {
                Ok(Ok(())) => return true,
                Ok(Err(e)) if is_closed_error(&e) => {
                    log::debug!("WebSocket on_message: {e}");
                    return true;
                }
                Ok(Err(e)) => format!("error in WebSocket on_message: {e}"),
                Err(p) => format!("panic in WebSocket on_message: {}", p.message),
            };
            log::error!("{why}");
            *failed = true;
            ws.close(Some(close_code::INTERNAL_ERROR), None);
            true
        }
        Incoming::Ping(data) => {
            if ws.phase() == Phase::Open {
                ws.send(OpCode::Pong, &data, false);
            }
            guarded_hook(capture, "on_ping", || handler.on_ping(ws, &data));
            true
        }
        Incoming::Pong(data) => {
            guarded_hook(capture, "on_pong", || handler.on_pong(ws, &data));
            true
        }
        Incoming::Close(close) => {
            let code = close.as_ref().map(|(c, _)| *c);
            // The peer sends one close frame: the task reads no more after it.
            let _ = ws.inner.close.set(Box::new(match close {
                Some((c, r)) => (Some(c), r.into_boxed_str()),
                None => (None, Box::from("")),
            }));
            if ws.phase() == Phase::Open {
                // Echo the code (RFC 6455 5.5.1); an empty close is answered empty.
                let payload = code.map(|c| c.to_be_bytes().to_vec()).unwrap_or_default();
                ws.send(OpCode::Close, &payload, false);
            }
            ws.inner.phase.set(Phase::Closed);
            false
        }
    }
}

/// Whether a handler's error is a write to a connection that closed meanwhile (the
/// peer left, or the server is shutting down): logged at debug level, not as an error.
pub(crate) fn is_closed_error(e: &crate::Error) -> bool {
    e.downcast_ref::<WebSocketError>()
        .is_some_and(WebSocketError::is_closed)
}

fn guarded_hook(capture: bool, name: &str, f: impl FnOnce()) {
    if let Err(p) = crate::panic::guarded(capture, f) {
        log::error!("panic in WebSocket {name}: {}", p.message);
    }
}

/// Waits for more input, the stream's end, the closing handshake's deadline, or a
/// handle's close.
async fn wait(ws: &WebSocket, stream: &IoStream) -> Woken {
    let mut fill = stream.fill_read_buffer();
    let mut timer: Option<Sleep> = None;
    std::future::poll_fn(|cx| {
        if let Poll::Ready(r) = Pin::new(&mut fill).poll(cx) {
            return Poll::Ready(if r.is_ok() {
                Woken::Data
            } else {
                Woken::Closed
            });
        }
        let close_deadline = match ws.phase() {
            Phase::Open => None,
            Phase::CloseSent(d) => Some(d),
            Phase::Closed => return Poll::Ready(Woken::Timer),
        };
        match close_deadline {
            Some(d) => {
                if timer.as_ref().and_then(Sleep::deadline) != Some(d) {
                    timer = Some(sleep_until(d));
                }
                if let Some(t) = timer.as_mut()
                    && Pin::new(t).poll(cx).is_ready()
                {
                    return Poll::Ready(Woken::Timer);
                }
            }
            None => timer = None,
        }
        let task = match ws.inner.task.take() {
            Some(w) if w.will_wake(cx.waker()) => w,
            _ => cx.waker().clone(),
        };
        ws.inner.task.set(Some(task));
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;
    impl WebSocketHandler for Echo {
        async fn on_message(&mut self, ws: &WebSocket, message: Message) -> crate::Result {
            ws.write_message(message);
            Ok(())
        }
    }

    /// What an idle connection's task holds is mostly the size of its future: keep
    /// it small (456 bytes when this was written; 424 once the read loop could wait for a
    /// backlog to drain).
    #[test]
    fn an_idle_connection_task_is_small() {
        let io_loop = tornado_ioloop::IoLoop::new().unwrap();
        let size = io_loop.run_sync(async {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let stream = IoStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let ws = WebSocket::new(stream, None, None, false);
            let reader = MessageReader::server(1 << 20, None);
            std::mem::size_of_val(&run(Echo, ws, reader, None, false, false, None))
        });
        assert!(size <= 512, "the connection task's future is {size} bytes");
    }

    /// Every open connection holds its `Inner` too (in an `Rc`: 16 bytes more). At 56
    /// bytes, the allocation is 80 bytes with glibc's malloc; it was 112 when the
    /// peer's close frame and the task's waker were kept inline in `RefCell`s.
    #[test]
    fn a_connection_state_is_small() {
        let size = std::mem::size_of::<Inner>();
        assert!(size <= 56, "Inner is {size} bytes");
    }
}
