//! Cron schedules in the account's time zone, and what to do after downtime.
//!
//! Pure: the scheduler loop asks [`decide`] with the current time and the last
//! occurrence it fired, and gets back whether to fire now, skip a stale occurrence,
//! or wait until the next one.

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use croner::Cron;
use serde::Deserialize;

/// What a schedule starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduledKind {
    /// Every customer.
    Full,
    /// Customers changed since the last successful run's watermark.
    Incremental,
}

/// A schedule as written in the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// Unique name, used in run triggers (`schedule:<name>`) and to remember firings.
    pub name: String,
    /// A cron expression: minute hour day-of-month month day-of-week (optional leading seconds).
    pub cron: String,
    /// The kind of run.
    pub kind: ScheduledKind,
    /// For incremental runs: only customers whose current standing is one of these.
    #[serde(default)]
    pub standings: Vec<String>,
    /// How late a missed occurrence may still run after downtime, in minutes.
    #[serde(default = "default_misfire_grace_minutes")]
    pub misfire_grace_minutes: i64,
}

fn default_misfire_grace_minutes() -> i64 {
    12 * 60
}

/// The schedules a fresh installation runs: a daily full run, and an hourly
/// incremental run for the accounts collections watches most closely.
pub fn default_schedules() -> Vec<ScheduleSpec> {
    vec![
        ScheduleSpec {
            name: "daily-full".to_owned(),
            cron: "0 2 * * *".to_owned(),
            kind: ScheduledKind::Full,
            standings: Vec::new(),
            misfire_grace_minutes: default_misfire_grace_minutes(),
        },
        ScheduleSpec {
            name: "hourly-watch".to_owned(),
            cron: "15 * * * *".to_owned(),
            kind: ScheduledKind::Incremental,
            standings: vec!["payment_watch".to_owned(), "credit_hold".to_owned()],
            misfire_grace_minutes: 30,
        },
    ]
}

/// A schedule that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schedule {name:?}: {reason}")]
pub struct ScheduleError {
    /// The schedule's name.
    pub name: String,
    /// Why it was refused.
    pub reason: String,
}

/// A parsed, usable schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// What the configuration said.
    pub spec: ScheduleSpec,
    cron: Cron,
    time_zone: Tz,
}

/// What the scheduler should do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Start a run for this occurrence now.
    Fire(DateTime<Utc>),
    /// This occurrence was missed by more than the grace: record it as handled without
    /// running, then decide again.
    Skip(DateTime<Utc>),
    /// Nothing is due before this instant.
    Wait(DateTime<Utc>),
}

impl Schedule {
    /// Parses `spec` in `time_zone`.
    pub fn new(spec: ScheduleSpec, time_zone: Tz) -> Result<Schedule, ScheduleError> {
        let error = |reason: String| ScheduleError {
            name: spec.name.clone(),
            reason,
        };
        if spec.name.trim().is_empty() {
            return Err(error("a schedule needs a name".to_owned()));
        }
        if spec.misfire_grace_minutes < 0 {
            return Err(error("misfire_grace_minutes must not be negative".to_owned()));
        }
        if spec.kind == ScheduledKind::Full && !spec.standings.is_empty() {
            return Err(error("standings only narrow incremental runs".to_owned()));
        }
        let cron = Cron::from_str(&spec.cron).map_err(|e| error(format!("invalid cron {:?}: {e}", spec.cron)))?;
        Ok(Schedule { spec, cron, time_zone })
    }

    /// Returns the first occurrence strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.time_zone);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|next| next.with_timezone(&Utc))
    }

    /// Decides what to do at `now`, given the occurrence last handled (fired or
    /// skipped). A schedule never handled starts counting from `now`: installing
    /// ledgerlink does not replay the past.
    ///
    /// After downtime every missed occurrence but the latest is skipped, and the latest
    /// fires only while it is within the misfire grace: one catch-up run, not a burst.
    pub fn decide(&self, last_handled: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Decision {
        let Some(last) = last_handled else {
            return match self.next_after(now) {
                Some(next) => Decision::Wait(next),
                None => Decision::Wait(now + Duration::days(366)),
            };
        };
        let Some(first_due) = self.next_after(last) else {
            return Decision::Wait(now + Duration::days(366));
        };
        if first_due > now {
            return Decision::Wait(first_due);
        }
        // Walk to the latest occurrence not after now.
        let mut latest = first_due;
        while let Some(next) = self.next_after(latest) {
            if next > now {
                break;
            }
            latest = next;
        }
        if latest != first_due {
            return Decision::Skip(self.previous_before(latest).unwrap_or(first_due));
        }
        if now - latest <= Duration::minutes(self.spec.misfire_grace_minutes) {
            Decision::Fire(latest)
        } else {
            Decision::Skip(latest)
        }
    }

    fn previous_before(&self, occurrence: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = occurrence.with_timezone(&self.time_zone);
        self.cron
            .find_previous_occurrence(&local, false)
            .ok()
            .map(|previous| previous.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn daily(tz: Tz) -> Schedule {
        Schedule::new(default_schedules().remove(0), tz).unwrap()
    }

    #[test]
    fn occurrences_follow_the_configured_time_zone() {
        let schedule = daily(chrono_tz::America::New_York);
        // 02:00 in New York is 07:00 UTC in winter, 06:00 UTC in summer.
        assert_eq!(
            schedule.next_after(utc(2026, 11, 23, 0, 0)),
            Some(utc(2026, 11, 23, 7, 0))
        );
        assert_eq!(schedule.next_after(utc(2026, 7, 1, 0, 0)), Some(utc(2026, 7, 1, 6, 0)));
    }

    #[test]
    fn a_new_schedule_waits_for_its_next_occurrence() {
        let schedule = daily(chrono_tz::UTC);
        assert_eq!(
            schedule.decide(None, utc(2026, 11, 23, 9, 0)),
            Decision::Wait(utc(2026, 11, 24, 2, 0))
        );
    }

    #[test]
    fn due_occurrence_fires_once() {
        let schedule = daily(chrono_tz::UTC);
        let last = utc(2026, 11, 22, 2, 0);
        assert_eq!(
            schedule.decide(Some(last), utc(2026, 11, 23, 2, 0)),
            Decision::Fire(utc(2026, 11, 23, 2, 0))
        );
        assert_eq!(
            schedule.decide(Some(utc(2026, 11, 23, 2, 0)), utc(2026, 11, 23, 2, 1)),
            Decision::Wait(utc(2026, 11, 24, 2, 0))
        );
    }

    #[test]
    fn after_downtime_only_the_latest_missed_occurrence_runs_within_grace() {
        let schedule = daily(chrono_tz::UTC);
        let last = utc(2026, 11, 19, 2, 0);
        let now = utc(2026, 11, 23, 9, 0);
        // Three older occurrences are skipped one decision at a time, ending on the 22nd.
        let mut handled = last;
        let mut skipped = Vec::new();
        loop {
            match schedule.decide(Some(handled), now) {
                Decision::Skip(occurrence) => {
                    skipped.push(occurrence);
                    handled = occurrence;
                }
                Decision::Fire(occurrence) => {
                    assert_eq!(occurrence, utc(2026, 11, 23, 2, 0));
                    break;
                }
                Decision::Wait(next) => panic!("should fire, waits for {next}"),
            }
        }
        assert_eq!(skipped.last(), Some(&utc(2026, 11, 22, 2, 0)));
    }

    #[test]
    fn a_missed_occurrence_past_its_grace_is_skipped() {
        let schedule = daily(chrono_tz::UTC);
        let last = utc(2026, 11, 22, 2, 0);
        // 13 hours late: the default grace is 12.
        assert_eq!(
            schedule.decide(Some(last), utc(2026, 11, 23, 15, 0)),
            Decision::Skip(utc(2026, 11, 23, 2, 0))
        );
    }

    #[test]
    fn bad_schedules_are_refused_with_their_name() {
        let mut spec = default_schedules().remove(0);
        spec.cron = "61 * * * *".to_owned();
        let error = Schedule::new(spec, chrono_tz::UTC).unwrap_err();
        assert_eq!(error.name, "daily-full");
        let mut spec = default_schedules().remove(0);
        spec.standings = vec!["credit_hold".to_owned()];
        assert!(Schedule::new(spec, chrono_tz::UTC).is_err());
    }
}
