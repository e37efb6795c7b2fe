//! The body of every service's `main`, so the five binaries stay a few lines each.

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{ProcessEnv, RuntimeConfig, ServiceArgs};
use crate::telemetry::{self, LogFormat};

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    service: ServiceArgs,
}

/// Parses flags, loads configuration, starts telemetry, binds the listener and runs
/// `run` until it returns; SIGTERM or SIGINT cancel the token it is given.
///
/// Exits 0 after a clean shutdown, 64 on invalid configuration (before any logging
/// exists, on stderr), 1 on any other failure.
pub fn service_main<F, Fut, E>(service: &'static str, default_listen: SocketAddr, run: F) -> ExitCode
where
    F: FnOnce(RuntimeConfig, TcpListener, CancellationToken) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::error::Error,
{
    let cli = Cli::parse();
    let config = match RuntimeConfig::load(service, default_listen, &cli.service, &ProcessEnv) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("ledgerlink-{service}: {error}");
            return ExitCode::from(crate::EXIT_USAGE as u8);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ledgerlink-{service}: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let filter = ProcessEnv.get_filter();
        let _telemetry = match telemetry::init(
            service,
            LogFormat::Json,
            filter.as_deref(),
            config.otlp_endpoint.as_deref(),
        ) {
            Ok(guard) => guard,
            Err(error) => {
                eprintln!("ledgerlink-{service}: {error}");
                return ExitCode::FAILURE;
            }
        };
        let listener = match TcpListener::bind(config.listen).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::error!(addr = %config.listen, %error, "cannot bind listener");
                return ExitCode::FAILURE;
            }
        };
        let shutdown = crate::shutdown_on_signal();
        match run(config, listener, shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(error = %error, "service failed");
                ExitCode::FAILURE
            }
        }
    })
}

impl ProcessEnv {
    fn get_filter(self) -> Option<String> {
        crate::config::EnvSource::get(&self, "RUST_LOG")
    }
}
