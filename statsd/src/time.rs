//! UTC time from log timestamps, and the calendar buckets of reports.
//!
//! Owns conversions between civil dates and Unix time (proleptic Gregorian, UTC) and the
//! week alignment of DNF countme. Must not read the clock or the local time zone.

/// Seconds per day.
pub const DAY: i64 = 86_400;
/// DNF countme weeks start on Monday 1970-01-05 00:00 UTC (`COUNTME_OFFSET` in libdnf).
pub const COUNTME_OFFSET: i64 = 345_600;
/// One countme window.
pub const WEEK: i64 = 604_800;

/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Civil date (year, month, day) of a day number.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `YYYY-MM-DD` of a day number.
pub fn format_day(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Day number of `YYYY-MM-DD`.
pub fn parse_day(text: &[u8]) -> Option<i64> {
    if text.len() != 10 || text[4] != b'-' || text[7] != b'-' {
        return None;
    }
    let year = digits(&text[0..4])?;
    let month = digits(&text[5..7])? as u32;
    let day = digits(&text[8..10])? as u32;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// Seconds of `HH:MM:SS`.
pub fn parse_clock(text: &[u8]) -> Option<i64> {
    if text.len() != 8 || text[2] != b':' || text[5] != b':' {
        return None;
    }
    let h = digits(&text[0..2])?;
    let m = digits(&text[3..5])?;
    let s = digits(&text[6..8])?;
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(h * 3600 + m * 60 + s)
}

#[inline]
fn digits(text: &[u8]) -> Option<i64> {
    let mut value = 0i64;
    for &byte in text {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value * 10 + i64::from(byte - b'0');
    }
    Some(value)
}

/// Unix seconds of RFC 3339 UTC or with offset: `2024-01-16T23:53:20.460557177Z`,
/// `2024-01-16T23:53:20+02:00`.
pub fn parse_rfc3339(text: &[u8]) -> Option<i64> {
    if text.len() < 20 || text[10] != b'T' && text[10] != b' ' {
        return None;
    }
    let day = parse_day(&text[..10])?;
    let clock = parse_clock(&text[11..19])?;
    let mut rest = &text[19..];
    if let Some(stripped) = rest.strip_prefix(b".") {
        let fraction = stripped.iter().take_while(|b| b.is_ascii_digit()).count();
        rest = &stripped[fraction..];
    }
    let offset = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let value = digits(&[*h1, *h2])? * 3600 + digits(&[*m1, *m2])? * 60;
            if *sign == b'+' { value } else { -value }
        }
        _ => return None,
    };
    Some(day * DAY + clock - offset)
}

/// Unix seconds of the Apache/nginx `%t` body `10/Oct/2000:13:55:36 -0700` (local time with
/// its UTC offset).
pub fn parse_clf(text: &[u8]) -> Option<i64> {
    if text.len() != 26
        || text[2] != b'/'
        || text[6] != b'/'
        || text[11] != b':'
        || text[20] != b' '
    {
        return None;
    }
    let day = digits(&text[0..2])? as u32;
    let month = match &text[3..6] {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    };
    if !(1..=31).contains(&day) {
        return None;
    }
    let year = digits(&text[7..11])?;
    let clock = parse_clock(&text[12..20])?;
    let sign = match text[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let offset = sign * (digits(&text[22..24])? * 3600 + digits(&text[24..26])? * 60);
    Some(days_from_civil(year, month, day) * DAY + clock - offset)
}

/// Day number (UTC) of a Unix time.
pub fn day_of(unix: i64) -> i64 {
    unix.div_euclid(DAY)
}

/// The countme week a day belongs to, as the day number of its Monday.
pub fn week_start(day: i64) -> i64 {
    let week = (day * DAY - COUNTME_OFFSET).div_euclid(WEEK);
    (week * WEEK + COUNTME_OFFSET) / DAY
}

/// The first day of the month a day belongs to.
pub fn month_start(day: i64) -> i64 {
    let (y, m, _) = civil_from_days(day);
    days_from_civil(y, m, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-800_000, -1, 0, 1, 59, 60, 11_016, 20_000, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(format_day(0), "1970-01-01");
        assert_eq!(parse_day(b"2026-08-06"), Some(20_671));
        assert_eq!(format_day(20_671), "2026-08-06");
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            parse_day(b"2026-08-06").unwrap() * DAY + parse_clock(b"15:01:02").unwrap(),
            1_786_028_462
        );
        assert_eq!(parse_clf(b"10/Oct/2000:13:55:36 -0700"), Some(971_211_336));
        assert_eq!(
            parse_clf(b"06/Aug/2026:03:14:07 +0000"),
            Some(1_785_986_047)
        );
        assert_eq!(
            parse_rfc3339(b"2024-01-16T23:53:20.460557177Z"),
            Some(1_705_449_200)
        );
        assert_eq!(
            parse_rfc3339(b"2024-01-17T01:53:20+02:00"),
            Some(1_705_449_200)
        );
        assert_eq!(parse_clf(b"10/Foo/2000:13:55:36 -0700"), None);
        assert_eq!(parse_clock(b"25:00:00"), None);
    }

    #[test]
    fn countme_weeks_start_on_monday() {
        // 1970-01-05 was a Monday: days 4..=10 are one week.
        assert_eq!(week_start(4), 4);
        assert_eq!(week_start(10), 4);
        assert_eq!(week_start(11), 11);
        assert_eq!(week_start(3), -3);
        // 2026-08-06 is a Thursday; its week starts Monday 2026-08-03.
        assert_eq!(
            format_day(week_start(parse_day(b"2026-08-06").unwrap())),
            "2026-08-03"
        );
        assert_eq!(
            format_day(month_start(parse_day(b"2026-08-06").unwrap())),
            "2026-08-01"
        );
    }
}
