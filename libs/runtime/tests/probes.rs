//! The metrics listener beside a real gRPC server: `/metrics`, `/healthz`, and a
//! `/readyz` that follows the server's health through shutdown.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};
use std::time::Duration;

use ledgerlink_runtime::{AuthInterceptor, PrometheusMetrics, Readiness};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::body::Body;
use tonic::server::NamedService;

/// The smallest service `serve` accepts: it answers every call with an empty 200.
#[derive(Clone)]
struct Nothing;

impl NamedService for Nothing {
    const NAME: &'static str = "ledgerlink.test.Nothing";
}

impl tower::Service<http::Request<Body>> for Nothing {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<Body>) -> Self::Future {
        ready(Ok(http::Response::new(Body::empty())))
    }
}

async fn status_of(http: &reqwest::Client, url: &str) -> u16 {
    http.get(url).send().await.map(|r| r.status().as_u16()).unwrap_or(0)
}

/// Polls `url` until it answers `want`, for at most ten seconds.
async fn wait_for_status(http: &reqwest::Client, url: &str, want: u16) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got = status_of(http, url).await;
        if got == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{url} answered {got}, not {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn metrics_and_probes_follow_the_grpc_server() {
    let metrics = PrometheusMetrics::new();
    let provider = SdkMeterProvider::builder().with_reader(metrics.reader()).build();
    provider
        .meter("ledgerlink")
        .u64_counter("ledgerlink.test.hits")
        .build()
        .add(3, &[opentelemetry::KeyValue::new("kind", "probe")]);

    let readiness = Readiness::new();
    let metrics_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", metrics_listener.local_addr().unwrap());
    let metrics_stop = CancellationToken::new();
    let metrics_task = tokio::spawn(ledgerlink_runtime::serve_metrics(
        metrics_listener,
        metrics,
        readiness.clone(),
        metrics_stop.clone(),
    ));

    let http = reqwest::Client::new();
    assert_eq!(status_of(&http, &format!("{base}/healthz")).await, 200);
    assert_eq!(
        status_of(&http, &format!("{base}/readyz")).await,
        503,
        "not ready before the server serves"
    );

    let grpc_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shutdown = CancellationToken::new();
    let server = {
        let readiness = readiness.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let auth = AuthInterceptor::new("probe-token".to_owned().into());
            let serving = ledgerlink_runtime::serve(grpc_listener, Nothing, auth, shutdown, Duration::from_secs(5));
            readiness.scope(serving).await
        })
    };
    wait_for_status(&http, &format!("{base}/readyz"), 200).await;

    let scrape = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(scrape.status().as_u16(), 200);
    let content_type = scrape.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = scrape.text().await.unwrap();
    assert!(text.contains("# TYPE ledgerlink_test_hits_total counter\n"), "{text}");
    assert!(
        text.contains("ledgerlink_test_hits_total{kind=\"probe\"} 3\n"),
        "{text}"
    );

    shutdown.cancel();
    wait_for_status(&http, &format!("{base}/readyz"), 503).await;
    server.await.unwrap().unwrap();
    assert_eq!(
        status_of(&http, &format!("{base}/readyz")).await,
        503,
        "stays down once stopped"
    );
    assert_eq!(
        status_of(&http, &format!("{base}/healthz")).await,
        200,
        "the process still runs"
    );

    metrics_stop.cancel();
    metrics_task.await.unwrap().unwrap();
}
