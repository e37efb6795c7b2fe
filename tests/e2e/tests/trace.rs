//! One run is one trace: the coordinator's `run` span is the root, and every service's
//! request spans and the NetSuite and Klaviyo request spans descend from it through the
//! W3C trace context the gRPC calls carry. Its own process, because it installs the
//! global subscriber with an in-memory exporter.

use std::collections::HashMap;
use std::time::Duration;

use ledgerlink_e2e::TestStack;
use ledgerlink_proto::coordinator::v1::{RunKind, RunState};
use opentelemetry::trace::{SpanId, SpanKind};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};

const DEADLINE: Duration = Duration::from_secs(120);

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

/// Checks the trace of run `run_id` among `spans`; `Err` says what is missing (yet).
fn check_trace(spans: &[SpanData], run_id: &str) -> Result<(), String> {
    let root = spans
        .iter()
        .find(|s| s.name == "run" && attribute(s, "run.id").as_deref() == Some(run_id))
        .ok_or("no run span for the run")?;
    if root.parent_span_id != SpanId::INVALID {
        return Err("the run span has a parent".to_owned());
    }
    if attribute(root, "run.kind").as_deref() != Some("full") {
        return Err(format!("run.kind is {:?}", attribute(root, "run.kind")));
    }
    let trace_id = root.span_context.trace_id();
    let in_trace: HashMap<SpanId, &SpanData> = spans
        .iter()
        .filter(|s| s.span_context.trace_id() == trace_id)
        .map(|s| (s.span_context.span_id(), s))
        .collect();
    // A span descends from the root when its parents, followed up, reach it inside the
    // trace; a missing link means a parent never ended or the context was lost.
    let descends = |span: &SpanData| -> bool {
        let mut parent = span.parent_span_id;
        for _ in 0..64 {
            if parent == root.span_context.span_id() {
                return true;
            }
            match in_trace.get(&parent) {
                Some(next) => parent = next.parent_span_id,
                None => return false,
            }
        }
        false
    };
    for span in in_trace.values() {
        if span.span_context.span_id() != root.span_context.span_id() && !descends(span) {
            return Err(format!("{} is in the run's trace but not under its root", span.name));
        }
    }

    for (service, grpc_name) in ledgerlink_stack::SERVICES {
        if service == "coordinator" {
            continue;
        }
        let server_spans: Vec<&SpanData> = spans
            .iter()
            .filter(|s| attribute(s, "rpc.service").as_deref() == Some(grpc_name))
            .collect();
        if server_spans.is_empty() {
            return Err(format!("no request span of {service}"));
        }
        // Only the run calls these services in this test: every request of theirs is
        // part of its trace.
        for span in server_spans {
            if span.span_kind != SpanKind::Server || !span.name.starts_with(&format!("{grpc_name}/")) {
                return Err(format!("{} is not a server span of {grpc_name}", span.name));
            }
            if span.span_context.trace_id() != trace_id || !descends(span) {
                return Err(format!("{} is not under the run", span.name));
            }
        }
    }

    for external in ["netsuite.request", "klaviyo.request"] {
        let traced = in_trace.values().any(|s| {
            s.name == external
                && s.span_kind == SpanKind::Client
                && attribute(s, "http.response.status_code").is_some()
                && attribute(s, "retries").is_some()
        });
        if !traced {
            return Err(format!("no {external} span with a status code in the run's trace"));
        }
    }
    let batch_under_root = in_trace
        .values()
        .any(|s| s.name == "batch" && s.parent_span_id == root.span_context.span_id());
    if !batch_under_root {
        return Err("no batch span under the run".to_owned());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_one_trace_from_the_coordinator_through_every_service() -> anyhow::Result<()> {
    let exporter = InMemorySpanExporter::default();
    let telemetry =
        ledgerlink_runtime::telemetry::init_with_span_exporter("ledgerlink-e2e", Some("warn"), exporter.clone())?;
    let test = TestStack::start(30).await?;
    let run = test.run(RunKind::Full, false, test.today, DEADLINE).await?;
    assert_eq!(run.state, RunState::Succeeded as i32, "{}", run.error);

    // The run's task and the services' streams end shortly after the last update.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        telemetry.force_flush()?;
        let spans = exporter.get_finished_spans()?;
        match check_trace(&spans, &run.run_id) {
            Ok(()) => break,
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(missing) => {
                let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
                panic!("{missing}; spans: {names:?}");
            }
        }
    }
    Ok(test.stack.stop().await?)
}
