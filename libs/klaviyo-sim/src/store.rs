//! The simulator's account: profiles with unique identifiers, events with dedupe,
//! metrics, lists, segments and bulk jobs. Pure state transitions; no I/O.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::ids::Rng;
use crate::model::{BulkImportJob, Event, ImportError, JobStatus, List, Metric, Profile, Segment};

/// Standard profile attributes other than the three identifiers.
pub(crate) const PLAIN_ATTRIBUTES: &[&str] = &[
    "first_name",
    "last_name",
    "organization",
    "locale",
    "title",
    "image",
    "_kx",
];
const IDENTIFIERS: &[&str] = &["email", "phone_number", "external_id"];

/// How identity resolution treats an `id` whose identifiers belong to someone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `POST /api/profiles`: any existing identifier is a 409.
    CreateOnly,
    /// `POST /api/profile-import` and bulk import: create or update.
    Upsert,
    /// `PATCH /api/profiles/{id}`.
    Patch,
    /// The profile inside an event: never refuses; conflicting identifiers are not moved.
    Event,
}

/// Result of applying one profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Applied {
    pub(crate) id: String,
    pub(crate) created: bool,
}

#[derive(Debug)]
pub(crate) struct Store {
    pub(crate) rng: Rng,
    pub(crate) profiles: BTreeMap<String, Profile>,
    by_identifier: HashMap<(&'static str, String), String>,
    pub(crate) events: Vec<Event>,
    event_keys: HashSet<(String, String, String)>,
    pub(crate) duplicate_events: u64,
    pub(crate) metrics: Vec<Metric>,
    pub(crate) lists: Vec<List>,
    pub(crate) segments: Vec<Segment>,
    pub(crate) jobs: Vec<BulkImportJob>,
}

impl Store {
    pub(crate) fn new(seed: u64) -> Self {
        Store {
            rng: Rng::new(seed),
            profiles: BTreeMap::new(),
            by_identifier: HashMap::new(),
            events: Vec::new(),
            event_keys: HashSet::new(),
            duplicate_events: 0,
            metrics: Vec::new(),
            lists: Vec::new(),
            segments: Vec::new(),
            jobs: Vec::new(),
        }
    }

    pub(crate) fn profile_by(&self, kind: &str, value: &str) -> Option<&Profile> {
        let kind = IDENTIFIERS.iter().find(|k| **k == kind)?;
        let id = self.by_identifier.get(&(*kind, normalize(kind, value)))?;
        self.profiles.get(id)
    }

    /// Applies one profile resource object (`{type, id?, attributes, meta?}`) with the
    /// rules of `mode`; `pointer` prefixes error pointers (`/data` for a single profile).
    pub(crate) fn apply_profile(
        &mut self,
        resource: &Value,
        mode: Mode,
        path_id: Option<&str>,
        pointer: &str,
        now: DateTime<Utc>,
    ) -> Result<Applied, ApiError> {
        let empty = Map::new();
        let attrs = resource.get("attributes").and_then(Value::as_object).unwrap_or(&empty);
        validate_profile_attributes(attrs, &format!("{pointer}/attributes"))?;
        let given_id = path_id.or_else(|| resource.get("id").and_then(Value::as_str));

        let mut matches: Vec<(&'static str, String)> = Vec::new();
        for kind in IDENTIFIERS {
            if let Some(value) = attrs.get(*kind).and_then(Value::as_str)
                && let Some(owner) = self.by_identifier.get(&(*kind, normalize(kind, value)))
            {
                matches.push((kind, owner.clone()));
            }
        }

        let target = match (mode, given_id) {
            (Mode::CreateOnly, _) => {
                if let Some((_, owner)) = matches.first() {
                    return Err(ApiError::duplicate_profile(owner));
                }
                None
            }
            (_, Some(id)) => {
                if !self.profiles.contains_key(id) {
                    return Err(ApiError::not_found(format!("A profile with id {id} does not exist.")));
                }
                if let Some((_, other)) = matches.iter().find(|(_, owner)| owner != id) {
                    match mode {
                        // Klaviyo answers an `id` plus another profile's identifier on
                        // profile-import with 404, not 409 (reference §2c).
                        Mode::Upsert => {
                            return Err(ApiError::not_found(format!(
                                "A profile with id {id} and the given identifiers does not exist."
                            )));
                        }
                        Mode::Patch => return Err(ApiError::duplicate_profile(other)),
                        _ => {}
                    }
                }
                Some(id.to_owned())
            }
            (_, None) => {
                let mut owners: Vec<&String> = Vec::new();
                for (_, owner) in &matches {
                    if !owners.contains(&owner) {
                        owners.push(owner);
                    }
                }
                if owners.len() > 1 && mode != Mode::Event {
                    return Err(ApiError::duplicate_profile(owners[1]));
                }
                owners.first().map(|s| (*s).clone())
            }
        };

        if target.is_none() && !IDENTIFIERS.iter().any(|k| attrs.get(*k).is_some_and(|v| v.is_string())) {
            return Err(ApiError::invalid(
                format!("{pointer}/attributes"),
                "A profile requires at least one of email, phone_number, or external_id.",
            ));
        }

        let (id, created) = match target {
            Some(id) => (id, false),
            None => {
                let id = self.rng.ulid(now.timestamp_millis());
                self.profiles.insert(
                    id.clone(),
                    Profile {
                        id: id.clone(),
                        email: None,
                        phone_number: None,
                        external_id: None,
                        attributes: Map::new(),
                        location: Map::new(),
                        properties: Map::new(),
                        created: now,
                        updated: now,
                        last_event_date: None,
                    },
                );
                (id, true)
            }
        };

        let before = self.profiles[&id].clone();
        for kind in IDENTIFIERS {
            let Some(value) = attrs.get(*kind) else { continue };
            let new = value.as_str().map(|v| normalize(kind, v));
            if let Some(new) = &new
                && self
                    .by_identifier
                    .get(&(*kind, new.clone()))
                    .is_some_and(|owner| *owner != id)
            {
                // Only events get here: they keep the identifier where it is.
                continue;
            }
            let profile = self.profiles.get_mut(&id).expect("profile exists");
            let slot = match *kind {
                "email" => &mut profile.email,
                "phone_number" => &mut profile.phone_number,
                _ => &mut profile.external_id,
            };
            if let Some(old) = slot.take() {
                self.by_identifier.remove(&(*kind, old));
            }
            if let Some(new) = new {
                self.by_identifier.insert((*kind, new.clone()), id.clone());
                *self.profiles.get_mut(&id).expect("profile exists").identifier_mut(kind) = Some(new);
            }
        }
        let profile = self.profiles.get_mut(&id).expect("profile exists");
        for name in PLAIN_ATTRIBUTES {
            match attrs.get(*name) {
                Some(Value::Null) => {
                    profile.attributes.remove(*name);
                }
                Some(value) => {
                    profile.attributes.insert((*name).to_owned(), value.clone());
                }
                None => {}
            }
        }
        merge_nullable(&mut profile.location, attrs.get("location"));
        merge_nullable(&mut profile.properties, attrs.get("properties"));
        let meta = resource.get("meta").or_else(|| attrs.get("meta"));
        if let Some(patch) = meta.and_then(|m| m.get("patch_properties")).filter(|p| p.is_object()) {
            patch_properties(&mut profile.properties, patch);
        }
        if created || *profile != before {
            profile.updated = now;
        }
        Ok(Applied { id, created })
    }

    /// Records one event (already validated) for the profile resource `profile`.
    /// Returns false when it was a duplicate and dropped.
    pub(crate) fn record_event(
        &mut self,
        attributes: &Map<String, Value>,
        profile: &Value,
        pointer: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, ApiError> {
        let applied = self.apply_profile(profile, Mode::Event, None, pointer, now)?;
        let name = attributes
            .get("metric")
            .and_then(|m| m.pointer("/data/attributes/name"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let metric_id = self.metric_id(&name, now);
        let time = attributes
            .get("time")
            .and_then(Value::as_str)
            .and_then(crate::time::parse_datetime)
            .unwrap_or(now)
            .duration_trunc(Duration::seconds(1))
            .unwrap_or(now);
        let unique_id = attributes.get("unique_id").and_then(Value::as_str).map(str::to_owned);
        let dedupe_key = unique_id.clone().unwrap_or_else(|| crate::time::format(time));
        if !self
            .event_keys
            .insert((applied.id.clone(), metric_id.clone(), dedupe_key.clone()))
        {
            self.duplicate_events += 1;
            return Ok(false);
        }
        let id = self.rng.ulid(now.timestamp_millis());
        let profile = self.profiles.get_mut(&applied.id).expect("profile exists");
        if profile.last_event_date.is_none_or(|t| t < time) {
            profile.last_event_date = Some(time);
        }
        self.events.push(Event {
            id,
            metric_id,
            metric_name: name,
            profile_id: applied.id,
            unique_id,
            dedupe_key,
            time,
            value: attributes.get("value").and_then(Value::as_f64),
            value_currency: attributes
                .get("value_currency")
                .and_then(Value::as_str)
                .map(str::to_owned),
            properties: attributes
                .get("properties")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            backfill: attributes.get("backfill").and_then(Value::as_bool).unwrap_or(false),
        });
        Ok(true)
    }

    fn metric_id(&mut self, name: &str, now: DateTime<Utc>) -> String {
        if let Some(m) = self.metrics.iter().find(|m| m.name == name) {
            return m.id.clone();
        }
        let id = self.rng.short_id();
        self.metrics.push(Metric {
            id: id.clone(),
            name: name.to_owned(),
            created: now,
        });
        id
    }

    /// Returns the profile id an event's profile object would land on, or a key for a
    /// profile it would create, so a bulk request can find repeated `unique_id`s.
    pub(crate) fn event_profile_key(&self, profile: &Value) -> String {
        let attrs = profile.get("attributes");
        if let Some(id) = profile.get("id").and_then(Value::as_str) {
            return id.to_owned();
        }
        for kind in IDENTIFIERS {
            if let Some(value) = attrs.and_then(|a| a.get(*kind)).and_then(Value::as_str) {
                let value = normalize(kind, value);
                if let Some(owner) = self.by_identifier.get(&(*kind, value.clone())) {
                    return owner.clone();
                }
                return format!("new:{kind}:{value}");
            }
        }
        String::new()
    }

    /// Runs a queued bulk import job to completion.
    pub(crate) fn process_job(&mut self, job_id: &str, now: DateTime<Utc>) {
        let Some(index) = self.jobs.iter().position(|j| j.id == job_id) else {
            return;
        };
        let pending = std::mem::take(&mut self.jobs[index].pending);
        self.jobs[index].status = JobStatus::Processing;
        self.jobs[index].started_at = Some(now);
        let list_ids = self.jobs[index].list_ids.clone();
        let mut profile_ids = Vec::new();
        let mut errors = Vec::new();
        for (i, resource) in pending.iter().enumerate() {
            let pointer = format!("/data/attributes/profiles/data/{i}");
            match self.apply_profile(resource, Mode::Upsert, None, &pointer, now) {
                Ok(applied) => {
                    for list_id in &list_ids {
                        self.add_to_list(list_id, &applied.id, now);
                    }
                    profile_ids.push(applied.id);
                }
                Err(e) => {
                    let pointer = match e.source {
                        Some(crate::error::Source::Pointer(p)) => p,
                        _ => pointer,
                    };
                    errors.push(ImportError {
                        id: self.rng.uuid(),
                        code: e.code.to_owned(),
                        title: e.title.to_owned(),
                        detail: e.detail,
                        pointer,
                        original_payload: resource.clone(),
                    });
                }
            }
        }
        let job = &mut self.jobs[index];
        job.completed_count = profile_ids.len();
        job.failed_count = errors.len();
        job.profile_ids = profile_ids;
        job.import_errors = errors;
        job.status = JobStatus::Complete;
        job.completed_at = Some(now);
    }

    pub(crate) fn add_to_list(&mut self, list_id: &str, profile_id: &str, now: DateTime<Utc>) -> bool {
        let Some(list) = self.lists.iter_mut().find(|l| l.id == list_id) else {
            return false;
        };
        if !list.members.iter().any(|(p, _)| p == profile_id) {
            list.members.push((profile_id.to_owned(), now));
            list.updated = now;
        }
        true
    }

    pub(crate) fn list_ids_of(&self, profile_id: &str) -> Vec<String> {
        self.lists
            .iter()
            .filter(|l| l.members.iter().any(|(p, _)| p == profile_id))
            .map(|l| l.id.clone())
            .collect()
    }
}

impl Profile {
    fn identifier_mut(&mut self, kind: &str) -> &mut Option<String> {
        match kind {
            "email" => &mut self.email,
            "phone_number" => &mut self.phone_number,
            _ => &mut self.external_id,
        }
    }
}

/// Emails are matched without regard to case or surrounding space; the others exactly.
pub(crate) fn normalize(kind: &str, value: &str) -> String {
    if kind == "email" {
        value.trim().to_lowercase()
    } else {
        value.trim().to_owned()
    }
}

/// `null` clears the whole object; otherwise members are merged one by one and a
/// member sent as `null` is removed.
fn merge_nullable(target: &mut Map<String, Value>, update: Option<&Value>) {
    match update {
        Some(Value::Null) => target.clear(),
        Some(Value::Object(members)) => {
            for (key, value) in members {
                if value.is_null() {
                    target.remove(key);
                } else {
                    target.insert(key.clone(), value.clone());
                }
            }
        }
        _ => {}
    }
}

/// `meta.patch_properties`: `append` adds values to array properties, `unappend` removes
/// them, `unset` removes keys; applied after `properties`.
fn patch_properties(properties: &mut Map<String, Value>, patch: &Value) {
    let values = |v: &Value| match v {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    if let Some(append) = patch.get("append").and_then(Value::as_object) {
        for (key, value) in append {
            let entry = properties
                .entry(key.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if !entry.is_array() {
                *entry = Value::Array(vec![entry.clone()]);
            }
            if let Value::Array(items) = entry {
                items.extend(values(value));
            }
        }
    }
    if let Some(unappend) = patch.get("unappend").and_then(Value::as_object) {
        for (key, value) in unappend {
            if let Some(Value::Array(items)) = properties.get_mut(key) {
                let remove = values(value);
                items.retain(|item| !remove.contains(item));
            }
        }
    }
    match patch.get("unset") {
        Some(Value::String(key)) => {
            properties.remove(key);
        }
        Some(Value::Array(keys)) => {
            for key in keys.iter().filter_map(Value::as_str) {
                properties.remove(key);
            }
        }
        _ => {}
    }
}

/// Checks identifier formats: a plausible email and an E.164 phone number.
pub(crate) fn validate_profile_attributes(attrs: &Map<String, Value>, pointer: &str) -> Result<(), ApiError> {
    if let Some(email) = attrs.get("email").and_then(Value::as_str)
        && !valid_email(email)
    {
        return Err(ApiError::invalid(
            format!("{pointer}/email"),
            format!("Invalid email address: '{email}'."),
        ));
    }
    if let Some(phone) = attrs.get("phone_number").and_then(Value::as_str)
        && !valid_e164(phone)
    {
        return Err(ApiError::invalid(
            format!("{pointer}/phone_number"),
            "Invalid phone number format (Example of a valid phone number: +13239169023).",
        ));
    }
    Ok(())
}

fn valid_email(email: &str) -> bool {
    let email = email.trim();
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !email.chars().any(char::is_whitespace)
        && domain.split('.').count() >= 2
        && domain.split('.').all(|part| !part.is_empty())
}

fn valid_e164(phone: &str) -> bool {
    let Some(digits) = phone.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
    }

    fn upsert(store: &mut Store, attributes: Value) -> Result<Applied, ApiError> {
        store.apply_profile(
            &json!({ "type": "profile", "attributes": attributes }),
            Mode::Upsert,
            None,
            "/data",
            now(),
        )
    }

    #[test]
    fn email_and_phone_on_different_profiles_conflict() {
        let mut store = Store::new(1);
        let a = upsert(&mut store, json!({ "email": "a@x.com" })).unwrap();
        let b = upsert(&mut store, json!({ "phone_number": "+15005550006" })).unwrap();
        let err = upsert(
            &mut store,
            json!({ "email": "a@x.com", "phone_number": "+15005550006" }),
        )
        .unwrap_err();
        assert_eq!(err.status, 409);
        assert_eq!(err.meta["duplicate_profile_id"], json!(b.id));
        assert_ne!(a.id, b.id);
    }

    #[test]
    fn email_matches_case_insensitively() {
        let mut store = Store::new(1);
        let a = upsert(&mut store, json!({ "email": "Ann@X.com" })).unwrap();
        let again = upsert(&mut store, json!({ "email": "ann@x.com", "first_name": "Ann" })).unwrap();
        assert_eq!(
            again,
            Applied {
                id: a.id,
                created: false
            }
        );
    }

    #[test]
    fn patch_properties_append_unappend_unset() {
        let mut props = json!({ "tags": ["a"], "gone": 1, "also": 2, "keep": 3 })
            .as_object()
            .unwrap()
            .clone();
        patch_properties(
            &mut props,
            &json!({ "append": { "tags": ["b", "c"] }, "unappend": { "tags": "a" }, "unset": ["gone", "also"] }),
        );
        assert_eq!(Value::Object(props), json!({ "tags": ["b", "c"], "keep": 3 }));
    }

    #[test]
    fn identifier_formats_are_checked() {
        assert!(valid_email("a.b+c@d.example"));
        for bad in ["a@b", "ab.com", "a b@c.com", "a@@b.com", "a@.com"] {
            assert!(!valid_email(bad), "{bad}");
        }
        assert!(valid_e164("+15005550006"));
        for bad in ["15005550006", "+0123", "+1-500", "+1234567890123456"] {
            assert!(!valid_e164(bad), "{bad}");
        }
    }
}
