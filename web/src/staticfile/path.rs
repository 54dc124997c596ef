//! Where a request's path leads, on paper: the root joined with it and normalized
//! (`.`, `..` and repeated slashes resolved) without touching the filesystem, and
//! refused when that leaves the root (Tornado's `get_absolute_path` and
//! `_check_in_root`). Symlinks are another matter, checked against the filesystem in
//! `cache.rs`.

use std::path::{Component, Path, PathBuf};

use crate::error::HttpError;

/// `root` made absolute (against the current directory, as Python's `abspath`) and
/// normalized.
pub(crate) fn absolute_root(root: &Path) -> PathBuf {
    let joined;
    let root = if root.is_absolute() {
        root
    } else {
        joined = std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(root);
        &joined
    };
    let mut out = PathBuf::new();
    for c in root.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// `path` (a URL path under the root, `/`-separated) joined to `root` (from
/// [`absolute_root`]) and normalized; a 403 if the result is not `root` or beneath it
/// (`../x`, `a/../../x`, `/etc/passwd`) or names no file at all (a NUL byte).
pub(crate) fn join_within(root: &Path, path: &str) -> Result<PathBuf, HttpError> {
    if path.contains('\0') {
        return Err(HttpError::with_log(
            403,
            format!("{path:?} is not a valid path"),
        ));
    }
    let outside = || HttpError::with_log(403, format!("{path} is not in root static directory"));
    let root_bytes = root.as_os_str().as_encoded_bytes();
    // The common case, a plain relative path, is joined as it is: no empty, `.` or
    // `..` part (the parts are checked on bytes: `/` never occurs inside a
    // multi-byte character).
    let plain = !path.is_empty()
        && !path.starts_with('/')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    if plain {
        let mut out = String::with_capacity(root_bytes.len() + 1 + path.len());
        match root.to_str() {
            Some(r) => out.push_str(r),
            None => return Ok(root.join(path)),
        }
        if !out.ends_with('/') {
            out.push('/');
        }
        out.push_str(path);
        return Ok(PathBuf::from(out));
    }
    // An absolute path replaces the root, as `os.path.join` does; the check below
    // then refuses it (unless the root is `/`).
    let mut out = if path.starts_with('/') {
        PathBuf::from("/")
    } else {
        root.to_path_buf()
    };
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            name => out.push(name),
        }
    }
    // Component-wise: `/srv/static2` is not inside `/srv/static`.
    if !out.starts_with(root) {
        return Err(outside());
    }
    Ok(out)
}

/// Whether a redirect to `path` would leave the site: `//host/...` and `/\host/...`
/// are protocol-relative URLs to browsers.
pub(crate) fn is_protocol_relative(path: &str) -> bool {
    path.starts_with("//") || path.starts_with("/\\")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_inside_and_outside_the_root() {
        let root = Path::new("/srv/static");
        let rows: &[(&str, Option<&str>)] = &[
            ("robots.txt", Some("/srv/static/robots.txt")),
            ("css/site.css", Some("/srv/static/css/site.css")),
            ("./css//site.css", Some("/srv/static/css/site.css")),
            ("css/../robots.txt", Some("/srv/static/robots.txt")),
            ("dir/", Some("/srv/static/dir")),
            ("", Some("/srv/static")),
            (".", Some("/srv/static")),
            ("a\\..\\b", Some("/srv/static/a\\..\\b")),
            ("%2e%2e/x", Some("/srv/static/%2e%2e/x")),
            ("..", None),
            ("../static_foo.txt", None),
            ("../static/robots.txt", Some("/srv/static/robots.txt")),
            ("../static2/x", None),
            ("a/../../x", None),
            ("a/../../../../../../etc/passwd", None),
            ("/etc/passwd", None),
            ("//etc/passwd", None),
            ("/srv/static/robots.txt", Some("/srv/static/robots.txt")),
            ("x\0.txt", None),
        ];
        for &(path, want) in rows {
            let got = join_within(root, path).ok();
            assert_eq!(got.as_deref(), want.map(Path::new), "{path:?}");
        }
    }

    #[test]
    fn a_root_of_slash_holds_everything() {
        let root = absolute_root(Path::new("/"));
        assert_eq!(
            join_within(&root, "/etc/passwd").unwrap(),
            Path::new("/etc/passwd")
        );
        assert_eq!(
            join_within(&root, "../../etc/passwd").unwrap(),
            Path::new("/etc/passwd")
        );
    }

    #[test]
    fn roots_are_made_absolute_and_normal() {
        assert_eq!(absolute_root(Path::new("/a/./b/../c/")), Path::new("/a/c"));
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(absolute_root(Path::new("static")), cwd.join("static"));
    }

    #[test]
    fn protocol_relative_paths() {
        assert!(is_protocol_relative("//evil.com/x"));
        assert!(is_protocol_relative("/\\evil.com/x"));
        assert!(!is_protocol_relative("/static/dir"));
    }
}
