//! [`HttpHeaders`]: a case-insensitive multi-map of header lines that keeps
//! their order.
//!
//! # Storage
//!
//! A name or a value is kept in one of three places: a span of the request
//! head it was parsed from (one shared [`Bytes`] for the whole head, never
//! copied), a span of an owned `String` (lines added by copy, and parsed
//! values that were not UTF-8 and were decoded from Latin-1 when parsed), or
//! a `&'static str` (lines added with [`HttpHeaders::add_static`]). The
//! lines themselves sit in an inline array of four entries and spill to a
//! `Vec` beyond that. So a parsed request head, and a small response whose
//! headers are static strings, cost no allocation.
//!
//! Without `unsafe`, a `&str` view of the shared bytes is made by
//! `std::str::from_utf8` when a value is read: values are short, and names
//! are compared as bytes, without it.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::error::ParseError;

/// How many lines fit before the entries spill to the heap.
const INLINE_LINES: usize = 4;

/// Marks a span of the owned buffer (a span of the shared bytes otherwise).
const OWNED: u32 = 1 << 31;

/// The largest offset a span may start at: a request head whose header lines
/// are viewed in place must be shorter than this (2 GiB).
pub(crate) const MAX_SHARED_LEN: usize = OWNED as usize;

/// Where a name or a value is kept.
#[derive(Clone, Copy)]
enum Text {
    /// `len` bytes from `start` of the shared bytes, or of the owned buffer
    /// when `start` carries the [`OWNED`] bit.
    Span { start: u32, len: u32 },
    /// A string that lives for the whole program.
    Static(&'static str),
}

impl Default for Text {
    fn default() -> Self {
        Text::Static("")
    }
}

impl Text {
    /// A span of the shared (`owned == false`) or owned bytes; `None` past
    /// 2 GiB.
    fn span(start: usize, len: usize, owned: bool) -> Option<Text> {
        let start = u32::try_from(start).ok().filter(|&s| s < OWNED)?;
        let len = u32::try_from(len).ok()?;
        Some(Text::Span {
            start: if owned { start | OWNED } else { start },
            len,
        })
    }

    fn len(self) -> usize {
        match self {
            Text::Span { len, .. } => len as usize,
            Text::Static(s) => s.len(),
        }
    }

    /// How many bytes of the owned buffer this text holds.
    fn owned_len(self) -> usize {
        match self {
            Text::Span { start, len } if start & OWNED != 0 => len as usize,
            _ => 0,
        }
    }
}

/// One header line.
#[derive(Clone, Copy, Default)]
struct Entry {
    name: Text,
    value: Text,
}

/// The lines, inline while they are few.
#[derive(Clone)]
enum Lines {
    Inline {
        len: u8,
        entries: [Entry; INLINE_LINES],
    },
    Spilled(Vec<Entry>),
}

impl Default for Lines {
    fn default() -> Self {
        Lines::Inline {
            len: 0,
            entries: [Entry::default(); INLINE_LINES],
        }
    }
}

impl Lines {
    fn with_capacity(lines: usize) -> Self {
        if lines > INLINE_LINES {
            Lines::Spilled(Vec::with_capacity(lines))
        } else {
            Lines::default()
        }
    }

    fn as_slice(&self) -> &[Entry] {
        match self {
            Lines::Inline { len, entries } => entries.get(..usize::from(*len)).unwrap_or_default(),
            Lines::Spilled(v) => v,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [Entry] {
        match self {
            Lines::Inline { len, entries } => {
                entries.get_mut(..usize::from(*len)).unwrap_or_default()
            }
            Lines::Spilled(v) => v,
        }
    }

    fn push(&mut self, entry: Entry) {
        match self {
            Lines::Inline { len, entries } => {
                if let Some(slot) = entries.get_mut(usize::from(*len)) {
                    *slot = entry;
                    *len += 1;
                } else {
                    let mut v = Vec::with_capacity(2 * INLINE_LINES);
                    v.extend_from_slice(entries);
                    v.push(entry);
                    *self = Lines::Spilled(v);
                }
            }
            Lines::Spilled(v) => v.push(entry),
        }
    }

    fn retain(&mut self, mut keep: impl FnMut(&Entry) -> bool) {
        match self {
            Lines::Inline { len, entries } => {
                let mut kept = 0;
                for i in 0..usize::from(*len) {
                    let e = entries[i];
                    if keep(&e) {
                        entries[kept] = e;
                        kept += 1;
                    }
                }
                *len = kept as u8;
            }
            Lines::Spilled(v) => v.retain(keep),
        }
    }

    fn clear(&mut self) {
        match self {
            Lines::Inline { len, .. } => *len = 0,
            Lines::Spilled(v) => v.clear(),
        }
    }
}

/// HTTP headers: a multi-map from case-insensitive names to values, in the
/// order the lines were added (a line [`set`](Self::set) takes the place of the
/// first line it replaces).
///
/// Names keep the case they were given (so output looks the way the handler
/// wrote it) and compare case-insensitively. A name may have several values
/// (`Set-Cookie`, repeated `Accept` lines); [`get`](Self::get) gives the
/// first, [`get_all`](Self::get_all) every one, and
/// [`get_joined`](Self::get_joined) Tornado's `headers[name]`: all values
/// joined with `,`.
///
/// Headers parsed from a request head are views into the head's bytes (see
/// [`parse_request_layout`](crate::http1connection::parse_request_layout)),
/// not copies; lines added later are copied into one owned buffer, or kept
/// as they are when they are `&'static str`
/// ([`add_static`](Self::add_static), [`set_static`](Self::set_static)).
/// Up to four lines are kept inline, without allocating. The struct is
/// 208 bytes on 64-bit targets.
///
/// Differences from Tornado's `HTTPHeaders`: names are not re-cased to
/// `Http-Header-Case`; [`iter`](Self::iter) yields lines in the order above
/// rather than grouped by name; [`len`](Self::len) counts lines, not
/// distinct names; [`add`](Self::add) does not validate (use
/// [`try_add`](Self::try_add)); bad characters are caught when parsing and
/// when a response is encoded.
///
/// ```
/// use tornado_httpserver::httputil::HttpHeaders;
///
/// let mut h = HttpHeaders::parse("Content-Type: text/html\r\nSet-Cookie: A=B\r\n").unwrap();
/// h.add("set-cookie", "C=D");
/// h.add_static("X-Frame-Options", "DENY");
/// assert_eq!(h.get("content-type"), Some("text/html"));
/// assert_eq!(h.get_all("Set-Cookie").collect::<Vec<_>>(), ["A=B", "C=D"]);
/// assert_eq!(h.get_joined("SET-COOKIE").as_deref(), Some("A=B,C=D"));
/// assert_eq!(h.get("x-frame-options"), Some("DENY"));
/// ```
#[derive(Clone, Default)]
pub struct HttpHeaders {
    /// The request head that the shared spans point into.
    shared: Bytes,
    /// Names and values added by copy.
    owned: String,
    lines: Lines,
    /// Bytes of all names and values together.
    live: usize,
    /// Bytes of `owned` still referenced by a line.
    owned_live: usize,
}

impl HttpHeaders {
    /// Empty headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Empty headers with room for `lines` lines holding `bytes` bytes of
    /// names and values copied in.
    pub fn with_capacity(lines: usize, bytes: usize) -> Self {
        HttpHeaders {
            shared: Bytes::new(),
            owned: String::with_capacity(bytes),
            lines: Lines::with_capacity(lines),
            live: 0,
            owned_live: 0,
        }
    }

    /// Parses a header block: lines `Name: value` ended by CRLF (or a bare
    /// LF, which RFC 9112 lets a recipient accept), up to an optional empty
    /// line.
    ///
    /// Rejects, with a 400 error: a line that starts with a space or tab
    /// (obs-fold, a continuation line; Tornado 6.6 rejects these too), a
    /// line without a colon, a name that is not a token, and a value with a
    /// control character other than tab (a bare CR included). Spaces and
    /// tabs around a value are trimmed; other whitespace is kept.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let mut headers = HttpHeaders::with_capacity(8, text.len());
        for line in text.split_inclusive('\n') {
            headers.parse_line(line)?;
        }
        Ok(headers)
    }

    /// [`parse`](Self::parse) on bytes: UTF-8 when the block is valid UTF-8,
    /// Latin-1 (one char per byte, as Tornado decodes headers) otherwise.
    pub fn parse_bytes(block: &[u8]) -> Result<Self, ParseError> {
        Self::parse(&bytes_to_str(block))
    }

    /// Adds one header line (with or without its CRLF or LF); an empty line is
    /// ignored. A CR not followed by LF ends no line: it is a bare CR, refused in
    /// the value. See [`parse`](Self::parse) for what is rejected.
    pub fn parse_line(&mut self, line: &str) -> Result<(), ParseError> {
        let line = match line.strip_suffix('\n') {
            Some(line) => line.strip_suffix('\r').unwrap_or(line),
            None => line,
        };
        if line.is_empty() {
            return Ok(());
        }
        if line.starts_with([' ', '\t']) {
            return Err(ParseError::bad_request(
                "header line starts with whitespace: folded headers are not supported",
            ));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(ParseError::bad_request("no colon in header line"));
        };
        self.try_add(name, value.trim_matches([' ', '\t']))
    }

    /// Adds a value for `name` after the existing ones, checking that the
    /// name is a token and the value has no control character but tab.
    pub fn try_add(&mut self, name: &str, value: &str) -> Result<(), ParseError> {
        if !is_token(name.as_bytes()) {
            return Err(ParseError::bad_request(format!(
                "invalid header name {name:?}"
            )));
        }
        if !is_field_value(value) {
            return Err(ParseError::bad_request(format!(
                "invalid header value {value:?}"
            )));
        }
        self.add(name, value);
        Ok(())
    }

    /// Adds a value for `name` after the existing ones, copying both.
    ///
    /// Does not validate: a name or value that would break the framing is
    /// refused when the response is encoded.
    ///
    /// # Panics
    ///
    /// If the names and values copied into these headers (less those
    /// removed since) pass 2 GiB.
    pub fn add(&mut self, name: &str, value: &str) {
        let name = self.copy_in(name);
        let value = self.copy_in(value);
        self.push(Entry { name, value });
    }

    /// [`add`](Self::add) for a name and value that live for the whole
    /// program: they are kept as they are, not copied, so a response whose
    /// headers are literals allocates nothing for them.
    pub fn add_static(&mut self, name: &'static str, value: &'static str) {
        self.push(Entry {
            name: Text::Static(name),
            value: Text::Static(value),
        });
    }

    /// The bytes of all names and values together (what encoding them needs, less
    /// separators).
    pub fn byte_len(&self) -> usize {
        self.live
    }

    /// Replaces every value of `name` with `value` (Tornado's
    /// `headers[name] = value`), with `name` spelled as given here. The line keeps
    /// the place of the first value it replaces, as a key keeps its place in
    /// Tornado's dict; a new name goes last.
    ///
    /// ```
    /// use tornado_httpserver::httputil::HttpHeaders;
    ///
    /// let mut h = HttpHeaders::new();
    /// h.add("Content-Type", "text/html");
    /// h.add("Vary", "Accept");
    /// h.add("content-type", "text/css");
    /// h.set("Content-Type", "text/plain");
    /// let lines: Vec<_> = h.iter().collect();
    /// assert_eq!(lines, [("Content-Type", "text/plain"), ("Vary", "Accept")]);
    /// ```
    pub fn set(&mut self, name: &str, value: &str) {
        let Some(at) = self.replace_at(name) else {
            return self.add(name, value);
        };
        let same_name = self.view().bytes(self.lines.as_slice()[at].name) == name.as_bytes();
        let name = if same_name {
            None
        } else {
            Some(self.copy_in(name))
        };
        let value = self.copy_in(value);
        self.put_at(at, name, value);
    }

    /// [`set`](Self::set) without copying: see [`add_static`](Self::add_static).
    pub fn set_static(&mut self, name: &'static str, value: &'static str) {
        let Some(at) = self.replace_at(name) else {
            return self.add_static(name, value);
        };
        self.put_at(at, Some(Text::Static(name)), Text::Static(value));
    }

    /// The index of the first line of `name`, with every later line of it removed;
    /// `None` when there is none.
    fn replace_at(&mut self, name: &str) -> Option<usize> {
        let view = self.view();
        let at = view.lines.iter().position(|e| view.is(e, name))?;
        if !view.lines[at + 1..].iter().any(|e| view.is(e, name)) {
            return Some(at);
        }
        self.remove_from(name, at + 1);
        Some(at)
    }

    /// Removes every line of `name` from index `first` on, keeping the byte counts
    /// (not compacting: the caller does).
    fn remove_from(&mut self, name: &str, first: usize) {
        let view = HeadersView {
            shared: &self.shared,
            owned: &self.owned,
            lines: &[],
        };
        let (mut index, mut freed, mut owned_freed) = (0, 0, 0);
        self.lines.retain(|e| {
            let keep = index < first || !view.is(e, name);
            index += 1;
            if !keep {
                freed += e.name.len() + e.value.len();
                owned_freed += e.name.owned_len() + e.value.owned_len();
            }
            keep
        });
        self.live -= freed;
        self.owned_live -= owned_freed;
    }

    /// Overwrites line `at`'s value (and its name, when given), keeping the byte
    /// counts and the owned buffer's compaction as [`remove`](Self::remove) does.
    fn put_at(&mut self, at: usize, name: Option<Text>, value: Text) {
        let e = &mut self.lines.as_mut_slice()[at];
        let mut freed = e.value.len();
        let mut owned_freed = e.value.owned_len();
        self.live += value.len();
        e.value = value;
        if let Some(name) = name {
            freed += e.name.len();
            owned_freed += e.name.owned_len();
            self.live += name.len();
            e.name = name;
        }
        self.live -= freed;
        self.owned_live -= owned_freed;
        if self.owned.len() > 2 * self.owned_live + 1024 {
            self.compact();
        }
    }

    /// The first value of `name`, if any.
    ///
    /// Tornado's `headers[name]` joins repeated values with `,`; that is
    /// [`get_joined`](Self::get_joined).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.view().get(name)
    }

    /// Every value of `name`, in order (Tornado's `get_list`).
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.view().get_all(name)
    }

    /// All values of `name` joined with `,` (Tornado's `headers[name]`);
    /// borrows when there is only one.
    pub fn get_joined(&self, name: &str) -> Option<Cow<'_, str>> {
        self.view().get_joined(name)
    }

    /// Whether `name` has at least one value.
    pub fn contains(&self, name: &str) -> bool {
        let view = self.view();
        view.lines.iter().any(|e| view.is(e, name))
    }

    /// Removes every value of `name`; returns whether there was one.
    pub fn remove(&mut self, name: &str) -> bool {
        if !self.contains(name) {
            return false;
        }
        let before = self.lines.as_slice().len();
        self.remove_from(name, 0);
        if self.owned.len() > 2 * self.owned_live + 1024 {
            self.compact();
        }
        self.lines.as_slice().len() != before
    }

    /// Every `(name, value)` line, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.view().iter()
    }

    /// The number of lines (a name with two values counts twice).
    pub fn len(&self) -> usize {
        self.lines.as_slice().len()
    }

    /// Whether there are no lines.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every line (and lets go of the request head they viewed),
    /// keeping the allocations for reuse.
    pub fn clear(&mut self) {
        self.shared = Bytes::new();
        self.owned.clear();
        self.lines.clear();
        self.live = 0;
        self.owned_live = 0;
    }

    /// Converts to an [`http::HeaderMap`]; fails (400) on a name or value
    /// the `http` crate refuses.
    pub fn to_header_map(&self) -> Result<HeaderMap, ParseError> {
        let mut map = HeaderMap::with_capacity(self.len());
        for (name, value) in self.iter() {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ParseError::bad_request(format!("invalid header name {name:?}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| ParseError::bad_request(format!("invalid header value {value:?}")))?;
            map.append(name, value);
        }
        Ok(map)
    }

    /// Adds a line whose name and value are `name` and `value` of the bytes
    /// that [`attach`](Self::attach) will give (the request head); `false`
    /// if a range lies past 2 GiB.
    pub(crate) fn push_shared(&mut self, name: Range<usize>, value: Range<usize>) -> bool {
        let (Some(name), Some(value)) = (
            Text::span(name.start, name.len(), false),
            Text::span(value.start, value.len(), false),
        ) else {
            return false;
        };
        self.push(Entry { name, value });
        true
    }

    /// [`push_shared`](Self::push_shared) for a value that is copied in (a
    /// value decoded from Latin-1).
    pub(crate) fn push_shared_name(&mut self, name: Range<usize>, value: &str) -> bool {
        let Some(name) = Text::span(name.start, name.len(), false) else {
            return false;
        };
        let value = self.copy_in(value);
        self.push(Entry { name, value });
        true
    }

    /// Gives the bytes the shared spans point into (the request head).
    pub(crate) fn attach(&mut self, shared: Bytes) {
        self.shared = shared;
    }

    /// Reads the lines as if `shared` were attached (the head being parsed,
    /// before it is split off the read buffer).
    pub(crate) fn view_over<'a>(&'a self, shared: &'a [u8]) -> HeadersView<'a> {
        HeadersView {
            shared,
            owned: &self.owned,
            lines: self.lines.as_slice(),
        }
    }

    fn view(&self) -> HeadersView<'_> {
        self.view_over(&self.shared)
    }

    fn push(&mut self, entry: Entry) {
        self.live += entry.name.len() + entry.value.len();
        self.lines.push(entry);
    }

    /// Copies `s` into the owned buffer.
    fn copy_in(&mut self, s: &str) -> Text {
        if s.is_empty() {
            return Text::default();
        }
        let Some(text) = Text::span(self.owned.len(), s.len(), true) else {
            panic!("HttpHeaders: more than 2 GiB of header names and values");
        };
        if self.owned.capacity() == 0 {
            // Room for the few lines a response usually copies in (a Content-Type, an
            // ETag), so they do not regrow the buffer line by line: a buffer a dropped
            // header set gave back to this thread, or a new one.
            self.owned = take_spare_owned();
            self.owned.reserve(s.len().max(FIRST_OWNED_CAPACITY));
        }
        self.owned.push_str(s);
        self.owned_live += s.len();
        text
    }

    /// Drops the bytes of removed lines from the owned buffer.
    fn compact(&mut self) {
        let old = std::mem::take(&mut self.owned);
        let mut fresh = String::with_capacity(self.owned_live);
        for e in self.lines.as_mut_slice() {
            for text in [&mut e.name, &mut e.value] {
                if let Text::Span { start, len } = *text
                    && start & OWNED != 0
                {
                    let piece = owned_piece(&old, start, len);
                    // `fresh` is smaller than `old`, so the span fits.
                    *text = Text::span(fresh.len(), piece.len(), true).unwrap_or_default();
                    fresh.push_str(piece);
                }
            }
        }
        self.owned = fresh;
    }
}

impl Drop for HttpHeaders {
    /// Gives a small owned buffer back to the thread, for the next header set that
    /// copies a line in (each response whose handler sets a header does).
    fn drop(&mut self) {
        let cap = self.owned.capacity();
        if cap != 0 && cap <= SPARE_OWNED_MAX {
            let mut owned = std::mem::take(&mut self.owned);
            owned.clear();
            let _ = SPARE_OWNED.try_with(|spare| {
                if let Ok(mut spare) = spare.try_borrow_mut()
                    && spare.len() < SPARE_OWNED_COUNT
                {
                    spare.push(owned);
                }
            });
        }
    }
}

/// The most owned buffers a thread keeps for reuse.
const SPARE_OWNED_COUNT: usize = 16;
/// Owned buffers larger than this are freed, not kept.
const SPARE_OWNED_MAX: usize = 1024;

thread_local! {
    /// Owned buffers of dropped header sets, emptied, for reuse on this thread.
    static SPARE_OWNED: std::cell::RefCell<Vec<String>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// An empty buffer for copied-in names and values: a spare one when the thread has
/// one.
fn take_spare_owned() -> String {
    SPARE_OWNED
        .try_with(|spare| spare.try_borrow_mut().ok().and_then(|mut s| s.pop()))
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// `len` bytes of the owned buffer at `start` (less its [`OWNED`] bit).
fn owned_piece(owned: &str, start: u32, len: u32) -> &str {
    owned
        .get((start & !OWNED) as usize..)
        .and_then(|rest| rest.get(..len as usize))
        .unwrap_or_default()
}

/// A read-only view of header lines, with the bytes their shared spans point
/// into.
#[derive(Clone, Copy)]
pub(crate) struct HeadersView<'a> {
    shared: &'a [u8],
    owned: &'a str,
    lines: &'a [Entry],
}

impl<'a> HeadersView<'a> {
    fn bytes(&self, text: Text) -> &'a [u8] {
        match text {
            Text::Static(s) => s.as_bytes(),
            Text::Span { start, len } if start & OWNED != 0 => {
                owned_piece(self.owned, start, len).as_bytes()
            }
            Text::Span { start, len } => self
                .shared
                .get(start as usize..)
                .and_then(|rest| rest.get(..len as usize))
                .unwrap_or_default(),
        }
    }

    fn text(&self, text: Text) -> &'a str {
        match text {
            Text::Static(s) => s,
            Text::Span { start, len } if start & OWNED != 0 => owned_piece(self.owned, start, len),
            // Parsed values were checked to be UTF-8 (others were decoded into
            // the owned buffer), so this does not fail.
            Text::Span { .. } => std::str::from_utf8(self.bytes(text)).unwrap_or_default(),
        }
    }

    fn is(&self, e: &Entry, name: &str) -> bool {
        // Most names differ in length; most that match are spelled the same way.
        if e.name.len() != name.len() {
            return false;
        }
        let have = self.bytes(e.name);
        have == name.as_bytes() || have.eq_ignore_ascii_case(name.as_bytes())
    }

    /// See [`HttpHeaders::get`].
    pub(crate) fn get(self, name: &str) -> Option<&'a str> {
        self.lines
            .iter()
            .find(|e| self.is(e, name))
            .map(|e| self.text(e.value))
    }

    /// See [`HttpHeaders::get_all`].
    pub(crate) fn get_all<'n>(self, name: &'n str) -> impl Iterator<Item = &'a str> + 'n
    where
        'a: 'n,
    {
        self.lines
            .iter()
            .filter(move |e| self.is(e, name))
            .map(move |e| self.text(e.value))
    }

    /// See [`HttpHeaders::get_joined`].
    pub(crate) fn get_joined(self, name: &str) -> Option<Cow<'a, str>> {
        let mut joined: Option<Cow<'a, str>> = None;
        for value in self.get_all(name) {
            joined = Some(match joined {
                None => Cow::Borrowed(value),
                Some(prev) => {
                    let mut s = prev.into_owned();
                    s.push(',');
                    s.push_str(value);
                    Cow::Owned(s)
                }
            });
        }
        joined
    }

    fn iter(self) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.lines
            .iter()
            .map(move |e| (self.text(e.name), self.text(e.value)))
    }
}

/// Decodes header bytes: as UTF-8 when valid, else as Latin-1.
pub(crate) fn bytes_to_str(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}

/// What the first copied line reserves in the owned buffer.
const FIRST_OWNED_CAPACITY: usize = 96;

/// Which bytes are RFC 9110 `tchar`s: one lookup per byte instead of a chain of
/// comparisons (every header name written or checked goes through it).
const TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = matches!(b as u8,
            b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.'
            | b'^' | b'_' | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z');
        b += 1;
    }
    table
};

/// RFC 9110 `tchar`.
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// RFC 9110 `token`: one or more `tchar`.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// A field value: no control character but tab (non-ASCII text allowed).
pub(crate) fn is_field_value(s: &str) -> bool {
    fn allowed(b: u8) -> bool {
        (b >= 0x20 || b == b'\t') && b != 0x7f
    }
    let bytes = s.as_bytes();
    if bytes.len() < 8 {
        return bytes.iter().all(|&b| allowed(b));
    }
    // Eight bytes at a time, the last eight overlapping the word before them: only a
    // word that may hold a control byte (a tab, say) is checked byte by byte.
    let word_ok = |word: &[u8]| {
        // A chunk is always eight bytes; 0 would only send it to the exact check.
        let x = word.try_into().map_or(0, u64::from_le_bytes);
        !(has_byte_below(x, 0x20) || has_byte_below(x ^ (ONES * 0x7f), 1))
            || word.iter().all(|&b| allowed(b))
    };
    bytes.chunks_exact(8).all(word_ok) && word_ok(&bytes[bytes.len() - 8..])
}

/// `0x01` in every byte of a word.
const ONES: u64 = u64::from_le_bytes([1; 8]);

/// Whether a byte of `x` is below `n` (`n` at most 128); never wrong when one is,
/// though it may say so when none is (only past a byte that is).
pub(crate) fn has_byte_below(x: u64, n: u8) -> bool {
    x.wrapping_sub(ONES * u64::from(n)) & !x & (ONES * 0x80) != 0
}

impl fmt::Debug for HttpHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// One `Name: value\r\n` line per header.
impl fmt::Display for HttpHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in self.iter() {
            write!(f, "{name}: {value}\r\n")?;
        }
        Ok(())
    }
}

/// Equal when the same lines come in the same order (names compared
/// case-insensitively).
impl PartialEq for HttpHeaders {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|((n1, v1), (n2, v2))| n1.eq_ignore_ascii_case(n2) && v1 == v2)
    }
}

impl Eq for HttpHeaders {}

impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for HttpHeaders {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut headers = HttpHeaders::new();
        headers.extend(iter);
        headers
    }
}

impl<N: AsRef<str>, V: AsRef<str>> Extend<(N, V)> for HttpHeaders {
    fn extend<I: IntoIterator<Item = (N, V)>>(&mut self, iter: I) {
        for (name, value) in iter {
            self.add(name.as_ref(), value.as_ref());
        }
    }
}

/// Values that are not visible ASCII are decoded as UTF-8 when valid, else
/// as Latin-1.
impl From<&HeaderMap> for HttpHeaders {
    fn from(map: &HeaderMap) -> Self {
        let mut headers = HttpHeaders::with_capacity(map.len(), 0);
        for (name, value) in map {
            headers.add(name.as_str(), &bytes_to_str(value.as_bytes()));
        }
        headers
    }
}

impl TryFrom<&HttpHeaders> for HeaderMap {
    type Error = ParseError;

    fn try_from(headers: &HttpHeaders) -> Result<Self, ParseError> {
        headers.to_header_map()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_values_word_by_word() {
        // Every bad byte at every place of a value longer than two words, and a tab
        // (allowed, but below 0x20) beside it.
        for len in [1, 7, 8, 9, 16, 23] {
            for at in 0..len {
                let mut v = vec![b'a'; len];
                v[at] = b'\t';
                assert!(is_field_value(std::str::from_utf8(&v).unwrap()));
                for bad in [0u8, b'\r', b'\n', 0x1b, 0x1f, 0x7f] {
                    v[at] = bad;
                    assert!(!is_field_value(std::str::from_utf8(&v).unwrap()), "{v:?}");
                }
            }
        }
        assert!(is_field_value("caf\u{e9} \u{7ff}\u{ffff} ~ !"));
    }

    #[test]
    fn multi_values_and_case() {
        let mut h = HttpHeaders::new();
        h.add("Set-Cookie", "A=B");
        h.add("set-cookie", "C=D");
        h.add("Content-Type", "text/html");
        assert_eq!(h.get("SET-COOKIE"), Some("A=B"));
        assert_eq!(h.get_joined("set-cookie").as_deref(), Some("A=B,C=D"));
        assert!(matches!(
            h.get_joined("content-type"),
            Some(Cow::Borrowed("text/html"))
        ));
        assert_eq!(h.len(), 3);
        assert!(h.contains("content-TYPE"));
        h.set("SET-cookie", "E=F");
        assert_eq!(h.get_all("Set-Cookie").collect::<Vec<_>>(), ["E=F"]);
        assert!(h.remove("content-type"));
        assert!(!h.remove("content-type"));
        assert_eq!(h.get("Content-Type"), None);
        let lines: Vec<_> = h.iter().collect();
        assert_eq!(lines, [("SET-cookie", "E=F")]);
    }

    #[test]
    fn keeps_original_case_and_order() {
        let h = HttpHeaders::parse("x-B: 1\r\nX-a: 2\r\nx-b: 3\r\n\r\n").unwrap();
        let lines: Vec<_> = h.iter().collect();
        assert_eq!(lines, [("x-B", "1"), ("X-a", "2"), ("x-b", "3")]);
        assert_eq!(h.to_string(), "x-B: 1\r\nX-a: 2\r\nx-b: 3\r\n");
    }

    #[test]
    fn string_round_trip() {
        let mut h = HttpHeaders::new();
        h.add("Foo", "1");
        h.add("Foo", "2");
        h.add("Foo", "3");
        assert_eq!(HttpHeaders::parse(&h.to_string()).unwrap(), h);
    }

    #[test]
    fn folding_rejected() {
        let err = HttpHeaders::parse("Foo: bar\r\n\tasdf").unwrap_err();
        assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
        assert!(err.reason().contains("folded"));
        assert!(HttpHeaders::parse("Foo: bar\r\n asdf\r\n").is_err());
    }

    #[test]
    fn forbidden_ascii_characters() {
        for c in 0u8..0xff {
            let ch = char::from(c);
            let data = format!("Foo: bar{ch}baz\r\n");
            if c == 0x09 || (c >= 0x20 && c != 0x7f) {
                let h = HttpHeaders::parse(&data).unwrap();
                assert_eq!(h.get("Foo"), Some(format!("bar{ch}baz").as_str()));
            } else {
                assert!(HttpHeaders::parse(&data).is_err(), "byte {c:#x} accepted");
            }
        }
    }

    #[test]
    fn a_cr_not_before_lf_is_no_line_ending() {
        // Only CRLF or LF ends a line (Tornado strips `\r?\n`): a bare CR ending the
        // text, or a line, stays in the value and is refused there, as any bare CR is.
        for text in ["Foo: bar\r", "Foo: bar\r\r\n", "Foo: bar\r\r\nX: y\r\n"] {
            assert!(HttpHeaders::parse(text).is_err(), "{text:?} accepted");
        }
        assert!(HttpHeaders::new().parse_line("Foo: bar\r").is_err());
        let h = HttpHeaders::parse("Foo: bar\r\nX: y\nZ: z").unwrap();
        assert_eq!(h.get("Foo"), Some("bar"));
        assert_eq!(h.get("X"), Some("y"));
        assert_eq!(h.get("Z"), Some("z"));
        // A multipart part whose headers end in `\r\r\n\r\n` is refused as Tornado does.
        let mut args = super::super::Arguments::new();
        let mut files = super::super::Files::new();
        let body = bytes::Bytes::from_static(
            b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\r\n\r\nv\r\n--b--\r\n",
        );
        assert!(
            super::super::parse_body_arguments(
                "multipart/form-data; boundary=b",
                &body,
                &mut args,
                &mut files,
                &HttpHeaders::new(),
            )
            .is_err()
        );
    }

    #[test]
    fn unicode_newlines_are_not_separators() {
        for nl in ["\u{85}", "\u{2028}", "\u{2029}"] {
            let h = HttpHeaders::parse(&format!("Cookie: foo={nl}bar")).unwrap();
            assert_eq!(h.len(), 1);
            assert_eq!(h.get("cookie"), Some(format!("foo={nl}bar").as_str()));
        }
        // Latin-1 bytes that are not UTF-8 decode one char per byte.
        let h = HttpHeaders::parse_bytes(b"Cookie: foo=\x85bar").unwrap();
        assert_eq!(h.get("cookie"), Some("foo=\u{85}bar"));
    }

    #[test]
    fn only_space_and_tab_are_trimmed() {
        for (c, stripped) in [
            (" ", true),
            ("\t", true),
            ("\u{a0}", false),
            ("\u{85}", false),
        ] {
            let h = HttpHeaders::parse(&format!("Transfer-Encoding: {c}chunked")).unwrap();
            let expected = if stripped {
                "chunked".to_string()
            } else {
                format!("{c}chunked")
            };
            assert_eq!(h.get("transfer-encoding"), Some(expected.as_str()));
        }
    }

    #[test]
    fn optional_cr() {
        assert!(HttpHeaders::parse("CRLF: crlf\r\nLF: lf\nCR: cr\rMore: more\r\n").is_err());
        let h = HttpHeaders::parse("CRLF: crlf\r\nLF: lf\nMore: more\r\n").unwrap();
        let lines: Vec<_> = h.iter().collect();
        assert_eq!(lines, [("CRLF", "crlf"), ("LF", "lf"), ("More", "more")]);
    }

    #[test]
    fn invalid_header_names() {
        for name in [
            "", "foo bar", "foo\tbar", "foo\nbar", "foo\0bar", "foo ", " foo", "é",
        ] {
            let mut h = HttpHeaders::new();
            assert!(h.try_add(name, "bar").is_err(), "{name:?} accepted");
            assert!(h.is_empty());
        }
        assert!(HttpHeaders::parse("no colon here\r\n").is_err());
        assert!(HttpHeaders::parse("Foo : bar\r\n").is_err());
    }

    #[test]
    fn header_map_round_trip() {
        let h = HttpHeaders::parse("Accept: a\r\naccept: b\r\nHost: x\r\n").unwrap();
        let map = h.to_header_map().unwrap();
        assert_eq!(map.get_all("accept").iter().count(), 2);
        let back = HttpHeaders::from(&map);
        assert_eq!(back.get_all("ACCEPT").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(back.get("host"), Some("x"));
    }

    #[test]
    fn repeated_set_does_not_grow_without_bound() {
        let mut h = HttpHeaders::new();
        for i in 0..10_000 {
            h.set("X-Counter", &i.to_string());
        }
        assert_eq!(h.get("x-counter"), Some("9999"));
        assert!(h.owned.len() < 4096);
    }

    #[test]
    fn set_keeps_the_first_place_and_drops_the_rest() {
        fn bytes(h: &HttpHeaders) -> usize {
            h.iter().map(|(n, v)| n.len() + v.len()).sum()
        }
        fn owned(h: &HttpHeaders) -> usize {
            let lines = h.lines.as_slice().iter();
            lines
                .map(|e| e.name.owned_len() + e.value.owned_len())
                .sum()
        }
        // Inline and spilled lines alike.
        for filler in [0, 12] {
            let mut h = HttpHeaders::new();
            h.add("A", "1");
            h.add("Set-Cookie", "a=1");
            for i in 0..filler {
                h.add(&format!("X-{i}"), "x");
            }
            h.add("set-cookie", "b=2");
            h.add("B", "2");
            h.set("SET-COOKIE", "c=3");
            let lines: Vec<_> = h.iter().collect();
            assert_eq!(lines[..2], [("A", "1"), ("SET-COOKIE", "c=3")]);
            assert_eq!(lines[lines.len() - 1], ("B", "2"));
            assert_eq!(h.len(), 3 + filler);
            assert_eq!(h.byte_len(), bytes(&h));
            // The same spelling keeps its name; a new value of another length.
            h.set("SET-COOKIE", "a-longer=value");
            h.set_static("a", "one");
            let lines: Vec<_> = h.iter().collect();
            assert_eq!(lines[..2], [("a", "one"), ("SET-COOKIE", "a-longer=value")]);
            assert_eq!(h.byte_len(), bytes(&h));
            assert_eq!(h.owned_live, owned(&h));
            // A name not there goes last.
            h.set("C", "3");
            assert_eq!(h.iter().last(), Some(("C", "3")));
            assert_eq!(h.byte_len(), bytes(&h));
            assert_eq!(h.owned_live, owned(&h));
        }
        // Owned duplicates dropped by a set, past the compaction threshold.
        let mut h = HttpHeaders::new();
        let long = "v".repeat(600);
        for _ in 0..4 {
            h.add("X-Big", &long);
        }
        h.add("Y", "y");
        h.set("x-big", "small");
        assert_eq!(h.owned_live, owned(&h));
        assert!(h.owned.len() < 1024, "compacted: {}", h.owned.len());
        let lines: Vec<_> = h.iter().collect();
        assert_eq!(lines, [("x-big", "small"), ("Y", "y")]);
        assert_eq!(h.byte_len(), bytes(&h));
    }

    #[test]
    fn static_lines_are_not_copied() {
        let mut h = HttpHeaders::new();
        h.add_static("Content-Type", "text/plain");
        h.set_static("content-type", "text/html");
        h.add_static("X-Empty", "");
        assert_eq!(h.owned.capacity(), 0);
        assert!(matches!(h.lines, Lines::Inline { .. }));
        assert_eq!(h.get("Content-Type"), Some("text/html"));
        assert_eq!(h.get("x-empty"), Some(""));
        assert_eq!(
            h.byte_len(),
            "content-type".len() + "text/html".len() + "X-Empty".len()
        );
        assert_eq!(h.to_string(), "content-type: text/html\r\nX-Empty: \r\n");
        // Copied and static lines mix, in order.
        h.add("X-Copied", "1");
        let lines: Vec<_> = h.iter().collect();
        assert_eq!(
            lines,
            [
                ("content-type", "text/html"),
                ("X-Empty", ""),
                ("X-Copied", "1")
            ]
        );
    }

    #[test]
    fn lines_spill_past_the_inline_ones_and_keep_their_order() {
        let mut h = HttpHeaders::new();
        for i in 0..20 {
            h.add(&format!("X-{}", i % 3), &i.to_string());
            assert_eq!(
                matches!(h.lines, Lines::Inline { .. }),
                i < INLINE_LINES,
                "{i}"
            );
        }
        assert_eq!(h.len(), 20);
        assert_eq!(
            h.get_all("x-1").collect::<Vec<_>>(),
            ["1", "4", "7", "10", "13", "16", "19"]
        );
        assert!(h.remove("X-0"));
        assert_eq!(h.len(), 13);
        assert_eq!(h.iter().next(), Some(("X-1", "1")));
        let mut small = HttpHeaders::new();
        for i in 0..INLINE_LINES {
            small.add(&format!("X-{i}"), "v");
        }
        assert!(small.remove("x-3"));
        let names: Vec<_> = small.iter().map(|(n, _)| n.to_string()).collect();
        let expected: Vec<_> = (0..INLINE_LINES)
            .filter(|&i| i != 3)
            .map(|i| format!("X-{i}"))
            .collect();
        assert_eq!(names, expected);
        small.clear();
        assert!(small.is_empty());
        assert_eq!(small.byte_len(), 0);
    }

    #[test]
    fn shared_lines_view_the_attached_bytes() {
        let head = Bytes::from_static(b"Host: h\r\nX-Latin: caf\xe9\r\n");
        let mut h = HttpHeaders::new();
        assert!(h.push_shared(0..4, 6..7));
        assert!(h.push_shared_name(9..16, "caf\u{e9}"));
        // Before the bytes are attached, a view over them reads the same.
        assert_eq!(h.view_over(&head).get("host"), Some("h"));
        h.attach(head.clone());
        let host = h.get("HOST").unwrap();
        assert_eq!(host, "h");
        assert_eq!(host.as_ptr(), head[6..].as_ptr(), "a view, not a copy");
        assert_eq!(h.get("x-latin"), Some("caf\u{e9}"));
        assert_eq!(h.byte_len(), 4 + 1 + 7 + "caf\u{e9}".len());
        let mut copy = h.clone();
        copy.set("Host", "other");
        assert_eq!(
            (h.get("host"), copy.get("host")),
            (Some("h"), Some("other"))
        );
        assert_eq!(
            copy.iter().next(),
            Some(("Host", "other")),
            "set keeps the place"
        );
        // Ranges past the bytes read as empty, never panic.
        let mut bad = HttpHeaders::new();
        assert!(bad.push_shared(100..104, 0..200));
        bad.attach(head);
        assert_eq!(bad.iter().collect::<Vec<_>>(), [("", "")]);
        assert!(!bad.push_shared(0..1, MAX_SHARED_LEN..MAX_SHARED_LEN + 1));
    }

    #[test]
    fn compacting_keeps_shared_owned_and_static_lines() {
        let head = Bytes::from_static(b"Accept: */*");
        let mut h = HttpHeaders::new();
        assert!(h.push_shared(0..6, 8..11));
        h.attach(head);
        h.add_static("Server", "x");
        for i in 0..2_000 {
            h.set("X-Counter", &i.to_string());
        }
        h.add("X-Last", "last");
        assert!(h.owned.len() < 4096);
        let lines: Vec<_> = h.iter().collect();
        assert_eq!(
            lines,
            [
                ("Accept", "*/*"),
                ("Server", "x"),
                ("X-Counter", "1999"),
                ("X-Last", "last")
            ]
        );
    }
}
