//! What every ledgerlink service runs on.
//!
//! A service binary does four things, all from here: load its [`config`], start
//! [`telemetry`], bind its listener, and [`grpc::serve`] its gRPC service (with health,
//! reflection and the bearer-token [`auth`] check) until [`shutdown`] is signalled.
//! Libraries never read the process environment: binaries hand an [`config::EnvSource`]
//! in, and tests hand in a map.

pub mod auth;
pub mod config;
pub mod grpc;
mod main_helper;
pub mod metrics_server;
pub mod readiness;
pub mod shutdown;
pub mod telemetry;
pub mod tls;

pub use auth::{AuthInterceptor, BearerToken};
pub use config::{ConfigError, EnvSource, MapEnv, ProcessEnv, RuntimeConfig, ServiceArgs, SharedEnv};
pub use grpc::{DEFAULT_SHUTDOWN_GRACE, ServeError, ServerSecurity, not_yet_implemented, serve};
pub use main_helper::service_main;
pub use metrics_server::{ENV_METRICS_LISTEN, serve_metrics};
pub use readiness::Readiness;
pub use shutdown::shutdown_on_signal;
pub use telemetry::{PrometheusMetrics, TelemetryError, TelemetryGuard};
pub use tls::TlsSettings;

/// Exit code for an invalid configuration (`EX_USAGE` of sysexits).
pub const EXIT_USAGE: i32 = 64;
