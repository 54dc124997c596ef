//! The basics of a fetch against our `HttpServer`: status, headers, body,
//! methods and bodies, the headers the client adds (`Host`, `User-Agent`, a POST's
//! `Content-Type`, `Accept-Encoding`, `If-Modified-Since`), basic auth, the defaults of a
//! `ClientConfig`, and timings (Tornado's `test_hello_world`, `test_post`,
//! `test_all_methods`, `test_basic_auth`, `test_credentials_in_url`,
//! `test_configure_defaults`, `test_response_times`, `test_bind_source_ip`,
//! `HostnameMappingTestCase`, ...).

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::{Echo, NeverResolver, RawServer, run, serve, serve_app};
use tornado_httpclient::{
    AsyncHttpClient, AuthMode, ClientConfig, DEFAULT_USER_AGENT, HttpRequest,
};
use tornado_httpserver::Response;
use tornado_httpserver::httputil::{HttpServerRequest, url_concat};
use tornado_iostream::netutil::OverrideResolver;

#[test]
fn hello_world() {
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        let url = format!("{base}/hello");
        let response = client.fetch(url.as_str()).await.unwrap();
        assert_eq!(response.code, 200);
        assert_eq!(response.reason, "OK");
        assert_eq!(response.headers.get("Content-Type"), Some("text/plain"));
        assert_eq!(response.headers.get("Content-Length"), Some("12"));
        assert_eq!(response.text().unwrap(), "Hello world!");
        assert_eq!(response.effective_url, url);
        assert_eq!(response.request.url, url);
        assert!(response.error.is_none());
        assert!(response.rethrow().is_ok());
        assert!(response.is_success());
        server.stop();
    });
}

#[test]
fn response_times_are_filled_in() {
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        let before = SystemTime::now();
        let response = client.fetch(format!("{base}/hello")).await.unwrap();
        let after = SystemTime::now();
        assert!(response.start_time >= before && response.start_time <= after);
        let t = response.time_info;
        assert_eq!(t.total, response.request_time);
        let connect = t.connect.expect("a new connection was made");
        let pretransfer = t.pretransfer.expect("pretransfer");
        let starttransfer = t.starttransfer.expect("starttransfer");
        assert!(connect <= pretransfer, "{t:?}");
        assert!(pretransfer <= starttransfer, "{t:?}");
        assert!(starttransfer <= t.total, "{t:?}");
        assert_eq!(t.redirect, Duration::ZERO);
        assert!(t.total < Duration::from_secs(20), "{t:?}");

        // The second fetch reuses the connection: no connect time.
        let again = client.fetch(format!("{base}/hello")).await.unwrap();
        assert_eq!(again.time_info.connect, None);
        server.stop();
    });
}

#[test]
fn timings_count_from_the_fetch_through_the_queue_and_redirects() {
    // Each request takes a while; the first hop of /r is a redirect.
    let server = RawServer::start(|mut conn, _| {
        while let Some(request) = conn.read_request()? {
            std::thread::sleep(Duration::from_millis(150));
            if request.request_line().starts_with("GET /r ") {
                conn.write(b"HTTP/1.1 302 Found\r\nLocation: /end\r\nContent-Length: 0\r\n\r\n")?;
            } else {
                conn.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")?;
            }
        }
        Ok(())
    });
    let (first, redirected) = (server.url("/a"), server.url("/r"));
    run(async move {
        let client = AsyncHttpClient::with_config(ClientConfig {
            max_clients: 1,
            ..ClientConfig::default()
        });
        let ahead = tornado_ioloop::spawn(client.fetch(first));
        // Let the first fetch take the only slot.
        tornado_ioloop::sleep(Duration::from_millis(20)).await;
        let response = client.fetch(redirected).await.unwrap();
        ahead.await.unwrap().unwrap();
        let t = response.time_info;
        assert!(t.queue >= Duration::from_millis(100), "{t:?}");
        assert!(t.redirect >= Duration::from_millis(150), "{t:?}");
        // From the moment fetch was called: after the queue and the redirect.
        let pretransfer = t.pretransfer.expect("pretransfer");
        let starttransfer = t.starttransfer.expect("starttransfer");
        assert!(pretransfer >= t.queue + t.redirect, "{t:?}");
        assert!(starttransfer >= pretransfer, "{t:?}");
        assert!(starttransfer <= t.total, "{t:?}");
    });
}

#[test]
fn methods_and_bodies_reach_the_server() {
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        let url = format!("{base}/echo");
        for (method, body) in [
            ("POST", Some("arg1=foo&arg2=bar")),
            ("PUT", Some("Put body")),
            ("PATCH", Some("Patch body")),
            ("DELETE", None),
            ("OPTIONS", None),
            ("GET", None),
            ("PURGE", None),
            ("POST", Some("")),
        ] {
            let mut request = HttpRequest::new(url.as_str()).method(method);
            if let Some(body) = body {
                request = request.body(body);
            }
            let response = client.fetch(request).await.unwrap();
            let echo = Echo::parse(&response.body);
            assert_eq!(echo.method, method);
            assert_eq!(echo.body, body.unwrap_or(""), "{method}");
            let length = echo.header("Content-Length");
            match body {
                Some(b) => assert_eq!(length, Some(b.len().to_string().as_str()), "{method}"),
                None => assert_eq!(length, None, "{method} without a body"),
            }
            assert_eq!(echo.header("Transfer-Encoding"), None, "{method}");
        }
        server.stop();
    });
}

#[test]
fn head_request_gets_headers_only() {
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        let response = client
            .fetch(HttpRequest::new(format!("{base}/hello")).method("HEAD"))
            .await
            .unwrap();
        assert_eq!(response.code, 200);
        assert!(response.body.is_empty());
        // The connection is still in step for the next request.
        let response = client.fetch(format!("{base}/hello")).await.unwrap();
        assert_eq!(response.text().unwrap(), "Hello world!");
        assert_eq!(server.connection_count(), 1);
        server.stop();
    });
}

#[test]
fn client_adds_host_user_agent_and_accept_encoding() {
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        let response = client.fetch(format!("{base}/echo")).await.unwrap();
        let echo = Echo::parse(&response.body);
        let port = server.local_addrs()[0].port();
        assert_eq!(
            echo.header("Host"),
            Some(format!("127.0.0.1:{port}").as_str())
        );
        assert_eq!(echo.header("User-Agent"), Some(DEFAULT_USER_AGENT));
        assert_eq!(echo.header("Accept-Encoding"), Some("gzip"));
        assert_eq!(echo.header("Authorization"), None);
        assert_eq!(echo.header("Expect"), None);

        // Without decompression the client does not ask for gzip.
        let response = client
            .fetch(HttpRequest::new(format!("{base}/echo")).decompress_response(false))
            .await
            .unwrap();
        assert_eq!(Echo::parse(&response.body).header("Accept-Encoding"), None);

        // The caller's own values win.
        let response = client
            .fetch(
                HttpRequest::new(format!("{base}/echo"))
                    .user_agent("UserAgentTest/1.0")
                    .header("Accept-Encoding", "identity")
                    .header("X-Custom", "a value")
                    .header("X-Twice", "1")
                    .header("X-Twice", "2"),
            )
            .await
            .unwrap();
        let echo = Echo::parse(&response.body);
        assert_eq!(echo.header("User-Agent"), Some("UserAgentTest/1.0"));
        assert_eq!(echo.header("Accept-Encoding"), Some("identity"));
        assert_eq!(echo.header("X-Custom"), Some("a value"));

        // A POST without a Content-Type is sent as a form (Tornado's client does
        // this); one with a type keeps it, and other methods get none.
        let post = |method: &str, ctype: Option<&str>| {
            let mut req = HttpRequest::new(format!("{base}/echo"))
                .method(method)
                .body("a=1");
            if let Some(t) = ctype {
                req = req.header("Content-Type", t);
            }
            client.fetch(req)
        };
        let echo = Echo::parse(&post("POST", None).await.unwrap().body);
        assert_eq!(
            echo.header("Content-Type"),
            Some("application/x-www-form-urlencoded")
        );
        let echo = Echo::parse(&post("POST", Some("text/plain")).await.unwrap().body);
        assert_eq!(echo.header("Content-Type"), Some("text/plain"));
        let echo = Echo::parse(&post("PUT", None).await.unwrap().body);
        assert_eq!(echo.header("Content-Type"), None);
        server.stop();
    });
}

#[test]
fn headers_go_out_in_order_and_repeated() {
    let server = RawServer::start(|mut conn, _| {
        let request = conn.read_request()?.expect("a request");
        let body = request.head.into_bytes();
        conn.write(&support::response_with("HTTP/1.1 200 OK", &[], &body))
    });
    let url = server.url("/path?q=1");
    let head = run(async move {
        let client = AsyncHttpClient::new();
        let response = client
            .fetch(
                HttpRequest::new(url)
                    .header("X-Twice", "1")
                    .header("X-Twice", "2")
                    .user_agent("ua"),
            )
            .await
            .unwrap();
        response.text().unwrap().to_owned()
    });
    let lines: Vec<&str> = head.split("\r\n").collect();
    assert_eq!(lines[0], "GET /path?q=1 HTTP/1.1");
    assert_eq!(lines[1], format!("Host: {}", server.addr()));
    let twice: Vec<&&str> = lines.iter().filter(|l| l.starts_with("X-Twice")).collect();
    assert_eq!(twice, [&"X-Twice: 1", &"X-Twice: 2"]);
    assert!(lines.contains(&"User-Agent: ua"), "{lines:?}");
}

#[test]
fn if_modified_since_is_an_http_date() {
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        let time = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let response = client
            .fetch(HttpRequest::new(format!("{base}/echo")).if_modified_since(time))
            .await
            .unwrap();
        let echo = Echo::parse(&response.body);
        assert_eq!(
            echo.header("If-Modified-Since"),
            Some("Sun, 09 Sep 2001 01:46:40 GMT")
        );
        server.stop();
    });
}

#[test]
fn basic_auth_from_options_and_url() {
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        let auth = |request: HttpRequest| {
            let client = client.clone();
            async move {
                let response = client.fetch(request).await.unwrap();
                response.text().unwrap().to_owned()
            }
        };
        let url = format!("{base}/auth");
        assert_eq!(
            auth(HttpRequest::new(url.as_str()).auth("Aladdin", "open sesame")).await,
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(
            auth(
                HttpRequest::new(url.as_str())
                    .auth("Aladdin", "open sesame")
                    .auth_mode(AuthMode::Basic)
            )
            .await,
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        // Non-ASCII credentials are UTF-8 (Tornado's test_basic_auth_unicode).
        assert_eq!(
            auth(HttpRequest::new(url.as_str()).auth("test", "123£")).await,
            "Basic dGVzdDoxMjPCow=="
        );
        // user:pass@ in the URL, percent-decoded.
        let in_url = url.replace("http://", "http://me:secret@");
        assert_eq!(auth(HttpRequest::new(in_url)).await, "Basic bWU6c2VjcmV0");
        let escaped = url.replace("http://", "http://me:p%40ss@");
        assert_eq!(auth(HttpRequest::new(escaped)).await, "Basic bWU6cEBzcw==");
        // The URL wins over the options (as in Tornado), and an explicit
        // header wins over both.
        let in_url = url.replace("http://", "http://me:secret@");
        assert_eq!(
            auth(HttpRequest::new(in_url.as_str()).auth("Aladdin", "open sesame")).await,
            "Basic bWU6c2VjcmV0"
        );
        assert_eq!(
            auth(
                HttpRequest::new(in_url)
                    .auth("Aladdin", "open sesame")
                    .header("Authorization", "Bearer token")
            )
            .await,
            "Bearer token"
        );
        // No credentials, no header.
        assert_eq!(auth(HttpRequest::new(url.as_str())).await, "");
        server.stop();
    });
}

#[test]
fn config_defaults_apply_to_every_request() {
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::with_config(ClientConfig {
            defaults: HttpRequest::default()
                .user_agent("TestDefaultUserAgent")
                .allow_ipv6(false)
                .header("X-Default", "d")
                .auth("user", "pass"),
            ..ClientConfig::default()
        });
        let response = client.fetch(format!("{base}/echo")).await.unwrap();
        let echo = Echo::parse(&response.body);
        assert_eq!(echo.header("User-Agent"), Some("TestDefaultUserAgent"));
        assert_eq!(echo.header("X-Default"), Some("d"));
        assert_eq!(echo.header("Authorization"), Some("Basic dXNlcjpwYXNz"));

        // A request's own values win over the defaults.
        let response = client
            .fetch(
                HttpRequest::new(format!("{base}/echo"))
                    .user_agent("mine")
                    .header("x-default", "mine"),
            )
            .await
            .unwrap();
        let echo = Echo::parse(&response.body);
        assert_eq!(echo.header("User-Agent"), Some("mine"));
        assert_eq!(echo.header("X-Default"), Some("mine"));
        server.stop();
    });
}

#[test]
fn a_request_can_be_fetched_again_from_its_response() {
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        let first = client
            .fetch(
                HttpRequest::new(format!("{base}/echo"))
                    .method("PUT")
                    .body("again"),
            )
            .await
            .unwrap();
        let second = client.fetch(first.request.clone()).await.unwrap();
        assert_eq!(first.body, second.body);
        assert_eq!(Echo::parse(&second.body).body, "again");
        server.stop();
    });
}

#[test]
fn clones_share_the_pool() {
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        let clone = client.clone();
        client.fetch(format!("{base}/hello")).await.unwrap();
        assert_eq!(clone.idle_connections(), 1);
        clone.fetch(format!("{base}/hello")).await.unwrap();
        assert_eq!(server.connection_count(), 1);
        assert_eq!(client.load(), (0, 0));
        server.stop();
    });
}

#[test]
fn host_names_map_through_the_resolver() {
    // Tornado's HostnameMappingTestCase: names resolve to our server, and
    // the Host header carries the name (no port when it is the default).
    run(async {
        let (server, base) = serve_app();
        let addr = server.local_addrs()[0];
        let resolver = OverrideResolver::new(NeverResolver)
            .with("www.example.test", 80, vec![addr])
            .with("www.example.test", 8443, vec![addr])
            // IP literals go through the resolver too, as in Tornado.
            .with("127.0.0.1", addr.port(), vec![addr]);
        let client = AsyncHttpClient::with_resolver(ClientConfig::default(), resolver);
        let response = client.fetch("http://www.example.test/host").await.unwrap();
        assert_eq!(response.text().unwrap(), "www.example.test");
        assert_eq!(response.effective_url, "http://www.example.test/host");
        let response = client
            .fetch("http://www.example.test:8443/host")
            .await
            .unwrap();
        assert_eq!(response.text().unwrap(), "www.example.test:8443");

        // Another name for the same socket is another origin: credentials
        // stay behind.
        let to_ip = url_concat(
            "http://www.example.test/redirect",
            [("url", format!("{base}/echo"))],
        );
        let response = client
            .fetch(HttpRequest::new(to_ip).auth("me", "secret"))
            .await
            .unwrap();
        assert_eq!(Echo::parse(&response.body).header("Authorization"), None);
        server.stop();
    });
}

#[test]
fn bind_source_ip() {
    run(async {
        let (server, base) = serve(|req: HttpServerRequest| async move {
            Response::text(req.remote_ip.map(|ip| ip.to_string()).unwrap_or_default())
        });
        let client = AsyncHttpClient::new();
        let response = client
            .fetch(
                HttpRequest::new(format!("{base}/"))
                    .network_interface("127.0.0.1".parse().unwrap())
                    .allow_ipv6(false),
            )
            .await
            .unwrap();
        assert_eq!(response.text().unwrap(), "127.0.0.1");
        server.stop();
    });
}
