//! A per-request body limit (Tornado's `request.connection.set_max_body_size`): a
//! streaming handler raises or lowers the server's `max_body_size` in `prepare`,
//! before its body is read; a buffered handler keeps the server's limit.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use bytes::Bytes;
use common::RawClient;
use tornado_web::testing;
use tornado_web::{Application, Context, RequestHandler, Settings, url};

/// The server's limit in these tests.
const SERVER_LIMIT: u64 = 100;

/// Streams its body, with the limit set in `prepare` (`None`: left as it is).
struct Upload {
    limit: Option<u64>,
    bytes: usize,
}

impl RequestHandler for Upload {
    const STREAM_REQUEST_BODY: bool = true;

    async fn prepare(&mut self, cx: &mut Context) -> tornado_web::Result {
        if let Some(limit) = self.limit {
            cx.set_max_body_size(limit)?;
        }
        if cx.request().headers().get("X-Flush").is_some() {
            // The response starts before the body is read.
            cx.write("started; ");
            cx.flush().await?;
        }
        Ok(())
    }

    async fn data_received(&mut self, _cx: &mut Context, chunk: Bytes) -> tornado_web::Result {
        self.bytes += chunk.len();
        Ok(())
    }

    async fn put(&mut self, cx: &mut Context) -> tornado_web::Result {
        // The body is read: the limit can no longer change.
        let late = cx.set_max_body_size(1 << 20).is_err();
        cx.write(format!("{} bytes; late change refused: {late}", self.bytes));
        Ok(())
    }
}

/// Takes its body whole; tries to raise the limit, too late, in `prepare`.
struct Buffered(Rc<RefCell<Vec<String>>>);

impl RequestHandler for Buffered {
    async fn prepare(&mut self, cx: &mut Context) -> tornado_web::Result {
        if let Err(e) = cx.set_max_body_size(1 << 20) {
            self.0.borrow_mut().push(e.to_string());
        }
        Ok(())
    }

    async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.write(format!("{} bytes", cx.body().len()));
        Ok(())
    }
}

fn app(refused: Rc<RefCell<Vec<String>>>) -> Application {
    let mut settings = Settings::default();
    settings.server.params.max_body_size = SERVER_LIMIT;
    let upload = |limit: Option<u64>| move || Upload { limit, bytes: 0 };
    Application::with_settings(
        vec![
            url("/raise", upload(Some(1000))),
            url("/keep", upload(None)),
            url("/lower", upload(Some(10))),
            url("/buffered", move || Buffered(refused.clone())),
        ],
        settings,
    )
}

fn chunked(body: &[u8], piece: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for p in body.chunks(piece) {
        out.extend_from_slice(format!("{:x}\r\n", p.len()).as_bytes());
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// Sends `head` and `body` on a connection of its own; the response.
async fn exchange(t: &testing::TestServer, head: &str, body: &[u8]) -> common::RawResponse {
    let c = RawClient::connect(t.addr()).await;
    let mut req = head.as_bytes().to_vec();
    req.extend_from_slice(body);
    c.send(&req).await;
    c.read_response(false).await
}

/// `PUT path` with `body` framed by `Content-Length`; the response.
async fn put(t: &testing::TestServer, path: &str, body: &[u8]) -> common::RawResponse {
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    exchange(t, &head, body).await
}

/// `PUT path` with `body` in chunks of `piece` bytes; the response.
async fn put_chunked(
    t: &testing::TestServer,
    path: &str,
    body: &[u8],
    piece: usize,
) -> common::RawResponse {
    let head = format!("PUT {path} HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    exchange(t, &head, &chunked(body, piece)).await
}

#[test]
fn a_streaming_handler_that_raises_the_limit_takes_a_larger_body() {
    testing::run(
        || app(Rc::default()),
        |t| async move {
            let body = vec![b'x'; 500];
            let r = put(&t, "/raise", &body).await;
            assert_eq!(r.status, 200, "{}", r.text());
            assert_eq!(r.text(), "500 bytes; late change refused: true");
            let r = put_chunked(&t, "/raise", &body, 64).await;
            assert_eq!(r.text(), "500 bytes; late change refused: true");
            // Its own limit holds too.
            let r = put(&t, "/raise", &[b'x'; 1001]).await;
            assert_eq!(r.status, 413);
            let r = put_chunked(&t, "/raise", &[b'x'; 1001], 300).await;
            assert_eq!(r.status, 413);
        },
    );
}

#[test]
fn a_streaming_handler_that_leaves_the_limit_gets_413_over_the_servers() {
    testing::run(
        || app(Rc::default()),
        |t| async move {
            let r = put(&t, "/keep", &[b'x'; 100]).await;
            assert_eq!(r.text(), "100 bytes; late change refused: true");
            let r = put(&t, "/keep", &[b'x'; 101]).await;
            assert_eq!(r.status, 413);
            assert_eq!(r.header("Connection"), Some("close"));
            let r = put_chunked(&t, "/keep", &[b'x'; 101], 50).await;
            assert_eq!(r.status, 413);
            // No `100 Continue` for a body that will be refused.
            let c = RawClient::connect(t.addr()).await;
            c.send(b"PUT /keep HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 500\r\n\r\n")
                .await;
            let r = c.read_response(false).await;
            assert_eq!(r.status, 413);
            // A raised limit gets its `100 Continue`.
            let c = RawClient::connect(t.addr()).await;
            c.send(b"PUT /raise HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 500\r\n\r\n")
                .await;
            assert_eq!(c.read_head().await.status, 100);
            c.send(&[b'x'; 500]).await;
            assert_eq!(
                c.read_response(false).await.text(),
                "500 bytes; late change refused: true"
            );
        },
    );
}

#[test]
fn a_streaming_handler_that_lowers_the_limit_gets_413_between_the_two() {
    testing::run(
        || app(Rc::default()),
        |t| async move {
            let r = put(&t, "/lower", &[b'x'; 10]).await;
            assert_eq!(r.text(), "10 bytes; late change refused: true");
            let r = put(&t, "/lower", &[b'x'; 50]).await;
            assert_eq!(r.status, 413);
            let r = put_chunked(&t, "/lower", &[b'x'; 50], 8).await;
            assert_eq!(r.status, 413);
        },
    );
}

#[test]
fn a_response_started_before_the_413_is_not_followed_by_another() {
    testing::run(
        || app(Rc::default()),
        |t| async move {
            let c = RawClient::connect(t.addr()).await;
            c.send(b"PUT /keep HTTP/1.1\r\nHost: a\r\nX-Flush: 1\r\nContent-Length: 500\r\n\r\n")
                .await;
            let r = c.read_head().await;
            assert_eq!(r.status, 200);
            assert_eq!(c.read_chunk().await.as_deref(), Some(&b"started; "[..]));
            // The connection closes instead of a second response.
            let rest = c.read_to_close().await;
            assert!(
                !String::from_utf8_lossy(&rest).contains("HTTP/1.1"),
                "{:?}",
                String::from_utf8_lossy(&rest)
            );
        },
    );
}

#[test]
fn a_buffered_handler_keeps_the_servers_limit() {
    let refused: Rc<RefCell<Vec<String>>> = Rc::default();
    let seen = refused.clone();
    testing::run(
        move || app(seen),
        |t| async move {
            let head = |len: usize| {
                format!("POST /buffered HTTP/1.1\r\nHost: a\r\nContent-Length: {len}\r\n\r\n")
            };
            let r = exchange(&t, &head(500), &[b'x'; 500]).await;
            assert_eq!(r.status, 413);
            let r = exchange(&t, &head(50), &[b'x'; 50]).await;
            assert_eq!(r.text(), "50 bytes");
        },
    );
    // `prepare` runs after a buffered body was read: the change was refused, with a
    // message that says so.
    let refused = refused.borrow();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].contains("set_max_body_size"), "{refused:?}");
}
