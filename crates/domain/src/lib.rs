//! Domain types shared by every backfill crate. No I/O lives here.
//!
//! - [`Symbol`]: a validated provider ticker (`MSFT`, `AIR.PA`, `BRK-B`, `^GSPC`, `EURUSD=X`, `BTC-USD`).
//! - [`Interval`]: a bar width (`1m` … `1mo`).
//! - [`Bar`]: one OHLCV bar, stamped with its start instant and its session date in the exchange's zone.
//! - [`Action`]: a corporate action (dividend, split, capital gain).
//! - [`SymbolMeta`]: what the provider said about a symbol (exchange, zone, currency, first trade date).
//! - [`TimeRange`] and [`RangeSet`]: half-open `[start, end)` instants and their pure set arithmetic,
//!   on which the coverage ledger and gap detection are built.
//!
//! Every crate above this one (calendar, providers, store, engine, CLI) speaks these types, so a
//! value means the same thing wherever it travels.

mod bar;
mod interval;
mod meta;
mod range;
mod symbol;

pub use bar::{Action, ActionKind, Bar};
pub use interval::{Interval, ParseIntervalError};
pub use meta::SymbolMeta;
pub use range::{RangeSet, TimeRange};
pub use symbol::{MAX_SYMBOL_LEN, Symbol, SymbolError};

/// Re-exported so that dependants name the same time types as this crate.
pub use jiff;
