//! The coordinator's gRPC face.

use std::pin::Pin;
use std::sync::Arc;

use ledgerlink_proto::convert::{date_from_pb, date_to_pb};
use ledgerlink_proto::coordinator::v1::coordinator_service_server::CoordinatorService;
use ledgerlink_proto::coordinator::v1::{
    CancelRunRequest, CancelRunResponse, GetRunRequest, GetRunResponse, ListRejectsRequest, ListRejectsResponse,
    ListRunsRequest, ListRunsResponse, PreviewRequest, PreviewResponse, ProfilePreview, RunKind as PbRunKind,
    StartRunRequest, StartRunResponse, TriggerInvoiceRequest, TriggerInvoiceResponse, WatchRunRequest,
    WatchRunResponse,
};
use ledgerlink_proto::extractor::v1::{ExtractRequest, TargetScope, extract_request, extract_response};
use ledgerlink_proto::klaviyo::v1::PreviewProfileRequest;
use ledgerlink_proto::reminder::v1::{PlanItem, PlanRequest};
use ledgerlink_proto::scoring::v1::ExplainRequest;
use ledgerlink_proto::types::v1 as pb;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use crate::clients::Clients;
use crate::run::{RunKind, RunRecord, Targets};
use crate::runner::Coordinator;
use crate::store::{NewRun, StoreError};

const MAX_PAGE: u32 = 500;

impl From<StoreError> for Status {
    fn from(error: StoreError) -> Status {
        tracing::error!(error = %error, "coordinator store failed");
        Status::unavailable("coordinator store unavailable")
    }
}

/// The gRPC adapter.
#[derive(Debug, Clone)]
pub struct CoordinatorGrpc {
    coordinator: Arc<Coordinator>,
    clients: Clients,
}

impl CoordinatorGrpc {
    /// Serves `coordinator`; `clients` answer previews.
    pub fn new(coordinator: Arc<Coordinator>, clients: Clients) -> Self {
        CoordinatorGrpc { coordinator, clients }
    }

    async fn run_or_not_found(&self, run_id: &str) -> Result<RunRecord, Status> {
        self.coordinator
            .store()
            .get_run(run_id)
            .await?
            .ok_or_else(|| Status::not_found(format!("no run {run_id}")))
    }
}

fn page_size(requested: u32) -> u64 {
    u64::from(match requested {
        0 => 50,
        size => size.min(MAX_PAGE),
    })
}

fn non_empty(ids: Vec<String>) -> Vec<String> {
    ids.into_iter()
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty())
        .collect()
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl CoordinatorService for CoordinatorGrpc {
    type WatchRunStream = BoxStream<WatchRunResponse>;

    async fn start_run(&self, request: Request<StartRunRequest>) -> Result<Response<StartRunResponse>, Status> {
        let request = request.into_inner();
        let kind = PbRunKind::try_from(request.kind)
            .ok()
            .and_then(RunKind::from_pb)
            .ok_or_else(|| Status::invalid_argument("kind must be full, incremental, customer or invoice"))?;
        let targets = Targets {
            customer_ids: non_empty(request.customer_ids),
            invoice_ids: non_empty(request.invoice_ids),
            standings: Vec::new(),
        };
        match kind {
            RunKind::Customer if targets.customer_ids.is_empty() => {
                return Err(Status::invalid_argument("a customer run needs customer_ids"));
            }
            RunKind::Invoice if targets.invoice_ids.is_empty() => {
                return Err(Status::invalid_argument("an invoice run needs invoice_ids"));
            }
            _ => {}
        }
        let as_of = match request.as_of.as_ref() {
            Some(date) => date_from_pb(date, "as_of").map_err(|e| Status::invalid_argument(e.to_string()))?,
            None => self.coordinator.today(),
        };
        let run = self
            .coordinator
            .submit(NewRun {
                kind,
                dry_run: request.dry_run,
                trigger: "grpc".to_owned(),
                targets,
                as_of,
            })
            .await?;
        Ok(Response::new(StartRunResponse { run: Some(run.to_pb()) }))
    }

    async fn watch_run(&self, request: Request<WatchRunRequest>) -> Result<Response<Self::WatchRunStream>, Status> {
        let run_id = request.into_inner().run_id;
        let run = self.run_or_not_found(&run_id).await?;
        let coordinator = Arc::clone(&self.coordinator);
        let stream = async_stream_of(coordinator, run);
        Ok(Response::new(Box::pin(stream)))
    }

    async fn get_run(&self, request: Request<GetRunRequest>) -> Result<Response<GetRunResponse>, Status> {
        let run = self.run_or_not_found(&request.into_inner().run_id).await?;
        Ok(Response::new(GetRunResponse { run: Some(run.to_pb()) }))
    }

    async fn list_runs(&self, request: Request<ListRunsRequest>) -> Result<Response<ListRunsResponse>, Status> {
        let request = request.into_inner();
        let limit = page_size(request.page_size);
        let after = Some(request.page_token.as_str()).filter(|t| !t.is_empty());
        let runs = self.coordinator.store().list_runs(after, limit).await?;
        let next_page_token = if runs.len() as u64 == limit {
            runs.last().map(|r| r.run_id.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(ListRunsResponse {
            runs: runs.iter().map(RunRecord::to_pb).collect(),
            next_page_token,
        }))
    }

    async fn cancel_run(&self, request: Request<CancelRunRequest>) -> Result<Response<CancelRunResponse>, Status> {
        let run_id = request.into_inner().run_id;
        let run = self.run_or_not_found(&run_id).await?;
        if run.state.is_final() {
            return Err(Status::failed_precondition(format!(
                "run {run_id} already {}",
                run.state.as_str()
            )));
        }
        let run = self
            .coordinator
            .cancel(&run_id)
            .await?
            .ok_or_else(|| Status::not_found(format!("no run {run_id}")))?;
        Ok(Response::new(CancelRunResponse { run: Some(run.to_pb()) }))
    }

    async fn list_rejects(
        &self,
        request: Request<ListRejectsRequest>,
    ) -> Result<Response<ListRejectsResponse>, Status> {
        let request = request.into_inner();
        self.run_or_not_found(&request.run_id).await?;
        let limit = page_size(request.page_size);
        let after = if request.page_token.is_empty() {
            None
        } else {
            Some(
                request
                    .page_token
                    .parse::<i64>()
                    .map_err(|_| Status::invalid_argument("invalid page_token"))?,
            )
        };
        let rows = self
            .coordinator
            .store()
            .list_rejects(&request.run_id, after, limit)
            .await?;
        let next_page_token = if rows.len() as u64 == limit {
            rows.last().map(|r| r.id.to_string()).unwrap_or_default()
        } else {
            String::new()
        };
        let rejections = rows
            .into_iter()
            .map(|row| pb::Rejection {
                customer_id: row.customer_id,
                record_kind: record_kind_pb(&row.record_kind) as i32,
                record_id: row.record_id,
                field: row.field,
                reason: row.reason,
            })
            .collect();
        Ok(Response::new(ListRejectsResponse {
            rejections,
            next_page_token,
        }))
    }

    async fn trigger_invoice(
        &self,
        request: Request<TriggerInvoiceRequest>,
    ) -> Result<Response<TriggerInvoiceResponse>, Status> {
        let request = request.into_inner();
        let invoice_id = request.invoice_id.trim().to_owned();
        if invoice_id.is_empty() {
            return Err(Status::invalid_argument("invoice_id is required"));
        }
        let run = self
            .coordinator
            .submit(NewRun {
                kind: RunKind::Invoice,
                dry_run: request.dry_run,
                trigger: "grpc".to_owned(),
                targets: Targets {
                    invoice_ids: vec![invoice_id],
                    ..Targets::default()
                },
                as_of: self.coordinator.today(),
            })
            .await?;
        Ok(Response::new(TriggerInvoiceResponse { run: Some(run.to_pb()) }))
    }

    async fn preview(&self, request: Request<PreviewRequest>) -> Result<Response<PreviewResponse>, Status> {
        let request = request.into_inner();
        let customer_id = request.customer_id.trim().to_owned();
        if customer_id.is_empty() {
            return Err(Status::invalid_argument("customer_id is required"));
        }
        let as_of = match request.as_of.as_ref() {
            Some(date) => date_from_pb(date, "as_of").map_err(|e| Status::invalid_argument(e.to_string()))?,
            None => self.coordinator.today(),
        };
        let snapshot = self.extract_one(&customer_id).await?;
        let explained = self
            .clients
            .scoring
            .clone()
            .explain(ExplainRequest {
                snapshot: Some(snapshot.clone()),
                as_of: Some(date_to_pb(as_of)),
            })
            .await?
            .into_inner();
        let score = explained
            .score
            .ok_or_else(|| Status::failed_precondition(format!("customer {customer_id} could not be scored")))?;
        let profile = self
            .clients
            .gateway
            .clone()
            .preview_profile(PreviewProfileRequest {
                score: Some(score.clone()),
                contacts: snapshot.contacts.clone(),
            })
            .await?
            .into_inner();
        let plan = PlanRequest {
            run_id: format!("preview-{customer_id}"),
            as_of: Some(date_to_pb(as_of)),
            sequence: 0,
            items: vec![PlanItem {
                snapshot: Some(snapshot),
                score: Some(score.clone()),
                migrations: Vec::new(),
            }],
            dry_run: true,
        };
        let mut planned = self
            .clients
            .reminder
            .clone()
            .plan(tokio_stream::iter([plan]))
            .await?
            .into_inner();
        let events = planned.message().await?.map(|r| r.events).unwrap_or_default();
        let change = profile.change.unwrap_or_default();
        Ok(Response::new(PreviewResponse {
            preview: Some(ProfilePreview {
                customer_id,
                set_properties_json: change.set_properties_json,
                unset_properties: change.unset_properties,
                events,
                skip_reason: profile.skip_reason,
            }),
            score: Some(score),
        }))
    }
}

impl CoordinatorGrpc {
    async fn extract_one(&self, customer_id: &str) -> Result<pb::CustomerSnapshot, Status> {
        let request = ExtractRequest {
            scope: Some(extract_request::Scope::Targets(TargetScope {
                customer_ids: vec![customer_id.to_owned()],
                invoice_ids: Vec::new(),
            })),
            batch_size: 1,
            run_id: format!("preview-{customer_id}"),
        };
        let mut stream = self.clients.extractor.clone().extract(request).await?.into_inner();
        while let Some(item) = stream.message().await? {
            if let Some(extract_response::Item::Batch(batch)) = item.item
                && let Some(snapshot) = batch.snapshots.into_iter().next()
            {
                return Ok(snapshot);
            }
        }
        Err(Status::not_found(format!(
            "customer {customer_id} not found in NetSuite"
        )))
    }
}

fn record_kind_pb(kind: &str) -> pb::RecordKind {
    match kind {
        "customer" => pb::RecordKind::Customer,
        "invoice" => pb::RecordKind::Invoice,
        "order" => pb::RecordKind::Order,
        "contact" => pb::RecordKind::Contact,
        "profile" => pb::RecordKind::Profile,
        "event" => pb::RecordKind::Event,
        _ => pb::RecordKind::Line,
    }
}

/// Streams the run's state: live updates while a replica here runs it, then its stored
/// final state; a run not live here is polled from the store until it ends.
fn async_stream_of(
    coordinator: Arc<Coordinator>,
    first: RunRecord,
) -> impl Stream<Item = Result<WatchRunResponse, Status>> {
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        let respond = |run: &RunRecord| Ok(WatchRunResponse { run: Some(run.to_pb()) });
        if sender.send(respond(&first)).await.is_err() || first.state.is_final() {
            return;
        }
        let run_id = first.run_id.clone();
        loop {
            if let Some(mut live) = coordinator.watch(&run_id) {
                while live.changed().await.is_ok() {
                    let run = live.borrow_and_update().clone();
                    if sender.send(respond(&run)).await.is_err() {
                        return;
                    }
                }
            } else {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            match coordinator.store().get_run(&run_id).await {
                Ok(Some(run)) => {
                    let finished = run.state.is_final();
                    if sender.send(respond(&run)).await.is_err() || finished {
                        return;
                    }
                }
                Ok(None) => return,
                Err(error) => {
                    let _ = sender.send(Err(Status::from(error))).await;
                    return;
                }
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(receiver)
}
