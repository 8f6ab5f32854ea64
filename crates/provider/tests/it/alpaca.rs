//! Every body in `fixtures/alpaca` parsed to exact values, plus a synthetic 429 (none recorded).

use std::time::Duration;

use backfill_domain::{ActionKind, Interval};
use backfill_provider::ErrorKind;
use backfill_provider::alpaca::{
    CorporateAction, RawBar, build_answer, classify, parse_actions, parse_bars,
};
use jiff::civil::date;

use crate::{at, request};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../fixtures/alpaca/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {path}: {e}"))
}

fn ohlcv(b: &RawBar) -> (f64, f64, f64, f64, f64) {
    (b.o, b.h, b.l, b.c, b.v)
}

#[test]
fn aapl_daily_page_with_a_token() {
    let body = fixture("bars_AAPL_1Day_2022-02-01_limit2_with_next_page_token.pretty.json");
    let page = parse_bars(&body, "AAPL").unwrap();
    assert_eq!(
        page.next_page_token.as_deref(),
        Some("QUFQTHxEfDIwMjItMDItMDJUMDU6MDA6MDAuMDAwMDAwMDAwWg==")
    );
    assert_eq!(page.bars.len(), 2);
    assert_eq!(page.bars[0].t, at("2022-02-01T05:00:00Z"));
    assert_eq!(
        ohlcv(&page.bars[0]),
        (174.0, 174.84, 172.31, 174.61, 85_998_033.0)
    );
    // In the store: the NYSE session open of 2022-02-01, as Yahoo stamps daily bars.
    let req = request(
        "AAPL",
        Interval::D1,
        "2022-02-01T00:00:00Z",
        "2022-02-03T00:00:00Z",
    );
    let a = build_answer(&req, &page.bars, &[], &[]);
    assert_eq!(a.bars.len(), 2);
    assert_eq!(
        (a.bars[0].ts, a.bars[0].date),
        (at("2022-02-01T14:30:00Z"), date(2022, 2, 1))
    );
    assert_eq!((a.bars[1].close, a.bars[1].volume), (175.84, 84_817_432));
    assert_eq!(
        a.bars[0].adj_close, None,
        "no dividend-adjusted series given"
    );
}

#[test]
fn meta_pages_join_without_gap_or_duplicate() {
    let p1 = parse_bars(
        &fixture("bars_META_1Day_2022-06-08_asof_page1_limit2.json"),
        "META",
    )
    .unwrap();
    let p2 = parse_bars(
        &fixture("bars_META_1Day_2022-06-08_asof_page2_limit2.json"),
        "META",
    )
    .unwrap();
    assert_eq!(
        p1.next_page_token.as_deref(),
        Some("TUVUQXxEfDIwMjItMDYtMDlUMDQ6MDA6MDAuMDAwMDAwMDAwWg==")
    );
    assert_eq!(
        p2.next_page_token.as_deref(),
        Some("TUVUQXxEfDIwMjItMDYtMTNUMDQ6MDA6MDAuMDAwMDAwMDAwWg==")
    );
    let all: Vec<RawBar> = p1.bars.into_iter().chain(p2.bars).collect();
    let req = request(
        "META",
        Interval::D1,
        "2022-06-08T00:00:00Z",
        "2022-06-14T00:00:00Z",
    );
    let a = build_answer(&req, &all, &[], &[]);
    let days: Vec<_> = a.bars.iter().map(|b| b.date.day()).collect();
    assert_eq!(
        days,
        [8, 9, 10, 13],
        "the weekend of 11-12 June has no bars"
    );
    assert_eq!((a.bars[1].close, a.bars[1].volume), (184.0, 23_458_984));
    assert_eq!(a.bars[3].open, 170.59);
}

#[test]
fn amzn_intraday_keeps_utc_bar_starts() {
    let body = fixture("bars_AMZN_15Min_2021-10-15_adjustment-split_feed-sip.json");
    let page = parse_bars(&body, "AMZN").unwrap();
    assert_eq!(page.next_page_token, None);
    let req = request(
        "AMZN",
        Interval::M15,
        "2021-10-15T16:00:00Z",
        "2021-10-15T17:15:00Z",
    );
    let a = build_answer(&req, &page.bars, &[], &[]);
    let stamps: Vec<_> = a.bars.iter().map(|b| b.ts).collect();
    assert_eq!(
        stamps,
        [
            at("2021-10-15T16:00:00Z"),
            at("2021-10-15T16:15:00Z"),
            at("2021-10-15T16:30:00Z"),
            at("2021-10-15T16:45:00Z"),
            at("2021-10-15T17:00:00Z")
        ]
    );
    let b = a.bars[1];
    assert_eq!(
        (b.open, b.high, b.low, b.close, b.volume, b.adj_close),
        (3379.5241, 3383.24, 3376.49, 3377.82, 115_850, None)
    );
    // The window's end is exclusive: [16:00, 17:00) drops the 17:00 bar.
    let req = request(
        "AMZN",
        Interval::M15,
        "2021-10-15T16:00:00Z",
        "2021-10-15T17:00:00Z",
    );
    assert_eq!(build_answer(&req, &page.bars, &[], &[]).bars.len(), 4);
}

#[test]
fn extended_hours_bars_are_left_out() {
    let body = fixture("latestbar_multi_AAPL_NIO.json");
    let page = parse_bars(&body, "NIO").unwrap();
    assert_eq!(page.bars.len(), 1);
    assert_eq!(page.bars[0].t, at("2021-10-11T23:59:00Z"));
    assert_eq!(ohlcv(&page.bars[0]), (35.57, 35.6, 35.56, 35.6, 1288.0));
    let aapl = parse_bars(&body, "AAPL").unwrap();
    assert_eq!(aapl.bars[0].c, 142.59);
    // 19:59 New York is after the close: not a regular-hours 1m bar.
    let req = request(
        "NIO",
        Interval::M1,
        "2021-10-11T00:00:00Z",
        "2021-10-12T00:00:00Z",
    );
    assert!(build_answer(&req, &page.bars, &[], &[]).bars.is_empty());
}

#[test]
fn multi_symbol_maps_and_descending_pages() {
    let body = fixture("multibars_AAPL_NIO_1Day_2021-10-13_2021-10-17.json");
    let nio = parse_bars(&body, "NIO").unwrap();
    let aapl = parse_bars(&body, "AAPL").unwrap();
    assert_eq!((nio.bars.len(), aapl.bars.len()), (3, 3));
    assert_eq!(nio.bars[0].t, at("2021-10-13T04:00:00Z"));
    assert_eq!(
        ohlcv(&nio.bars[0]),
        (35.75, 36.68, 35.47, 36.24, 33_394_068.0)
    );
    assert!(parse_bars(&body, "TSLA").unwrap().bars.is_empty());

    let body = fixture("multibars_AAPL_TSLA_1Day_2022-02-01_2022-03-09.pretty.json");
    let tsla = parse_bars(&body, "TSLA").unwrap();
    assert_eq!(tsla.next_page_token, None);
    assert_eq!(
        ohlcv(&tsla.bars[0]),
        (839.0, 860.56, 832.01, 858.97, 19_227_323.0)
    );

    let body = fixture("bars_TSLA_1Day_2023-09-01_2023-09-27_sort-desc_limit3.pretty.json");
    let desc = parse_bars(&body, "TSLA").unwrap();
    let req = request(
        "TSLA",
        Interval::D1,
        "2023-09-25T00:00:00Z",
        "2023-09-28T00:00:00Z",
    );
    let a = build_answer(&req, &desc.bars, &[], &[]);
    let got: Vec<_> = a.bars.iter().map(|b| (b.date.day(), b.close)).collect();
    assert_eq!(
        got,
        [(25, 246.99), (26, 244.12), (27, 240.5)],
        "sorted ascending"
    );
}

#[test]
fn split_and_dividend_adjusted_series_gives_adj_close() {
    let body = fixture("bars_GE_1Day_2024-04-01_adjustment-dividend+spin-off.json");
    let adjusted = parse_bars(&body, "GE").unwrap();
    assert_eq!(
        adjusted.next_page_token.as_deref(),
        Some("R0V8RHwxNzEyMTE2ODAwMDAwMDAwMDAw")
    );
    assert_eq!(
        ohlcv(&adjusted.bars[1]),
        (138.96, 142.9, 132.49, 134.94, 20_490_401.0)
    );
    // As the second series of a fetch: its closes become adj_close of the same bars.
    let req = request(
        "GE",
        Interval::D1,
        "2024-04-01T00:00:00Z",
        "2024-04-03T00:00:00Z",
    );
    let a = build_answer(&req, &adjusted.bars, &adjusted.bars, &[]);
    assert_eq!(a.bars[0].adj_close, Some(138.29));
    assert_eq!(a.bars[1].adj_close, Some(134.94));
}

#[test]
fn single_symbol_shape_sip_and_iex() {
    let sip = parse_bars(
        &fixture("docs_faq_bars_AAPL_1Day_2023-09-29_feed-sip_limit1.jq.json"),
        "AAPL",
    )
    .unwrap();
    let iex = parse_bars(
        &fixture("docs_faq_bars_AAPL_1Day_2023-09-29_feed-iex_limit1.jq.json"),
        "AAPL",
    )
    .unwrap();
    assert_eq!(
        ohlcv(&sip.bars[0]),
        (172.02, 173.07, 170.341, 171.21, 51_861_083.0)
    );
    assert_eq!(
        ohlcv(&iex.bars[0]),
        (172.015, 173.06, 170.36, 171.29, 923_134.0)
    );
    assert_eq!(
        sip.next_page_token.as_deref(),
        Some("QUFQTHxEfDIwMjMtMDktMjlUMDQ6MDA6MDAuMDAwMDAwMDAwWg==")
    );
    assert_eq!(iex.next_page_token, None);
    let req = request(
        "AAPL",
        Interval::D1,
        "2023-09-29T00:00:00Z",
        "2023-09-30T00:00:00Z",
    );
    let a = build_answer(&req, &sip.bars, &[], &[]);
    assert_eq!(
        (a.bars[0].ts, a.bars[0].date),
        (at("2023-09-29T13:30:00Z"), date(2023, 9, 29))
    );
}

#[test]
fn empty_range_is_an_empty_answer() {
    let page = parse_bars(&fixture("bars_empty_range_AAPL_1Day.pretty.json"), "AAPL").unwrap();
    assert_eq!(page, backfill_provider::alpaca::BarPage::default());
    // The single-symbol shape with null bars (third-party mocks) is empty too.
    let page = parse_bars(br#"{"bars":null,"symbol":"X","next_page_token":null}"#, "X").unwrap();
    assert!(page.bars.is_empty());
}

#[test]
fn errors_are_classified_with_alpacas_message() {
    let e = classify(
        422,
        &fixture("error_422_invalid_timeframe.issue178.json"),
        None,
    )
    .unwrap_err();
    assert_eq!(
        e,
        ErrorKind::Malformed {
            detail: "HTTP 422: invalid timeframe (code 42210000)".into()
        }
    );
    let e = classify(
        403,
        &fixture("error_403_forbidden.trading-host.issue228.json"),
        None,
    )
    .unwrap_err();
    assert_eq!(
        e,
        ErrorKind::Unauthorized {
            detail: "HTTP 403: forbidden.".into()
        }
    );
    // Synthetic (no recording; the message as spec §8 quotes it): the free plan's refusal of the
    // last 15 minutes of SIP is not a refused key.
    let e = classify(
        403,
        br#"{"message":"subscription does not permit querying recent SIP data"}"#,
        None,
    )
    .unwrap_err();
    assert_eq!(e.label(), "out_of_window", "{e}");
    assert!(e.to_string().contains("15 minutes"), "{e}");
    let e = classify(400, br#"{"message":"invalid symbol: CSP1"}"#, None).unwrap_err();
    assert_eq!(e.label(), "not_found");
    assert!(
        classify(502, b"<html>bad gateway</html>", None)
            .unwrap_err()
            .is_retryable()
    );
}

/// Synthetic: Alpaca's 429 body was never recorded; the Go SDK's tests mock it as plain text.
#[test]
fn synthetic_429_is_throttled_with_the_servers_wait() {
    let e = classify(429, b"too many requests", Some(Duration::from_mins(1))).unwrap_err();
    assert_eq!(
        e,
        ErrorKind::Throttled {
            retry_after: Some(Duration::from_mins(1))
        }
    );
    assert_eq!(
        classify(429, b"", None).unwrap_err(),
        ErrorKind::Throttled { retry_after: None }
    );
}

#[test]
fn corporate_actions_splits_and_dividends() {
    let (acts, next) = parse_actions(&fixture(
        "corporate_actions_2024-03-10_2024-03-14_splits+namechanges+mergers.json",
    ))
    .unwrap();
    assert_eq!(next, None);
    assert_eq!(
        acts,
        [
            CorporateAction::Split {
                symbol: "FBL".into(),
                ex_date: date(2024, 3, 13),
                new_rate: 5.0,
                old_rate: 1.0
            },
            CorporateAction::Split {
                symbol: "NVDL".into(),
                ex_date: date(2024, 3, 13),
                new_rate: 6.0,
                old_rate: 1.0
            },
        ]
    );

    let (p1, next) = parse_actions(&fixture(
        "corporate_actions_all_types_page1.sanitized.pretty.json",
    ))
    .unwrap();
    assert_eq!(
        next.as_deref(),
        Some("MDA3Q1ZSMDIwfDIwMjQtMDItMTV8NjBiZjkxYzItMDc0Ni00ZDliLThjOWUtYTgwYmIzMDhmZDkx")
    );
    assert_eq!(
        p1,
        [
            CorporateAction::Split {
                symbol: "SRE".into(),
                ex_date: date(2023, 8, 22),
                new_rate: 2.0,
                old_rate: 1.0
            },
            CorporateAction::Split {
                symbol: "MNTS".into(),
                ex_date: date(2023, 8, 24),
                new_rate: 1.0,
                old_rate: 50.0
            },
            CorporateAction::Dividend {
                symbol: "FCF".into(),
                ex_date: date(2023, 5, 4),
                rate: 0.125
            },
        ]
    );
    let (p2, next) = parse_actions(&fixture(
        "corporate_actions_all_types_page2.sanitized.pretty.json",
    ))
    .unwrap();
    assert_eq!(next, None);
    assert_eq!(
        p2,
        [CorporateAction::Dividend {
            symbol: "ZMTBY".into(),
            ex_date: date(2024, 8, 7),
            rate: 0.086_928
        }]
    );
}

#[test]
fn reverse_split_snippet_and_dividends_on_todays_basis() {
    // The forum snippet is one element of `reverse_splits`; wrapped as a page it parses as such.
    let snippet = String::from_utf8(fixture(
        "corporate_action_reverse_split_LSB_2024-10-04.forum-snippet.json",
    ))
    .unwrap();
    let body = format!(
        r#"{{"corporate_actions":{{"reverse_splits":[{snippet}]}},"next_page_token":null}}"#
    );
    let (mut acts, _) = parse_actions(body.as_bytes()).unwrap();
    assert_eq!(
        acts,
        [CorporateAction::Split {
            symbol: "LSB".into(),
            ex_date: date(2024, 10, 4),
            new_rate: 1.0,
            old_rate: 10.0
        }]
    );
    // Synthetic: a 0.05 dividend before that 1:10 split is 0.5 on today's basis.
    acts.push(CorporateAction::Dividend {
        symbol: "LSB".into(),
        ex_date: date(2024, 9, 3),
        rate: 0.05,
    });
    let req = request(
        "LSB",
        Interval::D1,
        "2024-09-01T00:00:00Z",
        "2024-10-05T00:00:00Z",
    );
    let a = build_answer(&req, &[], &[], &acts);
    let got: Vec<_> = a
        .actions
        .iter()
        .map(|x| (x.date, x.ts, x.kind.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (
                date(2024, 9, 3),
                at("2024-09-03T13:30:00Z"),
                ActionKind::Dividend {
                    amount: 0.5,
                    currency: None
                }
            ),
            (
                date(2024, 10, 4),
                at("2024-10-04T13:30:00Z"),
                ActionKind::Split {
                    numerator: 1.0,
                    denominator: 10.0
                }
            ),
        ]
    );
}
