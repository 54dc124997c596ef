//! Fetches URLs and prints what comes back: Tornado's `python -m tornado.httpclient`,
//! on the blocking [`HttpClient`].
//!
//! ```text
//! cargo run --example fetch -- URL... [--method M] [--header 'K: V']... [--data D]
//!     [--print-headers] [--no-print-body] [--no-follow-redirects]
//!     [--proxy HOST:PORT] [--insecure] [--timeout SECONDS]
//! ```
//!
//! - The body goes to standard output as raw bytes (Tornado's `print` adds a newline;
//!   this does not, so a binary body comes out intact).
//! - `--print-headers` puts the head of the final response first: status line, header
//!   lines, blank line, as `curl -i` does, gathered with `header_callback` (so a
//!   decompressed body's `Content-Encoding` shows as `X-Consumed-Content-Encoding`, as
//!   in Tornado). Tornado's `main` prints the header lines alone.
//! - `--data D` sends `D` as the body; the method is then `POST` unless `--method`
//!   says otherwise (as curl does). `--header` may be given several times.
//! - `--proxy HOST:PORT` goes through an HTTP proxy (a `CONNECT` tunnel for
//!   `https://`); `--insecure` does not verify the server's certificate;
//!   `--timeout SECONDS` bounds both the connection and the whole request (20 s each
//!   by default).
//! - Several URLs are fetched one after the other, over kept-alive connections.
//!
//! Exit status: 0 when every fetch succeeded; 1 when one failed, with the error on
//! standard error; 2 for a usage error, with the usage on standard error.
//!
//! What counts as a failure: the request is sent with `raise_error(false)`, so any
//! response the server gave is printed, as Tornado's `main` prints the response of an
//! `HTTPError`. Tornado then exits 0; this exits 1 for a non-2xx status and prints the
//! error (`HTTP 404: Not Found`) on standard error, as `curl --fail-with-body` does, so
//! a script can tell. A 3xx left unfollowed because of `--no-follow-redirects` is the
//! answer that was asked for and exits 0. When the fetch itself fails (refused, timed
//! out, too many redirects) only the error is printed.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tornado::httpclient::{HttpClient, HttpClientError, HttpRequest, HttpResponse};

const USAGE: &str = "usage: fetch URL... [--method M] [--header 'K: V']... [--data D]
             [--print-headers] [--no-print-body] [--no-follow-redirects]
             [--proxy HOST:PORT] [--insecure] [--timeout SECONDS]";

/// The command line.
#[derive(Debug, Default)]
struct Args {
    urls: Vec<String>,
    method: Option<String>,
    headers: Vec<(String, String)>,
    data: Option<String>,
    print_headers: bool,
    print_body: bool,
    follow_redirects: bool,
    proxy: Option<(String, u16)>,
    insecure: bool,
    timeout: Option<Duration>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        print_body: true,
        follow_redirects: true,
        ..Args::default()
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--method" => args.method = Some(value()?),
            "--header" => {
                let line = value()?;
                let (name, v) = line
                    .split_once(':')
                    .ok_or(format!("bad --header {line:?}: not 'Name: value'"))?;
                args.headers
                    .push((name.trim().to_owned(), v.trim().to_owned()));
            }
            "--data" => args.data = Some(value()?),
            "--print-headers" => args.print_headers = true,
            "--no-print-body" => args.print_body = false,
            "--no-follow-redirects" => args.follow_redirects = false,
            "--proxy" => {
                let v = value()?;
                let bad = || format!("bad --proxy {v:?}: not HOST:PORT");
                let (host, port) = v.rsplit_once(':').ok_or_else(bad)?;
                let port = port.parse().map_err(|_| bad())?;
                let host = host.trim_start_matches('[').trim_end_matches(']');
                args.proxy = Some((host.to_owned(), port));
            }
            "--insecure" => args.insecure = true,
            "--timeout" => {
                let v = value()?;
                let secs: f64 = v.parse().map_err(|_| format!("bad --timeout {v:?}"))?;
                let timeout = Duration::try_from_secs_f64(secs)
                    .ok()
                    .filter(|t| !t.is_zero())
                    .ok_or(format!("bad --timeout {v:?}: not a positive number"))?;
                args.timeout = Some(timeout);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            url => args.urls.push(url.to_owned()),
        }
    }
    if args.urls.is_empty() {
        return Err("no URL given".into());
    }
    Ok(args)
}

/// The request for `url` with the options of the command line, and where the
/// `header_callback` leaves the lines of the final response head.
fn request(args: &Args, url: &str) -> (HttpRequest, Arc<Mutex<Vec<String>>>) {
    let mut request = HttpRequest::new(url)
        .follow_redirects(args.follow_redirects)
        .validate_cert(!args.insecure)
        .raise_error(false);
    let method = match (&args.method, &args.data) {
        (Some(m), _) => m.as_str(),
        (None, Some(_)) => "POST",
        (None, None) => "GET",
    };
    request = request.method(method);
    for (name, value) in &args.headers {
        request = request.header(name, value);
    }
    if let Some(data) = &args.data {
        request = request.body(data.clone());
    }
    if let Some((host, port)) = &args.proxy {
        request = request.proxy(host, *port);
    }
    if let Some(timeout) = args.timeout {
        request = request.connect_timeout(timeout).request_timeout(timeout);
    }
    let head = Arc::new(Mutex::new(Vec::new()));
    let lines = head.clone();
    // Called with every head's lines (interim 1xx ones too, redirects followed not):
    // a status line starts a new head, so the final one is what is left.
    request = request.header_callback(move |line| {
        let mut lines = lines.lock().unwrap_or_else(|p| p.into_inner());
        if line.starts_with("HTTP/") {
            lines.clear();
        }
        lines.push(line.to_owned());
    });
    (request, head)
}

/// Prints the response as asked; `Err` with the error when it counts as a failure.
fn write_response(
    args: &Args,
    response: &HttpResponse,
    head: &Mutex<Vec<String>>,
) -> Result<(), HttpClientError> {
    let mut out = std::io::stdout().lock();
    let mut written = Ok(());
    if args.print_headers {
        let head = head.lock().unwrap_or_else(|p| p.into_inner());
        written = head
            .iter()
            .try_for_each(|line| out.write_all(line.as_bytes()));
    }
    if args.print_body {
        written = written.and_then(|()| out.write_all(&response.body));
    }
    if let Err(e) = written.and_then(|()| out.flush()) {
        // A closed pipe (`fetch URL | head`) is the reader's choice, not a failure.
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("cannot write the response: {e}");
            std::process::exit(1);
        }
    }
    let unfollowed = !args.follow_redirects && (300..400).contains(&response.code);
    match response.rethrow() {
        Err(e) if !unfollowed => Err(e),
        _ => Ok(()),
    }
}

fn main() {
    env_logger::init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("fetch: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let client = match HttpClient::new() {
        Ok(client) => client,
        Err(e) => {
            eprintln!("fetch: cannot start the HTTP client: {e}");
            std::process::exit(1);
        }
    };
    let mut failed = false;
    for url in &args.urls {
        let (request, head) = request(&args, url);
        let result = client.fetch(request);
        let outcome = result.and_then(|response| write_response(&args, &response, &head));
        if let Err(e) = outcome {
            eprintln!("fetch: {url}: {e}");
            failed = true;
        }
    }
    client.close();
    std::process::exit(i32::from(failed));
}
