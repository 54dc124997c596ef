//! Content types by file name, as Tornado's `StaticFileHandler.get_content_type`
//! finds them with Python's `mimetypes`: a compressed file (`.gz`, `.tgz`, `.svgz`)
//! is `application/gzip` (RFC 6713), one in another compression (`.bz2`, `.xz`,
//! `.br`, `.Z`) `application/octet-stream`, anything else by its extension, and
//! `application/octet-stream` when the extension is unknown.
//!
//! The table is built in, not read from `/etc/mime.types` (so a file's type does not
//! depend on the machine); it holds the types of the web (IANA's registrations, where
//! Python's table is older: `text/javascript`, `image/x-icon`... see the rows). A
//! [`StaticPolicy`](super::StaticPolicy) can answer other types.

use std::path::Path;

/// The type of a file whose extension is unknown, or that is compressed other than
/// with gzip.
///
/// ```
/// use std::path::Path;
/// use tornado_web::staticfile::{guess_content_type, OCTET_STREAM};
///
/// assert_eq!(OCTET_STREAM, "application/octet-stream");
/// assert_eq!(guess_content_type(Path::new("data.unknown-extension")), OCTET_STREAM);
/// assert_eq!(guess_content_type(Path::new("backup.tar.xz")), OCTET_STREAM);
/// ```
pub const OCTET_STREAM: &str = "application/octet-stream";

/// Extensions (lower case, sorted for binary search) and their types.
const TYPES: &[(&str, &str)] = &[
    ("aac", "audio/aac"),
    ("apng", "image/apng"),
    ("atom", "application/atom+xml"),
    ("avi", "video/x-msvideo"),
    ("avif", "image/avif"),
    ("bmp", "image/bmp"),
    ("css", "text/css"),
    ("csv", "text/csv"),
    ("eot", "application/vnd.ms-fontobject"),
    ("epub", "application/epub+zip"),
    ("flac", "audio/flac"),
    ("gif", "image/gif"),
    ("htm", "text/html"),
    ("html", "text/html"),
    ("ico", "image/x-icon"),
    ("ics", "text/calendar"),
    ("jpeg", "image/jpeg"),
    ("jpg", "image/jpeg"),
    ("js", "text/javascript"),
    ("json", "application/json"),
    ("jsonld", "application/ld+json"),
    ("m4a", "audio/mp4"),
    ("m4v", "video/mp4"),
    ("map", "application/json"),
    ("md", "text/markdown"),
    ("mjs", "text/javascript"),
    ("mov", "video/quicktime"),
    ("mp3", "audio/mpeg"),
    ("mp4", "video/mp4"),
    ("mpeg", "video/mpeg"),
    ("oga", "audio/ogg"),
    ("ogg", "audio/ogg"),
    ("ogv", "video/ogg"),
    ("opus", "audio/opus"),
    ("otf", "font/otf"),
    ("pdf", "application/pdf"),
    ("png", "image/png"),
    ("rss", "application/rss+xml"),
    ("rtf", "application/rtf"),
    ("svg", "image/svg+xml"),
    ("tar", "application/x-tar"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("ttf", "font/ttf"),
    ("txt", "text/plain"),
    ("wasm", "application/wasm"),
    ("wav", "audio/wav"),
    ("weba", "audio/webm"),
    ("webm", "video/webm"),
    ("webmanifest", "application/manifest+json"),
    ("webp", "image/webp"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("xhtml", "application/xhtml+xml"),
    ("xml", "text/xml"),
    ("yaml", "application/yaml"),
    ("yml", "application/yaml"),
    ("zip", "application/zip"),
];

/// Python's `encodings_map`, matched as written (`.Z` is compress, `.z` nothing): the
/// extensions that say how a file is compressed; `true` for gzip.
const ENCODINGS: &[(&str, bool)] = &[
    ("Z", false),
    ("br", false),
    ("bz2", false),
    ("gz", true),
    ("xz", false),
];

/// Python's `suffix_map`, matched without case: short forms of `.tar.gz` and the like.
const SHORT_FORMS: &[(&str, bool)] = &[
    ("svgz", true),
    ("taz", true),
    ("tbz2", false),
    ("tgz", true),
    ("txz", false),
    ("tz", true),
];

/// The `Content-Type` of the file at `path`, from its name (Tornado's
/// `get_content_type`).
///
/// ```
/// use std::path::Path;
/// use tornado_web::staticfile::guess_content_type;
///
/// assert_eq!(guess_content_type(Path::new("site/index.html")), "text/html");
/// assert_eq!(guess_content_type(Path::new("a/sample.xml.gz")), "application/gzip");
/// assert_eq!(guess_content_type(Path::new("a/sample.xml.bz2")), "application/octet-stream");
/// assert_eq!(guess_content_type(Path::new("a/README")), "application/octet-stream");
/// ```
pub fn guess_content_type(path: &Path) -> &'static str {
    let bytes = path.as_os_str().as_encoded_bytes();
    let name = match bytes.iter().rposition(|&b| b == b'/') {
        Some(i) => &bytes[i + 1..],
        None => bytes,
    };
    // Leading dots belong to the name (`.hidden` has no extension), as in Python.
    let start = name.iter().position(|&b| b != b'.').unwrap_or(name.len());
    let name = &name[start..];
    let Some(dot) = name.iter().rposition(|&b| b == b'.') else {
        return OCTET_STREAM;
    };
    let ext = &name[dot + 1..];
    let compressed = ENCODINGS
        .iter()
        .find(|(e, _)| e.as_bytes() == ext)
        .or_else(|| {
            SHORT_FORMS
                .iter()
                .find(|(e, _)| e.as_bytes().eq_ignore_ascii_case(ext))
        });
    if let Some(&(_, gzip)) = compressed {
        return if gzip {
            "application/gzip"
        } else {
            OCTET_STREAM
        };
    }
    if ext.len() > 16 {
        return OCTET_STREAM;
    }
    let mut lower = [0u8; 16];
    let lower = &mut lower[..ext.len()];
    lower.copy_from_slice(ext);
    lower.make_ascii_lowercase();
    TYPES
        .binary_search_by(|(e, _)| e.as_bytes().cmp(lower))
        .map_or(OCTET_STREAM, |i| TYPES[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_for_binary_search() {
        assert!(TYPES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(TYPES.iter().all(|(e, _)| e.len() <= 16));
    }

    #[test]
    fn types_by_name() {
        let rows = [
            ("robots.txt", "text/plain"),
            ("INDEX.HTML", "text/html"),
            ("app.min.js", "text/javascript"),
            ("style.css", "text/css"),
            ("favicon.ico", "image/x-icon"),
            ("photo.JPG", "image/jpeg"),
            ("sample.xml", "text/xml"),
            ("sample.xml.gz", "application/gzip"),
            ("archive.tgz", "application/gzip"),
            ("icon.svgz", "application/gzip"),
            ("sample.xml.bz2", OCTET_STREAM),
            ("archive.tar.xz", OCTET_STREAM),
            ("page.html.br", OCTET_STREAM),
            ("old.Z", OCTET_STREAM),
            ("old.z", OCTET_STREAM),
            ("ARCHIVE.TGZ", "application/gzip"),
            (".txt", OCTET_STREAM),
            (".config.json", "application/json"),
            ("Makefile", OCTET_STREAM),
            (".hidden", OCTET_STREAM),
            ("trailing.", OCTET_STREAM),
            ("x.averyveryverylongextension", OCTET_STREAM),
            ("x.unknown", OCTET_STREAM),
            ("font.woff2", "font/woff2"),
        ];
        for (name, want) in rows {
            assert_eq!(guess_content_type(Path::new(name)), want, "{name}");
        }
        assert_eq!(guess_content_type(Path::new("/")), OCTET_STREAM);
    }
}
