//! Properties of generated data sets: determinism, per-customer independence, the
//! snapshot invariants of `spec/scoring.md` §1, the realistic mix, and advancing time.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use ledgerlink_domain::{CreditHold, InvoiceStatus, parse_snapshot_line};
use ledgerlink_synthdata::{CustomerRecords, Generator, GeneratorConfig, PayerProfile, TransactionType};
use rust_decimal::Decimal;

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

fn generator(seed: u64, customers: u64) -> Generator {
    Generator::new(GeneratorConfig::new(seed, customers, as_of())).unwrap()
}

#[test]
fn same_seed_gives_identical_customers_and_another_seed_does_not() {
    let first: Vec<CustomerRecords> = generator(7, 30).customers().collect();
    let again: Vec<CustomerRecords> = generator(7, 30).customers().collect();
    let other: Vec<CustomerRecords> = generator(8, 30).customers().collect();
    assert_eq!(first, again);
    assert_ne!(first, other);
}

#[test]
fn a_customer_does_not_depend_on_the_customer_count_or_on_other_customers() {
    let small = generator(11, 5);
    let large = generator(11, 1_000_000);
    for index in 0..5 {
        assert_eq!(small.customer(index), large.customer(index), "customer {index}");
    }
    // Generated out of order, alone, the same.
    assert_eq!(large.customer(999_999), large.customer(999_999));
    assert_eq!(large.customer(999_999).customer.id, 1_000_000);
}

#[test]
fn expected_snapshots_obey_the_snapshot_invariants_and_parse_without_rejections() {
    let generator = generator(3, 300);
    for records in generator.customers() {
        let snapshot = records.expected_snapshot();
        let line = serde_json::to_string(&snapshot).unwrap();
        let parsed = parse_snapshot_line(&line).unwrap();
        assert!(parsed.rejections.is_empty(), "{:?}", parsed.rejections);
        assert_eq!(parsed.snapshot, snapshot);
        for invoice in &snapshot.invoices {
            let context = format!("customer {} invoice {}", snapshot.customer.id, invoice.id);
            assert!(!invoice.total.is_negative(), "{context}");
            assert!(!invoice.amount_remaining.is_negative(), "{context}");
            assert!(invoice.amount_remaining <= invoice.total, "{context}");
            assert!(invoice.tran_date <= generator.view_date(), "{context}");
            assert_eq!(
                invoice.status == InvoiceStatus::Paid,
                invoice.paid_date.is_some(),
                "{context}"
            );
            match invoice.status {
                InvoiceStatus::Paid => {
                    assert!(invoice.amount_remaining.amount().is_zero(), "{context}");
                    let paid = invoice.paid_date.unwrap();
                    assert!(paid >= invoice.tran_date && paid <= generator.view_date(), "{context}");
                }
                InvoiceStatus::Open => assert!(invoice.amount_remaining.is_positive(), "{context}"),
                InvoiceStatus::Voided => assert!(invoice.amount_remaining.amount().is_zero(), "{context}"),
            }
            assert!(invoice.due_date.unwrap() >= invoice.tran_date, "{context}");
        }
        for contact in &snapshot.contacts {
            assert!(!contact.email.trim().is_empty());
        }
    }
}

#[test]
fn paid_date_is_the_latest_application_and_applications_add_up_to_the_invoice() {
    let generator = generator(5, 200);
    for records in generator.customers() {
        let mut applied: HashMap<i64, (Decimal, Option<NaiveDate>)> = HashMap::new();
        for application in &records.applications {
            let entry = applied.entry(application.invoice_id).or_default();
            entry.0 += application.amount;
            entry.1 = entry.1.max(Some(application.applied_on));
            let payment = records
                .payments
                .iter()
                .find(|p| p.id == application.payment_id)
                .unwrap();
            assert_eq!(payment.tran_date, application.applied_on);
            assert!(payment.last_modified >= application.last_modified);
        }
        let snapshot = records.expected_snapshot();
        for invoice in &records.invoices {
            let (paid, last) = applied.get(&invoice.id).copied().unwrap_or_default();
            assert_eq!(invoice.foreign_amount_paid.unwrap(), paid);
            if invoice.status == 'B' {
                assert_eq!(paid, invoice.foreign_total);
                assert_eq!(invoice.close_date, last);
                let expected = snapshot
                    .invoices
                    .iter()
                    .find(|i| i.id == invoice.id.to_string())
                    .unwrap();
                assert_eq!(expected.paid_date, last);
            }
        }
    }
}

#[test]
fn the_mix_covers_every_kind_of_customer_record_and_status() {
    let generator = generator(42, 400);
    let mut profiles = HashSet::new();
    let mut holds = HashSet::new();
    let mut order_letters = HashSet::new();
    let mut invoice_letters = HashSet::new();
    let (mut no_terms, mut no_limit, mut zero_limit, mut no_email, mut malformed_email) = (0, 0, 0, 0, 0);
    let (mut partial, mut prepayment_due, mut roles, mut over_limit, mut inactive) = (0, 0, HashSet::new(), 0, 0);
    let mut deposits = 0;
    let (mut invoices_in_history, mut orders_in_history) = (0usize, 0usize);
    for records in generator.customers() {
        profiles.insert(records.profile);
        holds.insert(records.customer.credit_hold_override);
        no_terms += usize::from(records.customer.terms.is_none());
        no_limit += usize::from(records.customer.credit_limit.is_none());
        zero_limit += usize::from(records.customer.credit_limit == Some(Decimal::ZERO));
        inactive += usize::from(records.customer.is_inactive);
        match &records.customer.email {
            None => no_email += 1,
            Some(email) if email.matches('@').count() != 1 || email.contains(' ') => malformed_email += 1,
            Some(_) => {}
        }
        if records.customer.credit_hold_override == CreditHold::Auto && records.on_credit_hold() {
            over_limit += 1;
        }
        for invoice in &records.invoices {
            invoice_letters.insert(invoice.status);
            let unpaid = invoice.foreign_amount_unpaid.unwrap();
            if invoice.status == 'A' && unpaid < invoice.foreign_total {
                partial += 1;
            }
        }
        for order in &records.orders {
            assert_eq!(order.kind, TransactionType::SalesOrder);
            order_letters.insert(order.status);
            if records.balance_due(order).is_some_and(|due| due > Decimal::ZERO) {
                prepayment_due += 1;
            }
        }
        for deposit in &records.deposits {
            assert_eq!(deposit.kind, TransactionType::CustomerDeposit);
            let link = records.deposit_links.iter().find(|l| l.deposit_id == deposit.id);
            let order = link.and_then(|l| records.orders.iter().find(|o| o.id == l.order_id));
            assert!(
                order.is_some(),
                "deposit {} is linked to none of the customer's orders",
                deposit.id
            );
            assert_eq!(order.unwrap().terms, Some(ledgerlink_synthdata::TERM_CASH_IN_ADVANCE));
            assert_eq!(link.unwrap().amount, deposit.foreign_total);
            deposits += 1;
        }
        roles.extend(records.contacts.iter().filter_map(|c| c.role));
        invoices_in_history += records.invoices.len();
        orders_in_history += records.orders.len();
    }
    assert_eq!(profiles.len(), 5, "{profiles:?}");
    assert_eq!(holds.len(), 3);
    for letter in ['A', 'B', 'D', 'E', 'V'] {
        assert!(invoice_letters.contains(&letter), "invoice status {letter} missing");
    }
    for letter in ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'] {
        assert!(order_letters.contains(&letter), "order status {letter} missing");
    }
    for (name, count) in [
        ("no terms", no_terms),
        ("no limit", no_limit),
        ("zero limit", zero_limit),
        ("no email", no_email),
        ("malformed email", malformed_email),
        ("partially paid open invoices", partial),
        ("prepayment orders with a balance", prepayment_due),
        ("customer deposits", deposits),
        ("auto hold over limit", over_limit),
        ("inactive", inactive),
    ] {
        assert!(count > 0, "{name}: none generated");
    }
    assert!(roles.len() >= 2, "{roles:?}");
    // Means are per customer over the history window; the future part is hidden.
    let per_customer = invoices_in_history as f64 / 400.0;
    assert!(
        (12.0..=26.0).contains(&per_customer),
        "invoices per customer {per_customer}"
    );
    let per_customer = orders_in_history as f64 / 400.0;
    assert!(
        (12.0..=26.0).contains(&per_customer),
        "orders per customer {per_customer}"
    );
    assert!(profiles.contains(&PayerProfile::Vip));
}

#[test]
fn advancing_time_changes_exactly_the_customers_whose_records_have_newer_lastmodifieddates() {
    let base = generator(9, 300);
    let later = base.advanced(10);
    assert_eq!(later.view_date(), base.view_date() + chrono::Days::new(10));
    let mut changed = 0;
    for index in 0..300 {
        let before = base.customer(index);
        let after = later.customer(index);
        let records_differ = before.customer != after.customer
            || before.invoices != after.invoices
            || before.payments != after.payments
            || before.orders != after.orders
            || before.deposits != after.deposits
            || before.applications != after.applications
            || before.deposit_links != after.deposit_links
            || before.contacts != after.contacts;
        assert_eq!(
            records_differ,
            after.changed_since(base.cutoff()),
            "customer index {index}"
        );
        assert!(after.last_modified() <= later.cutoff());
        assert!(!before.changed_since(base.cutoff()));
        changed += usize::from(records_differ);
        // Every record that did not change keeps its lastmodifieddate.
        for record in after.transactions() {
            if record.last_modified <= base.cutoff() {
                let old = before
                    .transactions()
                    .find(|t| t.id == record.id)
                    .expect("an unchanged record existed");
                assert_eq!(old, record);
            }
        }
    }
    assert!(changed > 50 && changed < 300, "changed {changed}");
}

#[test]
fn bad_configurations_are_refused_with_the_setting_named() {
    let mut config = GeneratorConfig::new(1, 1, as_of());
    config.invoices_per_customer = -1.0;
    let error = Generator::new(config).unwrap_err();
    assert!(error.to_string().contains("invoices_per_customer"), "{error}");
    let mut config = GeneratorConfig::new(1, 1, as_of());
    config.history_days = 0;
    assert!(Generator::new(config).unwrap_err().to_string().contains("history_days"));
}
