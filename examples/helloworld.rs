//! Tornado's hello world on the web framework, and the server the web benchmarks run:
//! `GET /` answers `Hello, world` as plain text and `GET /json` answers
//! `{"message":"Hello, World!"}`, each through an `Application`, its routing and a
//! `RequestHandler` (TechEmpower's plaintext and JSON shapes).
//!
//! `cargo run --release --example helloworld -- [--port 8888] [--address 127.0.0.1]`
//!
//! SIGINT or SIGTERM stops it gracefully.

#[path = "common/port_address.rs"]
mod port_address;

use tornado::web::{Application, Context, RequestHandler, url};

/// `GET /`.
struct MainHandler;

impl RequestHandler for MainHandler {
    async fn get(&mut self, cx: &mut Context) -> tornado::web::Result {
        cx.set_header("Content-Type", "text/plain")?;
        cx.write("Hello, world");
        Ok(())
    }
}

/// The JSON answer.
#[derive(serde::Serialize)]
struct Message {
    message: &'static str,
}

/// `GET /json`.
struct JsonHandler;

impl RequestHandler for JsonHandler {
    async fn get(&mut self, cx: &mut Context) -> tornado::web::Result {
        cx.write_json(&Message {
            message: "Hello, World!",
        })
    }
}

fn make_app() -> Application {
    Application::new(vec![url("/", || MainHandler), url("/json", || JsonHandler)])
}

fn main() {
    // Access lines are off by default so the benchmark measures the server;
    // `RUST_LOG=info` turns them on.
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("info,tornado.access=warn"),
    )
    .init();
    let args = port_address::parse_or_exit("helloworld");
    if let Err(e) = make_app().run(args.port, Some(&args.address)) {
        eprintln!("helloworld: {e}");
        std::process::exit(1);
    }
}
