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

mod faults;

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

async fn chart_json(url: &str) -> (u16, Value) {
    let (status, body) = get(url).await;
    (status, serde_json::from_str(&body).unwrap())
}

#[tokio::test]
async fn intraday_limits_answer_422_with_yahoos_texts() {
    let s = sim(SimConfig::default()).await;
    let now = s.now().as_second();
    let day = 86_400;
    // 1m, 8 days wide, recent.
    let (status, v) = chart_json(&chart_url(&s, "AAPL", "1m", now - 9 * day, now - day)).await;
    assert_eq!(status, 422);
    assert_eq!(v["chart"]["error"]["code"], "Unprocessable Entity");
    assert_eq!(
        v["chart"]["error"]["description"],
        format!(
            "1m data not available for startTime={} and endTime={}. Only 7 days worth of 1m granularity data are allowed to be fetched per request.",
            now - 9 * day,
            now - day
        )
    );
    assert_eq!(v["chart"]["result"], Value::Null);
    // 1m, narrow but 31 days back.
    let (status, v) =
        chart_json(&chart_url(&s, "AAPL", "1m", now - 31 * day, now - 30 * day)).await;
    assert_eq!(status, 422);
    let text = v["chart"]["error"]["description"].as_str().unwrap();
    assert!(
        text.ends_with("The requested range must be within the last 30 days."),
        "{text}"
    );
    // 5m 61 days back; 60m 731 days back; but 60m 700 days back is fine.
    let (status, v) =
        chart_json(&chart_url(&s, "AAPL", "5m", now - 61 * day, now - 60 * day)).await;
    assert_eq!(status, 422);
    assert!(
        v["chart"]["error"]["description"]
            .as_str()
            .unwrap()
            .ends_with("within the last 60 days.")
    );
    let (status, _) = chart_json(&chart_url(
        &s,
        "AAPL",
        "60m",
        now - 731 * day,
        now - 700 * day,
    ))
    .await;
    assert_eq!(status, 422);
    let (status, v) = chart_json(&chart_url(
        &s,
        "AAPL",
        "60m",
        now - 700 * day,
        now - 699 * day,
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(v["chart"]["result"][0]["meta"]["dataGranularity"], "60m");
    // A 1m window of 7 days within the last 30 is served, with no adjclose and tradingPeriods per day.
    let (status, v) = chart_json(&chart_url(&s, "AAPL", "1m", now - 8 * day, now - day)).await;
    assert_eq!(status, 200);
    let r = &v["chart"]["result"][0];
    assert!(r["indicators"].get("adjclose").is_none());
    // 2025-05-25 to 2025-06-01: Memorial Day (May 26) leaves four sessions of 390 minutes.
    let sessions = Calendar::new(Exchange::Xnys).sessions(date(2025, 5, 25), date(2025, 6, 1));
    assert_eq!(sessions.len(), 4);
    assert_eq!(r["timestamp"].as_array().unwrap().len(), 4 * 390);
    assert_eq!(r["meta"]["tradingPeriods"].as_array().unwrap().len(), 4);
    // Bad parameters are a JSON 400.
    let (status, v) = chart_json(&chart_url(&s, "AAPL", "7m", now - day, now)).await;
    assert_eq!(status, 400);
    assert_eq!(v["chart"]["error"]["code"], "Bad Request");
    s.shutdown().await;
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let s = sim(SimConfig {
        rate: Some(0.001),
        retry_after: Some(7),
        ..SimConfig::default()
    })
    .await;
    let url = chart_url(&s, "MSFT", "1d", 1_704_085_200, 1_706_763_600);
    let c = client();
    let first = c.get(&url).send().await.unwrap();
    assert_eq!(first.status().as_u16(), 200);
    let second = c.get(&url).send().await.unwrap();
    assert_eq!(second.status().as_u16(), 429);
    assert_eq!(second.headers()["retry-after"], "7");
    assert!(
        second.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(second.text().await.unwrap(), "Too Many Requests");
    // Control endpoints are neither limited nor counted.
    let stats: Stats = c
        .get(format!("{}/_stats", s.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats.requests_total, 2);
    assert_eq!(stats.per_status.get(&429), Some(&1));
    assert_eq!(stats.per_status.get(&200), Some(&1));
    s.shutdown().await;
}

#[tokio::test]
async fn crumb_flow_cookie_then_crumb_then_rotation() {
    let s = sim(SimConfig {
        require_crumb: true,
        ..SimConfig::default()
    })
    .await;
    let c = client();
    let url = chart_url(&s, "MSFT", "1d", 1_704_085_200, 1_706_763_600);
    // Without cookie and crumb: Yahoo's Invalid Crumb body.
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"finance":{"result":null,"error":{"code":"Unauthorized","description":"Invalid Crumb"}}}"#
    );
    // getcrumb without a cookie fails.
    let r = client()
        .get(format!("{}/v1/test/getcrumb", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // fc.yahoo.com stand-in: 404 that sets A3.
    let r = c.get(format!("{}/", s.url())).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with("A3=d=AQABBA") && cookie.contains("Path=/"),
        "{cookie}"
    );
    let crumb = c
        .get(format!("{}/v1/test/getcrumb", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(crumb.status().as_u16(), 200);
    let crumb = crumb.text().await.unwrap();
    assert_eq!(crumb.len(), 11);
    assert_eq!(
        c.get(format!("{url}&crumb={crumb}"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        c.get(format!("{url}&crumb=wrongcrumb1"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    // Rotation invalidates the crumb; a fresh one works with the same cookie.
    let r = c
        .post(format!("{}/_crumb/rotate", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        c.get(format!("{url}&crumb={crumb}"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    let fresh = c
        .get(format!("{}/v1/test/getcrumb", s.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_ne!(fresh, crumb);
    assert_eq!(
        c.get(format!("{url}&crumb={fresh}"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    s.shutdown().await;
}

#[tokio::test]
async fn stats_count_and_reset() {
    let s = sim(SimConfig::default()).await;
    let c = client();
    for symbol in ["MSFT", "MSFT", "AIR.PA", "ZZZ"] {
        c.get(chart_url(&s, symbol, "1d", 1_704_085_200, 1_706_763_600))
            .send()
            .await
            .unwrap();
    }
    c.get(format!("{}/", s.url())).send().await.unwrap();
    let stats = s.stats();
    assert_eq!(stats.requests_total, 5);
    assert_eq!(stats.chart_requests, 4);
    assert_eq!(stats.per_symbol.get("MSFT"), Some(&2));
    assert_eq!(stats.per_symbol.get("AIR.PA"), Some(&1));
    assert_eq!(stats.per_status.get(&200), Some(&3));
    assert_eq!(stats.per_status.get(&404), Some(&2));
    assert_eq!(stats.max_in_flight, 1);
    let range = TimeRange::new(
        Timestamp::from_second(1_704_085_200).unwrap(),
        Timestamp::from_second(1_706_763_600).unwrap(),
    )
    .unwrap();
    let expected: usize = ["MSFT", "MSFT", "AIR.PA"]
        .iter()
        .map(|x| s.market().bars(&sym(x), Interval::D1, range, s.now()).len())
        .sum();
    assert_eq!(stats.rows_served, expected as u64);
    // The HTTP view agrees; POST /_reset zeroes it, and so does SimServer::reset.
    let http: Stats = c
        .get(format!("{}/_stats", s.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(http.requests_total, stats.requests_total);
    assert_eq!(
        c.post(format!("{}/_reset", s.url()))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert_eq!(s.stats().requests_total, 0);
    c.get(format!("{}/", s.url())).send().await.unwrap();
    assert_eq!(s.stats().requests_total, 1);
    s.reset();
    assert_eq!(s.stats().requests_total, 0);
    s.shutdown().await;
}

/// A symbol with a split in 2000..2020, found through the public API.
fn symbol_with_split(m: &backfill_sim::Market) -> (Symbol, backfill_domain::Action) {
    let all = TimeRange::new(ts("2000-01-01T00:00:00Z"), ts("2020-01-01T00:00:00Z")).unwrap();
    (0..300)
        .find_map(|i| {
            let s = sym(&format!("T{i}"));
            m.actions(&s, all, ts("2030-01-01T00:00:00Z"))
                .into_iter()
                .find(|a| a.split_ratio().is_some())
                .map(|a| (s, a))
        })
        .expect("a third of the equities split")
}

#[tokio::test]
async fn moving_the_clock_past_a_split_rescales_history() {
    let s = sim(SimConfig::default()).await;
    let (symbol, split) = symbol_with_split(s.market());
    let ratio = split.split_ratio().unwrap();
    let c = client();
    let p2 = split.ts.as_second() + 86_400 * 5;
    let p1 = split.ts.as_second() - 86_400 * 20;
    let url = chart_url(&s, symbol.as_str(), "1d", p1, p2);
    // Three days before the split, after that day's close (no session in progress).
    let before = split.ts.as_second() - 86_400 * 3 + 8 * 3600;
    let r = c
        .post(format!("{}/_clock?now={before}", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(s.now().as_second(), before);
    let (_, early) = chart_json(&url).await;
    assert!(
        early["chart"]["result"][0]["events"]
            .get("splits")
            .is_none()
    );
    s.set_now(Timestamp::from_second(split.ts.as_second() + 86_400 * 30).unwrap());
    let (_, late) = chart_json(&url).await;
    let splits = &late["chart"]["result"][0]["events"]["splits"];
    let key = split.ts.as_second().to_string();
    assert_eq!(splits[&key]["date"], split.ts.as_second());
    let served =
        splits[&key]["numerator"].as_f64().unwrap() / splits[&key]["denominator"].as_f64().unwrap();
    assert!((served - ratio).abs() < 1e-12, "{served} != {ratio}");
    let early_closes = early["chart"]["result"][0]["indicators"]["quote"][0]["close"]
        .as_array()
        .unwrap();
    let late_closes = late["chart"]["result"][0]["indicators"]["quote"][0]["close"]
        .as_array()
        .unwrap();
    assert!(!early_closes.is_empty());
    for (a, b) in early_closes.iter().zip(late_closes) {
        let (old, new) = (a.as_f64().unwrap(), b.as_f64().unwrap());
        assert!(
            (old / ratio - new).abs() <= 1e-5 * old,
            "{old} / {ratio} != {new}"
        );
    }
    s.shutdown().await;
}

#[tokio::test]
async fn events_match_market_actions() {
    let s = sim(SimConfig::default()).await;
    let m = s.market();
    let range = TimeRange::new(ts("2010-01-01T00:00:00Z"), ts("2020-01-01T00:00:00Z")).unwrap();
    let symbol = (0..100)
        .map(|i| sym(&format!("D{i}")))
        .find(|x| {
            let acts = m.actions(x, range, s.now());
            acts.iter().any(|a| a.split_ratio().is_some()) && acts.len() > 10
        })
        .expect("some symbol splits and pays dividends");
    let url = chart_url(
        &s,
        symbol.as_str(),
        "1d",
        range.start().as_second(),
        range.end().as_second(),
    );
    let (status, v) = chart_json(&url).await;
    assert_eq!(status, 200);
    let events = &v["chart"]["result"][0]["events"];
    let mut served = 0;
    for a in m.actions(&symbol, range, s.now()) {
        let key = a.ts.as_second().to_string();
        match a.kind {
            backfill_domain::ActionKind::Dividend { amount, .. } => {
                assert_eq!(events["dividends"][&key]["amount"].as_f64(), Some(amount));
                assert_eq!(
                    events["dividends"][&key]["date"].as_i64(),
                    Some(a.ts.as_second())
                );
            }
            backfill_domain::ActionKind::Split {
                numerator,
                denominator,
            } => {
                assert_eq!(
                    events["splits"][&key]["numerator"].as_f64(),
                    Some(numerator)
                );
                assert_eq!(
                    events["splits"][&key]["denominator"].as_f64(),
                    Some(denominator)
                );
                assert_eq!(
                    events["splits"][&key]["splitRatio"].as_str().unwrap(),
                    format!("{}:{}", numerator as i64, denominator as i64)
                );
            }
            backfill_domain::ActionKind::CapitalGain { .. } => unreachable!("equities have none"),
        }
        served += 1;
    }
    let count = |k: &str| events[k].as_object().map_or(0, serde_json::Map::len);
    assert_eq!(count("dividends") + count("splits"), served);
    // Ground truth of the bars too, with adjclose below close before the last dividend.
    let bars = parse_bars(&v.to_string());
    assert_eq!(bars, m.bars(&symbol, Interval::D1, range, s.now()));
    assert!(bars[0].adj_close.unwrap() < bars[0].close);
    s.shutdown().await;
}

#[tokio::test]
async fn intraday_ground_truth_and_london_meta() {
    let s = sim(SimConfig::default()).await;
    let now = s.now().as_second();
    let (p1, p2) = (now - 20 * 86_400, now - 10 * 86_400);
    let (status, body) = get(&chart_url(&s, "OCDO.L", "5m", p1, p2)).await;
    assert_eq!(status, 200);
    let range = TimeRange::new(
        Timestamp::from_second(p1).unwrap(),
        Timestamp::from_second(p2).unwrap(),
    )
    .unwrap();
    let bars = parse_bars(&body);
    assert!(!bars.is_empty());
    assert_eq!(
        bars,
        s.market()
            .bars(&sym("OCDO.L"), Interval::M5, range, s.now())
    );
    let v: Value = serde_json::from_str(&body).unwrap();
    let meta = &v["chart"]["result"][0]["meta"];
    assert_eq!(meta["currency"], "GBp");
    assert_eq!(meta["exchangeName"], "LSE");
    assert_eq!(meta["exchangeTimezoneName"], "Europe/London");
    // 08:00 to 16:30 London: 102 five-minute bars per session.
    let mut days: Vec<_> = bars.iter().map(|b| b.date).collect();
    days.dedup();
    let full_day = days[1];
    assert_eq!(bars.iter().filter(|b| b.date == full_day).count(), 102);
    s.shutdown().await;
}

/// What a client saw for one request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Outcome {
    Status(u16),
    Reset,
    Truncated,
    Malformed,
    Good,
}

async fn outcome(url: &str) -> Outcome {
    // A fresh client each time so that no connection is reused after a simulated failure.
    let Ok(r) = client().get(url).send().await else {
        return Outcome::Reset;
    };
    let status = r.status().as_u16();
    let Ok(body) = r.bytes().await else {
        return Outcome::Truncated;
    };
    if status != 200 {
        return Outcome::Status(status);
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(_) => Outcome::Good,
        Err(_) => Outcome::Malformed,
    }
}

async fn outcomes(seed: u64, fail_rate: f64, n: usize) -> Vec<Outcome> {
    let s = sim(SimConfig {
        seed,
        fail_rate,
        ..SimConfig::default()
    })
    .await;
    let url = chart_url(&s, "MSFT", "1d", 1_704_085_200, 1_706_763_600);
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(outcome(&url).await);
    }
    s.shutdown().await;
    out
}

#[tokio::test]
async fn failures_are_seeded_and_cover_every_kind() {
    let first = outcomes(7, 1.0, 60).await;
    let kinds: std::collections::BTreeSet<_> = first.iter().cloned().collect();
    let expected: std::collections::BTreeSet<_> = [
        Outcome::Status(500),
        Outcome::Status(502),
        Outcome::Status(503),
        Outcome::Reset,
        Outcome::Truncated,
        Outcome::Malformed,
    ]
    .into_iter()
    .collect();
    assert_eq!(kinds, expected);
    assert_eq!(
        first,
        outcomes(7, 1.0, 60).await,
        "same seed, same request order, same failures"
    );
    let some = outcomes(7, 0.3, 40).await;
    let good = some.iter().filter(|o| **o == Outcome::Good).count();
    assert!(
        (16..=36).contains(&good),
        "about 70% good, got {good} of 40"
    );
    assert!(
        outcomes(7, 0.0, 10)
            .await
            .iter()
            .all(|o| *o == Outcome::Good)
    );
}

#[tokio::test]
async fn max_conns_bounds_concurrency() {
    let s = sim(SimConfig {
        max_conns: Some(2),
        latency: Duration::from_millis(30),
        ..SimConfig::default()
    })
    .await;
    let url = chart_url(&s, "MSFT", "1d", 1_704_085_200, 1_706_763_600);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { outcome(&url).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), Outcome::Good);
    }
    let stats = s.stats();
    assert_eq!(stats.chart_requests, 8);
    assert_eq!(stats.max_in_flight, 2);
    s.shutdown().await;
}
