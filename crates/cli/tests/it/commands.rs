//! `check`, `plan`, Ctrl-C and `sessions`, checked from outside.

use std::time::Duration;

use backfill_sim::SimConfig;

use crate::harness::{Env, describe, portfolio, session_dates, stdout_json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_counts_missing_sessions_against_the_calendar() {
    let env = Env::start(SimConfig::default()).await;
    let select = ["--tickers", "MSFT,OCDO.L", "--end", "2024-07-05"];
    let out = env
        .run(&[&select[..], &["--rate", "0", "--days", "20", "-q"]].concat())
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));

    // The same window: nothing missing; --strict passes.
    let out = env
        .run(
            &[
                &["check"][..],
                &select[..],
                &["--days", "20", "--json", "--strict"],
            ]
            .concat(),
        )
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let doc = stdout_json(&out);
    for t in doc["tickers"].as_array().unwrap() {
        assert_eq!(t["missing"], 0, "{t}");
        assert_eq!(t["sessions"], 20, "{t}");
        assert_eq!(t["stored"], 20, "{t}");
        assert_eq!(t["rows"], 20, "{t}");
        assert!(t["last_fetched"].is_string(), "{t}");
    }
    let msft = &doc["tickers"][0];
    assert_eq!(msft["symbol"], "MSFT");
    // 2024-07-04 is a US holiday, not a missing session: the window's last session is the 5th.
    assert_eq!(msft["window_last"], "2024-07-05");
    let ocdo = &doc["tickers"][1];
    assert_eq!(
        ocdo["currency"], "GBp",
        "minor-unit currency is kept: {ocdo}"
    );

    // A wider window: exactly the 10 older sessions are missing, and --strict fails.
    let out = env
        .run(
            &[
                &["check"][..],
                &select[..],
                &["--days", "30", "--json", "--strict"],
            ]
            .concat(),
        )
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    for t in stdout_json(&out)["tickers"].as_array().unwrap() {
        assert_eq!(t["missing"], 10, "{t}");
        let holes = t["holes"].as_array().unwrap();
        assert_eq!(holes.len(), 1, "one run of 10 older sessions: {t}");
        assert_eq!(holes[0]["sessions"], 10, "{t}");
    }
    assert_eq!(env.sim.stats().chart_requests, 2, "check sends no request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_shows_the_requests_and_sends_none() {
    let env = Env::start(SimConfig::default()).await;
    let base = [
        "--tickers",
        "MSFT,AIR.PA,BTC-USD",
        "--end",
        "2024-07-05",
        "--days",
        "252",
        "--rate",
        "4",
    ];
    let out = env
        .run(&[&["plan"][..], &base[..], &["--json"]].concat())
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let doc = stdout_json(&out);
    assert_eq!(doc["totals"]["requests"], 3);
    assert_eq!(doc["totals"]["estimated_secs"], 0.5);
    let tickers = doc["tickers"].as_array().unwrap();
    assert_eq!(tickers[0]["exchange"], "XNYS");
    assert_eq!(tickers[1]["exchange"], "XPAR");
    assert_eq!(tickers[2]["exchange"], "24/7");
    assert_eq!(tickers[2]["missing"], 252);
    // --dry-run is the same.
    let out = env.run(&[&base[..], &["--dry-run"]].concat()).await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 tickers, 3 requests"));
    assert_eq!(env.sim.stats().requests_total, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_saves_what_was_done_exits_130_and_the_rerun_resumes() {
    let env = Env::start(SimConfig {
        latency: Duration::from_millis(100),
        ..SimConfig::default()
    })
    .await;
    let tickers = portfolio();
    let list = tickers.join(",");
    let args = [
        "--tickers",
        &list,
        "--days",
        "252",
        "--workers",
        "2",
        "--rate",
        "0",
        "--end",
        "2024-06-28",
        "--json",
    ];
    let child = env
        .command(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // With two workers, a third request goes out only after a ticker has committed: interrupt then.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while env.sim.stats().chart_requests < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never got going"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let pid = child.id().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", describe(&out));
    let doc = stdout_json(&out);
    assert_eq!(doc["totals"]["interrupted"], true);
    // Every ticker not finished is `interrupted`, not `failed`, and counted as such.
    let statuses: Vec<&str> = doc["tickers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses
            .iter()
            .all(|s| matches!(*s, "saved" | "interrupted")),
        "{statuses:?}"
    );
    let stopped = statuses.iter().filter(|s| **s == "interrupted").count();
    assert!(stopped > 0, "{statuses:?}");
    assert_eq!(doc["totals"]["interrupted_tickers"], stopped);
    assert_eq!(doc["totals"]["failed"], 0);
    let saved = doc["totals"]["saved"].as_u64().unwrap();
    assert!(
        saved > 0 && saved < 40,
        "some tickers were saved before the interrupt: {saved}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));

    env.sim.reset();
    let out = env.run(&args).await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let doc = stdout_json(&out);
    assert_eq!(
        doc["totals"]["up_to_date"].as_u64().unwrap(),
        saved,
        "what was saved is not asked again"
    );
    assert_eq!(env.sim.stats().chart_requests, 40 - saved);
    env.assert_store_matches(&tickers, 252, "2024-06-28".parse().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_prints_json_with_utc_instants() {
    let env = Env::start(SimConfig::default()).await;
    let v = env.sessions("XNYS", "2024-11-25", "2024-11-29").await;
    let days = session_dates(&v);
    assert_eq!(
        days,
        ["2024-11-25", "2024-11-26", "2024-11-27", "2024-11-29"],
        "Thanksgiving is closed"
    );
    assert_eq!(v[3]["open"], "2024-11-29T14:30:00Z");
    assert_eq!(
        v[3]["close"], "2024-11-29T18:00:00Z",
        "the day after Thanksgiving closes at 13:00 New York"
    );
    let out = env
        .run(&[
            "sessions",
            "--exchange",
            "NOPE",
            "--from",
            "2024-11-25",
            "--to",
            "2024-11-29",
        ])
        .await;
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_of_hong_kong_show_the_lunch_break_and_lunar_new_year() {
    let env = Env::start(SimConfig::default()).await;
    let v = env.sessions("XHKG", "2024-02-08", "2024-02-15").await;
    let days = session_dates(&v);
    assert_eq!(
        days,
        ["2024-02-08", "2024-02-09", "2024-02-14", "2024-02-15"],
        "closed for Lunar New Year on the 12th and 13th"
    );
    assert_eq!(v[0]["open"], "2024-02-08T01:30:00Z");
    assert_eq!(v[0]["break_start"], "2024-02-08T04:00:00Z");
    assert_eq!(v[0]["break_end"], "2024-02-08T05:00:00Z");
    assert_eq!(v[0]["close"], "2024-02-08T08:00:00Z");
    // Lunar New Year's Eve: morning only.
    assert_eq!(v[1]["close"], "2024-02-09T04:00:00Z");
    assert_eq!(v[1]["early_close"], true);
    assert!(v[1].get("break_start").is_none(), "{}", v[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closure_in_the_config_file_is_not_a_session_and_not_missing() {
    let env = Env::start(SimConfig::default()).await;
    // A made-up closure on an ordinary Wednesday, as an exchange might announce at short notice.
    std::fs::write(
        env.dir.path().join("backfill.toml"),
        "tickers = [\"MSFT\"]\n[closures]\nXNYS = [\"2024-07-10\"]\n",
    )
    .unwrap();
    let out = env
        .run(&[
            "sessions",
            "--exchange",
            "XNYS",
            "--from",
            "2024-07-08",
            "--to",
            "2024-07-12",
            "--json",
        ])
        .await;
    let days: Vec<String> = stdout_json(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["date"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        days,
        ["2024-07-08", "2024-07-09", "2024-07-11", "2024-07-12"]
    );
    let out = env
        .run(&["plan", "--days", "5", "--end", "2024-07-12", "--json"])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        stdout_json(&out)["tickers"][0]["first"],
        "2024-07-05",
        "five sessions skip the closure"
    );
}
