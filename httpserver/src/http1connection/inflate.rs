//! Decoding `Content-Encoding: gzip` and `deflate` response bodies a piece
//! at a time, with the output of each call bounded.
//!
//! [`Inflater`] is a pull decoder: each call takes some input and gives at
//! most `scratch` bytes of output, and says how much input it used, so a
//! small compressed body cannot expand into more memory than one output
//! piece however large it decompresses to. The request side's
//! [`GzipDecoder`](super::GzipDecoder) runs it until its input is used,
//! appending the pieces to the body it gathers.
//!
//! - `gzip` (RFC 1952): header (with its optional fields and header CRC),
//!   raw deflate data, and the CRC-32 and length trailer, checked. Several
//!   members decode one after the other; anything after the last member
//!   that does not start another is an error, as in Tornado 6.6.
//! - `deflate`: RFC 9110 says zlib-wrapped (RFC 1950), but servers have long
//!   sent raw deflate (RFC 1951) instead, so, as browsers do, the first two
//!   bytes decide: a valid zlib header means zlib, anything else raw.
//!   Bytes after the end of the stream are an error.
//!
//! An empty body is valid for both (a `HEAD`-like empty response).

use std::borrow::Cow;

use bytes::Bytes;
use flate2::{Crc, Decompress, FlushDecompress, Status};

/// The content codings [`Inflater`] decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    /// `gzip` or `x-gzip`.
    Gzip,
    /// `deflate`: zlib, or raw deflate as a fallback.
    Deflate,
}

impl Coding {
    /// The coding a `Content-Encoding` value names, if it is one coding this
    /// module decodes (`identity`, `br`, lists and the like are not).
    pub(crate) fn from_header(value: &str) -> Option<Coding> {
        let value = value.trim_matches([' ', '\t']);
        if value.eq_ignore_ascii_case("gzip") || value.eq_ignore_ascii_case("x-gzip") {
            Some(Coding::Gzip)
        } else if value.eq_ignore_ascii_case("deflate") {
            Some(Coding::Deflate)
        } else {
            None
        }
    }
}

/// Why decoding failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// More output than the limit.
    TooLarge,
    /// Corrupt, truncated or trailing data; the message says which.
    Corrupt(Cow<'static, str>),
}

fn corrupt(message: impl Into<Cow<'static, str>>) -> InflateError {
    InflateError::Corrupt(message.into())
}

const FTEXT_RESERVED: u8 = 0xe0;
const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;

/// The parts of a gzip member header after the fixed ten bytes, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GzField {
    Fixed(u8),
    ExtraLen { got: u8, len: u16 },
    Extra(u16),
    Name,
    Comment,
    HeaderCrc { got: u8, value: u16 },
}

/// A gzip member header, read a byte at a time (it may arrive split across
/// chunks of a chunked body).
#[derive(Debug)]
struct GzHeader {
    field: GzField,
    flags: u8,
    crc: Crc,
}

impl GzHeader {
    fn new() -> Self {
        GzHeader {
            field: GzField::Fixed(0),
            flags: 0,
            crc: Crc::new(),
        }
    }

    fn untouched(&self) -> bool {
        self.field == GzField::Fixed(0)
    }

    /// Takes one byte; `Ok(true)` when the header is complete.
    fn feed(&mut self, b: u8) -> Result<bool, InflateError> {
        if !matches!(self.field, GzField::HeaderCrc { .. }) {
            self.crc.update(&[b]);
        }
        match self.field {
            GzField::Fixed(i) => {
                match (i, b) {
                    (0, 0x1f) | (1, 0x8b) | (2, 8) => {}
                    (0 | 1, _) => return Err(corrupt("invalid gzip data: not a gzip header")),
                    (2, _) => return Err(corrupt("invalid gzip data: unknown compression method")),
                    (3, flags) if flags & FTEXT_RESERVED != 0 => {
                        return Err(corrupt("invalid gzip data: reserved header flags set"));
                    }
                    (3, flags) => self.flags = flags,
                    _ => {}
                }
                if i < 9 {
                    self.field = GzField::Fixed(i + 1);
                    return Ok(false);
                }
                Ok(self.next_after(FTEXT_RESERVED))
            }
            GzField::ExtraLen { got, len } => {
                let len = len | u16::from(b) << (8 * got);
                if got == 0 {
                    self.field = GzField::ExtraLen { got: 1, len };
                    Ok(false)
                } else if len == 0 {
                    Ok(self.next_after(FEXTRA))
                } else {
                    self.field = GzField::Extra(len);
                    Ok(false)
                }
            }
            GzField::Extra(left) => {
                if left > 1 {
                    self.field = GzField::Extra(left - 1);
                    Ok(false)
                } else {
                    Ok(self.next_after(FEXTRA))
                }
            }
            GzField::Name => Ok(b == 0 && self.next_after(FNAME)),
            GzField::Comment => Ok(b == 0 && self.next_after(FCOMMENT)),
            GzField::HeaderCrc { got, value } => {
                let value = value | u16::from(b) << (8 * got);
                if got == 0 {
                    self.field = GzField::HeaderCrc { got: 1, value };
                    return Ok(false);
                }
                if u32::from(value) != self.crc.sum() & 0xffff {
                    return Err(corrupt("invalid gzip data: header CRC mismatch"));
                }
                Ok(true)
            }
        }
    }

    /// Moves to the first optional field after `done` that the flags
    /// announce; `true` when there is none left.
    fn next_after(&mut self, done: u8) -> bool {
        // The optional fields come in this order (RFC 1952 section 2.3).
        const ORDER: [u8; 4] = [FEXTRA, FNAME, FCOMMENT, FHCRC];
        let start = ORDER.iter().position(|&f| f == done).map_or(0, |i| i + 1);
        for &flag in ORDER.iter().skip(start) {
            if self.flags & flag != 0 {
                self.field = match flag {
                    FEXTRA => GzField::ExtraLen { got: 0, len: 0 },
                    FNAME => GzField::Name,
                    FCOMMENT => GzField::Comment,
                    _ => GzField::HeaderCrc { got: 0, value: 0 },
                };
                return false;
            }
        }
        true
    }
}

#[derive(Debug)]
enum Stage {
    /// A gzip member header (or, untouched, the start of the body).
    GzHeader(Box<GzHeader>),
    /// A gzip member's deflate data.
    GzData,
    /// A gzip member's CRC-32 and length.
    GzTrailer { bytes: [u8; 8], len: u8 },
    /// After a whole gzip member: the body may end, or another member start.
    GzMemberEnd,
    /// The first byte of a `deflate` body, kept until the second decides
    /// between zlib and raw deflate.
    Sniff { first: Option<u8> },
    /// `deflate` data; `held` is the sniffed first byte, not yet decoded.
    Deflate { held: Option<u8> },
    /// The `deflate` stream has ended.
    DeflateEnd,
}

/// A bounded-output decoder for one `gzip` or `deflate` body; see the
/// module documentation.
#[derive(Debug)]
pub(crate) struct Inflater {
    stage: Stage,
    /// Boxed: zlib-rs's state is several hundred bytes, and a body reader that
    /// decompresses nothing should not carry that space.
    inner: Box<Decompress>,
    /// CRC-32 and length of the current gzip member's output.
    crc: Crc,
    member_len: u64,
    total_out: u64,
    max_out: u64,
    scratch: Vec<u8>,
}

impl Inflater {
    /// A decoder that gives at most `piece` bytes per call and fails once
    /// the total output passes `max_out`.
    pub(crate) fn new(coding: Coding, max_out: u64, piece: usize) -> Self {
        let stage = match coding {
            Coding::Gzip => Stage::GzHeader(Box::new(GzHeader::new())),
            Coding::Deflate => Stage::Sniff { first: None },
        };
        Inflater {
            stage,
            inner: Box::new(Decompress::new(false)),
            crc: Crc::new(),
            member_len: 0,
            total_out: 0,
            max_out,
            scratch: vec![0; piece.max(1)],
        }
    }

    /// Decodes from the start of `input`: returns how many bytes of it were
    /// used and the output (at most the piece size; empty when the input
    /// held no output). Call again with the unused rest; with empty input,
    /// a call gives output the last call had no room for.
    pub(crate) fn inflate(&mut self, input: &[u8]) -> Result<(usize, Bytes), InflateError> {
        let room = self
            .max_out
            .saturating_sub(self.total_out)
            .saturating_add(1)
            .min(self.scratch.len() as u64) as usize;
        let mut pos = 0;
        let mut produced = 0;
        loop {
            let rest = input.get(pos..).unwrap_or_default();
            match &mut self.stage {
                Stage::GzHeader(header) => {
                    let Some(&b) = rest.first() else { break };
                    pos += 1;
                    if header.feed(b)? {
                        self.inner.reset(false);
                        self.crc.reset();
                        self.member_len = 0;
                        self.stage = Stage::GzData;
                    }
                }
                Stage::GzData => {
                    if produced == room {
                        break;
                    }
                    let (used, made, end) = self.run(rest, produced, room)?;
                    if let Some(out) = self.scratch.get(produced..produced + made) {
                        self.crc.update(out);
                    }
                    self.member_len += made as u64;
                    pos += used;
                    produced += made;
                    if end {
                        self.stage = Stage::GzTrailer {
                            bytes: [0; 8],
                            len: 0,
                        };
                    } else if used == 0 && made == 0 {
                        break;
                    }
                }
                Stage::GzTrailer { bytes, len } => {
                    let Some(&b) = rest.first() else { break };
                    pos += 1;
                    bytes[usize::from(*len)] = b;
                    *len += 1;
                    if *len == 8 {
                        let [c0, c1, c2, c3, s0, s1, s2, s3] = *bytes;
                        if u32::from_le_bytes([c0, c1, c2, c3]) != self.crc.sum() {
                            return Err(corrupt("invalid gzip data: CRC-32 mismatch"));
                        }
                        // ISIZE is the length modulo 2^32.
                        if u32::from_le_bytes([s0, s1, s2, s3]) != self.member_len as u32 {
                            return Err(corrupt("invalid gzip data: length mismatch"));
                        }
                        self.stage = Stage::GzMemberEnd;
                    }
                }
                Stage::GzMemberEnd => {
                    if rest.is_empty() {
                        break;
                    }
                    self.stage = Stage::GzHeader(Box::new(GzHeader::new()));
                }
                Stage::Sniff { first } => {
                    let (b0, b1) = match (*first, rest) {
                        (None, [b0, b1, ..]) => (*b0, *b1),
                        (None, [b0]) => {
                            *first = Some(*b0);
                            pos += 1;
                            break;
                        }
                        (Some(b0), [b1, ..]) => (b0, *b1),
                        (_, []) => break,
                    };
                    let zlib = b0 & 0x0f == 8
                        && b0 >> 4 <= 7
                        && (u16::from(b0) << 8 | u16::from(b1)) % 31 == 0;
                    *self.inner = Decompress::new(zlib);
                    self.stage = Stage::Deflate { held: *first };
                }
                Stage::Deflate { held } => {
                    if produced == room {
                        break;
                    }
                    let held = *held;
                    let held_buf;
                    let src = match held {
                        Some(b) => {
                            held_buf = [b];
                            &held_buf[..]
                        }
                        None => rest,
                    };
                    let (used, made, end) = self.run(src, produced, room)?;
                    produced += made;
                    if held.is_none() {
                        pos += used;
                    } else if used == 1 {
                        self.stage = Stage::Deflate { held: None };
                    }
                    if end {
                        self.stage = Stage::DeflateEnd;
                    } else if used == 0 && made == 0 {
                        break;
                    }
                }
                Stage::DeflateEnd => {
                    if !rest.is_empty() {
                        return Err(corrupt(
                            "invalid deflate data: bytes after the end of the stream",
                        ));
                    }
                    break;
                }
            }
        }
        if pos == 0 && produced == 0 && !input.is_empty() {
            return Err(corrupt("invalid compressed data: no progress"));
        }
        self.total_out += produced as u64;
        if self.total_out > self.max_out {
            return Err(InflateError::TooLarge);
        }
        let out = self
            .scratch
            .get(..produced)
            .map(Bytes::copy_from_slice)
            .unwrap_or_default();
        Ok((pos, out))
    }

    /// Decoded bytes so far.
    pub(crate) fn total_out(&self) -> u64 {
        self.total_out
    }

    /// Checks that the body ended where a stream may end. Call once
    /// [`inflate`](Self::inflate) with empty input gives nothing more.
    pub(crate) fn finish(&self) -> Result<(), InflateError> {
        match &self.stage {
            Stage::GzMemberEnd | Stage::DeflateEnd | Stage::Sniff { first: None } => Ok(()),
            Stage::GzHeader(header) if header.untouched() => Ok(()),
            Stage::GzHeader(_) | Stage::GzData | Stage::GzTrailer { .. } => {
                Err(corrupt("invalid gzip data: truncated"))
            }
            Stage::Sniff { .. } | Stage::Deflate { .. } => {
                Err(corrupt("invalid deflate data: truncated"))
            }
        }
    }

    /// One call of the deflate decoder into `scratch[at..room]`: input used,
    /// output made, and whether the stream ended.
    fn run(
        &mut self,
        input: &[u8],
        at: usize,
        room: usize,
    ) -> Result<(usize, usize, bool), InflateError> {
        let Some(out) = self.scratch.get_mut(at..room) else {
            return Ok((0, 0, false));
        };
        let (in_before, out_before) = (self.inner.total_in(), self.inner.total_out());
        let status = self
            .inner
            .decompress(input, out, FlushDecompress::None)
            .map_err(|e| corrupt(format!("invalid compressed data: {e}")))?;
        let used = (self.inner.total_in() - in_before) as usize;
        let made = (self.inner.total_out() - out_before) as usize;
        Ok((used, made, status == Status::StreamEnd))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut enc = ZlibEncoder::new(Vec::new(), Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn raw(data: &[u8]) -> Vec<u8> {
        let mut enc = DeflateEncoder::new(Vec::new(), Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    /// Feeds `input` in pieces of `step` bytes, as chunks of a body arrive,
    /// with output pieces of at most `piece` bytes, then drains and finishes.
    fn decode(
        coding: Coding,
        input: &[u8],
        step: usize,
        piece: usize,
        max: u64,
    ) -> Result<Vec<u8>, InflateError> {
        let mut inf = Inflater::new(coding, max, piece);
        let mut out = Vec::new();
        for mut chunk in input.chunks(step) {
            while !chunk.is_empty() {
                let (used, data) = inf.inflate(chunk)?;
                assert!(data.len() <= piece);
                out.extend_from_slice(&data);
                chunk = &chunk[used..];
            }
        }
        loop {
            let (_, data) = inf.inflate(&[])?;
            if data.is_empty() {
                break;
            }
            assert!(data.len() <= piece);
            out.extend_from_slice(&data);
        }
        inf.finish()?;
        Ok(out)
    }

    fn text() -> Vec<u8> {
        (0..5000u32)
            .flat_map(|i| format!("line {i} of some text\n").into_bytes())
            .collect()
    }

    #[test]
    fn decodes_every_coding_in_any_split() {
        let text = text();
        let mut two_members = gzip(&text[..1000]);
        two_members.extend(gzip(&text[1000..]));
        let rows: Vec<(Coding, Vec<u8>)> = vec![
            (Coding::Gzip, gzip(&text)),
            (Coding::Gzip, two_members),
            (Coding::Deflate, zlib(&text)),
            (Coding::Deflate, raw(&text)),
        ];
        for (coding, input) in &rows {
            for step in [1, 2, 7, 1000, input.len()] {
                for piece in [1, 100, 65536] {
                    if piece == 1 && step > 2 {
                        continue;
                    }
                    let out = decode(*coding, input, step, piece, 1 << 30)
                        .unwrap_or_else(|e| panic!("{coding:?} step {step} piece {piece}: {e:?}"));
                    assert!(out == text, "{coding:?} step {step} piece {piece}");
                }
            }
        }
    }

    #[test]
    fn empty_bodies_are_valid() {
        assert_eq!(decode(Coding::Gzip, b"", 1, 10, 10), Ok(vec![]));
        assert_eq!(decode(Coding::Deflate, b"", 1, 10, 10), Ok(vec![]));
    }

    #[test]
    fn gzip_header_fields_are_skipped_and_checked() {
        let mut enc = flate2::GzBuilder::new()
            .filename("a.txt")
            .comment("a comment")
            .extra(vec![1, 2, 3])
            .write(Vec::new(), Compression::default());
        enc.write_all(b"hello").unwrap();
        let mut data = enc.finish().unwrap();
        assert_eq!(decode(Coding::Gzip, &data, 1, 10, 10).unwrap(), b"hello");
        // With a header CRC (FHCRC) over those bytes.
        let header_len = data.len() - raw(b"hello").len() - 8;
        let mut crc = Crc::new();
        data[3] |= FHCRC;
        crc.update(&data[..header_len]);
        let sum = (crc.sum() & 0xffff) as u16;
        let mut with_crc = data[..header_len].to_vec();
        with_crc.extend_from_slice(&sum.to_le_bytes());
        with_crc.extend_from_slice(&data[header_len..]);
        assert_eq!(
            decode(Coding::Gzip, &with_crc, 3, 10, 10).unwrap(),
            b"hello"
        );
        with_crc[header_len] ^= 1;
        assert!(matches!(
            decode(Coding::Gzip, &with_crc, 3, 10, 10),
            Err(InflateError::Corrupt(_))
        ));
    }

    #[test]
    fn corrupt_truncated_and_trailing_data_are_errors() {
        let good = gzip(b"hello world");
        let mut trailing = good.clone();
        trailing.push(0);
        let mut bad_crc = good.clone();
        let n = bad_crc.len();
        bad_crc[n - 8] ^= 1;
        let mut bad_len = good.clone();
        bad_len[n - 1] ^= 1;
        let mut bad_flags = good.clone();
        bad_flags[3] = 0x80;
        let mut zlib_trailing = zlib(b"hello");
        zlib_trailing.extend_from_slice(b"xx");
        let mut zlib_bad_adler = zlib(b"hello");
        let z = zlib_bad_adler.len();
        zlib_bad_adler[z - 1] ^= 1;
        let rows: Vec<(&str, Coding, Vec<u8>)> = vec![
            ("trailing byte", Coding::Gzip, trailing),
            ("truncated", Coding::Gzip, good[..good.len() - 1].to_vec()),
            ("header only", Coding::Gzip, good[..10].to_vec()),
            ("bad crc", Coding::Gzip, bad_crc),
            ("bad length", Coding::Gzip, bad_len),
            ("reserved flags", Coding::Gzip, bad_flags),
            ("not gzip", Coding::Gzip, b"hello world".to_vec()),
            ("zlib trailing", Coding::Deflate, zlib_trailing),
            ("zlib bad adler", Coding::Deflate, zlib_bad_adler),
            (
                "zlib truncated",
                Coding::Deflate,
                zlib(b"hello")[..5].to_vec(),
            ),
            ("one byte", Coding::Deflate, vec![0x78]),
            ("garbage", Coding::Deflate, b"\xff\xff\xff\xff".to_vec()),
        ];
        for (name, coding, input) in rows {
            for step in [1, 1000] {
                let result = decode(coding, &input, step, 16, 1 << 20);
                assert!(
                    matches!(result, Err(InflateError::Corrupt(_))),
                    "{name} step {step}: {result:?}"
                );
            }
        }
    }

    #[test]
    fn output_is_limited() {
        let bomb = gzip(&vec![0u8; 1 << 20]);
        assert!(bomb.len() < 10_000);
        assert_eq!(
            decode(Coding::Gzip, &bomb, 4096, 65536, 1 << 20)
                .unwrap()
                .len(),
            1 << 20
        );
        assert_eq!(
            decode(Coding::Gzip, &bomb, 4096, 65536, (1 << 20) - 1),
            Err(InflateError::TooLarge)
        );
        // One call never makes more than one piece, however much the input holds.
        let mut inf = Inflater::new(Coding::Gzip, u64::MAX, 1000);
        let (used, out) = inf.inflate(&bomb).unwrap();
        assert_eq!(out.len(), 1000);
        assert!(used <= bomb.len());
    }
}
