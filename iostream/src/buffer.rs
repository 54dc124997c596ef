//! The read and write buffers of an [`IoStream`](crate::IoStream).
//!
//! Both give their memory back when they are empty, so an idle stream holds no heap
//! buffer. The read buffer reads into zeroed spare space (no `unsafe`): `buf.len()` is
//! the initialised part and `filled` the part that holds data, so zeroing happens once
//! per allocation, not once per read.
//!
//! A stream that drains its read buffer after every message (a keep-alive HTTP
//! connection does, once per request) would allocate and zero a buffer per message.
//! Instead an emptied buffer goes to a small per-thread pool and the next stream that
//! needs one takes it, already initialised: idle streams still hold nothing, and a busy
//! thread neither allocates nor zeroes per message.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fs::File;
use std::io::IoSlice;
use std::rc::Rc;

use bytes::{Buf, Bytes, BytesMut};

/// Size of the first read buffer a stream allocates.
pub const INITIAL_READ_SIZE: usize = 4 * 1024;

/// The most a single read asks the socket for (Tornado's `read_chunk_size`).
pub const MAX_READ_SIZE: usize = 64 * 1024;

/// How many emptied read buffers each thread keeps for reuse.
const POOL_BUFFERS: usize = 64;
/// Buffers with less room than this are not worth keeping.
const POOL_MIN_CAPACITY: usize = 1024;
/// Nor are buffers that grew past this (a large transfer), so the pool stays small.
const POOL_MAX_CAPACITY: usize = 2 * MAX_READ_SIZE;

thread_local! {
    static POOL: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

fn pooled() -> Option<BytesMut> {
    POOL.try_with(|p| p.borrow_mut().pop()).ok().flatten()
}

fn give_back(buf: BytesMut) {
    let cap = buf.capacity();
    if !(POOL_MIN_CAPACITY..=POOL_MAX_CAPACITY).contains(&cap) {
        return;
    }
    let _ = POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < POOL_BUFFERS {
            p.push(buf);
        }
    });
}

/// A pooled buffer that [`ReadBuffer::take`] split (its front went out as `Bytes`, a
/// request head for instance): once nothing else holds those bytes, the whole
/// allocation is this buffer's again. Reclaiming it costs zeroing `want` bytes, where
/// a new buffer would cost an allocation, the same zeroing, and, at its first split,
/// another allocation for its shared-ownership record. `None` while the bytes taken
/// are still held, or if the allocation is too small.
fn reclaim(mut buf: BytesMut, want: usize) -> Option<BytesMut> {
    buf.clear();
    if !buf.try_reclaim(want) {
        return None;
    }
    buf.resize(want, 0);
    Some(buf)
}

#[derive(Debug, Default)]
pub(crate) struct ReadBuffer {
    /// `buf[start..filled]` is data; `buf[..start]` was consumed; `buf[filled..]` is
    /// zeroed or stale spare space. All of `buf[..buf.len()]` is initialised.
    buf: BytesMut,
    start: usize,
    filled: usize,
}

impl ReadBuffer {
    pub(crate) fn data(&self) -> &[u8] {
        &self.buf[self.start..self.filled]
    }

    pub(crate) fn len(&self) -> usize {
        self.filled - self.start
    }

    pub(crate) fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Spare space to read into: at most `limit` bytes, at least one byte if `limit > 0`.
    /// `want` is how much the next read should ask for.
    pub(crate) fn spare(&mut self, want: usize, limit: usize) -> &mut [u8] {
        let want = want.min(limit).max(1);
        if self.start == self.filled {
            // Everything was consumed: read from the front again.
            self.start = 0;
            self.filled = 0;
        }
        if self.buf.len() - self.filled < want && self.start > 0 {
            // Move the unconsumed tail to the front (usually a few bytes of a partial
            // message) rather than grow.
            self.buf.copy_within(self.start..self.filled, 0);
            self.filled -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.filled < want {
            if self.buf.capacity() == 0 {
                // A pooled buffer is initialised (stale bytes, not uninitialised memory),
                // so it is used as it is while it holds at least half the read we want:
                // a buffer whose front went out with each small message (a request head)
                // shrinks a little each time, and zeroing a reclaimed one for every
                // message would cost more than the slightly shorter reads. A smaller one
                // is reclaimed (and zeroed) once the bytes taken from it are dropped.
                //
                // A stream that reads large (its reads came back full, so it asks for
                // more than the first read) would be held to the size of whatever
                // pooled buffer it gets, since it gives the buffer back each time it
                // consumes all of it (a WebSocket taking a large message piece by
                // piece): such a buffer is grown to the read wanted, once, and goes
                // back to the pool that size.
                let large = want > INITIAL_READ_SIZE;
                self.buf = match pooled() {
                    Some(b) if b.len() >= want || (!large && b.len() >= want / 2) => b,
                    Some(mut b) if large && b.capacity() >= want => {
                        b.resize(want, 0);
                        b
                    }
                    Some(b) => reclaim(b, want).unwrap_or_else(|| BytesMut::zeroed(want)),
                    None => BytesMut::zeroed(want),
                };
                self.filled = 0;
            } else {
                let extra = want - (self.buf.len() - self.filled);
                self.buf.reserve(extra);
                let cap = self.buf.capacity();
                // Zero what reserve gave us (up to the chunk we want, beyond it if the
                // allocation already has the room), so later reads need no zeroing.
                let new_len = (self.filled + want).max(cap.min(self.filled + MAX_READ_SIZE));
                self.buf.resize(new_len, 0);
            }
        }
        let end = self.buf.len().min(self.filled.saturating_add(limit));
        &mut self.buf[self.filled..end]
    }

    pub(crate) fn commit(&mut self, n: usize) {
        self.filled = (self.filled + n).min(self.buf.len());
    }

    /// Removes and returns the first `n` buffered bytes (without copying).
    pub(crate) fn take(&mut self, n: usize) -> Bytes {
        let n = n.min(self.len());
        self.buf.advance(self.start);
        self.filled -= self.start;
        self.start = 0;
        self.filled -= n;
        self.buf.split_to(n).freeze()
    }

    /// Drops the first `n` buffered bytes.
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.len());
        self.start += n;
        if self.start == self.filled {
            self.start = 0;
            self.filled = 0;
        }
    }

    /// Copies up to `out.len()` buffered bytes into `out`; returns how many.
    pub(crate) fn copy_to(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len());
        out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
        self.consume(n);
        n
    }

    /// Puts `data` back in front of the buffered bytes (bytes a read had taken out and
    /// did not keep).
    pub(crate) fn unread(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if self.start >= data.len() {
            self.start -= data.len();
            self.buf[self.start..self.start + data.len()].copy_from_slice(data);
            return;
        }
        let mut joined = BytesMut::with_capacity(data.len() + self.len());
        joined.extend_from_slice(data);
        joined.extend_from_slice(self.data());
        self.start = 0;
        self.filled = joined.len();
        self.buf = joined;
    }

    /// Gives the memory back (to this thread's pool) if no data is buffered.
    pub(crate) fn release_if_empty(&mut self) {
        if self.len() == 0 && self.buf.capacity() != 0 {
            self.start = 0;
            self.filled = 0;
            give_back(std::mem::take(&mut self.buf));
        }
    }
}

/// Queued output: whole `Bytes` chunks and file regions handed over by the caller,
/// then a tail into which small writes are copied (so a burst of small writes becomes
/// one `write` call).
///
/// Boxed and allocated only while output is queued: most writes go straight to the
/// socket, and an idle stream then carries one pointer instead of the queue.
#[derive(Debug, Default)]
pub(crate) struct WriteBuffer {
    queue: Option<Box<WriteQueue>>,
}

#[derive(Debug, Default)]
struct WriteQueue {
    chunks: VecDeque<Chunk>,
    tail: BytesMut,
    /// Bytes queued, file regions included.
    len: usize,
}

/// A piece of queued output handed over whole.
#[derive(Debug)]
enum Chunk {
    Bytes(Bytes),
    /// `len` bytes of `file` from `offset`, which the transport sends from the file.
    File {
        file: Rc<File>,
        offset: u64,
        len: usize,
    },
}

/// What to write next: bytes, or a region of a file.
#[derive(Debug)]
pub(crate) enum Front<'a> {
    Bytes(&'a [u8]),
    File(&'a File, u64, usize),
}

impl WriteBuffer {
    pub(crate) fn len(&self) -> usize {
        self.queue.as_ref().map_or(0, |q| q.len)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The memory held (file regions hold none).
    pub(crate) fn capacity(&self) -> usize {
        self.queue.as_ref().map_or(0, |q| {
            q.tail.capacity()
                + q.chunks
                    .iter()
                    .map(|c| match c {
                        Chunk::Bytes(b) => b.len(),
                        Chunk::File { .. } => 0,
                    })
                    .sum::<usize>()
        })
    }

    fn queue(&mut self) -> &mut WriteQueue {
        self.queue.get_or_insert_with(Box::default)
    }

    pub(crate) fn push_slice(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let q = self.queue();
        q.tail.extend_from_slice(data);
        q.len += data.len();
    }

    pub(crate) fn push_bytes(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        let len = data.len();
        self.push_chunk(Chunk::Bytes(data), len);
    }

    /// Queues `len` bytes of `file` from `offset`, to go out after what is queued.
    pub(crate) fn push_file(&mut self, file: Rc<File>, offset: u64, len: usize) {
        if len == 0 {
            return;
        }
        self.push_chunk(Chunk::File { file, offset, len }, len);
    }

    fn push_chunk(&mut self, chunk: Chunk, len: usize) {
        let q = self.queue();
        if !q.tail.is_empty() {
            let tail = q.tail.split().freeze();
            q.chunks.push_back(Chunk::Bytes(tail));
        }
        q.len += len;
        q.chunks.push_back(chunk);
    }

    /// The next contiguous bytes (or file region) to write.
    pub(crate) fn front(&self) -> Front<'_> {
        match &self.queue {
            None => Front::Bytes(&[]),
            Some(q) => match q.chunks.front() {
                Some(Chunk::Bytes(c)) => Front::Bytes(c),
                Some(Chunk::File { file, offset, len }) => Front::File(file, *offset, *len),
                None => Front::Bytes(&q.tail),
            },
        }
    }

    /// The queued bytes up to the first file region, as slices for one vectored write
    /// (as many as fit in `out`); how many were filled. Zero when a file region is next.
    pub(crate) fn front_vectored<'a>(&'a self, out: &mut [IoSlice<'a>]) -> usize {
        let Some(q) = &self.queue else {
            return 0;
        };
        let mut n = 0;
        for chunk in &q.chunks {
            if n == out.len() {
                return n;
            }
            match chunk {
                Chunk::Bytes(c) => {
                    out[n] = IoSlice::new(c);
                    n += 1;
                }
                Chunk::File { .. } => return n,
            }
        }
        if n < out.len() && !q.tail.is_empty() {
            out[n] = IoSlice::new(&q.tail);
            n += 1;
        }
        n
    }

    /// Drops the first `n` queued bytes, which may span several chunks (after a
    /// vectored write) but end within a file region only if they start in it.
    pub(crate) fn advance(&mut self, mut n: usize) {
        let Some(q) = self.queue.as_mut() else {
            return;
        };
        n = n.min(q.len);
        q.len -= n;
        while n > 0 {
            match q.chunks.front_mut() {
                Some(Chunk::Bytes(c)) => {
                    let k = n.min(c.len());
                    c.advance(k);
                    n -= k;
                    if c.is_empty() {
                        q.chunks.pop_front();
                    }
                }
                Some(Chunk::File { offset, len, .. }) => {
                    let k = n.min(*len);
                    *offset += k as u64;
                    *len -= k;
                    n -= k;
                    if *len == 0 {
                        q.chunks.pop_front();
                    }
                }
                None => {
                    q.tail.advance(n);
                    n = 0;
                }
            }
        }
        if q.len == 0 {
            self.release();
        }
    }

    /// Frees all memory (and drops any queued data).
    pub(crate) fn release(&mut self) {
        self.queue = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_buffer_grows_takes_and_releases() {
        let mut b = ReadBuffer::default();
        assert_eq!(b.capacity(), 0);
        let s = b.spare(INITIAL_READ_SIZE, usize::MAX);
        assert_eq!(s.len(), INITIAL_READ_SIZE);
        s[..5].copy_from_slice(b"hello");
        b.commit(5);
        assert_eq!(b.data(), b"hello");
        let s = b.spare(10, 3);
        assert_eq!(s.len(), 3);
        s.copy_from_slice(b" wo");
        b.commit(3);
        assert_eq!(&b.take(2)[..], b"he");
        let mut out = [0u8; 2];
        assert_eq!(b.copy_to(&mut out), 2);
        assert_eq!(&out, b"ll");
        b.consume(1);
        assert_eq!(b.data(), b" wo");
        b.consume(100);
        assert_eq!(b.len(), 0);
        b.release_if_empty();
        assert_eq!(b.capacity(), 0);
    }

    #[test]
    fn a_pooled_buffer_is_reused_as_it_is_or_reclaimed_once_its_taken_bytes_are_dropped() {
        let mut b = ReadBuffer::default();
        let s = b.spare(INITIAL_READ_SIZE, usize::MAX);
        let start = s.as_ptr().addr();
        s[..5].copy_from_slice(b"hello");
        b.commit(5);
        let taken = b.take(5);
        b.release_if_empty();
        // A small message went out: the rest, more than half a read, is used as it is
        // (no zeroing), even while the taken bytes are still held.
        let s = b.spare(INITIAL_READ_SIZE, usize::MAX);
        assert_eq!(s.len(), INITIAL_READ_SIZE - 5);
        assert_eq!(s.as_ptr().addr(), start + 5);
        assert_eq!(&taken[..], b"hello");
        drop(taken);
        // A large message went out: the rest (worth pooling, but under half a read)
        // is too short. Still held, a fresh buffer is used; once dropped, the
        // allocation is reclaimed from its start, zeroed.
        let big = INITIAL_READ_SIZE - 5 - 1500;
        s[..big].fill(b'x');
        b.commit(big);
        let taken = b.take(big);
        b.release_if_empty();
        let s = b.spare(INITIAL_READ_SIZE, usize::MAX);
        assert_eq!(s.len(), INITIAL_READ_SIZE);
        let fresh = s.as_ptr().addr();
        assert_ne!(fresh, start);
        drop(taken);
        let big = INITIAL_READ_SIZE - 1500;
        s[..big].fill(b'y');
        b.commit(big);
        drop(b.take(big));
        b.release_if_empty();
        let s = b.spare(INITIAL_READ_SIZE, usize::MAX);
        assert_eq!(s.len(), INITIAL_READ_SIZE);
        assert_eq!(s.as_ptr().addr(), fresh);
        assert!(s.iter().all(|&x| x == 0));
    }

    #[test]
    fn a_stream_that_reads_large_gets_a_pooled_buffer_as_large_as_its_read() {
        let mut b = ReadBuffer::default();
        let n = b.spare(2 * INITIAL_READ_SIZE, usize::MAX).len();
        assert_eq!(n, 2 * INITIAL_READ_SIZE);
        b.commit(n);
        b.consume(n);
        b.release_if_empty();
        // A small read takes the pooled buffer as it is.
        assert_eq!(b.spare(INITIAL_READ_SIZE, usize::MAX).len(), n);
        b.release_if_empty();
        // A large one is not held to its size (it consumed it all, so it gave it back
        // and would get it again for every read).
        let s = b.spare(MAX_READ_SIZE, usize::MAX);
        assert_eq!(s.len(), MAX_READ_SIZE);
        b.release_if_empty();
        // The grown buffer went back to the pool, and serves the next large read as is.
        let s = b.spare(MAX_READ_SIZE / 2, usize::MAX);
        assert_eq!(s.len(), MAX_READ_SIZE);
    }

    #[test]
    fn read_buffer_spare_after_full() {
        let mut b = ReadBuffer::default();
        let n = b.spare(8, usize::MAX).len();
        b.commit(n);
        let s = b.spare(16, usize::MAX);
        assert!(s.len() >= 16);
        assert_eq!(b.len(), 8);
    }

    #[test]
    fn write_buffer_keeps_order() {
        let mut w = WriteBuffer::default();
        w.push_slice(b"ab");
        w.push_bytes(Bytes::from_static(b"cd"));
        w.push_slice(b"ef");
        let mut out = Vec::new();
        while !w.is_empty() {
            let Front::Bytes(f) = w.front() else {
                panic!("no file was queued");
            };
            out.push(f[0]);
            w.advance(1);
        }
        assert_eq!(out, b"abcdef");
        assert_eq!(w.capacity(), 0);
    }

    #[test]
    fn a_vectored_front_spans_chunks_and_the_tail_and_advances_across_them() {
        fn front(w: &WriteBuffer, room: usize) -> Vec<Vec<u8>> {
            let mut slices = [IoSlice::new(&[]); 8];
            let n = w.front_vectored(&mut slices[..room]);
            slices[..n].iter().map(|s| s.to_vec()).collect()
        }
        let mut w = WriteBuffer::default();
        w.push_slice(b"ab");
        w.push_bytes(Bytes::from_static(b"cde"));
        w.push_slice(b"fg");
        assert_eq!(front(&w, 8), [&b"ab"[..], b"cde", b"fg"]);
        assert_eq!(front(&w, 2).len(), 2);
        // A write that ended inside the second chunk.
        w.advance(3);
        assert_eq!(w.len(), 4);
        assert_eq!(front(&w, 8), [&b"de"[..], b"fg"]);
        w.advance(4);
        assert!(w.is_empty());
        assert_eq!(w.capacity(), 0);
    }

    #[test]
    fn file_regions_keep_their_place_and_hold_no_memory() {
        let path = std::env::temp_dir().join(format!("iostream-wbuf-{}", std::process::id()));
        std::fs::write(&path, b"0123456789").unwrap();
        let file = Rc::new(File::open(&path).unwrap());
        std::fs::remove_file(&path).unwrap();
        let mut w = WriteBuffer::default();
        w.push_slice(b"ab");
        w.push_file(file.clone(), 3, 4);
        w.push_file(file, 0, 0);
        w.push_slice(b"cd");
        assert_eq!(w.len(), 8);
        assert!(w.capacity() < 64, "a file region holds no memory");
        let mut out = Vec::new();
        while !w.is_empty() {
            match w.front() {
                Front::Bytes(f) => {
                    out.push(f[0]);
                    w.advance(1);
                }
                Front::File(_, offset, len) => {
                    // What a transport would send of "0123456789", in two calls.
                    let n = len.min(3);
                    out.extend_from_slice(&b"0123456789"[offset as usize..offset as usize + n]);
                    w.advance(n);
                }
            }
        }
        assert_eq!(out, b"ab3456cd");
    }
}
