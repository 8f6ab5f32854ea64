//! Every environment variable backfill reads, in one place.

/// Store directory or URL (`--store`). Object storage also reads its cloud's own variables
/// (for S3: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`,
/// `AWS_ALLOW_HTTP`); the store crate reads those, and never prints them.
pub const BACKFILL_STORE: &str = "BACKFILL_STORE";
/// Yahoo base URL (`--yahoo-url`); every Yahoo endpoint (chart, cookie, crumb) is requested from it.
pub const BACKFILL_YAHOO_URL: &str = "BACKFILL_YAHOO_URL";
/// Tiingo base URL (`--tiingo-url`).
pub const BACKFILL_TIINGO_URL: &str = "BACKFILL_TIINGO_URL";
/// Alpaca market-data base URL (`--alpaca-url`).
pub const BACKFILL_ALPACA_URL: &str = "BACKFILL_ALPACA_URL";
/// Tiingo API token (else `tiingo_api_key` under `[keys]` in the config file). Never printed.
pub const TIINGO_API_KEY: &str = backfill_provider::tiingo::KEY_VAR;
/// Alpaca key id, Alpaca's own name (else `alpaca_key_id` under `[keys]`). Never printed.
pub const APCA_API_KEY_ID: &str = backfill_provider::alpaca::KEY_ID_VAR;
/// Alpaca secret key, Alpaca's own name (else `alpaca_secret_key` under `[keys]`). Never printed.
pub const APCA_API_SECRET_KEY: &str = backfill_provider::alpaca::SECRET_VAR;
/// Config file (`--config`).
pub const BACKFILL_CONFIG: &str = "BACKFILL_CONFIG";
/// Log filter for `-v` output, in `tracing-subscriber` syntax (e.g. `backfill_engine=debug`).
pub const BACKFILL_LOG: &str = "BACKFILL_LOG";
/// Any non-empty value turns colour off under `--color auto` (<https://no-color.org>).
pub const NO_COLOR: &str = "NO_COLOR";
/// Token the dashboard requires (`--dashboard-token`); never printed.
pub const BACKFILL_DASHBOARD_TOKEN: &str = "BACKFILL_DASHBOARD_TOKEN";
