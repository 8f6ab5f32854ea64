//! Alpaca-shaped answers (Market Data v2 bars, v1 corporate actions) from the same [`Market`] the
//! Yahoo chart serves.
//!
//! - `GET /v2/stocks/bars?symbols=S&timeframe=T&start=…&end=…[&adjustment=…][&limit=N]
//!   [&page_token=…][&sort=asc|desc]`: `{"bars":{"S":[…]},"next_page_token":…}`. Timeframes `1Min`
//!   `2Min` `5Min` `15Min` `30Min` `1Hour` `1Day` (others: 422 `invalid timeframe`). `start`/`end` are
//!   RFC 3339 instants or dates, both inclusive. Daily bars are stamped at midnight in the symbol's
//!   zone (New York for US symbols), intraday bars at their start. `adjustment` is `raw`, `split`,
//!   `dividend`, `all` or a comma list: raw prices are the market's × the split ratios after the
//!   bar's session (volume ÷ them); `dividend` scales prices by the bar's `adj_close / close`. Pages
//!   hold at most `limit` bars (default 1,000, at most 10,000, and at most the server's page cap);
//!   the token is opaque and names the next bar's position.
//! - `GET /v1/corporate-actions?symbols=S&types=…&start=…[&end=…][&limit=N][&page_token=…]`:
//!   `forward_splits`, `reverse_splits` and `cash_dividends` (raw rate: the market's split-adjusted
//!   amount × the later split ratios) with their process date (= ex-date) in `[start, end]`.
//!
//! A symbol the market does not know is answered `400 {"message":"invalid symbol: S"}`. `BRK.B` is
//! the market's `BRK-B` (one-letter share classes use a dot at Alpaca; `OCDO.L` stays: its suffix
//! names an exchange). Keys and quotas are checked
//! by the server.

use std::collections::BTreeMap;

use backfill_domain::{ActionKind, Bar, Interval, Symbol, TimeRange};
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::Serialize;
use serde_json::json;

use crate::market::{Market, Profile};
use crate::tiingo::{midnight, splits_after};

/// Alpaca's body for missing or wrong keys (as recorded on its trading host).
pub const FORBIDDEN_BODY: &str = r#"{"message": "forbidden."}"#;

/// The body of the simulator's 429 (Alpaca's was never recorded; its Go SDK mocks this text).
pub const TOO_MANY_BODY: &str = "too many requests";

/// Alpaca's most bars per page.
pub const MAX_LIMIT: usize = 10_000;

/// An answer: status, JSON body, bar rows in it.
#[derive(Debug)]
pub(crate) struct AlpacaAnswer {
    pub status: u16,
    pub body: String,
    pub rows: u64,
}

fn error(status: u16, code: Option<u64>, message: &str) -> AlpacaAnswer {
    let body = match code {
        Some(c) => json!({ "code": c, "message": message }),
        None => json!({ "message": message }),
    };
    AlpacaAnswer {
        status,
        body: body.to_string(),
        rows: 0,
    }
}

/// The market's symbol for an Alpaca symbol: a one-letter share class after a dot becomes a dash
/// (`BRK.B` → `BRK-B`) unless the suffix names an exchange (`OCDO.L`, `7203.T` stay).
pub(crate) fn market_symbol(s: &str) -> String {
    let exchange = Symbol::parse(s)
        .ok()
        .and_then(|sym| backfill_calendar::exchange_for_symbol(&sym));
    match s.rsplit_once('.') {
        Some((base, class)) if class.len() == 1 && !base.is_empty() && exchange.is_none() => {
            format!("{base}-{class}")
        }
        _ => s.to_owned(),
    }
}

fn profile_of(
    market: &Market,
    query: &BTreeMap<String, String>,
) -> Result<(String, Profile), AlpacaAnswer> {
    let raw = query.get("symbols").map(String::as_str).unwrap_or_default();
    if raw.is_empty() || raw.contains(',') {
        return Err(error(
            400,
            Some(40_010_000),
            "this simulator serves one symbol per request",
        ));
    }
    let invalid = || error(400, None, &format!("invalid symbol: {raw}"));
    let symbol = Symbol::parse(&market_symbol(raw)).map_err(|_| invalid())?;
    let p = market.profile(&symbol).ok_or_else(invalid)?;
    Ok((raw.to_owned(), p))
}

/// `t` of a bar as Alpaca stamps it: midnight of the session date for daily bars.
fn stamp(p: &Profile, interval: Interval, b: &Bar) -> Timestamp {
    if interval.is_intraday() {
        b.ts
    } else {
        midnight(p, b.date)
    }
}

/// `start`/`end`: an RFC 3339 instant, or a date (its midnight in the symbol's zone; for `end`, the
/// day's last nanosecond since `end` is inclusive).
fn bound(p: &Profile, v: &str, end: bool) -> Option<Timestamp> {
    if let Ok(t) = v.parse::<Timestamp>() {
        return Some(t);
    }
    let d = v.parse::<Date>().ok()?;
    if end {
        Some(midnight(p, d.checked_add(1.day()).ok()?) - SignedDuration::from_nanos(1))
    } else {
        Some(midnight(p, d))
    }
}

#[derive(Serialize)]
struct WireBar {
    t: Timestamp,
    o: f64,
    h: f64,
    l: f64,
    c: f64,
    v: i64,
    n: i64,
    vw: f64,
}

/// Answers `/v2/stocks/bars` at `now`; `page_cap` bounds the page size further.
pub(crate) fn bars(
    market: &Market,
    query: &BTreeMap<String, String>,
    now: Timestamp,
    page_cap: Option<usize>,
) -> AlpacaAnswer {
    let (name, p) = match profile_of(market, query) {
        Ok(x) => x,
        Err(e) => return e,
    };
    let interval = match query.get("timeframe").map(String::as_str) {
        Some("1Min" | "1T") => Interval::M1,
        Some("2Min" | "2T") => Interval::M2,
        Some("5Min" | "5T") => Interval::M5,
        Some("15Min" | "15T") => Interval::M15,
        Some("30Min" | "30T") => Interval::M30,
        Some("1Hour" | "1H") => Interval::H1,
        Some("1Day" | "1D") => Interval::D1,
        _ => return error(422, Some(42_210_000), "invalid timeframe"),
    };
    let (mut split, mut dividend) = (false, false);
    for a in query
        .get("adjustment")
        .map_or("raw", String::as_str)
        .split(',')
    {
        match a.trim() {
            "raw" | "spin-off" => {}
            "split" => split = true,
            "dividend" => dividend = true,
            "all" => (split, dividend) = (true, true),
            other => {
                return error(
                    400,
                    Some(40_010_001),
                    &format!("invalid adjustment: {other}"),
                );
            }
        }
    }
    let Some(start) = query.get("start").and_then(|v| bound(&p, v, false)) else {
        return error(422, Some(42_210_000), "invalid start");
    };
    let end = match query.get("end") {
        Some(v) => match bound(&p, v, true) {
            Some(t) => t,
            None => return error(422, Some(42_210_000), "invalid end"),
        },
        None => now,
    };
    let limit = match query.get("limit").map(|v| v.parse::<usize>()) {
        None => 1000,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => return error(422, Some(42_210_000), "invalid limit"),
    };
    let limit = limit.min(page_cap.unwrap_or(usize::MAX)).max(1);
    let mut all: Vec<(Timestamp, Bar)> = Vec::new();
    let window = TimeRange::new(start, end + SignedDuration::from_nanos(1));
    if let Some(w) = window {
        // Daily bars are selected by their stamp (midnight), so ask the market for the whole days.
        let ask = if interval.is_intraday() {
            Some(w)
        } else {
            let tz = p.calendar.timezone().clone();
            let first = w.start().to_zoned_datetime(tz.clone()).date();
            let last = w.end().to_zoned_datetime(tz).date();
            last.checked_add(1.day())
                .ok()
                .and_then(|e| TimeRange::new(midnight(&p, first), midnight(&p, e)))
        };
        if let Some(ask) = ask {
            let symbol = p.symbol.clone();
            let daily_ratio: BTreeMap<Date, f64> = if dividend && interval.is_intraday() {
                market
                    .bars(&symbol, Interval::D1, ask_days(&p, ask), now)
                    .iter()
                    .map(|b| (b.date, b.adj_close.unwrap_or(b.close) / b.close))
                    .collect()
            } else {
                BTreeMap::new()
            };
            for b in market.bars(&symbol, interval, ask, now) {
                let t = stamp(&p, interval, &b);
                if t < start || t > end {
                    continue;
                }
                let f = if split {
                    1.0
                } else {
                    splits_after(&p, b.date, now)
                };
                let d = if !dividend {
                    1.0
                } else if interval.is_intraday() {
                    daily_ratio.get(&b.date).copied().unwrap_or(1.0)
                } else {
                    b.adj_close.unwrap_or(b.close) / b.close
                };
                let mut out = b;
                if dividend && !interval.is_intraday() {
                    out.close = b.adj_close.unwrap_or(b.close) * f;
                } else {
                    out.close = b.close * f * d;
                }
                out.open = b.open * f * d;
                out.high = b.high * f * d;
                out.low = b.low * f * d;
                out.volume = (b.volume as f64 / f).round() as i64;
                all.push((t, out));
            }
        }
    }
    if query.get("sort").is_some_and(|s| s == "desc") {
        all.reverse();
    }
    let from = match query.get("page_token").filter(|t| !t.is_empty()) {
        None => 0,
        Some(t) => match decode_token(t, &name) {
            Some(i) => i,
            None => return error(400, Some(40_010_001), "invalid page token"),
        },
    };
    let page: Vec<WireBar> = all
        .iter()
        .skip(from)
        .take(limit)
        .map(|(t, b)| WireBar {
            t: *t,
            o: b.open,
            h: b.high,
            l: b.low,
            c: b.close,
            v: b.volume,
            n: (b.volume / 100).max(1),
            vw: (b.high + b.low + b.close) / 3.0,
        })
        .collect();
    let next = (from + page.len() < all.len()).then(|| token(&name, from + page.len()));
    let rows = page.len() as u64;
    let body = if page.is_empty() {
        json!({ "bars": {}, "next_page_token": next })
    } else {
        json!({ "bars": { name: page }, "next_page_token": next })
    };
    AlpacaAnswer {
        status: 200,
        body: body.to_string(),
        rows,
    }
}

/// The whole days around an intraday window.
fn ask_days(p: &Profile, r: TimeRange) -> TimeRange {
    let tz = p.calendar.timezone().clone();
    let first = r.start().to_zoned_datetime(tz.clone()).date();
    let last = r.end().to_zoned_datetime(tz).date();
    let end = last.checked_add(1.day()).unwrap_or(last);
    TimeRange::new(midnight(p, first), midnight(p, end)).unwrap_or(r)
}

/// An opaque page token for position `i` of `symbol`'s answer: hex of `SYMBOL|i`.
fn token(symbol: &str, i: usize) -> String {
    use std::fmt::Write as _;
    format!("{symbol}|{i}")
        .bytes()
        .fold(String::new(), |mut out, b| {
            let _ = write!(out, "{b:02X}");
            out
        })
}

fn decode_token(t: &str, symbol: &str) -> Option<usize> {
    let bytes: Option<Vec<u8>> = (0..t.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(t.get(i..i + 2)?, 16).ok())
        .collect();
    let text = String::from_utf8(bytes?).ok()?;
    let (s, i) = text.rsplit_once('|')?;
    (s == symbol).then(|| i.parse().ok()).flatten()
}

/// Answers `/v1/corporate-actions` at `now`.
pub(crate) fn corporate_actions(
    market: &Market,
    query: &BTreeMap<String, String>,
    now: Timestamp,
) -> AlpacaAnswer {
    let (name, p) = match profile_of(market, query) {
        Ok(x) => x,
        Err(e) => return e,
    };
    let types: Vec<&str> = query.get("types").map_or(
        vec!["forward_split", "reverse_split", "cash_dividend"],
        |t| t.split(',').map(str::trim).collect(),
    );
    let date = |k: &str| query.get(k).map(|v| v.parse::<Date>());
    let today = now.to_zoned_datetime(p.calendar.timezone().clone()).date();
    let (start, end) = match (date("start"), date("end")) {
        (Some(Err(_)), _) | (_, Some(Err(_))) => {
            return error(400, Some(40_010_001), "invalid date");
        }
        (s, e) => (
            s.and_then(Result::ok).unwrap_or(today),
            e.and_then(Result::ok).unwrap_or(today),
        ),
    };
    let limit = match query.get("limit").map(|v| v.parse::<usize>()) {
        None => 100,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        Some(_) => return error(400, Some(40_010_001), "invalid limit"),
    };
    let range = end
        .checked_add(1.day())
        .ok()
        .and_then(|e| TimeRange::new(midnight(&p, start), midnight(&p, e)));
    let mut items: Vec<(&'static str, serde_json::Value)> = Vec::new();
    for a in range
        .map(|r| market.actions(&p.symbol, r, now))
        .unwrap_or_default()
    {
        let d = a.date.to_string();
        match a.kind {
            ActionKind::Split {
                numerator,
                denominator,
            } => {
                let group = if numerator >= denominator {
                    "forward_split"
                } else {
                    "reverse_split"
                };
                if types.contains(&group) {
                    items.push((
                        group,
                        json!({"symbol": name, "new_rate": numerator, "old_rate": denominator,
                               "ex_date": d, "record_date": d, "payable_date": d, "process_date": d}),
                    ));
                }
            }
            ActionKind::Dividend { amount, .. } if types.contains(&"cash_dividend") => {
                let rate = amount * splits_after(&p, a.date, now);
                items.push((
                    "cash_dividend",
                    json!({"symbol": name, "rate": rate, "special": false, "foreign": false,
                           "ex_date": d, "record_date": d, "payable_date": d, "process_date": d}),
                ));
            }
            _ => {}
        }
    }
    let from = match query.get("page_token").filter(|t| !t.is_empty()) {
        None => 0,
        Some(t) => match decode_token(t, &name) {
            Some(i) => i,
            None => return error(400, Some(40_010_001), "invalid page token"),
        },
    };
    let mut groups: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    let page: Vec<_> = items.iter().skip(from).take(limit).collect();
    for (group, v) in &page {
        groups
            .entry(format!("{group}s"))
            .or_default()
            .push(v.clone());
    }
    let next = (from + page.len() < items.len()).then(|| token(&name, from + page.len()));
    AlpacaAnswer {
        status: 200,
        body: json!({ "corporate_actions": groups, "next_page_token": next }).to_string(),
        rows: 0,
    }
}
