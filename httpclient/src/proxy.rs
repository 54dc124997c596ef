//! HTTP proxies: the one a request names, or the ones the environment
//! names (`http_proxy`, `https_proxy`, `no_proxy`) when the client opts in.

use crate::request::{HttpRequest, basic_credentials};
use crate::url::{Scheme, Url, percent_decode};

/// The port of a proxy given without one.
pub(crate) const DEFAULT_PROXY_PORT: u16 = 8080;

/// A proxy to go through.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Proxy {
    pub(crate) host: String,
    pub(crate) port: u16,
    /// The `Proxy-Authorization` value, when credentials were given.
    pub(crate) authorization: Option<String>,
}

impl Proxy {
    /// The proxy the request's own options name.
    pub(crate) fn of_request(request: &HttpRequest) -> Option<Proxy> {
        let host = request.proxy_host.as_ref()?;
        let authorization = request
            .proxy_username
            .as_ref()
            .map(|user| basic_credentials(user, request.proxy_password.as_deref().unwrap_or("")));
        Some(Proxy {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port: request.proxy_port.unwrap_or(DEFAULT_PROXY_PORT),
            authorization,
        })
    }

    /// Parses an environment value: `http://user:pass@host:port`,
    /// `host:port` or `host`.
    fn parse(value: &str) -> Option<Proxy> {
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        let rest = match value.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some(_) => return None,
            None => value,
        };
        let authority = rest.split('/').next().unwrap_or_default();
        let (auth, hostport) = match authority.rsplit_once('@') {
            Some((info, hostport)) => {
                let (user, pass) = info.split_once(':').unwrap_or((info, ""));
                let auth = basic_credentials(&percent_decode(user), &percent_decode(pass));
                (Some(auth), hostport)
            }
            None => (None, authority),
        };
        let (host, port) = split_host_port(hostport)?;
        Some(Proxy {
            host,
            port: port.unwrap_or(DEFAULT_PROXY_PORT),
            authorization: auth,
        })
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_host_port(text: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(p) => Some(p.parse().ok().filter(|&p| p != 0)?),
        None => None,
    };
    Some((host.to_ascii_lowercase(), port))
}

/// The proxies the environment names, read once when the client is made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EnvProxies {
    http: Option<Proxy>,
    https: Option<Proxy>,
    /// `no_proxy` entries: `*`, or a host (or domain suffix) with an
    /// optional port.
    no_proxy: Vec<(String, Option<u16>)>,
}

impl EnvProxies {
    /// Reads the variables through `var`. Nothing is read when
    /// `REQUEST_METHOD` is set: under CGI, `HTTP_PROXY` comes from the
    /// client's `Proxy:` header (the httpoxy attack), so no proxy variable
    /// can be trusted there.
    pub(crate) fn from_lookup(var: impl Fn(&str) -> Option<String>) -> EnvProxies {
        if var("REQUEST_METHOD").is_some() {
            return EnvProxies::default();
        }
        let either = |lower: &str, upper: &str| var(lower).or_else(|| var(upper));
        let no_proxy = either("no_proxy", "NO_PROXY")
            .map(|list| {
                list.split(',')
                    .filter_map(|entry| {
                        let entry = entry.trim().trim_start_matches('.');
                        if entry == "*" {
                            return Some(("*".to_owned(), None));
                        }
                        split_host_port(entry)
                    })
                    .collect()
            })
            .unwrap_or_default();
        // A value that names no usable proxy (another scheme, a bad port)
        // is ignored, and said so: requests then go direct.
        let usable = |name: &str, value: String| {
            let proxy = Proxy::parse(&value);
            if proxy.is_none() {
                log::warn!(
                    "ignoring {name}={:?}: not an http:// proxy this client can use",
                    crate::url::redact(&value)
                );
            }
            proxy
        };
        EnvProxies {
            http: either("http_proxy", "HTTP_PROXY").and_then(|v| usable("http_proxy", v)),
            https: either("https_proxy", "HTTPS_PROXY").and_then(|v| usable("https_proxy", v)),
            no_proxy,
        }
    }

    /// Reads the process environment.
    pub(crate) fn from_env() -> EnvProxies {
        EnvProxies::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// The proxy for `url`, if any.
    pub(crate) fn for_url(&self, url: &Url) -> Option<Proxy> {
        let proxy = match url.scheme {
            Scheme::Http => self.http.as_ref(),
            Scheme::Https => self.https.as_ref(),
        }?;
        let bypass = self.no_proxy.iter().any(|(host, port)| {
            host == "*"
                || (port.is_none_or(|p| p == url.port)
                    && (url.host == *host || url.host.ends_with(&format!(".{host}"))))
        });
        (!bypass).then(|| proxy.clone())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvProxies {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        EnvProxies::from_lookup(move |k| map.get(k).cloned())
    }

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn reads_the_proxy_for_each_scheme() {
        let proxies = env(&[
            ("HTTP_PROXY", "http://u:p%21@Proxy.local:3128"),
            ("https_proxy", "tunnel:9000"),
        ]);
        let p = proxies.for_url(&url("http://example.com/")).unwrap();
        assert_eq!((p.host.as_str(), p.port), ("proxy.local", 3128));
        assert_eq!(
            p.authorization.as_deref(),
            Some(basic_credentials("u", "p!").as_str())
        );
        let p = proxies.for_url(&url("https://example.com/")).unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.authorization),
            ("tunnel", 9000, None)
        );
        let only_http = env(&[("http_proxy", "p")]);
        assert_eq!(
            only_http.for_url(&url("http://x/")).unwrap().port,
            DEFAULT_PROXY_PORT
        );
        assert!(only_http.for_url(&url("https://x/")).is_none());
    }

    #[test]
    fn no_proxy_matches_hosts_domains_ports_and_star() {
        let proxies = env(&[
            ("http_proxy", "p:1"),
            ("no_proxy", "localhost, .internal.example,10.0.0.1:8080"),
        ]);
        assert!(proxies.for_url(&url("http://localhost/")).is_none());
        assert!(
            proxies
                .for_url(&url("http://a.internal.example/"))
                .is_none()
        );
        assert!(proxies.for_url(&url("http://internal.example/")).is_none());
        assert!(proxies.for_url(&url("http://10.0.0.1:8080/")).is_none());
        assert!(proxies.for_url(&url("http://10.0.0.1:8081/")).is_some());
        assert!(
            proxies
                .for_url(&url("http://notinternal.example/"))
                .is_some()
        );
        assert!(proxies.for_url(&url("http://example.com/")).is_some());
        let star = env(&[("http_proxy", "p:1"), ("NO_PROXY", "*")]);
        assert!(star.for_url(&url("http://example.com/")).is_none());
    }

    #[test]
    fn nothing_is_read_under_cgi() {
        let proxies = env(&[("REQUEST_METHOD", "GET"), ("HTTP_PROXY", "evil:80")]);
        assert_eq!(proxies, EnvProxies::default());
        assert!(proxies.for_url(&url("http://example.com/")).is_none());
    }

    #[test]
    fn unusable_values_are_ignored() {
        let proxies = env(&[
            ("http_proxy", "socks5://p:1"),
            ("https_proxy", "p:notaport"),
        ]);
        assert_eq!(proxies, EnvProxies::default());
    }
}
