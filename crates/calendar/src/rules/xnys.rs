//! New York Stock Exchange (NASDAQ and the other US equity venues keep the same days).
//!
//! Hours 09:30–16:00 `America/New_York`. Early closes at 13:00 (14:00 before 1993).

use jiff::civil::{Date, Time, Weekday, date};

use super::common::{add_days, good_friday, nearest_workday, nth_weekday, sunday_to_monday};
use super::{Hours, hm, listed};

/// Closures no rule produces.
pub(crate) const ONE_OFF_CLOSURES: &[(Date, &str)] = &[
    (
        date(1994, 4, 27),
        "national day of mourning for Richard Nixon",
    ),
    (date(2001, 9, 11), "September 11 attacks"),
    (date(2001, 9, 12), "September 11 attacks"),
    (date(2001, 9, 13), "September 11 attacks"),
    (date(2001, 9, 14), "September 11 attacks"),
    (
        date(2004, 6, 11),
        "national day of mourning for Ronald Reagan",
    ),
    (date(2007, 1, 2), "national day of mourning for Gerald Ford"),
    (date(2012, 10, 29), "Hurricane Sandy"),
    (date(2012, 10, 30), "Hurricane Sandy"),
    (
        date(2018, 12, 5),
        "national day of mourning for George H. W. Bush",
    ),
    (
        date(2025, 1, 9),
        "national day of mourning for Jimmy Carter",
    ),
];

/// Early closes no rule produces (all at 13:00).
const ONE_OFF_EARLY_CLOSES: [Date; 3] =
    [date(1997, 12, 26), date(1999, 12, 31), date(2003, 12, 26)];

fn holidays(y: i16) -> [Option<Date>; 10] {
    [
        // New Year's Day on a Sunday moves to Monday; on a Saturday it is not observed at all.
        Some(sunday_to_monday(date(y, 1, 1))),
        (y >= 1998).then(|| nth_weekday(y, 1, Weekday::Monday, 3)),
        Some(nth_weekday(y, 2, Weekday::Monday, 3)),
        Some(good_friday(y)),
        Some(nth_weekday(y, 5, Weekday::Monday, -1)),
        (y >= 2022).then(|| nearest_workday(date(y, 6, 19))),
        Some(nearest_workday(date(y, 7, 4))),
        Some(nth_weekday(y, 9, Weekday::Monday, 1)),
        Some(nth_weekday(y, 11, Weekday::Thursday, 4)),
        Some(nearest_workday(date(y, 12, 25))),
    ]
}

pub(super) fn is_holiday(d: Date) -> bool {
    holidays(d.year()).contains(&Some(d)) || listed(ONE_OFF_CLOSURES, d)
}

fn early_close(d: Date) -> Option<Time> {
    let y = d.year();
    let w = d.weekday();
    let usual = if y < 1993 { hm(14, 0) } else { hm(13, 0) };
    let day_after_thanksgiving = add_days(nth_weekday(y, 11, Weekday::Thursday, 4), 1);
    let early = (y >= 1992 && d == day_after_thanksgiving)
        // Christmas Eve, unless it is a Friday (then the exchange is closed for Christmas).
        || (d == date(y, 12, 24) && !matches!(w, Weekday::Friday))
        || (y >= 1995
            && d == date(y, 7, 3)
            && (matches!(w, Weekday::Monday | Weekday::Tuesday | Weekday::Thursday)
                || (y >= 2013 && w == Weekday::Wednesday)))
        // Before 2013, a Thursday Independence Day made the Friday after a half day.
        || ((1995..2013).contains(&y) && d == date(y, 7, 5) && w == Weekday::Friday)
        || ONE_OFF_EARLY_CLOSES.contains(&d);
    early.then_some(usual)
}

pub(super) fn hours(d: Date) -> Hours {
    let regular = Hours::new(hm(9, 30), hm(16, 0));
    match early_close(d) {
        Some(t) => regular.closing_early(t),
        None => regular,
    }
}
