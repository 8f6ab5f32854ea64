//! Issue acceptance: the 40-ticker run, the rerun, failures and throttling, unknown tickers, kills.

use std::time::Duration;

use backfill_domain::jiff::civil::{Date, date};
use backfill_sim::SimConfig;

use crate::harness::{Env, describe, portfolio, stdout_json};

const END: Date = date(2024, 6, 28);

fn tickers_arg(t: &[String]) -> String {
    t.join(",")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_tickers_then_a_rerun_that_asks_nothing() {
    let env = Env::start(SimConfig {
        latency: Duration::from_millis(20),
        ..SimConfig::default()
    })
    .await;
    let tickers = portfolio();
    assert_eq!(tickers.len(), 40);
    let list = tickers_arg(&tickers);
    let args = [
        "--tickers",
        &list,
        "--days",
        "252",
        "--workers",
        "8",
        "--rate",
        "0",
        "--end",
        "2024-06-28",
        "--json",
    ];

    let out = env.run(&args).await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let doc = stdout_json(&out);
    assert_eq!(doc["tickers"].as_array().unwrap().len(), 40);
    for t in doc["tickers"].as_array().unwrap() {
        assert_eq!(t["status"], "saved", "{t}");
        assert_eq!(
            t["requests"], 1,
            "{t}: one request covers a year of daily bars"
        );
        assert_eq!(t["last"], "2024-06-28", "{t}");
    }
    assert_eq!(env.sim.stats().chart_requests, 40);
    env.assert_store_matches(&tickers, 252, END);

    // The same command again: zero chart requests, every ticker up to date.
    env.sim.reset();
    let out = env.run(&args).await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        env.sim.stats().chart_requests,
        0,
        "a rerun over fresh data must send nothing"
    );
    for t in stdout_json(&out)["tickers"].as_array().unwrap() {
        assert_eq!(t["status"], "up_to_date", "{t}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerun_sends_nothing_whatever_day_the_window_ends_on() {
    let env = Env::start(SimConfig::default()).await;
    let tickers = [
        "MSFT", "AIR.PA", "OCDO.L", "7203.T", "BTC-USD", "EURUSD=X", "^GSPC", "RY.TO",
    ]
    .map(String::from);
    let list = tickers.join(",");
    // A Saturday, US Independence Day, Good Friday, Christmas Day, a Monday after a holiday.
    for end in [
        "2024-06-29",
        "2024-07-04",
        "2024-03-29",
        "2023-12-25",
        "2024-01-16",
    ] {
        let args = [
            "--tickers",
            &list,
            "--days",
            "60",
            "--rate",
            "0",
            "--end",
            end,
            "--json",
        ];
        let out = env.run(&args).await;
        assert_eq!(out.status.code(), Some(0), "{end}: {}", describe(&out));
        env.sim.reset();
        let out = env.run(&args).await;
        assert_eq!(out.status.code(), Some(0), "{end}: {}", describe(&out));
        assert_eq!(
            env.sim.stats().chart_requests,
            0,
            "{end}: rerun sent requests: {}",
            describe(&out)
        );
        env.assert_store_matches(&tickers, 60, end.parse().unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_and_a_strict_rate_limit_still_give_the_identical_store() {
    let env = Env::start(SimConfig {
        fail_rate: 0.2,
        rate: Some(20.0),
        seed: 7,
        ..SimConfig::default()
    })
    .await;
    let tickers = portfolio();
    let list = tickers_arg(&tickers);
    let out = env
        .run(&[
            "--tickers",
            &list,
            "--days",
            "252",
            "--workers",
            "8",
            "--rate",
            "20",
            "--retries",
            "8",
            "--end",
            "2024-06-28",
            "--json",
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stats = env.sim.stats();
    assert!(
        stats.requests_total > 40,
        "failures were injected and retried: {stats:?}"
    );
    env.assert_store_matches(&tickers, 252, END);
    let doc = stdout_json(&out);
    assert!(doc["totals"]["retries"].as_u64().unwrap() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_ticker_is_not_found_after_one_request_and_the_rest_are_saved() {
    let env = Env::start(SimConfig::default()).await;
    let out = env
        .run(&[
            "--tickers",
            "MSFT,ZZNOPE,AIR.PA",
            "--days",
            "20",
            "--rate",
            "0",
            "--end",
            "2024-06-28",
            "--json",
        ])
        .await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "partial failure exit code: {}",
        describe(&out)
    );
    let doc = stdout_json(&out);
    let by = |s: &str| {
        doc["tickers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["symbol"] == s)
            .unwrap()
            .clone()
    };
    assert_eq!(by("ZZNOPE")["status"], "not_found");
    assert_eq!(by("ZZNOPE")["requests"], 1);
    assert_eq!(env.sim.stats().per_symbol.get("ZZNOPE"), Some(&1));
    assert_eq!(by("MSFT")["status"], "saved");
    assert_eq!(by("AIR.PA")["status"], "saved");
    env.assert_store_matches(&["MSFT".into(), "AIR.PA".into()], 20, END);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_a_random_moment_then_the_same_command_ends_exactly_right() {
    let env = Env::start(SimConfig {
        latency: Duration::from_millis(30),
        ..SimConfig::default()
    })
    .await;
    let tickers = portfolio();
    let list = tickers_arg(&tickers);
    let args = [
        "--tickers",
        &list,
        "--days",
        "252",
        "--workers",
        "4",
        "--rate",
        "0",
        "--end",
        "2024-06-28",
        "-q",
    ];
    let mut rng = fastrand::Rng::with_seed(2024);
    for round in 0..4 {
        let mut child = env.command(&args).spawn().unwrap();
        let after = Duration::from_millis(rng.u64(20..600));
        tokio::time::sleep(after).await;
        let _ = child.kill(); // SIGKILL
        let _ = tokio::task::spawn_blocking(move || child.wait()).await;
        let out = env.run(&args).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "round {round} after {after:?}: {}",
            describe(&out)
        );
        env.assert_store_matches(&tickers, 252, END);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_tickers_anywhere_is_a_usage_error_that_says_how() {
    let env = Env::start(SimConfig::default()).await;
    let out = env.run(&[]).await;
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--tickers") && err.contains("backfill.toml"),
        "{err}"
    );
    assert_eq!(env.sim.stats().requests_total, 0);
}
