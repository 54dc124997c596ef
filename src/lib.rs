//! # Tornado for Rust
//!
//! Python's [Tornado](https://www.tornadoweb.org/) rebuilt in Rust: a single-threaded
//! event loop per thread ([`ioloop`]), buffered non-blocking streams with Tornado's read
//! semantics ([`iostream`]), a coroutine toolkit ([`coroutine`], [`locks`], [`queues`]) and
//! an HTTP/1.1 server ([`httpserver`]) over the sans-IO protocol core
//! ([`http1connection`], shared by server and client) and [`httputil`] (headers,
//! requests, arguments, cookies), and an HTTP client ([`httpclient`]: keep-alive pool,
//! redirects, proxies, TLS, and the blocking `HttpClient`), and the web framework
//! ([`web`]: `Application`, routes, `RequestHandler`, error pages, gzip, ETags) with
//! its test helpers ([`testing`]).
//!
//! A user depends on this crate alone and writes `use tornado::ioloop::IoLoop`, just as a
//! Tornado user writes `tornado.ioloop.IOLoop`.
//!
//! ```
//! use std::time::Duration;
//! use tornado::ioloop::IoLoop;
//!
//! let io_loop = IoLoop::new().unwrap();
//! let answer = io_loop.run_sync(async {
//!     let task = tornado::ioloop::spawn(async { 6 * 7 });
//!     task.await.unwrap()
//! });
//! assert_eq!(answer, 42);
//! # let _ = Duration::from_millis(1);
//! ```
#![forbid(unsafe_code)]

pub use tornado_ioloop as ioloop;

pub use tornado_iostream as iostream;
pub use tornado_iostream::{netutil, tcpclient, tcpserver};

pub use tornado_gen as coroutine;
pub use tornado_gen::locks;
pub use tornado_gen::queues;

pub use tornado_httpserver as httpserver;
pub use tornado_httpserver::{http1connection, httputil};

pub use tornado_httpclient as httpclient;

pub use tornado_web as web;
pub use tornado_web::testing;
