//! Exchange trading calendars. Pure: no I/O, no clock.
//!
//! A [`Calendar`] answers "which sessions does this exchange hold between two dates, and when does
//! each open and close?" ([`Session`]). Exchanges are named by ISO MIC ([`Exchange`]); a symbol is
//! mapped to one by its Yahoo suffix ([`exchange_for_symbol`]) or, once known, by what the provider
//! said about it ([`exchange_from_meta`]). Users add one-off closures at run time
//! ([`Calendar::with_closures`]) because exchanges announce them at short notice.

mod exchange;
mod rules;

use std::collections::BTreeSet;

use jiff::Timestamp;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;

pub use exchange::{Exchange, ParseExchangeError, exchange_for_symbol, exchange_from_meta};

/// One trading session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Session {
    /// The session date in the exchange's time zone.
    pub date: Date,
    /// Regular-session open, UTC instant.
    pub open: Timestamp,
    /// Regular-session close, UTC instant (earlier than usual on an early close).
    pub close: Timestamp,
    /// Lunch break `(start, end)` where the exchange has one (XTKS).
    pub break_: Option<(Timestamp, Timestamp)>,
    /// True when the session closes earlier than the exchange's regular close.
    pub early_close: bool,
}

/// The calendar of one exchange, plus any closures the user added.
#[derive(Debug, Clone)]
pub struct Calendar {
    exchange: Exchange,
    tz: TimeZone,
    extra_closures: BTreeSet<Date>,
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
        }
    }

    /// Adds one-off closures (e.g. from the config file) on top of the built-in rules.
    #[must_use]
    pub fn with_closures(mut self, dates: impl IntoIterator<Item = Date>) -> Calendar {
        self.extra_closures.extend(dates);
        self
    }

    pub fn exchange(&self) -> Exchange {
        self.exchange
    }

    /// The exchange's time zone; session dates are dates in this zone.
    pub fn timezone(&self) -> &TimeZone {
        &self.tz
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
        let hours = rules::hours(self.exchange, date);
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
