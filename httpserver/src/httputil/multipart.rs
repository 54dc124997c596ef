//! `multipart/form-data` bodies (RFC 7578) and the `Content-Disposition`
//! style `value; name="param"` header syntax.

use std::collections::HashMap;

use bytes::Bytes;

use super::form::{Arguments, Files, HttpFile, ParseBodyConfig, percent_decode};
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
pub(crate) fn parse_multipart_form_data(
    config: &ParseBodyConfig,
    boundary: &[u8],
    data: &Bytes,
    arguments: &mut Arguments,
    files: &mut Files,
) -> Result<(), ParseError> {
    if !config.multipart_enabled {
        return Err(ParseError::bad_request(
            "multipart/form-data parsing is disabled",
        ));
    }
    let boundary = match boundary {
        [b'"', inner @ .., b'"'] => inner,
        other => other,
    };
    let mut final_marker = Vec::with_capacity(boundary.len() + 4);
    final_marker.extend_from_slice(b"--");
    final_marker.extend_from_slice(boundary);
    final_marker.extend_from_slice(b"--");
    let Some(end) = rfind(data, &final_marker) else {
        return Err(ParseError::bad_request("no final boundary found"));
    };
    let mut separator = Vec::with_capacity(boundary.len() + 4);
    separator.extend_from_slice(b"--");
    separator.extend_from_slice(boundary);
    separator.extend_from_slice(b"\r\n");

    // Validate every part before touching the caller's maps, so a bad body
    // leaves them as they were.
    let mut parsed: Vec<(String, Result<HttpFile, Bytes>)> = Vec::new();
    let mut parts = 0;
    let mut rest = 0;
    loop {
        let next = find(&data[rest..end], &separator).map(|i| rest + i);
        let part_end = next.unwrap_or(end);
        parts += 1;
        if parts > config.max_parts {
            return Err(ParseError::bad_request(
                "multipart/form-data has too many parts",
            ));
        }
        if part_end > rest {
            parsed.push(parse_part(config, &data.slice(rest..part_end))?);
        }
        match next {
            Some(at) => rest = at + separator.len(),
            None => break,
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

fn parse_part(
    config: &ParseBodyConfig,
    part: &Bytes,
) -> Result<(String, Result<HttpFile, Bytes>), ParseError> {
    let Some(eoh) = find(part, b"\r\n\r\n") else {
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

/// Removes surrounding double quotes and decodes `\x` escapes inside them.
fn unquote(value: &str) -> String {
    let Some(inner) = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .filter(|_| value.len() >= 2)
    else {
        return value.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(next) => out.push(next),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    let mut i = 0;
    while i + needle.len() <= haystack.len() {
        let pos = haystack[i..=haystack.len() - needle.len()]
            .iter()
            .position(|&b| b == first)?;
        let at = i + pos;
        if &haystack[at..at + needle.len()] == needle {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    (0..=haystack.len() - needle.len())
        .rev()
        .find(|&i| &haystack[i..i + needle.len()] == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::httputil::MAX_PART_HEADER_SIZE;

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
