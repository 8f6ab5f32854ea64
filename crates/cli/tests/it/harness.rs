//! Starts a simulator, runs the binary, compares the store with ground truth.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output};

use backfill_calendar::{Calendar, Exchange, exchange_for_symbol};
use backfill_domain::jiff::civil::Date;
use backfill_domain::{Interval, Symbol, TimeRange};
use backfill_sim::{SimConfig, SimServer};
use backfill_store::Store;

/// The 40-ticker example portfolio.
pub fn portfolio() -> Vec<String> {
    let text = include_str!("../../../../backfill.example.toml");
    let start = text.find("tickers = [").unwrap();
    let end = start + text[start..].find(']').unwrap();
    text[start..end]
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

pub struct Env {
    pub sim: SimServer,
    pub dir: tempfile::TempDir,
}

impl Env {
    pub async fn start(config: SimConfig) -> Env {
        let sim = SimServer::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        Env {
            sim,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A simulator whose clock stands at `now` (RFC 3339), and an empty temp dir.
    pub async fn start_at(now: &str, config: SimConfig) -> Env {
        Env::start(SimConfig {
            now: Some(now.parse().unwrap()),
            ..config
        })
        .await
    }

    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// The binary, in the temp dir (so no `backfill.toml` is picked up), against this simulator
    /// and this store (through their environment variables, which only the subcommands that
    /// take `--store` and the provider URLs read), with no provider key from the environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_backfill"));
        cmd.current_dir(self.dir.path())
            .env_remove("BACKFILL_CONFIG")
            .env_remove("NO_COLOR")
            .env_remove("TIINGO_API_KEY")
            .env_remove("APCA_API_KEY_ID")
            .env_remove("APCA_API_SECRET_KEY")
            .env("BACKFILL_STORE", self.store_dir())
            .env("BACKFILL_YAHOO_URL", self.sim.url())
            .env("BACKFILL_TIINGO_URL", self.sim.url())
            .env("BACKFILL_ALPACA_URL", self.sim.url())
            .args(args);
        cmd
    }

    /// Runs the binary to completion off the async runtime.
    pub async fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &[]).await
    }

    /// As [`Env::run`], with these environment variables set.
    pub async fn run_with(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        let mut cmd = self.command(args);
        cmd.envs(vars.iter().copied());
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap()
    }

    /// `backfill sessions --exchange EX --from A --to B --json`, which must succeed: the JSON list.
    pub async fn sessions(&self, exchange: &str, from: &str, to: &str) -> serde_json::Value {
        let out = self
            .run(&[
                "sessions",
                "--exchange",
                exchange,
                "--from",
                from,
                "--to",
                to,
                "--json",
            ])
            .await;
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        stdout_json(&out)
    }

    /// Asserts the store holds exactly the simulator's bars for each ticker's window of `days`
    /// sessions ending at `end`: none missing, none duplicated, values equal.
    pub fn assert_store_matches(&self, tickers: &[String], days: usize, end: Date) {
        let store = Store::open(self.store_dir()).unwrap();
        let now = self.sim.now();
        for t in tickers {
            let symbol = Symbol::parse(t).unwrap();
            let range = window_range(&symbol, days, end);
            let truth = self.sim.market().bars(&symbol, Interval::D1, range, now);
            let stored = store.read_bars(&symbol, Interval::D1, Some(range)).unwrap();
            assert!(
                !truth.is_empty(),
                "{t}: the simulator has bars in the window"
            );
            assert_eq!(stored.len(), truth.len(), "{t}: row count");
            assert_eq!(
                stored, truth,
                "{t}: stored bars differ from what the server has"
            );
            let all = store.read_bars(&symbol, Interval::D1, None).unwrap();
            let mut ts: Vec<_> = all.iter().map(|b| b.ts).collect();
            ts.dedup();
            assert_eq!(ts.len(), all.len(), "{t}: duplicate rows");
        }
    }
}

/// `[00:00 of the first session, 00:00 after the last)` in the exchange's zone.
pub fn window_range(symbol: &Symbol, days: usize, end: Date) -> TimeRange {
    let cal = Calendar::new(exchange_for_symbol(symbol).unwrap_or(Exchange::Weekdays));
    let sessions = cal.sessions_ending(end, days);
    let tz = cal.timezone().clone();
    let start = sessions[0]
        .date
        .to_zoned_datetime(tz.clone())
        .unwrap()
        .timestamp();
    let stop = sessions
        .last()
        .unwrap()
        .date
        .tomorrow()
        .unwrap()
        .to_zoned_datetime(tz)
        .unwrap()
        .timestamp();
    TimeRange::new(start, stop).unwrap()
}

/// The `date` of every session of a `sessions --json` list.
pub fn session_dates(list: &serde_json::Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["date"].as_str().unwrap())
        .collect()
}

pub fn stdout_json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts stderr holds `text`.
pub fn assert_says(out: &Output, text: &str) {
    assert!(
        stderr(out).contains(text),
        "expected `{text}` on stderr\n{}",
        describe(out)
    );
}

pub fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
