//! `backfill dashboard --store`: the store without a run. The history of runs (from
//! `_meta/runs/`), a coverage map (tickers × months, from the same per-session check as
//! `backfill check`), failures with their reasons, flagged bars and damaged files.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use backfill_calendar::Exchange;
use backfill_domain::jiff::Timestamp;
use backfill_domain::jiff::civil::Date;
use backfill_domain::{Interval, Symbol};
use backfill_engine::check::{CheckInput, SessionCoverage, check};
use backfill_engine::plan::WindowSpec;
use backfill_provider::Window;
use backfill_store::{Flagged, Store, StoreError};
use serde::Serialize;

/// Runs listed on the page.
pub const RUNS_SHOWN: usize = 30;

/// What the store page shows, and how to compute it.
#[derive(Debug)]
pub struct StoreView {
    pub store: Arc<Store>,
    /// Tickers to check; empty: every series of `interval` in the store (as `backfill check`).
    pub tickers: Vec<Symbol>,
    pub interval: Interval,
    /// The window to check; `None`: each series' whole stored span (as `backfill check`).
    pub window: Option<WindowSpec>,
    /// Sessions checked for a series with nothing stored, when no window is given.
    pub default_days: usize,
    /// The instant the check is made at; `None`: the time of each request.
    pub now: Option<Timestamp>,
    pub closures: BTreeMap<Exchange, Vec<Date>>,
    /// The limits of `interval` for a series with no recorded provider (the run's default
    /// provider's); a series with one is checked with that provider's.
    pub provider_window: Window,
}

/// The JSON of `/api/store`.
#[derive(Debug, Serialize)]
pub struct StoreDoc {
    pub store: String,
    pub interval: String,
    pub now: Timestamp,
    pub runs: Vec<RunSummary>,
    /// Every month that holds a session of some ticker's window, in order (`2024-01`).
    pub months: Vec<String>,
    pub coverage: Vec<TickerCoverage>,
    pub flagged: Vec<FlaggedBar>,
    pub problems: Vec<Problem>,
}

/// One stored run.
#[derive(Debug, Serialize)]
pub struct RunSummary {
    pub id: String,
    pub started: Option<serde_json::Value>,
    pub finished: Option<serde_json::Value>,
    pub interval: Option<serde_json::Value>,
    /// The run's totals as stored.
    pub totals: Option<serde_json::Value>,
    /// Tickers that ended `failed` or `not_found`, with their errors.
    pub failures: Vec<Failure>,
    /// Why the file cannot be read, if it cannot.
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Failure {
    pub symbol: String,
    pub status: String,
    pub error: Option<String>,
}

/// One ticker's row of the coverage map. `sessions`, `stored`, `missing` and `no_data` are the
/// numbers `backfill check` prints.
#[derive(Debug, Serialize)]
pub struct TickerCoverage {
    pub symbol: String,
    pub exchange: String,
    pub rows: u64,
    pub sessions: usize,
    pub stored: usize,
    pub missing: usize,
    pub no_data: usize,
    pub last_fetched: Option<Timestamp>,
    /// Per month of the window.
    pub months: BTreeMap<String, MonthCell>,
    /// Why the series could not be checked (the other fields are then empty).
    pub error: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct MonthCell {
    pub sessions: usize,
    pub stored: usize,
    pub no_data: usize,
    pub missing: usize,
    /// Sessions never fetched that the provider no longer serves (not missing).
    pub not_available: usize,
    /// The missing session dates of the month.
    pub missing_dates: Vec<Date>,
}

#[derive(Debug, Serialize)]
pub struct FlaggedBar {
    pub symbol: String,
    #[serde(flatten)]
    pub bar: Flagged,
}

#[derive(Debug, Serialize)]
pub struct Problem {
    pub path: String,
    pub reason: String,
}

impl StoreView {
    /// The store's directory or URL.
    pub fn location(&self) -> &str {
        self.store.location()
    }

    /// Reads the store and builds the page's document. Blocking (file I/O).
    ///
    /// # Errors
    /// The store's run history or series list cannot be read. A series that cannot be checked is
    /// reported in its row instead.
    pub fn document(&self) -> Result<StoreDoc, StoreError> {
        let now = self.now.unwrap_or_else(Timestamp::now);
        let tickers = if self.tickers.is_empty() {
            self.store
                .list_series()?
                .into_iter()
                .filter(|(_, i)| *i == self.interval)
                .map(|(s, _)| s)
                .collect()
        } else {
            self.tickers.clone()
        };
        let report = check(
            &self.store,
            &CheckInput {
                tickers: &tickers,
                interval: self.interval,
                window: self.window,
                default_days: self.default_days,
                now,
                closures: &self.closures,
                provider_window: self.provider_window,
            },
        )?;
        let mut months = BTreeSet::new();
        let mut coverage = Vec::with_capacity(report.tickers.len());
        let mut flagged = Vec::new();
        for c in report.tickers {
            let mut cells: BTreeMap<String, MonthCell> = BTreeMap::new();
            for (date, state) in &c.session_states {
                let key = date.strftime("%Y-%m").to_string();
                months.insert(key.clone());
                let cell = cells.entry(key).or_default();
                cell.sessions += 1;
                match state {
                    SessionCoverage::Stored => cell.stored += 1,
                    SessionCoverage::NoData => cell.no_data += 1,
                    SessionCoverage::NotAvailable => cell.not_available += 1,
                    SessionCoverage::Missing => {
                        cell.missing += 1;
                        cell.missing_dates.push(*date);
                    }
                }
            }
            let symbol = c.symbol.to_string();
            flagged.extend(c.flagged.into_iter().map(|bar| FlaggedBar {
                symbol: symbol.clone(),
                bar,
            }));
            coverage.push(TickerCoverage {
                symbol,
                exchange: c.exchange,
                rows: c.rows,
                sessions: c.sessions,
                stored: c.stored,
                missing: c.missing,
                no_data: c.no_data,
                last_fetched: c.last_fetched,
                months: cells,
                error: c.error,
            });
        }
        let runs = self
            .store
            .runs(RUNS_SHOWN)?
            .into_iter()
            .map(|r| match r.report {
                Ok(doc) => summarize(r.id, &doc),
                Err(e) => RunSummary {
                    id: r.id,
                    started: None,
                    finished: None,
                    interval: None,
                    totals: None,
                    failures: Vec::new(),
                    error: Some(e),
                },
            })
            .collect();
        let problems = report
            .problems
            .into_iter()
            .map(|p| Problem {
                path: p.path,
                reason: p.reason,
            })
            .collect();
        Ok(StoreDoc {
            store: self.location().to_owned(),
            interval: self.interval.to_string(),
            now,
            runs,
            months: months.into_iter().collect(),
            coverage,
            flagged,
            problems,
        })
    }
}

fn summarize(id: String, doc: &serde_json::Value) -> RunSummary {
    let failures = doc
        .get("tickers")
        .and_then(serde_json::Value::as_array)
        .map(|ts| {
            ts.iter()
                .filter_map(|t| {
                    let status = t.get("status")?.as_str()?;
                    let symbol = t.get("symbol")?.as_str()?;
                    matches!(status, "failed" | "not_found").then(|| Failure {
                        symbol: symbol.to_owned(),
                        status: status.to_owned(),
                        error: t
                            .get("error")
                            .and_then(serde_json::Value::as_str)
                            .map(str::to_owned),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    RunSummary {
        id,
        started: doc.get("started").cloned(),
        finished: doc.get("finished").cloned(),
        interval: doc.get("interval").cloned(),
        totals: doc.get("totals").cloned(),
        failures,
        error: None,
    }
}
