//! Shared helpers for ledgerlink's integration tests.
//!
//! [`ServiceProcess`] starts a real service binary on an ephemeral port and learns the
//! address from the service's own "listening" log line, so no test guesses a port or
//! sleeps waiting for one.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tonic::transport::Channel;

/// The token test processes are started with.
pub const TEST_TOKEN: &str = "test-token-not-a-secret";

/// How long a service gets to start before a test gives up.
pub const STARTUP_DEADLINE: Duration = Duration::from_secs(30);

/// How a test process receives the auth token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// In `LEDGERLINK_AUTH_TOKEN`.
    Env,
    /// In a file named by `LEDGERLINK_AUTH_TOKEN_FILE`.
    File,
}

/// A service binary running for one test, killed if the test drops it.
#[derive(Debug)]
pub struct ServiceProcess {
    child: Child,
    /// The address it serves on.
    pub addr: std::net::SocketAddr,
    /// Every line it wrote on stderr, the "listening" line and those before it included.
    pub log_lines: mpsc::UnboundedReceiver<String>,
    startup_lines: Vec<String>,
    _data_dir: tempfile::TempDir,
}

impl ServiceProcess {
    /// Starts `binary` with `--listen 127.0.0.1:0`, a fresh data directory, the test
    /// token in the environment and `extra_env`, and waits for its "listening" line.
    pub async fn start(binary: &Path, extra_env: &[(&str, &str)]) -> anyhow::Result<ServiceProcess> {
        Self::start_with(binary, TokenSource::Env, "info", extra_env).await
    }

    /// Like [`ServiceProcess::start`], with the token from `token_source` and the
    /// log filter `log_filter`.
    pub async fn start_with(
        binary: &Path,
        token_source: TokenSource,
        log_filter: &str,
        extra_env: &[(&str, &str)],
    ) -> anyhow::Result<ServiceProcess> {
        let data_dir = tempfile::tempdir()?;
        let mut command = Command::new(binary);
        command.env_clear();
        match token_source {
            TokenSource::Env => {
                command.env("LEDGERLINK_AUTH_TOKEN", TEST_TOKEN);
            }
            TokenSource::File => {
                let path = data_dir.path().join("token");
                std::fs::write(&path, format!("{TEST_TOKEN}\n"))?;
                command.env("LEDGERLINK_AUTH_TOKEN_FILE", path);
            }
        }
        command
            .args(["--listen", "127.0.0.1:0"])
            .env("LEDGERLINK_DATA_DIR", data_dir.path())
            .env("RUST_LOG", log_filter)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (key, value) in extra_env {
            command.env(key, value);
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let stderr = child.stderr.take().context("no stderr")?;
        let (sender, mut receiver) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });

        let mut seen = Vec::new();
        let addr = tokio::time::timeout(STARTUP_DEADLINE, async {
            while let Some(line) = receiver.recv().await {
                let addr = listening_addr(&line);
                seen.push(line);
                if let Some(addr) = addr {
                    return Ok(addr);
                }
            }
            bail!("exited before listening; stderr:\n{}", seen.join("\n"))
        })
        .await
        .context("service did not report listening in time")??;
        Ok(ServiceProcess {
            child,
            addr,
            log_lines: receiver,
            startup_lines: seen,
            _data_dir: data_dir,
        })
    }

    /// Returns a channel to the service.
    pub async fn channel(&self) -> anyhow::Result<Channel> {
        Ok(Channel::from_shared(format!("http://{}", self.addr))?.connect().await?)
    }

    /// Sends SIGTERM, waits at most `deadline` for the process to exit, and returns
    /// its exit status with every line it logged.
    pub async fn terminate(mut self, deadline: Duration) -> anyhow::Result<(ExitStatus, Vec<String>)> {
        let pid = self.child.id().context("process already exited")?;
        let pid = nix::unistd::Pid::from_raw(i32::try_from(pid)?);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)?;
        let status = tokio::time::timeout(deadline, self.child.wait())
            .await
            .context("did not exit after SIGTERM in time")??;
        let mut lines = std::mem::take(&mut self.startup_lines);
        // The reader task ends at end of file, which the exit guarantees.
        while let Some(line) = self.log_lines.recv().await {
            lines.push(line);
        }
        Ok((status, lines))
    }
}

/// Reads the bound address out of a JSON log line saying "listening".
fn listening_addr(line: &str) -> Option<std::net::SocketAddr> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = value.get("fields")?;
    if fields.get("message")?.as_str()? != "listening" {
        return None;
    }
    fields.get("addr")?.as_str()?.parse().ok()
}

/// Adds `authorization: Bearer <token>` to a request.
pub fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("token is header text"),
    );
    request
}

/// Asks reflection (v1) for the list of services, authenticated with `token`.
pub async fn reflected_services(channel: Channel, token: Option<&str>) -> Result<Vec<String>, tonic::Status> {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let mut client = ServerReflectionClient::new(channel);
    let outbound = tokio_stream::iter([ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    }]);
    let request = match token {
        Some(token) => with_token(outbound, token),
        None => tonic::Request::new(outbound),
    };
    let mut inbound = client.server_reflection_info(request).await?.into_inner();
    let response = inbound
        .message()
        .await?
        .ok_or_else(|| tonic::Status::unknown("reflection closed without answering"))?;
    match response.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => Ok(list.service.into_iter().map(|s| s.name).collect()),
        other => Err(tonic::Status::unknown(format!(
            "unexpected reflection answer {other:?}"
        ))),
    }
}

/// Asks `grpc.health.v1` for the status of `service` without any token.
pub async fn health_status(channel: Channel, service: &str) -> Result<i32, tonic::Status> {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await?;
    Ok(response.into_inner().status)
}

/// Runs the checks every service binary must pass: health answers SERVING without a
/// token, reflection lists the service only with the right token, a call to the
/// service without or with a wrong token is refused, and SIGTERM ends the process with
/// status 0 within five seconds.
///
/// `call` makes one call to the service with the given request metadata token.
/// The token is given through its `_FILE` variant and logging is at its most verbose,
/// and no line the process writes may contain it.
pub async fn assert_service_conformance<F, Fut>(binary: &Path, service_name: &str, call: F) -> anyhow::Result<()>
where
    F: Fn(Channel, Option<&'static str>) -> Fut,
    Fut: std::future::Future<Output = Result<(), tonic::Status>>,
{
    let process = ServiceProcess::start_with(binary, TokenSource::File, "trace", &[]).await?;
    let channel = process.channel().await?;

    let status = health_status(channel.clone(), service_name).await?;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    let overall = health_status(channel.clone(), "").await?;
    assert_eq!(
        overall,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    let services = reflected_services(channel.clone(), Some(TEST_TOKEN)).await?;
    assert!(
        services.iter().any(|s| s == service_name),
        "reflection lists {services:?}"
    );
    let refused = reflected_services(channel.clone(), None).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);

    for token in [None, Some("wrong-token")] {
        let refused = call(channel.clone(), token).await.unwrap_err();
        assert_eq!(
            refused.code(),
            tonic::Code::Unauthenticated,
            "token {token:?}: {refused}"
        );
    }
    // With the right token the call passes authentication: whatever it answers, it is
    // not UNAUTHENTICATED.
    if let Err(status) = call(channel.clone(), Some(TEST_TOKEN)).await {
        assert_ne!(status.code(), tonic::Code::Unauthenticated, "{status}");
    }

    let (exit, lines) = process.terminate(Duration::from_secs(5)).await?;
    assert!(exit.success(), "exit status {exit}");
    assert!(lines.len() > 3, "expected trace logs, got {lines:?}");
    for line in &lines {
        assert!(!line.contains(TEST_TOKEN), "token leaked into a log line: {line}");
    }
    assert_migrate_only(binary).await
}

/// `--migrate-only` prepares the database and exits 0 without ever serving, as the
/// deployment's pre-upgrade job relies on.
async fn assert_migrate_only(binary: &Path) -> anyhow::Result<()> {
    let data_dir = tempfile::tempdir()?;
    let output = Command::new(binary)
        .env_clear()
        .env("LEDGERLINK_AUTH_TOKEN", TEST_TOKEN)
        .env("LEDGERLINK_DATA_DIR", data_dir.path())
        .arg("--migrate-only")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .context("--migrate-only did not exit within 60 s")??;
    let logs = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "--migrate-only exited {}: {logs}",
        output.status
    );
    assert!(!logs.contains("\"listening\""), "--migrate-only served: {logs}");
    assert!(
        logs.contains("migrations applied") || logs.contains("nothing to migrate"),
        "--migrate-only said nothing of migrations: {logs}"
    );
    Ok(())
}

/// Returns the PostgreSQL server tests use: `LEDGERLINK_TEST_DATABASE_URL`, or the
/// local default.
pub fn postgres_server_url() -> String {
    std::env::var(ledgerlink_store::testing::ENV_TEST_DATABASE_URL)
        .unwrap_or_else(|_| ledgerlink_store::testing::DEFAULT_TEST_DATABASE_URL.to_owned())
}

/// Applies `M`'s migrations twice to the database at `url` and checks that every one
/// of `tables` exists afterwards: migrations must be idempotent.
pub async fn assert_migrations_idempotent<M: ledgerlink_store::MigratorTrait>(
    url: &str,
    tables: &[&str],
) -> anyhow::Result<()> {
    use sea_orm_migration::SchemaManager;
    let first = ledgerlink_store::open::<M>(url).await?;
    let second = ledgerlink_store::open::<M>(url).await?;
    let manager = SchemaManager::new(&second);
    for table in tables {
        assert!(
            manager.has_table(*table).await?,
            "table {table} missing after migrations"
        );
    }
    let pending = M::get_pending_migrations(&second).await?;
    assert!(pending.is_empty(), "{} migrations still pending", pending.len());
    first.close().await?;
    second.close().await?;
    Ok(())
}

/// Checks `M`'s migrations on a fresh SQLite file and on a fresh PostgreSQL database.
pub async fn assert_migrations_on_both_backends<M: ledgerlink_store::MigratorTrait>(
    tables: &[&str],
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let sqlite = ledgerlink_store::default_sqlite_url(dir.path(), "migrations")?;
    assert_migrations_idempotent::<M>(&sqlite, tables)
        .await
        .context("sqlite")?;
    let postgres = ledgerlink_store::testing::fresh_postgres_url(&postgres_server_url())
        .await
        .context("postgresql must be reachable for the migration tests (set LEDGERLINK_TEST_DATABASE_URL)")?;
    assert_migrations_idempotent::<M>(&postgres, tables)
        .await
        .context("postgres")?;
    Ok(())
}

/// The configuration a service gets in an in-process test: the test token, `data_dir`
/// for its SQLite file, and `file` as its configuration file's text (may be empty).
pub fn in_process_config(
    service: &str,
    data_dir: &Path,
    file: &str,
) -> anyhow::Result<ledgerlink_runtime::RuntimeConfig> {
    in_process_config_with_env(service, data_dir, file, &[])
}

/// Like [`in_process_config`], with more environment variables (secrets, `NETSUITE_*`, …).
pub fn in_process_config_with_env(
    service: &str,
    data_dir: &Path,
    file: &str,
    extra_env: &[(&str, &str)],
) -> anyhow::Result<ledgerlink_runtime::RuntimeConfig> {
    let config_path = data_dir.join(format!("{service}.toml"));
    std::fs::write(&config_path, file)?;
    let mut env = ledgerlink_runtime::MapEnv::from_pairs([
        ("LEDGERLINK_AUTH_TOKEN", TEST_TOKEN),
        (
            "LEDGERLINK_DATA_DIR",
            data_dir.to_str().context("data dir is not utf-8")?,
        ),
        (
            "LEDGERLINK_CONFIG",
            config_path.to_str().context("config path is not utf-8")?,
        ),
    ]);
    for (key, value) in extra_env {
        env.0.insert((*key).to_owned(), (*value).to_owned());
    }
    let unused: std::net::SocketAddr = ([127, 0, 0, 1], 0).into();
    Ok(ledgerlink_runtime::RuntimeConfig::load(
        service,
        unused,
        &ledgerlink_runtime::ServiceArgs::default(),
        &env,
    )?)
}

/// Binds 127.0.0.1:0 and returns the listener with a channel URL for it.
pub async fn loopback_listener() -> anyhow::Result<(tokio::net::TcpListener, String)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    Ok((listener, url))
}

/// Connects to `url`; the listener is bound before the server task starts, so the
/// connection queues until it accepts and no retry is needed.
pub async fn connect(url: &str) -> anyhow::Result<Channel> {
    Ok(Channel::from_shared(url.to_owned())?.connect().await?)
}
