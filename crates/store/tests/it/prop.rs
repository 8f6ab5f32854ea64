//! Random sequences of overlapping upserts and replaces leave exactly the merged ground truth.

use std::collections::BTreeMap;

use backfill_domain::{Bar, Interval};
use backfill_store::Store;
use proptest::prelude::*;

use crate::{DAY, T0, bar, sym};

#[derive(Debug, Clone)]
struct Op {
    hourly: bool,
    replace: bool,
    start: i64,
    len: i64,
    seed: u8,
}

fn op() -> impl Strategy<Value = Op> {
    (
        any::<bool>(),
        prop::bool::weighted(0.15),
        0i64..300,
        0i64..60,
        0u8..3,
    )
        .prop_map(|(hourly, replace, start, len, seed)| Op {
            hourly,
            replace,
            start,
            len,
            seed,
        })
}

fn bars_of(op: &Op) -> Vec<Bar> {
    let step = if op.hourly { 7 * 3600 } else { DAY };
    // Reverse order and a duplicate of the first bar: the later one must win.
    let mut v: Vec<Bar> = (op.start..op.start + op.len)
        .rev()
        .map(|i| bar(T0 + i * step, f64::from(op.seed) * 1000.0 + i as f64))
        .collect();
    if let Some(first) = v.first().copied() {
        v.insert(0, bar(first.ts.as_second(), -1.0));
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn upserts_equal_the_btreemap_model(ops in prop::collection::vec(op(), 1..8)) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let s = sym("P=X");
        let mut model: BTreeMap<(bool, i64), Bar> = BTreeMap::new();
        for op in &ops {
            let iv = if op.hourly { Interval::H1 } else { Interval::D1 };
            let input = bars_of(op);
            let mut last: BTreeMap<i64, Bar> = BTreeMap::new();
            for b in &input {
                last.insert(b.ts.as_second(), *b);
            }
            let (mut ins, mut upd, mut same) = (0, 0, 0);
            for (t, b) in &last {
                match model.get(&(op.hourly, *t)) {
                    None => ins += 1,
                    Some(old) if old == b => same += 1,
                    Some(_) => upd += 1,
                }
            }
            let before = model.keys().filter(|k| k.0 == op.hourly).count();
            let stats = if op.replace {
                model.retain(|k, _| k.0 != op.hourly);
                store.replace_bars(&s, iv, &input).unwrap()
            } else {
                store.upsert_bars(&s, iv, &input).unwrap()
            };
            for (t, b) in last {
                model.insert((op.hourly, t), b);
            }
            let after = model.keys().filter(|k| k.0 == op.hourly).count() as u64;
            prop_assert_eq!((stats.inserted, stats.updated, stats.unchanged), (ins, upd, same));
            prop_assert_eq!(stats.rows_total, after);
            if !op.replace {
                prop_assert_eq!(stats.files_written == 0, ins + upd == 0);
            } else if ins + upd == 0 && after as usize == before {
                prop_assert_eq!(stats.files_written, 0);
            }
        }
        for hourly in [false, true] {
            let iv = if hourly { Interval::H1 } else { Interval::D1 };
            let want: Vec<Bar> = model.iter().filter(|(k, _)| k.0 == hourly).map(|(_, b)| *b).collect();
            let got = store.read_bars(&s, iv, None).unwrap();
            prop_assert_eq!(&got, &want);
            let summary = store.summary(&s, iv).unwrap();
            match (summary, want.first(), want.last()) {
                (None, None, None) => {}
                (Some(sm), Some(a), Some(b)) => {
                    prop_assert_eq!(sm.rows, want.len() as u64);
                    prop_assert_eq!((sm.first_ts, sm.last_ts), (a.ts, b.ts));
                    prop_assert_eq!((sm.first_date, sm.last_date), (a.date, b.date));
                }
                other => prop_assert!(false, "summary {:?} vs model", other),
            }
        }
    }
}
