//! The coverage ledger: which time ranges the provider has answered for a series, and when.

use backfill_domain::{Interval, RangeSet, Symbol, TimeRange};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// One answer from the provider: it was asked for `range` at `fetched_at` and returned `rows`
/// bars (possibly zero: "no bars here" is an answer too).
///
/// `provisional` marks an answer that may still change (a session still trading, or data the
/// provider may revise soon); the planner asks again for provisional ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerEntry {
    /// The instants the answer covers, half-open.
    pub range: TimeRange,
    /// When the answer was fetched.
    pub fetched_at: Timestamp,
    /// How many bars the answer held (informational; see [`Ledger::record`] for merges).
    pub rows: u64,
    /// Whether the answer may still change.
    pub provisional: bool,
}

/// The coverage ledger of one (symbol, interval): the provider's answers, sorted by range start.
///
/// Semantics, kept deliberately simple:
/// - [`answered`](Ledger::answered) is the union of non-provisional entries: ranges that never
///   need fetching again (unless an adjustment-drift check decides otherwise).
/// - [`provisional`](Ledger::provisional) is the union of provisional entries minus the answered
///   set: ranges to fetch again.
/// - [`record`](Ledger::record) compacts as it goes (see there), so the ledger stays small no matter
///   how many runs recorded into it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    /// Entries sorted by `range.start`; non-provisional entries never overlap or touch each other.
    pub entries: Vec<LedgerEntry>,
}

impl Ledger {
    /// Ranges the provider has answered for good.
    pub fn answered(&self) -> RangeSet {
        self.entries
            .iter()
            .filter(|e| !e.provisional)
            .map(|e| e.range)
            .collect()
    }

    /// Ranges answered only provisionally (and not answered for good since).
    pub fn provisional(&self) -> RangeSet {
        let p: RangeSet = self
            .entries
            .iter()
            .filter(|e| e.provisional)
            .map(|e| e.range)
            .collect();
        p.subtract(&self.answered())
    }

    /// When the provider was last asked anything for this series.
    pub fn last_fetched(&self) -> Option<Timestamp> {
        self.entries.iter().map(|e| e.fetched_at).max()
    }

    /// Removes `range` from every entry (the data for it is gone): entries inside it disappear,
    /// entries across its edges are cut.
    pub(crate) fn forget(&mut self, range: TimeRange) {
        let cut = RangeSet::from(range);
        let mut out = Vec::with_capacity(self.entries.len());
        for e in self.entries.drain(..) {
            for r in RangeSet::from(e.range).subtract(&cut).ranges() {
                out.push(LedgerEntry { range: *r, ..e });
            }
        }
        self.entries = out;
    }

    /// Merges an answer into the ledger.
    ///
    /// - A non-provisional entry absorbs every non-provisional entry it overlaps or touches: the
    ///   merged entry spans their union, keeps the latest `fetched_at` and the sum of `rows`
    ///   (an over-count where answers overlapped). It also cuts the range it covers out of any
    ///   provisional entries (they are superseded).
    /// - A provisional entry cuts its range out of older provisional entries (the newer answer
    ///   wins) and leaves non-provisional entries alone.
    pub fn record(&mut self, entry: LedgerEntry) {
        let cut = RangeSet::from(entry.range);
        let mut out = Vec::with_capacity(self.entries.len() + 1);
        let mut merged = entry;
        for e in self.entries.drain(..) {
            if e.provisional {
                for r in RangeSet::from(e.range).subtract(&cut).ranges() {
                    out.push(LedgerEntry { range: *r, ..e });
                }
            } else if !entry.provisional
                && e.range.start() <= merged.range.end()
                && merged.range.start() <= e.range.end()
            {
                merged = LedgerEntry {
                    range: TimeRange::new(
                        e.range.start().min(merged.range.start()),
                        e.range.end().max(merged.range.end()),
                    )
                    .expect("union of non-empty ranges is non-empty"),
                    fetched_at: e.fetched_at.max(merged.fetched_at),
                    rows: e.rows.saturating_add(merged.rows),
                    provisional: false,
                };
            } else {
                out.push(e);
            }
        }
        out.push(merged);
        out.sort_by_key(|e| (e.range.start(), e.provisional, e.range.end()));
        self.entries = out;
    }
}

/// On-disk form: `{"format":"ledger/1","symbol":..,"interval":..,"entries":[{start,end,..}],
/// "parts":["all"]}`. `parts` names the partition files the series had when the ledger was last
/// written, so that coverage of a file deleted since is not claimed (absent in older ledgers).
#[derive(Serialize, Deserialize)]
pub(crate) struct LedgerFile {
    pub format: String,
    pub symbol: Symbol,
    pub interval: Interval,
    pub entries: Vec<EntryJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<Vec<String>>,
}

/// A parsed ledger file.
#[derive(Debug, Clone)]
pub(crate) struct Parsed {
    pub ledger: Ledger,
    pub parts: Option<Vec<String>>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct EntryJson {
    start: Timestamp,
    end: Timestamp,
    fetched_at: Timestamp,
    rows: u64,
    provisional: bool,
}

pub(crate) const LEDGER_FORMAT: &str = "ledger/1";

pub(crate) fn to_json(
    symbol: &Symbol,
    interval: Interval,
    ledger: &Ledger,
    parts: &[String],
) -> Vec<u8> {
    let file = LedgerFile {
        format: LEDGER_FORMAT.to_owned(),
        symbol: symbol.clone(),
        interval,
        entries: ledger
            .entries
            .iter()
            .map(|e| EntryJson {
                start: e.range.start(),
                end: e.range.end(),
                fetched_at: e.fetched_at,
                rows: e.rows,
                provisional: e.provisional,
            })
            .collect(),
        parts: Some(parts.to_vec()),
    };
    let mut v = serde_json::to_vec_pretty(&file).expect("ledger serialises");
    v.push(b'\n');
    v
}

pub(crate) fn from_json(
    symbol: &Symbol,
    interval: Interval,
    bytes: &[u8],
) -> Result<Parsed, String> {
    let file: LedgerFile = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if file.format != LEDGER_FORMAT {
        return Err(format!("unknown format `{}`", file.format));
    }
    if file.symbol != *symbol || file.interval != interval {
        return Err(format!(
            "it describes `{}` `{}`, not `{symbol}` `{interval}`",
            file.symbol, file.interval
        ));
    }
    let mut entries = Vec::with_capacity(file.entries.len());
    for e in file.entries {
        let range = TimeRange::new(e.start, e.end)
            .ok_or_else(|| format!("entry `[{}, {})` is empty", e.start, e.end))?;
        entries.push(LedgerEntry {
            range,
            fetched_at: e.fetched_at,
            rows: e.rows,
            provisional: e.provisional,
        });
    }
    Ok(Parsed {
        ledger: Ledger { entries },
        parts: file.parts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }
    fn e(a: i64, b: i64, at: i64, rows: u64, provisional: bool) -> LedgerEntry {
        LedgerEntry {
            range: TimeRange::new(t(a), t(b)).unwrap(),
            fetched_at: t(at),
            rows,
            provisional,
        }
    }

    #[test]
    fn merges_and_supersedes() {
        let mut l = Ledger::default();
        l.record(e(0, 10, 100, 5, false));
        l.record(e(20, 30, 101, 0, false)); // an empty answer is still an answer
        l.record(e(30, 40, 102, 1, true));
        assert_eq!(l.entries.len(), 3);
        assert_eq!(
            l.provisional(),
            RangeSet::from(TimeRange::new(t(30), t(40)).unwrap())
        );
        // Touching [10, 20) joins everything non-provisional into one entry.
        l.record(e(10, 20, 99, 2, false));
        assert_eq!(l.entries[0], e(0, 30, 101, 7, false));
        // A final answer for [30, 35) cuts the provisional entry down to [35, 40) and merges.
        l.record(e(30, 35, 103, 1, false));
        assert_eq!(
            l.entries,
            vec![e(0, 35, 103, 8, false), e(35, 40, 102, 1, true)]
        );
        assert_eq!(
            l.answered(),
            RangeSet::from(TimeRange::new(t(0), t(35)).unwrap())
        );
        assert_eq!(l.last_fetched(), Some(t(103)));
        // A newer provisional answer replaces the older one where they overlap.
        l.record(e(38, 45, 104, 2, true));
        assert_eq!(
            l.entries,
            vec![
                e(0, 35, 103, 8, false),
                e(35, 38, 102, 1, true),
                e(38, 45, 104, 2, true)
            ]
        );
        // A provisional answer inside answered ground does not un-answer it.
        l.record(e(0, 5, 105, 1, true));
        assert_eq!(
            l.answered(),
            RangeSet::from(TimeRange::new(t(0), t(35)).unwrap())
        );
        assert_eq!(
            l.provisional(),
            RangeSet::from(TimeRange::new(t(35), t(45)).unwrap())
        );
        let s = Symbol::parse("EURUSD=X").unwrap();
        let json = to_json(&s, Interval::D1, &l, &["all".to_owned()]);
        let back = from_json(&s, Interval::D1, &json).unwrap();
        assert_eq!(back.ledger, l);
        assert_eq!(back.parts, Some(vec!["all".to_owned()]));
        l.forget(TimeRange::new(t(10), t(36)).unwrap());
        assert_eq!(
            l.answered(),
            RangeSet::from(TimeRange::new(t(0), t(10)).unwrap())
        );
        let other = Symbol::parse("MSFT").unwrap();
        assert!(from_json(&other, Interval::D1, &json).is_err());
        assert!(from_json(&s, Interval::H1, &json).is_err());
    }
}
