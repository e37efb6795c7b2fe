//! Events: the single `POST /api/events` and bulk create jobs, batched so that no request
//! repeats a `unique_id` (Klaviyo would refuse the whole request).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::client::KlaviyoClient;
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::profiles::serialized_len;

/// Klaviyo's limit on a metric name.
const MAX_METRIC_NAME_CHARS: usize = 127;

/// The profile an event belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct EventProfile {
    /// Email address.
    pub email: Option<String>,
    /// External id (`netsuite:{customer id}`).
    pub external_id: Option<String>,
    /// Phone number in E.164.
    pub phone_number: Option<String>,
}

impl EventProfile {
    fn attributes(&self) -> Map<String, Value> {
        let mut attributes = Map::new();
        for (name, value) in [
            ("email", &self.email),
            ("external_id", &self.external_id),
            ("phone_number", &self.phone_number),
        ] {
            if let Some(value) = value {
                attributes.insert(name.to_owned(), Value::String(value.clone()));
            }
        }
        attributes
    }

    fn has_identifier(&self) -> bool {
        [&self.email, &self.external_id, &self.phone_number]
            .iter()
            .any(|value| value.as_deref().is_some_and(|text| !text.trim().is_empty()))
    }
}

/// One event to record; `unique_id` is the caller's idempotency key (the reminder key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventInput {
    /// Metric name, e.g. `Invoice Past Due`; created by Klaviyo on first use.
    pub metric: String,
    /// Deduplication key, never empty.
    pub unique_id: String,
    /// When the thing happened (for a reminder: when the milestone was reached).
    pub time: DateTime<Utc>,
    /// Monetary value (the amount outstanding).
    #[serde(default)]
    pub value: Option<Decimal>,
    /// ISO 4217 currency of `value`.
    #[serde(default)]
    pub value_currency: Option<String>,
    /// Event properties (may be empty).
    #[serde(default)]
    pub properties: Map<String, Value>,
    /// Whose event it is.
    pub profile: EventProfile,
}

impl EventInput {
    /// Checks what Klaviyo would refuse.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |reason: String| Err(Error::InvalidInput { what: "event", reason });
        let name = self.metric.trim();
        if name.is_empty() || name.chars().count() > MAX_METRIC_NAME_CHARS {
            return invalid(format!("metric name must be 1 to {MAX_METRIC_NAME_CHARS} characters"));
        }
        if self.unique_id.trim().is_empty() {
            return invalid("unique_id is empty".to_owned());
        }
        if !self.profile.has_identifier() {
            return invalid(format!(
                "event {} has no profile email, external_id or phone_number",
                self.unique_id
            ));
        }
        let earliest = Utc.with_ymd_and_hms(1990, 1, 1, 0, 0, 0).single().expect("valid date");
        if self.time <= earliest {
            return invalid(format!("event {} time is not after 1990", self.unique_id));
        }
        if let Some(value) = self.value
            && value.to_f64().is_none_or(|number| !number.is_finite())
        {
            return invalid(format!("event {} value {value} is not a number", self.unique_id));
        }
        Ok(())
    }

    /// The event attributes shared by both endpoints (without the profile).
    fn core_attributes(&self) -> Map<String, Value> {
        let mut attributes = Map::new();
        attributes.insert("properties".to_owned(), Value::Object(self.properties.clone()));
        attributes.insert(
            "time".to_owned(),
            Value::String(self.time.to_rfc3339_opts(SecondsFormat::Secs, true)),
        );
        if let Some(number) = self
            .value
            .and_then(|value| value.to_f64())
            .and_then(serde_json::Number::from_f64)
        {
            attributes.insert("value".to_owned(), Value::Number(number));
        }
        if let Some(currency) = &self.value_currency {
            attributes.insert("value_currency".to_owned(), Value::String(currency.clone()));
        }
        attributes.insert("unique_id".to_owned(), Value::String(self.unique_id.clone()));
        attributes.insert(
            "metric".to_owned(),
            json!({ "data": { "type": "metric", "attributes": { "name": self.metric.trim() } } }),
        );
        attributes
    }

    /// The key Klaviyo deduplicates on: profile, metric and `unique_id`.
    fn dedupe_key(&self) -> (EventProfile, String, String) {
        (
            self.profile.clone(),
            self.metric.trim().to_owned(),
            self.unique_id.clone(),
        )
    }
}

/// The body of `POST /api/events`.
pub fn create_event_body(event: &EventInput) -> Value {
    let mut attributes = event.core_attributes();
    attributes.insert(
        "profile".to_owned(),
        json!({ "data": { "type": "profile", "attributes": event.profile.attributes() } }),
    );
    json!({ "data": { "type": "event", "attributes": attributes } })
}

/// The body of `POST /api/event-bulk-create-jobs`: events grouped per profile, in order.
pub fn bulk_create_events_body(events: &[&EventInput]) -> Value {
    let mut entries: Vec<(EventProfile, Vec<Value>)> = Vec::new();
    for event in events {
        let item = json!({ "type": "event", "attributes": event.core_attributes() });
        match entries.iter_mut().find(|(profile, _)| *profile == event.profile) {
            Some((_, items)) => items.push(item),
            None => entries.push((event.profile.clone(), vec![item])),
        }
    }
    let data: Vec<Value> = entries
        .into_iter()
        .map(|(profile, items)| bulk_entry(&profile, items))
        .collect();
    json!({
        "data": {
            "type": "event-bulk-create-job",
            "attributes": { "events-bulk-create": { "data": data } },
        }
    })
}

/// One `event-bulk-create` entry. Events carry only the profile's identifiers: profile
/// properties (and their `unset`, whose place differs between the two event endpoints)
/// go through the profile endpoints.
fn bulk_entry(profile: &EventProfile, items: Vec<Value>) -> Value {
    let profile_data = json!({ "type": "profile", "attributes": profile.attributes() });
    json!({
        "type": "event-bulk-create",
        "attributes": {
            "profile": { "data": profile_data },
            "events": { "data": items },
        }
    })
}

/// How events are split into bulk requests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventPlan {
    /// Input indices per request.
    pub batches: Vec<Vec<usize>>,
    /// `(index, index of the earlier identical event)`: same profile, metric and unique_id;
    /// Klaviyo would keep only one, so only the first is sent.
    pub duplicates: Vec<(usize, usize)>,
    /// Events refused before sending.
    pub rejected: Vec<EventFailure>,
}

/// An event that was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFailure {
    /// Index of the event in the input.
    pub index: usize,
    /// Its unique_id.
    pub unique_id: String,
    /// Klaviyo's code, `invalid_input`/`too_large` before sending, `not_sent` after an abort.
    pub code: String,
    /// What was wrong.
    pub detail: String,
}

/// Splits events into requests of at most `max_events` events and `max_bytes` bytes in
/// which no `unique_id` appears twice, in as few requests as those rules allow when sizes
/// are even.
///
/// Events sharing a `unique_id` (for different profiles or metrics) are laid out next to
/// each other and dealt round-robin over the smallest number of requests that fits the
/// count, the bytes and the largest such group, so group members always land in different
/// requests; an event that does not fit where it is dealt goes to the first request it
/// fits, or a new one.
pub fn plan_event_batches(events: &[EventInput], max_events: usize, max_bytes: usize) -> EventPlan {
    struct Batch {
        indices: Vec<usize>,
        unique_ids: HashSet<String>,
        bytes: usize,
    }
    let envelope = serialized_len(&bulk_create_events_body(&[]));
    let mut plan = EventPlan::default();
    let mut seen: HashMap<(EventProfile, String, String), usize> = HashMap::new();
    let mut groups: Vec<Vec<(usize, usize)>> = Vec::new();
    let mut group_of: HashMap<&str, usize> = HashMap::new();
    let mut total_bytes = 0;
    for (index, event) in events.iter().enumerate() {
        if let Err(error) = event.validate() {
            plan.rejected
                .push(failure(index, event, "invalid_input", error.to_string()));
            continue;
        }
        if let Some(first) = seen.get(&event.dedupe_key()) {
            plan.duplicates.push((index, *first));
            continue;
        }
        seen.insert(event.dedupe_key(), index);
        // Counted as if alone in its profile entry: grouping only makes the real body smaller.
        let item = json!({ "type": "event", "attributes": event.core_attributes() });
        let size = serialized_len(&bulk_entry(&event.profile, vec![item])) + 1;
        if envelope + size > max_bytes {
            plan.rejected
                .push(failure(index, event, "too_large", format!("event is {size} bytes")));
            continue;
        }
        total_bytes += size;
        let group = *group_of.entry(event.unique_id.as_str()).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[group].push((index, size));
    }
    let count: usize = groups.iter().map(Vec::len).sum();
    if count == 0 {
        return plan;
    }
    let largest_group = groups.iter().map(Vec::len).max().unwrap_or(1);
    let room = max_bytes.saturating_sub(envelope).max(1);
    let needed = largest_group
        .max(count.div_ceil(max_events))
        .max(total_bytes.div_ceil(room));
    let mut batches: Vec<Batch> = (0..needed)
        .map(|_| Batch {
            indices: Vec::new(),
            unique_ids: HashSet::new(),
            bytes: envelope,
        })
        .collect();
    let fits = |batch: &Batch, unique_id: &str, size: usize| {
        batch.indices.len() < max_events && batch.bytes + size <= max_bytes && !batch.unique_ids.contains(unique_id)
    };
    for (position, (index, size)) in groups.into_iter().flatten().enumerate() {
        let unique_id = events[index].unique_id.as_str();
        let dealt = position % needed;
        let target = if fits(&batches[dealt], unique_id, size) {
            dealt
        } else if let Some(found) = batches.iter().position(|batch| fits(batch, unique_id, size)) {
            found
        } else {
            batches.push(Batch {
                indices: Vec::new(),
                unique_ids: HashSet::new(),
                bytes: envelope,
            });
            batches.len() - 1
        };
        let batch = &mut batches[target];
        batch.indices.push(index);
        batch.unique_ids.insert(unique_id.to_owned());
        batch.bytes += size;
    }
    plan.batches = batches
        .into_iter()
        .filter(|batch| !batch.indices.is_empty())
        .map(|mut batch| {
            batch.indices.sort_unstable();
            batch.indices
        })
        .collect();
    plan
}

fn failure(index: usize, event: &EventInput, code: &str, detail: String) -> EventFailure {
    EventFailure {
        index,
        unique_id: event.unique_id.clone(),
        code: code.to_owned(),
        detail,
    }
}

/// What a bulk send did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventsReport {
    /// Indices Klaviyo accepted (202), including those resent one by one.
    pub accepted: Vec<usize>,
    /// Indices skipped as identical to an earlier event in the input.
    pub duplicates: Vec<usize>,
    /// Indices not accepted, with the reason.
    pub failures: Vec<EventFailure>,
    /// Set when sending stopped early on an error no single event explains (credentials,
    /// an outage after retries); the unsent events are in `failures` as `not_sent`.
    pub aborted: Option<String>,
}

impl KlaviyoClient {
    /// Records one event (`POST /api/events`); Klaviyo answers 202 once it is queued.
    pub async fn create_event(&self, event: &EventInput) -> Result<(), Error> {
        event.validate()?;
        self.send(
            Endpoint::CreateEvent,
            "/api/events",
            &[],
            Some(&create_event_body(event)),
        )
        .await?;
        Ok(())
    }

    /// Records events through bulk create jobs. A request Klaviyo refuses as a whole (4xx)
    /// is resent one event at a time so that one bad event costs only itself.
    pub async fn create_events_bulk(&self, events: &[EventInput]) -> Result<EventsReport, Error> {
        let settings = &self.inner.settings;
        let plan = plan_event_batches(
            events,
            settings.max_events_per_request,
            settings.max_event_request_bytes,
        );
        let mut report = EventsReport {
            duplicates: plan.duplicates.iter().map(|(index, _)| *index).collect(),
            failures: plan.rejected,
            ..EventsReport::default()
        };
        let mut batches = plan.batches.into_iter();
        while let Some(batch) = batches.next() {
            let refs: Vec<&EventInput> = batch.iter().map(|index| &events[*index]).collect();
            let body = bulk_create_events_body(&refs);
            let outcome = self
                .send(
                    Endpoint::BulkCreateEvents,
                    "/api/event-bulk-create-jobs",
                    &[],
                    Some(&body),
                )
                .await;
            match outcome {
                Ok(_) => report.accepted.extend(&batch),
                Err(Error::Api { error, .. }) if matches!(error.status, 400 | 413 | 422) => {
                    tracing::warn!(
                        events = batch.len(),
                        status = error.status,
                        "klaviyo refused an event batch, resending one by one"
                    );
                    if let Some(fatal) = self.resend_individually(events, &batch, &mut report).await {
                        abort(events, batches.flatten(), fatal, &mut report);
                        break;
                    }
                }
                Err(fatal) => {
                    abort(events, batch.into_iter().chain(batches.flatten()), fatal, &mut report);
                    break;
                }
            }
        }
        report.accepted.sort_unstable();
        Ok(report)
    }

    /// Sends a refused batch event by event; returns the error that stopped it, if any
    /// (the events it did not reach are already recorded as `not_sent`).
    async fn resend_individually(
        &self,
        events: &[EventInput],
        batch: &[usize],
        report: &mut EventsReport,
    ) -> Option<Error> {
        for (position, index) in batch.iter().enumerate() {
            match self.create_event(&events[*index]).await {
                Ok(()) => report.accepted.push(*index),
                Err(Error::Api { error, .. }) if !error.is_transient() && !matches!(error.status, 401 | 403) => {
                    report.failures.push(EventFailure {
                        index: *index,
                        unique_id: events[*index].unique_id.clone(),
                        code: error.code().unwrap_or("rejected").to_owned(),
                        detail: error.to_string(),
                    });
                }
                Err(fatal) => {
                    let detail = fatal.to_string();
                    for index in &batch[position..] {
                        report
                            .failures
                            .push(failure(*index, &events[*index], "not_sent", detail.clone()));
                    }
                    return Some(fatal);
                }
            }
        }
        None
    }
}

fn abort(events: &[EventInput], rest: impl Iterator<Item = usize>, error: Error, report: &mut EventsReport) {
    if report.aborted.is_some() {
        return;
    }
    tracing::warn!(error = %error, "klaviyo event sending aborted");
    let detail = error.to_string();
    for index in rest {
        report
            .failures
            .push(failure(index, &events[index], "not_sent", detail.clone()));
    }
    report.aborted = Some(detail);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: usize, unique_id: &str, email: &str) -> EventInput {
        EventInput {
            metric: "Invoice Past Due".to_owned(),
            unique_id: unique_id.to_owned(),
            time: Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).single().expect("time"),
            value: Some(Decimal::new(12050 + n as i64, 2)),
            value_currency: Some("USD".to_owned()),
            properties: Map::new(),
            profile: EventProfile {
                email: Some(email.to_owned()),
                ..EventProfile::default()
            },
        }
    }

    #[test]
    fn batches_never_repeat_a_unique_id_and_respect_the_count() {
        let mut events = Vec::new();
        for n in 0..2_500 {
            // Every unique_id twice, for two different profiles.
            events.push(event(
                n,
                &format!("due:{}:0", n / 2),
                &format!("c{}@example.com", n % 2),
            ));
        }
        let plan = plan_event_batches(&events, 1_000, 5_000_000);
        assert!(plan.duplicates.is_empty() && plan.rejected.is_empty());
        let mut all = Vec::new();
        for batch in &plan.batches {
            assert!(batch.len() <= 1_000);
            let ids: HashSet<&str> = batch.iter().map(|index| events[*index].unique_id.as_str()).collect();
            assert_eq!(ids.len(), batch.len(), "a unique_id repeats within a batch");
            all.extend(batch.iter().copied());
        }
        all.sort_unstable();
        assert_eq!(all, (0..2_500).collect::<Vec<_>>());
    }

    #[test]
    fn shared_unique_ids_still_need_only_the_minimum_number_of_requests() {
        let mut events = Vec::new();
        for n in 0..1_500 {
            events.push(event(n, &format!("due:{n}:0"), "a@example.com"));
            events.push(event(n, &format!("due:{n}:0"), "b@example.com"));
        }
        let plan = plan_event_batches(&events, 1_000, 5_000_000);
        assert_eq!(plan.batches.len(), 3);
        // A unique_id shared by five profiles needs five requests even for five events.
        let five: Vec<EventInput> = (0..5).map(|n| event(n, "same", &format!("c{n}@example.com"))).collect();
        assert_eq!(plan_event_batches(&five, 1_000, 5_000_000).batches.len(), 5);
    }

    #[test]
    fn identical_events_are_sent_once() {
        let events = vec![
            event(0, "due:1:0", "a@example.com"),
            event(0, "due:1:0", "a@example.com"),
        ];
        let plan = plan_event_batches(&events, 1_000, 5_000_000);
        assert_eq!(plan.batches, vec![vec![0]]);
        assert_eq!(plan.duplicates, vec![(1, 0)]);
    }

    #[test]
    fn batches_fit_the_byte_limit() {
        let mut events: Vec<EventInput> = (0..50).map(|n| event(n, &format!("k{n}"), "a@example.com")).collect();
        for event in &mut events {
            event
                .properties
                .insert("note".to_owned(), Value::String("y".repeat(500)));
        }
        let max = 4_000;
        let plan = plan_event_batches(&events, 1_000, max);
        assert!(plan.batches.len() > 1);
        for batch in &plan.batches {
            let refs: Vec<&EventInput> = batch.iter().map(|index| &events[*index]).collect();
            assert!(serialized_len(&bulk_create_events_body(&refs)) <= max);
        }
    }

    #[test]
    fn invalid_events_are_rejected_alone() {
        let mut no_profile = event(1, "k1", "x@example.com");
        no_profile.profile = EventProfile::default();
        let mut no_key = event(2, " ", "x@example.com");
        no_key.unique_id = " ".to_owned();
        let events = vec![event(0, "k0", "a@example.com"), no_profile, no_key];
        let plan = plan_event_batches(&events, 1_000, 5_000_000);
        assert_eq!(plan.batches, vec![vec![0]]);
        let rejected: Vec<usize> = plan.rejected.iter().map(|f| f.index).collect();
        assert_eq!(rejected, vec![1, 2]);
    }

    #[test]
    fn bulk_body_groups_events_per_profile_and_writes_time_and_value() {
        let events = [
            event(0, "k0", "a@example.com"),
            event(1, "k1", "b@example.com"),
            event(2, "k2", "a@example.com"),
        ];
        let refs: Vec<&EventInput> = events.iter().collect();
        let body = bulk_create_events_body(&refs);
        let entries = body["data"]["attributes"]["events-bulk-create"]["data"]
            .as_array()
            .expect("entries");
        assert_eq!(entries.len(), 2);
        let first = &entries[0]["attributes"]["events"]["data"];
        assert_eq!(first.as_array().map(Vec::len), Some(2));
        assert_eq!(first[0]["attributes"]["time"], "2026-11-23T12:00:00Z");
        assert_eq!(first[0]["attributes"]["value"], 120.5);
    }
}
