//! Batched gap detection: one pass over the store for the whole portfolio, before any request.

use std::collections::BTreeMap;

use backfill_calendar::{Calendar, Exchange, exchange_for_symbol, exchange_from_meta};
use backfill_domain::jiff::Timestamp;
use backfill_domain::jiff::civil::Date;
use backfill_domain::{Interval, Symbol, SymbolMeta};
use backfill_provider::Window;
use backfill_store::Store;

use crate::plan::{TickerInput, TickerPlan, WindowSpec, plan_ticker};
use crate::report::{Status, TickerReport};

/// What [`prepare`] needs besides the store.
#[derive(Debug, Clone)]
pub struct PrepareInput<'a> {
    pub tickers: &'a [Symbol],
    pub interval: Interval,
    pub spec: WindowSpec,
    /// The provider's limits for `interval`.
    pub window: Window,
    pub now: Timestamp,
    pub no_gaps: bool,
    /// One-off closures added by the user, per exchange.
    pub closures: &'a BTreeMap<Exchange, Vec<Date>>,
}

/// Plans for every ticker, and the tickers whose stored state could not be read.
#[derive(Debug, Default)]
pub struct Prepared {
    pub plans: Vec<TickerPlan>,
    pub failed: Vec<TickerReport>,
}

impl Prepared {
    /// Requests the run will send, before retries.
    pub fn requests(&self) -> usize {
        self.plans.iter().map(|p| p.requests.len()).sum()
    }
}

/// The calendar of a symbol: by its suffix first, then by what the provider said about it, else a
/// weekday calendar with a warning. User closures are added on top.
pub fn calendar_for(
    symbol: &Symbol,
    meta: Option<&SymbolMeta>,
    closures: &BTreeMap<Exchange, Vec<Date>>,
) -> (Calendar, Option<String>) {
    let from_meta =
        || meta.and_then(|m| exchange_from_meta(m.exchange_name.as_deref(), m.timezone.as_deref()));
    let (exchange, warning) = match exchange_for_symbol(symbol).or_else(from_meta) {
        Some(e) => (e, None),
        None => (
            Exchange::Weekdays,
            Some(format!(
                "no exchange calendar is known for `{symbol}`; assuming every weekday is a session until the provider names its exchange"
            )),
        ),
    };
    let cal = Calendar::new(exchange)
        .with_closures(closures.get(&exchange).into_iter().flatten().copied());
    (cal, warning)
}

/// Reads every ticker's ledger and metadata and plans them all.
///
/// A ticker whose stored state cannot be read (a corrupt ledger, say) is reported as failed with
/// the reason instead of stopping the whole run.
pub fn prepare(store: &Store, input: &PrepareInput<'_>) -> Prepared {
    let mut out = Prepared::default();
    for symbol in input.tickers {
        let state = store
            .read_meta(symbol)
            .and_then(|meta| Ok((meta, store.ledger(symbol, input.interval)?)));
        let (meta, ledger) = match state {
            Ok(s) => s,
            Err(e) => {
                out.failed.push(TickerReport {
                    error: Some(e.to_string()),
                    failure: Some("store"),
                    ..TickerReport::new(symbol.clone(), Status::Failed)
                });
                continue;
            }
        };
        let (calendar, warning) = calendar_for(symbol, meta.as_ref(), input.closures);
        let first_trade = meta
            .as_ref()
            .and_then(|m| m.first_trade)
            .map(|t| t.to_zoned_datetime(calendar.timezone().clone()).date());
        let answered = ledger.answered();
        let ticker = TickerInput {
            symbol,
            interval: input.interval,
            calendar: &calendar,
            answered: &answered,
            first_trade,
            no_gaps: input.no_gaps,
        };
        let mut plan = plan_ticker(&ticker, input.spec, input.window, input.now);
        plan.warnings.extend(warning);
        out.plans.push(plan);
    }
    out
}
