//! What parsed form data looks like and the limits on parsing it: the
//! types and the decoding that both urlencoded bodies (`args.rs`) and
//! multipart bodies (`multipart.rs`) use, so neither imports the other.

use std::collections::HashMap;

use bytes::Bytes;

/// Request arguments: each name maps to its values in the order they came.
///
/// Values are raw bytes, as in Tornado: the web layer decodes them (UTF-8 by
/// default) when a handler asks. Names are decoded as UTF-8, invalid
/// sequences replaced by U+FFFD (Tornado decodes names as Latin-1).
pub type Arguments = HashMap<String, Vec<Bytes>>;

/// Uploaded files: each form field name maps to its files in order.
pub type Files = HashMap<String, Vec<HttpFile>>;

/// The most arguments a query string or a urlencoded body may hold (1000).
/// Each `&`-separated field counts, blank or not, as in Python's
/// `parse_qs(max_num_fields=...)`. Query and body are limited separately.
pub const MAX_ARGUMENTS: usize = 1000;

/// The most parts a `multipart/form-data` body may hold (100).
pub const MAX_MULTIPART_PARTS: usize = 100;

/// The largest header block of one multipart part, in bytes (10 KiB).
pub const MAX_PART_HEADER_SIZE: usize = 10 * 1024;

/// The longest multipart boundary, in bytes, quotes excluded (70, as RFC
/// 2046 section 5.1.1 allows); a longer or empty one is a 400.
pub const MAX_BOUNDARY_LEN: usize = 70;

/// A file uploaded with a `multipart/form-data` form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpFile {
    /// The file name the client sent (`filename=` or RFC 5987
    /// `filename*=`).
    pub filename: String,
    /// The part's `Content-Type`, `application/unknown` when absent.
    pub content_type: String,
    /// The file's bytes (a slice of the request body, not a copy).
    pub body: Bytes,
}

/// Limits for [`parse_body_arguments_with`](super::parse_body_arguments_with);
/// `Default` gives the documented constants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseBodyConfig {
    /// Whether `multipart/form-data` bodies are parsed at all (true).
    pub multipart_enabled: bool,
    /// [`MAX_MULTIPART_PARTS`].
    pub max_parts: usize,
    /// [`MAX_PART_HEADER_SIZE`].
    pub max_part_header_size: usize,
    /// [`MAX_ARGUMENTS`], for urlencoded bodies.
    pub max_arguments: usize,
}

impl Default for ParseBodyConfig {
    fn default() -> Self {
        ParseBodyConfig {
            multipart_enabled: true,
            max_parts: MAX_MULTIPART_PARTS,
            max_part_header_size: MAX_PART_HEADER_SIZE,
            max_arguments: MAX_ARGUMENTS,
        }
    }
}

/// Decodes `+` to a space and `%XX` escapes to bytes (form decoding:
/// [`url_unescape`] with `plus`).
pub fn percent_decode(input: &[u8]) -> Vec<u8> {
    url_unescape(input, true)
}

/// Decodes `%XX` escapes to bytes, and `+` to a space when `plus` is set
/// (Tornado's `url_unescape(value, encoding=None, plus=...)`): `plus` for
/// query strings and forms, not for paths or the userinfo of a URL. A
/// malformed escape stays as written.
///
/// ```
/// use tornado_httpserver::httputil::url_unescape;
///
/// assert_eq!(url_unescape(b"a+b%20c", true), b"a b c");
/// assert_eq!(url_unescape(b"a+b%20c", false), b"a+b c");
/// assert_eq!(url_unescape(b"100%", false), b"100%");
/// ```
pub fn url_unescape(input: &[u8], plus: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' if plus => out.push(b' '),
            b'%' => match (
                input.get(i + 1).and_then(hex_val),
                input.get(i + 2).and_then(hex_val),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn hex_val(b: &u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}
