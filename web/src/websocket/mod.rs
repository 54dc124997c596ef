//! WebSocket (RFC 6455) with permessage-deflate (RFC 7692): Tornado's
//! `tornado.websocket`.
//!
//! The protocol is pure functions and state machines over bytes: [`frame`] (headers,
//! masking, close payloads), [`reader`] (messages from frames: fragments, control
//! frames between them, UTF-8 checked as it arrives, the size limit), [`deflate`]
//! (negotiation and compression).
#![allow(clippy::module_inception)]

pub mod deflate;
pub mod frame;
mod message;
pub mod reader;
mod utf8;

pub use deflate::CompressionOptions;
pub use message::Message;
pub use reader::MessageReader;
pub use utf8::{InvalidUtf8, Utf8Validator};
