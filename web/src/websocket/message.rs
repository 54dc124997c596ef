//! [`Message`]: a WebSocket data message, text or binary.

use bytes::Bytes;

/// A whole WebSocket message: text (checked UTF-8) or binary.
///
/// Anything string-like converts into a text message, bytes into a binary one:
///
/// ```
/// use tornado_web::websocket::Message;
///
/// assert_eq!(Message::from("hi"), Message::Text("hi".into()));
/// assert_eq!(Message::from(vec![1u8, 2]).as_bytes(), &[1, 2]);
/// assert_eq!(Message::json(&serde_json::json!({"a": 1})).unwrap().as_text(), Some(r#"{"a":1}"#));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (opcode 1).
    Text(String),
    /// A binary message (opcode 2).
    Binary(Bytes),
}

impl Message {
    /// A text message holding `value` as JSON (Tornado's `write_message(dict)`), with
    /// `</` written `<\/` as Tornado's `json_encode` writes it (the same string to a
    /// JSON reader; a page that puts the text into a `<script>` stays safe).
    ///
    /// ```
    /// use tornado_web::websocket::Message;
    ///
    /// #[derive(serde::Serialize)]
    /// struct Move { x: i32, y: i32 }
    ///
    /// let m = Message::json(&Move { x: 1, y: -2 }).unwrap();
    /// assert_eq!(m, Message::Text(r#"{"x":1,"y":-2}"#.into()));
    /// let m = Message::json(&["</script>"]).unwrap();
    /// assert_eq!(m, Message::Text(r#"["<\/script>"]"#.into()));
    /// ```
    pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<Message> {
        crate::context::json_encode(value).map(Message::Text)
    }

    /// The text, for a text message.
    ///
    /// ```
    /// use tornado_web::websocket::Message;
    ///
    /// assert_eq!(Message::from("hi").as_text(), Some("hi"));
    /// assert_eq!(Message::from(&b"hi"[..]).as_text(), None); // binary, even if UTF-8
    /// ```
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(s) => Some(s),
            Message::Binary(_) => None,
        }
    }

    /// The payload's bytes, either kind.
    ///
    /// ```
    /// use tornado_web::websocket::Message;
    ///
    /// assert_eq!(Message::from("é").as_bytes(), b"\xc3\xa9");
    /// assert_eq!(Message::from(vec![0u8, 255]).as_bytes(), &[0, 255]);
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(s) => s.as_bytes(),
            Message::Binary(b) => b,
        }
    }

    /// Whether this is a text message.
    ///
    /// ```
    /// use tornado_web::websocket::Message;
    ///
    /// assert!(Message::from(String::from("hi")).is_text());
    /// assert!(!Message::from(bytes::Bytes::from_static(b"hi")).is_text());
    /// ```
    pub fn is_text(&self) -> bool {
        matches!(self, Message::Text(_))
    }

    /// The payload's length in bytes.
    ///
    /// ```
    /// use tornado_web::websocket::Message;
    ///
    /// assert_eq!(Message::from("héllo").len(), 6); // bytes, not characters
    /// assert_eq!(Message::from(vec![1u8, 2, 3]).len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the payload is empty.
    ///
    /// ```
    /// use tornado_web::websocket::Message;
    ///
    /// assert!(Message::from("").is_empty());
    /// assert!(!Message::from(vec![0u8]).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<String> for Message {
    fn from(s: String) -> Message {
        Message::Text(s)
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Message {
        Message::Text(s.to_owned())
    }
}

impl From<Bytes> for Message {
    fn from(b: Bytes) -> Message {
        Message::Binary(b)
    }
}

impl From<Vec<u8>> for Message {
    /// Takes the vector's allocation (see [`ZERO_COPY_MIN`](super::ZERO_COPY_MIN)).
    fn from(b: Vec<u8>) -> Message {
        Message::Binary(fit_to_hold(b).into())
    }
}

/// `bytes`, made to fit if it is large enough to be written from its own allocation
/// ([`ZERO_COPY_MIN`](super::ZERO_COPY_MIN)) and most of that allocation is spare: the
/// stream holds all of it until the message is written.
pub(crate) fn fit_to_hold(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.len() >= super::ZERO_COPY_MIN && bytes.capacity() / 2 > bytes.len() {
        bytes.shrink_to_fit();
    }
    bytes
}

impl From<&[u8]> for Message {
    fn from(b: &[u8]) -> Message {
        Message::Binary(Bytes::copy_from_slice(b))
    }
}

#[cfg(test)]
mod tests {
    use super::{Message, fit_to_hold};
    use crate::websocket::ZERO_COPY_MIN;

    #[test]
    fn only_a_large_message_with_mostly_spare_room_is_made_to_fit() {
        let mut large = Vec::with_capacity(8 * ZERO_COPY_MIN);
        large.resize(ZERO_COPY_MIN, 1);
        assert!(fit_to_hold(large).capacity() < 2 * ZERO_COPY_MIN);

        let mut small = Vec::with_capacity(1024);
        small.push(1u8);
        assert_eq!(fit_to_hold(small).capacity(), 1024);

        let mut half_used = Vec::with_capacity(3 * ZERO_COPY_MIN);
        half_used.resize(2 * ZERO_COPY_MIN, 1);
        assert_eq!(fit_to_hold(half_used).capacity(), 3 * ZERO_COPY_MIN);

        let m = Message::from(vec![7u8; ZERO_COPY_MIN]);
        assert_eq!(m.len(), ZERO_COPY_MIN);
    }
}
