//! The extraction itself: SuiteQL over the NetSuite client, chunk by chunk of customers,
//! streamed through a bounded channel so memory stays flat and the consumer's pace is
//! the producer's pace.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use futures_util::TryStreamExt;
use ledgerlink_domain::{CustomerSnapshot, RecordKind, Rejection};
use ledgerlink_netsuite_client::{ClientStats, KeysetQuery, NetSuiteClient, Row, SuiteQl, collect_rows};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::task::AbortOnDropHandle;
use tracing::Instrument;

use crate::assemble::{ChunkRows, Lookups, assemble_chunk, local_to_utc, parse_terms, utc_to_local_text};
use crate::config::ExtractSettings;
use crate::queries::{self, CustomerFilter, MAX_IN_LIST};
use crate::status::{
    AWAITING_PREPAYMENT_STATUSES, InvoiceDisposition, invoice_status, order_awaits_prepayment, order_status,
};

/// Which customers to extract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every customer, optionally after one id (exclusive) and up to another (inclusive).
    Full {
        /// Start after this customer id.
        after: Option<i64>,
        /// Stop at this customer id.
        until: Option<i64>,
    },
    /// Customers whose record, invoices, payments, credit memos, orders or deposits
    /// changed since `since` (re-read with the configured overlap).
    Incremental {
        /// The previous extraction's watermark.
        since: DateTime<Utc>,
        /// Start after this customer id.
        after: Option<i64>,
    },
    /// Named customers and the customers of named invoices, each in full.
    Targets {
        /// Customer internal ids.
        customer_ids: Vec<i64>,
        /// Invoice internal ids.
        invoice_ids: Vec<i64>,
    },
}

/// Snapshots of consecutive customers, with the records refused among them.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// 0, 1, 2, … within one extraction.
    pub sequence: u64,
    /// Valid snapshots, in customer id order.
    pub snapshots: Vec<CustomerSnapshot>,
    /// Records refused, each naming customer, record and field.
    pub rejections: Vec<Rejection>,
    /// The highest customer id this batch covers: resume after it.
    pub last_customer_id: Option<String>,
}

/// Totals of a finished extraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Snapshots emitted.
    pub customers: u64,
    /// Invoices in them.
    pub invoices: u64,
    /// Payment and credit applications read for them.
    pub payments: u64,
    /// Orders in them.
    pub orders: u64,
    /// Records refused.
    pub rejected: u64,
    /// NetSuite's clock when extraction began: the next incremental's `since`.
    pub watermark: DateTime<Utc>,
    /// Requests made for this extraction.
    pub requests: ClientStats,
}

/// One item of an extraction's stream: batches, then exactly one summary.
#[derive(Debug, Clone, PartialEq)]
pub enum ExtractEvent {
    /// A batch of snapshots.
    Batch(Batch),
    /// The closing totals.
    Summary(Summary),
}

/// Why an extraction stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// NetSuite failed or answered something unusable.
    #[error(transparent)]
    NetSuite(#[from] ledgerlink_netsuite_client::Error),
    /// NetSuite's clock did not read.
    #[error("cannot read netsuite's clock: {0}")]
    ServerTime(String),
    /// The task reading a chunk of customers panicked.
    #[error("reading a chunk of customers failed: {0}")]
    Chunk(String),
}

impl From<ledgerlink_netsuite_client::RowError> for ExtractError {
    fn from(error: ledgerlink_netsuite_client::RowError) -> Self {
        ExtractError::NetSuite(error.into())
    }
}

/// Extracts snapshots from one NetSuite account. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Extractor {
    client: NetSuiteClient,
    settings: ExtractSettings,
    zone: Tz,
}

/// Running totals.
#[derive(Debug, Default)]
struct Totals {
    customers: u64,
    invoices: u64,
    payments: u64,
    orders: u64,
    rejected: u64,
}

type Sender = mpsc::Sender<Result<ExtractEvent, ExtractError>>;

/// The consumer went away; stop quietly.
struct Closed;

enum Stop {
    Closed,
    Failed(ExtractError),
}

impl From<Closed> for Stop {
    fn from(_: Closed) -> Self {
        Stop::Closed
    }
}

impl From<ExtractError> for Stop {
    fn from(error: ExtractError) -> Self {
        Stop::Failed(error)
    }
}

impl From<ledgerlink_netsuite_client::Error> for Stop {
    fn from(error: ledgerlink_netsuite_client::Error) -> Self {
        Stop::Failed(error.into())
    }
}

impl Extractor {
    /// An extractor over `client`; `settings` must be valid.
    pub fn new(client: NetSuiteClient, settings: ExtractSettings) -> Result<Self, ledgerlink_runtime::ConfigError> {
        settings.validate()?;
        let zone = settings.zone()?;
        Ok(Extractor { client, settings, zone })
    }

    /// The settings in use.
    pub fn settings(&self) -> &ExtractSettings {
        &self.settings
    }

    /// Starts extracting `scope` on a task and returns its stream: batches of
    /// `batch_size` snapshots (the configured size when `None` or 0), then a summary; an
    /// error ends the stream. Dropping the stream stops the extraction.
    pub fn start(&self, scope: Scope, batch_size: Option<u32>) -> ReceiverStream<Result<ExtractEvent, ExtractError>> {
        let (sender, receiver) = mpsc::channel(self.settings.buffered_batches);
        let extractor = self.clone();
        let batch_size = batch_size.filter(|size| *size > 0).unwrap_or(self.settings.batch_size) as usize;
        // In the request's span, so the NetSuite requests join the caller's trace.
        let producer = async move {
            match extractor.run(scope, batch_size, &sender).await {
                Ok(()) | Err(Stop::Closed) => {}
                Err(Stop::Failed(error)) => {
                    tracing::warn!(%error, "extraction failed");
                    let _ = sender.send(Err(error)).await;
                }
            }
        };
        tokio::spawn(producer.instrument(tracing::Span::current()));
        ReceiverStream::new(receiver)
    }

    async fn run(&self, scope: Scope, batch_size: usize, sender: &Sender) -> Result<(), Stop> {
        let stats_before = self.client.stats();
        // NetSuite's clock, reference data and the changed customers do not depend on
        // each other, so they share one round trip. The watermark is read before any
        // customer data; the change queries run beside it, and whatever they miss by
        // running a moment earlier is within the next run's overlap (at least a minute).
        let (watermark, lookups, changed) = match &scope {
            Scope::Incremental { since, .. } => {
                let (watermark, lookups, changed) =
                    tokio::try_join!(self.server_time(), self.lookups(), self.changed_since(*since))?;
                (watermark, lookups, Some(changed))
            }
            _ => {
                let (watermark, lookups) = tokio::try_join!(self.server_time(), self.lookups())?;
                (watermark, lookups, None)
            }
        };
        let mut emitter = Emitter {
            sender,
            batch_size,
            sequence: 0,
            totals: Totals::default(),
        };
        tracing::info!(?scope, %watermark, "extraction started");
        match scope {
            Scope::Full { after, until } => self.full(after, until, &lookups, &mut emitter).await?,
            Scope::Incremental { after, .. } => {
                let ids: Vec<i64> = changed
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|id| after.is_none_or(|after| *id > after))
                    .collect();
                tracing::info!(changed = ids.len(), "changed customers found");
                self.listed(&ids, Vec::new(), &lookups, &mut emitter).await?;
            }
            Scope::Targets {
                customer_ids,
                invoice_ids,
            } => {
                let (mut ids, mut rejections) = (BTreeSet::new(), Vec::new());
                ids.extend(customer_ids.iter().copied());
                let owners = self.invoice_owners(&invoice_ids).await?;
                for invoice_id in &invoice_ids {
                    match owners.get(invoice_id) {
                        Some(customer) => {
                            ids.insert(*customer);
                        }
                        None => rejections.push(Rejection {
                            customer_id: String::new(),
                            record_kind: RecordKind::Invoice,
                            record_id: invoice_id.to_string(),
                            field: "id".to_owned(),
                            reason: "no invoice with this internal id in netsuite".to_owned(),
                        }),
                    }
                }
                let ids: Vec<i64> = ids.into_iter().collect();
                self.listed(&ids, rejections, &lookups, &mut emitter).await?;
            }
        }
        let stats_after = self.client.stats();
        let totals = &emitter.totals;
        let summary = Summary {
            customers: totals.customers,
            invoices: totals.invoices,
            payments: totals.payments,
            orders: totals.orders,
            rejected: totals.rejected,
            watermark,
            requests: ClientStats {
                requests: stats_after.requests - stats_before.requests,
                retries: stats_after.retries - stats_before.retries,
                throttled: stats_after.throttled - stats_before.throttled,
                token_requests: stats_after.token_requests - stats_before.token_requests,
            },
        };
        tracing::info!(
            customers = summary.customers,
            invoices = summary.invoices,
            payments = summary.payments,
            orders = summary.orders,
            rejected = summary.rejected,
            requests = summary.requests.requests,
            "extraction finished"
        );
        sender
            .send(Ok(ExtractEvent::Summary(summary)))
            .await
            .map_err(|_| Stop::Closed)
    }

    /// NetSuite's clock, read before any data so nothing changed during the extraction
    /// falls before the next watermark.
    async fn server_time(&self) -> Result<DateTime<Utc>, ExtractError> {
        let page = self.client.suiteql_page(&queries::server_time(), 1, 0).await?;
        let row = page
            .items
            .first()
            .ok_or_else(|| ExtractError::ServerTime("the query returned no row".to_owned()))?;
        let naive = row
            .naive_datetime("now")
            .map_err(|error| ExtractError::ServerTime(error.to_string()))?;
        Ok(local_to_utc(naive, self.zone))
    }

    async fn lookups(&self) -> Result<Lookups, ExtractError> {
        let mut lookups = Lookups::empty(self.zone);
        // Independent reads: one round trip for both, not two.
        let (terms, currencies) = tokio::join!(
            self.keyset_rows(queries::terms()),
            self.keyset_rows(queries::currencies())
        );
        for row in terms? {
            match parse_terms(&row) {
                Ok((id, terms)) => {
                    lookups.terms.insert(id, terms);
                }
                Err(error) => tracing::warn!(%error, "term row skipped"),
            }
        }
        lookups.mark_prepayment_terms(&self.settings.prepayment_terms);
        // A role without access to the currency table still extracts, with currency
        // display names instead of ISO codes.
        match currencies {
            Ok(rows) => {
                for row in rows {
                    if let (Ok(id), Some(symbol)) = (row.i64("id"), row.get("symbol")) {
                        lookups.currencies.insert(id, symbol.to_owned());
                    }
                }
            }
            Err(ledgerlink_netsuite_client::Error::Api(api)) if (400..500).contains(&api.status) => {
                tracing::warn!(error = %api, "currency table not readable; using currency display names");
            }
            Err(error) => return Err(error.into()),
        }
        Ok(lookups)
    }

    async fn full(
        &self,
        after: Option<i64>,
        until: Option<i64>,
        lookups: &Lookups,
        emitter: &mut Emitter<'_>,
    ) -> Result<(), Stop> {
        let query = queries::customers(until, None);
        let mut last = after;
        let mut pending = Pending::new(self.settings.chunks_in_flight, lookups);
        let mut next_page = Some(self.customer_page(&query, last));
        while let Some(reading) = next_page.take() {
            let page = reading
                .await
                .map_err(|error| ExtractError::Chunk(error.to_string()))??;
            let ids = customer_ids(&page.items)?;
            let (Some(&lo), Some(&hi)) = (ids.first(), ids.last()) else {
                break;
            };
            if last.is_some_and(|last| lo <= last) {
                return Err(Stop::Failed(ExtractError::NetSuite(
                    ledgerlink_netsuite_client::Error::Keyset {
                        column: "id".to_owned(),
                        reason: format!("customer {lo} did not come after {}", last.unwrap_or_default()),
                    },
                )));
            }
            last = Some(hi);
            // Asked for before this chunk's records, so it is ahead of them in the
            // client's queue and the next chunk can start as soon as there is room.
            if page.has_more {
                next_page = Some(self.customer_page(&query, last));
            }
            let extractor = self.clone();
            let lookups = Arc::clone(&pending.lookups);
            let chunk = async move {
                let mut rows = extractor.records_of(&CustomerFilter::Between(lo, hi)).await?;
                rows.customers = page.items;
                Ok((assemble_chunk(&rows, &lookups), Vec::new()))
            };
            pending.push(chunk, hi, emitter).await?;
        }
        pending.drain(emitter).await
    }

    /// Starts reading the page of customers after `last`.
    fn customer_page(
        &self,
        query: &KeysetQuery,
        last: Option<i64>,
    ) -> AbortOnDropHandle<Result<ledgerlink_netsuite_client::Page, ExtractError>> {
        let client = self.client.clone();
        let statement = query.statement(last);
        let limit = self.settings.customers_per_chunk;
        AbortOnDropHandle::new(tokio::spawn(
            async move { Ok(client.suiteql_page(&statement, limit, 0).await?) }.in_current_span(),
        ))
    }

    /// Extracts listed customers in chunks; `rejections` (targets not found) go out with
    /// the first batch.
    async fn listed(
        &self,
        ids: &[i64],
        mut rejections: Vec<Rejection>,
        lookups: &Lookups,
        emitter: &mut Emitter<'_>,
    ) -> Result<(), Stop> {
        let chunk_size = (self.settings.customers_per_chunk as usize).min(MAX_IN_LIST);
        let mut pending = Pending::new(self.settings.chunks_in_flight, lookups);
        for (index, chunk) in ids.chunks(chunk_size).enumerate() {
            let extractor = self.clone();
            let lookups = Arc::clone(&pending.lookups);
            let chunk = chunk.to_vec();
            let hi = *chunk.last().unwrap_or(&0);
            // Targets not found go out with the first batch.
            let mut not_found = if index == 0 {
                std::mem::take(&mut rejections)
            } else {
                Vec::new()
            };
            let work = async move {
                // Records are read by the listed ids, so they need not wait for the
                // customers: an id that is no customer simply has none.
                let filter = CustomerFilter::In(chunk.clone());
                let (customers, mut rows) =
                    tokio::try_join!(extractor.listed_customers(&chunk), extractor.records_of(&filter),)?;
                let found = customer_ids(&customers)?;
                for missing in chunk.iter().filter(|id| found.binary_search(id).is_err()) {
                    not_found.push(Rejection {
                        customer_id: missing.to_string(),
                        record_kind: RecordKind::Customer,
                        record_id: missing.to_string(),
                        field: "id".to_owned(),
                        reason: "no customer with this internal id in netsuite".to_owned(),
                    });
                }
                rows.customers = customers;
                Ok((assemble_chunk(&rows, &lookups), not_found))
            };
            pending.push(work, hi, emitter).await?;
        }
        pending.drain(emitter).await?;
        if !rejections.is_empty() {
            emitter.emit(Default::default(), 0, rejections).await?;
        }
        Ok(())
    }

    /// Every record of a chunk of customers but the customers themselves. All five
    /// queries go at once, each reading its pages by offset (its first page, then the
    /// rest together), so a chunk takes about two round trips however many pages it
    /// has. Past offset paging's 100,000 rows, records keyed by id are read by keyset
    /// and links by the ids of their invoices and orders.
    async fn records_of(&self, filter: &CustomerFilter) -> Result<ChunkRows, ExtractError> {
        let (invoices, orders, contacts, applications, deposits) = tokio::try_join!(
            self.keyed_rows(queries::invoices(filter)),
            self.keyed_rows(queries::orders(filter)),
            self.keyed_rows(queries::contacts(filter)),
            self.offset_rows(queries::applications_of(filter)),
            self.offset_rows(queries::deposits_of(filter, &AWAITING_PREPAYMENT_STATUSES)),
        )?;
        let paid = if applications.is_none() {
            paid_invoices(&invoices)
        } else {
            Vec::new()
        };
        let awaiting = if deposits.is_none() {
            orders_awaiting_prepayment(&orders)
        } else {
            Vec::new()
        };
        let (applications, deposits) = tokio::try_join!(
            self.links_or_listed(applications, &paid, queries::applications),
            self.links_or_listed(deposits, &awaiting, queries::deposits),
        )?;
        Ok(ChunkRows {
            customers: Vec::new(),
            invoices,
            applications,
            orders,
            deposits,
            contacts,
        })
    }

    /// The customers with anything changed at or after `since - overlap`.
    async fn changed_since(&self, since: DateTime<Utc>) -> Result<BTreeSet<i64>, ExtractError> {
        let overlap = TimeDelta::from_std(self.settings.overlap()).unwrap_or_default();
        let from = utc_to_local_text(since - overlap, self.zone);
        let (customers, transactions) = tokio::try_join!(
            self.keyset_rows(queries::changed_customers(&from)),
            self.keyset_rows(queries::changed_transactions(&from)),
        )?;
        let mut ids = BTreeSet::new();
        for row in &customers {
            ids.insert(row.i64("id")?);
        }
        for row in &transactions {
            // A transaction without a customer (none of these types should lack one)
            // cannot change a snapshot.
            if let Some(entity) = row.opt_i64("entity")? {
                ids.insert(entity);
            }
        }
        Ok(ids)
    }

    async fn invoice_owners(&self, invoice_ids: &[i64]) -> Result<HashMap<i64, i64>, ExtractError> {
        let mut owners = HashMap::new();
        for chunk in invoice_ids.chunks(MAX_IN_LIST) {
            for row in self.keyset_rows(queries::invoice_owners(chunk)).await? {
                if let Some(entity) = row.opt_i64("entity")? {
                    owners.insert(row.i64("id")?, entity);
                }
            }
        }
        Ok(owners)
    }

    async fn keyset_rows(&self, query: KeysetQuery) -> Result<Vec<Row>, ledgerlink_netsuite_client::Error> {
        self.client.suiteql_keyset_rows(query).try_collect().await
    }

    async fn listed_customers(&self, ids: &[i64]) -> Result<Vec<Row>, ExtractError> {
        Ok(self.keyset_rows(queries::customers(None, Some(ids))).await?)
    }

    /// Links already read, or else those of the documents `ids`.
    async fn links_or_listed(
        &self,
        links: Option<Vec<Row>>,
        ids: &[i64],
        statement: fn(&[i64]) -> SuiteQl,
    ) -> Result<Vec<Row>, ledgerlink_netsuite_client::Error> {
        match links {
            Some(rows) => Ok(rows),
            None => self.listed_rows(ids, statement).await,
        }
    }

    /// The rows of a query ordered by a unique id: by offset, all pages after the
    /// first at once, and by keyset when there are more than offset paging reaches.
    async fn keyed_rows(&self, query: KeysetQuery) -> Result<Vec<Row>, ledgerlink_netsuite_client::Error> {
        match self.offset_rows(query.statement(None)).await? {
            Some(rows) => Ok(rows),
            None => self.keyset_rows(query).await,
        }
    }

    /// The rows of a query by offset, all pages after the first at once; `None` when
    /// there are more than offset paging reaches.
    async fn offset_rows(&self, query: SuiteQl) -> Result<Option<Vec<Row>>, ledgerlink_netsuite_client::Error> {
        match self.client.suiteql_all_rows(&query).await {
            Ok(rows) => Ok(Some(rows)),
            Err(ledgerlink_netsuite_client::Error::OffsetCapReached { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn listed_rows(
        &self,
        ids: &[i64],
        statement: fn(&[i64]) -> SuiteQl,
    ) -> Result<Vec<Row>, ledgerlink_netsuite_client::Error> {
        let mut rows = Vec::new();
        for chunk in ids.chunks(MAX_IN_LIST) {
            rows.extend(collect_rows(self.client.suiteql_pages(statement(chunk))).await?);
        }
        Ok(rows)
    }
}

/// Ids of the paid invoices among invoice rows.
fn paid_invoices(invoices: &[Row]) -> Vec<i64> {
    invoices
        .iter()
        .filter(|row| {
            row.get("status").and_then(invoice_status)
                == Some(InvoiceDisposition::Keep(ledgerlink_domain::InvoiceStatus::Paid))
        })
        .filter_map(|row| row.i64("id").ok())
        .collect()
}

/// Ids of the orders waiting for prepayment among order rows.
fn orders_awaiting_prepayment(orders: &[Row]) -> Vec<i64> {
    orders
        .iter()
        .filter(|row| {
            row.get("status")
                .and_then(order_status)
                .is_some_and(order_awaits_prepayment)
        })
        .filter_map(|row| row.i64("id").ok())
        .collect()
}

/// What reading one chunk gives: its snapshots and the targets it did not find.
type ChunkResult = Result<(crate::assemble::Assembled, Vec<Rejection>), ExtractError>;

/// Chunks being read, at most `limit` beside the reader of the next one, and emitted in
/// the order they were started, so batches keep customer id order and a checkpoint
/// still means "everything up to here". A chunk waits for its first pages before
/// asking for the rest; several at once keep the account's concurrency limit busy
/// across those waits, which one at a time does not.
struct Pending {
    limit: usize,
    lookups: Arc<Lookups>,
    queue: VecDeque<(i64, tokio::task::JoinHandle<ChunkResult>)>,
}

impl Pending {
    fn new(limit: usize, lookups: &Lookups) -> Pending {
        Pending {
            limit: limit.max(1),
            lookups: Arc::new(lookups.clone()),
            queue: VecDeque::new(),
        }
    }

    /// Starts `work` (the chunk up to customer `hi`), first emitting the oldest chunks
    /// while more than `limit` are in flight.
    async fn push(
        &mut self,
        work: impl Future<Output = ChunkResult> + Send + 'static,
        hi: i64,
        emitter: &mut Emitter<'_>,
    ) -> Result<(), Stop> {
        let task = tokio::spawn(work.instrument(tracing::Span::current()));
        self.queue.push_back((hi, task));
        while self.queue.len() > self.limit {
            self.emit_oldest(emitter).await?;
        }
        Ok(())
    }

    /// Emits every chunk still in flight, in order.
    async fn drain(mut self, emitter: &mut Emitter<'_>) -> Result<(), Stop> {
        while !self.queue.is_empty() {
            self.emit_oldest(emitter).await?;
        }
        Ok(())
    }

    async fn emit_oldest(&mut self, emitter: &mut Emitter<'_>) -> Result<(), Stop> {
        let Some((hi, task)) = self.queue.pop_front() else {
            return Ok(());
        };
        let (assembled, rejections) = task.await.map_err(|error| ExtractError::Chunk(error.to_string()))??;
        Ok(emitter.emit(assembled, hi, rejections).await?)
    }
}

impl Drop for Pending {
    /// An extraction that stops (error, or its consumer gone) stops its reads too.
    fn drop(&mut self) {
        for (_, task) in &self.queue {
            task.abort();
        }
    }
}

fn customer_ids(rows: &[Row]) -> Result<Vec<i64>, ExtractError> {
    let mut ids = rows
        .iter()
        .map(|row| row.i64("id"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ledgerlink_netsuite_client::Error::from)?;
    ids.sort_unstable();
    Ok(ids)
}

/// Cuts assembled chunks into batches and keeps the totals.
struct Emitter<'a> {
    sender: &'a Sender,
    batch_size: usize,
    sequence: u64,
    totals: Totals,
}

impl Emitter<'_> {
    /// Sends a chunk's snapshots in batches; each rejection goes with the batch whose
    /// customer range holds its customer, so a resume after any batch repeats nothing.
    /// `chunk_end` is the highest customer id the chunk covered.
    async fn emit(
        &mut self,
        assembled: crate::assemble::Assembled,
        chunk_end: i64,
        extra_rejections: Vec<Rejection>,
    ) -> Result<(), Closed> {
        let crate::assemble::Assembled {
            snapshots,
            mut rejections,
            payments,
        } = assembled;
        rejections.extend(extra_rejections);
        self.totals.customers += snapshots.len() as u64;
        self.totals.invoices += snapshots.iter().map(|s| s.invoices.len() as u64).sum::<u64>();
        self.totals.orders += snapshots.iter().map(|s| s.orders.len() as u64).sum::<u64>();
        self.totals.payments += payments;
        self.totals.rejected += rejections.len() as u64;
        if snapshots.is_empty() && rejections.is_empty() {
            return Ok(());
        }
        // Rejections without a customer id (targets not found) sort first.
        let key = |rejection: &Rejection| rejection.customer_id.parse::<i64>().unwrap_or(i64::MIN);
        rejections.sort_by_key(key);
        let mut rejections = rejections.into_iter().peekable();
        let mut snapshots = snapshots.into_iter().peekable();
        loop {
            let batch: Vec<CustomerSnapshot> = snapshots.by_ref().take(self.batch_size).collect();
            let is_last = snapshots.peek().is_none();
            let upper = if is_last {
                chunk_end.max(
                    batch
                        .last()
                        .and_then(|s| s.customer.id.parse().ok())
                        .unwrap_or(chunk_end),
                )
            } else {
                batch
                    .last()
                    .and_then(|s| s.customer.id.parse().ok())
                    .unwrap_or(chunk_end)
            };
            let mut batch_rejections = Vec::new();
            while let Some(rejection) = rejections.next_if(|r| is_last || key(r) <= upper) {
                batch_rejections.push(rejection);
            }
            let last_customer_id = (upper > 0).then(|| upper.to_string());
            let event = ExtractEvent::Batch(Batch {
                sequence: self.sequence,
                snapshots: batch,
                rejections: batch_rejections,
                last_customer_id,
            });
            self.sequence += 1;
            self.sender.send(Ok(event)).await.map_err(|_| Closed)?;
            if is_last {
                return Ok(());
            }
        }
    }
}
