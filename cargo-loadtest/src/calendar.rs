//! The proleptic Gregorian calendar in UTC: Unix time to a civil date and time, and a civil date
//! to days since the epoch (Howard Hinnant's algorithms: years counted from March, so that the
//! leap day ends a year, in 400-year eras of 146,097 days). Every date the tool reads or writes
//! (`--start-at`, HAR timestamps, report pages, history records) goes through here.

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

#[cfg(test)]
mod tests {
    use super::*;

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
