//! Running an example as a user does: a separate process, with a hard time limit.
//!
//! Each test crate that includes this module uses a part of it.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::Read;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Serves what `make` builds (on the server's thread) on 127.0.0.1, port 0, on a
/// thread and loop of its own for the life of the test process; returns its address.
pub fn serve_on_thread<D, F>(make: F) -> std::net::SocketAddr
where
    D: tornado::httpserver::HttpServerConnectionDelegate,
    F: FnOnce() -> D + Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let io_loop = tornado::ioloop::IoLoop::new().unwrap();
        io_loop.run_sync(async move {
            let server = tornado::httpserver::HttpServer::new(make());
            server.listen(0, Some("127.0.0.1")).unwrap();
            tx.send(server.local_addrs()[0]).unwrap();
            std::future::pending::<()>().await;
        });
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the server did not start")
}

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

/// An example serving in a process of its own (with `RUST_LOG=info`), found at the
/// address of its `listening on http://ADDRESS/` log line; killed if still running
/// when dropped.
pub struct Served {
    child: Child,
    /// Where it listens (`127.0.0.1:PORT`).
    pub addr: String,
    log: Arc<Mutex<Vec<String>>>,
    reader: Option<thread::JoinHandle<()>>,
}

/// Starts example `name` with `args` (which should ask for `--port 0 --address
/// 127.0.0.1`) and waits, up to [`TIME_LIMIT`], until it says where it listens.
pub fn serve_example(name: &str, args: &[&str]) -> Served {
    let mut child = Command::new(example_binary(name))
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    let stderr = child.stderr.take().expect("stderr");
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let lines = log.clone();
    // Reads the log to its end, so the process never blocks on a full pipe.
    let reader = thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let _ = tx.send(rest.split('/').next().unwrap_or("").to_string());
            }
            lines.lock().expect("log").push(line);
        }
    });
    let addr = match rx.recv_timeout(TIME_LIMIT) {
        Ok(addr) => addr,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{name} did not say where it listens: {:?}",
                log.lock().expect("log")
            );
        }
    };
    Served {
        child,
        addr,
        log,
        reader: Some(reader),
    }
}

impl Served {
    /// Sends SIGTERM and waits, up to [`TIME_LIMIT`], for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        self.send_sigterm();
        self.wait_exit()
    }

    /// Sends SIGTERM (a graceful shutdown) without waiting.
    pub fn send_sigterm(&self) {
        // SAFETY: kill(2) on our own child's pid has no memory effects.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(rc, 0, "kill");
    }

    /// Waits, up to [`TIME_LIMIT`], for the process to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + TIME_LIMIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the example did not exit within {TIME_LIMIT:?}");
            }
            thread::sleep(Duration::from_millis(20));
        };
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        status
    }

    /// The log lines read so far (all of them after [`terminate`](Self::terminate)).
    pub fn log(&self) -> Vec<String> {
        self.log.lock().expect("log").clone()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
