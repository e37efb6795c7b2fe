//! The Klaviyo gateway: the only process holding the Klaviyo key. It writes profiles
//! (sending only what changed), events, list membership and segments, within Klaviyo's
//! rate limits (`spec/klaviyo-sync.md`).

use std::net::SocketAddr;

use ledgerlink_proto::klaviyo::v1::klaviyo_gateway_service_server::KlaviyoGatewayServiceServer;
use ledgerlink_runtime::config::{ConfigError, EnvSource, secret};
use ledgerlink_runtime::{DEFAULT_SHUTDOWN_GRACE, RuntimeConfig, ServeError};
use ledgerlink_store::StoreError;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub mod gateway;
pub mod grpc;
pub mod mapping;
pub mod migration;
pub mod settings;
pub mod store;
pub mod testing;

pub use gateway::{Gateway, GatewayError, Outcome, PushOptions, PushReport, RecordResult, Scored};
pub use grpc::KlaviyoGatewayGrpc;
pub use settings::{ENV_API_KEY, ENV_BASE_URL, GatewaySettings, SettingsError};
pub use store::DigestStore;

/// The service's name in configuration, logs and its SQLite file.
pub const SERVICE: &str = "klaviyo-gateway";

/// Returns the default listen address (`spec/interfaces.md`: 50054).
pub fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50054))
}

/// The service could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The `[klaviyo-gateway]` table is invalid.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The key could not be read.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Serving failed.
    #[error(transparent)]
    Serve(#[from] ServeError),
}

/// Opens the digest store at `url` (applying migrations) and builds the gateway, reading
/// the key and the base URL override from `env`.
pub async fn open(url: &str, settings: GatewaySettings, env: &dyn EnvSource) -> Result<Gateway, Error> {
    let api_key = secret(env, ENV_API_KEY)?;
    if api_key.is_none() {
        tracing::warn!(
            variable = ENV_API_KEY,
            "no klaviyo key: only previews and dry runs will work"
        );
    }
    let base_url = env.get(ENV_BASE_URL).filter(|url| !url.trim().is_empty());
    let db = ledgerlink_store::open::<migration::Migrator>(url).await?;
    Ok(Gateway::new(settings, api_key, base_url, DigestStore::new(db)))
}

/// Opens the store (applying migrations) and serves until `shutdown` is cancelled.
pub async fn run(config: RuntimeConfig, listener: TcpListener, shutdown: CancellationToken) -> Result<(), Error> {
    let settings = GatewaySettings::from_table(&config.section)?;
    let url = ledgerlink_store::resolve_url(config.database_url.as_deref(), &config.data_dir, SERVICE)?;
    let gateway = open(&url, settings, &config.env).await?;
    if config.migrate_only {
        tracing::info!("migrations applied");
        return Ok(());
    }
    let service = KlaviyoGatewayServiceServer::new(KlaviyoGatewayGrpc::new(gateway));
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
