//! [`HttpClient`]: the blocking client, with its own loop on its own thread.

use std::fmt;
use std::io;
use std::sync::mpsc;
use std::thread;

use tornado_ioloop::{IoLoop, LoopHandle};

use crate::client::{AsyncHttpClient, ClientConfig};
use crate::error::{ErrorKind, HttpClientError, TRANSPORT_ERROR_CODE};
use crate::request::HttpRequest;
use crate::response::HttpResponse;

thread_local! {
    /// The async client of a blocking client's loop thread.
    static CLIENT: std::cell::RefCell<Option<AsyncHttpClient>> = const { std::cell::RefCell::new(None) };
}

/// A blocking HTTP client (Tornado's `HTTPClient`), for a plain `main`, a
/// script or a test. It starts a thread that runs an [`IoLoop`] with an
/// [`AsyncHttpClient`]; [`fetch`](Self::fetch) hands the request to that
/// thread and waits. Keep-alive connections live on between calls. It can
/// be used from any thread, a loop's thread included (it blocks that loop
/// while it waits).
///
/// ```
/// use tornado_httpclient::HttpClient;
///
/// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let url = format!("http://{}/", listener.local_addr().unwrap());
/// std::thread::spawn(move || {
///     use std::io::{Read, Write};
///     let (mut socket, _) = listener.accept().unwrap();
///     let mut request = [0; 1024];
///     let _ = socket.read(&mut request).unwrap();
///     socket.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi").unwrap();
/// });
///
/// let client = HttpClient::new().unwrap();
/// let response = client.fetch(url.as_str()).unwrap();
/// assert_eq!(&response.body[..], b"hi");
/// client.close();
/// ```
pub struct HttpClient {
    handle: LoopHandle,
    thread: Option<thread::JoinHandle<()>>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("running", &self.thread.is_some())
            .finish()
    }
}

impl HttpClient {
    /// A client with the default [`ClientConfig`].
    pub fn new() -> io::Result<HttpClient> {
        HttpClient::with_config(ClientConfig::default())
    }

    /// A client with `config`.
    pub fn with_config(config: ClientConfig) -> io::Result<HttpClient> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("tornado-httpclient".into())
            .spawn(move || {
                let io_loop = match IoLoop::new() {
                    Ok(io_loop) => io_loop,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                io_loop.make_current();
                CLIENT.with(|c| *c.borrow_mut() = Some(AsyncHttpClient::with_config(config)));
                let _ = ready_tx.send(Ok(io_loop.handle()));
                io_loop.start();
                CLIENT.with(|c| {
                    if let Some(client) = c.borrow_mut().take() {
                        client.close();
                    }
                });
                io_loop.close();
            })?;
        let handle = ready_rx
            .recv()
            .map_err(|_| io::Error::other("the HTTP client's loop thread ended at start"))??;
        Ok(HttpClient {
            handle,
            thread: Some(thread),
        })
    }

    /// Fetches `request` and blocks until the response (see
    /// [`AsyncHttpClient::fetch`]).
    pub fn fetch(&self, request: impl Into<HttpRequest>) -> Result<HttpResponse, HttpClientError> {
        let request = request.into();
        let (tx, rx) = mpsc::sync_channel(1);
        self.handle.add_callback(move || {
            let Some(client) = CLIENT.with(|c| c.borrow().clone()) else {
                return;
            };
            tornado_ioloop::spawn_callback(async move {
                let _ = tx.send(client.fetch(request).await);
            });
        });
        rx.recv().unwrap_or_else(|_| {
            Err(HttpClientError::new(
                ErrorKind::Io,
                TRANSPORT_ERROR_CODE,
                "the fetch ended without an answer: a callback panicked, or the client was closed",
            ))
        })
    }

    /// Stops the loop thread and closes the connections. Also done on drop.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.handle.stop();
            let _ = thread.join();
        }
    }
}

impl Drop for HttpClient {
    fn drop(&mut self) {
        self.shutdown();
    }
}
