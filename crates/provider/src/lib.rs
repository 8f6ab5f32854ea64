//! Market-data providers for backfill.
//!
//! The engine fetches bars through the [`Provider`] trait and never names a concrete source, so
//! more sources can be added later without touching it. This crate holds:
//!
//! - [`Provider`]: one *attempt* to fetch the bars and corporate actions of one symbol, at one
//!   [`Interval`], over one half-open [`TimeRange`] ([`FetchRequest`] → [`Answer`] or [`FetchError`]).
//!   Retrying, pacing and rate limiting belong to the caller; [`retry::RetryPolicy`] is the shared
//!   backoff arithmetic and [`ErrorKind::is_retryable`] the one place that decides what is worth retrying.
//! - [`yahoo::YahooProvider`]: the Yahoo `v8/finance/chart` client (reqwest + rustls, keep-alive pool,
//!   gzip, cookie + crumb on demand) and its pure parser [`yahoo::parse_chart`].
//! - [`tiingo::TiingoProvider`] and [`alpaca::AlpacaProvider`]: the Tiingo end-of-day and Alpaca
//!   Market Data v2 clients; [`AnyProvider`] is one of the three, picked at run time by
//!   [`ProviderKind`].
//! - [`fake::FakeProvider`]: an in-memory provider with scriptable failures, for engine tests.
//! - [`conformance`]: one suite every provider must pass; it runs against the fake and against the
//!   Yahoo client talking to the simulator.
//!
//! # What an answer means
//!
//! An [`Answer`] says "the provider answered for this whole range". Its `bars` are sorted by `ts`,
//! unique, inside `[range.start, range.end)`, with all-null rows dropped. **Empty `bars` is an
//! answered, empty range** (a weekend, a holiday, before the listing): record it as covered, do not
//! retry it. `actions` are clipped to the range by the instant of their ex-date. `meta` carries what
//! the provider said about the symbol (exchange, time zone, currency, instrument type, first trade).
//!
//! # Error classes
//!
//! | [`ErrorKind`] | typical cause (Yahoo) | retryable |
//! |---|---|---|
//! | `NotFound` | HTTP 404 "No data found", the 200 dead-symbol shell | no |
//! | `Throttled` | HTTP 429, plain-text "Too Many Requests" | **yes** (honour `retry_after`) |
//! | `QuotaSpent` | (Tiingo) 429 "…request allocation…": wait for the quota to reset | **yes**, not counted as a retry |
//! | `OutOfWindow` | HTTP 422: intraday window past the lookback or too wide (Alpaca: a free plan asking for SIP bars of the last 15 minutes) | no |
//! | `Transient` | 5xx, reset, timeout, truncated body, "Will be right back" outage page | **yes** |
//! | `Malformed` | unparseable JSON, HTML, wrong `dataGranularity`, mismatched arrays | no |
//! | `Unauthorized` | HTTP 401 even after a fresh cookie and crumb (Tiingo/Alpaca: a wrong key) | no |
//! | `Unsupported` | an interval the provider has no bars at | no |
//!
//! # Yahoo specifics
//!
//! Requests always carry explicit `period1`/`period2` (never `range=`, which silently coarsens the
//! granularity), `interval`, `includePrePost=false` and `events=div,split,capitalGains`. The answer's
//! `dataGranularity` must match the requested interval. The client starts without a crumb; on the first
//! 401 it fetches a cookie and a crumb once for all concurrent requests and retries that request once.
//! See [`yahoo::parse_chart`] for the row rules (null volumes, partial rows, live rows, time zones).

use std::future::Future;
use std::pin::Pin;

use backfill_domain::{Action, Bar, Interval, Symbol, SymbolMeta, TimeRange};

mod adjust;
pub mod alpaca;
mod any;
pub mod conformance;
mod error;
pub mod fake;
mod http;
pub mod retry;
mod secret;
pub mod tiingo;
pub mod yahoo;

pub use any::{AnyProvider, ProviderKind};
pub use error::{ErrorKind, FetchError, ProviderError};
pub use secret::{REDACTED, Secret};

/// One fetch: the bars and actions of `symbol` at `interval` over the half-open `range`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FetchRequest {
    pub symbol: Symbol,
    pub interval: Interval,
    pub range: TimeRange,
}

impl FetchRequest {
    pub fn new(symbol: Symbol, interval: Interval, range: TimeRange) -> FetchRequest {
        FetchRequest {
            symbol,
            interval,
            range,
        }
    }

    /// Wraps an [`ErrorKind`] with this request's context.
    pub fn error(&self, kind: ErrorKind) -> FetchError {
        FetchError {
            symbol: self.symbol.clone(),
            interval: self.interval,
            range: self.range,
            kind,
        }
    }
}

/// A successful answer for a whole [`FetchRequest`].
///
/// `bars` are sorted by `ts`, unique, clipped to `[range.start, range.end)`, with all-null rows dropped.
/// Empty `bars` means the provider answered and has nothing in the range; it is not an error.
/// `actions` are sorted by `ts` and clipped to the range by their ex-date instant.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Answer {
    pub meta: SymbolMeta,
    pub bars: Vec<Bar>,
    pub actions: Vec<Action>,
}

/// How much a provider serves per request at one interval.
///
/// `max_span`: the widest `[start, end)` one request may cover (`None`: unlimited).
/// `lookback`: how far before *now* a request's start may lie (`None`: back to the first trade).
/// A request breaking either limit gets [`ErrorKind::OutOfWindow`]; planners split and clamp with these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Window {
    pub max_span: Option<jiff::SignedDuration>,
    pub lookback: Option<jiff::SignedDuration>,
}

impl Window {
    /// No limits (daily and coarser at Yahoo).
    pub const UNLIMITED: Window = Window {
        max_span: None,
        lookback: None,
    };
}

/// A provider's published request quotas. Each one holds on its own, all at once: a request is sent
/// only when it fits every quota that is set.
///
/// `per_second` is a steady rate (requests evenly spaced, no burst); `per_minute`, `per_hour` and
/// `per_day` are counts in any sliding window of that length (a burst is fine as long as the count
/// holds). `None` means no such quota. Tiingo's free plan, for example, is `per_hour: Some(50)` and
/// `per_day: Some(1000)`; Alpaca's is `per_minute: Some(200)`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Quotas {
    pub per_second: Option<f64>,
    pub per_minute: Option<u32>,
    pub per_hour: Option<u32>,
    pub per_day: Option<u32>,
}

impl Quotas {
    /// No quota at all.
    pub const NONE: Quotas = Quotas {
        per_second: None,
        per_minute: None,
        per_hour: None,
        per_day: None,
    };
}

/// The caller's admission control for outgoing HTTP requests (the engine's rate limiter).
///
/// A provider awaits [`Pacer::acquire`] immediately before **every** HTTP request it sends (chart,
/// page, cookie, crumb, token refresh, the retry after a 401), so every request counts against the
/// shared rate and quotas and none is sent while the provider is paused.
pub trait Pacer: Send + Sync {
    /// Waits until one more request may be sent, and reserves it.
    fn acquire(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// A [`Pacer`] that never waits: for tests and callers that pace nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unpaced;

impl Pacer for Unpaced {
    fn acquire(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(std::future::ready(()))
    }
}

/// A source of bars. Implementations make exactly **one attempt** per fetch call; the caller owns
/// retries, pacing and concurrency.
pub trait Provider: Send + Sync + 'static {
    /// Short lowercase name used in reports and the store (`yahoo`, `fake`).
    fn name(&self) -> &str;

    /// The request limits at `interval`.
    fn window(&self, interval: Interval) -> Window;

    /// The provider's published quotas (the default: none). The engine enforces them for every
    /// request sent through the [`Pacer`].
    fn quotas(&self) -> Quotas {
        Quotas::NONE
    }

    /// Fetches `req` once, awaiting `pacer` before each HTTP request it sends (see [`Pacer`]).
    ///
    /// # Errors
    /// A [`FetchError`] whose [`ErrorKind`] says what went wrong and whether retrying can help
    /// ([`ErrorKind::is_retryable`]). A throttled answer carries the wait the provider asked for
    /// ([`ErrorKind::Throttled`]'s `retry_after`), however long: the engine pauses every request
    /// to this provider until then without spending a retry (up to its `max_wait`).
    fn fetch_paced(
        &self,
        req: &FetchRequest,
        pacer: &dyn Pacer,
    ) -> impl Future<Output = Result<Answer, FetchError>> + Send;

    /// Fetches `req` once without pacing (tests, one-off tools).
    ///
    /// # Errors
    /// As [`Provider::fetch_paced`].
    fn fetch(&self, req: &FetchRequest) -> impl Future<Output = Result<Answer, FetchError>> + Send {
        self.fetch_paced(req, &Unpaced)
    }
}
