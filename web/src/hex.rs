//! Lower-case hex, as Python's `hexdigest()` and `binascii.b2a_hex` write it: for
//! signatures, XSRF tokens and static-file versions.

/// The sixteen lower-case hex digits.
pub(crate) const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Appends `bytes` in lower-case hex.
pub(crate) fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0xf)]);
    }
}

/// `bytes` in lower-case hex.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    push_hex(&mut out, bytes);
    // Hex digits only: ASCII, so this never falls back.
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn lower_case_pairs() {
        assert_eq!(super::to_hex(&[0, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(super::to_hex(&[]), "");
    }
}
