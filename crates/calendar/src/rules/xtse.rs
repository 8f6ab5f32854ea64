//! Toronto Stock Exchange.
//!
//! Hours 09:30–16:00 America/Toronto; 13:00 close on Christmas Eve (weekdays, from 2010).

use jiff::civil::{Date, Weekday, date};

use super::common::{good_friday, is_weekend, nth_weekday, on_or_before, weekend_to_monday};
use super::{Hours, hm, listed};

/// Closures no rule produces.
pub(crate) const ONE_OFF_CLOSURES: &[(Date, &str)] = &[
    (date(2001, 9, 11), "September 11 attacks"),
    (date(2001, 9, 12), "September 11 attacks"),
];

fn holidays(y: i16) -> [Option<Date>; 12] {
    // Christmas and Boxing Day on a weekend are replaced by Monday/Tuesday 27 or 28 December.
    let substitute =
        |d: Date| matches!(d.weekday(), Weekday::Monday | Weekday::Tuesday).then_some(d);
    [
        Some(weekend_to_monday(date(y, 1, 1))),
        (y >= 2008).then(|| nth_weekday(y, 2, Weekday::Monday, 3)),
        Some(good_friday(y)),
        // Victoria Day: the Monday on or before 24 May.
        Some(on_or_before(date(y, 5, 24), Weekday::Monday)),
        Some(weekend_to_monday(date(y, 7, 1))),
        Some(nth_weekday(y, 8, Weekday::Monday, 1)),
        Some(nth_weekday(y, 9, Weekday::Monday, 1)),
        Some(nth_weekday(y, 10, Weekday::Monday, 2)),
        Some(date(y, 12, 25)),
        Some(date(y, 12, 26)),
        substitute(date(y, 12, 27)),
        substitute(date(y, 12, 28)),
    ]
}

pub(super) fn is_holiday(d: Date) -> bool {
    holidays(d.year()).contains(&Some(d)) || listed(ONE_OFF_CLOSURES, d)
}

pub(super) fn hours(d: Date) -> Hours {
    let regular = Hours::new(hm(9, 30), hm(16, 0));
    let y = d.year();
    if y >= 2010 && d == date(y, 12, 24) && !is_weekend(d) {
        regular.closing_early(hm(13, 0))
    } else {
        regular
    }
}
