//! Bolsa de Madrid.
//!
//! Hours 09:00–17:30 Europe/Madrid. Closed on New Year's Day, Good Friday, Easter Monday, Labour
//! Day, Christmas and Boxing Day; until 2004 also on Spanish national holidays (Epiphany to 2006,
//! Assumption moved from a weekend to Monday, 12 October, All Saints, 6 and 8 December).
//! Christmas Eve and New Year's Eve were closures to 2010 and in 2021–2023, and close at 14:00
//! on weekdays in 2012–2020 and from 2024 (full days in 2011).

use jiff::civil::{Date, date};

use super::common::{easter_monday, good_friday, is_weekend, weekend_to_monday};
use super::{Hours, hm};

/// Whether Christmas Eve and New Year's Eve were closures in year `y`.
fn eves_closed(y: i16) -> bool {
    y <= 2010 || (2021..=2023).contains(&y)
}

fn holidays(y: i16) -> [Option<Date>; 14] {
    let national = y <= 2004;
    [
        Some(date(y, 1, 1)),
        (y <= 2006).then(|| date(y, 1, 6)),
        Some(good_friday(y)),
        Some(easter_monday(y)),
        Some(date(y, 5, 1)),
        national.then(|| weekend_to_monday(date(y, 8, 15))),
        national.then(|| date(y, 10, 12)),
        national.then(|| date(y, 11, 1)),
        national.then(|| date(y, 12, 6)),
        national.then(|| date(y, 12, 8)),
        eves_closed(y).then(|| date(y, 12, 24)),
        Some(date(y, 12, 25)),
        Some(date(y, 12, 26)),
        eves_closed(y).then(|| date(y, 12, 31)),
    ]
}

pub(super) fn is_holiday(d: Date) -> bool {
    holidays(d.year()).contains(&Some(d))
}

pub(super) fn hours(d: Date) -> Hours {
    let regular = Hours::new(hm(9, 0), hm(17, 30));
    let y = d.year();
    let early_years = (2012..=2020).contains(&y) || y >= 2024;
    let eve = d == date(y, 12, 24) || d == date(y, 12, 31);
    if early_years && eve && !is_weekend(d) {
        regular.closing_early(hm(14, 0))
    } else {
        regular
    }
}
