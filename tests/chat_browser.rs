//! The chat demo in a real browser: two pages of the `chat` example open in headless
//! Chromium; a message posted in one appears in the other through its long poll.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::browser::Browser;

/// The chat example, killed when the test ends however it ends.
struct Chat(Child);

impl Drop for Chat {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_message_posted_in_one_page_appears_in_the_other() {
    let browser = match Browser::launch() {
        Ok(b) => b,
        Err(skip) => {
            eprintln!("{skip}");
            return;
        }
    };
    let binary = common::example_binary("chat");
    let mut chat = Chat(
        Command::new(&binary)
            .args(["--port", "0", "--address", "127.0.0.1"])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chat"),
    );
    let mut lines = BufReader::new(chat.0.stderr.take().expect("stderr")).lines();
    let addr = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(rest) = line.split("chat demo on http://").nth(1) {
                    break rest.split('/').next().unwrap_or("").to_string();
                }
            }
            _ => panic!("chat exited before listening"),
        }
    };
    // Keep reading its log so the process never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});

    let url = format!("http://{addr}/");
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
