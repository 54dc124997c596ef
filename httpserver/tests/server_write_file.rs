//! `ResponseWriter::write_file`: a body sent from a file with `sendfile`, framed by
//! its `Content-Length` and followed by the next keep-alive response; refused (nothing
//! written) for a chunked body, so the handler writes the bytes instead; more than
//! the declared length is an error; a file shorter than its region closes the
//! connection.

mod common;

use std::fs::File;
use std::path::PathBuf;
use std::rc::Rc;

use common::{Client, serve};
use http::StatusCode;
use tornado_httpserver::httputil::{HttpHeaders, HttpServerRequest};
use tornado_httpserver::{
    HttpMessageDelegate, HttpServerConnectionDelegate, HttpServerSettings, ResponseWriter,
};

/// Serves bytes of one file by path:
/// - `/region`: bytes 10..1_000_010 with their `Content-Length`, from the file;
/// - `/chunked`: the same without a length, between `[` and `]`: the writer refuses
///   the file, and the handler writes the bytes instead;
/// - `/too-much`: declares 5 bytes and offers 6 from the file;
/// - `/short`: declares more than the file holds past its offset.
struct Files {
    path: PathBuf,
}

struct FileRequest {
    path: PathBuf,
}

impl HttpServerConnectionDelegate for Files {
    type Message = FileRequest;

    fn start_request(self: Rc<Self>, _request: &HttpServerRequest) -> FileRequest {
        FileRequest {
            path: self.path.clone(),
        }
    }
}

const OFFSET: u64 = 10;
const LEN: u64 = 1_000_000;

impl HttpMessageDelegate for FileRequest {
    async fn finish(self, request: HttpServerRequest, writer: ResponseWriter) {
        let file = Rc::new(File::open(&self.path).unwrap());
        let mut headers = HttpHeaders::new();
        match request.path() {
            "/region" => {
                headers.set("Content-Length", &LEN.to_string());
                writer.write_headers(StatusCode::OK, &headers).unwrap();
                assert!(writer.write_file(file, OFFSET, LEN).unwrap());
                writer.flush().await.unwrap();
                writer.finish().unwrap();
            }
            "/chunked" => {
                writer.write_headers(StatusCode::OK, &headers).unwrap();
                writer.write(b"[").unwrap();
                let sent = writer.write_file(file, OFFSET, LEN).unwrap();
                assert!(!sent, "a chunked body cannot come from a file");
                let data = std::fs::read(&self.path).unwrap();
                writer
                    .write(&data[OFFSET as usize..(OFFSET + LEN) as usize])
                    .unwrap();
                writer.write(b"]").unwrap();
                writer.finish().unwrap();
            }
            "/too-much" => {
                headers.set("Content-Length", "5");
                writer.write_headers(StatusCode::OK, &headers).unwrap();
                let e = writer.write_file(file.clone(), 0, 6).unwrap_err();
                assert!(
                    e.to_string().contains("more data than Content-Length"),
                    "{e}"
                );
                writer.write_file(file, 0, 5).unwrap();
                writer.finish().unwrap();
            }
            "/short" => {
                let size = std::fs::metadata(&self.path).unwrap().len();
                headers.set("Content-Length", "100");
                writer.write_headers(StatusCode::OK, &headers).unwrap();
                assert!(writer.write_file(file, size - 40, 100).unwrap());
                assert!(writer.flush().await.is_err(), "the file ended early");
            }
            _ => unreachable!(),
        }
    }
}

struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A file for one test (`tag`: tests run side by side).
fn file(tag: &str) -> (TempFile, Vec<u8>) {
    let path = std::env::temp_dir().join(format!(
        "httpserver-write-file-{}-{tag}",
        std::process::id()
    ));
    let data: Vec<u8> = (0..LEN as usize + 100).map(|i| (i % 253) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    (TempFile(path), data)
}

#[test]
fn a_body_from_a_file_then_the_next_response() {
    let (f, data) = file("region");
    let path = f.0.clone();
    serve(Files { path }, HttpServerSettings::default(), move |addr| {
        let mut c = Client::connect(addr);
        c.send(b"GET /region HTTP/1.1\r\nHost: x\r\n\r\nGET /too-much HTTP/1.1\r\nHost: x\r\n\r\n");
        let r = c.read_response();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Content-Length"), Some("1000000"));
        assert!(!r.chunked);
        assert!(r.body[..] == data[OFFSET as usize..(OFFSET + LEN) as usize]);
        let r = c.read_response();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, data[..5]);
    });
}

#[test]
fn a_chunked_body_is_written_instead() {
    let (f, data) = file("chunked");
    let path = f.0.clone();
    serve(Files { path }, HttpServerSettings::default(), move |addr| {
        let mut c = Client::connect(addr);
        c.send(b"GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n");
        let r = c.read_response();
        assert!(r.chunked);
        assert_eq!(r.body.len(), LEN as usize + 2);
        assert_eq!(r.body[0], b'[');
        assert!(r.body[1..=LEN as usize] == data[OFFSET as usize..(OFFSET + LEN) as usize]);
        assert_eq!(r.body[LEN as usize + 1], b']');
    });
}

#[test]
fn a_file_shorter_than_its_region_closes_the_connection() {
    let (f, data) = file("short");
    let path = f.0.clone();
    serve(Files { path }, HttpServerSettings::default(), move |addr| {
        let mut c = Client::connect(addr);
        c.send(b"GET /short HTTP/1.1\r\nHost: x\r\n\r\n");
        let head = c.read_head();
        assert_eq!(head.header("Content-Length"), Some("100"));
        let rest = c.read_to_close();
        assert_eq!(rest, data[data.len() - 40..]);
    });
}
