//! Adjustment drift. Yahoo serves prices split-adjusted as of the moment you ask, so when a split
//! newer than the stored history appears, every stored bar before it is on the old basis. The
//! ticker's whole stored history is then fetched again and replaced in one commit, so the store
//! never holds two adjustment regimes.
//!
//! Bars older than the provider's lookback (intraday) cannot be fetched again; they are put on the
//! new basis by the split ratio (prices divided, volume multiplied), which is what the provider
//! itself does to the bars it still serves. The run report says which tickers were re-based.

use std::fmt::Write as _;

use backfill_domain::{Action, ActionKind, Bar, TimeRange};
use backfill_provider::{Answer, FetchRequest, Provider};

use crate::plan::{PlannedRequest, TickerPlan, day_bounds};
use crate::report::TickerReport;
use crate::run::{Batch, Shared, Stop, fetch_with_retries, split_provisional};

/// A split the stored history does not reflect.
#[derive(Debug, Clone)]
pub(crate) struct Drift {
    /// The new splits, oldest first.
    splits: Vec<Action>,
    /// The stored history's span, in whole local days.
    history: TimeRange,
}

/// Splits in `answer` that are not among the stored actions and are newer than the first stored bar.
pub(crate) async fn detect<P: Provider>(
    sh: &Shared<P>,
    plan: &TickerPlan,
    answer: &Answer,
) -> Result<Option<Drift>, String> {
    let splits: Vec<Action> = answer
        .actions
        .iter()
        .filter(|a| matches!(a.kind, ActionKind::Split { .. }))
        .cloned()
        .collect();
    if splits.is_empty() {
        return Ok(None);
    }
    let store = sh.store.clone();
    let (symbol, interval) = (plan.symbol.clone(), plan.interval);
    let (stored, summary) =
        tokio::task::spawn_blocking(move || -> Result<_, backfill_store::StoreError> {
            Ok((
                store.read_actions(&symbol)?,
                store.summary(&symbol, interval)?,
            ))
        })
        .await
        .map_err(|e| {
            format!(
                "reading the stored history of `{}` stopped: {e}",
                plan.symbol
            )
        })?
        .map_err(|e| e.to_string())?;
    let Some(summary) = summary else {
        return Ok(None);
    };
    let known = |a: &Action| {
        stored
            .iter()
            .any(|s| s.date == a.date && s.split_ratio() == a.split_ratio())
    };
    let new: Vec<Action> = splits
        .into_iter()
        .filter(|a| !known(a) && a.ts > summary.first_ts)
        .collect();
    if new.is_empty() {
        return Ok(None);
    }
    let start = day_bounds(&plan.calendar, summary.first_date).0;
    let end = day_bounds(&plan.calendar, summary.last_date).1;
    let history = TimeRange::new(start, end).expect("a stored history spans at least one day");
    Ok(Some(Drift {
        splits: new,
        history,
    }))
}

/// Fetches the whole stored history again (plus the planned request) and returns a batch that
/// replaces it.
pub(crate) async fn refetch<P: Provider>(
    sh: &Shared<P>,
    plan: &TickerPlan,
    planned: &PlannedRequest,
    drift: &Drift,
    report: &mut TickerReport,
    rng: &mut fastrand::Rng,
) -> Result<Batch, Stop> {
    let start = drift.history.start().min(planned.range.start());
    let end = drift.history.end().max(planned.range.end());
    let reachable = plan.earliest.map_or(start, |e| start.max(e));
    let window = sh.provider.window(plan.interval);
    let mut batch = Batch {
        bars: Vec::new(),
        actions: Vec::new(),
        meta: backfill_domain::SymbolMeta::default(),
        fetched: Vec::new(),
        coverage: Vec::new(),
        flagged: Vec::new(),
        replace: true,
    };
    let mut from = reachable;
    while from < end {
        let to = window.max_span.map_or(end, |m| (from + m).min(end));
        let range = TimeRange::new(from, to).expect("from < to");
        let req = FetchRequest {
            symbol: plan.symbol.clone(),
            interval: plan.interval,
            range,
        };
        let answer = fetch_with_retries(sh, &req, report, rng).await?;
        batch.bars.extend(answer.bars);
        batch.actions.extend(answer.actions);
        batch.meta = answer.meta;
        batch.fetched.push(range);
        let provisional_from = planned.provisional_from.filter(|p| range.contains(*p));
        batch
            .coverage
            .extend(split_provisional(range, provisional_from));
        from = to;
    }
    let mut rebased = 0;
    if reachable > start {
        // What the provider no longer serves: put it on the new basis ourselves.
        let store = sh.store.clone();
        let (symbol, interval) = (plan.symbol.clone(), plan.interval);
        let old = TimeRange::new(start, reachable).expect("start < reachable");
        let mut stale =
            tokio::task::spawn_blocking(move || store.read_bars(&symbol, interval, Some(old)))
                .await
                .map_err(|e| {
                    Stop::Store(format!(
                        "reading the stored history of `{}` stopped: {e}",
                        plan.symbol
                    ))
                })?
                .map_err(|e| Stop::Store(e.to_string()))?;
        for bar in &mut stale {
            rebase(bar, &drift.splits);
        }
        rebased = stale.len();
        batch.bars.extend(stale);
    }
    batch.bars.sort_by_key(|b| b.ts);
    let names: Vec<String> = drift
        .splits
        .iter()
        .map(|s| match s.kind {
            ActionKind::Split {
                numerator,
                denominator,
            } => format!("{numerator}:{denominator} split on {}", s.date),
            _ => unreachable!("only splits are kept"),
        })
        .collect();
    let mut note = format!(
        "{} is newer than the stored history from {}: fetched the history again and replaced it in one commit ({} bars)",
        names.join(", "),
        drift.history.start().strftime("%Y-%m-%d"),
        batch.bars.len()
    );
    if rebased > 0 {
        let _ = write!(
            note,
            "; {rebased} bars older than the provider serves were divided by the split ratio"
        );
    }
    report.adjusted = true;
    report.warnings.push(note);
    Ok(batch)
}

/// Puts a bar on the basis after every split newer than it.
fn rebase(bar: &mut Bar, splits: &[Action]) {
    for split in splits.iter().filter(|s| s.ts > bar.ts) {
        if let Some(ratio) = split.split_ratio().filter(|r| r.is_finite() && *r > 0.0) {
            bar.open /= ratio;
            bar.high /= ratio;
            bar.low /= ratio;
            bar.close /= ratio;
            bar.adj_close = bar.adj_close.map(|a| a / ratio);
            bar.volume = (bar.volume as f64 * ratio).round() as i64;
        }
    }
}
