//! What a client of an external API tells OpenTelemetry, the same way for NetSuite and
//! Klaviyo: per HTTP attempt the `ledgerlink.external.*` metrics, labelled by `api`
//! and a bounded `endpoint` name, and per logical request a [`Tally`] of its waits,
//! back-offs and last status for the request's span.
//!
//! One definition serves both clients because the instruments share names: a second
//! definition with another description, unit or buckets would make the SDK report a
//! conflict and keep two streams under one name.

use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram};

/// Seconds; from a quick SuiteQL page or event post to a slow bulk import.
const DURATION_BOUNDS: [f64; 12] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Seconds; waits for a rate-limit or concurrency slot are short or very long.
const WAIT_BOUNDS: [f64; 10] = [0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0];

/// The instruments of one API's client, made from the global meter when the client is
/// built.
#[derive(Debug)]
pub struct ApiInstruments {
    api: &'static str,
    requests: Counter<u64>,
    duration: Histogram<f64>,
    wait: Histogram<f64>,
    retries: Counter<u64>,
}

impl ApiInstruments {
    /// Instruments whose every point carries `api` (`netsuite`, `klaviyo`).
    pub fn new(api: &'static str) -> Self {
        let meter = opentelemetry::global::meter("ledgerlink");
        ApiInstruments {
            api,
            requests: meter
                .u64_counter("ledgerlink.external.requests")
                .with_description("HTTP requests sent to NetSuite and Klaviyo, retries included, by answer status")
                .build(),
            duration: meter
                .f64_histogram("ledgerlink.external.request.duration")
                .with_description("Time from sending an HTTP request to having its whole answer")
                .with_unit("s")
                .with_boundaries(DURATION_BOUNDS.to_vec())
                .build(),
            wait: meter
                .f64_histogram("ledgerlink.external.ratelimit.wait")
                .with_description("Time a request waited for the client's rate or concurrency limit before it was sent")
                .with_unit("s")
                .with_boundaries(WAIT_BOUNDS.to_vec())
                .build(),
            retries: meter
                .u64_counter("ledgerlink.external.retries")
                .with_description("Attempts that repeated an earlier failed attempt")
                .build(),
        }
    }

    /// One HTTP exchange with `endpoint` (a fixed name, never a path with ids):
    /// `status` is `None` when it failed before an answer.
    pub fn exchange(&self, endpoint: &'static str, status: Option<u16>, took: Duration) {
        let status = status.map_or_else(|| "error".to_owned(), |status| status.to_string());
        let [api, endpoint] = self.labels(endpoint);
        self.duration
            .record(took.as_secs_f64(), &[api.clone(), endpoint.clone()]);
        self.requests.add(1, &[api, endpoint, KeyValue::new("status", status)]);
    }

    /// A wait for the client's rate or concurrency limit, or the pause after a 429.
    pub fn waited(&self, endpoint: &'static str, waited: Duration) {
        self.wait.record(waited.as_secs_f64(), &self.labels(endpoint));
    }

    /// An attempt that repeats a failed one.
    pub fn retry(&self, endpoint: &'static str) {
        self.retries.add(1, &self.labels(endpoint));
    }

    fn labels(&self, endpoint: &'static str) -> [KeyValue; 2] {
        [KeyValue::new("api", self.api), KeyValue::new("endpoint", endpoint)]
    }
}

/// What the attempts of one logical request add up to, for its span. Attempts may run
/// on other tasks, hence atomics.
#[derive(Debug, Default)]
pub struct Tally {
    wait_micros: AtomicU64,
    backoff_micros: AtomicU64,
    /// The status of the latest attempt's answer; 0 when it had none.
    status: AtomicU16,
}

impl Tally {
    /// Adds a wait for a rate or concurrency slot.
    pub fn add_wait(&self, waited: Duration) {
        self.wait_micros.fetch_add(micros(waited), Ordering::Relaxed);
    }

    /// Adds a back-off before a retry.
    pub fn add_backoff(&self, delay: Duration) {
        self.backoff_micros.fetch_add(micros(delay), Ordering::Relaxed);
    }

    /// Records the status of the latest answer.
    pub fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::Relaxed);
    }

    /// The status of the latest answer, if any attempt got one.
    pub fn status(&self) -> Option<u16> {
        Some(self.status.load(Ordering::Relaxed)).filter(|status| *status != 0)
    }

    /// Milliseconds spent waiting for slots.
    pub fn wait_ms(&self) -> u64 {
        self.wait_micros.load(Ordering::Relaxed) / 1000
    }

    /// Milliseconds spent backing off.
    pub fn backoff_ms(&self) -> u64 {
        self.backoff_micros.load(Ordering::Relaxed) / 1000
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tally_adds_waits_and_back_offs_and_keeps_the_last_status() {
        let tally = Tally::default();
        assert_eq!(tally.status(), None);
        tally.add_wait(Duration::from_millis(1500));
        tally.add_wait(Duration::from_micros(600));
        tally.add_backoff(Duration::from_millis(250));
        tally.set_status(429);
        tally.set_status(200);
        assert_eq!(
            (tally.wait_ms(), tally.backoff_ms(), tally.status()),
            (1500, 250, Some(200))
        );
    }
}
