//! `multipart/form-data` bodies (RFC 7578) and the `Content-Disposition`
//! style `value; name="param"` header syntax.
//!
//! A crafted body must not buy quadratic time on the loop thread, so the
//! work is linear in the body: the boundary is at most [`MAX_BOUNDARY_LEN`]
//! bytes; the final delimiter is searched for once, from the end; each
//! delimiter search starts where the last one ended and at most
//! `max_parts` are made; each part's header search looks only inside
//! that part. The searches are `memchr::memmem` finders built once per body,
//! whose worst case is linear in what they search, near-matches included.

use std::collections::HashMap;
use std::ops::Range;

use bytes::Bytes;
use memchr::memmem::{Finder, FinderRev};

use super::form::{Arguments, Files, HttpFile, MAX_BOUNDARY_LEN, ParseBodyConfig, percent_decode};
use super::headers::HttpHeaders;
use crate::error::ParseError;

/// Parses a multipart body delimited by `boundary` (quotes around it are
/// removed) into `arguments` and `files`.
///
/// Follows Tornado: everything after the last `--boundary--` is ignored;
/// each part needs a header block of at most `max_part_header_size` bytes,
/// a `Content-Disposition: form-data` with a non-empty `name`, and a CRLF
/// before the next boundary. A part with a non-empty `filename` becomes an
/// [`HttpFile`]. Values and file bodies are slices of `data`, not copies.
/// Unlike Tornado, a boundary that is empty or longer than
/// [`MAX_BOUNDARY_LEN`] bytes is refused, as RFC 2046 allows 1 to 70.
pub(crate) fn parse_multipart_form_data(
    config: &ParseBodyConfig,
    boundary: &[u8],
    data: &Bytes,
    arguments: &mut Arguments,
    files: &mut Files,
) -> Result<(), ParseError> {
    let mut scanned = 0;
    parse_counting(config, boundary, data, arguments, files, &mut scanned)
}

/// [`parse_multipart_form_data`], adding to `scanned` the bytes its
/// searches had to look at, so tests can check the work is linear.
fn parse_counting(
    config: &ParseBodyConfig,
    boundary: &[u8],
    data: &Bytes,
    arguments: &mut Arguments,
    files: &mut Files,
    scanned: &mut usize,
) -> Result<(), ParseError> {
    if !config.multipart_enabled {
        return Err(ParseError::bad_request(
            "multipart/form-data parsing is disabled",
        ));
    }
    // A lone `"` both starts and ends with a quote, as in Tornado.
    let boundary = match boundary {
        [b'"'] => &[],
        [b'"', inner @ .., b'"'] => inner,
        other => other,
    };
    if boundary.is_empty() {
        return Err(ParseError::bad_request("multipart boundary is empty"));
    }
    if boundary.len() > MAX_BOUNDARY_LEN {
        return Err(ParseError::bad_request(format!(
            "multipart boundary is longer than {MAX_BOUNDARY_LEN} bytes"
        )));
    }
    let mut search = Searchers::new(boundary, scanned);
    let Some(end) = search.final_delimiter(data) else {
        return Err(ParseError::bad_request("no final boundary found"));
    };
    let pieces = search.split(&data[..end], config.max_parts)?;

    // Validate every part before touching the caller's maps, so a bad body
    // leaves them as they were.
    let mut parsed: Vec<(String, Result<HttpFile, Bytes>)> = Vec::with_capacity(pieces.len());
    for piece in pieces {
        if !piece.is_empty() {
            parsed.push(parse_part(config, &mut search, data.slice(piece))?);
        }
    }
    for (name, item) in parsed {
        match item {
            Ok(file) => files.entry(name).or_default().push(file),
            Err(value) => arguments.entry(name).or_default().push(value),
        }
    }
    Ok(())
}

/// The three searches of one body, each built once, and the count of bytes
/// they looked at: up to the end of a match, or the whole haystack when
/// there is none.
struct Searchers<'c> {
    /// `--boundary\r\n`, which starts a part.
    separator: Finder<'static>,
    /// `--boundary--`, which ends the last part.
    final_delimiter: FinderRev<'static>,
    /// The blank line that ends a part's headers.
    end_of_headers: Finder<'static>,
    scanned: &'c mut usize,
}

impl<'c> Searchers<'c> {
    fn new(boundary: &[u8], scanned: &'c mut usize) -> Self {
        let mut needle = Vec::with_capacity(boundary.len() + 4);
        needle.extend_from_slice(b"--");
        needle.extend_from_slice(boundary);
        needle.extend_from_slice(b"--");
        let final_delimiter = FinderRev::new(&needle).into_owned();
        needle.truncate(needle.len() - 2);
        needle.extend_from_slice(b"\r\n");
        Searchers {
            separator: Finder::new(&needle).into_owned(),
            final_delimiter,
            end_of_headers: Finder::new(b"\r\n\r\n").into_owned(),
            scanned,
        }
    }

    /// Where the last `--boundary--` in `data` starts.
    fn final_delimiter(&mut self, data: &[u8]) -> Option<usize> {
        let at = self.final_delimiter.rfind(data);
        *self.scanned += data.len() - at.unwrap_or(0);
        at
    }

    /// Splits `body` on the separator into at most `max_parts` pieces (the
    /// first is whatever precedes the first separator, usually nothing);
    /// more is an error, found after at most `max_parts` searches.
    fn split(&mut self, body: &[u8], max_parts: usize) -> Result<Vec<Range<usize>>, ParseError> {
        let step = self.separator.needle().len();
        let mut pieces = Vec::new();
        let mut start = 0;
        loop {
            if pieces.len() == max_parts {
                return Err(ParseError::bad_request(
                    "multipart/form-data has too many parts",
                ));
            }
            let rest = &body[start..];
            match self.separator.find(rest) {
                Some(i) => {
                    *self.scanned += i + step;
                    pieces.push(start..start + i);
                    start += i + step;
                }
                None => {
                    *self.scanned += rest.len();
                    pieces.push(start..body.len());
                    return Ok(pieces);
                }
            }
        }
    }

    /// Where the blank line after a part's headers starts.
    fn end_of_headers(&mut self, part: &[u8]) -> Option<usize> {
        let at = self.end_of_headers.find(part);
        *self.scanned += at.map_or(part.len(), |i| i + 4);
        at
    }
}

fn parse_part(
    config: &ParseBodyConfig,
    search: &mut Searchers<'_>,
    part: Bytes,
) -> Result<(String, Result<HttpFile, Bytes>), ParseError> {
    let Some(eoh) = search.end_of_headers(&part) else {
        return Err(ParseError::bad_request(
            "multipart/form-data missing headers",
        ));
    };
    if eoh > config.max_part_header_size {
        return Err(ParseError::bad_request(
            "multipart/form-data part header too large",
        ));
    }
    let header_text = std::str::from_utf8(&part[..eoh])
        .map_err(|_| ParseError::bad_request("multipart/form-data part headers are not UTF-8"))?;
    let headers = HttpHeaders::parse(header_text)?;
    let (disposition, params) = parse_header(headers.get("Content-Disposition").unwrap_or(""));
    if disposition != "form-data" || !part.ends_with(b"\r\n") {
        return Err(ParseError::bad_request("Invalid multipart/form-data"));
    }
    // A part that ends right after its headers has an empty value (the
    // CRLF ending the headers doubles as the one before the boundary).
    let value_start = (eoh + 4).min(part.len() - 2);
    let value = part.slice(value_start..part.len() - 2);
    let name = match params.get("name") {
        Some(name) if !name.is_empty() => name.clone(),
        _ => return Err(ParseError::bad_request("multipart/form-data missing name")),
    };
    match params.get("filename") {
        Some(filename) if !filename.is_empty() => {
            let content_type = headers.get("Content-Type").unwrap_or("application/unknown");
            Ok((
                name,
                Ok(HttpFile {
                    filename: filename.clone(),
                    content_type: content_type.to_string(),
                    body: value,
                }),
            ))
        }
        _ => Ok((name, Err(value))),
    }
}

/// Parses a `Content-Type`-like header into its main value and its
/// parameters: `form-data; name="a;b"; filename*=UTF-8''%C3%A1.txt`.
///
/// Parameter names are lowercased. Quoted values may hold `;` and
/// backslash escapes. RFC 2231 / 5987 extended values (`name*=charset'lang'
/// value`, and `name*0`, `name*1*` continuations) are decoded and take
/// precedence over a plain parameter of the same name. The work is linear
/// in the length of the header.
pub fn parse_header(line: &str) -> (String, HashMap<String, String>) {
    let mut pieces = split_params(line).into_iter();
    let key = pieces.next().unwrap_or_default().to_string();
    let mut params = HashMap::new();
    // (base name, section, value is percent-encoded, value)
    let mut extended: Vec<(String, u32, bool, String)> = Vec::new();
    for piece in pieces {
        let Some((name, value)) = piece.split_once('=') else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim();
        if let Some(base) = name.strip_suffix('*') {
            let (base, section) = split_section(base);
            extended.push((base.to_string(), section, true, unquote(value)));
        } else {
            let (base, section) = split_section(&name);
            if base.len() != name.len() {
                extended.push((base.to_string(), section, false, unquote(value)));
            } else {
                params.insert(name, unquote(value));
            }
        }
    }
    extended.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    let mut i = 0;
    while i < extended.len() {
        let base = extended[i].0.clone();
        let mut charset = String::new();
        let mut raw: Vec<u8> = Vec::new();
        while i < extended.len() && extended[i].0 == base {
            let (_, section, encoded, value) = &extended[i];
            let mut value = value.as_str();
            if *section == 0 && *encoded {
                // charset'language'value
                let mut it = value.splitn(3, '\'');
                if let (Some(cs), Some(_lang), Some(v)) = (it.next(), it.next(), it.next()) {
                    charset = cs.to_ascii_lowercase();
                    value = v;
                }
            }
            if *encoded {
                raw.extend(percent_decode_strict(value.as_bytes()));
            } else {
                raw.extend_from_slice(value.as_bytes());
            }
            i += 1;
        }
        let text = match charset.as_str() {
            "iso-8859-1" | "latin-1" | "latin1" => raw.iter().map(|&b| char::from(b)).collect(),
            _ => String::from_utf8_lossy(&raw).into_owned(),
        };
        params.insert(base, text);
    }
    (key, params)
}

/// `percent_decode` without the `+` to space rule of form encoding.
fn percent_decode_strict(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    for piece in input.split(|&b| b == b'+').enumerate() {
        if piece.0 > 0 {
            out.push(b'+');
        }
        out.extend(percent_decode(piece.1));
    }
    out
}

/// `filename*1` -> (`filename`, 1); a name without a numeric section is
/// returned whole with section 0.
fn split_section(name: &str) -> (&str, u32) {
    if let Some((base, n)) = name.rsplit_once('*')
        && !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
    {
        return (base, n.parse().unwrap_or(0));
    }
    (name, 0)
}

/// Splits on `;` outside double quotes, trimming each piece.
fn split_params(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, b) in line.bytes().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match b {
            b'\\' if in_quotes => escaped = true,
            b'"' => in_quotes = !in_quotes,
            b';' if !in_quotes => {
                out.push(line[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(line[start..].trim());
    out
}

/// Removes surrounding double quotes and decodes the `\\` and `\"` escapes inside
/// them, as Python's `email.utils.unquote` (which Tornado uses): first every `\\`,
/// then every `\"`. A backslash before anything else is kept: browsers do not escape
/// one in a file name (`C:\dir\f.txt`).
fn unquote(value: &str) -> String {
    let Some(inner) = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .filter(|_| value.len() >= 2)
    else {
        return value.to_string();
    };
    if !inner.contains('\\') {
        return inner.to_string();
    }
    inner.replace("\\\\", "\\").replace("\\\"", "\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::httputil::{MAX_MULTIPART_PARTS, MAX_PART_HEADER_SIZE};

    fn form(body: &str) -> Bytes {
        Bytes::from(body.replace('\n', "\r\n"))
    }

    fn parse(boundary: &str, body: &Bytes) -> Result<(Arguments, Files), ParseError> {
        let (mut a, mut f) = (Arguments::new(), Files::new());
        parse_multipart_form_data(
            &ParseBodyConfig::default(),
            boundary.as_bytes(),
            body,
            &mut a,
            &mut f,
        )?;
        Ok((a, f))
    }

    fn one_file(boundary: &str, body: &str) -> HttpFile {
        let (_, files) = parse(boundary, &form(body)).unwrap();
        files["files"][0].clone()
    }

    #[test]
    fn file_upload() {
        let f = one_file(
            "1234",
            "--1234\nContent-Disposition: form-data; name=\"files\"; filename=\"ab.txt\"\n\nFoo\n--1234--",
        );
        assert_eq!(f.filename, "ab.txt");
        assert_eq!(f.body, "Foo");
        assert_eq!(f.content_type, "application/unknown");
    }

    #[test]
    fn unquoted_names_and_content_type() {
        let f = one_file(
            "1234",
            "--1234\nContent-Disposition: form-data; name=files; filename=ab.txt\nContent-Type: text/plain\n\nFoo\n--1234--",
        );
        assert_eq!(f.filename, "ab.txt");
        assert_eq!(f.content_type, "text/plain");
    }

    #[test]
    fn special_filenames() {
        for filename in [
            "a;b.txt",
            "a\"b.txt",
            "a\";b.txt",
            "a;\"b.txt",
            "a\";\";.txt",
            "a\\\"b.txt",
            "a\\b.txt",
            "a b.txt",
            "a\tb.txt",
        ] {
            let quoted = filename.replace('\\', "\\\\").replace('"', "\\\"");
            let body = format!(
                "--1234\nContent-Disposition: form-data; name=\"files\"; filename=\"{quoted}\"\n\nFoo\n--1234--"
            );
            let f = one_file("1234", &body);
            assert_eq!(f.filename, filename);
            assert_eq!(f.body, "Foo");
        }
    }

    #[test]
    fn backslashes_browsers_leave_alone_are_kept() {
        // Browsers escape only `"` (as `%22`), CR and LF in a filename, not `\`: a
        // backslash before anything but `\` or `"` is the file name's own, as in
        // Tornado (Python's `email.utils.unquote`), old IE's Windows paths included.
        for (quoted, filename) in [
            (r"C:\Users\me\f.txt", r"C:\Users\me\f.txt"),
            (r"a\b.txt", r"a\b.txt"),
            (r"\x.txt", r"\x.txt"),
            (r"a\\b.txt", r"a\b.txt"),
            (r#"a\"b.txt"#, r#"a"b.txt"#),
        ] {
            let body = format!(
                "--1234\nContent-Disposition: form-data; name=\"files\"; filename=\"{quoted}\"\n\nFoo\n--1234--"
            );
            let f = one_file("1234", &body);
            assert_eq!(f.filename, filename, "{quoted}");
        }
        let (_, params) = parse_header(r#"form-data; name="a\b""#);
        assert_eq!(params["name"], r"a\b");
    }

    #[test]
    fn invalid_chars_in_filename() {
        for filename in ["a\rb.txt", "a\0b.txt", "a\x08b.txt"] {
            let body = format!(
                "--1234\nContent-Disposition: form-data; name=\"files\"; filename=\"{filename}\"\n\nFoo\n--1234--"
            );
            let err = parse("1234", &form(&body)).unwrap_err();
            assert!(err.reason().contains("invalid header value"), "{err}");
        }
    }

    #[test]
    fn non_ascii_filenames() {
        let f = one_file(
            "1234",
            "--1234\nContent-Disposition: form-data; name=\"files\"; filename=\"ab.txt\"; filename*=UTF-8''%C3%A1b.txt\n\nFoo\n--1234--",
        );
        assert_eq!(f.filename, "áb.txt");
        let f = one_file(
            "1234",
            "--1234\nContent-Disposition: form-data; name=\"files\"; filename=\"测试.txt\"\n\nFoo\n--1234--",
        );
        assert_eq!(f.filename, "测试.txt");
        let f = one_file(
            "1234",
            "--1234\nContent-Disposition: form-data; name=\"files\"; filename*0*=iso-8859-1''%E9; filename*1=\".txt\"\n\nFoo\n--1234--",
        );
        assert_eq!(f.filename, "é.txt");
    }

    #[test]
    fn quoted_boundary() {
        let f = one_file(
            "\"1234\"",
            "--1234\nContent-Disposition: form-data; name=\"files\"; filename=\"ab.txt\"\n\nFoo\n--1234--",
        );
        assert_eq!(f.filename, "ab.txt");
    }

    #[test]
    fn data_after_final_boundary_is_ignored() {
        let f = one_file(
            "1234",
            "--1234\nContent-Disposition: form-data; name=\"files\"; filename=\"ab.txt\"\n\nFoo\n--1234--\n",
        );
        assert_eq!(f.body, "Foo");
    }

    #[test]
    fn fields_and_files_together() {
        let body = form(
            "--b\nContent-Disposition: form-data; name=\"a\"\n\n1\n--b\nContent-Disposition: form-data; name=\"a\"\n\n2\n--b\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\n\n\0\u{ff}\n--b--\n",
        );
        let (args, files) = parse("b", &body).unwrap();
        assert_eq!(args["a"], ["1", "2"]);
        assert_eq!(files["f"][0].body, "\0\u{ff}");
    }

    #[test]
    fn invalid_bodies() {
        let rows: &[(&str, &str)] = &[
            ("--1234\n\nFoo\n--1234--", "missing headers"),
            (
                "--1234\nContent-Disposition: invalid; name=\"files\"; filename=\"ab.txt\"\n\nFoo\n--1234--",
                "Invalid",
            ),
            (
                "--1234\nContent-Disposition: form-data; name=\"files\"; filename=\"ab.txt\"\n\nFoo--1234--",
                "Invalid",
            ),
            (
                "--1234\nContent-Disposition: form-data; filename=\"ab.txt\"\n\nFoo\n--1234--",
                "missing name",
            ),
            (
                "--1234\nContent-Disposition: form-data; name=\"a\"\n\nFoo\n--1234",
                "no final boundary",
            ),
            ("--1234\nX: y\n\nFoo\n--1234--", "Invalid"),
            ("--1234\n X: y\n\nFoo\n--1234--", "folded"),
        ];
        for (body, expected) in rows {
            let err = parse("1234", &form(body)).unwrap_err();
            assert!(err.is_bad_request());
            assert!(err.reason().contains(expected), "{body:?}: {err}");
        }
    }

    #[test]
    fn part_without_a_value() {
        let body = form("--b\nContent-Disposition: form-data; name=\"a\"\n\n--b--");
        assert_eq!(parse("b", &body).unwrap().0["a"], [""]);
        let body = form("--b\nContent-Disposition: form-data; name=\"a\"\n\n\n--b--");
        assert_eq!(parse("b", &body).unwrap().0["a"], [""]);
    }

    #[test]
    fn invalid_part_leaves_maps_untouched() {
        let body = form("--b\nContent-Disposition: form-data; name=\"a\"\n\n1\n--b\n\nFoo\n--b--");
        let (mut a, mut f) = (Arguments::new(), Files::new());
        assert!(
            parse_multipart_form_data(&ParseBodyConfig::default(), b"b", &body, &mut a, &mut f)
                .is_err()
        );
        assert!(a.is_empty());
    }

    #[test]
    fn part_and_header_limits() {
        let part = "--b\nContent-Disposition: form-data; name=\"a\"\n\n1\n";
        let ok = form(&format!("{}--b--", part.repeat(99)));
        assert_eq!(parse("b", &ok).unwrap().0["a"].len(), 99);
        let too_many = form(&format!("{}--b--", part.repeat(100)));
        assert!(
            parse("b", &too_many)
                .unwrap_err()
                .reason()
                .contains("too many parts")
        );
        let big = form(&format!(
            "--b\nContent-Disposition: form-data; name=\"a\"\nX-Pad: {}\n\n1\n--b--",
            "p".repeat(MAX_PART_HEADER_SIZE)
        ));
        assert!(
            parse("b", &big)
                .unwrap_err()
                .reason()
                .contains("header too large")
        );
        let config = ParseBodyConfig {
            multipart_enabled: false,
            ..Default::default()
        };
        let (mut a, mut f) = (Arguments::new(), Files::new());
        assert!(parse_multipart_form_data(&config, b"b", &ok, &mut a, &mut f).is_err());
    }

    #[test]
    fn boundary_length() {
        let a70 = "a".repeat(70);
        let rows: &[(String, Option<&str>)] = &[
            ("1".to_string(), None),
            (a70.clone(), None),
            (format!("\"{a70}\""), None),
            ("a".repeat(71), Some("longer than 70 bytes")),
            (
                format!("\"{}\"", "a".repeat(71)),
                Some("longer than 70 bytes"),
            ),
            ("a".repeat(64 * 1024), Some("longer than 70 bytes")),
            ("\"\"".to_string(), Some("boundary is empty")),
            ("\"".to_string(), Some("boundary is empty")),
            (String::new(), Some("boundary is empty")),
        ];
        for (boundary, expected) in rows {
            let bare = boundary.trim_matches('"');
            let body = form(&format!(
                "--{bare}\nContent-Disposition: form-data; name=\"a\"\n\nx\n--{bare}--"
            ));
            let (mut a, mut f) = (Arguments::new(), Files::new());
            let mut scanned = 0;
            let result = parse_counting(
                &ParseBodyConfig::default(),
                boundary.as_bytes(),
                &body,
                &mut a,
                &mut f,
                &mut scanned,
            );
            match (result, expected) {
                (Ok(()), None) => assert_eq!(a["a"], ["x"], "{boundary:?}"),
                (Err(err), Some(expected)) => {
                    assert!(err.is_bad_request());
                    assert!(err.reason().contains(expected), "{boundary:?}: {err}");
                    assert_eq!(scanned, 0, "refused before any search");
                }
                (result, _) => panic!("{boundary:?}: {result:?}"),
            }
        }
    }

    /// Crafted bodies against a 70-byte boundary: near-matches of both
    /// delimiters everywhere, a body of the boundary's own letter, a million
    /// separators, and every allowed part big. Each body is megabytes, so a
    /// search that restarts or rescans would look at hundreds of times as
    /// many bytes; the count of bytes searched must stay within twice the
    /// body.
    #[test]
    fn crafted_bodies_cost_linear_work() {
        let b = "a".repeat(MAX_BOUNDARY_LEN);
        // Matches `--b` then fails on the last byte of either delimiter.
        let near = format!("--{b}-\r");
        let value = near.repeat(4 * 1024 * 1024 / near.len());
        let part = |name: &str, value: &str| {
            format!("--{b}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
        };
        let parse_counted = |body: &str| {
            let (mut a, mut f) = (Arguments::new(), Files::new());
            let mut scanned = 0;
            let body = Bytes::copy_from_slice(body.as_bytes());
            let result = parse_counting(
                &ParseBodyConfig::default(),
                b.as_bytes(),
                &body,
                &mut a,
                &mut f,
                &mut scanned,
            );
            assert!(
                scanned <= 2 * body.len(),
                "searched {scanned} bytes of a {}-byte body",
                body.len()
            );
            result.map(|()| a)
        };

        let args = parse_counted(&format!("{}--{b}--\r\n", part("v", &value))).unwrap();
        assert_eq!(args["v"], [value.as_str()]);

        let small = near.repeat(40 * 1024 / near.len());
        let many: String = (0..MAX_MULTIPART_PARTS - 1)
            .map(|i| part(&i.to_string(), &small))
            .collect();
        let args = parse_counted(&format!("{many}--{b}--")).unwrap();
        assert_eq!(args.len(), MAX_MULTIPART_PARTS - 1);
        assert!(args.values().all(|v| v == &[small.as_str()]));

        let err = parse_counted(&"a".repeat(4 * 1024 * 1024)).unwrap_err();
        assert!(err.reason().contains("no final boundary"), "{err}");
        let err = parse_counted(&format!("{}--{b}--", "a".repeat(4 * 1024 * 1024))).unwrap_err();
        assert!(err.reason().contains("missing headers"), "{err}");

        let separators = format!("--{b}\r\n").repeat(1_000_000);
        let err = parse_counted(&format!("{separators}--{b}--")).unwrap_err();
        assert!(err.reason().contains("too many parts"), "{err}");
    }

    #[test]
    fn parse_header_params() {
        let (key, params) =
            parse_header("form-data; foo=\"b\\\\a\\\"r\"; file*=utf-8''T%C3%A4st; Bare; N=v");
        assert_eq!(key, "form-data");
        assert_eq!(params["foo"], "b\\a\"r");
        assert_eq!(params["file"], "Täst");
        assert_eq!(params["n"], "v");
        assert!(!params.contains_key("bare"));
    }

    #[test]
    fn parse_header_is_linear() {
        let line = format!("form-data; x=\"{}\"", ";\\\"".repeat(50_000));
        let (_, params) = parse_header(&line);
        assert_eq!(params["x"].len(), 100_000);
    }
}
