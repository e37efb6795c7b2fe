//! The reminder service: decides which reminder events of `spec/reminders.md` are due,
//! reserves their keys and confirms them once sent, so each goes out exactly once.

use std::net::SocketAddr;
use std::sync::Arc;

use ledgerlink_proto::reminder::v1::reminder_service_server::ReminderServiceServer;
use ledgerlink_reminder_planner::Planner;
use ledgerlink_runtime::{DEFAULT_SHUTDOWN_GRACE, RuntimeConfig, ServeError};
use ledgerlink_store::StoreError;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub mod entity;
pub mod grpc;
pub mod ledger;
pub mod migration;
pub mod reminders;
pub mod settings;
pub mod wire;

pub use ledger::Ledger;
pub use reminders::Reminders;
pub use settings::ReminderSettings;

/// The service's name in configuration, logs and its SQLite file.
pub const SERVICE: &str = "reminder";

/// Returns the default listen address (`spec/interfaces.md`: 50053).
pub fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50053))
}

/// The service could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid.
    #[error(transparent)]
    Settings(#[from] settings::SettingsError),
    /// The planner configuration is invalid.
    #[error("invalid planner configuration: {0}")]
    Planner(#[from] ledgerlink_reminder_planner::ConfigError),
    /// The store could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Serving failed.
    #[error(transparent)]
    Serve(#[from] ServeError),
}

/// Opens the ledger at `url` (applying migrations) with `settings`.
pub async fn open(url: &str, settings: ReminderSettings) -> Result<Reminders, Error> {
    let db = ledgerlink_store::open::<migration::Migrator>(url).await?;
    let planner = Planner::new(settings.planner)?;
    Ok(Reminders::new(planner, Ledger::new(db, settings.reservation_ttl)))
}

/// Opens the ledger and serves until `shutdown` is cancelled.
pub async fn run(config: RuntimeConfig, listener: TcpListener, shutdown: CancellationToken) -> Result<(), Error> {
    let settings = ReminderSettings::from_table(&config.section)?;
    let url = ledgerlink_store::resolve_url(config.database_url.as_deref(), &config.data_dir, SERVICE)?;
    let reminders = Arc::new(open(&url, settings).await?);
    if config.migrate_only {
        tracing::info!("migrations applied");
        return Ok(());
    }
    let service = ReminderServiceServer::new(grpc::ReminderGrpc::new(reminders));
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
