//! SIX Swiss Exchange, Zurich.
//!
//! Hours 09:00–17:30 Europe/Zurich, no early closes. Closed on New Year's Day and Berchtold's Day
//! (2 January), Good Friday, Easter Monday, Labour Day, Ascension, Whit Monday, Swiss National
//! Day (1 August), and 24, 25, 26 and 31 December; a holiday on a weekend is not moved.

use jiff::civil::{Date, date};

use super::common::{ascension_day, easter_monday, good_friday, whit_monday};
use super::{Hours, hm};

fn holidays(y: i16) -> [Date; 12] {
    [
        date(y, 1, 1),
        date(y, 1, 2),
        good_friday(y),
        easter_monday(y),
        date(y, 5, 1),
        ascension_day(y),
        whit_monday(y),
        date(y, 8, 1),
        date(y, 12, 24),
        date(y, 12, 25),
        date(y, 12, 26),
        date(y, 12, 31),
    ]
}

pub(super) fn is_holiday(d: Date) -> bool {
    holidays(d.year()).contains(&d)
}

pub(super) fn hours(_: Date) -> Hours {
    Hours::new(hm(9, 0), hm(17, 30))
}
