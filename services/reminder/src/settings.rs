//! The `[reminder]` table of the configuration file.

use chrono::Duration;
use ledgerlink_reminder_planner::PlannerConfig;

/// How long an unconfirmed reservation holds its key by default: long enough for a
/// batch to travel through the gateway, short enough that a crashed run's keys are
/// planned again the same day.
pub const DEFAULT_RESERVATION_TTL_SECS: i64 = 3600;

/// Everything the reminder service reads from its table.
#[derive(Debug, Clone)]
pub struct ReminderSettings {
    /// The planner's schedules, kinds, metric names, lateness and time zone.
    pub planner: PlannerConfig,
    /// How long an unconfirmed reservation holds its key.
    pub reservation_ttl: Duration,
}

/// The `[reminder]` table could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid [reminder] configuration: {0}")]
pub struct SettingsError(pub String);

/// Keys of the table that belong to the service rather than to the planner.
const SERVICE_KEYS: [&str; 1] = ["reservation_ttl_secs"];

impl ReminderSettings {
    /// Reads the table: the planner's keys (see the planner's README) plus
    /// `reservation_ttl_secs`.
    pub fn from_table(table: &toml::Table) -> Result<ReminderSettings, SettingsError> {
        let ttl_secs = match table.get("reservation_ttl_secs") {
            None => DEFAULT_RESERVATION_TTL_SECS,
            Some(value) => value
                .as_integer()
                .filter(|secs| *secs > 0)
                .ok_or_else(|| SettingsError("reservation_ttl_secs must be a positive integer".to_owned()))?,
        };
        let mut planner_table = table.clone();
        for key in SERVICE_KEYS {
            planner_table.remove(key);
        }
        let planner: PlannerConfig = toml::Value::Table(planner_table)
            .try_into()
            .map_err(|e: toml::de::Error| SettingsError(e.message().to_owned()))?;
        let planner = planner.validated().map_err(|e| SettingsError(e.to_string()))?;
        Ok(ReminderSettings {
            planner,
            reservation_ttl: Duration::seconds(ttl_secs),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_planner_keys_beside_service_keys() {
        let table: toml::Table = toml::from_str(
            "reservation_ttl_secs = 60\nmax_lateness_days = 5\n[schedules]\n\"Net 60\" = [-10, 0, 7, 14]\n",
        )
        .unwrap();
        let settings = ReminderSettings::from_table(&table).unwrap();
        assert_eq!(settings.reservation_ttl, Duration::seconds(60));
        assert_eq!(settings.planner.max_lateness_days, 5);
        assert_eq!(settings.planner.schedule_for(Some("Net 60")), [-10, 0, 7, 14]);
        assert_eq!(settings.planner.schedule_for(Some("Net 30")), [-7, 0, 7]);
    }

    #[test]
    fn refuses_typos_and_bad_values() {
        for text in ["max_lateness = 5", "reservation_ttl_secs = 0", "max_lateness_days = -1"] {
            let table: toml::Table = toml::from_str(text).unwrap();
            assert!(ReminderSettings::from_table(&table).is_err(), "{text}");
        }
    }
}
