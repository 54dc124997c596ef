//! A tour of the IoLoop: timers, a periodic callback, a handler on a pipe, a spawned
//! task, blocking work on the executor, and a callback from another thread.
//!
//! `cargo run --example ioloop_tour`

use std::cell::RefCell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::time::Duration;

use mio::unix::pipe;
use tornado::ioloop::{Interest, IoLoop, PeriodicCallback, run_in_executor, spawn};

fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let io_loop = IoLoop::current();
    let started = std::time::Instant::now();
    let stamp = move || format!("{:>6.1} ms", started.elapsed().as_secs_f64() * 1000.0);

    // A periodic callback: every 100 ms.
    let ticks = Rc::new(RefCell::new(0));
    let (t, s) = (ticks.clone(), stamp);
    let heartbeat = PeriodicCallback::new(
        move || {
            *t.borrow_mut() += 1;
            println!("{} tick {}", s(), t.borrow());
        },
        Duration::from_millis(100),
    )?;
    heartbeat.start();

    // A handler on a pipe: print what arrives, stop reading at end-of-file.
    let (tx, rx) = pipe::new()?;
    let rx = Rc::new(RefCell::new(rx));
    let (r, s) = (rx.clone(), stamp);
    io_loop.add_handler(&mut *rx.borrow_mut(), Interest::READABLE, move |_ready| {
        let mut buf = [0u8; 256];
        loop {
            let read = r.borrow_mut().read(&mut buf);
            match read {
                Ok(0) => {
                    println!("{} pipe: end of file", s());
                    break;
                }
                Ok(n) => print!("{} pipe: {}", s(), String::from_utf8_lossy(&buf[..n])),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    eprintln!("pipe read failed: {e}");
                    break;
                }
            }
        }
    })?;

    // Timers write into the pipe; the last one closes it.
    let tx = Rc::new(RefCell::new(Some(tx)));
    for (ms, word) in [(50u64, "fifty"), (150, "one fifty"), (250, "two fifty")] {
        let tx = tx.clone();
        io_loop.call_later(Duration::from_millis(ms), move || {
            if let Some(tx) = tx.borrow_mut().as_mut() {
                let _ = writeln!(tx, "{word} ms timer");
            }
        });
    }
    let cancelled = io_loop.call_later(Duration::from_millis(200), || println!("never printed"));
    io_loop.remove_timeout(cancelled);
    io_loop.call_later(Duration::from_millis(300), move || {
        drop(tx.borrow_mut().take())
    });

    // Another thread posts a callback through the Send handle.
    let handle = io_loop.handle();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(120));
        handle.add_callback(|| println!("hello from another thread"));
    });

    // A task: blocking work on the executor, then a summary, then stop.
    let (l, s) = (io_loop.clone(), stamp);
    let task = spawn(async move {
        let sum = run_in_executor(|| {
            std::thread::sleep(Duration::from_millis(80));
            (1..=1000u64).sum::<u64>()
        })
        .await
        .expect("executor job");
        println!("{} executor computed {sum}", s());
        sum
    });
    let l2 = l.clone();
    io_loop.call_later(Duration::from_millis(420), move || {
        heartbeat.stop();
        l2.stop();
    });
    io_loop.start();
    println!(
        "done: task result {:?}, {} ticks",
        io_loop.run_sync(task).ok(),
        ticks.borrow()
    );
    Ok(())
}
