//! The HTTP side: routes, security headers, server-sent events, start and stop.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::Stream;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::access::{self, Access};
use crate::live::Live;
use crate::store_view::StoreView;
use crate::{DashboardError, assets, expo};

/// How often the live page receives the state while the run lasts (and at once when it ends).
pub const PUSH_EVERY: Duration = Duration::from_millis(500);

/// How long [`Server::stop`] waits for open connections to finish.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Scripts and styles only from this server, no inline code, no frames, no outside connections.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// A running dashboard server.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// The address it listens on (with the port the OS picked for `:0`).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Stops accepting connections and waits (a few seconds at most) for open ones to finish.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        let _ = tokio::time::timeout(STOP_GRACE, self.task).await;
    }
}

async fn start(router: Router, addr: SocketAddr, access: Access) -> Result<Server, DashboardError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| DashboardError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| DashboardError::Bind { addr, source })?;
    let router = router
        .layer(middleware::from_fn_with_state(
            Arc::new(access),
            access::guard,
        ))
        .layer(middleware::from_fn(security_headers));
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
    });
    Ok(Server { addr, stop, task })
}

/// Serves the live run: `/` (page), `/api/run` (JSON), `/events` (server-sent events) and
/// `/metrics` (Prometheus text).
pub async fn serve_live(
    live: Arc<Live>,
    addr: SocketAddr,
    access: Access,
) -> Result<Server, DashboardError> {
    let router = Router::new()
        .route("/", get(|| async { html(assets::LIVE_HTML) }))
        .route("/live.js", get(|| async { js(assets::LIVE_JS) }))
        .route("/common.js", get(|| async { js(assets::COMMON_JS) }))
        .route("/style.css", get(|| async { css(assets::STYLE_CSS) }))
        .route("/api/run", get(api_run))
        .route("/events", get(events))
        .route("/metrics", get(metrics))
        .with_state(live);
    start(router, addr, access).await
}

/// Serves a store without a run: `/` (page) and `/api/store` (JSON).
pub async fn serve_store(
    view: Arc<StoreView>,
    addr: SocketAddr,
    access: Access,
) -> Result<Server, DashboardError> {
    let router = Router::new()
        .route("/", get(|| async { html(assets::STORE_HTML) }))
        .route("/store.js", get(|| async { js(assets::STORE_JS) }))
        .route("/common.js", get(|| async { js(assets::COMMON_JS) }))
        .route("/style.css", get(|| async { css(assets::STYLE_CSS) }))
        .route("/api/store", get(api_store))
        .with_state(view);
    start(router, addr, access).await
}

fn html(body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

fn js(body: &'static str) -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        body,
    )
        .into_response()
}

fn css(body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], body).into_response()
}

fn json(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn api_run(State(live): State<Arc<Live>>) -> Response {
    json(live.snapshot_json())
}

async fn metrics(State(live): State<Arc<Live>>) -> Response {
    let text = live.with(expo::render);
    ([(header::CONTENT_TYPE, expo::CONTENT_TYPE)], text).into_response()
}

async fn api_store(State(view): State<Arc<StoreView>>) -> Response {
    let view2 = view.clone();
    match tokio::task::spawn_blocking(move || view2.document()).await {
        Ok(Ok(doc)) => json(serde_json::to_string(&doc).expect("the store document serialises")),
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read the store at `{}`: {e}\n", view.location()),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reading the store stopped unexpectedly: {e}\n"),
        )
            .into_response(),
    }
}

/// One `run` event with the state now, then one every [`PUSH_EVERY`] and one at once when the
/// run ends; the stream ends after the final state.
async fn events(
    State(live): State<Arc<Live>>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let finished = live.finished();
    let stream = futures_util::stream::unfold(
        (live, finished, true, false),
        |(live, mut finished, first, over)| async move {
            if over {
                return None;
            }
            if !first {
                tokio::select! {
                    () = tokio::time::sleep(PUSH_EVERY) => {}
                    _ = finished.wait_for(|f| *f) => {}
                }
            }
            let (data, over) = live.with(|s| {
                (
                    serde_json::to_string(&s.snapshot()).expect("a snapshot serialises"),
                    s.finished,
                )
            });
            let event = SseEvent::default().event("run").data(data);
            Some((Ok(event), (live, finished, false, over)))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// Headers on every answer (401s included): the CSP, no sniffing, no framing, no referrer (the
/// URL may carry the token), no caching.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
