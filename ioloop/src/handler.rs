//! What the loop keeps per I/O handler, and the readiness it hands to it.
//!
//! # Tokens
//!
//! A handler's `mio::Token` packs its slab key (low half) and a generation (high half),
//! so an event queued for a handler that was removed, and whose slot was reused, is
//! recognised as stale and dropped instead of reaching the new handler.

use std::fmt;

use mio::Token;

pub(crate) const WAKER_TOKEN: Token = Token(usize::MAX);
pub(crate) const KEY_BITS: u32 = usize::BITS / 2;
pub(crate) const KEY_MASK: usize = (1 << KEY_BITS) - 1;
// Handler keys and generations are stored as u32 (half a 64-bit token each).
const _: () = assert!(KEY_BITS <= u32::BITS);

/// Readiness reported to an I/O handler: a copy of what `mio` said about one event.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Ready {
    bits: u8,
}

impl Ready {
    const READABLE: u8 = 1;
    const WRITABLE: u8 = 2;
    const ERROR: u8 = 4;
    const READ_CLOSED: u8 = 8;
    const WRITE_CLOSED: u8 = 16;

    pub(crate) fn from_event(ev: &mio::event::Event) -> Ready {
        let mut bits = 0;
        for (yes, bit) in [
            (ev.is_readable(), Self::READABLE),
            (ev.is_writable(), Self::WRITABLE),
            (ev.is_error(), Self::ERROR),
            (ev.is_read_closed(), Self::READ_CLOSED),
            (ev.is_write_closed(), Self::WRITE_CLOSED),
        ] {
            if yes {
                bits |= bit;
            }
        }
        Ready { bits }
    }

    /// The source may be read (or has hit end-of-file or an error: read to find out).
    pub fn is_readable(self) -> bool {
        self.bits & Self::READABLE != 0
    }
    /// The source may be written.
    pub fn is_writable(self) -> bool {
        self.bits & Self::WRITABLE != 0
    }
    /// The source reported an error (`EPOLLERR`); the next read or write returns it.
    pub fn is_error(self) -> bool {
        self.bits & Self::ERROR != 0
    }
    /// The peer closed its writing half (read side will see end-of-file).
    pub fn is_read_closed(self) -> bool {
        self.bits & Self::READ_CLOSED != 0
    }
    /// The writing half is closed (peer reset or hung up).
    pub fn is_write_closed(self) -> bool {
        self.bits & Self::WRITE_CLOSED != 0
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ready")
            .field("readable", &self.is_readable())
            .field("writable", &self.is_writable())
            .field("error", &self.is_error())
            .field("read_closed", &self.is_read_closed())
            .field("write_closed", &self.is_write_closed())
            .finish()
    }
}

/// Identifies a registered I/O handler; returned by
/// [`IoLoop::add_handler`](crate::IoLoop::add_handler).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HandlerId {
    pub(crate) key: u32,
    pub(crate) generation: u32,
}

impl HandlerId {
    pub(crate) fn token(self) -> Token {
        Token(self.key as usize | ((self.generation as usize) << KEY_BITS))
    }
}

pub(crate) type Handler = Box<dyn FnMut(Ready)>;

pub(crate) struct HandlerSlot {
    pub(crate) generation: u32,
    pub(crate) handler: Option<Handler>,
}
