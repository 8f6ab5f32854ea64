//! Checks every fetched batch before it is committed. Nothing is repaired: violations are counted
//! per ticker, recorded for `check`, and the rows are either stored as they came (flagged in the
//! store's metadata) or dropped, as the user chooses.

use std::fmt;

use backfill_calendar::Calendar;
use backfill_domain::jiff::Timestamp;
use backfill_domain::jiff::civil::Date;
use backfill_domain::{Bar, Interval};
use serde::{Deserialize, Serialize};

/// What is wrong with a bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// `high` is below `open` or `close`.
    HighBelowOpenClose,
    /// `low` is above `open` or `close`.
    LowAboveOpenClose,
    /// A price is zero or negative.
    NonPositivePrice,
    /// A price is infinite or not a number.
    NonFinitePrice,
    /// `volume` is negative.
    NegativeVolume,
    /// The bar's date is not a session of the exchange's calendar.
    OffSession,
    /// An intraday bar starts outside its session's regular hours (or inside its lunch break).
    OutsideHours,
    /// The bar does not start after the previous one.
    NotIncreasing,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::HighBelowOpenClose => "high_below_open_close",
            Rule::LowAboveOpenClose => "low_above_open_close",
            Rule::NonPositivePrice => "non_positive_price",
            Rule::NonFinitePrice => "non_finite_price",
            Rule::NegativeVolume => "negative_volume",
            Rule::OffSession => "off_session",
            Rule::OutsideHours => "outside_hours",
            Rule::NotIncreasing => "not_increasing",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One bar that broke a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub ts: Timestamp,
    pub date: Date,
    pub rule: Rule,
}

/// What to do with bars that break a rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InvalidBars {
    /// Store them as they came and record them as flagged (the default: nothing is lost, and
    /// `check` lists them).
    #[default]
    Keep,
    /// Leave them out of the store (they are still counted and recorded).
    Drop,
}

/// The first rule a bar breaks, if any. `prev` is the previous bar's start.
fn check(
    bar: &Bar,
    prev: Option<Timestamp>,
    interval: Interval,
    calendar: &Calendar,
) -> Option<Rule> {
    let prices = [bar.open, bar.high, bar.low, bar.close];
    if prices
        .iter()
        .chain(bar.adj_close.as_ref())
        .any(|p| !p.is_finite())
    {
        return Some(Rule::NonFinitePrice);
    }
    if prices.iter().any(|p| *p <= 0.0) {
        return Some(Rule::NonPositivePrice);
    }
    if bar.high < bar.open.max(bar.close) {
        return Some(Rule::HighBelowOpenClose);
    }
    if bar.low > bar.open.min(bar.close) {
        return Some(Rule::LowAboveOpenClose);
    }
    if bar.volume < 0 {
        return Some(Rule::NegativeVolume);
    }
    if prev.is_some_and(|p| bar.ts <= p) {
        return Some(Rule::NotIncreasing);
    }
    // Weekly and monthly bars are stamped at the start of their period, which need not be a session.
    if matches!(interval, Interval::W1 | Interval::Mo1) {
        return None;
    }
    let Some(session) = calendar.session(bar.date) else {
        return Some(Rule::OffSession);
    };
    if interval.is_intraday() {
        let in_break = session
            .break_
            .is_some_and(|(a, b)| a <= bar.ts && bar.ts < b);
        if bar.ts < session.open || bar.ts >= session.close || in_break {
            return Some(Rule::OutsideHours);
        }
    }
    None
}

/// Every violation in a batch (sorted by `ts`, as providers return it), one per offending bar.
pub fn validate(bars: &[Bar], interval: Interval, calendar: &Calendar) -> Vec<Violation> {
    let mut prev = None;
    let mut out = Vec::new();
    for bar in bars {
        if let Some(rule) = check(bar, prev, interval, calendar) {
            out.push(Violation {
                ts: bar.ts,
                date: bar.date,
                rule,
            });
        }
        prev = Some(prev.map_or(bar.ts, |p: Timestamp| p.max(bar.ts)));
    }
    out
}

#[cfg(test)]
mod tests {
    use backfill_calendar::Exchange;
    use backfill_domain::jiff::civil::date;

    use super::*;

    #[expect(
        clippy::many_single_char_names,
        reason = "OHLCV reads best as o h l c v in a table of cases"
    )]
    fn bar(ts: &str, d: Date, o: f64, h: f64, l: f64, c: f64, v: i64) -> Bar {
        Bar {
            ts: ts.parse().unwrap(),
            date: d,
            open: o,
            high: h,
            low: l,
            close: c,
            adj_close: Some(c),
            volume: v,
        }
    }

    #[test]
    fn each_rule_is_caught_and_good_bars_pass() {
        let cal = Calendar::new(Exchange::Xnys);
        let d1 = date(2024, 7, 1);
        let d2 = date(2024, 7, 2);
        let good = bar("2024-07-01T13:30:00Z", d1, 10.0, 11.0, 9.0, 10.5, 100);
        assert!(validate(&[good], Interval::D1, &cal).is_empty());
        let cases = [
            (
                bar("2024-07-02T13:30:00Z", d2, 10.0, 9.5, 9.0, 10.5, 100),
                Rule::HighBelowOpenClose,
            ),
            (
                bar("2024-07-02T13:30:00Z", d2, 10.0, 11.0, 10.2, 10.5, 100),
                Rule::LowAboveOpenClose,
            ),
            (
                bar("2024-07-02T13:30:00Z", d2, 10.0, 11.0, 9.0, 0.0, 100),
                Rule::NonPositivePrice,
            ),
            (
                bar("2024-07-02T13:30:00Z", d2, f64::NAN, 11.0, 9.0, 10.0, 100),
                Rule::NonFinitePrice,
            ),
            (
                bar("2024-07-02T13:30:00Z", d2, 10.0, 11.0, 9.0, 10.5, -1),
                Rule::NegativeVolume,
            ),
            (
                bar("2024-07-01T13:30:00Z", d1, 10.0, 11.0, 9.0, 10.5, 100),
                Rule::NotIncreasing,
            ),
            // Independence Day and a Saturday are not sessions.
            (
                bar(
                    "2024-07-04T13:30:00Z",
                    date(2024, 7, 4),
                    10.0,
                    11.0,
                    9.0,
                    10.5,
                    100,
                ),
                Rule::OffSession,
            ),
            (
                bar(
                    "2024-07-06T16:00:00Z",
                    date(2024, 7, 6),
                    10.0,
                    11.0,
                    9.0,
                    10.5,
                    100,
                ),
                Rule::OffSession,
            ),
        ];
        for (b, rule) in cases {
            let v = validate(&[good, b], Interval::D1, &cal);
            assert_eq!(
                v.iter().map(|v| v.rule).collect::<Vec<_>>(),
                vec![rule],
                "{b:?}"
            );
            assert_eq!(v[0].ts, b.ts);
        }
    }

    #[test]
    fn intraday_bars_must_fall_inside_regular_hours_and_outside_breaks() {
        let nyse = Calendar::new(Exchange::Xnys);
        let d = date(2024, 7, 1);
        let ok = bar("2024-07-01T19:59:00Z", d, 1.0, 1.0, 1.0, 1.0, 0);
        let closing_print = bar("2024-07-01T20:00:00Z", d, 1.0, 1.0, 1.0, 1.0, 0);
        let v = validate(&[ok, closing_print], Interval::M1, &nyse);
        assert_eq!(
            v.iter().map(|v| (v.ts, v.rule)).collect::<Vec<_>>(),
            vec![(closing_print.ts, Rule::OutsideHours)]
        );

        let tokyo = Calendar::new(Exchange::Xtks);
        let lunch = bar("2024-07-01T03:00:00Z", d, 1.0, 1.0, 1.0, 1.0, 0); // 12:00 Tokyo
        assert_eq!(
            validate(&[lunch], Interval::M5, &tokyo)[0].rule,
            Rule::OutsideHours
        );
    }
}
