//! SIGKILL a writer at random moments, many times: the store must always read cleanly, hold no
//! duplicates, keep every acknowledged upsert, and its ledger must never lead its data.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::time::{Duration, Instant};

use backfill_domain::{Bar, Interval, RangeSet, TimeRange};
use backfill_store::{LedgerEntry, Store};

use crate::{DAY, T0, all_files, bar, range, sym, ts};

const DAILY: &str = "CRASH.PA";
const HOURLY: &str = "EUR=X";

fn daily_batch(k: u64) -> Vec<Bar> {
    let start = (k * 7 % 200) as i64;
    (start..start + 30)
        .map(|d| bar(T0 + d * DAY, (k * 1000) as f64 + d as f64))
        .collect()
}

/// 240 bars every 6 hours (60 days, so two or three month partitions).
fn hourly_batch(k: u64) -> Vec<Bar> {
    let start = T0 + (k * 5 % 300) as i64 * DAY;
    (0..240)
        .map(|i| bar(start + i * 6 * 3600, (k * 1000) as f64 + i as f64))
        .collect()
}

fn ledger_range(k: u64) -> TimeRange {
    let start = (k * 7 % 200) as i64;
    range(T0 + start * DAY, T0 + (start + 30) * DAY)
}

/// Applies batches `start..end`, acknowledging each on stdout once it is durable.
pub fn child(dir: &Path, start: u64, end: u64) {
    let store = Store::open(dir).unwrap();
    crate::child::say("ready");
    for k in start..end {
        store
            .upsert_bars(&sym(DAILY), Interval::D1, &daily_batch(k))
            .unwrap();
        store
            .upsert_bars(&sym(HOURLY), Interval::H1, &hourly_batch(k))
            .unwrap();
        let entry = LedgerEntry {
            range: ledger_range(k),
            fetched_at: ts(k as i64),
            rows: 30,
            provisional: false,
        };
        store
            .record_coverage(&sym(DAILY), Interval::D1, entry)
            .unwrap();
        crate::child::say(&format!("ack {k}"));
    }
}

type Model = BTreeMap<i64, Bar>;

fn models(upto: Option<u64>, batch: fn(u64) -> Vec<Bar>) -> Model {
    let mut m = Model::new();
    for k in 0..upto.map_or(0, |u| u + 1) {
        for b in batch(k) {
            m.insert(b.ts.as_second(), b);
        }
    }
    m
}

fn month(b: &Bar) -> (i16, i8) {
    let d =
        b.ts.to_zoned_datetime(backfill_domain::jiff::tz::TimeZone::UTC)
            .date();
    (d.year(), d.month())
}

fn by_month(bars: impl IntoIterator<Item = Bar>) -> BTreeMap<(i16, i8), Vec<Bar>> {
    let mut out: BTreeMap<_, Vec<Bar>> = BTreeMap::new();
    for b in bars {
        out.entry(month(&b)).or_default().push(b);
    }
    out
}

/// Checks the store against "all batches up to `acked` applied, and batch `acked + 1` applied to
/// none, some or all of its partitions". `acked` is the number of acknowledged batches.
pub fn verify(dir: &Path, last_acked: i64) {
    let store = Store::open(dir).unwrap();
    let stray: Vec<_> = all_files(dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".tmp") && !p.starts_with("_meta/tmp"))
        .collect();
    assert!(
        stray.is_empty(),
        "temp files outside `_meta/tmp/`: {stray:?}"
    );
    assert_eq!(store.problems().unwrap(), vec![]);
    let done = u64::try_from(last_acked).ok();
    let next_k = u64::try_from(last_acked + 1).unwrap();
    let next = Some(next_k);

    let daily = store.read_bars(&sym(DAILY), Interval::D1, None).unwrap();
    let (a, b) = (models(done, daily_batch), models(next, daily_batch));
    let got: Model = daily.iter().map(|x| (x.ts.as_second(), *x)).collect();
    assert_eq!(got.len(), daily.len(), "duplicate bars");
    assert!(
        got == a || got == b,
        "daily series matches neither {last_acked} nor the next batch"
    );

    let hourly = store.read_bars(&sym(HOURLY), Interval::H1, None).unwrap();
    let (a, b) = (models(done, hourly_batch), models(next, hourly_batch));
    let (got, a, b) = (
        by_month(hourly),
        by_month(a.into_values()),
        by_month(b.into_values()),
    );
    let months: std::collections::BTreeSet<_> =
        got.keys().chain(a.keys()).chain(b.keys()).collect();
    for m in months {
        let g = got.get(m);
        assert!(
            g == a.get(m) || g == b.get(m),
            "month {m:?} is torn after batch {last_acked}"
        );
    }

    let answered = store.ledger(&sym(DAILY), Interval::D1).unwrap().answered();
    let acked: RangeSet = (0..done.map_or(0, |d| d + 1)).map(ledger_range).collect();
    let possible: RangeSet = (0..=next_k).map(ledger_range).collect();
    assert_eq!(
        acked.subtract(&answered),
        RangeSet::new(),
        "an acknowledged ledger entry is missing"
    );
    assert_eq!(
        answered.subtract(&possible),
        RangeSet::new(),
        "the ledger leads the data"
    );
}

#[test]
fn sigkill_at_random_points_never_loses_acknowledged_or_tears_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = fastrand::Rng::with_seed(0x5eed_0001);
    let started = Instant::now();
    let mut last_acked: i64 = -1;
    let mut kills = 0;
    for _round in 0..40 {
        if started.elapsed() > Duration::from_secs(45) {
            break;
        }
        let mut child = crate::child::spawn("crash", dir.path(), (last_acked + 1) as u64);
        // Wait until the child has opened the store (slow on a loaded machine), then let it
        // write for a random while: kills land before, during and between commits.
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut out = String::new();
        while !out.contains("ready") {
            assert!(
                stdout.read_line(&mut out).unwrap() > 0,
                "child died before ready: {out}"
            );
        }
        std::thread::sleep(Duration::from_millis(rng.u64(0..100)));
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        stdout.read_to_string(&mut out).unwrap();
        for line in out.lines() {
            if let Some(k) = line.strip_prefix("ack ") {
                let k: i64 = k.parse().unwrap();
                assert_eq!(k, last_acked + 1, "acks are in order");
                last_acked = k;
            }
        }
        verify(dir.path(), last_acked);
    }
    assert!(kills >= 20, "only {kills} kills in the time budget");
    assert!(
        last_acked >= 10,
        "the child made too little progress ({last_acked}) to test anything"
    );
}
