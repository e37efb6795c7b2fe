//! Database connections for ledgerlink services.
//!
//! Each service owns its tables and its migrations (a [`MigratorTrait`] of its own)
//! and applies them at start with [`open`]. A URL is `sqlite://…` or `postgres://…`;
//! without one a service keeps a SQLite file of its own under the data directory.

use std::path::Path;
use std::time::Duration;

pub use sea_orm::DatabaseConnection;
use sea_orm::{ConnectOptions, Database, DbErr};
pub use sea_orm_migration::MigratorTrait;

pub mod testing;

/// A database that could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no database ledgerlink supports.
    #[error("unsupported database url scheme {scheme:?}: use sqlite:// or postgres://")]
    UnsupportedScheme {
        /// The scheme given.
        scheme: String,
    },
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Connecting failed.
    #[error("cannot connect to the {backend} database: {source}")]
    Connect {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// The driver's error.
        source: DbErr,
    },
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(DbErr),
}

/// Returns the SQLite URL of `service`'s own file under `data_dir`, creating the
/// directory.
pub fn default_sqlite_url(data_dir: &Path, service: &str) -> Result<String, StoreError> {
    std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
        path: data_dir.display().to_string(),
        source,
    })?;
    Ok(format!(
        "sqlite://{}?mode=rwc",
        data_dir.join(format!("{service}.db")).display()
    ))
}

/// Returns `explicit` when given, else the default SQLite file of `service`.
pub fn resolve_url(explicit: Option<&str>, data_dir: &Path, service: &str) -> Result<String, StoreError> {
    match explicit {
        Some(url) => Ok(url.to_owned()),
        None => default_sqlite_url(data_dir, service),
    }
}

/// Connects to `url` and applies every pending migration of `M`.
///
/// Migrations are idempotent: running them on an up-to-date database changes nothing.
pub async fn open<M: MigratorTrait>(url: &str) -> Result<DatabaseConnection, StoreError> {
    let db = connect(url).await?;
    M::up(&db, None).await.map_err(StoreError::Migrate)?;
    Ok(db)
}

/// Connects to `url` without migrating.
pub async fn connect(url: &str) -> Result<DatabaseConnection, StoreError> {
    let backend = backend_of(url)?;
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(false);
    if backend == "sqlite" {
        // WAL lets readers proceed while a run writes; the busy timeout turns a brief
        // write contention into a wait instead of a "database is locked" failure.
        options.map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    }
    let db = Database::connect(options)
        .await
        .map_err(|source| StoreError::Connect { backend, source })?;
    tracing::debug!(backend, "database connected");
    Ok(db)
}

fn backend_of(url: &str) -> Result<&'static str, StoreError> {
    let scheme = url.split_once("://").map_or(url, |(scheme, _)| scheme);
    match scheme {
        "sqlite" => Ok("sqlite"),
        "postgres" | "postgresql" => Ok("postgres"),
        other => Err(StoreError::UnsupportedScheme {
            scheme: other.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sqlite_and_postgres_are_accepted() {
        assert_eq!(backend_of("sqlite://x.db").unwrap(), "sqlite");
        assert_eq!(backend_of("postgres://u@h/db").unwrap(), "postgres");
        assert_eq!(backend_of("postgresql://u@h/db").unwrap(), "postgres");
        let error = backend_of("mysql://u@h/db").unwrap_err();
        assert!(error.to_string().contains("mysql"), "{error}");
    }
}
