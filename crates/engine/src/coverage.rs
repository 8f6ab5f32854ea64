//! The coverage rule the planner and `check` share.
//!
//! A requested window is a list of sessions ([`wanted_sessions`]); the ledger is asked about it
//! one [`Unit`] at a time ([`units`]): a session for daily and intraday bars, a calendar week
//! (Monday to Sunday, local) or month for `1wk`/`1mo`, because the provider serves one bar per
//! period, stamped at its first session and aggregating the period so far. A unit is
//! ([`coverage`]):
//!
//! - [`Coverage::Covered`] when the ledger's answered ranges contain its regular hours, from the
//!   open of its first session to the close of its last (for a unit straddling the provider's
//!   lookback edge, the part the provider still serves);
//! - [`Coverage::NotAvailable`] when it is not covered and wholly older than the provider keeps
//!   (intraday lookback): nobody can fetch it any more, so it is not missing;
//! - [`Coverage::Missing`] otherwise: a run asks for it.
//!
//! A week or month whose last session has not closed is never covered for good: the run records
//! it as provisional, and the next run asks again until the period has closed.

use backfill_calendar::{Calendar, HolidaysKnown, Session};
use backfill_domain::jiff::civil::Date;
use backfill_domain::jiff::{SignedDuration, Timestamp, ToSpan};
use std::collections::BTreeSet;

use backfill_domain::{Interval, RangeSet, SymbolMeta, TimeRange};
use backfill_provider::Window;

use crate::plan::{WindowSpec, window_sessions};

/// What the ledger says about one unit of a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// Answered for good (with bars or without).
    Covered,
    /// Not answered yet, and the provider still serves it.
    Missing,
    /// Not answered, and older than the provider keeps at this interval.
    NotAvailable,
}

/// One thing the provider answers with one bar: a session, or a week or month of sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    /// First and last calendar day of the unit: the session date, or the week's Monday and
    /// Sunday, or the month's first and last day. The provider's bar for the unit is stamped
    /// inside these days (at the period's first session as the provider's calendar has it).
    pub from: Date,
    pub to: Date,
    /// Date of the first session.
    pub first: Date,
    /// Date of the last session (equal to `first` for a session).
    pub last: Date,
    /// Open of the first session.
    pub open: Timestamp,
    /// Close of the last session: the unit is final from then on.
    pub close: Timestamp,
}

impl Unit {
    fn session(s: &Session) -> Unit {
        Unit {
            from: s.date,
            to: s.date,
            first: s.date,
            last: s.date,
            open: s.open,
            close: s.close,
        }
    }
}

/// The sessions a run wants: the window of `spec` at `now` (see [`window_sessions`]; intraday
/// windows end with the session in progress), without those before the first trade date.
pub fn wanted_sessions(
    calendar: &Calendar,
    interval: Interval,
    spec: WindowSpec,
    now: Timestamp,
    first_trade: Option<Date>,
) -> Vec<Session> {
    let mut sessions = window_sessions(calendar, spec, now, interval.is_intraday());
    if let Some(first_trade) = first_trade {
        sessions.retain(|s| s.date >= first_trade);
    }
    sessions
}

/// The units of a window of sessions, in order: one per session, or for `1wk`/`1mo` one per
/// period that holds a session of the window, spanning every calendar session of that period
/// (also those outside the window: the provider's bar aggregates them all).
pub fn units(calendar: &Calendar, interval: Interval, sessions: &[Session]) -> Vec<Unit> {
    if !matches!(interval, Interval::W1 | Interval::Mo1) {
        return sessions.iter().map(Unit::session).collect();
    }
    let mut out: Vec<Unit> = Vec::new();
    let mut current: Option<Date> = None;
    for s in sessions {
        let (start, end) = period_bounds(interval, s.date);
        if current == Some(start) {
            continue;
        }
        current = Some(start);
        let all = calendar.sessions(start, end);
        let (Some(a), Some(b)) = (all.first(), all.last()) else {
            continue;
        };
        out.push(Unit {
            from: start,
            to: end,
            first: a.date,
            last: b.date,
            open: a.open,
            close: b.close,
        });
    }
    out
}

/// First and last day of the week (Monday to Sunday) or month that holds `d`.
pub fn period_bounds(interval: Interval, d: Date) -> (Date, Date) {
    if interval == Interval::W1 {
        let back = i64::from(d.weekday().to_monday_zero_offset());
        let monday = d
            .checked_sub(back.days())
            .expect("dates far inside jiff's range");
        (monday, monday.checked_add(6.days()).expect("valid date"))
    } else {
        (d.first_of_month(), d.last_of_month())
    }
}

/// The oldest instant the provider still serves at `now` for an interval with these limits,
/// with a safety margin; `None` when it keeps everything.
pub fn earliest(window: Window, now: Timestamp) -> Option<Timestamp> {
    window.lookback.map(|lb| now - lb + lookback_margin(lb))
}

/// [`earliest`] for a request sent `elapsed` after planning at `now`: the provider's edge moves
/// on meanwhile, and the request must still start at least half the safety margin inside what
/// the provider serves when it arrives. So the planned edge holds while `elapsed` is under half
/// the margin (no bar the plan counted on is given up), and moves on with the clock after that.
pub fn earliest_after(
    window: Window,
    now: Timestamp,
    elapsed: SignedDuration,
) -> Option<Timestamp> {
    window.lookback.map(|lb| {
        let margin = lookback_margin(lb);
        let moved = (elapsed - margin / 2).max(SignedDuration::ZERO);
        now - lb + margin + moved
    })
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

/// Where the unit stands (see the module docs). `earliest` comes from [`earliest`].
pub fn coverage(answered: &RangeSet, unit: &Unit, earliest: Option<Timestamp>) -> Coverage {
    let from = match earliest {
        Some(e) if e < unit.close => unit.open.max(e),
        _ => unit.open,
    };
    if TimeRange::new(from, unit.close).is_some_and(|span| answered.covers(&span)) {
        Coverage::Covered
    } else if earliest.is_some_and(|e| unit.close <= e) {
        Coverage::NotAvailable
    } else {
        Coverage::Missing
    }
}

/// What a daily answer shows about the sessions whose holidays the calendar does not know (see
/// [`closures`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Closures {
    /// Sessions learned as closed.
    pub closed: Vec<Date>,
    /// The open of the first session without a bar that the answer cannot decide: the symbol has
    /// not traded since (`meta.regular_market_time` is before its close), so the day may be a
    /// closure or trading the provider has not reported yet. The caller records the answer from
    /// there on as provisional, so a later run asks again and decides. Only for sessions closed
    /// less than [`UNDECIDED_FOR`] before `now`: a symbol silent for longer is suspended, and its
    /// empty sessions stay answered without a bar (no closure is learned from them).
    pub undecided_from: Option<Timestamp>,
}

/// How long after its close an empty session the symbol has not traded since stays undecided:
/// longer than any exchange closure run (a Golden Week is at most 9 calendar days).
pub const UNDECIDED_FOR: SignedDuration = SignedDuration::from_hours(24 * 14);

/// The closures a daily answer shows, on dates whose holidays the calendar does not know: all of
/// them for a calendar that learns its closures ([`Calendar::learns_closures`]), those after its
/// holiday tables end for a built-in one ([`Calendar::holidays_known`]). Such a session whose
/// date is not in `with_bars` (the dates the answer had a bar for), lying wholly inside one of
/// the final (not provisional) `answered` ranges and after the symbol's first trade, is closed
/// when the symbol traded after it (`meta.regular_market_time`), else undecided if it closed
/// less than [`UNDECIDED_FOR`] before `now`. Nothing for other intervals.
pub fn closures(
    calendar: &Calendar,
    interval: Interval,
    with_bars: &BTreeSet<Date>,
    answered: &[(TimeRange, bool)],
    meta: &SymbolMeta,
    now: Timestamp,
) -> Closures {
    let unknown = |d: Date| match calendar.holidays_known() {
        _ if calendar.learns_closures() => true,
        HolidaysKnown::Through(year) => d.year() > year,
        HolidaysKnown::Always | HolidaysKnown::Never => false,
    };
    let mut out = Closures::default();
    if interval != Interval::D1 {
        return out;
    }
    let tz = calendar.timezone();
    for (range, provisional) in answered {
        if *provisional {
            continue;
        }
        let from = range.start().to_zoned_datetime(tz.clone()).date();
        let to = range.end().to_zoned_datetime(tz.clone()).date();
        for s in calendar.sessions(from, to) {
            let inside = range.start() <= s.open && s.close <= range.end();
            let listed = meta.first_trade.is_some_and(|t| t <= s.open);
            if !(inside && listed && unknown(s.date)) || with_bars.contains(&s.date) {
                continue;
            }
            if meta.regular_market_time.is_some_and(|t| s.close <= t) {
                out.closed.push(s.date);
            } else if now < s.close + UNDECIDED_FOR {
                out.undecided_from = Some(out.undecided_from.map_or(s.open, |u| u.min(s.open)));
            }
        }
    }
    out
}

/// `answered` with every final range cut at `from`: what follows is provisional.
pub fn provisional_after(
    answered: Vec<(TimeRange, bool)>,
    from: Timestamp,
) -> Vec<(TimeRange, bool)> {
    let mut out = Vec::with_capacity(answered.len() + 1);
    for (range, provisional) in answered {
        if provisional || range.end() <= from {
            out.push((range, provisional));
        } else if range.start() >= from {
            out.push((range, true));
        } else {
            out.extend(TimeRange::new(range.start(), from).map(|r| (r, false)));
            out.extend(TimeRange::new(from, range.end()).map(|r| (r, true)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use backfill_calendar::Exchange;
    use backfill_domain::jiff::civil::date;

    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_late_request_keeps_the_planned_edge_for_half_the_margin() {
        let window = Window {
            max_span: None,
            lookback: Some(SignedDuration::from_hours(24 * 30)),
        };
        let now = ts("2025-02-05T15:00:00Z");
        let planned = earliest(window, now).unwrap();
        assert_eq!(planned, ts("2025-01-06T16:00:00Z"));
        let after = |mins: i64| earliest_after(window, now, SignedDuration::from_mins(mins));
        assert_eq!(after(0), Some(planned));
        assert_eq!(after(29), Some(planned), "within half the hour of margin");
        assert_eq!(after(45), Some(ts("2025-01-06T16:15:00Z")));
        let keeps_all = Window {
            max_span: None,
            lookback: None,
        };
        assert_eq!(
            earliest_after(keeps_all, now, SignedDuration::from_hours(5)),
            None
        );
    }

    #[test]
    fn weeks_and_months_span_every_session_of_the_period() {
        let cal = Calendar::new(Exchange::Xnys);
        // Wednesday 2024-07-03 to Tuesday 2024-07-09: two weeks, July 4th closed.
        let sessions = cal.sessions(date(2024, 7, 3), date(2024, 7, 9));
        let w = units(&cal, Interval::W1, &sessions);
        assert_eq!(w.len(), 2);
        assert_eq!(
            (w[0].first, w[0].last),
            (date(2024, 7, 1), date(2024, 7, 5))
        );
        assert_eq!(
            (w[1].first, w[1].last),
            (date(2024, 7, 8), date(2024, 7, 12))
        );
        assert_eq!(w[0].open, ts("2024-07-01T13:30:00Z"));
        assert_eq!(w[1].close, ts("2024-07-12T20:00:00Z"));
        let m = units(&cal, Interval::Mo1, &sessions);
        assert_eq!(m.len(), 1);
        assert_eq!(
            (m[0].first, m[0].last),
            (date(2024, 7, 1), date(2024, 7, 31))
        );
        let d = units(&cal, Interval::D1, &sessions);
        assert_eq!(d.len(), sessions.len());
    }

    #[test]
    fn lookback_edge_makes_old_units_not_available_not_missing() {
        let cal = Calendar::new(Exchange::Xnys);
        let sessions = cal.sessions(date(2024, 7, 1), date(2024, 7, 12));
        let u = units(&cal, Interval::M5, &sessions);
        let edge = ts("2024-07-09T15:00:00Z");
        let e = Some(edge);
        let nothing = RangeSet::new();
        assert_eq!(coverage(&nothing, &u[0], e), Coverage::NotAvailable);
        // The session straddling the edge is still missing until fetched from the edge on.
        let straddling = u.iter().find(|x| x.first == date(2024, 7, 9)).unwrap();
        assert_eq!(coverage(&nothing, straddling, e), Coverage::Missing);
        let from_edge: RangeSet = TimeRange::new(edge, ts("2024-07-10T00:00:00Z"))
            .unwrap()
            .into();
        assert_eq!(coverage(&from_edge, straddling, e), Coverage::Covered);
        // Without a lookback, nothing is ever "not available".
        assert_eq!(coverage(&nothing, &u[0], None), Coverage::Missing);
    }

    #[test]
    fn an_empty_weekday_of_a_learning_calendar_is_a_closure() {
        use backfill_domain::jiff::civil::time;
        use backfill_domain::jiff::tz::TimeZone;
        let tz = TimeZone::get("Pacific/Auckland").unwrap();
        let cal = Calendar::weekdays_in(tz, time(10, 0, 0, 0), time(16, 45, 0, 0));
        // Monday 2025-02-03 to Friday 2025-02-07, local days; Thursday 6th has no bar.
        let range = TimeRange::new(ts("2025-02-02T11:00:00Z"), ts("2025-02-07T11:00:00Z")).unwrap();
        let bars: BTreeSet<Date> = cal
            .sessions(date(2025, 2, 3), date(2025, 2, 7))
            .into_iter()
            .map(|s| s.date)
            .filter(|d| *d != date(2025, 2, 6))
            .collect();
        let meta = SymbolMeta {
            first_trade: Some(ts("2000-01-03T21:00:00Z")),
            regular_market_time: Some(ts("2025-02-10T03:45:00Z")),
            ..SymbolMeta::default()
        };
        let now = ts("2025-02-10T06:00:00Z");
        let closed = |answered: &[(TimeRange, bool)], iv| {
            closures(&cal, iv, &bars, answered, &meta, now).closed
        };
        assert_eq!(
            closed(&[(range, false)], Interval::D1),
            vec![date(2025, 2, 6)]
        );
        assert!(
            closed(&[(range, true)], Interval::D1).is_empty(),
            "provisional"
        );
        assert!(closed(&[(range, false)], Interval::W1).is_empty());
        // Not yet listed, or no trade since: not a closure.
        let young = SymbolMeta {
            first_trade: Some(ts("2025-02-07T00:00:00Z")),
            ..meta.clone()
        };
        assert!(
            closures(
                &cal,
                Interval::D1,
                &BTreeSet::new(),
                &[(range, false)],
                &young,
                now
            )
            .closed
            .iter()
            .all(|d| *d >= date(2025, 2, 7))
        );
        // No trade since the empty day: undecided, from its open on.
        let quiet = SymbolMeta {
            regular_market_time: Some(ts("2025-02-05T03:45:00Z")),
            ..meta.clone()
        };
        let bars_to_5th: BTreeSet<Date> = bars.range(..date(2025, 2, 6)).copied().collect();
        let c = closures(
            &cal,
            Interval::D1,
            &bars_to_5th,
            &[(range, false)],
            &quiet,
            now,
        );
        assert!(c.closed.is_empty(), "{c:?}");
        assert_eq!(c.undecided_from, Some(ts("2025-02-05T21:00:00Z")));
        // Silent for longer than any closure lasts: a suspension, left answered without a bar.
        let weeks_later = ts("2025-02-22T00:00:00Z");
        let c = closures(
            &cal,
            Interval::D1,
            &bars_to_5th,
            &[(range, false)],
            &quiet,
            weeks_later,
        );
        assert_eq!(c, Closures::default());
        let built_in = Calendar::new(Exchange::Xnys);
        assert_eq!(
            closures(
                &built_in,
                Interval::D1,
                &BTreeSet::new(),
                &[(range, false)],
                &meta,
                now
            ),
            Closures::default()
        );
    }

    #[test]
    fn provisional_after_cuts_final_ranges_only() {
        let r = |a: &str, b: &str| TimeRange::new(ts(a), ts(b)).unwrap();
        let answered = vec![
            (r("2025-02-01T00:00:00Z", "2025-02-03T00:00:00Z"), false),
            (r("2025-02-03T00:00:00Z", "2025-02-06T00:00:00Z"), false),
            (r("2025-02-06T00:00:00Z", "2025-02-07T00:00:00Z"), true),
        ];
        assert_eq!(
            provisional_after(answered, ts("2025-02-04T00:00:00Z")),
            vec![
                (r("2025-02-01T00:00:00Z", "2025-02-03T00:00:00Z"), false),
                (r("2025-02-03T00:00:00Z", "2025-02-04T00:00:00Z"), false),
                (r("2025-02-04T00:00:00Z", "2025-02-06T00:00:00Z"), true),
                (r("2025-02-06T00:00:00Z", "2025-02-07T00:00:00Z"), true),
            ]
        );
    }

    #[test]
    fn a_built_in_calendar_learns_closures_only_past_its_holiday_tables() {
        // Shanghai's tables end in 2026: an empty weekday of 2027 is learned, one of 2026 is not
        // (the calendar knows 2026's holidays, so an empty answer there is missing data).
        let cal = Calendar::new(Exchange::Xshg);
        assert_eq!(cal.holidays_known(), HolidaysKnown::Through(2026));
        let meta = SymbolMeta {
            first_trade: Some(ts("2001-08-27T01:30:00Z")),
            regular_market_time: Some(ts("2027-03-01T07:00:00Z")),
            ..SymbolMeta::default()
        };
        for (from, to, empty) in [
            (date(2027, 2, 1), date(2027, 2, 19), date(2027, 2, 10)),
            (date(2026, 3, 2), date(2026, 3, 13), date(2026, 3, 10)),
        ] {
            let sessions = cal.sessions(from, to);
            let range = TimeRange::new(sessions[0].open, sessions.last().unwrap().close).unwrap();
            let bars: BTreeSet<Date> = sessions
                .iter()
                .map(|s| s.date)
                .filter(|d| *d != empty)
                .collect();
            let closed = closures(
                &cal,
                Interval::D1,
                &bars,
                &[(range, false)],
                &meta,
                meta.regular_market_time.unwrap(),
            )
            .closed;
            if from.year() == 2027 {
                assert_eq!(closed, vec![empty]);
            } else {
                assert!(closed.is_empty(), "{closed:?}");
            }
        }
    }

    #[test]
    fn a_week_is_covered_only_through_its_last_close() {
        let cal = Calendar::new(Exchange::Xnys);
        let sessions = cal.sessions(date(2024, 7, 8), date(2024, 7, 9));
        let w = units(&cal, Interval::W1, &sessions)[0];
        let to_tuesday: RangeSet =
            TimeRange::new(ts("2024-07-08T04:00:00Z"), ts("2024-07-10T04:00:00Z"))
                .unwrap()
                .into();
        assert_eq!(coverage(&to_tuesday, &w, None), Coverage::Missing);
        let whole: RangeSet =
            TimeRange::new(ts("2024-07-08T04:00:00Z"), ts("2024-07-13T04:00:00Z"))
                .unwrap()
                .into();
        assert_eq!(coverage(&whole, &w, None), Coverage::Covered);
    }
}
