//! Issue acceptance: intraday windows, provisional live sessions, splits after a first backfill,
//! injected bad bars. The simulator's clock is fixed and the binary is told the same time.

use std::collections::BTreeSet;

use backfill_calendar::{Calendar, exchange_for_symbol};
use backfill_domain::jiff::civil::Date;
use backfill_domain::jiff::{SignedDuration, Timestamp};
use backfill_domain::{ActionKind, Interval, Symbol, TimeRange};
use backfill_sim::SimConfig;
use backfill_store::Store;

use crate::harness::{Env, describe, stdout_json};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

async fn at(now: &str, config: SimConfig) -> Env {
    Env::start(SimConfig {
        now: Some(ts(now)),
        ..config
    })
    .await
}

/// Every chart request the simulator answered was a success (no 422 for a request outside the window).
fn assert_no_errors(env: &Env) {
    let stats = env.sim.stats();
    assert!(
        stats.per_status.keys().all(|s| *s == 200),
        "{:?}",
        stats.per_status
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_minute_bars_over_30_sessions_and_hourly_bars_over_two_years() {
    let now = "2024-06-28T21:00:00Z";
    let env = at(now, SimConfig::default()).await;
    let tickers = ["MSFT", "AIR.PA"];
    for (interval, days, lookback_days, margin) in [
        ("1m", "30", 30, SignedDuration::from_hours(1)),
        ("1h", "504", 730, SignedDuration::from_hours(24)),
    ] {
        env.sim.reset();
        let args = [
            "--tickers",
            "MSFT,AIR.PA",
            "--interval",
            interval,
            "--days",
            days,
            "--rate",
            "0",
            "--now",
            now,
            "--json",
        ];
        let out = env.run(&args).await;
        assert_eq!(out.status.code(), Some(0), "{interval}: {}", describe(&out));
        assert_no_errors(&env);
        let doc = stdout_json(&out);
        let iv = Interval::parse(interval).unwrap();
        let earliest = ts(now) - SignedDuration::from_hours(24 * lookback_days) + margin;
        let store = Store::open(env.store_dir()).unwrap();
        for t in tickers {
            let report = doc["tickers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["symbol"] == t)
                .unwrap();
            assert_eq!(report["status"], "saved", "{report}");
            let first: Date = report["first"].as_str().unwrap().parse().unwrap();
            let tz = Calendar::new(exchange_for_symbol(&sym(t)).unwrap())
                .timezone()
                .clone();
            let window_start = first.to_zoned_datetime(tz).unwrap().timestamp();
            if window_start < earliest {
                // The window reaches further back than the provider keeps: said, not asked.
                assert!(
                    report["warnings"].to_string().contains("cannot be fetched"),
                    "{report}"
                );
            }
            let range = TimeRange::new(earliest.max(window_start), ts(now)).unwrap();
            let truth = env.sim.market().bars(&sym(t), iv, range, ts(now));
            let stored = store.read_bars(&sym(t), iv, None).unwrap();
            assert!(truth.len() > 1000, "{t} {interval}: {}", truth.len());
            assert_eq!(stored.len(), truth.len(), "{t} {interval}");
            assert_eq!(stored, truth, "{t} {interval}");
        }
        if interval == "1m" {
            // 1m requests are at most 7 days wide.
            assert!(
                env.sim.stats().chart_requests >= 2 * 4,
                "{:?}",
                env.sim.stats()
            );
        }
        env.sim.reset();
        let out = env.run(&args).await;
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        assert_eq!(
            env.sim.stats().chart_requests,
            0,
            "{interval}: the rerun asks nothing"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_during_the_session_is_provisional_and_the_next_run_refreshes_only_it() {
    let t1 = "2024-06-27T15:00:00Z"; // Thursday 11:00 in New York
    let env = at(t1, SimConfig::default()).await;
    let run = |now: &'static str| {
        let env = &env;
        async move {
            env.sim.set_now(ts(now));
            env.sim.reset();
            let out = env
                .run(&[
                    "--tickers",
                    "MSFT",
                    "--interval",
                    "5m",
                    "--days",
                    "3",
                    "--rate",
                    "0",
                    "--now",
                    now,
                    "--json",
                ])
                .await;
            assert_eq!(out.status.code(), Some(0), "{now}: {}", describe(&out));
            assert_no_errors(env);
        }
    };
    let window = TimeRange::new(ts("2024-06-25T00:00:00Z"), ts("2024-06-28T00:00:00Z")).unwrap();
    let msft = sym("MSFT");
    let stored = || {
        Store::open(env.store_dir())
            .unwrap()
            .read_bars(&msft, Interval::M5, None)
            .unwrap()
    };

    run(t1).await;
    let first = stored();
    assert_eq!(
        first,
        env.sim.market().bars(&msft, Interval::M5, window, ts(t1))
    );
    let ledger = Store::open(env.store_dir())
        .unwrap()
        .ledger(&msft, Interval::M5)
        .unwrap();
    assert!(
        ledger.provisional().contains(ts("2024-06-27T14:00:00Z")),
        "the open session is provisional: {ledger:?}"
    );
    let closed: Vec<_> = first
        .iter()
        .filter(|b| b.ts < ts("2024-06-27T04:00:00Z"))
        .copied()
        .collect();
    assert_eq!(closed.len(), 2 * 78);

    // Later the same day: only the live session is asked again, and the closed bars stay as they were.
    let t2 = "2024-06-27T17:30:00Z";
    run(t2).await;
    assert_eq!(env.sim.stats().chart_requests, 1);
    let second = stored();
    assert_eq!(
        second,
        env.sim.market().bars(&msft, Interval::M5, window, ts(t2))
    );
    assert!(second.len() > first.len());
    assert_eq!(
        &second[..closed.len()],
        &closed[..],
        "closed bars untouched"
    );

    // After the close: refreshed once more, then final.
    let t3 = "2024-06-27T21:00:00Z";
    run(t3).await;
    assert_eq!(env.sim.stats().chart_requests, 1);
    assert_eq!(
        stored(),
        env.sim.market().bars(&msft, Interval::M5, window, ts(t3))
    );
    run(t3).await;
    assert_eq!(
        env.sim.stats().chart_requests,
        0,
        "nothing provisional is left"
    );
}

/// A symbol of the simulator with a split between 2012 and 2024, and that split's instant.
fn symbol_with_a_split(env: &Env) -> (Symbol, Timestamp, f64) {
    let span = TimeRange::new(ts("2012-01-01T00:00:00Z"), ts("2024-01-01T00:00:00Z")).unwrap();
    for i in 0..500 {
        let s = sym(&format!("SPL{i:03}"));
        let actions = env
            .sim
            .market()
            .actions(&s, span, ts("2025-01-01T00:00:00Z"));
        if let Some(a) = actions
            .iter()
            .find(|a| matches!(a.kind, ActionKind::Split { .. }))
        {
            return (s, a.ts, a.split_ratio().unwrap());
        }
    }
    panic!("no simulated symbol has a split");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_after_the_first_backfill_puts_the_whole_history_on_the_new_basis() {
    let env = at("2025-01-01T00:00:00Z", SimConfig::default()).await;
    let (s, split, ratio) = symbol_with_a_split(&env);
    let before = (split - SignedDuration::from_hours(24 * 10)).to_string();
    let after = (split + SignedDuration::from_hours(24 * 10)).to_string();
    let name = s.to_string();
    let args = |now: &str| {
        vec![
            "--tickers".to_owned(),
            name.clone(),
            "--days".into(),
            "252".into(),
            "--rate".into(),
            "0".into(),
            "--now".into(),
            now.to_owned(),
            "--json".into(),
        ]
    };

    env.sim.set_now(ts(&before));
    let out = env
        .run(&args(&before).iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let store = Store::open(env.store_dir()).unwrap();
    let old = store.read_bars(&s, Interval::D1, None).unwrap();
    assert!(old.len() > 200);

    env.sim.set_now(ts(&after));
    let out = env
        .run(&args(&after).iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let doc = stdout_json(&out);
    assert_eq!(doc["tickers"][0]["adjusted"], true, "{doc}");
    assert!(
        doc["tickers"][0]["warnings"].to_string().contains("split"),
        "{doc}"
    );

    let stored = store.read_bars(&s, Interval::D1, None).unwrap();
    let span = TimeRange::new(
        stored[0].ts,
        stored.last().unwrap().ts + SignedDuration::from_secs(1),
    )
    .unwrap();
    assert_eq!(
        stored,
        env.sim.market().bars(&s, Interval::D1, span, ts(&after)),
        "every stored bar is on the new basis"
    );
    // The bar before the split was divided by the ratio.
    let was = old.iter().find(|b| b.ts < split).unwrap();
    let now = stored.iter().find(|b| b.ts == was.ts).unwrap();
    assert!(
        (now.close * ratio - was.close).abs() / was.close < 1e-4,
        "{was:?} -> {now:?} (ratio {ratio})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_bad_bars_are_reported_by_the_run_and_by_check() {
    let now = "2024-07-01T00:00:00Z";
    let config = SimConfig {
        bad_symbols: vec!["NVDA".into()],
        ..SimConfig::default()
    };
    let env = at(now, config).await;
    let nvda = sym("NVDA");
    let base = [
        "--tickers",
        "NVDA,MSFT",
        "--days",
        "252",
        "--rate",
        "0",
        "--now",
        now,
        "--end",
        "2024-06-28",
    ];
    let out = env.run(&[&base[..], &["--json"]].concat()).await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let doc = stdout_json(&out);
    let range = crate::harness::window_range(&nvda, 252, "2024-06-28".parse().unwrap());
    let bad = env
        .sim
        .market()
        .bad_bars(&nvda, Interval::D1, range, ts(now));
    assert!(!bad.is_empty());
    let by = |s: &str| {
        doc["tickers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["symbol"] == s)
            .unwrap()
            .clone()
    };
    assert_eq!(by("NVDA")["invalid_bars"], bad.len());
    assert_eq!(by("MSFT")["invalid_bars"], 0);

    let select = [&["check"][..], &base[..4], &base[6..], &["--json"]].concat();
    let out = env.run(&select).await;
    let doc = stdout_json(&out);
    let t = doc["tickers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["symbol"] == "NVDA")
        .unwrap();
    let flagged: BTreeSet<String> = t["flagged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["ts"].as_str().unwrap().to_owned())
        .collect();
    let want: BTreeSet<String> = bad.iter().map(|(ts, _)| ts.to_string()).collect();
    assert_eq!(flagged, want);
    // Kept as sent: the store holds exactly what was served, bad bars included.
    let store = Store::open(env.store_dir()).unwrap();
    assert_eq!(
        store.read_bars(&nvda, Interval::D1, None).unwrap(),
        env.sim.market().bars(&nvda, Interval::D1, range, ts(now))
    );

    // --invalid-bars drop: the same run into a fresh store leaves them out.
    let fresh = at(
        now,
        SimConfig {
            bad_symbols: vec!["NVDA".into()],
            ..SimConfig::default()
        },
    )
    .await;
    let out = fresh
        .run(&[&base[..], &["--invalid-bars", "drop"]].concat())
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let kept = Store::open(fresh.store_dir())
        .unwrap()
        .read_bars(&nvda, Interval::D1, None)
        .unwrap();
    let bad_ts: BTreeSet<Timestamp> = bad.iter().map(|(t, _)| *t).collect();
    let truth: Vec<_> = env
        .sim
        .market()
        .bars(&nvda, Interval::D1, range, ts(now))
        .into_iter()
        .filter(|b| !bad_ts.contains(&b.ts))
        .collect();
    assert_eq!(kept, truth);
}
