//! The `fileserver` example as a user runs it: a separate process serving a directory
//! (a file, a range, a 304, an index page, a listing with names that need escaping, a
//! traversal refused), which drains and exits cleanly on SIGTERM.

mod common;

use std::path::PathBuf;

use tornado::httpclient::{HttpClient, HttpRequest, HttpResponse};

/// A directory of its own under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fetch(client: &HttpClient, request: HttpRequest) -> HttpResponse {
    client
        .fetch(request.follow_redirects(false).raise_error(false))
        .expect("a response")
}

#[test]
fn fileserver_serves_a_directory_and_stops_on_sigterm() {
    let dir = TempDir(
        std::env::temp_dir().join(format!("tornado-fileserver-example-{}", std::process::id())),
    );
    let root = dir.0.join("www");
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::create_dir_all(root.join("files")).unwrap();
    std::fs::write(root.join("hello.txt"), "hello, file\n").unwrap();
    std::fs::write(root.join("docs/index.html"), "<h1>docs</h1>").unwrap();
    std::fs::write(root.join("files/a b&c.txt"), "x").unwrap();
    std::fs::write(dir.0.join("secret.txt"), "secret").unwrap();

    let root_arg = root.display().to_string();
    let mut server = common::serve_example(
        "fileserver",
        &["--root", &root_arg, "--port", "0", "--address", "127.0.0.1"],
    );
    let base = format!("http://{}", server.addr);
    let client = HttpClient::new().expect("a client");
    let get = |path: &str| fetch(&client, HttpRequest::new(format!("{base}{path}")));

    let r = get("/hello.txt");
    assert_eq!(r.code, 200);
    assert_eq!(r.text().unwrap(), "hello, file\n");
    assert_eq!(r.headers.get("Content-Type"), Some("text/plain"));
    let etag = r.headers.get("Etag").expect("an ETag").to_owned();

    let r = fetch(
        &client,
        HttpRequest::new(format!("{base}/hello.txt")).header("If-None-Match", &etag),
    );
    assert_eq!(r.code, 304);
    let r = fetch(
        &client,
        HttpRequest::new(format!("{base}/hello.txt")).header("Range", "bytes=-5"),
    );
    assert_eq!(r.code, 206);
    assert_eq!(r.text().unwrap(), "file\n");

    assert_eq!(get("/docs").code, 301);
    assert_eq!(get("/docs/").text().unwrap(), "<h1>docs</h1>");
    let listing = get("/files/");
    assert_eq!(listing.code, 200);
    let page = listing.text().unwrap();
    assert!(
        page.contains("<a href=\"a%20b%26c.txt\">a b&amp;c.txt</a>"),
        "{page}"
    );
    assert!(get("/").text().unwrap().contains("href=\"docs/\""));
    assert_eq!(get("/../secret.txt").code, 403);
    assert_eq!(get("/nothing").code, 404);

    let status = server.terminate();
    assert!(status.success(), "{status}");
}
