//! What the planner needs to know from the reminder ledger, and what it asks to record.

use std::collections::{BTreeMap, BTreeSet};

use ledgerlink_domain::NaiveDate;
use serde::{Deserialize, Serialize};

/// A read-only picture of the ledger for one customer, loaded before planning.
///
/// It is a plain value rather than a trait so that planning stays a pure function:
/// the service loads it with a handful of queries per batch and the planner never
/// waits on a database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerView {
    /// Keys already reserved (and not expired) or confirmed; planning skips them.
    ///
    /// Only this customer's keys are needed: `due:`/`aging:` of its invoices,
    /// `balance:` of its orders and `standing:{customer id}:`.
    pub recorded_keys: BTreeSet<String>,
    /// Active or past pauses per invoice id.
    pub pauses: BTreeMap<String, Pause>,
    /// Per order id, the date its outstanding balance was first detected.
    pub balance_detected: BTreeMap<String, NaiveDate>,
    /// Per invoice id, the as-of date of the last successful run that saw it.
    pub invoice_last_seen: BTreeMap<String, NaiveDate>,
    /// The as-of date of the last successful run that planned this customer.
    pub previous_run: Option<NaiveDate>,
}

impl LedgerView {
    /// Returns true when the key is reserved or confirmed.
    pub fn is_recorded(&self, key: &str) -> bool {
        self.recorded_keys.contains(key)
    }

    /// Returns how many recorded keys start with `prefix`.
    pub fn count_with_prefix(&self, prefix: &str) -> usize {
        self.recorded_keys
            .range::<str, _>((std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded))
            .take_while(|key| key.starts_with(prefix))
            .count()
    }

    /// Returns the date whose days past due count as "before this run" for aging
    /// thresholds (`spec/scoring.md` §5 `D_prev`).
    ///
    /// A date on or after `as_of` (a retry of the same day, or a backfill) falls back
    /// to the day before, so a retry plans the same keys again and the ledger's unique
    /// key, not this date, keeps them from going out twice.
    pub fn previous_as_of(&self, invoice_id: &str, as_of: NaiveDate) -> NaiveDate {
        let day_before = as_of.pred_opt().unwrap_or(as_of);
        self.invoice_last_seen
            .get(invoice_id)
            .copied()
            .or(self.previous_run)
            .filter(|previous| *previous < as_of)
            .unwrap_or(day_before)
    }

    /// Returns the pause in force on `date`, if any.
    pub fn pause_on(&self, invoice_id: &str, date: NaiveDate) -> Option<&Pause> {
        self.pauses.get(invoice_id).filter(|pause| pause.is_active_on(date))
    }
}

/// A user's pause of an invoice's milestone reminders (dispute, promise to pay).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    /// The first date on which reminders resume.
    pub until: NaiveDate,
    /// Why it was paused, as the user wrote it.
    pub reason: String,
}

impl Pause {
    /// Returns true when reminders are held on `date` (resume is automatic at `until`).
    pub fn is_active_on(&self, date: NaiveDate) -> bool {
        date < self.until
    }
}

/// A fact the service records in the ledger along with the reservations of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fact", rename_all = "snake_case")]
pub enum LedgerFact {
    /// The order's outstanding balance was seen for the first time on `on`; recurring
    /// windows count from this date. Record it only when none is recorded yet.
    BalanceDetected {
        /// The order id.
        order_id: String,
        /// The run's as-of date.
        on: NaiveDate,
    },
}
