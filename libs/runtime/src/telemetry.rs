//! Logs as JSON lines on stderr carrying trace ids, OpenTelemetry traces and metrics,
//! and the trace context that ties the services' spans into one trace per run.
//!
//! A tracer provider always exists, with an OTLP exporter only when an endpoint is set,
//! so spans have ids (for the logs and for propagation) even when nothing is exported.
//! Metrics go to the global meter provider: libraries record through
//! `opentelemetry::global::meter("ledgerlink")`, and the provider is read by
//! [`PrometheusMetrics`] on each scrape and, with an endpoint, pushed over OTLP.

pub mod prometheus;
mod propagation;
mod trace_ids;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanExporter};
pub use prometheus::PrometheusMetrics;
pub use propagation::{HeaderExtractor, MetadataInjector, grpc_server_span, inject_current_context};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use self::trace_ids::{CaptureDispatch, DispatchCell, WithTraceIds};

/// The meter every ledgerlink library records on.
pub const METER: &str = "ledgerlink";

/// Telemetry that could not be started.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built.
    #[error("cannot start the otlp exporter: {0}")]
    Exporter(String),
    /// A global subscriber was already installed.
    #[error("telemetry is already initialised")]
    AlreadyInitialised,
    /// Spans or metrics could not be flushed.
    #[error("cannot flush telemetry: {0}")]
    Flush(String),
}

/// Flushes and stops telemetry when dropped, so the last spans of a run are not lost.
#[derive(Debug)]
pub struct TelemetryGuard {
    tracer_provider: Option<SdkTracerProvider>,
    meter_provider: Option<SdkMeterProvider>,
    metrics: PrometheusMetrics,
}

impl TelemetryGuard {
    /// The metrics as `/metrics` renders them.
    pub fn metrics(&self) -> &PrometheusMetrics {
        &self.metrics
    }

    /// Exports every finished span now (tests read their exporter after this).
    pub fn force_flush(&self) -> Result<(), TelemetryError> {
        if let Some(provider) = &self.tracer_provider {
            provider
                .force_flush()
                .map_err(|error| TelemetryError::Flush(error.to_string()))?;
        }
        Ok(())
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.tracer_provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("telemetry shutdown failed: {error}");
        }
        if let Some(provider) = self.meter_provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("metrics shutdown failed: {error}");
        }
    }
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, for services; lines inside a traced span carry
    /// `trace_id` and `span_id`.
    Json,
    /// Compact human text, for the CLI.
    Text,
}

/// Installs the global subscriber: logs on stderr filtered `RUST_LOG`-style (default
/// `info`), spans at `info` and above to OpenTelemetry, and OTLP export of traces and
/// metrics when `otlp_endpoint` is given.
///
/// Must be called inside a Tokio runtime when an endpoint is given (the exporters'
/// channels are made on it).
pub fn init(
    service_name: &'static str,
    format: LogFormat,
    filter: Option<&str>,
    otlp_endpoint: Option<&str>,
) -> Result<TelemetryGuard, TelemetryError> {
    let resource = resource(service_name);
    let mut tracer_provider = SdkTracerProvider::builder().with_resource(resource.clone());
    let metrics = PrometheusMetrics::new();
    let mut meter_provider = SdkMeterProvider::builder()
        .with_resource(resource)
        .with_reader(metrics.reader());
    if let Some(endpoint) = otlp_endpoint {
        use opentelemetry_otlp::WithExportConfig;
        let spans = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        let metric_exporter = opentelemetry_otlp::MetricExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        tracer_provider = tracer_provider.with_batch_exporter(spans);
        meter_provider = meter_provider.with_periodic_exporter(metric_exporter);
    }
    install(
        service_name,
        format,
        filter,
        tracer_provider.build(),
        meter_provider.build(),
        metrics,
    )
}

/// Like [`init`] with JSON logs, but spans go to `exporter` as each one ends (no
/// batching), and metrics only to [`TelemetryGuard::metrics`]: for tests that assert on
/// traces, e.g. with `opentelemetry_sdk::trace::InMemorySpanExporter`.
pub fn init_with_span_exporter<E: SpanExporter + 'static>(
    service_name: &'static str,
    filter: Option<&str>,
    exporter: E,
) -> Result<TelemetryGuard, TelemetryError> {
    let resource = resource(service_name);
    let tracer_provider = SdkTracerProvider::builder()
        .with_resource(resource.clone())
        .with_simple_exporter(exporter)
        .build();
    let metrics = PrometheusMetrics::new();
    let meter_provider = SdkMeterProvider::builder()
        .with_resource(resource)
        .with_reader(metrics.reader())
        .build();
    install(
        service_name,
        LogFormat::Json,
        filter,
        tracer_provider,
        meter_provider,
        metrics,
    )
}

fn resource(service_name: &'static str) -> Resource {
    Resource::builder().with_service_name(service_name).build()
}

fn install(
    service_name: &'static str,
    format: LogFormat,
    filter: Option<&str>,
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
    metrics: PrometheusMetrics,
) -> Result<TelemetryGuard, TelemetryError> {
    // The log filter applies to log lines only: `RUST_LOG=warn` must not cut a trace.
    let log_filter = EnvFilter::try_new(filter.unwrap_or("info")).unwrap_or_else(|_| EnvFilter::new("info"));
    let dispatch = DispatchCell::default();
    let fmt_layer = match format {
        LogFormat::Json => {
            let json = tracing_subscriber::fmt::format()
                .json()
                .with_current_span(true)
                .with_span_list(false);
            tracing_subscriber::fmt::layer()
                .fmt_fields(JsonFields::new())
                .event_format(WithTraceIds::new(json, dispatch.clone()))
                .with_writer(std::io::stderr)
                .with_filter(log_filter)
                .boxed()
        }
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .compact()
            .with_target(false)
            .with_writer(std::io::stderr)
            .with_filter(log_filter)
            .boxed(),
    };
    // Spans below info (per-attempt details, dependencies' internals) stay out of traces.
    let otel_layer = tracing_opentelemetry::layer()
        .with_tracer(tracer_provider.tracer(service_name))
        .with_filter(LevelFilter::INFO);
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    tracing_subscriber::registry()
        .with(CaptureDispatch(dispatch))
        .with(otel_layer)
        .with(fmt_layer)
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInitialised)?;
    opentelemetry::global::set_tracer_provider(tracer_provider.clone());
    opentelemetry::global::set_meter_provider(meter_provider.clone());
    Ok(TelemetryGuard {
        tracer_provider: Some(tracer_provider),
        meter_provider: Some(meter_provider),
        metrics,
    })
}
