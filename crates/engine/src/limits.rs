//! Named limit layers shared by every task of a run: a GCRA rate limiter with a global cool-down
//! that adapts to throttling, and an adaptive gate bounding requests in flight.
//!
//! Both use `tokio::time`, so tests drive them with a paused clock.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// The lowest fraction of the configured rate the limiter slows down to after repeated throttling.
const MIN_RATE_FACTOR: f64 = 1.0 / 16.0;
/// Successes needed to win back the whole configured rate after one halving (additive increase).
const RECOVERY_STEPS: f64 = 20.0;
/// Requests are paced at this fraction of the configured rate. A server enforcing exactly that
/// rate with no burst sees our requests with network jitter: two sent 50 ms apart can arrive 49 ms
/// apart and the second be refused. 5 % headroom absorbs that jitter for a 5 % longer floor.
pub const PACING_HEADROOM: f64 = 0.95;

/// One GCRA rate limiter per provider, shared by every task.
///
/// - `rate` requests per second with no burst (each request waits for its slot), or unlimited.
/// - On a throttled answer the whole provider slows down: nobody sends before the cool-down ends
///   (the server's `Retry-After` or our backoff), and the rate is halved (multiplicative decrease);
///   each success wins back a step (additive increase) until the configured rate is reached again.
#[derive(Debug)]
pub struct RateLimiter {
    rate: Option<f64>,
    state: Mutex<LimiterState>,
}

#[derive(Debug)]
struct LimiterState {
    /// Theoretical arrival time of the next request (GCRA).
    tat: Option<Instant>,
    /// Nobody sends before this instant (global cool-down after a 429).
    blocked_until: Option<Instant>,
    /// Fraction of the configured rate currently allowed.
    factor: f64,
    /// Wall-clock time covered by cool-downs so far (their union, not their sum).
    throttled: Duration,
}

impl RateLimiter {
    /// A limiter at `rate` requests per second; `None` (or a non-positive rate) means no limit.
    pub fn new(rate: Option<f64>) -> RateLimiter {
        RateLimiter {
            rate: rate.filter(|r| r.is_finite() && *r > 0.0),
            state: Mutex::new(LimiterState {
                tat: None,
                blocked_until: None,
                factor: 1.0,
                throttled: Duration::ZERO,
            }),
        }
    }

    /// The configured rate, if any.
    pub fn configured_rate(&self) -> Option<f64> {
        self.rate
    }

    /// The rate currently allowed after adaptation, if any.
    pub fn current_rate(&self) -> Option<f64> {
        let factor = self.lock().factor;
        self.rate.map(|r| r * factor)
    }

    /// Waits until this caller may send one request, and reserves that slot. Time spent in
    /// cool-downs is accounted by the limiter itself ([`RateLimiter::throttled_total`]).
    pub async fn acquire(&self) {
        loop {
            let now = Instant::now();
            let wait = {
                let mut st = self.lock();
                if let Some(until) = st.blocked_until.filter(|u| *u > now) {
                    until - now
                } else {
                    match self.rate {
                        None => return,
                        Some(rate) => {
                            let interval =
                                Duration::from_secs_f64(1.0 / (rate * PACING_HEADROOM * st.factor));
                            let tat = st.tat.unwrap_or(now).max(now);
                            if tat <= now {
                                st.tat = Some(now + interval);
                                return;
                            }
                            tat - now
                        }
                    }
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Wall-clock time the provider has spent in throttling cool-downs so far.
    pub fn throttled_total(&self) -> Duration {
        self.lock().throttled
    }

    /// The provider throttled us: stop everyone for `cool_down` and halve the rate.
    pub fn on_throttled(&self, cool_down: Duration) {
        let mut st = self.lock();
        let now = Instant::now();
        let until = now + cool_down;
        // Count only the part of this cool-down not already covered by a running one.
        let covered_until = st.blocked_until.filter(|u| *u > now).unwrap_or(now);
        st.throttled += until.saturating_duration_since(covered_until);
        st.blocked_until = Some(covered_until.max(until));
        st.factor = (st.factor / 2.0).max(MIN_RATE_FACTOR);
        // The next slot starts after the cool-down, not in a burst of the slots missed during it.
        st.tat = Some(until);
    }

    /// A request was answered (with data or a final error): win back a step of the rate.
    pub fn on_answered(&self) {
        let mut st = self.lock();
        if st.factor < 1.0 {
            st.factor = (st.factor + 1.0 / RECOVERY_STEPS).min(1.0);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LimiterState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Bounds requests in flight, adapting the bound: halved on throttling, grown by one after a run
/// of successes, never above the configured maximum (`--workers`).
#[derive(Debug)]
pub struct Gate {
    max: usize,
    semaphore: Semaphore,
    /// Permits to swallow as they come back, to shrink the bound without waiting.
    debt: AtomicUsize,
    /// Current bound (max minus permits withheld).
    limit: AtomicUsize,
    successes: AtomicUsize,
}

/// A slot in the [`Gate`], released on drop.
#[derive(Debug)]
pub struct Slot<'a> {
    gate: &'a Gate,
    permit: Option<SemaphorePermit<'a>>,
}

impl Gate {
    /// A gate allowing `max` requests in flight (at least one).
    pub fn new(max: usize) -> Gate {
        let max = max.max(1);
        Gate {
            max,
            semaphore: Semaphore::new(max),
            debt: AtomicUsize::new(0),
            limit: AtomicUsize::new(max),
            successes: AtomicUsize::new(0),
        }
    }

    /// The current bound on requests in flight.
    pub fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    /// Waits for a slot.
    pub async fn acquire(&self) -> Slot<'_> {
        let permit = self
            .semaphore
            .acquire()
            .await
            .expect("the gate's semaphore is never closed");
        Slot {
            gate: self,
            permit: Some(permit),
        }
    }

    /// Throttled: halve the bound (never below one).
    pub fn on_throttled(&self) {
        self.successes.store(0, Ordering::Relaxed);
        let limit = self.limit.load(Ordering::Relaxed);
        let target = (limit / 2).max(1);
        let cut = limit - target;
        if cut > 0 {
            self.limit.store(target, Ordering::Relaxed);
            // Take idle permits away now; the rest are swallowed as in-flight slots come back.
            let taken = self.semaphore.forget_permits(cut);
            self.debt.fetch_add(cut - taken, Ordering::Relaxed);
        }
    }

    /// Answered: after as many successes as the current bound, allow one more request in flight.
    pub fn on_answered(&self) {
        let limit = self.limit.load(Ordering::Relaxed);
        if limit >= self.max {
            return;
        }
        if self.successes.fetch_add(1, Ordering::Relaxed) + 1 < limit {
            return;
        }
        self.successes.store(0, Ordering::Relaxed);
        self.limit.store(limit + 1, Ordering::Relaxed);
        // Cancel a withheld permit if one is still owed, else hand a new one out.
        let repaid = self
            .debt
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| d.checked_sub(1))
            .is_ok();
        if !repaid {
            self.semaphore.add_permits(1);
        }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            let owed = self
                .gate
                .debt
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| d.checked_sub(1));
            if owed.is_ok() {
                permit.forget();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn paces_requests_at_the_configured_rate_without_burst() {
        let l = RateLimiter::new(Some(20.0));
        let start = Instant::now();
        for _ in 0..41 {
            l.acquire().await;
        }
        // 41 requests at 20/s less the headroom: the first at t=0, the last at 40 / 19 s, give or
        // take tokio's 1 ms timer resolution per wait.
        let elapsed = (Instant::now() - start).as_secs_f64();
        let floor = 40.0 / (20.0 * PACING_HEADROOM);
        assert!(
            (floor - 1e-6..=floor + 0.040).contains(&elapsed),
            "{elapsed}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn unlimited_never_waits() {
        let l = RateLimiter::new(None);
        let start = Instant::now();
        for _ in 0..1000 {
            l.acquire().await;
        }
        assert_eq!(Instant::now(), start);
        assert!(RateLimiter::new(Some(0.0)).configured_rate().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_stops_everyone_then_halves_and_recovers() {
        let l = std::sync::Arc::new(RateLimiter::new(Some(10.0)));
        l.acquire().await;
        l.on_throttled(Duration::from_secs(5));
        assert_eq!(l.current_rate(), Some(5.0));
        // Another task is held back by the same cool-down.
        let l2 = l.clone();
        let held = Instant::now();
        tokio::spawn(async move { l2.acquire().await })
            .await
            .unwrap();
        assert_eq!(Instant::now() - held, Duration::from_secs(5));
        // The limiter counts the wall-clock time spent in cool-downs.
        assert_eq!(l.throttled_total(), Duration::from_secs(5));
        // Then paced at the halved rate: 200 ms apart (plus the headroom).
        let before = Instant::now();
        l.acquire().await;
        let gap = (Instant::now() - before).as_secs_f64();
        let want = 0.2 / PACING_HEADROOM;
        assert!((want - 1e-6..=want + 0.001).contains(&gap), "{gap}");
        for _ in 0..20 {
            l.on_answered();
        }
        assert_eq!(l.current_rate(), Some(10.0));
        for _ in 0..10 {
            l.on_throttled(Duration::ZERO);
        }
        assert_eq!(l.current_rate(), Some(10.0 * MIN_RATE_FACTOR));
    }

    #[tokio::test]
    async fn gate_shrinks_on_throttle_and_grows_back() {
        let g = Gate::new(8);
        let slots: Vec<_> = futures_slots(&g, 8).await;
        g.on_throttled();
        assert_eq!(g.limit(), 4);
        drop(slots);
        // Only 4 permits come back.
        assert_eq!(g.semaphore.available_permits(), 4);
        for _ in 0..4 {
            g.on_answered();
        }
        assert_eq!(g.limit(), 5);
        assert_eq!(g.semaphore.available_permits(), 5);
        for _ in 0..100 {
            g.on_answered();
        }
        assert_eq!(g.limit(), 8);
        assert_eq!(g.semaphore.available_permits(), 8);
    }

    #[tokio::test]
    async fn gate_shrinks_while_slots_are_out() {
        let g = Gate::new(4);
        let a = g.acquire().await;
        g.on_throttled(); // limit 2: two idle permits taken away at once
        g.on_throttled(); // limit 1: the last idle permit taken away
        assert_eq!(g.limit(), 1);
        assert_eq!(g.semaphore.available_permits(), 0);
        assert_eq!(g.debt.load(Ordering::Relaxed), 0);
        drop(a);
        assert_eq!(g.semaphore.available_permits(), 1);

        let g = Gate::new(4);
        let out = futures_slots(&g, 4).await;
        g.on_throttled(); // limit 2, nothing idle: owes 2
        assert_eq!(g.debt.load(Ordering::Relaxed), 2);
        g.on_answered(); // not yet: needs `limit` successes
        g.on_answered(); // limit 3 repays one owed permit
        assert_eq!((g.limit(), g.debt.load(Ordering::Relaxed)), (3, 1));
        drop(out);
        assert_eq!(g.semaphore.available_permits(), 3);
    }

    async fn futures_slots(g: &Gate, n: usize) -> Vec<Slot<'_>> {
        let mut v = Vec::new();
        for _ in 0..n {
            v.push(g.acquire().await);
        }
        v
    }
}
