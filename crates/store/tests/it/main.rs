//! Integration tests of the store: behaviour, properties, crashes and concurrent processes.

mod basic;
mod basis;
mod child;
mod concurrency;
mod conformance;
mod crash;
mod prop;
mod rebase;

use backfill_domain::jiff::{Timestamp, tz::TimeZone};
use backfill_domain::{Bar, Symbol, TimeRange};

pub fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

pub fn ts(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).unwrap()
}

pub fn range(a: i64, b: i64) -> TimeRange {
    TimeRange::new(ts(a), ts(b)).unwrap()
}

/// A bar starting at `seconds` whose prices are derived from `v`.
pub fn bar(seconds: i64, v: f64) -> Bar {
    let t = ts(seconds);
    Bar {
        ts: t,
        date: t.to_zoned_datetime(TimeZone::UTC).date(),
        open: v,
        high: v + 1.0,
        low: v - 1.0,
        close: v + 0.5,
        adj_close: (v as i64 % 3 != 0).then_some(v * 0.9),
        volume: v as i64 * 10,
    }
}

pub const DAY: i64 = 86_400;
/// 2020-01-01T00:00:00Z
pub const T0: i64 = 1_577_836_800;

/// Every file under `root` (recursively), relative.
pub fn all_files(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path().strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}
