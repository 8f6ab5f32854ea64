//! Australian Securities Exchange.
//!
//! Hours 10:00–16:00 Australia/Sydney; 14:10 close on the last weekday before Christmas and
//! before New Year's Day, from 2010 (except 2022, when ASX kept full days).

use jiff::civil::{Date, Weekday, date};

use super::common::{
    easter_monday, good_friday, nth_weekday, on_or_after, previous_friday, sunday_to_monday,
    weekend_to_monday,
};
use super::{Hours, hm, listed};

/// Closures no rule produces.
pub(crate) const ONE_OFF_CLOSURES: &[(Date, &str)] = &[
    (date(1990, 12, 31), "New Year's Eve 1990"),
    (date(1999, 12, 31), "Y2K testing"),
    (
        date(2011, 4, 26),
        "Easter Tuesday, Anzac Day fell on Easter Monday",
    ),
    (
        date(2022, 9, 22),
        "national day of mourning for Queen Elizabeth II",
    ),
];

fn australia_day(y: i16) -> Option<Date> {
    let jan26 = date(y, 1, 26);
    match y {
        // Before 1993: the Monday on or after 26 January (1988, the bicentenary, on the day).
        ..=1987 | 1989..=1992 => Some(on_or_after(jan26, Weekday::Monday)),
        1988 => Some(jan26),
        // The reference has no Australia Day in 1993 (between its two rule eras); we follow it.
        1993 => None,
        _ => Some(weekend_to_monday(jan26)),
    }
}

fn anzac_day(y: i16) -> Date {
    let apr25 = date(y, 4, 25);
    // Only 2010 moved a Sunday Anzac Day to the Monday; other weekend Anzac Days are lost.
    if y == 2010 {
        sunday_to_monday(apr25)
    } else {
        apr25
    }
}

fn holidays(y: i16) -> [Option<Date>; 10] {
    // Christmas and Boxing Day on a weekend are replaced by Monday/Tuesday 27 or 28 December.
    let substitute =
        |d: Date| matches!(d.weekday(), Weekday::Monday | Weekday::Tuesday).then_some(d);
    [
        Some(weekend_to_monday(date(y, 1, 1))),
        australia_day(y),
        Some(good_friday(y)),
        Some(easter_monday(y)),
        Some(anzac_day(y)),
        // Queen's (from 2023 King's) Birthday: the second Monday of June.
        Some(nth_weekday(y, 6, Weekday::Monday, 2)),
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
    let regular = Hours::new(hm(10, 0), hm(16, 0));
    let y = d.year();
    let early = y >= 2010
        && y != 2022
        && (d == previous_friday(date(y, 12, 24)) || d == previous_friday(date(y, 12, 31)));
    if early {
        regular.closing_early(hm(14, 10))
    } else {
        regular
    }
}
