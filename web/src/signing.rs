//! Signed values: Tornado's `create_signed_value`, `decode_signed_value` and
//! `get_signature_key_version`, byte for byte.
//!
//! A signed value carries a payload, the name it was signed for and the time it was
//! signed, with an HMAC over them under a secret only the server knows: the client may
//! read the payload (it is only base64-encoded, not encrypted) but cannot change it,
//! move it to another name, or keep it past its age. Signed cookies are made of these.
//!
//! Two formats, both Tornado 6.6's, so a value signed here verifies in Python Tornado
//! with the same secret and the other way round:
//!
//! - [`Version::V2`] (the default): `2|1:0|10:1300000000|6:cookie|8:aGVsbG8=|` and an
//!   HMAC-SHA256 in lower-case hex over everything before it. The fields are the key
//!   version, the timestamp, the name and the base64 payload, each prefixed with its
//!   length.
//! - [`Version::V1`], read for old cookies and written only on request:
//!   `aGVsbG8=|1300000000|` and an HMAC-SHA1 in hex over name, payload and timestamp
//!   with no delimiters between them, which is why a version 1 timestamp more than 31
//!   days in the future, or starting with `0`, is refused.
//!
//! A [`Secret`] is one key or, for rotating keys, a map of key versions to keys
//! (Tornado's dict `cookie_secret` with `key_version`): version 2 records which key
//! signed a value, and [`get_signature_key_version`] reads it back.
//!
//! Everything here is a pure function over bytes. Decoding answers `None` for anything
//! that is not a valid, unexpired value for that name, and never panics on any input;
//! the signature is checked in constant time. The time is the system clock unless a
//! `clock` (seconds since the Unix epoch, as Tornado's `clock()` returns) is given.
//!
//! ```
//! use tornado_web::signing::{create_signed_value, decode_signed_value, Secret};
//!
//! let secret = Secret::new("a long random secret");
//! let signed = create_signed_value(&secret, "user", "alice", None, Some(1_300_000_000.0), None)
//!     .unwrap();
//! assert!(signed.starts_with(b"2|1:0|10:1300000000|4:user|8:YWxpY2U=|"));
//!
//! // A day later it still reads back; for another name, tampered or expired it does not.
//! let day = 86_400.0;
//! let at = |t: f64| Some(1_300_000_000.0 + t);
//! assert_eq!(decode_signed_value(&secret, "user", &signed, None, at(day), None),
//!            Some(b"alice".to_vec()));
//! assert_eq!(decode_signed_value(&secret, "admin", &signed, None, at(day), None), None);
//! let mut tampered = signed.clone();
//! tampered[30] ^= 1;
//! assert_eq!(decode_signed_value(&secret, "user", &tampered, None, at(day), None), None);
//! assert_eq!(decode_signed_value(&secret, "user", &signed, None, at(32.0 * day), None), None);
//! ```
//!
//! Where Tornado raises, this answers instead: creating a value with a keyed secret but
//! no known key version is a [`SignError`], and decoding a version 1 value with a keyed
//! secret (an `AssertionError` in Tornado) is `None`. A name that is not ASCII is
//! length-prefixed with its length in bytes, so the value reads back here and in
//! Tornado (Tornado writes its length in characters and cannot read its own value).

use crate::hex::push_hex;
use std::collections::BTreeMap;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;

/// The format [`create_signed_value`] writes when given no version: [`Version::V2`]
/// (Tornado's `DEFAULT_SIGNED_VALUE_VERSION`).
///
/// ```
/// use tornado_web::signing::{create_signed_value, Secret, Version, DEFAULT_SIGNED_VALUE_VERSION};
///
/// assert_eq!(DEFAULT_SIGNED_VALUE_VERSION, Version::V2);
/// let signed = create_signed_value(&Secret::new("k"), "n", "v", None, None, None).unwrap();
/// assert!(signed.starts_with(b"2|"));
/// ```
pub const DEFAULT_SIGNED_VALUE_VERSION: Version = Version::V2;

/// The oldest format [`decode_signed_value`] reads when given no minimum:
/// [`Version::V1`] (Tornado's `DEFAULT_SIGNED_VALUE_MIN_VERSION`).
///
/// ```
/// use tornado_web::signing::{create_signed_value, decode_signed_value, Secret, Version};
/// use tornado_web::signing::DEFAULT_SIGNED_VALUE_MIN_VERSION;
///
/// assert_eq!(DEFAULT_SIGNED_VALUE_MIN_VERSION, Version::V1);
/// // An old version 1 cookie still reads back by default.
/// let secret = Secret::new("k");
/// let v1 = create_signed_value(&secret, "n", "v", Some(Version::V1), None, None).unwrap();
/// assert_eq!(decode_signed_value(&secret, "n", &v1, None, None, None), Some(b"v".to_vec()));
/// ```
pub const DEFAULT_SIGNED_VALUE_MIN_VERSION: Version = Version::V1;

/// How old a value [`decode_signed_value`] accepts when given no `max_age_days`: 31
/// days, as Tornado's `get_signed_cookie`.
///
/// ```
/// use tornado_web::signing::{create_signed_value, decode_signed_value, Secret, DEFAULT_MAX_AGE_DAYS};
///
/// assert_eq!(DEFAULT_MAX_AGE_DAYS, 31.0);
/// let secret = Secret::new("k");
/// let signed_at = 1_300_000_000.0;
/// let signed = create_signed_value(&secret, "n", "v", None, Some(signed_at), None).unwrap();
/// let days_later = |d: f64| Some(signed_at + d * 86_400.0);
/// assert!(decode_signed_value(&secret, "n", &signed, None, days_later(30.0), None).is_some());
/// assert!(decode_signed_value(&secret, "n", &signed, None, days_later(32.0), None).is_none());
/// ```
pub const DEFAULT_MAX_AGE_DAYS: f64 = 31.0;

const SECONDS_PER_DAY: f64 = 86_400.0;

/// How far in the future a version 1 timestamp may lie: 31 days, as in Tornado. The
/// version 1 signature has no delimiter between payload and timestamp, so trailing
/// digits of the payload could otherwise be moved into the timestamp.
const V1_MAX_FUTURE_SECONDS: f64 = 31.0 * SECONDS_PER_DAY;

/// Version numbers above this are read as the start of a version 1 payload (Tornado's
/// `_get_version`: base64 padding means only numbers whose length is a multiple of 4
/// can be mistaken for one).
const MAX_VERSION_DIGITS: usize = 3;

/// A signed-value format.
///
/// ```
/// use tornado_web::signing::{create_signed_value, decode_signed_value, Secret, Version};
///
/// let secret = Secret::new("k");
/// let v1 = create_signed_value(&secret, "n", "v", Some(Version::V1), None, None).unwrap();
/// let v2 = create_signed_value(&secret, "n", "v", Some(Version::V2), None, None).unwrap();
/// assert!(!v1.starts_with(b"2|") && v2.starts_with(b"2|"));
/// // A minimum version refuses older formats.
/// assert_eq!(decode_signed_value(&secret, "n", &v1, None, None, Some(Version::V2)), None);
/// assert!(decode_signed_value(&secret, "n", &v2, None, None, Some(Version::V2)).is_some());
/// assert!(Version::V1 < Version::V2 && Version::default() == Version::V2);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// Tornado's version 1: HMAC-SHA1 over name, payload and timestamp, no key version.
    V1 = 1,
    /// Tornado's version 2 (the default): length-prefixed fields, a key version and an
    /// HMAC-SHA256 over the whole value.
    #[default]
    V2 = 2,
}

/// The secret that signs values: one key, or a map of key versions to keys (Tornado's
/// `cookie_secret` as a dict, with `key_version` choosing the key that signs).
///
/// The HMAC keys are prepared once when the secret is made. `Debug` never shows a key.
///
/// ```
/// use tornado_web::signing::{create_signed_value, get_signature_key_version, Secret};
///
/// let secret = Secret::versioned([(1, "old key"), (2, "new key")]);
/// let signed = create_signed_value(&secret, "session", "42", None, None, Some(2)).unwrap();
/// assert_eq!(get_signature_key_version(&signed), Some(2));
/// ```
#[derive(Clone)]
pub struct Secret(Keying);

#[derive(Clone)]
enum Keying {
    // Boxed: a prepared key pair is a few hundred bytes, a map three words.
    Single(Box<Keys>),
    Versioned(BTreeMap<i64, Keys>),
}

/// One key, prepared for both formats.
#[derive(Clone)]
struct Keys {
    sha1: hmac::Key,
    sha256: hmac::Key,
}

impl Keys {
    fn new(key: &[u8]) -> Keys {
        Keys {
            sha1: hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key),
            sha256: hmac::Key::new(hmac::HMAC_SHA256, key),
        }
    }
}

impl Secret {
    /// One key (Tornado's `cookie_secret` as a string or bytes).
    ///
    /// ```
    /// use tornado_web::signing::{create_signed_value, decode_signed_value, Secret};
    ///
    /// let secret = Secret::new(b"32 random bytes, kept out of git");
    /// let signed = create_signed_value(&secret, "user", "alice", None, None, None).unwrap();
    /// assert_eq!(decode_signed_value(&secret, "user", &signed, None, None, None),
    ///            Some(b"alice".to_vec()));
    /// // Another key does not verify it.
    /// assert_eq!(decode_signed_value(&Secret::new("other"), "user", &signed, None, None, None), None);
    /// ```
    pub fn new(key: impl AsRef<[u8]>) -> Secret {
        Secret(Keying::Single(Box::new(Keys::new(key.as_ref()))))
    }

    /// Keys by key version (Tornado's `cookie_secret` as a dict). Values are signed with
    /// the key named by `key_version`, in format 2 only, and read with the key whose
    /// version they carry. A later duplicate version replaces an earlier one.
    ///
    /// ```
    /// use tornado_web::signing::{create_signed_value, decode_signed_value, Secret};
    ///
    /// // Signed with key 1 before the rotation...
    /// let old = Secret::versioned([(1, "old key")]);
    /// let signed = create_signed_value(&old, "user", "alice", None, None, Some(1)).unwrap();
    /// // ...it still verifies once key 2 signs new values.
    /// let rotated = Secret::versioned([(1, "old key"), (2, "new key")]);
    /// assert_eq!(decode_signed_value(&rotated, "user", &signed, None, None, None),
    ///            Some(b"alice".to_vec()));
    /// // Once key 1 is dropped, it does not.
    /// let dropped = Secret::versioned([(2, "new key")]);
    /// assert_eq!(decode_signed_value(&dropped, "user", &signed, None, None, None), None);
    /// ```
    pub fn versioned<K: AsRef<[u8]>>(keys: impl IntoIterator<Item = (i64, K)>) -> Secret {
        let keys = keys
            .into_iter()
            .map(|(version, key)| (version, Keys::new(key.as_ref())))
            .collect();
        Secret(Keying::Versioned(keys))
    }

    /// Whether this secret maps key versions to keys.
    ///
    /// ```
    /// use tornado_web::signing::Secret;
    ///
    /// assert!(!Secret::new("k").is_versioned());
    /// assert!(Secret::versioned([(1, "k")]).is_versioned());
    /// ```
    pub fn is_versioned(&self) -> bool {
        matches!(self.0, Keying::Versioned(_))
    }

    /// The key versions of a versioned secret, in ascending order; none for one key.
    ///
    /// ```
    /// use tornado_web::signing::Secret;
    ///
    /// let secret = Secret::versioned([(3, "c"), (1, "a"), (2, "b")]);
    /// assert_eq!(secret.key_versions().collect::<Vec<_>>(), [1, 2, 3]);
    /// assert_eq!(Secret::new("k").key_versions().count(), 0);
    /// ```
    pub fn key_versions(&self) -> impl Iterator<Item = i64> + '_ {
        let keys = match &self.0 {
            Keying::Single(_) => None,
            Keying::Versioned(keys) => Some(keys.keys().copied()),
        };
        keys.into_iter().flatten()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Keying::Single(_) => f.write_str("Secret(..)"),
            Keying::Versioned(keys) => f
                .debug_struct("Secret")
                .field("key_versions", &keys.keys().collect::<Vec<_>>())
                .finish(),
        }
    }
}

impl From<&str> for Secret {
    fn from(key: &str) -> Secret {
        Secret::new(key)
    }
}

impl From<String> for Secret {
    fn from(key: String) -> Secret {
        Secret::new(key)
    }
}

impl From<&[u8]> for Secret {
    fn from(key: &[u8]) -> Secret {
        Secret::new(key)
    }
}

impl From<Vec<u8>> for Secret {
    fn from(key: Vec<u8>) -> Secret {
        Secret::new(key)
    }
}

/// Why [`create_signed_value`] could not sign (each an assertion or `KeyError` in
/// Tornado).
///
/// ```
/// use tornado_web::signing::{create_signed_value, Secret, SignError, Version};
///
/// let keys = Secret::versioned([(1, "a"), (2, "b")]);
/// let sign = |version, key_version| create_signed_value(&keys, "n", "v", version, None, key_version);
/// assert_eq!(sign(None, None), Err(SignError::MissingKeyVersion));
/// assert_eq!(sign(None, Some(3)), Err(SignError::UnknownKeyVersion(3)));
/// assert_eq!(sign(Some(Version::V1), Some(1)), Err(SignError::VersionedSecretNeedsV2));
/// assert_eq!(sign(None, Some(3)).unwrap_err().to_string(), "the secret has no key of version 3");
/// let one = Secret::new("k");
/// assert_eq!(create_signed_value(&one, "n", "v", None, Some(f64::NAN), None), Err(SignError::BadClock));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignError {
    /// A versioned secret was asked for a version 1 value, which has no key version.
    VersionedSecretNeedsV2,
    /// A versioned secret was given no `key_version`.
    MissingKeyVersion,
    /// The versioned secret has no key of this version.
    UnknownKeyVersion(i64),
    /// The clock given is not a finite number of seconds.
    BadClock,
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignError::VersionedSecretNeedsV2 => {
                f.write_str("a secret with key versions signs only version 2 values")
            }
            SignError::MissingKeyVersion => {
                f.write_str("a secret with key versions needs a key_version to sign")
            }
            SignError::UnknownKeyVersion(version) => {
                write!(f, "the secret has no key of version {version}")
            }
            SignError::BadClock => f.write_str("the clock is not a finite number of seconds"),
        }
    }
}

impl std::error::Error for SignError {}

/// Signs `value` for `name` (Tornado's `create_signed_value`).
///
/// `None` for `version` is [`DEFAULT_SIGNED_VALUE_VERSION`]; `clock` is the time in
/// seconds since the Unix epoch (`None`: now), truncated to whole seconds as Tornado
/// does; `key_version` picks the key of a versioned secret and is written into a
/// version 2 value (`None`: 0, which a versioned secret refuses). A `clock` that is
/// not a finite number is refused ([`SignError::BadClock`]; Python raises). The result
/// is ASCII when `name` is (a cookie value still needs a name free of `;`, `,` and
/// spaces).
///
/// ```
/// use tornado_web::signing::{create_signed_value, Secret, Version};
///
/// let secret = Secret::new("secret");
/// let v1 = create_signed_value(&secret, "name", "value", Some(Version::V1),
///                              Some(1_300_000_000.0), None).unwrap();
/// assert_eq!(v1, b"dmFsdWU=|1300000000|9e7727150808365bebff0a6404df2acfefd24d51");
/// ```
pub fn create_signed_value(
    secret: &Secret,
    name: &str,
    value: impl AsRef<[u8]>,
    version: Option<Version>,
    clock: Option<f64>,
    key_version: Option<i64>,
) -> Result<Vec<u8>, SignError> {
    let version = version.unwrap_or(DEFAULT_SIGNED_VALUE_VERSION);
    let clock = clock.unwrap_or_else(now);
    if !clock.is_finite() {
        return Err(SignError::BadClock);
    }
    // Tornado's int(clock()): toward zero (here saturating at the ends of i64).
    let timestamp = (clock as i64).to_string();
    let payload = STANDARD.encode(value.as_ref());
    match version {
        Version::V1 => {
            let Keying::Single(keys) = &secret.0 else {
                return Err(SignError::VersionedSecretNeedsV2);
            };
            let message = [name.as_bytes(), payload.as_bytes(), timestamp.as_bytes()].concat();
            let tag = hmac::sign(&keys.sha1, &message);
            let mut out = Vec::with_capacity(payload.len() + timestamp.len() + 42);
            out.extend_from_slice(payload.as_bytes());
            out.push(b'|');
            out.extend_from_slice(timestamp.as_bytes());
            out.push(b'|');
            push_hex(&mut out, tag.as_ref());
            Ok(out)
        }
        Version::V2 => {
            let keys = match &secret.0 {
                Keying::Single(keys) => keys,
                Keying::Versioned(keys) => {
                    let key_version = key_version.ok_or(SignError::MissingKeyVersion)?;
                    keys.get(&key_version)
                        .ok_or(SignError::UnknownKeyVersion(key_version))?
                }
            };
            let key_version = key_version.unwrap_or(0).to_string();
            let mut out = Vec::with_capacity(payload.len() + name.len() + 110);
            out.extend_from_slice(b"2|");
            for field in [
                key_version.as_bytes(),
                timestamp.as_bytes(),
                name.as_bytes(),
                payload.as_bytes(),
            ] {
                out.extend_from_slice(field.len().to_string().as_bytes());
                out.push(b':');
                out.extend_from_slice(field);
                out.push(b'|');
            }
            let tag = hmac::sign(&keys.sha256, &out);
            push_hex(&mut out, tag.as_ref());
            Ok(out)
        }
    }
}

/// Reads back the payload of a value signed for `name` (Tornado's
/// `decode_signed_value`), or `None` if it is not one: empty, malformed, signed for
/// another name or with another key, tampered with, older than `max_age_days`, of a
/// format older than `min_version`, or (version 1) dated more than 31 days ahead.
///
/// `None` for `max_age_days` is [`DEFAULT_MAX_AGE_DAYS`], for `clock` the system clock
/// (seconds since the Unix epoch), for `min_version` [`DEFAULT_SIGNED_VALUE_MIN_VERSION`].
/// Both formats are read; a versioned secret reads only version 2, with the key the
/// value names.
///
/// ```
/// use tornado_web::signing::{decode_signed_value, Secret, Version};
///
/// let secret = Secret::new("secret");
/// let v1 = b"dmFsdWU=|1300000000|9e7727150808365bebff0a6404df2acfefd24d51";
/// let clock = Some(1_300_000_000.0);
/// assert_eq!(decode_signed_value(&secret, "name", v1, None, clock, None),
///            Some(b"value".to_vec()));
/// assert_eq!(decode_signed_value(&secret, "name", v1, None, clock, Some(Version::V2)), None);
/// assert_eq!(decode_signed_value(&secret, "name", b"garbage|", None, clock, None), None);
/// ```
pub fn decode_signed_value(
    secret: &Secret,
    name: &str,
    value: impl AsRef<[u8]>,
    max_age_days: Option<f64>,
    clock: Option<f64>,
    min_version: Option<Version>,
) -> Option<Vec<u8>> {
    let value = value.as_ref();
    if value.is_empty() {
        return None;
    }
    let version = get_version(value);
    if version < min_version.unwrap_or(DEFAULT_SIGNED_VALUE_MIN_VERSION) as u16 {
        return None;
    }
    let max_age_days = max_age_days.unwrap_or(DEFAULT_MAX_AGE_DAYS);
    let now = clock.unwrap_or_else(now);
    // NaN would make every age pass (Python's comparisons are all false): no value
    // is valid against a clock or a limit that is not a number.
    if max_age_days.is_nan() || !now.is_finite() {
        return None;
    }
    match version {
        1 => decode_v1(secret, name, value, max_age_days, now),
        2 => decode_v2(secret, name, value, max_age_days, now),
        _ => None,
    }
}

/// The key version a version 2 value names (Tornado's `get_signature_key_version`),
/// without checking its signature; `None` for a version 1 value or a malformed one
/// (or a key version outside `i64`, which no [`Secret`] has).
///
/// ```
/// use tornado_web::signing::get_signature_key_version;
///
/// assert_eq!(get_signature_key_version("2|1:3|10:1300000000|1:n|4:dg==|sig"), Some(3));
/// assert_eq!(get_signature_key_version("dmFsdWU=|1300000000|sig"), None);
/// ```
pub fn get_signature_key_version(value: impl AsRef<[u8]>) -> Option<i64> {
    let value = value.as_ref();
    if get_version(value) < 2 {
        return None;
    }
    let fields = decode_fields_v2(value)?;
    i64::try_from(fields.key_version).ok()
}

fn now() -> f64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => since.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    }
}

/// Tornado's `_get_version`: a leading decimal number without leading zeros followed
/// by `|` is the version, as its regex `^([1-9][0-9]*)\|(.*)$` finds it (`.` stops at
/// a newline, `$` also matches before a final newline); anything else is version 1.
fn get_version(value: &[u8]) -> u16 {
    let digits = value.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || value[0] == b'0' || value.get(digits) != Some(&b'|') {
        return 1;
    }
    let rest = &value[digits + 1..];
    let rest = rest.strip_suffix(b"\n").unwrap_or(rest);
    if rest.contains(&b'\n') || digits > MAX_VERSION_DIGITS {
        return 1;
    }
    value[..digits]
        .iter()
        .fold(0, |n, &d| n * 10 + u16::from(d - b'0'))
}

fn decode_v1(
    secret: &Secret,
    name: &str,
    value: &[u8],
    max_age_days: f64,
    now: f64,
) -> Option<Vec<u8>> {
    let Keying::Single(keys) = &secret.0 else {
        return None;
    };
    let mut parts = value.split(|&b| b == b'|');
    let (payload, timestamp, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let message = [name.as_bytes(), payload, timestamp].concat();
    if !verify_hex(&keys.sha1, &message, signature) {
        return None;
    }
    let timestamp_value = parse_int(timestamp)?;
    if int_lt_float(timestamp_value, now - max_age_days * SECONDS_PER_DAY)
        || int_gt_float(timestamp_value, now + V1_MAX_FUTURE_SECONDS)
        || timestamp.starts_with(b"0")
    {
        return None;
    }
    b64decode(payload)
}

fn decode_v2(
    secret: &Secret,
    name: &str,
    value: &[u8],
    max_age_days: f64,
    now: f64,
) -> Option<Vec<u8>> {
    let fields = decode_fields_v2(value)?;
    // Tornado checks the signature over value[:-len(signature)], empty for an empty one.
    let signed = if fields.signature.is_empty() {
        &value[..0]
    } else {
        &value[..value.len() - fields.signature.len()]
    };
    let keys = match &secret.0 {
        Keying::Single(keys) => keys,
        Keying::Versioned(keys) => keys.get(&i64::try_from(fields.key_version).ok()?)?,
    };
    if !verify_hex(&keys.sha256, signed, fields.signature) || fields.name != name.as_bytes() {
        return None;
    }
    let timestamp = parse_int(fields.timestamp)?;
    if int_lt_float(timestamp, now - max_age_days * SECONDS_PER_DAY) {
        return None;
    }
    b64decode(fields.value)
}

/// The fields of a version 2 value. The signature is always a suffix of the value.
struct FieldsV2<'a> {
    key_version: i128,
    timestamp: &'a [u8],
    name: &'a [u8],
    value: &'a [u8],
    signature: &'a [u8],
}

/// Tornado's `_decode_fields_v2`, which skips the first two bytes whatever the version.
fn decode_fields_v2(value: &[u8]) -> Option<FieldsV2<'_>> {
    let rest = value.get(2..).unwrap_or_default();
    let (key_version, rest) = consume_field(rest)?;
    let (timestamp, rest) = consume_field(rest)?;
    let (name, rest) = consume_field(rest)?;
    let (value, signature) = consume_field(rest)?;
    Some(FieldsV2 {
        key_version: parse_int(key_version)?,
        timestamp,
        name,
        value,
        signature,
    })
}

/// One `length:field|` off the front, with Python's slicing: a negative length counts
/// from the end, as it does in Tornado.
fn consume_field(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let (length, rest) = match s.iter().position(|&b| b == b':') {
        Some(colon) => (&s[..colon], &s[colon + 1..]),
        None => (s, &[][..]),
    };
    let n = parse_int(length)?;
    let field = py_slice(rest, 0, n);
    let after = n.saturating_add(1);
    if py_slice(rest, n, after) != b"|" {
        return None;
    }
    Some((field, py_slice(rest, after, i128::MAX)))
}

/// `s[start:end]` as Python slices it.
fn py_slice(s: &[u8], start: i128, end: i128) -> &[u8] {
    let index = |i: i128| {
        let len = s.len() as i128;
        let i = if i < 0 { (i + len).max(0) } else { i.min(len) };
        i as usize
    };
    let (start, end) = (index(start), index(end));
    &s[start..end.max(start)]
}

/// Python's `int()` refuses a number of more digits than this
/// (`sys.get_int_max_str_digits()`, 4300 by default since Python 3.11).
const PY_INT_MAX_STR_DIGITS: usize = 4300;

/// Python's `int(bytes)`: ASCII whitespace around, an optional sign, decimal digits
/// with single underscores between them, at most [`PY_INT_MAX_STR_DIGITS`] digits
/// (leading zeros count). Saturates at the ends of i128 below that, where Python would
/// go on, which changes no comparison a signed value can win.
fn parse_int(s: &[u8]) -> Option<i128> {
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r');
    let start = s.iter().position(|b| !is_space(b))?;
    let end = s.iter().rposition(|b| !is_space(b))? + 1;
    let s = &s[start..end];
    let (negative, digits) = match s.split_first() {
        Some((b'-', digits)) => (true, digits),
        Some((b'+', digits)) => (false, digits),
        _ => (false, s),
    };
    let (first, last) = (digits.first()?, digits.last()?);
    if !first.is_ascii_digit() || !last.is_ascii_digit() {
        return None;
    }
    if digits.iter().filter(|b| b.is_ascii_digit()).count() > PY_INT_MAX_STR_DIGITS {
        return None;
    }
    let mut n: i128 = 0;
    let mut previous_underscore = false;
    for &b in digits {
        if b == b'_' {
            if previous_underscore {
                return None;
            }
            previous_underscore = true;
            continue;
        }
        if !b.is_ascii_digit() {
            return None;
        }
        previous_underscore = false;
        let digit = i128::from(b - b'0');
        n = n.saturating_mul(10);
        n = if negative {
            n.saturating_sub(digit)
        } else {
            n.saturating_add(digit)
        };
    }
    Some(n)
}

/// `i < f` as Python compares an int with a float: exactly.
fn int_lt_float(i: i128, f: f64) -> bool {
    if f.is_nan() {
        false
    } else if f == f64::INFINITY {
        true
    } else if f == f64::NEG_INFINITY {
        false
    } else {
        i < f.ceil() as i128
    }
}

/// `i > f` as Python compares an int with a float: exactly.
fn int_gt_float(i: i128, f: f64) -> bool {
    if f.is_nan() || f == f64::INFINITY {
        false
    } else if f == f64::NEG_INFINITY {
        true
    } else {
        i > f.floor() as i128
    }
}

/// Checks a lower-case hex tag (as Tornado's `hexdigest()` writes it) against the HMAC
/// of `message`. Decoding the hex branches only on the tag the client sent; the
/// comparison with the real tag is ring's, in constant time.
fn verify_hex(key: &hmac::Key, message: &[u8], hex: &[u8]) -> bool {
    let len = key.algorithm().digest_algorithm().output_len();
    let mut tag = [0u8; 64];
    if hex.len() != 2 * len || len > tag.len() {
        return false;
    }
    let nibble = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    for (byte, pair) in tag.iter_mut().zip(hex.chunks_exact(2)) {
        match (nibble(pair[0]), nibble(pair[1])) {
            (Some(high), Some(low)) => *byte = high << 4 | low,
            _ => return false,
        }
    }
    hmac::verify(key, message, &tag[..len]).is_ok()
}

/// Python's `base64.b64decode` without `validate` (CPython's `binascii.a2b_base64` in
/// its lenient mode): bytes outside the alphabet are skipped, enough `=` ends the data
/// and anything after it is ignored; a partial quantum without its padding is an error.
/// The base64 crate's decoders are all stricter than this, and a value Tornado reads
/// must read here too.
fn b64decode(input: &[u8]) -> Option<Vec<u8>> {
    let sextet = |b: u8| match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 3);
    let mut quad_pos = 0u8;
    let mut left = 0u8;
    let mut pads = 0u8;
    for &b in input {
        if b == b'=' {
            if quad_pos >= 2 {
                pads += 1;
                if quad_pos + pads >= 4 {
                    return Some(out);
                }
            }
            continue;
        }
        let Some(bits) = sextet(b) else { continue };
        pads = 0;
        match quad_pos {
            0 => left = bits,
            1 => {
                out.push(left << 2 | bits >> 4);
                left = bits & 0x0f;
            }
            2 => {
                out.push(left << 4 | bits >> 2);
                left = bits & 0x03;
            }
            _ => out.push(left << 6 | bits),
        }
        quad_pos = (quad_pos + 1) % 4;
    }
    (quad_pos == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_int_parsing() {
        let table: &[(&[u8], Option<i128>)] = &[
            (b"12", Some(12)),
            (b" 12 ", Some(12)),
            (b"\x0b1\x0c", Some(1)),
            (b"\x1c1", None),
            (b"+1", Some(1)),
            (b"-0", Some(0)),
            (b"-12", Some(-12)),
            (b"1_0", Some(10)),
            (b"1__0", None),
            (b"_1", None),
            (b"1_", None),
            (b"0012", Some(12)),
            (b"\x001", None),
            (b"1\x00", None),
            (b"", None),
            (b" ", None),
            (b"+", None),
            (b"- 1", None),
            (b"\xa01", None),
            (
                b"99999999999999999999999999999999999999999999",
                Some(i128::MAX),
            ),
            (
                b"-99999999999999999999999999999999999999999999",
                Some(i128::MIN),
            ),
        ];
        for &(input, expected) in table {
            assert_eq!(
                parse_int(input),
                expected,
                "{:?}",
                input.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn python_base64_decoding() {
        let table: &[(&[u8], Option<&[u8]>)] = &[
            (b"", Some(b"")),
            (b"YWJj", Some(b"abc")),
            (b"YQ==", Some(b"a")),
            (b"YWI=", Some(b"ab")),
            (b"YQ", None),
            (b"YQ=", None),
            (b"Y=Q=", None),
            (b"YQ==YWI=", Some(b"a")),
            (b"Y", None),
            (b"YWJj\n", Some(b"abc")),
            (b"!!YWJj", Some(b"abc")),
            (b"YW=Jj", Some(b"abc")),
            (b"=YWJj", Some(b"abc")),
            (b"YQ===", Some(b"a")),
            (b"YR==", Some(b"a")),
        ];
        for &(input, expected) in table {
            assert_eq!(
                b64decode(input).as_deref(),
                expected,
                "{:?}",
                input.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn version_detection() {
        let table: &[(&[u8], u16)] = &[
            (b"2|x", 2),
            (b"2|", 2),
            (b"2|a\n", 2),
            (b"2|a\nb", 1),
            (b"2|\n\n", 1),
            (b"02|x", 1),
            (b"999|x", 999),
            (b"1000|x", 1),
            (b"2", 1),
            (b"|2|", 1),
            (b"", 1),
        ];
        for &(input, expected) in table {
            assert_eq!(
                get_version(input),
                expected,
                "{:?}",
                input.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn python_slicing() {
        let s = b"abcdef";
        assert_eq!(py_slice(s, 0, 2), b"ab");
        assert_eq!(py_slice(s, 0, -2), b"abcd");
        assert_eq!(py_slice(s, -2, -1), b"e");
        assert_eq!(py_slice(s, -1, 0), b"");
        assert_eq!(py_slice(s, 4, 2), b"");
        assert_eq!(py_slice(s, 3, i128::MAX), b"def");
        assert_eq!(py_slice(s, i128::MIN, 100), b"abcdef");
    }

    #[test]
    fn int_float_comparisons() {
        assert!(int_lt_float(1, 1.5));
        assert!(!int_lt_float(2, 1.5));
        assert!(!int_lt_float(1, 1.0));
        assert!(int_gt_float(2, 1.5));
        assert!(!int_gt_float(1, 1.5));
        assert!(!int_lt_float(0, f64::NAN));
        assert!(!int_gt_float(0, f64::NAN));
        assert!(int_lt_float(i128::MAX, f64::INFINITY));
        assert!(int_gt_float(i128::MIN, f64::NEG_INFINITY));
    }

    #[test]
    fn secret_debug_hides_keys() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(..)");
        let versioned = Secret::versioned([(1, "a"), (0, "b")]);
        assert_eq!(format!("{versioned:?}"), "Secret { key_versions: [0, 1] }");
        assert_eq!(versioned.key_versions().collect::<Vec<_>>(), [0, 1]);
        assert!(versioned.is_versioned());
        assert!(!Secret::new("x").is_versioned());
    }

    #[test]
    fn numbers_and_clocks_python_would_refuse_are_refused() {
        let long = format!("{}7", "0".repeat(PY_INT_MAX_STR_DIGITS));
        assert_eq!(parse_int(long.as_bytes()), None);
        let at_limit = format!("{}7", "0".repeat(PY_INT_MAX_STR_DIGITS - 1));
        assert_eq!(parse_int(at_limit.as_bytes()), Some(7));
        let secret = Secret::new("secret");
        for clock in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(
                create_signed_value(&secret, "n", "v", None, Some(clock), None),
                Err(SignError::BadClock)
            );
        }
        let signed =
            create_signed_value(&secret, "n", "v", None, Some(1_300_000_000.0), None).unwrap();
        let decode = |max_age: Option<f64>, clock: f64| {
            decode_signed_value(&secret, "n", &signed, max_age, Some(clock), None)
        };
        assert_eq!(decode(None, 1_300_000_000.0), Some(b"v".to_vec()));
        assert_eq!(decode(Some(f64::NAN), 1_300_000_000.0), None);
        assert_eq!(decode(None, f64::NAN), None);
        assert_eq!(decode(None, f64::INFINITY), None);
    }
}
