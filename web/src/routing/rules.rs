//! Routes and ordered lists of them: Tornado's `URLSpec` and the
//! first-match rule list of its `_ApplicationRouter`.

use std::collections::HashMap;
use std::fmt;

use super::error::RouteError;
use super::pattern::{PathArgs, UrlPattern};

/// A route: a URL pattern, the target it leads to, and an optional name for
/// [`reverse_url`](super::Router::reverse_url) (Tornado's `URLSpec`).
///
/// ```
/// use tornado_web::routing::UrlSpec;
///
/// let spec = UrlSpec::new("/story/([0-9]+)", "story").unwrap().named("story");
/// assert_eq!(spec.name(), Some("story"));
/// assert_eq!(spec.reverse(&[&12]).unwrap(), "/story/12");
/// ```
#[derive(Clone)]
pub struct UrlSpec<T> {
    pattern: UrlPattern,
    target: T,
    name: Option<String>,
}

impl<T> UrlSpec<T> {
    /// A route from `pattern` to `target`; fails when the pattern is
    /// refused (see [`UrlPattern::new`]).
    ///
    /// ```
    /// use tornado_web::routing::UrlSpec;
    ///
    /// assert!(UrlSpec::new("/", ()).is_ok());
    /// assert!(UrlSpec::new("/(", ()).unwrap_err().is_invalid_pattern());
    /// ```
    pub fn new(pattern: &str, target: T) -> Result<Self, RouteError> {
        Ok(Self::from_pattern(UrlPattern::new(pattern)?, target))
    }

    /// A route from an already compiled pattern.
    ///
    /// ```
    /// use tornado_web::routing::{UrlPattern, UrlSpec};
    ///
    /// let pattern = UrlPattern::new("/about").unwrap();
    /// let spec = UrlSpec::from_pattern(pattern, "about");
    /// assert_eq!(spec.pattern().as_str(), "/about$");
    /// ```
    pub fn from_pattern(pattern: UrlPattern, target: T) -> Self {
        UrlSpec {
            pattern,
            target,
            name: None,
        }
    }

    /// Gives the route a name, for [`reverse_url`](super::Router::reverse_url).
    ///
    /// ```
    /// use tornado_web::routing::UrlSpec;
    ///
    /// let spec = UrlSpec::new("/", ()).unwrap().named("home");
    /// assert_eq!(spec.name(), Some("home"));
    /// ```
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The route's pattern.
    ///
    /// ```
    /// use tornado_web::routing::UrlSpec;
    ///
    /// let spec = UrlSpec::new("/a/(\\d+)", ()).unwrap();
    /// assert_eq!(spec.pattern().group_count(), 1);
    /// ```
    pub fn pattern(&self) -> &UrlPattern {
        &self.pattern
    }

    /// The route's target.
    ///
    /// ```
    /// use tornado_web::routing::UrlSpec;
    ///
    /// assert_eq!(*UrlSpec::new("/", 7).unwrap().target(), 7);
    /// ```
    pub fn target(&self) -> &T {
        &self.target
    }

    /// The route's name, if it has one.
    ///
    /// ```
    /// use tornado_web::routing::UrlSpec;
    ///
    /// assert_eq!(UrlSpec::new("/", ()).unwrap().name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Builds the path this route matches with `args` in its groups; see
    /// [`UrlPattern::reverse`].
    ///
    /// ```
    /// use tornado_web::routing::UrlSpec;
    ///
    /// let spec = UrlSpec::new("/user/([^/]+)", ()).unwrap();
    /// assert_eq!(spec.reverse(&[&"a b"]).unwrap(), "/user/a%20b");
    /// ```
    pub fn reverse(&self, args: &[&dyn fmt::Display]) -> Result<String, RouteError> {
        self.pattern.reverse(args)
    }
}

impl<T> fmt::Debug for UrlSpec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UrlSpec")
            .field("pattern", &self.pattern.as_str())
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A route that matched, with what its groups captured.
///
/// ```
/// use tornado_web::routing::{RuleSet, UrlSpec};
///
/// let rules: RuleSet<_> = [UrlSpec::new("/(\\d+)", "page").unwrap().named("page")].into_iter().collect();
/// let found = rules.find("/3").unwrap();
/// assert_eq!(*found.target(), "page");
/// assert_eq!(found.spec.name(), Some("page"));
/// assert_eq!(found.path_args.arg(0), Some(&b"3"[..]));
/// ```
pub struct RouteMatch<'r, T> {
    /// The route that matched.
    pub spec: &'r UrlSpec<T>,
    /// Its groups' values (Tornado's `path_args` and `path_kwargs`).
    pub path_args: PathArgs,
}

impl<'r, T> RouteMatch<'r, T> {
    /// The matched route's target.
    ///
    /// ```
    /// use tornado_web::routing::{RuleSet, UrlSpec};
    ///
    /// let rules: RuleSet<_> = [UrlSpec::new("/", 1).unwrap()].into_iter().collect();
    /// assert_eq!(*rules.find("/").unwrap().target(), 1);
    /// ```
    pub fn target(&self) -> &'r T {
        &self.spec.target
    }
}

impl<T> fmt::Debug for RouteMatch<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteMatch")
            .field("spec", self.spec)
            .field("path_args", &self.path_args)
            .finish()
    }
}

/// An ordered list of routes, where the first match wins (Tornado's
/// `_ApplicationRouter` over `URLSpec`s).
///
/// A name given to several routes names the last of them, as in Tornado,
/// which logs a warning.
///
/// ```
/// use tornado_web::routing::{RuleSet, UrlSpec};
///
/// let mut rules = RuleSet::new();
/// rules.add(UrlSpec::new("/a/new", "new").unwrap());
/// rules.add(UrlSpec::new("/a/([^/]+)", "show").unwrap().named("show"));
/// assert_eq!(*rules.find("/a/new").unwrap().target(), "new");
/// assert_eq!(*rules.find("/a/old").unwrap().target(), "show");
/// assert_eq!(rules.reverse_url("show", &[&"x"]).unwrap(), "/a/x");
/// ```
#[derive(Clone)]
pub struct RuleSet<T> {
    specs: Vec<UrlSpec<T>>,
    /// A name's route, as an index into `specs`.
    names: HashMap<String, usize>,
}

impl<T> RuleSet<T> {
    /// An empty rule set.
    ///
    /// ```
    /// use tornado_web::routing::RuleSet;
    ///
    /// let rules: RuleSet<()> = RuleSet::new();
    /// assert!(rules.is_empty());
    /// ```
    pub fn new() -> Self {
        RuleSet {
            specs: Vec::new(),
            names: HashMap::new(),
        }
    }

    /// Appends a route, after those already there.
    ///
    /// ```
    /// use tornado_web::routing::{RuleSet, UrlSpec};
    ///
    /// let mut rules = RuleSet::new();
    /// rules.add(UrlSpec::new("/", ()).unwrap());
    /// assert_eq!(rules.len(), 1);
    /// ```
    pub fn add(&mut self, spec: UrlSpec<T>) {
        if let Some(name) = &spec.name
            && self.names.insert(name.clone(), self.specs.len()).is_some()
        {
            log::warn!("Multiple handlers named {name}; replacing previous value");
        }
        self.specs.push(spec);
    }

    /// How many routes there are.
    ///
    /// ```
    /// use tornado_web::routing::{RuleSet, UrlSpec};
    ///
    /// let rules: RuleSet<_> = [UrlSpec::new("/", ()).unwrap()].into_iter().collect();
    /// assert_eq!(rules.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.specs.len()
    }

    /// Whether there are no routes.
    ///
    /// ```
    /// use tornado_web::routing::RuleSet;
    ///
    /// assert!(RuleSet::<()>::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    /// The routes, in order.
    ///
    /// ```
    /// use tornado_web::routing::{RuleSet, UrlSpec};
    ///
    /// let rules: RuleSet<_> = [UrlSpec::new("/a", 1).unwrap(), UrlSpec::new("/b", 2).unwrap()]
    ///     .into_iter()
    ///     .collect();
    /// let targets: Vec<i32> = rules.iter().map(|spec| *spec.target()).collect();
    /// assert_eq!(targets, [1, 2]);
    /// ```
    pub fn iter(&self) -> std::slice::Iter<'_, UrlSpec<T>> {
        self.specs.iter()
    }

    /// The first route whose pattern matches `path` (the request path,
    /// before any `?`, still percent-encoded), with its groups' values.
    ///
    /// ```
    /// use tornado_web::routing::{RuleSet, UrlSpec};
    ///
    /// let rules: RuleSet<_> = [UrlSpec::new("/a/(.*)", "a").unwrap()].into_iter().collect();
    /// assert_eq!(rules.find("/a/x%20y").unwrap().path_args.arg(0), Some(&b"x y"[..]));
    /// assert!(rules.find("/b").is_none());
    /// ```
    pub fn find(&self, path: &str) -> Option<RouteMatch<'_, T>> {
        self.specs.iter().find_map(|spec| {
            let path_args = spec.pattern.match_path(path)?;
            Some(RouteMatch { spec, path_args })
        })
    }

    /// The route named `name`, if there is one.
    ///
    /// ```
    /// use tornado_web::routing::{RuleSet, UrlSpec};
    ///
    /// let rules: RuleSet<_> = [UrlSpec::new("/", 1).unwrap().named("home")].into_iter().collect();
    /// assert_eq!(rules.get_named("home").map(|spec| *spec.target()), Some(1));
    /// assert!(rules.get_named("away").is_none());
    /// ```
    pub fn get_named(&self, name: &str) -> Option<&UrlSpec<T>> {
        self.names.get(name).map(|&i| &self.specs[i])
    }

    /// Builds the path of the route named `name` with `args` in its groups
    /// (see [`UrlPattern::reverse`]); fails with
    /// [`is_unknown_name`](RouteError::is_unknown_name) when no route has
    /// that name.
    ///
    /// ```
    /// use tornado_web::routing::{RuleSet, UrlSpec};
    ///
    /// let rules: RuleSet<_> = [UrlSpec::new("/p/(\\d+)", ()).unwrap().named("p")].into_iter().collect();
    /// assert_eq!(rules.reverse_url("p", &[&5]).unwrap(), "/p/5");
    /// assert!(rules.reverse_url("q", &[]).unwrap_err().is_unknown_name());
    /// ```
    pub fn reverse_url(
        &self,
        name: &str,
        args: &[&dyn fmt::Display],
    ) -> Result<String, RouteError> {
        match self.get_named(name) {
            Some(spec) => spec.reverse(args),
            None => Err(RouteError::unknown_name(name)),
        }
    }
}

impl<T> Default for RuleSet<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> FromIterator<UrlSpec<T>> for RuleSet<T> {
    fn from_iter<I: IntoIterator<Item = UrlSpec<T>>>(specs: I) -> Self {
        let mut rules = RuleSet::new();
        rules.extend(specs);
        rules
    }
}

impl<T> Extend<UrlSpec<T>> for RuleSet<T> {
    fn extend<I: IntoIterator<Item = UrlSpec<T>>>(&mut self, specs: I) {
        for spec in specs {
            self.add(spec);
        }
    }
}

impl<'a, T> IntoIterator for &'a RuleSet<T> {
    type Item = &'a UrlSpec<T>;
    type IntoIter = std::slice::Iter<'a, UrlSpec<T>>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T> fmt::Debug for RuleSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.specs).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(pattern: &str, target: &'static str) -> UrlSpec<&'static str> {
        UrlSpec::new(pattern, target).unwrap()
    }

    #[test]
    fn first_match_wins() {
        let rules: RuleSet<_> = [
            spec("/a/new", "new"),
            spec("/a/([^/]+)", "show"),
            spec("/a/(.*)", "rest"),
            spec("/a/new", "never"),
        ]
        .into_iter()
        .collect();
        let rows = [
            ("/a/new", Some("new")),
            ("/a/x", Some("show")),
            ("/a/x/y", Some("rest")),
            ("/a", None),
        ];
        for (path, expected) in rows {
            assert_eq!(rules.find(path).map(|m| *m.target()), expected, "{path}");
        }
    }

    #[test]
    fn duplicate_names_take_the_last_route() {
        let rules: RuleSet<_> = [
            spec("/first", "first").named("x"),
            spec("/second", "second").named("x"),
        ]
        .into_iter()
        .collect();
        assert_eq!(rules.reverse_url("x", &[]).unwrap(), "/second");
        assert_eq!(rules.len(), 2);
        // Both still route.
        assert!(rules.find("/first").is_some());
    }
}
