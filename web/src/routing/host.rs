//! Which host a request is for: Tornado's `HostMatches` and
//! `request.host_name`.

use std::borrow::Cow;
use std::fmt;

use regex::Regex;
use tornado_httpserver::httputil::split_host_and_port;

use super::error::RouteError;
use super::pattern::compile_anchored;

/// A pattern for the request's host name (Tornado's `HostMatches`).
///
/// As for URLs, `$` is appended unless the pattern ends with one and the
/// match starts at the beginning; it is run against the host name, which
/// is the `Host` lowercased and without its port. The pattern itself is
/// not lowercased, so write it in lower case.
///
/// ```
/// use tornado_web::routing::HostPattern;
///
/// let host = HostPattern::new(r"(www\.)?example\.com").unwrap();
/// assert!(host.matches("www.example.com"));
/// assert!(!host.matches("example.com.evil.org"));
/// assert!(!host.matches("myexample.com"));
/// ```
#[derive(Clone)]
pub struct HostPattern {
    pattern: String,
    regex: Regex,
}

impl HostPattern {
    /// Compiles a host pattern; fails, naming it, when it is not a valid
    /// regex.
    ///
    /// ```
    /// use tornado_web::routing::HostPattern;
    ///
    /// assert_eq!(HostPattern::new(".*").unwrap().as_str(), ".*$");
    /// let err = HostPattern::new("[a-").unwrap_err();
    /// assert!(err.is_invalid_pattern());
    /// assert!(err.to_string().starts_with("invalid host pattern \"[a-$\""));
    /// ```
    pub fn new(pattern: &str) -> Result<Self, RouteError> {
        let (pattern, _, regex) = compile_anchored("host", pattern)?;
        Ok(HostPattern { pattern, regex })
    }

    /// The pattern, with the `$` Tornado appends.
    ///
    /// ```
    /// use tornado_web::routing::HostPattern;
    ///
    /// assert_eq!(HostPattern::new("a\\.com$").unwrap().as_str(), "a\\.com$");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether `host_name` matches; see [`RouteRequest::host_name`] for
    /// the host name of a request.
    ///
    /// ```
    /// use tornado_web::routing::HostPattern;
    ///
    /// let host = HostPattern::new(r"api\.example\.com").unwrap();
    /// assert!(host.matches("api.example.com"));
    /// assert!(!host.matches("api.example.com:8888"));
    /// ```
    pub fn matches(&self, host_name: &str) -> bool {
        self.regex.is_match(host_name)
    }
}

impl fmt::Debug for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("HostPattern").field(&self.pattern).finish()
    }
}

/// What routing looks at in a request: its host, its path and whether it
/// came through a proxy that sets `X-Real-Ip`.
///
/// ```
/// use tornado_web::routing::RouteRequest;
///
/// let request = RouteRequest::new("Example.COM:8888", "/a").x_real_ip(true);
/// assert_eq!(request.host_name(), "example.com");
/// assert!(request.has_x_real_ip);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRequest<'a> {
    /// The request's host, as in its `Host` header (a port may follow).
    pub host: &'a str,
    /// The request's path: the URI before any `?`, still percent-encoded.
    pub path: &'a str,
    /// Whether the request has an `X-Real-Ip` header, which turns
    /// [`Router::default_host`](super::Router::default_host) off.
    pub has_x_real_ip: bool,
}

impl<'a> RouteRequest<'a> {
    /// A request for `path` on `host`, without `X-Real-Ip`.
    ///
    /// ```
    /// use tornado_web::routing::RouteRequest;
    ///
    /// let request = RouteRequest::new("example.com", "/");
    /// assert!(!request.has_x_real_ip);
    /// ```
    pub fn new(host: &'a str, path: &'a str) -> Self {
        RouteRequest {
            host,
            path,
            has_x_real_ip: false,
        }
    }

    /// Says whether the request has an `X-Real-Ip` header.
    ///
    /// ```
    /// use tornado_web::routing::RouteRequest;
    ///
    /// assert!(RouteRequest::new("a", "/").x_real_ip(true).has_x_real_ip);
    /// ```
    pub fn x_real_ip(mut self, present: bool) -> Self {
        self.has_x_real_ip = present;
        self
    }

    /// The host lowercased and without its port, which host patterns
    /// match (Tornado's `request.host_name`).
    ///
    /// ```
    /// use tornado_web::routing::RouteRequest;
    ///
    /// assert_eq!(RouteRequest::new("WWW.Example.com:80", "/").host_name(), "www.example.com");
    /// assert_eq!(RouteRequest::new("[::1]:8888", "/").host_name(), "[::1]");
    /// ```
    pub fn host_name(&self) -> Cow<'a, str> {
        let name = split_host_and_port(self.host).0;
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(name.to_ascii_lowercase())
        } else {
            Cow::Borrowed(name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_name_rows() {
        let rows = [
            ("example.com", "example.com"),
            ("Example.COM", "example.com"),
            ("example.com:8888", "example.com"),
            ("[::1]:80", "[::1]"),
            ("[::1]", "[::1]"),
            ("127.0.0.1", "127.0.0.1"),
            ("h:", "h:"),
        ];
        for (host, name) in rows {
            assert_eq!(RouteRequest::new(host, "/").host_name(), name, "{host}");
        }
        assert!(matches!(
            RouteRequest::new("a.com:1", "/").host_name(),
            Cow::Borrowed(_)
        ));
    }
}
