//! `ledgerlink remind` and `ledgerlink pause` against a SQLite ledger.

use std::path::Path;
use std::process::{Command, Output};

const SNAPSHOTS: &str = r#"{"customer":{"id":"42","email":"ap@example.com","currency":"USD","terms":{"id":"2","name":"Net 30","days_until_net_due":30}},"invoices":[{"id":"9001","tran_id":"INV-9001","tran_date":"2026-10-31","due_date":"2026-11-30","total":"500.00","amount_remaining":"200.00","status":"open"},{"id":"9002","tran_date":"2026-10-31","total":"5","amount_remaining":"9","status":"open"}],"orders":[]}
not a snapshot
{"customer":{"id":"43","email":"n/a"},"invoices":[{"id":"9101","tran_date":"2026-09-20","due_date":"2026-10-23","total":"80.00","amount_remaining":"80.00","status":"open"}]}
"#;

fn ledgerlink(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ledgerlink"))
        .args(args)
        .env_clear()
        .env("LEDGERLINK_DATA_DIR", dir)
        .output()
        .unwrap()
}

fn keys(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["key"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[test]
fn remind_writes_each_event_once_and_pause_holds_milestones() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("snapshots.jsonl");
    std::fs::write(&input, SNAPSHOTS).unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("ledger.db").display());
    let out = dir.path().join("events.jsonl");
    let remind = |day: &str, extra: &[&str]| {
        let mut args = vec![
            "remind",
            "--input",
            input.to_str().unwrap(),
            "--as-of",
            day,
            "--db",
            &db,
            "--output",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        ledgerlink(&args, dir.path())
    };

    let first = remind("2026-11-23", &[]);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{stderr}");
    // 9101 went 31 days past due today; its milestones are all older than the
    // three days catch-up allows.
    assert_eq!(keys(&out), ["due:9001:-7", "aging:9101:30"]);
    assert!(
        stderr.contains("customer=42 invoice=9002 field=amount_remaining"),
        "{stderr}"
    );
    assert!(stderr.contains("line 2"), "{stderr}");
    let event: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&out).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(event["properties"]["amount_remaining"], "200.00");
    assert_eq!(event["profile"]["external_id"], "netsuite:42");
    // customer 43's email is unusable: the event goes by external id alone
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
            .contains("netsuite:43")
    );

    let again = remind("2026-11-23", &[]);
    assert!(again.status.success());
    assert!(keys(&out).is_empty(), "rerun the same day sends nothing again");

    let paused = ledgerlink(
        &[
            "pause",
            "9001",
            "--until",
            "2026-12-01",
            "--reason",
            "disputed",
            "--db",
            &db,
        ],
        dir.path(),
    );
    assert!(paused.status.success(), "{}", String::from_utf8_lossy(&paused.stderr));
    let dry = remind("2026-11-30", &["--dry-run"]);
    assert!(dry.status.success());
    assert!(
        !keys(&out).iter().any(|k| k.starts_with("due:9001")),
        "paused invoice: {:?}",
        keys(&out)
    );
    let resumed_day = remind("2026-12-01", &["--dry-run"]);
    assert!(resumed_day.status.success());
    assert!(keys(&out).contains(&"due:9001:0".to_owned()), "{:?}", keys(&out));
}
