//! `ledgerlink extract`: NetSuite → snapshot JSON Lines, in process, no service needed.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use ledgerlink_extractor::{ExtractEvent, ExtractSettings, Scope, extractor_from_env};
use ledgerlink_runtime::ProcessEnv;

/// Flags of `ledgerlink extract`.
#[derive(Debug, clap::Args)]
pub struct ExtractArgs {
    /// Where to write the snapshots (JSON Lines, spec/scoring.md §1).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Only customers changed since this instant (the watermark a previous run printed).
    #[arg(long, value_name = "RFC3339", value_parser = parse_since, conflicts_with_all = ["customers", "invoices"])]
    since: Option<DateTime<Utc>>,
    /// A customer's internal id; repeat for more.
    #[arg(long = "customer", value_name = "ID", value_parser = parse_id)]
    customers: Vec<i64>,
    /// An invoice's internal id (its customer is extracted in full); repeat for more.
    #[arg(long = "invoice", value_name = "ID", value_parser = parse_id)]
    invoices: Vec<i64>,
    /// How far before --since to re-read, minutes.
    #[arg(long, value_name = "MINUTES", default_value_t = 10)]
    overlap_minutes: u32,
}

fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|instant| instant.with_timezone(&Utc))
        .map_err(|error| format!("not an RFC 3339 instant such as 2026-11-20T14:03:00Z: {error}"))
}

fn parse_id(text: &str) -> Result<i64, String> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| "not a netsuite internal id (a positive integer)".to_owned())
}

/// Runs the extraction and writes `--out`; the file appears only when it is complete.
pub async fn extract(args: ExtractArgs) -> anyhow::Result<()> {
    let settings = ExtractSettings {
        overlap_minutes: args.overlap_minutes,
        ..Default::default()
    }
    .with_env(&ProcessEnv)?;
    let extractor = extractor_from_env(&ProcessEnv, settings).map_err(anyhow::Error::msg)?;
    let scope = if !args.customers.is_empty() || !args.invoices.is_empty() {
        Scope::Targets {
            customer_ids: args.customers,
            invoice_ids: args.invoices,
        }
    } else if let Some(since) = args.since {
        Scope::Incremental { since, after: None }
    } else {
        Scope::Full {
            after: None,
            until: None,
        }
    };

    let partial = partial_path(&args.out);
    let file = std::fs::File::create(&partial).with_context(|| format!("cannot create {}", partial.display()))?;
    let mut writer = std::io::BufWriter::new(file);
    let mut progress = Progress::new();
    let mut events = extractor.start(scope, None).into_inner();
    let mut summary = None;
    while let Some(event) = events.recv().await {
        let event = match event {
            Ok(event) => event,
            Err(error) => {
                progress.clear();
                drop(writer);
                let _ = std::fs::remove_file(&partial);
                return Err(anyhow::Error::new(error).context("extraction failed"));
            }
        };
        match event {
            ExtractEvent::Batch(batch) => {
                for snapshot in &batch.snapshots {
                    serde_json::to_writer(&mut writer, snapshot)?;
                    writer.write_all(b"\n")?;
                }
                progress.clear();
                for rejection in &batch.rejections {
                    eprintln!("{rejection}");
                }
                progress.add(batch.snapshots.len(), batch.rejections.len());
            }
            ExtractEvent::Summary(done) => summary = Some(done),
        }
    }
    progress.clear();
    let summary = summary.context("extraction stopped before its summary")?;
    writer
        .into_inner()
        .map_err(|error| error.into_error())
        .and_then(|file| file.sync_all())
        .with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, &args.out).with_context(|| format!("cannot write {}", args.out.display()))?;
    eprintln!(
        "extracted {} customers, {} invoices, {} payments, {} orders; {} rejected; {} requests to netsuite",
        summary.customers,
        summary.invoices,
        summary.payments,
        summary.orders,
        summary.rejected,
        summary.requests.requests
    );
    eprintln!(
        "watermark {} (next: --since {})",
        summary.watermark.to_rfc3339_opts(SecondsFormat::Secs, true),
        summary.watermark.to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    Ok(())
}

fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial");
    out.with_file_name(name)
}

/// A single redrawn stderr line, only when stderr is a terminal.
struct Progress {
    enabled: bool,
    drawn: bool,
    customers: usize,
    rejected: usize,
}

impl Progress {
    fn new() -> Self {
        Progress {
            enabled: std::io::stderr().is_terminal(),
            drawn: false,
            customers: 0,
            rejected: 0,
        }
    }

    fn add(&mut self, customers: usize, rejected: usize) {
        self.customers += customers;
        self.rejected += rejected;
        if self.enabled {
            eprint!("\rextracting: {} customers, {} rejected", self.customers, self.rejected);
            let _ = std::io::stderr().flush();
            self.drawn = true;
        }
    }

    fn clear(&mut self) {
        if self.drawn {
            eprint!("\r\x1b[2K");
            self.drawn = false;
        }
    }
}
