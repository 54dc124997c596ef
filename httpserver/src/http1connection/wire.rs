//! What both roles write on the wire the same way: header lines, the checks a header
//! line must pass before it is written, decimal lengths and chunk-size lines.

use bytes::BytesMut;

use crate::error::{OutputError, OutputErrorKind};
use crate::httputil::{has_byte_below, is_field_value, is_token};

/// Checks a header line about to be written: the name is a token and the value has
/// no CR, LF or NUL (either would break the framing). Both roles check every line
/// they write; a caller may check ahead (the HTTP client does, before connecting).
///
/// ```
/// use tornado_httpserver::http1connection::check_field;
///
/// assert!(check_field("X-Ok", "value").is_ok());
/// assert!(check_field("X Bad", "value").is_err());
/// assert!(check_field("X-Ok", "a\r\nEvil: 1").is_err());
/// ```
pub fn check_field(name: &str, value: &str) -> Result<(), OutputError> {
    if !is_token(name.as_bytes()) {
        return Err(OutputError::new(
            OutputErrorKind::InvalidHeader,
            format!("invalid header name {name:?}"),
        ));
    }
    check_value(name, value)
}

/// Checks a header a handler sets, more strictly than [`check_field`]: the name a token
/// and the value a field value (RFC 9110 §5.5: no control character but tab), so
/// nothing a handler sets can split a response or carry a stray escape into it.
///
/// ```
/// use tornado_httpserver::http1connection::check_header_field;
///
/// assert!(check_header_field("X-Ok", "a\tvalue").is_ok());
/// assert!(check_header_field("X-Ok", "a\x1bvalue").is_err());
/// assert!(check_header_field("X Bad", "value").is_err());
/// ```
pub fn check_header_field(name: &str, value: &str) -> Result<(), OutputError> {
    if !is_token(name.as_bytes()) {
        return Err(OutputError::new(
            OutputErrorKind::InvalidHeader,
            format!("invalid header name {name:?}"),
        ));
    }
    if !is_field_value(value) {
        return Err(OutputError::new(
            OutputErrorKind::InvalidHeader,
            format!("control characters in header {name}: {value:?}"),
        ));
    }
    Ok(())
}

/// Checks a header value about to be written: no CR, LF or NUL.
pub(crate) fn check_value(name: &str, value: &str) -> Result<(), OutputError> {
    if !is_framing_safe(value.as_bytes()) {
        return Err(OutputError::new(
            OutputErrorKind::InvalidHeader,
            format!("illegal characters (CR, LF or NUL) in header {name}: {value:?}"),
        ));
    }
    Ok(())
}

/// Whether `value` has no CR, LF or NUL. Eight bytes at a time: only a word that
/// may hold one (a byte below 14, such as a tab) is checked byte by byte.
fn is_framing_safe(value: &[u8]) -> bool {
    fn allowed(b: u8) -> bool {
        b != b'\r' && b != b'\n' && b != 0
    }
    if value.len() < 8 {
        return value.iter().all(|&b| allowed(b));
    }
    // The last eight bytes overlap the word before them.
    let word_ok = |word: &[u8]| {
        // A chunk is always eight bytes; 0 would only send it to the exact check.
        let x = word.try_into().map_or(0, u64::from_le_bytes);
        !has_byte_below(x, b'\r' + 1) || word.iter().all(|&b| allowed(b))
    };
    value.chunks_exact(8).all(word_ok) && word_ok(&value[value.len() - 8..])
}

/// Whether a `Connection` value lists the `close` token.
pub(super) fn says_close(value: &str) -> bool {
    value
        .split(',')
        .any(|t| t.trim_matches([' ', '\t']).eq_ignore_ascii_case("close"))
}

/// Appends `name: value\r\n`.
pub(super) fn put_header(dst: &mut BytesMut, name: &str, value: &str) {
    dst.extend_from_slice(name.as_bytes());
    dst.extend_from_slice(b": ");
    dst.extend_from_slice(value.as_bytes());
    dst.extend_from_slice(b"\r\n");
}

/// Appends `Content-Length: n\r\n`.
pub(super) fn put_content_length(dst: &mut BytesMut, n: u64) {
    dst.extend_from_slice(b"Content-Length: ");
    put_decimal(dst, n);
    dst.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal.
pub(super) fn put_decimal(dst: &mut BytesMut, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    dst.extend_from_slice(&digits[i..]);
}

/// Appends a chunk-size line: `len` in lowercase hex, then CRLF.
pub(super) fn put_chunk_size(dst: &mut BytesMut, len: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    let mut i = digits.len();
    let mut n = len;
    loop {
        i -= 1;
        digits[i] = HEX[n & 15];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    dst.extend_from_slice(&digits[i..]);
    dst.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_checks() {
        let mut out = BytesMut::new();
        put_decimal(&mut out, 0);
        put_decimal(&mut out, u64::MAX);
        put_chunk_size(&mut out, 0);
        put_chunk_size(&mut out, 0xabc);
        put_content_length(&mut out, 12);
        assert_eq!(
            &out[..],
            b"018446744073709551615\
              0\r\nabc\r\nContent-Length: 12\r\n"
        );
        assert!(check_field("X-Ok", "fine\tvalue").is_ok());
        for (name, value) in [("Bad Name", "v"), ("X", "a\r\nb"), ("X", "a\0"), ("", "v")] {
            let err = check_field(name, value).unwrap_err();
            assert_eq!(err.kind(), OutputErrorKind::InvalidHeader, "{name:?}");
        }
        for len in [1, 8, 9, 17] {
            for at in 0..len {
                let mut v = vec![b'a'; len];
                v[at] = b'\t';
                assert!(is_framing_safe(&v));
                for bad in [0u8, b'\r', b'\n'] {
                    v[at] = bad;
                    assert!(!is_framing_safe(&v), "{v:?}");
                }
            }
        }
        assert!(says_close("Upgrade, Close"));
        assert!(!says_close("keep-alive, closed"));
    }
}
