//! The chat demo in a real browser: two pages of the `chat` example open in headless
//! Chromium; a message posted in one appears in the other through its long poll.

mod common;

// The harness has more than this test uses (its own test uses the rest).
#[allow(dead_code)]
#[path = "common/browser.rs"]
mod browser;

use browser::Browser;

#[test]
fn a_message_posted_in_one_page_appears_in_the_other() {
    let browser = match Browser::launch() {
        Ok(b) => b,
        Err(skip) => {
            eprintln!("{skip}");
            return;
        }
    };
    let chat = common::serve_example("chat", &["--port", "0", "--address", "127.0.0.1"]);

    let url = format!("http://{}/", chat.addr);
    let writer = browser.open(&url);
    let reader = browser.open(&url);
    // Both pages are long-polling once their script has run.
    writer.wait_for("the page's script ran", "typeof updater === 'object'");
    reader.wait_for("the page's script ran", "typeof updater === 'object'");

    writer.type_into("#message", "hello from the first page <b>");
    writer.click("input[type=submit]");

    // The other page gets it through its long poll, escaped.
    reader.wait_for_text("#inbox .message", "hello from the first page <b>");
    // And the page that posted shows it once, too.
    writer.wait_for_text("#inbox .message", "hello from the first page <b>");
    assert_eq!(writer.texts("#inbox .message").len(), 1);

    // A second message, the other way round.
    reader.type_into("#message", "and back");
    reader.click("input[type=submit]");
    writer.wait_for_text("#inbox .message", "and back");
    assert_eq!(
        reader.texts("#inbox .message"),
        ["hello from the first page <b>", "and back"]
    );
}
