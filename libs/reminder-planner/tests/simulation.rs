//! The long simulation: 180 days of invoices and orders changing, runs skipped,
//! retried and run twice at once against one ledger, with sends that crash or lose
//! their acknowledgement. Every send is checked against the rules of
//! `spec/reminders.md` as they stood on the run's date, and every plan against an
//! oracle written from the spec.

use std::collections::{BTreeMap, BTreeSet};

use ledgerlink_domain::{
    CreditHold, Customer, CustomerSnapshot, Invoice, InvoiceStatus, Money, NaiveDate, Order, Terms, shift_days,
};
use ledgerlink_reminder_planner::testing::{InMemoryLedger, KeyState};
use ledgerlink_reminder_planner::{
    LedgerView, Pause, PlanInput, Planner, PlannerConfig, ReminderEvent, ReminderKind, StandingMigration,
    days_past_due, is_owing, outstanding_balance, start_of_day,
};
use proptest::prelude::*;

const DAYS: i64 = 180;
const STANDINGS: [&str; 4] = ["standard", "high_credit_vip", "payment_watch", "credit_hold"];
const ACTIVE_ORDER: [&str; 3] = ["pending_approval", "pending_fulfillment", "partially_fulfilled"];
const STOPPED_ORDER: [&str; 4] = ["pending_billing", "billed", "closed", "cancelled"];

/// splitmix64: the whole scenario follows from the proptest-chosen seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

struct SimCustomer {
    snapshot: CustomerSnapshot,
    standing: String,
    /// The standing the last scoring run saw, to record migrations like scoring does.
    scored_standing: String,
}

/// What the simulated Klaviyo received for one key.
#[derive(Default)]
struct Deliveries {
    count: u32,
    confirmed: bool,
}

struct Simulation {
    rng: Rng,
    planner: Planner,
    config: PlannerConfig,
    customers: Vec<SimCustomer>,
    ledger: InMemoryLedger,
    pauses: BTreeMap<String, Pause>,
    /// First run date at which each order had an active balance (the detection).
    detected: BTreeMap<String, NaiveDate>,
    /// Highest milestone offset delivered per invoice.
    latest_offset: BTreeMap<String, i64>,
    /// Distinct balance windows delivered per order.
    balance_windows: BTreeMap<String, BTreeSet<u64>>,
    /// Standing migration recorded per run id and customer.
    migrations: BTreeMap<(String, String), StandingMigration>,
    klaviyo: BTreeMap<String, Deliveries>,
    next_id: u64,
    tick: u64,
    planned_runs: u32,
}

fn base_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
}

fn money(cents: u64) -> Money {
    format!("{}.{:02}", cents / 100, cents % 100).parse().unwrap()
}

fn new_customer(rng: &mut Rng, index: usize) -> SimCustomer {
    let terms = match rng.below(3) {
        0 => None,
        1 => Some(("Net 30", 30)),
        _ => Some(("Net 60", 60)),
    };
    let email = match rng.below(4) {
        0 => None,
        1 => Some("not an email".to_owned()),
        _ => Some(format!("ap{index}@customer.example")),
    };
    SimCustomer {
        snapshot: CustomerSnapshot {
            customer: Customer {
                id: format!("{}", 1000 + index),
                entity_id: None,
                company_name: None,
                email,
                currency: Some("USD".to_owned()),
                is_inactive: false,
                terms: terms.map(|(name, days)| Terms {
                    id: days.to_string(),
                    name: name.to_owned(),
                    days_until_net_due: Some(days),
                    discount_percent: None,
                    discount_days: None,
                }),
                credit_limit: None,
                credit_hold: CreditHold::Auto,
                last_modified: None,
            },
            invoices: Vec::new(),
            orders: Vec::new(),
            contacts: Vec::new(),
        },
        standing: "standard".to_owned(),
        scored_standing: "standard".to_owned(),
    }
}

impl Simulation {
    fn new(seed: u64) -> Simulation {
        let mut rng = Rng(seed);
        let mut config = PlannerConfig::default();
        config.schedules.insert("Net 60".to_owned(), vec![-10, 0, 7, 14]);
        if rng.percent(50) {
            config.recurring_cap = Some(1 + rng.below(4) as u32);
        }
        let planner = Planner::new(config).unwrap();
        let config = planner.config().clone();
        let customers = (0..2 + rng.below(3) as usize)
            .map(|index| new_customer(&mut rng, index))
            .collect();
        Simulation {
            rng,
            planner,
            config,
            customers,
            ledger: InMemoryLedger::new(),
            pauses: BTreeMap::new(),
            detected: BTreeMap::new(),
            latest_offset: BTreeMap::new(),
            balance_windows: BTreeMap::new(),
            migrations: BTreeMap::new(),
            klaviyo: BTreeMap::new(),
            next_id: 1,
            tick: 0,
            planned_runs: 0,
        }
    }

    fn fresh_id(&mut self) -> String {
        self.next_id += 1;
        self.next_id.to_string()
    }

    /// One day of business: new documents, payments, voids, disputes, order changes.
    fn evolve(&mut self, today: NaiveDate) {
        for index in 0..self.customers.len() {
            if self.rng.percent(15) {
                let id = self.fresh_id();
                let total = money(10_000 + self.rng.below(500_000));
                let due_date = if self.rng.percent(20) {
                    None
                } else {
                    Some(shift_days(today, self.rng.below(45) as i64))
                };
                self.customers[index].snapshot.invoices.push(Invoice {
                    id: id.clone(),
                    tran_id: Some(format!("INV-{id}")),
                    tran_date: today,
                    due_date,
                    total,
                    amount_remaining: total,
                    status: InvoiceStatus::Open,
                    paid_date: None,
                });
            }
            if self.rng.percent(6) {
                let id = self.fresh_id();
                let balance = self.rng.percent(70).then(|| money(5_000 + self.rng.below(100_000)));
                let status = self.rng.pick(&ACTIVE_ORDER).to_owned();
                self.customers[index].snapshot.orders.push(Order {
                    id: id.clone(),
                    tran_id: Some(format!("SO-{id}")),
                    tran_date: today,
                    total: money(200_000),
                    status,
                    balance_due: balance,
                });
            }
            let mut pauses = Vec::new();
            for invoice in &mut self.customers[index].snapshot.invoices {
                if invoice.status != InvoiceStatus::Open {
                    continue;
                }
                let roll = self.rng.below(100);
                match roll {
                    0..3 => {
                        let payment = money(1 + self.rng.below(500_000));
                        if payment < invoice.amount_remaining {
                            invoice.amount_remaining -= payment;
                        }
                    }
                    3..6 => {
                        invoice.amount_remaining = Money::ZERO;
                        invoice.status = InvoiceStatus::Paid;
                        invoice.paid_date = Some(today);
                    }
                    6..7 => invoice.status = InvoiceStatus::Voided,
                    7..9 => pauses.push((
                        invoice.id.clone(),
                        Pause {
                            until: shift_days(today, 1 + self.rng.below(10) as i64),
                            reason: "dispute".to_owned(),
                        },
                    )),
                    _ => {}
                }
            }
            for (invoice_id, pause) in pauses {
                self.ledger.pause(&invoice_id, pause.clone());
                self.pauses.insert(invoice_id, pause);
            }
            for order in &mut self.customers[index].snapshot.orders {
                if STOPPED_ORDER.contains(&order.status.as_str()) {
                    continue;
                }
                match self.rng.below(100) {
                    0..5 => order.balance_due = Some(Money::ZERO),
                    5..9 => order.balance_due = Some(money(1_000 + self.rng.below(50_000))),
                    9..12 => order.status = self.rng.pick(&STOPPED_ORDER).to_owned(),
                    12..14 => order.status = self.rng.pick(&ACTIVE_ORDER).to_owned(),
                    _ => {}
                }
            }
            if self.rng.percent(5) {
                self.customers[index].standing = self.rng.pick(&STANDINGS).to_owned();
            }
        }
    }

    /// The day's run(s): once, a retry of the same run, or two planners at once.
    fn run_day(&mut self, today: NaiveDate) {
        let run_id = format!("run-{today}");
        for customer in &mut self.customers {
            if customer.standing != customer.scored_standing {
                let migration = StandingMigration {
                    from: customer.scored_standing.clone(),
                    to: customer.standing.clone(),
                    toward_risk: matches!(customer.standing.as_str(), "payment_watch" | "credit_hold"),
                };
                self.migrations
                    .insert((run_id.clone(), customer.snapshot.customer.id.clone()), migration);
                customer.scored_standing = customer.standing.clone();
            }
        }
        match self.rng.below(100) {
            0..70 => self.run(today, &run_id, 1),
            70..85 => {
                self.run(today, &run_id, 1);
                self.run(today, &run_id, 1);
            }
            _ => self.run(today, &run_id, 2),
        }
    }

    /// One run with `planners` planners interleaving their reservations.
    fn run(&mut self, today: NaiveDate, run_id: &str, planners: usize) {
        self.tick += 1;
        if self.rng.percent(70) {
            // The reservation time-to-live elapsed since the last run.
            self.ledger.expire_reservations(self.tick);
        }
        self.planned_runs += 1;
        for index in 0..self.customers.len() {
            let snapshot = self.customers[index].snapshot.clone();
            let customer_id = snapshot.customer.id.clone();
            let migration = self.migrations.get(&(run_id.to_owned(), customer_id)).cloned();
            let view = self.ledger.view(&snapshot);
            let standing = self.customers[index].standing.clone();
            let input = PlanInput {
                snapshot: &snapshot,
                account_standing: &standing,
                standing_migration: migration.as_ref(),
                run_id,
                as_of: today,
                ledger: &view,
            };
            let plans: Vec<_> = (0..planners).map(|_| self.planner.plan(&input)).collect();
            assert!(plans.windows(2).all(|pair| pair[0] == pair[1]), "planning is not pure");
            let planned: BTreeSet<String> = plans[0].events.iter().map(|e| e.key.clone()).collect();
            let expected = self.oracle(&snapshot, migration.is_some(), run_id, &view, today);
            assert_eq!(planned, expected, "plan differs from the spec oracle on {today}");
            for fact in &plans[0].facts {
                self.ledger.record_fact(fact);
            }
            for order in &snapshot.orders {
                if outstanding_balance(order).is_some() {
                    self.detected.entry(order.id.clone()).or_insert(today);
                }
            }
            // Interleave the planners' reservation calls in a random order.
            let mut queues: Vec<_> = plans.into_iter().map(|plan| plan.events.into_iter()).collect();
            let mut customer_ok = true;
            while !queues.is_empty() {
                let pick = self.rng.below(queues.len() as u64) as usize;
                let Some(event) = queues[pick].next() else {
                    queues.remove(pick);
                    continue;
                };
                let owner = format!("{run_id}/planner-{pick}/tick-{}", self.tick);
                if self.ledger.reserve(&event.key, &owner, self.tick).is_err() {
                    continue;
                }
                match self.rng.below(100) {
                    0..4 => customer_ok = false,
                    4..8 => {
                        self.deliver(&snapshot, &event, today);
                        customer_ok = false;
                    }
                    _ => {
                        self.deliver(&snapshot, &event, today);
                        self.ledger.confirm(&event.key, &owner).unwrap();
                        self.klaviyo.get_mut(&event.key).unwrap().confirmed = true;
                    }
                }
            }
            if customer_ok {
                self.ledger.record_successful_run(&snapshot, today);
            }
        }
    }

    /// What the spec says is due, computed independently of the planner.
    fn oracle(
        &self,
        snapshot: &CustomerSnapshot,
        has_migration: bool,
        run_id: &str,
        view: &LedgerView,
        today: NaiveDate,
    ) -> BTreeSet<String> {
        let mut keys = BTreeSet::new();
        let terms = snapshot.customer.terms.as_ref();
        let offsets = self.config.schedule_for(terms.map(|t| t.name.as_str()));
        for invoice in snapshot.invoices.iter().filter(|i| is_owing(i)) {
            let due = invoice.effective_due_date(terms);
            let paused = view.pauses.get(&invoice.id).is_some_and(|p| today < p.until);
            let latest = offsets
                .iter()
                .copied()
                .filter(|&o| shift_days(due, o) <= today && !(o < 0 && today >= due))
                .max();
            if let Some(offset) = latest {
                let key = format!("due:{}:{offset}", invoice.id);
                let fresh = (today - shift_days(due, offset)).num_days() <= self.config.max_lateness_days;
                if !paused && fresh && !view.is_recorded(&key) {
                    keys.insert(key);
                }
            }
            let previous = view
                .invoice_last_seen
                .get(&invoice.id)
                .copied()
                .or(view.previous_run)
                .filter(|&d| d < today)
                .unwrap_or_else(|| shift_days(today, -1));
            for &threshold in &self.config.aging_thresholds {
                let key = format!("aging:{}:{threshold}", invoice.id);
                if days_past_due(invoice, terms, today) > threshold
                    && days_past_due(invoice, terms, previous) <= threshold
                    && !view.is_recorded(&key)
                {
                    keys.insert(key);
                }
            }
        }
        for order in snapshot.orders.iter().filter(|o| outstanding_balance(o).is_some()) {
            let detected = view.balance_detected.get(&order.id).copied().unwrap_or(today);
            let key = format!("balance:{}:{}", order.id, (today - detected).num_days());
            let sent = view
                .recorded_keys
                .iter()
                .filter(|k| k.starts_with(&format!("balance:{}:", order.id)))
                .count();
            let capped = self.config.recurring_cap.is_some_and(|cap| sent >= cap as usize);
            if !view.is_recorded(&key) && !capped {
                keys.insert(key);
            }
        }
        let standing = format!("standing:{}:{run_id}", snapshot.customer.id);
        if has_migration && !view.is_recorded(&standing) {
            keys.insert(standing);
        }
        keys
    }

    /// A send to the simulated Klaviyo, checked against the rules as of `today`.
    fn deliver(&mut self, snapshot: &CustomerSnapshot, event: &ReminderEvent, today: NaiveDate) {
        let record = self.klaviyo.entry(event.key.clone()).or_default();
        assert!(!record.confirmed, "{} sent again after it was confirmed", event.key);
        record.count += 1;
        assert_eq!(event.time, start_of_day(event.milestone_date, self.config.time_zone));
        assert!(event.milestone_date <= today, "{} dated in the future", event.key);
        assert_eq!(event.profile.external_id, format!("netsuite:{}", snapshot.customer.id));
        let terms = snapshot.customer.terms.as_ref();
        let parts: Vec<&str> = event.key.split(':').collect();
        match event.kind {
            ReminderKind::Milestone => {
                let invoice = find_invoice(snapshot, parts[1]);
                let offset: i64 = parts[2].parse().unwrap();
                assert!(is_owing(invoice), "{} sent for a settled invoice", event.key);
                let paused = self.pauses.get(&invoice.id).is_some_and(|p| today < p.until);
                assert!(!paused, "{} sent while paused", event.key);
                let due = invoice.effective_due_date(terms);
                assert!(offset >= 0 || today < due, "{} Due Soon on or after due", event.key);
                assert_eq!(event.milestone_date, shift_days(due, offset));
                let late = (today - event.milestone_date).num_days();
                assert!(late <= self.config.max_lateness_days, "{} stale by {late}", event.key);
                let offsets = self.config.schedule_for(terms.map(|t| t.name.as_str()));
                assert!(
                    !offsets
                        .iter()
                        .any(|&o| o > offset && shift_days(due, o) <= today && !(o < 0 && today >= due)),
                    "{} is not the latest milestone due on {today}",
                    event.key
                );
                let latest = self.latest_offset.entry(invoice.id.clone()).or_insert(i64::MIN);
                assert!(offset >= *latest, "{} after a later milestone", event.key);
                *latest = offset;
                assert_eq!(event.value, invoice.amount_remaining);
            }
            ReminderKind::Aging => {
                let invoice = find_invoice(snapshot, parts[1]);
                let threshold: i64 = parts[2].parse().unwrap();
                assert!(is_owing(invoice), "{} sent for a settled invoice", event.key);
                assert!(days_past_due(invoice, terms, today) > threshold);
                let due = invoice.effective_due_date(terms);
                assert_eq!(event.milestone_date, shift_days(due, threshold + 1));
                assert_eq!(event.value, invoice.amount_remaining);
            }
            ReminderKind::Balance => {
                let order = snapshot.orders.iter().find(|o| o.id == parts[1]).unwrap();
                let balance = outstanding_balance(order);
                assert_eq!(balance, Some(event.value), "{} sent for a stopped balance", event.key);
                let window: u64 = parts[2].parse().unwrap();
                let detected = self.detected[&order.id];
                assert_eq!(
                    window as i64,
                    (today - detected).num_days(),
                    "{} is not the current window",
                    event.key
                );
                self.balance_windows.entry(order.id.clone()).or_default().insert(window);
            }
            ReminderKind::Standing => {
                let migration = &self.migrations[&(parts[2].to_owned(), snapshot.customer.id.clone())];
                assert_eq!(event.properties.from.as_ref(), Some(&migration.from));
                assert_eq!(event.properties.to.as_ref(), Some(&migration.to));
            }
        }
    }

    fn simulate(mut self) {
        let mut downtime = 0;
        for day in 0..DAYS {
            let today = shift_days(base_date(), day);
            self.evolve(today);
            if downtime > 0 {
                downtime -= 1;
                continue;
            }
            if self.rng.percent(8) {
                downtime = 1 + self.rng.below(8);
                continue;
            }
            self.run_day(today);
        }
        assert!(self.planned_runs > 0);
        let confirmed: BTreeSet<&str> = self.ledger.confirmed_keys().collect();
        for (key, record) in &self.klaviyo {
            // A key sent more than once was only ever re-sent after an unconfirmed
            // reservation expired; Klaviyo's unique_id keeps that to one email.
            assert!(record.count >= 1);
            if record.confirmed {
                assert!(
                    confirmed.contains(key.as_str()),
                    "{key} confirmed but not in the ledger"
                );
            }
        }
        for key in &confirmed {
            assert!(self.klaviyo.contains_key(*key), "{key} confirmed but never sent");
            assert!(matches!(self.ledger.state(key), Some(KeyState::Confirmed { .. })));
        }
        if let Some(cap) = self.config.recurring_cap {
            for (order_id, windows) in &self.balance_windows {
                let confirmed = windows
                    .iter()
                    .filter(|w| self.klaviyo[&format!("balance:{order_id}:{w}")].confirmed)
                    .count();
                // A send whose acknowledgement was lost leaves no trace in the ledger
                // once its reservation expires, so only confirmed sends count to the cap.
                assert!(confirmed <= cap as usize, "cap exceeded for order {order_id}");
            }
        }
        let milestones = self.klaviyo.keys().filter(|k| k.starts_with("due:")).count();
        assert!(milestones > 0, "the scenario sent no milestone at all");
    }
}

fn find_invoice<'a>(snapshot: &'a CustomerSnapshot, id: &str) -> &'a Invoice {
    snapshot.invoices.iter().find(|i| i.id == id).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn long_simulation_keeps_every_reminder_rule(seed in any::<u64>()) {
        Simulation::new(seed).simulate();
    }
}
