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
}
