//! `ledgerlink up`: the five services in one process, each on its own loopback port
//! with real gRPC between them, SQLite files in the data directory, and the NetSuite
//! and Klaviyo simulators standing in for whichever is not configured.

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::bail;
use ledgerlink_runtime::config::{DEFAULT_DATA_DIR, ENV_CONFIG, ENV_DATA_DIR};
use ledgerlink_runtime::telemetry::{self, LogFormat};
use ledgerlink_runtime::{EnvSource, ProcessEnv};
use tonic_health::pb::health_check_response::ServingStatus;

use ledgerlink_stack::{Stack, StackOptions};

/// Flags of `ledgerlink up`.
#[derive(Debug, clap::Args)]
pub(crate) struct UpArgs {
    /// Address to bind every service on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port of the first service (extractor); the others follow in order. 0 gives
    /// each service a free port of its own.
    #[arg(long, default_value_t = 50051)]
    base_port: u16,
    /// TOML configuration file (env LEDGERLINK_CONFIG).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Customers the NetSuite simulator generates, when it stands in for NetSuite.
    #[arg(long, default_value_t = 500)]
    customers: u64,
    /// Seed of the simulator's synthetic data.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Start, check that every service answers SERVING, print the table and stop.
    #[arg(long)]
    check: bool,
}

pub(crate) async fn run(args: UpArgs) -> anyhow::Result<()> {
    let filter = ProcessEnv.get("RUST_LOG").unwrap_or_else(|| "warn".to_owned());
    let _telemetry = telemetry::init("ledgerlink", LogFormat::Text, Some(&filter), None)?;
    let data_dir = ProcessEnv
        .get(ENV_DATA_DIR)
        .map_or_else(|| PathBuf::from(DEFAULT_DATA_DIR), PathBuf::from);
    let options = StackOptions {
        env: ledgerlink_runtime::SharedEnv(std::sync::Arc::new(ProcessEnv)),
        host: args.host,
        base_port: args.base_port,
        config: args.config.or_else(|| ProcessEnv.get(ENV_CONFIG).map(PathBuf::from)),
        data_dir,
        customers: args.customers,
        seed: args.seed,
        as_of: chrono::Utc::now().date_naive(),
        schedules: true,
        realistic_limits: true,
    };
    let mut stack = Stack::start(&options).await?;
    let health = stack.health().await;
    println!("{:<18} {:<22} HEALTH", "SERVICE", "ADDRESS");
    for (service, addr, status) in &health {
        let status = status.map_or("UNREACHABLE", |s| s.as_str_name());
        println!("{service:<18} {addr:<22} {status}");
    }
    if let Some(netsuite) = &stack.netsuite {
        println!(
            "{:<18} {:<22} simulator ({} customers)",
            "netsuite",
            netsuite.address(),
            args.customers
        );
    }
    if let Some(klaviyo) = &stack.klaviyo {
        println!("{:<18} {:<22} simulator", "klaviyo", klaviyo.addr());
    }
    let all_serving = health.iter().all(|(_, _, s)| *s == Some(ServingStatus::Serving));
    if args.check || !all_serving {
        stack.stop().await?;
        if !all_serving {
            bail!("not every service is serving");
        }
        return Ok(());
    }
    eprintln!("all five services are serving; Ctrl-C stops them");
    let waited = stack.wait(ledgerlink_runtime::shutdown_on_signal()).await;
    stack.stop().await?;
    Ok(waited?)
}
