//! `ledgerlink bench` at a toy size: the five service binaries as processes, both
//! simulators, a full run, an incremental run and a few per-invoice runs, and a report
//! whose tables hold sane figures.

use std::path::PathBuf;
use std::process::Command;

const SERVICES: [&str; 5] = ["extractor", "scoring", "reminder", "klaviyo-gateway", "coordinator"];

/// The cells of the table row that starts with `| {label} |`.
fn row<'a>(report: &'a str, section: &str, label: &str) -> Vec<&'a str> {
    let section_text = report
        .split("### ")
        .find(|part| part.starts_with(section))
        .unwrap_or_else(|| panic!("no section {section} in:\n{report}"));
    let line = section_text
        .lines()
        .find(|line| line.starts_with(&format!("| {label} |")))
        .unwrap_or_else(|| panic!("no row {label} in section {section}:\n{report}"));
    line.trim_matches('|').split('|').map(str::trim).collect()
}

fn number(cell: &str) -> f64 {
    cell.replace(',', "")
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a number: {cell:?}"))
}

#[test]
fn bench_reports_runs_bounds_and_processes() {
    let ledgerlink = PathBuf::from(env!("CARGO_BIN_EXE_ledgerlink"));
    let bin_dir = ledgerlink.parent().unwrap();
    let missing: Vec<String> = SERVICES
        .iter()
        .map(|s| format!("ledgerlink-{s}"))
        .filter(|name| !bin_dir.join(name).is_file())
        .collect();
    if !missing.is_empty() {
        // `cargo test --workspace` builds them (every service has integration tests);
        // `cargo test -p ledgerlink` alone does not.
        eprintln!(
            "skipped: {} not built in {}; run `cargo build -p ledgerlink-extractor -p ledgerlink-scoring \
             -p ledgerlink-reminder -p ledgerlink-klaviyo-gateway -p ledgerlink-coordinator` or `cargo test --workspace`",
            missing.join(", "),
            bin_dir.display()
        );
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("bench.md");
    let output = Command::new(&ledgerlink)
        .args([
            "bench",
            "--customers",
            "200",
            "--page-latency-ms",
            "5",
            // Ten changed customers go through a bulk import job, as a real incremental does.
            "--changed-share",
            "0.05",
            "--invoice-runs",
            "5",
            "--out",
        ])
        .arg(&out)
        .arg("--work-dir")
        .arg(work.path().join("work"))
        .env_clear()
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let report = std::fs::read_to_string(&out).unwrap();
    assert!(stdout.contains(report.trim()), "the report is printed too");
    assert!(report.contains("Machine: "), "{report}");

    for (label, customers) in [("200 full", 200.0), ("200 incremental", 10.0)] {
        let cells = row(&report, "Runs", label);
        assert_eq!(number(cells[1]), customers, "{label}: {cells:?}");
        let (wall, netsuite, klaviyo, ratio) = (number(cells[3]), number(cells[4]), number(cells[5]), number(cells[6]));
        assert!(wall > 0.0 && netsuite > 0.0 && klaviyo >= 0.0, "{label}: {cells:?}");
        assert!(ratio >= 0.99, "{label}: the run beat its lower bound: {cells:?}");
        let pages: Vec<f64> = cells[7].split('/').map(number).collect();
        assert!(pages[0] >= pages[1] && pages[1] > 0.0, "{label}: pages {cells:?}");
        let requests: Vec<f64> = cells[8].split('/').map(number).collect();
        assert!(
            requests[0] >= requests[1] && requests[1] > 0.0,
            "{label}: requests {cells:?}"
        );

        let processes = row(&report, "CPU seconds", label);
        assert_eq!(processes.len(), 1 + SERVICES.len() + 1, "{processes:?}");
        for cell in &processes[1..] {
            let (cpu, memory) = cell.split_once('·').unwrap();
            assert!(number(cpu.trim_end_matches(" s").trim()) >= 0.0, "{cell}");
            assert!(number(memory.trim().trim_end_matches(" MiB")) > 0.0, "{label}: {cell}");
        }
    }

    let invoices = row(&report, "Per-invoice", "200");
    assert_eq!(number(invoices[1]), 5.0, "{invoices:?}");
    assert_eq!(number(invoices[6]), 0.0, "failed runs: {report}");
    let (p50, p99) = (number(invoices[2]), number(invoices[4]));
    assert!(p50 > 0.0 && p99 >= p50, "{invoices:?}");
}
