//! `ledgerlink up`: the five services in one process, each on its own loopback port
//! with real gRPC between them, SQLite files in the data directory.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, bail};
use ledgerlink_runtime::config::{ENV_AUTH_TOKEN, ENV_LISTEN, secret};
use ledgerlink_runtime::telemetry::{self, LogFormat};
use ledgerlink_runtime::{EnvSource, ProcessEnv, RuntimeConfig, ServiceArgs};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tonic_health::pb::health_check_response::ServingStatus;

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
    config: Option<std::path::PathBuf>,
    /// Start, check that every service answers SERVING, print the table and stop.
    #[arg(long)]
    check: bool,
}

/// The process environment, except that a missing auth token is replaced by one made
/// up for this session and `LEDGERLINK_LISTEN` (one address) is ignored for five services.
#[derive(Clone)]
struct UpEnv {
    overrides: HashMap<&'static str, String>,
}

impl EnvSource for UpEnv {
    fn get(&self, key: &str) -> Option<String> {
        if key == ENV_LISTEN {
            return None;
        }
        self.overrides.get(key).cloned().or_else(|| ProcessEnv.get(key))
    }
}

/// Names, gRPC names and entry points of the five services, in port order.
const SERVICES: [(&str, &str); 5] = [
    (
        ledgerlink_extractor::SERVICE,
        ledgerlink_proto::service_names::EXTRACTOR,
    ),
    (ledgerlink_scoring::SERVICE, ledgerlink_proto::service_names::SCORING),
    (ledgerlink_reminder::SERVICE, ledgerlink_proto::service_names::REMINDER),
    (
        ledgerlink_klaviyo_gateway::SERVICE,
        ledgerlink_proto::service_names::KLAVIYO_GATEWAY,
    ),
    (
        ledgerlink_coordinator::SERVICE,
        ledgerlink_proto::service_names::COORDINATOR,
    ),
];

pub(crate) async fn run(args: UpArgs) -> anyhow::Result<()> {
    let filter = ProcessEnv.get("RUST_LOG").unwrap_or_else(|| "warn".to_owned());
    let _telemetry = telemetry::init("ledgerlink", LogFormat::Text, Some(&filter), None)?;

    let mut overrides = HashMap::new();
    if secret(&ProcessEnv, ENV_AUTH_TOKEN)?.is_none() {
        overrides.insert(ENV_AUTH_TOKEN, random_token()?);
        eprintln!("no {ENV_AUTH_TOKEN} set: the services share a random token for this session");
    }
    let env = UpEnv { overrides };
    let service_args = ServiceArgs {
        listen: None,
        config: args.config.clone(),
    };

    let shutdown = CancellationToken::new();
    let mut tasks = JoinSet::new();
    let mut addrs = Vec::new();
    for (index, (service, _)) in SERVICES.iter().enumerate() {
        let port = if args.base_port == 0 {
            0
        } else {
            args.base_port.checked_add(index as u16).context("port out of range")?
        };
        let addr = SocketAddr::new(args.host, port);
        let mut config = RuntimeConfig::load(service, addr, &service_args, &env)?;
        // One process, five services: the addresses come from --host and --base-port.
        config.listen = addr;
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot bind {service} to {addr}"))?;
        addrs.push(listener.local_addr()?);
        spawn_service(&mut tasks, service, config, listener, shutdown.child_token());
    }

    let check = wait_until_serving(&addrs).await;
    print_table(&addrs, &check);
    let all_serving = check.iter().all(|s| *s == Some(ServingStatus::Serving));
    if args.check || !all_serving {
        shutdown.cancel();
        while let Some(result) = tasks.join_next().await {
            result??;
        }
        if !all_serving {
            bail!("not every service is serving");
        }
        return Ok(());
    }

    eprintln!("all five services are serving; Ctrl-C stops them");
    let signal = ledgerlink_runtime::shutdown_on_signal();
    tokio::select! {
        () = signal.cancelled() => {}
        Some(result) = tasks.join_next() => {
            shutdown.cancel();
            result??;
            bail!("a service stopped on its own");
        }
    }
    shutdown.cancel();
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    Ok(())
}

fn spawn_service(
    tasks: &mut JoinSet<anyhow::Result<()>>,
    service: &'static str,
    config: RuntimeConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) {
    macro_rules! spawn {
        ($krate:ident) => {
            tasks.spawn(async move {
                $krate::run(config, listener, shutdown)
                    .await
                    .with_context(|| format!("{service} failed"))
            })
        };
    }
    match service {
        ledgerlink_extractor::SERVICE => spawn!(ledgerlink_extractor),
        ledgerlink_scoring::SERVICE => spawn!(ledgerlink_scoring),
        ledgerlink_reminder::SERVICE => spawn!(ledgerlink_reminder),
        ledgerlink_klaviyo_gateway::SERVICE => spawn!(ledgerlink_klaviyo_gateway),
        _ => spawn!(ledgerlink_coordinator),
    };
}

/// Polls each service's health over gRPC until it answers or a deadline passes.
async fn wait_until_serving(addrs: &[SocketAddr]) -> Vec<Option<ServingStatus>> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut statuses = Vec::new();
    for (addr, (_, grpc_name)) in addrs.iter().zip(SERVICES) {
        let mut status = None;
        while tokio::time::Instant::now() < deadline {
            status = probe(*addr, grpc_name).await;
            if status == Some(ServingStatus::Serving) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        statuses.push(status);
    }
    statuses
}

async fn probe(addr: SocketAddr, grpc_name: &str) -> Option<ServingStatus> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .ok()?
        .connect()
        .await
        .ok()?;
    let response = tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: grpc_name.to_owned(),
        })
        .await
        .ok()?;
    ServingStatus::try_from(response.into_inner().status).ok()
}

fn print_table(addrs: &[SocketAddr], statuses: &[Option<ServingStatus>]) {
    println!("{:<18} {:<22} HEALTH", "SERVICE", "ADDRESS");
    for ((addr, (service, _)), status) in addrs.iter().zip(SERVICES).zip(statuses) {
        let health = status.map_or("UNREACHABLE", |s| s.as_str_name());
        println!("{service:<18} {addr:<22} {health}");
    }
}

fn random_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("cannot draw a random token: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
