//! What a handler reads: arguments (query and body), path arguments, cookies.

use std::collections::HashMap;

use tornado_httpserver::httputil::{Arguments, Files};

use super::Context;
use crate::error::{HttpError, Result};

/// Which arguments to look in.
#[derive(Clone, Copy)]
enum Source {
    All,
    Query,
    Body,
}

/// The default [`decode_argument`](crate::RequestHandler::decode_argument): UTF-8, or
/// 400 naming the argument (`url` for a path argument without a name).
pub(crate) fn decode_utf8_argument(value: &[u8], name: Option<&str>) -> Result<String> {
    match std::str::from_utf8(value) {
        Ok(s) => Ok(s.to_owned()),
        Err(_) => {
            let shown = String::from_utf8_lossy(&value[..value.len().min(40)]).into_owned();
            Err(HttpError::with_log(
                400,
                format!("Invalid unicode in {}: {shown:?}", name.unwrap_or("url")),
            )
            .into())
        }
    }
}

/// Control characters other than whitespace become spaces (as Tornado does), so an
/// argument cannot smuggle them into logs or pages.
fn clean(mut s: String, strip: bool) -> String {
    if s.bytes().any(|b| matches!(b, 0..=0x08 | 0x0e..=0x1f)) {
        s = s
            .chars()
            .map(|c| {
                if matches!(c as u32, 0..=0x08 | 0x0e..=0x1f) {
                    ' '
                } else {
                    c
                }
            })
            .collect();
    }
    if strip {
        let trimmed = s.trim();
        if trimmed.len() != s.len() {
            return trimmed.to_owned();
        }
    }
    s
}

impl Context {
    fn source(&self, source: Source) -> &Arguments {
        match source {
            Source::All => self.request.arguments(),
            Source::Query => self.request.query_arguments(),
            Source::Body => self.request.body_arguments(),
        }
    }

    fn values(&self, source: Source, name: &str, strip: bool) -> Result<Vec<String>> {
        let Some(raw) = self.source(source).get(name) else {
            return Ok(Vec::new());
        };
        raw.iter()
            .map(|v| Ok(clean((self.hooks.decode_argument)(v, Some(name))?, strip)))
            .collect()
    }

    fn last(&self, source: Source, name: &str, strip: bool) -> Result<Option<String>> {
        let Some(raw) = self.source(source).get(name).and_then(|v| v.last()) else {
            return Ok(None);
        };
        Ok(Some(clean(
            (self.hooks.decode_argument)(raw, Some(name))?,
            strip,
        )))
    }

    fn required(&self, source: Source, name: &str) -> Result<String> {
        self.last(source, name, true)?
            .ok_or_else(|| HttpError::missing_argument(name).into())
    }

    fn or_default(&self, source: Source, name: &str, default: &str) -> Result<String> {
        Ok(self
            .last(source, name, true)?
            .unwrap_or_else(|| default.to_owned()))
    }

    /// The last value of argument `name`, from the query or the form body, decoded
    /// and stripped (Tornado's `get_argument(name)`): a missing argument is a 400 whose
    /// reason names it; a value that is not UTF-8 is a 400 too.
    ///
    /// ```
    /// # use tornado_web::Context;
    /// # fn f(cx: &Context) -> tornado_web::Result {
    /// let body = cx.get_argument("body")?;
    /// # let _ = body; Ok(()) }
    /// ```
    pub fn get_argument(&self, name: &str) -> Result<String> {
        self.required(Source::All, name)
    }

    /// [`get_argument`](Self::get_argument) with a default for a missing argument
    /// (Tornado's `get_argument(name, default)`).
    pub fn get_argument_or(&self, name: &str, default: &str) -> Result<String> {
        self.or_default(Source::All, name, default)
    }

    /// [`get_argument`](Self::get_argument) giving `None` for a missing argument
    /// (Tornado's `get_argument(name, None)`).
    pub fn get_argument_opt(&self, name: &str) -> Result<Option<String>> {
        self.last(Source::All, name, true)
    }

    /// Every value of `name` (query first, then body), decoded and stripped; empty if
    /// there is none (Tornado's `get_arguments`).
    pub fn get_arguments(&self, name: &str) -> Result<Vec<String>> {
        self.values(Source::All, name, true)
    }

    /// [`get_argument`](Self::get_argument) from the query string only.
    pub fn get_query_argument(&self, name: &str) -> Result<String> {
        self.required(Source::Query, name)
    }

    /// [`get_argument_or`](Self::get_argument_or) from the query string only.
    pub fn get_query_argument_or(&self, name: &str, default: &str) -> Result<String> {
        self.or_default(Source::Query, name, default)
    }

    /// [`get_argument_opt`](Self::get_argument_opt) from the query string only.
    pub fn get_query_argument_opt(&self, name: &str) -> Result<Option<String>> {
        self.last(Source::Query, name, true)
    }

    /// [`get_arguments`](Self::get_arguments) from the query string only.
    pub fn get_query_arguments(&self, name: &str) -> Result<Vec<String>> {
        self.values(Source::Query, name, true)
    }

    /// [`get_argument`](Self::get_argument) from the form body only.
    pub fn get_body_argument(&self, name: &str) -> Result<String> {
        self.required(Source::Body, name)
    }

    /// [`get_argument_or`](Self::get_argument_or) from the form body only.
    pub fn get_body_argument_or(&self, name: &str, default: &str) -> Result<String> {
        self.or_default(Source::Body, name, default)
    }

    /// [`get_argument_opt`](Self::get_argument_opt) from the form body only.
    pub fn get_body_argument_opt(&self, name: &str) -> Result<Option<String>> {
        self.last(Source::Body, name, true)
    }

    /// [`get_arguments`](Self::get_arguments) from the form body only.
    pub fn get_body_arguments(&self, name: &str) -> Result<Vec<String>> {
        self.values(Source::Body, name, true)
    }

    /// [`get_argument`](Self::get_argument) without stripping surrounding whitespace
    /// (Tornado's `get_argument(name, strip=False)`): for text whose leading spaces
    /// matter, such as Markdown or a password.
    pub fn get_argument_unstripped(&self, name: &str) -> Result<String> {
        self.last(Source::All, name, false)?
            .ok_or_else(|| HttpError::missing_argument(name).into())
    }

    /// Every value of `name` without stripping surrounding whitespace (Tornado's
    /// `strip=False`); control characters still become spaces.
    ///
    /// ```
    /// # use tornado_web::Context;
    /// # fn f(cx: &Context) -> tornado_web::Result {
    /// let raw: Vec<String> = cx.get_arguments_unstripped("poem")?;
    /// # let _ = raw; Ok(()) }
    /// ```
    pub fn get_arguments_unstripped(&self, name: &str) -> Result<Vec<String>> {
        self.values(Source::All, name, false)
    }

    /// Decodes raw argument bytes with the handler's
    /// [`decode_argument`](crate::RequestHandler::decode_argument).
    pub fn decode_argument(&self, value: &[u8], name: Option<&str>) -> Result<String> {
        (self.hooks.decode_argument)(value, name)
    }

    /// The files of a multipart form body, by field name.
    pub fn files(&self) -> &Files {
        self.request.files()
    }

    /// The request body (empty for a handler that streams it).
    pub fn body(&self) -> &[u8] {
        &self.request.body
    }

    /// The positional groups of the route's pattern, URL-decoded (Tornado passes them
    /// to the method as `*args`). A group that did not take part in the match is `""`.
    pub fn path_args(&self) -> &[String] {
        self.path.as_ref().map_or(&[], |p| &p.0)
    }

    /// Positional group `index` (from 0).
    pub fn path_arg(&self, index: usize) -> Option<&str> {
        self.path_args().get(index).map(String::as_str)
    }

    /// The named groups of the route's pattern (Tornado's `**kwargs`), in pattern
    /// order.
    pub fn path_kwargs(&self) -> &[(String, String)] {
        self.path.as_ref().map_or(&[], |p| &p.1)
    }

    /// Named group `name`.
    pub fn path_kwarg(&self, name: &str) -> Option<&str> {
        self.path_kwargs()
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of cookie `name` sent with the request.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Page;
    /// impl RequestHandler for Page {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let theme = cx.get_cookie("theme").unwrap_or("light").to_owned();
    ///         cx.write(theme);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Page)]), |t| async move {
    ///     let dark = t.fetch_request(t.request("/").header("Cookie", "theme=dark")).await;
    ///     assert_eq!(dark.text().unwrap(), "dark");
    ///     assert_eq!(t.fetch("/").await.text().unwrap(), "light");
    /// });
    /// ```
    pub fn get_cookie(&self, name: &str) -> Option<&str> {
        self.request.cookies().get(name).map(String::as_str)
    }

    /// Every cookie sent with the request.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Names;
    /// impl RequestHandler for Names {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let mut names: Vec<&str> = cx.cookies().keys().map(String::as_str).collect();
    ///         names.sort_unstable();
    ///         let names = names.join(",");
    ///         cx.write(names);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Names)]), |t| async move {
    ///     let r = t.fetch_request(t.request("/").header("Cookie", "b=2; a=1")).await;
    ///     assert_eq!(r.text().unwrap(), "a,b");
    /// });
    /// ```
    pub fn cookies(&self) -> &HashMap<String, String> {
        self.request.cookies()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_spaces_and_whitespace_is_stripped() {
        let cases = [
            ("plain", true, "plain"),
            ("  padded\t", true, "padded"),
            ("  padded\t", false, "  padded\t"),
            ("a\x00b\x1fc", true, "a b c"),
            ("keep\nnewline", false, "keep\nnewline"),
            ("\u{e9}t\u{e9} ", true, "\u{e9}t\u{e9}"),
        ];
        for (input, strip, want) in cases {
            assert_eq!(clean(input.to_owned(), strip), want, "{input:?}");
        }
    }

    #[test]
    fn invalid_utf8_is_a_400_naming_the_argument() {
        let e = decode_utf8_argument(b"\xff\xfe", Some("q")).unwrap_err();
        assert_eq!(e.status().as_u16(), 400);
        assert!(e.to_string().contains("Invalid unicode in q"), "{e}");
        let e = decode_utf8_argument(b"\xff", None).unwrap_err();
        assert!(e.to_string().contains("in url"), "{e}");
        assert_eq!(decode_utf8_argument("é".as_bytes(), None).unwrap(), "é");
    }
}
