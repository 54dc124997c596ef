//! A URL pattern as Tornado's `PathMatches` holds it, and the path
//! arguments it captures. The anchoring is explained on [`UrlPattern`].

use std::fmt;
use std::str::FromStr;

use regex::Regex;
use tornado_httpserver::httputil::url_unescape;

use super::error::RouteError;

/// The values a matched pattern passes to its handler: Tornado's
/// `path_args` and `path_kwargs`.
///
/// As in Tornado, a pattern with named groups fills only
/// [`kwargs`](Self::kwargs), one without fills only [`args`](Self::args).
/// Each value is percent-decoded (`%20` is a space, `+` stays a `+`) and
/// kept as bytes, as Tornado passes them, so that the handler chooses how
/// to decode them; a group that took no part in the match is `None`.
///
/// ```
/// use tornado_web::routing::UrlPattern;
///
/// let pattern = UrlPattern::new("/(?P<user>[^/]+)/(?P<page>\\d+)?").unwrap();
/// let args = pattern.match_path("/a%20b+c/").unwrap();
/// assert!(args.args.is_empty());
/// assert_eq!(args.kwarg("user"), Some(&b"a b+c"[..]));
/// assert_eq!(args.kwarg("page"), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathArgs {
    /// The positional groups' values, in order; empty when the pattern has
    /// named groups.
    pub args: Vec<Option<Vec<u8>>>,
    /// The named groups' values, in the pattern's order.
    pub kwargs: Vec<(String, Option<Vec<u8>>)>,
}

impl PathArgs {
    /// The value of positional group `index` (from 0), or `None` when there
    /// is no such group or it did not take part in the match.
    ///
    /// ```
    /// use tornado_web::routing::UrlPattern;
    ///
    /// let args = UrlPattern::new("/(\\d+)(\\.json)?").unwrap().match_path("/7").unwrap();
    /// assert_eq!(args.arg(0), Some(&b"7"[..]));
    /// assert_eq!(args.arg(1), None);
    /// assert_eq!(args.args.len(), 2);
    /// ```
    pub fn arg(&self, index: usize) -> Option<&[u8]> {
        self.args.get(index)?.as_deref()
    }

    /// The value of the group named `name`, or `None` when there is no such
    /// group or it did not take part in the match.
    ///
    /// ```
    /// use tornado_web::routing::UrlPattern;
    ///
    /// let args = UrlPattern::new("/(?P<id>\\d+)").unwrap().match_path("/7").unwrap();
    /// assert_eq!(args.kwarg("id"), Some(&b"7"[..]));
    /// assert_eq!(args.kwarg("name"), None);
    /// ```
    pub fn kwarg(&self, name: &str) -> Option<&[u8]> {
        self.kwargs
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// Whether the pattern had no groups at all.
    ///
    /// ```
    /// use tornado_web::routing::UrlPattern;
    ///
    /// assert!(UrlPattern::new("/").unwrap().match_path("/").unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.args.is_empty() && self.kwargs.is_empty()
    }
}

/// A compiled URL pattern: Tornado's `PathMatches` (the matcher of a
/// `URLSpec`).
///
/// It matches a whole request path (the part of the URI before `?`, still
/// percent-encoded). Tornado appends `$` to a pattern that does not end
/// with one and matches with `re.match`, which anchors at the start only;
/// the same is done here by compiling `^(?:pattern$)`, so a top-level
/// alternation keeps Tornado's meaning (`/a|/b` matches every path that
/// starts with `/a`). Its groups must be all positional or all named, as
/// Tornado requires.
///
/// Patterns are in the syntax of the `regex` crate: Python's without
/// look-around and backreferences; `(?P<name>…)` works in both.
///
/// ```
/// use tornado_web::routing::UrlPattern;
///
/// let pattern = UrlPattern::new("/a/(.*)").unwrap();
/// assert_eq!(pattern.as_str(), "/a/(.*)$");
/// assert_eq!(pattern.match_path("/a/x%20y").unwrap().arg(0), Some(&b"x y"[..]));
/// assert!(pattern.match_path("/b/a/x").is_none());
/// assert!(!UrlPattern::new("/a").unwrap().is_match("/ab"));
/// ```
#[derive(Clone)]
pub struct UrlPattern {
    /// The pattern as Tornado keeps it: as given, with `$` appended.
    pattern: String,
    matcher: Matcher,
    groups: usize,
    /// The group names, in order, when the groups are named; empty when
    /// they are positional.
    names: Vec<String>,
    reverse: Result<Vec<Piece>, &'static str>,
}

#[derive(Clone)]
enum Matcher {
    /// A pattern without any regex syntax: matching is comparing, which
    /// spares the most common routes (`/`, `/json`) a regex run.
    Literal(String),
    Regex(Regex),
}

/// A piece of a reversed URL.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Group,
}

impl UrlPattern {
    /// Compiles `pattern`, appending `$` unless it ends with one.
    ///
    /// Fails with [`is_invalid_pattern`](RouteError::is_invalid_pattern)
    /// when the regex does not compile or mixes named and positional
    /// groups; the message names the pattern.
    ///
    /// ```
    /// use tornado_web::routing::UrlPattern;
    ///
    /// assert!(UrlPattern::new("/user/(\\d+)").is_ok());
    /// let err = UrlPattern::new("/user/(\\d+").unwrap_err();
    /// assert!(err.to_string().starts_with("invalid url pattern \"/user/(\\\\d+$\""));
    /// ```
    pub fn new(pattern: &str) -> Result<Self, RouteError> {
        let (pattern, checked, anchored) = compile_anchored("url", pattern)?;
        let groups = checked.captures_len() - 1;
        let names: Vec<String> = checked
            .capture_names()
            .flatten()
            .map(String::from)
            .collect();
        if !names.is_empty() && names.len() != groups {
            return Err(RouteError::mixed_groups(&pattern));
        }
        let matcher = match literal(&pattern) {
            Some(literal) => Matcher::Literal(literal.to_owned()),
            None => Matcher::Regex(anchored),
        };
        let reverse = find_groups(&pattern, groups);
        Ok(UrlPattern {
            pattern,
            matcher,
            groups,
            names,
            reverse,
        })
    }

    /// The pattern as matched, with the `$` Tornado appends.
    ///
    /// ```
    /// use tornado_web::routing::UrlPattern;
    ///
    /// assert_eq!(UrlPattern::new("/a").unwrap().as_str(), "/a$");
    /// assert_eq!(UrlPattern::new("^/a$").unwrap().as_str(), "^/a$");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// How many capturing groups the pattern has.
    ///
    /// ```
    /// use tornado_web::routing::UrlPattern;
    ///
    /// assert_eq!(UrlPattern::new("/(\\d{4})/(\\d{2})/").unwrap().group_count(), 2);
    /// ```
    pub fn group_count(&self) -> usize {
        self.groups
    }

    /// Whether the groups are named (and the values go to
    /// [`PathArgs::kwargs`]).
    ///
    /// ```
    /// use tornado_web::routing::UrlPattern;
    ///
    /// assert!(UrlPattern::new("/(?P<id>\\d+)").unwrap().has_named_groups());
    /// assert!(!UrlPattern::new("/(\\d+)").unwrap().has_named_groups());
    /// ```
    pub fn has_named_groups(&self) -> bool {
        !self.names.is_empty()
    }

    /// Whether `path` matches, without collecting the groups.
    ///
    /// ```
    /// use tornado_web::routing::UrlPattern;
    ///
    /// let pattern = UrlPattern::new("/a").unwrap();
    /// assert!(pattern.is_match("/a"));
    /// assert!(!pattern.is_match("/ab"));
    /// assert!(!pattern.is_match("/x/a"));
    /// ```
    pub fn is_match(&self, path: &str) -> bool {
        match &self.matcher {
            Matcher::Literal(literal) => literal == path,
            Matcher::Regex(regex) => regex.is_match(path),
        }
    }

    /// Matches `path` and collects its groups (Tornado's
    /// `PathMatches.match`); `None` when it does not match.
    ///
    /// ```
    /// use tornado_web::routing::UrlPattern;
    ///
    /// let pattern = UrlPattern::new("/(\\d{4})/([a-z-]+)/").unwrap();
    /// let args = pattern.match_path("/2024/hello-world/").unwrap();
    /// assert_eq!(args.args, [Some(b"2024".to_vec()), Some(b"hello-world".to_vec())]);
    /// assert!(pattern.match_path("/2024/hello-world").is_none());
    /// ```
    pub fn match_path(&self, path: &str) -> Option<PathArgs> {
        let regex = match &self.matcher {
            Matcher::Literal(literal) => return (literal == path).then(PathArgs::default),
            Matcher::Regex(regex) if self.groups == 0 => {
                return regex.is_match(path).then(PathArgs::default);
            }
            Matcher::Regex(regex) => regex,
        };
        let captures = regex.captures(path)?;
        let value = |i: usize| captures.get(i).map(|m| unquote(m.as_str()));
        let mut found = PathArgs::default();
        if self.names.is_empty() {
            found.args = (1..=self.groups).map(value).collect();
        } else {
            found.kwargs = self
                .names
                .iter()
                .map(|name| {
                    (
                        name.clone(),
                        captures.name(name).map(|m| unquote(m.as_str())),
                    )
                })
                .collect();
        }
        Some(found)
    }

    /// Whether [`reverse`](Self::reverse) can build URLs from this pattern.
    ///
    /// ```
    /// use tornado_web::routing::UrlPattern;
    ///
    /// assert!(UrlPattern::new("/user/(\\d+)").unwrap().is_reversible());
    /// assert!(!UrlPattern::new("/user/\\d+").unwrap().is_reversible());
    /// ```
    pub fn is_reversible(&self) -> bool {
        self.reverse.is_ok()
    }

    /// Builds the path this pattern matches with `args` in its groups
    /// (Tornado's `reverse`).
    ///
    /// Each argument is formatted with `Display`, then URL-escaped as
    /// Tornado's `url_escape(…, plus=False)` escapes it: letters, digits,
    /// `_.-~` and `/` stay, every other byte becomes `%XX` (so a space is
    /// `%20`). The text between the groups is the pattern's own, with
    /// `\` escapes removed.
    ///
    /// As in Tornado, only simple patterns can be reversed: without `^`
    /// and `$`, the rest must have one `(` per group, no nested or escaped
    /// parentheses, and no escape such as `\d` outside the groups. Fails
    /// with [`is_not_reversible`](RouteError::is_not_reversible) otherwise,
    /// and with [`is_arg_count`](RouteError::is_arg_count) when there are
    /// not as many arguments as groups.
    ///
    /// ```
    /// use tornado_web::routing::UrlPattern;
    ///
    /// let pattern = UrlPattern::new("/user/([^/]+)/(\\d+)\\.json").unwrap();
    /// assert_eq!(pattern.reverse(&[&"a b", &42]).unwrap(), "/user/a%20b/42.json");
    /// assert!(pattern.reverse(&[&"a b"]).unwrap_err().is_arg_count());
    /// ```
    pub fn reverse(&self, args: &[&dyn fmt::Display]) -> Result<String, RouteError> {
        let pieces = self
            .reverse
            .as_ref()
            .map_err(|reason| RouteError::not_reversible(&self.pattern, reason))?;
        if args.len() != self.groups {
            return Err(RouteError::arg_count(
                &self.pattern,
                self.groups,
                args.len(),
            ));
        }
        let mut out = String::new();
        let mut args = args.iter();
        for piece in pieces {
            match piece {
                Piece::Literal(text) => out.push_str(text),
                Piece::Group => {
                    if let Some(arg) = args.next() {
                        url_escape_path(&mut out, arg.to_string().as_bytes());
                    }
                }
            }
        }
        Ok(out)
    }
}

impl fmt::Debug for UrlPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UrlPattern").field(&self.pattern).finish()
    }
}

impl fmt::Display for UrlPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pattern)
    }
}

impl FromStr for UrlPattern {
    type Err = RouteError;

    /// The same as [`UrlPattern::new`].
    ///
    /// ```
    /// use tornado_web::routing::UrlPattern;
    ///
    /// let pattern: UrlPattern = "/about".parse().unwrap();
    /// assert!(pattern.is_match("/about"));
    /// ```
    fn from_str(pattern: &str) -> Result<Self, RouteError> {
        UrlPattern::new(pattern)
    }
}

/// Appends `$` to `pattern` unless it ends with one, as Tornado does, and
/// compiles it twice: as it is, to check it and learn its groups, and
/// wrapped as `^(?:…)` for matching from the start. Checking the bare
/// pattern first matters: wrapping could make a broken pattern such as
/// `a)(b` compile.
pub(super) fn compile_anchored(
    what: &'static str,
    pattern: &str,
) -> Result<(String, Regex, Regex), RouteError> {
    let mut pattern = pattern.to_owned();
    if !pattern.ends_with('$') {
        pattern.push('$');
    }
    let checked =
        Regex::new(&pattern).map_err(|e| RouteError::invalid_regex(what, &pattern, &e))?;
    let anchored = Regex::new(&format!("^(?:{pattern})"))
        .map_err(|e| RouteError::invalid_regex(what, &pattern, &e))?;
    Ok((pattern, checked, anchored))
}

/// The text a pattern matches when it is plain text between an optional
/// `^` and its final `$`.
fn literal(pattern: &str) -> Option<&str> {
    let body = pattern.strip_prefix('^').unwrap_or(pattern);
    let body = body.strip_suffix('$')?;
    // Outside a class (which needs `[`) and verbose mode (which needs
    // `(?x)`), these are all the characters with a meaning.
    (!body.contains(|c: char| "\\.+*?()|[]{}^$".contains(c))).then_some(body)
}

/// Tornado's `_find_groups`: the pattern as literal pieces and group
/// slots, or why it cannot be reversed.
///
/// Tornado splits the pattern at each `(` and takes the text after the
/// first `)` of each piece as literal. Pieces with more or fewer `)` than
/// that are refused here, where Tornado would build a wrong URL: they mean
/// nested or escaped parentheses.
fn find_groups(pattern: &str, groups: usize) -> Result<Vec<Piece>, &'static str> {
    let body = pattern.strip_prefix('^').unwrap_or(pattern);
    let body = body.strip_suffix('$').unwrap_or(body);
    if body.matches('(').count() != groups {
        return Err("it has a `(` that is not a capturing group");
    }
    const NESTED: &str = "it has a `)` that does not close a group (nested or escaped parentheses)";
    let mut pieces = Vec::new();
    for (i, fragment) in body.split('(').enumerate() {
        let literal = if i == 0 {
            if fragment.contains(')') {
                return Err(NESTED);
            }
            fragment
        } else {
            let (_, rest) = fragment.split_once(')').ok_or(NESTED)?;
            if rest.contains(')') {
                return Err(NESTED);
            }
            pieces.push(Piece::Group);
            rest
        };
        let literal = re_unescape(literal).ok_or(
            "it has an escape such as `\\d` outside a group, which matches more than one text",
        )?;
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
    }
    Ok(pieces)
}

/// Tornado's `re_unescape`: `\x` becomes `x` for any `x` but a letter or a
/// digit, which have a meaning (`\d`, `\1`) and make it fail.
fn re_unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(c) if c.is_ascii_alphanumeric() => return None,
            Some(c) => out.push(c),
            None => out.push('\\'),
        }
    }
    Some(out)
}

/// Tornado's `_unquote_or_none` for a group that matched:
/// `url_unescape(s, encoding=None, plus=False)`, which decodes `%XX` but
/// leaves `+` alone.
fn unquote(s: &str) -> Vec<u8> {
    url_unescape(s.as_bytes(), false)
}

/// Appends `input` escaped as Tornado's `url_escape(…, plus=False)`
/// (Python's `urllib.parse.quote`): letters, digits, `_.-~` and `/` as
/// they are, every other byte as `%XX`.
fn url_escape_path(out: &mut String, input: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in input {
        if b.is_ascii_alphanumeric() || b"_.-~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(p: &str) -> UrlPattern {
        UrlPattern::new(p).unwrap()
    }

    fn args(p: &str, path: &str) -> Option<Vec<Option<String>>> {
        let found = pattern(p).match_path(path)?;
        assert!(found.kwargs.is_empty(), "{p}: kwargs {:?}", found.kwargs);
        Some(
            found
                .args
                .into_iter()
                .map(|v| v.map(|v| String::from_utf8(v).unwrap()))
                .collect(),
        )
    }

    #[test]
    fn anchoring() {
        // (pattern, path, matches)
        let rows: &[(&str, &str, bool)] = &[
            ("/a", "/a", true),
            ("/a", "/ab", false),
            ("/a", "/a/", false),
            ("/a", "x/a", false),
            ("/a", "", false),
            ("/a$", "/a", true),
            ("^/a", "/a", true),
            ("^/a$", "/ab", false),
            ("/", "/", true),
            ("/", "//", false),
            ("/a.c", "/abc", true),
            ("/a.c", "/a.c", true),
            ("/items/?", "/items", true),
            ("/items/?", "/items/", true),
            ("/items/?", "/items//", false),
            ("/a/(.*)", "/a/", true),
            ("/a/(.*)", "/b/a/x", false),
            ("(?i)/About", "/about", true),
            // Tornado appends `$` to the whole pattern, so it binds to the
            // last alternative only, and `re.match` anchors the start.
            ("/a|/b", "/abc", true),
            ("/a|/b", "/bc", false),
            ("/a|/b", "/b", true),
            ("/a|/b", "/x/a", false),
        ];
        for &(p, path, expected) in rows {
            let compiled = pattern(p);
            assert_eq!(compiled.is_match(path), expected, "{p:?} on {path:?}");
            assert_eq!(
                compiled.match_path(path).is_some(),
                expected,
                "{p:?} on {path:?}"
            );
        }
    }

    #[test]
    fn literal_fast_path_only_for_plain_text() {
        let rows: &[(&str, Option<&str>)] = &[
            ("/$", Some("/")),
            ("^/json$", Some("/json")),
            ("/hello-world_~ &#$", Some("/hello-world_~ &#")),
            ("/a.b$", None),
            ("/a\\-b$", None),
            ("/a{2}$", None),
            ("/a$b$", None),
            ("/(a)$", None),
            ("/a/", None), // no `$`: never the case after compiling
        ];
        for &(p, expected) in rows {
            assert_eq!(literal(p), expected, "{p:?}");
        }
        assert!(matches!(pattern("/json").matcher, Matcher::Literal(_)));
        assert!(matches!(pattern("/j.on").matcher, Matcher::Regex(_)));
    }

    #[test]
    fn positional_groups() {
        assert_eq!(args("/a/(.*)", "/a/x%20y"), Some(vec![Some("x y".into())]));
        assert_eq!(
            args("/(\\d+)/([a-z]+)", "/12/ab"),
            Some(vec![Some("12".into()), Some("ab".into())])
        );
        assert_eq!(args("/", "/"), Some(vec![]));
        assert_eq!(args("/(\\d+)", "/x"), None);
    }

    #[test]
    fn optional_groups_are_none() {
        assert_eq!(
            args("/a(/b)?(/c)?", "/a/c"),
            Some(vec![None, Some("/c".into())])
        );
        assert_eq!(args("/a(/b)?", "/a"), Some(vec![None]));
        // An empty match is a value, not None.
        assert_eq!(args("/a/(.*)", "/a/"), Some(vec![Some(String::new())]));
        let found = pattern("/(?P<x>a)?(?P<y>b)?").match_path("/b").unwrap();
        assert_eq!(
            found.kwargs,
            [
                ("x".to_owned(), None),
                ("y".to_owned(), Some(b"b".to_vec()))
            ]
        );
    }

    #[test]
    fn named_groups_give_only_kwargs() {
        let p = pattern("/(?P<year>\\d{4})/(?<slug>[^/]+)");
        assert!(p.has_named_groups());
        let found = p.match_path("/2024/a%2Fb").unwrap();
        assert!(found.args.is_empty());
        assert_eq!(
            found.kwargs,
            [
                ("year".to_owned(), Some(b"2024".to_vec())),
                ("slug".to_owned(), Some(b"a/b".to_vec())),
            ]
        );
        assert_eq!(found.kwarg("slug"), Some(&b"a/b"[..]));
    }

    #[test]
    fn non_capturing_groups_are_not_args() {
        assert_eq!(
            args("/(?:a|b)/(\\d+)", "/b/3"),
            Some(vec![Some("3".into())])
        );
    }

    #[test]
    fn mixed_groups_are_refused() {
        for p in ["/(?P<a>x)/(y)", "/(x)/(?<b>y)"] {
            let err = UrlPattern::new(p).unwrap_err();
            assert!(err.is_invalid_pattern(), "{p}");
            assert!(
                err.to_string().contains("all named or all positional"),
                "{err}"
            );
            assert!(
                err.to_string().contains(&format!("{:?}", format!("{p}$"))),
                "{err}"
            );
        }
    }

    #[test]
    fn unescaping() {
        // (group text, value) with "/(.*)"; `+` is not a space in a path.
        let rows: &[(&str, &[u8])] = &[
            ("a+b", b"a+b"),
            ("a%2Bb", b"a+b"),
            ("a%20b", b"a b"),
            ("a%2fb", b"a/b"),
            ("%C3%A9", "é".as_bytes()),
            ("%", b"%"),
            ("%4", b"%4"),
            ("%zz", b"%zz"),
            ("%+20", b"%+20"),
            ("+%41+", b"+A+"),
            ("%FF", b"\xff"),
            ("é", "é".as_bytes()),
        ];
        let p = pattern("/(.*)");
        for &(text, value) in rows {
            let found = p.match_path(&format!("/{text}")).unwrap();
            assert_eq!(found.arg(0), Some(value), "{text:?}");
        }
    }

    #[test]
    fn bad_patterns_are_errors() {
        for p in [
            "/(",
            "/a)",
            "/[",
            "/(?P<x>a)(?P<x>b)",
            "/(?=a)",
            "/\\Z",
            "a)(b",
        ] {
            let err = UrlPattern::new(p).unwrap_err();
            assert!(err.is_invalid_pattern(), "{p}");
            assert!(
                err.to_string()
                    .starts_with(&format!("invalid url pattern {:?}", format!("{p}$"))),
                "{err}"
            );
        }
    }

    #[test]
    fn reverse_rows() {
        // (pattern, args, url)
        let rows: &[(&str, &[&str], &str)] = &[
            ("/", &[], "/"),
            ("/about", &[], "/about"),
            ("^/about$", &[], "/about"),
            ("/user/([^/]+)", &["bob"], "/user/bob"),
            // Tornado's url_escape(plus=False) keeps `/`.
            ("/user/([^/]+)", &["a b/c"], "/user/a%20b/c"),
            (
                "/user/([^/]+)",
                &["a+b&c?d#e%f"],
                "/user/a%2Bb%26c%3Fd%23e%25f",
            ),
            ("/user/([^/]+)", &["é~_.-"], "/user/%C3%A9~_.-"),
            ("/(\\d{4})/(\\d{2})/", &["2024", "05"], "/2024/05/"),
            ("/a/(\\d+)\\.json", &["7"], "/a/7.json"),
            ("/(?P<x>\\d+)/(?P<y>.*)", &["1", "2"], "/1/2"),
            ("/a%20b/(.*)", &["c"], "/a%20b/c"),
            // Tornado keeps the pattern's unescaped syntax as it is.
            ("/items/?", &[], "/items/?"),
        ];
        for &(p, given, url) in rows {
            let given: Vec<&dyn fmt::Display> =
                given.iter().map(|a| a as &dyn fmt::Display).collect();
            assert_eq!(pattern(p).reverse(&given).unwrap(), url, "{p:?}");
        }
        assert_eq!(pattern("/page/(\\d+)").reverse(&[&3]).unwrap(), "/page/3");
    }

    #[test]
    fn reverse_errors() {
        // Patterns Tornado's _find_groups gives up on, and those it would
        // get wrong.
        let not_reversible = [
            "/user/\\d+",
            "/(?:a|b)/(\\d+)",
            "(?i)/about",
            "/\\(x\\)",
            "/((a)b)",
            "/(a\\))",
            "/a[)]/(\\d+)",
            "/(a)\\w",
        ];
        for p in not_reversible {
            let compiled = pattern(p);
            assert!(!compiled.is_reversible(), "{p}");
            let given: Vec<&dyn fmt::Display> = vec![&"x"; compiled.group_count()];
            let err = compiled.reverse(&given).unwrap_err();
            assert!(err.is_not_reversible(), "{p}: {err}");
            assert!(
                err.to_string()
                    .starts_with(&format!("cannot reverse url pattern {:?}", format!("{p}$"))),
                "{err}"
            );
        }
        let p = pattern("/user/([^/]+)");
        for given in [&[][..], &[&"a" as &dyn fmt::Display, &"b"][..]] {
            let err = p.reverse(given).unwrap_err();
            assert!(err.is_arg_count());
            assert_eq!(
                err.to_string(),
                format!(
                    "url pattern \"/user/([^/]+)$\" takes 1 argument, {} given",
                    given.len()
                )
            );
        }
        assert!(pattern("/").reverse(&[&1]).unwrap_err().is_arg_count());
    }

    #[test]
    fn re_unescape_rows() {
        let rows: &[(&str, Option<&str>)] = &[
            ("a\\.b", Some("a.b")),
            ("\\/\\-\\ ", Some("/- ")),
            ("\\\\", Some("\\")),
            ("end\\", Some("end\\")),
            ("\\d", None),
            ("\\1", None),
            ("plain", Some("plain")),
        ];
        for &(s, expected) in rows {
            assert_eq!(re_unescape(s).as_deref(), expected, "{s:?}");
        }
    }
}
