//! The Yahoo client's error classification over real HTTP, against a scripted loopback server.

use std::time::Duration;

use backfill_domain::Interval;
use backfill_provider::yahoo::{YahooConfig, YahooProvider};
use backfill_provider::{ErrorKind, FetchError, FetchRequest, Provider};

use crate::req;
use crate::script::{Reply, serve};

const NOT_FOUND: &str = r#"{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}"#;
const INVALID_CRUMB: &str =
    r#"{"finance":{"result":null,"error":{"code":"Unauthorized","description":"Invalid Crumb"}}}"#;

fn btc_body() -> String {
    let path = format!(
        "{}/../../fixtures/yahoo/BTC-USD_1d_2020-01-01_2020-01-03.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).unwrap()
}

fn btc() -> FetchRequest {
    req("BTC-USD", Interval::D1, 1_577_836_800, 1_578_009_600)
}

fn client(url: &str) -> YahooProvider {
    YahooProvider::new(YahooConfig {
        base_url: url.to_owned(),
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        ..YahooConfig::default()
    })
    .unwrap()
}

/// Fetches BTC-USD once from a server that always answers with `reply()`.
async fn one(reply: impl Fn() -> Reply + Send + Sync + 'static) -> Result<usize, FetchError> {
    let (url, _log) = serve(move |_, _| reply()).await;
    client(&url).fetch(&btc()).await.map(|a| a.bars.len())
}

async fn kind(reply: impl Fn() -> Reply + Send + Sync + 'static) -> ErrorKind {
    let err = one(reply).await.unwrap_err();
    assert!(
        !err.to_string().contains("delisted") || err.kind.label() == "not_found",
        "{err}"
    );
    assert_eq!(err.symbol.as_str(), "BTC-USD");
    err.kind
}

#[tokio::test]
async fn success_over_http() {
    assert_eq!(one(|| Reply::json("200 OK", &btc_body())).await.unwrap(), 2);
}

#[tokio::test]
async fn not_found_404() {
    let k = kind(|| Reply::json("404 Not Found", NOT_FOUND)).await;
    assert_eq!(
        k,
        ErrorKind::NotFound {
            detail: "HTTP 404: No data found, symbol may be delisted".into()
        }
    );
    assert!(!k.is_retryable());
}

#[tokio::test]
async fn throttled_429_without_retry_after() {
    let k = kind(|| Reply::text("429 Too Many Requests", "Too Many Requests\r\n")).await;
    assert_eq!(k, ErrorKind::Throttled { retry_after: None });
    assert!(k.is_retryable());
}

#[tokio::test]
async fn throttled_429_with_retry_after_seconds() {
    let k = kind(|| {
        Reply::http(
            "429 Too Many Requests",
            &[("Retry-After", "7")],
            b"Too Many Requests",
        )
    })
    .await;
    assert_eq!(
        k,
        ErrorKind::Throttled {
            retry_after: Some(Duration::from_secs(7))
        }
    );
}

#[tokio::test]
async fn throttled_429_with_retry_after_http_date() {
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(120);
    let date = jiff::fmt::rfc2822::DateTimePrinter::new()
        .timestamp_to_rfc9110_string(&at)
        .unwrap();
    let k = kind(move || {
        Reply::http(
            "429 Too Many Requests",
            &[("Retry-After", date.as_str())],
            b"",
        )
    })
    .await;
    let wait = k.retry_after().expect("a wait from the HTTP date");
    assert!(
        wait > Duration::from_secs(100) && wait <= Duration::from_mins(2),
        "{wait:?}"
    );
}

#[tokio::test]
async fn edge_too_many_requests_on_200() {
    let k = kind(|| Reply::text("200 OK", "Edge: Too Many Requests")).await;
    assert_eq!(k, ErrorKind::Throttled { retry_after: None });
}

#[tokio::test]
async fn server_errors_are_transient() {
    for status in [
        "500 Internal Server Error",
        "502 Bad Gateway",
        "503 Service Unavailable",
    ] {
        let k = kind(move || Reply::text(status, "upstream trouble")).await;
        let code = &status[..3];
        assert_eq!(
            k,
            ErrorKind::Transient {
                detail: format!("HTTP {code}")
            },
            "{status}"
        );
    }
}

#[tokio::test]
async fn connection_reset_is_transient() {
    let k = kind(|| Reply::Reset).await;
    assert_eq!(k.label(), "transient", "{k:?}");
}

#[tokio::test]
async fn truncated_body_is_transient() {
    let k = kind(|| {
        let body = btc_body();
        let mut raw = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len() + 500
        )
        .into_bytes();
        raw.extend_from_slice(&body.as_bytes()[..body.len() / 2]);
        Reply::Raw(raw)
    })
    .await;
    let ErrorKind::Transient { detail } = &k else {
        panic!("{k:?}")
    };
    assert!(detail.contains("cut off"), "{detail}");
}

#[tokio::test]
async fn malformed_json_is_malformed() {
    let k = kind(|| Reply::json("200 OK", r#"{"chart":{"result":[{"meta":}]}}"#)).await;
    assert_eq!(k.label(), "malformed", "{k:?}");
    assert!(!k.is_retryable());
}

#[tokio::test]
async fn outage_page_is_transient() {
    let page = "<!DOCTYPE html><html><head><title>Yahoo</title></head><body>Will be right back...</body></html>";
    let k = kind(move || {
        Reply::http(
            "503 Service Unavailable",
            &[("Content-Type", "text/html")],
            page.as_bytes(),
        )
    })
    .await;
    assert_eq!(k.label(), "transient");
    let k = kind(move || Reply::http("200 OK", &[("Content-Type", "text/html")], page.as_bytes()))
        .await;
    assert_eq!(k.label(), "transient");
}

#[tokio::test]
async fn unprocessable_422_is_out_of_window() {
    let body = r#"{"chart":{"result":null,"error":{"code":"Unprocessable Entity","description":"1m data not available for startTime=1 and endTime=2. Only 7 days worth of 1m granularity data are allowed to be fetched per request."}}}"#;
    let k = kind(move || Reply::json("422 Unprocessable Entity", body)).await;
    let ErrorKind::OutOfWindow { detail } = &k else {
        panic!("{k:?}")
    };
    assert!(detail.contains("Only 7 days"), "{detail}");
    assert!(!k.is_retryable());
}

/// Chart answers 401 unless `crumb=<current>` is sent with the cookie; the crumb changes on request 4.
fn crumb_server(seen: &crate::script::Seen, _i: usize, crumb: &str) -> Reply {
    let t = seen.target.as_str();
    if t == "/" {
        return Reply::http(
            "404 Not Found",
            &[("Set-Cookie", "A3=d=cookievalue; Path=/; HttpOnly")],
            b"",
        );
    }
    if t == "/v1/test/getcrumb" {
        if !seen.headers.contains("A3=d=cookievalue") {
            return Reply::text("401 Unauthorized", "no cookie");
        }
        return Reply::text("200 OK", crumb);
    }
    if t.contains(&format!("crumb={crumb}")) && seen.headers.contains("A3=d=cookievalue") {
        return Reply::json("200 OK", &btc_body());
    }
    Reply::json("401 Unauthorized", INVALID_CRUMB)
}

#[tokio::test]
async fn unauthorized_triggers_one_crumb_dance_then_succeeds() {
    let current = std::sync::Arc::new(std::sync::Mutex::new("Crumb.One1".to_owned()));
    let c2 = current.clone();
    let (url, log) = serve(move |seen, i| crumb_server(seen, i, &c2.lock().unwrap())).await;
    let p = client(&url);

    assert_eq!(p.fetch(&btc()).await.unwrap().bars.len(), 2);
    let targets: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.target.clone())
        .collect();
    assert_eq!(targets.len(), 4, "{targets:?}");
    assert!(!targets[0].contains("crumb="), "starts without a crumb");
    assert_eq!(targets[1], "/");
    assert_eq!(targets[2], "/v1/test/getcrumb");
    assert!(targets[3].ends_with("&crumb=Crumb.One1"), "{}", targets[3]);
    assert_eq!(p.crumb_fetches(), 1);

    // The crumb is reused: one request, no dance.
    assert_eq!(p.fetch(&btc()).await.unwrap().bars.len(), 2);
    assert_eq!(log.lock().unwrap().len(), 5);

    // Rotated: the next 401 refreshes once more.
    *current.lock().unwrap() = "Crumb.Two2".to_owned();
    assert_eq!(p.fetch(&btc()).await.unwrap().bars.len(), 2);
    assert_eq!(p.crumb_fetches(), 2);
    assert!(
        log.lock()
            .unwrap()
            .last()
            .unwrap()
            .target
            .ends_with("crumb=Crumb.Two2")
    );
}

#[tokio::test]
async fn unauthorized_after_the_refresh_is_final() {
    let (url, log) = serve(|seen, _| {
        if seen.target == "/v1/test/getcrumb" {
            Reply::text("200 OK", "SomeCrumb")
        } else if seen.target == "/" {
            Reply::text("200 OK", "")
        } else {
            Reply::json("401 Unauthorized", INVALID_CRUMB)
        }
    })
    .await;
    let err = client(&url).fetch(&btc()).await.unwrap_err();
    assert_eq!(
        err.kind,
        ErrorKind::Unauthorized {
            detail: "HTTP 401: Invalid Crumb".into()
        }
    );
    assert!(
        !err.to_string().contains("SomeCrumb"),
        "never show the crumb: {err}"
    );
    assert_eq!(log.lock().unwrap().len(), 4, "one retry only");
}

#[tokio::test]
async fn sends_browser_headers_and_explicit_periods() {
    let (url, log) = serve(|_, _| Reply::json("200 OK", &btc_body())).await;
    client(&url).fetch(&btc()).await.unwrap();
    let seen = log.lock().unwrap()[0].clone();
    assert_eq!(
        seen.target,
        "/v8/finance/chart/BTC-USD?period1=1577836800&period2=1578009600&interval=1d&includePrePost=false\
         &events=div,split,capitalGains"
    );
    let h = seen.headers.to_ascii_lowercase();
    assert!(
        h.contains("user-agent: mozilla/5.0 (windows nt 10.0; win64; x64)"),
        "{h}"
    );
    assert!(h.contains("chrome/131"), "{h}");
    assert!(h.contains("accept-language: en-us,en;q=0.5"), "{h}");
    assert!(h.contains("accept-encoding: gzip"), "{h}");
}

#[tokio::test]
async fn failures_never_say_delisted() {
    let replies: Vec<fn() -> Reply> = vec![
        || Reply::text("429 Too Many Requests", "Too Many Requests"),
        || Reply::text("503 Service Unavailable", "x"),
        || Reply::Reset,
        || Reply::json("200 OK", "{nope"),
        || Reply::json("401 Unauthorized", INVALID_CRUMB),
    ];
    for r in replies {
        let err = one(r).await.unwrap_err();
        assert_ne!(err.kind.label(), "not_found");
        assert!(!err.to_string().contains("delisted"), "{err}");
    }
}

#[tokio::test]
async fn a_404_without_yahoos_answer_is_a_url_error_not_a_missing_symbol() {
    let replies: Vec<fn() -> Reply> = vec![
        || {
            Reply::http(
                "404 Not Found",
                &[("Content-Type", "text/html")],
                b"<html><body><h1>404 Not Found</h1><hr>nginx</body></html>",
            )
        },
        || Reply::http("404 Not Found", &[], b""),
        || Reply::text("404 Not Found", "Not Found"),
    ];
    for r in replies {
        let err = one(r).await.unwrap_err();
        assert_eq!(err.kind.label(), "bad_endpoint", "{err}");
        let text = err.to_string();
        assert!(!text.contains("delisted"), "{text}");
        assert!(text.contains("hint: check `--yahoo-url`"), "{text}");
        assert!(!err.is_retryable());
    }
}

#[tokio::test]
async fn a_mistyped_base_path_against_the_simulator_is_a_url_error() {
    let sim = backfill_sim::SimServer::start(
        backfill_sim::SimConfig::default(),
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .unwrap();
    // The simulator answers its own unknown paths with a plain-text 404.
    let err = client(&format!("{}/v7", sim.url()))
        .fetch(&btc())
        .await
        .unwrap_err();
    assert_eq!(err.kind.label(), "bad_endpoint", "{err}");
    // The right base with an unknown symbol is Yahoo's JSON 404: not found.
    let err = client(&sim.url())
        .fetch(&req("ZZNOPE", Interval::D1, 1_577_836_800, 1_578_009_600))
        .await
        .unwrap_err();
    assert_eq!(err.kind.label(), "not_found", "{err}");
}
