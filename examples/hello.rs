//! The "Hello, world" HTTP server, and the server the benchmarks run.
//!
//! `cargo run --release --example hello -- [--port 8888] [--address 127.0.0.1] [--threads N]`
//!
//! Answers `GET /` (any path) with `Hello, world` as `text/plain`. With `--threads N`
//! it serves from N threads, each with its own IoLoop and `SO_REUSEPORT` socket;
//! `--threads 0` means one thread per CPU.
//!
//! SIGINT (Ctrl-C) or SIGTERM stops it gracefully: it stops accepting, lets requests
//! in flight finish (up to 10 seconds), then exits.

#[path = "common/port_address.rs"]
mod port_address;

use std::time::Duration;
use tornado::httpserver::{HttpServer, HttpServerSettings, Response};
use tornado::httputil::HttpServerRequest;

use tornado::ioloop::IoLoop;

async fn hello(_request: HttpServerRequest) -> Response {
    Response::text("Hello, world")
}

fn main() {
    // Per-request access lines (target `tornado.access`) are off by default so the
    // benchmark measures the server; `RUST_LOG=info` turns them on.
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("info,tornado.access=warn"),
    )
    .init();
    let mut threads = 1usize;
    let args = port_address::parse_with_or_exit(
        "usage: hello [--port N] [--address A] [--threads N]",
        |flag, flags| {
            match flag {
                "--threads" => threads = flags.parsed("--threads")?,
                _ => return Ok(false),
            }
            Ok(true)
        },
    );
    let io_loop = IoLoop::current();
    let server = HttpServer::from_factory(|| hello, HttpServerSettings::default());
    let started = server
        .bind(args.port, Some(&args.address))
        .and_then(|()| server.start(threads));
    if let Err(e) = started {
        eprintln!("cannot listen on port {}: {e}", args.port);
        std::process::exit(1);
    }
    for addr in server.local_addrs() {
        log::info!(
            "listening on http://{addr}/ ({} thread(s))",
            server.threads()
        );
    }
    // Until SIGINT/SIGTERM; then drain the requests in flight before exiting.
    let (server, stopped) = io_loop.run_sync(async move {
        let stopped = server.shutdown_on_signal(GRACE).await;
        (server, stopped)
    });
    match stopped {
        Ok(signal) => log::info!("{signal}: stopped"),
        Err(e) => {
            eprintln!("cannot wait for signals: {e}");
            std::process::exit(1);
        }
    }
    server.join_threads(GRACE);
}

/// How long requests in flight may take to finish after a stop signal.
const GRACE: Duration = Duration::from_secs(10);
