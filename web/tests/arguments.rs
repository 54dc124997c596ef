//! Arguments: `get_argument` and its `_or`, `_opt`, plural, query and body forms;
//! stripping and control characters; 400 for missing or undecodable arguments;
//! multipart files; cookies; a handler's own `decode_argument`.

use tornado_web::testing::{self, TestServer};
use tornado_web::{Application, Context, RequestHandler, url};

/// Answers with what the getters named by `?op=` return for argument `a`.
struct Getters;
impl RequestHandler for Getters {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        self.post(cx).await
    }
    async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
        let op = cx.get_query_argument_or("op", "one")?;
        let out = match op.as_str() {
            "one" => cx.get_argument("a")?,
            "or" => cx.get_argument_or("a", "fallback")?,
            "opt" => format!("{:?}", cx.get_argument_opt("a")?),
            "all" => format!("{:?}", cx.get_arguments("a")?),
            "raw" => format!("{:?}", cx.get_arguments_unstripped("a")?),
            "raw_one" => format!("{:?}", cx.get_argument_unstripped("a")?),
            "query" => cx.get_query_argument("a")?,
            "query_or" => cx.get_query_argument_or("a", "fallback")?,
            "query_opt" => format!("{:?}", cx.get_query_argument_opt("a")?),
            "query_all" => format!("{:?}", cx.get_query_arguments("a")?),
            "body" => cx.get_body_argument("a")?,
            "body_or" => cx.get_body_argument_or("a", "fallback")?,
            "body_opt" => format!("{:?}", cx.get_body_argument_opt("a")?),
            "body_all" => format!("{:?}", cx.get_body_arguments("a")?),
            other => panic!("unknown op {other}"),
        };
        cx.write(out);
        Ok(())
    }
}

/// Lists the uploaded files: `field:name:type:len`.
struct Files;
impl RequestHandler for Files {
    async fn post(&mut self, cx: &mut Context) -> tornado_web::Result {
        let mut lines: Vec<String> = Vec::new();
        for (field, files) in cx.files() {
            for f in files {
                lines.push(format!(
                    "{field}:{}:{}:{}",
                    f.filename,
                    f.content_type,
                    String::from_utf8_lossy(&f.body)
                ));
            }
        }
        lines.sort();
        lines.push(format!("title={}", cx.get_body_argument("title")?));
        cx.write(lines.join("\n"));
        Ok(())
    }
}

struct Cookies;
impl RequestHandler for Cookies {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        let a = cx.get_cookie("a").unwrap_or("-").to_owned();
        let b = cx.get_cookie("b").unwrap_or("-").to_owned();
        let n = cx.cookies().len();
        cx.write(format!("a={a} b={b} n={n}"));
        Ok(())
    }
}

/// Decodes arguments as Latin-1 (Tornado's `decode_argument` override).
struct Latin1;
impl RequestHandler for Latin1 {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        let a = cx.get_argument("a")?;
        cx.write(format!("{a}|{}", cx.path_arg(0).unwrap_or("")));
        Ok(())
    }
    fn decode_argument(value: &[u8], _name: Option<&str>) -> tornado_web::Result<String> {
        Ok(value.iter().map(|&b| b as char).collect())
    }
}

fn app() -> Application {
    Application::new(vec![
        url("/get", || Getters),
        url("/files", || Files),
        url("/cookies", || Cookies),
        url("/latin1/(.*)", || Latin1),
    ])
}

async fn get(t: &TestServer, query: &str) -> (u16, String) {
    let r = t.fetch(&format!("/get?{query}")).await;
    (r.code, r.text().unwrap().to_owned())
}

async fn post(t: &TestServer, query: &str, body: &str) -> (u16, String) {
    let r = t
        .fetch_request(
            t.request(&format!("/get?{query}"))
                .method("POST")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body.to_owned()),
        )
        .await;
    (r.code, r.text().unwrap().to_owned())
}

#[test]
fn get_argument_and_its_variants() {
    testing::run(app, |t| async move {
        let cases = [
            ("op=one&a=x", "x"),
            // The last value wins.
            ("op=one&a=x&a=y", "y"),
            ("op=or", "fallback"),
            ("op=or&a=given", "given"),
            ("op=opt", "None"),
            ("op=opt&a=v", "Some(\"v\")"),
            ("op=all", "[]"),
            ("op=all&a=1&a=2&a=3", "[\"1\", \"2\", \"3\"]"),
            // `+` is a space in a query string; an empty value is still a value.
            ("op=one&a=b+c%2Bd", "b c+d"),
            ("op=opt&a=", "Some(\"\")"),
            ("op=one&a=%E2%98%83", "\u{2603}"),
        ];
        for (query, want) in cases {
            assert_eq!(get(&t, query).await, (200, want.to_owned()), "{query}");
        }
    });
}

#[test]
fn strip_and_control_characters() {
    testing::run(app, |t| async move {
        let cases = [
            // Stripped by default...
            ("op=one&a=%20%20padded%09", "padded"),
            ("op=all&a=%20x%20&a=y%20", "[\"x\", \"y\"]"),
            // ...but not when asked.
            ("op=raw&a=%20x%20", "[\" x \"]"),
            // Control characters become spaces (then strip removes those at the ends).
            ("op=one&a=a%00b%01c%1Fd", "a b c d"),
            ("op=raw&a=%07bell%7F", "[\" bell\\u{7f}\"]"),
            ("op=one&a=%00x%00", "x"),
            // Newlines and tabs inside are kept.
            ("op=raw&a=l1%0Al2%09t", "[\"l1\\nl2\\tt\"]"),
            ("op=raw_one&a=x&a=%20y%0A", "\" y\\n\""),
        ];
        for (query, want) in cases {
            assert_eq!(get(&t, query).await, (200, want.to_owned()), "{query}");
        }
    });
}

#[test]
fn missing_argument_is_a_400_naming_it() {
    testing::run(app, |t| async move {
        for op in ["one", "raw_one", "query", "body"] {
            let r = t.fetch(&format!("/get?op={op}")).await;
            assert_eq!(r.code, 400, "{op}");
            assert_eq!(r.reason, "Missing argument a", "{op}");
            assert_eq!(
                r.text().unwrap(),
                "<html><title>400: Missing argument a</title>\
                 <body>400: Missing argument a</body></html>"
            );
        }
    });
}

#[test]
fn invalid_utf8_argument_is_a_400() {
    testing::run(app, |t| async move {
        assert_eq!(get(&t, "op=one&a=%FF%FE").await.0, 400);
        assert_eq!(get(&t, "op=all&a=ok&a=%C3%28").await.0, 400);
        assert_eq!(post(&t, "op=body", "a=%FF").await.0, 400);
        // An invalid value of another argument does not matter.
        assert_eq!(
            get(&t, "op=one&a=fine&b=%FF").await,
            (200, "fine".to_owned())
        );
        // A handler's own decode_argument decides.
        let r = t.fetch("/latin1/%E9t%E9?a=caf%E9").await;
        assert_eq!(r.code, 200);
        assert_eq!(r.text().unwrap(), "café|été");
    });
}

#[test]
fn query_and_body_arguments_are_kept_apart() {
    testing::run(app, |t| async move {
        let q = "a=fromquery";
        let b = "a=frombody";
        let cases = [
            ("one", "frombody"),
            ("all", "[\"fromquery\", \"frombody\"]"),
            ("query", "fromquery"),
            ("query_all", "[\"fromquery\"]"),
            ("body", "frombody"),
            ("body_all", "[\"frombody\"]"),
        ];
        for (op, want) in cases {
            assert_eq!(
                post(&t, &format!("op={op}&{q}"), b).await,
                (200, want.to_owned()),
                "{op}"
            );
        }
        // Only in the query: the body getters do not see it, and the other way round.
        assert_eq!(post(&t, "op=body_or&a=q", "").await.1, "fallback");
        assert_eq!(post(&t, "op=body_opt&a=q", "").await.1, "None");
        assert_eq!(post(&t, "op=query_or", "a=b").await.1, "fallback");
        assert_eq!(post(&t, "op=query_opt", "a=b").await.1, "None");
        assert_eq!(post(&t, "op=body", "a=+spaced+").await.1, "spaced");
    });
}

#[test]
fn multipart_files_and_fields() {
    testing::run(app, |t| async move {
        let body = "--BOUNDARY\r\n\
            Content-Disposition: form-data; name=\"title\"\r\n\r\n\
            my files\r\n\
            --BOUNDARY\r\n\
            Content-Disposition: form-data; name=\"upload\"; filename=\"a.txt\"\r\n\
            Content-Type: text/plain\r\n\r\n\
            hello\r\n\
            --BOUNDARY\r\n\
            Content-Disposition: form-data; name=\"upload\"; filename=\"b.bin\"\r\n\r\n\
            \x01\x02\r\n\
            --BOUNDARY--\r\n";
        let r = t
            .fetch_request(
                t.request("/files")
                    .method("POST")
                    .header("Content-Type", "multipart/form-data; boundary=BOUNDARY")
                    .body(body),
            )
            .await;
        assert_eq!(r.code, 200, "{:?}", r.text());
        assert_eq!(
            r.text().unwrap(),
            "upload:a.txt:text/plain:hello\n\
             upload:b.bin:application/unknown:\x01\x02\n\
             title=my files"
        );
    });
}

#[test]
fn cookies_from_the_request() {
    testing::run(app, |t| async move {
        let r = t
            .fetch_request(
                t.request("/cookies")
                    .header("Cookie", "a=1; b=\"two words\""),
            )
            .await;
        assert_eq!(r.text().unwrap(), "a=1 b=two words n=2");
        let r = t.fetch("/cookies").await;
        assert_eq!(r.text().unwrap(), "a=- b=- n=0");
    });
}
