//! Keeping every stored series of a symbol on the provider's current split/dividend basis.
//!
//! Yahoo serves prices split-adjusted, and `adj_close` dividend-adjusted, as of the moment you ask.
//! When an answer carries a split or dividend the symbol's stored actions do not have yet, every
//! stored series of the symbol (1d, 1wk, 1mo and intraday, whichever interval's run saw it) is put
//! on the new basis before the answer is committed:
//!
//! - the part of the stored history the provider still serves is fetched again (a new dividend on
//!   daily bars is one request);
//! - [`Store::rebase_bars`] moves the rest by the split ratios and overlays the fetched bars, one
//!   partition file at a time, each file recording its basis in the same atomic write, so an
//!   interrupted, repeated or concurrent re-basing never divides a bar twice;
//! - stored bars the refetch did not return are kept, with a warning.
//!
//! The new actions are committed only after every series is on their basis (the caller commits
//! them with the answer). A run killed half-way therefore sees the same actions as new next time
//! and finishes the job; the store's actions never claim a basis some series lacks.
//!
//! This step talks to the run only through [`Source`] (fetch one request under the run's limits,
//! screen bars), so it can be tested and moved alone.

use std::fmt::Write as _;
use std::future::Future;
use std::sync::Arc;

use backfill_calendar::Calendar;
use backfill_domain::jiff::{SignedDuration, Timestamp};
use backfill_domain::{Action, Bar, Interval, Symbol, TimeRange};
use backfill_provider::{Answer, FetchRequest, Window};
use backfill_store::{Basis, RebaseStats, Store, StoreError};

use crate::coverage::earliest_after;
use crate::plan::day_bounds;

/// What re-basing needs from the run that found the new actions.
pub(crate) trait Source {
    /// Why a fetch stopped (the run's own reason: cancelled, failed).
    type Error;
    /// The provider's limits at `interval`.
    fn window(&self, interval: Interval) -> Window;
    /// Sends one request through the run's limits and retries.
    fn fetch(
        &mut self,
        req: FetchRequest,
    ) -> impl Future<Output = Result<Answer, Self::Error>> + Send;
    /// Applies the run's bad-bar policy to fetched bars of `interval`.
    fn screen(&mut self, interval: Interval, bars: &mut Vec<Bar>);
}

/// The symbol being re-based.
pub(crate) struct Ticker<'a> {
    pub symbol: &'a Symbol,
    pub calendar: &'a Calendar,
    /// The run's clock when it planned, and the time since (for the provider's lookback).
    pub now: Timestamp,
    pub elapsed: SignedDuration,
}

/// Why re-basing stopped.
pub(crate) enum Failure<E> {
    Source(E),
    Store(String),
}

impl<E> From<StoreError> for Failure<E> {
    fn from(e: StoreError) -> Self {
        Failure::Store(e.to_string())
    }
}

/// What the caller commits with its answer.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// The basis the answer's bars are on; commit them with it.
    pub basis: Basis,
    /// Actions the refetches returned (commit them with the answer's).
    pub actions: Vec<Action>,
    /// A stored series was re-based or refreshed.
    pub adjusted: bool,
    /// One line per series re-based, for the ticker's warnings.
    pub notes: Vec<String>,
}

/// How many times a refetch may reveal yet another split before re-basing gives up.
const MAX_ROUNDS: usize = 3;

/// Puts every stored series of the symbol on the basis of its stored actions plus `found` (the
/// actions of an answer about to be committed), and returns that basis.
///
/// Cheap when `found` holds no split or dividend the store lacks: one read of the actions file.
pub(crate) async fn reconcile<S: Source>(
    store: &Arc<Store>,
    source: &mut S,
    t: &Ticker<'_>,
    found: &[Action],
) -> Result<Outcome, Failure<S::Error>> {
    let stored = blocking(store, {
        let symbol = t.symbol.clone();
        move |s| s.read_actions(&symbol)
    })
    .await?;
    let mut target = Basis::from_actions(stored.iter().chain(found));
    let mut out = Outcome {
        basis: target.clone(),
        ..Outcome::default()
    };
    if target == Basis::from_actions(&stored) {
        return Ok(out);
    }
    for _ in 0..MAX_ROUNDS {
        let (refetched, revealed) = rebase_all(store, source, t, &target, &mut out).await?;
        out.actions.extend(refetched);
        if !revealed {
            out.basis = target;
            return Ok(out);
        }
        // A refetch returned a split or dividend the target lacked: its bars are on a newer basis.
        target = target.with_actions(&out.actions);
    }
    Err(Failure::Store(format!(
        "the provider kept reporting new splits or dividends for `{}` while its stored history was being re-based\n\nhint: run again later",
        t.symbol
    )))
}

/// Re-bases every stored series not on `target`. Returns the refetched actions, and whether they
/// hold a split or dividend `target` lacks (then nothing further was written after that refetch).
async fn rebase_all<S: Source>(
    store: &Arc<Store>,
    source: &mut S,
    t: &Ticker<'_>,
    target: &Basis,
    out: &mut Outcome,
) -> Result<(Vec<Action>, bool), Failure<S::Error>> {
    let mut actions = Vec::new();
    let intervals = blocking(store, {
        let symbol = t.symbol.clone();
        move |s| s.intervals(&symbol)
    })
    .await?;
    for interval in intervals {
        let (on_basis, summary) = blocking(store, {
            let (symbol, target) = (t.symbol.clone(), target.clone());
            move |s| {
                Ok((
                    s.is_on_basis(&symbol, interval, &target)?,
                    s.summary(&symbol, interval)?,
                ))
            }
        })
        .await?;
        let Some(summary) = summary.filter(|_| !on_basis) else {
            continue;
        };
        let (start, _) = day_bounds(t.calendar, summary.first_date);
        let (_, end) = day_bounds(t.calendar, summary.last_date);
        let window = source.window(interval);
        let from = earliest_after(window, t.now, t.elapsed).map_or(start, |e| start.max(e));
        let mut fresh = Vec::new();
        let mut fetched = Vec::new();
        let mut cursor = from;
        while cursor < end {
            let to = window.max_span.map_or(end, |m| (cursor + m).min(end));
            let range = TimeRange::new(cursor, to).expect("cursor < to");
            let answer = source
                .fetch(FetchRequest::new(t.symbol.clone(), interval, range))
                .await
                .map_err(Failure::Source)?;
            fresh.extend(answer.bars);
            actions.extend(answer.actions);
            fetched.push(range);
            cursor = to;
        }
        if target.with_actions(&actions) != *target {
            return Ok((actions, true));
        }
        source.screen(interval, &mut fresh);
        let stats = blocking(store, {
            let (symbol, target) = (t.symbol.clone(), target.clone());
            move |s| s.rebase_bars(&symbol, interval, &target, &fresh, &fetched)
        })
        .await?;
        out.adjusted = true;
        out.notes
            .extend(note(t.symbol, interval, target, start, &stats));
    }
    Ok((actions, false))
}

/// The ticker's warnings about one re-based series.
fn note(
    symbol: &Symbol,
    interval: Interval,
    target: &Basis,
    first: Timestamp,
    stats: &RebaseStats,
) -> Vec<String> {
    let mut notes = Vec::new();
    let splits: Vec<String> = target
        .splits
        .iter()
        .filter(|s| s.ts > first)
        .map(|s| format!("{}:{} split on {}", s.numerator, s.denominator, s.date))
        .collect();
    let mut line = if splits.is_empty() {
        format!(
            "a new dividend changed the provider's adj_close: fetched the stored `{interval}` history of `{symbol}` again ({} bars)",
            stats.refreshed
        )
    } else {
        format!(
            "{} is newer than part of the stored `{interval}` history of `{symbol}`: re-based it ({} bars fetched again)",
            splits.join(", "),
            stats.refreshed
        )
    };
    if stats.divided > 0 {
        let _ = write!(
            line,
            "; {} bars older than the provider serves were divided by the split ratio",
            stats.divided
        );
    }
    notes.push(line);
    if stats.missing_from_refetch > 0 {
        notes.push(format!(
            "{} stored `{interval}` bars of `{symbol}` were not in the provider's new answer for their sessions; they were kept",
            stats.missing_from_refetch
        ));
    }
    notes
}

/// Runs a store call on the blocking pool.
async fn blocking<T: Send + 'static>(
    store: &Arc<Store>,
    f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = store.clone();
    match tokio::task::spawn_blocking(move || f(&store)).await {
        Ok(r) => r,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}
