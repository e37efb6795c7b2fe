//! A run's description, progress and report, as stored and as sent on the wire.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use ledgerlink_proto::convert::{date_to_pb, timestamp_to_pb};
use ledgerlink_proto::coordinator::v1 as pb;
use serde::{Deserialize, Serialize};

/// What a run covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// Every customer.
    Full,
    /// Customers changed since the last successful run's watermark.
    Incremental,
    /// Named customers.
    Customer,
    /// The customers of named invoices.
    Invoice,
}

impl RunKind {
    /// Returns the stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Full => "full",
            RunKind::Incremental => "incremental",
            RunKind::Customer => "customer",
            RunKind::Invoice => "invoice",
        }
    }

    /// Reads a stored name.
    pub fn parse(text: &str) -> Option<RunKind> {
        [RunKind::Full, RunKind::Incremental, RunKind::Customer, RunKind::Invoice]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }

    /// Returns the wire value.
    pub fn to_pb(self) -> pb::RunKind {
        match self {
            RunKind::Full => pb::RunKind::Full,
            RunKind::Incremental => pb::RunKind::Incremental,
            RunKind::Customer => pb::RunKind::Customer,
            RunKind::Invoice => pb::RunKind::Invoice,
        }
    }

    /// Reads a wire value.
    pub fn from_pb(kind: pb::RunKind) -> Option<RunKind> {
        match kind {
            pb::RunKind::Full => Some(RunKind::Full),
            pb::RunKind::Incremental => Some(RunKind::Incremental),
            pb::RunKind::Customer => Some(RunKind::Customer),
            pb::RunKind::Invoice => Some(RunKind::Invoice),
            pb::RunKind::Unspecified => None,
        }
    }
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Waiting for the leader to start it.
    Queued,
    /// Started; resumed from its checkpoint after a restart.
    Running,
    /// Finished; its watermark advanced (unless a dry run).
    Succeeded,
    /// Stopped by an error it could not get past.
    Failed,
    /// Stopped on request.
    Cancelled,
}

impl RunState {
    /// Returns the stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
        }
    }

    /// Reads a stored name.
    pub fn parse(text: &str) -> Option<RunState> {
        [
            RunState::Queued,
            RunState::Running,
            RunState::Succeeded,
            RunState::Failed,
            RunState::Cancelled,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
    }

    /// Returns true once the run can change no more.
    pub fn is_final(self) -> bool {
        matches!(self, RunState::Succeeded | RunState::Failed | RunState::Cancelled)
    }

    fn to_pb(self) -> pb::RunState {
        match self {
            RunState::Queued => pb::RunState::Queued,
            RunState::Running => pb::RunState::Running,
            RunState::Succeeded => pb::RunState::Succeeded,
            RunState::Failed => pb::RunState::Failed,
            RunState::Cancelled => pb::RunState::Cancelled,
        }
    }
}

/// The stage a run is in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Reading NetSuite.
    #[default]
    Extract,
    /// Scoring.
    Score,
    /// Writing Klaviyo profiles.
    Profiles,
    /// Planning reminders.
    Plan,
    /// Sending reminder events.
    Events,
    /// Confirming sent events in the ledger.
    Confirm,
    /// Completing history and the watermark.
    Finish,
}

impl Phase {
    fn to_pb(self) -> pb::RunPhase {
        match self {
            Phase::Extract => pb::RunPhase::Extract,
            Phase::Score => pb::RunPhase::Score,
            Phase::Profiles => pb::RunPhase::Profiles,
            Phase::Plan => pb::RunPhase::Plan,
            Phase::Events => pb::RunPhase::Events,
            Phase::Confirm => pb::RunPhase::Confirm,
            Phase::Finish => pb::RunPhase::Finish,
        }
    }
}

/// What a run was asked to cover beyond its kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Targets {
    /// Customer ids (customer runs).
    #[serde(default)]
    pub customer_ids: Vec<String>,
    /// Invoice ids (invoice runs).
    #[serde(default)]
    pub invoice_ids: Vec<String>,
    /// Standings an incremental run is narrowed to (scheduled watch runs).
    #[serde(default)]
    pub standings: Vec<String>,
}

/// How far a run got.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// The stage of the most recent batch.
    pub phase: Phase,
    /// Batches fully processed and checkpointed.
    pub batches_done: u64,
    /// Customers fully processed.
    pub records_done: u64,
    /// Customers expected, when known.
    pub records_total: u64,
    /// Customers per second so far.
    pub records_per_second: f64,
    /// Seconds left, when the total is known.
    pub eta_seconds: Option<u64>,
    /// Records set aside so far.
    pub rejects: u64,
}

/// What one customer would receive, in a dry run's report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Preview {
    /// The customer.
    pub customer_id: String,
    /// The properties that would be set, as a JSON object.
    pub set_properties_json: String,
    /// The properties that would be removed.
    pub unset_properties: Vec<String>,
    /// The keys and metrics of the events that would be sent.
    pub events: Vec<(String, String)>,
    /// Why the customer would not be synced, if so.
    pub skip_reason: String,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Records through each phase, and records refused there.
    pub phases: BTreeMap<Phase, (u64, u64)>,
    /// Profiles created.
    pub profiles_created: u64,
    /// Profiles updated.
    pub profiles_updated: u64,
    /// Profiles whose properties had not changed.
    pub profiles_unchanged: u64,
    /// Customers with no usable identity.
    pub profiles_skipped: u64,
    /// Profiles Klaviyo refused.
    pub profiles_failed: u64,
    /// Events sent, by metric name.
    pub events_by_kind: BTreeMap<String, u64>,
    /// Segment migrations recorded.
    pub migrations: u64,
    /// Requests made to NetSuite.
    pub netsuite_requests: u64,
    /// Requests made to Klaviyo.
    pub klaviyo_requests: u64,
    /// Wall time.
    pub duration_millis: u64,
    /// In a dry run, what each customer would receive.
    pub previews: Vec<Preview>,
}

impl Report {
    /// Adds `records` passing through `phase`, `rejected` of them refused.
    pub fn count(&mut self, phase: Phase, records: u64, rejected: u64) {
        let entry = self.phases.entry(phase).or_default();
        entry.0 += records;
        entry.1 += rejected;
    }
}

/// A stored run, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// Its id.
    pub run_id: String,
    /// What it covers.
    pub kind: RunKind,
    /// Where it stands.
    pub state: RunState,
    /// Compute only, write nothing.
    pub dry_run: bool,
    /// Who asked: `schedule:<name>`, `grpc`, `webhook`, `cli`.
    pub trigger: String,
    /// Its targets.
    pub targets: Targets,
    /// Its as-of date.
    pub as_of: NaiveDate,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// How far it got.
    pub progress: Progress,
    /// What it did, once finished (and while running, so far).
    pub report: Report,
    /// Why it failed.
    pub error: Option<String>,
}

impl RunRecord {
    /// Returns the wire form.
    pub fn to_pb(&self) -> pb::Run {
        let progress = &self.progress;
        let report = &self.report;
        pb::Run {
            run_id: self.run_id.clone(),
            kind: self.kind.to_pb() as i32,
            state: self.state.to_pb() as i32,
            dry_run: self.dry_run,
            customer_ids: self.targets.customer_ids.clone(),
            invoice_ids: self.targets.invoice_ids.clone(),
            as_of: Some(date_to_pb(self.as_of)),
            created_at: Some(timestamp_to_pb(self.created_at)),
            finished_at: self.finished_at.map(timestamp_to_pb),
            progress: Some(pb::RunProgress {
                phase: progress.phase.to_pb() as i32,
                batches_done: progress.batches_done,
                records_done: progress.records_done,
                records_total: progress.records_total,
                records_per_second: progress.records_per_second,
                eta_seconds: progress.eta_seconds,
                rejects: progress.rejects,
            }),
            report: Some(pb::RunReport {
                phases: report
                    .phases
                    .iter()
                    .map(|(phase, (records, rejected))| pb::PhaseCounts {
                        phase: phase.to_pb() as i32,
                        records: *records,
                        rejected: *rejected,
                    })
                    .collect(),
                profiles_created: report.profiles_created,
                profiles_updated: report.profiles_updated,
                profiles_unchanged: report.profiles_unchanged,
                profiles_skipped: report.profiles_skipped,
                profiles_failed: report.profiles_failed,
                events_by_kind: report.events_by_kind.clone().into_iter().collect(),
                migrations: report.migrations,
                netsuite_requests: report.netsuite_requests,
                klaviyo_requests: report.klaviyo_requests,
                duration_millis: report.duration_millis,
                previews: report
                    .previews
                    .iter()
                    .map(|preview| pb::ProfilePreview {
                        customer_id: preview.customer_id.clone(),
                        set_properties_json: preview.set_properties_json.clone(),
                        unset_properties: preview.unset_properties.clone(),
                        events: preview
                            .events
                            .iter()
                            .map(|(key, metric)| ledgerlink_proto::types::v1::ReminderEvent {
                                key: key.clone(),
                                metric: metric.clone(),
                                customer_id: preview.customer_id.clone(),
                                ..Default::default()
                            })
                            .collect(),
                        skip_reason: preview.skip_reason.clone(),
                    })
                    .collect(),
            }),
            error: self.error.clone().unwrap_or_default(),
            trigger: self.trigger.clone(),
        }
    }
}
