//! Gap planning: which requests a run must send, decided for every ticker up front.
//!
//! For one ticker the planner takes the exchange calendar, the requested window of sessions, the
//! coverage ledger and the provider's limits, and returns the requests to send. Pure: no I/O, no
//! clock (the caller passes `now`), so every rule here is unit-tested.
//!
//! Rules:
//! - The requested window is N sessions of the ticker's own exchange ending at `end` (or the
//!   sessions from `start` to `end`). Sessions before the provider's first trade date are not wanted.
//! - A session is covered when the ledger's answered ranges contain its regular hours
//!   `[open, close)`, whatever the answer was (bars or none). Days with no session are never asked.
//! - Each maximal run of uncovered sessions becomes one request spanning whole local days
//!   `[first 00:00, day after last 00:00)`, split greedily so that no request is wider than the
//!   provider allows. Sessions older than the provider's lookback (minus a safety margin) are
//!   clipped with a warning instead of being asked for and answered 422.
//! - A request touching a session that has not closed yet at `now` is provisional: its coverage is
//!   recorded as such and the next run asks again.

use backfill_calendar::{Calendar, Session};
use backfill_domain::jiff::civil::Date;
use backfill_domain::jiff::{SignedDuration, Timestamp};
use backfill_domain::{Interval, RangeSet, Symbol, TimeRange};
use backfill_provider::Window;
use serde::Serialize;

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
}

/// One request the run will send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PlannedRequest {
    pub range: TimeRange,
    /// Sessions this request is meant to fill.
    pub sessions: usize,
    /// The range includes a session still open at planning time.
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
    /// Sessions not yet covered by the ledger (reachable or not).
    pub missing: usize,
    /// Missing sessions that lie outside the provider's lookback window and cannot be fetched.
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
}

impl TickerPlan {
    pub fn is_up_to_date(&self) -> bool {
        self.requests.is_empty()
    }
}

/// The safety margin kept from the provider's lookback edge: the provider measures "now" on its own
/// clock, and a request that starts exactly at the edge may be refused by the time it arrives.
fn lookback_margin(lookback: SignedDuration) -> SignedDuration {
    if lookback > SignedDuration::from_hours(24 * 90) {
        SignedDuration::from_hours(24)
    } else {
        SignedDuration::from_hours(1)
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
    let cal = input.calendar;
    let mut sessions = window_sessions(cal, spec, now, input.interval.is_intraday());
    if let Some(first_trade) = input.first_trade {
        sessions.retain(|s| s.date >= first_trade);
    }
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
        earliest: None,
    };
    let earliest = window.lookback.map(|lb| now - lb + lookback_margin(lb));
    plan.earliest = earliest;
    let missing: Vec<Session> = sessions
        .into_iter()
        .filter(|s| input.no_gaps || !is_covered_after(input.answered, s, earliest))
        .collect();
    plan.missing = missing.len();

    let (reachable, unreachable): (Vec<Session>, Vec<Session>) = missing
        .into_iter()
        .partition(|s| earliest.is_none_or(|e| s.close > e));
    if let (Some(first), Some(last), Some(e)) = (unreachable.first(), unreachable.last(), earliest)
    {
        plan.unreachable = unreachable.len();
        plan.warnings.push(format!(
            "{} {} session(s) from {} to {} are older than the provider keeps {} bars (before {}) and cannot be fetched",
            unreachable.len(),
            input.interval,
            first.date,
            last.date,
            input.interval,
            e.strftime("%Y-%m-%d %H:%M UTC"),
        ));
    }

    for run in runs(cal, &reachable, input.no_gaps) {
        chunk_run(cal, run, window.max_span, earliest, now, &mut plan.requests);
    }
    plan
}

/// Whether the ledger covers a session's regular hours.
pub fn is_covered(answered: &RangeSet, s: &Session) -> bool {
    is_covered_after(answered, s, None)
}

/// Whether the ledger covers the part of a session's regular hours the provider can still serve
/// (from `earliest` on): a session straddling the lookback edge was fetched as far as possible.
/// A session wholly before `earliest` counts as covered only if it was fetched in full earlier.
fn is_covered_after(answered: &RangeSet, s: &Session, earliest: Option<Timestamp>) -> bool {
    let from = match earliest {
        Some(e) if e < s.close => s.open.max(e),
        _ => s.open,
    };
    TimeRange::new(from, s.close).is_some_and(|span| answered.covers(&span))
}

/// Splits the sessions into maximal runs of consecutive sessions (consecutive in the calendar).
fn runs<'s>(cal: &Calendar, sessions: &'s [Session], whole: bool) -> Vec<&'s [Session]> {
    if whole {
        return if sessions.is_empty() {
            Vec::new()
        } else {
            vec![sessions]
        };
    }
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=sessions.len() {
        let breaks = i == sessions.len()
            || cal.next_session(sessions[i - 1].date).map(|n| n.date) != Some(sessions[i].date);
        if breaks {
            out.push(&sessions[start..i]);
            start = i;
        }
    }
    out
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

fn chunk_run(
    cal: &Calendar,
    run: &[Session],
    max_span: Option<SignedDuration>,
    earliest: Option<Timestamp>,
    now: Timestamp,
    out: &mut Vec<PlannedRequest>,
) {
    let mut i = 0;
    while i < run.len() {
        let mut start = day_bounds(cal, run[i].date).0;
        if let Some(e) = earliest {
            start = start.max(e);
        }
        let mut j = i;
        let mut end = day_bounds(cal, run[j].date).1;
        while j + 1 < run.len() {
            let next_end = day_bounds(cal, run[j + 1].date).1;
            if max_span.is_some_and(|m| next_end.duration_since(start) > m) {
                break;
            }
            j += 1;
            end = next_end;
        }
        if let Some(m) = max_span {
            // A single session day wider than the limit (cannot happen for real limits of ≥ 1 day).
            if end.duration_since(start) > m {
                end = start + m;
            }
        }
        let provisional_from = run[i..=j]
            .iter()
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
        };
        let p = plan_ticker(&input, spec, DAILY, ts("2024-07-13T00:00:00Z"));
        assert_eq!(
            (p.missing, p.requests.len(), p.requests[0].sessions),
            (10, 1, 10)
        );
    }
}
