//! `AsyncHttpClient` against reqwest, doing the same work against one local server in the
//! same run:
//!
//! * `sequential_keepalive`: one `GET` per iteration on a reused keep-alive connection;
//! * `concurrent_100`: 100 `GET`s in flight at once per iteration (a task each), on up
//!   to 100 pooled connections.
//!
//! The server is our `HttpServer` answering `Hello, world` (the `hello` example's
//! handler) on 127.0.0.1:0, on its own thread with its own `IoLoop`, so the client under
//! test has the other core. Tornado's client runs on an `IoLoop` with `max_clients` and
//! `max_idle_per_host` at 100 (reqwest keeps any number of idle connections per host);
//! reqwest (no default features: HTTP/1.1 only, no TLS, no proxy) runs on a tokio
//! current-thread runtime. Both read the whole body.
//!
//! `cargo bench --bench httpclient`
//!
//! Client CPU per request, measured deterministically: `benches/client_callgrind.py`.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tornado::httpclient::{AsyncHttpClient, ClientConfig};
use tornado::httpserver::{HttpServer, Response};
use tornado::httputil::HttpServerRequest;
use tornado::ioloop::{IoLoop, spawn};

const CONCURRENCY: usize = 100;

/// Starts the server on its own thread; it runs until the process exits.
fn start_server() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("hello-server".into())
        .spawn(move || {
            let io_loop = IoLoop::new().unwrap();
            io_loop.run_sync(async move {
                let server = HttpServer::new(|_req: HttpServerRequest| async {
                    Response::text("Hello, world")
                });
                server.listen(0, Some("127.0.0.1")).unwrap();
                tx.send(server.local_addrs()[0]).unwrap();
                std::future::pending::<()>().await;
            });
        })
        .unwrap();
    rx.recv().unwrap()
}

fn tornado_client(io_loop: &IoLoop) -> AsyncHttpClient {
    io_loop.run_sync(async {
        AsyncHttpClient::with_config(ClientConfig {
            max_clients: CONCURRENCY,
            max_idle_per_host: CONCURRENCY,
            ..ClientConfig::default()
        })
    })
}

fn reqwest_client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn tornado_get(client: &AsyncHttpClient, url: &str) -> usize {
    let response = client.fetch(url).await.unwrap();
    assert_eq!(response.code, 200);
    response.body.len()
}

async fn reqwest_get(client: &reqwest::Client, url: &str) -> usize {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap().len()
}

fn sequential_keepalive(c: &mut Criterion, url: &str) {
    let mut g = c.benchmark_group("sequential_keepalive");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(5));

    let io_loop = IoLoop::new().unwrap();
    let client = tornado_client(&io_loop);
    g.bench_function("tornado", |b| {
        b.iter_custom(|iters| {
            let (client, url) = (client.clone(), url.to_owned());
            io_loop.run_sync(async move {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(tornado_get(&client, &url).await);
                }
                start.elapsed()
            })
        })
    });

    let rt = tokio_rt();
    let client = reqwest_client();
    g.bench_function("reqwest", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(reqwest_get(&client, url).await);
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

fn concurrent_100(c: &mut Criterion, url: &str) {
    let mut g = c.benchmark_group("concurrent_100");
    g.throughput(Throughput::Elements(CONCURRENCY as u64));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(5));

    let io_loop = IoLoop::new().unwrap();
    let client = tornado_client(&io_loop);
    g.bench_function("tornado", |b| {
        b.iter_custom(|iters| {
            let (client, url) = (client.clone(), url.to_owned());
            io_loop.run_sync(async move {
                let start = Instant::now();
                for _ in 0..iters {
                    let tasks: Vec<_> = (0..CONCURRENCY)
                        .map(|_| {
                            let (client, url) = (client.clone(), url.clone());
                            spawn(async move { tornado_get(&client, &url).await })
                        })
                        .collect();
                    for task in tasks {
                        black_box(task.await.unwrap());
                    }
                }
                start.elapsed()
            })
        })
    });

    let rt = tokio_rt();
    let client = reqwest_client();
    g.bench_function("reqwest", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let tasks: Vec<_> = (0..CONCURRENCY)
                        .map(|_| {
                            let (client, url) = (client.clone(), url.to_owned());
                            tokio::spawn(async move { reqwest_get(&client, &url).await })
                        })
                        .collect();
                    for task in tasks {
                        black_box(task.await.unwrap());
                    }
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    let url = format!("http://{}/", start_server());
    sequential_keepalive(c, &url);
    concurrent_100(c, &url);
}

criterion_group!(httpclient, benches);
criterion_main!(httpclient);
