//! One non-blocking TCP connection attempt on the current [`IoLoop`].

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use mio::net::TcpStream;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tornado_ioloop::{HandlerId, Interest, IoLoop};

#[derive(Default)]
struct Signal {
    fired: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

/// Connects to `addr`, from `source_ip`/`source_port` if given, without blocking.
///
/// The future owns the socket; dropping it before it resolves deregisters and closes
/// the socket. The stream it gives is no longer registered with the loop.
pub(crate) fn connect_tcp(
    addr: SocketAddr,
    source_ip: Option<IpAddr>,
    source_port: Option<u16>,
) -> ConnectTcp {
    match start(addr, source_ip, source_port) {
        Ok(stream) => ConnectTcp {
            state: State::Starting(Some(stream)),
        },
        Err(e) => ConnectTcp {
            state: State::Failed(Some(e)),
        },
    }
}

fn start(
    addr: SocketAddr,
    source_ip: Option<IpAddr>,
    source_port: Option<u16>,
) -> io::Result<TcpStream> {
    if let Some(ip) = source_ip
        && ip.is_ipv4() != addr.is_ipv4()
    {
        return Err(io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            format!("source address {ip} is not of the same family as {addr}"),
        ));
    }
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    if source_ip.is_some() || source_port.is_some() {
        let ip = source_ip.unwrap_or(if addr.is_ipv4() {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        });
        let local = SocketAddr::new(ip, source_port.unwrap_or(0));
        socket.bind(&SockAddr::from(local)).map_err(|e| {
            io::Error::new(e.kind(), format!("bind to source address {local}: {e}"))
        })?;
    }
    match socket.connect(&SockAddr::from(addr)) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    Ok(TcpStream::from_std(socket.into()))
}

enum State {
    Failed(Option<io::Error>),
    Starting(Option<TcpStream>),
    Waiting(Registered),
    Done,
}

/// The socket registered for writability, deregistered when dropped.
struct Registered {
    stream: Option<TcpStream>,
    id: HandlerId,
    io_loop: IoLoop,
    signal: Rc<Signal>,
}

impl Registered {
    fn take(&mut self) -> Option<TcpStream> {
        let mut stream = self.stream.take()?;
        if let Err(e) = self.io_loop.remove_handler(self.id, &mut stream) {
            log::debug!("connect: remove_handler: {e}");
        }
        Some(stream)
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        drop(self.take());
    }
}

/// The future of [`connect_tcp`].
pub(crate) struct ConnectTcp {
    state: State,
}

impl Future for ConnectTcp {
    type Output = io::Result<TcpStream>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            match &mut self.state {
                State::Failed(e) => {
                    let e = e
                        .take()
                        .unwrap_or_else(|| io::Error::other("polled after completion"));
                    self.state = State::Done;
                    return Poll::Ready(Err(e));
                }
                State::Starting(stream) => {
                    let Some(mut stream) = stream.take() else {
                        self.state = State::Done;
                        continue;
                    };
                    let io_loop = IoLoop::current();
                    let signal = Rc::new(Signal::default());
                    let s = signal.clone();
                    let registered =
                        io_loop.add_handler(&mut stream, Interest::WRITABLE, move |_| {
                            s.fired.set(true);
                            if let Some(w) = s.waker.borrow_mut().take() {
                                w.wake();
                            }
                        });
                    match registered {
                        Ok(id) => {
                            self.state = State::Waiting(Registered {
                                stream: Some(stream),
                                id,
                                io_loop,
                                signal,
                            })
                        }
                        Err(e) => self.state = State::Failed(Some(e)),
                    }
                }
                State::Waiting(reg) => {
                    if !reg.signal.fired.replace(false) {
                        *reg.signal.waker.borrow_mut() = Some(cx.waker().clone());
                        return Poll::Pending;
                    }
                    let Some(stream) = reg.stream.as_ref() else {
                        self.state = State::Done;
                        continue;
                    };
                    let outcome = match stream.take_error() {
                        Ok(Some(e)) | Err(e) => Some(Err(e)),
                        Ok(None) => match stream.peer_addr() {
                            Ok(_) => Some(Ok(())),
                            // A spurious event: the handshake is still under way.
                            Err(e) if e.kind() == io::ErrorKind::NotConnected => None,
                            Err(e) => Some(Err(e)),
                        },
                    };
                    match outcome {
                        None => continue,
                        Some(Ok(())) => {
                            let stream = reg.take();
                            self.state = State::Done;
                            return Poll::Ready(
                                stream.ok_or_else(|| io::Error::other("connect: stream lost")),
                            );
                        }
                        Some(Err(e)) => {
                            self.state = State::Done;
                            return Poll::Ready(Err(e));
                        }
                    }
                }
                State::Done => {
                    return Poll::Ready(Err(io::Error::other("connect polled after completion")));
                }
            }
        }
    }
}
