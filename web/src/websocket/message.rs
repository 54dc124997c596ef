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
    /// A text message holding `value` as JSON (Tornado's `write_message(dict)`).
    ///
    /// ```
    /// use tornado_web::websocket::Message;
    ///
    /// #[derive(serde::Serialize)]
    /// struct Move { x: i32, y: i32 }
    ///
    /// let m = Message::json(&Move { x: 1, y: -2 }).unwrap();
    /// assert_eq!(m, Message::Text(r#"{"x":1,"y":-2}"#.into()));
    /// ```
    pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<Message> {
        serde_json::to_string(value).map(Message::Text)
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
    /// Takes the vector's allocation (a large message is written from it, held until
    /// written: one mostly spare is made to fit first).
    fn from(mut b: Vec<u8>) -> Message {
        if b.capacity() / 2 > b.len() {
            b.shrink_to_fit();
        }
        Message::Binary(b.into())
    }
}

impl From<&[u8]> for Message {
    fn from(b: &[u8]) -> Message {
        Message::Binary(Bytes::copy_from_slice(b))
    }
}
