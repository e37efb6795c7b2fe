//! Metrics in the Prometheus text exposition format (version 0.0.4), read from the
//! OpenTelemetry SDK on each scrape.
//!
//! Names follow the OpenTelemetry-to-Prometheus rules: dots and other characters
//! become `_`, the unit is appended (`s` → `_seconds`), and monotonic sums end in
//! `_total`. Only what ledgerlink records is rendered: sums, gauges and explicit-bucket
//! histograms.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Weak};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{InstrumentKind, ManualReader, Pipeline, Temporality};

/// The content type of what [`PrometheusMetrics::render`] returns.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Metrics could not be collected.
#[derive(Debug, thiserror::Error)]
#[error("cannot collect metrics: {0}")]
pub struct CollectError(String);

/// The pull side of a meter provider: add [`PrometheusMetrics::reader`] to an
/// `SdkMeterProvider`, then [`render`](PrometheusMetrics::render) on each scrape.
/// Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct PrometheusMetrics {
    reader: Arc<ManualReader>,
}

impl PrometheusMetrics {
    /// A reader with cumulative temporality, as Prometheus expects.
    pub fn new() -> Self {
        PrometheusMetrics::default()
    }

    /// The reader to register with the meter provider (once).
    pub fn reader(&self) -> impl MetricReader + use<> {
        SharedReader(Arc::clone(&self.reader))
    }

    /// Collects every instrument now and renders it.
    pub fn render(&self) -> Result<String, CollectError> {
        let mut collected = ResourceMetrics::default();
        self.reader
            .collect(&mut collected)
            .map_err(|error| CollectError(error.to_string()))?;
        Ok(render(&collected))
    }
}

/// The provider owns its readers; this lets the scrape handler keep one too.
#[derive(Debug)]
struct SharedReader(Arc<ManualReader>);

impl MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline);
    }

    fn collect(&self, metrics: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(metrics)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

/// One metric family: its `# HELP`, `# TYPE` and sample lines.
#[derive(Debug, Default)]
struct Family {
    help: String,
    kind: &'static str,
    samples: String,
}

/// Renders collected metrics as Prometheus text, families sorted by name. Instruments
/// that map to the same name (the same instrument registered by two libraries) share one
/// family.
pub fn render(metrics: &ResourceMetrics) -> String {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    for scope in metrics.scope_metrics() {
        for metric in scope.metrics() {
            render_metric(metric, &mut families);
        }
    }
    let mut text = String::new();
    for (name, family) in &families {
        if !family.help.is_empty() {
            let _ = writeln!(text, "# HELP {name} {}", escape_help(&family.help));
        }
        let _ = writeln!(text, "# TYPE {name} {}", family.kind);
        text.push_str(&family.samples);
    }
    text
}

fn render_metric(metric: &Metric, families: &mut BTreeMap<String, Family>) {
    match metric.data() {
        AggregatedMetrics::F64(data) => render_data(metric, data, families),
        AggregatedMetrics::U64(data) => render_data(metric, data, families),
        AggregatedMetrics::I64(data) => render_data(metric, data, families),
    }
}

/// A sample value as Prometheus writes it.
trait SampleValue: Copy {
    fn text(self) -> String;
}

impl SampleValue for f64 {
    fn text(self) -> String {
        float_text(self)
    }
}

impl SampleValue for u64 {
    fn text(self) -> String {
        self.to_string()
    }
}

impl SampleValue for i64 {
    fn text(self) -> String {
        self.to_string()
    }
}

fn render_data<T: SampleValue>(metric: &Metric, data: &MetricData<T>, families: &mut BTreeMap<String, Family>) {
    let base = base_name(metric.name(), metric.unit());
    let help = metric.description();
    match data {
        MetricData::Sum(sum) => {
            let (name, kind) = if sum.is_monotonic() {
                (format!("{base}_total"), "counter")
            } else {
                (base, "gauge")
            };
            let family = family(families, name.clone(), kind, help);
            for point in sum.data_points() {
                sample(
                    &mut family.samples,
                    &name,
                    point.attributes(),
                    None,
                    &point.value().text(),
                );
            }
        }
        MetricData::Gauge(gauge) => {
            let family = family(families, base.clone(), "gauge", help);
            for point in gauge.data_points() {
                sample(
                    &mut family.samples,
                    &base,
                    point.attributes(),
                    None,
                    &point.value().text(),
                );
            }
        }
        MetricData::Histogram(histogram) => {
            let family = family(families, base.clone(), "histogram", help);
            let bucket = format!("{base}_bucket");
            for point in histogram.data_points() {
                // OpenTelemetry counts per bucket; Prometheus buckets are cumulative.
                let mut cumulative = 0u64;
                let bounds: Vec<f64> = point.bounds().collect();
                for (index, count) in point.bucket_counts().enumerate() {
                    cumulative += count;
                    let le = bounds.get(index).map_or_else(|| "+Inf".to_owned(), |b| float_text(*b));
                    sample(
                        &mut family.samples,
                        &bucket,
                        point.attributes(),
                        Some(("le", &le)),
                        &cumulative.to_string(),
                    );
                }
                sample(
                    &mut family.samples,
                    &format!("{base}_sum"),
                    point.attributes(),
                    None,
                    &point.sum().text(),
                );
                sample(
                    &mut family.samples,
                    &format!("{base}_count"),
                    point.attributes(),
                    None,
                    &point.count().to_string(),
                );
            }
        }
        // Not recorded by ledgerlink; Prometheus' classic format has no equivalent.
        MetricData::ExponentialHistogram(_) => {}
    }
}

fn family<'a>(
    families: &'a mut BTreeMap<String, Family>,
    name: String,
    kind: &'static str,
    help: &str,
) -> &'a mut Family {
    let family = families.entry(name).or_default();
    family.kind = kind;
    if family.help.is_empty() {
        family.help = help.to_owned();
    }
    family
}

/// Writes one sample line: `name{labels} value`.
fn sample<'a>(
    out: &mut String,
    name: &str,
    attributes: impl Iterator<Item = &'a KeyValue>,
    extra: Option<(&str, &str)>,
    value: &str,
) {
    let mut labels: Vec<(String, String)> = attributes
        .map(|kv| (label_name(kv.key.as_str()), kv.value.as_str().into_owned()))
        .collect();
    // Sorted, so a series reads the same on every scrape whatever order it was recorded in.
    labels.sort();
    if let Some((key, label_value)) = extra {
        labels.push((key.to_owned(), label_value.to_owned()));
    }
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (index, (key, label_value)) in labels.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            let _ = write!(out, "{key}=\"{}\"", escape_label_value(label_value));
        }
        out.push('}');
    }
    out.push(' ');
    out.push_str(value);
    out.push('\n');
}

/// The Prometheus name of an instrument: sanitized, with the unit as a suffix.
fn base_name(name: &str, unit: &str) -> String {
    let mut base = sanitize(name);
    if let Some(suffix) = unit_suffix(unit)
        && !base.ends_with(&format!("_{suffix}"))
    {
        base.push('_');
        base.push_str(suffix);
    }
    base
}

/// The suffix for a UCUM unit; annotations such as `{request}` add none.
fn unit_suffix(unit: &str) -> Option<&'static str> {
    match unit {
        "s" => Some("seconds"),
        "ms" => Some("milliseconds"),
        "By" => Some("bytes"),
        "1" => Some("ratio"),
        _ => None,
    }
}

/// Replaces every character outside `[a-zA-Z0-9_:]` with `_`, and a leading digit too.
fn sanitize(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Label names may not hold `:` either.
fn label_name(key: &str) -> String {
    sanitize(key).replace(':', "_")
}

fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

fn float_text(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value == f64::INFINITY {
        "+Inf".to_owned()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry_sdk::metrics::SdkMeterProvider;

    use super::*;

    fn provider() -> (SdkMeterProvider, PrometheusMetrics) {
        let metrics = PrometheusMetrics::new();
        let provider = SdkMeterProvider::builder().with_reader(metrics.reader()).build();
        (provider, metrics)
    }

    #[test]
    fn counters_get_total_and_sorted_labels() {
        let (provider, metrics) = provider();
        let counter = provider
            .meter("test")
            .u64_counter("ledgerlink.external.requests")
            .with_description("HTTP requests sent")
            .build();
        counter.add(2, &[KeyValue::new("status", "200"), KeyValue::new("api", "netsuite")]);
        counter.add(1, &[KeyValue::new("api", "netsuite"), KeyValue::new("status", "200")]);
        counter.add(1, &[KeyValue::new("api", "klaviyo"), KeyValue::new("status", "429")]);
        let text = metrics.render().unwrap();
        assert!(
            text.contains("# HELP ledgerlink_external_requests_total HTTP requests sent\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE ledgerlink_external_requests_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains("ledgerlink_external_requests_total{api=\"netsuite\",status=\"200\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("ledgerlink_external_requests_total{api=\"klaviyo\",status=\"429\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn histograms_have_cumulative_buckets_sum_and_count() {
        let (provider, metrics) = provider();
        let histogram = provider
            .meter("test")
            .f64_histogram("ledgerlink.run.duration")
            .with_unit("s")
            .with_boundaries(vec![0.5, 1.0, 5.0])
            .build();
        // Binary fractions, so the sum is exact.
        for value in [0.25, 0.75, 0.75, 3.0, 10.0] {
            histogram.record(value, &[KeyValue::new("kind", "full")]);
        }
        let text = metrics.render().unwrap();
        let expected = "# TYPE ledgerlink_run_duration_seconds histogram\n\
            ledgerlink_run_duration_seconds_bucket{kind=\"full\",le=\"0.5\"} 1\n\
            ledgerlink_run_duration_seconds_bucket{kind=\"full\",le=\"1\"} 3\n\
            ledgerlink_run_duration_seconds_bucket{kind=\"full\",le=\"5\"} 4\n\
            ledgerlink_run_duration_seconds_bucket{kind=\"full\",le=\"+Inf\"} 5\n\
            ledgerlink_run_duration_seconds_sum{kind=\"full\"} 14.75\n\
            ledgerlink_run_duration_seconds_count{kind=\"full\"} 5\n";
        assert!(text.contains(expected), "{text}");
    }

    #[test]
    fn label_values_are_escaped_and_names_sanitized() {
        let (provider, metrics) = provider();
        let gauge = provider.meter("test").i64_up_down_counter("queue.depth-now").build();
        gauge.add(-2, &[KeyValue::new("rpc.service", "a\"b\\c\nd")]);
        let text = metrics.render().unwrap();
        assert!(text.contains("# TYPE queue_depth_now gauge\n"), "{text}");
        assert!(
            text.contains("queue_depth_now{rpc_service=\"a\\\"b\\\\c\\nd\"} -2\n"),
            "{text}"
        );
    }

    #[test]
    fn names_and_values_follow_the_conventions() {
        assert_eq!(
            base_name("ledgerlink.run.duration", "s"),
            "ledgerlink_run_duration_seconds"
        );
        assert_eq!(base_name("rpc_seconds", "s"), "rpc_seconds");
        assert_eq!(base_name("ledgerlink.runs", "{run}"), "ledgerlink_runs");
        assert_eq!(sanitize("9lives"), "_9lives");
        assert_eq!(float_text(f64::INFINITY), "+Inf");
        assert_eq!(float_text(0.005), "0.005");
        assert_eq!(escape_help("a\\b\nc"), "a\\\\b\\nc");
    }

    #[test]
    fn a_shut_down_provider_cannot_be_scraped() {
        let (provider, metrics) = provider();
        provider.shutdown().unwrap();
        assert!(metrics.render().is_err());
    }
}
