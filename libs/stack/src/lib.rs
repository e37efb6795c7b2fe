//! The whole product in one process: the five services over real gRPC on loopback,
//! and, where no real NetSuite or Klaviyo is configured, their simulators. `ledgerlink
//! up`, `ledgerlink demo` and the end-to-end tests stand on it.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;
use ledgerlink_runtime::config::{ENV_AUTH_TOKEN, ENV_DATA_DIR, secret};
use ledgerlink_runtime::{EnvSource, RuntimeConfig, ServiceArgs, SharedEnv};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tonic_health::pb::health_check_response::ServingStatus;

/// The environment the in-process services read: the process environment with the
/// session's own values laid over it (`LEDGERLINK_LISTEN` names one address, so five
/// services ignore it).
#[derive(Clone)]
struct StackEnv {
    overrides: HashMap<String, String>,
    base: SharedEnv,
}

impl EnvSource for StackEnv {
    fn get(&self, key: &str) -> Option<String> {
        if key == ledgerlink_runtime::config::ENV_LISTEN {
            return None;
        }
        self.overrides.get(key).cloned().or_else(|| self.base.get(key))
    }
}

/// Why the stack could not start, keep running or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// The configuration could not be loaded.
    #[error(transparent)]
    Config(#[from] ledgerlink_runtime::ConfigError),
    /// An address could not be bound.
    #[error("cannot bind {what} to {addr}: {source}")]
    Bind {
        /// What wanted the address.
        what: String,
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// `base_port` plus the services' offsets leaves the port range.
    #[error("port {0} and the four after it do not fit below 65536")]
    PortOutOfRange(u16),
    /// A socket or the system's random source failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A simulator could not start.
    #[error("the {which} simulator cannot start: {reason}")]
    Simulator {
        /// `netsuite` or `klaviyo`.
        which: &'static str,
        /// Why.
        reason: String,
    },
    /// A service did not answer SERVING in time.
    #[error("{service} did not become healthy at {addr}")]
    NotHealthy {
        /// The service.
        service: &'static str,
        /// Where it was expected.
        addr: SocketAddr,
    },
    /// A service failed.
    #[error("{service} failed: {reason}")]
    Service {
        /// The service.
        service: &'static str,
        /// Its error.
        reason: String,
    },
    /// A service returned without being asked to stop.
    #[error("a service stopped on its own")]
    StoppedOnItsOwn,
    /// A service's task panicked.
    #[error("a service's task panicked: {0}")]
    Panicked(String),
    /// `restart` was given a name that is not one of the five.
    #[error("no service {0}")]
    UnknownService(String),
}

/// The Klaviyo simulator's handle.
pub type KlaviyoSim = ledgerlink_klaviyo_sim::SimHandle;
/// The NetSuite simulator's handle.
pub type NetSuiteSim = ledgerlink_netsuite_sim::SimHandle;

/// The variables holding secrets, in every service's environment.
pub const SECRET_VARIABLES: [&str; 8] = [
    ENV_AUTH_TOKEN,
    "LEDGERLINK_WEBHOOK_SECRET",
    "NETSUITE_CONSUMER_KEY",
    "NETSUITE_CONSUMER_SECRET",
    "NETSUITE_TOKEN_ID",
    "NETSUITE_TOKEN_SECRET",
    "NETSUITE_PRIVATE_KEY",
    "KLAVIYO_API_KEY",
];

/// The five services in port order, with their gRPC names.
pub const SERVICES: [(&str, &str); 5] = [
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

/// What to start.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// The environment the services read, under the session's own values (the
    /// process environment in the CLI, a map in tests).
    pub env: SharedEnv,
    /// Address every service binds.
    pub host: IpAddr,
    /// Port of the first service, the others following; 0 for free ports.
    pub base_port: u16,
    /// The TOML configuration file, if any.
    pub config: Option<PathBuf>,
    /// Where SQLite files and reports go.
    pub data_dir: PathBuf,
    /// Customers the NetSuite simulator generates when it runs.
    pub customers: u64,
    /// Seed of the synthetic data.
    pub seed: u64,
    /// "Today" of the synthetic data.
    pub as_of: NaiveDate,
    /// Whether the coordinator runs its schedules.
    pub schedules: bool,
    /// Realistic API limits in the simulators (the demo keeps them on).
    pub realistic_limits: bool,
}

/// The running stack.
pub struct Stack {
    /// Each service's name and address.
    pub addrs: Vec<(&'static str, SocketAddr)>,
    /// The NetSuite simulator, when one was started.
    pub netsuite: Option<ledgerlink_netsuite_sim::SimHandle>,
    /// The Klaviyo simulator, when one was started.
    pub klaviyo: Option<ledgerlink_klaviyo_sim::SimHandle>,
    /// The token the services share.
    pub token: secrecy::SecretString,
    /// Where the coordinator's webhook listens, when a webhook secret is configured.
    pub webhook_addr: Option<SocketAddr>,
    /// Every secret the services were given or the stack made for the simulators, so
    /// tests can check none of them leaks.
    pub secrets: Vec<secrecy::SecretString>,
    slots: Vec<Slot>,
    tasks: JoinSet<Result<(), StackError>>,
    shutdown: CancellationToken,
}

/// One service as started, so it can be started again.
struct Slot {
    service: &'static str,
    config: RuntimeConfig,
    abort: tokio::task::AbortHandle,
}

/// `bytes` random bytes as lowercase hex, for generated credentials and tokens.
pub fn random_hex(bytes: usize) -> Result<String, StackError> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).map_err(|e| std::io::Error::other(format!("cannot draw random bytes: {e}")))?;
    Ok(buffer.iter().map(|b| format!("{b:02x}")).collect())
}

impl Stack {
    /// Starts simulators where needed, then the five services, and waits until every
    /// service answers SERVING.
    pub async fn start(options: &StackOptions) -> Result<Stack, StackError> {
        let mut overrides: HashMap<String, String> = HashMap::new();
        overrides.insert(ENV_DATA_DIR.to_owned(), options.data_dir.display().to_string());
        let base = &options.env;
        let token = match secret(base, ENV_AUTH_TOKEN)? {
            Some(token) => token,
            None => {
                let token = random_hex(24)?;
                overrides.insert(ENV_AUTH_TOKEN.to_owned(), token.clone());
                secrecy::SecretString::from(token)
            }
        };

        let netsuite = if base.get("NETSUITE_ACCOUNT_ID").is_none() {
            Some(start_netsuite_sim(options, &mut overrides).await?)
        } else {
            None
        };
        let klaviyo = if secret(base, "KLAVIYO_API_KEY")?.is_none() {
            Some(start_klaviyo_sim(options, &mut overrides).await?)
        } else {
            None
        };
        let env = StackEnv {
            overrides,
            base: base.clone(),
        };
        let secrets = SECRET_VARIABLES
            .iter()
            .map(|name| secret(&env, name))
            .filter_map(Result::transpose)
            .collect::<Result<Vec<_>, _>>()?;
        let service_args = ServiceArgs {
            config: options.config.clone(),
            ..ServiceArgs::default()
        };

        let mut listeners = Vec::new();
        for (index, (service, _)) in SERVICES.iter().enumerate() {
            let port = if options.base_port == 0 {
                0
            } else {
                options
                    .base_port
                    .checked_add(index as u16)
                    .ok_or(StackError::PortOutOfRange(options.base_port))?
            };
            let addr = SocketAddr::new(options.host, port);
            let listener = TcpListener::bind(addr).await.map_err(|source| StackError::Bind {
                what: (*service).to_owned(),
                addr,
                source,
            })?;
            listeners.push((*service, listener));
        }
        let addrs: Vec<(&'static str, SocketAddr)> = listeners
            .iter()
            .map(|(service, listener)| Ok((*service, listener.local_addr()?)))
            .collect::<Result<_, std::io::Error>>()?;
        let url_of = |name: &str| {
            addrs
                .iter()
                .find(|(service, _)| *service == name)
                .map(|(_, addr)| format!("http://{addr}"))
                .unwrap_or_default()
        };

        let webhook_listener = match secret(&env, "LEDGERLINK_WEBHOOK_SECRET")? {
            Some(_) => Some(TcpListener::bind((options.host, 0)).await?),
            None => None,
        };
        let webhook_addr = webhook_listener.as_ref().map(TcpListener::local_addr).transpose()?;
        let mut webhook_listener = webhook_listener;

        let shutdown = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let mut slots = Vec::new();
        for (service, listener) in listeners {
            let mut config = RuntimeConfig::load(service, listener.local_addr()?, &service_args, &env)?;
            config.listen = listener.local_addr()?;
            if service == ledgerlink_coordinator::SERVICE {
                for (key, target) in [
                    ("extractor_url", ledgerlink_extractor::SERVICE),
                    ("scoring_url", ledgerlink_scoring::SERVICE),
                    ("reminder_url", ledgerlink_reminder::SERVICE),
                    ("klaviyo_gateway_url", ledgerlink_klaviyo_gateway::SERVICE),
                ] {
                    config
                        .section
                        .insert(key.to_owned(), toml::Value::String(url_of(target)));
                }
                if !options.schedules {
                    config
                        .section
                        .insert("schedules_enabled".to_owned(), toml::Value::Boolean(false));
                }
            }
            let webhook = if service == ledgerlink_coordinator::SERVICE {
                webhook_listener.take()
            } else {
                None
            };
            let abort = spawn_service(
                &mut tasks,
                service,
                config.clone(),
                listener,
                webhook,
                shutdown.child_token(),
            );
            slots.push(Slot { service, config, abort });
        }
        let stack = Stack {
            addrs,
            netsuite,
            klaviyo,
            token,
            webhook_addr,
            secrets,
            slots,
            tasks,
            shutdown,
        };
        stack.wait_until_serving().await?;
        Ok(stack)
    }

    /// Returns the URL of one service.
    pub fn url(&self, name: &str) -> String {
        self.addrs
            .iter()
            .find(|(service, _)| *service == name)
            .map(|(_, addr)| format!("http://{addr}"))
            .unwrap_or_default()
    }

    /// Kills `service` at once, as SIGKILL would (no drain, no cleanup), and starts it
    /// again on the same address with the same configuration.
    pub async fn restart(&mut self, service: &str) -> Result<(), StackError> {
        let slot = self
            .slots
            .iter_mut()
            .find(|slot| slot.service == service)
            .ok_or_else(|| StackError::UnknownService(service.to_owned()))?;
        slot.abort.abort();
        let listener = rebind(slot.service, slot.config.listen).await?;
        let webhook = match (slot.service == ledgerlink_coordinator::SERVICE, self.webhook_addr) {
            (true, Some(addr)) => Some(rebind("the webhook", addr).await?),
            _ => None,
        };
        slot.abort = spawn_service(
            &mut self.tasks,
            slot.service,
            slot.config.clone(),
            listener,
            webhook,
            self.shutdown.child_token(),
        );
        self.wait_until_serving().await
    }

    async fn wait_until_serving(&self) -> Result<(), StackError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        for ((service, addr), (_, grpc_name)) in self.addrs.iter().zip(SERVICES) {
            loop {
                if probe(*addr, grpc_name).await == Some(ServingStatus::Serving) {
                    break;
                }
                if tokio::time::Instant::now() > deadline {
                    return Err(StackError::NotHealthy { service, addr: *addr });
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    /// Returns each service's health as a probe sees it now.
    pub async fn health(&self) -> Vec<(&'static str, SocketAddr, Option<ServingStatus>)> {
        let mut health = Vec::new();
        for ((service, addr), (_, grpc_name)) in self.addrs.iter().zip(SERVICES) {
            health.push((*service, *addr, probe(*addr, grpc_name).await));
        }
        health
    }

    /// Waits until `stop` is cancelled, or fails when a service stops on its own.
    pub async fn wait(&mut self, stop: CancellationToken) -> Result<(), StackError> {
        tokio::select! {
            () = stop.cancelled() => Ok(()),
            Some(result) = self.tasks.join_next() => {
                result.map_err(|join| StackError::Panicked(join.to_string()))??;
                Err(StackError::StoppedOnItsOwn)
            }
        }
    }

    /// Stops every service (draining in-flight calls) and the simulators.
    pub async fn stop(mut self) -> Result<(), StackError> {
        self.shutdown.cancel();
        while let Some(result) = self.tasks.join_next().await {
            match result {
                Ok(outcome) => outcome?,
                // A service killed by `restart`.
                Err(join) if join.is_cancelled() => {}
                Err(join) => return Err(StackError::Panicked(join.to_string())),
            }
        }
        if let Some(netsuite) = self.netsuite.take() {
            netsuite.shutdown();
        }
        if let Some(klaviyo) = self.klaviyo.take() {
            klaviyo.shutdown().await;
        }
        Ok(())
    }
}

async fn start_netsuite_sim(
    options: &StackOptions,
    overrides: &mut HashMap<String, String>,
) -> Result<ledgerlink_netsuite_sim::SimHandle, StackError> {
    let account = "DEMO1234_SB1".to_owned();
    let credentials = ledgerlink_netsuite_sim::TbaCredentials {
        consumer_key: random_hex(16)?,
        consumer_secret: random_hex(16)?,
        token_id: random_hex(16)?,
        token_secret: random_hex(16)?,
    };
    let mut config = ledgerlink_netsuite_sim::SimConfig::new(account.clone());
    config.tba.push(credentials.clone());
    if options.realistic_limits {
        config.concurrency_limit = 5;
    }
    let generator = ledgerlink_synthdata::Generator::new(ledgerlink_synthdata::GeneratorConfig::new(
        options.seed,
        options.customers,
        options.as_of,
    ))
    .map_err(|e| StackError::Simulator {
        which: "netsuite",
        reason: format!("synthetic data: {e}"),
    })?;
    let listener = TcpListener::bind((options.host, 0)).await?;
    let handle = ledgerlink_netsuite_sim::NetSuiteSim::start(config, Some(generator), listener)
        .await
        .map_err(|e| StackError::Simulator {
            which: "netsuite",
            reason: e.to_string(),
        })?;
    for (key, value) in [
        ("NETSUITE_ACCOUNT_ID", account),
        ("NETSUITE_BASE_URL", handle.base_url()),
        ("NETSUITE_CONSUMER_KEY", credentials.consumer_key),
        ("NETSUITE_CONSUMER_SECRET", credentials.consumer_secret),
        ("NETSUITE_TOKEN_ID", credentials.token_id),
        ("NETSUITE_TOKEN_SECRET", credentials.token_secret),
    ] {
        overrides.insert(key.to_owned(), value);
    }
    Ok(handle)
}

async fn start_klaviyo_sim(
    options: &StackOptions,
    overrides: &mut HashMap<String, String>,
) -> Result<ledgerlink_klaviyo_sim::SimHandle, StackError> {
    let key = format!("pk_{}", random_hex(16)?);
    let mut config = ledgerlink_klaviyo_sim::SimConfig::new(key.clone());
    config.seed = options.seed;
    if !options.realistic_limits {
        config.rate_limits = ledgerlink_klaviyo_sim::RateLimitMode::Off;
    }
    let listener = TcpListener::bind((options.host, 0)).await?;
    let handle = ledgerlink_klaviyo_sim::start(config, listener).map_err(|e| StackError::Simulator {
        which: "klaviyo",
        reason: e.to_string(),
    })?;
    overrides.insert("KLAVIYO_API_KEY".to_owned(), key);
    overrides.insert("KLAVIYO_BASE_URL".to_owned(), handle.base_url());
    Ok(handle)
}

fn spawn_service(
    tasks: &mut JoinSet<Result<(), StackError>>,
    service: &'static str,
    config: RuntimeConfig,
    listener: TcpListener,
    webhook: Option<TcpListener>,
    shutdown: CancellationToken,
) -> tokio::task::AbortHandle {
    macro_rules! spawn {
        ($krate:ident) => {
            tasks.spawn(async move {
                $krate::run(config, listener, shutdown)
                    .await
                    .map_err(|e| StackError::Service {
                        service,
                        reason: e.to_string(),
                    })
            })
        };
    }
    match service {
        ledgerlink_extractor::SERVICE => spawn!(ledgerlink_extractor),
        ledgerlink_scoring::SERVICE => spawn!(ledgerlink_scoring),
        ledgerlink_reminder::SERVICE => spawn!(ledgerlink_reminder),
        ledgerlink_klaviyo_gateway::SERVICE => spawn!(ledgerlink_klaviyo_gateway),
        _ => tasks.spawn(async move {
            ledgerlink_coordinator::run_with_webhook_listener(config, listener, webhook, shutdown)
                .await
                .map_err(|e| StackError::Service {
                    service,
                    reason: e.to_string(),
                })
        }),
    }
}

/// Binds `addr` again after the service that held it was killed; the old socket closes
/// as its task is dropped, which takes a moment.
async fn rebind(what: &str, addr: SocketAddr) -> Result<TcpListener, StackError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match TcpListener::bind(addr).await {
            Ok(listener) => return Ok(listener),
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(source) => {
                return Err(StackError::Bind {
                    what: format!("{what} again"),
                    addr,
                    source,
                });
            }
        }
    }
}

/// What `grpc.health.v1` at `addr` says of `grpc_name`; `None` when it cannot be asked.
pub async fn probe(addr: SocketAddr, grpc_name: &str) -> Option<ServingStatus> {
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
