//! HTTP dates (IMF-fixdate, RFC 9110 section 5.6.7) and the once-a-second
//! `Date` header cache.

use std::time::{SystemTime, UNIX_EPOCH};

/// Length of an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub const HTTP_DATE_LEN: usize = 29;

const WEEKDAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Formats a time the way HTTP wants it, e.g. `Sun, 06 Nov 1994 08:49:37
/// GMT`. Fractions of a second are dropped.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use tornado_httpserver::httputil::format_timestamp;
///
/// let t = UNIX_EPOCH + Duration::from_secs(1359312200);
/// assert_eq!(format_timestamp(t), "Sun, 27 Jan 2013 18:43:20 GMT");
/// ```
pub fn format_timestamp(time: SystemTime) -> String {
    let buf = format_unix_secs(unix_secs(time));
    // Every byte written is ASCII.
    buf.iter().map(|&b| char::from(b)).collect()
}

/// Whole seconds since the Unix epoch; negative before it.
fn unix_secs(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => {
            let d = e.duration();
            // Round towards minus infinity so 0.5 s before the epoch is
            // 23:59:59 on the day before.
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            if d.subsec_nanos() > 0 {
                -secs - 1
            } else {
                -secs
            }
        }
    }
}

/// Year, month (1..=12) and day (1..=31) of a day count since 1970-01-01,
/// in the proleptic Gregorian calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn format_unix_secs(secs: i64) -> [u8; HTTP_DATE_LEN] {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    // Four-digit years only; clamp the far past and future.
    let year = year.clamp(0, 9999) as u32;
    let (hour, minute, second) = (
        (rem / 3600) as u32,
        (rem / 60 % 60) as u32,
        (rem % 60) as u32,
    );
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(WEEKDAYS[days.rem_euclid(7) as usize]);
    put2(&mut out[5..7], day);
    out[8..11].copy_from_slice(MONTHS[(month - 1) as usize]);
    put2(&mut out[12..14], year / 100);
    put2(&mut out[14..16], year % 100);
    put2(&mut out[17..19], hour);
    put2(&mut out[20..22], minute);
    put2(&mut out[23..25], second);
    out
}

fn put2(dst: &mut [u8], n: u32) {
    dst[0] = b'0' + (n / 10 % 10) as u8;
    dst[1] = b'0' + (n % 10) as u8;
}

/// Parses an HTTP date (RFC 9110 section 5.6.7): the IMF-fixdate `Sun, 06 Nov 1994
/// 08:49:37 GMT` and the obsolete forms a recipient must also accept, RFC 850's
/// `Sunday, 06-Nov-94 08:49:37 GMT` and asctime's `Sun Nov  6 08:49:37 1994`. As
/// Python's `email.utils.parsedate_to_datetime` (which Tornado uses for
/// `If-Modified-Since`), the weekday may be missing and is not checked, the month may be
/// spelled out, seconds may be left out, the zone may be `GMT`, `UTC`, `UT`, `Z`, a US
/// zone (`EST`, `PDT`, ...), a numeric offset (`+0100`) or missing (UTC), and a
/// two-digit year is 19xx above 68 and 20xx otherwise. `None` for
/// anything else, or a date that does not exist (`31 Feb`).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use tornado_httpserver::httputil::parse_http_date;
///
/// let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
/// assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(t));
/// assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), Some(t));
/// assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), Some(t));
/// assert_eq!(parse_http_date("yesterday"), None);
/// ```
pub fn parse_http_date(text: &str) -> Option<SystemTime> {
    let secs = parse_unix_secs(text)?;
    let magnitude = std::time::Duration::from_secs(secs.unsigned_abs());
    if secs >= 0 {
        UNIX_EPOCH.checked_add(magnitude)
    } else {
        UNIX_EPOCH.checked_sub(magnitude)
    }
}

fn parse_unix_secs(text: &str) -> Option<i64> {
    let mut tokens = text
        .split(|c: char| c.is_ascii_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .peekable();
    // An optional weekday, long or short (unchecked, as Python does).
    if tokens
        .peek()
        .is_some_and(|t| t.len() >= 3 && t.bytes().all(|b| b.is_ascii_alphabetic()))
        && month_number(tokens.peek()?).is_none()
    {
        tokens.next();
    }
    let first = tokens.next()?;
    let (day, month, year, time, zone);
    if let Some(m) = month_number(first) {
        // asctime: `Nov 6 08:49:37 1994`.
        month = m;
        day = parse_number(tokens.next()?)?;
        time = tokens.next()?;
        year = parse_year(tokens.next()?)?;
        zone = tokens.next();
    } else {
        if first.contains('-') {
            // RFC 850: `06-Nov-94`.
            let mut parts = first.split('-');
            day = parse_number(parts.next()?)?;
            month = month_number(parts.next()?)?;
            year = parse_year(parts.next()?)?;
            if parts.next().is_some() {
                return None;
            }
        } else {
            day = parse_number(first)?;
            month = month_number(tokens.next()?)?;
            year = parse_year(tokens.next()?)?;
        }
        time = tokens.next()?;
        zone = tokens.next();
    }
    if tokens.next().is_some() {
        return None;
    }
    let mut hms = time.split(':');
    let hour = parse_number(hms.next()?)?;
    let minute = parse_number(hms.next()?)?;
    let second = match hms.next() {
        Some(s) => parse_number(s)?,
        None => 0,
    };
    if hms.next().is_some() || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    if day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let offset = match zone {
        None => 0,
        Some(z) => zone_offset(z)?,
    };
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset)
}

fn parse_number(t: &str) -> Option<u32> {
    if t.is_empty() || t.len() > 4 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

fn parse_year(t: &str) -> Option<i64> {
    let y = i64::from(parse_number(t)?);
    Some(match (t.len(), y) {
        (1 | 2, 69..) => y + 1900,
        (1 | 2, _) => y + 2000,
        _ => y,
    })
}

fn month_number(t: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    // The abbreviation or the whole name, as Python takes them.
    if t.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| {
            m.len() >= t.len()
                && (t.len() == 3 || t.len() == m.len())
                && m[..t.len()].eq_ignore_ascii_case(t)
        })
        .map(|i| i as u32 + 1)
}

/// The zone's offset east of UTC, in seconds.
fn zone_offset(z: &str) -> Option<i64> {
    // The names Python's `email.utils` knows.
    const NAMED: [(&str, i64); 14] = [
        ("GMT", 0),
        ("UTC", 0),
        ("UT", 0),
        ("Z", 0),
        ("AST", -4),
        ("ADT", -3),
        ("EST", -5),
        ("EDT", -4),
        ("CST", -6),
        ("CDT", -5),
        ("MST", -7),
        ("MDT", -6),
        ("PST", -8),
        ("PDT", -7),
    ];
    if let Some((_, hours)) = NAMED.iter().find(|(name, _)| z.eq_ignore_ascii_case(name)) {
        return Some(hours * 3600);
    }
    let (sign, digits) = match z.as_bytes().first()? {
        b'+' => (1, &z[1..]),
        b'-' => (-1, &z[1..]),
        _ => return None,
    };
    if digits.len() != 4 {
        return None;
    }
    let n = i64::from(parse_number(digits)?);
    let (hours, minutes) = (n / 100, n % 100);
    if minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

fn days_in_month(year: i64, month: u32) -> u32 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a date in the proleptic Gregorian calendar (Howard
/// Hinnant's `days_from_civil`, the inverse of [`civil_from_days`]).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // [0, 399]
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// The value of the `Date` header, formatted at most once a second.
///
/// The connection code reads the clock once per loop iteration and passes
/// it in; while the second has not changed, [`get`](Self::get) returns the
/// cached text without formatting or allocating.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use tornado_httpserver::httputil::DateCache;
///
/// let mut cache = DateCache::new();
/// let t = UNIX_EPOCH + Duration::from_millis(784_111_777_250);
/// assert_eq!(cache.get(t), "Sun, 06 Nov 1994 08:49:37 GMT");
/// ```
#[derive(Debug, Clone)]
pub struct DateCache {
    second: Option<i64>,
    text: [u8; HTTP_DATE_LEN],
}

impl Default for DateCache {
    fn default() -> Self {
        Self::new()
    }
}

impl DateCache {
    /// An empty cache; the first [`get`](Self::get) formats.
    pub fn new() -> Self {
        DateCache {
            second: None,
            text: *b"Thu, 01 Jan 1970 00:00:00 GMT",
        }
    }

    /// The IMF-fixdate for `now`, re-formatted only when its second differs
    /// from the cached one.
    pub fn get(&mut self, now: SystemTime) -> &str {
        self.get_bytes(now);
        // The buffer only ever holds ASCII.
        std::str::from_utf8(&self.text).unwrap_or("Thu, 01 Jan 1970 00:00:00 GMT")
    }

    /// The text formatted last (the epoch before the first [`get`](Self::get)).
    pub fn text(&self) -> &str {
        // The buffer only ever holds ASCII.
        std::str::from_utf8(&self.text).unwrap_or("Thu, 01 Jan 1970 00:00:00 GMT")
    }

    /// [`get`](Self::get) as bytes, ready to append to an output buffer.
    pub fn get_bytes(&mut self, now: SystemTime) -> &[u8; HTTP_DATE_LEN] {
        let secs = unix_secs(now);
        if self.second != Some(secs) {
            self.text = format_unix_secs(secs);
            self.second = Some(secs);
        }
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn known_dates() {
        let rows: &[(u64, &str)] = &[
            (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),
            (1_359_312_200, "Sun, 27 Jan 2013 18:43:20 GMT"),
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
            (4_107_542_399, "Sun, 28 Feb 2100 23:59:59 GMT"),
            (4_107_542_400, "Mon, 01 Mar 2100 00:00:00 GMT"),
            (253_402_300_799, "Fri, 31 Dec 9999 23:59:59 GMT"),
        ];
        for &(secs, text) in rows {
            assert_eq!(format_timestamp(at(secs)), text, "{secs}");
        }
        let float = UNIX_EPOCH + Duration::from_micros(1_359_312_200_503_611);
        assert_eq!(format_timestamp(float), "Sun, 27 Jan 2013 18:43:20 GMT");
    }

    #[test]
    fn before_the_epoch() {
        let t = UNIX_EPOCH - Duration::from_millis(500);
        assert_eq!(format_timestamp(t), "Wed, 31 Dec 1969 23:59:59 GMT");
        let t = UNIX_EPOCH - Duration::from_secs(86_400);
        assert_eq!(format_timestamp(t), "Wed, 31 Dec 1969 00:00:00 GMT");
    }

    #[test]
    fn every_day_for_a_few_centuries_matches_a_naive_calendar() {
        let (mut y, mut m, mut d) = (1970i64, 1u32, 1u32);
        for days in 0..(400 * 366) {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let len = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            d += 1;
            if d > len[(m - 1) as usize] {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }

    #[test]
    fn cache_reformats_only_on_a_new_second() {
        let mut cache = DateCache::new();
        let t = at(784_111_777);
        assert_eq!(cache.get(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(
            cache.get(t + Duration::from_millis(999)),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            cache.get(t + Duration::from_secs(1)),
            "Sun, 06 Nov 1994 08:49:38 GMT"
        );
    }
    #[test]
    fn parses_the_three_forms_and_what_python_accepts() {
        let t = 784_111_777i64;
        let rows: &[(&str, Option<i64>)] = &[
            ("Sun, 06 Nov 1994 08:49:37 GMT", Some(t)),
            ("Sunday, 06-Nov-94 08:49:37 GMT", Some(t)),
            ("Sun Nov  6 08:49:37 1994", Some(t)),
            ("06 Nov 1994 08:49:37 GMT", Some(t)),
            ("Sun, 06 Nov 1994 08:49:37", Some(t)),
            ("sun, 06 nov 1994 08:49:37 utc", Some(t)),
            ("Sun, 06 Nov 1994 09:49:37 +0100", Some(t)),
            ("Sun, 06 Nov 1994 03:49:37 -0500", Some(t)),
            ("Sun, 06 Nov 1994 08:49 GMT", Some(t - 37)),
            ("  Sun, 06 Nov 1994 08:49:37 GMT  ", Some(t)),
            ("Thu, 01 Jan 1970 00:00:00 GMT", Some(0)),
            ("Fri, 01 Jan 1960 00:00:00 GMT", Some(-315_619_200)),
            ("Thu, 01-Jan-70 00:00:00 GMT", Some(0)),
            ("Mon, 01-Jan-68 00:00:00 GMT", Some(3_092_601_600)),
            ("Tue, 29 Feb 2000 00:00:00 GMT", Some(951_782_400)),
            ("Fri, 31 Dec 9999 23:59:59 GMT", Some(253_402_300_799)),
            ("", None),
            ("!nv@l!d", None),
            ("Sun, 06 Nov 1994", None),
            ("Sun, 06 Foo 1994 08:49:37 GMT", None),
            ("Sun, 31 Feb 1994 08:49:37 GMT", None),
            ("Sun, 00 Nov 1994 08:49:37 GMT", None),
            ("Sun, 06 Nov 1994 24:00:00 GMT", None),
            ("Sun, 06 Nov 1994 08:60:00 GMT", None),
            ("Sun, 06 Nov 1994 03:49:37 EST", Some(t)),
            ("Sun, 06 Nov 1994 08:49:37 XST", None),
            ("Sun, 06 Nov 1994 08:49:37 +01", None),
            ("Sun, 06 Nov 1994 08:49:37 GMT extra", None),
            ("Sun, 06 Nov 1994 08:49:37:00 GMT", None),
            ("Sun, 06 November 1994 08:49:37 GMT", Some(t)),
            ("Sun, 06 Novem 1994 08:49:37 GMT", None),
            ("Sun, -6 Nov 1994 08:49:37 GMT", None),
            ("Sun, 06 Nov 19945 08:49:37 GMT", None),
        ];
        for &(text, want) in rows {
            let got = parse_http_date(text).map(unix_secs);
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn parsing_inverts_formatting() {
        for secs in [0i64, 1, 86_399, 951_782_400, 1_359_312_200, -1, -86_401] {
            let t = if secs >= 0 {
                UNIX_EPOCH + Duration::from_secs(secs as u64)
            } else {
                UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
            };
            assert_eq!(parse_http_date(&format_timestamp(t)), Some(t), "{secs}");
        }
        for days in (-800_000i64..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
