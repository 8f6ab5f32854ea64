//! Integration tests for backfill-provider: the parser against every recorded Yahoo body, the client's
//! error classification against a scripted loopback server, the conformance suite against the fake and
//! against the simulator, and the 40-symbol acceptance run.
#![expect(
    clippy::float_cmp,
    reason = "prices must round-trip bit-exactly from the recorded JSON and the simulator"
)]

mod alpaca;
mod classify;
mod fake;
mod fixtures;
mod parse;
mod providers_sim;
mod script;
mod sim;
mod tiingo;

use backfill_domain::{Interval, Symbol, TimeRange};
use backfill_provider::FetchRequest;
use jiff::Timestamp;

pub fn ts(s: i64) -> Timestamp {
    Timestamp::from_second(s).unwrap()
}

pub fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// `symbol` at `interval` over `[from, to)`, RFC 3339 instants.
pub fn request(symbol: &str, interval: Interval, from: &str, to: &str) -> FetchRequest {
    FetchRequest::new(
        Symbol::parse(symbol).unwrap(),
        interval,
        TimeRange::new(at(from), at(to)).unwrap(),
    )
}

/// A symbol the simulator does not know, over a year of daily bars.
pub fn unknown_request() -> FetchRequest {
    request(
        "ZZTOP",
        Interval::D1,
        "2024-01-01T00:00:00Z",
        "2025-01-01T00:00:00Z",
    )
}

/// AAPL over the weekend of 2024-01-06: Monday's daily bar starts at 14:30Z, after the end.
pub fn weekend_request() -> FetchRequest {
    request(
        "AAPL",
        Interval::D1,
        "2024-01-06T00:00:00Z",
        "2024-01-08T00:00:00Z",
    )
}

pub fn req(symbol: &str, interval: Interval, start: i64, end: i64) -> FetchRequest {
    FetchRequest::new(
        Symbol::parse(symbol).unwrap(),
        interval,
        TimeRange::new(ts(start), ts(end)).unwrap(),
    )
}
