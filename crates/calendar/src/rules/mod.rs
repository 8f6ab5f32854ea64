//! Trading hours and holiday rules per exchange.
//!
//! Each exchange has its own module with two functions: `is_holiday(date)` (a weekday on which
//! the exchange is closed: rules first, then a table of one-off closures, or of the holidays that
//! follow no rule) and `hours(date)` (regular hours with their historical changes, early closes,
//! lunch breaks). Exchanges whose holidays come partly from a table that ends in a given year
//! also have `TABLES_END` (see [`tables_end`]). Shared date arithmetic (Easter, nth weekday,
//! weekend observance) lives in [`common`].

mod bvmf;
pub(crate) mod common;
mod xams;
mod xasx;
mod xbom;
mod xetr;
mod xhkg;
mod xjse;
mod xkrx;
mod xlon;
mod xmad;
mod xmil;
mod xnys;
mod xpar;
mod xses;
mod xshg;
mod xsto;
mod xswx;
mod xtai;
mod xtks;
mod xtse;

#[cfg(test)]
use jiff::civil::date;
use jiff::civil::{Date, Time, time};

use crate::Exchange;

/// Regular hours of one session, in the exchange's local time.
pub(crate) struct Hours {
    pub open: Time,
    pub close: Time,
    pub break_: Option<(Time, Time)>,
    pub early_close: bool,
}

impl Hours {
    /// A regular session from `open` to `close`, no break.
    pub(crate) fn new(open: Time, close: Time) -> Hours {
        Hours {
            open,
            close,
            break_: None,
            early_close: false,
        }
    }

    /// The same session closing early at `close`.
    pub(crate) fn closing_early(mut self, close: Time) -> Hours {
        self.close = close;
        self.early_close = true;
        self
    }
}

/// Local `hh:mm`.
pub(crate) const fn hm(hour: i8, minute: i8) -> Time {
    time(hour, minute, 0, 0)
}

/// The hours of `exchange` on `date` (a session date).
pub(crate) fn hours(exchange: Exchange, date: Date) -> Hours {
    match exchange {
        Exchange::Xnys => xnys::hours(date),
        Exchange::Xlon => xlon::hours(date),
        Exchange::Xpar => xpar::hours(date),
        Exchange::Xetr => xetr::hours(date),
        Exchange::Xtse => xtse::hours(date),
        Exchange::Xasx => xasx::hours(date),
        Exchange::Xtks => xtks::hours(date),
        Exchange::Xams => xams::hours(date),
        Exchange::Xswx => xswx::hours(date),
        Exchange::Xmil => xmil::hours(date),
        Exchange::Xmad => xmad::hours(date),
        Exchange::Xsto => xsto::hours(date),
        Exchange::Xjse => xjse::hours(date),
        Exchange::Bvmf => bvmf::hours(date),
        Exchange::Xhkg => xhkg::hours(date),
        Exchange::Xshg | Exchange::Xshe => xshg::hours(date),
        Exchange::Xbom => xbom::hours(date),
        Exchange::Xkrx => xkrx::hours(date),
        Exchange::Xtai => xtai::hours(date),
        Exchange::Xses => xses::hours(date),
        Exchange::Weekdays => Hours::new(hm(9, 30), hm(16, 0)),
        // Midnight to midnight: `Calendar::session` reads close <= open as the next midnight.
        Exchange::Always | Exchange::Fx => Hours::new(Time::midnight(), Time::midnight()),
    }
}

/// Whether `date` is a full-day holiday of `exchange` (weekends are handled by the caller).
pub(crate) fn is_holiday(exchange: Exchange, date: Date) -> bool {
    match exchange {
        Exchange::Xnys => xnys::is_holiday(date),
        Exchange::Xlon => xlon::is_holiday(date),
        Exchange::Xpar => xpar::is_holiday(date),
        Exchange::Xetr => xetr::is_holiday(date),
        Exchange::Xtse => xtse::is_holiday(date),
        Exchange::Xasx => xasx::is_holiday(date),
        Exchange::Xtks => xtks::is_holiday(date),
        Exchange::Xams => xams::is_holiday(date),
        Exchange::Xswx => xswx::is_holiday(date),
        Exchange::Xmil => xmil::is_holiday(date),
        Exchange::Xmad => xmad::is_holiday(date),
        Exchange::Xsto => xsto::is_holiday(date),
        Exchange::Xjse => xjse::is_holiday(date),
        Exchange::Bvmf => bvmf::is_holiday(date),
        Exchange::Xhkg => xhkg::is_holiday(date),
        Exchange::Xshg | Exchange::Xshe => xshg::is_holiday(date),
        Exchange::Xbom => xbom::is_holiday(date),
        Exchange::Xkrx => xkrx::is_holiday(date),
        Exchange::Xtai => xtai::is_holiday(date),
        Exchange::Xses => xses::is_holiday(date),
        Exchange::Always | Exchange::Fx | Exchange::Weekdays => false,
    }
}

/// The built-in one-off closures of `exchange` (storms, mourning days, special events), each with
/// its reason. Rule-based holidays are not listed.
pub(crate) fn one_off_closures(exchange: Exchange) -> &'static [(Date, &'static str)] {
    match exchange {
        Exchange::Xnys => xnys::ONE_OFF_CLOSURES,
        Exchange::Xlon => xlon::ONE_OFF_CLOSURES,
        Exchange::Xetr => xetr::ONE_OFF_CLOSURES,
        Exchange::Xtse => xtse::ONE_OFF_CLOSURES,
        Exchange::Xasx => xasx::ONE_OFF_CLOSURES,
        Exchange::Xtks => xtks::ONE_OFF_CLOSURES,
        Exchange::Xjse => xjse::ONE_OFF_CLOSURES,
        Exchange::Bvmf => bvmf::ONE_OFF_CLOSURES,
        // Tabled exchanges keep their one-off closures in their holiday table, undistinguished.
        Exchange::Xhkg
        | Exchange::Xshg
        | Exchange::Xshe
        | Exchange::Xbom
        | Exchange::Xkrx
        | Exchange::Xtai
        | Exchange::Xses
        | Exchange::Xpar
        | Exchange::Xams
        | Exchange::Xswx
        | Exchange::Xmil
        | Exchange::Xmad
        | Exchange::Xsto
        | Exchange::Always
        | Exchange::Fx
        | Exchange::Weekdays => &[],
    }
}

/// The last year of the holiday table of `exchange`, for exchanges whose holidays partly follow
/// no rule (lunar festivals, Diwali, Eid, exchange announcements); `None` when rules (and
/// one-off closures) give every holiday.
pub(crate) fn tables_end(exchange: Exchange) -> Option<i16> {
    match exchange {
        Exchange::Xhkg => Some(xhkg::TABLES_END),
        Exchange::Xshg | Exchange::Xshe => Some(xshg::TABLES_END),
        Exchange::Xbom => Some(xbom::TABLES_END),
        Exchange::Xkrx => Some(xkrx::TABLES_END),
        Exchange::Xtai => Some(xtai::TABLES_END),
        Exchange::Xses => Some(xses::TABLES_END),
        _ => None,
    }
}

/// Whether `date` is listed in `table`.
fn listed(table: &[(Date, &str)], date: Date) -> bool {
    table.iter().any(|(d, _)| *d == date)
}

/// `date` as the number `YYYYMMDD`, the form holiday tables are written in (`2024_02_12`).
fn yyyymmdd(date: Date) -> u32 {
    let y = u32::try_from(date.year()).expect("calendar years are positive");
    let m = u32::try_from(date.month()).expect("months are positive");
    let d = u32::try_from(date.day()).expect("days are positive");
    y * 10_000 + m * 100 + d
}

/// Whether `date` is in `table`, a sorted list of `YYYY_MM_DD` numbers.
fn tabled(table: &[u32], date: Date) -> bool {
    table.binary_search(&yyyymmdd(date)).is_ok()
}

/// Every `YYYY_MM_DD` table with its exchange, for the tests.
#[cfg(test)]
fn date_tables() -> Vec<(Exchange, &'static str, &'static [u32])> {
    vec![
        (Exchange::Xhkg, "holidays", xhkg::HOLIDAYS),
        (
            Exchange::Xhkg,
            "half days",
            xhkg::LUNAR_NEW_YEARS_EVE_HALF_DAYS,
        ),
        (Exchange::Xshg, "holidays", xshg::HOLIDAYS),
        (Exchange::Xbom, "holidays", xbom::HOLIDAYS),
        (Exchange::Xkrx, "holidays", xkrx::HOLIDAYS),
        (Exchange::Xkrx, "exam days", xkrx::CSAT_DAYS),
        (Exchange::Xtai, "holidays", xtai::HOLIDAYS),
        (Exchange::Xses, "holidays", xses::HOLIDAYS),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Calendar;

    #[test]
    fn one_off_tables_are_sorted_weekdays_that_close_the_exchange() {
        for e in Exchange::ALL {
            let table = one_off_closures(e);
            for pair in table.windows(2) {
                assert!(
                    pair[0].0 < pair[1].0,
                    "{e}: {} before {}",
                    pair[0].0,
                    pair[1].0
                );
            }
            for (d, reason) in table {
                assert!(!common::is_weekend(*d), "{e} {d} ({reason}) is a weekend");
                assert!(is_holiday(e, *d), "{e} {d} ({reason}) is not a closure");
                assert!(!reason.is_empty());
            }
        }
        assert_eq!(one_off_closures(Exchange::Xnys).len(), 11);
    }

    #[test]
    fn date_tables_are_sorted_real_weekdays_within_their_years() {
        for (e, what, table) in date_tables() {
            let end = tables_end(e).expect("tabled exchanges have an end year");
            for pair in table.windows(2) {
                assert!(
                    pair[0] < pair[1],
                    "{e} {what}: {} before {}",
                    pair[0],
                    pair[1]
                );
            }
            for &n in table {
                let (y, m, d) = (n / 10_000, n / 100 % 100, n % 100);
                let day = Date::new(
                    i16::try_from(y).unwrap(),
                    i8::try_from(m).unwrap(),
                    i8::try_from(d).unwrap(),
                )
                .unwrap_or_else(|_| panic!("{e} {what}: {n} is not a date"));
                assert_eq!(yyyymmdd(day), n);
                assert!(!common::is_weekend(day), "{e} {what}: {day} is a weekend");
                assert!(
                    (1990..=end).contains(&day.year()),
                    "{e} {what}: {day} after {end}"
                );
            }
        }
    }

    #[test]
    fn tabled_holidays_close_the_exchange() {
        for (e, what, table) in date_tables() {
            if what != "holidays" {
                continue;
            }
            let cal = Calendar::new(e);
            for &n in table {
                let day = date(
                    i16::try_from(n / 10_000).unwrap(),
                    i8::try_from(n / 100 % 100).unwrap(),
                    i8::try_from(n % 100).unwrap(),
                );
                assert!(!cal.is_session(day), "{e}: {day} is tabled but a session");
            }
        }
    }

    /// Research note `rust-stack.md` §5, from `exchange_calendars` 4.13.2: XNYS 1990–2030 has
    /// 10,322 sessions, 375 weekday closures and 88 early closes.
    #[test]
    fn xnys_1990_to_2030_totals() {
        let cal = Calendar::new(Exchange::Xnys);
        let sessions = cal.sessions(
            jiff::civil::date(1990, 1, 1),
            jiff::civil::date(2030, 12, 31),
        );
        assert_eq!(sessions.len(), 10_322);
        assert_eq!(sessions.iter().filter(|s| s.early_close).count(), 88);
        let mut weekday_closures = 0;
        let mut d = jiff::civil::date(1990, 1, 1);
        while d.year() <= 2030 {
            if !common::is_weekend(d) && !cal.is_session(d) {
                weekday_closures += 1;
            }
            d = common::add_days(d, 1);
        }
        assert_eq!(weekday_closures, 375);
    }
}
