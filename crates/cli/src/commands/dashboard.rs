//! The web dashboard from the command line: `--dashboard` on a run, and `backfill dashboard`.

use std::io::Write as _;
use std::sync::Arc;

use anyhow::{Context, Result};
use backfill_dashboard::{Access, Live, Server, StoreView, access_for, serve_live, serve_store};
use backfill_engine::plan::WindowSpec;
use backfill_engine::{Event, Reporter};

use crate::commands::run::open_store;
use crate::exit::ExitStatus;
use crate::settings::{DashboardSettings, Settings};

/// Sends every event to two reporters (the terminal's and the dashboard's).
pub struct Both(pub Arc<dyn Reporter>, pub Arc<dyn Reporter>);

impl Reporter for Both {
    fn on_event(&self, event: &Event<'_>) {
        self.0.on_event(event);
        self.1.on_event(event);
    }
}

/// Prints where the dashboard is on stderr. A generated token is printed here, once, inside the
/// URL; a token the user gave is never printed.
fn announce(what: &str, server: &Server, access: &Access, generated: bool) {
    let url = server.url();
    let line = match access {
        Access::Open => format!("{what}: {url}"),
        Access::Token(t) if generated => format!(
            "{what}: {url}?token={t}\n  (a token is required off loopback; this one was generated for this process and is shown only here)"
        ),
        Access::Token(_) => {
            format!("{what}: {url} (token required: the one given with `--dashboard-token`)")
        }
    };
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn access(d: &DashboardSettings) -> Result<(Access, bool)> {
    Ok(access_for(d.addr, d.token.clone())?)
}

/// A run's dashboard: started before the run, stopped after it (and after `--dashboard-linger`).
pub struct RunDashboard {
    pub live: Arc<Live>,
    server: Server,
    linger: std::time::Duration,
    /// Set by Ctrl-C, at any time since the start (so one pressed just as the run ends counts).
    interrupted: tokio::sync::watch::Receiver<bool>,
    watcher: tokio::task::JoinHandle<()>,
}

impl RunDashboard {
    pub async fn start(d: &DashboardSettings) -> Result<RunDashboard> {
        let (access, generated) = access(d)?;
        let live = Arc::new(Live::new());
        let server = serve_live(live.clone(), d.addr, access.clone()).await?;
        announce("dashboard", &server, &access, generated);
        let (tx, interrupted) = tokio::sync::watch::channel(false);
        let watcher = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                tx.send_replace(true);
            }
        });
        Ok(RunDashboard {
            live,
            server,
            linger: d.linger,
            interrupted,
            watcher,
        })
    }

    /// Keeps serving the final state for the linger time (Ctrl-C ends it early), then stops.
    pub async fn finish(mut self) {
        if !self.linger.is_zero() && !*self.interrupted.borrow() {
            let _ = writeln!(
                std::io::stderr().lock(),
                "dashboard: the run is over; serving its final state for {} s (Ctrl-C to stop now)",
                self.linger.as_secs()
            );
            tokio::select! {
                () = tokio::time::sleep(self.linger) => {}
                _ = self.interrupted.wait_for(|i| *i) => {}
            }
        }
        self.watcher.abort();
        self.server.stop().await;
    }
}

/// `backfill dashboard`: serves the store's page until Ctrl-C.
pub async fn dashboard(
    settings: Settings,
    d: &DashboardSettings,
    pinned_now: bool,
) -> Result<ExitStatus> {
    let store = open_store(&settings, true)?;
    let view = StoreView {
        store,
        tickers: settings.tickers.clone(),
        interval: settings.interval,
        window: settings.window_given.then_some(WindowSpec {
            start: settings.start,
            end: settings.end,
            days: settings.days,
        }),
        default_days: settings.days,
        now: pinned_now.then_some(settings.now),
        closures: settings.closures.clone(),
        provider_window: settings.provider.window(settings.interval),
    };
    let view = Arc::new(view);
    // Fail now, not on the first page load, if the store cannot be read.
    let check = view.clone();
    tokio::task::spawn_blocking(move || check.document())
        .await
        .context("reading the store stopped unexpectedly")?
        .with_context(|| format!("cannot read the store at `{}`", settings.store.display()))?;
    let (access, generated) = access(d)?;
    let server = serve_store(view, d.addr, access.clone()).await?;
    announce("store dashboard", &server, &access, generated);
    let _ = tokio::signal::ctrl_c().await;
    server.stop().await;
    Ok(ExitStatus::Success)
}
