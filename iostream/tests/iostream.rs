//! IoStream behaviour, after Tornado's `iostream_test.py`, over real loopback TCP
//! sockets, Unix socket pairs and pipes.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::rc::Rc;
use std::time::Duration;

use regex::bytes::Regex;
use tornado_ioloop::IoLoop;
use tornado_iostream::{
    IoStream, Pipe, is_stream_closed, is_unsatisfiable_read, stream_closed_error,
    unsatisfiable_read_error,
};

mod common;
use common::{run, tcp_pair, tcp_raw, unix_pair};

async fn sleep(d: Duration) {
    let done = Rc::new(Cell::new(false));
    let d2 = done.clone();
    IoLoop::current().call_later(d, move || d2.set(true));
    while !done.get() {
        tornado_ioloop::yield_now().await;
    }
}

/// How many times `stream`'s close callback has run, counted from now.
fn count_closes(stream: &IoStream) -> Rc<Cell<u32>> {
    let count = Rc::new(Cell::new(0));
    let c = count.clone();
    stream.set_close_callback(move || c.set(c.get() + 1));
    count
}

#[test]
fn read_until_leaves_the_rest_buffered() {
    run(async {
        let (a, b) = tcp_pair().await;
        a.write(b"abc\r\ndef\r\nxy").await.unwrap();
        assert_eq!(&b.read_until(b"\r\n", None).await.unwrap()[..], b"abc\r\n");
        assert_eq!(&b.read_until(b"\r\n", None).await.unwrap()[..], b"def\r\n");
        assert_eq!(&b.read_bytes(2, false).await.unwrap()[..], b"xy");
    });
}

#[test]
fn read_until_delimiter_split_across_packets() {
    run(async {
        let (s, mut raw) = tcp_raw().await;
        let reader = tornado_ioloop::spawn({
            let s = s.clone();
            async move { s.read_until(b"\r\n\r\n", Some(100)).await }
        });
        for part in [&b"head\r"[..], b"\n", b"\r", b"\nrest"] {
            raw.write_all(part).unwrap();
            sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(&reader.await.unwrap().unwrap()[..], b"head\r\n\r\n");
        assert_eq!(&s.read_bytes(4, false).await.unwrap()[..], b"rest");
    });
}

#[test]
fn read_until_max_bytes_exceeded_closes_even_with_delimiter_in_same_packet() {
    run(async {
        let (a, b) = tcp_pair().await;
        let closed = count_closes(&b);
        a.write(b"123456789\r\n").await.unwrap();
        let err = b.read_until(b"\r\n", Some(5)).await.unwrap_err();
        // Tornado: the read fails as closed, with the unsatisfiable read as the cause.
        assert!(
            is_stream_closed(&err) && is_unsatisfiable_read(&err),
            "{err}"
        );
        let real = stream_closed_error(&err).unwrap().real_error().unwrap();
        assert_eq!(real.kind(), io::ErrorKind::InvalidData);
        assert_eq!(unsatisfiable_read_error(&err).unwrap().max_bytes(), 5);
        assert!(err.to_string().contains("max_bytes"), "{err}");
        assert!(b.closed());
        let cause = b.error().expect("the limit is the close reason");
        assert!(cause.to_string().contains("max_bytes"));
        // What arrived stays readable.
        assert_eq!(
            &b.read_bytes(11, false).await.unwrap()[..],
            b"123456789\r\n"
        );
        // Later reads report the closed stream with that cause.
        let err = b.read_bytes(1, false).await.unwrap_err();
        let closed_err = stream_closed_error(&err).unwrap();
        assert!(
            closed_err
                .real_error()
                .unwrap()
                .to_string()
                .contains("max_bytes")
        );
        sleep(Duration::from_millis(1)).await;
        assert_eq!(closed.get(), 1);
    });
}

#[test]
fn read_until_max_bytes_exceeded_without_delimiter() {
    run(async {
        let (a, b) = unix_pair();
        a.write(b"0123456789").await.unwrap();
        let err = b.read_until(b"\n", Some(6)).await.unwrap_err();
        assert!(is_unsatisfiable_read(&err), "{err}");
        let real = stream_closed_error(&err).unwrap().real_error().unwrap();
        assert_eq!(real.kind(), io::ErrorKind::InvalidData);
        assert!(b.closed());
    });
}

#[test]
fn read_until_within_max_bytes_succeeds() {
    run(async {
        let (a, b) = unix_pair();
        a.write(b"abcd\n").await.unwrap();
        // The delimiter ends exactly at max_bytes.
        assert_eq!(&b.read_until(b"\n", Some(5)).await.unwrap()[..], b"abcd\n");
        assert!(!b.closed());
    });
}

#[test]
fn unsatisfiable_read_closes_the_stream_and_keeps_the_buffer_readable() {
    run(async {
        let (a, b) = unix_pair();
        let closed = count_closes(&b);
        a.write(b"no newline in the first ten bytes\n")
            .await
            .unwrap();
        let err = b.read_until(b"\n", Some(10)).await.unwrap_err();
        assert!(is_stream_closed(&err), "{err}");
        assert!(is_unsatisfiable_read(&err), "{err}");
        assert!(b.closed());
        let cause = b.error().expect("closed by the unsatisfiable read");
        assert!(is_unsatisfiable_read(&cause), "{cause}");
        assert_eq!(cause.kind(), io::ErrorKind::InvalidData);
        // Another read of the same kind fails the same way, and takes nothing.
        let again = b.read_until(b"\n", Some(10)).await.unwrap_err();
        assert!(is_unsatisfiable_read(&again), "{again}");
        // Everything received before the close is still there.
        assert_eq!(&b.read_bytes(3, false).await.unwrap()[..], b"no ");
        let rest = b.read_until_close().await.unwrap();
        assert_eq!(&rest[..], b"newline in the first ten bytes\n");
        let after = b.read_bytes(1, false).await.unwrap_err();
        assert!(is_stream_closed(&after) && is_unsatisfiable_read(&after));
        sleep(Duration::from_millis(1)).await;
        assert_eq!(closed.get(), 1);
        // The same for a regex.
        let (a, b) = unix_pair();
        a.write(b"0123456789").await.unwrap();
        let re = Regex::new("x+").unwrap();
        let err = b.read_until_regex(&re, Some(4)).await.unwrap_err();
        assert!(is_unsatisfiable_read(&err), "{err}");
        assert_eq!(unsatisfiable_read_error(&err).unwrap().max_bytes(), 4);
        assert_eq!(&b.read_bytes(10, false).await.unwrap()[..], b"0123456789");
    });
}

#[test]
fn read_until_regex_and_its_limit() {
    run(async {
        let (a, b) = tcp_pair().await;
        let re = Regex::new(r"\r?\n\r?\n").unwrap();
        a.write(b"GET / HTTP/1.0\n\nbody").await.unwrap();
        let head = b.read_until_regex(&re, Some(1000)).await.unwrap();
        assert_eq!(&head[..], b"GET / HTTP/1.0\n\n");
        assert_eq!(&b.read_bytes(4, false).await.unwrap()[..], b"body");

        a.write(b"0123456789\n\n").await.unwrap();
        let err = b.read_until_regex(&re, Some(5)).await.unwrap_err();
        assert!(is_unsatisfiable_read(&err), "{err}");
        let real = stream_closed_error(&err).unwrap().real_error().unwrap();
        assert_eq!(real.kind(), io::ErrorKind::InvalidData);
        assert!(b.closed());
    });
}

#[test]
fn read_bytes_partial_and_zero() {
    run(async {
        let (s, mut raw) = tcp_raw().await;
        assert!(s.read_bytes(0, false).await.unwrap().is_empty());
        raw.write_all(b"hello").unwrap();
        let got = s.read_bytes(50, true).await.unwrap();
        assert_eq!(&got[..], b"hello");
        raw.write_all(b"world!").unwrap();
        assert_eq!(&s.read_bytes(3, true).await.unwrap()[..], b"wor");
        assert_eq!(&s.read_bytes(3, false).await.unwrap()[..], b"ld!");
    });
}

#[test]
fn read_bytes_waits_for_all_bytes() {
    run(async {
        let (s, mut raw) = tcp_raw().await;
        let reader = tornado_ioloop::spawn({
            let s = s.clone();
            async move { s.read_bytes(6, false).await }
        });
        raw.write_all(b"abc").unwrap();
        sleep(Duration::from_millis(10)).await;
        raw.write_all(b"def").unwrap();
        assert_eq!(&reader.await.unwrap().unwrap()[..], b"abcdef");
    });
}

#[test]
fn read_into_full_and_partial() {
    run(async {
        let (a, b) = unix_pair();
        a.write(b"0123456789").await.unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(b.read_into(&mut buf, false).await.unwrap(), 4);
        assert_eq!(&buf, b"0123");
        let mut big = [0u8; 100];
        let n = b.read_into(&mut big, true).await.unwrap();
        assert_eq!(&big[..n], b"456789");

        // Served partly from the buffer, partly straight from the socket.
        a.write(b"ab\ncd").await.unwrap();
        assert_eq!(&b.read_until(b"\n", None).await.unwrap()[..], b"ab\n");
        let reader = tornado_ioloop::spawn({
            let b = b.clone();
            async move {
                let mut buf = [0u8; 5];
                let n = b.read_into(&mut buf, false).await.unwrap();
                (n, buf)
            }
        });
        sleep(Duration::from_millis(5)).await;
        a.write(b"efg").await.unwrap();
        let (n, buf) = reader.await.unwrap();
        assert_eq!((n, &buf), (5, b"cdefg"));
    });
}

#[test]
fn read_until_close_returns_everything() {
    run(async {
        let (s, mut raw) = tcp_raw().await;
        let reader = tornado_ioloop::spawn({
            let s = s.clone();
            async move { s.read_until_close().await }
        });
        raw.write_all(b"part one, ").unwrap();
        sleep(Duration::from_millis(5)).await;
        raw.write_all(b"part two").unwrap();
        drop(raw);
        assert_eq!(&reader.await.unwrap().unwrap()[..], b"part one, part two");
        assert!(s.closed());
        assert!(s.error().is_none());
    });
}

#[test]
fn read_until_close_on_an_already_closed_stream_with_data() {
    run(async {
        let (a, b) = unix_pair();
        a.write(b"last words").await.unwrap();
        a.close();
        sleep(Duration::from_millis(5)).await;
        assert_eq!(&b.read_until_close().await.unwrap()[..], b"last words");
        assert!(b.read_until_close().await.unwrap().is_empty());
    });
}

#[test]
fn second_pending_read_is_an_error() {
    run(async {
        let (a, b) = tcp_pair().await;
        let first = b.read_bytes(3, false);
        let err = b.read_until(b"\n", None).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ResourceBusy);
        assert!(b.reading());
        a.write(b"xyz").await.unwrap();
        assert_eq!(&first.await.unwrap()[..], b"xyz");
        assert!(!b.reading());
        // Dropping a pending read frees the slot and keeps the data.
        let dropped = b.read_bytes(10, false);
        drop(dropped);
        a.write(b"123").await.unwrap();
        assert_eq!(&b.read_bytes(3, false).await.unwrap()[..], b"123");
    });
}

/// A read started while an earlier one is still pending on a closed stream (closed
/// under it, and not polled since) fails with the closed error, as Tornado's
/// `_start_read` does, not with "already reading": a caller that takes a closed
/// connection for a normal end would take this for a bug.
#[test]
fn a_second_read_on_a_closed_stream_fails_as_closed() {
    run(async {
        let (a, b) = unix_pair();
        let first = b.read_bytes(3, false);
        drop(a);
        b.close();
        let err = b.read_until(b"\n", None).await.unwrap_err();
        assert!(is_stream_closed(&err), "{err}");
        let mut buf = [0u8; 1];
        let err = b.read_into(&mut buf, false).await.unwrap_err();
        assert!(is_stream_closed(&err), "{err}");
        assert!(is_stream_closed(&first.await.unwrap_err()));
    });
}

#[test]
fn data_sent_before_close_is_still_readable() {
    run(async {
        let (s, mut raw) = tcp_raw().await;
        raw.write_all(b"line 1\nline 2\n").unwrap();
        raw.shutdown(std::net::Shutdown::Both).unwrap();
        drop(raw);
        sleep(Duration::from_millis(20)).await;
        assert_eq!(&s.read_until(b"\n", None).await.unwrap()[..], b"line 1\n");
        assert_eq!(&s.read_until(b"\n", None).await.unwrap()[..], b"line 2\n");
        let err = s.read_until(b"\n", None).await.unwrap_err();
        assert!(is_stream_closed(&err));
        assert_eq!(err.kind(), io::ErrorKind::NotConnected);
        assert!(s.closed());
    });
}

#[test]
fn peer_close_during_pending_read_fails_it() {
    run(async {
        let (s, mut raw) = tcp_raw().await;
        let reader = tornado_ioloop::spawn({
            let s = s.clone();
            async move { s.read_bytes(10, false).await }
        });
        raw.write_all(b"short").unwrap();
        sleep(Duration::from_millis(5)).await;
        drop(raw);
        let err = reader.await.unwrap().unwrap_err();
        assert!(is_stream_closed(&err), "{err}");
        assert_eq!(err.to_string(), "stream is closed");
        // The partial data is still there.
        assert_eq!(s.read_buffer_len(), 5);
    });
}

#[test]
fn local_close_during_pending_read_fails_it() {
    run(async {
        let (_a, b) = unix_pair();
        let reader = tornado_ioloop::spawn({
            let b = b.clone();
            async move { b.read_until(b"\n", None).await }
        });
        sleep(Duration::from_millis(5)).await;
        assert!(b.reading());
        b.close();
        let err = reader.await.unwrap().unwrap_err();
        assert!(is_stream_closed(&err));
    });
}

#[test]
fn reset_connection_reports_the_real_error() {
    run(async {
        let (s, raw) = tcp_raw().await;
        // SO_LINGER 0 makes close send RST.
        let raw = socket2::Socket::from(raw);
        raw.set_linger(Some(Duration::ZERO)).unwrap();
        let reader = tornado_ioloop::spawn({
            let s = s.clone();
            async move { s.read_bytes(1, false).await }
        });
        sleep(Duration::from_millis(5)).await;
        drop(raw);
        let err = reader.await.unwrap().unwrap_err();
        let closed = stream_closed_error(&err).expect("a StreamClosedError");
        assert_eq!(
            closed.real_error().unwrap().kind(),
            io::ErrorKind::ConnectionReset
        );
        assert_eq!(s.error().unwrap().kind(), io::ErrorKind::ConnectionReset);
    });
}

#[test]
fn write_after_close_fails() {
    run(async {
        let (a, _b) = tcp_pair().await;
        a.close();
        let err = a.write(b"x").await.unwrap_err();
        assert!(is_stream_closed(&err));
        assert_eq!(err.kind(), io::ErrorKind::NotConnected);
    });
}

#[test]
fn writes_complete_in_order_and_are_eager() {
    run(async {
        let (s, mut raw) = tcp_raw().await;
        // Not awaited: the data goes out anyway.
        drop(s.write(b"one "));
        let second = s.write(b"two ");
        let third = s.write_bytes(bytes::Bytes::from_static(b"three"));
        second.await.unwrap();
        third.await.unwrap();
        let mut buf = [0u8; 13];
        raw.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"one two three");
    });
}

#[test]
fn large_write_needs_many_writable_events() {
    run(async {
        let (a, b) = tcp_pair().await;
        let data: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        let expected = data.clone();
        let write = a.write(&data);
        // The socket cannot take 8 MB at once.
        assert!(a.write_buffer_len() > 0);
        assert!(a.writing());
        let got = b.read_bytes(expected.len(), false).await.unwrap();
        write.await.unwrap();
        assert!(got[..] == expected[..]);
        assert_eq!(a.write_buffer_len(), 0);
        assert_eq!(a.buffered_capacity(), 0);
    });
}

#[test]
fn large_transfer_with_read_into_chunks() {
    run(async {
        let (a, b) = unix_pair();
        let total = 4 * 1024 * 1024;
        let writer = tornado_ioloop::spawn(async move {
            let chunk = vec![7u8; 100_000];
            let mut sent = 0;
            while sent < total {
                let n = chunk.len().min(total - sent);
                a.write(&chunk[..n]).await.unwrap();
                sent += n;
            }
            a.close();
        });
        let mut buf = vec![0u8; 65536];
        let mut got = 0;
        loop {
            match b.read_into(&mut buf, true).await {
                Ok(n) => {
                    assert!(buf[..n].iter().all(|&c| c == 7));
                    got += n;
                }
                Err(e) => {
                    assert!(is_stream_closed(&e));
                    break;
                }
            }
        }
        writer.await.unwrap();
        assert_eq!(got, total);
    });
}

#[test]
fn close_callback_runs_exactly_once() {
    run(async {
        let (a, b) = tcp_pair().await;
        let count = count_closes(&a);
        a.close();
        a.close();
        drop(b);
        sleep(Duration::from_millis(10)).await;
        assert_eq!(count.get(), 1);
        drop(a);
        sleep(Duration::from_millis(1)).await;
        assert_eq!(count.get(), 1);
    });
}

#[test]
fn idle_peer_close_is_noticed_and_runs_close_callback() {
    run(async {
        let (s, raw) = tcp_raw().await;
        let count = count_closes(&s);
        drop(raw);
        for _ in 0..200 {
            if count.get() > 0 {
                break;
            }
            sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(count.get(), 1);
        assert!(s.closed());
    });
}

/// A peer that closes while a read is pending: the loop reports the hang-up once, the
/// read takes the data it wanted and leaves the end of file in the socket. The stream,
/// idle again, must still notice the close and run its close callback, as Tornado's
/// does (it ran only at the next read, if ever).
#[test]
fn peer_close_seen_during_a_read_is_noticed_once_idle() {
    run(async {
        let (s, mut raw) = tcp_raw().await;
        let count = count_closes(&s);
        let reader = tornado_ioloop::spawn({
            let s = s.clone();
            async move { s.read_until(b"\n", None).await }
        });
        sleep(Duration::from_millis(5)).await;
        raw.write_all(b"last\n").unwrap();
        drop(raw);
        assert_eq!(&reader.await.unwrap().unwrap()[..], b"last\n");
        for _ in 0..100 {
            if count.get() > 0 {
                break;
            }
            sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(count.get(), 1, "the close callback did not run");
        assert!(s.closed());
        assert!(s.error().is_none());
    });
}

/// A peer that sends two lines and half-closes, to a reader that takes the first and
/// works a while before it answers: the stream, idle with the second line buffered,
/// must not read on to the end of file and close under it (Tornado stops listening
/// while data is buffered), or the answer could not be written and the second line's
/// reader would find a closed stream (an HTTP server lost pipelined requests so).
#[test]
fn a_half_close_behind_buffered_data_waits_for_the_reader() {
    run(async {
        let (s, mut raw) = tcp_raw().await;
        let count = count_closes(&s);
        let reader = tornado_ioloop::spawn({
            let s = s.clone();
            async move { s.read_until(b"\n", None).await }
        });
        sleep(Duration::from_millis(5)).await;
        raw.write_all(b"one\ntwo\n").unwrap();
        raw.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(&reader.await.unwrap().unwrap()[..], b"one\n");
        // Working on the first line: the loop has reported the hang-up.
        sleep(Duration::from_millis(30)).await;
        assert_eq!(count.get(), 0, "closed with a line still buffered");
        assert!(!s.closed());
        s.write(b"1\n").await.unwrap();
        assert_eq!(&s.read_until(b"\n", None).await.unwrap()[..], b"two\n");
        s.write(b"2\n").await.unwrap();
        assert!(s.read_until_close().await.unwrap().is_empty());
        for _ in 0..100 {
            if count.get() > 0 {
                break;
            }
            sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(count.get(), 1);
        let mut answers = String::new();
        std::io::Read::read_to_string(&mut raw, &mut answers).unwrap();
        assert_eq!(answers, "1\n2\n");
    });
}

#[test]
fn dropping_the_stream_closes_the_socket() {
    run(async {
        let (s, mut raw) = tcp_raw().await;
        drop(s);
        let mut buf = [0u8; 1];
        assert_eq!(raw.read(&mut buf).unwrap(), 0);
    });
}

#[test]
fn idle_stream_holds_no_buffer() {
    run(async {
        let (a, b) = tcp_pair().await;
        assert_eq!(a.buffered_capacity(), 0);
        assert_eq!(b.buffered_capacity(), 0);
        for i in 0..3 {
            a.write(format!("request {i}\r\n").as_bytes())
                .await
                .unwrap();
            let line = b.read_until(b"\r\n", None).await.unwrap();
            assert_eq!(line, format!("request {i}\r\n").as_bytes());
            assert_eq!(b.buffered_capacity(), 0, "drained read buffer is freed");
            assert_eq!(a.buffered_capacity(), 0, "flushed write buffer is freed");
        }
        // Leftover data keeps the buffer until it is read.
        a.write(b"x\ny").await.unwrap();
        b.read_until(b"\n", None).await.unwrap();
        assert!(b.buffered_capacity() > 0);
        b.read_bytes(1, false).await.unwrap();
        assert_eq!(b.buffered_capacity(), 0);
    });
}

#[test]
fn max_buffer_size_closes_the_stream() {
    run(async {
        let (a, b) = unix_pair();
        b.set_max_buffer_size(1024);
        drop(a.write(&[b'x'; 4096]));
        let err = b.read_until(b"\n", None).await.unwrap_err();
        assert!(is_stream_closed(&err));
        assert!(
            b.error()
                .unwrap()
                .to_string()
                .contains("maximum read buffer size")
        );
    });
}

#[test]
fn read_until_close_over_max_buffer_size_fails() {
    run(async {
        let (a, b) = unix_pair();
        b.set_max_buffer_size(1000);
        drop(a.write(&[b'x'; 3000]));
        a.close();
        let err = b.read_until_close().await.unwrap_err();
        assert!(
            b.error()
                .unwrap()
                .to_string()
                .contains("maximum read buffer size"),
            "{err}"
        );
    });
}

/// A Unix socket whose reads fail once `left` bytes have come, with the kind of error
/// a TLS layer reports for a corrupt record.
#[derive(Debug)]
struct FailingReads {
    socket: mio::net::UnixStream,
    left: usize,
}

impl mio::event::Source for FailingReads {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interest: mio::Interest,
    ) -> io::Result<()> {
        self.socket.register(registry, token, interest)
    }
    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interest: mio::Interest,
    ) -> io::Result<()> {
        self.socket.reregister(registry, token, interest)
    }
    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        self.socket.deregister(registry)
    }
}

impl tornado_iostream::Transport for FailingReads {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "corrupt record"));
        }
        let n = buf.len().min(self.left);
        let n = Read::read(&mut self.socket, &mut buf[..n])?;
        self.left -= n;
        Ok(n)
    }
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Write::write(&mut self.socket, buf)
    }
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
    fn short_read_means_drained(&self) -> bool {
        false
    }
}

/// `read_until_close` resolves with what came only if the stream ended: an error that
/// closes it meanwhile (other than a reset, which Tornado takes for the peer's close)
/// fails the read, as Tornado 6.6's `close` does, instead of handing over data that
/// may have been cut short as if it were all of it. Started after the close, it takes
/// what is buffered.
#[test]
fn read_until_close_fails_when_an_error_closes_the_stream() {
    run(async {
        let (a, b) = mio::net::UnixStream::pair().unwrap();
        let a = IoStream::new(a).unwrap();
        let b = IoStream::new(FailingReads { socket: b, left: 7 }).unwrap();
        let reader = tornado_ioloop::spawn({
            let b = b.clone();
            async move { b.read_until_close().await }
        });
        sleep(Duration::from_millis(5)).await;
        a.write(b"a body cut short").await.unwrap();
        let err = reader.await.unwrap().unwrap_err();
        let closed = stream_closed_error(&err).expect("a StreamClosedError");
        assert_eq!(
            closed.real_error().unwrap().kind(),
            io::ErrorKind::InvalidData
        );
        assert_eq!(&b.read_until_close().await.unwrap()[..], b"a body ");

        // A reset is the peer's close: what came before it is the whole of it.
        let (s, mut raw) = tcp_raw().await;
        let reader = tornado_ioloop::spawn({
            let s = s.clone();
            async move { s.read_until_close().await }
        });
        sleep(Duration::from_millis(5)).await;
        raw.write_all(b"all of it").unwrap();
        sleep(Duration::from_millis(5)).await;
        let raw = socket2::Socket::from(raw);
        raw.set_linger(Some(Duration::ZERO)).unwrap();
        drop(raw);
        assert_eq!(&reader.await.unwrap().unwrap()[..], b"all of it");
        assert_eq!(s.error().unwrap().kind(), io::ErrorKind::ConnectionReset);
    });
}

#[test]
fn max_write_buffer_size_rejects_without_closing() {
    run(async {
        let (a, b) = unix_pair();
        a.set_max_write_buffer_size(Some(100_000));
        // Fill the socket so that writes are buffered, up to the limit.
        let chunk = vec![1u8; 30_000];
        let mut queued = Vec::new();
        while a.write_buffer_len() + chunk.len() <= 100_000 {
            queued.push(a.write(&chunk));
        }
        let err = a.write(&chunk).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert!(err.to_string().contains("maximum write buffer size"));
        assert!(!a.closed());
        // The queued writes still complete once the peer reads.
        let want = 30_000 * queued.len();
        let got = b.read_bytes(want, false).await.unwrap();
        assert_eq!(got.len(), want);
        for w in queued {
            w.await.unwrap();
        }
    });
}

#[test]
fn fill_read_buffer_and_consume() {
    run(async {
        let (s, mut raw) = tcp_raw().await;
        raw.write_all(b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n")
            .unwrap();
        let mut heads = Vec::new();
        while heads.len() < 2 {
            let end =
                s.with_read_buffer(|b| b.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4));
            match end {
                Some(n) => {
                    heads.push(s.take_read_buffer(n));
                }
                None => {
                    if heads.len() == 1 {
                        raw.write_all(b"\r\n").unwrap();
                    }
                    s.fill_read_buffer().await.unwrap();
                }
            }
        }
        assert_eq!(&heads[0][..], b"GET /a HTTP/1.1\r\n\r\n");
        assert_eq!(&heads[1][..], b"GET /b HTTP/1.1\r\n\r\n");
        raw.write_all(b"abc").unwrap();
        assert_eq!(s.fill_read_buffer().await.unwrap(), 3);
        s.consume(2);
        assert_eq!(s.with_read_buffer(|b| b.to_vec()), b"c");
        drop(raw);
        s.consume(1);
        let err = s.fill_read_buffer().await.unwrap_err();
        assert!(is_stream_closed(&err));
    });
}

#[test]
fn connect_refused() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = IoStream::connect(addr).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err:?}");
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    });
}

#[test]
fn set_nodelay_and_addresses() {
    run(async {
        let (a, b) = tcp_pair().await;
        a.set_nodelay(true).unwrap();
        assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
        assert_eq!(a.local_addr().unwrap(), b.peer_addr().unwrap());
        let (u, _v) = unix_pair();
        u.set_nodelay(true).unwrap();
    });
}

#[test]
fn pipe_streams() {
    run(async {
        let (tx, rx) = mio::unix::pipe::new().unwrap();
        let writer = IoStream::new(Pipe::writer(tx)).unwrap();
        let reader = IoStream::new(Pipe::reader(rx)).unwrap();
        writer.write(b"hello\nworld").await.unwrap();
        assert_eq!(
            &reader.read_until(b"\n", None).await.unwrap()[..],
            b"hello\n"
        );
        writer.close();
        assert_eq!(&reader.read_until_close().await.unwrap()[..], b"world");
        // A read-only pipe refuses writes without closing.
        let err = reader.write(b"x").await.unwrap_err();
        assert!(is_stream_closed(&err) || err.kind() == io::ErrorKind::Unsupported);
    });
}

#[test]
fn pipe_pair_both_directions() {
    run(async {
        let (tx1, rx1) = mio::unix::pipe::new().unwrap();
        let (tx2, rx2) = mio::unix::pipe::new().unwrap();
        let a = IoStream::new(Pipe::new(rx1, tx2)).unwrap();
        let b = IoStream::new(Pipe::new(rx2, tx1)).unwrap();
        a.write(b"ping").await.unwrap();
        assert_eq!(&b.read_bytes(4, false).await.unwrap()[..], b"ping");
        b.write(b"pong").await.unwrap();
        assert_eq!(&a.read_bytes(4, false).await.unwrap()[..], b"pong");
        let big = vec![3u8; 1024 * 1024];
        let w = a.write(&big);
        let got = b.read_bytes(big.len(), false).await.unwrap();
        w.await.unwrap();
        assert_eq!(got.len(), big.len());
    });
}

#[test]
fn pipe_writer_notices_reader_gone() {
    run(async {
        let (tx, rx) = mio::unix::pipe::new().unwrap();
        let writer = IoStream::new(Pipe::writer(tx)).unwrap();
        drop(rx);
        let err = writer.write(b"into the void").await.unwrap_err();
        assert!(is_stream_closed(&err));
        assert_eq!(writer.error().unwrap().kind(), io::ErrorKind::BrokenPipe);
    });
}

#[test]
fn detach_gives_the_socket_back() {
    run(async {
        let (s, mut raw) = tcp_raw().await;
        raw.write_all(b"hi\nleft").unwrap();
        assert_eq!(&s.read_until(b"\n", None).await.unwrap()[..], b"hi\n");
        sleep(Duration::from_millis(5)).await;
        let count = Rc::new(Cell::new(0));
        let c = count.clone();
        s.set_close_callback(move || c.set(1));
        let detached = s.detach().unwrap();
        assert!(s.closed());
        let left = detached.read_buffer.clone();
        let tcp: mio::net::TcpStream = detached.downcast().unwrap();
        // Data not yet pulled from the socket would still be in it; what was is here.
        let s2 = IoStream::new(tcp).unwrap();
        raw.write_all(b"!").unwrap();
        let rest = s2.read_bytes(5 - left.len(), false).await.unwrap();
        let mut all = left.to_vec();
        all.extend_from_slice(&rest);
        assert_eq!(all, b"left!");
        sleep(Duration::from_millis(1)).await;
        assert_eq!(count.get(), 0);
    });
}

/// Polls `f` once (pending or not) without waiting.
async fn poll_once<F: std::future::Future + Unpin>(f: &mut F) -> std::task::Poll<F::Output> {
    std::future::poll_fn(|cx| std::task::Poll::Ready(std::pin::Pin::new(&mut *f).poll(cx))).await
}

/// What `read_into` had taken is not lost when the read fails at the peer's close, nor
/// when the read is dropped half filled (a timeout): it goes back to the buffer.
#[test]
fn read_into_gives_back_what_it_took_when_it_does_not_complete() {
    run(async {
        let (a, b) = unix_pair();
        a.write(b"hello").await.unwrap();
        a.close();
        let mut buf = [0u8; 10];
        let err = b.read_into(&mut buf, false).await.unwrap_err();
        assert!(is_stream_closed(&err));
        assert_eq!(b.read_buffer_len(), 5);
        assert_eq!(&b.read_bytes(5, false).await.unwrap()[..], b"hello");

        let (a, b) = unix_pair();
        a.write(b"hello").await.unwrap();
        let mut buf = [0u8; 10];
        {
            let mut read = b.read_into(&mut buf, false);
            assert!(poll_once(&mut read).await.is_pending()); // 5 of 10 bytes
        }
        a.write(b"world").await.unwrap();
        let got = b.read_bytes(10, false).await.unwrap();
        assert_eq!(&got[..], b"helloworld");
    });
}

/// A buffer of exactly `max_buffer_size` is not an overflow (only a byte more is, as in
/// Tornado): the data and the clean end both come through; and after an overflow what
/// was buffered can still be read.
#[test]
fn a_buffer_of_exactly_max_buffer_size_is_no_overflow() {
    run(async {
        let (a, b) = unix_pair();
        b.set_max_buffer_size(10);
        a.write(b"0123456789").await.unwrap();
        a.close();
        assert_eq!(&b.read_until_close().await.unwrap()[..], b"0123456789");

        // Idle with a full buffer, the stream reads no further (as Tornado's, which
        // stops reading while data is buffered): the close is noticed, cleanly, once
        // the data is read.
        let (a, b) = unix_pair();
        b.set_max_buffer_size(10);
        a.write(b"0123456789").await.unwrap();
        a.close();
        let closed = Rc::new(Cell::new(false));
        let flag = closed.clone();
        b.set_close_callback(move || flag.set(true));
        sleep(Duration::from_millis(20)).await;
        assert_eq!(&b.read_bytes(10, false).await.unwrap()[..], b"0123456789");
        while !closed.get() {
            sleep(Duration::from_millis(1)).await;
        }
        assert!(b.error().is_none(), "{:?}", b.error());

        let (a, b) = unix_pair();
        b.set_max_buffer_size(10);
        a.write(b"0123456789ab").await.unwrap();
        let err = b.read_until(b"\n", None).await.unwrap_err();
        assert!(is_stream_closed(&err));
        assert!(
            b.error()
                .unwrap()
                .to_string()
                .contains("maximum read buffer size")
        );
        assert_eq!(&b.read_bytes(4, false).await.unwrap()[..], b"0123");
    });
}

/// A peer that sends more than `max_buffer_size` in lines and closes, to a reader that
/// takes one line at a time and does something else in between: while the stream is
/// idle the loop reports the close, and the stream read on to find it until its buffer
/// overflowed, closing with the buffer-full error and losing the lines still in the
/// socket. Tornado reads no further while data is buffered; every line arrives.
#[test]
fn an_idle_stream_reads_no_more_than_its_buffer_holds() {
    run(async {
        let (a, b) = unix_pair();
        b.set_max_buffer_size(1024);
        let mut sent = Vec::new();
        for i in 0..40 {
            sent.extend_from_slice(format!("{i:099}\n").as_bytes());
        }
        a.write(&sent).await.unwrap();
        a.close();
        let mut got = Vec::new();
        let err = loop {
            match b.read_until(b"\n", None).await {
                Ok(line) => got.extend_from_slice(&line),
                Err(e) => break e,
            }
            sleep(Duration::from_millis(2)).await;
        };
        assert!(is_stream_closed(&err), "{err}");
        assert!(b.error().is_none(), "{:?}", b.error());
        assert_eq!(got.len(), sent.len());
        assert!(got == sent);
    });
}

/// A read owned by the close callback, dropped when the callback is cleared or
/// replaced, frees the stream's reader slot (it was dropped while the stream's state
/// was borrowed, and kept the slot: every later read failed as "already reading").
#[test]
fn a_read_dropped_with_the_close_callback_frees_the_reader() {
    run(async {
        let (a, b) = unix_pair();
        let pending = b.read_bytes(1, false);
        b.set_close_callback(move || drop(pending));
        b.clear_close_callback();
        assert!(!b.reading());
        let pending = b.read_bytes(1, false);
        b.set_close_callback(move || drop(pending));
        b.set_close_callback(|| {});
        assert!(!b.reading());
        a.write(b"x").await.unwrap();
        assert_eq!(&b.read_bytes(1, false).await.unwrap()[..], b"x");
    });
}
