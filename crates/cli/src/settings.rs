//! One place that merges flags, environment and the config file into typed settings.
//! Precedence: flag (or its environment variable) > config file > built-in default.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use backfill_domain::jiff::Timestamp;
use backfill_domain::jiff::civil::Date;
use backfill_domain::{Interval, Symbol};
use backfill_engine::validate::InvalidBars;
use backfill_provider::{ProviderKind, Secret};

use crate::args::{FetchArgs, SelectArgs};
use crate::config::{self, ConfigFile, Keys};
use crate::env_vars;
use crate::exit::UsageError;
#[cfg(test)]
use crate::values;
use crate::values::Rate;
use backfill_engine::limits::Rate as EngineRate;

/// Default requests per second to Yahoo: a fixed 2/s, not `auto`. Yahoo publishes no limit; users
/// report throttling a little above a few requests per second from one address, and blocks that
/// lasted more than a day (spec §7). Probing upward for the limit risks such a block, which costs
/// the user hours; 2/s stays inside the 1–2 req/s the spec suggests. The limiter adapts below it
/// if Yahoo throttles anyway.
pub const DEFAULT_RATE: f64 = 2.0;
/// Default longest provider pause waited out: an hour, so that an hourly quota (Tiingo) resumes
/// in a nightly run instead of failing it.
pub const DEFAULT_MAX_WAIT: std::time::Duration = std::time::Duration::from_hours(1);
pub const DEFAULT_DAYS: usize = 252;
pub const DEFAULT_RETRIES: u32 = 5;
pub const DEFAULT_STORE: &str = "data";

pub use config::load_config;

/// Resolved settings for `run`, `plan` and `check`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub tickers: Vec<Symbol>,
    pub days: usize,
    /// `--days`, `--start` or `--end` was given on the command line (`check` then narrows its
    /// window to them instead of each series' whole stored span).
    pub window_given: bool,
    pub start: Option<Date>,
    pub end: Option<Date>,
    pub interval: Interval,
    pub workers: usize,
    pub rate: EngineRate,
    /// The longest provider pause waited out without failing tickers.
    pub max_wait: std::time::Duration,
    pub retries: u32,
    pub no_gaps: bool,
    pub invalid_bars: InvalidBars,
    pub store: PathBuf,
    /// The `[store]` table, values as strings (never printed: it may hold keys).
    pub store_config: std::collections::BTreeMap<String, String>,
    pub yahoo_url: String,
    pub tiingo_url: String,
    pub alpaca_url: String,
    /// The provider of tickers without an entry in `providers`.
    pub provider: ProviderKind,
    /// Per-ticker providers from `[providers]` of the config file (empty when `--provider` is
    /// given: the flag applies to every ticker).
    pub providers: std::collections::BTreeMap<Symbol, ProviderKind>,
    /// API keys: the environment, else `[keys]` of the config file. Never printed.
    pub keys: Keys,
    /// `--switch-provider`: replace the history of series stored from another provider.
    pub switch_provider: bool,
    pub closures: std::collections::BTreeMap<backfill_calendar::Exchange, Vec<Date>>,
    pub now: Timestamp,
    /// Warnings about the settings themselves (e.g. a window clipped to the present), printed
    /// once before the command runs.
    pub warnings: Vec<String>,
    /// Serve the live dashboard during runs (`--dashboard`).
    pub dashboard: Option<DashboardSettings>,
}

/// Where and how the dashboard is served.
#[derive(Clone)]
pub struct DashboardSettings {
    pub addr: std::net::SocketAddr,
    /// Never printed (see the `Debug` impl).
    pub token: Option<String>,
    /// How long a run's dashboard keeps serving after the run.
    pub linger: std::time::Duration,
}

impl std::fmt::Debug for DashboardSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DashboardSettings")
            .field("addr", &self.addr)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("linger", &self.linger)
            .finish()
    }
}

impl DashboardSettings {
    /// `--dashboard [ADDR]` with its token and linger; `None` without `--dashboard`.
    pub fn from_flags(flags: &crate::args::DashboardFlags) -> Result<Option<DashboardSettings>> {
        flags
            .dashboard
            .as_deref()
            .map(|addr| {
                DashboardSettings::new(addr, flags.dashboard_token.clone(), flags.dashboard_linger)
            })
            .transpose()
    }

    /// The dashboard on `addr` (`IP:PORT`, or a bare port on 127.0.0.1).
    pub fn new(addr: &str, token: Option<String>, linger_secs: u64) -> Result<DashboardSettings> {
        Ok(DashboardSettings {
            addr: parse_addr(addr)?,
            token: token.filter(|t| !t.is_empty()),
            linger: std::time::Duration::from_secs(linger_secs),
        })
    }
}

/// `IP:PORT` (`127.0.0.1:8080`, `0.0.0.0:0`, `[::1]:8080`), or a bare port on 127.0.0.1.
fn parse_addr(s: &str) -> Result<std::net::SocketAddr> {
    if let Ok(port) = s.parse::<u16>() {
        return Ok(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    }
    s.parse().map_err(|_| {
        usage(format!(
            "`{s}` is not an address to listen on\n\nhint: write IP:PORT, e.g. `127.0.0.1:8080`, or `0.0.0.0:8080` to listen on every interface (a token is then required)"
        ))
    })
}

fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow!(UsageError(msg.into()))
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
pub fn auto_workers(rate: EngineRate) -> usize {
    match rate {
        EngineRate::Fixed(r) => ((r * 2.0).ceil() as usize).clamp(4, 64),
        EngineRate::Auto | EngineRate::Unlimited => 32,
    }
}

/// The latest calendar date anywhere on Earth at `now` (UTC+14).
fn latest_date_anywhere(now: Timestamp) -> Date {
    (now + backfill_domain::jiff::SignedDuration::from_hours(14))
        .to_zoned_datetime(backfill_domain::jiff::tz::TimeZone::UTC)
        .date()
}

impl Settings {
    /// The provider that serves `symbol`.
    pub fn provider_of(&self, symbol: &Symbol) -> ProviderKind {
        self.providers.get(symbol).copied().unwrap_or(self.provider)
    }

    /// The tickers grouped by provider, in the order of [`ProviderKind::ALL`]; no empty group.
    pub fn tickers_by_provider(&self) -> Vec<(ProviderKind, Vec<Symbol>)> {
        ProviderKind::ALL
            .into_iter()
            .map(|k| {
                let t: Vec<Symbol> = self
                    .tickers
                    .iter()
                    .filter(|s| self.provider_of(s) == k)
                    .cloned()
                    .collect();
                (k, t)
            })
            .filter(|(_, t)| !t.is_empty())
            .collect()
    }

    /// Resolves settings for `run` and `plan` (`fetch` given) or `check` (`fetch` is `None`).
    /// `need_tickers` is false for commands that can work on the whole store.
    pub fn resolve(
        select: &SelectArgs,
        fetch: Option<&FetchArgs>,
        need_tickers: bool,
    ) -> Result<Settings> {
        let (config, config_path) = load_config(select.config.as_deref())?;
        Settings::resolve_with(select, fetch, need_tickers, &config, config_path.as_deref())
    }

    /// Resolves settings against an already loaded config.
    pub fn resolve_with(
        select: &SelectArgs,
        fetch: Option<&FetchArgs>,
        need_tickers: bool,
        config: &ConfigFile,
        config_path: Option<&Path>,
    ) -> Result<Settings> {
        let d = &config.defaults;
        let empty = FetchArgs::default();
        let f = fetch.unwrap_or(&empty);
        let mut tickers = match &select.tickers {
            Some(t) => parse_tickers(t)?,
            None => parse_tickers(&config.tickers).with_context(|| match config_path {
                Some(p) => format!("in the portfolio of `{}`", p.display()),
                None => "in the portfolio".to_owned(),
            })?,
        };
        if tickers.is_empty() && need_tickers {
            bail!(usage(
                "no tickers to backfill\n\nhint: pass `--tickers MSFT,AAPL`, or list them as `tickers = [\"MSFT\", \"AAPL\"]` in `backfill.toml` (or the file given with `--config`); `backfill config --example` prints a commented example"
            ));
        }
        if let Some(shard) = f.shard {
            tickers.retain(|t| shard.contains(t));
        }
        let interval = select.interval.or(d.interval).unwrap_or(Interval::D1);
        let provider = f.provider.or(d.provider).unwrap_or_default();
        let providers = if f.provider.is_some() {
            std::collections::BTreeMap::new()
        } else {
            config.providers.clone()
        };
        if fetch.is_some() {
            check_intervals(&tickers, provider, &providers, interval)?;
        }
        let rate = f
            .rate
            .or(d.rate.map(Rate::to_engine))
            .unwrap_or(EngineRate::Fixed(DEFAULT_RATE));
        let workers = f
            .workers
            .or(d.workers)
            .unwrap_or_else(|| auto_workers(rate));
        let days = select.days.or(d.days).map_or(DEFAULT_DAYS, |n| n as usize);
        let (start, end) = (select.start, select.end);
        if let (Some(s), Some(e)) = (start, end)
            && s > e
        {
            bail!(usage(format!(
                "`--start {s}` is after `--end {e}`\n\nhint: swap them, or drop `--start` to take `--days` sessions ending at `--end`"
            )));
        }
        let now = select.now.unwrap_or_else(Timestamp::now);
        let latest = latest_date_anywhere(now);
        let mut warnings = Vec::new();
        if let Some(s) = start
            && s > latest
        {
            bail!(usage(format!(
                "`--start {s}` is in the future: no session from that date has happened yet\n\nhint: give a past date, or leave `--start` out to take the last `--days` sessions"
            )));
        }
        let mut end = end;
        if let Some(e) = end
            && e > latest
        {
            warnings.push(format!(
                "`--end {e}` is in the future; the window ends at each exchange's latest closed session instead"
            ));
            end = None;
        }
        Ok(Settings {
            tickers,
            days,
            window_given: select.days.is_some() || start.is_some() || end.is_some(),
            start,
            end,
            interval,
            workers,
            rate,
            max_wait: f.max_wait.unwrap_or(DEFAULT_MAX_WAIT),
            retries: f.retries.or(d.retries).unwrap_or(DEFAULT_RETRIES),
            no_gaps: f.no_gaps,
            invalid_bars: f.invalid_bars.or(d.invalid_bars).unwrap_or_default(),
            store: select
                .store
                .clone()
                .or_else(|| d.store.clone())
                .unwrap_or_else(|| PathBuf::from(DEFAULT_STORE)),
            store_config: config.store.clone(),
            yahoo_url: f
                .yahoo_url
                .clone()
                .or_else(|| d.yahoo_url.clone())
                .unwrap_or_else(|| backfill_provider::yahoo::DEFAULT_BASE_URL.to_owned()),
            tiingo_url: f
                .tiingo_url
                .clone()
                .or_else(|| d.tiingo_url.clone())
                .unwrap_or_else(|| backfill_provider::tiingo::DEFAULT_BASE_URL.to_owned()),
            alpaca_url: f
                .alpaca_url
                .clone()
                .or_else(|| d.alpaca_url.clone())
                .unwrap_or_else(|| backfill_provider::alpaca::DEFAULT_BASE_URL.to_owned()),
            provider,
            providers,
            keys: keys_from_env(&config.keys),
            switch_provider: f.switch_provider,
            closures: config.closures.clone(),
            now,
            warnings,
            dashboard: None,
        })
    }
}

/// The keys in the environment, each one else from `[keys]`. A blank variable counts as unset.
fn keys_from_env(file: &Keys) -> Keys {
    let env = |var: &str| {
        std::env::var(var)
            .ok()
            .map(Secret::new)
            .filter(|s| !s.is_empty())
    };
    Keys {
        tiingo: env(env_vars::TIINGO_API_KEY).or_else(|| file.tiingo.clone()),
        alpaca_id: env(env_vars::APCA_API_KEY_ID).or_else(|| file.alpaca_id.clone()),
        alpaca_secret: env(env_vars::APCA_API_SECRET_KEY).or_else(|| file.alpaca_secret.clone()),
    }
}

/// Every provider a ticker uses must serve `interval`.
fn check_intervals(
    tickers: &[Symbol],
    default: ProviderKind,
    providers: &std::collections::BTreeMap<Symbol, ProviderKind>,
    interval: Interval,
) -> Result<()> {
    for t in tickers {
        let p = providers.get(t).copied().unwrap_or(default);
        if !p.intervals().contains(&interval) {
            let served: Vec<String> = p.intervals().iter().map(ToString::to_string).collect();
            bail!(usage(format!(
                "`{p}` does not serve `{interval}` bars (asked for `{t}`); it serves {}\n\nhint: pick another `--interval`, or another provider (`--provider yahoo` serves every interval)",
                served.join(" ")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(auto_workers(EngineRate::Fixed(2.0)), 4);
        assert_eq!(auto_workers(EngineRate::Fixed(20.0)), 40);
        assert_eq!(auto_workers(EngineRate::Fixed(1000.0)), 64);
        assert_eq!(auto_workers(EngineRate::Unlimited), 32);
        assert_eq!(auto_workers(EngineRate::Auto), 32);
        assert!(values::days("-1").is_err());
    }

    fn at(now: &str) -> SelectArgs {
        SelectArgs {
            tickers: Some(vec!["MSFT".into()]),
            now: Some(now.parse().unwrap()),
            ..SelectArgs::default()
        }
    }

    #[test]
    fn a_window_in_the_future_is_refused_and_one_reaching_past_today_is_clipped() {
        let cfg = ConfigFile::default();
        let mut a = at("2026-12-02T08:00:00Z");
        a.start = Some(Date::constant(2030, 1, 1));
        let e = Settings::resolve_with(&a, None, true, &cfg, None).unwrap_err();
        assert!(e.to_string().contains("in the future"), "{e}");

        let mut a = at("2026-12-02T08:00:00Z");
        a.end = Some(Date::constant(2026, 12, 25));
        let s = Settings::resolve_with(&a, None, true, &cfg, None).unwrap();
        assert_eq!((s.end, s.warnings.len()), (None, 1));
        assert_eq!(s.provider, ProviderKind::Yahoo);

        let mut a = at("2026-12-02T08:00:00Z");
        a.start = Some(Date::constant(2026, 11, 1));
        a.end = Some(Date::constant(2026, 12, 25));
        let s = Settings::resolve_with(&a, None, true, &cfg, None).unwrap();
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        assert_eq!(s.end, None);
        assert!(s.window_given);

        // Tokyo's today is still UTC's yesterday evening: not in the future.
        let mut a = at("2026-12-01T20:00:00Z");
        a.start = Some(Date::constant(2026, 12, 2));
        assert!(Settings::resolve_with(&a, None, true, &cfg, None).is_ok());
    }
}

#[cfg(test)]
mod provider_tests {
    use super::*;

    fn select(tickers: &[&str]) -> SelectArgs {
        SelectArgs {
            tickers: Some(tickers.iter().map(|t| (*t).to_owned()).collect()),
            now: Some("2026-12-02T08:00:00Z".parse().unwrap()),
            ..SelectArgs::default()
        }
    }

    #[test]
    fn per_ticker_providers_group_and_the_flag_overrides_them() {
        let cfg = ConfigFile::parse(
            "[defaults]\nprovider = \"tiingo\"\n[providers]\nAAPL = \"alpaca\"\n",
            Path::new("backfill.toml"),
        )
        .unwrap();
        let fetch = FetchArgs::default();
        let s = Settings::resolve_with(
            &select(&["MSFT", "AAPL", "KO"]),
            Some(&fetch),
            true,
            &cfg,
            None,
        )
        .unwrap();
        let groups: Vec<(ProviderKind, Vec<String>)> = s
            .tickers_by_provider()
            .into_iter()
            .map(|(k, t)| (k, t.iter().map(ToString::to_string).collect()))
            .collect();
        assert_eq!(
            groups,
            [
                (
                    ProviderKind::Tiingo,
                    vec!["MSFT".to_owned(), "KO".to_owned()]
                ),
                (ProviderKind::Alpaca, vec!["AAPL".to_owned()]),
            ]
        );
        let fetch = FetchArgs {
            provider: Some(ProviderKind::Yahoo),
            ..FetchArgs::default()
        };
        let s = Settings::resolve_with(&select(&["MSFT", "AAPL"]), Some(&fetch), true, &cfg, None)
            .unwrap();
        assert_eq!(s.tickers_by_provider().len(), 1);
        assert_eq!(
            s.provider_of(&Symbol::parse("AAPL").unwrap()),
            ProviderKind::Yahoo
        );
    }

    #[test]
    fn an_interval_the_provider_lacks_is_a_usage_error() {
        let mut a = select(&["MSFT"]);
        a.interval = Some(Interval::M5);
        let fetch = FetchArgs {
            provider: Some(ProviderKind::Tiingo),
            ..FetchArgs::default()
        };
        let e = Settings::resolve_with(&a, Some(&fetch), true, &ConfigFile::default(), None)
            .unwrap_err();
        assert!(
            e.to_string().contains("`tiingo` does not serve `5m` bars"),
            "{e}"
        );
        assert!(e.chain().any(|c| c.downcast_ref::<UsageError>().is_some()));
    }
}
