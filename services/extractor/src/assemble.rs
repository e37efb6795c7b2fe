//! Turning SuiteQL rows into customer snapshots. Pure: no I/O.
//!
//! Every row is read on its own: a row that does not parse becomes a [`Rejection`]
//! naming customer, record and field (in the snapshot format's names), and the rest of
//! the customer's data is kept. The §1 rules of `spec/scoring.md` are then applied with
//! [`validate_snapshot`].

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use ledgerlink_domain::{
    CreditHold, Customer, CustomerSnapshot, Invoice, InvoiceStatus, Money, Order, ParsedSnapshot, RecordKind,
    Rejection, Terms, validate_snapshot,
};
use ledgerlink_netsuite_client::{Row, RowError};

use crate::status::{InvoiceDisposition, invoice_status, order_awaits_prepayment, order_status};

/// Reference data read once per extraction.
#[derive(Debug, Clone)]
pub struct Lookups {
    /// Payment terms by id.
    pub terms: HashMap<i64, Terms>,
    /// ISO currency codes by currency id.
    pub currencies: HashMap<i64, String>,
    /// Ids of the terms that mark a sales order as a prepayment order.
    pub prepayment_terms: HashSet<i64>,
    /// The account's time zone, in which SuiteQL prints datetimes.
    pub time_zone: Tz,
}

impl Lookups {
    /// No terms or currencies, datetimes in `time_zone`.
    pub fn empty(time_zone: Tz) -> Self {
        Lookups {
            terms: HashMap::new(),
            currencies: HashMap::new(),
            prepayment_terms: HashSet::new(),
            time_zone,
        }
    }

    /// Marks the terms whose names are among `names` (any case) as prepayment terms.
    pub fn mark_prepayment_terms(&mut self, names: &[String]) {
        self.prepayment_terms = self
            .terms
            .iter()
            .filter(|(_, terms)| names.iter().any(|name| name.eq_ignore_ascii_case(terms.name.trim())))
            .map(|(id, _)| *id)
            .collect();
    }
}

/// The rows of one chunk of customers.
#[derive(Debug, Clone, Default)]
pub struct ChunkRows {
    /// `customer` rows ([`crate::queries::customers`]).
    pub customers: Vec<Row>,
    /// Invoice rows ([`crate::queries::invoices`]).
    pub invoices: Vec<Row>,
    /// Payment applications ([`crate::queries::applications`]).
    pub applications: Vec<Row>,
    /// Sales order rows ([`crate::queries::orders`]).
    pub orders: Vec<Row>,
    /// Deposit links ([`crate::queries::deposits`]).
    pub deposits: Vec<Row>,
    /// Contact rows ([`crate::queries::contacts`]).
    pub contacts: Vec<Row>,
}

/// The snapshots of one chunk, in customer id order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Assembled {
    /// Valid snapshots.
    pub snapshots: Vec<CustomerSnapshot>,
    /// Records refused.
    pub rejections: Vec<Rejection>,
    /// Distinct payment or credit applications read for the invoices kept.
    pub payments: u64,
}

/// Reads a term row.
pub fn parse_terms(row: &Row) -> Result<(i64, Terms), RowError> {
    let id = row.i64("id")?;
    Ok((
        id,
        Terms {
            id: id.to_string(),
            name: row.get("name").unwrap_or_default().to_owned(),
            days_until_net_due: row.opt_i64("daysuntilnetdue")?,
            discount_percent: row.opt_money("discountpercent")?,
            discount_days: row.opt_i64("daysuntilexpiry")?,
        },
    ))
}

/// Reads an account-local `YYYY-MM-DD HH24:MI:SS` datetime as an instant. A local time
/// skipped by a daylight-saving jump is read an hour later; an ambiguous one as the
/// earlier instant.
pub fn local_to_utc(naive: NaiveDateTime, time_zone: Tz) -> DateTime<Utc> {
    time_zone
        .from_local_datetime(&naive)
        .earliest()
        .or_else(|| time_zone.from_local_datetime(&(naive + TimeDelta::hours(1))).earliest())
        .map_or_else(|| naive.and_utc(), |local| local.with_timezone(&Utc))
}

/// Renders an instant as account-local `YYYY-MM-DD HH24:MI:SS`, the form `TO_DATE` reads.
pub fn utc_to_local_text(instant: DateTime<Utc>, time_zone: Tz) -> String {
    instant
        .with_timezone(&time_zone)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Assembles the snapshots of one chunk.
pub fn assemble_chunk(rows: &ChunkRows, lookups: &Lookups) -> Assembled {
    let mut rejections = Vec::new();
    let mut snapshots: BTreeMap<i64, CustomerSnapshot> = BTreeMap::new();
    for row in &rows.customers {
        match parse_customer(row, lookups) {
            Ok((id, customer)) => {
                snapshots.insert(
                    id,
                    CustomerSnapshot {
                        customer,
                        invoices: Vec::new(),
                        orders: Vec::new(),
                        contacts: Vec::new(),
                    },
                );
            }
            Err(rejection) => rejections.push(rejection),
        }
    }

    let applications = applications_by_invoice(&rows.applications);
    let mut payments = 0u64;
    for row in &rows.invoices {
        let Some((customer_id, snapshot)) = owner(row, &mut snapshots) else {
            continue;
        };
        let record_id = row.get("id").unwrap_or_default().to_owned();
        let invoice_applications = row.i64("id").ok().and_then(|id| applications.get(&id));
        match parse_invoice(row, invoice_applications) {
            Ok(Some(invoice)) => {
                payments += invoice_applications.map_or(0, |found| found.applying.len() as u64);
                snapshot.invoices.push(invoice);
            }
            Ok(None) => {}
            Err((field, reason)) => rejections.push(Rejection {
                customer_id,
                record_kind: RecordKind::Invoice,
                record_id,
                field,
                reason,
            }),
        }
    }

    let deposits = deposits_by_order(&rows.deposits);
    for row in &rows.orders {
        let Some((customer_id, snapshot)) = owner(row, &mut snapshots) else {
            continue;
        };
        let record_id = row.get("id").unwrap_or_default().to_owned();
        let order_deposits = row.i64("id").ok().and_then(|id| deposits.get(&id));
        match parse_order(row, order_deposits, lookups) {
            Ok(order) => snapshot.orders.push(order),
            Err((field, reason)) => rejections.push(Rejection {
                customer_id,
                record_kind: RecordKind::Order,
                record_id,
                field,
                reason,
            }),
        }
    }

    for row in &rows.contacts {
        let Some((customer_id, snapshot)) = owner(row, &mut snapshots) else {
            continue;
        };
        let record_id = row.get("id").unwrap_or_default().to_owned();
        match (row.string("email"), row.get("role")) {
            (Ok(email), role) if !email.trim().is_empty() => snapshot.contacts.push(ledgerlink_domain::Contact {
                id: record_id,
                email: email.to_owned(),
                role: role.map(str::to_owned),
            }),
            _ => rejections.push(Rejection {
                customer_id,
                record_kind: RecordKind::Contact,
                record_id,
                field: "email".to_owned(),
                reason: "contact without an email".to_owned(),
            }),
        }
    }

    let mut valid = Vec::with_capacity(snapshots.len());
    for snapshot in snapshots.into_values() {
        let mut parsed = ParsedSnapshot {
            snapshot,
            rejections: Vec::new(),
        };
        validate_snapshot(&mut parsed);
        rejections.append(&mut parsed.rejections);
        valid.push(parsed.snapshot);
    }
    Assembled {
        snapshots: valid,
        rejections,
        payments,
    }
}

/// The snapshot a transaction row belongs to; `None` when its customer was refused (the
/// customer's rejection already says why) or is not in the chunk.
fn owner<'a>(
    row: &Row,
    snapshots: &'a mut BTreeMap<i64, CustomerSnapshot>,
) -> Option<(String, &'a mut CustomerSnapshot)> {
    let entity = row.i64("entity").ok()?;
    let snapshot = snapshots.get_mut(&entity)?;
    Some((snapshot.customer.id.clone(), snapshot))
}

/// A field name of the snapshot format for a SuiteQL column.
fn field_of(column: &str) -> &str {
    match column {
        "entityid" => "entity_id",
        "companyname" => "company_name",
        "isinactive" => "is_inactive",
        "creditlimit" => "credit_limit",
        "creditholdoverride" => "credit_hold",
        "lastmodifieddate" => "last_modified",
        "tranid" => "tran_id",
        "trandate" => "tran_date",
        "duedate" => "due_date",
        "closedate" | "applied_on" => "paid_date",
        "foreigntotal" => "total",
        "foreignamountunpaid" => "amount_remaining",
        other => other,
    }
}

fn row_problem(error: RowError) -> (String, String) {
    let column = match &error {
        RowError::Missing { column } | RowError::Invalid { column, .. } => column.clone(),
    };
    (field_of(&column).to_owned(), error.to_string())
}

fn parse_customer(row: &Row, lookups: &Lookups) -> Result<(i64, Customer), Rejection> {
    let raw_id = row.get("id").unwrap_or_default().to_owned();
    let reject = |(field, reason): (String, String)| Rejection {
        customer_id: raw_id.clone(),
        record_kind: RecordKind::Customer,
        record_id: raw_id.clone(),
        field,
        reason,
    };
    let id = row.i64("id").map_err(|error| reject(row_problem(error)))?;
    let credit_hold = match row.get("creditholdoverride").map(str::trim) {
        None | Some("AUTO") => CreditHold::Auto,
        Some("ON") => CreditHold::On,
        Some("OFF") => CreditHold::Off,
        Some(other) => {
            return Err(reject((
                "credit_hold".to_owned(),
                format!("creditholdoverride {other:?} is not ON, OFF or AUTO"),
            )));
        }
    };
    let terms = match row.opt_i64("terms").map_err(|error| reject(row_problem(error)))? {
        None => None,
        Some(terms_id) => match lookups.terms.get(&terms_id) {
            Some(terms) => Some(terms.clone()),
            None => {
                return Err(reject((
                    "terms".to_owned(),
                    format!("terms {terms_id} not found in the term table"),
                )));
            }
        },
    };
    let currency = match row.opt_i64("currency").map_err(|error| reject(row_problem(error)))? {
        None => None,
        Some(currency_id) => lookups
            .currencies
            .get(&currency_id)
            .cloned()
            .or_else(|| row.get("currency_name").map(str::to_owned))
            .or_else(|| Some(currency_id.to_string())),
    };
    let last_modified = row
        .opt_naive_datetime("lastmodifieddate")
        .map_err(|error| reject(row_problem(error)))?
        .map(|naive| local_to_utc(naive, lookups.time_zone));
    let customer = Customer {
        id: id.to_string(),
        entity_id: row.get("entityid").map(str::to_owned),
        company_name: row.get("companyname").map(str::to_owned),
        email: row.get("email").map(str::to_owned),
        currency,
        is_inactive: row
            .opt_bool("isinactive")
            .map_err(|error| reject(row_problem(error)))?
            .unwrap_or(false),
        terms,
        credit_limit: row
            .opt_money("creditlimit")
            .map_err(|error| reject(row_problem(error)))?,
        credit_hold,
        last_modified,
    };
    Ok((id, customer))
}

/// The applications of one invoice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct InvoiceApplications {
    applying: HashSet<i64>,
    latest: Option<NaiveDate>,
    /// The first application whose date did not read, which leaves the paid date unknown.
    problem: Option<(String, String)>,
}

fn applications_by_invoice(rows: &[Row]) -> HashMap<i64, InvoiceApplications> {
    let mut by_invoice: HashMap<i64, InvoiceApplications> = HashMap::new();
    for row in rows {
        // A link row without its invoice id cannot be attributed to anything.
        let Ok(invoice_id) = row.i64("invoice_id") else {
            tracing::warn!(row = ?row.columns().keys().collect::<Vec<_>>(), "payment application without invoice id skipped");
            continue;
        };
        let entry = by_invoice.entry(invoice_id).or_default();
        if let Ok(applying) = row.i64("applying_id") {
            entry.applying.insert(applying);
        }
        match row.date("applied_on") {
            Ok(date) => entry.latest = entry.latest.max(Some(date)),
            Err(error) => {
                if entry.problem.is_none() {
                    let applying = row.get("applying_id").unwrap_or("-");
                    entry.problem = Some((
                        "paid_date".to_owned(),
                        format!("payment application {applying}: {error}"),
                    ));
                }
            }
        }
    }
    by_invoice
}

/// Reads an invoice row; `Ok(None)` for invoices that are not receivables.
fn parse_invoice(row: &Row, applications: Option<&InvoiceApplications>) -> Result<Option<Invoice>, (String, String)> {
    let id = row.i64("id").map_err(row_problem)?;
    let status_text = row.string("status").map_err(row_problem)?;
    let status = match invoice_status(status_text) {
        Some(InvoiceDisposition::Keep(status)) => status,
        Some(InvoiceDisposition::Skip) => return Ok(None),
        None => {
            return Err((
                "status".to_owned(),
                format!("invoice status {status_text:?} is not one of A, B, D, E, V"),
            ));
        }
    };
    let tran_date = row.date("trandate").map_err(row_problem)?;
    let due_date = row.opt_date("duedate").map_err(row_problem)?;
    let total = row.money("foreigntotal").map_err(row_problem)?;
    let amount_remaining = match (status, row.opt_money("foreignamountunpaid").map_err(row_problem)?) {
        (_, Some(amount)) => amount,
        // Paid and voided invoices owe nothing; NetSuite may leave the column empty.
        (InvoiceStatus::Paid | InvoiceStatus::Voided, None) => Money::ZERO,
        (InvoiceStatus::Open, None) => {
            return Err((
                "amount_remaining".to_owned(),
                "column foreignamountunpaid is missing or null on an open invoice".to_owned(),
            ));
        }
    };
    let paid_date = if status == InvoiceStatus::Paid {
        match applications {
            Some(found) if found.problem.is_some() => return Err(found.problem.clone().unwrap_or_default()),
            Some(found) if found.latest.is_some() => found.latest,
            // No application on record (e.g. paid before a data migration): NetSuite's
            // close date is the paid-in-full date.
            _ => row.opt_date("closedate").map_err(row_problem)?,
        }
    } else {
        None
    };
    Ok(Some(Invoice {
        id: id.to_string(),
        tran_id: row.get("tranid").map(str::to_owned),
        tran_date,
        due_date,
        total,
        amount_remaining,
        status,
        paid_date,
    }))
}

fn deposits_by_order(rows: &[Row]) -> HashMap<i64, Result<Money, (String, String)>> {
    let mut seen: HashSet<(i64, i64)> = HashSet::new();
    let mut by_order: HashMap<i64, Result<Money, (String, String)>> = HashMap::new();
    for row in rows {
        let Ok(order_id) = row.i64("order_id") else {
            continue;
        };
        let entry = by_order.entry(order_id).or_insert(Ok(Money::ZERO));
        let Ok(sum) = entry else {
            continue;
        };
        // Line-level links can repeat one deposit; count it once per line pair only.
        if let Ok(deposit_id) = row.i64("deposit_id")
            && !seen.insert((order_id, deposit_id))
        {
            continue;
        }
        match row.money("amount") {
            Ok(amount) => *sum += amount,
            Err(error) => {
                *entry = Err((
                    "balance_due".to_owned(),
                    format!("deposit {}: {error}", row.get("deposit_id").unwrap_or("-")),
                ));
            }
        }
    }
    by_order
}

/// A prepayment order (one with a deposit linked, or on a prepayment term) carries
/// `balance_due` while it waits for approval or fulfilment: its total less the deposits.
fn parse_order(
    row: &Row,
    deposits: Option<&Result<Money, (String, String)>>,
    lookups: &Lookups,
) -> Result<Order, (String, String)> {
    let id = row.i64("id").map_err(row_problem)?;
    let status_text = row.string("status").map_err(row_problem)?;
    let status = order_status(status_text).ok_or_else(|| {
        (
            "status".to_owned(),
            format!("sales order status {status_text:?} is not one of A to H"),
        )
    })?;
    let tran_date = row.date("trandate").map_err(row_problem)?;
    let total = row.money("foreigntotal").map_err(row_problem)?;
    let deposited = match deposits {
        Some(Err(problem)) => return Err(problem.clone()),
        Some(Ok(deposited)) => Some(*deposited),
        None => None,
    };
    let on_prepayment_terms = row
        .opt_i64("terms")
        .map_err(row_problem)?
        .is_some_and(|terms| lookups.prepayment_terms.contains(&terms));
    let balance_due = (order_awaits_prepayment(status) && (deposited.is_some() || on_prepayment_terms)).then(|| {
        let owed = total - deposited.unwrap_or(Money::ZERO);
        if owed.is_negative() { Money::ZERO } else { owed }
    });
    Ok(Order {
        id: id.to_string(),
        tran_id: row.get("tranid").map(str::to_owned),
        tran_date,
        total,
        status: status.to_owned(),
        balance_due,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, &str)]) -> Row {
        Row::from_pairs(pairs.iter().copied())
    }

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn lookups() -> Lookups {
        let mut lookups = Lookups::empty(chrono_tz::America::New_York);
        lookups.terms.insert(
            2,
            Terms {
                id: "2".into(),
                name: "Net 30".into(),
                days_until_net_due: Some(30),
                discount_percent: Some("2.0".parse().unwrap()),
                discount_days: Some(10),
            },
        );
        lookups.terms.insert(
            8,
            Terms {
                id: "8".into(),
                name: "CASH IN ADVANCE ".into(),
                days_until_net_due: Some(0),
                discount_percent: None,
                discount_days: None,
            },
        );
        lookups.mark_prepayment_terms(&crate::config::ExtractSettings::default().prepayment_terms);
        lookups.currencies.insert(1, "USD".into());
        lookups
    }

    fn customer_row(id: &str) -> Row {
        row(&[
            ("id", id),
            ("entityid", "CUST-1042"),
            ("companyname", "Acme Supply"),
            ("email", "ap@acme.example"),
            ("terms", "2"),
            ("creditlimit", "50000.00"),
            ("creditholdoverride", "AUTO"),
            ("currency", "1"),
            ("currency_name", "US Dollar"),
            ("isinactive", "F"),
            ("lastmodifieddate", "2026-11-20 09:03:00"),
        ])
    }

    fn invoice_row(id: &str, entity: &str, status: &str, total: &str, unpaid: &str) -> Row {
        row(&[
            ("id", id),
            ("tranid", &format!("INV-{id}")),
            ("entity", entity),
            ("status", status),
            ("trandate", "2026-09-01"),
            ("duedate", "2026-10-01"),
            ("foreigntotal", total),
            ("foreignamountunpaid", unpaid),
        ])
    }

    fn application(invoice: &str, applying: &str, on: &str) -> Row {
        row(&[
            ("invoice_id", invoice),
            ("applying_id", applying),
            ("applying_type", "CustPymt"),
            ("applied_on", on),
            ("applied_amount", "100.00"),
        ])
    }

    #[test]
    fn spec_example_customer_assembles_field_by_field() {
        let rows = ChunkRows {
            customers: vec![customer_row("1042")],
            invoices: vec![invoice_row("88121", "1042", "A", "1200.00", "1200.00")],
            orders: vec![row(&[
                ("id", "7001"),
                ("entity", "1042"),
                ("status", "G"),
                ("trandate", "2026-08-28"),
                ("foreigntotal", "1200.00"),
            ])],
            ..Default::default()
        };
        let assembled = assemble_chunk(&rows, &lookups());
        assert!(assembled.rejections.is_empty(), "{:?}", assembled.rejections);
        let expected = r#"{"customer": {"id": "1042", "entity_id": "CUST-1042", "company_name": "Acme Supply",
          "email": "ap@acme.example", "currency": "USD", "is_inactive": false,
          "terms": {"id": "2", "name": "Net 30", "days_until_net_due": 30,
                    "discount_percent": "2.0", "discount_days": 10},
          "credit_limit": "50000.00", "credit_hold": "AUTO",
          "last_modified": "2026-11-20T14:03:00Z"},
         "invoices": [{"id": "88121", "tran_id": "INV-88121", "tran_date": "2026-09-01",
           "due_date": "2026-10-01", "total": "1200.00", "amount_remaining": "1200.00",
           "status": "open", "paid_date": null}],
         "orders": [{"id": "7001", "tran_date": "2026-08-28", "total": "1200.00", "status": "billed"}],
         "contacts": []}"#;
        let expected: serde_json::Value = serde_json::from_str(expected).unwrap();
        assert_eq!(serde_json::to_value(&assembled.snapshots[0]).unwrap(), expected);
    }

    #[test]
    fn paid_date_is_the_latest_application_over_partial_payments_and_credits() {
        let rows = ChunkRows {
            customers: vec![customer_row("1")],
            invoices: vec![
                invoice_row("10", "1", "B", "300.00", "0.00"),
                invoice_row("11", "1", "A", "300.00", "200.00"),
                invoice_row("12", "1", "B", "300.00", "0.00"),
            ],
            applications: vec![
                application("10", "500", "2026-09-20"),
                application("10", "501", "2026-10-05"),
                row(&[
                    ("invoice_id", "10"),
                    ("applying_id", "900"),
                    ("applying_type", "CustCred"),
                    ("applied_on", "2026-09-30"),
                ]),
                // The same payment on a second line pair counts once.
                application("10", "501", "2026-10-05"),
                // A partial payment leaves the invoice open, without a paid date.
                application("11", "502", "2026-10-01"),
                application("12", "503", "2026-09-15"),
            ],
            ..Default::default()
        };
        let assembled = assemble_chunk(&rows, &lookups());
        assert!(assembled.rejections.is_empty(), "{:?}", assembled.rejections);
        let paid: Vec<_> = assembled.snapshots[0]
            .invoices
            .iter()
            .map(|invoice| (invoice.id.as_str(), invoice.status, invoice.paid_date))
            .collect();
        assert_eq!(
            paid,
            [
                ("10", InvoiceStatus::Paid, Some(date("2026-10-05"))),
                ("11", InvoiceStatus::Open, None),
                ("12", InvoiceStatus::Paid, Some(date("2026-09-15"))),
            ]
        );
        assert_eq!(assembled.payments, 5);
    }

    #[test]
    fn paid_invoice_without_applications_falls_back_to_close_date_else_is_rejected() {
        let mut closed = invoice_row("20", "1", "B", "50", "0");
        closed = row(&closed
            .columns()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain([("closedate", "2026-11-02")])
            .collect::<Vec<_>>());
        let rows = ChunkRows {
            customers: vec![customer_row("1")],
            invoices: vec![closed, invoice_row("21", "1", "B", "50", "0")],
            ..Default::default()
        };
        let assembled = assemble_chunk(&rows, &lookups());
        assert_eq!(assembled.snapshots[0].invoices.len(), 1);
        assert_eq!(assembled.snapshots[0].invoices[0].paid_date, Some(date("2026-11-02")));
        let rejection = &assembled.rejections[0];
        assert_eq!(
            (
                rejection.customer_id.as_str(),
                rejection.record_id.as_str(),
                rejection.field.as_str()
            ),
            ("1", "21", "paid_date")
        );
        assert_eq!(rejection.record_kind, RecordKind::Invoice);
    }

    #[test]
    fn bad_records_are_rejected_with_customer_record_and_field_and_the_rest_kept() {
        let mut user_format = invoice_row("31", "1", "A", "10", "10");
        user_format = row(&user_format
            .columns()
            .iter()
            .map(|(k, v)| (k.as_str(), if k == "trandate" { "9/1/2026" } else { v.as_str() }))
            .collect::<Vec<_>>());
        let rows = ChunkRows {
            customers: vec![
                customer_row("1"),
                row(&[("id", "2"), ("creditholdoverride", "MAYBE")]),
                row(&[("id", "3"), ("creditlimit", "1,000")]),
            ],
            invoices: vec![
                invoice_row("30", "1", "A", "-5", "0"),
                user_format,
                invoice_row("32", "1", "A", "10", "11"),
                invoice_row("33", "1", "Z", "10", "10"),
                invoice_row("34", "1", "D", "10", "10"),
                invoice_row("35", "1", "A", "10", "4"),
                invoice_row("36", "2", "A", "10", "4"),
            ],
            applications: vec![application("37", "600", "10/05/2026")],
            orders: vec![row(&[
                ("id", "40"),
                ("entity", "1"),
                ("status", "B"),
                ("trandate", "2026-08-28"),
                ("foreigntotal", "abc"),
            ])],
            ..Default::default()
        };
        let mut rows = rows;
        rows.invoices.push(invoice_row("37", "1", "B", "10", "0"));
        let assembled = assemble_chunk(&rows, &lookups());
        let kept: Vec<_> = assembled.snapshots.iter().map(|s| s.customer.id.as_str()).collect();
        assert_eq!(kept, ["1"]);
        let invoices: Vec<_> = assembled.snapshots[0].invoices.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(invoices, ["35"]);
        let mut seen: Vec<_> = assembled
            .rejections
            .iter()
            .map(|r| {
                (
                    r.record_kind.as_str(),
                    r.customer_id.as_str(),
                    r.record_id.as_str(),
                    r.field.as_str(),
                )
            })
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            [
                ("customer", "2", "2", "credit_hold"),
                ("customer", "3", "3", "credit_limit"),
                ("invoice", "1", "30", "total"),
                ("invoice", "1", "31", "tran_date"),
                ("invoice", "1", "32", "amount_remaining"),
                ("invoice", "1", "33", "status"),
                ("invoice", "1", "37", "paid_date"),
                ("order", "1", "40", "total"),
            ]
        );
        let user_date = assembled.rejections.iter().find(|r| r.record_id == "31").unwrap();
        assert!(user_date.reason.contains("TO_CHAR"), "{}", user_date.reason);
    }

    #[test]
    fn deposit_orders_carry_balance_due_only_before_they_ship() {
        let order_on = |id: &str, status: &str, terms: &str| {
            row(&[
                ("id", id),
                ("entity", "1"),
                ("status", status),
                ("trandate", "2026-08-28"),
                ("foreigntotal", "1000.00"),
                ("terms", terms),
            ])
        };
        let order = |id: &str, status: &str| order_on(id, status, "2");
        let deposit = |order: &str, deposit: &str, amount: &str| {
            row(&[("order_id", order), ("deposit_id", deposit), ("amount", amount)])
        };
        let rows = ChunkRows {
            customers: vec![customer_row("1")],
            orders: vec![
                order("50", "B"),
                order("51", "B"),
                order("52", "G"),
                order("53", "A"),
                order_on("54", "B", "8"),
                order_on("55", "D", "8"),
                order_on("56", "F", "8"),
                order_on("57", "SalesOrd:A", "8"),
            ],
            deposits: vec![
                deposit("50", "700", "300.00"),
                deposit("50", "701", "200.00"),
                deposit("52", "702", "1000.00"),
                deposit("53", "703", "1200.00"),
            ],
            ..Default::default()
        };
        let assembled = assemble_chunk(&rows, &lookups());
        let balances: Vec<_> = assembled.snapshots[0]
            .orders
            .iter()
            .map(|o| (o.id.as_str(), o.status.as_str(), o.balance_due.map(|m| m.to_string())))
            .collect();
        assert_eq!(
            balances,
            [
                ("50", "pending_fulfillment", Some("500.00".to_owned())),
                ("51", "pending_fulfillment", None),
                ("52", "billed", None),
                ("53", "pending_approval", Some("0".to_owned())),
                ("54", "pending_fulfillment", Some("1000.00".to_owned())),
                ("55", "partially_fulfilled", Some("1000.00".to_owned())),
                ("56", "pending_billing", None),
                ("57", "pending_approval", Some("1000.00".to_owned())),
            ]
        );
    }

    #[test]
    fn account_local_datetimes_convert_both_ways_across_daylight_saving() {
        let zone = chrono_tz::America::New_York;
        let summer: NaiveDateTime = "2026-07-01T12:00:00".parse().unwrap();
        assert_eq!(local_to_utc(summer, zone).to_rfc3339(), "2026-07-01T16:00:00+00:00");
        let winter: NaiveDateTime = "2026-01-15T12:00:00".parse().unwrap();
        assert_eq!(local_to_utc(winter, zone).to_rfc3339(), "2026-01-15T17:00:00+00:00");
        let skipped: NaiveDateTime = "2026-03-08T02:30:00".parse().unwrap();
        assert_eq!(local_to_utc(skipped, zone).to_rfc3339(), "2026-03-08T07:30:00+00:00");
        let instant = local_to_utc(summer, zone);
        assert_eq!(utc_to_local_text(instant, zone), "2026-07-01 12:00:00");
    }
}
