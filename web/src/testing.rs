//! Testing an application (Tornado's `tornado.testing`): [`run`] starts it on
//! 127.0.0.1 port 0 on a fresh loop, hands the test a [`TestServer`] that fetches
//! from it, and fails the test after [`async_test_timeout`] (Tornado's
//! `AsyncHTTPTestCase` with `gen_test`).
//!
//! ```
//! use tornado_web::{testing, url, Application, Context, RequestHandler};
//!
//! struct Hello;
//! impl RequestHandler for Hello {
//!     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
//!         let name = cx.get_argument_or("name", "world")?;
//!         cx.write(format!("Hello, {name}"));
//!         Ok(())
//!     }
//! }
//!
//! testing::run(|| Application::new(vec![url("/", || Hello)]), |t| async move {
//!     let response = t.fetch("/?name=test").await;
//!     assert_eq!(response.code, 200);
//!     assert_eq!(response.text().unwrap(), "Hello, test");
//!
//!     let missing = t.fetch("/nowhere").await;
//!     assert_eq!(missing.code, 404);
//! });
//! ```

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tornado_httpclient::{AsyncHttpClient, HttpClientError, HttpRequest, HttpResponse};
use tornado_httpserver::HttpServer;
use tornado_ioloop::IoLoop;

use crate::application::Application;

/// How long a test may run by default (Tornado's `ASYNC_TEST_TIMEOUT`).
///
/// ```
/// use std::time::Duration;
///
/// assert_eq!(tornado_web::testing::DEFAULT_ASYNC_TEST_TIMEOUT, Duration::from_secs(5));
/// ```
pub const DEFAULT_ASYNC_TEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The timeout of each test: the `ASYNC_TEST_TIMEOUT` environment variable (seconds,
/// as in Tornado) or [`DEFAULT_ASYNC_TEST_TIMEOUT`].
///
/// ```
/// use tornado_web::testing::{async_test_timeout, gen_test_timeout, DEFAULT_ASYNC_TEST_TIMEOUT};
///
/// if std::env::var_os("ASYNC_TEST_TIMEOUT").is_none() {
///     assert_eq!(async_test_timeout(), DEFAULT_ASYNC_TEST_TIMEOUT);
/// }
/// // A test known to be slow gets twice the time the machine allows.
/// gen_test_timeout(async_test_timeout() * 2, async {});
/// ```
pub fn async_test_timeout() -> Duration {
    std::env::var("ASYNC_TEST_TIMEOUT")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(DEFAULT_ASYNC_TEST_TIMEOUT, Duration::from_secs_f64)
}

/// An application listening on 127.0.0.1 on a free port, with a client for it
/// (Tornado's `AsyncHTTPTestCase`: `get_url`, `fetch`).
///
/// ```
/// use tornado_web::testing::{self, TestServer};
/// use tornado_web::{url, Application, Context, RequestHandler};
///
/// struct Hello;
/// impl RequestHandler for Hello {
///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
///         cx.write("hello");
///         Ok(())
///     }
/// }
///
/// /// What several tests share.
/// async fn check_home(t: &TestServer) {
///     assert_eq!(t.fetch("/").await.text().unwrap(), "hello");
/// }
///
/// testing::run(|| Application::new(vec![url("/", || Hello)]), |t| async move {
///     check_home(&t).await;
/// });
/// ```
pub struct TestServer {
    server: HttpServer,
    addr: SocketAddr,
    client: AsyncHttpClient,
    app: Application,
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl TestServer {
    /// Starts `app` on 127.0.0.1, port 0, on this thread's loop.
    ///
    /// ```
    /// use tornado_web::testing::{self, TestServer};
    /// use tornado_web::{url, Application, Context, RequestHandler};
    ///
    /// struct Hello;
    /// impl RequestHandler for Hello {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         cx.write("hello");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// // Two applications in one test (a front and the back it calls, say).
    /// testing::gen_test(async {
    ///     let front = TestServer::start(Application::new(vec![url("/", || Hello)])).unwrap();
    ///     let back = TestServer::start(Application::new(vec![])).unwrap();
    ///     assert_ne!(front.port(), back.port());
    ///     assert_eq!(front.fetch("/").await.text().unwrap(), "hello");
    ///     assert_eq!(back.fetch("/").await.code, 404);
    /// });
    /// ```
    pub fn start(app: Application) -> std::io::Result<TestServer> {
        let server = app.listen_on(0, Some("127.0.0.1"))?;
        let addr = server
            .local_addrs()
            .into_iter()
            .next()
            .ok_or_else(|| std::io::Error::other("the test server has no address"))?;
        Ok(TestServer {
            server,
            addr,
            client: AsyncHttpClient::new(),
            app,
        })
    }

    /// The server's address.
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use tornado_web::{testing, Application};
    ///
    /// testing::run(|| Application::new(vec![]), |t| async move {
    ///     assert_eq!(t.addr().ip(), Ipv4Addr::LOCALHOST);
    ///     assert_eq!(t.addr().port(), t.port());
    /// });
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's port (Tornado's `get_http_port`).
    ///
    /// ```
    /// use tornado_web::{testing, Application};
    ///
    /// testing::run(|| Application::new(vec![]), |t| async move {
    ///     assert_ne!(t.port(), 0); // the free port the system chose
    /// });
    /// ```
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The absolute URL of `path` on the server (Tornado's `get_url`).
    ///
    /// ```
    /// use tornado_web::{testing, Application};
    ///
    /// testing::run(|| Application::new(vec![]), |t| async move {
    ///     assert_eq!(t.url("/a?b=1"), format!("http://127.0.0.1:{}/a?b=1", t.port()));
    /// });
    /// ```
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.addr.port())
    }

    /// A request for `path` on the server, to set a method, body or headers before
    /// [`fetch_request`](Self::fetch_request).
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Echo;
    /// impl RequestHandler for Echo {
    ///     async fn put(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let body = cx.body().to_vec();
    ///         cx.write(body);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/echo", || Echo)]), |t| async move {
    ///     let request = t.request("/echo").method("PUT").header("Content-Type", "text/plain").body("ping");
    ///     assert_eq!(t.fetch_request(request).await.text().unwrap(), "ping");
    /// });
    /// ```
    pub fn request(&self, path: &str) -> HttpRequest {
        HttpRequest::new(self.url(path))
    }

    /// Fetches `path` and returns the response whatever its status (Tornado's
    /// `self.fetch(path)`, which does not raise for error statuses).
    ///
    /// # Panics
    ///
    /// If the request fails without a response (connection refused, timeout): the
    /// test fails with the error. Use [`try_fetch`](Self::try_fetch) to examine it.
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
    ///     let ok = t.fetch("/").await;
    ///     assert_eq!((ok.code, ok.text().unwrap()), (200, "hello"));
    ///     assert_eq!(t.fetch("/missing").await.code, 404); // no error raised for a 404
    /// });
    /// ```
    pub async fn fetch(&self, path: &str) -> HttpResponse {
        self.fetch_request(self.request(path)).await
    }

    /// Fetches `request` (made with [`request`](Self::request)) and returns the
    /// response whatever its status; panics as [`fetch`](Self::fetch) does.
    ///
    /// ```
    /// use tornado_web::{testing, url, Application, Context, RequestHandler};
    ///
    /// struct Lang;
    /// impl RequestHandler for Lang {
    ///     async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
    ///         let lang = cx.request().headers().get("Accept-Language").unwrap_or("en").to_owned();
    ///         cx.write(lang);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// testing::run(|| Application::new(vec![url("/", || Lang)]), |t| async move {
    ///     let french = t.fetch_request(t.request("/").header("Accept-Language", "fr")).await;
    ///     assert_eq!(french.text().unwrap(), "fr");
    /// });
    /// ```
    pub async fn fetch_request(&self, request: HttpRequest) -> HttpResponse {
        let url = request.url.clone();
        match self.try_fetch(request).await {
            Ok(r) => r,
            Err(e) => panic!("fetch {url} failed without a response: {e}"),
        }
    }

    /// Fetches `request`: `Ok` with the response whatever its status, `Err` when
    /// there is no response.
    ///
    /// ```
    /// use tornado_web::{testing, Application};
    ///
    /// testing::run(|| Application::new(vec![]), |t| async move {
    ///     // A status is a response, an error or not.
    ///     assert_eq!(t.try_fetch(t.request("/missing")).await.unwrap().code, 404);
    ///     // A request that cannot be sent has none.
    ///     assert!(t.try_fetch(t.request("/").method("NOT A METHOD")).await.is_err());
    /// });
    /// ```
    pub async fn try_fetch(&self, request: HttpRequest) -> Result<HttpResponse, HttpClientError> {
        self.client.fetch(request.raise_error(false)).await
    }

    /// The client the server is fetched with.
    ///
    /// ```
    /// use tornado_web::{testing, Application};
    ///
    /// testing::run(|| Application::new(vec![]), |t| async move {
    ///     // The client itself raises for an error status, as Tornado's does.
    ///     assert!(t.client().fetch(t.url("/missing")).await.is_err());
    /// });
    /// ```
    pub fn client(&self) -> &AsyncHttpClient {
        &self.client
    }

    /// The application under test.
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
    /// testing::run(|| Application::new(vec![url("/hi", || Hello).name("hi")]), |t| async move {
    ///     let path = t.app().reverse_url("hi", &[]).unwrap();
    ///     assert_eq!(t.fetch(&path).await.text().unwrap(), "hello");
    /// });
    /// ```
    pub fn app(&self) -> &Application {
        &self.app
    }

    /// The HTTP server.
    ///
    /// ```
    /// use tornado_web::{testing, Application};
    ///
    /// testing::run(|| Application::new(vec![]), |t| async move {
    ///     assert_eq!(t.server().local_addrs(), [t.addr()]);
    /// });
    /// ```
    pub fn server(&self) -> &HttpServer {
        &self.server
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.server.stop();
        self.client.close();
    }
}

/// Runs `test` on a fresh loop (Tornado's `gen_test`): panics if it does not complete
/// within [`async_test_timeout`].
///
/// ```
/// tornado_web::testing::gen_test(async {
///     tornado_gen::sleep(std::time::Duration::from_millis(1)).await;
/// });
/// ```
pub fn gen_test<Fut: Future<Output = ()> + 'static>(test: Fut) {
    gen_test_timeout(async_test_timeout(), test)
}

/// [`gen_test`] with a timeout of its own.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::time::Duration;
///
/// let done = Rc::new(Cell::new(false));
/// let flag = done.clone();
/// tornado_web::testing::gen_test_timeout(Duration::from_secs(1), async move {
///     tornado_gen::moment().await; // one turn of the loop
///     flag.set(true);
/// });
/// assert!(done.get());
/// ```
pub fn gen_test_timeout<Fut: Future<Output = ()> + 'static>(timeout: Duration, test: Fut) {
    complete(&fresh_loop(), timeout, test);
}

/// Starts the application `make_app` builds (on the test's loop) on 127.0.0.1 port 0
/// and runs `test` with a [`TestServer`] for it, within [`async_test_timeout`].
///
/// # Panics
///
/// If the application cannot start (a bad route) or the test times out: the test
/// fails.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use tornado_web::{testing, url, Application, Context, RequestHandler};
///
/// struct Counter(Rc<Cell<u32>>);
/// impl RequestHandler for Counter {
///     async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
///         self.0.set(self.0.get() + 1);
///         cx.write(self.0.get().to_string());
///         Ok(())
///     }
/// }
///
/// let hits = Rc::new(Cell::new(0));
/// let counted = hits.clone();
/// testing::run(
///     move || Application::new(vec![url("/hit", move || Counter(counted.clone()))]),
///     |t| async move {
///         let hit = || t.fetch_request(t.request("/hit").method("POST").body(""));
///         assert_eq!(hit().await.text().unwrap(), "1");
///         assert_eq!(hit().await.text().unwrap(), "2");
///     },
/// );
/// assert_eq!(hits.get(), 2);
/// ```
pub fn run<A, T, Fut>(make_app: A, test: T)
where
    A: FnOnce() -> Application,
    T: FnOnce(TestServer) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let io_loop = fresh_loop();
    let server = match TestServer::start(make_app()) {
        Ok(s) => s,
        Err(e) => panic!("cannot start the application under test: {e}"),
    };
    complete(&io_loop, async_test_timeout(), test(server));
}

/// A new loop, current on this thread.
fn fresh_loop() -> IoLoop {
    let io_loop = match IoLoop::new() {
        Ok(l) => l,
        Err(e) => panic!("cannot make an IoLoop for the test: {e}"),
    };
    io_loop.make_current();
    io_loop
}

/// Runs `test` on `io_loop`, failing the test after `timeout`.
fn complete<Fut: Future<Output = ()> + 'static>(io_loop: &IoLoop, timeout: Duration, test: Fut) {
    if let Err(e) = io_loop.run_sync_timeout(test, timeout) {
        panic!("test did not complete within {timeout:?}: {e}");
    }
}
