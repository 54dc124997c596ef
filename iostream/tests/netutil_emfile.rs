//! The accept loop survives running out of file descriptors (`EMFILE`).
//!
//! The real test runs in a child process (this test binary, re-run with an environment
//! variable) because it lowers `RLIMIT_NOFILE` and fills the descriptor table, which would
//! break every other test running in the same process.

use std::cell::Cell;
use std::io::Read;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tornado_ioloop::{IoLoop, sleep};
use tornado_iostream::netutil::{
    ACCEPT_PAUSE_MIN, AddressFamily, DEFAULT_BACKLOG, add_accept_handler, bind_sockets,
};

mod common;
use common::emfile::{fill_fd_table, lower_fd_limit};

const CHILD_ENV: &str = "TORNADO_EMFILE_CHILD";
const CLIENTS: usize = 5;

/// Collects log messages so the child can check what the accept loop logged.
struct Capture;
static LOGGED: Mutex<Vec<String>> = Mutex::new(Vec::new());

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        if record.level() <= log::Level::Warn {
            LOGGED
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

fn logged() -> Vec<String> {
    LOGGED.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

#[test]
#[ignore = "runs only as the child process of accept_survives_emfile"]
fn emfile_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Debug);
    lower_fd_limit(256);
    let io_loop = IoLoop::new().unwrap();
    io_loop
        .run_sync_timeout(
            async {
                let listener = mio::net::TcpListener::from_std(
                    bind_sockets(
                        0,
                        Some("127.0.0.1"),
                        AddressFamily::Inet,
                        DEFAULT_BACKLOG,
                        false,
                    )
                    .unwrap()
                    .remove(0),
                );
                let addr = listener.local_addr().unwrap();
                let served = Rc::new(Cell::new(0usize));
                let s = served.clone();
                let handle = add_accept_handler(listener, move |mut stream, _peer| {
                    // Serve: one byte, then close.
                    let _ = std::io::Write::write(&mut stream, b"x");
                    s.set(s.get() + 1);
                })
                .unwrap();

                // The clients connect through the backlog while descriptors remain...
                let clients: Vec<TcpStream> = (0..CLIENTS)
                    .map(|_| TcpStream::connect(addr).unwrap())
                    .collect();
                // ...then the table fills before the loop gets to accept them.
                let filler = fill_fd_table();
                let started = Instant::now();
                sleep(ACCEPT_PAUSE_MIN / 2).await;
                assert!(handle.is_paused(), "accepting pauses after EMFILE");
                assert_eq!(served.get(), 0);
                // Several failed attempts over ~700 ms, one log line (rate limit).
                sleep(Duration::from_millis(700)).await;
                assert_eq!(served.get(), 0);
                let messages = logged();
                let emfile: Vec<_> = messages
                    .iter()
                    .filter(|m| m.contains("accept failed"))
                    .collect();
                assert_eq!(emfile.len(), 1, "{messages:?}");
                assert!(emfile[0].contains("pausing"), "{messages:?}");
                // After the log interval, the next error is logged with a count.
                sleep(Duration::from_millis(1100).saturating_sub(started.elapsed())).await;
                while logged()
                    .iter()
                    .filter(|m| m.contains("accept failed"))
                    .count()
                    < 2
                {
                    sleep(Duration::from_millis(50)).await;
                }
                let messages = logged();
                assert!(
                    messages
                        .iter()
                        .any(|m| m.contains("similar errors not logged")),
                    "{messages:?}"
                );

                // Free the descriptors: the waiting connections are accepted and served.
                drop(filler);
                while served.get() < CLIENTS {
                    sleep(Duration::from_millis(10)).await;
                }
                assert!(!handle.is_paused());
                for mut c in clients {
                    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    let mut b = [0u8; 1];
                    c.read_exact(&mut b).unwrap();
                    assert_eq!(&b, b"x");
                }
                // And new ones too.
                let mut late = TcpStream::connect(addr).unwrap();
                while served.get() < CLIENTS + 1 {
                    sleep(Duration::from_millis(10)).await;
                }
                late.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut b = [0u8; 1];
                late.read_exact(&mut b).unwrap();
                assert_eq!(served.get(), CLIENTS + 1);
                println!("EMFILE-CHILD-OK");
            },
            Duration::from_secs(20),
        )
        .expect("child timed out");
}

#[test]
fn accept_survives_emfile() {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "emfile_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the EMFILE child process hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("EMFILE-CHILD-OK"),
        "child failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
}
