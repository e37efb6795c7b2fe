//! `ledgerlink-klaviyo-sim`: the Klaviyo simulator as a standalone server for a user's
//! own integration tests.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use ledgerlink_klaviyo_sim::{BulkValidation, Fault, RandomFaults, RateLimitMode, SimConfig, start_with_shutdown};
use ledgerlink_runtime::config::{ProcessEnv, secret};
use secrecy::ExposeSecret;

#[derive(Debug, Parser)]
#[command(
    name = "ledgerlink-klaviyo-sim",
    version,
    about = "Klaviyo API simulator for integration tests"
)]
struct Cli {
    /// Address to listen on, HOST:PORT (port 0 picks a free one).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8089")]
    listen: SocketAddr,
    /// The private key clients must send; else KLAVIYO_API_KEY or KLAVIYO_API_KEY_FILE.
    #[arg(long, value_name = "KEY", hide_default_value = true)]
    api_key: Option<String>,
    /// Seed for ids and random faults.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Rate limits: Klaviyo's published values, none, or scaled by --rate-limit-scale.
    #[arg(long, value_enum, default_value_t = Limits::On)]
    rate_limits: Limits,
    /// Factor applied to every limit with --rate-limits scaled.
    #[arg(long, default_value_t = 1.0)]
    rate_limit_scale: f64,
    /// Probability (0 to 1) that a request suffers a random fault.
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
    /// Faults to pick from (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    fault_kinds: Vec<FaultKind>,
    /// Delay added to every request, milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// When bulk import profiles are checked: strict (400 for the whole request) or
    /// deferred (reported as import errors).
    #[arg(long, value_enum, default_value_t = Validation::Strict)]
    bulk_validation: Validation,
    /// How long a bulk import job stays queued, milliseconds.
    #[arg(long, default_value_t = 0)]
    job_delay_ms: u64,
    /// Write the final state as JSON to this file on exit.
    #[arg(long, value_name = "FILE")]
    dump_on_exit: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Limits {
    On,
    Off,
    Scaled,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Validation {
    Strict,
    Deferred,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FaultKind {
    ServerError,
    HtmlServerError,
    CloudflareChallenge,
    Throttle,
    Latency,
    DropConnection,
    ResponseLost,
}

impl FaultKind {
    fn fault(self) -> Fault {
        match self {
            FaultKind::ServerError => Fault::ServerError { status: 503 },
            FaultKind::HtmlServerError => Fault::HtmlServerError { status: 502 },
            FaultKind::CloudflareChallenge => Fault::CloudflareChallenge,
            FaultKind::Throttle => Fault::Throttle { retry_after_secs: 1 },
            FaultKind::Latency => Fault::Latency(Duration::from_millis(500)),
            FaultKind::DropConnection => Fault::DropConnection,
            FaultKind::ResponseLost => Fault::ResponseLost,
        }
    }
}

fn config(cli: &Cli) -> anyhow::Result<SimConfig> {
    let key = match &cli.api_key {
        Some(key) => key.clone(),
        None => match secret(&ProcessEnv, "KLAVIYO_API_KEY")? {
            Some(key) => key.expose_secret().to_owned(),
            None => bail!("no api key: pass --api-key or set KLAVIYO_API_KEY"),
        },
    };
    if !(0.0..=1.0).contains(&cli.fault_rate) {
        bail!("--fault-rate must be between 0 and 1, got {}", cli.fault_rate);
    }
    if !(cli.rate_limit_scale.is_finite() && cli.rate_limit_scale > 0.0) {
        bail!(
            "--rate-limit-scale must be a positive number, got {}",
            cli.rate_limit_scale
        );
    }
    let mut config = SimConfig::new(key);
    config.seed = cli.seed;
    config.rate_limits = match cli.rate_limits {
        Limits::On => RateLimitMode::On,
        Limits::Off => RateLimitMode::Off,
        Limits::Scaled => RateLimitMode::Scaled(cli.rate_limit_scale),
    };
    config.latency = Duration::from_millis(cli.latency_ms);
    config.job_delay = Duration::from_millis(cli.job_delay_ms);
    config.bulk_validation = match cli.bulk_validation {
        Validation::Strict => BulkValidation::Strict,
        Validation::Deferred => BulkValidation::Deferred,
    };
    config.random_faults = RandomFaults {
        rate: cli.fault_rate,
        kinds: if cli.fault_kinds.is_empty() {
            RandomFaults::all_kinds()
        } else {
            cli.fault_kinds.iter().map(|k| k.fault()).collect()
        },
        operations: Vec::new(),
    };
    Ok(config)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = config(&cli)?;
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cli.listen))?;
    let shutdown = ledgerlink_runtime::shutdown::shutdown_on_signal();
    let sim = start_with_shutdown(config, listener, shutdown.clone())?;
    eprintln!("ledgerlink-klaviyo-sim listening on {}", sim.base_url());
    shutdown.cancelled().await;
    let state = sim.dump();
    sim.shutdown().await;
    if let Some(path) = &cli.dump_on_exit {
        let text = serde_json::to_vec_pretty(&state)?;
        std::fs::write(path, text).with_context(|| format!("cannot write state to {}", path.display()))?;
        eprintln!("ledgerlink-klaviyo-sim wrote state to {}", path.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ledgerlink-klaviyo-sim: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ledgerlink-klaviyo-sim: {error:#}");
            ExitCode::FAILURE
        }
    }
}
