//! Cookies a handler sets (plain and signed) and the XSRF token: Tornado's
//! `set_cookie`, `clear_cookie`, `set_signed_cookie`, `get_signed_cookie`,
//! `xsrf_token`, `xsrf_form_html` and `check_xsrf_cookie`.

use http::Method;
use ring::rand::{SecureRandom, SystemRandom};
use tornado_httpserver::httputil::url_escape_into;

use super::{Context, Extras};
use crate::cookie::{CookieOptions, set_cookie_line};
use crate::error::{Error, Finish, HttpError, Result};
use crate::handler::RequestHandler;
use crate::signing::{self, Secret, Version};
use crate::xsrf::{self, RawToken};

/// How many days a signed cookie set without options lives in the browser (Tornado's
/// `set_signed_cookie(expires_days=30)`).
pub const SIGNED_COOKIE_EXPIRES_DAYS: f64 = 30.0;

/// A cookie cleared is set empty with an expiry this many days in the past.
const CLEARED_DAYS_AGO: f64 = 365.0;

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::msg("the system's random number generator failed"))?;
    Ok(bytes)
}

impl Context {
    fn extras(&mut self) -> &mut Extras {
        self.extras.get_or_insert_with(Default::default)
    }

    /// Moves the cookies set into the response headers, as they go out.
    pub(super) fn emit_cookies(&mut self) {
        let Some(extras) = self.extras.as_mut() else {
            return;
        };
        for (_, line) in std::mem::take(&mut extras.new_cookies) {
            self.headers.add("Set-Cookie", &line);
        }
    }

    /// Sets cookie `name` to `value` with `Path=/` and no expiry (a session cookie).
    /// See [`set_cookie_with`](Self::set_cookie_with).
    ///
    /// ```
    /// use tornado_web::{Context, RequestHandler};
    ///
    /// struct Visit;
    /// impl RequestHandler for Visit {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let seen = cx.get_cookie("seen").is_some();
    ///         cx.set_cookie("seen", "1")?;
    ///         cx.write(if seen { "welcome back" } else { "hello" });
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn set_cookie(&mut self, name: &str, value: &str) -> Result {
        self.set_cookie_with(name, value, &CookieOptions::default())
    }

    /// Sets cookie `name` to `value` with the attributes in `opts` (Tornado's
    /// `set_cookie`). The cookie goes out with the response headers; setting the same
    /// name again replaces it. Cookies set survive [`clear`](Self::clear) and
    /// [`send_error`](Self::send_error), as in Tornado. [`get_cookie`](Self::get_cookie) does not see it: it
    /// reads the request's cookies.
    ///
    /// Fails, naming what is wrong, for a name that is not a token, a value with a
    /// control character or a space (or a character beyond U+00FF: encode such text
    /// first), a domain or path with one or a `;`, and once the headers have gone out
    /// (where Tornado drops the cookie silently: set cookies before the first
    /// [`flush`](Self::flush)).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tornado_web::cookie::{CookieOptions, SameSite};
    /// use tornado_web::{Context, RequestHandler};
    ///
    /// struct Prefs;
    /// impl RequestHandler for Prefs {
    ///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let theme = cx.get_argument("theme")?;
    ///         cx.set_cookie_with("theme", &theme, &CookieOptions {
    ///             max_age: Some(Duration::from_secs(365 * 86_400)),
    ///             httponly: true,
    ///             samesite: Some(SameSite::Lax),
    ///             ..CookieOptions::default()
    ///         })?;
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn set_cookie_with(&mut self, name: &str, value: &str, opts: &CookieOptions) -> Result {
        if self.headers_written() {
            return Err(Error::msg(format!(
                "cannot set cookie {name:?}: the headers have been written"
            )));
        }
        let line = set_cookie_line(name, value, opts).map_err(Error::msg)?;
        let cookies = &mut self.extras().new_cookies;
        // Set again, it moves to the end, as in Tornado.
        cookies.retain(|(n, _)| n != name);
        cookies.push((name.to_owned(), line));
        Ok(())
    }

    /// Deletes cookie `name` (path `/`): sets it empty, expired a year ago.
    pub fn clear_cookie(&mut self, name: &str) -> Result {
        self.clear_cookie_with(name, &CookieOptions::default())
    }

    /// Deletes cookie `name` set with `opts` (Tornado's `clear_cookie`): the browser
    /// deletes it only if `domain` and `path` (and, for `SameSite=None`, `secure` and
    /// `samesite`) are those it was set with. An expiry in `opts` is an error: a
    /// cleared cookie's expiry is in the past.
    pub fn clear_cookie_with(&mut self, name: &str, opts: &CookieOptions) -> Result {
        if opts.expires.is_some() || opts.expires_days.is_some() || opts.max_age.is_some() {
            return Err(Error::msg(format!(
                "clear_cookie({name:?}) takes no expires, expires_days or max_age"
            )));
        }
        let opts = CookieOptions {
            expires_days: Some(-CLEARED_DAYS_AGO),
            ..opts.clone()
        };
        self.set_cookie_with(name, "", &opts)
    }

    /// Deletes every cookie the request carried (path `/`).
    pub fn clear_all_cookies(&mut self) -> Result {
        self.clear_all_cookies_with(&CookieOptions::default())
    }

    /// Deletes every cookie the request carried, each with `opts` (Tornado's
    /// `clear_all_cookies`; it can only work if every cookie was set with the same
    /// domain and path). Names that are not valid cookie names are skipped.
    pub fn clear_all_cookies_with(&mut self, opts: &CookieOptions) -> Result {
        let mut names: Vec<String> = self.request.cookies().keys().cloned().collect();
        names.sort_unstable();
        for name in names {
            if crate::cookie::check_cookie_name(&name).is_ok() {
                self.clear_cookie_with(&name, opts)?;
            }
        }
        Ok(())
    }

    fn cookie_secret(&self) -> Result<&Secret> {
        self.settings().cookie_secret.as_ref().ok_or_else(|| {
            Error::msg(
                "You must define the 'cookie_secret' setting in your application to use \
                 signed cookies",
            )
        })
    }

    /// Signs and timestamps `value` for `name` with the `cookie_secret` setting
    /// (and `key_version`, for a versioned secret), in the default format (Tornado's
    /// `RequestHandler.create_signed_value`; see [`crate::signing`]).
    pub fn create_signed_value(&self, name: &str, value: impl AsRef<[u8]>) -> Result<Vec<u8>> {
        self.create_signed_value_version(name, value, None)
    }

    /// [`create_signed_value`](Self::create_signed_value) in format `version` (`None`:
    /// the default, version 2).
    pub fn create_signed_value_version(
        &self,
        name: &str,
        value: impl AsRef<[u8]>,
        version: Option<Version>,
    ) -> Result<Vec<u8>> {
        let secret = self.cookie_secret()?;
        // A key version means something only with several keys (Tornado ignores it
        // for a single secret).
        let key_version = self
            .settings()
            .key_version
            .filter(|_| secret.is_versioned());
        if secret.is_versioned() && key_version.is_none() {
            return Err(Error::msg(
                "the key_version setting must be set when cookie_secret has key versions",
            ));
        }
        signing::create_signed_value(secret, name, value, version, None, key_version)
            .map_err(Error::msg)
    }

    /// Sets a signed cookie (Tornado's `set_signed_cookie`): `value`, signed and
    /// timestamped so the client cannot forge or alter it, living 30 days in the
    /// browser. Needs the `cookie_secret` setting; read it back with
    /// [`get_signed_cookie`](Self::get_signed_cookie). The value is readable by the
    /// client (signed, not encrypted).
    ///
    /// ```
    /// use tornado_web::{Context, RequestHandler};
    ///
    /// struct Login;
    /// impl RequestHandler for Login {
    ///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let name = cx.get_argument("name")?;
    ///         cx.set_signed_cookie("user", &name)?;
    ///         cx.redirect("/")
    ///     }
    /// }
    /// ```
    pub fn set_signed_cookie(&mut self, name: &str, value: impl AsRef<[u8]>) -> Result {
        let opts = CookieOptions {
            expires_days: Some(SIGNED_COOKIE_EXPIRES_DAYS),
            ..CookieOptions::default()
        };
        self.set_signed_cookie_with(name, value, &opts, None)
    }

    /// Sets a signed cookie with the attributes in `opts` (give `expires_days`
    /// yourself: none makes a session cookie) in format `version` (`None`: version 2).
    pub fn set_signed_cookie_with(
        &mut self,
        name: &str,
        value: impl AsRef<[u8]>,
        opts: &CookieOptions,
        version: Option<Version>,
    ) -> Result {
        crate::cookie::check_cookie_name(name).map_err(Error::msg)?;
        let signed = self.create_signed_value_version(name, value, version)?;
        // A valid name is ASCII, and so is everything else in a signed value.
        self.set_cookie_with(name, &String::from_utf8_lossy(&signed), opts)
    }

    /// The value of signed cookie `name` if it verifies and is at most 31 days old,
    /// else `None` (Tornado's `get_signed_cookie`). Fails only when the `cookie_secret`
    /// setting is missing.
    ///
    /// ```
    /// use tornado_web::{Context, RequestHandler};
    ///
    /// struct Home;
    /// impl RequestHandler for Home {
    ///     async fn get_current_user(&mut self, cx: &mut Context) -> tornado_web::Result<Option<String>> {
    ///         Ok(cx.get_signed_cookie("user")?.and_then(|v| String::from_utf8(v).ok()))
    ///     }
    /// }
    /// ```
    pub fn get_signed_cookie(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.get_signed_cookie_with(name, signing::DEFAULT_MAX_AGE_DAYS, None)
    }

    /// [`get_signed_cookie`](Self::get_signed_cookie) accepting values up to
    /// `max_age_days` old, in formats from `min_version` on (`None`: version 1 and 2).
    pub fn get_signed_cookie_with(
        &self,
        name: &str,
        max_age_days: f64,
        min_version: Option<Version>,
    ) -> Result<Option<Vec<u8>>> {
        let secret = self.cookie_secret()?;
        Ok(self.get_cookie(name).and_then(|value| {
            signing::decode_signed_value(secret, name, value, Some(max_age_days), None, min_version)
        }))
    }

    /// Verifies `value`, signed for `name`, as a signed cookie is verified (Tornado's
    /// `get_signed_cookie(name, value=...)`): for signed values carried elsewhere than
    /// in a cookie.
    pub fn decode_signed_value(
        &self,
        name: &str,
        value: &str,
        max_age_days: f64,
        min_version: Option<Version>,
    ) -> Result<Option<Vec<u8>>> {
        let secret = self.cookie_secret()?;
        Ok(signing::decode_signed_value(
            secret,
            name,
            value,
            Some(max_age_days),
            None,
            min_version,
        ))
    }

    /// The key version that signed cookie `name` (Tornado's
    /// `get_signed_cookie_key_version`), without verifying it: `None` for a missing
    /// cookie or a value without one.
    pub fn get_signed_cookie_key_version(&self, name: &str) -> Result<Option<i64>> {
        self.cookie_secret()?;
        Ok(self
            .get_cookie(name)
            .and_then(signing::get_signature_key_version))
    }

    /// The token read from the XSRF cookie, or a new random one (Tornado's
    /// `_get_raw_xsrf_token`), once per request.
    fn raw_xsrf_token(&mut self) -> Result<RawToken> {
        if let Some(raw) = self.extras.as_ref().and_then(|e| e.xsrf_raw.clone()) {
            return Ok(raw);
        }
        let name = &self.settings().xsrf_cookie_name;
        let found = self
            .get_cookie(name)
            .filter(|v| !v.is_empty())
            .and_then(xsrf::decode_token)
            .filter(|raw| !raw.token.is_empty());
        let raw = match found {
            Some(raw) => raw,
            None => RawToken {
                version: None,
                token: random::<16>()?.to_vec(),
                timestamp: xsrf::now_secs(),
            },
        };
        self.extras().xsrf_raw = Some(raw.clone());
        Ok(raw)
    }

    /// The XSRF token for this user's session (Tornado's `xsrf_token`): the token of
    /// the `_xsrf` cookie, masked afresh for each request (version 2, the default), or
    /// a new one, which sets the cookie. Put it in every form that posts (see
    /// [`xsrf_form_html`](Self::xsrf_form_html)) or send it as `X-XSRFToken` from
    /// scripts.
    pub fn xsrf_token(&mut self) -> Result<String> {
        let token = self.masked_xsrf_token()?;
        let new = self.raw_xsrf_token()?.version.is_none();
        if new && !self.extras().xsrf_cookie_set {
            let mut opts = self.settings().xsrf_cookie_kwargs.clone();
            if self.current_user().is_some() && opts.expires_days.is_none() {
                opts.expires_days = Some(SIGNED_COOKIE_EXPIRES_DAYS);
            }
            let name = self.settings().xsrf_cookie_name.clone();
            self.set_cookie_with(&name, &token, &opts)?;
            self.extras().xsrf_cookie_set = true;
        }
        Ok(token)
    }

    /// The token this request's pages carry, made once per request, without setting
    /// the cookie a new token needs (see [`xsrf_token`](Self::xsrf_token)).
    fn masked_xsrf_token(&mut self) -> Result<String> {
        if let Some(token) = self.extras.as_ref().and_then(|e| e.xsrf_token.clone()) {
            return Ok(token);
        }
        let raw = self.raw_xsrf_token()?;
        let version2 = self.settings().xsrf_cookie_version != Version::V1;
        let token = xsrf::encode_token(&raw, version2, random::<4>()?);
        self.extras().xsrf_token = Some(token.clone());
        Ok(token)
    }

    /// [`xsrf_form_html`](Self::xsrf_form_html) without the cookie, for a template
    /// that may call it: the render sets the cookie afterwards, if it did.
    pub(crate) fn xsrf_form_html_deferred(&mut self) -> Result<String> {
        let token = self.masked_xsrf_token()?;
        Ok(xsrf_input(&token))
    }

    /// A hidden `<input>` named `_xsrf` carrying [`xsrf_token`](Self::xsrf_token), for
    /// every form that posts when the `xsrf_cookies` setting is on (Tornado's
    /// `xsrf_form_html`).
    ///
    /// ```
    /// use tornado_web::{Context, RequestHandler};
    ///
    /// struct Form;
    /// impl RequestHandler for Form {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let field = cx.xsrf_form_html()?;
    ///         cx.write(format!("<form method=post>{field}<input name=text><button>Send</button></form>"));
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn xsrf_form_html(&mut self) -> Result<String> {
        let token = self.xsrf_token()?;
        Ok(xsrf_input(&token))
    }

    /// Checks that the request carries the token of its `_xsrf` cookie, in the `_xsrf`
    /// argument or an `X-XSRFToken` or `X-CSRFToken` header (Tornado's
    /// `check_xsrf_cookie`); a 403 naming the problem otherwise. With the
    /// `xsrf_cookies` setting, the framework calls it (through
    /// [`RequestHandler::check_xsrf_cookie`]) before `prepare` for every request but
    /// `GET`, `HEAD` and `OPTIONS`.
    pub fn check_xsrf_cookie(&mut self) -> Result {
        let from_argument = self.get_argument_opt("_xsrf")?.filter(|v| !v.is_empty());
        let headers = self.request.headers();
        let input = from_argument.or_else(|| {
            ["X-Xsrftoken", "X-Csrftoken"]
                .iter()
                .find_map(|h| headers.get(h).filter(|v| !v.is_empty()).map(str::to_owned))
        });
        let Some(input) = input else {
            return Err(HttpError::with_log(403, "'_xsrf' argument missing from POST").into());
        };
        let given = xsrf::decode_token(&input).filter(|raw| !raw.token.is_empty());
        let expected = self.raw_xsrf_token()?;
        let Some(given) = given else {
            return Err(HttpError::with_log(403, "'_xsrf' argument has invalid format").into());
        };
        if !xsrf::tokens_match(&given.token, &expected.token) {
            return Err(
                HttpError::with_log(403, "XSRF cookie does not match POST argument").into(),
            );
        }
        Ok(())
    }
}

/// The hidden `_xsrf` field carrying `token`.
fn xsrf_input(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"_xsrf\" value=\"{}\"/>",
        crate::xhtml_escape(token)
    )
}

/// Requires a logged-in user (Tornado's `@authenticated`): call it first in a method.
///
/// With a [`current_user`](Context::current_user) it is `Ok`. Without one, a `GET` or
/// `HEAD` is redirected to the handler's [`get_login_url`](RequestHandler::get_login_url)
/// with `?next=` and the request's URI (its full URL when the login URL is absolute;
/// nothing is added to a login URL that has a query already), and it answers
/// [`Finish`] so `?` ends the method; any other method gets 403.
///
/// ```
/// use tornado_web::{authenticated, Context, RequestHandler};
///
/// struct Compose;
/// impl RequestHandler for Compose {
///     async fn get_current_user(&mut self, cx: &mut Context) -> tornado_web::Result<Option<String>> {
///         Ok(cx.get_signed_cookie("user")?.and_then(|v| String::from_utf8(v).ok()))
///     }
///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
///         authenticated(self, cx)?; // /login?next=%2Fcompose without a user
///         cx.write("compose a post");
///         Ok(())
///     }
/// }
/// ```
pub fn authenticated<H: RequestHandler>(handler: &H, cx: &mut Context) -> Result {
    if cx.current_user().is_some() {
        return Ok(());
    }
    let method = cx.method();
    if *method != Method::GET && *method != Method::HEAD {
        return Err(HttpError::new(403).into());
    }
    let mut url = handler.get_login_url(cx)?;
    if !url.contains('?') {
        let next = if has_scheme(&url) {
            cx.request().full_url()
        } else {
            cx.request().uri().to_owned()
        };
        url.push_str("?next=");
        url_escape_into(&mut url, next.as_bytes());
    }
    cx.redirect(&url)?;
    Err(Finish.into())
}

/// Whether `url` starts with a scheme (`https:`), as Python's `urlsplit` finds one.
fn has_scheme(url: &str) -> bool {
    match url.split_once(':') {
        Some((scheme, _)) => {
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }
        None => false,
    }
}
