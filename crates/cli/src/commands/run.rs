//! `backfill` / `backfill run` and `backfill plan` / `--dry-run`.

use std::sync::Arc;

use anyhow::{Context, Result};
use backfill_engine::plan::WindowSpec;
use backfill_engine::{Cancel, Engine, PrepareInput, Prepared, RunConfig, RunReport, prepare};
use backfill_provider::Provider;
use backfill_provider::retry::RetryPolicy;
use backfill_provider::yahoo::{YahooConfig, YahooProvider};
use backfill_store::{Store, StoreOptions};
use serde::Serialize;

use crate::exit::ExitStatus;
use crate::printer::{self, Mode, Progress};
use crate::settings::Settings;

/// Opens the store named in the settings (a directory or a URL), with a message that says which
/// location failed. `read_only` stores write nothing, so read-only credentials suffice. A store
/// that cannot be reached as configured (no such bucket, refused credentials, a foreign prefix)
/// is a usage error.
pub fn open_store(settings: &Settings, read_only: bool) -> Result<Arc<Store>> {
    let location = settings.store.to_string_lossy();
    let options = StoreOptions {
        config: settings.store_config.clone(),
        read_only,
    };
    match Store::open_location(&location, &options) {
        Ok(store) => Ok(Arc::new(store)),
        Err(e) if e.is_usage() => Err(anyhow::anyhow!(crate::exit::UsageError(e.to_string()))),
        Err(e) => {
            Err(anyhow::Error::new(e).context(format!("cannot open the store at `{location}`")))
        }
    }
}

/// The Yahoo provider for these settings.
pub fn yahoo(settings: &Settings) -> Result<YahooProvider> {
    let config = YahooConfig {
        base_url: settings.yahoo_url.clone(),
        ..YahooConfig::default()
    };
    YahooProvider::new(config).context("cannot set up the HTTP client for Yahoo")
}

/// Gap detection for every ticker, in one batch.
pub async fn plan_all<P: Provider>(
    settings: &Settings,
    store: &Arc<Store>,
    provider: &P,
) -> Result<Prepared> {
    let store = store.clone();
    let settings = settings.clone();
    let window = provider.window(settings.interval);
    tokio::task::spawn_blocking(move || {
        let input = PrepareInput {
            tickers: &settings.tickers,
            interval: settings.interval,
            spec: WindowSpec {
                start: settings.start,
                end: settings.end,
                days: settings.days,
            },
            window,
            now: settings.now,
            no_gaps: settings.no_gaps,
            closures: &settings.closures,
        };
        prepare(&store, &input)
    })
    .await
    .context("gap detection stopped unexpectedly")
}

#[derive(Serialize)]
struct PlanJson<'a> {
    tickers: Vec<PlanTicker<'a>>,
    totals: PlanTotals,
}

#[derive(Serialize)]
struct PlanTicker<'a> {
    symbol: &'a str,
    exchange: &'a str,
    first: Option<String>,
    last: Option<String>,
    sessions: usize,
    missing: usize,
    unreachable: usize,
    requests: Vec<PlanRange>,
    warnings: &'a [String],
}

#[derive(Serialize)]
struct PlanRange {
    start: String,
    end: String,
    sessions: usize,
    provisional: bool,
}

#[derive(Serialize)]
struct PlanTotals {
    tickers: usize,
    requests: usize,
    up_to_date: usize,
    failed: usize,
    /// Lower bound of the run's duration under the rate limit, in seconds.
    estimated_secs: f64,
}

/// Time the rate limit alone imposes on `requests` (the first goes at once).
fn estimate_secs(requests: usize, rate: Option<f64>) -> f64 {
    match rate {
        Some(r) if requests > 0 => (requests - 1) as f64 / r,
        _ => 0.0,
    }
}

/// `backfill plan` and `--dry-run`: prints what would be fetched, sends nothing.
pub async fn plan(settings: &Settings, json: bool) -> Result<ExitStatus> {
    let store = open_store(settings, true)?;
    let provider = yahoo(settings)?;
    let prepared = plan_all(settings, &store, &provider).await?;
    let requests = prepared.requests();
    let est = estimate_secs(requests, settings.rate);
    if json {
        let doc = PlanJson {
            tickers: prepared
                .plans
                .iter()
                .map(|p| PlanTicker {
                    symbol: p.symbol.as_str(),
                    exchange: &p.exchange,
                    first: p.first.map(|d| d.to_string()),
                    last: p.last.map(|d| d.to_string()),
                    sessions: p.sessions,
                    missing: p.missing,
                    unreachable: p.unreachable,
                    requests: p
                        .requests
                        .iter()
                        .map(|r| PlanRange {
                            start: r.range.start().to_string(),
                            end: r.range.end().to_string(),
                            sessions: r.sessions,
                            provisional: r.provisional_from.is_some(),
                        })
                        .collect(),
                    warnings: &p.warnings,
                })
                .collect(),
            totals: PlanTotals {
                tickers: prepared.plans.len() + prepared.failed.len(),
                requests,
                up_to_date: prepared.plans.iter().filter(|p| p.is_up_to_date()).count(),
                failed: prepared.failed.len(),
                estimated_secs: est,
            },
        };
        printer::stdout(&(serde_json::to_string_pretty(&doc)? + "\n"))?;
    } else {
        use std::fmt::Write as _;
        let mut out = String::new();
        for p in &prepared.plans {
            let window = match (p.first, p.last) {
                (Some(a), Some(b)) => format!("{a}..{b}"),
                _ => "no session".to_owned(),
            };
            let _ = writeln!(
                out,
                "{} ({}, {window}): {} of {} session(s) missing, {} request(s)",
                p.symbol,
                p.exchange,
                p.missing,
                p.sessions,
                p.requests.len()
            );
            for r in &p.requests {
                let prov = if r.provisional_from.is_some() {
                    " (provisional: session still open)"
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "  {} .. {}  {} session(s){prov}",
                    r.range.start(),
                    r.range.end(),
                    r.sessions
                );
            }
            for w in &p.warnings {
                let _ = writeln!(out, "  warning: {w}");
            }
        }
        for f in &prepared.failed {
            let _ = writeln!(
                out,
                "{}: cannot plan: {}",
                f.symbol,
                f.error.as_deref().unwrap_or("")
            );
        }
        let rate = settings
            .rate
            .map_or_else(|| "no rate limit".to_owned(), |r| format!("{r} requests/s"));
        let _ = writeln!(
            out,
            "\n{} ticker(s), {requests} request(s); at {rate} that takes at least {est:.1}s, plus latency and retries",
            prepared.plans.len() + prepared.failed.len()
        );
        printer::stdout(&out)?;
    }
    Ok(if prepared.failed.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Partial
    })
}

/// Runs a backfill with the given provider and prints its report. Shared by `run` and `demo`.
pub async fn execute<P: Provider>(
    settings: &Settings,
    store: Arc<Store>,
    provider: P,
    mode: Mode,
    verbose: u8,
    json: bool,
) -> Result<(RunReport, ExitStatus)> {
    let prepared = plan_all(settings, &store, &provider).await?;
    let config = RunConfig {
        workers: settings.workers,
        rate: settings.rate,
        retry: RetryPolicy {
            max_retries: settings.retries,
            ..RetryPolicy::default()
        },
        seed: None,
        invalid_bars: settings.invalid_bars,
    };
    let engine = Engine::new(Arc::new(provider), store, config);
    let mut progress = Progress::new(mode, verbose);
    progress.start(
        prepared.plans.iter().filter(|p| !p.is_up_to_date()).count() as u64
            + prepared.failed.len() as u64,
    );
    let progress = Arc::new(progress);

    let cancel = Cancel::new();
    let on_signal = cancel.clone();
    let signal_mode = mode;
    let watcher = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            printer::warn(
                signal_mode,
                "interrupted: finishing in-flight commits; no new request is sent",
            );
            on_signal.cancel();
        }
    });
    let report = engine
        .run(prepared.plans, prepared.failed, progress.clone(), cancel)
        .await;
    watcher.abort();
    progress.finish();

    if json {
        printer::stdout(&(serde_json::to_string_pretty(&report)? + "\n"))?;
    } else if mode != Mode::Quiet {
        printer::stdout(&printer::summary_table(&report))?;
    }
    let status = if report.totals.interrupted {
        ExitStatus::Interrupted
    } else if report.is_complete() {
        ExitStatus::Success
    } else {
        ExitStatus::Partial
    };
    Ok((report, status))
}

/// `backfill` / `backfill run`.
pub async fn run(settings: &Settings, mode: Mode, verbose: u8, json: bool) -> Result<ExitStatus> {
    let store = open_store(settings, false)?;
    let provider = yahoo(settings)?;
    let (_, status) = execute(settings, store, provider, mode, verbose, json).await?;
    Ok(status)
}
