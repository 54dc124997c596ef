//! A streaming handler whose `set_default_headers` panics never started: it answers
//! 500 and none of its hooks run (no `prepare`, and no `on_connection_close`, since
//! the client did not leave).

mod common;

use std::cell::Cell;

use common::RawClient;
use tornado_web::{Application, Context, RequestHandler, testing, url};

thread_local! {
    static PREPARED: Cell<u32> = const { Cell::new(0) };
    static CLOSED: Cell<u32> = const { Cell::new(0) };
}

struct Streaming;

impl RequestHandler for Streaming {
    const STREAM_REQUEST_BODY: bool = true;

    fn set_default_headers(_cx: &mut Context) {
        panic!("in set_default_headers");
    }

    async fn prepare(&mut self, _cx: &mut Context) -> tornado_web::Result {
        PREPARED.with(|c| c.set(c.get() + 1));
        Ok(())
    }

    async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.write("ok");
        Ok(())
    }

    fn on_connection_close(&mut self) {
        CLOSED.with(|c| c.set(c.get() + 1));
    }
}

#[test]
fn a_panic_in_set_default_headers_runs_no_hook() {
    testing::run(
        || Application::new(vec![url("/", || Streaming)]),
        |t| async move {
            let c = RawClient::connect(t.addr()).await;
            c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab")
                .await;
            let out = c.read_to_close().await;
            let text = String::from_utf8_lossy(&out);
            assert!(text.starts_with("HTTP/1.1 500"), "{text}");
            assert_eq!(PREPARED.with(Cell::get), 0);
            assert_eq!(CLOSED.with(Cell::get), 0, "the client did not leave");
        },
    );
}
