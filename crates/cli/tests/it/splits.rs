//! Issue-9 acceptance for corporate actions: a split that appears between two nights re-bases every
//! stored interval of the symbol exactly once, even when the first re-basing run is killed at
//! random points; a dividend that appears refreshes the stored daily `adj_close`.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use backfill_domain::jiff::{SignedDuration, Timestamp};
use backfill_domain::{ActionKind, Bar, Interval, Symbol, TimeRange};
use backfill_sim::SimConfig;
use backfill_store::Store;

use crate::harness::{Env, describe};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// The first simulated symbol `<prefix>nnn` with an action of `kind` (`split`, `dividend`) whose
/// ex-instant lies in `span`, and that action's instant and split ratio (1 for a dividend).
fn symbol_with(env: &Env, prefix: &str, kind: &str, span: TimeRange) -> (Symbol, Timestamp, f64) {
    for i in 0..1000 {
        let s = Symbol::parse(&format!("{prefix}{i:03}")).unwrap();
        let found = env
            .sim
            .market()
            .actions(&s, span, ts("2030-01-01T00:00:00Z"))
            .into_iter()
            .find(|a| a.kind.name() == kind);
        if let Some(a) = found {
            return (s, a.ts, a.split_ratio().unwrap_or(1.0));
        }
    }
    panic!("no simulated symbol has a {kind} in {span:?}");
}

/// The binary against the simulator, writing to `store`.
fn command(env: &Env, store: &Path, args: &[String]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_backfill"));
    cmd.current_dir(env.dir.path())
        .env_remove("BACKFILL_CONFIG")
        .env_remove("NO_COLOR")
        .env("BACKFILL_STORE", store)
        .env("BACKFILL_YAHOO_URL", env.sim.url())
        .args(args);
    cmd
}

async fn run(env: &Env, store: &Path, args: Vec<String>) -> Output {
    let mut cmd = command(env, store, &args);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// Arguments of a nightly run of `symbol` at `interval` on the night `now`.
fn nightly(symbol: &Symbol, interval: &str, days: usize, now: Timestamp) -> Vec<String> {
    [
        "--tickers",
        symbol.as_str(),
        "--interval",
        interval,
        "--days",
        &days.to_string(),
        "--rate",
        "0",
        "--now",
        &now.to_string(),
        "--json",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

const INTERVALS: [(&str, Interval, usize); 5] = [
    ("1d", Interval::D1, 60),
    ("1wk", Interval::W1, 60),
    ("1mo", Interval::Mo1, 60),
    ("1h", Interval::H1, 60),
    ("1m", Interval::M1, 20),
];

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn span_of(bars: &[Bar]) -> TimeRange {
    TimeRange::new(
        bars[0].ts,
        bars.last().unwrap().ts + SignedDuration::from_secs(1),
    )
    .unwrap()
}

/// Checks a store after the nights around the split: every interval equals what the provider
/// serves now, and the 1m bars older than the provider keeps are the bars stored before the split
/// divided by its ratio exactly once.
fn assert_rebased_once(
    env: &Env,
    store: &Path,
    s: &Symbol,
    ratio: f64,
    before: &[(Interval, Vec<Bar>)],
    trial: &str,
) {
    let store = Store::open(store).unwrap();
    let now = env.sim.now();
    for (interval, old) in before {
        let stored = store.read_bars(s, *interval, None).unwrap();
        let truth = env.sim.market().bars(s, *interval, span_of(&stored), now);
        if *interval != Interval::M1 {
            assert_eq!(stored, truth, "{trial}: {interval} equals a fresh fetch");
            continue;
        }
        // 30 days back, with the planner's one-hour margin.
        let reach = now - SignedDuration::from_hours(24 * 30) + SignedDuration::from_hours(1);
        let (old_part, served): (Vec<Bar>, Vec<Bar>) = stored.iter().partition(|b| b.ts < reach);
        assert_eq!(
            served,
            truth
                .iter()
                .filter(|b| b.ts >= reach)
                .copied()
                .collect::<Vec<_>>(),
            "{trial}: 1m bars the provider serves equal a fresh fetch"
        );
        assert!(
            old_part.len() > 1000,
            "{trial}: {} bars beyond reach",
            old_part.len()
        );
        for bar in &old_part {
            let was = old.iter().find(|o| o.ts == bar.ts).unwrap();
            let once = Bar {
                open: was.open / ratio,
                high: was.high / ratio,
                low: was.low / ratio,
                close: was.close / ratio,
                adj_close: was.adj_close.map(|a| a / ratio),
                volume: (was.volume as f64 * ratio).round() as i64,
                ..*was
            };
            assert_eq!(*bar, once, "{trial}: divided exactly once");
            let t = truth.iter().find(|b| b.ts == bar.ts).unwrap();
            assert!(
                (bar.close - t.close).abs() <= 1e-5 * t.close,
                "{trial}: {bar:?} is on the provider's basis ({t:?})"
            );
        }
    }
}

/// For each interval, how many of the bars stored before the split have changed, e.g.
/// `1d 40/40, 1h 0/420, 1m 1200/7800`: what a kill left behind.
fn rebased_share(store: &Path, s: &Symbol, before: &[(Interval, Vec<Bar>)]) -> String {
    let store = Store::open(store).unwrap();
    before
        .iter()
        .map(|(interval, old)| {
            let now = store.read_bars(s, *interval, None).unwrap();
            let changed = old
                .iter()
                .filter(|o| {
                    now.iter()
                        .find(|b| b.ts == o.ts)
                        .is_some_and(|b| b.close.to_bits() != o.close.to_bits())
                })
                .count();
            format!("{interval} {changed}/{}", old.len())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_between_two_nights_rebases_every_interval_once_even_when_the_run_is_killed() {
    let env = Env::start(SimConfig {
        now: Some(ts("2024-01-01T00:00:00Z")),
        ..SimConfig::default()
    })
    .await;
    let span = TimeRange::new(ts("2021-01-01T00:00:00Z"), ts("2024-01-01T00:00:00Z")).unwrap();
    let (s, split, ratio) = symbol_with(&env, "SPL", "split", span);
    // The night 12 days before the split, and the night 3 days after it (UTC evening, after
    // New York's close).
    let night = |days: i64| {
        let d = (split + SignedDuration::from_hours(24 * days))
            .to_zoned_datetime(backfill_domain::jiff::tz::TimeZone::UTC)
            .date();
        d.to_zoned_datetime(backfill_domain::jiff::tz::TimeZone::UTC)
            .unwrap()
            .timestamp()
            + SignedDuration::from_hours(23)
    };
    let (n0, n1) = (night(-12), night(3));

    // Night 0: 1d, 1wk, 1mo, 1h and 1m stored on the old basis.
    let base = env.dir.path().join("base");
    env.sim.set_now(n0);
    for (name, _, days) in INTERVALS {
        let out = run(&env, &base, nightly(&s, name, days, n0)).await;
        assert_eq!(out.status.code(), Some(0), "{name}: {}", describe(&out));
    }
    let before: Vec<(Interval, Vec<Bar>)> = {
        let store = Store::open(&base).unwrap();
        INTERVALS
            .iter()
            .map(|(_, i, _)| (*i, store.read_bars(&s, *i, None).unwrap()))
            .collect()
    };

    // Night 1, uninterrupted: how long the first re-basing (daily) run takes.
    env.sim.set_now(n1);
    let clean = env.dir.path().join("clean");
    copy_dir(&base, &clean);
    let started = Instant::now();
    let out = run(&env, &clean, nightly(&s, "1d", 60, n1)).await;
    let full = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["tickers"][0]["adjusted"], true, "{doc}");
    for (name, _, days) in &INTERVALS[1..] {
        let out = run(&env, &clean, nightly(&s, name, *days, n1)).await;
        assert_eq!(out.status.code(), Some(0), "{name}: {}", describe(&out));
    }
    assert_rebased_once(&env, &clean, &s, ratio, &before, "uninterrupted");

    // Ten trials: the daily run is killed (SIGKILL) at a random point of its run, then the three
    // nightly runs follow.
    let mut rng = fastrand::Rng::with_seed(9);
    for trial in 0..10 {
        let dir = env.dir.path().join(format!("trial{trial}"));
        copy_dir(&base, &dir);
        let delay = full.mul_f64(rng.f64());
        let mut cmd = command(&env, &dir, &nightly(&s, "1d", 60, n1));
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let killed = tokio::task::spawn_blocking(move || {
            let mut child = cmd.spawn().unwrap();
            std::thread::sleep(delay);
            let finished = child.try_wait().unwrap().is_some();
            let _ = child.kill();
            child.wait().unwrap();
            !finished
        })
        .await
        .unwrap();
        let left = format!(
            "trial {trial}: killed after {delay:?} of {full:?} (before it finished: {killed}); re-based then: {}",
            rebased_share(&dir, &s, &before)
        );
        for (name, _, days) in INTERVALS {
            let out = run(&env, &dir, nightly(&s, name, days, n1)).await;
            assert_eq!(
                out.status.code(),
                Some(0),
                "{left}; {name}: {}",
                describe(&out)
            );
        }
        assert_rebased_once(&env, &dir, &s, ratio, &before, &left);
        std::fs::remove_dir_all(&dir).unwrap();
    }
    assert!(full < Duration::from_mins(2), "bounded: {full:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dividend_between_two_nights_refreshes_the_stored_daily_adj_close() {
    let env = Env::start(SimConfig {
        now: Some(ts("2024-01-01T00:00:00Z")),
        ..SimConfig::default()
    })
    .await;
    let span = TimeRange::new(ts("2023-01-01T00:00:00Z"), ts("2024-01-01T00:00:00Z")).unwrap();
    let (s, ex, _) = symbol_with(&env, "DIV", "dividend", span);
    let store = env.dir.path().join("store");
    let (n0, n1) = (
        ex - SignedDuration::from_hours(24 * 5),
        ex + SignedDuration::from_hours(24 * 3),
    );
    env.sim.set_now(n0);
    let out = run(&env, &store, nightly(&s, "1d", 60, n0)).await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let old = Store::open(&store)
        .unwrap()
        .read_bars(&s, Interval::D1, None)
        .unwrap();

    env.sim.set_now(n1);
    env.sim.reset();
    let out = run(&env, &store, nightly(&s, "1d", 60, n1)).await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        env.sim.stats().chart_requests,
        2,
        "the new sessions, and the stored history once"
    );
    let stored = Store::open(&store)
        .unwrap()
        .read_bars(&s, Interval::D1, None)
        .unwrap();
    let truth = env
        .sim
        .market()
        .bars(&s, Interval::D1, span_of(&stored), n1);
    assert_eq!(stored, truth, "the stored daily bars equal a fresh fetch");
    assert_ne!(
        stored[0].adj_close, old[0].adj_close,
        "the dividend changed adj_close of the first stored bar"
    );
    assert!(
        env.sim
            .market()
            .actions(&s, span_of(&stored), n1)
            .iter()
            .any(|a| matches!(a.kind, ActionKind::Dividend { .. }) && a.ts == ex)
    );
}
