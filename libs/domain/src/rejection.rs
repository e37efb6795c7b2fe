//! A record refused with a reason, so one bad record never fails a run.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Which kind of record was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// The customer record itself (the whole snapshot is refused).
    Customer,
    /// One invoice of a customer.
    Invoice,
    /// One sales order of a customer.
    Order,
    /// One contact of a customer.
    Contact,
    /// A line that is not a snapshot at all.
    Line,
    /// A Klaviyo profile write the gateway could not make.
    Profile,
    /// A reminder event the gateway could not send.
    Event,
}

impl RecordKind {
    /// Returns the snake-case name used in JSON and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Customer => "customer",
            RecordKind::Invoice => "invoice",
            RecordKind::Order => "order",
            RecordKind::Contact => "contact",
            RecordKind::Line => "line",
            RecordKind::Profile => "profile",
            RecordKind::Event => "event",
        }
    }
}

/// A refused record: which customer, which record, which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// The customer the record belongs to (empty when even that could not be read).
    pub customer_id: String,
    /// The kind of record refused.
    pub record_kind: RecordKind,
    /// The record's own id (the customer id for a customer record).
    pub record_id: String,
    /// The offending field, as named in the snapshot format.
    pub field: String,
    /// Why it was refused, lowercase, without trailing punctuation.
    pub reason: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rejected customer={} {}={} field={}: {}",
            display_or_dash(&self.customer_id),
            self.record_kind.as_str(),
            display_or_dash(&self.record_id),
            display_or_dash(&self.field),
            self.reason
        )
    }
}

fn display_or_dash(value: &str) -> &str {
    if value.is_empty() { "-" } else { value }
}
