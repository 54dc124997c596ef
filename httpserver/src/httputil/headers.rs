//! [`HttpHeaders`]: a case-insensitive multi-map of header lines that keeps
//! their order.

use std::borrow::Cow;
use std::fmt;

use http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::error::ParseError;

/// One header line: `buf[start..name_end]` is the name and
/// `buf[name_end..end]` the value.
#[derive(Debug, Clone, Copy)]
struct Entry {
    start: usize,
    name_end: usize,
    end: usize,
}

/// HTTP headers: a multi-map from case-insensitive names to values, in the
/// order the lines were added.
///
/// Names keep the case they were given (so output looks the way the handler
/// wrote it) and compare case-insensitively. A name may have several values
/// (`Set-Cookie`, repeated `Accept` lines); [`get`](Self::get) gives the
/// first, [`get_all`](Self::get_all) every one, and
/// [`get_joined`](Self::get_joined) Tornado's `headers[name]`: all values
/// joined with `,`.
///
/// All names and values share one string buffer, so a parsed request head
/// costs two allocations however many lines it has.
///
/// Differences from Tornado's `HTTPHeaders`: names are not re-cased to
/// `Http-Header-Case`; [`iter`](Self::iter) yields lines in arrival order
/// rather than grouped by name; [`len`](Self::len) counts lines, not
/// distinct names; [`add`](Self::add) does not validate (use
/// [`try_add`](Self::try_add)); bad characters are caught when parsing and
/// when a response is encoded.
///
/// ```
/// use tornado_httpserver::httputil::HttpHeaders;
///
/// let mut h = HttpHeaders::parse("Content-Type: text/html\r\nSet-Cookie: A=B\r\n").unwrap();
/// h.add("set-cookie", "C=D");
/// assert_eq!(h.get("content-type"), Some("text/html"));
/// assert_eq!(h.get_all("Set-Cookie").collect::<Vec<_>>(), ["A=B", "C=D"]);
/// assert_eq!(h.get_joined("SET-COOKIE").as_deref(), Some("A=B,C=D"));
/// ```
#[derive(Clone, Default)]
pub struct HttpHeaders {
    buf: String,
    entries: Vec<Entry>,
    /// Bytes of `buf` still referenced by an entry.
    live: usize,
}

impl HttpHeaders {
    /// Empty headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Empty headers with room for `lines` lines holding `bytes` bytes of
    /// names and values.
    pub fn with_capacity(lines: usize, bytes: usize) -> Self {
        HttpHeaders {
            buf: String::with_capacity(bytes),
            entries: Vec::with_capacity(lines),
            live: 0,
        }
    }

    /// Parses a header block: lines `Name: value` ended by CRLF (or a bare
    /// LF, which RFC 9112 lets a recipient accept), up to an optional empty
    /// line.
    ///
    /// Rejects, with a 400 error: a line that starts with a space or tab
    /// (obs-fold, a continuation line; Tornado 6.6 rejects these too), a
    /// line without a colon, a name that is not a token, and a value with a
    /// control character other than tab (a bare CR included). Spaces and
    /// tabs around a value are trimmed; other whitespace is kept.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let mut headers = HttpHeaders::with_capacity(8, text.len());
        for line in text.split('\n') {
            headers.parse_line(line)?;
        }
        Ok(headers)
    }

    /// [`parse`](Self::parse) on bytes: UTF-8 when the block is valid UTF-8,
    /// Latin-1 (one char per byte, as Tornado decodes headers) otherwise.
    pub fn parse_bytes(block: &[u8]) -> Result<Self, ParseError> {
        Self::parse(&bytes_to_str(block))
    }

    /// Adds one header line (with or without its CRLF); an empty line is
    /// ignored. See [`parse`](Self::parse) for what is rejected.
    pub fn parse_line(&mut self, line: &str) -> Result<(), ParseError> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            return Ok(());
        }
        if line.starts_with([' ', '\t']) {
            return Err(ParseError::bad_request(
                "header line starts with whitespace: folded headers are not supported",
            ));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(ParseError::bad_request("no colon in header line"));
        };
        self.try_add(name, value.trim_matches([' ', '\t']))
    }

    /// Adds a value for `name` after the existing ones, checking that the
    /// name is a token and the value has no control character but tab.
    pub fn try_add(&mut self, name: &str, value: &str) -> Result<(), ParseError> {
        if !is_token(name.as_bytes()) {
            return Err(ParseError::bad_request(format!(
                "invalid header name {name:?}"
            )));
        }
        if !is_field_value(value) {
            return Err(ParseError::bad_request(format!(
                "invalid header value {value:?}"
            )));
        }
        self.add(name, value);
        Ok(())
    }

    /// Adds a value for `name` after the existing ones.
    ///
    /// Does not validate: a name or value that would break the framing is
    /// refused when the response is encoded.
    pub fn add(&mut self, name: &str, value: &str) {
        let start = self.buf.len();
        self.buf.push_str(name);
        let name_end = self.buf.len();
        self.buf.push_str(value);
        let end = self.buf.len();
        self.live += end - start;
        self.entries.push(Entry {
            start,
            name_end,
            end,
        });
    }

    /// The bytes of all names and values together (what encoding them needs, less
    /// separators).
    pub fn byte_len(&self) -> usize {
        self.live
    }

    /// Replaces every value of `name` with `value` (Tornado's
    /// `headers[name] = value`).
    pub fn set(&mut self, name: &str, value: &str) {
        self.remove(name);
        self.add(name, value);
    }

    /// The first value of `name`, if any.
    ///
    /// Tornado's `headers[name]` joins repeated values with `,`; that is
    /// [`get_joined`](Self::get_joined).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| self.name_of(e).eq_ignore_ascii_case(name))
            .map(|e| self.value_of(e))
    }

    /// Every value of `name`, in order (Tornado's `get_list`).
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |e| self.name_of(e).eq_ignore_ascii_case(name))
            .map(move |e| self.value_of(e))
    }

    /// All values of `name` joined with `,` (Tornado's `headers[name]`);
    /// borrows when there is only one.
    pub fn get_joined(&self, name: &str) -> Option<Cow<'_, str>> {
        let mut joined: Option<Cow<'_, str>> = None;
        for e in &self.entries {
            if !self.name_of(e).eq_ignore_ascii_case(name) {
                continue;
            }
            let value = self.value_of(e);
            joined = Some(match joined {
                None => Cow::Borrowed(value),
                Some(prev) => {
                    let mut s = prev.into_owned();
                    s.push(',');
                    s.push_str(value);
                    Cow::Owned(s)
                }
            });
        }
        joined
    }

    /// Whether `name` has at least one value.
    pub fn contains(&self, name: &str) -> bool {
        self.entries
            .iter()
            .any(|e| self.name_of(e).eq_ignore_ascii_case(name))
    }

    /// Removes every value of `name`; returns whether there was one.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.entries.len();
        let buf = &self.buf;
        let mut freed = 0;
        self.entries.retain(|e| {
            let keep = !buf[e.start..e.name_end].eq_ignore_ascii_case(name);
            if !keep {
                freed += e.end - e.start;
            }
            keep
        });
        self.live -= freed;
        if self.buf.len() > 2 * self.live + 1024 {
            self.compact();
        }
        self.entries.len() != before
    }

    /// Every `(name, value)` line, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.entries
            .iter()
            .map(move |e| (self.name_of(e), self.value_of(e)))
    }

    /// The number of lines (a name with two values counts twice).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no lines.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every line, keeping the allocations for reuse.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.entries.clear();
        self.live = 0;
    }

    /// Converts to an [`http::HeaderMap`]; fails (400) on a name or value
    /// the `http` crate refuses.
    pub fn to_header_map(&self) -> Result<HeaderMap, ParseError> {
        let mut map = HeaderMap::with_capacity(self.len());
        for (name, value) in self.iter() {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ParseError::bad_request(format!("invalid header name {name:?}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| ParseError::bad_request(format!("invalid header value {value:?}")))?;
            map.append(name, value);
        }
        Ok(map)
    }

    fn name_of(&self, e: &Entry) -> &str {
        &self.buf[e.start..e.name_end]
    }

    fn value_of(&self, e: &Entry) -> &str {
        &self.buf[e.name_end..e.end]
    }

    fn compact(&mut self) {
        let mut fresh = HttpHeaders::with_capacity(self.entries.len(), self.live);
        for (name, value) in self.iter() {
            fresh.add(name, value);
        }
        *self = fresh;
    }
}

/// Decodes header bytes: as UTF-8 when valid, else as Latin-1.
pub(crate) fn bytes_to_str(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}

/// RFC 9110 `tchar`.
pub(crate) fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.'
        | b'^' | b'_' | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// RFC 9110 `token`: one or more `tchar`.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// A field value: no control character but tab (non-ASCII text allowed).
pub(crate) fn is_field_value(s: &str) -> bool {
    !s.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f)
}

impl fmt::Debug for HttpHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// One `Name: value\r\n` line per header.
impl fmt::Display for HttpHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in self.iter() {
            write!(f, "{name}: {value}\r\n")?;
        }
        Ok(())
    }
}

/// Equal when the same lines come in the same order (names compared
/// case-insensitively).
impl PartialEq for HttpHeaders {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|((n1, v1), (n2, v2))| n1.eq_ignore_ascii_case(n2) && v1 == v2)
    }
}

impl Eq for HttpHeaders {}

impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for HttpHeaders {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut headers = HttpHeaders::new();
        headers.extend(iter);
        headers
    }
}

impl<N: AsRef<str>, V: AsRef<str>> Extend<(N, V)> for HttpHeaders {
    fn extend<I: IntoIterator<Item = (N, V)>>(&mut self, iter: I) {
        for (name, value) in iter {
            self.add(name.as_ref(), value.as_ref());
        }
    }
}

/// Values that are not visible ASCII are decoded as UTF-8 when valid, else
/// as Latin-1.
impl From<&HeaderMap> for HttpHeaders {
    fn from(map: &HeaderMap) -> Self {
        let mut headers = HttpHeaders::with_capacity(map.len(), 0);
        for (name, value) in map {
            headers.add(name.as_str(), &bytes_to_str(value.as_bytes()));
        }
        headers
    }
}

impl TryFrom<&HttpHeaders> for HeaderMap {
    type Error = ParseError;

    fn try_from(headers: &HttpHeaders) -> Result<Self, ParseError> {
        headers.to_header_map()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_values_and_case() {
        let mut h = HttpHeaders::new();
        h.add("Set-Cookie", "A=B");
        h.add("set-cookie", "C=D");
        h.add("Content-Type", "text/html");
        assert_eq!(h.get("SET-COOKIE"), Some("A=B"));
        assert_eq!(h.get_joined("set-cookie").as_deref(), Some("A=B,C=D"));
        assert!(matches!(
            h.get_joined("content-type"),
            Some(Cow::Borrowed("text/html"))
        ));
        assert_eq!(h.len(), 3);
        assert!(h.contains("content-TYPE"));
        h.set("SET-cookie", "E=F");
        assert_eq!(h.get_all("Set-Cookie").collect::<Vec<_>>(), ["E=F"]);
        assert!(h.remove("content-type"));
        assert!(!h.remove("content-type"));
        assert_eq!(h.get("Content-Type"), None);
        let lines: Vec<_> = h.iter().collect();
        assert_eq!(lines, [("SET-cookie", "E=F")]);
    }

    #[test]
    fn keeps_original_case_and_order() {
        let h = HttpHeaders::parse("x-B: 1\r\nX-a: 2\r\nx-b: 3\r\n\r\n").unwrap();
        let lines: Vec<_> = h.iter().collect();
        assert_eq!(lines, [("x-B", "1"), ("X-a", "2"), ("x-b", "3")]);
        assert_eq!(h.to_string(), "x-B: 1\r\nX-a: 2\r\nx-b: 3\r\n");
    }

    #[test]
    fn string_round_trip() {
        let mut h = HttpHeaders::new();
        h.add("Foo", "1");
        h.add("Foo", "2");
        h.add("Foo", "3");
        assert_eq!(HttpHeaders::parse(&h.to_string()).unwrap(), h);
    }

    #[test]
    fn folding_rejected() {
        let err = HttpHeaders::parse("Foo: bar\r\n\tasdf").unwrap_err();
        assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
        assert!(err.reason().contains("folded"));
        assert!(HttpHeaders::parse("Foo: bar\r\n asdf\r\n").is_err());
    }

    #[test]
    fn forbidden_ascii_characters() {
        for c in 0u8..0xff {
            let ch = char::from(c);
            let data = format!("Foo: bar{ch}baz\r\n");
            if c == 0x09 || (c >= 0x20 && c != 0x7f) {
                let h = HttpHeaders::parse(&data).unwrap();
                assert_eq!(h.get("Foo"), Some(format!("bar{ch}baz").as_str()));
            } else {
                assert!(HttpHeaders::parse(&data).is_err(), "byte {c:#x} accepted");
            }
        }
    }

    #[test]
    fn unicode_newlines_are_not_separators() {
        for nl in ["\u{85}", "\u{2028}", "\u{2029}"] {
            let h = HttpHeaders::parse(&format!("Cookie: foo={nl}bar")).unwrap();
            assert_eq!(h.len(), 1);
            assert_eq!(h.get("cookie"), Some(format!("foo={nl}bar").as_str()));
        }
        // Latin-1 bytes that are not UTF-8 decode one char per byte.
        let h = HttpHeaders::parse_bytes(b"Cookie: foo=\x85bar").unwrap();
        assert_eq!(h.get("cookie"), Some("foo=\u{85}bar"));
    }

    #[test]
    fn only_space_and_tab_are_trimmed() {
        for (c, stripped) in [
            (" ", true),
            ("\t", true),
            ("\u{a0}", false),
            ("\u{85}", false),
        ] {
            let h = HttpHeaders::parse(&format!("Transfer-Encoding: {c}chunked")).unwrap();
            let expected = if stripped {
                "chunked".to_string()
            } else {
                format!("{c}chunked")
            };
            assert_eq!(h.get("transfer-encoding"), Some(expected.as_str()));
        }
    }

    #[test]
    fn optional_cr() {
        assert!(HttpHeaders::parse("CRLF: crlf\r\nLF: lf\nCR: cr\rMore: more\r\n").is_err());
        let h = HttpHeaders::parse("CRLF: crlf\r\nLF: lf\nMore: more\r\n").unwrap();
        let lines: Vec<_> = h.iter().collect();
        assert_eq!(lines, [("CRLF", "crlf"), ("LF", "lf"), ("More", "more")]);
    }

    #[test]
    fn invalid_header_names() {
        for name in [
            "", "foo bar", "foo\tbar", "foo\nbar", "foo\0bar", "foo ", " foo", "é",
        ] {
            let mut h = HttpHeaders::new();
            assert!(h.try_add(name, "bar").is_err(), "{name:?} accepted");
            assert!(h.is_empty());
        }
        assert!(HttpHeaders::parse("no colon here\r\n").is_err());
        assert!(HttpHeaders::parse("Foo : bar\r\n").is_err());
    }

    #[test]
    fn header_map_round_trip() {
        let h = HttpHeaders::parse("Accept: a\r\naccept: b\r\nHost: x\r\n").unwrap();
        let map = h.to_header_map().unwrap();
        assert_eq!(map.get_all("accept").iter().count(), 2);
        let back = HttpHeaders::from(&map);
        assert_eq!(back.get_all("ACCEPT").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(back.get("host"), Some("x"));
    }

    #[test]
    fn repeated_set_does_not_grow_without_bound() {
        let mut h = HttpHeaders::new();
        for i in 0..10_000 {
            h.set("X-Counter", &i.to_string());
        }
        assert_eq!(h.get("x-counter"), Some("9999"));
        assert!(h.buf.len() < 4096);
    }
}
