//! The web dashboard: watch a backfill live, or look at a store without a run.
//!
//! - [`Live`] is a [`Reporter`](backfill_engine::Reporter): the engine's events build a
//!   [`live::LiveState`] (every ticker's state, rows, requests and last error; answers per second
//!   by class; the limiter's rate and in-flight cap; totals and ETA) under one lock.
//! - [`serve_live`] serves it while the run lasts: the page (`/`, pushed by server-sent events on
//!   `/events`), `/api/run` (the same state as JSON) and `/metrics` (Prometheus text, see [`expo`]).
//! - [`serve_store`] serves a [`StoreView`]: past runs from `_meta/runs/`, a coverage map
//!   (tickers × months) computed by the engine's [`check`](backfill_engine::check) like
//!   `backfill check`, failures, flagged bars and damaged files (`/` and `/api/store`).
//! - [`Access`] decides who may read: open on loopback, a token anywhere else ([`access_for`]).
//!
//! Every page is read-only, sets a Content-Security-Policy, and loads only the assets compiled
//! into the binary: it works offline.

mod access;
mod assets;
pub mod expo;
pub mod live;
mod server;
mod store_view;

pub use access::{Access, COOKIE, access_for, generate_token};
pub use live::Live;
pub use server::{PUSH_EVERY, Server, serve_live, serve_store};
pub use store_view::{StoreDoc, StoreView};

/// The dashboard could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DashboardError {
    #[error(
        "cannot listen on `{addr}` for the dashboard: {source}\n\nhint: pick another address or port (`:0` lets the system choose)"
    )]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error(
        "cannot generate a dashboard token from the system's random source: {0}\n\nhint: pass one with `--dashboard-token`"
    )]
    Token(String),
}
