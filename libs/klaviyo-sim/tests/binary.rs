//! The `ledgerlink-klaviyo-sim` binary: listens where told, reads the key from the
//! environment without printing it, and writes its state on exit.

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

const KEY: &str = "pk_binary_secret_key";

#[tokio::test]
async fn binary_serves_and_dumps_state_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("state.json");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ledgerlink-klaviyo-sim"))
        .args(["--listen", "127.0.0.1:0", "--rate-limits", "off", "--dump-on-exit"])
        .arg(&dump)
        .env("KLAVIYO_API_KEY", KEY)
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(30), stderr.read_line(&mut line))
        .await
        .expect("address line in time")
        .unwrap();
    let base = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");

    let response = reqwest::Client::new()
        .post(format!("{base}/api/profile-import"))
        .header("Authorization", format!("Klaviyo-API-Key {KEY}"))
        .header("revision", "2026-07-15")
        .header("content-type", "application/vnd.api+json")
        .body(json!({ "data": { "type": "profile", "attributes": { "email": "a@example.com" } } }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);

    kill(Pid::from_raw(child.id().unwrap() as i32), Signal::SIGTERM).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exit in time")
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).await.unwrap();
    assert!(!line.contains(KEY) && !rest.contains(KEY), "the key was printed");

    let state: Value = serde_json::from_slice(&std::fs::read(&dump).unwrap()).unwrap();
    assert_eq!(state["profiles"][0]["email"], "a@example.com");
    assert_eq!(state["request_counts"]["create_or_update_profile"], 1);
}

#[tokio::test]
async fn binary_refuses_to_start_without_a_key() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_ledgerlink-klaviyo-sim"))
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("KLAVIYO_API_KEY")
        .env_remove("KLAVIYO_API_KEY_FILE")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no api key"));
}
