//! The chat demos in a real browser: pages of the `chat` example (long polling) and of
//! the `websocket_chat` example open in headless Chromium, and the same scenario runs
//! on each: a message posted in one page appears in all the others, escaped; a page
//! opened later shows what was said before it.

mod common;

// The harness has more than this test uses (its own test uses the rest).
#[allow(dead_code)]
#[path = "common/browser.rs"]
mod browser;

use std::time::Instant;

use browser::{Browser, Page, js_string};

/// One of the chat examples, and how to tell that a page of it is ready to send and
/// receive.
struct Demo {
    example: &'static str,
    /// A JavaScript condition, true once the page's script is connected.
    ready: &'static str,
}

/// Long polling: the page polls once its script has run.
const LONG_POLLING: Demo = Demo {
    example: "chat",
    ready: "typeof updater === 'object'",
};

/// WebSocket: the page's socket is open.
const WEBSOCKET: Demo = Demo {
    example: "websocket_chat",
    ready: "typeof updater === 'object' && updater.socket !== null \
            && updater.socket.readyState === WebSocket.OPEN",
};

/// A message that would run script if it were not escaped: it would set
/// `window.injected`, and put an `<img>` and a `<b>` in the inbox.
const HOSTILE: &str = "hello <b>bold</b> <img src=x onerror=\"window.injected=1\"> & more";

/// Opens a page of the demo and waits until it is connected.
fn open(browser: &Browser, url: &str, demo: &Demo) -> Page {
    let page = browser.open(url);
    page.wait_for("the page's script to connect", demo.ready);
    page
}

/// Posts `text` from `page` with its form, as a person does.
fn post(page: &Page, text: &str) {
    page.type_into("#message", text);
    page.click("input[type=submit]");
}

/// Waits until `page` shows exactly `expected`, in order, as text (each message once),
/// then checks that nothing of them was taken for markup.
fn assert_shows(page: &Page, expected: &[&str]) {
    let texts = "Array.from(document.querySelectorAll('#inbox .message'), e => e.textContent)";
    let expected_json = serde_json::to_string(expected).expect("JSON");
    page.wait_for(
        &format!("the inbox to show {expected:?}"),
        &format!("JSON.stringify({texts}) === {}", js_string(&expected_json)),
    );
    let markup = page.eval(
        "document.querySelectorAll('#inbox .message *').length === 0 \
         && window.injected === undefined",
    );
    assert_eq!(markup, true, "a message was taken for markup");
}

/// The scenario: three pages; each one's message appears in the others; a page
/// opened later shows the earlier messages, and its own message reaches the others.
fn pages_see_each_others_messages(demo: &Demo) {
    let started = Instant::now();
    let browser = match Browser::launch() {
        Ok(b) => b,
        Err(skip) => return eprintln!("{skip}"),
    };
    let chat = common::serve_example(demo.example, &["--port", "0", "--address", "127.0.0.1"]);
    let url = format!("http://{}/", chat.addr);
    let pages: Vec<Page> = (0..3).map(|_| open(&browser, &url, demo)).collect();

    let mut said: Vec<String> = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        let text = if i == 0 {
            HOSTILE.to_owned()
        } else {
            format!("page {i} says hi")
        };
        post(page, &text);
        said.push(text);
        let said: Vec<&str> = said.iter().map(String::as_str).collect();
        for page in &pages {
            assert_shows(page, &said);
        }
        // The box is emptied for the next message.
        page.wait_for(
            "the message box to be emptied",
            "document.getElementById('message').value === ''",
        );
    }

    // A page opened now shows the messages so far (the server renders them into the
    // page), and what it posts reaches the others.
    let late = open(&browser, &url, demo);
    let said_before: Vec<&str> = said.iter().map(String::as_str).collect();
    assert_shows(&late, &said_before);
    post(&late, "the late page says hi");
    let mut all = said_before;
    all.push("the late page says hi");
    for page in pages.iter().chain([&late]) {
        assert_shows(page, &all);
    }
    eprintln!(
        "{} in {} with {} pages: passed in {:?}",
        demo.example,
        browser.binary().display(),
        pages.len() + 1,
        started.elapsed()
    );
}

#[test]
fn long_polling_chat_pages_see_each_others_messages() {
    pages_see_each_others_messages(&LONG_POLLING);
}

#[test]
fn websocket_chat_pages_see_each_others_messages() {
    pages_see_each_others_messages(&WEBSOCKET);
}
