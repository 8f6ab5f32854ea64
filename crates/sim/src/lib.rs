//! A deterministic Yahoo-compatible market simulator.
//!
//! - [`Market`]: pure ground truth. Every symbol (except unknown prefixes, `ZZ…` by default) has a
//!   first trade date, a calendar from its suffix, a seeded price path, splits and dividends. Its
//!   [`Market::bars`] and [`Market::actions`] are exactly what the server serves.
//! - [`SimServer`]: a hyper HTTP/1 server speaking Yahoo's chart API (`/v8/finance/chart/{symbol}`),
//!   the cookie + crumb dance, and control endpoints (`/_stats`, `/_reset`, `/_clock`,
//!   `/_crumb/rotate`), with knobs ([`SimConfig`]) for latency, rate limits, failures and
//!   connection limits. [`Stats`] counts what it served.

mod market;
mod model;

pub use market::{DIVIDEND_FACTOR, Market};
mod server;
mod yahoo;

pub use server::{SimConfig, SimServer, Stats};
pub use yahoo::{INVALID_CRUMB_BODY, NOT_FOUND_BODY, VALID_RANGES};
