//! Command-line declarations. Doc comments here are the `--help` text; nothing is resolved here
//! (see `settings.rs`). Every value is parsed by `values.rs`, the same code that reads the config
//! file.
//!
//! Each subcommand declares only the flags it uses: option groups (`SelectArgs`, `FetchArgs`) are
//! flattened into the subcommands they mean something to.

use std::path::PathBuf;

use backfill_domain::Interval;
use backfill_domain::jiff::Timestamp;
use backfill_domain::jiff::civil::Date;
use backfill_engine::validate::InvalidBars;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::{env_vars, values};

const RUN_EXAMPLES: &str = "\
Examples:
  backfill --tickers MSFT,AIR.PA,^GSPC        one year of daily bars for three tickers
  backfill --interval 1h --days 30            the config's portfolio, hourly, last 30 sessions
  backfill --start 2020-01-01 --end 2020-12-31
  backfill plan --tickers MSFT                what a run would fetch, without sending anything
  backfill check --strict                     exit 1 if any stored series has a hole";

/// Backfill historical market data (OHLCV bars, dividends, splits) for a portfolio of tickers into
/// a Parquet store, concurrently, fetching only what is missing.
///
/// With no subcommand, runs a backfill (the flags of `backfill run`).
#[derive(Debug, Parser)]
#[command(
    name = "backfill",
    version,
    max_term_width = 100,
    args_conflicts_with_subcommands = true,
    after_help = RUN_EXAMPLES
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The flags of `backfill run`, for `backfill` with no subcommand.
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a backfill (the default when no subcommand is given).
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
    /// Report what the store holds per ticker: rows, stored span, holes (calendar-aware), when
    /// last fetched. Reads the store only; never writes to it.
    #[command(after_help = CHECK_EXAMPLES)]
    Check(CheckArgs),
    /// Show what `backfill` with the same flags would fetch, per ticker, without sending any
    /// request or writing to the store.
    #[command(after_help = PLAN_EXAMPLES)]
    Plan(PlanArgs),
    /// Start the built-in simulator on loopback and backfill the example portfolio through it.
    #[command(after_help = DEMO_EXAMPLES)]
    Demo(DemoArgs),
    /// Run the simulator of the Yahoo, Tiingo and Alpaca APIs on loopback; prints its URL.
    #[command(after_help = SIM_EXAMPLES)]
    Sim(SimArgs),
    /// Print an exchange's sessions with their open and close times.
    #[command(after_help = SESSIONS_EXAMPLES)]
    Sessions(SessionsArgs),
    /// Print a commented example config file (`backfill.toml`).
    #[command(after_help = CONFIG_EXAMPLES)]
    Config(ConfigArgs),
    /// Print a shell completion script.
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions(CompletionsArgs),
    /// Serve a web page on the store without running: past runs, a coverage map (tickers × months,
    /// the numbers of `check`), failures and flagged bars. Reads the store only; stops on Ctrl-C.
    Dashboard(DashboardArgs),
}

/// The live web dashboard of a run.
#[derive(Debug, Args, Default, Clone)]
pub struct DashboardFlags {
    /// Serve a live dashboard while the run lasts: ticker states, requests per second, limits,
    /// `/metrics` (Prometheus) and `/api/run` (JSON). The URL is printed on stderr. Default
    /// address: 127.0.0.1 on a free port; any non-loopback address requires a token.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:0")]
    pub dashboard: Option<String>,

    /// Token the dashboard requires (bearer header, `?token=` or cookie). Default on a
    /// non-loopback address: a random one, printed once.
    #[arg(long, env = env_vars::BACKFILL_DASHBOARD_TOKEN, value_name = "TOKEN", hide_env_values = true)]
    pub dashboard_token: Option<String>,

    /// After the run, keep serving the final state for this many seconds (Ctrl-C ends it early).
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub dashboard_linger: u64,
}

#[derive(Debug, Args)]
pub struct DashboardArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// Address to listen on; a non-loopback address requires a token (`--dashboard-token`).
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub addr: String,
    /// Token the page requires (bearer header, `?token=` or cookie). Default on a non-loopback
    /// address: a random one, printed once.
    #[arg(long, env = env_vars::BACKFILL_DASHBOARD_TOKEN, value_name = "TOKEN", hide_env_values = true)]
    pub dashboard_token: Option<String>,
}

const CHECK_EXAMPLES: &str = "\
Examples:
  backfill check                              every series in ./data, over its whole stored span
  backfill check --tickers MSFT --days 30     the last 30 sessions of MSFT only
  backfill check --strict --json > check.json exit 1 on any hole; a document for scripts";

const PLAN_EXAMPLES: &str = "\
Examples:
  backfill plan                               the config's portfolio
  backfill plan --tickers MSFT --interval 5m --days 10";

const DEMO_EXAMPLES: &str = "\
Examples:
  backfill demo                               40 tickers through the simulator, then removed
  backfill demo --keep --store /tmp/demo      keep the store to read it afterwards";

const SIM_EXAMPLES: &str = "\
Examples:
  backfill sim --port 8080 --rate 5 --retry-after 1
  backfill --yahoo-url http://127.0.0.1:8080 --tickers MSFT   (in another shell)
  backfill sim --provider tiingo --port 8081 --tiingo-per-hour 50
  TIINGO_API_KEY=any backfill --provider tiingo --tiingo-url http://127.0.0.1:8081";

const SESSIONS_EXAMPLES: &str = "\
Examples:
  backfill sessions --exchange XNYS --from 2024-12-20 --to 2025-01-10
  backfill sessions --exchange XTKS --from 2025-01-01 --to 2025-01-31 --json";

const CONFIG_EXAMPLES: &str = "\
Examples:
  backfill config --example > backfill.toml   start a config file in this directory";

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  backfill completions bash > ~/.local/share/bash-completion/completions/backfill
  backfill completions zsh > ~/.zfunc/_backfill
  backfill completions fish > ~/.config/fish/completions/backfill.fish";

/// When to use colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set.
    #[default]
    Auto,
    /// Always, even into a pipe or a file.
    Always,
    /// Never.
    Never,
}

/// Options every subcommand takes.
#[derive(Debug, Args, Default)]
pub struct GlobalArgs {
    /// Print nothing but errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// More detail: `-v` one line per request, `-vv` engine debug logs, `-vvv` every
    /// dependency's logs too.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Colour: `auto` (on a terminal, unless `NO_COLOR` is set), `always` or `never`.
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto")]
    pub color: ColorChoice,
}

/// Which series, which window, which store: shared by `run`, `plan` and `check`.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Selection")]
pub struct SelectArgs {
    /// Tickers, comma-separated (e.g. `MSFT,AIR.PA,^GSPC`). Default: the portfolio in the config
    /// file.
    #[arg(long, value_delimiter = ',', value_name = "A,B,C")]
    pub tickers: Option<Vec<String>>,

    /// Number of trading sessions of each ticker's exchange, ending with `--end` (252 ≈ one
    /// year).
    #[arg(long, value_name = "N", value_parser = values::days, allow_negative_numbers = true)]
    pub days: Option<u32>,

    /// First session date (YYYY-MM-DD); overrides `--days`.
    #[arg(long, value_name = "DATE", value_parser = values::date)]
    pub start: Option<Date>,

    /// Last session date (YYYY-MM-DD). Default: the latest session that has closed.
    #[arg(long, value_name = "DATE", value_parser = values::date)]
    pub end: Option<Date>,

    /// Bar interval: 1m 2m 5m 15m 30m 60m/1h 90m 1d 1wk 1mo. Default: 1d.
    #[arg(long, value_name = "INTERVAL", value_parser = values::interval)]
    pub interval: Option<Interval>,

    /// Where the store is: a directory, `file:///…`, `s3://bucket/prefix`, `gs://bucket/prefix`
    /// or `az://container/prefix` (credentials from the cloud's environment variables and the
    /// `[store]` table of backfill.toml). Default: `./data`.
    #[arg(long, env = env_vars::BACKFILL_STORE, value_name = "DIR|URL")]
    pub store: Option<PathBuf>,

    /// Config file. Default: `backfill.toml` in the current directory, if present
    /// (`backfill config --example` prints one).
    #[arg(long, env = env_vars::BACKFILL_CONFIG, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Pretend the time is this RFC 3339 instant (for reproducible runs against a simulator).
    #[arg(long, hide = true, value_name = "INSTANT", value_parser = values::instant)]
    pub now: Option<Timestamp>,
}

/// How to fetch: shared by `run` and `plan` (so that `plan` shows what the same `run` would do).
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Fetching")]
pub struct FetchArgs {
    /// Maximum requests in flight. Default: enough to keep the rate limit busy at 2 s latency
    /// (rate × 2, between 4 and 64; 32 without a rate limit).
    #[arg(long, value_name = "N", value_parser = values::workers, allow_negative_numbers = true)]
    pub workers: Option<usize>,

    /// Requests per second to the provider, shared by all workers: a number (the limiter adapts
    /// below it when throttled), `auto` (start at 2/s and find the provider's limit), or 0 (no
    /// limit). Default: 2.
    #[arg(long, value_name = "R|auto", value_parser = values::fetch_rate, allow_negative_numbers = true)]
    pub rate: Option<backfill_engine::limits::Rate>,

    /// The longest provider pause to wait out (a long `Retry-After`, an hourly quota) without
    /// spending retries, e.g. `90s`, `15m`, `1h`; tickers fail beyond it. Default: 1h.
    #[arg(long, value_name = "DURATION", value_parser = values::max_wait)]
    pub max_wait: Option<std::time::Duration>,

    /// Retries per request for throttled and transient failures. Default: 5.
    #[arg(long, value_name = "N", value_parser = values::retries, allow_negative_numbers = true)]
    pub retries: Option<u32>,

    /// Ignore the coverage ledger and re-download the whole range (upserting).
    #[arg(long)]
    pub no_gaps: bool,

    /// Bars that fail validation (high below open/close, non-positive price, negative volume, off
    /// session, …): `keep` stores them as sent and flags them for `check`; `drop` leaves them
    /// out. Either way they are counted in the report. Default: keep.
    #[arg(long, value_name = "keep|drop", value_parser = values::invalid_bars)]
    pub invalid_bars: Option<InvalidBars>,

    /// Only the tickers of shard I of N (`0/3`, `1/3`, `2/3`): a ticker is in shard
    /// `fnv1a64(SYMBOL) mod N`, a hash that never changes between versions, so N processes split a
    /// portfolio without overlap. Give each shard `--rate` divided by N.
    #[arg(long, value_name = "I/N", value_parser = crate::shard::Shard::parse)]
    pub shard: Option<crate::shard::Shard>,

    /// Yahoo base URL (every Yahoo endpoint is requested from it). Default:
    /// `https://query2.finance.yahoo.com`
    #[arg(long, env = env_vars::BACKFILL_YAHOO_URL, value_name = "URL", value_parser = values::base_url)]
    pub yahoo_url: Option<String>,

    /// Where bars come from, for every ticker: `yahoo`, `tiingo` (daily bars; key in
    /// `TIINGO_API_KEY`) or `alpaca` (1m-30m and daily bars of US stocks since 2016; keys in
    /// `APCA_API_KEY_ID` and `APCA_API_SECRET_KEY`). Default: the ticker's entry in `[providers]`
    /// of backfill.toml, else `provider` under `[defaults]`, else yahoo.
    #[arg(long, value_name = "NAME", value_parser = values::provider)]
    pub provider: Option<backfill_provider::ProviderKind>,

    /// Switch the series of another provider to this run's: fetch each one's stored span (and
    /// the window) again from the new provider and replace its history in one commit. Without it,
    /// such a ticker fails: a series never mixes two providers.
    #[arg(long)]
    pub switch_provider: bool,

    /// Tiingo base URL. Default: `https://api.tiingo.com`
    #[arg(long, env = env_vars::BACKFILL_TIINGO_URL, value_name = "URL", value_parser = values::base_url)]
    pub tiingo_url: Option<String>,

    /// Alpaca market-data base URL. Default: `https://data.alpaca.markets`
    #[arg(long, env = env_vars::BACKFILL_ALPACA_URL, value_name = "URL", value_parser = values::base_url)]
    pub alpaca_url: Option<String>,
}

/// `backfill run` (and `backfill` alone).
#[derive(Debug, Args, Default, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub fetch: FetchArgs,

    /// Print one JSON document to stdout instead of the table.
    #[arg(long)]
    pub json: bool,

    /// Show what would be fetched and exit, like `backfill plan`.
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub dashboard: DashboardFlags,
}

/// `backfill plan`.
#[derive(Debug, Args, Default, Clone)]
pub struct PlanArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub fetch: FetchArgs,

    /// Print one JSON document to stdout instead of the list.
    #[arg(long)]
    pub json: bool,
}

/// `backfill check`.
#[derive(Debug, Args, Clone)]
pub struct CheckArgs {
    #[command(flatten)]
    pub select: SelectArgs,

    /// Exit 1 when any session of the checked window is missing or a file is damaged.
    #[arg(long)]
    pub strict: bool,

    /// Print one JSON document to stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    /// Tickers to backfill instead of the 40-ticker example portfolio.
    #[arg(long, value_delimiter = ',', value_name = "A,B,C")]
    pub tickers: Option<Vec<String>>,

    /// Number of sessions per ticker.
    #[arg(long, value_name = "N", value_parser = values::days, allow_negative_numbers = true)]
    pub days: Option<u32>,

    /// Bar interval. Default: 1d.
    #[arg(long, value_name = "INTERVAL", value_parser = values::interval)]
    pub interval: Option<Interval>,

    /// Store directory. Default: a new directory under the system's temporary directory.
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,

    /// Keep the store after the demo (a `--store` given by you is always kept).
    #[arg(long)]
    pub keep: bool,

    /// Simulated latency per request, in milliseconds.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub latency_ms: u64,

    /// Print one JSON document per run to stdout instead of the tables.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Port on 127.0.0.1; 0 picks a free port and prints it.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Latency added to each request, in milliseconds.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub latency_ms: u64,
    /// Random extra latency, up to this many milliseconds.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub jitter_ms: u64,
    /// Requests per second allowed (no burst); above it the simulator answers HTTP 429. 0: no
    /// limit.
    #[arg(long, value_name = "R", value_parser = values::rate, allow_negative_numbers = true)]
    pub rate: Option<values::Rate>,
    /// Seconds to send in `Retry-After` with each 429.
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub retry_after: Option<u64>,
    /// Fraction of requests that fail (500/502/503, resets, truncated bodies, malformed JSON).
    #[arg(long, default_value_t = 0.0, value_parser = values::fraction)]
    pub fail_rate: f64,
    /// Maximum connections served at once.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_conns: Option<u32>,
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
    #[arg(long, default_value_t = 0.0, value_parser = values::fraction)]
    pub bad_bars: f64,
    /// Serve about one invalid bar in ten for this symbol. Repeatable.
    #[arg(long = "bad-symbol", value_name = "SYMBOL")]
    pub bad_symbols: Vec<String>,
    /// Append Yahoo's trailing "live" row after period2 while a session is open.
    #[arg(long)]
    pub live_row: bool,
    /// Serve only this provider's API (`yahoo`, `tiingo` or `alpaca`; the others answer 404).
    /// Default: all three on the one printed URL.
    #[arg(long, value_name = "NAME", value_parser = values::provider)]
    pub provider: Option<backfill_provider::ProviderKind>,
    /// The Tiingo token requests must carry. Default: any non-empty token.
    #[arg(long, value_name = "TOKEN", hide_env_values = true)]
    pub tiingo_key: Option<String>,
    /// Tiingo requests allowed per clock hour (Tiingo's free plan: 50); above it HTTP 429
    /// "hourly request allocation" until the hour rolls over.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub tiingo_per_hour: Option<u32>,
    /// The Alpaca key id and secret requests must carry, as `ID:SECRET`. Default: any non-empty
    /// pair.
    #[arg(long, value_name = "ID:SECRET")]
    pub alpaca_keys: Option<String>,
    /// Alpaca requests allowed per clock minute (Alpaca's free plan: 200); above it HTTP 429.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub alpaca_per_minute: Option<u32>,
    /// The most bars on one Alpaca page (below the request's `limit`), to exercise paging.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub alpaca_page_cap: Option<u64>,
    /// Fix the simulator's clock at this RFC 3339 instant (default: real time).
    #[arg(long = "clock", value_name = "INSTANT", value_parser = values::instant)]
    pub clock: Option<Timestamp>,
}

#[derive(Debug, Args)]
pub struct SessionsArgs {
    /// Exchange: XNYS XLON XPAR XAMS XETR XSWX XMIL XMAD XSTO XJSE XTSE BVMF XASX XTKS XHKG XSHG
    /// XSHE XBOM XKRX XTAI XSES 24/7 24/5.
    #[arg(long)]
    pub exchange: String,
    /// First date (YYYY-MM-DD).
    #[arg(long, value_parser = values::date)]
    pub from: Date,
    /// Last date (YYYY-MM-DD), inclusive.
    #[arg(long, value_parser = values::date)]
    pub to: Date,
    /// Config file, for its `[closures]`. Default: `backfill.toml` in the current directory, if
    /// present.
    #[arg(long, env = env_vars::BACKFILL_CONFIG, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print a JSON list `[{"date","open","close"}]` (RFC 3339 UTC) instead of lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Print a commented example config file with every key.
    #[arg(long, required = true)]
    pub example: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}
