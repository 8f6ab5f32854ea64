//! The adjustment basis of a bars file: which splits its prices reflect and, for daily and coarser
//! bars, which dividends its `adj_close` reflects.
//!
//! Yahoo serves prices split-adjusted (and `adj_close` dividend-adjusted) as of the moment you ask,
//! so a bar fetched before a split and one fetched after it are on different bases. Every bars file
//! the store writes records its basis in the Parquet footer (key-value `backfill.basis`, JSON). The
//! record lives inside the file it describes, so it is replaced in the same write as the prices: a
//! crash leaves each file with prices and record that agree, and re-basing a file that already
//! records a split is a no-op. That makes re-basing idempotent and crash-safe file by file; the
//! multi-file commit of [`Store::rebase_bars`](crate::Store::rebase_bars) adds that readers
//! through the store see a series wholly on one basis.
//!
//! A file written before basis records existed (no key) is taken to be on the basis of the
//! symbol's stored actions; the engine commits new actions only after every stored series of the
//! symbol is on their basis, so that reading stays true.

use std::collections::{BTreeMap, BTreeSet};

use backfill_domain::{Action, ActionKind, Bar};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// Footer key of the basis record.
pub(crate) const BASIS_KEY: &str = "backfill.basis";

/// A split as a basis records it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BasisSplit {
    /// The ex-date instant: bars starting before it are divided by the ratio.
    pub ts: Timestamp,
    /// The ex-session's date.
    pub date: Date,
    /// New shares per `denominator` old ones.
    pub numerator: f64,
    pub denominator: f64,
}

impl BasisSplit {
    /// `numerator / denominator`; 1 (no effect) when that is not a positive finite number.
    pub fn ratio(&self) -> f64 {
        let r = self.numerator / self.denominator;
        if r.is_finite() && r > 0.0 { r } else { 1.0 }
    }

    fn same(&self, other: &BasisSplit) -> bool {
        self.date == other.date && self.ratio().to_bits() == other.ratio().to_bits()
    }
}

/// The splits and dividends a set of bars is adjusted for. Built from a symbol's actions with
/// [`Basis::from_actions`]; the default is "no split, no dividend".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Basis {
    /// Splits, sorted by `ts`, at most one per ex-date.
    pub splits: Vec<BasisSplit>,
    /// Ex-dividend instants, sorted, unique.
    pub dividends: Vec<Timestamp>,
}

impl Basis {
    /// The basis of bars fetched when the provider's actions are `actions`: every split and
    /// every dividend in the list (capital gains do not change prices). For two splits on the
    /// same date, the later in the list wins.
    pub fn from_actions<'a>(actions: impl IntoIterator<Item = &'a Action>) -> Basis {
        Basis::default().with_actions(actions)
    }

    /// This basis plus the splits and dividends in `actions` (a split on a date this basis has
    /// takes the new ratio).
    #[must_use]
    pub fn with_actions<'a>(&self, actions: impl IntoIterator<Item = &'a Action>) -> Basis {
        let mut splits: BTreeMap<Date, BasisSplit> =
            self.splits.iter().map(|s| (s.date, *s)).collect();
        let mut dividends: BTreeSet<Timestamp> = self.dividends.iter().copied().collect();
        for a in actions {
            match a.kind {
                ActionKind::Split {
                    numerator,
                    denominator,
                } => {
                    splits.insert(
                        a.date,
                        BasisSplit {
                            ts: a.ts,
                            date: a.date,
                            numerator,
                            denominator,
                        },
                    );
                }
                ActionKind::Dividend { .. } => {
                    dividends.insert(a.ts);
                }
                ActionKind::CapitalGain { .. } => {}
            }
        }
        let mut splits: Vec<BasisSplit> = splits.into_values().collect();
        splits.sort_by_key(|s| s.ts);
        let dividends: Vec<Timestamp> = dividends.into_iter().collect();
        Basis { splits, dividends }
    }

    /// Product of the ratios of the splits after `ts`: how many times a bar starting at `ts` has
    /// been divided to reach this basis from the unadjusted price.
    fn cumulative(&self, ts: Timestamp) -> f64 {
        self.splits
            .iter()
            .filter(|s| s.ts > ts)
            .map(BasisSplit::ratio)
            .product()
    }

    /// Whether bars starting at or after `from` have different prices on `self` and on `other`
    /// (a split after `from` that only one of them has, or with another ratio), or, when
    /// `with_dividends`, a different `adj_close` (a dividend after `from` that only one has).
    pub fn differs_after(&self, other: &Basis, from: Timestamp, with_dividends: bool) -> bool {
        let splits = |b: &Basis| -> Vec<BasisSplit> {
            b.splits.iter().filter(|s| s.ts > from).copied().collect()
        };
        let (mine, theirs) = (splits(self), splits(other));
        if mine.len() != theirs.len() || mine.iter().zip(&theirs).any(|(a, b)| !a.same(b)) {
            return true;
        }
        if with_dividends {
            let after = |b: &Basis| -> Vec<Timestamp> {
                b.dividends.iter().filter(|d| **d > from).copied().collect()
            };
            return after(self) != after(other);
        }
        false
    }

    /// Splits in `self` that `other` lacks (or has with another ratio), oldest first.
    pub fn splits_missing_from(&self, other: &Basis) -> Vec<BasisSplit> {
        self.splits
            .iter()
            .filter(|s| !other.splits.iter().any(|o| o.same(s)))
            .copied()
            .collect()
    }

    /// Dividends in `self` that `other` lacks.
    pub fn dividends_missing_from(&self, other: &Basis) -> Vec<Timestamp> {
        self.dividends
            .iter()
            .filter(|d| !other.dividends.contains(d))
            .copied()
            .collect()
    }

    /// Moves a bar from basis `from` to `self`: prices (and `adj_close`) are divided, volume is
    /// multiplied, by the ratio of the splits after the bar that `self` has and `from` lacks
    /// (a split `from` has and `self` lacks, or a changed ratio, is undone the same way).
    /// Returns whether the bar changed.
    pub fn rebase(&self, bar: &mut Bar, from: &Basis) -> bool {
        let factor = self.cumulative(bar.ts) / from.cumulative(bar.ts);
        if factor.to_bits() == 1f64.to_bits() || !factor.is_finite() || factor <= 0.0 {
            return false;
        }
        bar.open /= factor;
        bar.high /= factor;
        bar.low /= factor;
        bar.close /= factor;
        bar.adj_close = bar.adj_close.map(|a| a / factor);
        bar.volume = (bar.volume as f64 * factor).round() as i64;
        true
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a basis serialises")
    }

    pub(crate) fn from_json(s: &str) -> Result<Basis, String> {
        serde_json::from_str(s).map_err(|e| format!("its `{BASIS_KEY}` record is invalid: {e}"))
    }
}

#[cfg(test)]
#[expect(clippy::float_cmp, reason = "division by exact ratios is exact here")]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn split(day: &str, numerator: f64, denominator: f64) -> Action {
        Action {
            ts: ts(&format!("{day}T14:30:00Z")),
            date: day.parse().unwrap(),
            kind: ActionKind::Split {
                numerator,
                denominator,
            },
        }
    }

    fn dividend(day: &str) -> Action {
        Action {
            ts: ts(&format!("{day}T14:30:00Z")),
            date: day.parse().unwrap(),
            kind: ActionKind::Dividend {
                amount: 0.5,
                currency: None,
            },
        }
    }

    fn bar(at: &str, price: f64) -> Bar {
        Bar {
            ts: ts(at),
            date: at[..10].parse().unwrap(),
            open: price,
            high: price,
            low: price,
            close: price,
            adj_close: Some(price),
            volume: 100,
        }
    }

    #[test]
    fn rebasing_divides_only_bars_before_the_new_split_and_only_once() {
        let old = Basis::from_actions(&[split("2020-01-06", 2.0, 1.0)]);
        let new =
            Basis::from_actions(&[split("2020-01-06", 2.0, 1.0), split("2024-06-10", 3.0, 1.0)]);
        let mut before = bar("2024-06-07T14:30:00Z", 300.0);
        let mut after = bar("2024-06-10T14:30:00Z", 100.0);
        assert!(new.rebase(&mut before, &old));
        assert!(!new.rebase(&mut after, &old));
        assert_eq!((before.close, before.volume), (100.0, 300));
        assert_eq!(after.close, 100.0);
        // Already on the new basis: nothing changes.
        assert!(!new.rebase(&mut before, &new));
        assert_eq!(before.close, 100.0);
    }

    #[test]
    fn a_corrected_ratio_is_applied_as_the_difference() {
        let old = Basis::from_actions(&[split("2024-06-10", 2.0, 1.0)]);
        let new = Basis::from_actions(&[split("2024-06-10", 4.0, 1.0)]);
        let mut b = bar("2024-06-07T14:30:00Z", 50.0);
        assert!(new.rebase(&mut b, &old));
        assert_eq!(b.close, 25.0);
        assert_eq!(new.splits_missing_from(&old).len(), 1);
    }

    #[test]
    fn differences_count_only_after_the_first_bar() {
        let old = Basis::from_actions(&[dividend("2024-03-01")]);
        let new = Basis::from_actions(&[
            dividend("2024-03-01"),
            dividend("2024-06-03"),
            split("2024-06-10", 3.0, 1.0),
        ]);
        assert!(new.differs_after(&old, ts("2024-01-02T14:30:00Z"), false));
        assert!(!new.differs_after(&old, ts("2024-06-11T14:30:00Z"), true));
        let only_div = Basis::from_actions(&[dividend("2024-03-01"), dividend("2024-06-03")]);
        assert!(!only_div.differs_after(&old, ts("2024-01-02T14:30:00Z"), false));
        assert!(only_div.differs_after(&old, ts("2024-01-02T14:30:00Z"), true));
        assert_eq!(
            only_div.dividends_missing_from(&old),
            vec![ts("2024-06-03T14:30:00Z")]
        );
    }

    #[test]
    fn the_record_round_trips() {
        let b = Basis::from_actions(&[split("2024-06-10", 3.0, 2.0), dividend("2024-03-01")]);
        assert_eq!(Basis::from_json(&b.to_json()).unwrap(), b);
        assert!(Basis::from_json("{").is_err());
    }
}
