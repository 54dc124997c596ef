//! IoLoop against tokio's current-thread runtime, doing the same work:
//! callbacks run per second, timers scheduled and cancelled, and task wake→poll cycles.
//!
//! `cargo bench --bench ioloop`

use std::cell::Cell;
use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tornado::ioloop::IoLoop;

const N: u64 = 10_000;

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn callbacks(c: &mut Criterion) {
    let mut g = c.benchmark_group("callbacks");
    g.throughput(Throughput::Elements(N));

    let io_loop = IoLoop::new().unwrap();
    g.bench_function("tornado add_callback", |b| {
        b.iter(|| {
            let count = Rc::new(Cell::new(0u64));
            for _ in 0..N {
                let c = count.clone();
                io_loop.add_callback(move || c.set(c.get() + 1));
            }
            let l = io_loop.clone();
            io_loop.add_callback(move || l.stop());
            io_loop.start();
            assert_eq!(count.get(), N);
        })
    });

    let rt = tokio_rt();
    g.bench_function("tokio spawn_local", |b| {
        b.iter(|| {
            let local = tokio::task::LocalSet::new();
            let count = Rc::new(Cell::new(0u64));
            for _ in 0..N {
                let c = count.clone();
                local.spawn_local(async move { c.set(c.get() + 1) });
            }
            rt.block_on(local);
            assert_eq!(count.get(), N);
        })
    });
    g.finish();
}

/// Polls a future once and drops it: enough for a tokio `Sleep` to register its timer
/// and then cancel it.
struct PollOnce<F>(Option<Pin<Box<F>>>);

impl<F: Future> Future for PollOnce<F> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(mut f) = self.0.take() {
            let _ = f.as_mut().poll(cx);
        }
        Poll::Ready(())
    }
}

fn timers(c: &mut Criterion) {
    let mut g = c.benchmark_group("timer schedule+cancel");
    g.throughput(Throughput::Elements(N));

    let io_loop = IoLoop::new().unwrap();
    g.bench_function("tornado call_later+remove_timeout", |b| {
        b.iter(|| {
            for i in 0..N {
                let h = io_loop.call_later(Duration::from_millis(1000 + i), || {});
                black_box(io_loop.remove_timeout(h));
            }
        })
    });

    let rt = tokio_rt();
    g.bench_function("tokio sleep register+drop", |b| {
        b.iter(|| {
            rt.block_on(async {
                for i in 0..N {
                    let s = tokio::time::sleep(Duration::from_millis(1000 + i));
                    PollOnce(Some(Box::pin(s))).await;
                }
            })
        })
    });
    g.finish();
}

fn wake_poll(c: &mut Criterion) {
    let mut g = c.benchmark_group("task wake->poll");
    g.throughput(Throughput::Elements(N));

    let io_loop = IoLoop::new().unwrap();
    g.bench_function("tornado yield_now", |b| {
        b.iter(|| {
            io_loop.run_sync(async {
                for _ in 0..N {
                    tornado::ioloop::yield_now().await;
                }
            })
        })
    });

    let rt = tokio_rt();
    g.bench_function("tokio yield_now", |b| {
        b.iter(|| {
            rt.block_on(async {
                for _ in 0..N {
                    tokio::task::yield_now().await;
                }
            })
        })
    });
    g.finish();
}

criterion_group!(benches, callbacks, timers, wake_poll);
criterion_main!(benches);
