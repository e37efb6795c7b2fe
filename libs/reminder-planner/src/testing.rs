//! An in-memory model of the reminder ledger, for simulations and the service's tests.
//!
//! It has the semantics the database ledger must have: a key is reserved at most once
//! (unique constraint), only the reserving run confirms it, and an unconfirmed
//! reservation expires so the key is planned again. Time is a logical clock (`u64`)
//! supplied by the caller, so tests decide exactly when expiry happens.

use std::collections::BTreeMap;
use std::ops::Bound;

use ledgerlink_domain::{CustomerSnapshot, NaiveDate};

use crate::ledger::{LedgerFact, LedgerView, Pause};
use crate::planner::standing_key;

/// The state of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    /// Reserved by `owner` at logical time `at`, not yet confirmed as sent.
    Reserved {
        /// The run (or planner instance) holding the reservation.
        owner: String,
        /// When it was reserved.
        at: u64,
    },
    /// Sent and confirmed; permanent.
    Confirmed {
        /// The run that confirmed it.
        owner: String,
    },
}

/// A ledger operation that was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// The key is already reserved or confirmed.
    #[error("key {key} is already recorded")]
    AlreadyRecorded {
        /// The key.
        key: String,
    },
    /// Confirming a key that holds no reservation (never made, or expired).
    #[error("key {key} is not reserved")]
    NotReserved {
        /// The key.
        key: String,
    },
    /// Confirming a key that another run reserved.
    #[error("key {key} is held by another run")]
    NotOwner {
        /// The key.
        key: String,
    },
}

/// The in-memory ledger.
#[derive(Debug, Clone, Default)]
pub struct InMemoryLedger {
    keys: BTreeMap<String, KeyState>,
    pauses: BTreeMap<String, Pause>,
    balance_detected: BTreeMap<String, NaiveDate>,
    invoice_last_seen: BTreeMap<String, NaiveDate>,
    previous_run: BTreeMap<String, NaiveDate>,
}

impl InMemoryLedger {
    /// An empty ledger.
    pub fn new() -> InMemoryLedger {
        InMemoryLedger::default()
    }

    /// Reserves `key` for `owner`; refused when the key is already recorded.
    pub fn reserve(&mut self, key: &str, owner: &str, now: u64) -> Result<(), LedgerError> {
        if self.keys.contains_key(key) {
            return Err(LedgerError::AlreadyRecorded { key: key.to_owned() });
        }
        self.keys.insert(
            key.to_owned(),
            KeyState::Reserved {
                owner: owner.to_owned(),
                at: now,
            },
        );
        Ok(())
    }

    /// Confirms that `owner` sent `key`. Confirming twice is harmless (a retried
    /// acknowledgement); confirming someone else's or an expired reservation is refused.
    pub fn confirm(&mut self, key: &str, owner: &str) -> Result<(), LedgerError> {
        match self.keys.get(key) {
            None => Err(LedgerError::NotReserved { key: key.to_owned() }),
            Some(KeyState::Confirmed { owner: holder }) if holder == owner => Ok(()),
            Some(KeyState::Reserved { owner: holder, .. }) if holder == owner => {
                self.keys.insert(
                    key.to_owned(),
                    KeyState::Confirmed {
                        owner: owner.to_owned(),
                    },
                );
                Ok(())
            }
            Some(_) => Err(LedgerError::NotOwner { key: key.to_owned() }),
        }
    }

    /// Drops every reservation made before `cutoff` that was never confirmed and
    /// returns the keys dropped, which become plannable again.
    pub fn expire_reservations(&mut self, cutoff: u64) -> Vec<String> {
        let expired: Vec<String> = self
            .keys
            .iter()
            .filter(|(_, state)| matches!(state, KeyState::Reserved { at, .. } if *at < cutoff))
            .map(|(key, _)| key.clone())
            .collect();
        for key in &expired {
            self.keys.remove(key);
        }
        expired
    }

    /// Returns the state of a key.
    pub fn state(&self, key: &str) -> Option<&KeyState> {
        self.keys.get(key)
    }

    /// Returns every confirmed key.
    pub fn confirmed_keys(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().filter_map(|(key, state)| match state {
            KeyState::Confirmed { .. } => Some(key.as_str()),
            KeyState::Reserved { .. } => None,
        })
    }

    /// Records a fact of a plan; "first detected" facts never move an existing date.
    pub fn record_fact(&mut self, fact: &LedgerFact) {
        match fact {
            LedgerFact::BalanceDetected { order_id, on } => {
                self.balance_detected.entry(order_id.clone()).or_insert(*on);
            }
        }
    }

    /// Pauses an invoice's milestone reminders until a date (replacing any pause).
    pub fn pause(&mut self, invoice_id: &str, pause: Pause) {
        self.pauses.insert(invoice_id.to_owned(), pause);
    }

    /// Records that a run as of `as_of` completed for this customer: every event it
    /// planned was confirmed or held by someone else. Aging thresholds compare with it.
    pub fn record_successful_run(&mut self, snapshot: &CustomerSnapshot, as_of: NaiveDate) {
        let latest = |slot: &mut NaiveDate| *slot = (*slot).max(as_of);
        latest(self.previous_run.entry(snapshot.customer.id.clone()).or_insert(as_of));
        for invoice in &snapshot.invoices {
            latest(self.invoice_last_seen.entry(invoice.id.clone()).or_insert(as_of));
        }
    }

    /// Builds the view the planner reads for one customer, holding only its keys.
    pub fn view(&self, snapshot: &CustomerSnapshot) -> LedgerView {
        let mut prefixes = vec![standing_key(&snapshot.customer.id, "")];
        for invoice in &snapshot.invoices {
            prefixes.push(format!("due:{}:", invoice.id));
            prefixes.push(format!("aging:{}:", invoice.id));
        }
        for order in &snapshot.orders {
            prefixes.push(format!("balance:{}:", order.id));
        }
        let mut view = LedgerView {
            previous_run: self.previous_run.get(&snapshot.customer.id).copied(),
            ..LedgerView::default()
        };
        for prefix in &prefixes {
            view.recorded_keys.extend(
                self.keys
                    .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
                    .take_while(|(key, _)| key.starts_with(prefix.as_str()))
                    .map(|(key, _)| key.clone()),
            );
        }
        for invoice in &snapshot.invoices {
            if let Some(pause) = self.pauses.get(&invoice.id) {
                view.pauses.insert(invoice.id.clone(), pause.clone());
            }
            if let Some(date) = self.invoice_last_seen.get(&invoice.id) {
                view.invoice_last_seen.insert(invoice.id.clone(), *date);
            }
        }
        for order in &snapshot.orders {
            if let Some(date) = self.balance_detected.get(&order.id) {
                view.balance_detected.insert(order.id.clone(), *date);
            }
        }
        view
    }
}
