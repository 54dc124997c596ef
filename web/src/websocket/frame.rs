//! RFC 6455 frames as pure functions over bytes: the header (FIN, RSV bits, opcode,
//! mask, the 7-, 16- and 64-bit length forms), masking, and the close frame's payload.
//!
//! Decoding is strict: a reserved opcode, a reserved bit no extension allows, a
//! fragmented or oversized control frame, a length not in its shortest form, a 64-bit
//! length with the top bit set, or a frame masked the wrong way for its direction is a
//! [`ProtocolError`] carrying the close code to fail the connection with.
//!
//! ```
//! use tornado_web::websocket::frame::{apply_mask, decode_header, encode_frame, DecodeRules, OpCode};
//!
//! // A client's frame: masked.
//! let mut wire = Vec::new();
//! encode_frame(&mut wire, true, false, OpCode::Text, Some([7, 7, 7, 7]), b"hi");
//! assert_ne!(&wire[6..], b"hi");
//!
//! // The server decodes its header, then unmasks its payload.
//! let rules = DecodeRules { masked: true, rsv1_allowed: false };
//! let (header, len) = decode_header(&wire, rules).unwrap().unwrap();
//! assert_eq!((header.opcode, header.payload_len, len), (OpCode::Text, 2, 6));
//! let mut payload = wire[len..].to_vec();
//! apply_mask(&mut payload, header.mask.unwrap(), 0);
//! assert_eq!(payload, b"hi");
//! ```

use std::fmt;

/// The largest payload of a control frame (close, ping, pong).
///
/// ```
/// use tornado_web::websocket::frame::{close_payload, decode_header, DecodeRules, MAX_CONTROL_PAYLOAD};
///
/// let rules = DecodeRules { masked: false, rsv1_allowed: false };
/// // A ping announcing 126 bytes is refused as soon as its header is seen.
/// assert_eq!(decode_header(&[0x89, 126, 0, 126], rules).unwrap_err().close_code(), 1002);
/// // A close frame's reason is cut to fit.
/// assert_eq!(close_payload(1000, &"x".repeat(200)).len(), MAX_CONTROL_PAYLOAD);
/// ```
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The longest frame header: 2 bytes, an 8-byte length, a 4-byte mask.
///
/// ```
/// use tornado_web::websocket::frame::{encode_header, OpCode, MAX_HEADER_LEN};
///
/// let mut out = Vec::new();
/// encode_header(&mut out, true, false, OpCode::Binary, Some([1, 2, 3, 4]), 1 << 20);
/// assert_eq!(out.len(), MAX_HEADER_LEN);
/// ```
pub const MAX_HEADER_LEN: usize = 14;

/// A frame's opcode.
///
/// ```
/// use tornado_web::websocket::frame::OpCode;
///
/// use OpCode::*;
/// for op in [Continuation, Text, Binary, Close, Ping, Pong] {
///     assert_eq!(OpCode::from_u8(op.as_u8()), Some(op));
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpCode {
    /// The next fragment of a text or binary message.
    Continuation,
    /// The first frame of a text message.
    Text,
    /// The first frame of a binary message.
    Binary,
    /// Closing handshake.
    Close,
    /// Ping: answered with a pong carrying the same payload.
    Ping,
    /// Pong.
    Pong,
}

impl OpCode {
    /// The opcode for the low 4 bits of a frame's first byte; `None` for the reserved
    /// ones (3-7, 0xB-0xF).
    ///
    /// ```
    /// use tornado_web::websocket::frame::OpCode;
    ///
    /// assert_eq!(OpCode::from_u8(0x81 & 0x0F), Some(OpCode::Text));
    /// assert_eq!(OpCode::from_u8(0xA), Some(OpCode::Pong));
    /// assert_eq!(OpCode::from_u8(0x3), None);
    /// assert_eq!(OpCode::from_u8(0xB), None);
    /// ```
    pub fn from_u8(v: u8) -> Option<OpCode> {
        Some(match v {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// The 4-bit value on the wire.
    ///
    /// ```
    /// use tornado_web::websocket::frame::OpCode;
    ///
    /// assert_eq!(OpCode::Continuation.as_u8(), 0x0);
    /// assert_eq!(OpCode::Binary.as_u8(), 0x2);
    /// assert_eq!(OpCode::Close.as_u8(), 0x8);
    /// ```
    pub fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Close, ping and pong: at most [`MAX_CONTROL_PAYLOAD`] bytes, never fragmented,
    /// allowed between the fragments of a message.
    ///
    /// ```
    /// use tornado_web::websocket::frame::OpCode;
    ///
    /// assert!(OpCode::Ping.is_control() && OpCode::Close.is_control());
    /// assert!(!OpCode::Text.is_control() && !OpCode::Continuation.is_control());
    /// ```
    pub fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// Close codes (RFC 6455 section 7.4.1) this crate sends.
///
/// ```
/// use tornado_web::websocket::frame::{close_code, close_payload, parse_close_payload};
///
/// let payload = close_payload(close_code::GOING_AWAY, "restarting");
/// assert_eq!(parse_close_payload(&payload).unwrap(), Some((1001, "restarting")));
/// ```
pub mod close_code {
    /// Normal closure: what [`WebSocket::close`](crate::websocket::WebSocket::close)
    /// sends for a reason without a code.
    ///
    /// ```
    /// use tornado_web::websocket::frame::close_code::NORMAL;
    ///
    /// assert_eq!(NORMAL, 1000);
    /// ```
    pub const NORMAL: u16 = 1000;
    /// The endpoint is going away (server shutdown, page navigation).
    ///
    /// ```
    /// use tornado_web::websocket::frame::{close_code::GOING_AWAY, is_valid_close_code};
    ///
    /// assert_eq!(GOING_AWAY, 1001);
    /// assert!(is_valid_close_code(GOING_AWAY));
    /// ```
    pub const GOING_AWAY: u16 = 1001;
    /// A protocol error: what a malformed frame fails the connection with.
    ///
    /// ```
    /// use tornado_web::websocket::frame::{close_code::PROTOCOL_ERROR, decode_header, DecodeRules};
    ///
    /// // An unmasked frame from a client.
    /// let rules = DecodeRules { masked: true, rsv1_allowed: false };
    /// assert_eq!(decode_header(&[0x81, 0x00], rules).unwrap_err().close_code(), PROTOCOL_ERROR);
    /// ```
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A message of a type the endpoint cannot accept.
    ///
    /// ```
    /// use tornado_web::websocket::frame::{close_code::UNSUPPORTED_DATA, is_valid_close_code};
    ///
    /// assert_eq!(UNSUPPORTED_DATA, 1003);
    /// assert!(is_valid_close_code(UNSUPPORTED_DATA));
    /// ```
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// No status code was present (never sent on the wire).
    ///
    /// ```
    /// use tornado_web::websocket::frame::{close_code::NO_STATUS, is_valid_close_code};
    ///
    /// assert_eq!(NO_STATUS, 1005);
    /// assert!(!is_valid_close_code(NO_STATUS));
    /// ```
    pub const NO_STATUS: u16 = 1005;
    /// The connection closed without a close frame (never sent on the wire).
    ///
    /// ```
    /// use tornado_web::websocket::frame::{close_code::ABNORMAL, parse_close_payload};
    ///
    /// assert_eq!(ABNORMAL, 1006);
    /// assert!(parse_close_payload(&ABNORMAL.to_be_bytes()).is_err());
    /// ```
    pub const ABNORMAL: u16 = 1006;
    /// Data inconsistent with the message type (text that is not UTF-8).
    ///
    /// ```
    /// use tornado_web::websocket::frame::{close_code::INVALID_PAYLOAD, parse_close_payload};
    ///
    /// // A close frame whose reason is not UTF-8.
    /// let err = parse_close_payload(b"\x03\xe8\xff").unwrap_err();
    /// assert_eq!(err.close_code(), INVALID_PAYLOAD);
    /// ```
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// A message that violates the endpoint's policy.
    ///
    /// ```
    /// use tornado_web::websocket::frame::{close_code::POLICY_VIOLATION, is_valid_close_code};
    ///
    /// assert_eq!(POLICY_VIOLATION, 1008);
    /// assert!(is_valid_close_code(POLICY_VIOLATION));
    /// ```
    pub const POLICY_VIOLATION: u16 = 1008;
    /// A message too big to process (`websocket_max_message_size`).
    ///
    /// ```
    /// use tornado_web::websocket::frame::{close_code::MESSAGE_TOO_BIG, encode_frame, OpCode};
    /// use tornado_web::websocket::MessageReader;
    ///
    /// let mut wire = Vec::new();
    /// encode_frame(&mut wire, true, false, OpCode::Binary, Some([1, 2, 3, 4]), b"12345");
    /// let err = MessageReader::server(4, None).read(&wire).unwrap_err();
    /// assert_eq!(err.close_code(), MESSAGE_TOO_BIG);
    /// ```
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// The client expected an extension the server did not negotiate.
    ///
    /// ```
    /// use tornado_web::websocket::frame::{close_code::MANDATORY_EXTENSION, is_valid_close_code};
    ///
    /// assert_eq!(MANDATORY_EXTENSION, 1010);
    /// assert!(is_valid_close_code(MANDATORY_EXTENSION));
    /// ```
    pub const MANDATORY_EXTENSION: u16 = 1010;
    /// The server met an unexpected condition: a handler's `open` or `on_message`
    /// returned an error or panicked.
    ///
    /// ```
    /// use tornado_web::websocket::frame::{close_code::INTERNAL_ERROR, is_valid_close_code};
    ///
    /// assert_eq!(INTERNAL_ERROR, 1011);
    /// assert!(is_valid_close_code(INTERNAL_ERROR));
    /// ```
    pub const INTERNAL_ERROR: u16 = 1011;
}

/// Whether `code` may appear in a close frame: 1000-1003 and 1007-1011 (the codes
/// RFC 6455 defines for sending), and 3000-4999 (registered and private). 1004-1006
/// and 1015 (reserved, never sent), everything below 1000, and 1012-2999 (not
/// defined by the RFC; Autobahn's case 7.9 expects them refused) may not.
///
/// ```
/// use tornado_web::websocket::frame::is_valid_close_code;
///
/// assert!(is_valid_close_code(1000) && is_valid_close_code(1011) && is_valid_close_code(4000));
/// assert!(!is_valid_close_code(999) && !is_valid_close_code(1005) && !is_valid_close_code(1012));
/// assert!(!is_valid_close_code(2999) && !is_valid_close_code(5000));
/// ```
pub fn is_valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999)
}

/// Why a frame or message was refused, with the close code to fail the connection
/// with (1002 for a protocol error, 1007 for bad UTF-8, 1009 for a message too big).
///
/// ```
/// use tornado_web::websocket::frame::parse_close_payload;
///
/// let err = parse_close_payload(b"\x03").unwrap_err();
/// assert_eq!(err.close_code(), 1002);
/// assert_eq!(err.to_string(), "close frame with a 1-byte payload (close code 1002)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    code: u16,
    message: &'static str,
}

impl ProtocolError {
    pub(crate) const fn new(code: u16, message: &'static str) -> ProtocolError {
        ProtocolError { code, message }
    }

    pub(crate) const fn protocol(message: &'static str) -> ProtocolError {
        ProtocolError::new(close_code::PROTOCOL_ERROR, message)
    }

    /// The close code to send.
    ///
    /// ```
    /// use tornado_web::websocket::frame::parse_close_payload;
    ///
    /// // Close code 999 is not a valid one: a protocol error.
    /// assert_eq!(parse_close_payload(b"\x03\xe7").unwrap_err().close_code(), 1002);
    /// ```
    pub fn close_code(&self) -> u16 {
        self.code
    }

    /// What was wrong (also the close frame's reason).
    ///
    /// ```
    /// use tornado_web::websocket::frame::parse_close_payload;
    ///
    /// assert_eq!(parse_close_payload(b"\x03\xe7").unwrap_err().message(), "invalid close code");
    /// ```
    pub fn message(&self) -> &'static str {
        self.message
    }

    /// The message was larger than the limit (close code 1009).
    ///
    /// ```
    /// use tornado_web::websocket::frame::{encode_frame, OpCode};
    /// use tornado_web::websocket::MessageReader;
    ///
    /// let mut wire = Vec::new();
    /// encode_frame(&mut wire, true, false, OpCode::Text, Some([1, 2, 3, 4]), b"too long");
    /// let err = MessageReader::server(4, None).read(&wire).unwrap_err();
    /// assert!(err.is_too_big() && !err.is_invalid_payload());
    /// ```
    pub fn is_too_big(&self) -> bool {
        self.code == close_code::MESSAGE_TOO_BIG
    }

    /// Text that was not UTF-8, or a payload that did not decompress (close code 1007).
    ///
    /// ```
    /// use tornado_web::websocket::frame::{encode_frame, OpCode};
    /// use tornado_web::websocket::MessageReader;
    ///
    /// let mut wire = Vec::new();
    /// encode_frame(&mut wire, true, false, OpCode::Text, Some([1, 2, 3, 4]), b"\xff");
    /// let err = MessageReader::server(100, None).read(&wire).unwrap_err();
    /// assert!(err.is_invalid_payload() && !err.is_too_big());
    /// ```
    pub fn is_invalid_payload(&self) -> bool {
        self.code == close_code::INVALID_PAYLOAD
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (close code {})", self.message, self.code)
    }
}

impl std::error::Error for ProtocolError {}

/// A decoded frame header.
///
/// ```
/// use tornado_web::websocket::frame::{decode_header, DecodeRules, FrameHeader, OpCode};
///
/// // A masked, compressed first fragment of a text message, 300 bytes long.
/// let wire = [0x41, 0x80 | 126, 0x01, 0x2c, 9, 8, 7, 6];
/// let rules = DecodeRules { masked: true, rsv1_allowed: true };
/// let (header, len) = decode_header(&wire, rules).unwrap().unwrap();
/// assert_eq!(len, wire.len());
/// assert_eq!(header, FrameHeader {
///     fin: false,
///     rsv1: true,
///     opcode: OpCode::Text,
///     mask: Some([9, 8, 7, 6]),
///     payload_len: 300,
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The last frame of its message.
    pub fin: bool,
    /// RSV1: "compressed" under permessage-deflate.
    pub rsv1: bool,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, if the frame is masked.
    pub mask: Option<[u8; 4]>,
    /// The payload's length.
    pub payload_len: u64,
}

/// What [`decode_header`] checks beyond the RFC's fixed rules.
///
/// ```
/// use tornado_web::websocket::frame::{decode_header, DecodeRules};
///
/// let from_client = DecodeRules { masked: true, rsv1_allowed: false };
/// let from_server = DecodeRules { masked: false, rsv1_allowed: false };
/// let unmasked = [0x81, 0x00];
/// assert!(decode_header(&unmasked, from_server).unwrap().is_some());
/// let err = decode_header(&unmasked, from_client).unwrap_err();
/// assert_eq!(err.message(), "unmasked frame from a client");
/// // RSV1 means something only once permessage-deflate is negotiated.
/// let deflated = [0xC1, 0x00];
/// assert!(decode_header(&deflated, from_server).is_err());
/// assert!(decode_header(&deflated, DecodeRules { rsv1_allowed: true, ..from_server }).is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeRules {
    /// Frames must be masked (a server reading a client), or must not be (a client
    /// reading a server).
    pub masked: bool,
    /// An extension (permessage-deflate) gives RSV1 a meaning.
    pub rsv1_allowed: bool,
}

/// Decodes the frame header at the start of `buf`: the header and its length, or
/// `None` if `buf` does not hold a whole header yet.
///
/// ```
/// use tornado_web::websocket::frame::{decode_header, DecodeRules, OpCode};
///
/// let rules = DecodeRules { masked: false, rsv1_allowed: false };
/// let (h, len) = decode_header(&[0x81, 0x05, b'h'], rules).unwrap().unwrap();
/// assert_eq!((h.fin, h.opcode, h.payload_len, len), (true, OpCode::Text, 5, 2));
/// assert!(decode_header(&[0x81], rules).unwrap().is_none());
/// assert_eq!(decode_header(&[0x83, 0x00], rules).unwrap_err().close_code(), 1002);
/// ```
pub fn decode_header(
    buf: &[u8],
    rules: DecodeRules,
) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };
    let fin = b0 & 0x80 != 0;
    let rsv1 = b0 & 0x40 != 0;
    if b0 & 0x30 != 0 {
        return Err(ProtocolError::protocol("reserved bits RSV2/RSV3 set"));
    }
    if rsv1 && !rules.rsv1_allowed {
        return Err(ProtocolError::protocol("reserved bit RSV1 set"));
    }
    let Some(opcode) = OpCode::from_u8(b0 & 0x0F) else {
        return Err(ProtocolError::protocol("reserved opcode"));
    };
    let masked = b1 & 0x80 != 0;
    if masked != rules.masked {
        return Err(ProtocolError::protocol(if rules.masked {
            "unmasked frame from a client"
        } else {
            "masked frame from a server"
        }));
    }
    let len7 = b1 & 0x7F;
    if opcode.is_control() {
        if !fin {
            return Err(ProtocolError::protocol("fragmented control frame"));
        }
        if len7 as usize > MAX_CONTROL_PAYLOAD {
            return Err(ProtocolError::protocol(
                "control frame longer than 125 bytes",
            ));
        }
        if rsv1 {
            return Err(ProtocolError::protocol("RSV1 set on a control frame"));
        }
    }
    let (payload_len, mut at) = match len7 {
        126 => {
            let Some(b) = buf.get(2..4) else {
                return Ok(None);
            };
            let n = u16::from_be_bytes([b[0], b[1]]) as u64;
            if n < 126 {
                return Err(ProtocolError::protocol("length not in its shortest form"));
            }
            (n, 4)
        }
        127 => {
            let Some(b) = buf.get(2..10) else {
                return Ok(None);
            };
            let mut a = [0; 8];
            a.copy_from_slice(b);
            let n = u64::from_be_bytes(a);
            if n >> 63 != 0 {
                return Err(ProtocolError::protocol(
                    "64-bit length with the top bit set",
                ));
            }
            if n <= u16::MAX as u64 {
                return Err(ProtocolError::protocol("length not in its shortest form"));
            }
            (n, 10)
        }
        n => (n as u64, 2),
    };
    let mask = if masked {
        let Some(m) = buf.get(at..at + 4) else {
            return Ok(None);
        };
        at += 4;
        Some([m[0], m[1], m[2], m[3]])
    } else {
        None
    };
    Ok(Some((
        FrameHeader {
            fin,
            rsv1,
            opcode,
            mask,
            payload_len,
        },
        at,
    )))
}

/// Appends a frame header for a `payload_len`-byte payload to `out`, in the shortest
/// length form.
///
/// ```
/// use tornado_web::websocket::frame::{encode_header, OpCode};
///
/// let mut out = Vec::new();
/// encode_header(&mut out, true, false, OpCode::Text, None, 5);
/// assert_eq!(out, [0x81, 5]);
/// out.clear();
/// encode_header(&mut out, true, false, OpCode::Binary, Some([1, 2, 3, 4]), 300);
/// assert_eq!(out, [0x82, 0x80 | 126, 0x01, 0x2c, 1, 2, 3, 4]);
/// out.clear();
/// encode_header(&mut out, false, false, OpCode::Binary, None, 70_000);
/// assert_eq!(out, [0x02, 127, 0, 0, 0, 0, 0, 0x01, 0x11, 0x70]);
/// ```
pub fn encode_header(
    out: &mut Vec<u8>,
    fin: bool,
    rsv1: bool,
    opcode: OpCode,
    mask: Option<[u8; 4]>,
    payload_len: u64,
) {
    let b0 = (fin as u8) << 7 | (rsv1 as u8) << 6 | opcode.as_u8();
    let m = if mask.is_some() { 0x80 } else { 0 };
    out.push(b0);
    if payload_len < 126 {
        out.push(m | payload_len as u8);
    } else if payload_len <= u16::MAX as u64 {
        out.push(m | 126);
        out.extend_from_slice(&(payload_len as u16).to_be_bytes());
    } else {
        out.push(m | 127);
        out.extend_from_slice(&payload_len.to_be_bytes());
    }
    if let Some(mask) = mask {
        out.extend_from_slice(&mask);
    }
}

/// Appends a whole frame to `out`: its header, then `payload`, masked with `mask` if
/// given (a client masks every frame).
///
/// ```
/// use tornado_web::websocket::frame::{encode_frame, OpCode};
///
/// let mut out = Vec::new();
/// encode_frame(&mut out, true, false, OpCode::Binary, None, b"hi");
/// assert_eq!(out, [0x82, 0x02, b'h', b'i']);
/// ```
pub fn encode_frame(
    out: &mut Vec<u8>,
    fin: bool,
    rsv1: bool,
    opcode: OpCode,
    mask: Option<[u8; 4]>,
    payload: &[u8],
) {
    encode_header(out, fin, rsv1, opcode, mask, payload.len() as u64);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(mask) = mask {
        apply_mask(&mut out[start..], mask, 0);
    }
}

/// XORs `data` with `mask`, as if `data` began `offset` bytes into the payload (so a
/// payload can be unmasked in pieces as it arrives). Masking twice unmasks.
///
/// Eight bytes at a time: the mask is widened to a word rotated to the offset's phase,
/// and the compiler vectorises the loop further.
///
/// ```
/// use tornado_web::websocket::frame::apply_mask;
///
/// let mask = [1, 2, 3, 4];
/// let mut data = *b"Hello, world";
/// apply_mask(&mut data, mask, 0);
/// let (a, b) = data.split_at_mut(5);
/// apply_mask(a, mask, 0);
/// apply_mask(b, mask, 5);
/// assert_eq!(&data, b"Hello, world");
/// ```
pub fn apply_mask(data: &mut [u8], mask: [u8; 4], offset: usize) {
    let mut m = [0u8; 8];
    for (i, b) in m.iter_mut().enumerate() {
        *b = mask[(offset + i) % 4];
    }
    let word = u64::from_ne_bytes(m);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut a = [0u8; 8];
        a.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(a) ^ word).to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= m[i];
    }
}

/// Reads a close frame's payload: `None` for an empty one (no status), else the code
/// and the reason. A one-byte payload or an invalid code is a protocol error (1002),
/// a reason that is not UTF-8 an invalid payload (1007).
///
/// ```
/// use tornado_web::websocket::frame::parse_close_payload;
///
/// assert_eq!(parse_close_payload(b"\x03\xe8bye").unwrap(), Some((1000, "bye")));
/// assert_eq!(parse_close_payload(b"").unwrap(), None);
/// assert_eq!(parse_close_payload(b"\x03\xed").unwrap_err().close_code(), 1002); // 1005
/// ```
pub fn parse_close_payload(payload: &[u8]) -> Result<Option<(u16, &str)>, ProtocolError> {
    match payload {
        [] => Ok(None),
        [_] => Err(ProtocolError::protocol("close frame with a 1-byte payload")),
        [a, b, reason @ ..] => {
            let code = u16::from_be_bytes([*a, *b]);
            if !is_valid_close_code(code) {
                return Err(ProtocolError::protocol("invalid close code"));
            }
            let reason = std::str::from_utf8(reason).map_err(|_| {
                ProtocolError::new(close_code::INVALID_PAYLOAD, "close reason is not UTF-8")
            })?;
            Ok(Some((code, reason)))
        }
    }
}

/// The payload of a close frame with `code` and `reason`, the reason cut at a
/// character boundary so the payload fits a control frame (123 bytes of reason).
///
/// ```
/// use tornado_web::websocket::frame::close_payload;
///
/// assert_eq!(close_payload(1000, "bye"), b"\x03\xe8bye");
/// // 100 two-byte characters: 61 fit in 123 bytes, and no character is cut in half.
/// let long = close_payload(4000, &"é".repeat(100));
/// assert_eq!(long.len(), 2 + 61 * 2);
/// assert!(std::str::from_utf8(&long[2..]).is_ok());
/// ```
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut end = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = Vec::with_capacity(2 + end);
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(&reason.as_bytes()[..end]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER: DecodeRules = DecodeRules {
        masked: true,
        rsv1_allowed: false,
    };
    const CLIENT: DecodeRules = DecodeRules {
        masked: false,
        rsv1_allowed: false,
    };

    fn decode(buf: &[u8], rules: DecodeRules) -> Result<Option<(FrameHeader, usize)>, u16> {
        decode_header(buf, rules).map_err(|e| e.close_code())
    }

    #[test]
    fn length_forms_round_trip_in_the_shortest_form() {
        for (len, header_len) in [
            (0u64, 2),
            (125, 2),
            (126, 4),
            (65535, 4),
            (65536, 10),
            (1 << 40, 10),
        ] {
            let mut out = Vec::new();
            encode_header(&mut out, true, false, OpCode::Binary, None, len);
            assert_eq!(out.len(), header_len, "len {len}");
            let (h, n) = decode(&out, CLIENT).unwrap().unwrap();
            assert_eq!((h.payload_len, n), (len, header_len));
            // Every prefix is incomplete, never an error.
            for cut in 0..out.len() {
                assert_eq!(decode(&out[..cut], CLIENT), Ok(None), "len {len} cut {cut}");
            }
        }
    }

    #[test]
    fn masked_header_round_trips() {
        let mut out = Vec::new();
        encode_frame(
            &mut out,
            false,
            true,
            OpCode::Text,
            Some([9, 8, 7, 6]),
            b"abc",
        );
        let rules = DecodeRules {
            masked: true,
            rsv1_allowed: true,
        };
        let (h, n) = decode(&out, rules).unwrap().unwrap();
        assert_eq!(n, 6);
        assert!(!h.fin && h.rsv1);
        assert_eq!(h.mask, Some([9, 8, 7, 6]));
        let mut payload = out[n..].to_vec();
        apply_mask(&mut payload, [9, 8, 7, 6], 0);
        assert_eq!(payload, b"abc");
    }

    #[test]
    fn bad_headers_are_protocol_errors() {
        let m = 0x80; // the mask bit
        let rows: &[(&str, &[u8], DecodeRules)] = &[
            ("RSV1 without extension", &[0xC1, m, 0, 0, 0, 0], SERVER),
            ("RSV2", &[0xA1, m, 0, 0, 0, 0], SERVER),
            ("RSV3", &[0x91, m, 0, 0, 0, 0], SERVER),
            ("opcode 3", &[0x83, m, 0, 0, 0, 0], SERVER),
            ("opcode 7", &[0x87, m, 0, 0, 0, 0], SERVER),
            ("opcode 0xB", &[0x8B, m, 0, 0, 0, 0], SERVER),
            ("opcode 0xF", &[0x8F, m, 0, 0, 0, 0], SERVER),
            ("unmasked from client", &[0x81, 0x00], SERVER),
            ("masked from server", &[0x81, m, 0, 0, 0, 0], CLIENT),
            ("fragmented ping", &[0x09, m, 0, 0, 0, 0], SERVER),
            ("fragmented close", &[0x08, m, 0, 0, 0, 0], SERVER),
            (
                "126-byte ping",
                &[0x89, m | 126, 0, 126, 0, 0, 0, 0],
                SERVER,
            ),
            (
                "long form for 125",
                &[0x82, m | 126, 0, 125, 0, 0, 0, 0],
                SERVER,
            ),
            (
                "64-bit form for 65535",
                &[0x82, m | 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF],
                SERVER,
            ),
            (
                "64-bit top bit",
                &[0x82, m | 127, 0x80, 0, 0, 0, 0, 0, 0, 0],
                SERVER,
            ),
        ];
        for (what, buf, rules) in rows {
            assert_eq!(decode(buf, *rules), Err(1002), "{what}");
        }
        let deflate = DecodeRules {
            masked: true,
            rsv1_allowed: true,
        };
        assert!(decode(&[0xC1, m, 0, 0, 0, 0], deflate).unwrap().is_some());
        assert_eq!(
            decode(&[0xC9, m, 0, 0, 0, 0], deflate),
            Err(1002),
            "RSV1 ping"
        );
    }

    #[test]
    fn masking_in_pieces_at_every_offset_matches_bytewise() {
        let mask = [0x12, 0x34, 0x56, 0x78];
        let data: Vec<u8> = (0..200u8).collect();
        let expected: Vec<u8> = data
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i % 4])
            .collect();
        for cut in 0..data.len() {
            let mut d = data.clone();
            let (a, b) = d.split_at_mut(cut);
            apply_mask(a, mask, 0);
            apply_mask(b, mask, cut);
            assert_eq!(d, expected, "cut {cut}");
        }
    }

    #[test]
    fn close_codes() {
        for code in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4999,
        ] {
            assert!(is_valid_close_code(code), "{code}");
            assert_eq!(
                parse_close_payload(&code.to_be_bytes()).unwrap(),
                Some((code, ""))
            );
        }
        for code in [
            0, 999, 1004, 1005, 1006, 1012, 1014, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!is_valid_close_code(code), "{code}");
            let e = parse_close_payload(&code.to_be_bytes()).unwrap_err();
            assert_eq!(e.close_code(), 1002, "{code}");
        }
        assert_eq!(parse_close_payload(b"\x03").unwrap_err().close_code(), 1002);
        let e = parse_close_payload(
            b"\x03\xe8\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80",
        )
        .unwrap_err();
        assert_eq!(e.close_code(), 1007);
    }

    #[test]
    fn close_payload_cuts_the_reason_at_a_character() {
        let reason = "é".repeat(100);
        let p = close_payload(1000, &reason);
        assert!(p.len() <= MAX_CONTROL_PAYLOAD);
        let (code, r) = parse_close_payload(&p).unwrap().unwrap();
        assert_eq!(code, 1000);
        assert_eq!(r.chars().count(), 61);
    }
}
