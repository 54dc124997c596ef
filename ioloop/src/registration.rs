//! Registering I/O sources (`add_handler`, `update_handler`, `remove_handler`) and
//! dispatching each event to its handler.

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};

use mio::event::Source;
use mio::{Interest, Token};

use crate::handler::{HandlerId, HandlerSlot, KEY_BITS, KEY_MASK, Ready};
use crate::ioloop::{Inner, IoLoop};
use crate::panic::panic_message;

impl Inner {
    pub(crate) fn dispatch(&self, token: Token, ready: Ready) {
        let key = token.0 & KEY_MASK;
        let generation = (token.0 >> KEY_BITS) as u32;
        let handler = {
            let mut handlers = self.handlers.borrow_mut();
            match handlers.get_mut(key) {
                Some(slot) if slot.generation == generation => slot.handler.take(),
                _ => None,
            }
        };
        let Some(mut handler) = handler else { return };
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| handler(ready))) {
            log::error!("exception in I/O handler: {}", panic_message(&*payload));
        }
        let mut handlers = self.handlers.borrow_mut();
        if let Some(slot) = handlers.get_mut(key)
            && slot.generation == generation
            && slot.handler.is_none()
        {
            slot.handler = Some(handler);
            return;
        }
        drop(handlers);
        drop(handler);
    }
}

impl IoLoop {
    /// Registers `source` with the loop and calls `handler` with its readiness.
    ///
    /// Registration is edge-triggered (mio's model): the handler is told when readiness
    /// *changes*, so it must read or write until `WouldBlock` (or until a short read
    /// shows the socket is drained) before it can expect another call. Events may be
    /// spurious; a `WouldBlock` is normal. Register a source once with all the interest
    /// it will ever need rather than updating it per request.
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::io::{Read, Write};
    /// use std::rc::Rc;
    /// use mio::Interest;
    /// use mio::net::UnixStream;
    /// use tornado_ioloop::IoLoop;
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// let (mut a, mut b) = UnixStream::pair().unwrap();
    /// let got = Rc::new(Cell::new(0));
    /// let (g, l) = (got.clone(), io_loop.clone());
    /// let b = Rc::new(std::cell::RefCell::new(b));
    /// let reader = b.clone();
    /// io_loop
    ///     .add_handler(&mut *b.borrow_mut(), Interest::READABLE, move |ready| {
    ///         if ready.is_readable() {
    ///             let mut buf = [0u8; 16];
    ///             g.set(reader.borrow_mut().read(&mut buf).unwrap_or(0));
    ///             l.stop();
    ///         }
    ///     })
    ///     .unwrap();
    /// a.write_all(b"ping").unwrap();
    /// io_loop.start();
    /// assert_eq!(got.get(), 4);
    /// ```
    pub fn add_handler<S, H>(
        &self,
        source: &mut S,
        interest: Interest,
        handler: H,
    ) -> io::Result<HandlerId>
    where
        S: Source + ?Sized,
        H: FnMut(Ready) + 'static,
    {
        let generation = self.inner.handler_generation.get().wrapping_add(1) & (KEY_MASK as u32);
        self.inner.handler_generation.set(generation);
        let key = self.inner.handlers.borrow_mut().insert(HandlerSlot {
            generation,
            handler: Some(Box::new(handler)),
        });
        if key > KEY_MASK {
            self.inner.handlers.borrow_mut().remove(key);
            return Err(io::Error::other("too many handlers registered"));
        }
        let id = HandlerId {
            key: key as u32,
            generation,
        };
        if let Err(e) = self.inner.registry.register(source, id.token(), interest) {
            let slot = self.inner.handlers.borrow_mut().remove(key);
            drop(slot);
            return Err(e);
        }
        Ok(id)
    }

    /// Changes the interest of a registered source.
    ///
    /// ```
    /// use mio::net::UnixStream;
    /// use tornado_ioloop::{Interest, IoLoop};
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// let (mut a, _b) = UnixStream::pair().unwrap();
    /// let id = io_loop.add_handler(&mut a, Interest::READABLE, |_| {}).unwrap();
    /// io_loop
    ///     .update_handler(id, &mut a, Interest::READABLE | Interest::WRITABLE)
    ///     .unwrap();
    /// ```
    pub fn update_handler<S>(
        &self,
        id: HandlerId,
        source: &mut S,
        interest: Interest,
    ) -> io::Result<()>
    where
        S: Source + ?Sized,
    {
        if !self.handler_exists(id) {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "update_handler: no such handler",
            ));
        }
        self.inner.registry.reregister(source, id.token(), interest)
    }

    /// Deregisters `source` and drops its handler. Events already queued for it are
    /// discarded. Removing a handler from inside itself is allowed; removing one that is
    /// gone is an error of kind `NotFound`.
    ///
    /// ```
    /// use mio::net::UnixStream;
    /// use tornado_ioloop::{Interest, IoLoop};
    ///
    /// let io_loop = IoLoop::new().unwrap();
    /// let (mut a, _b) = UnixStream::pair().unwrap();
    /// let id = io_loop.add_handler(&mut a, Interest::READABLE, |_| {}).unwrap();
    /// io_loop.remove_handler(id, &mut a).unwrap();
    /// assert!(io_loop.remove_handler(id, &mut a).is_err());
    /// ```
    pub fn remove_handler<S>(&self, id: HandlerId, source: &mut S) -> io::Result<()>
    where
        S: Source + ?Sized,
    {
        let slot = {
            let mut handlers = self.inner.handlers.borrow_mut();
            match handlers.get(id.key as usize) {
                Some(s) if s.generation == id.generation => Some(handlers.remove(id.key as usize)),
                _ => None,
            }
        };
        if slot.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "remove_handler: no such handler",
            ));
        }
        drop(slot);
        self.inner.registry.deregister(source)
    }

    fn handler_exists(&self, id: HandlerId) -> bool {
        matches!(self.inner.handlers.borrow().get(id.key as usize), Some(s) if s.generation == id.generation)
    }
}
