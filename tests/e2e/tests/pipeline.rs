//! The whole pipeline on loopback: real services, both simulators.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ledgerlink_e2e::{TestStack, WEBHOOK_SECRET};
use ledgerlink_proto::coordinator::v1::{RunKind, RunState};
use ledgerlink_proto::reminder::v1::ReminderState;
use ledgerlink_scoring_engine::Engine;

const DEADLINE: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_run_writes_what_scoring_computed_and_the_events_the_ledger_holds() -> anyhow::Result<()> {
    let test = TestStack::start(120).await?;
    let run = test.run(RunKind::Full, false, test.today, DEADLINE).await?;
    assert_eq!(run.state, RunState::Succeeded as i32, "{}", run.error);

    // Independently: score the generator's own snapshots with the engine.
    let generator =
        ledgerlink_synthdata::Generator::new(ledgerlink_synthdata::GeneratorConfig::new(7, 120, test.today))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let engine = Engine::default();
    let klaviyo = test.stack.klaviyo.as_ref().expect("klaviyo simulator");
    let profiles: BTreeMap<String, _> = klaviyo
        .profiles()
        .into_iter()
        .filter_map(|p| p.external_id.clone().map(|id| (id, p)))
        .collect();
    let mut checked = 0;
    for records in generator.customers() {
        let snapshot = records.expected_snapshot();
        let score = engine.score(&snapshot, test.today, None);
        let Some(profile) = profiles.get(&format!("netsuite:{}", snapshot.customer.id)) else {
            continue;
        };
        if !profile.properties.contains_key("netsuite_customer_id") {
            // A profile made only by a reminder event: the gateway skipped the customer's
            // properties because it has no usable email.
            let email = snapshot.customer.email.as_deref().unwrap_or_default();
            assert!(
                !ledgerlink_reminder_planner::is_usable_email(email),
                "customer {} not synced",
                score.customer_id
            );
            continue;
        }
        checked += 1;
        let property = |name: &str| profile.properties.get(name).cloned().unwrap_or_default();
        assert_eq!(
            property("account_standing"),
            score.account_standing.as_str(),
            "customer {}",
            score.customer_id
        );
        assert_eq!(property("behavior_segment"), score.behavior_segment.as_str());
        assert_eq!(property("loyalty_tier"), score.loyalty_tier.as_str());
        assert_eq!(property("risk_score"), serde_json::json!(score.risk_score));
        assert_eq!(property("days_past_due"), serde_json::json!(score.max_days_past_due));
        assert_eq!(property("credit_hold"), serde_json::json!(score.effective_credit_hold));
    }
    assert!(
        checked > 80,
        "only {checked} of 120 customers had their properties synced"
    );

    let confirmed: BTreeSet<String> = test
        .reminders()
        .await?
        .into_iter()
        .filter(|r| r.state == ReminderState::Confirmed as i32)
        .filter_map(|r| r.event.map(|e| e.key))
        .collect();
    let in_klaviyo: BTreeSet<String> = klaviyo.events().into_iter().filter_map(|e| e.unique_id).collect();
    assert!(!confirmed.is_empty());
    assert_eq!(confirmed, in_klaviyo);
    Ok(test.stack.stop().await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_writes_nothing_anywhere() -> anyhow::Result<()> {
    let test = TestStack::start(40).await?;
    let klaviyo = test.stack.klaviyo.as_ref().expect("klaviyo simulator");
    let before = klaviyo.request_counts();
    let run = test.run(RunKind::Full, true, test.today, DEADLINE).await?;
    assert_eq!(run.state, RunState::Succeeded as i32, "{}", run.error);
    let report = run.report.expect("report");
    assert!(!report.previews.is_empty(), "a dry run reports what it would write");
    assert!(klaviyo.profiles().is_empty());
    assert!(klaviyo.events().is_empty());
    assert_eq!(klaviyo.request_counts(), before, "no request reached Klaviyo");
    assert!(test.reminders().await?.is_empty(), "the ledger is untouched");
    // No watermark: the next incremental covers everyone.
    let incremental = test.run(RunKind::Incremental, true, test.today, DEADLINE).await?;
    assert_eq!(incremental.progress.expect("progress").records_done, 40);
    Ok(test.stack.stop().await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_webhook_puts_the_invoice_event_in_klaviyo_quickly() -> anyhow::Result<()> {
    let test = TestStack::start(150).await?;
    let webhook = test.stack.webhook_addr.expect("webhook enabled");
    // An open invoice with a milestone due today (or fresh enough to catch up on)
    // gets its event from a per-invoice run.
    let generator =
        ledgerlink_synthdata::Generator::new(ledgerlink_synthdata::GeneratorConfig::new(7, 150, test.today))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let invoice = generator
        .customers()
        .flat_map(|c| c.expected_snapshot().invoices)
        .find(|i| {
            i.status == ledgerlink_domain::InvoiceStatus::Open
                && i.amount_remaining.is_positive()
                && i.due_date
                    .is_some_and(|d| (d - test.today).num_days() == 7 || d == test.today)
        });
    let Some(invoice) = invoice else {
        anyhow::bail!("no invoice with a milestone due today in the synthetic data");
    };
    let body = serde_json::to_vec(&serde_json::json!({ "invoice_id": invoice.id }))?;
    let now = chrono::Utc::now().timestamp();
    let signature = ledgerlink_coordinator::webhook::sign(WEBHOOK_SECRET.as_bytes(), now, &body);
    let http = reqwest::Client::new();
    let url = format!("http://{webhook}{}", ledgerlink_coordinator::webhook::server::PATH);
    let send = |signature: String| {
        http.post(&url)
            .header(ledgerlink_coordinator::webhook::TIMESTAMP_HEADER, now.to_string())
            .header(ledgerlink_coordinator::webhook::SIGNATURE_HEADER, signature)
            .body(body.clone())
            .send()
    };
    let started = tokio::time::Instant::now();
    let accepted = send(signature.clone()).await?;
    assert_eq!(accepted.status(), reqwest::StatusCode::ACCEPTED);
    let klaviyo = test.stack.klaviyo.as_ref().expect("klaviyo simulator");
    let prefix = format!("due:{}:", invoice.id);
    loop {
        if klaviyo
            .events()
            .iter()
            .any(|e| e.unique_id.as_deref().is_some_and(|u| u.starts_with(&prefix)))
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "event not in Klaviyo within 2 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        send(signature).await?.status(),
        reqwest::StatusCode::CONFLICT,
        "replay refused"
    );
    let forged = ledgerlink_coordinator::webhook::sign(b"wrong", now, &body);
    assert_eq!(send(forged).await?.status(), reqwest::StatusCode::UNAUTHORIZED);
    Ok(test.stack.stop().await?)
}
