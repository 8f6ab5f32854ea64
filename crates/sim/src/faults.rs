//! Deliberate departures from a clean series: invalid bars on demand ([`BadBars`]) and Yahoo's
//! trailing "live" row after `period2` (spec §5.2, §5.6).
//!
//! Both are pure functions of `(seed, symbol, interval, ts, window, now)`, so the server and
//! [`Market`](crate::Market) agree on every byte.

use backfill_domain::{Bar, Interval, TimeRange};
use jiff::{SignedDuration, Timestamp, ToSpan};

use crate::market::{Profile, regular_market_time};
use crate::model::{hash, hash_str, round_price, unit};
use crate::series::bars_for;

/// High below `max(open, close)`.
pub(crate) const HIGH_BELOW: &str = "high_below_open_close";
/// Low above `min(open, close)`.
pub(crate) const LOW_ABOVE: &str = "low_above_open_close";
/// Close (and low) zero or negative.
pub(crate) const NON_POSITIVE: &str = "non_positive_price";
/// Volume below zero.
pub(crate) const NEGATIVE_VOLUME: &str = "negative_volume";
/// A daily bar stamped on the following Saturday 12:00 local, a day without a session.
pub(crate) const OFF_SESSION: &str = "off_session";

/// Which served bars are deliberately invalid.
#[derive(Debug, Clone, Default)]
pub(crate) struct BadBars {
    /// Fraction of every symbol's bars that are bad, in `[0, 1]`.
    pub rate: f64,
    /// Upper-cased symbols of which about one bar in ten is bad, whatever `rate` is.
    pub symbols: Vec<String>,
}

impl BadBars {
    pub(crate) fn new(rate: f64, symbols: Vec<String>) -> BadBars {
        let rate = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        let symbols = symbols
            .into_iter()
            .map(|s| match backfill_domain::Symbol::parse(&s) {
                Ok(sym) => sym.as_str().to_owned(),
                Err(_) => s.to_ascii_uppercase(),
            })
            .collect();
        BadBars { rate, symbols }
    }

    pub(crate) fn is_off(&self) -> bool {
        self.rate <= 0.0 && self.symbols.is_empty()
    }

    /// Whether the bar of `interval` starting at `ts` (its clean start) is bad.
    fn hits(&self, p: &Profile, iv: i64, ts: Timestamp) -> bool {
        let k = ts.as_second();
        let by_rate = self.rate > 0.0 && unit(hash(p.key, &[700, iv, k])) < self.rate;
        let by_symbol = self.symbols.iter().any(|s| s == p.symbol.as_str())
            && hash(p.key, &[701, iv, k]).is_multiple_of(10);
        by_rate || by_symbol
    }

    /// Corrupts the bad bars of a clean series in place and lists them as `(served ts, rule)`.
    ///
    /// The choice of bar and kind depends on `(seed, symbol, interval, clean ts)` only, except
    /// that [`OFF_SESSION`] falls back to another kind when the moved stamp would leave the
    /// window, pass `now`, land on a session or not stay before the next bar.
    pub(crate) fn apply(
        &self,
        p: &Profile,
        interval: Interval,
        range: TimeRange,
        now: Timestamp,
        bars: &mut [Bar],
    ) -> Vec<(Timestamp, &'static str)> {
        if self.is_off() {
            return Vec::new();
        }
        let iv = hash_str(interval.as_str()) as i64;
        let mut out = Vec::new();
        for i in 0..bars.len() {
            let clean_ts = bars[i].ts;
            if !self.hits(p, iv, clean_ts) {
                continue;
            }
            let next = bars.get(i + 1).map(|b| b.ts);
            let h = hash(p.key, &[702, iv, clean_ts.as_second()]);
            let kinds = if interval == Interval::D1 { 5 } else { 4 };
            let mut kind = h % kinds;
            let moved = (kind == 4)
                .then(|| off_session_stamp(p, &bars[i], range, now, next))
                .flatten();
            if kind == 4 && moved.is_none() {
                kind = (h >> 8) % 4;
            }
            let b = &mut bars[i];
            let rule = match kind {
                0 => {
                    let top = b.open.max(b.close);
                    let mut high = round_price(b.low + 0.5 * (top - b.low));
                    if high >= top {
                        high = round_price(top * 0.99);
                    }
                    b.high = high;
                    HIGH_BELOW
                }
                1 => {
                    let bottom = b.open.min(b.close);
                    let mut low = round_price(b.high - 0.5 * (b.high - bottom));
                    if low <= bottom {
                        low = round_price(bottom * 1.01);
                    }
                    b.low = low;
                    LOW_ABOVE
                }
                2 => {
                    let close = if (h >> 20) & 1 == 0 { 0.0 } else { -b.close };
                    b.close = close;
                    b.low = b.low.min(close);
                    b.adj_close = b.adj_close.map(|_| close);
                    NON_POSITIVE
                }
                3 => {
                    b.volume = -b.volume.max(1);
                    NEGATIVE_VOLUME
                }
                _ => {
                    let (ts, date) = moved.expect("kind 4 only with a stamp");
                    b.ts = ts;
                    b.date = date;
                    OFF_SESSION
                }
            };
            out.push((bars[i].ts, rule));
        }
        out
    }
}

/// Saturday 12:00 local after the bar's session, when that is a day without a session, inside the
/// window, not after `now` and before the next bar.
fn off_session_stamp(
    p: &Profile,
    b: &Bar,
    range: TimeRange,
    now: Timestamp,
    next: Option<Timestamp>,
) -> Option<(Timestamp, jiff::civil::Date)> {
    let ahead = 5 - i64::from(b.date.weekday().to_monday_zero_offset());
    let ahead = if ahead <= 0 { ahead + 7 } else { ahead };
    let sat = b.date.checked_add(ahead.days()).ok()?;
    if p.calendar.is_session(sat) {
        return None;
    }
    let ts = sat
        .at(12, 0, 0, 0)
        .to_zoned_datetime(p.calendar.timezone().clone())
        .ok()?
        .timestamp();
    let fits = ts > b.ts && ts < range.end() && ts <= now && next.is_none_or(|n| ts < n);
    fits.then_some((ts, sat))
}

/// Yahoo's trailing live row for a window ending before `now`: one row stamped at
/// `regularMarketTime` rounded down to the minute (that is `now` while a session is open, its
/// close after it), O=H=L=C at the latest price, volume 0. Only for intraday and daily
/// intervals, only when `now > period2` and today's session has opened by `now`, and only when
/// the stamp is at or after `period2` (a correct client drops it).
pub(crate) fn live_row(
    p: &Profile,
    interval: Interval,
    range: TimeRange,
    now: Timestamp,
) -> Option<Bar> {
    if !(interval.is_intraday() || interval == Interval::D1) || now <= range.end() {
        return None;
    }
    let session = p.calendar.open_session_at(now).or_else(|| {
        let today = now.to_zoned_datetime(p.calendar.timezone().clone()).date();
        p.calendar.session(today).filter(|s| s.open <= now)
    })?;
    if session.open < p.first_open {
        return None;
    }
    let last = regular_market_time(p, now).as_second();
    let stamp = Timestamp::from_second(last - last.rem_euclid(60)).ok()?;
    if stamp < range.end() {
        return None;
    }
    let day = TimeRange::new(session.open, session.open + SignedDuration::from_secs(1))?;
    let price = bars_for(p, Interval::D1, day, now).first()?.close;
    Some(Bar {
        ts: stamp,
        date: session.date,
        open: price,
        high: price,
        low: price,
        close: price,
        adj_close: (interval == Interval::D1).then_some(price),
        volume: 0,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use backfill_domain::Symbol;
    use jiff::civil::Weekday;

    use super::*;
    use crate::Market;

    fn sym(s: &str) -> Symbol {
        Symbol::parse(s).unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn range(a: &str, b: &str) -> TimeRange {
        TimeRange::new(ts(a), ts(b)).unwrap()
    }

    /// Whether `b` breaks `rule`, judged from the bar alone (and the calendar for `off_session`).
    fn breaks(m: &Market, symbol: &Symbol, rule: &str, b: &Bar) -> bool {
        match rule {
            HIGH_BELOW => b.high < b.open.max(b.close),
            LOW_ABOVE => b.low > b.open.min(b.close),
            NON_POSITIVE => b.close <= 0.0,
            NEGATIVE_VOLUME => b.volume < 0,
            OFF_SESSION => {
                let p = m.profile(symbol).unwrap();
                let local = b.ts.to_zoned_datetime(p.calendar.timezone().clone());
                local.weekday() == Weekday::Saturday
                    && local.hour() == 12
                    && local.date() == b.date
                    && !p.calendar.is_session(local.date())
            }
            _ => false,
        }
    }

    fn valid(b: &Bar) -> bool {
        b.high >= b.open.max(b.close)
            && b.low <= b.open.min(b.close)
            && b.low > 0.0
            && b.volume >= 0
    }

    #[test]
    fn every_bar_bad_at_rate_one_breaks_its_listed_rule() {
        let m = Market::new(42).with_bad_bars(1.0, Vec::new());
        let clean = Market::new(42);
        let now = ts("2025-06-02T12:00:00Z");
        let msft = sym("MSFT");
        let r = range("2023-01-01T00:00:00Z", "2024-01-01T00:00:00Z");
        let bars = m.bars(&msft, Interval::D1, r, now);
        let bad = m.bad_bars(&msft, Interval::D1, r, now);
        assert_eq!(bars.len(), clean.bars(&msft, Interval::D1, r, now).len());
        assert_eq!(bad.len(), bars.len());
        let mut rules = BTreeSet::new();
        for ((t, rule), b) in bad.iter().zip(&bars) {
            assert_eq!(*t, b.ts);
            assert!(breaks(&m, &msft, rule, b), "{rule} not broken by {b:?}");
            assert!(r.contains(b.ts) && b.ts <= now);
            assert!(b.open.is_finite() && b.high.is_finite() && b.low.is_finite());
            rules.insert(*rule);
        }
        assert_eq!(
            rules,
            BTreeSet::from([
                HIGH_BELOW,
                LOW_ABOVE,
                NON_POSITIVE,
                NEGATIVE_VOLUME,
                OFF_SESSION
            ])
        );
        assert!(
            bars.windows(2).all(|w| w[0].ts < w[1].ts),
            "stamps increase"
        );
        // Intraday bars never move off their session.
        let r5 = range("2025-05-20T00:00:00Z", "2025-05-24T00:00:00Z");
        let bad5 = m.bad_bars(&msft, Interval::M5, r5, now);
        assert_eq!(bad5.len(), 4 * 78);
        assert!(bad5.iter().all(|(_, rule)| *rule != OFF_SESSION));
        let bars5 = m.bars(&msft, Interval::M5, r5, now);
        for ((_, rule), b) in bad5.iter().zip(&bars5) {
            assert!(breaks(&m, &msft, rule, b), "{rule} not broken by {b:?}");
        }
    }

    #[test]
    fn off_session_falls_back_where_the_saturday_is_outside_the_window() {
        let m = Market::new(42).with_bad_bars(1.0, Vec::new());
        let now = ts("2025-06-02T12:00:00Z");
        let msft = sym("MSFT");
        // Ends Friday night: no Saturday fits, so no bar can be off_session.
        let r = range("2023-01-01T00:00:00Z", "2024-05-04T00:00:00Z");
        let bad = m.bad_bars(&msft, Interval::D1, r, now);
        let last = bad.last().unwrap();
        assert_eq!(last.0, ts("2024-05-03T13:30:00Z"));
        assert_ne!(last.1, OFF_SESSION);
        // Crypto trades on Saturdays: never off_session.
        let btc = sym("BTC-USD");
        assert!(
            m.bad_bars(&btc, Interval::D1, r, now)
                .iter()
                .all(|(_, rule)| *rule != OFF_SESSION)
        );
    }

    #[test]
    fn the_rate_is_roughly_honoured_and_stable_across_windows() {
        let m = Market::new(42).with_bad_bars(0.1, Vec::new());
        let now = ts("2025-06-02T12:00:00Z");
        let msft = sym("MSFT");
        let r = range("2015-01-01T00:00:00Z", "2022-12-13T00:00:00Z");
        let bars = m.bars(&msft, Interval::D1, r, now);
        let bad = m.bad_bars(&msft, Interval::D1, r, now);
        assert!((1990..2010).contains(&bars.len()), "{}", bars.len());
        assert!((150..250).contains(&bad.len()), "{} bad bars", bad.len());
        let listed: BTreeSet<_> = bad.iter().map(|(t, _)| *t).collect();
        for b in &bars {
            let ok = valid(b) && !breaks(&m, &msft, OFF_SESSION, b);
            assert_eq!(listed.contains(&b.ts), !ok, "{b:?}");
        }
        // A sub-window sees the same bars bad the same way (off_session aside, which can fall back).
        let sub = range("2018-01-01T00:00:00Z", "2018-07-01T00:00:00Z");
        let inner: Vec<_> = bad
            .iter()
            .filter(|(t, rule)| sub.contains(*t) && *rule != OFF_SESSION)
            .copied()
            .collect();
        let again: Vec<_> = m
            .bad_bars(&msft, Interval::D1, sub, now)
            .into_iter()
            .filter(|(_, rule)| *rule != OFF_SESSION)
            .collect();
        assert!(!inner.is_empty());
        assert_eq!(inner, again);
    }

    #[test]
    fn bad_symbols_target_only_those_symbols() {
        let m = Market::new(42).with_bad_bars(0.0, vec!["nvda".into()]);
        let clean = Market::new(42);
        let now = ts("2025-06-02T12:00:00Z");
        let r = range("2020-01-01T00:00:00Z", "2024-01-01T00:00:00Z");
        for s in ["MSFT", "AAPL", "OCDO.L", "BTC-USD"] {
            let s = sym(s);
            assert!(m.bad_bars(&s, Interval::D1, r, now).is_empty());
            assert_eq!(
                m.bars(&s, Interval::D1, r, now),
                clean.bars(&s, Interval::D1, r, now)
            );
        }
        let nvda = sym("NVDA");
        let bars = m.bars(&nvda, Interval::D1, r, now);
        let bad = m.bad_bars(&nvda, Interval::D1, r, now);
        let share = bad.len() as f64 / bars.len() as f64;
        assert!((0.07..0.13).contains(&share), "share {share}");
        assert_ne!(bars, clean.bars(&nvda, Interval::D1, r, now));
    }

    #[test]
    fn defaults_serve_the_clean_series_and_body() {
        let now = ts("2025-06-03T15:00:00Z");
        let knobs_off = Market::new(42)
            .with_bad_bars(0.0, Vec::new())
            .with_live_row(false);
        let plain = Market::new(42);
        let r = range("2025-05-01T00:00:00Z", "2025-06-03T00:00:00Z");
        for s in ["MSFT", "7203.T", "EURUSD=X"] {
            for iv in [Interval::D1, Interval::H1, Interval::W1] {
                assert_eq!(
                    knobs_off.bars(&sym(s), iv, r, now),
                    plain.bars(&sym(s), iv, r, now)
                );
                assert!(knobs_off.bad_bars(&sym(s), iv, r, now).is_empty());
                assert!(knobs_off.live_row(&sym(s), iv, r, now).is_none());
            }
        }
    }
}
