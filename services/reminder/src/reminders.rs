//! Planning a batch against the ledger: what the gRPC service and `ledgerlink remind`
//! both do.

use chrono::{DateTime, NaiveDate, Utc};
use ledgerlink_domain::{CustomerSnapshot, Rejection};
use ledgerlink_reminder_planner::{PlanInput, Planner, ReminderEvent, StandingMigration};

use crate::ledger::{Ledger, LedgerError, Reservation};

/// One customer to plan for.
#[derive(Debug, Clone)]
pub struct Customer {
    /// The customer's snapshot, invalid records already removed.
    pub snapshot: CustomerSnapshot,
    /// The customer's `account_standing` from scoring.
    pub account_standing: String,
    /// The standing migration this run recorded, if any.
    pub standing_migration: Option<StandingMigration>,
}

/// The outcome of planning a batch.
#[derive(Debug, Default)]
pub struct BatchPlan {
    /// Events this run must send: reserved by it (or, in a dry run, that would be).
    pub events: Vec<ReminderEvent>,
    /// Events due but held by another run or already sent: not to be sent again.
    pub held: usize,
    /// Records refused on the way.
    pub rejections: Vec<Rejection>,
}

/// The planner and the ledger together.
#[derive(Debug)]
pub struct Reminders {
    planner: Planner,
    ledger: Ledger,
}

impl Reminders {
    /// Combines a planner and a ledger.
    pub fn new(planner: Planner, ledger: Ledger) -> Reminders {
        Reminders { planner, ledger }
    }

    /// Returns the ledger.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Plans `customers` as of `as_of` for `run_id`, reserving each due key unless
    /// `dry_run`; only reserved events are returned for sending.
    pub async fn plan_batch(
        &self,
        run_id: &str,
        as_of: NaiveDate,
        customers: &[Customer],
        dry_run: bool,
        now: DateTime<Utc>,
    ) -> Result<BatchPlan, LedgerError> {
        let snapshots: Vec<&CustomerSnapshot> = customers.iter().map(|c| &c.snapshot).collect();
        let views = self.ledger.load_views(&snapshots, now).await?;
        let mut batch = BatchPlan::default();
        for customer in customers {
            let customer_id = &customer.snapshot.customer.id;
            let default_view = Default::default();
            let view = views.get(customer_id).unwrap_or(&default_view);
            let plan = self.planner.plan(&PlanInput {
                snapshot: &customer.snapshot,
                account_standing: &customer.account_standing,
                standing_migration: customer.standing_migration.as_ref(),
                run_id,
                as_of,
                ledger: view,
            });
            if dry_run {
                batch.events.extend(plan.events);
                continue;
            }
            for fact in &plan.facts {
                self.ledger.record_fact(customer_id, fact).await?;
            }
            let mut reserved_any = false;
            for event in plan.events {
                match self.ledger.reserve(&event, run_id, now).await? {
                    Reservation::Reserved => {
                        reserved_any = true;
                        batch.events.push(event);
                    }
                    Reservation::Held => batch.held += 1,
                }
            }
            self.ledger
                .mark_planned(customer_id, run_id, as_of, reserved_any)
                .await?;
        }
        Ok(batch)
    }
}
