//! Date helpers shared by the exchange rule modules: Easter, nth weekdays, weekend observance.
//!
//! The observance names follow the usual holiday-calendar vocabulary (and `pandas`, whose
//! `exchange_calendars` package is our reference), so a rule reads the same in both places.

use jiff::Span;
use jiff::civil::{Date, Weekday, date};

/// `date` moved by `days` (negative moves back).
pub(crate) fn add_days(d: Date, days: i32) -> Date {
    d.checked_add(Span::new().days(days))
        .expect("calendar dates stay far from jiff's limits")
}

/// True on Saturday and Sunday.
pub(crate) fn is_weekend(d: Date) -> bool {
    crate::is_weekend(d.weekday())
}

/// Easter Sunday of `year` (Gregorian; anonymous computus).
#[expect(
    clippy::many_single_char_names,
    reason = "the computus is published with these names"
)]
pub(crate) fn easter_sunday(year: i16) -> Date {
    let y = i32::from(year);
    let a = y % 19;
    let b = y / 100;
    let c = y % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    date(year, month as i8, day as i8)
}

/// Good Friday: Easter Sunday − 2 days.
pub(crate) fn good_friday(year: i16) -> Date {
    add_days(easter_sunday(year), -2)
}

/// Easter Monday: Easter Sunday + 1 day.
pub(crate) fn easter_monday(year: i16) -> Date {
    add_days(easter_sunday(year), 1)
}

/// Ascension Day: Easter Sunday + 39 days (a Thursday).
pub(crate) fn ascension_day(year: i16) -> Date {
    add_days(easter_sunday(year), 39)
}

/// Whit Monday: Easter Sunday + 50 days.
pub(crate) fn whit_monday(year: i16) -> Date {
    add_days(easter_sunday(year), 50)
}

/// The `n`-th `weekday` of `month` (n ≥ 1), or the last one for `n == -1`.
pub(crate) fn nth_weekday(year: i16, month: i8, weekday: Weekday, n: i8) -> Date {
    date(year, month, 1)
        .nth_weekday_of_month(n, weekday)
        .expect("every month has a first to fourth and a last of each weekday")
}

/// The first `weekday` on or after `d`.
pub(crate) fn on_or_after(d: Date, weekday: Weekday) -> Date {
    let ahead = weekday.since(d.weekday());
    add_days(d, i32::from(ahead))
}

/// The last `weekday` on or before `d`.
pub(crate) fn on_or_before(d: Date, weekday: Weekday) -> Date {
    let back = d.weekday().since(weekday);
    add_days(d, -i32::from(back))
}

/// Sunday moves to Monday; Saturday stays (and so is lost to the weekend).
pub(crate) fn sunday_to_monday(d: Date) -> Date {
    if d.weekday() == Weekday::Sunday {
        add_days(d, 1)
    } else {
        d
    }
}

/// Saturday and Sunday both move to the following Monday.
pub(crate) fn weekend_to_monday(d: Date) -> Date {
    match d.weekday() {
        Weekday::Saturday => add_days(d, 2),
        Weekday::Sunday => add_days(d, 1),
        _ => d,
    }
}

/// Saturday moves to Friday, Sunday to Monday (US "nearest workday").
pub(crate) fn nearest_workday(d: Date) -> Date {
    match d.weekday() {
        Weekday::Saturday => add_days(d, -1),
        Weekday::Sunday => add_days(d, 1),
        _ => d,
    }
}

/// Saturday and Sunday both move back to the Friday before.
pub(crate) fn previous_friday(d: Date) -> Date {
    match d.weekday() {
        Weekday::Saturday => add_days(d, -1),
        Weekday::Sunday => add_days(d, -2),
        _ => d,
    }
}

/// The last weekday strictly before `d`.
pub(crate) fn previous_workday(d: Date) -> Date {
    let mut p = add_days(d, -1);
    while is_weekend(p) {
        p = add_days(p, -1);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn easter_matches_known_dates() {
        for (y, m, d) in [
            (1990, 4, 15),
            (2000, 4, 23),
            (2008, 3, 23),
            (2011, 4, 24),
            (2019, 4, 21),
            (2024, 3, 31),
            (2025, 4, 20),
            (2038, 4, 25),
        ] {
            assert_eq!(easter_sunday(y), date(y, m, d), "{y}");
        }
    }

    #[test]
    fn weekday_helpers() {
        // Thanksgiving 2025 is the 4th Thursday of November: 27th.
        assert_eq!(
            nth_weekday(2025, 11, Weekday::Thursday, 4),
            date(2025, 11, 27)
        );
        assert_eq!(nth_weekday(2025, 5, Weekday::Monday, -1), date(2025, 5, 26));
        // Victoria Day: the Monday on or before 24 May.
        assert_eq!(
            on_or_before(date(2025, 5, 24), Weekday::Monday),
            date(2025, 5, 19)
        );
        assert_eq!(
            on_or_before(date(2021, 5, 24), Weekday::Monday),
            date(2021, 5, 24)
        );
        assert_eq!(
            on_or_after(date(1991, 1, 26), Weekday::Monday),
            date(1991, 1, 28)
        );
        assert_eq!(
            on_or_after(date(2025, 1, 27), Weekday::Monday),
            date(2025, 1, 27)
        );
    }

    #[test]
    fn observance_helpers() {
        let sat = date(2021, 12, 25);
        let sun = date(2022, 12, 25);
        assert_eq!(nearest_workday(sat), date(2021, 12, 24));
        assert_eq!(nearest_workday(sun), date(2022, 12, 26));
        assert_eq!(weekend_to_monday(sat), date(2021, 12, 27));
        assert_eq!(sunday_to_monday(sat), sat);
        assert_eq!(previous_friday(sun), date(2022, 12, 23));
        assert_eq!(previous_workday(date(2024, 12, 31)), date(2024, 12, 30));
        assert_eq!(previous_workday(date(2018, 12, 31)), date(2018, 12, 28));
    }
}
