//! Parsing of the `Cookie` request header the way browsers write it.

use std::collections::HashMap;

/// Parses a `Cookie` header into a map of name to value.
///
/// Like Tornado's `parse_cookie` (and Django's), this follows what browsers
/// send rather than the RFCs: only `;` separates cookies (even inside
/// quotes), a chunk without `=` is a value with an empty name, names and
/// values are trimmed, a later cookie replaces an earlier one of the same
/// name, and a value in double quotes is unquoted with Python's rules
/// (`\"` and `\\` escapes, `\NNN` octal escapes). The work is linear in the
/// length of the header.
///
/// ```
/// use tornado_httpserver::httputil::parse_cookie;
///
/// let c = parse_cookie("chips=ahoy; vienna=finger; q=\"a\\\"b\"");
/// assert_eq!(c["chips"], "ahoy");
/// assert_eq!(c["q"], "a\"b");
/// ```
pub fn parse_cookie(header: &str) -> HashMap<String, String> {
    let mut cookies = HashMap::new();
    for chunk in header.split(';') {
        let (key, value) = chunk.split_once('=').unwrap_or(("", chunk));
        let (key, value) = (key.trim(), value.trim());
        if !key.is_empty() || !value.is_empty() {
            cookies.insert(key.to_string(), unquote_cookie(value));
        }
    }
    cookies
}

/// Removes the double quotes around a cookie value and decodes its escapes
/// (Python's `http.cookies._unquote`).
fn unquote_cookie(s: &str) -> String {
    let inner = match s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) if s.len() >= 2 => inner,
        _ => return s.to_string(),
    };
    let bytes = inner.as_bytes();
    let mut out = String::with_capacity(inner.len());
    let mut i = 0;
    let mut plain_start = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' || i + 1 >= bytes.len() {
            i += 1;
            continue;
        }
        out.push_str(&inner[plain_start..i]);
        let octal = bytes.get(i + 1..i + 4).filter(|d| {
            matches!(d[0], b'0'..=b'3')
                && matches!(d[1], b'0'..=b'7')
                && matches!(d[2], b'0'..=b'7')
        });
        if let Some(d) = octal {
            let code = (d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0');
            out.push(char::from(code));
            i += 4;
        } else {
            // The escaped character may be multi-byte; take it whole.
            let ch = inner[i + 1..].chars().next().unwrap_or('\\');
            out.push(ch);
            i += 1 + ch.len_utf8();
        }
        plain_start = i;
    }
    out.push_str(&inner[plain_start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn python_cookies() {
        assert_eq!(
            parse_cookie("chips=ahoy; vienna=finger"),
            map(&[("chips", "ahoy"), ("vienna", "finger")])
        );
        // Every semicolon separates, even inside quotes.
        assert_eq!(
            parse_cookie(r#"keebler="E=mc2; L=\"Loves\"; fudge=\012;""#),
            map(&[
                ("keebler", "\"E=mc2"),
                ("L", r#"\"Loves\""#),
                ("fudge", r"\012"),
                ("", "\"")
            ])
        );
        assert_eq!(parse_cookie("keebler=E=mc2"), map(&[("keebler", "E=mc2")]));
        assert_eq!(
            parse_cookie("key:term=value:term"),
            map(&[("key:term", "value:term")])
        );
        assert_eq!(
            parse_cookie("a=b; c=[; d=r; f=h"),
            map(&[("a", "b"), ("c", "["), ("d", "r"), ("f", "h")])
        );
    }

    #[test]
    fn edge_cases() {
        assert_eq!(
            parse_cookie("a=b; Domain=example.com"),
            map(&[("a", "b"), ("Domain", "example.com")])
        );
        assert_eq!(
            parse_cookie("a=b; h=i; a=c"),
            map(&[("a", "c"), ("h", "i")])
        );
    }

    #[test]
    fn invalid_cookies() {
        assert!(
            parse_cookie("abc=def; unnamed; django_language=en").contains_key("django_language")
        );
        assert_eq!(parse_cookie("abc=def; unnamed; x=y")[""], "unnamed");
        assert_eq!(
            parse_cookie(r#"a=b; "; c=d"#),
            map(&[("a", "b"), ("", "\""), ("c", "d")])
        );
        assert_eq!(
            parse_cookie("a b c=d e = f; gh=i"),
            map(&[("a b c", "d e = f"), ("gh", "i")])
        );
        assert_eq!(
            parse_cookie(r#"a   b,c<>@:/[]?{}=d  "  =e,f g"#),
            map(&[("a   b,c<>@:/[]?{}", r#"d  "  =e,f g"#)])
        );
        assert_eq!(
            parse_cookie("saint=André Bessette"),
            map(&[("saint", "André Bessette")])
        );
        assert_eq!(
            parse_cookie("  =  b  ;  ;  =  ;   c  =  ;  "),
            map(&[("", "b"), ("c", "")])
        );
    }

    #[test]
    fn unquote() {
        let cases = [
            (r#"a="b=\"""#, "b=\""),
            (r#"a="b=\\""#, "b=\\"),
            (r#"a="b=\=""#, "b=="),
            (r#"a="b=\n""#, "b=n"),
            (r#"a="b=\042""#, "b=\""),
            (r#"a="b=\134""#, "b=\\"),
            (r#"a="b=\377""#, "b=\u{ff}"),
            (r#"a="b=\400""#, "b=400"),
            (r#"a="b=\42""#, "b=42"),
            (r#"a="b=\\042""#, "b=\\042"),
            (r#"a="b=\\134""#, "b=\\134"),
            (r#"a="b=\\\"""#, "b=\\\""),
            (r#"a="b=\\\042""#, "b=\\\""),
            (r#"a="b=\134\"""#, "b=\\\""),
            (r#"a="b=\134\042""#, "b=\\\""),
            (r#"a="é\é""#, "éé"),
        ];
        for (encoded, decoded) in cases {
            assert_eq!(parse_cookie(encoded)["a"], decoded, "{encoded}");
        }
    }

    #[test]
    fn unquote_large() {
        let n = 100_000;
        for encoded in [r"\\", r"\134"] {
            let data = format!("a=\"b={}\"", encoded.repeat(n));
            let value = &parse_cookie(&data)["a"];
            assert!(value.starts_with("b=\\"));
            assert!(value.ends_with("\\\\\\"));
            assert_eq!(value.len(), n + 2);
        }
    }
}
