//! Tiingo's hourly and Alpaca's per-minute quotas, counted on a quota clock that a paused tokio
//! clock moves (so a test can let an hour pass without waiting for it). The quota clock starts at
//! the simulator's fixed clock when it has one ([`crate::SimConfig::now`]), else at the wall clock,
//! so a test with a fixed clock knows where the hour boundaries fall.

use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

use crate::server::lock;

/// Requests allowed per clock period (hour, minute) of the quota clock.
#[derive(Debug)]
struct Counter {
    limit: u32,
    period_secs: i64,
    slot: i64,
    used: u32,
}

impl Counter {
    /// Counts one request at `now` if the period has room; `false` when the quota is spent.
    fn take(&mut self, now: Timestamp) -> bool {
        let slot = now.as_second().div_euclid(self.period_secs);
        if slot != self.slot {
            self.slot = slot;
            self.used = 0;
        }
        if self.used >= self.limit {
            return false;
        }
        self.used += 1;
        true
    }
}

/// The quota clock and both providers' counters.
#[derive(Debug)]
pub(crate) struct Quotas {
    wall_at_start: Timestamp,
    start: tokio::time::Instant,
    tiingo: Option<Mutex<Counter>>,
    alpaca: Option<Mutex<Counter>>,
}

impl Quotas {
    pub(crate) fn new(
        start: Option<Timestamp>,
        tiingo_per_hour: Option<u32>,
        alpaca_per_minute: Option<u32>,
    ) -> Quotas {
        let counter = |limit, period_secs| {
            Mutex::new(Counter {
                limit,
                period_secs,
                slot: i64::MIN,
                used: 0,
            })
        };
        Quotas {
            wall_at_start: start.unwrap_or_else(|| {
                Timestamp::from_second(Timestamp::now().as_second())
                    .unwrap_or(Timestamp::UNIX_EPOCH)
            }),
            start: tokio::time::Instant::now(),
            tiingo: tiingo_per_hour.map(|n| counter(n, 3600)),
            alpaca: alpaca_per_minute.map(|n| counter(n, 60)),
        }
    }

    /// The wall clock at start plus the tokio time elapsed since.
    pub(crate) fn now(&self) -> Timestamp {
        let elapsed = SignedDuration::try_from(self.start.elapsed()).unwrap_or(SignedDuration::MAX);
        self.wall_at_start
            .checked_add(elapsed)
            .unwrap_or(self.wall_at_start)
    }

    /// Counts a Tiingo request; `false` when this hour's allocation is spent.
    pub(crate) fn take_tiingo(&self) -> bool {
        self.tiingo
            .as_ref()
            .is_none_or(|c| lock(c).take(self.now()))
    }

    /// Counts an Alpaca request; `false` when this minute's allocation is spent.
    pub(crate) fn take_alpaca(&self) -> bool {
        self.alpaca
            .as_ref()
            .is_none_or(|c| lock(c).take(self.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_clock_period() {
        let mut c = Counter {
            limit: 2,
            period_secs: 3600,
            slot: i64::MIN,
            used: 0,
        };
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        assert!(c.take(t("2026-01-05T10:10:00Z")));
        assert!(c.take(t("2026-01-05T10:59:59Z")));
        assert!(!c.take(t("2026-01-05T10:59:59Z")));
        assert!(c.take(t("2026-01-05T11:00:00Z")));
    }
}
