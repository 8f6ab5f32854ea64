//! The backfill engine: plans what is missing for every ticker at once, then fetches it through a
//! provider under shared limits and commits each answer to the store as it arrives.
//!
//! - [`plan`]: pure gap planning ([`plan::plan_ticker`]) from the exchange calendar, the coverage
//!   ledger and the provider's window limits; [`prepare`] runs it for a whole portfolio, reading the
//!   store's ledgers and metadata in one batch.
//! - [`sessions`]: the window's sessions and units, computed once per calendar for a whole
//!   portfolio and shared by [`prepare`] and [`check`].
//! - [`coverage`]: the rule the planner and `check` share: what a unit of a window is (a session,
//!   a week, a month) and whether it is covered, missing or no longer served.
//! - [`limits`]: the layers every request passes: a GCRA [`limits::RateLimiter`] shared by all tasks
//!   that slows the whole provider down on a 429, and an adaptive [`limits::Gate`] on requests in flight.
//! - [`check`]: what the store holds per series against the calendar, with its holes (reads only).
//! - [`Engine`]: runs the plans with retries (exponential backoff, full jitter, `Retry-After`
//!   honoured), reports [`events::Event`]s to a [`events::Reporter`], and returns a [`report::RunReport`].
//!
//! The engine knows nothing of terminals, flags or config files: the CLI builds its inputs.

pub mod check;
pub mod coverage;
pub mod events;
pub mod limits;
pub mod plan;
mod prepare;
mod rebase;
pub mod report;
mod run;
pub mod sessions;
pub mod validate;

pub use events::{Event, Reporter, Silent};
pub use prepare::{PrepareInput, Prepared, TickerCalendar, calendar_for, prepare};
pub use report::{RunReport, Status, TickerReport, Totals};
pub use run::{Cancel, Engine, RunConfig};
