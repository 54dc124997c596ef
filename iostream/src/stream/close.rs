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
        // What the transport has sent counts as written; what it still holds (TLS
        // records, plaintext waiting for the handshake) is lost with it, and the
        // writes waiting for it fail.
        self.update_confirmed();
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
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::{IoStream, is_stream_closed};
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let (a, b) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
    ///     let pending = a.read_bytes(1, false);
    ///     a.close();
    ///     a.close(); // a second close does nothing
    ///     assert!(is_stream_closed(&pending.await.unwrap_err()));
    ///     assert!(is_stream_closed(&a.write(b"too late").await.unwrap_err()));
    ///     assert!(a.error().is_none()); // closed on request, not by an error
    ///     // The peer reads an end of file.
    ///     assert!(b.read_until_close().await.unwrap().is_empty());
    /// });
    /// ```
    pub fn close(&self) {
        self.shared.state.borrow_mut().close(None);
    }

    /// Half-closes: stops sending (the peer reads an end of file) while reading goes on.
    /// Fails if the stream is closed, if output is still queued (flush first), or if
    /// the transport cannot half-close (`Unsupported`).
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let stream = IoStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (mut peer, _) = listener.accept().unwrap();
    ///
    ///     stream.write(b"request").await.unwrap();
    ///     stream.shutdown_write().unwrap();
    ///     // The peer reads to the end of file...
    ///     let mut got = Vec::new();
    ///     peer.read_to_end(&mut got).unwrap();
    ///     assert_eq!(got, b"request");
    ///     // ...and can still answer.
    ///     peer.write_all(b"reply").unwrap();
    ///     assert_eq!(&stream.read_bytes(5, false).await.unwrap()[..], b"reply");
    /// });
    /// ```
    pub fn shutdown_write(&self) -> io::Result<()> {
        let mut st = self.shared.state.borrow_mut();
        if st.closed {
            return Err(st.closed_error());
        }
        // Output the transport holds itself (TLS records the socket has not taken) is
        // queued output too: its end notice would otherwise be queued after it, and
        // the socket never half-closed.
        let pending = st
            .transport
            .as_ref()
            .is_some_and(|t| t.has_pending_output());
        if !st.wbuf.is_empty() || pending {
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
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::{IoStream, is_stream_closed};
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let (a, b) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
    ///     assert!(!b.closed());
    ///     a.write(b"last words").await.unwrap();
    ///     a.close();
    ///     // More than will ever come: the read meets the end of file and fails...
    ///     let err = b.read_bytes(100, false).await.unwrap_err();
    ///     assert!(is_stream_closed(&err) && b.closed());
    ///     // ...but what did come can still be read.
    ///     assert_eq!(&b.read_bytes(10, false).await.unwrap()[..], b"last words");
    /// });
    /// ```
    pub fn closed(&self) -> bool {
        self.shared.state.borrow().closed
    }

    /// The error that closed the stream, if one did (`None` for a clean close).
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::{IoStream, is_unsatisfiable_read};
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let (a, b) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
    ///     assert!(b.error().is_none()); // open
    ///     a.write(b"no line end within 8 bytes").await.unwrap();
    ///     let _ = b.read_until(b"\n", Some(8)).await;
    ///     // The limit closed `b`; its error says why.
    ///     let cause = b.error().unwrap();
    ///     assert!(is_unsatisfiable_read(&cause));
    ///     assert_eq!(cause.kind(), std::io::ErrorKind::InvalidData);
    /// });
    /// ```
    pub fn error(&self) -> Option<Arc<io::Error>> {
        self.shared.state.borrow().error.clone()
    }

    /// Sets the function run (once, on the loop) when the stream closes; it replaces a
    /// previous one. If the stream is already closed it is scheduled at once.
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let (a, b) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
    ///     let peer_gone = Rc::new(Cell::new(false));
    ///     let flag = peer_gone.clone();
    ///     b.set_close_callback(move || flag.set(true));
    ///
    ///     drop(a); // the last handle: `a` closes, and `b` sees the end of file
    ///     while !peer_gone.get() {
    ///         tornado_ioloop::yield_now().await;
    ///     }
    ///     assert!(b.closed());
    /// });
    /// ```
    pub fn set_close_callback<F: FnOnce() + 'static>(&self, callback: F) {
        let mut st = self.shared.state.borrow_mut();
        let replaced = if st.closed {
            st.io_loop.add_callback(callback);
            None
        } else {
            st.close_callback.replace(Box::new(callback))
        };
        // A callback is user code: what it owns (a pending read, say) is dropped once
        // the stream's state is free again.
        drop(st);
        drop(replaced);
    }

    /// Removes the close callback, if any.
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let (a, _b) = mio::net::UnixStream::pair().unwrap();
    ///     let a = IoStream::new(a).unwrap();
    ///     let ran = Rc::new(Cell::new(false));
    ///     let flag = ran.clone();
    ///     a.set_close_callback(move || flag.set(true));
    ///     assert_eq!(Rc::strong_count(&ran), 2); // the callback holds `flag`
    ///
    ///     a.clear_close_callback();
    ///     assert_eq!(Rc::strong_count(&ran), 1); // dropped, never to run
    ///     a.close();
    ///     tornado_ioloop::yield_now().await;
    ///     assert!(!ran.get());
    /// });
    /// ```
    pub fn clear_close_callback(&self) {
        // Dropped outside the state's borrow (see `set_close_callback`).
        let cleared = self.shared.state.borrow_mut().close_callback.take();
        drop(cleared);
    }

    /// Takes the transport back (for a protocol upgrade): deregisters it and leaves this
    /// stream closed, without running the close callback. Fails if a read is pending or
    /// output is still queued. Data already buffered comes along in
    /// [`Detached::read_buffer`].
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let (a, b) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
    ///     a.write(b"HTTP/1.1 101 Switching Protocols\r\n\r\nframe").await.unwrap();
    ///     let head = b.read_until(b"\r\n\r\n", None).await.unwrap();
    ///     assert!(head.starts_with(b"HTTP/1.1 101"));
    ///
    ///     // Not while a read is pending.
    ///     let pending = b.read_bytes(1, false);
    ///     assert_eq!(b.detach().unwrap_err().kind(), std::io::ErrorKind::ResourceBusy);
    ///     drop(pending);
    ///
    ///     // The upgraded protocol takes the socket, and the bytes that came after the head.
    ///     let detached = b.detach().unwrap();
    ///     assert!(b.closed());
    ///     assert_eq!(&detached.read_buffer[..], b"frame");
    /// });
    /// ```
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
        let callback = st.close_callback.take();
        let n = st.rbuf.len();
        let read_buffer = st.rbuf.take(n);
        st.rbuf.release_if_empty();
        st.close(None);
        // Dropped outside the state's borrow (see `set_close_callback`).
        drop(st);
        drop(callback);
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
    ///
    /// ```
    /// use std::io::Write;
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let (a, b) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
    ///     let detached = b.detach().unwrap();
    ///     let mut socket: mio::net::UnixStream = detached.downcast().unwrap();
    ///     socket.write_all(b"raw").unwrap(); // the socket itself, no stream around it
    ///     assert_eq!(&a.read_bytes(3, false).await.unwrap()[..], b"raw");
    ///
    ///     // Asking for another type gives nothing.
    ///     let (c, _d) = mio::net::UnixStream::pair().unwrap();
    ///     let detached = IoStream::new(c).unwrap().detach().unwrap();
    ///     assert!(detached.downcast::<mio::net::TcpStream>().is_none());
    /// });
    /// ```
    pub fn downcast<T: Transport>(self) -> Option<T> {
        self.transport.into_any().downcast::<T>().ok().map(|b| *b)
    }
}
