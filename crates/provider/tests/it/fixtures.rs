//! One test per recorded Yahoo body (`fixtures/yahoo`), with the request windows of its README.

use backfill_domain::{ActionKind, Interval};
use backfill_provider::yahoo::parse_chart;
use backfill_provider::{Answer, ErrorKind, FetchRequest};
use jiff::civil::date;

use crate::{at, req, ts};

const JSON: Option<&str> = Some("application/json;charset=utf-8");

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../../fixtures/yahoo/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {path}: {e}"))
}

fn parse_ok(name: &str, r: &FetchRequest) -> Answer {
    let a = parse_chart(200, JSON, &fixture(name), r).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(
        a.bars.windows(2).all(|w| w[0].ts < w[1].ts),
        "{name}: sorted and unique"
    );
    assert!(
        a.bars.iter().all(|b| r.range.contains(b.ts)),
        "{name}: inside the range"
    );
    a
}

/// The value at `index` of `indicators.quote[0].<field>` in the raw body, as ground truth.
fn raw_quote(name: &str, field: &str, index: usize) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_slice(&fixture(name)).unwrap();
    v["chart"]["result"][0]["indicators"]["quote"][0][field][index].clone()
}

#[test]
fn aapl_daily_split_and_dividend() {
    let name = "AAPL_1d_2020-08-31_2020-11-07_split_dividend.json";
    let a = parse_ok(
        name,
        &req("AAPL", Interval::D1, 1_598_832_000, 1_604_707_200),
    );
    assert_eq!(a.bars.len(), 49);
    let first = a.bars[0];
    assert_eq!(first.ts, ts(1_598_880_600));
    assert_eq!(first.date, date(2020, 8, 31));
    assert_eq!(first.open, 127.580_001_831_054_69);
    assert_eq!(first.close, 129.039_993_286_132_8);
    assert_eq!(first.adj_close, Some(125.826_736_450_195_31));
    assert_eq!(first.volume, 225_702_700);
    let last = a.bars.last().unwrap();
    assert_eq!(last.ts, ts(1_604_673_000));
    assert_eq!(last.date, date(2020, 11, 6));
    assert_eq!(
        last.ts,
        at("2020-11-06T14:30:00Z"),
        "EST open after the DST change"
    );
    assert_eq!(last.volume, 114_457_900);

    assert_eq!(a.actions.len(), 2);
    let split = &a.actions[0];
    assert_eq!(split.date, date(2020, 8, 31));
    assert_eq!(split.ts, at("2020-08-31T13:30:00Z"));
    assert_eq!(
        split.kind,
        ActionKind::Split {
            numerator: 4.0,
            denominator: 1.0
        }
    );
    assert_eq!(split.split_ratio(), Some(4.0));
    let div = &a.actions[1];
    assert_eq!(div.date, date(2020, 11, 6));
    assert_eq!(
        div.kind,
        ActionKind::Dividend {
            amount: 0.205,
            currency: None
        }
    );

    assert_eq!(a.meta.currency.as_deref(), Some("USD"));
    assert_eq!(a.meta.exchange_name.as_deref(), Some("NMS"));
    assert_eq!(a.meta.full_exchange_name.as_deref(), Some("NasdaqGS"));
    assert_eq!(a.meta.instrument_type.as_deref(), Some("EQUITY"));
    assert_eq!(a.meta.timezone.as_deref(), Some("America/New_York"));
    assert_eq!(a.meta.first_trade, Some(ts(345_479_400)));
    assert_eq!(
        a.meta.symbol.as_ref().map(backfill_domain::Symbol::as_str),
        Some("AAPL")
    );
}

#[test]
fn aapl_daily_split_outside_a_narrower_window_is_clipped() {
    let name = "AAPL_1d_2020-08-31_2020-11-07_split_dividend.json";
    // From 2020-09-01 00:00Z: the 08-31 bar and split drop out; the dividend stays.
    let a = parse_ok(
        name,
        &req("AAPL", Interval::D1, 1_598_918_400, 1_604_707_200),
    );
    assert_eq!(a.bars.len(), 48);
    assert_eq!(a.actions.len(), 1);
    assert_eq!(a.actions[0].kind.name(), "dividend");
}

#[test]
fn aapl_1m_drops_the_all_null_row_and_the_trailing_row() {
    let name = "AAPL_1m_2024-10-02_intraday.json";
    let a = parse_ok(
        name,
        &req("AAPL", Interval::M1, 1_727_827_200, 1_727_913_600),
    );
    // 391 rows: one all-null (row 105, 14:15Z) and one after period2 (2024-10-03 20:00Z) are dropped.
    assert_eq!(a.bars.len(), 389);
    assert_eq!(a.bars[0].ts, at("2024-10-02T13:30:00Z"));
    assert_eq!(a.bars[0].open, 225.889_999_389_648_44);
    assert_eq!(a.bars[0].volume, 1_205_461);
    assert_eq!(a.bars[0].adj_close, None);
    let last = a.bars.last().unwrap();
    assert_eq!(last.ts, ts(1_727_899_140));
    assert_eq!(last.close, 226.809_997_558_593_75);
    assert!(
        a.bars.iter().all(|b| b.ts != ts(1_727_882_100)),
        "row 105 is all-null"
    );
    assert!(
        a.bars.iter().any(|b| b.ts == ts(1_727_882_040)),
        "its neighbour is kept"
    );
    assert!(a.bars.iter().all(|b| b.date == date(2024, 10, 2)));
    assert!(a.actions.is_empty());
}

#[test]
fn aapl_1m_weekend_is_an_answered_empty_range() {
    let a = parse_ok(
        "AAPL_1m_weekend_empty.json",
        &req("AAPL", Interval::M1, 1_738_368_000, 1_738_454_400),
    );
    assert!(a.bars.is_empty());
    assert!(a.actions.is_empty());
    assert_eq!(a.meta.exchange_name.as_deref(), Some("NMS"));
}

#[test]
fn btc_drops_the_bar_at_period2() {
    let a = parse_ok(
        "BTC-USD_1d_2020-01-01_2020-01-03.json",
        &req("BTC-USD", Interval::D1, 1_577_836_800, 1_578_009_600),
    );
    assert_eq!(a.bars.len(), 2);
    assert_eq!(a.bars[0].ts, at("2020-01-01T00:00:00Z"));
    assert_eq!(a.bars[0].date, date(2020, 1, 1));
    assert_eq!(a.bars[1].date, date(2020, 1, 2));
    assert_eq!(a.bars[1].volume, 20_802_083_465);
    assert!(
        a.bars.iter().all(|b| b.volume != 28_111_481_032),
        "the period2 bar is gone"
    );
    assert_eq!(a.meta.instrument_type.as_deref(), Some("CRYPTOCURRENCY"));
    assert_eq!(a.meta.timezone.as_deref(), Some("UTC"));
}

#[test]
fn eurusd_keeps_the_holiday_row_and_drops_the_bar_at_period2() {
    let a = parse_ok(
        "EURUSD_X_fx_1d_2020-01-01_2020-01-03.json",
        &req("EURUSD=X", Interval::D1, 1_577_836_800, 1_578_009_600),
    );
    assert_eq!(a.bars.len(), 2);
    assert_eq!(a.bars[0].date, date(2020, 1, 1));
    assert_eq!(a.bars[0].close, 1.122_082_591_056_823_7);
    assert_eq!(a.bars[1].date, date(2020, 1, 2));
    assert!(a.bars.iter().all(|b| b.volume == 0));
    assert_eq!(a.meta.exchange_name.as_deref(), Some("CCY"));
    assert_eq!(a.meta.timezone.as_deref(), Some("Europe/London"));
}

#[test]
fn ocdo_keeps_gbp_pence_in_meta() {
    let a = parse_ok(
        "OCDO.L_1d_2020-01-01_2020-01-03.json",
        &req("OCDO.L", Interval::D1, 1_577_836_800, 1_578_009_600),
    );
    assert_eq!(a.meta.currency.as_deref(), Some("GBp"));
    assert_eq!(a.meta.exchange_name.as_deref(), Some("LSE"));
    assert_eq!(a.bars.len(), 1);
    assert_eq!(a.bars[0].ts, at("2020-01-02T08:00:00Z"));
    assert_eq!(a.bars[0].date, date(2020, 1, 2));
    assert_eq!(a.bars[0].close, 1259.5);
    assert_eq!(a.bars[0].volume, 728_520);
}

#[test]
fn vxapl_empty_index_window_is_answered_empty() {
    let a = parse_ok(
        "caret_VXAPL_index_1d_empty.json",
        &req("^VXAPL", Interval::D1, 1_577_836_800, 1_578_009_600),
    );
    assert!(a.bars.is_empty());
    assert_eq!(a.meta.instrument_type.as_deref(), Some("INDEX"));
    assert_eq!(a.meta.currency.as_deref(), Some("USD"));
}

#[test]
fn capio_dead_shell_is_not_found() {
    let r = req("CAPIO.ST", Interval::D1, 1_577_836_800, 1_578_009_600);
    let err = parse_chart(200, JSON, &fixture("CAPIO.ST_delisted_no_data.json"), &r).unwrap_err();
    let ErrorKind::NotFound { detail } = &err else {
        panic!("{err:?}")
    };
    assert!(detail.contains("YHD"), "{detail}");
    assert!(!err.is_retryable());
}

#[test]
fn error_404_is_not_found_with_yahoos_description() {
    let r = req("00679B.TW", Interval::D1, 1_577_836_800, 1_578_009_600);
    let err = parse_chart(404, JSON, &fixture("error_404_unknown_symbol.json"), &r).unwrap_err();
    assert_eq!(
        err,
        ErrorKind::NotFound {
            detail: "HTTP 404: No data found, symbol may be delisted".into()
        }
    );
    // The same body with a 200 status is still read from `chart.error`.
    let err = parse_chart(200, JSON, &fixture("error_404_unknown_symbol.json"), &r).unwrap_err();
    assert_eq!(err.label(), "not_found");
}

#[test]
fn vfinx_3mo_answer_to_a_1d_request_is_malformed() {
    let name = "VFINX_range-max_interval-1d_returned-3mo_capitalGains.json";
    let r = req("VFINX", Interval::D1, 0, 1_761_782_703);
    let err = parse_chart(200, JSON, &fixture(name), &r).unwrap_err();
    let ErrorKind::Malformed { detail } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(detail, "asked for `1d` bars, got dataGranularity `3mo`");
}

#[test]
fn vfinx_capital_gains_parse_when_granularity_matches() {
    // `Interval` has no 3mo, so relabel the body as 1mo and request 1mo: the same bars and events.
    let name = "VFINX_range-max_interval-1d_returned-3mo_capitalGains.json";
    let body = String::from_utf8(fixture(name))
        .unwrap()
        .replace("\"dataGranularity\":\"3mo\"", "\"dataGranularity\":\"1mo\"");
    let r = req("VFINX", Interval::Mo1, 0, 1_761_782_703);
    let a = parse_chart(200, JSON, body.as_bytes(), &r).unwrap();
    assert_eq!(a.bars.len(), 164);
    assert_eq!(a.bars[0].ts, ts(473_403_600));
    assert_eq!(a.bars[0].date, date(1985, 1, 1));
    assert!(a.bars.iter().all(|b| b.volume == 0), "a fund has no volume");
    let gains: Vec<_> = a
        .actions
        .iter()
        .filter_map(|x| match x.kind {
            ActionKind::CapitalGain { amount } => Some((x.ts, amount)),
            _ => None,
        })
        .collect();
    assert_eq!(gains.len(), 21);
    // Keyed "560059200" (the quarter's bar) but dated 567786600: the `date` field wins.
    assert_eq!(gains[0], (ts(567_786_600), 0.17));
    assert_eq!(gains[1], (ts(599_409_000), 0.32));
    let dividends = a
        .actions
        .iter()
        .filter(|x| x.kind.name() == "dividend")
        .count();
    assert_eq!(dividends, 164);
    assert_eq!(a.meta.instrument_type.as_deref(), Some("MUTUALFUND"));
}

#[test]
fn vfinx_dividends_count_within_the_full_history() {
    // Dividends, like capital gains, are dated by their `date` field; the 164 quarters carry 164 payouts
    // whose ex-dates all fall before the last bar.
    let name = "VFINX_range-max_interval-1d_returned-3mo_capitalGains.json";
    let v: serde_json::Value = serde_json::from_slice(&fixture(name)).unwrap();
    let divs = v["chart"]["result"][0]["events"]["dividends"]
        .as_object()
        .unwrap();
    assert_eq!(divs.len(), 164);
    assert_eq!(
        divs["473403600"]["date"], 330_960_600,
        "the key is the bar, the date is the ex-date"
    );
}

#[test]
fn tsla_full_history_from_period1_zero() {
    let name = "TSLA_1d_period1-0_full_history.json";
    let a = parse_ok(name, &req("TSLA", Interval::D1, 0, 1_691_798_400));
    assert_eq!(a.bars.len(), 3303);
    assert_eq!(a.bars[0].ts, ts(1_277_818_200));
    assert_eq!(a.bars[0].date, date(2010, 6, 29));
    assert_eq!(a.bars[0].close, 1.592_666_983_604_431_2);
    assert_eq!(a.bars[0].volume, 281_494_500);
    let last = a.bars.last().unwrap();
    assert_eq!(last.ts, ts(1_691_760_600));
    assert_eq!(last.date, date(2023, 8, 11));
    assert_eq!(last.close, 242.649_993_896_484_38);
    assert_eq!(last.adj_close, Some(242.649_993_896_484_38));
    assert!(
        a.actions.is_empty(),
        "TSLA pays no dividends and the body has no events"
    );
    let dates: std::collections::BTreeSet<_> = a.bars.iter().map(|b| b.date).collect();
    assert_eq!(dates.len(), 3303, "one bar per session date");
}

#[test]
fn nvda_1h_reads_quote_columns_by_name_not_order() {
    let name = "NVDA_1h_range-1d_2024-05-03.json";
    // range=1d on 2024-05-03: the New York day.
    let r = req(
        "NVDA",
        Interval::H1,
        at("2024-05-03T04:00:00Z").as_second(),
        at("2024-05-04T04:00:00Z").as_second(),
    );
    let a = parse_ok(name, &r);
    assert_eq!(
        a.bars.len(),
        8,
        "seven hourly bars from 09:30 and the 16:00 closing print"
    );
    let b = a.bars[0];
    assert_eq!(b.ts, at("2024-05-03T13:30:00Z"));
    assert_eq!(b.date, date(2024, 5, 3));
    assert_eq!(serde_json::json!(b.open), raw_quote(name, "open", 0));
    assert_eq!(serde_json::json!(b.high), raw_quote(name, "high", 0));
    assert_eq!(serde_json::json!(b.low), raw_quote(name, "low", 0));
    assert_eq!(serde_json::json!(b.close), raw_quote(name, "close", 0));
    assert_eq!(serde_json::json!(b.volume), raw_quote(name, "volume", 0));
    assert_eq!(
        (b.open, b.high, b.low, b.close),
        (
            877.890_014_648_437_5,
            889.474_609_375,
            870.400_085_449_218_8,
            878.619_995_117_187_5
        )
    );
    let last = a.bars.last().unwrap();
    assert_eq!(last.ts, at("2024-05-03T20:00:00Z"));
    assert_eq!(last.volume, 0);
    assert_eq!(
        a.bars[1].ts,
        at("2024-05-03T14:30:00Z"),
        "aligned to the open, not the clock hour"
    );
}

#[test]
fn nvda_1h_accepts_60m_granularity_spelling() {
    let name = "NVDA_1h_range-1d_2024-05-03.json";
    let body = String::from_utf8(fixture(name)).unwrap();
    assert!(body.contains("\"dataGranularity\":\"1h\""));
    let body = body.replace("\"dataGranularity\":\"1h\"", "\"dataGranularity\":\"60m\"");
    let r = req(
        "NVDA",
        Interval::H1,
        at("2024-05-03T04:00:00Z").as_second(),
        at("2024-05-04T04:00:00Z").as_second(),
    );
    assert_eq!(
        parse_chart(200, JSON, body.as_bytes(), &r)
            .unwrap()
            .bars
            .len(),
        8
    );
}

#[test]
fn tsla_30m_prepost_with_trading_periods_object() {
    let name = "TSLA_30m_prepost_2021-11-22.json";
    let a = parse_ok(
        name,
        &req("TSLA", Interval::M30, 1_637_539_200, 1_637_625_600),
    );
    assert_eq!(a.bars.len(), 30);
    assert_eq!(
        a.bars[0].ts,
        at("2021-11-22T09:00:00Z"),
        "04:00 EST pre-market"
    );
    assert_eq!(a.bars[0].open, 1148.51);
    assert_eq!(a.bars.last().unwrap().ts, at("2021-11-22T23:30:00Z"));
    assert_eq!(a.bars.iter().filter(|b| b.volume == 0).count(), 17);
    assert!(
        a.bars
            .windows(2)
            .all(|w| w[1].ts.duration_since(w[0].ts).as_secs() == 1800)
    );
}
