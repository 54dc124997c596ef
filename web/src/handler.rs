//! [`RequestHandler`]: the trait a handler implements (Tornado's `RequestHandler`
//! subclass), one value per request.

use bytes::Bytes;
use http::{Method, StatusCode};

use crate::context::Context;
use crate::error::{Error, HttpError, Result};

/// The methods a handler serves unless it says otherwise (Tornado's
/// `SUPPORTED_METHODS`).
///
/// ```
/// use http::Method;
/// use tornado_web::DEFAULT_SUPPORTED_METHODS;
///
/// assert_eq!(DEFAULT_SUPPORTED_METHODS.len(), 7);
/// assert!(DEFAULT_SUPPORTED_METHODS.contains(&Method::OPTIONS));
/// assert!(!DEFAULT_SUPPORTED_METHODS.contains(&Method::TRACE));
/// ```
pub const DEFAULT_SUPPORTED_METHODS: &[Method] = &[
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::DELETE,
    Method::PATCH,
    Method::PUT,
    Method::OPTIONS,
];

/// What a method the handler does not implement answers: 405, and that method is not
/// listed in `Allow`.
fn not_allowed(method: Method) -> Result {
    let mut e = HttpError::new(405);
    e.unimplemented = Some(method);
    Err(e.into())
}

/// Handles requests to a route: a value made for each request by the route's factory
/// (Tornado makes one handler instance per request; what Tornado's `initialize`
/// receives, the factory closure captures).
///
/// Implement the methods you serve (`get`, `post`, ...); every other method answers
/// `405 Method Not Allowed` with an `Allow` header listing
/// [`SUPPORTED_METHODS`](Self::SUPPORTED_METHODS). The request and the response are
/// in the [`Context`] each method gets.
///
/// # The life of a request
///
/// 1. The route is found from the request head, before the body is read; the factory
///    makes the handler.
/// 2. The body is read whole (the default); then
///    [`get_current_user`](Self::get_current_user), then
///    [`prepare`](Self::prepare), which may finish the request early, then the
///    method. With [`STREAM_REQUEST_BODY`](Self::STREAM_REQUEST_BODY) (Tornado's
///    `@stream_request_body`), `get_current_user` and `prepare` run at the head, and
///    the body comes piece by piece through [`data_received`](Self::data_received)
///    before the method; a response finished in `prepare` refuses the body (no
///    `100 Continue`, the connection closes after it).
/// 3. The response is finished if the method did not (Content-Length, ETag and 304,
///    gzip), and the request is logged; [`on_finish`](Self::on_finish) runs when the
///    method returns.
///
/// An `Err` from any step answers with its status through
/// [`write_error`](Self::write_error) (500 for errors that are not an
/// [`HttpError`]); a panic answers 500 too. If the client leaves while a method is
/// waiting, the method's future is dropped (a long poll is cancelled) and
/// [`on_connection_close`](Self::on_connection_close) runs.
///
/// # Hooks the context calls
///
/// [`set_default_headers`](Self::set_default_headers),
/// [`write_error`](Self::write_error), [`compute_etag`](Self::compute_etag) and
/// [`decode_argument`](Self::decode_argument) are called from inside [`Context`]
/// methods (`clear`, `send_error`, `finish`, `get_argument`), so they take the
/// context rather than `self`.
///
/// ```
/// use tornado_web::{testing, url, Application, Context, RequestHandler};
///
/// struct Greeter {
///     greeting: String,
/// }
///
/// impl RequestHandler for Greeter {
///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
///         let name = cx.get_argument_or("name", "world")?;
///         cx.write(format!("{}, {name}!", self.greeting));
///         Ok(())
///     }
/// }
///
/// let greeting = "Hello".to_string();
/// let greeter = move || Greeter { greeting: greeting.clone() };
/// let app = move || Application::new(vec![url("/", greeter)]);
/// testing::run(app, |t| async move {
///     assert_eq!(t.fetch("/").await.text().unwrap(), "Hello, world!");
///     assert_eq!(t.fetch("/?name=Ann").await.text().unwrap(), "Hello, Ann!");
/// });
/// ```
///
/// # Shared behaviour (Tornado's `BaseHandler`)
///
/// Give a family of handlers common headers, a common `prepare` and a common
/// `get_current_user` with a wrapper type whose [`RequestHandler`] implementation
/// holds them and hands the methods on (see the crate docs, "Shared behaviour").
#[allow(async_fn_in_trait)]
pub trait RequestHandler: Sized + 'static {
    /// The methods this handler serves; a request with another method answers 405
    /// before anything runs, and every 405 lists these in `Allow` (less the method
    /// asked for, when the handler does not implement it). Tornado's seven by default;
    /// list only the methods you implement for an exact `Allow`.
    ///
    /// ```
    /// use http::Method;
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Form;
    /// impl RequestHandler for Form {
    ///     const SUPPORTED_METHODS: &'static [Method] = &[Method::GET, Method::POST];
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("the form");
    ///         Ok(())
    ///     }
    ///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("sent");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Form)]), |t| async move {
    ///     let r = t.fetch_request(t.request("/").method("DELETE")).await;
    ///     assert_eq!((r.code, r.headers.get("Allow")), (405, Some("GET, POST")));
    /// });
    /// ```
    const SUPPORTED_METHODS: &'static [Method] = DEFAULT_SUPPORTED_METHODS;

    /// Take the request body in pieces through [`data_received`](Self::data_received)
    /// instead of whole (Tornado's `@stream_request_body`): for uploads that should
    /// not sit in memory. `max_body_size` still limits the total.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// #[derive(Default)]
    /// struct Upload {
    ///     received: usize,
    /// }
    /// impl RequestHandler for Upload {
    ///     const STREAM_REQUEST_BODY: bool = true;
    ///     async fn data_received(&mut self, _cx: &mut Context, chunk: Bytes) -> tornado_web::Result {
    ///         self.received += chunk.len(); // a real one writes it to disk
    ///         Ok(())
    ///     }
    ///     async fn put(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let kept = cx.body().len();
    ///         cx.write(format!("{} bytes streamed, {kept} kept", self.received));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/upload", Upload::default)]), |t| async move {
    ///     let request = t.request("/upload").method("PUT").body(vec![b'x'; 1 << 20]);
    ///     let r = t.fetch_request(request).await;
    ///     assert_eq!(r.text().unwrap(), "1048576 bytes streamed, 0 kept");
    /// });
    /// ```
    const STREAM_REQUEST_BODY: bool = false;

    /// Serves `GET`.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Hello;
    /// impl RequestHandler for Hello {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("hello");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Hello)]), |t| async move {
    ///     assert_eq!(t.fetch("/").await.text().unwrap(), "hello");
    ///     // A method the handler does not implement is a 405, and Allow leaves it out.
    ///     let post = t.fetch_request(t.request("/").method("POST").body("")).await;
    ///     assert_eq!(post.code, 405);
    ///     assert!(!post.headers.get("Allow").unwrap().contains("POST"));
    /// });
    /// ```
    async fn get(&mut self, cx: &mut Context) -> Result {
        let _ = cx;
        not_allowed(Method::GET)
    }

    /// Serves `HEAD` (the response carries no body even if one is written).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Document;
    /// impl RequestHandler for Document {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("the document");
    ///         Ok(())
    ///     }
    ///     async fn head(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         self.get(cx).await // the same headers; the body stays home
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Document)]), |t| async move {
    ///     let r = t.fetch_request(t.request("/").method("HEAD")).await;
    ///     assert_eq!((r.code, r.body.len()), (200, 0));
    ///     assert_eq!(r.headers.get("Content-Length"), Some("12"));
    /// });
    /// ```
    async fn head(&mut self, cx: &mut Context) -> Result {
        let _ = cx;
        not_allowed(Method::HEAD)
    }

    /// Serves `POST`.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Create;
    /// impl RequestHandler for Create {
    ///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let title = cx.get_body_argument("title")?;
    ///         cx.set_status(201)?;
    ///         cx.set_header("Location", "/posts/1")?;
    ///         cx.write(format!("created {title:?}"));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/posts", || Create)]), |t| async move {
    ///     let request = t.request("/posts").method("POST")
    ///         .header("Content-Type", "application/x-www-form-urlencoded").body("title=Hi");
    ///     let r = t.fetch_request(request).await;
    ///     assert_eq!((r.code, r.headers.get("Location")), (201, Some("/posts/1")));
    ///     assert_eq!(r.text().unwrap(), "created \"Hi\"");
    /// });
    /// ```
    async fn post(&mut self, cx: &mut Context) -> Result {
        let _ = cx;
        not_allowed(Method::POST)
    }

    /// Serves `PUT`.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::collections::HashMap;
    /// use std::rc::Rc;
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// type Store = Rc<RefCell<HashMap<String, Vec<u8>>>>;
    ///
    /// struct Note(Store);
    /// impl RequestHandler for Note {
    ///     async fn put(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let key = cx.path_arg(0).unwrap_or_default().to_owned();
    ///         let created = self.0.borrow_mut().insert(key, cx.body().to_vec()).is_none();
    ///         cx.set_status(if created { 201 } else { 204 })
    ///     }
    /// }
    ///
    /// let store = Store::default();
    /// let shared = store.clone();
    /// let note = move || Note(shared.clone());
    /// let app = move || Application::new(vec![url(r"/notes/(\w+)", note)]);
    /// testing::run(app, |t| async move {
    ///     let put = |body: &'static str| t.request("/notes/todo").method("PUT").body(body);
    ///     assert_eq!(t.fetch_request(put("milk")).await.code, 201);
    ///     assert_eq!(t.fetch_request(put("milk, eggs")).await.code, 204);
    /// });
    /// assert_eq!(store.borrow()["todo"], b"milk, eggs");
    /// ```
    async fn put(&mut self, cx: &mut Context) -> Result {
        let _ = cx;
        not_allowed(Method::PUT)
    }

    /// Serves `DELETE`.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// use tornado_web::{testing, url, Application, Context, HttpError, RequestHandler};
    ///
    /// struct Item(Rc<RefCell<Vec<u32>>>);
    /// impl RequestHandler for Item {
    ///     async fn delete(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let id: u32 = cx.path_arg(0).unwrap_or_default().parse()?;
    ///         let mut items = self.0.borrow_mut();
    ///         let Some(at) = items.iter().position(|&i| i == id) else {
    ///             return Err(HttpError::new(404).into());
    ///         };
    ///         items.remove(at);
    ///         cx.set_status(204)
    ///     }
    /// }
    ///
    /// let items = Rc::new(RefCell::new(vec![1, 2, 3]));
    /// let shared = items.clone();
    /// let item = move || Item(shared.clone());
    /// let app = move || Application::new(vec![url(r"/items/(\d+)", item)]);
    /// testing::run(app, |t| async move {
    ///     let delete = |path: &str| t.fetch_request(t.request(path).method("DELETE"));
    ///     assert_eq!(delete("/items/2").await.code, 204);
    ///     assert_eq!(delete("/items/2").await.code, 404);
    /// });
    /// assert_eq!(*items.borrow(), [1, 3]);
    /// ```
    async fn delete(&mut self, cx: &mut Context) -> Result {
        let _ = cx;
        not_allowed(Method::DELETE)
    }

    /// Serves `PATCH`.
    ///
    /// ```
    /// use serde_json::{json, Value};
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// /// Merges the JSON body into the stored profile.
    /// struct Profile;
    /// impl RequestHandler for Profile {
    ///     async fn patch(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let mut profile = json!({ "name": "Ann", "city": "Oslo" });
    ///         let changes: serde_json::Map<String, Value> = serde_json::from_slice(cx.body())?;
    ///         for (field, value) in changes {
    ///             profile[field] = value;
    ///         }
    ///         cx.write(profile);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/me", || Profile)]), |t| async move {
    ///     let request = t.request("/me").method("PATCH").body(r#"{"city": "Bergen"}"#);
    ///     let r = t.fetch_request(request).await;
    ///     assert_eq!(r.text().unwrap(), r#"{"city":"Bergen","name":"Ann"}"#);
    /// });
    /// ```
    async fn patch(&mut self, cx: &mut Context) -> Result {
        let _ = cx;
        not_allowed(Method::PATCH)
    }

    /// Serves `OPTIONS`.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// /// Answers a CORS preflight.
    /// struct Api;
    /// impl RequestHandler for Api {
    ///     async fn options(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.set_header("Access-Control-Allow-Origin", "https://app.example")?;
    ///         cx.set_header("Access-Control-Allow-Methods", "GET, PUT")?;
    ///         cx.set_status(204)
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/api", || Api)]), |t| async move {
    ///     let r = t.fetch_request(t.request("/api").method("OPTIONS")).await;
    ///     assert_eq!(r.code, 204);
    ///     assert_eq!(r.headers.get("Access-Control-Allow-Methods"), Some("GET, PUT"));
    /// });
    /// ```
    async fn options(&mut self, cx: &mut Context) -> Result {
        let _ = cx;
        not_allowed(Method::OPTIONS)
    }

    /// Runs before the method (and, when streaming, before the body). Finish the
    /// response here (or return an error, or [`Finish`](crate::Finish)) to stop the
    /// request early.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, HttpError, RequestHandler};
    ///
    /// struct Private;
    /// impl RequestHandler for Private {
    ///     async fn prepare(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         if cx.request().headers().get("X-Api-Key") != Some("let-me-in") {
    ///             return Err(HttpError::new(401).into()); // `get` does not run
    ///         }
    ///         Ok(())
    ///     }
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("the secret");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Private)]), |t| async move {
    ///     let denied = t.fetch("/").await;
    ///     assert_eq!(denied.code, 401);
    ///     assert!(!denied.text().unwrap().contains("secret"));
    ///     let ok = t.fetch_request(t.request("/").header("X-Api-Key", "let-me-in")).await;
    ///     assert_eq!(ok.text().unwrap(), "the secret");
    /// });
    /// ```
    async fn prepare(&mut self, cx: &mut Context) -> Result {
        let _ = cx;
        Ok(())
    }

    /// A piece of the request body ([`STREAM_REQUEST_BODY`](Self::STREAM_REQUEST_BODY)
    /// only). No more of the body is read until this returns (flow control).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// /// Counts the lines of an upload without keeping it.
    /// #[derive(Default)]
    /// struct LineCount(usize);
    /// impl RequestHandler for LineCount {
    ///     const STREAM_REQUEST_BODY: bool = true;
    ///     async fn data_received(&mut self, _cx: &mut Context, chunk: Bytes) -> tornado_web::Result {
    ///         self.0 += chunk.iter().filter(|&&b| b == b'\n').count();
    ///         Ok(())
    ///     }
    ///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write(format!("{} lines", self.0));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", LineCount::default)]), |t| async move {
    ///     let log = "a log line\n".repeat(10_000);
    ///     let r = t.fetch_request(t.request("/").method("POST").body(log)).await;
    ///     assert_eq!(r.text().unwrap(), "10000 lines");
    /// });
    /// ```
    async fn data_received(&mut self, cx: &mut Context, chunk: Bytes) -> Result {
        let _ = (cx, chunk);
        Ok(())
    }

    /// The user of this request (Tornado's `get_current_user`), called once before
    /// [`prepare`](Self::prepare) for every request (Tornado calls it lazily, on first
    /// use of `current_user`); available as [`Context::current_user`]. `None` by
    /// default. Keep it cheap, and note that an error here fails the request.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Me;
    /// impl RequestHandler for Me {
    ///     async fn get_current_user(&mut self, cx: &mut Context) -> tornado_web::Result<Option<String>> {
    ///         let token = cx.request().headers().get("Authorization");
    ///         Ok(match token {
    ///             Some("Bearer t0k3n") => Some("ann".to_owned()), // a real one asks a store
    ///             _ => None,
    ///         })
    ///     }
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let me = cx.current_user().unwrap_or("nobody").to_owned();
    ///         cx.write(me);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/me", || Me)]), |t| async move {
    ///     let r = t.fetch_request(t.request("/me").header("Authorization", "Bearer t0k3n")).await;
    ///     assert_eq!(r.text().unwrap(), "ann");
    ///     assert_eq!(t.fetch("/me").await.text().unwrap(), "nobody");
    /// });
    /// ```
    async fn get_current_user(&mut self, cx: &mut Context) -> Result<Option<String>> {
        let _ = cx;
        Ok(None)
    }

    /// Where users who are not logged in are sent: the `login_url` setting by default,
    /// an error if it is not set.
    ///
    /// ```
    /// use tornado_web::{authenticated, testing, url, Application, Context, RequestHandler};
    ///
    /// /// Logs in at a separate accounts site, whatever the settings say.
    /// struct Account;
    /// impl RequestHandler for Account {
    ///     fn get_login_url(&self, _cx: &Context) -> tornado_web::Result<String> {
    ///         Ok("https://accounts.example/login".to_owned())
    ///     }
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         authenticated(self, cx)?;
    ///         cx.write("your account");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/account", || Account)]), |t| async move {
    ///     let r = t.fetch_request(t.request("/account").follow_redirects(false)).await;
    ///     let to = r.headers.get("Location").unwrap();
    ///     // An absolute login URL gets the full URL to come back to.
    ///     let back = "https://accounts.example/login?next=http%3A%2F%2F127.0.0.1%3A";
    ///     assert!(to.starts_with(back), "{to}");
    /// });
    /// ```
    fn get_login_url(&self, cx: &Context) -> Result<String> {
        cx.settings()
            .login_url
            .clone()
            .ok_or_else(|| Error::msg("the login_url setting must be set to use get_login_url"))
    }

    /// The XSRF check (Tornado's `check_xsrf_cookie`), run with the `xsrf_cookies`
    /// setting before [`prepare`](Self::prepare) for every method but `GET`, `HEAD`
    /// and `OPTIONS`: [`Context::check_xsrf_cookie`] by default. Override it to opt a
    /// handler out (an API authenticated by other means), or to check differently.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler, Settings};
    ///
    /// struct Webhook;
    /// impl RequestHandler for Webhook {
    ///     fn check_xsrf_cookie(&mut self, _cx: &mut Context) -> tornado_web::Result {
    ///         Ok(()) // called by other servers, which carry a signature instead
    ///     }
    ///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("ok");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// struct Form;
    /// impl RequestHandler for Form {
    ///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("ok");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let settings = Settings { xsrf_cookies: true, ..Settings::default() };
    /// let routes = || vec![url("/hook", || Webhook), url("/form", || Form)];
    /// testing::run(|| Application::with_settings(routes(), settings), |t| async move {
    ///     // Neither request carries an XSRF token.
    ///     let post = |path: &str| t.fetch_request(t.request(path).method("POST").body(""));
    ///     assert_eq!(post("/hook").await.code, 200);
    ///     assert_eq!(post("/form").await.code, 403);
    /// });
    /// ```
    fn check_xsrf_cookie(&mut self, cx: &mut Context) -> Result {
        cx.check_xsrf_cookie()
    }

    /// Whether a request that looks cross-origin may go on, from its `Origin` header
    /// (Tornado 6.6's `check_trusted_origin`). Asked only with the
    /// `cross_origin_protection` setting, before `prepare`, for every method but
    /// `GET`, `HEAD` and `OPTIONS`, and only for requests a browser marks as
    /// cross-site (`Sec-Fetch-Site`) or whose `Origin` is not the `Host`. By default:
    /// whether `origin` is in the `trusted_origins` setting.
    ///
    /// Override it to trust more (a family of subdomains), or to exempt an endpoint
    /// meant for any origin (which must then not rely on cookies to authenticate):
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler, Settings};
    ///
    /// struct Api;
    /// impl RequestHandler for Api {
    ///     fn check_trusted_origin(&self, _cx: &Context, origin: &str) -> bool {
    ///         origin.ends_with(".example.com") && origin.starts_with("https://")
    ///     }
    ///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("ok");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let settings = Settings { cross_origin_protection: true, ..Settings::default() };
    /// let app = || Application::with_settings(vec![url("/api", || Api)], settings);
    /// testing::run(app, |t| async move {
    ///     let from = |origin: &str| {
    ///         let request = t.request("/api").method("POST").body("");
    ///         let request = request.header("Sec-Fetch-Site", "cross-site");
    ///         t.fetch_request(request.header("Origin", origin))
    ///     };
    ///     assert_eq!(from("https://app.example.com").await.code, 200);
    ///     assert_eq!(from("http://app.example.com").await.code, 403); // not https
    ///     assert_eq!(from("https://evil.example").await.code, 403);
    /// });
    /// ```
    fn check_trusted_origin(&self, cx: &Context, origin: &str) -> bool {
        cx.settings().trusted_origins.iter().any(|o| o == origin)
    }

    /// Runs after the response is finished (to clean up, record metrics). It cannot
    /// write: the response is out.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// /// Records the status of every response, errors included.
    /// struct Metered(Rc<RefCell<Vec<u16>>>);
    /// impl RequestHandler for Metered {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let n: u32 = cx.get_argument("n")?.parse()?;
    ///         cx.write(format!("{}", n * 2));
    ///         Ok(())
    ///     }
    ///     fn on_finish(&mut self, cx: &mut Context) {
    ///         self.0.borrow_mut().push(cx.get_status().as_u16());
    ///     }
    /// }
    ///
    /// let statuses = Rc::new(RefCell::new(Vec::new()));
    /// let shared = statuses.clone();
    /// let app = move || Application::new(vec![url("/", move || Metered(shared.clone()))]);
    /// testing::run(app, |t| async move {
    ///     assert_eq!(t.fetch("/?n=21").await.text().unwrap(), "42");
    ///     assert_eq!(t.fetch("/").await.code, 400);
    ///     assert_eq!(t.fetch("/?n=x").await.code, 500);
    /// });
    /// assert_eq!(*statuses.borrow(), [200, 400, 500]);
    /// ```
    fn on_finish(&mut self, cx: &mut Context) {
        let _ = cx;
    }

    /// The client closed its connection before the response was finished; the method
    /// that was waiting has been dropped (Tornado's `on_connection_close`). Not called
    /// when the client leaves before a buffered body has all arrived: the handler has
    /// not started then.
    ///
    /// ```
    /// use tornado_gen::locks::Event;
    /// use tornado_iostream::IoStream;
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// /// A long poll for a message that never comes.
    /// struct Poll {
    ///     waiting: Event,
    ///     left: Event,
    /// }
    /// impl RequestHandler for Poll {
    ///     async fn get(&mut self, _cx: &mut Context) -> tornado_web::Result {
    ///         self.waiting.set();
    ///         std::future::pending::<()>().await; // dropped when the client leaves
    ///         Ok(())
    ///     }
    ///     fn on_connection_close(&mut self) {
    ///         self.left.set(); // unsubscribe, free what the poll held
    ///     }
    /// }
    ///
    /// let (waiting, left) = (Event::new(), Event::new());
    /// let (w, l, closed) = (waiting.clone(), left.clone(), left.clone());
    /// let poll = move || Poll { waiting: w.clone(), left: l.clone() };
    /// testing::run(move || Application::new(vec![url("/poll", poll)]), |t| async move {
    ///     let stream = IoStream::connect(t.addr()).await.unwrap();
    ///     stream.write(b"GET /poll HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    ///     waiting.wait().await;
    ///     assert!(!left.is_set());
    ///     stream.close();
    ///     left.wait().await; // on_connection_close ran
    /// });
    /// assert!(closed.is_set());
    /// ```
    fn on_connection_close(&mut self) {}

    /// Sets headers every response of this handler starts with, errors included;
    /// runs when the handler is made and again on every `clear`.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, HttpError, RequestHandler};
    ///
    /// struct Framed;
    /// impl RequestHandler for Framed {
    ///     fn set_default_headers(cx: &mut Context) {
    ///         // The value is a constant known to be valid, so the error cannot occur.
    ///         let _ = cx.set_header("X-Frame-Options", "DENY");
    ///     }
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         if cx.get_argument_opt("missing")?.is_some() {
    ///             return Err(HttpError::new(404).into());
    ///         }
    ///         cx.clear(); // starts over, with the default headers again
    ///         cx.write("page");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Framed)]), |t| async move {
    ///     for path in ["/", "/?missing=1"] {
    ///         let r = t.fetch(path).await;
    ///         assert_eq!(r.headers.get("X-Frame-Options"), Some("DENY"), "{path} ({})", r.code);
    ///     }
    /// });
    /// ```
    fn set_default_headers(cx: &mut Context) {
        let _ = cx;
    }

    /// Writes the error page for `status` (Tornado's `write_error`). `error` is the
    /// error that caused it, if any. The default is Tornado's plain HTML page, or, with
    /// `serve_traceback`, a page with the error, the handler and a backtrace.
    ///
    /// ```
    /// use http::StatusCode;
    /// use tornado_web::{testing, url, Application, Context, Error, HttpError, RequestHandler};
    ///
    /// /// An API whose errors are JSON too.
    /// struct Api;
    /// impl RequestHandler for Api {
    ///     async fn get(&mut self, _cx: &mut Context) -> tornado_web::Result {
    ///         Err(HttpError::with_log(404, "no such user").into())
    ///     }
    ///     fn write_error(cx: &mut Context, status: StatusCode, error: Option<&Error>) {
    ///         // The log message is for the log; the client gets the status only.
    ///         let _ = error;
    ///         cx.write(serde_json::json!({ "error": status.as_u16() }));
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/users/x", || Api)]), |t| async move {
    ///     let r = t.fetch("/users/x").await;
    ///     assert_eq!((r.code, r.text().unwrap()), (404, r#"{"error":404}"#));
    ///     assert_eq!(r.headers.get("Content-Type"), Some("application/json; charset=UTF-8"));
    /// });
    /// ```
    fn write_error(cx: &mut Context, status: StatusCode, error: Option<&Error>) {
        crate::errorpage::write_default_error(cx, status, error);
    }

    /// The ETag for the finished body (Tornado's `compute_etag`): a hash of what was
    /// written by default; `None` for no ETag.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// /// A clock: never the same twice, so an ETag is wasted work.
    /// struct Clock(u64);
    /// impl RequestHandler for Clock {
    ///     fn compute_etag(_cx: &Context) -> Option<String> {
    ///         None
    ///     }
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write(format!("tick {}", self.0));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Clock(1))]), |t| async move {
    ///     let r = t.fetch_request(t.request("/").header("If-None-Match", "*")).await;
    ///     assert_eq!((r.code, r.headers.get("Etag")), (200, None));
    /// });
    /// ```
    fn compute_etag(cx: &Context) -> Option<String> {
        Some(cx.default_etag())
    }

    /// Turns an argument's raw bytes into text (Tornado's `decode_argument`): UTF-8 by
    /// default, and a 400 naming the argument when it is not.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// /// An old form that posts Latin-1.
    /// struct Legacy;
    /// impl RequestHandler for Legacy {
    ///     fn decode_argument(value: &[u8], _name: Option<&str>) -> tornado_web::Result<String> {
    ///         Ok(value.iter().map(|&b| char::from(b)).collect())
    ///     }
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let q = cx.get_argument("q")?;
    ///         cx.write(q);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Legacy)]), |t| async move {
    ///     // 0xE9 is é in Latin-1, and no UTF-8 at all.
    ///     assert_eq!(t.fetch("/?q=caf%E9").await.text().unwrap(), "café");
    /// });
    /// ```
    fn decode_argument(value: &[u8], name: Option<&str>) -> Result<String> {
        crate::context::decode_utf8_argument(value, name)
    }
}
