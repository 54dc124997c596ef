//! The `webspider` example as a user runs it: it crawls the site it serves itself on
//! 127.0.0.1 and sums up what it found.

mod common;

use common::{RefusedPort, run_example};

/// The demo site: the index, `/old` (a redirect) and 30 pages fetched; three links
/// to `/missing/N` give 404.
const FETCHED: usize = 32;
const DEAD: usize = 3;

fn crawl_and_check(args: &[&str]) {
    let run = run_example("webspider", args);
    let out = run.stdout_text();
    assert!(run.status.success(), "{args:?}: {run:?}\n{out}");
    assert!(
        out.contains(&format!("fetched {FETCHED} URLs.")),
        "{args:?}: {out}"
    );
    assert!(
        out.contains(&format!("Unable to fetch {DEAD} URLs.")),
        "{args:?}: {out}"
    );
    let fetched: Vec<&str> = out.lines().filter(|l| l.starts_with("fetched ")).collect();
    assert_eq!(fetched.len(), FETCHED, "{args:?}: {out}");
    assert!(
        fetched
            .iter()
            .all(|l| l.starts_with("fetched http://127.0.0.1:")),
        "{out}"
    );
    assert!(
        fetched
            .iter()
            .any(|l| l.ends_with("/old -> ") || l.contains("/old -> http://127.0.0.1:")),
        "the redirect is followed: {out}"
    );
    let errors = out.lines().filter(|l| l.starts_with("error: ")).count();
    assert_eq!(errors, DEAD, "{out}");
    assert!(
        !out.contains("example.invalid"),
        "nothing off the site: {out}"
    );
}

#[test]
fn the_self_served_crawl_finds_every_page() {
    crawl_and_check(&[]);
}

#[test]
fn the_crawl_ends_the_same_with_one_worker_or_many() {
    crawl_and_check(&["--concurrency", "1"]);
    crawl_and_check(&["--concurrency", "40"]);
}

#[test]
fn an_unreachable_base_url_fails() {
    let refused = RefusedPort::new();
    let port = refused.port;
    let run = run_example("webspider", &[&format!("http://127.0.0.1:{port}/")]);
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert!(run.stdout_text().contains("Unable to fetch 1 URLs."));
    assert!(run.stderr.contains("could not fetch"), "{}", run.stderr);
}
