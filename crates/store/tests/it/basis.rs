//! SIGKILL a process while it re-bases a two-year hourly series after a split (24 month files in
//! one multi-file commit) at random points: the series, as the next run opens it, is wholly on
//! the old basis or wholly on the new one, and finishing the job divides every bar exactly once.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::{Duration, Instant};

use backfill_domain::{Action, ActionKind, Bar, Interval};
use backfill_store::{Basis, Store};

use crate::{DAY, T0, all_files, bar, sym, ts};

const SYMBOL: &str = "SPLIT";

/// One bar an hour for two years, on the basis before the split.
fn history() -> Vec<Bar> {
    (0..730 * 24)
        .map(|h| bar(T0 + h * 3600, 100.0 + (h % 500) as f64))
        .collect()
}

/// A 4:1 split after the last bar.
fn target() -> Basis {
    let t = ts(T0 + 731 * DAY);
    Basis::from_actions(&[Action {
        ts: t,
        date: t
            .to_zoned_datetime(backfill_domain::jiff::tz::TimeZone::UTC)
            .date(),
        kind: ActionKind::Split {
            numerator: 4.0,
            denominator: 1.0,
        },
    }])
}

fn divided(b: &Bar) -> Bar {
    Bar {
        open: b.open / 4.0,
        high: b.high / 4.0,
        low: b.low / 4.0,
        close: b.close / 4.0,
        adj_close: b.adj_close.map(|a| a / 4.0),
        volume: b.volume * 4,
        ..*b
    }
}

/// Re-bases the series in `dir` onto [`target`] and says `done`.
pub fn child(dir: &Path) {
    let store = Store::open(dir).unwrap();
    crate::child::say("ready");
    store
        .rebase_bars(&sym(SYMBOL), Interval::H1, &target(), &[], &[])
        .unwrap();
    crate::child::say("done");
}

/// How many bars are on the old basis and how many on the new one; panics on a bar that is
/// neither (torn, or divided twice).
fn check_months(dir: &Path, history: &[Bar]) -> (usize, usize) {
    let stored = Store::open(dir)
        .unwrap()
        .read_bars(&sym(SYMBOL), Interval::H1, None)
        .unwrap();
    assert_eq!(stored.len(), history.len());
    let month = |b: &Bar| b.ts.as_second().div_euclid(DAY) / 31;
    let (mut old, mut new) = (0, 0);
    let mut k = 0;
    while k < stored.len() {
        let m = month(&stored[k]);
        let end = stored[k..]
            .iter()
            .position(|b| month(b) != m)
            .map_or(stored.len(), |p| k + p);
        // A UTC month file may hold bars of two of these 31-day buckets: compare bar by bar.
        for (s, h) in stored[k..end].iter().zip(&history[k..end]) {
            if s == h {
                old += 1;
            } else {
                assert_eq!(
                    *s,
                    divided(h),
                    "a bar is neither on the old basis nor divided once"
                );
                new += 1;
            }
        }
        k = end;
    }
    (old, new)
}

fn copy_dir(from: &Path, to: &Path) {
    for rel in all_files(from) {
        let target = to.join(&rel);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(from.join(&rel), target).unwrap();
    }
}

#[test]
fn a_rebasing_killed_at_random_points_divides_every_bar_exactly_once() {
    let base = tempfile::tempdir().unwrap();
    let history = history();
    Store::open(base.path())
        .unwrap()
        .upsert_bars_on(&sym(SYMBOL), Interval::H1, &history, &Basis::default())
        .unwrap();

    // How long an uninterrupted re-basing takes, from `ready` to `done`.
    let measure = tempfile::tempdir().unwrap();
    copy_dir(base.path(), measure.path());
    let mut child = crate::child::spawn("basis", measure.path(), 0);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let mut started = None;
    while !line.contains("done") {
        assert!(out.read_line(&mut line).unwrap() > 0, "child died: {line}");
        if line.contains("ready") && started.is_none() {
            started = Some(Instant::now());
        }
    }
    let full = started.unwrap().elapsed();
    child.wait().unwrap();
    assert_eq!(check_months(measure.path(), &history), (0, history.len()));

    let mut rng = fastrand::Rng::with_seed(0x5eed_0009);
    for trial in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(base.path(), dir.path());
        let mut child = crate::child::spawn("basis", dir.path(), 0);
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while !line.contains("ready") {
            assert!(out.read_line(&mut line).unwrap() > 0, "child died: {line}");
        }
        std::thread::sleep(full.mul_f64(rng.f64()));
        child.kill().unwrap();
        child.wait().unwrap();
        // Opening the store completes a commit the kill left pending.
        let (old, new) = check_months(dir.path(), &history);
        assert!(
            old == 0 || new == 0,
            "trial {trial}: {old} old and {new} new bars"
        );
        // The next run finishes the job, and a repeated one changes nothing.
        let store = Store::open(dir.path()).unwrap();
        let again = store
            .rebase_bars(&sym(SYMBOL), Interval::H1, &target(), &[], &[])
            .unwrap();
        assert_eq!(
            again.divided, old as u64,
            "trial {trial}: only the old bars are divided"
        );
        assert_eq!(check_months(dir.path(), &history), (0, history.len()));
        let noop = store
            .rebase_bars(&sym(SYMBOL), Interval::H1, &target(), &[], &[])
            .unwrap();
        assert_eq!((noop.divided, noop.files_written), (0, 0));
    }
    assert!(full < Duration::from_mins(1), "{full:?}");
}
