//! A NetSuite SuiteTalk REST client for ledgerlink's extractor.
//!
//! - [`AccountId`]: the account id in canonical realm form and the host derived from it.
//! - [`tba`]: token-based authentication (OAuth 1.0a HMAC-SHA256), with a pure
//!   [`tba::sign`] checked against Oracle's vectors.
//! - [`oauth2`]: OAuth 2.0 client credentials with a PS256/ES256 client assertion; the
//!   client caches the access token and renews it before it expires.
//! - [`NetSuiteClient`]: SuiteQL pages, offset paging within NetSuite's 100,000-row cap,
//!   keyset paging for whole tables, retries with jittered exponential backoff on 429,
//!   5xx, timeouts and resets, one retry of a 401, and a client-side concurrency limit.
//! - [`Row`]: typed reads of SuiteQL's all-strings rows, with errors naming the column.
//!
//! The client never reads the environment and never logs a secret.

mod account;
mod client;
pub mod clock;
mod encode;
mod error;
pub mod oauth2;
mod settings;
mod stats;
mod suiteql;
pub mod tba;
mod telemetry;

pub use account::{AccountId, AccountIdError};
pub use client::{Auth, NetSuiteClient, NetSuiteClientBuilder};
pub use encode::percent_encode;
pub use error::{ApiError, CONCURRENCY_LIMIT_EXCEEDED, Error, ErrorDetail, SSS_REQUEST_LIMIT_EXCEEDED};
pub use oauth2::{JwtAlgorithm, M2mCredentials};
pub use reqwest::Method;
pub use settings::{ClientSettings, SettingsError};
pub use stats::ClientStats;
pub use suiteql::{
    KeysetQuery, Link, MAX_LIMIT, OFFSET_ROW_CAP, Page, Row, RowError, SUITEQL_PATH, SuiteQl, collect_rows,
};
pub use tba::TbaCredentials;
