//! Signals: waiting for SIGINT/SIGTERM on the loop, several listeners, and the handler's
//! removal.
//!
//! Its own test binary, as it sends signals to its own process. Every test installs its
//! handler (by making the listener) before it sends anything, so no signal can end the
//! process. The tests take turns ([`serial`]): one of them uses every listener slot, and
//! another checks the process-wide disposition.

mod common;

use std::sync::{Arc, Barrier, Mutex, MutexGuard};
use std::time::Duration;

use tornado_ioloop::IoLoop;
use tornado_ioloop::signal::{self, MAX_LISTENERS, Signal, Signals};

use common::TEST_TIMEOUT;

/// Held by each test for its whole run.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sends `signal` to this process with `kill(getpid(), ..)`.
fn send(signal: Signal) {
    // SAFETY: plain syscalls with valid arguments; a listener for `signal` exists.
    let rc = unsafe { libc::kill(libc::getpid(), signal.number()) };
    assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
}

/// The disposition of `signo`: the handler address, or `SIG_DFL` / `SIG_IGN`.
fn disposition(signo: i32) -> libc::sighandler_t {
    // SAFETY: an all-zero sigaction is valid, and a null new action only queries.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(signo, std::ptr::null(), &mut old), 0);
        old.sa_sigaction
    }
}

#[test]
fn wait_for_resolves_with_the_signal_sent_to_the_process() {
    let _turn = serial();
    let io_loop = IoLoop::new().unwrap();
    // SIGINT, the way Ctrl-C sends it, sent before the future is first polled.
    let shutdown = signal::wait_for(&[Signal::Interrupt, Signal::Terminate]);
    send(Signal::Interrupt);
    let got = io_loop
        .run_sync_timeout(shutdown, TEST_TIMEOUT)
        .expect("the signal arrived")
        .unwrap();
    assert_eq!(got, Signal::Interrupt);
    // SIGTERM, sent while the task waits.
    let got = io_loop
        .run_sync_timeout(
            async {
                let shutdown = signal::wait_for(&[Signal::Interrupt, Signal::Terminate]);
                IoLoop::current().call_later(Duration::from_millis(5), || {
                    Signal::Terminate.raise().unwrap()
                });
                shutdown.await
            },
            TEST_TIMEOUT,
        )
        .expect("the signal arrived")
        .unwrap();
    assert_eq!(got, Signal::Terminate);
    io_loop.close();
}

#[test]
fn every_listener_on_every_loop_gets_the_signal() {
    let _turn = serial();
    const THREADS: usize = 3;
    let ready = Arc::new(Barrier::new(THREADS + 1));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let ready = ready.clone();
            std::thread::spawn(move || {
                let io_loop = IoLoop::new().unwrap();
                // Two listeners on each loop.
                let first = signal::wait_for(&[Signal::User1]);
                let second = Signals::new(&[Signal::User1, Signal::Hangup]);
                // Passed whatever happened, so that no thread waits for a failed one.
                ready.wait();
                let mut second = second.unwrap();
                let got = io_loop
                    .run_sync_timeout(
                        async move { (first.await.unwrap(), second.recv().await.unwrap()) },
                        TEST_TIMEOUT,
                    )
                    .expect("the signal reached this loop");
                io_loop.close();
                got
            })
        })
        .collect();
    // Listening here too: should a thread fail and drop its listeners early, the signal
    // still has a handler and cannot end the test process.
    let _guard = Signals::new(&[Signal::User1]).unwrap();
    ready.wait();
    send(Signal::User1);
    for t in threads {
        assert_eq!(t.join().unwrap(), (Signal::User1, Signal::User1));
    }
}

#[test]
fn a_stream_receives_again_and_the_default_comes_back_when_it_is_dropped() {
    let _turn = serial();
    let signo = Signal::User2.number();
    assert_eq!(disposition(signo), libc::SIG_DFL);
    let io_loop = IoLoop::new().unwrap();
    let mut signals = Signals::new(&[Signal::User2]).unwrap();
    assert_ne!(
        disposition(signo),
        libc::SIG_DFL,
        "the handler is installed"
    );
    let signals = io_loop
        .run_sync_timeout(
            async move {
                for _ in 0..3 {
                    send(Signal::User2);
                    assert_eq!(signals.recv().await.unwrap(), Signal::User2);
                }
                signals
            },
            TEST_TIMEOUT,
        )
        .expect("every signal arrived");
    drop(signals);
    assert_eq!(disposition(signo), libc::SIG_DFL, "the default is back");
    io_loop.close();
}

#[test]
fn bad_listener_lists_are_errors() {
    let _turn = serial();
    let err = Signals::new(&[]).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let io_loop = IoLoop::new().unwrap();
    let err = io_loop
        .run_sync_timeout(signal::wait_for(&[]), TEST_TIMEOUT)
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    // One listener too many is refused, not a panic.
    let mut held = Vec::new();
    let refused = loop {
        match Signals::new(&[Signal::Quit]) {
            Ok(s) => held.push(s),
            Err(e) => break e,
        }
        assert!(held.len() <= MAX_LISTENERS, "the limit holds");
    };
    assert!(refused.to_string().contains("too many"), "{refused}");
    drop(held);
    assert!(
        Signals::new(&[Signal::Quit]).is_ok(),
        "slots are given back"
    );
    io_loop.close();
}
