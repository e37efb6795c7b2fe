//! The gateway's work, independent of gRPC: profile pushes that send only what changed,
//! events, segments and lists. Used by the gRPC adapter and by `ledgerlink klaviyo`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ledgerlink_domain::{Contact, CustomerScore};
use ledgerlink_klaviyo_client::{
    ClientStats, EventInput, EventProfile, KlaviyoClient, ProfileKey, ProfileUpsert, RateLimiter, SegmentAction,
};
use secrecy::SecretString;
use serde_json::{Map, Value};

use crate::mapping::{Identity, ProfileTarget, SYNCED_AT, profiles_for};
use crate::settings::{ENV_API_KEY, GatewaySettings};
use crate::store::{DigestStore, Written};

/// What happened to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A profile Klaviyo (or the gateway) had not seen before was written.
    Created,
    /// An existing profile was written.
    Updated,
    /// Nothing changed since the last successful write; nothing was sent.
    Unchanged,
    /// Klaviyo accepted the event.
    Sent,
    /// The same event (profile, metric, key) appeared earlier in the request; sent once.
    Duplicate,
    /// Not synced (no usable identifier), with the reason.
    Skipped,
    /// Klaviyo refused it or could not be reached.
    Failed,
    /// A dry run: what would be written is in the report.
    DryRun,
}

/// The result of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordResult {
    /// The customer id (profiles) or the event key (events).
    pub record_id: String,
    /// What happened.
    pub outcome: Outcome,
    /// Why it was skipped or failed; empty otherwise.
    pub reason: String,
    /// Whether a later attempt may succeed.
    pub retryable: bool,
}

impl RecordResult {
    fn new(record_id: &str, outcome: Outcome) -> RecordResult {
        RecordResult {
            record_id: record_id.to_owned(),
            outcome,
            reason: String::new(),
            retryable: false,
        }
    }

    fn failed(record_id: &str, reason: String, retryable: bool) -> RecordResult {
        RecordResult {
            record_id: record_id.to_owned(),
            outcome: Outcome::Failed,
            reason,
            retryable,
        }
    }
}

/// The properties set on and removed from one profile.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileChange {
    /// The NetSuite customer.
    pub customer_id: String,
    /// Its identifiers.
    pub identity: Identity,
    /// Properties to set.
    pub set: Map<String, Value>,
    /// Properties to remove.
    pub unset: Vec<String>,
}

/// A score with the customer's contacts (used in `contacts` identity mode only).
#[derive(Debug, Clone)]
pub struct Scored {
    /// The score.
    pub score: CustomerScore,
    /// The customer's contacts; empty when unknown.
    pub contacts: Vec<Contact>,
}

/// Options of a profile push.
#[derive(Debug, Clone, Copy)]
pub struct PushOptions {
    /// Compute and report, write nothing.
    pub dry_run: bool,
    /// Send every profile, changed or not.
    pub force: bool,
    /// The run's time, written as `ar_synced_at`.
    pub synced_at: DateTime<Utc>,
}

/// What a profile push did.
#[derive(Debug, Clone, Default)]
pub struct PushReport {
    /// One per score, in input order.
    pub results: Vec<RecordResult>,
    /// In a dry run, what would be written.
    pub changes: Vec<ProfileChange>,
    /// Klaviyo requests this push made.
    pub stats: ClientStats,
}

/// What an event send did.
#[derive(Debug, Clone, Default)]
pub struct EventsReport {
    /// One per event, in input order.
    pub results: Vec<RecordResult>,
    /// Klaviyo requests this send made.
    pub stats: ClientStats,
}

/// One event to send, already in Klaviyo's terms.
#[derive(Debug, Clone)]
pub enum EventRequest {
    /// A usable event.
    Event(EventInput),
    /// An event that could not be read: its key and what was wrong.
    Invalid {
        /// The event key.
        key: String,
        /// What was wrong.
        reason: String,
    },
}

/// A segment or list applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentResult {
    /// Its name.
    pub name: String,
    /// `created`, `updated` or `unchanged`.
    pub action: &'static str,
    /// Klaviyo's id (empty for a dry-run creation).
    pub id: String,
}

/// A list brought in step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListResult {
    /// Its name.
    pub name: String,
    /// Members added (or that would be).
    pub added: u64,
    /// Members removed (or that would be).
    pub removed: u64,
}

/// The gateway could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// No Klaviyo key is configured.
    #[error("no klaviyo key: set {ENV_API_KEY} or {ENV_API_KEY}_FILE in the gateway's environment")]
    NoApiKey,
    /// The digest store failed.
    #[error("gateway store: {0}")]
    Store(#[from] sea_orm::DbErr),
    /// Klaviyo failed in a way no single record explains.
    #[error(transparent)]
    Klaviyo(#[from] ledgerlink_klaviyo_client::Error),
}

/// The gateway.
#[derive(Debug, Clone)]
pub struct Gateway {
    settings: Arc<GatewaySettings>,
    api_key: Option<SecretString>,
    base_url: Option<String>,
    limiter: Arc<RateLimiter>,
    store: DigestStore,
}

impl Gateway {
    /// A gateway writing with `api_key` (none: only previews and dry runs work) to
    /// `base_url` (none: the settings' or Klaviyo's).
    pub fn new(
        settings: GatewaySettings,
        api_key: Option<SecretString>,
        base_url: Option<String>,
        store: DigestStore,
    ) -> Gateway {
        let base_url = base_url.or_else(|| settings.base_url.clone());
        Gateway {
            settings: Arc::new(settings),
            api_key,
            base_url,
            limiter: Arc::new(RateLimiter::default()),
            store,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &GatewaySettings {
        &self.settings
    }

    /// Whether a key is configured.
    pub fn has_api_key(&self) -> bool {
        self.api_key.is_some()
    }

    /// A client of its own for one operation, so its counters are that operation's;
    /// the rate limiter is shared, since Klaviyo counts per account.
    fn client(&self) -> Result<KlaviyoClient, GatewayError> {
        let key = self.api_key.clone().ok_or(GatewayError::NoApiKey)?;
        let mut settings = self.settings.client.clone();
        if let Some(revision) = &self.settings.revision {
            settings.revision = revision.clone();
        }
        let mut builder = KlaviyoClient::builder(key)
            .settings(settings)
            .rate_limiter(self.limiter.clone());
        if let Some(url) = &self.base_url {
            builder = builder.base_url(url.clone());
        }
        Ok(builder.build()?)
    }

    /// What a score's profile(s) would receive, or why it would not be synced.
    pub fn preview(
        &self,
        scored: &Scored,
        synced_at: DateTime<Utc>,
    ) -> Result<Vec<ProfileChange>, crate::mapping::SkipReason> {
        let targets = profiles_for(&scored.score, &scored.contacts, &self.settings, synced_at)?;
        Ok(targets
            .into_iter()
            .map(|target| {
                let unset = target.unset(&[]);
                change(target, unset)
            })
            .collect())
    }

    /// Upserts the profiles of `scores`, sending only those whose digest changed unless
    /// forced, and records a digest only once Klaviyo confirmed the write.
    pub async fn push_profiles(&self, scores: &[Scored], options: PushOptions) -> Result<PushReport, GatewayError> {
        let synced_at_name = self.settings.property_names().name(SYNCED_AT).to_owned();
        let mut report = PushReport::default();
        // Per customer: the profile outcomes, merged into one result at the end.
        let mut per_customer: Vec<(String, Result<Vec<usize>, String>)> = Vec::with_capacity(scores.len());
        let mut targets: Vec<ProfileTarget> = Vec::new();
        for scored in scores {
            let id = scored.score.customer_id.clone();
            match profiles_for(&scored.score, &scored.contacts, &self.settings, options.synced_at) {
                Ok(found) => {
                    let start = targets.len();
                    targets.extend(found);
                    per_customer.push((id, Ok((start..targets.len()).collect())));
                }
                Err(reason) => per_customer.push((id, Err(reason.to_string()))),
            }
        }
        let keys: Vec<String> = targets.iter().map(|t| t.key.clone()).collect();
        let previous = self.store.load(&keys).await?;
        let digests: Vec<String> = targets.iter().map(|t| t.digest(&synced_at_name)).collect();

        let mut outcomes: Vec<Option<RecordResult>> = vec![None; targets.len()];
        let mut to_send: Vec<usize> = Vec::new();
        for (index, target) in targets.iter().enumerate() {
            let before = previous.get(&target.key);
            if !options.force && before.is_some_and(|w| w.digest == digests[index]) {
                outcomes[index] = Some(RecordResult::new(&target.customer_id, Outcome::Unchanged));
            } else {
                to_send.push(index);
            }
        }
        let unsets: HashMap<usize, Vec<String>> = to_send
            .iter()
            .map(|index| {
                let names: Vec<String> = previous
                    .get(&targets[*index].key)
                    .map(|w| w.properties.keys().cloned().collect())
                    .unwrap_or_default();
                (*index, targets[*index].unset(&names))
            })
            .collect();

        if options.dry_run {
            for index in &to_send {
                outcomes[*index] = Some(RecordResult::new(&targets[*index].customer_id, Outcome::DryRun));
                report
                    .changes
                    .push(change(targets[*index].clone(), unsets[index].clone()));
            }
        } else if !to_send.is_empty() {
            let client = self.client()?;
            let upserts: Vec<ProfileUpsert> = to_send
                .iter()
                .map(|index| {
                    let target = &targets[*index];
                    ProfileUpsert {
                        email: target.identity.email.clone(),
                        external_id: target.identity.external_id.clone(),
                        properties: target.set.clone(),
                        unset: unsets[index].clone(),
                        ..ProfileUpsert::default()
                    }
                })
                .collect();
            let confirmed = self
                .write_profiles(&client, &targets, &to_send, &upserts, &previous, &mut outcomes)
                .await?;
            let rows: Vec<(String, Written)> = confirmed
                .into_iter()
                .map(|(index, profile_id)| {
                    let target = &targets[index];
                    let profile_id =
                        profile_id.or_else(|| previous.get(&target.key).and_then(|w| w.profile_id.clone()));
                    (
                        target.key.clone(),
                        Written {
                            digest: digests[index].clone(),
                            profile_id,
                            identity: target.identity.clone(),
                            properties: target.set.clone(),
                        },
                    )
                })
                .collect();
            self.store.record(rows, Utc::now()).await?;
            report.stats = client.stats();
        }

        for (customer_id, profiles) in per_customer {
            report.results.push(match profiles {
                Err(reason) => RecordResult {
                    record_id: customer_id,
                    outcome: Outcome::Skipped,
                    reason,
                    retryable: false,
                },
                Ok(indices) => merge(
                    &customer_id,
                    indices.iter().filter_map(|index| outcomes[*index].clone()).collect(),
                ),
            });
        }
        Ok(report)
    }

    /// Sends `upserts` (the targets `to_send`), filling `outcomes`; returns the confirmed
    /// targets with Klaviyo's id when it is known.
    async fn write_profiles(
        &self,
        client: &KlaviyoClient,
        targets: &[ProfileTarget],
        to_send: &[usize],
        upserts: &[ProfileUpsert],
        previous: &HashMap<String, Written>,
        outcomes: &mut [Option<RecordResult>],
    ) -> Result<Vec<(usize, Option<String>)>, GatewayError> {
        let mut confirmed = Vec::new();
        if upserts.len() <= self.settings.single_write_threshold {
            for (position, upsert) in upserts.iter().enumerate() {
                let index = to_send[position];
                let customer = &targets[index].customer_id;
                match client.upsert_profile(upsert).await {
                    Ok(done) => {
                        let outcome = if done.created {
                            Outcome::Created
                        } else {
                            Outcome::Updated
                        };
                        outcomes[index] = Some(RecordResult::new(customer, outcome));
                        confirmed.push((index, Some(done.id)));
                    }
                    Err(error) if matches!(error.status(), Some(401 | 403)) => return Err(error.into()),
                    Err(error) => {
                        tracing::warn!(customer_id = %customer, error = %error, "klaviyo profile write failed");
                        outcomes[index] = Some(RecordResult::failed(customer, error.to_string(), error.is_transient()));
                    }
                }
            }
            return Ok(confirmed);
        }
        match client.import_profiles(upserts, &[]).await {
            Ok(import) => {
                let mut failed: HashMap<usize, String> = HashMap::new();
                let mut unattributed = None;
                for failure in &import.failures {
                    match failure.index {
                        Some(position) => {
                            failed.insert(position, format!("{}: {}", failure.code, failure.detail));
                        }
                        None => unattributed = Some(format!("{}: {}", failure.code, failure.detail)),
                    }
                }
                let imported: HashSet<usize> = import.imported_indices().into_iter().collect();
                for (position, index) in to_send.iter().enumerate() {
                    let target = &targets[*index];
                    if let Some(reason) = failed.get(&position) {
                        outcomes[*index] = Some(RecordResult::failed(&target.customer_id, reason.clone(), false));
                    } else if let Some(reason) = &unattributed {
                        // An import error Klaviyo did not tie to a profile: no write is
                        // confirmed for certain, so none is recorded and all are retried.
                        outcomes[*index] = Some(RecordResult::failed(
                            &target.customer_id,
                            format!("unattributed import error: {reason}"),
                            true,
                        ));
                    } else if imported.contains(&position) {
                        let outcome = if previous.contains_key(&target.key) {
                            Outcome::Updated
                        } else {
                            Outcome::Created
                        };
                        outcomes[*index] = Some(RecordResult::new(&target.customer_id, outcome));
                        confirmed.push((*index, None));
                    } else {
                        outcomes[*index] = Some(RecordResult::failed(
                            &target.customer_id,
                            "import job did not complete".to_owned(),
                            true,
                        ));
                    }
                }
            }
            Err(error) if matches!(error.status(), Some(401 | 403)) => return Err(error.into()),
            Err(error) => {
                tracing::warn!(profiles = upserts.len(), error = %error, "klaviyo profile import failed");
                for index in to_send {
                    outcomes[*index] = Some(RecordResult::failed(
                        &targets[*index].customer_id,
                        error.to_string(),
                        error.is_transient(),
                    ));
                }
            }
        }
        Ok(confirmed)
    }

    /// Sends events with their keys as `unique_id`; an event is `Sent` only once
    /// Klaviyo accepted it.
    pub async fn send_events(&self, events: &[EventRequest], dry_run: bool) -> Result<EventsReport, GatewayError> {
        let mut results: Vec<Option<RecordResult>> = vec![None; events.len()];
        let mut inputs: Vec<EventInput> = Vec::new();
        let mut positions: Vec<usize> = Vec::new();
        for (position, event) in events.iter().enumerate() {
            match event {
                EventRequest::Invalid { key, reason } => {
                    results[position] = Some(RecordResult::failed(key, reason.clone(), false));
                }
                EventRequest::Event(input) => match input.validate() {
                    Err(error) => {
                        results[position] = Some(RecordResult::failed(&input.unique_id, error.to_string(), false));
                    }
                    Ok(()) if dry_run => {
                        results[position] = Some(RecordResult::new(&input.unique_id, Outcome::DryRun));
                    }
                    Ok(()) => {
                        inputs.push(input.clone());
                        positions.push(position);
                    }
                },
            }
        }
        let mut report = EventsReport::default();
        if !inputs.is_empty() {
            let client = self.client()?;
            if inputs.len() <= self.settings.single_write_threshold {
                let mut seen = HashSet::new();
                for (input, position) in inputs.iter().zip(&positions) {
                    let key = (
                        input.profile.clone(),
                        input.metric.trim().to_owned(),
                        input.unique_id.clone(),
                    );
                    if !seen.insert(key) {
                        results[*position] = Some(RecordResult::new(&input.unique_id, Outcome::Duplicate));
                        continue;
                    }
                    results[*position] = Some(match client.create_event(input).await {
                        Ok(()) => RecordResult::new(&input.unique_id, Outcome::Sent),
                        Err(error) if matches!(error.status(), Some(401 | 403)) => return Err(error.into()),
                        Err(error) => RecordResult::failed(&input.unique_id, error.to_string(), error.is_transient()),
                    });
                }
            } else {
                let sent = client.create_events_bulk(&inputs).await?;
                for index in sent.accepted {
                    results[positions[index]] = Some(RecordResult::new(&inputs[index].unique_id, Outcome::Sent));
                }
                for index in sent.duplicates {
                    results[positions[index]] = Some(RecordResult::new(&inputs[index].unique_id, Outcome::Duplicate));
                }
                for failure in sent.failures {
                    let retryable = failure.code == "not_sent";
                    results[positions[failure.index]] = Some(RecordResult::failed(
                        &failure.unique_id,
                        format!("{}: {}", failure.code, failure.detail),
                        retryable,
                    ));
                }
            }
            report.stats = client.stats();
        }
        report.results = results
            .into_iter()
            .zip(events)
            .map(|(result, event)| {
                result.unwrap_or_else(|| {
                    let key = match event {
                        EventRequest::Event(input) => input.unique_id.as_str(),
                        EventRequest::Invalid { key, .. } => key.as_str(),
                    };
                    RecordResult::failed(key, "not sent".to_owned(), true)
                })
            })
            .collect();
        Ok(report)
    }

    /// Creates or updates the configured segments (a dry run only compares).
    pub async fn apply_segments(&self, dry_run: bool) -> Result<(Vec<SegmentResult>, ClientStats), GatewayError> {
        let client = self.client()?;
        let mut results = Vec::new();
        for spec in self.settings.segment_specs() {
            let outcome = client.apply_segment(&spec, dry_run).await?;
            results.push(SegmentResult {
                name: spec.name.clone(),
                action: match outcome.action {
                    SegmentAction::Created => "created",
                    SegmentAction::Updated => "updated",
                    SegmentAction::Unchanged => "unchanged",
                },
                id: outcome.id.unwrap_or_default(),
            });
        }
        Ok((results, client.stats()))
    }

    /// Brings each configured list in step with its condition, judged on the properties
    /// last written: members the condition holds for are added, every other member
    /// removed (the gateway owns these lists). Consent is never touched.
    pub async fn sync_lists(&self, dry_run: bool) -> Result<(Vec<ListResult>, ClientStats), GatewayError> {
        let client = self.client()?;
        let mut results = Vec::new();
        if self.settings.lists.is_empty() {
            return Ok((results, client.stats()));
        }
        let names = self.settings.property_names();
        let rows = self.store.all().await?;
        for list in &self.settings.lists {
            let wanted: Vec<&(String, Written)> = rows
                .iter()
                .filter(|(_, written)| list.when.iter().all(|c| c.holds(&written.properties, &names)))
                .collect();
            let mut desired = HashSet::new();
            let mut found_ids = Vec::new();
            for (key, written) in wanted {
                let id = match &written.profile_id {
                    Some(id) => Some(id.clone()),
                    None => {
                        let lookup = match (&written.identity.email, &written.identity.external_id) {
                            (Some(email), _) => Some(ProfileKey::email(email)),
                            (None, Some(external_id)) => Some(ProfileKey::ExternalId(external_id.clone())),
                            (None, None) => None,
                        };
                        match lookup {
                            Some(lookup) => {
                                let id = client.find_profile_id(&lookup).await?;
                                if let Some(id) = &id {
                                    found_ids.push((key.clone(), id.clone()));
                                }
                                id
                            }
                            None => None,
                        }
                    }
                };
                desired.extend(id);
            }
            if !dry_run {
                self.store.set_profile_ids(&found_ids).await?;
            }
            let list_id = if dry_run {
                client.find_list_by_name(&list.name).await?
            } else {
                Some(client.ensure_list(&list.name).await?.id)
            };
            let current: HashSet<String> = match &list_id {
                Some(id) => client.list_profile_ids(id).await?.into_iter().collect(),
                None => HashSet::new(),
            };
            let mut add: Vec<String> = desired.difference(&current).cloned().collect();
            let mut remove: Vec<String> = current.difference(&desired).cloned().collect();
            add.sort();
            remove.sort();
            if let (false, Some(id)) = (dry_run, &list_id) {
                if !add.is_empty() {
                    client.add_profiles_to_list(id, &add).await?;
                }
                if !remove.is_empty() {
                    client.remove_profiles_from_list(id, &remove).await?;
                }
            }
            results.push(ListResult {
                name: list.name.clone(),
                added: add.len() as u64,
                removed: remove.len() as u64,
            });
        }
        Ok((results, client.stats()))
    }
}

fn change(target: ProfileTarget, unset: Vec<String>) -> ProfileChange {
    ProfileChange {
        customer_id: target.customer_id,
        identity: target.identity,
        set: target.set,
        unset,
    }
}

/// One result per customer from its profiles' results: a failure wins, then a dry run,
/// then a creation, an update; all unchanged is unchanged.
fn merge(customer_id: &str, results: Vec<RecordResult>) -> RecordResult {
    let rank = |outcome: Outcome| match outcome {
        Outcome::Failed => 0,
        Outcome::DryRun => 1,
        Outcome::Created => 2,
        Outcome::Updated => 3,
        _ => 4,
    };
    results
        .into_iter()
        .min_by_key(|result| rank(result.outcome))
        .unwrap_or_else(|| RecordResult::failed(customer_id, "no profile written".to_owned(), true))
}

/// Builds an event from the wire form; an event that cannot be read is reported, not fatal.
pub fn event_from_pb(event: &ledgerlink_proto::types::v1::ReminderEvent) -> EventRequest {
    let invalid = |reason: String| EventRequest::Invalid {
        key: event.key.clone(),
        reason,
    };
    let Some(time) = event.time.as_ref() else {
        return invalid("event has no time".to_owned());
    };
    let time = match ledgerlink_proto::convert::timestamp_from_pb(time, "time") {
        Ok(time) => time,
        Err(error) => return invalid(error.to_string()),
    };
    let properties = if event.properties_json.trim().is_empty() {
        Map::new()
    } else {
        match serde_json::from_str::<Value>(&event.properties_json) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return invalid("properties_json is not a json object".to_owned()),
            Err(error) => return invalid(format!("properties_json: {error}")),
        }
    };
    let (value, value_currency) = match &event.value {
        None => (None, None),
        Some(money) => match ledgerlink_proto::convert::money_from_pb(money, "value") {
            Ok(amount) => (
                Some(amount.amount()),
                Some(money.currency.clone()).filter(|c| !c.is_empty()),
            ),
            Err(error) => return invalid(error.to_string()),
        },
    };
    let identity = event.profile.clone().unwrap_or_default();
    EventRequest::Event(EventInput {
        metric: event.metric.clone(),
        unique_id: event.key.clone(),
        time,
        value,
        value_currency,
        properties,
        profile: EventProfile {
            email: identity.email.filter(|e| !e.trim().is_empty()),
            external_id: identity.external_id.filter(|e| !e.trim().is_empty()),
            phone_number: None,
        },
    })
}
