//! Pure classification and parsing of `v8/finance/chart` responses.

use std::collections::HashMap;
use std::fmt;

use backfill_domain::{Action, ActionKind, Bar, Interval, SymbolMeta};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::{Answer, ErrorKind, FetchRequest};

/// Bodies shorter than this that mention "too many requests" are throttling replies, whatever the status.
const SHORT_BODY: usize = 512;

/// What Yahoo keeps of intraday history, said with a 422 that does not say it (a chart error's
/// description does).
const YAHOO_INTRADAY: &str =
    "Yahoo keeps 1m bars for 30 days, 2m to 90m for 60 days and 1h for 730 days";

/// Classifies and parses one chart response.
///
/// `status` and `content_type` are the HTTP status and `Content-Type`; `body` the (decompressed) body.
/// The classification follows spec §4 before any JSON parsing:
///
/// - 429 or a short body saying "Too Many Requests" → [`ErrorKind::Throttled`] (no `retry_after`: the
///   caller adds the `Retry-After` header);
/// - 401 → [`ErrorKind::Unauthorized`]; `chart.error.code = "Not Found"` (Yahoo's 404 body), the
///   dead-symbol shell (no timestamps, `currency` and `firstTradeDate` null) and a missing `result` →
///   [`ErrorKind::NotFound`]; any other 404 (HTML, plain text, an empty body, JSON without a chart
///   error) → [`ErrorKind::BadEndpoint`];
/// - 422 → [`ErrorKind::OutOfWindow`];
/// - 5xx, 408, an empty body, a body cut off mid-JSON and the "Will be right back" page → [`ErrorKind::Transient`];
/// - other HTML, invalid JSON, a `dataGranularity` other than the request's, arrays whose lengths differ
///   from `timestamp`'s, and other 4xx → [`ErrorKind::Malformed`].
///
/// On success the bars are clipped to `[req.range.start, req.range.end)`, sorted and de-duplicated
/// (first row of a repeated timestamp wins). Row rules:
///
/// - all of open/high/low/close/volume null → dropped (Yahoo's "no data" slot);
/// - some but not all prices null → dropped and counted in a debug log (a bar with a hole is not data);
/// - prices present but volume null → volume 0 (indices and FX often carry no volume);
/// - `adjclose` null or absent → `adj_close: None`;
/// - non-finite values (sent as `"Infinity"`/`"NaN"` strings) count as null.
///
/// `Bar::date` is the local date in `meta.exchangeTimezoneName` (UTC when unknown); for daily and weekly
/// bars a stamp at 22:00 or 23:00 local is moved to the next day (Yahoo's DST glitch, spec §5.3). For
/// daily bars a second row on the same session date (Yahoo's live row) is dropped.
pub fn parse_chart(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    req: &FetchRequest,
) -> Result<Answer, ErrorKind> {
    let envelope = classify(status, content_type, body)?;
    let chart = envelope
        .chart
        .or(envelope.finance)
        .ok_or_else(|| ErrorKind::Malformed {
            detail: "JSON without a `chart` object".into(),
        })?;
    if let Some(err) = chart.error {
        return Err(api_error(status, &err));
    }
    let result = chart
        .result
        .and_then(|r| r.into_iter().next())
        .ok_or_else(|| ErrorKind::NotFound {
            detail: "the answer holds no result for the symbol".into(),
        })?;
    build_answer(result, req)
}

#[derive(Deserialize)]
struct Envelope {
    chart: Option<Chart>,
    finance: Option<Chart>,
}

#[derive(Deserialize)]
struct Chart {
    #[serde(default)]
    result: Option<Vec<ChartResult>>,
    #[serde(default)]
    error: Option<ApiError>,
}

#[derive(Deserialize)]
struct ApiError {
    code: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChartResult {
    meta: Meta,
    #[serde(default)]
    timestamp: Option<Vec<LenientI64>>,
    #[serde(default)]
    events: Option<Events>,
    #[serde(default)]
    indicators: Option<Indicators>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Meta {
    currency: Option<String>,
    exchange_name: Option<String>,
    full_exchange_name: Option<String>,
    instrument_type: Option<String>,
    first_trade_date: LenientI64,
    regular_market_time: LenientI64,
    exchange_timezone_name: Option<String>,
    data_granularity: Option<String>,
    current_trading_period: Option<TradingPeriods>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TradingPeriods {
    regular: Option<TradingPeriod>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TradingPeriod {
    start: LenientI64,
    end: LenientI64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Indicators {
    quote: Option<Vec<Quote>>,
    adjclose: Option<Vec<AdjClose>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Quote {
    open: Option<Vec<LenientF64>>,
    high: Option<Vec<LenientF64>>,
    low: Option<Vec<LenientF64>>,
    close: Option<Vec<LenientF64>>,
    volume: Option<Vec<LenientI64>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AdjClose {
    adjclose: Option<Vec<LenientF64>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Events {
    dividends: Option<HashMap<String, CashEvent>>,
    splits: Option<HashMap<String, SplitEvent>>,
    capital_gains: Option<HashMap<String, CashEvent>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CashEvent {
    amount: LenientF64,
    date: LenientI64,
    currency: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct SplitEvent {
    date: LenientI64,
    numerator: LenientF64,
    denominator: LenientF64,
    split_ratio: Option<String>,
}

/// A number that may be null, an integer, a float, or a string such as `"Infinity"` (→ `None`).
#[derive(Default, Clone, Copy)]
struct LenientF64(Option<f64>);

/// An integer that may be null, a float with no fraction, or a string (→ `None` unless numeric).
#[derive(Default, Clone, Copy)]
struct LenientI64(Option<i64>);

impl<'de> Deserialize<'de> for LenientF64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NumVisitor)
            .map(|n| LenientF64(n.and_then(Num::as_f64)))
    }
}

impl<'de> Deserialize<'de> for LenientI64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NumVisitor)
            .map(|n| LenientI64(n.and_then(Num::as_i64)))
    }
}

#[derive(Clone, Copy)]
enum Num {
    I(i64),
    F(f64),
}

impl Num {
    fn as_f64(self) -> Option<f64> {
        let f = match self {
            Num::I(i) => i as f64,
            Num::F(f) => f,
        };
        f.is_finite().then_some(f)
    }

    fn as_i64(self) -> Option<i64> {
        match self {
            Num::I(i) => Some(i),
            #[expect(
                clippy::float_cmp,
                reason = "checking that the float holds an integer exactly"
            )]
            Num::F(f) if f.is_finite() && f.trunc() == f && f.abs() < 9.2e18 => Some(f as i64),
            Num::F(_) => None,
        }
    }
}

struct NumVisitor;

impl Visitor<'_> for NumVisitor {
    type Value = Option<Num>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number, null, or a numeric string")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(Num::I(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(i64::try_from(v).map_or(Num::F(v as f64), Num::I)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(Num::F(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        // "Infinity", "-Infinity", "NaN" parse to non-finite floats and are dropped by `as_f64`.
        Ok(v.trim()
            .parse::<i64>()
            .map(Num::I)
            .or_else(|_| v.trim().parse::<f64>().map(Num::F))
            .ok())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

fn classify(status: u16, content_type: Option<&str>, body: &[u8]) -> Result<Envelope, ErrorKind> {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    let lower = trimmed.to_ascii_lowercase();
    let json_error = || {
        serde_json::from_slice::<Envelope>(body)
            .ok()
            .and_then(|e| e.chart.or(e.finance)?.error)
    };
    let described = |fallback: String| {
        json_error()
            .and_then(|e| e.description.or(e.code))
            .map_or(fallback, |d| format!("HTTP {status}: {}", clip(&d)))
    };

    if status == 429 || (lower.len() < SHORT_BODY && lower.contains("too many requests")) {
        return Err(ErrorKind::Throttled { retry_after: None });
    }
    if lower.contains("will be right back") {
        return Err(ErrorKind::Transient {
            detail: format!("HTTP {status}: the provider's \"Will be right back\" outage page"),
        });
    }
    match status {
        401 => {
            return Err(ErrorKind::Unauthorized {
                detail: described(format!("HTTP {status}")),
            });
        }
        404 => {
            // Only Yahoo's JSON error object says the symbol is unknown; any other 404 comes from
            // something between us and the chart endpoint, or from a wrong URL.
            return Err(match json_error() {
                Some(err) => api_error(status, &err),
                None => ErrorKind::BadEndpoint {
                    detail: format!(
                        "HTTP {status}{}",
                        if trimmed.is_empty() {
                            " with an empty body".to_owned()
                        } else {
                            kind_of_body(content_type, trimmed)
                        }
                    ),
                },
            });
        }
        422 => {
            return Err(ErrorKind::OutOfWindow {
                detail: described(format!("HTTP {status} ({YAHOO_INTRADAY})")),
            });
        }
        408 | 500..=599 => {
            return Err(ErrorKind::Transient {
                detail: described(format!("HTTP {status}")),
            });
        }
        200..=299 => {}
        _ => {
            if let Some(err) = json_error() {
                return Err(api_error(status, &err));
            }
            return Err(ErrorKind::Malformed {
                detail: format!(
                    "unexpected HTTP {status}{}",
                    kind_of_body(content_type, trimmed)
                ),
            });
        }
    }
    if trimmed.is_empty() {
        return Err(ErrorKind::Transient {
            detail: format!("HTTP {status} with an empty body"),
        });
    }
    if trimmed.starts_with('<') {
        let consent = if lower.contains("consent") {
            " (a consent page)"
        } else {
            ""
        };
        return Err(ErrorKind::Malformed {
            detail: format!("HTTP {status} with an HTML page instead of JSON{consent}"),
        });
    }
    serde_json::from_slice::<Envelope>(body).map_err(|e| {
        if e.is_eof() {
            ErrorKind::Transient {
                detail: format!(
                    "HTTP {status} with a body cut off after {} bytes",
                    body.len()
                ),
            }
        } else {
            ErrorKind::Malformed {
                detail: format!(
                    "HTTP {status} with invalid JSON{}: {e}",
                    kind_of_body(content_type, "")
                ),
            }
        }
    })
}

fn kind_of_body(content_type: Option<&str>, trimmed: &str) -> String {
    match (content_type, trimmed.starts_with('<')) {
        (_, true) => " (an HTML page)".into(),
        (Some(ct), false) if !ct.contains("json") => format!(" (content type `{}`)", clip(ct)),
        _ => String::new(),
    }
}

/// Maps a JSON `error` object (`{code, description}`) to a class.
fn api_error(status: u16, err: &ApiError) -> ErrorKind {
    let code = err.code.as_deref().unwrap_or("");
    let detail = format!(
        "HTTP {status}: {}",
        clip(
            err.description
                .as_deref()
                .or(err.code.as_deref())
                .unwrap_or("error without description")
        )
    );
    match code.to_ascii_lowercase().as_str() {
        "not found" => ErrorKind::NotFound { detail },
        "unprocessable entity" => ErrorKind::OutOfWindow { detail },
        "unauthorized" => ErrorKind::Unauthorized { detail },
        "too many requests" => ErrorKind::Throttled { retry_after: None },
        "internal server error" | "service unavailable" | "bad gateway" | "gateway timeout" => {
            ErrorKind::Transient { detail }
        }
        _ => ErrorKind::Malformed { detail },
    }
}

/// Keeps provider text in messages short and on one line.
fn clip(s: &str) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out: String = one_line.chars().take(200).collect();
    if one_line.chars().count() > 200 {
        out.push('…');
    }
    out
}

fn build_answer(result: ChartResult, req: &FetchRequest) -> Result<Answer, ErrorKind> {
    let m = result.meta;
    let timestamps: Vec<Option<i64>> = result
        .timestamp
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.0)
        .collect();

    if timestamps.is_empty() && m.currency.is_none() && m.first_trade_date.0.is_none() {
        return Err(ErrorKind::NotFound {
            detail: format!(
                "the provider answered with an empty shell (exchange `{}`, no currency, no first trade date)",
                m.exchange_name.as_deref().unwrap_or("?")
            ),
        });
    }
    match m.data_granularity.as_deref() {
        Some(g) if req.interval.matches_granularity(g) => {}
        Some(g) => {
            return Err(ErrorKind::Malformed {
                detail: format!(
                    "asked for `{}` bars, got dataGranularity `{}`",
                    req.interval,
                    clip(g)
                ),
            });
        }
        None => {
            return Err(ErrorKind::Malformed {
                detail: "the answer has no meta.dataGranularity".into(),
            });
        }
    }

    let tz = m
        .exchange_timezone_name
        .as_deref()
        .and_then(|name| TimeZone::get(name).ok())
        .unwrap_or(TimeZone::UTC);
    let instant = |s: LenientI64| s.0.and_then(|s| Timestamp::from_second(s).ok());
    let (regular_open, regular_close) = match m.current_trading_period.and_then(|p| p.regular) {
        Some(p) => (instant(p.start), instant(p.end)),
        None => (None, None),
    };
    let meta = SymbolMeta {
        symbol: Some(req.symbol.clone()),
        currency: m.currency,
        exchange_name: m.exchange_name,
        full_exchange_name: m.full_exchange_name,
        instrument_type: m.instrument_type,
        timezone: m.exchange_timezone_name,
        first_trade: m
            .first_trade_date
            .0
            .and_then(|s| Timestamp::from_second(s).ok()),
        regular_market_time: m
            .regular_market_time
            .0
            .and_then(|s| Timestamp::from_second(s).ok()),
        regular_open,
        regular_close,
    };

    let indicators = result.indicators.unwrap_or_default();
    let quote = indicators
        .quote
        .and_then(|q| q.into_iter().next())
        .unwrap_or_default();
    let adj = indicators
        .adjclose
        .and_then(|a| a.into_iter().next())
        .and_then(|a| a.adjclose);
    let bars = build_bars(&timestamps, quote, adj, req, &tz)?;
    let actions = build_actions(result.events.unwrap_or_default(), req, &tz);
    Ok(Answer {
        meta,
        bars,
        actions,
    })
}

fn column<T: Copy + Default>(
    name: &str,
    col: Option<Vec<T>>,
    n: usize,
) -> Result<Vec<T>, ErrorKind> {
    match col {
        Some(v) if v.len() == n => Ok(v),
        // Older empty answers carry `"timestamp": []` and no or empty columns.
        None if n == 0 => Ok(Vec::new()),
        Some(v) if n == 0 && v.is_empty() => Ok(v),
        Some(v) => Err(ErrorKind::Malformed {
            detail: format!("`{name}` has {} values for {n} timestamps", v.len()),
        }),
        None => Err(ErrorKind::Malformed {
            detail: format!("`{name}` is missing for {n} timestamps"),
        }),
    }
}

fn build_bars(
    timestamps: &[Option<i64>],
    quote: Quote,
    adj: Option<Vec<LenientF64>>,
    req: &FetchRequest,
    tz: &TimeZone,
) -> Result<Vec<Bar>, ErrorKind> {
    let rows = timestamps.len();
    let opens = column("open", quote.open, rows)?;
    let highs = column("high", quote.high, rows)?;
    let lows = column("low", quote.low, rows)?;
    let closes = column("close", quote.close, rows)?;
    let volumes = column("volume", quote.volume, rows)?;
    let adj = match adj {
        Some(a) => Some(column("adjclose", Some(a), rows)?),
        None => None,
    };

    let (mut all_null, mut partial, mut outside) = (0usize, 0usize, 0usize);
    let mut bars: Vec<Bar> = Vec::with_capacity(rows);
    for i in 0..rows {
        let Some(ts) = timestamps[i].and_then(|s| Timestamp::from_second(s).ok()) else {
            all_null += 1;
            continue;
        };
        let prices = [opens[i].0, highs[i].0, lows[i].0, closes[i].0];
        let vol = volumes[i].0;
        if prices.iter().all(Option::is_none) && vol.is_none() {
            all_null += 1;
            continue;
        }
        if !req.range.contains(ts) {
            outside += 1;
            continue;
        }
        let [Some(open), Some(high), Some(low), Some(close)] = prices else {
            partial += 1;
            continue;
        };
        bars.push(Bar {
            ts,
            date: local_date(ts, req.interval, tz),
            open,
            high,
            low,
            close,
            adj_close: adj.as_ref().and_then(|a| a[i].0),
            volume: vol.unwrap_or(0),
        });
    }
    bars.sort_by_key(|b| b.ts); // stable: the first of a repeated timestamp stays first
    let before = bars.len();
    bars.dedup_by_key(|b| b.ts);
    if req.interval == Interval::D1 {
        bars.dedup_by_key(|b| b.date);
    }
    let duplicates = before - bars.len();
    if all_null + partial + outside + duplicates > 0 {
        tracing::debug!(
            symbol = %req.symbol, interval = %req.interval, all_null, partial, outside, duplicates,
            "dropped rows from a chart answer"
        );
    }
    Ok(bars)
}

/// The session date of `ts` in the exchange zone, with Yahoo's daily DST glitch undone (spec §5.3).
fn local_date(ts: Timestamp, interval: Interval, tz: &TimeZone) -> Date {
    let local = ts.to_zoned_datetime(tz.clone());
    let date = local.date();
    let glitch = matches!(interval, Interval::D1 | Interval::W1)
        && local.minute() == 0
        && (local.hour() == 22 || local.hour() == 23);
    if glitch {
        date.tomorrow().unwrap_or(date)
    } else {
        date
    }
}

fn build_actions(events: Events, req: &FetchRequest, tz: &TimeZone) -> Vec<Action> {
    let mut actions = Vec::new();
    let mut push = |date: LenientI64, kind: ActionKind| {
        let Some(ts) = date.0.and_then(|s| Timestamp::from_second(s).ok()) else {
            return;
        };
        if req.range.contains(ts) {
            actions.push(Action {
                ts,
                date: ts.to_zoned_datetime(tz.clone()).date(),
                kind,
            });
        }
    };
    for ev in events.dividends.into_iter().flat_map(HashMap::into_values) {
        if let Some(amount) = ev.amount.0 {
            let currency = ev.currency.filter(|c| !c.trim().is_empty());
            push(ev.date, ActionKind::Dividend { amount, currency });
        }
    }
    for ev in events
        .capital_gains
        .into_iter()
        .flat_map(HashMap::into_values)
    {
        if let Some(amount) = ev.amount.0 {
            push(ev.date, ActionKind::CapitalGain { amount });
        }
    }
    for ev in events.splits.into_iter().flat_map(HashMap::into_values) {
        let ratio = match (ev.numerator.0, ev.denominator.0) {
            (Some(n), Some(d)) => Some((n, d)),
            _ => ev.split_ratio.as_deref().and_then(parse_ratio),
        };
        match ratio {
            Some((numerator, denominator)) if numerator > 0.0 && denominator > 0.0 => {
                push(
                    ev.date,
                    ActionKind::Split {
                        numerator,
                        denominator,
                    },
                );
            }
            _ => tracing::debug!(symbol = %req.symbol, "ignored a split without a usable ratio"),
        }
    }
    actions.sort_by(|a, b| {
        a.ts.cmp(&b.ts)
            .then_with(|| a.kind.name().cmp(b.kind.name()))
    });
    actions
}

/// `"4:1"` → `(4, 1)`; Yahoo also writes `"1:10"` for reverse splits.
fn parse_ratio(s: &str) -> Option<(f64, f64)> {
    let (n, d) = s.split_once([':', '/'])?;
    Some((n.trim().parse().ok()?, d.trim().parse().ok()?))
}
