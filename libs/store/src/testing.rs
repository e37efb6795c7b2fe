//! Throwaway databases for tests: a SQLite file in a temporary directory, or a fresh
//! PostgreSQL database on the server named by `LEDGERLINK_TEST_DATABASE_URL`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sea_orm::{ConnectionTrait, DbErr};

use crate::{StoreError, connect};

/// The variable naming the PostgreSQL server tests use.
pub const ENV_TEST_DATABASE_URL: &str = "LEDGERLINK_TEST_DATABASE_URL";
/// The server tests use when the variable is unset: the one CI and developer machines run.
pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Returns the URL of a new, empty PostgreSQL database created for one test.
///
/// Fails (it never skips) when the server is unreachable, so a missing PostgreSQL
/// cannot turn the SQL tests green by omission.
pub async fn fresh_postgres_url(server_url: &str) -> Result<String, StoreError> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let admin = connect(server_url).await?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!(
        "ll_test_{}_{}_{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .map_err(|source: DbErr| StoreError::Connect {
            backend: "postgres",
            source,
        })?;
    let base = server_url.rsplit_once('/').map_or(server_url, |(base, _)| base);
    Ok(format!("{base}/{name}"))
}
