//! Engine behaviour against the in-memory fake provider and a real store, on a paused clock.

mod rebase;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backfill_calendar::{Calendar, Exchange};
use backfill_domain::jiff::Timestamp;
use backfill_domain::jiff::civil::{Date, date};
use backfill_domain::{Bar, Interval, Symbol, SymbolMeta};
use backfill_engine::limits::Limits;
use backfill_engine::plan::WindowSpec;
use backfill_engine::{
    Cancel, Engine, Event, PrepareInput, Reporter, RunConfig, RunReport, Status, prepare,
};
use backfill_provider::fake::FakeProvider;
use backfill_provider::retry::RetryPolicy;
use backfill_provider::{ErrorKind, Provider};
use backfill_store::Store;
use tokio::time::Instant;

mod check_providers;
mod quota;
mod throttle;

const END: Date = date(2024, 6, 28);

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

/// Deterministic daily bars for every XNYS session of 2024 H1.
fn bars_for(symbol: &Symbol) -> Vec<Bar> {
    let cal = Calendar::new(Exchange::Xnys);
    let seed = symbol.as_str().bytes().map(f64::from).sum::<f64>();
    cal.sessions(date(2023, 6, 1), END)
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let p = seed + i as f64;
            Bar {
                ts: s.open,
                date: s.date,
                open: p,
                high: p + 2.0,
                low: p - 1.0,
                close: p + 1.0,
                adj_close: Some(p),
                volume: 1000 + i as i64,
            }
        })
        .collect()
}

fn fake(symbols: &[&str]) -> FakeProvider {
    let f = FakeProvider::new();
    for s in symbols {
        let s = sym(s);
        f.add_symbol(&s);
        f.insert_bars(&s, Interval::D1, bars_for(&s));
        f.set_meta(
            &s,
            SymbolMeta {
                exchange_name: Some("NMS".into()),
                timezone: Some("America/New_York".into()),
                ..SymbolMeta::default()
            },
        );
    }
    f
}

/// Records every event with the (paused) time it happened.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<(Duration, String)>>,
    start: Mutex<Option<Instant>>,
}

impl Reporter for Recorder {
    fn on_event(&self, event: &Event<'_>) {
        let start = *self.start.lock().unwrap().get_or_insert_with(Instant::now);
        let label = match event {
            Event::Planned { requests, .. } => format!("planned {requests}"),
            Event::Started { symbol, .. } => format!("started {symbol}"),
            Event::Request {
                symbol, attempt, ..
            } => format!("request {symbol} {attempt}"),
            Event::Rows { symbol, rows } => format!("rows {symbol} {rows}"),
            Event::Retry {
                symbol, attempt, ..
            } => format!("retry {symbol} {attempt}"),
            Event::Throttled { symbol, .. } => format!("throttled {symbol}"),
            Event::Saved { symbol, .. } => format!("saved {symbol}"),
            Event::TickerDone { report } => format!("done {} {:?}", report.symbol, report.status),
            Event::Finished { .. } => "finished".to_owned(),
            _ => "other".to_owned(),
        };
        self.events.lock().unwrap().push((start.elapsed(), label));
    }
}

impl Recorder {
    fn labels(&self) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|(_, l)| l.clone())
            .collect()
    }
}

async fn run(
    provider: FakeProvider,
    store: Arc<Store>,
    tickers: &[&str],
    config: RunConfig,
    reporter: Arc<Recorder>,
    cancel: Cancel,
) -> (RunReport, Arc<FakeProvider>) {
    let tickers: Vec<Symbol> = tickers.iter().map(|s| sym(s)).collect();
    let closures = BTreeMap::new();
    let input = PrepareInput {
        tickers: &tickers,
        interval: Interval::D1,
        spec: WindowSpec {
            start: None,
            end: Some(END),
            days: 60,
        },
        window: provider.window(Interval::D1),
        now: "2024-07-01T00:00:00Z".parse::<Timestamp>().unwrap(),
        no_gaps: false,
        closures: &closures,
    };
    let prepared = prepare(&store, &input);
    let provider = Arc::new(provider);
    let engine = Engine::new(provider.clone(), store, config);
    let report = engine
        .run(prepared.plans, prepared.failed, reporter, cancel)
        .await;
    (report, provider)
}

fn config(workers: usize, retries: u32) -> RunConfig {
    RunConfig {
        workers,
        limits: Limits::per_second(None),
        max_wait: Duration::from_hours(1),
        retry: RetryPolicy {
            max_retries: retries,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(5),
        },
        seed: Some(1),
        invalid_bars: backfill_engine::validate::InvalidBars::Keep,
    }
}

fn store() -> (tempfile::TempDir, Arc<Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path().join("s")).unwrap());
    (dir, store)
}

fn status(report: &RunReport, s: &str) -> (Status, u32, u32, Option<String>) {
    let t = report
        .tickers
        .iter()
        .find(|t| t.symbol.as_str() == s)
        .unwrap();
    (t.status, t.requests, t.retries, t.error.clone())
}

#[tokio::test(start_paused = true)]
async fn saves_exactly_the_window_and_reports_every_step() {
    let (_d, store) = store();
    let rec = Arc::new(Recorder::default());
    let (report, provider) = run(
        fake(&["AAA", "BBB"]),
        store.clone(),
        &["AAA", "BBB"],
        config(4, 3),
        rec.clone(),
        Cancel::new(),
    )
    .await;
    assert!(report.is_complete());
    assert_eq!(provider.request_count(), 2);
    for s in ["AAA", "BBB"] {
        let stored = store.read_bars(&sym(s), Interval::D1, None).unwrap();
        assert_eq!(stored.len(), 60);
        let truth: Vec<Bar> = bars_for(&sym(s)).into_iter().rev().take(60).rev().collect();
        assert_eq!(stored, truth);
        assert_eq!(status(&report, s), (Status::Saved, 1, 0, None));
    }
    let labels = rec.labels();
    assert_eq!(labels.first().map(String::as_str), Some("planned 2"));
    assert_eq!(labels.last().map(String::as_str), Some("finished"));
    for s in ["AAA", "BBB"] {
        let pos = |l: &str| {
            labels
                .iter()
                .position(|x| x == l)
                .unwrap_or_else(|| panic!("no `{l}` in {labels:?}"))
        };
        assert!(pos(&format!("started {s}")) < pos(&format!("request {s} 0")));
        assert!(pos(&format!("request {s} 0")) < pos(&format!("rows {s} 60")));
        assert!(pos(&format!("rows {s} 60")) < pos(&format!("saved {s}")));
        assert!(pos(&format!("saved {s}")) < pos(&format!("done {s} Saved")));
    }

    // A second run asks nothing.
    let rec = Arc::new(Recorder::default());
    let (report, provider) = run(
        fake(&["AAA", "BBB"]),
        store,
        &["AAA", "BBB"],
        config(4, 3),
        rec,
        Cancel::new(),
    )
    .await;
    assert_eq!(provider.request_count(), 0);
    assert!(report.tickers.iter().all(|t| t.status == Status::UpToDate));
}

#[tokio::test(start_paused = true)]
async fn not_found_is_final_at_once_and_retries_are_spent_before_failing() {
    let (_d, store) = store();
    let provider = fake(&["GOOD", "FLAKY", "BROKEN"]);
    provider.fail_next(
        &sym("FLAKY"),
        2,
        &ErrorKind::Transient {
            detail: "HTTP 503".into(),
        },
    );
    provider.fail_next(
        &sym("BROKEN"),
        10,
        &ErrorKind::Transient {
            detail: "HTTP 502".into(),
        },
    );
    let (report, provider) = run(
        provider,
        store.clone(),
        &["GOOD", "FLAKY", "BROKEN", "NOPE"],
        config(4, 3),
        Arc::default(),
        Cancel::new(),
    )
    .await;
    assert_eq!(status(&report, "GOOD"), (Status::Saved, 1, 0, None));
    assert_eq!(status(&report, "FLAKY"), (Status::Saved, 3, 2, None));
    let (st, req, retries, err) = status(&report, "BROKEN");
    assert_eq!((st, req, retries), (Status::Failed, 4, 3));
    assert!(err.unwrap().contains("502"));
    let (st, req, _, err) = status(&report, "NOPE");
    assert_eq!((st, req), (Status::NotFound, 1));
    assert_eq!(provider.requests_for(&sym("NOPE")), 1);
    assert!(!err.unwrap().contains("throttl"));
    assert!(!report.is_complete());
    assert_eq!(
        (
            report.totals.saved,
            report.totals.failed,
            report.totals.not_found
        ),
        (2, 1, 1)
    );
    // The failed ticker is not in the ledger: a rerun asks only for it.
    let (report, provider) = run(
        fake(&["GOOD", "FLAKY", "BROKEN"]),
        store,
        &["GOOD", "FLAKY", "BROKEN"],
        config(4, 3),
        Arc::default(),
        Cancel::new(),
    )
    .await;
    assert_eq!(provider.request_count(), 1);
    assert_eq!(status(&report, "BROKEN").0, Status::Saved);
}

#[tokio::test(start_paused = true)]
async fn a_429_pauses_every_task_not_only_the_one_that_saw_it() {
    let (_d, store) = store();
    let provider = fake(&["T1", "T2", "T3", "T4"]);
    provider.set_latency(Duration::from_millis(100));
    provider.fail_next(
        &sym("T1"),
        1,
        &ErrorKind::Throttled {
            retry_after: Some(Duration::from_secs(3)),
        },
    );
    let rec = Arc::new(Recorder::default());
    // One worker in flight at a time and 10 req/s, so T2..T4 are still waiting when T1 is throttled.
    let cfg = RunConfig {
        limits: Limits::per_second(Some(10.0)),
        ..config(1, 3)
    };
    let (report, _) = run(
        provider,
        store,
        &["T1", "T2", "T3", "T4"],
        cfg,
        rec.clone(),
        Cancel::new(),
    )
    .await;
    assert!(report.is_complete(), "{report:?}");
    let events = rec.events.lock().unwrap().clone();
    let throttled_at = events.iter().find(|(_, l)| l == "throttled T1").unwrap().0;
    let requests_after: Vec<_> = events
        .iter()
        .filter(|(t, l)| l.starts_with("request") && *t > throttled_at)
        .collect();
    assert!(!requests_after.is_empty());
    for (t, l) in &requests_after {
        assert!(
            *t >= throttled_at + Duration::from_secs(3),
            "`{l}` at {t:?} went out during the cool-down (throttled at {throttled_at:?})"
        );
    }
    assert!(report.totals.throttled_secs >= 3.0, "{:?}", report.totals);
}

#[tokio::test(start_paused = true)]
async fn workers_bound_requests_in_flight() {
    let (_d, store) = store();
    let names: Vec<String> = (0..30).map(|i| format!("S{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let provider = fake(&refs);
    provider.set_latency(Duration::from_millis(200));
    let (report, provider) = run(
        provider,
        store,
        &refs,
        config(5, 0),
        Arc::default(),
        Cancel::new(),
    )
    .await;
    assert!(report.is_complete());
    assert_eq!(provider.max_in_flight(), 5);
}

#[tokio::test(start_paused = true)]
async fn cancel_stops_new_requests_and_the_next_run_resumes() {
    let (_d, store) = store();
    let names: Vec<String> = (0..20).map(|i| format!("C{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let provider = fake(&refs);
    provider.set_latency(Duration::from_millis(100));
    let cancel = Cancel::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(250)).await;
        c2.cancel();
    });
    let (report, provider) = run(
        provider,
        store.clone(),
        &refs,
        config(2, 0),
        Arc::default(),
        cancel,
    )
    .await;
    assert!(report.totals.interrupted);
    let sent = provider.request_count();
    assert!(sent < 20, "cancel stopped new requests ({sent} sent)");
    let saved = report
        .tickers
        .iter()
        .filter(|t| t.status == Status::Saved)
        .count();
    assert!((2..20).contains(&saved), "{saved}");
    // Resume: only the rest is asked.
    let (report, provider) = run(
        fake(&refs),
        store,
        &refs,
        config(4, 0),
        Arc::default(),
        Cancel::new(),
    )
    .await;
    assert!(report.is_complete());
    assert_eq!(provider.request_count(), 20 - saved);
}
