//! Throughput of the reminder planner on one core, over the shared synthetic data set.
//!
//! `cargo bench -p ledgerlink-reminder-planner [-- CUSTOMERS]`, or set
//! `LEDGERLINK_BENCH_CUSTOMERS` (default 50,000). Two passes: a first run with an empty
//! ledger (every due reminder is planned) and a repeat with every planned key recorded
//! (the steady state of hourly runs: nothing new, every key looked up).

use std::collections::BTreeSet;
use std::hint::black_box;
use std::time::Instant;

use chrono::NaiveDate;
use ledgerlink_domain::CustomerSnapshot;
use ledgerlink_reminder_planner::{LedgerView, PlanInput, Planner, PlannerConfig};
use ledgerlink_synthdata::{Generator, GeneratorConfig};

const DEFAULT_CUSTOMERS: u64 = 50_000;

fn customer_count() -> u64 {
    let from_args = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with("--"))
        .and_then(|arg| arg.parse().ok());
    let from_env = std::env::var("LEDGERLINK_BENCH_CUSTOMERS")
        .ok()
        .and_then(|value| value.parse().ok());
    from_args.or(from_env).unwrap_or(DEFAULT_CUSTOMERS)
}

/// Plans every snapshot against its ledger; returns the events planned and the time.
fn pass(planner: &Planner, snapshots: &[CustomerSnapshot], ledgers: &[LedgerView], as_of: NaiveDate) -> (usize, f64) {
    let started = Instant::now();
    let mut events = 0;
    for (snapshot, ledger) in snapshots.iter().zip(ledgers) {
        let plan = planner.plan(&PlanInput {
            snapshot: black_box(snapshot),
            account_standing: "good_standing",
            standing_migration: None,
            run_id: "bench",
            as_of,
            ledger,
        });
        events += plan.events.len();
        black_box(&plan);
    }
    (events, started.elapsed().as_secs_f64())
}

fn main() {
    let customers = customer_count();
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 20).expect("valid date");
    let generator = Generator::new(GeneratorConfig::new(42, customers, as_of)).expect("generator");
    let snapshots: Vec<CustomerSnapshot> = generator.customers().map(|c| c.expected_snapshot()).collect();
    let invoices: usize = snapshots.iter().map(|s| s.invoices.len()).sum();
    let orders: usize = snapshots.iter().map(|s| s.orders.len()).sum();
    let planner = Planner::new(PlannerConfig::default()).expect("default configuration");

    // Warm up on a slice first.
    let empty: Vec<LedgerView> = vec![LedgerView::default(); snapshots.len()];
    let warm = snapshots.len().min(1_000);
    black_box(pass(&planner, &snapshots[..warm], &empty[..warm], as_of));

    let (planned, first_secs) = pass(&planner, &snapshots, &empty, as_of);
    // The ledger after that run: every planned key recorded.
    let recorded: Vec<LedgerView> = snapshots
        .iter()
        .zip(&empty)
        .map(|(snapshot, ledger)| {
            let plan = planner.plan(&PlanInput {
                snapshot,
                account_standing: "good_standing",
                standing_migration: None,
                run_id: "bench",
                as_of,
                ledger,
            });
            LedgerView {
                recorded_keys: plan.events.into_iter().map(|e| e.key).collect::<BTreeSet<_>>(),
                ..LedgerView::default()
            }
        })
        .collect();
    let (repeated, repeat_secs) = pass(&planner, &snapshots, &recorded, as_of);

    println!("customers:                 {customers}");
    println!("invoices, orders:          {invoices}, {orders}");
    println!(
        "first run:                 {first_secs:.3} s, {planned} events, {:.0} customers/s, {:.0} invoices/s",
        customers as f64 / first_secs,
        invoices as f64 / first_secs
    );
    println!(
        "repeat (ledger recorded):  {repeat_secs:.3} s, {repeated} events, {:.0} customers/s, {:.0} invoices/s",
        customers as f64 / repeat_secs,
        invoices as f64 / repeat_secs
    );
}
