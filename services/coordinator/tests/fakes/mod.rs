//! In-process stand-ins for the four services a run goes through, recording what they
//! were asked, so the coordinator's orchestration can be tested on its own.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use ledgerlink_proto::extractor::v1::extractor_service_server::{ExtractorService, ExtractorServiceServer};
use ledgerlink_proto::extractor::v1::{
    ExtractRequest, ExtractResponse, ExtractSummary, SnapshotBatch, extract_request, extract_response,
};
use ledgerlink_proto::klaviyo::v1::klaviyo_gateway_service_server::{
    KlaviyoGatewayService, KlaviyoGatewayServiceServer,
};
use ledgerlink_proto::klaviyo::v1::*;
use ledgerlink_proto::reminder::v1::reminder_service_server::{ReminderService, ReminderServiceServer};
use ledgerlink_proto::reminder::v1::*;
use ledgerlink_proto::scoring::v1::scoring_service_server::{ScoringService, ScoringServiceServer};
use ledgerlink_proto::scoring::v1::*;
use ledgerlink_proto::types::v1 as pb;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// What the fakes saw.
#[derive(Debug, Default)]
pub struct Seen {
    pub extract_calls: Vec<ExtractRequest>,
    pub scored: Vec<String>,
    pub profiled: Vec<String>,
    pub planned: Vec<String>,
    pub sent: Vec<String>,
    pub confirmed: Vec<String>,
    pub completed_runs: Vec<String>,
}

/// Shared state of the fakes.
#[derive(Debug, Default, Clone)]
pub struct Fakes {
    pub seen: Arc<Mutex<Seen>>,
    pub customers: Arc<Vec<String>>,
    /// Break the extract stream once after this many batches.
    pub break_extract_after: Arc<Mutex<Option<usize>>>,
    /// Customers whose profile write fails.
    pub failing_profiles: Arc<Vec<String>>,
    /// When set, Extract waits for a permit before answering.
    pub extract_gate: Option<Arc<tokio::sync::Semaphore>>,
}

fn snapshot(id: &str) -> pb::CustomerSnapshot {
    pb::CustomerSnapshot {
        customer: Some(pb::Customer {
            id: id.to_owned(),
            email: Some(format!("{id}@example.com")),
            ..Default::default()
        }),
        ..Default::default()
    }
}

impl Fakes {
    pub fn new(count: usize) -> Fakes {
        Fakes {
            customers: Arc::new((0..count).map(|i| format!("{:05}", i + 1)).collect()),
            ..Default::default()
        }
    }

    pub fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap()
    }
}

#[tonic::async_trait]
impl ExtractorService for Fakes {
    type ExtractStream = BoxStream<ExtractResponse>;

    async fn extract(&self, request: Request<ExtractRequest>) -> Result<Response<Self::ExtractStream>, Status> {
        let request = request.into_inner();
        self.seen().extract_calls.push(request.clone());
        if let Some(gate) = &self.extract_gate {
            let _permit = gate.acquire().await.map_err(|_| Status::unavailable("gate closed"))?;
        }
        let ids: Vec<String> = match &request.scope {
            Some(extract_request::Scope::Full(full)) => self
                .customers
                .iter()
                .filter(|id| full.after_customer_id.is_empty() || **id > full.after_customer_id)
                .cloned()
                .collect(),
            Some(extract_request::Scope::Incremental(inc)) => self
                .customers
                .iter()
                .filter(|id| inc.after_customer_id.is_empty() || **id > inc.after_customer_id)
                .take(3)
                .cloned()
                .collect(),
            Some(extract_request::Scope::Targets(targets)) => targets.customer_ids.clone(),
            None => return Err(Status::invalid_argument("no scope")),
        };
        let size = request.batch_size.max(1) as usize;
        let break_after = self.break_extract_after.lock().unwrap().take();
        let mut items = Vec::new();
        for (sequence, chunk) in ids.chunks(size).enumerate() {
            if break_after == Some(sequence) {
                items.push(Err(Status::unavailable("connection reset")));
                break;
            }
            items.push(Ok(ExtractResponse {
                item: Some(extract_response::Item::Batch(SnapshotBatch {
                    sequence: sequence as u64,
                    snapshots: chunk.iter().map(|id| snapshot(id)).collect(),
                    rejections: vec![],
                    last_customer_id: chunk.last().cloned().unwrap_or_default(),
                })),
            }));
        }
        if break_after.is_none() || break_after >= Some(ids.chunks(size).count()) {
            items.push(Ok(ExtractResponse {
                item: Some(extract_response::Item::Summary(ExtractSummary {
                    customers: ids.len() as u64,
                    watermark: Some(prost_types::Timestamp {
                        seconds: 1_790_000_000,
                        nanos: 0,
                    }),
                    requests: Some(pb::RequestStats {
                        requests: 7,
                        ..Default::default()
                    }),
                    ..Default::default()
                })),
            }));
        }
        Ok(Response::new(Box::pin(tokio_stream::iter(items))))
    }
}

async fn first<T>(request: Request<Streaming<T>>) -> Result<T, Status> {
    request
        .into_inner()
        .message()
        .await?
        .ok_or_else(|| Status::invalid_argument("empty stream"))
}

#[tonic::async_trait]
impl ScoringService for Fakes {
    type ScoreStream = BoxStream<ScoreResponse>;

    async fn score(&self, request: Request<Streaming<ScoreRequest>>) -> Result<Response<Self::ScoreStream>, Status> {
        let request = first(request).await?;
        let scores: Vec<pb::CustomerScore> = request
            .snapshots
            .iter()
            .map(|s| {
                let id = s.customer.as_ref().unwrap().id.clone();
                pb::CustomerScore {
                    customer_id: id,
                    account_standing: "standard".into(),
                    customer: s.customer.clone(),
                    ..Default::default()
                }
            })
            .collect();
        if !request.dry_run {
            self.seen().scored.extend(scores.iter().map(|s| s.customer_id.clone()));
        }
        let response = ScoreResponse {
            sequence: request.sequence,
            scores,
            ..Default::default()
        };
        Ok(Response::new(Box::pin(tokio_stream::iter([Ok(response)]))))
    }

    async fn explain(&self, _: Request<ExplainRequest>) -> Result<Response<ExplainResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn complete_run(
        &self,
        request: Request<CompleteRunRequest>,
    ) -> Result<Response<CompleteRunResponse>, Status> {
        self.seen().completed_runs.push(request.into_inner().run_id);
        Ok(Response::new(CompleteRunResponse::default()))
    }

    async fn get_rules(&self, _: Request<GetRulesRequest>) -> Result<Response<GetRulesResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn validate_rules(
        &self,
        _: Request<ValidateRulesRequest>,
    ) -> Result<Response<ValidateRulesResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn reload_rules(&self, _: Request<ReloadRulesRequest>) -> Result<Response<ReloadRulesResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn list_migrations(
        &self,
        _: Request<ListMigrationsRequest>,
    ) -> Result<Response<ListMigrationsResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
}

#[tonic::async_trait]
impl KlaviyoGatewayService for Fakes {
    type UpsertProfilesStream = BoxStream<UpsertProfilesResponse>;
    type SendEventsStream = BoxStream<SendEventsResponse>;

    async fn upsert_profiles(
        &self,
        request: Request<Streaming<UpsertProfilesRequest>>,
    ) -> Result<Response<Self::UpsertProfilesStream>, Status> {
        let request = first(request).await?;
        let mut results = Vec::new();
        let mut changes = Vec::new();
        for score in &request.scores {
            let failing = self.failing_profiles.contains(&score.customer_id);
            let outcome = match (request.dry_run, failing) {
                (true, _) => pb::RecordOutcome::DryRun,
                (false, true) => pb::RecordOutcome::Failed,
                (false, false) => pb::RecordOutcome::Updated,
            };
            if !request.dry_run && !failing {
                self.seen().profiled.push(score.customer_id.clone());
            }
            if request.dry_run {
                changes.push(ProfileChange {
                    customer_id: score.customer_id.clone(),
                    set_properties_json: r#"{"account_standing":"standard"}"#.into(),
                    ..Default::default()
                });
            }
            results.push(pb::RecordResult {
                record_id: score.customer_id.clone(),
                outcome: outcome as i32,
                reason: if failing { "invalid email".into() } else { String::new() },
                retryable: false,
            });
        }
        let response = UpsertProfilesResponse {
            sequence: request.sequence,
            results,
            changes,
            requests: Some(pb::RequestStats {
                requests: 1,
                ..Default::default()
            }),
        };
        Ok(Response::new(Box::pin(tokio_stream::iter([Ok(response)]))))
    }

    async fn send_events(
        &self,
        request: Request<Streaming<SendEventsRequest>>,
    ) -> Result<Response<Self::SendEventsStream>, Status> {
        let request = first(request).await?;
        let results = request
            .events
            .iter()
            .map(|e| {
                self.seen().sent.push(e.key.clone());
                pb::RecordResult {
                    record_id: e.key.clone(),
                    outcome: pb::RecordOutcome::Sent as i32,
                    ..Default::default()
                }
            })
            .collect();
        let response = SendEventsResponse {
            sequence: request.sequence,
            results,
            requests: Some(pb::RequestStats {
                requests: 1,
                ..Default::default()
            }),
        };
        Ok(Response::new(Box::pin(tokio_stream::iter([Ok(response)]))))
    }

    async fn sync_lists(&self, _: Request<SyncListsRequest>) -> Result<Response<SyncListsResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn apply_segments(
        &self,
        _: Request<ApplySegmentsRequest>,
    ) -> Result<Response<ApplySegmentsResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn preview_profile(
        &self,
        _: Request<PreviewProfileRequest>,
    ) -> Result<Response<PreviewProfileResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
}

#[tonic::async_trait]
impl ReminderService for Fakes {
    type PlanStream = BoxStream<PlanResponse>;

    async fn plan(&self, request: Request<Streaming<PlanRequest>>) -> Result<Response<Self::PlanStream>, Status> {
        let request = first(request).await?;
        let events: Vec<pb::ReminderEvent> = request
            .items
            .iter()
            .map(|item| {
                let id = item.snapshot.as_ref().unwrap().customer.as_ref().unwrap().id.clone();
                pb::ReminderEvent {
                    key: format!("due:{id}:0"),
                    metric: "Invoice Due Today".into(),
                    customer_id: id,
                    ..Default::default()
                }
            })
            .collect();
        if !request.dry_run {
            self.seen().planned.extend(events.iter().map(|e| e.key.clone()));
        }
        let response = PlanResponse {
            sequence: request.sequence,
            events,
            rejections: vec![],
        };
        Ok(Response::new(Box::pin(tokio_stream::iter([Ok(response)]))))
    }

    async fn confirm(&self, request: Request<ConfirmRequest>) -> Result<Response<ConfirmResponse>, Status> {
        self.seen().confirmed.extend(request.into_inner().keys);
        Ok(Response::new(ConfirmResponse::default()))
    }

    async fn pause(&self, _: Request<PauseRequest>) -> Result<Response<PauseResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn resume(&self, _: Request<ResumeRequest>) -> Result<Response<ResumeResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn list_reminders(
        &self,
        _: Request<ListRemindersRequest>,
    ) -> Result<Response<ListRemindersResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
}

/// Serves all four fakes on one loopback port; returns its URL.
pub async fn serve(fakes: Fakes) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(ExtractorServiceServer::new(fakes.clone()))
            .add_service(ScoringServiceServer::new(fakes.clone()))
            .add_service(KlaviyoGatewayServiceServer::new(fakes.clone()))
            .add_service(ReminderServiceServer::new(fakes))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    url
}

/// Counts of each id, for "exactly once" assertions.
pub fn counts(ids: &[String]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for id in ids {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    counts
}
