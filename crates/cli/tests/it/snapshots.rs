//! What a user reads, pinned: every `--help`, and the main outputs of `run` (with a grouped
//! failure table), `check`, `plan` and `demo`. Temp paths, the simulator's port and timings are
//! replaced by placeholders; every date is fixed by `--now`/`--end` or the simulator's clock.

use std::process::Output;

use backfill_sim::SimConfig;

use crate::harness::{Env, describe};

const NOW: &str = "2024-07-01T00:00:00Z";

fn text(out: &Output) -> String {
    format!(
        "exit: {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Filters for what moves between runs: the temp dir, the simulator's URL, durations.
fn filters(env: &Env) -> Vec<(String, String)> {
    let dir = env.dir.path().canonicalize().unwrap();
    vec![
        (regex_escape(&dir.display().to_string()), "[TMP]".to_owned()),
        (
            regex_escape(&env.dir.path().display().to_string()),
            "[TMP]".to_owned(),
        ),
        (r"http://127\.0\.0\.1:\d+".to_owned(), "[SIM]".to_owned()),
        (r"\d+\.\d+s\b".to_owned(), "[SECS]".to_owned()),
        (r"\d+ ms\b".to_owned(), "[MS] ms".to_owned()),
        (r"/tmp/backfill-demo-\d+".to_owned(), "[DEMO]".to_owned()),
        (
            r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z".to_owned(),
            "[TS]".to_owned(),
        ),
    ]
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

macro_rules! snap {
    ($env:expr, $name:expr, $value:expr) => {{
        let mut settings = insta::Settings::clone_current();
        for (pattern, replacement) in filters($env) {
            settings.add_filter(&pattern, replacement);
        }
        settings.set_snapshot_path("snapshots");
        settings.set_prepend_module_to_snapshot(false);
        settings.bind(|| insta::assert_snapshot!($name, $value));
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_help_is_pinned() {
    let env = Env::start(SimConfig::default()).await;
    for cmd in [
        "",
        "run",
        "check",
        "plan",
        "demo",
        "sim",
        "sessions",
        "config",
        "completions",
    ] {
        let mut args: Vec<&str> = Vec::new();
        if !cmd.is_empty() {
            args.push(cmd);
        }
        args.push("--help");
        let out = env.run(&args).await;
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        let name = if cmd.is_empty() {
            "help".to_owned()
        } else {
            format!("help_{cmd}")
        };
        snap!(&env, name, String::from_utf8_lossy(&out.stdout));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_check_and_plan_outputs_are_pinned() {
    let env = Env::start(SimConfig {
        now: Some(NOW.parse().unwrap()),
        ..SimConfig::default()
    })
    .await;
    let window = ["--end", "2024-06-28", "--days", "5", "--now", NOW];
    let out = env
        .run(
            &[
                &["plan", "--tickers", "MSFT,AIR.PA", "--rate", "2"][..],
                &window[..],
            ]
            .concat(),
        )
        .await;
    snap!(&env, "plan", text(&out));
    // ZZ… symbols are unknown to the simulator: a group of two, with one hint.
    let out = env
        .run(
            &[
                &[
                    "--tickers",
                    "MSFT,AIR.PA,ZZONE,ZZTWO",
                    "--rate",
                    "0",
                    "--workers",
                    "1",
                ][..],
                &window[..],
            ]
            .concat(),
        )
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    snap!(&env, "run_with_failures", text(&out));
    let out = env
        .run(
            &[
                &["check", "--tickers", "MSFT,AIR.PA", "--end", "2024-06-28"][..],
                &["--days", "8", "--now", NOW],
            ]
            .concat(),
        )
        .await;
    snap!(&env, "check_with_holes", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_output_is_pinned() {
    let env = Env::start(SimConfig::default()).await;
    let out = env
        .run(&[
            "demo",
            "--tickers",
            "MSFT,AIR.PA",
            "--days",
            "5",
            "--latency-ms",
            "0",
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    // Stdout only: with 16 workers the order of stderr's progress lines varies.
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    // The dates of a demo follow the real clock: pin the shape, not the dates.
    let shapes = regex_lite_dates(&shown);
    snap!(&env, "demo", shapes);
}

/// Replaces `YYYY-MM-DD` dates with a placeholder (the demo runs on today's calendar).
fn regex_lite_dates(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        let is_date = i + 10 <= b.len()
            && b[i..i + 4].iter().all(u8::is_ascii_digit)
            && b[i + 4] == b'-'
            && b[i + 5..i + 7].iter().all(u8::is_ascii_digit)
            && b[i + 7] == b'-'
            && b[i + 8..i + 10].iter().all(u8::is_ascii_digit);
        if is_date {
            out.push_str("[DATE]");
            i += 10;
        } else {
            let c = s[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}
