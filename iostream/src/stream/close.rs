//! Closing a stream (by request, end of file, error or limit), the close callback, and
//! detaching the transport for a protocol upgrade.

use std::io;
use std::sync::Arc;

use bytes::Bytes;

use super::io_stream::IoStream;
use super::state::{State, wake};
use crate::error::StreamClosedError;
use crate::transport::Transport;

impl State {
    pub(crate) fn closed_error(&self) -> io::Error {
        StreamClosedError::new(self.error.clone()).into_io_error()
    }

    /// Closes the stream (once): deregisters and drops the transport, wakes every
    /// waiter and schedules the close callback. Buffered read data stays readable.
    pub(crate) fn close(&mut self, cause: Option<io::Error>) {
        if self.closed {
            return;
        }
        self.closed = true;
        if let Some(e) = cause {
            log::debug!("closing stream: {e}");
            self.error = Some(Arc::new(e));
        }
        if let Some(mut t) = self.transport.take() {
            self.handshake_done = !t.is_handshaking();
            if let Some(id) = self.handler.take()
                && let Err(e) = self.io_loop.remove_handler(id, &mut *t)
            {
                log::debug!("removing a closed stream's handler: {e}");
            }
            t.on_close();
        }
        self.read_ready = false;
        self.write_ready = false;
        self.wbuf.release();
        wake(&mut self.read_waker);
        wake(&mut self.aux_waker);
        for (_, w) in self.write_waiters.drain(..) {
            w.wake();
        }
        if self.reader.is_none() {
            self.rbuf.release_if_empty();
        }
        if let Some(cb) = self.close_callback.take() {
            self.io_loop.add_callback(cb);
        }
    }
}

impl IoStream {
    /// Closes the stream: pending reads fail (unless the buffered data satisfies them),
    /// pending writes fail, queued output is dropped, and the close callback is
    /// scheduled. Closing a closed stream does nothing.
    pub fn close(&self) {
        self.shared.state.borrow_mut().close(None);
    }

    /// Half-closes: stops sending (the peer reads an end of file) while reading goes on.
    /// Fails if the stream is closed, if output is still queued (flush first), or if
    /// the transport cannot half-close (`Unsupported`).
    pub fn shutdown_write(&self) -> io::Result<()> {
        let mut st = self.shared.state.borrow_mut();
        if st.closed {
            return Err(st.closed_error());
        }
        if !st.wbuf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "output is still queued: flush before shutdown_write",
            ));
        }
        match st.transport.as_mut() {
            Some(t) => t.shutdown_write(),
            None => Err(st.closed_error()),
        }
    }

    /// True once the stream is closed (by [`close`](IoStream::close), end of file or an
    /// error). Data received before that may still be buffered and readable.
    pub fn closed(&self) -> bool {
        self.shared.state.borrow().closed
    }

    /// The error that closed the stream, if one did (`None` for a clean close).
    pub fn error(&self) -> Option<Arc<io::Error>> {
        self.shared.state.borrow().error.clone()
    }

    /// Sets the function run (once, on the loop) when the stream closes; it replaces a
    /// previous one. If the stream is already closed it is scheduled at once.
    pub fn set_close_callback<F: FnOnce() + 'static>(&self, callback: F) {
        let mut st = self.shared.state.borrow_mut();
        if st.closed {
            st.io_loop.add_callback(callback);
        } else {
            st.close_callback = Some(Box::new(callback));
        }
    }

    /// Removes the close callback, if any.
    pub fn clear_close_callback(&self) {
        self.shared.state.borrow_mut().close_callback = None;
    }

    /// Takes the transport back (for a protocol upgrade): deregisters it and leaves this
    /// stream closed, without running the close callback. Fails if a read is pending or
    /// output is still queued. Data already buffered comes along in
    /// [`Detached::read_buffer`].
    pub fn detach(&self) -> io::Result<Detached> {
        let mut st = self.shared.state.borrow_mut();
        if st.closed {
            return Err(st.closed_error());
        }
        if st.reader.is_some() || !st.wbuf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::ResourceBusy,
                "cannot detach a stream with a pending read or queued output",
            ));
        }
        let Some(mut transport) = st.transport.take() else {
            return Err(st.closed_error());
        };
        if let Some(id) = st.handler.take() {
            st.io_loop.remove_handler(id, &mut *transport)?;
        }
        st.close_callback = None;
        let n = st.rbuf.len();
        let read_buffer = st.rbuf.take(n);
        st.rbuf.release_if_empty();
        st.close(None);
        Ok(Detached {
            transport,
            read_buffer,
        })
    }
}

/// A transport taken back from a stream by [`IoStream::detach`].
#[derive(Debug)]
pub struct Detached {
    /// The transport, deregistered from the loop.
    pub transport: Box<dyn Transport>,
    /// Data the stream had received and nobody had read.
    pub read_buffer: Bytes,
}

impl Detached {
    /// The transport as its concrete type (e.g. `mio::net::TcpStream`), or `None` if it is
    /// another type.
    pub fn downcast<T: Transport>(self) -> Option<T> {
        self.transport.into_any().downcast::<T>().ok().map(|b| *b)
    }
}
