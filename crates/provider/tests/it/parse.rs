//! `parse_chart` on synthetic bodies: classification before parsing and the lenient row rules.

use backfill_domain::{ActionKind, Interval};
use backfill_provider::ErrorKind;
use backfill_provider::yahoo::parse_chart;
use jiff::civil::date;

use crate::{at, req, ts};

const JSON: Option<&str> = Some("application/json");

/// A one-result chart body. `extra` is spliced into `result[0]` (timestamps, indicators, events).
fn body(granularity: &str, tz: &str, extra: &str) -> String {
    format!(
        r#"{{"chart":{{"result":[{{"meta":{{"currency":"EUR","symbol":"AIR.PA","exchangeName":"PAR","fullExchangeName":"Paris","instrumentType":"EQUITY","firstTradeDate":946713600,"regularMarketTime":1704300000,"exchangeTimezoneName":"{tz}","dataGranularity":"{granularity}","tradingPeriods":{{"pre":[],"post":[]}}}}{extra}}}],"error":null}}}}"#
    )
}

fn day_req() -> backfill_provider::FetchRequest {
    req(
        "AIR.PA",
        Interval::D1,
        at("2024-01-01T00:00:00Z").as_second(),
        at("2024-01-10T00:00:00Z").as_second(),
    )
}

// 2024-01-02..05 08:00 Paris = 07:00Z.
const T: [i64; 4] = [1_704_178_800, 1_704_265_200, 1_704_351_600, 1_704_438_000];

#[test]
fn non_finite_strings_and_nulls() {
    let extra = format!(
        r#","timestamp":{T:?},"indicators":{{"quote":[{{"open":[1,"NaN",3,4],"high":[2,2,"Infinity",5],"low":[0.5,0.5,1,1],"close":[1.5,1.5,2,"-Infinity"],"volume":[10,null,30,40]}}],"adjclose":[{{"adjclose":["Infinity",1.4,1.9,3.9]}}]}}"#
    );
    let a = parse_chart(
        200,
        JSON,
        body("1d", "Europe/Paris", &extra).as_bytes(),
        &day_req(),
    )
    .unwrap();
    // Rows 1-3 each have a non-finite price: partial rows are dropped; row 0 keeps its bar with adj None.
    assert_eq!(a.bars.len(), 1);
    assert_eq!(a.bars[0].ts, ts(T[0]));
    assert_eq!(a.bars[0].date, date(2024, 1, 2));
    assert_eq!(a.bars[0].adj_close, None);
    assert_eq!(
        (a.bars[0].open, a.bars[0].close, a.bars[0].volume),
        (1.0, 1.5, 10)
    );
    assert_eq!(a.meta.timezone.as_deref(), Some("Europe/Paris"));
}

#[test]
fn null_volume_with_prices_becomes_zero_and_all_null_rows_vanish() {
    let extra = format!(
        r#","timestamp":{T:?},"indicators":{{"quote":[{{"volume":[null,null,5,7],"close":[1,null,3,4],"open":[1,null,3,4],"high":[1,null,3,4],"low":[1,null,3,4]}}]}}"#
    );
    let a = parse_chart(
        200,
        JSON,
        body("1d", "Europe/Paris", &extra).as_bytes(),
        &day_req(),
    )
    .unwrap();
    let got: Vec<(i64, i64)> = a
        .bars
        .iter()
        .map(|b| (b.ts.as_second(), b.volume))
        .collect();
    assert_eq!(got, [(T[0], 0), (T[2], 5), (T[3], 7)]);
    assert!(
        a.bars.iter().all(|b| b.adj_close.is_none()),
        "no adjclose array"
    );
}

#[test]
fn mismatched_array_lengths_are_malformed() {
    let extra = format!(
        r#","timestamp":{T:?},"indicators":{{"quote":[{{"open":[1,2,3],"high":[1,2,3,4],"low":[1,2,3,4],"close":[1,2,3,4],"volume":[1,2,3,4]}}]}}"#
    );
    let err = parse_chart(
        200,
        JSON,
        body("1d", "Europe/Paris", &extra).as_bytes(),
        &day_req(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        ErrorKind::Malformed {
            detail: "`open` has 3 values for 4 timestamps".into()
        }
    );

    let extra = format!(r#","timestamp":{T:?},"indicators":{{"quote":[{{}}]}}"#);
    let err = parse_chart(
        200,
        JSON,
        body("1d", "Europe/Paris", &extra).as_bytes(),
        &day_req(),
    )
    .unwrap_err();
    assert_eq!(err.label(), "malformed");
}

#[test]
fn empty_timestamp_array_form_is_an_empty_answer() {
    let extra = r#","timestamp":[],"indicators":{"quote":[{"open":[],"high":[],"low":[],"close":[],"volume":[]}],"adjclose":[{"adjclose":[]}]}"#;
    let a = parse_chart(
        200,
        JSON,
        body("1d", "Europe/Paris", extra).as_bytes(),
        &day_req(),
    )
    .unwrap();
    assert!(a.bars.is_empty());
    // No timestamp and no indicators at all is also an answered empty range.
    let a = parse_chart(
        200,
        JSON,
        body("1d", "Europe/Paris", "").as_bytes(),
        &day_req(),
    )
    .unwrap();
    assert!(a.bars.is_empty());
    assert_eq!(a.meta.currency.as_deref(), Some("EUR"));
}

#[test]
fn events_use_the_date_field_and_accept_float_or_ratio_splits() {
    let extra = format!(
        r#","timestamp":{T:?},"indicators":{{"quote":[{{"open":[1,1,1,1],"high":[1,1,1,1],"low":[1,1,1,1],"close":[1,1,1,1],"volume":[1,1,1,1]}}]}},"events":{{"splits":{{"1":{{"date":{d1},"numerator":4.0,"denominator":1.0,"splitRatio":"4:1"}},"2":{{"date":{d2},"splitRatio":"1:10"}},"3":{{"date":{d3},"numerator":0,"denominator":0}}}},"dividends":{{"9":{{"amount":0.5,"date":{d2},"currency":"USD"}},"8":{{"amount":0.25,"date":{d3},"currency":""}},"7":{{"amount":1,"date":{out}}}}}}}"#,
        d1 = T[0],
        d2 = T[1],
        d3 = T[2],
        out = at("2024-02-01T07:00:00Z").as_second()
    );
    let a = parse_chart(
        200,
        JSON,
        body("1d", "Europe/Paris", &extra).as_bytes(),
        &day_req(),
    )
    .unwrap();
    let kinds: Vec<(i64, ActionKind)> = a
        .actions
        .iter()
        .map(|x| (x.ts.as_second(), x.kind.clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            (
                T[0],
                ActionKind::Split {
                    numerator: 4.0,
                    denominator: 1.0
                }
            ),
            (
                T[1],
                ActionKind::Dividend {
                    amount: 0.5,
                    currency: Some("USD".into())
                }
            ),
            (
                T[1],
                ActionKind::Split {
                    numerator: 1.0,
                    denominator: 10.0
                }
            ),
            (
                T[2],
                ActionKind::Dividend {
                    amount: 0.25,
                    currency: None
                }
            ),
        ],
        "zero split dropped, out-of-range dividend dropped, empty currency is none"
    );
    assert_eq!(a.actions[0].date, date(2024, 1, 2));
}

#[test]
fn duplicate_timestamps_keep_the_first_and_dst_glitch_moves_to_next_day() {
    // 2022-01-03 23:00 local in Sao Paulo = 2022-01-04 02:00Z: Yahoo's glitch for the 2022-01-04 session.
    let glitch = at("2022-01-04T02:00:00Z").as_second();
    let normal = at("2022-01-05T13:00:00Z").as_second();
    let extra = format!(
        r#","timestamp":[{glitch},{normal},{normal}],"indicators":{{"quote":[{{"open":[1,2,3],"high":[1,2,3],"low":[1,2,3],"close":[1,2,3],"volume":[1,2,3]}}]}}"#
    );
    let r = req(
        "PETR4.SA",
        Interval::D1,
        at("2022-01-01T00:00:00Z").as_second(),
        at("2022-01-10T00:00:00Z").as_second(),
    );
    let a = parse_chart(
        200,
        JSON,
        body("1d", "America/Sao_Paulo", &extra).as_bytes(),
        &r,
    )
    .unwrap();
    assert_eq!(a.bars.len(), 2);
    assert_eq!(a.bars[0].date, date(2022, 1, 4));
    assert_eq!(a.bars[1].date, date(2022, 1, 5));
    assert_eq!(
        a.bars[1].open, 2.0,
        "the first of two equal timestamps wins"
    );
}

#[test]
fn unknown_timezone_falls_back_to_utc() {
    let extra = format!(
        r#","timestamp":[{t}],"indicators":{{"quote":[{{"open":[1],"high":[1],"low":[1],"close":[1],"volume":[1]}}]}}"#,
        t = at("2024-01-02T23:30:00Z").as_second()
    );
    let a = parse_chart(
        200,
        JSON,
        body("1d", "Mars/Olympus_Mons", &extra).as_bytes(),
        &day_req(),
    )
    .unwrap();
    assert_eq!(a.bars[0].date, date(2024, 1, 2));
}

#[test]
fn classification_before_parsing() {
    let r = day_req();
    let p = |status: u16, ct: Option<&str>, b: &str| {
        parse_chart(status, ct, b.as_bytes(), &r).unwrap_err()
    };
    let text = Some("text/plain");
    let html = Some("text/html");

    assert_eq!(
        p(429, text, "Too Many Requests\r\n"),
        ErrorKind::Throttled { retry_after: None }
    );
    assert_eq!(
        p(200, text, "Edge: Too Many Requests"),
        ErrorKind::Throttled { retry_after: None }
    );
    assert_eq!(
        p(200, text, "too many requests"),
        ErrorKind::Throttled { retry_after: None }
    );
    let err = p(
        200,
        html,
        "<html><body><h1>Will be right back...</h1></body></html>",
    );
    assert_eq!(err.label(), "transient");
    assert_eq!(
        p(503, html, "<html>Will be right back</html>").label(),
        "transient"
    );
    for s in [500, 502, 503, 504, 408] {
        assert_eq!(
            p(s, text, "oops"),
            ErrorKind::Transient {
                detail: format!("HTTP {s}")
            },
            "{s}"
        );
    }
    assert_eq!(
        p(200, html, "<!doctype html><html>hello</html>").label(),
        "malformed"
    );
    let consent = p(
        200,
        html,
        "<html><form action=\"https://consent.yahoo.com/v2/collectConsent\">",
    );
    assert!(
        matches!(&consent, ErrorKind::Malformed { detail } if detail.contains("consent")),
        "{consent:?}"
    );
    assert_eq!(p(200, JSON, "").label(), "transient");
    assert_eq!(
        p(200, JSON, r#"{"chart":{"result":[{"meta":{"curr"#).label(),
        "transient",
        "cut off"
    );
    assert_eq!(p(200, JSON, r#"{"chart": nope}"#).label(), "malformed");
    assert_eq!(
        p(
            422,
            JSON,
            r#"{"chart":{"result":null,"error":{"code":"Unprocessable Entity","description":"5m data not available for startTime=1 and endTime=2. The requested range must be within the last 60 days."}}}"#
        ),
        ErrorKind::OutOfWindow {
            detail: "HTTP 422: 5m data not available for startTime=1 and endTime=2. The requested range must be within the last 60 days.".into()
        }
    );
    // A 422 without Yahoo's description says what Yahoo keeps instead.
    assert!(
        matches!(&p(422, JSON, ""), ErrorKind::OutOfWindow { detail } if detail.contains("1m bars for 30 days")),
        "{:?}",
        p(422, JSON, "")
    );
    assert_eq!(
        p(
            401,
            JSON,
            r#"{"finance":{"result":null,"error":{"code":"Unauthorized","description":"Invalid Crumb"}}}"#
        ),
        ErrorKind::Unauthorized {
            detail: "HTTP 401: Invalid Crumb".into()
        }
    );
    assert_eq!(p(404, text, "").label(), "bad_endpoint");
    assert_eq!(
        p(404, Some("text/html"), "<html>nginx</html>").label(),
        "bad_endpoint"
    );
    assert_eq!(
        p(404, JSON, r#"{"detail":"no route"}"#).label(),
        "bad_endpoint"
    );
    assert_eq!(p(400, JSON, r#"{"chart":{"result":null,"error":{"code":"Bad Request","description":"Invalid input"}}}"#).label(), "malformed");
    assert_eq!(
        p(200, JSON, r#"{"chart":{"result":[],"error":null}}"#).label(),
        "not_found"
    );
    assert_eq!(
        p(200, JSON, r#"{"chart":{"result":null,"error":null}}"#).label(),
        "not_found"
    );
    assert_eq!(p(200, JSON, r#"{"something":1}"#).label(), "malformed");
}

#[test]
fn wrong_granularity_is_malformed() {
    let err = parse_chart(
        200,
        JSON,
        body("1wk", "Europe/Paris", "").as_bytes(),
        &day_req(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        ErrorKind::Malformed {
            detail: "asked for `1d` bars, got dataGranularity `1wk`".into()
        }
    );
}
