//! The operator commands against `ledgerlink up` (services and simulators in one
//! process): run, runs, rejects, preview.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const TOKEN: &str = "operator-test-token";

struct Up {
    child: Child,
    coordinator: String,
    _dir: tempfile::TempDir,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `ledgerlink up` on free ports and reads the coordinator's address from its
/// table (printed once every service answers SERVING).
fn up() -> Up {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ledgerlink"))
        .args(["up", "--base-port", "0", "--customers", "40"])
        .env_clear()
        .env("LEDGERLINK_AUTH_TOKEN", TOKEN)
        .env("LEDGERLINK_DATA_DIR", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut coordinator = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("coordinator") {
            coordinator = rest.split_whitespace().next().map(|addr| format!("http://{addr}"));
        }
        if line.starts_with("klaviyo ") {
            break;
        }
    }
    Up {
        child,
        coordinator: coordinator.expect("up printed the coordinator's address"),
        _dir: dir,
    }
}

fn ledgerlink(up: &Up, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_ledgerlink"))
        .args(args)
        .env_clear()
        .env("LEDGERLINK_AUTH_TOKEN", TOKEN)
        .env("LEDGERLINK_COORDINATOR_URL", &up.coordinator)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn run_runs_rejects_and_preview_work_against_the_coordinator() {
    let up = up();
    let (ok, stdout, stderr) = ledgerlink(&up, &["run", "--full"]);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("(full): succeeded"), "{stdout}");
    assert!(stdout.contains("profiles:"), "{stdout}");
    let run_id = stdout.split_whitespace().nth(1).expect("run id after 'run'").to_owned();

    let (ok, stdout, _) = ledgerlink(&up, &["runs"]);
    assert!(ok);
    assert!(stdout.contains(&run_id), "{stdout}");

    let (ok, _, stderr) = ledgerlink(&up, &["rejects", &run_id]);
    assert!(ok, "{stderr}");

    let (ok, stdout, stderr) = ledgerlink(&up, &["run", "--full", "--dry-run"]);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("dry run"), "{stdout}");

    let (ok, stdout, stderr) = ledgerlink(&up, &["preview", "1"]);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("customer 1"), "{stdout}");
    assert!(stdout.contains("account_standing"), "{stdout}");

    let (ok, _, stderr) = ledgerlink(&up, &["rejects", "run-that-never-was"]);
    assert!(!ok);
    assert!(stderr.contains("no run run-that-never-was"), "{stderr}");
}
