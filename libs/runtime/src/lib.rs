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
pub mod shutdown;
pub mod telemetry;

pub use auth::{AuthInterceptor, BearerToken};
pub use config::{ConfigError, EnvSource, MapEnv, ProcessEnv, RuntimeConfig, ServiceArgs, SharedEnv};
pub use grpc::{DEFAULT_SHUTDOWN_GRACE, ServeError, not_yet_implemented, serve};
pub use main_helper::service_main;
pub use shutdown::shutdown_on_signal;
pub use telemetry::{TelemetryError, TelemetryGuard};

/// Exit code for an invalid configuration (`EX_USAGE` of sysexits).
pub const EXIT_USAGE: i32 = 64;
