//! The Alpaca Market Data v2 client (spec: `docs/spec/alpaca-market-data-api.md`).
//!
//! One [`Provider::fetch`] sends, with the keys in the `APCA-API-KEY-ID` / `APCA-API-SECRET-KEY`
//! headers (never in the URL):
//!
//! 1. `GET {base}/v2/stocks/bars?symbols=…&timeframe=…&start=…&end=…&adjustment=split&feed=sip
//!    &limit=10000&sort=asc`, then the same with `page_token=` until `next_page_token` is null:
//!    prices and volume split-adjusted as of today;
//! 2. for daily bars, the same with `adjustment=split,dividend`: its closes are `adj_close`;
//! 3. `GET {base}/v1/corporate-actions?symbols=…&types=forward_split,reverse_split,cash_dividend&start=…&limit=1000` (and its pages), from 31 days before the window (the filter is
//!    on the processing date, which can precede the ex-date) to today (so dividends can be put on
//!    today's basis).
//!
//! Intervals: 1m, 2m, 5m, 15m, 30m and 1d ([`INTERVALS`]). `start`/`end` are RFC 3339 instants of
//! the window (Alpaca's `end` is inclusive: the window's end minus one second), or for daily bars the
//! window's first and last dates in New York. A page token seen twice is
//! [`ErrorKind::Malformed`] (a server looping would otherwise never end).
//!
//! **Quota**: 200 requests a minute on the free plan ([`DEFAULT_PER_MINUTE`], declared by
//! [`Provider::quotas`] so the engine never sends more); a 429 is
//! [`ErrorKind::Throttled`] with the `Retry-After` header's wait, when sent.
//!
//! A well-formed symbol Alpaca does not list is answered with no bars (spec §8), which the run
//! records as an answered, empty range; a malformed one is `400 invalid symbol`
//! ([`ErrorKind::NotFound`]).

mod parse;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use backfill_domain::Interval;
use jiff::{SignedDuration, Timestamp};
use percent_encoding::utf8_percent_encode;
use reqwest::header::HeaderMap;

use crate::http::{Raw, read};
use crate::{
    Answer, ErrorKind, FetchError, FetchRequest, Pacer, Provider, ProviderError, Quotas, Secret,
    Window,
};

pub use parse::{
    BarPage, CorporateAction, RawBar, build_answer, classify, parse_actions, parse_bars, timeframe,
};

/// Alpaca's market-data host.
pub const DEFAULT_BASE_URL: &str = "https://data.alpaca.markets";
/// The environment variables the keys are read from (Alpaca's own names).
pub const KEY_ID_VAR: &str = "APCA_API_KEY_ID";
pub const SECRET_VAR: &str = "APCA_API_SECRET_KEY";
const VARS: &str = "APCA_API_KEY_ID` and `APCA_API_SECRET_KEY";
/// The intervals this client serves.
pub const INTERVALS: [Interval; 6] = [
    Interval::M1,
    Interval::M2,
    Interval::M5,
    Interval::M15,
    Interval::M30,
    Interval::D1,
];
/// Requests a minute on the free plan (spec §7).
pub const DEFAULT_PER_MINUTE: u32 = 200;
/// Bars asked for per page (Alpaca's maximum).
pub const PAGE_LIMIT: u32 = 10_000;
/// Pages followed at most for one window before the answer counts as malformed.
const MAX_PAGES: usize = 10_000;

/// How to reach Alpaca.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlpacaConfig {
    /// API base; bars come from `{base}/v2/stocks/bars`, actions from `{base}/v1/corporate-actions`.
    pub base_url: String,
    pub key_id: Secret,
    pub secret: Secret,
    /// `sip` (every venue; the default) or `iex`.
    pub feed: String,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub request_timeout: Duration,
}

impl AlpacaConfig {
    /// Alpaca's real host with these keys, the `sip` feed, 10 s to connect, 30 s between reads,
    /// 1 min per request.
    pub fn new(key_id: Secret, secret: Secret) -> AlpacaConfig {
        AlpacaConfig {
            base_url: DEFAULT_BASE_URL.to_owned(),
            key_id,
            secret,
            feed: "sip".to_owned(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_mins(1),
        }
    }
}

/// The Alpaca client. Cheap to clone: clones share the connection pool.
#[derive(Debug, Clone)]
pub struct AlpacaProvider {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: AlpacaConfig,
    client: reqwest::Client,
    base: String,
}

impl AlpacaProvider {
    /// Builds the client.
    ///
    /// # Errors
    /// [`ProviderError::MissingKey`] when either key is empty, [`ProviderError::BadKey`] when one
    /// cannot be a header, [`ProviderError::BadBaseUrl`], [`ProviderError::Client`].
    pub fn new(config: AlpacaConfig) -> Result<AlpacaProvider, ProviderError> {
        if config.key_id.is_empty() || config.secret.is_empty() {
            return Err(ProviderError::MissingKey {
                provider: "alpaca",
                vars: VARS,
            });
        }
        let base = crate::http::base_url(&config.base_url)?;
        let mut headers = HeaderMap::new();
        let key_id = crate::http::key_header(config.key_id.expose(), "alpaca", VARS)?;
        headers.insert("APCA-API-KEY-ID", key_id);
        let secret = crate::http::key_header(config.secret.expose(), "alpaca", VARS)?;
        headers.insert("APCA-API-SECRET-KEY", secret);
        let client = crate::http::api_client(
            headers,
            config.connect_timeout,
            config.read_timeout,
            config.request_timeout,
        )?;
        Ok(AlpacaProvider {
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

    async fn get(&self, url: &str, pacer: &dyn Pacer) -> Result<Raw, ErrorKind> {
        pacer.acquire().await;
        let raw = read(self.inner.client.get(url))
            .await
            .map_err(|k| self.redact(k))?;
        classify(raw.status, &raw.body, raw.retry_after).map_err(|k| self.redact(k))?;
        Ok(raw)
    }

    /// Every page of bars for `req` at `adjustment`.
    async fn bars(
        &self,
        req: &FetchRequest,
        adjustment: &str,
        pacer: &dyn Pacer,
    ) -> Result<Vec<RawBar>, ErrorKind> {
        let first = bars_url(&self.inner.base, req, adjustment, &self.inner.config.feed);
        let symbol = alpaca_symbol(req.symbol.as_str());
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut url = first.clone();
        for _ in 0..MAX_PAGES {
            let raw = self.get(&url, pacer).await?;
            let page = parse_bars(&raw.body, &symbol)?;
            out.extend(page.bars);
            match page.next_page_token {
                None => return Ok(out),
                Some(token) => {
                    if !seen.insert(token.clone()) {
                        return Err(ErrorKind::Malformed {
                            detail: "Alpaca sent the same page token twice".into(),
                        });
                    }
                    url = format!("{first}&page_token={}", encode(&token));
                }
            }
        }
        Err(too_many_pages())
    }

    /// Every split and cash dividend of `req.symbol` processed from 31 days before the window.
    async fn actions(
        &self,
        req: &FetchRequest,
        pacer: &dyn Pacer,
    ) -> Result<Vec<CorporateAction>, ErrorKind> {
        let first = actions_url(&self.inner.base, req);
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut url = first.clone();
        let symbol = alpaca_symbol(req.symbol.as_str());
        for _ in 0..MAX_PAGES {
            let raw = self.get(&url, pacer).await?;
            let (actions, next) = parse_actions(&raw.body)?;
            out.extend(actions.into_iter().filter(|a| match a {
                CorporateAction::Split { symbol: s, .. }
                | CorporateAction::Dividend { symbol: s, .. } => *s == symbol,
            }));
            match next {
                None => return Ok(out),
                Some(token) => {
                    if !seen.insert(token.clone()) {
                        return Err(ErrorKind::Malformed {
                            detail: "Alpaca sent the same page token twice".into(),
                        });
                    }
                    url = format!("{first}&page_token={}", encode(&token));
                }
            }
        }
        Err(too_many_pages())
    }

    async fn fetch_once(&self, req: &FetchRequest, pacer: &dyn Pacer) -> Result<Answer, ErrorKind> {
        if timeframe(req.interval).is_none() {
            return Err(ErrorKind::Unsupported {
                detail: format!(
                    "this Alpaca client serves 1m 2m 5m 15m 30m and 1d bars, not {}; hint: use \
                     `--provider yahoo` for {}",
                    req.interval, req.interval
                ),
            });
        }
        let split = self.bars(req, "split", pacer).await?;
        let adjusted = if req.interval.is_intraday() {
            Vec::new()
        } else {
            self.bars(req, "split,dividend", pacer).await?
        };
        let actions = self.actions(req, pacer).await?;
        Ok(build_answer(req, &split, &adjusted, &actions))
    }

    fn redact(&self, kind: ErrorKind) -> ErrorKind {
        let c = &self.inner.config;
        let clean = |d: &str| c.secret.redact(&c.key_id.redact(d));
        match kind {
            ErrorKind::NotFound { detail } => ErrorKind::NotFound {
                detail: clean(&detail),
            },
            ErrorKind::Transient { detail } => ErrorKind::Transient {
                detail: clean(&detail),
            },
            ErrorKind::Malformed { detail } => ErrorKind::Malformed {
                detail: clean(&detail),
            },
            ErrorKind::Unauthorized { detail } => ErrorKind::Unauthorized {
                detail: format!(
                    "Alpaca refused the keys, {}; hint: check `{KEY_ID_VAR}` and `{SECRET_VAR}` \
                     (or `alpaca_key_id` and `alpaca_secret_key` in backfill.toml): keys of a paper \
                     account work, keys of an OAuth app do not",
                    clean(&detail)
                ),
            },
            other => other,
        }
    }
}

fn too_many_pages() -> ErrorKind {
    ErrorKind::Malformed {
        detail: format!("Alpaca kept sending pages after {MAX_PAGES}"),
    }
}

fn encode(s: &str) -> String {
    utf8_percent_encode(s, crate::yahoo::SYMBOL_SET).to_string()
}

/// The store's symbol as Alpaca spells it: a one-letter share class after `-` becomes `.`
/// (`BRK-B` → `BRK.B`); everything else is unchanged.
pub fn alpaca_symbol(symbol: &str) -> String {
    match symbol.rsplit_once('-') {
        Some((base, class)) if class.len() == 1 && !base.is_empty() => format!("{base}.{class}"),
        _ => symbol.to_owned(),
    }
}

/// The first bars page's URL for `req` (see the module docs for the parameters).
pub fn bars_url(base: &str, req: &FetchRequest, adjustment: &str, feed: &str) -> String {
    let tf = timeframe(req.interval).unwrap_or("1Day");
    let (start, end) = if req.interval.is_intraday() {
        let last = req.range.end() - SignedDuration::from_secs(1);
        (
            rfc3339(req.range.start()),
            rfc3339(last.max(req.range.start())),
        )
    } else {
        let cal = crate::adjust::calendar_for(&req.symbol);
        let tz = cal.timezone().clone();
        let last = req.range.end() - SignedDuration::from_nanos(1);
        (
            req.range
                .start()
                .to_zoned_datetime(tz.clone())
                .date()
                .to_string(),
            last.to_zoned_datetime(tz).date().to_string(),
        )
    };
    format!(
        "{}/v2/stocks/bars?symbols={}&timeframe={tf}&start={}&end={}&adjustment={}&feed={feed}&limit={PAGE_LIMIT}&sort=asc",
        base.trim_end_matches('/'),
        encode(&alpaca_symbol(req.symbol.as_str())),
        encode(&start),
        encode(&end),
        encode(adjustment),
    )
}

/// The first corporate-actions page's URL for `req`: from 31 days before the window, no end (today).
pub fn actions_url(base: &str, req: &FetchRequest) -> String {
    let start = (req.range.start() - SignedDuration::from_hours(24 * 31))
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    format!(
        "{}/v1/corporate-actions?symbols={}&types=forward_split,reverse_split,cash_dividend&start={start}&limit=1000&sort=asc",
        base.trim_end_matches('/'),
        encode(&alpaca_symbol(req.symbol.as_str())),
    )
}

fn rfc3339(t: Timestamp) -> String {
    t.to_string()
}

impl Provider for AlpacaProvider {
    fn name(&self) -> &'static str {
        "alpaca"
    }

    fn window(&self, _interval: Interval) -> Window {
        Window::UNLIMITED
    }

    fn quotas(&self) -> Quotas {
        Quotas {
            per_minute: Some(DEFAULT_PER_MINUTE),
            ..Quotas::NONE
        }
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

    use super::*;

    fn req(symbol: &str, interval: Interval, a: &str, b: &str) -> FetchRequest {
        FetchRequest::new(
            Symbol::parse(symbol).unwrap(),
            interval,
            TimeRange::new(a.parse().unwrap(), b.parse().unwrap()).unwrap(),
        )
    }

    #[test]
    fn urls_name_the_window_and_no_key() {
        let r = req(
            "BRK-B",
            Interval::D1,
            "2024-01-02T14:30:00Z",
            "2024-01-05T21:00:00Z",
        );
        assert_eq!(
            bars_url("http://h/", &r, "split,dividend", "sip"),
            "http://h/v2/stocks/bars?symbols=BRK.B&timeframe=1Day&start=2024-01-02&end=2024-01-05\
             &adjustment=split%2Cdividend&feed=sip&limit=10000&sort=asc"
        );
        let r = req(
            "AMZN",
            Interval::M15,
            "2021-10-15T16:00:00Z",
            "2021-10-15T17:15:00Z",
        );
        assert_eq!(
            bars_url("http://h", &r, "split", "sip"),
            "http://h/v2/stocks/bars?symbols=AMZN&timeframe=15Min&start=2021-10-15T16%3A00%3A00Z\
             &end=2021-10-15T17%3A14%3A59Z&adjustment=split&feed=sip&limit=10000&sort=asc"
        );
        assert_eq!(
            actions_url("http://h", &r),
            "http://h/v1/corporate-actions?symbols=AMZN&types=forward_split,reverse_split,\
             cash_dividend&start=2021-09-14&limit=1000&sort=asc"
        );
    }

    #[test]
    fn share_classes_use_a_dot() {
        assert_eq!(alpaca_symbol("BRK-B"), "BRK.B");
        assert_eq!(alpaca_symbol("MSFT"), "MSFT");
        assert_eq!(alpaca_symbol("BTC-USD"), "BTC-USD");
    }

    #[test]
    fn missing_keys_name_both_variables() {
        let err =
            AlpacaProvider::new(AlpacaConfig::new(Secret::new("id"), Secret::new(""))).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("APCA_API_KEY_ID") && text.contains("APCA_API_SECRET_KEY"),
            "{text}"
        );
    }
}
