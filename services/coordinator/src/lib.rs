//! The coordinator: runs (scheduled, on demand, per customer, per invoice) that stream
//! batches through the other services, with checkpoints, watermarks and reports.

use std::net::SocketAddr;
use std::sync::Arc;

use ledgerlink_proto::coordinator::v1::coordinator_service_server::CoordinatorServiceServer;
use ledgerlink_runtime::config::secret;
use ledgerlink_runtime::{DEFAULT_SHUTDOWN_GRACE, RuntimeConfig, ServeError};
use ledgerlink_store::StoreError;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub mod clients;
pub mod entity;
pub mod executor;
pub mod grpc;
pub mod leader;
pub mod metrics;
pub mod migration;
pub mod run;
pub mod runner;
pub mod schedule;
pub mod settings;
pub mod store;
pub mod webhook;

/// The service's name in configuration, logs and its SQLite file.
pub const SERVICE: &str = "coordinator";

/// Returns the default listen address (`spec/interfaces.md`: 50055).
pub fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50055))
}

/// The service could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid.
    #[error(transparent)]
    Settings(#[from] settings::SettingsError),
    /// A secret could not be read.
    #[error(transparent)]
    Config(#[from] ledgerlink_runtime::ConfigError),
    /// A service URL is invalid.
    #[error(transparent)]
    Url(#[from] clients::UrlError),
    /// The store could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The webhook listener could not be bound.
    #[error("cannot bind the webhook listener on {addr}: {source}")]
    Webhook {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error(transparent)]
    Serve(#[from] ServeError),
}

/// Opens the store, elects a leader, runs the workers, the scheduler and the webhook,
/// and serves gRPC until `shutdown` is cancelled.
pub async fn run(config: RuntimeConfig, listener: TcpListener, shutdown: CancellationToken) -> Result<(), Error> {
    run_with_webhook_listener(config, listener, None, shutdown).await
}

/// Like [`run`], with the webhook on `webhook_listener` when given (tests and
/// `ledgerlink up` bind it first, so it answers as soon as this returns control)
/// instead of `webhook_listen`.
pub async fn run_with_webhook_listener(
    config: RuntimeConfig,
    listener: TcpListener,
    webhook_listener: Option<TcpListener>,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    // Workers, the scheduler, the webhook and live runs all hang off this token; if
    // this future is dropped (its task aborted) they stop with it instead of running on
    // detached.
    let shutdown = shutdown.child_token();
    let _stop_children_when_dropped = shutdown.clone().drop_guard();
    let settings = settings::CoordinatorSettings::from_table(&config.section)?;
    let url = ledgerlink_store::resolve_url(config.database_url.as_deref(), &config.data_dir, SERVICE)?;
    let db = ledgerlink_store::open::<migration::Migrator>(&url).await?;
    if config.migrate_only {
        tracing::info!("migrations applied");
        return Ok(());
    }
    let store = store::Store::new(db);
    let clients = clients::Clients::connect_lazy(&settings.service_urls(), &config.auth_token, config.tls.as_ref())?;
    let executor = executor::Executor::new(clients.clone(), store.clone(), settings.execution.clone());
    let webhook_listen = settings.webhook_listen;
    let coordinator = Arc::new(runner::Coordinator::new(store, executor, settings));

    let leader = leader::elect(url, shutdown.clone());
    let worker = tokio::spawn(Arc::clone(&coordinator).work(leader.clone(), shutdown.clone()));
    let scheduler = tokio::spawn(Arc::clone(&coordinator).schedule(leader, shutdown.clone()));

    let webhook = match secret(&config.env, settings::ENV_WEBHOOK_SECRET)? {
        Some(secret) => {
            let listener = match webhook_listener {
                Some(listener) => listener,
                None => TcpListener::bind(webhook_listen)
                    .await
                    .map_err(|source| Error::Webhook {
                        addr: webhook_listen,
                        source,
                    })?,
            };
            let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
            tracing::info!(addr = %addr, "webhook listening");
            let router = webhook::server::router(Arc::clone(&coordinator), secret);
            let shutdown = shutdown.clone();
            Some(tokio::spawn(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(shutdown.cancelled_owned())
                    .await
            }))
        }
        None => {
            tracing::info!("webhook off: no {} set", settings::ENV_WEBHOOK_SECRET);
            None
        }
    };

    let service = CoordinatorServiceServer::new(grpc::CoordinatorGrpc::new(coordinator, clients));
    let served = ledgerlink_runtime::serve(
        listener,
        service,
        config.server_security(),
        shutdown.clone(),
        DEFAULT_SHUTDOWN_GRACE,
    )
    .await;
    shutdown.cancel();
    let _ = worker.await;
    let _ = scheduler.await;
    if let Some(webhook) = webhook {
        let _ = webhook.await;
    }
    served?;
    Ok(())
}
