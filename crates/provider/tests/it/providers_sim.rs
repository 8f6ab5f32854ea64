//! The Tiingo and Alpaca clients against the simulator: the conformance suite, exact ground truth
//! for 40 symbols, equal bars whichever provider serves the market, paging, keys and quotas.

use std::time::Duration;

use backfill_domain::{Action, ActionKind, Bar, Interval, Symbol, TimeRange};
use backfill_provider::alpaca::{AlpacaConfig, AlpacaProvider};
use backfill_provider::conformance::{self, Truth};
use backfill_provider::tiingo::{TiingoConfig, TiingoProvider};
use backfill_provider::yahoo::{YahooConfig, YahooProvider};
use backfill_provider::{ErrorKind, FetchRequest, Provider, Secret};
use backfill_sim::{Market, SimConfig, SimServer};
use jiff::Timestamp;

use crate::sim::{FORTY, sim};
use crate::{at, request, unknown_request, weekend_request};

fn tiingo(server: &SimServer, key: &str) -> TiingoProvider {
    TiingoProvider::new(TiingoConfig {
        base_url: server.url(),
        ..TiingoConfig::new(Secret::new(key))
    })
    .unwrap()
}

fn alpaca(server: &SimServer, id: &str, secret: &str) -> AlpacaProvider {
    AlpacaProvider::new(AlpacaConfig {
        base_url: server.url(),
        ..AlpacaConfig::new(Secret::new(id), Secret::new(secret))
    })
    .unwrap()
}

/// The first simulated symbol `S{i}` with a split between 2010 and 2024, and that split.
fn split_symbol(market: &Market, now: Timestamp) -> (String, Action) {
    let wide = TimeRange::new(at("2010-01-01T00:00:00Z"), at("2024-01-01T00:00:00Z")).unwrap();
    (0..300)
        .find_map(|i| {
            let s = format!("S{i}");
            market
                .actions(&Symbol::parse(&s).unwrap(), wide, now)
                .into_iter()
                .find(|a| a.split_ratio().is_some_and(|r| r != 2.0 && r != 4.0))
                .map(|a| (s, a))
        })
        .expect("some simulated symbol splits by 3:1, 3:2 or 1:4")
}

/// What the daily providers must answer: the market's bars; its dividends and splits (neither
/// Tiingo nor Alpaca serves capital gains).
struct DailyTruth {
    market: Market,
    now: Timestamp,
    known: Vec<FetchRequest>,
}

impl DailyTruth {
    fn new(server: &SimServer, intraday: bool) -> DailyTruth {
        let (split, action) = split_symbol(server.market(), server.now());
        let around = |d: jiff::civil::Date| {
            let t = d
                .to_zoned_datetime(jiff::tz::TimeZone::UTC)
                .unwrap()
                .timestamp();
            (
                (t - jiff::SignedDuration::from_hours(24 * 200)).to_string(),
                (t + jiff::SignedDuration::from_hours(24 * 60)).to_string(),
            )
        };
        let (a, b) = around(action.date);
        let mut known = vec![
            request(
                "AAPL",
                Interval::D1,
                "2024-01-01T00:00:00Z",
                "2025-01-01T00:00:00Z",
            ),
            request(
                "BRK-B",
                Interval::D1,
                "2023-06-01T00:00:00Z",
                "2024-06-01T00:00:00Z",
            ),
            request(
                "AIR.PA",
                Interval::D1,
                "2024-03-01T00:00:00Z",
                "2024-06-01T00:00:00Z",
            ),
            request(
                "7203.T",
                Interval::D1,
                "2024-03-01T00:00:00Z",
                "2024-06-01T00:00:00Z",
            ),
            request(
                "BTC-USD",
                Interval::D1,
                "2024-02-01T00:00:00Z",
                "2024-03-01T00:00:00Z",
            ),
            request(&split, Interval::D1, &a, &b),
        ];
        if intraday {
            known.push(request(
                "AAPL",
                Interval::M5,
                "2025-05-20T00:00:00Z",
                "2025-05-24T00:00:00Z",
            ));
            known.push(request(
                "MSFT",
                Interval::M1,
                "2025-05-27T00:00:00Z",
                "2025-05-29T00:00:00Z",
            ));
            known.push(request(
                "7203.T",
                Interval::M30,
                "2025-05-12T00:00:00Z",
                "2025-05-17T00:00:00Z",
            ));
        }
        DailyTruth {
            market: server.market().clone(),
            now: server.now(),
            known,
        }
    }
}

impl Truth for DailyTruth {
    fn known(&self) -> Vec<FetchRequest> {
        self.known.clone()
    }
    fn empty(&self) -> Vec<FetchRequest> {
        vec![weekend_request()]
    }
    fn unknown(&self) -> Vec<FetchRequest> {
        vec![unknown_request()]
    }
    fn bars(&self, req: &FetchRequest) -> Vec<Bar> {
        self.market
            .bars(&req.symbol, req.interval, req.range, self.now)
    }
    fn actions(&self, req: &FetchRequest) -> Vec<Action> {
        self.market
            .actions(&req.symbol, req.range, self.now)
            .into_iter()
            .filter(|a| !matches!(a.kind, ActionKind::CapitalGain { .. }))
            .collect()
    }
}

#[tokio::test]
async fn conformance_tiingo_over_sim() {
    let server = sim(SimConfig::default()).await;
    let truth = DailyTruth::new(&server, false);
    let report = conformance::run(&tiingo(&server, "any-key"), &truth)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(report.bars > 500, "{report:?}");
    assert_eq!(
        server.stats().requests_total,
        report.requests as u64,
        "one request a fetch"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn conformance_alpaca_over_sim_with_small_pages() {
    let server = sim(SimConfig {
        alpaca_page_cap: Some(7),
        ..SimConfig::default()
    })
    .await;
    let truth = DailyTruth::new(&server, true);
    let report = conformance::run(&alpaca(&server, "id", "secret"), &truth)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(report.bars > 1000, "{report:?}");
    server.shutdown().await;
}

/// 40 symbols, a year of daily bars: each provider's answer is the market's bars exactly, so the
/// same market through Yahoo, Tiingo and Alpaca gives equal bars.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_symbols_equal_bars_through_every_provider() {
    let server = sim(SimConfig {
        alpaca_page_cap: Some(100),
        ..SimConfig::default()
    })
    .await;
    let yahoo = YahooProvider::new(YahooConfig {
        base_url: server.url(),
        ..YahooConfig::default()
    })
    .unwrap();
    let (t, a) = (tiingo(&server, "k"), alpaca(&server, "i", "s"));
    let range = TimeRange::new(at("2024-01-01T00:00:00Z"), at("2025-01-01T00:00:00Z")).unwrap();
    let mut sessions = 0;
    for s in FORTY {
        let req = FetchRequest::new(Symbol::parse(s).unwrap(), Interval::D1, range);
        let want = server
            .market()
            .bars(&req.symbol, Interval::D1, range, server.now());
        let y = yahoo.fetch(&req).await.unwrap_or_else(|e| panic!("{e}"));
        let ti = t.fetch(&req).await.unwrap_or_else(|e| panic!("{e}"));
        let al = a.fetch(&req).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(want.len() >= 240, "{s}: {}", want.len());
        for (name, got) in [
            ("yahoo", &y.bars),
            ("tiingo", &ti.bars),
            ("alpaca", &al.bars),
        ] {
            let diff = (0..got.len().max(want.len())).find(|&i| got.get(i) != want.get(i));
            assert!(
                diff.is_none(),
                "{s} {name}: {} bars, truth {}; first difference {:?} vs {:?}",
                got.len(),
                want.len(),
                diff.and_then(|i| got.get(i)),
                diff.and_then(|i| want.get(i)),
            );
        }
        assert_eq!(ti.actions, al.actions, "{s}: dividends and splits agree");
        sessions += want.len();
    }
    assert!(sessions >= 40 * 240);
    server.shutdown().await;
}

#[tokio::test]
async fn alpaca_follows_every_page_without_gap_or_duplicate() {
    let server = sim(SimConfig {
        alpaca_page_cap: Some(50),
        ..SimConfig::default()
    })
    .await;
    let p = alpaca(&server, "i", "s");
    let req = request(
        "MSFT",
        Interval::D1,
        "2023-01-01T00:00:00Z",
        "2025-01-01T00:00:00Z",
    );
    let want = server
        .market()
        .bars(&req.symbol, req.interval, req.range, server.now());
    assert_eq!(want.len(), 502);
    let got = p.fetch(&req).await.unwrap();
    assert_eq!(got.bars, want);
    // 502 bars in pages of 50: 11 pages for each of the two series, and one actions page.
    assert_eq!(server.stats().per_symbol["MSFT"], 11 + 11 + 1);

    // Intraday: five days of 1m bars (1,950) in pages of 50.
    server.reset();
    let req = request(
        "MSFT",
        Interval::M1,
        "2025-05-19T00:00:00Z",
        "2025-05-24T00:00:00Z",
    );
    let want = server
        .market()
        .bars(&req.symbol, req.interval, req.range, server.now());
    assert_eq!(want.len(), 5 * 390);
    assert_eq!(p.fetch(&req).await.unwrap().bars, want);
    assert_eq!(server.stats().per_symbol["MSFT"], 39 + 1);
    server.shutdown().await;
}

#[tokio::test]
async fn wrong_keys_are_unauthorized_and_never_echoed() {
    let server = sim(SimConfig {
        tiingo_key: Some("right-tiingo-key".into()),
        alpaca_keys: Some(("right-id".into(), "right-secret".into())),
        ..SimConfig::default()
    })
    .await;
    let req = request(
        "AAPL",
        Interval::D1,
        "2024-01-01T00:00:00Z",
        "2024-02-01T00:00:00Z",
    );
    let e = tiingo(&server, "wrong-tiingo-key")
        .fetch(&req)
        .await
        .unwrap_err();
    assert_eq!(e.kind.label(), "unauthorized");
    let text = format!("{e} {e:?}");
    assert!(
        text.contains("TIINGO_API_KEY") && !text.contains("wrong-tiingo-key"),
        "{text}"
    );
    let e = alpaca(&server, "right-id", "wrong-secret")
        .fetch(&req)
        .await
        .unwrap_err();
    let text = format!("{e} {e:?}");
    assert_eq!(e.kind.label(), "unauthorized");
    assert!(
        text.contains("APCA_API_SECRET_KEY") && !text.contains("wrong-secret"),
        "{text}"
    );
    assert!(
        tiingo(&server, "right-tiingo-key")
            .fetch(&req)
            .await
            .is_ok()
    );
    assert!(
        alpaca(&server, "right-id", "right-secret")
            .fetch(&req)
            .await
            .is_ok()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn tiingo_quota_answers_wait_until_the_next_hour() {
    let server = sim(SimConfig {
        tiingo_per_hour: Some(2),
        ..SimConfig::default()
    })
    .await;
    let p = tiingo(&server, "k");
    let req = request(
        "AAPL",
        Interval::D1,
        "2024-01-01T00:00:00Z",
        "2024-02-01T00:00:00Z",
    );
    assert!(p.fetch(&req).await.is_ok());
    assert!(p.fetch(&req).await.is_ok());
    let e = p.fetch(&req).await.unwrap_err();
    let ErrorKind::QuotaSpent {
        retry_after: wait, ..
    } = e.kind
    else {
        panic!("{e}");
    };
    let now = server.quota_now();
    let next_hour = (now.as_second() / 3600 + 1) * 3600;
    let expected = Duration::from_secs((next_hour - now.as_second()) as u64);
    assert!(
        expected
            .checked_sub(wait)
            .is_some_and(|d| d <= Duration::from_secs(2)),
        "{wait:?} vs {expected:?}"
    );
    server.shutdown().await;
}
