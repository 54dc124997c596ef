//! The [`IoStream`] handle: creation, connecting, options, layering TLS, and the loop's
//! readiness handler.

use std::cell::{Ref, RefCell};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::task::{Context, Poll};

use mio::Interest;
use tornado_ioloop::{IoLoop, Ready};

use super::state::{DEFAULT_MAX_BUFFER_SIZE, READ_BUDGET, Shared, State, copy_error, wake};
use crate::buffer::{INITIAL_READ_SIZE, ReadBuffer, WriteBuffer};
use crate::transport::Transport;

/// A buffered, non-blocking stream over a [`Transport`]: Tornado's `IOStream`.
///
/// `IoStream` is a cheap handle (`Rc`); clones refer to the same stream, which lives until
/// the last handle and future are dropped (dropping it closes it). It belongs to the
/// loop that was current when it was created and must be used on that loop's thread.
///
/// ```
/// use tornado_ioloop::IoLoop;
/// use tornado_iostream::IoStream;
///
/// let io_loop = IoLoop::new().unwrap();
/// io_loop.run_sync(async {
///     let (a, b) = mio::net::UnixStream::pair().unwrap();
///     let (a, b) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
///     a.write(b"GET / HTTP/1.0\r\n\r\nbody").await.unwrap();
///     let head = b.read_until(b"\r\n\r\n", Some(64 * 1024)).await.unwrap();
///     assert_eq!(&head[..], b"GET / HTTP/1.0\r\n\r\n");
///     let body = b.read_bytes(4, false).await.unwrap();
///     assert_eq!(&body[..], b"body");
/// });
/// ```
#[derive(Clone)]
pub struct IoStream {
    pub(super) shared: Rc<Shared>,
}

impl fmt::Debug for IoStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.shared.state.try_borrow() {
            Ok(st) => f
                .debug_struct("IoStream")
                .field("transport", &st.transport)
                .field("closed", &st.closed)
                .field("read_buffered", &st.rbuf.len())
                .field("write_buffered", &st.wbuf.len())
                .field("reading", &st.reader.is_some())
                .finish_non_exhaustive(),
            Err(_) => f.debug_struct("IoStream").finish_non_exhaustive(),
        }
    }
}

impl State {
    /// The loop's handler: readiness for the transport.
    fn on_ready(&mut self, ready: Ready) {
        if self.closed {
            return;
        }
        let hup = ready.is_read_closed() || ready.is_error();
        if ready.is_readable() || hup {
            self.read_ready = true;
            self.read_closed |= hup;
            wake(&mut self.read_waker);
            self.wake_readiness_waiters();
        }
        if ready.is_writable() || ready.is_write_closed() || ready.is_error() {
            self.write_ready = true;
            self.wake_readiness_waiters();
            if !self.wbuf.is_empty()
                || self
                    .transport
                    .as_ref()
                    .is_some_and(|t| t.has_pending_output())
            {
                self.flush();
            }
        }
        self.read_while_idle();
    }

    /// Nobody is reading: reads anyway to notice the peer closing (so the close
    /// callback runs) or to move a TLS handshake along, once the loop reported a
    /// hang-up (or during a handshake). `read_closed` is sticky, so a hang-up seen while
    /// output was queued, or while a read was pending, is acted on once the stream is
    /// idle again (the loop reports it only once).
    ///
    /// Only while nothing is buffered (as Tornado, which stops listening while unread
    /// data is buffered): what is there is for a reader to come, and the close is found
    /// after it, by that reader. So a peer that sends pipelined requests and half-closes
    /// has them all read, and a full buffer is no overflow; the rest stays in the
    /// socket. A TLS handshake reads on while the buffer has room.
    pub(super) fn read_while_idle(&mut self) {
        if self.closed || self.reader.is_some() || !self.read_ready || !self.wbuf.is_empty() {
            return;
        }
        let Some(t) = self.transport.as_ref() else {
            return;
        };
        if !(self.read_closed || t.is_handshaking()) {
            return;
        }
        if !t.can_read() {
            self.close(Some(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the other end of the pipe was closed",
            )));
            return;
        }
        let room = if t.is_handshaking() {
            self.max_buffer_size
        } else {
            1
        };
        let mut budget = READ_BUDGET;
        while self.read_ready && !self.closed && budget > 0 && self.rbuf.len() < room {
            budget -= 1;
            self.fill_once();
        }
    }
}

impl IoStream {
    /// Wraps `transport` (for example a connected `mio::net::TcpStream`) and registers it
    /// with the current loop ([`IoLoop::current`]).
    ///
    /// ```
    /// use std::io::Write;
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let socket = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    ///     socket.set_nonblocking(true).unwrap(); // a transport must not block
    ///     let stream = IoStream::new(mio::net::TcpStream::from_std(socket)).unwrap();
    ///     let (mut peer, _) = listener.accept().unwrap();
    ///     peer.write_all(b"hi").unwrap();
    ///     assert_eq!(&stream.read_bytes(2, false).await.unwrap()[..], b"hi");
    /// });
    /// ```
    pub fn new<T: Transport>(transport: T) -> io::Result<IoStream> {
        IoStream::from_boxed(Box::new(transport))
    }

    /// Like [`new`](IoStream::new), for an already boxed transport (as
    /// [`Detached`](crate::Detached) gives back).
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::{IoStream, Transport};
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let a: Box<dyn Transport> = Box::new(a);
    ///     let (a, b) = (IoStream::from_boxed(a).unwrap(), IoStream::new(b).unwrap());
    ///     a.write(b"one").await.unwrap();
    ///     assert_eq!(&b.read_bytes(3, false).await.unwrap()[..], b"one");
    ///
    ///     // A detached transport goes back into a new stream.
    ///     let detached = b.detach().unwrap();
    ///     let b = IoStream::from_boxed(detached.transport).unwrap();
    ///     a.write(b"two").await.unwrap();
    ///     assert_eq!(&b.read_bytes(3, false).await.unwrap()[..], b"two");
    /// });
    /// ```
    pub fn from_boxed(transport: Box<dyn Transport>) -> io::Result<IoStream> {
        IoStream::with_transport(transport, true)
    }

    fn with_transport(mut transport: Box<dyn Transport>, writable: bool) -> io::Result<IoStream> {
        let io_loop = IoLoop::current();
        let shared = Rc::new_cyclic(|weak: &Weak<Shared>| {
            let weak = weak.clone();
            let handler = io_loop.add_handler(
                &mut *transport,
                Interest::READABLE | Interest::WRITABLE,
                move |ready| {
                    if let Some(shared) = weak.upgrade() {
                        shared.state.borrow_mut().on_ready(ready);
                    }
                },
            );
            let (handler, error) = match handler {
                Ok(id) => (Some(id), None),
                Err(e) => (None, Some(e)),
            };
            let mut state = State {
                io_loop: io_loop.clone(),
                transport: Some(transport),
                handler,
                rbuf: ReadBuffer::default(),
                read_size: INITIAL_READ_SIZE as u32,
                read_ready: true,
                read_closed: false,
                write_ready: writable,
                reader: None,
                next_reader: std::num::NonZeroU64::MIN,
                read_waker: None,
                wbuf: WriteBuffer::default(),
                queued: 0,
                written: 0,
                confirmed: 0,
                write_waiters: Vec::new(),
                max_buffer_size: DEFAULT_MAX_BUFFER_SIZE,
                max_write_buffer_size: usize::MAX,
                closed: false,
                handshake_done: false,
                eof_truncated: false,
                readiness_waiters: false,
                error: None,
                close_callback: None,
            };
            if let Some(e) = error {
                state.closed = true;
                state.error = Some(Arc::new(e));
                state.transport = None;
            }
            Shared {
                state: RefCell::new(state),
            }
        });
        let err = {
            let st = shared.state.borrow();
            st.error.as_ref().map(|e| copy_error(e))
        };
        match err {
            Some(e) => Err(e),
            None => Ok(IoStream { shared }),
        }
    }

    /// Connects a TCP stream to `addr` without blocking (Tornado's `IOStream.connect`).
    ///
    /// Fails with the connect error (`ConnectionRefused`, …). For name resolution,
    /// happy eyeballs and timeouts use `TcpClient`.
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let stream = IoStream::connect(addr).await.unwrap();
    ///     assert_eq!(stream.peer_addr().unwrap(), addr);
    ///
    ///     // Nobody listens there any more: the connect error itself.
    ///     drop(listener);
    ///     let err = IoStream::connect(addr).await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    /// });
    /// ```
    pub async fn connect(addr: SocketAddr) -> io::Result<IoStream> {
        let socket = mio::net::TcpStream::connect(addr)?;
        let stream = IoStream::with_transport(Box::new(socket), false)?;
        std::future::poll_fn(|cx| stream.poll_connected(cx)).await?;
        Ok(stream)
    }

    fn poll_connected(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut st = self.shared.state.borrow_mut();
        if st.closed {
            // Report the connect error itself (`ConnectionRefused`, …).
            return Poll::Ready(Err(match &st.error {
                Some(e) => copy_error(e),
                None => st.closed_error(),
            }));
        }
        if !st.write_ready {
            st.wait_for_readiness(cx);
            return Poll::Pending;
        }
        let Some(t) = st.transport.as_ref() else {
            return Poll::Ready(Err(st.closed_error()));
        };
        let failed = match t.take_error() {
            Ok(Some(e)) | Err(e) => Some(e),
            Ok(None) => match t.peer_addr() {
                Ok(_) => None,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    st.write_ready = false;
                    st.wait_for_readiness(cx);
                    return Poll::Pending;
                }
                Err(e) => Some(e),
            },
        };
        match failed {
            None => Poll::Ready(Ok(())),
            Some(e) => {
                let copy = copy_error(&e);
                st.close(Some(e));
                Poll::Ready(Err(copy))
            }
        }
    }

    /// Heap bytes held by the read and write buffers: zero for an idle stream.
    pub fn buffered_capacity(&self) -> usize {
        let st = self.shared.state.borrow();
        st.rbuf.capacity() + st.wbuf.capacity()
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm) on TCP streams; does nothing on
    /// other transports or on a closed stream.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        match self.shared.state.borrow().transport.as_ref() {
            Some(t) => t.set_nodelay(nodelay),
            None => Ok(()),
        }
    }

    /// The limit on buffered incoming data ([`DEFAULT_MAX_BUFFER_SIZE`] unless set).
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::{DEFAULT_MAX_BUFFER_SIZE, IoStream};
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let (a, _b) = mio::net::UnixStream::pair().unwrap();
    ///     let stream = IoStream::new(a).unwrap();
    ///     assert_eq!(stream.max_buffer_size(), DEFAULT_MAX_BUFFER_SIZE);
    ///     stream.set_max_buffer_size(0);
    ///     assert_eq!(stream.max_buffer_size(), 1); // never below one byte
    /// });
    /// ```
    pub fn max_buffer_size(&self) -> usize {
        self.shared.state.borrow().max_buffer_size
    }

    /// Sets the limit on buffered incoming data (at least 1 byte).
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::{IoStream, is_stream_closed};
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let (a, b) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
    ///     b.set_max_buffer_size(8);
    ///     a.write(b"sixteen bytes!!!").await.unwrap();
    ///     a.close();
    ///     // Reading it all would need a buffer of 16 bytes: the limit closes `b`.
    ///     let err = b.read_until_close().await.unwrap_err();
    ///     assert!(is_stream_closed(&err));
    ///     let cause = b.error().unwrap();
    ///     assert_eq!(cause.to_string(), "reached maximum read buffer size (8 bytes)");
    /// });
    /// ```
    pub fn set_max_buffer_size(&self, max: usize) {
        self.shared.state.borrow_mut().max_buffer_size = max.max(1);
    }

    /// Sets the limit on queued outgoing data (`None`, the default, for no limit).
    ///
    /// ```
    /// use tornado_ioloop::IoLoop;
    /// use tornado_iostream::IoStream;
    ///
    /// IoLoop::new().unwrap().run_sync(async {
    ///     let (a, b) = mio::net::UnixStream::pair().unwrap();
    ///     let (a, b) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
    ///     a.set_max_write_buffer_size(Some(4));
    ///     let err = a.write(b"more than four").await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    ///     assert!(!a.closed()); // refused, but the stream stays open
    ///     a.write(b"four").await.unwrap();
    ///
    ///     a.set_max_write_buffer_size(None);
    ///     a.write(b", no limit").await.unwrap();
    ///     assert_eq!(&b.read_bytes(14, false).await.unwrap()[..], b"four, no limit");
    /// });
    /// ```
    pub fn set_max_write_buffer_size(&self, max: Option<usize>) {
        self.shared.state.borrow_mut().max_write_buffer_size = max.unwrap_or(usize::MAX);
    }

    /// The peer's address (TCP, TLS over TCP).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        let st = self.shared.state.borrow();
        match st.transport.as_ref() {
            Some(t) => t.peer_addr(),
            None => Err(st.closed_error()),
        }
    }

    /// The local address (TCP, TLS over TCP).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let st = self.shared.state.borrow();
        match st.transport.as_ref() {
            Some(t) => t.local_addr(),
            None => Err(st.closed_error()),
        }
    }

    /// Borrows the transport (for example to query it); `None` once closed. Do not
    /// read or write through it.
    pub fn transport(&self) -> Option<Ref<'_, dyn Transport>> {
        Ref::filter_map(self.shared.state.borrow(), |st| st.transport.as_deref()).ok()
    }

    /// Replaces the transport with a layer over it (TLS), keeping the registration.
    pub(crate) fn wrap_transport(
        &self,
        wrap: impl FnOnce(Box<dyn Transport>) -> Box<dyn Transport>,
    ) -> io::Result<()> {
        let mut st = self.shared.state.borrow_mut();
        if st.closed {
            return Err(st.closed_error());
        }
        if st.reader.is_some() || st.rbuf.len() > 0 || !st.wbuf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the stream is not idle (pending read, buffered input or queued output); \
                 cannot start TLS",
            ));
        }
        let Some(inner) = st.transport.take() else {
            return Err(st.closed_error());
        };
        st.transport = Some(wrap(inner));
        st.flush();
        Ok(())
    }

    /// Drives a TLS handshake; ready when there is none in progress.
    pub(crate) fn poll_handshake(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut st = self.shared.state.borrow_mut();
        let mut budget = READ_BUDGET;
        loop {
            if st.closed {
                // The handshake may have completed in the same read that met the end
                // of the stream: then the data that came with it is still readable.
                if st.handshake_done {
                    return Poll::Ready(Ok(()));
                }
                return Poll::Ready(Err(match &st.error {
                    Some(e) => copy_error(e),
                    None => st.closed_error(),
                }));
            }
            if !st.transport.as_ref().is_some_and(|t| t.is_handshaking()) {
                return Poll::Ready(Ok(()));
            }
            if st.write_ready
                && st
                    .transport
                    .as_ref()
                    .is_some_and(|t| t.has_pending_output())
            {
                // Ends with the records written or the socket full.
                st.flush();
                if st.closed {
                    continue;
                }
            }
            if !st.read_ready || budget == 0 {
                if budget == 0 {
                    cx.waker().wake_by_ref();
                }
                st.wait_for_readiness(cx);
                return Poll::Pending;
            }
            budget -= 1;
            st.fill_once();
        }
    }
}
