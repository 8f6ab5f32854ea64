//! Exchange trading calendars. Pure: no I/O, no clock.
//!
//! A [`Calendar`] answers "which sessions does this exchange hold between two dates, and when does
//! each open and close?" ([`Session`]). Exchanges are named by ISO MIC ([`Exchange`]); a symbol is
//! mapped to one by its Yahoo suffix ([`exchange_for_symbol`]) or, once known, by what the provider
//! said about it ([`exchange_from_meta`]). Users add one-off closures at run time
//! ([`Calendar::with_closures`]) because exchanges announce them at short notice.
//!
//! # Exchanges
//!
//! | Calendar | Venue | Zone | Regular hours (local) |
//! |---|---|---|---|
//! | `XNYS` | NYSE; NASDAQ and other US venues share its days | `America/New_York` | 09:30–16:00 |
//! | `XLON` | London Stock Exchange | `Europe/London` | 08:00–16:30 |
//! | `XPAR` | Euronext Paris, also Brussels, Lisbon | `Europe/Paris` | 09:00–17:30 |
//! | `XAMS` | Euronext Amsterdam | `Europe/Amsterdam` | 09:00–17:30 |
//! | `XETR` | Deutsche Börse Xetra | `Europe/Berlin` | 09:00–17:30 |
//! | `XSWX` | SIX Swiss Exchange | `Europe/Zurich` | 09:00–17:30 |
//! | `XMIL` | Borsa Italiana | `Europe/Rome` | 09:00–17:30 |
//! | `XMAD` | Bolsa de Madrid | `Europe/Madrid` | 09:00–17:30 |
//! | `XSTO` | Nasdaq Stockholm | `Europe/Stockholm` | 09:00–17:30 |
//! | `XJSE` | Johannesburg Stock Exchange | `Africa/Johannesburg` | 09:00–17:00 |
//! | `XTSE` | Toronto Stock Exchange | `America/Toronto` | 09:30–16:00 |
//! | `BVMF` | B3, São Paulo | `America/Sao_Paulo` | 10:00–17:00, 18:00 from 2019-11-04 |
//! | `XASX` | Australian Securities Exchange | `Australia/Sydney` | 10:00–16:00 |
//! | `XTKS` | Tokyo Stock Exchange | `Asia/Tokyo` | 09:00–15:00, 15:30 from 2024-11-05; lunch 11:30–12:30 |
//! | `XHKG` | Hong Kong Exchanges and Clearing | `Asia/Hong_Kong` | 09:30–16:00 (10:00 before 2011-03-07); lunch 12:00–13:00 |
//! | `XSHG` | Shanghai Stock Exchange | `Asia/Shanghai` | 09:30–15:00; lunch 11:30–13:00 |
//! | `XSHE` | Shenzhen Stock Exchange (Shanghai's days and hours) | `Asia/Shanghai` | 09:30–15:00; lunch 11:30–13:00 |
//! | `XBOM` | BSE; the NSE shares its days | `Asia/Kolkata` | 09:15–15:30 |
//! | `XKRX` | Korea Exchange (KOSPI, KOSDAQ) | `Asia/Seoul` | 09:00–15:30 now; earlier hours and lunch breaks to 2000 |
//! | `XTAI` | Taiwan Stock Exchange; the Taipei Exchange shares its days | `Asia/Taipei` | 09:00–13:30 |
//! | `XSES` | Singapore Exchange | `Asia/Singapore` | 09:00–17:00 |
//! | `24/7` | crypto pairs | UTC | every day, midnight to midnight UTC |
//! | `24/5` | FX | `Europe/London` | Monday–Friday, midnight to midnight London |
//! | `WEEKDAYS` | fallback for an unknown venue | `America/New_York` | every weekday, 09:30–16:00 |
//!
//! The FX day is the London day, not the UTC day, because Yahoo stamps FX daily bars at
//! 00:00 Europe/London.
//!
//! # What is modelled
//!
//! - **Holidays from rules**: fixed dates with each exchange's weekend observance (moved to
//!   Monday, to the nearest weekday, or lost), floating Mondays and Thursdays, Easter-based
//!   days (Good Friday, Easter Monday, Whit Monday), Japanese equinoxes with the substitute-holiday
//!   and citizens'-holiday laws, and rules that start or stop in a given year (MLK Day from 1998,
//!   Juneteenth from 2022, Family Day from 2008, ...).
//! - **One-off closures** from a table per exchange: national mourning days, storms, 9/11,
//!   royal events, outages, elections ([`Calendar::built_in_closures`]).
//! - **Holiday tables** where holidays follow no rule (lunar new year, Buddha's birthday, Diwali,
//!   Eid, the Chinese "golden weeks" the State Council sets each year): XHKG, XSHG/XSHE, XBOM,
//!   XKRX, XTAI and XSES keep their fixed-date holidays as rules and the rest in a table of
//!   dates, written from the exchanges' published calendars as `exchange_calendars` records
//!   them. Each table ends in a year ([`Calendar::holidays_known`], [`HolidaysKnown`]): XSHG,
//!   XSHE, XBOM and XSES in 2026, where the reference stops; XHKG, XKRX and XTAI in 2035, their
//!   later years computed by the reference from lunisolar tables. After that year the calendar
//!   holds only the rule-based holidays, and a caller must learn the others (for instance from
//!   the provider's empty answers) rather than trust those weekdays as sessions. One-off
//!   closures of these exchanges (typhoons, elections) are in their table, not in
//!   [`Calendar::built_in_closures`].
//! - **Early closes** (e.g. XNYS 13:00 on the day after Thanksgiving and on Christmas Eve; XLON
//!   12:30 on the last weekday before Christmas and New Year; XPAR and XAMS 14:05; XETR and XMAD
//!   14:00; XSTO 13:00 before some holidays; XTSE 13:00; XASX 14:10; XHKG morning-only sessions
//!   on Christmas Eve, New Year's Eve and Lunar New Year's Eve), flagged by
//!   [`Session::early_close`].
//! - **Late opens**: BVMF at 13:00 on Ash Wednesday; XKRX an hour late on the first session of
//!   the year, and every time later on college entrance exam days (to 2025).
//! - **Lunch breaks** ([`Session::break_`]) for XTKS, XHKG, XSHG, XSHE and XKRX (to 2000).
//! - **Hours changes** over time (XTKS close 15:00 → 15:30 on 2024-11-05; XHKG open 10:00 →
//!   09:30 on 2011-03-07; BVMF close 17:00 → 18:00 on 2019-11-04; XKRX, see its module).
//!
//! The rules reproduce the `exchange_calendars` Python package (4.13.2) for every session date,
//! open, close and break from 1990 (XTKS, XBOM: 1997; XSHG: December 1990, where that package
//! starts) to 2035 (XSHG, XSHE, XBOM, XSES: 2026, where it stops); the few
//! deliberate differences are listed with their reasons in `reference-allowlist.txt` beside this
//! crate, and `tests/python/test_calendar_reference.py` checks both. Like that package, regular
//! hours are the current ones back to 1990 except where a change is listed above (earlier
//! changes, such as Tokyo's 11:00–12:30 lunch before November 2011 or Xetra's longer hours of the early
//! 2000s, are not modelled; each exchange's module lists what it leaves out).
//!
//! # Outside 1990–2035
//!
//! The rules are evaluated for any date, so later years extend the current rules and earlier
//! years get the oldest rules modelled; but one-off closures before 1990 are not in the tables,
//! future one-offs are unknown until announced, and tabled holidays end with their table
//! ([`Calendar::holidays_known`]). Japanese equinox days use the National
//! Astronomical Observatory's approximation, valid 1980–2099. Use years 1900–2099; answers get less
//! trustworthy the further they are from 1990–2035.
//!
//! # Adding closures
//!
//! Users add closures without a new release: the CLI reads them from the config file and passes
//! them to [`Calendar::with_closures`].
//!
//! ```
//! use backfill_calendar::{Calendar, Exchange, HolidaysKnown};
//! use jiff::civil::date;
//!
//! // e.g. dates read from the config file, which the CLI passes here.
//! let cal = Calendar::new(Exchange::Xlon).with_closures([date(2031, 6, 2)]);
//! assert!(!cal.is_session(date(2031, 6, 2)));
//! // Built in: NYSE closed for the national day of mourning for Jimmy Carter.
//! assert!(!Calendar::new(Exchange::Xnys).is_session(date(2025, 1, 9)));
//!
//! // Shanghai's holidays are tabled through 2026: the 2027 Spring Festival is not known yet.
//! let shanghai = Calendar::new(Exchange::Xshg);
//! assert_eq!(shanghai.holidays_known(), HolidaysKnown::Through(2026));
//! assert!(shanghai.holidays_known().covers(date(2026, 2, 17)));
//! assert!(!shanghai.is_session(date(2026, 2, 17)));
//! assert!(!shanghai.holidays_known().covers(date(2027, 2, 8)));
//! ```

mod exchange;
mod rules;

use std::collections::BTreeSet;

use jiff::Timestamp;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;

pub use exchange::{
    Exchange, HolidaysKnown, INDICES, ParseExchangeError, exchange_for_symbol, exchange_from_meta,
};

/// One trading session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Session {
    /// The session date in the exchange's time zone.
    pub date: Date,
    /// Regular-session open, UTC instant.
    pub open: Timestamp,
    /// Regular-session close, UTC instant (earlier than usual on an early close).
    pub close: Timestamp,
    /// Lunch break `(start, end)` where the exchange has one (XTKS, XHKG, XSHG, XSHE, and XKRX
    /// before 2000-05-22).
    pub break_: Option<(Timestamp, Timestamp)>,
    /// True when the session closes earlier than the exchange's regular close.
    pub early_close: bool,
}

/// The calendar of one exchange, plus any closures the user added. Two calendars are equal when
/// they hold the same sessions by construction: same exchange, zone, regular hours and added
/// closures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    exchange: Exchange,
    tz: TimeZone,
    extra_closures: BTreeSet<Date>,
    /// Regular hours (local open, close) of a venue without built-in rules
    /// ([`Calendar::weekdays_in`]); `None` for the built-in calendars.
    hours: Option<(Time, Time)>,
}

impl Calendar {
    /// The built-in calendar of `exchange`.
    pub fn new(exchange: Exchange) -> Calendar {
        let tz =
            TimeZone::get(exchange.timezone_name()).expect("bundled tzdb has every exchange zone");
        Calendar {
            exchange,
            tz,
            extra_closures: BTreeSet::new(),
            hours: None,
        }
    }

    /// The calendar of a venue with no built-in rules, as far as a provider's metadata describes
    /// it: every weekday is a session, in the zone `tz`, from `open` to `close` local time (equal
    /// times mean the whole local day). There are no holidays but the closures added with
    /// [`Calendar::with_closures`], e.g. days the provider answered empty. Its
    /// [`exchange`](Calendar::exchange) is [`Exchange::Weekdays`].
    pub fn weekdays_in(tz: TimeZone, open: Time, close: Time) -> Calendar {
        Calendar {
            exchange: Exchange::Weekdays,
            tz,
            extra_closures: BTreeSet::new(),
            hours: Some((open, close)),
        }
    }

    /// Whether the holidays of this calendar come only from closures added at run time (true for
    /// [`Calendar::weekdays_in`]): an empty answer for one of its sessions may mean a closure.
    pub fn learns_closures(&self) -> bool {
        self.hours.is_some()
    }

    /// Adds one-off closures (e.g. from the config file) on top of the built-in rules.
    #[must_use]
    pub fn with_closures(mut self, dates: impl IntoIterator<Item = Date>) -> Calendar {
        self.extra_closures.extend(dates);
        self
    }

    /// The exchange this calendar describes.
    pub fn exchange(&self) -> Exchange {
        self.exchange
    }

    /// How far the built-in holidays are known ([`Exchange::holidays_known`]): on a date outside
    /// it, a weekday this calendar calls a session may be a holiday it does not know.
    pub fn holidays_known(&self) -> HolidaysKnown {
        self.exchange.holidays_known()
    }

    /// The exchange's time zone; session dates are dates in this zone.
    pub fn timezone(&self) -> &TimeZone {
        &self.tz
    }

    /// The exchange's built-in one-off closures (not the rule-based holidays, nor the closures
    /// added with [`Calendar::with_closures`]), each with its reason, in date order.
    pub fn built_in_closures(&self) -> &'static [(Date, &'static str)] {
        rules::one_off_closures(self.exchange)
    }

    /// The closures added with [`Calendar::with_closures`], in date order.
    pub fn extra_closures(&self) -> impl Iterator<Item = Date> + '_ {
        self.extra_closures.iter().copied()
    }

    /// Whether `date` is a trading session.
    pub fn is_session(&self, date: Date) -> bool {
        self.exchange.trades_on(date.weekday())
            && !self.extra_closures.contains(&date)
            && !rules::is_holiday(self.exchange, date)
    }

    /// The session held on `date`, if any.
    pub fn session(&self, date: Date) -> Option<Session> {
        if !self.is_session(date) {
            return None;
        }
        let hours = match self.hours {
            Some((open, close)) => rules::Hours::new(open, close),
            None => rules::hours(self.exchange, date),
        };
        let at = |t: Time| self.instant(date, t);
        // Some calendars (24/7, 24/5) close at midnight, i.e. on the next date.
        let close = if hours.close <= hours.open {
            self.instant(date.tomorrow().expect("dates before 9999"), hours.close)
        } else {
            at(hours.close)
        };
        Some(Session {
            date,
            open: at(hours.open),
            close,
            break_: hours.break_.map(|(s, e)| (at(s), at(e))),
            early_close: hours.early_close,
        })
    }

    /// Every session from `from` to `to`, both inclusive, in order.
    pub fn sessions(&self, from: Date, to: Date) -> Vec<Session> {
        let mut out = Vec::new();
        let mut d = from;
        while d <= to {
            if let Some(s) = self.session(d) {
                out.push(s);
            }
            match d.tomorrow() {
                Ok(next) => d = next,
                Err(_) => break,
            }
        }
        out
    }

    /// The last `n` sessions on or before `end`, in order (fewer if the calendar runs out).
    pub fn sessions_ending(&self, end: Date, n: usize) -> Vec<Session> {
        let mut out = Vec::with_capacity(n);
        let mut d = end;
        while out.len() < n {
            if let Some(s) = self.session(d) {
                out.push(s);
            }
            match d.yesterday() {
                Ok(prev) if prev.year() >= 1900 => d = prev,
                _ => break,
            }
        }
        out.reverse();
        out
    }

    /// The first session strictly after `date`.
    pub fn next_session(&self, date: Date) -> Option<Session> {
        let mut d = date.tomorrow().ok()?;
        for _ in 0..40 {
            if let Some(s) = self.session(d) {
                return Some(s);
            }
            d = d.tomorrow().ok()?;
        }
        None
    }

    /// The last session strictly before `date`.
    pub fn previous_session(&self, date: Date) -> Option<Session> {
        let mut d = date.yesterday().ok()?;
        for _ in 0..40 {
            if let Some(s) = self.session(d) {
                return Some(s);
            }
            d = d.yesterday().ok()?;
        }
        None
    }

    /// The latest session whose close is at or before `now`.
    pub fn latest_closed_session(&self, now: Timestamp) -> Option<Session> {
        let today = now.to_zoned_datetime(self.tz.clone()).date();
        match self.session(today) {
            Some(s) if s.close <= now => Some(s),
            _ => self.previous_session(today),
        }
    }

    /// The session whose regular hours contain `now`, if the market is open.
    pub fn open_session_at(&self, now: Timestamp) -> Option<Session> {
        let today = now.to_zoned_datetime(self.tz.clone()).date();
        [self.previous_session(today), self.session(today)]
            .into_iter()
            .flatten()
            .find(|s| s.open <= now && now < s.close)
    }

    fn instant(&self, date: Date, time: Time) -> Timestamp {
        date.to_datetime(time)
            .to_zoned_datetime(self.tz.clone())
            .expect("exchange local times are representable")
            .timestamp()
    }
}

/// True on Saturday and Sunday.
pub(crate) fn is_weekend(w: Weekday) -> bool {
    matches!(w, Weekday::Saturday | Weekday::Sunday)
}

#[cfg(test)]
mod tests {
    use jiff::civil::{date, time};

    use super::*;

    #[test]
    fn a_venue_from_metadata_trades_weekdays_in_its_own_zone() {
        let tz = TimeZone::get("Pacific/Auckland").unwrap();
        let cal = Calendar::weekdays_in(tz, time(10, 0, 0, 0), time(16, 45, 0, 0))
            .with_closures([date(2025, 2, 6)]);
        assert!(cal.learns_closures() && !Calendar::new(Exchange::Xnys).learns_closures());
        // Monday 2025-02-03 10:00 NZDT is Sunday 21:00 UTC.
        let s = cal.session(date(2025, 2, 3)).unwrap();
        assert_eq!(s.open, "2025-02-02T21:00:00Z".parse::<Timestamp>().unwrap());
        assert_eq!(
            s.close,
            "2025-02-03T03:45:00Z".parse::<Timestamp>().unwrap()
        );
        assert!(!cal.is_session(date(2025, 2, 6)), "a learned closure");
        assert!(!cal.is_session(date(2025, 2, 8)), "Saturday");
        let dates: Vec<Date> = cal
            .sessions(date(2025, 2, 3), date(2025, 2, 9))
            .iter()
            .map(|s| s.date)
            .collect();
        assert_eq!(dates.len(), 4);
        // Equal open and close: the whole local day.
        let day = Calendar::weekdays_in(TimeZone::UTC, Time::midnight(), Time::midnight());
        let s = day.session(date(2025, 2, 3)).unwrap();
        assert_eq!(s.close.duration_since(s.open).as_hours(), 24);
    }
}
