//! `futures-io` AsyncRead / AsyncWrite over IoStream.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;

use futures_io::{AsyncRead, AsyncWrite};
use tornado_iostream::IoStream;

mod common;
use common::{run, tcp_pair};

async fn read(mut s: &IoStream, buf: &mut [u8]) -> io::Result<usize> {
    poll_fn(|cx| Pin::new(&mut s).poll_read(cx, buf)).await
}

async fn write_all(mut s: &IoStream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut s).poll_write(cx, data)).await?;
        data = &data[n..];
    }
    Ok(())
}

#[test]
fn bulk_transfer_with_backpressure_and_eof() {
    run(async {
        let (a, b) = tcp_pair().await;
        let total = 6 * 1024 * 1024;
        let writer = tornado_ioloop::spawn(async move {
            let data: Vec<u8> = (0..total).map(|i| (i % 249) as u8).collect();
            write_all(&a, &data).await.unwrap();
            // Backpressure kept the queue bounded.
            assert!(a.write_buffer_len() <= 256 * 1024 + 1);
            let mut s = &a;
            poll_fn(|cx| Pin::new(&mut s).poll_flush(cx)).await.unwrap();
            assert_eq!(a.write_buffer_len(), 0);
            poll_fn(|cx| Pin::new(&mut s).poll_close(cx)).await.unwrap();
            assert!(a.closed());
        });
        let mut got = Vec::with_capacity(total);
        let mut buf = vec![0u8; 50_000];
        loop {
            let n = read(&b, &mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        writer.await.unwrap();
        assert_eq!(got.len(), total);
        assert!(got.iter().enumerate().all(|(i, &c)| c == (i % 249) as u8));
    });
}

#[test]
fn buffered_data_is_served_first_and_mixing_with_read_futures() {
    run(async {
        let (a, b) = tcp_pair().await;
        a.write(b"line\nrest").await.unwrap();
        assert_eq!(&b.read_until(b"\n", None).await.unwrap()[..], b"line\n");
        let mut buf = [0u8; 16];
        let n = read(&b, &mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"rest");

        // A pending read future excludes AsyncRead.
        let pending = b.read_bytes(1, false);
        let err = read(&b, &mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ResourceBusy);
        drop(pending);
        a.write(b"more").await.unwrap();
        let n = read(&b, &mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"more");
    });
}

#[test]
fn async_write_on_closed_stream_fails() {
    run(async {
        let (a, _b) = tcp_pair().await;
        a.close();
        let err = write_all(&a, b"x").await.unwrap_err();
        assert!(tornado_iostream::is_stream_closed(&err));
        let mut buf = [0u8; 4];
        // Closed locally, without an error: end of file.
        assert_eq!(read(&a, &mut buf).await.unwrap(), 0);
    });
}
