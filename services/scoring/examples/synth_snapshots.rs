//! Writes synthetic snapshot JSON Lines to stdout for the `ledgerlink score` benchmark:
//! `synth_snapshots [CUSTOMERS] [SEED]` (defaults 1,000,000 and 1), about 20 invoices
//! and 20 orders per customer, dated around 2026-11-20.
//!
//! ```sh
//! cargo build --release -p ledgerlink -p ledgerlink-scoring --examples
//! target/release/examples/synth_snapshots 1000000 > /tmp/snapshots.jsonl
//! target/release/ledgerlink score --input /tmp/snapshots.jsonl --as-of 2026-11-20 \
//!     --output /dev/null --stats
//! ```

use std::io::{BufWriter, Write};

use ledgerlink_domain::{
    CreditHold, Customer, CustomerSnapshot, Invoice, InvoiceStatus, Money, Order, Terms, shift_days,
};

/// xorshift64*: deterministic and dependency-free; statistical quality is irrelevant here.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn days(&mut self, n: u64) -> i64 {
        i64::try_from(self.below(n)).unwrap_or(0)
    }
}

fn money(cents: u64) -> Money {
    Money::from(rust_decimal::Decimal::new(i64::try_from(cents).unwrap_or(0), 2))
}

fn snapshot(rng: &mut Rng, index: u64) -> CustomerSnapshot {
    let as_of = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap_or_default();
    let terms_days = [15, 30, 45, 60][rng.below(4) as usize];
    let invoices = (0..16 + rng.below(9))
        .map(|n| {
            let tran_date = shift_days(as_of, -rng.days(400));
            let due_date = shift_days(tran_date, terms_days);
            let total = 10_000 + rng.below(2_000_000);
            let paid = due_date < shift_days(as_of, -rng.days(60));
            let (status, remaining, paid_date) = if paid {
                let paid_date = shift_days(due_date, rng.days(40) - 15);
                (InvoiceStatus::Paid, 0, Some(paid_date.min(as_of).max(tran_date)))
            } else {
                (InvoiceStatus::Open, total - rng.below(total / 2), None)
            };
            Invoice {
                id: format!("{index}-i{n}"),
                tran_id: Some(format!("INV-{index}-{n}")),
                tran_date,
                due_date: (rng.below(4) != 0).then_some(due_date),
                total: money(total),
                amount_remaining: money(remaining),
                status,
                paid_date,
            }
        })
        .collect();
    let orders = (0..16 + rng.below(9))
        .map(|n| Order {
            id: format!("{index}-o{n}"),
            tran_id: None,
            tran_date: shift_days(as_of, -rng.days(730)),
            total: money(10_000 + rng.below(3_000_000)),
            status: ["billed", "pending_fulfillment", "cancelled", "closed"][rng.below(4) as usize].to_owned(),
            balance_due: None,
        })
        .collect();
    CustomerSnapshot {
        customer: Customer {
            id: index.to_string(),
            entity_id: Some(format!("CUST-{index}")),
            company_name: Some(format!("Customer {index}")),
            email: Some(format!("ap{index}@example.com")),
            currency: Some("USD".to_owned()),
            is_inactive: false,
            terms: Some(Terms {
                id: terms_days.to_string(),
                name: format!("Net {terms_days}"),
                days_until_net_due: Some(terms_days),
                discount_percent: None,
                discount_days: None,
            }),
            credit_limit: (rng.below(5) != 0).then(|| money(rng.below(10_000_000) * 100)),
            credit_hold: [CreditHold::Auto, CreditHold::Auto, CreditHold::Off, CreditHold::On][rng.below(4) as usize],
            last_modified: None,
        },
        invoices,
        orders,
        contacts: Vec::new(),
    }
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let customers: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(1_000_000);
    let seed: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(1);
    let mut rng = Rng(seed.max(1));
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    for index in 0..customers {
        serde_json::to_writer(&mut out, &snapshot(&mut rng, index))?;
        out.write_all(b"\n")?;
    }
    out.flush()
}
