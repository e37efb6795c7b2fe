//! `ledgerlink klaviyo …`: scores and reminder events to Klaviyo, in process, through the
//! gateway library (the key is read here only because this process is the gateway).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::Utc;
use ledgerlink_domain::CustomerScore;
use ledgerlink_klaviyo_gateway::gateway::{EventRequest, event_from_pb};
use ledgerlink_klaviyo_gateway::{Gateway, GatewaySettings, Outcome, PushOptions, SERVICE, Scored};
use ledgerlink_reminder_planner::ReminderEvent;
use ledgerlink_runtime::config::{DEFAULT_DATA_DIR, ENV_DATA_DIR};
use ledgerlink_runtime::{EnvSource, ProcessEnv};

/// Profiles per push: one bulk import job's worth, so memory stays flat.
const PROFILE_BATCH: usize = 10_000;
/// Events per send: one bulk request's worth.
const EVENT_BATCH: usize = 1_000;

/// Flags of `ledgerlink klaviyo`.
#[derive(Debug, clap::Args)]
pub(crate) struct KlaviyoArgs {
    #[command(subcommand)]
    command: KlaviyoCommand,
    /// The gateway's digest store, sqlite://… or postgres://… (default: SQLite under
    /// LEDGERLINK_DATA_DIR).
    #[arg(long, value_name = "DB_URL", global = true)]
    db: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
enum KlaviyoCommand {
    /// Scores JSON Lines → Klaviyo profiles, only changed ones unless --force.
    Push {
        /// Scores as written by `ledgerlink score`.
        #[arg(long, value_name = "FILE")]
        scores: PathBuf,
        /// Print what would be written (JSON Lines on stdout) and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Send every profile, changed or not.
        #[arg(long)]
        force: bool,
    },
    /// Reminder events JSON Lines (as written by `ledgerlink remind`) → Klaviyo.
    Events {
        /// Events as written by `ledgerlink remind`.
        #[arg(long, value_name = "FILE")]
        input: PathBuf,
        /// Check and print the events, send nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// The configured segments and lists.
    Segments {
        #[command(subcommand)]
        command: SegmentsCommand,
    },
}

#[derive(Debug, clap::Subcommand)]
enum SegmentsCommand {
    /// Create or update the configured segments and bring the configured lists in step.
    Apply {
        /// Report what would change, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Runs `ledgerlink klaviyo` with the process environment.
pub(crate) async fn klaviyo(args: KlaviyoArgs) -> anyhow::Result<()> {
    run(args, &ProcessEnv, &mut std::io::stdout().lock()).await
}

async fn open(db: Option<&str>, env: &dyn EnvSource) -> anyhow::Result<Gateway> {
    let table = ledgerlink_runtime::config::service_table(env, SERVICE)?;
    let settings = GatewaySettings::from_table(&table)?;
    let data_dir = env.get(ENV_DATA_DIR).unwrap_or_else(|| DEFAULT_DATA_DIR.to_owned());
    std::fs::create_dir_all(&data_dir).with_context(|| format!("cannot create {data_dir}"))?;
    let url = ledgerlink_store::resolve_url(db, Path::new(&data_dir), SERVICE)?;
    Ok(ledgerlink_klaviyo_gateway::open(&url, settings, env).await?)
}

async fn run(args: KlaviyoArgs, env: &dyn EnvSource, out: &mut dyn Write) -> anyhow::Result<()> {
    let gateway = open(args.db.as_deref(), env).await?;
    match args.command {
        KlaviyoCommand::Push { scores, dry_run, force } => push(&gateway, &scores, dry_run, force, out).await,
        KlaviyoCommand::Events { input, dry_run } => events(&gateway, &input, dry_run, out).await,
        KlaviyoCommand::Segments {
            command: SegmentsCommand::Apply { dry_run },
        } => segments(&gateway, dry_run).await,
    }
}

#[derive(Debug, Default)]
struct Totals {
    created: u64,
    updated: u64,
    unchanged: u64,
    skipped: u64,
    failed: u64,
    dry_run: u64,
    sent: u64,
    duplicate: u64,
    requests: u64,
    throttled_waits: u64,
}

impl Totals {
    fn count(&mut self, outcome: Outcome) {
        let slot = match outcome {
            Outcome::Created => &mut self.created,
            Outcome::Updated => &mut self.updated,
            Outcome::Unchanged => &mut self.unchanged,
            Outcome::Skipped => &mut self.skipped,
            Outcome::Failed => &mut self.failed,
            Outcome::DryRun => &mut self.dry_run,
            Outcome::Sent => &mut self.sent,
            Outcome::Duplicate => &mut self.duplicate,
        };
        *slot += 1;
    }
}

async fn push(gateway: &Gateway, path: &Path, dry_run: bool, force: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let options = PushOptions {
        dry_run,
        force,
        synced_at: Utc::now(),
    };
    let mut totals = Totals::default();
    let mut batch = Vec::with_capacity(PROFILE_BATCH);
    let mut unreadable = 0u64;
    let mut lines = read_lines(path)?;
    loop {
        let line = lines.next();
        let end = line.is_none();
        if let Some((number, line)) = line {
            match serde_json::from_str::<CustomerScore>(&line?) {
                Ok(score) => batch.push(Scored {
                    score,
                    contacts: Vec::new(),
                }),
                Err(error) => {
                    unreadable += 1;
                    eprintln!("{}:{number}: not a score: {error}", path.display());
                }
            }
        }
        if batch.len() >= PROFILE_BATCH || (end && !batch.is_empty()) {
            let report = gateway.push_profiles(&batch, options).await?;
            for result in &report.results {
                totals.count(result.outcome);
                if matches!(result.outcome, Outcome::Skipped | Outcome::Failed) {
                    let retry = if result.retryable { " (retryable)" } else { "" };
                    eprintln!(
                        "customer {}: {:?}: {}{retry}",
                        result.record_id, result.outcome, result.reason
                    );
                }
            }
            for change in report.changes {
                let line = serde_json::json!({
                    "customer_id": change.customer_id,
                    "email": change.identity.email,
                    "external_id": change.identity.external_id,
                    "set": change.set,
                    "unset": change.unset,
                });
                writeln!(out, "{line}")?;
            }
            totals.requests += report.stats.requests();
            totals.throttled_waits += report.stats.throttled_waits();
            eprintln!("klaviyo push: {} profiles processed", totals_seen(&totals));
            batch.clear();
        }
        if end {
            break;
        }
    }
    eprintln!(
        "klaviyo push{}: created {}, updated {}, unchanged {}, skipped {}, failed {}, would write {}, unreadable lines {unreadable}; requests {}, throttled waits {}",
        if dry_run { " (dry run)" } else { "" },
        totals.created,
        totals.updated,
        totals.unchanged,
        totals.skipped,
        totals.failed,
        totals.dry_run,
        totals.requests,
        totals.throttled_waits,
    );
    if totals.failed > 0 {
        bail!("{} customers failed", totals.failed);
    }
    Ok(())
}

fn totals_seen(totals: &Totals) -> u64 {
    totals.created + totals.updated + totals.unchanged + totals.skipped + totals.failed + totals.dry_run
}

async fn events(gateway: &Gateway, path: &Path, dry_run: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut totals = Totals::default();
    let mut batch: Vec<EventRequest> = Vec::with_capacity(EVENT_BATCH);
    let mut lines = read_lines(path)?;
    loop {
        let line = lines.next();
        let end = line.is_none();
        if let Some((number, line)) = line {
            match serde_json::from_str::<ReminderEvent>(&line?) {
                Ok(event) => {
                    let wire = ledgerlink_reminder::wire::event_to_pb(&event);
                    batch.push(event_from_pb(&wire));
                }
                Err(error) => batch.push(EventRequest::Invalid {
                    key: format!("{}:{number}", path.display()),
                    reason: format!("not a reminder event: {error}"),
                }),
            }
        }
        if batch.len() >= EVENT_BATCH || (end && !batch.is_empty()) {
            let report = gateway.send_events(&batch, dry_run).await?;
            for (result, event) in report.results.iter().zip(&batch) {
                totals.count(result.outcome);
                if result.outcome == Outcome::Failed {
                    let retry = if result.retryable { " (retryable)" } else { "" };
                    eprintln!("event {}: failed: {}{retry}", result.record_id, result.reason);
                }
                if let (Outcome::DryRun, EventRequest::Event(input)) = (result.outcome, event) {
                    let line = serde_json::json!({
                        "unique_id": input.unique_id,
                        "metric": input.metric,
                        "time": input.time,
                        "value": input.value.map(|v| v.to_string()),
                        "profile": { "email": input.profile.email, "external_id": input.profile.external_id },
                        "properties": input.properties,
                    });
                    writeln!(out, "{line}")?;
                }
            }
            totals.requests += report.stats.requests();
            totals.throttled_waits += report.stats.throttled_waits();
            batch.clear();
        }
        if end {
            break;
        }
    }
    eprintln!(
        "klaviyo events{}: sent {}, duplicate {}, failed {}, would send {}; requests {}, throttled waits {}",
        if dry_run { " (dry run)" } else { "" },
        totals.sent,
        totals.duplicate,
        totals.failed,
        totals.dry_run,
        totals.requests,
        totals.throttled_waits,
    );
    if totals.failed > 0 {
        bail!("{} events failed", totals.failed);
    }
    Ok(())
}

async fn segments(gateway: &Gateway, dry_run: bool) -> anyhow::Result<()> {
    let (segments, stats) = gateway.apply_segments(dry_run).await?;
    let mut requests = stats.requests();
    let mut waits = stats.throttled_waits();
    for segment in &segments {
        let verb = if dry_run { "would be" } else { "" };
        eprintln!("segment {:?}: {verb} {} {}", segment.name, segment.action, segment.id);
    }
    let (lists, stats) = gateway.sync_lists(dry_run).await?;
    requests += stats.requests();
    waits += stats.throttled_waits();
    for list in &lists {
        eprintln!("list {:?}: +{} -{}", list.name, list.added, list.removed);
    }
    eprintln!(
        "klaviyo segments apply{}: {} segments, {} lists; requests {requests}, throttled waits {waits}",
        if dry_run { " (dry run)" } else { "" },
        segments.len(),
        lists.len(),
    );
    Ok(())
}

type Lines = Box<dyn Iterator<Item = (usize, std::io::Result<String>)>>;

fn read_lines(path: &Path) -> anyhow::Result<Lines> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Box::new(
        BufReader::new(file)
            .lines()
            .enumerate()
            .map(|(index, line)| (index + 1, line))
            .filter(|(_, line)| line.as_ref().map_or(true, |text| !text.trim().is_empty())),
    ))
}
