//! Per-response work: the ETag of GET and HEAD responses and 304 on `If-None-Match`
//! (a table of its forms), no ETag for POST or a streamed response, a handler's own
//! `compute_etag`; gzip with `compress_response` (types, minimum length, `Vary`,
//! streamed responses).

use std::io::Read as _;

use tornado_httpclient::HttpResponse;
use tornado_web::testing::{self, TestServer};
use tornado_web::{Application, Context, RequestHandler, Settings, url};

/// Writes `?n=` bytes of `?type=` content (text by default), whole or, with
/// `?flush=1`, in two flushed pieces (with `?late=`, a status set between them).
struct Body;
impl RequestHandler for Body {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        let n: usize = cx.get_argument_or("n", "5")?.parse()?;
        if let Some(ctype) = cx.get_argument_opt("type")? {
            cx.set_header("Content-Type", ctype)?;
        }
        if let Some(encoding) = cx.get_argument_opt("encoding")? {
            cx.set_header("Content-Encoding", encoding)?;
        }
        if let Some(vary) = cx.get_argument_opt("vary")? {
            cx.set_header("Vary", vary)?;
        }
        let body: String = "hello world ".repeat(n / 12 + 1)[..n].to_owned();
        if cx.get_argument_or("flush", "0")? == "1" {
            let (a, b) = body.split_at(n / 2);
            cx.write(a);
            cx.flush().await?;
            if let Some(code) = cx.get_argument_opt("late")? {
                cx.set_status(code.parse::<u16>()?)?;
            }
            cx.write(b);
        } else {
            cx.write(body);
        }
        Ok(())
    }
    async fn head(&mut self, cx: &mut Context) -> tornado_web::Result {
        self.get(cx).await
    }
    async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
        self.get(cx).await
    }
}

/// No ETag at all.
struct NoEtag;
impl RequestHandler for NoEtag {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.write("no etag here");
        Ok(())
    }
    fn compute_etag(_cx: &Context) -> Option<String> {
        None
    }
}

/// A version tag instead of a hash of the body.
struct Versioned;
impl RequestHandler for Versioned {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.write(format!("body {}", cx.get_argument_or("v", "1")?));
        Ok(())
    }
    fn compute_etag(_cx: &Context) -> Option<String> {
        Some("\"v1\"".to_owned())
    }
}

fn app(compress: bool) -> Application {
    Application::with_settings(
        vec![
            url("/body", || Body),
            url("/noetag", || NoEtag),
            url("/versioned", || Versioned),
        ],
        Settings {
            compress_response: compress,
            ..Settings::default()
        },
    )
}

async fn with_inm(t: &TestServer, method: &str, path: &str, inm: &str) -> HttpResponse {
    let mut req = t.request(path).method(method).header("If-None-Match", inm);
    if method == "POST" {
        req = req.body("");
    }
    t.fetch_request(req).await
}

#[test]
fn get_and_head_carry_an_etag_of_the_body() {
    testing::run(
        || app(false),
        |t| async move {
            let r = t.fetch("/body?n=5").await;
            // A quoted 64-bit hex hash of "hello" (Tornado's is a SHA-1; the value
            // differs, the behaviour does not), the same on every request.
            let etag = r.headers.get("Etag").unwrap();
            assert_eq!(etag.len(), 18, "{etag}");
            assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
            assert!(etag[1..17].bytes().all(|b| b.is_ascii_hexdigit()), "{etag}");
            let again = t.fetch("/body?n=5").await;
            assert_eq!(again.headers.get("Etag"), Some(etag));
            let head = t.fetch_request(t.request("/body?n=5").method("HEAD")).await;
            assert_eq!(head.headers.get("Etag"), r.headers.get("Etag"));
            // Another body, another tag.
            let other = t.fetch("/body?n=6").await;
            assert_ne!(other.headers.get("Etag"), r.headers.get("Etag"));
            // None for POST, nor for a streamed response.
            let post = t
                .fetch_request(t.request("/body").method("POST").body(""))
                .await;
            assert_eq!(post.code, 200);
            assert!(post.headers.get("Etag").is_none());
            let streamed = t.fetch("/body?n=10&flush=1").await;
            assert_eq!(streamed.text().unwrap(), "hello worl");
            assert!(streamed.headers.get("Etag").is_none());
        },
    );
}

#[test]
fn if_none_match_forms() {
    testing::run(
        || app(false),
        |t| async move {
            let etag = t
                .fetch("/body")
                .await
                .headers
                .get("Etag")
                .unwrap()
                .to_owned();
            let bare = etag.trim_matches('"').to_owned();
            let cases = [
                (etag.clone(), 304),
                (format!("W/{etag}"), 304),
                (format!("\"other\", {etag}"), 304),
                (format!("\"a\",W/{etag},\"b\""), 304),
                ("*".to_owned(), 304),
                ("\"other\"".to_owned(), 200),
                (bare.clone(), 200),
                (format!("\"{bare}x\""), 200),
                (String::new(), 200),
            ];
            for (inm, code) in cases {
                for method in ["GET", "HEAD"] {
                    let r = with_inm(&t, method, "/body", &inm).await;
                    assert_eq!(r.code, code, "{method} If-None-Match: {inm}");
                    if code == 304 {
                        assert!(r.body.is_empty());
                        assert_eq!(r.headers.get("Etag"), Some(etag.as_str()));
                        assert!(r.headers.get("Content-Type").is_none());
                        assert!(r.headers.get("Content-Length").is_none());
                    } else if method == "GET" {
                        assert_eq!(r.text().unwrap(), "hello");
                    }
                }
                // POST has no ETag, so never a 304.
                assert_eq!(with_inm(&t, "POST", "/body", &inm).await.code, 200);
            }
        },
    );
}

#[test]
fn compute_etag_of_the_handler() {
    testing::run(
        || app(false),
        |t| async move {
            let r = t.fetch("/noetag").await;
            assert!(r.headers.get("Etag").is_none());
            assert_eq!(with_inm(&t, "GET", "/noetag", "*").await.code, 200);

            let r = t.fetch("/versioned?v=1").await;
            assert_eq!(r.headers.get("Etag"), Some("\"v1\""));
            // The tag decides, not the body.
            let r = with_inm(&t, "GET", "/versioned?v=2", "\"v1\"").await;
            assert_eq!(r.code, 304);
            assert_eq!(with_inm(&t, "GET", "/versioned", "\"v2\"").await.code, 200);
        },
    );
}

fn gunzip(data: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(data)
        .read_to_string(&mut out)
        .expect("a gzip body");
    out
}

/// Fetches with the raw body (no decompression), asking for gzip or not.
async fn fetch_raw(t: &TestServer, path: &str, gzip: bool) -> HttpResponse {
    let mut req = t.request(path).decompress_response(false);
    if gzip {
        req = req.header("Accept-Encoding", "deflate, gzip");
    }
    t.fetch_request(req).await
}

#[test]
fn gzip_for_large_compressible_responses() {
    testing::run(
        || app(true),
        |t| async move {
            let plain = "hello world ".repeat(200)[..2000].to_owned();
            let r = fetch_raw(&t, "/body?n=2000", true).await;
            assert_eq!(r.code, 200);
            assert_eq!(r.headers.get("Content-Encoding"), Some("gzip"));
            assert_eq!(r.headers.get("Vary"), Some("Accept-Encoding"));
            assert_eq!(
                r.headers.get("Content-Length"),
                Some(r.body.len().to_string().as_str())
            );
            assert!(r.body.len() < 200);
            assert_eq!(gunzip(&r.body), plain);

            // The client decompresses it itself by default.
            let r = t.fetch("/body?n=2000").await;
            assert_eq!(r.text().unwrap(), plain);

            let cases = [
                // (path, gzipped, Vary)
                ("/body?n=1024", true, "Accept-Encoding"),
                ("/body?n=1023", false, "Accept-Encoding"),
                (
                    "/body?n=2000&type=application/json",
                    true,
                    "Accept-Encoding",
                ),
                ("/body?n=2000&type=image/svg%2Bxml", true, "Accept-Encoding"),
                ("/body?n=2000&type=image/png", false, "Accept-Encoding"),
                (
                    "/body?n=2000&type=application/octet-stream",
                    false,
                    "Accept-Encoding",
                ),
                ("/body?n=2000&vary=Cookie", true, "Cookie, Accept-Encoding"),
                ("/body?n=10&vary=Cookie", false, "Cookie, Accept-Encoding"),
                // Already encoded by the handler: left alone.
                ("/body?n=2000&encoding=br", false, "Accept-Encoding"),
            ];
            for (path, gzipped, vary) in cases {
                let r = fetch_raw(&t, path, true).await;
                assert_eq!(r.code, 200, "{path}");
                assert_eq!(
                    r.headers.get("Content-Encoding") == Some("gzip"),
                    gzipped,
                    "{path}"
                );
                let vary_all: Vec<&str> = r.headers.get_all("Vary").collect();
                assert_eq!(vary_all, [vary], "{path}");
                let n: usize = path[8..].split('&').next().unwrap().parse().unwrap();
                let body = if gzipped {
                    gunzip(&r.body)
                } else {
                    String::from_utf8(r.body.to_vec()).unwrap()
                };
                assert_eq!(body.len(), n, "{path}");
            }
        },
    );
}

#[test]
fn gzip_without_accept_encoding_and_when_off() {
    testing::run(
        || app(true),
        |t| async move {
            let r = fetch_raw(&t, "/body?n=2000", false).await;
            assert!(r.headers.get("Content-Encoding").is_none());
            assert_eq!(r.headers.get("Vary"), Some("Accept-Encoding"));
            assert_eq!(r.body.len(), 2000);
            // Vary goes on error pages and 304s too.
            let r = fetch_raw(&t, "/nowhere", true).await;
            assert_eq!(r.code, 404);
            assert_eq!(r.headers.get("Vary"), Some("Accept-Encoding"));
        },
    );
    testing::run(
        || app(false),
        |t| async move {
            let r = fetch_raw(&t, "/body?n=2000", true).await;
            assert!(r.headers.get("Content-Encoding").is_none());
            assert!(r.headers.get("Vary").is_none());
            assert_eq!(r.body.len(), 2000);
        },
    );
}

#[test]
fn streamed_responses_are_gzipped_whatever_their_size() {
    testing::run(
        || app(true),
        |t| async move {
            for n in [10, 5000] {
                let r = fetch_raw(&t, &format!("/body?n={n}&flush=1"), true).await;
                assert_eq!(r.code, 200);
                assert_eq!(r.headers.get("Content-Encoding"), Some("gzip"), "{n}");
                assert_eq!(r.headers.get("Vary"), Some("Accept-Encoding"));
                assert!(r.headers.get("Content-Length").is_none());
                let want = "hello world ".repeat(n / 12 + 1)[..n].to_owned();
                assert_eq!(gunzip(&r.body), want, "{n}");
            }
            // A status set once the head is gone changes nothing on the wire: the
            // rest and the gzip trailer still go out.
            let r = fetch_raw(&t, "/body?n=5000&flush=1&late=304", true).await;
            assert_eq!(r.code, 200);
            assert_eq!(gunzip(&r.body), "hello world ".repeat(417)[..5000]);
            // Not gzipped for a client that does not ask.
            let r = fetch_raw(&t, "/body?n=5000&flush=1", false).await;
            assert!(r.headers.get("Content-Encoding").is_none());
            assert_eq!(r.body.len(), 5000);
        },
    );
}

#[test]
fn etag_and_304_with_gzip() {
    testing::run(
        || app(true),
        |t| async move {
            let r = fetch_raw(&t, "/body?n=2000", true).await;
            let etag = r.headers.get("Etag").unwrap().to_owned();
            // The tag is of the body, whichever encoding goes out.
            let plain = fetch_raw(&t, "/body?n=2000", false).await;
            assert_eq!(plain.headers.get("Etag"), Some(etag.as_str()));
            let r = t
                .fetch_request(
                    t.request("/body?n=2000")
                        .decompress_response(false)
                        .header("Accept-Encoding", "gzip")
                        .header("If-None-Match", &etag),
                )
                .await;
            assert_eq!(r.code, 304);
            assert!(r.body.is_empty());
            assert!(r.headers.get("Content-Encoding").is_none());
        },
    );
}

#[test]
fn head_with_gzip_tells_the_gzipped_length() {
    testing::run(
        || app(true),
        |t| async move {
            let get = fetch_raw(&t, "/body?n=2000", true).await;
            let head = t
                .fetch_request(
                    t.request("/body?n=2000")
                        .method("HEAD")
                        .decompress_response(false)
                        .header("Accept-Encoding", "gzip"),
                )
                .await;
            assert_eq!(head.code, 200);
            assert!(head.body.is_empty());
            assert_eq!(head.headers.get("Content-Encoding"), Some("gzip"));
            assert_eq!(
                head.headers.get("Content-Length"),
                get.headers.get("Content-Length")
            );
        },
    );
}
