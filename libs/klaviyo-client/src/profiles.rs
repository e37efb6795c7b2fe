//! Profiles: the single upsert, bulk import jobs (split, submit, poll, errors mapped back
//! to input records) and identifier lookups with a cache.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use crate::client::{KlaviyoClient, filter_string};
use crate::endpoint::Endpoint;
use crate::error::{ApiError, Error};

/// One profile to create or update, keyed by its identifiers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProfileUpsert {
    /// Klaviyo's profile id, when known; usually left out so identifiers decide.
    pub id: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Phone number in E.164.
    pub phone_number: Option<String>,
    /// The external system's id (`netsuite:{customer id}`).
    pub external_id: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Company name.
    pub organization: Option<String>,
    /// Custom properties to set.
    pub properties: Map<String, Value>,
    /// Custom properties to remove (sent as `meta.patch_properties.unset`).
    pub unset: Vec<String>,
}

impl ProfileUpsert {
    /// Checks what Klaviyo would refuse: no identifier, a property both set and unset.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |reason: String| {
            Err(Error::InvalidInput {
                what: "profile",
                reason,
            })
        };
        let present = |value: &Option<String>| value.as_deref().is_some_and(|text| !text.trim().is_empty());
        if !(present(&self.email) || present(&self.phone_number) || present(&self.external_id) || present(&self.id)) {
            return invalid("needs an email, phone_number, external_id or id".to_owned());
        }
        for name in &self.unset {
            if name.trim().is_empty() {
                return invalid("an unset property name is empty".to_owned());
            }
            if self.properties.contains_key(name) {
                return invalid(format!("property {name:?} is both set and unset"));
            }
        }
        Ok(())
    }

    /// The identifiers this profile can be looked up by.
    pub fn keys(&self) -> Vec<ProfileKey> {
        let mut keys = Vec::new();
        if let Some(email) = self.email.as_deref().filter(|text| !text.is_empty()) {
            keys.push(ProfileKey::email(email));
        }
        if let Some(external_id) = self.external_id.as_deref().filter(|text| !text.is_empty()) {
            keys.push(ProfileKey::ExternalId(external_id.to_owned()));
        }
        if let Some(phone) = self.phone_number.as_deref().filter(|text| !text.is_empty()) {
            keys.push(ProfileKey::PhoneNumber(phone.to_owned()));
        }
        keys
    }

    /// The JSON:API `profile` resource used by `profile-import` and by bulk import items;
    /// for both, `meta` sits beside `attributes` (not inside it, unlike in events).
    pub fn resource(&self) -> Value {
        let mut attributes = Map::new();
        let fields = [
            ("email", &self.email),
            ("phone_number", &self.phone_number),
            ("external_id", &self.external_id),
            ("first_name", &self.first_name),
            ("last_name", &self.last_name),
            ("organization", &self.organization),
        ];
        for (name, value) in fields {
            if let Some(value) = value {
                attributes.insert(name.to_owned(), Value::String(value.clone()));
            }
        }
        if !self.properties.is_empty() {
            attributes.insert("properties".to_owned(), Value::Object(self.properties.clone()));
        }
        let mut resource = json!({ "type": "profile", "attributes": attributes });
        if let Some(id) = &self.id {
            resource["id"] = Value::String(id.clone());
        }
        if let Some(meta) = unset_meta(&self.unset) {
            resource["meta"] = meta;
        }
        resource
    }
}

/// `{"patch_properties": {"unset": [...]}}`, or `None` when nothing is unset.
pub(crate) fn unset_meta(unset: &[String]) -> Option<Value> {
    (!unset.is_empty()).then(|| json!({ "patch_properties": { "unset": unset } }))
}

/// The body of `POST /api/profile-import`.
pub fn profile_import_body(profile: &ProfileUpsert) -> Value {
    json!({ "data": profile.resource() })
}

/// The body of `POST /api/profile-bulk-import-jobs` for already-built profile resources.
pub fn profile_bulk_import_body(resources: Vec<Value>, list_ids: &[String]) -> Value {
    let mut data = json!({
        "type": "profile-bulk-import-job",
        "attributes": { "profiles": { "data": resources } },
    });
    if !list_ids.is_empty() {
        let lists: Vec<Value> = list_ids.iter().map(|id| json!({ "type": "list", "id": id })).collect();
        data["relationships"] = json!({ "lists": { "data": lists } });
    }
    json!({ "data": data })
}

/// An identifier a profile can be looked up by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProfileKey {
    /// Email, lower-cased (Klaviyo matches emails without regard to case).
    Email(String),
    /// External id, exact.
    ExternalId(String),
    /// Phone number in E.164, exact.
    PhoneNumber(String),
}

impl ProfileKey {
    /// An email key, normalised.
    pub fn email(email: &str) -> ProfileKey {
        ProfileKey::Email(email.trim().to_lowercase())
    }

    fn filter(&self) -> String {
        let (field, value) = match self {
            ProfileKey::Email(value) => ("email", value),
            ProfileKey::ExternalId(value) => ("external_id", value),
            ProfileKey::PhoneNumber(value) => ("phone_number", value),
        };
        format!("equals({field},{})", filter_string(value))
    }
}

/// The outcome of one upsert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertOutcome {
    /// Klaviyo's profile id.
    pub id: String,
    /// Whether Klaviyo created the profile (201) rather than updating one (200).
    pub created: bool,
    /// Set when a 409 `duplicate_profile` was resolved by writing to this existing profile.
    pub resolved_duplicate: Option<String>,
}

/// How the records of a bulk import are split into jobs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileJobPlan {
    /// Input indices per job, in input order.
    pub jobs: Vec<Vec<usize>>,
    /// Records refused before sending (invalid, or above the per-profile size cap).
    pub rejected: Vec<ProfileFailure>,
}

/// A profile that was not imported, tied back to its input record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileFailure {
    /// Index of the record in the input; `None` when Klaviyo's error could not be tied to one.
    pub index: Option<usize>,
    /// Klaviyo's error code, or `invalid_input` / `too_large` for refusals before sending.
    pub code: String,
    /// What was wrong.
    pub detail: String,
    /// Klaviyo's `source.pointer`, when given.
    pub pointer: Option<String>,
}

/// Status of a bulk import job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStatus {
    /// Waiting to run.
    Queued,
    /// Running.
    Processing,
    /// Finished (some profiles may still have failed).
    Complete,
    /// Cancelled; its profiles were not all imported.
    Cancelled,
    /// A status this client does not know.
    Other(String),
}

impl JobStatus {
    fn parse(text: &str) -> JobStatus {
        match text {
            "queued" => JobStatus::Queued,
            "processing" => JobStatus::Processing,
            "complete" => JobStatus::Complete,
            "cancelled" => JobStatus::Cancelled,
            other => JobStatus::Other(other.to_owned()),
        }
    }

    /// Whether the job will not change any more.
    pub fn is_finished(&self) -> bool {
        matches!(self, JobStatus::Complete | JobStatus::Cancelled)
    }
}

/// A bulk import job as last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportJob {
    /// Klaviyo's job id.
    pub id: String,
    /// Its status.
    pub status: JobStatus,
    /// Profiles in the job.
    pub total_count: u64,
    /// Profiles imported.
    pub completed_count: u64,
    /// Profiles that failed.
    pub failed_count: u64,
}

/// What a bulk import did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BulkImportReport {
    /// The jobs, finished, with the input indices each carried.
    pub jobs: Vec<(ImportJob, Vec<usize>)>,
    /// Every record that was not imported, refused before sending, by validation, or by the job.
    pub failures: Vec<ProfileFailure>,
}

impl BulkImportReport {
    /// Input indices that were sent in a complete job and not reported as failed.
    pub fn imported_indices(&self) -> Vec<usize> {
        let failed: std::collections::HashSet<usize> = self.failures.iter().filter_map(|f| f.index).collect();
        let mut indices: Vec<usize> = self
            .jobs
            .iter()
            .filter(|(job, _)| job.status == JobStatus::Complete)
            .flat_map(|(_, indices)| indices.iter().copied())
            .filter(|index| !failed.contains(index))
            .collect();
        indices.sort_unstable();
        indices
    }
}

/// Splits `profiles` into jobs of at most `max_profiles` profiles and `max_body_bytes`
/// bytes of serialized request body; a profile above `max_profile_bytes` or invalid is
/// rejected, not sent.
pub fn plan_profile_jobs(
    profiles: &[ProfileUpsert],
    list_ids: &[String],
    max_profiles: usize,
    max_body_bytes: usize,
    max_profile_bytes: usize,
) -> ProfileJobPlan {
    let envelope = serialized_len(&profile_bulk_import_body(Vec::new(), list_ids));
    let mut plan = ProfileJobPlan::default();
    let mut current: Vec<usize> = Vec::new();
    let mut current_bytes = envelope;
    for (index, profile) in profiles.iter().enumerate() {
        if let Err(error) = profile.validate() {
            plan.rejected.push(ProfileFailure {
                index: Some(index),
                code: "invalid_input".to_owned(),
                detail: error.to_string(),
                pointer: None,
            });
            continue;
        }
        let size = serialized_len(&profile.resource());
        if size > max_profile_bytes || envelope + size > max_body_bytes {
            plan.rejected.push(ProfileFailure {
                index: Some(index),
                code: "too_large".to_owned(),
                detail: format!("profile is {size} bytes, above the {max_profile_bytes}-byte cap"),
                pointer: None,
            });
            continue;
        }
        let separator = usize::from(!current.is_empty());
        if !current.is_empty() && (current.len() >= max_profiles || current_bytes + separator + size > max_body_bytes) {
            plan.jobs.push(std::mem::take(&mut current));
            current_bytes = envelope;
        }
        current_bytes += usize::from(!current.is_empty()) + size;
        current.push(index);
    }
    if !current.is_empty() {
        plan.jobs.push(current);
    }
    plan
}

pub(crate) fn serialized_len(value: &Value) -> usize {
    serde_json::to_vec(value).map(|bytes| bytes.len()).unwrap_or(usize::MAX)
}

/// The record index a bulk pointer such as `/data/attributes/profiles/data/3/attributes/email` names.
fn pointer_index(pointer: &str, marker: &str) -> Option<usize> {
    let rest = &pointer[pointer.find(marker)? + marker.len()..];
    rest.split('/').next()?.parse().ok()
}

const PROFILES_POINTER: &str = "/profiles/data/";

impl KlaviyoClient {
    /// Creates or updates one profile (`POST /api/profile-import`).
    ///
    /// A stale `id` (the profile was merged away, 404) is dropped and the upsert retried on
    /// the identifiers. A 409 `duplicate_profile` is resolved by writing to the profile
    /// Klaviyo names in `meta.duplicate_profile_id`, leaving out the phone number, the
    /// identifier that usually collides; a second conflict is returned as
    /// [`Error::DuplicateProfile`].
    pub async fn upsert_profile(&self, profile: &ProfileUpsert) -> Result<UpsertOutcome, Error> {
        profile.validate()?;
        let first = self.profile_import(profile).await;
        let outcome = match first {
            Err(Error::Api { error, .. }) if error.status == 404 && profile.id.is_some() => {
                let without_id = ProfileUpsert {
                    id: None,
                    ..profile.clone()
                };
                self.profile_import(&without_id).await?
            }
            Err(Error::Api { error, .. }) if error.status == 409 => {
                let Some(duplicate) = error.duplicate_profile_id().map(str::to_owned) else {
                    return Err(Error::Api {
                        endpoint: Endpoint::CreateOrUpdateProfile,
                        error,
                    });
                };
                tracing::info!("klaviyo reported a duplicate profile, writing to the existing one");
                let retarget = ProfileUpsert {
                    id: Some(duplicate.clone()),
                    phone_number: None,
                    ..profile.clone()
                };
                match self.profile_import(&retarget).await {
                    Ok(outcome) => UpsertOutcome {
                        resolved_duplicate: Some(duplicate),
                        ..outcome
                    },
                    Err(Error::Api { error, .. }) if error.status == 409 || error.status == 404 => {
                        return Err(Error::DuplicateProfile {
                            duplicate_profile_id: duplicate,
                            error,
                        });
                    }
                    Err(other) => return Err(other),
                }
            }
            other => other?,
        };
        self.remember_profile_id(&profile.keys(), &outcome.id);
        Ok(outcome)
    }

    async fn profile_import(&self, profile: &ProfileUpsert) -> Result<UpsertOutcome, Error> {
        let endpoint = Endpoint::CreateOrUpdateProfile;
        let answer = self
            .send(
                endpoint,
                "/api/profile-import",
                &[],
                Some(&profile_import_body(profile)),
            )
            .await?;
        let document = answer.json(endpoint)?;
        let id = resource_id(&document, endpoint)?;
        Ok(UpsertOutcome {
            id,
            created: answer.status == 201,
            resolved_duplicate: None,
        })
    }

    /// Imports `profiles` through bulk import jobs, adding them to `list_ids` as well:
    /// splits by count and body size, submits every job, polls each until it finishes and
    /// maps Klaviyo's per-profile errors back to input indices.
    ///
    /// A job refused as a whole (400, one bad profile) has the profiles its error pointers
    /// name removed and is submitted once more. Errors that no record explains
    /// (credentials, an outage after retries) are returned as `Err`.
    pub async fn import_profiles(
        &self,
        profiles: &[ProfileUpsert],
        list_ids: &[String],
    ) -> Result<BulkImportReport, Error> {
        let settings = &self.inner.settings;
        let plan = plan_profile_jobs(
            profiles,
            list_ids,
            settings.max_profiles_per_job,
            settings.max_job_bytes,
            settings.max_profile_bytes,
        );
        let mut report = BulkImportReport {
            jobs: Vec::new(),
            failures: plan.rejected,
        };
        let mut submitted = Vec::new();
        for indices in plan.jobs {
            if let Some((job_id, indices)) = self
                .submit_import_job(profiles, indices, list_ids, &mut report.failures)
                .await?
            {
                submitted.push((job_id, indices));
            }
        }
        for (job_id, indices) in submitted {
            let job = self.wait_for_import_job(&job_id).await?;
            if job.failed_count > 0 || job.status != JobStatus::Complete {
                let errors = self.import_job_errors(&job.id).await?;
                report.failures.extend(map_import_errors(profiles, &indices, errors));
            }
            report.jobs.push((job, indices));
        }
        tracing::info!(
            profiles = profiles.len(),
            jobs = report.jobs.len(),
            failures = report.failures.len(),
            "klaviyo profile import finished"
        );
        Ok(report)
    }

    /// Submits one job; on a whole-job 400, drops the profiles the error pointers name and
    /// tries once more. Returns the job id and the indices it carries, or `None` when
    /// nothing was left to send.
    async fn submit_import_job(
        &self,
        profiles: &[ProfileUpsert],
        mut indices: Vec<usize>,
        list_ids: &[String],
        failures: &mut Vec<ProfileFailure>,
    ) -> Result<Option<(String, Vec<usize>)>, Error> {
        for round in 0..2 {
            match self.create_import_job(profiles, &indices, list_ids).await {
                Ok(job_id) => return Ok(Some((job_id, indices))),
                Err(Error::Api { error, .. }) if matches!(error.status, 400 | 413 | 422) => {
                    let offenders = offending_positions(&error, indices.len());
                    if offenders.is_empty() || round == 1 {
                        tracing::warn!(
                            profiles = indices.len(),
                            status = error.status,
                            "klaviyo refused a whole import job"
                        );
                        failures.extend(indices.iter().map(|index| failure_from(Some(*index), &error, None)));
                        return Ok(None);
                    }
                    let mut kept = Vec::with_capacity(indices.len());
                    for (position, index) in indices.iter().enumerate() {
                        match offenders.get(&position) {
                            Some(object) => failures.push(ProfileFailure {
                                index: Some(*index),
                                code: object.0.clone(),
                                detail: object.1.clone(),
                                pointer: object.2.clone(),
                            }),
                            None => kept.push(*index),
                        }
                    }
                    tracing::info!(
                        removed = offenders.len(),
                        kept = kept.len(),
                        "resubmitting klaviyo import job without refused profiles"
                    );
                    if kept.is_empty() {
                        return Ok(None);
                    }
                    indices = kept;
                }
                Err(other) => return Err(other),
            }
        }
        Ok(None)
    }

    /// Creates one bulk import job from the given input records and returns its id.
    pub async fn create_import_job(
        &self,
        profiles: &[ProfileUpsert],
        indices: &[usize],
        list_ids: &[String],
    ) -> Result<String, Error> {
        let endpoint = Endpoint::BulkImportProfiles;
        let resources = indices.iter().map(|index| profiles[*index].resource()).collect();
        let body = profile_bulk_import_body(resources, list_ids);
        let answer = self
            .send(endpoint, "/api/profile-bulk-import-jobs", &[], Some(&body))
            .await?;
        resource_id(&answer.json(endpoint)?, endpoint)
    }

    /// Reads a bulk import job's status.
    pub async fn import_job(&self, job_id: &str) -> Result<ImportJob, Error> {
        let endpoint = Endpoint::GetBulkImportProfilesJob;
        let path = format!("/api/profile-bulk-import-jobs/{}", path_segment(job_id)?);
        let document = self.send(endpoint, &path, &[], None).await?.json(endpoint)?;
        let attributes = document.pointer("/data/attributes").ok_or_else(|| Error::Decode {
            endpoint,
            reason: "no data.attributes".to_owned(),
        })?;
        let count = |name: &str| attributes.get(name).and_then(Value::as_u64).unwrap_or(0);
        let status = attributes
            .get("status")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Decode {
                endpoint,
                reason: "no status".to_owned(),
            })?;
        Ok(ImportJob {
            id: job_id.to_owned(),
            status: JobStatus::parse(status),
            total_count: count("total_count"),
            completed_count: count("completed_count"),
            failed_count: count("failed_count"),
        })
    }

    /// Polls a job with growing delays until it is complete or cancelled.
    pub async fn wait_for_import_job(&self, job_id: &str) -> Result<ImportJob, Error> {
        let started = Instant::now();
        let timeout = Duration::from_secs(self.inner.settings.poll_timeout_secs);
        let mut delays = self.inner.settings.poll_delays();
        loop {
            let job = self.import_job(job_id).await?;
            if job.status.is_finished() {
                return Ok(job);
            }
            let waited = started.elapsed();
            if waited >= timeout {
                let status = format!("{:?}", job.status).to_lowercase();
                return Err(Error::JobTimeout {
                    job_id: job_id.to_owned(),
                    status,
                    waited,
                });
            }
            let delay = delays.next().unwrap_or(Duration::from_secs(1));
            tokio::time::sleep(delay.min(timeout - waited)).await;
        }
    }

    /// Every import error of a job (all pages).
    pub async fn import_job_errors(&self, job_id: &str) -> Result<Vec<ImportErrorRecord>, Error> {
        let endpoint = Endpoint::GetErrorsForBulkImportProfilesJob;
        let path = format!("/api/profile-bulk-import-jobs/{}/import-errors", path_segment(job_id)?);
        let mut records = Vec::new();
        for item in self.all_pages(endpoint, &path).await? {
            let attributes = item.get("attributes").cloned().unwrap_or(Value::Null);
            let text = |name: &str| {
                attributes
                    .get(name)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            records.push(ImportErrorRecord {
                code: text("code"),
                title: text("title"),
                detail: text("detail"),
                pointer: attributes
                    .pointer("/source/pointer")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                original_payload: attributes.get("original_payload").cloned().filter(|v| !v.is_null()),
            });
        }
        Ok(records)
    }

    /// The profile id for `key`, from the cache or else looked up (`GET /api/profiles`).
    pub async fn find_profile_id(&self, key: &ProfileKey) -> Result<Option<String>, Error> {
        if let Some(id) = self.cached_profile_id(key) {
            return Ok(Some(id));
        }
        self.refresh_profile_id(key).await
    }

    /// Looks `key` up again, bypassing the cache (after a merge made a cached id stale).
    pub async fn refresh_profile_id(&self, key: &ProfileKey) -> Result<Option<String>, Error> {
        self.forget_profile_id(key);
        let endpoint = Endpoint::GetProfiles;
        let query = [
            ("filter", key.filter()),
            ("fields[profile]", "email,external_id,phone_number".to_owned()),
            ("page[size]", "1".to_owned()),
        ];
        let document = self
            .send(endpoint, "/api/profiles", &query, None)
            .await?
            .json(endpoint)?;
        let id = document
            .pointer("/data/0/id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .map(str::to_owned);
        if let Some(id) = &id {
            self.remember_profile_id(std::slice::from_ref(key), id);
        }
        Ok(id)
    }

    /// Drops `key` from the cache.
    pub fn forget_profile_id(&self, key: &ProfileKey) {
        self.inner
            .profile_ids
            .lock()
            .expect("profile cache lock poisoned")
            .remove(key);
    }

    fn cached_profile_id(&self, key: &ProfileKey) -> Option<String> {
        self.inner
            .profile_ids
            .lock()
            .expect("profile cache lock poisoned")
            .get(key)
            .cloned()
    }

    pub(crate) fn remember_profile_id(&self, keys: &[ProfileKey], id: &str) {
        let mut cache = self.inner.profile_ids.lock().expect("profile cache lock poisoned");
        for key in keys {
            cache.insert(key.clone(), id.to_owned());
        }
    }
}

/// One entry of a job's `import-errors`.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportErrorRecord {
    /// Klaviyo's code.
    pub code: String,
    /// Summary.
    pub title: String,
    /// Explanation.
    pub detail: String,
    /// Pointer into the job's request body, when given.
    pub pointer: Option<String>,
    /// The profile as submitted, when Klaviyo echoes it.
    pub original_payload: Option<Value>,
}

/// Ties import errors to input records: by the pointer's position in the job, else by the
/// echoed payload's email, external_id or phone number.
pub fn map_import_errors(
    profiles: &[ProfileUpsert],
    job_indices: &[usize],
    errors: Vec<ImportErrorRecord>,
) -> Vec<ProfileFailure> {
    let mut by_key: HashMap<ProfileKey, usize> = HashMap::new();
    for index in job_indices {
        for key in profiles[*index].keys() {
            by_key.entry(key).or_insert(*index);
        }
    }
    errors
        .into_iter()
        .map(|error| {
            let by_pointer = error
                .pointer
                .as_deref()
                .and_then(|pointer| pointer_index(pointer, PROFILES_POINTER))
                .and_then(|position| job_indices.get(position).copied());
            let by_payload = || {
                let payload = error.original_payload.as_ref()?;
                let field = |name: &str| {
                    [
                        format!("/attributes/{name}"),
                        format!("/{name}"),
                        format!("/data/attributes/{name}"),
                    ]
                    .iter()
                    .find_map(|pointer| payload.pointer(pointer).and_then(Value::as_str).map(str::to_owned))
                };
                let keys = [
                    field("email").map(|email| ProfileKey::email(&email)),
                    field("external_id").map(ProfileKey::ExternalId),
                    field("phone_number").map(ProfileKey::PhoneNumber),
                ];
                keys.into_iter().flatten().find_map(|key| by_key.get(&key).copied())
            };
            let detail = if error.detail.is_empty() {
                error.title
            } else {
                error.detail
            };
            ProfileFailure {
                index: by_pointer.or_else(by_payload),
                code: error.code,
                detail,
                pointer: error.pointer,
            }
        })
        .collect()
}

/// Positions in the job (0-based) that a whole-job error names, with code, detail, pointer.
fn offending_positions(error: &ApiError, len: usize) -> HashMap<usize, (String, String, Option<String>)> {
    let mut positions = HashMap::new();
    for object in &error.errors {
        if let Some(position) = object
            .pointer()
            .and_then(|pointer| pointer_index(pointer, PROFILES_POINTER))
            && position < len
        {
            let detail = if object.detail.is_empty() {
                object.title.clone()
            } else {
                object.detail.clone()
            };
            positions
                .entry(position)
                .or_insert((object.code.clone(), detail, object.pointer().map(str::to_owned)));
        }
    }
    positions
}

fn failure_from(index: Option<usize>, error: &ApiError, pointer: Option<String>) -> ProfileFailure {
    let first = error.first();
    ProfileFailure {
        index,
        code: first
            .map(|object| object.code.clone())
            .filter(|code| !code.is_empty())
            .unwrap_or_else(|| format!("http_{}", error.status)),
        detail: error.to_string(),
        pointer: pointer.or_else(|| first.and_then(|object| object.pointer().map(str::to_owned))),
    }
}

/// `data.id` of a JSON:API document, which must be present and non-empty.
pub(crate) fn resource_id(document: &Value, endpoint: Endpoint) -> Result<String, Error> {
    document
        .pointer("/data/id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| Error::Decode {
            endpoint,
            reason: "no data.id in the answer".to_owned(),
        })
}

/// An id placed in a path; Klaviyo ids are URL-safe, anything else is refused.
pub(crate) fn path_segment(id: &str) -> Result<&str, Error> {
    if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        Ok(id)
    } else {
        Err(Error::InvalidInput {
            what: "id",
            reason: format!("{id:?} is not a klaviyo id"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(n: usize, padding: usize) -> ProfileUpsert {
        let mut properties = Map::new();
        properties.insert("pad".to_owned(), Value::String("x".repeat(padding)));
        ProfileUpsert {
            email: Some(format!("p{n}@example.com")),
            properties,
            ..ProfileUpsert::default()
        }
    }

    #[test]
    fn plan_splits_by_count() {
        let profiles: Vec<ProfileUpsert> = (0..25).map(|n| profile(n, 1)).collect();
        let plan = plan_profile_jobs(&profiles, &[], 10, 5_000_000, 100_000);
        let sizes: Vec<usize> = plan.jobs.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![10, 10, 5]);
    }

    #[test]
    fn plan_splits_by_body_size_and_each_body_fits() {
        let profiles: Vec<ProfileUpsert> = (0..40).map(|n| profile(n, 900)).collect();
        let max = 10_000;
        let plan = plan_profile_jobs(&profiles, &["L1".to_owned()], 10_000, max, 5_000);
        assert!(plan.jobs.len() > 1);
        for job in &plan.jobs {
            let resources = job.iter().map(|index| profiles[*index].resource()).collect();
            let body = profile_bulk_import_body(resources, &["L1".to_owned()]);
            assert!(serialized_len(&body) <= max);
            // Minimal: one more profile would not have fitted.
            if let Some(next) = job.last().map(|last| last + 1).filter(|next| *next < profiles.len()) {
                let mut more: Vec<Value> = job.iter().map(|index| profiles[*index].resource()).collect();
                more.push(profiles[next].resource());
                assert!(serialized_len(&profile_bulk_import_body(more, &["L1".to_owned()])) > max);
            }
        }
        let all: Vec<usize> = plan.jobs.concat();
        assert_eq!(all, (0..40).collect::<Vec<_>>());
    }

    #[test]
    fn plan_rejects_invalid_and_oversized_profiles_without_failing_the_rest() {
        let profiles = vec![
            profile(0, 1),
            ProfileUpsert::default(),
            profile(2, 200_000),
            profile(3, 1),
        ];
        let plan = plan_profile_jobs(&profiles, &[], 10_000, 5_000_000, 100_000);
        assert_eq!(plan.jobs, vec![vec![0, 3]]);
        let rejected: Vec<(Option<usize>, &str)> = plan.rejected.iter().map(|f| (f.index, f.code.as_str())).collect();
        assert_eq!(rejected, vec![(Some(1), "invalid_input"), (Some(2), "too_large")]);
    }

    #[test]
    fn unset_goes_to_resource_meta() {
        let upsert = ProfileUpsert {
            external_id: Some("netsuite:1".to_owned()),
            unset: vec!["on_time_rate_pct".to_owned()],
            ..ProfileUpsert::default()
        };
        let resource = upsert.resource();
        assert_eq!(
            resource["meta"]["patch_properties"]["unset"],
            json!(["on_time_rate_pct"])
        );
        assert!(resource["attributes"].get("meta").is_none());
    }

    #[test]
    fn set_and_unset_of_one_property_is_refused() {
        let mut upsert = profile(1, 1);
        upsert.unset = vec!["pad".to_owned()];
        assert!(upsert.validate().is_err());
    }

    #[test]
    fn import_errors_map_by_pointer_then_payload() {
        let profiles: Vec<ProfileUpsert> = (0..5).map(|n| profile(n, 1)).collect();
        let job = vec![1, 3, 4];
        let errors = vec![
            ImportErrorRecord {
                code: "invalid".into(),
                title: "t".into(),
                detail: "bad phone".into(),
                pointer: Some("/data/attributes/profiles/data/2/attributes/phone_number".into()),
                original_payload: None,
            },
            ImportErrorRecord {
                code: "invalid".into(),
                title: "t".into(),
                detail: "bad".into(),
                pointer: None,
                original_payload: Some(json!({"type": "profile", "attributes": {"email": "P3@example.com"}})),
            },
            ImportErrorRecord {
                code: "x".into(),
                title: "t".into(),
                detail: String::new(),
                pointer: None,
                original_payload: None,
            },
        ];
        let failures = map_import_errors(&profiles, &job, errors);
        let indices: Vec<Option<usize>> = failures.iter().map(|f| f.index).collect();
        assert_eq!(indices, vec![Some(4), Some(3), None]);
        assert_eq!(failures[2].detail, "t");
    }
}
