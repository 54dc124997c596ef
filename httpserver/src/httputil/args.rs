//! Query strings, `application/x-www-form-urlencoded` bodies, form-body
//! dispatch and [`url_concat`].

use std::collections::hash_map::Entry;

use bytes::Bytes;

// request.rs still names these through this file; their home is form.rs.
pub(super) use super::form::{Arguments, Files, MAX_ARGUMENTS};
use super::form::{ParseBodyConfig, percent_decode};
use super::headers::HttpHeaders;
use super::multipart::parse_multipart_form_data;
use crate::error::ParseError;

/// Parses a query string (or urlencoded body) into `args`.
///
/// Fields are separated by `&` only; `+` means a space and `%XX` a byte (a
/// `%` not followed by two hex digits stays as it is). Blank values are kept
/// (`a=&b` gives `a` and `b` an empty value each); empty fields (`a=1&&b=2`)
/// are skipped. More than `max_fields` fields is a 400 error, before any is
/// parsed.
///
/// ```
/// use tornado_httpserver::httputil::{parse_qs_into, Arguments, MAX_ARGUMENTS};
///
/// let mut args = Arguments::new();
/// parse_qs_into(b"a=1&b=x+y&a=%33&c", &mut args, MAX_ARGUMENTS).unwrap();
/// assert_eq!(args["a"], ["1", "3"]);
/// assert_eq!(args["b"], ["x y"]);
/// assert_eq!(args["c"], [""]);
/// ```
pub fn parse_qs_into(qs: &[u8], args: &mut Arguments, max_fields: usize) -> Result<(), ParseError> {
    if qs.is_empty() {
        return Ok(());
    }
    let fields = 1 + qs.iter().filter(|&&b| b == b'&').count();
    if fields > max_fields {
        return Err(ParseError::bad_request(format!(
            "Max number of fields exceeded ({fields} > {max_fields})"
        )));
    }
    for (name, value) in parse_qsl(qs) {
        let name = String::from_utf8_lossy(&name).into_owned();
        let value = Bytes::from(value);
        // Most names come once: a first value gets a vector of exactly one (a pushed
        // vector would hold four).
        match args.entry(name) {
            Entry::Occupied(mut values) => values.get_mut().push(value),
            Entry::Vacant(slot) => {
                slot.insert(vec![value]);
            }
        }
    }
    Ok(())
}

/// A query string's (or urlencoded body's) fields in order, decoded, as Python's
/// `parse_qsl(qs, keep_blank_values=True)` gives them: fields are separated by `&`
/// only, `+` means a space and `%XX` a byte; a field without `=` has an empty value;
/// empty fields are skipped. Names and values stay bytes.
///
/// ```
/// use tornado_httpserver::httputil::parse_qsl;
///
/// let fields: Vec<_> = parse_qsl(b"a=1&&b=x+y&a=%FF&c").collect();
/// assert_eq!(
///     fields,
///     [
///         (b"a".to_vec(), b"1".to_vec()),
///         (b"b".to_vec(), b"x y".to_vec()),
///         (b"a".to_vec(), vec![0xff]),
///         (b"c".to_vec(), vec![]),
///     ]
/// );
/// ```
pub fn parse_qsl(qs: &[u8]) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + '_ {
    qs.split(|&b| b == b'&')
        .filter(|field| !field.is_empty())
        .map(|field| {
            let (name, value) = match field.iter().position(|&b| b == b'=') {
                Some(eq) => (&field[..eq], &field[eq + 1..]),
                None => (field, &b""[..]),
            };
            (percent_decode(name), percent_decode(value))
        })
}

/// Appends `input` in `application/x-www-form-urlencoded` form (Python's
/// `quote_plus`): letters, digits and `_.-~` as they are, space as `+`,
/// every other byte as `%XX`.
pub fn url_escape_into(out: &mut String, input: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in input {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            }
        }
    }
}

/// Appends arguments to a URL, whether or not it already has a query.
///
/// The existing query is re-encoded (a field without `=` gains one) and the
/// fragment is kept at the end, as Tornado's `url_concat` does.
///
/// ```
/// use tornado_httpserver::httputil::url_concat;
///
/// assert_eq!(url_concat("http://example.com/foo", [("c", "d")]), "http://example.com/foo?c=d");
/// assert_eq!(
///     url_concat("http://example.com/foo?a=b#top", [("c", "d"), ("c", "d/2")]),
///     "http://example.com/foo?a=b&c=d&c=d%2F2#top"
/// );
/// ```
pub fn url_concat<K, V>(url: &str, args: impl IntoIterator<Item = (K, V)>) -> String
where
    K: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let (rest, fragment) = match url.split_once('#') {
        Some((rest, fragment)) => (rest, Some(fragment)),
        None => (url, None),
    };
    let (base, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut out = String::with_capacity(url.len() + 32);
    out.push_str(base);
    let mut first = true;
    let mut push = |out: &mut String, name: &[u8], value: &[u8]| {
        out.push(if first { '?' } else { '&' });
        first = false;
        url_escape_into(out, name);
        out.push('=');
        url_escape_into(out, value);
    };
    for (name, value) in parse_qsl(query.as_bytes()) {
        push(&mut out, &name, &value);
    }
    for (name, value) in args {
        push(&mut out, name.as_ref(), value.as_ref());
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// Parses a form body into `arguments` and `files`, by its content type:
/// `application/x-www-form-urlencoded` or `multipart/form-data`; any other
/// type is left alone. Limits are the defaults of [`ParseBodyConfig`].
///
/// A body with a `Content-Encoding` (left over after gzip decoding) is
/// refused, as is a malformed form; every error is a 400.
pub fn parse_body_arguments(
    content_type: &str,
    body: &Bytes,
    arguments: &mut Arguments,
    files: &mut Files,
    headers: &HttpHeaders,
) -> Result<(), ParseError> {
    parse_body_arguments_with(
        &ParseBodyConfig::default(),
        content_type,
        body,
        arguments,
        files,
        headers,
    )
}

/// [`parse_body_arguments`] with explicit limits.
pub fn parse_body_arguments_with(
    config: &ParseBodyConfig,
    content_type: &str,
    body: &Bytes,
    arguments: &mut Arguments,
    files: &mut Files,
    headers: &HttpHeaders,
) -> Result<(), ParseError> {
    let urlencoded = content_type.starts_with("application/x-www-form-urlencoded");
    let multipart = content_type.starts_with("multipart/form-data");
    if !urlencoded && !multipart {
        return Ok(());
    }
    if let Some(encoding) = headers.get("Content-Encoding") {
        return Err(ParseError::bad_request(format!(
            "Unsupported Content-Encoding: {encoding}"
        )));
    }
    if urlencoded {
        let mut parsed = Arguments::new();
        parse_qs_into(body, &mut parsed, config.max_arguments).map_err(|e| {
            ParseError::bad_request(format!(
                "Invalid x-www-form-urlencoded body: {}",
                e.reason()
            ))
        })?;
        if arguments.is_empty() {
            *arguments = parsed;
        } else {
            for (name, values) in parsed {
                arguments.entry(name).or_default().extend(values);
            }
        }
        return Ok(());
    }
    let mut fields = content_type.split(';');
    if fields.next().map(str::trim) != Some("multipart/form-data") {
        return Err(ParseError::bad_request(
            "Invalid multipart/form-data: invalid content type",
        ));
    }
    let boundary = fields.find_map(|field| {
        let (k, v) = field.trim().split_once('=')?;
        (k == "boundary" && !v.is_empty()).then_some(v)
    });
    let Some(boundary) = boundary else {
        return Err(ParseError::bad_request(
            "Invalid multipart/form-data: multipart boundary not found",
        ));
    };
    parse_multipart_form_data(config, boundary.as_bytes(), body, arguments, files).map_err(|e| {
        ParseError::bad_request(format!("Invalid multipart/form-data: {}", e.reason()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    type Pairs<'a> = &'a [(&'a str, &'a str)];

    #[test]
    fn url_concat_rows() {
        let p = [("y", "y"), ("z", "z")];
        let rows: &[(&str, Pairs<'_>, &str)] = &[
            (
                "https://localhost/path",
                &p,
                "https://localhost/path?y=y&z=z",
            ),
            (
                "https://localhost/path",
                &[("y", "/y"), ("z", "z")],
                "https://localhost/path?y=%2Fy&z=z",
            ),
            (
                "https://localhost/path?",
                &p,
                "https://localhost/path?y=y&z=z",
            ),
            (
                "https://localhost/path?x",
                &p,
                "https://localhost/path?x=&y=y&z=z",
            ),
            (
                "https://localhost/path?x&",
                &p,
                "https://localhost/path?x=&y=y&z=z",
            ),
            (
                "https://localhost/path?a=1&b=2",
                &p,
                "https://localhost/path?a=1&b=2&y=y&z=z",
            ),
            (
                "https://localhost/path?r=1&t=2",
                &[],
                "https://localhost/path?r=1&t=2",
            ),
            (
                "https://localhost/path#tab",
                &[("y", "y")],
                "https://localhost/path?y=y#tab",
            ),
            (
                "https://localhost/path",
                &[("y", "y1"), ("y", "y2")],
                "https://localhost/path?y=y1&y=y2",
            ),
            (
                "https://localhost/path?r=1&r=2",
                &[("y", "y")],
                "https://localhost/path?r=1&r=2&y=y",
            ),
            ("/p", &[("a b", "é&")], "/p?a+b=%C3%A9%26"),
        ];
        for (url, args, expected) in rows {
            assert_eq!(
                url_concat(url, args.iter().copied()),
                *expected,
                "{url} {args:?}"
            );
        }
    }

    #[test]
    fn qs_parsing() {
        let mut args = Arguments::new();
        parse_qs_into(
            b"a=1&b=2&a=3&&e=&f&g=%zz%4&h=%41%2b+",
            &mut args,
            MAX_ARGUMENTS,
        )
        .unwrap();
        assert_eq!(args["a"], ["1", "3"]);
        assert_eq!(args["b"], ["2"]);
        assert_eq!(args["e"], [""]);
        assert_eq!(args["f"], [""]);
        assert_eq!(args["g"], ["%zz%4"]);
        assert_eq!(args["h"], ["A+ "]);
        assert_eq!(args.len(), 6);
    }

    #[test]
    fn qs_field_limit() {
        let ok: Vec<String> = (0..MAX_ARGUMENTS).map(|i| format!("a={i}")).collect();
        let mut args = Arguments::new();
        parse_qs_into(ok.join("&").as_bytes(), &mut args, MAX_ARGUMENTS).unwrap();
        assert_eq!(args["a"].len(), MAX_ARGUMENTS);
        let too_many = format!("{}&a=x", ok.join("&"));
        let err =
            parse_qs_into(too_many.as_bytes(), &mut Arguments::new(), MAX_ARGUMENTS).unwrap_err();
        assert!(err.is_bad_request());
        assert!(err.reason().contains("Max number of fields exceeded"));
    }

    fn parse(
        ct: &str,
        body: &[u8],
        headers: &HttpHeaders,
    ) -> Result<(Arguments, Files), ParseError> {
        let (mut a, mut f) = (Arguments::new(), Files::new());
        parse_body_arguments(ct, &Bytes::copy_from_slice(body), &mut a, &mut f, headers)?;
        Ok((a, f))
    }

    #[test]
    fn urlencoded_body() {
        let (args, files) = parse(
            "application/x-www-form-urlencoded",
            b"a=1&b=2&a=3",
            &HttpHeaders::new(),
        )
        .unwrap();
        assert_eq!(args["a"], ["1", "3"]);
        assert_eq!(args["b"], ["2"]);
        assert!(files.is_empty());
        let many = b"a=1&".repeat(1001);
        let err = parse(
            "application/x-www-form-urlencoded",
            &many,
            &HttpHeaders::new(),
        )
        .unwrap_err();
        assert!(err.reason().contains("Max number of fields exceeded"));
        let gz: HttpHeaders = [("Content-Encoding", "gzip")].into_iter().collect();
        assert!(parse("application/x-www-form-urlencoded", b"a=1", &gz).is_err());
    }

    #[test]
    fn other_content_types_are_ignored() {
        let (args, files) = parse("application/json", b"{\"a\": 1}", &HttpHeaders::new()).unwrap();
        assert!(args.is_empty() && files.is_empty());
    }

    #[test]
    fn multipart_content_type_checks() {
        let body = b"--1234\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--1234--\r\n";
        let h = HttpHeaders::new();
        let (args, _) = parse("multipart/form-data; boundary=1234", body, &h).unwrap();
        assert_eq!(args["a"], ["x"]);
        assert!(parse("multipart/form-dataxyz; boundary=1234", body, &h).is_err());
        assert!(parse("multipart/form-data", body, &h).is_err());
        assert!(parse("multipart/form-data; boundary=", body, &h).is_err());
    }
}
