//! The scoring service: turns snapshots into the scores of `spec/scoring.md` and keeps
//! score history, so new aging and segment migrations can be found.
//!
//! - [`settings`]: the `[scoring]` configuration section and the rules it names.
//! - [`history`]: the history store (last committed score per customer, scores staged
//!   per run, recorded migrations), also used by `ledgerlink score --history`.
//! - [`convert`]: wire ↔ domain conversions, migrations included.
//! - [`ScoringGrpc`]: the gRPC service.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use ledgerlink_domain::{CustomerSnapshot, Rejection};
use ledgerlink_proto::scoring::v1::scoring_service_server::{ScoringService, ScoringServiceServer};
use ledgerlink_proto::scoring::v1::{
    CompleteRunRequest, CompleteRunResponse, ExplainRequest, ExplainResponse, GetRulesRequest, GetRulesResponse,
    ListMigrationsRequest, ListMigrationsResponse, ReloadRulesRequest, ReloadRulesResponse, RulesProblem, ScoreRequest,
    ScoreResponse, ValidateRulesRequest, ValidateRulesResponse,
};
use ledgerlink_proto::types::v1 as pb;
use ledgerlink_runtime::{ConfigError, DEFAULT_SHUTDOWN_GRACE, RuntimeConfig, ServeError};
use ledgerlink_scoring_engine::{Engine, Rules, RulesFormat};
use ledgerlink_store::StoreError;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;

pub mod convert;
pub mod entity;
pub mod history;
pub mod migration;
pub mod settings;

use crate::convert::{migration_to_pb, recorded_migration_to_pb, rejection_to_pb, score_to_pb, snapshot_from_pb};
pub use crate::history::{History, HistoryError, MigrationFilter, RecordedMigration};
pub use crate::settings::{ActiveRules, ScoringSettings, SettingsError};

/// The service's name in configuration, logs and its SQLite file.
pub const SERVICE: &str = "scoring";

/// Score responses buffered ahead of a slow client before scoring waits for it.
const RESPONSES_IN_FLIGHT: usize = 4;

/// Returns the default listen address (`spec/interfaces.md`: 50052).
pub fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50052))
}

/// The service could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The `[scoring]` section is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The configured rules or windows are unusable.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The store could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Serving failed.
    #[error(transparent)]
    Serve(#[from] ServeError),
}

/// Loads the rules, opens the store (applying migrations) and serves until `shutdown`
/// is cancelled.
pub async fn run(config: RuntimeConfig, listener: TcpListener, shutdown: CancellationToken) -> Result<(), Error> {
    let settings: ScoringSettings = config.section(SERVICE)?;
    let service = {
        let url = ledgerlink_store::resolve_url(config.database_url.as_deref(), &config.data_dir, SERVICE)?;
        let db = ledgerlink_store::open::<migration::Migrator>(&url).await?;
        if config.migrate_only {
            tracing::info!("migrations applied");
            return Ok(());
        }
        ScoringGrpc::new(History::new(db), settings)?
    };
    tracing::info!(rules = %service.rules().source, "scoring rules loaded");
    ledgerlink_runtime::serve(
        listener,
        ScoringServiceServer::new(service),
        config.server_security(),
        shutdown,
        DEFAULT_SHUTDOWN_GRACE,
    )
    .await?;
    Ok(())
}

/// The gRPC service. Cheap to clone: clones share the history and the active rules.
#[derive(Debug, Clone)]
pub struct ScoringGrpc {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    history: History,
    settings: ScoringSettings,
    // Swapped whole on reload; readers clone the Arc and never hold the lock across
    // an await.
    rules: RwLock<Arc<ActiveRules>>,
}

impl ScoringGrpc {
    /// Loads the rules `settings` name; fails when they are invalid.
    pub fn new(history: History, settings: ScoringSettings) -> Result<ScoringGrpc, SettingsError> {
        let rules = settings.load()?;
        Ok(ScoringGrpc {
            inner: Arc::new(Inner {
                history,
                settings,
                rules: RwLock::new(Arc::new(rules)),
            }),
        })
    }

    /// The rules in force.
    pub fn rules(&self) -> Arc<ActiveRules> {
        self.inner
            .rules
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn engine(&self) -> Arc<Engine> {
        self.rules().engine.clone()
    }

    async fn score_one_request(&self, request: ScoreRequest) -> Result<ScoreResponse, Status> {
        let as_of = convert::required_date(request.as_of.as_ref(), "as_of")
            .map_err(|e| Status::invalid_argument(format!("as_of: {}", e.reason)))?;
        let run_id = match (request.dry_run, request.run_id.is_empty()) {
            (true, _) => None,
            (false, true) => return Err(Status::invalid_argument("run_id is required unless dry_run is set")),
            (false, false) => Some(request.run_id.as_str()),
        };
        let (snapshots, rejections) = blocking(move || convert_snapshots(&request.snapshots)).await?;
        let batch = self
            .inner
            .history
            .score_batch(self.engine(), run_id, as_of, snapshots)
            .await
            .map_err(history_status)?;
        let run_id = request.run_id;
        blocking(move || ScoreResponse {
            sequence: request.sequence,
            scores: batch.scores.iter().map(score_to_pb).collect(),
            rejections: rejections.iter().map(rejection_to_pb).collect(),
            migrations: batch
                .migrations
                .iter()
                .map(|migration| migration_to_pb(migration, &run_id))
                .collect(),
        })
        .await
    }
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Status> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Status::internal(format!("scoring task failed: {e}")))
}

/// Converts wire snapshots record by record: a bad record becomes a rejection, a bad
/// customer record rejects that snapshot only.
fn convert_snapshots(snapshots: &[pb::CustomerSnapshot]) -> (Vec<CustomerSnapshot>, Vec<Rejection>) {
    let mut converted = Vec::with_capacity(snapshots.len());
    let mut rejections = Vec::new();
    for snapshot in snapshots {
        match snapshot_from_pb(snapshot) {
            Ok(parsed) => {
                rejections.extend(parsed.rejections);
                converted.push(parsed.snapshot);
            }
            Err(rejection) => rejections.push(rejection),
        }
    }
    (converted, rejections)
}

/// Maps a history failure to the status a client can act on.
pub fn history_status(error: HistoryError) -> Status {
    let message = error.to_string();
    match &error {
        HistoryError::UnknownRun { .. } => Status::not_found(message),
        HistoryError::RunDateMismatch { .. }
        | HistoryError::RunCompleted { .. }
        | HistoryError::RunAbandoned { .. } => Status::failed_precondition(message),
        HistoryError::PageToken(_) => Status::invalid_argument(message),
        _ if error.is_retryable() => {
            tracing::warn!(error = %message, "score history unavailable");
            Status::unavailable(message)
        }
        _ => {
            tracing::error!(error = %message, "score history failed");
            Status::internal(message)
        }
    }
}

fn settings_status(error: SettingsError) -> Status {
    match error {
        SettingsError::Invalid { .. } => Status::invalid_argument(error.to_string()),
        SettingsError::Read { .. } | SettingsError::Format { .. } | SettingsError::Params(_) => {
            Status::failed_precondition(error.to_string())
        }
    }
}

type ScoreStream = Pin<Box<dyn Stream<Item = Result<ScoreResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ScoringService for ScoringGrpc {
    type ScoreStream = ScoreStream;

    async fn score(&self, request: Request<Streaming<ScoreRequest>>) -> Result<Response<Self::ScoreStream>, Status> {
        let mut inbound = request.into_inner();
        let (sender, receiver) = mpsc::channel(RESPONSES_IN_FLIGHT);
        let service = self.clone();
        // In the request's span, so the scoring is part of the caller's trace.
        let answering = async move {
            loop {
                let request = match inbound.message().await {
                    Ok(Some(request)) => request,
                    Ok(None) => break,
                    Err(status) => {
                        tracing::debug!(error = %status, "score stream ended by the client");
                        break;
                    }
                };
                // Batches are answered in order, one response each, so the client can
                // match them by sequence; a failed batch ends the stream with its status.
                let response = service.score_one_request(request).await;
                let failed = response.is_err();
                if sender.send(response).await.is_err() || failed {
                    break;
                }
            }
        };
        tokio::spawn(answering.instrument(tracing::Span::current()));
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn explain(&self, request: Request<ExplainRequest>) -> Result<Response<ExplainResponse>, Status> {
        let request = request.into_inner();
        let as_of = convert::required_date(request.as_of.as_ref(), "as_of")
            .map_err(|e| Status::invalid_argument(format!("as_of: {}", e.reason)))?;
        let snapshot = request
            .snapshot
            .ok_or_else(|| Status::invalid_argument("snapshot is required"))?;
        let parsed = match snapshot_from_pb(&snapshot) {
            Ok(parsed) => parsed,
            Err(rejection) => {
                return Ok(Response::new(ExplainResponse {
                    score: None,
                    rejections: vec![rejection_to_pb(&rejection)],
                }));
            }
        };
        let batch = self
            .inner
            .history
            .score_batch(self.engine(), None, as_of, vec![parsed.snapshot])
            .await
            .map_err(history_status)?;
        Ok(Response::new(ExplainResponse {
            score: batch.scores.first().map(score_to_pb),
            rejections: parsed.rejections.iter().map(rejection_to_pb).collect(),
        }))
    }

    async fn complete_run(
        &self,
        request: Request<CompleteRunRequest>,
    ) -> Result<Response<CompleteRunResponse>, Status> {
        let run_id = request.into_inner().run_id;
        if run_id.is_empty() {
            return Err(Status::invalid_argument("run_id is required"));
        }
        let customers = self.inner.history.complete_run(&run_id).await.map_err(history_status)?;
        Ok(Response::new(CompleteRunResponse { customers }))
    }

    async fn get_rules(&self, _request: Request<GetRulesRequest>) -> Result<Response<GetRulesResponse>, Status> {
        let rules = self.rules();
        Ok(Response::new(GetRulesResponse {
            source: rules.source.clone(),
            text: rules.text.clone(),
        }))
    }

    async fn validate_rules(
        &self,
        request: Request<ValidateRulesRequest>,
    ) -> Result<Response<ValidateRulesResponse>, Status> {
        let request = request.into_inner();
        let format = match request.format.to_ascii_lowercase().as_str() {
            "" => RulesFormat::Toml,
            other => RulesFormat::from_extension(other)
                .ok_or_else(|| Status::invalid_argument(format!("format {other:?} is not toml or yaml")))?,
        };
        let problems: Vec<RulesProblem> = Rules::problems(&request.text, format)
            .into_iter()
            .map(|problem| RulesProblem {
                line: u32::try_from(problem.line).unwrap_or(u32::MAX),
                reason: problem.reason(),
            })
            .collect();
        Ok(Response::new(ValidateRulesResponse {
            valid: problems.is_empty(),
            problems,
        }))
    }

    async fn reload_rules(
        &self,
        _request: Request<ReloadRulesRequest>,
    ) -> Result<Response<ReloadRulesResponse>, Status> {
        let settings = self.inner.settings.clone();
        let loaded = blocking(move || settings.load()).await?;
        let rules = match loaded {
            Ok(rules) => rules,
            Err(error) => {
                tracing::warn!(error = %error, "rules reload refused, previous rules stay active");
                return Err(settings_status(error));
            }
        };
        let source = rules.source.clone();
        *self
            .inner
            .rules
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(rules);
        tracing::info!(rules = %source, "scoring rules reloaded");
        Ok(Response::new(ReloadRulesResponse { source }))
    }

    async fn list_migrations(
        &self,
        request: Request<ListMigrationsRequest>,
    ) -> Result<Response<ListMigrationsResponse>, Status> {
        let request = request.into_inner();
        let filter = MigrationFilter {
            customer_id: Some(request.customer_id).filter(|id| !id.is_empty()),
            segment: Some(request.segment).filter(|segment| !segment.is_empty()),
        };
        let page = self
            .inner
            .history
            .list_migrations(&filter, u64::from(request.page_size), Some(&request.page_token))
            .await
            .map_err(history_status)?;
        Ok(Response::new(ListMigrationsResponse {
            migrations: page.migrations.iter().map(recorded_migration_to_pb).collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
        }))
    }
}
