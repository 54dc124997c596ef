//! The `client_load` example (what `benches/client_callgrind.py` measures) runs both
//! clients in both modes against a local server and reports its figures.

mod common;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tornado::httpserver::Response;
use tornado::httputil::HttpServerRequest;

/// The longest one run of the example may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// A hello server on its own thread and loop, for the life of the test process.
fn start_server() -> SocketAddr {
    common::serve_on_thread(|| |_req: HttpServerRequest| async { Response::text("Hello, world") })
}

#[test]
fn client_load_runs_both_clients_in_both_modes() {
    let binary = common::example_binary("client_load");
    let url = format!("http://{}/", start_server());
    for client in ["tornado", "reqwest"] {
        for (mode, requests, measured) in [("sequential", "50", 50), ("concurrent", "150", 200)] {
            let mut child = Command::new(&binary)
                .args(["--client", client, "--url", &url, "--mode", mode])
                .args(["--requests", requests])
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start client_load");
            let start = Instant::now();
            let status = loop {
                if let Some(status) = child.try_wait().expect("wait for client_load") {
                    break status;
                }
                if start.elapsed() > RUN_TIMEOUT {
                    let _ = child.kill();
                    panic!("client_load {client} {mode} took longer than {RUN_TIMEOUT:?}");
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            let output = child.wait_with_output().expect("client_load output");
            let text = String::from_utf8_lossy(&output.stdout).into_owned();
            assert!(
                status.success(),
                "client_load {client} {mode}: {status}; {text}"
            );
            assert!(
                text.starts_with(&format!(
                    "client={client} mode={mode} requests={measured} allocations="
                )),
                "{text}"
            );
            assert!(text.contains(" cpu_us_per_request="), "{text}");
        }
    }
}
