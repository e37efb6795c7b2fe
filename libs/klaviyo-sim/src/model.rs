//! What the simulator stores, as the handle hands it to tests: profiles, events,
//! metrics, lists, segments and bulk import jobs.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

/// A profile as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    /// Klaviyo's 26-character id.
    pub id: String,
    /// Lower-cased email, unique.
    pub email: Option<String>,
    /// E.164 phone number, unique.
    pub phone_number: Option<String>,
    /// The caller's id for the profile, unique.
    pub external_id: Option<String>,
    /// Every other standard attribute that is set (`first_name`, `organization`, `_kx`, ...).
    pub attributes: Map<String, Value>,
    /// The `location` members that are set.
    pub location: Map<String, Value>,
    /// Custom properties.
    pub properties: Map<String, Value>,
    /// When the profile was created.
    pub created: DateTime<Utc>,
    /// When the profile last changed.
    pub updated: DateTime<Utc>,
    /// Time of the profile's latest event.
    pub last_event_date: Option<DateTime<Utc>>,
}

/// An event as recorded (duplicates by `unique_id` are never stored).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Event id.
    pub id: String,
    /// Metric id.
    pub metric_id: String,
    /// Metric name.
    pub metric_name: String,
    /// The profile it was recorded on.
    pub profile_id: String,
    /// The `unique_id` sent, if any.
    pub unique_id: Option<String>,
    /// The dedupe key used: the `unique_id`, or the event time to the second.
    pub dedupe_key: String,
    /// Event time, truncated to the second.
    pub time: DateTime<Utc>,
    /// Monetary value.
    pub value: Option<f64>,
    /// ISO 4217 code of the value.
    pub value_currency: Option<String>,
    /// Event properties.
    pub properties: Map<String, Value>,
    /// Recorded without triggering flows.
    pub backfill: bool,
}

/// A metric, created on first use of its name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metric {
    /// Metric id.
    pub id: String,
    /// Metric name.
    pub name: String,
    /// First seen.
    pub created: DateTime<Utc>,
}

/// A static list and its members.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct List {
    /// List id.
    pub id: String,
    /// List name (not unique, as in Klaviyo).
    pub name: String,
    /// `single_opt_in` or `double_opt_in`.
    pub opt_in_process: String,
    /// Created.
    pub created: DateTime<Utc>,
    /// Last changed.
    pub updated: DateTime<Utc>,
    /// Member profile ids with the time each joined, in joining order.
    pub members: Vec<(String, DateTime<Utc>)>,
}

/// A segment with its definition stored as given.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    /// Segment id.
    pub id: String,
    /// Segment name.
    pub name: String,
    /// `{"condition_groups": [...]}` as sent.
    pub definition: Value,
    /// Active (not deactivated).
    pub is_active: bool,
    /// Starred.
    pub is_starred: bool,
    /// Created.
    pub created: DateTime<Utc>,
    /// Last changed; an update that changes nothing leaves it alone.
    pub updated: DateTime<Utc>,
}

/// Life cycle of a bulk profile import job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Accepted, not started.
    Queued,
    /// Being applied.
    Processing,
    /// Done; see the counts and import errors.
    Complete,
    /// Cancelled.
    Cancelled,
}

impl JobStatus {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Processing => "processing",
            JobStatus::Complete => "complete",
            JobStatus::Cancelled => "cancelled",
        }
    }
}

/// A profile of a bulk import that could not be applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportError {
    /// Error id.
    pub id: String,
    /// Machine code (`invalid`, `duplicate_profile`).
    pub code: String,
    /// Title.
    pub title: String,
    /// Explanation.
    pub detail: String,
    /// Pointer into the submitted profile.
    pub pointer: String,
    /// The profile resource as submitted.
    pub original_payload: Value,
}

/// A bulk profile import job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BulkImportJob {
    /// Job id.
    pub id: String,
    /// Where it is in its life cycle.
    pub status: JobStatus,
    /// Accepted.
    pub created_at: DateTime<Utc>,
    /// Processing started.
    pub started_at: Option<DateTime<Utc>>,
    /// Processing finished.
    pub completed_at: Option<DateTime<Utc>>,
    /// When the job's record goes away.
    pub expires_at: DateTime<Utc>,
    /// Profiles submitted.
    pub total_count: usize,
    /// Profiles applied.
    pub completed_count: usize,
    /// Profiles refused.
    pub failed_count: usize,
    /// Lists every applied profile joins.
    pub list_ids: Vec<String>,
    /// Ids of the profiles created or updated, in submission order.
    pub profile_ids: Vec<String>,
    /// One per refused profile.
    pub import_errors: Vec<ImportError>,
    #[serde(skip)]
    pub(crate) pending: Vec<Value>,
}

/// One request the server received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestRecord {
    /// operationId, or `unknown` for a path the simulator does not serve.
    pub operation: String,
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// Status answered; `None` when the connection was closed without an answer.
    pub status: Option<u16>,
}
