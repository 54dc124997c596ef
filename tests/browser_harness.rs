//! The headless-Chromium harness (`tests/common/browser.rs`) proven on a page served by
//! `HttpServer`: a message typed and sent in one tab appears in another, which polls
//! the server for it, as the chat demo's browser test will do.

#[path = "common/browser.rs"]
mod browser;
mod common;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use browser::{Browser, WAIT_LIMIT};
use tornado::httpserver::Response;
use tornado::httpserver::http::{Method, StatusCode};
use tornado::httputil::HttpServerRequest;

/// The page that sends: an input, a button, and a POST of the input's text.
const WRITE_PAGE: &str = r#"<!doctype html>
<title>write</title>
<form id="form"><input id="text" autocomplete="off"><button id="send">Send</button></form>
<p id="status"></p>
<script>
document.getElementById("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("text");
  const status = document.getElementById("status");
  try {
    const reply = await fetch("/messages", { method: "POST", body: input.value });
    status.textContent = reply.ok ? "sent" : "error " + reply.status;
  } catch (e) {
    status.textContent = "error " + e;
  }
  input.value = "";
});
</script>
"#;

/// The page that shows: it fetches the messages every 100 ms and lists the new ones.
const READ_PAGE: &str = r#"<!doctype html>
<title>read</title>
<ul id="messages"></ul>
<script>
let shown = 0;
async function poll() {
  try {
    const reply = await fetch("/messages");
    const text = await reply.text();
    const lines = text === "" ? [] : text.split("\n");
    for (; shown < lines.length; shown++) {
      const item = document.createElement("li");
      item.textContent = lines[shown];
      document.getElementById("messages").appendChild(item);
    }
  } catch (e) {}
  setTimeout(poll, 100);
}
poll();
</script>
"#;

/// Serves the two pages and `/messages` (POST appends a line, GET lists them all) on
/// 127.0.0.1, on a thread and loop of its own for the life of the test process.
fn start_server() -> SocketAddr {
    common::serve_on_thread(|| {
        let messages = Rc::new(RefCell::new(Vec::<String>::new()));
        move |req: HttpServerRequest| {
            let messages = Rc::clone(&messages);
            async move {
                match (req.method(), req.path()) {
                    (&Method::GET, "/") => Response::html(WRITE_PAGE),
                    (&Method::GET, "/read") => Response::html(READ_PAGE),
                    (&Method::GET, "/messages") => Response::text(messages.borrow().join("\n")),
                    (&Method::POST, "/messages") => {
                        let line = String::from_utf8_lossy(&req.body).replace('\n', " ");
                        messages.borrow_mut().push(line);
                        Response::text("ok")
                    }
                    _ => Response::text("not found").with_status(StatusCode::NOT_FOUND),
                }
            }
        }
    })
}

#[test]
fn a_message_sent_in_one_tab_appears_in_the_other() {
    let started = Instant::now();
    let browser = match Browser::launch() {
        Ok(browser) => browser,
        Err(skip) => return eprintln!("{skip}"),
    };
    let base = format!("http://{}", start_server());
    let reader = browser.open(&format!("{base}/read"));
    let writer = browser.open(&format!("{base}/"));

    writer.type_into("#text", "hello from the other tab");
    writer.click("#send");
    writer.wait_for_text("#status", "sent");
    reader.wait_for_text("#messages li", "hello from the other tab");

    // A second message arrives after the first, once each.
    writer.type_into("#text", "and a second one");
    writer.press_key("Enter");
    reader.wait_for_text("#messages li", "and a second one");
    assert_eq!(
        reader.texts("#messages li"),
        ["hello from the other tab", "and a second one"]
    );
    assert_eq!(writer.eval("document.getElementById('text').value"), "");
    eprintln!(
        "browser test with {} took {:?}",
        browser.binary().display(),
        started.elapsed()
    );
}

#[test]
fn a_wait_that_never_comes_true_fails_at_its_limit() {
    let browser = match Browser::launch() {
        Ok(browser) => browser,
        Err(skip) => return eprintln!("{skip}"),
    };
    let page = browser.open(&format!("http://{}/read", start_server()));
    let limit = Duration::from_millis(500);
    let start = Instant::now();
    let timeout = page
        .try_wait_for(
            "a message nobody sent",
            "document.querySelector('li')",
            limit,
        )
        .expect_err("no message was sent");
    let waited = start.elapsed();
    assert!(waited >= limit && waited < WAIT_LIMIT, "{waited:?}");
    assert!(
        timeout.to_string().contains("a message nobody sent"),
        "{timeout}"
    );
    assert!(page.screenshot().starts_with(b"\x89PNG"));
    // A JavaScript exception is an error, not a hang or a value.
    let thrown = page.try_eval("null.x").expect_err("it throws");
    assert!(thrown.contains("TypeError"), "{thrown}");
}
