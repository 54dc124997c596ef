//! The process-wide half of signal handling, and the crate's only `unsafe` code: the
//! `sigaction` handler and the table of listeners it reads.
//!
//! # The handler
//!
//! A signal handler may run on any thread, between any two instructions, so it may only
//! do async-signal-safe things. This one reads and updates atomics and `write(2)`s one
//! byte to the pipe of each listener that wants the signal; it allocates nothing, takes
//! no lock, and puts `errno` back as it found it.
//!
//! # The table
//!
//! [`SLOTS`] fixed slots, one per listener (a `Signals` value). A slot's pipe is made
//! once and never closed: a slot that is given up keeps its pipe for the next listener.
//! So the handler can never write into a file descriptor that was closed and reused for
//! something else while it ran on another thread.
//!
//! # Installing
//!
//! The handler is installed for a signal when its first listener appears and the
//! previous disposition is put back when its last listener goes: a program that waits
//! for SIGINT no longer dies of it, and dies of it again once it stops waiting.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::RawFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

use libc::c_int;

/// How many listeners may exist at once in the process.
pub(crate) const SLOTS: usize = 64;

/// The signal numbers, in the order of [`Signal`](super::Signal)'s variants; a
/// listener's mask has bit `i` for `NUMBERS[i]`.
pub(crate) const NUMBERS: [c_int; 6] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

struct Slot {
    /// The pipe's write end; -1 until the slot's pipe is made.
    fd: AtomicI32,
    /// The signals the slot's listener wants; 0 when the slot is free.
    mask: AtomicU64,
    /// The signals that arrived and the listener has not taken yet.
    pending: AtomicU64,
}

static TABLE: [Slot; SLOTS] = [const {
    Slot {
        fd: AtomicI32::new(-1),
        mask: AtomicU64::new(0),
        pending: AtomicU64::new(0),
    }
}; SLOTS];

/// Starts delivering the signals in `mask` to slot `slot` through `fd`.
pub(crate) fn listen(slot: usize, fd: RawFd, mask: u64) {
    let s = &TABLE[slot];
    s.pending.store(0, Ordering::Release);
    s.fd.store(fd, Ordering::Release);
    s.mask.store(mask, Ordering::Release);
}

/// Stops delivering to slot `slot` (its pipe stays open, for the next listener).
pub(crate) fn unlisten(slot: usize) {
    TABLE[slot].mask.store(0, Ordering::Release);
}

/// Takes the signals that arrived for slot `slot`, as a mask.
pub(crate) fn take_pending(slot: usize) -> u64 {
    TABLE[slot].pending.swap(0, Ordering::AcqRel)
}

extern "C" fn on_signal(signo: c_int) {
    let Some(bit) = NUMBERS.iter().position(|&n| n == signo) else {
        return;
    };
    let bit = 1u64 << bit;
    let errno = errno_location();
    // SAFETY: `errno_location` is the calling thread's errno, valid for the thread's life.
    let saved = unsafe { errno.map(|e| *e) };
    for slot in &TABLE {
        if slot.mask.load(Ordering::Acquire) & bit == 0 {
            continue;
        }
        slot.pending.fetch_or(bit, Ordering::AcqRel);
        let fd = slot.fd.load(Ordering::Acquire);
        if fd >= 0 {
            let byte = 1u8;
            // SAFETY: `fd` is a pipe's write end that is never closed (see the module
            // docs), and the buffer is one valid byte. write(2) is async-signal-safe; a
            // full pipe (EAGAIN) is fine, as it already holds a wake-up byte.
            unsafe { libc::write(fd, (&raw const byte).cast(), 1) };
        }
    }
    if let (Some(e), Some(v)) = (errno, saved) {
        // SAFETY: as above.
        unsafe { *e = v };
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn errno_location() -> Option<*mut c_int> {
    // SAFETY: no preconditions; it returns the calling thread's errno.
    Some(unsafe { libc::__errno_location() })
}

#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
fn errno_location() -> Option<*mut c_int> {
    // SAFETY: no preconditions; it returns the calling thread's errno.
    Some(unsafe { libc::__error() })
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd"
)))]
fn errno_location() -> Option<*mut c_int> {
    None
}

/// Per signal: how many listeners want it, and the disposition ours replaced.
struct Installed {
    listeners: [usize; NUMBERS.len()],
    previous: [Option<libc::sigaction>; NUMBERS.len()],
}

static INSTALLED: Mutex<Installed> = Mutex::new(Installed {
    listeners: [0; NUMBERS.len()],
    previous: [None; NUMBERS.len()],
});

fn installed() -> std::sync::MutexGuard<'static, Installed> {
    INSTALLED.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counts one more listener for each signal in `mask`, installing the handler for the
/// signals that had none. On error nothing is counted.
pub(crate) fn install(mask: u64) -> io::Result<()> {
    let mut st = installed();
    let mut newly = 0u64;
    for (i, &signo) in NUMBERS.iter().enumerate() {
        if mask & (1 << i) == 0 || st.listeners[i] > 0 {
            continue;
        }
        match set_handler(signo) {
            Ok(previous) => {
                st.previous[i] = Some(previous);
                newly |= 1 << i;
            }
            Err(e) => {
                // Undo the ones this call installed.
                for (j, &signo) in NUMBERS.iter().enumerate() {
                    if newly & (1 << j) != 0
                        && let Some(p) = st.previous[j].take()
                    {
                        restore(signo, &p);
                    }
                }
                return Err(e);
            }
        }
    }
    for (i, count) in st.listeners.iter_mut().enumerate() {
        if mask & (1 << i) != 0 {
            *count += 1;
        }
    }
    Ok(())
}

/// Counts one listener less for each signal in `mask`, putting the previous disposition
/// back for the signals that have none left.
pub(crate) fn uninstall(mask: u64) {
    let mut st = installed();
    for (i, &signo) in NUMBERS.iter().enumerate() {
        if mask & (1 << i) == 0 || st.listeners[i] == 0 {
            continue;
        }
        st.listeners[i] -= 1;
        if st.listeners[i] == 0
            && let Some(p) = st.previous[i].take()
        {
            restore(signo, &p);
        }
    }
}

/// Installs `on_signal` for `signo`; returns the disposition it replaced.
fn set_handler(signo: c_int) -> io::Result<libc::sigaction> {
    // SAFETY: `sigaction` is a plain C struct for which all-zero bytes is a valid value
    // (no handler, empty flags); the fields that matter are set below.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = on_signal as extern "C" fn(c_int) as libc::sighandler_t;
    action.sa_flags = libc::SA_RESTART;
    // SAFETY: `sa_mask` is a valid, writable `sigset_t`.
    unsafe { libc::sigemptyset(&mut action.sa_mask) };
    // SAFETY: as above, all-zero is a valid `sigaction`; the kernel overwrites it.
    let mut previous: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; `on_signal` is async-signal-safe
    // (see the module docs) and lives for the whole program.
    if unsafe { libc::sigaction(signo, &action, &mut previous) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(previous)
}

fn restore(signo: c_int, previous: &libc::sigaction) {
    // SAFETY: `previous` is what `sigaction` gave back for this signal, so it is valid to
    // install again; a null old-action pointer is allowed.
    if unsafe { libc::sigaction(signo, previous, std::ptr::null_mut()) } != 0 {
        log::warn!(
            "could not restore the handler of signal {signo}: {}",
            io::Error::last_os_error()
        );
    }
}

/// Sends `signo` to this process (`kill(getpid(), signo)`).
pub(crate) fn raise(signo: c_int) -> io::Result<()> {
    // SAFETY: getpid has no preconditions; kill with our own pid and a valid signal
    // number only delivers the signal.
    if unsafe { libc::kill(libc::getpid(), signo) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
