//! The Tiingo and Alpaca surfaces of the server: routing, keys, quotas, and the answers of
//! [`crate::tiingo`] and [`crate::alpaca`]. The shared rate limit, latency and failure injection
//! apply as to Yahoo's chart.

use std::sync::atomic::Ordering;

use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, DATE, HeaderValue, RETRY_AFTER};
use hyper::{Request, Response};
use percent_encoding::percent_decode_str;

use crate::model::mix;
use crate::server::{Answer, JSON, SimBody, State, TEXT, inject, lock, query_map, respond};
use crate::{alpaca, tiingo};

/// A Tiingo or Alpaca endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// `/tiingo/daily/{ticker}/prices`
    TiingoPrices(String),
    /// `/v2/stocks/bars`
    AlpacaBars,
    /// `/v1/corporate-actions`
    AlpacaActions,
}

impl Route {
    pub(crate) fn of(path: &str) -> Option<Route> {
        if let Some(rest) = path.strip_prefix("/tiingo/daily/") {
            let ticker = rest.strip_suffix("/prices")?;
            return Some(Route::TiingoPrices(
                percent_decode_str(ticker).decode_utf8_lossy().into_owned(),
            ));
        }
        match path {
            "/v2/stocks/bars" => Some(Route::AlpacaBars),
            "/v1/corporate-actions" => Some(Route::AlpacaActions),
            _ => None,
        }
    }

    /// The API the endpoint belongs to.
    pub(crate) fn api(&self) -> crate::server::Api {
        if self.is_tiingo() {
            crate::server::Api::Tiingo
        } else {
            crate::server::Api::Alpaca
        }
    }

    fn is_tiingo(&self) -> bool {
        matches!(self, Route::TiingoPrices(_))
    }
}

fn header<'a>(req: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The 401/403 answer when the request's credentials are missing or wrong, else `None`.
fn refuse(state: &State, route: &Route, req: &Request<Incoming>) -> Option<Response<SimBody>> {
    if route.is_tiingo() {
        let token = header(req, AUTHORIZATION.as_str())
            .and_then(|v| v.strip_prefix("Token "))
            .map(str::trim)
            .filter(|t| !t.is_empty());
        return match (token, &state.config.tiingo_key) {
            (None, _) => Some(respond(401, JSON, tiingo::NO_KEY_BODY)),
            (Some(t), Some(k)) if t != k => Some(respond(401, JSON, tiingo::BAD_KEY_BODY)),
            _ => None,
        };
    }
    let id = header(req, "apca-api-key-id").filter(|v| !v.is_empty());
    let secret = header(req, "apca-api-secret-key").filter(|v| !v.is_empty());
    let ok = match (id, secret, &state.config.alpaca_keys) {
        (Some(i), Some(s), Some((ki, ks))) => i == ki && s == ks,
        (Some(_), Some(_), None) => true,
        _ => false,
    };
    (!ok).then(|| respond(403, JSON, alpaca::FORBIDDEN_BODY))
}

/// Serves one Tiingo or Alpaca request.
pub(crate) async fn serve(state: &State, route: Route, req: &Request<Incoming>) -> Answer {
    let query = query_map(req.uri().query());
    let symbol = match &route {
        Route::TiingoPrices(t) => t.to_ascii_uppercase(),
        _ => query.get("symbols").cloned().unwrap_or_default(),
    };
    *lock(&state.stats).per_symbol.entry(symbol).or_default() += 1;
    let mut answer = serve_inner(state, &route, &query, req).await;
    if let Ok(r) = &mut answer {
        let date = jiff::fmt::rfc2822::DateTimePrinter::new()
            .timestamp_to_rfc9110_string(&state.quotas.now());
        if let Ok(v) = date
            .map_err(drop)
            .and_then(|d| HeaderValue::from_str(&d).map_err(drop))
        {
            r.headers_mut().insert(DATE, v);
        }
    }
    answer
}

async fn serve_inner(
    state: &State,
    route: &Route,
    query: &std::collections::BTreeMap<String, String>,
    req: &Request<Incoming>,
) -> Answer {
    if let Some(refused) = refuse(state, route, req) {
        return Ok(refused);
    }
    let within_quota = if route.is_tiingo() {
        state.quotas.take_tiingo()
    } else {
        state.quotas.take_alpaca()
    };
    if !within_quota {
        return Ok(if route.is_tiingo() {
            respond(429, JSON, tiingo::QUOTA_BODY)
        } else {
            respond(429, TEXT, alpaca::TOO_MANY_BODY)
        });
    }
    let allowed = lock(&state.limiter)
        .as_mut()
        .is_none_or(|g| g.allow(tokio::time::Instant::now()));
    if !allowed {
        let mut r = if route.is_tiingo() {
            respond(429, JSON, tiingo::QUOTA_BODY)
        } else {
            respond(429, TEXT, alpaca::TOO_MANY_BODY)
        };
        if let Some(secs) = state.config.retry_after {
            r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        return Ok(r);
    }
    let draw = state.draws.fetch_add(1, Ordering::SeqCst);
    let mut rng = fastrand::Rng::with_seed(mix(state.config.seed ^ mix(draw ^ 0x5eed)));
    let delay = state.config.latency + state.config.jitter.mul_f64(rng.f64());
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let failure = (rng.f64() < state.config.fail_rate).then(|| rng.u8(0..6));
    let now = state.now();
    let (status, body, rows) = match route {
        Route::TiingoPrices(ticker) => {
            let a = tiingo::prices(&state.market, ticker, query, now);
            (a.status, a.body, a.rows)
        }
        Route::AlpacaBars => {
            let a = alpaca::bars(&state.market, query, now, state.config.alpaca_page_cap);
            (a.status, a.body, a.rows)
        }
        Route::AlpacaActions => {
            let a = alpaca::corporate_actions(&state.market, query, now);
            (a.status, a.body, a.rows)
        }
    };
    if status == 200 && failure.is_none() {
        lock(&state.stats).rows_served += rows;
    }
    let ok = respond(status, JSON, body);
    match failure {
        None => Ok(ok),
        Some(kind) => inject(kind, ok),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_path() {
        assert_eq!(
            Route::of("/tiingo/daily/BRK-B/prices"),
            Some(Route::TiingoPrices("BRK-B".into()))
        );
        assert_eq!(Route::of("/tiingo/daily/X"), None);
        assert_eq!(Route::of("/v2/stocks/bars"), Some(Route::AlpacaBars));
        assert_eq!(
            Route::of("/v1/corporate-actions"),
            Some(Route::AlpacaActions)
        );
        assert_eq!(Route::of("/v8/finance/chart/MSFT"), None);
    }
}
