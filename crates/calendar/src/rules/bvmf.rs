//! B3 (Brasil Bolsa Balcão), São Paulo.
//!
//! Hours 10:00–17:00 `America/Sao_Paulo`, to 18:00 from 2019-11-04; on Ash Wednesday the session
//! opens at 13:00 (from 2016). Closed on national holidays and São Paulo city days: New Year's
//! Day, São Paulo's anniversary (25 January, to 2021), Carnival Monday and Tuesday, Good Friday,
//! Tiradentes (21 April), Labour Day, Corpus Christi, the Constitutionalist Revolution (9 July,
//! 1998–2019 and 2021), Independence (7 September), Our Lady of Aparecida (12 October), All Souls
//! (2 November), the Republic (15 November), Black Consciousness Day (20 November, 2004–2019 and
//! from 2024), Christmas Eve and Day, and the last weekday of the year. Like the reference, B3's
//! shorter or longer hours in some daylight-saving seasons are not modelled.

use jiff::civil::{Date, date};

use super::common::{add_days, easter_sunday, good_friday, previous_friday};
use super::{Hours, hm, listed};

/// Closures no rule produces.
pub(crate) const ONE_OFF_CLOSURES: &[(Date, &str)] = &[(
    date(2014, 6, 12),
    "opening match of the football World Cup in São Paulo",
)];

fn holidays(y: i16) -> [Option<Date>; 17] {
    let easter = easter_sunday(y);
    [
        Some(date(y, 1, 1)),
        (y <= 2021).then(|| date(y, 1, 25)),
        Some(add_days(easter, -48)),
        Some(add_days(easter, -47)),
        Some(good_friday(y)),
        Some(date(y, 4, 21)),
        Some(date(y, 5, 1)),
        Some(add_days(easter, 60)),
        ((1998..=2019).contains(&y) || y == 2021).then(|| date(y, 7, 9)),
        Some(date(y, 9, 7)),
        Some(date(y, 10, 12)),
        Some(date(y, 11, 2)),
        Some(date(y, 11, 15)),
        ((2004..=2019).contains(&y) || y >= 2024).then(|| date(y, 11, 20)),
        Some(date(y, 12, 24)),
        Some(date(y, 12, 25)),
        // The last day of the year, or the Friday before when it falls on a weekend.
        Some(previous_friday(date(y, 12, 31))),
    ]
}

pub(super) fn is_holiday(d: Date) -> bool {
    holidays(d.year()).contains(&Some(d)) || listed(ONE_OFF_CLOSURES, d)
}

pub(super) fn hours(d: Date) -> Hours {
    let close = if d >= date(2019, 11, 4) {
        hm(18, 0)
    } else {
        hm(17, 0)
    };
    let mut h = Hours::new(hm(10, 0), close);
    let ash_wednesday = add_days(easter_sunday(d.year()), -46);
    if d.year() >= 2016 && d == ash_wednesday {
        h.open = hm(13, 0);
    }
    h
}
