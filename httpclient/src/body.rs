//! [`BodyWriter`]: what a body producer writes a streamed request body to.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::rc::Rc;

use bytes::{Bytes, BytesMut};

use crate::connection::Connection;

/// The write end of a streamed request body, given to a
/// [`body_producer`](crate::HttpRequest::body_producer) (Tornado passes a
/// `write` function). Each [`write`](Self::write) frames the data (as a
/// chunk when the length was not declared) and resolves once it is handed
/// to the socket, so a producer that awaits each write never holds more
/// than one piece in memory.
///
/// ```
/// use tornado_httpclient::{AsyncHttpClient, HttpRequest};
/// use tornado_httpserver::httputil::HttpServerRequest;
/// use tornado_httpserver::{HttpServer, Response};
/// use tornado_ioloop::IoLoop;
///
/// IoLoop::new().unwrap().run_sync(async {
///     // Echoes the body's length.
///     let server = HttpServer::new(|req: HttpServerRequest| async move {
///         Response::text(req.body.len().to_string())
///     });
///     server.listen(0, Some("127.0.0.1")).unwrap();
///     let url = format!("http://{}/upload", server.local_addrs()[0]);
///     let request = HttpRequest::new(url).method("POST").body_producer(|writer| async move {
///         for _ in 0..10 {
///             writer.write(vec![b'x'; 1000]).await?;
///         }
///         Ok(())
///     });
///     let response = AsyncHttpClient::new().fetch(request).await.unwrap();
///     assert_eq!(response.text().unwrap(), "10000");
///     server.stop();
/// });
/// ```
#[derive(Clone)]
pub struct BodyWriter {
    conn: Rc<Connection>,
    /// The first socket error a write met, so the fetch reports it rather
    /// than the producer's own error that wraps it.
    failure: Rc<RefCell<Option<io::Error>>>,
}

impl BodyWriter {
    pub(crate) fn new(conn: Rc<Connection>) -> Self {
        BodyWriter {
            conn,
            failure: Rc::new(RefCell::new(None)),
        }
    }

    /// Sends `data` as the next piece of the body. An error (the socket
    /// failed, or more bytes than a declared `Content-Length`) should end
    /// the producer with that error.
    pub async fn write(&self, data: impl Into<Bytes>) -> io::Result<()> {
        let data = data.into();
        let mut out = BytesMut::new();
        self.conn
            .proto
            .borrow_mut()
            .write_body(&data, &mut out)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        match self.conn.send(out).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let copy = io::Error::new(e.kind(), e.to_string());
                self.failure.borrow_mut().get_or_insert(e);
                Err(copy)
            }
        }
    }

    pub(crate) fn take_failure(&self) -> Option<io::Error> {
        self.failure.borrow_mut().take()
    }
}

impl fmt::Debug for BodyWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyWriter").finish_non_exhaustive()
    }
}
