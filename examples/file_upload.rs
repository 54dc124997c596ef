//! Tornado's file upload demo (`demos/file_upload`): a multipart form upload, and a
//! streaming `PUT` whose body goes to disk piece by piece as it arrives.
//!
//! `cargo run --release --example file_upload -- [--port 8888] [--address 127.0.0.1]
//! [--dir DIR] [--max-size BYTES]`, then open http://127.0.0.1:8888/ or:
//!
//! ```text
//! curl -F file=@photo.jpg http://127.0.0.1:8888/post        # multipart, buffered
//! curl -T big.iso http://127.0.0.1:8888/upload/big.iso       # streamed to DIR/big.iso
//! ```
//!
//! - `GET /`: a page with a multipart form.
//! - `POST /post`: a multipart (or urlencoded) form; answers, for each file, its
//!   field, name, type and size. The body is buffered whole, as in Tornado.
//! - `PUT /upload/NAME`: the body is written to `DIR/NAME` as it arrives (Tornado's
//!   `@stream_request_body`): no more than one piece of it is ever in memory. It is
//!   written to a hidden `.upload-*.part` file of its own (so two uploads of one name
//!   at once do not write into each other) and renamed when complete; a client that
//!   leaves halfway leaves nothing behind. Answers `NAME: N bytes`.
//!
//! Limits, as in Tornado's demo: the server keeps the default `max_body_size`
//! (100 MiB) for every request, so the buffered `POST /post` never holds more than that
//! in memory; the streaming `PUT /upload/NAME` sets its own limit to `--max-size` bytes
//! (1 GiB by default) in `prepare`, before any of its body is read
//! ([`Context::set_max_body_size`], Tornado's `request.connection.set_max_body_size`,
//! which the demo calls with `MAX_STREAMED_SIZE`). A body over its limit is a 413.
//! Files are written on the loop thread, which is fine for a local disk's page cache;
//! a server writing to slow storage would hand the writes to a thread. SIGINT or
//! SIGTERM stops it gracefully.

#[path = "common/port_address.rs"]
mod port_address;

use std::cell::Cell;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use bytes::Bytes;
use tornado::web::{Application, Context, HttpError, RequestHandler, url, xhtml_escape};

const INDEX_HTML: &str = r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Tornado file upload</title></head>
<body>
<h1>Upload files</h1>
<form enctype="multipart/form-data" action="/post" method="post">
<p><input type="file" name="file" multiple></p>
<p><input type="submit" value="Upload"></p>
</form>
<p>Or stream one to disk: <code>curl -T FILE http://HOST/upload/NAME</code></p>
</body></html>
"#;

/// `GET /`: the form.
struct Index;
impl RequestHandler for Index {
    async fn get(&mut self, cx: &mut Context) -> tornado::web::Result {
        cx.write(INDEX_HTML);
        Ok(())
    }
}

/// `POST /post`: lists the files of a form.
struct PostForm;
impl RequestHandler for PostForm {
    async fn post(&mut self, cx: &mut Context) -> tornado::web::Result {
        let mut lines = Vec::new();
        for (field, files) in cx.files() {
            for f in files {
                lines.push(format!(
                    "{field}: {} ({}), {} bytes",
                    f.filename,
                    f.content_type,
                    f.body.len()
                ));
            }
        }
        lines.sort();
        if lines.is_empty() {
            return Err(HttpError::with_log(400, "the form carried no file").into());
        }
        cx.set_header("Content-Type", "text/plain; charset=UTF-8")?;
        cx.write(lines.join("\n") + "\n");
        Ok(())
    }
}

/// Whether `name` is a plain file name: no separators, no leading dot, printable.
fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control)
}

/// `PUT /upload/NAME`: the body, streamed into `DIR/NAME`.
struct StreamUpload {
    dir: Rc<PathBuf>,
    /// This request's body limit (`--max-size`), set in `prepare`.
    max_size: u64,
    /// The file being written (`.upload-PID-N.part`, this upload's own: no upload's
    /// NAME starts with a dot) and where it goes when complete.
    open: Option<(File, PathBuf, PathBuf)>,
    received: u64,
}

impl StreamUpload {
    fn discard(&mut self) {
        if let Some((file, part, _)) = self.open.take() {
            drop(file);
            let _ = std::fs::remove_file(part);
        }
    }
}

impl RequestHandler for StreamUpload {
    const STREAM_REQUEST_BODY: bool = true;
    const SUPPORTED_METHODS: &'static [tornado::web::http::Method] =
        &[tornado::web::http::Method::PUT];

    /// Runs at the head, before any of the body: sets the body limit, checks the
    /// name, opens the file.
    async fn prepare(&mut self, cx: &mut Context) -> tornado::web::Result {
        // The server's limit is the default; this request's body may be larger.
        cx.set_max_body_size(self.max_size)?;
        let name = cx.path_arg(0).unwrap_or_default().to_owned();
        if !safe_name(&name) {
            return Err(HttpError::with_log(400, format!("bad file name {name:?}")).into());
        }
        thread_local!(static UPLOADS: Cell<u64> = const { Cell::new(0) });
        let n = UPLOADS.with(|c| c.replace(c.get() + 1));
        let target = self.dir.join(&name);
        let part = self
            .dir
            .join(format!(".upload-{}-{n}.part", std::process::id()));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&part)
            .map_err(|e| {
                tornado::web::Error::msg(format!("cannot create {}: {e}", part.display()))
            })?;
        self.open = Some((file, part, target));
        Ok(())
    }

    async fn data_received(&mut self, _cx: &mut Context, chunk: Bytes) -> tornado::web::Result {
        let Some((file, part, _)) = self.open.as_mut() else {
            return Ok(());
        };
        if let Err(e) = file.write_all(&chunk) {
            let msg = format!("cannot write {}: {e}", part.display());
            self.discard();
            return Err(tornado::web::Error::msg(msg));
        }
        self.received += chunk.len() as u64;
        Ok(())
    }

    async fn put(&mut self, cx: &mut Context) -> tornado::web::Result {
        let Some((file, part, target)) = self.open.take() else {
            return Err(HttpError::new(500).into());
        };
        let done = file
            .sync_all()
            .and_then(|()| std::fs::rename(&part, &target));
        if let Err(e) = done {
            let _ = std::fs::remove_file(&part);
            return Err(tornado::web::Error::msg(format!(
                "cannot store {}: {e}",
                target.display()
            )));
        }
        let name = target.file_name().unwrap_or_default().to_string_lossy();
        log::info!("stored {} ({} bytes)", target.display(), self.received);
        cx.set_header("Content-Type", "text/plain; charset=UTF-8")?;
        cx.write(format!(
            "{}: {} bytes\n",
            xhtml_escape(&name),
            self.received
        ));
        Ok(())
    }

    fn on_connection_close(&mut self) {
        self.discard();
    }
}

impl Drop for StreamUpload {
    /// An upload that did not complete (an error, a body over the limit, a client
    /// gone) leaves no `.part` file behind.
    fn drop(&mut self) {
        self.discard();
    }
}

fn make_app(dir: Rc<PathBuf>, max_size: u64) -> Application {
    Application::new(vec![
        url("/", || Index),
        url("/post", || PostForm),
        url(r"/upload/([^/]+)", move || StreamUpload {
            dir: dir.clone(),
            max_size,
            open: None,
            received: 0,
        }),
    ])
}

struct Args {
    port: u16,
    address: String,
    dir: PathBuf,
    max_size: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut dir = std::env::temp_dir().join("tornado-uploads");
    let mut max_size = 1 << 30;
    let usage = "usage: file_upload [--port N] [--address A] [--dir DIR] [--max-size BYTES]";
    let at = port_address::parse_with(usage, |flag, flags| {
        match flag {
            "--dir" => dir = PathBuf::from(flags.value("--dir")?),
            "--max-size" => max_size = flags.parsed("--max-size")?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(Args {
        port: at.port,
        address: at.address,
        dir,
        max_size,
    })
}

fn ensure_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = match parse_args().and_then(|a| ensure_dir(&a.dir).map(|()| a)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    log::info!("PUT uploads go to {}", args.dir.display());
    let app = make_app(Rc::new(args.dir), args.max_size);
    match app.run(args.port, Some(&args.address)) {
        Ok(signal) => log::info!("stopped by {signal}"),
        Err(e) => {
            eprintln!("file_upload: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_are_accepted() {
        for ok in ["a.txt", "photo 1.jpg", "\u{e9}t\u{e9}.png", "x"] {
            assert!(safe_name(ok), "{ok}");
        }
        for bad in [
            "",
            ".hidden",
            "..",
            "a/b",
            "a\\b",
            "/etc/passwd",
            "a\nb",
            "a\0b",
        ] {
            assert!(!safe_name(bad), "{bad:?}");
        }
        assert!(!safe_name(&"x".repeat(256)));
    }
}
