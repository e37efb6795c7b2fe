//! A client-side limiter that keeps every endpoint under its published burst, steady and
//! daily windows, shared by every task (and every client) that holds it.
//!
//! Klaviyo counts in fixed windows whose alignment a client cannot see, so the limiter keeps
//! a sliding log of send times: no sliding window of one second ever holds more than the
//! burst, none of one minute more than the steady limit, which implies the same for any
//! fixed window. Callers reserve their slot under the lock and sleep outside it, so waiting
//! tasks go in order and never spin.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::endpoint::{Endpoint, EndpointLimits};
use crate::error::Error;

/// Per-endpoint limiter; wrap it in an `Arc` and hand the same one to every client of a
/// Klaviyo account, since Klaviyo's quota is per account.
#[derive(Debug)]
pub struct RateLimiter {
    share: f64,
    lanes: Mutex<HashMap<Endpoint, Lane>>,
}

#[derive(Debug)]
struct Lane {
    windows: Vec<(u32, Duration)>,
    /// Send times granted so far (some possibly in the future), ascending.
    log: VecDeque<Instant>,
    /// No send before this instant: set by a 429.
    paused_until: Option<Instant>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl RateLimiter {
    /// A limiter using the full published limits.
    pub fn new() -> Self {
        Self::with_share(1.0)
    }

    /// A limiter using only `share` (0 < share ≤ 1) of every published limit, leaving the
    /// rest of the account's quota to other integrations; at least one request per
    /// window is always allowed.
    pub fn with_share(share: f64) -> Self {
        let share = if share.is_finite() && share > 0.0 {
            share.min(1.0)
        } else {
            1.0
        };
        RateLimiter {
            share,
            lanes: Mutex::new(HashMap::new()),
        }
    }

    /// The limits this limiter applies to `endpoint` (after the share).
    pub fn effective_limits(&self, endpoint: Endpoint) -> EndpointLimits {
        let published = endpoint.limits();
        let scale = |value: u32| ((f64::from(value) * self.share).floor() as u32).max(1);
        EndpointLimits {
            burst_per_second: scale(published.burst_per_second),
            steady_per_minute: scale(published.steady_per_minute),
            daily: published.daily.map(scale),
        }
    }

    /// Waits until a request to `endpoint` may be sent and records it as sent; returns how
    /// long it waited. Fails instead of waiting when the endpoint's daily cap is spent.
    pub async fn acquire(&self, endpoint: Endpoint) -> Result<Duration, Error> {
        let started = Instant::now();
        loop {
            let slot = self.reserve(endpoint)?;
            tokio::time::sleep_until(slot).await;
            // A 429 seen by another task while this one slept moves the pause forward;
            // sending anyway would only earn another 429.
            if self.still_valid(endpoint, slot) {
                return Ok(started.elapsed());
            }
        }
    }

    /// Holds every request to `endpoint` back until `until` (after a 429).
    pub fn pause_until(&self, endpoint: Endpoint, until: Instant) {
        let mut lanes = self.lanes.lock().expect("rate limiter lock poisoned");
        let lane = self.lane(&mut lanes, endpoint);
        if lane.paused_until.is_none_or(|current| current < until) {
            lane.paused_until = Some(until);
        }
    }

    fn lane<'a>(&self, lanes: &'a mut HashMap<Endpoint, Lane>, endpoint: Endpoint) -> &'a mut Lane {
        lanes.entry(endpoint).or_insert_with(|| Lane {
            windows: self.effective_limits(endpoint).windows(),
            log: VecDeque::new(),
            paused_until: None,
        })
    }

    fn reserve(&self, endpoint: Endpoint) -> Result<Instant, Error> {
        let mut lanes = self.lanes.lock().expect("rate limiter lock poisoned");
        let lane = self.lane(&mut lanes, endpoint);
        let now = Instant::now();
        let longest = lane.windows.iter().map(|window| window.1).max().unwrap_or_default();
        while lane.log.front().is_some_and(|sent| *sent + longest <= now) {
            lane.log.pop_front();
        }

        let mut slot = now;
        if let Some(paused) = lane.paused_until {
            slot = slot.max(paused);
        }
        if let Some(last) = lane.log.back() {
            slot = slot.max(*last);
        }
        for &(allowed, length) in &lane.windows {
            let allowed = allowed as usize;
            if lane.log.len() >= allowed {
                let earliest = lane.log[lane.log.len() - allowed] + length;
                if earliest > slot {
                    if length >= Duration::from_secs(86_400) {
                        return Err(Error::DailyLimitReached {
                            endpoint,
                            retry_in: earliest - now,
                        });
                    }
                    slot = earliest;
                }
            }
        }
        lane.log.push_back(slot);
        Ok(slot)
    }

    fn still_valid(&self, endpoint: Endpoint, slot: Instant) -> bool {
        let mut lanes = self.lanes.lock().expect("rate limiter lock poisoned");
        let lane = self.lane(&mut lanes, endpoint);
        match lane.paused_until {
            Some(paused) if paused > slot => {
                if let Some(position) = lane.log.iter().position(|sent| *sent == slot) {
                    lane.log.remove(position);
                }
                false
            }
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn max_in_window(times: &[Instant], length: Duration) -> usize {
        let mut best = 0;
        for (start, first) in times.iter().enumerate() {
            let count = times[start..]
                .iter()
                .take_while(|time| **time < *first + length)
                .count();
            best = best.max(count);
        }
        best
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn concurrent_tasks_never_exceed_burst_or_steady() {
        let limiter = Arc::new(RateLimiter::new());
        let endpoint = Endpoint::BulkImportProfiles; // 10/s, 150/m
        let mut tasks = Vec::new();
        for _ in 0..400 {
            let limiter = limiter.clone();
            tasks.push(tokio::spawn(async move {
                limiter.acquire(endpoint).await.expect("no daily cap");
                Instant::now()
            }));
        }
        let mut times = Vec::new();
        for task in tasks {
            times.push(task.await.expect("task"));
        }
        times.sort();
        let limits = endpoint.limits();
        assert!(max_in_window(&times, Duration::from_secs(1)) <= limits.burst_per_second as usize);
        assert!(max_in_window(&times, Duration::from_secs(60)) <= limits.steady_per_minute as usize);
        // It is a limiter, not a brake: 400 requests at 150/min need a bit over two minutes.
        let span = *times.last().expect("times") - times[0];
        assert!(span < Duration::from_secs(180), "took {span:?}");
        assert!(span >= Duration::from_secs(120), "took {span:?}");
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn burst_is_available_at_once_then_spread() {
        let limiter = RateLimiter::new();
        let endpoint = Endpoint::CreateEvent; // 350/s
        let start = Instant::now();
        for _ in 0..350 {
            limiter.acquire(endpoint).await.expect("acquire");
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.acquire(endpoint).await.expect("acquire");
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn pause_holds_back_every_later_request() {
        let limiter = RateLimiter::new();
        let endpoint = Endpoint::GetProfiles;
        let start = Instant::now();
        limiter.pause_until(endpoint, start + Duration::from_secs(7));
        let waited = limiter.acquire(endpoint).await.expect("acquire");
        assert_eq!(waited, Duration::from_secs(7));
        // Other endpoints are not held back.
        assert_eq!(
            limiter.acquire(Endpoint::CreateEvent).await.expect("acquire"),
            Duration::ZERO
        );
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn daily_cap_fails_instead_of_waiting_a_day() {
        let limiter = RateLimiter::new();
        let endpoint = Endpoint::CreateSegment; // 1/s, 15/m, 100/d
        for _ in 0..100 {
            limiter.acquire(endpoint).await.expect("within the daily cap");
        }
        let error = limiter.acquire(endpoint).await.expect_err("daily cap spent");
        assert!(matches!(
            error,
            Error::DailyLimitReached {
                endpoint: Endpoint::CreateSegment,
                ..
            }
        ));
    }

    #[test]
    fn share_scales_limits_but_keeps_one_per_window() {
        let limiter = RateLimiter::with_share(0.5);
        assert_eq!(limiter.effective_limits(Endpoint::CreateEvent).burst_per_second, 175);
        assert_eq!(limiter.effective_limits(Endpoint::CreateSegment).burst_per_second, 1);
        assert_eq!(limiter.effective_limits(Endpoint::CreateSegment).daily, Some(50));
    }
}
