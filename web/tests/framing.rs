//! How responses are framed, read as raw bytes: `Content-Length` for a body sent in
//! one piece, chunks for a flushed one (received as they are flushed), HEAD without
//! a body (and the next pipelined request still answered), 204 and 304 without a
//! body (and a 500 when a handler writes one).

mod common;

use common::RawClient;
use tornado_gen::locks::Event;
use tornado_web::testing;
use tornado_web::{Application, Context, RequestHandler, url};

struct Hello;
impl RequestHandler for Hello {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.write("Hello, world");
        Ok(())
    }
    async fn head(&mut self, cx: &mut Context) -> tornado_web::Result {
        // A HEAD handler may write the body it would send; none goes out.
        cx.write("Hello, world");
        Ok(())
    }
}

/// Flushes a piece, waits until the test has read it, then writes the rest.
struct Streamer {
    first_read: Event,
}
impl RequestHandler for Streamer {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.set_header("Content-Type", "text/plain")?;
        cx.write("first piece");
        cx.flush().await?;
        self.first_read.wait().await;
        cx.write("second piece");
        cx.flush().await?;
        // An empty flush sends nothing.
        cx.flush().await?;
        cx.write("last");
        Ok(())
    }
    async fn head(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.write("streamed head");
        cx.flush().await?;
        Ok(())
    }
}

/// Answers `?code=` (204 or 304), with a body if `?body=1`, flushed first if
/// `?flush=1`.
struct NoContent;
impl RequestHandler for NoContent {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        let code: u16 = cx.get_argument("code")?.parse()?;
        cx.set_status(code)?;
        if cx.get_argument_or("body", "0")? == "1" {
            cx.write("not allowed");
        }
        if cx.get_argument_or("flush", "0")? == "1" {
            cx.flush().await?;
        }
        Ok(())
    }
}

/// Flushes a 200, then sets `?code=` (the head is gone: it changes nothing on the
/// wire) and writes the rest.
struct LateStatus;
impl RequestHandler for LateStatus {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.write("sent ");
        cx.flush().await?;
        cx.set_status(cx.get_argument("code")?.parse::<u16>()?)?;
        cx.write("with 200");
        cx.flush().await?;
        cx.write(", all of it");
        Ok(())
    }
}

/// Sets `Content-Length` itself, as a HEAD for a file would.
struct ExplicitLength;
impl RequestHandler for ExplicitLength {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.set_header("Content-Length", 5)?;
        cx.write("hello");
        Ok(())
    }
    async fn head(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.set_header("Content-Length", 1234)?;
        Ok(())
    }
}

/// Sets a `Content-Length` that does not match what it writes.
struct WrongLength;
impl RequestHandler for WrongLength {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        let (declared, written) = match cx.get_argument("how")?.as_str() {
            "more" => (42, 2),
            _ => (2, 42),
        };
        cx.set_header("Content-Length", declared)?;
        cx.write(vec![b'x'; written]);
        Ok(())
    }
}

fn app(first_read: Event) -> Application {
    Application::new(vec![
        url("/", || Hello),
        url("/wrong_length", || WrongLength),
        url("/explicit", || ExplicitLength),
        url("/stream", move || Streamer {
            first_read: first_read.clone(),
        }),
        url("/nocontent", || NoContent),
        url("/late_status", || LateStatus),
    ])
}

#[test]
fn one_piece_has_content_length() {
    testing::run(
        || app(Event::new()),
        |t| async move {
            let c = RawClient::connect(t.addr()).await;
            c.request("GET", "/", "").await;
            let r = c.read_response(false).await;
            assert_eq!(r.status, 200);
            assert_eq!(r.header("Content-Length"), Some("12"));
            assert!(r.header("Transfer-Encoding").is_none());
            assert_eq!(r.text(), "Hello, world");
        },
    );
}

#[test]
fn head_has_content_length_but_no_body() {
    testing::run(
        || app(Event::new()),
        |t| async move {
            let c = RawClient::connect(t.addr()).await;
            // Pipelined: a body sent after the HEAD response would be read as the
            // start of the next response.
            c.send(
                b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n\
                  GET / HTTP/1.1\r\nHost: a\r\n\r\n\
                  HEAD /nowhere HTTP/1.1\r\nHost: a\r\n\r\n\
                  HEAD /stream HTTP/1.1\r\nHost: a\r\n\r\n\
                  GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            )
            .await;
            let head = c.read_response(true).await;
            assert_eq!(head.status, 200);
            assert_eq!(head.header("Content-Length"), Some("12"));
            assert!(head.header("Etag").is_some());

            let get = c.read_response(false).await;
            assert_eq!(get.status, 200);
            assert_eq!(get.text(), "Hello, world");
            assert_eq!(get.header("Etag"), head.header("Etag"));

            // An error page to HEAD has no body either.
            let missing = c.read_response(true).await;
            assert_eq!(missing.status, 404);

            // A flushed HEAD response: chunked framing announced, no chunks sent.
            let streamed = c.read_response(true).await;
            assert_eq!(streamed.status, 200, "{}", streamed.head);

            let last = c.read_response(false).await;
            assert_eq!(last.text(), "Hello, world");
            assert!(c.read_to_close().await.is_empty(), "nothing after the last");
        },
    );
}

#[test]
fn flush_streams_chunks_as_they_are_written() {
    let first_read = Event::new();
    let ev = first_read.clone();
    testing::run(
        move || app(ev),
        |t| async move {
            let c = RawClient::connect(t.addr()).await;
            c.request("GET", "/stream", "").await;
            let r = c.read_head().await;
            assert_eq!(r.status, 200);
            assert_eq!(r.header("Transfer-Encoding"), Some("chunked"));
            assert!(r.header("Content-Length").is_none());
            assert!(r.header("Etag").is_none());
            // The first piece arrives while the handler is still waiting.
            assert_eq!(c.read_chunk().await.unwrap(), b"first piece");
            first_read.set();
            assert_eq!(c.read_chunk().await.unwrap(), b"second piece");
            assert_eq!(c.read_chunk().await.unwrap(), b"last");
            assert_eq!(c.read_chunk().await, None);
            // The connection is ready for another request.
            c.request("GET", "/", "").await;
            assert_eq!(c.read_response(false).await.text(), "Hello, world");
        },
    );
}

#[test]
fn no_content_statuses_carry_no_body() {
    testing::run(
        || app(Event::new()),
        |t| async move {
            let c = RawClient::connect(t.addr()).await;
            // Finished in one piece, or flushed first: either way no representation.
            for (code, flush) in [(204, 0), (304, 0), (204, 1)] {
                c.request("GET", &format!("/nocontent?code={code}&flush={flush}"), "")
                    .await;
                let r = c.read_head().await;
                assert_eq!(r.status, code);
                assert!(r.header("Content-Length").is_none(), "{}", r.head);
                assert!(r.header("Transfer-Encoding").is_none(), "{}", r.head);
                assert!(r.header("Content-Type").is_none(), "{}", r.head);
            }
            // The connection still frames the next response right.
            c.request("GET", "/", "").await;
            assert_eq!(c.read_response(false).await.text(), "Hello, world");
        },
    );
}

#[test]
fn a_status_set_after_the_head_does_not_cut_the_body() {
    testing::run(
        || app(Event::new()),
        |t| async move {
            let c = RawClient::connect(t.addr()).await;
            // As in Tornado, the body goes on as the head sent said it would.
            for code in [204, 304, 404] {
                c.request("GET", &format!("/late_status?code={code}"), "")
                    .await;
                let r = c.read_response(false).await;
                assert_eq!(r.status, 200, "{code}");
                assert_eq!(r.header("Transfer-Encoding"), Some("chunked"), "{code}");
                assert_eq!(r.text(), "sent with 200, all of it", "{code}");
            }
            c.request("GET", "/", "").await;
            assert_eq!(c.read_response(false).await.text(), "Hello, world");
        },
    );
}

#[test]
fn a_body_with_204_or_304_is_a_500() {
    testing::run(
        || app(Event::new()),
        |t| async move {
            for code in [204, 304] {
                let r = t.fetch(&format!("/nocontent?code={code}&body=1")).await;
                assert_eq!(r.code, 500, "{code}");
                assert_eq!(
                    r.text().unwrap(),
                    "<html><title>500: Internal Server Error</title>\
                     <body>500: Internal Server Error</body></html>"
                );
            }
        },
    );
}

#[test]
fn a_content_length_set_by_the_handler_is_sent_once() {
    testing::run(
        || app(Event::new()),
        |t| async move {
            let c = RawClient::connect(t.addr()).await;
            c.request("GET", "/explicit", "").await;
            let r = c.read_response(false).await;
            assert_eq!(r.header_all("Content-Length"), ["5"], "{}", r.head);
            assert_eq!(r.text(), "hello");
            // HEAD tells the length of what GET would send, without sending it.
            c.request("HEAD", "/explicit", "").await;
            let r = c.read_response(true).await;
            assert_eq!(r.status, 200);
            assert_eq!(r.header_all("Content-Length"), ["1234"], "{}", r.head);
            c.request("GET", "/", "").await;
            assert_eq!(c.read_response(false).await.text(), "Hello, world");
        },
    );
}

#[test]
fn a_wrong_content_length_never_frames_a_wrong_response() {
    testing::run(
        || app(Event::new()),
        |t| async move {
            for how in ["more", "less"] {
                let c = RawClient::connect(t.addr()).await;
                c.request("GET", &format!("/wrong_length?how={how}"), "")
                    .await;
                c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
                let all = c.read_to_close().await;
                let text = String::from_utf8_lossy(&all);
                // As in Tornado, the connection is closed with the response cut
                // short: the client sees an error, never a complete response of the
                // wrong length, and the pipelined request is not answered on a
                // connection whose framing is off.
                let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
                let declared: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .map_or(usize::MAX, |n| n.parse().unwrap());
                assert!(body.len() < declared, "{how}: {text}");
                assert!(!text.contains("Hello, world"), "{how}: {text}");
            }
            assert_eq!(t.fetch("/").await.text().unwrap(), "Hello, world");
        },
    );
}
