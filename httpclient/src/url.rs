//! Absolute `http://` and `https://` URLs: parsing what a request names,
//! resolving a redirect's `Location` against it (RFC 3986 section 5.2),
//! and comparing origins.

use std::borrow::Cow;
use std::fmt;

use http::Uri;
use tornado_httpserver::httputil::url_unescape;

use crate::error::HttpClientError;

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    pub(crate) fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// A parsed absolute URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Url {
    pub(crate) scheme: Scheme,
    /// The host as written, without brackets around an IPv6 address.
    pub(crate) host: String,
    pub(crate) port: u16,
    /// Whether the URL wrote the port.
    pub(crate) explicit_port: bool,
    /// `user:password` before the `@`, percent-decoded.
    pub(crate) userinfo: Option<(String, String)>,
    /// The path and query, `/` at least; no fragment.
    pub(crate) target: String,
}

impl Url {
    /// Parses an absolute `http` or `https` URL; the fragment is dropped.
    pub(crate) fn parse(text: &str) -> Result<Url, HttpClientError> {
        let bad = |why: &str| {
            HttpClientError::invalid_request(format!("invalid URL {:?}: {why}", redact(text)))
        };
        let text = text.trim();
        let without_fragment = text.split('#').next().unwrap_or_default();
        let (scheme, rest) = match without_fragment.split_once("://") {
            Some((s, rest)) if s.eq_ignore_ascii_case("http") => (Scheme::Http, rest),
            Some((s, rest)) if s.eq_ignore_ascii_case("https") => (Scheme::Https, rest),
            Some((s, _)) => return Err(bad(&format!("unsupported scheme {s:?}"))),
            None => return Err(bad("not an absolute http:// or https:// URL")),
        };
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(authority_end);
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((info, hostport)) => {
                let (user, pass) = info.split_once(':').unwrap_or((info, ""));
                (Some((percent_decode(user), percent_decode(pass))), hostport)
            }
            None => (None, authority),
        };
        // `http::Uri` checks the characters of the host, port and target.
        // It is handed the string it keeps, so it does not copy it.
        let mut rebuilt =
            String::with_capacity(scheme.as_str().len() + 3 + hostport.len() + target.len());
        rebuilt.push_str(scheme.as_str());
        rebuilt.push_str("://");
        rebuilt.push_str(hostport);
        rebuilt.push_str(target);
        let checked =
            Uri::try_from(rebuilt).map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
        let authority = checked.authority().ok_or_else(|| bad("no host"))?;
        // `Authority::host` searches the authority each time: once is enough.
        let bracketed = authority.host();
        let host = bracketed.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port_text = authority.as_str()[bracketed.len()..].strip_prefix(':');
        let explicit_port = port_text.is_some_and(|p| !p.is_empty());
        let port = match port_text {
            Some(p) if !p.is_empty() => match p.parse::<u16>() {
                Ok(0) | Err(_) => return Err(bad(&format!("bad port {p:?}"))),
                Ok(port) => port,
            },
            _ => scheme.default_port(),
        };
        let target = match checked.path_and_query() {
            Some(pq) if pq.as_str().starts_with('/') => pq.as_str().to_owned(),
            Some(pq) => format!("/{}", pq.as_str()),
            None => "/".to_owned(),
        };
        Ok(Url {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
            explicit_port,
            userinfo,
            target,
        })
    }

    /// The `Host` header's value: the host, and the port unless it is the
    /// scheme's default. Borrowed in the common case, and built without the
    /// formatting machinery otherwise, since every request writes it.
    pub(crate) fn host_header(&self) -> Cow<'_, str> {
        let default_port = self.port == self.scheme.default_port();
        if default_port && !self.is_ipv6() {
            return Cow::Borrowed(&self.host);
        }
        let mut out = String::with_capacity(self.host.len() + 8);
        self.push_host(&mut out);
        if !default_port {
            push_port(&mut out, self.port);
        }
        Cow::Owned(out)
    }

    /// `host:port` as a `CONNECT` request names it.
    pub(crate) fn authority(&self) -> String {
        let mut out = String::with_capacity(self.host.len() + 8);
        self.push_host(&mut out);
        push_port(&mut out, self.port);
        out
    }

    /// The URL without its userinfo, as [`Display`](fmt::Display) writes
    /// it; built with one allocation, since every response carries it.
    pub(crate) fn href(&self) -> String {
        let scheme = self.scheme.as_str();
        let mut out = String::with_capacity(
            scheme.len() + "://[]:65535".len() + self.host.len() + self.target.len(),
        );
        out.push_str(scheme);
        out.push_str("://");
        self.push_host(&mut out);
        if self.explicit_port && self.port != self.scheme.default_port() {
            push_port(&mut out, self.port);
        }
        out.push_str(&self.target);
        out
    }

    fn is_ipv6(&self) -> bool {
        self.host.contains(':')
    }

    /// Appends the host, in brackets when it is an IPv6 address.
    fn push_host(&self, out: &mut String) {
        if self.is_ipv6() {
            out.push('[');
            out.push_str(&self.host);
            out.push(']');
        } else {
            out.push_str(&self.host);
        }
    }

    /// Whether `other` has the same scheme, host and port.
    pub(crate) fn same_origin(&self, other: &Url) -> bool {
        self.scheme == other.scheme && self.host == other.host && self.port == other.port
    }

    /// Resolves a `Location` value against this URL (RFC 3986 section
    /// 5.2.2): absolute, scheme-relative (`//host/x`), absolute-path,
    /// relative-path and query-only references.
    pub(crate) fn join(&self, reference: &str) -> Result<Url, HttpClientError> {
        let reference = reference.trim();
        if let Some((scheme, _)) = reference.split_once(':')
            && !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        {
            return Url::parse(reference);
        }
        if let Some(rest) = reference.strip_prefix("//") {
            return Url::parse(&format!("{}://{rest}", self.scheme.as_str()));
        }
        let reference = reference.split('#').next().unwrap_or_default();
        let (base_path, base_query) = match self.target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (self.target.as_str(), None),
        };
        let target = if reference.is_empty() {
            match base_query {
                Some(q) => format!("{base_path}?{q}"),
                None => base_path.to_owned(),
            }
        } else if reference.starts_with('?') {
            format!("{base_path}{reference}")
        } else {
            let (ref_path, ref_query) = match reference.split_once('?') {
                Some((p, q)) => (p, Some(q)),
                None => (reference, None),
            };
            let merged = if ref_path.starts_with('/') {
                ref_path.to_owned()
            } else {
                let dir = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
                format!("{dir}{ref_path}")
            };
            let path = remove_dot_segments(&merged);
            match ref_query {
                Some(q) => format!("{path}?{q}"),
                None => path,
            }
        };
        let mut url = self.clone();
        url.userinfo = None;
        url.target = target;
        // Reparse, so the characters of the new target are checked too.
        Url::parse(&url.href())
    }
}

impl fmt::Display for Url {
    /// The URL without its userinfo.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.href())
    }
}

/// Appends `:` and the port in decimal.
fn push_port(out: &mut String, port: u16) {
    let mut digits = [0u8; 5];
    let mut start = digits.len();
    let mut n = port;
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push(':');
    out.extend(digits[start..].iter().map(|&d| char::from(d)));
}

/// `text` with anything that looks like the password of a userinfo
/// (`user:password@`, the `password` after the last `:` between a `/` and
/// an `@`) replaced by `***`, for messages and logs. It errs on the side of
/// hiding: the text need not be a valid URL.
pub(crate) fn redact(text: &str) -> Cow<'_, str> {
    if !text.contains('@') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        let segment_start = rest[..at].rfind('/').map_or(0, |i| i + 1);
        match rest[segment_start..at].rfind(':') {
            Some(colon) => {
                out.push_str(&rest[..segment_start + colon + 1]);
                out.push_str("***@");
            }
            None => out.push_str(&rest[..=at]),
        }
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// RFC 3986 section 5.2.4.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len() - 1;
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    if joined.starts_with('/') {
        joined
    } else {
        format!("/{joined}")
    }
}

/// Decodes `%XX` escapes (a `+` stays a `+`), as text.
pub(crate) fn percent_decode(text: &str) -> String {
    String::from_utf8_lossy(&url_unescape(text.as_bytes(), false)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scheme_host_port_and_target() {
        let u = Url::parse("http://Example.COM:8080/a/b?x=1#frag").unwrap();
        assert_eq!(u.scheme, Scheme::Http);
        assert_eq!(u.host, "example.com");
        assert_eq!(u.port, 8080);
        assert_eq!(u.target, "/a/b?x=1");
        assert_eq!(u.host_header(), "example.com:8080");
        let u = Url::parse("https://h").unwrap();
        assert_eq!((u.port, u.target.as_str()), (443, "/"));
        assert_eq!(u.host_header(), "h");
        let u = Url::parse("http://h?q").unwrap();
        assert_eq!(u.target, "/?q");
        let u = Url::parse("http://[::1]:9/x").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9));
        assert_eq!(u.authority(), "[::1]:9");
        assert_eq!(u.to_string(), "http://[::1]:9/x");
    }

    #[test]
    fn host_header_authority_and_href() {
        for (text, host_header, authority, href) in [
            ("http://h/", "h", "h:80", "http://h/"),
            ("http://h:80/", "h", "h:80", "http://h/"),
            ("http://h:1/", "h:1", "h:1", "http://h:1/"),
            (
                "https://h:65535/p?q",
                "h:65535",
                "h:65535",
                "https://h:65535/p?q",
            ),
            ("https://u:p@h:443", "h", "h:443", "https://h/"),
            ("http://[::1]/", "[::1]", "[::1]:80", "http://[::1]/"),
            (
                "http://[::1]:8080/x",
                "[::1]:8080",
                "[::1]:8080",
                "http://[::1]:8080/x",
            ),
        ] {
            let u = Url::parse(text).unwrap();
            assert_eq!(u.host_header(), host_header, "{text}");
            assert_eq!(u.authority(), authority, "{text}");
            assert_eq!(u.href(), href, "{text}");
            assert_eq!(u.to_string(), href, "{text}");
        }
    }

    #[test]
    fn userinfo_is_split_and_decoded() {
        let u = Url::parse("http://me:p%40ss@h/").unwrap();
        assert_eq!(u.userinfo, Some(("me".into(), "p@ss".into())));
        assert_eq!(u.to_string(), "http://h/");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("http://u:secret@h/p?q@x"), "http://u:***@h/p?q@x");
        assert_eq!(redact("u:p@h:1"), "u:***@h:1");
        assert_eq!(redact("http://u@h/"), "http://u@h/");
        assert_eq!(redact("http:/x y/u:secret@h"), "http:/x y/u:***@h");
        assert_eq!(redact("http://h/"), "http://h/");
        let err = Url::parse("ftp://me:secret@h/").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn refuses_what_is_not_an_http_url() {
        for bad in [
            "ftp://h/",
            "/relative",
            "http://",
            "http://h:99999/",
            "http://h:0/",
            "http://h/a b",
        ] {
            let err = Url::parse(bad).expect_err(bad);
            assert!(err.to_string().contains("invalid URL"), "{bad}: {err}");
        }
    }

    #[test]
    fn joins_references() {
        let base = Url::parse("http://h:81/a/b/c?q=1").unwrap();
        let cases = [
            ("d", "http://h:81/a/b/d"),
            ("./d", "http://h:81/a/b/d"),
            ("../d", "http://h:81/a/d"),
            ("../../../../d", "http://h:81/d"),
            ("/x?y", "http://h:81/x?y"),
            ("?z", "http://h:81/a/b/c?z"),
            ("", "http://h:81/a/b/c?q=1"),
            ("//other/p", "http://other/p"),
            ("https://s/", "https://s/"),
            (".", "http://h:81/a/b/"),
            ("..", "http://h:81/a/"),
        ];
        for (reference, want) in cases {
            assert_eq!(
                base.join(reference).unwrap().to_string(),
                want,
                "{reference}"
            );
        }
        assert!(base.join("mailto:x@y").is_err());
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let a = Url::parse("http://h/").unwrap();
        assert!(a.same_origin(&Url::parse("http://H:80/x").unwrap()));
        assert!(!a.same_origin(&Url::parse("https://h/").unwrap()));
        assert!(!a.same_origin(&Url::parse("http://h:81/").unwrap()));
        assert!(!a.same_origin(&Url::parse("http://g/").unwrap()));
    }
}
