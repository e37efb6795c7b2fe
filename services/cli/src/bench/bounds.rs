//! What the data needs from the two APIs at best, and how long that takes under their
//! limits: the lower bounds a run's wall time is compared with. Pure arithmetic over
//! counts taken from the synthetic data generator (the simulator loads the same data).

use std::collections::BTreeMap;

use ledgerlink_synthdata::{CustomerRecords, TransactionType};

/// Rows per SuiteQL page: NetSuite's maximum `limit`.
pub(crate) const SUITEQL_PAGE_ROWS: u64 = 1_000;
/// Profiles per bulk import job (Klaviyo's cap).
pub(crate) const PROFILES_PER_JOB: u64 = 10_000;
/// Events per bulk create request (Klaviyo's cap).
pub(crate) const EVENTS_PER_REQUEST: u64 = 1_000;
/// At most this many records go through the single-record endpoints (the gateway's
/// default `single_write_threshold`); more go through the bulk ones.
pub(crate) const SINGLE_WRITE_THRESHOLD: u64 = 5;

/// Row counts of the records a run must read, for one set of customers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct DataCounts {
    /// Customers.
    pub(crate) customers: u64,
    /// Invoices that are receivables (open, paid, voided): what snapshots carry.
    pub(crate) invoices: u64,
    /// Every `CustInvc` row of these customers (the invoice query reads them all and
    /// leaves pending-approval and rejected ones out itself).
    pub(crate) invoice_rows: u64,
    /// Sales orders.
    pub(crate) orders: u64,
    /// Contacts with an email.
    pub(crate) contacts: u64,
    /// Payment applications of paid invoices (what paid dates are read from).
    pub(crate) paid_applications: u64,
    /// Deposit links of orders still waiting for prepayment (statuses A, B, D).
    pub(crate) awaiting_deposits: u64,
    /// Customers with an email Klaviyo can take (the others are skipped).
    pub(crate) usable_emails: u64,
}

impl DataCounts {
    /// Adds one customer's records.
    pub(crate) fn add(&mut self, records: &CustomerRecords) {
        self.customers += 1;
        self.invoice_rows += records.invoices.len() as u64;
        self.invoices += records
            .invoices
            .iter()
            .filter(|t| matches!(t.status, 'A' | 'B' | 'V'))
            .count() as u64;
        self.orders += records.orders.len() as u64;
        self.contacts += records.contacts.iter().filter(|c| c.email.is_some()).count() as u64;
        let paid: std::collections::HashSet<i64> = records
            .invoices
            .iter()
            .filter(|t| t.kind == TransactionType::Invoice && t.status == 'B')
            .map(|t| t.id)
            .collect();
        self.paid_applications += records
            .applications
            .iter()
            .filter(|a| paid.contains(&a.invoice_id))
            .count() as u64;
        let awaiting: std::collections::HashSet<i64> = records
            .orders
            .iter()
            .filter(|t| matches!(t.status, 'A' | 'B' | 'D'))
            .map(|t| t.id)
            .collect();
        self.awaiting_deposits += records
            .deposit_links
            .iter()
            .filter(|l| awaiting.contains(&l.order_id))
            .count() as u64;
        if records
            .customer
            .email
            .as_deref()
            .is_some_and(ledgerlink_reminder_planner::is_usable_email)
        {
            self.usable_emails += 1;
        }
    }
}

/// Pages one query needs for `rows` rows: at least one, to learn there are none.
pub(crate) fn pages_for(rows: u64) -> u64 {
    rows.div_ceil(SUITEQL_PAGE_ROWS).max(1)
}

/// The fewest SuiteQL pages that read `data`, one query per kind of record, with the
/// extraction's fixed reads (server clock, terms, currencies) and, for an incremental
/// run, the two change-detection queries (`changed` customers found).
pub(crate) fn minimum_pages(data: &DataCounts, changed: Option<u64>) -> BTreeMap<&'static str, u64> {
    let mut pages = BTreeMap::new();
    pages.insert("server clock, terms, currencies", 3);
    if let Some(changed) = changed {
        pages.insert("changed customers", pages_for(changed));
        // Only customer rows were changed: no transaction qualifies, one empty page.
        pages.insert("changed transactions", 1);
    }
    pages.insert("customers", pages_for(data.customers));
    pages.insert("invoices", pages_for(data.invoice_rows));
    pages.insert("orders", pages_for(data.orders));
    pages.insert("contacts", pages_for(data.contacts));
    pages.insert("payment applications", pages_for(data.paid_applications));
    pages.insert("deposits", pages_for(data.awaiting_deposits));
    pages
}

/// Which of [`minimum_pages`]'s queries a SuiteQL statement shape (as the simulator
/// counts them) belongs to.
pub(crate) fn query_label(shape: &str) -> &'static str {
    let has = |text: &str| shape.contains(text);
    if has("FROM DUAL") || has("FROM term") || has("FROM currency") {
        "server clock, terms, currencies"
    } else if has("lastmodifieddate >=") && has("FROM customer") {
        "changed customers"
    } else if has("lastmodifieddate >=") {
        "changed transactions"
    } else if has("FROM customer") {
        "customers"
    } else if has("'Payment'") {
        // Before invoices and orders: links of a customer range join their documents.
        "payment applications"
    } else if has("'CustDep'") {
        "deposits"
    } else if has("'CustInvc'") && has("t.id IN") {
        "invoice owners"
    } else if has("'CustInvc'") {
        "invoices"
    } else if has("'SalesOrd'") {
        "orders"
    } else if has("FROM contact") {
        "contacts"
    } else {
        "other"
    }
}

/// NetSuite's lower bound in seconds: `pages` spread over `concurrency` requests at
/// once, each taking `latency_secs`.
pub(crate) fn netsuite_bound_secs(pages: u64, concurrency: usize, latency_secs: f64) -> f64 {
    pages as f64 / concurrency.max(1) as f64 * latency_secs
}

/// The fewest Klaviyo requests per operation that write `profiles` profiles and
/// `events` events, by the batch limits: a bulk import job per 10,000 profiles (each
/// read back at least once to learn it finished), a bulk request per 1,000 events; the
/// single-record endpoints when there are no more than the gateway's threshold.
pub(crate) fn minimum_klaviyo_requests(profiles: u64, events: u64) -> BTreeMap<&'static str, u64> {
    let mut requests = BTreeMap::new();
    if profiles > SINGLE_WRITE_THRESHOLD {
        let jobs = profiles.div_ceil(PROFILES_PER_JOB);
        requests.insert("bulk_import_profiles", jobs);
        requests.insert("get_bulk_import_profiles_job", jobs);
    } else if profiles > 0 {
        requests.insert("create_or_update_profile", profiles);
    }
    if events > SINGLE_WRITE_THRESHOLD {
        requests.insert("bulk_create_events", events.div_ceil(EVENTS_PER_REQUEST));
    } else if events > 0 {
        requests.insert("create_event", events);
    }
    requests
}

/// Klaviyo's lower bound in seconds for `requests` to one operation with these
/// published limits, for a run that starts at `start_ms` (Unix milliseconds).
///
/// Klaviyo counts requests in fixed one-second (burst) and one-minute (steady)
/// windows aligned to the clock, as the simulator does; admitting requests as early as
/// both windows allow, this is when the last one can go at the earliest. For many
/// requests it approaches `requests ÷ steady rate`; unlike that rate it is never
/// beaten by a short burst that fits in the windows the run starts in.
pub(crate) fn klaviyo_operation_secs(requests: u64, burst_per_sec: u32, steady_per_min: u32, start_ms: i64) -> f64 {
    let (burst, steady) = (u64::from(burst_per_sec.max(1)), u64::from(steady_per_min.max(1)));
    let mut remaining = requests;
    let mut second = start_ms.div_euclid(1_000);
    let mut minute = start_ms.div_euclid(60_000);
    let mut used_this_minute = 0;
    while remaining > 0 {
        let this_minute = (second * 1_000).div_euclid(60_000);
        if this_minute != minute {
            minute = this_minute;
            used_this_minute = 0;
        }
        let admitted = burst.min(steady - used_this_minute).min(remaining);
        remaining -= admitted;
        used_this_minute += admitted;
        if remaining == 0 {
            break;
        }
        second = if used_this_minute >= steady {
            (minute + 1) * 60
        } else {
            second + 1
        };
    }
    ((second * 1_000).max(start_ms) - start_ms) as f64 / 1_000.0
}

/// Klaviyo's lower bound: the slowest operation, since every operation has its own
/// limits and they can be used at the same time.
pub(crate) fn klaviyo_bound_secs(requests: &BTreeMap<&'static str, u64>, start_ms: i64) -> f64 {
    let table = ledgerlink_klaviyo_sim::ratelimit::table();
    requests
        .iter()
        .filter_map(|(operation, count)| {
            let limits = table.get(*operation)?;
            Some(klaviyo_operation_secs(*count, limits.burst, limits.steady, start_ms))
        })
        .fold(0.0, f64::max)
}

/// Percentile `p` (0–100) of sorted `values`, nearest rank.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_round_up_and_never_go_below_one() {
        assert_eq!(pages_for(0), 1);
        assert_eq!(pages_for(1), 1);
        assert_eq!(pages_for(1_000), 1);
        assert_eq!(pages_for(1_001), 2);
    }

    #[test]
    fn netsuite_bound_spreads_pages_over_the_concurrency_limit() {
        let data = DataCounts {
            customers: 10_000,
            invoice_rows: 200_000,
            orders: 200_000,
            contacts: 15_000,
            paid_applications: 180_000,
            awaiting_deposits: 500,
            ..DataCounts::default()
        };
        let pages: u64 = minimum_pages(&data, None).values().sum();
        assert_eq!(pages, 3 + 10 + 200 + 200 + 15 + 180 + 1);
        let bound = netsuite_bound_secs(pages, 5, 0.5);
        assert!((bound - 60.9).abs() < 1e-9, "{bound}");
        let incremental: u64 = minimum_pages(&data, Some(100)).values().sum();
        assert_eq!(incremental, pages + 2);
    }

    #[test]
    fn statement_shapes_map_to_the_minimum_pages_queries() {
        let shape = |q: &str| ledgerlink_netsuite_sim::query_shape(q);
        assert_eq!(
            query_label(&shape(
                "SELECT TO_CHAR(SYSDATE, 'YYYY-MM-DD HH24:MI:SS') AS now FROM DUAL"
            )),
            "server clock, terms, currencies"
        );
        assert_eq!(
            query_label(&shape(
                "SELECT t.id FROM transaction t WHERE (t.type = 'CustInvc' AND t.entity BETWEEN 1 AND 200) ORDER BY t.id"
            )),
            "invoices"
        );
        assert_eq!(
            query_label(&shape(
                "SELECT c.id FROM customer c WHERE (c.lastmodifieddate >= TO_DATE(?, 'YYYY')) ORDER BY c.id"
            )),
            "changed customers"
        );
        assert_eq!(
            query_label(&shape(
                "SELECT l.previousdoc FROM NextTransactionLineLink l JOIN transaction p ON p.id = l.nextdoc \
                 WHERE l.linktype = 'Payment' AND l.previousdoc IN (1,2)"
            )),
            "payment applications"
        );
        assert_eq!(
            query_label(&shape(
                "SELECT l.previousdoc FROM NextTransactionLineLink l JOIN transaction p ON p.id = l.nextdoc \
                 JOIN transaction i ON i.id = l.previousdoc WHERE l.linktype = 'Payment' AND i.type = 'CustInvc' \
                 AND i.entity BETWEEN 1 AND 5"
            )),
            "payment applications"
        );
        assert_eq!(
            query_label(&shape(
                "SELECT l.previousdoc FROM NextTransactionLineLink l JOIN transaction d ON d.id = l.nextdoc \
                 JOIN transaction o ON o.id = l.previousdoc WHERE d.type = 'CustDep' AND o.type = 'SalesOrd' \
                 AND o.entity IN (1,2)"
            )),
            "deposits"
        );
        assert_eq!(
            query_label(&shape(
                "SELECT c.id, c.entityid FROM customer c WHERE c.id > 5 ORDER BY c.id"
            )),
            "customers"
        );
    }

    #[test]
    fn klaviyo_minimum_follows_the_batch_limits() {
        let requests = minimum_klaviyo_requests(25_000, 3_500);
        assert_eq!(requests["bulk_import_profiles"], 3);
        assert_eq!(requests["get_bulk_import_profiles_job"], 3);
        assert_eq!(requests["bulk_create_events"], 4);
        let small = minimum_klaviyo_requests(2, 1);
        assert_eq!(small["create_or_update_profile"], 2);
        assert_eq!(small["create_event"], 1);
        assert!(minimum_klaviyo_requests(0, 0).is_empty());
    }

    #[test]
    fn klaviyo_bound_admits_requests_as_early_as_the_fixed_windows_allow() {
        // Ten bulk jobs fit in the first second's burst: nothing to wait for.
        assert_eq!(klaviyo_operation_secs(10, 10, 150, 5_500), 0.0);
        // Eleven: the eleventh goes in the next second.
        assert_eq!(klaviyo_operation_secs(11, 10, 150, 5_500), 0.5);
        // 300 jobs from the start of a minute: 150 in its first 15 s, 150 more from the
        // next minute on, the last at 60 + 14 s.
        assert_eq!(klaviyo_operation_secs(300, 10, 150, 0), 74.0);
        // 160 from the start of a minute wait for the next one; started late in a
        // minute, the next minute's allowance comes sooner.
        assert_eq!(klaviyo_operation_secs(160, 10, 150, 0), 60.0);
        assert_eq!(klaviyo_operation_secs(160, 10, 150, 50_000), 15.0);
        // Many requests approach requests ÷ steady rate.
        let many = klaviyo_operation_secs(15_000, 10, 150, 0);
        assert!((5_940.0..=6_000.0).contains(&many), "{many}");
        assert_eq!(klaviyo_operation_secs(0, 10, 150, 0), 0.0);
        let requests = BTreeMap::from([("bulk_import_profiles", 300), ("create_event", 10)]);
        assert_eq!(klaviyo_bound_secs(&requests, 0), 74.0);
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<f64> = (1..=200).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), Some(100.0));
        assert_eq!(percentile(&values, 99.0), Some(198.0));
        assert_eq!(percentile(&values, 100.0), Some(200.0));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
