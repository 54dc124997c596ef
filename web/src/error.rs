//! [`Error`], [`HttpError`] and [`Finish`]: what a handler returns with `?` (Tornado's
//! `HTTPError`, `Finish` and uncaught exceptions).

use std::backtrace::{Backtrace, BacktraceStatus};
use std::fmt;

use http::StatusCode;

/// What handler methods return: `Ok(())`, or an [`Error`] that the framework turns
/// into a response.
///
/// ```
/// use tornado_web::HttpError;
///
/// /// A route's id, or the 404 a bad one earns.
/// fn story_id(arg: &str) -> tornado_web::Result<u32> {
///     arg.parse().map_err(|_| HttpError::new(404).into())
/// }
///
/// assert_eq!(story_id("7").unwrap(), 7);
/// assert_eq!(story_id("x").unwrap_err().status(), http::StatusCode::NOT_FOUND);
/// ```
pub type Result<T = (), E = Error> = std::result::Result<T, E>;

/// An error that answers with an HTTP status (Tornado's `HTTPError`).
///
/// Return it (with `?` or `Err(...into())`) from any handler method: the handler's
/// [`write_error`](crate::RequestHandler::write_error) page goes out with `status`,
/// and the [`log_message`](HttpError::log_message), if any, is logged as a warning
/// with the request (never shown to the client). A
/// [`reason`](HttpError::with_reason) replaces the status line's standard phrase and
/// is what the default error page shows.
///
/// ```
/// use tornado_web::{testing, url, Application, Context, HttpError, RequestHandler};
///
/// struct Story;
/// impl RequestHandler for Story {
///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
///         let id: u32 = cx
///             .path_arg(0)
///             .unwrap_or("")
///             .parse()
///             .map_err(|_| HttpError::with_log(404, "story id is not a number"))?;
///         cx.write(format!("story {id}"));
///         Ok(())
///     }
/// }
///
/// testing::run(|| Application::new(vec![url("/story/(.*)", || Story)]), |t| async move {
///     assert_eq!(t.fetch("/story/7").await.text().unwrap(), "story 7");
///     assert_eq!(t.fetch("/story/seven").await.code, 404);
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    status: u16,
    log_message: Option<String>,
    reason: Option<String>,
    /// Set by a handler method the handler did not implement: that method is left out
    /// of the 405's `Allow`.
    pub(crate) unimplemented: Option<http::Method>,
}

impl HttpError {
    /// An error answering `status` (e.g. `404`). A code outside 200–599 answers 500 (an
    /// informational 1xx cannot end a response: the client would wait for another).
    ///
    /// ```
    /// use http::StatusCode;
    /// use tornado_web::HttpError;
    ///
    /// assert_eq!(HttpError::new(404).status(), StatusCode::NOT_FOUND);
    /// assert_eq!(HttpError::new(404).to_string(), "HTTP 404: Not Found");
    /// assert_eq!(HttpError::new(101).status(), StatusCode::INTERNAL_SERVER_ERROR);
    /// ```
    pub fn new(status: u16) -> Self {
        HttpError {
            status,
            log_message: None,
            reason: None,
            unimplemented: None,
        }
    }

    /// An error answering `status` whose `log_message` is logged (as Tornado's
    /// `HTTPError(status, log_message)`); the client does not see it.
    ///
    /// ```
    /// use tornado_web::HttpError;
    ///
    /// let e = HttpError::with_log(403, "token expired for user 42");
    /// assert_eq!(e.log_message(), Some("token expired for user 42"));
    /// assert_eq!(e.to_string(), "HTTP 403: Forbidden (token expired for user 42)");
    /// ```
    pub fn with_log(status: u16, log_message: impl Into<String>) -> Self {
        HttpError {
            log_message: Some(log_message.into()),
            ..HttpError::new(status)
        }
    }

    /// Sets the reason phrase sent in the status line and shown by the default error
    /// page (Tornado's `reason=`).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, HttpError, RequestHandler};
    ///
    /// struct Closed;
    /// impl RequestHandler for Closed {
    ///     async fn get(&mut self, _cx: &mut Context) -> tornado_web::Result {
    ///         Err(HttpError::new(503).with_reason("Gone Fishing").into())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Closed)]), |t| async move {
    ///     let r = t.fetch("/").await;
    ///     assert_eq!((r.code, r.reason.as_str()), (503, "Gone Fishing"));
    ///     assert!(r.text().unwrap().contains("Gone Fishing"));
    /// });
    /// ```
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// The status code this error answers with (500 for a code outside 200–599).
    ///
    /// ```
    /// use http::StatusCode;
    /// use tornado_web::HttpError;
    ///
    /// assert_eq!(HttpError::new(418).status(), StatusCode::IM_A_TEAPOT);
    /// assert_eq!(HttpError::new(600).status(), StatusCode::INTERNAL_SERVER_ERROR);
    /// ```
    pub fn status(&self) -> StatusCode {
        match StatusCode::from_u16(self.status) {
            Ok(s) if (200..600).contains(&self.status) => s,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message for the log, if any.
    ///
    /// ```
    /// use tornado_web::HttpError;
    ///
    /// assert_eq!(HttpError::with_log(400, "bad date").log_message(), Some("bad date"));
    /// assert_eq!(HttpError::new(400).log_message(), None);
    /// ```
    pub fn log_message(&self) -> Option<&str> {
        self.log_message.as_deref()
    }

    /// The reason phrase given with [`with_reason`](Self::with_reason), if any.
    ///
    /// ```
    /// use tornado_web::HttpError;
    ///
    /// assert_eq!(HttpError::new(503).with_reason("Gone Fishing").reason(), Some("Gone Fishing"));
    /// assert_eq!(HttpError::new(503).reason(), None); // the standard phrase goes out
    /// ```
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// 400 for a missing argument: the reason names it (Tornado's
    /// `MissingArgumentError`).
    ///
    /// ```
    /// use tornado_web::HttpError;
    ///
    /// let e = HttpError::missing_argument("email");
    /// assert_eq!(e.status().as_u16(), 400);
    /// assert_eq!(e.reason(), Some("Missing argument email"));
    /// ```
    pub fn missing_argument(name: &str) -> Self {
        HttpError::with_log(400, format!("Missing argument {name}"))
            .with_reason(format!("Missing argument {name}"))
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.status();
        let reason = self
            .reason
            .as_deref()
            .or(status.canonical_reason())
            .unwrap_or("Unknown");
        write!(f, "HTTP {}: {reason}", self.status)?;
        if let Some(m) = &self.log_message {
            write!(f, " ({m})")?;
        }
        Ok(())
    }
}

impl std::error::Error for HttpError {}

/// Ends the request without an error (Tornado's `Finish`): whatever was written is
/// sent (the response is finished if it was not), nothing is logged.
///
/// ```
/// use tornado_web::{testing, url, Application, Context, Finish, RequestHandler};
///
/// struct Guarded;
/// impl RequestHandler for Guarded {
///     async fn prepare(&mut self, cx: &mut Context) -> tornado_web::Result {
///         if cx.request().headers().get("Authorization").is_none() {
///             cx.set_status(401)?;
///             cx.set_header("WWW-Authenticate", "Basic realm=\"x\"")?;
///             return Err(Finish.into());
///         }
///         Ok(())
///     }
///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
///         cx.write("secret");
///         Ok(())
///     }
/// }
///
/// testing::run(|| Application::new(vec![url("/", || Guarded)]), |t| async move {
///     let r = t.fetch("/").await;
///     assert_eq!(r.code, 401);
///     assert_eq!(r.headers.get("WWW-Authenticate"), Some("Basic realm=\"x\""));
///     let authorized = t.fetch_request(t.request("/").header("Authorization", "Basic eDp5")).await;
///     assert_eq!(authorized.text().unwrap(), "secret");
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Finish;

impl fmt::Display for Finish {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("request finished early")
    }
}

impl std::error::Error for Finish {}

/// Why a handler stopped: an [`HttpError`], a [`Finish`], any other error turned into
/// one with `?` (a 500), or a panic (a 500).
///
/// Any `std::error::Error` converts into it, so `?` works on I/O, parse and JSON
/// errors alike; such an error answers 500 and is logged with its request and a
/// backtrace. An [`HttpError`] or [`Finish`] converted the same way keeps its meaning.
///
/// ```
/// use tornado_web::Error;
///
/// let e: Error = "x".parse::<u8>().unwrap_err().into();
/// assert_eq!(e.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
/// let e: Error = tornado_web::HttpError::new(404).into();
/// assert_eq!(e.status(), http::StatusCode::NOT_FOUND);
/// ```
pub struct Error {
    kind: Kind,
}

pub(crate) enum Kind {
    Http(HttpError),
    Finish,
    Other {
        error: Box<dyn std::error::Error + 'static>,
        backtrace: Backtrace,
    },
    Panic {
        message: String,
        backtrace: Option<Backtrace>,
    },
}

impl Error {
    pub(crate) fn kind(&self) -> &Kind {
        &self.kind
    }

    pub(crate) fn panic(message: String, backtrace: Option<Backtrace>) -> Self {
        Error {
            kind: Kind::Panic { message, backtrace },
        }
    }

    /// A 500 error from a message (for failures that are not a `std::error::Error`).
    ///
    /// ```
    /// let e = tornado_web::Error::msg("the database is away");
    /// assert_eq!(e.to_string(), "the database is away");
    /// ```
    pub fn msg(message: impl fmt::Display) -> Self {
        Error::from(Message(message.to_string()))
    }

    /// The status this error answers with.
    ///
    /// ```
    /// use http::StatusCode;
    /// use tornado_web::{Error, Finish, HttpError};
    ///
    /// assert_eq!(Error::from(HttpError::new(404)).status(), StatusCode::NOT_FOUND);
    /// assert_eq!(Error::from(Finish).status(), StatusCode::OK); // no error: the response's own
    /// assert_eq!(Error::msg("db down").status(), StatusCode::INTERNAL_SERVER_ERROR);
    /// ```
    pub fn status(&self) -> StatusCode {
        match &self.kind {
            Kind::Http(e) => e.status(),
            Kind::Finish => StatusCode::OK,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The [`HttpError`] inside, if it is one.
    ///
    /// ```
    /// use tornado_web::{Error, HttpError};
    ///
    /// let e = Error::from(HttpError::with_log(403, "no token"));
    /// assert_eq!(e.as_http().and_then(HttpError::log_message), Some("no token"));
    /// assert!(Error::msg("db down").as_http().is_none());
    /// ```
    pub fn as_http(&self) -> Option<&HttpError> {
        match &self.kind {
            Kind::Http(e) => Some(e),
            _ => None,
        }
    }

    /// The error inside, as a `T`, if it is one: the error a `?` converted (an
    /// `io::Error`, a [`TemplateError`](crate::TemplateError), your own), or the
    /// [`HttpError`] or [`Finish`] this is. Only that error is looked at, not its
    /// `source()` chain; a panic holds none.
    ///
    /// `Error` cannot itself implement `std::error::Error`: any such error converts into
    /// it, and the standard library's `From<T> for T` would then be implemented twice.
    ///
    /// ```
    /// use std::io;
    /// use tornado_web::{Error, HttpError};
    ///
    /// let e = Error::from(io::Error::new(io::ErrorKind::NotFound, "no such file"));
    /// assert_eq!(e.downcast_ref::<io::Error>().map(io::Error::kind), Some(io::ErrorKind::NotFound));
    /// assert!(e.downcast_ref::<HttpError>().is_none());
    ///
    /// let e = Error::from(HttpError::new(404));
    /// assert_eq!(e.downcast_ref::<HttpError>().map(|h| h.status().as_u16()), Some(404));
    /// assert!(e.downcast_ref::<io::Error>().is_none());
    /// ```
    pub fn downcast_ref<T: std::error::Error + 'static>(&self) -> Option<&T> {
        let error: &(dyn std::error::Error + 'static) = match &self.kind {
            Kind::Http(e) => e,
            Kind::Finish => &Finish,
            Kind::Other { error, .. } => error.as_ref(),
            Kind::Panic { .. } => return None,
        };
        error.downcast_ref()
    }

    /// Whether this is a [`Finish`].
    ///
    /// ```
    /// use tornado_web::{Error, Finish};
    ///
    /// assert!(Error::from(Finish).is_finish());
    /// assert!(!Error::msg("db down").is_finish());
    /// ```
    pub fn is_finish(&self) -> bool {
        matches!(self.kind, Kind::Finish)
    }

    /// Whether the handler panicked.
    ///
    /// ```
    /// use http::StatusCode;
    /// use tornado_web::{testing, url, Application, Context, Error, RequestHandler};
    ///
    /// struct Buggy;
    /// impl RequestHandler for Buggy {
    ///     async fn get(&mut self, _cx: &mut Context) -> tornado_web::Result {
    ///         let empty: Vec<u8> = Vec::new();
    ///         let _ = empty[0]; // panics
    ///         Ok(())
    ///     }
    ///     fn write_error(cx: &mut Context, _status: StatusCode, error: Option<&Error>) {
    ///         let panicked = error.is_some_and(Error::is_panic);
    ///         cx.write(if panicked { "a bug: we are on it" } else { "an error" });
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Buggy)]), |t| async move {
    ///     let r = t.fetch("/").await;
    ///     assert_eq!((r.code, r.text().unwrap()), (500, "a bug: we are on it"));
    /// });
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self.kind, Kind::Panic { .. })
    }

    /// The backtrace captured with the error (with the `debug` or `serve_traceback`
    /// setting, or `RUST_BACKTRACE` set), if any.
    ///
    /// ```
    /// use http::StatusCode;
    /// use tornado_web::{testing, url, Application, Context, Error, HttpError, RequestHandler, Settings};
    ///
    /// struct Reader;
    /// impl RequestHandler for Reader {
    ///     async fn get(&mut self, _cx: &mut Context) -> tornado_web::Result {
    ///         std::fs::read("/no/such/file")?;
    ///         Ok(())
    ///     }
    ///     fn write_error(cx: &mut Context, _status: StatusCode, error: Option<&Error>) {
    ///         let traced = error.and_then(Error::backtrace).is_some();
    ///         cx.write(format!("backtrace: {traced}"));
    ///     }
    /// }
    ///
    /// // An HttpError carries none.
    /// assert!(Error::from(HttpError::new(404)).backtrace().is_none());
    /// let settings = Settings { serve_traceback: true, ..Settings::default() };
    /// testing::run(|| Application::with_settings(vec![url("/", || Reader)], settings), |t| async move {
    ///     assert_eq!(t.fetch("/").await.text().unwrap(), "backtrace: true");
    /// });
    /// ```
    pub fn backtrace(&self) -> Option<&Backtrace> {
        let bt = match &self.kind {
            Kind::Other { backtrace, .. } => Some(backtrace),
            Kind::Panic { backtrace, .. } => backtrace.as_ref(),
            _ => None,
        }?;
        (bt.status() == BacktraceStatus::Captured).then_some(bt)
    }
}

#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Message {}

impl<E: std::error::Error + 'static> From<E> for Error {
    fn from(error: E) -> Self {
        let boxed: Box<dyn std::error::Error + 'static> = Box::new(error);
        let boxed = match boxed.downcast::<HttpError>() {
            Ok(e) => {
                return Error {
                    kind: Kind::Http(*e),
                };
            }
            Err(b) => b,
        };
        if boxed.is::<Finish>() {
            return Error { kind: Kind::Finish };
        }
        Error {
            kind: Kind::Other {
                error: boxed,
                backtrace: crate::panic::capture_backtrace(),
            },
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Http(e) => e.fmt(f),
            Kind::Finish => Finish.fmt(f),
            Kind::Other { error, .. } => {
                error.fmt(f)?;
                let mut source = error.source();
                while let Some(s) = source {
                    write!(f, ": {s}")?;
                    source = s.source();
                }
                Ok(())
            }
            Kind::Panic { message, .. } => write!(f, "panic: {message}"),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Http(e) => f.debug_tuple("Http").field(e).finish(),
            Kind::Finish => f.write_str("Finish"),
            Kind::Other { error, .. } => f.debug_tuple("Other").field(error).finish(),
            Kind::Panic { message, .. } => f.debug_tuple("Panic").field(message).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_keep_their_meaning() {
        let e: Error = HttpError::with_log(404, "gone").into();
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        assert_eq!(e.as_http().unwrap().log_message(), Some("gone"));
        let e: Error = Finish.into();
        assert!(e.is_finish());
        let io = std::io::Error::other("disk on fire");
        let e: Error = io.into();
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(e.to_string(), "disk on fire");
    }

    #[test]
    fn downcast_ref_reaches_the_error_inside() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "no");
        let e = Error::from(io);
        let inner = e.downcast_ref::<std::io::Error>().unwrap();
        assert_eq!(inner.kind(), std::io::ErrorKind::PermissionDenied);
        assert!(e.downcast_ref::<HttpError>().is_none());
        assert!(e.downcast_ref::<Finish>().is_none());

        let e = Error::from(HttpError::with_log(403, "no token"));
        assert_eq!(
            e.downcast_ref::<HttpError>().unwrap().log_message(),
            Some("no token")
        );
        assert!(e.downcast_ref::<std::io::Error>().is_none());
        assert!(e.downcast_ref::<crate::TemplateError>().is_none());

        let e = Error::from(Finish);
        assert!(e.downcast_ref::<Finish>().is_some());
        assert!(e.downcast_ref::<HttpError>().is_none());

        let e = Error::panic("boom".into(), None);
        assert!(e.downcast_ref::<HttpError>().is_none());
        assert!(e.downcast_ref::<std::io::Error>().is_none());
    }

    #[test]
    fn downcast_ref_looks_at_the_outer_error_only() {
        #[derive(Debug)]
        struct Wrapper(std::io::Error);
        impl fmt::Display for Wrapper {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("wrapped")
            }
        }
        impl std::error::Error for Wrapper {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = Error::from(Wrapper(std::io::Error::other("inner")));
        assert!(e.downcast_ref::<Wrapper>().is_some());
        assert!(e.downcast_ref::<std::io::Error>().is_none());
    }

    #[test]
    fn bad_codes_answer_500() {
        assert_eq!(
            HttpError::new(99).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            HttpError::new(100).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            HttpError::new(600).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(HttpError::new(418).status().as_u16(), 418);
    }

    #[test]
    fn display_names_status_reason_and_message() {
        let e = HttpError::with_log(403, "no token").with_reason("Go Away");
        assert_eq!(e.to_string(), "HTTP 403: Go Away (no token)");
        assert_eq!(
            HttpError::missing_argument("body").reason(),
            Some("Missing argument body")
        );
    }
}
