//! Session tables computed once per calendar for a whole portfolio.
//!
//! Planning or checking a portfolio asks the same question of every ticker: which sessions (and
//! units, see [`crate::coverage`]) does the window hold on this ticker's calendar? The answer
//! depends only on the calendar, the interval, the window and `now`, so a [`SessionTables`]
//! computes it once per distinct calendar (and window) and hands every ticker a shared
//! [`WindowTable`]; the per-ticker part (the first trade date) is a suffix of it
//! ([`WindowTable::from_first_trade`]).
//!
//! Calendars are told apart by value ([`Calendar`]'s equality: exchange, zone, regular hours and
//! every added closure), never by exchange code alone: several venues share the code `WEEKDAYS`
//! with different zones, hours and learned closures, and user closures differ per exchange.

use std::sync::Arc;

use backfill_calendar::{Calendar, Session};
use backfill_domain::Interval;
use backfill_domain::jiff::Timestamp;
use backfill_domain::jiff::civil::Date;

use crate::coverage::{Unit, units};
use crate::plan::{WindowSpec, day_bounds, window_sessions};

/// The sessions and units of one window on one calendar, with what planning needs of each unit.
#[derive(Debug)]
pub struct WindowTable {
    /// The window's sessions, in order.
    sessions: Vec<Session>,
    /// The units of those sessions, in order ([`units`]).
    units: Vec<Unit>,
    /// For each unit, the date of its last session inside the window (a week or month may
    /// reach past the window's sessions): the unit is wanted from a first trade date on or
    /// before it.
    last_in_window: Vec<Date>,
    /// For each unit, the start of its first calendar day and the end of its last, in the
    /// calendar's zone ([`day_bounds`]): the edges of a request that asks for it.
    bounds: Vec<(Timestamp, Timestamp)>,
}

/// The part of a [`WindowTable`] a ticker wants: its sessions and units from its first trade
/// date on.
#[derive(Debug, Clone, Copy)]
pub struct WindowView<'a> {
    pub sessions: &'a [Session],
    pub units: &'a [Unit],
    /// The start of each unit's first calendar day and the end of its last, in the calendar's zone
    /// (`day_bounds`): `bounds[i]` for `units[i]`.
    pub bounds: &'a [(Timestamp, Timestamp)],
}

impl WindowTable {
    /// The window of `spec` at `now` on `calendar` (see [`window_sessions`]; `include_open`: end
    /// with the session in progress when no end is given), and its units for `interval`.
    pub fn new(
        calendar: &Calendar,
        interval: Interval,
        spec: WindowSpec,
        now: Timestamp,
        include_open: bool,
    ) -> WindowTable {
        let sessions = window_sessions(calendar, spec, now, include_open);
        WindowTable::of_sessions(calendar, interval, sessions)
    }

    /// The table of a list of sessions (in order).
    pub fn of_sessions(
        calendar: &Calendar,
        interval: Interval,
        sessions: Vec<Session>,
    ) -> WindowTable {
        let units = units(calendar, interval, &sessions);
        let mut last_in_window = Vec::with_capacity(units.len());
        let mut next = 0;
        for u in &units {
            // The window's sessions inside this unit's days are the next ones in order.
            let mut last = None;
            while let Some(s) = sessions.get(next).filter(|s| s.date <= u.to) {
                if s.date >= u.from {
                    last = Some(s.date);
                }
                next += 1;
            }
            last_in_window.push(last.unwrap_or(u.last));
        }
        let bounds = units
            .iter()
            .map(|u| (day_bounds(calendar, u.from).0, day_bounds(calendar, u.to).1))
            .collect();
        WindowTable {
            sessions,
            units,
            last_in_window,
            bounds,
        }
    }

    /// The sessions and units wanted from `first_trade` on (all of them for `None`): the same as
    /// computing the window again without the sessions before `first_trade`.
    pub fn from_first_trade(&self, first_trade: Option<Date>) -> WindowView<'_> {
        let (s, u) = match first_trade {
            None => (0, 0),
            Some(ft) => (
                self.sessions.partition_point(|x| x.date < ft),
                self.last_in_window.partition_point(|d| *d < ft),
            ),
        };
        WindowView {
            sessions: &self.sessions[s..],
            units: &self.units[u..],
            bounds: &self.bounds[u..],
        }
    }
}

/// One [`WindowTable`] per distinct calendar and window, for a fixed interval and `now`.
#[derive(Debug)]
pub struct SessionTables {
    interval: Interval,
    now: Timestamp,
    include_open: bool,
    closed_only: bool,
    /// A portfolio spans a few dozen calendars and usually one window: a list compared by value
    /// is enough.
    tables: Vec<(WindowSpec, Calendar, Arc<WindowTable>)>,
    /// The tables of [`SessionTables::since`], with the start each was computed from.
    since: Vec<(Calendar, Date, Arc<WindowTable>)>,
}

impl SessionTables {
    /// Tables as the planner wants them: intraday windows end with the session in progress.
    pub fn for_plan(interval: Interval, now: Timestamp) -> SessionTables {
        SessionTables {
            interval,
            now,
            include_open: interval.is_intraday(),
            closed_only: false,
            tables: Vec::new(),
            since: Vec::new(),
        }
    }

    /// Tables as `check` wants them: closed sessions only (a session in progress is not missing
    /// yet).
    pub fn for_check(interval: Interval, now: Timestamp) -> SessionTables {
        SessionTables {
            interval,
            now,
            include_open: false,
            closed_only: true,
            tables: Vec::new(),
            since: Vec::new(),
        }
    }

    /// The table of the window `spec` on `calendar`, computed on first use.
    pub fn get(&mut self, calendar: &Calendar, spec: WindowSpec) -> Arc<WindowTable> {
        if let Some((_, _, t)) = self
            .tables
            .iter()
            .find(|(s, c, _)| *s == spec && c == calendar)
        {
            return t.clone();
        }
        let table = Arc::new(self.compute(calendar, spec));
        self.tables.push((spec, calendar.clone(), table.clone()));
        table
    }

    /// A table of the window from `start` to the latest session (no end given) on `calendar`,
    /// or of a longer one that starts earlier: `from_first_trade(Some(start))` of it is the
    /// window from `start` (the window from an earlier start ends at the same session, so the
    /// one from `start` is its suffix). Series that start on different dates share it.
    pub fn since(&mut self, calendar: &Calendar, start: Date, days: usize) -> Arc<WindowTable> {
        let spec_from = |d: Date| WindowSpec {
            start: Some(d),
            end: None,
            days,
        };
        let found = self.since.iter().position(|(c, _, _)| c == calendar);
        if let Some(i) = found
            && self.since[i].1 <= start
        {
            return self.since[i].2.clone();
        }
        // Reach back at least twice as far as before, so that series arriving with ever earlier
        // starts recompute the table a few times at most.
        let from = match found.map(|i| self.since[i].1) {
            Some(old) => {
                let back = self
                    .now
                    .to_zoned_datetime(calendar.timezone().clone())
                    .date()
                    - old;
                start.min(old.checked_sub(back).unwrap_or(old))
            }
            None => start,
        };
        let table = Arc::new(self.compute(calendar, spec_from(from)));
        match found {
            Some(i) => self.since[i] = (calendar.clone(), from, table.clone()),
            None => self.since.push((calendar.clone(), from, table.clone())),
        }
        table
    }

    fn compute(&self, calendar: &Calendar, spec: WindowSpec) -> WindowTable {
        let mut sessions = window_sessions(calendar, spec, self.now, self.include_open);
        if self.closed_only {
            sessions.retain(|x| x.close <= self.now);
        }
        WindowTable::of_sessions(calendar, self.interval, sessions)
    }
}

#[cfg(test)]
mod tests {
    use backfill_calendar::Exchange;
    use backfill_domain::jiff::civil::{Time, date};
    use backfill_domain::jiff::tz::TimeZone;

    use super::*;
    use crate::coverage::wanted_sessions;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// A suffix of the shared table is exactly what computing the window for one ticker gives,
    /// for every interval kind and first trade dates inside, before and after the window.
    #[test]
    fn a_first_trade_suffix_equals_the_window_computed_alone() {
        let cal = Calendar::new(Exchange::Xlon);
        let now = ts("2024-07-10T12:00:00Z");
        let spec = WindowSpec {
            start: Some(date(2024, 1, 1)),
            end: Some(date(2024, 6, 5)),
            days: 0,
        };
        for interval in [Interval::D1, Interval::W1, Interval::Mo1, Interval::H1] {
            let table = WindowTable::new(&cal, interval, spec, now, interval.is_intraday());
            for ft in [
                None,
                Some(date(2023, 6, 1)),
                Some(date(2024, 3, 13)),
                Some(date(2024, 3, 16)),
                Some(date(2024, 6, 3)),
                Some(date(2024, 6, 6)),
                Some(date(2024, 8, 1)),
            ] {
                let alone = wanted_sessions(&cal, interval, spec, now, ft);
                let view = table.from_first_trade(ft);
                assert_eq!(view.sessions, alone.as_slice(), "{interval} {ft:?}");
                assert_eq!(
                    view.units,
                    units(&cal, interval, &alone).as_slice(),
                    "{interval} {ft:?}"
                );
                for (u, b) in view.units.iter().zip(view.bounds) {
                    assert_eq!(*b, (day_bounds(&cal, u.from).0, day_bounds(&cal, u.to).1));
                }
            }
        }
    }

    /// Calendars that share an exchange code but not their zone, hours or closures get tables of
    /// their own.
    #[test]
    fn calendars_are_keyed_by_value_not_by_code() {
        let spec = WindowSpec {
            start: None,
            end: None,
            days: 20,
        };
        let now = ts("2025-02-20T12:00:00Z");
        let mut tables = SessionTables::for_plan(Interval::D1, now);
        let hours = (Time::constant(10, 0, 0, 0), Time::constant(16, 45, 0, 0));
        let auckland = TimeZone::get("Pacific/Auckland").unwrap();
        let nz = Calendar::weekdays_in(auckland.clone(), hours.0, hours.1);
        let nz_closed = nz.clone().with_closures([date(2025, 2, 6)]);
        let istanbul =
            Calendar::weekdays_in(TimeZone::get("Europe/Istanbul").unwrap(), hours.0, hours.1);
        let nyse = Calendar::new(Exchange::Xnys);
        let nyse_closed = nyse.clone().with_closures([date(2025, 2, 3)]);
        let all = [&nz, &nz_closed, &istanbul, &nyse, &nyse_closed];
        for cal in all {
            let t = tables.get(cal, spec);
            let alone = window_sessions(cal, spec, now, false);
            assert_eq!(t.from_first_trade(None).sessions, alone.as_slice());
        }
        assert_eq!(tables.tables.len(), all.len());
        // The same calendar built again shares its table.
        let again =
            Calendar::weekdays_in(auckland, hours.0, hours.1).with_closures([date(2025, 2, 6)]);
        assert!(Arc::ptr_eq(
            &tables.get(&again, spec),
            &tables.get(&nz_closed, spec)
        ));
        assert_eq!(tables.tables.len(), all.len());
    }

    /// Series that start on different dates, in any order, see exactly the window from their own
    /// start, closed sessions only, as `check` computed it for each series alone.
    #[test]
    fn since_serves_every_start_from_one_table() {
        let now = ts("2024-07-10T15:00:00Z");
        for interval in [Interval::D1, Interval::W1, Interval::Mo1] {
            let mut tables = SessionTables::for_check(interval, now);
            let cal = Calendar::new(Exchange::Xnys);
            for start in [
                date(2020, 3, 4),
                date(2023, 11, 30),
                date(2001, 9, 10),
                date(2024, 7, 10),
                date(1995, 1, 2),
                date(2024, 8, 1),
            ] {
                let spec = WindowSpec {
                    start: Some(start),
                    end: None,
                    days: 0,
                };
                let mut alone = window_sessions(&cal, spec, now, false);
                alone.retain(|s| s.close <= now);
                let table = tables.since(&cal, start, 0);
                let view = table.from_first_trade(Some(start));
                assert_eq!(view.sessions, alone.as_slice(), "{interval} {start}");
                assert_eq!(view.units, units(&cal, interval, &alone).as_slice());
            }
            assert_eq!(tables.since.len(), 1);
        }
    }
}
