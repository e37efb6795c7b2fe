//! The gateway against the Klaviyo simulator on loopback.

use chrono::{TimeZone, Utc};
use ledgerlink_domain::CustomerScore;
use ledgerlink_klaviyo_gateway::gateway::{EventRequest, event_from_pb};
use ledgerlink_klaviyo_gateway::mapping::PROPERTIES;
use ledgerlink_klaviyo_gateway::testing::sample_score;
use ledgerlink_klaviyo_gateway::{Gateway, GatewaySettings, Outcome, PushOptions, Scored};
use ledgerlink_klaviyo_sim::{Fault, RandomFaults, RateLimitMode, SimConfig, SimHandle};
use ledgerlink_proto::types::v1 as pb;
use ledgerlink_runtime::MapEnv;

const KEY: &str = "pk_test_gateway";

/// Write operations a push may make: the minimum counts only these.
const PROFILE_WRITES: [&str; 2] = ["bulk_import_profiles", "create_or_update_profile"];

async fn sim(config: SimConfig) -> anyhow::Result<SimHandle> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    Ok(ledgerlink_klaviyo_sim::start(config, listener)?)
}

fn fast_settings() -> GatewaySettings {
    let mut settings = GatewaySettings::default();
    settings.client.poll_initial_ms = 20;
    settings.client.poll_max_ms = 100;
    settings.client.backoff_initial_ms = 20;
    settings.client.backoff_max_ms = 200;
    settings.client.min_throttle_wait_ms = 50;
    settings.client.max_retries = 8;
    settings
}

async fn gateway(dir: &std::path::Path, sim: &SimHandle) -> anyhow::Result<Gateway> {
    let url = ledgerlink_store::default_sqlite_url(dir, "gateway")?;
    let env = MapEnv::from_pairs([("KLAVIYO_API_KEY", KEY), ("KLAVIYO_BASE_URL", sim.base_url().as_str())]);
    Ok(ledgerlink_klaviyo_gateway::open(&url, fast_settings(), &env).await?)
}

fn scores(n: usize, limit_bump: usize) -> Vec<Scored> {
    (0..n)
        .map(|i| {
            // Every 100th customer gets a different limit when bumped: 1% changed.
            let limit = if limit_bump > 0 && i % 100 == 0 {
                60_000 + limit_bump
            } else {
                5_000 + i
            };
            let on_time = if i % 7 == 0 { None } else { Some((i % 10) as f64 / 10.0) };
            let standing = if i % 13 == 0 { "credit_hold" } else { "good_standing" };
            Scored {
                score: sample_score(
                    &format!("{}", 1000 + i),
                    Some(&format!("c{i}@acme.example")),
                    Some(&limit.to_string()),
                    on_time,
                    standing,
                ),
                contacts: Vec::new(),
            }
        })
        .collect()
}

fn options(force: bool, dry_run: bool) -> PushOptions {
    PushOptions {
        dry_run,
        force,
        synced_at: Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).single().expect("time"),
    }
}

fn count(results: &[ledgerlink_klaviyo_gateway::RecordResult], outcome: Outcome) -> usize {
    results.iter().filter(|r| r.outcome == outcome).count()
}

fn writes(sim: &SimHandle) -> u64 {
    PROFILE_WRITES.iter().map(|op| sim.request_count(op)).sum()
}

fn assert_profiles_match(sim: &SimHandle, scores: &[Scored]) {
    let settings = GatewaySettings::default();
    for scored in scores {
        let score: &CustomerScore = &scored.score;
        let email = score.customer.email.as_deref().expect("email");
        let profile = sim
            .profile_by_email(email)
            .unwrap_or_else(|| panic!("no profile for {email}"));
        assert_eq!(
            profile.external_id.as_deref(),
            Some(format!("netsuite:{}", score.customer_id).as_str())
        );
        let (expected, _) =
            ledgerlink_klaviyo_gateway::mapping::properties(score, &settings, options(false, false).synced_at);
        assert_eq!(profile.properties, expected, "customer {}", score.customer_id);
        assert!(profile.properties.keys().all(|k| PROPERTIES.contains(&k.as_str())));
    }
}

#[tokio::test]
async fn pushes_all_then_only_changes_in_the_fewest_requests_and_force_resends() -> anyhow::Result<()> {
    let sim = sim(SimConfig::new(KEY)).await?;
    let dir = tempfile::tempdir()?;
    let gateway = gateway(dir.path(), &sim).await?;
    let first = scores(500, 0);

    let report = gateway.push_profiles(&first, options(false, false)).await?;
    assert_eq!(
        count(&report.results, Outcome::Created),
        500,
        "{:?}",
        &report.results[..3]
    );
    assert_profiles_match(&sim, &first);
    // 500 profiles fit one bulk job: one write is the minimum.
    assert_eq!(writes(&sim), 1);
    assert!(report.stats.requests() >= 2, "job creation and at least one poll");

    let changed = scores(500, 1);
    let report = gateway.push_profiles(&changed, options(false, false)).await?;
    assert_eq!(count(&report.results, Outcome::Updated), 5);
    assert_eq!(count(&report.results, Outcome::Unchanged), 495);
    // Five profiles go through the single-profile endpoint: five writes, no job.
    assert_eq!(writes(&sim), 1 + 5);
    assert_profiles_match(&sim, &changed);

    let report = gateway.push_profiles(&changed, options(true, false)).await?;
    assert_eq!(count(&report.results, Outcome::Updated), 500);
    assert_eq!(writes(&sim), 1 + 5 + 1);

    let again = gateway.push_profiles(&changed, options(false, false)).await?;
    assert_eq!(count(&again.results, Outcome::Unchanged), 500);
    assert_eq!(again.stats.requests(), 0);
    Ok(())
}

#[tokio::test]
async fn a_property_that_becomes_undefined_is_removed() -> anyhow::Result<()> {
    let sim = sim(SimConfig::new(KEY)).await?;
    let dir = tempfile::tempdir()?;
    let gateway = gateway(dir.path(), &sim).await?;
    let with = vec![Scored {
        score: sample_score(
            "1",
            Some("one@acme.example"),
            Some("20000"),
            Some(0.95),
            "good_standing",
        ),
        contacts: Vec::new(),
    }];
    gateway.push_profiles(&with, options(false, false)).await?;
    let without = vec![Scored {
        score: sample_score("1", Some("one@acme.example"), None, None, "good_standing"),
        contacts: Vec::new(),
    }];
    gateway.push_profiles(&without, options(false, false)).await?;
    let profile = sim.profile_by_email("one@acme.example").expect("profile");
    for gone in [
        "credit_limit",
        "on_time_rate_pct",
        "avg_days_to_pay",
        "credit_utilization_pct",
    ] {
        assert!(!profile.properties.contains_key(gone), "{gone} left stale");
    }
    assert_eq!(profile.properties["credit_limit_tier"], "none");
    Ok(())
}

#[tokio::test]
async fn a_dry_run_writes_nothing_and_reports_the_changes() -> anyhow::Result<()> {
    let sim = sim(SimConfig::new(KEY)).await?;
    let dir = tempfile::tempdir()?;
    let gateway = gateway(dir.path(), &sim).await?;
    let mut batch = scores(20, 0);
    batch.push(Scored {
        score: sample_score("bad", Some("n/a"), None, None, "good_standing"),
        contacts: Vec::new(),
    });
    let report = gateway.push_profiles(&batch, options(false, true)).await?;
    assert_eq!(count(&report.results, Outcome::DryRun), 20);
    assert_eq!(report.results[20].outcome, Outcome::Skipped);
    assert_eq!(report.results[20].reason, "customer email is malformed");
    assert_eq!(report.changes.len(), 20);
    assert!(sim.profiles().is_empty());
    assert!(sim.requests().is_empty(), "a dry run sent requests");
    // Nothing was recorded either: a real push still creates everything.
    let report = gateway.push_profiles(&batch, options(false, false)).await?;
    assert_eq!(count(&report.results, Outcome::Created), 20);
    Ok(())
}

fn event(key: &str, customer: usize) -> EventRequest {
    let wire = pb::ReminderEvent {
        key: key.to_owned(),
        kind: pb::ReminderKind::Milestone as i32,
        metric: "Invoice Past Due".to_owned(),
        customer_id: customer.to_string(),
        profile: Some(pb::ProfileIdentity {
            email: Some(format!("c{customer}@acme.example")),
            external_id: Some(format!("netsuite:{customer}")),
        }),
        properties_json: r#"{"invoice_id":"88121","amount_remaining":"120.50"}"#.to_owned(),
        time: Some(ledgerlink_proto::convert::timestamp_to_pb(
            Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).single().expect("time"),
        )),
        value: Some(pb::Money {
            amount: "120.50".to_owned(),
            currency: "USD".to_owned(),
        }),
    };
    event_from_pb(&wire)
}

#[tokio::test]
async fn faults_and_lost_responses_change_nothing_in_the_end() -> anyhow::Result<()> {
    let batch = scores(300, 0);
    let events: Vec<EventRequest> = (0..200).map(|i| event(&format!("due:{i}:7"), i)).collect();

    let clean = sim(SimConfig::new(KEY)).await?;
    let dir = tempfile::tempdir()?;
    let gateway_clean = gateway(dir.path(), &clean).await?;
    gateway_clean.push_profiles(&batch, options(false, false)).await?;
    gateway_clean.send_events(&events, false).await?;

    let mut config = SimConfig::new(KEY);
    config.rate_limits = RateLimitMode::Off;
    config.random_faults = RandomFaults {
        rate: 0.2,
        kinds: vec![
            Fault::ServerError { status: 503 },
            Fault::DropConnection,
            Fault::ResponseLost,
            Fault::Throttle { retry_after_secs: 0 },
        ],
        operations: vec![],
    };
    let faulty = sim(config).await?;
    let dir = tempfile::tempdir()?;
    let gateway_faulty = gateway(dir.path(), &faulty).await?;
    // A push that fails for some customers is simply run again, as a scheduler would.
    for _ in 0..5 {
        let report = gateway_faulty.push_profiles(&batch, options(false, false)).await?;
        if count(&report.results, Outcome::Failed) == 0 {
            break;
        }
    }
    let mut pending = events.clone();
    for _ in 0..5 {
        let report = gateway_faulty.send_events(&pending, false).await?;
        pending = report
            .results
            .iter()
            .zip(&pending)
            .filter(|(r, _)| r.outcome == Outcome::Failed)
            .map(|(_, e)| e.clone())
            .collect();
        if pending.is_empty() {
            break;
        }
    }
    assert!(pending.is_empty(), "events still failing after retries");
    faulty.clear_faults();

    let state = |sim: &SimHandle| {
        let mut profiles: Vec<_> = sim
            .profiles()
            .into_iter()
            .map(|p| (p.email, p.external_id, p.properties))
            .collect();
        profiles.sort_by(|a, b| a.0.cmp(&b.0));
        let mut events: Vec<_> = sim
            .events()
            .into_iter()
            .map(|e| (e.unique_id, e.metric_name, e.value))
            .collect();
        events.sort_by(|a, b| a.0.cmp(&b.0));
        (profiles, events)
    };
    let (clean_profiles, clean_events) = state(&clean);
    let (faulty_profiles, faulty_events) = state(&faulty);
    assert_eq!(clean_profiles.len(), 300);
    assert_eq!(faulty_profiles, clean_profiles);
    assert_eq!(clean_events.len(), 200);
    assert_eq!(faulty_events, clean_events, "an event was duplicated or lost");
    Ok(())
}

#[tokio::test]
async fn events_are_sent_once_with_their_key_and_repeats_are_duplicates() -> anyhow::Result<()> {
    let sim = sim(SimConfig::new(KEY)).await?;
    let dir = tempfile::tempdir()?;
    let gateway = gateway(dir.path(), &sim).await?;
    let mut events: Vec<EventRequest> = (0..50).map(|i| event(&format!("aging:{i}:30"), i)).collect();
    events.push(event("aging:0:30", 0));
    events.push(EventRequest::Invalid {
        key: "broken".to_owned(),
        reason: "no time".to_owned(),
    });
    let report = gateway.send_events(&events, false).await?;
    assert_eq!(count(&report.results, Outcome::Sent), 50);
    assert_eq!(report.results[50].outcome, Outcome::Duplicate);
    assert_eq!(report.results[51].outcome, Outcome::Failed);
    assert_eq!(sim.request_count("bulk_create_events"), 1);
    let stored = sim.events();
    assert_eq!(stored.len(), 50);
    assert!(
        stored
            .iter()
            .any(|e| e.unique_id.as_deref() == Some("aging:7:30") && e.value == Some(120.5))
    );

    let dry = gateway.send_events(&events[..3], true).await?;
    assert_eq!(count(&dry.results, Outcome::DryRun), 3);
    assert_eq!(sim.request_count("create_event"), 0);
    Ok(())
}

#[tokio::test]
async fn segments_apply_once_and_then_stay_unchanged() -> anyhow::Result<()> {
    let sim = sim(SimConfig::new(KEY)).await?;
    let dir = tempfile::tempdir()?;
    let gateway = gateway(dir.path(), &sim).await?;
    let (first, _) = gateway.apply_segments(false).await?;
    let actions: Vec<&str> = first.iter().map(|s| s.action).collect();
    assert_eq!(actions, ["created", "created", "created"]);
    let (second, stats) = gateway.apply_segments(false).await?;
    assert!(second.iter().all(|s| s.action == "unchanged"), "{second:?}");
    assert_eq!(sim.segments().len(), 3);
    assert_eq!(stats.endpoint(ledgerlink_klaviyo_client_endpoint()).requests, 0);
    Ok(())
}

fn ledgerlink_klaviyo_client_endpoint() -> ledgerlink_klaviyo_client::Endpoint {
    ledgerlink_klaviyo_client::Endpoint::CreateSegment
}

#[tokio::test]
async fn lists_follow_their_condition() -> anyhow::Result<()> {
    let sim = sim(SimConfig::new(KEY)).await?;
    let dir = tempfile::tempdir()?;
    let url = ledgerlink_store::default_sqlite_url(dir.path(), "gateway")?;
    let env = MapEnv::from_pairs([("KLAVIYO_API_KEY", KEY), ("KLAVIYO_BASE_URL", sim.base_url().as_str())]);
    let mut settings = fast_settings();
    settings.lists = toml::from_str::<GatewaySettings>(
        "[[lists]]\nname = \"Promotion exclusions\"\nwhen = [{ property = \"promotions_eligible\", op = \"eq\", value = false }]",
    )?
    .lists;
    let gateway = ledgerlink_klaviyo_gateway::open(&url, settings, &env).await?;
    let batch = scores(40, 0);
    gateway.push_profiles(&batch, options(false, false)).await?;
    let (lists, _) = gateway.sync_lists(false).await?;
    // Customers 0, 13 and 26 and 39 are on credit hold.
    assert_eq!((lists[0].added, lists[0].removed), (4, 0));
    let (lists, _) = gateway.sync_lists(false).await?;
    assert_eq!((lists[0].added, lists[0].removed), (0, 0));
    let list = sim
        .lists()
        .into_iter()
        .find(|l| l.name == "Promotion exclusions")
        .expect("list");
    assert_eq!(list.members.len(), 4);
    Ok(())
}
