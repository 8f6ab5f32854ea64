//! Every recorded Tiingo body (`fixtures/tiingo`) parsed to exact values, plus the cases nobody has
//! recorded, built by hand and labelled synthetic (a split row, 404, 401, 429, an empty range).

use std::time::Duration;

use backfill_domain::{ActionKind, Interval, Symbol, TimeRange};
use backfill_provider::tiingo::{build_answer, classify};
use backfill_provider::{Answer, ErrorKind, FetchRequest};
use jiff::Timestamp;
use jiff::civil::date;

use crate::at;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../fixtures/tiingo/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {path}: {e}"))
}

fn daily(symbol: &str, from: &str, to: &str) -> FetchRequest {
    FetchRequest::new(
        Symbol::parse(symbol).unwrap(),
        Interval::D1,
        TimeRange::new(at(from), at(to)).unwrap(),
    )
}

const NOW: &str = "2026-12-02T10:20:00Z";

fn answer(body: &[u8], req: &FetchRequest) -> Answer {
    let rows = classify(200, body, at(NOW)).unwrap();
    let a = build_answer(&rows, req).unwrap();
    assert!(a.bars.windows(2).all(|w| w[0].ts < w[1].ts));
    assert!(a.bars.iter().all(|b| req.range.contains(b.ts)));
    assert_eq!(a.meta.symbol.as_ref(), Some(&req.symbol));
    a
}

#[test]
fn googl_2015_json_and_csv_are_the_same_bars() {
    let req = daily("GOOGL", "2015-01-01T00:00:00Z", "2015-01-06T00:00:00Z");
    let json = answer(&fixture("eod_GOOGL_2015-01-01_2015-01-05_daily.json"), &req);
    let csv = answer(&fixture("eod_GOOGL_2015-01-01_2015-01-05_daily.csv"), &req);
    assert_eq!(json, csv);
    assert_eq!(json.bars.len(), 2);
    let b = json.bars[0];
    // The trading date becomes the NYSE session open, as Yahoo stamps daily bars.
    assert_eq!(b.ts, at("2015-01-02T14:30:00Z"));
    assert_eq!(b.date, date(2015, 1, 2));
    assert_eq!(
        (b.open, b.high, b.low, b.close, b.adj_close, b.volume),
        (532.6, 535.8, 527.88, 529.55, Some(529.55), 1_327_870)
    );
    let b = json.bars[1];
    assert_eq!(b.date, date(2015, 1, 5));
    assert_eq!(
        (b.open, b.high, b.low, b.close, b.volume),
        (527.15, 527.9899, 517.75, 519.46, 2_059_119)
    );
    assert!(json.actions.is_empty());
}

#[test]
fn googl_2018_skips_mlk_day_and_csv_agrees() {
    let req = daily("GOOGL", "2018-01-05T00:00:00Z", "2018-01-20T00:00:00Z");
    let json = answer(&fixture("eod_GOOGL_2018-01-05_2018-01-19_daily.json"), &req);
    let csv = answer(&fixture("eod_GOOGL_2018-01-05_2018-01-19_daily.csv"), &req);
    assert_eq!(json, csv);
    let dates: Vec<_> = json.bars.iter().map(|b| b.date.day()).collect();
    assert_eq!(dates, [5, 8, 9, 10, 11, 12, 16, 17, 18, 19]);
    let b = json.bars[0];
    assert_eq!(
        (b.open, b.high, b.low, b.close, b.volume),
        (1103.45, 1113.58, 1101.8, 1110.29, 1_493_389)
    );
    // Clipping: a window that starts on 2018-01-16 keeps the last four rows.
    let req = daily("GOOGL", "2018-01-16T00:00:00Z", "2018-01-20T00:00:00Z");
    let a = answer(&fixture("eod_GOOGL_2018-01-05_2018-01-19_daily.json"), &req);
    assert_eq!(a.bars.len(), 4);
    assert_eq!(a.bars[..], json.bars[6..]);
}

#[test]
fn latest_bar_with_offset_dates_and_sorted_keys() {
    let req = daily("GOOGL", "2018-04-12T00:00:00Z", "2018-04-13T00:00:00Z");
    let a = answer(&fixture("eod_GOOGL_latest_no_dates.json"), &req);
    assert_eq!(a.bars.len(), 1);
    let b = a.bars[0];
    assert_eq!(
        (b.ts, b.date),
        (at("2018-04-12T13:30:00Z"), date(2018, 4, 12))
    );
    assert_eq!(
        (b.open, b.high, b.low, b.close, b.adj_close, b.volume),
        (1031.47, 1044.65, 1026.05, 1037.29, Some(1037.29), 1_644_794)
    );
}

#[test]
fn aapl_2023_dividends_and_adjusted_close() {
    let req = daily("AAPL", "2023-01-01T00:00:00Z", "2023-06-07T00:00:00Z");
    let a = answer(
        &fixture("eod_AAPL_2023-01-01_2023-06-06_daily_with_dividends.json"),
        &req,
    );
    assert_eq!(a.bars.len(), 107);
    let first = a.bars[0];
    assert_eq!(first.date, date(2023, 1, 3));
    // Raw prices stay as sent (no split after them), adj_close is Tiingo's split+dividend value.
    assert_eq!(
        (first.open, first.close, first.adj_close, first.volume),
        (130.28, 125.07, Some(124.378_105_644), 112_117_471)
    );
    let last = a.bars[106];
    assert_eq!(
        (last.date, last.open, last.close, last.adj_close),
        (date(2023, 6, 6), 179.965, 179.21, Some(178.738_274_139_9))
    );
    let divs: Vec<_> = a
        .actions
        .iter()
        .map(|x| (x.date, x.ts, x.kind.clone()))
        .collect();
    let cash = |amount| ActionKind::Dividend {
        amount,
        currency: None,
    };
    assert_eq!(
        divs,
        [
            (date(2023, 2, 10), at("2023-02-10T14:30:00Z"), cash(0.23)),
            (date(2023, 5, 12), at("2023-05-12T13:30:00Z"), cash(0.24)),
        ]
    );
}

#[test]
fn aapl_weekly_rows_keep_their_adjusted_closes() {
    let rows = classify(
        200,
        &fixture("eod_AAPL_2018-01-05_2018-01-19_weekly_divadjusted.json"),
        at(NOW),
    )
    .unwrap();
    let got: Vec<_> = rows
        .iter()
        .map(|r| (&r.date[..10], r.close, r.adj_close))
        .collect();
    assert_eq!(
        got,
        [
            ("2018-01-05", Some(175.0), Some(173.625_873_171_6)),
            ("2018-01-12", Some(177.09), Some(175.699_462_171_1)),
            ("2018-01-19", Some(179.26), Some(177.852_422_998_5)),
        ]
    );
}

#[test]
fn iex_intraday_rows_have_no_volume() {
    let rows = classify(200, &fixture("iex_GOOGL_2018-01-02_30min.json"), at(NOW)).unwrap();
    assert_eq!(rows.len(), 13);
    assert_eq!(rows[0].date, "2018-01-02T14:30:00.000Z");
    assert_eq!(
        (rows[0].open, rows[0].high, rows[0].low, rows[0].close),
        (Some(1057.47), Some(1061.91), Some(1054.17), Some(1061.91))
    );
    assert!(rows.iter().all(|r| r.volume.is_none()));
    assert_eq!(rows[12].date, "2018-01-02T20:30:00.000Z");
}

#[test]
fn permission_error_is_unauthorized_with_tiingos_words() {
    let e = classify(
        403,
        &fixture("error_403_permission_news_bulk.json"),
        at(NOW),
    )
    .unwrap_err();
    assert_eq!(
        e,
        ErrorKind::Unauthorized {
            detail: "Tiingo answered HTTP 403: You do not have permission to access the News API"
                .into()
        }
    );
    assert!(!e.is_retryable());
}

/// Synthetic: no recording of a split row exists. AAPL's 4:1 split of 2020-08-31 with its real raw
/// closes, and the 0.82 dividend of 2020-08-07 (0.205 on today's basis).
#[test]
fn synthetic_split_row_rebases_earlier_rows() {
    let body = br#"[
{"date":"2020-08-07T00:00:00.000Z","open":452.82,"high":454.7,"low":441.17,"close":444.45,"volume":49511403,"adjClose":109.3754,"adjVolume":198045612,"divCash":0.82,"splitFactor":1.0},
{"date":"2020-08-28T00:00:00.000Z","open":504.05,"high":505.77,"low":498.31,"close":499.23,"volume":46907479,"adjClose":122.8561,"adjVolume":187629916,"divCash":0.0,"splitFactor":1.0},
{"date":"2020-08-31T00:00:00.000Z","open":127.58,"high":131.0,"low":126.0,"close":129.04,"volume":225702700,"adjClose":127.5566,"adjVolume":225702700,"divCash":0.0,"splitFactor":4.0},
{"date":"2020-09-01T00:00:00.000Z","open":132.76,"high":134.8,"low":130.53,"close":134.18,"volume":151948100,"adjClose":132.6376,"adjVolume":151948100,"divCash":0.0,"splitFactor":1.0}]"#;
    let req = daily("AAPL", "2020-08-01T00:00:00Z", "2020-09-02T00:00:00Z");
    let a = answer(body, &req);
    let closes: Vec<_> = a.bars.iter().map(|b| (b.close, b.volume)).collect();
    assert_eq!(
        closes,
        [
            (111.1125, 198_045_612),
            (124.8075, 187_629_916),
            (129.04, 225_702_700),
            (134.18, 151_948_100)
        ]
    );
    assert_eq!(a.bars[1].open, 126.0125);
    assert_eq!(a.bars[1].adj_close, Some(122.8561));
    let acts: Vec<_> = a.actions.iter().map(|x| (x.date, x.kind.clone())).collect();
    assert_eq!(
        acts,
        [
            (
                date(2020, 8, 7),
                ActionKind::Dividend {
                    amount: 0.205,
                    currency: None
                }
            ),
            (
                date(2020, 8, 31),
                ActionKind::Split {
                    numerator: 4.0,
                    denominator: 1.0
                }
            ),
        ]
    );
    // A window before the split still divides by it: the answer ran past the window.
    let req = daily("AAPL", "2020-08-28T00:00:00Z", "2020-08-29T00:00:00Z");
    let a = answer(body, &req);
    assert_eq!(a.bars.len(), 1);
    assert_eq!(a.bars[0].close, 124.8075);
    assert!(a.actions.is_empty());
}

/// Synthetic: the quota body as three projects quote it (spec §6); no `Retry-After` is sent.
#[test]
fn synthetic_429_waits_for_the_next_hour() {
    let body = br#"{"detail":"Error: You have run over your hourly request allocation. Please upgrade at https://api.tiingo.com/pricing to have your limits increased."}"#;
    let e = classify(429, body, at("2026-12-02T10:20:00Z")).unwrap_err();
    let ErrorKind::QuotaSpent {
        retry_after,
        detail,
    } = &e
    else {
        panic!("{e}");
    };
    assert_eq!(*retry_after, Duration::from_mins(40));
    assert!(detail.contains("hourly request allocation"), "{detail}");
    assert!(e.is_retryable());
    let daily_body = br#"{"detail":"Error: You have run over your daily request allocation."}"#;
    let e = classify(429, daily_body, at("2026-12-02T23:30:00Z")).unwrap_err();
    assert_eq!(e.retry_after(), Some(Duration::from_mins(30)));
}

/// Synthetic: the 404 and 401 bodies as documented (spec §7), and an empty range.
#[test]
fn synthetic_not_found_bad_key_and_empty_range() {
    let now: Timestamp = at(NOW);
    let e = classify(404, br#"{"detail":"Error: Ticker 'ZZTOP' not found"}"#, now).unwrap_err();
    assert_eq!(
        e,
        ErrorKind::NotFound {
            detail: "HTTP 404: Error: Ticker 'ZZTOP' not found".into()
        }
    );
    let e = classify(401, br#"{"detail":"Invalid token."}"#, now).unwrap_err();
    assert_eq!(e.label(), "unauthorized");
    let e = classify(503, b"<html>Service Unavailable</html>", now).unwrap_err();
    assert!(e.is_retryable());
    let req = daily("GOOGL", "2015-01-01T00:00:00Z", "2015-01-02T00:00:00Z");
    let a = answer(b"[]", &req);
    assert!(a.bars.is_empty() && a.actions.is_empty());
}
