//! Euronext Paris (Amsterdam, Brussels and Lisbon keep the same days since the 2002 harmonisation).
//!
//! Hours 09:00–17:30 Europe/Paris; 14:05 close on Christmas Eve and New Year's Eve (from 2002).
//! Before 2002, Whit Monday, Bastille Day and New Year's Eve were closures.

use jiff::civil::{Date, date};

use super::Hours;
use super::common::{easter_monday, good_friday, is_weekend, whit_monday};
use super::hm;

fn holidays(y: i16) -> [Option<Date>; 9] {
    let before_2002 = y < 2002;
    [
        Some(date(y, 1, 1)),
        Some(good_friday(y)),
        Some(easter_monday(y)),
        before_2002.then(|| whit_monday(y)),
        Some(date(y, 5, 1)),
        before_2002.then(|| date(y, 7, 14)),
        Some(date(y, 12, 25)),
        Some(date(y, 12, 26)),
        before_2002.then(|| date(y, 12, 31)),
    ]
}

pub(super) fn is_holiday(d: Date) -> bool {
    holidays(d.year()).contains(&Some(d))
}

pub(super) fn hours(d: Date) -> Hours {
    let regular = Hours::new(hm(9, 0), hm(17, 30));
    let y = d.year();
    let early = !is_weekend(d) && (d == date(y, 12, 24) || (y >= 2002 && d == date(y, 12, 31)));
    if early {
        regular.closing_early(hm(14, 5))
    } else {
        regular
    }
}
