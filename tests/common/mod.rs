//! Running an example as a user does: a separate process, with a hard time limit.
//!
//! Each test crate that includes this module uses a part of it.
#![allow(dead_code)]

pub mod browser;

use std::collections::BTreeSet;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// How long an example may run before it is killed and the test fails.
pub const TIME_LIMIT: Duration = Duration::from_secs(60);

/// The example's binary beside this test's own (`target/debug/examples/NAME`).
/// `cargo test` builds every example, but `cargo test --test NAME` builds none, so it
/// is built here once per test process (a no-op when it is up to date).
pub fn example_binary(name: &str) -> PathBuf {
    static BUILT: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let binary = dir.join("examples").join(name);
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if built.insert(name.to_owned()) {
        let mut build = Command::new(env!("CARGO"));
        build.args(["build", "--quiet", "--example", name]);
        // What cargo sets for this test's run would reach build scripts that watch
        // it (ring's watches CARGO_MANIFEST_DIR and CARGO_PKG_NAME), and every build
        // after this one would then start over from there.
        for (var, _) in std::env::vars_os() {
            let var_str = var.to_string_lossy();
            if var_str.starts_with("CARGO_PKG_")
                || var_str.starts_with("CARGO_MANIFEST_")
                || matches!(
                    &*var_str,
                    "CARGO_CRATE_NAME" | "CARGO_PRIMARY_PACKAGE" | "CARGO_TARGET_TMPDIR"
                )
            {
                build.env_remove(&var);
            }
        }
        if dir.ends_with("release") {
            build.arg("--release");
        }
        let status = build.status();
        if !matches!(&status, Ok(s) if s.success()) {
            eprintln!("cargo build --example {name}: {status:?}; using what is there");
        }
        assert!(
            binary.exists(),
            "{} is not built (cargo build --example {name}: {status:?})",
            binary.display()
        );
    }
    binary
}

/// What a run of an example left.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    /// Standard output as text.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Runs example `name` with `args`, killing it after [`TIME_LIMIT`].
pub fn run_example(name: &str, args: &[&str]) -> Run {
    let mut child = Command::new(example_binary(name))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let stdout = thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let stderr = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + TIME_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} {args:?} did not exit within {TIME_LIMIT:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    Run {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// A port on 127.0.0.1 that refuses connections for as long as this lives: the local
/// port of a connected client socket. Nothing listens there, and unlike a listener's
/// port freed for the test, no `bind` elsewhere (a server in a test running beside
/// this one) can take it meanwhile.
#[derive(Debug)]
pub struct RefusedPort {
    pub port: u16,
    _sockets: (TcpListener, TcpStream, TcpStream),
}

impl RefusedPort {
    pub fn new() -> RefusedPort {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (accepted, _) = listener.accept().expect("accept");
        RefusedPort {
            port: client.local_addr().expect("local addr").port(),
            _sockets: (listener, client, accepted),
        }
    }
}
