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
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Greet;
    /// impl RequestHandler for Greet {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let name = cx.get_argument("name")?;
    ///         cx.write(format!("hello {name}"));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Greet)]), |t| async move {
    ///     assert_eq!(t.fetch("/?name=++Ann+").await.text().unwrap(), "hello Ann");
    ///     assert_eq!(t.fetch("/?name=a&name=Bo").await.text().unwrap(), "hello Bo"); // the last
    ///     let missing = t.fetch("/").await;
    ///     assert_eq!((missing.code, missing.reason.as_str()), (400, "Missing argument name"));
    ///     assert_eq!(t.fetch("/?name=%FF").await.code, 400); // not UTF-8
    /// });
    /// ```
    pub fn get_argument(&self, name: &str) -> Result<String> {
        self.required(Source::All, name)
    }

    /// [`get_argument`](Self::get_argument) with a default for a missing argument
    /// (Tornado's `get_argument(name, default)`).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct List;
    /// impl RequestHandler for List {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let per_page: usize = cx.get_argument_or("per_page", "20")?.parse()?;
    ///         cx.write(format!("{per_page} per page"));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || List)]), |t| async move {
    ///     assert_eq!(t.fetch("/").await.text().unwrap(), "20 per page");
    ///     assert_eq!(t.fetch("/?per_page=50").await.text().unwrap(), "50 per page");
    /// });
    /// ```
    pub fn get_argument_or(&self, name: &str, default: &str) -> Result<String> {
        self.or_default(Source::All, name, default)
    }

    /// [`get_argument`](Self::get_argument) giving `None` for a missing argument
    /// (Tornado's `get_argument(name, None)`).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Search;
    /// impl RequestHandler for Search {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let page = match cx.get_argument_opt("q")? {
    ///             Some(q) => format!("results for {q}"),
    ///             None => "the search form".to_owned(),
    ///         };
    ///         cx.write(page);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Search)]), |t| async move {
    ///     assert_eq!(t.fetch("/?q=rust").await.text().unwrap(), "results for rust");
    ///     assert_eq!(t.fetch("/").await.text().unwrap(), "the search form");
    /// });
    /// ```
    pub fn get_argument_opt(&self, name: &str) -> Result<Option<String>> {
        self.last(Source::All, name, true)
    }

    /// Every value of `name` (query first, then body), decoded and stripped; empty if
    /// there is none (Tornado's `get_arguments`).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Tags;
    /// impl RequestHandler for Tags {
    ///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let tags = cx.get_arguments("tag")?.join(",");
    ///         cx.write(tags);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Tags)]), |t| async move {
    ///     let form = |path: &str, body: &'static str| t.request(path).method("POST")
    ///         .header("Content-Type", "application/x-www-form-urlencoded").body(body);
    ///     let r = t.fetch_request(form("/?tag=a&tag=b", "tag=+c+")).await;
    ///     assert_eq!(r.text().unwrap(), "a,b,c"); // the query's, then the body's, stripped
    ///     assert_eq!(t.fetch_request(form("/", "")).await.text().unwrap(), "");
    /// });
    /// ```
    pub fn get_arguments(&self, name: &str) -> Result<Vec<String>> {
        self.values(Source::All, name, true)
    }

    /// [`get_argument`](Self::get_argument) from the query string only.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Update;
    /// impl RequestHandler for Update {
    ///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let id = cx.get_query_argument("id")?; // never from the form
    ///         cx.write(id);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Update)]), |t| async move {
    ///     let form = |path: &str, body: &'static str| t.request(path).method("POST")
    ///         .header("Content-Type", "application/x-www-form-urlencoded").body(body);
    ///     assert_eq!(t.fetch_request(form("/?id=1", "id=2")).await.text().unwrap(), "1");
    ///     assert_eq!(t.fetch_request(form("/", "id=2")).await.code, 400);
    /// });
    /// ```
    pub fn get_query_argument(&self, name: &str) -> Result<String> {
        self.required(Source::Query, name)
    }

    /// [`get_argument_or`](Self::get_argument_or) from the query string only.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Inbox;
    /// impl RequestHandler for Inbox {
    ///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let folder = cx.get_query_argument_or("folder", "inbox")?;
    ///         cx.write(folder);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Inbox)]), |t| async move {
    ///     let form = |path: &str, body: &'static str| t.request(path).method("POST")
    ///         .header("Content-Type", "application/x-www-form-urlencoded").body(body);
    ///     assert_eq!(t.fetch_request(form("/", "folder=spam")).await.text().unwrap(), "inbox");
    ///     assert_eq!(t.fetch_request(form("/?folder=sent", "")).await.text().unwrap(), "sent");
    /// });
    /// ```
    pub fn get_query_argument_or(&self, name: &str, default: &str) -> Result<String> {
        self.or_default(Source::Query, name, default)
    }

    /// [`get_argument_opt`](Self::get_argument_opt) from the query string only.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Next;
    /// impl RequestHandler for Next {
    ///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let next = cx.get_query_argument_opt("next")?;
    ///         cx.write(format!("{next:?}"));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/login", || Next)]), |t| async move {
    ///     let form = |path: &str, body: &'static str| t.request(path).method("POST")
    ///         .header("Content-Type", "application/x-www-form-urlencoded").body(body);
    ///     let r = t.fetch_request(form("/login?next=%2Fhome", "")).await;
    ///     assert_eq!(r.text().unwrap(), "Some(\"/home\")");
    ///     assert_eq!(t.fetch_request(form("/login", "next=x")).await.text().unwrap(), "None");
    /// });
    /// ```
    pub fn get_query_argument_opt(&self, name: &str) -> Result<Option<String>> {
        self.last(Source::Query, name, true)
    }

    /// [`get_arguments`](Self::get_arguments) from the query string only.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Filter;
    /// impl RequestHandler for Filter {
    ///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let ids = cx.get_query_arguments("id")?.join("+");
    ///         cx.write(ids);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Filter)]), |t| async move {
    ///     let form = |path: &str, body: &'static str| t.request(path).method("POST")
    ///         .header("Content-Type", "application/x-www-form-urlencoded").body(body);
    ///     let r = t.fetch_request(form("/?id=3&id=5", "id=9")).await;
    ///     assert_eq!(r.text().unwrap(), "3+5");
    /// });
    /// ```
    pub fn get_query_arguments(&self, name: &str) -> Result<Vec<String>> {
        self.values(Source::Query, name, true)
    }

    /// [`get_argument`](Self::get_argument) from the form body only.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Comment;
    /// impl RequestHandler for Comment {
    ///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let text = cx.get_body_argument("text")?; // never from the query
    ///         cx.write(text);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Comment)]), |t| async move {
    ///     let form = |path: &str, body: &'static str| t.request(path).method("POST")
    ///         .header("Content-Type", "application/x-www-form-urlencoded").body(body);
    ///     let r = t.fetch_request(form("/?text=from+url", "text=from+form")).await;
    ///     assert_eq!(r.text().unwrap(), "from form");
    ///     let missing = t.fetch_request(form("/?text=from+url", "")).await;
    ///     assert_eq!((missing.code, missing.reason.as_str()), (400, "Missing argument text"));
    /// });
    /// ```
    pub fn get_body_argument(&self, name: &str) -> Result<String> {
        self.required(Source::Body, name)
    }

    /// [`get_argument_or`](Self::get_argument_or) from the form body only.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Vote;
    /// impl RequestHandler for Vote {
    ///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let choice = cx.get_body_argument_or("choice", "abstain")?;
    ///         cx.write(choice);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Vote)]), |t| async move {
    ///     let form = |path: &str, body: &'static str| t.request(path).method("POST")
    ///         .header("Content-Type", "application/x-www-form-urlencoded").body(body);
    ///     assert_eq!(t.fetch_request(form("/", "choice=yes")).await.text().unwrap(), "yes");
    ///     assert_eq!(t.fetch_request(form("/?choice=no", "")).await.text().unwrap(), "abstain");
    /// });
    /// ```
    pub fn get_body_argument_or(&self, name: &str, default: &str) -> Result<String> {
        self.or_default(Source::Body, name, default)
    }

    /// [`get_argument_opt`](Self::get_argument_opt) from the form body only.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Subscribe;
    /// impl RequestHandler for Subscribe {
    ///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         // An unticked checkbox sends nothing.
    ///         let ticked = cx.get_body_argument_opt("newsletter")?.is_some();
    ///         cx.write(format!("newsletter: {ticked}"));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Subscribe)]), |t| async move {
    ///     let form = |path: &str, body: &'static str| t.request(path).method("POST")
    ///         .header("Content-Type", "application/x-www-form-urlencoded").body(body);
    ///     let on = t.fetch_request(form("/", "newsletter=on")).await;
    ///     assert_eq!(on.text().unwrap(), "newsletter: true");
    ///     let off = t.fetch_request(form("/", "email=a%40b.example")).await;
    ///     assert_eq!(off.text().unwrap(), "newsletter: false");
    /// });
    /// ```
    pub fn get_body_argument_opt(&self, name: &str) -> Result<Option<String>> {
        self.last(Source::Body, name, true)
    }

    /// [`get_arguments`](Self::get_arguments) from the form body only.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Order;
    /// impl RequestHandler for Order {
    ///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let items = cx.get_body_arguments("item")?;
    ///         cx.write(format!("{} items: {}", items.len(), items.join(", ")));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Order)]), |t| async move {
    ///     let form = |path: &str, body: &'static str| t.request(path).method("POST")
    ///         .header("Content-Type", "application/x-www-form-urlencoded").body(body);
    ///     let r = t.fetch_request(form("/?item=ignored", "item=tea&item=milk")).await;
    ///     assert_eq!(r.text().unwrap(), "2 items: tea, milk");
    /// });
    /// ```
    pub fn get_body_arguments(&self, name: &str) -> Result<Vec<String>> {
        self.values(Source::Body, name, true)
    }

    /// [`get_argument`](Self::get_argument) without stripping surrounding whitespace
    /// (Tornado's `get_argument(name, strip=False)`): for text whose leading spaces
    /// matter, such as Markdown or a password.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Code;
    /// impl RequestHandler for Code {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let raw = cx.get_argument_unstripped("line")?;
    ///         let stripped = cx.get_argument("line")?;
    ///         cx.write(format!("[{raw}] [{stripped}]"));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Code)]), |t| async move {
    ///     let r = t.fetch("/?line=%20%20return+x%3B").await;
    ///     assert_eq!(r.text().unwrap(), "[  return x;] [return x;]");
    /// });
    /// ```
    pub fn get_argument_unstripped(&self, name: &str) -> Result<String> {
        self.last(Source::All, name, false)?
            .ok_or_else(|| HttpError::missing_argument(name).into())
    }

    /// Every value of `name` without stripping surrounding whitespace (Tornado's
    /// `strip=False`); control characters still become spaces.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Poem;
    /// impl RequestHandler for Poem {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let lines = cx.get_arguments_unstripped("line")?;
    ///         cx.write(format!("{lines:?}"));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Poem)]), |t| async move {
    ///     let r = t.fetch("/?line=Roses&line=++are+red&line=a%00b").await;
    ///     assert_eq!(r.text().unwrap(), r#"["Roses", "  are red", "a b"]"#);
    /// });
    /// ```
    pub fn get_arguments_unstripped(&self, name: &str) -> Result<Vec<String>> {
        self.values(Source::All, name, false)
    }

    /// Decodes raw argument bytes with the handler's
    /// [`decode_argument`](crate::RequestHandler::decode_argument).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// /// A signature sent as raw bytes, checked as text.
    /// struct Raw;
    /// impl RequestHandler for Raw {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         assert_eq!(cx.decode_argument("café".as_bytes(), Some("sig"))?, "café");
    ///         let bad = cx.decode_argument(b"\xff", Some("sig")).unwrap_err();
    ///         cx.write(bad.to_string());
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Raw)]), |t| async move {
    ///     let r = t.fetch("/").await;
    ///     assert!(r.text().unwrap().contains("Invalid unicode in sig"), "{:?}", r.text());
    /// });
    /// ```
    pub fn decode_argument(&self, value: &[u8], name: Option<&str>) -> Result<String> {
        (self.hooks.decode_argument)(value, name)
    }

    /// The files of a multipart form body, by field name.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Upload;
    /// impl RequestHandler for Upload {
    ///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let Some(file) = cx.files().get("avatar").and_then(|f| f.first()) else {
    ///             return Err(tornado_web::HttpError::missing_argument("avatar").into());
    ///         };
    ///         let (name, ctype) = (&file.filename, &file.content_type);
    ///         let summary = format!("{name} ({ctype}, {} bytes)", file.body.len());
    ///         cx.write(summary);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/upload", || Upload)]), |t| async move {
    ///     let body = "--XyZ\r\n\
    ///         Content-Disposition: form-data; name=\"avatar\"; filename=\"me.png\"\r\n\
    ///         Content-Type: image/png\r\n\r\n\
    ///         \x7fPNG\r\n\
    ///         --XyZ--\r\n";
    ///     let request = t.request("/upload").method("POST")
    ///         .header("Content-Type", "multipart/form-data; boundary=XyZ").body(body);
    ///     let r = t.fetch_request(request).await;
    ///     assert_eq!(r.text().unwrap(), "me.png (image/png, 4 bytes)");
    /// });
    /// ```
    pub fn files(&self) -> &Files {
        self.request.files()
    }

    /// The request body (empty for a handler that streams it).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct NewUser {
    ///     name: String,
    /// }
    ///
    /// struct Users;
    /// impl RequestHandler for Users {
    ///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let user: NewUser = serde_json::from_slice(cx.body())?; // bad JSON: a 500
    ///         cx.set_status(201)?;
    ///         cx.write(format!("created {}", user.name));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/users", || Users)]), |t| async move {
    ///     let request = t.request("/users").method("POST").body(r#"{"name": "ann"}"#);
    ///     let r = t.fetch_request(request).await;
    ///     assert_eq!((r.code, r.text().unwrap()), (201, "created ann"));
    /// });
    /// ```
    pub fn body(&self) -> &[u8] {
        &self.request.body
    }

    /// The positional groups of the route's pattern, URL-decoded (Tornado passes them
    /// to the method as `*args`). A group that did not take part in the match is `""`.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Post;
    /// impl RequestHandler for Post {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let args = cx.path_args().join("|");
    ///         cx.write(args);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let app = || Application::new(vec![url(r"/(\w+)/posts/([^/]+)(/edit)?", || Post)]);
    /// testing::run(app, |t| async move {
    ///     let r = t.fetch("/ann/posts/hello%20world").await;
    ///     assert_eq!(r.text().unwrap(), "ann|hello world|"); // decoded; "" for no match
    ///     assert_eq!(t.fetch("/ann/posts/x/edit").await.text().unwrap(), "ann|x|/edit");
    /// });
    /// ```
    pub fn path_args(&self) -> &[String] {
        self.path.as_ref().map_or(&[], |p| &p.0)
    }

    /// Positional group `index` (from 0).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Item;
    /// impl RequestHandler for Item {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let id: u32 = cx.path_arg(0).unwrap_or_default().parse()?;
    ///         assert_eq!(cx.path_arg(1), None); // the pattern has one group
    ///         cx.write(format!("item {}", id + 1));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url(r"/items/(\d+)", || Item)]), |t| async move {
    ///     assert_eq!(t.fetch("/items/41").await.text().unwrap(), "item 42");
    /// });
    /// ```
    pub fn path_arg(&self, index: usize) -> Option<&str> {
        self.path_args().get(index).map(String::as_str)
    }

    /// The named groups of the route's pattern (Tornado's `**kwargs`), in pattern
    /// order.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Archive;
    /// impl RequestHandler for Archive {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let kwargs = cx.path_kwargs().iter();
    ///         let parts: Vec<String> = kwargs.map(|(k, v)| format!("{k}={v}")).collect();
    ///         cx.write(parts.join("&"));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let app = || Application::new(vec![url(r"/(?P<year>\d{4})/(?P<month>\d\d)", || Archive)]);
    /// testing::run(app, |t| async move {
    ///     assert_eq!(t.fetch("/2024/06").await.text().unwrap(), "year=2024&month=06");
    /// });
    /// ```
    pub fn path_kwargs(&self) -> &[(String, String)] {
        self.path.as_ref().map_or(&[], |p| &p.1)
    }

    /// Named group `name`.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Wiki;
    /// impl RequestHandler for Wiki {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let page = cx.path_kwarg("page").unwrap_or("Home").to_owned();
    ///         assert_eq!(cx.path_kwarg("lang"), None); // not in the pattern
    ///         cx.write(page);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let app = || Application::new(vec![url(r"/wiki/(?P<page>.+)", || Wiki)]);
    /// testing::run(app, |t| async move {
    ///     assert_eq!(t.fetch("/wiki/Main%20Page").await.text().unwrap(), "Main Page");
    /// });
    /// ```
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
