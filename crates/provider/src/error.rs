//! Fetch errors and their classes.

use std::fmt;
use std::time::Duration;

use backfill_domain::{Interval, Symbol, TimeRange};

/// One failed fetch attempt, with the request it was for.
///
/// Display: "`MSFT` 1d [2024-01-02, 2024-12-31): throttled by the provider (HTTP 429); …".
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`{symbol}` {interval} {range}: {kind}", range = RangeText(*.range))]
pub struct FetchError {
    pub symbol: Symbol,
    pub interval: Interval,
    pub range: TimeRange,
    pub kind: ErrorKind,
}

impl FetchError {
    /// See [`ErrorKind::is_retryable`].
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }

    /// See [`ErrorKind::retry_after`].
    pub fn retry_after(&self) -> Option<Duration> {
        self.kind.retry_after()
    }
}

/// What went wrong with one fetch attempt. [`ErrorKind::is_retryable`] is the single place that
/// decides whether another attempt can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The provider has no such symbol, or no longer has it (HTTP 404, Yahoo's dead-symbol shell).
    #[error(
        "not found at the provider ({detail}); the symbol is unknown or possibly delisted; \
         hint: check the spelling and the exchange suffix (`AIR.PA`, `OCDO.L`, `^GSPC`)"
    )]
    NotFound { detail: String },
    /// Rate limited or bot-detected (HTTP 429, "Too Many Requests").
    #[error("throttled by the provider (HTTP 429){}; hint: lower the request rate or wait before retrying", RetryText(*.retry_after))]
    Throttled { retry_after: Option<Duration> },
    /// The provider's request quota is spent until it resets (Tiingo's hourly or daily
    /// allocation): no request to it can succeed before `retry_after`. Waiting it out is not a
    /// retry, however short the wait.
    #[error("the provider's request quota is spent ({detail}); it resets in {}s", .retry_after.as_secs())]
    QuotaSpent {
        detail: String,
        retry_after: Duration,
    },
    /// The window is outside what the provider serves at this interval (Yahoo: HTTP 422; Alpaca's
    /// free plan: SIP bars of the last 15 minutes). `detail` says which limit.
    #[error(
        "the range is outside what the provider serves at this interval ({detail}); \
         hint: narrow `--days` or `--start` to what the provider keeps"
    )]
    OutOfWindow { detail: String },
    /// A failure that another attempt may not hit (5xx, reset, timeout, truncated body, outage page).
    #[error("transient failure talking to the provider ({detail})")]
    Transient { detail: String },
    /// The provider is unavailable and said when to come back (HTTP 503 with `Retry-After`).
    #[error("the provider is temporarily unavailable ({detail}){}", RetryText(Some(*.retry_after)))]
    Unavailable {
        detail: String,
        retry_after: Duration,
    },
    /// An answer that cannot be used as data (bad JSON, HTML, wrong granularity, inconsistent arrays).
    #[error("unusable answer from the provider ({detail})")]
    Malformed { detail: String },
    /// A 404 that is not the provider's own not-found answer (an HTML page from a proxy, an empty
    /// body, a mistyped base URL): the URL, not the symbol, is wrong.
    #[error(
        "the provider's URL answered {detail}, which is not the provider's answer for an unknown symbol; \
         hint: check `--yahoo-url` (`BACKFILL_YAHOO_URL`) and any proxy in between; the symbol was not looked up"
    )]
    BadEndpoint { detail: String },
    /// The provider refused our credentials (Yahoo: HTTP 401 even after a fresh cookie and crumb;
    /// Tiingo and Alpaca: a wrong key, or a plan without this data).
    #[error("not authorised by the provider ({detail})")]
    Unauthorized { detail: String },
    /// The provider does not serve what was asked (an interval it has no bars at).
    #[error("not served by this provider ({detail})")]
    Unsupported { detail: String },
}

impl ErrorKind {
    /// Whether another attempt can help: `Throttled`, `QuotaSpent`, `Transient` and `Unavailable`
    /// yes; `NotFound`,
    /// `OutOfWindow`, `Malformed`, `BadEndpoint` and `Unauthorized` no. This is the one function
    /// that decides retryability.
    pub fn is_retryable(&self) -> bool {
        match self {
            ErrorKind::Throttled { .. }
            | ErrorKind::QuotaSpent { .. }
            | ErrorKind::Transient { .. }
            | ErrorKind::Unavailable { .. } => true,
            ErrorKind::NotFound { .. }
            | ErrorKind::OutOfWindow { .. }
            | ErrorKind::Malformed { .. }
            | ErrorKind::BadEndpoint { .. }
            | ErrorKind::Unauthorized { .. }
            | ErrorKind::Unsupported { .. } => false,
        }
    }

    /// The server's requested wait (`Retry-After`, a quota reset), when it sent one. However long,
    /// the caller pauses every request to the provider until then.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ErrorKind::Throttled { retry_after } => *retry_after,
            ErrorKind::Unavailable { retry_after, .. }
            | ErrorKind::QuotaSpent { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// Stable snake-case name for reports, metrics and events.
    pub fn label(&self) -> &'static str {
        match self {
            ErrorKind::NotFound { .. } => "not_found",
            ErrorKind::Throttled { .. } => "throttled",
            ErrorKind::QuotaSpent { .. } => "quota",
            ErrorKind::OutOfWindow { .. } => "out_of_window",
            ErrorKind::Transient { .. } => "transient",
            ErrorKind::Unavailable { .. } => "unavailable",
            ErrorKind::Malformed { .. } => "malformed",
            ErrorKind::BadEndpoint { .. } => "bad_endpoint",
            ErrorKind::Unauthorized { .. } => "unauthorized",
            ErrorKind::Unsupported { .. } => "unsupported",
        }
    }
}

/// A provider could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The configured base URL is not an absolute http(s) URL.
    #[error(
        "invalid provider base URL `{url}` ({reason}); hint: use e.g. `https://query2.finance.yahoo.com`"
    )]
    BadBaseUrl { url: String, reason: String },
    /// The provider needs an API key and none was given.
    #[error(
        "no API key for {provider}; hint: set `{vars}` in the environment (or the matching key in \
         backfill.toml)"
    )]
    MissingKey {
        provider: &'static str,
        vars: &'static str,
    },
    /// The key cannot be sent in an HTTP header (control characters, non-ASCII).
    #[error(
        "the API key for {provider} holds characters an HTTP header cannot carry; hint: copy the key \
         again into `{vars}`"
    )]
    BadKey {
        provider: &'static str,
        vars: &'static str,
    },
    /// The HTTP client could not be built (TLS roots, invalid User-Agent, …).
    #[error("cannot build the HTTP client")]
    Client {
        #[source]
        source: reqwest::Error,
    },
}

/// Formats a range compactly: dates when both ends are UTC midnights, instants otherwise.
struct RangeText(TimeRange);

impl fmt::Display for RangeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let midnight = |t: jiff::Timestamp| {
            t.as_second().rem_euclid(86_400) == 0 && t.subsec_nanosecond() == 0
        };
        let (s, e) = (self.0.start(), self.0.end());
        if midnight(s) && midnight(e) {
            let d = |t: jiff::Timestamp| t.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
            write!(f, "[{}, {})", d(s), d(e))
        } else {
            write!(f, "[{s}, {e})")
        }
    }
}

struct RetryText(Option<Duration>);

impl fmt::Display for RetryText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(d) => write!(f, "; it asked to retry after {}s", d.as_secs()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;

    fn err(kind: ErrorKind) -> FetchError {
        let range = TimeRange::new(
            "2024-01-02T00:00:00Z".parse::<Timestamp>().unwrap(),
            "2024-12-31T00:00:00Z".parse::<Timestamp>().unwrap(),
        )
        .unwrap();
        FetchError {
            symbol: backfill_domain::Symbol::parse("MSFT").unwrap(),
            interval: Interval::D1,
            range,
            kind,
        }
    }

    #[test]
    fn display_names_symbol_interval_range_and_class() {
        let e = err(ErrorKind::Throttled {
            retry_after: Some(Duration::from_secs(30)),
        });
        assert_eq!(
            e.to_string(),
            "`MSFT` 1d [2024-01-02, 2024-12-31): throttled by the provider (HTTP 429); it asked to retry \
             after 30s; hint: lower the request rate or wait before retrying"
        );
        assert!(e.is_retryable());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
    }

    #[test]
    fn only_not_found_says_delisted() {
        let kinds = [
            ErrorKind::NotFound {
                detail: "HTTP 404".into(),
            },
            ErrorKind::Throttled { retry_after: None },
            ErrorKind::OutOfWindow { detail: "x".into() },
            ErrorKind::Transient { detail: "x".into() },
            ErrorKind::Malformed { detail: "x".into() },
            ErrorKind::BadEndpoint { detail: "x".into() },
            ErrorKind::Unauthorized { detail: "x".into() },
        ];
        for k in kinds {
            let text = err(k.clone()).to_string();
            assert_eq!(
                text.contains("delisted"),
                k.label() == "not_found",
                "{text}"
            );
        }
    }

    #[test]
    fn retryability_table() {
        let table = [
            (
                ErrorKind::NotFound {
                    detail: String::new(),
                },
                false,
                "not_found",
            ),
            (
                ErrorKind::Throttled { retry_after: None },
                true,
                "throttled",
            ),
            (
                ErrorKind::OutOfWindow {
                    detail: String::new(),
                },
                false,
                "out_of_window",
            ),
            (
                ErrorKind::Transient {
                    detail: String::new(),
                },
                true,
                "transient",
            ),
            (
                ErrorKind::Malformed {
                    detail: String::new(),
                },
                false,
                "malformed",
            ),
            (
                ErrorKind::BadEndpoint {
                    detail: String::new(),
                },
                false,
                "bad_endpoint",
            ),
            (
                ErrorKind::Unauthorized {
                    detail: String::new(),
                },
                false,
                "unauthorized",
            ),
        ];
        for (k, retry, label) in table {
            assert_eq!(k.is_retryable(), retry, "{label}");
            assert_eq!(k.label(), label);
            assert_eq!(k.retry_after(), None);
        }
    }

    #[test]
    fn non_midnight_ranges_show_instants() {
        let mut e = err(ErrorKind::Transient {
            detail: "HTTP 503".into(),
        });
        e.range = TimeRange::new(
            "2024-10-02T13:30:00Z".parse::<Timestamp>().unwrap(),
            "2024-10-02T20:00:00Z".parse::<Timestamp>().unwrap(),
        )
        .unwrap();
        assert_eq!(
            e.to_string(),
            "`MSFT` 1d [2024-10-02T13:30:00Z, 2024-10-02T20:00:00Z): transient failure talking to the provider (HTTP 503)"
        );
    }
}
