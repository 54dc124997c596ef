//! `StaticFileHandler` over real sockets: types and lengths, `ETag` and
//! `If-Modified-Since` 304s, every `Range` shape (206, 416, clamping, ignored ranges),
//! `HEAD`, `default_filename` and its redirect, path traversal as a table of bad paths
//! sent as raw bytes, symlinks in and out of the root, versioned URLs and their cache
//! headers (with and without the hash cache), a file that changes, a large file
//! streamed whole and fairly, and a policy of one's own.

mod common;

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::RawClient;
use tornado_httpclient::HttpResponse;
use tornado_httpserver::httputil::format_timestamp;
use tornado_web::testing::{self, TestServer};
use tornado_web::{
    Application, Context, DefaultPolicy, HttpError, RequestHandler, Settings, StaticFile,
    StaticFileHandler, StaticFileOptions, StaticFiles, StaticPolicy, url,
};

const ROBOTS: &[u8] = b"User-agent: *\nDisallow: /\n";
const SECRET: &[u8] = b"TOP SECRET: never served";

/// A directory of its own under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "tornado-static-files-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn write(&self, rel: &str, data: &[u8]) -> PathBuf {
        let path = self.0.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create a parent directory");
        }
        std::fs::write(&path, data).expect("write a test file");
        path
    }

    fn symlink(&self, target: &str, link: &str) {
        std::os::unix::fs::symlink(target, self.0.join(link)).expect("make a symlink");
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A tree with a root to serve and, beside it, what must never be served:
///
/// ```text
/// secret.txt, outside/secret.txt
/// root/robots.txt (26 bytes), hello.html, sample.xml, sample.xml.gz, sample.xml.bz2,
///      README, dir/index.html, plain/a.txt, internal.txt -> robots.txt,
///      link.txt -> ../secret.txt, linkdir -> ../outside, dangling -> ../nothing,
///      escape/index.html -> ../../secret.txt
/// ```
fn tree() -> TempDir {
    let t = TempDir::new();
    t.write("secret.txt", SECRET);
    t.write("outside/secret.txt", SECRET);
    t.write("root/robots.txt", ROBOTS);
    t.write("root/hello.html", b"<p>hello</p>");
    t.write("root/sample.xml", b"<x/>");
    t.write("root/sample.xml.gz", b"not really gzip");
    t.write("root/sample.xml.bz2", b"not really bzip2");
    t.write("root/README", b"read me");
    t.write("root/dir/index.html", b"this is the index\n");
    t.write("root/plain/a.txt", b"a");
    t.symlink("robots.txt", "root/internal.txt");
    t.symlink("../secret.txt", "root/link.txt");
    t.symlink("../outside", "root/linkdir");
    t.symlink("../nothing", "root/dangling");
    std::fs::create_dir_all(t.path().join("root/escape")).unwrap();
    t.symlink("../../secret.txt", "root/escape/index.html");
    t
}

fn root_of(t: &TempDir) -> PathBuf {
    t.path().join("root")
}

/// The static settings for `root`, with `default_filename` for directories.
fn static_settings(root: &Path) -> Settings {
    Settings {
        static_path: Some(root.to_path_buf()),
        static_handler_args: StaticFileOptions {
            default_filename: Some("index.html".into()),
            ..StaticFileOptions::default()
        },
        ..Settings::default()
    }
}

fn app(root: &Path) -> Application {
    Application::with_settings(
        vec![url(
            r"/bare/(.*)",
            StaticFileHandler::factory(root.to_path_buf()),
        )],
        static_settings(root),
    )
}

async fn get(t: &TestServer, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    let mut request = t.request(path).follow_redirects(false);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    t.fetch_request(request).await
}

async fn head(t: &TestServer, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    let mut request = t.request(path).method("HEAD").follow_redirects(false);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    t.fetch_request(request).await
}

fn header<'a>(r: &'a HttpResponse, name: &str) -> Option<&'a str> {
    r.headers.get(name)
}

#[test]
fn a_file_comes_with_its_type_length_and_validators() {
    let t = tree();
    let root = root_of(&t);
    testing::run(
        || app(&root),
        |s| async move {
            let r = get(&s, "/static/robots.txt", &[]).await;
            assert_eq!(r.code, 200);
            assert_eq!(&r.body[..], ROBOTS);
            assert_eq!(header(&r, "Content-Type"), Some("text/plain"));
            assert_eq!(header(&r, "Content-Length"), Some("26"));
            assert_eq!(header(&r, "Accept-Ranges"), Some("bytes"));
            let etag = header(&r, "Etag").expect("an ETag");
            assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() == 34);
            assert!(header(&r, "Last-Modified").is_some());
            assert_eq!(header(&r, "Cache-Control"), None, "no v=: no cache headers");
            assert_eq!(header(&r, "Expires"), None);

            // Tornado's other two routes, and a route of the application's own.
            assert_eq!(&get(&s, "/robots.txt", &[]).await.body[..], ROBOTS);
            assert_eq!(get(&s, "/favicon.ico", &[]).await.code, 404);
            let bare = get(&s, "/bare/robots.txt", &[]).await;
            assert_eq!(&bare.body[..], ROBOTS);
            assert_eq!(header(&bare, "Etag"), Some(etag), "a hash of the content");

            for (path, ctype) in [
                ("hello.html", "text/html"),
                ("sample.xml", "text/xml"),
                ("sample.xml.gz", "application/gzip"),
                ("sample.xml.bz2", "application/octet-stream"),
                ("README", "application/octet-stream"),
            ] {
                let r = get(&s, &format!("/static/{path}"), &[]).await;
                assert_eq!(r.code, 200, "{path}");
                assert_eq!(header(&r, "Content-Type"), Some(ctype), "{path}");
                assert_eq!(
                    header(&r, "Content-Encoding"),
                    None,
                    "{path}: a .gz file is sent as it is"
                );
            }
            assert_eq!(get(&s, "/static/blarg", &[]).await.code, 404);
            let post = s
                .fetch_request(s.request("/static/robots.txt").method("POST").body("x"))
                .await;
            assert_eq!(post.code, 405);
            assert_eq!(header(&post, "Allow"), Some("GET, HEAD"));
        },
    );
}

#[test]
fn a_custom_prefix_moves_the_static_route() {
    let t = tree();
    let root = root_of(&t);
    testing::run(
        || {
            let settings = Settings {
                static_url_prefix: "/assets/v1/".into(),
                ..static_settings(&root)
            };
            Application::with_settings(vec![], settings)
        },
        |s| async move {
            assert_eq!(get(&s, "/assets/v1/robots.txt", &[]).await.code, 200);
            assert_eq!(get(&s, "/static/robots.txt", &[]).await.code, 404);
            let url = s.app().static_url("robots.txt", false).unwrap();
            assert_eq!(url, "/assets/v1/robots.txt");
        },
    );
}

#[test]
fn if_none_match_answers_304() {
    let t = tree();
    let root = root_of(&t);
    testing::run(
        || app(&root),
        |s| async move {
            let first = get(&s, "/static/robots.txt", &[]).await;
            let etag = header(&first, "Etag").unwrap().to_owned();
            let last_modified = header(&first, "Last-Modified").unwrap().to_owned();
            for r in [
                get(&s, "/static/robots.txt", &[("If-None-Match", &etag)]).await,
                head(&s, "/static/robots.txt", &[("If-None-Match", &etag)]).await,
                get(&s, "/static/robots.txt", &[("If-None-Match", "*")]).await,
                get(
                    &s,
                    "/static/robots.txt",
                    &[("If-None-Match", &format!("\"x\", W/{etag}"))],
                )
                .await,
                // A range asked of an unchanged file is still a 304.
                get(
                    &s,
                    "/static/robots.txt",
                    &[("If-None-Match", &etag), ("Range", "bytes=1-4")],
                )
                .await,
            ] {
                assert_eq!(r.code, 304);
                assert!(r.body.is_empty());
                assert_eq!(header(&r, "Content-Length"), None);
                assert_eq!(header(&r, "Content-Type"), None);
                assert_eq!(header(&r, "Etag"), Some(etag.as_str()));
            }
            // If-None-Match decides when it is there (Tornado's etag_modified_bug).
            let r = get(
                &s,
                "/static/robots.txt",
                &[
                    ("If-None-Match", "\"MISMATCH\""),
                    ("If-Modified-Since", &last_modified),
                ],
            )
            .await;
            assert_eq!(r.code, 200);
            assert_eq!(&r.body[..], ROBOTS);
        },
    );
}

#[test]
fn if_modified_since_answers_304() {
    let t = tree();
    let root = root_of(&t);
    let mtime = std::fs::metadata(root.join("robots.txt"))
        .unwrap()
        .modified()
        .unwrap();
    testing::run(
        || app(&root),
        |s| async move {
            let first = get(&s, "/static/robots.txt", &[]).await;
            let last_modified = header(&first, "Last-Modified").unwrap().to_owned();
            assert_eq!(last_modified, format_timestamp(mtime));
            let secs = |d: i64| {
                let whole = UNIX_EPOCH
                    + Duration::from_secs(mtime.duration_since(UNIX_EPOCH).unwrap().as_secs());
                let t = if d >= 0 {
                    whole + Duration::from_secs(d as u64)
                } else {
                    whole - Duration::from_secs(d.unsigned_abs())
                };
                format_timestamp(t)
            };
            let rows: &[(&str, u16)] = &[
                (&last_modified, 304),
                (&secs(1), 304),
                (&secs(-1), 200),
                ("!nv@l!d", 200),
                ("Fri, 01 Jan 1960 00:00:00 GMT", 200),
                ("Fri, 31 Dec 9999 23:59:59 GMT", 304),
            ];
            for &(since, code) in rows {
                let r = get(&s, "/static/robots.txt", &[("If-Modified-Since", since)]).await;
                assert_eq!(r.code, code, "{since}");
                let r = head(&s, "/static/robots.txt", &[("If-Modified-Since", since)]).await;
                assert_eq!(r.code, code, "HEAD {since}");
                if code == 304 {
                    assert_eq!(header(&r, "Content-Length"), None);
                }
            }
        },
    );
}

#[test]
fn every_range_shape() {
    let t = tree();
    let root = root_of(&t);
    // (Range, status, body, Content-Range)
    const ROWS: &[(&str, u16, &[u8], Option<&str>)] = &[
        ("bytes=0-9", 206, b"User-agent", Some("bytes 0-9/26")),
        ("bytes=0-", 200, ROBOTS, None),
        ("bytes=0-25", 200, ROBOTS, None),
        ("bytes=0-10000000", 200, ROBOTS, None),
        (
            "bytes=1-10000000",
            206,
            b"ser-agent: *\nDisallow: /\n",
            Some("bytes 1-25/26"),
        ),
        ("bytes=22-", 206, b": /\n", Some("bytes 22-25/26")),
        ("bytes=-4", 206, b": /\n", Some("bytes 22-25/26")),
        ("bytes=-1000000", 200, ROBOTS, None),
        ("bytes=5-5", 206, b"a", Some("bytes 5-5/26")),
        ("bytes=-0", 416, b"", Some("bytes */26")),
        ("bytes=26", 416, b"", Some("bytes */26")),
        ("bytes=26-", 416, b"", Some("bytes */26")),
        ("bytes=10-3", 416, b"", Some("bytes */26")),
        // Ignored: the whole file.
        ("asdf", 200, ROBOTS, None),
        ("bytes=1-2,6-10", 200, ROBOTS, None),
        ("items=0-9", 200, ROBOTS, None),
        ("bytes=x-y", 200, ROBOTS, None),
        ("bytes=", 200, ROBOTS, None),
    ];
    let rows = ROWS;
    testing::run(
        || app(&root),
        |s| async move {
            let etag = header(&get(&s, "/static/robots.txt", &[]).await, "Etag")
                .unwrap()
                .to_owned();
            for &(range, code, body, content_range) in rows {
                let r = get(&s, "/static/robots.txt", &[("Range", range)]).await;
                assert_eq!(r.code, code, "{range}");
                assert_eq!(&r.body[..], body, "{range}");
                assert_eq!(header(&r, "Content-Range"), content_range, "{range}");
                assert_eq!(
                    header(&r, "Content-Length"),
                    Some(body.len().to_string().as_str()),
                    "{range}"
                );
                if code == 416 {
                    assert_eq!(header(&r, "Content-Type"), Some("text/plain"));
                } else {
                    assert_eq!(header(&r, "Etag"), Some(etag.as_str()), "{range}");
                }
                let h = head(&s, "/static/robots.txt", &[("Range", range)]).await;
                assert_eq!(h.code, code, "HEAD {range}");
                assert!(h.body.is_empty());
                if code != 416 {
                    assert_eq!(
                        header(&h, "Content-Length"),
                        Some(body.len().to_string().as_str()),
                        "HEAD {range}"
                    );
                }
            }
        },
    );
}

/// Two `Range` lines: Tornado joins them into one value no range parses, and sends the
/// whole file; so do we (not the first range alone).
#[test]
fn two_range_headers_get_the_whole_file() {
    let t = tree();
    let root = root_of(&t);
    testing::run(
        || app(&root),
        |s| async move {
            let c = RawClient::connect(s.addr()).await;
            let ranges = "Range: bytes=0-1\r\nRange: bytes=3-4\r\n";
            c.request("GET", "/static/robots.txt", ranges).await;
            let r = c.read_response(false).await;
            assert_eq!(r.status, 200);
            assert_eq!(r.body, ROBOTS);
            assert_eq!(r.header("Content-Range"), None);
        },
    );
}

#[test]
fn head_sends_the_headers_and_no_body() {
    let t = tree();
    let root = root_of(&t);
    testing::run(
        || app(&root),
        |s| async move {
            let c = RawClient::connect(s.addr()).await;
            c.request("HEAD", "/static/robots.txt", "").await;
            let r = c.read_response(true).await;
            assert_eq!(r.status, 200);
            assert_eq!(r.header("Content-Length"), Some("26"));
            assert!(r.header("Etag").is_some());
            // Nothing but the next response follows on the connection.
            c.request("GET", "/static/hello.html", "").await;
            let next = c.read_response(false).await;
            assert_eq!(next.status, 200);
            assert_eq!(next.body, b"<p>hello</p>");
        },
    );
}

#[test]
fn directories_use_default_filename_with_a_trailing_slash() {
    let t = tree();
    let root = root_of(&t);
    testing::run(
        || app(&root),
        |s| async move {
            let r = get(&s, "/static/dir/", &[]).await;
            assert_eq!(r.code, 200);
            assert_eq!(r.text().unwrap(), "this is the index\n");
            assert_eq!(header(&r, "Content-Type"), Some("text/html"));

            let r = get(&s, "/static/dir", &[]).await;
            assert_eq!(r.code, 301);
            assert_eq!(header(&r, "Location"), Some("/static/dir/"));
            // The query is not carried over (as in Tornado).
            let r = get(&s, "/static/dir?x=1", &[]).await;
            assert_eq!(header(&r, "Location"), Some("/static/dir/"));

            // The root itself.
            let r = get(&s, "/static/", &[]).await;
            assert_eq!(r.code, 404, "the root has no index.html");
            // No default file in it.
            assert_eq!(get(&s, "/static/plain/", &[]).await.code, 404);
            // Without default_filename a directory is refused.
            assert_eq!(get(&s, "/bare/dir/", &[]).await.code, 403);
            assert_eq!(get(&s, "/bare/dir", &[]).await.code, 403);
            assert_eq!(get(&s, "/bare/", &[]).await.code, 403);
        },
    );
}

#[test]
fn a_redirect_never_becomes_protocol_relative() {
    let t = tree();
    let root = root_of(&t);
    let abs = root.display().to_string();
    testing::run(
        || {
            let settings = Settings {
                static_url_prefix: "/".into(),
                ..static_settings(&root)
            };
            Application::with_settings(vec![], settings)
        },
        |s| async move {
            assert_eq!(get(&s, "/dir", &[]).await.code, 301);
            for target in [
                format!("//evil.com/../{}/dir", abs.trim_start_matches('/')),
                "/\\evil.com/../dir".to_owned(),
            ] {
                let c = RawClient::connect(s.addr()).await;
                c.request("GET", &target, "").await;
                let r = c.read_response(false).await;
                assert_eq!(r.status, 403, "{target}: {:?}", r.header("Location"));
            }
        },
    );
}

/// Every request target that tries to leave the root: none may be served, and those
/// Tornado refuses with 403 are refused with 403 here.
#[test]
fn traversal_attempts_are_refused() {
    let t = tree();
    let root = root_of(&t);
    let secret = t.path().join("secret.txt").display().to_string();
    let rows: Vec<(String, &[u16])> = vec![
        ("/static/../secret.txt".into(), &[403]),
        ("/static/../../etc/passwd".into(), &[403]),
        ("/static/%2e%2e/secret.txt".into(), &[403]),
        ("/static/%2E%2E/secret.txt".into(), &[403]),
        ("/static/..%2fsecret.txt".into(), &[403]),
        ("/static/%2e%2e%2fsecret.txt".into(), &[403]),
        ("/static/dir/../../secret.txt".into(), &[403]),
        ("/static/dir/%2e%2e/%2e%2e/secret.txt".into(), &[403]),
        ("/static/./../secret.txt".into(), &[403]),
        ("/static/.%2e/secret.txt".into(), &[403]),
        ("/static//etc/passwd".into(), &[403]),
        ("/static/%2fetc%2fpasswd".into(), &[403]),
        (format!("/static/{secret}"), &[403]),
        (
            format!("/static/%2f{}", secret.trim_start_matches('/')),
            &[403],
        ),
        ("/static/robots.txt%00.html".into(), &[403]),
        ("/static/%00".into(), &[403]),
        // Backslashes name files on Unix: missing, not escaping.
        ("/static/..%5csecret.txt".into(), &[404]),
        ("/static/..%5c..%5csecret.txt".into(), &[404]),
        ("/static/..\\secret.txt".into(), &[400, 404]),
        // Double encoding is a name with a percent sign in it.
        ("/static/%252e%252e/secret.txt".into(), &[404]),
        // Invalid UTF-8 in the path.
        ("/static/%ff%fe".into(), &[400]),
    ];
    testing::run(
        || app(&root),
        |s| async move {
            for (target, codes) in &rows {
                let c = RawClient::connect(s.addr()).await;
                c.request("GET", target, "").await;
                let r = c.read_response(false).await;
                assert!(
                    codes.contains(&r.status),
                    "{target}: {} (want {codes:?})",
                    r.status
                );
                assert!(
                    !r.body.windows(SECRET.len()).any(|w| w == SECRET),
                    "{target} served the secret"
                );
            }
        },
    );
}

#[test]
fn symlinks_may_not_lead_out_of_the_root() {
    let t = tree();
    let root = root_of(&t);
    let outside = t.path().join("outside");
    testing::run(
        || {
            Application::with_settings(
                vec![
                    url(
                        r"/permissive/(.*)",
                        StaticFileHandler::factory(root.clone())
                            .allowed_symlink_directory(root.clone())
                            .allowed_symlink_directory(outside.clone()),
                    ),
                    url(
                        r"/index/(.*)",
                        StaticFileHandler::factory(root.clone()).default_filename("index.html"),
                    ),
                ],
                static_settings(&root),
            )
        },
        |s| async move {
            let inside = get(&s, "/static/internal.txt", &[]).await;
            assert_eq!(inside.code, 200);
            assert_eq!(&inside.body[..], ROBOTS);
            assert_eq!(header(&inside, "Content-Type"), Some("text/plain"));
            for (path, code) in [
                ("/static/link.txt", 403),
                ("/static/linkdir/secret.txt", 403),
                ("/static/linkdir/", 403),
                ("/static/linkdir", 403),
                ("/static/dangling", 404),
                ("/static/escape/", 403),
                ("/index/escape/", 403),
                // Allowed where the link leads, refused elsewhere.
                ("/permissive/linkdir/secret.txt", 200),
                ("/permissive/link.txt", 403),
                ("/permissive/robots.txt", 200),
            ] {
                let r = get(&s, path, &[]).await;
                assert_eq!(r.code, code, "{path}");
                if code != 200 || path.contains("robots") {
                    assert!(!r.body.windows(SECRET.len()).any(|w| w == SECRET), "{path}");
                }
            }
        },
    );
}

#[test]
fn special_files_are_never_opened() {
    let t = tree();
    let root = root_of(&t);
    let fifo = root.join("fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("mkfifo is not available: skipped");
        return;
    }
    t.symlink("/dev/zero", "root/zero");
    testing::run(
        || app(&root),
        |s| async move {
            // Opening a FIFO would block the loop until a writer came.
            assert_eq!(get(&s, "/static/fifo", &[]).await.code, 403);
            assert_eq!(get(&s, "/static/zero", &[]).await.code, 403);
        },
    );
}

#[test]
fn versioned_urls_are_cached_for_ten_years() {
    let t = tree();
    let root = root_of(&t);
    testing::run(
        || app(&root),
        |s| async move {
            let url = s.app().static_url("robots.txt", true).unwrap();
            let (path, version) = url.split_once("?v=").expect("a version");
            assert_eq!(path, "/static/robots.txt");
            let r = get(&s, &url, &[]).await;
            assert_eq!(r.code, 200);
            assert_eq!(header(&r, "Etag"), Some(format!("\"{version}\"").as_str()));
            assert_eq!(header(&r, "Cache-Control"), Some("max-age=315360000"));
            let expires = header(&r, "Expires").expect("Expires");
            let expires = tornado_httpserver::httputil::parse_http_date(expires).unwrap();
            let ahead = expires.duration_since(SystemTime::now()).unwrap();
            assert!(ahead > Duration::from_secs(86_400 * 3649), "{ahead:?}");

            assert_eq!(
                s.app().static_url("robots.txt", false).unwrap(),
                "/static/robots.txt"
            );
            // A missing file gets no version; a path out of the root is refused.
            assert_eq!(
                s.app().static_url("missing.css", true).unwrap(),
                "/static/missing.css"
            );
            let e = s.app().static_url("../secret.txt", true).unwrap_err();
            assert_eq!(e.status().as_u16(), 403);
        },
    );
}

/// Writes the URL `static_url` gives for `?path=`.
struct UrlOf;
impl RequestHandler for UrlOf {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        let path = cx.get_argument("path")?;
        let url = cx.static_url(&path)?;
        cx.write(url);
        Ok(())
    }
}

fn version_app(root: &Path, debug: bool) -> Application {
    Application::with_settings(
        vec![url("/url", || UrlOf)],
        Settings {
            debug,
            ..static_settings(root)
        },
    )
}

#[test]
fn without_debug_a_version_is_computed_once() {
    let t = tree();
    let root = root_of(&t);
    let file = root.join("robots.txt");
    testing::run(
        || version_app(&root, false),
        |s| async move {
            let first = get(&s, "/url?path=robots.txt", &[]).await;
            let first = first.text().unwrap().to_owned();
            assert!(first.starts_with("/static/robots.txt?v="), "{first}");
            std::fs::write(&file, b"User-agent: *\nAllow: /\n").unwrap();
            let second = get(&s, "/url?path=robots.txt", &[]).await;
            assert_eq!(second.text().unwrap(), first, "Tornado's static_hash_cache");
            // The file itself is served fresh, with a fresh ETag.
            let r = get(&s, "/static/robots.txt", &[]).await;
            assert_eq!(&r.body[..], b"User-agent: *\nAllow: /\n");
            assert_ne!(
                header(&r, "Etag").unwrap(),
                format!("\"{}\"", first.split_once("?v=").unwrap().1)
            );
        },
    );
}

#[test]
fn in_debug_a_version_follows_the_file() {
    let t = tree();
    let root = root_of(&t);
    let file = root.join("robots.txt");
    testing::run(
        || version_app(&root, true),
        |s| async move {
            let first = get(&s, "/url?path=robots.txt", &[]).await;
            let first = first.text().unwrap().to_owned();
            std::fs::write(&file, b"User-agent: *\nAllow: /\n").unwrap();
            let second = get(&s, "/url?path=robots.txt", &[]).await;
            let second = second.text().unwrap().to_owned();
            assert_ne!(second, first);
            let r = get(&s, &second, &[]).await;
            assert_eq!(
                header(&r, "Etag").unwrap(),
                format!("\"{}\"", second.split_once("?v=").unwrap().1)
            );
            let missing = get(&s, "/url?path=nothing.js", &[]).await;
            assert_eq!(missing.text().unwrap(), "/static/nothing.js");
        },
    );
}

#[test]
fn static_url_needs_static_path() {
    testing::run(
        || Application::new(vec![url("/url", || UrlOf)]),
        |s| async move {
            assert_eq!(get(&s, "/url?path=a.css", &[]).await.code, 500);
            assert!(s.app().static_url("a.css", true).is_err());
        },
    );
}

/// Files left alone long enough are kept in memory: a change must still be seen,
/// even one that keeps the size.
#[test]
fn a_file_kept_in_memory_is_served_fresh_after_it_changes() {
    let t = tree();
    let root = root_of(&t);
    t.write("root/same.txt", b"version one");
    t.write("root/big.bin", &vec![7u8; 200 * 1024]);
    // Past the settle time, so that what is read is kept.
    std::thread::sleep(Duration::from_millis(2100));
    let same = root.join("same.txt");
    let big = root.join("big.bin");
    testing::run(
        || app(&root),
        |s| async move {
            let one = get(&s, "/static/same.txt", &[]).await;
            assert_eq!(&one.body[..], b"version one");
            let again = get(&s, "/static/same.txt", &[]).await;
            assert_eq!(header(&again, "Etag"), header(&one, "Etag"));
            std::fs::write(&same, b"version two").unwrap();
            let two = get(&s, "/static/same.txt", &[]).await;
            assert_eq!(&two.body[..], b"version two");
            assert_ne!(header(&two, "Etag"), header(&one, "Etag"));

            let b1 = get(&s, "/static/big.bin", &[]).await;
            assert_eq!(b1.body.len(), 200 * 1024);
            assert!(header(&b1, "Etag").is_some());
            std::fs::write(&big, vec![8u8; 200 * 1024]).unwrap();
            let b2 = get(&s, "/static/big.bin", &[]).await;
            assert!(b2.body.iter().all(|&b| b == 8));
            // A large file that is still changing is not hashed (a growing log would
            // have every request hash it): no ETag until it settles.
            assert_eq!(header(&b2, "Etag"), None);
            // But a URL made for it now has its version.
            let url = s.app().static_url("big.bin", true).unwrap();
            assert!(url.starts_with("/static/big.bin?v="), "{url}");

            std::fs::remove_file(&same).unwrap();
            assert_eq!(get(&s, "/static/same.txt", &[]).await.code, 404);
        },
    );
}

/// A large file whose modification time is in the future (set with `touch -d`, or
/// copied with its times from a machine whose clock is ahead) settles like any other:
/// it gets its `ETag`, as with Tornado, and answers `If-None-Match` with a 304.
#[test]
fn a_large_file_dated_in_the_future_still_gets_an_etag() {
    let t = tree();
    let root = root_of(&t);
    let path = t.write("root/ahead.bin", &vec![5u8; 200 * 1024]);
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(SystemTime::now() + Duration::from_secs(365 * 86_400))
        .unwrap();
    drop(file);
    // Past the settle time since the last change.
    std::thread::sleep(Duration::from_millis(2100));
    testing::run(
        || app(&root),
        |s| async move {
            let r = get(&s, "/static/ahead.bin", &[]).await;
            assert_eq!(r.code, 200);
            assert_eq!(r.body.len(), 200 * 1024);
            let etag = header(&r, "Etag").expect("an ETag").to_owned();
            let again = get(&s, "/static/ahead.bin", &[("If-None-Match", &etag)]).await;
            assert_eq!(again.code, 304);
        },
    );
}

/// A file of several MiB: streamed, intact, in ranges too.
#[test]
fn a_large_file_arrives_intact() {
    let t = tree();
    let root = root_of(&t);
    let data: Vec<u8> = (0..5 * 1024 * 1024 + 123)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    t.write("root/large.bin", &data);
    let data = Rc::new(data);
    testing::run(
        || app(&root),
        |s| async move {
            let r = get(&s, "/static/large.bin", &[]).await;
            assert_eq!(r.code, 200);
            assert_eq!(
                header(&r, "Content-Length"),
                Some(data.len().to_string().as_str())
            );
            assert_eq!(header(&r, "Content-Type"), Some("application/octet-stream"));
            assert!(r.body[..] == data[..], "the body differs");
            // Written just now: not hashed until it has been left alone.
            assert_eq!(header(&r, "Etag"), None);
            assert!(header(&r, "Last-Modified").is_some());

            let start = 3 * 1024 * 1024 - 7;
            let range = format!("bytes={start}-");
            let part = get(&s, "/static/large.bin", &[("Range", &range)]).await;
            assert_eq!(part.code, 206);
            assert!(part.body[..] == data[start..]);

            // Read as it comes, as a raw client: length-framed, not chunked.
            let c = RawClient::connect(s.addr()).await;
            c.request("GET", "/static/large.bin", "").await;
            let raw = c.read_response(false).await;
            assert_eq!(raw.header("Transfer-Encoding"), None);
            assert!(raw.body == data[..]);
        },
    );
}

/// Where the bytes must pass through memory (gzip here; TLS too), a large file is read
/// and written in pieces instead of sent from the file.
#[test]
fn a_large_gzipped_file_is_read_through_memory() {
    let t = tree();
    let root = root_of(&t);
    let text: Vec<u8> = (0..3 * 1024 * 1024 / 16)
        .flat_map(|i: u32| format!("line {i:>10}\n").into_bytes())
        .collect();
    t.write("root/large.txt", &text);
    testing::run(
        || {
            let settings = Settings {
                compress_response: true,
                ..static_settings(&root)
            };
            Application::with_settings(vec![], settings)
        },
        |s| async move {
            let r = get(&s, "/static/large.txt", &[]).await;
            assert_eq!(r.code, 200);
            assert_eq!(header(&r, "X-Consumed-Content-Encoding"), Some("gzip"));
            assert!(r.body[..] == text[..], "the body differs");
            // Without gzip, the same file comes from the file.
            let plain = get(&s, "/static/large.txt", &[("Accept-Encoding", "identity")]).await;
            assert_eq!(
                header(&plain, "Content-Length"),
                Some(text.len().to_string().as_str())
            );
            assert!(plain.body[..] == text[..]);
        },
    );
}

/// A client that leaves in the middle of a download is no error: nothing is logged
/// above info, and the server goes on.
#[test]
fn a_client_leaving_mid_download_is_no_error() {
    let t = tree();
    let root = root_of(&t);
    t.write("root/huge.bin", &vec![3u8; 8 * 1024 * 1024]);
    testing::run(
        || app(&root),
        |s| async move {
            common::capture_logs();
            let c = RawClient::connect(s.addr()).await;
            c.request("GET", "/static/huge.bin", "").await;
            let head = c.read_head().await;
            assert_eq!(head.status, 200);
            c.stream.read_bytes(100_000, false).await.unwrap();
            c.stream.close();
            drop(c);
            tornado_gen::sleep(Duration::from_millis(100)).await;
            assert_eq!(get(&s, "/static/robots.txt", &[]).await.code, 200);
            let bad: Vec<_> = common::logs()
                .into_iter()
                .filter(|r| r.level <= log::Level::Warn)
                .collect();
            assert!(bad.is_empty(), "{bad:?}");
        },
    );
}

/// Tornado's issue 2997: a client that takes everything at once must not let one
/// download hold the loop. The client reads on a thread of its own as fast as it can;
/// a task on the server's loop counts how often it gets to run meanwhile.
#[test]
fn a_fast_client_does_not_hold_the_loop() {
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    let t = tree();
    let root = root_of(&t);
    let size = 32 * 1024 * 1024;
    t.write("root/huge.bin", &vec![1u8; size]);
    testing::run(
        || app(&root),
        |s| async move {
            let addr = s.addr();
            let window: Arc<Mutex<Option<(Instant, Instant)>>> = Arc::default();
            let seen = window.clone();
            let reader = std::thread::spawn(move || {
                use std::io::{Read, Write};
                let mut sock = std::net::TcpStream::connect(addr).unwrap();
                sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                sock.write_all(
                    b"GET /static/huge.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                )
                .unwrap();
                let mut buf = vec![0u8; 1024 * 1024];
                let mut total = 0;
                let mut first = None;
                loop {
                    match sock.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            first.get_or_insert_with(Instant::now);
                            total += n;
                        }
                        Err(e) => panic!("read: {e}"),
                    }
                }
                *seen.lock().unwrap() = first.map(|f| (f, Instant::now()));
                total
            });
            let ticks = Rc::new(std::cell::RefCell::new(Vec::new()));
            let log = ticks.clone();
            let ticker = tornado_ioloop::IoLoop::current().spawn(async move {
                loop {
                    log.borrow_mut().push(Instant::now());
                    tornado_gen::moment().await;
                }
            });
            while !reader.is_finished() {
                tornado_gen::sleep(Duration::from_millis(2)).await;
            }
            ticker.abort();
            let got = reader.join().unwrap();
            assert!(got > size, "the whole response arrived ({got} bytes)");
            let (start, end) = window.lock().unwrap().unwrap();
            let ticks = ticks.borrow();
            let inside: Vec<Instant> = ticks
                .iter()
                .copied()
                .filter(|t| *t >= start && *t <= end)
                .collect();
            let longest = inside
                .windows(2)
                .map(|w| w[1] - w[0])
                .max()
                .unwrap_or(end - start);
            // Held, the loop runs the task only when the socket is full (a handful
            // of times); yielding after each piece, it runs it at least as often.
            let pieces = (size as u64 / tornado_web::staticfile::SEND_FILE_PIECE) as usize;
            assert!(
                inside.len() >= pieces / 2,
                "the loop ran another task {} times in a {:?} download (longest gap {longest:?})",
                inside.len(),
                end - start
            );
        },
    );
}

/// Hides dot files (404), caches everything for an hour, and adds a header.
struct Private;

impl StaticPolicy for Private {
    fn validate_absolute_path(
        &self,
        cx: &mut Context,
        files: &StaticFiles,
        absolute: &Path,
    ) -> tornado_web::Result<Option<StaticFile>> {
        let rel = absolute.strip_prefix(files.root()).unwrap_or(absolute);
        if rel
            .iter()
            .any(|part| part.to_string_lossy().starts_with('.'))
        {
            return Err(HttpError::new(404).into());
        }
        DefaultPolicy.validate_absolute_path(cx, files, absolute)
    }

    fn get_cache_time(
        &self,
        _cx: &Context,
        _path: &str,
        _modified: SystemTime,
        _content_type: &str,
    ) -> Duration {
        Duration::from_secs(3600)
    }

    fn set_extra_headers(&self, cx: &mut Context, path: &str) -> tornado_web::Result {
        cx.set_header("X-Static-Path", path)
    }
}

/// Tornado's `CustomStaticFileTest`: the version goes in the file name
/// (`foo.42.txt`), and the path is taken back out of it.
struct VersionInName;

impl StaticPolicy for VersionInName {
    fn make_static_url(
        &self,
        files: &StaticFiles,
        path: &str,
        _include_version: bool,
    ) -> tornado_web::Result<String> {
        let (stem, ext) = path.rsplit_once('.').unwrap_or((path, ""));
        let version = self.get_version(files, path)?.unwrap_or_default();
        Ok(format!("{}{stem}.{version}.{ext}", files.url_prefix()))
    }

    fn get_version(
        &self,
        _files: &StaticFiles,
        _path: &str,
    ) -> tornado_web::Result<Option<String>> {
        Ok(Some("42".into()))
    }

    fn parse_url_path<'a>(&self, url_path: &'a str) -> std::borrow::Cow<'a, str> {
        let Some((rest, ext)) = url_path.rsplit_once('.') else {
            return url_path.into();
        };
        match rest.rsplit_once('.') {
            Some((stem, _version)) => format!("{stem}.{ext}").into(),
            None => url_path.into(),
        }
    }
}

#[test]
fn a_policy_of_ones_own() {
    let t = tree();
    let root = root_of(&t);
    t.write("root/.env", b"PASSWORD=x");
    t.write("root/.git/config", b"[core]");
    testing::run(
        || {
            let settings = Settings {
                static_path: Some(root.clone()),
                static_handler_args: StaticFileOptions {
                    policy: Some(Rc::new(VersionInName)),
                    ..StaticFileOptions::default()
                },
                ..Settings::default()
            };
            Application::with_settings(
                vec![
                    url(
                        r"/private/(.*)",
                        StaticFileHandler::factory(root.clone()).policy(Private),
                    ),
                    url("/url", || UrlOf),
                ],
                settings,
            )
        },
        |s| async move {
            let r = get(&s, "/private/robots.txt", &[]).await;
            assert_eq!(r.code, 200);
            assert_eq!(header(&r, "Cache-Control"), Some("max-age=3600"));
            assert!(header(&r, "Expires").is_some());
            assert_eq!(header(&r, "X-Static-Path"), Some("robots.txt"));
            assert_eq!(get(&s, "/private/.env", &[]).await.code, 404);
            assert_eq!(get(&s, "/private/.git/config", &[]).await.code, 404);
            // The default checks still run behind it.
            assert_eq!(get(&s, "/private/link.txt", &[]).await.code, 403);
            // Without the policy, the dot file is served.
            assert_eq!(get(&s, "/static/.env", &[]).await.code, 200);

            let url = get(&s, "/url?path=robots.txt", &[]).await;
            assert_eq!(url.text().unwrap(), "/static/robots.42.txt");
            let r = get(&s, "/static/robots.42.txt", &[]).await;
            assert_eq!(&r.body[..], ROBOTS);
            assert_eq!(
                s.app().static_url("hello.html", true).unwrap(),
                "/static/hello.42.html"
            );
        },
    );
}

#[test]
fn an_empty_file() {
    let t = tree();
    let root = root_of(&t);
    t.write("root/empty.txt", b"");
    testing::run(
        || app(&root),
        |s| async move {
            let r = get(&s, "/static/empty.txt", &[]).await;
            assert_eq!(r.code, 200);
            assert_eq!(header(&r, "Content-Length"), Some("0"));
            assert!(r.body.is_empty());
            let r = get(&s, "/static/empty.txt", &[("Range", "bytes=0-")]).await;
            assert_eq!(r.code, 416);
            assert_eq!(header(&r, "Content-Range"), Some("bytes */0"));
        },
    );
}
