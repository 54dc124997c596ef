//! The WebSocket client under Autobahn|Testsuite: connects to a `wstest -m
//! fuzzingserver`, asks it how many cases it has (`/getCaseCount`), runs each one
//! (`/runCase?case=N&agent=AGENT`) by echoing every message back until the server
//! closes, then has it write its reports (`/updateReports`). It offers
//! permessage-deflate, so the compression cases (12.*, 13.*) run too.
//! `tests/autobahn/run.py` starts the fuzzingserver, runs this and reads the reports.
//!
//! `cargo run --release --example websocket_autobahn_client -- [--url ws://127.0.0.1:9001] [--agent tornado-rs]`

use std::time::Duration;

use tornado::httpclient::HttpClientError;
use tornado::ioloop::IoLoop;
use tornado::web::websocket::{CompressionOptions, WebSocketClientConnection, websocket_connect};

/// The longest one case may take before it is abandoned (the slowest, in sections 12
/// and 13, take a few seconds).
const CASE_TIMEOUT: Duration = Duration::from_secs(120);

/// Autobahn's largest messages are 16 MiB (section 9, which run.py leaves out).
const MAX_MESSAGE_SIZE: usize = 64 * 1024 * 1024;

async fn connect(url: &str) -> Result<WebSocketClientConnection, HttpClientError> {
    websocket_connect(url)
        .compression(CompressionOptions::default())
        .max_message_size(MAX_MESSAGE_SIZE)
        .await
}

/// How many cases the fuzzingserver will run.
async fn case_count(base: &str) -> Result<u32, String> {
    let conn = connect(&format!("{base}/getCaseCount"))
        .await
        .map_err(|e| format!("getCaseCount: {e}"))?;
    let message = conn
        .read_message()
        .await
        .ok_or("getCaseCount: closed without an answer")?;
    let text = message.as_text().ok_or("getCaseCount: a binary answer")?;
    let count = text
        .trim()
        .parse()
        .map_err(|_| format!("getCaseCount: {text:?} is not a number"))?;
    while conn.read_message().await.is_some() {}
    Ok(count)
}

/// Runs case `n`: every message goes back as it came, until the server closes.
async fn run_case(base: &str, agent: &str, n: u32) -> Result<(), String> {
    let conn = connect(&format!("{base}/runCase?case={n}&agent={agent}"))
        .await
        .map_err(|e| format!("case {n}: {e}"))?;
    let echo = async {
        while let Some(message) = conn.read_message().await {
            // Queued at once; a closed connection (the case failed it) ends the loop
            // at the next read.
            let _ = conn.write_message(message);
        }
    };
    if tornado::coroutine::with_timeout(CASE_TIMEOUT, echo)
        .await
        .is_err()
    {
        return Err(format!("case {n}: no end after {CASE_TIMEOUT:?}"));
    }
    Ok(())
}

async fn update_reports(base: &str, agent: &str) -> Result<(), String> {
    let conn = connect(&format!("{base}/updateReports?agent={agent}"))
        .await
        .map_err(|e| format!("updateReports: {e}"))?;
    while conn.read_message().await.is_some() {}
    Ok(())
}

async fn run(base: String, agent: String) -> Result<(), String> {
    let count = case_count(&base).await?;
    log::info!("{count} cases");
    for n in 1..=count {
        if let Err(e) = run_case(&base, &agent, n).await {
            // The report says what the case made of it.
            log::warn!("{e}");
        }
        if n % 50 == 0 {
            log::info!("{n} of {count} cases run");
        }
    }
    update_reports(&base, &agent).await
}

fn parse_args() -> Result<(String, String), String> {
    let (mut url, mut agent) = ("ws://127.0.0.1:9001".to_owned(), "tornado-rs".to_owned());
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--url" => url = value("--url")?,
            "--agent" => agent = value("--agent")?,
            "-h" | "--help" => {
                return Err("usage: websocket_autobahn_client [--url URL] [--agent NAME]".into());
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok((url.trim_end_matches('/').to_owned(), agent))
}

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let (url, agent) = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let io_loop = match IoLoop::new() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("websocket_autobahn_client: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = io_loop.run_sync(run(url, agent)) {
        eprintln!("websocket_autobahn_client: {e}");
        std::process::exit(1);
    }
}
