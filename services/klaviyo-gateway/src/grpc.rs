//! The gRPC adapter of the [`Gateway`].

use std::pin::Pin;

use chrono::Utc;
use ledgerlink_klaviyo_client::ClientStats;
use ledgerlink_proto::convert::{score_from_pb, timestamp_from_pb};
use ledgerlink_proto::klaviyo::v1::klaviyo_gateway_service_server::KlaviyoGatewayService;
use ledgerlink_proto::klaviyo::v1::{
    ApplySegmentsRequest, ApplySegmentsResponse, ListChange, PreviewProfileRequest, PreviewProfileResponse,
    ProfileChange as PbProfileChange, SegmentChange, SendEventsRequest, SendEventsResponse, SyncListsRequest,
    SyncListsResponse, UpsertProfilesRequest, UpsertProfilesResponse,
};
use ledgerlink_proto::types::v1 as pb;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;

use crate::gateway::{Gateway, GatewayError, Outcome, ProfileChange, PushOptions, RecordResult, Scored, event_from_pb};

/// Responses computed ahead of a slow reader.
const AHEAD: usize = 2;

/// The gRPC face of the gateway.
#[derive(Debug, Clone)]
pub struct KlaviyoGatewayGrpc {
    gateway: Gateway,
}

impl KlaviyoGatewayGrpc {
    /// Serves `gateway`.
    pub fn new(gateway: Gateway) -> Self {
        KlaviyoGatewayGrpc { gateway }
    }
}

impl From<GatewayError> for Status {
    fn from(error: GatewayError) -> Status {
        use ledgerlink_klaviyo_client::Error as K;
        match &error {
            GatewayError::NoApiKey => Status::failed_precondition(error.to_string()),
            GatewayError::Store(_) => {
                tracing::error!(error = %error, "gateway store unavailable");
                Status::unavailable("klaviyo gateway store unavailable")
            }
            GatewayError::Klaviyo(inner) => match (inner, inner.status()) {
                (_, Some(401)) => Status::failed_precondition(format!("klaviyo refused the key: {inner}")),
                (_, Some(403)) => Status::permission_denied(format!("klaviyo refused access: {inner}")),
                (K::DailyLimitReached { .. }, _) => Status::resource_exhausted(inner.to_string()),
                (K::InvalidInput { .. }, _) => Status::invalid_argument(inner.to_string()),
                (K::InvalidBaseUrl { .. } | K::InvalidSettings { .. }, _) => {
                    Status::failed_precondition(inner.to_string())
                }
                _ if inner.is_transient() => Status::unavailable(inner.to_string()),
                _ => Status::internal(inner.to_string()),
            },
        }
    }
}

/// The wire form of client counters.
pub fn stats_to_pb(stats: &ClientStats) -> pb::RequestStats {
    pb::RequestStats {
        requests: stats.requests(),
        throttled: stats.throttled_waits(),
        retries: stats.retries(),
        wait_millis: stats.total_wait().as_millis() as u64,
    }
}

fn outcome_to_pb(outcome: Outcome) -> pb::RecordOutcome {
    match outcome {
        Outcome::Created => pb::RecordOutcome::Created,
        Outcome::Updated => pb::RecordOutcome::Updated,
        Outcome::Unchanged => pb::RecordOutcome::Unchanged,
        Outcome::Sent => pb::RecordOutcome::Sent,
        Outcome::Duplicate => pb::RecordOutcome::Duplicate,
        Outcome::Skipped => pb::RecordOutcome::Skipped,
        Outcome::Failed => pb::RecordOutcome::Failed,
        Outcome::DryRun => pb::RecordOutcome::DryRun,
    }
}

fn result_to_pb(result: RecordResult) -> pb::RecordResult {
    pb::RecordResult {
        record_id: result.record_id,
        outcome: outcome_to_pb(result.outcome) as i32,
        reason: result.reason,
        retryable: result.retryable,
    }
}

/// The wire form of a profile change.
pub fn change_to_pb(change: ProfileChange) -> PbProfileChange {
    PbProfileChange {
        customer_id: change.customer_id,
        identity: Some(pb::ProfileIdentity {
            email: change.identity.email,
            external_id: change.identity.external_id,
        }),
        set_properties_json: Value::Object(change.set).to_string(),
        unset_properties: change.unset,
    }
}

impl KlaviyoGatewayGrpc {
    async fn upsert_one(&self, request: UpsertProfilesRequest) -> Result<UpsertProfilesResponse, Status> {
        let synced_at = match &request.synced_at {
            Some(time) => timestamp_from_pb(time, "synced_at").map_err(|e| Status::invalid_argument(e.to_string()))?,
            None => Utc::now(),
        };
        let mut slots: Vec<Result<usize, RecordResult>> = Vec::with_capacity(request.scores.len());
        let mut scores = Vec::new();
        let contacts_of: std::collections::HashMap<&str, &[ledgerlink_proto::types::v1::Contact]> = request
            .contacts
            .iter()
            .map(|c| (c.customer_id.as_str(), c.contacts.as_slice()))
            .collect();
        for score in &request.scores {
            match score_from_pb(score) {
                Ok(score) => {
                    slots.push(Ok(scores.len()));
                    let contacts = contacts_of
                        .get(score.customer_id.as_str())
                        .map(|contacts| ledgerlink_proto::convert::contacts_from_pb(contacts))
                        .unwrap_or_default();
                    scores.push(Scored { score, contacts });
                }
                Err(error) => slots.push(Err(RecordResult {
                    record_id: score.customer_id.clone(),
                    outcome: Outcome::Failed,
                    reason: error.to_string(),
                    retryable: false,
                })),
            }
        }
        let options = PushOptions {
            dry_run: request.dry_run,
            force: request.force,
            synced_at,
        };
        let report = self.gateway.push_profiles(&scores, options).await?;
        let results = slots
            .into_iter()
            .map(|slot| match slot {
                Ok(index) => report.results[index].clone(),
                Err(result) => result,
            })
            .map(result_to_pb)
            .collect();
        Ok(UpsertProfilesResponse {
            sequence: request.sequence,
            results,
            changes: report.changes.into_iter().map(change_to_pb).collect(),
            requests: Some(stats_to_pb(&report.stats)),
        })
    }

    async fn send_one(&self, request: SendEventsRequest) -> Result<SendEventsResponse, Status> {
        let events: Vec<_> = request.events.iter().map(event_from_pb).collect();
        let report = self.gateway.send_events(&events, request.dry_run).await?;
        Ok(SendEventsResponse {
            sequence: request.sequence,
            results: report.results.into_iter().map(result_to_pb).collect(),
            requests: Some(stats_to_pb(&report.stats)),
        })
    }
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Answers each request of `inbound` in order with `handle`, one response per request;
/// an error ends the stream after it is sent.
fn serve_stream<Req, Resp, F, Fut>(mut inbound: Streaming<Req>, handle: F) -> BoxStream<Resp>
where
    Req: Send + 'static,
    Resp: Send + 'static,
    F: Fn(Req) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Resp, Status>> + Send,
{
    let (sender, receiver) = mpsc::channel(AHEAD);
    // In the request's span, so the Klaviyo requests join the caller's trace.
    let answering = async move {
        while let Some(request) = inbound.next().await {
            let answer = match request {
                Ok(request) => handle(request).await,
                Err(status) => Err(status),
            };
            let stop = answer.is_err();
            if sender.send(answer).await.is_err() || stop {
                break;
            }
        }
    };
    tokio::spawn(answering.instrument(tracing::Span::current()));
    Box::pin(ReceiverStream::new(receiver))
}

#[tonic::async_trait]
impl KlaviyoGatewayService for KlaviyoGatewayGrpc {
    type UpsertProfilesStream = BoxStream<UpsertProfilesResponse>;
    type SendEventsStream = BoxStream<SendEventsResponse>;

    async fn upsert_profiles(
        &self,
        request: Request<Streaming<UpsertProfilesRequest>>,
    ) -> Result<Response<Self::UpsertProfilesStream>, Status> {
        let this = self.clone();
        Ok(Response::new(serve_stream(request.into_inner(), move |request| {
            let this = this.clone();
            async move { this.upsert_one(request).await }
        })))
    }

    async fn send_events(
        &self,
        request: Request<Streaming<SendEventsRequest>>,
    ) -> Result<Response<Self::SendEventsStream>, Status> {
        let this = self.clone();
        Ok(Response::new(serve_stream(request.into_inner(), move |request| {
            let this = this.clone();
            async move { this.send_one(request).await }
        })))
    }

    async fn sync_lists(&self, request: Request<SyncListsRequest>) -> Result<Response<SyncListsResponse>, Status> {
        let (lists, stats) = self.gateway.sync_lists(request.into_inner().dry_run).await?;
        Ok(Response::new(SyncListsResponse {
            lists: lists
                .into_iter()
                .map(|list| ListChange {
                    list_name: list.name,
                    added: list.added,
                    removed: list.removed,
                })
                .collect(),
            requests: Some(stats_to_pb(&stats)),
        }))
    }

    async fn apply_segments(
        &self,
        request: Request<ApplySegmentsRequest>,
    ) -> Result<Response<ApplySegmentsResponse>, Status> {
        let (segments, stats) = self.gateway.apply_segments(request.into_inner().dry_run).await?;
        Ok(Response::new(ApplySegmentsResponse {
            segments: segments
                .into_iter()
                .map(|segment| SegmentChange {
                    name: segment.name,
                    action: segment.action.to_owned(),
                    segment_id: segment.id,
                })
                .collect(),
            requests: Some(stats_to_pb(&stats)),
        }))
    }

    async fn preview_profile(
        &self,
        request: Request<PreviewProfileRequest>,
    ) -> Result<Response<PreviewProfileResponse>, Status> {
        let request = request.into_inner();
        let score = request
            .score
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("score is required"))?;
        let score = score_from_pb(score).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let scored = Scored {
            score,
            contacts: ledgerlink_proto::convert::contacts_from_pb(&request.contacts),
        };
        Ok(Response::new(match self.gateway.preview(&scored, Utc::now()) {
            Ok(changes) => PreviewProfileResponse {
                change: changes.into_iter().next().map(change_to_pb),
                skip_reason: String::new(),
            },
            Err(reason) => PreviewProfileResponse {
                change: None,
                skip_reason: reason.to_string(),
            },
        }))
    }
}
