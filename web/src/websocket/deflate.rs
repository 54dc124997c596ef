//! permessage-deflate (RFC 7692): negotiating its four parameters, as a server
//! answering an offer and as a client making one and checking the answer, and the
//! compressor and decompressor of one connection.
//!
//! A message is compressed as raw DEFLATE ended with a sync flush, whose final
//! `00 00 ff ff` is cut off before sending and put back before inflating. Without
//! "no context takeover" each direction keeps its LZ77 window from message to
//! message; with it, the (de)compressor is dropped after each message, so an idle
//! connection holds none (a window costs tens to hundreds of KiB).
//!
//! Window sizes below 15 bits need flate2's zlib-rs backend (miniz_oxide has a fixed
//! 32 KiB window). zlib never uses an 8-bit window for compressing; it compresses with
//! a 9-bit one whose farthest match is 250 bytes back (the window less the 262-byte
//! lookahead), which a peer's 8-bit (256-byte) window can follow, so an offer of 8 is
//! accepted as 8.
//!
//! ```
//! use tornado_web::websocket::deflate::{client_accept, client_offer, server_negotiate};
//! use tornado_web::websocket::CompressionOptions;
//!
//! let options = CompressionOptions::default();
//! // The client offers; the server answers; the client checks the answer.
//! let offer = client_offer(&options);
//! let (server, answer) = server_negotiate(&offer, &options).unwrap();
//! let client = client_accept(&answer, &options).unwrap();
//!
//! // The server compresses what it sends, the client inflates it.
//! let mut payload = Vec::new();
//! server.compressor(true, 6).compress("hello, hello, hello".as_bytes(), &mut payload);
//! let text = client.decompressor(false).decompress(&payload, 1024).unwrap();
//! assert_eq!(text, b"hello, hello, hello");
//! ```

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::frame::{ProtocolError, close_code};

/// The extension's name in `Sec-WebSocket-Extensions`.
///
/// ```
/// use tornado_web::websocket::deflate::{client_offer, EXTENSION_NAME};
/// use tornado_web::websocket::CompressionOptions;
///
/// assert_eq!(EXTENSION_NAME, "permessage-deflate");
/// assert!(client_offer(&CompressionOptions::default()).starts_with(EXTENSION_NAME));
/// ```
pub const EXTENSION_NAME: &str = "permessage-deflate";

/// The end of a sync flush, cut from each compressed message.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The compression a handler asks for (Tornado's `compression_options`): the zlib
/// level, and what the server asks of each direction in the negotiation.
///
/// ```
/// use tornado_web::websocket::deflate::server_negotiate;
/// use tornado_web::websocket::CompressionOptions;
///
/// // Small windows and no kept context: less memory per connection, less compression.
/// let lean = CompressionOptions {
///     server_no_context_takeover: true,
///     client_no_context_takeover: true,
///     server_max_window_bits: 10,
///     ..CompressionOptions::default()
/// };
/// // A server with these options answers a plain offer with them.
/// let (params, answer) = server_negotiate("permessage-deflate", &lean).unwrap();
/// assert_eq!(
///     answer,
///     "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
///      server_max_window_bits=10"
/// );
/// assert_eq!(params.server_max_window_bits, 10);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompressionOptions {
    /// The zlib compression level, 0-9 (6 by default, zlib's own default).
    pub compression_level: u32,
    /// The server drops its compression context after each message (the answer
    /// always says so when the client asks for it).
    pub server_no_context_takeover: bool,
    /// Ask the client to drop its context after each message (granted whenever the
    /// client offers it).
    pub client_no_context_takeover: bool,
    /// The largest window the server compresses with, 8-15 (a client may ask for
    /// less).
    pub server_max_window_bits: u8,
    /// Ask the client to compress with at most this window, 8-15, when its offer
    /// allows it (`None`: take what the client offers).
    pub client_max_window_bits: Option<u8>,
}

impl Default for CompressionOptions {
    fn default() -> Self {
        CompressionOptions {
            compression_level: 6,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: None,
        }
    }
}

/// The parameters both ends agreed on: each end makes its [`Compressor`] and
/// [`Decompressor`] from them.
///
/// ```
/// use tornado_web::websocket::deflate::{client_accept, client_offer, server_negotiate};
/// use tornado_web::websocket::CompressionOptions;
///
/// let client = CompressionOptions::default();
/// let server = CompressionOptions {
///     server_no_context_takeover: true,
///     ..CompressionOptions::default()
/// };
/// let (on_server, answer) = server_negotiate(&client_offer(&client), &server).unwrap();
/// let on_client = client_accept(&answer, &client).unwrap();
/// assert_eq!(on_server, on_client);
/// assert!(on_client.server_no_context_takeover && !on_client.client_no_context_takeover);
///
/// // What one end compresses, the other inflates.
/// let mut payload = Vec::new();
/// on_server.compressor(true, 6).compress(b"hello", &mut payload);
/// assert_eq!(on_client.decompressor(false).decompress(&payload, 100).unwrap(), b"hello");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server compresses each message afresh.
    pub server_no_context_takeover: bool,
    /// The client compresses each message afresh.
    pub client_no_context_takeover: bool,
    /// The server's compression window, 8-15.
    pub server_max_window_bits: u8,
    /// The client's compression window, 8-15.
    pub client_max_window_bits: u8,
}

impl DeflateParams {
    /// The compressor for messages this end sends (`server`: this end is the server),
    /// at zlib `level` (0-9; more is taken as 9). Its window is this end's
    /// `*_max_window_bits` (an 8-bit one compresses with 9 bits: see the module's
    /// documentation), and it keeps its context between messages unless this end's
    /// `*_no_context_takeover` is set.
    ///
    /// ```
    /// use tornado_web::websocket::deflate::DeflateParams;
    ///
    /// let params = DeflateParams {
    ///     server_no_context_takeover: false,
    ///     client_no_context_takeover: true,
    ///     server_max_window_bits: 15,
    ///     client_max_window_bits: 15,
    /// };
    /// let text = b"the same text, again and again";
    /// let (mut first, mut again) = (Vec::new(), Vec::new());
    ///
    /// // The server keeps its context: the second copy refers back to the first.
    /// let mut server = params.compressor(true, 6);
    /// server.compress(text, &mut first);
    /// server.compress(text, &mut again);
    /// assert!(again.len() < first.len());
    ///
    /// // The client starts afresh with each message.
    /// let (mut first, mut again) = (Vec::new(), Vec::new());
    /// let mut client = params.compressor(false, 6);
    /// client.compress(text, &mut first);
    /// client.compress(text, &mut again);
    /// assert_eq!(again, first);
    /// ```
    pub fn compressor(&self, server: bool, level: u32) -> Compressor {
        let (bits, fresh) = if server {
            (self.server_max_window_bits, self.server_no_context_takeover)
        } else {
            (self.client_max_window_bits, self.client_no_context_takeover)
        };
        Compressor {
            inner: None,
            level: Compression::new(level.min(9)),
            window_bits: bits.clamp(9, 15),
            no_context_takeover: fresh,
        }
    }

    /// The decompressor for messages this end receives (`server`: this end is the
    /// server): its window and context are the peer's.
    ///
    /// ```
    /// use tornado_web::websocket::deflate::DeflateParams;
    ///
    /// let params = DeflateParams {
    ///     server_no_context_takeover: false,
    ///     client_no_context_takeover: false,
    ///     server_max_window_bits: 15,
    ///     client_max_window_bits: 10,
    /// };
    /// let mut client = params.compressor(false, 6);
    /// let mut server = params.decompressor(true);
    /// for text in ["first message", "second message, with context from the first"] {
    ///     let mut payload = Vec::new();
    ///     client.compress(text.as_bytes(), &mut payload);
    ///     assert_eq!(server.decompress(&payload, 1024).unwrap(), text.as_bytes());
    /// }
    /// ```
    pub fn decompressor(&self, server: bool) -> Decompressor {
        let (bits, fresh) = if server {
            (self.client_max_window_bits, self.client_no_context_takeover)
        } else {
            (self.server_max_window_bits, self.server_no_context_takeover)
        };
        Decompressor {
            inner: None,
            window_bits: bits.clamp(9, 15),
            no_context_takeover: fresh,
        }
    }
}

/// One extension of a `Sec-WebSocket-Extensions` list: name and parameters.
type Extension<'a> = (&'a str, Vec<(&'a str, Option<&'a str>)>);

/// Splits a `Sec-WebSocket-Extensions` value into extensions and their parameters
/// (values unquoted).
fn parse_extensions(header: &str) -> Vec<Extension<'_>> {
    header
        .split(',')
        .filter(|e| !e.trim().is_empty())
        .map(|ext| {
            let mut parts = ext.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let params = parts
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => {
                        let v = v.trim();
                        let v = v
                            .strip_prefix('"')
                            .and_then(|v| v.strip_suffix('"'))
                            .unwrap_or(v);
                        (k.trim(), Some(v))
                    }
                    None => (p, None),
                })
                .collect();
            (name, params)
        })
        .collect()
}

/// A window size parameter's value: 8 to 15, digits only.
fn window_bits(v: &str) -> Option<u8> {
    if v.is_empty() || v.len() > 2 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok().filter(|b| (8..=15).contains(b))
}

/// One permessage-deflate offer or answer, parsed and checked (no unknown or repeated
/// parameter, valid values).
#[derive(Debug, Default)]
struct Parsed {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value (allowed in an offer only).
    client_max_window_bits: Option<Option<u8>>,
}

fn parse_params(params: &[(&str, Option<&str>)]) -> Result<Parsed, &'static str> {
    let mut p = Parsed::default();
    let mut seen = [false; 4];
    for (name, value) in params {
        let i = match name.to_ascii_lowercase().as_str() {
            "server_no_context_takeover" => 0,
            "client_no_context_takeover" => 1,
            "server_max_window_bits" => 2,
            "client_max_window_bits" => 3,
            _ => return Err("unknown permessage-deflate parameter"),
        };
        if std::mem::replace(&mut seen[i], true) {
            return Err("repeated permessage-deflate parameter");
        }
        match (i, value) {
            (0, None) => p.server_no_context_takeover = true,
            (1, None) => p.client_no_context_takeover = true,
            (2, Some(v)) => {
                p.server_max_window_bits = Some(window_bits(v).ok_or("bad window bits")?)
            }
            (3, None) => p.client_max_window_bits = Some(None),
            (3, Some(v)) => {
                p.client_max_window_bits = Some(Some(window_bits(v).ok_or("bad window bits")?))
            }
            _ => return Err("bad permessage-deflate parameter value"),
        }
    }
    Ok(p)
}

/// The server's side: the first acceptable permessage-deflate offer in the client's
/// `Sec-WebSocket-Extensions` (offers with unknown or repeated parameters or bad
/// values are skipped), with what to answer in the response's
/// `Sec-WebSocket-Extensions`. `None` when there is none: the connection goes on
/// uncompressed.
///
/// ```
/// use tornado_web::websocket::deflate::server_negotiate;
/// use tornado_web::websocket::CompressionOptions;
///
/// let offer = "permessage-deflate; client_max_window_bits; server_max_window_bits=10";
/// let (params, answer) = server_negotiate(offer, &CompressionOptions::default()).unwrap();
/// assert_eq!(answer, "permessage-deflate; server_max_window_bits=10");
/// assert_eq!((params.server_max_window_bits, params.client_max_window_bits), (10, 15));
/// ```
pub fn server_negotiate(
    offers: &str,
    options: &CompressionOptions,
) -> Option<(DeflateParams, String)> {
    parse_extensions(offers)
        .into_iter()
        .find_map(|(name, params)| {
            if !name.eq_ignore_ascii_case(EXTENSION_NAME) {
                return None;
            }
            let offer = parse_params(&params).ok()?;
            let server_nct = offer.server_no_context_takeover || options.server_no_context_takeover;
            let client_nct = offer.client_no_context_takeover || options.client_no_context_takeover;
            let ours = options.server_max_window_bits.clamp(8, 15);
            let server_bits = offer.server_max_window_bits.map_or(ours, |b| b.min(ours));
            let client_bits = match (offer.client_max_window_bits, options.client_max_window_bits) {
                (None, _) => None,
                (Some(v), Some(want)) => Some(v.unwrap_or(15).min(want.clamp(8, 15))),
                (Some(v), None) => v,
            };
            let mut answer = String::from(EXTENSION_NAME);
            if server_nct {
                answer.push_str("; server_no_context_takeover");
            }
            if client_nct {
                answer.push_str("; client_no_context_takeover");
            }
            if server_bits < 15 || offer.server_max_window_bits.is_some() {
                answer.push_str(&format!("; server_max_window_bits={server_bits}"));
            }
            if let Some(b) = client_bits {
                answer.push_str(&format!("; client_max_window_bits={b}"));
            }
            let params = DeflateParams {
                server_no_context_takeover: server_nct,
                client_no_context_takeover: client_nct,
                server_max_window_bits: server_bits,
                client_max_window_bits: client_bits.unwrap_or(15),
            };
            Some((params, answer))
        })
}

/// The client's side: the `Sec-WebSocket-Extensions` offer for `options` (what the
/// client asks of the server, and that it supports `client_max_window_bits`).
///
/// ```
/// use tornado_web::websocket::deflate::client_offer;
/// use tornado_web::websocket::CompressionOptions;
///
/// assert_eq!(
///     client_offer(&CompressionOptions::default()),
///     "permessage-deflate; client_max_window_bits"
/// );
/// ```
pub fn client_offer(options: &CompressionOptions) -> String {
    let mut offer = String::from(EXTENSION_NAME);
    if options.client_no_context_takeover {
        offer.push_str("; client_no_context_takeover");
    }
    if options.server_no_context_takeover {
        offer.push_str("; server_no_context_takeover");
    }
    if options.server_max_window_bits < 15 {
        let b = options.server_max_window_bits.clamp(8, 15);
        offer.push_str(&format!("; server_max_window_bits={b}"));
    }
    match options.client_max_window_bits {
        Some(b) if b < 15 => {
            offer.push_str(&format!("; client_max_window_bits={}", b.clamp(8, 15)))
        }
        _ => offer.push_str("; client_max_window_bits"),
    }
    offer
}

/// The client's side: checks the server's answer to [`client_offer`]`(options)` and
/// returns the agreed parameters, or why the answer is unacceptable (the client must
/// then fail the connection).
///
/// ```
/// use tornado_web::websocket::deflate::client_accept;
/// use tornado_web::websocket::CompressionOptions;
///
/// let opts = CompressionOptions::default();
/// let p = client_accept("permessage-deflate; client_max_window_bits=9", &opts).unwrap();
/// assert_eq!(p.client_max_window_bits, 9);
/// assert!(client_accept("permessage-deflate; foo", &opts).is_err());
/// ```
pub fn client_accept(
    answer: &str,
    options: &CompressionOptions,
) -> Result<DeflateParams, &'static str> {
    let mut exts = parse_extensions(answer).into_iter();
    let (Some((name, params)), None) = (exts.next(), exts.next()) else {
        return Err("the server must answer with exactly one extension");
    };
    if !name.eq_ignore_ascii_case(EXTENSION_NAME) {
        return Err("the server answered with an extension that was not offered");
    }
    let p = parse_params(&params)?;
    if options.server_no_context_takeover && !p.server_no_context_takeover {
        return Err("the server did not grant server_no_context_takeover");
    }
    let asked_server = options.server_max_window_bits.clamp(8, 15);
    if let Some(b) = p.server_max_window_bits
        && options.server_max_window_bits < 15
        && b > asked_server
    {
        return Err("server_max_window_bits larger than offered");
    }
    if options.server_max_window_bits < 15 && p.server_max_window_bits.is_none() {
        return Err("the server did not answer server_max_window_bits");
    }
    let client_bits = match p.client_max_window_bits {
        None => options.client_max_window_bits.unwrap_or(15).clamp(8, 15),
        Some(None) => return Err("client_max_window_bits without a value"),
        Some(Some(b)) => {
            if options.client_max_window_bits.is_some_and(|want| b > want) {
                return Err("client_max_window_bits larger than offered");
            }
            b
        }
    };
    Ok(DeflateParams {
        server_no_context_takeover: p.server_no_context_takeover,
        client_no_context_takeover: p.client_no_context_takeover
            || options.client_no_context_takeover,
        server_max_window_bits: p.server_max_window_bits.unwrap_or(15),
        client_max_window_bits: client_bits,
    })
}

/// Compresses the messages one end sends; made by [`DeflateParams::compressor`].
///
/// ```
/// use tornado_web::websocket::deflate::server_negotiate;
/// use tornado_web::websocket::CompressionOptions;
///
/// let options = CompressionOptions::default();
/// let (params, _) = server_negotiate("permessage-deflate", &options).unwrap();
/// let mut compressor = params.compressor(true, 9);
/// let mut payload = Vec::new();
/// compressor.compress(&[b'a'; 10_000], &mut payload);
/// assert!(payload.len() < 100);
/// ```
pub struct Compressor {
    inner: Option<Compress>,
    level: Compression,
    window_bits: u8,
    no_context_takeover: bool,
}

impl std::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compressor")
            .field("window_bits", &self.window_bits)
            .field("no_context_takeover", &self.no_context_takeover)
            .finish_non_exhaustive()
    }
}

impl Compressor {
    /// Appends `data`, compressed as one message's payload, to `out`: raw DEFLATE
    /// ended with a sync flush whose final `00 00 ff ff` is cut off, as RFC 7692
    /// sends it.
    ///
    /// ```
    /// use tornado_web::websocket::deflate::server_negotiate;
    /// use tornado_web::websocket::CompressionOptions;
    ///
    /// let options = CompressionOptions::default();
    /// let (params, _) = server_negotiate("permessage-deflate", &options).unwrap();
    /// let mut compressor = params.compressor(true, 6);
    /// let mut out = b"header".to_vec();
    /// compressor.compress(b"Hello", &mut out);
    /// assert!(out.starts_with(b"header"));
    /// assert!(!out.ends_with(&[0x00, 0x00, 0xff, 0xff]));
    ///
    /// // An empty message is one byte (RFC 7692 section 7.2.3.6).
    /// let mut empty = Vec::new();
    /// compressor.compress(b"", &mut empty);
    /// assert_eq!(empty, [0x00]);
    /// ```
    pub fn compress(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let (level, bits) = (self.level, self.window_bits);
        let c = self
            .inner
            .get_or_insert_with(|| Compress::new_with_window_bits(level, false, bits));
        let start = out.len();
        let mut pos = 0;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve((data.len() - pos) / 2 + 256);
            }
            let (in_before, out_before) = (c.total_in(), out.len());
            // Raw deflate into memory cannot fail: the only errors are for a stream
            // used after an error, or a bad flush sequence, which this loop never makes.
            let status = c.compress_vec(&data[pos..], out, FlushCompress::Sync);
            pos += (c.total_in() - in_before) as usize;
            let stalled = c.total_in() == in_before && out.len() == out_before;
            if status.is_err() || (pos == data.len() && out.len() < out.capacity()) || stalled {
                break;
            }
        }
        if out[start..].ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        if out.len() == start {
            // An empty message compresses to one empty stored block (RFC 7692 7.2.3.6).
            out.push(0x00);
        }
        if self.no_context_takeover {
            self.inner = None;
        }
    }
}

/// Decompresses the messages one end receives, within a size limit; made by
/// [`DeflateParams::decompressor`].
///
/// ```
/// use tornado_web::websocket::deflate::server_negotiate;
/// use tornado_web::websocket::CompressionOptions;
///
/// let options = CompressionOptions::default();
/// let (params, _) = server_negotiate("permessage-deflate", &options).unwrap();
/// let mut payload = Vec::new();
/// params.compressor(false, 6).compress(b"from the client", &mut payload);
/// let mut decompressor = params.decompressor(true);
/// assert_eq!(decompressor.decompress(&payload, 1024).unwrap(), b"from the client");
/// ```
pub struct Decompressor {
    inner: Option<Decompress>,
    window_bits: u8,
    no_context_takeover: bool,
}

impl std::fmt::Debug for Decompressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decompressor")
            .field("window_bits", &self.window_bits)
            .field("no_context_takeover", &self.no_context_takeover)
            .finish_non_exhaustive()
    }
}

impl Decompressor {
    /// One message's compressed payload, inflated. Output beyond `limit` bytes fails
    /// with close code 1009 (a compression bomb), never allocating more than `limit`
    /// and a byte; data that does not inflate fails with 1007.
    ///
    /// ```
    /// use tornado_web::websocket::deflate::server_negotiate;
    /// use tornado_web::websocket::CompressionOptions;
    ///
    /// let options = CompressionOptions::default();
    /// let (params, _) = server_negotiate("permessage-deflate", &options).unwrap();
    /// let mut bomb = Vec::new();
    /// params.compressor(false, 9).compress(&[0; 1_000_000], &mut bomb);
    /// assert!(bomb.len() < 2_000);
    ///
    /// let mut d = params.decompressor(true);
    /// assert_eq!(d.decompress(&bomb, 1_000_000).unwrap().len(), 1_000_000);
    /// assert_eq!(d.decompress(&bomb, 1_000).unwrap_err().close_code(), 1009);
    /// // A reserved block type: not DEFLATE.
    /// assert_eq!(d.decompress(&[0xff, 0xff], 1_000).unwrap_err().close_code(), 1007);
    /// ```
    pub fn decompress(&mut self, data: &[u8], limit: usize) -> Result<Vec<u8>, ProtocolError> {
        let bits = self.window_bits;
        let d = self
            .inner
            .get_or_insert_with(|| Decompress::new_with_window_bits(false, bits));
        let mut out = Vec::new();
        let mut ended = false;
        let result = (|| {
            for chunk in [data, &TAIL[..]] {
                let mut pos = 0;
                while !ended {
                    if out.len() == out.capacity() {
                        // One byte past the limit shows that it is exceeded (and
                        // `usize::MAX`, no limit, must not overflow).
                        let room = (limit - out.len())
                            .saturating_add(1)
                            .min(out.len().max(data.len() * 2 + 64));
                        if room == 0 {
                            return Err(too_big());
                        }
                        out.reserve_exact(room);
                    }
                    let (in_before, out_before) = (d.total_in(), out.len());
                    let status = d
                        .decompress_vec(&chunk[pos..], &mut out, FlushDecompress::Sync)
                        .map_err(|_| {
                            ProtocolError::new(
                                close_code::INVALID_PAYLOAD,
                                "compressed message does not inflate",
                            )
                        })?;
                    pos += (d.total_in() - in_before) as usize;
                    if out.len() > limit {
                        return Err(too_big());
                    }
                    ended = status == Status::StreamEnd;
                    let stalled = d.total_in() == in_before && out.len() == out_before;
                    if (pos == chunk.len() && out.len() < out.capacity()) || stalled {
                        break;
                    }
                }
            }
            Ok(())
        })();
        // A final block ends the stream: the next message starts a new one.
        if self.no_context_takeover || ended || result.is_err() {
            self.inner = None;
        }
        result.map(|()| out)
    }
}

fn too_big() -> ProtocolError {
    ProtocolError::new(close_code::MESSAGE_TOO_BIG, "message too big")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> CompressionOptions {
        CompressionOptions::default()
    }

    #[test]
    fn server_answers_offers() {
        let rows: &[(&str, CompressionOptions, Option<&str>)] = &[
            ("permessage-deflate", opts(), Some("permessage-deflate")),
            (
                "permessage-deflate; client_max_window_bits",
                opts(),
                Some("permessage-deflate"),
            ),
            (
                "permessage-deflate; client_max_window_bits=10",
                opts(),
                Some("permessage-deflate; client_max_window_bits=10"),
            ),
            (
                "permessage-deflate; client_max_window_bits",
                CompressionOptions {
                    client_max_window_bits: Some(9),
                    ..opts()
                },
                Some("permessage-deflate; client_max_window_bits=9"),
            ),
            (
                // Without client_max_window_bits in the offer, the client cannot be
                // limited: the server reads with a full window.
                "permessage-deflate",
                CompressionOptions {
                    client_max_window_bits: Some(9),
                    ..opts()
                },
                Some("permessage-deflate"),
            ),
            (
                "permessage-deflate; server_max_window_bits=8",
                opts(),
                Some("permessage-deflate; server_max_window_bits=8"),
            ),
            (
                "permessage-deflate; server_max_window_bits=\"12\"",
                CompressionOptions {
                    server_max_window_bits: 10,
                    ..opts()
                },
                Some("permessage-deflate; server_max_window_bits=10"),
            ),
            (
                "permessage-deflate",
                CompressionOptions {
                    server_max_window_bits: 11,
                    ..opts()
                },
                Some("permessage-deflate; server_max_window_bits=11"),
            ),
            (
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
                opts(),
                Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
            ),
            (
                "permessage-deflate",
                CompressionOptions {
                    server_no_context_takeover: true,
                    client_no_context_takeover: true,
                    ..opts()
                },
                Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
            ),
            // Bad offers are skipped; the next acceptable one wins.
            ("permessage-deflate; foo=1", opts(), None),
            ("permessage-deflate; server_max_window_bits", opts(), None),
            ("permessage-deflate; server_max_window_bits=7", opts(), None),
            (
                "permessage-deflate; server_max_window_bits=16",
                opts(),
                None,
            ),
            (
                "permessage-deflate; server_max_window_bits=010",
                opts(),
                None,
            ),
            (
                "permessage-deflate; client_max_window_bits=abc",
                opts(),
                None,
            ),
            (
                "permessage-deflate; server_no_context_takeover=1",
                opts(),
                None,
            ),
            (
                "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
                opts(),
                None,
            ),
            ("x-webkit-deflate-frame", opts(), None),
            (
                "x-foo, permessage-deflate; server_max_window_bits=99, permessage-deflate; client_max_window_bits",
                opts(),
                Some("permessage-deflate"),
            ),
        ];
        for (offer, options, want) in rows {
            let got = server_negotiate(offer, options).map(|(_, a)| a);
            assert_eq!(got.as_deref(), *want, "offer {offer:?} with {options:?}");
        }
    }

    #[test]
    fn client_offers_and_checks_answers() {
        let lean = CompressionOptions {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 10,
            client_max_window_bits: Some(12),
            ..opts()
        };
        assert_eq!(
            client_offer(&lean),
            "permessage-deflate; client_no_context_takeover; server_no_context_takeover; \
             server_max_window_bits=10; client_max_window_bits=12"
        );
        // What our own server answers, the client accepts, with the same parameters.
        let (server_side, answer) = server_negotiate(&client_offer(&lean), &opts()).unwrap();
        assert_eq!(client_accept(&answer, &lean).unwrap(), server_side);
        let (server_side, answer) = server_negotiate(&client_offer(&opts()), &opts()).unwrap();
        assert_eq!(client_accept(&answer, &opts()).unwrap(), server_side);

        let bad: &[(&str, &CompressionOptions)] = &[
            ("", &opts()),
            ("permessage-deflate, permessage-deflate", &opts()),
            ("x-foo", &opts()),
            ("permessage-deflate; foo", &opts()),
            ("permessage-deflate; client_max_window_bits", &opts()),
            ("permessage-deflate; client_max_window_bits=13", &lean),
            (
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=11",
                &lean,
            ),
            ("permessage-deflate; server_max_window_bits=10", &lean),
            (
                "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
                &opts(),
            ),
        ];
        for (answer, options) in bad {
            assert!(client_accept(answer, options).is_err(), "{answer:?}");
        }
        let p = client_accept("permessage-deflate; server_max_window_bits=9", &opts()).unwrap();
        assert_eq!(p.server_max_window_bits, 9);
    }

    fn params(server_nct: bool, bits: u8) -> DeflateParams {
        DeflateParams {
            server_no_context_takeover: server_nct,
            client_no_context_takeover: server_nct,
            server_max_window_bits: bits,
            client_max_window_bits: bits,
        }
    }

    #[test]
    fn round_trips_with_and_without_context_at_every_window() {
        let messages: Vec<Vec<u8>> = vec![
            b"Hello, hello, hello, hello!".to_vec(),
            Vec::new(),
            b"Hello, hello, hello, hello!".to_vec(),
            (0..100_000u32).map(|i| (i % 251) as u8).collect(),
            b"x".repeat(70_000),
        ];
        for bits in 8..=15 {
            for nct in [false, true] {
                let p = params(nct, bits);
                let mut c = p.compressor(true, 6);
                let mut d = p.decompressor(false);
                let mut sizes = Vec::new();
                for m in &messages {
                    let mut out = Vec::new();
                    c.compress(m, &mut out);
                    assert!(!out.ends_with(&TAIL) || out.is_empty());
                    sizes.push(out.len());
                    assert_eq!(
                        &d.decompress(&out, 1 << 20).unwrap(),
                        m,
                        "bits {bits} nct {nct}"
                    );
                }
                // With context the repeated message costs less the second time.
                if !nct {
                    assert!(sizes[2] < sizes[0], "bits {bits}: {sizes:?}");
                } else {
                    assert_eq!(sizes[2], sizes[0]);
                }
            }
        }
    }

    #[test]
    fn empty_message_is_one_byte_and_inflates_to_nothing() {
        let mut c = params(false, 15).compressor(true, 6);
        let mut out = Vec::new();
        c.compress(b"", &mut out);
        assert!(out.len() <= 2, "{out:?}");
        let mut d = params(false, 15).decompressor(false);
        assert!(d.decompress(&[0x00], 10).unwrap().is_empty());
        assert!(d.decompress(&out, 10).unwrap().is_empty());
    }

    #[test]
    fn a_compression_bomb_stops_at_the_limit() {
        let zeros = vec![0u8; 4 << 20];
        let mut c = params(false, 15).compressor(true, 9);
        let mut out = Vec::new();
        c.compress(&zeros, &mut out);
        assert!(out.len() < 8192);
        let mut d = params(false, 15).decompressor(false);
        let e = d.decompress(&out, 64 * 1024).unwrap_err();
        assert!(e.is_too_big());
        assert_eq!(e.close_code(), 1009);
        // Exactly at the limit is fine.
        let mut d = params(false, 15).decompressor(false);
        assert_eq!(d.decompress(&out, 4 << 20).unwrap().len(), 4 << 20);
        // So is no limit at all.
        let mut d = params(false, 15).decompressor(false);
        assert_eq!(d.decompress(&out, usize::MAX).unwrap().len(), 4 << 20);
    }

    #[test]
    fn garbage_is_an_invalid_payload() {
        let mut d = params(false, 15).decompressor(false);
        let e = d
            .decompress(&[0xff, 0xff, 0xff, 0xff, 0x12], 1024)
            .unwrap_err();
        assert_eq!(e.close_code(), 1007);
    }

    #[test]
    fn a_final_block_restarts_the_stream() {
        // A peer may end a message with BFINAL set: raw deflate of "abc" with FINISH.
        let mut raw = Compress::new(Compression::default(), false);
        let mut out = Vec::with_capacity(64);
        raw.compress_vec(b"abc", &mut out, FlushCompress::Finish)
            .unwrap();
        let mut d = params(false, 15).decompressor(false);
        assert_eq!(d.decompress(&out, 100).unwrap(), b"abc");
        assert_eq!(d.decompress(&out, 100).unwrap(), b"abc");
    }
}
