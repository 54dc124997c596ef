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
pub const DEFAULT_ASYNC_TEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The timeout of each test: the `ASYNC_TEST_TIMEOUT` environment variable (seconds,
/// as in Tornado) or [`DEFAULT_ASYNC_TEST_TIMEOUT`].
pub fn async_test_timeout() -> Duration {
    std::env::var("ASYNC_TEST_TIMEOUT")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(DEFAULT_ASYNC_TEST_TIMEOUT, Duration::from_secs_f64)
}

/// An application listening on 127.0.0.1 on a free port, with a client for it
/// (Tornado's `AsyncHTTPTestCase`: `get_url`, `fetch`).
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
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's port (Tornado's `get_http_port`).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The absolute URL of `path` on the server (Tornado's `get_url`).
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.addr.port())
    }

    /// A request for `path` on the server, to set a method, body or headers before
    /// [`fetch_request`](Self::fetch_request).
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
    pub async fn fetch(&self, path: &str) -> HttpResponse {
        self.fetch_request(self.request(path)).await
    }

    /// Fetches `request` (made with [`request`](Self::request)) and returns the
    /// response whatever its status; panics as [`fetch`](Self::fetch) does.
    pub async fn fetch_request(&self, request: HttpRequest) -> HttpResponse {
        let url = request.url.clone();
        match self.try_fetch(request).await {
            Ok(r) => r,
            Err(e) => panic!("fetch {url} failed without a response: {e}"),
        }
    }

    /// Fetches `request`: `Ok` with the response whatever its status, `Err` when
    /// there is no response.
    pub async fn try_fetch(&self, request: HttpRequest) -> Result<HttpResponse, HttpClientError> {
        self.client.fetch(request.raise_error(false)).await
    }

    /// The client the server is fetched with.
    pub fn client(&self) -> &AsyncHttpClient {
        &self.client
    }

    /// The application under test.
    pub fn app(&self) -> &Application {
        &self.app
    }

    /// The HTTP server.
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
