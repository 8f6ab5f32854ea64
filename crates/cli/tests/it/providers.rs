//! `--provider tiingo|alpaca` from outside: keys (missing, refused, never shown), `sim --provider`,
//! a series' provider, and the 40-ticker portfolio through each simulator.

use std::io::BufRead;
use std::path::Path;
use std::process::Stdio;

use backfill_domain::{Action, ActionKind, Interval, Symbol};
use backfill_sim::SimConfig;
use backfill_store::Store;

use crate::harness::{Env, assert_says, describe, portfolio, stderr, stdout};

const NOW: &str = "2025-06-02T12:00:00Z";
const TIINGO_KEY: &str = "tiingo-right-0f3c9a7d";
const ALPACA_ID: &str = "PKALPACAID7731";
const ALPACA_SECRET: &str = "alpaca-right-secret-55e1";

fn keyed() -> SimConfig {
    SimConfig {
        tiingo_key: Some(TIINGO_KEY.to_owned()),
        alpaca_keys: Some((ALPACA_ID.to_owned(), ALPACA_SECRET.to_owned())),
        ..SimConfig::default()
    }
}

/// A run of `tickers` through `provider`, unpaced, at [`NOW`].
fn base_args<'a>(provider: &'a str, tickers: &'a str) -> [&'a str; 8] {
    [
        "--provider",
        provider,
        "--tickers",
        tickers,
        "--rate",
        "0",
        "--now",
        NOW,
    ]
}

/// A 5-session run of `tickers` through `provider`, unpaced, at [`NOW`].
fn run_args<'a>(provider: &'a str, tickers: &'a str) -> Vec<&'a str> {
    [&base_args(provider, tickers)[..], &["--days", "5"]].concat()
}

/// Every file under `root`, as text where it is text.
fn all_text(root: &Path) -> String {
    let mut out = String::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
            }
        }
    }
    out
}

/// No output of the run and no file of the store holds any of `secrets`.
fn assert_never_shown(env: &Env, out: &std::process::Output, secrets: &[&str]) {
    let files = all_text(&env.store_dir());
    for s in secrets {
        assert!(
            !stdout(out).contains(s),
            "stdout shows a key\n{}",
            describe(out)
        );
        assert!(
            !stderr(out).contains(s),
            "stderr shows a key\n{}",
            describe(out)
        );
        assert!(!files.contains(s), "the store holds a key");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_wrong_tiingo_key_exits_2_naming_the_variable_and_no_key_is_shown() {
    let env = Env::start_at(NOW, keyed()).await;
    let args = run_args("tiingo", "MSFT,AAPL");
    let out = env.run(&args).await;
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert_says(&out, "`TIINGO_API_KEY`");
    assert_says(&out, "hint:");
    assert_eq!(
        env.sim.stats().requests_total,
        0,
        "nothing sent without a key"
    );

    let wrong = "tiingo-wrong-93b1c4e2";
    for extra in [&["-vv"][..], &["--json"][..]] {
        let out = env
            .run_with(&[&args[..], extra].concat(), &[("TIINGO_API_KEY", wrong)])
            .await;
        assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
        assert_says(&out, "tiingo refused the API key");
        assert_says(&out, "`TIINGO_API_KEY`");
        assert_never_shown(&env, &out, &[wrong, TIINGO_KEY]);
    }

    // From `[keys]` in backfill.toml, the right key: the run succeeds, and shows no key either.
    let config = env.dir.path().join("backfill.toml");
    std::fs::write(
        &config,
        format!("[keys]\ntiingo_api_key = \"{TIINGO_KEY}\"\n"),
    )
    .unwrap();
    let out = env
        .run(&[&args[..], &["-vv", "--config", config.to_str().unwrap()]].concat())
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_never_shown(&env, &out, &[TIINGO_KEY]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_wrong_alpaca_key_exits_2_naming_both_variables_and_no_key_is_shown() {
    let env = Env::start_at(NOW, keyed()).await;
    let args = run_args("alpaca", "MSFT");
    let out = env.run_with(&args, &[("APCA_API_KEY_ID", ALPACA_ID)]).await;
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = stderr(&out);
    assert!(
        err.contains("`APCA_API_KEY_ID`") && err.contains("`APCA_API_SECRET_KEY`"),
        "{}",
        describe(&out)
    );
    assert_never_shown(&env, &out, &[ALPACA_ID]);

    let wrong = "alpaca-wrong-secret-7d2e";
    let vars = [
        ("APCA_API_KEY_ID", ALPACA_ID),
        ("APCA_API_SECRET_KEY", wrong),
    ];
    let out = env.run_with(&[&args[..], &["-vv"]].concat(), &vars).await;
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert_says(&out, "alpaca refused the API key");
    assert_never_shown(&env, &out, &[ALPACA_ID, wrong, ALPACA_SECRET]);

    let vars = [
        ("APCA_API_KEY_ID", ALPACA_ID),
        ("APCA_API_SECRET_KEY", ALPACA_SECRET),
    ];
    let out = env.run_with(&[&args[..], &["-vv"]].concat(), &vars).await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_never_shown(&env, &out, &[ALPACA_ID, ALPACA_SECRET]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interval_the_provider_does_not_serve_is_refused_before_any_request() {
    let env = Env::start_at(NOW, SimConfig::default()).await;
    let out = env
        .run_with(
            &[&run_args("tiingo", "MSFT")[..], &["--interval", "1h"]].concat(),
            &[("TIINGO_API_KEY", "k")],
        )
        .await;
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert_says(&out, "`tiingo` does not serve `1h` bars");
    assert_eq!(env.sim.stats().requests_total, 0);
}

/// `backfill sim --provider P` prints one URL that serves P's API and no other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_with_a_provider_prints_a_url_that_serves_that_api() {
    let env = Env::start_at(NOW, SimConfig::default()).await;
    for (provider, var, url_var) in [
        (
            "tiingo",
            &[("TIINGO_API_KEY", "k")][..],
            "BACKFILL_TIINGO_URL",
        ),
        (
            "alpaca",
            &[("APCA_API_KEY_ID", "i"), ("APCA_API_SECRET_KEY", "s")][..],
            "BACKFILL_ALPACA_URL",
        ),
    ] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_backfill"))
            .args(["sim", "--provider", provider, "--port", "0", "--clock", NOW])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let url = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            std::io::BufReader::new(stdout)
                .read_line(&mut line)
                .unwrap();
            line.trim().to_owned()
        })
        .await
        .unwrap();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        // A store of its own for each provider: a series never mixes two providers.
        let (store, other) = (
            env.dir.path().join(provider),
            env.dir.path().join(format!("{provider}-yahoo")),
        );
        let (store, other) = (store.to_str().unwrap(), other.to_str().unwrap());
        let args = [&run_args(provider, "MSFT")[..], &["--store", store]].concat();
        let vars: Vec<(&str, &str)> = var
            .iter()
            .copied()
            .chain([(url_var, url.as_str())])
            .collect();
        let out = env.run_with(&args, &vars).await;
        let yahoo = env
            .run_with(
                &[
                    &run_args("yahoo", "MSFT")[..],
                    &["--retries", "0", "--store", other],
                ]
                .concat(),
                &[("BACKFILL_YAHOO_URL", url.as_str())],
            )
            .await;
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(out.status.code(), Some(0), "{provider}: {}", describe(&out));
        assert_eq!(
            yahoo.status.code(),
            Some(1),
            "{provider}: {}",
            describe(&yahoo)
        );
    }
}

/// A series remembers its provider: another provider is refused for it (the run says how to
/// switch), and `--switch-provider` replaces its whole stored history, not only the new window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_series_never_mixes_providers_and_a_switch_replaces_its_history() {
    let env = Env::start_at(NOW, SimConfig::default()).await;
    let key = [("TIINGO_API_KEY", "k")];
    let end = "2025-05-30";
    let out = env
        .run(
            &[
                &base_args("yahoo", "MSFT,AAPL")[..],
                &["--days", "30", "--end", end],
            ]
            .concat(),
        )
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let providers = |out: &std::process::Output| -> Vec<String> {
        crate::harness::stdout_json(out)["tickers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["provider"].as_str().unwrap_or("null").to_owned())
            .collect()
    };
    let check = ["check", "--json", "--now", NOW];
    assert_eq!(providers(&env.run(&check).await), ["yahoo", "yahoo"]);
    let yahoo_requests = env.sim.stats().requests_total;

    let tiingo = [
        &base_args("tiingo", "MSFT,AAPL")[..],
        &["--days", "10", "--end", end],
    ]
    .concat();
    let out = env
        .run_with(&[&tiingo[..], &["--json"]].concat(), &key)
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let doc = crate::harness::stdout_json(&out);
    for t in doc["tickers"].as_array().unwrap() {
        assert_eq!(t["failure"], "provider", "{t}");
        let e = t["error"].as_str().unwrap();
        assert!(
            e.contains("stored from yahoo") && e.contains("--switch-provider"),
            "{e}"
        );
    }
    assert_eq!(
        env.sim.stats().requests_total,
        yahoo_requests,
        "nothing sent"
    );
    assert_eq!(providers(&env.run(&check).await), ["yahoo", "yahoo"]);
    // `plan` says the same, and what `--switch-provider` would do.
    let out = env
        .run_with(&[&["plan"][..], &tiingo[..]].concat(), &key)
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stdout(&out).contains("cannot plan: `MSFT` 1d is stored from yahoo"),
        "{}",
        describe(&out)
    );
    let out = env
        .run_with(
            &[&["plan"][..], &tiingo[..], &["--switch-provider"]].concat(),
            &key,
        )
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        stdout(&out).contains("the run switches it to tiingo"),
        "{}",
        describe(&out)
    );
    assert_eq!(
        env.sim.stats().requests_total,
        yahoo_requests,
        "plan sends nothing"
    );

    let out = env
        .run_with(
            &[&tiingo[..], &["--switch-provider", "--json"]].concat(),
            &key,
        )
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    for t in crate::harness::stdout_json(&out)["tickers"]
        .as_array()
        .unwrap()
    {
        assert_eq!(
            t["warnings"][0], "switched to tiingo: the stored history was replaced by tiingo's",
            "{t}"
        );
        assert_eq!(t["rows"], 30, "the whole stored span is fetched again: {t}");
    }
    assert_eq!(providers(&env.run(&check).await), ["tiingo", "tiingo"]);
    // The whole 30-session history is tiingo's now, equal to the market: nothing was cut to the
    // 10 sessions asked, nothing duplicated.
    let tickers = ["MSFT".to_owned(), "AAPL".to_owned()];
    env.assert_store_matches(&tickers, 30, end.parse().unwrap());
    // And a rerun through tiingo asks nothing.
    let before = env.sim.stats().requests_total;
    let out = env.run_with(&tiingo, &key).await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(env.sim.stats().requests_total, before);
}

/// The 40-ticker portfolio, 252 sessions, through `provider` (Alpaca in two pages of at most 150
/// bars per adjustment, so 200 requests: its quota of a minute, no wait): the
/// store holds exactly the simulator's bars, a rerun sends nothing, and the same market through
/// Yahoo into another store gives equal bars and actions.
async fn forty_tickers_through(provider: &str, requests_each: u64) {
    let env = Env::start_at(
        NOW,
        SimConfig {
            alpaca_page_cap: Some(150),
            ..SimConfig::default()
        },
    )
    .await;
    let keys = [
        ("TIINGO_API_KEY", "k"),
        ("APCA_API_KEY_ID", "i"),
        ("APCA_API_SECRET_KEY", "s"),
    ];
    let tickers = portfolio();
    let list = tickers.join(",");
    let end = "2025-05-30";
    let args = [
        &base_args(provider, &list)[..],
        &["--days", "252", "--end", end, "--json"],
    ]
    .concat();
    let out = env.run_with(&args, &keys).await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let doc = crate::harness::stdout_json(&out);
    assert_eq!(doc["totals"]["saved"], 40, "{doc}");
    assert_eq!(doc["totals"]["retries"], 0, "{doc}");
    assert_eq!(doc["totals"]["requests"], 40, "one fetch a ticker: {doc}");
    assert_eq!(
        env.sim.stats().requests_total,
        40 * requests_each,
        "HTTP requests, every page included"
    );
    env.assert_store_matches(&tickers, 252, end.parse().unwrap());

    let before = env.sim.stats().requests_total;
    let out = env.run_with(&args, &keys).await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(crate::harness::stdout_json(&out)["totals"]["requests"], 0);
    assert_eq!(
        env.sim.stats().requests_total,
        before,
        "a rerun sends nothing"
    );

    let other = env.dir.path().join("via-yahoo");
    let yahoo = [
        &base_args("yahoo", &list)[..],
        &[
            "--days",
            "252",
            "--end",
            end,
            "-q",
            "--store",
            other.to_str().unwrap(),
        ],
    ]
    .concat();
    let out = env.run(&yahoo).await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let (mine, yahoos) = (
        Store::open(env.store_dir()).unwrap(),
        Store::open(&other).unwrap(),
    );
    for t in &tickers {
        let sym = Symbol::parse(t).unwrap();
        let bars = mine.read_bars(&sym, Interval::D1, None).unwrap();
        assert!(bars.len() >= 250, "{t}: {} bars", bars.len());
        assert_eq!(
            bars,
            yahoos.read_bars(&sym, Interval::D1, None).unwrap(),
            "{t}: {provider} and yahoo stored different bars"
        );
        // Capital gains are Yahoo's alone (fund distributions); Tiingo and Alpaca have none.
        let no_gains = |actions: Vec<Action>| -> Vec<Action> {
            actions
                .into_iter()
                .filter(|x| !matches!(x.kind, ActionKind::CapitalGain { .. }))
                .collect()
        };
        assert_eq!(
            no_gains(mine.read_actions(&sym).unwrap()),
            no_gains(yahoos.read_actions(&sym).unwrap()),
            "{t}: dividends and splits"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_tickers_through_tiingo_equal_the_market_and_yahoo() {
    // One request a ticker: bars, dividends and splits in one answer.
    forty_tickers_through("tiingo", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_tickers_through_alpaca_equal_the_market_and_yahoo() {
    // Two pages of split-adjusted bars, two of split- and dividend-adjusted, one of actions.
    forty_tickers_through("alpaca", 5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_judges_a_series_with_no_recorded_provider_by_the_configured_default_provider() {
    // 5-minute bars over 100 sessions of an empty store: Yahoo keeps 60 days of them, so `check`
    // under the default provider calls the older sessions not available; under Alpaca (no
    // lookback) every session is missing.
    let env = Env::start_at(NOW, keyed()).await;
    std::fs::create_dir_all(env.store_dir()).unwrap();
    let config = env.dir.path().join("alpaca.toml");
    std::fs::write(&config, "[defaults]\nprovider = \"alpaca\"\n").unwrap();
    let args = [
        "check",
        "--tickers",
        "AAPL",
        "--interval",
        "5m",
        "--days",
        "100",
        "--json",
        "--now",
        NOW,
    ];
    let counts = |out: &std::process::Output| {
        assert_eq!(out.status.code(), Some(0), "{}", describe(out));
        let doc: serde_json::Value = serde_json::from_str(&stdout(out)).unwrap();
        let t = doc["tickers"][0].clone();
        assert_eq!(t["sessions"], 100, "{t}");
        (
            t["missing"].as_u64().unwrap(),
            t["not_available"].as_u64().unwrap(),
        )
    };
    let (missing, not_available) = counts(&env.run(&args).await);
    assert!(
        not_available > 0 && missing + not_available == 100,
        "{missing} {not_available}"
    );
    let alpaca = env
        .run(&[&args[..], &["--config", config.to_str().unwrap()]].concat())
        .await;
    assert_eq!(counts(&alpaca), (100, 0));
}
