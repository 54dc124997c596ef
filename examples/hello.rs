//! The "Hello, world" HTTP server, and the server the benchmarks run.
//!
//! `cargo run --release --example hello -- --port 8888 [--address A] [--threads N]`
//!
//! Answers `GET /` (any path) with `Hello, world` as `text/plain`. With `--threads N`
//! it serves from N threads, each with its own IoLoop and `SO_REUSEPORT` socket.
//!
//! SIGINT (Ctrl-C) or SIGTERM stops it gracefully: it stops accepting, lets requests
//! in flight finish (up to 10 seconds), then exits.

use std::time::Duration;
use tornado::httpserver::{HttpServer, HttpServerSettings, Response};
use tornado::httputil::HttpServerRequest;

use tornado::ioloop::IoLoop;

struct Args {
    port: u16,
    address: Option<String>,
    threads: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        port: 8888,
        address: None,
        threads: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--port" => {
                let v = value("--port")?;
                args.port = v.parse().map_err(|_| format!("bad --port {v:?}"))?;
            }
            "--address" => args.address = Some(value("--address")?),
            "--threads" => {
                let v = value("--threads")?;
                args.threads = v.parse().map_err(|_| format!("bad --threads {v:?}"))?;
            }
            "-h" | "--help" => {
                return Err("usage: hello [--port N] [--address A] [--threads N]".into());
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

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
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let io_loop = IoLoop::current();
    let server = HttpServer::from_factory(|| hello, HttpServerSettings::default());
    let started = server
        .bind(args.port, args.address.as_deref())
        .and_then(|()| server.start(args.threads));
    if let Err(e) = started {
        eprintln!("cannot listen on port {}: {e}", args.port);
        std::process::exit(1);
    }
    for addr in server.local_addrs() {
        log::info!(
            "listening on http://{addr}/ ({} thread(s))",
            args.threads.max(1)
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
