//! Named limit layers shared by every task of a run: a [`RateLimiter`] per provider (steady rate,
//! per-minute, per-hour and per-day quotas, provider-wide pauses, and adaptation to the provider's real
//! limit) and a [`Gate`] bounding requests in flight.
//!
//! A request takes its in-flight slot first and its rate slot last, immediately before it is sent
//! (the provider awaits the [`Pacer`](backfill_provider::Pacer) the engine hands it), so tasks
//! waiting for an in-flight slot never hold rate slots and cannot send in a burst.
//!
//! Everything uses `tokio::time`, so tests drive it with a paused clock.
//!
//! # Adaptation
//!
//! The limiter paces at its current rate and learns from the answers. Every permit carries a
//! [`Ticket`]: the congestion *epoch* it was issued in, the pacing rate then, and whether it went
//! out one pacing interval after the request before it. Only answers to tickets of the current
//! epoch count:
//!
//! - **Throttled** (a 429): the provider is paused for the wait it asked for (or the caller's
//!   cool-down) whatever the ticket says: nothing is sent inside it. If the ticket is of the current
//!   epoch, and went out one pacing interval after the request before it, this is a new
//!   *congestion event*: the epoch moves on and the rate is cut once. Throttled answers to requests
//!   sent before the cut belong to the same event and change nothing else; a throttled request
//!   that followed an idle spell (the first of a run, the first after a pause) was not sent at the
//!   rate, and cuts nothing either.
//!   The cut goes back to the highest rate that was answered cleanly since the last event below
//!   the throttled one; when that is within [`LOCATED`] of the throttled rate, the limit is
//!   located and the limiter holds there, spacing requests [`HOLD_SLACK`] more than that rate's
//!   interval for jitter. With no such rate the limiter knows nothing yet: it divides by ten (a
//!   `--rate` up to ten times too high lands below the real limit in one step) and ramps again.
//!   After a clean rate turned out too fast (the limit dropped, or jitter at the edge), it divides
//!   by [`EDGE_CUT`]'s inverse.
//! - **Clean** (any answer the server did not throttle): once a request sent one interval of the
//!   current rate after the one before it is answered, the rate is proven and steps up, never above
//!   the ceiling. While *ramping* a step is [`RAMP_PER_SEC`] to the power of one interval (at most
//!   [`RAMP_MAX_STEP`]): the rate grows by [`RAMP_PER_SEC`] per second of clean answers, in steps
//!   that get finer as the rate rises. Otherwise a step is that or [`STEP_UP`], whichever is
//!   smaller. A step that would reach the rate last throttled is replaced by one of [`STEP_UP`],
//!   and when even that would reach it the limiter holds: the limit lies within one [`STEP_UP`]
//!   above. After [`REPROBE_AFTER`] without a congestion event it forgets the throttled rate and
//!   probes again, so a limit that rises is found too.
//!
//! The limiter ramps from its start until its first congestion event, and again after a blind cut.
//! [`Rate::Auto`] starts at [`AUTO_START`]. A fixed rate starts at [`BLIND_CUT`] of its paced
//! rate, but not below [`AUTO_START`] (nor above the paced rate), and ramps up to it, so that a
//! `--rate` up to ten times too high meets the real limit on the way up, one ramp step past a rate
//! answered cleanly, instead of in a burst that leaves nothing proven.
//!
//! A step up takes effect at once: callers already waiting for a slot are woken and take it one
//! interval of the new rate after the last request, not of the rate they went to sleep with. A new
//! pause wakes them too, so that a caller that may not wait that long gives up at once.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use backfill_provider::Quotas;
use tokio::sync::{Notify, Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// A fixed `--rate` is paced at this fraction of the rate given. A server enforcing exactly that
/// rate with no burst sees our requests with network jitter: two sent 50 ms apart can arrive 49 ms
/// apart and the second be refused. 5 % headroom absorbs that jitter for a 5 % longer floor.
pub const PACING_HEADROOM: f64 = 0.95;
/// Where [`Rate::Auto`] starts, in requests per second: slow enough for any public API.
pub const AUTO_START: f64 = 2.0;
/// The highest rate [`Rate::Auto`] probes up to, in requests per second.
pub const AUTO_CEILING: f64 = 1000.0;
/// The largest upward step outside a ramp, and the step taken instead of a ramp step that would
/// reach the rate last throttled.
pub const STEP_UP: f64 = 1.1;
/// While ramping, the rate grows by this factor per second of clean answers (one step per proven
/// interval of `1/rate` s is `RAMP_PER_SEC^(1/rate)`: 1.099 at 19 requests/s, 1.0095 at 190).
pub const RAMP_PER_SEC: f64 = 6.0;
/// The largest single step while ramping (the steps at low rates, where one interval is long).
pub const RAMP_MAX_STEP: f64 = 2.0;
/// The cut when nothing was ever answered cleanly: a rate up to ten times too high lands below the
/// real limit in one step.
pub const BLIND_CUT: f64 = 0.1;
/// The cut when a rate that had been answered cleanly is throttled.
pub const EDGE_CUT: f64 = 0.8;
/// A congestion event has located the limit when the throttled rate is at most this factor above
/// the highest rate answered cleanly: the limiter holds there.
pub const LOCATED: f64 = 1.15;
/// Holding after a cut, requests are spaced this much more than the proven rate's interval: a
/// margin for network jitter, which is absolute (a millisecond is 2 % of the interval at 20/s).
pub const HOLD_SLACK: Duration = Duration::from_millis(1);
/// Without a congestion event for this long, the limiter probes above its held rate again.
pub const REPROBE_AFTER: Duration = Duration::from_mins(1);
/// The lowest rate adaptation ever goes down to, in requests per second.
pub const MIN_RATE: f64 = 0.01;

/// How fast to send, per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// No per-second limit (quotas and pauses still hold).
    Unlimited,
    /// At most this many requests per second (paced at [`PACING_HEADROOM`] of it, reached by a
    /// ramp from a tenth of it, or from [`AUTO_START`]); adapts below it when the provider
    /// throttles.
    Fixed(f64),
    /// Find the provider's limit: start at [`AUTO_START`] and probe upward while answers stay clean.
    Auto,
}

/// Everything the rate limiter enforces, in one place.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub rate: Rate,
    /// At most this many requests in any 60 s.
    pub per_minute: Option<u32>,
    /// At most this many requests in any hour.
    pub per_hour: Option<u32>,
    /// At most this many requests in any 24 hours.
    pub per_day: Option<u32>,
}

impl Limits {
    /// `rate` per second, with the provider's per-minute, per-hour and per-day quotas. A provider's
    /// `per_second` quota caps `rate` (and [`Rate::Auto`]'s probing); it is the rate when `rate`
    /// is [`Rate::Unlimited`].
    pub fn new(rate: Rate, quotas: Quotas) -> Limits {
        let quota = quotas.per_second.filter(|r| r.is_finite() && *r > 0.0);
        let rate = match (rate, quota) {
            (Rate::Fixed(r), Some(q)) => Rate::Fixed(r.min(q)),
            (Rate::Unlimited, Some(q)) => Rate::Fixed(q),
            (other, _) => other,
        };
        Limits {
            rate,
            per_minute: quotas.per_minute.filter(|n| *n > 0),
            per_hour: quotas.per_hour.filter(|n| *n > 0),
            per_day: quotas.per_day.filter(|n| *n > 0),
        }
    }

    /// Only a per-second rate (`None` or a non-positive rate: no limit at all).
    pub fn per_second(rate: Option<f64>) -> Limits {
        Limits::new(
            rate.filter(|r| r.is_finite() && *r > 0.0)
                .map_or(Rate::Unlimited, Rate::Fixed),
            Quotas::NONE,
        )
    }
}

/// Proof of one admitted request, handed back with its answer ([`RateLimiter::on_clean`],
/// [`RateLimiter::on_throttled`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ticket {
    epoch: u64,
    /// The pacing rate when it was admitted (`None`: not paced).
    rate: Option<f64>,
    /// Whether it went out one pacing interval after the request before it, so that its answer
    /// says something about that rate (not after an idle spell or a pause).
    at_pace: bool,
}

/// The provider is paused, or its quota spent, for longer than the caller may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PausedTooLong {
    /// How long the pause still runs, or until the quota has room again.
    pub remaining: Duration,
    /// The wait is our own quota's (a quota the provider declared), not a pause it asked for.
    pub quota: bool,
}

/// One rate limiter per provider, shared by every task. See the module docs.
#[derive(Debug)]
pub struct RateLimiter {
    limits: Limits,
    /// The highest pacing rate (`None`: no per-second limit).
    ceiling: Option<f64>,
    state: Mutex<State>,
    /// Wakes every waiting caller when the rate rises or a pause starts, so that it takes its
    /// slot by the new rate (not the one it went to sleep with) or gives up on a pause longer
    /// than it may wait.
    changed: Notify,
}

/// All of the limiter's mutable state, changed together under one lock.
#[derive(Debug)]
struct State {
    /// Current pacing rate, `None` when unlimited.
    rate: Option<f64>,
    /// When the last request was admitted; the next goes one pacing interval later.
    last: Option<Instant>,
    /// Send instants inside each sliding quota window.
    windows: Vec<QuotaWindow>,
    /// Nobody sends before this instant.
    paused_until: Option<Instant>,
    /// Wall-clock time covered by pauses (their union).
    paused_total: Duration,
    epoch: u64,
    /// The highest rate answered cleanly in this epoch.
    proven: Option<f64>,
    /// The rate of the last congestion event, until forgotten.
    throttled_at: Option<f64>,
    /// Converged: within one step of `throttled_at`, no more steps up until it is forgotten.
    holding: bool,
    last_event: Option<Instant>,
    /// Growing by [`RAMP_PER_SEC`]: from the start until the first congestion event, and after a
    /// blind cut.
    ramping: bool,
    /// Requests admitted and congestion events, for reports and tests.
    admitted: u64,
    events: u64,
}

#[derive(Debug)]
struct QuotaWindow {
    limit: usize,
    period: Duration,
    sent: VecDeque<Instant>,
}

impl QuotaWindow {
    fn new(limit: u32, period: Duration) -> QuotaWindow {
        QuotaWindow {
            limit: limit as usize,
            period,
            sent: VecDeque::new(),
        }
    }

    /// When one more request fits.
    fn free_at(&mut self, now: Instant) -> Instant {
        while self.sent.front().is_some_and(|t| *t + self.period <= now) {
            self.sent.pop_front();
        }
        if self.sent.len() < self.limit {
            now
        } else {
            self.sent[self.sent.len() - self.limit] + self.period
        }
    }
}

impl RateLimiter {
    pub fn new(limits: Limits) -> RateLimiter {
        let valid = |r: f64| r.is_finite() && r > 0.0;
        let (ceiling, start, ramping) = match limits.rate {
            Rate::Fixed(r) if valid(r) => {
                let c = (r * PACING_HEADROOM).max(MIN_RATE);
                let start = c.min(AUTO_START.max(c * BLIND_CUT));
                (Some(c), Some(start), start < c)
            }
            Rate::Fixed(_) | Rate::Unlimited => (None, None, false),
            Rate::Auto => (Some(AUTO_CEILING), Some(AUTO_START), true),
        };
        let mut windows = Vec::new();
        if let Some(n) = limits.per_minute.filter(|n| *n > 0) {
            windows.push(QuotaWindow::new(n, Duration::from_mins(1)));
        }
        if let Some(n) = limits.per_hour.filter(|n| *n > 0) {
            windows.push(QuotaWindow::new(n, Duration::from_hours(1)));
        }
        if let Some(n) = limits.per_day.filter(|n| *n > 0) {
            windows.push(QuotaWindow::new(n, Duration::from_hours(24)));
        }
        RateLimiter {
            limits,
            ceiling,
            state: Mutex::new(State {
                rate: start,
                last: None,
                windows,
                paused_until: None,
                paused_total: Duration::ZERO,
                epoch: 0,
                proven: None,
                throttled_at: None,
                holding: false,
                last_event: None,
                ramping,
                admitted: 0,
                events: 0,
            }),
            changed: Notify::new(),
        }
    }

    /// What the limiter was built with.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The pacing rate now, if any.
    pub fn current_rate(&self) -> Option<f64> {
        self.lock().rate
    }

    /// Requests admitted so far.
    pub fn admitted(&self) -> u64 {
        self.lock().admitted
    }

    /// Congestion events so far (cuts of the rate).
    pub fn congestion_events(&self) -> u64 {
        self.lock().events
    }

    /// Wall-clock time the provider has spent paused so far (the union of the pauses).
    pub fn throttled_total(&self) -> Duration {
        self.lock().paused_total
    }

    /// Waits until one more request may be sent, and reserves it.
    pub async fn acquire(&self) -> Ticket {
        match self.acquire_within(Duration::MAX).await {
            Ok(t) => t,
            Err(_) => unreachable!("no pause is longer than Duration::MAX"),
        }
    }

    /// As [`RateLimiter::acquire`], but gives up at once when the provider is paused, or a quota
    /// has no room, for longer than `max_wait` from now (checked again whenever a new pause starts
    /// and whenever the wait ends).
    ///
    /// # Errors
    /// [`PausedTooLong`] with the pause's remaining time.
    pub async fn acquire_within(&self, max_wait: Duration) -> Result<Ticket, PausedTooLong> {
        loop {
            // Created before the state is read: a change made after it is never missed.
            let changed = self.changed.notified();
            let now = Instant::now();
            let wake = {
                let mut st = self.lock();
                if let Some(until) = st.paused_until.filter(|u| *u > now) {
                    let remaining = until - now;
                    if remaining > max_wait {
                        return Err(PausedTooLong {
                            remaining,
                            quota: false,
                        });
                    }
                    until
                } else {
                    let mut quota_at = now;
                    for w in &mut st.windows {
                        quota_at = quota_at.max(w.free_at(now));
                    }
                    if quota_at - now > max_wait {
                        return Err(PausedTooLong {
                            remaining: quota_at - now,
                            quota: true,
                        });
                    }
                    let at = st.next_slot().map_or(now, |n| n.max(now)).max(quota_at);
                    if at <= now {
                        return Ok(st.admit(now));
                    }
                    at
                }
            };
            tokio::select! {
                () = tokio::time::sleep_until(wake) => {}
                () = changed => {}
            }
        }
    }

    /// A request of `ticket` was answered without throttling (data, or a final answer such as
    /// "not found"): once the current rate is proven, step up.
    pub fn on_clean(&self, ticket: Ticket) {
        let now = Instant::now();
        let mut st = self.lock();
        if ticket.epoch != st.epoch {
            return;
        }
        let (Some(rate), Some(sent_at)) = (st.rate, ticket.rate) else {
            return;
        };
        if !ticket.at_pace || sent_at < rate {
            return;
        }
        st.proven = Some(st.proven.map_or(rate, |p| p.max(rate)));
        if st
            .last_event
            .is_some_and(|at| now.duration_since(at) >= REPROBE_AFTER)
        {
            st.throttled_at = None;
            st.holding = false;
        }
        if st.holding {
            return;
        }
        let ramp = ramp_step(rate);
        let mut next = rate * if st.ramping { ramp } else { ramp.min(STEP_UP) };
        if let Some(bad) = st.throttled_at {
            if rate * STEP_UP >= bad {
                st.holding = true;
                return;
            }
            if next >= bad {
                next = rate * STEP_UP;
            }
        }
        if let Some(c) = self.ceiling {
            next = next.min(c);
        }
        st.rate = Some(next);
        drop(st);
        if next > rate {
            self.changed.notify_waiters();
        }
    }

    /// A request of `ticket` was throttled: pause the provider for `pause` (the wait it asked for,
    /// or the caller's cool-down), and cut the rate if this is a new congestion event.
    pub fn on_throttled(&self, ticket: Ticket, pause: Duration) {
        let now = Instant::now();
        self.lock().throttled(ticket, now, pause);
        self.changed.notify_waiters();
    }

    /// The provider asked for a pause without it being a sign of our rate (a 503 with
    /// `Retry-After`, a quota reset announced by the provider): nobody sends for `pause`.
    pub fn pause_for(&self, pause: Duration) {
        let now = Instant::now();
        self.lock().pause(now, pause);
        self.changed.notify_waiters();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One step of the ramp at `rate`: [`RAMP_PER_SEC`] over one interval, at most [`RAMP_MAX_STEP`].
fn ramp_step(rate: f64) -> f64 {
    RAMP_PER_SEC.powf(1.0 / rate).min(RAMP_MAX_STEP)
}

/// Slack allowed between a request's pacing slot and when it actually went out for its answer to
/// still count as a test of the rate: tokio's timer resolution, and a moment to be scheduled.
const PACE_SLACK: Duration = Duration::from_millis(2);

impl State {
    /// See [`RateLimiter::on_throttled`].
    fn throttled(&mut self, ticket: Ticket, now: Instant, pause: Duration) {
        self.pause(now, pause);
        // A paced request that followed an idle spell (the first of a run, the first after a
        // pause) was not sent at the rate: its 429 says nothing about the rate.
        if ticket.epoch != self.epoch || (ticket.rate.is_some() && !ticket.at_pace) {
            return;
        }
        self.epoch += 1;
        self.events += 1;
        self.last_event = Some(now);
        let (Some(rate), Some(at)) = (self.rate, ticket.rate) else {
            return;
        };
        let proven = self.proven.take();
        self.ramping = proven.is_none();
        let cut = match proven {
            Some(p) if p < at => p,
            Some(_) => at * EDGE_CUT,
            None => at * BLIND_CUT,
        };
        self.throttled_at = Some(at);
        self.holding = !self.ramping && cut * LOCATED >= at;
        let hold = if self.holding {
            1.0 / (1.0 / cut + HOLD_SLACK.as_secs_f64())
        } else {
            cut
        };
        self.rate = Some(hold.min(rate).max(MIN_RATE));
    }

    fn interval(&self) -> Option<Duration> {
        self.rate.map(|r| Duration::from_secs_f64(1.0 / r))
    }

    /// The earliest instant of the next per-second slot: one interval after the last request, and
    /// not inside a pause. After a pause the first request goes alone and the rest are spaced
    /// from it: the slots missed during the pause are not sent in a burst.
    fn next_slot(&self) -> Option<Instant> {
        let paced = self.last.zip(self.interval()).map(|(l, i)| l + i);
        match (paced, self.paused_until) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    fn admit(&mut self, now: Instant) -> Ticket {
        let at_pace = match (self.last, self.interval()) {
            (Some(last), Some(i)) => now.duration_since(last) <= i + PACE_SLACK,
            _ => false,
        };
        let ticket = Ticket {
            epoch: self.epoch,
            rate: self.rate,
            at_pace,
        };
        self.last = Some(now);
        for w in &mut self.windows {
            w.sent.push_back(now);
        }
        self.admitted += 1;
        ticket
    }

    fn pause(&mut self, now: Instant, pause: Duration) {
        let until = now
            .checked_add(pause)
            .unwrap_or(now + Duration::from_hours(24 * 365));
        let covered = self.paused_until.filter(|u| *u > now).unwrap_or(now);
        self.paused_total += until.saturating_duration_since(covered);
        if until > covered {
            self.paused_until = Some(until);
        }
    }
}

/// Bounds requests in flight at `--workers`.
#[derive(Debug)]
pub struct Gate {
    semaphore: Semaphore,
    max: usize,
}

/// A slot in the [`Gate`], released on drop.
#[derive(Debug)]
pub struct Slot<'a> {
    _permit: SemaphorePermit<'a>,
}

impl Gate {
    /// A gate allowing `max` requests in flight (at least one).
    pub fn new(max: usize) -> Gate {
        Gate {
            semaphore: Semaphore::new(max.max(1)),
            max: max.max(1),
        }
    }

    /// How many requests may be in flight at once.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Waits for a slot.
    pub async fn acquire(&self) -> Slot<'_> {
        let permit = self
            .semaphore
            .acquire()
            .await
            .expect("the gate's semaphore is never closed");
        Slot { _permit: permit }
    }
}

#[cfg(test)]
mod tests;
