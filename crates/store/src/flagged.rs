//! Bars that failed validation, recorded beside the data so `check` can list them.
//!
//! Kept as JSON in `_meta/flagged/interval=<interval>/<symbol>.json`, outside the Parquet glob:
//! the bars files keep exactly their documented schema, and a flagged bar that was kept is stored
//! as the provider sent it (nothing is repaired).

use backfill_domain::jiff::Timestamp;
use backfill_domain::jiff::civil::Date;
use backfill_domain::{Interval, Symbol, TimeRange};
use serde::{Deserialize, Serialize};

/// One bar that broke a validation rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flagged {
    /// The bar's start.
    pub ts: Timestamp,
    /// Its session date.
    pub date: Date,
    /// The rule it broke (`high_below_open_close`, `off_session`, …).
    pub rule: String,
    /// Whether the bar was left out of the store (`--invalid-bars drop`) rather than kept.
    pub dropped: bool,
}

#[derive(Serialize, Deserialize)]
struct File {
    format: String,
    symbol: String,
    interval: String,
    flagged: Vec<Flagged>,
}

const FORMAT: &str = "flagged/1";

pub(crate) fn from_json(bytes: &[u8]) -> Result<Vec<Flagged>, String> {
    let f: File = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if f.format != FORMAT {
        return Err(format!(
            "unknown format `{}`, expected `{FORMAT}`",
            f.format
        ));
    }
    Ok(f.flagged)
}

pub(crate) fn to_json(symbol: &Symbol, interval: Interval, flagged: &[Flagged]) -> Vec<u8> {
    let f = File {
        format: FORMAT.to_owned(),
        symbol: symbol.to_string(),
        interval: interval.to_string(),
        flagged: flagged.to_vec(),
    };
    let mut out = serde_json::to_vec_pretty(&f).expect("flags serialise");
    out.push(b'\n');
    out
}

/// The flags after a refetch of `range`: flags inside it are replaced by `new`, others stay.
pub(crate) fn merge(mut old: Vec<Flagged>, range: TimeRange, new: &[Flagged]) -> Vec<Flagged> {
    old.retain(|f| !range.contains(f.ts));
    old.extend(new.iter().filter(|f| range.contains(f.ts)).cloned());
    old.sort_by(|a, b| a.ts.cmp(&b.ts).then_with(|| a.rule.cmp(&b.rule)));
    old.dedup();
    old
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(ts: &str, rule: &str) -> Flagged {
        let ts: Timestamp = ts.parse().unwrap();
        Flagged {
            ts,
            date: ts
                .to_zoned_datetime(backfill_domain::jiff::tz::TimeZone::UTC)
                .date(),
            rule: rule.into(),
            dropped: false,
        }
    }

    #[test]
    fn a_refetch_replaces_flags_inside_its_range_only() {
        let old = vec![
            f("2024-01-02T00:00:00Z", "off_session"),
            f("2024-02-02T00:00:00Z", "negative_volume"),
        ];
        let range = TimeRange::new(
            "2024-02-01T00:00:00Z".parse().unwrap(),
            "2024-03-01T00:00:00Z".parse().unwrap(),
        )
        .unwrap();
        let new = [
            f("2024-02-05T00:00:00Z", "high_below_open_close"),
            f("2024-04-01T00:00:00Z", "ignored"),
        ];
        let merged = merge(old, range, &new);
        assert_eq!(
            merged,
            vec![
                f("2024-01-02T00:00:00Z", "off_session"),
                f("2024-02-05T00:00:00Z", "high_below_open_close")
            ]
        );
        let sym = Symbol::parse("MSFT").unwrap();
        assert_eq!(
            from_json(&to_json(&sym, Interval::D1, &merged)).unwrap(),
            merged
        );
        assert!(
            from_json(b"{\"format\":\"x\",\"symbol\":\"A\",\"interval\":\"1d\",\"flagged\":[]}")
                .is_err()
        );
    }
}
