//! Running a plan: bounded concurrency, one shared rate limiter, retries, commits as answers arrive.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use backfill_domain::jiff::Timestamp;
use backfill_domain::{Action, Bar, Interval, SymbolMeta, TimeRange};
use backfill_provider::retry::RetryPolicy;
use backfill_provider::{Answer, ErrorKind, FetchError, FetchRequest, Pacer, Provider, Window};
use backfill_store::{Basis, Flagged, LedgerEntry, Store, UpsertStats};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::coverage::{closures, earliest_after, provisional_after};
use crate::events::{Event, Reporter};
use crate::limits::{Gate, Limits, PausedTooLong, RateLimiter, Ticket};
use crate::plan::{PlannedRequest, TickerPlan};
use crate::rebase::{self, Failure, Source};
use crate::report::{RunReport, Status, TickerReport};
use crate::validate::{InvalidBars, validate};

/// Settings of a run's limit layers.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Maximum requests in flight.
    pub workers: usize,
    /// Rate and quotas to the provider, shared by every task.
    pub limits: Limits,
    /// The longest provider pause a ticker waits out (a `Retry-After` or quota reset beyond the
    /// retry policy's cap). Waiting does not spend retries; a longer pause fails the ticker.
    pub max_wait: Duration,
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
struct Shared<P> {
    provider: Arc<P>,
    store: Arc<Store>,
    invalid_bars: InvalidBars,
    retry: RetryPolicy,
    max_wait: Duration,
    limiter: Arc<RateLimiter>,
    gate: Arc<Gate>,
    reporter: Arc<dyn Reporter>,
    cancel: Cancel,
    /// Commits in progress at once, so that memory does not grow with `--workers`.
    commits: tokio::sync::Semaphore,
    /// When the run started (the plans were made just before).
    started: Instant,
}

/// Commits allowed at once: two per core, and at least [`MIN_COMMITS`]. A commit encodes Parquet
/// (CPU) and then waits on about ten fsyncs and renames (disk), so on a small machine the disk, not
/// the cores, bounds how many can usefully run together. Each holds one batch and an encoder's
/// buffers, so the number is fixed: memory does not grow with `--workers`.
fn commit_parallelism() -> usize {
    (2 * std::thread::available_parallelism().map_or(2, std::num::NonZero::get)).max(MIN_COMMITS)
}

/// The least number of commits allowed at once. Measured on 2 cores (`bench/backfill.md`): 40
/// answers arriving together were committed about 20 ms sooner with 16 at once than with 4.
const MIN_COMMITS: usize = 16;

impl<P: Provider> Engine<P> {
    /// The rate limiter every request of this engine passes (for reports and tests).
    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    pub fn new(provider: Arc<P>, store: Arc<Store>, config: RunConfig) -> Engine<P> {
        let limiter = Arc::new(RateLimiter::new(config.limits));
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
            max_wait: self.config.max_wait,
            limiter: self.limiter.clone(),
            gate: self.gate.clone(),
            reporter: reporter.clone(),
            cancel: cancel.clone(),
            commits: tokio::sync::Semaphore::new(commit_parallelism()),
            started,
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
                reporter.on_event(&Event::Queued {
                    symbol: &plan.symbol,
                });
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
        let window = sh.provider.window(plan.interval);
        let elapsed = sh.started.elapsed();
        let Some(planned) = clip_to_lookback(window, &plan, planned, elapsed, &mut report) else {
            continue;
        };
        let planned = &planned;
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
                rebase_then_batch(sh, &plan, planned, answer, &mut report, &mut rng).await
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

/// A planned request as it may be sent now: once the provider's lookback edge has moved on too
/// far since planning (see [`earliest_after`]), a request sent late is clipped to what the
/// provider still serves instead of being refused (HTTP 422). `None`, with a warning, when nothing
/// of it is left.
fn clip_to_lookback(
    window: Window,
    plan: &TickerPlan,
    planned: &PlannedRequest,
    elapsed: Duration,
    report: &mut TickerReport,
) -> Option<PlannedRequest> {
    let moved = backfill_domain::jiff::SignedDuration::try_from(elapsed).unwrap_or_default();
    let Some(edge) = earliest_after(window, plan.now, moved) else {
        return Some(*planned);
    };
    if planned.range.start() >= edge {
        return Some(*planned);
    }
    let Some(range) = TimeRange::new(edge, planned.range.end()) else {
        report.warnings.push(format!(
            "{} was past the provider's lookback by the time it could be sent, and was skipped",
            planned.range
        ));
        return None;
    };
    report.warnings.push(format!(
        "{} was sent late and clipped to start at {edge}, inside what the provider still serves",
        planned.range
    ));
    Some(PlannedRequest {
        range,
        provisional_from: planned.provisional_from.map(|p| p.max(edge)),
        ..*planned
    })
}

/// Puts the symbol's stored series on the basis of the answer's actions (see [`rebase`]), then
/// makes the answer a batch on that basis.
async fn rebase_then_batch<P: Provider>(
    sh: &Shared<P>,
    plan: &TickerPlan,
    planned: &PlannedRequest,
    answer: Answer,
    report: &mut TickerReport,
    rng: &mut fastrand::Rng,
) -> Result<Batch, Stop> {
    let ticker = rebase::Ticker {
        symbol: &plan.symbol,
        calendar: &plan.calendar,
        now: plan.now,
        // The provider's lookback edge moves on after planning, as for the planned requests.
        elapsed: backfill_domain::jiff::SignedDuration::try_from(sh.started.elapsed())
            .unwrap_or_default(),
    };
    let mut source = RunSource {
        sh,
        plan,
        report: &mut *report,
        rng,
    };
    let outcome = rebase::reconcile(&sh.store, &mut source, &ticker, &answer.actions)
        .await
        .map_err(|f| match f {
            Failure::Source(stop) => stop,
            Failure::Store(msg) => Stop::Store(msg),
        })?;
    report.adjusted |= outcome.adjusted;
    report.warnings.extend(outcome.notes);
    let mut batch = Batch::from_answer(answer, planned, outcome.basis);
    batch.actions.extend(outcome.actions);
    Ok(batch)
}

/// The run's side of [`rebase::Source`]: requests go through the shared limits and retries, and
/// are counted in the ticker's report.
struct RunSource<'a, P> {
    sh: &'a Shared<P>,
    plan: &'a TickerPlan,
    report: &'a mut TickerReport,
    rng: &'a mut fastrand::Rng,
}

impl<P: Provider> Source for RunSource<'_, P> {
    type Error = Stop;

    fn window(&self, interval: Interval) -> Window {
        self.sh.provider.window(interval)
    }

    async fn fetch(&mut self, req: FetchRequest) -> Result<Answer, Stop> {
        fetch_with_retries(self.sh, &req, self.report, self.rng).await
    }

    fn screen(&mut self, interval: Interval, bars: &mut Vec<Bar>) {
        let violations = validate(bars, interval, &self.plan.calendar);
        self.report.invalid_bars += violations.len() as u64;
        if self.sh.invalid_bars == InvalidBars::Drop {
            let bad: std::collections::BTreeSet<Timestamp> =
                violations.iter().map(|v| v.ts).collect();
            bars.retain(|b| !bad.contains(&b.ts));
        }
    }
}

/// Why a ticker stopped before its last request.
enum Stop {
    Cancelled,
    Failed(FetchError),
    /// The provider asked for a pause, or its quota has no room, for longer than the run may
    /// wait.
    PausedTooLong {
        wait: Duration,
        max_wait: Duration,
        /// The wait is for a quota the provider declared, not a pause it asked for.
        quota: bool,
    },
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
            Stop::PausedTooLong {
                wait,
                max_wait,
                quota,
            } => (
                Status::Failed,
                format!(
                    "{} {}, longer than the longest wait allowed ({}); \
                     hint: rerun once the pause is over (the run resumes where it stopped), or raise \
                     `--max-wait`",
                    if quota {
                        "the provider's request quota has no room for"
                    } else {
                        "the provider asked to pause for"
                    },
                    secs(wait),
                    secs(max_wait)
                ),
                "paused_too_long",
            ),
            Stop::Store(msg) => (Status::Failed, msg, "store"),
        };
        report.status = status;
        report.error = Some(error);
        report.failure = Some(failure);
    }
}

/// A duration in whole seconds, as `95s`.
fn secs(d: Duration) -> String {
    format!("{}s", d.as_secs_f64().ceil() as u64)
}

/// Fetches `req` until it is answered, retrying throttled and transient failures.
///
/// The order of the waits: the in-flight slot first, then the rate slot, which the provider takes
/// through the [`Pacer`] immediately before each HTTP request it sends. A throttled answer pauses
/// the whole provider before this request's slot is released, so no task sends inside the pause.
/// A pause longer than the retry policy's cap (a long `Retry-After`), or a spent quota however short, is waited out
/// without spending a retry, up to `max_wait`; beyond it the request fails with that reason.
async fn fetch_with_retries<P: Provider>(
    sh: &Shared<P>,
    req: &FetchRequest,
    report: &mut TickerReport,
    rng: &mut fastrand::Rng,
) -> Result<Answer, Stop> {
    let mut attempt: u32 = 0;
    let mut sent: u32 = 0;
    loop {
        if sh.cancel.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        let slot = tokio::select! {
            s = sh.gate.acquire() => s,
            () = sh.cancel.cancelled() => return Err(Stop::Cancelled),
        };
        let pacer = AttemptPacer {
            limiter: &sh.limiter,
            max_wait: sh.max_wait,
            reporter: sh.reporter.as_ref(),
            req,
            attempt: sent,
            state: Mutex::new(PacerState::default()),
            refused: tokio::sync::Notify::new(),
        };
        let result = tokio::select! {
            r = sh.provider.fetch_paced(req, &pacer) => r,
            paused = pacer.refused() => {
                return Err(Stop::PausedTooLong {
                    wait: paused.remaining,
                    max_wait: sh.max_wait,
                    quota: paused.quota,
                });
            }
            () = sh.cancel.cancelled() => return Err(Stop::Cancelled),
        };
        let (ticket, sent_at) = pacer.sent();
        sh.reporter.on_event(&Event::Answered {
            symbol: &req.symbol,
            range: req.range,
            attempt: sent,
            outcome: match &result {
                Ok(answer) => Ok(answer.bars.len()),
                Err(e) => Err(e.kind.label()),
            },
            latency: sent_at.map_or(Duration::ZERO, |t| t.elapsed()),
        });
        report.requests += 1;
        sent += 1;
        let err = match result {
            Ok(answer) => {
                if let Some(t) = ticket {
                    sh.limiter.on_clean(t);
                }
                report_limits(sh);
                return Ok(answer);
            }
            Err(e) => e,
        };
        let asked = err.kind.retry_after();
        let throttled = matches!(err.kind, ErrorKind::Throttled { .. });
        // A spent quota (Tiingo's hourly allocation) says nothing of our rate, and waiting for it
        // to reset is never a retry, however short the wait.
        let quota = matches!(err.kind, ErrorKind::QuotaSpent { .. });
        // The wait before the next attempt: what the server asked for, else our backoff. A cool-down
        // for throttling gets equal jitter: one of nearly zero would only be throttled again.
        let wait = asked.unwrap_or_else(|| {
            let d = sh.retry.delay(attempt, None, rng);
            if throttled {
                d.max(sh.retry.ceiling(attempt) / 2)
            } else {
                d
            }
        });
        if throttled {
            match ticket {
                Some(t) => sh.limiter.on_throttled(t, wait),
                None => sh.limiter.pause_for(wait),
            }
            report_limits(sh);
            sh.reporter.on_event(&Event::Throttled {
                symbol: &req.symbol,
                cool_down: wait,
            });
        } else if asked.is_some() {
            // A 503 with `Retry-After`, or a spent quota: the provider is unavailable, not saying
            // our rate is wrong.
            sh.limiter.pause_for(wait);
            if quota {
                report_limits(sh);
                sh.reporter.on_event(&Event::Throttled {
                    symbol: &req.symbol,
                    cool_down: wait,
                });
            }
        } else if !err.kind.is_retryable() {
            // The server accepted the request at this rate; the answer is just final.
            if let Some(t) = ticket {
                sh.limiter.on_clean(t);
            }
        }
        drop(slot);
        if !err.kind.is_retryable() {
            return Err(Stop::Failed(err));
        }
        let long_pause = quota || asked.is_some_and(|w| w > sh.retry.cap);
        if long_pause && wait > sh.max_wait {
            return Err(Stop::PausedTooLong {
                wait,
                max_wait: sh.max_wait,
                quota: false,
            });
        }
        if !long_pause {
            if attempt >= sh.retry.max_retries {
                return Err(Stop::Failed(err));
            }
            attempt += 1;
            report.retries += 1;
        }
        let reason = err.kind.to_string();
        sh.reporter.on_event(&Event::Retry {
            symbol: &req.symbol,
            attempt,
            delay: wait,
            reason: &reason,
        });
        // A pause is waited out in the limiter (with every other task); a transient failure
        // without one backs off here, for this ticker alone.
        if !throttled && asked.is_none() {
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = sh.cancel.cancelled() => return Err(Stop::Cancelled),
            }
        }
    }
}

/// Tells the reporter the limiter's current rate and the cap on requests in flight.
fn report_limits<P>(sh: &Shared<P>) {
    sh.reporter.on_event(&Event::Limits {
        rate: sh.limiter.current_rate(),
        in_flight_cap: sh.gate.max(),
    });
}

/// The [`Pacer`] of one attempt: takes rate slots from the shared limiter, reports the attempt's
/// first request as it goes out, remembers the ticket of the last one (the request whose answer
/// the attempt returns), and refuses when the provider is paused for longer than `max_wait`.
struct AttemptPacer<'a> {
    limiter: &'a RateLimiter,
    max_wait: Duration,
    reporter: &'a dyn Reporter,
    req: &'a FetchRequest,
    attempt: u32,
    state: Mutex<PacerState>,
    refused: tokio::sync::Notify,
}

#[derive(Default)]
struct PacerState {
    ticket: Option<Ticket>,
    /// When the attempt's first request went out.
    sent_at: Option<Instant>,
    refused: Option<PausedTooLong>,
}

impl AttemptPacer<'_> {
    /// The ticket of the last request sent, and when the first went out.
    fn sent(&self) -> (Option<Ticket>, Option<Instant>) {
        let st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        (st.ticket, st.sent_at)
    }

    /// Resolves when an acquire was refused because the provider is paused for too long.
    async fn refused(&self) -> PausedTooLong {
        loop {
            let notified = self.refused.notified();
            if let Some(p) = self
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .refused
            {
                return p;
            }
            notified.await;
        }
    }
}

impl Pacer for AttemptPacer<'_> {
    fn acquire(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            match self.limiter.acquire_within(self.max_wait).await {
                Ok(t) => {
                    let first = {
                        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                        st.sent_at.get_or_insert_with(Instant::now);
                        st.ticket.replace(t).is_none()
                    };
                    if first {
                        self.reporter.on_event(&Event::Request {
                            symbol: &self.req.symbol,
                            range: self.req.range,
                            attempt: self.attempt,
                        });
                    }
                }
                Err(p) => {
                    self.state
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .refused = Some(p);
                    self.refused.notify_waiters();
                    // The caller's select! ends the attempt through `refused`.
                    std::future::pending::<()>().await;
                }
            }
        })
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
    let started = Instant::now();
    let _permit = sh
        .commits
        .acquire()
        .await
        .expect("the commit semaphore is never closed");
    let store = sh.store.clone();
    let symbol = plan.symbol.clone();
    let interval = plan.interval;
    let learning = plan.venue.clone().map(|v| (v, plan.calendar.clone()));
    let now = plan.now;
    let write_meta = last_meta.as_ref() != Some(&batch.meta);
    *last_meta = Some(batch.meta.clone());
    let task =
        tokio::task::spawn_blocking(move || -> Result<UpsertStats, backfill_store::StoreError> {
            let stats = store.upsert_bars_on(&symbol, interval, &batch.bars, &batch.basis)?;
            if !batch.actions.is_empty() {
                store.upsert_actions(&symbol, &batch.actions)?;
            }
            // A bar dropped by validation still shows the session was held.
            let with_bars: std::collections::BTreeSet<_> = (batch.bars.iter().map(|b| b.date))
                .chain(batch.flagged.iter().map(|f| f.date))
                .collect();
            let mut coverage = batch.coverage;
            if let Some((venue, calendar)) = &learning {
                let found = closures(calendar, interval, &with_bars, &coverage, &batch.meta, now);
                if !found.closed.is_empty() {
                    store.record_closures(venue, &found.closed)?;
                }
                if let Some(from) = found.undecided_from {
                    coverage = provisional_after(coverage, from);
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
            for (range, provisional) in coverage {
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
            Ok(stats)
        });
    match task.await {
        Ok(Ok(stats)) => {
            sh.reporter.on_event(&Event::Committed {
                symbol: &plan.symbol,
                bytes: stats.bytes_written,
                latency: started.elapsed(),
            });
            Ok(stats.inserted + stats.updated)
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// What one or more answers leave to commit.
struct Batch {
    bars: Vec<Bar>,
    actions: Vec<Action>,
    meta: SymbolMeta,
    /// Ranges the provider answered for this batch (flags inside them are replaced).
    fetched: Vec<TimeRange>,
    /// Ledger entries to record: (range, provisional).
    coverage: Vec<(TimeRange, bool)>,
    /// Bars that broke a validation rule.
    flagged: Vec<Flagged>,
    /// The split/dividend basis the bars are on.
    basis: Basis,
}

impl Batch {
    fn from_answer(answer: Answer, planned: &PlannedRequest, basis: Basis) -> Batch {
        Batch {
            bars: answer.bars,
            actions: answer.actions,
            meta: answer.meta,
            fetched: vec![planned.range],
            coverage: split_provisional(planned.range, planned.provisional_from),
            flagged: Vec::new(),
            basis,
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
fn split_provisional(range: TimeRange, from: Option<Timestamp>) -> Vec<(TimeRange, bool)> {
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
