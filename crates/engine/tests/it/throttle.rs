//! The whole engine against a provider that enforces a strict rate (GCRA, no burst) on the paused
//! clock, as the simulator does: convergence, 429 share, no request inside a `Retry-After`, long
//! pauses that spend no retry, and many simultaneous 429s.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backfill_domain::{Interval, Symbol};
use backfill_engine::limits::{Limits, Rate};
use backfill_engine::plan::WindowSpec;
use backfill_engine::{Cancel, Engine, PrepareInput, RunConfig, RunReport, Silent, prepare};
use backfill_provider::fake::FakeProvider;
use backfill_provider::retry::RetryPolicy;
use backfill_provider::{
    Answer, ErrorKind, FetchError, FetchRequest, Pacer, Provider, Quotas, Window,
};
use backfill_store::Store;
use tokio::time::Instant;

use crate::{END, bars_for, fake, store, sym};

/// One request as the server saw it.
#[derive(Debug, Clone, Copy)]
struct Seen {
    at: Instant,
    throttled: bool,
}

/// A fake that answers 429 (with `retry_after`) to a request arriving less than `1/rate` after the
/// last one it accepted, 5 ms after the pacer lets it go; accepted answers take 50 ms more.
struct Strict {
    inner: FakeProvider,
    interval: Duration,
    retry_after: Option<Duration>,
    state: Mutex<(Option<Instant>, Vec<Seen>)>,
}

impl Strict {
    fn new(inner: FakeProvider, rate: f64, retry_after: Option<Duration>) -> Strict {
        Strict {
            inner,
            interval: Duration::from_secs_f64(1.0 / rate),
            retry_after,
            state: Mutex::new((None, Vec::new())),
        }
    }

    fn log(&self) -> Vec<Seen> {
        self.state.lock().unwrap().1.clone()
    }
}

impl Provider for Strict {
    fn name(&self) -> &'static str {
        "strict"
    }

    fn window(&self, interval: Interval) -> Window {
        self.inner.window(interval)
    }

    fn quotas(&self) -> Quotas {
        Quotas::NONE
    }

    async fn fetch_paced(
        &self,
        req: &FetchRequest,
        pacer: &dyn Pacer,
    ) -> Result<Answer, FetchError> {
        pacer.acquire().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        let now = Instant::now();
        let ok = {
            let mut st = self.state.lock().unwrap();
            let ok = st.0.is_none_or(|tat| now >= tat);
            if ok {
                st.0 = Some(now + self.interval);
            }
            st.1.push(Seen {
                at: now,
                throttled: !ok,
            });
            ok
        };
        if !ok {
            return Err(req.error(ErrorKind::Throttled {
                retry_after: self.retry_after,
            }));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.inner.fetch(req).await
    }
}

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("S{i:03}")).collect()
}

async fn run_strict(
    provider: Arc<Strict>,
    store: Arc<Store>,
    tickers: &[String],
    config: RunConfig,
) -> (RunReport, Duration, String) {
    let tickers: Vec<Symbol> = tickers.iter().map(|s| sym(s)).collect();
    let closures = BTreeMap::new();
    let input = PrepareInput {
        tickers: &tickers,
        interval: Interval::D1,
        spec: WindowSpec {
            start: None,
            end: Some(END),
            days: 30,
        },
        window: Window::UNLIMITED,
        now: "2024-07-01T00:00:00Z".parse().unwrap(),
        no_gaps: false,
        closures: &closures,
    };
    let prepared = prepare(&store, &input);
    let engine = Engine::new(provider.clone(), store, config);
    let start = Instant::now();
    let report = engine
        .run(
            prepared.plans,
            prepared.failed,
            Arc::new(Silent),
            Cancel::new(),
        )
        .await;
    let took = start.elapsed();
    let log = provider.log();
    let summary = format!(
        "{} requests, {} throttled, {took:?}, {} congestion events, settled at {:?}",
        log.len(),
        log.iter().filter(|s| s.throttled).count(),
        engine.limiter().congestion_events(),
        engine.limiter().current_rate()
    );
    (report, took, summary)
}

fn config(rate: Rate, workers: usize) -> RunConfig {
    RunConfig {
        workers,
        limits: Limits::new(rate, Quotas::NONE),
        max_wait: Duration::from_hours(1),
        retry: RetryPolicy::default(),
        seed: Some(7),
        invalid_bars: backfill_engine::validate::InvalidBars::Keep,
    }
}

/// Every ticker's stored bars are exactly the fake's over the window.
fn assert_exact(store: &Store, tickers: &[String], report: &RunReport) {
    assert!(report.is_complete(), "{report:?}");
    for t in tickers {
        let s = sym(t);
        let stored = store.read_bars(&s, Interval::D1, None).unwrap();
        let want: Vec<_> = bars_for(&s)
            .into_iter()
            .filter(|b| stored.first().is_some_and(|f| b.ts >= f.ts))
            .collect();
        assert_eq!(stored.len(), 30, "{t}");
        assert_eq!(stored, want, "{t}");
    }
}

/// No request arrived inside a pause the server asked for: after a 429 with `Retry-After`, the
/// next request arrives no earlier than it allows. Requests already on their way when the 429
/// went out (less than the 5 ms trip) are not the client's choice and are allowed.
fn assert_no_request_inside_retry_after(log: &[Seen], retry_after: Duration) {
    let mut sorted = log.to_vec();
    sorted.sort_by_key(|s| s.at);
    for (i, s) in sorted.iter().enumerate() {
        if !s.throttled {
            continue;
        }
        let until = s.at + retry_after;
        for later in &sorted[i + 1..] {
            if later.at >= until {
                break;
            }
            assert!(
                later.at <= s.at + Duration::from_millis(5),
                "a request arrived {:?} after a 429 that asked for {retry_after:?}",
                later.at - s.at
            );
        }
    }
}

fn throttled_share(log: &[Seen]) -> f64 {
    log.iter().filter(|s| s.throttled).count() as f64 / log.len() as f64
}

#[tokio::test(start_paused = true)]
async fn a_rate_ten_times_too_high_converges_on_the_servers() {
    for (server_rate, retry_after) in [
        (5.0, Some(Duration::from_secs(1))),
        (20.0, Some(Duration::from_secs(1))),
        (5.0, None),
    ] {
        let tickers = names((server_rate * 12.0) as usize);
        let refs: Vec<&str> = tickers.iter().map(String::as_str).collect();
        let provider = Arc::new(Strict::new(fake(&refs), server_rate, retry_after));
        let (_d, store) = store();
        let (report, took, summary) = run_strict(
            provider.clone(),
            store.clone(),
            &tickers,
            config(Rate::Fixed(server_rate * 10.0), 64),
        )
        .await;
        let log = provider.log();
        let label = format!("{server_rate}/s, Retry-After {retry_after:?}: {summary}");
        assert!(
            took.as_secs_f64() <= 1.3 * 12.0,
            "{label}: took {took:?} against a 12 s floor"
        );
        assert!(throttled_share(&log) <= 0.10, "{label}: {log:?}");
        if let Some(ra) = retry_after {
            assert_no_request_inside_retry_after(&log, ra);
        }
        assert_exact(&store, &tickers, &report);
        // A short pause spends a retry; only pauses beyond the backoff cap do not.
        let throttled = log.iter().filter(|s| s.throttled).count();
        assert_eq!(report.totals.retries as usize, throttled, "{label}");
    }
}

#[tokio::test(start_paused = true)]
async fn auto_finds_the_servers_rate() {
    for server_rate in [2.0, 5.0, 20.0] {
        // Auto pays one or two `Retry-After` pauses and about a second of ramp whatever the length
        // of the run, so the bound is checked on a 20 s floor.
        let tickers = names((server_rate * 20.0) as usize);
        let refs: Vec<&str> = tickers.iter().map(String::as_str).collect();
        let provider = Arc::new(Strict::new(
            fake(&refs),
            server_rate,
            Some(Duration::from_secs(1)),
        ));
        let (_d, store) = store();
        let (report, took, summary) = run_strict(
            provider.clone(),
            store.clone(),
            &tickers,
            config(Rate::Auto, 32),
        )
        .await;
        let log = provider.log();
        assert!(
            took.as_secs_f64() <= 1.3 * 20.0,
            "{server_rate}/s: took {took:?} against a 20 s floor: {summary}"
        );
        assert!(throttled_share(&log) <= 0.10, "{server_rate}/s: {log:?}");
        assert_no_request_inside_retry_after(&log, Duration::from_secs(1));
        assert_exact(&store, &tickers, &report);
    }
}

#[tokio::test(start_paused = true)]
async fn many_simultaneous_429s_still_finish_exact() {
    // A server at 2/s, `--rate 100 --workers 64`, 100 tickers: the floor is 50 s.
    let tickers = names(100);
    let refs: Vec<&str> = tickers.iter().map(String::as_str).collect();
    let provider = Arc::new(Strict::new(fake(&refs), 2.0, Some(Duration::from_secs(1))));
    let (_d, store) = store();
    let (report, took, summary) = run_strict(
        provider.clone(),
        store.clone(),
        &tickers,
        config(Rate::Fixed(100.0), 64),
    )
    .await;
    assert!(took <= Duration::from_secs(70), "took {took:?}: {summary}");
    assert!(throttled_share(&provider.log()) <= 0.10);
    assert_exact(&store, &tickers, &report);
}

#[tokio::test(start_paused = true)]
async fn a_long_retry_after_is_waited_out_without_spending_a_retry() {
    let provider = fake(&["T1", "T2", "T3"]);
    provider.fail_next(
        &sym("T1"),
        1,
        &ErrorKind::Throttled {
            retry_after: Some(Duration::from_mins(2)),
        },
    );
    let provider = Arc::new(Strict::new(provider, 100.0, None));
    let (_d, db) = store();
    let tickers = ["T1", "T2", "T3"].map(str::to_owned);
    let mut cfg = config(Rate::Fixed(10.0), 1);
    cfg.retry.max_retries = 0;
    let (report, took, _summary) = run_strict(provider.clone(), db.clone(), &tickers, cfg).await;
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.totals.retries, 0);
    assert!(
        (120.0..125.0).contains(&took.as_secs_f64()),
        "waited {took:?}"
    );
    assert!(report.totals.throttled_secs >= 120.0);

    // Beyond `max_wait`, the tickers fail with that reason, at once.
    let provider = fake(&["T1", "T2"]);
    provider.fail_next(
        &sym("T1"),
        1,
        &ErrorKind::Throttled {
            retry_after: Some(Duration::from_hours(2)),
        },
    );
    let (_d2, store2) = store();
    let mut cfg = config(Rate::Fixed(10.0), 1);
    cfg.max_wait = Duration::from_mins(30);
    let (report, took, _summary) = run_strict(
        Arc::new(Strict::new(provider, 100.0, None)),
        store2,
        &["T1".to_owned(), "T2".to_owned()],
        cfg,
    )
    .await;
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(report.totals.failed, 2, "{report:?}");
    for t in &report.tickers {
        let e = t.error.as_deref().unwrap();
        assert!(e.contains("longer than the longest wait allowed"), "{e}");
        assert!(e.contains("--max-wait"), "{e}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_503_with_retry_after_pauses_every_task() {
    let provider = fake(&["T1", "T2"]);
    provider.fail_next(
        &sym("T1"),
        1,
        &ErrorKind::Unavailable {
            detail: "HTTP 503".into(),
            retry_after: Duration::from_secs(30),
        },
    );
    let provider = Arc::new(Strict::new(provider, 100.0, None));
    let (_d, store) = store();
    let (report, took, _summary) = run_strict(
        provider.clone(),
        store,
        &["T1".to_owned(), "T2".to_owned()],
        config(Rate::Fixed(10.0), 4),
    )
    .await;
    assert!(report.is_complete(), "{report:?}");
    let log = provider.log();
    // T1's 503 came back 50 ms after it arrived; nothing else arrived in the 30 s after that
    // (T2, paced 105 ms after T1, waited too), and T1's retry spent a retry: 30 s is within the cap.
    assert_eq!(log.len(), 3, "{log:?}");
    assert!(took >= Duration::from_secs(30));
    for later in &log[1..] {
        assert!(
            later.at - log[0].at >= Duration::from_millis(30_050),
            "{log:?}"
        );
    }
    assert_eq!(report.totals.retries, 1);
}
