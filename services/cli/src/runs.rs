//! `ledgerlink run`, `runs`, `rejects` and `preview`: the coordinator's gRPC API from
//! a terminal.

use std::io::{IsTerminal, Write};

use anyhow::{Context, bail};
use chrono::NaiveDate;
use ledgerlink_proto::convert::date_to_pb;
use ledgerlink_proto::coordinator::v1::coordinator_service_client::CoordinatorServiceClient;
use ledgerlink_proto::coordinator::v1::{
    ListRejectsRequest, ListRunsRequest, PreviewRequest, Run, RunKind, RunPhase, RunState, StartRunRequest,
    WatchRunRequest,
};
use ledgerlink_runtime::config::{ENV_AUTH_TOKEN, secret};
use ledgerlink_runtime::{BearerToken, EnvSource, ProcessEnv};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

type Client = CoordinatorServiceClient<InterceptedService<Channel, BearerToken>>;

/// Where the CLI finds the coordinator unless `LEDGERLINK_COORDINATOR_URL` says otherwise.
const DEFAULT_COORDINATOR_URL: &str = "http://127.0.0.1:50055";

async fn client() -> anyhow::Result<Client> {
    let url = ProcessEnv
        .get("LEDGERLINK_COORDINATOR_URL")
        .unwrap_or_else(|| DEFAULT_COORDINATOR_URL.to_owned());
    let token = secret(&ProcessEnv, ENV_AUTH_TOKEN)?
        .with_context(|| format!("{ENV_AUTH_TOKEN} is needed to reach the coordinator"))?;
    let channel = connect(&url, "the coordinator").await?;
    Ok(
        CoordinatorServiceClient::with_interceptor(channel, BearerToken::new(&token)?)
            .max_decoding_message_size(64 * 1024 * 1024),
    )
}

/// Connects to a service at `url`: `https://` with the CA and client certificate the
/// `LEDGERLINK_TLS_*` variables name.
pub(crate) async fn connect(url: &str, what: &str) -> anyhow::Result<Channel> {
    let tls = ledgerlink_runtime::TlsSettings::from_env(&ProcessEnv)?;
    ledgerlink_runtime::tls::endpoint(url, tls.as_ref())?
        .connect()
        .await
        .with_context(|| format!("cannot reach {what} at {url}"))
}

fn refused(status: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("coordinator refused: {}", status.message())
}

/// Flags of `ledgerlink run`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("scope").required(true)))]
pub(crate) struct RunArgs {
    /// Every customer.
    #[arg(long, group = "scope")]
    full: bool,
    /// Customers changed since the last successful run.
    #[arg(long, group = "scope")]
    incremental: bool,
    /// One customer (repeatable).
    #[arg(long, value_name = "ID", group = "scope")]
    customer: Vec<String>,
    /// The customer of one invoice (repeatable).
    #[arg(long, value_name = "ID", group = "scope")]
    invoice: Vec<String>,
    /// Compute and report, write nothing.
    #[arg(long)]
    dry_run: bool,
    /// The run's date (default: today in the account's time zone).
    #[arg(long, value_name = "YYYY-MM-DD")]
    as_of: Option<NaiveDate>,
    /// Start the run and return at once.
    #[arg(long)]
    no_wait: bool,
}

pub(crate) async fn run(args: RunArgs) -> anyhow::Result<()> {
    let mut client = client().await?;
    let kind = if args.full {
        RunKind::Full
    } else if args.incremental {
        RunKind::Incremental
    } else if !args.customer.is_empty() {
        RunKind::Customer
    } else {
        RunKind::Invoice
    };
    let started = client
        .start_run(StartRunRequest {
            kind: kind as i32,
            dry_run: args.dry_run,
            customer_ids: args.customer,
            invoice_ids: args.invoice,
            as_of: args.as_of.map(date_to_pb),
        })
        .await
        .map_err(refused)?
        .into_inner()
        .run
        .context("coordinator answered without a run")?;
    eprintln!("run {} queued", started.run_id);
    if args.no_wait {
        println!("{}", started.run_id);
        return Ok(());
    }
    let run = follow(&mut client, &started.run_id).await?;
    print_report(&run);
    match RunState::try_from(run.state) {
        Ok(RunState::Succeeded) => Ok(()),
        Ok(RunState::Cancelled) => bail!("run {} was cancelled", run.run_id),
        _ => bail!("run {} failed: {}", run.run_id, run.error),
    }
}

/// Follows a run to its end, drawing a progress line on stderr.
pub(crate) async fn follow(client: &mut Client, run_id: &str) -> anyhow::Result<Run> {
    let mut updates = client
        .watch_run(WatchRunRequest {
            run_id: run_id.to_owned(),
        })
        .await
        .map_err(refused)?
        .into_inner();
    let interactive = std::io::stderr().is_terminal();
    let mut last = None;
    while let Some(update) = updates.message().await.map_err(refused)? {
        if let Some(run) = update.run {
            draw_progress(&run, interactive);
            last = Some(run);
        }
    }
    if interactive {
        eprintln!();
    }
    last.context("the coordinator sent no progress")
}

fn draw_progress(run: &Run, interactive: bool) {
    let Some(progress) = &run.progress else {
        return;
    };
    let phase = RunPhase::try_from(progress.phase)
        .map(|p| p.as_str_name().trim_start_matches("RUN_PHASE_").to_lowercase())
        .unwrap_or_default();
    let eta = progress.eta_seconds.map(|s| format!(", eta {s}s")).unwrap_or_default();
    let line = format!(
        "{phase:<9} {} batches, {} customers, {:.0}/s, {} rejected{eta}",
        progress.batches_done, progress.records_done, progress.records_per_second, progress.rejects
    );
    if interactive {
        eprint!("\r\x1b[2K{line}");
        let _ = std::io::stderr().flush();
    } else {
        eprintln!("{line}");
    }
}

fn state_name(state: i32) -> String {
    RunState::try_from(state)
        .map(|s| s.as_str_name().trim_start_matches("RUN_STATE_").to_lowercase())
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn kind_name(kind: i32) -> String {
    RunKind::try_from(kind)
        .map(|k| k.as_str_name().trim_start_matches("RUN_KIND_").to_lowercase())
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// Prints a run's report as a person reads it.
pub(crate) fn print_report(run: &Run) {
    println!(
        "run {} ({}{}): {}",
        run.run_id,
        kind_name(run.kind),
        if run.dry_run { ", dry run" } else { "" },
        state_name(run.state)
    );
    let Some(report) = &run.report else {
        return;
    };
    println!(
        "  profiles: {} created, {} updated, {} unchanged, {} skipped, {} failed",
        report.profiles_created,
        report.profiles_updated,
        report.profiles_unchanged,
        report.profiles_skipped,
        report.profiles_failed
    );
    let events: u64 = report.events_by_kind.values().sum();
    println!("  events sent: {events}");
    let mut kinds: Vec<_> = report.events_by_kind.iter().collect();
    kinds.sort();
    for (metric, count) in kinds {
        println!("    {count:>8}  {metric}");
    }
    println!("  segment migrations: {}", report.migrations);
    println!(
        "  requests: {} to NetSuite, {} to Klaviyo; {:.1} s",
        report.netsuite_requests,
        report.klaviyo_requests,
        report.duration_millis as f64 / 1000.0
    );
    if run.dry_run {
        for preview in &report.previews {
            println!("  customer {}", preview.customer_id);
            if !preview.set_properties_json.is_empty() {
                println!("    set   {}", preview.set_properties_json);
            }
            if !preview.unset_properties.is_empty() {
                println!("    unset {}", preview.unset_properties.join(", "));
            }
            for event in &preview.events {
                println!("    event {} ({})", event.key, event.metric);
            }
        }
    }
}

pub(crate) async fn runs() -> anyhow::Result<()> {
    let mut client = client().await?;
    let runs = client
        .list_runs(ListRunsRequest {
            page_size: 50,
            page_token: String::new(),
        })
        .await
        .map_err(refused)?
        .into_inner()
        .runs;
    println!(
        "{:<34} {:<12} {:<10} {:<8} {:>9} {:>8}  TRIGGER",
        "RUN", "KIND", "STATE", "DRY", "CUSTOMERS", "REJECTS"
    );
    for run in runs {
        let progress = run.progress.unwrap_or_default();
        println!(
            "{:<34} {:<12} {:<10} {:<8} {:>9} {:>8}  {}",
            run.run_id,
            kind_name(run.kind),
            state_name(run.state),
            if run.dry_run { "yes" } else { "no" },
            progress.records_done,
            progress.rejects,
            run.trigger
        );
    }
    Ok(())
}

/// Flags of `ledgerlink rejects`.
#[derive(Debug, clap::Args)]
pub(crate) struct RejectsArgs {
    /// The run.
    run_id: String,
}

pub(crate) async fn rejects(args: RejectsArgs) -> anyhow::Result<()> {
    let mut client = client().await?;
    let mut page_token = String::new();
    loop {
        let page = client
            .list_rejects(ListRejectsRequest {
                run_id: args.run_id.clone(),
                page_size: 500,
                page_token: page_token.clone(),
            })
            .await
            .map_err(refused)?
            .into_inner();
        for rejection in &page.rejections {
            let kind = ledgerlink_proto::types::v1::RecordKind::try_from(rejection.record_kind)
                .map(|k| k.as_str_name().trim_start_matches("RECORD_KIND_").to_lowercase())
                .unwrap_or_default();
            println!(
                "customer={} {kind}={} field={}: {}",
                rejection.customer_id, rejection.record_id, rejection.field, rejection.reason
            );
        }
        if page.next_page_token.is_empty() {
            return Ok(());
        }
        page_token = page.next_page_token;
    }
}

/// Flags of `ledgerlink preview`.
#[derive(Debug, clap::Args)]
pub(crate) struct PreviewArgs {
    /// The NetSuite customer id.
    customer_id: String,
    /// The date to preview (default: today in the account's time zone).
    #[arg(long, value_name = "YYYY-MM-DD")]
    as_of: Option<NaiveDate>,
}

pub(crate) async fn preview(args: PreviewArgs) -> anyhow::Result<()> {
    let mut client = client().await?;
    let response = client
        .preview(PreviewRequest {
            customer_id: args.customer_id.clone(),
            as_of: args.as_of.map(date_to_pb),
        })
        .await
        .map_err(refused)?
        .into_inner();
    let preview = response.preview.unwrap_or_default();
    println!("customer {}", preview.customer_id);
    if !preview.skip_reason.is_empty() {
        println!("  not synced to Klaviyo: {}", preview.skip_reason);
    }
    if !preview.set_properties_json.is_empty() {
        let pretty = serde_json::from_str::<serde_json::Value>(&preview.set_properties_json)
            .and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or(preview.set_properties_json);
        println!("  profile properties:\n{}", indent(&pretty, 4));
    }
    if !preview.unset_properties.is_empty() {
        println!("  properties removed: {}", preview.unset_properties.join(", "));
    }
    for event in &preview.events {
        println!("  event {} ({})", event.key, event.metric);
    }
    if let Some(score) = response.score
        && let Some(explain) = score.explain
    {
        println!("  why:");
        for (dimension, explanation) in [
            ("account_standing", explain.account_standing),
            ("behavior_segment", explain.behavior_segment),
            ("loyalty_tier", explain.loyalty_tier),
        ] {
            let Some(explanation) = explanation else { continue };
            let mut metrics: Vec<_> = explanation.metrics.iter().collect();
            metrics.sort();
            let metrics: Vec<String> = metrics.iter().map(|(k, v)| format!("{k}={v}")).collect();
            println!(
                "    {dimension} = {} because {} ({})",
                explanation.segment,
                explanation.rule,
                metrics.join(", ")
            );
        }
    }
    Ok(())
}

fn indent(text: &str, by: usize) -> String {
    text.lines()
        .map(|line| format!("{}{line}", " ".repeat(by)))
        .collect::<Vec<_>>()
        .join("\n")
}
