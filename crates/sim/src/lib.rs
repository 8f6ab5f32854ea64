//! A deterministic Yahoo-compatible market simulator, for backfill's tests, demos and benchmarks.
//!
//! - [`Market`]: pure ground truth. Every symbol exists (except those starting with an unknown
//!   prefix, `ZZ` by default) and gets, from `(seed, symbol)` alone: a calendar from its suffix
//!   (`backfill_calendar::exchange_for_symbol`; `.NZ` is a venue with no built-in calendar whose
//!   zone, hours and holidays only the simulator knows, and exchanges close on days only the
//!   simulator knows after their holiday tables end, see `venues.rs`; anything else falls back
//!   to weekdays in New York), a first trade date
//!   (1985–2015; crypto 2014–2018), a seeded price path computable for any date, splits for about a
//!   third of equities, quarterly dividends for about half, December capital gains for funds
//!   (5-letter US symbols ending in `X`). Prices are split-adjusted as of `now`, so moving the
//!   clock past a split rescales history. [`Market::bars`] and [`Market::actions`] are exactly what
//!   the server serves for a window at a given `now`.
//! - [`SimServer`]: a hyper HTTP/1 server on top of a [`Market`], configured by [`SimConfig`]
//!   (latency, jitter, GCRA rate limit with burst 1, seeded failures, connection limit, crumb
//!   requirement, fixed clock) and counting what it serves in [`Stats`].
//!
//! # Faults in the data
//!
//! Off by default (the answers are then byte-identical to a simulator without these knobs):
//!
//! - **Bad bars** ([`SimConfig::bad_bars`], [`SimConfig::bad_symbols`],
//!   [`Market::with_bad_bars`]): a fraction of all bars, and about one bar in ten of chosen
//!   symbols, deliberately break one rule: `high_below_open_close`, `low_above_open_close`,
//!   `non_positive_price` (close 0 or negative), `negative_volume`, or for `1d` `off_session`
//!   (stamped on the following Saturday 12:00 local). The bar and the rule are drawn from
//!   `(seed, symbol, interval, bar start)`, so the same bar is bad on every request.
//!   [`Market::bars`] returns the bars as served, bad ones included, and [`Market::bad_bars`]
//!   lists `(served ts, rule)`, so a validating client must store `bars` minus `bad_bars`.
//! - **Trailing live row** ([`SimConfig::live_row`], [`Market::with_live_row`]): when `period2`
//!   is before the clock and today's session has opened, intraday and daily answers end with one
//!   extra row after `period2`, stamped at `regularMarketTime` rounded down to the minute, with
//!   O=H=L=C and volume 0, as Yahoo does (spec §5.2, §5.6). [`Market::live_row`] returns it;
//!   [`Market::bars`] never includes it, since a correct client drops rows outside its window.
//!
//! # HTTP surface
//!
//! | request | answer |
//! |---|---|
//! | `GET /v8/finance/chart/{SYMBOL}?period1&period2&interval&events[&range][&crumb]` | Yahoo's chart body; 404 [`NOT_FOUND_BODY`] for unknown symbols; 422 for intraday windows past Yahoo's limits; 400 JSON chart error for bad parameters; 401 [`INVALID_CRUMB_BODY`] when a crumb is required and missing or stale; 429 `Too Many Requests` (text/plain, `Retry-After` when configured) above the rate |
//! | `GET /` (stands for `fc.yahoo.com`) | 404 HTML that sets the `A3` cookie |
//! | `GET /v1/test/getcrumb` | the 11-character crumb for the `A3` cookie (text/plain), 401 without one |
//! | `GET /tiingo/daily/{TICKER}/prices?startDate[&endDate]` | Tiingo's end-of-day rows ([`tiingo`]); 401 without the key, 404 for unknown tickers, 429 "hourly request allocation" past [`SimConfig::tiingo_per_hour`] |
//! | `GET /v2/stocks/bars?symbols&timeframe&start&end&adjustment&limit&page_token`, `GET /v1/corporate-actions?symbols&types&start` | Alpaca's bars and corporate actions ([`alpaca`]), paged; 403 without the keys, 400 `invalid symbol` for unknown symbols, 429 past [`SimConfig::alpaca_per_minute`] |
//! | `GET /_stats`, `POST /_reset` | [`Stats`] as JSON; zero them (and empty the log) |
//! | `GET /_log` | every request received, in order ([`LogEntry`] as a JSON array) |
//! | `GET`/`POST /_clock?now=<epoch seconds>` | read or fix the clock |
//! | `POST /_crumb/rotate` | invalidate every crumb handed out so far |
//!
//! Control endpoints (`/_…`) are never rate limited, delayed, failed or counted. Rate limit,
//! latency and failures apply to chart and crumb requests only. Windows are half-open: a bar is
//! served when its start lies in `[period1, period2)`, is at or after the first trade and at or
//! before `now` (the session in progress is a partial bar). No trailing "live" row is appended
//! unless [`SimConfig::live_row`] is set.

pub mod alpaca;
mod faults;
mod market;
mod model;
mod quota;
mod routes;
pub mod s3;
mod series;
mod server;
pub mod tiingo;
mod venues;
mod yahoo;

pub use market::{DIVIDEND_FACTOR, Market};
pub use server::{Api, LogEntry, SimConfig, SimServer, Stats};
pub use yahoo::{INVALID_CRUMB_BODY, NOT_FOUND_BODY, VALID_RANGES};
