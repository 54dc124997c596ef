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
///
/// ```
/// assert_eq!(tornado_web::SIGNED_COOKIE_EXPIRES_DAYS, 30.0);
/// ```
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
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
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
    ///
    /// testing::run(|| Application::new(vec![url("/", || Visit)]), |t| async move {
    ///     let first = t.fetch("/").await;
    ///     assert_eq!(first.text().unwrap(), "hello");
    ///     assert_eq!(first.headers.get("Set-Cookie"), Some("seen=1; Path=/"));
    ///     let again = t.fetch_request(t.request("/").header("Cookie", "seen=1")).await;
    ///     assert_eq!(again.text().unwrap(), "welcome back");
    /// });
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
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
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
    ///
    /// testing::run(|| Application::new(vec![url("/prefs", || Prefs)]), |t| async move {
    ///     let r = t.fetch_request(t.request("/prefs").method("POST").body("theme=dark")).await;
    ///     assert_eq!(r.headers.get("Set-Cookie"),
    ///                Some("theme=dark; HttpOnly; Max-Age=31536000; Path=/; SameSite=Lax"));
    /// });
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
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Logout;
    /// impl RequestHandler for Logout {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.clear_cookie("user")
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/logout", || Logout)]), |t| async move {
    ///     let r = t.fetch_request(t.request("/logout").header("Cookie", "user=alice")).await;
    ///     let line = r.headers.get("Set-Cookie").unwrap();
    ///     assert!(line.starts_with("user=\"\"; expires="), "{line}");
    ///     assert!(line.ends_with(" GMT; Path=/"), "{line}");
    /// });
    /// ```
    pub fn clear_cookie(&mut self, name: &str) -> Result {
        self.clear_cookie_with(name, &CookieOptions::default())
    }

    /// Deletes cookie `name` set with `opts` (Tornado's `clear_cookie`): the browser
    /// deletes it only if `domain` and `path` (and, for `SameSite=None`, `secure` and
    /// `samesite`) are those it was set with. An expiry in `opts` is an error: a
    /// cleared cookie's expiry is in the past.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tornado_web::cookie::CookieOptions;
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Logout;
    /// impl RequestHandler for Logout {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let opts = CookieOptions { domain: Some("example.com".into()), ..CookieOptions::default() };
    ///         // An expiry is refused: the point is one in the past.
    ///         let aged = CookieOptions { max_age: Some(Duration::from_secs(60)), ..opts.clone() };
    ///         assert!(cx.clear_cookie_with("session", &aged).is_err());
    ///         cx.clear_cookie_with("session", &opts)
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Logout)]), |t| async move {
    ///     let r = t.fetch("/").await;
    ///     let line = r.headers.get("Set-Cookie").unwrap();
    ///     assert!(line.starts_with("session=\"\"; Domain=example.com; expires="), "{line}");
    /// });
    /// ```
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
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Forget;
    /// impl RequestHandler for Forget {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.clear_all_cookies()
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Forget)]), |t| async move {
    ///     let r = t.fetch_request(t.request("/").header("Cookie", "b=2; a=1")).await;
    ///     let cleared: Vec<&str> = r.headers.get_all("Set-Cookie")
    ///         .map(|line| line.split('=').next().unwrap())
    ///         .collect();
    ///     assert_eq!(cleared, ["a", "b"]);
    /// });
    /// ```
    pub fn clear_all_cookies(&mut self) -> Result {
        self.clear_all_cookies_with(&CookieOptions::default())
    }

    /// Deletes every cookie the request carried, each with `opts` (Tornado's
    /// `clear_all_cookies`; it can only work if every cookie was set with the same
    /// domain and path). Names that are not valid cookie names are skipped.
    ///
    /// ```
    /// use tornado_web::cookie::CookieOptions;
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Forget;
    /// impl RequestHandler for Forget {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let opts = CookieOptions { path: Some("/app".into()), ..CookieOptions::default() };
    ///         cx.clear_all_cookies_with(&opts)
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/app/forget", || Forget)]), |t| async move {
    ///     let r = t.fetch_request(t.request("/app/forget").header("Cookie", "a=1; b=2")).await;
    ///     assert_eq!(r.headers.get_all("Set-Cookie").count(), 2);
    ///     assert!(r.headers.get_all("Set-Cookie").all(|line| line.ends_with("; Path=/app")));
    /// });
    /// ```
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
    ///
    /// ```
    /// use tornado_web::signing::{decode_signed_value, Secret};
    /// use tornado_web::{testing, url, Application, Context, RequestHandler, Settings};
    ///
    /// struct Token;
    /// impl RequestHandler for Token {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let signed = cx.create_signed_value("token", "42")?;
    ///         cx.write(signed);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let settings = Settings { cookie_secret: Some(Secret::new("secret")), ..Settings::default() };
    /// testing::run(|| Application::with_settings(vec![url("/", || Token)], settings), |t| async move {
    ///     let r = t.fetch("/").await;
    ///     assert!(r.body.starts_with(b"2|1:0|"));
    ///     let secret = Secret::new("secret");
    ///     assert_eq!(decode_signed_value(&secret, "token", &r.body, None, None, None),
    ///                Some(b"42".to_vec()));
    /// });
    /// ```
    pub fn create_signed_value(&self, name: &str, value: impl AsRef<[u8]>) -> Result<Vec<u8>> {
        self.create_signed_value_version(name, value, None)
    }

    /// [`create_signed_value`](Self::create_signed_value) in format `version` (`None`:
    /// the default, version 2).
    ///
    /// ```
    /// use tornado_web::signing::{decode_signed_value, Secret, Version};
    /// use tornado_web::{testing, url, Application, Context, RequestHandler, Settings};
    ///
    /// /// For an old client that reads only version 1 values.
    /// struct Legacy;
    /// impl RequestHandler for Legacy {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let signed = cx.create_signed_value_version("token", "42", Some(Version::V1))?;
    ///         cx.write(signed);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let settings = Settings { cookie_secret: Some(Secret::new("secret")), ..Settings::default() };
    /// testing::run(|| Application::with_settings(vec![url("/", || Legacy)], settings), |t| async move {
    ///     let r = t.fetch("/").await;
    ///     assert!(r.body.starts_with(b"NDI=|")); // base64 of the value, then the time
    ///     let secret = Secret::new("secret");
    ///     assert!(decode_signed_value(&secret, "token", &r.body, None, None, None).is_some());
    ///     assert!(decode_signed_value(&secret, "token", &r.body, None, None, Some(Version::V2)).is_none());
    /// });
    /// ```
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
    /// use tornado_web::{testing, url, Application, Context, RequestHandler, Settings};
    ///
    /// struct Login;
    /// impl RequestHandler for Login {
    ///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let name = cx.get_argument("name")?;
    ///         cx.set_signed_cookie("user", &name)?;
    ///         cx.redirect("/")
    ///     }
    /// }
    /// # struct Home;
    /// # impl RequestHandler for Home {
    /// #     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    /// #         let user = cx.get_signed_cookie("user")?.unwrap_or_default();
    /// #         cx.write(user);
    /// #         Ok(())
    /// #     }
    /// # }
    ///
    /// let settings = Settings { cookie_secret: Some("secret".into()), ..Settings::default() };
    /// let routes = vec![url("/login", || Login), url("/", || Home)];
    /// testing::run(|| Application::with_settings(routes, settings), |t| async move {
    ///     let login = t.request("/login").method("POST").body("name=alice").follow_redirects(false);
    ///     let r = t.fetch_request(login).await;
    ///     let line = r.headers.get("Set-Cookie").unwrap();
    ///     assert!(line.starts_with("user=\"2|1:0|"), "{line}"); // quoted: base64 holds `=`
    ///     assert!(line.contains("; expires="), "{line}"); // 30 days from now
    ///
    ///     // Sent back, it reads back (`Home` writes `get_signed_cookie("user")`).
    ///     let cookie = line.split(';').next().unwrap();
    ///     let home = t.fetch_request(t.request("/").header("Cookie", cookie)).await;
    ///     assert_eq!(home.text().unwrap(), "alice");
    /// });
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
    ///
    /// ```
    /// use tornado_web::cookie::CookieOptions;
    /// use tornado_web::{testing, url, Application, Context, RequestHandler, Settings};
    ///
    /// struct Login;
    /// impl RequestHandler for Login {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         // A session cookie that scripts cannot read.
    ///         let opts = CookieOptions { httponly: true, ..CookieOptions::default() };
    ///         cx.set_signed_cookie_with("user", "alice", &opts, None)
    ///     }
    /// }
    ///
    /// let settings = Settings { cookie_secret: Some("secret".into()), ..Settings::default() };
    /// testing::run(|| Application::with_settings(vec![url("/", || Login)], settings), |t| async move {
    ///     let r = t.fetch("/").await;
    ///     let line = r.headers.get("Set-Cookie").unwrap();
    ///     assert!(line.starts_with("user=\"2|") && line.ends_with("; HttpOnly; Path=/"), "{line}");
    ///     assert!(!line.contains("expires"));
    /// });
    /// ```
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
    /// use tornado_web::signing::{create_signed_value, Secret};
    /// use tornado_web::{testing, url, Application, Context, RequestHandler, Settings};
    ///
    /// struct Home;
    /// impl RequestHandler for Home {
    ///     async fn get_current_user(&mut self, cx: &mut Context) -> tornado_web::Result<Option<String>> {
    ///         Ok(cx.get_signed_cookie("user")?.and_then(|v| String::from_utf8(v).ok()))
    ///     }
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let user = cx.current_user().unwrap_or("nobody").to_owned();
    ///         cx.write(user);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let secret = Secret::new("secret");
    /// let signed = create_signed_value(&secret, "user", "alice", None, None, None).unwrap();
    /// let signed = format!("user={}", String::from_utf8(signed).unwrap());
    /// let settings = Settings { cookie_secret: Some(secret), ..Settings::default() };
    /// testing::run(|| Application::with_settings(vec![url("/", || Home)], settings), |t| async move {
    ///     let who = |cookie: &str| t.request("/").header("Cookie", cookie);
    ///     assert_eq!(t.fetch_request(who(&signed)).await.text().unwrap(), "alice");
    ///     // A cookie the client made up does not verify.
    ///     assert_eq!(t.fetch_request(who("user=alice")).await.text().unwrap(), "nobody");
    /// });
    /// ```
    pub fn get_signed_cookie(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.get_signed_cookie_with(name, signing::DEFAULT_MAX_AGE_DAYS, None)
    }

    /// [`get_signed_cookie`](Self::get_signed_cookie) accepting values up to
    /// `max_age_days` old, in formats from `min_version` on (`None`: version 1 and 2).
    ///
    /// ```
    /// use std::time::{SystemTime, UNIX_EPOCH};
    /// use tornado_web::signing::{create_signed_value, Secret};
    /// use tornado_web::{testing, url, Application, Context, RequestHandler, Settings};
    ///
    /// struct Home;
    /// impl RequestHandler for Home {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let month = cx.get_signed_cookie("user")?; // at most 31 days old
    ///         let quarter = cx.get_signed_cookie_with("user", 90.0, None)?;
    ///         cx.write(format!("{} {}", month.is_some(), quarter.is_some()));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let secret = Secret::new("secret");
    /// let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
    /// let forty_days_ago = Some(now - 40.0 * 86_400.0);
    /// let old = create_signed_value(&secret, "user", "alice", None, forty_days_ago, None).unwrap();
    /// let cookie = format!("user={}", String::from_utf8(old).unwrap());
    /// let settings = Settings { cookie_secret: Some(secret), ..Settings::default() };
    /// testing::run(|| Application::with_settings(vec![url("/", || Home)], settings), |t| async move {
    ///     let r = t.fetch_request(t.request("/").header("Cookie", &cookie)).await;
    ///     assert_eq!(r.text().unwrap(), "false true");
    /// });
    /// ```
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
    ///
    /// ```
    /// use tornado_web::signing::{create_signed_value, Secret};
    /// use tornado_web::{testing, url, Application, Context, HttpError, RequestHandler, Settings};
    ///
    /// /// Answers a request that carries a token signed within the last day.
    /// struct Api;
    /// impl RequestHandler for Api {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let token = cx.request().headers().get("X-Token").unwrap_or("");
    ///         let Some(account) = cx.decode_signed_value("token", token, 1.0, None)? else {
    ///             return Err(HttpError::new(403).into());
    ///         };
    ///         cx.write(account);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let secret = Secret::new("secret");
    /// let token = create_signed_value(&secret, "token", "42", None, None, None).unwrap();
    /// let token = String::from_utf8(token).unwrap();
    /// let settings = Settings { cookie_secret: Some(secret), ..Settings::default() };
    /// testing::run(|| Application::with_settings(vec![url("/", || Api)], settings), |t| async move {
    ///     let r = t.fetch_request(t.request("/").header("X-Token", &token)).await;
    ///     assert_eq!(r.text().unwrap(), "42");
    ///     assert_eq!(t.fetch_request(t.request("/").header("X-Token", "42")).await.code, 403);
    /// });
    /// ```
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
    ///
    /// ```
    /// use tornado_web::signing::{create_signed_value, Secret};
    /// use tornado_web::{testing, url, Application, Context, RequestHandler, Settings};
    ///
    /// /// Signs the cookie again with the current key when an older one signed it.
    /// struct Home;
    /// impl RequestHandler for Home {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let version = cx.get_signed_cookie_key_version("user")?;
    ///         if version.is_some() && version != cx.settings().key_version
    ///             && let Some(user) = cx.get_signed_cookie("user")?
    ///         {
    ///             cx.set_signed_cookie("user", user)?;
    ///         }
    ///         cx.write(format!("{version:?}"));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let keys = Secret::versioned([(1, "old key"), (2, "new key")]);
    /// let old = create_signed_value(&keys, "user", "alice", None, None, Some(1)).unwrap();
    /// let cookie = format!("user={}", String::from_utf8(old).unwrap());
    /// let settings = Settings { cookie_secret: Some(keys), key_version: Some(2), ..Settings::default() };
    /// testing::run(|| Application::with_settings(vec![url("/", || Home)], settings), |t| async move {
    ///     let r = t.fetch_request(t.request("/").header("Cookie", &cookie)).await;
    ///     assert_eq!(r.text().unwrap(), "Some(1)");
    ///     assert!(r.headers.get("Set-Cookie").unwrap().starts_with("user=\"2|1:2|"));
    /// });
    /// ```
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
                timestamp: xsrf::now_secs().to_string(),
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
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Token;
    /// impl RequestHandler for Token {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let token = cx.xsrf_token()?;
    ///         cx.write(token);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Token)]), |t| async move {
    ///     // A first visit gets a new token, and the cookie that holds it.
    ///     let first = t.fetch("/").await;
    ///     assert!(first.text().unwrap().starts_with("2|"));
    ///     let cookie = first.headers.get("Set-Cookie").unwrap().split(';').next().unwrap();
    ///     assert!(cookie.starts_with("_xsrf=2|"), "{cookie}");
    ///     // With the cookie: the same token, masked afresh, and no new cookie.
    ///     let again = t.fetch_request(t.request("/").header("Cookie", cookie)).await;
    ///     assert_ne!(again.text().unwrap(), first.text().unwrap());
    ///     assert!(again.headers.get("Set-Cookie").is_none());
    /// });
    /// ```
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
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Form;
    /// impl RequestHandler for Form {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let field = cx.xsrf_form_html()?;
    ///         cx.write(format!("<form method=post>{field}<input name=text><button>Send</button></form>"));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Form)]), |t| async move {
    ///     let page = t.fetch("/").await;
    ///     let html = page.text().unwrap();
    ///     assert!(html.starts_with("<form method=post><input type=\"hidden\" name=\"_xsrf\" value=\"2|"));
    ///     assert!(page.headers.get("Set-Cookie").unwrap().starts_with("_xsrf="));
    /// });
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
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Comment;
    /// impl RequestHandler for Comment {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let token = cx.xsrf_token()?;
    ///         cx.write(token);
    ///         Ok(())
    ///     }
    ///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.check_xsrf_cookie()?; // what the `xsrf_cookies` setting does for every handler
    ///         cx.write("posted");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Comment)]), |t| async move {
    ///     let page = t.fetch("/").await;
    ///     let token = page.text().unwrap();
    ///     let post = || t.request("/").method("POST").body("text=hi");
    ///     assert_eq!(t.fetch_request(post()).await.code, 403);
    ///     let with_token = post().header("Cookie", &format!("_xsrf={token}")).header("X-XSRFToken", token);
    ///     assert_eq!(t.fetch_request(with_token).await.text().unwrap(), "posted");
    /// });
    /// ```
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
/// use tornado_web::{authenticated, testing, url, Application, Context, RequestHandler, Settings};
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
///
/// let settings = Settings {
///     login_url: Some("/login".into()),
///     cookie_secret: Some("secret".into()),
///     ..Settings::default()
/// };
/// testing::run(|| Application::with_settings(vec![url("/compose", || Compose)], settings), |t| async move {
///     let r = t.fetch_request(t.request("/compose").follow_redirects(false)).await;
///     assert_eq!(r.code, 302);
///     assert_eq!(r.headers.get("Location"), Some("/login?next=%2Fcompose"));
/// });
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
