//! Built-in handlers: [`RedirectHandler`], [`ErrorHandler`], [`FallbackHandler`].

use std::fmt;
use std::rc::Rc;

use bytes::Bytes;
use http::{Method, StatusCode};
use tornado_httpserver::httputil::{HttpServerRequest, parse_qsl, url_concat};
use tornado_httpserver::{
    BodyMode, HttpMessageDelegate, HttpServerConnectionDelegate, ResponseWriter,
};

use crate::application::{AppShared, IntoTarget, Route, Target};
use crate::context::Context;
use crate::dispatch::ErasedMessage;
use crate::error::{Error, HttpError, Result};
use crate::handler::RequestHandler;
use crate::routing::PathArgs;

/// Answers every request with an error status (Tornado's `ErrorHandler`); what
/// requests matching no route get, as a 404.
///
/// ```
/// use tornado_web::{testing, url, Application, ErrorHandler, Settings};
///
/// let settings = Settings { xsrf_cookies: true, ..Settings::default() };
/// let routes = vec![url("/gone", || ErrorHandler::new(410))];
/// let app = || Application::with_settings(routes, settings);
/// testing::run(app, |t| async move {
///     assert_eq!(t.fetch("/gone").await.code, 410);
///     // Not 403 for the missing XSRF token: there is nothing to protect.
///     assert_eq!(t.fetch_request(t.request("/gone").method("POST").body("")).await.code, 410);
/// });
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ErrorHandler {
    status: u16,
}

impl ErrorHandler {
    /// A handler answering `status`.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, ErrorHandler};
    ///
    /// // The whole API is down for maintenance; the rest of the site is not.
    /// let app = || Application::new(vec![url(r"/api/.*", || ErrorHandler::new(503))]);
    /// testing::run(app, |t| async move {
    ///     let r = t.fetch("/api/orders").await;
    ///     assert_eq!(r.code, 503);
    ///     assert!(r.text().unwrap().contains("503: Service Unavailable"));
    /// });
    /// ```
    pub fn new(status: u16) -> Self {
        ErrorHandler { status }
    }
}

impl RequestHandler for ErrorHandler {
    async fn prepare(&mut self, _cx: &mut Context) -> Result {
        Err(HttpError::new(self.status).into())
    }

    /// A POST to an error page changes nothing: no XSRF check, so a POST to a wrong
    /// URL answers 404, not 403 (as in Tornado).
    fn check_xsrf_cookie(&mut self, _cx: &mut Context) -> Result {
        Ok(())
    }

    /// Likewise, any origin may reach an error page.
    fn check_trusted_origin(&self, _cx: &Context, _origin: &str) -> bool {
        true
    }
}

/// Redirects to a URL built from the route's groups (Tornado's `RedirectHandler`):
/// `{0}`, `{1}`, ... are the positional groups, `{name}` the named ones (`{{` and
/// `}}` are braces); the request's query arguments are appended. Permanent (301) by
/// default. Serves `GET`.
///
/// As in Tornado 6.6, what is substituted may not change the target's scheme or host
/// as a browser would read them: `/{0}` with `//evil.example` for `{0}` is a 400, not
/// a redirect to another site, as is a target with control characters. So a
/// substitution can fill the path, query or fragment of the template, never its scheme
/// or host.
///
/// ```
/// use tornado_web::{testing, url, Application, RedirectHandler};
///
/// let app = || Application::new(vec![
///     url(r"/photos/(.*)", || RedirectHandler::new("/pictures/{0}")),
///     url(r"/old", || RedirectHandler::new("/new").permanent(false)),
///     url(r"/to/(.*)", || RedirectHandler::new("/{0}")),
/// ]);
/// testing::run(app, |t| async move {
///     let get = |path: &str| t.fetch_request(t.request(path).follow_redirects(false));
///     let r = get("/photos/cat.jpg?size=2").await;
///     assert_eq!((r.code, r.headers.get("Location")), (301, Some("/pictures/cat.jpg?size=2")));
///     let r = get("/old").await;
///     assert_eq!((r.code, r.headers.get("Location")), (302, Some("/new")));
///     // `/{0}` filled with `/evil.example` would name another host: refused.
///     assert_eq!(get("/to//evil.example").await.code, 400);
///     assert_eq!(get("/photos//evil.example").await.code, 301);
/// });
/// ```
#[derive(Debug, Clone)]
pub struct RedirectHandler {
    url: String,
    status: StatusCode,
}

impl RedirectHandler {
    /// A permanent redirect to `url` (a template, see above).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, RedirectHandler};
    ///
    /// let to = || RedirectHandler::new("/posts/{slug}?year={year}");
    /// let app = move || Application::new(vec![url(r"/(?P<year>\d{4})/(?P<slug>[\w-]+)", to)]);
    /// testing::run(app, |t| async move {
    ///     let request = t.request("/2024/hello-world?ref=feed").follow_redirects(false);
    ///     let r = t.fetch_request(request).await;
    ///     assert_eq!(r.code, 301);
    ///     // The client's query goes on after the template's.
    ///     assert_eq!(r.headers.get("Location"), Some("/posts/hello-world?year=2024&ref=feed"));
    /// });
    /// ```
    pub fn new(url: impl Into<String>) -> Self {
        RedirectHandler {
            url: url.into(),
            status: StatusCode::MOVED_PERMANENTLY,
        }
    }

    /// `false`: a temporary redirect (302).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, RedirectHandler};
    ///
    /// // While the new page is tried out, browsers should not remember the move.
    /// let to = || RedirectHandler::new("/pricing-beta").permanent(false);
    /// let app = move || Application::new(vec![url("/pricing", to)]);
    /// testing::run(app, |t| async move {
    ///     let r = t.fetch_request(t.request("/pricing").follow_redirects(false)).await;
    ///     assert_eq!((r.code, r.headers.get("Location")), (302, Some("/pricing-beta")));
    /// });
    /// ```
    pub fn permanent(mut self, permanent: bool) -> Self {
        self.status = if permanent {
            StatusCode::MOVED_PERMANENTLY
        } else {
            StatusCode::FOUND
        };
        self
    }

    /// Redirect with this status (e.g. 307 or 308 to keep the method).
    ///
    /// ```
    /// use http::StatusCode;
    /// use tornado_web::{testing, url, Application, RedirectHandler};
    ///
    /// let to = || RedirectHandler::new("/v2/items").status(StatusCode::PERMANENT_REDIRECT);
    /// testing::run(move || Application::new(vec![url("/v1/items", to)]), |t| async move {
    ///     let r = t.fetch_request(t.request("/v1/items").follow_redirects(false)).await;
    ///     assert_eq!((r.code, r.headers.get("Location")), (308, Some("/v2/items")));
    /// });
    /// ```
    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
}

/// Fills `{0}` / `{name}` in `template` from the path arguments.
fn format_url<'a>(template: &str, lookup: impl Fn(&str) -> Option<&'a str>) -> Result<String> {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('}') {
            return Err(Error::msg(format!(
                "single '}}' in redirect URL {template:?}"
            )));
        }
        let Some(end) = tail.find('}') else {
            return Err(Error::msg(format!(
                "unclosed '{{' in redirect URL {template:?}"
            )));
        };
        let key = &tail[1..end];
        match lookup(key) {
            Some(v) => out.push_str(v),
            None => {
                return Err(Error::msg(format!(
                    "redirect URL {template:?} names {{{key}}}, which the route's pattern does not capture"
                )));
            }
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

impl RequestHandler for RedirectHandler {
    const SUPPORTED_METHODS: &'static [Method] = &[Method::GET];

    async fn get(&mut self, cx: &mut Context) -> Result {
        let mut to = format_url(&self.url, |key| match key.parse::<usize>() {
            Ok(n) => cx.path_arg(n),
            Err(_) => cx.path_kwarg(key),
        })?;
        // The client's query arguments go on, re-encoded, before any fragment of the
        // target (Tornado's `url_concat` of `qs_to_qsl`: grouped by name, in the order
        // each name first came).
        let query = query_pairs(cx.request().query());
        if !query.is_empty() {
            to = url_concat(&to, query);
        }
        // What was substituted must not move the redirect to another scheme or host,
        // as a browser reads them (Tornado 6.6): `/go/(.*)` to `/{0}` must not send
        // `/go//evil.example` to `//evil.example`.
        let (prefix, substituted) = literal_prefix(&self.url);
        let unchanged = match (scheme_and_netloc(&prefix), scheme_and_netloc(&to)) {
            (Some(template), Some(target)) => {
                template == target
                    // The host would come wholly from a substitution (or a browser
                    // would find one where the parse does not, as in `https:///h`).
                    && !(substituted
                        && matches!(&*template.0, "http" | "https")
                        && template.1.is_empty())
            }
            _ => false,
        };
        if !unchanged {
            return Err(HttpError::with_log(
                400,
                format!("Redirect URL cannot change the scheme or netloc: {to:?}"),
            )
            .into());
        }
        if to.bytes().any(|b| matches!(b, 0..=8 | 0x0a..=0x1f | 0x7f)) {
            // A 400 rather than the 500 a header with such a byte would be.
            return Err(HttpError::with_log(
                400,
                format!("Redirect URL contains invalid characters: {to:?}"),
            )
            .into());
        }
        cx.redirect_with_status(&to, self.status)
    }
}

/// A query's arguments as Tornado's `qs_to_qsl(parse_qs(...))` lists them: decoded,
/// blank values kept, grouped by name in the order each name first came.
fn query_pairs(query: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    // Bytes, not text: a name that is not UTF-8 goes back out as it came. Each field is
    // ranked by where its name first came, and a stable sort groups them (linear in
    // the fields, where a search per name would be quadratic in a long query).
    let mut first: std::collections::HashMap<Vec<u8>, usize> = Default::default();
    let mut pairs: Vec<_> = parse_qsl(query.as_bytes())
        .map(|(name, value)| {
            let next = first.len();
            let rank = *first.entry(name.clone()).or_insert(next);
            (rank, (name, value))
        })
        .collect();
    pairs.sort_by_key(|&(rank, _)| rank);
    pairs.into_iter().map(|(_, pair)| pair).collect()
}

/// The text of a redirect template before its first substitution (`{{` and `}}` read
/// as the braces they stand for), and whether it has a substitution at all.
fn literal_prefix(template: &str) -> (String, bool) {
    let mut prefix = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        prefix.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            prefix.push_str(&tail[..1]);
            rest = &tail[2..];
        } else if tail.starts_with('{') {
            return (prefix, true);
        } else {
            prefix.push('}');
            rest = &tail[1..];
        }
    }
    prefix.push_str(rest);
    (prefix, false)
}

/// The scheme and the netloc (user info, host and port), lowercased, that a browser
/// would see in `url` (Tornado 6.6's `_scheme_and_netloc`): both empty for a relative
/// URL, `None` for one the parse refuses (an unbalanced or invalid `[…]` host).
///
/// Cleaned first as a browser cleans it: control characters and spaces trimmed from
/// both ends, tabs and line breaks removed, backslashes read as slashes, and any run
/// of slashes that starts it read as two.
fn scheme_and_netloc(url: &str) -> Option<(String, String)> {
    let cleaned: String = url
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .map(|c| if c == '\\' { '/' } else { c })
        .collect();
    let mut rest = cleaned.as_str();
    if rest.starts_with("//") {
        rest = &rest[rest.len() - rest.trim_start_matches('/').len() - 2..];
    }
    // A scheme: a letter, then letters, digits, `+`, `-` or `.`, up to a colon.
    let mut scheme = String::new();
    if let Some(colon) = rest.find(':')
        && rest.as_bytes()[0].is_ascii_alphabetic()
        && rest[..colon]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        scheme = rest[..colon].to_ascii_lowercase();
        rest = &rest[colon + 1..];
    }
    let mut netloc = String::new();
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        netloc = after[..end].to_lowercase();
        if netloc.contains('[') != netloc.contains(']') {
            return None;
        }
        if let Some(open) = netloc.find('[') {
            let close = netloc.find(']')?;
            let inside = netloc.get(open + 1..close)?;
            let ipv6 = inside.parse::<std::net::Ipv6Addr>().is_ok();
            if !ipv6 && !inside.starts_with('v') {
                return None;
            }
        }
    }
    Some((scheme, netloc))
}

/// Mounts any [`HttpServerConnectionDelegate`] (a closure `|request| async {
/// Response }`, or a streaming delegate) under a route (Tornado's `FallbackHandler`,
/// which hosts a `WSGIContainer`): requests matching the route go to it as they would
/// to an [`HttpServer`](tornado_httpserver::HttpServer) of its own, body streaming
/// included. The delegate logs its own requests.
///
/// ```
/// use tornado_httpserver::{Response, httputil::HttpServerRequest};
/// use tornado_web::{testing, url, Application, FallbackHandler};
///
/// let legacy = |req: HttpServerRequest| async move {
///     Response::text(format!("legacy service saw {}", req.path()))
/// };
/// let app = move || Application::new(vec![url(r"/legacy/.*", FallbackHandler::new(legacy))]);
/// testing::run(app, |t| async move {
///     let r = t.fetch("/legacy/orders?id=1").await;
///     assert_eq!(r.text().unwrap(), "legacy service saw /legacy/orders");
///     assert_eq!(t.fetch("/elsewhere").await.code, 404);
/// });
/// ```
pub struct FallbackHandler<D> {
    delegate: Rc<D>,
}

impl<D> fmt::Debug for FallbackHandler<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FallbackHandler")
    }
}

impl<D: HttpServerConnectionDelegate> FallbackHandler<D> {
    /// Mounts `delegate`.
    ///
    /// ```
    /// use http::StatusCode;
    /// use tornado_httpserver::{Response, httputil::HttpServerRequest};
    /// use tornado_web::{testing, url, Application, FallbackHandler};
    ///
    /// let teapot = |_req: HttpServerRequest| async {
    ///     let r = Response::text("short and stout").with_status(StatusCode::IM_A_TEAPOT);
    ///     r.with_header("X-Pot", "1")
    /// };
    /// let app = move || Application::new(vec![url("/tea", FallbackHandler::new(teapot))]);
    /// testing::run(app, |t| async move {
    ///     let r = t.fetch("/tea").await;
    ///     assert_eq!((r.code, r.headers.get("X-Pot")), (418, Some("1")));
    ///     assert_eq!(r.text().unwrap(), "short and stout");
    /// });
    /// ```
    pub fn new(delegate: D) -> Self {
        FallbackHandler {
            delegate: Rc::new(delegate),
        }
    }
}

impl<D: HttpServerConnectionDelegate> IntoTarget for FallbackHandler<D> {
    fn into_target(self) -> Target {
        Target::from_route(Rc::new(self))
    }
}

impl<D: HttpServerConnectionDelegate> Route for FallbackHandler<D> {
    fn start(
        &self,
        _app: &Rc<AppShared>,
        request: &HttpServerRequest,
        _args: PathArgs,
    ) -> Box<dyn ErasedMessage> {
        Box::new(Fallback(self.delegate.clone().start_request(request)))
    }
}

struct Fallback<M>(M);

impl<M: HttpMessageDelegate> ErasedMessage for Fallback<M> {
    fn body_mode(&self) -> BodyMode {
        self.0.body_mode()
    }

    fn headers_received(
        &mut self,
        writer: ResponseWriter,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>> {
        Box::pin(async move { self.0.headers_received(&writer).await })
    }

    fn data_received(
        &mut self,
        chunk: Bytes,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>> {
        Box::pin(self.0.data_received(chunk))
    }

    fn finish(
        self: Box<Self>,
        request: HttpServerRequest,
        writer: ResponseWriter,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> {
        // The application's server leaves the form body to whoever serves the request
        // (`PARSES_BODY`); a mounted delegate that does not parse it gets it parsed,
        // and a malformed one answered, as its own server would.
        let mut request = request;
        if !M::PARSES_BODY
            && self.0.body_mode() == BodyMode::Buffer
            && !request.body.is_empty()
            && let Err(e) = request.parse_body()
        {
            log::info!("bad request body: {e}");
            self.0.on_connection_close();
            writer.send(tornado_httpserver::Response::new(e.status()));
            return Box::pin(std::future::ready(()));
        }
        Box::pin(self.0.finish(request, writer))
    }

    fn on_connection_close(self: Box<Self>) {
        self.0.on_connection_close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_templates() {
        let lookup = |k: &str| match k {
            "0" => Some("a b"),
            "1" => Some("x"),
            "id" => Some("42"),
            _ => None,
        };
        let cases = [
            ("/plain", Ok("/plain")),
            ("/p/{0}", Ok("/p/a b")),
            ("/{1}/{0}/{id}", Ok("/x/a b/42")),
            ("/{{literal}}/{0}", Ok("/{literal}/a b")),
            ("/{2}", Err("does not capture")),
            ("/{nope}", Err("does not capture")),
            ("/{0", Err("unclosed")),
            ("/0}", Err("single")),
        ];
        for (template, want) in cases {
            match (format_url(template, lookup), want) {
                (Ok(got), Ok(w)) => assert_eq!(got, w, "{template}"),
                (Err(e), Err(w)) => assert!(e.to_string().contains(w), "{template}: {e}"),
                (got, w) => panic!("{template}: got {got:?}, want {w:?}"),
            }
        }
    }
}
