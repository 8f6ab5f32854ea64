//! What a provider says about a symbol.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::Symbol;

/// Facts about a symbol as the provider reported them on the last answer.
///
/// The planner uses `timezone` and `exchange_name` to pick the exchange calendar (for a venue with
/// no built-in calendar, `timezone` and the local times of `regular_open`/`regular_close` make
/// one) and `first_trade` to bound backfills; `check` shows all of it. Every field but `symbol` may be unknown: dead-symbol
/// shells come back with no currency and no first trade date.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SymbolMeta {
    /// The symbol as requested (not necessarily the provider's canonical spelling).
    pub symbol: Option<Symbol>,
    /// Price currency, including minor units as given (`GBp`, `ZAc`, `ILA`).
    pub currency: Option<String>,
    /// Provider's short exchange code (`NMS`, `LSE`, `CCC`, …).
    pub exchange_name: Option<String>,
    /// Provider's long exchange name (`NasdaqGS`, `XETRA`, …).
    pub full_exchange_name: Option<String>,
    /// `EQUITY`, `ETF`, `MUTUALFUND`, `INDEX`, `CURRENCY`, `CRYPTOCURRENCY`, `FUTURE`, …
    pub instrument_type: Option<String>,
    /// IANA time zone of the exchange (`America/New_York`).
    pub timezone: Option<String>,
    /// First trade, when known. Can be before 1970.
    pub first_trade: Option<Timestamp>,
    /// When the provider last saw a trade.
    pub regular_market_time: Option<Timestamp>,
    /// Open of the current or next regular session (Yahoo's `currentTradingPeriod.regular.start`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regular_open: Option<Timestamp>,
    /// Close of that session (`currentTradingPeriod.regular.end`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regular_close: Option<Timestamp>,
}
