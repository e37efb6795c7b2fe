//! Carrying one run through the services: extract → score → profiles → plan → events
//! → confirm, batch by batch, with a checkpoint after each batch.
//!
//! Extraction runs ahead in its own task into a bounded channel; up to `in_flight`
//! batches go through the downstream phases at once (Klaviyo's bulk jobs take seconds,
//! and waiting for one must not stall the next), and checkpoints are written in batch
//! order, so a restart resumes after the last batch whose every earlier batch is done.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use ledgerlink_domain::{RecordKind, Rejection};
use ledgerlink_proto::convert::{date_to_pb, rejection_from_pb, timestamp_from_pb, timestamp_to_pb};
use ledgerlink_proto::extractor::v1::{
    ExtractRequest, ExtractSummary, FullScope, IncrementalScope, SnapshotBatch, TargetScope, extract_request,
    extract_response,
};
use ledgerlink_proto::klaviyo::v1::{CustomerContacts, SendEventsRequest, UpsertProfilesRequest};
use ledgerlink_proto::reminder::v1::{ConfirmRequest, PlanItem, PlanRequest};
use ledgerlink_proto::scoring::v1::{CompleteRunRequest, ScoreRequest};
use ledgerlink_proto::types::v1 as pb;
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};
use tokio_retry::RetryIf;
use tokio_retry::strategy::{ExponentialBackoff, jitter};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Code, Status};
use tracing::Instrument;

use crate::clients::Clients;
use crate::metrics::RunMetrics;
use crate::run::{Phase, Preview, Progress, Report, RunKind, RunRecord, RunState};
use crate::store::{Store, StoreError};

/// How runs are carried out.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExecSettings {
    /// Customers per batch.
    pub batch_size: u32,
    /// Batches in the downstream phases at once.
    pub in_flight: usize,
    /// Batches extracted ahead of processing.
    pub read_ahead: usize,
    /// Attempts of a call that fails for a passing reason.
    pub attempts: usize,
    /// First backoff between attempts, in milliseconds (doubling, jittered).
    pub backoff_millis: u64,
    /// Longest backoff between attempts, in milliseconds.
    pub max_backoff_millis: u64,
}

impl Default for ExecSettings {
    fn default() -> Self {
        ExecSettings {
            batch_size: 500,
            in_flight: 4,
            read_ahead: 4,
            attempts: 6,
            backoff_millis: 200,
            max_backoff_millis: 10_000,
        }
    }
}

/// Why a run could not finish.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A service kept failing.
    #[error("{service} failed: {status}")]
    Service {
        /// Which service.
        service: &'static str,
        /// Its last answer.
        status: Box<Status>,
    },
    /// A service answered something that breaks the contract.
    #[error("{service} broke the contract: {reason}")]
    Contract {
        /// Which service.
        service: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The coordinator's own store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The run was cancelled.
    #[error("cancelled")]
    Cancelled,
}

/// Codes a retry may get past: the callee is restarting, overloaded or unreachable.
fn is_transient(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Aborted | Code::Unknown
    )
}

/// Runs runs.
#[derive(Debug, Clone)]
pub struct Executor {
    clients: Clients,
    store: Store,
    settings: ExecSettings,
    metrics: RunMetrics,
}

/// The result of one batch through every phase.
#[derive(Debug, Default)]
struct BatchOutcome {
    sequence: i64,
    last_customer_id: String,
    customers: u64,
    rejections: Vec<Rejection>,
    report: Report,
}

/// The name of the watermark a run reads and advances.
pub fn watermark_name(run: &RunRecord) -> String {
    if run.targets.standings.is_empty() {
        "incremental".to_owned()
    } else {
        format!("incremental:{}", run.targets.standings.join(","))
    }
}

impl Executor {
    /// Builds an executor.
    pub fn new(clients: Clients, store: Store, settings: ExecSettings) -> Executor {
        Executor {
            clients,
            store,
            settings,
            metrics: RunMetrics::new(),
        }
    }

    /// The run metrics this executor records on.
    pub fn metrics(&self) -> &RunMetrics {
        &self.metrics
    }

    fn backoff(&self) -> impl Iterator<Item = Duration> + use<> {
        ExponentialBackoff::from_millis(self.settings.backoff_millis.max(1))
            .factor(2)
            .max_delay(Duration::from_millis(self.settings.max_backoff_millis))
            .map(jitter)
            .take(self.settings.attempts.saturating_sub(1))
    }

    /// Carries `run` (already marked running) to its end, publishing progress through
    /// `publish`, and returns its final state, report and error.
    pub async fn execute(
        &self,
        run: &RunRecord,
        cancel: CancellationToken,
        publish: impl Fn(&Progress, &Report),
    ) -> (RunState, Report, Option<String>) {
        let started = Instant::now();
        let mut report = run.report.clone();
        let result = self.execute_inner(run, &cancel, &mut report, &publish).await;
        report.duration_millis += u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match result {
            Ok(()) => (RunState::Succeeded, report, None),
            Err(RunError::Cancelled) => (RunState::Cancelled, report, None),
            Err(error) => {
                tracing::error!(run_id = %run.run_id, error = %error, "run failed");
                (RunState::Failed, report, Some(error.to_string()))
            }
        }
    }

    async fn execute_inner(
        &self,
        run: &RunRecord,
        cancel: &CancellationToken,
        report: &mut Report,
        publish: &impl Fn(&Progress, &Report),
    ) -> Result<(), RunError> {
        let checkpoint = self.store.last_checkpoint(&run.run_id).await?;
        let (next_sequence, resume_after) = match &checkpoint {
            Some((sequence, last)) => (sequence + 1, last.clone()),
            None => (0, String::new()),
        };
        if checkpoint.is_some() {
            tracing::info!(run_id = %run.run_id, next_sequence, "resuming run from checkpoint");
        }
        let request = self.extract_request(run, resume_after).await?;

        let (batch_sender, batch_receiver) = mpsc::channel(self.settings.read_ahead.max(1));
        let (summary_sender, summary_receiver) = oneshot::channel();
        // Within the run's span, so the extract stream is part of the run's trace.
        let extraction = tokio::spawn(
            extract(
                self.clients.clone(),
                request,
                self.backoff(),
                batch_sender,
                summary_sender,
                cancel.clone(),
            )
            .instrument(tracing::Span::current()),
        );

        let mut progress = run.progress.clone();
        let started = Instant::now();
        let done_before = progress.records_done;
        let mut outcomes = ReceiverStream::new(batch_receiver)
            .map(|batch: Result<SnapshotBatch, RunError>| async move {
                let batch = batch?;
                // One span per batch (never per record): the RPCs of its phases hang off it.
                let span = tracing::info_span!(
                    "batch",
                    batch.sequence = next_sequence + i64::try_from(batch.sequence).unwrap_or(i64::MAX),
                    batch.customers = batch.snapshots.len(),
                );
                self.process_batch(run, next_sequence, batch).instrument(span).await
            })
            .buffered(self.settings.in_flight.max(1));
        while let Some(outcome) = outcomes.next().await {
            if cancel.is_cancelled() {
                return Err(RunError::Cancelled);
            }
            let outcome = outcome?;
            self.metrics
                .batch_done(run.kind, outcome.customers, &outcome.rejections);
            let now = Utc::now();
            self.store.add_rejects(&run.run_id, &outcome.rejections, now).await?;
            merge(report, outcome.report);
            progress.batches_done += 1;
            progress.records_done += outcome.customers;
            progress.rejects += outcome.rejections.len() as u64;
            progress.phase = Phase::Confirm;
            let elapsed = started.elapsed().as_secs_f64();
            if elapsed > 0.0 {
                progress.records_per_second = (progress.records_done - done_before) as f64 / elapsed;
            }
            if progress.records_total > progress.records_done && progress.records_per_second > 0.0 {
                let left = (progress.records_total - progress.records_done) as f64;
                progress.eta_seconds = Some((left / progress.records_per_second).ceil() as u64);
            }
            self.store.save_progress(&run.run_id, &progress, report).await?;
            if !outcome.last_customer_id.is_empty() {
                self.store
                    .checkpoint(&run.run_id, outcome.sequence, &outcome.last_customer_id, now)
                    .await?;
            }
            publish(&progress, report);
        }
        drop(outcomes);
        match extraction.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(error),
            Err(join) => {
                return Err(RunError::Contract {
                    service: "extractor",
                    reason: format!("extraction task failed: {join}"),
                });
            }
        }
        if cancel.is_cancelled() {
            return Err(RunError::Cancelled);
        }
        let summary = summary_receiver.await.map_err(|_| RunError::Contract {
            service: "extractor",
            reason: "extraction ended without a summary".to_owned(),
        })?;
        report.netsuite_requests += summary.requests.as_ref().map_or(0, |r| r.requests);
        progress.phase = Phase::Finish;
        publish(&progress, report);
        if run.dry_run {
            return Ok(());
        }
        let completed = self
            .call_with_retry("scoring", || {
                let mut scoring = self.clients.scoring.clone();
                let run_id = run.run_id.clone();
                async move { scoring.complete_run(CompleteRunRequest { run_id }).await }
            })
            .await;
        match completed {
            Ok(_) => {}
            // Scoring never saw a run that extracted nobody (an incremental run with no
            // changes): there is no history to complete.
            Err(RunError::Service { status, .. }) if status.code() == Code::NotFound => {}
            Err(error) => return Err(error),
        }
        if matches!(run.kind, RunKind::Full | RunKind::Incremental)
            && let Some(watermark) = summary.watermark.as_ref()
        {
            let value = timestamp_from_pb(watermark, "watermark").map_err(|e| RunError::Contract {
                service: "extractor",
                reason: e.to_string(),
            })?;
            self.advance_watermarks(run, value).await?;
        }
        Ok(())
    }

    async fn advance_watermarks(&self, run: &RunRecord, value: DateTime<Utc>) -> Result<(), RunError> {
        let now = Utc::now();
        self.store
            .advance_watermark(&watermark_name(run), value, &run.run_id, now)
            .await?;
        // A full run saw every change up to its start: narrower incrementals may move too.
        if run.kind == RunKind::Full {
            self.store
                .advance_watermark("incremental", value, &run.run_id, now)
                .await?;
        }
        Ok(())
    }

    async fn extract_request(&self, run: &RunRecord, resume_after: String) -> Result<ExtractRequest, RunError> {
        let scope = match run.kind {
            RunKind::Full => extract_request::Scope::Full(FullScope {
                after_customer_id: resume_after,
                until_customer_id: String::new(),
            }),
            RunKind::Incremental => {
                let name = watermark_name(run);
                let since = match self.store.watermark(&name).await? {
                    Some(since) => Some(since),
                    None => self.store.watermark("incremental").await?,
                };
                match since {
                    Some(since) => extract_request::Scope::Incremental(IncrementalScope {
                        since: Some(timestamp_to_pb(since)),
                        after_customer_id: resume_after,
                    }),
                    // Never a successful run before: everything has changed.
                    None => extract_request::Scope::Full(FullScope {
                        after_customer_id: resume_after,
                        until_customer_id: String::new(),
                    }),
                }
            }
            RunKind::Customer | RunKind::Invoice => extract_request::Scope::Targets(TargetScope {
                customer_ids: run.targets.customer_ids.clone(),
                invoice_ids: run.targets.invoice_ids.clone(),
            }),
        };
        Ok(ExtractRequest {
            scope: Some(scope),
            batch_size: self.settings.batch_size,
            run_id: run.run_id.clone(),
        })
    }

    /// Calls `call` until it succeeds, fails for a lasting reason, or attempts run out.
    async fn call_with_retry<T, F, Fut>(&self, service: &'static str, mut call: F) -> Result<T, RunError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        RetryIf::start(self.backoff(), &mut call, |status: &Status| {
            let transient = is_transient(status);
            if transient {
                tracing::warn!(service, code = ?status.code(), "call failed, retrying");
            }
            transient
        })
        .await
        .map(tonic::Response::into_inner)
        .map_err(|status| RunError::Service {
            service,
            status: Box::new(status),
        })
    }

    /// Sends one request on a fresh bidirectional stream and reads its one response.
    async fn one_on_stream<Req, Resp, F, Fut>(
        &self,
        service: &'static str,
        request: Req,
        call: F,
    ) -> Result<Resp, RunError>
    where
        Req: Clone + Send + 'static,
        F: Fn(tokio_stream::Iter<std::vec::IntoIter<Req>>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<tonic::Streaming<Resp>>, Status>>,
    {
        let mut stream = self
            .call_with_retry(service, || call(tokio_stream::iter(vec![request.clone()])))
            .await?;
        match stream.message().await {
            Ok(Some(response)) => Ok(response),
            Ok(None) => Err(RunError::Contract {
                service,
                reason: "stream closed without a response".to_owned(),
            }),
            Err(status) => Err(RunError::Service {
                service,
                status: Box::new(status),
            }),
        }
    }

    async fn process_batch(
        &self,
        run: &RunRecord,
        first_sequence: i64,
        batch: SnapshotBatch,
    ) -> Result<BatchOutcome, RunError> {
        let sequence = first_sequence + i64::try_from(batch.sequence).unwrap_or(i64::MAX);
        let wire_sequence = u64::try_from(sequence).unwrap_or_default();
        let mut outcome = BatchOutcome {
            sequence,
            last_customer_id: batch.last_customer_id.clone(),
            customers: batch.snapshots.len() as u64,
            rejections: batch.rejections.iter().map(rejection_from_pb).collect(),
            report: Report::default(),
        };
        outcome.report.count(
            Phase::Extract,
            batch.snapshots.len() as u64,
            batch.rejections.len() as u64,
        );
        let as_of = Some(date_to_pb(run.as_of));

        let mut snapshots = batch.snapshots;
        if !run.targets.standings.is_empty() {
            snapshots = self.narrow_to_standings(run, wire_sequence, snapshots).await?;
        }
        let scored = self
            .one_on_stream(
                "scoring",
                ScoreRequest {
                    run_id: run.run_id.clone(),
                    as_of,
                    sequence: wire_sequence,
                    snapshots: snapshots.clone(),
                    dry_run: run.dry_run,
                },
                |request| {
                    let mut scoring = self.clients.scoring.clone();
                    async move { scoring.score(request).await }
                },
            )
            .await?;
        outcome
            .rejections
            .extend(scored.rejections.iter().map(rejection_from_pb));
        outcome
            .report
            .count(Phase::Score, scored.scores.len() as u64, scored.rejections.len() as u64);
        outcome.report.migrations += scored.migrations.len() as u64;

        let profiles = self
            .one_on_stream(
                "klaviyo-gateway",
                UpsertProfilesRequest {
                    run_id: run.run_id.clone(),
                    sequence: wire_sequence,
                    scores: scored.scores.clone(),
                    dry_run: run.dry_run,
                    force: false,
                    synced_at: Some(timestamp_to_pb(Utc::now())),
                    contacts: snapshots
                        .iter()
                        .filter(|s| !s.contacts.is_empty())
                        .filter_map(|s| {
                            Some(CustomerContacts {
                                customer_id: s.customer.as_ref()?.id.clone(),
                                contacts: s.contacts.clone(),
                            })
                        })
                        .collect(),
                },
                |request| {
                    let mut gateway = self.clients.gateway.clone();
                    async move { gateway.upsert_profiles(request).await }
                },
            )
            .await?;
        outcome.report.klaviyo_requests += profiles.requests.as_ref().map_or(0, |r| r.requests);
        let mut profile_failures = 0;
        for result in &profiles.results {
            match pb::RecordOutcome::try_from(result.outcome) {
                Ok(pb::RecordOutcome::Created) => outcome.report.profiles_created += 1,
                Ok(pb::RecordOutcome::Updated) => outcome.report.profiles_updated += 1,
                Ok(pb::RecordOutcome::Unchanged) => outcome.report.profiles_unchanged += 1,
                Ok(pb::RecordOutcome::Skipped) => {
                    outcome.report.profiles_skipped += 1;
                    outcome
                        .rejections
                        .push(record_rejection(result, RecordKind::Profile, "identity"));
                }
                Ok(pb::RecordOutcome::Failed) => {
                    profile_failures += 1;
                    outcome.report.profiles_failed += 1;
                    outcome
                        .rejections
                        .push(record_rejection(result, RecordKind::Profile, "profile"));
                }
                _ => {}
            }
        }
        outcome
            .report
            .count(Phase::Profiles, profiles.results.len() as u64, profile_failures);

        let scores_by_customer: HashMap<&str, &pb::CustomerScore> =
            scored.scores.iter().map(|s| (s.customer_id.as_str(), s)).collect();
        let mut migrations_by_customer: HashMap<&str, Vec<pb::SegmentMigration>> = HashMap::new();
        for migration in &scored.migrations {
            migrations_by_customer
                .entry(migration.customer_id.as_str())
                .or_default()
                .push(migration.clone());
        }
        let items: Vec<PlanItem> = snapshots
            .iter()
            .filter_map(|snapshot| {
                let customer_id = snapshot.customer.as_ref()?.id.as_str();
                let score = scores_by_customer.get(customer_id)?;
                Some(PlanItem {
                    snapshot: Some(snapshot.clone()),
                    score: Some((*score).clone()),
                    migrations: migrations_by_customer.remove(customer_id).unwrap_or_default(),
                })
            })
            .collect();
        let planned = self
            .one_on_stream(
                "reminder",
                PlanRequest {
                    run_id: run.run_id.clone(),
                    as_of: Some(date_to_pb(run.as_of)),
                    sequence: wire_sequence,
                    items,
                    dry_run: run.dry_run,
                },
                |request| {
                    let mut reminder = self.clients.reminder.clone();
                    async move { reminder.plan(request).await }
                },
            )
            .await?;
        outcome.report.count(
            Phase::Plan,
            planned.events.len() as u64,
            planned.rejections.len() as u64,
        );

        if run.dry_run {
            outcome.report.previews = previews(&profiles.changes, &planned.events);
            return Ok(outcome);
        }
        if planned.events.is_empty() {
            return Ok(outcome);
        }
        let sent = self
            .one_on_stream(
                "klaviyo-gateway",
                SendEventsRequest {
                    run_id: run.run_id.clone(),
                    sequence: wire_sequence,
                    events: planned.events.clone(),
                    dry_run: false,
                },
                |request| {
                    let mut gateway = self.clients.gateway.clone();
                    async move { gateway.send_events(request).await }
                },
            )
            .await?;
        outcome.report.klaviyo_requests += sent.requests.as_ref().map_or(0, |r| r.requests);
        let metric_of: HashMap<&str, &str> = planned
            .events
            .iter()
            .map(|e| (e.key.as_str(), e.metric.as_str()))
            .collect();
        let mut sent_keys = Vec::new();
        let mut event_failures = 0;
        for result in &sent.results {
            match pb::RecordOutcome::try_from(result.outcome) {
                Ok(pb::RecordOutcome::Sent | pb::RecordOutcome::Duplicate) => {
                    if let Some(metric) = metric_of.get(result.record_id.as_str()) {
                        *outcome.report.events_by_kind.entry((*metric).to_owned()).or_default() += 1;
                    }
                    sent_keys.push(result.record_id.clone());
                }
                _ => {
                    // Left reserved: the reservation expires and a later run plans it again.
                    event_failures += 1;
                    outcome
                        .rejections
                        .push(record_rejection(result, RecordKind::Event, "event"));
                }
            }
        }
        outcome
            .report
            .count(Phase::Events, sent.results.len() as u64, event_failures);
        if !sent_keys.is_empty() {
            let count = sent_keys.len() as u64;
            self.call_with_retry("reminder", || {
                let mut reminder = self.clients.reminder.clone();
                let request = ConfirmRequest {
                    run_id: run.run_id.clone(),
                    keys: sent_keys.clone(),
                };
                async move { reminder.confirm(request).await }
            })
            .await?;
            outcome.report.count(Phase::Confirm, count, 0);
        }
        Ok(outcome)
    }

    /// Keeps the customers whose standing, now or before this run, is one of the run's
    /// standings; scoring them once without recording tells which.
    async fn narrow_to_standings(
        &self,
        run: &RunRecord,
        sequence: u64,
        snapshots: Vec<pb::CustomerSnapshot>,
    ) -> Result<Vec<pb::CustomerSnapshot>, RunError> {
        let probe = self
            .one_on_stream(
                "scoring",
                ScoreRequest {
                    run_id: run.run_id.clone(),
                    as_of: Some(date_to_pb(run.as_of)),
                    sequence,
                    snapshots: snapshots.clone(),
                    dry_run: true,
                },
                |request| {
                    let mut scoring = self.clients.scoring.clone();
                    async move { scoring.score(request).await }
                },
            )
            .await?;
        let watched = |standing: &str| run.targets.standings.iter().any(|s| s == standing);
        let mut keep: std::collections::HashSet<&str> = probe
            .scores
            .iter()
            .filter(|s| watched(&s.account_standing))
            .map(|s| s.customer_id.as_str())
            .collect();
        keep.extend(
            probe
                .migrations
                .iter()
                .filter(|m| m.dimension == pb::SegmentDimension::AccountStanding as i32 && watched(&m.from_segment))
                .map(|m| m.customer_id.as_str()),
        );
        Ok(snapshots
            .into_iter()
            .filter(|s| s.customer.as_ref().is_some_and(|c| keep.contains(c.id.as_str())))
            .collect())
    }
}

fn record_rejection(result: &pb::RecordResult, kind: RecordKind, field: &str) -> Rejection {
    let customer_id = match kind {
        RecordKind::Profile => result.record_id.clone(),
        _ => String::new(),
    };
    Rejection {
        customer_id,
        record_kind: kind,
        record_id: result.record_id.clone(),
        field: field.to_owned(),
        reason: result.reason.clone(),
    }
}

fn previews(changes: &[ledgerlink_proto::klaviyo::v1::ProfileChange], events: &[pb::ReminderEvent]) -> Vec<Preview> {
    let mut by_customer: BTreeMap<String, Preview> = BTreeMap::new();
    for change in changes {
        let preview = by_customer.entry(change.customer_id.clone()).or_default();
        preview.customer_id = change.customer_id.clone();
        preview.set_properties_json = change.set_properties_json.clone();
        preview.unset_properties = change.unset_properties.clone();
    }
    for event in events {
        let preview = by_customer.entry(event.customer_id.clone()).or_default();
        preview.customer_id = event.customer_id.clone();
        preview.events.push((event.key.clone(), event.metric.clone()));
    }
    by_customer.into_values().collect()
}

fn merge(total: &mut Report, batch: Report) {
    for (phase, (records, rejected)) in batch.phases {
        total.count(phase, records, rejected);
    }
    total.profiles_created += batch.profiles_created;
    total.profiles_updated += batch.profiles_updated;
    total.profiles_unchanged += batch.profiles_unchanged;
    total.profiles_skipped += batch.profiles_skipped;
    total.profiles_failed += batch.profiles_failed;
    for (metric, count) in batch.events_by_kind {
        *total.events_by_kind.entry(metric).or_default() += count;
    }
    total.migrations += batch.migrations;
    total.netsuite_requests += batch.netsuite_requests;
    total.klaviyo_requests += batch.klaviyo_requests;
    total.previews.extend(batch.previews);
}

/// Reads the extract stream into `batches`; on a passing failure it reconnects after
/// the last customer received (for keyset scopes) and goes on.
async fn extract(
    clients: Clients,
    mut request: ExtractRequest,
    backoff: impl Iterator<Item = Duration>,
    batches: mpsc::Sender<Result<SnapshotBatch, RunError>>,
    summary: oneshot::Sender<ExtractSummary>,
    cancel: CancellationToken,
) -> Result<(), RunError> {
    let mut backoff = backoff;
    let mut sequence_base = 0u64;
    loop {
        let mut received = 0u64;
        let attempt = async {
            let mut stream = clients.extractor.clone().extract(request.clone()).await?.into_inner();
            while let Some(item) = stream.message().await? {
                match item.item {
                    Some(extract_response::Item::Batch(mut batch)) => {
                        batch.sequence += sequence_base;
                        received += 1;
                        let last = batch.last_customer_id.clone();
                        if batches.send(Ok(batch)).await.is_err() {
                            // The consumer stopped (failure or cancel): nothing more to do.
                            return Ok(None);
                        }
                        resume_after(&mut request, last);
                    }
                    Some(extract_response::Item::Summary(done)) => return Ok(Some(done)),
                    None => {}
                }
            }
            Err(Status::unavailable("extract stream ended without a summary"))
        };
        let result: Result<Option<ExtractSummary>, Status> = tokio::select! {
            result = attempt => result,
            () = cancel.cancelled() => return Err(RunError::Cancelled),
        };
        sequence_base += received;
        match result {
            Ok(Some(done)) => {
                let _ = summary.send(done);
                return Ok(());
            }
            Ok(None) => return Ok(()),
            Err(status) => {
                let retry = is_transient(&status) && can_resume(&request, received);
                if let Some(wait) = backoff.next().filter(|_| retry) {
                    tracing::warn!(code = ?status.code(), received, "extract stream broke, reconnecting");
                    tokio::time::sleep(wait).await;
                    continue;
                }
                let error = RunError::Service {
                    service: "extractor",
                    status: Box::new(status),
                };
                // The batch consumer learns of the failure in order, after the batches
                // that did arrive.
                let _ = batches
                    .send(Err(RunError::Contract {
                        service: "extractor",
                        reason: error.to_string(),
                    }))
                    .await;
                return Err(error);
            }
        }
    }
}

/// Keyset scopes resume after the last customer received; a targeted scope can only
/// start over, which is safe only before anything was passed on.
fn can_resume(request: &ExtractRequest, received: u64) -> bool {
    match &request.scope {
        Some(extract_request::Scope::Targets(_)) => received == 0,
        _ => true,
    }
}

fn resume_after(request: &mut ExtractRequest, last_customer_id: String) {
    if last_customer_id.is_empty() {
        return;
    }
    match &mut request.scope {
        Some(extract_request::Scope::Full(full)) => full.after_customer_id = last_customer_id,
        Some(extract_request::Scope::Incremental(incremental)) => incremental.after_customer_id = last_customer_id,
        _ => {}
    }
}
