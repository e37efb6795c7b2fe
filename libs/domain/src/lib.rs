//! Domain types shared by every ledgerlink crate.
//!
//! The JSON shapes here are contracts: [`CustomerSnapshot`] is the input format of
//! `spec/scoring.md` §1 (and the output of `ledgerlink extract`), [`CustomerScore`]
//! the output format of §6. Money is always [`Money`] (a `rust_decimal` written as a
//! JSON string) and dates are calendar dates in the NetSuite account's time zone.

mod money;
mod rejection;
mod score;
mod snapshot;

pub use chrono::{DateTime, NaiveDate, Utc};
pub use money::{Money, MoneyError};
pub use rejection::{RecordKind, Rejection};
pub use score::{Aging, CustomerScore, DimensionExplanation, Explanation, MetricValue};
pub use snapshot::{
    Contact, CreditHold, Customer, CustomerSnapshot, Invoice, InvoiceStatus, Order, ParsedSnapshot, SnapshotError,
    Terms, parse_snapshot_line, shift_days, validate_snapshot,
};
