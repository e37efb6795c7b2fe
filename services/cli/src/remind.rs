//! `ledgerlink remind` and `ledgerlink pause`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use chrono::{NaiveDate, Utc};
use ledgerlink_domain::parse_snapshot_line;
use ledgerlink_proto::convert::date_to_pb;
use ledgerlink_proto::reminder::v1::PauseRequest;
use ledgerlink_proto::reminder::v1::reminder_service_client::ReminderServiceClient;
use ledgerlink_reminder::reminders::Customer;
use ledgerlink_reminder::{ReminderSettings, Reminders};
use ledgerlink_runtime::config::{ENV_AUTH_TOKEN, secret};
use ledgerlink_runtime::{BearerToken, EnvSource, ProcessEnv};
use ledgerlink_scoring_engine::{Engine, Rules, RulesFormat, ScoringParams};

/// Customers planned per ledger round trip.
const BATCH: usize = 500;

/// Flags of `ledgerlink remind`.
#[derive(Debug, clap::Args)]
pub(crate) struct RemindArgs {
    /// Snapshot JSON Lines (the format of `ledgerlink extract`).
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// The run's date, YYYY-MM-DD: "today" for every rule.
    #[arg(long, value_name = "YYYY-MM-DD")]
    as_of: NaiveDate,
    /// The reminder ledger, sqlite://… or postgres://….
    #[arg(long, value_name = "DB_URL")]
    db: String,
    /// Where the events due go, one JSON object per line.
    #[arg(long, value_name = "FILE")]
    output: PathBuf,
    /// Decide and write the events, but record nothing in the ledger.
    #[arg(long)]
    dry_run: bool,
    /// Segment rules for the `account_standing` events carry (TOML or YAML); default rules otherwise.
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
}

/// Flags of `ledgerlink pause`.
#[derive(Debug, clap::Args)]
pub(crate) struct PauseArgs {
    /// The NetSuite invoice id.
    invoice_id: String,
    /// The date reminders resume, YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD")]
    until: NaiveDate,
    /// Why (dispute, promise to pay, …).
    #[arg(long)]
    reason: String,
    /// Write to this ledger directly instead of asking the reminder service.
    #[arg(long, value_name = "DB_URL")]
    db: Option<String>,
}

fn settings() -> anyhow::Result<ReminderSettings> {
    let table = ledgerlink_runtime::config::service_table(&ProcessEnv, ledgerlink_reminder::SERVICE)?;
    Ok(ReminderSettings::from_table(&table)?)
}

fn engine(rules: Option<&PathBuf>) -> anyhow::Result<Engine> {
    let rules = match rules {
        None => Rules::default(),
        Some(path) => {
            let format = path
                .extension()
                .and_then(|e| e.to_str())
                .and_then(RulesFormat::from_extension)
                .context("rules file must end in .toml, .yaml or .yml")?;
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            Rules::parse(&text, format).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
    };
    Ok(Engine::new(rules, ScoringParams::DEFAULT))
}

pub(crate) async fn remind(args: RemindArgs) -> anyhow::Result<()> {
    let reminders = ledgerlink_reminder::open(&args.db, settings()?).await?;
    let engine = engine(args.rules.as_ref())?;
    let input = std::fs::File::open(&args.input).with_context(|| format!("cannot read {}", args.input.display()))?;
    let output =
        std::fs::File::create(&args.output).with_context(|| format!("cannot create {}", args.output.display()))?;
    let mut output = BufWriter::new(output);
    let run_id = format!("cli-{}-{}", args.as_of, Utc::now().timestamp_millis());

    let mut summary = Summary::default();
    let mut batch = Vec::with_capacity(BATCH);
    for (number, line) in BufReader::new(input).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", args.input.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        match parse_snapshot_line(&line) {
            Ok(parsed) => {
                for rejection in &parsed.rejections {
                    eprintln!("{rejection}");
                }
                summary.rejected += parsed.rejections.len();
                let metrics = engine.metrics(&parsed.snapshot, args.as_of);
                let account_standing = engine.segments(&parsed.snapshot, &metrics).account_standing.to_owned();
                batch.push(Customer {
                    snapshot: parsed.snapshot,
                    account_standing,
                    standing_migration: None,
                });
            }
            Err(error) => {
                eprintln!("line {}: {error}", number + 1);
                summary.rejected += 1;
            }
        }
        if batch.len() == BATCH {
            plan(&reminders, &run_id, &args, &mut batch, &mut output, &mut summary).await?;
        }
    }
    plan(&reminders, &run_id, &args, &mut batch, &mut output, &mut summary).await?;
    output.flush()?;
    summary.print(args.dry_run);
    Ok(())
}

#[derive(Debug, Default)]
struct Summary {
    customers: usize,
    rejected: usize,
    held: usize,
    by_metric: BTreeMap<String, usize>,
}

impl Summary {
    fn print(&self, dry_run: bool) {
        let events: usize = self.by_metric.values().sum();
        eprintln!(
            "{} customers, {events} events due{}, {} already sent or held elsewhere, {} rejected records",
            self.customers,
            if dry_run { " (dry run: nothing recorded)" } else { "" },
            self.held,
            self.rejected
        );
        for (metric, count) in &self.by_metric {
            eprintln!("  {count:>8}  {metric}");
        }
    }
}

async fn plan(
    reminders: &Reminders,
    run_id: &str,
    args: &RemindArgs,
    batch: &mut Vec<Customer>,
    output: &mut impl Write,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let planned = reminders
        .plan_batch(run_id, args.as_of, batch, args.dry_run, Utc::now())
        .await?;
    summary.customers += batch.len();
    summary.held += planned.held;
    batch.clear();
    let mut keys = Vec::with_capacity(planned.events.len());
    for event in &planned.events {
        serde_json::to_writer(&mut *output, event)?;
        output.write_all(b"\n")?;
        *summary.by_metric.entry(event.metric.clone()).or_default() += 1;
        keys.push(event.key.clone());
    }
    if !args.dry_run {
        // The output file is this command's delivery: once the events are written,
        // they count as sent, so a later run does not write them again.
        output.flush()?;
        reminders.ledger().confirm(&keys, Utc::now()).await?;
    }
    Ok(())
}

pub(crate) async fn pause(args: PauseArgs) -> anyhow::Result<()> {
    if args.reason.trim().is_empty() {
        bail!("--reason must say why the reminders are paused");
    }
    if let Some(db) = &args.db {
        let reminders = ledgerlink_reminder::open(db, settings()?).await?;
        reminders
            .ledger()
            .pause(&args.invoice_id, args.until, &args.reason, Utc::now())
            .await?;
    } else {
        let url = ProcessEnv
            .get("LEDGERLINK_REMINDER_URL")
            .unwrap_or_else(|| "http://127.0.0.1:50053".to_owned());
        let token = secret(&ProcessEnv, ENV_AUTH_TOKEN)?
            .with_context(|| format!("{ENV_AUTH_TOKEN} is needed to reach the reminder service (or pass --db)"))?;
        let channel = crate::runs::connect(&url, "the reminder service").await?;
        let mut client = ReminderServiceClient::with_interceptor(channel, BearerToken::new(&token)?);
        client
            .pause(PauseRequest {
                invoice_id: args.invoice_id.clone(),
                until: Some(date_to_pb(args.until)),
                reason: args.reason.clone(),
            })
            .await
            .map_err(|status| anyhow::anyhow!("pause refused: {}", status.message()))?;
    }
    eprintln!("invoice {} paused until {}", args.invoice_id, args.until);
    Ok(())
}
