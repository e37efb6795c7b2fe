//! `ledgerlink klaviyo push | events | segments apply` against the Klaviyo simulator.

use std::process::Command;

use chrono::NaiveDate;
use ledgerlink_reminder_planner::{LedgerView, PlanInput, Planner, PlannerConfig};
use ledgerlink_scoring_engine::Engine;
use ledgerlink_synthdata::{Generator, GeneratorConfig};

const KEY: &str = "pk_cli_test_key";

fn ledgerlink(args: &[&str], base_url: &str, data_dir: &std::path::Path) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_ledgerlink"))
        .args(args)
        .env_clear()
        .env("KLAVIYO_API_KEY", KEY)
        .env("KLAVIYO_BASE_URL", base_url)
        .env("LEDGERLINK_DATA_DIR", data_dir)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_events_and_segments_reach_klaviyo_once() {
    let mut config = ledgerlink_klaviyo_sim::SimConfig::new(KEY);
    config.rate_limits = ledgerlink_klaviyo_sim::RateLimitMode::Off;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = ledgerlink_klaviyo_sim::start(config, listener).unwrap();
    let base_url = sim.base_url();
    let dir = tempfile::tempdir().unwrap();

    let as_of = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let generator = Generator::new(GeneratorConfig::new(3, 60, as_of)).unwrap();
    let engine = Engine::default();
    let planner = Planner::new(PlannerConfig::default()).unwrap();
    let mut scores = String::new();
    let mut events = String::new();
    for records in generator.customers() {
        let snapshot = records.expected_snapshot();
        let score = engine.score(&snapshot, as_of, None);
        scores.push_str(&serde_json::to_string(&score).unwrap());
        scores.push('\n');
        let plan = planner.plan(&PlanInput {
            snapshot: &snapshot,
            account_standing: &score.account_standing,
            standing_migration: None,
            run_id: "cli-test",
            as_of,
            ledger: &LedgerView::default(),
        });
        for event in plan.events {
            events.push_str(&serde_json::to_string(&event).unwrap());
            events.push('\n');
        }
    }
    let scores_file = dir.path().join("scores.jsonl");
    std::fs::write(&scores_file, scores).unwrap();
    let events_file = dir.path().join("events.jsonl");
    std::fs::write(&events_file, &events).unwrap();
    let scores_path = scores_file.to_str().unwrap().to_owned();
    let events_path = events_file.to_str().unwrap().to_owned();
    let data_dir = dir.path().to_owned();

    let run = |args: Vec<String>| {
        let base_url = base_url.clone();
        let data_dir = data_dir.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            ledgerlink(&args, &base_url, &data_dir)
        })
    };
    let args = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();

    let (ok, stdout, stderr) = run(args(&["klaviyo", "push", "--scores", &scores_path, "--dry-run"]))
        .await
        .unwrap();
    assert!(ok, "{stdout}\n{stderr}");
    assert!(sim.profiles().is_empty(), "a dry run writes nothing");

    let (ok, stdout, stderr) = run(args(&["klaviyo", "push", "--scores", &scores_path])).await.unwrap();
    assert!(ok, "{stdout}\n{stderr}");
    let synced = sim
        .profiles()
        .iter()
        .filter(|p| p.properties.contains_key("account_standing"))
        .count();
    assert!(synced > 40, "{synced} profiles synced\n{stderr}");

    let writes_before = sim.request_count("bulk_import_profiles") + sim.request_count("create_or_update_profile");
    let (ok, _, stderr) = run(args(&["klaviyo", "push", "--scores", &scores_path])).await.unwrap();
    assert!(ok, "{stderr}");
    let writes_after = sim.request_count("bulk_import_profiles") + sim.request_count("create_or_update_profile");
    assert_eq!(writes_before, writes_after, "an unchanged push writes nothing");

    let expected_events = events.lines().count();
    assert!(expected_events > 0, "the synthetic data has reminders due");
    for _ in 0..2 {
        let (ok, stdout, stderr) = run(args(&["klaviyo", "events", "--input", &events_path]))
            .await
            .unwrap();
        assert!(ok, "{stdout}\n{stderr}");
    }
    assert_eq!(sim.events().len(), expected_events, "sent twice, stored once each");

    let (ok, stdout, stderr) = run(args(&["klaviyo", "segments", "apply"])).await.unwrap();
    assert!(ok, "{stdout}\n{stderr}");
    let segments = sim.segments().len();
    assert!(segments >= 3, "{segments} segments");
    let (ok, _, _) = run(args(&["klaviyo", "segments", "apply"])).await.unwrap();
    assert!(ok);
    assert_eq!(sim.segments().len(), segments, "applying twice creates nothing more");
}
