//! Euronext Amsterdam.
//!
//! Hours 09:00–17:30 Europe/Amsterdam; 14:05 close on Christmas Eve and (from 2002) New Year's
//! Eve. Since the 2002 Euronext harmonisation the days are Paris's; before it Amsterdam also
//! closed on Ascension (to 2000), Whit Monday, Queen's Day (30 April) and New Year's Eve (to 2001).

use jiff::civil::{Date, date};

use super::common::{ascension_day, easter_monday, good_friday, is_weekend, whit_monday};
use super::{Hours, hm};

fn holidays(y: i16) -> [Option<Date>; 10] {
    let before_2002 = y < 2002;
    [
        Some(date(y, 1, 1)),
        Some(good_friday(y)),
        Some(easter_monday(y)),
        (y <= 2000).then(|| ascension_day(y)),
        before_2002.then(|| whit_monday(y)),
        before_2002.then(|| date(y, 4, 30)),
        Some(date(y, 5, 1)),
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
