//! A line echo server and its client, over `TcpServer` and `TcpClient`.
//!
//! ```text
//! cargo run --example tcpecho -- server --port 8888 [--address 127.0.0.1] [--threads N]
//! cargo run --example tcpecho -- client --port 8888 [--host 127.0.0.1] [--timeout SECS]
//! RUST_LOG=debug cargo run --example tcpecho -- server --port 8888   # log each connection
//! ```
//!
//! The server sends every line it receives back. The client sends each line of its
//! standard input (read on the executor's thread pool, so the loop never blocks) and
//! prints each reply; it exits at the end of its input.

use std::error::Error;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use tornado::ioloop::{IoLoop, run_in_executor};
use tornado::iostream::IoStream;
use tornado::tcpclient::{ConnectOptions, TcpClient};
use tornado::tcpserver::TcpServer;

/// The longest line the server accepts; a longer one closes the connection.
const MAX_LINE: usize = 64 * 1024;

const USAGE: &str = "usage:
  tcpecho server --port N [--address ADDR] [--threads N]
  tcpecho client --port N [--host HOST] [--timeout SECS]";

struct Args {
    mode: String,
    port: u16,
    host: String,
    threads: usize,
    timeout: Option<Duration>,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mode = it.next().ok_or("missing mode")?;
    if mode != "server" && mode != "client" {
        return Err(format!("unknown mode {mode:?}"));
    }
    let mut args = Args {
        mode,
        port: 0,
        host: "127.0.0.1".to_owned(),
        threads: 1,
        timeout: None,
    };
    let mut port = None;
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("bad {flag} {value:?}: {e}");
        match flag.as_str() {
            "--port" => port = Some(value.parse::<u16>().map_err(|e| bad(&e))?),
            "--address" | "--host" => args.host = value,
            "--threads" => args.threads = value.parse().map_err(|e| bad(&e))?,
            "--timeout" => {
                let secs: f64 = value.parse().map_err(|e| bad(&e))?;
                args.timeout = Some(Duration::try_from_secs_f64(secs).map_err(|e| bad(&e))?);
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    args.port = port.ok_or("--port is required")?;
    Ok(args)
}

/// Serves one connection: every line back, until the peer closes.
async fn echo(stream: IoStream, peer: SocketAddr) {
    log::debug!("{peer} connected");
    loop {
        match stream.read_until(b"\n", Some(MAX_LINE)).await {
            Ok(line) => {
                if let Err(e) = stream.write(&line).await {
                    log::debug!("{peer}: write failed: {e}");
                    break;
                }
            }
            Err(e) => {
                log::debug!("{peer} gone: {e}");
                break;
            }
        }
    }
}

fn server(args: &Args) -> Result<(), Box<dyn Error>> {
    let io_loop = IoLoop::new()?;
    io_loop.make_current();
    let server = TcpServer::from_factory(|| echo);
    server.bind(args.port, Some(&args.host))?;
    server.start(args.threads)?;
    for addr in server.local_addrs() {
        println!("echoing on {addr} with {} thread(s)", server.threads());
    }
    io_loop.start();
    Ok(())
}

async fn client(args: Args) -> Result<(), Box<dyn Error>> {
    let mut options = ConnectOptions::new();
    options.timeout = args.timeout;
    let stream = TcpClient::new()
        .connect_with(&args.host, args.port, &options)
        .await?;
    loop {
        let (n, mut line) = run_in_executor(|| {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map(|n| (n, line))
        })
        .await??;
        if n == 0 {
            return Ok(());
        }
        if !line.ends_with('\n') {
            line.push('\n');
        }
        stream.write(line.as_bytes()).await?;
        let reply = stream.read_until(b"\n", Some(MAX_LINE)).await?;
        let mut out = std::io::stdout().lock();
        out.write_all(&reply)?;
        out.flush()?;
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    env_logger::init();
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("tcpecho: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let result = if args.mode == "server" {
        server(&args)
    } else {
        IoLoop::new()?.run_sync(client(args))
    };
    if let Err(e) = result {
        // Display, not Debug: the message names the phase and address that failed.
        eprintln!("tcpecho: {e}");
        std::process::exit(1);
    }
    Ok(())
}
