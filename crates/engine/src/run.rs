//! Running a plan: bounded concurrency, one shared rate limiter, retries, commits as answers arrive.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use backfill_domain::jiff::Timestamp;
use backfill_domain::{Action, Bar, SymbolMeta, TimeRange};
use backfill_provider::retry::RetryPolicy;
use backfill_provider::{Answer, ErrorKind, FetchError, FetchRequest, Provider};
use backfill_store::{Flagged, LedgerEntry, Store};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::coverage::closed_sessions;
use crate::drift;
use crate::events::{Event, Reporter};
use crate::limits::{Gate, RateLimiter};
use crate::plan::{PlannedRequest, TickerPlan};
use crate::report::{RunReport, Status, TickerReport};
use crate::validate::{InvalidBars, validate};

/// Settings of a run's limit layers.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Maximum requests in flight.
    pub workers: usize,
    /// Requests per second to the provider, shared by every task; `None` for no limit.
    pub rate: Option<f64>,
    pub retry: RetryPolicy,
    /// Seed for retry jitter (tests pass one for reproducibility).
    pub seed: Option<u64>,
    /// What to do with bars that fail validation.
    pub invalid_bars: InvalidBars,
}

/// A cancellation signal, passed in by the caller (the CLI wires it to Ctrl-C).
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    inner: Arc<(AtomicBool, Notify)>,
}

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Stops new requests; in-flight commits still finish.
    pub fn cancel(&self) {
        self.inner.0.store(true, Ordering::SeqCst);
        self.inner.1.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.inner.0.load(Ordering::SeqCst)
    }

    /// Resolves once [`Cancel::cancel`] has been called.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.inner.1.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

/// Runs plans against one provider and one store.
#[derive(Debug)]
pub struct Engine<P> {
    provider: Arc<P>,
    store: Arc<Store>,
    config: RunConfig,
    limiter: Arc<RateLimiter>,
    gate: Arc<Gate>,
}

/// Everything a ticker task shares with the others.
pub(crate) struct Shared<P> {
    pub(crate) provider: Arc<P>,
    pub(crate) store: Arc<Store>,
    invalid_bars: InvalidBars,
    retry: RetryPolicy,
    limiter: Arc<RateLimiter>,
    gate: Arc<Gate>,
    reporter: Arc<dyn Reporter>,
    cancel: Cancel,
    /// Commits in progress at once, so that memory does not grow with `--workers`.
    commits: tokio::sync::Semaphore,
}

/// Commits allowed at once: two per core. A commit encodes Parquet (CPU) and then waits on fsync
/// (disk), so two per core keep both busy; each holds an encoder's buffers, so more would only
/// make memory grow with `--workers`.
fn commit_parallelism() -> usize {
    2 * std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

impl<P: Provider> Engine<P> {
    pub fn new(provider: Arc<P>, store: Arc<Store>, config: RunConfig) -> Engine<P> {
        let limiter = Arc::new(RateLimiter::new(config.rate));
        let gate = Arc::new(Gate::new(config.workers));
        Engine {
            provider,
            store,
            config,
            limiter,
            gate,
        }
    }

    /// Runs every plan to completion (or until cancelled) and reports per ticker.
    ///
    /// Up-to-date tickers finish at once. The others run concurrently, each sending its requests in
    /// order; the gate bounds requests in flight, so memory holds at most `workers` answers at a time,
    /// whatever the number of tickers. Each answer is committed (bars, actions, metadata, then the
    /// ledger) before the ticker's next request.
    pub async fn run(
        &self,
        plans: Vec<TickerPlan>,
        failed: Vec<TickerReport>,
        reporter: Arc<dyn Reporter>,
        cancel: Cancel,
    ) -> RunReport {
        let started = Instant::now();
        let requests = plans.iter().map(|p| p.requests.len()).sum();
        let up_to_date = plans.iter().filter(|p| p.is_up_to_date()).count();
        reporter.on_event(&Event::Planned {
            tickers: plans.len() + failed.len(),
            requests,
            up_to_date,
        });

        let shared = Arc::new(Shared {
            provider: self.provider.clone(),
            store: self.store.clone(),
            retry: self.config.retry,
            limiter: self.limiter.clone(),
            gate: self.gate.clone(),
            reporter: reporter.clone(),
            cancel: cancel.clone(),
            commits: tokio::sync::Semaphore::new(commit_parallelism()),
            invalid_bars: self.config.invalid_bars,
        });
        let mut reports: Vec<TickerReport> = failed;
        for r in &reports {
            reporter.on_event(&Event::TickerDone { report: r });
        }
        let mut queue = std::collections::VecDeque::new();
        for plan in plans {
            if plan.is_up_to_date() {
                let report = base_report(&plan, Status::UpToDate);
                reporter.on_event(&Event::TickerDone { report: &report });
                reports.push(report);
            } else {
                queue.push_back(plan);
            }
        }

        let max_tasks = self.config.workers.max(1);
        let mut seed = self.config.seed.unwrap_or_else(|| fastrand::u64(..));
        let mut tasks = JoinSet::new();
        loop {
            while tasks.len() < max_tasks && !cancel.is_cancelled() {
                let Some(plan) = queue.pop_front() else { break };
                seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let shared = shared.clone();
                tasks.spawn(async move {
                    run_ticker(&shared, plan, fastrand::Rng::with_seed(seed)).await
                });
            }
            match tasks.join_next().await {
                Some(Ok(report)) => {
                    reporter.on_event(&Event::TickerDone { report: &report });
                    reports.push(report);
                }
                Some(Err(e)) => std::panic::resume_unwind(e.into_panic()),
                None => break,
            }
        }
        // Whatever never started because of a cancel.
        for plan in queue {
            let mut report = base_report(&plan, Status::Interrupted);
            report.error = Some("interrupted before any request was sent".to_owned());
            report.failure = Some("interrupted");
            reporter.on_event(&Event::TickerDone { report: &report });
            reports.push(report);
        }
        reports.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        let report = RunReport::new(
            reports,
            self.limiter.throttled_total(),
            started.elapsed(),
            cancel.is_cancelled(),
        );
        reporter.on_event(&Event::Finished { report: &report });
        report
    }
}

fn base_report(plan: &TickerPlan, status: Status) -> TickerReport {
    TickerReport {
        first: plan.first,
        last: plan.last,
        warnings: plan.warnings.clone(),
        ..TickerReport::new(plan.symbol.clone(), status)
    }
}

/// Runs one ticker's requests in order.
async fn run_ticker<P: Provider>(
    sh: &Shared<P>,
    plan: TickerPlan,
    mut rng: fastrand::Rng,
) -> TickerReport {
    let mut report = base_report(&plan, Status::Saved);
    let mut last_meta: Option<SymbolMeta> = None;
    sh.reporter.on_event(&Event::Started {
        symbol: &plan.symbol,
        requests: plan.requests.len(),
    });
    for planned in &plan.requests {
        let req = FetchRequest {
            symbol: plan.symbol.clone(),
            interval: plan.interval,
            range: planned.range,
        };
        let batch = match fetch_with_retries(sh, &req, &mut report, &mut rng).await {
            Ok(answer) => {
                sh.reporter.on_event(&Event::Rows {
                    symbol: &plan.symbol,
                    rows: answer.bars.len(),
                });
                match drift::detect(sh, &plan, &answer).await {
                    Ok(None) => Ok(Batch::from_answer(answer, planned)),
                    Ok(Some(drift)) => {
                        drift::refetch(sh, &plan, planned, &drift, &mut report, &mut rng).await
                    }
                    Err(msg) => Err(Stop::Store(msg)),
                }
            }
            Err(stop) => Err(stop),
        };
        let mut batch = match batch {
            Ok(b) => b,
            Err(stop) => {
                stop.record(&mut report);
                break;
            }
        };
        batch.validate(&plan, sh.invalid_bars);
        report.invalid_bars += batch.flagged.len() as u64;
        match commit(sh, &plan, batch, &mut last_meta).await {
            Ok(rows) => {
                report.rows += rows;
                sh.reporter.on_event(&Event::Saved {
                    symbol: &plan.symbol,
                    rows,
                    range: planned.range,
                });
            }
            Err(msg) => {
                Stop::Store(msg).record(&mut report);
                break;
            }
        }
    }
    report
}

/// Why a ticker stopped before its last request.
pub(crate) enum Stop {
    Cancelled,
    Failed(FetchError),
    Store(String),
}

impl Stop {
    fn record(self, report: &mut TickerReport) {
        let (status, error, failure) = match self {
            Stop::Cancelled => (
                Status::Interrupted,
                "interrupted; the next run resumes from what was saved".to_owned(),
                "interrupted",
            ),
            Stop::Failed(e) => {
                let status = if matches!(e.kind, ErrorKind::NotFound { .. }) {
                    Status::NotFound
                } else {
                    Status::Failed
                };
                (status, e.to_string(), e.kind.label())
            }
            Stop::Store(msg) => (Status::Failed, msg, "store"),
        };
        report.status = status;
        report.error = Some(error);
        report.failure = Some(failure);
    }
}

pub(crate) async fn fetch_with_retries<P: Provider>(
    sh: &Shared<P>,
    req: &FetchRequest,
    report: &mut TickerReport,
    rng: &mut fastrand::Rng,
) -> Result<Answer, Stop> {
    let mut attempt: u32 = 0;
    loop {
        if sh.cancel.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        tokio::select! {
            () = sh.limiter.acquire() => {}
            () = sh.cancel.cancelled() => return Err(Stop::Cancelled),
        }
        let result = {
            let _slot = tokio::select! {
                s = sh.gate.acquire() => s,
                () = sh.cancel.cancelled() => return Err(Stop::Cancelled),
            };
            sh.reporter.on_event(&Event::Request {
                symbol: &req.symbol,
                range: req.range,
                attempt,
            });
            report.requests += 1;
            let sent = tokio::time::Instant::now();
            let result = tokio::select! {
                r = sh.provider.fetch(req) => r,
                () = sh.cancel.cancelled() => return Err(Stop::Cancelled),
            };
            sh.reporter.on_event(&Event::Answered {
                symbol: &req.symbol,
                range: req.range,
                attempt,
                outcome: match &result {
                    Ok(answer) => Ok(answer.bars.len()),
                    Err(e) => Err(e.kind.label()),
                },
                latency: sent.elapsed(),
            });
            result
        };
        let err = match result {
            Ok(answer) => {
                sh.limiter.on_answered();
                sh.gate.on_answered();
                return Ok(answer);
            }
            Err(e) => e,
        };
        let retry_after = err.kind.retry_after();
        let throttled_now = matches!(err.kind, ErrorKind::Throttled { .. });
        let mut delay = sh.retry.delay(attempt, retry_after, rng);
        if throttled_now && retry_after.is_none() {
            // Equal jitter for throttling: a cool-down of nearly zero would only be throttled again.
            delay = delay.max(sh.retry.ceiling(attempt) / 2);
        }
        if throttled_now {
            sh.limiter.on_throttled(delay);
            sh.gate.on_throttled();
            sh.reporter.on_event(&Event::Throttled {
                symbol: &req.symbol,
                cool_down: delay,
            });
        } else if !err.kind.is_retryable() {
            sh.limiter.on_answered();
            return Err(Stop::Failed(err));
        }
        if !err.kind.is_retryable() || attempt >= sh.retry.max_retries {
            return Err(Stop::Failed(err));
        }
        let reason = err.kind.to_string();
        sh.reporter.on_event(&Event::Retry {
            symbol: &req.symbol,
            attempt: attempt + 1,
            delay,
            reason: &reason,
        });
        attempt += 1;
        report.retries += 1;
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = sh.cancel.cancelled() => return Err(Stop::Cancelled),
        }
    }
}

/// Commits one batch: bars, actions and metadata, the bars flagged by validation, then the ledger
/// entries that say the ranges were answered (the ledger may lag the data, never lead it). Runs on
/// the blocking pool; it is never abandoned half-way, even on Ctrl-C.
async fn commit<P: Provider>(
    sh: &Shared<P>,
    plan: &TickerPlan,
    batch: Batch,
    last_meta: &mut Option<SymbolMeta>,
) -> Result<u64, String> {
    let _permit = sh
        .commits
        .acquire()
        .await
        .expect("the commit semaphore is never closed");
    let store = sh.store.clone();
    let symbol = plan.symbol.clone();
    let interval = plan.interval;
    let learning = plan.venue.clone().map(|v| (v, plan.calendar.clone()));
    let write_meta = last_meta.as_ref() != Some(&batch.meta);
    *last_meta = Some(batch.meta.clone());
    let task = tokio::task::spawn_blocking(move || -> Result<u64, backfill_store::StoreError> {
        let stats = if batch.replace {
            store.replace_bars(&symbol, interval, &batch.bars)?
        } else {
            store.upsert_bars(&symbol, interval, &batch.bars)?
        };
        if !batch.actions.is_empty() {
            store.upsert_actions(&symbol, &batch.actions)?;
        }
        // A bar dropped by validation still shows the session was held.
        let with_bars: std::collections::BTreeSet<_> = (batch.bars.iter().map(|b| b.date))
            .chain(batch.flagged.iter().map(|f| f.date))
            .collect();
        if let Some((venue, calendar)) = &learning {
            let closed =
                closed_sessions(calendar, interval, &with_bars, &batch.coverage, &batch.meta);
            if !closed.is_empty() {
                store.record_closures(venue, &closed)?;
            }
        }
        if write_meta {
            let mut meta = batch.meta;
            meta.symbol = Some(symbol.clone());
            store.write_meta(&meta)?;
        }
        for range in &batch.fetched {
            store.record_flagged(&symbol, interval, *range, &batch.flagged)?;
        }
        let fetched_at = Timestamp::now();
        let rows = batch.bars.len() as u64;
        for (range, provisional) in batch.coverage {
            store.record_coverage(
                &symbol,
                interval,
                LedgerEntry {
                    range,
                    fetched_at,
                    rows,
                    provisional,
                },
            )?;
        }
        Ok(stats.inserted + stats.updated)
    });
    match task.await {
        Ok(Ok(rows)) => Ok(rows),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// What one or more answers leave to commit.
pub(crate) struct Batch {
    pub bars: Vec<Bar>,
    pub actions: Vec<Action>,
    pub meta: SymbolMeta,
    /// Ranges the provider answered for this batch (flags inside them are replaced).
    pub fetched: Vec<TimeRange>,
    /// Ledger entries to record: (range, provisional).
    pub coverage: Vec<(TimeRange, bool)>,
    /// Bars that broke a validation rule.
    pub flagged: Vec<Flagged>,
    /// Replace the whole stored history instead of merging (adjustment drift).
    pub replace: bool,
}

impl Batch {
    fn from_answer(answer: Answer, planned: &PlannedRequest) -> Batch {
        Batch {
            bars: answer.bars,
            actions: answer.actions,
            meta: answer.meta,
            fetched: vec![planned.range],
            coverage: split_provisional(planned.range, planned.provisional_from),
            flagged: Vec::new(),
            replace: false,
        }
    }

    /// Checks the bars against the rules and the ticker's calendar; drops the offenders when asked.
    fn validate(&mut self, plan: &TickerPlan, policy: InvalidBars) {
        let violations = validate(&self.bars, plan.interval, &plan.calendar);
        if violations.is_empty() {
            return;
        }
        let dropped = policy == InvalidBars::Drop;
        if dropped {
            let bad: std::collections::BTreeSet<Timestamp> =
                violations.iter().map(|v| v.ts).collect();
            self.bars.retain(|b| !bad.contains(&b.ts));
        }
        self.flagged = violations
            .into_iter()
            .map(|v| Flagged {
                ts: v.ts,
                date: v.date,
                rule: v.rule.as_str().to_owned(),
                dropped,
            })
            .collect();
    }
}

/// `[start, from)` is final and `[from, end)` provisional.
pub(crate) fn split_provisional(
    range: TimeRange,
    from: Option<Timestamp>,
) -> Vec<(TimeRange, bool)> {
    match from {
        None => vec![(range, false)],
        Some(f) => [
            (TimeRange::new(range.start(), f), false),
            (TimeRange::new(f.max(range.start()), range.end()), true),
        ]
        .into_iter()
        .filter_map(|(r, p)| r.map(|r| (r, p)))
        .collect(),
    }
}
