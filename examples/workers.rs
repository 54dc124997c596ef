//! A producer feeds a bounded queue; several workers take jobs from it, at most a few at
//! a time thanks to a semaphore; a periodic callback prints progress; the producer waits
//! for `queue.join()` and the program exits.
//!
//! ```text
//! cargo run --example workers
//! RUST_LOG=debug cargo run --example workers   # also log each job
//! ```

use std::cell::Cell;
use std::error::Error;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tornado::coroutine::sleep;
use tornado::ioloop::{IoLoop, PeriodicCallback, spawn};
use tornado::locks::Semaphore;
use tornado::queues::Queue;

/// Jobs the producer makes.
const JOBS: u64 = 60;
/// Worker tasks taking jobs from the queue.
const WORKERS: usize = 8;
/// Workers allowed to process a job at the same time.
const CONCURRENCY: usize = 3;
/// Jobs the queue holds before the producer has to wait.
const QUEUE_SIZE: usize = 5;
/// How often progress is printed.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);
/// Give up if the whole run takes longer than this.
const DEADLINE: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Stats {
    produced: Cell<u64>,
    done: Cell<u64>,
    active: Cell<usize>,
    peak: Cell<usize>,
}

fn main() -> Result<(), Box<dyn Error>> {
    env_logger::init();
    let io_loop = IoLoop::new()?;
    let started = Instant::now();
    let stats = io_loop.run_sync_timeout(run(), DEADLINE)??;
    println!(
        "all {} jobs done in {:.2?}; at most {} ran at once (limit {CONCURRENCY})",
        stats.done.get(),
        started.elapsed(),
        stats.peak.get(),
    );
    Ok(())
}

async fn run() -> Result<Rc<Stats>, Box<dyn Error>> {
    let queue: Queue<u64> = Queue::new(QUEUE_SIZE);
    let permits = Semaphore::new(CONCURRENCY);
    let stats = Rc::new(Stats::default());

    let progress = {
        let (queue, stats) = (queue.clone(), stats.clone());
        PeriodicCallback::new(
            move || {
                println!(
                    "progress: produced {:>3}/{JOBS}, done {:>3}, queued {}, working {}",
                    stats.produced.get(),
                    stats.done.get(),
                    queue.qsize(),
                    stats.active.get(),
                )
            },
            PROGRESS_EVERY,
        )?
    };
    progress.start();

    let workers: Vec<_> = (0..WORKERS)
        .map(|id| {
            let (queue, permits, stats) = (queue.clone(), permits.clone(), stats.clone());
            spawn(async move {
                loop {
                    let job = queue.get().await;
                    let permit = permits.acquire().await;
                    stats.active.set(stats.active.get() + 1);
                    stats.peak.set(stats.peak.get().max(stats.active.get()));
                    log::debug!("worker {id} starts job {job}");
                    // Pretend to work: 5 to 35 ms, depending on the job.
                    sleep(Duration::from_millis(5 + job * 7 % 31)).await;
                    stats.active.set(stats.active.get() - 1);
                    drop(permit);
                    stats.done.set(stats.done.get() + 1);
                    if let Err(e) = queue.task_done() {
                        log::error!("worker {id}: {e}");
                    }
                }
            })
        })
        .collect();

    for job in 0..JOBS {
        // Waits whenever QUEUE_SIZE jobs are already queued.
        queue.put(job).await;
        stats.produced.set(job + 1);
    }
    log::info!("producer finished; waiting for the workers");
    queue.join().await;

    progress.stop();
    for w in &workers {
        w.abort();
    }
    Ok(stats)
}
