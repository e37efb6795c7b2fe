//! Klaviyo REST API client for ledgerlink's gateway: JSON:API bodies shaped after the
//! OpenAPI document of revision 2026-07-15, per-endpoint rate limiting shared across tasks,
//! retries with jittered backoff and `Retry-After`, bulk profile import jobs, events (single
//! and bulk, deduplicated by `unique_id`), list membership and segment definitions.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ledgerlink_klaviyo_client::Error> {
//! use ledgerlink_klaviyo_client::{KlaviyoClient, ProfileUpsert};
//! let client = KlaviyoClient::builder("pk_…".to_owned().into())
//!     .base_url("http://127.0.0.1:8080") // a simulator
//!     .build()?;
//! let profile = ProfileUpsert {
//!     email: Some("ap@example.com".into()),
//!     unset: vec!["on_time_rate_pct".into()],
//!     ..ProfileUpsert::default()
//! };
//! let report = client.import_profiles(&[profile], &[]).await?;
//! # let _ = report; Ok(()) }
//! ```
//!
//! Nothing in this crate subscribes, unsubscribes or suppresses a profile.

mod client;
mod endpoint;
mod error;
mod events;
mod lists;
mod profiles;
mod ratelimit;
mod segments;
mod settings;
mod stats;
mod telemetry;

pub use client::{JSON_API, KlaviyoClient, KlaviyoClientBuilder};
pub use endpoint::{Endpoint, EndpointLimits};
pub use error::{ApiError, Error, ErrorObject, ErrorSource};
pub use events::{
    EventFailure, EventInput, EventPlan, EventProfile, EventsReport, bulk_create_events_body, create_event_body,
    plan_event_batches,
};
pub use lists::{ListRef, MembershipReport, create_list_body, list_members_body};
pub use profiles::{
    BulkImportReport, ImportErrorRecord, ImportJob, JobStatus, ProfileFailure, ProfileJobPlan, ProfileKey,
    ProfileUpsert, UpsertOutcome, map_import_errors, plan_profile_jobs, profile_bulk_import_body, profile_import_body,
};
pub use ratelimit::RateLimiter;
pub use segments::{
    ConditionGroup, NumericOperator, SegmentAction, SegmentDefinition, SegmentOutcome, SegmentSpec,
    create_segment_body, custom_property, property_equals, property_is, property_number, same_definition,
    update_segment_body,
};
pub use settings::{
    ClientSettings, DEFAULT_BASE_URL, DEFAULT_REVISION, MAX_BULK_BODY_BYTES, MAX_EVENTS_PER_REQUEST,
    MAX_LIST_MEMBERS_PER_CALL, MAX_PROFILE_BYTES, MAX_PROFILES_PER_JOB,
};
pub use stats::{ClientStats, EndpointStats};
