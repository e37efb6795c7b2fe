//! The gRPC adapter of the reminder service.

use std::pin::Pin;
use std::sync::Arc;

use chrono::Utc;
use ledgerlink_proto::convert::{date_from_pb, rejection_to_pb, required_date, snapshot_from_pb};
use ledgerlink_proto::reminder::v1::reminder_service_server::ReminderService;
use ledgerlink_proto::reminder::v1::{
    ConfirmRequest, ConfirmResponse, ListRemindersRequest, ListRemindersResponse, PauseRequest, PauseResponse,
    PlanItem, PlanRequest, PlanResponse, Reminder, ReminderState, ResumeRequest, ResumeResponse,
};
use ledgerlink_proto::types::v1 as pb;
use ledgerlink_reminder_planner::{ReminderEvent, StandingMigration};
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;

use crate::ledger::{CONFIRMED, Confirmation, LedgerError, ListFilter};
use crate::reminders::{Customer, Reminders};
use crate::wire::event_to_pb;

/// Largest page `ListReminders` returns.
const MAX_PAGE: u32 = 1000;
/// Responses a `Plan` stream computes ahead of its reader; beyond that it waits, so a
/// slow caller slows planning instead of filling memory.
const PLAN_AHEAD: usize = 2;

/// The gRPC face of [`Reminders`].
#[derive(Debug, Clone)]
pub struct ReminderGrpc {
    reminders: Arc<Reminders>,
}

impl ReminderGrpc {
    /// Serves `reminders`.
    pub fn new(reminders: Arc<Reminders>) -> Self {
        ReminderGrpc { reminders }
    }
}

impl From<LedgerError> for Status {
    fn from(error: LedgerError) -> Status {
        match error {
            // The database is the only thing that fails here, and a retry may succeed.
            LedgerError::Db(_) => {
                tracing::error!(error = %error, "ledger unavailable");
                Status::unavailable("reminder ledger unavailable")
            }
            LedgerError::Encode { .. } => Status::internal(error.to_string()),
        }
    }
}

fn item_to_customer(item: &PlanItem, rejections: &mut Vec<pb::Rejection>) -> Option<Customer> {
    let snapshot = item.snapshot.as_ref()?;
    let parsed = match snapshot_from_pb(snapshot) {
        Ok(parsed) => parsed,
        Err(rejection) => {
            rejections.push(rejection_to_pb(&rejection));
            return None;
        }
    };
    rejections.extend(parsed.rejections.iter().map(rejection_to_pb));
    let standing_migration = item
        .migrations
        .iter()
        .find(|m| m.dimension == pb::SegmentDimension::AccountStanding as i32)
        .map(|m| StandingMigration {
            from: m.from_segment.clone(),
            to: m.to_segment.clone(),
            toward_risk: m.toward_risk,
        });
    let account_standing = item
        .score
        .as_ref()
        .map(|score| score.account_standing.clone())
        .filter(|standing| !standing.is_empty())
        .unwrap_or_else(|| "standard".to_owned());
    Some(Customer {
        snapshot: parsed.snapshot,
        account_standing,
        standing_migration,
    })
}

async fn plan_one(reminders: &Reminders, request: PlanRequest) -> Result<PlanResponse, Status> {
    if request.run_id.is_empty() {
        return Err(Status::invalid_argument("run_id is required"));
    }
    let as_of = required_date(request.as_of.as_ref(), "as_of").map_err(|e| Status::invalid_argument(e.to_string()))?;
    let mut rejections = Vec::new();
    let customers: Vec<Customer> = request
        .items
        .iter()
        .filter_map(|item| item_to_customer(item, &mut rejections))
        .collect();
    let batch = reminders
        .plan_batch(&request.run_id, as_of, &customers, request.dry_run, Utc::now())
        .await?;
    tracing::info!(
        run_id = %request.run_id,
        sequence = request.sequence,
        customers = customers.len(),
        events = batch.events.len(),
        held = batch.held,
        dry_run = request.dry_run,
        "planned batch"
    );
    Ok(PlanResponse {
        sequence: request.sequence,
        events: batch.events.iter().map(event_to_pb).collect(),
        rejections,
    })
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl ReminderService for ReminderGrpc {
    type PlanStream = BoxStream<PlanResponse>;

    async fn plan(&self, request: Request<Streaming<PlanRequest>>) -> Result<Response<Self::PlanStream>, Status> {
        let mut inbound = request.into_inner();
        let (sender, receiver) = mpsc::channel(PLAN_AHEAD);
        let reminders = Arc::clone(&self.reminders);
        // In the request's span, so the planning is part of the caller's trace.
        let answering = async move {
            loop {
                let request = match inbound.message().await {
                    Ok(Some(request)) => request,
                    Ok(None) => break,
                    Err(status) => {
                        let _ = sender.send(Err(status)).await;
                        break;
                    }
                };
                let response = plan_one(&reminders, request).await;
                let failed = response.is_err();
                if sender.send(response).await.is_err() || failed {
                    break;
                }
            }
        };
        tokio::spawn(answering.instrument(tracing::Span::current()));
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn confirm(&self, request: Request<ConfirmRequest>) -> Result<Response<ConfirmResponse>, Status> {
        let request = request.into_inner();
        let outcomes = self.reminders.ledger().confirm(&request.keys, Utc::now()).await?;
        let results = outcomes
            .into_iter()
            .map(|(key, outcome)| {
                let (outcome, reason) = match outcome {
                    Confirmation::Confirmed => (pb::RecordOutcome::Sent, String::new()),
                    Confirmation::AlreadyConfirmed => (pb::RecordOutcome::Duplicate, "already confirmed".to_owned()),
                    Confirmation::Unknown => (pb::RecordOutcome::Failed, "no reservation for this key".to_owned()),
                };
                pb::RecordResult {
                    record_id: key,
                    outcome: outcome as i32,
                    reason,
                    retryable: false,
                }
            })
            .collect();
        Ok(Response::new(ConfirmResponse { results }))
    }

    async fn pause(&self, request: Request<PauseRequest>) -> Result<Response<PauseResponse>, Status> {
        let request = request.into_inner();
        if request.invoice_id.trim().is_empty() {
            return Err(Status::invalid_argument("invoice_id is required"));
        }
        if request.reason.trim().is_empty() {
            return Err(Status::invalid_argument("reason is required"));
        }
        let until = request
            .until
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("until is required"))
            .and_then(|d| date_from_pb(d, "until").map_err(|e| Status::invalid_argument(e.to_string())))?;
        self.reminders
            .ledger()
            .pause(&request.invoice_id, until, &request.reason, Utc::now())
            .await?;
        tracing::info!(invoice_id = %request.invoice_id, %until, "invoice reminders paused");
        Ok(Response::new(PauseResponse {}))
    }

    async fn resume(&self, request: Request<ResumeRequest>) -> Result<Response<ResumeResponse>, Status> {
        let request = request.into_inner();
        if self.reminders.ledger().resume(&request.invoice_id).await? {
            tracing::info!(invoice_id = %request.invoice_id, "invoice reminders resumed");
            Ok(Response::new(ResumeResponse {}))
        } else {
            Err(Status::not_found(format!(
                "invoice {} is not paused",
                request.invoice_id
            )))
        }
    }

    async fn list_reminders(
        &self,
        request: Request<ListRemindersRequest>,
    ) -> Result<Response<ListRemindersResponse>, Status> {
        let request = request.into_inner();
        let page_size = match request.page_size {
            0 => 100,
            size => size.min(MAX_PAGE),
        };
        let filter = ListFilter {
            customer_id: Some(request.customer_id).filter(|s| !s.is_empty()),
            invoice_id: Some(request.invoice_id).filter(|s| !s.is_empty()),
        };
        let after = Some(request.page_token.as_str()).filter(|s| !s.is_empty());
        let entries = self
            .reminders
            .ledger()
            .list(&filter, after, u64::from(page_size), Utc::now())
            .await?;
        let next_page_token = if entries.len() == page_size as usize {
            entries.last().map(|e| e.row.key.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        let mut reminders = Vec::with_capacity(entries.len());
        for entry in entries {
            let event: ReminderEvent = serde_json::from_str(&entry.row.event)
                .map_err(|e| Status::internal(format!("stored event {} is unreadable: {e}", entry.row.key)))?;
            let state = if entry.row.state == CONFIRMED {
                ReminderState::Confirmed
            } else if entry.expired {
                ReminderState::Expired
            } else {
                ReminderState::Reserved
            };
            reminders.push(Reminder {
                event: Some(event_to_pb(&event)),
                state: state as i32,
                run_id: entry.row.run_id,
            });
        }
        Ok(Response::new(ListRemindersResponse {
            reminders,
            next_page_token,
        }))
    }
}
