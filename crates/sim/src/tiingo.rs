//! Tiingo-shaped end-of-day answers from the same [`Market`] the Yahoo chart serves.
//!
//! `GET /tiingo/daily/{ticker}/prices?startDate=YYYY-MM-DD[&endDate=YYYY-MM-DD][&resampleFreq=daily]
//! [&format=json]` answers a JSON array of rows, one per session from `startDate` to `endDate`
//! (default: the clock's date), in Tiingo's field order (spec §4). With neither date, the latest bar.
//!
//! What the rows hold, for a market bar `b` (split-adjusted as of the clock) and `F` the product of
//! the split ratios effective after `b`'s session and by the clock:
//!
//! - `open/high/low/close` = `b`'s prices × `F` (raw, as traded), `volume` = `b.volume / F` rounded;
//! - `adjClose` = `b.adj_close`; `adjOpen/adjHigh/adjLow` scaled by the same ratio; `adjVolume` =
//!   `b.volume`;
//! - `divCash` = the market's dividend of that session × `F` (raw) or 0, `splitFactor` = that
//!   session's split ratio or 1.
//!
//! So a client that divides raw prices and dividends by the later split factors and keeps
//! `adjClose` and `adjVolume` stores exactly [`Market::bars`] and the market's dividends and splits.
//! Errors: 404 `{"detail":"Error: Ticker 'X' not found"}` for an unknown ticker, 400 for a bad date or
//! frequency. Key and quota checks are the server's.

use std::collections::{BTreeMap, HashMap};

use backfill_domain::{ActionKind, Bar, Interval, Symbol, TimeRange};
use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use serde::Serialize;

use crate::market::{Market, Profile};

/// Tiingo's body for an unknown ticker (spec §7), with the ticker upper-cased.
pub fn not_found_body(ticker: &str) -> String {
    serde_json::json!({ "detail": format!("Error: Ticker '{}' not found", ticker.to_ascii_uppercase()) })
        .to_string()
}

/// Tiingo's quota body (spec §6).
pub const QUOTA_BODY: &str = r#"{"detail":"Error: You have run over your hourly request allocation. Please upgrade at https://api.tiingo.com/pricing to have your limits increased."}"#;

/// Tiingo's (Django REST framework's) body for a wrong token.
pub const BAD_KEY_BODY: &str = r#"{"detail":"Invalid token."}"#;

/// Its body for a request without a token.
pub const NO_KEY_BODY: &str = r#"{"detail":"Authentication credentials were not provided."}"#;

/// An answer: status, JSON body, rows in it.
#[derive(Debug)]
pub(crate) struct TiingoAnswer {
    pub status: u16,
    pub body: String,
    pub rows: u64,
}

fn detail(status: u16, text: &str) -> TiingoAnswer {
    TiingoAnswer {
        status,
        body: serde_json::json!({ "detail": text }).to_string(),
        rows: 0,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    date: String,
    close: f64,
    high: f64,
    low: f64,
    open: f64,
    volume: i64,
    adj_close: f64,
    adj_high: f64,
    adj_low: f64,
    adj_open: f64,
    adj_volume: i64,
    div_cash: f64,
    split_factor: f64,
}

/// The product of split ratios effective after `date` and by `now`.
pub(crate) fn splits_after(p: &Profile, date: Date, now: Timestamp) -> f64 {
    p.all_splits()
        .iter()
        .filter(|s| s.ts <= now && s.date > date)
        .map(|s| s.numerator / s.denominator)
        .product()
}

/// The local midnight of `d` in the profile's zone.
pub(crate) fn midnight(p: &Profile, d: Date) -> Timestamp {
    d.to_zoned_datetime(p.calendar.timezone().clone())
        .map_or(Timestamp::UNIX_EPOCH, |z| z.timestamp())
}

/// Answers `/tiingo/daily/{ticker}/prices` at `now`.
pub(crate) fn prices(
    market: &Market,
    ticker: &str,
    query: &BTreeMap<String, String>,
    now: Timestamp,
) -> TiingoAnswer {
    let unknown = || TiingoAnswer {
        status: 404,
        body: not_found_body(ticker),
        rows: 0,
    };
    let Ok(symbol) = Symbol::parse(&ticker.to_ascii_uppercase()) else {
        return unknown();
    };
    let Some(p) = market.profile(&symbol) else {
        return unknown();
    };
    if let Some(f) = query.get("resampleFreq")
        && !f.eq_ignore_ascii_case("daily")
    {
        return detail(400, "Error: this simulator serves resampleFreq=daily only");
    }
    if query.get("format").is_some_and(|f| f != "json") {
        return detail(400, "Error: this simulator serves format=json only");
    }
    let parse = |k: &str| query.get(k).map(|v| v.parse::<Date>());
    let today = now.to_zoned_datetime(p.calendar.timezone().clone()).date();
    let (start, end) = match (parse("startDate"), parse("endDate")) {
        (Some(Err(_)), _) | (_, Some(Err(_))) => {
            return detail(400, "Error: dates must be YYYY-MM-DD");
        }
        (None, None) => {
            // The latest bar only: the last session by the clock.
            let latest = p
                .calendar
                .latest_closed_session(now)
                .map_or(today, |s| s.date);
            (latest, latest)
        }
        (Some(Ok(s)), None) => (s, today),
        (None, Some(Ok(e))) => (e, e),
        (Some(Ok(s)), Some(Ok(e))) => (s, e),
    };
    let Some(range) = end
        .checked_add(1.day())
        .ok()
        .and_then(|e| TimeRange::new(midnight(&p, start), midnight(&p, e)))
    else {
        return TiingoAnswer {
            status: 200,
            body: "[]".into(),
            rows: 0,
        };
    };
    let bars = market.bars(&symbol, Interval::D1, range, now);
    let mut events: HashMap<Date, (f64, f64)> = HashMap::new();
    for a in market.actions(&symbol, range, now) {
        let e = events.entry(a.date).or_insert((0.0, 1.0));
        match a.kind {
            ActionKind::Dividend { amount, .. } => e.0 = amount * splits_after(&p, a.date, now),
            ActionKind::Split {
                numerator,
                denominator,
            } => e.1 = numerator / denominator,
            ActionKind::CapitalGain { .. } => {}
        }
    }
    let rows: Vec<Row> = bars
        .iter()
        .map(|b| row(&p, b, events.get(&b.date).copied(), now))
        .collect();
    TiingoAnswer {
        status: 200,
        rows: rows.len() as u64,
        body: serde_json::to_string(&rows).expect("rows serialise"),
    }
}

fn row(p: &Profile, b: &Bar, event: Option<(f64, f64)>, now: Timestamp) -> Row {
    let f = splits_after(p, b.date, now);
    let adj_close = b.adj_close.unwrap_or(b.close);
    let ratio = adj_close / b.close;
    let (div_cash, split_factor) = event.unwrap_or((0.0, 1.0));
    Row {
        date: format!("{}T00:00:00.000Z", b.date),
        close: b.close * f,
        high: b.high * f,
        low: b.low * f,
        open: b.open * f,
        volume: (b.volume as f64 / f).round() as i64,
        adj_close,
        adj_high: b.high * ratio,
        adj_low: b.low * ratio,
        adj_open: b.open * ratio,
        adj_volume: b.volume,
        div_cash,
        split_factor,
    }
}
