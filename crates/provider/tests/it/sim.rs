//! The Yahoo client against the simulator: the conformance suite, the single-flight crumb, and the
//! 40-symbol acceptance run with injected failures and a rate limit.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use backfill_domain::{Action, Bar, Interval, Symbol, SymbolMeta, TimeRange};
use backfill_provider::conformance::{self, Truth};
use backfill_provider::retry::RetryPolicy;
use backfill_provider::yahoo::{YahooConfig, YahooProvider};
use backfill_provider::{Answer, FetchError, FetchRequest, Provider};
use backfill_sim::{Market, SimConfig, SimServer};
use jiff::Timestamp;

use crate::{at, request, unknown_request, weekend_request};

/// The simulators' fixed clock in these tests.
pub const NOW: &str = "2025-06-02T12:00:00Z";

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

/// A simulator on loopback with its clock at [`NOW`].
pub async fn sim(config: SimConfig) -> SimServer {
    SimServer::start(
        SimConfig {
            now: Some(at(NOW)),
            ..config
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

fn yahoo(server: &SimServer) -> YahooProvider {
    YahooProvider::new(YahooConfig {
        base_url: server.url(),
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(10),
        ..YahooConfig::default()
    })
    .unwrap()
}

struct SimTruth<'a> {
    market: &'a Market,
    now: Timestamp,
}

impl Truth for SimTruth<'_> {
    fn known(&self) -> Vec<FetchRequest> {
        vec![
            request(
                "AAPL",
                Interval::D1,
                "2024-01-01T00:00:00Z",
                "2025-01-01T00:00:00Z",
            ),
            request(
                "AIR.PA",
                Interval::D1,
                "2024-03-01T00:00:00Z",
                "2024-06-01T00:00:00Z",
            ),
            request(
                "OCDO.L",
                Interval::D1,
                "2024-03-01T00:00:00Z",
                "2024-06-01T00:00:00Z",
            ),
            request(
                "^GSPC",
                Interval::D1,
                "2023-01-01T00:00:00Z",
                "2024-01-01T00:00:00Z",
            ),
            request(
                "EURUSD=X",
                Interval::D1,
                "2024-12-15T00:00:00Z",
                "2025-01-15T00:00:00Z",
            ),
            request(
                "BTC-USD",
                Interval::D1,
                "2024-02-01T00:00:00Z",
                "2024-03-01T00:00:00Z",
            ),
            request(
                "BRK-B",
                Interval::W1,
                "2020-01-01T00:00:00Z",
                "2025-01-01T00:00:00Z",
            ),
            request(
                "MSFT",
                Interval::Mo1,
                "2015-01-01T00:00:00Z",
                "2025-01-01T00:00:00Z",
            ),
            request(
                "MSFT",
                Interval::H1,
                "2025-05-01T00:00:00Z",
                "2025-05-20T00:00:00Z",
            ),
            request(
                "AAPL",
                Interval::M5,
                "2025-05-20T00:00:00Z",
                "2025-05-27T00:00:00Z",
            ),
            request(
                "AAPL",
                Interval::M1,
                "2025-05-27T00:00:00Z",
                "2025-06-01T00:00:00Z",
            ),
        ]
    }
    fn empty(&self) -> Vec<FetchRequest> {
        vec![
            weekend_request(),
            request(
                "AIR.PA",
                Interval::M1,
                "2025-05-31T00:00:00Z",
                "2025-06-01T00:00:00Z",
            ),
        ]
    }
    fn unknown(&self) -> Vec<FetchRequest> {
        vec![unknown_request()]
    }
    fn bars(&self, req: &FetchRequest) -> Vec<Bar> {
        self.market
            .bars(&req.symbol, req.interval, req.range, self.now)
    }
    fn actions(&self, req: &FetchRequest) -> Vec<Action> {
        self.market.actions(&req.symbol, req.range, self.now)
    }
    fn meta(&self, symbol: &Symbol) -> Option<SymbolMeta> {
        self.market.meta(symbol, self.now)
    }
}

#[tokio::test]
async fn conformance_yahoo_over_sim() {
    let server = sim(SimConfig::default()).await;
    let provider = yahoo(&server);
    let truth = SimTruth {
        market: server.market(),
        now: server.now(),
    };
    let report = conformance::run(&provider, &truth)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(report.bars > 1000, "{report:?}");
    assert_eq!(server.stats().chart_requests, report.requests as u64);
    assert_eq!(
        provider.crumb_fetches(),
        0,
        "no crumb unless the server asks for one"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn meta_reports_what_the_provider_says() {
    let server = sim(SimConfig::default()).await;
    let a = yahoo(&server)
        .fetch(&request(
            "OCDO.L",
            Interval::D1,
            "2024-03-01T00:00:00Z",
            "2024-04-01T00:00:00Z",
        ))
        .await
        .unwrap();
    let want = server.market().meta(&sym("OCDO.L"), server.now()).unwrap();
    assert_eq!(a.meta.timezone.as_deref(), Some("Europe/London"));
    assert_eq!(a.meta.currency, want.currency);
    assert_eq!(a.meta.exchange_name, want.exchange_name);
    assert_eq!(a.meta.full_exchange_name, want.full_exchange_name);
    assert_eq!(a.meta.instrument_type, want.instrument_type);
    assert_eq!(a.meta.first_trade, want.first_trade);
    assert_eq!(a.meta.regular_market_time, want.regular_market_time);
    server.shutdown().await;
}

#[tokio::test]
async fn fifty_concurrent_401s_cause_one_crumb_fetch() {
    let server = sim(SimConfig {
        require_crumb: true,
        ..SimConfig::default()
    })
    .await;
    let provider = yahoo(&server);
    let market = server.market().clone();
    let now = server.now();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..50 {
        let p = provider.clone();
        let s = format!("S{i:02}");
        set.spawn(async move {
            let r = request(
                &s,
                Interval::D1,
                "2024-01-01T00:00:00Z",
                "2024-02-01T00:00:00Z",
            );
            (p.fetch(&r).await, r)
        });
    }
    while let Some(j) = set.join_next().await {
        let (got, r) = j.unwrap();
        let a = got.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.bars, market.bars(&r.symbol, r.interval, r.range, now));
    }
    assert_eq!(provider.crumb_fetches(), 1);
    let before = server.stats().chart_requests;
    assert!(before <= 100, "each request retried at most once: {before}");

    // After a rotation the next 401 refreshes once more, then the crumb is reused.
    server.rotate_crumb();
    let r = request(
        "MSFT",
        Interval::D1,
        "2024-01-01T00:00:00Z",
        "2024-02-01T00:00:00Z",
    );
    assert!(!provider.fetch(&r).await.unwrap().bars.is_empty());
    assert_eq!(provider.crumb_fetches(), 2);
    assert!(!provider.fetch(&r).await.unwrap().bars.is_empty());
    assert_eq!(provider.crumb_fetches(), 2);
    server.shutdown().await;
}

/// The symbols of the acceptance run: US equities and share classes, European and Asian listings,
/// indices, FX, crypto and funds.
pub const FORTY: [&str; 40] = [
    "AAPL", "MSFT", "GOOGL", "AMZN", "META", "NVDA", "TSLA", "JPM", "V", "JNJ", "WMT", "PG", "XOM",
    "KO", "PEP", "DIS", "CSCO", "INTC", "BRK-B", "BF-B", "AIR.PA", "MC.PA", "OCDO.L", "HSBA.L",
    "SAP.DE", "SIE.DE", "7203.T", "BHP.AX", "RY.TO", "^GSPC", "^DJI", "^IXIC", "^FTSE", "EURUSD=X",
    "GBPUSD=X", "BTC-USD", "ETH-USD", "SPY", "VFINX", "QQQ",
];

/// Spaces request starts across all workers (the simulator's limiter has a burst of one).
struct Pacer {
    next: tokio::sync::Mutex<tokio::time::Instant>,
    gap: Duration,
}

impl Pacer {
    async fn wait(&self) {
        let mut next = self.next.lock().await;
        let now = tokio::time::Instant::now();
        let at = (*next).max(now);
        *next = at + self.gap;
        drop(next);
        tokio::time::sleep_until(at).await;
    }
}

/// Fetches with retries: one attempt plus up to `policy.max_retries`, backing off only on retryable errors.
async fn fetch_with_retries(
    p: &YahooProvider,
    req: &FetchRequest,
    policy: &RetryPolicy,
    pacer: &Pacer,
    rng: &mut fastrand::Rng,
    failures: &mut BTreeMap<&'static str, u32>,
) -> Result<Answer, FetchError> {
    let mut attempt = 0;
    loop {
        pacer.wait().await;
        match p.fetch(req).await {
            Ok(a) => return Ok(a),
            Err(e) if e.is_retryable() && policy.allows(attempt) => {
                *failures.entry(e.kind.label()).or_default() += 1;
                tokio::time::sleep(policy.delay(attempt, e.retry_after(), rng)).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_symbols_with_failures_and_rate_limit_get_exact_truth() {
    let server = sim(SimConfig {
        fail_rate: 0.2,
        rate: Some(20.0),
        ..SimConfig::default()
    })
    .await;
    let provider = yahoo(&server);
    let market = server.market().clone();
    let now = server.now();
    let range = TimeRange::new(at("2024-01-01T00:00:00Z"), at("2025-01-01T00:00:00Z")).unwrap();
    let policy = RetryPolicy {
        max_retries: 12,
        base: Duration::from_millis(50),
        cap: Duration::from_millis(800),
    };
    let pacer = Arc::new(Pacer {
        next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
        gap: Duration::from_millis(55),
    });
    let queue = Arc::new(std::sync::Mutex::new(FORTY.to_vec()));
    let started = std::time::Instant::now();

    let mut workers = tokio::task::JoinSet::new();
    for w in 0..4u64 {
        let (p, q, pacer) = (provider.clone(), queue.clone(), pacer.clone());
        workers.spawn(async move {
            let mut rng = fastrand::Rng::with_seed(w);
            let mut failures = BTreeMap::new();
            let mut answers = Vec::new();
            loop {
                let Some(s) = q.lock().unwrap().pop() else {
                    break;
                };
                let req = FetchRequest::new(sym(s), Interval::D1, range);
                let got =
                    fetch_with_retries(&p, &req, &policy, &pacer, &mut rng, &mut failures).await;
                answers.push((req, got));
            }
            (answers, failures)
        });
    }
    let mut failures: BTreeMap<&str, u32> = BTreeMap::new();
    let mut done = 0;
    while let Some(j) = workers.join_next().await {
        let (answers, f) = j.unwrap();
        for (k, v) in f {
            *failures.entry(k).or_default() += v;
        }
        for (req, got) in answers {
            let a = got.unwrap_or_else(|e| panic!("{e}"));
            let want = market.bars(&req.symbol, req.interval, req.range, now);
            assert!(
                want.len() >= 240,
                "{}: a year of daily bars, got {}",
                req.symbol,
                want.len()
            );
            assert_eq!(a.bars, want, "{}", req.symbol);
            assert_eq!(
                a.actions,
                market.actions(&req.symbol, req.range, now),
                "{}",
                req.symbol
            );
            done += 1;
        }
    }
    let elapsed = started.elapsed();
    let stats = server.stats();
    assert_eq!(done, 40);
    let retried: u32 = failures.values().sum();
    assert_eq!(
        stats.chart_requests,
        40 + u64::from(retried),
        "every retry reached the server"
    );
    assert!(
        failures.get("transient").copied().unwrap_or(0) >= 3,
        "failures were injected: {failures:?}"
    );
    assert_eq!(stats.per_symbol.len(), 40);
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
    tracing::info!(
        ?failures,
        ?elapsed,
        requests = stats.chart_requests,
        "acceptance run"
    );
    server.shutdown().await;
}
