//! Johannesburg Stock Exchange.
//!
//! Hours 09:00–17:00 Africa/Johannesburg, no early closes. South African public holidays, a
//! Sunday holiday moving to the Monday (a Saturday one is lost): New Year's Day, Human Rights Day
//! (21 March), Good Friday, Family Day (Easter Monday), Freedom Day (27 April), Workers' Day,
//! Youth Day (16 June), National Women's Day (9 August), Heritage Day (24 September), Day of
//! Reconciliation (16 December), Christmas and the Day of Goodwill. Like the reference, the
//! post-1994 holidays are applied from 1990. Election days and other one-offs are in a table.

use jiff::civil::{Date, date};

use super::common::{easter_monday, good_friday, sunday_to_monday};
use super::{Hours, hm, listed};

/// Closures no rule produces.
pub(crate) const ONE_OFF_CLOSURES: &[(Date, &str)] = &[
    (date(2004, 4, 14), "general election"),
    (date(2006, 3, 1), "municipal elections"),
    (
        date(2008, 5, 2),
        "public holiday declared after Workers' Day",
    ),
    (date(2009, 4, 22), "general election"),
    (date(2011, 5, 18), "municipal elections"),
    (
        date(2011, 12, 27),
        "Day of Goodwill moved from Monday, the observed Christmas",
    ),
    (date(2014, 5, 7), "general election"),
    (date(2016, 8, 3), "municipal elections"),
    (
        date(2016, 12, 27),
        "Day of Goodwill moved from Monday, the observed Christmas",
    ),
    (date(2019, 5, 8), "general election"),
    (date(2021, 11, 1), "municipal elections"),
    (date(2024, 5, 29), "general election"),
];

fn holidays(y: i16) -> [Date; 12] {
    let fixed = |m, d| sunday_to_monday(date(y, m, d));
    [
        fixed(1, 1),
        fixed(3, 21),
        good_friday(y),
        easter_monday(y),
        fixed(4, 27),
        fixed(5, 1),
        fixed(6, 16),
        fixed(8, 9),
        fixed(9, 24),
        fixed(12, 16),
        fixed(12, 25),
        fixed(12, 26),
    ]
}

pub(super) fn is_holiday(d: Date) -> bool {
    holidays(d.year()).contains(&d) || listed(ONE_OFF_CLOSURES, d)
}

pub(super) fn hours(_: Date) -> Hours {
    Hours::new(hm(9, 0), hm(17, 0))
}
