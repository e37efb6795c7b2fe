//! What the client tells OpenTelemetry: one span per logical request (its attempts,
//! waits, last status and NetSuite error code) and, per HTTP attempt, the shared
//! `ledgerlink.external.*` metrics. Neither carries a header, a token or a query string.

use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram};

use crate::error::{ApiError, Error};
use crate::oauth2::TOKEN_PATH;
use crate::suiteql::SUITEQL_PATH;

/// The `api` attribute of every metric recorded here.
const API: &str = "netsuite";

// The instruments are the Klaviyo client's too: name, description, unit and buckets
// must match its, or the SDK reports a conflict and keeps two streams under one name.

/// Seconds; from a quick SuiteQL page to a slow one under governance.
const DURATION_BOUNDS: [f64; 12] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Seconds; waits for a concurrency slot are short or very long.
const WAIT_BOUNDS: [f64; 10] = [0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0];

/// The endpoint label of a REST path: a fixed few, so ids in paths never become series.
pub(crate) fn endpoint_of(path: &str) -> &'static str {
    if path == SUITEQL_PATH {
        "suiteql"
    } else if path == TOKEN_PATH {
        "token"
    } else if path.starts_with("/services/rest/record/") {
        "record"
    } else {
        "rest"
    }
}

/// The NetSuite error behind `error`, if NetSuite answered one.
pub(crate) fn api_error(error: &Error) -> Option<&ApiError> {
    match error {
        Error::Api(api) | Error::BadCredentials(api) | Error::TokenRejected(api) => Some(api),
        Error::RetriesExhausted { last, .. } => api_error(last),
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
    pub(crate) fn exchange(&self, endpoint: &'static str, status: Option<u16>, took: Duration) {
        let status = status.map_or_else(|| "error".to_owned(), |status| status.to_string());
        self.requests.add(
            1,
            &[
                KeyValue::new("api", API),
                KeyValue::new("endpoint", endpoint),
                KeyValue::new("status", status),
            ],
        );
        self.duration.record(
            took.as_secs_f64(),
            &[KeyValue::new("api", API), KeyValue::new("endpoint", endpoint)],
        );
    }

    /// A wait for the concurrency limit (NetSuite governs by concurrent requests).
    pub(crate) fn waited(&self, endpoint: &'static str, waited: Duration) {
        self.wait.record(
            waited.as_secs_f64(),
            &[KeyValue::new("api", API), KeyValue::new("endpoint", endpoint)],
        );
    }

    pub(crate) fn retry(&self, endpoint: &'static str) {
        self.retries
            .add(1, &[KeyValue::new("api", API), KeyValue::new("endpoint", endpoint)]);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_a_fixed_few() {
        assert_eq!(endpoint_of(SUITEQL_PATH), "suiteql");
        assert_eq!(endpoint_of(TOKEN_PATH), "token");
        assert_eq!(endpoint_of("/services/rest/record/v1/customer/42"), "record");
        assert_eq!(endpoint_of("/services/rest/system/v1/x"), "rest");
    }
}
