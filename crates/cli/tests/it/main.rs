//! Acceptance tests of the `backfill` command, checked from outside: the real binary talks HTTP to
//! the simulator on loopback, and the store it leaves is compared with the simulator's ground truth.

mod commands;
mod dashboard;
mod harness;
mod intraday;
mod nightly;
mod objstore;
mod providers;
mod runs;
mod shard;
mod snapshots;
mod splits;
mod throttle;
mod user_table;
