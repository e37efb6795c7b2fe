//! Tunables of the client, with defaults suited to a Standard-tier account.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Timeouts, retries, backoff and concurrency of a [`crate::NetSuiteClient`].
///
/// Every field has a default, so a config file only names what it changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientSettings {
    /// TCP + TLS connect timeout, milliseconds.
    pub connect_timeout_ms: u64,
    /// Whole-request timeout (send, wait, read body), milliseconds. SuiteQL pages of 1000
    /// wide rows can take tens of seconds.
    pub request_timeout_ms: u64,
    /// Retries after the first attempt for 429, 5xx, timeouts and resets (and the single
    /// 401 retry).
    pub max_retries: u32,
    /// First backoff delay before jitter, milliseconds; it doubles per retry.
    pub backoff_initial_ms: u64,
    /// Cap of the backoff delay before jitter, milliseconds.
    pub backoff_max_ms: u64,
    /// Requests in flight at once from this client. NetSuite's concurrency limit is
    /// account-wide (5 on Standard tier) and shared with every other integration.
    pub max_concurrency: usize,
    /// SuiteQL page size, 1..=1000.
    pub page_size: u32,
    /// OAuth 2.0: renew the access token this many seconds before it expires.
    pub token_renew_before_secs: u64,
    /// OAuth 2.0: lifetime of the client assertion, seconds (NetSuite allows at most 3600).
    pub assertion_lifetime_secs: u64,
    /// `User-Agent` header.
    pub user_agent: String,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            connect_timeout_ms: 10_000,
            request_timeout_ms: 120_000,
            max_retries: 6,
            backoff_initial_ms: 500,
            backoff_max_ms: 30_000,
            max_concurrency: 4,
            page_size: 1000,
            token_renew_before_secs: 300,
            assertion_lifetime_secs: 300,
            user_agent: concat!("ledgerlink-netsuite-client/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// A setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid netsuite client setting {field}: {reason}")]
pub struct SettingsError {
    /// The offending field.
    pub field: &'static str,
    /// Why.
    pub reason: &'static str,
}

impl ClientSettings {
    /// Checks the settings before a client is built from them.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let fail = |field, reason| Err(SettingsError { field, reason });
        if self.connect_timeout_ms == 0 {
            return fail("connect_timeout_ms", "must be above zero");
        }
        if self.request_timeout_ms == 0 {
            return fail("request_timeout_ms", "must be above zero");
        }
        if self.max_concurrency == 0 {
            return fail("max_concurrency", "must be at least 1");
        }
        if !(1..=1000).contains(&self.page_size) {
            return fail("page_size", "must be between 1 and 1000");
        }
        if self.backoff_initial_ms == 0 {
            return fail("backoff_initial_ms", "must be above zero");
        }
        if self.backoff_max_ms < self.backoff_initial_ms {
            return fail("backoff_max_ms", "must not be below backoff_initial_ms");
        }
        if !(1..=3600).contains(&self.assertion_lifetime_secs) {
            return fail("assertion_lifetime_secs", "must be between 1 and 3600");
        }
        Ok(())
    }

    /// The connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    /// The whole-request timeout.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// The jittered exponential backoff delays, one per allowed retry.
    pub(crate) fn backoff(&self) -> impl Iterator<Item = Duration> + use<> {
        // tokio-retry's ExponentialBackoff yields base^n × factor, so base 2 with
        // factor = initial / 2 gives initial, 2 × initial, 4 × initial, …
        let factor = (self.backoff_initial_ms / 2).max(1);
        tokio_retry::strategy::ExponentialBackoff::from_millis(2)
            .factor(factor)
            .max_delay(Duration::from_millis(self.backoff_max_ms))
            .map(tokio_retry::strategy::jitter)
            .take(usize::try_from(self.max_retries).unwrap_or(usize::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_a_partial_file_keeps_the_other_defaults() {
        ClientSettings::default().validate().unwrap();
        let settings: ClientSettings = toml::from_str("max_concurrency = 2\npage_size = 500").unwrap();
        assert_eq!(settings.max_concurrency, 2);
        assert_eq!(settings.page_size, 500);
        assert_eq!(settings.max_retries, ClientSettings::default().max_retries);
        assert!(toml::from_str::<ClientSettings>("max_concurency = 2").is_err());
    }

    #[test]
    fn rejects_settings_that_cannot_work() {
        let bad = [
            ClientSettings {
                max_concurrency: 0,
                ..Default::default()
            },
            ClientSettings {
                page_size: 1001,
                ..Default::default()
            },
            ClientSettings {
                page_size: 0,
                ..Default::default()
            },
            ClientSettings {
                backoff_initial_ms: 100,
                backoff_max_ms: 50,
                ..Default::default()
            },
            ClientSettings {
                assertion_lifetime_secs: 3601,
                ..Default::default()
            },
            ClientSettings {
                request_timeout_ms: 0,
                ..Default::default()
            },
        ];
        for settings in bad {
            assert!(settings.validate().is_err(), "{settings:?}");
        }
    }

    #[test]
    fn backoff_is_bounded_by_retry_count_and_cap() {
        let settings = ClientSettings {
            max_retries: 10,
            backoff_initial_ms: 400,
            backoff_max_ms: 3_000,
            ..Default::default()
        };
        let delays: Vec<Duration> = settings.backoff().collect();
        assert_eq!(delays.len(), 10);
        assert!(delays.iter().all(|delay| *delay <= Duration::from_millis(3_000)));
        // Full jitter draws below the un-jittered value: 400 ms for the first retry.
        assert!(delays[0] <= Duration::from_millis(400));
    }
}
