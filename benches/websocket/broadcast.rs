//! Broadcast to many open sockets: the server runs in a child process (this bench's
//! own executable with `--serve-broadcast NAME`), the clients in this one, so that
//! neither holds more than the 20,000 descriptors a process may have here.
//!
//! The clients open their WebSockets one after the other (blocking handshakes, from
//! four loopback source addresses so ports never run short) and then wait, each in
//! a mio loop on this thread. Each round, the first client sends `broadcast N`; the
//! server writes it to every member, the first client included; the round's time is
//! from that send until the last client has the whole frame. Beside it: the server's
//! CPU time over the round (its one thread's `schedstat`), the clients' (this
//! thread's: when it is as long as the round, the clients set the pace, not the
//! server), and the server's memory per open socket (RSS growth over the
//! connections, measured after they opened and before the first broadcast).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mio::net::TcpStream as MioStream;
use mio::{Events, Interest, Poll, Token};

use crate::client::{FrameReader, handshake, masked_frame};
use crate::servers::{self, Server};
use crate::{median, pin_this_thread, pinning, schedstat};

/// How long one round may take before the bench gives up.
const ROUND_TIMEOUT: Duration = Duration::from_secs(30);

/// The child's side: runs `server`'s broadcast server and prints its port.
pub fn serve(server: Server) {
    servers::run_broadcast(server, 0, |addr| {
        let mut out = io::stdout();
        let _ = writeln!(out, "{}", addr.port());
        let _ = out.flush();
    });
}

/// The server process, killed when dropped.
struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}

struct Figures {
    server: Server,
    rounds_ms: Vec<f64>,
    cpu_ms: Vec<f64>,
    client_ms: Vec<f64>,
    bytes_per_socket: f64,
}

fn one_server(server: Server, clients: usize, broadcasts: usize) -> io::Result<Figures> {
    let exe = std::env::current_exe()?;
    // Server on CPU 0, clients on CPU 1, as ../shared/peers/compare.py pins them, when
    // `taskset` is there: else a client woken on the server's core takes turns with it.
    let pin = pinning();
    let mut command = if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"]).arg(exe);
        c
    } else {
        Command::new(exe)
    };
    let mut child = command
        .args(["--serve-broadcast", server.name()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().expect("piped");
    let child = ServerProcess(child);
    let pid = child.0.id();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let port: u16 = line
        .trim()
        .parse()
        .map_err(|_| io::Error::other(format!("the server printed {line:?}")))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    if pin {
        pin_this_thread(1);
    }
    let cpu = || schedstat(format!("/proc/{pid}/task/{pid}/schedstat").as_ref());

    std::thread::sleep(Duration::from_millis(200));
    let rss_before = rss(pid);
    let poll = Poll::new()?;
    let mut conns = Vec::with_capacity(clients);
    for i in 0..clients {
        let source = SocketAddr::from(([127, 0, 0, 2 + (i % 4) as u8], 0));
        let stream = handshake(addr, Some(source))?;
        stream.set_nonblocking(true)?;
        let mut stream = MioStream::from_std(stream);
        poll.registry()
            .register(&mut stream, Token(i), Interest::READABLE)?;
        conns.push((stream, FrameReader::default(), 0usize));
    }
    std::thread::sleep(Duration::from_millis(500));
    let rss_after = rss(pid);
    eprintln!(
        "broadcast {:14} {clients} sockets open, server RSS {} -> {} bytes",
        server.name(),
        rss_before,
        rss_after
    );

    let mut poll = poll;
    let mut events = Events::with_capacity(4096);
    let mut buf = vec![0u8; 16 * 1024];
    let (mut rounds_ms, mut cpu_ms, mut client_ms) = (Vec::new(), Vec::new(), Vec::new());
    let client_cpu = || schedstat("/proc/thread-self/schedstat".as_ref());
    for round in 0..broadcasts {
        let frame = masked_frame(true, format!("broadcast {round}").as_bytes());
        let (cpu0, client0) = (cpu(), client_cpu());
        let start = Instant::now();
        conns[0].0.write_all(&frame)?;
        let mut got = 0;
        while got < clients {
            if start.elapsed() > ROUND_TIMEOUT {
                return Err(io::Error::other(format!(
                    "{got} of {clients} clients had the message after {ROUND_TIMEOUT:?}"
                )));
            }
            poll.poll(&mut events, Some(Duration::from_millis(100)))?;
            for event in events.iter() {
                let (stream, reader, count) = &mut conns[event.token().0];
                loop {
                    match stream.read(&mut buf) {
                        Ok(0) => return Err(io::Error::other("the server closed a socket")),
                        Ok(n) => {
                            reader.feed(&buf[..n], |op| {
                                if op == 1 {
                                    *count += 1;
                                    got += 1;
                                }
                            });
                            if n < buf.len() {
                                break;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        let elapsed = start.elapsed();
        let used = cpu().saturating_sub(cpu0);
        let client_used = client_cpu().saturating_sub(client0);
        if let Some(i) = conns.iter().position(|c| c.2 != round + 1) {
            return Err(io::Error::other(format!(
                "client {i} had {} messages after round {}",
                conns[i].2,
                round + 1
            )));
        }
        eprintln!(
            "broadcast {:14} round {}: {:.1} ms, server CPU {:.1} ms, clients' CPU {:.1} ms",
            server.name(),
            round + 1,
            elapsed.as_secs_f64() * 1e3,
            used.as_secs_f64() * 1e3,
            client_used.as_secs_f64() * 1e3
        );
        rounds_ms.push(elapsed.as_secs_f64() * 1e3);
        cpu_ms.push(used.as_secs_f64() * 1e3);
        client_ms.push(client_used.as_secs_f64() * 1e3);
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(child);
    Ok(Figures {
        server,
        rounds_ms,
        cpu_ms,
        client_ms,
        bytes_per_socket: rss_after.saturating_sub(rss_before) as f64 / clients as f64,
    })
}

/// Measures each server that has a broadcast server (ours, tokio-tungstenite) and
/// prints the table.
pub fn run(servers: &[Server], clients: usize, broadcasts: usize) {
    let mut all = Vec::new();
    for &server in servers {
        if server == Server::Fastwebsockets {
            continue;
        }
        match one_server(server, clients, broadcasts) {
            Ok(f) => all.push(f),
            Err(e) => panic!("broadcast against {}: {e}", server.name()),
        }
    }
    println!(
        "\nbroadcast: one message to {clients} open sockets, time until every client has it \
         (medians of {broadcasts} broadcasts)\n"
    );
    println!(
        "| server | sockets | fan-out ms | server CPU ms | clients' CPU ms | bytes per open socket |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for f in all {
        println!(
            "| {} | {clients} | {:.1} | {:.1} | {:.1} | {:.0} |",
            f.server.name(),
            median(f.rounds_ms),
            median(f.cpu_ms),
            median(f.client_ms),
            f.bytes_per_socket
        );
    }
}
