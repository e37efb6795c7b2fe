//! A Klaviyo API simulator for integration tests: the `/api` endpoints a receivables
//! sync uses (profiles and profile import, bulk profile import jobs, events and bulk
//! events, metrics, lists, segments), served over HTTP with Klaviyo's transport rules
//! (private-key auth, `revision` header, JSON:API bodies and errors), request bodies
//! validated against Klaviyo's OpenAPI schemas, per-endpoint rate limits with 429 and
//! `Retry-After`, and injectable faults.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use ledgerlink_klaviyo_sim::{SimConfig, start};
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let sim = start(SimConfig::new("pk_test"), listener)?;
//! // point the client at sim.base_url(), run it, then:
//! assert!(sim.request_count("create_event") <= 1);
//! # Ok(()) }
//! ```

mod api;
pub mod clock;
pub mod config;
pub mod error;
pub mod faults;
pub mod filter;
mod handle;
mod ids;
pub mod model;
pub mod ratelimit;
mod render;
pub mod schema;
pub mod segment_eval;
mod server;
mod store;
pub mod time;

pub use clock::Clock;
pub use config::{BulkValidation, SimConfig};
pub use faults::{Fault, RandomFaults};
pub use handle::{SimHandle, start, start_with_shutdown};
pub use ratelimit::RateLimitMode;
