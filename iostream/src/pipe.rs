//! [`Pipe`]: one or both ends of Unix pipes as a [`Transport`] (Tornado's `PipeIOStream`).

use std::any::Any;
use std::io::{self, Read, Write};

use mio::event::Source;
use mio::unix::pipe::{Receiver, Sender};
use mio::{Interest, Registry, Token};

use crate::transport::Transport;

/// A pipe transport: a read end, a write end, or both (for example a child process's
/// stdout and stdin). Both ends are registered under the stream's one token, the read
/// end for `READABLE` and the write end for `WRITABLE`.
///
/// ```
/// use tornado_ioloop::IoLoop;
/// use tornado_iostream::{IoStream, Pipe};
///
/// let io_loop = IoLoop::new().unwrap();
/// let got = io_loop.run_sync(async {
///     let (tx, rx) = mio::unix::pipe::new().unwrap();
///     let writer = IoStream::new(Pipe::writer(tx)).unwrap();
///     let reader = IoStream::new(Pipe::reader(rx)).unwrap();
///     writer.write(b"line\n").await.unwrap();
///     reader.read_until(b"\n", None).await.unwrap()
/// });
/// assert_eq!(&got[..], b"line\n");
/// ```
#[derive(Debug)]
pub struct Pipe {
    receiver: Option<Receiver>,
    sender: Option<Sender>,
}

impl Pipe {
    /// A pipe transport that reads from `receiver` and writes to `sender`.
    pub fn new(receiver: Receiver, sender: Sender) -> Pipe {
        Pipe {
            receiver: Some(receiver),
            sender: Some(sender),
        }
    }

    /// A read-only pipe transport; writes fail with `Unsupported`.
    pub fn reader(receiver: Receiver) -> Pipe {
        Pipe {
            receiver: Some(receiver),
            sender: None,
        }
    }

    /// A write-only pipe transport; reads fail with `Unsupported`.
    pub fn writer(sender: Sender) -> Pipe {
        Pipe {
            receiver: None,
            sender: Some(sender),
        }
    }

    /// The ends, for whoever takes the pipe back.
    pub fn into_parts(self) -> (Option<Receiver>, Option<Sender>) {
        (self.receiver, self.sender)
    }
}

fn no_end(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("this pipe stream has no {what} end"),
    )
}

impl Source for Pipe {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        if let Some(r) = &mut self.receiver
            && interest.is_readable()
        {
            r.register(registry, token, Interest::READABLE)?;
        }
        if let Some(s) = &mut self.sender
            && interest.is_writable()
        {
            s.register(registry, token, Interest::WRITABLE)?;
        }
        Ok(())
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        if let Some(r) = &mut self.receiver
            && interest.is_readable()
        {
            r.reregister(registry, token, Interest::READABLE)?;
        }
        if let Some(s) = &mut self.sender
            && interest.is_writable()
        {
            s.reregister(registry, token, Interest::WRITABLE)?;
        }
        Ok(())
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        let r = self.receiver.as_mut().map(|r| r.deregister(registry));
        let s = self.sender.as_mut().map(|s| s.deregister(registry));
        r.transpose()?;
        s.transpose()?;
        Ok(())
    }
}

impl Transport for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.receiver {
            Some(r) => r.read(buf),
            None => Err(no_end("read")),
        }
    }
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.sender {
            Some(s) => s.write(buf),
            None => Err(no_end("write")),
        }
    }
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match &mut self.sender {
            Some(s) => s.write_vectored(bufs),
            None => Err(no_end("write")),
        }
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
    fn can_read(&self) -> bool {
        self.receiver.is_some()
    }
    fn can_write(&self) -> bool {
        self.sender.is_some()
    }
}
