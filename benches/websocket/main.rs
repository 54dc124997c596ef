//! WebSocket servers side by side, without compression, in one run: ours
//! (`WebSocketHandler`), tokio-tungstenite and fastwebsockets, each on one thread
//! (tokio's current-thread runtime for the peers, as ours runs one `IoLoop`), driven
//! by the same raw-frame client (`client.rs`) on another thread:
//!
//! * `echo`: 100 connections, each with one 32-byte text message in flight, sending
//!   the next when its echo is back: round trips per second;
//! * `throughput`: 16 KiB binary messages (another size with `--size BYTES`) streamed
//!   on one connection with 16 in flight (256 KiB): echoed MB/s (10^6 bytes);
//! * `broadcast`: 10,000 open sockets (the server in a child process, the clients in
//!   this one, since one process may hold 20,000 descriptors), one message written to
//!   every member; the time until each client has it (`broadcast.rs`).
//!
//! Beside each rate, the server thread's CPU time (user + system, from
//! `/proc/self/task/TID/schedstat`) per message: on a shared machine it moves less
//! than the rate does. With two CPUs or more and `taskset`, the servers are pinned to
//! CPU 0 and the clients to CPU 1, as `../shared/peers/compare.py` pins wrk.
//!
//! ```text
//! cargo bench --bench websocket [-- [echo] [throughput] [broadcast]
//!     [--seconds S] [--rounds R] [--servers ours,tungstenite,fastwebsockets]
//!     [--clients N] [--broadcasts B] [--size BYTES]]
//! ```
//!
//! `--serve NAME --port P` runs one echo server alone in the foreground, for
//! `benches/websocket_callgrind.py`.

mod broadcast;
mod client;
mod servers;

use std::net::SocketAddr;
use std::time::Duration;

use client::Load;
use servers::Server;

const ECHO: Load = Load {
    conns: 100,
    in_flight: 1,
    size: 32,
    text: true,
};

const THROUGHPUT: Load = Load {
    conns: 1,
    in_flight: 16,
    size: 16 * 1024,
    text: false,
};

const WARMUP: Duration = Duration::from_millis(500);

#[derive(Debug)]
struct Args {
    workloads: Vec<String>,
    seconds: f64,
    rounds: usize,
    servers: Vec<Server>,
    clients: usize,
    broadcasts: usize,
    serve: Option<Server>,
    serve_broadcast: Option<Server>,
    port: u16,
    /// The throughput workload's message size (`--size`, bytes).
    size: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        workloads: Vec::new(),
        seconds: 3.0,
        rounds: 5,
        servers: Server::ALL.to_vec(),
        clients: 10_000,
        broadcasts: 5,
        serve: None,
        serve_broadcast: None,
        port: 0,
        size: THROUGHPUT.size,
    };
    let servers = |v: String| -> Result<Vec<Server>, String> {
        v.split(',')
            .map(|n| Server::parse(n).ok_or(format!("unknown server {n:?}")))
            .collect()
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            // What `cargo bench` passes to every bench.
            "--bench" => {}
            "--seconds" => args.seconds = value()?.parse().map_err(|e| format!("{e}"))?,
            "--rounds" => args.rounds = value()?.parse().map_err(|e| format!("{e}"))?,
            "--clients" => args.clients = value()?.parse().map_err(|e| format!("{e}"))?,
            "--broadcasts" => args.broadcasts = value()?.parse().map_err(|e| format!("{e}"))?,
            "--port" => args.port = value()?.parse().map_err(|e| format!("{e}"))?,
            "--size" => match value()?.parse() {
                Ok(n) if n > 0 => args.size = n,
                _ => return Err("--size needs a positive number of bytes".into()),
            },
            "--servers" => args.servers = servers(value()?)?,
            "--serve" => args.serve = Some(servers(value()?)?[0]),
            "--serve-broadcast" => args.serve_broadcast = Some(servers(value()?)?[0]),
            "echo" | "throughput" | "broadcast" => args.workloads.push(a),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.workloads.is_empty() {
        args.workloads = vec!["echo".into(), "throughput".into(), "broadcast".into()];
    }
    Ok(args)
}

/// Reads a thread's CPU time (user + system, nanoseconds) from
/// `/proc/self/task/TID/schedstat`, finding the thread by its name.
fn thread_cpu(name: &str) -> impl Fn() -> Duration + use<> {
    let path = format!("/proc/self/task/{}/schedstat", thread_id(name));
    move || schedstat(path.as_ref())
}

/// Whether to pin the servers to CPU 0 and the clients to CPU 1 (as
/// `../shared/peers/compare.py` does): two CPUs or more, and `taskset` works.
fn pinning() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
        && std::process::Command::new("taskset")
            .args(["-c", "0", "true"])
            .output()
            .is_ok_and(|o| o.status.success())
}

/// Pins a thread of this process (by its id) to `cpu`.
fn pin_thread(tid: &str, cpu: usize) {
    let _ = std::process::Command::new("taskset")
        .args(["-cp", &cpu.to_string(), tid])
        .output();
}

/// Pins the calling thread to `cpu`.
fn pin_this_thread(cpu: usize) {
    if let Ok(link) = std::fs::read_link("/proc/thread-self")
        && let Some(tid) = link.file_name().and_then(|t| t.to_str())
    {
        pin_thread(tid, cpu);
    }
}

/// The id of this process's thread named `name`.
fn thread_id(name: &str) -> String {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim_end() == name)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .unwrap_or_else(|| panic!("no thread named {name}"))
}

fn schedstat(path: &std::path::Path) -> Duration {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Per server: (messages per second, server CPU µs per message) of each round.
type Figures = Vec<(Server, Vec<f64>, Vec<f64>)>;

fn measure(args: &Args, addrs: &[(Server, SocketAddr)], load: Load, name: &str) -> Figures {
    let mut figures: Figures = args
        .servers
        .iter()
        .map(|&s| (s, Vec::new(), Vec::new()))
        .collect();
    let window = Duration::from_secs_f64(args.seconds);
    for round in 0..args.rounds {
        // A different server goes first in each round.
        for k in 0..addrs.len() {
            let i = (k + round) % addrs.len();
            let (server, addr) = addrs[i];
            let cpu = thread_cpu(server.thread_name());
            let s = client::run(addr, load, WARMUP, window, cpu)
                .unwrap_or_else(|e| panic!("{name} against {}: {e}", server.name()));
            let rate = s.messages as f64 / s.elapsed.as_secs_f64();
            let cpu_us = s.server_cpu.as_secs_f64() * 1e6 / s.messages as f64;
            eprintln!(
                "round {} {name:10} {:14} {:>12.0} messages/s  {:>8.0} MB/s  server CPU {cpu_us:.2} µs/message",
                round + 1,
                server.name(),
                rate,
                rate * load.size as f64 / 1e6,
            );
            figures[i].1.push(rate);
            figures[i].2.push(cpu_us);
        }
    }
    figures
}

fn table(title: &str, unit: &str, scale: f64, figures: &Figures) {
    println!("\n{title}\n");
    println!("| server | {unit} | server CPU µs/message | × ours (rate) |");
    println!("|---|---:|---:|---:|");
    let ours = figures
        .iter()
        .find(|f| f.0 == Server::Ours)
        .map(|f| median(f.1.clone()));
    for (server, rates, cpu) in figures {
        let rate = median(rates.clone());
        let ratio = ours.map_or("-".into(), |o| format!("{:.2}", rate / o));
        println!(
            "| {} | {:.0} | {:.2} | {ratio} |",
            server.name(),
            rate * scale,
            median(cpu.clone())
        );
    }
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("websocket bench: {e}");
            std::process::exit(2);
        }
    };
    if let Some(server) = args.serve {
        servers::run_echo(server, args.port, |addr| println!("{}", addr.port()));
        return;
    }
    if let Some(server) = args.serve_broadcast {
        broadcast::serve(server);
        return;
    }
    let rounds = args.rounds;
    let echo_servers = args.workloads.iter().any(|w| w != "broadcast");
    let addrs: Vec<_> = if echo_servers {
        args.servers
            .iter()
            .map(|&s| (s, servers::spawn_echo(s)))
            .collect()
    } else {
        Vec::new()
    };
    if echo_servers && pinning() {
        for &(server, _) in &addrs {
            pin_thread(&thread_id(server.thread_name()), 0);
        }
        pin_this_thread(1);
    }
    if args.workloads.iter().any(|w| w == "echo") {
        let f = measure(&args, &addrs, ECHO, "echo");
        table(
            &format!(
                "echo: {} connections, one {}-byte text message in flight each \
                 (medians of {rounds} rounds of {} s)",
                ECHO.conns, ECHO.size, args.seconds
            ),
            "round trips/s",
            1.0,
            &f,
        );
    }
    if args.workloads.iter().any(|w| w == "throughput") {
        let load = Load {
            size: args.size,
            ..THROUGHPUT
        };
        let f = measure(&args, &addrs, load, "throughput");
        table(
            &format!(
                "throughput: {}-byte binary messages, {} connection(s), {} in flight each \
                 (medians of {rounds} rounds of {} s)",
                load.size, load.conns, load.in_flight, args.seconds
            ),
            "echoed MB/s",
            load.size as f64 / 1e6,
            &f,
        );
    }
    if args.workloads.iter().any(|w| w == "broadcast") {
        broadcast::run(&args.servers, args.clients, args.broadcasts);
    }
}
