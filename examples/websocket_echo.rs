//! A WebSocket echo server: every text or binary message comes back as it was sent,
//! compressed when the client offers permessage-deflate. It is the server the
//! Autobahn|Testsuite `fuzzingclient` tests (`tests/autobahn/run.py`).
//!
//! `cargo run --release --example websocket_echo -- [--port 9001] [--address 127.0.0.1]`
//!
//! Then connect to `ws://127.0.0.1:9001/` (any path). SIGINT or SIGTERM stops it.

use tornado::web::websocket::{CompressionOptions, Message, WebSocket, WebSocketHandler};
use tornado::web::{Application, Context, Settings, url};

/// Echoes each message.
struct EchoWebSocket;

impl WebSocketHandler for EchoWebSocket {
    /// Any origin: a test server with nothing to protect (a real one keeps the
    /// default, which refuses pages from other sites).
    fn check_origin(&self, _cx: &Context, _origin: &str) -> bool {
        true
    }

    fn get_compression_options(&self, _cx: &Context) -> Option<CompressionOptions> {
        Some(CompressionOptions::default())
    }

    async fn on_message(&mut self, ws: &WebSocket, message: Message) -> tornado::web::Result {
        // Queued at once; not waiting for the write lets the next message be read.
        ws.write_message(message);
        Ok(())
    }
}

fn make_app() -> Application {
    Application::with_settings(
        vec![url("/.*", || EchoWebSocket)],
        Settings {
            // Autobahn's largest messages are 16 MiB (case 9, performance).
            websocket_max_message_size: 64 * 1024 * 1024,
            ..Settings::default()
        },
    )
}

fn parse_args() -> Result<(u16, String), String> {
    let (mut port, mut address) = (9001u16, "127.0.0.1".to_string());
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--port" => {
                let v = value("--port")?;
                port = v.parse().map_err(|_| format!("bad --port {v:?}"))?;
            }
            "--address" => address = value("--address")?,
            "-h" | "--help" => {
                return Err("usage: websocket_echo [--port N] [--address A]".into());
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok((port, address))
}

fn main() {
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("info,tornado.access=warn"),
    )
    .init();
    let (port, address) = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = make_app().run(port, Some(&address)) {
        eprintln!("websocket_echo: {e}");
        std::process::exit(1);
    }
}
