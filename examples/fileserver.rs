//! A static file server: serves a directory with `StaticFileHandler` (ETags, 304s,
//! ranges, `index.html` for directories) and lists a directory that has no
//! `index.html`. The server of the file-serving benchmark (`benches/fileserver.py`).
//!
//! `cargo run --release --example fileserver -- --root DIR [--port 8888] [--address 127.0.0.1] [--no-listing]`
//!
//! SIGINT or SIGTERM stops it gracefully. `RUST_LOG=info` adds the access log.

#[path = "common/port_address.rs"]
mod port_address;

use std::path::{Path, PathBuf};

use tornado::web::{
    Application, Context, DefaultPolicy, StaticFile, StaticFileHandler, StaticFiles, StaticPolicy,
    url, xhtml_escape,
};

/// The default checks, and a listing for a directory without `index.html`.
struct Listing;

impl StaticPolicy for Listing {
    fn validate_absolute_path(
        &self,
        cx: &mut Context,
        files: &StaticFiles,
        absolute: &Path,
    ) -> tornado::web::Result<Option<StaticFile>> {
        match DefaultPolicy.validate_absolute_path(cx, files, absolute) {
            // The default checks let the directory through (inside the root, asked for
            // with its slash) and found no index.html in it.
            Err(e)
                if e.status().as_u16() == 404
                    && absolute.is_dir()
                    && cx.request().path().ends_with('/') =>
            {
                list(cx, absolute)?;
                Ok(None)
            }
            other => other,
        }
    }
}

/// Writes an HTML list of the directory's entries, directories first.
fn list(cx: &mut Context, dir: &Path) -> tornado::web::Result {
    let mut entries: Vec<(bool, String)> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| {
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            (!is_dir, e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    entries.sort();
    let title = xhtml_escape(cx.request().path());
    let mut page = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body><h1>{title}</h1>\n<ul>\n"
    );
    if cx.request().path() != "/" {
        page.push_str("<li><a href=\"../\">../</a></li>\n");
    }
    for (is_file, name) in &entries {
        let slash = if *is_file { "" } else { "/" };
        page.push_str(&format!(
            "<li><a href=\"{}{slash}\">{}{slash}</a></li>\n",
            escape_segment(name),
            xhtml_escape(name)
        ));
    }
    page.push_str("</ul></body></html>\n");
    cx.write(page);
    Ok(())
}

/// Percent-encodes a file name for use as one path segment of a link.
fn escape_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

struct Args {
    root: PathBuf,
    port: u16,
    address: String,
    listing: bool,
}

const USAGE: &str =
    "usage: fileserver --root DIR [--port 8888] [--address 127.0.0.1] [--no-listing]";

fn parse_args() -> Result<Args, String> {
    let (mut root, mut listing) = (None, true);
    let at = port_address::parse_with(USAGE, |flag, flags| {
        match flag {
            "--root" => root = Some(PathBuf::from(flags.value("--root")?)),
            "--no-listing" => listing = false,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let root = root.ok_or(format!("--root is required\n{USAGE}"))?;
    if !root.is_dir() {
        return Err(format!("{} is not a directory", root.display()));
    }
    Ok(Args {
        root,
        port: at.port,
        address: at.address,
        listing,
    })
}

fn make_app(args: &Args) -> Application {
    let files = StaticFileHandler::factory(&args.root).default_filename("index.html");
    let files = if args.listing {
        files.policy(Listing)
    } else {
        files
    };
    Application::new(vec![url(r"/(.*)", files)])
}

fn main() {
    // Access lines are off by default so the benchmark measures the server;
    // `RUST_LOG=info` turns them on.
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("info,tornado.access=warn"),
    )
    .init();
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    log::info!("serving {}", args.root.display());
    if let Err(e) = make_app(&args).run(args.port, Some(&args.address)) {
        eprintln!("fileserver: {e}");
        std::process::exit(1);
    }
}
