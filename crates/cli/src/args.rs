//! Command-line declarations. Doc comments here are the `--help` text; nothing is resolved here
//! (see `settings.rs`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::env_vars;

/// Backfill historical market data (OHLCV bars, dividends, splits) for a portfolio of tickers into
/// a Parquet store, concurrently, fetching only what is missing.
///
/// With no subcommand, runs a backfill.
#[derive(Debug, Parser)]
#[command(name = "backfill", version, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a backfill (the default when no subcommand is given).
    Run,
    /// Report what the store holds per ticker: rows, first and last session, sessions missing
    /// (calendar-aware), when last fetched.
    Check(CheckArgs),
    /// Show what a run would fetch, per ticker, without sending any request.
    Plan,
    /// Start the built-in simulator on loopback and backfill the example portfolio through it.
    Demo(DemoArgs),
    /// Run the Yahoo-compatible simulator.
    Sim(SimArgs),
    /// Print an exchange's sessions with their open and close times.
    Sessions(SessionsArgs),
}

/// Options shared by `run`, `plan` and `check`.
#[derive(Debug, Args, Default)]
pub struct CommonArgs {
    /// Tickers, comma-separated (e.g. `MSFT,AIR.PA,^GSPC`). Default: the portfolio in the config file.
    #[arg(long, global = true, value_delimiter = ',', value_name = "A,B,C")]
    pub tickers: Option<Vec<String>>,

    /// Number of trading sessions of each ticker's exchange, ending with `--end` (252 ≈ one year).
    #[arg(long, global = true, value_name = "N")]
    pub days: Option<usize>,

    /// First session date (YYYY-MM-DD); overrides `--days`.
    #[arg(long, global = true, value_name = "DATE")]
    pub start: Option<String>,

    /// Last session date (YYYY-MM-DD). Default: the latest session that has closed.
    #[arg(long, global = true, value_name = "DATE")]
    pub end: Option<String>,

    /// Maximum requests in flight. Default: enough to keep the rate limit busy at 2 s latency
    /// (rate × 2, between 4 and 64; 32 without a rate limit).
    #[arg(long, global = true, value_name = "N")]
    pub workers: Option<usize>,

    /// Ignore the coverage ledger and re-download the whole range (upserting).
    #[arg(long, global = true)]
    pub no_gaps: bool,

    /// Bars that fail validation (high below open/close, non-positive price, negative volume, off
    /// session, …): `keep` stores them as sent and flags them for `check`; `drop` leaves them out.
    /// Either way they are counted in the report. Default: keep.
    #[arg(long, global = true, value_name = "keep|drop")]
    pub invalid_bars: Option<String>,

    /// Bar interval: 1m 2m 5m 15m 30m 60m/1h 90m 1d 1wk 1mo. Default: 1d.
    #[arg(long, global = true, value_name = "INTERVAL")]
    pub interval: Option<String>,

    /// Where the store is: a directory, `file:///…`, `s3://bucket/prefix`, `gs://bucket/prefix`
    /// or `az://container/prefix` (credentials from the cloud's environment variables and the
    /// `[store]` table of backfill.toml). Default: `./data`.
    #[arg(long, global = true, env = env_vars::BACKFILL_STORE, value_name = "DIR|URL")]
    pub store: Option<PathBuf>,

    /// Requests per second to the provider, shared by all workers; 0 means no limit. Default: 2.
    #[arg(long, global = true, value_name = "R")]
    pub rate: Option<f64>,

    /// Retries per request for throttled and transient failures. Default: 5.
    #[arg(long, global = true, value_name = "N")]
    pub retries: Option<u32>,

    /// Yahoo base URL (every Yahoo endpoint is requested from it). Default: `https://query2.finance.yahoo.com`
    #[arg(long, global = true, env = env_vars::BACKFILL_YAHOO_URL, value_name = "URL")]
    pub yahoo_url: Option<String>,

    /// Config file. Default: `backfill.toml` in the current directory, if present.
    #[arg(long, global = true, env = env_vars::BACKFILL_CONFIG, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print one JSON document to stdout instead of tables.
    #[arg(long, global = true)]
    pub json: bool,

    /// Print nothing but errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Log more (repeat for more detail).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Show what would be fetched and exit, like `backfill plan`.
    #[arg(long, global = true)]
    pub dry_run: bool,

    /// Pretend the time is this RFC 3339 instant (for reproducible runs against a simulator).
    #[arg(long, global = true, hide = true, value_name = "INSTANT")]
    pub now: Option<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Exit non-zero when any session of the requested window is missing.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Simulated latency per request, in milliseconds.
    #[arg(long, default_value_t = 50)]
    pub latency_ms: u64,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Port on 127.0.0.1; 0 picks a free port and prints it.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Latency added to each request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Random extra latency, up to this many milliseconds.
    #[arg(long, default_value_t = 0)]
    pub jitter_ms: u64,
    /// Requests per second allowed (no burst); above it the simulator answers HTTP 429. 0: no limit.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Seconds to send in `Retry-After` with each 429.
    #[arg(long)]
    pub retry_after: Option<u64>,
    /// Fraction of requests that fail (500/502/503, resets, truncated bodies, malformed JSON).
    #[arg(long, default_value_t = 0.0)]
    pub fail_rate: f64,
    /// Maximum connections served at once.
    #[arg(long)]
    pub max_conns: Option<usize>,
    /// Seed for prices and injected failures.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Require Yahoo's cookie and crumb on chart requests.
    #[arg(long)]
    pub require_crumb: bool,
    /// Symbols starting with this prefix are unknown (HTTP 404). Repeatable.
    #[arg(long = "unknown-prefix", value_name = "PREFIX")]
    pub unknown_prefixes: Vec<String>,
    /// Fraction of served bars that are deliberately invalid (deterministic per bar).
    #[arg(long, default_value_t = 0.0)]
    pub bad_bars: f64,
    /// Serve about one invalid bar in ten for this symbol. Repeatable.
    #[arg(long = "bad-symbol", value_name = "SYMBOL")]
    pub bad_symbols: Vec<String>,
    /// Append Yahoo's trailing "live" row after period2 while a session is open.
    #[arg(long)]
    pub live_row: bool,
    /// Fix the simulator's clock at this RFC 3339 instant (default: real time).
    #[arg(long = "clock", value_name = "INSTANT")]
    pub clock: Option<String>,
}

#[derive(Debug, Args)]
pub struct SessionsArgs {
    /// Exchange: XNYS XLON XPAR XAMS XETR XSWX XMIL XMAD XSTO XJSE XTSE BVMF XASX XTKS XHKG XSHG
    /// XSHE XBOM XKRX XTAI XSES 24/7 24/5.
    #[arg(long)]
    pub exchange: String,
    /// First date (YYYY-MM-DD).
    #[arg(long)]
    pub from: String,
    /// Last date (YYYY-MM-DD), inclusive.
    #[arg(long)]
    pub to: String,
}
