//! `ledgerlink demo`: the whole pipeline on the embedded default, against the
//! simulators, with a summary on the terminal and a self-contained HTML report.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::{Days, NaiveDate, Utc};
use ledgerlink_proto::convert::date_to_pb;
use ledgerlink_proto::coordinator::v1::coordinator_service_client::CoordinatorServiceClient;
use ledgerlink_proto::coordinator::v1::{Run, RunKind, RunState, StartRunRequest, WatchRunRequest};
use ledgerlink_proto::scoring::v1::ListMigrationsRequest;
use ledgerlink_proto::scoring::v1::scoring_service_client::ScoringServiceClient;
use ledgerlink_runtime::config::{DEFAULT_DATA_DIR, ENV_DATA_DIR};
use ledgerlink_runtime::telemetry::{self, LogFormat};
use ledgerlink_runtime::{BearerToken, EnvSource, ProcessEnv};
use tonic::transport::Channel;

use crate::report::{DemoSummary, RunLine, render_html};
use ledgerlink_stack::{Stack, StackOptions};

/// Flags of `ledgerlink demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Customers the simulated NetSuite account holds.
    #[arg(long, default_value_t = 5000)]
    customers: u64,
    /// Days the simulated clock advances after the full run, one incremental run each.
    #[arg(long, default_value_t = 3)]
    days: u32,
    /// Seed of the synthetic data.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Where the HTML report goes (default: demo-report.html in the data directory).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

pub(crate) async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let filter = ProcessEnv.get("RUST_LOG").unwrap_or_else(|| "error".to_owned());
    let _telemetry = telemetry::init("ledgerlink", LogFormat::Text, Some(&filter), None)?;
    let base_dir = ProcessEnv
        .get(ENV_DATA_DIR)
        .map_or_else(|| PathBuf::from(DEFAULT_DATA_DIR), PathBuf::from);
    // A demo starts from nothing every time, beside (never inside) a real installation's files.
    let data_dir = base_dir.join("demo");
    if data_dir.exists() {
        std::fs::remove_dir_all(&data_dir).with_context(|| format!("cannot clear {}", data_dir.display()))?;
    }
    std::fs::create_dir_all(&data_dir)?;
    let today = Utc::now().date_naive();
    let started = Instant::now();
    eprintln!(
        "starting the NetSuite simulator ({} customers), the Klaviyo simulator and the five services…",
        args.customers
    );
    let options = StackOptions {
        env: ledgerlink_runtime::SharedEnv(std::sync::Arc::new(ProcessEnv)),
        host: [127, 0, 0, 1].into(),
        base_port: 0,
        config: None,
        data_dir: data_dir.clone(),
        customers: args.customers,
        seed: args.seed,
        as_of: today,
        schedules: false,
        realistic_limits: true,
    };
    let stack = Stack::start(&options).await?;
    let result = drive(&stack, &args, today, started).await;
    let summary = match result {
        Ok(summary) => summary,
        Err(error) => {
            stack.stop().await?;
            return Err(error);
        }
    };
    stack.stop().await?;

    print_summary(&summary);
    let report_path = args.report.unwrap_or_else(|| data_dir.join("demo-report.html"));
    std::fs::write(&report_path, render_html(&summary))
        .with_context(|| format!("cannot write {}", report_path.display()))?;
    println!("\nreport: {}", report_path.display());
    Ok(())
}

async fn drive(stack: &Stack, args: &DemoArgs, today: NaiveDate, started: Instant) -> anyhow::Result<DemoSummary> {
    let bearer = BearerToken::new(&stack.token)?;
    let channel = Channel::from_shared(stack.url(ledgerlink_coordinator::SERVICE))?
        .connect()
        .await?;
    let mut coordinator =
        CoordinatorServiceClient::with_interceptor(channel, bearer.clone()).max_decoding_message_size(64 * 1024 * 1024);
    let mut summary = DemoSummary {
        customers: args.customers,
        ..DemoSummary::default()
    };

    eprintln!("full run as of {today}");
    let run = run_and_follow(&mut coordinator, RunKind::Full, today).await?;
    summary.runs.push(RunLine::of(&run, 0));
    let netsuite = stack
        .netsuite
        .as_ref()
        .context("the demo needs the NetSuite simulator")?;
    for day in 1..=args.days {
        let changed = netsuite
            .advance_days(1)
            .await
            .map_err(|e| anyhow::anyhow!("advancing the simulated account: {e}"))?;
        let as_of = today
            .checked_add_days(Days::new(u64::from(day)))
            .context("date out of range")?;
        eprintln!(
            "day {day}: {} customers changed in NetSuite; incremental run as of {as_of}",
            changed.len()
        );
        let run = run_and_follow(&mut coordinator, RunKind::Incremental, as_of).await?;
        summary.runs.push(RunLine::of(&run, changed.len() as u64));
    }

    let klaviyo = stack.klaviyo.as_ref().context("the demo needs the Klaviyo simulator")?;
    for profile in klaviyo.profiles() {
        summary.profiles += 1;
        for (dimension, counts) in [
            ("account_standing", &mut summary.standing),
            ("behavior_segment", &mut summary.behavior),
            ("loyalty_tier", &mut summary.loyalty),
            ("aging_bucket", &mut summary.aging),
        ] {
            if let Some(value) = profile.properties.get(dimension).and_then(|v| v.as_str()) {
                *counts.entry(value.to_owned()).or_default() += 1;
            }
        }
    }
    summary.events_in_klaviyo = klaviyo.events().len() as u64;
    summary.klaviyo_requests = klaviyo.request_counts().values().sum();
    let counters = netsuite.counters();
    summary.netsuite_requests = counters.requests;
    summary.netsuite_pages = counters.suiteql_pages;

    let channel = Channel::from_shared(stack.url(ledgerlink_scoring::SERVICE))?
        .connect()
        .await?;
    let mut scoring = ScoringServiceClient::with_interceptor(channel, bearer);
    let mut page_token = String::new();
    loop {
        let page = scoring
            .list_migrations(ListMigrationsRequest {
                page_size: 1000,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await?
            .into_inner();
        for migration in &page.migrations {
            *summary
                .migrations
                .entry(format!("{} → {}", migration.from_segment, migration.to_segment))
                .or_default() += 1;
            if migration.toward_risk {
                summary.migrations_toward_risk += 1;
            }
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

async fn run_and_follow(
    client: &mut CoordinatorServiceClient<tonic::service::interceptor::InterceptedService<Channel, BearerToken>>,
    kind: RunKind,
    as_of: NaiveDate,
) -> anyhow::Result<Run> {
    let run = client
        .start_run(StartRunRequest {
            kind: kind as i32,
            as_of: Some(date_to_pb(as_of)),
            ..Default::default()
        })
        .await?
        .into_inner()
        .run
        .context("no run")?;
    let mut updates = client
        .watch_run(WatchRunRequest {
            run_id: run.run_id.clone(),
        })
        .await?
        .into_inner();
    let mut last = run;
    // A redrawn line is for people; a log file gets the final figures only.
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stderr());
    while let Some(update) = updates.message().await? {
        if let Some(run) = update.run {
            if let (true, Some(progress)) = (interactive, &run.progress) {
                eprint!(
                    "\r  {} customers, {} batches, {:.0}/s   ",
                    progress.records_done, progress.batches_done, progress.records_per_second
                );
            }
            last = run;
        }
    }
    if let Some(progress) = &last.progress {
        let prefix = if interactive { "\r" } else { "" };
        eprintln!(
            "{prefix}  {} customers, {} batches, {:.0}/s   ",
            progress.records_done, progress.batches_done, progress.records_per_second
        );
    }
    if last.state != RunState::Succeeded as i32 {
        bail!("run {} did not succeed: {}", last.run_id, last.error);
    }
    Ok(last)
}

fn print_summary(summary: &DemoSummary) {
    println!(
        "\nledgerlink demo: {} simulated customers, {:.1} s",
        summary.customers, summary.seconds
    );
    println!("\nruns");
    for run in &summary.runs {
        println!(
            "  {:<12} {:>6} customers  {:>6} profiles written  {:>5} events  {:>6.1} s",
            run.kind,
            run.customers,
            run.profiles_written,
            run.events.values().sum::<u64>(),
            run.seconds
        );
    }
    for (title, counts) in [
        ("account standing", &summary.standing),
        ("behaviour", &summary.behavior),
        ("loyalty tier", &summary.loyalty),
        ("worst aging bucket", &summary.aging),
    ] {
        println!("\n{title}");
        for (segment, count) in counts {
            println!("  {segment:<24} {count:>7}");
        }
    }
    let mut events: BTreeMap<&str, u64> = BTreeMap::new();
    for run in &summary.runs {
        for (metric, count) in &run.events {
            *events.entry(metric).or_default() += count;
        }
    }
    println!("\nreminder events sent");
    for (metric, count) in &events {
        println!("  {metric:<38} {count:>7}");
    }
    println!(
        "\nsegment migrations: {} ({} toward risk)",
        summary.migrations.values().sum::<u64>(),
        summary.migrations_toward_risk
    );
    println!(
        "profiles in Klaviyo: {}; events in Klaviyo: {}",
        summary.profiles, summary.events_in_klaviyo
    );
    println!(
        "requests: NetSuite {} ({} SuiteQL pages), Klaviyo {}",
        summary.netsuite_requests, summary.netsuite_pages, summary.klaviyo_requests
    );
}
