//! London Stock Exchange.
//!
//! Hours 08:00–16:30 Europe/London; 12:30 close on the last weekday before Christmas and before
//! New Year's Day. English bank holidays, with the one-off moves and extra days of royal events.

use jiff::civil::{Date, Weekday, date};

use super::common::{easter_monday, good_friday, nth_weekday, previous_friday, weekend_to_monday};
use super::{Hours, hm, listed};

/// Closures no rule produces (bank holidays moved or added for one year).
pub(crate) const ONE_OFF_CLOSURES: &[(Date, &str)] = &[
    (
        date(1995, 5, 8),
        "early May bank holiday moved to VE Day 50th anniversary",
    ),
    (date(1999, 12, 31), "millennium eve"),
    (
        date(2002, 6, 3),
        "spring bank holiday moved for the Golden Jubilee",
    ),
    (date(2002, 6, 4), "Queen's Golden Jubilee"),
    (
        date(2011, 4, 29),
        "wedding of Prince William and Catherine Middleton",
    ),
    (
        date(2012, 6, 4),
        "spring bank holiday moved for the Diamond Jubilee",
    ),
    (date(2012, 6, 5), "Queen's Diamond Jubilee"),
    (
        date(2020, 5, 8),
        "early May bank holiday moved to VE Day 75th anniversary",
    ),
    (
        date(2022, 6, 2),
        "spring bank holiday moved for the Platinum Jubilee",
    ),
    (date(2022, 6, 3), "Queen's Platinum Jubilee"),
    (date(2022, 9, 19), "state funeral of Queen Elizabeth II"),
    (date(2023, 5, 8), "coronation of King Charles III"),
];

/// Years whose early May bank holiday moved to a one-off date (listed above).
const EARLY_MAY_MOVED: [i16; 2] = [1995, 2020];
/// Years whose spring bank holiday moved to a one-off date (listed above).
const SPRING_MOVED: [i16; 3] = [2002, 2012, 2022];

fn holidays(y: i16) -> [Option<Date>; 10] {
    // Christmas and Boxing Day on a weekend are replaced by the next free weekdays
    // (Saturday Christmas: Mon 27 and Tue 28; Sunday Christmas: Mon 26 and Tue 27), which is
    // "27 and 28 December, when a Monday or a Tuesday".
    let substitute =
        |d: Date| matches!(d.weekday(), Weekday::Monday | Weekday::Tuesday).then_some(d);
    [
        Some(weekend_to_monday(date(y, 1, 1))),
        Some(good_friday(y)),
        Some(easter_monday(y)),
        (!EARLY_MAY_MOVED.contains(&y)).then(|| nth_weekday(y, 5, Weekday::Monday, 1)),
        (!SPRING_MOVED.contains(&y)).then(|| nth_weekday(y, 5, Weekday::Monday, -1)),
        Some(nth_weekday(y, 8, Weekday::Monday, -1)),
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
    let regular = Hours::new(hm(8, 0), hm(16, 30));
    let y = d.year();
    // The last weekday before Christmas Day and before New Year's Day close at 12:30
    // (1999-12-31 was a full closure instead).
    let early = d == previous_friday(date(y, 12, 24)) || d == previous_friday(date(y, 12, 31));
    if early {
        regular.closing_early(hm(12, 30))
    } else {
        regular
    }
}
