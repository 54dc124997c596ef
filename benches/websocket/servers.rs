//! The servers under test, each on 127.0.0.1 on one thread, without compression:
//!
//! * ours: an [`Application`] whose `WebSocketHandler` echoes each message
//!   (`write_message`, not awaited, as `examples/websocket_echo.rs` does);
//! * tokio-tungstenite on tokio's current-thread runtime (ours runs one thread too),
//!   the echo of its `echo-server` example: `read.try_filter(text or binary)
//!   .forward(write)`;
//! * fastwebsockets on tokio's current-thread runtime, its `echo_server` example: the
//!   upgrade through hyper 1, a `FragmentCollector`, `read_frame` then `write_frame`.
//!
//! Every server sets `TCP_NODELAY` on its connections (ours does by default for a
//! WebSocket; the peers' examples do not, so a small echo could meet Nagle's delay).
//!
//! The broadcast servers keep every open socket in a room; a text message starting
//! with `broadcast` is written to every member. Ours holds `WebSocket` handles in a
//! thread-local list; tokio-tungstenite follows its `server` example (unbounded
//! senders, kept here in a list where the example keeps a map, and each connection's
//! task forwarding its receiver to its sink).

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;

use futures_util::{StreamExt, TryStreamExt, future};
use tornado::ioloop::IoLoop;
use tornado::web::websocket::{Message, WebSocket, WebSocketHandler};
use tornado::web::{Application, Context, url};

/// A server under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Ours,
    Tungstenite,
    Fastwebsockets,
}

impl Server {
    pub const ALL: [Server; 3] = [Server::Ours, Server::Tungstenite, Server::Fastwebsockets];

    pub fn name(self) -> &'static str {
        match self {
            Server::Ours => "ours",
            Server::Tungstenite => "tungstenite",
            Server::Fastwebsockets => "fastwebsockets",
        }
    }

    pub fn parse(name: &str) -> Option<Server> {
        Server::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The name of the thread it runs on (at most 15 bytes, so `/proc` shows it whole).
    pub fn thread_name(self) -> &'static str {
        match self {
            Server::Ours => "ws-ours",
            Server::Tungstenite => "ws-tungstenite",
            Server::Fastwebsockets => "ws-fastws",
        }
    }
}

/// Starts `server`'s echo server on a thread of its own; it runs until the process
/// exits.
pub fn spawn_echo(server: Server) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(server.thread_name().into())
        .spawn(move || {
            run_echo(server, 0, move |addr| tx.send(addr).unwrap());
        })
        .unwrap();
    rx.recv().unwrap()
}

/// Runs `server`'s echo server on this thread, forever; `ready` gets its address.
pub fn run_echo(server: Server, port: u16, ready: impl FnOnce(SocketAddr) + 'static) {
    match server {
        Server::Ours => ours(port, ready, || Echo),
        Server::Tungstenite => tokio_rt().block_on(tungstenite_echo(port, ready)),
        Server::Fastwebsockets => tokio_rt().block_on(fastwebsockets_echo(port, ready)),
    }
}

/// Runs `server`'s broadcast server on this thread, forever.
pub fn run_broadcast(server: Server, port: u16, ready: impl FnOnce(SocketAddr) + 'static) {
    match server {
        Server::Ours => ours(port, ready, || Member),
        Server::Tungstenite => tokio_rt().block_on(tungstenite_broadcast(port, ready)),
        Server::Fastwebsockets => panic!("no fastwebsockets broadcast server"),
    }
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn ours<W: WebSocketHandler>(
    port: u16,
    ready: impl FnOnce(SocketAddr) + 'static,
    factory: fn() -> W,
) {
    let io_loop = IoLoop::new().unwrap();
    io_loop.run_sync(async move {
        let app = Application::new(vec![url("/.*", factory)]);
        let server = app.listen_on(port, Some("127.0.0.1")).unwrap();
        ready(server.local_addrs()[0]);
        std::future::pending::<()>().await;
    });
}

/// Ours: echoes each message.
struct Echo;

impl WebSocketHandler for Echo {
    async fn on_message(&mut self, ws: &WebSocket, message: Message) -> tornado::web::Result {
        ws.write_message(message);
        Ok(())
    }
}

thread_local! {
    /// Ours: the broadcast room.
    static ROOM: RefCell<Vec<WebSocket>> = const { RefCell::new(Vec::new()) };
}

/// Ours: a member of the broadcast room.
struct Member;

impl WebSocketHandler for Member {
    async fn open(&mut self, ws: &WebSocket, _cx: &mut Context) -> tornado::web::Result {
        ROOM.with(|room| room.borrow_mut().push(ws.clone()));
        Ok(())
    }

    async fn on_message(&mut self, _ws: &WebSocket, message: Message) -> tornado::web::Result {
        if message
            .as_text()
            .is_some_and(|t| t.starts_with("broadcast"))
        {
            let text = message.as_text().unwrap_or_default();
            ROOM.with(|room| {
                for member in room.borrow().iter() {
                    member.write_message(text);
                }
            });
        }
        Ok(())
    }

    fn on_close(&mut self, _ws: &WebSocket) {
        // This one is closed by now, so it goes with any others that closed.
        ROOM.with(|room| room.borrow_mut().retain(|m| !m.is_closed()));
    }
}

async fn tokio_listener(port: u16, ready: impl FnOnce(SocketAddr)) -> tokio::net::TcpListener {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    ready(listener.local_addr().unwrap());
    listener
}

/// tokio-tungstenite's configuration: its default, unless `TUNGSTENITE_READ_BUFFER`
/// sets the read buffer's size (128 KiB by default, which tungstenite zero-fills
/// before each read: that is nearly all of its instructions for a small message).
fn tungstenite_config() -> Option<tokio_tungstenite::tungstenite::protocol::WebSocketConfig> {
    let size: usize = std::env::var("TUNGSTENITE_READ_BUFFER")
        .ok()?
        .parse()
        .ok()?;
    Some(
        tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(size),
    )
}

async fn tungstenite_echo(port: u16, ready: impl FnOnce(SocketAddr)) {
    let listener = tokio_listener(port, ready).await;
    let config = tungstenite_config();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let Ok(ws) = tokio_tungstenite::accept_async_with_config(stream, config).await else {
                return;
            };
            let (write, read) = ws.split();
            let _ = read
                .try_filter(|m| future::ready(m.is_text() || m.is_binary()))
                .forward(write)
                .await;
        });
    }
}

async fn tungstenite_broadcast(port: u16, ready: impl FnOnce(SocketAddr)) {
    use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
    use tokio_tungstenite::tungstenite::Message;

    type Peers = Rc<RefCell<Vec<UnboundedSender<Message>>>>;
    let listener = tokio_listener(port, ready).await;
    let config = tungstenite_config();
    let peers: Peers = Rc::default();
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let peers = peers.clone();
                tokio::task::spawn_local(async move {
                    let Ok(ws) = tokio_tungstenite::accept_async_with_config(stream, config).await
                    else {
                        return;
                    };
                    let (write, mut read) = ws.split();
                    let (tx, rx) = unbounded_channel();
                    peers.borrow_mut().push(tx);
                    let rx = tokio_stream_from(rx);
                    tokio::task::spawn_local(rx.map(Ok).forward(write));
                    while let Some(Ok(msg)) = read.next().await {
                        if msg.is_text() && msg.to_text().is_ok_and(|t| t.starts_with("broadcast"))
                        {
                            peers.borrow_mut().retain(|p| p.send(msg.clone()).is_ok());
                        }
                    }
                });
            }
        })
        .await
}

/// An unbounded receiver as a stream (what `tokio-stream`'s wrapper does).
fn tokio_stream_from<T>(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<T>,
) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

async fn fastwebsockets_echo(port: u16, ready: impl FnOnce(SocketAddr)) {
    use fastwebsockets::{FragmentCollector, OpCode, WebSocketError, upgrade};
    use http_body_util::Empty;
    use hyper::body::{Bytes, Incoming};
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper::{Request, Response};

    async fn handle_client(fut: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
        let mut ws = FragmentCollector::new(fut.await?);
        loop {
            let frame = ws.read_frame().await?;
            match frame.opcode {
                OpCode::Close => break,
                OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
                _ => {}
            }
        }
        Ok(())
    }

    async fn server_upgrade(
        mut req: Request<Incoming>,
    ) -> Result<Response<Empty<Bytes>>, WebSocketError> {
        let (response, fut) = upgrade::upgrade(&mut req)?;
        tokio::task::spawn(async move {
            let _ = tokio::task::unconstrained(handle_client(fut)).await;
        });
        Ok(response)
    }

    let listener = tokio_listener(port, ready).await;
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = http1::Builder::new()
                .serve_connection(io, service_fn(server_upgrade))
                .with_upgrades()
                .await;
        });
    }
}
