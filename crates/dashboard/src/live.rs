//! The state of a run as the dashboard shows it, built from the engine's events alone.
//!
//! [`LiveState::apply`] folds one [`Event`] into the state; [`LiveState::snapshot`] is what the
//! page, `/api/run` and `/metrics` read. Everything sits under one lock in [`Live`], so a snapshot
//! never mixes counters from before and after an event.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use backfill_engine::{Event, Reporter, Status};
use serde::Serialize;
use tokio::sync::watch;

use crate::expo::Histogram;

/// Seconds of per-second request counts kept for the chart.
pub const SERIES_SECS: usize = 600;

/// Upper bounds (seconds) of the request latency histogram's buckets.
pub const REQUEST_BUCKETS: [f64; 12] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Upper bounds (seconds) of the commit latency histogram's buckets.
pub const COMMIT_BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Where a ticker is. The first three are not final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TickerState {
    /// Planned, waiting for a worker.
    Queued,
    /// A request is being sent or answered, or an answer committed.
    Fetching,
    /// The last attempt failed in a retryable way; waiting for the next.
    Retrying,
    Saved,
    UpToDate,
    NotFound,
    Failed,
    /// Stopped by Ctrl-C before it was complete.
    Interrupted,
}

impl TickerState {
    pub const ALL: [TickerState; 8] = [
        TickerState::Queued,
        TickerState::Fetching,
        TickerState::Retrying,
        TickerState::Saved,
        TickerState::UpToDate,
        TickerState::NotFound,
        TickerState::Failed,
        TickerState::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TickerState::Queued => "queued",
            TickerState::Fetching => "fetching",
            TickerState::Retrying => "retrying",
            TickerState::Saved => "saved",
            TickerState::UpToDate => "up_to_date",
            TickerState::NotFound => "not_found",
            TickerState::Failed => "failed",
            TickerState::Interrupted => "interrupted",
        }
    }

    fn from_status(status: Status) -> TickerState {
        match status {
            Status::Saved => TickerState::Saved,
            Status::UpToDate => TickerState::UpToDate,
            Status::NotFound => TickerState::NotFound,
            Status::Failed => TickerState::Failed,
            Status::Interrupted => TickerState::Interrupted,
        }
    }
}

/// How an answer is counted on the chart: the HTTP answers users think in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerClass {
    /// A usable answer (HTTP 200).
    Ok,
    /// Throttled (HTTP 429).
    Throttled,
    /// A server error or a broken connection (5xx, reset, timeout, truncated body).
    Transient,
    /// Anything else (404, 422, 401, unusable body).
    Other,
}

impl AnswerClass {
    fn of(outcome: &str) -> AnswerClass {
        match outcome {
            "ok" => AnswerClass::Ok,
            "throttled" => AnswerClass::Throttled,
            "transient" => AnswerClass::Transient,
            _ => AnswerClass::Other,
        }
    }
}

/// One ticker's row on the page.
#[derive(Debug, Clone, Serialize)]
pub struct TickerRow {
    pub symbol: String,
    pub state: TickerState,
    /// Bars written so far (new or changed).
    pub rows: u64,
    /// Requests sent, retries included.
    pub requests: u32,
    pub retries: u32,
    /// The last retry reason, or the final error.
    pub last_error: Option<String>,
}

/// Totals over the run so far.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    /// Tickers in the run (known once the plan is done).
    pub tickers: usize,
    /// Tickers in a final state.
    pub done: usize,
    pub saved: usize,
    pub up_to_date: usize,
    pub not_found: usize,
    pub failed: usize,
    pub interrupted: usize,
    /// Requests the plan called for, before retries.
    pub planned_requests: usize,
    /// Requests sent, retries included.
    pub requests: u64,
    /// Requests answered, by outcome (`ok` or a failure label such as `throttled`).
    pub answers: BTreeMap<&'static str, u64>,
    pub retries: u64,
    /// Times the provider throttled us.
    pub throttled: u64,
    pub rows: u64,
    /// Parquet bytes written to the store.
    pub bytes: u64,
    pub commits: u64,
    /// Requests sent and not yet answered.
    pub in_flight: u64,
}

/// The limit layers as last reported.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Limits {
    /// Requests per second currently allowed; `None` for no limit (or not reported yet).
    pub rate: Option<f64>,
    /// Requests allowed in flight; `None` until the first answer.
    pub in_flight_cap: Option<usize>,
}

/// Requests per second over the last [`SERIES_SECS`] seconds, by answer class.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Series {
    /// Run second of the first entry (seconds since the dashboard started).
    pub start: u64,
    /// One `[ok, throttled, transient, other]` per second.
    pub counts: VecDeque<[u32; 4]>,
}

impl Series {
    fn add(&mut self, sec: u64, class: AnswerClass) {
        self.advance(sec);
        let idx = (sec - self.start) as usize;
        if let Some(slot) = self.counts.get_mut(idx) {
            slot[class as usize] += 1;
        }
    }

    /// Extends the series with empty seconds up to `sec`, dropping what is older than the window.
    fn advance(&mut self, sec: u64) {
        if self.counts.is_empty() {
            self.start = sec;
        }
        while self.start + (self.counts.len() as u64) <= sec {
            self.counts.push_back([0; 4]);
        }
        while self.counts.len() > SERIES_SECS {
            self.counts.pop_front();
            self.start += 1;
        }
    }
}

/// Everything the dashboard knows about the run.
#[derive(Debug, Clone)]
pub struct LiveState {
    pub tickers: BTreeMap<String, TickerRow>,
    pub totals: Totals,
    pub limits: Limits,
    pub series: Series,
    pub request_latency: Histogram,
    pub commit_latency: Histogram,
    /// The plan is done (`Planned` was seen).
    pub planned: bool,
    /// The run is over (`Finished` was seen).
    pub finished: bool,
    pub interrupted: bool,
    /// Time since the run's events began, as of the last event or snapshot.
    pub elapsed: Duration,
    /// Bumped by every event: lets the pusher skip unchanged states.
    pub version: u64,
}

impl Default for LiveState {
    fn default() -> LiveState {
        LiveState {
            tickers: BTreeMap::new(),
            totals: Totals::default(),
            limits: Limits::default(),
            series: Series::default(),
            request_latency: Histogram::new(&REQUEST_BUCKETS),
            commit_latency: Histogram::new(&COMMIT_BUCKETS),
            planned: false,
            finished: false,
            interrupted: false,
            elapsed: Duration::ZERO,
            version: 0,
        }
    }
}

/// The JSON of `/api/run` and of each server-sent event.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot<'a> {
    pub finished: bool,
    pub interrupted: bool,
    pub elapsed_secs: f64,
    /// Seconds left at the pace of tickers finished so far; `None` before the first finishes.
    pub eta_secs: Option<f64>,
    pub totals: &'a Totals,
    pub limits: Limits,
    /// Tickers per state, every state present.
    pub states: BTreeMap<&'static str, usize>,
    pub series: &'a Series,
    pub tickers: Vec<&'a TickerRow>,
}

impl LiveState {
    fn row(&mut self, symbol: &str) -> &mut TickerRow {
        self.tickers
            .entry(symbol.to_owned())
            .or_insert_with(|| TickerRow {
                symbol: symbol.to_owned(),
                state: TickerState::Queued,
                rows: 0,
                requests: 0,
                retries: 0,
                last_error: None,
            })
    }

    /// Folds one event into the state; `at` is the time since the run began.
    pub fn apply(&mut self, event: &Event<'_>, at: Duration) {
        self.version += 1;
        self.elapsed = self.elapsed.max(at);
        let sec = at.as_secs();
        self.series.advance(sec);
        match event {
            Event::Planned {
                tickers, requests, ..
            } => {
                self.planned = true;
                self.totals.tickers = *tickers;
                self.totals.planned_requests = *requests;
            }
            Event::Queued { symbol } => {
                self.row(symbol.as_str()).state = TickerState::Queued;
            }
            Event::Started { symbol, .. } => {
                self.row(symbol.as_str()).state = TickerState::Fetching;
            }
            Event::Request { symbol, .. } => {
                self.totals.requests += 1;
                self.totals.in_flight += 1;
                let row = self.row(symbol.as_str());
                row.requests += 1;
                row.state = TickerState::Fetching;
            }
            Event::Answered {
                outcome, latency, ..
            } => {
                let outcome = match outcome {
                    Ok(_) => "ok",
                    Err(label) => *label,
                };
                self.totals.in_flight = self.totals.in_flight.saturating_sub(1);
                *self.totals.answers.entry(outcome).or_default() += 1;
                self.request_latency.observe(latency.as_secs_f64());
                self.series.add(sec, AnswerClass::of(outcome));
            }
            Event::Limits {
                rate,
                in_flight_cap,
            } => {
                self.limits = Limits {
                    rate: *rate,
                    in_flight_cap: Some(*in_flight_cap),
                };
            }
            Event::Retry { symbol, reason, .. } => {
                self.totals.retries += 1;
                let row = self.row(symbol.as_str());
                row.retries += 1;
                row.state = TickerState::Retrying;
                row.last_error = Some((*reason).to_owned());
            }
            Event::Throttled { .. } => self.totals.throttled += 1,
            Event::Saved { symbol, rows, .. } => {
                self.totals.rows += rows;
                self.row(symbol.as_str()).rows += rows;
            }
            Event::Committed { bytes, latency, .. } => {
                self.totals.commits += 1;
                self.totals.bytes += bytes;
                self.commit_latency.observe(latency.as_secs_f64());
            }
            Event::TickerDone { report } => {
                let state = TickerState::from_status(report.status);
                let row = self.row(report.symbol.as_str());
                let was_final = row.state >= TickerState::Saved;
                row.state = state;
                row.rows = report.rows;
                row.requests = report.requests;
                row.retries = report.retries;
                if report.error.is_some() {
                    row.last_error.clone_from(&report.error);
                }
                if !was_final {
                    self.totals.done += 1;
                    match report.status {
                        Status::Saved => self.totals.saved += 1,
                        Status::UpToDate => self.totals.up_to_date += 1,
                        Status::NotFound => self.totals.not_found += 1,
                        Status::Failed => self.totals.failed += 1,
                        Status::Interrupted => self.totals.interrupted += 1,
                    }
                }
            }
            Event::Finished { report } => {
                self.finished = true;
                self.interrupted = report.totals.interrupted;
                // Requests abandoned by a cancel are never answered.
                self.totals.in_flight = 0;
                for t in &report.tickers {
                    self.row(t.symbol.as_str()).state = TickerState::from_status(t.status);
                }
            }
            _ => {}
        }
    }

    /// Tickers per state, with every state present.
    pub fn states(&self) -> BTreeMap<&'static str, usize> {
        let mut out: BTreeMap<&'static str, usize> =
            TickerState::ALL.iter().map(|s| (s.as_str(), 0)).collect();
        for row in self.tickers.values() {
            *out.entry(row.state.as_str()).or_default() += 1;
        }
        out
    }

    /// Seconds left if the remaining tickers finish at the pace of those finished so far.
    pub fn eta_secs(&self) -> Option<f64> {
        if self.finished {
            return Some(0.0);
        }
        let done = self.totals.done;
        let total = self.totals.tickers.max(self.tickers.len());
        if done == 0 || total < done {
            return None;
        }
        Some(self.elapsed.as_secs_f64() / done as f64 * (total - done) as f64)
    }

    pub fn snapshot(&self) -> Snapshot<'_> {
        Snapshot {
            finished: self.finished,
            interrupted: self.interrupted,
            elapsed_secs: self.elapsed.as_secs_f64(),
            eta_secs: self.eta_secs(),
            totals: &self.totals,
            limits: self.limits,
            states: self.states(),
            series: &self.series,
            tickers: self.tickers.values().collect(),
        }
    }
}

/// The shared live state: the [`Reporter`] the engine reports to, read by the web server.
#[derive(Debug)]
pub struct Live {
    state: Mutex<LiveState>,
    started: Instant,
    /// Told when the run finishes, so the final state is pushed at once.
    finished: watch::Sender<bool>,
}

impl Default for Live {
    fn default() -> Live {
        Live {
            state: Mutex::new(LiveState::default()),
            started: Instant::now(),
            finished: watch::Sender::new(false),
        }
    }
}

impl Live {
    pub fn new() -> Live {
        Live::default()
    }

    /// Runs `f` on the state, with the clock advanced to now (while the run lasts).
    pub fn with<T>(&self, f: impl FnOnce(&LiveState) -> T) -> T {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !state.finished {
            let now = self.started.elapsed();
            state.elapsed = state.elapsed.max(now);
            state.series.advance(now.as_secs());
        }
        f(&state)
    }

    /// The snapshot as JSON.
    pub fn snapshot_json(&self) -> String {
        self.with(|s| serde_json::to_string(&s.snapshot()).expect("a snapshot serialises"))
    }

    /// Resolves once the run has finished.
    pub fn finished(&self) -> watch::Receiver<bool> {
        self.finished.subscribe()
    }
}

impl Reporter for Live {
    fn on_event(&self, event: &Event<'_>) {
        let at = self.started.elapsed();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.apply(event, at);
        let done = state.finished;
        drop(state);
        if done {
            self.finished.send_replace(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use backfill_domain::Symbol;
    use backfill_engine::{RunReport, TickerReport};

    use super::*;

    fn range() -> backfill_domain::TimeRange {
        backfill_domain::TimeRange::new(
            "2024-01-01T00:00:00Z".parse().unwrap(),
            "2024-01-02T00:00:00Z".parse().unwrap(),
        )
        .unwrap()
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_ticker_moves_through_its_states_and_totals_follow() {
        let a = Symbol::parse("MSFT").unwrap();
        let b = Symbol::parse("ZZZ").unwrap();
        let mut s = LiveState::default();
        s.apply(
            &Event::Planned {
                tickers: 2,
                requests: 2,
                up_to_date: 0,
            },
            ms(0),
        );
        s.apply(&Event::Queued { symbol: &a }, ms(0));
        s.apply(&Event::Queued { symbol: &b }, ms(0));
        assert_eq!(s.states()["queued"], 2);
        assert_eq!(s.eta_secs(), None);
        s.apply(
            &Event::Request {
                symbol: &a,
                range: backfill_domain::TimeRange::new(
                    "2024-01-01T00:00:00Z".parse().unwrap(),
                    "2024-01-02T00:00:00Z".parse().unwrap(),
                )
                .unwrap(),
                attempt: 0,
            },
            ms(100),
        );
        assert_eq!(s.totals.in_flight, 1);
        assert_eq!(s.tickers["MSFT"].state, TickerState::Fetching);
        s.apply(
            &Event::Answered {
                symbol: &a,
                outcome: Err("throttled"),
                range: range(),
                attempt: 0,
                latency: ms(300),
            },
            ms(400),
        );
        s.apply(
            &Event::Retry {
                symbol: &a,
                attempt: 1,
                delay: ms(500),
                reason: "throttled",
            },
            ms(400),
        );
        assert_eq!(s.tickers["MSFT"].state, TickerState::Retrying);
        assert_eq!(s.totals.in_flight, 0);
        s.apply(
            &Event::Answered {
                symbol: &a,
                outcome: Ok(252),
                range: range(),
                attempt: 1,
                latency: ms(300),
            },
            ms(1_500),
        );
        s.apply(
            &Event::Saved {
                symbol: &a,
                rows: 252,
                range: backfill_domain::TimeRange::new(
                    "2024-01-01T00:00:00Z".parse().unwrap(),
                    "2024-01-02T00:00:00Z".parse().unwrap(),
                )
                .unwrap(),
            },
            ms(1_600),
        );
        s.apply(
            &Event::Committed {
                symbol: &a,
                bytes: 9_000,
                latency: ms(20),
            },
            ms(1_600),
        );
        let mut done = TickerReport::new(a.clone(), Status::Saved);
        done.rows = 252;
        done.requests = 2;
        done.retries = 1;
        s.apply(&Event::TickerDone { report: &done }, ms(2_000));
        assert_eq!(s.totals.done, 1);
        // Half the tickers took 2 s: the other half is expected to take as long.
        assert_eq!(s.eta_secs(), Some(2.0));
        assert_eq!(s.totals.answers["ok"], 1);
        assert_eq!(s.totals.answers["throttled"], 1);
        assert_eq!((s.totals.rows, s.totals.bytes), (252, 9_000));
        assert_eq!(s.request_latency.count(), 2);
        assert_eq!(s.commit_latency.count(), 1);
        // Second 0 holds the 429, second 1 the 200.
        assert_eq!(s.series.counts[0], [0, 1, 0, 0]);
        assert_eq!(s.series.counts[1], [1, 0, 0, 0]);

        let mut nf = TickerReport::new(b.clone(), Status::NotFound);
        nf.error = Some("not found".to_owned());
        s.apply(&Event::TickerDone { report: &nf }, ms(2_100));
        // A second TickerDone for the same ticker does not count twice.
        s.apply(&Event::TickerDone { report: &nf }, ms(2_100));
        let report = RunReport::new(vec![done, nf], ms(0), ms(2_200), false);
        s.apply(&Event::Finished { report: &report }, ms(2_200));
        assert!(s.finished);
        assert_eq!(s.totals.done, 2);
        assert_eq!(s.totals.not_found, 1);
        assert_eq!(s.states()["saved"], 1);
        assert_eq!(s.states()["not_found"], 1);
        assert_eq!(s.tickers["ZZZ"].last_error.as_deref(), Some("not found"));
        assert_eq!(s.eta_secs(), Some(0.0));
    }

    #[test]
    fn the_series_keeps_a_sliding_window() {
        let mut series = Series::default();
        series.add(5, AnswerClass::Ok);
        series.add(5, AnswerClass::Transient);
        assert_eq!(series.start, 5);
        assert_eq!(series.counts[0], [1, 0, 1, 0]);
        series.add(5 + SERIES_SECS as u64 + 10, AnswerClass::Other);
        assert_eq!(series.counts.len(), SERIES_SECS);
        assert_eq!(series.start, 16);
        assert_eq!(series.counts.back(), Some(&[0, 0, 0, 1]));
    }
}
