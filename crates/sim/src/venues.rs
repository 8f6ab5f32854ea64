//! Venues the simulator serves that have no built-in calendar in `backfill_calendar`.
//!
//! Their zone, hours and holidays are known only here, so a client can learn them only from the
//! answers: the zone and hours from `meta` (`exchangeTimezoneName`, `currentTradingPeriod`), the
//! holidays from days that come back without a bar.
//!
//! | suffix | venue | zone | hours (local) | holidays |
//! |---|---|---|---|---|
//! | `.NZ` | NZX, Wellington | `Pacific/Auckland` | 10:00–16:45 | see [`nzx_holidays`] |
//!
//! Exchanges with a built-in calendar whose holiday tables end in a year (XSHG, XSHE, XBOM, ...)
//! also close after it on days only the simulator knows ([`exchange_calendar`]).

use backfill_calendar::{Calendar, Exchange, HolidaysKnown};
use backfill_domain::Symbol;
use jiff::civil::{Date, Weekday, date, time};
use jiff::tz::TimeZone;

/// A venue without a built-in calendar.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Venue {
    pub exchange_name: &'static str,
    pub full_exchange_name: &'static str,
    pub currency: &'static str,
    tz: &'static str,
    open: (i8, i8),
    close: (i8, i8),
    holidays: fn(i16) -> Vec<Date>,
}

const NZX: Venue = Venue {
    exchange_name: "NZE",
    full_exchange_name: "NZSE",
    currency: "NZD",
    tz: "Pacific/Auckland",
    open: (10, 0),
    close: (16, 45),
    holidays: nzx_holidays,
};

/// Years whose holidays the simulator's venues observe (outside them, every weekday trades).
const YEARS: std::ops::RangeInclusive<i16> = 1980..=2060;

/// The venue of a symbol by its Yahoo suffix, for suffixes no built-in calendar claims.
pub(crate) fn venue_for(symbol: &Symbol) -> Option<Venue> {
    match symbol.suffix() {
        Some("NZ") => Some(NZX),
        _ => None,
    }
}

impl Venue {
    /// Weekdays in the venue's zone and hours, minus its holidays.
    pub(crate) fn calendar(&self) -> Calendar {
        let tz = TimeZone::get(self.tz).expect("bundled tzdb has every venue zone");
        Calendar::weekdays_in(
            tz,
            time(self.open.0, self.open.1, 0, 0),
            time(self.close.0, self.close.1, 0, 0),
        )
        .with_closures(YEARS.flat_map(self.holidays))
    }
}

/// The calendar the simulator serves a built-in exchange on: `backfill_calendar`'s, plus the
/// holidays after the year its tables end ([`HolidaysKnown::Through`]) that only the simulator
/// knows (see [`unlisted_holidays`]), so a client must learn them from empty answers.
pub(crate) fn exchange_calendar(exchange: Exchange) -> Calendar {
    let calendar = Calendar::new(exchange);
    match exchange.holidays_known() {
        HolidaysKnown::Through(last) => calendar.with_closures(
            ((last + 1)..=*YEARS.end()).flat_map(|y| unlisted_holidays(exchange, y)),
        ),
        HolidaysKnown::Always | HolidaysKnown::Never => calendar,
    }
}

/// Weekday closures the simulator's exchange observes in `year`, a year after its built-in
/// holiday tables end: stand-ins for the holidays such exchanges announce year by year (a lunar
/// new year week, a festival day), not their published calendars. Shanghai and Shenzhen close
/// from 8 to 12 February 2027; Mumbai on 22 March and 29 October 2027. No other year or
/// exchange has any.
pub(crate) fn unlisted_holidays(exchange: Exchange, year: i16) -> Vec<Date> {
    match (exchange, year) {
        (Exchange::Xshg | Exchange::Xshe, 2027) => (8..=12).map(|d| date(2027, 2, d)).collect(),
        (Exchange::Xbom, 2027) => vec![date(2027, 3, 22), date(2027, 10, 29)],
        _ => Vec::new(),
    }
}

/// NZX's holidays as the simulator models them (a simplification of New Zealand's public
/// holidays): New Year's Day and the day after, Waitangi Day (6 February), ANZAC Day (25 April),
/// the King's Birthday (first Monday of June), Labour Day (fourth Monday of October), Christmas
/// and Boxing Day. A fixed date on a weekend is not moved.
pub(crate) fn nzx_holidays(year: i16) -> Vec<Date> {
    let nth_monday = |month: i8, n: i8| {
        date(year, month, 1)
            .nth_weekday_of_month(n, Weekday::Monday)
            .expect("every month has four Mondays")
    };
    vec![
        date(year, 1, 1),
        date(year, 1, 2),
        date(year, 2, 6),
        date(year, 4, 25),
        nth_monday(6, 1),
        nth_monday(10, 4),
        date(year, 12, 25),
        date(year, 12, 26),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nzx_sessions_are_local_weekdays_without_its_holidays() {
        let cal = NZX.calendar();
        assert!(
            !cal.is_session(date(2025, 2, 6)),
            "Waitangi Day, a Thursday"
        );
        assert!(!cal.is_session(date(2025, 6, 2)), "King's Birthday");
        assert!(!cal.is_session(date(2025, 10, 27)), "Labour Day");
        assert!(cal.is_session(date(2025, 2, 7)));
        let s = cal.session(date(2025, 2, 7)).unwrap();
        // 10:00 NZDT is 21:00 UTC the day before: the UTC date differs from the local one.
        assert_eq!(s.open.to_string(), "2025-02-06T21:00:00Z");
        assert!(venue_for(&Symbol::parse("AIR.NZ").unwrap()).is_some());
        assert!(venue_for(&Symbol::parse("AIR.PA").unwrap()).is_none());
    }

    #[test]
    fn exchanges_past_their_tables_close_on_days_only_the_simulator_knows() {
        for (exchange, closed) in [
            (Exchange::Xshg, date(2027, 2, 8)),
            (Exchange::Xshe, date(2027, 2, 12)),
            (Exchange::Xbom, date(2027, 10, 29)),
        ] {
            assert!(
                Calendar::new(exchange).is_session(closed),
                "{exchange} {closed}"
            );
            assert!(
                !exchange_calendar(exchange).is_session(closed),
                "{exchange} {closed}"
            );
        }
        // Within the tables the simulator adds nothing.
        for exchange in Exchange::ALL {
            let (a, b) = (date(2025, 1, 1), date(2026, 12, 31));
            assert_eq!(
                exchange_calendar(exchange).sessions(a, b).len(),
                Calendar::new(exchange).sessions(a, b).len(),
                "{exchange}"
            );
        }
    }
}
