//! Tokyo Stock Exchange.
//!
//! Hours 09:00–15:00 Asia/Tokyo with a lunch break 11:30–12:30; the close moved to 15:30 on
//! 2024-11-05. Closed on Japanese national holidays (with the substitute-holiday and
//! "citizens' holiday" laws) and for the year-end break, 31 December to 3 January.

use jiff::civil::{Date, Weekday, date};

use super::common::{add_days, nth_weekday};
use super::{Hours, hm, listed};

/// Closures no rule produces: one-off national holidays and exchange outages.
pub(crate) const ONE_OFF_CLOSURES: &[(Date, &str)] = &[
    (
        date(1990, 11, 12),
        "enthronement ceremony of Emperor Akihito",
    ),
    (date(1993, 6, 9), "wedding of Crown Prince Naruhito"),
    (date(2019, 5, 1), "accession of Emperor Naruhito"),
    (
        date(2019, 10, 22),
        "enthronement ceremony of Emperor Naruhito",
    ),
    (
        date(2020, 10, 1),
        "equity trading system failure (arrowhead outage)",
    ),
];

/// The day of March (vernal) or September (autumnal) of the equinox holiday, by the
/// National Astronomical Observatory's approximation, valid 1980–2099.
fn equinox_day(y: i16, base: f64) -> i8 {
    let n = f64::from(y - 1980);
    (base + 0.242_194 * n - (n / 4.0).floor()).floor() as i8
}

/// National holidays defined by date or weekday rule, before substitutes and citizens' days.
fn base_holidays(y: i16) -> Vec<Date> {
    let mon = Weekday::Monday;
    let mut v = vec![
        date(y, 1, 1),
        if y < 2000 {
            date(y, 1, 15)
        } else {
            nth_weekday(y, 1, mon, 2)
        },
        date(y, 2, 11),
        date(y, 3, equinox_day(y, 20.8431)),
        date(y, 4, 29),
        date(y, 5, 3),
        date(y, 5, 5),
        if y < 2003 {
            date(y, 9, 15)
        } else {
            nth_weekday(y, 9, mon, 3)
        },
        date(y, 9, equinox_day(y, 23.2488)),
        date(y, 11, 3),
        date(y, 11, 23),
    ];
    if y >= 2020 {
        v.push(date(y, 2, 23));
    }
    if (1989..=2018).contains(&y) {
        v.push(date(y, 12, 23));
    }
    if y >= 2007 {
        v.push(date(y, 5, 4));
    }
    // Marine Day, moved for the Tokyo Olympics in 2020 and 2021.
    match y {
        ..=1995 => {}
        1996..=2002 => v.push(date(y, 7, 20)),
        2020 => v.push(date(y, 7, 23)),
        2021 => v.push(date(y, 7, 22)),
        _ => v.push(nth_weekday(y, 7, mon, 3)),
    }
    // Mountain Day, from 2016.
    match y {
        ..=2015 => {}
        2020 => v.push(date(y, 8, 10)),
        2021 => v.push(date(y, 8, 8)),
        _ => v.push(date(y, 8, 11)),
    }
    // Health and Sports Day.
    match y {
        ..=1999 => v.push(date(y, 10, 10)),
        2020 => v.push(date(y, 7, 24)),
        2021 => v.push(date(y, 7, 23)),
        _ => v.push(nth_weekday(y, 10, mon, 2)),
    }
    v.extend(
        ONE_OFF_CLOSURES
            .iter()
            .map(|(d, _)| *d)
            .filter(|d| d.year() == y && *d != date(2020, 10, 1)),
    );
    v.sort_unstable();
    v
}

/// Every national holiday of year `y`, with substitutes and citizens' holidays.
fn national_holidays(y: i16) -> Vec<Date> {
    let base = base_holidays(y);
    let mut all = base.clone();
    // Substitute holiday: a holiday on a Sunday gives the next day off; since 2007 the next
    // day that is not itself a holiday.
    for &h in &base {
        if h.weekday() == Weekday::Sunday {
            let mut s = add_days(h, 1);
            while y >= 2007 && base.contains(&s) {
                s = add_days(s, 1);
            }
            all.push(s);
        }
    }
    // Citizens' holiday: a day sandwiched between two national holidays.
    for &h in &base {
        let mid = add_days(h, 1);
        if base.contains(&add_days(h, 2)) && !base.contains(&mid) {
            all.push(mid);
        }
    }
    all
}

pub(super) fn is_holiday(d: Date) -> bool {
    let y = d.year();
    // Exchange year-end break: 31 December to 3 January.
    (d.month() == 1 && d.day() <= 3)
        || (d.month() == 12 && d.day() == 31)
        || national_holidays(y).contains(&d)
        || listed(ONE_OFF_CLOSURES, d)
}

pub(super) fn hours(d: Date) -> Hours {
    let close = if d >= date(2024, 11, 5) {
        hm(15, 30)
    } else {
        hm(15, 0)
    };
    let mut h = Hours::new(hm(9, 0), close);
    h.break_ = Some((hm(11, 30), hm(12, 30)));
    h
}
