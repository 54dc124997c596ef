//! Outgoing cookies: [`CookieOptions`] and the `Set-Cookie` line, written as Python
//! Tornado writes it (through `http.cookies.Morsel`), so a browser, a Python client and
//! Tornado itself read our cookies as they read Tornado's.
//!
//! A value made only of the characters a cookie may hold bare goes out as it is; any
//! other value goes out in double quotes, with `"` and `\` escaped and the characters
//! that would end it (`,`, `;` and U+0080 to U+00FF) as octal escapes, which
//! [`parse_cookie`](tornado_httpserver::httputil::parse_cookie) on the next request
//! (and Python's cookie parser) undoes. Names, values and attributes that would break
//! the header are refused with an error naming them: control characters, spaces,
//! characters beyond U+00FF (which Tornado cannot send either), and `;` in an
//! attribute.
//!
//! ```
//! use tornado_web::cookie::{set_cookie_line, CookieOptions, SameSite};
//!
//! let opts = CookieOptions { httponly: true, samesite: Some(SameSite::Lax), ..Default::default() };
//! assert_eq!(set_cookie_line("session", "abc", &opts).unwrap(),
//!            "session=abc; HttpOnly; Path=/; SameSite=Lax");
//! // Characters a bare value cannot hold are quoted, as Tornado quotes them.
//! assert_eq!(set_cookie_line("q", "a,b", &CookieOptions::default()).unwrap(),
//!            "q=\"a\\054b\"; Path=/");
//! // A value that would break the header is refused.
//! assert!(set_cookie_line("q", "a b", &CookieOptions::default()).is_err());
//! ```

use std::fmt::{self, Write as _};
use std::time::{Duration, SystemTime};

use tornado_httpserver::httputil::format_timestamp;

/// The `SameSite` attribute of a cookie.
///
/// ```
/// use tornado_web::cookie::{set_cookie_line, CookieOptions, SameSite};
///
/// // A cookie sent with cross-site requests too: browsers require `Secure` with it.
/// let opts = CookieOptions { secure: true, samesite: Some(SameSite::None), ..CookieOptions::default() };
/// assert_eq!(set_cookie_line("id", "1", &opts).unwrap(), "id=1; Path=/; SameSite=None; Secure");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SameSite {
    /// Sent only with requests from the cookie's own site.
    Strict,
    /// Also sent with top-level navigations from other sites (browsers' default).
    Lax,
    /// Sent with every request, cross-site included (browsers require `secure`).
    None,
}

impl SameSite {
    /// The attribute's value as it goes in the header.
    ///
    /// ```
    /// use tornado_web::cookie::SameSite;
    ///
    /// assert_eq!(SameSite::Strict.as_str(), "Strict");
    /// assert_eq!(SameSite::Lax.as_str(), "Lax");
    /// assert_eq!(SameSite::None.as_str(), "None");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// The attributes of an outgoing cookie (the keyword arguments of Tornado's
/// `set_cookie`). `Default` is what Tornado does with none: `Path=/`, a session cookie.
///
/// ```
/// use std::time::Duration;
/// use tornado_web::cookie::{CookieOptions, SameSite};
///
/// let opts = CookieOptions {
///     domain: Some("example.com".into()),
///     max_age: Some(Duration::from_secs(3600)),
///     secure: true,
///     httponly: true,
///     samesite: Some(SameSite::Strict),
///     ..CookieOptions::default()
/// };
/// assert_eq!(
///     tornado_web::cookie::set_cookie_line("k", "v", &opts).unwrap(),
///     "k=v; Domain=example.com; HttpOnly; Max-Age=3600; Path=/; SameSite=Strict; Secure",
/// );
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CookieOptions {
    /// `Domain`; none: the cookie goes back only to the host that set it.
    pub domain: Option<String>,
    /// `Path`: `/` by default; `None` leaves the attribute out.
    pub path: Option<String>,
    /// `expires` at this time (any time, the epoch included). Takes precedence over
    /// [`expires_days`](Self::expires_days), as in Tornado. A time past the year 9999
    /// is an error.
    pub expires: Option<SystemTime>,
    /// `expires` this many days from now (Tornado's `expires_days`).
    pub expires_days: Option<f64>,
    /// `Max-Age`, in whole seconds. `Some(Duration::ZERO)` sends `Max-Age=0`, which
    /// deletes the cookie (Tornado leaves a zero out).
    pub max_age: Option<Duration>,
    /// `HttpOnly`: scripts in the page cannot read the cookie.
    pub httponly: bool,
    /// `Secure`: sent over HTTPS only.
    pub secure: bool,
    /// `SameSite`.
    pub samesite: Option<SameSite>,
}

impl Default for CookieOptions {
    fn default() -> Self {
        CookieOptions {
            domain: None,
            path: Some("/".to_owned()),
            expires: None,
            expires_days: None,
            max_age: None,
            httponly: false,
            secure: false,
            samesite: None,
        }
    }
}

/// Why a cookie could not be set.
///
/// ```
/// use tornado_web::cookie::{check_cookie_name, CookieError};
///
/// let e: CookieError = check_cookie_name("max-age").unwrap_err();
/// assert_eq!(e.to_string(), "Invalid cookie name \"max-age\": it is the name of a cookie attribute");
/// // A `std::error::Error`, so `?` turns it into a handler's error.
/// let e: tornado_web::Error = e.into();
/// assert_eq!(e.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieError(String);

impl fmt::Display for CookieError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CookieError {}

/// 10000-01-01T00:00:00Z, in seconds since the Unix epoch: an HTTP date has four
/// digits of year.
const YEAR_10000: u64 = 253_402_300_800;

/// The attribute names a cookie may not be called (Python's `Morsel._reserved`).
const RESERVED: &[&str] = &[
    "expires",
    "path",
    "comment",
    "domain",
    "max-age",
    "secure",
    "httponly",
    "version",
    "samesite",
    "partitioned",
];

/// Characters a cookie name, or a value going out without quotes, may hold (RFC 6265's
/// token characters as Python lists them).
fn legal(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~:".contains(c)
}

/// Characters a quoted value holds as they are.
fn unescaped(c: char) -> bool {
    legal(c) || " ()/<=>?@[]{}".contains(c)
}

/// A control character, space, `;` or non-ASCII character: what no attribute may
/// contain.
fn breaks_attribute(c: char) -> bool {
    c <= ' ' || c == ';' || c >= '\x7f'
}

/// Checks a cookie name: non-empty, token characters only, not an attribute's name.
///
/// ```
/// use tornado_web::cookie::check_cookie_name;
///
/// assert!(check_cookie_name("session_id").is_ok());
/// assert!(check_cookie_name("").is_err());
/// assert!(check_cookie_name("a b").is_err());
/// assert!(check_cookie_name("a=b").is_err());
/// assert!(check_cookie_name("Path").is_err()); // an attribute's name, in any case
/// ```
pub fn check_cookie_name(name: &str) -> Result<(), CookieError> {
    if name.is_empty() || !name.chars().all(legal) {
        return Err(CookieError(format!("Invalid cookie name {name:?}")));
    }
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Err(CookieError(format!(
            "Invalid cookie name {name:?}: it is the name of a cookie attribute"
        )));
    }
    Ok(())
}

/// Checks a cookie value: no control characters or spaces (Tornado refuses them too),
/// no DEL, nothing beyond U+00FF (which would go out as raw UTF-8: encode such text,
/// with `url_escape` or base64, first).
///
/// ```
/// use tornado_web::cookie::check_cookie_value;
///
/// assert!(check_cookie_value("k", "abc").is_ok());
/// assert!(check_cookie_value("k", "a,b;\"c\"").is_ok()); // quoted when it goes out
/// assert!(check_cookie_value("k", "caf\u{e9}").is_ok()); // U+00E9 fits in Latin-1
/// assert!(check_cookie_value("k", "a b").is_err());
/// assert!(check_cookie_value("k", "x\r\nSet-Cookie: y=z").is_err());
/// assert!(check_cookie_value("k", "\u{65e5}\u{672c}").is_err()); // encode it first
/// ```
pub fn check_cookie_value(name: &str, value: &str) -> Result<(), CookieError> {
    if value
        .chars()
        .any(|c| c <= ' ' || c == '\x7f' || c > '\u{ff}')
    {
        return Err(CookieError(format!("Invalid cookie {name:?}: {value:?}")));
    }
    Ok(())
}

fn check_attribute(cookie: &str, attr: &str, value: &str) -> Result<(), CookieError> {
    if value.chars().any(breaks_attribute) {
        return Err(CookieError(format!(
            "Invalid cookie attribute {attr}={value:?} for cookie {cookie:?}"
        )));
    }
    Ok(())
}

/// Appends `value` as Python's `http.cookies` codes it: bare when every character may
/// stand bare, else quoted with escapes.
fn push_value(out: &mut String, value: &str) {
    if !value.is_empty() && value.chars().all(legal) {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 256 && !unescaped(c) => {
                let _ = write!(out, "\\{:03o}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The value of a `Set-Cookie` header for cookie `name` = `value` with `opts`
/// (Tornado's `set_cookie`, as its `Morsel` writes it: attributes in Python's order).
/// Fails, naming what is wrong, for a name that is not a token (or is an attribute's
/// name), a value with a control character or space, an attribute containing one or a
/// `;`, or an expiry that is not a finite number of days.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use tornado_web::cookie::{set_cookie_line, CookieOptions};
///
/// let opts = CookieOptions {
///     expires: Some(UNIX_EPOCH + Duration::from_secs(1_359_312_200)),
///     max_age: Some(Duration::from_secs(10)),
///     ..CookieOptions::default()
/// };
/// assert_eq!(set_cookie_line("a", "b", &opts).unwrap(),
///            "a=b; expires=Sun, 27 Jan 2013 18:43:20 GMT; Max-Age=10; Path=/");
/// let nan = CookieOptions { expires_days: Some(f64::NAN), ..CookieOptions::default() };
/// assert!(set_cookie_line("a", "b", &nan).is_err());
/// ```
pub fn set_cookie_line(
    name: &str,
    value: &str,
    opts: &CookieOptions,
) -> Result<String, CookieError> {
    check_cookie_name(name)?;
    check_cookie_value(name, value)?;
    for (attr, v) in [("domain", &opts.domain), ("path", &opts.path)] {
        if let Some(v) = v {
            check_attribute(name, attr, v)?;
        }
    }
    let expires = match (opts.expires, opts.expires_days) {
        (Some(at), _) => Some(at),
        (None, Some(days)) => Some(days_from_now(name, days)?),
        (None, None) => None,
    };
    if let Some(at) = expires
        && at
            .duration_since(std::time::UNIX_EPOCH)
            .is_ok_and(|d| d.as_secs() >= YEAR_10000)
    {
        return Err(CookieError(format!(
            "Invalid expiry for cookie {name:?}: after the year 9999"
        )));
    }

    let mut line = String::with_capacity(name.len() + value.len() + 48);
    line.push_str(name);
    line.push('=');
    push_value(&mut line, value);
    if let Some(domain) = opts.domain.as_deref().filter(|d| !d.is_empty()) {
        line.push_str("; Domain=");
        line.push_str(domain);
    }
    if let Some(at) = expires {
        line.push_str("; expires=");
        line.push_str(&format_timestamp(at));
    }
    if opts.httponly {
        line.push_str("; HttpOnly");
    }
    if let Some(age) = opts.max_age {
        let _ = write!(line, "; Max-Age={}", age.as_secs());
    }
    if let Some(path) = opts.path.as_deref().filter(|p| !p.is_empty()) {
        line.push_str("; Path=");
        line.push_str(path);
    }
    if let Some(samesite) = opts.samesite {
        line.push_str("; SameSite=");
        line.push_str(samesite.as_str());
    }
    if opts.secure {
        line.push_str("; Secure");
    }
    Ok(line)
}

/// Now plus `days` (which may be negative: a time in the past deletes a cookie).
pub(crate) fn days_from_now(name: &str, days: f64) -> Result<SystemTime, CookieError> {
    let bad = || CookieError(format!("Invalid expires_days {days} for cookie {name:?}"));
    let secs = days * 86_400.0;
    let span = Duration::try_from_secs_f64(secs.abs()).map_err(|_| bad())?;
    let now = SystemTime::now();
    if secs >= 0.0 {
        now.checked_add(span)
    } else {
        now.checked_sub(span)
    }
    .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;
    use tornado_httpserver::httputil::parse_cookie;

    #[test]
    fn attributes_come_in_pythons_order() {
        let opts = CookieOptions {
            domain: Some("example.com".into()),
            expires: Some(UNIX_EPOCH + Duration::from_secs(1_359_312_200)),
            max_age: Some(Duration::from_secs(10)),
            httponly: true,
            secure: true,
            samesite: Some(SameSite::Strict),
            ..Default::default()
        };
        assert_eq!(
            set_cookie_line("a", "b", &opts).unwrap(),
            "a=b; Domain=example.com; expires=Sun, 27 Jan 2013 18:43:20 GMT; HttpOnly; \
             Max-Age=10; Path=/; SameSite=Strict; Secure"
        );
        let bare = CookieOptions {
            path: None,
            ..Default::default()
        };
        assert_eq!(set_cookie_line("a", "b", &bare).unwrap(), "a=b");
    }

    #[test]
    fn values_are_quoted_as_python_quotes_them_and_read_back() {
        let cases = [
            ("plain", "plain"),
            ("", "\"\""),
            ("a=b", "\"a=b\""),
            ("a,b;c", "\"a\\054b\\073c\""),
            ("q\"uo\\te", "\"q\\\"uo\\\\te\""),
            ("caf\u{e9}", "\"caf\\351\""),
            (
                "2|1:0|10:1300000000|4:user|8:YWxpY2U=|ab",
                "\"2|1:0|10:1300000000|4:user|8:YWxpY2U=|ab\"",
            ),
        ];
        for (value, coded) in cases {
            let line = set_cookie_line(
                "k",
                value,
                &CookieOptions {
                    path: None,
                    ..Default::default()
                },
            )
            .unwrap();
            assert_eq!(line, format!("k={coded}"), "{value:?}");
            assert_eq!(parse_cookie(&line)["k"], value, "round trip of {value:?}");
        }
    }

    #[test]
    fn what_would_break_the_header_is_refused() {
        let opts = CookieOptions::default();
        for name in [
            "", "a b", "a;b", "a=b", "a\r\nb", "expires", "Max-Age", "\u{e9}",
        ] {
            let e = set_cookie_line(name, "v", &opts).unwrap_err();
            assert!(e.to_string().contains("cookie name"), "{name:?}: {e}");
        }
        for value in [
            "a b",
            "a\r\nSet-Cookie: x=y",
            "tab\t",
            "\x7f",
            "nul\0",
            "\u{65e5}",
        ] {
            let e = set_cookie_line("k", value, &opts).unwrap_err();
            assert!(
                e.to_string().contains("Invalid cookie \"k\""),
                "{value:?}: {e}"
            );
        }
        for (domain, path) in [
            (Some("a;b"), None),
            (None, Some("/a b")),
            (Some("x\ny"), None),
            (Some("\u{e9}.example"), None),
        ] {
            let opts = CookieOptions {
                domain: domain.map(Into::into),
                path: path.map(Into::into),
                ..Default::default()
            };
            let e = set_cookie_line("k", "v", &opts).unwrap_err();
            assert!(e.to_string().contains("Invalid cookie attribute"), "{e}");
        }
        for days in [f64::NAN, f64::INFINITY, 1e7] {
            let opts = CookieOptions {
                expires_days: Some(days),
                ..Default::default()
            };
            assert!(set_cookie_line("k", "v", &opts).is_err(), "{days}");
        }
        let opts = CookieOptions {
            expires_days: Some(2_900_000.0),
            ..Default::default()
        };
        assert!(set_cookie_line("k", "v", &opts).unwrap().contains(" 9"));
    }

    #[test]
    fn expires_days_counts_from_now_and_expires_wins() {
        let opts = CookieOptions {
            expires_days: Some(-365.0),
            ..Default::default()
        };
        let line = set_cookie_line("k", "", &opts).unwrap();
        assert!(line.starts_with("k=\"\"; expires="), "{line}");
        let at = UNIX_EPOCH + Duration::from_secs(0);
        let opts = CookieOptions {
            expires: Some(at),
            expires_days: Some(1.0),
            ..Default::default()
        };
        assert!(
            set_cookie_line("k", "v", &opts)
                .unwrap()
                .contains("expires=Thu, 01 Jan 1970 00:00:00 GMT")
        );
    }
}
