//! A fixed number of `GET`s with tornado's `AsyncHttpClient` or with reqwest, for
//! measuring the client's CPU per request (`benches/client_callgrind.py` runs it under
//! callgrind) and its heap allocations per request (counted here).
//!
//! `cargo run --release --example client_load -- --client tornado|reqwest
//!     --url http://127.0.0.1:8888/ [--mode sequential|concurrent] [--requests N]`
//!
//! `sequential` sends one request at a time on a keep-alive connection; `concurrent`
//! sends rounds of 100 at once (a task each, up to 100 pooled connections). Warm-up
//! requests come first (32, or two rounds), so connections are open and buffers at their
//! working size; then `N` requests are measured (`concurrent` rounds `N` up to a multiple
//! of 100). Prints one line: the client, the mode, the requests measured, the heap
//! allocations (and bytes asked for) on this thread while they ran, and the wall-clock
//! and CPU time (user + system, from `getrusage`) per request, which are only as steady
//! as the machine. Both clients run on this thread alone: tornado's on an `IoLoop` with
//! `max_clients` and `max_idle_per_host` at 100, reqwest (no default features) on a
//! tokio current-thread runtime, with no proxy. Run the server in another process (the
//! `hello` example).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Instant;

use tornado::httpclient::{AsyncHttpClient, ClientConfig};
use tornado::ioloop::{IoLoop, spawn};

const CONCURRENCY: usize = 100;
const WARM_UP_SEQUENTIAL: usize = 32;
const WARM_UP_ROUNDS: usize = 2;

struct Counting;

thread_local! {
    // `const`, and no destructor: the allocator may touch them at any time, even
    // while the thread starts or ends, without allocating itself.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<u64> = const { Cell::new(0) };
}

fn count(size: usize) {
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    let _ = BYTES.try_with(|n| n.set(n.get() + size as u64));
}

/// Allocations, and bytes asked for, so far on this thread.
fn allocations() -> (u64, u64) {
    (ALLOCATIONS.with(Cell::get), BYTES.with(Cell::get))
}

// SAFETY: every call forwards to the system allocator unchanged; counting touches only
// thread-local counters and has no effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Sequential,
    Concurrent,
}

struct Args {
    client: String,
    url: String,
    mode: Mode,
    requests: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        client: String::new(),
        url: String::new(),
        mode: Mode::Sequential,
        requests: 1000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--client" => args.client = value("--client")?,
            "--url" => args.url = value("--url")?,
            "--mode" => {
                args.mode = match value("--mode")?.as_str() {
                    "sequential" => Mode::Sequential,
                    "concurrent" => Mode::Concurrent,
                    other => return Err(format!("bad --mode {other:?}")),
                }
            }
            "--requests" => {
                let v = value("--requests")?;
                args.requests = v.parse().map_err(|_| format!("bad --requests {v:?}"))?;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if !matches!(args.client.as_str(), "tornado" | "reqwest") || args.url.is_empty() {
        return Err("usage: client_load --client tornado|reqwest --url URL \
                    [--mode sequential|concurrent] [--requests N]"
            .into());
    }
    Ok(args)
}

/// What the measured requests cost.
struct Figures {
    requests: usize,
    allocations: u64,
    bytes: u64,
    elapsed: std::time::Duration,
    /// User plus system CPU time of the process.
    cpu: std::time::Duration,
}

/// User plus system CPU time this process has used so far.
fn cpu_time() -> std::time::Duration {
    // SAFETY: getrusage only writes the struct it is given, which is zeroed and
    // ours; RUSAGE_SELF is a valid `who`.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    std::time::Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

async fn tornado_get(client: &AsyncHttpClient, url: &str) {
    let response = client.fetch(url).await.expect("tornado fetch failed");
    assert_eq!(response.code, 200);
    std::hint::black_box(response.body.len());
}

async fn reqwest_get(client: &reqwest::Client, url: &str) {
    let response = client.get(url).send().await.expect("reqwest send failed");
    assert_eq!(response.status(), 200);
    let body = response.bytes().await.expect("reqwest body failed");
    std::hint::black_box(body.len());
}

fn run_tornado(url: String, mode: Mode, rounds: usize, per_round: usize) -> Figures {
    let io_loop = IoLoop::new().expect("cannot make an IoLoop");
    io_loop.run_sync(async move {
        let client = AsyncHttpClient::with_config(ClientConfig {
            max_clients: CONCURRENCY,
            max_idle_per_host: CONCURRENCY,
            ..ClientConfig::default()
        });
        let round = |client: AsyncHttpClient, url: String| async move {
            if mode == Mode::Sequential {
                tornado_get(&client, &url).await;
                return;
            }
            let tasks: Vec<_> = (0..CONCURRENCY)
                .map(|_| {
                    let (client, url) = (client.clone(), url.clone());
                    spawn(async move { tornado_get(&client, &url).await })
                })
                .collect();
            for task in tasks {
                task.await.expect("a fetch task failed");
            }
        };
        let warm_up = match mode {
            Mode::Sequential => WARM_UP_SEQUENTIAL,
            Mode::Concurrent => WARM_UP_ROUNDS,
        };
        for _ in 0..warm_up {
            round(client.clone(), url.clone()).await;
        }
        let (a0, b0) = allocations();
        let (start, cpu0) = (Instant::now(), cpu_time());
        for _ in 0..rounds {
            round(client.clone(), url.clone()).await;
        }
        let (elapsed, cpu) = (start.elapsed(), cpu_time() - cpu0);
        let (a1, b1) = allocations();
        Figures {
            requests: rounds * per_round,
            allocations: a1 - a0,
            bytes: b1 - b0,
            elapsed,
            cpu,
        }
    })
}

fn run_reqwest(url: String, mode: Mode, rounds: usize, per_round: usize) -> Figures {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("cannot make a tokio runtime");
    rt.block_on(async move {
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("cannot make a reqwest client");
        let round = |client: reqwest::Client, url: String| async move {
            if mode == Mode::Sequential {
                reqwest_get(&client, &url).await;
                return;
            }
            let tasks: Vec<_> = (0..CONCURRENCY)
                .map(|_| {
                    let (client, url) = (client.clone(), url.clone());
                    tokio::spawn(async move { reqwest_get(&client, &url).await })
                })
                .collect();
            for task in tasks {
                task.await.expect("a fetch task failed");
            }
        };
        let warm_up = match mode {
            Mode::Sequential => WARM_UP_SEQUENTIAL,
            Mode::Concurrent => WARM_UP_ROUNDS,
        };
        for _ in 0..warm_up {
            round(client.clone(), url.clone()).await;
        }
        let (a0, b0) = allocations();
        let (start, cpu0) = (Instant::now(), cpu_time());
        for _ in 0..rounds {
            round(client.clone(), url.clone()).await;
        }
        let (elapsed, cpu) = (start.elapsed(), cpu_time() - cpu0);
        let (a1, b1) = allocations();
        Figures {
            requests: rounds * per_round,
            allocations: a1 - a0,
            bytes: b1 - b0,
            elapsed,
            cpu,
        }
    })
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let (rounds, per_round) = match args.mode {
        Mode::Sequential => (args.requests, 1),
        Mode::Concurrent => (args.requests.div_ceil(CONCURRENCY), CONCURRENCY),
    };
    let mode_name = match args.mode {
        Mode::Sequential => "sequential",
        Mode::Concurrent => "concurrent",
    };
    let f = if args.client == "tornado" {
        run_tornado(args.url, args.mode, rounds, per_round)
    } else {
        run_reqwest(args.url, args.mode, rounds, per_round)
    };
    let n = f.requests.max(1) as f64;
    println!(
        "client={} mode={mode_name} requests={} allocations={} alloc_bytes={} \
         allocations_per_request={:.2} alloc_bytes_per_request={:.0} us_per_request={:.2} \
         cpu_us_per_request={:.2}",
        args.client,
        f.requests,
        f.allocations,
        f.bytes,
        f.allocations as f64 / n,
        f.bytes as f64 / n,
        f.elapsed.as_secs_f64() * 1e6 / n,
        f.cpu.as_secs_f64() * 1e6 / n,
    );
}
