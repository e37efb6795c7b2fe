//! Counters a caller can read to see how hard the client is working and how much it waited.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::endpoint::Endpoint;

/// Counters of one endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// HTTP requests sent, retries included.
    pub requests: u64,
    /// Attempts that were retries of an earlier failed attempt.
    pub retries: u64,
    /// 429 answers received.
    pub throttled_responses: u64,
    /// Requests that had to wait for the rate limiter (its own windows or a 429's pause).
    pub throttled_waits: u64,
    /// Total time spent waiting for the rate limiter.
    pub total_wait: Duration,
}

/// A snapshot of a client's counters since it was built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Per endpoint; endpoints never called are absent.
    pub endpoints: BTreeMap<Endpoint, EndpointStats>,
}

impl ClientStats {
    /// One endpoint's counters (zero when never called).
    pub fn endpoint(&self, endpoint: Endpoint) -> EndpointStats {
        self.endpoints.get(&endpoint).copied().unwrap_or_default()
    }

    /// Requests over all endpoints.
    pub fn requests(&self) -> u64 {
        self.endpoints.values().map(|stats| stats.requests).sum()
    }

    /// Retries over all endpoints.
    pub fn retries(&self) -> u64 {
        self.endpoints.values().map(|stats| stats.retries).sum()
    }

    /// Rate-limiter waits over all endpoints.
    pub fn throttled_waits(&self) -> u64 {
        self.endpoints.values().map(|stats| stats.throttled_waits).sum()
    }

    /// Time spent waiting for the rate limiter over all endpoints.
    pub fn total_wait(&self) -> Duration {
        self.endpoints.values().map(|stats| stats.total_wait).sum()
    }
}

#[derive(Debug, Default)]
pub(crate) struct StatsCounters {
    inner: Mutex<ClientStats>,
}

impl StatsCounters {
    fn update(&self, endpoint: Endpoint, change: impl FnOnce(&mut EndpointStats)) {
        let mut stats = self.inner.lock().expect("stats lock poisoned");
        change(stats.endpoints.entry(endpoint).or_default());
    }

    pub(crate) fn request(&self, endpoint: Endpoint, waited: Duration) {
        self.update(endpoint, |stats| {
            stats.requests += 1;
            if !waited.is_zero() {
                stats.throttled_waits += 1;
                stats.total_wait += waited;
            }
        });
    }

    pub(crate) fn retry(&self, endpoint: Endpoint) {
        self.update(endpoint, |stats| stats.retries += 1);
    }

    pub(crate) fn throttled(&self, endpoint: Endpoint) {
        self.update(endpoint, |stats| stats.throttled_responses += 1);
    }

    pub(crate) fn snapshot(&self) -> ClientStats {
        self.inner.lock().expect("stats lock poisoned").clone()
    }
}
