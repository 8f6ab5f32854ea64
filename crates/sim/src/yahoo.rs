//! Yahoo-shaped chart bodies: request parsing, limits and the JSON the server writes.
//!
//! Field names and nesting follow recorded Yahoo bodies (see the spec's §2–§4); optional parts
//! (`timestamp`, `events`, `adjclose`, `tradingPeriods`) are left out exactly where Yahoo leaves them out.

use std::collections::BTreeMap;

use backfill_domain::{ActionKind, Bar, Interval, Symbol, TimeRange};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::faults::live_row;
use crate::market::{Market, Profile, current_period, regular_market_time};
use crate::series::{actions_for, bars_for, coarse_key};

/// Yahoo's exact 404 body for an unknown or delisted symbol.
pub const NOT_FOUND_BODY: &str = r#"{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}"#;

/// Yahoo's 401 body for a missing or stale crumb (top-level key `finance`).
pub const INVALID_CRUMB_BODY: &str =
    r#"{"finance":{"result":null,"error":{"code":"Unauthorized","description":"Invalid Crumb"}}}"#;

/// The ranges every simulated symbol accepts.
pub const VALID_RANGES: [&str; 11] = [
    "1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max",
];

/// An answer to a chart request: HTTP status, JSON body and the number of bar rows in it.
#[derive(Debug)]
pub(crate) struct ChartAnswer {
    pub status: u16,
    pub body: String,
    pub rows: u64,
}

impl ChartAnswer {
    fn error(status: u16, code: &str, description: &str) -> ChartAnswer {
        let body = serde_json::json!({
            "chart": {"result": null, "error": {"code": code, "description": description}}
        });
        ChartAnswer {
            status,
            body: body.to_string(),
            rows: 0,
        }
    }

    fn bad_request(description: &str) -> ChartAnswer {
        ChartAnswer::error(400, "Bad Request", description)
    }
}

/// Which event maps the request asked for (`events=div,split,capitalGains`, `,` or `|` separated).
#[derive(Debug, Clone, Copy, Default)]
struct Events {
    div: bool,
    split: bool,
    gains: bool,
}

/// Answers `GET /v8/finance/chart/{symbol}?{query}` at `now`. `symbol` is already percent-decoded;
/// `query` holds the decoded parameters.
pub(crate) fn chart(
    market: &Market,
    symbol: &str,
    query: &BTreeMap<String, String>,
    now: Timestamp,
) -> ChartAnswer {
    let not_found = || ChartAnswer {
        status: 404,
        body: NOT_FOUND_BODY.to_owned(),
        rows: 0,
    };
    let Ok(symbol) = Symbol::parse(symbol) else {
        return not_found();
    };
    let Some(profile) = market.profile(&symbol) else {
        return not_found();
    };
    let spelling = query.get("interval").map_or("1d", String::as_str);
    let Ok(mut interval) = Interval::parse(spelling) else {
        return ChartAnswer::bad_request(&format!(
            "Invalid input - interval={spelling} is not supported. Valid intervals: [1m, 2m, 5m, 15m, 30m, 60m, 90m, 1h, 1d, 1wk, 1mo]"
        ));
    };
    let mut granularity = spelling.to_owned();
    let range_param = query.get("range").cloned();
    let (p1, p2) = match (query.get("period1"), query.get("period2"), &range_param) {
        (Some(a), b, _) => {
            let Ok(a) = a.trim().parse::<i64>() else {
                return ChartAnswer::bad_request(&format!(
                    "Invalid input - period1={a} is not a number"
                ));
            };
            let b = match b {
                Some(b) => match b.trim().parse::<i64>() {
                    Ok(b) => b,
                    Err(_) => {
                        return ChartAnswer::bad_request(&format!(
                            "Invalid input - period2={b} is not a number"
                        ));
                    }
                },
                None => now.as_second(),
            };
            (a, b)
        }
        (None, _, r) => {
            let r = r.as_deref().unwrap_or("1mo");
            let Some(start) = range_start(&profile, r, now) else {
                return ChartAnswer::bad_request(&format!(
                    "Invalid input - range={r} is not supported. Valid ranges: [{}]",
                    VALID_RANGES.join(", ")
                ));
            };
            if r == "max" && interval == Interval::D1 {
                // Yahoo silently coarsens long daily ranges (spec §5.9).
                interval = Interval::Mo1;
                "1mo".clone_into(&mut granularity);
            }
            (start.as_second(), now.as_second() + 1)
        }
    };
    if p1 > p2 {
        return ChartAnswer::bad_request(&format!(
            "Invalid input - start date cannot be after end date. startDate = {p1}, endDate = {p2}"
        ));
    }
    if let Some(err) = intraday_limit(interval, spelling, p1, p2, now) {
        return err;
    }
    let events = query.get("events").map_or(Events::default(), |e| {
        let mut ev = Events::default();
        for part in e.split([',', '|']) {
            match part.trim() {
                "div" | "dividends" => ev.div = true,
                "split" | "splits" => ev.split = true,
                "capitalGains" | "capitalgains" => ev.gains = true,
                _ => {}
            }
        }
        ev
    });
    let clamp = |s: i64| Timestamp::from_second(s.clamp(-8_000_000_000, 250_000_000_000)).ok();
    let window = clamp(p1)
        .zip(clamp(p2))
        .and_then(|(a, b)| TimeRange::new(a, b));
    let mut bars = window.map_or_else(Vec::new, |w| market.served(&profile, interval, w, now).0);
    let rows = bars.len() as u64;
    if market.live_row_enabled()
        && let Some(row) = window.and_then(|w| live_row(&profile, interval, w, now))
    {
        bars.push(row);
    }
    let body = ChartBody::build(&BodyInput {
        profile: &profile,
        interval,
        granularity: &granularity,
        range: range_param
            .as_deref()
            .filter(|_| !query.contains_key("period1")),
        window,
        bars: &bars,
        events,
        now,
    });
    ChartAnswer {
        status: 200,
        body: serde_json::to_string(&body).expect("chart bodies serialise"),
        rows,
    }
}

/// The start of a `range=` window ending at `now`; `None` for an unsupported range.
fn range_start(p: &Profile, range: &str, now: Timestamp) -> Option<Timestamp> {
    let days = |d: i64| now.checked_sub(SignedDuration::from_hours(24 * d)).ok();
    match range {
        "1d" => days(1),
        "5d" => days(5),
        "1mo" => days(31),
        "3mo" => days(92),
        "6mo" => days(183),
        "1y" => days(365),
        "2y" => days(730),
        "5y" => days(1826),
        "10y" => days(3652),
        "ytd" => {
            let z = now.to_zoned_datetime(p.calendar.timezone().clone());
            z.date()
                .first_of_year()
                .to_zoned_datetime(p.calendar.timezone().clone())
                .ok()
                .map(|z| z.timestamp())
        }
        "max" => Some(p.first_open),
        _ => None,
    }
}

/// Yahoo's 422 for intraday windows that are too wide or reach too far back (spec §1.2).
fn intraday_limit(
    interval: Interval,
    spelling: &str,
    p1: i64,
    p2: i64,
    now: Timestamp,
) -> Option<ChartAnswer> {
    const DAY: i64 = 86_400;
    let now = now.as_second();
    let lead = format!("{spelling} data not available for startTime={p1} and endTime={p2}.");
    let reject = |tail: &str| {
        Some(ChartAnswer::error(
            422,
            "Unprocessable Entity",
            &format!("{lead} {tail}"),
        ))
    };
    match interval {
        Interval::M1 if p2 - p1 > 7 * DAY => reject(
            "Only 7 days worth of 1m granularity data are allowed to be fetched per request.",
        ),
        Interval::M1 if p1 < now - 30 * DAY => {
            reject("The requested range must be within the last 30 days.")
        }
        Interval::M2 | Interval::M5 | Interval::M15 | Interval::M30 | Interval::M90
            if p1 < now - 60 * DAY =>
        {
            reject("The requested range must be within the last 60 days.")
        }
        Interval::H1 if p1 < now - 730 * DAY => {
            reject("The requested range must be within the last 730 days.")
        }
        _ => None,
    }
}

struct BodyInput<'a> {
    profile: &'a Profile,
    interval: Interval,
    granularity: &'a str,
    range: Option<&'a str>,
    window: Option<TimeRange>,
    /// Served rows, the trailing live row included.
    bars: &'a [Bar],
    events: Events,
    now: Timestamp,
}

#[derive(Serialize)]
struct ChartBody {
    chart: Chart,
}

#[derive(Serialize)]
struct Chart {
    result: Vec<ChartResult>,
    error: Option<()>,
}

#[derive(Serialize)]
struct ChartResult {
    meta: Meta,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<Vec<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    events: Option<EventMaps>,
    indicators: Indicators,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    currency: String,
    symbol: String,
    exchange_name: String,
    full_exchange_name: String,
    instrument_type: &'static str,
    first_trade_date: i64,
    regular_market_time: i64,
    has_pre_post_market_data: bool,
    gmtoffset: i32,
    timezone: String,
    exchange_timezone_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    regular_market_price: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chart_previous_close: Option<f64>,
    price_hint: u32,
    current_trading_period: CurrentTradingPeriod,
    #[serde(skip_serializing_if = "Option::is_none")]
    trading_periods: Option<Vec<Vec<Period>>>,
    data_granularity: String,
    range: String,
    valid_ranges: [&'static str; 11],
}

#[derive(Serialize, Clone)]
struct Period {
    timezone: String,
    start: i64,
    end: i64,
    gmtoffset: i32,
}

#[derive(Serialize)]
struct CurrentTradingPeriod {
    pre: Period,
    regular: Period,
    post: Period,
}

#[derive(Serialize, Default)]
struct EventMaps {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    dividends: BTreeMap<String, Amount>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    splits: BTreeMap<String, SplitEvent>,
    #[serde(rename = "capitalGains", skip_serializing_if = "BTreeMap::is_empty")]
    capital_gains: BTreeMap<String, Amount>,
}

#[derive(Serialize)]
struct Amount {
    amount: f64,
    date: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SplitEvent {
    date: i64,
    numerator: f64,
    denominator: f64,
    split_ratio: String,
}

#[derive(Serialize)]
struct Indicators {
    quote: [Quote; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    adjclose: Option<[AdjClose; 1]>,
}

#[derive(Serialize, Default)]
struct Quote {
    #[serde(skip_serializing_if = "Option::is_none")]
    open: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    high: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    low: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    close: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    volume: Option<Vec<i64>>,
}

#[derive(Serialize, Default)]
struct AdjClose {
    #[serde(skip_serializing_if = "Option::is_none")]
    adjclose: Option<Vec<f64>>,
}

/// `4:1`, `3:2`, `1:4`: integers without a decimal point.
fn ratio_text(n: f64, d: f64) -> String {
    format!("{}:{}", n as i64, d as i64)
}

impl ChartBody {
    fn build(input: &BodyInput<'_>) -> ChartBody {
        let p = input.profile;
        let tz = p.calendar.timezone().clone();
        let offset_at = |t: Timestamp| {
            let info = tz.to_offset_info(t);
            (info.offset().seconds(), info.abbreviation().to_owned())
        };
        let period = |start: Timestamp, end: Timestamp| {
            let (gmtoffset, timezone) = offset_at(start);
            Period {
                timezone,
                start: start.as_second(),
                end: end.as_second(),
                gmtoffset,
            }
        };
        let now = input.now;
        let (gmtoffset, timezone) = offset_at(now);
        let current = current_period(p, now);
        let ext = SignedDuration::from_hours(if p.exchange_name == "NMS" { 4 } else { 1 });
        let last_daily = |end: Timestamp| {
            let start = end.checked_sub(SignedDuration::from_hours(24 * 10)).ok()?;
            let r = TimeRange::new(start, end)?;
            bars_for(p, Interval::D1, r, now).last().map(|b| b.close)
        };
        let intraday = input.interval.is_intraday();
        let trading_periods = (intraday && !input.bars.is_empty()).then(|| {
            let mut days: Vec<Vec<Period>> = Vec::new();
            let mut last = None;
            for b in input.bars {
                if last != Some(b.date) {
                    last = Some(b.date);
                    if let Some(s) = p.calendar.session(b.date) {
                        days.push(vec![period(s.open, s.close)]);
                    }
                }
            }
            days
        });
        let meta = Meta {
            currency: p.currency.clone(),
            symbol: p.symbol.as_str().to_owned(),
            exchange_name: p.exchange_name.clone(),
            full_exchange_name: p.full_exchange_name.clone(),
            instrument_type: p.instrument_type(),
            first_trade_date: p.first_open.as_second(),
            regular_market_time: regular_market_time(p, now).as_second(),
            has_pre_post_market_data: p.exchange_name == "NMS" || p.exchange_name == "NYQ",
            gmtoffset,
            timezone,
            exchange_timezone_name: p.timezone_name(),
            regular_market_price: last_daily(now + SignedDuration::from_secs(1)),
            chart_previous_close: input.window.and_then(|w| last_daily(w.start())),
            price_hint: p.price_hint(),
            current_trading_period: CurrentTradingPeriod {
                pre: period(current.0 - ext, current.0),
                regular: period(current.0, current.1),
                post: period(current.1, current.1 + ext),
            },
            trading_periods,
            data_granularity: input.granularity.to_owned(),
            range: input.range.unwrap_or("").to_owned(),
            valid_ranges: VALID_RANGES,
        };
        let bars = input.bars;
        let daily = !intraday;
        let (timestamp, quote, adjclose) = if bars.is_empty() {
            (None, Quote::default(), daily.then(AdjClose::default))
        } else {
            (
                Some(bars.iter().map(|b| b.ts.as_second()).collect()),
                Quote {
                    open: Some(bars.iter().map(|b| b.open).collect()),
                    high: Some(bars.iter().map(|b| b.high).collect()),
                    low: Some(bars.iter().map(|b| b.low).collect()),
                    close: Some(bars.iter().map(|b| b.close).collect()),
                    volume: Some(bars.iter().map(|b| b.volume).collect()),
                },
                daily.then(|| AdjClose {
                    adjclose: Some(
                        bars.iter()
                            .map(|b| b.adj_close.unwrap_or(b.close))
                            .collect(),
                    ),
                }),
            )
        };
        let events = input.window.and_then(|w| {
            let ev = input.events;
            if !(ev.div || ev.split || ev.gains) {
                return None;
            }
            let mut maps = EventMaps::default();
            for a in actions_for(p, w, now) {
                let key = match input.interval {
                    Interval::W1 | Interval::Mo1 => {
                        coarse_key(p, input.interval, a.date).unwrap_or(a.ts)
                    }
                    _ => a.ts,
                }
                .as_second()
                .to_string();
                let date = a.ts.as_second();
                match a.kind {
                    ActionKind::Dividend { amount, .. } if ev.div => {
                        maps.dividends.insert(key, Amount { amount, date });
                    }
                    ActionKind::Split {
                        numerator,
                        denominator,
                    } if ev.split => {
                        maps.splits.insert(
                            key,
                            SplitEvent {
                                date,
                                numerator,
                                denominator,
                                split_ratio: ratio_text(numerator, denominator),
                            },
                        );
                    }
                    ActionKind::CapitalGain { amount } if ev.gains => {
                        maps.capital_gains.insert(key, Amount { amount, date });
                    }
                    _ => {}
                }
            }
            let empty = maps.dividends.is_empty()
                && maps.splits.is_empty()
                && maps.capital_gains.is_empty();
            (!empty).then_some(maps)
        });
        ChartBody {
            chart: Chart {
                result: vec![ChartResult {
                    meta,
                    timestamp,
                    events,
                    indicators: Indicators {
                        quote: [quote],
                        adjclose: adjclose.map(|a| [a]),
                    },
                }],
                error: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn ask(symbol: &str, params: &[(&str, &str)], now: &str) -> (u16, Value) {
        let m = Market::new(42);
        let q = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let a = chart(&m, symbol, &q, now.parse().unwrap());
        (a.status, serde_json::from_str(&a.body).unwrap())
    }

    #[test]
    fn range_max_coarsens_daily_to_monthly_and_echoes_the_range() {
        let (status, v) = ask(
            "MSFT",
            &[("range", "max"), ("interval", "1d")],
            "2025-06-02T12:00:00Z",
        );
        assert_eq!(status, 200);
        let meta = &v["chart"]["result"][0]["meta"];
        assert_eq!(meta["dataGranularity"], "1mo");
        assert_eq!(meta["range"], "max");
        let stamps = v["chart"]["result"][0]["timestamp"].as_array().unwrap();
        assert_eq!(
            stamps[0].as_i64(),
            meta["firstTradeDate"].as_i64(),
            "history starts at the first trade"
        );
        // range=5d at 1d: the sessions of the last five days.
        let (_, v) = ask(
            "MSFT",
            &[("range", "5d"), ("interval", "1d")],
            "2025-06-06T21:00:00Z",
        );
        assert_eq!(v["chart"]["result"][0]["meta"]["range"], "5d");
        assert_eq!(
            v["chart"]["result"][0]["timestamp"]
                .as_array()
                .unwrap()
                .len(),
            5
        );
        let (status, v) = ask("MSFT", &[("range", "7y")], "2025-06-06T21:00:00Z");
        assert_eq!(status, 400);
        assert_eq!(v["chart"]["error"]["code"], "Bad Request");
    }

    #[test]
    fn reversed_window_is_a_bad_request_and_equal_bounds_are_empty() {
        let now = "2025-06-02T12:00:00Z";
        let (status, v) = ask("MSFT", &[("period1", "200"), ("period2", "100")], now);
        assert_eq!(status, 400);
        assert_eq!(
            v["chart"]["error"]["description"],
            "Invalid input - start date cannot be after end date. startDate = 200, endDate = 100"
        );
        let (status, v) = ask(
            "MSFT",
            &[("period1", "1700000000"), ("period2", "1700000000")],
            now,
        );
        assert_eq!(status, 200);
        assert!(v["chart"]["result"][0].get("timestamp").is_none());
    }

    #[test]
    fn coarse_event_keys_are_the_containing_bar() {
        // Find a dividend, then ask for monthly bars around it.
        let m = Market::new(42);
        let now: Timestamp = "2025-06-02T12:00:00Z".parse().unwrap();
        let all = TimeRange::new(
            "2015-01-01T00:00:00Z".parse().unwrap(),
            "2020-01-01T00:00:00Z".parse().unwrap(),
        )
        .unwrap();
        let (symbol, div) = (0..50)
            .find_map(|i| {
                let s = Symbol::parse(&format!("M{i}")).unwrap();
                let d = m
                    .actions(&s, all, now)
                    .into_iter()
                    .find(|a| a.kind.name() == "dividend" && a.date.day() > 7)?;
                Some((s, d))
            })
            .unwrap();
        let p1 = (div.ts.as_second() - 40 * 86_400).to_string();
        let p2 = (div.ts.as_second() + 40 * 86_400).to_string();
        let (_, v) = ask(
            symbol.as_str(),
            &[
                ("period1", &p1),
                ("period2", &p2),
                ("interval", "1mo"),
                ("events", "div|split"),
            ],
            "2025-06-02T12:00:00Z",
        );
        let divs = v["chart"]["result"][0]["events"]["dividends"]
            .as_object()
            .unwrap();
        let (key, entry) = divs
            .iter()
            .find(|(_, e)| e["date"].as_i64() == Some(div.ts.as_second()))
            .unwrap();
        let key: i64 = key.parse().unwrap();
        assert!(key < div.ts.as_second(), "keyed by the month's first bar");
        let stamps: Vec<i64> = v["chart"]["result"][0]["timestamp"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_i64().unwrap())
            .collect();
        assert!(stamps.contains(&key));
        assert!(entry["amount"].as_f64().unwrap() > 0.0);
    }

    #[test]
    fn knobs_off_and_an_unmet_live_row_leave_the_body_unchanged() {
        let now: Timestamp = "2025-06-03T15:07:30Z".parse().unwrap();
        let q = |p2: &str, iv: &str| -> BTreeMap<String, String> {
            [("period1", "1746000000"), ("period2", p2), ("interval", iv)]
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .chain([("events".to_owned(), "div,split".to_owned())])
                .collect()
        };
        let plain = Market::new(42);
        let off = Market::new(42).with_bad_bars(0.0, Vec::new());
        let live = Market::new(42).with_live_row(true);
        // period2 after now: no live row even when switched on.
        let after = (now.as_second() + 60).to_string();
        let before = (now.as_second() - 3600).to_string();
        for iv in ["1d", "1h", "1wk"] {
            let base = chart(&plain, "MSFT", &q(&after, iv), now).body;
            assert_eq!(chart(&off, "MSFT", &q(&after, iv), now).body, base);
            assert_eq!(chart(&live, "MSFT", &q(&after, iv), now).body, base);
            let base = chart(&plain, "MSFT", &q(&before, iv), now).body;
            assert_eq!(chart(&off, "MSFT", &q(&before, iv), now).body, base);
            let with_row = chart(&live, "MSFT", &q(&before, iv), now);
            // Weekly answers never carry the row; daily and intraday do, after period2.
            assert_eq!(with_row.body == base, iv == "1wk", "{iv}");
            let v: serde_json::Value = serde_json::from_str(&with_row.body).unwrap();
            let last = v["chart"]["result"][0]["timestamp"]
                .as_array()
                .unwrap()
                .last()
                .unwrap()
                .as_i64()
                .unwrap();
            assert_eq!(last == now.as_second() - 30, iv != "1wk", "{iv}");
        }
    }
}
