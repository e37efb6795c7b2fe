//! The extractor service: reads NetSuite over SuiteQL and streams customer snapshots.
//!
//! It is stateless: the caller passes the watermark of an incremental extract.
//!
//! - [`queries`], [`status`] and [`assemble`] are pure: SuiteQL text, status letters,
//!   rows to snapshots with rejections.
//! - [`Extractor`] runs an extraction chunk by chunk of customers and streams
//!   [`ExtractEvent`]s through a bounded channel.
//! - [`run`] serves it as `ledgerlink.extractor.v1.ExtractorService`.

pub mod assemble;
pub mod config;
mod extract;
pub mod queries;
pub mod status;

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ledgerlink_proto::convert::{rejection_to_pb, snapshot_to_pb, timestamp_from_pb, timestamp_to_pb};
use ledgerlink_proto::extractor::v1::extractor_service_server::{ExtractorService, ExtractorServiceServer};
use ledgerlink_proto::extractor::v1::{
    ExtractRequest, ExtractResponse, ExtractSummary, SnapshotBatch, extract_request, extract_response,
};
use ledgerlink_proto::types::v1::RequestStats;
use ledgerlink_runtime::{DEFAULT_SHUTDOWN_GRACE, EnvSource, RuntimeConfig, ServeError};
use tokio::net::TcpListener;
use tokio_stream::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

pub use config::{ExtractSettings, NetSuiteConfig, NetSuiteConfigError};
pub use extract::{Batch, ExtractError, ExtractEvent, Extractor, Scope, Summary};

/// The service's name in configuration and logs.
pub const SERVICE: &str = "extractor";

/// Returns the default listen address (`spec/interfaces.md`: 50051).
pub fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50051))
}

/// The service could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Serving failed.
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// The `[extractor]` settings are invalid.
    #[error(transparent)]
    Config(#[from] ledgerlink_runtime::ConfigError),
}

/// Serves the extractor on `listener` until `shutdown` is cancelled, with NetSuite
/// configured from the environment the configuration was loaded from.
pub async fn run(config: RuntimeConfig, listener: TcpListener, shutdown: CancellationToken) -> Result<(), Error> {
    let env = config.env.clone();
    run_with_env(config, &env, listener, shutdown).await
}

/// [`run`] with NetSuite configured from `env`. Without NetSuite settings the service
/// still starts (health stays green) and `Extract` answers FAILED_PRECONDITION naming the
/// missing variables; invalid `[extractor]` settings refuse to start.
pub async fn run_with_env(
    config: RuntimeConfig,
    env: &dyn EnvSource,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let settings = config.section::<ExtractSettings>(SERVICE)?.with_env(env)?;
    if config.migrate_only {
        tracing::info!("the extractor keeps no database: nothing to migrate");
        return Ok(());
    }
    let extractor = match extractor_from_env(env, settings) {
        Ok(extractor) => Ok(Arc::new(extractor)),
        Err(reason) => {
            tracing::warn!(%reason, "netsuite not usable; Extract will answer failed precondition");
            Err(reason)
        }
    };
    let service = ExtractorServiceServer::new(ExtractorGrpc { extractor });
    ledgerlink_runtime::serve(
        listener,
        service,
        config.server_security(),
        shutdown,
        DEFAULT_SHUTDOWN_GRACE,
    )
    .await?;
    Ok(())
}

/// Builds an [`Extractor`] from `NETSUITE_*` in `env` and `settings`; the error is a
/// one-line reason fit for an operator.
pub fn extractor_from_env(env: &dyn EnvSource, settings: ExtractSettings) -> Result<Extractor, String> {
    let netsuite = NetSuiteConfig::from_env(env).map_err(|error| error.to_string())?;
    let client = netsuite
        .client(settings.client.clone())
        .map_err(|error| format!("netsuite client: {error}"))?;
    Extractor::new(client, settings).map_err(|error| error.to_string())
}

/// The gRPC adapter.
#[derive(Debug)]
pub struct ExtractorGrpc {
    extractor: Result<Arc<Extractor>, String>,
}

impl ExtractorGrpc {
    /// An adapter over `extractor`, or one that refuses every call with `reason`.
    pub fn new(extractor: Result<Arc<Extractor>, String>) -> Self {
        ExtractorGrpc { extractor }
    }
}

type ExtractStream = Pin<Box<dyn Stream<Item = Result<ExtractResponse, Status>> + Send>>;

/// Reads an optional customer id of a request.
fn optional_id(text: &str, field: &str) -> Result<Option<i64>, Status> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    parse_id(text, field).map(Some)
}

fn parse_id(text: &str, field: &str) -> Result<i64, Status> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| Status::invalid_argument(format!("{field} {text:?} is not a netsuite internal id")))
}

/// Turns a request into a [`Scope`], refusing what cannot be extracted.
pub fn scope_from_request(request: &ExtractRequest) -> Result<Scope, Status> {
    match &request.scope {
        None => Err(Status::invalid_argument(
            "scope is required: full, incremental or targets",
        )),
        Some(extract_request::Scope::Full(full)) => {
            let after = optional_id(&full.after_customer_id, "after_customer_id")?;
            let until = optional_id(&full.until_customer_id, "until_customer_id")?;
            if let (Some(after), Some(until)) = (after, until)
                && until <= after
            {
                return Err(Status::invalid_argument(format!(
                    "until_customer_id {until} must be above after_customer_id {after}"
                )));
            }
            Ok(Scope::Full { after, until })
        }
        Some(extract_request::Scope::Incremental(incremental)) => {
            let since = incremental
                .since
                .as_ref()
                .ok_or_else(|| Status::invalid_argument("incremental.since is required"))?;
            let since: DateTime<Utc> =
                timestamp_from_pb(since, "since").map_err(|error| Status::invalid_argument(error.to_string()))?;
            Ok(Scope::Incremental {
                since,
                after: optional_id(&incremental.after_customer_id, "after_customer_id")?,
            })
        }
        Some(extract_request::Scope::Targets(targets)) => {
            if targets.customer_ids.is_empty() && targets.invoice_ids.is_empty() {
                return Err(Status::invalid_argument(
                    "targets needs at least one customer id or invoice id",
                ));
            }
            let customer_ids = targets
                .customer_ids
                .iter()
                .map(|id| parse_id(id, "customer id"))
                .collect::<Result<_, _>>()?;
            let invoice_ids = targets
                .invoice_ids
                .iter()
                .map(|id| parse_id(id, "invoice id"))
                .collect::<Result<_, _>>()?;
            Ok(Scope::Targets {
                customer_ids,
                invoice_ids,
            })
        }
    }
}

/// Maps an extraction error to a status: NetSuite down, throttled or timing out is
/// UNAVAILABLE (retry later); refused credentials, a refused query (missing permission or
/// table) or unusable settings are FAILED_PRECONDITION (an operator must act); an answer
/// that does not have the documented shape is INTERNAL.
pub fn status_of(error: &ExtractError) -> Status {
    use ledgerlink_netsuite_client::Error as Ns;
    let message = error.to_string();
    match error {
        ExtractError::ServerTime(_) | ExtractError::Chunk(_) => Status::internal(message),
        ExtractError::NetSuite(error) => match error {
            Ns::Transport(_) | Ns::RetriesExhausted { .. } => Status::unavailable(message),
            Ns::Api(api) if api.status == 429 || api.status >= 500 || api.is_concurrency_limit() => {
                Status::unavailable(message)
            }
            Ns::Api(_)
            | Ns::BadCredentials(_)
            | Ns::TokenRejected(_)
            | Ns::InvalidBaseUrl { .. }
            | Ns::Settings(_)
            | Ns::InvalidKey(_)
            | Ns::OffsetCapReached { .. }
            | Ns::InvalidPaging(_) => Status::failed_precondition(message),
            _ => Status::internal(message),
        },
    }
}

/// Converts one stream item to its wire form.
pub fn response_of(event: ExtractEvent) -> ExtractResponse {
    let item = match event {
        ExtractEvent::Batch(batch) => extract_response::Item::Batch(SnapshotBatch {
            sequence: batch.sequence,
            snapshots: batch.snapshots.iter().map(snapshot_to_pb).collect(),
            rejections: batch.rejections.iter().map(rejection_to_pb).collect(),
            last_customer_id: batch.last_customer_id.unwrap_or_default(),
        }),
        ExtractEvent::Summary(summary) => extract_response::Item::Summary(ExtractSummary {
            customers: summary.customers,
            invoices: summary.invoices,
            payments: summary.payments,
            orders: summary.orders,
            rejected: summary.rejected,
            watermark: Some(timestamp_to_pb(summary.watermark)),
            requests: Some(RequestStats {
                requests: summary.requests.requests,
                throttled: summary.requests.throttled,
                retries: summary.requests.retries,
                wait_millis: 0,
            }),
        }),
    };
    ExtractResponse { item: Some(item) }
}

#[tonic::async_trait]
impl ExtractorService for ExtractorGrpc {
    type ExtractStream = ExtractStream;

    async fn extract(&self, request: Request<ExtractRequest>) -> Result<Response<Self::ExtractStream>, Status> {
        let request = request.into_inner();
        let scope = scope_from_request(&request)?;
        let extractor = self
            .extractor
            .as_ref()
            .map_err(|reason| Status::failed_precondition(reason.clone()))?;
        tracing::info!(run_id = %request.run_id, "extract requested");
        let batch_size = (request.batch_size > 0).then_some(request.batch_size);
        let stream = extractor.start(scope, batch_size).map(|item| match item {
            Ok(event) => Ok(response_of(event)),
            Err(error) => Err(status_of(&error)),
        });
        Ok(Response::new(Box::pin(stream)))
    }
}
