//! The extractor against a fake NetSuite: chunked assembly, incremental, targets.

mod support;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use ledgerlink_domain::{InvoiceStatus, RecordKind};
use ledgerlink_extractor::{ExtractEvent, ExtractSettings, Extractor, NetSuiteConfig, Scope, Summary};
use ledgerlink_runtime::MapEnv;
use support::{Account, FakeNetSuite, applied, customer, invoice, order, payment, reference_data};

pub fn netsuite_env(base_url: &str) -> MapEnv {
    MapEnv::from_pairs([
        ("NETSUITE_ACCOUNT_ID", "1234567_SB1"),
        ("NETSUITE_BASE_URL", base_url),
        ("NETSUITE_CONSUMER_KEY", "ck"),
        ("NETSUITE_CONSUMER_SECRET", "cs"),
        ("NETSUITE_TOKEN_ID", "ti"),
        ("NETSUITE_TOKEN_SECRET", "ts"),
        ("NETSUITE_TIME_ZONE", "America/New_York"),
    ])
}

fn extractor(fake: &FakeNetSuite) -> Extractor {
    let env = netsuite_env(&fake.base_url());
    let mut settings = ExtractSettings {
        customers_per_chunk: 2,
        batch_size: 1,
        ..Default::default()
    }
    .with_env(&env)
    .unwrap();
    // Two rows per page, so every child query needs several keyset rounds.
    settings.client.page_size = 2;
    settings.client.max_retries = 0;
    let client = NetSuiteConfig::from_env(&env)
        .unwrap()
        .client(settings.client.clone())
        .unwrap();
    Extractor::new(client, settings).unwrap()
}

/// Five customers: 3 is refused (bad credit hold), 4 has an invoice in a user date format.
fn small_account() -> Account {
    let mut account = Account {
        now: "2026-11-20 09:03:00".to_owned(),
        ..Default::default()
    };
    reference_data(&mut account);
    let old = "2026-10-01 08:00:00";
    account.customers = (1..=5).map(|id| customer(id, old)).collect();
    account.customers[2].1["creditholdoverride"] = "MAYBE".into();
    account.transactions = vec![
        invoice(11, 1, "B", "300.00", "0.00", old),
        invoice(12, 1, "A", "300.00", "200.00", old),
        payment(901, 1, "CustPymt", "2026-09-20", old),
        payment(902, 1, "CustCred", "2026-10-03", old),
        payment(903, 1, "CustPymt", "2026-09-25", old),
        invoice(21, 2, "A", "80.00", "80.00", old),
        invoice(22, 2, "V", "0.00", "0.00", old),
        invoice(23, 2, "A", "-1.00", "0.00", old),
        invoice(31, 3, "A", "10.00", "10.00", old),
        invoice(41, 4, "A", "10.00", "10.00", old),
        invoice(51, 5, "A", "1.00", "1.00", old),
        invoice(52, 5, "A", "2.00", "2.00", old),
        invoice(53, 5, "D", "3.00", "3.00", old),
        invoice(54, 5, "A", "4.00", "4.00", old),
        order(61, 1, "B", "1000.00", old),
        payment(801, 1, "CustDep", "2026-08-30", old),
        order(62, 2, "G", "80.00", old),
    ];
    account.transactions[9].columns["trandate"] = "9/1/2026".into();
    account.links = vec![
        applied(11, 901, "100.00"),
        applied(11, 902, "200.00"),
        applied(12, 903, "100.00"),
        support::Link {
            previousdoc: 61,
            nextdoc: 801,
            linktype: "Deposit",
            amount: "300.00",
        },
    ];
    account
}

struct Collected {
    events: Vec<ExtractEvent>,
}

impl Collected {
    async fn from(extractor: &Extractor, scope: Scope) -> Collected {
        let events: Vec<ExtractEvent> = extractor
            .start(scope, None)
            .map(|item| item.expect("extraction failed"))
            .collect()
            .await;
        Collected { events }
    }

    fn snapshots(&self) -> BTreeMap<String, ledgerlink_domain::CustomerSnapshot> {
        self.batches()
            .flat_map(|batch| batch.snapshots.clone())
            .map(|snapshot| (snapshot.customer.id.clone(), snapshot))
            .collect()
    }

    fn batches(&self) -> impl Iterator<Item = &ledgerlink_extractor::Batch> {
        self.events.iter().filter_map(|event| match event {
            ExtractEvent::Batch(batch) => Some(batch),
            ExtractEvent::Summary(_) => None,
        })
    }

    fn rejections(&self) -> Vec<(RecordKind, String, String, String)> {
        let mut all: Vec<_> = self
            .batches()
            .flat_map(|batch| batch.rejections.clone())
            .map(|r| (r.record_kind, r.customer_id, r.record_id, r.field))
            .collect();
        all.sort_by(|a, b| (a.1.as_str(), a.2.as_str()).cmp(&(b.1.as_str(), b.2.as_str())));
        all
    }

    fn summary(&self) -> Summary {
        match self.events.last() {
            Some(ExtractEvent::Summary(summary)) => *summary,
            other => panic!("the stream must end with a summary, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn full_extraction_assembles_every_customer_chunk_by_chunk() {
    let fake = FakeNetSuite::start(small_account()).await;
    let collected = Collected::from(
        &extractor(&fake),
        Scope::Full {
            after: None,
            until: None,
        },
    )
    .await;

    let snapshots = collected.snapshots();
    assert_eq!(snapshots.keys().collect::<Vec<_>>(), ["1", "2", "4", "5"]);
    let first = &snapshots["1"];
    assert_eq!(first.customer.currency.as_deref(), Some("USD"));
    assert_eq!(first.customer.terms.as_ref().unwrap().days_until_net_due, Some(30));
    assert_eq!(
        first.customer.last_modified.unwrap().to_rfc3339(),
        "2026-10-01T12:00:00+00:00",
        "account-local time read in America/New_York"
    );
    let invoices: Vec<_> = first
        .invoices
        .iter()
        .map(|i| (i.id.as_str(), i.status, i.paid_date.map(|d| d.to_string())))
        .collect();
    assert_eq!(
        invoices,
        [
            ("11", InvoiceStatus::Paid, Some("2026-10-03".to_owned())),
            ("12", InvoiceStatus::Open, None)
        ]
    );
    assert_eq!(first.orders[0].status, "pending_fulfillment");
    assert_eq!(first.orders[0].balance_due.unwrap().to_string(), "700.00");
    let second: Vec<_> = snapshots["2"].invoices.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(second, ["21", "22"]);
    assert_eq!(snapshots["2"].orders[0].status, "billed");
    assert!(snapshots["4"].invoices.is_empty());
    let fifth: Vec<_> = snapshots["5"].invoices.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(fifth, ["51", "52", "54"], "pending approval (D) is not a receivable");

    assert_eq!(
        collected.rejections(),
        [
            (RecordKind::Invoice, "2".into(), "23".into(), "total".into()),
            (RecordKind::Customer, "3".into(), "3".into(), "credit_hold".into()),
            (RecordKind::Invoice, "4".into(), "41".into(), "tran_date".into()),
        ]
    );
    let summary = collected.summary();
    assert_eq!(
        (
            summary.customers,
            summary.invoices,
            summary.orders,
            summary.payments,
            summary.rejected
        ),
        (4, 7, 2, 2, 3),
        "payments are the applications read to date paid invoices (11: two)"
    );
    assert_eq!(summary.watermark.to_rfc3339(), "2026-11-20T14:03:00+00:00");
    assert_eq!(summary.requests.requests as usize, fake.seen().len());

    // Chunks of two customers by keyset; children bounded by the chunk's id range and
    // read by offset, their later pages after the first.
    let seen = fake.seen();
    let chunks: Vec<_> = seen
        .iter()
        .filter(|s| s.q.starts_with("SELECT c.id, c.entityid"))
        .map(|s| (s.limit, s.q.rsplit(" WHERE ").next().unwrap().to_owned()))
        .collect();
    assert_eq!(chunks.len(), 3, "{chunks:?}");
    assert!(chunks.iter().all(|(limit, _)| *limit == 2));
    assert!(chunks[1].1.starts_with("c.id > 2 "), "{chunks:?}");
    let customer_five: Vec<usize> = seen
        .iter()
        .filter(|s| s.q.contains("t.type = 'CustInvc' AND t.entity BETWEEN 5 AND 5"))
        .map(|s| s.offset)
        .collect();
    assert_eq!(customer_five, [0, 2]);
    assert!(
        seen.iter().all(|s| !s.q.contains("l.previousdoc IN (")),
        "links are read by customer range"
    );
    assert!(
        seen.iter()
            .filter(|s| s.q.starts_with("SELECT c.id, c.entityid"))
            .all(|s| s.offset == 0)
    );

    let sequences: Vec<u64> = collected.batches().map(|b| b.sequence).collect();
    assert_eq!(sequences, (0..sequences.len() as u64).collect::<Vec<_>>());
    let customer_three = collected
        .batches()
        .find(|b| b.rejections.iter().any(|r| r.customer_id == "3"))
        .unwrap();
    assert_eq!(customer_three.last_customer_id.as_deref(), Some("4"));
}

#[tokio::test]
async fn past_what_offset_paging_reaches_records_go_by_keyset_and_links_by_id_lists() {
    let full = Scope::Full {
        after: None,
        until: None,
    };
    let fake = FakeNetSuite::start(small_account()).await;
    let expected = Collected::from(&extractor(&fake), full.clone()).await;
    let mut account = small_account();
    account.huge = vec![
        "t.type = 'CustInvc' AND t.entity",
        "JOIN transaction i ON",
        "JOIN transaction o ON",
    ];
    let huge = FakeNetSuite::start(account).await;
    let collected = Collected::from(&extractor(&huge), full).await;
    assert_eq!(collected.snapshots(), expected.snapshots());
    assert_eq!(collected.rejections(), expected.rejections());
    let seen = huge.seen();
    let invoice_pages = seen
        .iter()
        .filter(|s| s.q.contains("t.type = 'CustInvc' AND t.entity BETWEEN 5 AND 5"));
    assert!(
        invoice_pages.clone().all(|s| s.offset == 0) && invoice_pages.clone().any(|s| s.q.contains("t.id > 52")),
        "invoices by keyset"
    );
    assert!(
        seen.iter().any(|s| s.q.contains("l.previousdoc IN (11)")),
        "applications of paid invoice 11"
    );
    assert!(
        seen.iter().any(|s| s.q.contains("l.previousdoc IN (61)")),
        "deposits of order 61"
    );
}

#[tokio::test]
async fn full_extraction_respects_after_and_until() {
    let fake = FakeNetSuite::start(small_account()).await;
    let collected = Collected::from(
        &extractor(&fake),
        Scope::Full {
            after: Some(1),
            until: Some(4),
        },
    )
    .await;
    assert_eq!(collected.snapshots().keys().collect::<Vec<_>>(), ["2", "4"]);
}

#[tokio::test]
async fn incremental_returns_exactly_the_customers_changed_within_the_overlap() {
    let mut account = small_account();
    account.customers[2].1["creditholdoverride"] = "ON".into();
    account.transactions[9].columns["trandate"] = "2026-09-01".into();
    let fake = FakeNetSuite::start(account).await;
    // since 15:00Z = 10:00 EST; the 10-minute overlap re-reads from 09:50 account time.
    fake.update(|account| {
        account.customers[0].1["lastmodifieddate"] = "2026-11-10 09:55:00".into(); // 1: own record, in overlap
        account.transactions[5].modified = "2026-11-10 11:00:00".into(); // 2: an invoice
        account
            .transactions
            .push(payment(904, 3, "CustPymt", "2026-11-10", "2026-11-10 12:00:00")); // 3: a payment
        account.customers[3].1["lastmodifieddate"] = "2026-11-10 09:49:59".into(); // 4: just before the overlap
    });
    let since: DateTime<Utc> = "2026-11-10T15:00:00Z".parse().unwrap();
    let collected = Collected::from(&extractor(&fake), Scope::Incremental { since, after: None }).await;
    assert_eq!(collected.snapshots().keys().collect::<Vec<_>>(), ["1", "2", "3"]);
    assert!(
        fake.seen()
            .iter()
            .filter(|s| s.q.contains("lastmodifieddate >= TO_DATE(?"))
            .all(|s| s.params == ["2026-11-10 09:50:00"])
    );
    // The invoice's customer comes back whole, not just the changed invoice.
    assert_eq!(collected.snapshots()["2"].invoices.len(), 2);
    assert_eq!(collected.summary().watermark.to_rfc3339(), "2026-11-20T14:03:00+00:00");

    let after = Collected::from(&extractor(&fake), Scope::Incremental { since, after: Some(1) }).await;
    assert_eq!(after.snapshots().keys().collect::<Vec<_>>(), ["2", "3"]);
}

#[tokio::test]
async fn targets_by_invoice_return_the_whole_customer_and_name_unknown_ids() {
    let fake = FakeNetSuite::start(small_account()).await;
    let collected = Collected::from(
        &extractor(&fake),
        Scope::Targets {
            customer_ids: vec![5, 77],
            invoice_ids: vec![12, 999],
        },
    )
    .await;
    let snapshots = collected.snapshots();
    assert_eq!(snapshots.keys().collect::<Vec<_>>(), ["1", "5"]);
    let invoices: Vec<_> = snapshots["1"].invoices.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(invoices, ["11", "12"]);
    assert_eq!(
        collected.rejections(),
        [
            (RecordKind::Invoice, String::new(), "999".into(), "id".into()),
            (RecordKind::Customer, "77".into(), "77".into(), "id".into()),
        ]
    );
    assert_eq!(collected.summary().rejected, 2);
}

#[tokio::test]
async fn a_netsuite_refusal_ends_the_stream_with_the_error() {
    let fake = FakeNetSuite::start(small_account()).await;
    fake.update(|account| account.now = "11/20/2026 9:03 am".to_owned());
    let items: Vec<_> = extractor(&fake)
        .start(
            Scope::Full {
                after: None,
                until: None,
            },
            None,
        )
        .collect()
        .await;
    assert_eq!(items.len(), 1);
    let error = items.into_iter().next().unwrap().unwrap_err();
    assert!(error.to_string().contains("TO_CHAR"), "{error}");
}
