//! Issue 15's table, row by row: what a new user did, and what now happens instead. Plus the
//! read-only store of issue 10 (`check` and `plan` write nothing).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use backfill_sim::SimConfig;

use crate::harness::{Env, assert_says, describe, stderr, stdout, stdout_json};

const NOW: &str = "2024-12-02T08:00:00Z";

/// Every file and directory under `root` with its size and modification time.
fn tree(root: &Path) -> BTreeMap<String, (u64, SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            out.insert(
                e.path().display().to_string(),
                (m.len(), m.modified().unwrap()),
            );
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    out
}

fn set_read_only(root: &Path, read_only: bool) {
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let m = std::fs::metadata(&p).unwrap();
        let mut perms = m.permissions();
        perms.set_readonly(read_only);
        std::fs::set_permissions(&p, perms).unwrap();
        if m.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_path_with_a_typo_is_an_error_and_nothing_is_created() {
    let env = Env::start_at(NOW, SimConfig::default()).await;
    let typo = env.dir.path().join("doesnotexist");
    let out = env
        .run(&[
            "check",
            "--store",
            typo.to_str().unwrap(),
            "--strict",
            "--now",
            NOW,
        ])
        .await;
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert_says(&out, "does not exist");
    assert_says(&out, "hint:");
    assert!(!typo.exists(), "check created the store");
    let out = env
        .run(&[
            "plan",
            "--store",
            typo.to_str().unwrap(),
            "--tickers",
            "MSFT",
            "--now",
            NOW,
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_says(&out, "does not exist yet");
    assert!(!typo.exists(), "plan created the store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hole_between_two_runs_is_listed_as_a_range_and_the_window_is_stated() {
    let env = Env::start_at(NOW, SimConfig::default()).await;
    let fetch = ["--rate", "0", "--now", NOW, "-q"];
    let first = [
        &[
            "--tickers",
            "MSFT",
            "--start",
            "2024-01-02",
            "--end",
            "2024-06-28",
        ][..],
        &fetch[..],
    ]
    .concat();
    assert_eq!(env.run(&first).await.status.code(), Some(0));
    // The default run: the last 20 sessions up to now.
    let second = [&["--tickers", "MSFT", "--days", "20"][..], &fetch[..]].concat();
    assert_eq!(env.run(&second).await.status.code(), Some(0));

    let out = env
        .run(&[
            "check",
            "--tickers",
            "MSFT",
            "--strict",
            "--now",
            NOW,
            "--json",
        ])
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let t = &stdout_json(&out)["tickers"][0];
    assert_eq!(t["window_first"], "2024-01-02", "{t}");
    assert_eq!(
        t["window_last"], "2024-11-29",
        "the latest closed session: {t}"
    );
    let holes = t["holes"].as_array().unwrap();
    assert_eq!(holes.len(), 1, "{t}");
    assert_eq!(holes[0]["first"], "2024-07-01");
    let missing = t["missing"].as_u64().unwrap();
    assert!(missing > 80, "a five-month hole: {t}");
    assert_eq!(holes[0]["sessions"].as_u64(), Some(missing));

    let out = env.run(&["check", "--tickers", "MSFT", "--now", NOW]).await;
    let text = stdout(&out);
    assert!(text.contains("stored span"), "{text}");
    assert!(text.contains("missing: 2024-07-01.."), "{text}");
    assert!(
        text.contains("backfill --tickers MSFT --start 2024-07-01"),
        "the way to fill it: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dates_in_the_future_are_refused_or_clipped_and_never_missing() {
    let env = Env::start_at(NOW, SimConfig::default()).await;
    let out = env
        .run(&["--tickers", "MSFT", "--start", "2030-01-01", "--now", NOW])
        .await;
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert_says(&out, "in the future");

    let out = env
        .run(&[
            "--tickers",
            "MSFT",
            "--start",
            "2024-11-25",
            "--end",
            "2024-12-25",
            "--now",
            NOW,
            "--rate",
            "0",
            "--json",
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_says(&out, "is in the future");
    let t = &stdout_json(&out)["tickers"][0];
    assert_eq!(
        t["last"], "2024-11-29",
        "clipped to the latest closed session: {t}"
    );
    assert!(t["rows"].as_u64().unwrap() > 0, "{t}");

    let out = env
        .run(&[
            "check",
            "--tickers",
            "MSFT",
            "--start",
            "2024-11-25",
            "--end",
            "2024-12-25",
            "--now",
            NOW,
            "--strict",
            "--json",
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(stdout_json(&out)["tickers"][0]["missing"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_tickers_are_grouped_with_one_hint_and_totals_add_up() {
    // One request per 1,000 s: after the first, every request is throttled; no retries.
    let env = Env::start_at(
        NOW,
        SimConfig {
            rate: Some(0.001),
            ..SimConfig::default()
        },
    )
    .await;
    let out = env
        .run(&[
            "--tickers",
            "AAPL,MSFT,NVDA,TSLA",
            "--days",
            "5",
            "--now",
            NOW,
            "--rate",
            "0",
            "--retries",
            "0",
            "--workers",
            "1",
        ])
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = stdout(&out);
    assert!(
        text.contains("3 tickers throttled by the provider (HTTP 429): lower `--rate`"),
        "{text}"
    );
    assert_eq!(
        text.matches("hint:").count(),
        1,
        "the provider's words once: {text}"
    );
    assert!(text.contains("4 tickers: 1 saved"), "{text}");
    assert!(text.contains("store: "), "{text}");
    assert!(
        text.contains("rerun the same command to fetch only what is missing"),
        "{text}"
    );
    assert!(!text.contains("(s)"), "{text}");
    let totals = text.lines().find(|l| l.starts_with("4 tickers:")).unwrap();
    let secs: Vec<f64> = totals
        .split_whitespace()
        .filter_map(|w| w.trim_end_matches(['s', ';']).parse().ok())
        .collect();
    let (throttled, elapsed) = (secs[secs.len() - 2], secs[secs.len() - 1]);
    assert!(throttled <= elapsed, "{totals}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_says_where_its_store_is_how_to_read_it_and_cleans_up() {
    let env = Env::start(SimConfig::default()).await;
    let args = [
        "demo",
        "--tickers",
        "MSFT",
        "--days",
        "3",
        "--latency-ms",
        "0",
    ];
    let out = env.run(&args).await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let text = stdout(&out);
    assert!(text.contains("removed"), "{text}");
    assert!(text.contains("backfill config --example"), "{text}");
    let shown = stderr(&out);
    let path = shown
        .split('`')
        .nth(1)
        .expect("the store path is shown in backticks");
    assert!(
        !Path::new(path).exists(),
        "the demo store is removed: {path}"
    );

    let kept = env.dir.path().join("kept");
    let out = env
        .run(&[&args[..], &["--keep", "--store", kept.to_str().unwrap()]].concat())
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let text = stdout(&out);
    assert!(text.contains("pd.read_parquet("), "{text}");
    assert!(text.contains(&kept.display().to_string()), "{text}");
    assert!(kept.join("bars").is_dir());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_errors_point_at_the_line_and_the_example_needs_no_repository() {
    let env = Env::start(SimConfig::default()).await;
    let file = env.dir.path().join("backfill.toml");
    std::fs::write(&file, "tickers = [\"MSFT\" \"AAPL\"]\n").unwrap();
    let out = env.run(&["plan"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = stderr(&out);
    assert!(err.contains("backfill.toml`, line 1, column"), "{err}");
    assert!(err.contains("1 | tickers = [\"MSFT\" \"AAPL\"]"), "{err}");
    assert!(err.contains("hint: `backfill config --example`"), "{err}");

    std::fs::write(&file, "tickers = [\"MSFT\"]\n[defaults]\ndays = \"5\"\n").unwrap();
    let err = stderr(&env.run(&["plan"]).await);
    assert!(err.contains("line 3, column 8"), "{err}");
    assert!(err.contains("a whole number of sessions"), "{err}");

    let out = env.run(&["config", "--example"]).await;
    assert_eq!(out.status.code(), Some(0));
    std::fs::write(&file, &out.stdout).unwrap();
    let out = env.run(&["plan", "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(stdout_json(&out)["totals"]["tickers"], 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_misses_get_a_suggestion_and_negative_numbers_a_sentence() {
    let env = Env::start(SimConfig::default()).await;
    let out = env.run(&["--tickers", "MSFT", "--interval", "1D"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert_says(&out, "did you mean `1d`?");
    let out = env.run(&["--tickers", "MSFT", "--days", "-5"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert_says(&out, "`-5` is negative");
    let out = env.run(&["--yahoo-url", "127.0.0.1:8080"]).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "a malformed URL is a usage error"
    );
    let out = env.run(&["sim", "--no-gaps"]).await;
    assert_eq!(out.status.code(), Some(2), "sim takes only its own flags");
    let out = env.run(&["sim", "--help"]).await;
    assert!(!stdout(&out).contains("--store"), "{}", describe(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_conventions() {
    let env = Env::start_at(NOW, SimConfig::default()).await;
    let args = [
        "--tickers",
        "MSFT,ZZNOPE",
        "--days",
        "3",
        "--now",
        NOW,
        "--rate",
        "0",
    ];
    let out = env.run(&[&args[..], &["--color", "always"]].concat()).await;
    assert!(stdout(&out).contains("\u{1b}["), "{}", describe(&out));
    let mut cmd = env.command(&args);
    cmd.env("NO_COLOR", "1");
    let out = cmd.output().unwrap();
    assert!(!stdout(&out).contains('\u{1b}'), "{}", describe(&out));
    let out = env.run(&[&args[..], &["--color", "never"]].concat()).await;
    assert!(!stdout(&out).contains('\u{1b}'), "{}", describe(&out));

    // -v: one line per request with its range, status and latency.
    let out = env.run(&[&args[..], &["-v", "--no-gaps"]].concat()).await;
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains(" ms")).collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("MSFT ") && l.contains("ok, 3 bars")),
        "{err}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ZZNOPE ") && l.contains("not_found")),
        "{err}"
    );

    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = env.run(&["completions", shell]).await;
        assert_eq!(out.status.code(), Some(0), "{shell}");
        assert!(stdout(&out).contains("backfill"), "{shell}");
    }
    for cmd in ["check", "plan", "demo", "sim", "sessions"] {
        let out = env.run(&[cmd, "--help"]).await;
        assert!(stdout(&out).contains("Examples:"), "{cmd}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_and_plan_work_on_a_read_only_store_and_change_nothing() {
    let env = Env::start_at(NOW, SimConfig::default()).await;
    let out = env
        .run(&[
            "--tickers",
            "MSFT,AIR.PA",
            "--days",
            "10",
            "--now",
            NOW,
            "--rate",
            "0",
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let root = env.store_dir();
    let before = tree(&root);
    set_read_only(&root, true);
    let out = env
        .run(&["check", "--now", NOW, "--strict", "--json"])
        .await;
    let check_code = out.status.code();
    let check_doc = stdout_json(&out);
    let plan = env
        .run(&[
            "plan",
            "--tickers",
            "MSFT,AIR.PA",
            "--days",
            "20",
            "--now",
            NOW,
        ])
        .await;
    set_read_only(&root, false);
    assert_eq!(check_code, Some(0), "{check_doc}");
    assert_eq!(check_doc["tickers"].as_array().unwrap().len(), 2);
    assert_eq!(plan.status.code(), Some(0), "{}", describe(&plan));
    assert_eq!(tree(&root), before, "check and plan changed the store");
}
