//! Times as CloudTrail and its neighbours write them, and the UTC dates that name partitions.
//!
//! Records carry ISO-8601 UTC (`2024-01-31T12:00:00Z`); tools that re-shape them write
//! `2024-01-31 12:00:00`, with fractions up to nanoseconds, or an offset. All are accepted and
//! normalised to microseconds since the Unix epoch, UTC. Whitespace inside the time part is
//! ignored (AWS documentation has published `21: 22: 54`). Nothing else is guessed.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The times a user may name (`--start`, `--param start=…`): 1970-01-01 up to, not including,
/// 2200-01-01. CloudTrail began in 2013; far outside these bounds, the query engine's nanosecond
/// time arithmetic overflows (nanoseconds since 1970 end in 2262).
pub const USER_TIMES: std::ops::Range<i64> = 0..7_258_118_400_000_000;
/// Why a time outside [`USER_TIMES`] is refused, for messages.
pub const USER_TIMES_TEXT: &str =
    "outside the times trailq handles (from 1970-01-01 to 2199-12-31; CloudTrail began in 2013)";
/// The longest span a user may name (`--last`, `-7d`): 200 years.
pub const LONGEST_SPAN: std::time::Duration = std::time::Duration::from_secs(200 * 365 * 86_400);

/// Parses an ISO-8601-like time to µs since the epoch (UTC); `None` if it is not one.
pub fn parse_timestamp_micros(s: &str) -> Option<i64> {
    let s = s.trim();
    if !s.as_bytes().get(..4)?.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let date = date_of(s.get(..10)?)?;
    let rest = s.get(10..)?;
    let rest = rest
        .strip_prefix('T')
        .or_else(|| rest.strip_prefix('t'))
        .or_else(|| rest.strip_prefix(' '))?;
    let compact: String;
    let rest = if rest.contains(char::is_whitespace) {
        compact = rest.chars().filter(|c| !c.is_whitespace()).collect();
        compact.as_str()
    } else {
        rest
    };
    let b = rest.as_bytes();
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let hour = two_digits(&b[0..2])?;
    let minute = two_digits(&b[3..5])?;
    let second = two_digits(&b[6..8])?;
    let mut i = 8;
    let mut micros = 0u32;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 6 {
                micros = micros * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        let digits = i - start;
        if digits == 0 || digits > 9 {
            return None;
        }
        for _ in digits..6 {
            micros *= 10;
        }
    }
    let offset_secs: i64 = match &b[i..] {
        [] | [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] | [sign @ (b'+' | b'-'), h1, h2, m1, m2] => {
            let secs = i64::from(two_digits(&[*h1, *h2])?) * 3600
                + i64::from(two_digits(&[*m1, *m2])?) * 60;
            if *sign == b'+' { secs } else { -secs }
        }
        _ => return None,
    };
    let time = NaiveTime::from_hms_micro_opt(hour, minute, second, micros)?;
    let utc = date.and_time(time).and_utc().timestamp_micros();
    utc.checked_sub(offset_secs.checked_mul(1_000_000)?)
}

/// A time as [`parse_timestamp_micros`] reads it, or a bare date (`2026-11-01`) as its midnight
/// UTC: what users type on the command line.
pub fn parse_time_or_day(s: &str) -> Option<i64> {
    parse_timestamp_micros(s).or_else(|| parse_day(s.trim()).map(|d| i64::from(d) * MICROS_PER_DAY))
}

/// `YYYY-MM-DD`. Every record's time is parsed, and the format-string parser took ~1% of a
/// convert (BENCHMARKS.md, issue 15, session 21), so the shape CloudTrail writes is read
/// directly; anything else goes to chrono's parser, which decides as it always did.
fn date_of(s: &str) -> Option<NaiveDate> {
    match s.as_bytes() {
        [y @ .., b'-', m1, m2, b'-', d1, d2]
            if y.len() == 4 && y.iter().all(u8::is_ascii_digit) =>
        {
            let year = two_digits(&y[..2])? * 100 + two_digits(&y[2..])?;
            NaiveDate::from_ymd_opt(
                year as i32,
                two_digits(&[*m1, *m2])?,
                two_digits(&[*d1, *d2])?,
            )
        }
        _ => NaiveDate::parse_from_str(s, "%Y-%m-%d").ok(),
    }
}

fn two_digits(b: &[u8]) -> Option<u32> {
    match b {
        [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => {
            Some(u32::from(a - b'0') * 10 + u32::from(b - b'0'))
        }
        _ => None,
    }
}

/// Days since 1970-01-01 of a UTC time in µs.
pub fn day_of_micros(micros: i64) -> i32 {
    // Saturating: the parser cannot produce times whose day would overflow an i32.
    micros.div_euclid(MICROS_PER_DAY) as i32
}

/// `YYYY-MM-DD` for a day number. Only ever built from a parsed time, never from record text,
/// so it is safe in a path.
pub fn format_day(day: i32) -> String {
    let date = NaiveDate::from_num_days_from_ce_opt(day + 719_163)
        .expect("day numbers come from valid timestamps");
    date.format("%Y-%m-%d").to_string()
}

/// Parses `YYYY-MM-DD` (as in a partition directory name) back to a day number.
pub fn parse_day(s: &str) -> Option<i32> {
    if s.len() != 10 {
        return None;
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(date.signed_duration_since(NaiveDate::default()).num_days() as i32)
}

/// ISO-8601 UTC with seconds, for messages and file metadata.
pub fn format_micros(micros: i64) -> String {
    match DateTime::<Utc>::from_timestamp_micros(micros) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => micros.to_string(),
    }
}

/// Parses a duration like `500ms`, `30s`, `15m`, `2h`, `90d` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Option<std::time::Duration> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: f64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86_400.0,
        "w" => n * 7.0 * 86_400.0,
        _ => return None,
    };
    std::time::Duration::try_from_secs_f64(seconds).ok()
}

/// RFC 3339 UTC with milliseconds (`2024-05-01T10:00:00.000Z`), as AWS writes times in JSON.
pub fn format_micros_millis(micros: i64) -> String {
    match DateTime::<Utc>::from_timestamp_micros(micros) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => micros.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_shapes_found_in_real_records() {
        let t = 1_714_557_600_000_000; // 2024-05-01T10:00:00Z
        for s in [
            "2024-05-01T10:00:00Z",
            "2024-05-01 10:00:00",
            "2024-05-01 10:00:00Z",
            "2024-05-01T10: 00: 00Z",
            "2024-05-01T12:00:00+02:00",
            "2024-05-01T05:00:00-0500",
            " 2024-05-01T10:00:00.000Z ",
        ] {
            assert_eq!(parse_timestamp_micros(s), Some(t), "{s}");
        }
        assert_eq!(
            parse_timestamp_micros("2024-05-01 10:00:00.123456789"),
            Some(t + 123_456)
        );
        assert_eq!(
            parse_timestamp_micros("2024-05-01 10:00:00.5"),
            Some(t + 500_000)
        );
    }

    #[test]
    fn dates_read_directly_as_chrono_reads_them() {
        let mut texts: Vec<String> = (0..800)
            .map(|i| format!("{:04}-{:02}-{:02}", 1999 + i % 30, i % 14, (i * 7) % 33))
            .collect();
        texts.extend(
            [
                "2024-02-29",
                "2023-02-29",
                "0000-01-01",
                "2024-5-01",
                "2024-05-1 ",
                "+2024-05-0",
            ]
            .map(String::from),
        );
        for s in &texts {
            assert_eq!(
                date_of(s),
                NaiveDate::parse_from_str(s, "%Y-%m-%d").ok(),
                "{s}"
            );
        }
        assert!(date_of("2024-02-29").is_some() && date_of("2023-02-29").is_none());
    }

    #[test]
    fn rejects_what_is_not_a_time() {
        for s in [
            "redacted",
            "",
            "2024-05-01",
            "2024-13-01T10:00:00Z",
            "2024-05-01T25:00:00Z",
            "2024-05-01T10:00:00.Z",
            "2024-05-01T10:00:00 PST",
            "2024-05-01X10:00:00Z",
            "१२३४-05-01T10:00:00Z",
        ] {
            assert_eq!(parse_timestamp_micros(s), None, "{s}");
        }
    }

    #[test]
    fn durations() {
        use std::time::Duration;
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(
            parse_duration("90d"),
            Some(Duration::from_secs(90 * 86_400))
        );
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        for bad in ["", "s", "-1s", "3 parsecs", "1e400s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn days_round_trip_and_handle_times_before_1970() {
        let t = parse_timestamp_micros("2024-05-01T23:59:59.999999Z").unwrap();
        assert_eq!(format_day(day_of_micros(t)), "2024-05-01");
        assert_eq!(parse_day("2024-05-01"), Some(day_of_micros(t)));
        let before = parse_timestamp_micros("1969-12-31T23:00:00Z").unwrap();
        assert_eq!(format_day(day_of_micros(before)), "1969-12-31");
        assert_eq!(parse_day("../../x"), None);
    }
}
