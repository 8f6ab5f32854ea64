//! Deutsche Börse Xetra.
//!
//! Hours 09:00–17:30 Europe/Berlin. Closed on Christmas Eve and New Year's Eve; from 2010 the
//! last weekday before New Year's Eve closes at 14:00. Whit Monday and German Unity Day were
//! closures from 2015 (2014 for Unity Day) to 2021.

use jiff::civil::{Date, Weekday, date};

use super::common::{easter_monday, good_friday, previous_workday, whit_monday};
use super::{Hours, hm, listed};

/// Closures no rule produces.
pub(crate) const ONE_OFF_CLOSURES: &[(Date, &str)] = &[
    (date(2007, 5, 28), "Whit Monday 2007"),
    (date(2017, 10, 31), "500th anniversary of the Reformation"),
];

fn holidays(y: i16) -> [Option<Date>; 10] {
    [
        Some(date(y, 1, 1)),
        Some(good_friday(y)),
        Some(easter_monday(y)),
        Some(date(y, 5, 1)),
        (2015..=2021).contains(&y).then(|| whit_monday(y)),
        (2014..=2021).contains(&y).then(|| date(y, 10, 3)),
        Some(date(y, 12, 24)),
        Some(date(y, 12, 25)),
        Some(date(y, 12, 26)),
        Some(date(y, 12, 31)),
    ]
}

pub(super) fn is_holiday(d: Date) -> bool {
    holidays(d.year()).contains(&Some(d)) || listed(ONE_OFF_CLOSURES, d)
}

pub(super) fn hours(d: Date) -> Hours {
    let regular = Hours::new(hm(9, 0), hm(17, 30));
    let y = d.year();
    let early = y >= 2010 && d == previous_workday(date(y, 12, 31));
    debug_assert!(d.weekday() != Weekday::Saturday || !early);
    if early {
        regular.closing_early(hm(14, 0))
    } else {
        regular
    }
}
