//! Properties over random snapshots.

mod support;

use std::sync::LazyLock;

use ledgerlink_domain::{CreditHold, CustomerSnapshot, Invoice, InvoiceStatus, Money, Order, shift_days};
use ledgerlink_scoring_engine::{Engine, days_past_due};
use proptest::prelude::*;
use rust_decimal::Decimal;
use support::*;

/// Parsing the rules once keeps the cases fast.
static ENGINE: LazyLock<Engine> = LazyLock::new(Engine::default);

fn cents(max: i64) -> impl Strategy<Value = Money> {
    (0..max).prop_map(|c| Money(Decimal::new(c, 2)))
}

fn invoice() -> impl Strategy<Value = Invoice> {
    (
        0..3u8,
        -500i64..30,
        prop::option::of(0i64..90),
        cents(5_000_000),
        0u8..=100,
        0i64..200,
    )
        .prop_map(|(status, tran_offset, due_after, total, remaining_pct, paid_after)| {
            let tran_date = day(tran_offset);
            let status = match status {
                0 => InvoiceStatus::Open,
                1 => InvoiceStatus::Paid,
                _ => InvoiceStatus::Voided,
            };
            let remaining = match status {
                InvoiceStatus::Open => Money(total.amount() * Decimal::from(remaining_pct) / Decimal::from(100)),
                _ => Money::ZERO,
            };
            Invoice {
                id: String::new(),
                tran_id: None,
                tran_date,
                due_date: due_after.map(|days| shift_days(tran_date, days)),
                total,
                amount_remaining: remaining,
                status,
                paid_date: (status == InvoiceStatus::Paid).then(|| shift_days(tran_date, paid_after)),
            }
        })
}

fn order() -> impl Strategy<Value = Order> {
    (-800i64..5, cents(3_000_000), 0..4u8).prop_map(|(offset, total, status)| Order {
        id: String::new(),
        tran_id: None,
        tran_date: day(offset),
        total,
        status: ["billed", "pending_fulfillment", "cancelled", "closed_unbilled"][usize::from(status)].into(),
        balance_due: None,
    })
}

fn snapshot_strategy() -> impl Strategy<Value = CustomerSnapshot> {
    (
        prop::collection::vec(invoice(), 0..25),
        prop::collection::vec(order(), 0..25),
        prop::option::of(prop_oneof![Just(Money::ZERO), cents(10_000_000)]),
        0..3u8,
        prop::option::of(0i64..60),
    )
        .prop_map(|(mut invoices, mut orders, limit, hold, terms_days)| {
            for (i, invoice) in invoices.iter_mut().enumerate() {
                invoice.id = format!("i{i}");
            }
            for (i, order) in orders.iter_mut().enumerate() {
                order.id = format!("o{i}");
            }
            let mut s = snapshot(invoices, orders);
            s.customer.credit_limit = limit;
            s.customer.credit_hold = [CreditHold::Auto, CreditHold::On, CreditHold::Off][usize::from(hold)];
            s.customer.terms = terms_days.map(net);
            s
        })
}

fn shuffled_pair() -> impl Strategy<Value = (CustomerSnapshot, CustomerSnapshot)> {
    snapshot_strategy().prop_flat_map(|s| {
        let invoices = Just(s.invoices.clone()).prop_shuffle();
        let orders = Just(s.orders.clone()).prop_shuffle();
        (Just(s), invoices, orders).prop_map(|(s, invoices, orders)| {
            let mut other = s.clone();
            other.invoices = invoices;
            other.orders = orders;
            (s, other)
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn aging_buckets_sum_to_the_open_balance(s in snapshot_strategy()) {
        let m = ENGINE.metrics(&s, as_of());
        prop_assert_eq!(m.aging.total(), m.open_balance);
        prop_assert!(m.overdue_balance <= m.open_balance);
        prop_assert!(m.overdue_invoice_count <= m.open_invoice_count);
        prop_assert_eq!(m.open_balance - m.aging.current, m.overdue_balance);
    }

    #[test]
    fn ratios_stay_in_range(s in snapshot_strategy()) {
        let score = ENGINE.score(&s, as_of(), None);
        prop_assert!(score.risk_score <= 100);
        if let Some(rate) = score.on_time_rate {
            prop_assert!((0.0..=1.0).contains(&rate));
        }
        if let Some(sd) = score.payment_consistency {
            prop_assert!(sd >= 0.0);
        }
        prop_assert_eq!(score.payment_consistency.is_some(), score.paid_count >= 2);
    }

    #[test]
    fn scores_do_not_depend_on_record_order((s, shuffled) in shuffled_pair()) {
        let engine = &*ENGINE;
        let first = engine.score(&s, as_of(), Some(day(-7)));
        let mut second = engine.score(&shuffled, as_of(), Some(day(-7)));
        // The customer object is the same; everything computed must be too.
        second.customer = first.customer.clone();
        prop_assert_eq!(first, second);
    }

    #[test]
    fn credit_hold_standing_iff_effective_hold(s in snapshot_strategy()) {
        let score = ENGINE.score(&s, as_of(), None);
        prop_assert_eq!(score.account_standing == "credit_hold", score.effective_credit_hold);
        if score.effective_credit_hold {
            prop_assert_eq!(score.risk_score, 100);
        }
    }

    #[test]
    fn newly_aged_ids_are_sorted_and_crossed_the_line(s in snapshot_strategy(), back in 1i64..60) {
        let previous = day(-back);
        let score = ENGINE.score(&s, as_of(), Some(previous));
        let mut sorted = score.newly_aged_invoice_ids.clone();
        sorted.sort();
        prop_assert_eq!(&sorted, &score.newly_aged_invoice_ids);
        let terms = s.customer.terms.as_ref();
        for invoice in &s.invoices {
            let crossed = days_past_due(invoice, terms, as_of()) > 30
                && days_past_due(invoice, terms, previous) <= 30;
            prop_assert_eq!(crossed, score.newly_aged_invoice_ids.contains(&invoice.id));
        }
    }

    #[test]
    fn score_json_round_trips(s in snapshot_strategy()) {
        let score = ENGINE.score(&s, as_of(), None);
        let json = serde_json::to_string(&score).unwrap();
        let back: ledgerlink_domain::CustomerScore = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back.account_standing, score.account_standing);
        prop_assert_eq!(back.open_balance.to_cents(), score.open_balance.to_cents());
    }
}
