//! Table tests of each rule of `spec/reminders.md` and its boundaries.

use ledgerlink_domain::{
    CreditHold, Customer, CustomerSnapshot, Invoice, InvoiceStatus, Money, NaiveDate, Order, Terms, shift_days,
};
use ledgerlink_reminder_planner::testing::{InMemoryLedger, KeyState, LedgerError};
use ledgerlink_reminder_planner::{
    ConfigError, LedgerFact, LedgerView, Pause, Plan, PlanInput, Planner, PlannerConfig, ReminderKind, SkipReason,
    StandingMigration,
};

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn money(text: &str) -> Money {
    text.parse().unwrap()
}

const DUE: &str = "2026-10-01";

fn due() -> NaiveDate {
    date(DUE)
}

fn day(offset: i64) -> NaiveDate {
    shift_days(due(), offset)
}

fn invoice(id: &str, total: &str, remaining: &str) -> Invoice {
    Invoice {
        id: id.to_owned(),
        tran_id: Some(format!("INV-{id}")),
        tran_date: date("2026-09-01"),
        due_date: Some(due()),
        total: money(total),
        amount_remaining: money(remaining),
        status: InvoiceStatus::Open,
        paid_date: None,
    }
}

fn order(id: &str, status: &str, balance: Option<&str>) -> Order {
    Order {
        id: id.to_owned(),
        tran_id: Some(format!("SO-{id}")),
        tran_date: date("2026-09-20"),
        total: money("5000.00"),
        status: status.to_owned(),
        balance_due: balance.map(money),
    }
}

fn terms(name: &str, days: i64) -> Terms {
    Terms {
        id: "2".to_owned(),
        name: name.to_owned(),
        days_until_net_due: Some(days),
        discount_percent: None,
        discount_days: None,
    }
}

fn snapshot(invoices: Vec<Invoice>, orders: Vec<Order>) -> CustomerSnapshot {
    CustomerSnapshot {
        customer: Customer {
            id: "1042".to_owned(),
            entity_id: Some("CUST-1042".to_owned()),
            company_name: Some("Acme Supply".to_owned()),
            email: Some("ap@acme.example".to_owned()),
            currency: Some("USD".to_owned()),
            is_inactive: false,
            terms: Some(terms("Net 30", 30)),
            credit_limit: Some(money("50000.00")),
            credit_hold: CreditHold::Auto,
            last_modified: None,
        },
        invoices,
        orders,
        contacts: Vec::new(),
    }
}

fn planner() -> Planner {
    Planner::new(PlannerConfig::default()).unwrap()
}

fn plan_with(planner: &Planner, snapshot: &CustomerSnapshot, ledger: &LedgerView, as_of: NaiveDate) -> Plan {
    planner.plan(&PlanInput {
        snapshot,
        account_standing: "standard",
        standing_migration: None,
        run_id: "run-1",
        as_of,
        ledger,
    })
}

fn keys(plan: &Plan) -> Vec<&str> {
    plan.events.iter().map(|event| event.key.as_str()).collect()
}

fn recorded(keys: &[&str]) -> LedgerView {
    LedgerView {
        recorded_keys: keys.iter().map(|key| (*key).to_owned()).collect(),
        ..LedgerView::default()
    }
}

fn one_invoice() -> CustomerSnapshot {
    snapshot(vec![invoice("88121", "1200.00", "1200.00")], Vec::new())
}

#[test]
fn milestones_fire_exactly_on_their_dates() {
    // (run day relative to due, expected keys) for a ledger that holds nothing yet,
    // so each row is also the first run after downtime.
    let table: [(i64, &[&str]); 10] = [
        (-8, &[]),
        (-7, &["due:88121:-7"]),
        (-4, &["due:88121:-7"]),
        (-3, &[]),
        (0, &["due:88121:0"]),
        (3, &["due:88121:0"]),
        (4, &[]),
        (7, &["due:88121:7"]),
        (10, &["due:88121:7"]),
        (11, &[]),
    ];
    let snapshot = one_invoice();
    for (run_day, expected) in table {
        let plan = plan_with(&planner(), &snapshot, &LedgerView::default(), day(run_day));
        let due_keys: Vec<_> = keys(&plan).into_iter().filter(|k| k.starts_with("due:")).collect();
        assert_eq!(due_keys, expected, "run on due{run_day:+}");
    }
}

#[test]
fn due_soon_on_its_day_carries_the_spec_properties() {
    let plan = plan_with(&planner(), &one_invoice(), &LedgerView::default(), day(-7));
    let [event] = plan.events.as_slice() else {
        panic!("expected one event, got {:?}", keys(&plan));
    };
    assert_eq!(event.kind, ReminderKind::Milestone);
    assert_eq!(event.metric, "Invoice Due Soon");
    assert_eq!(event.customer_id, "1042");
    assert_eq!(event.profile.email.as_deref(), Some("ap@acme.example"));
    assert_eq!(event.profile.external_id, "netsuite:1042");
    assert_eq!(event.value, money("1200.00"));
    assert_eq!(event.milestone_date, day(-7));
    let line = serde_json::to_value(event).unwrap();
    assert_eq!(line["key"], "due:88121:-7");
    assert_eq!(line["time"], "2026-09-24T00:00:00Z");
    assert_eq!(line["value"], "1200.00");
    let properties = &line["properties"];
    assert_eq!(properties["invoice_id"], "88121");
    assert_eq!(properties["document_number"], "INV-88121");
    assert_eq!(properties["amount_remaining"], "1200.00");
    assert_eq!(properties["total"], "1200.00");
    assert_eq!(properties["currency"], "USD");
    assert_eq!(properties["due_date"], DUE);
    assert_eq!(properties["days_past_due"], 0);
    assert_eq!(properties["payment_terms"], "Net 30");
    assert_eq!(properties["milestone"], "due_soon");
    assert_eq!(properties["account_standing"], "standard");
    assert_eq!(properties["offset_days"], -7);
}

#[test]
fn milestone_metric_follows_the_sign_of_the_offset() {
    let table = [
        (-7, "Invoice Due Soon", "due_soon"),
        (0, "Invoice Due Today", "due_today"),
        (7, "Invoice Past Due", "past_due"),
    ];
    for (offset, metric, milestone) in table {
        let plan = plan_with(&planner(), &one_invoice(), &LedgerView::default(), day(offset));
        assert_eq!(plan.events[0].metric, metric);
        assert_eq!(plan.events[0].properties.milestone, milestone);
    }
}

#[test]
fn catch_up_sends_only_the_latest_fresh_milestone() {
    // Downtime from before -7: at due+2 only the Due Today goes out, with its own date.
    let plan = plan_with(&planner(), &one_invoice(), &LedgerView::default(), day(2));
    assert_eq!(keys(&plan), ["due:88121:0"]);
    assert_eq!(plan.events[0].milestone_date, due());
    assert_eq!(plan.events[0].properties.days_past_due, Some(2));
}

#[test]
fn catch_up_freshness_ends_after_max_lateness_days() {
    let snapshot = one_invoice();
    // Milestone +7 is exactly 3 days old on due+10: still fresh.
    let plan = plan_with(&planner(), &snapshot, &LedgerView::default(), day(10));
    assert_eq!(keys(&plan), ["due:88121:7"]);
    assert_eq!(plan.events[0].milestone_date, day(7));
    // One more day and it is skipped for good; the earlier ones are not tried instead.
    let plan = plan_with(&planner(), &snapshot, &LedgerView::default(), day(11));
    assert!(plan.events.is_empty(), "{:?}", keys(&plan));
    assert_eq!(
        plan.skipped[0].reason,
        SkipReason::Stale {
            milestone_date: day(7),
            days_late: 4
        }
    );
}

#[test]
fn max_lateness_is_configurable() {
    let config = PlannerConfig {
        max_lateness_days: 0,
        ..PlannerConfig::default()
    };
    let planner = Planner::new(config).unwrap();
    assert!(
        plan_with(&planner, &one_invoice(), &LedgerView::default(), day(1))
            .events
            .is_empty()
    );
    assert_eq!(
        keys(&plan_with(&planner, &one_invoice(), &LedgerView::default(), day(0))),
        ["due:88121:0"]
    );
}

#[test]
fn a_sent_latest_milestone_does_not_bring_back_an_earlier_one() {
    let config = PlannerConfig {
        default_schedule: vec![0, 1],
        ..PlannerConfig::default()
    };
    let planner = Planner::new(config).unwrap();
    // due:0 was skipped by the catch-up that sent due:1; it stays skipped although fresh.
    let plan = plan_with(&planner, &one_invoice(), &recorded(&["due:88121:1"]), day(2));
    assert!(plan.events.is_empty(), "{:?}", keys(&plan));
}

#[test]
fn due_soon_is_never_sent_on_or_after_the_due_date() {
    let config = PlannerConfig {
        default_schedule: vec![-2, 5],
        ..PlannerConfig::default()
    };
    let planner = Planner::new(config).unwrap();
    let snapshot = one_invoice();
    // (run day, expected keys): -2 would still be fresh on days 0 and 1.
    let table: [(i64, &[&str]); 4] = [(-2, &["due:88121:-2"]), (-1, &["due:88121:-2"]), (0, &[]), (1, &[])];
    for (run_day, expected) in table {
        let plan = plan_with(&planner, &snapshot, &LedgerView::default(), day(run_day));
        assert_eq!(keys(&plan), expected, "run on due{run_day:+}");
    }
}

#[test]
fn paused_invoice_waits_and_resumes_at_the_pause_date() {
    let snapshot = one_invoice();
    let mut ledger = LedgerView::default();
    ledger.pauses.insert(
        "88121".to_owned(),
        Pause {
            until: day(2),
            reason: "dispute".to_owned(),
        },
    );
    for run_day in [-7, 0, 1] {
        let plan = plan_with(&planner(), &snapshot, &ledger, day(run_day));
        assert!(
            plan.events.iter().all(|e| e.kind != ReminderKind::Milestone),
            "day {run_day}: {:?}",
            keys(&plan)
        );
        assert!(matches!(
            &plan.skipped[0].reason,
            SkipReason::Paused { until, note } if *until == day(2) && note == "dispute"
        ));
    }
    // Resumed on the pause date: the latest milestone is still fresh, so it goes out.
    let plan = plan_with(&planner(), &snapshot, &ledger, day(2));
    assert_eq!(keys(&plan), ["due:88121:0"]);
}

#[test]
fn pause_does_not_hold_aging_thresholds() {
    let snapshot = one_invoice();
    let mut ledger = LedgerView {
        previous_run: Some(day(30)),
        ..LedgerView::default()
    };
    ledger.pauses.insert(
        "88121".to_owned(),
        Pause {
            until: day(60),
            reason: "promise to pay".to_owned(),
        },
    );
    let plan = plan_with(&planner(), &snapshot, &ledger, day(31));
    assert_eq!(keys(&plan), ["aging:88121:30"]);
}

#[test]
fn partial_payment_keeps_reminding_with_the_amount_remaining() {
    let snapshot = snapshot(vec![invoice("88121", "1200.00", "400.5")], Vec::new());
    let plan = plan_with(&planner(), &snapshot, &LedgerView::default(), day(0));
    assert_eq!(keys(&plan), ["due:88121:0"]);
    let line = serde_json::to_value(&plan.events[0]).unwrap();
    assert_eq!(line["value"], "400.50");
    assert_eq!(line["properties"]["amount_remaining"], "400.50");
    assert_eq!(line["properties"]["total"], "1200.00");
}

#[test]
fn paid_voided_and_settled_invoices_get_nothing() {
    let mut paid = invoice("1", "100", "0");
    paid.status = InvoiceStatus::Paid;
    paid.paid_date = Some(day(3));
    let mut voided = invoice("2", "100", "100");
    voided.status = InvoiceStatus::Voided;
    let settled = invoice("3", "100", "0");
    let snapshot = snapshot(vec![paid, voided, settled], Vec::new());
    let ledger = LedgerView {
        previous_run: Some(day(-10)),
        ..LedgerView::default()
    };
    for run_day in [-7, 0, 7, 31, 95] {
        let plan = plan_with(&planner(), &snapshot, &ledger, day(run_day));
        assert!(plan.events.is_empty(), "day {run_day}: {:?}", keys(&plan));
    }
}

#[test]
fn aging_thresholds_fire_once_each_when_first_crossed() {
    let snapshot = one_invoice();
    // (previous run, run, expected aging keys)
    let table: [(i64, i64, &[&str]); 6] = [
        (29, 30, &[]),
        (30, 31, &["aging:88121:30"]),
        (31, 32, &[]),
        (60, 61, &["aging:88121:60"]),
        (90, 91, &["aging:88121:90"]),
        (20, 95, &["aging:88121:30", "aging:88121:60", "aging:88121:90"]),
    ];
    for (previous, run_day, expected) in table {
        let ledger = LedgerView {
            previous_run: Some(day(previous)),
            ..LedgerView::default()
        };
        let plan = plan_with(&planner(), &snapshot, &ledger, day(run_day));
        let aging: Vec<_> = plan.events.iter().filter(|e| e.kind == ReminderKind::Aging).collect();
        let aging_keys: Vec<_> = aging.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(aging_keys, expected, "previous {previous}, run {run_day}");
        for event in aging {
            let threshold = event.properties.threshold.unwrap();
            assert_eq!(event.metric, "Invoice Aging Threshold Crossed");
            assert_eq!(
                event.milestone_date,
                day(threshold + 1),
                "crossed on the first day over"
            );
            assert_eq!(event.properties.days_past_due, Some(run_day));
        }
    }
}

#[test]
fn aging_threshold_already_in_the_ledger_is_not_repeated() {
    let ledger = LedgerView {
        previous_run: Some(day(20)),
        ..recorded(&["aging:88121:30"])
    };
    let plan = plan_with(&planner(), &one_invoice(), &ledger, day(65));
    let aging: Vec<_> = keys(&plan).into_iter().filter(|k| k.starts_with("aging:")).collect();
    assert_eq!(aging, ["aging:88121:60"]);
}

#[test]
fn aging_on_the_first_run_ever_only_reports_a_crossing_since_yesterday() {
    let snapshot = one_invoice();
    let at_100 = plan_with(&planner(), &snapshot, &LedgerView::default(), day(100));
    assert!(at_100.events.iter().all(|e| e.kind != ReminderKind::Aging));
    let at_61 = plan_with(&planner(), &snapshot, &LedgerView::default(), day(61));
    let aging: Vec<_> = keys(&at_61).into_iter().filter(|k| k.starts_with("aging:")).collect();
    assert_eq!(aging, ["aging:88121:60"]);
}

#[test]
fn a_same_day_retry_plans_an_unconfirmed_aging_key_again() {
    // The retry's previous run is the same day; the ledger, not the date, dedupes.
    let ledger = LedgerView {
        previous_run: Some(day(31)),
        ..LedgerView::default()
    };
    let plan = plan_with(&planner(), &one_invoice(), &ledger, day(31));
    assert!(keys(&plan).contains(&"aging:88121:30"));
}

#[test]
fn null_due_date_falls_back_to_the_terms() {
    let mut undated = invoice("5", "10", "10");
    undated.due_date = None;
    undated.tran_date = date("2026-09-01");
    let snapshot = snapshot(vec![undated], Vec::new());
    let plan = plan_with(&planner(), &snapshot, &LedgerView::default(), date("2026-10-01"));
    assert_eq!(keys(&plan), ["due:5:0"]);
    assert_eq!(plan.events[0].properties.due_date, Some(date("2026-10-01")));
}

#[test]
fn schedule_is_chosen_by_payment_term_name() {
    let toml = r#"
        max_lateness_days = 3
        [schedules]
        "Net 60" = [14, -10, 0, 7]
    "#;
    let config: PlannerConfig = toml::from_str(toml).unwrap();
    let planner = Planner::new(config).unwrap();
    let mut net60 = snapshot(vec![invoice("9", "10", "10")], Vec::new());
    net60.customer.terms = Some(terms("Net 60", 60));
    assert_eq!(
        keys(&plan_with(&planner, &net60, &LedgerView::default(), day(-10))),
        ["due:9:-10"]
    );
    assert_eq!(
        keys(&plan_with(&planner, &net60, &LedgerView::default(), day(14))),
        ["due:9:14"]
    );
    let net30 = snapshot(vec![invoice("9", "10", "10")], Vec::new());
    assert!(
        plan_with(&planner, &net30, &LedgerView::default(), day(-10))
            .events
            .is_empty()
    );
    let mut no_terms = net30;
    no_terms.customer.terms = None;
    assert_eq!(
        keys(&plan_with(&planner, &no_terms, &LedgerView::default(), day(-7))),
        ["due:9:-7"]
    );
}

#[test]
fn empty_configuration_is_the_documented_default() {
    let config: PlannerConfig = toml::from_str("").unwrap();
    assert_eq!(config, PlannerConfig::default());
    assert_eq!(config.default_schedule, [-7, 0, 7]);
    assert_eq!(config.aging_thresholds, [30, 60, 90]);
    assert_eq!(config.recurring_interval_hours, 24);
    assert_eq!(config.recurring_cap, None);
    assert_eq!(config.max_lateness_days, 3);
    assert_eq!(config.metrics.balance, "Order Outstanding Balance Reminder");
    assert_eq!(config.metrics.standing, "Account Standing Changed");
}

#[test]
fn unusable_configuration_is_refused() {
    let table = [
        ("recurring_interval_hours = 0", ConfigError::ZeroInterval),
        ("max_lateness_days = -1", ConfigError::NegativeLateness(-1)),
        ("aging_thresholds = [30, -5]", ConfigError::NegativeThreshold(-5)),
        ("[metrics]\nstanding = ' '", ConfigError::EmptyMetric("standing")),
    ];
    for (toml, expected) in table {
        let config: PlannerConfig = toml::from_str(toml).unwrap();
        assert_eq!(Planner::new(config).unwrap_err(), expected, "{toml}");
    }
    assert!(toml::from_str::<PlannerConfig>("time_zone = 'Mars/Olympus'").is_err());
    assert!(toml::from_str::<PlannerConfig>("max_latenes_days = 2").is_err());
}

#[test]
fn kinds_can_be_turned_off_and_metrics_renamed() {
    let toml = "[kinds]\naging = false\n[metrics]\ndue_today = 'Pay Today'";
    let planner = Planner::new(toml::from_str(toml).unwrap()).unwrap();
    let ledger = LedgerView {
        previous_run: Some(day(-1)),
        ..LedgerView::default()
    };
    let plan = plan_with(&planner, &one_invoice(), &ledger, day(0));
    assert_eq!(plan.events[0].metric, "Pay Today");
    let plan = plan_with(
        &planner,
        &one_invoice(),
        &LedgerView {
            previous_run: Some(day(30)),
            ..LedgerView::default()
        },
        day(31),
    );
    assert!(plan.events.is_empty(), "{:?}", keys(&plan));
}

#[test]
fn event_time_is_the_start_of_the_milestone_day_in_the_account_time_zone() {
    let config: PlannerConfig = toml::from_str("time_zone = 'America/Los_Angeles'").unwrap();
    let planner = Planner::new(config).unwrap();
    let plan = plan_with(&planner, &one_invoice(), &LedgerView::default(), day(2));
    let line = serde_json::to_value(&plan.events[0]).unwrap();
    assert_eq!(line["time"], "2026-10-01T07:00:00Z");
}

#[test]
fn customer_without_a_usable_email_is_addressed_by_external_id() {
    for email in [None, Some("n/a"), Some("a@b"), Some("x@y.example, z@y.example")] {
        let mut snapshot = one_invoice();
        snapshot.customer.email = email.map(str::to_owned);
        let plan = plan_with(&planner(), &snapshot, &LedgerView::default(), day(0));
        assert_eq!(plan.events[0].profile.email, None, "{email:?}");
        assert_eq!(plan.events[0].profile.external_id, "netsuite:1042");
        let line = serde_json::to_value(&plan.events[0]).unwrap();
        assert!(line["profile"].get("email").is_none());
    }
}

fn balance_snapshot(status: &str, balance: Option<&str>) -> CustomerSnapshot {
    snapshot(Vec::new(), vec![order("7001", status, balance)])
}

#[test]
fn balance_fires_window_zero_at_detection_and_records_it() {
    let snapshot = balance_snapshot("pending_fulfillment", Some("750.00"));
    let plan = plan_with(&planner(), &snapshot, &LedgerView::default(), day(0));
    assert_eq!(keys(&plan), ["balance:7001:0"]);
    assert_eq!(
        plan.facts,
        [LedgerFact::BalanceDetected {
            order_id: "7001".to_owned(),
            on: day(0)
        }]
    );
    let line = serde_json::to_value(&plan.events[0]).unwrap();
    assert_eq!(line["metric"], "Order Outstanding Balance Reminder");
    assert_eq!(line["value"], "750.00");
    assert_eq!(line["properties"]["order_id"], "7001");
    assert_eq!(line["properties"]["document_number"], "SO-7001");
    assert_eq!(line["properties"]["balance_due"], "750.00");
    assert_eq!(line["properties"]["total"], "5000.00");
    assert_eq!(line["properties"]["window"], 0);
}

#[test]
fn balance_window_counts_days_since_detection_even_after_a_skipped_day() {
    let snapshot = balance_snapshot("pending_approval", Some("750.00"));
    let mut ledger = recorded(&["balance:7001:0", "balance:7001:1"]);
    ledger.balance_detected.insert("7001".to_owned(), day(0));
    // Day 2 had no run; on day 3 only window 3 fires, dated at its own start.
    let plan = plan_with(&planner(), &snapshot, &ledger, day(3));
    assert_eq!(keys(&plan), ["balance:7001:3"]);
    assert_eq!(plan.events[0].milestone_date, day(3));
    assert!(plan.facts.is_empty());
    // A retry the same day finds it recorded.
    ledger.recorded_keys.insert("balance:7001:3".to_owned());
    assert!(plan_with(&planner(), &snapshot, &ledger, day(3)).events.is_empty());
}

#[test]
fn balance_window_follows_the_configured_interval() {
    let snapshot = balance_snapshot("partially_fulfilled", Some("10"));
    let mut ledger = LedgerView::default();
    ledger.balance_detected.insert("7001".to_owned(), day(0));
    let table = [(12, 3, 6, 3), (48, 3, 1, 2), (48, 4, 2, 4), (72, 2, 0, 0)];
    for (hours, run_day, window, window_start) in table {
        let config = PlannerConfig {
            recurring_interval_hours: hours,
            ..PlannerConfig::default()
        };
        let plan = plan_with(&Planner::new(config).unwrap(), &snapshot, &ledger, day(run_day));
        assert_eq!(
            keys(&plan),
            [format!("balance:7001:{window}")],
            "{hours}h day {run_day}"
        );
        assert_eq!(plan.events[0].milestone_date, day(window_start));
    }
}

#[test]
fn balance_cap_limits_the_number_of_reminders() {
    let config = PlannerConfig {
        recurring_cap: Some(2),
        ..PlannerConfig::default()
    };
    let planner = Planner::new(config).unwrap();
    let snapshot = balance_snapshot("pending_fulfillment", Some("10"));
    let mut ledger = recorded(&["balance:7001:0", "balance:70011:0", "balance:70011:1"]);
    ledger.balance_detected.insert("7001".to_owned(), day(0));
    assert_eq!(
        keys(&plan_with(&planner, &snapshot, &ledger, day(4))),
        ["balance:7001:4"]
    );
    ledger.recorded_keys.insert("balance:7001:4".to_owned());
    let plan = plan_with(&planner, &snapshot, &ledger, day(5));
    assert!(plan.events.is_empty());
    assert_eq!(plan.skipped[0].reason, SkipReason::CapReached { cap: 2 });
}

#[test]
fn balance_stops_when_paid_or_at_a_stop_status() {
    let mut ledger = LedgerView::default();
    ledger.balance_detected.insert("7001".to_owned(), day(0));
    let stopped = [
        ("pending_fulfillment", Some("0.00")),
        ("pending_fulfillment", None),
        ("pending_billing", Some("10")),
        ("billed", Some("10")),
        ("fulfilled", Some("10")),
        ("closed", Some("10")),
        ("cancelled", Some("10")),
        ("Closed", Some("10")),
    ];
    for (status, balance) in stopped {
        let plan = plan_with(&planner(), &balance_snapshot(status, balance), &ledger, day(2));
        assert!(plan.events.is_empty() && plan.facts.is_empty(), "{status} {balance:?}");
    }
    for status in ["pending_approval", "pending_fulfillment", "partially_fulfilled"] {
        let plan = plan_with(&planner(), &balance_snapshot(status, Some("10")), &ledger, day(2));
        assert_eq!(keys(&plan), ["balance:7001:2"], "{status}");
    }
}

#[test]
fn standing_change_fires_once_per_run() {
    let snapshot = snapshot(vec![invoice("1", "100", "60"), invoice("2", "300", "300")], Vec::new());
    let migration = StandingMigration {
        from: "standard".to_owned(),
        to: "payment_watch".to_owned(),
        toward_risk: true,
    };
    let config = PlannerConfig {
        default_schedule: Vec::new(),
        ..PlannerConfig::default()
    };
    let planner = Planner::new(config).unwrap();
    let plan_standing = |ledger: &LedgerView, migration: Option<&StandingMigration>| {
        planner.plan(&PlanInput {
            snapshot: &snapshot,
            account_standing: "payment_watch",
            standing_migration: migration,
            run_id: "run-7",
            as_of: day(3),
            ledger,
        })
    };
    let mut ledger = LedgerView::default();
    let plan = plan_standing(&ledger, Some(&migration));
    assert_eq!(keys(&plan), ["standing:1042:run-7"]);
    let line = serde_json::to_value(&plan.events[0]).unwrap();
    assert_eq!(line["metric"], "Account Standing Changed");
    assert_eq!(line["value"], "360.00");
    assert_eq!(line["milestone_date"], "2026-10-04");
    assert_eq!(line["properties"]["from"], "standard");
    assert_eq!(line["properties"]["to"], "payment_watch");
    assert_eq!(line["properties"]["toward_risk"], true);
    assert_eq!(line["properties"]["account_standing"], "payment_watch");
    ledger.recorded_keys.insert("standing:1042:run-7".to_owned());
    assert!(plan_standing(&ledger, Some(&migration)).events.is_empty());
    assert!(plan_standing(&LedgerView::default(), None).events.is_empty());
}

#[test]
fn event_line_round_trips_through_json() {
    let plan = plan_with(&planner(), &one_invoice(), &LedgerView::default(), day(7));
    let line = serde_json::to_string(&plan.events[0]).unwrap();
    assert!(!line.contains('\n'));
    let back: ledgerlink_reminder_planner::ReminderEvent = serde_json::from_str(&line).unwrap();
    assert_eq!(back.key, plan.events[0].key);
    assert_eq!(back.value, plan.events[0].value);
    assert_eq!(back.time, plan.events[0].time);
}

#[test]
fn ledger_refuses_a_second_reservation_and_foreign_confirmations() {
    let mut ledger = InMemoryLedger::new();
    ledger.reserve("due:1:0", "run-a", 1).unwrap();
    assert_eq!(
        ledger.reserve("due:1:0", "run-b", 1),
        Err(LedgerError::AlreadyRecorded {
            key: "due:1:0".to_owned()
        })
    );
    assert_eq!(
        ledger.confirm("due:1:0", "run-b"),
        Err(LedgerError::NotOwner {
            key: "due:1:0".to_owned()
        })
    );
    ledger.confirm("due:1:0", "run-a").unwrap();
    ledger.confirm("due:1:0", "run-a").unwrap();
    assert_eq!(ledger.expire_reservations(u64::MAX), Vec::<String>::new());
    assert!(matches!(ledger.state("due:1:0"), Some(KeyState::Confirmed { .. })));
}

#[test]
fn expired_reservation_is_planned_again_with_the_same_key() {
    let planner = planner();
    let snapshot = one_invoice();
    let mut ledger = InMemoryLedger::new();
    let plan = plan_with(&planner, &snapshot, &ledger.view(&snapshot), day(0));
    let key = plan.events[0].key.clone();
    ledger.reserve(&key, "run-a", 10).unwrap();
    assert!(
        plan_with(&planner, &snapshot, &ledger.view(&snapshot), day(1))
            .events
            .is_empty()
    );
    assert_eq!(ledger.expire_reservations(5), Vec::<String>::new());
    assert_eq!(ledger.expire_reservations(11), vec![key.clone()]);
    assert_eq!(
        ledger.confirm(&key, "run-a"),
        Err(LedgerError::NotReserved { key: key.clone() })
    );
    let again = plan_with(&planner, &snapshot, &ledger.view(&snapshot), day(1));
    assert_eq!(keys(&again), [key.as_str()]);
}

#[test]
fn ledger_view_holds_only_the_customers_keys() {
    let snapshot = snapshot(vec![invoice("1", "1", "1")], vec![order("7", "billed", None)]);
    let mut ledger = InMemoryLedger::new();
    for key in [
        "due:1:0",
        "due:11:0",
        "aging:1:30",
        "balance:7:0",
        "balance:77:0",
        "standing:1042:r",
        "standing:10420:r",
    ] {
        ledger.reserve(key, "run", 0).unwrap();
    }
    let view = ledger.view(&snapshot);
    let held: Vec<_> = view.recorded_keys.iter().map(String::as_str).collect();
    assert_eq!(held, ["aging:1:30", "balance:7:0", "due:1:0", "standing:1042:r"]);
}

#[test]
fn day_start_skips_a_missing_midnight() {
    // Brazil began daylight saving at midnight on 2018-11-04: the day began at 01:00.
    let start = ledgerlink_reminder_planner::start_of_day(date("2018-11-04"), chrono_tz::America::Sao_Paulo);
    assert_eq!(start.to_rfc3339(), "2018-11-04T03:00:00+00:00");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    #[test]
    fn at_most_one_milestone_per_invoice_and_never_due_soon_after_due(
        schedule in proptest::collection::vec(-20i64..30, 0..6),
        run_day in -30i64..60,
        lateness in 0i64..6,
    ) {
        let config = PlannerConfig {
            default_schedule: schedule.clone(),
            max_lateness_days: lateness,
            ..PlannerConfig::default()
        };
        let planner = Planner::new(config).unwrap();
        let plan = plan_with(&planner, &one_invoice(), &LedgerView::default(), day(run_day));
        let milestones: Vec<_> = plan.events.iter().filter(|e| e.kind == ReminderKind::Milestone).collect();
        proptest::prop_assert!(milestones.len() <= 1);
        for event in milestones {
            let offset = event.properties.offset_days.unwrap();
            proptest::prop_assert!(schedule.contains(&offset));
            proptest::prop_assert!(offset >= 0 || run_day < 0);
            proptest::prop_assert!(offset <= run_day && run_day - offset <= lateness);
            // No later milestone of the schedule was already due.
            proptest::prop_assert!(!schedule.iter().any(|&o| o > offset && o <= run_day && (o >= 0 || run_day < 0)));
        }
    }
}
