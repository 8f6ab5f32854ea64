//! [`SimServer`]: the hyper HTTP/1 front of the simulator, with its knobs ([`SimConfig`]) and
//! counters ([`Stats`]).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HeaderValue, RETRY_AFTER, SET_COOKIE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use jiff::Timestamp;
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::Market;
use crate::model::{hash, mix};
use crate::yahoo::{self, INVALID_CRUMB_BODY};

/// The simulator's knobs. Everything random is drawn from `seed` in request order.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Seeds the market and the failure and latency draws.
    pub seed: u64,
    /// Added to every chart and crumb request.
    pub latency: Duration,
    /// Uniform extra latency in `[0, jitter)`.
    pub jitter: Duration,
    /// Requests per second over all chart and crumb requests; above it the answer is 429
    /// (GCRA with a burst of 1: requests must be spaced by at least `1/rate`).
    pub rate: Option<f64>,
    /// Seconds sent as `Retry-After` on a 429, when set.
    pub retry_after: Option<u64>,
    /// Probability that a chart or crumb request fails: 500, 502, 503, connection reset,
    /// truncated body or malformed JSON.
    pub fail_rate: f64,
    /// Connections served at once; further connections wait in accept.
    pub max_conns: Option<usize>,
    /// Chart answers 401 "Invalid Crumb" without a valid cookie and crumb.
    pub require_crumb: bool,
    /// Symbols starting with one of these are unknown (404).
    pub unknown_prefixes: Vec<String>,
    /// A fixed clock; `None` follows real time.
    pub now: Option<Timestamp>,
    /// Fraction of served bars (every symbol) that are deliberately invalid, in `[0, 1]`; see
    /// [`Market::with_bad_bars`] and [`Market::bad_bars`]. 0 serves clean bars.
    pub bad_bars: f64,
    /// Symbols of which about one bar in ten is deliberately invalid, whatever `bad_bars` is.
    pub bad_symbols: Vec<String>,
    /// Appends Yahoo's trailing live row after `period2` when `period2` is before the clock and
    /// today's session has opened; see [`Market::live_row`].
    pub live_row: bool,
    /// The Tiingo token `/tiingo/…` requests must carry (`Authorization: Token …`); `None` accepts
    /// any non-empty token.
    pub tiingo_key: Option<String>,
    /// Tiingo requests allowed per clock hour of the quota clock (see [`SimServer::quota_now`]);
    /// above it the answer is Tiingo's 429 "hourly request allocation". `None`: no quota.
    pub tiingo_per_hour: Option<u32>,
    /// The Alpaca key id and secret `/v2/…` and `/v1/corporate-actions` requests must carry;
    /// `None` accepts any non-empty pair.
    pub alpaca_keys: Option<(String, String)>,
    /// Alpaca requests allowed per clock minute of the quota clock; above it a 429. `None`: no quota.
    pub alpaca_per_minute: Option<u32>,
    /// The most bars on one Alpaca page, below what the request's `limit` asks (to exercise paging).
    pub alpaca_page_cap: Option<usize>,
    /// Serve only this API; the others answer 404. `None` serves all three.
    pub only: Option<Api>,
}

/// One of the APIs the simulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `/v8/finance/chart/…`, the cookie and the crumb.
    Yahoo,
    /// `/tiingo/daily/…`.
    Tiingo,
    /// `/v2/stocks/bars` and `/v1/corporate-actions`.
    Alpaca,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            seed: 42,
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            rate: None,
            retry_after: None,
            fail_rate: 0.0,
            max_conns: None,
            require_crumb: false,
            unknown_prefixes: vec!["ZZ".to_owned()],
            now: None,
            bad_bars: 0.0,
            bad_symbols: Vec::new(),
            live_row: false,
            tiingo_key: None,
            tiingo_per_hour: None,
            alpaca_keys: None,
            alpaca_per_minute: None,
            alpaca_page_cap: None,
            only: None,
        }
    }
}

/// What the server has served since start or the last reset. Control endpoints are not counted.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Every request except control endpoints (`/_…`).
    pub requests_total: u64,
    /// Requests to `/v8/finance/chart/…`, whatever their answer.
    pub chart_requests: u64,
    /// Chart requests per (decoded) symbol.
    pub per_symbol: BTreeMap<String, u64>,
    /// Answers per HTTP status (connection resets are not counted here).
    pub per_status: BTreeMap<u16, u64>,
    /// Most requests in progress at once.
    pub max_in_flight: u64,
    /// Bar rows in successful chart answers (bad bars included, the trailing live row not).
    pub rows_served: u64,
}

/// One request the server received, in arrival order ([`SimServer::log`]).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// When it arrived, since the server started (tokio's clock, so a paused test clock counts).
    pub at: Duration,
    /// The request path (`/v8/finance/chart/MSFT`, `/v1/test/getcrumb`, `/`).
    pub path: String,
    /// The status answered; `None` when the connection was cut instead (a simulated reset).
    pub status: Option<u16>,
    /// The `Retry-After` sent with the answer, in seconds.
    pub retry_after: Option<u64>,
}

/// Requests kept in the log; older ones are dropped first.
const LOG_CAPACITY: usize = 200_000;

/// GCRA with a burst of one: a request is allowed when it arrives at or after the theoretical
/// arrival time, which then moves one emission interval past it.
#[derive(Debug)]
pub(crate) struct Gcra {
    interval: Duration,
    tat: Option<tokio::time::Instant>,
}

impl Gcra {
    pub(crate) fn allow(&mut self, now: tokio::time::Instant) -> bool {
        if self.tat.is_some_and(|tat| now < tat) {
            return false;
        }
        self.tat = Some(now + self.interval);
        true
    }
}

/// Cookies handed out by `GET /` and the crumb generation (bumped by `/_crumb/rotate`).
#[derive(Debug, Default)]
struct Crumbs {
    cookies: HashMap<String, u64>,
    minted: u64,
    epoch: u64,
}

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) config: SimConfig,
    pub(crate) market: Market,
    clock: Mutex<Option<Timestamp>>,
    pub(crate) stats: Mutex<Stats>,
    in_flight: AtomicU64,
    pub(crate) draws: AtomicU64,
    pub(crate) limiter: Mutex<Option<Gcra>>,
    crumbs: Mutex<Crumbs>,
    pub(crate) quotas: crate::quota::Quotas,
    started: tokio::time::Instant,
    log: Mutex<std::collections::VecDeque<LogEntry>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl State {
    pub(crate) fn now(&self) -> Timestamp {
        lock(&self.clock).unwrap_or_else(Timestamp::now)
    }

    fn crumb_for(&self, cookie_index: u64, epoch: u64) -> String {
        token(
            hash(self.config.seed, &[900, cookie_index as i64, epoch as i64]),
            11,
        )
    }

    /// The crumb valid for the request's `A3` cookie, if it carries a cookie this server minted.
    fn crumb_of(&self, req: &Request<Incoming>) -> Option<String> {
        let cookie = a3_cookie(req)?;
        let crumbs = lock(&self.crumbs);
        let index = *crumbs.cookies.get(&cookie)?;
        Some(self.crumb_for(index, crumbs.epoch))
    }
}

/// `len` alphanumeric characters drawn from `h`.
fn token(h: u64, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = fastrand::Rng::with_seed(h);
    (0..len)
        .map(|_| ALPHABET[rng.usize(..ALPHABET.len())] as char)
        .collect()
}

/// The value of the `A3` cookie in the request's `Cookie` headers.
fn a3_cookie(req: &Request<Incoming>) -> Option<String> {
    req.headers()
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix("A3=").map(str::to_owned))
}

/// A response body: all of `data`, or (truncated) `data` followed by an error, which makes hyper
/// close the connection short of the announced `Content-Length`. The error waits a moment so that
/// hyper flushes the head and the partial body first.
#[derive(Debug)]
pub(crate) struct SimBody {
    data: Option<Bytes>,
    fail_after: bool,
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl SimBody {
    fn full(data: impl Into<Bytes>) -> SimBody {
        SimBody {
            data: Some(data.into()),
            fail_after: false,
            pause: None,
        }
    }

    fn truncated(data: Bytes) -> SimBody {
        SimBody {
            data: Some(data),
            fail_after: true,
            pause: Some(Box::pin(tokio::time::sleep(Duration::from_millis(20)))),
        }
    }
}

impl Body for SimBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if let Some(d) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(d))));
        }
        if let Some(pause) = self.pause.as_mut() {
            if pause.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.pause = None;
        }
        if self.fail_after {
            self.fail_after = false;
            return Poll::Ready(Some(Err(std::io::Error::other("simulated truncated body"))));
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && !self.fail_after
    }

    fn size_hint(&self) -> SizeHint {
        match (&self.data, self.fail_after) {
            (Some(d), false) => SizeHint::with_exact(d.len() as u64),
            (None, false) => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}

pub(crate) type Answer = Result<Response<SimBody>, std::io::Error>;

pub(crate) fn respond(
    status: u16,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<SimBody> {
    let mut r = Response::new(SimBody::full(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

pub(crate) const JSON: &str = "application/json;charset=utf-8";
pub(crate) const TEXT: &str = "text/plain;charset=utf-8";
const HTML: &str = "text/html;charset=utf-8";

/// A running simulator. Dropping it without [`SimServer::shutdown`] leaves the accept loop running
/// until the runtime ends.
#[derive(Debug)]
pub struct SimServer {
    addr: SocketAddr,
    state: Arc<State>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl SimServer {
    /// Binds `addr` (`127.0.0.1:0` picks a free port) and starts serving in the background.
    ///
    /// # Errors
    /// The bind error, e.g. when the port is taken.
    pub async fn start(config: SimConfig, addr: SocketAddr) -> std::io::Result<SimServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let market = Market::new(config.seed)
            .with_unknown_prefixes(config.unknown_prefixes.clone())
            .with_bad_bars(config.bad_bars, config.bad_symbols.clone())
            .with_live_row(config.live_row);
        let limiter = config.rate.filter(|r| *r > 0.0).map(|r| Gcra {
            interval: Duration::from_secs_f64(1.0 / r),
            tat: None,
        });
        let state = Arc::new(State {
            clock: Mutex::new(config.now),
            market,
            stats: Mutex::new(Stats::default()),
            in_flight: AtomicU64::new(0),
            draws: AtomicU64::new(0),
            limiter: Mutex::new(limiter),
            crumbs: Mutex::new(Crumbs::default()),
            quotas: crate::quota::Quotas::new(
                config.now,
                config.tiingo_per_hour,
                config.alpaca_per_minute,
            ),
            started: tokio::time::Instant::now(),
            log: Mutex::new(std::collections::VecDeque::new()),
            config,
        });
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&state), stop_rx));
        tracing::debug!(%addr, "sim listening");
        Ok(SimServer {
            addr,
            state,
            stop,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, the base URL to give a Yahoo client.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn market(&self) -> &Market {
        &self.state.market
    }

    pub fn config(&self) -> &SimConfig {
        &self.state.config
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        lock(&self.state.stats).clone()
    }

    /// Zeroes the counters and empties the request log.
    pub fn reset(&self) {
        *lock(&self.state.stats) = Stats::default();
        lock(&self.state.log).clear();
    }

    /// Every request received since start or the last reset (the most recent 200,000), in arrival
    /// order, with its answer: the ground truth for "nothing was sent inside a `Retry-After`".
    pub fn log(&self) -> Vec<LogEntry> {
        lock(&self.state.log).iter().cloned().collect()
    }

    /// The server's clock: the fixed time if one is set, else real time.
    pub fn now(&self) -> Timestamp {
        self.state.now()
    }

    /// Fixes the server's clock at `now`.
    pub fn set_now(&self, now: Timestamp) {
        *lock(&self.state.clock) = Some(now);
    }

    /// The quota clock: [`SimConfig::now`] at start, or without one the wall clock at start (whole
    /// seconds), plus the tokio time elapsed since,
    /// so that a paused test clock moves it. Tiingo's hourly and Alpaca's per-minute quotas count
    /// requests per clock hour and minute of this clock, and Tiingo and Alpaca answers carry it
    /// in their `Date` header.
    pub fn quota_now(&self) -> Timestamp {
        self.state.quotas.now()
    }

    /// Invalidates every crumb handed out so far (cookies stay valid; a new crumb must be fetched).
    pub fn rotate_crumb(&self) {
        lock(&self.state.crumbs).epoch += 1;
    }

    /// Stops accepting, closes every connection and waits for the accept loop to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>, mut stop: watch::Receiver<bool>) {
    let limit = state
        .config
        .max_conns
        .map(|n| Arc::new(Semaphore::new(n.max(1))));
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let permit = match &limit {
            Some(sem) => tokio::select! {
                p = Arc::clone(sem).acquire_owned() => p.ok(),
                _ = stop.changed() => break,
            },
            None => None,
        };
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "sim accept failed");
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        conns.spawn(async move {
            let service = service_fn(move |req| handle(Arc::clone(&state), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(permit);
        });
    }
    conns.shutdown().await;
}

/// Decrements the in-flight count when a request finishes, however it finishes.
struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Decoded query parameters (later duplicates win).
pub(crate) fn query_map(query: Option<&str>) -> BTreeMap<String, String> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let dec = |s: &str| {
                percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Answer {
    let path = req.uri().path().to_owned();
    if let Some(control) = path.strip_prefix("/_") {
        return Ok(handle_control(&state, control, &req));
    }
    let arrived = tokio::time::Instant::now();
    let in_flight = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let _guard = InFlight(&state.in_flight);
    let chart_symbol = path
        .strip_prefix("/v8/finance/chart/")
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned());
    {
        let mut stats = lock(&state.stats);
        stats.requests_total += 1;
        stats.max_in_flight = stats.max_in_flight.max(in_flight);
        if let Some(sym) = &chart_symbol {
            stats.chart_requests += 1;
            *stats.per_symbol.entry(sym.clone()).or_default() += 1;
        }
    }
    let answer = serve(&state, &path, chart_symbol.as_deref(), &req).await;
    if let Ok(resp) = &answer {
        *lock(&state.stats)
            .per_status
            .entry(resp.status().as_u16())
            .or_default() += 1;
    }
    let entry = LogEntry {
        at: arrived.duration_since(state.started),
        path,
        status: answer.as_ref().ok().map(|r| r.status().as_u16()),
        retry_after: answer
            .as_ref()
            .ok()
            .and_then(|r| r.headers().get(RETRY_AFTER)?.to_str().ok()?.parse().ok()),
    };
    let mut log = lock(&state.log);
    if log.len() == LOG_CAPACITY {
        log.pop_front();
    }
    log.push_back(entry);
    drop(log);
    answer
}

async fn serve(
    state: &State,
    path: &str,
    chart_symbol: Option<&str>,
    req: &Request<Incoming>,
) -> Answer {
    let route = crate::routes::Route::of(path);
    let api = route.as_ref().map_or(Api::Yahoo, crate::routes::Route::api);
    if state.config.only.is_some_and(|only| only != api) {
        return Ok(respond(404, TEXT, "Not Found"));
    }
    if let Some(route) = route {
        return crate::routes::serve(state, route, req).await;
    }
    let is_crumb = path == "/v1/test/getcrumb";
    if chart_symbol.is_none() && !is_crumb {
        if path == "/" {
            return Ok(mint_cookie(state));
        }
        return Ok(respond(404, TEXT, "Not Found"));
    }
    // Rate limit, then latency, then failure injection: each drawn in request order.
    let allowed = lock(&state.limiter)
        .as_mut()
        .is_none_or(|g| g.allow(tokio::time::Instant::now()));
    if !allowed {
        let mut r = respond(429, TEXT, "Too Many Requests");
        if let Some(secs) = state.config.retry_after {
            r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        return Ok(r);
    }
    let draw = state.draws.fetch_add(1, Ordering::SeqCst);
    let mut rng = fastrand::Rng::with_seed(mix(state.config.seed ^ mix(draw ^ 0x5eed)));
    let jitter = state.config.jitter.mul_f64(rng.f64());
    let delay = state.config.latency + jitter;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let failure = (rng.f64() < state.config.fail_rate).then(|| rng.u8(0..6));
    let now = state.now();
    let ok = if let Some(symbol) = chart_symbol {
        if state.config.require_crumb && !crumb_ok(state, req) {
            return Ok(respond(401, JSON, INVALID_CRUMB_BODY));
        }
        let query = query_map(req.uri().query());
        let a = yahoo::chart(&state.market, symbol, &query, now);
        if a.status == 200 && failure.is_none() {
            lock(&state.stats).rows_served += a.rows;
        }
        respond(a.status, JSON, a.body)
    } else {
        match state.crumb_of(req) {
            Some(crumb) => respond(200, TEXT, crumb),
            None => respond(401, TEXT, "Unauthorized"),
        }
    };
    match failure {
        None => Ok(ok),
        Some(kind) => inject(kind, ok),
    }
}

/// Replaces a good answer by one of the failure kinds.
pub(crate) fn inject(kind: u8, ok: Response<SimBody>) -> Answer {
    match kind {
        0 => Ok(respond(
            500,
            JSON,
            r#"{"chart":{"result":null,"error":{"code":"Internal Server Error","description":"Internal Server Error"}}}"#,
        )),
        1 => Ok(respond(
            502,
            HTML,
            "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>",
        )),
        2 => Ok(respond(
            503,
            HTML,
            "<!DOCTYPE html><html><head><title>Yahoo</title></head><body><p>Will be right back...</p></body></html>",
        )),
        3 => Err(std::io::Error::other("simulated connection reset")),
        4 | 5 => {
            let (parts, mut body) = ok.into_parts();
            let data = body.data.take().unwrap_or_default();
            let cut = data.slice(..data.len() / 2);
            if kind == 4 {
                // Truncated: announce the full length, send half, then drop the connection.
                let mut r = Response::from_parts(parts, SimBody::truncated(cut));
                r.headers_mut()
                    .insert(CONTENT_LENGTH, HeaderValue::from(data.len()));
                Ok(r)
            } else {
                // Malformed: a complete response whose JSON stops halfway.
                let mut r = Response::from_parts(parts, SimBody::full(cut));
                *r.status_mut() = StatusCode::OK;
                r.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static(JSON));
                Ok(r)
            }
        }
        _ => unreachable!("failure kinds are drawn from 0..6"),
    }
}

fn crumb_ok(state: &State, req: &Request<Incoming>) -> bool {
    let sent = query_map(req.uri().query()).remove("crumb");
    match (sent, state.crumb_of(req)) {
        (Some(sent), Some(valid)) => sent == valid,
        _ => false,
    }
}

/// `GET /` stands for `fc.yahoo.com`: a 404 page that sets the `A3` cookie.
fn mint_cookie(state: &State) -> Response<SimBody> {
    let value = {
        let mut crumbs = lock(&state.crumbs);
        let index = crumbs.minted;
        crumbs.minted += 1;
        let h = hash(state.config.seed, &[800, index as i64]);
        let value = format!("d=AQABBA{}&S=AQAAA{}", token(h, 40), token(mix(h), 16));
        crumbs.cookies.insert(value.clone(), index);
        value
    };
    let mut r = respond(
        404,
        HTML,
        "<!DOCTYPE html><html><head><title>Yahoo</title></head><body>404 Not Found</body></html>",
    );
    // Host-only (no Domain) and not Secure, so that a cookie jar sends it back to a loopback URL.
    let cookie = format!("A3={value}; Max-Age=31557600; Path=/; SameSite=None; HttpOnly");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(SET_COOKIE, v);
    }
    r
}

fn handle_control(state: &State, control: &str, req: &Request<Incoming>) -> Response<SimBody> {
    let post = req.method() == Method::POST;
    let json_now = |now: Timestamp| format!(r#"{{"now":{}}}"#, now.as_second());
    match (control, post) {
        ("stats", _) => {
            let stats = lock(&state.stats).clone();
            respond(
                200,
                JSON,
                serde_json::to_string(&stats).expect("stats serialise"),
            )
        }
        ("reset", true) => {
            *lock(&state.stats) = Stats::default();
            lock(&state.log).clear();
            respond(200, JSON, "{}")
        }
        ("log", false) => {
            let log: Vec<LogEntry> = lock(&state.log).iter().cloned().collect();
            respond(
                200,
                JSON,
                serde_json::to_string(&log).expect("the log serialises"),
            )
        }
        ("clock", true) => {
            let q = query_map(req.uri().query());
            match q
                .get("now")
                .and_then(|s| s.parse::<i64>().ok())
                .and_then(|s| Timestamp::from_second(s).ok())
            {
                Some(now) => {
                    *lock(&state.clock) = Some(now);
                    respond(200, JSON, json_now(now))
                }
                None => respond(400, TEXT, "expected ?now=<epoch seconds>"),
            }
        }
        ("clock", false) => respond(200, JSON, json_now(state.now())),
        ("crumb/rotate", true) => {
            lock(&state.crumbs).epoch += 1;
            respond(200, JSON, "{}")
        }
        _ => respond(404, TEXT, "unknown control endpoint"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcra_with_burst_one_spaces_requests() {
        let mut g = Gcra {
            interval: Duration::from_millis(500),
            tat: None,
        };
        let t0 = tokio::time::Instant::now();
        assert!(g.allow(t0));
        assert!(!g.allow(t0 + Duration::from_millis(499)));
        // A rejected request does not push the schedule back.
        assert!(g.allow(t0 + Duration::from_millis(500)));
        assert!(!g.allow(t0 + Duration::from_millis(600)));
        assert!(g.allow(t0 + Duration::from_secs(5)));
    }

    #[test]
    fn query_and_cookie_parsing() {
        let q = query_map(Some("period1=1&events=div%7Csplit&crumb=a%2Fb&flag"));
        assert_eq!(q["events"], "div|split");
        assert_eq!(q["crumb"], "a/b");
        assert_eq!(q["flag"], "");
        assert_eq!(token(1, 11).len(), 11);
        assert_eq!(token(1, 11), token(1, 11));
        assert_ne!(token(1, 11), token(2, 11));
    }
}
