//! Bad bars and the trailing live row over real HTTP, checked against [`Market::bars`],
//! [`Market::bad_bars`] and [`Market::live_row`].

use backfill_calendar::{Calendar, Exchange};
use backfill_domain::{Bar, Interval, TimeRange};
use backfill_sim::SimConfig;
use jiff::Timestamp;
use jiff::civil::Weekday;
use serde_json::Value;

use super::{chart_url, get, parse_bars, sim, sym, ts};

fn window(p1: i64, p2: i64) -> TimeRange {
    TimeRange::new(
        Timestamp::from_second(p1).unwrap(),
        Timestamp::from_second(p2).unwrap(),
    )
    .unwrap()
}

/// Whether a parsed New York bar breaks `rule`.
fn breaks(rule: &str, b: &Bar) -> bool {
    let nyse = Calendar::new(Exchange::Xnys);
    match rule {
        "high_below_open_close" => b.high < b.open.max(b.close),
        "low_above_open_close" => b.low > b.open.min(b.close),
        "non_positive_price" => b.close <= 0.0,
        "negative_volume" => b.volume < 0,
        "off_session" => {
            let local = b.ts.in_tz("America/New_York").unwrap();
            local.weekday() == Weekday::Saturday && !nyse.is_session(local.date())
        }
        other => panic!("unknown rule {other}"),
    }
}

/// Valid by every rule: consistent OHLC, positive prices, volume ≥ 0, on a session open.
fn clean(b: &Bar, interval: Interval) -> bool {
    let nyse = Calendar::new(Exchange::Xnys);
    let on_session = match interval {
        Interval::D1 => nyse.session(b.date).is_some_and(|s| s.open == b.ts),
        _ => nyse
            .session(b.date)
            .is_some_and(|s| s.open <= b.ts && b.ts < s.close),
    };
    b.high >= b.open.max(b.close)
        && b.low <= b.open.min(b.close)
        && b.low > 0.0
        && b.volume >= 0
        && on_session
}

#[tokio::test]
async fn bad_bars_are_served_as_listed_and_the_same_on_every_request() {
    let s = sim(SimConfig {
        bad_bars: 0.15,
        ..SimConfig::default()
    })
    .await;
    let msft = sym("MSFT");
    for (interval, p1, p2) in [
        // 2022–2024 daily, and 15 sessions of 5-minute bars before the fixed clock.
        ("1d", 1_641_013_200, 1_735_707_600),
        ("5m", 1_746_403_200, 1_748_822_400),
    ] {
        let iv = Interval::parse(interval).unwrap();
        let url = chart_url(&s, "MSFT", interval, p1, p2);
        let (status, body) = get(&url).await;
        assert_eq!(status, 200);
        assert!(
            !body.contains("NaN") && !body.contains("null,"),
            "valid JSON numbers"
        );
        let (_, again) = get(&url).await;
        assert_eq!(body, again, "{interval}: deterministic across requests");
        let r = window(p1, p2);
        let bars = parse_bars(&body);
        assert_eq!(bars, s.market().bars(&msft, iv, r, s.now()), "{interval}");
        let bad = s.market().bad_bars(&msft, iv, r, s.now());
        let share = bad.len() as f64 / bars.len() as f64;
        assert!((0.1..0.2).contains(&share), "{interval}: share {share}");
        let stamps: Vec<i64> = bars.iter().map(|b| b.ts.as_second()).collect();
        assert!(
            stamps.windows(2).all(|w| w[0] < w[1]),
            "{interval}: increasing"
        );
        assert!(bars.iter().all(|b| r.contains(b.ts)));
        for b in &bars {
            match bad.iter().find(|(t, _)| *t == b.ts) {
                Some((_, rule)) => assert!(breaks(rule, b), "{interval}: {rule} {b:?}"),
                None => assert!(clean(b, iv), "{interval}: unlisted bad bar {b:?}"),
            }
        }
        if iv == Interval::D1 {
            let rules: std::collections::BTreeSet<_> = bad.iter().map(|(_, r)| *r).collect();
            assert_eq!(rules.len(), 5, "every kind shows up: {rules:?}");
        }
    }
    s.shutdown().await;
}

#[tokio::test]
async fn bad_symbols_spoil_only_the_named_ticker() {
    let s = sim(SimConfig {
        bad_symbols: vec!["nvda".to_owned()],
        ..SimConfig::default()
    })
    .await;
    let clean_sim = sim(SimConfig::default()).await;
    let (p1, p2) = (1_641_013_200, 1_735_707_600);
    let r = window(p1, p2);
    for name in ["MSFT", "AAPL", "NVDA"] {
        let (_, body) = get(&chart_url(&s, name, "1d", p1, p2)).await;
        let (_, plain) = get(&chart_url(&clean_sim, name, "1d", p1, p2)).await;
        let bad = s.market().bad_bars(&sym(name), Interval::D1, r, s.now());
        if name == "NVDA" {
            let n = parse_bars(&body).len();
            assert!((n / 14..n / 7).contains(&bad.len()), "{} of {n}", bad.len());
            assert_ne!(body, plain);
        } else {
            assert!(bad.is_empty());
            assert_eq!(
                body, plain,
                "{name} is served byte for byte as without the knob"
            );
        }
    }
    s.shutdown().await;
    clean_sim.shutdown().await;
}

#[tokio::test]
async fn live_row_trails_period2_and_is_not_ground_truth() {
    // Tuesday 2025-06-03 11:07:30 in New York: the session is open.
    let now = ts("2025-06-03T15:07:30Z");
    let s = sim(SimConfig {
        live_row: true,
        now: Some(now),
        ..SimConfig::default()
    })
    .await;
    let msft = sym("MSFT");
    let stamp = ts("2025-06-03T15:07:00Z");
    for (interval, p1, p2) in [
        // This morning's first half hour of 1m bars, and last week's daily bars.
        ("1m", 1_748_957_400, 1_748_959_200),
        ("1d", 1_748_232_000, 1_748_836_800),
    ] {
        let iv = Interval::parse(interval).unwrap();
        let r = window(p1, p2);
        let (status, body) = get(&chart_url(&s, "MSFT", interval, p1, p2)).await;
        assert_eq!(status, 200);
        let served = parse_bars(&body);
        let truth = s.market().bars(&msft, iv, r, now);
        assert!(!truth.is_empty());
        assert_eq!(served.len(), truth.len() + 1, "{interval}: one extra row");
        assert_eq!(served[..truth.len()], truth[..], "{interval}");
        let live = served.last().unwrap();
        assert_eq!(live.ts, stamp, "{interval}: stamped at the latest trade");
        assert!(live.ts.as_second() >= p2, "after period2");
        assert!(truth.iter().all(|b| b.ts != live.ts));
        assert_eq!(
            (live.open, live.high, live.low),
            (live.close, live.close, live.close)
        );
        assert_eq!(live.volume, 0);
        assert_eq!(Some(live), s.market().live_row(&msft, iv, r, now).as_ref());
        let v: Value = serde_json::from_str(&body).unwrap();
        let price = v["chart"]["result"][0]["meta"]["regularMarketPrice"].as_f64();
        assert_eq!(Some(live.close), price, "{interval}: at the latest price");
    }
    // Weekly answers, windows reaching past now and a weekend clock carry no live row.
    let r = window(1_748_232_000, 1_748_836_800);
    assert!(s.market().live_row(&msft, Interval::W1, r, now).is_none());
    let (_, body) = get(&chart_url(
        &s,
        "MSFT",
        "1d",
        1_748_232_000,
        now.as_second() + 60,
    ))
    .await;
    let open_window = window(1_748_232_000, now.as_second() + 60);
    assert_eq!(
        parse_bars(&body),
        s.market().bars(&msft, Interval::D1, open_window, now)
    );
    let sunday = ts("2025-06-08T15:00:00Z");
    s.set_now(sunday);
    let (_, body) = get(&chart_url(&s, "MSFT", "1d", 1_748_232_000, 1_748_836_800)).await;
    assert_eq!(
        parse_bars(&body),
        s.market().bars(&msft, Interval::D1, r, sunday)
    );
    s.shutdown().await;
}

#[tokio::test]
async fn live_row_after_the_close_is_stamped_at_the_close() {
    // 18:00 in New York, after Tuesday's close: Yahoo's row sits at 16:00 with zero volume.
    let now = ts("2025-06-03T22:00:00Z");
    let s = sim(SimConfig {
        live_row: true,
        now: Some(now),
        ..SimConfig::default()
    })
    .await;
    let (p1, p2) = (1_748_957_400, 1_748_959_200);
    let (_, body) = get(&chart_url(&s, "MSFT", "1h", p1, p2)).await;
    let served = parse_bars(&body);
    let truth = s
        .market()
        .bars(&sym("MSFT"), Interval::H1, window(p1, p2), now);
    assert_eq!(served.len(), truth.len() + 1);
    let live = served.last().unwrap();
    assert_eq!(live.ts, ts("2025-06-03T20:00:00Z"));
    assert_eq!(live.volume, 0);
    s.shutdown().await;
}
