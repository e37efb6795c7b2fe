//! The coordinator: runs (scheduled, on demand, per customer, per invoice) that stream
//! batches through the other services, with checkpoints, watermarks and reports.

use std::net::SocketAddr;
use std::pin::Pin;

use ledgerlink_proto::coordinator::v1::coordinator_service_server::{CoordinatorService, CoordinatorServiceServer};
use ledgerlink_proto::coordinator::v1::{
    CancelRunRequest, CancelRunResponse, GetRunRequest, GetRunResponse, ListRejectsRequest, ListRejectsResponse,
    ListRunsRequest, ListRunsResponse, PreviewRequest, PreviewResponse, StartRunRequest, StartRunResponse,
    TriggerInvoiceRequest, TriggerInvoiceResponse, WatchRunRequest, WatchRunResponse,
};
use ledgerlink_runtime::{AuthInterceptor, DEFAULT_SHUTDOWN_GRACE, RuntimeConfig, ServeError, not_yet_implemented};
use ledgerlink_store::{DatabaseConnection, StoreError};
use tokio::net::TcpListener;
use tokio_stream::Stream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

pub mod migration;

/// The service's name in configuration, logs and its SQLite file.
pub const SERVICE: &str = "coordinator";

/// Returns the default listen address (`spec/interfaces.md`: 50055).
pub fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50055))
}

/// The service could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Serving failed.
    #[error(transparent)]
    Serve(#[from] ServeError),
}

/// Opens the store (applying migrations) and serves until `shutdown` is cancelled.
pub async fn run(config: RuntimeConfig, listener: TcpListener, shutdown: CancellationToken) -> Result<(), Error> {
    let url = ledgerlink_store::resolve_url(config.database_url.as_deref(), &config.data_dir, SERVICE)?;
    let db = ledgerlink_store::open::<migration::Migrator>(&url).await?;
    let service = CoordinatorServiceServer::new(CoordinatorGrpc { _db: db });
    ledgerlink_runtime::serve(
        listener,
        service,
        AuthInterceptor::new(config.auth_token),
        shutdown,
        DEFAULT_SHUTDOWN_GRACE,
    )
    .await?;
    Ok(())
}

/// The gRPC adapter.
#[derive(Debug)]
pub struct CoordinatorGrpc {
    _db: DatabaseConnection,
}

const ARRIVES_WITH: &str = "the coordinator";

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl CoordinatorService for CoordinatorGrpc {
    type WatchRunStream = BoxStream<WatchRunResponse>;

    async fn start_run(&self, _request: Request<StartRunRequest>) -> Result<Response<StartRunResponse>, Status> {
        Err(not_yet_implemented("StartRun", ARRIVES_WITH))
    }

    async fn watch_run(&self, _request: Request<WatchRunRequest>) -> Result<Response<Self::WatchRunStream>, Status> {
        Err(not_yet_implemented("WatchRun", ARRIVES_WITH))
    }

    async fn get_run(&self, _request: Request<GetRunRequest>) -> Result<Response<GetRunResponse>, Status> {
        Err(not_yet_implemented("GetRun", ARRIVES_WITH))
    }

    async fn list_runs(&self, _request: Request<ListRunsRequest>) -> Result<Response<ListRunsResponse>, Status> {
        Err(not_yet_implemented("ListRuns", ARRIVES_WITH))
    }

    async fn cancel_run(&self, _request: Request<CancelRunRequest>) -> Result<Response<CancelRunResponse>, Status> {
        Err(not_yet_implemented("CancelRun", ARRIVES_WITH))
    }

    async fn list_rejects(
        &self,
        _request: Request<ListRejectsRequest>,
    ) -> Result<Response<ListRejectsResponse>, Status> {
        Err(not_yet_implemented("ListRejects", ARRIVES_WITH))
    }

    async fn trigger_invoice(
        &self,
        _request: Request<TriggerInvoiceRequest>,
    ) -> Result<Response<TriggerInvoiceResponse>, Status> {
        Err(not_yet_implemented("TriggerInvoice", ARRIVES_WITH))
    }

    async fn preview(&self, _request: Request<PreviewRequest>) -> Result<Response<PreviewResponse>, Status> {
        Err(not_yet_implemented("Preview", ARRIVES_WITH))
    }
}
