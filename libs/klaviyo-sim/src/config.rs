//! How a simulator instance behaves.

use std::time::Duration;

use secrecy::SecretString;

use crate::clock::Clock;
use crate::faults::RandomFaults;
use crate::ratelimit::RateLimitMode;

/// When the profiles of a bulk import are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BulkValidation {
    /// The whole request is refused with a 400 pointing at the first bad profile, as
    /// integrators report Klaviyo does (reference §2b).
    #[default]
    Strict,
    /// The job is accepted and bad profiles end up as import errors, the way failures
    /// found after acceptance surface; lets a client's import-error path be tested.
    Deferred,
}

/// Settings of one simulator instance.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The private key requests must carry (`Authorization: Klaviyo-API-Key <key>`).
    pub api_key: SecretString,
    /// Scopes of that key; `None` grants every scope.
    pub scopes: Option<Vec<String>>,
    /// Seed for ids and random faults.
    pub seed: u64,
    /// Rate-limit enforcement.
    pub rate_limits: RateLimitMode,
    /// Time source for windows and timestamps.
    pub clock: Clock,
    /// Delay added to every API request.
    pub latency: Duration,
    /// Faults at a rate.
    pub random_faults: RandomFaults,
    /// When bulk import profiles are checked.
    pub bulk_validation: BulkValidation,
    /// How long a bulk import job stays `queued` before it is processed.
    pub job_delay: Duration,
}

impl SimConfig {
    /// Returns a realistic configuration for `api_key`: limits on, no faults, system clock.
    pub fn new(api_key: impl Into<String>) -> Self {
        SimConfig {
            api_key: SecretString::from(api_key.into()),
            scopes: None,
            seed: 0x5EED,
            rate_limits: RateLimitMode::On,
            clock: Clock::System,
            latency: Duration::ZERO,
            random_faults: RandomFaults::default(),
            bulk_validation: BulkValidation::Strict,
            job_delay: Duration::ZERO,
        }
    }
}
