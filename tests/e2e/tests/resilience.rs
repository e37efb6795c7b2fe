//! Faults in both simulators and every service killed once mid-run: the end state in
//! Klaviyo must be the fault-free run's, with no event twice and none missing.

use std::time::Duration;

use ledgerlink_e2e::{TestStack, follow, klaviyo_state};
use ledgerlink_proto::convert::date_to_pb;
use ledgerlink_proto::coordinator::v1::{RunKind, RunState, StartRunRequest};

const CUSTOMERS: u64 = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_and_killed_services_change_nothing_in_the_end() -> anyhow::Result<()> {
    let calm = TestStack::start(CUSTOMERS).await?;
    let run = calm
        .run(RunKind::Full, false, calm.today, Duration::from_secs(120))
        .await?;
    assert_eq!(run.state, RunState::Succeeded as i32, "{}", run.error);
    let expected = klaviyo_state(calm.stack.klaviyo.as_ref().expect("klaviyo"));
    calm.stack.stop().await?;
    assert!(!expected.1.is_empty(), "the fault-free run sends events");

    let mut stormy = TestStack::start(CUSTOMERS).await?;
    stormy
        .stack
        .netsuite
        .as_ref()
        .expect("netsuite")
        .set_faults(ledgerlink_netsuite_sim::FaultConfig {
            rate: 0.2,
            seed: 11,
            ..ledgerlink_netsuite_sim::FaultConfig::default()
        });
    stormy
        .stack
        .klaviyo
        .as_ref()
        .expect("klaviyo")
        .set_random_faults(ledgerlink_klaviyo_sim::RandomFaults {
            rate: 0.2,
            kinds: ledgerlink_klaviyo_sim::RandomFaults::all_kinds(),
            operations: Vec::new(),
        });

    // A run that fails outright is followed by another, as the schedule would do; each
    // service is killed once while the first run is under way.
    let mut succeeded = false;
    for attempt in 0..4 {
        let mut client = stormy.coordinator().await?;
        let run = client
            .start_run(StartRunRequest {
                kind: RunKind::Full as i32,
                as_of: Some(date_to_pb(stormy.today)),
                ..Default::default()
            })
            .await?
            .into_inner()
            .run
            .expect("run");
        if attempt == 0 {
            for service in ["extractor", "scoring", "reminder", "klaviyo-gateway", "coordinator"] {
                tokio::time::sleep(Duration::from_millis(150)).await;
                stormy.stack.restart(service).await?;
            }
        }
        let mut client = stormy.coordinator().await?;
        let finished = follow(&mut client, &run.run_id, Duration::from_secs(240)).await?;
        if finished.state == RunState::Succeeded as i32 {
            succeeded = true;
            break;
        }
    }
    assert!(succeeded, "no run succeeded through the faults");
    let klaviyo = stormy.stack.klaviyo.as_ref().expect("klaviyo");
    klaviyo.clear_faults();
    let actual = klaviyo_state(klaviyo);
    assert_eq!(actual.0.len(), expected.0.len(), "profiles");
    for (id, properties) in &expected.0 {
        assert_eq!(actual.0.get(id), Some(properties), "profile {id}");
    }
    let mut unique = actual.1.clone();
    unique.dedup();
    assert_eq!(unique.len(), actual.1.len(), "an event is in Klaviyo twice");
    assert_eq!(actual.1, expected.1, "events differ from the fault-free run");
    Ok(stormy.stack.stop().await?)
}
