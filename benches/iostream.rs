//! IoStream against tokio's `TcpStream` on a current-thread runtime, doing the same work
//! over loopback TCP, both ends on one thread:
//!
//! * `bulk`: 8 MiB per iteration in 64 KiB writes, read in 64 KiB reads (MB/s);
//! * `echo`: 64-byte request, 64-byte reply round trips.
//!
//! `cargo bench --bench iostream`

use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tornado::ioloop::{IoLoop, spawn};
use tornado::iostream::IoStream;

#[path = "../iostream/tests/common/mod.rs"]
mod common;

const BULK: usize = 8 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;
const MSG: usize = 64;
const ROUND_TRIPS: u64 = 1000;

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The stream tests' connected pair on 127.0.0.1, without Nagle's delay.
async fn tornado_pair() -> (IoStream, IoStream) {
    let (client, server) = common::tcp_pair().await;
    client.set_nodelay(true).unwrap();
    server.set_nodelay(true).unwrap();
    (client, server)
}

async fn tokio_pair() -> (tokio::net::TcpStream, tokio::net::TcpStream) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    client.set_nodelay(true).unwrap();
    server.set_nodelay(true).unwrap();
    (client, server)
}

fn bulk(c: &mut Criterion) {
    let mut g = c.benchmark_group("bulk");
    g.throughput(Throughput::Bytes(BULK as u64));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(4));

    let io_loop = IoLoop::new().unwrap();
    let (a, b) = io_loop.run_sync(tornado_pair());
    let chunk = Bytes::from(vec![0x5au8; CHUNK]);
    g.bench_function("tornado IoStream", |bench| {
        bench.iter_custom(|iters| {
            let (a, b, chunk) = (a.clone(), b.clone(), chunk.clone());
            io_loop.run_sync(async move {
                let start = Instant::now();
                for _ in 0..iters {
                    let writer = spawn({
                        let (a, chunk) = (a.clone(), chunk.clone());
                        async move {
                            let mut last = None;
                            for _ in 0..BULK / CHUNK {
                                last = Some(a.write_bytes(chunk.clone()));
                            }
                            if let Some(w) = last {
                                w.await.unwrap();
                            }
                        }
                    });
                    let mut buf = vec![0u8; CHUNK];
                    let mut got = 0;
                    while got < BULK {
                        got += b.read_into(&mut buf, true).await.unwrap();
                    }
                    writer.await.unwrap();
                }
                start.elapsed()
            })
        })
    });

    let rt = tokio_rt();
    let (ta, tb) = rt.block_on(tokio_pair());
    let (mut ta, mut tb) = (Some(ta), Some(tb));
    g.bench_function("tokio TcpStream", |bench| {
        bench.iter_custom(|iters| {
            let (mut a, mut b) = (ta.take().unwrap(), tb.take().unwrap());
            let (elapsed, a, b) = rt.block_on(async move {
                let start = Instant::now();
                for _ in 0..iters {
                    let writer = tokio::spawn(async move {
                        let chunk = vec![0x5au8; CHUNK];
                        for _ in 0..BULK / CHUNK {
                            a.write_all(&chunk).await.unwrap();
                        }
                        a
                    });
                    let mut buf = vec![0u8; CHUNK];
                    let mut got = 0;
                    while got < BULK {
                        got += b.read(&mut buf).await.unwrap();
                    }
                    a = writer.await.unwrap();
                }
                (start.elapsed(), a, b)
            });
            ta = Some(a);
            tb = Some(b);
            elapsed
        })
    });
    g.finish();
}

fn echo(c: &mut Criterion) {
    let mut g = c.benchmark_group("echo");
    g.throughput(Throughput::Elements(ROUND_TRIPS));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(4));

    let io_loop = IoLoop::new().unwrap();
    let (a, b) = io_loop.run_sync(tornado_pair());
    // The echo server: one task per connection, as a Tornado handler would be.
    io_loop.spawn_callback(async move {
        while let Ok(msg) = b.read_bytes(MSG, false).await {
            if b.write_bytes(msg).await.is_err() {
                break;
            }
        }
    });
    g.bench_function("tornado IoStream", |bench| {
        bench.iter_custom(|iters| {
            let a = a.clone();
            io_loop.run_sync(async move {
                let msg = [7u8; MSG];
                let mut buf = [0u8; MSG];
                let start = Instant::now();
                for _ in 0..iters * ROUND_TRIPS {
                    drop(a.write(&msg));
                    a.read_into(&mut buf, false).await.unwrap();
                }
                start.elapsed()
            })
        })
    });

    let rt = tokio_rt();
    let (ta, mut tb) = rt.block_on(tokio_pair());
    rt.spawn(async move {
        let mut buf = [0u8; MSG];
        while tb.read_exact(&mut buf).await.is_ok() {
            if tb.write_all(&buf).await.is_err() {
                break;
            }
        }
    });
    let mut ta = Some(ta);
    g.bench_function("tokio TcpStream", |bench| {
        bench.iter_custom(|iters| {
            let mut a = ta.take().unwrap();
            let (elapsed, a) = rt.block_on(async move {
                let msg = [7u8; MSG];
                let mut buf = [0u8; MSG];
                let start = Instant::now();
                for _ in 0..iters * ROUND_TRIPS {
                    a.write_all(&msg).await.unwrap();
                    a.read_exact(&mut buf).await.unwrap();
                }
                (start.elapsed(), a)
            });
            ta = Some(a);
            elapsed
        })
    });
    g.finish();
}

criterion_group!(benches, bulk, echo);
criterion_main!(benches);
