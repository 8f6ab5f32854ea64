//! The outcome of a run, per ticker and in total.

use std::time::Duration;

use backfill_domain::Symbol;
use backfill_domain::jiff::civil::Date;
use serde::Serialize;

/// How one ticker ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every planned request was answered and committed (possibly with zero new rows).
    Saved,
    /// Nothing was missing: no request was needed.
    UpToDate,
    /// The provider does not know the symbol.
    NotFound,
    /// A request failed after its retries were spent, or the store refused the data.
    Failed,
    /// Stopped by a cancel (Ctrl-C) before its last request; what was committed stays.
    Interrupted,
}

impl Status {
    /// Whether the ticker is complete (nothing left for a rerun to do).
    pub fn is_complete(self) -> bool {
        matches!(self, Status::Saved | Status::UpToDate)
    }
}

/// One ticker's outcome. Serialised as-is in `--json` output.
#[derive(Debug, Clone, Serialize)]
pub struct TickerReport {
    pub symbol: Symbol,
    pub status: Status,
    /// Bars written (new or changed).
    pub rows: u64,
    /// Requests sent, retries included.
    pub requests: u32,
    pub retries: u32,
    /// First and last session dates of the requested window.
    pub first: Option<Date>,
    pub last: Option<Date>,
    pub error: Option<String>,
    /// What kind of failure `error` is, as a stable label for grouping: `not_found`, `throttled`,
    /// `quota`, `out_of_window`, `transient`, `malformed`, `unauthorized`, `paused_too_long`,
    /// `store` or `interrupted`.
    pub failure: Option<&'static str>,
    /// Fetched bars that broke a validation rule (kept flagged or dropped, per `--invalid-bars`).
    pub invalid_bars: u64,
    /// A split newer than the stored history was seen: the history was fetched again and replaced.
    pub adjusted: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl TickerReport {
    /// A report with nothing sent, saved or known yet about the window.
    pub fn new(symbol: Symbol, status: Status) -> TickerReport {
        TickerReport {
            symbol,
            status,
            rows: 0,
            requests: 0,
            retries: 0,
            first: None,
            last: None,
            error: None,
            failure: None,
            invalid_bars: 0,
            adjusted: false,
            warnings: Vec::new(),
        }
    }
}

/// Totals over a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub tickers: usize,
    pub saved: usize,
    pub up_to_date: usize,
    pub not_found: usize,
    pub failed: usize,
    /// Tickers stopped by a cancel before their last request.
    pub interrupted_tickers: usize,
    pub rows: u64,
    pub requests: u64,
    pub retries: u64,
    pub invalid_bars: u64,
    pub adjusted: usize,
    /// Wall-clock time the provider spent in throttling cool-downs during the run (every task
    /// waits during one); never more than `elapsed_secs`.
    pub throttled_secs: f64,
    pub elapsed_secs: f64,
    /// The run was stopped (Ctrl-C) before every ticker was done.
    pub interrupted: bool,
}

/// The whole run's outcome.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    pub tickers: Vec<TickerReport>,
    pub totals: Totals,
}

impl RunReport {
    /// Builds the totals from the per-ticker reports. Throttled time counts only within the run:
    /// it is clipped to `elapsed`.
    pub fn new(
        tickers: Vec<TickerReport>,
        throttled: Duration,
        elapsed: Duration,
        interrupted: bool,
    ) -> RunReport {
        let mut t = Totals {
            tickers: tickers.len(),
            throttled_secs: throttled.min(elapsed).as_secs_f64(),
            elapsed_secs: elapsed.as_secs_f64(),
            interrupted,
            ..Totals::default()
        };
        for r in &tickers {
            match r.status {
                Status::Saved => t.saved += 1,
                Status::UpToDate => t.up_to_date += 1,
                Status::NotFound => t.not_found += 1,
                Status::Failed => t.failed += 1,
                Status::Interrupted => t.interrupted_tickers += 1,
            }
            t.rows += r.rows;
            t.requests += u64::from(r.requests);
            t.retries += u64::from(r.retries);
            t.invalid_bars += r.invalid_bars;
            t.adjusted += usize::from(r.adjusted);
        }
        RunReport { tickers, totals: t }
    }

    /// Whether every ticker is complete.
    pub fn is_complete(&self) -> bool {
        !self.totals.interrupted && self.tickers.iter().all(|t| t.status.is_complete())
    }
}
