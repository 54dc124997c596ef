//! I/O handlers over real sockets and pipes.

mod common;

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;

use mio::net::{TcpListener, UnixStream};
use mio::unix::pipe;
use tornado_ioloop::{Interest, IoLoop};

use common::start_with_watchdog;

#[test]
fn tcp_accept_and_read_through_handlers() {
    let io_loop = IoLoop::new().unwrap();
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let listener = Rc::new(RefCell::new(TcpListener::bind(addr).unwrap()));
    let local = listener.borrow().local_addr().unwrap();
    let received = Rc::new(RefCell::new(Vec::new()));

    let (l, lis, rec) = (io_loop.clone(), listener.clone(), received.clone());
    io_loop
        .add_handler(&mut *listener.borrow_mut(), Interest::READABLE, move |_| {
            while let Ok((conn, _)) = lis.borrow_mut().accept() {
                let conn = Rc::new(RefCell::new(conn));
                let (c, rec, l2) = (conn.clone(), rec.clone(), l.clone());
                let id = Rc::new(Cell::new(None));
                let id2 = id.clone();
                let registered =
                    l.add_handler(&mut *conn.borrow_mut(), Interest::READABLE, move |ready| {
                        let mut buf = [0u8; 4096];
                        loop {
                            let r = c.borrow_mut().read(&mut buf);
                            match r {
                                Ok(0) => {
                                    let hid = id2.get().unwrap();
                                    l2.remove_handler(hid, &mut *c.borrow_mut()).unwrap();
                                    l2.stop();
                                    return;
                                }
                                Ok(n) => rec.borrow_mut().extend_from_slice(&buf[..n]),
                                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                                Err(e) => panic!("read failed: {e} ({ready:?})"),
                            }
                        }
                    });
                id.set(Some(registered.unwrap()));
            }
        })
        .unwrap();

    let writer = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(local).unwrap();
        for i in 0..100 {
            s.write_all(format!("line {i}\n").as_bytes()).unwrap();
        }
    });
    start_with_watchdog(&io_loop);
    writer.join().unwrap();
    let text = String::from_utf8(received.borrow().clone()).unwrap();
    assert_eq!(text.lines().count(), 100);
    assert!(text.ends_with("line 99\n"));
}

#[test]
fn pipe_handler_and_update_interest() {
    let io_loop = IoLoop::new().unwrap();
    let (mut tx, rx) = pipe::new().unwrap();
    let rx = Rc::new(RefCell::new(rx));
    let got = Rc::new(RefCell::new(Vec::new()));
    let (r, g, l) = (rx.clone(), got.clone(), io_loop.clone());
    io_loop
        .add_handler(&mut *rx.borrow_mut(), Interest::READABLE, move |ready| {
            assert!(ready.is_readable() || ready.is_read_closed());
            let mut buf = [0u8; 64];
            while let Ok(n) = r.borrow_mut().read(&mut buf) {
                if n == 0 {
                    l.stop();
                    return;
                }
                g.borrow_mut().extend_from_slice(&buf[..n]);
            }
        })
        .unwrap();

    // The write end: first registered for READABLE (never fires for a pipe sender), then
    // switched to WRITABLE, which must fire since the pipe has room.
    let writes = Rc::new(Cell::new(0));
    let tx_id = {
        let w = writes.clone();
        io_loop
            .add_handler(&mut tx, Interest::READABLE, move |ready| {
                if ready.is_writable() {
                    w.set(w.get() + 1);
                }
            })
            .unwrap()
    };
    io_loop
        .update_handler(tx_id, &mut tx, Interest::WRITABLE)
        .unwrap();
    tx.write_all(b"hello pipe").unwrap();
    let l = io_loop.clone();
    let tx = RefCell::new(Some(tx));
    io_loop.call_later(std::time::Duration::from_millis(20), move || {
        // Closing the sender ends the reader's stream.
        let mut t = tx.borrow_mut().take().unwrap();
        l.remove_handler(tx_id, &mut t).unwrap();
    });
    start_with_watchdog(&io_loop);
    assert_eq!(&*got.borrow(), b"hello pipe");
    assert!(
        writes.get() >= 1,
        "WRITABLE interest after update_handler fired"
    );
}

#[test]
fn removed_handler_gets_no_stale_event_even_when_its_slot_is_reused() {
    // Two sockets become readable in the same poll. Whichever handler runs first removes
    // the other and registers a fresh handler (reusing the freed slot) on an idle socket;
    // the removed handler's pending event must reach neither.
    let io_loop = IoLoop::new().unwrap();
    let (mut a_peer, a) = UnixStream::pair().unwrap();
    let (mut b_peer, b) = UnixStream::pair().unwrap();
    let (_idle_peer, idle) = UnixStream::pair().unwrap();
    let sockets = Rc::new(RefCell::new(vec![a, b]));
    let idle = Rc::new(RefCell::new(idle));
    let ids = Rc::new(RefCell::new(Vec::new()));
    let calls = Rc::new(RefCell::new(Vec::<&'static str>::new()));
    let new_handler_calls = Rc::new(Cell::new(0));
    for i in 0..2 {
        let (l, socks, ids2, calls2, idle2, nh) = (
            io_loop.clone(),
            sockets.clone(),
            ids.clone(),
            calls.clone(),
            idle.clone(),
            new_handler_calls.clone(),
        );
        let id = io_loop
            .add_handler(
                &mut sockets.borrow_mut()[i],
                Interest::READABLE,
                move |_| {
                    calls2.borrow_mut().push(if i == 0 { "a" } else { "b" });
                    let other = 1 - i;
                    let other_id = ids2.borrow()[other];
                    l.remove_handler(other_id, &mut socks.borrow_mut()[other])
                        .unwrap();
                    let nh = nh.clone();
                    l.add_handler(&mut *idle2.borrow_mut(), Interest::READABLE, move |_| {
                        nh.set(nh.get() + 1)
                    })
                    .unwrap();
                    l.stop();
                },
            )
            .unwrap();
        ids.borrow_mut().push(id);
    }
    a_peer.write_all(b"x").unwrap();
    b_peer.write_all(b"y").unwrap();
    start_with_watchdog(&io_loop);
    assert_eq!(
        calls.borrow().len(),
        1,
        "only the first handler ran: {:?}",
        calls.borrow()
    );
    assert_eq!(
        new_handler_calls.get(),
        0,
        "stale event reached the new handler"
    );
}

#[test]
fn remove_unknown_handler_is_an_error() {
    let io_loop = IoLoop::new().unwrap();
    let (mut a, _b) = UnixStream::pair().unwrap();
    let id = io_loop
        .add_handler(&mut a, Interest::READABLE, |_| {})
        .unwrap();
    io_loop.remove_handler(id, &mut a).unwrap();
    let err = io_loop.remove_handler(id, &mut a).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    let err = io_loop
        .update_handler(id, &mut a, Interest::WRITABLE)
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn registering_a_source_twice_fails_cleanly() {
    let io_loop = IoLoop::new().unwrap();
    let (mut a, _b) = UnixStream::pair().unwrap();
    io_loop
        .add_handler(&mut a, Interest::READABLE, |_| {})
        .unwrap();
    assert!(
        io_loop
            .add_handler(&mut a, Interest::READABLE, |_| {})
            .is_err()
    );
    // The failed registration left no handler slot behind.
    assert!(format!("{io_loop:?}").contains("handlers: 1"));
}
