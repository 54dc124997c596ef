//! `futures-io`'s [`AsyncRead`] and [`AsyncWrite`] for [`IoStream`], so protocol crates
//! written against those traits run over an `IoStream` (plain or TLS).
//!
//! * `poll_read` serves buffered data first, then reads the transport straight into the
//!   caller's buffer. End of file is `Ok(0)`; a stream closed by an error gives the
//!   closed error. It fails while a Tornado-style read future is pending.
//! * `poll_write` queues like [`IoStream::write`] and pushes back (`Pending`) while more
//!   than [`WRITE_HIGH_WATER`] bytes wait in the write buffer.
//! * `poll_flush` waits until everything written has reached the transport;
//!   `poll_close` flushes, then closes the stream.
//!
//! Both traits are also implemented for `&IoStream`, so one task can read while another
//! writes through clones or shared references.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use crate::stream::IoStream;

/// How many queued bytes make `poll_write` return `Pending`: 256 KiB.
pub const WRITE_HIGH_WATER: usize = 256 * 1024;

impl AsyncRead for &IoStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_read_into(cx, buf)
    }
}

impl AsyncRead for IoStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_read_into(cx, buf)
    }
}

impl AsyncWrite for &IoStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_from(cx, buf, WRITE_HIGH_WATER)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_all(cx)
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        close_after_flush(this, cx)
    }
}

impl AsyncWrite for IoStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_from(cx, buf, WRITE_HIGH_WATER)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_all(cx)
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        close_after_flush(self.get_mut(), cx)
    }
}

fn close_after_flush(stream: &IoStream, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    if stream.closed() {
        return Poll::Ready(Ok(()));
    }
    match stream.poll_flush_all(cx) {
        Poll::Pending => Poll::Pending,
        Poll::Ready(res) => {
            stream.close();
            Poll::Ready(res)
        }
    }
}
