//! Bars and corporate actions.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// One OHLCV bar.
///
/// `ts` is the bar's **start** instant (Yahoo stamps daily bars at the session open); `date` is the
/// session date in the exchange's time zone, which is the date a user means when they say "the bar of
/// 2024-07-05". Prices are stored as the provider gave them (see `SymbolMeta::currency` for minor units).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    pub ts: Timestamp,
    pub date: Date,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    /// Split- and dividend-adjusted close; `None` where the provider gives none (intraday).
    pub adj_close: Option<f64>,
    pub volume: i64,
}

/// What happened on an action's date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActionKind {
    /// Cash dividend per share, in the price currency unless `currency` says otherwise.
    Dividend {
        amount: f64,
        currency: Option<String>,
    },
    /// `numerator` new shares for `denominator` old ones (4:1 is numerator 4, denominator 1).
    Split { numerator: f64, denominator: f64 },
    /// Fund capital-gain distribution per share.
    CapitalGain { amount: f64 },
}

impl ActionKind {
    /// Short name used in the store's `action` column and in reports.
    pub fn name(&self) -> &'static str {
        match self {
            ActionKind::Dividend { .. } => "dividend",
            ActionKind::Split { .. } => "split",
            ActionKind::CapitalGain { .. } => "capital_gain",
        }
    }
}

/// A corporate action, keyed by its ex-date instant (`ts`) and session date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub ts: Timestamp,
    pub date: Date,
    #[serde(flatten)]
    pub kind: ActionKind,
}

impl Action {
    /// The split ratio (numerator / denominator), or `None` for other actions or a zero denominator.
    pub fn split_ratio(&self) -> Option<f64> {
        match self.kind {
            ActionKind::Split {
                numerator,
                denominator,
            } if denominator != 0.0 => Some(numerator / denominator),
            _ => None,
        }
    }
}
