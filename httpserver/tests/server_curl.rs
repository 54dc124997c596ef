//! The server against a real client: the `curl` binary, run in a thread while the
//! server's loop runs. Skipped, with a message, where curl is not installed.

mod common;

use std::process::{Command, Output};

use tornado_httpserver::HttpServerSettings;

fn curl_available() -> bool {
    match Command::new("curl").arg("--version").output() {
        Ok(o) if o.status.success() => true,
        _ => {
            eprintln!("SKIPPED: the curl binary is not installed; server_curl tests did nothing");
            false
        }
    }
}

fn curl(args: &[String]) -> Output {
    let mut cmd = Command::new("curl");
    cmd.args([
        "--silent",
        "--show-error",
        "--max-time",
        "10",
        "--noproxy",
        "*",
    ]);
    cmd.args(args);
    cmd.output().expect("run curl")
}

fn ok_stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn curl_get_post_keep_alive_and_expect_continue() {
    if !curl_available() {
        return;
    }
    common::serve(common::echo, HttpServerSettings::default(), |addr| {
        let base = format!("http://{addr}");

        let out = ok_stdout(&curl(&[format!("{base}/hello?name=curl&x=%20y")]));
        assert!(out.contains("path=/hello\n"), "{out}");
        assert!(out.contains("arg:name=curl\n"), "{out}");
        assert!(out.contains("arg:x= y\n"), "{out}");

        // Two URLs in one run share one connection.
        let o = curl(&["-v".into(), format!("{base}/a"), format!("{base}/b")]);
        let out = ok_stdout(&o);
        assert!(
            out.contains("path=/a\n") && out.contains("path=/b\n"),
            "{out}"
        );
        let log = String::from_utf8_lossy(&o.stderr);
        assert!(
            log.to_ascii_lowercase()
                .contains("re-using existing connection")
                || log.to_ascii_lowercase().contains("reusing existing"),
            "curl did not reuse the connection:\n{log}"
        );

        // A urlencoded form.
        let out = ok_stdout(&curl(&[
            "--data".into(),
            "a=1&b=two".into(),
            format!("{base}/form"),
        ]));
        assert!(out.contains("method=POST\n"), "{out}");
        assert!(out.contains("arg:a=1\narg:b=two\n"), "{out}");

        // Multipart with a file.
        let out = ok_stdout(&curl(&[
            "-F".into(),
            "field=value".into(),
            "-F".into(),
            "upload=@-;filename=a.txt;type=text/plain".into(),
            format!("{base}/upload"),
        ]));
        assert!(out.contains("arg:field=value\n"), "{out}");
        assert!(out.contains("file:upload=a.txt:text/plain:"), "{out}");

        // A large body with Expect: 100-continue, chunked upload, and HTTP/1.0.
        let dir = std::env::temp_dir().join(format!("tornado-curl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big");
        std::fs::write(&big, vec![b'q'; 2 * 1024 * 1024]).unwrap();
        let o = curl(&[
            "-v".into(),
            "-H".into(),
            "Expect: 100-continue".into(),
            "--data-binary".into(),
            format!("@{}", big.display()),
            format!("{base}/big"),
        ]);
        let out = ok_stdout(&o);
        assert!(
            out.contains("body_len=2097152\n"),
            "{}",
            &out[..200.min(out.len())]
        );
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("100 Continue"),
            "no interim 100 seen"
        );
        let out = ok_stdout(&curl(&[
            "-H".into(),
            "Transfer-Encoding: chunked".into(),
            "--data-binary".into(),
            format!("@{}", big.display()),
            format!("{base}/chunked"),
        ]));
        assert!(out.contains("body_len=2097152\n"));
        let _ = std::fs::remove_dir_all(&dir);

        let o = curl(&["--http1.0".into(), "-i".into(), format!("{base}/old")]);
        let out = ok_stdout(&o);
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
        assert!(out.contains("version=HTTP/1.0\n"), "{out}");

        // HEAD.
        let o = curl(&["-I".into(), format!("{base}/head")]);
        let out = ok_stdout(&o);
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
        assert!(out.ends_with("\r\n\r\n"), "no body after a HEAD: {out}");
    });
}
