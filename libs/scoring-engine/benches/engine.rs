//! Throughput of the whole engine (metrics, segments, explanations) on one core.
//!
//! `cargo bench -p ledgerlink-scoring-engine [-- CUSTOMERS]`, or set
//! `LEDGERLINK_BENCH_CUSTOMERS`. Each synthetic customer has 20 invoices and 20 orders.

use std::hint::black_box;
use std::time::Instant;

use ledgerlink_domain::{
    CreditHold, Customer, CustomerSnapshot, Invoice, InvoiceStatus, Money, NaiveDate, Order, Terms, shift_days,
};
use ledgerlink_scoring_engine::Engine;
use rust_decimal::Decimal;

const DEFAULT_CUSTOMERS: usize = 200_000;
const INVOICES_PER_CUSTOMER: usize = 20;
const ORDERS_PER_CUSTOMER: usize = 20;

/// A small deterministic generator, so runs are comparable without a `rand` dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: u64) -> i64 {
        (self.next() % bound) as i64
    }
}

fn customer_count() -> usize {
    let from_args = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with("--"))
        .and_then(|arg| arg.parse().ok());
    let from_env = std::env::var("LEDGERLINK_BENCH_CUSTOMERS")
        .ok()
        .and_then(|value| value.parse().ok());
    from_args.or(from_env).unwrap_or(DEFAULT_CUSTOMERS)
}

fn synthetic_customer(index: usize, as_of: NaiveDate, rng: &mut XorShift) -> CustomerSnapshot {
    let invoices = (0..INVOICES_PER_CUSTOMER)
        .map(|i| {
            let mut tran_date = shift_days(as_of, -rng.below(400));
            let total = Money(Decimal::new(10_000 + rng.below(5_000_000), 2));
            let paid_date = shift_days(tran_date, 15 + rng.below(20));
            // Mostly paid history; what is still open is mostly recent, like a typical ledger.
            let is_paid = paid_date <= as_of && rng.below(12) != 0;
            if !is_paid && rng.below(10) != 0 {
                tran_date = shift_days(as_of, -rng.below(70));
            }
            let due_date = shift_days(tran_date, 30);
            Invoice {
                id: format!("{index}-{i}"),
                tran_id: None,
                tran_date,
                due_date: if rng.below(10) == 0 { None } else { Some(due_date) },
                total,
                amount_remaining: if is_paid { Money::ZERO } else { total },
                status: if is_paid {
                    InvoiceStatus::Paid
                } else {
                    InvoiceStatus::Open
                },
                paid_date: is_paid.then_some(paid_date),
            }
        })
        .collect();
    let orders = (0..ORDERS_PER_CUSTOMER)
        .map(|i| Order {
            id: format!("{index}-o{i}"),
            tran_id: None,
            tran_date: shift_days(as_of, -rng.below(500)),
            total: Money(Decimal::new(5_000 + rng.below(2_000_000), 2)),
            status: if rng.below(15) == 0 { "cancelled" } else { "billed" }.to_owned(),
            balance_due: None,
        })
        .collect();
    CustomerSnapshot {
        customer: Customer {
            id: index.to_string(),
            entity_id: Some(format!("CUST-{index}")),
            company_name: Some(format!("Company {index}")),
            email: Some(format!("ap{index}@example.com")),
            currency: Some("USD".to_owned()),
            is_inactive: false,
            terms: Some(Terms {
                id: "2".to_owned(),
                name: "Net 30".to_owned(),
                days_until_net_due: Some(30),
                discount_percent: None,
                discount_days: None,
            }),
            credit_limit: match rng.below(5) {
                0 => None,
                _ => Some(Money(Decimal::new(rng.below(40_000_000), 2))),
            },
            credit_hold: match rng.below(20) {
                0 => CreditHold::On,
                1 => CreditHold::Off,
                _ => CreditHold::Auto,
            },
            last_modified: None,
        },
        invoices,
        orders,
        contacts: Vec::new(),
    }
}

fn main() {
    let customers = customer_count();
    let as_of = NaiveDate::from_ymd_opt(2026, 6, 30).expect("valid date");
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let snapshots: Vec<CustomerSnapshot> = (0..customers)
        .map(|index| synthetic_customer(index, as_of, &mut rng))
        .collect();
    let engine = Engine::default();

    // Warm up caches and branch predictors on a slice first.
    for snapshot in snapshots.iter().take(1_000) {
        black_box(engine.score(black_box(snapshot), as_of, None));
    }

    let started = Instant::now();
    let mut risk_total = 0u64;
    let mut standings: std::collections::BTreeMap<String, usize> = Default::default();
    for snapshot in &snapshots {
        let score = engine.score(black_box(snapshot), as_of, None);
        risk_total += u64::from(score.risk_score);
        *standings.entry(score.account_standing.clone()).or_default() += 1;
        black_box(&score);
    }
    let elapsed = started.elapsed();

    let seconds = elapsed.as_secs_f64();
    let invoices = customers * INVOICES_PER_CUSTOMER;
    println!("customers:            {customers}");
    println!("invoices:             {invoices}");
    println!("elapsed:              {seconds:.3} s");
    println!("customers/second:     {:.0}", customers as f64 / seconds);
    println!("invoices/second/core: {:.0}", invoices as f64 / seconds);
    println!(
        "(mean risk {:.1}; standings {standings:?})",
        risk_total as f64 / customers.max(1) as f64
    );
}
