//! The `blog` example as a user meets it, through the HTTP client: sign up, log in,
//! post, and see the post, with the XSRF token on every form and the compose page
//! closed to strangers; the database outlives a restart.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use tornado::httpclient::{HttpClient, HttpRequest, HttpResponse};

/// A browser's share of the work: keeps cookies, sends them back, never follows
/// redirects (the test looks at each).
struct Browser {
    base: String,
    client: HttpClient,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn new(addr: &str) -> Browser {
        Browser {
            base: format!("http://{addr}"),
            client: HttpClient::new().expect("client"),
            cookies: BTreeMap::new(),
        }
    }

    fn send(&mut self, request: HttpRequest) -> HttpResponse {
        let mut request = request.follow_redirects(false);
        if !self.cookies.is_empty() {
            let header: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request = request.header("Cookie", &header.join("; "));
        }
        let response = match self.client.fetch(request) {
            Ok(r) => r,
            Err(e) => e
                .response()
                .cloned()
                .unwrap_or_else(|| panic!("no response: {e}")),
        };
        for line in response.headers.get_all("Set-Cookie") {
            let pair = line.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if line.contains("expires=") && value == "\"\"" {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        response
    }

    fn get(&mut self, path: &str) -> HttpResponse {
        let url = format!("{}{path}", self.base);
        self.send(HttpRequest::new(url))
    }

    /// Posts a form, with the XSRF token of the `_xsrf` cookie unless `xsrf` is false.
    fn post(&mut self, path: &str, fields: &[(&str, &str)], xsrf: bool) -> HttpResponse {
        let mut body = String::new();
        let token = self.xsrf_token();
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        if xsrf {
            all.push(("_xsrf", &token));
        }
        for (i, (k, v)) in all.iter().enumerate() {
            if i > 0 {
                body.push('&');
            }
            body.push_str(k);
            body.push('=');
            tornado::httputil::url_escape_into(&mut body, v.as_bytes());
        }
        let url = format!("{}{path}", self.base);
        self.send(HttpRequest::new(url).method("POST").body(body))
    }

    /// The token a page's form would carry: the cookie's own value serves as well.
    fn xsrf_token(&self) -> String {
        self.cookies.get("_xsrf").cloned().unwrap_or_default()
    }
}

fn text(r: &HttpResponse) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

fn location(r: &HttpResponse) -> &str {
    r.headers.get("Location").unwrap_or("")
}

struct TempFile(PathBuf);
impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn sign_up_log_in_post_and_read() {
    let db =
        TempFile(std::env::temp_dir().join(format!("tornado-blog-{}.sqlite3", std::process::id())));
    let _ = std::fs::remove_file(&db.0);
    let db_arg = db.0.to_string_lossy().into_owned();
    let args = [
        "--port",
        "0",
        "--address",
        "127.0.0.1",
        "--db",
        &db_arg,
        "--cookie-secret",
        "a test secret, long enough to sign with",
    ];
    let mut server = common::serve_example("blog", &args);
    let mut alice = Browser::new(&server.addr);

    // An empty blog sends its first visitor to create an author.
    let r = alice.get("/");
    assert_eq!((r.code, location(&r)), (302, "/compose"));
    let r = alice.get("/compose");
    assert_eq!((r.code, location(&r)), (302, "/auth/create"));
    let r = alice.get("/auth/create");
    assert_eq!(r.code, 200);
    assert!(text(&r).contains("name=\"_xsrf\""), "{}", text(&r));
    assert!(
        !alice.xsrf_token().is_empty(),
        "the form page sets the _xsrf cookie"
    );

    // Without the token, refused; with a short password, told why.
    let fields = [
        ("email", "alice@example.com"),
        ("name", "Alice"),
        ("password", "correct horse"),
    ];
    let r = alice.post("/auth/create", &fields, false);
    assert_eq!(r.code, 403);
    let r = alice.post(
        "/auth/create",
        &[
            ("email", "alice@example.com"),
            ("name", "Alice"),
            ("password", "short"),
        ],
        true,
    );
    assert_eq!(r.code, 400);
    assert!(text(&r).contains("at least 8 characters"), "{}", text(&r));
    let r = alice.post("/auth/create", &fields, true);
    assert_eq!((r.code, location(&r)), (302, "/"));
    assert!(alice.cookies.contains_key("blogdemo_user"));

    // Post, in Markdown with HTML in it.
    let r = alice.get("/compose");
    assert_eq!(r.code, 200, "{}", text(&r));
    let markdown = "Some *emphasis*.\n\n<script>alert('x')</script>\n";
    let r = alice.post(
        "/compose",
        &[("title", "Hello, World!"), ("markdown", markdown)],
        true,
    );
    assert_eq!((r.code, location(&r)), (302, "/entry/hello-world"));

    // Anyone sees it: the entry page, the home page, the archive, the feed.
    let mut bob = Browser::new(&server.addr);
    let r = bob.get("/entry/hello-world");
    assert_eq!(r.code, 200);
    let page = text(&r);
    assert!(
        page.contains("<title>Hello, World! - Tornado Blog</title>"),
        "{page}"
    );
    assert!(page.contains("<em>emphasis</em>"), "{page}");
    assert!(page.contains("&lt;script&gt;"), "raw HTML is text: {page}");
    assert!(!page.contains("<script>"), "{page}");
    assert!(page.contains("by Alice"), "{page}");
    assert!(
        !page.contains("Edit this post"),
        "only the author edits: {page}"
    );
    assert!(text(&bob.get("/")).contains("/entry/hello-world"));
    assert!(text(&bob.get("/archive")).contains("Hello, World!"));
    let feed = bob.get("/feed");
    assert_eq!(
        feed.headers.get("Content-Type"),
        Some("application/atom+xml")
    );
    assert!(
        text(&feed).contains("&lt;em&gt;emphasis&lt;/em&gt;"),
        "{}",
        text(&feed)
    );
    assert_eq!(bob.get("/entry/nothing-here").code, 404);

    // Names and emails are taken once.
    bob.get("/auth/create");
    let r = bob.post(
        "/auth/create",
        &[
            ("email", "bob@example.com"),
            ("name", "Alice"),
            ("password", "another horse"),
        ],
        true,
    );
    assert_eq!(r.code, 400);
    assert!(text(&r).contains("exists"), "{}", text(&r));
    assert!(!bob.cookies.contains_key("blogdemo_user"));

    // The compose page is closed to strangers: a login redirect, a 403 for a post.
    let r = bob.get("/compose");
    assert_eq!((r.code, location(&r)), (302, "/auth/login?next=%2Fcompose"));
    bob.get("/auth/login?next=%2Fcompose");
    let r = bob.post("/compose", &[("title", "Spam"), ("markdown", "x")], true);
    assert_eq!(r.code, 403);

    // Alice edits her post; a second post with the same title gets its own slug.
    let r = alice.post(
        "/compose",
        &[
            ("id", "1"),
            ("title", "Hello, World!"),
            ("markdown", "Edited."),
        ],
        true,
    );
    assert_eq!((r.code, location(&r)), (302, "/entry/hello-world"));
    assert!(text(&alice.get("/entry/hello-world")).contains("<p>Edited.</p>"));
    let r = alice.post(
        "/compose",
        &[("title", "Hello, World!"), ("markdown", "Again")],
        true,
    );
    assert_eq!(location(&r), "/entry/hello-world-2");

    // Log out, then in: a wrong password is refused, the right one goes to next.
    // Signing out is a POST with the XSRF token: a GET (an `<img>` on another
    // site) or a forged POST leaves the author signed in.
    assert!(text(&alice.get("/")).contains(r#"action="/auth/logout" method="post""#));
    assert_eq!(alice.get("/auth/logout").code, 405);
    assert_eq!(alice.post("/auth/logout", &[], false).code, 403);
    assert!(alice.cookies.contains_key("blogdemo_user"));
    assert!(text(&alice.get("/archive")).contains(r#"name="next" value="/archive""#));
    let r = alice.post("/auth/logout", &[("next", "/archive")], true);
    assert_eq!((r.code, location(&r)), (302, "/archive"));
    assert!(!alice.cookies.contains_key("blogdemo_user"));
    // A next that leaves the site is not followed.
    let r = alice.post("/auth/logout", &[("next", "//evil.example/")], true);
    assert_eq!((r.code, location(&r)), (302, "/"));
    let login = [("email", "alice@example.com"), ("next", "/compose")];
    let r = alice.post(
        "/auth/login",
        &[login[0], login[1], ("password", "wrong horse")],
        true,
    );
    assert_eq!(r.code, 403);
    assert!(text(&r).contains("Incorrect email or password"));
    let r = alice.post(
        "/auth/login",
        &[login[0], login[1], ("password", "correct horse")],
        true,
    );
    assert_eq!((r.code, location(&r)), (302, "/compose"));
    // A next that leaves the site is not followed.
    let r = alice.post(
        "/auth/login",
        &[
            login[0],
            ("next", "//evil.example/"),
            ("password", "correct horse"),
        ],
        true,
    );
    assert_eq!((r.code, location(&r)), (302, "/"));

    // The database outlives the process.
    assert!(server.terminate().success());
    let server = common::serve_example("blog", &args);
    let mut carol = Browser::new(&server.addr);
    assert!(text(&carol.get("/entry/hello-world")).contains("<p>Edited.</p>"));
    drop(server);
}
