//! A split re-basing several months of intraday bars at once, killed at random moments (10
//! trials on a local directory, 10 on S3): readers through the store never see a mixed basis,
//! and once the store is opened again (as the next run does) the plain files agree too.

use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

use backfill_domain::{Bar, Interval};
use backfill_store::{Store, StoreOptions};

use crate::conformance::{s3_options, s3_server};
use crate::{DAY, T0, bar, range, sym};

const SYMBOL: &str = "SPLIT.PA";
/// 2020-01-01 .. 2020-04-09, hourly: four month files.
const DAYS: i64 = 100;

fn base(h: i64) -> Bar {
    bar(T0 + h * 3600, h as f64 + 1.0)
}

/// 2020-01-15 .. 2020-03-20: parts of January and March and all of February.
fn window() -> backfill_domain::TimeRange {
    range(T0 + 14 * DAY, T0 + 80 * DAY)
}

/// History on basis `k`: prices inside the window multiplied by `k + 1`.
fn rebased(k: u64) -> Vec<Bar> {
    (0..DAYS * 24)
        .map(base)
        .filter(|b| window().contains(b.ts))
        .map(|mut b| {
            let f = (k + 1) as f64;
            (b.open, b.high, b.low, b.close) = (b.open * f, b.high * f, b.low * f, b.close * f);
            b
        })
        .collect()
}

/// The basis each stored bar in the window is on (`close / base close - 1`), per month.
fn bases(bars: &[Bar]) -> std::collections::BTreeSet<u64> {
    let mut out = std::collections::BTreeSet::new();
    for b in bars {
        let h = (b.ts.as_second() - T0) / 3600;
        let f = b.close / base(h).close;
        if window().contains(b.ts) {
            out.insert(f.round() as u64 - 1);
        } else {
            assert_eq!(
                f.to_bits(),
                1f64.to_bits(),
                "bars outside the window never change"
            );
        }
    }
    out
}

/// The child: re-bases the window again and again, acknowledging each commit.
pub fn child(location: &str, start: u64) {
    let store = Store::open_location(location, &StoreOptions::default()).unwrap();
    crate::child::say("ready");
    for k in start.. {
        store
            .replace_range(&sym(SYMBOL), Interval::H1, window(), &rebased(k))
            .unwrap();
        crate::child::say(&format!("ack {k}"));
    }
}

fn trials(location: &str, opts: &StoreOptions, env: &[(&'static str, String)], seed: u64) {
    let store = Store::open_location(location, opts).unwrap();
    let all: Vec<Bar> = (0..DAYS * 24).map(base).collect();
    store.upsert_bars(&sym(SYMBOL), Interval::H1, &all).unwrap();
    drop(store);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut last_acked: i64 = 0; // basis 0 is the seeded history
    for trial in 0..10 {
        let mut child = crate::child::spawn_at("rebase", location, (last_acked + 1) as u64, env);
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut out = String::new();
        while !out.contains("ready") {
            assert!(stdout.read_line(&mut out).unwrap() > 0, "child died: {out}");
        }
        std::thread::sleep(Duration::from_millis(rng.u64(0..400)));
        child.kill().unwrap();
        child.wait().unwrap();
        stdout.read_to_string(&mut out).unwrap();
        for line in out.lines() {
            if let Some(k) = line.strip_prefix("ack ") {
                last_acked = k.parse().unwrap();
            }
        }
        let allowed = [last_acked as u64, last_acked as u64 + 1];
        // A reader that writes nothing (read-only, as `check` opens it) sees one basis.
        let ro = StoreOptions {
            read_only: true,
            ..opts.clone()
        };
        let reader = Store::open_location(location, &ro).unwrap();
        let seen = bases(&reader.read_bars(&sym(SYMBOL), Interval::H1, None).unwrap());
        assert!(
            seen.len() == 1 && allowed.contains(seen.first().unwrap()),
            "trial {trial}: a reader through the store saw bases {seen:?} (acked {last_acked})"
        );
        // The next run opens the store for writing: any pending commit is completed, and then
        // each plain file, read on its own, is on that same basis.
        let writer = Store::open_location(location, opts).unwrap();
        let mut per_file = std::collections::BTreeSet::new();
        for month in 0..4 {
            let from = T0 + [0, 31, 60, 91][month] * DAY;
            let to = T0 + [31, 60, 91, 122][month] * DAY;
            per_file.extend(bases(
                &writer
                    .read_bars(&sym(SYMBOL), Interval::H1, Some(range(from, to)))
                    .unwrap(),
            ));
        }
        assert_eq!(
            per_file, seen,
            "trial {trial}: the files disagree after the next open"
        );
        assert_eq!(
            writer
                .read_bars(&sym(SYMBOL), Interval::H1, None)
                .unwrap()
                .len(),
            (DAYS * 24) as usize
        );
    }
}

#[test]
fn rebasing_killed_at_random_local() {
    let dir = tempfile::tempdir().unwrap();
    trials(
        &dir.path().display().to_string(),
        &StoreOptions::default(),
        &[],
        0x5eed_0002,
    );
}

#[test]
fn rebasing_killed_at_random_s3() {
    let Some(server) = s3_server("rebase") else {
        return;
    };
    trials(
        &server.url("r"),
        &s3_options(&server),
        &server.env(),
        0x5eed_0003,
    );
}
