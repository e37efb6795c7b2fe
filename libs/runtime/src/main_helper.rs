//! The body of every service's `main`, so the five binaries stay a few lines each.

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{ProcessEnv, RuntimeConfig, ServiceArgs};
use crate::readiness::Readiness;
use crate::telemetry::{self, LogFormat, PrometheusMetrics};

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    service: ServiceArgs,
}

/// Parses flags, loads configuration, starts telemetry, binds the listener and runs
/// `run` until it returns; SIGTERM or SIGINT cancel the token it is given. With
/// `LEDGERLINK_METRICS_LISTEN` set, `/metrics`, `/healthz` and `/readyz` are served there
/// until `run` returns.
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
    let metrics_listen = match crate::metrics_server::metrics_listen(&ProcessEnv) {
        Ok(addr) => addr,
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
        let telemetry_guard = match telemetry::init(
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
        // A migration run serves nothing; it must not contend for the service's port.
        let bind_to = if config.migrate_only {
            SocketAddr::from(([127, 0, 0, 1], 0))
        } else {
            config.listen
        };
        let listener = match TcpListener::bind(bind_to).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::error!(addr = %config.listen, %error, "cannot bind listener");
                return ExitCode::FAILURE;
            }
        };
        let readiness = Readiness::new();
        let metrics_stop = CancellationToken::new();
        // Like the gRPC port, a migration run leaves the metrics port to the service.
        let metrics = match metrics_listen.filter(|_| !config.migrate_only) {
            Some(addr) => {
                let metrics = telemetry_guard.metrics().clone();
                let Some(task) = start_metrics(addr, metrics, readiness.clone(), metrics_stop.clone()).await else {
                    return ExitCode::FAILURE;
                };
                Some(task)
            }
            None => None,
        };
        let shutdown = crate::shutdown_on_signal();
        let outcome = readiness.scope(run(config, listener, shutdown)).await;
        // Probes keep answering (`/readyz` 503) through the drain; they stop with the service.
        metrics_stop.cancel();
        if let Some(task) = metrics {
            let _ = task.await;
        }
        match outcome {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(error = %error, "service failed");
                ExitCode::FAILURE
            }
        }
    })
}

/// Binds the metrics listener and serves it on a task; `None` (logged) when the
/// address cannot be bound.
async fn start_metrics(
    addr: SocketAddr,
    metrics: PrometheusMetrics,
    readiness: Readiness,
    stop: CancellationToken,
) -> Option<tokio::task::JoinHandle<std::io::Result<()>>> {
    match TcpListener::bind(addr).await {
        Ok(listener) => Some(tokio::spawn(crate::serve_metrics(listener, metrics, readiness, stop))),
        Err(error) => {
            tracing::error!(addr = %addr, %error, "cannot bind metrics listener");
            None
        }
    }
}

impl ProcessEnv {
    fn get_filter(self) -> Option<String> {
        crate::config::EnvSource::get(&self, "RUST_LOG")
    }
}
