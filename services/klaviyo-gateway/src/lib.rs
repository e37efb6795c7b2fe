//! The Klaviyo gateway: the only process holding the Klaviyo key. It writes profiles,
//! events, list membership and segments, within Klaviyo's rate limits.

use std::net::SocketAddr;
use std::pin::Pin;

use ledgerlink_proto::klaviyo::v1::klaviyo_gateway_service_server::{
    KlaviyoGatewayService, KlaviyoGatewayServiceServer,
};
use ledgerlink_proto::klaviyo::v1::{
    ApplySegmentsRequest, ApplySegmentsResponse, PreviewProfileRequest, PreviewProfileResponse, SendEventsRequest,
    SendEventsResponse, SyncListsRequest, SyncListsResponse, UpsertProfilesRequest, UpsertProfilesResponse,
};
use ledgerlink_runtime::{AuthInterceptor, DEFAULT_SHUTDOWN_GRACE, RuntimeConfig, ServeError, not_yet_implemented};
use ledgerlink_store::{DatabaseConnection, StoreError};
use tokio::net::TcpListener;
use tokio_stream::Stream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};

pub mod migration;

/// The service's name in configuration, logs and its SQLite file.
pub const SERVICE: &str = "klaviyo-gateway";

/// Returns the default listen address (`spec/interfaces.md`: 50054).
pub fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50054))
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
    let service = KlaviyoGatewayServiceServer::new(KlaviyoGatewayGrpc { _db: db });
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
pub struct KlaviyoGatewayGrpc {
    _db: DatabaseConnection,
}

const ARRIVES_WITH: &str = "the Klaviyo gateway";

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl KlaviyoGatewayService for KlaviyoGatewayGrpc {
    type UpsertProfilesStream = BoxStream<UpsertProfilesResponse>;
    type SendEventsStream = BoxStream<SendEventsResponse>;

    async fn upsert_profiles(
        &self,
        _request: Request<Streaming<UpsertProfilesRequest>>,
    ) -> Result<Response<Self::UpsertProfilesStream>, Status> {
        Err(not_yet_implemented("UpsertProfiles", ARRIVES_WITH))
    }

    async fn send_events(
        &self,
        _request: Request<Streaming<SendEventsRequest>>,
    ) -> Result<Response<Self::SendEventsStream>, Status> {
        Err(not_yet_implemented("SendEvents", ARRIVES_WITH))
    }

    async fn sync_lists(&self, _request: Request<SyncListsRequest>) -> Result<Response<SyncListsResponse>, Status> {
        Err(not_yet_implemented("SyncLists", ARRIVES_WITH))
    }

    async fn apply_segments(
        &self,
        _request: Request<ApplySegmentsRequest>,
    ) -> Result<Response<ApplySegmentsResponse>, Status> {
        Err(not_yet_implemented("ApplySegments", ARRIVES_WITH))
    }

    async fn preview_profile(
        &self,
        _request: Request<PreviewProfileRequest>,
    ) -> Result<Response<PreviewProfileResponse>, Status> {
        Err(not_yet_implemented("PreviewProfile", ARRIVES_WITH))
    }
}
