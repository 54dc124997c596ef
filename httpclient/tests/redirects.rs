//! Redirects: which method and body each code keeps, relative `Location`s,
//! `follow_redirects(false)`, `max_redirects`, credentials on a hop to
//! another origin (another port of 127.0.0.1) or the same one, and
//! `effective_url` (Tornado's `test_follow_redirect`, `test_max_redirects`,
//! `test_method_after_redirect`, `test_see_other_redirect`,
//! `test_redirect_without_location`, `test_strip_headers_on_redirect`,
//! `test_redirect_unsupported_scheme`, `test_streaming_follow_redirects`).

mod support;

use std::sync::{Arc, Mutex};

use support::{Echo, RawServer, run, serve_app};
use tornado_httpclient::{AsyncHttpClient, ErrorKind, HttpRequest};
use tornado_httpserver::httputil::url_concat;

/// `{base}/redirect?url=target&status=code`.
fn redirect(base: &str, target: &str, code: u16) -> String {
    url_concat(
        &format!("{base}/redirect"),
        [("url", target), ("status", &code.to_string())],
    )
}

#[test]
fn follows_redirects_to_the_end() {
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        let response = client.fetch(format!("{base}/countdown/2")).await.unwrap();
        assert_eq!(response.code, 200);
        assert_eq!(response.text().unwrap(), "Zero");
        assert_eq!(response.effective_url, format!("{base}/countdown/0"));
        assert_eq!(response.request.url, format!("{base}/countdown/2"));
        assert!(response.time_info.redirect <= response.time_info.total);
        // All hops went over one kept-alive connection.
        assert_eq!(server.connection_count(), 1);
        server.stop();
    });
}

#[test]
fn too_many_redirects_is_an_error_with_the_last_response() {
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        let err = client
            .fetch(HttpRequest::new(format!("{base}/countdown/5")).max_redirects(3))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Redirect);
        assert_eq!(err.code(), 302);
        assert!(err.to_string().contains("Too many redirects"), "{err}");
        let response = err.response().expect("the last response");
        assert_eq!(response.code, 302);
        assert_eq!(response.effective_url, format!("{base}/countdown/2"));
        assert_eq!(response.headers.get("Location"), Some("/countdown/1"));

        // Zero redirects allowed: the first 3xx is the error.
        let err = client
            .fetch(HttpRequest::new(format!("{base}/countdown/1")).max_redirects(0))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Redirect);
        let response = err.into_response().unwrap();
        assert_eq!(response.effective_url, format!("{base}/countdown/1"));

        // raise_error(false) does not turn it into a response.
        let err = client
            .fetch(
                HttpRequest::new(format!("{base}/countdown/5"))
                    .max_redirects(1)
                    .raise_error(false),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Redirect);

        // Exactly max_redirects hops are fine.
        let response = client
            .fetch(HttpRequest::new(format!("{base}/countdown/3")).max_redirects(3))
            .await
            .unwrap();
        assert_eq!(response.text().unwrap(), "Zero");
        server.stop();
    });
}

#[test]
fn follow_redirects_false_returns_the_3xx() {
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        let url = format!("{base}/countdown/2");
        let err = client
            .fetch(HttpRequest::new(url.as_str()).follow_redirects(false))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Http);
        assert_eq!(err.code(), 302);
        assert_eq!(
            err.response().unwrap().headers.get("Location"),
            Some("/countdown/1")
        );

        let response = client
            .fetch(
                HttpRequest::new(url.as_str())
                    .follow_redirects(false)
                    .raise_error(false),
            )
            .await
            .unwrap();
        assert_eq!(response.code, 302);
        assert_eq!(response.reason, "Found");
        assert_eq!(response.effective_url, url);
        assert_eq!(response.headers.get("Location"), Some("/countdown/1"));
        assert_eq!(response.error.as_ref().unwrap().code(), 302);
        server.stop();
    });
}

#[test]
fn redirect_without_location_is_returned_as_is() {
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        let response = client
            .fetch(HttpRequest::new(format!("{base}/redirect?status=301")).raise_error(false))
            .await
            .unwrap();
        assert_eq!(response.code, 301);
        assert_eq!(response.headers.get("Location"), None);
        server.stop();
    });
}

#[test]
fn method_and_body_after_each_redirect_code() {
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        let target = format!("{base}/echo");
        // (code, method sent, method that arrives, body kept)
        let table = [
            (301, "POST", "GET", false),
            (302, "POST", "GET", false),
            (303, "POST", "GET", false),
            (307, "POST", "POST", true),
            (308, "POST", "POST", true),
            (301, "PUT", "PUT", true),
            (302, "PUT", "PUT", true),
            (303, "PUT", "GET", false),
            (307, "PUT", "PUT", true),
            (308, "PUT", "PUT", true),
            (301, "DELETE", "DELETE", false),
            (302, "OPTIONS", "OPTIONS", false),
            (303, "DELETE", "GET", false),
            (307, "DELETE", "DELETE", false),
            (303, "GET", "GET", false),
        ];
        for (code, method, arrives, keeps_body) in table {
            let body = matches!(method, "POST" | "PUT").then_some("the body");
            let mut request = HttpRequest::new(redirect(&base, &target, code))
                .method(method)
                .header("Content-Type", "text/plain")
                .header("X-Other", "kept");
            if let Some(body) = body {
                request = request.body(body);
            }
            let response = client.fetch(request).await.unwrap();
            let echo = Echo::parse(&response.body);
            let case = format!("{method} then {code}");
            assert_eq!(echo.method, arrives, "{case}");
            assert_eq!(echo.header("X-Other"), Some("kept"), "{case}");
            if keeps_body {
                assert_eq!(echo.body, "the body", "{case}");
                assert_eq!(echo.header("Content-Length"), Some("8"), "{case}");
                assert_eq!(echo.header("Content-Type"), Some("text/plain"), "{case}");
            } else {
                assert_eq!(echo.body, "", "{case}");
                assert_eq!(echo.header("Content-Length"), None, "{case}");
                if arrives == "GET" && method != "GET" {
                    assert_eq!(echo.header("Content-Type"), None, "{case}");
                }
            }
            assert_eq!(response.effective_url, target, "{case}");
        }
        server.stop();
    });
}

#[test]
fn head_stays_head_across_redirects() {
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        for code in [301, 302, 303, 307, 308] {
            let response = client
                .fetch(HttpRequest::new(redirect(&base, "/method", code)).method("HEAD"))
                .await
                .unwrap();
            assert_eq!(response.code, 200, "{code}");
            assert!(response.body.is_empty(), "{code}");
            assert_eq!(
                response.headers.get("Content-Length"),
                Some("4"),
                "{code}: the target saw HEAD"
            );
        }
        server.stop();
    });
}

#[test]
fn relative_locations_resolve_against_the_hop() {
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        let port = server.local_addrs()[0].port();
        let from = format!("{base}/where/a/b/redirect");
        for (location, want) in [
            ("next", "/where/a/b/next"),
            ("./next?x=1", "/where/a/b/next?x=1"),
            ("../up", "/where/a/up"),
            ("/where/abs", "/where/abs"),
            // A query-only reference keeps the path: back to this redirect.
            ("?url=%2Fwhere%2Fq", "/where/q"),
            ("next#fragment", "/where/a/b/next"),
        ] {
            let url = url_concat(&from, [("url", location)]);
            let response = client.fetch(url).await.unwrap();
            assert_eq!(response.text().unwrap(), want, "{location}");
            assert_eq!(
                response.effective_url,
                format!("{base}{want}"),
                "{location}"
            );
        }
        // Scheme-relative.
        let location = format!("//127.0.0.1:{port}/where/sr");
        let response = client.fetch(redirect(&base, &location, 302)).await.unwrap();
        assert_eq!(response.text().unwrap(), "/where/sr");
        server.stop();
    });
}

#[test]
fn redirect_to_an_unsupported_scheme_is_an_error() {
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        let err = client
            .fetch(redirect(&base, "ftp://127.0.0.1/file", 302))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Redirect, "{err:?}");
        assert_eq!(err.code(), 302);
        assert!(err.to_string().contains("ftp://"), "{err}");
        // The 3xx that could not be followed is the last response, whole.
        assert_eq!(err.response().unwrap().code, 302);
        assert_eq!(err.response().unwrap().text().unwrap(), "redirect 302");
        server.stop();
    });
}

#[test]
fn credentials_are_dropped_on_a_hop_to_another_origin() {
    run(async {
        let (server, base) = serve_app();
        let (other, other_base) = serve_app();
        let client = AsyncHttpClient::new();
        let elsewhere = format!("{other_base}/echo");
        type Case = (&'static str, fn(HttpRequest) -> HttpRequest, bool);
        let cases: [Case; 4] = [
            (
                "Authorization header",
                |r| r.header("Authorization", "secret"),
                false,
            ),
            ("auth options", |r| r.auth("me", "secret"), false),
            (
                "Cookie header",
                |r| r.header("Cookie", "session=secret"),
                false,
            ),
            ("credentials in the URL", |r| r, true),
        ];
        for (name, set, in_url) in cases {
            for code in [301, 302, 303, 307, 308] {
                let mut url = redirect(&base, &elsewhere, code);
                if in_url {
                    url = url.replacen("http://", "http://me:secret@", 1);
                }
                let request = set(HttpRequest::new(url).header("X-Other", "kept"));
                let response = client.fetch(request).await.unwrap();
                let echo = Echo::parse(&response.body);
                let case = format!("{name}, {code}");
                assert_eq!(echo.header("Authorization"), None, "{case}");
                assert_eq!(echo.header("Cookie"), None, "{case}");
                assert_eq!(echo.header("X-Other"), Some("kept"), "{case}");
                assert!(echo.header("User-Agent").is_some(), "{case}");
                assert_eq!(response.effective_url, elsewhere, "{case}");
            }
        }
        // Credentials in a Location for another origin are dropped too, as
        // Tornado 6.6 drops them.
        let location = elsewhere.replacen("http://", "http://them:theirs@", 1);
        let response = client
            .fetch(redirect(&base, &location, 302).replacen("http://", "http://me:secret@", 1))
            .await
            .unwrap();
        let echo = Echo::parse(&response.body);
        assert_eq!(echo.header("Authorization"), None);
        assert_eq!(response.effective_url, elsewhere);
        server.stop();
        other.stop();
    });
}

#[test]
fn credentials_are_kept_on_the_same_origin() {
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        type Case = (
            &'static str,
            fn(HttpRequest) -> HttpRequest,
            bool,
            &'static str,
        );
        let cases: [Case; 4] = [
            (
                "Authorization header",
                |r| r.header("Authorization", "secret"),
                false,
                "Authorization",
            ),
            (
                "auth options",
                |r| r.auth("me", "secret"),
                false,
                "Authorization",
            ),
            (
                "Cookie header",
                |r| r.header("Cookie", "session=secret"),
                false,
                "Cookie",
            ),
            ("credentials in the URL", |r| r, true, "Authorization"),
        ];
        for (name, set, in_url, header) in cases {
            for location in ["/echo".to_owned(), format!("{base}/echo")] {
                let mut url = redirect(&base, &location, 302);
                if in_url {
                    url = url.replacen("http://", "http://me:secret@", 1);
                }
                let response = client.fetch(set(HttpRequest::new(url))).await.unwrap();
                let echo = Echo::parse(&response.body);
                assert!(
                    echo.header(header).is_some(),
                    "{name}, to {location}: {:?}",
                    echo.headers
                );
            }
        }
        server.stop();
    });
}

#[test]
fn callbacks_see_only_the_final_response() {
    // Tornado's test_streaming_follow_redirects: the redirect's own head and
    // body do not reach the callbacks.
    let server = RawServer::start(|mut conn, _| {
        while let Some(request) = conn.read_request()? {
            if request.request_line().starts_with("GET /start ") {
                conn.write(
                    b"HTTP/1.1 302 Found\r\nLocation: /final\r\nContent-Length: 14\r\n\r\nredirect body!",
                )?;
            } else {
                conn.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nfinal body")?;
            }
        }
        Ok(())
    });
    let url = server.url("/start");
    let chunks = Arc::new(Mutex::new(Vec::new()));
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (c, l) = (chunks.clone(), lines.clone());
    let response = run(async move {
        AsyncHttpClient::new()
            .fetch(
                HttpRequest::new(url)
                    .streaming_callback(move |data| c.lock().unwrap().push(data))
                    .header_callback(move |line| l.lock().unwrap().push(line.to_owned())),
            )
            .await
            .unwrap()
    });
    assert!(response.body.is_empty());
    assert_eq!(response.effective_url, server.url("/final"));
    assert_eq!(chunks.lock().unwrap().concat(), b"final body");
    let lines = lines.lock().unwrap();
    assert_eq!(lines[0], "HTTP/1.1 200 OK\r\n", "{lines:?}");
    assert!(!lines.iter().any(|l| l.contains("302")), "{lines:?}");
    assert_eq!(server.accepted(), 1);
}

#[test]
fn body_producer_runs_again_for_307() {
    let server = RawServer::start(|mut conn, _| {
        while let Some(request) = conn.read_request()? {
            if request.request_line().contains(" /start ") {
                conn.write(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /final\r\nContent-Length: 0\r\n\r\n")?;
            } else {
                let mut answer = format!("{} ", request.method()).into_bytes();
                answer.extend_from_slice(&request.body);
                conn.write(&support::response_with("HTTP/1.1 200 OK", &[], &answer))?;
            }
        }
        Ok(())
    });
    let url = server.url("/start");
    let calls = Arc::new(Mutex::new(0));
    let counted = calls.clone();
    let response = run(async move {
        AsyncHttpClient::new()
            .fetch(
                HttpRequest::new(url)
                    .method("POST")
                    .body_producer(move |writer| {
                        *counted.lock().unwrap() += 1;
                        async move {
                            writer.write("produced ").await?;
                            writer.write("body").await
                        }
                    }),
            )
            .await
            .unwrap()
    });
    assert_eq!(response.text().unwrap(), "POST produced body");
    assert_eq!(*calls.lock().unwrap(), 2);
}

#[test]
fn default_max_redirects_is_five() {
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        let response = client.fetch(format!("{base}/countdown/5")).await.unwrap();
        assert_eq!(response.text().unwrap(), "Zero");
        let err = client
            .fetch(format!("{base}/countdown/6"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Redirect);
        assert_eq!(
            err.response().unwrap().effective_url,
            format!("{base}/countdown/1")
        );
        server.stop();
    });
}

#[test]
fn see_other_drops_a_body_producer() {
    // Tornado's test_see_other_redirect: the GET that follows a 303 has no
    // body, so the producer is not called again.
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        let calls = Arc::new(Mutex::new(0));
        let counted = calls.clone();
        let response = client
            .fetch(
                HttpRequest::new(redirect(&base, "/echo", 303))
                    .method("POST")
                    .body_producer(move |writer| {
                        *counted.lock().unwrap() += 1;
                        async move { writer.write("produced").await }
                    }),
            )
            .await
            .unwrap();
        let echo = Echo::parse(&response.body);
        assert_eq!(echo.method, "GET");
        assert_eq!(echo.body, "");
        assert_eq!(echo.header("Transfer-Encoding"), None);
        assert_eq!(*calls.lock().unwrap(), 1);
        server.stop();
    });
}

#[test]
fn a_redirect_body_is_drained_and_the_connection_reused() {
    let server = RawServer::start(|mut conn, _| {
        while let Some(request) = conn.read_request()? {
            if request.request_line().contains(" /start ") {
                let mut out =
                    b"HTTP/1.1 302 Found\r\nLocation: /final\r\nTransfer-Encoding: chunked\r\n\r\n"
                        .to_vec();
                for _ in 0..100 {
                    out.extend_from_slice(b"400\r\n");
                    out.extend_from_slice(&[b'r'; 1024]);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
                conn.write(&out)?;
            } else {
                conn.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal")?;
            }
        }
        Ok(())
    });
    let url = server.url("/start");
    let response = run(async move {
        let client = AsyncHttpClient::new();
        let response = client.fetch(url).await.unwrap();
        assert_eq!(client.idle_connections(), 1);
        response
    });
    assert_eq!(&response.body[..], b"final");
    assert_eq!(server.accepted(), 1);
}

#[test]
fn a_host_header_of_the_callers_own_goes_out_but_not_across_a_redirect() {
    // Tornado's test_host_header.
    run(async {
        let (server, base) = serve_app();
        let client = AsyncHttpClient::new();
        let response = client
            .fetch(HttpRequest::new(format!("{base}/host")).header("Host", "custom.example"))
            .await
            .unwrap();
        assert_eq!(response.text().unwrap(), "custom.example");
        let response = client
            .fetch(HttpRequest::new(redirect(&base, "/host", 302)).header("Host", "custom.example"))
            .await
            .unwrap();
        let port = server.local_addrs()[0].port();
        assert_eq!(response.text().unwrap(), format!("127.0.0.1:{port}"));
        server.stop();
    });
}

#[test]
fn the_redirect_past_the_limit_keeps_its_body_and_head() {
    // Past max_redirects the last 3xx is the final response (Tornado follows
    // only while max_redirects > 0): its body is kept and the header
    // callback sees its head.
    let server = RawServer::start(|mut conn, _| {
        while conn.read_request()?.is_some() {
            conn.write(
                b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 14\r\n\r\nredirect body!",
            )?;
        }
        Ok(())
    });
    let url = server.url("/start");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let l = lines.clone();
    let err = run(async move {
        AsyncHttpClient::new()
            .fetch(
                HttpRequest::new(url)
                    .max_redirects(1)
                    .header_callback(move |line| l.lock().unwrap().push(line.to_owned())),
            )
            .await
            .unwrap_err()
    });
    assert_eq!(err.kind(), ErrorKind::Redirect);
    let response = err.response().unwrap();
    assert_eq!(response.effective_url, server.url("/again"));
    assert_eq!(&response.body[..], b"redirect body!");
    let lines = lines.lock().unwrap();
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("HTTP/")).count(),
        1,
        "only the last head: {lines:?}"
    );
    assert_eq!(lines[0], "HTTP/1.1 302 Found\r\n");
}
