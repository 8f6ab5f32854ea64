//! The Tiingo end-of-day client (spec: `docs/spec/tiingo-api.md`).
//!
//! [`TiingoProvider`] makes one HTTP request per [`Provider::fetch`]:
//! `GET {base}/tiingo/daily/{ticker}/prices?startDate=…&resampleFreq=daily&format=json` with the key
//! in the `Authorization: Token …` header (never in the URL). There is no `endDate`: Tiingo then
//! answers up to its latest bar, so splits after the window are known and the window's prices can
//! be put on today's basis ([`build_answer`]). One answer gives bars, dividends (`divCash`) and
//! splits (`splitFactor`); Tiingo has no paging.
//!
//! Only daily bars (`1d`) are served: Tiingo's intraday data comes from one venue (IEX) without
//! volume, which is not the same meaning as the other providers' bars.
//!
//! **Quota.** Tiingo's free plan allows about 50 requests an hour and 1,000 a day
//! ([`DEFAULT_QUOTAS`], which [`Provider::quotas`] declares so the engine never sends more). An
//! exhausted quota answers 429 "…hourly request allocation…"; the client returns
//! [`ErrorKind::QuotaSpent`] with `retry_after` set to the wait until the next full hour
//! (UTC midnight for the daily allocation), measured on the clock of the answer's `Date` header
//! when it sends one.

mod parse;

use std::sync::Arc;
use std::time::Duration;

use backfill_domain::Interval;
use percent_encoding::utf8_percent_encode;
use reqwest::header::{self, HeaderMap, HeaderValue};

use crate::http::read;
use crate::{
    Answer, ErrorKind, FetchError, FetchRequest, Pacer, Provider, ProviderError, Quotas, Secret,
    Window,
};

pub use parse::{Row, build_answer, classify, quota_reset};

/// Tiingo's API host.
pub const DEFAULT_BASE_URL: &str = "https://api.tiingo.com";
/// The environment variable the key is read from.
pub const KEY_VAR: &str = "TIINGO_API_KEY";
/// The intervals Tiingo serves through this client.
pub const INTERVALS: [Interval; 1] = [Interval::D1];

/// The free plan: 50 requests an hour, 1,000 a day (spec §6, the strictest report).
pub const DEFAULT_QUOTAS: Quotas = Quotas {
    per_hour: Some(50),
    per_day: Some(1000),
    ..Quotas::NONE
};

/// How to reach Tiingo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TiingoConfig {
    /// API base; prices come from `{base}/tiingo/daily/{ticker}/prices`.
    pub base_url: String,
    /// The API token (sent as `Authorization: Token …`).
    pub key: Secret,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub request_timeout: Duration,
}

impl TiingoConfig {
    /// Tiingo's real host with `key`; 10 s to connect, 30 s between reads, 2 min per request (a
    /// whole listing history is one answer).
    pub fn new(key: Secret) -> TiingoConfig {
        TiingoConfig {
            base_url: DEFAULT_BASE_URL.to_owned(),
            key,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_mins(2),
        }
    }
}

/// The Tiingo client. Cheap to clone: clones share the connection pool.
#[derive(Debug, Clone)]
pub struct TiingoProvider {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: TiingoConfig,
    client: reqwest::Client,
    base: String,
}

impl TiingoProvider {
    /// Builds the client.
    ///
    /// # Errors
    /// [`ProviderError::MissingKey`] when the key is empty, [`ProviderError::BadBaseUrl`] when the
    /// base is not an absolute http(s) URL, [`ProviderError::Client`] when the client cannot be built.
    pub fn new(config: TiingoConfig) -> Result<TiingoProvider, ProviderError> {
        if config.key.is_empty() {
            return Err(ProviderError::MissingKey {
                provider: "tiingo",
                vars: KEY_VAR,
            });
        }
        let base = crate::http::base_url(&config.base_url)?;
        let token = format!("Token {}", config.key.expose());
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            crate::http::key_header(&token, "tiingo", KEY_VAR)?,
        );
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let client = crate::http::api_client(
            headers,
            config.connect_timeout,
            config.read_timeout,
            config.request_timeout,
        )?;
        Ok(TiingoProvider {
            inner: Arc::new(Inner {
                config,
                client,
                base,
            }),
        })
    }

    /// The API base (without a trailing `/`).
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    async fn fetch_once(&self, req: &FetchRequest, pacer: &dyn Pacer) -> Result<Answer, ErrorKind> {
        if !INTERVALS.contains(&req.interval) {
            return Err(ErrorKind::Unsupported {
                detail: format!(
                    "Tiingo serves daily bars (1d) only, not {}; hint: use `--provider yahoo` or \
                     `--provider alpaca` for intraday bars",
                    req.interval
                ),
            });
        }
        let url = prices_url(&self.inner.base, req);
        pacer.acquire().await;
        let raw = read(self.inner.client.get(&url))
            .await
            .map_err(|k| redact(k, self))?;
        let now = raw.date.unwrap_or_else(jiff::Timestamp::now);
        let rows = classify(raw.status, &raw.body, now).map_err(|k| redact(k, self))?;
        build_answer(&rows, req)
    }
}

/// Removes the key from an error's text, should the server or the transport echo it.
fn redact(kind: ErrorKind, p: &TiingoProvider) -> ErrorKind {
    let key = &p.inner.config.key;
    match kind {
        ErrorKind::NotFound { detail } => ErrorKind::NotFound {
            detail: key.redact(&detail),
        },
        ErrorKind::Transient { detail } => ErrorKind::Transient {
            detail: key.redact(&detail),
        },
        ErrorKind::Malformed { detail } => ErrorKind::Malformed {
            detail: key.redact(&detail),
        },
        ErrorKind::Unauthorized { detail } => ErrorKind::Unauthorized {
            detail: format!(
                "{}; hint: check the key in `{KEY_VAR}` (or `tiingo_api_key` in backfill.toml)",
                key.redact(&detail)
            ),
        },
        other => other,
    }
}

/// `{base}/tiingo/daily/{ticker}/prices?startDate=…&resampleFreq=daily&format=json`: the start is
/// the window's first date in the symbol's exchange zone; no end (see the module docs).
pub fn prices_url(base: &str, req: &FetchRequest) -> String {
    let cal = crate::adjust::calendar_for(&req.symbol);
    let start = req
        .range
        .start()
        .to_zoned_datetime(cal.timezone().clone())
        .date();
    format!(
        "{}/tiingo/daily/{}/prices?startDate={start}&resampleFreq=daily&format=json",
        base.trim_end_matches('/'),
        utf8_percent_encode(req.symbol.as_str(), crate::yahoo::SYMBOL_SET),
    )
}

impl Provider for TiingoProvider {
    fn name(&self) -> &'static str {
        "tiingo"
    }

    fn window(&self, _interval: Interval) -> Window {
        Window::UNLIMITED
    }

    fn quotas(&self) -> Quotas {
        DEFAULT_QUOTAS
    }

    async fn fetch_paced(
        &self,
        req: &FetchRequest,
        pacer: &dyn Pacer,
    ) -> Result<Answer, FetchError> {
        self.fetch_once(req, pacer)
            .await
            .map_err(|kind| req.error(kind))
    }
}

#[cfg(test)]
mod tests {
    use backfill_domain::{Symbol, TimeRange};
    use jiff::Timestamp;

    use super::*;

    #[test]
    fn the_url_starts_at_the_local_date_and_carries_no_key() {
        let range = TimeRange::new(
            "2024-01-02T14:30:00Z".parse::<Timestamp>().unwrap(),
            "2024-12-31T21:00:00Z".parse::<Timestamp>().unwrap(),
        )
        .unwrap();
        let req = FetchRequest::new(Symbol::parse("BRK-B").unwrap(), Interval::D1, range);
        assert_eq!(
            prices_url("http://127.0.0.1:9/", &req),
            "http://127.0.0.1:9/tiingo/daily/BRK-B/prices?startDate=2024-01-02&resampleFreq=daily&format=json"
        );
    }

    #[test]
    fn an_empty_key_is_refused_and_keys_never_print() {
        let err = TiingoProvider::new(TiingoConfig::new(Secret::new(""))).unwrap_err();
        assert!(err.to_string().contains("TIINGO_API_KEY"), "{err}");
        let p = TiingoProvider::new(TiingoConfig::new(Secret::new("abcdef0123456789"))).unwrap();
        assert!(!format!("{p:?}").contains("abcdef0123456789"));
    }
}
