//! The HTTP side of a service: `/metrics` for Prometheus, `/healthz` and `/readyz` for
//! probes that cannot speak gRPC. Off unless `LEDGERLINK_METRICS_LISTEN` is set.

use std::net::SocketAddr;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{ConfigError, EnvSource};
use crate::readiness::Readiness;
use crate::telemetry::prometheus::{CONTENT_TYPE, PrometheusMetrics};

/// Environment variable: `HOST:PORT` of the metrics and probe listener (off when unset).
pub const ENV_METRICS_LISTEN: &str = "LEDGERLINK_METRICS_LISTEN";

/// Reads [`ENV_METRICS_LISTEN`]: `None` when unset or empty.
pub fn metrics_listen(env: &dyn EnvSource) -> Result<Option<SocketAddr>, ConfigError> {
    match env.get(ENV_METRICS_LISTEN).filter(|text| !text.is_empty()) {
        None => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|_| ConfigError::InvalidValue {
            name: ENV_METRICS_LISTEN.to_owned(),
            reason: format!("{text:?} is not HOST:PORT"),
        }),
    }
}

#[derive(Clone)]
struct Probes {
    metrics: PrometheusMetrics,
    readiness: Readiness,
}

/// The routes: `GET /metrics`, `GET /healthz` (200 while the process runs), `GET /readyz`
/// (200 while the gRPC service reports `SERVING`, 503 otherwise).
pub fn router(metrics: PrometheusMetrics, readiness: Readiness) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(Probes { metrics, readiness })
}

async fn scrape(axum::extract::State(probes): axum::extract::State<Probes>) -> Response {
    match probes.metrics.render() {
        Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(error) => {
            tracing::warn!(%error, "metrics scrape failed");
            (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response()
        }
    }
}

async fn ready(axum::extract::State(probes): axum::extract::State<Probes>) -> Response {
    if probes.readiness.is_ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not serving\n").into_response()
    }
}

/// Serves [`router`] on `listener` until `shutdown` is cancelled.
pub async fn serve_metrics(
    listener: TcpListener,
    metrics: PrometheusMetrics,
    readiness: Readiness,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let addr = listener.local_addr().map(|addr| addr.to_string()).unwrap_or_default();
    tracing::info!(addr = %addr, "metrics listening");
    axum::serve(listener, router(metrics, readiness))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MapEnv;

    #[test]
    fn listen_address_is_optional_and_checked() {
        assert_eq!(metrics_listen(&MapEnv::default()).unwrap(), None);
        assert_eq!(
            metrics_listen(&MapEnv::from_pairs([(ENV_METRICS_LISTEN, "")])).unwrap(),
            None
        );
        assert_eq!(
            metrics_listen(&MapEnv::from_pairs([(ENV_METRICS_LISTEN, "0.0.0.0:9464")])).unwrap(),
            Some("0.0.0.0:9464".parse().unwrap())
        );
        let error = metrics_listen(&MapEnv::from_pairs([(ENV_METRICS_LISTEN, "9464")])).unwrap_err();
        assert!(error.to_string().contains(ENV_METRICS_LISTEN), "{error}");
    }
}
