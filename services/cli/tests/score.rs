//! `ledgerlink score` and `ledgerlink migrations`, run as the user runs them.

use std::path::Path;
use std::process::{Command, Output};

fn ledgerlink(args: &[&str], data_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ledgerlink"))
        .args(args)
        .env_clear()
        .env("LEDGERLINK_DATA_DIR", data_dir)
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Customer `id` with a 10,000 limit and one open invoice of `remaining` due 2026-10-01.
fn customer(id: &str, remaining: &str) -> String {
    format!(
        r#"{{"customer":{{"id":"{id}","currency":"USD","credit_limit":"10000.00"}},"invoices":[{{"id":"inv-{id}","tran_date":"2026-09-01","due_date":"2026-10-01","total":"{remaining}","amount_remaining":"{remaining}","status":"open"}}]}}"#
    )
}

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        Files {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }
}

#[test]
fn scores_every_customer_and_rejects_a_bad_invoice_on_one_stderr_line() {
    let files = Files::new();
    let bad = r#"{"customer":{"id":"B","credit_limit":"1000"},"invoices":[{"id":"bad-1","tran_date":"2026-09-01","due_date":"2026-10-01","total":"5.00","amount_remaining":"9.00","status":"open"},{"id":"good-1","tran_date":"2026-09-01","due_date":"2026-10-01","total":"100.00","amount_remaining":"100.00","status":"open"}]}"#;
    let input = files.write(
        "in.jsonl",
        &format!("{}\n{bad}\n\n{}\n", customer("A", "1000.00"), customer("C", "9500.00")),
    );
    let output = files.path("out.jsonl");
    let run = ledgerlink(
        &["score", "--input", &input, "--as-of", "2026-10-15", "--output", &output],
        files.dir.path(),
    );
    let err = stderr(&run);
    assert!(run.status.success(), "{err}");

    let scores = lines(Path::new(&output));
    let ids: Vec<_> = scores.iter().map(|s| s["customer_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["A", "B", "C"]);
    assert_eq!(
        scores[1]["open_balance"], "100.00",
        "the bad invoice is left out, the good one scored"
    );
    assert_eq!(scores[2]["account_standing"], "payment_watch");
    assert_eq!(scores[0]["as_of"], "2026-10-15");
    assert_eq!(scores[0]["customer"]["currency"], "USD");

    let rejected: Vec<_> = err.lines().filter(|line| line.contains("rejected customer=")).collect();
    assert_eq!(rejected.len(), 1, "{err}");
    for part in ["customer=B", "invoice=bad-1", "field=amount_remaining", "exceeds total"] {
        assert!(rejected[0].contains(part), "{part} missing from {:?}", rejected[0]);
    }
    assert!(err.contains("scored 3 customers"), "{err}");
    assert!(err.contains("1 rejected records"), "{err}");
    assert!(err.contains("payment_watch=1") && err.contains("standard=2"), "{err}");
}

#[test]
fn without_history_the_base_of_new_aging_is_the_day_before() {
    let files = Files::new();
    // Due 2026-10-01: 31 days past due on 2026-11-01 (newly aged since yesterday),
    // 40 on 2026-11-10 (aged long ago).
    let input = files.write("in.jsonl", &customer("A", "10.00"));
    let output = files.path("out.jsonl");
    let newly_aged = |day: &str| {
        let run = ledgerlink(
            &["score", "--input", &input, "--as-of", day, "--output", &output],
            files.dir.path(),
        );
        assert!(run.status.success(), "{}", stderr(&run));
        lines(Path::new(&output))[0]["newly_aged_invoice_ids"].clone()
    };
    assert_eq!(newly_aged("2026-11-01"), serde_json::json!(["inv-A"]));
    assert_eq!(newly_aged("2026-11-10"), serde_json::json!([]));
}

#[test]
fn history_runs_report_new_aging_and_migrations_and_migrations_lists_them() {
    let files = Files::new();
    // The default store of `ledgerlink migrations`: the scoring file in the data dir.
    let db = format!("sqlite://{}?mode=rwc", files.path("scoring.db"));
    let first = files.write(
        "first.jsonl",
        &format!("{}\n{}\n", customer("A", "1000.00"), customer("B", "10.00")),
    );
    let second = files.write(
        "second.jsonl",
        &format!("{}\n{}\n", customer("A", "9500.00"), customer("B", "10.00")),
    );
    let output = files.path("out.jsonl");
    let moves = files.path("moves.jsonl");

    let run = ledgerlink(
        &[
            "score",
            "--input",
            &first,
            "--as-of",
            "2026-10-15",
            "--history",
            &db,
            "--output",
            &output,
        ],
        files.dir.path(),
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let run = ledgerlink(
        &[
            "score",
            "--input",
            &second,
            "--as-of",
            "2026-11-05",
            "--history",
            &db,
            "--output",
            &output,
            "--migrations",
            &moves,
        ],
        files.dir.path(),
    );
    let err = stderr(&run);
    assert!(run.status.success(), "{err}");
    // 14 days past due at the previous run, 35 now: both invoices crossed 30 since then
    // (without history the base would be yesterday, 34 days, and nothing would be new).
    let scores = lines(Path::new(&output));
    assert_eq!(scores[0]["newly_aged_invoice_ids"], serde_json::json!(["inv-A"]));
    assert_eq!(scores[1]["newly_aged_invoice_ids"], serde_json::json!(["inv-B"]));
    assert!(err.contains("2 newly aged invoices"), "{err}");
    assert!(err.contains("3 migrations (2 toward risk)"), "{err}");
    let written = lines(Path::new(&moves));
    assert_eq!(written.len(), 3);
    assert_eq!(written[0]["customer_id"], "A");
    assert_eq!(written[0]["from"], "standard");
    assert_eq!(written[0]["to"], "payment_watch");

    let listed = ledgerlink(&["migrations", "--json", "--customer", "A"], files.dir.path());
    assert!(listed.status.success(), "{}", stderr(&listed));
    let listed: Vec<serde_json::Value> = String::from_utf8(listed.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let listed: Vec<_> = listed
        .iter()
        .map(|m| {
            (
                m["dimension"].as_str().unwrap(),
                m["from"].as_str().unwrap(),
                m["to"].as_str().unwrap(),
                m["from_date"].as_str().unwrap(),
                m["to_date"].as_str().unwrap(),
                m["toward_risk"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (
                "account_standing",
                "standard",
                "payment_watch",
                "2026-10-15",
                "2026-11-05",
                true
            ),
            (
                "loyalty_tier",
                "platinum",
                "standard",
                "2026-10-15",
                "2026-11-05",
                false
            ),
        ]
    );

    let table = ledgerlink(
        &["migrations", "--segment", "payment_watch", "--db", &db],
        files.dir.path(),
    );
    assert!(table.status.success(), "{}", stderr(&table));
    let table = String::from_utf8(table.stdout).unwrap();
    let rows: Vec<_> = table.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert!(
        rows[0].contains("standard -> payment_watch") && rows[0].contains("toward"),
        "{table}"
    );
    assert!(rows.iter().any(|row| row.contains(" B ")), "{table}");
}

#[test]
fn rules_come_from_toml_or_yaml_and_a_bad_file_fails_with_line_and_reason() {
    let files = Files::new();
    let input = files.write("in.jsonl", &customer("A", "1000.00"));
    let output = files.path("out.jsonl");
    let yaml = "\
account_standing:
  - segment: watch_me
    when: credit_utilization > 0.05
  - segment: fine
    when: true
behavior_segment:
  - segment: any
    when: true
loyalty_tier:
  - segment: one_tier
    when: true
";
    let rules = files.write("rules.yaml", yaml);
    let run = ledgerlink(
        &[
            "score",
            "--input",
            &input,
            "--as-of",
            "2026-10-15",
            "--rules",
            &rules,
            "--output",
            &output,
        ],
        files.dir.path(),
    );
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(lines(Path::new(&output))[0]["account_standing"], "watch_me");

    let bad = files.write(
        "bad.toml",
        "[[account_standing]]\nsegment = \"x\"\nwhen = \"credit_utilization >\"\n",
    );
    let run = ledgerlink(
        &[
            "score",
            "--input",
            &input,
            "--as-of",
            "2026-10-15",
            "--rules",
            &bad,
            "--output",
            &output,
        ],
        files.dir.path(),
    );
    let err = stderr(&run);
    assert!(!run.status.success());
    assert!(err.contains("bad.toml") && err.contains("line 3"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line with the reason: {err}");
}
