//! XSRF tokens in Tornado's two forms, as pure functions: version 2, the form every
//! page gets (`2|mask|masked token|timestamp`, hex, with a fresh random mask each
//! time, so a compressed page does not leak the token: BREACH), and version 1, the
//! plain hex token older cookies hold.
//!
//! The handler side (the `_xsrf` cookie, `xsrf_form_html`, the check on every `POST`,
//! `PUT`, `PATCH` and `DELETE`) is on [`Context`](crate::Context).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::hex::to_hex as hex;

/// A decoded token: the raw secret, the format it came in and when it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawToken {
    /// 1 or 2; `None` when the token was made for this request (no valid cookie).
    pub(crate) version: Option<u8>,
    pub(crate) token: Vec<u8>,
    /// When it was made: seconds since the epoch, in decimal as Tornado writes the
    /// number back (whatever its size: Python's `int` has no bound).
    pub(crate) timestamp: String,
}

/// Seconds since the Unix epoch, now.
pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// XORs `data` with `mask` repeated (the WebSocket masking Tornado reuses here).
fn apply_mask(mask: &[u8; 4], data: &[u8]) -> Vec<u8> {
    data.iter()
        .enumerate()
        .map(|(i, b)| b ^ mask[i % 4])
        .collect()
}

/// Hex digits to bytes (either case); `None` for an odd length or a non-digit.
fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| char::from(c).to_digit(16).map(|d| d as u8);
    s.chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

/// Reads a token from a cookie or a form field (Tornado's `_decode_xsrf_token`).
///
/// `2|mask|masked|timestamp` is version 2; any other value that starts with a version
/// number and `|` is an unknown version (`None`); anything else is version 1: hex if
/// it decodes, else its own bytes, stamped now. A malformed version 2 value is `None`.
pub(crate) fn decode_token(value: &str) -> Option<RawToken> {
    if let Some((version, rest)) = value.split_once('|') {
        let numbered = !version.is_empty()
            && !version.starts_with('0')
            && version.bytes().all(|b| b.is_ascii_digit());
        if numbered {
            if version != "2" {
                return None;
            }
            let mut parts = rest.split('|');
            let (Some(mask), Some(masked), Some(ts), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return None;
            };
            let mask: [u8; 4] = unhex(mask)?.try_into().ok()?;
            let token = apply_mask(&mask, &unhex(masked)?);
            let timestamp = python_int_text(ts)?;
            return Some(RawToken {
                version: Some(2),
                token,
                timestamp,
            });
        }
    }
    let token = unhex(value).unwrap_or_else(|| value.as_bytes().to_vec());
    Some(RawToken {
        version: Some(1),
        token,
        timestamp: now_secs().to_string(),
    })
}

/// Python's `int(str)` for the timestamps here, as the decimal text Python's `str`
/// gives back: optional sign and surrounding whitespace, digits with single
/// underscores between them, no bound on the value (a timestamp is carried, never
/// compared), but at most Python's 4,300 digits.
fn python_int_text(s: &str) -> Option<String> {
    let s = s.trim();
    let (neg, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        return None;
    }
    let digits = digits.replace('_', "");
    if digits.len() > PYTHON_INT_MAX_STR_DIGITS {
        return None;
    }
    let digits = digits.trim_start_matches('0');
    Some(match (digits.is_empty(), neg) {
        (true, _) => "0".to_owned(),
        (false, true) => format!("-{digits}"),
        (false, false) => digits.to_owned(),
    })
}

/// Python's limit on the digits `int(str)` takes (`sys.get_int_max_str_digits()`).
const PYTHON_INT_MAX_STR_DIGITS: usize = 4300;

/// Why a state-changing request is refused as cross-origin, if it is (Tornado 6.6's
/// `_check_cross_origin`): `Sec-Fetch-Site: same-origin` or `none` passes; without
/// that header, a request without `Origin` (not from a browser) passes, and one whose
/// `Origin` names the `Host` or is trusted; a cross-site or same-site request passes
/// only with a trusted `Origin`.
pub(crate) fn cross_origin_error(
    sec_fetch_site: Option<&str>,
    origin: Option<&str>,
    host: &str,
    trusted: impl FnOnce(&str) -> bool,
) -> Option<String> {
    match sec_fetch_site {
        Some("same-origin" | "none") => None,
        None => {
            let origin = origin?;
            if origin_netloc(origin).eq_ignore_ascii_case(host) || trusted(origin) {
                return None;
            }
            Some(format!("Origin '{origin}' not allowed"))
        }
        Some(site) => {
            if let Some(o) = origin.filter(|o| !o.is_empty())
                && trusted(o)
            {
                return None;
            }
            let origin = origin.map_or_else(|| "None".to_owned(), |o| format!("'{o}'"));
            Some(format!(
                "Sec-Fetch-Site {site} & origin {origin} not allowed"
            ))
        }
    }
}

/// The `host:port` of an origin (`https://a.example:8443` → `a.example:8443`), as
/// Python's `urlsplit(...).netloc`; empty when it has none.
fn origin_netloc(origin: &str) -> &str {
    let Some((_, rest)) = origin.split_once("//") else {
        return "";
    };
    rest.split(['/', '?', '#']).next().unwrap_or("")
}

/// The token as a page carries it: version 2 masked with `mask`, or version 1 hex.
pub(crate) fn encode_token(raw: &RawToken, version2: bool, mask: [u8; 4]) -> String {
    if version2 {
        format!(
            "2|{}|{}|{}",
            hex(&mask),
            hex(&apply_mask(&mask, &raw.token)),
            raw.timestamp
        )
    } else {
        hex(&raw.token)
    }
}

/// Whether two tokens are equal, in time that depends only on their lengths.
pub(crate) fn tokens_match(a: &[u8], b: &[u8]) -> bool {
    // Every byte is looked at whatever the first difference; `black_box` keeps the
    // optimiser from turning the fold into an early exit.
    a.len() == b.len()
        && std::hint::black_box(a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y))) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_2_round_trips_under_any_mask() {
        let raw = RawToken {
            version: None,
            token: (0..16).collect(),
            timestamp: "1300000000".to_owned(),
        };
        for mask in [[0, 0, 0, 0], [1, 2, 3, 4], [0xff; 4]] {
            let text = encode_token(&raw, true, mask);
            assert!(text.starts_with("2|"), "{text}");
            let back = decode_token(&text).unwrap();
            assert_eq!(back.version, Some(2));
            assert_eq!(back.token, raw.token);
            assert_eq!(back.timestamp, "1300000000");
        }
        // Different masks, different text: a compressed page does not repeat it.
        assert_ne!(
            encode_token(&raw, true, [1, 2, 3, 4]),
            encode_token(&raw, true, [5, 6, 7, 8])
        );
    }

    #[test]
    fn a_value_made_by_tornado_decodes() {
        // Tornado 6.6: mask 0x01020304 over token 00..0f, timestamp 1300000000.
        let v = decode_token("2|01020304|0103010705070503090b090f0d0f0d0b|1300000000").unwrap();
        assert_eq!(v.token, (0..16).collect::<Vec<u8>>());
    }

    #[test]
    fn version_1_is_hex_or_the_bytes_themselves() {
        let v = decode_token("00ff10").unwrap();
        assert_eq!((v.version, v.token), (Some(1), vec![0, 0xff, 0x10]));
        let v = decode_token("not hex").unwrap();
        assert_eq!((v.version, &v.token[..]), (Some(1), &b"not hex"[..]));
        assert_eq!(encode_token(&v, false, [0; 4]), "6e6f7420686578");
    }

    #[test]
    fn malformed_version_2_and_unknown_versions_are_nothing() {
        for bad in [
            "2|0102030|00|1",
            "2|01020304|0g|1",
            "2|01020304|00|x",
            "2|01020304|00",
            "2|01020304|00|1|2",
            "2|0102|00|1",
            "3|01020304|00|1",
            "17|a",
        ] {
            assert_eq!(decode_token(bad), None, "{bad}");
        }
        // A leading zero is not a version number: version 1, its own bytes.
        assert_eq!(decode_token("02|x").unwrap().version, Some(1));
        assert_eq!(
            decode_token("2|01020304||1").unwrap().token,
            Vec::<u8>::new()
        );
        let stamp = |ts: &str| decode_token(&format!("2|01020304|00|{ts}")).map(|t| t.timestamp);
        assert_eq!(stamp(" 1_0 ").as_deref(), Some("10"));
        assert_eq!(stamp("-007").as_deref(), Some("-7"));
        assert_eq!(stamp("-0").as_deref(), Some("0"));
        // Python's `int` has no bound: a timestamp past 64 bits is kept as written,
        // and goes back out that way.
        assert_eq!(
            stamp("99999999999999999999").as_deref(),
            Some("99999999999999999999")
        );
        assert_eq!(stamp(&"9".repeat(4300)).map(|t| t.len()), Some(4300));
        for bad in ["", "1__0", "_1", "1_", "+", "1.0", &"9".repeat(4301)] {
            assert_eq!(stamp(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cross_origin_as_tornado_decides() {
        let host = "app.example:8000";
        let cases: [(Option<&str>, Option<&str>, Option<&str>); 11] = [
            (Some("same-origin"), Some("https://evil.example"), None),
            (Some("none"), None, None),
            (None, None, None),
            (None, Some("http://app.example:8000"), None),
            (None, Some("http://APP.example:8000/x"), None),
            (None, Some("https://friend.example"), None),
            (
                None,
                Some("http://app.example"),
                Some("Origin 'http://app.example' not allowed"),
            ),
            (None, Some("null"), Some("Origin 'null' not allowed")),
            (Some("cross-site"), Some("https://friend.example"), None),
            (
                Some("same-site"),
                Some("http://app.example:8000"),
                Some("Sec-Fetch-Site same-site & origin 'http://app.example:8000' not allowed"),
            ),
            (
                Some("cross-site"),
                None,
                Some("Sec-Fetch-Site cross-site & origin None not allowed"),
            ),
        ];
        for (site, origin, want) in cases {
            let trusted = |o: &str| o == "https://friend.example";
            assert_eq!(
                cross_origin_error(site, origin, host, trusted).as_deref(),
                want,
                "{site:?} {origin:?}"
            );
        }
    }

    #[test]
    fn comparison() {
        assert!(tokens_match(b"abc", b"abc"));
        assert!(!tokens_match(b"abc", b"abd"));
        assert!(!tokens_match(b"abc", b"ab"));
    }
}
