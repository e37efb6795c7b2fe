//! Per-invoice runs through the signed webhook, timed from the POST until the
//! reminder event is in the Klaviyo simulator.
//!
//! Each run gets an invoice of its own: a new open invoice, due today, for a customer
//! with a usable email, written into the NetSuite simulator just before the webhook is
//! sent (as a NetSuite user-event script would call it on create). Its "due today"
//! reminder (`due:{invoice}:0`) is then due and not yet in the ledger, so the run must
//! send exactly that event.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{NaiveDate, Utc};
use ledgerlink_coordinator::webhook::{SIGNATURE_HEADER, TIMESTAMP_HEADER, server::PATH, sign};
use ledgerlink_proto::coordinator::v1::WatchRunRequest;

use super::Coordinator;
use super::bounds::percentile;

/// How long one run may take before it counts as failed.
const RUN_DEADLINE: Duration = Duration::from_secs(30);

/// A customer the per-invoice runs can bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InvoiceCustomer {
    pub(crate) id: i64,
    pub(crate) currency: i64,
    pub(crate) terms: Option<i64>,
}

/// Where the runs go.
pub(crate) struct Target<'a> {
    pub(crate) webhook: SocketAddr,
    pub(crate) secret: String,
    pub(crate) netsuite: &'a ledgerlink_netsuite_sim::SimHandle,
    pub(crate) klaviyo: &'a ledgerlink_klaviyo_sim::SimHandle,
    /// The due date of the new invoices: the coordinator's today.
    pub(crate) due: NaiveDate,
}

/// Latencies of the runs that delivered their event, and why the others did not.
#[derive(Debug, Clone, Default)]
pub(crate) struct InvoiceResult {
    /// Milliseconds, sorted.
    pub(crate) latencies_ms: Vec<f64>,
    pub(crate) failures: Vec<String>,
}

impl InvoiceResult {
    pub(crate) fn runs(&self) -> usize {
        self.latencies_ms.len() + self.failures.len()
    }

    pub(crate) fn percentile_ms(&self, p: f64) -> Option<f64> {
        percentile(&self.latencies_ms, p)
    }
}

/// The id of the benchmark's invoice for `customer`: in the customer's id block, in a
/// range the generator leaves unused (invoices start at +1, payments at +3000).
fn invoice_id(customer: i64) -> i64 {
    customer * ledgerlink_synthdata::ID_BLOCK + 2_500
}

fn insert_invoice(customer: &InvoiceCustomer, due: NaiveDate) -> String {
    let id = invoice_id(customer.id);
    let now = Utc::now().format("%Y-%m-%dT%H:%M:%S");
    let day = format!("{}T00:00:00", due.format("%Y-%m-%d"));
    let terms = customer.terms.map_or_else(|| "NULL".to_owned(), |t| t.to_string());
    format!(
        "INSERT INTO \"transaction\" (id, tranid, transactionnumber, type, recordtype, status, trandate, duedate, \
         entity, currency, exchangerate, foreigntotal, foreignamountpaid, foreignamountunpaid, daysoverduesearch, \
         daysopen, terms, posting, voided, memo, createddate, lastmodifieddate) VALUES ({id}, 'INV-B{id}', \
         'INV-B{id}', 'CustInvc', 'invoice', 'A', '{day}', '{day}', {entity}, {currency}, 1, 1250, 0, 1250, 0, 0, \
         {terms}, 'T', 'F', 'benchmark', '{now}', '{now}');\n\
         INSERT INTO transactionline (id, \"transaction\", linesequencenumber, mainline, subsidiary, entity, \
         foreignamount, netamount) VALUES (0, {id}, 0, 'T', 1, {entity}, 1250, 1250);",
        entity = customer.id,
        currency = customer.currency,
    )
}

/// Runs one webhook per customer, one after another, and times each.
pub(crate) async fn measure(
    target: &Target<'_>,
    customers: &[InvoiceCustomer],
    coordinator: &mut Coordinator,
) -> anyhow::Result<InvoiceResult> {
    let client = reqwest::Client::builder().timeout(RUN_DEADLINE).build()?;
    let url = format!("http://{}{PATH}", target.webhook);
    let mut result = InvoiceResult::default();
    for customer in customers {
        let invoice = invoice_id(customer.id);
        target
            .netsuite
            .execute_sql(&insert_invoice(customer, target.due))
            .await
            .map_err(|e| anyhow::anyhow!("writing invoice {invoice} into the simulator: {e}"))?;
        let key = format!("due:{invoice}:0");
        let body = serde_json::json!({ "invoice_id": invoice.to_string() }).to_string();
        let mut cursor = target.klaviyo.event_count();

        let started = Instant::now();
        let timestamp = Utc::now().timestamp();
        let response = client
            .post(&url)
            .header("content-type", "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(
                SIGNATURE_HEADER,
                sign(target.secret.as_bytes(), timestamp, body.as_bytes()),
            )
            .body(body)
            .send()
            .await
            .with_context(|| format!("posting the webhook for invoice {invoice}"))?;
        let status = response.status();
        let answer: serde_json::Value = response.json().await.unwrap_or_default();
        if status != reqwest::StatusCode::ACCEPTED {
            result
                .failures
                .push(format!("invoice {invoice}: webhook answered {status}: {answer}"));
            continue;
        }
        let delivered = loop {
            let fresh = target.klaviyo.events_from(cursor);
            cursor += fresh.len();
            if fresh
                .iter()
                .any(|event| event.unique_id.as_deref() == Some(key.as_str()))
            {
                break Some(started.elapsed());
            }
            if started.elapsed() > RUN_DEADLINE {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        match delivered {
            Some(latency) => result.latencies_ms.push(latency.as_secs_f64() * 1000.0),
            None => result.failures.push(format!(
                "invoice {invoice}: no event {key} in Klaviyo within {} s",
                RUN_DEADLINE.as_secs()
            )),
        }
        // Let the run finish (confirmation) before the next one, so runs do not overlap.
        if let Some(run_id) = answer.get("run_id").and_then(|v| v.as_str()) {
            let watched = coordinator
                .watch_run(WatchRunRequest {
                    run_id: run_id.to_owned(),
                })
                .await;
            if let Ok(stream) = watched {
                let mut stream = stream.into_inner();
                let drained = tokio::time::timeout(RUN_DEADLINE, async {
                    while let Ok(Some(_)) = stream.message().await {}
                });
                let _ = drained.await;
            }
        }
    }
    result
        .latencies_ms
        .sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoices_are_written_as_open_and_due_on_the_day() {
        let customer = InvoiceCustomer {
            id: 17,
            currency: 2,
            terms: None,
        };
        let sql = insert_invoice(&customer, "2026-11-23".parse().unwrap());
        assert!(sql.contains("VALUES (172500, 'INV-B172500'"), "{sql}");
        assert!(sql.contains("'CustInvc', 'invoice', 'A', '2026-11-23T00:00:00', '2026-11-23T00:00:00', 17, 2,"));
        assert!(sql.contains("NULL, 'T', 'F'"), "{sql}");
    }
}
