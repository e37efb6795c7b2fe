//! Conversions between the wire types of `ledgerlink.types.v1` and the domain types.
//!
//! Domain → wire never fails. Wire → domain goes record by record: a record whose
//! money or date does not convert becomes a [`Rejection`] naming customer, record and
//! field, exactly as a bad JSON Lines record would, and the rest of the snapshot is kept.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use ledgerlink_domain::{
    Aging, Contact, CreditHold, Customer, CustomerScore, CustomerSnapshot, DimensionExplanation, Explanation, Invoice,
    InvoiceStatus, MetricValue, Money, Order, ParsedSnapshot, RecordKind, Rejection, Terms,
};

use crate::types::v1 as pb;

/// A wire value that does not convert into its domain type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ConvertError {
    /// The offending field.
    pub field: String,
    /// Why it does not convert.
    pub reason: String,
}

fn invalid(field: &str, reason: impl Into<String>) -> ConvertError {
    ConvertError {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

// === dates, times, money ===

/// Returns the wire form of a calendar date.
pub fn date_to_pb(date: NaiveDate) -> pb::Date {
    pb::Date {
        year: date.year(),
        month: date.month() as i32,
        day: date.day() as i32,
    }
}

/// Reads a wire date; `field` names it in the error.
pub fn date_from_pb(date: &pb::Date, field: &str) -> Result<NaiveDate, ConvertError> {
    let month = u32::try_from(date.month).ok();
    let day = u32::try_from(date.day).ok();
    month
        .zip(day)
        .and_then(|(month, day)| NaiveDate::from_ymd_opt(date.year, month, day))
        .ok_or_else(|| {
            invalid(
                field,
                format!("{}-{}-{} is not a calendar date", date.year, date.month, date.day),
            )
        })
}

/// Reads a required wire date.
pub fn required_date(date: Option<&pb::Date>, field: &str) -> Result<NaiveDate, ConvertError> {
    date_from_pb(date.ok_or_else(|| invalid(field, "missing"))?, field)
}

fn optional_date(date: Option<&pb::Date>, field: &str) -> Result<Option<NaiveDate>, ConvertError> {
    date.map(|date| date_from_pb(date, field)).transpose()
}

/// Returns the wire form of an instant.
pub fn timestamp_to_pb(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: time.timestamp_subsec_nanos() as i32,
    }
}

/// Reads a wire instant.
pub fn timestamp_from_pb(time: &prost_types::Timestamp, field: &str) -> Result<DateTime<Utc>, ConvertError> {
    u32::try_from(time.nanos)
        .ok()
        .and_then(|nanos| DateTime::from_timestamp(time.seconds, nanos))
        .ok_or_else(|| invalid(field, "not a valid timestamp"))
}

/// Returns the wire form of an amount in `currency`.
pub fn money_to_pb(money: Money, currency: Option<&str>) -> pb::Money {
    pb::Money {
        amount: money.to_string(),
        currency: currency.unwrap_or_default().to_owned(),
    }
}

/// Reads a wire amount.
pub fn money_from_pb(money: &pb::Money, field: &str) -> Result<Money, ConvertError> {
    parse_money(&money.amount, field)
}

fn parse_money(text: &str, field: &str) -> Result<Money, ConvertError> {
    text.parse()
        .map_err(|e: ledgerlink_domain::MoneyError| invalid(field, e.to_string()))
}

fn required_money(money: Option<&pb::Money>, field: &str) -> Result<Money, ConvertError> {
    money_from_pb(money.ok_or_else(|| invalid(field, "missing"))?, field)
}

fn optional_money(money: Option<&pb::Money>, field: &str) -> Result<Option<Money>, ConvertError> {
    money.map(|money| money_from_pb(money, field)).transpose()
}

// === snapshots ===

/// Returns the wire form of a snapshot.
pub fn snapshot_to_pb(snapshot: &CustomerSnapshot) -> pb::CustomerSnapshot {
    let currency = snapshot.customer.currency.as_deref();
    pb::CustomerSnapshot {
        customer: Some(customer_to_pb(&snapshot.customer)),
        invoices: snapshot
            .invoices
            .iter()
            .map(|invoice| pb::Invoice {
                id: invoice.id.clone(),
                tran_id: invoice.tran_id.clone(),
                tran_date: Some(date_to_pb(invoice.tran_date)),
                due_date: invoice.due_date.map(date_to_pb),
                total: Some(money_to_pb(invoice.total, currency)),
                amount_remaining: Some(money_to_pb(invoice.amount_remaining, currency)),
                status: match invoice.status {
                    InvoiceStatus::Open => pb::InvoiceStatus::Open,
                    InvoiceStatus::Paid => pb::InvoiceStatus::Paid,
                    InvoiceStatus::Voided => pb::InvoiceStatus::Voided,
                } as i32,
                paid_date: invoice.paid_date.map(date_to_pb),
            })
            .collect(),
        orders: snapshot
            .orders
            .iter()
            .map(|order| pb::Order {
                id: order.id.clone(),
                tran_id: order.tran_id.clone(),
                tran_date: Some(date_to_pb(order.tran_date)),
                total: Some(money_to_pb(order.total, currency)),
                status: order.status.clone(),
                balance_due: order.balance_due.map(|m| money_to_pb(m, currency)),
            })
            .collect(),
        contacts: snapshot
            .contacts
            .iter()
            .map(|contact| pb::Contact {
                id: contact.id.clone(),
                email: contact.email.clone(),
                role: contact.role.clone(),
            })
            .collect(),
    }
}

/// Returns the wire form of a customer record.
pub fn customer_to_pb(customer: &Customer) -> pb::Customer {
    pb::Customer {
        id: customer.id.clone(),
        entity_id: customer.entity_id.clone(),
        company_name: customer.company_name.clone(),
        email: customer.email.clone(),
        currency: customer.currency.clone(),
        is_inactive: customer.is_inactive,
        terms: customer.terms.as_ref().map(|terms| pb::Terms {
            id: terms.id.clone(),
            name: terms.name.clone(),
            days_until_net_due: terms.days_until_net_due.and_then(|d| i32::try_from(d).ok()),
            discount_percent: terms.discount_percent.map(|p| p.to_string()),
            discount_days: terms.discount_days.and_then(|d| i32::try_from(d).ok()),
        }),
        credit_limit: customer
            .credit_limit
            .map(|limit| money_to_pb(limit, customer.currency.as_deref())),
        credit_hold: match customer.credit_hold {
            CreditHold::On => pb::CreditHold::On,
            CreditHold::Off => pb::CreditHold::Off,
            CreditHold::Auto => pb::CreditHold::Auto,
        } as i32,
        last_modified: customer.last_modified.map(timestamp_to_pb),
    }
}

/// Reads wire contacts.
pub fn contacts_from_pb(contacts: &[pb::Contact]) -> Vec<Contact> {
    contacts
        .iter()
        .map(|contact| Contact {
            id: contact.id.clone(),
            email: contact.email.clone(),
            role: contact.role.clone(),
        })
        .collect()
}

/// Reads a wire customer record.
pub fn customer_from_pb(customer: &pb::Customer) -> Result<Customer, ConvertError> {
    let terms = customer
        .terms
        .as_ref()
        .map(|terms| {
            Ok::<_, ConvertError>(Terms {
                id: terms.id.clone(),
                name: terms.name.clone(),
                days_until_net_due: terms.days_until_net_due.map(i64::from),
                discount_percent: terms
                    .discount_percent
                    .as_deref()
                    .map(|p| parse_money(p, "terms.discount_percent"))
                    .transpose()?,
                discount_days: terms.discount_days.map(i64::from),
            })
        })
        .transpose()?;
    let credit_hold = match pb::CreditHold::try_from(customer.credit_hold) {
        Ok(pb::CreditHold::On) => CreditHold::On,
        Ok(pb::CreditHold::Off) => CreditHold::Off,
        Ok(pb::CreditHold::Auto | pb::CreditHold::Unspecified) => CreditHold::Auto,
        Err(_) => {
            return Err(invalid(
                "credit_hold",
                format!("unknown value {}", customer.credit_hold),
            ));
        }
    };
    Ok(Customer {
        id: customer.id.clone(),
        entity_id: customer.entity_id.clone(),
        company_name: customer.company_name.clone(),
        email: customer.email.clone(),
        currency: customer.currency.clone(),
        is_inactive: customer.is_inactive,
        terms,
        credit_limit: optional_money(customer.credit_limit.as_ref(), "credit_limit")?,
        credit_hold,
        last_modified: customer
            .last_modified
            .as_ref()
            .map(|t| timestamp_from_pb(t, "last_modified"))
            .transpose()?,
    })
}

fn invoice_from_pb(invoice: &pb::Invoice) -> Result<Invoice, ConvertError> {
    let status = match pb::InvoiceStatus::try_from(invoice.status) {
        Ok(pb::InvoiceStatus::Open) => InvoiceStatus::Open,
        Ok(pb::InvoiceStatus::Paid) => InvoiceStatus::Paid,
        Ok(pb::InvoiceStatus::Voided) => InvoiceStatus::Voided,
        _ => return Err(invalid("status", format!("unknown invoice status {}", invoice.status))),
    };
    Ok(Invoice {
        id: invoice.id.clone(),
        tran_id: invoice.tran_id.clone(),
        tran_date: required_date(invoice.tran_date.as_ref(), "tran_date")?,
        due_date: optional_date(invoice.due_date.as_ref(), "due_date")?,
        total: required_money(invoice.total.as_ref(), "total")?,
        amount_remaining: required_money(invoice.amount_remaining.as_ref(), "amount_remaining")?,
        status,
        paid_date: optional_date(invoice.paid_date.as_ref(), "paid_date")?,
    })
}

fn order_from_pb(order: &pb::Order) -> Result<Order, ConvertError> {
    Ok(Order {
        id: order.id.clone(),
        tran_id: order.tran_id.clone(),
        tran_date: required_date(order.tran_date.as_ref(), "tran_date")?,
        total: required_money(order.total.as_ref(), "total")?,
        status: order.status.clone(),
        balance_due: optional_money(order.balance_due.as_ref(), "balance_due")?,
    })
}

/// Reads a wire snapshot record by record, then applies the snapshot rules of
/// `spec/scoring.md` §1. Fails only when the customer record itself does not convert.
pub fn snapshot_from_pb(snapshot: &pb::CustomerSnapshot) -> Result<ParsedSnapshot, Rejection> {
    let customer_pb = snapshot.customer.as_ref().ok_or_else(|| Rejection {
        customer_id: String::new(),
        record_kind: RecordKind::Customer,
        record_id: String::new(),
        field: "customer".to_owned(),
        reason: "missing customer".to_owned(),
    })?;
    let customer = customer_from_pb(customer_pb).map_err(|error| Rejection {
        customer_id: customer_pb.id.clone(),
        record_kind: RecordKind::Customer,
        record_id: customer_pb.id.clone(),
        field: error.field,
        reason: error.reason,
    })?;
    let mut rejections = Vec::new();
    let mut reject = |kind: RecordKind, record_id: &str, error: ConvertError| {
        rejections.push(Rejection {
            customer_id: customer.id.clone(),
            record_kind: kind,
            record_id: record_id.to_owned(),
            field: error.field,
            reason: error.reason,
        });
    };
    let mut invoices = Vec::with_capacity(snapshot.invoices.len());
    for invoice in &snapshot.invoices {
        match invoice_from_pb(invoice) {
            Ok(invoice) => invoices.push(invoice),
            Err(error) => reject(RecordKind::Invoice, &invoice.id, error),
        }
    }
    let mut orders = Vec::with_capacity(snapshot.orders.len());
    for order in &snapshot.orders {
        match order_from_pb(order) {
            Ok(order) => orders.push(order),
            Err(error) => reject(RecordKind::Order, &order.id, error),
        }
    }
    let contacts = contacts_from_pb(&snapshot.contacts);
    let mut parsed = ParsedSnapshot {
        snapshot: CustomerSnapshot {
            customer,
            invoices,
            orders,
            contacts,
        },
        rejections,
    };
    ledgerlink_domain::validate_snapshot(&mut parsed);
    Ok(parsed)
}

// === rejections ===

/// Returns the wire form of a rejection.
pub fn rejection_to_pb(rejection: &Rejection) -> pb::Rejection {
    pb::Rejection {
        customer_id: rejection.customer_id.clone(),
        record_kind: match rejection.record_kind {
            RecordKind::Customer => pb::RecordKind::Customer,
            RecordKind::Invoice => pb::RecordKind::Invoice,
            RecordKind::Order => pb::RecordKind::Order,
            RecordKind::Contact => pb::RecordKind::Contact,
            RecordKind::Line => pb::RecordKind::Line,
            RecordKind::Profile => pb::RecordKind::Profile,
            RecordKind::Event => pb::RecordKind::Event,
        } as i32,
        record_id: rejection.record_id.clone(),
        field: rejection.field.clone(),
        reason: rejection.reason.clone(),
    }
}

/// Reads a wire rejection; an unknown record kind reads as a whole line.
pub fn rejection_from_pb(rejection: &pb::Rejection) -> Rejection {
    let record_kind = match pb::RecordKind::try_from(rejection.record_kind) {
        Ok(pb::RecordKind::Customer) => RecordKind::Customer,
        Ok(pb::RecordKind::Invoice) => RecordKind::Invoice,
        Ok(pb::RecordKind::Order) => RecordKind::Order,
        Ok(pb::RecordKind::Contact) => RecordKind::Contact,
        Ok(pb::RecordKind::Profile) => RecordKind::Profile,
        Ok(pb::RecordKind::Event) => RecordKind::Event,
        _ => RecordKind::Line,
    };
    Rejection {
        customer_id: rejection.customer_id.clone(),
        record_kind,
        record_id: rejection.record_id.clone(),
        field: rejection.field.clone(),
        reason: rejection.reason.clone(),
    }
}

// === scores ===

fn cents(money: Money) -> String {
    money.to_cents().to_string()
}

fn metric_value_json(value: &MetricValue) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

fn explanation_to_pb(explanation: &DimensionExplanation) -> pb::DimensionExplanation {
    pb::DimensionExplanation {
        segment: explanation.segment.clone(),
        rule: explanation.rule.clone(),
        metrics: explanation
            .metrics
            .iter()
            .map(|(name, value)| (name.clone(), metric_value_json(value)))
            .collect(),
    }
}

fn explanation_from_pb(explanation: Option<&pb::DimensionExplanation>) -> DimensionExplanation {
    let Some(explanation) = explanation else {
        return DimensionExplanation {
            segment: String::new(),
            rule: String::new(),
            metrics: Default::default(),
        };
    };
    DimensionExplanation {
        segment: explanation.segment.clone(),
        rule: explanation.rule.clone(),
        metrics: explanation
            .metrics
            .iter()
            .map(|(name, json)| {
                let value = serde_json::from_str(json).unwrap_or(MetricValue::Text(json.clone()));
                (name.clone(), value)
            })
            .collect(),
    }
}

/// Returns the wire form of a score.
pub fn score_to_pb(score: &CustomerScore) -> pb::CustomerScore {
    pb::CustomerScore {
        customer_id: score.customer_id.clone(),
        as_of: Some(date_to_pb(score.as_of)),
        open_balance: cents(score.open_balance),
        overdue_balance: cents(score.overdue_balance),
        aging: Some(pb::Aging {
            current: cents(score.aging.current),
            d1_30: cents(score.aging.d1_30),
            d31_60: cents(score.aging.d31_60),
            d61_90: cents(score.aging.d61_90),
            d91_plus: cents(score.aging.d91_plus),
        }),
        max_days_past_due: score.max_days_past_due,
        open_invoice_count: score.open_invoice_count,
        overdue_invoice_count: score.overdue_invoice_count,
        credit_utilization: score.credit_utilization,
        available_credit: score.available_credit.map(cents),
        paid_count: score.paid_count,
        avg_days_to_pay: score.avg_days_to_pay,
        avg_days_late: score.avg_days_late,
        on_time_rate: score.on_time_rate,
        payment_consistency: score.payment_consistency,
        payment_trend: score.payment_trend,
        orders_recent: score.orders_recent,
        orders_prior: score.orders_prior,
        orders_per_month: score.orders_per_month,
        order_frequency_trend: score.order_frequency_trend,
        orders_same_period_last_year: score.orders_same_period_last_year,
        seasonal_order_trend: score.seasonal_order_trend,
        avg_order_value: score.avg_order_value,
        order_value_trend: score.order_value_trend,
        effective_credit_hold: score.effective_credit_hold,
        risk_score: u32::from(score.risk_score),
        account_standing: score.account_standing.clone(),
        behavior_segment: score.behavior_segment.clone(),
        loyalty_tier: score.loyalty_tier.clone(),
        newly_aged_invoice_ids: score.newly_aged_invoice_ids.clone(),
        customer: Some(customer_to_pb(&score.customer)),
        explain: Some(pb::Explanation {
            account_standing: Some(explanation_to_pb(&score.explain.account_standing)),
            behavior_segment: Some(explanation_to_pb(&score.explain.behavior_segment)),
            loyalty_tier: Some(explanation_to_pb(&score.explain.loyalty_tier)),
        }),
    }
}

/// Reads a wire score.
pub fn score_from_pb(score: &pb::CustomerScore) -> Result<CustomerScore, ConvertError> {
    let aging = score.aging.clone().unwrap_or_default();
    let explain = score.explain.clone().unwrap_or_default();
    Ok(CustomerScore {
        customer_id: score.customer_id.clone(),
        as_of: required_date(score.as_of.as_ref(), "as_of")?,
        open_balance: parse_money(&score.open_balance, "open_balance")?,
        overdue_balance: parse_money(&score.overdue_balance, "overdue_balance")?,
        aging: Aging {
            current: parse_money(&aging.current, "aging.current")?,
            d1_30: parse_money(&aging.d1_30, "aging.d1_30")?,
            d31_60: parse_money(&aging.d31_60, "aging.d31_60")?,
            d61_90: parse_money(&aging.d61_90, "aging.d61_90")?,
            d91_plus: parse_money(&aging.d91_plus, "aging.d91_plus")?,
        },
        max_days_past_due: score.max_days_past_due,
        open_invoice_count: score.open_invoice_count,
        overdue_invoice_count: score.overdue_invoice_count,
        credit_utilization: score.credit_utilization,
        available_credit: score
            .available_credit
            .as_deref()
            .map(|text| parse_money(text, "available_credit"))
            .transpose()?,
        paid_count: score.paid_count,
        avg_days_to_pay: score.avg_days_to_pay,
        avg_days_late: score.avg_days_late,
        on_time_rate: score.on_time_rate,
        payment_consistency: score.payment_consistency,
        payment_trend: score.payment_trend,
        orders_recent: score.orders_recent,
        orders_prior: score.orders_prior,
        orders_per_month: score.orders_per_month,
        order_frequency_trend: score.order_frequency_trend,
        orders_same_period_last_year: score.orders_same_period_last_year,
        seasonal_order_trend: score.seasonal_order_trend,
        avg_order_value: score.avg_order_value,
        order_value_trend: score.order_value_trend,
        effective_credit_hold: score.effective_credit_hold,
        risk_score: u8::try_from(score.risk_score.min(100)).unwrap_or(100),
        account_standing: score.account_standing.clone(),
        behavior_segment: score.behavior_segment.clone(),
        loyalty_tier: score.loyalty_tier.clone(),
        newly_aged_invoice_ids: score.newly_aged_invoice_ids.clone(),
        customer: customer_from_pb(score.customer.as_ref().ok_or_else(|| invalid("customer", "missing"))?)?,
        explain: Explanation {
            account_standing: explanation_from_pb(explain.account_standing.as_ref()),
            behavior_segment: explanation_from_pb(explain.behavior_segment.as_ref()),
            loyalty_tier: explanation_from_pb(explain.loyalty_tier.as_ref()),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"{"customer": {"id": "1042", "entity_id": "CUST-1042", "company_name": "Acme Supply",
  "email": "ap@acme.example", "currency": "USD", "is_inactive": false,
  "terms": {"id": "2", "name": "Net 30", "days_until_net_due": 30, "discount_percent": "2.0", "discount_days": 10},
  "credit_limit": "50000.00", "credit_hold": "AUTO", "last_modified": "2026-11-20T14:03:00Z"},
 "invoices": [{"id": "88121", "tran_id": "INV-88121", "tran_date": "2026-09-01",
   "due_date": "2026-10-01", "total": "1200.00", "amount_remaining": "1200.00", "status": "open", "paid_date": null},
   {"id": "88122", "tran_id": null, "tran_date": "2026-08-01", "due_date": null, "total": "10", "amount_remaining": "0",
   "status": "paid", "paid_date": "2026-08-20"}],
 "orders": [{"id": "7001", "tran_date": "2026-08-28", "total": "1200.00", "status": "billed", "balance_due": "5.5"}],
 "contacts": [{"id": "3301", "email": "payables@acme.example", "role": "Accounts Payable"}]}"#;

    #[test]
    fn snapshot_survives_the_wire_unchanged() {
        let parsed = ledgerlink_domain::parse_snapshot_line(&EXAMPLE.replace('\n', " ")).unwrap();
        let wire = snapshot_to_pb(&parsed.snapshot);
        let back = snapshot_from_pb(&wire).unwrap();
        assert!(back.rejections.is_empty(), "{:?}", back.rejections);
        assert_eq!(back.snapshot, parsed.snapshot);
    }

    #[test]
    fn a_bad_record_on_the_wire_is_rejected_alone() {
        let parsed = ledgerlink_domain::parse_snapshot_line(&EXAMPLE.replace('\n', " ")).unwrap();
        let mut wire = snapshot_to_pb(&parsed.snapshot);
        wire.invoices[0].total = Some(pb::Money {
            amount: "12,00".into(),
            currency: "USD".into(),
        });
        wire.orders[0].tran_date = Some(pb::Date {
            year: 2026,
            month: 2,
            day: 30,
        });
        let back = snapshot_from_pb(&wire).unwrap();
        assert_eq!(back.snapshot.invoices.len(), 1);
        assert!(back.snapshot.orders.is_empty());
        let fields: Vec<_> = back
            .rejections
            .iter()
            .map(|r| (r.record_id.as_str(), r.field.as_str()))
            .collect();
        assert_eq!(fields, [("88121", "total"), ("7001", "tran_date")]);
    }

    #[test]
    fn timestamps_and_dates_round_trip() {
        let time = DateTime::parse_from_rfc3339("2026-11-20T14:03:00.5Z").unwrap().to_utc();
        assert_eq!(timestamp_from_pb(&timestamp_to_pb(time), "t").unwrap(), time);
        let date = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        assert_eq!(date_from_pb(&date_to_pb(date), "d").unwrap(), date);
    }
}
