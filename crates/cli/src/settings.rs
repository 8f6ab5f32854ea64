//! One place that merges flags, environment and the config file into typed settings.
//! Precedence: flag (or its environment variable) > config file > built-in default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use backfill_calendar::Exchange;
use backfill_domain::jiff::Timestamp;
use backfill_domain::jiff::civil::Date;
use backfill_domain::{Interval, Symbol};
use backfill_engine::validate::InvalidBars;
use serde::Deserialize;

use crate::args::CommonArgs;
use crate::exit::UsageError;

/// Default requests per second to Yahoo. Yahoo publishes no limit; users report throttling at
/// anything above a few requests per second from one address (spec §7), and 2/s is the rate its
/// own documentation suggests for bulk history. The limiter halves it on a 429 and recovers slowly.
pub const DEFAULT_RATE: f64 = 2.0;
pub const DEFAULT_DAYS: usize = 252;
pub const DEFAULT_RETRIES: u32 = 5;
pub const DEFAULT_STORE: &str = "data";
pub const CONFIG_FILE: &str = "backfill.toml";

/// The config file (`backfill.toml`). Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The portfolio: tickers backfilled when `--tickers` is not given.
    #[serde(default)]
    pub tickers: Vec<String>,
    #[serde(default)]
    pub defaults: Defaults,
    /// One-off closures per exchange, e.g. `XNYS = ["2025-01-09"]`.
    #[serde(default)]
    pub closures: BTreeMap<String, Vec<Date>>,
    /// How to reach object storage: `object_store` keys such as `endpoint`, `region`,
    /// `access_key_id`, `secret_access_key`, `allow_http`. They win over the environment.
    #[serde(default)]
    pub store: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    pub days: Option<usize>,
    pub interval: Option<String>,
    pub workers: Option<usize>,
    pub rate: Option<f64>,
    pub retries: Option<u32>,
    pub invalid_bars: Option<String>,
    pub store: Option<PathBuf>,
    pub yahoo_url: Option<String>,
}

/// Resolved settings for `run`, `plan` and `check`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub tickers: Vec<Symbol>,
    pub days: usize,
    pub start: Option<Date>,
    pub end: Option<Date>,
    pub interval: Interval,
    pub workers: usize,
    pub rate: Option<f64>,
    pub retries: u32,
    pub no_gaps: bool,
    pub invalid_bars: InvalidBars,
    pub store: PathBuf,
    /// The `[store]` table, values as strings (never printed: it may hold keys).
    pub store_config: BTreeMap<String, String>,
    pub yahoo_url: String,
    pub closures: BTreeMap<Exchange, Vec<Date>>,
    pub now: Timestamp,
}

/// Loads the config file named by `--config`, or `backfill.toml` in the current directory if present.
pub fn load_config(explicit: Option<&Path>) -> Result<(ConfigFile, Option<PathBuf>)> {
    let (path, required) = match explicit {
        Some(p) => (p.to_path_buf(), true),
        None => (PathBuf::from(CONFIG_FILE), false),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
            return Ok((ConfigFile::default(), None));
        }
        Err(e) => {
            return Err(anyhow!(UsageError(format!(
                "cannot read config file `{}`: {e}",
                path.display()
            ))));
        }
    };
    let config: ConfigFile = toml::from_str(&text).map_err(|e| {
        anyhow!(UsageError(format!(
            "config file `{}` is not valid: {}\n\nhint: see `backfill.example.toml` in the repository for every key",
            path.display(),
            e.message()
        )))
    })?;
    Ok((config, Some(path)))
}

fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow!(UsageError(msg.into()))
}

fn parse_date(flag: &str, s: &str) -> Result<Date> {
    s.parse::<Date>().map_err(|_| usage(format!("`--{flag} {s}` is not a date\n\nhint: write dates as YYYY-MM-DD, e.g. `--{flag} 2024-07-01`")))
}

/// Parses a ticker list, rejecting hostile or malformed symbols with a clear message.
pub fn parse_tickers(raw: &[String]) -> Result<Vec<Symbol>> {
    let mut out: Vec<Symbol> = Vec::new();
    for t in raw.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        let s = Symbol::parse(t).map_err(|e| usage(format!("{e}\n\nhint: give Yahoo symbols such as `MSFT`, `AIR.PA`, `BRK-B`, `^GSPC`, `EURUSD=X`")))?;
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out)
}

/// The default number of requests in flight for a rate: enough to keep the limiter busy when each
/// request takes up to 2 s.
pub fn auto_workers(rate: Option<f64>) -> usize {
    match rate {
        Some(r) => ((r * 2.0).ceil() as usize).clamp(4, 64),
        None => 32,
    }
}

impl Settings {
    /// Resolves settings. `need_tickers` is false for commands that can work on the whole store.
    pub fn resolve(args: &CommonArgs, need_tickers: bool) -> Result<Settings> {
        let (config, config_path) = load_config(args.config.as_deref())?;
        let d = &config.defaults;
        let tickers = match &args.tickers {
            Some(t) => parse_tickers(t)?,
            None => parse_tickers(&config.tickers).with_context(|| match &config_path {
                Some(p) => format!("in the portfolio of `{}`", p.display()),
                None => "in the portfolio".to_owned(),
            })?,
        };
        if tickers.is_empty() && need_tickers {
            bail!(usage(
                "no tickers to backfill\n\nhint: pass `--tickers MSFT,AAPL`, or list them as `tickers = [\"MSFT\", \"AAPL\"]` in `backfill.toml` (or the file given with `--config`); `backfill.example.toml` shows every key"
            ));
        }
        let interval_text = args
            .interval
            .clone()
            .or_else(|| d.interval.clone())
            .unwrap_or_else(|| "1d".to_owned());
        let interval = Interval::parse(&interval_text).map_err(|e| usage(e.to_string()))?;
        let rate = match args.rate.or(d.rate).unwrap_or(DEFAULT_RATE) {
            r if r.is_nan() || r < 0.0 => bail!(usage(format!(
                "`--rate {r}` must be zero (no limit) or a positive number of requests per second"
            ))),
            0.0 => None,
            r => Some(r),
        };
        let workers = args
            .workers
            .or(d.workers)
            .unwrap_or_else(|| auto_workers(rate));
        if workers == 0 {
            bail!(usage(
                "`--workers 0` would never send a request\n\nhint: use at least 1"
            ));
        }
        let days = args.days.or(d.days).unwrap_or(DEFAULT_DAYS);
        if days == 0 {
            bail!(usage(
                "`--days 0` asks for no session\n\nhint: 252 sessions is about one year"
            ));
        }
        let start = args
            .start
            .as_deref()
            .map(|s| parse_date("start", s))
            .transpose()?;
        let end = args
            .end
            .as_deref()
            .map(|s| parse_date("end", s))
            .transpose()?;
        if let (Some(s), Some(e)) = (start, end)
            && s > e
        {
            bail!(usage(format!("`--start {s}` is after `--end {e}`")));
        }
        let mut store_config = BTreeMap::new();
        for (key, value) in &config.store {
            let value = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                _ => bail!(usage(format!(
                    "in `[store]` of the config file: `{key}` must be a string, a number or a boolean"
                ))),
            };
            store_config.insert(key.clone(), value);
        }
        let mut closures: BTreeMap<Exchange, Vec<Date>> = BTreeMap::new();
        for (code, dates) in config.closures {
            let ex = Exchange::parse(&code)
                .map_err(|e| usage(format!("in `[closures]` of the config file: {e}")))?;
            closures.entry(ex).or_default().extend(dates);
        }
        let invalid_bars = match args
            .invalid_bars
            .as_deref()
            .or(d.invalid_bars.as_deref())
            .unwrap_or("keep")
        {
            "keep" => InvalidBars::Keep,
            "drop" => InvalidBars::Drop,
            other => bail!(usage(format!(
                "`--invalid-bars {other}` must be `keep` or `drop`"
            ))),
        };
        let now = match &args.now {
            Some(s) => s
                .parse::<Timestamp>()
                .map_err(|e| usage(format!("`--now {s}` is not an RFC 3339 instant: {e}")))?,
            None => Timestamp::now(),
        };
        Ok(Settings {
            tickers,
            days,
            start,
            end,
            interval,
            workers,
            rate,
            retries: args.retries.or(d.retries).unwrap_or(DEFAULT_RETRIES),
            no_gaps: args.no_gaps,
            invalid_bars,
            store: args
                .store
                .clone()
                .or_else(|| d.store.clone())
                .unwrap_or_else(|| PathBuf::from(DEFAULT_STORE)),
            store_config,
            yahoo_url: args
                .yahoo_url
                .clone()
                .or_else(|| d.yahoo_url.clone())
                .unwrap_or_else(|| backfill_provider::yahoo::DEFAULT_BASE_URL.to_owned()),
            closures,
            now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses() {
        let text = include_str!("../../../backfill.example.toml");
        let c: ConfigFile = toml::from_str(text).unwrap();
        assert_eq!(c.tickers.len(), 40);
        assert!(parse_tickers(&c.tickers).is_ok());
        assert_eq!(c.closures["XNYS"][0], Date::constant(2025, 1, 9));
    }

    #[test]
    fn tickers_are_validated_and_deduplicated() {
        let t = parse_tickers(&[
            "msft".into(),
            " MSFT ".into(),
            "AIR.PA".into(),
            String::new(),
        ])
        .unwrap();
        assert_eq!(
            t.iter().map(Symbol::as_str).collect::<Vec<_>>(),
            ["MSFT", "AIR.PA"]
        );
        let err = parse_tickers(&["../etc/passwd".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("path separator"), "{err}");
    }

    #[test]
    fn auto_workers_follow_the_rate() {
        assert_eq!(auto_workers(Some(2.0)), 4);
        assert_eq!(auto_workers(Some(20.0)), 40);
        assert_eq!(auto_workers(Some(1000.0)), 64);
        assert_eq!(auto_workers(None), 32);
    }
}
