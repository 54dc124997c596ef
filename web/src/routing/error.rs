//! The one error type of routing: a bad pattern, a URL that cannot be
//! reversed, or an unknown route name. All of them are mistakes in the
//! application's routes, not in a request, so none carries a status.

use std::fmt;

/// Why a pattern could not be compiled or a URL could not be built.
///
/// Tornado raises an `AssertionError`, `ValueError`, `KeyError` or
/// `re.error` for these; here they are one type, told apart by its
/// predicates, and its message names the pattern or route at fault.
///
/// ```
/// use tornado_web::routing::UrlPattern;
///
/// let err = UrlPattern::new("/a/(").unwrap_err();
/// assert!(err.is_invalid_pattern());
/// assert!(err.to_string().contains("\"/a/($\""));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteError {
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// The regex does not compile; `what` is "url" or "host".
    InvalidRegex {
        what: &'static str,
        pattern: String,
        message: String,
    },
    /// Named and positional groups in one pattern, which Tornado refuses.
    MixedGroups { pattern: String },
    /// `reverse` on a pattern `_find_groups` cannot take apart.
    NotReversible {
        pattern: String,
        reason: &'static str,
    },
    /// `reverse` with the wrong number of arguments.
    ArgCount {
        pattern: String,
        expected: usize,
        given: usize,
    },
    /// `reverse_url` with a name no route carries.
    UnknownName { name: String },
}

impl RouteError {
    pub(super) fn invalid_regex(what: &'static str, pattern: &str, err: &regex::Error) -> Self {
        Self::new(Kind::InvalidRegex {
            what,
            pattern: pattern.to_owned(),
            message: err.to_string(),
        })
    }

    pub(super) fn mixed_groups(pattern: &str) -> Self {
        Self::new(Kind::MixedGroups {
            pattern: pattern.to_owned(),
        })
    }

    pub(super) fn not_reversible(pattern: &str, reason: &'static str) -> Self {
        Self::new(Kind::NotReversible {
            pattern: pattern.to_owned(),
            reason,
        })
    }

    pub(super) fn arg_count(pattern: &str, expected: usize, given: usize) -> Self {
        Self::new(Kind::ArgCount {
            pattern: pattern.to_owned(),
            expected,
            given,
        })
    }

    pub(super) fn unknown_name(name: &str) -> Self {
        Self::new(Kind::UnknownName {
            name: name.to_owned(),
        })
    }

    fn new(kind: Kind) -> Self {
        RouteError { kind }
    }

    /// Whether a URL or host pattern was refused: a regex that does not
    /// compile, or one that mixes named and positional groups.
    ///
    /// ```
    /// use tornado_web::routing::UrlPattern;
    ///
    /// assert!(UrlPattern::new("/(?P<id>\\d+)/(\\w+)").unwrap_err().is_invalid_pattern());
    /// ```
    pub fn is_invalid_pattern(&self) -> bool {
        matches!(
            self.kind,
            Kind::InvalidRegex { .. } | Kind::MixedGroups { .. }
        )
    }

    /// Whether a URL was asked of a pattern that cannot be reversed (see
    /// [`UrlPattern::reverse`](super::UrlPattern::reverse)).
    ///
    /// ```
    /// use tornado_web::routing::UrlPattern;
    ///
    /// let pattern = UrlPattern::new("/(a(b))").unwrap();
    /// assert!(pattern.reverse(&[&"x", &"y"]).unwrap_err().is_not_reversible());
    /// ```
    pub fn is_not_reversible(&self) -> bool {
        matches!(self.kind, Kind::NotReversible { .. })
    }

    /// Whether `reverse` was given more or fewer arguments than the pattern
    /// has groups.
    ///
    /// ```
    /// use tornado_web::routing::UrlPattern;
    ///
    /// let pattern = UrlPattern::new("/user/(\\d+)").unwrap();
    /// assert!(pattern.reverse(&[]).unwrap_err().is_arg_count());
    /// ```
    pub fn is_arg_count(&self) -> bool {
        matches!(self.kind, Kind::ArgCount { .. })
    }

    /// Whether `reverse_url` was asked for a name no route carries.
    ///
    /// ```
    /// use tornado_web::routing::Router;
    ///
    /// let router: Router<()> = Router::new([]);
    /// assert!(router.reverse_url("home", &[]).unwrap_err().is_unknown_name());
    /// ```
    pub fn is_unknown_name(&self) -> bool {
        matches!(self.kind, Kind::UnknownName { .. })
    }
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::InvalidRegex {
                what,
                pattern,
                message,
            } => write!(f, "invalid {what} pattern {pattern:?}: {message}"),
            Kind::MixedGroups { pattern } => write!(
                f,
                "groups in url pattern {pattern:?} must either be all named or all positional"
            ),
            Kind::NotReversible { pattern, reason } => {
                write!(f, "cannot reverse url pattern {pattern:?}: {reason}")
            }
            Kind::ArgCount {
                pattern,
                expected,
                given,
            } => {
                let s = if *expected == 1 { "" } else { "s" };
                write!(
                    f,
                    "url pattern {pattern:?} takes {expected} argument{s}, {given} given"
                )
            }
            Kind::UnknownName { name } => write!(f, "{name:?} not found in named urls"),
        }
    }
}

impl std::error::Error for RouteError {}
