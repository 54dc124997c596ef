//! Routing: which target serves a request, found from its host and path
//! (Tornado's `tornado.routing` and the `URLSpec` of `tornado.web`).
//!
//! The model is Tornado's `Application` router:
//!
//! - a [`UrlSpec`] pairs a [`UrlPattern`] (a regex, anchored as Tornado
//!   anchors it) with a target and an optional name;
//! - a [`RuleSet`] is an ordered list of them, and the first spec whose
//!   pattern matches the path wins;
//! - a [`Router`] holds the application's own rule set, which serves every
//!   host, and the rule sets added with
//!   [`add_handlers`](Router::add_handlers) for the hosts a [`HostPattern`]
//!   matches; [`find`](Router::find) tries them in Tornado's order, and
//!   [`reverse_url`](Router::reverse_url) builds a path from a spec's name.
//!
//! A target is any `T`: the web framework stores its handler factories
//! here, a test can store strings.
//!
//! ```
//! use tornado_web::routing::{RouteRequest, Router, UrlSpec};
//!
//! # fn main() -> Result<(), tornado_web::routing::RouteError> {
//! let mut router = Router::new([
//!     UrlSpec::new("/", "home")?,
//!     UrlSpec::new("/user/([^/]+)", "user")?.named("user"),
//! ]);
//! router.add_handlers(r"api\.example\.com", [UrlSpec::new("/", "api")?])?;
//!
//! let found = router.find(&RouteRequest::new("example.com", "/user/a%20b")).unwrap();
//! assert_eq!(*found.target(), "user");
//! assert_eq!(found.path_args.arg(0), Some(&b"a b"[..]));
//!
//! let found = router.find(&RouteRequest::new("API.example.com:8888", "/")).unwrap();
//! assert_eq!(*found.target(), "api");
//!
//! assert!(router.find(&RouteRequest::new("example.com", "/nowhere")).is_none());
//! assert_eq!(router.reverse_url("user", &[&"a b"])?, "/user/a%20b");
//! # Ok(())
//! # }
//! ```

mod error;
mod host;
mod pattern;
mod rules;

use std::fmt;

pub use error::RouteError;
pub use host::{HostPattern, RouteRequest};
pub use pattern::{PathArgs, UrlPattern};
pub use rules::{RouteMatch, RuleSet, UrlSpec};

/// An application's routes: its own, which serve every host, and those
/// added for particular hosts (the routing of Tornado's `Application`).
///
/// [`find`](Self::find) tries, in this order, and takes the first route
/// that matches the path:
///
/// 1. the rule sets of the host patterns that match the request's host
///    name, in the order they were added;
/// 2. the application's own routes, given to [`new`](Self::new) or
///    [`add`](Self::add);
/// 3. unless the request has `X-Real-Ip`, the rule sets of the host
///    patterns that match [`default_host`](Self::default_host), in order.
///
/// A host pattern that matches but has no route for the path does not end
/// the search, as in Tornado. When nothing matches, the application
/// answers with its default handler or 404; that is not routing's
/// business.
///
/// Tornado adds the default-host rules only for the host patterns added
/// while `default_host` is set; it is set in the `Application`
/// constructor, so in practice for all of them. Here it applies to all of
/// them whenever it is set.
///
/// ```
/// use tornado_web::routing::{RouteRequest, Router, UrlSpec};
///
/// let mut router = Router::new([UrlSpec::new("/", "any host").unwrap()])
///     .with_default_host("www.example.com");
/// router
///     .add_handlers(r"www\.example\.com", [UrlSpec::new("/about", "about").unwrap()])
///     .unwrap();
///
/// let find = |host, path| router.find(&RouteRequest::new(host, path)).map(|m| *m.target());
/// assert_eq!(find("www.example.com", "/about"), Some("about"));
/// assert_eq!(find("www.example.com", "/"), Some("any host"));
/// // Another host falls back to the default host's routes...
/// assert_eq!(find("10.0.0.7:8888", "/about"), Some("about"));
/// // ...unless a proxy says who the client is.
/// let proxied = RouteRequest::new("10.0.0.7", "/about").x_real_ip(true);
/// assert!(router.find(&proxied).is_none());
/// ```
#[derive(Clone)]
pub struct Router<T> {
    hosts: Vec<(HostPattern, RuleSet<T>)>,
    wildcard: RuleSet<T>,
    default_host: Option<String>,
}

impl<T> Router<T> {
    /// A router with the application's own routes, which serve every host
    /// (Tornado's `Application(handlers)`).
    ///
    /// ```
    /// use tornado_web::routing::{RouteRequest, Router, UrlSpec};
    ///
    /// let router = Router::new([UrlSpec::new("/", ()).unwrap()]);
    /// assert!(router.find(&RouteRequest::new("anything", "/")).is_some());
    /// ```
    pub fn new(specs: impl IntoIterator<Item = UrlSpec<T>>) -> Self {
        Router {
            hosts: Vec::new(),
            wildcard: specs.into_iter().collect(),
            default_host: None,
        }
    }

    /// Sets the host whose routes serve a request for a host no pattern
    /// matches (Tornado's `default_host`); see the [type docs](Self).
    ///
    /// ```
    /// use tornado_web::routing::Router;
    ///
    /// let router: Router<()> = Router::new([]).with_default_host("example.com");
    /// assert_eq!(router.default_host(), Some("example.com"));
    /// ```
    pub fn with_default_host(mut self, host: impl Into<String>) -> Self {
        self.set_default_host(Some(host.into()));
        self
    }

    /// Sets or clears the default host.
    ///
    /// ```
    /// use tornado_web::routing::Router;
    ///
    /// let mut router: Router<()> = Router::new([]);
    /// router.set_default_host(Some("example.com".into()));
    /// router.set_default_host(None);
    /// assert_eq!(router.default_host(), None);
    /// ```
    pub fn set_default_host(&mut self, host: Option<String>) {
        self.default_host = host;
    }

    /// The default host, if one is set. It is matched as it is written,
    /// not lowercased and with any port.
    ///
    /// ```
    /// use tornado_web::routing::Router;
    ///
    /// assert_eq!(Router::<()>::new([]).default_host(), None);
    /// ```
    pub fn default_host(&self) -> Option<&str> {
        self.default_host.as_deref()
    }

    /// Appends a route to the application's own, which serve every host.
    ///
    /// ```
    /// use tornado_web::routing::{RouteRequest, Router, UrlSpec};
    ///
    /// let mut router = Router::new([]);
    /// router.add(UrlSpec::new("/late", "late").unwrap());
    /// assert!(router.find(&RouteRequest::new("a", "/late")).is_some());
    /// ```
    pub fn add(&mut self, spec: UrlSpec<T>) {
        self.wildcard.add(spec);
    }

    /// Adds routes for the hosts `host_pattern` matches (Tornado's
    /// `add_handlers`); they are tried before the application's own
    /// routes, and after the host patterns added earlier. Fails when the
    /// host pattern is not a valid regex.
    ///
    /// ```
    /// use tornado_web::routing::{RouteRequest, Router, UrlSpec};
    ///
    /// let mut router = Router::new([UrlSpec::new("/", "main").unwrap()]);
    /// router.add_handlers(r"m\.example\.com", [UrlSpec::new("/", "mobile").unwrap()]).unwrap();
    /// let found = router.find(&RouteRequest::new("m.example.com", "/")).unwrap();
    /// assert_eq!(*found.target(), "mobile");
    /// assert!(router.add_handlers("(", []).unwrap_err().is_invalid_pattern());
    /// ```
    pub fn add_handlers(
        &mut self,
        host_pattern: &str,
        specs: impl IntoIterator<Item = UrlSpec<T>>,
    ) -> Result<(), RouteError> {
        let host = HostPattern::new(host_pattern)?;
        self.hosts.push((host, specs.into_iter().collect()));
        Ok(())
    }

    /// The application's own routes.
    ///
    /// ```
    /// use tornado_web::routing::{Router, UrlSpec};
    ///
    /// let router = Router::new([UrlSpec::new("/", ()).unwrap()]);
    /// assert_eq!(router.routes().len(), 1);
    /// ```
    pub fn routes(&self) -> &RuleSet<T> {
        &self.wildcard
    }

    /// The host patterns and their routes, in the order they were added.
    ///
    /// ```
    /// use tornado_web::routing::{Router, UrlSpec};
    ///
    /// let mut router = Router::new([]);
    /// router.add_handlers("a\\.com", [UrlSpec::new("/", ()).unwrap()]).unwrap();
    /// let (host, routes) = router.hosts().next().unwrap();
    /// assert_eq!((host.as_str(), routes.len()), ("a\\.com$", 1));
    /// ```
    pub fn hosts(&self) -> impl Iterator<Item = (&HostPattern, &RuleSet<T>)> {
        self.hosts.iter().map(|(host, rules)| (host, rules))
    }

    /// The route that serves `request`, with its groups' values; see the
    /// [type docs](Self) for the order (Tornado's `find_handler`).
    ///
    /// ```
    /// use tornado_web::routing::{RouteRequest, Router, UrlSpec};
    ///
    /// let router = Router::new([UrlSpec::new("/(?P<id>\\d+)", ()).unwrap()]);
    /// let found = router.find(&RouteRequest::new("a", "/42")).unwrap();
    /// assert_eq!(found.path_args.kwarg("id"), Some(&b"42"[..]));
    /// ```
    pub fn find(&self, request: &RouteRequest<'_>) -> Option<RouteMatch<'_, T>> {
        if !self.hosts.is_empty() {
            let host_name = request.host_name();
            let found = self
                .hosts
                .iter()
                .filter(|(host, _)| host.matches(&host_name))
                .find_map(|(_, rules)| rules.find(request.path));
            if found.is_some() {
                return found;
            }
        }
        if let Some(found) = self.wildcard.find(request.path) {
            return Some(found);
        }
        let default_host = self
            .default_host
            .as_deref()
            .filter(|_| !request.has_x_real_ip)?;
        self.hosts
            .iter()
            .filter(|(host, _)| host.matches(default_host))
            .find_map(|(_, rules)| rules.find(request.path))
    }

    /// Builds the path of the route named `name` with `args` in its groups
    /// (Tornado's `reverse_url`; see [`UrlPattern::reverse`]).
    ///
    /// The name is looked up in the host rule sets in the order they were
    /// added, then in the application's own routes; fails with
    /// [`is_unknown_name`](RouteError::is_unknown_name) when none has it.
    ///
    /// ```
    /// use tornado_web::routing::{Router, UrlSpec};
    ///
    /// let router = Router::new([UrlSpec::new("/user/([^/]+)", ()).unwrap().named("user")]);
    /// assert_eq!(router.reverse_url("user", &[&"a b"]).unwrap(), "/user/a%20b");
    /// let err = router.reverse_url("nope", &[]).unwrap_err();
    /// assert_eq!(err.to_string(), "\"nope\" not found in named urls");
    /// ```
    pub fn reverse_url(
        &self,
        name: &str,
        args: &[&dyn fmt::Display],
    ) -> Result<String, RouteError> {
        let spec = self
            .hosts
            .iter()
            .map(|(_, rules)| rules)
            .chain([&self.wildcard])
            .find_map(|rules| rules.get_named(name))
            .ok_or_else(|| RouteError::unknown_name(name))?;
        spec.reverse(args)
    }
}

impl<T> Default for Router<T> {
    fn default() -> Self {
        Self::new([])
    }
}

impl<T> fmt::Debug for Router<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("hosts", &self.hosts)
            .field("routes", &self.wildcard)
            .field("default_host", &self.default_host)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(pattern: &str, target: &'static str) -> UrlSpec<&'static str> {
        UrlSpec::new(pattern, target).unwrap()
    }

    fn target(router: &Router<&'static str>, request: RouteRequest<'_>) -> Option<&'static str> {
        router.find(&request).map(|m| *m.target())
    }

    #[test]
    fn host_patterns_match_the_host_name() {
        let mut router = Router::new([spec("/", "wildcard")]);
        router
            .add_handlers(r"www\.example\.com", [spec("/", "www")])
            .unwrap();
        router
            .add_handlers(
                r".*\.example\.com",
                [spec("/", "sub"), spec("/sub", "sub only")],
            )
            .unwrap();
        // (Host, path, target)
        let rows = [
            ("www.example.com", "/", Some("www")),
            ("www.example.com:8888", "/", Some("www")),
            ("WWW.Example.COM:80", "/", Some("www")),
            ("api.example.com", "/", Some("sub")),
            // A matching host pattern without the path falls through to
            // the next one, then to the wildcard routes.
            ("www.example.com", "/sub", Some("sub only")),
            ("example.com", "/", Some("wildcard")),
            ("www.example.com.evil.org", "/", Some("wildcard")),
            ("xwww.example.com", "/", Some("sub")),
            ("example.com", "/sub", None),
            ("[::1]:8888", "/", Some("wildcard")),
        ];
        for (host, path, expected) in rows {
            assert_eq!(
                target(&router, RouteRequest::new(host, path)),
                expected,
                "{host} {path}"
            );
        }
    }

    #[test]
    fn host_rules_come_before_wildcard_routes() {
        let mut router = Router::new([spec("/", "wildcard"), spec("/only", "wildcard only")]);
        router.add_handlers(".*", [spec("/", "any")]).unwrap();
        assert_eq!(target(&router, RouteRequest::new("a", "/")), Some("any"));
        assert_eq!(
            target(&router, RouteRequest::new("a", "/only")),
            Some("wildcard only")
        );
    }

    #[test]
    fn default_host() {
        let mut router = Router::new([spec("/", "wildcard")]).with_default_host("www.example.com");
        router
            .add_handlers(
                r"www\.example\.com",
                [spec("/", "www"), spec("/www", "www page")],
            )
            .unwrap();
        router
            .add_handlers(r"api\.example\.com", [spec("/api", "api")])
            .unwrap();
        let rows = [
            // The request's own host comes first.
            (RouteRequest::new("api.example.com", "/api"), Some("api")),
            // Then the wildcard routes, before the default host's.
            (RouteRequest::new("other.org", "/"), Some("wildcard")),
            // Then the default host's routes.
            (RouteRequest::new("other.org", "/www"), Some("www page")),
            (
                RouteRequest::new("api.example.com", "/www"),
                Some("www page"),
            ),
            // But not behind a proxy that sets X-Real-Ip.
            (RouteRequest::new("other.org", "/www").x_real_ip(true), None),
            (
                RouteRequest::new("www.example.com", "/www").x_real_ip(true),
                Some("www page"),
            ),
            // The default host does not reach another host's routes.
            (RouteRequest::new("other.org", "/api"), None),
        ];
        for (request, expected) in rows {
            assert_eq!(target(&router, request), expected, "{request:?}");
        }
        router.set_default_host(None);
        assert_eq!(
            target(&router, RouteRequest::new("other.org", "/www")),
            None
        );
        // The default host is matched as written: not lowercased, port kept.
        router.set_default_host(Some("WWW.example.com".into()));
        assert_eq!(
            target(&router, RouteRequest::new("other.org", "/www")),
            None
        );
        router.set_default_host(Some("www.example.com:80".into()));
        assert_eq!(
            target(&router, RouteRequest::new("other.org", "/www")),
            None
        );
    }

    #[test]
    fn path_args_come_with_the_match() {
        let mut router = Router::new([spec("/user/(?P<name>[^/]+)", "user")]);
        router
            .add_handlers("api", [spec("/v(\\d+)/(.*)", "api")])
            .unwrap();
        let found = router
            .find(&RouteRequest::new("api:1", "/v2/a%2Fb+c"))
            .unwrap();
        assert_eq!(
            found.path_args.args,
            [Some(b"2".to_vec()), Some(b"a/b+c".to_vec())]
        );
        let found = router
            .find(&RouteRequest::new("x", "/user/%C3%A9"))
            .unwrap();
        assert_eq!(found.path_args.kwarg("name"), Some("é".as_bytes()));
        assert!(found.path_args.args.is_empty());
    }

    #[test]
    fn reverse_url_across_rule_sets() {
        let mut router = Router::new([
            spec("/user/([^/]+)", "user").named("user"),
            spec("/", "home").named("home"),
            spec("/same", "wildcard").named("same"),
        ]);
        router
            .add_handlers("a", [spec("/a/same", "a").named("same")])
            .unwrap();
        router
            .add_handlers("b", [spec("/b/same", "b").named("same")])
            .unwrap();
        let reverse = |name, args: &[&dyn fmt::Display]| router.reverse_url(name, args);
        assert_eq!(reverse("home", &[]).unwrap(), "/");
        assert_eq!(reverse("user", &[&"a b/c"]).unwrap(), "/user/a%20b/c");
        assert_eq!(reverse("user", &[&7]).unwrap(), "/user/7");
        // Host rule sets first, in the order they were added.
        assert_eq!(reverse("same", &[]).unwrap(), "/a/same");
        assert!(reverse("user", &[]).unwrap_err().is_arg_count());
        let err = reverse("nobody", &[]).unwrap_err();
        assert!(err.is_unknown_name());
        assert_eq!(err.to_string(), "\"nobody\" not found in named urls");
    }

    #[test]
    fn bad_host_pattern_is_an_error() {
        let mut router: Router<&str> = Router::new([]);
        let err = router.add_handlers("(www", [spec("/", "x")]).unwrap_err();
        assert!(err.is_invalid_pattern());
        assert!(
            err.to_string()
                .starts_with("invalid host pattern \"(www$\""),
            "{err}"
        );
        assert_eq!(router.hosts().count(), 0);
    }

    #[test]
    fn debug_does_not_need_a_debug_target() {
        struct Opaque;
        let router = Router::new([UrlSpec::new("/", Opaque).unwrap().named("home")]);
        let text = format!("{router:?}");
        assert!(text.contains("\"/$\"") && text.contains("home"), "{text}");
    }
}
