//! `ledgerlink-netsuite-sim`: the NetSuite simulator on its own, for integration tests.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use chrono::NaiveDate;
use clap::Parser;
use ledgerlink_netsuite_sim::{FaultConfig, NetSuiteSim, SimConfig, TbaCredentials};
use ledgerlink_synthdata::{Generator, GeneratorConfig};

/// Serves a simulated NetSuite account (SuiteQL over synthetic data) until interrupted.
#[derive(Debug, Parser)]
#[command(name = "ledgerlink-netsuite-sim", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090", value_name = "HOST:PORT")]
    listen: String,
    /// Seed of the synthetic data set.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of synthetic customers.
    #[arg(long, default_value_t = 100)]
    customers: u64,
    /// "Today" of the data set (default: the current UTC date).
    #[arg(long, value_name = "YYYY-MM-DD")]
    as_of: Option<NaiveDate>,
    /// Account id (realm), e.g. 123456 or 123456_SB1.
    #[arg(long, env = "NETSUITE_ACCOUNT_ID", default_value = "123456")]
    account_id: String,
    /// TBA consumer key (generated when absent).
    #[arg(long, env = "NETSUITE_CONSUMER_KEY", hide_env_values = true)]
    consumer_key: Option<String>,
    /// TBA consumer secret (generated when absent).
    #[arg(long, env = "NETSUITE_CONSUMER_SECRET", hide_env_values = true)]
    consumer_secret: Option<String>,
    /// TBA token id (generated when absent).
    #[arg(long, env = "NETSUITE_TOKEN_ID", hide_env_values = true)]
    token_id: Option<String>,
    /// TBA token secret (generated when absent).
    #[arg(long, env = "NETSUITE_TOKEN_SECRET", hide_env_values = true)]
    token_secret: Option<String>,
    /// Write the TBA credentials (as NETSUITE_* lines) to this file, mode 0600.
    #[arg(long, value_name = "FILE")]
    credentials_out: Option<PathBuf>,
    /// Share of API requests that get a random fault (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
    /// Seed of the fault draw.
    #[arg(long, default_value_t = 0)]
    fault_seed: u64,
    /// Time each SuiteQL page takes in milliseconds, the query itself included.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Concurrent API requests allowed.
    #[arg(long, default_value_t = 5)]
    concurrency_limit: usize,
    /// The integration user's date format.
    #[arg(long, default_value = "M/D/YYYY")]
    date_format: String,
    /// The account's time zone (IANA name).
    #[arg(long, default_value = "UTC")]
    time_zone: chrono_tz::Tz,
    /// Keep the database in this SQLite file instead of memory (large data sets).
    #[arg(long, value_name = "FILE")]
    database: Option<PathBuf>,
}

fn random_hex() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| anyhow::anyhow!("the system random generator failed"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn write_credentials(path: &PathBuf, account: &str, credentials: &TbaCredentials) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write credentials to {}", path.display()))?;
    writeln!(file, "NETSUITE_ACCOUNT_ID={account}")?;
    writeln!(file, "NETSUITE_CONSUMER_KEY={}", credentials.consumer_key)?;
    writeln!(file, "NETSUITE_CONSUMER_SECRET={}", credentials.consumer_secret)?;
    writeln!(file, "NETSUITE_TOKEN_ID={}", credentials.token_id)?;
    writeln!(file, "NETSUITE_TOKEN_SECRET={}", credentials.token_secret)?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_writer(std::io::stderr).init();
    let args = Args::parse();
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.fault_rate),
        "--fault-rate must be between 0 and 1"
    );
    let generated = args.consumer_key.is_none()
        || args.consumer_secret.is_none()
        || args.token_id.is_none()
        || args.token_secret.is_none();
    anyhow::ensure!(
        !generated || args.credentials_out.is_some() || args.consumer_key.is_none(),
        "give all four TBA values, or none and --credentials-out FILE"
    );
    let credentials = TbaCredentials {
        consumer_key: args.consumer_key.clone().map_or_else(random_hex, Ok)?,
        consumer_secret: args.consumer_secret.clone().map_or_else(random_hex, Ok)?,
        token_id: args.token_id.clone().map_or_else(random_hex, Ok)?,
        token_secret: args.token_secret.clone().map_or_else(random_hex, Ok)?,
    };
    if let Some(path) = &args.credentials_out {
        write_credentials(path, &args.account_id, &credentials)?;
    } else if generated {
        tracing::warn!("no tba credentials given and no --credentials-out; signed requests cannot succeed");
    }

    let as_of = args.as_of.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let generator =
        Generator::new(GeneratorConfig::new(args.seed, args.customers, as_of)).context("invalid data set settings")?;
    let mut config = SimConfig::new(args.account_id.clone());
    config.tba = vec![credentials];
    config.concurrency_limit = args.concurrency_limit;
    config.page_latency = Duration::from_millis(args.latency_ms);
    config.user_date_format = args.date_format.clone();
    config.time_zone = args.time_zone;
    config.database_path = args.database.clone();
    config.faults = FaultConfig {
        rate: args.fault_rate,
        seed: args.fault_seed,
        ..FaultConfig::default()
    };

    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let started = std::time::Instant::now();
    let handle = NetSuiteSim::start(config, Some(generator.clone()), listener)
        .await
        .context("simulator failed to start")?;
    // The server clock stays the system clock: clients sign with their own clock and
    // NetSuite refuses timestamps more than five minutes away from its own.
    tracing::info!(
        customers = args.customers,
        load_ms = started.elapsed().as_millis() as u64,
        "netsuite simulator loaded"
    );
    eprintln!("listening on {}", handle.address());

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    handle.shutdown();
    Ok(())
}
