//! The ledger on SQLite and PostgreSQL: one reservation per key, expiry, confirmation.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use ledgerlink_domain::parse_snapshot_line;
use ledgerlink_reminder::ledger::{Confirmation, ListFilter, Reservation};
use ledgerlink_reminder::reminders::Customer;
use ledgerlink_reminder::{ReminderSettings, Reminders};
use ledgerlink_reminder_planner::{Planner, PlannerConfig, ReminderEvent};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap()
}

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

async fn sqlite_url(dir: &tempfile::TempDir) -> String {
    ledgerlink_store::default_sqlite_url(dir.path(), "reminder").unwrap()
}

async fn postgres_url() -> String {
    ledgerlink_store::testing::fresh_postgres_url(&ledgerlink_test_support::postgres_server_url())
        .await
        .expect("postgresql must be reachable (LEDGERLINK_TEST_DATABASE_URL)")
}

async fn open(url: &str, ttl: Duration) -> Reminders {
    let mut settings = ReminderSettings::from_table(&toml::Table::new()).unwrap();
    settings.reservation_ttl = ttl;
    ledgerlink_reminder::open(url, settings).await.unwrap()
}

/// A customer with one open invoice due 2026-11-30 (Net 30) and one prepayment order.
fn customer() -> Customer {
    let line = r#"{"customer":{"id":"42","email":"ap@example.com","currency":"USD",
        "terms":{"id":"2","name":"Net 30","days_until_net_due":30}},
      "invoices":[{"id":"9001","tran_id":"INV-9001","tran_date":"2026-10-31","due_date":"2026-11-30",
        "total":"500.00","amount_remaining":"500.00","status":"open"}],
      "orders":[{"id":"7001","tran_date":"2026-11-20","total":"100.00","status":"pending_fulfillment",
        "balance_due":"100.00"}]}"#;
    let parsed = parse_snapshot_line(&line.replace('\n', " ")).unwrap();
    assert!(parsed.rejections.is_empty());
    Customer {
        snapshot: parsed.snapshot,
        account_standing: "standard".to_owned(),
        standing_migration: None,
    }
}

fn event(reminders: &Reminders) -> ReminderEvent {
    let _ = reminders;
    let planner = Planner::new(PlannerConfig::default()).unwrap();
    let customer = customer();
    let plan = planner.plan(&ledgerlink_reminder_planner::PlanInput {
        snapshot: &customer.snapshot,
        account_standing: "standard",
        standing_migration: None,
        run_id: "r",
        as_of: date("2026-11-23"),
        ledger: &Default::default(),
    });
    plan.events
        .into_iter()
        .find(|e| e.key == "due:9001:-7")
        .expect("due soon planned on the day")
}

async fn one_reservation_per_key(url: &str) {
    let reminders = open(url, Duration::hours(1)).await;
    let event = event(&reminders);
    let ledger = reminders.ledger();
    assert_eq!(
        ledger.reserve(&event, "run-a", now()).await.unwrap(),
        Reservation::Reserved
    );
    assert_eq!(ledger.reserve(&event, "run-b", now()).await.unwrap(), Reservation::Held);
    // The run that holds it gets it again: it must still send it after a restart.
    assert_eq!(
        ledger.reserve(&event, "run-a", now()).await.unwrap(),
        Reservation::Reserved
    );
}

async fn concurrent_reservations_admit_exactly_one(url: &str) {
    let reminders = Arc::new(open(url, Duration::hours(1)).await);
    let event = event(&reminders);
    let mut tasks = tokio::task::JoinSet::new();
    for run in 0..8 {
        let reminders = Arc::clone(&reminders);
        let event = event.clone();
        tasks.spawn(async move {
            reminders
                .ledger()
                .reserve(&event, &format!("run-{run}"), now())
                .await
                .unwrap()
        });
    }
    let mut reserved = 0;
    while let Some(outcome) = tasks.join_next().await {
        if outcome.unwrap() == Reservation::Reserved {
            reserved += 1;
        }
    }
    assert_eq!(reserved, 1);
}

async fn expired_reservation_is_taken_over_once(url: &str) {
    let reminders = open(url, Duration::minutes(10)).await;
    let event = event(&reminders);
    let ledger = reminders.ledger();
    assert_eq!(
        ledger.reserve(&event, "run-a", now()).await.unwrap(),
        Reservation::Reserved
    );
    let later = now() + Duration::minutes(11);
    assert_eq!(
        ledger.reserve(&event, "run-b", later).await.unwrap(),
        Reservation::Reserved
    );
    assert_eq!(ledger.reserve(&event, "run-c", later).await.unwrap(), Reservation::Held);
    let listed = ledger.list(&ListFilter::default(), None, 10, later).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].row.run_id, "run-b");
    assert!(!listed[0].expired);
}

async fn confirmed_keys_are_never_reserved_again(url: &str) {
    let reminders = open(url, Duration::minutes(10)).await;
    let event = event(&reminders);
    let ledger = reminders.ledger();
    ledger.reserve(&event, "run-a", now()).await.unwrap();
    let keys = vec![event.key.clone(), "due:missing:0".to_owned()];
    let outcomes = ledger.confirm(&keys, now()).await.unwrap();
    assert_eq!(outcomes[0].1, Confirmation::Confirmed);
    assert_eq!(outcomes[1].1, Confirmation::Unknown);
    assert_eq!(
        ledger.confirm(&keys[..1], now()).await.unwrap()[0].1,
        Confirmation::AlreadyConfirmed
    );
    let much_later = now() + Duration::days(30);
    assert_eq!(
        ledger.reserve(&event, "run-z", much_later).await.unwrap(),
        Reservation::Held
    );
}

async fn planning_twice_the_same_day_sends_once(url: &str) {
    let reminders = open(url, Duration::minutes(10)).await;
    let customers = [customer()];
    let first = reminders
        .plan_batch("run-a", date("2026-11-23"), &customers, false, now())
        .await
        .unwrap();
    let keys: Vec<_> = first.events.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["due:9001:-7", "balance:7001:0"]);
    let second = reminders
        .plan_batch("run-b", date("2026-11-23"), &customers, false, now())
        .await
        .unwrap();
    // The ledger view already holds both keys, so nothing is even planned.
    assert!(second.events.is_empty(), "{:?}", second.events);
    assert_eq!(second.held, 0);

    // A dry run plans without reserving.
    let dry = reminders
        .plan_batch("run-c", date("2026-11-24"), &customers, true, now())
        .await
        .unwrap();
    assert_eq!(
        dry.events.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
        ["balance:7001:1"]
    );
    let listed = reminders
        .ledger()
        .list(&ListFilter::default(), None, 10, now())
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
}

async fn paused_invoice_gets_no_milestone_until_resumed(url: &str) {
    let reminders = open(url, Duration::minutes(10)).await;
    let ledger = reminders.ledger();
    ledger
        .pause("9001", date("2026-11-25"), "disputed line 3", now())
        .await
        .unwrap();
    let customers = [customer()];
    let plan = reminders
        .plan_batch("run-a", date("2026-11-23"), &customers, false, now())
        .await
        .unwrap();
    assert!(
        plan.events.iter().all(|e| !e.key.starts_with("due:9001")),
        "{:?}",
        plan.events
    );
    assert!(ledger.resume("9001").await.unwrap());
    assert!(!ledger.resume("9001").await.unwrap());
    let plan = reminders
        .plan_batch("run-b", date("2026-11-24"), &customers, false, now())
        .await
        .unwrap();
    assert!(plan.events.iter().any(|e| e.key == "due:9001:-7"), "{:?}", plan.events);
    let by_invoice = ListFilter {
        invoice_id: Some("9001".to_owned()),
        ..ListFilter::default()
    };
    assert_eq!(ledger.list(&by_invoice, None, 10, now()).await.unwrap().len(), 1);
}

async fn concurrent_plans_send_each_key_once(url: &str) {
    let reminders = Arc::new(open(url, Duration::minutes(10)).await);
    let mut tasks = tokio::task::JoinSet::new();
    for run in ["run-a", "run-b", "run-c"] {
        let reminders = Arc::clone(&reminders);
        tasks.spawn(async move {
            reminders
                .plan_batch(run, date("2026-11-23"), &[customer()], false, now())
                .await
                .unwrap()
        });
    }
    let mut keys = Vec::new();
    while let Some(plan) = tasks.join_next().await {
        keys.extend(plan.unwrap().events.into_iter().map(|e| e.key));
    }
    keys.sort();
    assert_eq!(keys, ["balance:7001:0", "due:9001:-7"]);
}

/// An invoice due 2026-10-20 crosses 30 days past due on 2026-11-20.
fn aging_customer() -> Customer {
    let line = r#"{"customer":{"id":"43","email":"ap@example.com"},
      "invoices":[{"id":"9101","tran_date":"2026-09-20","due_date":"2026-10-20",
        "total":"80.00","amount_remaining":"80.00","status":"open"}]}"#;
    Customer {
        snapshot: parse_snapshot_line(&line.replace('\n', " ")).unwrap().snapshot,
        account_standing: "payment_watch".to_owned(),
        standing_migration: None,
    }
}

async fn unconfirmed_threshold_crossing_is_planned_again(url: &str) {
    let reminders = open(url, Duration::minutes(10)).await;
    let customers = [aging_customer()];
    let aging_keys = |plan: &ledgerlink_reminder::reminders::BatchPlan| -> Vec<String> {
        plan.events
            .iter()
            .filter(|e| e.key.starts_with("aging:"))
            .map(|e| e.key.clone())
            .collect()
    };
    let quiet = reminders
        .plan_batch("run-a", date("2026-11-19"), &customers, false, now())
        .await
        .unwrap();
    assert!(aging_keys(&quiet).is_empty());
    let crossing = reminders
        .plan_batch("run-b", date("2026-11-20"), &customers, false, now())
        .await
        .unwrap();
    assert_eq!(aging_keys(&crossing), ["aging:9101:30"]);
    // run-b never confirms; once its reservation expires the next day's run still sees
    // the crossing, because the base date only moves when a run's sends are confirmed.
    let later = now() + Duration::hours(1);
    let retry = reminders
        .plan_batch("run-c", date("2026-11-21"), &customers, false, later)
        .await
        .unwrap();
    assert_eq!(aging_keys(&retry), ["aging:9101:30"]);
    let keys: Vec<String> = retry.events.iter().map(|e| e.key.clone()).collect();
    reminders.ledger().confirm(&keys, later).await.unwrap();
    let after = reminders
        .plan_batch("run-d", date("2026-11-22"), &customers, false, later)
        .await
        .unwrap();
    assert!(aging_keys(&after).is_empty(), "{:?}", after.events);
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    super::$name(&super::sqlite_url(&dir).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(&super::postgres_url().await).await;
                }
            )*
        }
    };
}

on_both_backends!(
    one_reservation_per_key,
    concurrent_reservations_admit_exactly_one,
    expired_reservation_is_taken_over_once,
    confirmed_keys_are_never_reserved_again,
    planning_twice_the_same_day_sends_once,
    paused_invoice_gets_no_milestone_until_resumed,
    concurrent_plans_send_each_key_once,
    unconfirmed_threshold_crossing_is_planned_again,
);
