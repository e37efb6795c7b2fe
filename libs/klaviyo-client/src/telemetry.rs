//! What the client tells OpenTelemetry: one span per logical request (its attempts,
//! rate-limit waits, last status and Klaviyo error code) and, per HTTP attempt, the shared
//! `ledgerlink.external.*` metrics. Neither carries a header, the API key, a query string
//! (lookup filters hold email addresses) or a request body.

use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram};

use crate::endpoint::Endpoint;
use crate::error::Error;

/// The `api` attribute of every metric recorded here.
const API: &str = "klaviyo";

// The instruments are the NetSuite client's too: name, description, unit and buckets
// must match its, or the SDK reports a conflict and keeps two streams under one name.

/// Seconds; from a quick event post to a slow bulk import.
const DURATION_BOUNDS: [f64; 12] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Seconds; waits for a rate-limit slot are short or very long.
const WAIT_BOUNDS: [f64; 10] = [0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0];

/// Klaviyo's error code behind `error`, if Klaviyo answered one.
pub(crate) fn error_code(error: &Error) -> Option<&str> {
    match error {
        Error::Api { error, .. } => error
            .errors
            .iter()
            .map(|object| object.code.as_str())
            .find(|code| !code.is_empty()),
        Error::RetriesExhausted { last, .. } => error_code(last),
        _ => None,
    }
}

/// The instruments, made from the global meter when the client is built.
#[derive(Debug)]
pub(crate) struct Instruments {
    requests: Counter<u64>,
    duration: Histogram<f64>,
    wait: Histogram<f64>,
    retries: Counter<u64>,
}

impl Instruments {
    pub(crate) fn new() -> Self {
        let meter = opentelemetry::global::meter("ledgerlink");
        Instruments {
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

    /// One HTTP exchange: `status` is `None` when it failed before an answer.
    pub(crate) fn exchange(&self, endpoint: Endpoint, status: Option<u16>, took: Duration) {
        let status = status.map_or_else(|| "error".to_owned(), |status| status.to_string());
        self.requests.add(
            1,
            &[
                KeyValue::new("api", API),
                KeyValue::new("endpoint", endpoint.operation_id()),
                KeyValue::new("status", status),
            ],
        );
        self.duration.record(took.as_secs_f64(), &labels(endpoint));
    }

    /// A wait for the rate limiter (its windows, or the pause after a 429).
    pub(crate) fn waited(&self, endpoint: Endpoint, waited: Duration) {
        self.wait.record(waited.as_secs_f64(), &labels(endpoint));
    }

    pub(crate) fn retry(&self, endpoint: Endpoint) {
        self.retries.add(1, &labels(endpoint));
    }
}

fn labels(endpoint: Endpoint) -> [KeyValue; 2] {
    [
        KeyValue::new("api", API),
        KeyValue::new("endpoint", endpoint.operation_id()),
    ]
}

/// What the attempts of one logical request add up to, for its span.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    wait_micros: AtomicU64,
    backoff_micros: AtomicU64,
    /// The status of the latest attempt's answer; 0 when it had none.
    status: AtomicU16,
}

impl Tally {
    pub(crate) fn add_wait(&self, waited: Duration) {
        self.wait_micros.fetch_add(micros(waited), Ordering::Relaxed);
    }

    pub(crate) fn add_backoff(&self, delay: Duration) {
        self.backoff_micros.fetch_add(micros(delay), Ordering::Relaxed);
    }

    pub(crate) fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::Relaxed);
    }

    pub(crate) fn status(&self) -> Option<u16> {
        Some(self.status.load(Ordering::Relaxed)).filter(|status| *status != 0)
    }

    pub(crate) fn wait_ms(&self) -> u64 {
        self.wait_micros.load(Ordering::Relaxed) / 1000
    }

    pub(crate) fn backoff_ms(&self) -> u64 {
        self.backoff_micros.load(Ordering::Relaxed) / 1000
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}
