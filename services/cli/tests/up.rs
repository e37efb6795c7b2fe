//! `ledgerlink up --check` on a fresh data directory.

use std::process::Command;

#[test]
fn up_check_reports_five_serving_services() {
    let data_dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ledgerlink"))
        .args(["up", "--check", "--base-port", "0"])
        .env_clear()
        .env("LEDGERLINK_DATA_DIR", data_dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    for service in ["extractor", "scoring", "reminder", "klaviyo-gateway", "coordinator"] {
        let line = stdout
            .lines()
            .find(|line| line.starts_with(service))
            .unwrap_or_else(|| panic!("{service} missing from:\n{stdout}"));
        assert!(line.ends_with("SERVING"), "{line}");
    }
    for store in ["scoring", "reminder", "klaviyo-gateway", "coordinator"] {
        assert!(
            data_dir.path().join(format!("{store}.db")).exists(),
            "{store}.db not created"
        );
    }
}
