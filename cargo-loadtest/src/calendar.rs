//! The proleptic Gregorian calendar in UTC: Unix time to a civil date and time, and a civil date
//! to days since the epoch (Howard Hinnant's algorithms: years counted from March, so that the
//! leap day ends a year, in 400-year eras of 146,097 days). Every date the tool reads or writes
//! (`--start-at`, HAR timestamps, report pages, history records) goes through here, and so does
//! every way a Unix time is written ([`rfc3339`], [`compact`], [`readable`], [`readable_ms`]).

/// Days from 0000-03-01 to 1970-01-01.
const EPOCH_SHIFT: i64 = 719_468;
/// Days in a 400-year era.
const ERA_DAYS: i64 = 146_097;

/// A UTC date and time of day, to the second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    /// The year (proleptic Gregorian).
    pub year: i64,
    /// 1 to 12.
    pub month: i64,
    /// 1 to 31.
    pub day: i64,
    /// 0 to 23.
    pub hour: i64,
    /// 0 to 59.
    pub minute: i64,
    /// 0 to 59.
    pub second: i64,
}

/// The UTC date and time of whole Unix seconds.
pub fn civil_from_unix(secs: i64) -> Civil {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + EPOCH_SHIFT;
    let era = z.div_euclid(ERA_DAYS);
    let day_of_era = z.rem_euclid(ERA_DAYS);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    Civil {
        year: year_of_era + era * 400 + i64::from(month <= 2),
        month,
        day,
        hour: rem / 3_600,
        minute: rem % 3_600 / 60,
        second: rem % 60,
    }
}

/// Days from 1970-01-01 to the date.
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * ERA_DAYS + day_of_era - EPOCH_SHIFT
}

/// Whole seconds of a Unix time; the epoch for a value that is not finite.
fn whole_seconds(unix: f64) -> i64 {
    if unix.is_finite() {
        unix.floor() as i64
    } else {
        0
    }
}

/// RFC 3339 in UTC to the second, `2026-12-07T01:02:03Z` (history CSVs).
pub fn rfc3339(unix: f64) -> String {
    let c = civil_from_unix(whole_seconds(unix));
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// The compact ISO 8601 form, `20261207T010203Z` (history file names).
pub fn compact(unix: f64) -> String {
    let c = civil_from_unix(whole_seconds(unix));
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// A Unix time for people, `2026-12-02 02:30:00 UTC`; `-` for one before the epoch or not
/// finite (report pages).
pub fn readable(unix: f64) -> String {
    if !unix.is_finite() || unix < 0.0 {
        return "-".into();
    }
    let c = civil_from_unix(unix as i64);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// [`readable`] to the millisecond, `2026-12-02 02:30:00.125 UTC`.
pub fn readable_ms(unix: f64) -> String {
    if !unix.is_finite() || unix < 0.0 {
        return "-".into();
    }
    let ms = ((unix - unix.floor()) * 1000.0).floor() as u32;
    readable(unix.floor()).replace(" UTC", &format!(".{ms:03} UTC"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_times_are_written_in_utc() {
        assert_eq!(rfc3339(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_796_000_000.9), "2026-11-30T00:53:20Z");
        assert_eq!(compact(951_782_400.0), "20000229T000000Z");
        assert_eq!(
            readable_ms(1_796_178_645.125),
            "2026-12-02 02:30:45.125 UTC"
        );
        assert_eq!(readable(0.0), "1970-01-01 00:00:00 UTC");
        assert_eq!(readable(951_782_400.0), "2000-02-29 00:00:00 UTC");
        assert_eq!(readable(1_796_178_645.5), "2026-12-02 02:30:45 UTC");
        assert_eq!(readable(f64::NAN), "-");
    }

    fn at(year: i64, month: i64, day: i64, hour: i64, minute: i64, second: i64) -> Civil {
        Civil {
            year,
            month,
            day,
            hour,
            minute,
            second,
        }
    }

    #[test]
    fn known_instants_both_ways() {
        for (unix, civil) in [
            (0, at(1970, 1, 1, 0, 0, 0)),
            (-1, at(1969, 12, 31, 23, 59, 59)),
            (951_868_799, at(2000, 2, 29, 23, 59, 59)),
            (1_796_605_323, at(2026, 12, 7, 1, 2, 3)),
            (13_574_649_600, at(2400, 3, 1, 0, 0, 0)),
        ] {
            assert_eq!(civil_from_unix(unix), civil, "{unix}");
            let days = days_from_civil(civil.year, civil.month, civil.day);
            let back = days * 86_400 + civil.hour * 3_600 + civil.minute * 60 + civil.second;
            assert_eq!(back, unix, "{civil:?}");
        }
    }

    #[test]
    fn every_day_of_four_centuries_round_trips() {
        let first = days_from_civil(1900, 1, 1);
        for days in first..first + 146_097 {
            let c = civil_from_unix(days * 86_400);
            assert_eq!(days_from_civil(c.year, c.month, c.day), days, "{c:?}");
        }
    }
}
