//! Trading hours and holiday rules per exchange.
//!
//! Each exchange has its own module with two functions: `is_holiday(date)` (a weekday on which
//! the exchange is closed: rules first, then a short table of one-off closures) and
//! `hours(date)` (regular hours with their historical changes, early closes, lunch breaks).
//! Shared date arithmetic (Easter, nth weekday, weekend observance) lives in [`common`].

pub(crate) mod common;
mod xasx;
mod xetr;
mod xlon;
mod xnys;
mod xpar;
mod xtks;
mod xtse;

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
        Exchange::Xpar | Exchange::Always | Exchange::Fx | Exchange::Weekdays => &[],
    }
}

/// Whether `date` is listed in `table`.
fn listed(table: &[(Date, &str)], date: Date) -> bool {
    table.iter().any(|(d, _)| *d == date)
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
