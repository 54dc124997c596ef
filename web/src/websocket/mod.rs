//! WebSocket (RFC 6455) with permessage-deflate (RFC 7692): Tornado's
//! `tornado.websocket`, server and client.
//!
//! A route whose factory makes a [`WebSocketHandler`] serves WebSocket connections:
//! `url("/ws", || EchoWebSocket)`, as a [`RequestHandler`](crate::RequestHandler)
//! route would. The upgrade request goes through the handler's `prepare` and the
//! checks of the handshake; then the connection runs on a task of its own, handing
//! whole messages to [`WebSocketHandler::on_message`], and [`WebSocket`] (cloneable)
//! writes to it from anywhere on the loop's thread.
//!
//! The client: [`websocket_connect`] (a `ws://` or `wss://` URL, or an
//! [`HttpRequest`](tornado_httpclient::HttpRequest) with headers, timeouts, TLS
//! settings and a proxy) opens a [`WebSocketClientConnection`], read with
//! `read_message` or a message callback. Both ends share the connection's task and
//! its writes; the client masks each frame with a fresh random key.
//!
//! The protocol is pure functions and state machines over bytes, used by both ends:
//! [`frame`] (headers, masking, close payloads), [`reader`] (messages from frames:
//! fragments with control frames between them, UTF-8 checked as it arrives, the size
//! limit), [`deflate`] (negotiation and compression) and [`handshake`].
//!
//! Settings: `websocket_max_message_size` (10 MiB; a larger message closes the
//! connection with 1009), `websocket_ping_interval` and `websocket_ping_timeout`.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::time::Duration;
//! use tornado_ioloop::IoLoop;
//! use tornado_web::websocket::{Message, WebSocket, WebSocketHandler};
//! use tornado_web::{url, Application};
//!
//! struct EchoWebSocket;
//! impl WebSocketHandler for EchoWebSocket {
//!     async fn on_message(&mut self, ws: &WebSocket, message: Message) -> tornado_web::Result {
//!         ws.write_message(message);
//!         Ok(())
//!     }
//! }
//!
//! let io_loop = IoLoop::new().unwrap();
//! io_loop.run_sync_timeout(async {
//!     let app = Application::new(vec![url("/ws", || EchoWebSocket)]);
//!     let server = app.listen_on(0, Some("127.0.0.1")).unwrap();
//!     let addr = server.local_addrs()[0];
//!     // A client on another thread: the handshake, then "hi" masked as clients must.
//!     let client = std::thread::spawn(move || {
//!         let mut s = std::net::TcpStream::connect(addr).unwrap();
//!         write!(s, "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
//!                    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
//!                    Sec-WebSocket-Version: 13\r\n\r\n").unwrap();
//!         s.write_all(&[0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2]).unwrap();
//!         let mut got = Vec::new();
//!         let mut buf = [0; 512];
//!         while !got.ends_with(&[0x81, 0x02, b'h', b'i']) {
//!             let n = s.read(&mut buf).unwrap();
//!             assert!(n > 0);
//!             got.extend_from_slice(&buf[..n]);
//!         }
//!         String::from_utf8_lossy(&got).into_owned()
//!     });
//!     while !client.is_finished() {
//!         tornado_gen::sleep(Duration::from_millis(5)).await;
//!     }
//!     let answer = client.join().unwrap();
//!     assert!(answer.starts_with("HTTP/1.1 101"));
//!     assert!(answer.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
//!     server.stop();
//! }, Duration::from_secs(10)).unwrap();
//! ```

mod client;
mod connection;
pub mod deflate;
pub mod frame;
mod handler;
pub mod handshake;
mod message;
mod random;
pub mod reader;
mod utf8;

pub use client::{WebSocketClientConnection, WebSocketConnect, websocket_connect};
pub use connection::{
    CLOSE_TIMEOUT, WebSocket, WebSocketError, WriteFuture, WriteMessage, ZERO_COPY_MIN,
};
pub use deflate::CompressionOptions;
pub use handler::{WebSocketFactory, WebSocketHandler};
pub use message::Message;
pub use reader::MessageReader;
pub use utf8::{InvalidUtf8, Utf8Validator};
