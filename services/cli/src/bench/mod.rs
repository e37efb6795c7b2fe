//! `ledgerlink bench`: the whole pipeline at scale against the simulators set to
//! realistic behaviour, measured against the lower bound the two APIs' limits allow.
//!
//! For each size the benchmark starts the NetSuite simulator (per-page latency,
//! account concurrency limit) and the Klaviyo simulator (published burst and steady
//! limits) in its own process, and the five services as child processes, so each
//! service's CPU time and peak memory can be read from `/proc`. It then runs a full
//! run, changes a share of the customers in NetSuite and runs an incremental run, and
//! finally sends signed per-invoice webhooks and times each until its event reaches
//! the Klaviyo simulator. `bounds` holds the arithmetic, `report` the tables.

mod bounds;
mod invoice;
mod procs;
mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{Days, NaiveDate, Utc};
use ledgerlink_proto::convert::date_to_pb;
use ledgerlink_proto::coordinator::v1::coordinator_service_client::CoordinatorServiceClient;
use ledgerlink_proto::coordinator::v1::{Run, RunKind, RunState, StartRunRequest, WatchRunRequest};
use ledgerlink_runtime::BearerToken;
use ledgerlink_runtime::telemetry::{self, LogFormat};
use ledgerlink_runtime::{EnvSource, ProcessEnv};
use ledgerlink_stack::random_hex;
use ledgerlink_synthdata::{Generator, GeneratorConfig};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use self::bounds::DataCounts;
use self::procs::{ProcSample, ServiceProcess};

type Coordinator = CoordinatorServiceClient<InterceptedService<Channel, BearerToken>>;

/// Above this many customers the NetSuite simulator keeps its database in a file in
/// the work directory rather than in memory.
const IN_MEMORY_CUSTOMERS: u64 = 200_000;
/// The NetSuite simulator's database file in a size's work directory, when on disk.
const NETSUITE_DATABASE_FILE: &str = "netsuite-sim.sqlite";

/// Flags of `ledgerlink bench`.
#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
    /// Customer counts to run, one full size each, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [10_000u64, 100_000])]
    customers: Vec<u64>,
    /// Time the NetSuite simulator takes for each SuiteQL page.
    #[arg(long, default_value_t = 500)]
    page_latency_ms: u64,
    /// NetSuite's account concurrency limit (Standard tier: 5).
    #[arg(long, default_value_t = 5)]
    concurrency: usize,
    /// Share of customers changed in NetSuite before the incremental run.
    #[arg(long, default_value_t = 0.01)]
    changed_share: f64,
    /// Per-invoice runs (signed webhooks) to time after the incremental run; 0 skips them.
    #[arg(long, default_value_t = 200)]
    invoice_runs: usize,
    /// Also write the report (Markdown) to this file.
    #[arg(long, value_name = "FILE.md")]
    out: Option<PathBuf>,
    /// Seed of the synthetic data.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Keep service data, logs and the simulator database here (default: a temporary
    /// directory, removed afterwards).
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// A ledgerlink TOML configuration the services read (its `[coordinator]` service
    /// URLs, schedules and webhook address are set by the benchmark).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where the service binaries are (default: beside this ledgerlink binary).
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Log filter of the services (their logs go to the work directory).
    #[arg(long, default_value = "info")]
    service_log: String,
    /// Cancel a run that takes longer and report how far it got (its figures cover
    /// the part that ran; the size's later runs are skipped).
    #[arg(long, value_name = "MINUTES")]
    max_run_minutes: Option<f64>,
}

/// The measurements of one run (full or incremental).
#[derive(Debug, Clone, Default)]
pub(crate) struct RunResult {
    /// `full` or `incremental`.
    pub(crate) kind: &'static str,
    /// Customers in the data set.
    pub(crate) size: u64,
    /// Customers the run must process (all, or the changed ones) and their records.
    pub(crate) data: DataCounts,
    /// Customers the run reported done.
    pub(crate) customers_done: u64,
    /// Wall time from StartRun to the end of WatchRun.
    pub(crate) wall_secs: f64,
    /// Concurrency limit of the NetSuite simulator.
    pub(crate) concurrency: usize,
    /// SuiteQL pages the data needs at best, by query.
    pub(crate) min_pages: BTreeMap<&'static str, u64>,
    pub(crate) netsuite_bound_secs: f64,
    /// What the NetSuite simulator counted during the run.
    pub(crate) pages_made: u64,
    pub(crate) rows_read: u64,
    pub(crate) netsuite_requests: u64,
    pub(crate) netsuite_429s: u64,
    pub(crate) mean_in_flight: f64,
    /// Pages and rows made per query (labels of `min_pages`).
    pub(crate) pages_by_query: BTreeMap<&'static str, (u64, u64)>,
    pub(crate) max_in_flight: u64,
    /// Klaviyo requests per operation: made (all answers), of which 429, and minimum.
    pub(crate) klaviyo_made: BTreeMap<String, u64>,
    pub(crate) klaviyo_429s: BTreeMap<String, u64>,
    pub(crate) klaviyo_min: BTreeMap<&'static str, u64>,
    pub(crate) klaviyo_bound_secs: f64,
    /// Profiles written and events accepted (Klaviyo simulator).
    pub(crate) profiles_written: u64,
    pub(crate) events_sent: u64,
    /// Per service (and `bench` for this process with the simulators): CPU seconds
    /// used during the run and peak resident bytes during it.
    pub(crate) cpu_secs: BTreeMap<&'static str, f64>,
    pub(crate) peak_bytes: BTreeMap<&'static str, u64>,
    /// Records the run set aside (customers without a usable email, …).
    pub(crate) rejects: u64,
    /// Set when the run was cancelled at `--max-run-minutes`.
    pub(crate) stopped: bool,
}

impl RunResult {
    /// The bound the run is measured against: both APIs work at the same time (the
    /// pipeline overlaps extraction and Klaviyo writes), so the slower one.
    pub(crate) fn bound_secs(&self) -> f64 {
        self.netsuite_bound_secs.max(self.klaviyo_bound_secs)
    }

    /// Wall time over the bound; `None` when the bound is zero or the run was stopped.
    pub(crate) fn ratio(&self) -> Option<f64> {
        let bound = self.bound_secs();
        (bound > 0.0 && !self.stopped).then(|| self.wall_secs / bound)
    }
}

/// Everything measured for one size.
#[derive(Debug, Clone, Default)]
pub(crate) struct SizeResult {
    pub(crate) size: u64,
    pub(crate) load_secs: f64,
    pub(crate) runs: Vec<RunResult>,
    pub(crate) invoice: Option<invoice::InvoiceResult>,
}

pub(crate) async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let filter = ProcessEnv.get("RUST_LOG").unwrap_or_else(|| "error".to_owned());
    let _telemetry = telemetry::init("ledgerlink", LogFormat::Text, Some(&filter), None)?;
    if args.customers.is_empty() || args.customers.contains(&0) {
        bail!("--customers needs one or more counts above zero");
    }
    if !(args.changed_share > 0.0 && args.changed_share <= 1.0) {
        bail!("--changed-share must be above 0 and at most 1");
    }
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let binaries = procs::service_binaries(args.bin_dir.as_deref())?;
    let machine = report::Machine::read();
    let temporary = match &args.work_dir {
        Some(_) => None,
        None => Some(tempfile::Builder::new().prefix("ledgerlink-bench-").tempdir()?),
    };
    let work_root = match (&args.work_dir, &temporary) {
        (Some(dir), _) => dir.clone(),
        (None, Some(temp)) => temp.path().to_owned(),
        (None, None) => unreachable!("a temporary directory is made when none is given"),
    };
    std::fs::create_dir_all(&work_root).with_context(|| format!("cannot create {}", work_root.display()))?;

    let stop = ledgerlink_runtime::shutdown_on_signal();
    let mut results = Vec::new();
    for &size in &args.customers {
        let dir = work_root.join(format!("{size}-customers"));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("cannot clear {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir)?;
        eprintln!("== {size} customers (work directory {})", dir.display());
        // On Ctrl-C or SIGTERM the size's future is dropped, and with it the service
        // processes (killed on drop), so none outlives the benchmark.
        let result = tokio::select! {
            result = bench_size(&args, size, &binaries, &dir) => result,
            () = stop.cancelled() => Err(anyhow::anyhow!("interrupted")),
        };
        match result {
            Ok(result) => {
                results.push(result);
                // Each finished size is written at once, so an interruption later
                // loses only the size it interrupts.
                if let Some(out) = &args.out {
                    let text = report::render(&machine.clone().finish(), &settings_line(&args), &results);
                    std::fs::write(out, &text).with_context(|| format!("cannot write {}", out.display()))?;
                }
            }
            Err(error) => {
                // The simulator's database of a big size is no use to anyone reading logs.
                let _ = std::fs::remove_file(dir.join(NETSUITE_DATABASE_FILE));
                if temporary.is_some() {
                    // Keep the logs of a failed benchmark for whoever reads the error.
                    let kept = temporary.map(tempfile::TempDir::keep);
                    if let Some(kept) = kept {
                        eprintln!("service logs kept in {}", kept.display());
                    }
                }
                return Err(error);
            }
        }
    }
    let machine = machine.finish();
    let text = report::render(&machine, &settings_line(&args), &results);
    println!("{text}");
    if let Some(out) = &args.out {
        std::fs::write(out, &text).with_context(|| format!("cannot write {}", out.display()))?;
        eprintln!("report written to {}", out.display());
    }
    Ok(())
}

fn settings_line(args: &BenchArgs) -> String {
    format!(
        "NetSuite simulator: {} ms per SuiteQL page, concurrency limit {}; Klaviyo simulator: published \
         per-endpoint burst and steady limits; incremental: {}% of customers changed; {} per-invoice runs \
         (NetSuite latency 0); seed {}",
        args.page_latency_ms,
        args.concurrency,
        args.changed_share * 100.0,
        args.invoice_runs,
        args.seed
    )
}

/// Customer ids spread evenly over `1..=size`: `count` of them, the last one `size`.
fn spread_ids(size: u64, count: u64) -> Vec<i64> {
    (1..=count)
        .map(|j| i64::try_from(j * size / count).unwrap_or(i64::MAX))
        .collect()
}

/// What one pass over the generator tells: counts for the full and the incremental
/// run, and the customers the per-invoice runs use.
struct Plan {
    full: DataCounts,
    changed: DataCounts,
    changed_ids: Vec<i64>,
    invoice_customers: Vec<invoice::InvoiceCustomer>,
}

fn plan_data(generator: &Generator, size: u64, changed_share: f64, invoice_runs: usize) -> Plan {
    let changed_count = ((size as f64 * changed_share).round() as u64).clamp(1, size);
    let changed_ids = spread_ids(size, changed_count);
    let changed_set: std::collections::HashSet<i64> = changed_ids.iter().copied().collect();
    // Per-invoice runs use customers away from the changed ones, spread over the set.
    let stride = (size / (invoice_runs as u64 + 1).max(1)).max(1);
    let mut full = DataCounts::default();
    let mut changed = DataCounts::default();
    let mut invoice_customers = Vec::new();
    for records in generator.customers() {
        full.add(&records);
        let id = records.customer.id;
        if changed_set.contains(&id) {
            changed.add(&records);
            continue;
        }
        let usable = !records.customer.is_inactive
            && records
                .customer
                .email
                .as_deref()
                .is_some_and(ledgerlink_reminder_planner::is_usable_email);
        let picked = invoice_customers.len() as u64;
        let wanted = picked < invoice_runs as u64 && id as u64 >= stride * (picked + 1);
        if usable && wanted {
            invoice_customers.push(invoice::InvoiceCustomer {
                id,
                currency: records.customer.currency,
                terms: records.customer.terms,
            });
        }
    }
    Plan {
        full,
        changed,
        changed_ids,
        invoice_customers,
    }
}

/// The two simulators of one size.
struct Simulators {
    netsuite: ledgerlink_netsuite_sim::SimHandle,
    klaviyo: ledgerlink_klaviyo_sim::SimHandle,
    env_netsuite: Vec<(String, String)>,
    env_klaviyo: Vec<(String, String)>,
}

async fn start_simulators(args: &BenchArgs, generator: Generator, size: u64, dir: &Path) -> anyhow::Result<Simulators> {
    let account = "BENCH1234_SB1".to_owned();
    let credentials = ledgerlink_netsuite_sim::TbaCredentials {
        consumer_key: random_hex(16)?,
        consumer_secret: random_hex(16)?,
        token_id: random_hex(16)?,
        token_secret: random_hex(16)?,
    };
    let mut config = ledgerlink_netsuite_sim::SimConfig::new(account.clone());
    config.tba.push(credentials.clone());
    config.concurrency_limit = args.concurrency;
    config.page_latency = Duration::from_millis(args.page_latency_ms);
    if size > IN_MEMORY_CUSTOMERS {
        config.database_path = Some(dir.join(NETSUITE_DATABASE_FILE));
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let netsuite = ledgerlink_netsuite_sim::NetSuiteSim::start(config, Some(generator), listener)
        .await
        .map_err(|e| anyhow::anyhow!("netsuite simulator: {e}"))?;
    // Statistics let SQLite use the entity index for `t.entity BETWEEN …` and
    // `IN (…)`; without them it walks every invoice or order from the first id for a
    // chunk's first page, so the simulator's own CPU time per page grows with the
    // customer ids (quadratic over a run) instead of staying near constant the way
    // NetSuite's does. See docs/benchmarks.md.
    netsuite
        .execute_sql("ANALYZE;")
        .await
        .map_err(|e| anyhow::anyhow!("analyzing the simulator's database: {e}"))?;
    let env_netsuite = vec![
        ("NETSUITE_ACCOUNT_ID".to_owned(), account),
        ("NETSUITE_BASE_URL".to_owned(), netsuite.base_url()),
        ("NETSUITE_CONSUMER_KEY".to_owned(), credentials.consumer_key),
        ("NETSUITE_CONSUMER_SECRET".to_owned(), credentials.consumer_secret),
        ("NETSUITE_TOKEN_ID".to_owned(), credentials.token_id),
        ("NETSUITE_TOKEN_SECRET".to_owned(), credentials.token_secret),
    ];
    let key = format!("pk_{}", random_hex(16)?);
    let mut klaviyo_config = ledgerlink_klaviyo_sim::SimConfig::new(key.clone());
    klaviyo_config.seed = args.seed;
    klaviyo_config.rate_limits = ledgerlink_klaviyo_sim::RateLimitMode::On;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let klaviyo = ledgerlink_klaviyo_sim::start(klaviyo_config, listener)?;
    let env_klaviyo = vec![
        ("KLAVIYO_API_KEY".to_owned(), key),
        ("KLAVIYO_BASE_URL".to_owned(), klaviyo.base_url()),
    ];
    Ok(Simulators {
        netsuite,
        klaviyo,
        env_netsuite,
        env_klaviyo,
    })
}

/// The five services of one size.
struct Services {
    processes: Vec<ServiceProcess>,
    token: secrecy::SecretString,
    webhook_secret: String,
}

impl Services {
    fn get(&self, name: &str) -> anyhow::Result<&ServiceProcess> {
        self.processes
            .iter()
            .find(|p| p.name == name)
            .with_context(|| format!("no {name} process"))
    }

    async fn stop(self) {
        // The coordinator first, so nothing calls a service that is already gone.
        for process in self.processes.into_iter().rev() {
            process.stop().await;
        }
    }

    fn check_running(&mut self) -> anyhow::Result<()> {
        for process in &mut self.processes {
            if !process.is_running() {
                bail!(
                    "ledgerlink-{} stopped during the benchmark; see {}",
                    process.name,
                    process.log.display()
                );
            }
        }
        Ok(())
    }
}

/// The table at `name` in `parent`, created when missing.
fn table_in<'a>(parent: &'a mut toml::Table, name: &str) -> anyhow::Result<&'a mut toml::Table> {
    parent
        .entry(name)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .with_context(|| format!("[{name}] in the configuration is not a table"))
}

/// Merges the user's configuration with the benchmark's settings and the coordinator's
/// wiring and writes it. Unless the user's file says otherwise, the extractor's client
/// may use the account's whole concurrency limit: the bound assumes every slot.
fn write_config(
    path: &Path,
    user: Option<&Path>,
    concurrency: usize,
    coordinator_wiring: Option<&BTreeMap<&str, String>>,
) -> anyhow::Result<()> {
    let mut root: toml::Table = match user {
        Some(file) => std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?
            .parse()
            .with_context(|| format!("{} is not valid TOML", file.display()))?,
        None => toml::Table::new(),
    };
    let client = table_in(table_in(&mut root, "extractor")?, "client")?;
    client
        .entry("max_concurrency")
        .or_insert(toml::Value::Integer(i64::try_from(concurrency)?));
    if let Some(wiring) = coordinator_wiring {
        let coordinator = table_in(&mut root, "coordinator")?;
        for (key, value) in wiring {
            coordinator.insert((*key).to_owned(), toml::Value::String(value.clone()));
        }
        coordinator.insert("schedules_enabled".to_owned(), toml::Value::Boolean(false));
    }
    std::fs::write(path, toml::to_string(&root)?).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

async fn start_services(
    args: &BenchArgs,
    binaries: &BTreeMap<&'static str, PathBuf>,
    sims: &Simulators,
    dir: &Path,
) -> anyhow::Result<Services> {
    let token = random_hex(24)?;
    let webhook_secret = random_hex(24)?;
    let config_path = dir.join("ledgerlink.toml");
    write_config(&config_path, args.config.as_deref(), args.concurrency, None)?;
    let mut processes: Vec<ServiceProcess> = Vec::new();
    for service in procs::SERVICES {
        let data_dir = dir.join(service);
        std::fs::create_dir_all(&data_dir)?;
        let mut env = vec![
            ("LEDGERLINK_AUTH_TOKEN".to_owned(), token.clone()),
            ("LEDGERLINK_DATA_DIR".to_owned(), data_dir.display().to_string()),
            ("LEDGERLINK_CONFIG".to_owned(), config_path.display().to_string()),
            ("RUST_LOG".to_owned(), args.service_log.clone()),
        ];
        match service {
            "extractor" => env.extend(sims.env_netsuite.iter().cloned()),
            "klaviyo-gateway" => env.extend(sims.env_klaviyo.iter().cloned()),
            "coordinator" => {
                env.push(("LEDGERLINK_WEBHOOK_SECRET".to_owned(), webhook_secret.clone()));
                let url_of = |name: &str| {
                    processes
                        .iter()
                        .find(|p| p.name == name)
                        .map(ServiceProcess::url)
                        .unwrap_or_default()
                };
                let wiring = BTreeMap::from([
                    ("extractor_url", url_of("extractor")),
                    ("scoring_url", url_of("scoring")),
                    ("reminder_url", url_of("reminder")),
                    ("klaviyo_gateway_url", url_of("klaviyo-gateway")),
                    ("webhook_listen", "127.0.0.1:0".to_owned()),
                ]);
                write_config(&config_path, args.config.as_deref(), args.concurrency, Some(&wiring))?;
            }
            _ => {}
        }
        let binary = binaries.get(service).context("binary list is incomplete")?;
        let started = ServiceProcess::start(service, binary, &env, dir.join(format!("{service}.log"))).await;
        match started {
            Ok(process) => processes.push(process),
            Err(error) => {
                for process in processes.into_iter().rev() {
                    process.stop().await;
                }
                return Err(error);
            }
        }
    }
    Ok(Services {
        processes,
        token: secrecy::SecretString::from(token),
        webhook_secret,
    })
}

async fn bench_size(
    args: &BenchArgs,
    size: u64,
    binaries: &BTreeMap<&'static str, PathBuf>,
    dir: &Path,
) -> anyhow::Result<SizeResult> {
    let today = Utc::now().date_naive();
    // The data ends yesterday, so nothing in it is stamped after the full run's
    // watermark and the incremental run sees exactly the customers changed here.
    let data_as_of = today.checked_sub_days(Days::new(1)).context("date out of range")?;
    let generator = Generator::new(GeneratorConfig::new(args.seed, size, data_as_of))
        .map_err(|e| anyhow::anyhow!("synthetic data: {e}"))?;

    let started = Instant::now();
    eprintln!("counting the data set and loading the NetSuite simulator…");
    let planning = {
        let generator = generator.clone();
        let (share, runs) = (args.changed_share, args.invoice_runs);
        tokio::task::spawn_blocking(move || plan_data(&generator, size, share, runs))
    };
    let sims = start_simulators(args, generator, size, dir).await?;
    let plan = planning.await.context("counting the data set failed")?;
    let load_secs = started.elapsed().as_secs_f64();
    eprintln!(
        "  {} customers, {} invoices, {} orders loaded in {load_secs:.1} s",
        plan.full.customers, plan.full.invoices, plan.full.orders
    );

    let mut services = start_services(args, binaries, &sims, dir).await?;
    let outcome = measure(args, size, today, &sims, &mut services, &plan).await;
    let logs = dir.display().to_string();
    services.stop().await;
    sims.netsuite.shutdown();
    sims.klaviyo.shutdown().await;
    // A million customers take tens of gigabytes; nothing reads the file afterwards.
    let database = dir.join(NETSUITE_DATABASE_FILE);
    if database.exists()
        && let Err(error) = std::fs::remove_file(&database)
    {
        eprintln!("cannot remove {}: {error}", database.display());
    }
    let (runs, invoice) = outcome.with_context(|| format!("benchmark at {size} customers failed (logs in {logs})"))?;
    Ok(SizeResult {
        size,
        load_secs,
        runs,
        invoice,
    })
}

async fn measure(
    args: &BenchArgs,
    size: u64,
    today: NaiveDate,
    sims: &Simulators,
    services: &mut Services,
    plan: &Plan,
) -> anyhow::Result<(Vec<RunResult>, Option<invoice::InvoiceResult>)> {
    let coordinator_process = services.get("coordinator")?;
    let channel = Channel::from_shared(coordinator_process.url())?.connect().await?;
    let mut coordinator = CoordinatorServiceClient::with_interceptor(channel, BearerToken::new(&services.token)?)
        .max_decoding_message_size(64 * 1024 * 1024);
    let webhook_addr = coordinator_process.webhook_addr;

    let mut runs = Vec::new();
    eprintln!("full run as of {today}");
    let full = measured_run(
        args,
        size,
        RunKind::Full,
        today,
        &plan.full,
        None,
        sims,
        services,
        &mut coordinator,
    )
    .await?;
    let stopped = full.stopped;
    runs.push(full);
    services.check_running()?;
    if stopped {
        eprintln!("the full run was stopped: the incremental and per-invoice runs are skipped");
        return Ok((runs, None));
    }

    // Exactly the chosen customers change: a new credit limit (so their profiles must
    // be rewritten) stamped with the simulator's current data time, which is after
    // the full run's watermark.
    let now = sims
        .netsuite
        .clock()
        .data_now()
        .naive_utc()
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let mut statements = String::new();
    for chunk in plan.changed_ids.chunks(1000) {
        let ids: Vec<String> = chunk.iter().map(i64::to_string).collect();
        statements.push_str(&format!(
            "UPDATE customer SET creditlimit = COALESCE(creditlimit, 0) + 1000, lastmodifieddate = '{now}' \
             WHERE id IN ({});\n",
            ids.join(",")
        ));
    }
    sims.netsuite
        .execute_sql(&statements)
        .await
        .map_err(|e| anyhow::anyhow!("changing customers in the simulator: {e}"))?;
    eprintln!(
        "{} customers changed in NetSuite; incremental run as of {today}",
        plan.changed_ids.len()
    );
    let incremental = measured_run(
        args,
        size,
        RunKind::Incremental,
        today,
        &plan.changed,
        Some(plan.changed_ids.len() as u64),
        sims,
        services,
        &mut coordinator,
    )
    .await?;
    if incremental.customers_done != plan.changed_ids.len() as u64 {
        eprintln!(
            "  note: the incremental run processed {} customers, {} were changed",
            incremental.customers_done,
            plan.changed_ids.len()
        );
    }
    runs.push(incremental);
    services.check_running()?;

    let invoice = if args.invoice_runs == 0 {
        None
    } else {
        let webhook_addr = webhook_addr.context("the coordinator did not report its webhook address")?;
        sims.netsuite.set_page_latency(Duration::ZERO);
        eprintln!(
            "{} per-invoice runs through the webhook (NetSuite latency 0)…",
            plan.invoice_customers.len()
        );
        let result = invoice::measure(
            &invoice::Target {
                webhook: webhook_addr,
                secret: services.webhook_secret.clone(),
                netsuite: &sims.netsuite,
                klaviyo: &sims.klaviyo,
                due: today,
            },
            &plan.invoice_customers,
            &mut coordinator,
        )
        .await?;
        services.check_running()?;
        Some(result)
    };
    Ok((runs, invoice))
}

/// Counters of both simulators and every process at one moment.
struct Snapshot {
    processes: BTreeMap<&'static str, ProcSample>,
    netsuite: ledgerlink_netsuite_sim::Counters,
    shapes: BTreeMap<String, (u64, u64)>,
    klaviyo: BTreeMap<String, u64>,
    klaviyo_429s: BTreeMap<String, u64>,
    events: usize,
}

fn snapshot(sims: &Simulators, services: &Services) -> anyhow::Result<Snapshot> {
    let mut processes = BTreeMap::new();
    for process in &services.processes {
        processes.insert(process.name, process.sample()?);
    }
    processes.insert("bench", ProcSample::read("/proc/self")?);
    Ok(Snapshot {
        processes,
        netsuite: sims.netsuite.counters(),
        shapes: sims.netsuite.suiteql_by_shape(),
        klaviyo: sims.klaviyo.request_counts(),
        klaviyo_429s: sims.klaviyo.request_counts_with_status(429),
        events: sims.klaviyo.event_count(),
    })
}

fn delta(after: &BTreeMap<String, u64>, before: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(op, n)| (op.clone(), n - before.get(op).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

#[allow(clippy::too_many_arguments)]
async fn measured_run(
    args: &BenchArgs,
    size: u64,
    kind: RunKind,
    as_of: NaiveDate,
    data: &DataCounts,
    changed: Option<u64>,
    sims: &Simulators,
    services: &Services,
    coordinator: &mut Coordinator,
) -> anyhow::Result<RunResult> {
    for process in &services.processes {
        process.reset_peak();
    }
    procs::reset_peak("/proc/self");
    let before = snapshot(sims, services)?;

    // How many requests NetSuite has in flight, sampled, shows how much of the
    // concurrency limit the extraction uses.
    let sampling = Arc::new(AtomicBool::new(true));
    let samples = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
    let sampler = {
        let (sampling, samples, netsuite) = (sampling.clone(), samples.clone(), sims.netsuite.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            while sampling.load(Ordering::SeqCst) {
                tick.tick().await;
                samples.0.fetch_add(netsuite.in_flight() as u64, Ordering::SeqCst);
                samples.1.fetch_add(1, Ordering::SeqCst);
            }
        })
    };

    let started = Instant::now();
    let started_ms = Utc::now().timestamp_millis();
    let limit = args.max_run_minutes.map(|m| Duration::from_secs_f64(m * 60.0));
    let run = run_and_follow(coordinator, kind, as_of, started, limit).await;
    let wall_secs = started.elapsed().as_secs_f64();
    sampling.store(false, Ordering::SeqCst);
    let _ = sampler.await;
    let (run, stopped) = run?;
    let after = snapshot(sims, services)?;

    let kind_name = if kind == RunKind::Full { "full" } else { "incremental" };
    let report = run.report.clone().unwrap_or_default();
    let profiles_written = report.profiles_created + report.profiles_updated;
    let events_sent = (after.events - before.events) as u64;
    let min_pages = bounds::minimum_pages(data, changed);
    let page_latency_secs = args.page_latency_ms as f64 / 1000.0;
    let netsuite_bound_secs =
        bounds::netsuite_bound_secs(min_pages.values().sum(), args.concurrency, page_latency_secs);
    let klaviyo_min = bounds::minimum_klaviyo_requests(profiles_written, events_sent);
    let klaviyo_bound_secs = bounds::klaviyo_bound_secs(&klaviyo_min, started_ms);
    let mut cpu_secs = BTreeMap::new();
    let mut peak_bytes = BTreeMap::new();
    for (name, sample) in &after.processes {
        let start = before.processes.get(name).copied().unwrap_or_default();
        cpu_secs.insert(*name, sample.cpu_secs - start.cpu_secs);
        peak_bytes.insert(*name, sample.peak_rss_bytes);
    }
    let sampled = samples.1.load(Ordering::SeqCst);
    let mut pages_by_query: BTreeMap<&'static str, (u64, u64)> = BTreeMap::new();
    for (shape, (pages, rows)) in &after.shapes {
        let (pages_before, rows_before) = before.shapes.get(shape).copied().unwrap_or_default();
        if pages > &pages_before {
            let entry = pages_by_query.entry(bounds::query_label(shape)).or_default();
            entry.0 += pages - pages_before;
            entry.1 += rows - rows_before;
        }
    }
    let result = RunResult {
        kind: kind_name,
        size,
        data: *data,
        customers_done: run.progress.as_ref().map_or(0, |p| p.records_done),
        wall_secs,
        concurrency: args.concurrency,
        min_pages,
        netsuite_bound_secs,
        pages_made: after.netsuite.suiteql_pages - before.netsuite.suiteql_pages,
        rows_read: after.netsuite.suiteql_rows - before.netsuite.suiteql_rows,
        netsuite_requests: after.netsuite.requests - before.netsuite.requests,
        netsuite_429s: after.netsuite.concurrency_rejections - before.netsuite.concurrency_rejections,
        mean_in_flight: if sampled == 0 {
            0.0
        } else {
            samples.0.load(Ordering::SeqCst) as f64 / sampled as f64
        },
        max_in_flight: after.netsuite.max_in_flight,
        pages_by_query,
        klaviyo_made: delta(&after.klaviyo, &before.klaviyo),
        klaviyo_429s: delta(&after.klaviyo_429s, &before.klaviyo_429s),
        klaviyo_min,
        klaviyo_bound_secs,
        profiles_written,
        events_sent,
        cpu_secs,
        peak_bytes,
        rejects: run.progress.as_ref().map_or(0, |p| p.rejects),
        stopped,
    };
    eprintln!(
        "  {kind_name}: {} customers in {:.1} s; bound {:.1} s (NetSuite {:.1} s, Klaviyo {:.1} s); {} pages (min {}), {} Klaviyo requests",
        result.customers_done,
        result.wall_secs,
        result.bound_secs(),
        result.netsuite_bound_secs,
        result.klaviyo_bound_secs,
        result.pages_made,
        result.min_pages.values().sum::<u64>(),
        result.klaviyo_made.values().sum::<u64>()
    );
    Ok(result)
}

/// Starts a run and follows it to its end; past `limit` it is cancelled (and `true`
/// returned with the run as it stopped).
async fn run_and_follow(
    client: &mut Coordinator,
    kind: RunKind,
    as_of: NaiveDate,
    started: Instant,
    limit: Option<Duration>,
) -> anyhow::Result<(Run, bool)> {
    let run = client
        .start_run(StartRunRequest {
            kind: kind as i32,
            as_of: Some(date_to_pb(as_of)),
            ..Default::default()
        })
        .await
        .context("the coordinator refused the run")?
        .into_inner()
        .run
        .context("the coordinator answered without a run")?;
    let mut updates = client
        .watch_run(WatchRunRequest {
            run_id: run.run_id.clone(),
        })
        .await?
        .into_inner();
    let run_id = run.run_id.clone();
    let mut last = run;
    let mut next_report = Duration::from_secs(15);
    let mut cancelled = false;
    loop {
        let remaining = match limit {
            Some(limit) if !cancelled => limit.saturating_sub(started.elapsed()),
            _ => Duration::MAX,
        };
        let update = tokio::select! {
            update = updates.message() => update?,
            () = tokio::time::sleep(remaining) => {
                eprintln!("  … {:.0} s: the run is past --max-run-minutes; cancelling it", started.elapsed().as_secs_f64());
                client
                    .cancel_run(ledgerlink_proto::coordinator::v1::CancelRunRequest { run_id: run_id.clone() })
                    .await
                    .context("cancelling the run")?;
                cancelled = true;
                continue;
            }
        };
        let Some(update) = update else {
            break;
        };
        if let Some(run) = update.run {
            if started.elapsed() >= next_report {
                if let Some(progress) = &run.progress {
                    eprintln!(
                        "  … {:.0} s: {} customers, {} batches",
                        started.elapsed().as_secs_f64(),
                        progress.records_done,
                        progress.batches_done
                    );
                }
                next_report = started.elapsed() + Duration::from_secs(15);
            }
            last = run;
        }
    }
    if cancelled && last.state == RunState::Cancelled as i32 {
        return Ok((last, true));
    }
    if last.state != RunState::Succeeded as i32 {
        bail!("run {} did not succeed: {}", last.run_id, last.error);
    }
    Ok((last, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_customers_are_spread_evenly_and_end_at_the_last() {
        assert_eq!(
            spread_ids(1_000, 10),
            vec![100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]
        );
        assert_eq!(spread_ids(250, 2), vec![125, 250]);
        assert_eq!(spread_ids(3, 3), vec![1, 2, 3]);
    }

    #[test]
    fn the_plan_counts_every_customer_and_picks_distinct_invoice_customers() {
        let generator = Generator::new(GeneratorConfig::new(7, 300, "2026-11-20".parse().unwrap())).unwrap();
        let plan = plan_data(&generator, 300, 0.01, 5);
        assert_eq!(plan.full.customers, 300);
        assert_eq!(plan.changed_ids, vec![100, 200, 300]);
        assert_eq!(plan.changed.customers, 3);
        assert!(plan.full.invoices > plan.changed.invoices);
        assert_eq!(plan.invoice_customers.len(), 5);
        let ids: std::collections::HashSet<i64> = plan.invoice_customers.iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), 5);
        assert!(ids.iter().all(|id| !plan.changed_ids.contains(id)));
    }
}
