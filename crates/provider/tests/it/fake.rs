//! The fake provider's own behaviour, and the conformance suite against it.

use std::collections::HashMap;
use std::time::Duration;

use backfill_domain::{Action, ActionKind, Bar, Interval, Symbol, SymbolMeta, TimeRange};
use backfill_provider::conformance::{self, Truth};
use backfill_provider::fake::FakeProvider;
use backfill_provider::{ErrorKind, FetchRequest, Provider, Window};
use jiff::{SignedDuration, civil::Date};

use crate::at;

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

fn range(a: &str, b: &str) -> TimeRange {
    TimeRange::new(at(a), at(b)).unwrap()
}

/// Weekday bars at `hh:mm` UTC from `from` (inclusive) to `to` (exclusive), prices from a simple walk.
fn weekday_bars(from: Date, to: Date, open_utc: &str, seed: f64) -> Vec<Bar> {
    let mut out = Vec::new();
    let mut d = from;
    let mut price = seed;
    while d < to {
        if !matches!(
            d.weekday(),
            jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
        ) {
            let ts = at(&format!("{d}T{open_utc}:00Z"));
            price += 0.25;
            out.push(Bar {
                ts,
                date: d,
                open: price,
                high: price + 1.0,
                low: price - 1.0,
                close: price + 0.5,
                adj_close: Some(price + 0.4),
                volume: (price * 1000.0) as i64,
            });
        }
        d = d.tomorrow().unwrap();
    }
    out
}

/// An independent truth: the same data, filtered by its own code.
struct Data {
    bars: HashMap<Symbol, Vec<Bar>>,
    actions: HashMap<Symbol, Vec<Action>>,
    meta: HashMap<Symbol, SymbolMeta>,
}

impl Truth for Data {
    fn known(&self) -> Vec<FetchRequest> {
        vec![
            FetchRequest::new(
                sym("AAA"),
                Interval::D1,
                range("2024-01-01T00:00:00Z", "2024-03-01T00:00:00Z"),
            ),
            FetchRequest::new(
                sym("AIR.PA"),
                Interval::D1,
                range("2024-01-15T00:00:00Z", "2024-02-15T00:00:00Z"),
            ),
            // Starts mid-session: the bar of 2024-01-10 (08:00Z) is outside.
            FetchRequest::new(
                sym("AIR.PA"),
                Interval::D1,
                range("2024-01-10T08:00:01Z", "2024-01-20T00:00:00Z"),
            ),
        ]
    }
    fn empty(&self) -> Vec<FetchRequest> {
        vec![FetchRequest::new(
            sym("AAA"),
            Interval::D1,
            range("2024-01-06T00:00:00Z", "2024-01-08T00:00:00Z"),
        )]
    }
    fn unknown(&self) -> Vec<FetchRequest> {
        vec![FetchRequest::new(
            sym("ZZNOPE"),
            Interval::D1,
            range("2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"),
        )]
    }
    fn bars(&self, req: &FetchRequest) -> Vec<Bar> {
        let all = self.bars.get(&req.symbol).cloned().unwrap_or_default();
        all.into_iter()
            .filter(|b| b.ts >= req.range.start() && b.ts < req.range.end())
            .collect()
    }
    fn actions(&self, req: &FetchRequest) -> Vec<Action> {
        let all = self.actions.get(&req.symbol).cloned().unwrap_or_default();
        all.into_iter()
            .filter(|a| a.ts >= req.range.start() && a.ts < req.range.end())
            .collect()
    }
    fn meta(&self, symbol: &Symbol) -> Option<SymbolMeta> {
        self.meta.get(symbol).cloned()
    }
}

fn dataset() -> (FakeProvider, Data) {
    let start = Date::constant(2023, 12, 1);
    let end = Date::constant(2024, 4, 1);
    let aaa = weekday_bars(start, end, "14:30", 100.0);
    let air = weekday_bars(start, end, "08:00", 150.0);
    let split = Action {
        ts: at("2024-02-05T14:30:00Z"),
        date: Date::constant(2024, 2, 5),
        kind: ActionKind::Split {
            numerator: 2.0,
            denominator: 1.0,
        },
    };
    let div = Action {
        ts: at("2024-01-25T08:00:00Z"),
        date: Date::constant(2024, 1, 25),
        kind: ActionKind::Dividend {
            amount: 1.5,
            currency: None,
        },
    };
    let meta = SymbolMeta {
        currency: Some("EUR".into()),
        exchange_name: Some("PAR".into()),
        timezone: Some("Europe/Paris".into()),
        instrument_type: Some("EQUITY".into()),
        ..SymbolMeta::default()
    };
    let fake = FakeProvider::new();
    // Inserted out of order and twice: the fake keeps them sorted and unique.
    fake.insert_bars(&sym("AAA"), Interval::D1, aaa.iter().rev().copied());
    fake.insert_bars(&sym("AAA"), Interval::D1, aaa[..5].iter().copied());
    fake.insert_bars(&sym("AIR.PA"), Interval::D1, air.clone());
    fake.insert_actions(&sym("AAA"), [split.clone()]);
    fake.insert_actions(&sym("AIR.PA"), [div.clone()]);
    fake.set_meta(&sym("AIR.PA"), meta.clone());
    let data = Data {
        bars: HashMap::from([(sym("AAA"), aaa), (sym("AIR.PA"), air)]),
        actions: HashMap::from([(sym("AAA"), vec![split]), (sym("AIR.PA"), vec![div])]),
        meta: HashMap::from([(sym("AIR.PA"), meta)]),
    };
    (fake, data)
}

#[tokio::test]
async fn conformance_fake() {
    let (fake, data) = dataset();
    let report = conformance::run(&fake, &data).await.unwrap();
    assert_eq!(
        report.requests,
        3 + 6 + 1 + 1,
        "three known, two halves each, one empty, one unknown"
    );
    assert!(report.bars > 60, "{report:?}");
    assert_eq!(fake.request_count(), report.requests);
}

#[tokio::test]
async fn conformance_catches_a_provider_that_leaks_the_end_bar() {
    // A truth that wrongly expects the bar starting at `end` must make the suite fail: it can fail.
    struct EndOnBar(Data);
    impl Truth for EndOnBar {
        fn known(&self) -> Vec<FetchRequest> {
            vec![FetchRequest::new(
                sym("AAA"),
                Interval::D1,
                range("2024-01-01T00:00:00Z", "2024-01-10T14:30:00Z"),
            )]
        }
        fn empty(&self) -> Vec<FetchRequest> {
            vec![]
        }
        fn unknown(&self) -> Vec<FetchRequest> {
            vec![]
        }
        fn bars(&self, req: &FetchRequest) -> Vec<Bar> {
            let all = self.0.bars.get(&req.symbol).cloned().unwrap_or_default();
            all.into_iter()
                .filter(|b| b.ts >= req.range.start() && b.ts <= req.range.end())
                .collect()
        }
        fn actions(&self, req: &FetchRequest) -> Vec<Action> {
            self.0.actions(req)
        }
    }
    let (fake, data) = dataset();
    let err = conformance::run(&fake, &EndOnBar(data)).await.unwrap_err();
    assert_eq!(err.provider, "fake");
    assert!(err.failures[0].contains("7 bars, truth has 8"), "{err}");
}

#[tokio::test]
async fn scripted_failures_then_success_and_counts() {
    let (fake, _) = dataset();
    let aaa = sym("AAA");
    fake.fail_next(
        &aaa,
        2,
        &ErrorKind::Throttled {
            retry_after: Some(Duration::from_secs(3)),
        },
    );
    fake.fail_next(
        &aaa,
        1,
        &ErrorKind::Transient {
            detail: "HTTP 503".into(),
        },
    );
    let req = FetchRequest::new(
        aaa.clone(),
        Interval::D1,
        range("2024-01-01T00:00:00Z", "2024-01-06T00:00:00Z"),
    );
    let e1 = fake.fetch(&req).await.unwrap_err();
    assert_eq!(e1.retry_after(), Some(Duration::from_secs(3)));
    assert_eq!(
        fake.fetch(&req).await.unwrap_err().kind.label(),
        "throttled"
    );
    assert_eq!(
        fake.fetch(&req).await.unwrap_err().kind.label(),
        "transient"
    );
    assert_eq!(
        fake.fetch(&req).await.unwrap().bars.len(),
        5,
        "Jan 1-5 2024 are weekdays"
    );
    assert_eq!(fake.requests_for(&aaa), 4);
    assert_eq!(fake.requests_for(&sym("AIR.PA")), 0);
    fake.reset_counts();
    assert_eq!(fake.request_count(), 0);
}

#[tokio::test]
async fn windows_are_enforced_and_reported() {
    let fake = FakeProvider::new().with_name("tiny");
    let day = SignedDuration::from_hours(24);
    let w = Window {
        max_span: Some(day * 7),
        lookback: Some(day * 30),
    };
    fake.set_window(Interval::M1, w);
    fake.set_now(at("2024-06-01T00:00:00Z"));
    fake.add_symbol(&sym("AAA"));
    assert_eq!(fake.name(), "tiny");
    assert_eq!(fake.window(Interval::M1), w);
    assert_eq!(fake.window(Interval::D1), Window::UNLIMITED);
    let wide = FetchRequest::new(
        sym("AAA"),
        Interval::M1,
        range("2024-05-20T00:00:00Z", "2024-05-28T00:00:00Z"),
    );
    assert_eq!(
        fake.fetch(&wide).await.unwrap_err().kind.label(),
        "out_of_window"
    );
    let old = FetchRequest::new(
        sym("AAA"),
        Interval::M1,
        range("2024-04-20T00:00:00Z", "2024-04-21T00:00:00Z"),
    );
    assert_eq!(
        fake.fetch(&old).await.unwrap_err().kind.label(),
        "out_of_window"
    );
    let fine = FetchRequest::new(
        sym("AAA"),
        Interval::M1,
        range("2024-05-25T00:00:00Z", "2024-05-28T00:00:00Z"),
    );
    assert!(fake.fetch(&fine).await.unwrap().bars.is_empty());
    fake.remove_symbol(&sym("AAA"));
    assert_eq!(
        fake.fetch(&fine).await.unwrap_err().kind.label(),
        "not_found"
    );
}

#[tokio::test(start_paused = true)]
async fn latency_makes_concurrency_visible() {
    let (fake, _) = dataset();
    fake.set_latency(Duration::from_millis(250));
    let req = FetchRequest::new(
        sym("AAA"),
        Interval::D1,
        range("2024-01-01T00:00:00Z", "2024-01-06T00:00:00Z"),
    );
    let started = tokio::time::Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (f, r) = (fake.clone(), req.clone());
        set.spawn(async move { f.fetch(&r).await.map(|a| a.bars.len()) });
    }
    while let Some(r) = set.join_next().await {
        assert_eq!(r.unwrap().unwrap(), 5);
    }
    assert_eq!(fake.max_in_flight(), 6);
    assert_eq!(
        started.elapsed(),
        Duration::from_millis(250),
        "the paused clock advanced once"
    );
}
