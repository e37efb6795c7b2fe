//! The customer snapshot of `spec/scoring.md` §1, and its line-by-line parser.

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::money::Money;
use crate::rejection::{RecordKind, Rejection};

/// Everything ledgerlink knows about one customer at extraction time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerSnapshot {
    /// The customer record.
    pub customer: Customer,
    /// The customer's invoices (all statuses).
    #[serde(default)]
    pub invoices: Vec<Invoice>,
    /// The customer's sales orders (all statuses).
    #[serde(default)]
    pub orders: Vec<Order>,
    /// The customer's contacts that have an email.
    #[serde(default)]
    pub contacts: Vec<Contact>,
}

/// NetSuite's credit hold setting on a customer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CreditHold {
    /// Always on hold.
    #[serde(rename = "ON")]
    On,
    /// Never on hold.
    #[serde(rename = "OFF")]
    Off,
    /// On hold when the open balance exceeds the credit limit.
    #[default]
    #[serde(rename = "AUTO")]
    Auto,
}

/// A NetSuite customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// Internal id.
    pub id: String,
    /// The customer's entity id (the number users see).
    #[serde(default)]
    pub entity_id: Option<String>,
    /// Company name.
    #[serde(default)]
    pub company_name: Option<String>,
    /// Primary email address.
    #[serde(default)]
    pub email: Option<String>,
    /// ISO currency code of the customer's transactions.
    #[serde(default)]
    pub currency: Option<String>,
    /// Whether the customer is marked inactive.
    #[serde(default)]
    pub is_inactive: bool,
    /// Payment terms, when the customer has any.
    #[serde(default)]
    pub terms: Option<Terms>,
    /// Credit limit, when one is set.
    #[serde(default)]
    pub credit_limit: Option<Money>,
    /// NetSuite's credit hold override.
    #[serde(default)]
    pub credit_hold: CreditHold,
    /// When NetSuite last changed the record.
    #[serde(default)]
    pub last_modified: Option<DateTime<Utc>>,
}

/// Payment terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Terms {
    /// Internal id.
    pub id: String,
    /// Display name, e.g. `Net 30`.
    pub name: String,
    /// Days from the transaction date until payment is due.
    #[serde(default)]
    pub days_until_net_due: Option<i64>,
    /// Early-payment discount in percent.
    #[serde(default)]
    pub discount_percent: Option<Money>,
    /// Days within which the discount applies.
    #[serde(default)]
    pub discount_days: Option<i64>,
}

/// Status of an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Not yet fully paid.
    Open,
    /// Fully paid.
    Paid,
    /// Voided; owes nothing.
    Voided,
}

/// A customer invoice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invoice {
    /// Internal id.
    pub id: String,
    /// Document number, e.g. `INV-88121`.
    #[serde(default)]
    pub tran_id: Option<String>,
    /// Transaction date.
    pub tran_date: NaiveDate,
    /// Due date; when null it follows from the terms (see [`Invoice::effective_due_date`]).
    #[serde(default)]
    pub due_date: Option<NaiveDate>,
    /// Invoice total.
    pub total: Money,
    /// What is still owed.
    pub amount_remaining: Money,
    /// Open, paid or voided.
    pub status: InvoiceStatus,
    /// The date the invoice became fully paid; set exactly when paid.
    #[serde(default)]
    pub paid_date: Option<NaiveDate>,
}

impl Invoice {
    /// Returns the due date, or `tran_date + terms days` when none is set (`tran_date`
    /// when the customer has no terms).
    pub fn effective_due_date(&self, terms: Option<&Terms>) -> NaiveDate {
        if let Some(due_date) = self.due_date {
            return due_date;
        }
        let days = terms.and_then(|t| t.days_until_net_due).unwrap_or(0);
        shift_days(self.tran_date, days)
    }
}

/// Returns `date` moved by `days` (either sign), saturating at the calendar's ends.
pub fn shift_days(date: NaiveDate, days: i64) -> NaiveDate {
    let magnitude = Days::new(days.unsigned_abs());
    let shifted = if days >= 0 {
        date.checked_add_days(magnitude)
    } else {
        date.checked_sub_days(magnitude)
    };
    shifted.unwrap_or(if days >= 0 { NaiveDate::MAX } else { NaiveDate::MIN })
}

/// A sales order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// Internal id.
    pub id: String,
    /// Document number, e.g. `SO-7001`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tran_id: Option<String>,
    /// Transaction date.
    pub tran_date: NaiveDate,
    /// Order total.
    pub total: Money,
    /// Status name (`pending_approval`, `billed`, `cancelled`, …); any text is kept.
    pub status: String,
    /// What must be paid before the order ships; absent for orders on credit terms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance_due: Option<Money>,
}

impl Order {
    /// Returns true for orders scoring ignores (`cancelled`, `closed_unbilled`).
    pub fn is_ignored(&self) -> bool {
        matches!(self.status.as_str(), "cancelled" | "closed_unbilled")
    }
}

/// A customer contact with an email.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    /// Internal id.
    pub id: String,
    /// Email address.
    pub email: String,
    /// Contact role, e.g. `Accounts Payable`.
    #[serde(default)]
    pub role: Option<String>,
}

/// A snapshot line that could not be used at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SnapshotError(pub Rejection);

/// A snapshot with its invalid records removed, and the reasons they were removed.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedSnapshot {
    /// The snapshot holding only valid records.
    pub snapshot: CustomerSnapshot,
    /// One entry per record removed.
    pub rejections: Vec<Rejection>,
}

/// Parses one JSON Lines snapshot, removing each invalid invoice, order or contact
/// with a [`Rejection`] that names customer, record and field.
///
/// The whole line fails only when the customer record itself is unusable.
pub fn parse_snapshot_line(line: &str) -> Result<ParsedSnapshot, SnapshotError> {
    // Fast path: a well-formed line parses in one pass; only a failing line pays for
    // the record-by-record walk that finds out exactly what was wrong.
    if let Ok(snapshot) = serde_json::from_str::<CustomerSnapshot>(line) {
        let mut parsed = ParsedSnapshot {
            snapshot,
            rejections: Vec::new(),
        };
        validate_snapshot(&mut parsed);
        return Ok(parsed);
    }
    parse_record_by_record(line)
}

fn parse_record_by_record(line: &str) -> Result<ParsedSnapshot, SnapshotError> {
    let line_error = |field: &str, reason: String| {
        SnapshotError(Rejection {
            customer_id: String::new(),
            record_kind: RecordKind::Line,
            record_id: String::new(),
            field: field.to_owned(),
            reason,
        })
    };
    let mut value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| line_error("", format!("not valid json: {e}")))?;
    let Some(object) = value.as_object_mut() else {
        return Err(line_error("", "a snapshot line must be a json object".to_owned()));
    };
    let customer_value = object
        .remove("customer")
        .ok_or_else(|| line_error("customer", "missing customer object".to_owned()))?;
    let customer_id = customer_value.get("id").map(id_text).unwrap_or_default();
    let customer: Customer = from_value(customer_value).map_err(|(field, reason)| {
        SnapshotError(Rejection {
            customer_id: customer_id.clone(),
            record_kind: RecordKind::Customer,
            record_id: customer_id.clone(),
            field,
            reason,
        })
    })?;

    let mut rejections = Vec::new();
    let invoices = parse_records(object, "invoices", RecordKind::Invoice, &customer.id, &mut rejections);
    let orders = parse_records(object, "orders", RecordKind::Order, &customer.id, &mut rejections);
    let contacts = parse_records(object, "contacts", RecordKind::Contact, &customer.id, &mut rejections);
    let mut parsed = ParsedSnapshot {
        snapshot: CustomerSnapshot {
            customer,
            invoices,
            orders,
            contacts,
        },
        rejections,
    };
    validate_snapshot(&mut parsed);
    Ok(parsed)
}

fn parse_records<T: DeserializeOwned>(
    object: &mut serde_json::Map<String, serde_json::Value>,
    key: &str,
    kind: RecordKind,
    customer_id: &str,
    rejections: &mut Vec<Rejection>,
) -> Vec<T> {
    let mut reject = |record_id: String, field: String, reason: String| {
        rejections.push(Rejection {
            customer_id: customer_id.to_owned(),
            record_kind: kind,
            record_id,
            field,
            reason,
        });
    };
    let items = match object.remove(key) {
        None | Some(serde_json::Value::Null) => return Vec::new(),
        Some(serde_json::Value::Array(items)) => items,
        Some(_) => {
            reject(String::new(), key.to_owned(), "must be an array".to_owned());
            return Vec::new();
        }
    };
    let mut records = Vec::with_capacity(items.len());
    for item in items {
        let record_id = item.get("id").map(id_text).unwrap_or_default();
        match from_value::<T>(item) {
            Ok(record) => records.push(record),
            Err((field, reason)) => reject(record_id, field, reason),
        }
    }
    records
}

/// Deserializes, reporting the path of the failing field and a reason without serde's
/// position suffix.
fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let field = error.path().to_string();
        let field = if field == "." { String::new() } else { field };
        (field, error.into_inner().to_string())
    })
}

fn id_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Applies the semantic rules of §1 to records that parsed, moving each invalid one
/// from the snapshot to the rejections.
pub fn validate_snapshot(parsed: &mut ParsedSnapshot) {
    let customer_id = parsed.snapshot.customer.id.clone();
    let rejections = &mut parsed.rejections;
    parsed
        .snapshot
        .invoices
        .retain(|invoice| match invoice_problem(invoice) {
            None => true,
            Some((field, reason)) => {
                rejections.push(Rejection {
                    customer_id: customer_id.clone(),
                    record_kind: RecordKind::Invoice,
                    record_id: invoice.id.clone(),
                    field: field.to_owned(),
                    reason,
                });
                false
            }
        });
    parsed.snapshot.orders.retain(|order| {
        if !order.total.is_negative() {
            return true;
        }
        rejections.push(Rejection {
            customer_id: customer_id.clone(),
            record_kind: RecordKind::Order,
            record_id: order.id.clone(),
            field: "total".to_owned(),
            reason: format!("total {} is below zero", order.total),
        });
        false
    });
}

fn invoice_problem(invoice: &Invoice) -> Option<(&'static str, String)> {
    if invoice.total.is_negative() {
        return Some(("total", format!("total {} is below zero", invoice.total)));
    }
    if invoice.amount_remaining.is_negative() {
        return Some((
            "amount_remaining",
            format!("amount_remaining {} is below zero", invoice.amount_remaining),
        ));
    }
    if invoice.amount_remaining > invoice.total {
        return Some((
            "amount_remaining",
            format!(
                "amount_remaining {} exceeds total {}",
                invoice.amount_remaining, invoice.total
            ),
        ));
    }
    // A paid_date on an open or voided invoice is ignored rather than refused: dropping
    // an open invoice would understate what the customer owes.
    if invoice.status == InvoiceStatus::Paid && invoice.paid_date.is_none() {
        return Some(("paid_date", "paid invoice without paid_date".to_owned()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_EXAMPLE: &str = r#"{"customer": {"id": "1042", "entity_id": "CUST-1042", "company_name": "Acme Supply",
  "email": "ap@acme.example", "currency": "USD", "is_inactive": false,
  "terms": {"id": "2", "name": "Net 30", "days_until_net_due": 30,
            "discount_percent": "2.0", "discount_days": 10},
  "credit_limit": "50000.00", "credit_hold": "AUTO",
  "last_modified": "2026-11-20T14:03:00Z"},
 "invoices": [{"id": "88121", "tran_id": "INV-88121", "tran_date": "2026-09-01",
   "due_date": "2026-10-01", "total": "1200.00", "amount_remaining": "1200.00",
   "status": "open", "paid_date": null}],
 "orders": [{"id": "7001", "tran_date": "2026-08-28", "total": "1200.00", "status": "billed"}],
 "contacts": [{"id": "3301", "email": "payables@acme.example", "role": "Accounts Payable"}]}"#;

    #[test]
    fn spec_example_round_trips_exactly() {
        let original: serde_json::Value = serde_json::from_str(SPEC_EXAMPLE).unwrap();
        let parsed = parse_snapshot_line(&SPEC_EXAMPLE.replace('\n', " ")).unwrap();
        assert!(parsed.rejections.is_empty(), "{:?}", parsed.rejections);
        let written = serde_json::to_value(&parsed.snapshot).unwrap();
        assert_eq!(written, original);
        assert_eq!(parsed.snapshot.customer.credit_hold, CreditHold::Auto);
        assert_eq!(parsed.snapshot.invoices[0].total, "1200.00".parse().unwrap());
    }

    #[test]
    fn bad_invoice_is_rejected_and_the_rest_kept() {
        let line = r#"{"customer":{"id":"7"},"invoices":[
            {"id":"1","tran_date":"2026-13-01","total":"5","amount_remaining":"5","status":"open"},
            {"id":"2","tran_date":"2026-01-01","total":"5","amount_remaining":"6","status":"open"},
            {"id":"3","tran_date":"2026-01-01","total":"5","amount_remaining":"0","status":"paid"},
            {"id":"4","tran_date":"2026-01-01","total":"-1","amount_remaining":"0","status":"voided"},
            {"id":"5","tran_date":"2026-01-01","total":"5","amount_remaining":"5","status":"open"}]}"#;
        let parsed = parse_snapshot_line(line).unwrap();
        let ids: Vec<_> = parsed.snapshot.invoices.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["5"]);
        let fields: Vec<_> = parsed
            .rejections
            .iter()
            .map(|r| (r.record_id.as_str(), r.field.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("1", "tran_date"),
                ("2", "amount_remaining"),
                ("3", "paid_date"),
                ("4", "total")
            ]
        );
        assert!(parsed.rejections.iter().all(|r| r.customer_id == "7"));
    }

    #[test]
    fn unusable_customer_fails_the_line_with_its_id() {
        let error = parse_snapshot_line(r#"{"customer":{"id":"9","credit_hold":"MAYBE"}}"#).unwrap_err();
        assert_eq!(error.0.customer_id, "9");
        assert_eq!(error.0.field, "credit_hold");
        let error = parse_snapshot_line("not json").unwrap_err();
        assert_eq!(error.0.record_kind, RecordKind::Line);
    }

    #[test]
    fn due_date_falls_back_to_terms_then_tran_date() {
        let invoice = Invoice {
            id: "1".into(),
            tran_id: None,
            tran_date: NaiveDate::from_ymd_opt(2026, 1, 31).unwrap(),
            due_date: None,
            total: Money::ZERO,
            amount_remaining: Money::ZERO,
            status: InvoiceStatus::Open,
            paid_date: None,
        };
        let terms = Terms {
            id: "2".into(),
            name: "Net 30".into(),
            days_until_net_due: Some(30),
            discount_percent: None,
            discount_days: None,
        };
        assert_eq!(
            invoice.effective_due_date(Some(&terms)),
            NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
        );
        assert_eq!(invoice.effective_due_date(None), invoice.tran_date);
    }
}
