//! Integration tests: a started simulator answered over real HTTP (reqwest), checked against the
//! calendar and the ground-truth [`Market`].

use std::net::SocketAddr;
use std::time::Duration;

use backfill_calendar::{Calendar, Exchange};
use backfill_domain::{Bar, Interval, Symbol, TimeRange};
use backfill_sim::{NOT_FOUND_BODY, SimConfig, SimServer, Stats};
use jiff::Timestamp;
use jiff::civil::date;
use serde_json::Value;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A sim with a fixed clock (2025-06-02 12:00 UTC, a Monday, New York pre-market).
async fn sim(config: SimConfig) -> SimServer {
    let config = SimConfig {
        now: config.now.or(Some(ts("2025-06-02T12:00:00Z"))),
        ..config
    };
    SimServer::start(config, local()).await.unwrap()
}

fn chart_url(s: &SimServer, symbol: &str, interval: &str, p1: i64, p2: i64) -> String {
    format!(
        "{}/v8/finance/chart/{symbol}?period1={p1}&period2={p2}&interval={interval}&events=div,split,capitalGains&includePrePost=false",
        s.url()
    )
}

async fn get(url: &str) -> (u16, String) {
    let r = client().get(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Parses a chart body back into bars the way a client would (dates from the exchange zone).
fn parse_bars(body: &str) -> Vec<Bar> {
    let json: Value = serde_json::from_str(body).unwrap();
    let r = &json["chart"]["result"][0];
    let tz = jiff::tz::TimeZone::get(r["meta"]["exchangeTimezoneName"].as_str().unwrap()).unwrap();
    let Some(stamps) = r["timestamp"].as_array() else {
        return Vec::new();
    };
    let q = &r["indicators"]["quote"][0];
    let price = |k: &str, i: usize| q[k][i].as_f64().unwrap();
    stamps
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let t = Timestamp::from_second(t.as_i64().unwrap()).unwrap();
            Bar {
                ts: t,
                date: t.to_zoned_datetime(tz.clone()).date(),
                open: price("open", i),
                high: price("high", i),
                low: price("low", i),
                close: price("close", i),
                adj_close: r["indicators"]["adjclose"][0]["adjclose"][i].as_f64(),
                volume: q["volume"][i].as_i64().unwrap(),
            }
        })
        .collect()
}

#[tokio::test]
async fn daily_chart_matches_calendar_and_ground_truth() {
    let s = sim(SimConfig::default()).await;
    // 2024 in New York: midnight 2024-01-01 to midnight 2025-01-01 local.
    let (p1, p2) = (1_704_085_200, 1_735_707_600);
    let (status, body) = get(&chart_url(&s, "MSFT", "1d", p1, p2)).await;
    assert_eq!(status, 200);
    let bars = parse_bars(&body);
    let sessions = Calendar::new(Exchange::Xnys).sessions(date(2024, 1, 1), date(2024, 12, 31));
    assert_eq!(bars.len(), sessions.len());
    for (b, s) in bars.iter().zip(&sessions) {
        assert_eq!(b.ts, s.open, "daily bars are stamped at the session open");
    }
    let range = TimeRange::new(
        Timestamp::from_second(p1).unwrap(),
        Timestamp::from_second(p2).unwrap(),
    )
    .unwrap();
    let truth = s.market().bars(&sym("MSFT"), Interval::D1, range, s.now());
    assert_eq!(bars, truth, "the JSON parses back to exactly Market::bars");
    let v: Value = serde_json::from_str(&body).unwrap();
    let meta = &v["chart"]["result"][0]["meta"];
    assert_eq!(meta["symbol"], "MSFT");
    assert_eq!(meta["currency"], "USD");
    assert_eq!(meta["exchangeTimezoneName"], "America/New_York");
    assert_eq!(meta["dataGranularity"], "1d");
    assert_eq!(meta["range"], "");
    assert_eq!(meta["instrumentType"], "EQUITY");
    assert_eq!(v["chart"]["error"], Value::Null);
    s.shutdown().await;
}

#[tokio::test]
async fn unknown_symbol_is_yahoos_404_byte_for_byte() {
    let s = sim(SimConfig::default()).await;
    let (status, body) = get(&chart_url(&s, "ZZNOPE", "1d", 0, 1_700_000_000)).await;
    assert_eq!(status, 404);
    assert_eq!(body, NOT_FOUND_BODY);
    assert_eq!(
        body,
        r#"{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}"#
    );
    s.shutdown().await;
}

#[tokio::test]
async fn empty_window_has_yahoos_empty_shape() {
    let s = sim(SimConfig::default()).await;
    // Saturday 2025-05-31 to Sunday 2025-06-01, New York.
    let (p1, p2) = (1_748_664_000, 1_748_750_400);
    let (status, body) = get(&chart_url(&s, "AAPL", "1d", p1, p2)).await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    let r = &v["chart"]["result"][0];
    assert!(r.get("timestamp").is_none(), "no timestamp key: {body}");
    assert_eq!(
        r["indicators"],
        serde_json::json!({"quote": [{}], "adjclose": [{}]})
    );
    assert_eq!(r["meta"]["symbol"], "AAPL");
    // Intraday empty window: no adjclose at all.
    let (_, body) = get(&chart_url(&s, "AAPL", "1m", p1, p2)).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["chart"]["result"][0]["indicators"],
        serde_json::json!({"quote": [{}]})
    );
    s.shutdown().await;
}

#[tokio::test]
async fn encoded_and_raw_symbols_are_the_same_instrument() {
    let s = sim(SimConfig::default()).await;
    let (p1, p2) = (1_735_707_600, 1_738_386_000); // January 2025
    let (status_a, body_a) = get(&chart_url(&s, "%5EGSPC", "1d", p1, p2)).await;
    let (status_b, body_b) = get(&chart_url(&s, "^GSPC", "1d", p1, p2)).await;
    assert_eq!((status_a, status_b), (200, 200));
    assert_eq!(body_a, body_b);
    let v: Value = serde_json::from_str(&body_a).unwrap();
    assert_eq!(v["chart"]["result"][0]["meta"]["instrumentType"], "INDEX");
    let (status, body) = get(&chart_url(&s, "EURUSD%3DX", "1d", p1, p2)).await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["chart"]["result"][0]["meta"]["exchangeName"], "CCY");
    assert_eq!(
        v["chart"]["result"][0]["meta"]["exchangeTimezoneName"],
        "Europe/London"
    );
    let stats: Stats = s.stats();
    assert_eq!(stats.per_symbol.get("^GSPC"), Some(&2));
    s.shutdown().await;
}
