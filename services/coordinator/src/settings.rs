//! The `[coordinator]` table of the configuration file.

use std::net::SocketAddr;

use chrono_tz::Tz;
use serde::Deserialize;

use crate::clients::ServiceUrls;
use crate::executor::ExecSettings;
use crate::schedule::{ScheduleSpec, default_schedules};

/// Environment variable: the webhook's shared secret (or `_FILE`).
pub const ENV_WEBHOOK_SECRET: &str = "LEDGERLINK_WEBHOOK_SECRET";

/// Everything the coordinator reads from its table.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoordinatorSettings {
    /// The account's time zone: "today" of a run and the clock of schedules.
    pub time_zone: Tz,
    /// Where the extractor is.
    pub extractor_url: String,
    /// Where the scoring service is.
    pub scoring_url: String,
    /// Where the reminder service is.
    pub reminder_url: String,
    /// Where the Klaviyo gateway is.
    pub klaviyo_gateway_url: String,
    /// How runs are carried out.
    pub execution: ExecSettings,
    /// The schedules; the defaults when the table has none.
    pub schedules: Vec<ScheduleSpec>,
    /// Whether schedules run at all (the demo and tests start runs themselves).
    pub schedules_enabled: bool,
    /// Where the HTTP webhook listens; it is off unless a secret is configured too.
    pub webhook_listen: SocketAddr,
    /// Full and incremental runs at once (they contend for the same API limits).
    pub bulk_runs: usize,
    /// Customer and invoice runs at once, beside bulk runs, so a per-invoice run never
    /// waits behind a full run.
    pub targeted_runs: usize,
}

impl Default for CoordinatorSettings {
    fn default() -> Self {
        CoordinatorSettings {
            time_zone: chrono_tz::UTC,
            extractor_url: ServiceUrls::default().extractor_url,
            scoring_url: ServiceUrls::default().scoring_url,
            reminder_url: ServiceUrls::default().reminder_url,
            klaviyo_gateway_url: ServiceUrls::default().klaviyo_gateway_url,
            execution: ExecSettings::default(),
            schedules: default_schedules(),
            schedules_enabled: true,
            webhook_listen: SocketAddr::from(([127, 0, 0, 1], 8088)),
            bulk_runs: 1,
            targeted_runs: 4,
        }
    }
}

/// The table could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid [coordinator] configuration: {0}")]
pub struct SettingsError(pub String);

impl CoordinatorSettings {
    /// Returns where the other services are.
    pub fn service_urls(&self) -> ServiceUrls {
        ServiceUrls {
            extractor_url: self.extractor_url.clone(),
            scoring_url: self.scoring_url.clone(),
            reminder_url: self.reminder_url.clone(),
            klaviyo_gateway_url: self.klaviyo_gateway_url.clone(),
        }
    }

    /// Reads the table.
    pub fn from_table(table: &toml::Table) -> Result<CoordinatorSettings, SettingsError> {
        let settings: CoordinatorSettings = toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| SettingsError(e.message().to_owned()))?;
        if settings.bulk_runs == 0 || settings.targeted_runs == 0 {
            return Err(SettingsError(
                "bulk_runs and targeted_runs must be at least 1".to_owned(),
            ));
        }
        Ok(settings)
    }
}
