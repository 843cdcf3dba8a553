//! The coordinated start (`--start-at TIME`): every shard holds its first test until the same
//! wall-clock instant. TIME is RFC 3339 (`2026-12-02T10:00:00Z`, `2026-12-02T11:00:00.5+01:00`;
//! `t`, `z` and a space for `T` are accepted as RFC 3339 allows) or seconds since the Unix
//! epoch (`1796205600`, `1796205600.25`). Parsed here by hand: no date crate is needed for UTC
//! and fixed offsets.

use crate::calendar::days_from_civil;
use std::time::Duration;

/// How far ahead a start may be: further is almost surely a mistake (a shard would hang).
pub const MAX_AHEAD: Duration = Duration::from_secs(24 * 3600);

/// Parses TIME into seconds since the Unix epoch.
pub fn parse(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let bad = |why: &str| {
        format!(
            "invalid start time {text:?}: {why}; expected RFC 3339 (2026-12-02T10:00:00Z or 2026-12-02T11:00:00+01:00) or seconds since the Unix epoch (1796205600)"
        )
    };
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return t
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| bad("not a number"));
    }
    let b = t.as_bytes();
    if b.len() < 20 {
        return Err(bad("too short"));
    }
    let digits = |from: usize, len: usize| -> Result<i64, String> {
        let s = t.get(from..from + len).ok_or_else(|| bad("cut short"))?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad(&format!("{s:?} is not a number")));
        }
        Ok(s.parse::<i64>().expect("digits"))
    };
    let expect = |at: usize, chars: &[u8], what: &str| {
        if b.get(at).is_some_and(|c| chars.contains(c)) {
            Ok(())
        } else {
            Err(bad(&format!("expected {what} at position {}", at + 1)))
        }
    };
    let year = digits(0, 4)?;
    expect(4, b"-", "'-'")?;
    let month = digits(5, 2)?;
    expect(7, b"-", "'-'")?;
    let day = digits(8, 2)?;
    expect(10, b"Tt ", "'T'")?;
    let hour = digits(11, 2)?;
    expect(13, b":", "':'")?;
    let minute = digits(14, 2)?;
    expect(16, b":", "':'")?;
    let second = digits(17, 2)?;
    let mut at = 19;
    let mut fraction = 0.0;
    if b.get(at) == Some(&b'.') {
        let start = at + 1;
        let mut end = start;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        if end == start {
            return Err(bad("no digits after '.'"));
        }
        fraction = format!("0.{}", &t[start..end])
            .parse::<f64>()
            .expect("digits");
        at = end;
    }
    let offset_s = match b.get(at) {
        Some(b'Z' | b'z') if at + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if at + 6 == b.len() => {
            let oh = digits(at + 1, 2)?;
            expect(at + 3, b":", "':' in the offset")?;
            let om = digits(at + 4, 2)?;
            if oh > 23 || om > 59 {
                return Err(bad("the offset is out of range"));
            }
            let s = oh * 3600 + om * 60;
            if *sign == b'+' { s } else { -s }
        }
        _ => return Err(bad("expected 'Z' or an offset such as +01:00 at the end")),
    };
    if !(1..=12).contains(&month) {
        return Err(bad("the month is out of range"));
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err(bad("the day is out of range"));
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err(bad("the time of day is out of range"));
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    Ok(secs as f64 + fraction)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Checks a start against `now` (both seconds since the epoch): a start more than `grace` in
/// the past, or more than [`MAX_AHEAD`] ahead, is refused with a message naming it.
pub fn check(text: &str, at: f64, now: f64, grace: Duration) -> Result<(), String> {
    let late = now - at;
    if late > grace.as_secs_f64() {
        let allowed = if grace.is_zero() {
            String::new()
        } else {
            format!(" (--start-grace allows {:.1}s)", grace.as_secs_f64())
        };
        return Err(format!(
            "--start-at {text}: that instant passed {late:.1}s ago{allowed}; give a time in the future, or --start-grace DURATION to start a late shard at once"
        ));
    }
    if -late > MAX_AHEAD.as_secs_f64() {
        return Err(format!(
            "--start-at {text}: that instant is {:.0}s ahead, more than the 24h a shard may wait",
            -late
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_and_unix_seconds() {
        assert_eq!(parse("1970-01-01T00:00:00Z").unwrap(), 0.0);
        assert_eq!(parse("2000-03-01T00:00:00Z").unwrap(), 951_868_800.0);
        assert_eq!(parse("2026-12-02T10:00:00Z").unwrap(), 1_796_205_600.0);
        assert_eq!(parse("2026-12-02t10:00:00z").unwrap(), 1_796_205_600.0);
        assert_eq!(parse("2026-12-02 11:30:00+01:30").unwrap(), 1_796_205_600.0);
        assert_eq!(parse("2026-12-02T08:00:00-02:00").unwrap(), 1_796_205_600.0);
        assert_eq!(parse("2024-02-29T23:59:59.25Z").unwrap(), 1_709_251_199.25);
        assert_eq!(parse("1796205600").unwrap(), 1_796_205_600.0);
        assert_eq!(parse(" 1796205600.5 ").unwrap(), 1_796_205_600.5);
        // Before the epoch, and a leap second.
        assert_eq!(parse("1969-12-31T23:59:59Z").unwrap(), -1.0);
        assert_eq!(parse("2016-12-31T23:59:60Z").unwrap(), 1_483_228_800.0);
    }

    #[test]
    fn every_day_of_four_centuries_counts_up_by_one() {
        let mut expected = days_from_civil(1900, 1, 1);
        for y in 1900..2300 {
            for m in 1..=12 {
                for d in 1..=days_in_month(y, m) {
                    assert_eq!(days_from_civil(y, m, d), expected, "{y}-{m}-{d}");
                    expected += 1;
                }
            }
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
    }

    #[test]
    fn bad_times_name_the_problem() {
        for (bad, why) in [
            ("tomorrow", "too short"),
            ("2026-13-01T00:00:00Z", "month"),
            ("2023-02-29T00:00:00Z", "day"),
            ("2026-12-02T24:00:00Z", "time of day"),
            ("2026-12-02T10:00:00", "too short"),
            ("2026-12-02T10:00:00+1:00", "expected 'Z'"),
            ("2026-12-02T10:00:00.Z", "no digits"),
            ("2026-12-02X10:00:00Z", "'T'"),
            ("2026-12-02T10:00:00+25:00", "offset"),
            ("1.2.3", "not a number"),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(why) && e.contains("RFC 3339"), "{bad}: {e}");
        }
    }

    #[test]
    fn past_and_far_starts_are_refused() {
        check("t", 100.0, 99.0, Duration::ZERO).unwrap();
        let e = check("t", 100.0, 105.0, Duration::ZERO).unwrap_err();
        assert!(e.contains("passed 5.0s ago"), "{e}");
        check("t", 100.0, 105.0, Duration::from_secs(10)).unwrap();
        assert!(check("t", 100_000.0, 0.0, Duration::ZERO).is_err());
    }
}
