//! The reminder service: decides which reminder events of `spec/reminders.md` are due,
//! reserves their keys and confirms them once sent, so each goes out exactly once.

use std::net::SocketAddr;
use std::pin::Pin;

use ledgerlink_proto::reminder::v1::reminder_service_server::{ReminderService, ReminderServiceServer};
use ledgerlink_proto::reminder::v1::{
    ConfirmRequest, ConfirmResponse, ListRemindersRequest, ListRemindersResponse, PauseRequest, PauseResponse,
    PlanRequest, PlanResponse, ResumeRequest, ResumeResponse,
};
use ledgerlink_runtime::{AuthInterceptor, DEFAULT_SHUTDOWN_GRACE, RuntimeConfig, ServeError, not_yet_implemented};
use ledgerlink_store::{DatabaseConnection, StoreError};
use tokio::net::TcpListener;
use tokio_stream::Stream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};

pub mod migration;

/// The service's name in configuration, logs and its SQLite file.
pub const SERVICE: &str = "reminder";

/// Returns the default listen address (`spec/interfaces.md`: 50053).
pub fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50053))
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
    let service = ReminderServiceServer::new(ReminderGrpc { _db: db });
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
pub struct ReminderGrpc {
    _db: DatabaseConnection,
}

const ARRIVES_WITH: &str = "reminder planning";

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl ReminderService for ReminderGrpc {
    type PlanStream = BoxStream<PlanResponse>;

    async fn plan(&self, _request: Request<Streaming<PlanRequest>>) -> Result<Response<Self::PlanStream>, Status> {
        Err(not_yet_implemented("Plan", ARRIVES_WITH))
    }

    async fn confirm(&self, _request: Request<ConfirmRequest>) -> Result<Response<ConfirmResponse>, Status> {
        Err(not_yet_implemented("Confirm", ARRIVES_WITH))
    }

    async fn pause(&self, _request: Request<PauseRequest>) -> Result<Response<PauseResponse>, Status> {
        Err(not_yet_implemented("Pause", ARRIVES_WITH))
    }

    async fn resume(&self, _request: Request<ResumeRequest>) -> Result<Response<ResumeResponse>, Status> {
        Err(not_yet_implemented("Resume", ARRIVES_WITH))
    }

    async fn list_reminders(
        &self,
        _request: Request<ListRemindersRequest>,
    ) -> Result<Response<ListRemindersResponse>, Status> {
        Err(not_yet_implemented("ListReminders", ARRIVES_WITH))
    }
}
