//! Hosting one gRPC service with health, reflection, auth and graceful shutdown.

use std::convert::Infallible;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use crate::auth::AuthInterceptor;

/// How long in-flight RPCs get to finish after shutdown is requested, unless the
/// caller says otherwise; Kubernetes' default termination grace is 30 s.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// The server stopped for a reason other than a requested shutdown.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The transport failed.
    #[error("grpc server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// Reflection could not be built from the descriptors.
    #[error("cannot build reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// How a server checks who calls it: the bearer token always, and TLS (mutual when
/// a client CA is configured) when the process has a certificate.
#[derive(Debug, Clone)]
pub struct ServerSecurity {
    /// The bearer-token check on every RPC but health.
    pub auth: AuthInterceptor,
    /// TLS, when configured.
    pub tls: Option<tonic::transport::ServerTlsConfig>,
}

impl From<AuthInterceptor> for ServerSecurity {
    fn from(auth: AuthInterceptor) -> Self {
        ServerSecurity { auth, tls: None }
    }
}

/// Serves `service` on `listener` until `shutdown` is cancelled.
///
/// Health (`grpc.health.v1`) answers without a token and reports the service
/// `SERVING` until shutdown starts, then `NOT_SERVING` so load balancers stop routing;
/// reflection (v1 and v1alpha, for grpcurl of any age) and the service itself require
/// the bearer token. In-flight RPCs get `grace` to finish.
pub async fn serve<S>(
    listener: TcpListener,
    service: S,
    security: impl Into<ServerSecurity>,
    shutdown: CancellationToken,
    grace: Duration,
) -> Result<(), ServeError>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_service_status(S::NAME, tonic_health::ServingStatus::Serving)
        .await;
    health_reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    // `/readyz` follows health: ready now, not ready from the moment shutdown starts.
    let readiness = crate::Readiness::of_current_task();
    readiness.set(true);
    let _unready_when_stopped = readiness.unset_on_drop();

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(ledgerlink_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(ledgerlink_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    // Tests and `ledgerlink up` read the bound address from this line when asked for
    // port 0.
    let local_addr = listener.local_addr().map(|addr| addr.to_string()).unwrap_or_default();
    tracing::info!(service = S::NAME, addr = %local_addr, "listening");

    let drain_started = CancellationToken::new();
    let stop_accepting = {
        let shutdown = shutdown.clone();
        let drain_started = drain_started.clone();
        let reporter = health_reporter.clone();
        async move {
            shutdown.cancelled().await;
            readiness.set(false);
            reporter
                .set_service_status(S::NAME, tonic_health::ServingStatus::NotServing)
                .await;
            reporter
                .set_service_status("", tonic_health::ServingStatus::NotServing)
                .await;
            tracing::info!(service = S::NAME, "draining in-flight requests");
            drain_started.cancel();
        }
    };

    let ServerSecurity { auth, tls } = security.into();
    // Each request's span continues the caller's trace (W3C `traceparent`).
    let mut builder = Server::builder().trace_fn(crate::telemetry::grpc_server_span);
    if let Some(tls) = tls {
        builder = builder.tls_config(tls)?;
    }
    let server = builder
        .add_service(health_service)
        .add_service(InterceptedService::new(reflection_v1, auth.clone()))
        .add_service(InterceptedService::new(reflection_v1alpha, auth.clone()))
        .add_service(InterceptedService::new(service, auth))
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), stop_accepting);

    tokio::pin!(server);
    tokio::select! {
        result = &mut server => result?,
        () = async { drain_started.cancelled().await; tokio::time::sleep(grace).await } => {
            tracing::warn!(service = S::NAME, grace_secs = grace.as_secs(), "drain time exceeded, stopping");
        }
    }
    tracing::info!(service = S::NAME, "stopped");
    Ok(())
}

/// The answer of an RPC whose logic has not landed yet: `UNIMPLEMENTED`, saying which
/// piece of work brings it, so nothing looks as if it worked.
pub fn not_yet_implemented(rpc: &str, arrives_with: &str) -> tonic::Status {
    tonic::Status::unimplemented(format!("{rpc} is not implemented yet: it arrives with {arrives_with}"))
}
