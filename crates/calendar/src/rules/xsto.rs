//! Nasdaq Stockholm.
//!
//! Hours 09:00–17:30 Europe/Stockholm. Closed on New Year's Day, Epiphany, Good Friday, Easter
//! Monday, Labour Day, Ascension, Whit Monday (to 2004), National Day (6 June, from 2004),
//! Midsummer Eve (the Friday from 19 to 25 June), and 24, 25, 26 and 31 December. Closes at
//! 13:00 on the weekday before Epiphany, Maundy Thursday, 30 April, the day before Ascension and
//! All Saints' Eve (the Friday from 30 October to 5 November).

use jiff::civil::{Date, Weekday, date};

use super::common::{
    add_days, ascension_day, easter_monday, easter_sunday, good_friday, is_weekend, on_or_after,
    whit_monday,
};
use super::{Hours, hm};

fn holidays(y: i16) -> [Option<Date>; 13] {
    [
        Some(date(y, 1, 1)),
        Some(date(y, 1, 6)),
        Some(good_friday(y)),
        Some(easter_monday(y)),
        Some(date(y, 5, 1)),
        Some(ascension_day(y)),
        (y <= 2004).then(|| whit_monday(y)),
        (y >= 2004).then(|| date(y, 6, 6)),
        Some(on_or_after(date(y, 6, 19), Weekday::Friday)),
        Some(date(y, 12, 24)),
        Some(date(y, 12, 25)),
        Some(date(y, 12, 26)),
        Some(date(y, 12, 31)),
    ]
}

pub(super) fn is_holiday(d: Date) -> bool {
    holidays(d.year()).contains(&Some(d))
}

pub(super) fn hours(d: Date) -> Hours {
    let regular = Hours::new(hm(9, 0), hm(17, 30));
    let y = d.year();
    let early = [
        date(y, 1, 5),
        add_days(easter_sunday(y), -3),
        date(y, 4, 30),
        add_days(ascension_day(y), -1),
        on_or_after(date(y, 10, 30), Weekday::Friday),
    ];
    if !is_weekend(d) && early.contains(&d) {
        regular.closing_early(hm(13, 0))
    } else {
        regular
    }
}
