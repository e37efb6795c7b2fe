//! `trace_id` and `span_id` on every JSON log line written inside a traced span, so a
//! log search can jump to the trace and back.
//!
//! The ids live in tracing-opentelemetry's per-span data, which only its own lookup
//! (`get_otel_context`) can read, and that needs the dispatcher. A formatter is never
//! told the dispatcher, and asking for the default one while an event is being
//! dispatched yields none under a scoped subscriber, so a tiny layer records it when the
//! subscriber is built and the formatter reads it from there.

use std::fmt;
use std::sync::{Arc, OnceLock};

use opentelemetry::trace::{SpanId, TraceContextExt, TraceId};
use tracing::dispatcher::WeakDispatch;
use tracing::{Dispatch, Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The dispatcher the subscriber was installed as, once it is.
#[derive(Debug, Clone, Default)]
pub(crate) struct DispatchCell(Arc<OnceLock<WeakDispatch>>);

impl DispatchCell {
    fn get(&self) -> Option<Dispatch> {
        self.0.get().and_then(WeakDispatch::upgrade)
    }
}

/// Records the dispatcher into a [`DispatchCell`]; it sees nothing else.
#[derive(Debug)]
pub(crate) struct CaptureDispatch(pub(crate) DispatchCell);

impl<S: Subscriber> Layer<S> for CaptureDispatch {
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = (self.0).0.set(subscriber.downgrade());
    }
}

/// A span's OpenTelemetry ids, cached in its extensions after the first lookup.
#[derive(Debug, Clone, Copy)]
struct TraceIds {
    trace_id: TraceId,
    span_id: SpanId,
}

/// Wraps the JSON event format and adds `"trace_id"` and `"span_id"` to each line
/// written inside a span that has a valid OpenTelemetry context.
#[derive(Debug)]
pub(crate) struct WithTraceIds<F> {
    inner: F,
    dispatch: DispatchCell,
}

impl<F> WithTraceIds<F> {
    pub(crate) fn new(inner: F, dispatch: DispatchCell) -> Self {
        WithTraceIds { inner, dispatch }
    }

    /// The ids of the innermost span of the event's scope that has them.
    fn ids<S, N>(&self, ctx: &FmtContext<'_, S, N>) -> Option<TraceIds>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        N: for<'a> FormatFields<'a> + 'static,
    {
        let scope = ctx.event_scope()?;
        let dispatch = self.dispatch.get()?;
        for span in scope {
            if let Some(ids) = span.extensions().get::<TraceIds>().copied() {
                return Some(ids);
            }
            // No extension guard may be held here: the lookup locks the span's
            // extensions itself.
            let Some(context) = tracing_opentelemetry::get_otel_context(&span.id(), &dispatch) else {
                // Not traced (filtered out of the OpenTelemetry layer): try its parent.
                continue;
            };
            let otel_span = context.span();
            let span_context = otel_span.span_context();
            if !span_context.is_valid() {
                continue;
            }
            let ids = TraceIds {
                trace_id: span_context.trace_id(),
                span_id: span_context.span_id(),
            };
            span.extensions_mut().insert(ids);
            return Some(ids);
        }
        None
    }
}

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let Some(ids) = self.ids(ctx) else {
            return self.inner.format_event(ctx, writer, event);
        };
        let mut line = String::new();
        self.inner.format_event(ctx, Writer::new(&mut line), event)?;
        writer.write_str(&add_ids(line, ids))
    }
}

/// Inserts the ids as the last members of the line's JSON object.
fn add_ids(mut line: String, ids: TraceIds) -> String {
    let Some(close) = line.rfind('}').filter(|_| line.starts_with('{')) else {
        return line;
    };
    let fields = format!(",\"trace_id\":\"{}\",\"span_id\":\"{}\"", ids.trace_id, ids.span_id);
    line.insert_str(close, &fields);
    line
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Mutex;

    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    use tracing_subscriber::fmt::MakeWriter;
    use tracing_subscriber::fmt::format::JsonFields;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    #[test]
    fn lines_inside_a_traced_span_carry_its_ids() {
        let buffer = Buffer::default();
        let dispatch = DispatchCell::default();
        let provider = SdkTracerProvider::builder().build();
        let format = tracing_subscriber::fmt::format()
            .json()
            .with_current_span(true)
            .with_span_list(false);
        let subscriber = tracing_subscriber::registry()
            .with(CaptureDispatch(dispatch.clone()))
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
            .with(
                tracing_subscriber::fmt::layer()
                    .fmt_fields(JsonFields::new())
                    .event_format(WithTraceIds::new(format, dispatch))
                    .with_writer(buffer.clone()),
            );
        let (trace_id, span_id) = tracing::subscriber::with_default(subscriber, || {
            tracing::info!("outside any span");
            let span = tracing::info_span!("work");
            let _entered = span.enter();
            tracing::info!(records = 3, "inside");
            let context = span.context();
            let otel_span = context.span();
            let span_context = otel_span.span_context();
            (span_context.trace_id().to_string(), span_context.span_id().to_string())
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].get("trace_id").is_none(), "{text}");
        assert_eq!(lines[1]["trace_id"], trace_id.as_str(), "{text}");
        assert_eq!(lines[1]["span_id"], span_id.as_str(), "{text}");
        assert_eq!(lines[1]["fields"]["records"], 3);
        assert_eq!(trace_id.len(), 32);
    }

    #[test]
    fn ids_go_inside_the_object() {
        let ids = TraceIds {
            trace_id: TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            span_id: SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        };
        assert_eq!(
            add_ids("{\"a\":1}\n".to_owned(), ids),
            "{\"a\":1,\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"span_id\":\"00f067aa0ba902b7\"}\n"
        );
        assert_eq!(add_ids("plain\n".to_owned(), ids), "plain\n");
    }
}
