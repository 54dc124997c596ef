//! [`MessageReader`]: turns the bytes of a WebSocket connection into messages and
//! control frames, as a pure state machine (no sockets).
//!
//! Payloads are taken as they arrive, so a message larger than the read buffer never
//! has to sit whole in it: each piece is unmasked into the message being assembled
//! and, for uncompressed text, checked as UTF-8 at once (a bad byte fails the
//! connection before the rest arrives). Control frames, which may come between the
//! fragments of a message, are taken whole (at most 125 bytes). An idle reader holds
//! no buffer.
//!
//! ```
//! use tornado_web::websocket::frame::{encode_frame, OpCode};
//! use tornado_web::websocket::reader::Incoming;
//! use tornado_web::websocket::MessageReader;
//!
//! // What a server sent, arriving three bytes at a time.
//! let mut wire = Vec::new();
//! encode_frame(&mut wire, true, false, OpCode::Text, None, b"hello");
//! encode_frame(&mut wire, true, false, OpCode::Pong, None, b"");
//!
//! let mut reader = MessageReader::client(1024, None);
//! let mut buffer = Vec::new();
//! let mut got = Vec::new();
//! for piece in wire.chunks(3) {
//!     buffer.extend_from_slice(piece);
//!     // Take out all that is complete; keep what is not used.
//!     loop {
//!         let (used, incoming) = reader.read(&buffer).unwrap();
//!         buffer.drain(..used);
//!         match incoming {
//!             Some(incoming) => got.push(incoming),
//!             None => break,
//!         }
//!     }
//! }
//! assert_eq!(got, [Incoming::Message("hello".into()), Incoming::Pong(Default::default())]);
//! ```

use bytes::Bytes;

use super::Message;
use super::deflate::Decompressor;
use super::frame::{
    DecodeRules, OpCode, ProtocolError, apply_mask, close_code, decode_header, parse_close_payload,
};
use super::utf8::Utf8Validator;

/// Something the peer sent.
///
/// ```
/// use bytes::Bytes;
/// use tornado_web::websocket::frame::{close_payload, encode_frame, OpCode};
/// use tornado_web::websocket::reader::Incoming;
/// use tornado_web::websocket::MessageReader;
///
/// // A server's frames are unmasked: what a client reads.
/// let mut wire = Vec::new();
/// encode_frame(&mut wire, true, false, OpCode::Ping, None, b"p");
/// encode_frame(&mut wire, true, false, OpCode::Close, None, &close_payload(1001, "bye"));
///
/// let mut reader = MessageReader::client(1024, None);
/// let (used, got) = reader.read(&wire).unwrap();
/// assert_eq!(got, Some(Incoming::Ping(Bytes::from_static(b"p"))));
/// let (_, got) = reader.read(&wire[used..]).unwrap();
/// assert_eq!(got, Some(Incoming::Close(Some((1001, "bye".into())))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A whole message (its fragments joined, decompressed, text checked).
    Message(Message),
    /// A ping: answer with a pong carrying `payload`.
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// A close frame: its code and reason, or `None` when it carried none.
    Close(Option<(u16, String)>),
}

/// The data frame whose payload is being read.
#[derive(Debug)]
struct FrameState {
    fin: bool,
    remaining: u64,
    mask: Option<[u8; 4]>,
    /// How far into the payload (for the mask's phase).
    offset: usize,
}

/// The message being assembled.
#[derive(Debug)]
struct Partial {
    text: bool,
    compressed: bool,
    data: Vec<u8>,
    utf8: Utf8Validator,
    /// Some of the text was checked piece by piece (else it is checked whole at the end).
    checked: bool,
}

/// Reads messages from a byte stream: feed it what arrived with
/// [`read`](Self::read), drop the bytes it says it used, and feed it again.
///
/// ```
/// use tornado_web::websocket::{Message, MessageReader};
/// use tornado_web::websocket::reader::Incoming;
/// use tornado_web::websocket::frame::{encode_frame, OpCode};
///
/// // What a client sends: "Hel" and "lo" as two masked fragments.
/// let mut wire = Vec::new();
/// encode_frame(&mut wire, false, false, OpCode::Text, Some([1, 2, 3, 4]), b"Hel");
/// encode_frame(&mut wire, true, false, OpCode::Continuation, Some([5, 6, 7, 8]), b"lo");
///
/// let mut reader = MessageReader::server(1 << 20, None);
/// let (used, got) = reader.read(&wire).unwrap();
/// assert_eq!(used, wire.len());
/// assert_eq!(got, Some(Incoming::Message(Message::Text("Hello".into()))));
/// ```
#[derive(Debug)]
pub struct MessageReader {
    rules: DecodeRules,
    max_message_size: usize,
    frame: Option<FrameState>,
    message: Option<Partial>,
    inflate: Option<Box<Decompressor>>,
}

impl MessageReader {
    /// A server's reader: frames must be masked; `inflate` when permessage-deflate was
    /// negotiated (RSV1 then marks a compressed message).
    ///
    /// ```
    /// use tornado_web::websocket::deflate::DeflateParams;
    /// use tornado_web::websocket::frame::{encode_frame, OpCode};
    /// use tornado_web::websocket::reader::Incoming;
    /// use tornado_web::websocket::{Message, MessageReader};
    ///
    /// let params = DeflateParams {
    ///     server_no_context_takeover: false,
    ///     client_no_context_takeover: false,
    ///     server_max_window_bits: 15,
    ///     client_max_window_bits: 15,
    /// };
    /// // A client's compressed message: RSV1 set, masked.
    /// let mut payload = Vec::new();
    /// params.compressor(false, 6).compress(b"hello hello hello", &mut payload);
    /// let mut wire = Vec::new();
    /// encode_frame(&mut wire, true, true, OpCode::Text, Some([1, 2, 3, 4]), &payload);
    ///
    /// let mut reader = MessageReader::server(1024, Some(params.decompressor(true)));
    /// let (_, got) = reader.read(&wire).unwrap();
    /// assert_eq!(got, Some(Incoming::Message(Message::Text("hello hello hello".into()))));
    ///
    /// // Without deflate negotiated, RSV1 is a protocol error.
    /// assert_eq!(MessageReader::server(1024, None).read(&wire).unwrap_err().close_code(), 1002);
    /// ```
    pub fn server(max_message_size: usize, inflate: Option<Decompressor>) -> MessageReader {
        MessageReader::new(true, max_message_size, inflate)
    }

    /// A client's reader: frames must not be masked.
    ///
    /// ```
    /// use tornado_web::websocket::frame::{encode_frame, OpCode};
    /// use tornado_web::websocket::reader::Incoming;
    /// use tornado_web::websocket::{Message, MessageReader};
    ///
    /// let mut reader = MessageReader::client(1024, None);
    /// let mut wire = Vec::new();
    /// encode_frame(&mut wire, true, false, OpCode::Binary, None, &[1, 2]);
    /// let (_, got) = reader.read(&wire).unwrap();
    /// assert_eq!(got, Some(Incoming::Message(Message::Binary(vec![1u8, 2].into()))));
    ///
    /// // A masked frame from the server is a protocol error.
    /// wire.clear();
    /// encode_frame(&mut wire, true, false, OpCode::Binary, Some([1, 2, 3, 4]), &[1, 2]);
    /// assert_eq!(reader.read(&wire).unwrap_err().message(), "masked frame from a server");
    /// ```
    pub fn client(max_message_size: usize, inflate: Option<Decompressor>) -> MessageReader {
        MessageReader::new(false, max_message_size, inflate)
    }

    fn new(masked: bool, max_message_size: usize, inflate: Option<Decompressor>) -> Self {
        MessageReader {
            rules: DecodeRules {
                masked,
                rsv1_allowed: inflate.is_some(),
            },
            max_message_size,
            frame: None,
            message: None,
            inflate: inflate.map(Box::new),
        }
    }

    /// Whether a message is partly read (the reader then holds its bytes).
    ///
    /// ```
    /// use tornado_web::websocket::frame::{encode_frame, OpCode};
    /// use tornado_web::websocket::MessageReader;
    ///
    /// let mut reader = MessageReader::client(1024, None);
    /// let mut first = Vec::new();
    /// encode_frame(&mut first, false, false, OpCode::Text, None, b"Hel");
    /// assert_eq!(reader.read(&first).unwrap(), (first.len(), None));
    /// assert!(reader.in_message());
    ///
    /// let mut last = Vec::new();
    /// encode_frame(&mut last, true, false, OpCode::Continuation, None, b"lo");
    /// assert!(reader.read(&last).unwrap().1.is_some());
    /// assert!(!reader.in_message());
    /// ```
    pub fn in_message(&self) -> bool {
        self.message.is_some()
    }

    /// Reads from `input`: how many bytes were used, and what they completed, if
    /// anything. Call again with the unused rest (and more input) until it returns
    /// `None`; bytes not used are an incomplete header or control frame. After an
    /// error the connection must be failed with its close code.
    ///
    /// ```
    /// use tornado_web::websocket::frame::{encode_frame, OpCode};
    /// use tornado_web::websocket::reader::Incoming;
    /// use tornado_web::websocket::{Message, MessageReader};
    ///
    /// let mut wire = Vec::new();
    /// encode_frame(&mut wire, true, false, OpCode::Text, None, b"one");
    /// encode_frame(&mut wire, true, false, OpCode::Text, None, b"two");
    ///
    /// // As a socket might deliver it: the first frame and a byte of the second.
    /// let mut reader = MessageReader::client(1024, None);
    /// let (used, got) = reader.read(&wire[..6]).unwrap();
    /// assert_eq!((used, got), (5, Some(Incoming::Message(Message::Text("one".into())))));
    /// // Half a header is not used: keep it, and read again once more has come.
    /// assert_eq!(reader.read(&wire[5..6]).unwrap(), (0, None));
    /// let (used, got) = reader.read(&wire[5..]).unwrap();
    /// assert_eq!((used, got), (5, Some(Incoming::Message(Message::Text("two".into())))));
    /// ```
    pub fn read(&mut self, input: &[u8]) -> Result<(usize, Option<Incoming>), ProtocolError> {
        let mut pos = 0;
        loop {
            if let Some(f) = self.frame.as_mut() {
                let Some(msg) = self.message.as_mut() else {
                    return Err(ProtocolError::protocol("payload without a message"));
                };
                let avail = (input.len() - pos).min(f.remaining.min(usize::MAX as u64) as usize);
                if avail == 0 && f.remaining > 0 {
                    return Ok((pos, None));
                }
                let start = msg.data.len();
                msg.data.extend_from_slice(&input[pos..pos + avail]);
                if let Some(mask) = f.mask {
                    apply_mask(&mut msg.data[start..], mask, f.offset);
                }
                f.offset += avail;
                f.remaining -= avail as u64;
                pos += avail;
                let last = f.remaining == 0 && f.fin;
                // A whole message read in one piece is checked once, at the end.
                if msg.text && !msg.compressed && !(last && start == 0) {
                    msg.checked = true;
                    msg.utf8
                        .feed(&msg.data[start..])
                        .map_err(|_| invalid_utf8())?;
                }
                if f.remaining == 0 {
                    self.frame = None;
                    if last {
                        return self
                            .finish_message()
                            .map(|m| (pos, Some(Incoming::Message(m))));
                    }
                }
                continue;
            }
            let Some((h, header_len)) = decode_header(&input[pos..], self.rules)? else {
                return Ok((pos, None));
            };
            if h.opcode.is_control() {
                let len = h.payload_len as usize;
                let Some(payload) = input.get(pos + header_len..pos + header_len + len) else {
                    return Ok((pos, None));
                };
                let mut payload = payload.to_vec();
                if let Some(mask) = h.mask {
                    apply_mask(&mut payload, mask, 0);
                }
                pos += header_len + len;
                let incoming = match h.opcode {
                    OpCode::Ping => Incoming::Ping(payload.into()),
                    OpCode::Pong => Incoming::Pong(payload.into()),
                    _ => Incoming::Close(
                        parse_close_payload(&payload)?.map(|(c, r)| (c, r.to_owned())),
                    ),
                };
                return Ok((pos, Some(incoming)));
            }
            match (h.opcode, self.message.is_some()) {
                (OpCode::Continuation, false) => {
                    return Err(ProtocolError::protocol(
                        "continuation frame without a message",
                    ));
                }
                (OpCode::Continuation, true) if h.rsv1 => {
                    return Err(ProtocolError::protocol("RSV1 set on a continuation frame"));
                }
                (OpCode::Continuation, true) => {}
                (_, true) => {
                    return Err(ProtocolError::protocol(
                        "a new message inside a fragmented one",
                    ));
                }
                (op, false) => {
                    self.message = Some(Partial {
                        text: op == OpCode::Text,
                        compressed: h.rsv1,
                        data: Vec::new(),
                        utf8: Utf8Validator::default(),
                        checked: false,
                    });
                }
            }
            let msg = self.message.as_mut().expect("set above");
            if msg.data.len() as u64 + h.payload_len > self.max_message_size as u64 {
                return Err(too_big());
            }
            // Reserve what is there or soon will be, not what a header claims: a peer
            // announcing a large frame and sending nothing costs nothing.
            let want = (h.payload_len as usize).min(input.len() - pos - header_len + 64 * 1024);
            msg.data.reserve(want);
            pos += header_len;
            self.frame = Some(FrameState {
                fin: h.fin,
                remaining: h.payload_len,
                mask: h.mask,
                offset: 0,
            });
        }
    }

    fn finish_message(&mut self) -> Result<Message, ProtocolError> {
        let Some(mut msg) = self.message.take() else {
            return Err(ProtocolError::protocol("no message to finish"));
        };
        let data = if msg.compressed {
            let Some(inflate) = self.inflate.as_mut() else {
                return Err(ProtocolError::protocol(
                    "compressed message without deflate",
                ));
            };
            inflate.decompress(&msg.data, self.max_message_size)?
        } else {
            std::mem::take(&mut msg.data)
        };
        if !msg.text {
            return Ok(Message::Binary(Bytes::from(data)));
        }
        if msg.checked {
            msg.utf8.finish().map_err(|_| invalid_utf8())?;
        }
        String::from_utf8(data)
            .map(Message::Text)
            .map_err(|_| invalid_utf8())
    }
}

fn invalid_utf8() -> ProtocolError {
    ProtocolError::new(close_code::INVALID_PAYLOAD, "text message is not UTF-8")
}

fn too_big() -> ProtocolError {
    ProtocolError::new(close_code::MESSAGE_TOO_BIG, "message too big")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::websocket::deflate::DeflateParams;
    use crate::websocket::frame::encode_frame;

    const MASK: Option<[u8; 4]> = Some([0x37, 0xfa, 0x21, 0x3d]);

    fn frame(fin: bool, op: OpCode, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_frame(&mut out, fin, false, op, MASK, payload);
        out
    }

    /// Everything `wire` yields, fed in pieces of `step` bytes (as a socket might
    /// deliver it), or the close code of the first error.
    fn read_all(
        reader: &mut MessageReader,
        wire: &[u8],
        step: usize,
    ) -> Result<Vec<Incoming>, u16> {
        let mut buf = Vec::new();
        let mut out = Vec::new();
        for piece in wire.chunks(step.max(1)) {
            buf.extend_from_slice(piece);
            loop {
                let (used, got) = reader.read(&buf).map_err(|e| e.close_code())?;
                buf.drain(..used);
                match got {
                    Some(m) => out.push(m),
                    None => break,
                }
            }
        }
        assert!(buf.is_empty(), "left over: {buf:?}");
        Ok(out)
    }

    fn text(s: &str) -> Incoming {
        Incoming::Message(Message::Text(s.into()))
    }

    #[test]
    fn fragments_with_control_frames_between_them_at_every_split() {
        let mut wire = frame(false, OpCode::Text, b"frag");
        wire.extend(frame(false, OpCode::Continuation, b"men"));
        wire.extend(frame(true, OpCode::Ping, b"ping!"));
        wire.extend(frame(false, OpCode::Continuation, b""));
        wire.extend(frame(true, OpCode::Pong, b""));
        wire.extend(frame(true, OpCode::Continuation, "ted é".as_bytes()));
        wire.extend(frame(true, OpCode::Binary, &[0, 1, 2]));
        wire.extend(frame(true, OpCode::Close, b"\x03\xe8bye"));
        for step in 1..wire.len() {
            let mut r = MessageReader::server(1000, None);
            let got = read_all(&mut r, &wire, step).unwrap();
            assert_eq!(
                got,
                vec![
                    Incoming::Ping(Bytes::from_static(b"ping!")),
                    Incoming::Pong(Bytes::new()),
                    text("fragmented é"),
                    Incoming::Message(Message::Binary(Bytes::from_static(&[0, 1, 2]))),
                    Incoming::Close(Some((1000, "bye".into()))),
                ],
                "step {step}"
            );
            assert!(!r.in_message());
        }
    }

    #[test]
    fn large_frames_in_every_length_form() {
        for len in [0, 125, 126, 65535, 65536, 300_000] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let wire = frame(true, OpCode::Binary, &payload);
            let mut r = MessageReader::server(1 << 20, None);
            let got = read_all(&mut r, &wire, 4096).unwrap();
            assert_eq!(
                got,
                vec![Incoming::Message(Message::Binary(payload.into()))]
            );
        }
    }

    #[test]
    fn sequence_errors() {
        let rows: &[(&str, Vec<u8>)] = &[
            (
                "continuation first",
                frame(true, OpCode::Continuation, b"x"),
            ),
            ("text inside text", {
                let mut w = frame(false, OpCode::Text, b"a");
                w.extend(frame(true, OpCode::Text, b"b"));
                w
            }),
            ("binary inside text", {
                let mut w = frame(false, OpCode::Text, b"a");
                w.extend(frame(true, OpCode::Binary, b"b"));
                w
            }),
            ("close with one byte", frame(true, OpCode::Close, b"\x03")),
            ("close code 1005", frame(true, OpCode::Close, b"\x03\xed")),
            ("close code 999", frame(true, OpCode::Close, b"\x03\xe7")),
        ];
        for (what, wire) in rows {
            let mut r = MessageReader::server(1000, None);
            assert_eq!(read_all(&mut r, wire, 1000), Err(1002), "{what}");
        }
    }

    #[test]
    fn bad_utf8_fails_fast_with_1007() {
        // The first fragment is fine, the second holds a surrogate: the error comes
        // with the second fragment, before the third is sent.
        let mut r = MessageReader::server(1000, None);
        let first = frame(
            false,
            OpCode::Text,
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5",
        );
        assert_eq!(read_all(&mut r, &first, 100), Ok(vec![]));
        let second = frame(false, OpCode::Continuation, b"\xed\xa0\x80");
        assert_eq!(read_all(&mut r, &second, 100), Err(1007));

        // Within one frame delivered in pieces: fails on the piece with the bad byte.
        let mut r = MessageReader::server(1000, None);
        let mut wire = frame(
            true,
            OpCode::Text,
            b"hello\xf4\x90\x80\x80 and much more after it",
        );
        // 6 header bytes, "hello", then F4 90: the 0x90 makes it invalid.
        wire.truncate(6 + 5 + 2);
        assert_eq!(read_all(&mut r, &wire, 3), Err(1007));

        // Whole, in one frame; and a message ending mid-character.
        for payload in [&b"\xc0\xaf"[..], b"abc\xe2\x82"] {
            let mut r = MessageReader::server(1000, None);
            assert_eq!(
                read_all(&mut r, &frame(true, OpCode::Text, payload), 1000),
                Err(1007)
            );
            let mut r = MessageReader::server(1000, None);
            assert_eq!(
                read_all(&mut r, &frame(true, OpCode::Text, payload), 1),
                Err(1007)
            );
        }
        // The close reason too.
        let mut r = MessageReader::server(1000, None);
        let close = frame(true, OpCode::Close, b"\x03\xe8\xff");
        assert_eq!(read_all(&mut r, &close, 1000), Err(1007));
    }

    #[test]
    fn too_big_is_1009_before_the_payload_arrives() {
        let mut r = MessageReader::server(10, None);
        let mut header = Vec::new();
        crate::websocket::frame::encode_header(&mut header, true, false, OpCode::Binary, MASK, 11);
        assert_eq!(r.read(&header).unwrap_err().close_code(), 1009);
        // Across fragments.
        let mut r = MessageReader::server(10, None);
        let mut wire = frame(false, OpCode::Binary, b"123456");
        wire.extend(frame(true, OpCode::Continuation, b"12345"));
        assert_eq!(read_all(&mut r, &wire, 1000), Err(1009));
        // Exactly at the limit is fine.
        let mut r = MessageReader::server(10, None);
        let mut wire = frame(false, OpCode::Binary, b"123456");
        wire.extend(frame(true, OpCode::Continuation, b"1234"));
        assert_eq!(read_all(&mut r, &wire, 1000).unwrap().len(), 1);
    }

    fn deflate() -> DeflateParams {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }

    #[test]
    fn compressed_messages_whole_and_fragmented() {
        let mut c = deflate().compressor(false, 6);
        let mut r = MessageReader::server(1 << 20, Some(deflate().decompressor(true)));
        let text_in = "compress me, compress me, compress me ".repeat(50);
        let mut payload = Vec::new();
        c.compress(text_in.as_bytes(), &mut payload);
        let mut wire = Vec::new();
        encode_frame(&mut wire, true, true, OpCode::Text, MASK, &payload);
        // Fragmented: RSV1 on the first frame only.
        let mut payload2 = Vec::new();
        c.compress(b"\x00\x01binary", &mut payload2);
        let (a, b) = payload2.split_at(payload2.len() / 2);
        encode_frame(&mut wire, false, true, OpCode::Binary, MASK, a);
        encode_frame(&mut wire, true, false, OpCode::Continuation, MASK, b);
        // And an uncompressed one in between is allowed.
        wire.extend(frame(true, OpCode::Text, b"plain"));
        let got = read_all(&mut r, &wire, 7).unwrap();
        assert_eq!(
            got,
            vec![
                text(&text_in),
                Incoming::Message(Message::Binary(Bytes::from_static(b"\x00\x01binary"))),
                text("plain"),
            ]
        );
    }

    #[test]
    fn compression_rules() {
        // RSV1 without deflate negotiated.
        let mut r = MessageReader::server(100, None);
        let mut wire = Vec::new();
        encode_frame(&mut wire, true, true, OpCode::Text, MASK, b"x");
        assert_eq!(read_all(&mut r, &wire, 100), Err(1002));
        // RSV1 on a continuation frame.
        let mut r = MessageReader::server(100, Some(deflate().decompressor(true)));
        let mut wire = Vec::new();
        encode_frame(&mut wire, false, true, OpCode::Text, MASK, b"");
        encode_frame(&mut wire, true, true, OpCode::Continuation, MASK, b"");
        assert_eq!(read_all(&mut r, &wire, 100), Err(1002));
        // A compressed message that inflates past the limit.
        let mut c = deflate().compressor(false, 9);
        let mut payload = Vec::new();
        c.compress(&[b'a'; 100_000], &mut payload);
        let mut wire = Vec::new();
        encode_frame(&mut wire, true, true, OpCode::Binary, MASK, &payload);
        let mut r = MessageReader::server(50_000, Some(deflate().decompressor(true)));
        assert_eq!(read_all(&mut r, &wire, 1000), Err(1009));
        // Compressed text that is not UTF-8.
        let mut c = deflate().compressor(false, 9);
        let mut payload = Vec::new();
        c.compress(b"ok \xff", &mut payload);
        let mut wire = Vec::new();
        encode_frame(&mut wire, true, true, OpCode::Text, MASK, &payload);
        let mut r = MessageReader::server(50_000, Some(deflate().decompressor(true)));
        assert_eq!(read_all(&mut r, &wire, 1000), Err(1007));
    }

    #[test]
    fn client_reader_wants_unmasked_frames() {
        let mut r = MessageReader::client(100, None);
        let mut wire = Vec::new();
        encode_frame(&mut wire, true, false, OpCode::Text, None, b"hi");
        assert_eq!(read_all(&mut r, &wire, 1).unwrap(), vec![text("hi")]);
        assert_eq!(
            read_all(&mut r, &frame(true, OpCode::Text, b"hi"), 100),
            Err(1002)
        );
    }
}
