//! Who may read the dashboard: anyone who can reach a loopback address, or whoever holds the token.
//!
//! A token is accepted as `Authorization: Bearer <token>`, as `?token=<token>` (for a browser's
//! first visit; the answer then sets an `HttpOnly` cookie so the page's own requests carry it), or
//! as that cookie. Tokens are compared in constant time.

use std::fmt::Write as _;
use std::net::SocketAddr;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::DashboardError;

/// The cookie that carries the token after a visit with `?token=`.
pub const COOKIE: &str = "backfill_dashboard_token";

/// How requests are let in.
#[derive(Clone, PartialEq, Eq)]
pub enum Access {
    /// Everyone who can connect (the dashboard listens on loopback only).
    Open,
    /// Only requests that present this token.
    Token(String),
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Access::Open => f.write_str("Open"),
            Access::Token(_) => f.write_str("Token(<redacted>)"),
        }
    }
}

/// The access rule for a dashboard bound to `addr`: the given token if any; otherwise open on a
/// loopback address and a freshly generated token anywhere else. The flag says whether the token
/// was generated (the caller prints it once; nobody else knows it).
///
/// # Errors
/// [`DashboardError::Token`]: the operating system's random source failed.
pub fn access_for(
    addr: SocketAddr,
    token: Option<String>,
) -> Result<(Access, bool), DashboardError> {
    match token.filter(|t| !t.is_empty()) {
        Some(t) => Ok((Access::Token(t), false)),
        None if addr.ip().is_loopback() => Ok((Access::Open, false)),
        None => Ok((Access::Token(generate_token()?), true)),
    }
}

/// 128 random bits from the operating system, as 32 hex digits.
///
/// # Errors
/// [`DashboardError::Token`]: the operating system's random source failed.
pub fn generate_token() -> Result<String, DashboardError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| DashboardError::Token(e.to_string()))?;
    let mut hex = String::with_capacity(32);
    for b in bytes {
        let _ = write!(hex, "{b:02x}");
    }
    Ok(hex)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn from_header(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn from_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

fn from_query(query: Option<&str>) -> Option<String> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "token")
        .map(|(_, v)| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
}

/// Middleware: lets a request through when [`Access`] allows it, else answers 401.
pub async fn guard(
    State(access): State<std::sync::Arc<Access>>,
    req: Request,
    next: Next,
) -> Response {
    let Access::Token(token) = &*access else {
        return next.run(req).await;
    };
    let ok = |t: &str| constant_time_eq(t.as_bytes(), token.as_bytes());
    let headers = req.headers();
    let by_query = from_query(req.uri().query()).is_some_and(|t| ok(&t));
    let allowed = by_query
        || from_header(headers).is_some_and(ok)
        || from_cookie(headers).is_some_and(|t| ok(&t));
    if !allowed {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"backfill\"")],
            "this dashboard needs its token\n\nhint: open the URL printed when it started (`?token=…`), \
             or send `Authorization: Bearer <token>`\n",
        )
            .into_response();
    }
    let mut resp = next.run(req).await;
    if by_query {
        let cookie = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_open_elsewhere_a_token_is_required() {
        let lo: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let lo6: SocketAddr = "[::1]:0".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(access_for(lo, None).unwrap(), (Access::Open, false));
        assert_eq!(access_for(lo6, None).unwrap(), (Access::Open, false));
        assert_eq!(
            access_for(lo, Some("s3cret".into())).unwrap(),
            (Access::Token("s3cret".into()), false)
        );
        let (a, generated) = access_for(any, None).unwrap();
        assert!(generated);
        let Access::Token(t) = a else { panic!() };
        assert_eq!(t.len(), 32);
        assert_ne!(t, generate_token().unwrap());
        assert_eq!(format!("{:?}", Access::Token(t)), "Token(<redacted>)");
        // An empty token is no token.
        assert!(access_for(any, Some(String::new())).unwrap().1);
    }

    #[test]
    fn tokens_are_read_from_header_query_and_cookie() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        h.insert(
            header::COOKIE,
            format!("x=1; {COOKIE}=def").parse().unwrap(),
        );
        assert_eq!(from_header(&h), Some("abc"));
        assert_eq!(from_cookie(&h).as_deref(), Some("def"));
        assert_eq!(from_query(Some("a=1&token=x%2By")).as_deref(), Some("x+y"));
        assert_eq!(from_query(Some("tokens=1")), None);
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
