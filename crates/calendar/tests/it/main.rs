//! Integration tests of the calendar: named holidays, early closes and one-off closures with
//! their real instants, yearly session counts (from `exchange_calendars` 4.13.2), and property
//! tests of the invariants every calendar keeps.

mod named;
mod properties;
mod world;
