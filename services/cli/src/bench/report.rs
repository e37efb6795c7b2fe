//! The benchmark's report: the machine it ran on and Markdown tables of the runs.

use std::fmt::Write as _;

use super::procs::SERVICES;
use super::{RunResult, SizeResult};

/// The machine, read from `/proc` at the start; load averages at start and end say how
/// busy it was otherwise.
#[derive(Debug, Clone, Default)]
pub(crate) struct Machine {
    cpu: String,
    cores: usize,
    memory_gib: f64,
    load_start: String,
    load_end: String,
    started: String,
    finished: String,
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_owned())
}

impl Machine {
    pub(crate) fn read() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|line| {
                line.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_kib: f64 = meminfo
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:")?.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            memory_gib: memory_kib / 1024.0 / 1024.0,
            load_start: loadavg(),
            load_end: String::new(),
            started: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            finished: String::new(),
        }
    }

    pub(crate) fn finish(mut self) -> Machine {
        self.load_end = loadavg();
        self.finished = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
        self
    }
}

/// `1234567` → `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn secs(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

fn label(run: &RunResult) -> String {
    let stopped = if run.stopped { " (stopped)" } else { "" };
    format!("{} {}{stopped}", thousands(run.size), run.kind)
}

/// The whole report as Markdown.
pub(crate) fn render(machine: &Machine, settings: &str, sizes: &[SizeResult]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## ledgerlink bench\n");
    let _ = writeln!(
        out,
        "Machine: {}, {} cores, {:.1} GiB memory; load average (1, 5, 15 min) {} at the start, {} at the end; \
         {} to {}.\n",
        machine.cpu,
        machine.cores,
        machine.memory_gib,
        machine.load_start,
        machine.load_end,
        machine.started,
        machine.finished
    );
    let _ = writeln!(out, "Settings: {settings}.\n");
    let runs: Vec<&RunResult> = sizes.iter().flat_map(|s| &s.runs).collect();

    let _ = writeln!(out, "### Runs\n");
    let _ = writeln!(
        out,
        "| run | customers | invoices | wall s | NetSuite bound s | Klaviyo bound s | ratio | NetSuite pages made / min | Klaviyo requests made / min |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for run in &runs {
        let klaviyo_min: u64 = run.klaviyo_min.values().sum();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} / {} | {} / {} |",
            label(run),
            thousands(run.customers_done),
            thousands(run.data.invoices),
            secs(run.wall_secs),
            secs(run.netsuite_bound_secs),
            secs(run.klaviyo_bound_secs),
            match run.ratio() {
                Some(ratio) => format!("{ratio:.2}"),
                None if run.stopped => "stopped".to_owned(),
                None => "n/a".to_owned(),
            },
            thousands(run.pages_made),
            thousands(run.min_pages.values().sum()),
            thousands(run.klaviyo_made.values().sum()),
            thousands(klaviyo_min),
        );
    }

    let _ = writeln!(
        out,
        "\n### CPU seconds per 1,000 customers processed · peak resident MiB, per process\n"
    );
    let _ = write!(out, "| run |");
    for service in SERVICES {
        let _ = write!(out, " {service} |");
    }
    let _ = writeln!(out, " bench (simulators, driver) |");
    let _ = writeln!(out, "|---|{}", "---:|".repeat(SERVICES.len() + 1));
    for run in &runs {
        let per_thousand = (run.customers_done.max(1) as f64) / 1000.0;
        let _ = write!(out, "| {} |", label(run));
        for name in SERVICES.iter().copied().chain(["bench"]) {
            let cpu = run.cpu_secs.get(name).copied().unwrap_or(0.0);
            let peak = run.peak_bytes.get(name).copied().unwrap_or(0) as f64 / 1024.0 / 1024.0;
            let _ = write!(out, " {:.3} s · {peak:.0} MiB |", cpu / per_thousand);
        }
        let _ = writeln!(out);
    }

    let _ = writeln!(out, "\n### NetSuite detail\n");
    let _ = writeln!(
        out,
        "| run | pages made | minimum pages | rows per page | requests | 429s | mean in flight / limit | max in flight |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for run in &runs {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.0} | {} | {} | {:.2} / {} | {} |",
            label(run),
            thousands(run.pages_made),
            thousands(run.min_pages.values().sum()),
            run.rows_read as f64 / run.pages_made.max(1) as f64,
            thousands(run.netsuite_requests),
            thousands(run.netsuite_429s),
            run.mean_in_flight,
            run.concurrency,
            run.max_in_flight,
        );
    }
    let _ = writeln!(
        out,
        "\nPages made / minimum by query (rows per page made in brackets; the minimum reads 1,000 rows a page):\n"
    );
    for run in &runs {
        let mut queries: Vec<&str> = run.min_pages.keys().copied().collect();
        for query in run.pages_by_query.keys() {
            if !queries.contains(query) {
                queries.push(query);
            }
        }
        let parts: Vec<String> = queries
            .iter()
            .map(|query| {
                let (pages, rows) = run.pages_by_query.get(query).copied().unwrap_or_default();
                let minimum = run.min_pages.get(query).copied().unwrap_or(0);
                format!(
                    "{query} {} / {} ({:.0})",
                    thousands(pages),
                    thousands(minimum),
                    rows as f64 / pages.max(1) as f64
                )
            })
            .collect();
        let _ = writeln!(out, "- {}: {}", label(run), parts.join("; "));
    }

    let _ = writeln!(out, "\n### Klaviyo detail\n");
    let _ = writeln!(out, "| run | operation | requests made | of which 429 | minimum |");
    let _ = writeln!(out, "|---|---|---:|---:|---:|");
    for run in &runs {
        let mut operations: Vec<String> = run.klaviyo_made.keys().cloned().collect();
        for op in run.klaviyo_min.keys() {
            if !operations.iter().any(|o| o == op) {
                operations.push((*op).to_owned());
            }
        }
        for op in operations {
            let _ = writeln!(
                out,
                "| {} | {op} | {} | {} | {} |",
                label(run),
                thousands(run.klaviyo_made.get(&op).copied().unwrap_or(0)),
                thousands(run.klaviyo_429s.get(&op).copied().unwrap_or(0)),
                thousands(run.klaviyo_min.get(op.as_str()).copied().unwrap_or(0)),
            );
        }
        let _ = writeln!(
            out,
            "| {} | (profiles written, events sent, records set aside) | {} profiles, {} events, {} set aside | | |",
            label(run),
            thousands(run.profiles_written),
            thousands(run.events_sent),
            thousands(run.rejects)
        );
    }

    let invoice_rows: Vec<(u64, &super::invoice::InvoiceResult)> = sizes
        .iter()
        .filter_map(|s| Some((s.size, s.invoice.as_ref()?)))
        .collect();
    if !invoice_rows.is_empty() {
        let _ = writeln!(
            out,
            "\n### Per-invoice runs (webhook POST → event in the Klaviyo simulator, NetSuite latency 0)\n"
        );
        let _ = writeln!(out, "| customers | runs | p50 ms | p95 ms | p99 ms | max ms | failed |");
        let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|");
        for (size, result) in &invoice_rows {
            let p = |q: f64| {
                result
                    .percentile_ms(q)
                    .map_or_else(|| "n/a".to_owned(), |v| format!("{v:.0}"))
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                thousands(*size),
                result.runs(),
                p(50.0),
                p(95.0),
                p(99.0),
                p(100.0),
                result.failures.len()
            );
        }
        for (_, result) in &invoice_rows {
            for failure in result.failures.iter().take(5) {
                let _ = writeln!(out, "\n- failed: {failure}");
            }
        }
    }
    let loads: Vec<String> = sizes
        .iter()
        .map(|s| format!("{} customers {:.0} s", thousands(s.size), s.load_secs))
        .collect();
    let _ = writeln!(
        out,
        "\nSimulator data generation and load (not part of any run): {}.",
        loads.join(", ")
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
