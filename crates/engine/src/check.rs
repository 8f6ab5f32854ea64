//! What the store holds for each series, against the exchange calendar: the computation behind
//! `backfill check` (and anything else that shows it, such as a dashboard). Reads only.
//!
//! A series is checked over a window of sessions: by default its whole stored span (the first
//! stored session to the latest closed one), or the window given, one unit at a time (a session,
//! or a week or month for `1wk`/`1mo`), by the rule the planner uses ([`crate::coverage`]).
//! Every unit in it is *stored* (a bar is there), *no data* (the provider answered without a
//! bar), *not available* (never answered, and older than the provider keeps: intraday lookback)
//! or *missing* (never answered: a run would ask for it). Sessions after the latest closed one are never in the
//! window, so a session that has not happened is never missing. Missing sessions are listed in
//! full, as ranges of consecutive sessions.

use std::collections::BTreeMap;

use backfill_calendar::Exchange;
use backfill_domain::jiff::civil::Date;
use backfill_domain::jiff::{SignedDuration, Timestamp};
use backfill_domain::{Interval, Symbol, TimeRange};
use backfill_store::{Flagged, Store, StoreError};
use serde::Serialize;

use backfill_provider::Window;

use crate::calendar_for;
use crate::coverage::{Coverage, coverage, earliest};
use crate::plan::WindowSpec;
use crate::sessions::{SessionTables, WindowView};

/// Fewest series worth a thread of their own.
const CHECK_SHARE_MIN: usize = 32;

/// What to check.
#[derive(Debug, Clone)]
pub struct CheckInput<'a> {
    pub tickers: &'a [Symbol],
    pub interval: Interval,
    /// The window to check; `None`: each series' whole stored span, and for a series with nothing
    /// stored, `default_days` sessions ending at the latest closed one.
    pub window: Option<WindowSpec>,
    pub default_days: usize,
    pub now: Timestamp,
    pub closures: &'a BTreeMap<Exchange, Vec<Date>>,
    /// The limits for `interval` of a series with no recorded provider: sessions older than it
    /// keeps are not available. A series with a recorded provider is checked with that
    /// provider's limits.
    pub provider_window: Window,
}

/// What the store knows about one session of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionCoverage {
    /// A bar is stored.
    Stored,
    /// The provider answered without a bar.
    NoData,
    /// Never answered: a run would ask for it.
    Missing,
    /// Never fetched, and older than the provider keeps (intraday lookback): not missing.
    NotAvailable,
}

/// Consecutive missing sessions, first and last inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Hole {
    pub first: Date,
    pub last: Date,
    /// Sessions in the hole.
    pub sessions: usize,
}

/// One series, checked.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesCheck {
    pub symbol: Symbol,
    /// The provider the series came from (`yahoo`, `tiingo`, `alpaca`); `None` when nothing is
    /// stored.
    pub provider: Option<String>,
    pub exchange: String,
    pub currency: Option<String>,
    pub instrument_type: Option<String>,
    /// Rows stored for this interval, over all time.
    pub rows: u64,
    /// First and last stored session dates, over all time.
    pub first: Option<Date>,
    pub last: Option<Date>,
    /// The checked window's first and last session dates.
    pub window_first: Option<Date>,
    pub window_last: Option<Date>,
    /// Sessions in the window (from the first trade date, when known).
    pub sessions: usize,
    /// Sessions in the window with a stored bar.
    pub stored: usize,
    /// Sessions never fetched: a run would ask for them.
    pub missing: usize,
    /// Sessions the provider answered without a bar (halts, gaps in its history).
    pub no_data: usize,
    /// Sessions never fetched that the provider no longer serves (intraday lookback): not missing.
    pub not_available: usize,
    /// Every missing session, as ranges of consecutive sessions.
    pub holes: Vec<Hole>,
    /// Every session of the window, in order, with what the store holds for it (for per-month
    /// views such as the dashboard's coverage map; not in `--json`, where the counts and `holes`
    /// say the same).
    #[serde(skip)]
    pub session_states: Vec<(Date, SessionCoverage)>,
    /// When this series was last fetched.
    pub last_fetched: Option<Timestamp>,
    /// Fetched bars that failed validation (kept as sent, or dropped), with the rule each broke.
    pub invalid_bars: usize,
    pub flagged: Vec<Flagged>,
    /// The series could not be checked (a damaged file): why. The counts above are then zero.
    pub error: Option<String>,
    /// Its partition files that cannot be read, each with the reason (when `error` is set).
    pub damaged: Vec<Problem>,
}

/// A file or directory in the store that does not belong there.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub path: String,
    pub reason: String,
}

/// The whole check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub interval: Interval,
    pub tickers: Vec<SeriesCheck>,
    pub problems: Vec<Problem>,
}

impl CheckReport {
    /// Whether any session is missing, any series could not be checked, or any file is damaged.
    pub fn has_gaps_or_damage(&self) -> bool {
        !self.problems.is_empty()
            || self
                .tickers
                .iter()
                .any(|t| t.missing > 0 || t.error.is_some())
    }
}

/// Checks every ticker of `input` (the caller lists the store's series when it wants them all).
/// A series that cannot be read is reported with its error; the others are still checked.
/// Series are checked on as many threads as the machine has cores (each reads and decodes its
/// own files); the report lists them in the order given.
///
/// # Errors
/// Only when the store cannot be scanned for damaged files at all.
pub fn check(store: &Store, input: &CheckInput<'_>) -> Result<CheckReport, StoreError> {
    let one = |s: &Symbol, tables: &mut SessionTables| {
        check_series_in(store, input, s, tables).unwrap_or_else(|e| SeriesCheck {
            error: Some(e.to_string()),
            damaged: store
                .damaged(s, input.interval)
                .unwrap_or_default()
                .into_iter()
                .map(|p| Problem {
                    path: p.path.display().to_string(),
                    reason: p.reason,
                })
                .collect(),
            ..SeriesCheck::empty(s.clone())
        })
    };
    // A thread per core, each with a contiguous share of the series (and its own session
    // tables: a few calendars, computed once per thread).
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(input.tickers.len().div_ceil(CHECK_SHARE_MIN))
        .max(1);
    let share = input.tickers.len().div_ceil(threads).max(1);
    let tickers: Vec<SeriesCheck> = std::thread::scope(|scope| {
        let handles: Vec<_> = input
            .tickers
            .chunks(share)
            .map(|chunk| {
                scope.spawn(move || {
                    let mut tables = SessionTables::for_check(input.interval, input.now);
                    chunk
                        .iter()
                        .map(|s| one(s, &mut tables))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(checks) => checks,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    let problems = store
        .problems()?
        .into_iter()
        .map(|p| Problem {
            path: p.path.display().to_string(),
            reason: p.reason,
        })
        .collect();
    Ok(CheckReport {
        interval: input.interval,
        tickers,
        problems,
    })
}

impl SeriesCheck {
    fn empty(symbol: Symbol) -> SeriesCheck {
        SeriesCheck {
            symbol,
            provider: None,
            exchange: String::new(),
            currency: None,
            instrument_type: None,
            rows: 0,
            first: None,
            last: None,
            window_first: None,
            window_last: None,
            sessions: 0,
            stored: 0,
            missing: 0,
            no_data: 0,
            not_available: 0,
            holes: Vec::new(),
            session_states: Vec::new(),
            last_fetched: None,
            invalid_bars: 0,
            flagged: Vec::new(),
            error: None,
            damaged: Vec::new(),
        }
    }
}

/// Groups sorted missing session dates into holes of consecutive sessions (consecutive in the
/// window's session list, so weekends and holidays do not split a hole).
fn holes(flags: &[(Date, bool)]) -> Vec<Hole> {
    let mut out: Vec<Hole> = Vec::new();
    let mut open = false;
    for &(date, missing) in flags {
        if !missing {
            open = false;
            continue;
        }
        match out.last_mut() {
            Some(h) if open => {
                h.last = date;
                h.sessions += 1;
            }
            _ => out.push(Hole {
                first: date,
                last: date,
                sessions: 1,
            }),
        }
        open = true;
    }
    out
}

/// Checks one series.
///
/// # Errors
/// A file of the series (bars, ledger, meta, flags) cannot be read.
pub fn check_series(
    store: &Store,
    input: &CheckInput<'_>,
    symbol: &Symbol,
) -> Result<SeriesCheck, StoreError> {
    let mut tables = SessionTables::for_check(input.interval, input.now);
    check_series_in(store, input, symbol, &mut tables)
}

/// [`check_series`] with session tables shared across series.
fn check_series_in(
    store: &Store,
    input: &CheckInput<'_>,
    symbol: &Symbol,
    tables: &mut SessionTables,
) -> Result<SeriesCheck, StoreError> {
    let meta = store.read_meta(symbol)?;
    let ledger = store.ledger(symbol, input.interval)?;
    let summary = store.summary(symbol, input.interval)?;
    let flagged = store.flagged(symbol, input.interval)?;
    let calendar = calendar_for(Some(store), symbol, meta.as_ref(), input.closures)?.calendar;
    let spec = input.window.unwrap_or(match &summary {
        Some(s) => WindowSpec {
            start: Some(s.first_date),
            end: None,
            days: input.default_days,
        },
        None => WindowSpec {
            start: None,
            end: None,
            days: input.default_days,
        },
    });
    let first_trade = meta
        .as_ref()
        .and_then(|m| m.first_trade)
        .map(|ft| ft.to_zoned_datetime(calendar.timezone().clone()).date());
    // The default window starts at the series' first stored session: a suffix of one table per
    // calendar (series start on different dates).
    let (table, from) = match spec {
        WindowSpec {
            start: Some(start),
            end: None,
            days,
        } if input.window.is_none() => (
            tables.since(&calendar, start, days),
            Some(first_trade.map_or(start, |ft| ft.max(start))),
        ),
        _ => (tables.get(&calendar, spec), first_trade),
    };
    let WindowView {
        sessions, units, ..
    } = table.from_first_trade(from);
    // Dates of the stored bars, sorted, walked alongside the (sorted, disjoint) units.
    let mut stored_dates: Vec<Date> = match (units.first(), units.last()) {
        (Some(a), Some(b)) => match TimeRange::new(
            // A week of margin: some providers stamp daily bars at local midnight, and a period's
            // bar at its first session as the provider's calendar has it.
            a.open - SignedDuration::from_hours(24 * 7),
            b.close + SignedDuration::from_hours(24 * 7),
        ) {
            Some(r) => store
                .read_bars(symbol, input.interval, Some(r))?
                .into_iter()
                .map(|b| b.date)
                .collect(),
            None => Vec::new(),
        },
        _ => Vec::new(),
    };
    stored_dates.sort_unstable();
    let mut next_date = 0;
    let answered = ledger.answered();
    // The series' own provider decides how far back it serves (Alpaca's intraday bars go back to
    // 2016, Yahoo's 60 days); `provider_window` is for a series of no known provider.
    let provider = store.series_provider(symbol, input.interval)?;
    let window = provider
        .as_deref()
        .and_then(backfill_provider::ProviderKind::parse)
        .map_or(input.provider_window, |k| k.window(input.interval));
    let earliest = earliest(window, input.now);
    let (mut stored, mut missing, mut no_data, mut not_available) = (0, 0, 0, 0);
    let mut flags = Vec::with_capacity(units.len());
    let mut session_states = Vec::with_capacity(units.len());
    for unit in units {
        while stored_dates.get(next_date).is_some_and(|d| *d < unit.from) {
            next_date += 1;
        }
        let state = if stored_dates.get(next_date).is_some_and(|d| *d <= unit.to) {
            stored += 1;
            SessionCoverage::Stored
        } else {
            match coverage(&answered, unit, earliest) {
                Coverage::Covered => {
                    no_data += 1;
                    SessionCoverage::NoData
                }
                Coverage::NotAvailable => {
                    not_available += 1;
                    SessionCoverage::NotAvailable
                }
                Coverage::Missing => {
                    missing += 1;
                    SessionCoverage::Missing
                }
            }
        };
        flags.push((unit.first, state == SessionCoverage::Missing));
        session_states.push((unit.first, state));
    }
    Ok(SeriesCheck {
        symbol: symbol.clone(),
        provider,
        exchange: calendar.exchange().code().to_owned(),
        currency: meta.as_ref().and_then(|m| m.currency.clone()),
        instrument_type: meta.as_ref().and_then(|m| m.instrument_type.clone()),
        rows: summary.as_ref().map_or(0, |x| x.rows),
        first: summary.as_ref().map(|x| x.first_date),
        last: summary.as_ref().map(|x| x.last_date),
        window_first: sessions.first().map(|x| x.date),
        window_last: sessions.last().map(|x| x.date),
        sessions: units.len(),
        stored,
        missing,
        no_data,
        not_available,
        holes: holes(&flags),
        session_states,
        last_fetched: ledger.last_fetched(),
        invalid_bars: flagged.len(),
        flagged,
        error: None,
        damaged: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holes_are_runs_of_missing_sessions() {
        let d = |n: i8| Date::constant(2024, 1, n);
        let flags = [
            (d(2), true),
            (d(3), true),
            (d(4), false),
            (d(5), true),
            (d(8), true),
            (d(9), true),
            (d(10), false),
        ];
        assert_eq!(
            holes(&flags),
            [
                Hole {
                    first: d(2),
                    last: d(3),
                    sessions: 2
                },
                Hole {
                    first: d(5),
                    last: d(9),
                    sessions: 3
                },
            ]
        );
        assert!(holes(&[(d(2), false)]).is_empty());
    }
}
