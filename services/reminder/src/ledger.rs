//! The reminder ledger: reserve a key when it is planned, confirm it once sent.
//!
//! The primary key on `reminder_ledger.key` is what makes a second reservation of a
//! key impossible, even for two coordinators planning the same customer at once: an
//! insert that conflicts reserves nothing. A reservation never confirmed expires and
//! may then be taken over, with the same key, by a later run (Klaviyo's dedupe on
//! `unique_id` covers the case where the first send did in fact land).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use ledgerlink_domain::CustomerSnapshot;
use ledgerlink_reminder_planner::{LedgerFact, LedgerView, Pause, ReminderEvent, ReminderKind};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, TryInsertResult,
};

use crate::entity::{balance_detection, customer_state, ledger, pause};

/// `IN (…)` lists are cut to this size: well under SQLite's and PostgreSQL's limits on
/// bound parameters.
const IN_CHUNK: usize = 500;

/// State of a ledger row as stored.
pub const RESERVED: &str = "reserved";
/// State of a ledger row as stored.
pub const CONFIRMED: &str = "confirmed";

/// The ledger failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The database failed.
    #[error("ledger database error: {0}")]
    Db(#[from] DbErr),
    /// An event could not be stored.
    #[error("cannot encode event {key}: {reason}")]
    Encode {
        /// The event's key.
        key: String,
        /// Why.
        reason: String,
    },
}

/// What happened to a reservation attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// This run holds the key now and must send the event.
    Reserved,
    /// Another run holds or sent it: this run must not send it.
    Held,
}

/// What happened to one key of a confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// Recorded as sent now.
    Confirmed,
    /// It was already recorded as sent.
    AlreadyConfirmed,
    /// No reservation exists for the key.
    Unknown,
}

/// A row of the ledger, for listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The stored row.
    pub row: ledger::Model,
    /// Whether an unconfirmed reservation has run out.
    pub expired: bool,
}

/// Which rows to list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only this customer's reminders.
    pub customer_id: Option<String>,
    /// Only this invoice's reminders.
    pub invoice_id: Option<String>,
}

/// The reminder service's store.
#[derive(Debug, Clone)]
pub struct Ledger {
    db: DatabaseConnection,
    reservation_ttl: Duration,
}

impl Ledger {
    /// Wraps a migrated database; unconfirmed reservations expire after `reservation_ttl`.
    pub fn new(db: DatabaseConnection, reservation_ttl: Duration) -> Ledger {
        Ledger { db, reservation_ttl }
    }

    /// Loads what the planner needs to know about each customer of a batch.
    pub async fn load_views(
        &self,
        snapshots: &[&CustomerSnapshot],
        now: DateTime<Utc>,
    ) -> Result<HashMap<String, LedgerView>, LedgerError> {
        let mut views: HashMap<String, LedgerView> = snapshots
            .iter()
            .map(|s| (s.customer.id.clone(), LedgerView::default()))
            .collect();
        let customer_ids: Vec<String> = views.keys().cloned().collect();
        let invoice_ids: Vec<String> = snapshots
            .iter()
            .flat_map(|s| s.invoices.iter().map(|i| i.id.clone()))
            .collect();
        let order_owner: HashMap<String, String> = snapshots
            .iter()
            .flat_map(|s| s.orders.iter().map(|o| (o.id.clone(), s.customer.id.clone())))
            .collect();
        let invoice_owner: HashMap<&str, &str> = snapshots
            .iter()
            .flat_map(|s| s.invoices.iter().map(|i| (i.id.as_str(), s.customer.id.as_str())))
            .collect();

        for chunk in customer_ids.chunks(IN_CHUNK) {
            let live = Condition::any()
                .add(ledger::Column::State.eq(CONFIRMED))
                .add(ledger::Column::ExpiresAt.gt(now));
            let rows: Vec<(String, String)> = ledger::Entity::find()
                .select_only()
                .column(ledger::Column::CustomerId)
                .column(ledger::Column::Key)
                .filter(ledger::Column::CustomerId.is_in(chunk.iter().cloned()))
                .filter(live)
                .into_tuple()
                .all(&self.db)
                .await?;
            for (customer_id, key) in rows {
                if let Some(view) = views.get_mut(&customer_id) {
                    view.recorded_keys.insert(key);
                }
            }
            let states = customer_state::Entity::find()
                .filter(customer_state::Column::CustomerId.is_in(chunk.iter().cloned()))
                .all(&self.db)
                .await?;
            for state in states {
                if let Some(view) = views.get_mut(&state.customer_id) {
                    view.previous_run = state.previous_run;
                }
            }
        }
        for chunk in invoice_ids.chunks(IN_CHUNK) {
            let pauses = pause::Entity::find()
                .filter(pause::Column::InvoiceId.is_in(chunk.iter().cloned()))
                .all(&self.db)
                .await?;
            for row in pauses {
                let Some(customer_id) = invoice_owner.get(row.invoice_id.as_str()) else {
                    continue;
                };
                if let Some(view) = views.get_mut(*customer_id) {
                    view.pauses.insert(
                        row.invoice_id,
                        Pause {
                            until: row.until,
                            reason: row.reason,
                        },
                    );
                }
            }
        }
        let order_ids: Vec<&String> = order_owner.keys().collect();
        for chunk in order_ids.chunks(IN_CHUNK) {
            let detections = balance_detection::Entity::find()
                .filter(balance_detection::Column::OrderId.is_in(chunk.iter().map(|id| (*id).clone())))
                .all(&self.db)
                .await?;
            for row in detections {
                let Some(customer_id) = order_owner.get(&row.order_id) else {
                    continue;
                };
                if let Some(view) = views.get_mut(customer_id) {
                    view.balance_detected.insert(row.order_id, row.detected_on);
                }
            }
        }
        Ok(views)
    }

    /// Records a planner fact; a fact already recorded is kept as it was.
    pub async fn record_fact(&self, customer_id: &str, fact: &LedgerFact) -> Result<(), LedgerError> {
        match fact {
            LedgerFact::BalanceDetected { order_id, on } => {
                let row = balance_detection::ActiveModel {
                    order_id: Set(order_id.clone()),
                    customer_id: Set(customer_id.to_owned()),
                    detected_on: Set(*on),
                    last_window: Set(None),
                };
                balance_detection::Entity::insert(row)
                    .on_conflict_do_nothing_on([balance_detection::Column::OrderId])
                    .exec_without_returning(&self.db)
                    .await?;
            }
        }
        Ok(())
    }

    /// Reserves `event`'s key for `run_id`.
    ///
    /// A key is reserved when no row holds it, when its reservation expired unconfirmed,
    /// or when this same run reserved it before (a resumed run must send what it reserved
    /// before it stopped). Otherwise it is held elsewhere and must not be sent.
    pub async fn reserve(
        &self,
        event: &ReminderEvent,
        run_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Reservation, LedgerError> {
        let encoded = serde_json::to_string(event).map_err(|e| LedgerError::Encode {
            key: event.key.clone(),
            reason: e.to_string(),
        })?;
        let expires_at = now + self.reservation_ttl;
        let (invoice_id, order_id) = match event.kind {
            ReminderKind::Balance => (None, event.properties.order_id.clone()),
            _ => (event.properties.invoice_id.clone(), None),
        };
        let row = ledger::ActiveModel {
            key: Set(event.key.clone()),
            kind: Set(kind_name(event.kind).to_owned()),
            customer_id: Set(event.customer_id.clone()),
            invoice_id: Set(invoice_id),
            order_id: Set(order_id),
            run_id: Set(run_id.to_owned()),
            state: Set(RESERVED.to_owned()),
            event: Set(encoded.clone()),
            reserved_at: Set(now),
            expires_at: Set(expires_at),
            confirmed_at: Set(None),
        };
        let inserted = ledger::Entity::insert(row)
            .on_conflict_do_nothing_on([ledger::Column::Key])
            .exec_without_returning(&self.db)
            .await?;
        if matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
            return Ok(Reservation::Reserved);
        }
        // The update's WHERE is re-checked on the locked row, so of two runs racing for
        // the same expired reservation exactly one takes it over.
        let taken_over = ledger::Entity::update_many()
            .col_expr(ledger::Column::RunId, Expr::value(run_id))
            .col_expr(ledger::Column::Event, Expr::value(encoded))
            .col_expr(ledger::Column::ReservedAt, Expr::value(now))
            .col_expr(ledger::Column::ExpiresAt, Expr::value(expires_at))
            .filter(ledger::Column::Key.eq(event.key.as_str()))
            .filter(ledger::Column::State.eq(RESERVED))
            .filter(
                Condition::any()
                    .add(ledger::Column::ExpiresAt.lte(now))
                    .add(ledger::Column::RunId.eq(run_id)),
            )
            .exec(&self.db)
            .await?;
        Ok(if taken_over.rows_affected > 0 {
            Reservation::Reserved
        } else {
            Reservation::Held
        })
    }

    /// Records `keys` as sent. A key reserved by any run is confirmed: the gateway
    /// reporting it sent is the fact that matters, whichever run asked.
    pub async fn confirm(
        &self,
        keys: &[String],
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, Confirmation)>, LedgerError> {
        let mut existing: HashMap<String, ledger::Model> = HashMap::new();
        for chunk in keys.chunks(IN_CHUNK) {
            let rows = ledger::Entity::find()
                .filter(ledger::Column::Key.is_in(chunk.iter().cloned()))
                .all(&self.db)
                .await?;
            existing.extend(rows.into_iter().map(|row| (row.key.clone(), row)));
        }
        let to_confirm: Vec<String> = existing
            .values()
            .filter(|row| row.state == RESERVED)
            .map(|row| row.key.clone())
            .collect();
        for chunk in to_confirm.chunks(IN_CHUNK) {
            ledger::Entity::update_many()
                .col_expr(ledger::Column::State, Expr::value(CONFIRMED))
                .col_expr(ledger::Column::ConfirmedAt, Expr::value(now))
                .filter(ledger::Column::Key.is_in(chunk.iter().cloned()))
                .filter(ledger::Column::State.eq(RESERVED))
                .exec(&self.db)
                .await?;
        }
        self.settle_customers(existing.values().filter(|row| row.state == RESERVED))
            .await?;
        Ok(keys
            .iter()
            .map(|key| {
                let outcome = match existing.get(key) {
                    None => Confirmation::Unknown,
                    Some(row) if row.state == CONFIRMED => Confirmation::AlreadyConfirmed,
                    Some(_) => Confirmation::Confirmed,
                };
                (key.clone(), outcome)
            })
            .collect())
    }

    /// Notes that `run_id` planned `customer_id` as of `as_of`. With nothing left to
    /// confirm the date becomes the customer's base for aging thresholds at once;
    /// otherwise only when the last reservation of the run is confirmed, so a threshold
    /// crossing whose send failed is found again by the next run.
    pub async fn mark_planned(
        &self,
        customer_id: &str,
        run_id: &str,
        as_of: NaiveDate,
        awaiting_confirmation: bool,
    ) -> Result<(), LedgerError> {
        let row = if awaiting_confirmation {
            customer_state::ActiveModel {
                customer_id: Set(customer_id.to_owned()),
                previous_run: sea_orm::ActiveValue::NotSet,
                pending_run_id: Set(Some(run_id.to_owned())),
                pending_as_of: Set(Some(as_of)),
            }
        } else {
            customer_state::ActiveModel {
                customer_id: Set(customer_id.to_owned()),
                previous_run: Set(Some(as_of)),
                pending_run_id: Set(None),
                pending_as_of: Set(None),
            }
        };
        let update_columns: &[customer_state::Column] = if awaiting_confirmation {
            &[
                customer_state::Column::PendingRunId,
                customer_state::Column::PendingAsOf,
            ]
        } else {
            &[
                customer_state::Column::PreviousRun,
                customer_state::Column::PendingRunId,
                customer_state::Column::PendingAsOf,
            ]
        };
        customer_state::Entity::insert(row)
            .on_conflict(
                OnConflict::column(customer_state::Column::CustomerId)
                    .update_columns(update_columns.iter().copied())
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    /// After a confirmation, promotes each touched customer whose pending run has no
    /// reservation left unconfirmed.
    async fn settle_customers<'a>(
        &self,
        confirmed: impl Iterator<Item = &'a ledger::Model>,
    ) -> Result<(), LedgerError> {
        let mut runs_by_customer: BTreeMap<&str, HashSet<&str>> = BTreeMap::new();
        for row in confirmed {
            runs_by_customer
                .entry(row.customer_id.as_str())
                .or_default()
                .insert(row.run_id.as_str());
        }
        for (customer_id, runs) in runs_by_customer {
            let Some(state) = customer_state::Entity::find_by_id(customer_id.to_owned())
                .one(&self.db)
                .await?
            else {
                continue;
            };
            let (Some(pending_run), Some(pending_as_of)) = (state.pending_run_id.as_deref(), state.pending_as_of)
            else {
                continue;
            };
            if !runs.contains(pending_run) {
                continue;
            }
            let open = ledger::Entity::find()
                .filter(ledger::Column::CustomerId.eq(customer_id))
                .filter(ledger::Column::RunId.eq(pending_run))
                .filter(ledger::Column::State.eq(RESERVED))
                .count(&self.db)
                .await?;
            if open == 0 {
                self.mark_planned(customer_id, pending_run, pending_as_of, false)
                    .await?;
            }
        }
        Ok(())
    }

    /// Pauses an invoice's milestone reminders until `until` (resume is automatic then).
    pub async fn pause(
        &self,
        invoice_id: &str,
        until: NaiveDate,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        let row = pause::ActiveModel {
            invoice_id: Set(invoice_id.to_owned()),
            until: Set(until),
            reason: Set(reason.to_owned()),
            created_at: Set(now),
        };
        pause::Entity::insert(row)
            .on_conflict(
                OnConflict::column(pause::Column::InvoiceId)
                    .update_columns([pause::Column::Until, pause::Column::Reason, pause::Column::CreatedAt])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    /// Ends a pause at once; returns false when the invoice was not paused.
    pub async fn resume(&self, invoice_id: &str) -> Result<bool, LedgerError> {
        let deleted = pause::Entity::delete_by_id(invoice_id.to_owned())
            .exec(&self.db)
            .await?;
        Ok(deleted.rows_affected > 0)
    }

    /// Lists ledger rows in key order after `after_key`, at most `limit`.
    pub async fn list(
        &self,
        filter: &ListFilter,
        after_key: Option<&str>,
        limit: u64,
        now: DateTime<Utc>,
    ) -> Result<Vec<Entry>, LedgerError> {
        let mut query = ledger::Entity::find().order_by_asc(ledger::Column::Key);
        if let Some(customer_id) = &filter.customer_id {
            query = query.filter(ledger::Column::CustomerId.eq(customer_id.as_str()));
        }
        if let Some(invoice_id) = &filter.invoice_id {
            query = query.filter(ledger::Column::InvoiceId.eq(invoice_id.as_str()));
        }
        if let Some(after_key) = after_key {
            query = query.filter(ledger::Column::Key.gt(after_key));
        }
        let rows = query.limit(limit).all(&self.db).await?;
        Ok(rows
            .into_iter()
            .map(|row| Entry {
                expired: row.state == RESERVED && row.expires_at <= now,
                row,
            })
            .collect())
    }
}

fn kind_name(kind: ReminderKind) -> &'static str {
    match kind {
        ReminderKind::Milestone => "milestone",
        ReminderKind::Aging => "aging",
        ReminderKind::Balance => "balance",
        ReminderKind::Standing => "standing",
    }
}
