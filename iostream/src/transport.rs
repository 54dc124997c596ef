//! [`Transport`]: what an [`IoStream`](crate::IoStream) reads from and writes to.
//!
//! A transport is a non-blocking mio [`Source`] with `read` and `write`. It is
//! implemented here for `mio::net::TcpStream`, `mio::net::UnixStream`, [`Pipe`](crate::Pipe)
//! and the TLS layer; implement it for any other source to run an `IoStream` over it.
//! The stream calls it through one `Box<dyn Transport>`: a virtual call costs far less
//! than the syscall behind it.

use std::any::Any;
use std::fmt;
use std::fs::File;
use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;

use mio::event::Source;
use mio::net::{TcpStream, UnixStream};

/// A non-blocking byte source and sink that an [`IoStream`](crate::IoStream) drives.
///
/// `read` and `write` follow `std::io`: `Ok(0)` from `read` is end of file, and
/// `WouldBlock` means "wait for the next readiness event". The stream registers the
/// transport once, for `READABLE | WRITABLE`, edge-triggered.
pub trait Transport: Source + fmt::Debug + 'static {
    /// Reads into `buf` (see [`Read::read`]).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;

    /// Writes from `buf` (see [`Write::write`]).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize>;

    /// Writes from several buffers in order, as one `write` of their concatenation
    /// would (see [`Write::write_vectored`]): a socket does it in one `writev(2)`, so
    /// pieces that live apart (a frame header and its payload) need not be copied
    /// together first. The default writes the first non-empty buffer alone. A
    /// transport that overrides it to take every buffer also returns true from
    /// [`is_write_vectored`](Transport::is_write_vectored); until it does, the stream
    /// offers it one buffer at a time.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match bufs.iter().find(|b| !b.is_empty()) {
            Some(b) => self.write(b),
            None => Ok(0),
        }
    }

    /// Whether [`write_vectored`](Transport::write_vectored) writes from every buffer
    /// it is given, as one `write` of their concatenation would (false by default).
    ///
    /// The stream reads a short write as "the source is full" (and waits for its next
    /// writable event) when [`short_read_means_drained`](Transport::short_read_means_drained)
    /// says so; it offers several buffers at once only to a transport that answers
    /// true here, so a default `write_vectored`, which stops after the first buffer,
    /// is never taken for a full socket.
    fn is_write_vectored(&self) -> bool {
        false
    }

    /// Writes up to `len` bytes of `file`, from `offset`, straight from the file
    /// (`sendfile(2)`: the bytes are not copied through user memory), as
    /// [`write`](Transport::write) would write them: how many, `Ok(0)` if the file ends
    /// at `offset`, `WouldBlock` when full. Only a transport that is a kernel socket can:
    /// the default is `Unsupported` (and a layer that must see the bytes, such as TLS,
    /// keeps it). [`can_send_file`](Transport::can_send_file) tells beforehand.
    fn send_file(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
        let _ = (file, offset, len);
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this transport cannot send from a file",
        ))
    }

    /// Whether [`send_file`](Transport::send_file) works (false by default).
    fn can_send_file(&self) -> bool {
        false
    }

    /// Converts the boxed transport into `Box<dyn Any>` so that
    /// [`Detached::downcast`](crate::Detached::downcast) can give the concrete type back.
    /// Implement it as `self`.
    fn into_any(self: Box<Self>) -> Box<dyn Any>;

    /// True if a `read` that returned fewer bytes than asked proves the source drained,
    /// so the stream can skip the read that would only say `WouldBlock` (true for
    /// sockets and pipes; false for layers such as TLS that return part of what they hold).
    fn short_read_means_drained(&self) -> bool {
        true
    }

    /// Whether the data ended (a `read` returned 0) without the end-of-data notice the
    /// protocol has, so what came may have been cut off: a TLS peer that closed the
    /// socket without `close_notify`. False by default (a socket's end is its end).
    fn eof_was_truncated(&self) -> bool {
        false
    }

    /// Writes out output the transport holds itself (TLS records); `WouldBlock` if the
    /// source is full.
    fn flush_pending(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// True while the transport holds output that [`flush_pending`](Transport::flush_pending)
    /// has yet to write.
    fn has_pending_output(&self) -> bool {
        false
    }

    /// True while a handshake (TLS) is in progress and needs reads to advance.
    fn is_handshaking(&self) -> bool {
        false
    }

    /// False for a write-only transport (one end of a pipe); reads then fail at once.
    fn can_read(&self) -> bool {
        true
    }

    /// False for a read-only transport; writes then fail at once.
    fn can_write(&self) -> bool {
        true
    }

    /// Sets `TCP_NODELAY` where that means something; a no-op elsewhere (as in Tornado).
    fn set_nodelay(&self, _nodelay: bool) -> io::Result<()> {
        Ok(())
    }

    /// The address of the peer, for sockets that have one.
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this transport has no peer address",
        ))
    }

    /// The local address, for sockets that have one.
    fn local_addr(&self) -> io::Result<SocketAddr> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this transport has no local address",
        ))
    }

    /// The pending socket error (`SO_ERROR`), used to finish a non-blocking connect.
    fn take_error(&self) -> io::Result<Option<io::Error>> {
        Ok(None)
    }

    /// Called once when the stream closes, before the transport is dropped: a place to
    /// send a TLS `close_notify`. Best effort; errors are ignored.
    fn on_close(&mut self) {}

    /// The TLS session, if this transport is one.
    fn tls(&self) -> Option<&rustls::CommonState> {
        None
    }

    /// The server name the client asked for (SNI), on the server side of a TLS stream.
    fn tls_server_name(&self) -> Option<&str> {
        None
    }

    /// Stops sending while reading goes on (a half-close: the peer reads an end of
    /// file). Transports that cannot do this say `Unsupported`.
    fn shutdown_write(&mut self) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this transport cannot half-close",
        ))
    }
}

impl Transport for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Read::read(self, buf)
    }
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Write::write(self, buf)
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        Write::write_vectored(self, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
    fn send_file(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
        crate::sys::send_file(self, file, offset, len)
    }
    fn can_send_file(&self) -> bool {
        crate::sys::SEND_FILE
    }
    fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        TcpStream::set_nodelay(self, nodelay)
    }
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        TcpStream::peer_addr(self)
    }
    fn local_addr(&self) -> io::Result<SocketAddr> {
        TcpStream::local_addr(self)
    }
    fn take_error(&self) -> io::Result<Option<io::Error>> {
        TcpStream::take_error(self)
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        TcpStream::shutdown(self, std::net::Shutdown::Write)
    }
}

impl Transport for UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Read::read(self, buf)
    }
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Write::write(self, buf)
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        Write::write_vectored(self, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
    fn send_file(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
        crate::sys::send_file(self, file, offset, len)
    }
    fn can_send_file(&self) -> bool {
        crate::sys::SEND_FILE
    }
    fn take_error(&self) -> io::Result<Option<io::Error>> {
        UnixStream::take_error(self)
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        UnixStream::shutdown(self, std::net::Shutdown::Write)
    }
}
