//! `--shard i/n`: three shards of the 40-ticker portfolio are disjoint, cover it, and leave the
//! store one unsharded run leaves.

use std::collections::BTreeSet;
use std::time::Duration;

use backfill_domain::jiff::civil::{Date, date};
use backfill_domain::{Interval, Symbol};
use backfill_sim::SimConfig;
use backfill_store::Store;

use crate::harness::{Env, describe, portfolio, stdout_json};

const END: Date = date(2024, 6, 28);

fn symbols(doc: &serde_json::Value) -> Vec<String> {
    doc["tickers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["symbol"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shards_are_disjoint_complete_and_equal_one_unsharded_run() {
    let env = Env::start(SimConfig {
        latency: Duration::from_millis(5),
        ..SimConfig::default()
    })
    .await;
    let tickers = portfolio();
    let list = tickers.join(",");
    let common = [
        "--tickers",
        &list,
        "--days",
        "60",
        "--rate",
        "0",
        "--end",
        "2024-06-28",
        "--json",
    ];

    // Three shards into the environment's store.
    let mut seen: Vec<String> = Vec::new();
    for shard in ["0/3", "1/3", "2/3"] {
        let plan = env
            .run(&[&["plan", "--shard", shard], &common[..]].concat())
            .await;
        assert_eq!(plan.status.code(), Some(0), "{}", describe(&plan));
        let out = env.run(&[&["--shard", shard], &common[..]].concat()).await;
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        let mut ran = symbols(&stdout_json(&out));
        let mut planned = symbols(&stdout_json(&plan));
        ran.sort();
        planned.sort();
        assert_eq!(ran, planned, "plan and run agree on {shard}");
        assert!(!ran.is_empty(), "shard {shard} of 40 tickers is not empty");
        for t in &ran {
            assert_eq!(
                backfill::shard_of(&Symbol::parse(t).unwrap(), 3).to_string(),
                shard[..1],
                "{t} ran in shard {shard}"
            );
        }
        seen.extend(ran);
    }
    let distinct: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(distinct.len(), seen.len(), "a ticker ran in two shards");
    let all: BTreeSet<&String> = tickers.iter().collect();
    assert_eq!(distinct, all, "the shards together cover the portfolio");
    env.assert_store_matches(&tickers, 60, END);

    // One unsharded run into another store holds exactly the same bars.
    let other = env.dir.path().join("unsharded");
    let other_arg = other.to_string_lossy().into_owned();
    let out = env
        .run(&[&["--store", &other_arg], &common[..]].concat())
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let (a, b) = (
        Store::open(env.store_dir()).unwrap(),
        Store::open(&other).unwrap(),
    );
    assert_eq!(a.list_series().unwrap(), b.list_series().unwrap());
    for t in &tickers {
        let s = Symbol::parse(t).unwrap();
        assert_eq!(
            a.read_bars(&s, Interval::D1, None).unwrap(),
            b.read_bars(&s, Interval::D1, None).unwrap(),
            "{t}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_shard_is_a_usage_error_that_says_what_was_expected() {
    let env = Env::start(SimConfig::default()).await;
    let out = env.run(&["--tickers", "MSFT", "--shard", "3/3"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`3/3`") && err.contains("numbered 0 to 2"),
        "{err}"
    );
}
