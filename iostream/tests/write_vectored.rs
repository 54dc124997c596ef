//! `IoStream::write_vectored`: pieces written as one, in order, over real loopback
//! sockets, a Unix socket pair and a pipe; what the socket does not take is queued,
//! shared bytes without copying.

use std::io::{self, Read};
use std::net::TcpListener;
use std::time::Duration;

use bytes::Bytes;
use tornado_iostream::{IoStream, Pipe, WritePart};

mod common;
use common::{run, tcp_raw};

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(seed) % 251) as u8)
        .collect()
}

#[test]
fn header_and_payload_go_out_together_in_order() {
    run(async {
        let (s, mut raw) = tcp_raw().await;
        let payload = Bytes::from(pattern(1000, 7));
        s.write_vectored(&[WritePart::from(&b"head"[..]), WritePart::from(&payload)])
            .await
            .unwrap();
        // Nothing was queued: the socket took it all, and no reference was kept.
        assert_eq!(s.write_buffer_len(), 0);
        assert!(payload.is_unique());
        let mut got = vec![0u8; 1004];
        raw.read_exact(&mut got).unwrap();
        assert_eq!(&got[..4], b"head");
        assert_eq!(&got[4..], &payload[..]);
    });
}

#[test]
fn a_partial_write_queues_the_payload_without_copying_it() {
    run(async {
        let (s, raw) = tcp_raw().await;
        // Far more than the socket buffers take: the peer is not reading yet.
        let head = pattern(3, 3);
        let payload = Bytes::from(pattern(32 * 1024 * 1024, 11));
        let before = s.write(b"first:");
        let write = s.write_vectored(&[WritePart::from(&head[..]), WritePart::from(&payload)]);
        let after = s.write_bytes(Bytes::from_static(b":last"));
        let queued = s.write_buffer_len();
        assert!(queued > 0, "the socket took 32 MiB at once");
        assert!(queued < payload.len() + 5 + 3);
        // The stream holds the rest of the payload by reference, not as a copy.
        assert!(!payload.is_unique());

        let total = 6 + head.len() + payload.len() + 5;
        let reader = std::thread::spawn(move || {
            let mut raw = raw;
            let mut got = vec![0u8; total];
            raw.read_exact(&mut got).unwrap();
            got
        });
        before.await.unwrap();
        write.await.unwrap();
        after.await.unwrap();
        assert_eq!(s.write_buffer_len(), 0);
        assert!(payload.is_unique(), "the stream let go of the payload");
        let got = reader.join().unwrap();
        let mut expected = b"first:".to_vec();
        expected.extend_from_slice(&head);
        expected.extend_from_slice(&payload);
        expected.extend_from_slice(b":last");
        assert!(got == expected, "the bytes arrived out of order");
    });
}

#[test]
fn many_parts_and_empty_ones_are_written_whole() {
    run(async {
        let (s, mut raw) = tcp_raw().await;
        // More parts than one vectored write offers, some of them empty.
        let chunks: Vec<Bytes> = (0..200u32)
            .map(|i| Bytes::from(pattern((i % 5) as usize * 100, i + 1)))
            .collect();
        let sep = b"|";
        let mut parts = Vec::new();
        let mut expected = Vec::new();
        for c in &chunks {
            parts.push(WritePart::from(&sep[..]));
            parts.push(WritePart::from(c));
            expected.extend_from_slice(sep);
            expected.extend_from_slice(c);
        }
        parts.push(WritePart::Slice(&[]));
        s.write_vectored(&parts).await.unwrap();
        s.write_vectored(&[]).await.unwrap();
        let mut got = vec![0u8; expected.len()];
        raw.read_exact(&mut got).unwrap();
        assert!(got == expected);
    });
}

#[test]
fn vectored_writes_over_a_unix_socket_and_a_pipe() {
    run(async {
        let (a, b) = mio::net::UnixStream::pair().unwrap();
        let (a, b) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
        let payload = Bytes::from(pattern(1 << 20, 13));
        let w = a.write_vectored(&[WritePart::from(&b"unix"[..]), WritePart::from(&payload)]);
        let got = b.read_bytes(4 + payload.len(), false).await.unwrap();
        w.await.unwrap();
        assert_eq!(&got[..4], b"unix");
        assert!(got[4..] == payload[..]);

        let (sender, receiver) = mio::unix::pipe::new().unwrap();
        let tx = IoStream::new(Pipe::writer(sender)).unwrap();
        let rx = IoStream::new(Pipe::reader(receiver)).unwrap();
        let w = tx.write_vectored(&[WritePart::from(&b"pipe"[..]), WritePart::from(&payload)]);
        let got = rx.read_bytes(4 + payload.len(), false).await.unwrap();
        w.await.unwrap();
        assert_eq!(&got[..4], b"pipe");
        assert!(got[4..] == payload[..]);
    });
}

#[test]
fn the_write_buffer_limit_counts_every_part() {
    run(async {
        let (s, _raw) = tcp_raw().await;
        s.set_max_write_buffer_size(Some(100_000));
        let big = Bytes::from(vec![0u8; 60_000]);
        // 120 KB in all cannot be queued, even though each part could.
        let err = s
            .write_vectored(&[WritePart::from(&big), WritePart::from(&big)])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert!(!s.closed());
    });
}

#[test]
fn writing_a_closed_stream_fails() {
    run(async {
        let (s, _raw) = tcp_raw().await;
        s.close();
        let payload = Bytes::from_static(b"late");
        let err = s
            .write_vectored(&[WritePart::from(&b"x"[..]), WritePart::from(&payload)])
            .await
            .unwrap_err();
        assert!(tornado_iostream::is_stream_closed(&err));
    });
}

/// A transport of a user's that wraps a socket with `read` and `write` alone: its
/// `write_vectored` is the trait's default, which writes one buffer a call.
#[derive(Debug)]
struct OneAtATime(mio::net::TcpStream);

impl mio::event::Source for OneAtATime {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        self.0.register(registry, token, interests)
    }
    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        self.0.reregister(registry, token, interests)
    }
    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        self.0.deregister(registry)
    }
}

impl tornado_iostream::Transport for OneAtATime {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        io::Read::read(&mut self.0, buf)
    }
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        io::Write::write(&mut self.0, buf)
    }
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

#[test]
fn a_transport_without_vectored_writes_gets_everything_one_piece_at_a_time() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        client.set_nonblocking(true).unwrap();
        let (raw, _) = listener.accept().unwrap();
        raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let s = IoStream::new(OneAtATime(mio::net::TcpStream::from_std(client))).unwrap();

        // Several pieces at once on an idle socket, then more than it buffers (the peer
        // is not reading yet), then pieces queued behind that: a short write of the
        // first piece alone must not be taken for a full socket, or the rest would
        // wait for a writable event that never comes.
        let small = Bytes::from(pattern(100, 5));
        let big = Bytes::from(pattern(8 * 1024 * 1024, 13));
        let w1 = s.write_vectored(&[WritePart::from(&b"a:"[..]), WritePart::from(&small)]);
        let w2 = s.write_bytes(big.clone());
        let w3 = s.write(b":tail");
        let w4 = s.write_vectored(&[WritePart::from(&b"<"[..]), WritePart::from(&b">"[..])]);
        assert!(s.write_buffer_len() > 0, "the socket took 8 MiB at once");

        let total = 2 + small.len() + big.len() + 5 + 2;
        let reader = std::thread::spawn(move || {
            let mut raw = raw;
            let mut got = vec![0u8; total];
            raw.read_exact(&mut got).unwrap();
            got
        });
        for w in [w1, w2, w3, w4] {
            w.await.unwrap();
        }
        let got = reader.join().unwrap();
        let mut expected = b"a:".to_vec();
        expected.extend_from_slice(&small);
        expected.extend_from_slice(&big);
        expected.extend_from_slice(b":tail<>");
        assert!(got == expected, "the bytes arrived out of order");
    });
}

#[test]
fn a_flush_of_more_queued_pieces_than_one_writev_takes_keeps_their_order() {
    run(async {
        let (s, raw) = tcp_raw().await;
        // The peer is not reading: the first piece fills the socket, and the 300 after
        // it wait as separate chunks, more than one vectored write offers (64).
        let big = Bytes::from(pattern(8 * 1024 * 1024, 17));
        let mut writes = vec![s.write_bytes(big.clone())];
        let pieces: Vec<Bytes> = (0..300u32)
            .map(|i| Bytes::from(pattern(100 + i as usize, i + 2)))
            .collect();
        for piece in &pieces {
            writes.push(s.write_bytes(piece.clone()));
        }
        assert!(s.write_buffer_len() > pieces.iter().map(Bytes::len).sum::<usize>());

        let mut expected = big.to_vec();
        for piece in &pieces {
            expected.extend_from_slice(piece);
        }
        let total = expected.len();
        let reader = std::thread::spawn(move || {
            let mut raw = raw;
            let mut got = vec![0u8; total];
            raw.read_exact(&mut got).unwrap();
            got
        });
        for w in writes {
            w.await.unwrap();
        }
        assert_eq!(s.write_buffer_len(), 0);
        assert!(
            reader.join().unwrap() == expected,
            "the bytes arrived out of order"
        );
    });
}
