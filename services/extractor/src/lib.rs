//! The extractor service: reads NetSuite over SuiteQL and streams customer snapshots.
//!
//! It is stateless: the caller passes the watermark of an incremental extract.

use std::net::SocketAddr;
use std::pin::Pin;

use ledgerlink_proto::extractor::v1::extractor_service_server::{ExtractorService, ExtractorServiceServer};
use ledgerlink_proto::extractor::v1::{ExtractRequest, ExtractResponse};
use ledgerlink_runtime::{AuthInterceptor, DEFAULT_SHUTDOWN_GRACE, RuntimeConfig, ServeError};
use tokio::net::TcpListener;
use tokio_stream::Stream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

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
}

/// Serves the extractor on `listener` until `shutdown` is cancelled.
pub async fn run(config: RuntimeConfig, listener: TcpListener, shutdown: CancellationToken) -> Result<(), Error> {
    let service = ExtractorServiceServer::new(ExtractorGrpc);
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
#[derive(Debug, Default)]
pub struct ExtractorGrpc;

type ExtractStream = Pin<Box<dyn Stream<Item = Result<ExtractResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ExtractorService for ExtractorGrpc {
    type ExtractStream = ExtractStream;

    async fn extract(&self, _request: Request<ExtractRequest>) -> Result<Response<Self::ExtractStream>, Status> {
        Err(ledgerlink_runtime::not_yet_implemented(
            "Extract",
            "NetSuite extraction",
        ))
    }
}
