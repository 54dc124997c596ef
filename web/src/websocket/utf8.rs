//! UTF-8 validated in pieces: a text message's fragments (or the parts of one frame
//! as they arrive) are checked as they come, failing on the first byte that can never
//! be part of valid UTF-8, without waiting for the rest of the message.

/// A streaming UTF-8 validator: keeps the incomplete code point at the end of a piece
/// (at most three bytes) until the next piece completes it.
///
/// The checking is the standard library's: `str::from_utf8` tells an incomplete
/// sequence at the end (`error_len() == None`, which it reports only when the bytes
/// so far can still begin a valid code point) from an invalid one.
///
/// ```
/// use tornado_web::websocket::Utf8Validator;
///
/// let mut v = Utf8Validator::default();
/// assert!(v.feed(b"caf\xc3").is_ok()); // half of "é"
/// assert!(v.feed(b"\xa9").is_ok());
/// assert!(v.finish().is_ok());
///
/// let mut v = Utf8Validator::default();
/// assert!(v.feed(b"\xed").is_ok());
/// assert!(v.feed(b"\xa0").is_err()); // a surrogate: fails at once
/// ```
#[derive(Debug, Default, Clone)]
pub struct Utf8Validator {
    partial: [u8; 4],
    len: u8,
}

/// The length of the code point a lead byte starts (0 for a byte that starts none).
fn width(lead: u8) -> usize {
    match lead {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    }
}

/// The input was not UTF-8.
///
/// ```
/// use tornado_web::websocket::{InvalidUtf8, Utf8Validator};
///
/// let mut v = Utf8Validator::default();
/// assert_eq!(v.feed(b"\xff"), Err(InvalidUtf8));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

impl Utf8Validator {
    /// Checks the next piece: an error as soon as a byte can no longer be part of
    /// valid UTF-8; a code point cut at the end of the piece waits for the next.
    ///
    /// ```
    /// use tornado_web::websocket::Utf8Validator;
    ///
    /// let mut v = Utf8Validator::default();
    /// // "€" is E2 82 AC: fed one byte at a time.
    /// assert!(v.feed(b"price: \xe2").is_ok());
    /// assert!(v.feed(b"\x82").is_ok());
    /// assert!(v.feed(b"\xac").is_ok());
    /// assert!(v.finish().is_ok());
    ///
    /// // An overlong encoding fails in the piece that holds it.
    /// assert!(v.feed(b"ok").is_ok());
    /// assert!(v.feed(b"\xc0\xaf").is_err());
    /// ```
    pub fn feed(&mut self, mut input: &[u8]) -> Result<(), InvalidUtf8> {
        if self.len > 0 {
            let have = self.len as usize;
            let take = (width(self.partial[0]) - have).min(input.len());
            self.partial[have..have + take].copy_from_slice(&input[..take]);
            self.len += take as u8;
            input = &input[take..];
            match std::str::from_utf8(&self.partial[..self.len as usize]) {
                Ok(_) => self.len = 0,
                Err(e) if e.error_len().is_none() => return Ok(()),
                Err(_) => return Err(InvalidUtf8),
            }
        }
        match std::str::from_utf8(input) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                let rest = &input[e.valid_up_to()..];
                self.partial[..rest.len()].copy_from_slice(rest);
                self.len = rest.len() as u8;
                Ok(())
            }
            Err(_) => Err(InvalidUtf8),
        }
    }

    /// The message ended: an incomplete code point left over is an error. The
    /// validator is ready for the next message either way.
    ///
    /// ```
    /// use tornado_web::websocket::Utf8Validator;
    ///
    /// let mut v = Utf8Validator::default();
    /// assert!(v.feed(b"abc\xe2\x82").is_ok()); // could still become "€"
    /// assert!(v.finish().is_err()); // but the message ended
    /// assert!(v.feed(b"next message").is_ok());
    /// assert!(v.finish().is_ok());
    /// ```
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let incomplete = self.len > 0;
        self.len = 0;
        if incomplete { Err(InvalidUtf8) } else { Ok(()) }
    }

    /// Whether a code point is waiting for its next bytes.
    ///
    /// ```
    /// use tornado_web::websocket::Utf8Validator;
    ///
    /// let mut v = Utf8Validator::default();
    /// v.feed(b"caf\xc3").unwrap();
    /// assert!(v.is_incomplete());
    /// v.feed(b"\xa9").unwrap();
    /// assert!(!v.is_incomplete());
    /// ```
    pub fn is_incomplete(&self) -> bool {
        self.len > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` cut at every pair of points: the verdict never depends on the cuts,
    /// and an invalid input fails in the piece holding its first bad byte.
    fn check_all_cuts(input: &[u8]) {
        let valid = std::str::from_utf8(input).is_ok();
        let first_bad = std::str::from_utf8(input)
            .err()
            .map(|e| (e.valid_up_to(), e.error_len()));
        for i in 0..=input.len() {
            for j in i..=input.len() {
                let mut v = Utf8Validator::default();
                let pieces = [&input[..i], &input[i..j], &input[j..]];
                let mut failed_at = None;
                for (k, p) in pieces.iter().enumerate() {
                    if v.feed(p).is_err() {
                        failed_at = Some(k);
                        break;
                    }
                }
                let ok = failed_at.is_none() && v.finish().is_ok();
                assert_eq!(ok, valid, "{input:?} cut at {i},{j}");
                if let (Some(k), Some((up_to, Some(len)))) = (failed_at, first_bad) {
                    // The piece that failed holds the end of the first bad sequence.
                    let end = [i, j, input.len()][k];
                    let bad_end = up_to + len;
                    assert!(
                        end >= bad_end.min(input.len()) && (k == 0 || [0, i, j][k] <= bad_end),
                        "{input:?} cut at {i},{j}: failed in piece {k}"
                    );
                }
            }
        }
    }

    #[test]
    fn valid_and_invalid_inputs_at_every_cut() {
        let rows: &[&[u8]] = &[
            b"",
            b"hello",
            "κόσμε".as_bytes(),
            "\u{10FFFF}\u{FFFF}\u{80}\u{7FF}\u{800}".as_bytes(),
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited", // surrogate
            b"\xf4\x90\x80\x80",                                               // above U+10FFFF
            b"\xc0\xaf",                                                       // overlong
            b"\xe0\x80\xaf",                                                   // overlong
            b"\xf8\x88\x80\x80\x80",
            b"\x80",
            b"ab\xc3",       // truncated at the end
            b"\xf0\x9f\x98", // truncated at the end
            b"\xfe\xff",
        ];
        for input in rows {
            check_all_cuts(input);
        }
    }

    #[test]
    fn fails_fast_within_a_piece_sequence() {
        let mut v = Utf8Validator::default();
        assert!(
            v.feed(b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5")
                .is_ok()
        );
        // The next fragment starts a surrogate: refused on its second byte.
        assert!(v.feed(b"\xed").is_ok());
        assert!(v.is_incomplete());
        assert_eq!(v.feed(b"\xa0\x80edited"), Err(InvalidUtf8));
    }
}
