//! Streamed request bodies (`STREAM_REQUEST_BODY`, Tornado's
//! `@stream_request_body`): `prepare` runs before the body arrives, the body comes
//! in `data_received` pieces and is not buffered, `prepare` can refuse it, and an
//! error from `data_received` answers with its status.

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use common::RawClient;
use tornado_gen::locks::Event;
use tornado_web::testing;
use tornado_web::{Application, Context, HttpError, RequestHandler, url};

/// What the handler saw, in order.
#[derive(Default)]
struct Seen {
    steps: Vec<String>,
    pieces: Vec<usize>,
}

struct Upload {
    seen: Rc<RefCell<Seen>>,
    prepared: Event,
    bytes: usize,
}

impl RequestHandler for Upload {
    const STREAM_REQUEST_BODY: bool = true;

    async fn prepare(&mut self, cx: &mut Context) -> tornado_web::Result {
        self.seen.borrow_mut().steps.push("prepare".to_owned());
        self.prepared.set();
        if cx.request().headers().get("X-Refuse").is_some() {
            return Err(HttpError::new(413).into());
        }
        if cx.request().headers().get("X-Flush").is_some() {
            // The response starts before the body is read.
            cx.write("started; ");
            cx.flush().await?;
        }
        Ok(())
    }

    async fn data_received(&mut self, cx: &mut Context, chunk: Bytes) -> tornado_web::Result {
        if chunk.contains(&b'!') {
            return Err(HttpError::new(422).into());
        }
        {
            let mut seen = self.seen.borrow_mut();
            if seen.pieces.is_empty() {
                seen.steps.push("data".to_owned());
            }
            seen.pieces.push(chunk.len());
        }
        self.bytes += chunk.len();
        if cx.request().headers().get("X-Slow").is_some() {
            // Flow control: no more body is read while this waits.
            tornado_gen::sleep(Duration::from_millis(1)).await;
        }
        Ok(())
    }

    async fn put(&mut self, cx: &mut Context) -> tornado_web::Result {
        self.seen.borrow_mut().steps.push("put".to_owned());
        cx.write(format!(
            "{} bytes, {} buffered",
            self.bytes,
            cx.body().len()
        ));
        Ok(())
    }

    async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
        self.put(cx).await
    }

    fn on_connection_close(&mut self) {
        self.seen
            .borrow_mut()
            .steps
            .push("on_connection_close".to_owned());
        self.prepared.set();
    }
}

fn app(seen: Rc<RefCell<Seen>>, prepared: Event) -> Application {
    Application::new(vec![url("/upload", move || Upload {
        seen: seen.clone(),
        prepared: prepared.clone(),
        bytes: 0,
    })])
}

#[test]
fn prepare_runs_before_the_body_arrives() {
    let seen: Rc<RefCell<Seen>> = Rc::default();
    let prepared = Event::new();
    let (s, p) = (seen.clone(), prepared.clone());
    testing::run(
        move || app(s, p),
        |t| async move {
            let c = RawClient::connect(t.addr()).await;
            c.send(b"PUT /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhello")
                .await;
            // prepare runs with half the body still to come.
            prepared.wait().await;
            c.send(b"world").await;
            let r = c.read_response(false).await;
            assert_eq!(r.status, 200);
            assert_eq!(r.text(), "10 bytes, 0 buffered");
        },
    );
    let seen = seen.borrow();
    assert_eq!(seen.steps, ["prepare", "data", "put"]);
    assert_eq!(seen.pieces.iter().sum::<usize>(), 10);
}

#[test]
fn a_large_upload_comes_in_pieces() {
    let seen: Rc<RefCell<Seen>> = Rc::default();
    let s = seen.clone();
    let size = 8 * 1024 * 1024;
    testing::run(
        move || app(s, Event::new()),
        move |t| async move {
            let r = t
                .fetch_request(t.request("/upload").method("PUT").body(vec![b'x'; size]))
                .await;
            assert_eq!(r.code, 200);
            assert_eq!(r.text().unwrap(), format!("{size} bytes, 0 buffered"));
            // Chunked uploads too, with flow control.
            let body: Vec<u8> = vec![b'y'; 200_000];
            let c = RawClient::connect(t.addr()).await;
            let mut req = b"POST /upload HTTP/1.1\r\nHost: a\r\nX-Slow: 1\r\n\
                Transfer-Encoding: chunked\r\n\r\n"
                .to_vec();
            for piece in body.chunks(50_000) {
                req.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                req.extend_from_slice(piece);
                req.extend_from_slice(b"\r\n");
            }
            req.extend_from_slice(b"0\r\n\r\n");
            c.send(&req).await;
            let r = c.read_response(false).await;
            assert_eq!(r.text(), "200000 bytes, 0 buffered");
        },
    );
    let seen = seen.borrow();
    let max = seen.pieces.iter().copied().max().unwrap_or(0);
    // Never more than the server's chunk size at once: the body was not buffered.
    assert!(
        max <= tornado_httpserver::http1connection::DEFAULT_CHUNK_SIZE,
        "{max}"
    );
    assert!(seen.pieces.len() >= size / max, "{}", seen.pieces.len());
}

#[test]
fn prepare_can_refuse_the_body_and_data_received_can_fail() {
    let seen: Rc<RefCell<Seen>> = Rc::default();
    let s = seen.clone();
    testing::run(
        move || app(s, Event::new()),
        |t| async move {
            let r = t
                .fetch_request(
                    t.request("/upload")
                        .method("PUT")
                        .header("X-Refuse", "1")
                        .body(vec![b'x'; 100_000]),
                )
                .await;
            assert_eq!(r.code, 413);

            let r = t
                .fetch_request(t.request("/upload").method("PUT").body("bad!body"))
                .await;
            assert_eq!(r.code, 422);

            // The server goes on.
            let r = t
                .fetch_request(t.request("/upload").method("PUT").body("fine"))
                .await;
            assert_eq!(r.text().unwrap(), "4 bytes, 0 buffered");
        },
    );
    let seen = seen.borrow();
    // Neither refused request reached the method, nor did the refused body reach
    // data_received.
    assert_eq!(seen.steps, ["prepare", "prepare", "prepare", "data", "put"]);
}

#[test]
fn prepare_refuses_an_upload_before_its_body_and_without_100_continue() {
    let seen: Rc<RefCell<Seen>> = Rc::default();
    let (s, p) = (seen.clone(), Event::new());
    testing::run(
        move || app(s, p),
        |t| async move {
            let c = RawClient::connect(t.addr()).await;
            // A client that waits for `100 Continue` before a large body.
            c.send(
                b"PUT /upload HTTP/1.1\r\nHost: a\r\nX-Refuse: 1\r\n\
                  Expect: 100-continue\r\nContent-Length: 1000000\r\n\r\n",
            )
            .await;
            // The refusal comes at once, not a `100 Continue`, and no body is needed.
            let r = c.read_response(false).await;
            assert_eq!(r.status, 413);
            assert_eq!(r.header("Connection"), Some("close"));
        },
    );
    assert_eq!(seen.borrow().steps, ["prepare"]);
}

#[test]
fn no_100_continue_inside_a_response_that_prepare_started() {
    let seen: Rc<RefCell<Seen>> = Rc::default();
    let (s, p) = (seen.clone(), Event::new());
    testing::run(
        move || app(s, p),
        |t| async move {
            let c = RawClient::connect(t.addr()).await;
            c.send(
                b"PUT /upload HTTP/1.1\r\nHost: a\r\nX-Flush: 1\r\n\
                  Expect: 100-continue\r\nContent-Length: 5\r\n\r\n",
            )
            .await;
            // The final response's head came first: an interim `100 Continue` can no
            // longer be sent (it would land inside the body), and the client sends
            // its body without it.
            let r = c.read_head().await;
            assert_eq!(r.status, 200);
            assert_eq!(c.read_chunk().await.as_deref(), Some(&b"started; "[..]));
            c.send(b"hello").await;
            let rest = c.read_to_close().await;
            assert_eq!(
                String::from_utf8_lossy(&rest),
                "13\r\n5 bytes, 0 buffered\r\n0\r\n\r\n"
            );
        },
    );
    assert_eq!(seen.borrow().steps, ["prepare", "data", "put"]);
}

#[test]
fn a_client_that_leaves_mid_upload_closes_the_request() {
    let seen: Rc<RefCell<Seen>> = Rc::default();
    let event = Event::new();
    let (s, e) = (seen.clone(), event.clone());
    testing::run(
        move || app(s, e),
        |t| async move {
            let c = RawClient::connect(t.addr()).await;
            c.send(b"PUT /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\npart")
                .await;
            event.wait().await; // prepare ran
            event.clear();
            c.stream.close();
            event
                .wait_timeout(Duration::from_secs(2))
                .await
                .expect("on_connection_close within 2 s");
            // The server goes on.
            let r = t
                .fetch_request(t.request("/upload").method("PUT").body("fine"))
                .await;
            assert_eq!(r.text().unwrap(), "4 bytes, 0 buffered");
        },
    );
    let seen = seen.borrow();
    assert_eq!(seen.steps[..3], ["prepare", "data", "on_connection_close"]);
}
