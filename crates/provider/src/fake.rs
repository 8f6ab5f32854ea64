//! An in-memory [`Provider`] for tests of everything above the provider layer.
//!
//! [`FakeProvider`] serves bars, actions and meta held per symbol, with the same answer semantics as
//! the Yahoo client (bars clipped to `[start, end)`, sorted, unique; unknown symbol → `NotFound`;
//! a window past [`Window`] limits → `OutOfWindow`). Failures are scriptable per symbol
//! ([`FakeProvider::fail_next`]), requests are counted and logged, and an optional latency
//! (a tokio sleep, so a paused clock controls it) makes concurrency observable ([`FakeProvider::max_in_flight`]).
//! Clones share all state.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use backfill_domain::{Action, Bar, Interval, Symbol, SymbolMeta};
use jiff::Timestamp;

use crate::{Answer, ErrorKind, FetchError, FetchRequest, Pacer, Provider, Window};

/// An in-memory provider. See the module docs.
#[derive(Debug, Clone)]
pub struct FakeProvider {
    name: Arc<str>,
    inner: Arc<Inner>,
}

impl Default for FakeProvider {
    fn default() -> FakeProvider {
        FakeProvider {
            name: Arc::from("fake"),
            inner: Arc::default(),
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    state: Mutex<State>,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    symbols: HashMap<Symbol, SymbolData>,
    windows: HashMap<Interval, Window>,
    failures: HashMap<Symbol, VecDeque<ErrorKind>>,
    requests: Vec<FetchRequest>,
    latency: Duration,
    now: Option<Timestamp>,
}

#[derive(Debug, Default)]
struct SymbolData {
    meta: Option<SymbolMeta>,
    bars: HashMap<Interval, Vec<Bar>>,
    actions: Vec<Action>,
}

impl FakeProvider {
    /// An empty provider named `fake`: no symbols, no window limits, no latency.
    pub fn new() -> FakeProvider {
        FakeProvider::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Renames the provider (the name reports and the store see).
    #[must_use]
    pub fn with_name(self, name: &str) -> FakeProvider {
        FakeProvider {
            name: Arc::from(name),
            inner: self.inner,
        }
    }

    /// Makes `symbol` known (an empty history until bars are inserted).
    pub fn add_symbol(&self, symbol: &Symbol) {
        self.state().symbols.entry(symbol.clone()).or_default();
    }

    /// Forgets `symbol`: later fetches answer `NotFound`.
    pub fn remove_symbol(&self, symbol: &Symbol) {
        self.state().symbols.remove(symbol);
    }

    /// Adds bars of `symbol` at `interval` (kept sorted; a bar with an existing `ts` replaces it).
    pub fn insert_bars(
        &self,
        symbol: &Symbol,
        interval: Interval,
        bars: impl IntoIterator<Item = Bar>,
    ) {
        let mut st = self.state();
        let v = st
            .symbols
            .entry(symbol.clone())
            .or_default()
            .bars
            .entry(interval)
            .or_default();
        for bar in bars {
            match v.binary_search_by_key(&bar.ts, |b| b.ts) {
                Ok(i) => v[i] = bar,
                Err(i) => v.insert(i, bar),
            }
        }
    }

    /// Adds corporate actions of `symbol` (served at every interval, clipped by `ts`).
    pub fn insert_actions(&self, symbol: &Symbol, actions: impl IntoIterator<Item = Action>) {
        let mut st = self.state();
        let v = &mut st.symbols.entry(symbol.clone()).or_default().actions;
        v.extend(actions);
        v.sort_by(|a, b| {
            a.ts.cmp(&b.ts)
                .then_with(|| a.kind.name().cmp(b.kind.name()))
        });
    }

    /// Sets what answers say about `symbol` (its `symbol` field is always the requested one).
    pub fn set_meta(&self, symbol: &Symbol, meta: SymbolMeta) {
        self.state().symbols.entry(symbol.clone()).or_default().meta = Some(meta);
    }

    /// Limits requests at `interval` (default: [`Window::UNLIMITED`]).
    pub fn set_window(&self, interval: Interval, window: Window) {
        self.state().windows.insert(interval, window);
    }

    /// The clock `Window::lookback` is measured from (default: the real time).
    pub fn set_now(&self, now: Timestamp) {
        self.state().now = Some(now);
    }

    /// Every fetch waits this long first (a tokio sleep; pause the clock to make it instant).
    pub fn set_latency(&self, latency: Duration) {
        self.state().latency = latency;
    }

    /// The next `n` requests for `symbol` fail with `kind` (queued after failures already scripted).
    pub fn fail_next(&self, symbol: &Symbol, n: usize, kind: &ErrorKind) {
        let mut st = self.state();
        let q = st.failures.entry(symbol.clone()).or_default();
        q.extend(std::iter::repeat_n(kind.clone(), n));
    }

    /// Drops the scripted failures of every symbol.
    pub fn clear_failures(&self) {
        self.state().failures.clear();
    }

    /// Every request received, in order (failed ones included).
    pub fn requests(&self) -> Vec<FetchRequest> {
        self.state().requests.clone()
    }

    /// How many requests were received.
    pub fn request_count(&self) -> usize {
        self.state().requests.len()
    }

    /// How many requests were received for `symbol`.
    pub fn requests_for(&self, symbol: &Symbol) -> usize {
        self.state()
            .requests
            .iter()
            .filter(|r| &r.symbol == symbol)
            .count()
    }

    /// Most fetches in progress at once.
    pub fn max_in_flight(&self) -> u64 {
        self.inner.max_in_flight.load(Ordering::SeqCst)
    }

    /// Forgets the request log and the in-flight high-water mark.
    pub fn reset_counts(&self) {
        self.state().requests.clear();
        self.inner.max_in_flight.store(0, Ordering::SeqCst);
    }

    fn answer(&self, req: &FetchRequest) -> Result<Answer, ErrorKind> {
        let mut st = self.state();
        st.requests.push(req.clone());
        if let Some(kind) = st
            .failures
            .get_mut(&req.symbol)
            .and_then(VecDeque::pop_front)
        {
            return Err(kind);
        }
        let window = st.windows.get(&req.interval).copied().unwrap_or_default();
        if let Some(span) = window.max_span
            && req.range.duration() > span
        {
            return Err(ErrorKind::OutOfWindow {
                detail: format!("{} requests may span at most {span:#}", req.interval),
            });
        }
        if let Some(lookback) = window.lookback {
            let now = st.now.unwrap_or_else(Timestamp::now);
            if req.range.start() < now - lookback {
                return Err(ErrorKind::OutOfWindow {
                    detail: format!(
                        "{} data must start within the last {lookback:#}",
                        req.interval
                    ),
                });
            }
        }
        let Some(data) = st.symbols.get(&req.symbol) else {
            return Err(ErrorKind::NotFound {
                detail: "no such symbol in the fake".into(),
            });
        };
        let in_range = |ts: Timestamp| req.range.contains(ts);
        let bars = data
            .bars
            .get(&req.interval)
            .map(|v| v.iter().filter(|b| in_range(b.ts)).copied().collect())
            .unwrap_or_default();
        let actions = data
            .actions
            .iter()
            .filter(|a| in_range(a.ts))
            .cloned()
            .collect();
        let mut meta = data.meta.clone().unwrap_or_default();
        meta.symbol = Some(req.symbol.clone());
        Ok(Answer {
            meta,
            bars,
            actions,
        })
    }
}

struct InFlight<'a>(&'a Inner);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Provider for FakeProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn window(&self, interval: Interval) -> Window {
        self.state()
            .windows
            .get(&interval)
            .copied()
            .unwrap_or_default()
    }

    async fn fetch_paced(
        &self,
        req: &FetchRequest,
        pacer: &dyn Pacer,
    ) -> Result<Answer, FetchError> {
        pacer.acquire().await;
        let now = self.inner.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.inner.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let _guard = InFlight(&self.inner);
        let latency = self.state().latency;
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        self.answer(req).map_err(|kind| req.error(kind))
    }
}
