//! # tornado-iostream: buffered non-blocking streams, TLS, TCP server and client
//!
//! Tornado's `tornado.iostream` on the [`tornado_ioloop`] event loop. An [`IoStream`]
//! wraps a non-blocking [`Transport`] — a `mio::net::TcpStream`, a
//! `mio::net::UnixStream`, a [`Pipe`], or any type that implements the trait — and
//! offers Tornado's reads as futures ([`read_until`](IoStream::read_until),
//! [`read_until_regex`](IoStream::read_until_regex), [`read_bytes`](IoStream::read_bytes),
//! [`read_into`](IoStream::read_into), [`read_until_close`](IoStream::read_until_close)),
//! eager queued writes ([`write`](IoStream::write)), a close callback and the error that
//! closed the stream.
//!
//! Errors are [`std::io::Error`]s. An operation on a closed stream fails with a
//! [`StreamClosedError`] inside ([`is_stream_closed`]) that carries the cause; a
//! `read_until` or `read_until_regex` that cannot be satisfied within its `max_bytes`
//! closes the stream with an [`UnsatisfiableReadError`] as that cause
//! ([`is_unsatisfiable_read`]), and what was received stays readable.
//!
//! [`IoStream`] also implements `futures-io`'s `AsyncRead` and `AsyncWrite` (see
//! [`async_io`]), TLS comes from [`IoStream::start_tls`] (see [`tls`]), and protocol code
//! can parse the read buffer in place with [`IoStream::fill_read_buffer`],
//! [`IoStream::with_read_buffer`] and [`IoStream::consume`].
//!
//! The stream registers its socket once, edge-triggered, for reading and writing; reads
//! go on until the socket is drained (a short read counts as drained); an idle stream
//! holds no buffer. See the [`stream`] module for the model.
//!
//! ```
//! use tornado_ioloop::IoLoop;
//! use tornado_iostream::IoStream;
//!
//! let io_loop = IoLoop::new().unwrap();
//! io_loop.run_sync(async {
//!     let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     let client = IoStream::connect(addr).await.unwrap();
//!     let (server, _) = listener.accept().unwrap();
//!     server.set_nonblocking(true).unwrap();
//!     let server = IoStream::new(mio::net::TcpStream::from_std(server)).unwrap();
//!
//!     client.write(b"hello\r\n").await.unwrap();
//!     let line = server.read_until(b"\r\n", Some(1024)).await.unwrap();
//!     assert_eq!(&line[..], b"hello\r\n");
//!
//!     server.close();
//!     let err = client.read_bytes(1, false).await.unwrap_err();
//!     assert!(tornado_iostream::is_stream_closed(&err));
//! });
//! ```
// `deny`, not `forbid`: `sys.rs` allows `unsafe` for its one system call.
#![deny(unsafe_code)]

pub mod async_io;
mod buffer;
mod error;
mod pipe;
pub mod stream;
mod sys;
pub mod tls;
mod transport;

pub mod netutil;
pub mod tcpclient;
pub mod tcpserver;

pub use crate::buffer::{INITIAL_READ_SIZE, MAX_READ_SIZE};
pub use crate::error::{
    StreamClosedError, UnsatisfiableReadError, is_stream_closed, is_unsatisfiable_read,
    stream_closed_error, unsatisfiable_read_error,
};
pub use crate::pipe::Pipe;
pub use crate::stream::{
    DEFAULT_MAX_BUFFER_SIZE, Detached, FillReadBuffer, IoStream, ReadFuture, ReadInto, WriteFuture,
    WritePart,
};
pub use crate::tls::{Handshake, SslIoStream, TlsConfig, TlsTransport};
pub use crate::transport::Transport;

/// Tornado's `PipeIOStream`: an [`IoStream`] over a [`Pipe`]
/// (`IoStream::new(Pipe::new(receiver, sender))`).
pub type PipeIoStream = IoStream;
