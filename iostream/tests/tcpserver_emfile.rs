//! A TcpServer survives running out of file descriptors: accepting pauses, and the
//! connections waiting in the backlog are served once descriptors are free. Runs in a
//! child process (this binary re-run) because it lowers `RLIMIT_NOFILE`.

use std::cell::Cell;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tornado_ioloop::{IoLoop, sleep};
use tornado_iostream::IoStream;
use tornado_iostream::tcpserver::TcpServer;

mod common;
use common::emfile::{fill_fd_table, lower_fd_limit};

const CHILD_ENV: &str = "TORNADO_SERVER_EMFILE_CHILD";
const CLIENTS: usize = 4;

#[test]
#[ignore = "runs only as the child process of server_survives_emfile"]
fn server_emfile_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    lower_fd_limit(256);
    IoLoop::new()
        .unwrap()
        .run_sync_timeout(
            async {
                let accepted = Rc::new(Cell::new(0usize));
                let a = accepted.clone();
                let server = TcpServer::new(move |stream: IoStream, _peer: SocketAddr| {
                    a.set(a.get() + 1);
                    async move {
                        while let Ok(line) = stream.read_until(b"\n", Some(1024)).await {
                            if stream.write(&line).await.is_err() {
                                break;
                            }
                        }
                    }
                });
                server.listen(0, Some("127.0.0.1")).unwrap();
                let port = server.local_addrs()[0].port();
                // Connected through the backlog; the loop has not accepted them yet
                // when the descriptor table fills up.
                // Blocking connects: the loop gets no chance to accept in between.
                let clients: Vec<std::net::TcpStream> = (0..CLIENTS)
                    .map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).unwrap())
                    .collect();
                let filler = fill_fd_table();
                assert!(!filler.is_empty());
                sleep(Duration::from_millis(400)).await;
                assert_eq!(
                    accepted.get(),
                    0,
                    "nothing can be accepted without descriptors"
                );

                drop(filler);
                let streams: Vec<IoStream> = clients
                    .into_iter()
                    .map(|s| {
                        s.set_nonblocking(true).unwrap();
                        IoStream::new(mio::net::TcpStream::from_std(s)).unwrap()
                    })
                    .collect();
                for (i, s) in streams.iter().enumerate() {
                    let msg = format!("line {i}\n");
                    s.write(msg.as_bytes()).await.unwrap();
                    let reply = s.read_until(b"\n", None).await.unwrap();
                    assert_eq!(&reply[..], msg.as_bytes());
                }
                assert_eq!(accepted.get(), CLIENTS);
                server.stop();
                println!("SERVER-EMFILE-CHILD-OK");
            },
            Duration::from_secs(20),
        )
        .expect("child timed out");
}

#[test]
fn server_survives_emfile() {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "server_emfile_child",
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
    while child.try_wait().unwrap().is_none() {
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
        out.status.success() && stdout.contains("SERVER-EMFILE-CHILD-OK"),
        "child failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
}
