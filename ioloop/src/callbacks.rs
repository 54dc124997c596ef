//! Callbacks: the type the loop runs, and for those posted from any thread, the queue
//! they wait in (the loop's `Remote` part,
//! which also carries cross-thread task wakes and stop requests) and the [`LoopHandle`]
//! that posts them.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// A callback the loop owns and runs once.
pub(crate) type Callback = Box<dyn FnOnce()>;
pub(crate) type SendCallback = Box<dyn FnOnce() + Send>;
/// Buffers reused to move remote callbacks and wakes onto the loop without allocating.
pub(crate) type RemoteScratch = (Vec<SendCallback>, Vec<(usize, u64)>);

/// The part of a loop other threads may touch.
pub(crate) struct Remote {
    pub(crate) callbacks: Mutex<Vec<SendCallback>>,
    pub(crate) tasks: Mutex<Vec<(usize, u64)>>,
    pub(crate) notified: AtomicBool,
    pub(crate) stop: AtomicBool,
    pub(crate) waker: mio::Waker,
}

impl Remote {
    fn notify(&self) {
        if !self.notified.swap(true, Ordering::AcqRel)
            && let Err(e) = self.waker.wake()
        {
            log::error!("could not wake the IoLoop: {e}");
        }
    }

    pub(crate) fn wake_task(&self, key: usize, generation: u64) {
        lock(&self.tasks).push((key, generation));
        self.notify();
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave the Vec inconsistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A `Send + Sync` handle on an [`IoLoop`](crate::IoLoop), for other threads.
///
/// ```
/// use tornado_ioloop::IoLoop;
///
/// let io_loop = IoLoop::new().unwrap();
/// let handle = io_loop.handle();
/// std::thread::spawn(move || handle.add_callback(|| IoLoop::current().stop()));
/// io_loop.start(); // returns once the other thread's callback ran
/// ```
#[derive(Clone)]
pub struct LoopHandle {
    pub(crate) remote: Arc<Remote>,
}

impl fmt::Debug for LoopHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopHandle").finish_non_exhaustive()
    }
}

impl LoopHandle {
    /// Runs `f` on the loop's thread at its next iteration, waking the loop at once if
    /// it is blocked in poll. Safe from any thread, including the loop's own.
    pub fn add_callback<F: FnOnce() + Send + 'static>(&self, f: F) {
        lock(&self.remote.callbacks).push(Box::new(f));
        self.remote.notify();
    }

    /// Asks the loop to stop after its current iteration, from any thread.
    pub fn stop(&self) {
        self.remote.stop.store(true, Ordering::Release);
        self.remote.notify();
    }
}
