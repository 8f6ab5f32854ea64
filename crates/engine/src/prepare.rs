//! Batched gap detection: one pass over the store for the whole portfolio, before any request.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use backfill_calendar::{
    Calendar, Exchange, HolidaysKnown, exchange_for_symbol, exchange_from_meta,
};
use backfill_domain::jiff::Timestamp;
use backfill_domain::jiff::civil::{Date, Time};
use backfill_domain::jiff::tz::TimeZone;
use backfill_domain::{Interval, Symbol, SymbolMeta};
use backfill_provider::Window;
use backfill_store::{Store, StoreError};

use crate::plan::{TickerInput, TickerPlan, WindowSpec, plan_ticker_in};
use crate::report::{Status, TickerReport};
use crate::sessions::SessionTables;

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

/// The calendar a ticker is planned and checked with, and what is known about it.
#[derive(Debug, Clone)]
pub struct TickerCalendar {
    pub calendar: Calendar,
    /// Whether the calendar is the venue's own (built in, or from the provider's zone and hours).
    /// `false` before the provider has said anything about a venue with no built-in calendar:
    /// the plan is then made conservatively (see [`TickerInput::zone_known`]).
    pub zone_known: bool,
    /// Where closures are learned from empty answers, the name they are kept under: for a venue
    /// without a built-in calendar, the provider's exchange code, else its zone; for a built-in
    /// calendar whose holiday tables end in a year ([`HolidaysKnown::Through`]), its code (it
    /// learns only dates after that year).
    pub venue: Option<String>,
    /// A note for the report when the calendar is a guess.
    pub warning: Option<String>,
}

/// The calendar of a symbol: by its suffix first, then by what the provider said about it, with
/// the closures learned for dates past its holiday tables ([`Store::learned_closures`], when a
/// store is given); for a venue with no built-in calendar, weekdays in the zone and regular hours
/// the provider reported, minus the closures learned so far; before the provider has said
/// anything, weekdays in New York, with `zone_known` false. User closures are added on top of
/// built-in calendars.
///
/// # Errors
/// The venue's learned closures cannot be read.
pub fn calendar_for(
    store: Option<&Store>,
    symbol: &Symbol,
    meta: Option<&SymbolMeta>,
    closures: &BTreeMap<Exchange, Vec<Date>>,
) -> Result<TickerCalendar, StoreError> {
    calendar_with(store, symbol, meta, closures, &mut Learned::default())
}

/// Learned closures by venue, each read from the store once (a portfolio has many tickers per
/// venue, and on object storage every read is a request).
#[derive(Debug, Default)]
struct Learned(HashMap<String, BTreeSet<Date>>);

impl Learned {
    fn get(&mut self, store: Option<&Store>, venue: &str) -> Result<BTreeSet<Date>, StoreError> {
        let Some(store) = store else {
            return Ok(BTreeSet::new());
        };
        if let Some(known) = self.0.get(venue) {
            return Ok(known.clone());
        }
        let known = store.learned_closures(venue)?;
        self.0.insert(venue.to_owned(), known.clone());
        Ok(known)
    }
}

/// [`calendar_for`], with the learned closures read through `learned`.
fn calendar_with(
    store: Option<&Store>,
    symbol: &Symbol,
    meta: Option<&SymbolMeta>,
    closures: &BTreeMap<Exchange, Vec<Date>>,
    learned: &mut Learned,
) -> Result<TickerCalendar, StoreError> {
    let from_meta =
        || meta.and_then(|m| exchange_from_meta(m.exchange_name.as_deref(), m.timezone.as_deref()));
    if let Some(exchange) = exchange_for_symbol(symbol).or_else(from_meta) {
        let mut calendar = Calendar::new(exchange)
            .with_closures(closures.get(&exchange).into_iter().flatten().copied());
        // Past the years its holiday tables cover, the exchange's holidays are learned like a
        // venue's without a calendar (see `coverage::closures`), under its code.
        let venue = matches!(exchange.holidays_known(), HolidaysKnown::Through(_))
            .then(|| exchange.code().to_owned());
        if let Some(venue) = &venue {
            calendar = calendar.with_closures(learned.get(store, venue)?);
        }
        return Ok(TickerCalendar {
            calendar,
            zone_known: true,
            venue,
            warning: None,
        });
    }
    let zone = meta.and_then(|m| {
        let name = m.timezone.as_deref()?;
        Some((m, TimeZone::get(name).ok()?))
    });
    if let Some((m, tz)) = zone {
        let local = |t: Option<Timestamp>| t.map(|t| t.to_zoned_datetime(tz.clone()).time());
        // Unknown hours: the whole local day, so a session is covered only by whole days.
        let (open, close) = match (local(m.regular_open), local(m.regular_close)) {
            (Some(o), Some(c)) if o < c => (o, c),
            _ => (Time::midnight(), Time::midnight()),
        };
        let venue = m
            .exchange_name
            .clone()
            .filter(|n| !n.is_empty())
            .or_else(|| m.timezone.clone())
            .expect("the zone is known here");
        let learned = learned.get(store, &venue)?;
        return Ok(TickerCalendar {
            calendar: Calendar::weekdays_in(tz, open, close).with_closures(learned),
            zone_known: true,
            venue: Some(venue),
            warning: None,
        });
    }
    Ok(TickerCalendar {
        calendar: Calendar::new(Exchange::Weekdays),
        zone_known: false,
        venue: None,
        warning: Some(format!(
            "no exchange calendar is known for `{symbol}` yet; this first run asks for whole days around the window and records them as provisional, and the next run plans with the zone and hours the provider reported"
        )),
    })
}

/// Reads every ticker's ledger and metadata and plans them all, with one session table per calendar.
///
/// A ticker whose stored state cannot be read (a corrupt ledger, say) is reported as failed with
/// the reason instead of stopping the whole run.
pub fn prepare(store: &Store, input: &PrepareInput<'_>) -> Prepared {
    let mut out = Prepared::default();
    let mut tables = SessionTables::for_plan(input.interval, input.now);
    let mut learned = Learned::default();
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
        let found = match calendar_with(
            Some(store),
            symbol,
            meta.as_ref(),
            input.closures,
            &mut learned,
        ) {
            Ok(c) => c,
            Err(e) => {
                out.failed.push(TickerReport {
                    error: Some(e.to_string()),
                    ..TickerReport::new(symbol.clone(), Status::Failed)
                });
                continue;
            }
        };
        let calendar = &found.calendar;
        let first_trade = meta
            .as_ref()
            .and_then(|m| m.first_trade)
            .map(|t| t.to_zoned_datetime(calendar.timezone().clone()).date());
        let answered = ledger.answered();
        let ticker = TickerInput {
            symbol,
            interval: input.interval,
            calendar,
            answered: &answered,
            first_trade,
            no_gaps: input.no_gaps,
            zone_known: found.zone_known,
        };
        let table = tables.get(calendar, input.spec);
        let mut plan = plan_ticker_in(&ticker, &table, input.window, input.now);
        plan.venue = found.venue;
        plan.warnings.extend(found.warning);
        out.plans.push(plan);
    }
    out
}

#[cfg(test)]
mod tests {
    use backfill_domain::jiff::civil::date;

    use super::*;

    /// Reads the store sends to plan `tickers` at 1d in February 2027.
    fn plan_reads(store: &Store, tickers: &[&str]) -> (u64, Prepared) {
        let tickers: Vec<Symbol> = tickers.iter().map(|t| Symbol::parse(t).unwrap()).collect();
        let input = PrepareInput {
            tickers: &tickers,
            interval: Interval::D1,
            spec: WindowSpec {
                start: None,
                end: None,
                days: 10,
            },
            window: Window {
                max_span: None,
                lookback: None,
            },
            now: "2027-02-20T00:00:00Z".parse().unwrap(),
            no_gaps: false,
            closures: &BTreeMap::new(),
        };
        let before = store.io_stats().reads;
        let prepared = prepare(store, &input);
        (store.io_stats().reads - before, prepared)
    }

    #[test]
    fn an_exchange_past_its_tables_plans_without_its_learned_closures_read_once_per_venue() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let closed = date(2027, 2, 10);
        store.record_closures("XSHG", &[closed]).unwrap();
        let (shanghai, prepared) = plan_reads(&store, &["600519.SS", "601398.SS", "600036.SS"]);
        for plan in &prepared.plans {
            assert_eq!(plan.venue.as_deref(), Some("XSHG"));
            assert!(!plan.calendar.is_session(closed), "{}", plan.symbol);
            assert!(plan.calendar.is_session(date(2027, 2, 11)));
        }
        // New York's calendar learns nothing: the same portfolio size costs one read less.
        let (new_york, prepared) = plan_reads(&store, &["AAPL", "MSFT", "IBM"]);
        assert!(prepared.plans.iter().all(|p| p.venue.is_none()));
        assert_eq!(shanghai, new_york + 1);
    }
}
