//! What every HTTP provider shares: reading a response to the end, classifying transport
//! failures without leaking the URL, `Retry-After`, and checking a configured base URL.

use std::time::Duration;

use reqwest::header;

use crate::{ErrorKind, ProviderError};

/// The HTTP client builder every provider starts from: rustls on ring (installed once per
/// process), `user_agent`, `headers` on every request, the three timeouts (to connect, between
/// reads, for the whole request), a keep-alive pool whose idle connections close after a minute,
/// `TCP_NODELAY` and gzip. A provider adds what is its own (Yahoo: cookies, pool size) and builds.
pub(crate) fn client_builder(
    user_agent: &str,
    headers: header::HeaderMap,
    connect: Duration,
    read: Duration,
    request: Duration,
) -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(user_agent)
        .default_headers(headers)
        .connect_timeout(connect)
        .read_timeout(read)
        .timeout(request)
        .pool_idle_timeout(Duration::from_mins(1))
        .tcp_nodelay(true)
        .gzip(true)
}

/// Our `User-Agent` for providers with an API (Tiingo, Alpaca).
pub(crate) const USER_AGENT: &str = concat!("backfill/", env!("CARGO_PKG_VERSION"));

/// The built client of a keyed API (Tiingo, Alpaca): [`client_builder`] with our [`USER_AGENT`].
pub(crate) fn api_client(
    headers: header::HeaderMap,
    connect: Duration,
    read: Duration,
    request: Duration,
) -> Result<reqwest::Client, ProviderError> {
    client_builder(USER_AGENT, headers, connect, read, request)
        .build()
        .map_err(|source| ProviderError::Client { source })
}

/// A header value that carries a key, marked sensitive so that reqwest never shows it. A key that
/// cannot be a header value is [`ProviderError::BadKey`] for `provider`, naming `vars`.
pub(crate) fn key_header(
    value: &str,
    provider: &'static str,
    vars: &'static str,
) -> Result<header::HeaderValue, ProviderError> {
    let mut v = header::HeaderValue::from_str(value)
        .map_err(|_| ProviderError::BadKey { provider, vars })?;
    v.set_sensitive(true);
    Ok(v)
}

/// A response read to the end.
pub(crate) struct Raw {
    pub status: u16,
    pub content_type: Option<String>,
    pub retry_after: Option<Duration>,
    /// The server's clock (`Date` header), when it sent one.
    pub date: Option<jiff::Timestamp>,
    pub body: Vec<u8>,
}

/// Sends a request and reads the whole body; network failures are [`ErrorKind::Transient`].
pub(crate) async fn read(builder: reqwest::RequestBuilder) -> Result<Raw, ErrorKind> {
    let resp = builder
        .send()
        .await
        .map_err(|e| transport("sending the request", e))?;
    let status = resp.status().as_u16();
    let headers = resp.headers();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let retry_after = headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, jiff::Timestamp::now()));
    let date = headers
        .get(header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            jiff::fmt::rfc2822::DateTimeParser::new()
                .parse_timestamp(v.trim())
                .ok()
        });
    let body = resp
        .bytes()
        .await
        .map_err(|e| transport(&format!("reading the HTTP {status} body"), e))?;
    Ok(Raw {
        status,
        content_type,
        retry_after,
        date,
        body: body.to_vec(),
    })
}

/// A transport failure, described without the URL (it may carry the crumb).
pub(crate) fn transport(doing: &str, e: reqwest::Error) -> ErrorKind {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the body was cut off or unreadable"
    } else {
        "the connection failed"
    };
    let mut detail = format!("{what} while {doing}");
    let e = e.without_url();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(&e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    ErrorKind::Transient { detail }
}

/// Parses `Retry-After` (RFC 9110 §10.2.3): delta-seconds, or an HTTP-date in any of its three
/// formats (`Sun, 06 Nov 1994 08:49:37 GMT`, the obsolete `Sunday, 06-Nov-94 08:49:37 GMT` and
/// asctime's `Sun Nov  6 08:49:37 1994`), relative to `now`.
/// A date in the past means "now" (zero).
pub fn parse_retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = jiff::Timestamp::try_from(httpdate::parse_http_date(value).ok()?).ok()?;
    let wait = at.duration_since(now);
    Some(if wait.is_negative() {
        Duration::ZERO
    } else {
        wait.unsigned_abs()
    })
}

/// Trims `url`, drops a trailing `/` and checks it is an absolute http(s) URL with a host.
///
/// # Errors
/// [`ProviderError::BadBaseUrl`] naming `url` and what is wrong with it.
pub(crate) fn base_url(url: &str) -> Result<String, ProviderError> {
    let base = url.trim().trim_end_matches('/').to_owned();
    let parsed = reqwest::Url::parse(&base).map_err(|e| ProviderError::BadBaseUrl {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(ProviderError::BadBaseUrl {
            url: url.to_owned(),
            reason: "expected an http:// or https:// URL with a host".into(),
        });
    }
    Ok(base)
}
