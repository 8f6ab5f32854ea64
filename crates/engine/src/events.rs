//! What the engine tells the outside world while it runs. It knows nothing of terminals: the CLI
//! turns events into a progress display or log lines, the dashboard into live updates, tests into
//! a recorded list.

use std::time::Duration;

use backfill_domain::{Symbol, TimeRange};

use crate::report::{RunReport, TickerReport};

/// One thing that happened during a run.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// Gap detection is done for every ticker.
    Planned {
        tickers: usize,
        requests: usize,
        up_to_date: usize,
    },
    /// A ticker has requests to send and waits for its turn (sent once per such ticker, after
    /// `Planned`).
    Queued { symbol: &'a Symbol },
    /// Work on a ticker begins.
    Started { symbol: &'a Symbol, requests: usize },
    /// A request is about to be sent (`attempt` 0 is the first try).
    Request {
        symbol: &'a Symbol,
        range: TimeRange,
        attempt: u32,
    },
    /// A request came back: `Ok(bars)` or `Err(label)` (see `ErrorKind::label`), after `latency`.
    Answered {
        symbol: &'a Symbol,
        range: TimeRange,
        attempt: u32,
        outcome: Result<usize, &'static str>,
        latency: Duration,
    },
    /// The limit layers after an answer or a throttle: the rate limiter's current rate (`None`:
    /// no limit) and the cap on requests in flight.
    Limits {
        rate: Option<f64>,
        in_flight_cap: usize,
    },
    /// An answer arrived with this many bars.
    Rows { symbol: &'a Symbol, rows: usize },
    /// A request failed in a retryable way and will be retried after `delay`.
    Retry {
        symbol: &'a Symbol,
        attempt: u32,
        delay: Duration,
        reason: &'a str,
    },
    /// The provider throttled us; every task waits `cool_down`.
    Throttled {
        symbol: &'a Symbol,
        cool_down: Duration,
    },
    /// An answer was committed to the store.
    Saved {
        symbol: &'a Symbol,
        rows: u64,
        range: TimeRange,
    },
    /// A batch was written to the store: `bytes` of Parquet rewritten (0 when nothing changed),
    /// `latency` from the commit's start (waiting for a commit slot included) to its end.
    Committed {
        symbol: &'a Symbol,
        bytes: u64,
        latency: Duration,
    },
    /// A ticker is finished (in any status).
    TickerDone { report: &'a TickerReport },
    /// The run is finished.
    Finished { report: &'a RunReport },
}

/// Receives events. Called from many tasks at once: implementations must be cheap and thread-safe.
pub trait Reporter: Send + Sync {
    fn on_event(&self, event: &Event<'_>);
}

/// A reporter that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Reporter for Silent {
    fn on_event(&self, _: &Event<'_>) {}
}
