//! Lower-case hex, as Python's `hexdigest()` and `binascii.b2a_hex` write it: for
//! signatures, XSRF tokens and static-file versions.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Appends `bytes` in lower-case hex.
pub(crate) fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    let start = out.len();
    out.resize(start + 2 * bytes.len(), 0);
    write_hex(&mut out[start..], bytes);
}

/// Writes `bytes` in lower-case hex over the start of `out` (two digits a byte; a
/// shorter `out` takes the digits that fit), for text kept on the stack.
pub(crate) fn write_hex(out: &mut [u8], bytes: &[u8]) {
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0xf)];
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
        let mut text = *b"<....>";
        super::write_hex(&mut text[1..5], &[0xab, 0x01]);
        assert_eq!(&text, b"<ab01>");
    }
}
