//! Multi-file commits: the intent record.
//!
//! A change to several partition files of one series (a split re-basing months of intraday
//! bars, a replaced history) is committed all-or-nothing for readers that go through
//! [`Store`](crate::Store), and converges for plain readers:
//!
//! 1. **Stage**: each new partition is written under
//!    `_meta/staged/interval=<i>/<symbol>/<id>/<part>.parquet` (outside the reader glob).
//! 2. **Commit point**: the intent `_meta/intents/interval=<i>/<symbol>.json` is created with a
//!    create-if-absent write. It lists every partition, its staged file (none when the partition
//!    ends up empty) and the `ts` the change removes from it. From here on the change has happened.
//! 3. **Apply**: each partition becomes *stored rows minus the removed `ts`, overlaid with the
//!    staged rows* (staged rows win), written with replace-if-unchanged and retried on a lost race.
//!    Applying twice gives the same file, so any writer can do it, any number of times.
//! 4. **Done**: the intent is deleted, then the staged files.
//!
//! While an intent exists, every read through [`Store`](crate::Store) applies it in memory, so
//! readers see the whole change or none of it. Every writer of the series finishes a pending
//! intent before it writes, and [`Store::open`](crate::Store::open) finishes every pending intent
//! of the store (one listing of `_meta/intents/`), so a plain reader (pyarrow, Polars, `DuckDB`)
//! sees a mixed state only until the next run starts.

use backfill_domain::{Bar, Interval, Symbol};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::basis::Basis;

/// The on-disk intent (`intent/1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Intent {
    pub format: String,
    pub symbol: Symbol,
    pub interval: Interval,
    /// Unique per commit; names the staged directory.
    pub id: String,
    pub created_at: Timestamp,
    pub parts: Vec<IntentPart>,
}

/// One partition of a multi-file commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct IntentPart {
    /// `all` or `YYYY-MM`.
    pub part: String,
    /// Key of the staged new rows; `None` when the change leaves no rows of its own here.
    pub staged: Option<String>,
    /// `ts` (µs) of stored rows the change removes.
    pub removed: Vec<i64>,
    /// The basis record the partition gets (a re-basing); `None` keeps the stored one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<Basis>,
}

pub(crate) const INTENT_FORMAT: &str = "intent/1";

pub(crate) fn to_json(intent: &Intent) -> Vec<u8> {
    let mut v = serde_json::to_vec_pretty(intent).expect("intent serialises");
    v.push(b'\n');
    v
}

pub(crate) fn from_json(
    symbol: &Symbol,
    interval: Interval,
    bytes: &[u8],
) -> Result<Intent, String> {
    let intent: Intent = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if intent.format != INTENT_FORMAT {
        return Err(format!("unknown format `{}`", intent.format));
    }
    if intent.symbol != *symbol || intent.interval != interval {
        return Err(format!(
            "it describes `{}` `{}`, not `{symbol}` `{interval}`",
            intent.symbol, intent.interval
        ));
    }
    Ok(intent)
}

/// What a partition holds once the change is applied: `stored` minus `removed`, overlaid with
/// `staged` (staged rows win). Both inputs sorted and unique by `ts`; so is the result.
pub(crate) fn overlay(stored: &[Bar], removed: &[i64], staged: &[Bar]) -> Vec<Bar> {
    let mut out = Vec::with_capacity(stored.len().max(staged.len()));
    let mut stored = stored
        .iter()
        .filter(|b| removed.binary_search(&b.ts.as_microsecond()).is_err())
        .peekable();
    for s in staged {
        while let Some(o) = stored.next_if(|o| o.ts < s.ts) {
            out.push(*o);
        }
        let _ = stored.next_if(|o| o.ts == s.ts);
        out.push(*s);
    }
    out.extend(stored.copied());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use backfill_domain::jiff::civil::Date;

    fn bar(s: i64, v: f64) -> Bar {
        Bar {
            ts: Timestamp::from_second(s).unwrap(),
            date: Date::constant(2024, 1, 1),
            open: v,
            high: v,
            low: v,
            close: v,
            adj_close: None,
            volume: 1,
        }
    }

    #[test]
    fn overlay_is_idempotent_and_keeps_rows_it_does_not_know() {
        let stored = vec![bar(1, 1.0), bar(2, 1.0), bar(3, 1.0), bar(9, 7.0)];
        let staged = vec![bar(1, 2.0), bar(3, 2.0), bar(4, 2.0)];
        let removed = vec![2_000_000];
        let once = overlay(&stored, &removed, &staged);
        let closes: Vec<(i64, f64)> = once.iter().map(|b| (b.ts.as_second(), b.close)).collect();
        // Row 9 was added by someone else after the change was planned: it stays.
        assert_eq!(closes, vec![(1, 2.0), (3, 2.0), (4, 2.0), (9, 7.0)]);
        assert_eq!(overlay(&once, &removed, &staged), once);
    }
}
