//! Bar series and actions of one symbol: sessions in a window, the partial session in progress,
//! intraday slots, weekly and monthly aggregation, and the events Yahoo reports.

use backfill_calendar::Session;
use backfill_domain::{Action, ActionKind, Bar, Interval, TimeRange};
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp, ToSpan};

use crate::market::{DIVIDEND_FACTOR, Profile};
use crate::model::{RawBar, day_number, hash, intraday_price, round_price, unit};

/// Sessions whose open could fall in `[from, to)` and that have started by `now`.
fn sessions_in(p: &Profile, from: Timestamp, to: Timestamp, now: Timestamp) -> Vec<Session> {
    let tz = p.calendar.timezone().clone();
    let from = from.max(p.first_open);
    let to = to.min(now + SignedDuration::from_secs(1));
    if from >= to {
        return Vec::new();
    }
    let d0 = from.to_zoned_datetime(tz.clone()).date().yesterday();
    let d1 = to.to_zoned_datetime(tz).date();
    let Ok(d0) = d0 else { return Vec::new() };
    p.calendar
        .sessions(d0, d1)
        .into_iter()
        .filter(|s| s.open >= p.first_open && s.open <= now)
        .collect()
}

/// The (possibly partial) raw daily bar of a session at `now`.
fn session_bar(p: &Profile, s: &Session, now: Timestamp) -> RawBar {
    let full = p.raw_daily(s.date);
    if now >= s.close {
        return full;
    }
    let f = fraction(s, now);
    let close = intraday_price(p.key, day_number(s.date), &full, f);
    let open = full.open;
    RawBar {
        open,
        high: open.max(close) + f * (full.high - full.open.max(full.close)).max(0.0),
        low: open.min(close) - f * (full.open.min(full.close) - full.low).max(0.0),
        close,
        volume: full.volume * f,
    }
}

/// How far `t` is into the session's regular hours, in `[0, 1]`.
fn fraction(s: &Session, t: Timestamp) -> f64 {
    let total = s.close.duration_since(s.open).as_secs_f64();
    let done = t.duration_since(s.open).as_secs_f64();
    (done / total).clamp(0.0, 1.0)
}

fn daily_bars(p: &Profile, from: Timestamp, to: Timestamp, now: Timestamp) -> Vec<Bar> {
    let adjust = p.adjust(now);
    sessions_in(p, from, to, now)
        .iter()
        .filter(|s| from <= s.open && s.open < to)
        .map(|s| adjust.bar(s.open, s.date, &session_bar(p, s, now), true))
        .collect()
}

fn intraday_bars(
    p: &Profile,
    width: SignedDuration,
    from: Timestamp,
    to: Timestamp,
    now: Timestamp,
) -> Vec<Bar> {
    let adjust = p.adjust(now);
    let mut out = Vec::new();
    let day_start = from
        .checked_sub(SignedDuration::from_hours(30))
        .unwrap_or(from);
    for s in sessions_in(p, day_start, to, now) {
        let full = p.raw_daily(s.date);
        let day = day_number(s.date);
        let total = s.close.duration_since(s.open).as_secs_f64();
        let mut t = s.open;
        while t < s.close {
            let next = t + width;
            let in_break = s.break_.is_some_and(|(b0, b1)| b0 <= t && t < b1);
            if !in_break && from <= t && t < to && t <= now {
                let f0 = fraction(&s, t);
                let f1 = fraction(&s, next);
                let open = intraday_price(p.key, day, &full, f0);
                let close = intraday_price(p.key, day, &full, f1);
                let k = t.as_second();
                let high = open.max(close)
                    * (1.0 + 0.002 * p.vol_pct * 50.0 * unit(hash(p.key, &[600, k])));
                let low = open.min(close)
                    * (1.0 - 0.002 * p.vol_pct * 50.0 * unit(hash(p.key, &[601, k])));
                let share = width.as_secs_f64() / total;
                let volume = full.volume * share * (0.5 + unit(hash(p.key, &[602, k])));
                let raw = RawBar {
                    open,
                    high,
                    low,
                    close,
                    volume,
                };
                out.push(adjust.bar(t, s.date, &raw, false));
            }
            if t >= to || t > now {
                break;
            }
            t = next;
        }
    }
    out
}

/// The first day of the week (Monday) or month containing `d`.
fn period_start(interval: Interval, d: Date) -> Date {
    if interval == Interval::W1 {
        let back = i64::from(d.weekday().to_monday_zero_offset());
        d.checked_sub(back.days()).expect("valid date")
    } else {
        d.first_of_month()
    }
}

fn coarse_bars(
    p: &Profile,
    interval: Interval,
    from: Timestamp,
    to: Timestamp,
    now: Timestamp,
) -> Vec<Bar> {
    let margin = SignedDuration::from_hours(24 * 40);
    let lo = from.checked_sub(margin).unwrap_or(from);
    let hi = to.checked_add(margin).unwrap_or(to);
    let days = daily_bars(p, lo, hi, now);
    let mut out: Vec<Bar> = Vec::new();
    let mut current: Option<Date> = None;
    for b in days {
        let start = period_start(interval, b.date);
        match out.last_mut() {
            Some(agg) if current == Some(start) => {
                agg.high = agg.high.max(b.high);
                agg.low = agg.low.min(b.low);
                agg.close = b.close;
                agg.adj_close = b.adj_close;
                agg.volume += b.volume;
            }
            _ => {
                current = Some(start);
                out.push(b);
            }
        }
    }
    out.retain(|b| from <= b.ts && b.ts < to);
    out
}

/// The containing bar start for coarse intervals, used as the key of Yahoo's event maps.
pub(crate) fn coarse_key(p: &Profile, interval: Interval, d: Date) -> Option<Timestamp> {
    let start = period_start(interval, d);
    p.session_on_or_after(start).map(|s| s.open)
}

pub(crate) fn bars_for(
    p: &Profile,
    interval: Interval,
    range: TimeRange,
    now: Timestamp,
) -> Vec<Bar> {
    let (from, to) = (range.start(), range.end());
    match interval.fixed_duration() {
        Some(width) => intraday_bars(p, width, from, to, now),
        None if interval == Interval::D1 => daily_bars(p, from, to, now),
        None => coarse_bars(p, interval, from, to, now),
    }
}

pub(crate) fn actions_for(p: &Profile, range: TimeRange, now: Timestamp) -> Vec<Action> {
    let factor = p.adjust(now).factor;
    let mut out = Vec::new();
    for s in p.all_splits() {
        if s.ts <= now && range.contains(s.ts) {
            out.push(Action {
                ts: s.ts,
                date: s.date,
                kind: ActionKind::Split {
                    numerator: s.numerator,
                    denominator: s.denominator,
                },
            });
        }
    }
    let tz = p.calendar.timezone().clone();
    let from = range.start().to_zoned_datetime(tz.clone()).date();
    let from = from.checked_sub(16.days()).unwrap_or(from);
    let to = range.end().to_zoned_datetime(tz).date();
    for s in p.dividend_sessions(now, from, to) {
        if range.contains(s.open) {
            let price = p.raw_daily(s.date).open / factor;
            out.push(Action {
                ts: s.open,
                date: s.date,
                kind: ActionKind::Dividend {
                    amount: round_price(price * (1.0 - DIVIDEND_FACTOR)),
                    currency: None,
                },
            });
        }
    }
    for s in p.capital_gain_sessions(now) {
        if range.contains(s.open) {
            let price = p.raw_daily(s.date).open / factor;
            out.push(Action {
                ts: s.open,
                date: s.date,
                kind: ActionKind::CapitalGain {
                    amount: round_price(price * 0.01),
                },
            });
        }
    }
    out.sort_by_key(|a| a.ts);
    out
}
