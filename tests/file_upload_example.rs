//! The `file_upload` example as a user runs it: a multipart form upload, a streaming
//! `PUT` that lands on disk intact, the limits and bad names refused, nothing left
//! behind by an upload that did not complete.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

/// A directory of its own for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("tornado-upload-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    fn files(&self) -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(&self.0)
            .expect("read dir")
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// Sends the head, then `body` in pieces, and reads the whole response.
fn exchange(addr: &str, head: &str, body: &[u8]) -> String {
    let mut s = connect(addr);
    s.write_all(head.as_bytes()).unwrap();
    for piece in body.chunks(64 * 1024) {
        s.write_all(piece).unwrap();
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Waits until `cond` holds (the server works on after the client's last byte).
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("never happened: {what}");
}

/// The example on a free port of 127.0.0.1, storing into `dir`, with `more` flags.
fn serve_uploads(dir: &TempDir, more: &[&str]) -> common::Served {
    let dir_arg = dir.0.to_string_lossy().into_owned();
    let mut args = vec!["--port", "0", "--address", "127.0.0.1", "--dir", &dir_arg];
    args.extend_from_slice(more);
    common::serve_example("file_upload", &args)
}

/// Bytes that are not all alike, so a piece out of place would show.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn uploads_by_form_and_by_streaming_put() {
    let dir = TempDir::new("ok");
    let mut server = serve_uploads(&dir, &["--max-size", "20000000"]);
    let addr = server.addr.clone();

    let page = exchange(
        &addr,
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"",
    );
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("multipart/form-data"), "{page}");

    // Multipart: two files, one field.
    let body = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\
                Content-Type: text/plain\r\n\r\nhello\r\n\
                --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.bin\"\r\n\
                Content-Type: application/octet-stream\r\n\r\n0123456789\r\n\
                --XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nnot a file\r\n\
                --XyZ--\r\n";
    let head = format!(
        "POST /post HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let answer = exchange(&addr, &head, body.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(
        answer.ends_with(
            "\r\n\r\nfile: a.txt (text/plain), 5 bytes\nfile: b.bin (application/octet-stream), 10 bytes\n"
        ),
        "{answer}"
    );
    // A form with no file: 400.
    let answer = exchange(
        &addr,
        "POST /post HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\n",
        b"a=1",
    );
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");

    // A streaming PUT of 12 MiB, with Content-Length and chunked.
    let data = pattern(12 << 20);
    let head = format!(
        "PUT /upload/big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        data.len()
    );
    let answer = exchange(&addr, &head, &data);
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(
        answer.ends_with("\r\n\r\nbig.bin: 12582912 bytes\n"),
        "{answer}"
    );
    assert!(
        std::fs::read(dir.0.join("big.bin")).unwrap() == data,
        "the file differs"
    );

    let mut chunked = Vec::new();
    for piece in data[..1_000_000].chunks(100_000) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let answer = exchange(
        &addr,
        "PUT /upload/chunked.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Transfer-Encoding: chunked\r\n\r\n",
        &chunked,
    );
    assert!(answer.contains("chunked.bin: 1000000 bytes"), "{answer}");
    assert!(std::fs::read(dir.0.join("chunked.bin")).unwrap() == data[..1_000_000]);

    // Names that would leave the directory, and other methods.
    for bad in ["..", ".hidden", "a%2Fb", "%2E%2E"] {
        let answer = exchange(
            &addr,
            &format!(
                "PUT /upload/{bad} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 1\r\n\r\n"
            ),
            b"x",
        );
        assert!(answer.starts_with("HTTP/1.1 400 "), "{bad}: {answer}");
    }
    let answer = exchange(
        &addr,
        "GET /upload/big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"",
    );
    assert!(answer.starts_with("HTTP/1.1 405 "), "{answer}");

    // Over --max-size: 413, and no file.
    let answer = exchange(
        &addr,
        "PUT /upload/huge.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 30000000\r\n\r\n",
        b"",
    );
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");

    // A client that leaves halfway leaves nothing behind.
    {
        let mut s = connect(&addr);
        s.write_all(b"PUT /upload/half.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
            .unwrap();
        s.write_all(&data[..300_000]).unwrap();
        eventually("the upload to start", || {
            dir.files().iter().any(|f| f.ends_with(".part"))
        });
    }
    eventually("the unfinished upload to be removed", || {
        dir.files() == ["big.bin", "chunked.bin"]
    });

    let status = server.terminate();
    assert!(status.success(), "{status}");
}

/// Reads a whole response from a connection whose request is already sent.
fn response(mut s: TcpStream) -> String {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn puts_of_one_name_at_once_do_not_mix() {
    let dir = TempDir::new("same");
    let mut server = serve_uploads(&dir, &[]);
    let addr = server.addr.clone();
    let head = |name: &str, len: usize| {
        format!(
            "PUT /upload/{name} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {len}\r\n\r\n"
        )
    };
    let n = 100_000;
    let count_parts = || dir.files().iter().filter(|f| f.ends_with(".part")).count();

    // `a` starts, `b` (the same name) starts, `a` ends, then `b` ends: each is
    // answered for what it sent, and the file is one of them whole.
    let mut a = connect(&addr);
    a.write_all(head("same.bin", n).as_bytes()).unwrap();
    a.write_all(&vec![b'a'; n / 2]).unwrap();
    eventually("the first upload to start", || count_parts() == 1);
    let mut b = connect(&addr);
    b.write_all(head("same.bin", n).as_bytes()).unwrap();
    b.write_all(&vec![b'b'; n / 4]).unwrap();
    eventually("the second upload to start, in a file of its own", || {
        count_parts() == 2
    });
    a.write_all(&vec![b'a'; n - n / 2]).unwrap();
    let answer = response(a);
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert_eq!(
        std::fs::read(dir.0.join("same.bin")).unwrap(),
        vec![b'a'; n]
    );
    b.write_all(&vec![b'b'; n - n / 4]).unwrap();
    let answer = response(b);
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert_eq!(
        std::fs::read(dir.0.join("same.bin")).unwrap(),
        vec![b'b'; n]
    );

    // The longest name taken is stored (its unfinished file's name is no longer).
    let long = "x".repeat(255);
    let answer = exchange(&addr, &head(&long, 1), b"x");
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert_eq!(dir.files(), ["same.bin", long.as_str()]);

    let status = server.terminate();
    assert!(status.success(), "{status}");
}

#[test]
fn the_form_keeps_the_default_limit_and_the_put_sets_its_own() {
    let dir = TempDir::new("limits");
    // A `--max-size` above the server's default limit (100 MiB).
    let mut server = serve_uploads(&dir, &["--max-size", "200000000"]);
    let addr = server.addr.clone();
    let head = |method_path: &str, len: u64| {
        format!(
            "{method_path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Content-Type: application/octet-stream\r\n\
             Expect: 100-continue\r\nContent-Length: {len}\r\n\r\n"
        )
    };
    // The buffered form is held to the default: refused from its head, no 100.
    let answer = exchange(&addr, &head("POST /post", 150_000_000), b"");
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    // The streaming PUT raised its limit: the client is asked for its body.
    let mut s = connect(&addr);
    s.write_all(head("PUT /upload/big.bin", 150_000_000).as_bytes())
        .unwrap();
    let mut first = [0u8; 25];
    s.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 100 Continue\r\n\r\n");
    drop(s);
    // ... but not past `--max-size`.
    let answer = exchange(&addr, &head("PUT /upload/huge.bin", 200_000_001), b"");
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    eventually("the unfinished uploads to be removed", || {
        dir.files().is_empty()
    });

    let status = server.terminate();
    assert!(status.success(), "{status}");
}
