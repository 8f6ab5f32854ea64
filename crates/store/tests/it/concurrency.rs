//! Several writers (processes and threads) upserting overlapping series at once lose nothing.

use std::path::Path;
use std::sync::Arc;

use backfill_domain::{Bar, Interval};
use backfill_store::{LedgerEntry, Store};

use crate::{DAY, T0, bar, range, sym, ts};

const SYMBOLS: [&str; 4] = ["M0", "M1.X", "M2=X", "^M3"];
const WRITERS: u64 = 4;
const ROUNDS: i64 = 10;
const PER_ROUND: i64 = 20;

fn value(symbol: usize, day: i64) -> f64 {
    (symbol as i64 * 10_000 + day) as f64
}

/// Writer `p`: days `d` with `d % WRITERS == p`, plus every 10th day which all writers write
/// (with the same values), and ledger pieces of 5 days each.
fn write_all(store: &Store, p: u64) {
    for r in 0..ROUNDS {
        for i in 0..SYMBOLS.len() {
            let si = (i + p as usize) % SYMBOLS.len();
            let s = sym(SYMBOLS[si]);
            let bars: Vec<Bar> = (r * PER_ROUND..(r + 1) * PER_ROUND)
                .filter(|d| d % WRITERS as i64 == p as i64 || d % 10 == 0)
                .map(|d| bar(T0 + d * DAY, value(si, d)))
                .collect();
            store.upsert_bars(&s, Interval::D1, &bars).unwrap();
            let a = r * PER_ROUND + p as i64 * 5;
            let entry = LedgerEntry {
                range: range(T0 + a * DAY, T0 + (a + 5) * DAY),
                fetched_at: ts(r),
                rows: 5,
                provisional: false,
            };
            store.record_coverage(&s, Interval::D1, entry).unwrap();
        }
    }
}

pub fn child(dir: &Path, p: u64) {
    write_all(&Store::open(dir).unwrap(), p);
    crate::child::say("done");
}

fn verify(store: &Store) {
    for (si, s) in SYMBOLS.iter().enumerate() {
        let got = store.read_bars(&sym(s), Interval::D1, None).unwrap();
        let want: Vec<Bar> = (0..ROUNDS * PER_ROUND)
            .map(|d| bar(T0 + d * DAY, value(si, d)))
            .collect();
        assert_eq!(got.len(), want.len(), "{s}: lost or duplicated rows");
        assert_eq!(got, want, "{s}");
        let answered = store.ledger(&sym(s), Interval::D1).unwrap().answered();
        assert_eq!(
            answered.ranges(),
            &[range(T0, T0 + ROUNDS * PER_ROUND * DAY)],
            "{s}: lost ledger entries"
        );
    }
}

#[test]
fn processes_upserting_the_same_series_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..WRITERS)
        .map(|p| crate::child::spawn("multi", dir.path(), p))
        .collect();
    for mut c in children {
        let mut out = String::new();
        std::io::Read::read_to_string(&mut c.stdout.take().unwrap(), &mut out).unwrap();
        assert!(c.wait().unwrap().success());
        assert_eq!(out.lines().filter(|l| *l == "done").count(), 1, "{out}");
    }
    verify(&Store::open(dir.path()).unwrap());
}

#[test]
fn threads_sharing_one_store_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    // Two handles on the same directory in one process must also exclude each other.
    let other = Arc::new(Store::open(dir.path()).unwrap());
    let threads: Vec<_> = (0..WRITERS)
        .map(|p| {
            let st = if p % 2 == 0 {
                Arc::clone(&store)
            } else {
                Arc::clone(&other)
            };
            std::thread::spawn(move || write_all(&st, p))
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    verify(&store);
}
