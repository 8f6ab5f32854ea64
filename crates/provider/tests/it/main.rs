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

pub fn req(symbol: &str, interval: Interval, start: i64, end: i64) -> FetchRequest {
    FetchRequest::new(
        Symbol::parse(symbol).unwrap(),
        interval,
        TimeRange::new(ts(start), ts(end)).unwrap(),
    )
}
