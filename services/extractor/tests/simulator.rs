//! End to end against the NetSuite simulator over generated data: every snapshot the
//! extractor assembles is compared field by field with the generator's expectation.
//!
//! `LEDGERLINK_SIM_CUSTOMERS` raises the customer count (e.g. 7500 for about 150,000
//! invoices; run it with `--release`).

use futures_util::StreamExt;
use ledgerlink_domain::CustomerSnapshot;
use std::collections::BTreeMap;
use std::sync::Arc;

use ledgerlink_extractor::{ExtractEvent, ExtractSettings, Extractor, NetSuiteConfig, Scope};
use ledgerlink_netsuite_client::NetSuiteClient;
use ledgerlink_netsuite_client::clock::{Clock, ManualClock};
use ledgerlink_netsuite_sim::{FaultConfig, NetSuiteSim, SimConfig, TbaCredentials};
use ledgerlink_runtime::MapEnv;
use ledgerlink_synthdata::{Generator, GeneratorConfig};

const ACCOUNT: &str = "1234567_SB1";

fn customers() -> u64 {
    std::env::var("LEDGERLINK_SIM_CUSTOMERS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(60)
}

async fn start(generator: Generator, fault_rate: f64) -> ledgerlink_netsuite_sim::SimHandle {
    let mut config = SimConfig::new(ACCOUNT);
    config.tba = vec![TbaCredentials {
        consumer_key: "ck".to_owned(),
        consumer_secret: "cs".to_owned(),
        token_id: "ti".to_owned(),
        token_secret: "ts".to_owned(),
    }];
    config.faults = FaultConfig {
        rate: fault_rate,
        seed: 7,
        ..Default::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    NetSuiteSim::start(config, Some(generator), listener).await.unwrap()
}

fn extractor(base_url: &str) -> Extractor {
    extractor_at(base_url, None)
}

/// An extractor whose signing clock is `clock` (the simulator's, once its time moved).
fn extractor_at(base_url: &str, clock: Option<Arc<dyn Clock>>) -> Extractor {
    let env = MapEnv::from_pairs([
        ("NETSUITE_ACCOUNT_ID", ACCOUNT),
        ("NETSUITE_BASE_URL", base_url),
        ("NETSUITE_CONSUMER_KEY", "ck"),
        ("NETSUITE_CONSUMER_SECRET", "cs"),
        ("NETSUITE_TOKEN_ID", "ti"),
        ("NETSUITE_TOKEN_SECRET", "ts"),
    ]);
    let mut settings = ExtractSettings::default().with_env(&env).unwrap();
    settings.client.backoff_initial_ms = 2;
    settings.client.backoff_max_ms = 20;
    settings.client.max_retries = 10;
    let netsuite = NetSuiteConfig::from_env(&env).unwrap();
    let mut builder = NetSuiteClient::builder(netsuite.account, netsuite.auth)
        .settings(settings.client.clone())
        .base_url(base_url);
    if let Some(clock) = clock {
        builder = builder.clock(clock);
    }
    Extractor::new(builder.build().unwrap(), settings).unwrap()
}

async fn extract(
    extractor: &Extractor,
    scope: Scope,
) -> (BTreeMap<String, CustomerSnapshot>, ledgerlink_extractor::Summary) {
    let mut snapshots = BTreeMap::new();
    let mut summary = None;
    let mut stream = extractor.start(scope, None);
    while let Some(event) = stream.next().await {
        match event.expect("extraction failed") {
            ExtractEvent::Batch(batch) => {
                assert!(batch.rejections.is_empty(), "{:?}", batch.rejections);
                for snapshot in batch.snapshots {
                    snapshots.insert(snapshot.customer.id.clone(), snapshot);
                }
            }
            ExtractEvent::Summary(done) => summary = Some(done),
        }
    }
    (snapshots, summary.expect("summary"))
}

#[tokio::test]
async fn full_extraction_matches_the_generated_account_field_by_field_through_faults() {
    let as_of = "2026-11-20".parse().unwrap();
    let generator = Generator::new(GeneratorConfig::new(42, customers(), as_of)).unwrap();
    let expected: BTreeMap<String, CustomerSnapshot> = generator
        .customers()
        .map(|records| records.expected_snapshot())
        .map(|snapshot| (snapshot.customer.id.clone(), snapshot))
        .collect();
    let sim = start(generator, 0.1).await;
    let (snapshots, summary) = extract(
        &extractor(&sim.base_url()),
        Scope::Full {
            after: None,
            until: None,
        },
    )
    .await;
    assert_eq!(snapshots.len(), expected.len());
    for (id, expected) in &expected {
        let actual = &snapshots[id];
        assert_eq!(&actual.customer, &expected.customer, "customer {id}");
        assert_eq!(actual.invoices, expected.invoices, "invoices of customer {id}");
        assert_eq!(actual.orders, expected.orders, "orders of customer {id}");
    }
    assert!(summary.requests.retries > 0, "faults were injected and retried");
    let owing = expected
        .values()
        .flat_map(|s| &s.orders)
        .filter(|o| o.balance_due.is_some_and(ledgerlink_domain::Money::is_positive))
        .count();
    assert!(owing > 0, "some prepayment orders still owe a deposit");
    let invoices: usize = expected.values().map(|s| s.invoices.len()).sum();
    assert_eq!(summary.invoices as usize, invoices);
    println!(
        "compared {} customers, {invoices} invoices, {owing} owing prepayment orders; {} retries",
        expected.len(),
        summary.requests.retries
    );
}

#[tokio::test]
async fn incremental_after_advancing_time_returns_the_changed_customers_as_they_now_are() {
    let as_of = "2026-11-20".parse().unwrap();
    let generator = Generator::new(GeneratorConfig::new(43, customers(), as_of)).unwrap();
    let sim = start(generator.clone(), 0.0).await;
    // NetSuite's clock is never behind its own data.
    sim.clock().freeze_at(generator.cutoff());
    let extractor = extractor_at(
        &sim.base_url(),
        Some(Arc::new(ManualClock::at_unix(generator.cutoff().timestamp()))),
    );
    let (_, full) = extract(
        &extractor,
        Scope::Full {
            after: None,
            until: None,
        },
    )
    .await;

    let changed = sim.advance_days(5).await.unwrap();
    assert!(!changed.is_empty(), "five days of business change something");
    let advanced = generator.advanced(5);
    // TBA timestamps must be within five minutes of NetSuite's clock, which moved.
    let clock = ManualClock::at_unix(sim.clock().now().timestamp());
    let extractor = extractor_at(&sim.base_url(), Some(Arc::new(clock)));
    let since = full.watermark;
    let (snapshots, summary) = extract(&extractor, Scope::Incremental { since, after: None }).await;
    assert!(summary.watermark > since, "the watermark moves with netsuite's clock");

    let overlap = chrono::TimeDelta::minutes(i64::from(extractor.settings().overlap_minutes));
    let expected: BTreeMap<String, CustomerSnapshot> = advanced
        .customers()
        .filter(|records| records.changed_since(since - overlap))
        .map(|records| records.expected_snapshot())
        .map(|snapshot| (snapshot.customer.id.clone(), snapshot))
        .collect();
    for id in &changed {
        assert!(snapshots.contains_key(&id.to_string()), "changed customer {id} missing");
    }
    let extracted: Vec<_> = snapshots.keys().collect();
    assert_eq!(extracted, expected.keys().collect::<Vec<_>>());
    for (id, expected) in &expected {
        assert_eq!(&snapshots[id], expected, "customer {id}");
    }
}
