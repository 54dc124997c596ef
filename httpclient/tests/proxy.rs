//! Proxies: absolute-form requests for `http://`, a `CONNECT` tunnel then
//! TLS for `https://`, `Proxy-Authorization`, a 407 from the proxy, a
//! proxy that is not listening, keep-alive through the proxy, and the
//! `http_proxy`/`https_proxy`/`no_proxy` variables (in a child process, so
//! no test changes this process's environment).

mod tls_support;

use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tls_support::{Origin, TIMEOUT, TestPki, TestProxy, VIA, run};
use tornado_httpclient::{AsyncHttpClient, ClientConfig, ErrorKind, HttpRequest, Phase};

/// `Basic` credentials of "user" and "secret".
const USER_SECRET: &str = "Basic dXNlcjpzZWNyZXQ=";

#[test]
fn http_goes_to_the_proxy_in_absolute_form() {
    let proxy = TestProxy::start(None);
    run(async move {
        let origin = Origin::start(None);
        let client = AsyncHttpClient::new();
        let url = format!("http://127.0.0.1:{}/path?q=1", origin.port);
        let response = client
            .fetch(HttpRequest::new(url.as_str()).proxy("127.0.0.1", proxy.port()))
            .await
            .unwrap();
        assert_eq!(response.text().unwrap(), "GET /path?q=1");
        assert_eq!(response.effective_url, url);

        let seen = proxy.requests();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].request_line, format!("GET {url} HTTP/1.1"));
        assert_eq!(
            seen[0].header("Host"),
            Some(format!("127.0.0.1:{}", origin.port).as_str())
        );
        assert_eq!(seen[0].header("Proxy-Authorization"), None);
        let at_origin = origin.requests();
        assert_eq!(at_origin.len(), 1);
        assert_eq!(at_origin[0].uri, "/path?q=1");
        assert_eq!(at_origin[0].header("Via"), Some(VIA));
    });
}

#[test]
fn http_through_a_proxy_sends_proxy_authorization() {
    let proxy = TestProxy::start(Some(USER_SECRET.to_owned()));
    run(async move {
        let origin = Origin::start(None);
        let client = AsyncHttpClient::new();
        let url = format!("http://127.0.0.1:{}/auth", origin.port);
        let through = || HttpRequest::new(url.as_str()).proxy("127.0.0.1", proxy.port());

        let response = client
            .fetch(through().proxy_auth("user", "secret"))
            .await
            .unwrap();
        assert_eq!(response.text().unwrap(), "GET /auth");
        assert_eq!(
            proxy.requests()[0].header("Proxy-Authorization"),
            Some(USER_SECRET)
        );

        // For http:// the proxy's 407 is the response, as any other status.
        for request in [through(), through().proxy_auth("user", "wrong")] {
            let err = client.fetch(request).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Http, "{err:?}");
            assert_eq!(err.code(), 407);
            let response = err.response().unwrap();
            assert!(response.headers.contains("Proxy-Authenticate"));
        }
        assert_eq!(origin.requests().len(), 1);
    });
}

#[test]
fn https_goes_through_a_connect_tunnel() {
    let pki = TestPki::new();
    let ca = pki.ca.clone();
    let proxy = TestProxy::start(None);
    run(async move {
        let origin = Origin::start(Some(pki.server.server_config()));
        let client = AsyncHttpClient::new();
        let url = format!("https://localhost:{}/secure", origin.port);
        let response = client
            .fetch(
                HttpRequest::new(url.as_str())
                    .ca_certs(&ca)
                    .proxy("127.0.0.1", proxy.port()),
            )
            .await
            .unwrap();
        assert_eq!(response.text().unwrap(), "GET /secure");

        let seen = proxy.requests();
        assert_eq!(seen.len(), 1, "{seen:?}");
        let authority = format!("localhost:{}", origin.port);
        assert_eq!(
            seen[0].request_line,
            format!("CONNECT {authority} HTTP/1.1")
        );
        assert_eq!(seen[0].header("Host"), Some(authority.as_str()));
        // Inside the tunnel: origin-form, and nothing the proxy added.
        let at_origin = origin.requests();
        assert_eq!(at_origin.len(), 1);
        assert_eq!(at_origin[0].uri, "/secure");
        assert_eq!(at_origin[0].host, authority);
        assert_eq!(at_origin[0].header("Via"), None);
    });
}

#[test]
fn the_tunnel_checks_the_origin_certificate() {
    let pki = TestPki::new();
    let proxy = TestProxy::start(None);
    run(async move {
        let origin = Origin::start(Some(pki.server.server_config()));
        let client = AsyncHttpClient::new();
        let url = format!("https://localhost:{}/", origin.port);
        // The Mozilla roots do not know the test CA, tunnel or not.
        let err = client
            .fetch(HttpRequest::new(url.as_str()).proxy("127.0.0.1", proxy.port()))
            .await
            .unwrap_err();
        assert!(err.is_tls(), "{err:?}");
        assert_eq!(err.phase(), Some(Phase::Connect));
        assert!(
            err.to_string()
                .contains(&format!("localhost:{}", origin.port)),
            "{err}"
        );
        assert_eq!(proxy.requests().len(), 1);
        assert!(origin.requests().is_empty());
    });
}

#[test]
fn proxy_authorization_goes_to_the_proxy_only() {
    let pki = TestPki::new();
    let ca = pki.ca.clone();
    let proxy = TestProxy::start(Some(USER_SECRET.to_owned()));
    run(async move {
        let origin = Origin::start(Some(pki.server.server_config()));
        let client = AsyncHttpClient::new();
        let url = format!("https://localhost:{}/private", origin.port);
        let response = client
            .fetch(
                HttpRequest::new(url.as_str())
                    .ca_certs(&ca)
                    .proxy("127.0.0.1", proxy.port())
                    .proxy_auth("user", "secret"),
            )
            .await
            .unwrap();
        assert_eq!(response.text().unwrap(), "GET /private");
        let seen = proxy.requests();
        assert!(seen[0].request_line.starts_with("CONNECT "), "{seen:?}");
        assert_eq!(seen[0].header("Proxy-Authorization"), Some(USER_SECRET));
        let at_origin = origin.requests();
        assert_eq!(at_origin.len(), 1);
        assert_eq!(at_origin[0].header("Proxy-Authorization"), None);
    });
}

#[test]
fn a_407_to_connect_is_a_proxy_error() {
    let pki = TestPki::new();
    let ca = pki.ca.clone();
    let proxy = TestProxy::start(Some(USER_SECRET.to_owned()));
    run(async move {
        let origin = Origin::start(Some(pki.server.server_config()));
        let client = AsyncHttpClient::new();
        let url = format!("https://localhost:{}/", origin.port);
        let through = || {
            HttpRequest::new(url.as_str())
                .ca_certs(&ca)
                .proxy("127.0.0.1", proxy.port())
        };
        for request in [through(), through().proxy_auth("user", "wrong")] {
            let err = client.fetch(request).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Proxy, "{err:?}");
            assert_eq!(err.code(), 407);
            assert_eq!(err.phase(), Some(Phase::Connect));
            let message = err.to_string();
            assert!(
                message.contains(&format!("proxy 127.0.0.1:{}", proxy.port())),
                "{message}"
            );
            assert!(
                message.contains(&format!("localhost:{}", origin.port)),
                "{message}"
            );
            // The refusal is attached, with the proxy's headers.
            let response = err.response().expect("the proxy's answer is attached");
            assert_eq!(response.code, 407);
            assert!(response.headers.contains("Proxy-Authenticate"));
        }
        assert_eq!(client.idle_connections(), 0);
        assert!(origin.requests().is_empty());
    });
}

/// A port on 127.0.0.1 that nothing listens on (bound, then closed).
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn a_proxy_that_is_not_listening_is_a_connect_error_naming_it() {
    let pki = TestPki::new();
    let ca = pki.ca.clone();
    let port = closed_port();
    run(async move {
        let origin = Origin::start(Some(pki.server.server_config()));
        let plain = Origin::start(None);
        let client = AsyncHttpClient::new();
        for url in [
            format!("http://127.0.0.1:{}/", plain.port),
            format!("https://localhost:{}/", origin.port),
        ] {
            let err = client
                .fetch(
                    HttpRequest::new(url.as_str())
                        .ca_certs(&ca)
                        .proxy("127.0.0.1", port),
                )
                .await
                .unwrap_err();
            assert!(err.is_connect(), "{url}: {err:?}");
            assert_eq!(err.code(), 599);
            assert_eq!(err.phase(), Some(Phase::Connect));
            assert!(
                err.to_string().contains(&format!("127.0.0.1:{port}")),
                "{err}"
            );
        }
        assert!(origin.requests().is_empty());
        assert!(plain.requests().is_empty());
    });
}

#[test]
fn http_connections_to_the_proxy_are_reused() {
    let proxy = TestProxy::start(None);
    run(async move {
        let origin = Origin::start(None);
        let other = Origin::start(None);
        let client = AsyncHttpClient::new();
        let through = |port: u16, path: &str| {
            HttpRequest::new(format!("http://127.0.0.1:{port}{path}"))
                .proxy("127.0.0.1", proxy.port())
        };
        for i in 0..3 {
            let response = client
                .fetch(through(origin.port, &format!("/{i}")))
                .await
                .unwrap();
            assert_eq!(response.text().unwrap(), format!("GET /{i}"));
        }
        assert_eq!(proxy.connections(), 1);
        assert_eq!(proxy.requests().len(), 3);
        assert_eq!(client.idle_connections(), 1);

        // The pool key is the origin (and the proxy): another origin through
        // the same proxy gets a connection of its own, as does the same
        // origin with other proxy credentials or without the proxy.
        client.fetch(through(other.port, "/x")).await.unwrap();
        assert_eq!(proxy.connections(), 2);
        client
            .fetch(through(origin.port, "/y").proxy_auth("u", "p"))
            .await
            .unwrap();
        assert_eq!(proxy.connections(), 3);
        let direct = format!("http://127.0.0.1:{}/z", origin.port);
        let response = client.fetch(direct.as_str()).await.unwrap();
        assert_eq!(response.text().unwrap(), "GET /z");
        assert_eq!(proxy.requests().len(), 5);
        assert_eq!(client.idle_connections(), 4);
    });
}

#[test]
fn https_tunnels_are_reused() {
    let pki = TestPki::new();
    let ca = pki.ca.clone();
    let proxy = TestProxy::start(None);
    run(async move {
        let origin = Origin::start(Some(pki.server.server_config()));
        let client = AsyncHttpClient::new();
        for i in 0..3 {
            let url = format!("https://localhost:{}/{i}", origin.port);
            let response = client
                .fetch(
                    HttpRequest::new(url)
                        .ca_certs(&ca)
                        .proxy("127.0.0.1", proxy.port()),
                )
                .await
                .unwrap();
            assert_eq!(response.text().unwrap(), format!("GET /{i}"));
            assert_eq!(response.time_info.connect.is_some(), i == 0);
        }
        // One tunnel, one TLS session through it, three requests.
        assert_eq!(proxy.connections(), 1);
        assert_eq!(proxy.requests().len(), 1);
        assert_eq!(origin.server.connection_count(), 1);
        assert_eq!(origin.requests().len(), 3);
        assert_eq!(client.idle_connections(), 1);
    });
}

// ---- The environment, in a child process ----

/// Set in the child's environment; the child test does nothing without it.
const CHILD_MARKER: &str = "TORNADO_HTTPCLIENT_ENV_PROXY_CHILD";
/// The line the child prints: whether its request went through a proxy.
const CHILD_REPORT: &str = "env-proxy-child: via_proxy=";
const PROXY_VARIABLES: &[&str] = &[
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "no_proxy",
    "NO_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "REQUEST_METHOD",
];

/// Runs [`env_proxy_child`] in a new process of this test binary with
/// `env` (and none of the proxy variables this process has), and returns
/// its report: whether an http:// request reached the origin through the
/// test proxy (`"true"` or `"false"`), `"n/a"` for https:// (a tunnel
/// hides itself from the origin).
fn run_child(scheme: &str, env: &[(&str, String)]) -> String {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "env_proxy_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_MARKER, scheme)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for name in PROXY_VARIABLES {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the child process took more than {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "child failed: {stdout}\n{stderr}");
    // A filter that matched nothing also succeeds: make sure it ran.
    assert!(stdout.contains("1 passed"), "{stdout}");
    let report = stdout
        .lines()
        .find_map(|line| line.split_once(CHILD_REPORT).map(|(_, report)| report))
        .unwrap_or_else(|| panic!("no report from the child: {stdout}"));
    report.trim().to_owned()
}

/// The child's side: fetch from an origin of its own with
/// `proxy_from_env` and print whether the request went through the proxy.
/// The test proxy adds a `Via` header to what it forwards for http://; a
/// tunnel hides itself from the origin, so for https:// only the parent
/// can tell, from the proxy's log.
#[test]
#[ignore = "run by the env_* tests in a child process"]
fn env_proxy_child() {
    let Ok(scheme) = std::env::var(CHILD_MARKER) else {
        return;
    };
    let pki = TestPki::new();
    let ca = pki.ca.clone();
    let via = run(async move {
        let tls = (scheme == "https").then(|| pki.server.server_config());
        let origin = Origin::start(tls);
        let config = ClientConfig {
            proxy_from_env: true,
            ..ClientConfig::default()
        };
        let client = AsyncHttpClient::with_config(config);
        let url = format!("{scheme}://localhost:{}/env", origin.port);
        let response = client
            .fetch(HttpRequest::new(url.as_str()).ca_certs(&ca))
            .await
            .unwrap();
        assert_eq!(response.text().unwrap(), "GET /env");
        let seen = origin.requests();
        match scheme.as_str() {
            "http" => (seen[0].header("Via") == Some(VIA)).to_string(),
            _ => "n/a".to_owned(),
        }
    });
    println!("{CHILD_REPORT}{via}");
}

#[test]
fn env_http_proxy_is_used_when_asked_for() {
    let proxy = TestProxy::start(None);
    let value = format!("127.0.0.1:{}", proxy.port());
    assert_eq!(run_child("http", &[("http_proxy", value)]), "true");
    let seen = proxy.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].request_line.starts_with("GET http://localhost:")
            && seen[0].request_line.ends_with("/env HTTP/1.1"),
        "{seen:?}"
    );
}

#[test]
fn env_upper_case_proxy_url_with_credentials() {
    // "envuser:p@ss", percent-decoded from the URL.
    let proxy = TestProxy::start(Some("Basic ZW52dXNlcjpwQHNz".to_owned()));
    let value = format!("http://envuser:p%40ss@127.0.0.1:{}", proxy.port());
    assert_eq!(run_child("http", &[("HTTP_PROXY", value)]), "true");
    assert_eq!(proxy.requests().len(), 1);
}

#[test]
fn env_https_proxy_tunnels() {
    let proxy = TestProxy::start(None);
    let value = format!("127.0.0.1:{}", proxy.port());
    // http_proxy names a proxy that is not there: https must not use it.
    let unused = format!("127.0.0.1:{}", closed_port());
    run_child("https", &[("https_proxy", value), ("http_proxy", unused)]);
    let seen = proxy.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].request_line.starts_with("CONNECT localhost:"),
        "{seen:?}"
    );
}

#[test]
fn env_no_proxy_goes_direct() {
    let proxy = TestProxy::start(None);
    let value = format!("127.0.0.1:{}", proxy.port());
    let report = run_child(
        "http",
        &[
            ("http_proxy", value),
            ("no_proxy", "example.com,localhost".into()),
        ],
    );
    assert_eq!(report, "false");
    assert!(proxy.requests().is_empty());
}

#[test]
fn env_proxies_are_ignored_under_cgi() {
    let proxy = TestProxy::start(None);
    let value = format!("127.0.0.1:{}", proxy.port());
    let report = run_child(
        "http",
        &[
            ("HTTP_PROXY", value.clone()),
            ("http_proxy", value),
            ("REQUEST_METHOD", "GET".into()),
        ],
    );
    assert_eq!(report, "false");
    assert!(proxy.requests().is_empty());
}

#[test]
fn a_pooled_tunnel_the_origin_closed_is_replaced() {
    let pki = TestPki::new();
    let ca = pki.ca.clone();
    let proxy = TestProxy::start(None);
    run(async move {
        let origin = Origin::start(Some(pki.server.server_config()));
        let client = AsyncHttpClient::new();
        let fetch = |path: &str| {
            let request = HttpRequest::new(format!("https://localhost:{}{path}", origin.port))
                .ca_certs(&ca)
                .proxy("127.0.0.1", proxy.port());
            let client = client.clone();
            async move { client.fetch(request).await }
        };
        fetch("/first").await.unwrap();
        assert_eq!(client.idle_connections(), 1);
        // The origin ends the session; the proxy passes the close on, the
        // pooled tunnel is found dead and the GET goes out on a new one.
        origin.server.close_all_connections().await;
        let response = fetch("/second").await.unwrap();
        assert_eq!(response.text().unwrap(), "GET /second");
        assert_eq!(proxy.connections(), 2);
        let connects = proxy.requests();
        assert_eq!(connects.len(), 2, "{connects:?}");
        assert!(
            connects
                .iter()
                .all(|r| r.request_line.starts_with("CONNECT "))
        );
        assert_eq!(origin.requests().len(), 2);
    });
}

#[test]
fn a_proxy_that_cannot_reach_the_origin_answers_502() {
    let proxy = TestProxy::start(None);
    let port = closed_port();
    run(async move {
        let client = AsyncHttpClient::new();
        // https: the refused CONNECT is a Proxy error with the proxy's code.
        let err = client
            .fetch(
                HttpRequest::new(format!("https://127.0.0.1:{port}/"))
                    .proxy("127.0.0.1", proxy.port()),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Proxy, "{err:?}");
        assert_eq!(err.code(), 502);
        // http: the proxy's answer is the response.
        let err = client
            .fetch(
                HttpRequest::new(format!("http://127.0.0.1:{port}/"))
                    .proxy("127.0.0.1", proxy.port()),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Http, "{err:?}");
        assert_eq!(err.code(), 502);
    });
}

#[test]
fn a_proxy_that_never_answers_connect_times_out_while_connecting() {
    // Accepted by the kernel, never read: the CONNECT gets no answer.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    run(async move {
        let client = AsyncHttpClient::new();
        let started = Instant::now();
        let err = client
            .fetch(
                HttpRequest::new("https://localhost:1/")
                    .proxy("127.0.0.1", port)
                    .connect_timeout(Duration::from_millis(300)),
            )
            .await
            .unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
        assert_eq!(err.phase(), Some(Phase::Connect));
        assert!(started.elapsed() >= Duration::from_millis(300));
        drop(silent);
    });
}

#[test]
fn https_through_the_tunnel_to_a_plain_http_origin_is_a_tls_error() {
    let proxy = TestProxy::start(None);
    run(async move {
        let plain = Origin::start(None);
        let client = AsyncHttpClient::new();
        let err = client
            .fetch(
                HttpRequest::new(format!("https://localhost:{}/", plain.port))
                    .proxy("127.0.0.1", proxy.port()),
            )
            .await
            .unwrap_err();
        assert!(err.is_tls(), "{err:?}");
        assert_eq!(err.phase(), Some(Phase::Connect));
        assert!(
            err.to_string()
                .contains(&format!("localhost:{}", plain.port)),
            "{err}"
        );
    });
}
