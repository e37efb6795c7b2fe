//! Builders for snapshots in tests.
#![allow(dead_code)]

use ledgerlink_domain::{
    CreditHold, Customer, CustomerSnapshot, Invoice, InvoiceStatus, Money, NaiveDate, Order, Terms, shift_days,
};

/// The as-of date most tests use.
pub fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 30).unwrap()
}

/// `as_of()` moved by `days` (negative is earlier).
pub fn day(days: i64) -> NaiveDate {
    shift_days(as_of(), days)
}

pub fn money(text: &str) -> Money {
    text.parse().unwrap()
}

pub fn net(days: i64) -> Terms {
    Terms {
        id: format!("net{days}"),
        name: format!("Net {days}"),
        days_until_net_due: Some(days),
        discount_percent: None,
        discount_days: None,
    }
}

/// A customer with Net 30 terms, a 50,000.00 limit and AUTO hold.
pub fn customer() -> Customer {
    Customer {
        id: "C1".into(),
        entity_id: Some("CUST-1".into()),
        company_name: Some("Acme".into()),
        email: Some("ap@acme.example".into()),
        currency: Some("USD".into()),
        is_inactive: false,
        terms: Some(net(30)),
        credit_limit: Some(money("50000.00")),
        credit_hold: CreditHold::Auto,
        last_modified: None,
    }
}

pub fn snapshot(invoices: Vec<Invoice>, orders: Vec<Order>) -> CustomerSnapshot {
    CustomerSnapshot {
        customer: customer(),
        invoices,
        orders,
        contacts: Vec::new(),
    }
}

/// An open invoice due on `due` with `remaining` owed.
pub fn open(id: &str, due: NaiveDate, remaining: &str) -> Invoice {
    Invoice {
        id: id.into(),
        tran_id: None,
        tran_date: shift_days(due, -30),
        due_date: Some(due),
        total: money(remaining),
        amount_remaining: money(remaining),
        status: InvoiceStatus::Open,
        paid_date: None,
    }
}

/// A paid invoice issued 30 days before `due`, paid on `paid`.
pub fn paid(id: &str, due: NaiveDate, paid: NaiveDate, total: &str) -> Invoice {
    Invoice {
        id: id.into(),
        tran_id: None,
        tran_date: shift_days(due, -30),
        due_date: Some(due),
        total: money(total),
        amount_remaining: Money::ZERO,
        status: InvoiceStatus::Paid,
        paid_date: Some(paid),
    }
}

/// A paid invoice paid on `paid`, `late` days after its due date.
pub fn paid_late(id: &str, paid: NaiveDate, late: i64) -> Invoice {
    self::paid(id, shift_days(paid, -late), paid, "100.00")
}

pub fn order(id: &str, date: NaiveDate, total: &str) -> Order {
    Order {
        id: id.into(),
        tran_id: None,
        tran_date: date,
        total: money(total),
        status: "billed".into(),
        balance_due: None,
    }
}

/// `count` billed orders of 100.00 on `date`.
pub fn orders_on(prefix: &str, date: NaiveDate, count: usize) -> Vec<Order> {
    (0..count)
        .map(|i| order(&format!("{prefix}{i}"), date, "100.00"))
        .collect()
}
