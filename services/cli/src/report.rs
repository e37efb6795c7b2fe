//! The demo's findings, and their self-contained HTML report (inline SVG charts, no
//! scripts, no network: it opens offline).

use std::collections::BTreeMap;
use std::fmt::Write;

use ledgerlink_proto::coordinator::v1::{Run, RunKind};

/// One run of the demo.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RunLine {
    pub kind: String,
    pub customers: u64,
    pub changed_in_netsuite: u64,
    pub profiles_written: u64,
    pub events: BTreeMap<String, u64>,
    pub seconds: f64,
}

impl RunLine {
    pub(crate) fn of(run: &Run, changed_in_netsuite: u64) -> RunLine {
        let report = run.report.clone().unwrap_or_default();
        RunLine {
            kind: RunKind::try_from(run.kind)
                .map(|k| k.as_str_name().trim_start_matches("RUN_KIND_").to_lowercase())
                .unwrap_or_default(),
            customers: run.progress.as_ref().map_or(0, |p| p.records_done),
            changed_in_netsuite,
            profiles_written: report.profiles_created + report.profiles_updated,
            events: report.events_by_kind.into_iter().collect(),
            seconds: report.duration_millis as f64 / 1000.0,
        }
    }
}

/// Everything the demo shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct DemoSummary {
    pub customers: u64,
    pub seconds: f64,
    pub runs: Vec<RunLine>,
    pub profiles: u64,
    pub standing: BTreeMap<String, u64>,
    pub behavior: BTreeMap<String, u64>,
    pub loyalty: BTreeMap<String, u64>,
    pub aging: BTreeMap<String, u64>,
    pub migrations: BTreeMap<String, u64>,
    pub migrations_toward_risk: u64,
    pub events_in_klaviyo: u64,
    pub netsuite_requests: u64,
    pub netsuite_pages: u64,
    pub klaviyo_requests: u64,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A horizontal bar chart as inline SVG.
fn bar_chart(title: &str, data: &BTreeMap<String, u64>) -> String {
    let max = data.values().copied().max().unwrap_or(0).max(1);
    let row = 24;
    let height = row * data.len().max(1) + 30;
    let mut svg = format!(
        "<figure><figcaption>{}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"{height}\" role=\"img\" aria-label=\"{}\">",
        escape(title),
        escape(title)
    );
    if data.is_empty() {
        svg.push_str("<text x=\"0\" y=\"20\">nothing yet</text>");
    }
    for (index, (label, value)) in data.iter().enumerate() {
        let y = index * row + 10;
        let width = (*value as f64 / max as f64 * 380.0).round().max(1.0);
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" font-size=\"13\">{}</text><rect x=\"200\" y=\"{y}\" width=\"{width}\" height=\"16\" fill=\"#3b6ea8\"/><text x=\"{}\" y=\"{}\" font-size=\"12\">{value}</text>",
            y + 13,
            escape(label),
            205.0 + width,
            y + 13
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

/// Renders the report.
pub(crate) fn render_html(summary: &DemoSummary) -> String {
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>ledgerlink demo report</title>\
         <style>body{font-family:system-ui,sans-serif;margin:2em;max-width:980px;color:#222}\
         table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:right}\
         td:first-child,th:first-child{text-align:left}figure{margin:1.5em 0}figcaption{font-weight:600;margin-bottom:.4em}</style>\
         </head><body><h1>ledgerlink demo report</h1>",
    );
    let _ = write!(
        html,
        "<p>{} simulated NetSuite customers, synced to a simulated Klaviyo account in {:.1} s. \
         {} profiles in Klaviyo, {} reminder events.</p>",
        summary.customers, summary.seconds, summary.profiles, summary.events_in_klaviyo
    );
    html.push_str("<h2>Runs</h2><table><tr><th>run</th><th>customers</th><th>changed in NetSuite</th><th>profiles written</th><th>events</th><th>seconds</th></tr>");
    for run in &summary.runs {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td></tr>",
            escape(&run.kind),
            run.customers,
            run.changed_in_netsuite,
            run.profiles_written,
            run.events.values().sum::<u64>(),
            run.seconds
        );
    }
    html.push_str("</table><h2>Segments</h2>");
    html.push_str(&bar_chart("Account standing", &summary.standing));
    html.push_str(&bar_chart("Behaviour", &summary.behavior));
    html.push_str(&bar_chart("Loyalty tier", &summary.loyalty));
    html.push_str("<h2>Aging</h2>");
    html.push_str(&bar_chart("Customers by worst aging bucket", &summary.aging));
    html.push_str("<h2>Reminders</h2>");
    let mut events: BTreeMap<String, u64> = BTreeMap::new();
    for run in &summary.runs {
        for (metric, count) in &run.events {
            *events.entry(metric.clone()).or_default() += count;
        }
    }
    html.push_str(&bar_chart("Reminder events sent, by metric", &events));
    let _ = write!(
        html,
        "<h2>Migrations</h2><p>{} segment migrations, {} toward risk.</p>",
        summary.migrations.values().sum::<u64>(),
        summary.migrations_toward_risk
    );
    html.push_str(&bar_chart("Segment migrations", &summary.migrations));
    let _ = write!(
        html,
        "<h2>API use</h2><p>NetSuite: {} requests ({} SuiteQL pages). Klaviyo: {} requests.</p></body></html>",
        summary.netsuite_requests, summary.netsuite_pages, summary.klaviyo_requests
    );
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_is_self_contained_and_escapes_names() {
        let mut summary = DemoSummary {
            customers: 3,
            ..DemoSummary::default()
        };
        summary.standing.insert("credit_hold".into(), 2);
        summary.standing.insert("<script>".into(), 1);
        let html = render_html(&summary);
        assert!(html.contains("credit_hold"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(!html.contains("<script>"));
        let without_namespace = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        assert!(!without_namespace.contains("http"), "no network references");
        assert!(
            !html.contains("src=") && !html.contains("href="),
            "no external resources"
        );
    }

    #[test]
    fn bars_scale_to_the_largest_value() {
        let data: BTreeMap<String, u64> = [("a".to_owned(), 10), ("b".to_owned(), 5)].into();
        let svg = bar_chart("t", &data);
        assert!(svg.contains("width=\"380\""));
        assert!(svg.contains("width=\"190\""));
    }
}
