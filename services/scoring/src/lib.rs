//! The scoring service: turns snapshots into the scores of `spec/scoring.md` and keeps
//! score history, so new aging and segment migrations can be found.

use std::net::SocketAddr;
use std::pin::Pin;

use ledgerlink_proto::scoring::v1::scoring_service_server::{ScoringService, ScoringServiceServer};
use ledgerlink_proto::scoring::v1::{
    CompleteRunRequest, CompleteRunResponse, ExplainRequest, ExplainResponse, GetRulesRequest, GetRulesResponse,
    ListMigrationsRequest, ListMigrationsResponse, ReloadRulesRequest, ReloadRulesResponse, ScoreRequest,
    ScoreResponse, ValidateRulesRequest, ValidateRulesResponse,
};
use ledgerlink_runtime::{AuthInterceptor, DEFAULT_SHUTDOWN_GRACE, RuntimeConfig, ServeError, not_yet_implemented};
use ledgerlink_store::{DatabaseConnection, StoreError};
use tokio::net::TcpListener;
use tokio_stream::Stream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};

pub mod migration;

/// The service's name in configuration, logs and its SQLite file.
pub const SERVICE: &str = "scoring";

/// Returns the default listen address (`spec/interfaces.md`: 50052).
pub fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50052))
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
    let service = ScoringServiceServer::new(ScoringGrpc { _db: db });
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
pub struct ScoringGrpc {
    _db: DatabaseConnection,
}

const ARRIVES_WITH: &str = "the scoring engine";

type ScoreStream = Pin<Box<dyn Stream<Item = Result<ScoreResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ScoringService for ScoringGrpc {
    type ScoreStream = ScoreStream;

    async fn score(&self, _request: Request<Streaming<ScoreRequest>>) -> Result<Response<Self::ScoreStream>, Status> {
        Err(not_yet_implemented("Score", ARRIVES_WITH))
    }

    async fn explain(&self, _request: Request<ExplainRequest>) -> Result<Response<ExplainResponse>, Status> {
        Err(not_yet_implemented("Explain", ARRIVES_WITH))
    }

    async fn complete_run(
        &self,
        _request: Request<CompleteRunRequest>,
    ) -> Result<Response<CompleteRunResponse>, Status> {
        Err(not_yet_implemented("CompleteRun", ARRIVES_WITH))
    }

    async fn get_rules(&self, _request: Request<GetRulesRequest>) -> Result<Response<GetRulesResponse>, Status> {
        Err(not_yet_implemented("GetRules", ARRIVES_WITH))
    }

    async fn validate_rules(
        &self,
        _request: Request<ValidateRulesRequest>,
    ) -> Result<Response<ValidateRulesResponse>, Status> {
        Err(not_yet_implemented("ValidateRules", ARRIVES_WITH))
    }

    async fn reload_rules(
        &self,
        _request: Request<ReloadRulesRequest>,
    ) -> Result<Response<ReloadRulesResponse>, Status> {
        Err(not_yet_implemented("ReloadRules", ARRIVES_WITH))
    }

    async fn list_migrations(
        &self,
        _request: Request<ListMigrationsRequest>,
    ) -> Result<Response<ListMigrationsResponse>, Status> {
        Err(not_yet_implemented("ListMigrations", ARRIVES_WITH))
    }
}
