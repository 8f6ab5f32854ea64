//! Keys of every file in the store, and the time partitions of a series.

use backfill_domain::{Interval, Symbol, TimeRange};
use jiff::Timestamp;
use jiff::civil::Date;

use crate::bars;
use crate::encode::{encode_str, encode_symbol};

/// The partition of daily and coarser series.
pub(crate) const DAILY_PART: &str = "all";

/// Top-level names a store holds; anything else at the root is foreign.
pub(crate) const TOP_LEVEL: [&str; 3] = ["bars", "actions", "_meta"];

pub(crate) fn bars_dir(symbol: &Symbol, interval: Interval) -> String {
    format!("bars/interval={interval}/symbol={}", encode_symbol(symbol))
}

pub(crate) fn part_key(symbol: &Symbol, interval: Interval, part: &str) -> String {
    format!("{}/{part}.parquet", bars_dir(symbol, interval))
}

pub(crate) fn ledger_key(symbol: &Symbol, interval: Interval) -> String {
    format!(
        "_meta/ledger/interval={interval}/{}.json",
        encode_symbol(symbol)
    )
}

/// The provider a series came from (see `crate::provenance`).
pub(crate) fn provider_key(symbol: &Symbol, interval: Interval) -> String {
    format!(
        "_meta/providers/interval={interval}/{}.json",
        encode_symbol(symbol)
    )
}

pub(crate) fn flagged_key(symbol: &Symbol, interval: Interval) -> String {
    format!(
        "_meta/flagged/interval={interval}/{}.json",
        encode_symbol(symbol)
    )
}

pub(crate) fn closures_key(venue: &str) -> String {
    format!("_meta/closures/{}.json", encode_str(venue))
}

pub(crate) fn meta_key(symbol: &Symbol) -> String {
    format!("_meta/symbols/{}.json", encode_symbol(symbol))
}

pub(crate) fn actions_key(symbol: &Symbol) -> String {
    format!("actions/symbol={}/actions.parquet", encode_symbol(symbol))
}

/// The pending multi-file commit of a series, if any (see `crate::intent`).
pub(crate) fn intent_key(symbol: &Symbol, interval: Interval) -> String {
    format!(
        "_meta/intents/interval={interval}/{}.json",
        encode_symbol(symbol)
    )
}

/// Where a multi-file commit stages the new content of its files.
pub(crate) fn staged_dir(symbol: &Symbol, interval: Interval) -> String {
    format!("_meta/staged/interval={interval}/{}", encode_symbol(symbol))
}

/// The time partition a bar belongs to: `all` for daily and coarser, the UTC month of its start
/// (`2024-10`) for intraday.
pub(crate) fn part_of(interval: Interval, ts: Timestamp) -> String {
    if interval.is_intraday() {
        let days = ts.as_second().div_euclid(86_400) as i32;
        let (y, m, _) = bars::civil_from_days(days);
        format!("{y:04}-{m:02}")
    } else {
        DAILY_PART.to_owned()
    }
}

/// The instants a month partition holds: `[first of month, first of next month)` UTC.
pub(crate) fn part_range(part: &str) -> Option<TimeRange> {
    let (y, m) = part.split_once('-')?;
    let (y, m): (i16, i8) = (y.parse().ok()?, m.parse().ok()?);
    let start = Date::new(y, m, 1).ok()?;
    let end = start.checked_add(jiff::Span::new().months(1)).ok()?;
    let ts = |d: Date| {
        d.to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp())
    };
    TimeRange::new(ts(start)?, ts(end)?)
}

/// The instants a partition can hold: its month, or all of time for `all`.
pub(crate) fn part_span(part: &str) -> TimeRange {
    part_range(part)
        .unwrap_or_else(|| TimeRange::new(Timestamp::MIN, Timestamp::MAX).expect("MIN < MAX"))
}

pub(crate) fn is_part_name(interval: Interval, name: &str) -> bool {
    name.strip_suffix(".parquet").is_some_and(|p| {
        if interval.is_intraday() {
            p.len() == 7 && part_range(p).is_some()
        } else {
            p == DAILY_PART
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions() {
        let ts = |s: &str| s.parse::<Timestamp>().unwrap();
        assert_eq!(part_of(Interval::D1, ts("2024-10-31T23:00:00Z")), "all");
        assert_eq!(part_of(Interval::M5, ts("2024-10-31T23:55:00Z")), "2024-10");
        assert_eq!(part_of(Interval::M5, ts("2024-11-01T00:00:00Z")), "2024-11");
        assert_eq!(part_of(Interval::H1, ts("1969-12-31T23:00:00Z")), "1969-12");
        let r = part_range("2024-12").unwrap();
        assert_eq!(
            (r.start(), r.end()),
            (ts("2024-12-01T00:00:00Z"), ts("2025-01-01T00:00:00Z"))
        );
        assert!(part_span("all").contains(ts("1900-01-01T00:00:00Z")));
        assert!(is_part_name(Interval::M5, "2024-12.parquet"));
        assert!(!is_part_name(Interval::M5, "2024-13.parquet"));
        assert!(!is_part_name(Interval::M5, "all.parquet"));
        assert!(is_part_name(Interval::D1, "all.parquet"));
        assert!(!is_part_name(Interval::D1, ".all.parquet.1.2.tmp"));
    }
}
