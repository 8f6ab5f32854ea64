//! Every environment variable backfill reads, in one place.

/// Store directory (`--store`).
pub const BACKFILL_STORE: &str = "BACKFILL_STORE";
/// Yahoo base URL (`--yahoo-url`); every Yahoo endpoint (chart, cookie, crumb) is requested from it.
pub const BACKFILL_YAHOO_URL: &str = "BACKFILL_YAHOO_URL";
/// Config file (`--config`).
pub const BACKFILL_CONFIG: &str = "BACKFILL_CONFIG";
/// Log filter for `-v` output, in `tracing-subscriber` syntax (e.g. `backfill_engine=debug`).
pub const BACKFILL_LOG: &str = "BACKFILL_LOG";
