//! The Yahoo `v8/finance/chart` client.
//!
//! [`YahooProvider`] makes one HTTP request per [`Provider::fetch_paced`] (four when a 401 forces a
//! cookie and crumb refresh: cookie, crumb, and the chart again), each one after the caller's
//! [`Pacer`], and turns the response into an [`Answer`] with the pure [`parse_chart`]. It keeps one
//! keep-alive pool (HTTP/1.1, and HTTP/2 when TLS negotiates it), decompresses gzip, verifies TLS with
//! rustls (ring) and the platform's roots, and sends a desktop-Chrome `User-Agent` with browser-like
//! `Accept`/`Accept-Language`, as yfinance's fallback does.
//!
//! **Endpoints.** With the default base (`https://query2.finance.yahoo.com`) the chart comes from
//! `{base}/v8/finance/chart/{symbol}`, the cookie from `https://fc.yahoo.com/` and the crumb from
//! `https://query1.finance.yahoo.com/v1/test/getcrumb` (then `query2` if that fails). With any other base
//! (`--yahoo-url`, a simulator) all three come from it: `{base}/v8/finance/chart/{symbol}`, `{base}/`,
//! `{base}/v1/test/getcrumb`.
//!
//! **Cookie and crumb** (spec §6). The chart endpoint normally needs neither, so requests start without.
//! On a 401 the client fetches the cookie and then the crumb, once for all concurrent requests (a
//! single-flight guard: 50 simultaneous 401s cause one refresh), and retries that request once with
//! `crumb=`; a later 401 (rotated crumb) refreshes again. Crumb and cookie values are never logged.
//!
//! **Requests** carry explicit `period1`/`period2` (epoch seconds of the range; never `range=`),
//! `interval` ([`Interval::as_str`]: `1h` for hourly), `includePrePost=false` and
//! `events=div,split,capitalGains`.

mod parse;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backfill_domain::Interval;
use jiff::SignedDuration;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{self, HeaderMap, HeaderValue};

use crate::http::{Raw, read};
use crate::{Answer, ErrorKind, FetchError, FetchRequest, Pacer, Provider, ProviderError, Window};

pub use crate::http::parse_retry_after;
pub use parse::parse_chart;

/// The default API host (the one yfinance and yahooquery use).
pub const DEFAULT_BASE_URL: &str = "https://query2.finance.yahoo.com";

/// Where the cookie comes from with the default base.
const DEFAULT_COOKIE_URL: &str = "https://fc.yahoo.com/";
/// Where the crumb comes from with the default base, in order of preference.
const DEFAULT_CRUMB_URLS: [&str; 2] = [
    "https://query1.finance.yahoo.com/v1/test/getcrumb",
    "https://query2.finance.yahoo.com/v1/test/getcrumb",
];

/// A desktop Chrome on Windows, as yfinance's plain-`requests` fallback sends (Chrome 131).
pub const DEFAULT_USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
const ACCEPT_LANGUAGE: &str = "en-US,en;q=0.5";

/// Everything outside `[A-Za-z0-9._-]` is percent-encoded in the symbol path segment (spec §5.10).
pub(crate) const SYMBOL_SET: &AsciiSet = &NON_ALPHANUMERIC.remove(b'.').remove(b'_').remove(b'-');

/// How to reach Yahoo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YahooConfig {
    /// API base; every endpoint is requested from it unless it is [`DEFAULT_BASE_URL`] (see the module docs).
    pub base_url: String,
    /// Limit for establishing a connection (TCP + TLS).
    pub connect_timeout: Duration,
    /// Limit between two reads of one response.
    pub read_timeout: Duration,
    /// Limit for a whole request, body included.
    pub request_timeout: Duration,
    pub user_agent: String,
    /// Idle keep-alive connections kept per host.
    pub pool_max_idle_per_host: usize,
}

impl Default for YahooConfig {
    /// Yahoo's real host, 10 s to connect, 30 s between reads, 60 s per request, Chrome UA, 8 idle connections.
    fn default() -> YahooConfig {
        YahooConfig {
            base_url: DEFAULT_BASE_URL.to_owned(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_mins(1),
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            pool_max_idle_per_host: 8,
        }
    }
}

/// The Yahoo chart client. Cheap to clone: clones share the connection pool, the cookie jar and the crumb.
#[derive(Debug, Clone)]
pub struct YahooProvider {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: YahooConfig,
    client: reqwest::Client,
    base: String,
    cookie_url: String,
    crumb_urls: Vec<String>,
    /// The current crumb and its generation (0 = none yet).
    crumb: Mutex<Option<Crumb>>,
    /// Single-flight guard for refreshing the crumb.
    refresh: tokio::sync::Mutex<()>,
    crumb_fetches: AtomicU64,
}

#[derive(Clone)]
struct Crumb {
    value: String,
    generation: u64,
}

impl std::fmt::Debug for Crumb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Crumb(generation {}, value redacted)", self.generation)
    }
}

impl YahooProvider {
    /// Builds the client. Installs rustls' `ring` crypto provider as the process default first if no
    /// provider is installed yet (reqwest needs one).
    ///
    /// # Errors
    /// [`ProviderError::BadBaseUrl`] when `base_url` is not an absolute http(s) URL;
    /// [`ProviderError::Client`] when the HTTP client cannot be built (e.g. an invalid User-Agent).
    pub fn new(config: YahooConfig) -> Result<YahooProvider, ProviderError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let base = crate::http::base_url(&config.base_url)?;
        let (cookie_url, crumb_urls) = if base == DEFAULT_BASE_URL {
            (
                DEFAULT_COOKIE_URL.to_owned(),
                DEFAULT_CRUMB_URLS.iter().map(|s| (*s).to_owned()).collect(),
            )
        } else {
            (format!("{base}/"), vec![format!("{base}/v1/test/getcrumb")])
        };
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(ACCEPT));
        headers.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static(ACCEPT_LANGUAGE),
        );
        let client = crate::http::client_builder(
            &config.user_agent,
            headers,
            config.connect_timeout,
            config.read_timeout,
            config.request_timeout,
        )
        .pool_max_idle_per_host(config.pool_max_idle_per_host)
        .tcp_keepalive(Duration::from_secs(30))
        .cookie_store(true)
        .build()
        .map_err(|source| ProviderError::Client { source })?;
        Ok(YahooProvider {
            inner: Arc::new(Inner {
                config,
                client,
                base,
                cookie_url,
                crumb_urls,
                crumb: Mutex::new(None),
                refresh: tokio::sync::Mutex::new(()),
                crumb_fetches: AtomicU64::new(0),
            }),
        })
    }

    /// The API base every chart request goes to (without a trailing `/`).
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// The configuration the client was built with.
    pub fn config(&self) -> &YahooConfig {
        &self.inner.config
    }

    /// How many times a crumb was fetched (successfully or not) since the client was built.
    pub fn crumb_fetches(&self) -> u64 {
        self.inner.crumb_fetches.load(Ordering::Relaxed)
    }

    fn current_crumb(&self) -> Option<Crumb> {
        self.inner
            .crumb
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    async fn fetch_once(&self, req: &FetchRequest, pacer: &dyn Pacer) -> Result<Answer, ErrorKind> {
        let seen = self.current_crumb();
        let url = chart_url(&self.inner.base, req);
        let mut raw = self
            .get_chart(&url, seen.as_ref().map(|c| c.value.as_str()), pacer)
            .await?;
        if raw.status == 401 {
            let fresh = self
                .refresh_crumb(seen.as_ref().map_or(0, |c| c.generation), pacer)
                .await?;
            raw = self.get_chart(&url, Some(&fresh.value), pacer).await?;
        }
        let result = parse_chart(raw.status, raw.content_type.as_deref(), &raw.body, req);
        with_retry_after(result, &raw)
    }

    async fn get_chart(
        &self,
        url: &str,
        crumb: Option<&str>,
        pacer: &dyn Pacer,
    ) -> Result<Raw, ErrorKind> {
        pacer.acquire().await;
        let mut builder = self.inner.client.get(url);
        if let Some(c) = crumb {
            builder = builder.query(&[("crumb", c)]);
        }
        let started = Instant::now();
        let raw = read(builder).await?;
        tracing::debug!(
            status = raw.status,
            bytes = raw.body.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            with_crumb = crumb.is_some(),
            "yahoo chart response"
        );
        Ok(raw)
    }

    /// Gets a crumb newer than generation `seen`: another task's fresh one if it already refreshed,
    /// otherwise fetches cookie and crumb itself. Only one refresh runs at a time.
    async fn refresh_crumb(&self, seen: u64, pacer: &dyn Pacer) -> Result<Crumb, ErrorKind> {
        let _guard = self.inner.refresh.lock().await;
        if let Some(c) = self.current_crumb().filter(|c| c.generation != seen) {
            return Ok(c);
        }
        self.inner.crumb_fetches.fetch_add(1, Ordering::Relaxed);
        pacer.acquire().await;
        // The cookie request's status is irrelevant (fc.yahoo.com answers 404 with cookies); only the
        // cookies it sets matter, and a blocked host is not fatal.
        if let Err(e) = self.inner.client.get(&self.inner.cookie_url).send().await {
            tracing::debug!(error = %e.without_url(), "cookie request failed; trying the crumb anyway");
        }
        let mut last = ErrorKind::Unauthorized {
            detail: "no crumb endpoint".into(),
        };
        for url in &self.inner.crumb_urls {
            match self.get_crumb(url, pacer).await {
                Ok(value) => {
                    let generation = seen.max(self.current_crumb().map_or(0, |c| c.generation)) + 1;
                    let crumb = Crumb { value, generation };
                    *self
                        .inner
                        .crumb
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(crumb.clone());
                    tracing::debug!(generation, "fetched a new crumb");
                    return Ok(crumb);
                }
                Err(kind) => last = kind,
            }
        }
        Err(last)
    }

    async fn get_crumb(&self, url: &str, pacer: &dyn Pacer) -> Result<String, ErrorKind> {
        pacer.acquire().await;
        let raw = read(self.inner.client.get(url)).await?;
        let text = String::from_utf8_lossy(&raw.body).trim().to_owned();
        if raw.status == 429 || text.to_ascii_lowercase().contains("too many requests") {
            return Err(ErrorKind::Throttled {
                retry_after: raw.retry_after,
            });
        }
        if raw.status >= 500 {
            return with_retry_after(
                Err(ErrorKind::Transient {
                    detail: format!("the crumb request answered HTTP {}", raw.status),
                }),
                &raw,
            );
        }
        let plausible =
            !text.is_empty() && text.len() <= 128 && !text.contains(['<', ' ', '\n', '{']);
        if raw.status != 200 || !plausible {
            return Err(ErrorKind::Unauthorized {
                detail: format!(
                    "HTTP 401 on the chart, and the crumb request answered HTTP {} without a crumb",
                    raw.status
                ),
            });
        }
        Ok(text)
    }
}

/// Adds the response's `Retry-After` to a throttled answer, and turns a 503 carrying one into
/// [`ErrorKind::Unavailable`] (the server said when to come back).
fn with_retry_after<T>(result: Result<T, ErrorKind>, raw: &Raw) -> Result<T, ErrorKind> {
    match (result, raw.retry_after) {
        (Err(ErrorKind::Throttled { retry_after: None }), Some(wait)) => {
            Err(ErrorKind::Throttled {
                retry_after: Some(wait),
            })
        }
        (Err(ErrorKind::Transient { detail }), Some(wait)) if raw.status == 503 => {
            Err(ErrorKind::Unavailable {
                detail,
                retry_after: wait,
            })
        }
        (other, _) => other,
    }
}

/// The chart URL for `req` against `base`: `{base}/v8/finance/chart/{symbol}?period1=…&period2=…&interval=…
/// &includePrePost=false&events=div,split,capitalGains`. The symbol is percent-encoded outside
/// `[A-Za-z0-9._-]` (`^GSPC` → `%5EGSPC`, `EURUSD=X` → `EURUSD%3DX`).
pub fn chart_url(base: &str, req: &FetchRequest) -> String {
    format!(
        "{}/v8/finance/chart/{}?period1={}&period2={}&interval={}&includePrePost=false&events=div,split,capitalGains",
        base.trim_end_matches('/'),
        encode_symbol(req.symbol.as_str()),
        req.range.start().as_second(),
        req.range.end().as_second(),
        req.interval.as_str(),
    )
}

/// Percent-encodes a symbol for a URL path segment (spec §5.10).
pub fn encode_symbol(symbol: &str) -> String {
    utf8_percent_encode(symbol, SYMBOL_SET).to_string()
}

/// Yahoo's per-request limits (spec §1.2): 1m 7 days wide within the last 30 days; 2m–90m within 60 days;
/// 1h within 730 days; daily and coarser unlimited.
pub fn yahoo_window(interval: Interval) -> Window {
    let days = |d: i64| Some(SignedDuration::from_hours(24 * d));
    match interval {
        Interval::M1 => Window {
            max_span: days(7),
            lookback: days(30),
        },
        Interval::M2 | Interval::M5 | Interval::M15 | Interval::M30 | Interval::M90 => Window {
            max_span: None,
            lookback: days(60),
        },
        Interval::H1 => Window {
            max_span: None,
            lookback: days(730),
        },
        Interval::D1 | Interval::W1 | Interval::Mo1 => Window::UNLIMITED,
    }
}

impl Provider for YahooProvider {
    fn name(&self) -> &'static str {
        "yahoo"
    }

    fn window(&self, interval: Interval) -> Window {
        yahoo_window(interval)
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
    use super::*;
    use backfill_domain::{Symbol, TimeRange};
    use jiff::Timestamp;

    fn req(symbol: &str, interval: Interval) -> FetchRequest {
        let range = TimeRange::new(
            Timestamp::from_second(1_704_067_200).unwrap(),
            Timestamp::from_second(1_735_603_200).unwrap(),
        )
        .unwrap();
        FetchRequest::new(Symbol::parse(symbol).unwrap(), interval, range)
    }

    #[test]
    fn symbols_are_percent_encoded_outside_the_safe_set() {
        assert_eq!(encode_symbol("^GSPC"), "%5EGSPC");
        assert_eq!(encode_symbol("EURUSD=X"), "EURUSD%3DX");
        assert_eq!(encode_symbol("BRK-B"), "BRK-B");
        assert_eq!(encode_symbol("AIR.PA"), "AIR.PA");
        assert_eq!(encode_symbol("0P000071W8.TO"), "0P000071W8.TO");
        assert_eq!(encode_symbol("A&B/C%"), "A%26B%2FC%25");
    }

    #[test]
    fn chart_url_carries_explicit_periods_and_events() {
        assert_eq!(
            chart_url(
                "https://query2.finance.yahoo.com/",
                &req("^GSPC", Interval::D1)
            ),
            "https://query2.finance.yahoo.com/v8/finance/chart/%5EGSPC?period1=1704067200&period2=1735603200\
             &interval=1d&includePrePost=false&events=div,split,capitalGains"
        );
        let url = chart_url("http://127.0.0.1:9", &req("EURUSD=X", Interval::H1));
        assert!(
            url.starts_with("http://127.0.0.1:9/v8/finance/chart/EURUSD%3DX?"),
            "{url}"
        );
        assert!(url.contains("&interval=1h&"), "{url}");
        assert!(!url.contains("range="), "{url}");
    }

    #[test]
    fn yahoo_windows_follow_the_spec() {
        let day = SignedDuration::from_hours(24);
        assert_eq!(
            yahoo_window(Interval::M1),
            Window {
                max_span: Some(day * 7),
                lookback: Some(day * 30)
            }
        );
        assert_eq!(
            yahoo_window(Interval::M5),
            Window {
                max_span: None,
                lookback: Some(day * 60)
            }
        );
        assert_eq!(
            yahoo_window(Interval::M90),
            Window {
                max_span: None,
                lookback: Some(day * 60)
            }
        );
        assert_eq!(
            yahoo_window(Interval::H1),
            Window {
                max_span: None,
                lookback: Some(day * 730)
            }
        );
        for i in [Interval::D1, Interval::W1, Interval::Mo1] {
            assert_eq!(yahoo_window(i), Window::UNLIMITED);
        }
    }

    #[test]
    fn retry_after_seconds_and_http_dates() {
        let now: Timestamp = "2026-01-05T10:00:00Z".parse().unwrap();
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_mins(2)));
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Mon, 05 Jan 2026 10:01:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_retry_after("Mon, 05 Jan 2026 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        // The obsolete RFC 850 form and asctime's.
        assert_eq!(
            parse_retry_after("Monday, 05-Jan-26 10:00:45 GMT", now),
            Some(Duration::from_secs(45))
        );
        assert_eq!(
            parse_retry_after("Mon Jan  5 10:10:00 2026", now),
            Some(Duration::from_mins(10))
        );
    }

    #[test]
    fn base_url_decides_every_endpoint() {
        let p = YahooProvider::new(YahooConfig::default()).unwrap();
        assert_eq!(p.base_url(), DEFAULT_BASE_URL);
        assert_eq!(p.inner.cookie_url, "https://fc.yahoo.com/");
        assert_eq!(
            p.inner.crumb_urls[0],
            "https://query1.finance.yahoo.com/v1/test/getcrumb"
        );

        let p = YahooProvider::new(YahooConfig {
            base_url: "http://127.0.0.1:8080/".into(),
            ..YahooConfig::default()
        })
        .unwrap();
        assert_eq!(p.base_url(), "http://127.0.0.1:8080");
        assert_eq!(p.inner.cookie_url, "http://127.0.0.1:8080/");
        assert_eq!(
            p.inner.crumb_urls,
            ["http://127.0.0.1:8080/v1/test/getcrumb"]
        );

        for bad in ["", "query2.finance.yahoo.com", "ftp://x.example"] {
            let err = YahooProvider::new(YahooConfig {
                base_url: bad.into(),
                ..YahooConfig::default()
            })
            .unwrap_err();
            assert!(
                matches!(err, ProviderError::BadBaseUrl { .. }),
                "{bad}: {err}"
            );
        }
    }
}
