//! The one system call this crate makes that the standard library does not wrap:
//! `sendfile(2)`, which writes a file's bytes to a socket without copying them through
//! user memory. The only `unsafe` of the crate lives here.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::AsFd;

/// Whether [`send_file`] works on this platform (Linux; other systems' `sendfile`
/// differs and is not wired up).
pub(crate) const SEND_FILE: bool = cfg!(target_os = "linux");

/// Writes up to `len` bytes of `file`, from `offset`, to `out`: how many were written,
/// `Ok(0)` when the file ends at `offset`, `WouldBlock` when `out` (non-blocking) is
/// full. The file's own position is not used or moved.
#[cfg(target_os = "linux")]
pub(crate) fn send_file(
    out: &impl AsFd,
    file: &File,
    offset: u64,
    len: usize,
) -> io::Result<usize> {
    use std::os::fd::AsRawFd;

    let mut off = libc::off_t::try_from(offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file offset too large"))?;
    // Linux moves at most this much in one call anyway.
    let count = len.min(0x7fff_f000);
    // SAFETY: both descriptors are borrowed, so they stay open for the whole call;
    // `off` is a local the kernel reads and updates; no other memory is touched.
    let n = unsafe { libc::sendfile(out.as_fd().as_raw_fd(), file.as_raw_fd(), &mut off, count) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn send_file(
    _out: &impl AsFd,
    _file: &File,
    _offset: u64,
    _len: usize,
) -> io::Result<usize> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "sendfile is only used on Linux",
    ))
}
