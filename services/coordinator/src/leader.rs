//! One leader among coordinator replicas, so each scheduled run starts once and each
//! queued run is executed by one replica.
//!
//! On PostgreSQL the leader holds a session-level advisory lock on a connection of its
//! own; if that connection drops, the lock is released and another replica takes over.
//! SQLite is the single-process embedded default, where the one process leads.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The advisory lock key: "ledgerlk" in ASCII, so it is recognisable in `pg_locks`.
pub const LOCK_KEY: i64 = 0x6c65_6467_6572_6c6b;

/// How often a follower tries to take the lead, and a leader checks it still has it.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// Watches leadership; `true` while this replica leads.
pub fn elect(url: String, shutdown: CancellationToken) -> watch::Receiver<bool> {
    let (sender, receiver) = watch::channel(false);
    if !url.starts_with("postgres") {
        let _ = sender.send(true);
        return receiver;
    }
    tokio::spawn(async move {
        let mut session: Option<DatabaseConnection> = None;
        loop {
            let leading = match session.take() {
                Some(db) => match still_leading(&db).await {
                    true => {
                        session = Some(db);
                        true
                    }
                    false => false,
                },
                None => match try_lead(&url).await {
                    Some(db) => {
                        session = Some(db);
                        true
                    }
                    None => false,
                },
            };
            if *sender.borrow() != leading {
                tracing::info!(leading, "coordinator leadership changed");
                let _ = sender.send(leading);
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(CHECK_INTERVAL) => {}
            }
        }
        let _ = sender.send(false);
        if let Some(db) = session {
            let _ = db.close().await;
        }
    });
    receiver
}

async fn try_lead(url: &str) -> Option<DatabaseConnection> {
    let mut options = sea_orm::ConnectOptions::new(url.to_owned());
    // One connection: an advisory lock belongs to the session that took it.
    options
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .sqlx_logging(false);
    let db = sea_orm::Database::connect(options).await.ok()?;
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_try_advisory_lock($1) AS locked",
            [LOCK_KEY.into()],
        ))
        .await
        .ok()??;
    let locked: bool = row.try_get("", "locked").ok()?;
    if locked {
        Some(db)
    } else {
        let _ = db.close().await;
        None
    }
}

/// Asks PostgreSQL whether this very session holds the lock: a pool that quietly
/// replaced the connection would otherwise answer for a session without it.
async fn still_leading(db: &DatabaseConnection) -> bool {
    let held = db
        .query_one_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted \
             AND pid = pg_backend_pid() AND ((classid::bigint << 32) | objid::bigint) = $1) AS held",
            [LOCK_KEY.into()],
        ))
        .await;
    matches!(held, Ok(Some(row)) if row.try_get::<bool>("", "held").unwrap_or(false))
}
