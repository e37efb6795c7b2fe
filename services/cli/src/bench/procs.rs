//! The five services as child processes of the benchmark, each with its own data
//! directory, log file and `/proc` figures (CPU time, peak resident memory), which is
//! why they run as separate processes rather than in the benchmark's own.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use ledgerlink_stack::probe;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tonic_health::pb::health_check_response::ServingStatus;

/// The five services in start order (the coordinator last: it needs the others' URLs).
pub(crate) const SERVICES: [&str; 5] = ["extractor", "scoring", "reminder", "klaviyo-gateway", "coordinator"];

/// How long a service gets to say it is listening.
const STARTUP_DEADLINE: Duration = Duration::from_secs(60);

/// Returns the directory holding the service binaries: `bin_dir` when given, else the
/// directory of the running `ledgerlink` binary; fails naming the build command when a
/// binary is missing.
pub(crate) fn service_binaries(bin_dir: Option<&Path>) -> anyhow::Result<BTreeMap<&'static str, PathBuf>> {
    let dir = match bin_dir {
        Some(dir) => dir.to_owned(),
        None => std::env::current_exe()
            .context("cannot find the running ledgerlink binary")?
            .parent()
            .context("the ledgerlink binary has no directory")?
            .to_owned(),
    };
    let mut binaries = BTreeMap::new();
    let mut missing = Vec::new();
    for service in SERVICES {
        let path = dir.join(format!("ledgerlink-{service}"));
        if path.is_file() {
            binaries.insert(service, path);
        } else {
            missing.push(format!("ledgerlink-{service}"));
        }
    }
    if !missing.is_empty() {
        bail!(
            "the benchmark runs the services as separate processes, and {} not in {}; build them first: \
             cargo build --release -p ledgerlink -p ledgerlink-extractor -p ledgerlink-scoring -p ledgerlink-reminder \
             -p ledgerlink-klaviyo-gateway -p ledgerlink-coordinator (or pass --bin-dir)",
            if missing.len() == 1 {
                format!("{} is", missing[0])
            } else {
                format!("{} are", missing.join(", "))
            },
            dir.display()
        );
    }
    Ok(binaries)
}

/// One running service.
#[derive(Debug)]
pub(crate) struct ServiceProcess {
    /// Its name (`extractor`, …).
    pub(crate) name: &'static str,
    /// Its process id.
    pub(crate) pid: u32,
    /// Where it serves gRPC.
    pub(crate) addr: SocketAddr,
    /// Where the coordinator's webhook listens, when it does.
    pub(crate) webhook_addr: Option<SocketAddr>,
    /// Its log file (JSON lines from stderr).
    pub(crate) log: PathBuf,
    child: Child,
}

/// Reads a field named `key` of a JSON log line's `fields` when its message is `message`.
fn logged_addr(line: &str, message: &str) -> Option<SocketAddr> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = value.get("fields")?;
    if fields.get("message")?.as_str()? != message {
        return None;
    }
    fields.get("addr")?.as_str()?.parse().ok()
}

impl ServiceProcess {
    /// Starts `binary` on `127.0.0.1:0` with exactly `env` (nothing inherited), logs
    /// to `log`, and waits for its "listening" line and for health to say SERVING.
    pub(crate) async fn start(
        name: &'static str,
        binary: &Path,
        env: &[(String, String)],
        log: PathBuf,
    ) -> anyhow::Result<ServiceProcess> {
        let mut command = Command::new(binary);
        command
            .args(["--listen", "127.0.0.1:0"])
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let pid = child.id().context("the service exited at once")?;
        let stderr = child.stderr.take().context("no stderr")?;
        let mut file = tokio::fs::File::create(&log)
            .await
            .with_context(|| format!("cannot create {}", log.display()))?;
        let (found, mut found_receiver) = mpsc::unbounded_channel::<(&'static str, SocketAddr)>();
        let (tail, mut tail_receiver) = mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            let mut startup = true;
            while let Ok(Some(line)) = lines.next_line().await {
                if startup {
                    if let Some(addr) = logged_addr(&line, "webhook listening") {
                        let _ = found.send(("webhook", addr));
                    }
                    if let Some(addr) = logged_addr(&line, "listening") {
                        let _ = found.send(("grpc", addr));
                        startup = false;
                    }
                    let _ = tail.send(line.clone());
                }
                if file.write_all(line.as_bytes()).await.is_err() || file.write_all(b"\n").await.is_err() {
                    break;
                }
            }
            let _ = file.flush().await;
        });
        let mut webhook_addr = None;
        let addr = tokio::time::timeout(STARTUP_DEADLINE, async {
            while let Some((what, addr)) = found_receiver.recv().await {
                match what {
                    "webhook" => webhook_addr = Some(addr),
                    _ => return Some(addr),
                }
            }
            None
        })
        .await;
        let addr = match addr {
            Ok(Some(addr)) => addr,
            _ => {
                let mut seen = Vec::new();
                while let Ok(line) = tail_receiver.try_recv() {
                    seen.push(line);
                }
                bail!(
                    "ledgerlink-{name} did not report listening within {} s; it wrote:\n{}",
                    STARTUP_DEADLINE.as_secs(),
                    seen.join("\n")
                );
            }
        };
        let process = ServiceProcess {
            name,
            pid,
            addr,
            webhook_addr,
            log,
            child,
        };
        process.wait_until_serving().await?;
        Ok(process)
    }

    /// `http://ADDR`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn wait_until_serving(&self) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + STARTUP_DEADLINE;
        let grpc_name = match self.name {
            "extractor" => ledgerlink_proto::service_names::EXTRACTOR,
            "scoring" => ledgerlink_proto::service_names::SCORING,
            "reminder" => ledgerlink_proto::service_names::REMINDER,
            "klaviyo-gateway" => ledgerlink_proto::service_names::KLAVIYO_GATEWAY,
            _ => ledgerlink_proto::service_names::COORDINATOR,
        };
        loop {
            if probe(self.addr, grpc_name).await == Some(ServingStatus::Serving) {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("ledgerlink-{} at {} never answered SERVING", self.name, self.addr);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// CPU time and memory as `/proc` tells them now.
    pub(crate) fn sample(&self) -> anyhow::Result<ProcSample> {
        ProcSample::read(&format!("/proc/{}", self.pid))
    }

    /// Resets the peak resident size (VmHWM) so the next phase's peak is its own.
    pub(crate) fn reset_peak(&self) {
        reset_peak(&format!("/proc/{}", self.pid));
    }

    /// Whether the process is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Asks the service to stop (SIGTERM), waiting at most 20 s before killing it.
    pub(crate) async fn stop(mut self) {
        if let Ok(pid) = i32::try_from(self.pid) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
        }
        if tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// What `/proc` says about one process at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct ProcSample {
    /// User plus system CPU time, seconds, over every thread so far.
    pub(crate) cpu_secs: f64,
    /// Peak resident set size (VmHWM) since start or the last reset, bytes.
    pub(crate) peak_rss_bytes: u64,
}

impl ProcSample {
    /// Reads `/proc/<pid>/stat` and `/proc/<pid>/status` (`dir` is `/proc/<pid>` or
    /// `/proc/self`).
    pub(crate) fn read(dir: &str) -> anyhow::Result<ProcSample> {
        let stat = std::fs::read_to_string(format!("{dir}/stat")).with_context(|| format!("cannot read {dir}/stat"))?;
        let status =
            std::fs::read_to_string(format!("{dir}/status")).with_context(|| format!("cannot read {dir}/status"))?;
        Ok(ProcSample {
            cpu_secs: parse_cpu_ticks(&stat).context("unreadable stat")? as f64 / clock_ticks_per_second() as f64,
            peak_rss_bytes: parse_status_kib(&status, "VmHWM").unwrap_or(0) * 1024,
        })
    }
}

/// Resets VmHWM of the process under `dir` (writing 5 to `clear_refs`).
pub(crate) fn reset_peak(dir: &str) {
    if let Err(error) = std::fs::write(format!("{dir}/clear_refs"), "5") {
        tracing::warn!(%error, dir, "cannot reset the peak resident size");
    }
}

/// `utime + stime` in clock ticks from a `/proc/<pid>/stat` line. The command name
/// (field 2) may hold spaces and parentheses, so fields are counted after the last `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ")": state is field 3 of the man page, so utime (14) and stime (15) are at 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// A `Name:   1234 kB` value of `/proc/<pid>/status`, in KiB.
fn parse_status_kib(status: &str, name: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(':')?;
        value.split_whitespace().next()?.parse().ok()
    })
}

/// `USER_HZ`: what `/proc` counts CPU time in. `getconf CLK_TCK` asks the C library
/// without unsafe code; Linux on x86 and arm64 always says 100.
fn clock_ticks_per_second() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .filter(|ticks| *ticks > 0)
            .unwrap_or(100)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_read_after_the_command_name() {
        let stat = "4242 (ledgerlink-coor) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 37 0 0 20 0 9 0 100 1000 200";
        assert_eq!(parse_cpu_ticks(stat), Some(287));
    }

    #[test]
    fn status_values_are_read_in_kib() {
        let status = "Name:\tledgerlink\nVmPeak:\t  200 kB\nVmHWM:\t   51200 kB\nVmRSS:\t 40000 kB\n";
        assert_eq!(parse_status_kib(status, "VmHWM"), Some(51_200));
        assert_eq!(parse_status_kib(status, "VmSwap"), None);
    }

    #[test]
    fn the_listening_line_gives_the_address() {
        let line = r#"{"timestamp":"t","level":"INFO","fields":{"message":"listening","service":"x","addr":"127.0.0.1:4711"},"target":"ledgerlink_runtime::grpc"}"#;
        assert_eq!(logged_addr(line, "listening"), Some(([127, 0, 0, 1], 4711).into()));
        assert_eq!(logged_addr(line, "webhook listening"), None);
        assert_eq!(logged_addr("not json", "listening"), None);
    }

    #[test]
    fn this_process_can_be_sampled() {
        let sample = ProcSample::read("/proc/self").unwrap();
        assert!(sample.peak_rss_bytes > 0);
        assert!(sample.cpu_secs >= 0.0);
    }
}
