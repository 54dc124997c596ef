//! The opening handshake (RFC 6455 section 4) as pure functions over header values:
//! checking an upgrade request, `Sec-WebSocket-Accept`, and header lists on the
//! server's side; the request and the check of the answer ([`ClientHandshake`]) on
//! the client's.
//!
//! ```
//! use tornado_web::websocket::handshake::{accept_key, check_key, check_upgrade};
//!
//! // A server checks an upgrade request's headers, then answers with the accept key.
//! check_upgrade(Some("websocket"), Some("Upgrade")).unwrap();
//! let key = check_key(Some("13"), Some("dGhlIHNhbXBsZSBub25jZQ==")).unwrap();
//! assert_eq!(accept_key(key), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
//! // A version other than 13: 426.
//! assert_eq!(check_key(Some("8"), Some(key)).unwrap_err().status, 426);
//! ```

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tornado_httpserver::httputil::HttpHeaders;

use super::deflate::{CompressionOptions, DeflateParams, client_accept, client_offer};

/// The GUID RFC 6455 appends to the key before hashing.
///
/// ```
/// use tornado_web::websocket::handshake::ACCEPT_GUID;
///
/// assert_eq!(ACCEPT_GUID.len(), 36);
/// assert!(ACCEPT_GUID.starts_with("258EAFA5"));
/// ```
pub const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The protocol version this crate speaks (`Sec-WebSocket-Version`).
///
/// ```
/// use tornado_web::websocket::handshake::{check_key, VERSION};
///
/// assert_eq!(VERSION, "13");
/// assert!(check_key(Some(VERSION), Some("dGhlIHNhbXBsZSBub25jZQ==")).is_ok());
/// ```
pub const VERSION: &str = "13";

/// Why an upgrade request is refused: the status to answer and a message for the body.
///
/// ```
/// use tornado_web::websocket::handshake::check_upgrade;
///
/// let err = check_upgrade(Some("websocket"), Some("keep-alive")).unwrap_err();
/// assert_eq!(err.status, 400);
/// assert_eq!(err.message, "\"Connection\" must be \"Upgrade\".");
/// assert_eq!(err.to_string(), "400 \"Connection\" must be \"Upgrade\".");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeError {
    /// 400, or 426 for a version other than 13 (answered with
    /// `Sec-WebSocket-Version: 13`).
    pub status: u16,
    /// What was wrong.
    pub message: &'static str,
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.message)
    }
}

impl std::error::Error for HandshakeError {}

/// The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`: base64 of the
/// SHA-1 of the key and [`ACCEPT_GUID`].
///
/// ```
/// use tornado_web::websocket::handshake::accept_key;
///
/// // The example of RFC 6455 section 1.3.
/// assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(key.trim().as_bytes());
    ctx.update(ACCEPT_GUID.as_bytes());
    STANDARD.encode(ctx.finish())
}

/// Whether a comma-separated header value lists `token` (case-insensitive).
///
/// ```
/// use tornado_web::websocket::handshake::has_token;
///
/// assert!(has_token(Some("keep-alive, Upgrade"), "upgrade"));
/// assert!(!has_token(Some("upgraded"), "upgrade"));
/// assert!(!has_token(None, "upgrade"));
/// ```
pub fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

/// The first check, as Tornado makes it before anything else: `Upgrade: websocket`
/// and `Connection` listing `upgrade`.
///
/// ```
/// use tornado_web::websocket::handshake::check_upgrade;
///
/// assert!(check_upgrade(Some("WebSocket"), Some("keep-alive, Upgrade")).is_ok());
/// let err = check_upgrade(Some("h2c"), Some("Upgrade")).unwrap_err();
/// assert_eq!((err.status, err.message), (400, "Can \"Upgrade\" only to \"WebSocket\"."));
/// ```
pub fn check_upgrade(
    upgrade: Option<&str>,
    connection: Option<&str>,
) -> Result<(), HandshakeError> {
    if !has_token(upgrade, "websocket") {
        return Err(HandshakeError {
            status: 400,
            message: "Can \"Upgrade\" only to \"WebSocket\".",
        });
    }
    if !has_token(connection, "upgrade") {
        return Err(HandshakeError {
            status: 400,
            message: "\"Connection\" must be \"Upgrade\".",
        });
    }
    Ok(())
}

/// The second check (after the origin's): version 13 (else 426), and a key that is 16
/// bytes in base64. Returns the key.
///
/// ```
/// use tornado_web::websocket::handshake::check_key;
///
/// assert!(check_key(Some("13"), Some("dGhlIHNhbXBsZSBub25jZQ==")).is_ok());
/// assert_eq!(check_key(Some("8"), Some("dGhlIHNhbXBsZSBub25jZQ==")).unwrap_err().status, 426);
/// assert_eq!(check_key(Some("13"), Some("c2hvcnQ=")).unwrap_err().status, 400);
/// ```
pub fn check_key<'a>(
    version: Option<&str>,
    key: Option<&'a str>,
) -> Result<&'a str, HandshakeError> {
    if version.map(str::trim) != Some(VERSION) {
        return Err(HandshakeError {
            status: 426,
            message: "Unsupported WebSocket version: 13 is required",
        });
    }
    let key = key.map(str::trim).unwrap_or("");
    match STANDARD.decode(key) {
        Ok(k) if k.len() == 16 => Ok(key),
        _ => Err(HandshakeError {
            status: 400,
            message: "Missing/Invalid WebSocket headers: Sec-WebSocket-Key must be 16 bytes in base64",
        }),
    }
}

/// The items of a comma-separated header list (`Sec-WebSocket-Protocol`), trimmed,
/// empty ones left out.
///
/// ```
/// use tornado_web::websocket::handshake::split_list;
///
/// assert_eq!(split_list(" chat, , superchat ").collect::<Vec<_>>(), ["chat", "superchat"]);
/// ```
pub fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// A client's opening handshake (RFC 6455 section 4.1): the headers it sends, and
/// the check of the server's `101` answer against them.
///
/// ```
/// use tornado_httpserver::httputil::HttpHeaders;
/// use tornado_web::websocket::handshake::{accept_key, ClientHandshake};
///
/// let handshake = ClientHandshake::new(vec!["chat".into(), "superchat".into()], None);
/// let sent: Vec<(&str, String)> = handshake.request_headers();
/// assert_eq!(sent[0], ("Upgrade", "websocket".to_owned()));
///
/// let mut answer = HttpHeaders::new();
/// answer.add("Upgrade", "websocket");
/// answer.add("Connection", "Upgrade");
/// answer.add("Sec-WebSocket-Accept", &accept_key(handshake.key()));
/// answer.add("Sec-WebSocket-Protocol", "superchat");
/// let agreed = handshake.check_answer(&answer).unwrap();
/// assert_eq!(agreed.subprotocol.as_deref(), Some("superchat"));
///
/// answer.set("Sec-WebSocket-Protocol", "other");
/// assert!(handshake.check_answer(&answer).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct ClientHandshake {
    key: String,
    subprotocols: Vec<String>,
    compression: Option<CompressionOptions>,
}

/// What the server's answer agreed to: what [`ClientHandshake::check_answer`]
/// returns.
///
/// ```
/// use tornado_httpserver::httputil::HttpHeaders;
/// use tornado_web::websocket::handshake::{accept_key, Agreed, ClientHandshake};
/// use tornado_web::websocket::CompressionOptions;
///
/// let handshake = ClientHandshake::new(vec![], Some(CompressionOptions::default()));
/// let mut answer = HttpHeaders::new();
/// answer.add("Upgrade", "websocket");
/// answer.add("Connection", "Upgrade");
/// answer.add("Sec-WebSocket-Accept", &accept_key(handshake.key()));
/// // The server did not take up the offer of compression.
/// assert_eq!(handshake.check_answer(&answer), Ok(Agreed { subprotocol: None, deflate: None }));
///
/// answer.add("Sec-WebSocket-Extensions", "permessage-deflate; server_max_window_bits=12");
/// let agreed = handshake.check_answer(&answer).unwrap();
/// assert_eq!(agreed.deflate.unwrap().server_max_window_bits, 12);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreed {
    /// The subprotocol the server selected, one of those offered.
    pub subprotocol: Option<String>,
    /// permessage-deflate's parameters, when the server accepted the offer.
    pub deflate: Option<DeflateParams>,
}

impl ClientHandshake {
    /// A handshake offering `subprotocols` (in order of preference) and, with
    /// `compression`, permessage-deflate; its key is 16 fresh random bytes.
    ///
    /// ```
    /// use tornado_web::websocket::handshake::ClientHandshake;
    ///
    /// let a = ClientHandshake::new(vec!["chat".into()], None);
    /// let b = ClientHandshake::new(vec!["chat".into()], None);
    /// assert_ne!(a.key(), b.key());
    /// ```
    pub fn new(subprotocols: Vec<String>, compression: Option<CompressionOptions>) -> Self {
        let mut key = [0; 16];
        super::random::fill(&mut key);
        ClientHandshake {
            key: STANDARD.encode(key),
            subprotocols,
            compression,
        }
    }

    /// The `Sec-WebSocket-Key` sent (base64 of 16 random bytes).
    ///
    /// ```
    /// use tornado_web::websocket::handshake::{check_key, ClientHandshake};
    ///
    /// let handshake = ClientHandshake::new(vec![], None);
    /// assert_eq!(handshake.key().len(), 24);
    /// // What a server checks it with.
    /// assert_eq!(check_key(Some("13"), Some(handshake.key())), Ok(handshake.key()));
    /// ```
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The headers of the upgrade request: `Upgrade`, `Connection`,
    /// `Sec-WebSocket-Key`, `Sec-WebSocket-Version`, and `Sec-WebSocket-Protocol`
    /// and `Sec-WebSocket-Extensions` when something is offered.
    ///
    /// ```
    /// use tornado_web::websocket::handshake::ClientHandshake;
    /// use tornado_web::websocket::CompressionOptions;
    ///
    /// let handshake = ClientHandshake::new(
    ///     vec!["v2".into(), "v1".into()],
    ///     Some(CompressionOptions::default()),
    /// );
    /// assert_eq!(handshake.request_headers(), [
    ///     ("Upgrade", "websocket".to_owned()),
    ///     ("Connection", "Upgrade".to_owned()),
    ///     ("Sec-WebSocket-Key", handshake.key().to_owned()),
    ///     ("Sec-WebSocket-Version", "13".to_owned()),
    ///     ("Sec-WebSocket-Protocol", "v2, v1".to_owned()),
    ///     ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits".to_owned()),
    /// ]);
    /// assert_eq!(ClientHandshake::new(vec![], None).request_headers().len(), 4);
    /// ```
    pub fn request_headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("Upgrade", "websocket".to_owned()),
            ("Connection", "Upgrade".to_owned()),
            ("Sec-WebSocket-Key", self.key.clone()),
            ("Sec-WebSocket-Version", VERSION.to_owned()),
        ];
        if !self.subprotocols.is_empty() {
            headers.push(("Sec-WebSocket-Protocol", self.subprotocols.join(", ")));
        }
        if let Some(options) = &self.compression {
            headers.push(("Sec-WebSocket-Extensions", client_offer(options)));
        }
        headers
    }

    /// Checks the headers of the server's `101`: `Upgrade: websocket`, `Connection`
    /// listing `upgrade`, the `Sec-WebSocket-Accept` for the key, a subprotocol only
    /// if one was offered and then one of those, and an extension only if
    /// permessage-deflate was offered and then an acceptable answer to it. Says what
    /// was wrong otherwise: the client must then fail the connection.
    ///
    /// ```
    /// use tornado_httpserver::httputil::HttpHeaders;
    /// use tornado_web::websocket::handshake::{accept_key, ClientHandshake};
    ///
    /// let handshake = ClientHandshake::new(vec![], None);
    /// let mut answer = HttpHeaders::new();
    /// answer.add("Upgrade", "websocket");
    /// answer.add("Connection", "Upgrade");
    /// answer.add("Sec-WebSocket-Accept", &accept_key("AAAAAAAAAAAAAAAAAAAAAA=="));
    /// assert_eq!(
    ///     handshake.check_answer(&answer).unwrap_err(),
    ///     "the answer's Sec-WebSocket-Accept does not match the key"
    /// );
    /// answer.set("Sec-WebSocket-Accept", &accept_key(handshake.key()));
    /// assert!(handshake.check_answer(&answer).is_ok());
    /// // An extension nobody offered.
    /// answer.add("Sec-WebSocket-Extensions", "permessage-deflate");
    /// assert!(handshake.check_answer(&answer).is_err());
    /// ```
    pub fn check_answer(&self, headers: &HttpHeaders) -> Result<Agreed, &'static str> {
        // Both are lists, which may come in several lines.
        let lists = |name, token| headers.get_all(name).any(|v| has_token(Some(v), token));
        if !lists("Upgrade", "websocket") {
            return Err("the answer has no \"Upgrade: websocket\"");
        }
        if !lists("Connection", "upgrade") {
            return Err("the answer's \"Connection\" does not list \"upgrade\"");
        }
        let mut accept = headers.get_all("Sec-WebSocket-Accept");
        match (accept.next(), accept.next()) {
            (Some(a), None) if a.trim() == accept_key(&self.key) => {}
            (None, _) => return Err("the answer has no Sec-WebSocket-Accept"),
            _ => return Err("the answer's Sec-WebSocket-Accept does not match the key"),
        }
        let selected: Vec<&str> = headers
            .get_all("Sec-WebSocket-Protocol")
            .flat_map(split_list)
            .collect();
        let subprotocol = match selected[..] {
            [] => None,
            [p] if self.subprotocols.iter().any(|o| o == p) => Some(p.to_owned()),
            [_] if self.subprotocols.is_empty() => {
                return Err("the server selected a subprotocol though none was offered");
            }
            [_] => return Err("the server selected a subprotocol that was not offered"),
            _ => return Err("the server selected more than one subprotocol"),
        };
        let extensions = headers
            .get_all("Sec-WebSocket-Extensions")
            .filter(|v| !v.trim().is_empty())
            .collect::<Vec<_>>()
            .join(",");
        let deflate = match (&self.compression, extensions.is_empty()) {
            (_, true) => None,
            (None, false) => return Err("the server answered with an extension not offered"),
            (Some(options), false) => Some(client_accept(&extensions, options)?),
        };
        Ok(Agreed {
            subprotocol,
            deflate,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrade_and_connection() {
        assert!(check_upgrade(Some("websocket"), Some("Upgrade")).is_ok());
        assert!(check_upgrade(Some("WebSocket"), Some("keep-alive, Upgrade")).is_ok());
        let rows = [
            (None, Some("Upgrade"), "Upgrade"),
            (Some("h2c"), Some("Upgrade"), "Upgrade"),
            (Some("websocket"), None, "Connection"),
            (Some("websocket"), Some("keep-alive"), "Connection"),
            (Some("websocket"), Some("upgraded"), "Connection"),
        ];
        for (u, c, what) in rows {
            let e = check_upgrade(u, c).unwrap_err();
            assert_eq!(e.status, 400);
            assert!(e.message.contains(what), "{u:?} {c:?}: {}", e.message);
        }
    }

    #[test]
    fn version_and_key() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        assert_eq!(check_key(Some("13"), Some(key)), Ok(key));
        assert_eq!(check_key(None, Some(key)).unwrap_err().status, 426);
        assert_eq!(check_key(Some("12"), Some(key)).unwrap_err().status, 426);
        for bad in [
            None,
            Some(""),
            Some("not base64!"),
            Some("AAAA"),
            Some("AAAAAAAAAAAAAAAAAAAAAAAA"),
        ] {
            assert_eq!(
                check_key(Some("13"), bad).unwrap_err().status,
                400,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn lists() {
        assert_eq!(
            split_list(" chat, , superchat ").collect::<Vec<_>>(),
            ["chat", "superchat"]
        );
        assert!(has_token(Some("a, B"), "b"));
        assert!(!has_token(Some("ab"), "b"));
    }

    fn answer(key: &str, extra: &[(&str, &str)]) -> HttpHeaders {
        let mut h = HttpHeaders::new();
        h.add("Upgrade", "websocket");
        h.add("Connection", "Upgrade");
        h.add("Sec-WebSocket-Accept", &accept_key(key));
        for (name, value) in extra {
            if value.is_empty() {
                h.remove(name);
            } else {
                h.add(name, value);
            }
        }
        h
    }

    #[test]
    fn client_request_headers() {
        let plain = ClientHandshake::new(vec![], None);
        assert_eq!(STANDARD.decode(plain.key()).unwrap().len(), 16);
        assert_ne!(plain.key(), ClientHandshake::new(vec![], None).key());
        let names: Vec<&str> = plain.request_headers().iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "Upgrade",
                "Connection",
                "Sec-WebSocket-Key",
                "Sec-WebSocket-Version"
            ]
        );
        let full = ClientHandshake::new(
            vec!["a".into(), "b".into()],
            Some(CompressionOptions::default()),
        );
        let headers = full.request_headers();
        assert!(headers.contains(&("Sec-WebSocket-Protocol", "a, b".to_owned())));
        assert!(headers.contains(&(
            "Sec-WebSocket-Extensions",
            "permessage-deflate; client_max_window_bits".to_owned()
        )));
    }

    #[test]
    fn client_checks_the_answer() {
        let offers = ClientHandshake::new(
            vec!["chat".into(), "v2".into()],
            Some(CompressionOptions::default()),
        );
        let bare = ClientHandshake::new(vec![], None);
        let key = offers.key().to_owned();
        // Good answers.
        let agreed = offers.check_answer(&answer(&key, &[])).unwrap();
        // `Connection` and `Upgrade` are lists, which may come in several lines.
        let mut split = HttpHeaders::new();
        split.add("Upgrade", "h2c");
        split.add("Upgrade", "websocket");
        split.add("Connection", "keep-alive");
        split.add("Connection", "Upgrade");
        split.add("Sec-WebSocket-Accept", &accept_key(&key));
        assert!(offers.check_answer(&split).is_ok());
        split.remove("Connection");
        split.add("Connection", "keep-alive");
        assert!(offers.check_answer(&split).is_err());
        assert_eq!(
            agreed,
            Agreed {
                subprotocol: None,
                deflate: None
            }
        );
        let agreed = offers
            .check_answer(&answer(
                &key,
                &[
                    ("Sec-WebSocket-Protocol", "v2"),
                    (
                        "Sec-WebSocket-Extensions",
                        "permessage-deflate; server_no_context_takeover; client_max_window_bits=10",
                    ),
                ],
            ))
            .unwrap();
        assert_eq!(agreed.subprotocol.as_deref(), Some("v2"));
        let deflate = agreed.deflate.unwrap();
        assert!(deflate.server_no_context_takeover);
        assert_eq!(deflate.client_max_window_bits, 10);
        let mut odd_case = HttpHeaders::new();
        odd_case.add("upgrade", "WebSocket");
        odd_case.add("connection", "keep-alive, upgrade");
        odd_case.add("sec-websocket-accept", &accept_key(&key));
        assert!(offers.check_answer(&odd_case).is_ok());

        // Bad ones: each a row, with a word of its message.
        let rows: &[(&ClientHandshake, HttpHeaders, &str)] = &[
            (&offers, answer(&key, &[("Upgrade", "")]), "Upgrade"),
            (
                &offers,
                {
                    let mut h = answer(&key, &[("Upgrade", "")]);
                    h.add("Upgrade", "h2c");
                    h
                },
                "Upgrade",
            ),
            (&offers, answer(&key, &[("Connection", "")]), "Connection"),
            (
                &offers,
                answer(&key, &[("Sec-WebSocket-Accept", "")]),
                "no Sec-WebSocket-Accept",
            ),
            (
                &offers,
                answer("AAAAAAAAAAAAAAAAAAAAAA==", &[]),
                "does not match",
            ),
            (
                &offers,
                answer(&key, &[("Sec-WebSocket-Accept", "x")]),
                "does not match",
            ),
            (
                &offers,
                answer(&key, &[("Sec-WebSocket-Protocol", "other")]),
                "not offered",
            ),
            (
                &offers,
                answer(&key, &[("Sec-WebSocket-Protocol", "chat, v2")]),
                "more than one",
            ),
            (
                &bare,
                answer(bare.key(), &[("Sec-WebSocket-Protocol", "chat")]),
                "none was offered",
            ),
            (
                &bare,
                answer(
                    bare.key(),
                    &[("Sec-WebSocket-Extensions", "permessage-deflate")],
                ),
                "not offered",
            ),
            (
                &offers,
                answer(
                    &key,
                    &[("Sec-WebSocket-Extensions", "x-webkit-deflate-frame")],
                ),
                "not offered",
            ),
            (
                &offers,
                answer(
                    &key,
                    &[("Sec-WebSocket-Extensions", "permessage-deflate; mystery=1")],
                ),
                "unknown",
            ),
            (
                &offers,
                answer(
                    &key,
                    &[(
                        "Sec-WebSocket-Extensions",
                        "permessage-deflate, permessage-deflate",
                    )],
                ),
                "exactly one",
            ),
        ];
        for (handshake, headers, why) in rows {
            let err = handshake.check_answer(headers).unwrap_err();
            assert!(err.contains(why), "{why}: {err} for {headers:?}");
        }
    }
}
