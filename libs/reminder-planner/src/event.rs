//! A reminder event as it leaves the planner: one JSON Lines object of `ledgerlink remind`.

use chrono::{DateTime, Utc};
use ledgerlink_domain::{Money, NaiveDate};
use serde::{Deserialize, Serialize, Serializer};

/// The four kinds of reminder of `spec/reminders.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReminderKind {
    /// Due soon / due today / past due, on `due_date + offset`.
    Milestone,
    /// First crossing of an aging threshold.
    Aging,
    /// Recurring reminder of an order's outstanding balance.
    Balance,
    /// The customer's account standing changed.
    Standing,
}

/// Who the event is about: the Klaviyo profile it lands on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileIdentity {
    /// The customer's email, when it is usable; absent events go by `external_id` alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `netsuite:{customer id}`.
    pub external_id: String,
}

impl ProfileIdentity {
    /// Builds the identity of a NetSuite customer, dropping an email that is unusable.
    pub fn for_customer(customer_id: &str, email: Option<&str>) -> ProfileIdentity {
        ProfileIdentity {
            email: email.map(str::trim).filter(|e| is_usable_email(e)).map(str::to_owned),
            external_id: format!("netsuite:{customer_id}"),
        }
    }
}

/// A deliberately modest check: one `@`, something before it, a dotted domain after
/// it, no whitespace. Klaviyo does the real validation; this only keeps obvious junk
/// (`n/a`, `none`, two addresses in one field) from becoming a profile key.
pub fn is_usable_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !email.chars().any(|c| c.is_whitespace() || c == ',' || c == ';')
        && domain
            .split_once('.')
            .is_some_and(|(host, rest)| !host.is_empty() && !rest.is_empty() && !rest.ends_with('.'))
}

/// The properties Klaviyo flows read. Fields common to every event are always written
/// (`null` when not applicable); kind-specific ones only on their kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventProperties {
    /// The invoice id (milestone and aging events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_id: Option<String>,
    /// The order id (balance events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// The document number users see (`INV-88121`).
    pub document_number: Option<String>,
    /// What is still owed on the invoice (milestone and aging events).
    #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "opt_cents")]
    pub amount_remaining: Option<Money>,
    /// What must still be paid on the order (balance events).
    #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "opt_cents")]
    pub balance_due: Option<Money>,
    /// The document total.
    #[serde(serialize_with = "opt_cents")]
    pub total: Option<Money>,
    /// The customer's currency.
    pub currency: Option<String>,
    /// The invoice's (effective) due date.
    pub due_date: Option<NaiveDate>,
    /// Days past due as of the run (`spec/scoring.md` §2).
    pub days_past_due: Option<i64>,
    /// The customer's payment term name.
    pub payment_terms: Option<String>,
    /// Which milestone this is: `due_soon`, `due_today`, `past_due`, `aging_{threshold}`,
    /// `balance_window_{window}` or `standing_change`.
    pub milestone: String,
    /// The customer's account standing from scoring.
    pub account_standing: String,
    /// Milestone offset in days from the due date (milestone events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_days: Option<i64>,
    /// The aging threshold crossed (aging events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<i64>,
    /// The recurring window number, 0 at detection (balance events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<u64>,
    /// Days since the balance was first detected (balance events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_outstanding: Option<i64>,
    /// The previous standing (standing events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The new standing (standing events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Whether the move is toward risk (standing events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toward_risk: Option<bool>,
}

/// One reminder that is due: the unit reserved in the ledger and sent to Klaviyo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderEvent {
    /// The deterministic key, also the Klaviyo `unique_id`.
    pub key: String,
    /// The kind of reminder.
    pub kind: ReminderKind,
    /// The Klaviyo metric name.
    pub metric: String,
    /// The NetSuite customer id.
    pub customer_id: String,
    /// The profile the event lands on.
    pub profile: ProfileIdentity,
    /// What the flow reads.
    pub properties: EventProperties,
    /// The calendar date the milestone was reached, in the account's time zone.
    pub milestone_date: NaiveDate,
    /// When the milestone was reached: the start of `milestone_date` in the account's
    /// time zone (for a catch-up, the milestone's date, not the sending time).
    pub time: DateTime<Utc>,
    /// The amount outstanding.
    #[serde(serialize_with = "cents")]
    pub value: Money,
}

fn cents<S: Serializer>(money: &Money, serializer: S) -> Result<S::Ok, S::Error> {
    money.to_cents().serialize(serializer)
}

fn opt_cents<S: Serializer>(money: &Option<Money>, serializer: S) -> Result<S::Ok, S::Error> {
    match money {
        Some(money) => cents(money, serializer),
        None => serializer.serialize_none(),
    }
}
