//! A series (symbol, interval) never mixes two providers: before a run, each ticker is sorted by
//! the provider its series came from (recorded in the store, see `Store::series_provider`), and
//! with `--switch-provider` a series of another provider is fetched again from the new one and
//! its whole history replaced in one commit.

use std::sync::Arc;

use anyhow::{Context, Result};
use backfill_domain::jiff::civil::Date;
use backfill_domain::{Interval, Symbol};
use backfill_engine::plan::WindowSpec;
use backfill_engine::{
    Cancel, Engine, PrepareInput, Prepared, Reporter, RunConfig, RunReport, Status, TickerReport,
    prepare,
};
use backfill_provider::Provider;
use backfill_store::{Store, StoreError};

use crate::commands::run::plan_all;
use crate::settings::Settings;

/// The tickers of one provider, sorted by where their series came from.
#[derive(Debug, Default)]
pub struct Sorted {
    /// New series, and series of this provider: fetched as usual.
    pub keep: Vec<Symbol>,
    /// Series of another provider, switched to this one (`--switch-provider`).
    pub switch: Vec<Symbol>,
    /// Series of another provider without `--switch-provider`: failed, saying how to switch.
    pub refused: Vec<TickerReport>,
}

/// Sorts `tickers`, to be fetched from `provider`, by the provider their series at `interval`
/// came from. With `record`, records `provider` for the series that have none yet (before
/// anything of theirs is fetched, so that a series is never stored without its provider).
///
/// # Errors
/// A record that cannot be read or written.
pub fn sort(
    store: &Store,
    provider: &str,
    interval: Interval,
    tickers: Vec<Symbol>,
    switch: bool,
    record: bool,
) -> Result<Sorted, StoreError> {
    let found = read_or_record(store, provider, interval, &tickers, record)?;
    let mut out = Sorted::default();
    for (symbol, found) in tickers.into_iter().zip(found) {
        match found {
            Some(p) if p == provider => out.keep.push(symbol),
            None => out.keep.push(symbol),
            Some(_) if switch => out.switch.push(symbol),
            Some(stored) => {
                let mut r = TickerReport::new(symbol.clone(), Status::Failed);
                r.error = Some(format!(
                    "`{symbol}` {interval} is stored from {stored}, and this run asks {provider}: a \
                     series never mixes two providers; hint: keep {stored} for it (`--provider \
                     {stored}`, or `\"{symbol}\" = \"{stored}\"` under `[providers]` in \
                     backfill.toml), or rerun with `--switch-provider` to replace its stored \
                     history with {provider}'s"
                ));
                r.failure = Some("provider");
                out.refused.push(r);
            }
        }
    }
    Ok(out)
}

/// Threads reading (and recording) series' providers at once.
const RECORD_THREADS: usize = 16;

/// The provider each series of `tickers` at `interval` came from, in order; with `record`,
/// `provider` is recorded for each series that has none (and `None` returned for it). Each record
/// is a durable write of its own: they run on up to [`RECORD_THREADS`] threads, so that their
/// fsyncs overlap instead of queueing (40 new series one after the other took 30 to 45 ms).
fn read_or_record(
    store: &Store,
    provider: &str,
    interval: Interval,
    tickers: &[Symbol],
    record: bool,
) -> Result<Vec<Option<String>>, StoreError> {
    let one = |symbol: &Symbol| -> Result<Option<String>, StoreError> {
        let found = store.series_provider(symbol, interval)?;
        if found.is_none() && record {
            store.record_series_provider(symbol, interval, provider)?;
        }
        Ok(found)
    };
    let share = tickers.len().div_ceil(RECORD_THREADS).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = tickers
            .chunks(share)
            .map(|chunk| scope.spawn(move || chunk.iter().map(one).collect::<Vec<_>>()))
            .collect();
        let mut out = Vec::with_capacity(tickers.len());
        for h in handles {
            for found in h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)) {
                out.push(found?);
            }
        }
        Ok(out)
    })
}

/// Switches `tickers` to `provider`: fetches each one's stored span and the run's window from
/// it into a scratch store beside the system's temporary files, then replaces the series'
/// history, ledger and provider record in the store ([`Store::switch_series`]) and adds the
/// actions and metadata the new provider sent. A ticker that is not fetched whole keeps its old
/// history and provider. Flagged bars of the new answers are not carried over.
///
/// # Errors
/// The scratch store cannot be created.
pub async fn switch<P: Provider>(
    settings: &Settings,
    store: &Arc<Store>,
    provider: Arc<P>,
    tickers: Vec<Symbol>,
    config: RunConfig,
    reporter: Arc<dyn Reporter>,
    cancel: Cancel,
) -> Result<RunReport> {
    let dir = std::env::temp_dir().join(format!(
        "backfill-switch-{}-{}",
        std::process::id(),
        backfill_domain::jiff::Timestamp::now().as_nanosecond()
    ));
    let scratch = Arc::new(
        Store::open(&dir)
            .with_context(|| format!("cannot create a scratch store at `{}`", dir.display()))?,
    );
    let result = switch_in(
        settings, store, &scratch, provider, tickers, config, reporter, cancel,
    )
    .await;
    drop(scratch);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

#[expect(clippy::too_many_arguments, reason = "one private step of `switch`")]
async fn switch_in<P: Provider>(
    settings: &Settings,
    store: &Arc<Store>,
    scratch: &Arc<Store>,
    provider: Arc<P>,
    tickers: Vec<Symbol>,
    config: RunConfig,
    reporter: Arc<dyn Reporter>,
    cancel: Cancel,
) -> Result<RunReport> {
    let window = provider.window(settings.interval);
    let mut prepared = Prepared::default();
    for symbol in &tickers {
        let (first, last) = stored_span(store, symbol, settings.interval)?;
        let planned = plan_all(settings, store, vec![symbol.clone()], window).await?;
        let window_first = planned.plans.first().and_then(|p| p.first);
        let start = [first, window_first, settings.start]
            .into_iter()
            .flatten()
            .min();
        let end = settings.end.map(|e| last.map_or(e, |l| e.max(l)));
        let (scratch, settings, symbol) = (scratch.clone(), settings.clone(), symbol.clone());
        let p = tokio::task::spawn_blocking(move || {
            prepare(
                &scratch,
                &PrepareInput {
                    tickers: &[symbol],
                    interval: settings.interval,
                    spec: WindowSpec {
                        start,
                        end,
                        days: settings.days,
                    },
                    window,
                    now: settings.now,
                    no_gaps: true,
                    closures: &settings.closures,
                },
            )
        })
        .await
        .context("gap detection stopped unexpectedly")?;
        prepared.plans.extend(p.plans);
        prepared.failed.extend(p.failed);
    }
    let name = provider.name().to_owned();
    let engine = Engine::new(provider, scratch.clone(), config);
    let mut report = engine
        .run(prepared.plans, prepared.failed, reporter, cancel)
        .await;
    for t in &mut report.tickers {
        if t.status != Status::Saved {
            continue;
        }
        let (store, scratch, symbol) = (store.clone(), scratch.clone(), t.symbol.clone());
        let (interval, name2) = (settings.interval, name.clone());
        let moved = tokio::task::spawn_blocking(move || {
            move_series(&store, &scratch, &symbol, interval, &name2)
        })
        .await
        .context("the switch stopped unexpectedly")?;
        match moved {
            Ok(()) => t.warnings.push(format!(
                "switched to {name}: the stored history was replaced by {name}'s"
            )),
            Err(e) => {
                t.status = Status::Failed;
                t.error = Some(format!(
                    "fetched from {name}, but the stored history could not be replaced: {e}"
                ));
                t.failure = Some("store");
            }
        }
    }
    Ok(report)
}

/// The first and last stored session dates of a series.
fn stored_span(
    store: &Store,
    symbol: &Symbol,
    interval: Interval,
) -> Result<(Option<Date>, Option<Date>)> {
    let s = store
        .summary(symbol, interval)
        .with_context(|| format!("cannot read the stored span of `{symbol}` {interval}"))?;
    Ok((s.as_ref().map(|s| s.first_date), s.map(|s| s.last_date)))
}

/// Moves a fetched series from `scratch` into `store`, replacing what is there.
fn move_series(
    store: &Store,
    scratch: &Store,
    symbol: &Symbol,
    interval: Interval,
    provider: &str,
) -> Result<(), StoreError> {
    let bars = scratch.read_bars(symbol, interval, None)?;
    let ledger = scratch.ledger(symbol, interval)?;
    store.switch_series(symbol, interval, provider, &bars, &ledger)?;
    store.upsert_actions(symbol, &scratch.read_actions(symbol)?)?;
    if let Some(meta) = scratch.read_meta(symbol)? {
        store.write_meta(&meta)?;
    }
    Ok(())
}
