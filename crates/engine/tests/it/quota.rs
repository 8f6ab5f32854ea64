//! Tiingo's hourly quota spent mid-run, on a paused clock: the real Tiingo client against the
//! simulator, whose quota clock the paused clock moves.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use backfill_domain::jiff::Timestamp;
use backfill_domain::{Interval, Symbol};
use backfill_engine::limits::{Limits, Rate};
use backfill_engine::plan::WindowSpec;
use backfill_engine::{Cancel, Engine, PrepareInput, RunConfig, Silent, Status, prepare};
use backfill_provider::retry::RetryPolicy;
use backfill_provider::tiingo::{TiingoConfig, TiingoProvider};
use backfill_provider::{Provider, Secret};
use backfill_sim::{SimConfig, SimServer};
use tokio::time::Instant;

use crate::store;

/// On the hour, so the quota's hour ends 3,600 s into the run.
const NOW: &str = "2025-06-02T12:00:00Z";

const TICKERS: [&str; 25] = [
    "AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "META", "TSLA", "BRK-B", "JPM", "V", "JNJ", "WMT",
    "PG", "XOM", "UNH", "HD", "KO", "PEP", "COST", "DIS", "IBM", "INTC", "CSCO", "ORCL", "NFLX",
];

/// The simulator allows 20 requests in its clock hour, fewer than the 50 the client declares
/// (another process spent part of the hour): request 21 gets Tiingo's 429 "hourly request
/// allocation". The run pauses Tiingo until the hour rolls over, spends no retry on it, then
/// fetches the rest; the store holds exactly the simulator's bars.
#[tokio::test(start_paused = true)]
async fn tiingo_hourly_quota_spent_mid_run_waits_for_the_next_hour_without_retries() {
    let server = SimServer::start(
        SimConfig {
            now: Some(NOW.parse().unwrap()),
            tiingo_per_hour: Some(20),
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    // Timeouts far beyond the run: the paused clock jumps an hour while nothing is in flight.
    let day = Duration::from_hours(24 * 30);
    let provider = TiingoProvider::new(TiingoConfig {
        base_url: server.url(),
        connect_timeout: day,
        read_timeout: day,
        request_timeout: day,
        ..TiingoConfig::new(Secret::new("k"))
    })
    .unwrap();
    assert_eq!(provider.quotas().per_hour, Some(50));
    let (_dir, store) = store();
    let tickers: Vec<Symbol> = TICKERS.iter().map(|s| Symbol::parse(s).unwrap()).collect();
    let closures = BTreeMap::new();
    let now: Timestamp = NOW.parse().unwrap();
    let prepared = prepare(
        &store,
        &PrepareInput {
            tickers: &tickers,
            interval: Interval::D1,
            spec: WindowSpec {
                start: None,
                end: None,
                days: 252,
            },
            window: provider.window(Interval::D1),
            now,
            no_gaps: false,
            closures: &closures,
        },
    );
    assert!(prepared.failed.is_empty());
    let windows: Vec<_> = prepared
        .plans
        .iter()
        .map(|p| (p.symbol.clone(), p.requests[0].range))
        .collect();
    let config = RunConfig {
        workers: 4,
        limits: Limits::new(Rate::Unlimited, provider.quotas()),
        max_wait: Duration::from_hours(1),
        retry: RetryPolicy {
            max_retries: 5,
            ..RetryPolicy::default()
        },
        seed: Some(7),
        invalid_bars: backfill_engine::validate::InvalidBars::Keep,
    };
    let engine = Engine::new(Arc::new(provider), store.clone(), config);
    let start = Instant::now();
    let report = engine
        .run(
            prepared.plans,
            prepared.failed,
            Arc::new(Silent),
            Cancel::new(),
        )
        .await;
    let elapsed = start.elapsed();

    let refused = server.stats().per_status.get(&429).copied().unwrap_or(0);
    assert!((1..=4).contains(&refused), "{refused} answers were 429");
    assert!(report.is_complete(), "{report:#?}");
    assert_eq!(report.totals.retries, 0, "{report:#?}");
    assert!(report.tickers.iter().all(|t| t.status == Status::Saved));
    assert_eq!(report.totals.requests, 25 + refused);
    assert!(
        (Duration::from_secs(3590)..Duration::from_secs(3700)).contains(&elapsed),
        "the run waited {elapsed:?}, not until the next hour"
    );
    assert!(engine.limiter().throttled_total() >= Duration::from_secs(3590));
    for (symbol, range) in windows {
        let truth = server.market().bars(&symbol, Interval::D1, range, now);
        assert!(!truth.is_empty(), "{symbol}");
        let stored = store.read_bars(&symbol, Interval::D1, None).unwrap();
        assert_eq!(stored, truth, "{symbol}");
    }
    server.shutdown().await;
}
