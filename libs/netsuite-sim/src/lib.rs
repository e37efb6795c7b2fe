//! A NetSuite SuiteTalk REST simulator for integration tests, demos and benchmarks.
//!
//! [`NetSuiteSim::start`] serves, on a listener you bind, what the reference
//! (`shared/reference/netsuite.md`) documents: TBA (OAuth 1.0a HMAC-SHA256) and
//! OAuth 2.0 client-credentials authentication with NetSuite's 401 bodies, SuiteQL
//! over an embedded SQLite holding NetSuite's tables and columns (loaded from
//! `ledgerlink-synthdata`), NetSuite's paging rules and response format, the account
//! concurrency limit, per-page latency, injectable faults and a movable server clock.
//! The returned [`SimHandle`] mutates data, sets faults and reads the request log.

mod auth;
mod clock;
mod dates;
mod db;
mod errors;
mod faults;
mod functions;
mod render;
mod results;
mod server;
mod sql;

use std::path::PathBuf;
use std::time::Duration;

pub use auth::{KeyError, M2mClient, TbaCredentials};
use chrono_tz::Tz;
pub use clock::ServerClock;
pub use dates::{DateFormat, FormatError};
pub use errors::{CONCURRENCY_DETAIL, INVALID_LOGIN_DETAIL};
pub use faults::{FaultConfig, FaultKind};
pub use server::{Counters, LoginAudit, NetSuiteSim, RequestRecord, SimError, SimHandle, query_shape};
pub use sql::{CompiledQuery, MAX_IN_LIST, QueryError};

/// What happens when a query asks for rows past the row cap (reference §2: the exact
/// behaviour is unverified, so both observed behaviours are offered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CapBehaviour {
    /// A request with `offset` at or past the cap is refused with 400.
    #[default]
    Error,
    /// The last reachable page says `hasMore: false` although `totalResults` is larger;
    /// pages past the cap are empty.
    Truncate,
}

/// Configuration of a simulated account.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Account id in canonical realm form (`123456`, `123456_SB1`); the realm of a TBA
    /// header must equal it exactly.
    pub account_id: String,
    /// Accepted TBA credentials.
    pub tba: Vec<TbaCredentials>,
    /// Accepted OAuth 2.0 certificates.
    pub m2m_clients: Vec<M2mClient>,
    /// Concurrent API requests allowed (Standard tier: 5).
    pub concurrency_limit: usize,
    /// Time each SuiteQL page takes, the query itself included (0 for tests; 500 ms is
    /// realistic).
    pub page_latency: Duration,
    /// The integration user's date format for raw date columns, e.g. `M/D/YYYY`.
    pub user_date_format: String,
    /// The account's time zone: dates are stored and printed in it.
    pub time_zone: Tz,
    /// Rows one query can reach through offsets (100,000).
    pub row_cap: usize,
    /// What happens past the row cap.
    pub cap_behaviour: CapBehaviour,
    /// Allowed distance of a TBA timestamp from the server clock (300 s).
    pub timestamp_tolerance_secs: i64,
    /// Lifetime of issued OAuth 2.0 access tokens (3600 s).
    pub token_lifetime_secs: i64,
    /// Faults drawn at random.
    pub faults: FaultConfig,
    /// Where to keep the SQLite database; in memory when `None` (use a file for
    /// millions of customers).
    pub database_path: Option<PathBuf>,
}

impl SimConfig {
    /// Defaults for an account id: Standard-tier limits, `M/D/YYYY`, UTC, no faults.
    pub fn new(account_id: impl Into<String>) -> Self {
        SimConfig {
            account_id: account_id.into(),
            tba: Vec::new(),
            m2m_clients: Vec::new(),
            concurrency_limit: 5,
            page_latency: Duration::ZERO,
            user_date_format: "M/D/YYYY".to_owned(),
            time_zone: Tz::UTC,
            row_cap: 100_000,
            cap_behaviour: CapBehaviour::Error,
            timestamp_tolerance_secs: 300,
            token_lifetime_secs: 3600,
            faults: FaultConfig::default(),
            database_path: None,
        }
    }
}
