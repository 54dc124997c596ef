//! The blocking thread pool behind [`run_in_executor`]: a function that would block the
//! loop runs on one of a few shared threads, and its result comes back as a future.
//!
//! The pool starts empty and grows one thread at a time, when work arrives and no worker
//! is idle, up to [`MAX_WORKERS`]; workers wait on a condition variable for more work.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

use crate::panic::panic_message;
use crate::task::JoinError;

/// The most worker threads the pool starts: `min(32, cores + 4)`, like Python's
/// `ThreadPoolExecutor` that Tornado uses by default.
pub static MAX_WORKERS: OnceLock<usize> = OnceLock::new();

fn max_workers() -> usize {
    *MAX_WORKERS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cores + 4).min(32)
    })
}

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    state: Mutex<PoolState>,
    work: Condvar,
}

struct PoolState {
    jobs: VecDeque<Job>,
    workers: usize,
    idle: usize,
}

fn pool() -> &'static Arc<Pool> {
    static POOL: OnceLock<Arc<Pool>> = OnceLock::new();
    POOL.get_or_init(|| {
        Arc::new(Pool {
            state: Mutex::new(PoolState {
                jobs: VecDeque::new(),
                workers: 0,
                idle: 0,
            }),
            work: Condvar::new(),
        })
    })
}

fn worker(pool: Arc<Pool>) {
    let mut st = pool.state.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let Some(job) = st.jobs.pop_front() {
            drop(st);
            job();
            st = pool.state.lock().unwrap_or_else(|e| e.into_inner());
            continue;
        }
        st.idle += 1;
        st = pool.work.wait(st).unwrap_or_else(|e| e.into_inner());
        st.idle -= 1;
    }
}

fn submit(job: Job) {
    let pool = pool();
    let mut st = pool.state.lock().unwrap_or_else(|e| e.into_inner());
    st.jobs.push_back(job);
    // More queued jobs than idle workers (an idle worker counts as idle until it wakes,
    // so several jobs in a row would otherwise all wait for the same one).
    if st.jobs.len() > st.idle && st.workers < max_workers() {
        let p = pool.clone();
        let spawned = std::thread::Builder::new()
            .name("tornado-executor".into())
            .spawn(move || worker(p));
        match spawned {
            Ok(_) => st.workers += 1,
            Err(e) if st.workers == 0 => {
                // No worker exists to run it: run it here rather than leave its future
                // pending forever. This blocks the caller, which beats a hang.
                log::error!("run_in_executor: cannot start a worker thread ({e}); running inline");
                let job = st.jobs.pop_back();
                drop(st);
                if let Some(job) = job {
                    job();
                }
                return;
            }
            Err(e) => log::warn!("run_in_executor: cannot start another worker: {e}"),
        }
    }
    drop(st);
    pool.work.notify_one();
}

struct Shared<T> {
    result: Option<Result<T, JoinError>>,
    waker: Option<Waker>,
}

/// The future returned by [`run_in_executor`]: resolves to the function's value, or to
/// `Err(JoinError::Panicked)` if it panicked.
pub struct ExecutorFuture<T> {
    shared: Arc<Mutex<Shared<T>>>,
}

impl<T> fmt::Debug for ExecutorFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecutorFuture").finish_non_exhaustive()
    }
}

impl<T> Future for ExecutorFuture<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut sh = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = sh.result.take() {
            return Poll::Ready(r);
        }
        match &sh.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => sh.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

/// Runs blocking `f` on a shared thread pool and returns a future of its result, to be
/// awaited on the loop (Tornado's `IOLoop.run_in_executor(None, f)`).
///
/// ```
/// use tornado_ioloop::{IoLoop, run_in_executor};
///
/// let io_loop = IoLoop::new().unwrap();
/// let n = io_loop.run_sync(async {
///     run_in_executor(|| (1..=10u64).product::<u64>()).await.unwrap()
/// });
/// assert_eq!(n, 3_628_800);
/// ```
pub fn run_in_executor<F, T>(f: F) -> ExecutorFuture<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let shared = Arc::new(Mutex::new(Shared {
        result: None,
        waker: None,
    }));
    let sh = shared.clone();
    submit(Box::new(move || {
        let result =
            catch_unwind(AssertUnwindSafe(f)).map_err(|p| JoinError::Panicked(panic_message(&*p)));
        let waker = {
            let mut s = sh.lock().unwrap_or_else(|e| e.into_inner());
            s.result = Some(result);
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }));
    ExecutorFuture { shared }
}
