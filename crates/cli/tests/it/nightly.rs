//! Issue acceptance: seven nights with the simulator's clock moving one night at a time, a run each
//! night, then a store fetched fresh after the last night, compared bar by bar with the nightly
//! store and with the simulator's ground truth. The nights are at 22:00 UTC, when the local date
//! in Tokyo, Hong Kong, Seoul, Shanghai, Mumbai and Wellington is already the next day.
//!
//! The binary takes "now" from the hidden `--now` flag, set to the simulator's clock each night.

use backfill_domain::jiff::civil::Date;
use backfill_domain::jiff::tz::TimeZone;
use backfill_domain::jiff::{Timestamp, ToSpan};
use backfill_domain::{Interval, Symbol, TimeRange};
use backfill_sim::SimConfig;
use backfill_store::Store;

use crate::harness::{Env, describe, stdout_json};

/// Friday 2025-01-31 to Thursday 2025-02-06: a weekend, a month end, and Waitangi Day (6 February,
/// a holiday of the `.NZ` venue that only the simulator knows).
const NIGHTS: [&str; 7] = [
    "2025-01-31T22:00:00Z",
    "2025-02-01T22:00:00Z",
    "2025-02-02T22:00:00Z",
    "2025-02-03T22:00:00Z",
    "2025-02-04T22:00:00Z",
    "2025-02-05T22:00:00Z",
    "2025-02-06T22:00:00Z",
];

/// `AIR.NZ` trades on a venue with no built-in calendar.
const DAILY: &str = "AAPL,7203.T,0700.HK,005930.KS,RELIANCE.NS,600519.SS,NESN.SW,AIR.NZ";
const WEEKLY: &str = "AAPL,0700.HK,AIR.NZ";
const MONTHLY: &str = "AAPL,NESN.SW,AIR.NZ";

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// The arguments of one night's run at `night`; `with_end` adds `--end <the night's UTC date>`.
fn args(tickers: &str, interval: &str, days: &str, night: &str, with_end: bool) -> Vec<String> {
    let mut a: Vec<String> = [
        "--tickers",
        tickers,
        "--interval",
        interval,
        "--days",
        days,
        "--rate",
        "0",
        "--now",
        night,
        "--json",
    ]
    .map(str::to_owned)
    .to_vec();
    if with_end {
        a.push("--end".into());
        a.push(night[..10].to_owned());
    }
    a
}

/// Runs the binary on `store` against the simulator (a subcommand, if any, first in `args`).
async fn run_ok(env: &Env, store: &std::path::Path, args: &[String]) -> serde_json::Value {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_backfill"));
    cmd.current_dir(env.dir.path())
        .env_remove("BACKFILL_STORE")
        .env_remove("BACKFILL_CONFIG")
        .env_remove("BACKFILL_YAHOO_URL")
        .args(args)
        .arg("--store")
        .arg(store);
    if args.first().is_none_or(|a| a != "check") {
        cmd.arg("--yahoo-url").arg(env.sim.url());
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    stdout_json(&out)
}

/// Nightly runs, then a fresh store, for one interval; returns the env for further checks.
async fn nightly_equals_fresh(interval: &str, tickers: &str, days: &str, with_end: bool) -> Env {
    let env = Env::start(SimConfig::default()).await;
    let nightly = env.dir.path().join("nightly");
    let fresh = env.dir.path().join("fresh");
    for night in NIGHTS {
        env.sim.set_now(ts(night));
        let doc = run_ok(
            &env,
            &nightly,
            &args(tickers, interval, days, night, with_end),
        )
        .await;
        for t in doc["tickers"].as_array().unwrap() {
            assert!(
                t["status"] == "saved" || t["status"] == "up_to_date",
                "{night} {interval}: {t}"
            );
        }
    }
    let last = *NIGHTS.last().unwrap();
    run_ok(&env, &fresh, &args(tickers, interval, days, last, with_end)).await;
    // `check --strict` finds the nightly window complete: nothing missing, no empty session.
    let mut a = args(tickers, interval, days, last, with_end);
    // `check` sends nothing, so it takes no `--rate`.
    let rate = a.iter().position(|x| x == "--rate").unwrap();
    a.drain(rate..rate + 2);
    a.insert(0, "check".into());
    a.insert(1, "--strict".into());
    let check = run_ok(&env, &nightly, &a).await;
    let mut window_first = std::collections::BTreeMap::new();
    for t in check["tickers"].as_array().unwrap() {
        assert_eq!(
            (&t["missing"], &t["no_data"]),
            (&0.into(), &0.into()),
            "{t}"
        );
        assert_eq!(t["stored"], t["sessions"], "{t}");
        let first: Date = t["window_first"].as_str().unwrap().parse().unwrap();
        window_first.insert(t["symbol"].as_str().unwrap().to_owned(), first);
    }

    let iv = Interval::parse(interval).unwrap();
    let now = ts(last);
    let (n, f) = (Store::open(&nightly).unwrap(), Store::open(&fresh).unwrap());
    for t in tickers.split(',') {
        let symbol = Symbol::parse(t).unwrap();
        let zone = n.read_meta(&symbol).unwrap().unwrap().timezone.unwrap();
        let tz = TimeZone::get(&zone).unwrap();
        let fresh_bars = f.read_bars(&symbol, iv, None).unwrap();
        let nightly_bars = n.read_bars(&symbol, iv, None).unwrap();
        let last_date: Date = nightly_bars.last().unwrap().date;
        let end = last_date
            .checked_add(1.day())
            .unwrap()
            .to_zoned_datetime(tz)
            .unwrap()
            .timestamp()
            .min(now);
        // The fresh store reaches back to the start of the nightly window.
        assert!(fresh_bars[0].date <= window_first[t], "{t} {interval}");
        let range = TimeRange::new(fresh_bars[0].ts, end).unwrap();
        let within = |bars: &[backfill_domain::Bar]| -> Vec<backfill_domain::Bar> {
            bars.iter()
                .filter(|b| range.contains(b.ts))
                .copied()
                .collect()
        };
        let truth = env.sim.market().bars(&symbol, iv, range, now);
        let what = format!("{t} {interval} with_end={with_end} over {range:?}");
        assert!(!truth.is_empty(), "{what}: the simulator has bars");
        assert_eq!(within(&fresh_bars), truth, "{what}: fresh store vs truth");
        assert_eq!(
            within(&nightly_bars),
            truth,
            "{what}: nightly store vs fresh"
        );
    }
    env
}

/// After the last night, the same command again asks only for periods still in progress.
async fn rerun_asks_nothing_closed(env: &Env, interval: &str, tickers: &str, days: &str) {
    let last = *NIGHTS.last().unwrap();
    let nightly = env.dir.path().join("nightly");
    let mut a = args(tickers, interval, days, last, true);
    a.insert(0, "plan".into());
    let doc = run_ok(env, &nightly, &a).await;
    for t in doc["tickers"].as_array().unwrap() {
        let requests = t["requests"].as_array().unwrap();
        if interval == "1d" {
            assert!(requests.is_empty(), "{t}");
        } else {
            // At most the period in progress, and nothing before it.
            assert!(requests.len() <= 1, "{t}");
            for r in requests {
                assert_eq!(r["sessions"], 1, "{t}");
                assert_eq!(r["provisional"], true, "{t}");
            }
        }
    }
    env.sim.reset();
    a.remove(0);
    run_ok(env, &nightly, &a).await;
    let stats = env.sim.stats();
    let per_ticker_max = u64::from(interval != "1d");
    for t in tickers.split(',') {
        let sent = stats.per_symbol.get(t).copied().unwrap_or(0);
        assert!(sent <= per_ticker_max, "{t} {interval}: {sent} requests");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seven_nights_of_daily_bars_with_end_equal_a_fresh_store() {
    let env = nightly_equals_fresh("1d", DAILY, "10", true).await;
    rerun_asks_nothing_closed(&env, "1d", DAILY, "10").await;
    // The venue's holiday was learned from an empty answer and is no longer a session.
    let nightly = env.dir.path().join("nightly");
    let closures = Store::open(&nightly)
        .unwrap()
        .learned_closures("NZE")
        .unwrap();
    assert!(
        closures.contains(&backfill_domain::jiff::civil::date(2025, 2, 6)),
        "{closures:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seven_nights_of_daily_bars_without_end_equal_a_fresh_store() {
    nightly_equals_fresh("1d", DAILY, "10", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seven_nights_of_weekly_bars_keep_the_current_week_provisional() {
    let env = nightly_equals_fresh("1wk", WEEKLY, "10", true).await;
    rerun_asks_nothing_closed(&env, "1wk", WEEKLY, "10").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seven_nights_of_monthly_bars_keep_the_current_month_provisional() {
    let env = nightly_equals_fresh("1mo", MONTHLY, "30", true).await;
    rerun_asks_nothing_closed(&env, "1mo", MONTHLY, "30").await;
}

/// Past the year their holiday tables end (2026), XSHG and XBOM learn their closures from empty
/// answers like a venue without a calendar. The simulator closes Shanghai 8–12 February 2027 and
/// Mumbai 22 March 2027, days `backfill_calendar` calls sessions. Nights inside a closure leave
/// its days undecided (no trade since), the next night decides them; each closed day is then
/// never asked again, every served bar is stored, and `check --strict` finds nothing empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_its_holiday_tables_an_exchange_learns_its_closures_and_stores_every_bar() {
    const TICKERS: &str = "600519.SS,RELIANCE.NS";
    const NIGHTS_2027: [&str; 5] = [
        "2027-02-05T22:00:00Z",
        "2027-02-09T22:00:00Z",
        "2027-02-16T22:00:00Z",
        "2027-03-22T22:00:00Z",
        "2027-03-24T22:00:00Z",
    ];
    let env = Env::start(SimConfig::default()).await;
    let store = env.dir.path().join("store");
    let learned = |venue: &str| {
        Store::open(&store)
            .unwrap()
            .learned_closures(venue)
            .unwrap()
    };
    for night in NIGHTS_2027 {
        env.sim.set_now(ts(night));
        let doc = run_ok(&env, &store, &args(TICKERS, "1d", "40", night, true)).await;
        for t in doc["tickers"].as_array().unwrap() {
            assert!(
                t["status"] == "saved" || t["status"] == "up_to_date",
                "{night}: {t}"
            );
        }
        if night == "2027-02-09T22:00:00Z" {
            // No trade since the 5th: the 8th and 9th may be trading not reported yet.
            assert!(learned("XSHG").is_empty(), "{:?}", learned("XSHG"));
        }
    }
    let closed = |d: i8, m: i8| backfill_domain::jiff::civil::date(2027, m, d);
    assert_eq!(
        learned("XSHG").into_iter().collect::<Vec<_>>(),
        (8..=12).map(|d| closed(d, 2)).collect::<Vec<_>>()
    );
    assert_eq!(
        learned("XBOM").into_iter().collect::<Vec<_>>(),
        vec![closed(22, 3)]
    );

    // Every bar the simulator serves over the window is stored, the 2027 ones included.
    let last = *NIGHTS_2027.last().unwrap();
    let s = Store::open(&store).unwrap();
    for t in TICKERS.split(',') {
        let symbol = Symbol::parse(t).unwrap();
        let stored = s.read_bars(&symbol, Interval::D1, None).unwrap();
        let range = TimeRange::new(stored[0].ts, ts(last)).unwrap();
        let truth = env
            .sim
            .market()
            .bars(&symbol, Interval::D1, range, ts(last));
        assert!(truth.iter().any(|b| b.date > closed(12, 2)), "{t}");
        assert_eq!(stored, truth, "{t}");
    }

    // The closed days are not asked again: the same run sends nothing.
    env.sim.reset();
    run_ok(&env, &store, &args(TICKERS, "1d", "40", last, true)).await;
    assert_eq!(env.sim.stats().per_symbol.values().sum::<u64>(), 0);
    let mut a = args(TICKERS, "1d", "40", last, true);
    let rate = a.iter().position(|x| x == "--rate").unwrap();
    a.drain(rate..rate + 2);
    a.insert(0, "check".into());
    a.insert(1, "--strict".into());
    let check = run_ok(&env, &store, &a).await;
    for t in check["tickers"].as_array().unwrap() {
        assert_eq!(
            (&t["missing"], &t["no_data"]),
            (&0.into(), &0.into()),
            "{t}"
        );
        assert_eq!(t["stored"], t["sessions"], "{t}");
    }
}

/// Intraday bars at the provider's lookback edge (30 days for `1m`, plus an hour of margin):
/// nights at 15:00 UTC put the edge inside a New York session (30 days before a Wednesday,
/// Thursday and Friday; the Monday's edge is on a Saturday) and New York's session in progress.
/// `--days 30` asks for more than the provider keeps. After every night's run `check --strict`
/// exits 0 (sessions past the edge are "not available", none is missing), the store holds every
/// bar the provider serves from the edge on, and a plan at the same instant asks only for the
/// session in progress.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intraday_check_strict_exits_0_at_the_lookback_edge_night_after_night() {
    const TICKERS: &str = "AAPL,0700.HK";
    const EDGE_NIGHTS: [&str; 4] = [
        "2025-02-05T15:00:00Z",
        "2025-02-06T15:00:00Z",
        "2025-02-07T15:00:00Z",
        "2025-02-10T15:00:00Z",
    ];
    let env = Env::start(SimConfig::default()).await;
    let store = env.dir.path().join("store");
    for night in EDGE_NIGHTS {
        env.sim.set_now(ts(night));
        run_ok(&env, &store, &args(TICKERS, "1m", "30", night, false)).await;
        // Asked again at the same instant, the plan holds only New York's session in progress:
        // the session at the edge was answered from where the plan said it would be.
        let mut p = args(TICKERS, "1m", "30", night, false);
        p.insert(0, "plan".into());
        let plan = run_ok(&env, &store, &p).await;
        for t in plan["tickers"].as_array().unwrap() {
            let requests = t["requests"].as_array().unwrap();
            let open = usize::from(t["symbol"] == "AAPL");
            assert_eq!(requests.len(), open, "{night}: {t}");
            assert!(requests.iter().all(|r| r["provisional"] == true), "{t}");
        }
        let mut a = args(TICKERS, "1m", "30", night, false);
        let rate = a.iter().position(|x| x == "--rate").unwrap();
        a.drain(rate..rate + 2);
        a.insert(0, "check".into());
        a.insert(1, "--strict".into());
        let check = run_ok(&env, &store, &a).await;
        for t in check["tickers"].as_array().unwrap() {
            assert_eq!(t["missing"], 0, "{night}: {t}");
            assert_eq!(t["no_data"], 0, "{night}: {t}");
            assert!(t["not_available"].as_u64().unwrap() > 0, "{night}: {t}");
            assert_eq!(
                t["stored"].as_u64().unwrap() + t["not_available"].as_u64().unwrap(),
                t["sessions"].as_u64().unwrap(),
                "{night}: {t}"
            );
        }
        // The store holds what the provider serves, from the edge to the night.
        let s = Store::open(&store).unwrap();
        for t in TICKERS.split(',') {
            let symbol = Symbol::parse(t).unwrap();
            let stored = s.read_bars(&symbol, Interval::M1, None).unwrap();
            let edge = ts(night) - backfill_domain::jiff::SignedDuration::from_hours(24 * 30 - 1);
            let range = TimeRange::new(edge, ts(night)).unwrap();
            let truth = env
                .sim
                .market()
                .bars(&symbol, Interval::M1, range, ts(night));
            let within: Vec<_> = stored
                .iter()
                .filter(|b| range.contains(b.ts))
                .copied()
                .collect();
            assert_eq!(within, truth, "{night} {t}");
        }
    }
}
