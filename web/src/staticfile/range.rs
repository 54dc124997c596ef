//! The `Range` request header, as Tornado's `StaticFileHandler` reads it: one byte
//! range, a suffix (`bytes=-N`) or an open one (`bytes=N-`); anything it cannot parse
//! (another unit, several ranges, junk) is ignored and the whole file is served
//! (RFC 9110 lets a server ignore `Range`).

/// What a request's `Range` asks of a file of a given size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Span {
    /// The whole file, with status 200: no range, one that could not be parsed, or one
    /// that covers the file (Chrome will not play audio answered 206 to `bytes=0-`).
    Whole,
    /// Bytes `start..end` (end exclusive), with status 206.
    Partial { start: u64, end: u64 },
    /// Status 416 with `Content-Range: bytes */SIZE`: the first byte is past the end, the
    /// last is before the first, or the suffix is empty (`bytes=-0`).
    Unsatisfiable,
}

/// A range's start and end as slice indexes, either possibly absent.
type Positions = (Option<i128>, Option<i128>);

/// Tornado's `_parse_request_range`: `(start, end)` as slice indexes, `start` negative
/// for a suffix; `None` for a header to ignore. Positions are digits only (Python's
/// `int` also takes signs and underscores); a number too large for 64 bits saturates,
/// as Python's unbounded integers would compare.
fn parse(header: &str) -> Option<Positions> {
    let (unit, value) = header.split_once('=').unwrap_or((header, ""));
    if unit.trim() != "bytes" {
        return None;
    }
    let (start, end) = value.trim().split_once('-').unwrap_or((value.trim(), ""));
    let start = number(start)?;
    let end = number(end)?;
    Some(match (start, end) {
        (None, Some(0)) => (None, Some(0)),
        (None, Some(n)) => (Some(-n), None),
        (start, Some(n)) => (start, Some(n + 1)),
        (start, None) => (start, None),
    })
}

/// `Ok(None)` for an empty position, `None` (ignore the header) for one that is not
/// digits.
fn number(text: &str) -> Option<Option<i128>> {
    let text = text.trim();
    if text.is_empty() {
        return Some(None);
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = text.bytes().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    Some(Some(i128::from(n)))
}

/// What `header` (the request's `Range`, if any) asks of a file of `size` bytes, as
/// Tornado's `StaticFileHandler.get` decides it: a suffix longer than the file is the
/// whole file, an end past the file is clamped to it.
pub(crate) fn span(header: Option<&str>, size: u64) -> Span {
    let Some((mut start, mut end)) = header.and_then(parse) else {
        return Span::Whole;
    };
    let size = i128::from(size);
    if let Some(s) = start.filter(|s| *s < 0) {
        start = Some((s + size).max(0));
    }
    if start.is_some_and(|s| s >= size || end.is_some_and(|e| s >= e)) || end == Some(0) {
        return Span::Unsatisfiable;
    }
    if end.is_some_and(|e| e > size) {
        end = Some(size);
    }
    let (start, end) = (start.unwrap_or(0), end.unwrap_or(size));
    if end - start == size {
        return Span::Whole;
    }
    // Both lie within 0..=size now, so they fit in a u64.
    Span::Partial {
        start: start as u64,
        end: end as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tornados_parse_table() {
        let rows: &[(&str, Option<Positions>)] = &[
            ("bytes=1-2", Some((Some(1), Some(3)))),
            ("bytes=6-", Some((Some(6), None))),
            ("bytes=-6", Some((Some(-6), None))),
            ("bytes=-0", Some((None, Some(0)))),
            ("bytes=", Some((None, None))),
            (" bytes = 1 - 2 ", Some((Some(1), Some(3)))),
            ("bytes=26", Some((Some(26), None))),
            ("foo=42", None),
            ("Bytes=1-2", None),
            ("asdf", None),
            ("bytes=1-2,6-10", None),
            ("bytes=a-b", None),
            ("bytes=+1-2", None),
            ("bytes=--5", None),
            ("bytes=1-2-3", None),
        ];
        for &(header, want) in rows {
            assert_eq!(parse(header), want, "{header:?}");
        }
    }

    #[test]
    fn spans_of_a_26_byte_file() {
        let rows: &[(Option<&str>, Span)] = &[
            (None, Span::Whole),
            (Some("asdf"), Span::Whole),
            (Some("bytes=1-2,6-10"), Span::Whole),
            (Some("bytes="), Span::Whole),
            (Some("bytes=0-9"), Span::Partial { start: 0, end: 10 }),
            (Some("bytes=0-"), Span::Whole),
            (Some("bytes=0-25"), Span::Whole),
            (Some("bytes=0-10000000"), Span::Whole),
            (
                Some("bytes=1-10000000"),
                Span::Partial { start: 1, end: 26 },
            ),
            (Some("bytes=22-"), Span::Partial { start: 22, end: 26 }),
            (Some("bytes=25-25"), Span::Partial { start: 25, end: 26 }),
            (Some("bytes=-4"), Span::Partial { start: 22, end: 26 }),
            (Some("bytes=-26"), Span::Whole),
            (Some("bytes=-1000000"), Span::Whole),
            (Some("bytes=-0"), Span::Unsatisfiable),
            (Some("bytes=26"), Span::Unsatisfiable),
            (Some("bytes=26-30"), Span::Unsatisfiable),
            (Some("bytes=10-3"), Span::Unsatisfiable),
            (Some("bytes=10-9"), Span::Unsatisfiable),
            (Some("bytes=10-10"), Span::Partial { start: 10, end: 11 }),
            (
                Some("bytes=5-99999999999999999999999999"),
                Span::Partial { start: 5, end: 26 },
            ),
            (
                Some("bytes=99999999999999999999999999-"),
                Span::Unsatisfiable,
            ),
        ];
        for &(header, want) in rows {
            assert_eq!(span(header, 26), want, "{header:?}");
        }
    }

    #[test]
    fn an_empty_file_satisfies_no_range() {
        assert_eq!(span(None, 0), Span::Whole);
        assert_eq!(span(Some("bytes="), 0), Span::Whole);
        assert_eq!(span(Some("bytes=0-"), 0), Span::Unsatisfiable);
        assert_eq!(span(Some("bytes=-5"), 0), Span::Unsatisfiable);
    }
}
