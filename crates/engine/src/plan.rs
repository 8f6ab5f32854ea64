//! Gap planning: which requests a run must send, decided for every ticker up front.
//!
//! For one ticker the planner takes the exchange calendar, the requested window of sessions, the
//! coverage ledger and the provider's limits, and returns the requests to send. Pure: no I/O, no
//! clock (the caller passes `now`), so every rule here is unit-tested.
//!
//! Rules:
//! - The requested window is N sessions of the ticker's own exchange ending at `end` (or the
//!   sessions from `start` to `end`). Sessions before the provider's first trade date are not wanted.
//! - The window is asked about one unit at a time: a session, or for `1wk`/`1mo` a calendar week
//!   or month. A unit is covered, missing or not available by the rule `check` uses too
//!   ([`crate::coverage`]). Days with no session are never asked.
//! - Each maximal run of missing units becomes one request spanning whole local days
//!   `[first 00:00, day after last 00:00)` (for a week or month, all its calendar days, so the
//!   provider's bar is inside whichever session it is stamped at), split greedily so that no request is wider than the
//!   provider allows. Sessions older than the provider's lookback (minus a safety margin) are
//!   clipped with a warning instead of being asked for and answered 422.
//! - A request touching a unit that has not closed yet at `now` (a session in progress, the
//!   current week or month) is provisional from that unit's open on: its coverage is recorded as
//!   such and the next run asks again.

use backfill_calendar::{Calendar, Session};
use backfill_domain::jiff::civil::Date;
use backfill_domain::jiff::{SignedDuration, Timestamp};
use backfill_domain::{Interval, RangeSet, Symbol, TimeRange};
use backfill_provider::Window;
use serde::Serialize;

use crate::coverage::{Coverage, Unit, coverage, earliest};
use crate::sessions::{WindowTable, WindowView};

/// How the requested window of sessions is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
    /// First session date wanted; when `None`, `days` sessions ending at `end`.
    pub start: Option<Date>,
    /// Last session date wanted; when `None`, the latest session that has closed at `now` (for
    /// intraday intervals, the session in progress if the market is open: its bars so far are
    /// stored as provisional and refreshed by the next run). A date after the session in progress
    /// (or the latest closed one) is clipped to it.
    pub end: Option<Date>,
    /// Number of sessions wanted when `start` is not given.
    pub days: usize,
}

/// What the planner knows about one ticker.
#[derive(Debug, Clone)]
pub struct TickerInput<'a> {
    pub symbol: &'a Symbol,
    pub interval: Interval,
    pub calendar: &'a Calendar,
    /// Ranges the provider has answered (non-provisional ledger entries).
    pub answered: &'a RangeSet,
    /// First trade date as the provider reported it, if known.
    pub first_trade: Option<Date>,
    /// Ignore the ledger and ask for the whole window.
    pub no_gaps: bool,
    /// Whether `calendar` is the venue's own. When it is a guess (a venue with no built-in
    /// calendar, before the provider has named its zone), daily and coarser requests are widened
    /// by a week before and two days after, so that every session of the window is inside
    /// whatever the venue's zone and holidays, and everything is recorded as provisional: the
    /// next run plans again with the venue's zone and hours.
    pub zone_known: bool,
}

/// One request the run will send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PlannedRequest {
    pub range: TimeRange,
    /// Units (sessions, weeks or months) this request is meant to fill.
    pub sessions: usize,
    /// The range includes a unit not closed at planning time, from this instant on.
    pub provisional_from: Option<Timestamp>,
}

/// The plan for one ticker.
#[derive(Debug, Clone, Serialize)]
pub struct TickerPlan {
    pub symbol: Symbol,
    pub interval: Interval,
    pub exchange: String,
    /// First and last session dates of the requested window (`None` when it holds no session).
    pub first: Option<Date>,
    pub last: Option<Date>,
    /// Sessions in the requested window (after the first trade date).
    pub sessions: usize,
    /// Units (sessions; weeks or months for `1wk`/`1mo`) not yet covered by the ledger
    /// (reachable or not).
    pub missing: usize,
    /// Missing units that lie outside the provider's lookback window and cannot be fetched.
    pub unreachable: usize,
    pub requests: Vec<PlannedRequest>,
    /// Human-readable warnings (clipped ranges, unknown exchange).
    pub warnings: Vec<String>,
    /// The calendar the plan was made with (the run validates bars against it).
    #[serde(skip)]
    pub calendar: Calendar,
    /// The oldest instant the provider still serves for this interval (with the safety margin).
    #[serde(skip)]
    pub earliest: Option<Timestamp>,
    /// For a venue without a built-in calendar, the name its learned closures are kept under: a
    /// daily answer without a bar for one of its closed sessions is recorded as a closure.
    #[serde(skip)]
    pub venue: Option<String>,
    /// The clock the plan was made at.
    #[serde(skip)]
    pub now: Timestamp,
}

impl TickerPlan {
    pub fn is_up_to_date(&self) -> bool {
        self.requests.is_empty()
    }
}

/// The sessions of the requested window, in order.
///
/// `include_open`: when no end is given, end with the session in progress if there is one.
pub fn window_sessions(
    calendar: &Calendar,
    spec: WindowSpec,
    now: Timestamp,
    include_open: bool,
) -> Vec<Session> {
    let open_now = calendar.open_session_at(now);
    let latest_closed = calendar.latest_closed_session(now).map(|s| s.date);
    // The default end: the session in progress (intraday only) or the latest closed one. An
    // explicit end may name the session in progress (its bars are provisional), never a session
    // that has not opened: a later end is clipped, so a future session is never asked for.
    let end = match spec.end {
        None => match open_now.filter(|_| include_open) {
            Some(s) => s.date,
            None => match latest_closed {
                Some(d) => d,
                None => return Vec::new(),
            },
        },
        Some(d) => match open_now.map(|s| s.date).or(latest_closed) {
            Some(latest) => d.min(latest),
            None => return Vec::new(),
        },
    };
    match spec.start {
        Some(start) => calendar.sessions(start, end),
        None => calendar.sessions_ending(end, spec.days),
    }
}

/// Plans one ticker.
pub fn plan_ticker(
    input: &TickerInput<'_>,
    spec: WindowSpec,
    window: Window,
    now: Timestamp,
) -> TickerPlan {
    let interval = input.interval;
    let table = WindowTable::new(input.calendar, interval, spec, now, interval.is_intraday());
    plan_ticker_in(input, &table, window, now)
}

/// [`plan_ticker`] with the window's session table already computed: `table` is the window of
/// `input.calendar` for `input.interval` at `now`, shared by every ticker on that calendar
/// ([`crate::sessions::SessionTables`]).
pub fn plan_ticker_in(
    input: &TickerInput<'_>,
    table: &WindowTable,
    window: Window,
    now: Timestamp,
) -> TickerPlan {
    let cal = input.calendar;
    let WindowView {
        sessions,
        units,
        bounds,
    } = table.from_first_trade(input.first_trade);
    let earliest = earliest(window, now);
    let mut plan = TickerPlan {
        symbol: input.symbol.clone(),
        interval: input.interval,
        exchange: cal.exchange().code().to_owned(),
        first: sessions.first().map(|s| s.date),
        last: sessions.last().map(|s| s.date),
        sessions: sessions.len(),
        missing: 0,
        unreachable: 0,
        requests: Vec::new(),
        warnings: Vec::new(),
        calendar: cal.clone(),
        earliest,
        venue: None,
        now,
    };
    let state: Vec<Coverage> = units
        .iter()
        .map(|u| match coverage(input.answered, u, earliest) {
            Coverage::Covered if input.no_gaps && earliest.is_some_and(|e| u.close <= e) => {
                Coverage::NotAvailable
            }
            Coverage::Covered if input.no_gaps => Coverage::Missing,
            c => c,
        })
        .collect();
    plan.missing = state.iter().filter(|c| **c != Coverage::Covered).count();

    let unreachable: Vec<&Unit> = units
        .iter()
        .zip(&state)
        .filter(|(_, c)| **c == Coverage::NotAvailable)
        .map(|(u, _)| u)
        .collect();
    if let (Some(first), Some(last), Some(e)) = (unreachable.first(), unreachable.last(), earliest)
    {
        plan.unreachable = unreachable.len();
        plan.warnings.push(format!(
            "{} {} session(s) from {} to {} are older than the provider keeps {} bars (before {}) and cannot be fetched",
            unreachable.len(),
            input.interval,
            first.first,
            last.last,
            input.interval,
            e.strftime("%Y-%m-%d %H:%M UTC"),
        ));
    }

    // Maximal runs of consecutive missing units (all of them with `--no-gaps`), as indices.
    let mut run: Vec<usize> = Vec::new();
    let chunk = |run: &[usize], out: &mut Vec<PlannedRequest>| {
        chunk_run(run, units, bounds, window.max_span, earliest, now, out);
    };
    for (i, c) in state.iter().enumerate() {
        match c {
            Coverage::Missing => run.push(i),
            Coverage::Covered if !input.no_gaps => {
                chunk(&run, &mut plan.requests);
                run.clear();
            }
            _ => {}
        }
    }
    chunk(&run, &mut plan.requests);
    if !input.zone_known {
        widen_unsure(&mut plan.requests, input.interval);
    }
    plan
}

/// Requests planned with a guessed calendar: daily and coarser ones grow by a week before (a
/// venue's local date differs from New York's by at most a day, and the guess knows none of its
/// holidays, each of which moves the window's first session back) and two days after, and all
/// are provisional, so nothing is recorded as final on a guess.
fn widen_unsure(requests: &mut [PlannedRequest], interval: Interval) {
    let day = SignedDuration::from_hours(24);
    for r in requests {
        if !interval.is_intraday()
            && let Some(wide) = TimeRange::new(r.range.start() - day * 7, r.range.end() + day * 2)
        {
            r.range = wide;
        }
        r.provisional_from = Some(r.range.start());
    }
}

/// `[00:00, next 00:00)` of a session date in the exchange's zone.
pub(crate) fn day_bounds(cal: &Calendar, date: Date) -> (Timestamp, Timestamp) {
    let tz = cal.timezone();
    let start = date.to_zoned_datetime(tz.clone()).map(|z| z.timestamp());
    let next = date
        .tomorrow()
        .ok()
        .and_then(|d| d.to_zoned_datetime(tz.clone()).ok())
        .map(|z| z.timestamp());
    match (start, next) {
        (Ok(a), Some(b)) => (a, b),
        _ => unreachable!("session dates are far inside jiff's range"),
    }
}

/// Splits a run of consecutive missing units (indices into `units`, whose [`day_bounds`] edges
/// are `bounds`) into requests no wider than `max_span`.
fn chunk_run(
    run: &[usize],
    units: &[Unit],
    bounds: &[(Timestamp, Timestamp)],
    max_span: Option<SignedDuration>,
    earliest: Option<Timestamp>,
    now: Timestamp,
    out: &mut Vec<PlannedRequest>,
) {
    let mut i = 0;
    while i < run.len() {
        let mut start = bounds[run[i]].0;
        if let Some(e) = earliest {
            start = start.max(e);
        }
        let mut j = i;
        let mut end = bounds[run[j]].1;
        while j + 1 < run.len() {
            let next_end = bounds[run[j + 1]].1;
            if max_span.is_some_and(|m| next_end.duration_since(start) > m) {
                break;
            }
            j += 1;
            end = next_end;
        }
        if let Some(m) = max_span {
            // A single unit wider than the limit (cannot happen for real limits of ≥ 1 day).
            if end.duration_since(start) > m {
                end = start + m;
            }
        }
        let provisional_from = run[i..=j]
            .iter()
            .map(|&k| &units[k])
            .find(|s| s.close > now)
            .map(|s| s.open.max(start));
        if let Some(range) = TimeRange::new(start, end) {
            out.push(PlannedRequest {
                range,
                sessions: j - i + 1,
                provisional_from,
            });
        }
        i = j + 1;
    }
}

#[cfg(test)]
mod tests {
    use backfill_calendar::Exchange;
    use backfill_domain::jiff::civil::date;

    use super::*;

    fn sym(s: &str) -> Symbol {
        Symbol::parse(s).unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    const DAILY: Window = Window {
        max_span: None,
        lookback: None,
    };

    fn plan(
        cal: &Calendar,
        answered: &RangeSet,
        spec: WindowSpec,
        window: Window,
        now: &str,
    ) -> TickerPlan {
        let s = sym("MSFT");
        let input = TickerInput {
            symbol: &s,
            interval: Interval::D1,
            calendar: cal,
            answered,
            first_trade: None,
            no_gaps: false,
            zone_known: true,
        };
        plan_ticker(&input, spec, window, ts(now))
    }

    #[test]
    fn fresh_ticker_is_one_request_over_whole_local_days() {
        let cal = Calendar::new(Exchange::Xnys);
        let spec = WindowSpec {
            start: None,
            end: None,
            days: 5,
        };
        // Saturday: the latest closed session is Friday 2024-07-12.
        let p = plan(&cal, &RangeSet::new(), spec, DAILY, "2024-07-13T12:00:00Z");
        assert_eq!(
            (p.first, p.last, p.sessions, p.missing),
            (Some(date(2024, 7, 8)), Some(date(2024, 7, 12)), 5, 5)
        );
        assert_eq!(p.requests.len(), 1);
        let r = p.requests[0].range;
        assert_eq!(r.start(), ts("2024-07-08T04:00:00Z"));
        assert_eq!(r.end(), ts("2024-07-13T04:00:00Z"));
        assert_eq!(p.requests[0].provisional_from, None);
    }

    #[test]
    fn covered_window_needs_no_request_whatever_day_it_ends_on() {
        let cal = Calendar::new(Exchange::Xnys);
        let spec = WindowSpec {
            start: None,
            end: None,
            days: 252,
        };
        let first = plan(&cal, &RangeSet::new(), spec, DAILY, "2024-07-13T12:00:00Z");
        let answered: RangeSet = first.requests.iter().map(|r| r.range).collect();
        for now in [
            "2024-07-13T12:00:00Z",
            "2024-07-14T23:00:00Z",
            "2024-07-15T10:00:00Z",
        ] {
            let again = plan(&cal, &answered, spec, DAILY, now);
            assert!(again.is_up_to_date(), "{now}: {:?}", again.requests);
            assert_eq!(again.sessions, 252);
        }
        // Monday after the close: exactly one new session, one request.
        let monday = plan(&cal, &answered, spec, DAILY, "2024-07-15T21:00:00Z");
        assert_eq!(monday.missing, 1);
        assert_eq!(monday.requests.len(), 1);
        assert_eq!(monday.requests[0].range.start(), ts("2024-07-15T04:00:00Z"));
    }

    #[test]
    fn holes_become_separate_requests() {
        let cal = Calendar::new(Exchange::Xnys);
        let spec = WindowSpec {
            start: Some(date(2024, 7, 1)),
            end: Some(date(2024, 7, 31)),
            days: 0,
        };
        let mut answered: RangeSet =
            TimeRange::new(ts("2024-06-01T00:00:00Z"), ts("2024-08-01T00:00:00Z"))
                .unwrap()
                .into();
        // Punch out 2024-07-09 and 2024-07-22..23.
        answered = answered.subtract(
            &TimeRange::new(ts("2024-07-09T14:00:00Z"), ts("2024-07-09T15:00:00Z"))
                .unwrap()
                .into(),
        );
        answered = answered.subtract(
            &TimeRange::new(ts("2024-07-22T14:00:00Z"), ts("2024-07-23T15:00:00Z"))
                .unwrap()
                .into(),
        );
        let p = plan(&cal, &answered, spec, DAILY, "2024-08-10T00:00:00Z");
        assert_eq!(p.missing, 3);
        let starts: Vec<_> = p
            .requests
            .iter()
            .map(|r| (r.range.start(), r.sessions))
            .collect();
        assert_eq!(
            starts,
            vec![
                (ts("2024-07-09T04:00:00Z"), 1),
                (ts("2024-07-22T04:00:00Z"), 2)
            ]
        );
    }

    #[test]
    fn intraday_requests_respect_width_and_lookback() {
        let cal = Calendar::new(Exchange::Xnys);
        let window = Window {
            max_span: Some(SignedDuration::from_hours(24 * 7)),
            lookback: Some(SignedDuration::from_hours(24 * 30)),
        };
        let spec = WindowSpec {
            start: None,
            end: None,
            days: 30,
        };
        let now = "2024-07-13T12:00:00Z";
        let p = plan(&cal, &RangeSet::new(), spec, window, now);
        let earliest =
            ts(now) - SignedDuration::from_hours(24 * 30) + SignedDuration::from_hours(1);
        assert!(
            p.unreachable > 0,
            "30 sessions reach further back than 30 calendar days"
        );
        assert_eq!(p.warnings.len(), 1);
        let mut total = 0;
        for r in &p.requests {
            assert!(
                r.range.duration() <= SignedDuration::from_hours(24 * 7),
                "{r:?}"
            );
            assert!(r.range.start() >= earliest, "{r:?}");
            total += r.sessions;
        }
        assert_eq!(total + p.unreachable, p.missing);
        assert_eq!(p.missing, 30);

        // An hour later the session straddling the edge was fetched as far as it can be: nothing to ask.
        let answered: RangeSet = p.requests.iter().map(|r| r.range).collect();
        let again = plan(&cal, &answered, spec, window, "2024-07-13T13:00:00Z");
        assert!(again.requests.is_empty(), "{:?}", again.requests);
    }

    #[test]
    fn open_session_is_provisional_and_pre_listing_is_not_wanted() {
        let cal = Calendar::new(Exchange::Xnys);
        let spec = WindowSpec {
            start: Some(date(2024, 7, 8)),
            end: Some(date(2024, 7, 12)),
            days: 0,
        };
        let p = plan(&cal, &RangeSet::new(), spec, DAILY, "2024-07-12T15:00:00Z");
        assert_eq!(
            p.requests[0].provisional_from,
            Some(ts("2024-07-12T13:30:00Z"))
        );

        let s = sym("NEWCO");
        let input = TickerInput {
            symbol: &s,
            interval: Interval::D1,
            calendar: &cal,
            answered: &RangeSet::new(),
            first_trade: Some(date(2024, 7, 10)),
            no_gaps: false,
            zone_known: true,
        };
        let p = plan_ticker(&input, spec, DAILY, ts("2024-07-13T00:00:00Z"));
        assert_eq!((p.sessions, p.first), (3, Some(date(2024, 7, 10))));
    }

    #[test]
    fn no_gaps_asks_for_everything() {
        let cal = Calendar::new(Exchange::Xnys);
        let spec = WindowSpec {
            start: None,
            end: Some(date(2024, 7, 12)),
            days: 10,
        };
        let all: RangeSet = TimeRange::new(ts("2000-01-01T00:00:00Z"), ts("2030-01-01T00:00:00Z"))
            .unwrap()
            .into();
        let s = sym("MSFT");
        let input = TickerInput {
            symbol: &s,
            interval: Interval::D1,
            calendar: &cal,
            answered: &all,
            first_trade: None,
            no_gaps: true,
            zone_known: true,
        };
        let p = plan_ticker(&input, spec, DAILY, ts("2024-07-13T00:00:00Z"));
        assert_eq!(
            (p.missing, p.requests.len(), p.requests[0].sessions),
            (10, 1, 10)
        );
    }

    fn plan_at(
        interval: Interval,
        answered: &RangeSet,
        spec: WindowSpec,
        now: &str,
        zone_known: bool,
    ) -> TickerPlan {
        let cal = Calendar::new(Exchange::Xnys);
        let s = sym("MSFT");
        let input = TickerInput {
            symbol: &s,
            interval,
            calendar: &cal,
            answered,
            first_trade: None,
            no_gaps: false,
            zone_known,
        };
        plan_ticker(&input, spec, DAILY, ts(now))
    }

    /// What a run records for a plan: final before `provisional_from`, provisional after.
    fn record(answered: &mut RangeSet, p: &TickerPlan) {
        for r in &p.requests {
            let end = r.provisional_from.unwrap_or(r.range.end());
            if let Some(done) = TimeRange::new(r.range.start(), end) {
                *answered = answered.union(&done.into());
            }
        }
    }

    #[test]
    fn the_week_in_progress_is_asked_every_night_until_it_closes() {
        let spec = WindowSpec {
            start: None,
            end: None,
            days: 10,
        };
        let mut answered = RangeSet::new();
        // Tuesday night: the week of 2024-07-08 is in progress.
        let p = plan_at(Interval::W1, &answered, spec, "2024-07-09T22:00:00Z", true);
        assert_eq!(p.requests.len(), 1);
        let r = p.requests[0];
        assert_eq!(r.range.end(), ts("2024-07-15T04:00:00Z"), "through Sunday");
        assert_eq!(r.provisional_from, Some(ts("2024-07-08T13:30:00Z")));
        record(&mut answered, &p);
        for night in ["2024-07-10T22:00:00Z", "2024-07-11T22:00:00Z"] {
            let again = plan_at(Interval::W1, &answered, spec, night, true);
            assert_eq!(again.requests.len(), 1, "{night}");
            assert_eq!(again.requests[0].range.start(), ts("2024-07-08T04:00:00Z"));
            assert_eq!(again.requests[0].sessions, 1);
        }
        // Friday after the close the week is final, and never asked again.
        let friday = plan_at(Interval::W1, &answered, spec, "2024-07-12T22:00:00Z", true);
        assert_eq!(friday.requests[0].provisional_from, None);
        record(&mut answered, &friday);
        let saturday = plan_at(Interval::W1, &answered, spec, "2024-07-13T22:00:00Z", true);
        assert!(saturday.is_up_to_date(), "{:?}", saturday.requests);
        // The month of July is still in progress.
        let m = plan_at(
            Interval::Mo1,
            &RangeSet::new(),
            spec,
            "2024-07-13T22:00:00Z",
            true,
        );
        let last = m.requests.last().unwrap();
        assert_eq!(last.range.end(), ts("2024-08-01T04:00:00Z"));
        assert_eq!(last.provisional_from, Some(ts("2024-07-01T13:30:00Z")));
    }

    #[test]
    fn a_guessed_zone_asks_wider_and_records_nothing_as_final() {
        let spec = WindowSpec {
            start: None,
            end: Some(date(2024, 7, 12)),
            days: 5,
        };
        let p = plan_at(
            Interval::D1,
            &RangeSet::new(),
            spec,
            "2024-07-20T00:00:00Z",
            false,
        );
        let r = p.requests[0];
        assert_eq!(r.range.start(), ts("2024-07-01T04:00:00Z"));
        assert_eq!(r.range.end(), ts("2024-07-15T04:00:00Z"));
        assert_eq!(r.provisional_from, Some(r.range.start()));
    }
}
