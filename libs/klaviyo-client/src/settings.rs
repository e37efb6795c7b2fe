//! Timeouts, retries, polling and batch limits of a [`crate::KlaviyoClient`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The API revision this client's request shapes follow (the OpenAPI document's
/// `info.version`), sent in the `revision` header unless overridden.
pub const DEFAULT_REVISION: &str = "2026-07-15";
/// Klaviyo's production server.
pub const DEFAULT_BASE_URL: &str = "https://a.klaviyo.com";

/// Klaviyo's cap on profiles per bulk import job.
pub const MAX_PROFILES_PER_JOB: usize = 10_000;
/// Klaviyo's cap on a bulk request body (5 MB, read as 5,000,000 bytes to be safe).
pub const MAX_BULK_BODY_BYTES: usize = 5_000_000;
/// Klaviyo's cap on one profile's payload (100 KB, read as 100,000 bytes).
pub const MAX_PROFILE_BYTES: usize = 100_000;
/// Klaviyo's cap on events per bulk create request.
pub const MAX_EVENTS_PER_REQUEST: usize = 1_000;
/// Klaviyo's cap on profiles per list membership call.
pub const MAX_LIST_MEMBERS_PER_CALL: usize = 1_000;

/// Settings of a client; every field has a default, so a partial file works.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientSettings {
    /// The `revision` header.
    pub revision: String,
    /// TCP/TLS connect timeout, milliseconds.
    pub connect_timeout_ms: u64,
    /// Whole-request timeout, milliseconds.
    pub request_timeout_ms: u64,
    /// Retries after the first attempt for 429, 5xx and network errors.
    pub max_retries: usize,
    /// First backoff delay before jitter, milliseconds; it doubles per retry.
    pub backoff_initial_ms: u64,
    /// Cap of the backoff delay before jitter, milliseconds.
    pub backoff_max_ms: u64,
    /// Least wait after a 429, whatever `Retry-After` or the detail text say, milliseconds.
    pub min_throttle_wait_ms: u64,
    /// First delay between polls of a bulk import job, milliseconds; it doubles each poll.
    /// Starting short and doubling finds a quick job quickly while a slow one costs
    /// about as many polls as starting at a second and growing by half.
    pub poll_initial_ms: u64,
    /// Cap of the delay between polls, milliseconds.
    pub poll_max_ms: u64,
    /// How long to poll one job before giving up, seconds.
    pub poll_timeout_secs: u64,
    /// Profiles per bulk import job (at most 10,000).
    pub max_profiles_per_job: usize,
    /// Bytes per bulk import request body (at most 5,000,000).
    pub max_job_bytes: usize,
    /// Bytes per serialized profile (at most 100,000).
    pub max_profile_bytes: usize,
    /// Events per bulk create request (at most 1,000).
    pub max_events_per_request: usize,
    /// Bytes per bulk event request body (at most 5,000,000).
    pub max_event_request_bytes: usize,
    /// Profiles per list membership call (at most 1,000).
    pub list_batch_size: usize,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            revision: DEFAULT_REVISION.to_owned(),
            connect_timeout_ms: 10_000,
            request_timeout_ms: 60_000,
            max_retries: 5,
            backoff_initial_ms: 500,
            backoff_max_ms: 60_000,
            min_throttle_wait_ms: 1_000,
            poll_initial_ms: 250,
            poll_max_ms: 30_000,
            poll_timeout_secs: 3_600,
            max_profiles_per_job: MAX_PROFILES_PER_JOB,
            max_job_bytes: MAX_BULK_BODY_BYTES,
            max_profile_bytes: MAX_PROFILE_BYTES,
            max_events_per_request: MAX_EVENTS_PER_REQUEST,
            max_event_request_bytes: MAX_BULK_BODY_BYTES,
            list_batch_size: MAX_LIST_MEMBERS_PER_CALL,
            user_agent: concat!("ledgerlink/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

impl ClientSettings {
    /// Checks that the settings can work and stay inside Klaviyo's documented caps.
    pub fn validate(&self) -> Result<(), Error> {
        let fail = |field: &'static str, reason: String| Err(Error::InvalidSettings { field, reason });
        if !valid_revision(&self.revision) {
            return fail("revision", format!("{:?} is not YYYY-MM-DD[.suffix]", self.revision));
        }
        let caps: [(&'static str, usize, usize); 6] = [
            ("max_profiles_per_job", self.max_profiles_per_job, MAX_PROFILES_PER_JOB),
            ("max_job_bytes", self.max_job_bytes, MAX_BULK_BODY_BYTES),
            ("max_profile_bytes", self.max_profile_bytes, MAX_PROFILE_BYTES),
            (
                "max_events_per_request",
                self.max_events_per_request,
                MAX_EVENTS_PER_REQUEST,
            ),
            (
                "max_event_request_bytes",
                self.max_event_request_bytes,
                MAX_BULK_BODY_BYTES,
            ),
            ("list_batch_size", self.list_batch_size, MAX_LIST_MEMBERS_PER_CALL),
        ];
        for (field, value, cap) in caps {
            if value == 0 || value > cap {
                return fail(field, format!("must be between 1 and {cap}, got {value}"));
            }
        }
        if self.max_profile_bytes > self.max_job_bytes {
            return fail("max_profile_bytes", "must not exceed max_job_bytes".to_owned());
        }
        if self.backoff_initial_ms == 0 {
            return fail("backoff_initial_ms", "must be above zero".to_owned());
        }
        if self.backoff_max_ms < self.backoff_initial_ms {
            return fail("backoff_max_ms", "must not be below backoff_initial_ms".to_owned());
        }
        if self.poll_initial_ms == 0 || self.poll_max_ms < self.poll_initial_ms {
            return fail(
                "poll_initial_ms",
                "must be above zero and not above poll_max_ms".to_owned(),
            );
        }
        if self.request_timeout_ms == 0 || self.connect_timeout_ms == 0 {
            return fail("request_timeout_ms", "timeouts must be above zero".to_owned());
        }
        Ok(())
    }

    /// The jittered exponential backoff delays, one per allowed retry.
    pub(crate) fn backoff(&self) -> impl Iterator<Item = Duration> + use<> {
        // tokio-retry's ExponentialBackoff yields factor * base^n, so base 2 with half the
        // initial delay as the factor gives initial, 2×initial, 4×initial, …
        tokio_retry::strategy::ExponentialBackoff::from_millis(2)
            .factor((self.backoff_initial_ms / 2).max(1))
            .max_delay(Duration::from_millis(self.backoff_max_ms))
            .map(tokio_retry::strategy::jitter)
            .take(self.max_retries)
    }

    /// The delays between polls of a job: 1.5× growth up to the cap.
    pub(crate) fn poll_delays(&self) -> impl Iterator<Item = Duration> + use<> {
        let max = self.poll_max_ms;
        std::iter::successors(Some(self.poll_initial_ms), move |previous| {
            Some(previous.saturating_mul(2).min(max))
        })
        .map(Duration::from_millis)
    }
}

fn valid_revision(revision: &str) -> bool {
    let (date, suffix) = revision.split_once('.').unwrap_or((revision, "x"));
    let bytes = date.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            4 | 7 => *byte == b'-',
            _ => byte.is_ascii_digit(),
        })
        && !suffix.is_empty()
        && suffix.chars().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_a_partial_file_keeps_the_other_defaults() {
        ClientSettings::default().validate().expect("defaults are valid");
        let settings: ClientSettings = serde_json::from_str(r#"{"max_retries": 2}"#).expect("parse");
        assert_eq!(settings.max_retries, 2);
        assert_eq!(settings.revision, DEFAULT_REVISION);
    }

    #[test]
    fn rejects_limits_above_klaviyo_caps_and_bad_revisions() {
        let too_many = ClientSettings {
            max_profiles_per_job: 10_001,
            ..ClientSettings::default()
        };
        assert!(matches!(
            too_many.validate(),
            Err(Error::InvalidSettings {
                field: "max_profiles_per_job",
                ..
            })
        ));
        for revision in ["2026-7-15", "latest", "2026-07-15.", "2026-07-15.pre"] {
            let settings = ClientSettings {
                revision: revision.to_owned(),
                ..ClientSettings::default()
            };
            assert_eq!(settings.validate().is_ok(), revision == "2026-07-15.pre", "{revision}");
        }
    }

    #[test]
    fn backoff_and_poll_delays_are_bounded() {
        let settings = ClientSettings {
            max_retries: 8,
            backoff_initial_ms: 400,
            backoff_max_ms: 3_000,
            poll_initial_ms: 1_000,
            poll_max_ms: 4_000,
            ..ClientSettings::default()
        };
        let delays: Vec<Duration> = settings.backoff().collect();
        assert_eq!(delays.len(), 8);
        assert!(delays.iter().all(|delay| *delay <= Duration::from_millis(3_000)));
        assert!(delays[0] <= Duration::from_millis(400));
        let polls: Vec<u64> = settings.poll_delays().take(6).map(|d| d.as_millis() as u64).collect();
        assert_eq!(polls, vec![1_000, 2_000, 4_000, 4_000, 4_000, 4_000]);
    }
}
