//! No input can panic: random strings and numbers for every flag of every subcommand, and random
//! config files, go through the same parsing and resolution as `main` (and, for commands that
//! plan, the window computation that once aborted on `--days 1000000000`). Each case must end
//! with the exit status `main` would give (0 to 3) and a message, never a panic.

use std::fmt::Write as _;
use std::path::Path;

use backfill_engine::calendar_for;
use backfill_engine::plan::{WindowSpec, window_sessions};
use clap::Parser;
use proptest::prelude::*;

use crate::args::{Cli, Command};
use crate::config::ConfigFile;
use crate::exit::UsageError;
use crate::settings::Settings;

/// Every subcommand with the flags it takes, plus a few it does not.
const COMMANDS: &[(&str, &[&str])] = &[
    ("", RUN_FLAGS),
    ("run", RUN_FLAGS),
    ("plan", RUN_FLAGS),
    (
        "check",
        &[
            "--tickers",
            "--days",
            "--start",
            "--end",
            "--interval",
            "--store",
            "--strict",
            "--json",
            "--now",
            "--rate",
        ],
    ),
    (
        "dashboard",
        &[
            "--tickers",
            "--days",
            "--end",
            "--store",
            "--addr",
            "--dashboard-token",
            "--now",
        ],
    ),
    (
        "demo",
        &[
            "--tickers",
            "--days",
            "--interval",
            "--keep",
            "--latency-ms",
            "--json",
            "--workers",
        ],
    ),
    (
        "sim",
        &[
            "--port",
            "--latency-ms",
            "--jitter-ms",
            "--rate",
            "--retry-after",
            "--fail-rate",
            "--max-conns",
            "--seed",
            "--unknown-prefix",
            "--bad-bars",
            "--clock",
            "--store",
        ],
    ),
    (
        "sessions",
        &["--exchange", "--from", "--to", "--json", "--days"],
    ),
    ("config", &["--example", "--days"]),
    ("completions", &["--json"]),
];

const RUN_FLAGS: &[&str] = &[
    "--tickers",
    "--days",
    "--start",
    "--end",
    "--interval",
    "--store",
    "--workers",
    "--rate",
    "--retries",
    "--no-gaps",
    "--invalid-bars",
    "--yahoo-url",
    "--json",
    "--dry-run",
    "--dashboard",
    "--dashboard-token",
    "--dashboard-linger",
    "--now",
    "--color",
    "-v",
    "-q",
];

/// Values that once broke something, or sit on a boundary, or are near misses.
const EDGES: &[&str] = &[
    "",
    "-5",
    "0",
    "-0",
    "1",
    "1e-20",
    "1e300",
    "NaN",
    "inf",
    "-inf",
    "1000000000",
    "18446744073709551616",
    "54900",
    "54901",
    "1D",
    "1wk",
    "2024-02-30",
    "1899-12-31",
    "1900-01-01",
    "2100-12-31",
    "2101-01-01",
    "2030-01-01",
    "9999-12-31",
    "http://",
    "ftp://x",
    "http://127.0.0.1:1",
    "MSFT,,AIR.PA",
    "../etc/passwd",
    "XNYS",
    "24/7",
    "bash",
    "always",
    "keep",
    "2024-07-01T20:00:00Z",
    "--days",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(EDGES).prop_map(str::to_owned),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
        (0u32..60_000).prop_map(|n| n.to_string()),
        "\\PC{0,16}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}",
    ]
}

fn command_line() -> impl Strategy<Value = Vec<String>> {
    (0..COMMANDS.len()).prop_flat_map(|i| {
        let (name, flags) = COMMANDS[i];
        proptest::collection::vec(
            (proptest::sample::select(flags), value(), any::<bool>()),
            0..6,
        )
        .prop_map(move |pairs| {
            let mut args = vec!["backfill".to_owned()];
            if !name.is_empty() {
                args.push(name.to_owned());
            }
            for (flag, v, joined) in pairs {
                if joined && flag.starts_with("--") {
                    args.push(format!("{flag}={v}"));
                } else {
                    args.push(flag.to_owned());
                    args.push(v);
                }
            }
            args
        })
    })
}

/// The exit status `main` would give, and the message it would print, without running anything
/// that talks to the network or writes.
fn outcome(args: &[String]) -> (u8, String) {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => return (if e.use_stderr() { 2 } else { 0 }, e.to_string()),
    };
    match resolve(cli) {
        Ok(msg) => (0, msg),
        Err(e) => {
            let usage = e.chain().any(|c| c.downcast_ref::<UsageError>().is_some());
            (if usage { 2 } else { 3 }, format!("{e:#}"))
        }
    }
}

fn windows(s: &Settings) -> String {
    let mut n = 0;
    for symbol in s.tickers.iter().take(3) {
        let cal = calendar_for(None, symbol, None, &s.closures)
            .expect("no store, nothing to read")
            .calendar;
        let spec = WindowSpec {
            start: s.start,
            end: s.end,
            days: s.days,
        };
        n += window_sessions(&cal, spec, s.now, s.interval.is_intraday()).len();
    }
    format!("{n} sessions")
}

fn resolve(cli: Cli) -> anyhow::Result<String> {
    Ok(match cli.command {
        None => {
            crate::settings::DashboardSettings::from_flags(&cli.run.dashboard)?;
            windows(&Settings::resolve(
                &cli.run.select,
                Some(&cli.run.fetch),
                true,
            )?)
        }
        Some(Command::Run(a)) => {
            crate::settings::DashboardSettings::from_flags(&a.dashboard)?;
            windows(&Settings::resolve(&a.select, Some(&a.fetch), true)?)
        }
        Some(Command::Plan(a)) => windows(&Settings::resolve(&a.select, Some(&a.fetch), true)?),
        Some(Command::Check(a)) => windows(&Settings::resolve(&a.select, None, false)?),
        Some(Command::Demo(a)) => {
            let example = ConfigFile::parse(crate::config::EXAMPLE, Path::new("example"))?;
            let select = crate::args::SelectArgs {
                tickers: a.tickers,
                days: a.days,
                interval: a.interval,
                ..Default::default()
            };
            windows(&Settings::resolve_with(
                &select, None, true, &example, None,
            )?)
        }
        Some(Command::Sim(a)) => format!("{:?}", crate::commands::sim::config(&a)?.rate),
        Some(Command::Sessions(a)) => {
            let ex = backfill_calendar::Exchange::parse(&a.exchange)
                .map_err(|e| UsageError(e.to_string()))?;
            let n = backfill_calendar::Calendar::new(ex)
                .sessions(a.from, a.to)
                .len();
            format!("{n} sessions")
        }
        Some(Command::Config(_)) => crate::config::EXAMPLE.to_owned(),
        Some(Command::Completions(a)) => format!("{:?}", a.shell),
        Some(Command::Dashboard(a)) => {
            crate::settings::DashboardSettings::new(&a.addr, a.dashboard_token, 0)?;
            windows(&Settings::resolve(&a.select, None, false)?)
        }
    })
}

/// Random config files: every key, with random values of every TOML type, sometimes broken.
fn config_text() -> impl Strategy<Value = String> {
    let key = proptest::sample::select(
        &[
            "days",
            "interval",
            "workers",
            "rate",
            "retries",
            "invalid_bars",
            "store",
            "yahoo_url",
            "dayz",
        ][..],
    );
    let toml_value = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:?}")),
        value().prop_map(|s| format!("{s:?}")),
        Just("true".to_owned()),
        Just("[1, \"a\"]".to_owned()),
        Just("2024-01-09".to_owned()),
        "\\PC{0,8}",
    ];
    (
        proptest::collection::vec((key, toml_value), 0..5),
        proptest::collection::vec(value(), 0..3),
        any::<bool>(),
    )
        .prop_map(|(defaults, tickers, closures)| {
            let list: Vec<String> = tickers.iter().map(|t| format!("{t:?}")).collect();
            let mut text = format!("tickers = [{}]\n[defaults]\n", list.join(", "));
            for (k, v) in defaults {
                let _ = writeln!(text, "{k} = {v}");
            }
            if closures {
                text.push_str("[closures]\nXNYS = [\"2025-01-09\", 2025-01-10]\n");
            }
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_command_line_panics(args in command_line()) {
        let (code, message) = outcome(&args);
        prop_assert!(code <= 3, "{args:?}: exit {code}");
        prop_assert!(!message.trim().is_empty(), "{args:?}: exit {code} without a message");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_config_file_panics(text in config_text()) {
        match ConfigFile::parse(&text, Path::new("backfill.toml")) {
            Ok(_) => {}
            Err(e) => {
                let shown = e.to_string();
                prop_assert!(shown.contains("backfill.toml"), "{shown}");
                prop_assert!(shown.contains("hint:"), "{shown}");
            }
        }
    }
}

#[test]
fn the_inputs_that_once_broke_now_say_why() {
    let run = |a: &[&str]| outcome(&a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
    for bad in [
        &["backfill", "--days", "1000000000"][..],
        &["backfill", "--rate", "1e-20"],
        &["backfill", "--yahoo-url", "not a url"],
        &["backfill", "--days", "-5"],
        &["backfill", "sim", "--no-gaps"],
        &["backfill", "sim", "--store", "x"],
        &["backfill", "check", "--rate", "2"],
        &["backfill", "--tickers", "MSFT", "--start", "2030-01-01"],
    ] {
        let (code, msg) = run(bad);
        assert_eq!(code, 2, "{bad:?}: {msg}");
    }
}
