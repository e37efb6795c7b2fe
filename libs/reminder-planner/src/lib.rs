//! Reminder planning of `spec/reminders.md`: given one customer's snapshot, its
//! standing, the run and what the ledger already holds, decide which reminder events
//! are due as of a date. Pure logic, no I/O; the reminder service reserves, sends and
//! confirms what this crate plans.
//!
//! The [`testing`] module holds an in-memory model of the ledger with the semantics
//! the database ledger must have (unique keys, confirm by the reserving run, expiry).

mod config;
mod event;
mod ledger;
mod planner;
pub mod testing;

pub use config::{ConfigError, KindSwitches, MetricNames, PlannerConfig};
pub use event::{EventProperties, ProfileIdentity, ReminderEvent, ReminderKind, is_usable_email};
pub use ledger::{LedgerFact, LedgerView, Pause};
pub use planner::{
    Plan, PlanInput, Planner, SkipReason, Skipped, StandingMigration, aging_key, balance_key, days_past_due, due_key,
    is_owing, outstanding_balance, standing_key, start_of_day,
};
