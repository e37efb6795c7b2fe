//! `ledgerlink extract` against the NetSuite simulator.

use ledgerlink_netsuite_sim::{NetSuiteSim, SimConfig, TbaCredentials};
use ledgerlink_synthdata::{Generator, GeneratorConfig};

#[tokio::test]
async fn extract_writes_one_snapshot_line_per_customer_and_prints_the_watermark() {
    let generator = Generator::new(GeneratorConfig::new(5, 12, "2026-11-20".parse().unwrap())).unwrap();
    let mut config = SimConfig::new("1234567");
    config.tba = vec![TbaCredentials {
        consumer_key: "ck".into(),
        consumer_secret: "cs".into(),
        token_id: "ti".into(),
        token_secret: "ts".into(),
    }];
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = NetSuiteSim::start(config, Some(generator), listener).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snapshots.jsonl");

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_ledgerlink"))
        .args(["extract", "--out", out.to_str().unwrap()])
        .env("NETSUITE_ACCOUNT_ID", "1234567")
        .env("NETSUITE_BASE_URL", sim.base_url())
        .env("NETSUITE_CONSUMER_KEY", "ck")
        .env("NETSUITE_CONSUMER_SECRET", "cs")
        .env("NETSUITE_TOKEN_ID", "ti")
        .env("NETSUITE_TOKEN_SECRET", "ts")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 12, "{stderr}");
    for line in lines {
        let parsed = ledgerlink_domain::parse_snapshot_line(line).unwrap();
        assert!(parsed.rejections.is_empty());
    }
    assert!(stderr.contains("extracted 12 customers"), "{stderr}");
    assert!(stderr.contains("next: --since 20"), "{stderr}");

    let refused = tokio::process::Command::new(env!("CARGO_BIN_EXE_ledgerlink"))
        .args(["extract", "--out", out.to_str().unwrap()])
        .env_remove("NETSUITE_ACCOUNT_ID")
        .env("NETSUITE_CONSUMER_KEY", "ck")
        .output()
        .await
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("NETSUITE_ACCOUNT_ID"), "{stderr}");
    sim.shutdown();
}
