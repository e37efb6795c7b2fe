//! Planner configuration: schedules per payment term, kinds, metric names, limits.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Everything a user may tune about reminders (`spec/reminders.md`, "Kinds").
///
/// Every field has a default, so an empty TOML table is a valid configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlannerConfig {
    /// Milestone offsets in days from the due date for terms without their own schedule.
    pub default_schedule: Vec<i64>,
    /// Milestone offsets per payment term name (exact match on `terms.name`).
    pub schedules: BTreeMap<String, Vec<i64>>,
    /// Which kinds of reminder are produced.
    pub kinds: KindSwitches,
    /// The Klaviyo metric name of each kind.
    pub metrics: MetricNames,
    /// Days past due whose first crossing fires an aging event.
    pub aging_thresholds: Vec<i64>,
    /// Length of one recurring balance window, in hours.
    pub recurring_interval_hours: u32,
    /// Most recurring balance reminders ever sent per order; `None` means no cap.
    pub recurring_cap: Option<u32>,
    /// How many days after its date a missed milestone may still be sent.
    pub max_lateness_days: i64,
    /// The NetSuite account's time zone, in which snapshot dates are calendar dates.
    pub time_zone: Tz,
}

impl Default for PlannerConfig {
    fn default() -> Self {
        PlannerConfig {
            default_schedule: vec![-7, 0, 7],
            schedules: BTreeMap::new(),
            kinds: KindSwitches::default(),
            metrics: MetricNames::default(),
            aging_thresholds: vec![30, 60, 90],
            recurring_interval_hours: 24,
            recurring_cap: None,
            max_lateness_days: 3,
            time_zone: Tz::UTC,
        }
    }
}

/// On/off switch per reminder kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KindSwitches {
    /// Due soon / due today / past due milestones.
    pub milestone: bool,
    /// Aging threshold crossings.
    pub aging: bool,
    /// Recurring outstanding order balance reminders.
    pub balance: bool,
    /// Account standing changes.
    pub standing: bool,
}

impl Default for KindSwitches {
    fn default() -> Self {
        KindSwitches {
            milestone: true,
            aging: true,
            balance: true,
            standing: true,
        }
    }
}

/// Klaviyo metric names, one per kind (three for milestones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricNames {
    /// Milestone with a negative offset.
    pub due_soon: String,
    /// Milestone with offset zero.
    pub due_today: String,
    /// Milestone with a positive offset.
    pub past_due: String,
    /// Aging threshold crossed.
    pub aging: String,
    /// Recurring order balance reminder.
    pub balance: String,
    /// Account standing changed.
    pub standing: String,
}

impl Default for MetricNames {
    fn default() -> Self {
        MetricNames {
            due_soon: "Invoice Due Soon".to_owned(),
            due_today: "Invoice Due Today".to_owned(),
            past_due: "Invoice Past Due".to_owned(),
            aging: "Invoice Aging Threshold Crossed".to_owned(),
            balance: "Order Outstanding Balance Reminder".to_owned(),
            standing: "Account Standing Changed".to_owned(),
        }
    }
}

/// A configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The recurring interval is zero.
    #[error("recurring_interval_hours must be at least 1")]
    ZeroInterval,
    /// A negative lateness would skip every milestone, even one on the run's own date.
    #[error("max_lateness_days must not be negative, got {0}")]
    NegativeLateness(i64),
    /// An aging threshold below zero can never be crossed "for the first time".
    #[error("aging threshold must not be negative, got {0}")]
    NegativeThreshold(i64),
    /// A metric name is empty.
    #[error("metric name for {0} is empty")]
    EmptyMetric(&'static str),
    /// An offset so large that the milestone date leaves the calendar.
    #[error("schedule offset {offset} for {schedule} is out of range")]
    OffsetOutOfRange {
        /// `default` or the term name.
        schedule: String,
        /// The offending offset.
        offset: i64,
    },
}

/// Offsets beyond this many days (about 27 years) are treated as configuration mistakes.
const MAX_OFFSET_DAYS: i64 = 10_000;

impl PlannerConfig {
    /// Checks the configuration and returns it with schedules and thresholds sorted and
    /// free of duplicates, the form the planner relies on.
    pub fn validated(mut self) -> Result<PlannerConfig, ConfigError> {
        if self.recurring_interval_hours == 0 {
            return Err(ConfigError::ZeroInterval);
        }
        if self.max_lateness_days < 0 {
            return Err(ConfigError::NegativeLateness(self.max_lateness_days));
        }
        normalize(&mut self.aging_thresholds);
        if let Some(&lowest) = self.aging_thresholds.first()
            && lowest < 0
        {
            return Err(ConfigError::NegativeThreshold(lowest));
        }
        normalize(&mut self.default_schedule);
        check_offsets("default", &self.default_schedule)?;
        for (term, offsets) in &mut self.schedules {
            normalize(offsets);
            check_offsets(term, offsets)?;
        }
        let metrics = [
            ("due_soon", &self.metrics.due_soon),
            ("due_today", &self.metrics.due_today),
            ("past_due", &self.metrics.past_due),
            ("aging", &self.metrics.aging),
            ("balance", &self.metrics.balance),
            ("standing", &self.metrics.standing),
        ];
        if let Some((kind, _)) = metrics.iter().find(|(_, name)| name.trim().is_empty()) {
            return Err(ConfigError::EmptyMetric(kind));
        }
        Ok(self)
    }

    /// Returns the milestone offsets for a payment term name (`None`: no terms).
    pub fn schedule_for(&self, term_name: Option<&str>) -> &[i64] {
        term_name
            .and_then(|name| self.schedules.get(name))
            .unwrap_or(&self.default_schedule)
    }
}

fn normalize(values: &mut Vec<i64>) {
    values.sort_unstable();
    values.dedup();
}

fn check_offsets(schedule: &str, offsets: &[i64]) -> Result<(), ConfigError> {
    match offsets.iter().find(|offset| offset.abs() > MAX_OFFSET_DAYS) {
        Some(&offset) => Err(ConfigError::OffsetOutOfRange {
            schedule: schedule.to_owned(),
            offset,
        }),
        None => Ok(()),
    }
}
