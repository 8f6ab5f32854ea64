//! Borsa Italiana, Milan (Euronext Milan).
//!
//! Hours 09:00–17:30 Europe/Rome, no early closes. Closed on New Year's Day, Good Friday, Easter
//! Monday, Labour Day, Ferragosto (15 August), and 24, 25, 26 and 31 December; a holiday on a
//! weekend is not moved.

use jiff::civil::{Date, date};

use super::common::{easter_monday, good_friday};
use super::{Hours, hm};

fn holidays(y: i16) -> [Date; 9] {
    [
        date(y, 1, 1),
        good_friday(y),
        easter_monday(y),
        date(y, 5, 1),
        date(y, 8, 15),
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
