//! A web spider: Tornado's `demos/webspider`, on a [`Queue`] and [`AsyncHttpClient`].
//!
//! ```text
//! cargo run --example webspider                      # crawls a site it serves itself
//! cargo run --example webspider -- http://127.0.0.1:8888/docs/ --concurrency 4
//! ```
//!
//! Without a URL it serves a small site on 127.0.0.1 (an `HttpServer` on port 0, on
//! the same loop as the spider): an index and 30 interlinked pages, with relative,
//! root-relative and absolute links, fragments, a link off the site, three broken
//! links (404) and one redirect. Nothing outside the machine is fetched; it prints
//! every URL it fetches and a summary, which for that site reads "fetched 32 URLs"
//! and "Unable to fetch 3 URLs".
//!
//! As in Tornado's demo, `--concurrency` workers (10) take URLs from one queue; each
//! fetches its URL, finds the links (`href="..."` or `href='...'`, fragments
//! dropped, resolved against the URL the fetch ended at) and puts back those under
//! the base URL; a URL already being fetched is skipped when it comes out of the
//! queue. `queue.join()` says when every URL put has been handled, then each worker
//! is sent a `None` to stop. The client's `max_clients` is the concurrency, so no
//! fetch waits in the client's own queue.
//!
//! Exits 0 when the crawl finished (broken links are findings, not failures), 1 when
//! not even the base URL could be fetched or the crawl took more than 300 s, 2 for a
//! usage error.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tornado::httpclient::{AsyncHttpClient, ClientConfig, HttpClientError};
use tornado::httpserver::http::StatusCode;
use tornado::httpserver::{HttpServer, Response};
use tornado::httputil::HttpServerRequest;
use tornado::ioloop::{IoLoop, spawn};
use tornado::queues::Queue;

const USAGE: &str = "usage: webspider [URL] [--concurrency N]";
/// Workers, and fetches at once, unless `--concurrency` says otherwise.
const DEFAULT_CONCURRENCY: usize = 10;
/// The whole crawl gives up after this (Tornado's demo waits 300 s too).
const CRAWL_TIMEOUT: Duration = Duration::from_secs(300);
/// Pages of the self-served site, `/page/0` to `/page/29`.
const PAGES: usize = 30;

struct Args {
    url: Option<String>,
    concurrency: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        url: None,
        concurrency: DEFAULT_CONCURRENCY,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--concurrency" => {
                let v = it.next().ok_or("--concurrency needs a value")?;
                args.concurrency = v
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(format!("bad --concurrency {v:?}"))?;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            url if args.url.is_none() => {
                if !url.contains("://") {
                    return Err(format!("{url:?} is not an absolute URL"));
                }
                // Spelled as the client spells where a fetch ended, as links will be.
                args.url = Some(urljoin(url, ""));
            }
            url => return Err(format!("one URL only, not also {url:?}")),
        }
    }
    Ok(args)
}

fn main() {
    env_logger::init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("webspider: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let io_loop = match IoLoop::new() {
        Ok(io_loop) => io_loop,
        Err(e) => {
            eprintln!("webspider: cannot start the loop: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = io_loop.run_sync(run(args)) {
        eprintln!("webspider: {e}");
        std::process::exit(1);
    }
}

/// Crawls the URL given, or serves the demo site and crawls that.
async fn run(args: Args) -> Result<(), String> {
    let (base_url, server) = match args.url {
        Some(url) => (url, None),
        None => {
            let server = HttpServer::new(site);
            server
                .listen(0, Some("127.0.0.1"))
                .map_err(|e| format!("cannot serve the demo site: {e}"))?;
            let addr = server.local_addrs()[0];
            println!("serving the demo site at http://{addr}/");
            (format!("http://{addr}/"), Some(server))
        }
    };
    let result = crawl(&base_url, args.concurrency).await;
    if let Some(server) = server {
        server.stop();
    }
    result
}

/// What the workers share.
#[derive(Default)]
struct Crawl {
    /// URLs taken from the queue and fetched or being fetched.
    fetching: HashSet<String>,
    /// URLs fetched.
    fetched: HashSet<String>,
    /// URLs that could not be fetched, with why.
    dead: BTreeMap<String, HttpClientError>,
}

/// Tornado's `main`: the queue, the workers, `join`, the summary.
async fn crawl(base_url: &str, concurrency: usize) -> Result<(), String> {
    let client = AsyncHttpClient::with_config(ClientConfig {
        max_clients: concurrency,
        ..ClientConfig::default()
    });
    let queue: Queue<Option<String>> = Queue::default();
    let state = Rc::new(RefCell::new(Crawl::default()));
    let start = Instant::now();

    queue.put(Some(base_url.to_owned())).await;
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let worker = Worker {
                base_url: base_url.to_owned(),
                client: client.clone(),
                queue: queue.clone(),
                state: state.clone(),
            };
            spawn(worker.run())
        })
        .collect();
    if queue.join_timeout(CRAWL_TIMEOUT).await.is_err() {
        workers.iter().for_each(|w| w.abort());
        return Err(format!("the crawl took more than {CRAWL_TIMEOUT:?}"));
    }

    let elapsed = start.elapsed();
    // Tell the workers to stop, and wait for them.
    for _ in 0..concurrency {
        queue.put(None).await;
    }
    for worker in workers {
        let _ = worker.await;
    }
    client.close();

    let state = state.borrow();
    let handled: HashSet<String> = state
        .fetched
        .iter()
        .chain(state.dead.keys())
        .cloned()
        .collect();
    assert_eq!(state.fetching, handled, "every URL fetched or dead");
    println!(
        "Done in {:.2} seconds, fetched {} URLs.",
        elapsed.as_secs_f64(),
        state.fetched.len()
    );
    println!("Unable to fetch {} URLs.", state.dead.len());
    for (url, error) in &state.dead {
        println!("  {url}: {error}");
    }
    if !state.fetched.contains(base_url) {
        return Err(format!("could not fetch {base_url}"));
    }
    Ok(())
}

/// One of the workers.
struct Worker {
    base_url: String,
    client: AsyncHttpClient,
    queue: Queue<Option<String>>,
    state: Rc<RefCell<Crawl>>,
}

impl Worker {
    /// Takes URLs from the queue until it gets `None`.
    async fn run(self) {
        while let Some(url) = self.queue.get().await {
            if let Err(e) = self.fetch_url(&url).await {
                println!("error: {url}: {e}");
                self.state.borrow_mut().dead.insert(url, e);
            }
            // Only this worker took the item, so there is a task to mark done.
            let _ = self.queue.task_done();
        }
    }

    /// Fetches `url` unless another worker has, and queues its links under the base.
    async fn fetch_url(&self, url: &str) -> Result<(), HttpClientError> {
        if !self.state.borrow_mut().fetching.insert(url.to_owned()) {
            return Ok(());
        }
        let urls = self.get_links_from_url(url).await?;
        self.state.borrow_mut().fetched.insert(url.to_owned());
        for new_url in urls {
            if new_url.starts_with(&self.base_url) {
                self.queue.put(Some(new_url)).await;
            }
        }
        Ok(())
    }

    /// The links of the page at `url`, absolute and without fragments.
    async fn get_links_from_url(&self, url: &str) -> Result<Vec<String>, HttpClientError> {
        let response = self.client.fetch(url).await?;
        if response.effective_url == url {
            println!("fetched {url}");
        } else {
            println!("fetched {url} -> {}", response.effective_url);
        }
        let html = String::from_utf8_lossy(&response.body);
        Ok(get_links(&html)
            .into_iter()
            .map(|link| urljoin(&response.effective_url, remove_fragment(&link)))
            .collect())
    }
}

/// The values of `href="..."` and `href='...'` in `html`, `&amp;` decoded.
fn get_links(html: &str) -> Vec<String> {
    // ASCII lowercasing keeps every byte where it was, so offsets work in both.
    let lower = html.to_ascii_lowercase();
    let mut links = Vec::new();
    let mut from = 0;
    while let Some(found) = lower[from..].find("href=") {
        let value = from + found + "href=".len();
        from = value;
        let Some(quote @ (b'"' | b'\'')) = html.as_bytes().get(value).copied() else {
            continue;
        };
        if let Some(len) = html[value + 1..].find(char::from(quote)) {
            links.push(html[value + 1..value + 1 + len].replace("&amp;", "&"));
            from = value + 1 + len + 1;
        }
    }
    links
}

fn remove_fragment(url: &str) -> &str {
    url.split('#').next().unwrap_or_default()
}

/// `link` resolved against the absolute URL `base` (RFC 3986 section 5.2, for
/// `http`-like URLs), as Python's `urljoin`, without the fragment. The result is
/// normalised as the client's `effective_url` is (scheme and host in lower case, no
/// default port, `/` at least), so one page has one spelling.
fn urljoin(base: &str, link: &str) -> String {
    let link = remove_fragment(link.trim());
    if has_scheme(link) {
        // `mailto:` and the like stay as they are; nothing under the base starts so.
        return if link.contains("://") {
            urljoin(link, "")
        } else {
            link.to_owned()
        };
    }
    let base = remove_fragment(base);
    let Some((scheme, rest)) = base.split_once("://") else {
        return link.to_owned();
    };
    if link.starts_with("//") {
        return urljoin(&format!("{scheme}:{link}"), "");
    }
    let authority_len = rest.find(['/', '?']).unwrap_or(rest.len());
    let origin = origin(scheme, &rest[..authority_len]);
    let (base_path, base_query) = match rest[authority_len..].split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (&rest[authority_len..], None),
    };
    let base_path = if base_path.is_empty() { "/" } else { base_path };
    let (path, query) = match link.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (link, None),
    };
    let (path, query) = if path.is_empty() {
        (base_path.to_owned(), query.or(base_query))
    } else if path.starts_with('/') {
        (path.to_owned(), query)
    } else {
        let dir = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
        (format!("{dir}{path}"), query)
    };
    let mut url = format!("{origin}{}", remove_dot_segments(&path));
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

/// `scheme://authority` in lower case, without the scheme's default port.
fn origin(scheme: &str, authority: &str) -> String {
    let scheme = scheme.to_ascii_lowercase();
    let mut authority = authority.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => ":80",
        "https" => ":443",
        _ => "",
    };
    if !default_port.is_empty() && authority.ends_with(default_port) {
        authority.truncate(authority.len() - default_port.len());
    }
    format!("{scheme}://{authority}")
}

/// Whether `link` starts with a scheme (`http:`, `mailto:`...).
fn has_scheme(link: &str) -> bool {
    match link.split_once(':') {
        Some((scheme, _)) => {
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }
        None => false,
    }
}

/// `path` without `.` and `..` segments.
fn remove_dot_segments(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let mut out: Vec<&str> = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *segment {
            "." => {}
            ".." => {
                out.pop();
            }
            s => {
                out.push(s);
                continue;
            }
        }
        // A path that ends in `.` or `..` names a directory.
        if last {
            out.push("");
        }
    }
    format!("/{}", out.join("/"))
}

/// The demo site: an index, `/page/0` to `/page/29` (each links to two more, so all
/// are reachable, plus one further along, itself and the index), `/old` redirecting
/// to `/page/5`, and 404 for everything else (three pages link to `/missing/N`).
async fn site(request: HttpServerRequest) -> Response {
    let host = request.host().to_owned();
    let path = request.path();
    if path == "/" {
        return page(
            "Index",
            &[
                "page/0",
                "/old",
                "#top",
                "http://example.invalid/elsewhere",
                "mailto:webmaster@example.invalid",
            ],
        );
    }
    if path == "/old" {
        return Response::new(StatusCode::FOUND)
            .with_header("Location", "/page/5")
            .with_body("moved to /page/5");
    }
    let number = path.strip_prefix("/page/").and_then(|n| n.parse().ok());
    let Some(n) = number.filter(|n: &usize| *n < PAGES) else {
        return Response::text("not found").with_status(StatusCode::NOT_FOUND);
    };
    let mut links: Vec<String> = (2 * n + 1..=2 * n + 2)
        .filter(|child| *child < PAGES)
        .map(|child| child.to_string())
        .collect();
    links.push(format!("/page/{}#part-2", (7 * n + 3) % PAGES));
    links.push(format!("../page/{n}"));
    links.push(format!("http://{host}/"));
    if n % 10 == 9 {
        links.push(format!("/missing/{n}"));
    }
    let links: Vec<&str> = links.iter().map(String::as_str).collect();
    page(&format!("Page {n}"), &links)
}

fn page(title: &str, links: &[&str]) -> Response {
    let mut html = format!("<!DOCTYPE html>\n<title>{title}</title>\n<h1 id=top>{title}</h1>\n");
    for link in links {
        html.push_str(&format!("<p><a href=\"{link}\">{link}</a>\n"));
    }
    Response::html(html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_as_urljoin_does() {
        let base = "http://h:1/a/b?q=1";
        for (link, want) in [
            ("c", "http://h:1/a/c"),
            ("./c/", "http://h:1/a/c/"),
            ("../c", "http://h:1/c"),
            ("../../../c", "http://h:1/c"),
            ("/c?x=2", "http://h:1/c?x=2"),
            ("?x=2", "http://h:1/a/b?x=2"),
            ("", "http://h:1/a/b?q=1"),
            ("..", "http://h:1/"),
            ("//other/p", "http://other/p"),
            ("https://x/y", "https://x/y"),
            ("mailto:a@b", "mailto:a@b"),
            ("HTTP://Example.COM:80/a/../b#f", "http://example.com/b"),
            ("//H:80", "http://h/"),
        ] {
            assert_eq!(urljoin(base, link), want, "{link:?}");
        }
        assert_eq!(urljoin("http://h", "p"), "http://h/p");
        assert_eq!(urljoin("https://H:443/x", ""), "https://h/x");
        assert_eq!(urljoin("https://h:8443/x", ""), "https://h:8443/x");
    }

    #[test]
    fn links_are_found_in_either_quotes() {
        let html = r#"<a HREF="/x">x</a> <a href='y?a=1&amp;b=2'>y</a> href=bare <a href="z"#;
        assert_eq!(get_links(html), ["/x", "y?a=1&b=2"]);
    }
}
