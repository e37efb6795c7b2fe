//! W3C trace context across gRPC calls, so a run is one trace through every service.
//!
//! The client side writes the current span's context into the request metadata
//! (`traceparent`, `tracestate`) through the global propagator; the server side reads it
//! back from the HTTP/2 headers and parents its request span on it.

use opentelemetry::propagation::{Extractor, Injector};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The gRPC service of health checks: probes every few seconds would fill the trace
/// store with one-span traces and say nothing about a run.
const HEALTH_SERVICE: &str = "grpc.health.v1.Health";

/// Writes propagation fields into gRPC request metadata.
#[derive(Debug)]
pub struct MetadataInjector<'a>(pub &'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // Propagators emit lowercase ASCII keys and header-safe values; anything else
        // is dropped rather than failing the call it rides on.
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(key, value);
        }
    }
}

/// Reads propagation fields from the HTTP headers of an incoming request.
#[derive(Debug)]
pub struct HeaderExtractor<'a>(pub &'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Adds the current span's trace context to `metadata`; nothing when there is no
/// current span or no propagator is installed.
pub fn inject_current_context(metadata: &mut MetadataMap) {
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut MetadataInjector(metadata));
    });
}

/// The span of one incoming gRPC request (for tonic's `Server::trace_fn`), a child of
/// the caller's span when the request carries a trace context. Health checks get none.
pub fn grpc_server_span(request: &http::Request<()>) -> tracing::Span {
    let path = request.uri().path().trim_start_matches('/');
    let (service, method) = path.split_once('/').unwrap_or((path, ""));
    if service == HEALTH_SERVICE {
        return tracing::Span::none();
    }
    let span = tracing::info_span!(
        "grpc.request",
        otel.name = %path,
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
    );
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(request.headers()))
    });
    // Fails only when the span is disabled by the filter: then there is nothing to parent.
    let _ = span.set_parent(parent);
    span
}

#[cfg(test)]
mod tests {
    use opentelemetry::propagation::TextMapPropagator;
    use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
    use opentelemetry_sdk::propagation::TraceContextPropagator;

    use super::*;

    fn remote_context() -> opentelemetry::Context {
        let span_context = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            true,
            TraceState::from_key_value([("ledgerlink", "1")]).unwrap(),
        );
        opentelemetry::Context::new().with_remote_span_context(span_context)
    }

    #[test]
    fn context_survives_metadata_and_headers() {
        let propagator = TraceContextPropagator::new();
        let mut metadata = MetadataMap::new();
        propagator.inject_context(&remote_context(), &mut MetadataInjector(&mut metadata));
        assert_eq!(
            metadata.get("traceparent").and_then(|v| v.to_str().ok()),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        );
        assert_eq!(
            metadata.get("tracestate").and_then(|v| v.to_str().ok()),
            Some("ledgerlink=1")
        );

        // What the server sees: the metadata as HTTP/2 headers.
        let headers = metadata.into_headers();
        let extracted = propagator.extract(&HeaderExtractor(&headers));
        let span = extracted.span();
        let got = span.span_context();
        assert!(got.is_remote());
        assert_eq!(got.trace_id(), remote_context().span().span_context().trace_id());
        assert_eq!(got.span_id(), SpanId::from_hex("00f067aa0ba902b7").unwrap());
        assert!(got.is_sampled());
        assert_eq!(got.trace_state().get("ledgerlink"), Some("1"));
    }

    #[test]
    fn the_bearer_interceptor_carries_the_callers_trace_to_the_server_span() {
        use opentelemetry::trace::TracerProvider as _;
        use tonic::service::Interceptor;
        use tracing_subscriber::layer::SubscriberExt;

        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber =
            tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let caller = tracing::info_span!("batch");
            let caller_context = caller.context().span().span_context().clone();
            let mut bearer = crate::BearerToken::new(&"tok".to_owned().into()).unwrap();
            let request = caller.in_scope(|| bearer.call(tonic::Request::new(()))).unwrap();
            let traceparent = request.metadata().get("traceparent").unwrap().to_str().unwrap();
            assert!(
                traceparent.contains(&caller_context.trace_id().to_string()),
                "{traceparent}"
            );

            let mut http_request = http::Request::new(());
            *http_request.uri_mut() = "/ledgerlink.scoring.v1.ScoringService/Score".parse().unwrap();
            *http_request.headers_mut() = request.into_parts().0.into_headers();
            let server = grpc_server_span(&http_request);
            let server_context = server.context().span().span_context().clone();
            assert_eq!(server_context.trace_id(), caller_context.trace_id());
            assert_ne!(server_context.span_id(), caller_context.span_id());

            let mut probe = http::Request::new(());
            *probe.uri_mut() = "/grpc.health.v1.Health/Check".parse().unwrap();
            assert!(grpc_server_span(&probe).is_none(), "health checks are not traced");
        });
    }

    #[test]
    fn headers_without_context_extract_nothing() {
        let headers = http::HeaderMap::new();
        let extracted = TraceContextPropagator::new().extract(&HeaderExtractor(&headers));
        assert!(!extracted.span().span_context().is_valid());
    }
}
