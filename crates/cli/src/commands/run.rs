//! `backfill` / `backfill run` and `backfill plan` / `--dry-run`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use backfill_domain::Symbol;
use backfill_domain::jiff::Timestamp;
use backfill_engine::limits::{AUTO_START, Limits, Rate};
use backfill_engine::plan::WindowSpec;
use backfill_engine::{
    Cancel, Engine, Event, PrepareInput, Prepared, Reporter, RunConfig, RunReport, Status,
    TickerReport, prepare,
};
use backfill_provider::retry::RetryPolicy;
use backfill_provider::{Provider, ProviderKind, Window};
use backfill_store::{Store, StoreOptions};
use serde::Serialize;

use crate::commands::dashboard::{Both, RunDashboard};
use crate::commands::{provenance, providers};
use crate::exit::{ExitStatus, UsageError};
use crate::printer::{self, Mode, Out, Progress, plural};
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
        Err(e) if e.is_usage() => Err(anyhow::anyhow!(UsageError(e.to_string()))),
        Err(e) => {
            Err(anyhow::Error::new(e).context(format!("cannot open the store at `{location}`")))
        }
    }
}

/// The store as the user should see it: an absolute path for a directory, else the URL.
pub fn shown_store(settings: &Settings) -> String {
    if is_local(settings) && !settings.store.to_string_lossy().starts_with("file://") {
        std::path::absolute(&settings.store)
            .unwrap_or_else(|_| settings.store.clone())
            .display()
            .to_string()
    } else {
        settings.store.display().to_string()
    }
}

/// Whether the store is a local directory (not an object-storage URL).
fn is_local(settings: &Settings) -> bool {
    let s = settings.store.to_string_lossy();
    !s.contains("://") || s.starts_with("file://")
}

/// Opens an existing store to read it (`check`): creates nothing, removes nothing, and works on a
/// read-only directory. A local store that does not exist is a usage error: it is far more
/// likely a typo than an empty store.
pub fn open_store_read_only(settings: &Settings) -> Result<Arc<Store>> {
    let root = &settings.store;
    let s = root.to_string_lossy();
    let local = Path::new(s.strip_prefix("file://").unwrap_or(&s));
    if is_local(settings) && !local.is_dir() {
        let what = if local.exists() {
            "is not a directory"
        } else {
            "does not exist"
        };
        return Err(UsageError(format!(
            "the store `{}` {what}\n\nhint: check the path given with `--store` (or `BACKFILL_STORE`); a first `backfill` run creates the store",
            root.display()
        ))
        .into());
    }
    open_store(settings, true)
}

/// Prints the settings' own warnings (a clipped window, …) once.
pub fn print_setting_warnings(settings: &Settings, out: Out) {
    for w in &settings.warnings {
        out.warn(w);
    }
}

/// Gap detection for `tickers`, in one batch, with the provider's request limits `window`.
pub async fn plan_all(
    settings: &Settings,
    store: &Arc<Store>,
    tickers: Vec<Symbol>,
    window: Window,
) -> Result<Prepared> {
    let store = store.clone();
    let settings = settings.clone();
    tokio::task::spawn_blocking(move || {
        let input = PrepareInput {
            tickers: &tickers,
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

/// Gap detection for every ticker, each group with its provider's window, in the order of
/// `--tickers` (or the portfolio), as a run would do it: a series of another provider cannot be
/// planned (or, with `--switch-provider`, is planned with a warning that it would be switched).
/// Records nothing.
async fn plan_every_provider(settings: &Settings, store: &Arc<Store>) -> Result<Prepared> {
    let mut all = Prepared::default();
    for (kind, tickers) in settings.tickers_by_provider() {
        let sorted = {
            let store = store.clone();
            let (interval, switch) = (settings.interval, settings.switch_provider);
            tokio::task::spawn_blocking(move || {
                provenance::sort(&store, kind.as_str(), interval, tickers, switch, false)
            })
            .await
            .context("reading the series' providers stopped unexpectedly")?
            .context("cannot read which provider the series come from")?
        };
        let switched = sorted.switch.clone();
        let tickers = [sorted.keep, sorted.switch].concat();
        let mut p = plan_all(settings, store, tickers, kind.window(settings.interval)).await?;
        for plan in &mut p.plans {
            if switched.contains(&plan.symbol) {
                plan.warnings.push(format!(
                    "stored from another provider: the run switches it to {kind}, fetching its whole stored span again"
                ));
            }
        }
        all.plans.extend(p.plans);
        all.failed.extend(p.failed);
        all.failed.extend(sorted.refused);
    }
    let order = |s: &Symbol| settings.tickers.iter().position(|t| t == s);
    all.plans.sort_by_key(|p| order(&p.symbol));
    all.failed.sort_by_key(|f| order(&f.symbol));
    Ok(all)
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

/// Time the rate limit alone imposes on `requests` (the first goes at once). `auto` is estimated
/// at its starting rate.
fn estimate_secs(requests: usize, rate: Rate) -> f64 {
    let r = match rate {
        Rate::Fixed(r) => r,
        Rate::Auto => AUTO_START,
        Rate::Unlimited => return 0.0,
    };
    if requests > 0 {
        (requests - 1) as f64 / r
    } else {
        0.0
    }
}

/// Gap detection for a plan, after the settings' warnings (sends nothing, creates nothing).
pub async fn prepare_plan(settings: &Settings, out: Out) -> Result<Prepared> {
    print_setting_warnings(settings, out);
    if is_local(settings) && !settings.store.exists() {
        // Nothing stored yet: everything is missing. Planning must not create the store.
        out.note(&format!(
            "note: the store `{}` does not exist yet; a run creates it",
            settings.store.display()
        ));
    }
    let store = open_store(settings, true)?;
    plan_every_provider(settings, &store).await
}

/// The `plan --json` document.
pub fn plan_json(settings: &Settings, prepared: &Prepared) -> Result<String> {
    let requests = prepared.requests();
    let est = estimate_secs(requests, settings.rate);
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
    Ok(serde_json::to_string_pretty(&doc)?)
}

/// The exit status of a plan: partial when a ticker could not be planned.
pub fn plan_status(prepared: &Prepared) -> ExitStatus {
    if prepared.failed.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Partial
    }
}

/// `backfill plan` and `--dry-run`: prints what would be fetched, sends nothing.
pub async fn plan(settings: &Settings, out: Out, json: bool) -> Result<ExitStatus> {
    let prepared = prepare_plan(settings, out).await?;
    let requests = prepared.requests();
    let est = estimate_secs(requests, settings.rate);
    if json {
        printer::stdout(&(plan_json(settings, &prepared)? + "\n"))?;
    } else {
        use std::fmt::Write as _;
        let mut text = String::new();
        let out = &mut text;
        for p in &prepared.plans {
            let window = match (p.first, p.last) {
                (Some(a), Some(b)) => format!("{a}..{b}"),
                _ => "no session".to_owned(),
            };
            let _ = writeln!(
                out,
                "{} ({}, {window}): {} of {} missing, {}",
                p.symbol,
                p.exchange,
                p.missing,
                plural(p.sessions as u64, "session", "sessions"),
                plural(p.requests.len() as u64, "request", "requests")
            );
            for r in &p.requests {
                let prov = if r.provisional_from.is_some() {
                    " (provisional: session still open)"
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "  {} .. {}  {}{prov}",
                    r.range.start(),
                    r.range.end(),
                    plural(r.sessions as u64, "session", "sessions")
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
        let rate = match settings.rate {
            Rate::Fixed(r) => format!("{r} requests/s"),
            Rate::Auto => format!("`--rate auto` (from {AUTO_START} requests/s)"),
            Rate::Unlimited => "no rate limit".to_owned(),
        };
        let _ = writeln!(
            out,
            "\n{}, {}; at {rate} that takes at least {est:.1}s, plus latency and retries",
            plural(
                (prepared.plans.len() + prepared.failed.len()) as u64,
                "ticker",
                "tickers"
            ),
            plural(requests as u64, "request", "requests"),
        );
        let _ = writeln!(out, "store: {}", settings.store.display());
        printer::stdout(&text)?;
    }
    Ok(plan_status(&prepared))
}

/// What stops a run before its end.
#[derive(Debug, Clone)]
pub enum Interrupt {
    /// Ctrl-C in this process (the command line).
    CtrlC,
    /// The caller's own signal (the Python package, which watches Ctrl-C itself).
    Cancel(Cancel),
}

/// Runs a backfill and prints its report (nothing with `--quiet`): each group of tickers with
/// its provider, all groups at once, each provider behind its own rate limiter. Shared by `run`,
/// `demo` and [`crate::api`].
pub async fn execute<P: Provider>(
    settings: &Settings,
    store: Arc<Store>,
    groups: Vec<(P, Vec<Symbol>)>,
    out: Out,
    json: bool,
    interrupt: Interrupt,
) -> Result<(RunReport, ExitStatus)> {
    let mut runs = Vec::with_capacity(groups.len());
    let mut switches = Vec::new();
    for (provider, tickers) in groups {
        let name = provider.name().to_owned();
        let sorted = {
            let (store, name) = (store.clone(), name.clone());
            let (interval, switch) = (settings.interval, settings.switch_provider);
            tokio::task::spawn_blocking(move || {
                provenance::sort(&store, &name, interval, tickers, switch, true)
            })
            .await
            .context("reading the series' providers stopped unexpectedly")?
            .context("cannot read or record which provider the series come from")?
        };
        let mut prepared = plan_all(
            settings,
            &store,
            sorted.keep,
            provider.window(settings.interval),
        )
        .await?;
        prepared.failed.extend(sorted.refused);
        let config = RunConfig {
            workers: settings.workers,
            limits: Limits::new(settings.rate, provider.quotas()),
            max_wait: settings.max_wait,
            retry: RetryPolicy {
                max_retries: settings.retries,
                ..RetryPolicy::default()
            },
            seed: None,
            invalid_bars: settings.invalid_bars,
        };
        let provider = Arc::new(provider);
        if !sorted.switch.is_empty() {
            switches.push(Switch {
                provider: provider.clone(),
                tickers: sorted.switch,
                config: config.clone(),
            });
        }
        runs.push((name, Engine::new(provider, store.clone(), config), prepared));
    }
    let store_shown = shown_store(settings);
    let mut progress = Progress::new(out);
    progress.start(
        (runs
            .iter()
            .map(|(_, _, p)| p.plans.iter().filter(|p| !p.is_up_to_date()).count() + p.failed.len())
            .sum::<usize>()
            + switches.iter().map(|s| s.tickers.len()).sum::<usize>()) as u64,
    );
    let progress = Arc::new(progress);
    let dashboard = match &settings.dashboard {
        Some(d) => Some(RunDashboard::start(d).await?),
        None => None,
    };
    let reporter: Arc<dyn Reporter> = match &dashboard {
        Some(d) => Arc::new(Both(progress.clone(), d.live.clone())),
        None => progress.clone(),
    };
    let started = Timestamp::now();

    let (cancel, watcher) = match interrupt {
        Interrupt::Cancel(cancel) => (cancel, None),
        Interrupt::CtrlC => {
            let cancel = Cancel::new();
            let on_signal = cancel.clone();
            let watcher = tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    out.warn("interrupted: finishing in-flight commits; no new request is sent");
                    on_signal.cancel();
                }
            });
            (cancel, Some(watcher))
        }
    };
    let (report, refused) = run_groups(settings, &store, runs, switches, &reporter, &cancel).await;
    if let Some(w) = watcher {
        w.abort();
    }
    progress.finish();
    record_run(settings, &store, started, &report, out).await;

    if json {
        printer::stdout(&(report_json(&report)? + "\n"))?;
    } else if out.mode != Mode::Quiet {
        printer::stdout(&printer::summary_table(&report, &store_shown, out.paint))?;
    }
    if let Some(d) = dashboard {
        d.finish().await;
    }
    if let Some(e) = refused {
        return Err(e.into());
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

/// Series of one provider to switch to it, after its other tickers are done (the switch runs on
/// an engine of its own, so after the main one: the provider's requests never go through two
/// limiters at once).
struct Switch<P> {
    provider: Arc<P>,
    tickers: Vec<Symbol>,
    config: RunConfig,
}

/// Runs every group's engine at once, then the switches, and merges their reports into one, as
/// if one run: one `Planned` and one `Finished` event for the whole. Also returns the usage error
/// of a provider that refused its key, if one did.
async fn run_groups<P: Provider>(
    settings: &Settings,
    store: &Arc<Store>,
    runs: Vec<(String, Engine<P>, Prepared)>,
    switches: Vec<Switch<P>>,
    reporter: &Arc<dyn Reporter>,
    cancel: &Cancel,
) -> (RunReport, Option<UsageError>) {
    let started = std::time::Instant::now();
    reporter.on_event(&Event::Planned {
        tickers: runs
            .iter()
            .map(|(_, _, p)| p.plans.len() + p.failed.len())
            .sum::<usize>()
            + switches.iter().map(|s| s.tickers.len()).sum::<usize>(),
        requests: runs.iter().map(|(_, _, p)| p.requests()).sum(),
        up_to_date: runs
            .iter()
            .map(|(_, _, p)| p.plans.iter().filter(|p| p.is_up_to_date()).count())
            .sum(),
    });
    let inner: Arc<dyn Reporter> = Arc::new(OneRun(reporter.clone()));
    let reports = futures_util::future::join_all(runs.into_iter().map(|(name, engine, p)| {
        let (inner, cancel) = (inner.clone(), cancel.clone());
        async move {
            let report = engine.run(p.plans, p.failed, inner, cancel).await;
            (name, engine.limiter().throttled_total(), report)
        }
    }))
    .await;
    let mut reports = reports;
    for s in switches {
        let name = s.provider.name().to_owned();
        let tickers = s.tickers.clone();
        let inner = inner.clone();
        let report = provenance::switch(
            settings,
            store,
            s.provider,
            s.tickers,
            s.config,
            inner,
            cancel.clone(),
        )
        .await
        .unwrap_or_else(|e| {
            let tickers = tickers
                .into_iter()
                .map(|t| {
                    let mut r = TickerReport::new(t, Status::Failed);
                    r.error = Some(format!("{e:#}"));
                    r.failure = Some("store");
                    r
                })
                .collect();
            RunReport::new(tickers, Duration::ZERO, Duration::ZERO, false)
        });
        reports.push((name, Duration::ZERO, report));
    }
    let refused = reports.iter().find_map(|(name, _, r)| {
        ProviderKind::parse(name).and_then(|k| providers::refused_key(k, r))
    });
    let throttled = reports.iter().map(|(_, t, _)| *t).max().unwrap_or_default();
    let mut tickers: Vec<_> = reports
        .into_iter()
        .flat_map(|(_, _, r)| r.tickers)
        .collect();
    tickers.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    let report = RunReport::new(tickers, throttled, started.elapsed(), cancel.is_cancelled());
    reporter.on_event(&Event::Finished { report: &report });
    (report, refused)
}

/// Forwards one engine's events, less the `Planned` and `Finished` of its part of the run
/// ([`run_groups`] sends those once for the whole).
struct OneRun(Arc<dyn Reporter>);

impl Reporter for OneRun {
    fn on_event(&self, event: &Event<'_>) {
        if !matches!(event, Event::Planned { .. } | Event::Finished { .. }) {
            self.0.on_event(event);
        }
    }
}

/// The `--json` document of a run.
pub fn report_json(report: &RunReport) -> Result<String> {
    Ok(serde_json::to_string_pretty(report)?)
}

/// Appends the run's report to the store's history (`_meta/runs/`), for `backfill dashboard`. A
/// failure is a warning: the data of the run is committed either way.
async fn record_run(
    settings: &Settings,
    store: &Arc<Store>,
    started: Timestamp,
    report: &RunReport,
    out: Out,
) {
    let mut doc = serde_json::json!({
        "started": started,
        "finished": Timestamp::now(),
        "interval": settings.interval.to_string(),
    });
    if let (Some(doc), Ok(serde_json::Value::Object(r))) =
        (doc.as_object_mut(), serde_json::to_value(report))
    {
        doc.extend(r);
    }
    let store = store.clone();
    let written = tokio::task::spawn_blocking(move || store.append_run(started, &doc)).await;
    if let Ok(Err(e)) = written {
        out.warn(&format!(
            "the run's report was not added to the store's history: {e}"
        ));
    }
}

/// `backfill` / `backfill run`.
pub async fn run(settings: &Settings, out: Out, json: bool) -> Result<ExitStatus> {
    print_setting_warnings(settings, out);
    let store = open_store(settings, false)?;
    let mut groups = Vec::new();
    for (kind, tickers) in settings.tickers_by_provider() {
        groups.push((providers::build(settings, kind)?, tickers));
    }
    let (_, status) = execute(settings, store, groups, out, json, Interrupt::CtrlC).await?;
    Ok(status)
}
