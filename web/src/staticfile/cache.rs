//! What is known about each file served: where its path leads once symlinks are
//! resolved, its identity, its `Last-Modified`, its content hash (the version in
//! `static_url` and the `ETag`) and, for a small file, its content.
//!
//! # Model
//!
//! An entry is keyed by the file's path as the request names it (the root joined with
//! the request's path) and stamped with the identity of the file it was read from:
//! device, inode, size, modification and change times. A request `stat`s its path
//! (one system call, following symlinks) and uses the entry only if the stamp is the
//! same; otherwise the path is resolved again (symlinks checked against the allowed
//! directories), the file read and hashed again, and the entry replaced. So a file that
//! changes is served fresh on the next request, with a fresh `ETag`, and a symlink that
//! now leads elsewhere is checked again: the same device and inode means the very file
//! that was checked before, and a file moved out of the root gets a new change time.
//!
//! A file's times have a granularity (a few milliseconds on Linux, two seconds on
//! FAT): a file written twice within one tick, keeping its size, would keep its stamp.
//! As git does with its index, an entry is only kept once the file has been left alone
//! for [`SETTLE_TIME`]; until then every request reads it again. A large file still
//! changing (a log being written) is not hashed at all until it settles, so that it
//! cannot have every request hash it on the loop: it goes without an `ETag` meanwhile.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use ring::digest;
use tornado_httpserver::httputil::format_timestamp;

use super::{MAX_CACHED_FILES, MAX_VERSION_CONTENT_SIZE, SMALL_FILE_SIZE, guess_content_type};

/// How long a file must be left alone before what was read of it is kept (see the
/// module docs).
pub(crate) const SETTLE_TIME: Duration = Duration::from_secs(2);

/// The most bytes of small files' content one cache holds; past it, small files are
/// still described by the cache but read for every request.
pub(crate) const CONTENT_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// The size in which files are read (and hashed, and streamed).
pub(crate) const READ_SIZE: usize = 64 * 1024;

/// The identity of a file's content at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    dev: u64,
    ino: u64,
    pub(crate) len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    #[cfg(unix)]
    pub(crate) fn of(meta: &Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    #[cfg(not(unix))]
    pub(crate) fn of(meta: &Metadata) -> Stamp {
        let nanos = |t: io::Result<SystemTime>| {
            t.ok()
                .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map_or((0, 0), |d| {
                    (d.as_secs() as i64, i64::from(d.subsec_nanos()))
                })
        };
        Stamp {
            dev: 0,
            ino: 0,
            len: meta.len(),
            mtime: nanos(meta.modified()),
            ctime: nanos(meta.created()),
        }
    }

    /// Whether the file is the same one (its content may have changed).
    pub(crate) fn same_file(&self, other: &Stamp) -> bool {
        self.dev == other.dev && self.ino == other.ino
    }

    /// When the file was last changed. On Unix that is the change time alone: every
    /// write and every change of the times moves it to now, and nothing can set it
    /// otherwise; the modification time can be set to anything (`touch -d`, `tar`,
    /// `rsync -t` from a machine whose clock is ahead), and one in the future would
    /// keep the file from ever settling. Elsewhere the change time is the creation
    /// time: the later of the two.
    fn last_touched(&self) -> SystemTime {
        #[cfg(unix)]
        let (secs, nanos) = self.ctime;
        #[cfg(not(unix))]
        let (secs, nanos) = self.mtime.max(self.ctime);
        let at = Duration::new(secs.unsigned_abs(), nanos.clamp(0, 999_999_999) as u32);
        if secs >= 0 {
            SystemTime::UNIX_EPOCH + at
        } else {
            SystemTime::UNIX_EPOCH - at
        }
    }

    /// Whether the file has been left alone for [`SETTLE_TIME`].
    fn settled(&self) -> bool {
        SystemTime::now()
            .duration_since(self.last_touched())
            .is_ok_and(|d| d >= SETTLE_TIME)
    }

    /// The modification time in whole seconds (what `Last-Modified` and
    /// `If-Modified-Since` speak in; Tornado truncates it too).
    fn modified_secs(&self) -> SystemTime {
        let secs = self.mtime.0;
        let at = Duration::from_secs(secs.unsigned_abs());
        if secs >= 0 {
            SystemTime::UNIX_EPOCH + at
        } else {
            SystemTime::UNIX_EPOCH - at
        }
    }
}

/// One file, as read: see the module docs.
#[derive(Debug)]
pub(crate) struct Entry {
    /// Where the request's path leads, symlinks resolved: the file that is opened.
    pub(crate) path: PathBuf,
    pub(crate) stamp: Stamp,
    /// The modification time, whole seconds.
    pub(crate) modified: SystemTime,
    pub(crate) last_modified: String,
    /// Hex of the content's hash: `None` past [`MAX_VERSION_CONTENT_SIZE`].
    pub(crate) version: Option<String>,
    /// The version quoted, as an `ETag`.
    pub(crate) etag: Option<String>,
    /// The whole content of a file of at most [`SMALL_FILE_SIZE`] bytes.
    pub(crate) content: Option<Bytes>,
    /// The type its name says ([`guess_content_type`]).
    pub(crate) content_type: &'static str,
}

/// Hex of the first 128 bits of a SHA-256: the version of a file's content.
fn hex_version(hash: digest::Digest) -> String {
    crate::hex::to_hex(&hash.as_ref()[..16])
}

/// Opens the file at `path` for reading without blocking, and checks that it is a
/// regular file: a FIFO or a device swapped in after the path was checked would
/// otherwise block the loop in `open` or `read`.
pub(crate) fn open_regular(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    Ok(file)
}

/// Where an open file is, from its descriptor (Linux's `/proc/self/fd`): what was
/// opened, whatever a path's directories were swapped for meanwhile. `None` where the
/// system does not tell.
pub(crate) fn opened_path(file: &File) -> Option<PathBuf> {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()
}

/// The version of a file's content: at most `len` bytes from where it stands (the
/// size it was checked at: a file still growing is not read on and on).
pub(crate) fn hash_file(file: &File, len: u64) -> io::Result<String> {
    let mut hasher = digest::Context::new(&digest::SHA256);
    let mut buf = vec![0u8; READ_SIZE];
    let mut file = file.take(len);
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hex_version(hasher.finish()))
}

/// Reads `file`, the regular file at `path` (opened with [`open_regular`] and
/// checked): its whole content if it is small, its hash if it is not too large. Also
/// says whether the entry may be kept: the file did not change while it was read and
/// has settled.
pub(crate) fn load(mut file: File, path: PathBuf) -> io::Result<(Entry, bool)> {
    let before = Stamp::of(&file.metadata()?);
    let mut content = None;
    let mut version = None;
    if before.len <= SMALL_FILE_SIZE {
        let mut data = Vec::with_capacity(before.len as usize);
        (&mut file)
            .take(SMALL_FILE_SIZE + 1)
            .read_to_end(&mut data)?;
        if data.len() as u64 <= SMALL_FILE_SIZE {
            version = Some(hex_version(digest::digest(&digest::SHA256, &data)));
            content = Some(Bytes::from(data));
        }
    } else if before.len <= MAX_VERSION_CONTENT_SIZE && before.settled() {
        version = Some(hash_file(&file, before.len)?);
    }
    let after = Stamp::of(&file.metadata()?);
    let read_whole = content
        .as_ref()
        .is_none_or(|c: &Bytes| c.len() as u64 == after.len);
    let keep = before == after && read_whole && after.settled();
    if !read_whole {
        // The file grew past the small size while it was read: stream it instead.
        content = None;
        version = None;
    }
    let modified = after.modified_secs();
    let entry = Entry {
        content_type: guess_content_type(&path),
        path,
        stamp: after,
        modified,
        last_modified: format_timestamp(modified),
        etag: version.as_ref().map(|v| format!("\"{v}\"")),
        version,
        content,
    };
    Ok((entry, keep))
}

/// Hashes paths for the cache: FxHash's multiply and rotate, a word at a time, where
/// std's SipHash spent more on a path than the rest of the lookup. A request can name
/// any path, but only files that exist are ever stored, so a path chosen to collide
/// meets at most the entries of real files.
#[derive(Debug, Default, Clone, Copy)]
struct PathHasher(u64);

impl PathHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for PathHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut word = [0u8; 8];
            word.copy_from_slice(w);
            self.add(u64::from_le_bytes(word));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type PathMap<V> = HashMap<OsString, V, BuildHasherDefault<PathHasher>>;

/// The entries of one root; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct FileCache {
    entries: RefCell<PathMap<Rc<Entry>>>,
    content_bytes: Cell<usize>,
}

impl FileCache {
    /// The entry for `key` if it still describes the file `stamp` describes.
    pub(crate) fn get(&self, key: &Path, stamp: &Stamp) -> Option<Rc<Entry>> {
        let entries = self.entries.borrow();
        let entry = entries.get(key.as_os_str())?;
        (entry.stamp == *stamp).then(|| entry.clone())
    }

    /// Keeps `entry` for `key` (without its content once the cache holds
    /// [`CONTENT_CACHE_BYTES`] of content); gives back what to serve.
    pub(crate) fn insert(&self, key: &Path, mut entry: Entry) -> Rc<Entry> {
        let mut entries = self.entries.borrow_mut();
        if let Some(old) = entries.remove(key.as_os_str()) {
            self.forget(&old);
        }
        if entries.len() >= MAX_CACHED_FILES {
            // Full: an arbitrary entry makes room (its file is read again if it is
            // asked for).
            if let Some(k) = entries.keys().next().cloned()
                && let Some(old) = entries.remove(&k)
            {
                self.forget(&old);
            }
        }
        let mut served = None;
        if let Some(content) = &entry.content {
            let total = self.content_bytes.get() + content.len();
            if total > CONTENT_CACHE_BYTES {
                served = Some(Rc::new(Entry {
                    path: entry.path.clone(),
                    stamp: entry.stamp,
                    modified: entry.modified,
                    last_modified: entry.last_modified.clone(),
                    version: entry.version.clone(),
                    etag: entry.etag.clone(),
                    content: entry.content.take(),
                    content_type: entry.content_type,
                }));
            } else {
                self.content_bytes.set(total);
            }
        }
        let entry = Rc::new(entry);
        entries.insert(key.as_os_str().to_owned(), entry.clone());
        served.unwrap_or(entry)
    }

    fn forget(&self, old: &Entry) {
        let len = old.content.as_ref().map_or(0, Bytes::len);
        self.content_bytes.set(self.content_bytes.get() - len);
    }

    /// Forgets every entry (Tornado's `StaticFileHandler.reset`).
    pub(crate) fn clear(&self) {
        self.entries.borrow_mut().clear();
        self.content_bytes.set(0);
    }

    /// How many files are described, and how many bytes of content are held.
    #[cfg(test)]
    pub(crate) fn usage(&self) -> (usize, usize) {
        (self.entries.borrow().len(), self.content_bytes.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_open_and_without_blocking() {
        let dir = std::env::temp_dir().join(format!("tornado-open-regular-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("real")).unwrap();
        std::fs::write(dir.join("real/f"), b"abc").unwrap();
        std::os::unix::fs::symlink(dir.join("real"), dir.join("link")).unwrap();

        let file = open_regular(&dir.join("link/f")).unwrap();
        // The descriptor tells where the file really is.
        if let Some(at) = opened_path(&file) {
            assert_eq!(at, std::fs::canonicalize(dir.join("real/f")).unwrap());
        }
        assert_eq!(
            hash_file(&file, 2).unwrap(),
            hex_version(digest::digest(&digest::SHA256, b"ab"))
        );

        let e = open_regular(&dir.join("real")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
        // A FIFO with no writer: a plain open would wait for one for ever.
        let fifo = dir.join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if matches!(made, Ok(s) if s.success()) {
            let e = open_regular(&fifo).unwrap_err();
            assert!(e.to_string().contains("not a regular file"), "{e}");
        } else {
            eprintln!("mkfifo is missing: the FIFO case is skipped");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn temp_file(name: &str, data: &[u8]) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("tornado-cache-test-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, data).unwrap();
        path
    }

    #[test]
    fn a_fresh_file_is_read_but_not_kept() {
        let path = temp_file("fresh.txt", b"hello");
        let (entry, keep) = load(open_regular(&path).unwrap(), path.clone()).unwrap();
        assert!(!keep, "written just now: not settled");
        assert_eq!(entry.content.as_deref(), Some(&b"hello"[..]));
        assert_eq!(entry.stamp.len, 5);
        let v = entry.version.clone().unwrap();
        assert_eq!(v.len(), 32);
        assert_eq!(entry.etag.as_deref(), Some(format!("\"{v}\"").as_str()));
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_modification_time_in_the_future_does_not_keep_a_file_unsettled() {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let stamp = |mtime: i64, ctime: i64| Stamp {
            dev: 1,
            ino: 1,
            len: 0,
            mtime: (mtime, 0),
            ctime: (ctime, 0),
        };
        // Set with `touch -d` (or copied from a clock that is ahead) a minute ago.
        assert!(stamp(now + 365 * 86_400, now - 60).settled());
        assert!(stamp(now - 86_400, now - 60).settled());
        // Changed just now, whatever the modification time says.
        assert!(!stamp(now - 86_400, now).settled());
        assert!(!stamp(now + 365 * 86_400, now).settled());
    }

    #[test]
    fn content_beyond_the_budget_is_not_kept() {
        let cache = FileCache::default();
        let entry = |n: usize| Entry {
            path: PathBuf::from("/x"),
            stamp: Stamp {
                dev: 1,
                ino: n as u64,
                len: 0,
                mtime: (0, 0),
                ctime: (0, 0),
            },
            modified: SystemTime::UNIX_EPOCH,
            last_modified: String::new(),
            version: None,
            etag: None,
            content: Some(Bytes::from(vec![0u8; n])),
            content_type: "text/plain",
        };
        let big = CONTENT_CACHE_BYTES - 10;
        let served = cache.insert(Path::new("/a"), entry(big));
        assert!(served.content.is_some());
        let served = cache.insert(Path::new("/b"), entry(11));
        assert!(served.content.is_some(), "what is served keeps its content");
        assert_eq!(cache.usage(), (2, big));
        let kept = cache.get(Path::new("/b"), &served.stamp).unwrap();
        assert!(kept.content.is_none(), "but the cache does not");
        // Replacing an entry gives its bytes back.
        cache.insert(Path::new("/a"), entry(5));
        assert_eq!(cache.usage(), (2, 5));
        cache.clear();
        assert_eq!(cache.usage(), (0, 0));
    }
}
