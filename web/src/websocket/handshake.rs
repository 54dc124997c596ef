//! The opening handshake (RFC 6455 section 4) as pure functions over header values:
//! checking an upgrade request, `Sec-WebSocket-Accept`, and header lists.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The GUID RFC 6455 appends to the key before hashing.
pub const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The protocol version this crate speaks (`Sec-WebSocket-Version`).
pub const VERSION: &str = "13";

/// Why an upgrade request is refused: the status to answer and a message for the body.
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
pub fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

/// The first check, as Tornado makes it before anything else: `Upgrade: websocket`
/// and `Connection` listing `upgrade`.
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
pub fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
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
}
