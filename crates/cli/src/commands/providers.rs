//! Building the client of each provider from the settings, and turning a refused key into the
//! usage error that names the variable to set.

use anyhow::Result;
use backfill_engine::RunReport;
use backfill_provider::alpaca::{AlpacaConfig, AlpacaProvider};
use backfill_provider::tiingo::{TiingoConfig, TiingoProvider};
use backfill_provider::yahoo::{YahooConfig, YahooProvider};
use backfill_provider::{AnyProvider, ProviderError, ProviderKind, Secret};

use crate::exit::UsageError;
use crate::settings::Settings;

/// The Yahoo client for these settings.
///
/// # Errors
/// When the HTTP client cannot be built, or the base URL is not an http(s) URL (a usage error).
pub fn yahoo(settings: &Settings) -> Result<YahooProvider> {
    let config = YahooConfig {
        base_url: settings.yahoo_url.clone(),
        ..YahooConfig::default()
    };
    YahooProvider::new(config).map_err(|e| setup_error(ProviderKind::Yahoo, e))
}

/// The client of `kind`, with its URL and keys.
///
/// # Errors
/// A usage error (exit 2) naming the variables to set when a key is missing or cannot be sent,
/// or when a base URL is not an http(s) URL.
pub fn build(settings: &Settings, kind: ProviderKind) -> Result<AnyProvider> {
    let key = |k: &Option<Secret>| k.clone().unwrap_or_else(|| Secret::new(""));
    let keys = &settings.keys;
    match kind {
        ProviderKind::Yahoo => yahoo(settings).map(AnyProvider::Yahoo),
        ProviderKind::Tiingo => TiingoProvider::new(TiingoConfig {
            base_url: settings.tiingo_url.clone(),
            ..TiingoConfig::new(key(&keys.tiingo))
        })
        .map(AnyProvider::Tiingo)
        .map_err(|e| setup_error(kind, e)),
        ProviderKind::Alpaca => AlpacaProvider::new(AlpacaConfig {
            base_url: settings.alpaca_url.clone(),
            ..AlpacaConfig::new(key(&keys.alpaca_id), key(&keys.alpaca_secret))
        })
        .map(AnyProvider::Alpaca)
        .map_err(|e| setup_error(kind, e)),
    }
}

/// Where a provider's keys go in backfill.toml, for hints.
fn config_keys(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Yahoo => "",
        ProviderKind::Tiingo => "`tiingo_api_key`",
        ProviderKind::Alpaca => "`alpaca_key_id` and `alpaca_secret_key`",
    }
}

fn setup_error(kind: ProviderKind, e: ProviderError) -> anyhow::Error {
    let vars = kind.key_vars().unwrap_or_default();
    let file = config_keys(kind);
    match e {
        ProviderError::MissingKey { .. } => UsageError(format!(
            "`--provider {kind}` needs an API key, and none is set\n\nhint: set {vars} in the environment (or {file} under `[keys]` in backfill.toml)"
        ))
        .into(),
        ProviderError::BadKey { .. } => UsageError(format!(
            "the API key for {kind} holds characters an HTTP header cannot carry\n\nhint: copy the key again into {vars} (or {file} under `[keys]` in backfill.toml)"
        ))
        .into(),
        ProviderError::BadBaseUrl { .. } => UsageError(e.to_string()).into(),
        other => anyhow::Error::new(other).context(format!("cannot set up the HTTP client for {kind}")),
    }
}

/// The usage error for a run in which `kind` refused its key (HTTP 401/403) for some ticker,
/// else `None`. Yahoo takes no key: a refusal there is an ordinary failure.
pub fn refused_key(kind: ProviderKind, report: &RunReport) -> Option<UsageError> {
    let vars = kind.key_vars()?;
    let refused = report
        .tickers
        .iter()
        .filter(|t| t.failure == Some("unauthorized"))
        .count();
    (refused > 0).then(|| {
        UsageError(format!(
            "{kind} refused the API key ({} not fetched)\n\nhint: set {vars} to a valid key (or {} under `[keys]` in backfill.toml); a rerun fetches what is missing",
            crate::printer::plural(refused as u64, "ticker", "tickers"),
            config_keys(kind)
        ))
    })
}
